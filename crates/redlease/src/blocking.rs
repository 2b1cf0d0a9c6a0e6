//! The same leases for programs without an async runtime.
//!
//! One implementation, two faces (as in mini-redis): each blocking manager owns a small
//! Tokio runtime (one worker thread) on which the async manager runs. Calls block the
//! calling thread with `block_on`; renewal and the background release of dropped leases
//! run on the runtime's thread, so they keep working while the caller's thread is busy
//! with the work.
//!
//! ```no_run
//! # fn example() -> Result<(), redlease::Error> {
//! use std::time::Duration;
//! let manager = redlease::blocking::LockManager::builder()
//!     .servers(["redis://127.0.0.1:6379"])
//!     .ttl(Duration::from_secs(10))
//!     .build()?;
//! let report = manager.with_lock("reports:nightly", |lease| {
//!     // ... the work; check lease.ensure_valid()? between steps ...
//!     lease.fencing_token()
//! })?;
//! # let _ = report; Ok(()) }
//! ```

use std::sync::Arc;
use std::time::Duration;

use crate::admin::Status;
use crate::config;
use crate::error::{Error, LostReason};
use crate::lease::LeaseInfo;

/// Configures a blocking [`LockManager`]: the same options as [`crate::Builder`], and a
/// `build` that blocks.
pub type Builder = config::Builder<config::Blocking>;

/// Owns the runtime; shuts it down without blocking when the last user goes away (a
/// plain `Runtime` drop would panic if that happened inside another runtime).
struct Runtime(Option<tokio::runtime::Runtime>);

impl Runtime {
    fn new() -> Result<Self, Error> {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("redlease")
            .enable_all()
            .build()
            .map(|rt| Runtime(Some(rt)))
            .map_err(|e| Error::runtime(format!("could not start the blocking API's runtime: {e}")))
    }

    fn get(&self) -> Result<&tokio::runtime::Runtime, Error> {
        self.0
            .as_ref()
            .ok_or_else(|| Error::runtime("the blocking API's runtime has shut down"))
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        if let Some(rt) = self.0.take() {
            rt.shutdown_background();
        }
    }
}

impl Builder {
    /// Validate the options, connect to the nodes that answer, and return the manager,
    /// blocking the calling thread (see [`crate::Builder::build`]). Must not be called
    /// from within an async runtime.
    pub fn build(self) -> Result<LockManager, Error> {
        let runtime = Arc::new(Runtime::new()?);
        let inner = runtime
            .get()?
            .block_on(self.with_face::<config::Async>().build())?;
        Ok(LockManager { inner, runtime })
    }
}

/// The blocking face of [`crate::LockManager`]. Cheap to clone.
#[derive(Clone)]
pub struct LockManager {
    inner: crate::LockManager,
    runtime: Arc<Runtime>,
}

impl std::fmt::Debug for LockManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.inner.fmt(f)
    }
}

impl LockManager {
    /// Start configuring a manager; finish with [`Builder::build`].
    pub fn builder() -> Builder {
        Builder::default()
    }

    fn block_on<T>(
        &self,
        f: impl std::future::Future<Output = Result<T, Error>>,
    ) -> Result<T, Error> {
        self.runtime.get()?.block_on(f)
    }

    fn wrap(&self, lease: crate::Lease) -> Lease {
        Lease {
            handle: LeaseHandle {
                inner: lease.handle(),
                runtime: Arc::clone(&self.runtime),
            },
            inner: Some(lease),
            runtime: Arc::clone(&self.runtime),
        }
    }

    /// See [`crate::LockManager::acquire`].
    pub fn acquire(&self, resource: &str) -> Result<Lease, Error> {
        self.block_on(self.inner.acquire(resource))
            .map(|l| self.wrap(l))
    }

    /// See [`crate::LockManager::try_acquire`].
    pub fn try_acquire(&self, resource: &str) -> Result<Lease, Error> {
        self.block_on(self.inner.try_acquire(resource))
            .map(|l| self.wrap(l))
    }

    /// See [`crate::LockManager::acquire_for`].
    pub fn acquire_for(
        &self,
        resource: &str,
        ttl: Duration,
        wait: Duration,
    ) -> Result<Lease, Error> {
        self.block_on(self.inner.acquire_for(resource, ttl, wait))
            .map(|l| self.wrap(l))
    }

    /// See [`crate::LockManager::flush`]: wait, at most `limit`, for background work
    /// (releases of dropped leases, clean-ups) to finish. A short program should call it
    /// before it exits, or that work dies with the manager's runtime. True when
    /// everything finished.
    pub fn flush(&self, limit: Duration) -> bool {
        self.runtime
            .get()
            .is_ok_and(|rt| rt.block_on(self.inner.flush(limit)))
    }

    /// See [`crate::LockManager::release_owner`].
    pub fn release_owner(&self, resource: &str, owner: &str) -> Result<bool, Error> {
        self.block_on(self.inner.release_owner(resource, owner))
    }

    /// See [`crate::LockManager::status`].
    pub fn status(&self, resource: &str) -> Result<Status, Error> {
        self.block_on(self.inner.status(resource))
    }

    /// Run `work` on this thread while holding `resource`, renewed in the background;
    /// release afterwards (also when `work` panics).
    ///
    /// A blocking closure cannot be interrupted: if the lease is lost while it runs, the
    /// closure runs to its end and `with_lock` then returns the `lost` error instead of its
    /// value. Long work should check [`crate::LeaseHandle::ensure_valid`] between steps.
    pub fn with_lock<T>(
        &self,
        resource: &str,
        work: impl FnOnce(&LeaseHandle) -> T,
    ) -> Result<T, Error> {
        let lease = self.acquire(resource)?;
        lease.keep_alive()?;
        let handle = lease.handle();
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| work(&handle)));
        let lost = handle.ensure_valid().err();
        if let Err(e) = lease.release() {
            tracing::warn!(resource, error = %e, "release after with_lock failed; the keys expire by their ttl");
        }
        let value = match outcome {
            Ok(value) => value,
            Err(panic) => std::panic::resume_unwind(panic),
        };
        match lost {
            Some(error) => Err(error),
            None => Ok(value),
        }
    }
}

/// The blocking face of [`crate::LeaseHandle`]: everything the async handle offers
/// (through `Deref`), with a [`LeaseHandle::fencing_token`] that blocks.
#[derive(Clone)]
pub struct LeaseHandle {
    inner: crate::LeaseHandle,
    runtime: Arc<Runtime>,
}

impl std::fmt::Debug for LeaseHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.inner.fmt(f)
    }
}

impl LeaseHandle {
    /// See [`crate::LeaseHandle::fencing_token`]: on several nodes the first call mints
    /// the token (two round trips), blocking this thread meanwhile.
    pub fn fencing_token(&self) -> Result<u64, Error> {
        self.runtime.get()?.block_on(self.inner.fencing_token())
    }
}

impl std::ops::Deref for LeaseHandle {
    type Target = crate::LeaseHandle;

    fn deref(&self) -> &crate::LeaseHandle {
        &self.inner
    }
}

/// The blocking face of [`crate::Lease`]. Dropping it releases the lease in the
/// background, as the async lease does.
#[must_use = "a lease is released as soon as it is dropped"]
pub struct Lease {
    /// `None` only once consumed (release, forget) or dropped.
    inner: Option<crate::Lease>,
    handle: LeaseHandle,
    runtime: Arc<Runtime>,
}

impl std::fmt::Debug for Lease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.handle.fmt(f)
    }
}

impl Lease {
    fn lease(&self) -> Result<&crate::Lease, Error> {
        self.inner
            .as_ref()
            .ok_or_else(|| Error::lost(self.handle.resource(), LostReason::Released))
    }

    /// A handle for the work: token, validity, loss.
    pub fn handle(&self) -> LeaseHandle {
        self.handle.clone()
    }

    /// See [`crate::Lease::extend`].
    pub fn extend(&mut self, ttl: Duration) -> Result<(), Error> {
        let rt = self.runtime.get()?;
        let resource = self.handle.resource().to_owned();
        let lease = self
            .inner
            .as_mut()
            .ok_or_else(|| Error::lost(&resource, LostReason::Released))?;
        rt.block_on(lease.extend(ttl))
    }

    /// See [`crate::Lease::keep_alive`]: renewal runs on the manager's runtime thread.
    pub fn keep_alive(&self) -> Result<(), Error> {
        let rt = self.runtime.get()?;
        let _entered = rt.enter();
        self.lease()?.keep_alive()
    }

    /// Block until the lease is lost (never returns for a lease that is released).
    pub fn wait_lost(&self) -> Result<LostReason, Error> {
        let lost = self.lease()?.lost();
        Ok(self.runtime.get()?.block_on(lost))
    }

    /// See [`crate::Lease::release`].
    pub fn release(mut self) -> Result<(), Error> {
        let rt = self.runtime.get()?;
        match self.inner.take() {
            Some(lease) => rt.block_on(lease.release()),
            None => Ok(()),
        }
    }

    /// See [`crate::Lease::forget`].
    pub fn forget(mut self) -> Option<LeaseInfo> {
        self.inner.take().map(crate::Lease::forget)
    }
}

impl std::ops::Deref for Lease {
    type Target = LeaseHandle;

    fn deref(&self) -> &LeaseHandle {
        &self.handle
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let (Some(lease), Ok(rt)) = (self.inner.take(), self.runtime.get()) {
            // Enter the runtime so the async lease's drop can spawn its release there.
            let _entered = rt.enter();
            drop(lease);
        }
    }
}
