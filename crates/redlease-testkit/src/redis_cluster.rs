//! A real Redis Cluster (cluster mode, hash slots, automatic failover), made
//! with `redis-cli --cluster create`.
//!
//! Much of production Redis is a Cluster: keys live on the primary that owns
//! their hash slot, clients follow `MOVED`/`ASK` redirections, and when a
//! primary dies one of its replicas is elected in its place. A lock on a
//! Cluster has to survive exactly that, so the kit starts one for real:
//! M primaries (one or more: a single-shard cluster is a valid lock node)
//! and R replicas of each, all on loopback, with a short
//! `cluster-node-timeout` (1 s by default) so a failover takes a few
//! seconds, not fifteen. [`RedisCluster::fail_over_primary_of`] kills the
//! primary owning a key's slot by pid and waits until a replica has taken
//! over and every node says `cluster_state:ok` again.
//!
//! Each server is a [`Node`] (kill, pause, restart as usual; a restarted
//! node keeps its `nodes.conf`, kept outside its data directory, so it
//! rejoins the cluster, as a replica if it was failed over). Each node's
//! cluster bus port is picked free too (`--cluster-port`), and everything
//! is killed by pid when the [`RedisCluster`] is dropped.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::cluster_create::{self, SLOTS};
use crate::cluster_nodes::{self, Entry};
use crate::group::{Group, Settings, Spec};
use crate::node::Node;
use crate::replicated::{PROBE_TIMEOUT, REPLICATION_ARGS, info_field};
use crate::wait;

/// Environment variable naming the `redis-cli` binary (default:
/// `redis-cli` on `PATH`).
pub const REDIS_CLI_ENV: &str = "REDLEASE_REDIS_CLI";

/// How to start a [`RedisCluster`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisClusterOptions {
    /// How many primaries (shards). Default 3; at least 1 (3 or more are
    /// formed by `redis-cli --cluster create`, fewer by the same commands
    /// sent by the kit, since redis-cli refuses them); failovers need 3.
    pub primaries: usize,
    /// How many replicas of each primary. Default 0; failovers need 1.
    pub replicas_per_primary: usize,
    /// `cluster-node-timeout`: how long a node may be unreachable before it
    /// counts as failing. Default 1 s.
    pub node_timeout: Duration,
    /// Extra arguments for every server, after the kit's own. Default: none.
    pub extra_args: Vec<String>,
    /// The server binary (default: `REDLEASE_REDIS_SERVER`, else
    /// `redis-server` on `PATH`).
    pub redis_server: Option<PathBuf>,
    /// The `redis-cli` binary (default: [`REDIS_CLI_ENV`], else `redis-cli`
    /// on `PATH`).
    pub redis_cli: Option<PathBuf>,
    /// How long a server may take to answer `PING`. Default 10 s.
    pub startup_timeout: Duration,
    /// How long creating the cluster (and waiting until it is ok) may take,
    /// and how long [`RedisCluster::fail_over_primary_of`] waits. Default 20 s.
    pub ready_timeout: Duration,
}

impl Default for RedisClusterOptions {
    fn default() -> Self {
        RedisClusterOptions {
            primaries: 3,
            replicas_per_primary: 0,
            node_timeout: Duration::from_secs(1),
            extra_args: Vec::new(),
            redis_server: None,
            redis_cli: None,
            startup_timeout: Duration::from_secs(10),
            ready_timeout: Duration::from_secs(20),
        }
    }
}

/// A running Redis Cluster; see the [crate docs](crate).
pub struct RedisCluster {
    group: Group,
    options: RedisClusterOptions,
}

impl RedisCluster {
    /// A cluster of `primaries` primaries with `replicas_per_primary`
    /// replicas each, default options. Returns once it is ok on every node.
    pub fn start(primaries: usize, replicas_per_primary: usize) -> io::Result<RedisCluster> {
        RedisCluster::start_with(RedisClusterOptions {
            primaries,
            replicas_per_primary,
            ..Default::default()
        })
    }

    /// Starts the servers, runs `redis-cli --cluster create` and waits until
    /// every node reports `cluster_state:ok` and knows every other. On
    /// error nothing is left running.
    pub fn start_with(options: RedisClusterOptions) -> io::Result<RedisCluster> {
        if options.primaries == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a Redis Cluster needs at least 1 primary, not 0",
            ));
        }
        let timeout_ms = options.node_timeout.as_millis().max(1).to_string();
        let settings = Settings {
            redis_server: options.redis_server.clone(),
            extra_args: options.extra_args.clone(),
            startup_timeout: options.startup_timeout,
        };
        let total = options.primaries * (1 + options.replicas_per_primary);
        let group = Group::start(&settings, total, 2, |index, ports, dir| {
            let mut args: Vec<String> = REPLICATION_ARGS.iter().map(|a| a.to_string()).collect();
            let config = dir.join(format!("nodes-{index}.conf"));
            args.extend([
                "--cluster-enabled".into(),
                "yes".into(),
                "--cluster-config-file".into(),
                config.display().to_string(),
                "--cluster-port".into(),
                ports[index][1].to_string(),
                "--cluster-node-timeout".into(),
                timeout_ms.clone(),
                // Replicas take over however long they were cut off, and
                // stay with their primary: predictable topologies.
                "--cluster-replica-validity-factor".into(),
                "0".into(),
                "--cluster-allow-replica-migration".into(),
                "no".into(),
            ]);
            Spec {
                args,
                ..Spec::default()
            }
        })?;
        let cluster = RedisCluster { group, options };
        cluster_create::create(&cluster.group, &cluster.options)?;
        cluster.wait_until_ok()?;
        Ok(cluster)
    }

    /// Every node's URL (`redis://127.0.0.1:PORT`), usable as seeds.
    pub fn urls(&self) -> Vec<String> {
        self.group.nodes.iter().map(Node::url).collect()
    }

    /// `redis+cluster://127.0.0.1:P1,127.0.0.1:P2,...` with every node as
    /// a seed.
    pub fn cluster_url(&self) -> String {
        let seeds: Vec<String> = self
            .group
            .nodes
            .iter()
            .filter_map(Node::port)
            .map(|port| format!("127.0.0.1:{port}"))
            .collect();
        format!("redis+cluster://{}", seeds.join(","))
    }

    /// All nodes, primaries and replicas, in start order.
    pub fn nodes(&self) -> &[Node] {
        &self.group.nodes
    }

    /// Node `index`.
    ///
    /// # Panics
    ///
    /// If `index >= self.nodes().len()`.
    pub fn node(&self, index: usize) -> &Node {
        &self.group.nodes[index]
    }

    /// The node with TCP port `port`, if it is one of ours.
    pub fn node_by_port(&self, port: u16) -> Option<&Node> {
        self.group.by_port(port)
    }

    /// The options the cluster was started with.
    pub fn options(&self) -> &RedisClusterOptions {
        &self.options
    }

    /// The temporary directory of the cluster, deleted on drop.
    pub fn dir(&self) -> &Path {
        &self.group.dir
    }

    /// The hash slot of `key` (`CLUSTER KEYSLOT`, asked of a running node).
    pub fn slot_of(&self, key: &str) -> io::Result<u16> {
        let mut last = None;
        for node in self.running() {
            match node.command_with_timeout(&["CLUSTER", "KEYSLOT", key], PROBE_TIMEOUT) {
                Ok(slot) => {
                    return slot.parse().map_err(|_| {
                        io::Error::other(format!("CLUSTER KEYSLOT replied {slot:?}"))
                    });
                }
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(no_running_node))
    }

    /// The running primary that serves `key`'s slot, as the running nodes
    /// see it.
    pub fn primary_of(&self, key: &str) -> io::Result<&Node> {
        let slot = self.slot_of(key)?;
        self.primary_of_slot(slot).map_err(io::Error::other)
    }

    /// The running primaries (nodes serving slots), in start order.
    pub fn primaries(&self) -> io::Result<Vec<&Node>> {
        let view = self.view().map_err(io::Error::other)?;
        Ok(self
            .running()
            .filter(|node| {
                view.iter()
                    .any(|e| Some(e.port) == node.port() && e.is_primary() && !e.slots.is_empty())
            })
            .collect())
    }

    /// Kills (by pid) the primary serving `key`'s slot and waits until one
    /// of its replicas has been promoted and the cluster is ok again on
    /// every running node; returns the new primary. Needs at least one
    /// replica per primary. Bounded by the options' `ready_timeout`.
    pub fn fail_over_primary_of(&self, key: &str) -> io::Result<&Node> {
        if self.options.replicas_per_primary == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "no replica to promote: start the cluster with replicas_per_primary of at least 1",
            ));
        }
        if self.options.primaries < 3 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "a failover needs a majority of primaries to vote after one dies: start the cluster with at least 3 primaries, not {}",
                    self.options.primaries
                ),
            ));
        }
        let slot = self.slot_of(key)?;
        let old = self.primary_of_slot(slot).map_err(io::Error::other)?;
        old.kill()?;
        let what = format!("a replica of {} to take over slot {slot}", old.url());
        wait::until(self.options.ready_timeout, &what, || {
            self.check()?;
            self.primary_of_slot(slot)
        })
        .map_err(|e| io::Error::new(e.kind(), format!("{e}{}", self.log_tails())))
    }

    /// Waits (up to the options' `ready_timeout`) until every running node
    /// reports `cluster_state:ok`, knows every other node, sees every
    /// running node as healthy, sees all slots served by running primaries,
    /// and every running replica's link to its primary is up.
    pub fn wait_until_ok(&self) -> io::Result<()> {
        wait::until(self.options.ready_timeout, "the cluster to be ok", || {
            self.check()
        })
        .map_err(|e| io::Error::new(e.kind(), format!("{e}{}", self.log_tails())))
    }

    // ---- private ---------------------------------------------------------

    fn running(&self) -> impl Iterator<Item = &Node> {
        self.group.nodes.iter().filter(|node| node.is_running())
    }

    /// `CLUSTER NODES` as the first running node that answers sees it.
    fn view(&self) -> Result<Vec<Entry>, String> {
        let mut last = String::from("no node is running");
        for node in self.running() {
            match node.command_with_timeout(&["CLUSTER", "NODES"], PROBE_TIMEOUT) {
                Ok(text) => return cluster_nodes::parse(&text),
                Err(e) => last = e.to_string(),
            }
        }
        Err(last)
    }

    fn primary_of_slot(&self, slot: u16) -> Result<&Node, String> {
        let view = self.view()?;
        let owner = view
            .iter()
            .find(|e| e.is_primary() && e.serves(slot))
            .ok_or_else(|| format!("no primary serves slot {slot}"))?;
        self.running()
            .find(|node| node.port() == Some(owner.port))
            .ok_or_else(|| {
                format!(
                    "slot {slot} is still served by 127.0.0.1:{}, which is down",
                    owner.port
                )
            })
    }

    /// `Ok` when the cluster is healthy (see [`RedisCluster::wait_until_ok`]),
    /// else what is wrong.
    fn check(&self) -> Result<(), String> {
        let total = self.group.nodes.len();
        let running: Vec<u16> = self.running().filter_map(Node::port).collect();
        for node in self.running() {
            let url = node.url();
            let info = node
                .command_with_timeout(&["CLUSTER", "INFO"], PROBE_TIMEOUT)
                .map_err(|e| e.to_string())?;
            let state = info_field(&info, "cluster_state").unwrap_or("?");
            if state != "ok" {
                return Err(format!("{url}: cluster_state:{state}"));
            }
            let text = node
                .command_with_timeout(&["CLUSTER", "NODES"], PROBE_TIMEOUT)
                .map_err(|e| e.to_string())?;
            let view = cluster_nodes::parse(&text)?;
            if view.len() != total {
                return Err(format!("{url} knows {} of {total} nodes", view.len()));
            }
            let live = |e: &&Entry| running.contains(&e.port);
            if let Some(sick) = view.iter().filter(live).find(|e| e.is_unhealthy()) {
                return Err(format!(
                    "{url} sees 127.0.0.1:{} as {}",
                    sick.port,
                    sick.flags.join(",")
                ));
            }
            let served: u32 = view
                .iter()
                .filter(live)
                .filter(|e| e.is_primary())
                .flat_map(|e| &e.slots)
                .map(|&(lo, hi)| u32::from(hi) - u32::from(lo) + 1)
                .sum();
            if served != SLOTS {
                return Err(format!(
                    "{url} sees {served} of {SLOTS} slots served by running primaries"
                ));
            }
            let me = view
                .iter()
                .find(|e| e.is_myself())
                .ok_or("no myself entry")?;
            if !me.is_primary() {
                let replication = node
                    .command_with_timeout(&["INFO", "replication"], PROBE_TIMEOUT)
                    .map_err(|e| e.to_string())?;
                let link = info_field(&replication, "master_link_status").unwrap_or("?");
                if link != "up" {
                    return Err(format!("{url}: master_link_status:{link}"));
                }
            }
        }
        Ok(())
    }

    fn log_tails(&self) -> String {
        self.group
            .nodes
            .iter()
            .map(|node| node.log_tail(5))
            .collect()
    }
}

fn no_running_node() -> io::Error {
    io::Error::new(
        io::ErrorKind::NotConnected,
        "no node of the cluster is running",
    )
}

impl fmt::Debug for RedisCluster {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisCluster")
            .field("nodes", &self.group.nodes)
            .finish()
    }
}
