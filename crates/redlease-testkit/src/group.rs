//! A set of servers started together whose arguments name each other.
//!
//! A replica must be told its primary's port, a cluster node its bus port,
//! a sentinel the service it watches, a TLS server its second (TLS) port:
//! unlike the independent nodes of a [`Cluster`](crate::Cluster), each
//! server of a replicated set, a Redis Cluster, a sentinel group or a TLS
//! server needs its own arguments, computed from ports picked for the whole
//! set up front. [`Group::start`] picks them, spawns every server, waits
//! until each answers, and, if another process stole one of the ports in
//! between, throws the whole attempt away and starts again on fresh ports
//! (the arguments of the others may name the stolen port, so no single node
//! can move). Dropping a group kills its servers by pid and deletes its
//! directory, exactly as for a [`Cluster`](crate::Cluster).

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::cluster::{create_temp_dir, requirepass, server_binary};
use crate::node::{Launch, Node};
use crate::process::PortReservation;
use crate::resp::Endpoint;

/// How many times a start that lost a port race is retried on fresh ports.
const PORT_RACE_ATTEMPTS: usize = 5;

/// What every server of a group shares.
#[derive(Clone)]
pub(crate) struct Settings {
    /// `None`: `REDLEASE_REDIS_SERVER`, else `redis-server` on `PATH`.
    pub(crate) redis_server: Option<PathBuf>,
    /// After each server's own arguments, so they win.
    pub(crate) extra_args: Vec<String>,
    pub(crate) startup_timeout: Duration,
}

/// How one server of a group is started.
#[derive(Default)]
pub(crate) struct Spec {
    /// The kit talks to the server over a unix socket in its directory
    /// instead of its first port (a TLS-only server has no plain TCP port).
    pub(crate) unix_socket: bool,
    /// Arguments after the kit's own and before the shared extra ones.
    pub(crate) args: Vec<String>,
    /// `(file name, contents)` of a configuration file written to the
    /// group's directory (outside the node's, so restarts keep it) and
    /// given as the first argument.
    pub(crate) config: Option<(String, String)>,
}

/// The ports of every server of a group: `ports[node][k]`.
pub(crate) type Ports = [Vec<u16>];

/// Servers that were started together; see the module docs.
pub(crate) struct Group {
    pub(crate) nodes: Vec<Node>,
    pub(crate) dir: PathBuf,
    /// Ports the servers use besides the one each [`Node`] owns (cluster
    /// bus ports, TLS ports), kept reserved for the group's life.
    extra_ports: Vec<PortReservation>,
}

impl Group {
    /// Starts `count` servers with `ports_per_node` free loopback ports
    /// each; `spec(i, ports, dir)` says how to start server `i`. Returns
    /// once every server answers `PING`; on error nothing is left running.
    pub(crate) fn start(
        settings: &Settings,
        count: usize,
        ports_per_node: usize,
        spec: impl Fn(usize, &Ports, &Path) -> Spec,
    ) -> io::Result<Group> {
        let mut attempt = 1;
        loop {
            match Group::try_start(settings, count, ports_per_node, &spec) {
                Ok(group) => return Ok(group),
                Err((e, lost_race)) if !lost_race || attempt == PORT_RACE_ATTEMPTS => {
                    return Err(e);
                }
                Err(_) => attempt += 1,
            }
        }
    }

    /// One attempt; the flag says whether it failed because a port was
    /// taken by someone else.
    fn try_start(
        settings: &Settings,
        count: usize,
        ports_per_node: usize,
        spec: &impl Fn(usize, &Ports, &Path) -> Spec,
    ) -> Result<Group, (io::Error, bool)> {
        let fail = |e| (e, false);
        let mut reservations = PortReservation::free(count * ports_per_node).map_err(fail)?;
        let ports: Vec<Vec<u16>> = reservations
            .chunks(ports_per_node.max(1))
            .map(|chunk| chunk.iter().map(PortReservation::port).collect())
            .collect();
        let mut group = Group {
            nodes: Vec::with_capacity(count),
            dir: create_temp_dir().map_err(fail)?,
            extra_ports: Vec::new(),
        };
        let password = requirepass(&settings.extra_args);
        let binary = server_binary(settings.redis_server.as_deref());
        for index in 0..count {
            let spec = spec(index, &ports, &group.dir);
            let node_dir = group.dir.join(format!("node-{index}"));
            let config_file = match &spec.config {
                Some((name, contents)) => {
                    let path = group.dir.join(name);
                    fs::write(&path, contents)
                        .map_err(|e| {
                            io::Error::new(
                                e.kind(),
                                format!("cannot write {}: {e}", path.display()),
                            )
                        })
                        .map_err(fail)?;
                    Some(path)
                }
                None => None,
            };
            let mut args = spec.args;
            args.extend(settings.extra_args.iter().cloned());
            let launch = Arc::new(Launch {
                binary: binary.clone(),
                config_file,
                persistence: false,
                extra_args: args,
                password: password.clone(),
                startup_timeout: settings.startup_timeout,
            });
            let (endpoint, port) = if spec.unix_socket {
                (Endpoint::Unix(node_dir.join("redis.sock")), None)
            } else {
                let port = ports.get(index).and_then(|p| p.first()).copied();
                let Some(port) = port else {
                    return Err(fail(io::Error::new(
                        io::ErrorKind::InvalidInput,
                        "a TCP server needs at least one port",
                    )));
                };
                let at = reservations.iter().position(|r| r.port() == port);
                (Endpoint::Tcp(port), at.map(|at| reservations.remove(at)))
            };
            group
                .nodes
                .push(Node::new(index, endpoint, node_dir, launch, port, true).map_err(fail)?);
        }
        group.extra_ports = reservations;

        for node in &group.nodes {
            node.start_process().map_err(fail)?;
        }
        for node in &group.nodes {
            if let Err(e) = node.await_ready() {
                let lost_race = group.nodes.iter().any(Node::lost_port_race);
                return Err((e, lost_race));
            }
        }
        Ok(group)
    }

    /// The `index`th port reserved besides the nodes' own.
    pub(crate) fn extra_port(&self, index: usize) -> Option<u16> {
        self.extra_ports.get(index).map(PortReservation::port)
    }

    /// The node whose TCP port is `port`.
    pub(crate) fn by_port(&self, port: u16) -> Option<&Node> {
        self.nodes.iter().find(|node| node.port() == Some(port))
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        for node in &self.nodes {
            node.shutdown();
        }
        let _ = fs::remove_dir_all(&self.dir);
    }
}
