//! Work left running in the background, counted.
//!
//! Replies still in flight after a round decided, clean-up releases after failed or
//! dropped acquisitions, releases of dropped leases: none of it may block the caller, and
//! none of it may silently die with a short-lived process. Each piece runs through
//! [`Background`], which counts it, so that `LockManager::flush` can wait for it before
//! the process exits.
//!
//! Stragglers (the calls of a round that answer after it decided: on several nodes, most
//! acquisitions and releases leave some) are the common case, one or two per lock and
//! release, so they do not get a task each: one task per manager, started on first use,
//! runs all of them as a set of futures, fed through a channel (the renewal task is kept
//! the same way). Rarer work (clean-up releases) is spawned as a task of its own.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use tokio::sync::mpsc;

/// A straggler, counted (its [`Done`] inside).
type Straggler = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Work a manager left running in the background (replies still in flight, releases after
/// failed or dropped acquisitions and of dropped leases), counted so that a short-lived
/// process can wait for it before exiting (see `LockManager::flush`).
#[derive(Default)]
pub(crate) struct Background {
    running: std::sync::atomic::AtomicUsize,
    idle: tokio::sync::Notify,
    /// The task that runs the stragglers, once started.
    stragglers: Mutex<Option<mpsc::UnboundedSender<Straggler>>>,
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

    /// Let `calls`, the stragglers of a round, finish in the manager's straggler task
    /// (started, or restarted after its runtime shut down, on the current runtime; without
    /// one they are dropped, as with [`Background::spawn`]).
    pub(crate) fn adopt(self: &Arc<Self>, calls: impl Future<Output = ()> + Send + 'static) {
        let Ok(mut task) = self.stragglers.lock() else {
            return self.spawn(calls);
        };
        self.running
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        let done = Done(Arc::clone(self));
        let straggler: Straggler = Box::pin(async move {
            let _done = done;
            calls.await;
        });
        let straggler = match task.as_ref() {
            Some(tx) => match tx.send(straggler) {
                Ok(()) => return,
                Err(mpsc::error::SendError(straggler)) => straggler,
            },
            None => straggler,
        };
        // Dropping `straggler` unrun (no runtime) counts it as finished.
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let (tx, rx) = mpsc::unbounded_channel();
        runtime.spawn(run_stragglers(rx));
        // The receiver lives in the task just spawned.
        let _ = tx.send(straggler);
        *task = Some(tx);
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

/// Run the stragglers that arrive on `rx` until every sender is gone and all have finished.
async fn run_stragglers(mut rx: mpsc::UnboundedReceiver<Straggler>) {
    let mut running = FuturesUnordered::new();
    loop {
        tokio::select! {
            arrived = rx.recv() => match arrived {
                Some(straggler) => running.push(straggler),
                None => break,
            },
            Some(()) = running.next(), if !running.is_empty() => {}
        }
    }
    while running.next().await.is_some() {}
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
