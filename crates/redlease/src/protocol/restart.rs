//! Delayed restart: which nodes came back empty, and which markers are trusted.
//!
//! A node restarted without its data forgets the leases it granted; counting its grant
//! could give a second holder a quorum while the first lease is still valid. Each node
//! keeps a marker key written when it first served this deployment; the acquire script
//! reports the marker's age on the node's own clock. These functions decide, from those
//! ages, which grants must not count yet. They are pure so that the library and the model
//! judge markers with the same code.

use std::time::Duration;

/// How much older than a node's marker the oldest marker must be before that node counts
/// as having come back empty: markers of one deployment are written by the same first
/// acquisitions, within about a node timeout of each other.
///
/// ```
/// use std::time::Duration;
/// let slack = redlease::protocol::restart_slack(Duration::from_millis(100));
/// assert_eq!(slack, Duration::from_millis(450));
/// ```
pub fn restart_slack(node_timeout: Duration) -> Duration {
    node_timeout.saturating_mul(2) + Duration::from_millis(250)
}

/// The age, in ms, a client reports for a marker that it saw at least `max_ttl` old
/// before and recognised since by its birth alone, without reading the node's clock (the
/// quick acquire): older than any `max_ttl` (at most a day), about 35 years. The same
/// marker is older still than when it was seen, and an age reported above the true one
/// holds back no fewer nodes and counts no more grants ([`held_back`] only grows with the
/// oldest age; `attempt_tests.rs`, `an_old_marker_reported_older_never_counts_more`).
pub const KNOWN_OLD_MS: u64 = 1 << 40;

/// Delayed restart: whether a node whose marker is `age` old must not count as a grant,
/// given the oldest marker age any node reported.
///
/// A node that lost its data (restart without persistence, FLUSHALL) forgets the leases it
/// granted; counting its grant could give a second holder a quorum while the first lease
/// is still valid. Its marker is young while the others' are old, so it is held back
/// until its age exceeds `max_ttl`, the longest any lease granted before its restart can
/// still be valid. When every marker is young (a brand-new deployment) nobody is held
/// back. Ages are measured on each node's own clock, so only clock rates matter.
///
/// ```
/// use std::time::Duration;
/// use redlease::protocol::held_back;
/// let (max_ttl, slack) = (Duration::from_secs(60), Duration::from_millis(450));
/// let s = Duration::from_secs;
/// assert!(held_back(s(1), s(30), max_ttl, slack));      // came back empty 1 s ago
/// assert!(!held_back(s(61), s(3600), max_ttl, slack));  // back for longer than max_ttl
/// assert!(!held_back(s(1), s(1), max_ttl, slack));      // a brand-new deployment
/// ```
pub fn held_back(age: Duration, oldest: Duration, max_ttl: Duration, slack: Duration) -> bool {
    age < max_ttl && oldest > age.saturating_add(slack)
}

/// What a client remembers of one node's marker: its birth, once a complete round showed
/// the node is not one that came back empty.
///
/// Seeing the same marker again (same birth, within a tolerance) means the node kept its
/// data since: its grants can be counted without waiting for every other node's answer.
/// A different marker means the node lost its data: the trust is dropped.
///
/// `seen_at` is when the node measured `age`, on a clock that does not depend on when
/// the client got round to reading the answer. The library passes the node's own clock
/// (the time in the acquire script's reply, the same reading the age was computed
/// from), so the birth is the node's own record of its marker and the tolerance is zero;
/// the model passes its tick counter. A birth estimated from when the client processed
/// the reply would be off by any stall between the two, and a node wiped and re-marked
/// that much later would look trusted (`tests/restart.rs`,
/// `a_client_stall_cannot_make_a_wiped_node_look_trusted`).
///
/// ```
/// use std::time::Duration;
/// use redlease::protocol::MarkerTrust;
/// let s = Duration::from_secs;
/// let mut trust = MarkerTrust::default();
/// assert!(!trust.check(s(100), s(5), s(1)));  // nothing trusted yet
/// trust.trust(s(100), s(5));                  // born 95 s before our epoch
/// assert!(trust.check(s(110), s(15), s(1)));  // the same marker, 10 s later
/// assert!(!trust.check(s(2), s(20), s(1)));   // a new marker: the node lost its data
/// assert!(!trust.check(s(115), s(20), s(1))); // and the trust is gone
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MarkerTrust {
    /// Birth of the trusted marker, in ns on the clock `seen_at` is read on.
    birth_ns: Option<i128>,
    /// Birth of the marker that was seen in place of the trusted one: proof that the node
    /// lost its data since (see [`MarkerTrust::replaced`]).
    replaced_by_ns: Option<i128>,
}

impl MarkerTrust {
    /// Whether a marker of `age`, seen at `seen_at`, is the trusted one (births within
    /// `tolerance`). A different marker drops the trust.
    pub fn check(&mut self, age: Duration, seen_at: Duration, tolerance: Duration) -> bool {
        let Some(known) = self.birth_ns else {
            return false;
        };
        let seen = birth(age, seen_at);
        let same = known.abs_diff(seen) <= tolerance.as_nanos();
        if !same {
            self.birth_ns = None;
            self.replaced_by_ns = Some(seen);
        }
        same
    }

    /// Whether the marker of `age`, seen at `seen_at`, is the one [`check`](Self::check)
    /// found in place of a trusted marker. With one marker per node (not on Redis
    /// Cluster, where each resource has its own), a marker that replaced the one this
    /// client trusted proves that the node lost its data since: its grants must not count
    /// until its marker is `max_ttl` old, whatever the other nodes answer. Without this,
    /// the client holds such a node back only when an older marker arrives in the same
    /// attempt, and counts its grant as in a brand-new deployment when every node that kept
    /// its data fails to answer.
    ///
    /// ```
    /// use std::time::Duration;
    /// use redlease::protocol::MarkerTrust;
    /// let s = Duration::from_secs;
    /// let mut trust = MarkerTrust::default();
    /// trust.trust(s(100), s(5));
    /// assert!(!trust.check(s(2), s(20), s(1)));  // a new marker: the node lost its data
    /// assert!(trust.replaced(s(3), s(21), s(1))); // the same new marker, a second later
    /// trust.trust(s(3), s(21));                  // trusted again after a complete round
    /// assert!(!trust.replaced(s(4), s(22), s(1)));
    /// ```
    pub fn replaced(&self, age: Duration, seen_at: Duration, tolerance: Duration) -> bool {
        self.replaced_by_ns
            .is_some_and(|b| b.abs_diff(birth(age, seen_at)) <= tolerance.as_nanos())
    }

    /// Trust the marker of `age` seen at `seen_at`.
    pub fn trust(&mut self, age: Duration, seen_at: Duration) {
        self.birth_ns = Some(birth(age, seen_at));
        self.replaced_by_ns = None;
    }

    /// Forget every marker (the operator reset them: the deployment starts afresh).
    pub fn forget(&mut self) {
        *self = MarkerTrust::default();
    }

    /// Whether a marker is trusted at all.
    pub fn is_set(&self) -> bool {
        self.birth_ns.is_some()
    }
}

fn birth(age: Duration, seen_at: Duration) -> i128 {
    let ns = |d: Duration| i128::try_from(d.as_nanos()).unwrap_or(i128::MAX);
    ns(seen_at).saturating_sub(ns(age))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_older_than_the_epoch_are_told_apart() {
        let s = Duration::from_secs;
        let mut trust = MarkerTrust::default();
        trust.trust(s(100), s(5));
        // Another marker, also older than the epoch, but born at another time.
        assert!(!trust.check(s(50), s(10), s(1)));
    }
}
