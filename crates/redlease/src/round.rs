//! One round of requests to every node, collected as the answers arrive.
//!
//! The protocol sends each step (acquire, fence, extend, release) to all nodes at once and
//! decides as soon as the outcome is certain. The calls that have not answered by then are
//! not abandoned: [`Round::detach`] hands them to the background (one task for all of a
//! manager's stragglers, not one per round), so their requests are
//! still sent (a connection being re-established still gets the release) and the node's
//! connection bookkeeping still sees their outcome, while the caller moves on.
//!
//! Each call owns what it needs (`Arc`s), which is what lets a round outlive its caller.
//! A round's calls are all of one type (made by [`start`], or by the caller for
//! [`Round::from_calls`]), so nothing is a trait object; and a round on a single node
//! (every round of a one-node deployment) awaits its one call without a set of futures.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;

use crate::cluster::Cluster;
use crate::error::{NodeError, NodeFailure};
use crate::ops::Op;
use crate::protocol::{Decision, Tally, Vote};

/// What a call answers: its node, and the node's reply or failure.
pub(crate) type Answer<T> = (usize, Result<T, NodeError>);

/// The requests of one round still in flight.
pub(crate) struct Round<F> {
    calls: Calls<F>,
    cluster: Arc<Cluster>,
}

/// The calls of a round, each boxed: a call is a large future, and the set would move it
/// whole more than once where it moves a box's pointer.
enum Calls<F> {
    /// One call, or none left (answered, or an empty round): awaited directly, since a
    /// set of futures costs three allocations and a waker of its own per round, for
    /// nothing to choose between.
    One(Option<Pin<Box<F>>>),
    /// Two calls or more, answering as they come.
    Many(FuturesUnordered<Pin<Box<F>>>),
}

/// Run `op` on the nodes `indices`.
pub(crate) fn start<O: Op>(
    cluster: &Arc<Cluster>,
    indices: impl IntoIterator<Item = usize>,
    op: &Arc<O>,
) -> Round<impl Future<Output = Answer<O::Reply>> + Send + 'static> {
    let calls = indices
        .into_iter()
        .map(|index| call(Arc::clone(cluster), index, Arc::clone(op)));
    Round::from_calls(cluster, calls)
}

/// Run `op` on node `index`: one call of a round.
pub(crate) async fn call<O: Op>(
    cluster: Arc<Cluster>,
    index: usize,
    op: Arc<O>,
) -> Answer<O::Reply> {
    let result = match cluster.nodes.get(index) {
        Some(node) => node.run(op.as_ref()).await,
        None => Err(NodeError::Protocol(format!("no node {index}"))),
    };
    (index, result)
}

impl<R, F> Round<F>
where
    F: Future<Output = Answer<R>> + Send + 'static,
    R: Send + 'static,
{
    /// A round of `calls`, each answering for its node like [`start`]'s (renewal's extends
    /// make their own, to batch them where they can).
    pub(crate) fn from_calls(cluster: &Arc<Cluster>, calls: impl IntoIterator<Item = F>) -> Self {
        let mut calls = calls.into_iter().map(Box::pin);
        let calls = match calls.next() {
            None => Calls::One(None),
            Some(first) => match calls.next() {
                None => Calls::One(Some(first)),
                Some(second) => Calls::Many([first, second].into_iter().chain(calls).collect()),
            },
        };
        Round {
            calls,
            cluster: Arc::clone(cluster),
        }
    }

    /// The next answer, or `None` when every node has answered (or failed).
    pub(crate) async fn next(&mut self) -> Option<Answer<R>> {
        self.calls.next().await
    }

    /// Count answers into `tally` until the outcome is certain; `vote` classifies each
    /// answer (and may note what it carries). Returns the nodes that failed. The calls still
    /// in flight then finish in the background.
    pub(crate) async fn decide(
        mut self,
        tally: &mut Tally,
        mut vote: impl FnMut(usize, R) -> Vote,
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
    pub(crate) async fn finish(mut self) -> Vec<Answer<R>> {
        let mut answers = Vec::with_capacity(self.calls.len());
        while let Some(answer) = self.next().await {
            answers.push(answer);
        }
        answers
    }

    /// Let the calls still in flight finish in the background.
    pub(crate) fn detach(self) {
        let Round { mut calls, cluster } = self;
        if calls.len() == 0 {
            return;
        }
        cluster
            .background
            .adopt(async move { while calls.next().await.is_some() {} });
    }
}

impl<R, F: Future<Output = Answer<R>>> Calls<F> {
    /// The next answer, or `None` when every call has answered.
    async fn next(&mut self) -> Option<Answer<R>> {
        match self {
            Calls::One(slot) => {
                let answer = slot.as_mut()?.await;
                *slot = None;
                Some(answer)
            }
            Calls::Many(calls) => calls.next().await,
        }
    }

    /// How many calls are still in flight.
    fn len(&self) -> usize {
        match self {
            Calls::One(slot) => usize::from(slot.is_some()),
            Calls::Many(calls) => calls.len(),
        }
    }
}
