//! A primary with replicas (`replicaof`), the building block of Sentinel
//! setups and of "confirm the write on N replicas" (`WAIT`) tests.
//!
//! A lock whose grant lives on one primary is lost when that primary dies
//! before replicating it and a replica is promoted; the guard against that
//! (`WAIT`) can only be tested against real replication. [`Replicated`]
//! starts a primary and its replicas, each given `--replicaof` on its
//! command line (so a restarted replica follows the primary again), with
//! diskless full syncs that start at once. [`Replicated::wait_for_sync`]
//! waits until every running replica has everything the primary had when
//! it was called.
//!
//! Each server is a [`Node`]: kill, pause and restart work as for a
//! [`Cluster`](crate::Cluster)'s nodes, and everything dies with the
//! [`Replicated`].

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::group::{Group, Settings, Spec};
use crate::node::Node;
use crate::resp::Reply;
use crate::wait;

/// Arguments every replicating server gets: full syncs go over the socket
/// and start immediately (Redis 7's default waits 5 s for more replicas).
pub(crate) const REPLICATION_ARGS: [&str; 4] = [
    "--repl-diskless-sync",
    "yes",
    "--repl-diskless-sync-delay",
    "0",
];

/// How to start a [`Replicated`] set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicatedOptions {
    /// How many replicas of the primary. Default: 2.
    pub replicas: usize,
    /// Extra arguments for every server, after the kit's own. A
    /// `--requirepass` here authenticates the kit's connections; add
    /// `--masterauth` with it so the replicas can sync. Default: none.
    pub extra_args: Vec<String>,
    /// The server binary (default: `REDLEASE_REDIS_SERVER`, else
    /// `redis-server` on `PATH`).
    pub redis_server: Option<PathBuf>,
    /// How long a server may take to answer `PING`. Default: 10 s.
    pub startup_timeout: Duration,
    /// How long [`Replicated::start_with`] waits for the first sync of all
    /// replicas, and [`Replicated::wait_for_sync`] for later ones. Default:
    /// 20 s.
    pub sync_timeout: Duration,
}

impl Default for ReplicatedOptions {
    fn default() -> Self {
        ReplicatedOptions {
            replicas: 2,
            extra_args: Vec::new(),
            redis_server: None,
            startup_timeout: Duration::from_secs(10),
            sync_timeout: Duration::from_secs(20),
        }
    }
}

/// A primary (node 0) and its replicas (nodes 1..), all on loopback; see
/// the [crate docs](crate). Dropping it kills every server by pid.
pub struct Replicated {
    group: Group,
    sync_timeout: Duration,
}

impl Replicated {
    /// A primary with `replicas` replicas, default options; returns once
    /// every replica is in sync.
    pub fn start(replicas: usize) -> io::Result<Replicated> {
        Replicated::start_with(ReplicatedOptions {
            replicas,
            ..Default::default()
        })
    }

    /// Starts the set as `options` says; returns once every replica is in
    /// sync. On error nothing is left running.
    pub fn start_with(options: ReplicatedOptions) -> io::Result<Replicated> {
        let settings = Settings {
            redis_server: options.redis_server.clone(),
            extra_args: options.extra_args.clone(),
            startup_timeout: options.startup_timeout,
        };
        let group = Group::start(&settings, options.replicas + 1, 1, |index, ports, _| {
            let mut args: Vec<String> = REPLICATION_ARGS.iter().map(|a| a.to_string()).collect();
            if index > 0 {
                args.extend([
                    "--replicaof".into(),
                    "127.0.0.1".into(),
                    ports[0][0].to_string(),
                ]);
            }
            Spec {
                args,
                ..Spec::default()
            }
        })?;
        let set = Replicated {
            group,
            sync_timeout: options.sync_timeout,
        };
        set.wait_for_sync()?;
        Ok(set)
    }

    /// The server started as the primary (node 0). After a failover
    /// (see [`Sentinels`](crate::Sentinels)) another node may be the
    /// primary: [`Replicated::current_primary`] asks them.
    pub fn primary(&self) -> &Node {
        &self.group.nodes[0]
    }

    /// The servers started as replicas.
    pub fn replicas(&self) -> &[Node] {
        &self.group.nodes[1..]
    }

    /// All servers: the primary first.
    pub fn nodes(&self) -> &[Node] {
        &self.group.nodes
    }

    /// Node `index` (0 is the first primary).
    ///
    /// # Panics
    ///
    /// If `index >= self.nodes().len()`.
    pub fn node(&self, index: usize) -> &Node {
        &self.group.nodes[index]
    }

    /// Every server's URL (`redis://127.0.0.1:PORT`), primary first.
    pub fn urls(&self) -> Vec<String> {
        self.group.nodes.iter().map(Node::url).collect()
    }

    /// The node with TCP port `port`, if it is one of ours.
    pub fn node_by_port(&self, port: u16) -> Option<&Node> {
        self.group.by_port(port)
    }

    /// The one running server whose `ROLE` is `master`. Fails if none or
    /// more than one is (during a failover, say).
    pub fn current_primary(&self) -> io::Result<&Node> {
        let masters: Vec<&Node> = self
            .group
            .nodes
            .iter()
            .filter(|node| node.is_running() && is_master(node))
            .collect();
        match masters.as_slice() {
            [one] => Ok(one),
            others => Err(io::Error::other(format!(
                "expected exactly one running primary, found {}",
                others.len()
            ))),
        }
    }

    /// Waits until every running replica follows the current primary with
    /// its link up and has replicated everything the primary had written
    /// when this was called (its offset has reached the primary's), for at
    /// most the options' `sync_timeout`.
    pub fn wait_for_sync(&self) -> io::Result<()> {
        self.wait_for_sync_within(self.sync_timeout)
    }

    /// [`Replicated::wait_for_sync`], for at most `limit` instead of the
    /// options' `sync_timeout` (e.g. to check that a wait is bounded without
    /// also bounding the first sync at start).
    pub fn wait_for_sync_within(&self, limit: Duration) -> io::Result<()> {
        let primary = wait::until(limit, "one running primary", || {
            self.current_primary().map_err(|e| e.to_string())
        })?;
        let target = info_number(primary, "master_repl_offset")?;
        let port = primary.port().unwrap_or_default().to_string();
        for replica in self.group.nodes.iter() {
            if std::ptr::eq(replica, primary) || !replica.is_running() {
                continue;
            }
            let what = format!(
                "{} to replicate {} up to offset {target}",
                replica.url(),
                primary.url()
            );
            wait::until(limit, &what, || {
                let info = replication_info(replica).map_err(|e| e.to_string())?;
                let field = |name| info_field(&info, name).unwrap_or("?").to_string();
                let (master_port, link) = (field("master_port"), field("master_link_status"));
                let offset: i64 = field("slave_repl_offset").parse().unwrap_or(-1);
                if master_port == port && link == "up" && offset >= target {
                    Ok(())
                } else {
                    Err(format!(
                        "master_port:{master_port} master_link_status:{link} slave_repl_offset:{offset}"
                    ))
                }
            })?;
        }
        Ok(())
    }

    /// The temporary directory of the set, deleted on drop.
    pub fn dir(&self) -> &Path {
        &self.group.dir
    }
}

impl fmt::Debug for Replicated {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Replicated")
            .field("nodes", &self.group.nodes)
            .finish()
    }
}

/// Whether `node` answers `ROLE` with `master`.
pub(crate) fn is_master(node: &Node) -> bool {
    matches!(
        node.query_with_timeout(&["ROLE"], PROBE_TIMEOUT),
        Ok(Reply::Array(items)) if items.first() == Some(&Reply::Bulk(b"master".to_vec()))
    )
}

/// How long one probe of a server may take: a paused server must not hold
/// up a bounded wait for long.
pub(crate) const PROBE_TIMEOUT: Duration = Duration::from_secs(1);

/// `INFO replication` of `node`, as text.
fn replication_info(node: &Node) -> io::Result<String> {
    node.command_with_timeout(&["INFO", "replication"], PROBE_TIMEOUT)
}

/// A numeric field of `INFO replication`.
fn info_number(node: &Node, name: &str) -> io::Result<i64> {
    let info = replication_info(node)?;
    info_field(&info, name)
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| {
            io::Error::other(format!(
                "{}: no numeric {name} in INFO replication",
                node.url()
            ))
        })
}

/// The value of `name:value` in an `INFO` text.
pub(crate) fn info_field<'a>(info: &'a str, name: &str) -> Option<&'a str> {
    info.lines()
        .filter_map(|line| line.trim().split_once(':'))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_info_fields() {
        let info = "# Replication\r\nrole:slave\r\nmaster_port:6379\r\nslave_repl_offset:42\r\n";
        assert_eq!(info_field(info, "master_port"), Some("6379"));
        assert_eq!(info_field(info, "slave_repl_offset"), Some("42"));
        assert_eq!(info_field(info, "master"), None);
    }
}
