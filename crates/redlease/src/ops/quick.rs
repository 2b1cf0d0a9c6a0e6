//! The quick acquire: plain commands in place of `acquire.lua` while the lock is free.
//!
//! Most acquisitions find the lock free. For them the acquire script does what `SET NX
//! PX` does, plus reading the delayed-restart marker, the node's clock and (when the
//! client mints the token) the fencing counter, but a script costs the node several
//! times what those plain commands cost: Redis 7.0 sets up the script's `KEYS` and
//! `ARGV`, a Lua call and one command context per `redis.call` (with `redis-benchmark`
//! on this project's machine, the unfenced acquire script on a free lock ran at ~130k
//! calls/s where `SET NX PX` ran at ~450k). So a request the client expects to be granted
//! (no refusal of that resource lately in this process, see `contention.rs`) is sent as
//! plain commands in one write:
//!
//! ```text
//! SET <lock> <owner> NX PX <ttl>
//! INCR <fence>              (one node, fenced: the token)
//! PEXPIRE <fence> <keep>    (one node, fenced: the counter's ttl, as the script sets it)
//! TIME                      (with a marker, or with fencing)
//! GET <marker>              (with a marker: delayed restart on several nodes)
//! GET <fence>               (when the client mints the token from the counters)
//! ```
//!
//! When `SET` granted and the marker is there, the answer is the grant the script would
//! have answered, element for element. Anything else (the lock is held, or is a hand-off
//! reservation, or holds our own owner from a re-sent request; no marker yet, or one
//! that is not a number) is left to the script, sent next on the same node: it decides
//! exactly as it would have alone (a key that `SET` just gave us counts as ours and gets
//! a fresh ttl; a refused waiter joins the queue). The quick form only ever stands for a
//! grant, and the script handles every other case, so the protocol sees the same
//! replies; a refused quick request costs one more round trip, which is why it is only
//! sent where refusals are rare. Redis Cluster nodes stay with the script (their marker
//! is per resource and their keys are routed per slot).
//!
//! One node, fenced: the script mints `max(counter + 1, clock in µs)`, the clock floor
//! keeping tokens growing when the counter was lost (`docs/protocol.md`, "Fencing
//! tokens"). The quick form takes `counter + 1` from `INCR`, but only when the result is
//! at least [`CLOCK_FLOOR`], a clock reading in µs (2001): a counter that high was floored
//! by a clock since it was last lost, since `INCR` alone would need 10^15 acquisitions to
//! get there from a lost counter. Below it (a new resource, a node that lost the
//! counter, whatever refused `INCR`s added since) the script decides, and its branch for a
//! key that is already ours mints like its grant does (`max(counter + 1, clock)`). `INCR`
//! runs even when `SET` refused: the counter only grows, tokens are only ever higher for
//! it. `INCR` fails on a counter above 2^63 (the script counts all of u64 in decimal
//! strings) and on an ACL without `+incr`: an error in the answer is left to the script.
//!
//! Reading after `SET` instead of inside one atomic script is as good as the script's
//! reads:
//! - The marker is read after the grant, so a grant lost to a wipe (restart without
//!   persistence, `FLUSHALL`) is never vouched for by the marker from before it: the
//!   wipe took that marker too, so the read finds none (the script runs and reports a
//!   new, young marker) or a new one (another birth than the trusted marker's: the node
//!   lost its data, `MarkerTrust`). `TIME` is read before the marker, so the age can
//!   only come out younger than the script's, which holds a node back longer, never
//!   shorter.
//! - A fencing token is recorded on a node only where its recorder holds the lock
//!   (`fence.lua`); once `SET` granted, the lock is ours, so the counter read after it
//!   holds every token that an earlier holder recorded there, as the atomic read does.
//!
//! `tests/quick.rs` checks the answers against the script's on a real server.

use redis::Value;

use super::acquire::{Acquire, Fencing};
use super::parse::{ReplyError, counter, decimal, describe};
use super::{Invocation, millis};
use crate::config::NodeKind;
use crate::protocol::AcquireReply;

const NAME: &str = "quick acquire";

/// The lowest counter the quick form takes a token from (see the module doc): 10^15 µs
/// after the Unix epoch, September 2001.
pub(crate) const CLOCK_FLOOR: u64 = 1_000_000_000_000_000;

/// The commands, if this request has a quick form on a node of `kind`.
pub(crate) fn commands(request: &Acquire, kind: NodeKind) -> Option<Invocation> {
    if !request.quick || kind == NodeKind::Cluster {
        return None;
    }
    let keys = &request.target.keys;
    let mut pipe = redis::pipe();
    // An error answer is left to the script (see `reply`), not the whole request failed.
    pipe.ignore_errors();
    pipe.cmd("SET")
        .arg(keys.lock())
        .arg(&request.target.owner)
        .arg("NX")
        .arg("PX")
        .arg(millis(request.ttl));
    if request.fencing == Fencing::Script {
        pipe.cmd("INCR").arg(keys.fence());
        pipe.cmd("PEXPIRE")
            .arg(keys.fence())
            .arg(millis(request.counter_ttl));
    }
    if request.marker.is_some() || request.fencing != Fencing::Off {
        pipe.cmd("TIME");
    }
    if let Some(marker) = &request.marker {
        pipe.cmd("GET").arg(marker.key(&request.target));
    }
    if request.fencing == Fencing::Client {
        pipe.cmd("GET").arg(keys.fence());
    }
    Some(Invocation::commands(pipe))
}

/// The grant that `answer` (the commands' replies, in order) stands for, or `None` when
/// the script must decide.
pub(crate) fn reply(request: &Acquire, answer: &Value) -> Result<Option<AcquireReply>, ReplyError> {
    let Value::Array(items) = answer else {
        return Err(ReplyError::new(
            NAME,
            format!("expected an array, got {}", describe(answer)),
        ));
    };
    let with_marker = request.marker.is_some();
    let client_fence = request.fencing == Fencing::Client;
    let mint = request.fencing == Fencing::Script;
    let with_time = with_marker || request.fencing != Fencing::Off;
    let expected = 1
        + 2 * usize::from(mint)
        + usize::from(with_time)
        + usize::from(with_marker)
        + usize::from(client_fence);
    if items.len() != expected {
        return Err(ReplyError::new(
            NAME,
            format!("expected {expected} replies, got {}", items.len()),
        ));
    }
    // An error (an `INCR` of a counter above 2^63, a command the user's ACL lacks, a
    // demoted primary): the script decides, and reports the error if it has it too.
    if items
        .iter()
        .any(|item| matches!(item, Value::ServerError(_)))
    {
        return Ok(None);
    }
    let mut items = items.iter();
    match items.next() {
        Some(Value::Okay) => {}
        // Refused (the lock is held, or a reservation, or already ours): the script decides.
        Some(Value::Nil) => return Ok(None),
        Some(other) => {
            return Err(ReplyError::new(
                NAME,
                format!("SET answered {}", describe(other)),
            ));
        }
        None => return Err(ReplyError::new(NAME, "no reply to SET")),
    }
    let minted = match mint {
        true => match (items.next(), items.next()) {
            (Some(Value::Int(token)), Some(Value::Int(_))) => u64::try_from(*token).ok(),
            (incr, _) => return Err(unexpected("INCR of the counter", incr)),
        },
        false => None,
    };
    let now_us = match with_time {
        true => Some(time_us(items.next())?),
        false => None,
    };
    let born = match with_marker {
        true => match items.next() {
            Some(Value::BulkString(digits)) => match decimal(digits) {
                Some(born) => Some(born),
                // Not a marker this library wrote: the script replaces it.
                None => return Ok(None),
            },
            // No marker yet (a new node, or one that just lost its data): the script writes it.
            Some(Value::Nil) => return Ok(None),
            other => return Err(unexpected("GET of the marker", other)),
        },
        false => None,
    };
    let fence = match (client_fence, minted) {
        (true, _) => match items.next() {
            Some(Value::Nil) => 0,
            Some(value) => counter(NAME, value)?,
            None => return Err(unexpected("GET of the counter", None)),
        },
        (false, Some(token)) if token >= CLOCK_FLOOR => token,
        // Not floored by a clock since the counter was last lost: the script floors it.
        (false, Some(_)) => return Ok(None),
        (false, None) => 0,
    };
    // The script's arithmetic: the age in whole ms of the node's clock, never negative.
    let now_ms = now_us.map(|us| us / 1000);
    let age = now_ms.zip(born).map(|(now, born)| now.saturating_sub(born));
    Ok(Some(match request.fencing != Fencing::Off {
        // `{ 1, fence, age, now }`: the birth comes from the age and the clock.
        true => AcquireReply {
            granted: true,
            fence,
            marker_age_ms: age,
            node_time_us: now_us.unwrap_or(0),
            marker_born_ms: now_ms.zip(age).map(|(now, age)| now - age.min(now)),
            ..AcquireReply::default()
        },
        // `{ 1, age, born }`, or `{ 1, -1 }` without a marker.
        false => AcquireReply {
            granted: true,
            marker_age_ms: age,
            marker_born_ms: born,
            ..AcquireReply::default()
        },
    }))
}

/// `TIME`'s answer, in µs.
fn time_us(value: Option<&Value>) -> Result<u64, ReplyError> {
    let part = |v: &Value| match v {
        Value::BulkString(digits) => decimal(digits),
        _ => None,
    };
    match value {
        Some(Value::Array(parts)) => match parts.as_slice() {
            [secs, micros] => part(secs)
                .zip(part(micros))
                .and_then(|(s, us)| s.checked_mul(1_000_000)?.checked_add(us))
                .ok_or_else(|| unexpected("TIME", value)),
            _ => Err(unexpected("TIME", value)),
        },
        other => Err(unexpected("TIME", other)),
    }
}

fn unexpected(what: &str, value: Option<&Value>) -> ReplyError {
    let got = value.map_or("nothing", describe);
    ReplyError::new(NAME, format!("{what} answered {got}"))
}

#[cfg(test)]
#[path = "quick_tests.rs"]
mod tests;
