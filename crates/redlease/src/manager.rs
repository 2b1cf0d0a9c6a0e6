//! The lock manager: the library's front door.
//!
//! [`LockManager`] is a facade: it holds the [`Cluster`] (nodes and what they share) and
//! the renewal task, and hands each call to the module that does it: acquisition to
//! `acquire`, leases to `lease`, status, markers and owner operations to `admin`. It is
//! cheap to clone and safe to share between tasks.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures_util::FutureExt;

use crate::acquire::Acquirer;
use crate::admin::{self, Listing, Markers, Status};
use crate::cluster::Cluster;
use crate::config::{Async, Builder};
use crate::error::Error;
use crate::lease::{Lease, LeaseCore, LeaseHandle};
use crate::node::checks::NodeCheck;
use crate::ops::marker::Action;
use crate::renewal::{RenewalStats, Renewals};

/// Hands out leases on resources, over one or more Redis nodes.
///
/// Cheap to clone (an `Arc` inside) and safe to share between tasks; all clones use the
/// same connection per node.
///
/// ```no_run
/// # async fn example() -> Result<(), redlease::Error> {
/// use std::time::Duration;
/// let manager = redlease::LockManager::builder()
///     .servers(["redis://127.0.0.1:6379"])
///     .ttl(Duration::from_secs(10))
///     .build()
///     .await?;
/// let mut lease = manager.acquire("orders:42").await?;
/// println!("fencing token {}", lease.fencing_token().await?);
/// lease.extend(Duration::from_secs(10)).await?;
/// lease.release().await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct LockManager {
    cluster: Arc<Cluster>,
    renewals: Arc<Renewals<LeaseCore>>,
}

#[cfg(test)]
impl LockManager {
    /// What every operation of this manager shares (for the crate's own tests).
    pub(crate) fn cluster(&self) -> &Arc<Cluster> {
        &self.cluster
    }
}

impl fmt::Debug for LockManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.cluster.config;
        f.debug_struct("LockManager")
            .field("servers", &c.servers)
            .field("ttl", &c.ttl)
            .field("wait", &c.wait)
            .field("node_timeout", &c.node_timeout)
            .field("drift_factor", &c.drift_factor)
            .field("key_prefix", &c.key_prefix)
            .field("max_ttl", &c.max_ttl)
            .field("fencing", &c.fencing)
            .finish()
    }
}

impl Builder<Async> {
    /// Validate the options, connect to the nodes that answer (the others are retried
    /// on use) and return the manager.
    ///
    /// Fails only on invalid configuration: nodes that are down at start-up are failed
    /// votes later, not a start-up error.
    pub async fn build(self) -> Result<LockManager, Error> {
        let cluster = Cluster::connect(self.validate()?).await?;
        Ok(LockManager {
            cluster: Arc::new(cluster),
            renewals: Arc::default(),
        })
    }
}

impl LockManager {
    /// Start configuring a manager.
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// The default lease ttl.
    pub fn ttl(&self) -> Duration {
        self.cluster.config.ttl
    }

    /// How long [`LockManager::acquire`] retries.
    pub fn wait(&self) -> Duration {
        self.cluster.config.wait
    }

    /// Number of nodes.
    pub fn nodes(&self) -> usize {
        self.cluster.nodes.len()
    }

    /// Nodes needed for a quorum.
    pub fn quorum(&self) -> usize {
        self.cluster.quorum()
    }

    /// The per-node timeout in force.
    pub fn node_timeout(&self) -> Duration {
        self.cluster.config.node_timeout
    }

    /// What background renewal has done so far: leases scheduled, renewals, failures,
    /// late starts and the worst lateness, leases lost. For monitoring.
    pub fn renewal_stats(&self) -> RenewalStats {
        self.renewals.stats()
    }

    /// Wait, at most `limit`, for the work this manager left running in the background:
    /// clean-up releases after failed or abandoned attempts, releases of dropped leases,
    /// replies still in flight. A short-lived process (a CLI call, a cron job) should call
    /// it before exiting, or that work dies with the runtime and the keys it would have
    /// released stay until their ttl. Returns true when everything finished.
    pub async fn flush(&self, limit: Duration) -> bool {
        self.cluster.background.idle(limit).await
    }

    /// Acquire `resource`, retrying with jittered backoff until the configured wait
    /// budget is spent. Errors: busy, unavailable or validity spent (the last attempt's
    /// outcome), or an invalid resource name.
    pub async fn acquire(&self, resource: &str) -> Result<Lease, Error> {
        let c = &self.cluster.config;
        self.acquire_for(resource, c.ttl, c.wait).await
    }

    /// Make exactly one attempt to acquire `resource`.
    pub async fn try_acquire(&self, resource: &str) -> Result<Lease, Error> {
        self.acquire_for(resource, self.cluster.config.ttl, Duration::ZERO)
            .await
    }

    /// Acquire `resource` with a ttl and wait budget for this call only.
    /// `wait` of zero makes one attempt; `Duration::MAX` retries forever.
    ///
    /// While the resource is held by someone else, the call waits for the holder's
    /// release to be published (see `wake_ups`), or for the holder's key to expire, rather
    /// than polling; other failures (nodes unreachable) are retried after a jittered,
    /// growing delay.
    pub async fn acquire_for(
        &self,
        resource: &str,
        ttl: Duration,
        wait: Duration,
    ) -> Result<Lease, Error> {
        Acquirer {
            cluster: &self.cluster,
            renewals: &self.renewals,
        }
        .acquire(resource, ttl, wait)
        .await
    }

    /// Run `work` while holding `resource`: acquire (within the wait budget), keep the
    /// lease renewed while the work runs, release afterwards.
    ///
    /// If the lease is lost while the work runs, the work future is dropped (it is not
    /// polled again) and the `lost` error is returned: code after an `.await` in the work
    /// never runs without the lease. The work gets a [`LeaseHandle`] to read its fencing
    /// token. The lease is released also when the work panics (the panic then continues).
    ///
    /// ```no_run
    /// # async fn example(manager: redlease::LockManager) -> Result<(), redlease::Error> {
    /// let rows = manager
    ///     .with_lock("reports:nightly", |lease| async move {
    ///         // write with the lease's fencing token to a fenced store...
    ///         lease.fencing_token().await
    ///     })
    ///     .await??;
    /// # let _ = rows; Ok(()) }
    /// ```
    pub async fn with_lock<F, Fut, T>(&self, resource: &str, work: F) -> Result<T, Error>
    where
        F: FnOnce(LeaseHandle) -> Fut,
        Fut: Future<Output = T>,
    {
        let lease = self.acquire(resource).await?;
        if let Err(e) = lease.keep_alive() {
            let _ = lease.release().await;
            return Err(e);
        }
        let lost = lease.lost();
        let work = std::panic::AssertUnwindSafe(work(lease.handle())).catch_unwind();
        let outcome = tokio::select! {
            done = work => Ok(done),
            reason = lost => Err(reason),
        };
        // Released in every case; a lost lease's keys may still sit on some nodes.
        if let Err(e) = lease.release().await {
            tracing::warn!(resource, error = %e, "release after with_lock failed; the keys expire by their ttl");
        }
        match outcome {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(panic)) => std::panic::resume_unwind(panic),
            Err(reason) => Err(Error::lost(resource, reason)),
        }
    }

    /// Release `resource` for `owner` on every node, for callers that kept only the owner
    /// (such as the `redlease release` command). Returns whether any node still held it
    /// for that owner. Idempotent.
    pub async fn release_owner(&self, resource: &str, owner: &str) -> Result<bool, Error> {
        admin::release_owner(&self.cluster, resource, owner).await
    }

    /// Extend `resource` for `owner` to `ttl`, for callers that kept only the owner (such
    /// as the `redlease extend` command). The returned lease carries the fencing counter
    /// seen on the confirming nodes; it is not renewed and not released on drop (see
    /// [`Lease::forget`]).
    pub async fn extend_owner(
        &self,
        resource: &str,
        owner: &str,
        ttl: Duration,
    ) -> Result<Lease, Error> {
        admin::extend_owner(&self.cluster, &self.renewals, resource, owner, ttl).await
    }

    /// Each node's delayed-restart marker age (on the node's own clock): `None` when the
    /// node has no marker yet. A node whose marker is younger than `max_ttl` while others
    /// are older is held back (see [`Builder::delayed_restart`]).
    pub async fn node_markers(&self) -> Markers {
        admin::markers(&self.cluster, Action::Age).await
    }

    /// Operator action: delete every node's marker, so that the deployment counts as new
    /// and no node is held back. Only when no lease is outstanding (e.g. a fresh start).
    pub async fn reset_node_markers(&self) -> Markers {
        admin::markers(&self.cluster, Action::Reset).await
    }

    /// Operator action: mark every reachable node as ready (its marker back-dated by
    /// `max_ttl`), so none is held back. Use when you know the nodes kept their data, or
    /// were down for longer than `max_ttl`.
    pub async fn mark_nodes_ready(&self) -> Markers {
        admin::markers(&self.cluster, Action::Ready).await
    }

    /// The leases held now on resources whose names match the glob `pattern` (`*` for
    /// all), at most `limit`, with their holders' descriptions: for operators, like
    /// `lslocks`. Uses SCAN on every node (never KEYS; on a Redis Cluster node, on every
    /// shard), then reads each resource's status. Nodes that could not be scanned are
    /// named in [`Listing::unscanned`] rather than skipped silently.
    pub async fn list(&self, pattern: &str, limit: usize) -> Result<Listing, Error> {
        admin::list(&self.cluster, pattern, limit).await
    }

    /// What each node is: its kind, role, eviction policy and persistence, with a warning
    /// for each setting that weakens a guarantee (see [`NodeCheck`]).
    pub async fn node_checks(&self) -> Vec<NodeCheck> {
        futures_util::future::join_all(self.cluster.nodes.iter().map(crate::node::checks::check))
            .await
    }

    /// What each node says about `resource`: holder, remaining ttl, fencing counter.
    pub async fn status(&self, resource: &str) -> Result<Status, Error> {
        admin::status(&self.cluster, resource).await
    }
}
