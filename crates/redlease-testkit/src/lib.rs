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
//! # Replicas, Sentinel, Redis Cluster, TLS and ACLs
//!
//! Production Redis is rarely one standalone master, so the kit also starts
//! the other setups for real, with the same cleanup guarantees:
//! [`Replicated`] (a primary with `replicaof` replicas and
//! [`Replicated::wait_for_sync`]), [`Sentinels`] (3 sentinels, quorum 2,
//! watching a named service, and [`Sentinels::kill_primary_and_wait_failover`]),
//! [`RedisCluster`] (cluster mode, made with `redis-cli --cluster create`,
//! and [`RedisCluster::fail_over_primary_of`]), [`TlsServer`] (TLS only,
//! with a throwaway CA from [`TlsCerts`]) and ACL users
//! ([`acl_user_args`], [`Node::acl_setuser`], [`Node::command_as`]). Their
//! servers are [`Node`]s: kill, pause and restart work as above. Every wait
//! is bounded and says what it saw last when it gives up.
//!
//! ```no_run
//! use redlease_testkit::{RedisCluster, Sentinels, TlsServer};
//!
//! # fn main() -> std::io::Result<()> {
//! let cluster = RedisCluster::start(3, 1)?; // 3 shards, 1 replica each, cluster_state:ok
//! let seeds: Vec<String> = cluster.urls(); // or cluster.cluster_url(): "redis+cluster://..."
//! # let _ = seeds;
//! cluster.primary_of("{lease}k")?.command(&["SET", "{lease}k", "v"])?;
//! let promoted = cluster.fail_over_primary_of("{lease}k")?; // kill -9, wait for the replica
//! assert_eq!(promoted.command(&["GET", "{lease}k"])?, "v");
//!
//! let sentinels = Sentinels::start()?; // service "redlease": primary, 2 replicas, 3 sentinels
//! let url = sentinels.sentinel_url(); // "redis+sentinel://127.0.0.1:P1,.../redlease"
//! # let _ = url;
//! let new_primary = sentinels.kill_primary_and_wait_failover()?;
//! assert_eq!(sentinels.primary_addr()?, format!("127.0.0.1:{}", new_primary.port().unwrap_or(0)));
//!
//! let tls = TlsServer::start()?; // tls.url(): "rediss://127.0.0.1:P"
//! let ca = tls.certs().ca_cert(); // what a client must trust
//! # let _ = ca;
//! # Ok(())
//! # }
//! ```
//!
//! # The workload
//!
//! [`workload`] is the one critical section every part of redlease checks a lock with: a
//! racy counter (on a Redis key or in memory) with overlap detection and the fencing-token
//! order check, a counter that checks fencing tokens itself ([`workload::FencedCounter`]),
//! and latency percentiles ([`workload::Latencies`]).
//!
//! # Requirements
//!
//! `redis-server` (6 or 7) must be installed: `apt-get install -y
//! redis-server`, or point `REDLEASE_REDIS_SERVER` (or
//! [`ClusterOptions::redis_server`]) at a binary. Fast clocks need
//! libfaketime: `apt-get install -y faketime`. [`RedisCluster`] runs
//! `redis-cli` (installed with redis-server; or [`REDIS_CLI_ENV`]),
//! [`TlsServer`] needs a redis-server built with TLS (Debian's is) and
//! `openssl` (or [`OPENSSL_ENV`]).
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

mod acl;
mod certs;
mod client_clock;
mod clock;
mod cluster;
mod cluster_create;
mod cluster_nodes;
mod fenced;
mod group;
mod node;
mod owned;
mod process;
mod proxied;
mod proxy;
mod pump;
mod redis_cluster;
mod replicated;
mod resp;
mod sentinel;
mod tls;
mod tool;
mod wait;
pub mod workload;

pub use acl::acl_user_args;
pub use certs::{OPENSSL_ENV, TlsCerts};

pub use client_clock::wall_clock_offset_env;
pub use clock::{LIBFAKETIME_ENV, libfaketime_path};
pub use cluster::{Cluster, ClusterOptions};
pub use node::{DEFAULT_COMMAND_TIMEOUT, Node};
pub use owned::spawn_owned;
pub use proxied::ProxiedCluster;
pub use proxy::{Direction, MAX_CONNECTIONS, MAX_QUEUED_BYTES, Proxy, ProxyStats};
pub use redis_cluster::{REDIS_CLI_ENV, RedisCluster, RedisClusterOptions};
pub use replicated::{Replicated, ReplicatedOptions};
pub use resp::Reply;
pub use sentinel::{SentinelOptions, Sentinels};
pub use tls::{TlsOptions, TlsServer};
