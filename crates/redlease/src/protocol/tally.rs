//! Votes of one round, and the early decision.
//!
//! Every lock operation (acquire, record a token, extend) is a round of votes over all
//! nodes. The outcome is often certain before every node answered: a quorum of yes votes
//! wins at once, and enough refusals or failures lose at once. Deciding early is what
//! makes a dead or hung node cost nothing when the others answer, so the rule lives here,
//! tested exhaustively, and every round of the library counts through it.

use super::quorum;

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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
