//! "Busy never reported as unavailable": an acquire that fails as *unavailable* must
//! really have heard from fewer than a quorum of nodes.
//!
//! The difference matters to the caller: busy means wait or give up, unavailable means
//! the servers are down (the CLI exits 69 and operators get paged). Each failed attempt
//! is recorded with what its error said ([`FailureDetail`]: kind, the `answered` count
//! it claimed, and its per-node failures split into non-answers — timeouts, connection
//! and protocol errors — and nodes that answered but were held back by delayed restart)
//! and what the fault schedule said was reachable when the call was made.
//!
//! The rule: an *unavailable* failure is misreported when the nodes its error names as
//! unable to take part (non-answers and held-back nodes) are at most `N - Q`, so that at
//! least a quorum could have granted, and the schedule had at least a quorum of nodes up
//! and reachable. Both conditions must hold: the first keeps a node that timed out under
//! load (an honest non-answer) or came back empty (held back: its grant cannot count) from
//! being blamed on the library, the second keeps a real outage from being blamed on the
//! counting. With enough nodes able to take part, a failure can only be *busy*.

use serde::{Deserialize, Serialize};

/// What a failed acquire's error said, through the library's public error API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailureDetail {
    /// `busy`, `unavailable`, `validity_spent`, ...
    pub kind: String,
    /// Nodes configured.
    pub total: usize,
    /// Nodes needed.
    pub quorum: usize,
    /// The `answered` count an unavailable error claimed.
    pub claimed_answered: Option<usize>,
    /// Per-node failures that are not answers (timeouts, connection, redis, protocol).
    pub non_answers: usize,
    /// Per-node failures that are answers from held-back nodes.
    pub held_back: usize,
    /// The error's message.
    pub message: String,
}

impl FailureDetail {
    /// The detail of `error`, for a deployment of `total` nodes.
    pub fn of(error: &redlease::Error, total: usize) -> FailureDetail {
        let failures = error.node_failures();
        let held_back = failures
            .iter()
            .filter(|f| matches!(f.error, redlease::NodeError::HeldBack { .. }))
            .count();
        // An unavailable error names every node that could not take part.
        let claimed_answered = error
            .quorum()
            .map(|(_, nodes)| nodes.saturating_sub(failures.len()));
        FailureDetail {
            kind: kind_name(error.kind()).to_owned(),
            total,
            quorum: redlease::protocol::quorum(total),
            claimed_answered,
            non_answers: failures.len() - held_back,
            held_back,
            message: error.to_string(),
        }
    }

    /// Whether this is an *unavailable* that at least a quorum of answers contradicts,
    /// while the schedule had `reachable` nodes up (`None`: not tracked; the error's own
    /// failures decide alone).
    pub fn misreported(&self, reachable: Option<usize>) -> bool {
        self.kind == "unavailable"
            && self.non_answers + self.held_back <= self.total - self.quorum
            && reachable.is_none_or(|r| r >= self.quorum)
    }
}

/// The short name of an error kind, as the history records it.
pub fn kind_name(kind: redlease::ErrorKind) -> &'static str {
    match kind {
        redlease::ErrorKind::Busy => "busy",
        redlease::ErrorKind::Unavailable => "unavailable",
        redlease::ErrorKind::ValiditySpent => "validity_spent",
        redlease::ErrorKind::Lost => "lost",
        redlease::ErrorKind::InvalidArgument => "invalid_argument",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unavailable(total: usize, non_answers: usize, held_back: usize) -> FailureDetail {
        FailureDetail {
            kind: "unavailable".into(),
            total,
            quorum: redlease::protocol::quorum(total),
            claimed_answered: Some(0),
            non_answers,
            held_back,
            message: String::new(),
        }
    }

    #[test]
    fn unavailable_with_a_quorum_answering_is_misreported() {
        // Issue 10 item 5: 5 nodes, one held back, 4 busy: "only 2 of 5 answered".
        assert!(unavailable(5, 0, 1).misreported(Some(5)));
        assert!(unavailable(5, 1, 1).misreported(None));
        assert!(unavailable(3, 0, 1).misreported(None));
    }

    #[test]
    fn held_back_nodes_cannot_take_part() {
        // Three of five came back empty: at most two grants could count.
        assert!(!unavailable(5, 0, 3).misreported(Some(5)));
        // One down, one held back of three.
        assert!(!unavailable(3, 1, 1).misreported(None));
    }

    #[test]
    fn real_outages_and_other_kinds_are_not() {
        // Two of three nodes down: honest, whatever the count says.
        assert!(!unavailable(3, 2, 0).misreported(Some(1)));
        // The schedule says a majority was cut off: not the counting's fault.
        assert!(!unavailable(5, 1, 0).misreported(Some(2)));
        // Three timeouts of five under load: honest.
        assert!(!unavailable(5, 3, 0).misreported(Some(5)));
        let busy = FailureDetail {
            kind: "busy".into(),
            ..unavailable(5, 0, 1)
        };
        assert!(!busy.misreported(Some(5)));
    }
}
