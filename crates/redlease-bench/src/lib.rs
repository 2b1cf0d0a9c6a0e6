//! # redlease-bench: how fast is redlease, next to what it could be?
//!
//! A lock library is only worth its safety checks if they do not cost much. This crate
//! measures redlease on real `redis-server`s (loopback only) and puts every number next to
//! a **floor**: the same lock done with bare redis-rs calls on the same kind of connection
//! (`SET key owner NX PX ttl` on every node at once, a majority of grants, release by
//! `EVALSHA` of a compare-and-delete script). With the `rslock` feature, rslock (the Rust
//! Redlock crate most users would pick instead) runs in the same rounds too.
//!
//! The runner is a library used by this crate's binaries (see [`args::BenchArgs`], a
//! flattenable `clap::Args`). The `redlease` command does not link it: `redlease bench`
//! runs the `redlease-bench` binary as an external tool, so the shipped command stays free
//! of the runner, the floor, the charts and rslock.
//!
//! | module | what lives there |
//! |---|---|
//! | [`options`] | [`Scenario`], [`Options`] and their defaults |
//! | [`args`] | command-line arguments for the runner, shared by the binaries |
//! | [`runner`] | clusters, implementations, interleaved rounds, medians |
//! | [`soak`] | the renewal soak: many kept-alive leases, checked while held |
//! | `workload` | the three scenarios' workers and the critical-section check |
//! | `backend` | one enum over redlease, the floor and rslock |
//! | `floor` | the raw redis-rs lock the others are compared with |
//! | [`report`] | the report, its JSON form and its human table |
//! | [`stats`] | percentiles, medians, shares, log-scaled buckets |
//! | [`svg`] | a hand-written bar chart of the latency distribution |
//! | [`sys`] | CPU time and resident memory from the OS |
//! | [`table`] | plain-text tables |
//!
//! Binaries: `redlease-bench` (the runner; `redlease bench` runs it), `compare` (the runner with rslock; needs the
//! `rslock` feature), `renewal` (10,000 kept-alive leases in one process).

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod args;
mod backend;
mod error;
mod floor;
pub mod options;
mod progress;
pub mod report;
#[cfg(feature = "rslock")]
mod rslock_backend;
pub mod runner;
pub mod servers;
pub mod soak;
pub mod stats;
pub mod svg;
pub mod sys;
pub mod table;
mod workload;

pub use error::BenchError;
pub use options::{FencingMode, Options, Scenario, Tokens};
pub use report::Report;
pub use runner::run;
