//! rslock, the Rust Redlock crate most users would pick instead, as a compared lock.
//!
//! Adapted to rslock 0.10's actual API: `LockManager::from_clients` (its `new` unwraps the
//! URL), `lock(resource, ttl)` makes up to 3 attempts with a random 0-200 ms pause between
//! them, and `Lock::release` deletes by compare-and-delete on every node. Its own
//! `acquire` retries forever; here the same loop is bounded by the caller's deadline.
//! Defaults are left as they are, since that is what users get.

use std::time::{Duration, Instant};

use crate::backend::AcquireError;
use crate::error::BenchError;

/// rslock over the run's nodes.
pub(crate) struct RslockBackend {
    manager: rslock::LockManager,
    ttl: Duration,
    prefix: String,
}

impl RslockBackend {
    pub(crate) fn new(urls: &[String], ttl: Duration, prefix: String) -> Result<Self, BenchError> {
        let clients = urls
            .iter()
            .map(|url| redis::Client::open(url.as_str()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(RslockBackend {
            manager: rslock::LockManager::from_clients(clients),
            ttl,
            prefix,
        })
    }

    /// Lock `resource`, calling rslock's `lock` again while it reports the resource
    /// unavailable, until `deadline`.
    pub(crate) async fn acquire(
        &self,
        resource: &str,
        deadline: Instant,
    ) -> Result<rslock::Lock, AcquireError> {
        let key = format!("{}{}", self.prefix, resource);
        loop {
            match self.manager.lock(key.as_bytes(), self.ttl).await {
                Ok(lock) => return Ok(lock),
                Err(e) if Instant::now() >= deadline => {
                    return Err(match e {
                        rslock::LockError::Unavailable => AcquireError::Busy,
                        rslock::LockError::Redis(_)
                        | rslock::LockError::RedisConnectionFailed
                        | rslock::LockError::RedisFailedToEstablishConnection => {
                            AcquireError::Unavailable
                        }
                        _ => AcquireError::Other,
                    });
                }
                Err(_) => {}
            }
        }
    }

    /// Release on every node (rslock's release is best effort and reports nothing).
    pub(crate) async fn release(&self, lock: rslock::Lock) {
        lock.release().await;
    }
}
