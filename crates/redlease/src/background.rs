//! Work left running in the background, counted.
//!
//! Replies still in flight after a round decided, clean-up releases after failed or
//! dropped acquisitions, releases of dropped leases: none of it may block the caller, and
//! none of it may silently die with a short-lived process. Each piece is spawned through
//! [`Background`], which counts it, so that `LockManager::flush` can wait for it before
//! the process exits.

use std::future::Future;
use std::sync::Arc;

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
