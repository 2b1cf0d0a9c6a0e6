//! Redis Sentinel: a primary with replicas watched by sentinels that
//! promote a replica when the primary dies.
//!
//! The most common highly available Redis is a primary and replicas behind
//! Sentinel; clients ask the sentinels where the primary of a named service
//! is and follow it across failovers. A lock there loses its grant if the
//! primary dies before replicating it, which only a real failover shows.
//! [`Sentinels`] starts a [`Replicated`] set and N sentinel processes
//! (`redis-server FILE --sentinel`, 3 with quorum 2 by default) with short
//! `down-after-milliseconds` (1 s) and `failover-timeout` (3 s), and
//! returns once every sentinel knows the replicas and the other sentinels,
//! so a failover can happen at once.
//! [`Sentinels::kill_primary_and_wait_failover`] kills the primary by pid
//! and returns the promoted replica once a majority of the sentinels report
//! it and it answers `ROLE` as master.
//!
//! A sentinel rewrites its configuration file, so each gets its own, in the
//! set's temporary directory (outside the node's data directory, so a
//! restarted sentinel keeps what it learnt). Everything listens on
//! 127.0.0.1 and the sentinels announce that address; nothing resolves host
//! names. Every process is a [`Node`], killed by pid on drop.

use std::fmt;
use std::io;
use std::path::PathBuf;
use std::time::Duration;

use crate::group::{Group, Settings, Spec};
use crate::node::Node;
use crate::replicated::{PROBE_TIMEOUT, Replicated, ReplicatedOptions, is_master};
use crate::resp::Reply;
use crate::wait;

/// How to start [`Sentinels`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentinelOptions {
    /// The monitored service's name (no spaces). Default `redlease`.
    pub service: String,
    /// Replicas of the primary. Default 2.
    pub replicas: usize,
    /// Sentinel processes. Default 3.
    pub sentinels: usize,
    /// Sentinels that must agree the primary is down. Default 2.
    pub quorum: usize,
    /// `down-after-milliseconds`. Default 1 s.
    pub down_after: Duration,
    /// `failover-timeout` (a failed election is retried after twice this).
    /// Default 3 s.
    pub failover_timeout: Duration,
    /// Extra arguments for the data servers (not the sentinels).
    pub extra_args: Vec<String>,
    /// A password the sentinels themselves require (`requirepass`; they use it with
    /// each other too, `sentinel sentinel-pass`). The kit's own queries send it. Default
    /// none.
    pub sentinel_password: Option<String>,
    /// The server binary, also run as sentinel (default:
    /// `REDLEASE_REDIS_SERVER`, else `redis-server` on `PATH`).
    pub redis_server: Option<PathBuf>,
    /// How long a server may take to answer `PING`. Default 10 s.
    pub startup_timeout: Duration,
    /// How long starting (sync, discovery) and a failover may take.
    /// Default 20 s.
    pub ready_timeout: Duration,
}

impl Default for SentinelOptions {
    fn default() -> Self {
        SentinelOptions {
            service: "redlease".into(),
            replicas: 2,
            sentinels: 3,
            quorum: 2,
            down_after: Duration::from_secs(1),
            failover_timeout: Duration::from_secs(3),
            extra_args: Vec::new(),
            sentinel_password: None,
            redis_server: None,
            startup_timeout: Duration::from_secs(10),
            ready_timeout: Duration::from_secs(20),
        }
    }
}

/// A primary, its replicas and the sentinels watching them; see the
/// [crate docs](crate).
pub struct Sentinels {
    servers: Replicated,
    sentinels: Group,
    options: SentinelOptions,
}

impl Sentinels {
    /// Default options: a primary, 2 replicas, 3 sentinels with quorum 2.
    pub fn start() -> io::Result<Sentinels> {
        Sentinels::start_with(SentinelOptions::default())
    }

    /// Starts the servers, then the sentinels; returns once every sentinel
    /// knows all replicas and all other sentinels. On error nothing is left
    /// running.
    pub fn start_with(options: SentinelOptions) -> io::Result<Sentinels> {
        let invalid = |what: String| Err(io::Error::new(io::ErrorKind::InvalidInput, what));
        if options.service.is_empty() || options.service.contains(char::is_whitespace) {
            return invalid(format!(
                "sentinel service name {:?} must be non-empty and without spaces",
                options.service
            ));
        }
        if options.quorum == 0 || options.quorum > options.sentinels {
            return invalid(format!(
                "sentinel quorum {} must be between 1 and the number of sentinels ({})",
                options.quorum, options.sentinels
            ));
        }
        let servers = Replicated::start_with(ReplicatedOptions {
            replicas: options.replicas,
            extra_args: options.extra_args.clone(),
            redis_server: options.redis_server.clone(),
            startup_timeout: options.startup_timeout,
            sync_timeout: options.ready_timeout,
        })?;
        let primary_port = servers.primary().port().unwrap_or_default();
        let settings = Settings {
            redis_server: options.redis_server.clone(),
            extra_args: match &options.sentinel_password {
                Some(password) => vec!["--requirepass".into(), password.clone()],
                None => Vec::new(),
            },
            startup_timeout: options.startup_timeout,
        };
        let config = config_file(&options, primary_port);
        let sentinels = Group::start(&settings, options.sentinels, 1, |index, _, _| Spec {
            args: vec!["--sentinel".into()],
            config: Some((format!("sentinel-{index}.conf"), config.clone())),
            ..Spec::default()
        })?;
        let set = Sentinels {
            servers,
            sentinels,
            options,
        };
        set.wait_for_discovery()?;
        Ok(set)
    }

    /// The monitored service's name.
    pub fn service(&self) -> &str {
        &self.options.service
    }

    /// The sentinels' addresses, `127.0.0.1:PORT`.
    pub fn sentinel_addrs(&self) -> Vec<String> {
        self.sentinels
            .nodes
            .iter()
            .filter_map(Node::port)
            .map(|port| format!("127.0.0.1:{port}"))
            .collect()
    }

    /// `redis+sentinel://127.0.0.1:P1,127.0.0.1:P2,.../SERVICE`.
    pub fn sentinel_url(&self) -> String {
        format!(
            "redis+sentinel://{}/{}",
            self.sentinel_addrs().join(","),
            self.options.service
        )
    }

    /// The sentinel processes (kill or pause one like any node).
    pub fn sentinels(&self) -> &[Node] {
        &self.sentinels.nodes
    }

    /// The watched primary and replicas.
    pub fn servers(&self) -> &Replicated {
        &self.servers
    }

    /// The options the set was started with.
    pub fn options(&self) -> &SentinelOptions {
        &self.options
    }

    /// The primary's address (`127.0.0.1:PORT`) as most running sentinels
    /// report it (`SENTINEL get-master-addr-by-name`).
    pub fn primary_addr(&self) -> io::Result<String> {
        let reports = self.reports();
        let mut best: Option<(&u16, usize)> = None;
        for port in &reports {
            let votes = reports.iter().filter(|p| *p == port).count();
            if best.is_none_or(|(_, most)| votes > most) {
                best = Some((port, votes));
            }
        }
        best.map(|(port, _)| format!("127.0.0.1:{port}"))
            .ok_or_else(|| io::Error::other("no sentinel answered get-master-addr-by-name"))
    }

    /// Kills the primary the sentinels report, by pid, and waits until a
    /// majority of the running sentinels report another server as primary
    /// and that server answers `ROLE` as master; returns it. The other
    /// replicas are re-pointed by the sentinels afterwards:
    /// [`Replicated::wait_for_sync`] waits for that. Bounded by the options'
    /// `ready_timeout`.
    pub fn kill_primary_and_wait_failover(&self) -> io::Result<&Node> {
        let old_addr = self.primary_addr()?;
        let old = self.node_at(&old_addr)?;
        old.kill()?;
        let what = format!("the sentinels to promote a replica of {old_addr}");
        wait::until(self.options.ready_timeout, &what, || {
            let reports = self.reports();
            let majority = self.sentinels().iter().filter(|s| s.is_running()).count() / 2 + 1;
            let new = reports
                .iter()
                .find(|&&port| {
                    Some(port) != old.port()
                        && reports.iter().filter(|&&p| p == port).count() >= majority
                })
                .ok_or_else(|| format!("sentinels report primary ports {reports:?}"))?;
            let node = self
                .servers
                .node_by_port(*new)
                .ok_or_else(|| format!("sentinels report unknown port {new}"))?;
            if is_master(node) {
                Ok(node)
            } else {
                Err(format!(
                    "127.0.0.1:{new} does not answer ROLE as master yet"
                ))
            }
        })
        .map_err(|e| io::Error::new(e.kind(), format!("{e}{}", self.sentinel_logs())))
    }

    // ---- private ---------------------------------------------------------

    fn node_at(&self, addr: &str) -> io::Result<&Node> {
        addr.rsplit_once(':')
            .and_then(|(_, port)| port.parse().ok())
            .and_then(|port| self.servers.node_by_port(port))
            .ok_or_else(|| {
                io::Error::other(format!("the sentinels report {addr}, which is not ours"))
            })
    }

    /// The primary port each running sentinel reports.
    fn reports(&self) -> Vec<u16> {
        let service = self.options.service.as_str();
        let args = ["SENTINEL", "get-master-addr-by-name", service];
        self.sentinels
            .nodes
            .iter()
            .filter(|s| s.is_running())
            .filter_map(|s| match s.query_with_timeout(&args, PROBE_TIMEOUT) {
                Ok(Reply::Array(items)) => match items.get(1) {
                    Some(Reply::Bulk(port)) => std::str::from_utf8(port).ok()?.parse().ok(),
                    _ => None,
                },
                _ => None,
            })
            .collect()
    }

    /// Waits until every sentinel sees the primary as up and knows every
    /// replica and every other sentinel.
    fn wait_for_discovery(&self) -> io::Result<()> {
        let replicas = self.options.replicas.to_string();
        let others = (self.options.sentinels - 1).to_string();
        let service = self.options.service.as_str();
        wait::until(
            self.options.ready_timeout,
            "the sentinels to discover each other and the replicas",
            || {
                for sentinel in self.sentinels() {
                    let reply = sentinel
                        .query_with_timeout(&["SENTINEL", "MASTER", service], PROBE_TIMEOUT)
                        .map_err(|e| e.to_string())?;
                    let field = |name: &str| field(&reply, name).unwrap_or_default();
                    let (flags, seen, peers) = (
                        field("flags"),
                        field("num-slaves"),
                        field("num-other-sentinels"),
                    );
                    if flags != "master" || seen != replicas || peers != others {
                        return Err(format!(
                            "{}: flags {flags}, num-slaves {seen}, num-other-sentinels {peers}",
                            sentinel.url()
                        ));
                    }
                }
                Ok(())
            },
        )
        .map_err(|e| io::Error::new(e.kind(), format!("{e}{}", self.sentinel_logs())))
    }

    fn sentinel_logs(&self) -> String {
        self.sentinels
            .nodes
            .iter()
            .map(|node| node.log_tail(8))
            .collect()
    }
}

impl fmt::Debug for Sentinels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sentinels")
            .field("service", &self.options.service)
            .field("servers", &self.servers)
            .field("sentinels", &self.sentinels.nodes)
            .finish()
    }
}

/// One sentinel's configuration file.
fn config_file(options: &SentinelOptions, primary_port: u16) -> String {
    let name = &options.service;
    [
        "sentinel resolve-hostnames no".to_string(),
        "sentinel announce-hostnames no".to_string(),
        "sentinel announce-ip 127.0.0.1".to_string(),
        format!(
            "sentinel monitor {name} 127.0.0.1 {primary_port} {}",
            options.quorum
        ),
        format!(
            "sentinel down-after-milliseconds {name} {}",
            options.down_after.as_millis().max(1)
        ),
        format!(
            "sentinel failover-timeout {name} {}",
            options.failover_timeout.as_millis().max(1)
        ),
        format!("sentinel parallel-syncs {name} 1"),
        match &options.sentinel_password {
            Some(password) => format!("sentinel sentinel-pass {password}"),
            None => String::new(),
        },
        String::new(),
    ]
    .join("\n")
}

/// The value of `name` in a flat `[key, value, ...]` array reply.
fn field(reply: &Reply, name: &str) -> Option<String> {
    let Reply::Array(items) = reply else {
        return None;
    };
    items
        .chunks(2)
        .find(|pair| pair[0] == Reply::Bulk(name.as_bytes().to_vec()))
        .and_then(|pair| pair.get(1))
        .map(Reply::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_names_the_service_and_the_timeouts() {
        let config = config_file(&SentinelOptions::default(), 7000);
        assert!(config.contains("sentinel monitor redlease 127.0.0.1 7000 2\n"));
        assert!(config.contains("sentinel down-after-milliseconds redlease 1000\n"));
        assert!(config.contains("sentinel failover-timeout redlease 3000\n"));
    }

    #[test]
    fn reads_fields_of_a_flat_reply() {
        let reply = Reply::Array(vec![
            Reply::Bulk(b"flags".to_vec()),
            Reply::Bulk(b"master".to_vec()),
            Reply::Bulk(b"num-slaves".to_vec()),
            Reply::Integer(2),
        ]);
        assert_eq!(field(&reply, "flags").as_deref(), Some("master"));
        assert_eq!(field(&reply, "num-slaves").as_deref(), Some("2"));
        assert_eq!(field(&reply, "quorum"), None);
    }
}
