//! Throwaway real `redis-server`s for redlease's tests and its `sandbox`
//! command.
//!
//! A distributed lock is only as good as its behaviour when servers die,
//! hang, restart empty or lose their data, and mocks do not hang the way a
//! real server does. This crate starts N real, independent `redis-server`
//! processes on free loopback ports (or unix sockets), waits until each
//! answers `PING`, and lets a test abuse them: [`Node::kill`],
//! [`Node::pause`]/[`Node::resume`] (SIGSTOP/SIGCONT), [`Node::restart`] on
//! the same address with or without the data, [`Node::wipe`].
//!
//! ```no_run
//! use redlease_testkit::{Cluster, ClusterOptions};
//!
//! # fn main() -> std::io::Result<()> {
//! let cluster = Cluster::start(5)?; // all 5 answer PING when this returns
//! let urls: Vec<String> = cluster.urls(); // "redis://127.0.0.1:40123", ...
//! # let _ = urls;
//!
//! cluster.node(0).command(&["SET", "k", "v"])?;
//! assert_eq!(cluster.node(0).command(&["GET", "k"])?, "v");
//!
//! cluster.node(1).kill()?; // down until restarted
//! assert!(cluster.node(1).command(&["PING"]).is_err());
//! cluster.node(1).restart()?; // same URL, empty again
//!
//! cluster.node(2).pause()?; // hangs: connects succeed, nothing answers
//! cluster.node(2).resume()?;
//!
//! let durable = Cluster::start_with(ClusterOptions {
//!     nodes: 1,
//!     persistence: true,
//!     ..Default::default()
//! })?;
//! durable.node(0).command(&["SET", "k", "v"])?;
//! durable.node(0).restart()?; // kill -9 and start again: the key survives
//! # Ok(())
//! # }
//! ```
//!
//! # Network faults and clocks
//!
//! A [`Proxy`] in front of a node (or a [`ProxiedCluster`], one per node)
//! adds latency, black holes, resets and partitions to live connections;
//! [`Cluster::start_with_clock_rates`] runs chosen nodes with a fast or slow
//! clock through libfaketime; [`spawn_owned`] starts helper processes (such
//! as clients to be paused) with the same cleanup guarantee as the servers.
//!
//! ```no_run
//! use std::time::Duration;
//! use redlease_testkit::{Direction, ProxiedCluster};
//!
//! # fn main() -> std::io::Result<()> {
//! let cluster = ProxiedCluster::start(3)?;
//! let urls = cluster.urls(); // the proxies' addresses
//! # let _ = urls;
//! cluster.proxy(0).set_latency(Direction::ToClient, Duration::from_millis(200));
//! cluster.proxy(1).partition(true);
//! cluster.proxy(2).black_hole(Direction::ToServer, true);
//! cluster.heal();
//! cluster.node(0).kill()?; // the node itself, as with a plain Cluster
//! # Ok(())
//! # }
//! ```
//!
//! # Requirements
//!
//! `redis-server` (6 or 7) must be installed: `apt-get install -y
//! redis-server`, or point `REDLEASE_REDIS_SERVER` (or
//! [`ClusterOptions::redis_server`]) at a binary. Fast clocks need
//! libfaketime: `apt-get install -y faketime`.
//!
//! # Cleanup guarantees
//!
//! Every process the kit starts is SIGKILLed by pid and reaped when its
//! [`Cluster`] is dropped, including during a panic's unwinding. Should the
//! owning process itself die (SIGKILL, abort), the servers are killed by the
//! kernel (`PR_SET_PDEATHSIG` on Linux); they are spawned from one internal
//! thread that lives as long as the process, so it does not matter which
//! thread (test thread, async worker) started or restarted a node. The
//! servers run in their own process group, so a terminal's Ctrl-C reaches
//! only the owner, which decides when to drop the cluster. A dropped
//! [`Proxy`] closes its listener, resets its connections and joins its
//! threads.
//!
//! Nothing here is test-only: errors are `std::io::Error`s whose messages
//! name the node and quote the end of its log, and nothing panics except
//! [`Cluster::node`] (and [`ProxiedCluster::node`], [`ProxiedCluster::proxy`])
//! with an out-of-range index.

mod client_clock;
mod clock;
mod cluster;
mod node;
mod owned;
mod process;
mod proxied;
mod proxy;
mod pump;
mod resp;
mod subscriber_gate;

pub use client_clock::wall_clock_offset_env;
pub use clock::{LIBFAKETIME_ENV, libfaketime_path};
pub use cluster::{Cluster, ClusterOptions};
pub use node::{DEFAULT_COMMAND_TIMEOUT, Node};
pub use owned::spawn_owned;
pub use proxied::ProxiedCluster;
pub use proxy::{Direction, MAX_CONNECTIONS, MAX_QUEUED_BYTES, Proxy, ProxyStats};
pub use resp::Reply;
pub use subscriber_gate::{MAX_GATE_CONNECTIONS, SubscriberGate};
