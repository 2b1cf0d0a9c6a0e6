//! A fencing token minted on demand: the decisions of its two rounds.
//!
//! On several nodes a lease gets its token the first time its holder asks for it, so that
//! callers that never pass a token to a resource pay nothing for it. The token is minted
//! exactly as a token minted during the acquisition would be, only later, by two rounds:
//! read every node's counter and clock ([`Reads`]: every node that answers, at least a
//! quorum), then record the token where the lock is still ours and count a quorum of
//! confirmations that arrived before the lease's deadline ([`conclude`]). Why that keeps
//! tokens in the order of the leases is in `docs/protocol.md`, "Tokens minted on demand";
//! the model (`crates/redlease-model`) runs these same functions.

use super::{Decision, Tally, fencing_token, quorum};

/// The first round: what the nodes that answered read.
///
/// ```
/// use redlease::protocol::mint::Reads;
/// let mut reads = Reads::new(3);
/// reads.read(7, 1_000);
/// assert_eq!(reads.token(), None, "one node of three is not a quorum");
/// reads.read(9, 2_000);
/// assert_eq!(reads.token(), Some(2_000), "the latest clock is the floor");
/// reads.read(5_000, 0);
/// assert_eq!(reads.token(), Some(5_001), "one above the highest counter");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Reads {
    nodes: usize,
    answered: usize,
    highest: u64,
    floor: u64,
}

impl Reads {
    /// No answer yet from any of `nodes` nodes.
    pub const fn new(nodes: usize) -> Self {
        Reads {
            nodes,
            answered: 0,
            highest: 0,
            floor: 0,
        }
    }

    /// One node answered with its counter and its clock (µs).
    pub fn read(&mut self, counter: u64, now_us: u64) {
        self.answered += 1;
        self.highest = self.highest.max(counter);
        self.floor = self.floor.max(now_us);
    }

    /// The token, once every node that answers has been heard: `None` while fewer than a
    /// quorum answered (too few nodes to be sure of meeting the previous token's write
    /// quorum). Saturates at `u64::MAX` (2^64 tokens of one resource).
    pub fn token(&self) -> Option<u64> {
        (self.answered >= quorum(self.nodes))
            .then(|| fencing_token([self.highest], self.floor).unwrap_or(u64::MAX))
    }
}

/// How the second round (recording the token) ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MintVerdict {
    /// A quorum recorded the token before the deadline: it is the lease's.
    Minted,
    /// Enough nodes answered that the lock is no longer ours that no quorum can record it:
    /// the lease is lost.
    NotHeld,
    /// The deadline passed before a quorum confirmed: confirmations that late prove
    /// nothing (another lease may have been granted meanwhile), the lease has expired.
    Expired,
    /// Too few nodes answered: no token now; the lease is still held, and a later call may
    /// mint one.
    Unavailable,
}

/// The verdict of the recording round's `tally`, concluded at `now`, for a lease whose
/// deadline is `deadline`.
///
/// ```
/// use redlease::protocol::mint::{MintVerdict, conclude};
/// use redlease::protocol::{Tally, Vote};
/// let mut tally = Tally::new(3);
/// tally.record(Vote::Yes);
/// tally.record(Vote::Yes);
/// assert_eq!(conclude(&tally, 5, 10), MintVerdict::Minted);
/// assert_eq!(conclude(&tally, 10, 10), MintVerdict::Expired);
/// ```
pub fn conclude<T: Ord>(tally: &Tally, now: T, deadline: T) -> MintVerdict {
    if tally.refused_by_enough() {
        MintVerdict::NotHeld
    } else if now >= deadline {
        MintVerdict::Expired
    } else if tally.decision() == Decision::Won {
        MintVerdict::Minted
    } else {
        MintVerdict::Unavailable
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::Vote;
    use proptest::prelude::*;

    #[test]
    fn refusals_win_over_a_late_clock_and_failures_are_unavailable() {
        let mut tally = Tally::new(5);
        [Vote::No, Vote::No, Vote::No]
            .into_iter()
            .for_each(|v| tally.record(v));
        assert_eq!(conclude(&tally, 9, 1), MintVerdict::NotHeld);
        let mut tally = Tally::new(5);
        [Vote::Yes, Vote::Yes, Vote::Failed, Vote::Failed, Vote::No]
            .into_iter()
            .for_each(|v| tally.record(v));
        assert_eq!(conclude(&tally, 0, 1), MintVerdict::Unavailable);
    }

    proptest! {
        /// The token is above every counter read and at least every clock read, whatever
        /// order the answers arrive in, once a quorum answered.
        #[test]
        fn the_token_is_above_every_reading(
            readings in proptest::collection::vec((0u64..1_000_000, 0u64..1_000_000), 0..7),
        ) {
            let mut reads = Reads::new(5);
            for &(counter, now) in &readings {
                reads.read(counter, now);
            }
            match reads.token() {
                None => prop_assert!(readings.len() < 3),
                Some(token) => {
                    prop_assert!(readings.len() >= 3);
                    for &(counter, now) in &readings {
                        prop_assert!(token > counter && token >= now);
                    }
                }
            }
        }

        /// A quorum of confirmations counts only strictly before the deadline.
        #[test]
        fn minted_only_with_a_quorum_before_the_deadline(
            votes in proptest::collection::vec(0u8..3, 0..=5),
            now in 0u32..10,
            deadline in 0u32..10,
        ) {
            let mut tally = Tally::new(5);
            for v in &votes {
                tally.record([Vote::Yes, Vote::No, Vote::Failed][usize::from(*v)]);
            }
            let minted = conclude(&tally, now, deadline) == MintVerdict::Minted;
            prop_assert_eq!(minted, tally.yes() >= 3 && now < deadline);
        }
    }
}
