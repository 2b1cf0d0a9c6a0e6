//! Delays between attempts.
//!
//! Contending clients that retry in lockstep collide again and again; random delays spread
//! them out, and a growing ceiling backs off under sustained contention.

use std::time::Duration;

use rand::Rng;

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

/// Base of the random delay after split votes.
pub const SPLIT_JITTER_BASE: Duration = Duration::from_millis(1);

/// A random delay in `[0, min(1 ms * 2^splits, max)]` after `splits` split votes in a
/// row: contenders that each won some nodes retry apart, sooner than the retry policy's
/// delays would let them.
///
/// ```
/// use std::time::Duration;
/// let d = redlease::protocol::retry::split_jitter(3, Duration::from_millis(250), &mut rand::rng());
/// assert!(d <= Duration::from_millis(8));
/// ```
pub fn split_jitter(splits: u32, max: Duration, rng: &mut impl Rng) -> Duration {
    let ceiling = SPLIT_JITTER_BASE
        .saturating_mul(1u32.checked_shl(splits.min(20)).unwrap_or(u32::MAX))
        .min(max);
    ceiling.mul_f64(rng.random_range(0.0..=1.0))
}

/// How long a queued waiter may go without trying again before a release counts it as
/// gone (it died without leaving the queue): a waiter sleeps at most `wake_up_fallback`
/// between attempts, and its next attempt takes up to a node timeout to arrive. Twice
/// that, so a slow waiter is never skipped.
///
/// ```
/// use std::time::Duration;
/// let gone = redlease::protocol::retry::waiter_gone_after(
///     Duration::from_secs(1),
///     Duration::from_millis(100),
/// );
/// assert_eq!(gone, Duration::from_millis(2200));
/// ```
pub fn waiter_gone_after(wake_up_fallback: Duration, node_timeout: Duration) -> Duration {
    wake_up_fallback
        .saturating_add(node_timeout)
        .saturating_mul(2)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

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
    fn split_jitter_is_capped() {
        let mut rng = StdRng::seed_from_u64(3);
        for splits in 0..64 {
            let d = split_jitter(splits, Duration::from_millis(250), &mut rng);
            assert!(d <= Duration::from_millis(250));
        }
    }
}
