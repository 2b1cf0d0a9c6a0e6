//! A held lease: its identity, its validity deadline, extend and release.
//!
//! The deadline lives on the client's monotonic clock and is the only source of truth for
//! "do I still hold it": [`Lease::remaining`] is zero once it has passed, whatever Redis
//! may still have stored. The state is kept in a `watch` channel so that every party (the
//! holder, a renewal task, a [`LeaseHandle::lost`] future) sees a loss at once.
//!
//! Extend is compare-and-pexpire on every node: it needs a quorum of confirmations inside
//! the current validity and computes the new deadline from its own start. A failed extend
//! never releases a lease that is still valid, and never re-creates a key that is gone.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crate::error::{Error, LostReason};

mod core;
mod describe;
mod extend;
mod mint;

pub use describe::MAX_HOLDER_INFO;

pub(crate) use self::core::LeaseCore;
pub(crate) use self::mint::record;

/// Where a lease stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaseState {
    /// Held until the deadline (on the client's monotonic clock).
    Held {
        /// When the lease stops being valid.
        deadline: Instant,
    },
    /// Released by its holder.
    Released,
    /// Lost, for the reason given.
    Lost(LostReason),
}

/// A lease on one resource, held until released, dropped or lost.
///
/// Dropping a held lease releases it in the background when a Tokio runtime is running;
/// otherwise its keys simply expire after the ttl.
#[must_use = "a lease is released as soon as it is dropped"]
pub struct Lease {
    handle: LeaseHandle,
}

/// A view of a lease for the code doing the work: its token, its validity, its loss
/// signal. Cheap to clone; it cannot extend or release, and does not keep the lease held.
#[derive(Clone)]
pub struct LeaseHandle {
    core: Arc<LeaseCore>,
}

impl std::fmt::Debug for Lease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.handle.fmt(f)
    }
}

impl std::fmt::Debug for LeaseHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lease")
            .field("resource", &self.resource())
            .field("owner", &self.owner())
            .field("fencing_token", &self.minted_token())
            .field("state", &self.state())
            .finish()
    }
}

/// The identity of a lease that is no longer managed (see [`Lease::forget`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseInfo {
    /// The resource.
    pub resource: String,
    /// The owner value: needed to extend or release later.
    pub owner: String,
    /// The fencing token (0 if none was minted: fencing off, or minted on demand and
    /// never asked for).
    pub fencing_token: u64,
    /// Validity left when it was forgotten.
    pub remaining: Duration,
}

impl LeaseHandle {
    /// The fencing token: strictly greater than the token of every lease on this resource
    /// acquired before this one.
    ///
    /// Pass it to the resource you protect and have it reject writes carrying a smaller
    /// token than one it has seen: that is what keeps a paused or partitioned former
    /// holder from doing damage after its lease expired.
    ///
    /// On one node the acquisition minted it and this returns at once. On several nodes
    /// the first call mints it, in two round trips (read every node's counter, record the
    /// token on a quorum where the lock is still ours), unless the acquisition did (when
    /// the resource's previous lease in this process was asked for its token, or with
    /// [`crate::Builder::token_at_acquire`]); later calls return the same token. Leases
    /// whose token nobody asks for never pay for one.
    ///
    /// Errors: `lost` if the lease was released, lost or expired before the token was
    /// recorded on a quorum (too late to mint one for it); `unavailable` if too few nodes
    /// answered (the lease is still held, and a later call may mint it);
    /// `invalid argument` if the manager has fencing turned off.
    ///
    /// ```no_run
    /// # async fn run(manager: redlease::LockManager) -> Result<(), redlease::Error> {
    /// let lease = manager.acquire("payments:42").await?;
    /// let token = lease.fencing_token().await?;
    /// // store.write_if_newer("payments:42", token, data)?;
    /// # let _ = token;
    /// lease.release().await
    /// # }
    /// ```
    pub async fn fencing_token(&self) -> Result<u64, Error> {
        self.core.fencing_token().await
    }

    /// The fencing token if it was minted already (by the acquisition, or an earlier
    /// [`LeaseHandle::fencing_token`] call), without minting one.
    pub fn minted_token(&self) -> Option<u64> {
        self.core.minted_token()
    }

    /// The resource this lease is on.
    pub fn resource(&self) -> &str {
        self.core.resource()
    }

    /// The ttl renewals extend this lease by: the acquisition's, or the last successful
    /// extend's.
    pub fn ttl(&self) -> Duration {
        self.core.ttl()
    }

    /// The random owner value that identifies this lease on the nodes.
    pub fn owner(&self) -> &str {
        &self.core.target.owner
    }

    /// Validity left: zero once the deadline has passed, or the lease is released or lost.
    pub fn remaining(&self) -> Duration {
        match self.state() {
            LeaseState::Held { deadline } => deadline.saturating_duration_since(Instant::now()),
            _ => Duration::ZERO,
        }
    }

    /// The validity deadline, while held.
    pub fn deadline(&self) -> Option<Instant> {
        match self.state() {
            LeaseState::Held { deadline } => Some(deadline),
            _ => None,
        }
    }

    /// Whether the lease is held and its deadline has not passed. Never true after the
    /// deadline.
    pub fn is_valid(&self) -> bool {
        !self.remaining().is_zero()
    }

    /// `Ok` while the lease is valid, the `lost` error otherwise: for work that checks
    /// between steps (`handle.ensure_valid()?`).
    pub fn ensure_valid(&self) -> Result<(), Error> {
        if self.is_valid() {
            return Ok(());
        }
        let reason = match self.state() {
            LeaseState::Lost(reason) => reason,
            LeaseState::Released => LostReason::Released,
            LeaseState::Held { .. } => {
                self.core.mark_expired();
                self.core.expiry_reason()
            }
        };
        Err(self.core.lost_error(reason))
    }

    /// The current state.
    pub fn state(&self) -> LeaseState {
        self.core.state()
    }

    /// A future that completes when the lease is lost: its deadline passes, or an extend
    /// finds it gone. It never completes for a lease that is released. The future does not
    /// borrow the lease, so it can be raced against the work with `tokio::select!`.
    pub fn lost(&self) -> impl Future<Output = LostReason> + Send + 'static {
        let mut state = self.core.state.subscribe();
        let core = Arc::downgrade(&self.core);
        async move {
            loop {
                let current = *state.borrow_and_update();
                match current {
                    LeaseState::Lost(reason) => return reason,
                    LeaseState::Released => std::future::pending::<()>().await,
                    LeaseState::Held { deadline } => {
                        tokio::select! {
                            () = tokio::time::sleep_until(deadline.into()) => {
                                match core.upgrade() {
                                    Some(core) => core.mark_expired(),
                                    None => return LostReason::Expired,
                                }
                            }
                            changed = state.changed() => {
                                if changed.is_err() {
                                    // The lease is gone: it was released on drop.
                                    std::future::pending::<()>().await;
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

impl Lease {
    pub(crate) fn new(core: LeaseCore) -> Self {
        Lease {
            handle: LeaseHandle {
                core: Arc::new(core),
            },
        }
    }

    /// A handle for the code doing the work (token, validity, loss signal).
    pub fn handle(&self) -> LeaseHandle {
        self.handle.clone()
    }

    /// Extend the lease so that it lasts `ttl` from now (at most `max_ttl`).
    ///
    /// Errors: `lost` if the deadline passed or a quorum of nodes no longer holds it for
    /// us (the lease is then lost for good); `unavailable` if too few nodes answered, in
    /// which case the lease stays valid until the sooner of its old deadline and the one
    /// this extend would have set (the requests that did not answer in time may still
    /// run), and may be extended again. Renewals then extend by `ttl`.
    pub async fn extend(&mut self, ttl: Duration) -> Result<(), Error> {
        self.extend_inner(ttl).await.map(|_| ())
    }

    /// Record who holds the lease, for operators: `info` is any text up to
    /// [`MAX_HOLDER_INFO`] bytes (the `redlease` command stores host, process id and
    /// command as JSON). It lives beside the lock with the lease's ttl and is shown by
    /// [`crate::LockManager::status`] and [`crate::LockManager::list`]; extend and
    /// release keep it in step. Errors: `unavailable` when fewer than a quorum stored it,
    /// `lost` when the lease is no longer held.
    pub async fn describe(&self, info: &str) -> Result<(), Error> {
        self.handle.core.describe(info).await
    }

    pub(crate) async fn extend_inner(&self, ttl: Duration) -> Result<u64, Error> {
        self.handle.core.extend_locked(ttl).await
    }

    /// Keep the lease extended in the background (at the manager's renewal fraction of
    /// the ttl, a third by default) until it is released, dropped, forgotten or lost.
    /// If renewal cannot extend on a quorum before the deadline, the lease becomes lost
    /// and [`LeaseHandle::lost`] fires. Calling it again has no effect.
    ///
    /// Needs a Tokio runtime (the renewal task runs on it).
    pub fn keep_alive(&self) -> Result<(), Error> {
        let core = &self.handle.core;
        if core.renewing.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        if core.renewals.register(Arc::clone(core)) {
            Ok(())
        } else {
            core.renewing.store(false, Ordering::Release);
            Err(Error::invalid(
                "keep_alive",
                self.resource(),
                "no Tokio runtime to run the renewal on",
                "call keep_alive from within a Tokio runtime (or use redlease::blocking)",
            ))
        }
    }

    /// Release the lease on every node. Idempotent on the nodes: releasing a lease that
    /// expired or was lost is not an error. Fails only with `unavailable` when fewer than
    /// a quorum of nodes answered (the keys then expire by their ttl). Returns once a
    /// quorum answered; the other nodes' releases finish in the background
    /// ([`crate::LockManager::flush`] waits for them).
    pub async fn release(self) -> Result<(), Error> {
        let core = Arc::clone(&self.handle.core);
        core.disarm();
        core.state.send_replace(LeaseState::Released);
        drop(self);
        core.release().await
    }

    /// Stop managing this lease: it is no longer released on drop nor renewed. The keys
    /// stay on the nodes until their ttl runs out, or until someone releases them with the
    /// owner value (see [`crate::LockManager::release_owner`]).
    pub fn forget(self) -> LeaseInfo {
        self.disarm();
        LeaseInfo {
            resource: self.resource().to_owned(),
            owner: self.owner().to_owned(),
            fencing_token: self.minted_token().unwrap_or(0),
            remaining: self.remaining(),
        }
    }

    pub(crate) fn disarm(&self) {
        self.handle.core.disarm();
    }

    pub(crate) fn set_token(&self, token: u64) {
        self.handle.core.set_token(token);
    }
}

/// A lease reads like its handle: `lease.fencing_token()`, `lease.remaining()`,
/// `lease.lost()`... Only the lease itself can extend and release.
impl std::ops::Deref for Lease {
    type Target = LeaseHandle;

    fn deref(&self) -> &LeaseHandle {
        &self.handle
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        let core = &self.handle.core;
        if !core.disarm() {
            return;
        }
        let was_held = matches!(
            core.state.send_replace(LeaseState::Released),
            LeaseState::Held { .. }
        );
        if !was_held {
            return;
        }
        // Without a runtime there is nothing to run the release on: the keys expire by
        // their ttl.
        let release = Arc::clone(core);
        core.cluster.background.spawn(async move {
            if let Err(e) = release.release().await {
                tracing::warn!(error = %e, "release of a dropped lease failed");
            }
        });
    }
}
