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
//! let token = lease.fencing_token().await?; // hand this to what you write to
//! lease.extend(Duration::from_secs(10)).await?;
//! lease.release().await?;
//! # let _ = token; Ok(()) }
//! ```
//!
//! ## Layout
//!
//! Dependencies point one way, down this table: each module uses only those below it.
//!
//! | module | what lives there |
//! |---|---|
//! | [`blocking`] | the same API for code without an async runtime, on a private one-thread runtime |
//! | `manager` | [`LockManager`]: the facade that hands each call to the modules below |
//! | `admin` | status, delayed-restart markers, extend and release by owner value |
//! | `acquire` | the retry loop and the I/O of one attempt; decisions from [`protocol::attempt`] |
//! | `handoff` | a lease won by hand-off in one round: the grants published by releases, counted; decisions from [`protocol::handoff`] |
//! | `lease` | [`Lease`] and [`LeaseHandle`]: deadline, extend round, the fencing token minted on demand, release, loss signal |
//! | `renewal` | one background task per manager that keeps every kept-alive lease extended |
//! | `release` | releasing on many nodes: a lease's release, a failed attempt's clean-up |
//! | `batch` | renewal's extends gathered per node into one script call |
//! | `round` | one operation sent to every node at once, answers as they come, stragglers in the background |
//! | `cluster` | the nodes and what every operation on them shares |
//! | `contention` | which resources this process saw contended lately: who takes the quick requests |
//! | `minting` | which resources' leases were asked for their tokens lately: where the next token is minted |
//! | `wakeup` | waiters woken by published releases (one subscriber per node), and the grants published for them |
//! | `node` | one connection per node whatever its kind (standalone, Sentinel, Cluster), per-node timeout, reconnection, `min_replicas`, checks at connect, what this client knows of the node's delayed-restart marker |
//! | `background` | work left running in the background (a round's stragglers in one task per manager), counted for [`LockManager::flush`] |
//! | [`ops`] | one file per node operation: the typed request, its `.lua` script, the reply's parsing; the quick forms (plain commands, a lean release) where the lock is expected free |
//! | [`config`] | [`Builder`] options, defaults and validation; URL parsing and password redaction |
//! | [`protocol`] | the pure decisions: quorum, drift, validity, fencing token (at acquisition and on demand), attempt, hand-off grants, extend, renewal, delayed restart, retry delays |
//! | [`error`] | [`Error`] with its [`ErrorKind`], and per-node failures |
//!
//! The reasoning behind the protocol is in `docs/protocol.md` of the repository.

#![deny(missing_docs)]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

mod acquire;
mod admin;
mod background;
mod batch;
pub mod blocking;
mod cluster;
pub mod config;
mod contention;
pub mod error;
mod handoff;
mod lease;
mod manager;
mod minting;
mod node;
pub mod ops;
pub mod protocol;
mod release;
mod renewal;
mod round;
mod wakeup;

pub use admin::{Listing, Markers, NodeStatus, Status};
pub use config::NodeKind;
pub use config::{Builder, Renewal};
pub use error::{AuthProblem, Error, ErrorKind, LostReason, NodeError, NodeFailure, NodeName};
pub use lease::{Lease, LeaseHandle, LeaseInfo, LeaseState, MAX_HOLDER_INFO};
pub use manager::LockManager;
pub use node::checks::NodeCheck;
pub use protocol::RetryPolicy;
/// The Redis client crate redlease is built on (for [`ops`] reply types).
pub use redis;
pub use renewal::RenewalStats;
