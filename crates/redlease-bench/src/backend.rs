//! One type over every compared lock, so the workloads are written once.
//!
//! Each implementation is asked the same two things: acquire this resource before this
//! deadline (waiting its own way when it is busy), and release what you got. An enum
//! rather than a trait object keeps the calls static and the futures `Send` without
//! boxing, so the dispatch itself costs nothing measurable.

use std::time::{Duration, Instant};

use redlease::LockManager;

use crate::error::BenchError;
use crate::floor::{Floor, FloorError, FloorLease, FloorMode};
use crate::options::{Implementation, Options, Tokens};

/// A lock implementation, connected.
pub(crate) enum Backend {
    Redlease {
        manager: LockManager,
        ttl: Duration,
        /// Ask every lease for its token, inside the timed acquisition.
        ask_token: bool,
    },
    Floor(Floor),
    #[cfg(feature = "rslock")]
    Rslock(crate::rslock_backend::RslockBackend),
}

/// What an acquisition holds until released.
pub(crate) enum Held {
    /// A lease, and its token (0 when none was asked for).
    Redlease(redlease::Lease, u64),
    Floor(FloorLease),
    #[cfg(feature = "rslock")]
    Rslock(rslock::Lock),
}

impl Held {
    /// The fencing token, for the workload's order check: redlease's when one was asked
    /// for; 0 for the implementations without tokens.
    pub(crate) fn fencing_token(&self) -> u64 {
        match self {
            Held::Redlease(_, token) => *token,
            _ => 0,
        }
    }
}

/// Why an acquisition failed, coarsely (each implementation has its own error type).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AcquireError {
    /// Held by someone else until the deadline.
    Busy,
    /// Too few nodes answered.
    Unavailable,
    /// Anything else (validity spent, ...).
    Other,
}

/// redlease's default per-node timeout (1 % of the ttl, 10-250 ms), used for the floor
/// too when none is given, so both run with the same connection settings.
pub(crate) fn node_timeout(options: &Options) -> Duration {
    options.node_timeout.unwrap_or_else(|| {
        (options.ttl / 100).clamp(Duration::from_millis(10), Duration::from_millis(250))
    })
}

impl Backend {
    /// Back-date redlease's delayed-restart markers (see [`Options::markers_ready`]);
    /// nothing for the others, which have none.
    pub(crate) async fn mark_ready(&self) -> Result<(), BenchError> {
        if let Backend::Redlease { manager, .. } = self {
            for (node, result) in manager.mark_nodes_ready().await {
                if let Err(e) = result {
                    return Err(BenchError::Setup(format!(
                        "marking {node} ready (its delayed-restart marker): {e}"
                    )));
                }
            }
        }
        Ok(())
    }

    /// Connect `implementation` to `urls`, with its keys under `prefix`.
    pub(crate) async fn connect(
        implementation: Implementation,
        urls: &[String],
        options: &Options,
        prefix: String,
    ) -> Result<Self, BenchError> {
        let timeout = node_timeout(options);
        Ok(match implementation {
            Implementation::Redlease { tokens } => {
                let manager = LockManager::builder()
                    .servers(urls.iter().cloned())
                    .ttl(options.ttl)
                    .wait(options.wait)
                    .node_timeout(timeout)
                    .key_prefix(prefix)
                    .fencing(tokens != Tokens::Off)
                    .token_at_acquire(tokens == Tokens::AtAcquire)
                    .build()
                    .await?;
                Backend::Redlease {
                    manager,
                    ttl: options.ttl,
                    ask_token: matches!(tokens, Tokens::Asked | Tokens::AtAcquire),
                }
            }
            Implementation::Floor => Backend::Floor(
                Floor::connect(urls, options.ttl, timeout, prefix, FloorMode::AllReplies).await?,
            ),
            Implementation::FloorMajority => Backend::Floor(
                Floor::connect(urls, options.ttl, timeout, prefix, FloorMode::Majority).await?,
            ),
            #[cfg(feature = "rslock")]
            Implementation::Rslock => Backend::Rslock(crate::rslock_backend::RslockBackend::new(
                urls,
                options.ttl,
                prefix,
            )?),
            #[cfg(not(feature = "rslock"))]
            Implementation::Rslock => {
                return Err(BenchError::invalid(
                    "rslock",
                    "this build has no rslock: build redlease-bench with `--features rslock`",
                ));
            }
        })
    }

    /// Acquire `resource`, waiting (each implementation its own way) until `deadline`.
    pub(crate) async fn acquire(
        &self,
        resource: &str,
        deadline: Instant,
    ) -> Result<Held, AcquireError> {
        match self {
            Backend::Redlease {
                manager,
                ttl,
                ask_token,
            } => {
                let wait = deadline.saturating_duration_since(Instant::now());
                let coarse = |e: redlease::Error| {
                    if e.is_busy() {
                        AcquireError::Busy
                    } else if e.is_unavailable() {
                        AcquireError::Unavailable
                    } else {
                        AcquireError::Other
                    }
                };
                let lease = manager
                    .acquire_for(resource, *ttl, wait)
                    .await
                    .map_err(coarse)?;
                let token = if *ask_token {
                    // A lease whose token cannot be minted is released when dropped.
                    lease.fencing_token().await.map_err(coarse)?
                } else {
                    0
                };
                Ok(Held::Redlease(lease, token))
            }
            Backend::Floor(floor) => floor
                .acquire(resource, deadline)
                .await
                .map(Held::Floor)
                .map_err(|e| match e {
                    FloorError::Busy => AcquireError::Busy,
                    FloorError::Unavailable => AcquireError::Unavailable,
                }),
            #[cfg(feature = "rslock")]
            Backend::Rslock(r) => r.acquire(resource, deadline).await.map(Held::Rslock),
        }
    }

    /// Release what `acquire` returned. False if the implementation reported a failure.
    pub(crate) async fn release(&self, held: Held) -> bool {
        match (self, held) {
            (Backend::Redlease { .. }, Held::Redlease(lease, _)) => lease.release().await.is_ok(),
            (Backend::Floor(floor), Held::Floor(lease)) => {
                floor.release(lease).await;
                true
            }
            #[cfg(feature = "rslock")]
            (Backend::Rslock(r), Held::Rslock(lock)) => {
                r.release(lock).await;
                true
            }
            // A lease from another implementation: cannot happen (each worker uses one
            // backend); dropping it lets its keys expire.
            #[allow(unreachable_patterns)]
            _ => false,
        }
    }
}
