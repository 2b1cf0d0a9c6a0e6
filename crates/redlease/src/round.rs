//! One round of requests to every node, collected as the answers arrive.
//!
//! The protocol sends each step (acquire, fence, extend, release) to all nodes at once and
//! decides as soon as the outcome is certain. The calls that have not answered by then are
//! not abandoned: [`Round::detach`] hands them to the background, so their requests are
//! still sent (a connection being re-established still gets the release) and the node's
//! connection bookkeeping still sees their outcome, while the caller moves on.
//!
//! Each call owns what it needs (`Arc`s), which is what lets a round outlive its caller.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;

use crate::cluster::Cluster;
use crate::error::{NodeError, NodeFailure};
use crate::ops::Op;
use crate::protocol::{Decision, Tally, Vote};

pub(crate) type Call<T> = Pin<Box<dyn Future<Output = (usize, Result<T, NodeError>)> + Send>>;

/// The requests of one round still in flight.
pub(crate) struct Round<O: Op> {
    calls: FuturesUnordered<Call<O::Reply>>,
    cluster: Arc<Cluster>,
}

impl<O: Op> Round<O> {
    /// Run `op` on the nodes `indices`.
    pub(crate) fn start(
        cluster: &Arc<Cluster>,
        indices: impl IntoIterator<Item = usize>,
        op: &Arc<O>,
    ) -> Self {
        let calls = indices
            .into_iter()
            .map(|index| {
                let cluster = Arc::clone(cluster);
                let op = Arc::clone(op);
                Box::pin(async move {
                    let result = match cluster.nodes.get(index) {
                        Some(node) => node.run(op.as_ref()).await,
                        None => Err(NodeError::Protocol(format!("no node {index}"))),
                    };
                    (index, result)
                }) as Call<O::Reply>
            })
            .collect();
        Round {
            calls,
            cluster: Arc::clone(cluster),
        }
    }

    /// A round of calls made elsewhere (renewal's batched extends), each answering for
    /// its node like [`Round::start`]'s.
    pub(crate) fn from_calls(
        cluster: &Arc<Cluster>,
        calls: impl IntoIterator<Item = Call<O::Reply>>,
    ) -> Self {
        Round {
            calls: calls.into_iter().collect(),
            cluster: Arc::clone(cluster),
        }
    }

    /// The next answer, or `None` when every node has answered (or failed).
    pub(crate) async fn next(&mut self) -> Option<(usize, Result<O::Reply, NodeError>)> {
        self.calls.next().await
    }

    /// Count answers into `tally` until the outcome is certain; `vote` classifies each
    /// answer (and may note what it carries). Returns the nodes that failed. The calls still
    /// in flight then finish in the background.
    pub(crate) async fn decide(
        mut self,
        tally: &mut Tally,
        mut vote: impl FnMut(usize, O::Reply) -> Vote,
    ) -> Vec<NodeFailure> {
        let mut failures = Vec::new();
        while let Some((i, result)) = self.next().await {
            match result {
                Ok(reply) => tally.record(vote(i, reply)),
                Err(e) => {
                    tally.record(Vote::Failed);
                    failures.push(self.cluster.failure(i, e));
                }
            }
            if tally.decision() != Decision::Pending {
                break;
            }
        }
        self.detach();
        failures
    }

    /// Wait for every answer (each bounded by the node timeout).
    pub(crate) async fn finish(mut self) -> Vec<(usize, Result<O::Reply, NodeError>)> {
        let mut answers = Vec::with_capacity(self.calls.len());
        while let Some(answer) = self.next().await {
            answers.push(answer);
        }
        answers
    }

    /// Let the calls still in flight finish in the background.
    pub(crate) fn detach(self) {
        if self.calls.is_empty() {
            return;
        }
        let mut calls = self.calls;
        self.cluster
            .background
            .spawn(async move { while calls.next().await.is_some() {} });
    }
}
