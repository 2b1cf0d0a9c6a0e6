//! The protocol's arithmetic, as pure functions.
//!
//! Everything that decides *whether* a lease is held lives here, away from sockets and
//! timers: the quorum size, the drift allowance, the validity left after a vote, the
//! early decision on a round of votes, the fencing token chosen from the nodes' counters
//! and the jittered retry delay. The I/O code in [`crate::manager`] and [`crate::lease`]
//! only feeds these functions what the nodes answered, so the same code runs in
//! production, in the unit tests below and in any model of the protocol.
//!
//! See `docs/protocol.md` for the reasoning behind each rule.

use std::time::Duration;

use rand::{Rng, RngCore, TryRngCore};

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

/// What a node said in one round of a lock operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Vote {
    /// The node did what was asked (granted, extended, fenced).
    Yes,
    /// The node answered and refused: the key is held by another owner (or, for extend,
    /// is no longer ours).
    No,
    /// The node did not answer usefully: timeout, connection error, Redis error, garbage.
    Failed,
}

/// Running count of one round of votes, with the early decision the protocol allows.
///
/// ```
/// use redlease::protocol::{Decision, Tally, Vote};
/// let mut tally = Tally::new(5);
/// tally.record(Vote::Yes);
/// tally.record(Vote::Failed);
/// assert_eq!(tally.decision(), Decision::Pending);
/// tally.record(Vote::Yes);
/// tally.record(Vote::Yes);
/// assert_eq!(tally.decision(), Decision::Won);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tally {
    nodes: usize,
    yes: usize,
    no: usize,
    failed: usize,
}

/// The outcome of a [`Tally`] so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// A quorum said yes.
    Won,
    /// A quorum can no longer say yes, whatever the missing votes will be.
    Lost,
    /// Not certain yet.
    Pending,
}

impl Tally {
    /// An empty tally over `nodes` nodes.
    pub const fn new(nodes: usize) -> Self {
        Tally {
            nodes,
            yes: 0,
            no: 0,
            failed: 0,
        }
    }

    /// Count one node's vote.
    pub fn record(&mut self, vote: Vote) {
        match vote {
            Vote::Yes => self.yes += 1,
            Vote::No => self.no += 1,
            Vote::Failed => self.failed += 1,
        }
    }

    /// Votes still missing.
    pub fn pending(&self) -> usize {
        self.nodes.saturating_sub(self.yes + self.no + self.failed)
    }

    /// Nodes that said yes.
    pub fn yes(&self) -> usize {
        self.yes
    }

    /// Nodes that answered and refused.
    pub fn no(&self) -> usize {
        self.no
    }

    /// Nodes that failed to answer.
    pub fn failed(&self) -> usize {
        self.failed
    }

    /// Nodes that answered at all (yes or no).
    pub fn answered(&self) -> usize {
        self.yes + self.no
    }

    /// The decision so far: won once a quorum said yes, lost once the yes votes plus the
    /// missing ones cannot reach a quorum.
    pub fn decision(&self) -> Decision {
        let q = quorum(self.nodes);
        if self.yes >= q {
            Decision::Won
        } else if self.yes + self.pending() < q {
            Decision::Lost
        } else {
            Decision::Pending
        }
    }

    /// True when enough nodes *refused* that a quorum of yes votes is impossible even if
    /// every failed node had answered yes. For an extend this means the lease is
    /// definitely no longer held (as opposed to merely unreachable).
    pub fn refused_by_enough(&self) -> bool {
        self.no > self.nodes - quorum(self.nodes)
    }
}

/// The fencing token of a new lease: one more than the highest counter read from any node
/// that answered. `None` if a counter is already at `u64::MAX`.
///
/// Reading from *every* node that answers (not just the first quorum) is what keeps the
/// tokens monotonic when up to `f` nodes are down, unresponsive or wiped: some node of the
/// previous holder's write quorum is then always among those read.
///
/// ```
/// assert_eq!(redlease::protocol::fencing_token([3, 7, 5]), Some(8));
/// assert_eq!(redlease::protocol::fencing_token([]), Some(1));
/// ```
pub fn fencing_token(counters: impl IntoIterator<Item = u64>) -> Option<u64> {
    counters.into_iter().max().unwrap_or(0).checked_add(1)
}

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

/// How long to sleep between attempts: "full jitter" over an exponentially growing,
/// capped ceiling.
///
/// Contending clients that retry in lockstep collide again and again; random delays
/// spread them out, and the growing ceiling backs off under sustained contention. The
/// ceiling is `base * 2^attempt`, capped at `max`; the delay is uniform in
/// `[ceiling / 2, ceiling]`, so it always grows on average but never collapses to zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Ceiling of the first delay.
    pub base: Duration,
    /// Cap on the ceiling.
    pub max: Duration,
}

impl Default for RetryPolicy {
    /// `base` 10 ms, `max` 250 ms (redsync uses 50-250 ms, node-redlock 200 +/- 100 ms).
    fn default() -> Self {
        RetryPolicy {
            base: Duration::from_millis(10),
            max: Duration::from_millis(250),
        }
    }
}

impl RetryPolicy {
    /// The ceiling for the delay after attempt number `attempt` (0-based).
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let factor = 1u32.checked_shl(attempt.min(31)).unwrap_or(u32::MAX);
        self.base.saturating_mul(factor).min(self.max)
    }

    /// A random delay after attempt number `attempt` (0-based), using `rng`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use redlease::protocol::RetryPolicy;
    /// let policy = RetryPolicy { base: Duration::from_millis(10), max: Duration::from_millis(100) };
    /// let d = policy.delay(3, &mut rand::rng());
    /// assert!(d >= Duration::from_millis(40) && d <= Duration::from_millis(80));
    /// ```
    pub fn delay(&self, attempt: u32, rng: &mut impl Rng) -> Duration {
        let ceiling = self.ceiling(attempt);
        let floor = ceiling / 2;
        if ceiling <= floor {
            return ceiling;
        }
        let nanos = rng.random_range(floor.as_nanos()..=ceiling.as_nanos());
        Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
    }
}

/// Names of the Redis keys of one resource.
///
/// Both keys share the hash tag `{resource}`, so they live in the same Redis Cluster slot
/// and the scripts that touch both work there. The prefix may not contain braces (checked
/// by the builder), so the first `{` of the key is always ours.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keys {
    /// `<prefix>{<resource>}:lock`: holds the owner, with the lease's TTL.
    pub lock: String,
    /// `<prefix>{<resource>}:fence`: the node's fencing counter, without TTL.
    pub fence: String,
    /// `<prefix>{<resource>}:queue`: waiting owners by arrival (a sorted set), while any.
    pub queue: String,
    /// `<prefix>{<resource>}:seen`: when each waiting owner last tried (a hash).
    pub seen: String,
    /// `<prefix>{<resource>}:released`: the pub/sub channel on which releases wake waiters.
    pub channel: String,
}

impl Keys {
    /// Keys for `resource` under `prefix`.
    ///
    /// ```
    /// let keys = redlease::protocol::Keys::new("redlease:", "orders:42");
    /// assert_eq!(keys.lock, "redlease:{orders:42}:lock");
    /// assert_eq!(keys.fence, "redlease:{orders:42}:fence");
    /// ```
    pub fn new(prefix: &str, resource: &str) -> Self {
        let tagged = format!("{prefix}{{{resource}}}");
        Keys {
            fence: format!("{tagged}:fence"),
            queue: format!("{tagged}:queue"),
            seen: format!("{tagged}:seen"),
            channel: format!("{tagged}:released"),
            lock: tagged + ":lock",
        }
    }
}

/// A fresh owner value: 128 bits from the operating system's CSPRNG, as 32 hex digits.
///
/// Never derived from time, pid or hostname: an owner must be unguessable and unique per
/// acquisition, so that no other process (or a retry of the same one) can be mistaken
/// for the holder.
pub fn new_owner() -> String {
    let mut bytes = [0u8; 16];
    rand::rngs::OsRng
        .try_fill_bytes(&mut bytes)
        .unwrap_or_else(|_| {
            // The OS source failing is exceptional; fall back to the thread-local CSPRNG
            // (ChaCha, seeded from the OS) rather than panic.
            rand::rng().fill_bytes(&mut bytes)
        });
    let mut out = String::with_capacity(32);
    for b in bytes {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0xf)]));
    }
    out
}

const HEX: &[u8; 16] = b"0123456789abcdef";

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

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
    fn tally_decides_early_both_ways() {
        let mut t = Tally::new(5);
        t.record(Vote::No);
        t.record(Vote::Failed);
        assert_eq!(t.decision(), Decision::Pending);
        t.record(Vote::No);
        assert_eq!(t.decision(), Decision::Lost, "2 yes at most, quorum is 3");
        assert!(
            !t.refused_by_enough(),
            "2 refusals leave 3 possible yes votes"
        );
        t.record(Vote::No);
        assert!(t.refused_by_enough());

        let mut single = Tally::new(1);
        assert_eq!(single.decision(), Decision::Pending);
        single.record(Vote::Yes);
        assert_eq!(single.decision(), Decision::Won);
    }

    #[test]
    fn tally_all_combinations_of_five() {
        // Exhaustive: the decision agrees with the definition for every vote multiset.
        for yes in 0..=5usize {
            for no in 0..=(5 - yes) {
                for failed in 0..=(5 - yes - no) {
                    let mut t = Tally::new(5);
                    (0..yes).for_each(|_| t.record(Vote::Yes));
                    (0..no).for_each(|_| t.record(Vote::No));
                    (0..failed).for_each(|_| t.record(Vote::Failed));
                    let pending = 5 - yes - no - failed;
                    let expected = if yes >= 3 {
                        Decision::Won
                    } else if yes + pending < 3 {
                        Decision::Lost
                    } else {
                        Decision::Pending
                    };
                    assert_eq!(t.decision(), expected, "yes={yes} no={no} failed={failed}");
                }
            }
        }
    }

    #[test]
    fn fencing_token_is_one_above_the_max() {
        assert_eq!(fencing_token([0, 0, 0]), Some(1));
        assert_eq!(fencing_token([41, 2]), Some(42));
        assert_eq!(fencing_token([u64::MAX]), None);
    }

    #[test]
    fn retry_delay_grows_and_is_capped() {
        let policy = RetryPolicy {
            base: Duration::from_millis(10),
            max: Duration::from_millis(250),
        };
        let mut rng = StdRng::seed_from_u64(7);
        for attempt in 0..40 {
            let ceiling = policy.ceiling(attempt);
            assert!(ceiling <= policy.max);
            for _ in 0..50 {
                let d = policy.delay(attempt, &mut rng);
                assert!(d >= ceiling / 2 && d <= ceiling, "attempt {attempt}: {d:?}");
            }
        }
        assert_eq!(policy.ceiling(0), Duration::from_millis(10));
        assert_eq!(policy.ceiling(2), Duration::from_millis(40));
        assert_eq!(policy.ceiling(10), Duration::from_millis(250));
        assert_eq!(policy.ceiling(u32::MAX), Duration::from_millis(250));
    }

    #[test]
    fn retry_delays_are_spread_out() {
        let policy = RetryPolicy::default();
        let mut rng = StdRng::seed_from_u64(1);
        let mut distinct: Vec<Duration> = (0..20).map(|_| policy.delay(4, &mut rng)).collect();
        distinct.sort();
        distinct.dedup();
        assert!(distinct.len() > 15, "jitter should rarely repeat a value");
    }

    #[test]
    fn owners_are_unique_hex() {
        let a = new_owner();
        let b = new_owner();
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }

    #[test]
    fn keys_share_one_hash_tag() {
        let k = Keys::new("", "a}b");
        assert_eq!(k.lock, "{a}b}:lock");
        assert_eq!(k.fence, "{a}b}:fence");
    }
}
