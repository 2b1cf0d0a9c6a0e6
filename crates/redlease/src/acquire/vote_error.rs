//! The error of an attempt whose vote was not won: which nodes refused (busy, with the
//! holder's remaining ttl) or failed, in node order, and the delayed-restart holds.
//!
//! Apart from `mod.rs` because it is the one place that turns a vote's outcome into what
//! the caller reads: the decisions are `protocol::attempt`'s, the wording `error.rs`'s.

use crate::error::{Error, NodeError, NodeFailure, Repr};
use crate::ops::Target;
use crate::protocol::{Outcome, Verdict};

use super::Acquirer;

impl Acquirer<'_> {
    /// Every node that could not take part in a vote: the ones that failed (`errors`)
    /// and the ones held back by delayed restart, in node order.
    pub(super) fn vote_failures(
        &self,
        outcome: &Outcome,
        errors: Vec<(usize, NodeError)>,
    ) -> Vec<NodeFailure> {
        let cluster = self.cluster;
        let mut failures: Vec<NodeFailure> = errors
            .into_iter()
            .map(|(i, e)| cluster.failure(i, e))
            .collect();
        failures.extend(outcome.held_back.iter().map(|&(i, age)| {
            cluster.failure(
                i,
                NodeError::HeldBack {
                    age,
                    max_ttl: cluster.config.max_ttl,
                },
            )
        }));
        // In node order, whatever order they failed in.
        failures.sort_by_key(|f| f.index);
        failures
    }

    /// The error of a vote that was not won.
    pub(super) fn vote_error(
        &self,
        target: &Target,
        outcome: &Outcome,
        errors: Vec<(usize, NodeError)>,
    ) -> Error {
        let cluster = self.cluster;
        let failures = self.vote_failures(outcome, errors);
        let total = cluster.nodes.len();
        match outcome.verdict {
            Verdict::Unavailable => Repr::Unavailable {
                resource: target.resource().to_owned(),
                quorum: cluster.quorum(),
                total,
                failures,
            },
            _ => Repr::Busy {
                resource: target.resource().to_owned(),
                busy: outcome
                    .busy
                    .iter()
                    .filter_map(|&i| cluster.nodes.get(i).map(|n| n.name().clone()))
                    .collect(),
                total,
                failures,
                holder_ttl: outcome.holder_ttl,
            },
        }
        .into()
    }
}
