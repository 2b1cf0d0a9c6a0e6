//! # redlease: distributed leases on Redis
//!
//! A lease is a lock with a time limit: one holder at a time per resource, for at most a
//! ttl unless extended. redlease implements the single-instance lock (one Redis) and
//! Redlock (N independent Redis masters, quorum N/2 + 1) with the same code, and adds
//! what the usual implementations lack:
//!
//! - **fencing tokens** that grow strictly per resource across the quorum, so the
//!   resource you protect can reject a former holder that woke up late;
//! - **honest validity**: the lease ends at `start + ttl - drift` on the client's monotonic
//!   clock, measured from before the first request, and never reports valid past it;
//! - **per-node timeouts** and early decisions: a dead or hung node is a failed vote, and
//!   costs at most one node timeout;
//! - **typed errors** that tell "held by someone else" from "nodes unreachable" from
//!   "lease lost", with each node's part.
//!
//! ```no_run
//! # async fn example() -> Result<(), redlease::Error> {
//! use std::time::Duration;
//!
//! let manager = redlease::LockManager::builder()
//!     .servers(["redis://127.0.0.1:7001", "redis://127.0.0.1:7002", "redis://127.0.0.1:7003"])
//!     .ttl(Duration::from_secs(10))
//!     .wait(Duration::from_secs(5))
//!     .build()
//!     .await?;
//!
//! let mut lease = manager.acquire("orders:42").await?;
//! let token = lease.fencing_token(); // hand this to what you write to
//! lease.extend(Duration::from_secs(10)).await?;
//! lease.release().await?;
//! # let _ = token; Ok(()) }
//! ```
//!
//! ## Layout
//!
//! | module | what lives there |
//! |---|---|
//! | [`protocol`] | the pure arithmetic: quorum, drift, validity, vote tally, fencing token, retry delay, key names, owner values |
//! | [`config`] | [`Builder`] options, defaults and validation; URL parsing and password redaction |
//! | `manager` | [`LockManager`]: acquisition attempts, retries, fencing round, status |
//! | `lease` | [`Lease`] and [`LeaseHandle`]: deadline, extend, release, loss signal, release on drop |
//! | `wakeup` | waiters woken by published releases (one subscriber per node), with a timer fallback |
//! | `renewal` | one background task per manager that keeps every kept-alive lease extended |
//! | `node` | one connection per node, per-node timeout, reconnection after breakage or hangs |
//! | `round` | one request to every node at once, answers as they come, stragglers finished in the background |
//! | [`scripts`] | the Lua scripts (`src/scripts/*.lua`) and the parsing of their replies |
//! | [`blocking`] | the same API for code without an async runtime, on a private one-thread runtime |
//! | [`error`] | [`Error`], [`ErrorKind`] and per-node failures |
//!
//! The reasoning behind the protocol is in `docs/protocol.md` of the repository.

#![deny(missing_docs)]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod blocking;
pub mod config;
pub mod error;
mod lease;
mod manager;
mod node;
pub mod protocol;
mod renewal;
mod round;
pub mod scripts;
mod wakeup;

pub use config::{Builder, Renewal};
pub use error::{Error, ErrorKind, LostReason, NodeError, NodeFailure, NodeName};
pub use lease::{Lease, LeaseHandle, LeaseInfo, LeaseState};
pub use manager::{LockManager, NodeStatus, Status};
pub use protocol::RetryPolicy;
/// The Redis client crate redlease is built on (for [`scripts`] reply types).
pub use redis;
pub use renewal::RenewalStats;
