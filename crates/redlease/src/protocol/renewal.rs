//! When a kept-alive lease is renewed, and retried after a failure.
//!
//! A lease is extended at a fraction of its ttl (a third by default), so that an extend
//! that fails leaves time for several retries before the deadline; after a failure the
//! retries come faster, but never after the deadline. Pure, so that the renewal task and
//! the model schedule renewals alike.

use std::time::Duration;

/// Retry delay floor after a failed extend.
pub const MIN_RETRY: Duration = Duration::from_millis(10);

/// Time between renewals of a lease of `ttl`, at `fraction` of it.
///
/// ```
/// use std::time::Duration;
/// let every = redlease::protocol::renewal::interval(Duration::from_secs(30), 1.0 / 3.0);
/// assert_eq!(every, Duration::from_secs(10));
/// ```
pub fn interval(ttl: Duration, fraction: f64) -> Duration {
    Duration::try_from_secs_f64(ttl.as_secs_f64() * fraction).unwrap_or(ttl)
}

/// Delay before retrying a failed renewal, with `left` until the deadline: a quarter of
/// the interval, at most a third of what is left, at least [`MIN_RETRY`].
///
/// ```
/// use std::time::Duration;
/// use redlease::protocol::renewal::retry_delay;
/// let ms = Duration::from_millis;
/// assert_eq!(retry_delay(ms(3000), ms(9000)), ms(750));
/// assert_eq!(retry_delay(ms(3000), ms(600)), ms(200));
/// assert_eq!(retry_delay(ms(3000), ms(3)), ms(10));
/// ```
pub fn retry_delay(interval: Duration, left: Duration) -> Duration {
    (interval / 4).min(left / 3).max(MIN_RETRY)
}

/// Whether a configured cap stops renewal: `renewals` done of at most `max_renewals`, or
/// held for `held` of at most `max_hold`.
///
/// ```
/// use std::time::Duration;
/// use redlease::protocol::renewal::cap_reached;
/// assert!(cap_reached(3, Some(3), Duration::ZERO, None));
/// assert!(!cap_reached(2, Some(3), Duration::from_secs(9), Some(Duration::from_secs(10))));
/// ```
pub fn cap_reached(
    renewals: u32,
    max_renewals: Option<u32>,
    held: Duration,
    max_hold: Option<Duration>,
) -> bool {
    max_renewals.is_some_and(|max| renewals >= max) || max_hold.is_some_and(|max| held >= max)
}
