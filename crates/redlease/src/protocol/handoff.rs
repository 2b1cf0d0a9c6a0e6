//! Hand-off in one round: a release that gives the lock to the longest waiter outright.
//!
//! A refused caller that waits registers, with its place in a node's queue, the owner of
//! its next attempt and the refused attempt's ttl (`acquire.lua`). A lease's release then
//! sets the lock to the head's registered owner with that ttl (`release.lua`) and
//! publishes the grant; the waiter counts it as that owner's vote on the node. With a
//! quorum of such grants, the waiter holds the lease without another round trip: a
//! contended critical section costs the release and a message, where a reservation (the
//! release reserves, the waiter's next attempt takes) cost the release, the message and a
//! whole attempt.
//!
//! What makes a grant count here, and why that is as safe as a grant to an attempt, is in
//! `docs/protocol.md` ("Hand-off in one round"): only grants for the owner registered by
//! the attempt the waiter last made, validity measured from the start of that attempt
//! (the node set the key after it), and only nodes whose delayed-restart marker is old
//! enough on its own. Anything less (too few grants in time, a young marker, the validity
//! spent) leaves the waiter to its next attempt, which has that owner and so finds such a
//! key its own. The model (`crates/redlease-model`) runs these same functions.

use std::time::Duration;

use super::{Decision, Tally, Vote};

/// What a release published on a resource's channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wake<'a> {
    /// The lock was freed for everyone (or the message was not understood): every
    /// waiter tries.
    Freed,
    /// The lock is reserved for `waiter` for the hand-off window: its next attempt
    /// takes it.
    Reserved {
        /// The waiter id of the call the lock is reserved for.
        waiter: &'a str,
    },
    /// The lock was set to the owner `waiter` registered.
    Granted {
        /// The waiter id of the call the lock was given to.
        waiter: &'a str,
        /// What the node granted.
        grant: Grant<'a>,
    },
}

/// A node's grant by hand-off, as published.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grant<'a> {
    /// The owner the key now holds: the waiter's registered attempt.
    pub owner: &'a str,
    /// The fencing token the node minted with the grant (one node, fenced), or 0.
    pub token: u64,
    /// The age of the node's delayed-restart marker in ms, on the node's clock; `None`
    /// without delayed restart.
    pub marker_age_ms: Option<u64>,
}

/// Read a release's message: `""` (freed), `"<waiter>"` (reserved) or
/// `"<waiter> <owner> <token> <marker age>"` (granted; the age `-1` without a marker).
/// Anything else reads as freed: waking everyone is never wrong, only slower.
///
/// ```
/// use redlease::protocol::handoff::{Grant, Wake, parse};
/// assert_eq!(parse(b""), Wake::Freed);
/// assert_eq!(parse(b"w1"), Wake::Reserved { waiter: "w1" });
/// assert_eq!(
///     parse(b"w1 o7 12 -1"),
///     Wake::Granted {
///         waiter: "w1",
///         grant: Grant { owner: "o7", token: 12, marker_age_ms: None },
///     }
/// );
/// assert_eq!(parse(b"w1 o7 twelve -1"), Wake::Freed);
/// ```
pub fn parse(payload: &[u8]) -> Wake<'_> {
    let Ok(text) = std::str::from_utf8(payload) else {
        return Wake::Freed;
    };
    let mut fields = text.split(' ');
    let waiter = fields.next().unwrap_or("");
    if waiter.is_empty() {
        return Wake::Freed;
    }
    let Some(owner) = fields.next() else {
        return Wake::Reserved { waiter };
    };
    let (Some(token), Some(age), None) = (fields.next(), fields.next(), fields.next()) else {
        return Wake::Freed;
    };
    let (Ok(token), Ok(age)) = (token.parse::<u64>(), age.parse::<i64>()) else {
        return Wake::Freed;
    };
    if owner.is_empty() {
        return Wake::Freed;
    }
    Wake::Granted {
        waiter,
        grant: Grant {
            owner,
            token,
            marker_age_ms: u64::try_from(age).ok(),
        },
    }
}

/// Whether a grant may count without an attempt: its node's marker (if delayed restart is
/// on) is at least `max_ttl` old on its own, and it carries the token where the one node
/// mints with the grant (`needs_token`). A marker younger than that needs the whole
/// round's view that only an attempt has (`docs/protocol.md`, "Delayed restart"), so such
/// a grant is left to the next attempt, which takes it over.
///
/// ```
/// use std::time::Duration;
/// use redlease::protocol::handoff::{Grant, counts};
/// let max_ttl = Duration::from_secs(60);
/// let grant = |token, age| Grant { owner: "o", token, marker_age_ms: age };
/// assert!(counts(&grant(0, None), max_ttl, false));
/// assert!(counts(&grant(0, Some(60_000)), max_ttl, false));
/// assert!(!counts(&grant(0, Some(59_999)), max_ttl, false));
/// assert!(!counts(&grant(0, None), max_ttl, true), "no token where one was to be minted");
/// assert!(counts(&grant(7, None), max_ttl, true));
/// ```
pub fn counts(grant: &Grant<'_>, max_ttl: Duration, needs_token: bool) -> bool {
    let old = grant
        .marker_age_ms
        .is_none_or(|age| Duration::from_millis(age) >= max_ttl);
    old && (!needs_token || grant.token != 0)
}

/// The grants of one attempt, node by node: the attempt holds the lock at a quorum.
///
/// ```
/// use redlease::protocol::Decision;
/// use redlease::protocol::handoff::Handoffs;
/// let mut grants = Handoffs::new(5);
/// assert_eq!(grants.grant(0, 0), Decision::Pending);
/// assert_eq!(grants.grant(0, 0), Decision::Pending, "a node counts once");
/// assert_eq!(grants.grant(3, 0), Decision::Pending);
/// assert_eq!(grants.grant(4, 0), Decision::Won);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Handoffs {
    nodes: usize,
    tally: Tally,
    granted: Vec<usize>,
    /// Nodes whose grant arrived but could not count (see [`counts`]).
    uncounted: Vec<usize>,
    token: u64,
}

impl Handoffs {
    /// No grant yet, over `nodes` nodes.
    pub fn new(nodes: usize) -> Self {
        Handoffs {
            nodes,
            tally: Tally::new(nodes),
            granted: Vec::new(),
            uncounted: Vec::new(),
            token: 0,
        }
    }

    /// Count node `node`'s grant (with the token it minted, or 0); a node counts once.
    pub fn grant(&mut self, node: usize, token: u64) -> Decision {
        if !self.granted.contains(&node) && !self.uncounted.contains(&node) {
            self.granted.push(node);
            self.tally.record(Vote::Yes);
            self.token = self.token.max(token);
        }
        self.tally.decision()
    }

    /// Note node `node`'s grant that could not count (a young marker, no token): the
    /// node set the key to the owner all the same, so the next attempt finds it its own.
    pub fn uncounted(&mut self, node: usize) {
        if !self.granted.contains(&node) && !self.uncounted.contains(&node) {
            self.uncounted.push(node);
            self.tally.record(Vote::No);
        }
    }

    /// The nodes counted so far.
    pub fn granted(&self) -> &[usize] {
        &self.granted
    }

    /// Whether the waiter should make its next attempt now rather than wait (within a
    /// node timeout) for more grants: nothing was granted to it at all (the wake-up was a
    /// reservation or a plain release), or its grants can no longer reach a quorum that
    /// counts and a quorum of nodes already set the key to the next attempt's owner. An
    /// attempt made before that (at the first grant that cannot count) races the
    /// holder's releases still on their way, is refused where they have not yet landed,
    /// and registers a new owner there: the keys handed over are wasted.
    ///
    /// ```
    /// use redlease::protocol::handoff::Handoffs;
    /// let mut grants = Handoffs::new(3);
    /// assert!(grants.try_now(), "nothing granted: a reservation");
    /// grants.uncounted(0);
    /// assert!(!grants.try_now(), "one grant that cannot count: wait for the others");
    /// grants.uncounted(2);
    /// assert!(grants.try_now(), "a quorum granted, none counts: the next attempt");
    /// ```
    pub fn try_now(&self) -> bool {
        let arrived = self.tally.answered();
        arrived == 0
            || (self.tally.decision() == Decision::Lost && arrived >= super::quorum(self.nodes))
    }

    /// The token minted with the grants (one node, fenced), or 0.
    pub fn token(&self) -> u64 {
        self.token
    }
}

/// How long a registration is good for a grant: a live waiter registers again at least
/// this often (it sleeps at most `wake_up_fallback` between attempts, and an attempt takes
/// up to a node timeout to arrive). An older registration may belong to a call that ended
/// without its leave reaching the node (down or cut off meanwhile): a grant to it would
/// hold the lock for nobody for a whole ttl, so `release.lua` reserves the lock for such a
/// head instead (for the hand-off window, as before grants existed). Half of
/// [`super::retry::waiter_gone_after`], after which the entry is dropped.
///
/// ```
/// use std::time::Duration;
/// use redlease::protocol::handoff::registration_fresh_for;
/// let fresh = registration_fresh_for(Duration::from_secs(1), Duration::from_millis(100));
/// assert_eq!(fresh, Duration::from_millis(1100));
/// ```
pub fn registration_fresh_for(wake_up_fallback: Duration, node_timeout: Duration) -> Duration {
    wake_up_fallback.saturating_add(node_timeout)
}

/// The validity left to a lease won by hand-off, `elapsed` after its attempt started:
/// measured from that start, since each node set the key after it (`None`: spent, the
/// next attempt takes the keys over).
///
/// ```
/// use std::time::Duration;
/// use redlease::protocol::handoff::validity;
/// let s = Duration::from_secs;
/// assert_eq!(validity(s(10), s(2), s(1)), Some(s(7)));
/// assert_eq!(validity(s(10), s(9), s(1)), None);
/// ```
pub fn validity(ttl: Duration, elapsed: Duration, drift: Duration) -> Option<Duration> {
    super::validity(ttl, elapsed, drift)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_message_never_names_a_waiter_it_does_not_carry() {
        assert_eq!(parse(b" o 1 2"), Wake::Freed);
        assert_eq!(parse(b"w  1 2"), Wake::Freed);
        assert_eq!(parse(b"w o 1 2 3"), Wake::Freed);
        assert_eq!(parse(b"w o 1"), Wake::Freed);
        assert_eq!(parse(&[0xff, 0xfe]), Wake::Freed);
        assert_eq!(
            parse(b"w o 0 5"),
            Wake::Granted {
                waiter: "w",
                grant: Grant {
                    owner: "o",
                    token: 0,
                    marker_age_ms: Some(5)
                }
            }
        );
    }

    proptest! {
        /// Whatever order and repetition the grants arrive in, the attempt holds the lock
        /// exactly when a quorum of distinct nodes granted it.
        #[test]
        fn won_exactly_at_a_quorum_of_distinct_nodes(
            nodes in 1usize..8,
            order in proptest::collection::vec(0usize..8, 0..24),
        ) {
            let mut grants = Handoffs::new(nodes);
            let mut seen = std::collections::BTreeSet::new();
            for node in order.into_iter().filter(|&i| i < nodes) {
                seen.insert(node);
                let decision = grants.grant(node, 0);
                let won = seen.len() >= crate::protocol::quorum(nodes);
                prop_assert_eq!(decision == Decision::Won, won);
                prop_assert_ne!(decision, Decision::Lost);
            }
        }

        /// A waiter tries again at once exactly when nothing was granted to it, or when
        /// its grants cannot count to a quorum any more and a quorum of nodes granted
        /// (the next attempt then finds a quorum of keys its own); never after a quorum
        /// that counts, which is a lease.
        #[test]
        fn tries_now_only_when_waiting_cannot_help(
            nodes in 1usize..8,
            order in proptest::collection::vec((0usize..8, any::<bool>()), 0..24),
        ) {
            let mut grants = Handoffs::new(nodes);
            let (mut counted, mut not) = (std::collections::BTreeSet::new(), std::collections::BTreeSet::new());
            let q = crate::protocol::quorum(nodes);
            for (node, ok) in order.into_iter().filter(|&(i, _)| i < nodes) {
                let known = counted.contains(&node) || not.contains(&node);
                let decision = if ok { grants.grant(node, 0) } else { grants.uncounted(node); Decision::Pending };
                if !known {
                    if ok { counted.insert(node); } else { not.insert(node); }
                }
                let arrived = counted.len() + not.len();
                let hopeless = nodes - not.len() < q;
                prop_assert_eq!(grants.try_now(), hopeless && arrived >= q);
                if counted.len() >= q {
                    prop_assert_eq!(decision == Decision::Won || !ok, true);
                    prop_assert!(!grants.try_now());
                }
            }
            if grants.granted().is_empty() && not.is_empty() {
                prop_assert!(grants.try_now());
            }
        }

        /// The validity of a hand-off never exceeds what an attempt that started at the
        /// same moment would have.
        #[test]
        fn never_more_validity_than_the_attempt(
            ttl in 1u64..100_000, elapsed in 0u64..100_000, drift in 0u64..1_000,
        ) {
            let ms = Duration::from_millis;
            let v = validity(ms(ttl), ms(elapsed), ms(drift));
            prop_assert_eq!(v, crate::protocol::validity(ms(ttl), ms(elapsed), ms(drift)));
            if let Some(v) = v {
                prop_assert!(v + ms(elapsed) + ms(drift) <= ms(ttl));
            }
        }
    }
}
