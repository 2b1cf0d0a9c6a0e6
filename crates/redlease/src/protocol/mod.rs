//! The protocol's decisions, as pure functions and state machines.
//!
//! Everything that decides *whether* a lease is held lives here, away from sockets and
//! timers: the quorum size, the drift allowance, the validity left after a vote, the
//! fencing token chosen from the nodes' counters, and the state machines that one
//! acquisition attempt ([`attempt`]), one extend ([`extend`]) and renewal ([`renewal`])
//! follow. The I/O code (`acquire/`, `lease.rs`, `renewal.rs` of the crate) only feeds
//! them what the nodes answered and acts on what they decide, and the model crate
//! (`redlease-model`) drives the **same** functions under every interleaving it explores:
//! a decision written here is checked where it runs.
//!
//! | module | decides |
//! |---|---|
//! | this one | quorum, drift, validity, fencing token |
//! | [`tally`] | votes of one round and the early decision |
//! | [`attempt`] | one acquisition attempt: grants, refusals, held-back nodes, busy vs unavailable |
//! | [`extend`] | the deadline after an extend, whether it succeeded or not |
//! | [`renewal`] | when a kept-alive lease is renewed, and retried after a failure |
//! | [`queue`] | who joins the wait queue, when a waiter keeps its place and when it leaves |
//! | [`restart`] | delayed restart: which nodes came back empty, which markers are trusted |
//! | [`retry`] | delays between attempts |
//! | [`names`] | key names and owner values |
//!
//! See `docs/protocol.md` for the reasoning behind each rule.

use std::time::Duration;

pub mod attempt;
pub mod extend;
pub mod handoff;
pub mod mint;
pub mod names;
pub mod queue;
pub mod renewal;
pub mod restart;
pub mod retry;
pub mod tally;

pub use attempt::{AcquireReply, Attempt, AttemptRules, Known, NodeVote, Outcome, Step, Verdict};
pub use extend::{ExtendReply, ExtendVerdict};
pub(crate) use names::ResourceKeys;
pub use names::{Keys, new_owner};
pub use restart::{KNOWN_OLD_MS, MarkerTrust, held_back, restart_slack};
pub use retry::RetryPolicy;
pub use tally::{Decision, Tally, Vote};

/// Quorum for `n` nodes: a strict majority, `n / 2 + 1`.
///
/// Two strict majorities of the same `n` nodes always share at least one node; that
/// intersection is what makes both mutual exclusion and fencing tokens work.
///
/// ```
/// assert_eq!(redlease::protocol::quorum(1), 1);
/// assert_eq!(redlease::protocol::quorum(5), 3);
/// assert_eq!(redlease::protocol::quorum(4), 3);
/// ```
pub const fn quorum(n: usize) -> usize {
    n / 2 + 1
}

/// The fixed part of the drift allowance: Redis expires keys with millisecond
/// resolution, so one millisecond is lost on each side of the TTL.
pub const DRIFT_FLOOR: Duration = Duration::from_millis(2);

/// Clock-drift allowance for a lease of `ttl`: `ttl * factor + 2 ms`.
///
/// Node clocks may run slightly faster than the client's; a node whose clock runs fast
/// by `factor` expires the key `ttl * factor` early, so the client must consider the
/// lease gone that much sooner.
///
/// ```
/// use std::time::Duration;
/// let d = redlease::protocol::drift(Duration::from_secs(10), 0.01);
/// assert_eq!(d, Duration::from_millis(102));
/// ```
pub fn drift(ttl: Duration, factor: f64) -> Duration {
    // `mul_f64` panics on negative, NaN or overflowing factors; the builder only admits
    // factors in [0, 0.5], but stay panic-free for any input.
    let scaled = if factor.is_finite() && factor > 0.0 {
        Duration::try_from_secs_f64(ttl.as_secs_f64() * factor).unwrap_or(Duration::MAX)
    } else {
        Duration::ZERO
    };
    scaled.saturating_add(DRIFT_FLOOR)
}

/// Validity left after a successful vote: `ttl - elapsed - drift`, or `None` when
/// nothing is left (the lease must then be treated as not acquired).
///
/// `elapsed` is measured on the client's monotonic clock from *before the first request
/// was sent*: a node may have started the key's TTL as soon as it received the request,
/// so any later starting point would overestimate the validity.
///
/// ```
/// use std::time::Duration;
/// use redlease::protocol::validity;
/// let ttl = Duration::from_secs(10);
/// let drift = Duration::from_millis(102);
/// assert_eq!(validity(ttl, Duration::from_millis(8), drift), Some(Duration::from_millis(9_890)));
/// assert_eq!(validity(ttl, Duration::from_secs(10), drift), None);
/// ```
pub fn validity(ttl: Duration, elapsed: Duration, drift: Duration) -> Option<Duration> {
    ttl.checked_sub(elapsed)?
        .checked_sub(drift)
        .filter(|left| !left.is_zero())
}

/// The fencing token of a new lease: one more than the highest counter read from any node
/// that answered, and at least `floor`, the latest node clock read (in µs). `None` if a
/// counter is already at `u64::MAX`.
///
/// Reading from *every* node that answers (not just the first quorum) is what keeps the
/// tokens monotonic when up to `f` nodes are down, unresponsive or wiped: some node of the
/// previous holder's write quorum is then always among those read. The clock floor keeps
/// them monotonic when more than that was lost over time (nodes wiped one after another
/// while the resource was idle, or counters that expired): a later acquisition reads a
/// later clock, provided the nodes' clocks agree within half of `max_ttl` (assumption
/// A5 of `docs/guarantees.md`).
///
/// ```
/// assert_eq!(redlease::protocol::fencing_token([3, 7, 5], 0), Some(8));
/// assert_eq!(redlease::protocol::fencing_token([], 0), Some(1));
/// assert_eq!(redlease::protocol::fencing_token([3], 1_700_000_000_000_000), Some(1_700_000_000_000_000));
/// ```
pub fn fencing_token(counters: impl IntoIterator<Item = u64>, floor: u64) -> Option<u64> {
    let next = counters.into_iter().max().unwrap_or(0).checked_add(1)?;
    Some(next.max(floor))
}

/// How long a node keeps a resource's fencing counter after it was last written: long
/// enough that, with node clocks within `max_ttl / 2` of each other, a token minted after
/// it expired (from the clock floor alone) is still above every earlier one.
///
/// ```
/// use std::time::Duration;
/// let ttl = redlease::protocol::fence_counter_ttl(Duration::from_secs(300));
/// assert_eq!(ttl, Duration::from_secs(660));
/// ```
pub fn fence_counter_ttl(max_ttl: Duration) -> Duration {
    max_ttl
        .saturating_mul(2)
        .saturating_add(Duration::from_secs(60))
}

/// The owner holding a resource on a quorum of `nodes`, from each answering node's
/// `(owner, pttl_ms)`, with its remaining ttl: the quorum-th largest among the nodes that
/// hold it (the time until fewer than a quorum still hold it).
///
/// ```
/// use std::time::Duration;
/// use redlease::protocol::quorum_holder;
/// let readings = [(Some("a"), Some(900)), (Some("a"), Some(800)), (Some("b"), Some(5000))];
/// assert_eq!(quorum_holder(3, readings), Some(("a", Some(Duration::from_millis(800)))));
/// assert_eq!(quorum_holder(3, [(Some("a"), Some(900)), (None, None)]), None);
/// ```
pub fn quorum_holder<'a>(
    nodes: usize,
    readings: impl IntoIterator<Item = (Option<&'a str>, Option<u64>)>,
) -> Option<(&'a str, Option<Duration>)> {
    let mut held: Vec<(&str, Option<u64>)> = readings
        .into_iter()
        .filter_map(|(owner, pttl)| owner.map(|o| (o, pttl)))
        .collect();
    held.sort_unstable();
    let q = quorum(nodes);
    let group = held
        .chunk_by(|a, b| a.0 == b.0)
        .find(|group| group.len() >= q)?;
    let mut ttls: Vec<u64> = group.iter().filter_map(|(_, pttl)| *pttl).collect();
    ttls.sort_unstable_by(|a, b| b.cmp(a));
    Some((
        group[0].0,
        ttls.get(q - 1).map(|ms| Duration::from_millis(*ms)),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quorum_is_a_strict_majority() {
        for n in 1..=9 {
            let q = quorum(n);
            assert!(2 * q > n, "n={n}");
            assert!(2 * (q - 1) <= n, "n={n}: quorum not minimal");
        }
    }

    #[test]
    fn drift_never_panics() {
        let ttl = Duration::from_secs(1);
        assert_eq!(drift(ttl, 0.0), DRIFT_FLOOR);
        assert_eq!(drift(ttl, -1.0), DRIFT_FLOOR);
        assert_eq!(drift(ttl, f64::NAN), DRIFT_FLOOR);
        assert_eq!(drift(Duration::MAX, 1e300), Duration::MAX);
    }

    #[test]
    fn validity_is_none_when_spent() {
        let ttl = Duration::from_millis(100);
        let d = drift(ttl, 0.01);
        assert_eq!(d, Duration::from_millis(3));
        assert_eq!(
            validity(ttl, Duration::from_millis(10), d),
            Some(Duration::from_millis(87))
        );
        assert_eq!(validity(ttl, Duration::from_millis(97), d), None);
        assert_eq!(validity(ttl, Duration::from_millis(200), d), None);
    }

    #[test]
    fn fencing_token_is_one_above_the_max_and_the_floor() {
        assert_eq!(fencing_token([0, 0, 0], 0), Some(1));
        assert_eq!(fencing_token([41, 2], 0), Some(42));
        assert_eq!(fencing_token([41, 2], 100), Some(100));
        assert_eq!(fencing_token([u64::MAX], 0), None);
    }
}
