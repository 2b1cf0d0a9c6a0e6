//! The deadline after an extend, whether it succeeded or not.
//!
//! An extend is compare-and-pexpire on every node. It succeeds with a quorum of
//! confirmations that arrive before the current deadline, and the new deadline is
//! measured from the extend's own start. Everything else must be judged with care: a
//! quorum of refusals means the lease is gone; too few answers leave it unknown, and the
//! scripts that did not answer in time may still run later and set the new TTL.
//!
//! Generic over the clock (`T`: the library's `Instant`, or the model's ticks as a
//! `Duration`), so both run this very function.

use std::ops::Add;
use std::time::Duration;

use super::tally::{Decision, Tally};

/// What the extend script said on one node.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExtendReply {
    /// The key held our owner and got the new TTL.
    pub extended: bool,
    /// The node's fencing counter for the resource.
    pub fence: u64,
}

/// What an extend round means for the lease.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExtendVerdict<T> {
    /// Held until the new deadline.
    Extended {
        /// `start + ttl - drift`.
        deadline: T,
    },
    /// A quorum refused: the keys no longer hold our owner there. Lost for good.
    NotHeld,
    /// The old deadline passed before the outcome was known: lost (for whatever reason
    /// let it pass).
    Expired,
    /// A quorum confirmed, but so late that the new deadline has passed already.
    Spent,
    /// Too few answers to know. The lease may still be valid, until `deadline`: the old
    /// deadline, or the one the extend would have set if that is sooner (requests that
    /// did not answer in time may still run and set the shorter ttl).
    Unavailable {
        /// The deadline the holder may still count on.
        deadline: T,
    },
}

/// The deadline a holder may count on while an extend of `ttl` started at `start` is in
/// flight: its current `deadline`, or sooner if the extend shortens the lease, because a
/// node may run the shortening script before the round has concluded.
///
/// ```
/// use std::time::Duration;
/// use redlease::protocol::extend::while_extending;
/// let ms = Duration::from_millis;
/// assert_eq!(while_extending(ms(30_000), ms(1000), ms(2000), ms(22)), ms(2978));
/// assert_eq!(while_extending(ms(5000), ms(1000), ms(60_000), ms(602)), ms(5000));
/// ```
pub fn while_extending<T>(deadline: T, start: T, ttl: Duration, drift: Duration) -> T
where
    T: Copy + Ord + Add<Duration, Output = T>,
{
    deadline.min(start + ttl.saturating_sub(drift))
}

/// Conclude an extend round: `tally` of the confirmations, the round's `start`, `now`,
/// the lease's current `deadline`, the requested `ttl` and its `drift` allowance.
///
/// ```
/// use std::time::Duration;
/// use redlease::protocol::{Tally, Vote, extend::{conclude, ExtendVerdict}};
/// let ms = Duration::from_millis;
/// let mut tally = Tally::new(3);
/// tally.record(Vote::Yes);
/// tally.record(Vote::Yes);
/// let verdict = conclude(&tally, ms(1000), ms(1010), ms(5000), ms(10_000), ms(102));
/// assert_eq!(verdict, ExtendVerdict::Extended { deadline: ms(10_898) });
/// ```
pub fn conclude<T>(
    tally: &Tally,
    start: T,
    now: T,
    deadline: T,
    ttl: Duration,
    drift: Duration,
) -> ExtendVerdict<T>
where
    T: Copy + Ord + Add<Duration, Output = T>,
{
    let new_deadline = start + ttl.saturating_sub(drift);
    if tally.decision() == Decision::Won {
        // Confirmations that arrive after the deadline prove nothing: the lease may have
        // been granted to someone else in between on other nodes.
        if now >= deadline {
            return ExtendVerdict::Expired;
        }
        if new_deadline <= now {
            return ExtendVerdict::Spent;
        }
        return ExtendVerdict::Extended {
            deadline: new_deadline,
        };
    }
    if tally.refused_by_enough() {
        return ExtendVerdict::NotHeld;
    }
    if now >= deadline {
        return ExtendVerdict::Expired;
    }
    // A shortening extend that did not get through may still run on the nodes later (a
    // request queued on a paused node, a reply lost): the keys may then hold only the
    // short ttl, so the holder may count only on the sooner of the two deadlines.
    ExtendVerdict::Unavailable {
        deadline: deadline.min(new_deadline),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::Vote;

    const fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn a_failed_shortening_extend_shortens_the_deadline() {
        let mut tally = Tally::new(3);
        tally.record(Vote::Failed);
        tally.record(Vote::Failed);
        let verdict = conclude(&tally, ms(1000), ms(1300), ms(30_000), ms(2000), ms(22));
        assert_eq!(verdict, ExtendVerdict::Unavailable { deadline: ms(2978) });
    }

    #[test]
    fn a_failed_lengthening_extend_keeps_the_old_deadline() {
        let mut tally = Tally::new(3);
        tally.record(Vote::Failed);
        tally.record(Vote::Failed);
        let verdict = conclude(&tally, ms(1000), ms(1300), ms(5000), ms(60_000), ms(602));
        assert_eq!(verdict, ExtendVerdict::Unavailable { deadline: ms(5000) });
    }

    #[test]
    fn refusals_by_a_quorum_mean_lost() {
        let mut tally = Tally::new(3);
        tally.record(Vote::No);
        tally.record(Vote::No);
        let verdict = conclude(&tally, ms(1000), ms(1010), ms(5000), ms(2000), ms(22));
        assert_eq!(verdict, ExtendVerdict::NotHeld);
    }
}
