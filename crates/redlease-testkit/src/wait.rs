//! Bounded waiting for a state that other processes bring about.
//!
//! Replication, cluster gossip and sentinel elections all converge in their
//! own time; a test can only poll. Every wait in the kit has a deadline and,
//! when it passes, says what it waited for and what it saw last, so a
//! failover that never completes is a readable error, not a hung test.

use std::io;
use std::thread;
use std::time::{Duration, Instant};

/// How often a condition is polled.
const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// Polls `probe` until it returns `Ok`, for at most `timeout`. `Err(seen)`
/// means "not yet" and describes the state observed; the last one ends up in
/// the [`io::ErrorKind::TimedOut`] error, after `what` (what was awaited).
pub(crate) fn until<T>(
    timeout: Duration,
    what: &str,
    mut probe: impl FnMut() -> Result<T, String>,
) -> io::Result<T> {
    let deadline = Instant::now() + timeout;
    loop {
        let seen = match probe() {
            Ok(value) => return Ok(value),
            Err(seen) => seen,
        };
        if Instant::now() >= deadline {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("waited {timeout:?} for {what}; last seen: {seen}"),
            ));
        }
        thread::sleep(POLL_INTERVAL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_out_with_what_it_saw() {
        let err = until(Duration::from_millis(60), "the moon", || {
            Err::<(), _>("no moon".to_string())
        })
        .expect_err("never");
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert!(
            err.to_string().contains("for the moon; last seen: no moon"),
            "{err}"
        );
    }

    #[test]
    fn returns_the_first_success() {
        let mut calls = 0;
        let value = until(Duration::from_secs(5), "three calls", || {
            calls += 1;
            if calls == 3 {
                Ok(calls)
            } else {
                Err(format!("{calls}"))
            }
        });
        assert_eq!(value.ok(), Some(3));
    }
}
