//! When to stop the command so that it never runs without the lease.
//!
//! Sending SIGTERM when the lease has already ended would let the whole `--kill-after`
//! grace run without it. So the guard works backwards from the lease's deadline (which
//! moves with every successful renewal): if the deadline comes within `kill_after +
//! margin` and renewal has not moved it, the command gets SIGTERM then, and SIGKILL
//! `kill_after` later, a margin before the deadline. The margin covers the supervision's
//! tick and scheduling delays. For renewal to get a fair chance first (it runs every third
//! of the ttl and retries until the deadline), `kill_after + margin` must fit in half the
//! ttl; a `--kill-after` that does not is refused before anything is acquired.

use std::time::{Duration, Instant};

use crate::exit::{Failure, USAGE};

/// The guard's arithmetic for one `exec`.
#[derive(Debug, Clone, Copy)]
pub struct Guard {
    kill_after: Duration,
    margin: Duration,
}

impl Guard {
    /// The guard for `ttl` and the `--kill-after` given (default: a quarter of the ttl).
    pub fn new(ttl: Duration, kill_after: Option<Duration>) -> Result<Guard, Failure> {
        let margin = (ttl / 20).clamp(Duration::from_millis(100), Duration::from_secs(1));
        let kill_after = kill_after.unwrap_or(ttl / 4);
        let budget = ttl / 2;
        if kill_after + margin > budget {
            let most = budget.saturating_sub(margin);
            let ttl_text = humantime::format_duration(ttl);
            let problem = if kill_after.is_zero() || most.is_zero() {
                format!(
                    "invalid --ttl {ttl_text}: too short for exec, which stops the command a margin ({}) before the lease can end; use --ttl 1s or more",
                    humantime::format_duration(margin)
                )
            } else {
                format!(
                    "invalid --kill-after {}: with --ttl {ttl_text}, SIGTERM, the grace and a margin of {} must fit in half the ttl, so that renewal gets its chance first and SIGKILL lands while the lease is valid; use --kill-after {} or less, or a longer --ttl",
                    humantime::format_duration(kill_after),
                    humantime::format_duration(margin),
                    humantime::format_duration(whole_millis(most))
                )
            };
            return Err(Failure::new(USAGE, problem));
        }
        Ok(Guard { kill_after, margin })
    }

    /// The grace between SIGTERM and SIGKILL.
    pub fn kill_after(&self) -> Duration {
        self.kill_after
    }

    /// Whether the command must be stopped now, given the lease's current deadline.
    pub fn at_risk(&self, deadline: Option<Instant>, now: Instant) -> bool {
        match deadline {
            Some(deadline) => now + self.kill_after + self.margin >= deadline,
            None => true,
        }
    }
}

pub use crate::output::whole_millis;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kill_after_must_fit_in_half_the_ttl() {
        let g = Guard::new(Duration::from_secs(3), Some(Duration::from_secs(1))).unwrap();
        let now = Instant::now();
        assert!(!g.at_risk(Some(now + Duration::from_secs(2)), now));
        assert!(g.at_risk(Some(now + Duration::from_millis(1100)), now));
        assert!(g.at_risk(None, now));
        let e = Guard::new(Duration::from_secs(3), Some(Duration::from_secs(4))).unwrap_err();
        assert!(e.message.contains("--kill-after 4s"), "{}", e.message);
        assert!(e.message.contains("1s 350ms or less"), "{}", e.message);
        assert!(Guard::new(Duration::from_secs(10), None).is_ok());
        let e = Guard::new(Duration::from_millis(200), None).unwrap_err();
        assert!(e.message.contains("--ttl 200ms"), "{}", e.message);
    }
}
