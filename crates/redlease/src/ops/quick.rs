//! The quick acquire: plain commands in place of `acquire.lua` while the lock is free.
//!
//! Most acquisitions find the lock free. For them the acquire script does what `SET NX
//! PX` does, plus reading the delayed-restart marker, the node's clock and (when the
//! client mints the token) the fencing counter, but a script costs the node several
//! times what those plain commands cost: Redis 7.0 sets up the script's `KEYS` and
//! `ARGV`, a Lua call and one command context per `redis.call` (with `redis-benchmark`
//! on this project's machine, the unfenced acquire script on a free lock ran at ~130k
//! calls/s where `SET NX PX` ran at ~450k). So the first attempt of a caller that waits,
//! on a resource this process has not seen contended lately (`contention.rs`) and has no
//! other waiter for, is sent as plain commands in one write:
//!
//! ```text
//! SET <lock> <owner> NX PX <ttl> GET   (the holder's value when refused)
//! INCR <fence>              (one node, fenced: the token)
//! PEXPIRE <fence> <keep>    (one node, fenced: the counter's ttl, as the script sets it)
//! TIME                      (with a marker not known to be old, or when the client
//!                            mints the token)
//! GET <marker>              (with a marker: delayed restart on several nodes)
//! GET <fence>               (when the client mints the token from the counters)
//! ```
//!
//! A grant with the marker there is the grant the script would have answered, element
//! for element; a key that already held our owner (a request re-sent after a broken
//! connection) is ours as well. A refusal is the script's refusal without the holder's
//! ttl, and the caller is not queued yet: a refused first attempt subscribes to wake-ups
//! and tries again at once (`acquire/`), by the script, which queues it with the place
//! it would have had (places come from how long the caller has waited). Only a grant
//! that needs completing (no marker yet, or one that is not a number; a token to floor,
//! below) has a follow-up: `acquire.lua` in its "confirm" mode, sent next on the same
//! node, which completes the grant where the key still holds our owner and never takes
//! the lock anew, so that a follow-up reaching the node after our own release (the
//! caller may have won on the other nodes, used the lease and released it meanwhile)
//! leaves nothing behind. Redis Cluster nodes stay with the script (their marker is per
//! resource and their keys are routed per slot).
//!
//! One node, fenced: the script mints `max(counter + 1, clock in µs)`, the clock floor
//! keeping tokens growing when the counter was lost (`docs/protocol.md`, "Fencing
//! tokens"). The quick form takes `counter + 1` from `INCR`, but only when the result is
//! at least [`CLOCK_FLOOR`], a clock reading in µs (2001): a counter that high was floored
//! by a clock since it was last lost, since `INCR` alone would need 10^15 acquisitions to
//! get there from a lost counter. Below it (a new resource, a node that lost the
//! counter, whatever refused `INCR`s added since) the follow-up mints as a grant does
//! (`max(counter + 1, clock)`). No `TIME` here: the node's clock is only ever the floor
//! of a token, and above [`CLOCK_FLOOR`] the counter needs none, so such a grant counts by
//! its token alone (`Fencing::grant_is_complete`). `INCR` runs even when `SET` refused: the counter only
//! grows, tokens are only ever higher for it. `INCR` fails on a counter above 2^63 (the
//! script counts all of u64 in decimal strings) and on an ACL without `+incr`: an error
//! in the answer after a grant is left to the follow-up, which reports it if it has it
//! too; an error of `SET` itself is the node's failed vote.
//!
//! Reading after `SET` instead of inside one atomic script is as good as the script's
//! reads:
//! - The marker is read after the grant, so a grant lost to a wipe (restart without
//!   persistence, `FLUSHALL`) is never vouched for by the marker from before it: the
//!   wipe took that marker too, so the read finds none (the follow-up writes and reports
//!   a new, young marker, or finds the key gone) or a new one (another birth than the trusted marker's: the node
//!   lost its data, `MarkerTrust`). `TIME` is read before the marker, so the age can
//!   only come out younger than the script's, which holds a node back longer, never
//!   shorter.
//! - A marker this client saw at least `max_ttl` old there ([`NodeFacts`], remembered
//!   per node) is recognised by its birth alone: the same birth is the same marker, the
//!   identity `MarkerTrust` rests on too, and it is older still, so without fencing the
//!   quick form leaves out `TIME` and reports it [`KNOWN_OLD_MS`] old. An age above the
//!   true one holds back no fewer nodes and counts no more grants (the property test
//!   named at [`KNOWN_OLD_MS`]). Any other birth (the node lost its data and was marked
//!   anew, or an operator marked it ready) is left to the script: a grant's follow-up
//!   reports its true age, a refusal reports no marker (`tests/restart.rs`,
//!   `with_markers_known_old_a_wiped_node_is_still_held_back`, where taking any marker
//!   for the old one gives two holders).
//! - A fencing token is recorded on a node only where its recorder holds the lock
//!   (`fence.lua`); once `SET` granted, the lock is ours, so the counter read after it
//!   holds every token that an earlier holder recorded there, as the atomic read does.
//!
//! `quick_tests.rs` checks the answers against the script's on a real server.

use redis::{Cmd, Value};

use super::acquire::{Acquire, Fencing};
use super::parse::{ReplyError, counter, decimal, describe};
use super::{Invocation, NodeFacts, millis};
use crate::config::NodeKind;
use crate::protocol::{AcquireReply, KNOWN_OLD_MS};

const NAME: &str = "quick acquire";

/// The lowest counter the quick form takes a token from (see the module doc): 10^15 µs
/// after the Unix epoch, September 2001.
pub(crate) const CLOCK_FLOOR: u64 = 1_000_000_000_000_000;

/// The old marker the answer is checked against instead of reading the node's clock: only
/// without fencing (a token the client mints needs the clock as its floor anyway).
fn old_marker(request: &Acquire, facts: NodeFacts) -> Option<u64> {
    match (&request.marker, request.fencing) {
        (Some(_), Fencing::Off) => facts.old_marker,
        _ => None,
    }
}

/// Which commands follow `SET` for a request: what [`commands`] sends and [`reply`]
/// expects, in this order.
#[derive(Clone, Copy)]
struct Shape {
    /// The birth of the marker this client knows old, checked instead of the clock.
    old: Option<u64>,
    /// `INCR` and `PEXPIRE` of the counter (one node, fenced).
    mint: bool,
    /// `TIME` (a marker not known old, or a token the client mints).
    time: bool,
    /// `GET` of the marker.
    marker: bool,
    /// `GET` of the counter (a token the client mints).
    counter: bool,
}

impl Shape {
    fn of(request: &Acquire, facts: NodeFacts) -> Self {
        let marker = request.marker.is_some();
        let counter = request.fencing == Fencing::Client;
        let old = old_marker(request, facts);
        Shape {
            old,
            mint: request.fencing == Fencing::Script,
            time: (marker && old.is_none()) || counter,
            marker,
            counter,
        }
    }

    /// How many commands, `SET` included.
    fn len(self) -> usize {
        1 + 2 * usize::from(self.mint)
            + usize::from(self.time)
            + usize::from(self.marker)
            + usize::from(self.counter)
    }
}

/// The commands, if this request has a quick form on a node of `kind`.
pub(crate) fn commands(request: &Acquire, kind: NodeKind, facts: NodeFacts) -> Option<Invocation> {
    if !request.quick || kind == NodeKind::Cluster {
        return None;
    }
    let keys = &request.target.keys;
    let owner = &request.target.owner;
    let shape = Shape::of(request, facts);
    let mut pipe = redis::Pipeline::with_capacity(shape.len());
    // Errors come back as answers (see `reply`), not as the whole request failed.
    pipe.ignore_errors();
    // Each command sized up front: one allocation per buffer, not one per growth.
    let mut set = command("SET", 6, keys.lock().len() + owner.len() + 32);
    set.arg(keys.lock())
        .arg(owner)
        .arg("NX")
        .arg("PX")
        .arg(millis(request.ttl))
        .arg("GET");
    pipe.add_command(set);
    if shape.mint {
        let mut incr = command("INCR", 1, keys.fence().len());
        incr.arg(keys.fence());
        pipe.add_command(incr);
        let mut pexpire = command("PEXPIRE", 2, keys.fence().len() + 20);
        pexpire.arg(keys.fence()).arg(millis(request.counter_ttl));
        pipe.add_command(pexpire);
    }
    if shape.time {
        pipe.add_command(command("TIME", 0, 0));
    }
    if let Some(marker) = &request.marker {
        let marker = marker.key(&request.target);
        let mut get = command("GET", 1, marker.len());
        get.arg(marker);
        pipe.add_command(get);
    }
    if shape.counter {
        let mut get = command("GET", 1, keys.fence().len());
        get.arg(keys.fence());
        pipe.add_command(get);
    }
    Some(Invocation::commands(pipe))
}

/// A command named `name`, with room for `args` more arguments of `bytes` bytes in all.
fn command(name: &str, args: usize, bytes: usize) -> Cmd {
    let mut cmd = Cmd::with_capacity(args + 1, name.len() + bytes);
    cmd.arg(name);
    cmd
}

/// The reply that `answer` (the commands' replies, in order) stands for, or `None` when a
/// grant needs the follow-up to complete it.
pub(crate) fn reply(
    request: &Acquire,
    answer: &Value,
    facts: NodeFacts,
) -> Result<Option<AcquireReply>, ReplyError> {
    let Value::Array(items) = answer else {
        return Err(ReplyError::new(
            NAME,
            format!("expected an array, got {}", describe(answer)),
        ));
    };
    let shape = Shape::of(request, facts);
    let Shape {
        old,
        mint,
        time: with_time,
        marker: with_marker,
        counter: client_fence,
    } = shape;
    let expected = shape.len();
    if items.len() != expected {
        return Err(ReplyError::new(
            NAME,
            format!("expected {expected} replies, got {}", items.len()),
        ));
    }
    let failed = items.iter().any(|v| matches!(v, Value::ServerError(_)));
    let mut items = items.iter();
    // `SET ... NX GET`: nil when it set the key, else the value it found there.
    let (granted, handoff) = match items.next() {
        Some(Value::Nil) => (true, false),
        Some(Value::BulkString(holder)) => (
            holder.as_slice() == request.target.owner.as_bytes(),
            holder.starts_with(b"handoff:"),
        ),
        other => return Err(unexpected("SET", other)),
    };
    if failed && !granted {
        // A refusal must report every counter and the marker as the script does (a
        // fenced token is above every answering node's counter): with a read failed,
        // this node's answer is a failed vote.
        return Err(ReplyError::new(NAME, "a refusal with a failed read"));
    }
    // After a grant, anything unexpected is for the follow-up to complete or report; a
    // refusal needs nothing more than what came back.
    let mut complete = true;
    let mut incomplete = || complete = false;
    let minted = match mint {
        true => match (items.next(), items.next()) {
            (Some(Value::Int(token)), Some(Value::Int(_))) => u64::try_from(*token).ok(),
            (Some(Value::ServerError(_)), _) | (_, Some(Value::ServerError(_))) => {
                incomplete();
                None
            }
            (incr, _) => return Err(unexpected("INCR of the counter", incr)),
        },
        false => None,
    };
    let now_us = match with_time {
        true => match items.next() {
            Some(Value::ServerError(_)) => {
                incomplete();
                None
            }
            time => Some(time_us(time)?),
        },
        false => None,
    };
    let born = match with_marker {
        true => match items.next() {
            Some(Value::BulkString(digits)) => {
                let born = decimal(digits);
                // Not a marker this library wrote: the follow-up replaces it. Without
                // the clock, not the old marker: the script tells its age.
                if born.is_none() || (old.is_some() && born != old) {
                    incomplete();
                }
                born
            }
            // No marker yet (a new node, or one that just lost its data): the follow-up
            // writes it.
            Some(Value::Nil) | Some(Value::ServerError(_)) => {
                incomplete();
                None
            }
            other => return Err(unexpected("GET of the marker", other)),
        },
        false => None,
    };
    let fence = match (client_fence, minted) {
        (true, _) => match items.next() {
            Some(Value::Nil) => 0,
            Some(Value::ServerError(_)) => {
                incomplete();
                0
            }
            Some(value) => counter(NAME, value)?,
            None => return Err(unexpected("GET of the counter", None)),
        },
        (false, Some(token)) => {
            // Not floored by a clock since the counter was last lost: the follow-up
            // floors it.
            if token < CLOCK_FLOOR {
                incomplete();
            }
            token
        }
        (false, None) => {
            if mint {
                incomplete();
            }
            0
        }
    };
    if !complete {
        // A grant is completed by the follow-up; a refusal from a node without a marker
        // (or one that is not a number) reports none, which trusts nothing.
        if granted {
            return Ok(None);
        }
        return Ok(Some(AcquireReply {
            handoff,
            fence,
            node_time_us: now_us.unwrap_or(0),
            ..AcquireReply::default()
        }));
    }
    // The script's arithmetic: the age in whole ms of the node's clock, never negative;
    // the old marker is older than any `max_ttl`.
    let now_ms = now_us.map(|us| us / 1000);
    let age = match old {
        Some(_) => Some(KNOWN_OLD_MS),
        None => now_ms.zip(born).map(|(now, born)| now.saturating_sub(born)),
    };
    Ok(Some(match request.fencing != Fencing::Off {
        // `{ 1, fence, age, now }`: the birth comes from the age and the clock.
        true => AcquireReply {
            granted,
            fence,
            handoff,
            marker_age_ms: age,
            node_time_us: now_us.unwrap_or(0),
            marker_born_ms: now_ms.zip(age).map(|(now, age)| now - age.min(now)),
            ..AcquireReply::default()
        },
        // `{ 1, age, born }`, or `{ 1, -1 }` without a marker.
        false => AcquireReply {
            granted,
            handoff,
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
