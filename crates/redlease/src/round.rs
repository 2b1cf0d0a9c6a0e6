//! One round of requests to every node, collected as the answers arrive.
//!
//! The protocol sends each step (acquire, fence, extend, release) to all nodes at once and
//! decides as soon as the outcome is certain. The calls that have not answered by then are
//! not abandoned: [`Round::detach`] hands them to a background task, so their requests are
//! still sent (a connection being re-established still gets the release) and the node's
//! connection bookkeeping still sees their outcome, while the caller moves on.
//!
//! Each call owns what it needs (`Arc`s), which is what lets a round outlive its caller.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use redis::{Script, Value};

use crate::error::{NodeError, NodeFailure};
use crate::manager::Shared;
use crate::protocol::{Decision, Keys, Tally, Vote};

type Call<T> = Pin<Box<dyn Future<Output = (usize, Result<T, NodeError>)> + Send>>;

/// The requests of one round still in flight.
pub(crate) struct Round<T> {
    calls: FuturesUnordered<Call<T>>,
    shared: Arc<Shared>,
}

impl<T: Send + 'static> Round<T> {
    /// Run `script` with `request` on the nodes `indices`, parsing each reply with
    /// `parse`. Every script takes the same keys (the resource's lock, fence, queue and
    /// seen keys; unused ones are ignored), then the owner and the request's arguments.
    pub(crate) fn start(
        shared: &Arc<Shared>,
        indices: impl IntoIterator<Item = usize>,
        script: &'static Script,
        request: &Arc<Request>,
        parse: fn(&Value) -> Result<T, NodeError>,
    ) -> Self {
        let calls = indices
            .into_iter()
            .map(|index| {
                let shared = Arc::clone(shared);
                let request = Arc::clone(request);
                Box::pin(async move {
                    let target = &request.target;
                    let mut keys = vec![
                        target.keys.lock.as_str(),
                        target.keys.fence.as_str(),
                        target.keys.queue.as_str(),
                        target.keys.seen.as_str(),
                    ];
                    if let Some(marker) = &shared.marker {
                        keys.push(marker);
                    }
                    let result = match shared.nodes.get(index) {
                        Some(node) => node
                            .eval(script, &keys, &target.owner, &request.args)
                            .await
                            .and_then(|v| parse(&v)),
                        None => Err(NodeError::Protocol(format!("no node {index}"))),
                    };
                    (index, result)
                }) as Call<T>
            })
            .collect();
        Round {
            calls,
            shared: Arc::clone(shared),
        }
    }

    /// The next answer, or `None` when every node has answered (or failed).
    pub(crate) async fn next(&mut self) -> Option<(usize, Result<T, NodeError>)> {
        self.calls.next().await
    }

    /// Count answers into `tally` until the outcome is certain; `vote` classifies each
    /// answer (and may note what it carries). Returns the nodes that failed. The calls still
    /// in flight then finish in the background.
    pub(crate) async fn decide(
        mut self,
        tally: &mut Tally,
        mut vote: impl FnMut(usize, T) -> Vote,
    ) -> Vec<NodeFailure> {
        let mut failures = Vec::new();
        while let Some((i, result)) = self.next().await {
            match result {
                Ok(reply) => tally.record(vote(i, reply)),
                Err(e) => {
                    tally.record(Vote::Failed);
                    if let Some(node) = self.shared.nodes.get(i) {
                        failures.push(node.failure(e));
                    }
                }
            }
            if tally.decision() != Decision::Pending {
                break;
            }
        }
        self.detach();
        failures
    }

    /// Let the calls still in flight finish in the background.
    pub(crate) fn detach(self) {
        if self.calls.is_empty() {
            return;
        }
        let mut calls = self.calls;
        self.shared
            .background
            .spawn(async move { while calls.next().await.is_some() {} });
    }
}

/// The resource and owner an operation is about.
#[derive(Debug)]
pub(crate) struct Target {
    pub resource: String,
    pub owner: String,
    pub keys: Keys,
}

/// One operation: its target and the script arguments after the owner.
pub(crate) struct Request {
    pub target: Arc<Target>,
    pub args: Vec<String>,
}

impl Request {
    pub(crate) fn new(target: &Arc<Target>, args: Vec<String>) -> Arc<Self> {
        Arc::new(Request {
            target: Arc::clone(target),
            args,
        })
    }
}

/// Work a manager left running in the background (replies still in flight, releases after
/// failed or dropped acquisitions and of dropped leases), counted so that a short-lived
/// process can wait for it before exiting (see `LockManager::flush`).
#[derive(Default)]
pub(crate) struct Background {
    running: std::sync::atomic::AtomicUsize,
    idle: tokio::sync::Notify,
}

impl Background {
    /// Spawn `work` on the current runtime, if there is one (otherwise it is dropped:
    /// without a runtime nothing could run it).
    pub(crate) fn spawn(self: &Arc<Self>, work: impl Future<Output = ()> + Send + 'static) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        self.running
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        let done = Done(Arc::clone(self));
        runtime.spawn(async move {
            let _done = done;
            work.await;
        });
    }

    /// Wait until nothing runs in the background, at most `limit`. True when idle.
    pub(crate) async fn idle(&self, limit: std::time::Duration) -> bool {
        let wait = async {
            loop {
                let notified = self.idle.notified();
                if self.running.load(std::sync::atomic::Ordering::Acquire) == 0 {
                    return;
                }
                notified.await;
            }
        };
        tokio::time::timeout(limit, wait).await.is_ok()
    }
}

/// Counts one background task as finished when dropped (also when the runtime shuts
/// down and drops the task unfinished).
struct Done(Arc<Background>);

impl Drop for Done {
    fn drop(&mut self) {
        if self
            .0
            .running
            .fetch_sub(1, std::sync::atomic::Ordering::AcqRel)
            == 1
        {
            self.0.idle.notify_waiters();
        }
    }
}
