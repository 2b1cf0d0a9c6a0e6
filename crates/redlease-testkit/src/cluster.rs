//! A set of independent `redis-server`s started together.
//!
//! Redlock-style algorithms talk to N *independent* masters (not a Redis
//! Cluster), so a [`Cluster`] here is just N unrelated servers sharing one
//! temporary directory and one set of [`ClusterOptions`]. Starting them is
//! done in two passes, spawn all then wait for all, so five nodes cost about
//! as much as one. Dropping the cluster kills every process it started and
//! deletes the directory.

use std::env;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::clock::ClockRate;
use crate::node::{Launch, Node};
use crate::process::PortReservation;
use crate::resp::Endpoint;

/// How many times a node whose auto-picked port was stolen between probing
/// and binding is moved to another port before giving up.
const PORT_RACE_RETRIES: usize = 5;

/// Longest unix socket path the kernel accepts (`sun_path` is 108 bytes,
/// including the terminating NUL).
const MAX_SOCKET_PATH: usize = 107;

/// How to start a [`Cluster`]. Build it with struct-update syntax:
///
/// ```
/// use redlease_testkit::ClusterOptions;
///
/// let options = ClusterOptions { nodes: 3, persistence: true, ..Default::default() };
/// assert!(!options.unix_sockets);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterOptions {
    /// How many servers. Default: 5. Must be at least 1.
    pub nodes: usize,
    /// Listen on a unix socket in each node's directory instead of TCP
    /// (`--port 0 --unixsocket DIR/redis.sock --unixsocketperm 700`).
    /// Default: false.
    pub unix_sockets: bool,
    /// Keep the data across [`Node::restart`]: `--appendonly yes
    /// --appendfsync always`, so even a SIGKILL loses nothing. Default:
    /// false (`--save "" --appendonly no`: a restarted node comes back empty).
    pub persistence: bool,
    /// `None` (default): pick free loopback ports. `Some(p)`: node `i`
    /// listens on `p + i` (used by `redlease sandbox --port P`); fails if one
    /// of them is taken. Ignored with `unix_sockets`.
    pub base_port: Option<u16>,
    /// Extra arguments for every `redis-server`, after the kit's own (so
    /// they win), e.g. `["--requirepass", "pw"]`. A `--requirepass` given
    /// here is also used to authenticate the kit's own connections.
    /// Default: none.
    pub extra_args: Vec<String>,
    /// The server binary. Default (`None`): the `REDLEASE_REDIS_SERVER`
    /// environment variable if set and non-empty, else `redis-server` on
    /// `PATH`.
    pub redis_server: Option<PathBuf>,
    /// How long a starting server may take to answer `PING` before the
    /// start fails. Default: 10 s.
    pub startup_timeout: Duration,
}

impl Default for ClusterOptions {
    fn default() -> Self {
        ClusterOptions {
            nodes: 5,
            unix_sockets: false,
            persistence: false,
            base_port: None,
            extra_args: Vec::new(),
            redis_server: None,
            startup_timeout: Duration::from_secs(10),
        }
    }
}

/// N throwaway `redis-server` processes; see the [crate docs](crate).
///
/// Not `Clone`: it owns the processes. `Send + Sync`. Dropping it (also
/// while unwinding from a panic) SIGCONTs and SIGKILLs every live server by
/// pid, reaps it and deletes the temporary directory; it never panics.
pub struct Cluster {
    nodes: Vec<Node>,
    dir: PathBuf,
    options: ClusterOptions,
}

impl Cluster {
    /// Starts `nodes` servers with default options (TCP on free loopback
    /// ports, no persistence). Blocks until every one answers `PING`.
    pub fn start(nodes: usize) -> io::Result<Cluster> {
        Cluster::start_with(ClusterOptions {
            nodes,
            ..Default::default()
        })
    }

    /// Starts a cluster as `options` says. Blocks until every server answers
    /// `PING`. On error nothing is left running, and the error names the
    /// node and quotes the end of its log.
    pub fn start_with(options: ClusterOptions) -> io::Result<Cluster> {
        Cluster::start_clocked(options, Vec::new())
    }

    /// [`Cluster::start_with`], with node `i` started with `clocks[i]` (a missing
    /// entry or `None`: the real clock).
    pub(crate) fn start_clocked(
        options: ClusterOptions,
        mut clocks: Vec<Option<ClockRate>>,
    ) -> io::Result<Cluster> {
        if options.nodes == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a cluster needs at least one node",
            ));
        }
        let launch = Arc::new(Launch {
            binary: server_binary(options.redis_server.as_deref()),
            config_file: None,
            persistence: options.persistence,
            password: requirepass(&options.extra_args),
            extra_args: options.extra_args.clone(),
            startup_timeout: options.startup_timeout,
        });

        // From here on, an early return drops `cluster`, which cleans up.
        let mut cluster = Cluster {
            nodes: Vec::with_capacity(options.nodes),
            dir: create_temp_dir()?,
            options,
        };
        let count = cluster.options.nodes;
        let ports: Vec<Option<PortReservation>> = if cluster.options.unix_sockets {
            (0..count).map(|_| None).collect()
        } else if let Some(base) = cluster.options.base_port {
            (0..count)
                .map(|i| {
                    let port = u16::try_from(usize::from(base) + i)
                        .ok()
                        .filter(|&p| p != 0)
                        .ok_or_else(|| {
                            io::Error::new(
                                io::ErrorKind::InvalidInput,
                                format!("base port {base} + {i} is not a valid port"),
                            )
                        })?;
                    PortReservation::fixed(port).map(Some)
                })
                .collect::<io::Result<_>>()?
        } else {
            PortReservation::free(count)?
                .into_iter()
                .map(Some)
                .collect()
        };
        let auto_port = !cluster.options.unix_sockets && cluster.options.base_port.is_none();

        for (index, port) in ports.into_iter().enumerate() {
            let dir = cluster.dir.join(format!("node-{index}"));
            let endpoint = match &port {
                Some(port) => Endpoint::Tcp(port.port()),
                None => {
                    let socket = dir.join("redis.sock");
                    if socket.as_os_str().len() > MAX_SOCKET_PATH {
                        return Err(io::Error::new(
                            io::ErrorKind::InvalidInput,
                            format!(
                                "unix socket path {} is too long; point TMPDIR to a shorter directory",
                                socket.display()
                            ),
                        ));
                    }
                    Endpoint::Unix(socket)
                }
            };
            let mut node = Node::new(index, endpoint, dir, launch.clone(), port, auto_port)?;
            node.set_clock(clocks.get_mut(index).and_then(Option::take));
            cluster.nodes.push(node);
        }

        for node in &cluster.nodes {
            node.start_process()?;
        }
        for node in &mut cluster.nodes {
            let mut retries = 0;
            while let Err(e) = node.await_ready() {
                if retries == PORT_RACE_RETRIES || !node.lost_port_race() {
                    return Err(e);
                }
                retries += 1;
                node.move_to_free_port()?;
                node.start_process()?;
            }
        }
        Ok(cluster)
    }

    /// How many nodes (running or not).
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Always false: a cluster has at least one node.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Every node's URL, in node order (see [`Node::url`]).
    pub fn urls(&self) -> Vec<String> {
        self.nodes.iter().map(Node::url).collect()
    }

    /// Node `index`.
    ///
    /// # Panics
    ///
    /// If `index >= self.len()`, like slice indexing; see [`Cluster::get`].
    pub fn node(&self, index: usize) -> &Node {
        &self.nodes[index]
    }

    /// Node `index`, mutably (every [`Node`] method also works on `&Node`).
    ///
    /// # Panics
    ///
    /// If `index >= self.len()`.
    pub fn node_mut(&mut self, index: usize) -> &mut Node {
        &mut self.nodes[index]
    }

    /// Node `index`, or `None` if out of range.
    pub fn get(&self, index: usize) -> Option<&Node> {
        self.nodes.get(index)
    }

    /// All nodes, in order.
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    /// The temporary directory holding one `node-<i>` directory per node;
    /// deleted on drop.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The options the cluster was started with.
    pub fn options(&self) -> &ClusterOptions {
        &self.options
    }
}

impl fmt::Debug for Cluster {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Not the options: `extra_args` may hold a `--requirepass`.
        f.debug_struct("Cluster")
            .field("nodes", &self.nodes)
            .field("dir", &self.dir)
            .finish()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for node in &self.nodes {
            node.shutdown();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The server binary: `configured` if given, else the
/// `REDLEASE_REDIS_SERVER` environment variable if set and non-empty, else
/// `redis-server` on `PATH`.
pub(crate) fn server_binary(configured: Option<&Path>) -> PathBuf {
    configured
        .map(Path::to_path_buf)
        .or_else(|| {
            env::var_os("REDLEASE_REDIS_SERVER")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        })
        .unwrap_or_else(|| PathBuf::from("redis-server"))
}

/// The value after `--requirepass` in `args`, if any (the last one wins,
/// as it does for the server).
pub(crate) fn requirepass(args: &[String]) -> Option<String> {
    args.windows(2)
        .rev()
        .find(|pair| pair[0] == "--requirepass")
        .map(|pair| pair[1].clone())
        .filter(|password| !password.is_empty())
}

/// A fresh directory under the system temp dir, unique per process, call
/// and time.
pub(crate) fn create_temp_dir() -> io::Result<PathBuf> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let base = env::temp_dir();
    loop {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let count = COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir = base.join(format!(
            "redlease-testkit-{}-{count}-{nanos}",
            std::process::id()
        ));
        match std::fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            // Left over from a dead process with a recycled pid: next name.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => {
                return Err(io::Error::new(
                    e.kind(),
                    format!("cannot create a directory in {}: {e}", base.display()),
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_password() {
        let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(requirepass(&args(&["--maxclients", "10"])), None);
        assert_eq!(
            requirepass(&args(&["--requirepass", "a", "--requirepass", "b"])).as_deref(),
            Some("b")
        );
    }

    #[test]
    fn zero_nodes_is_an_error() {
        let err = Cluster::start(0).expect_err("no nodes");
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    }

    #[test]
    fn missing_binary_says_how_to_install_it() {
        let err = Cluster::start_with(ClusterOptions {
            nodes: 1,
            redis_server: Some("/nonexistent/redis-server".into()),
            ..Default::default()
        })
        .expect_err("no such binary");
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
        assert!(
            err.to_string().contains(
                "install it with `apt-get install -y redis-server` (or set REDLEASE_REDIS_SERVER)"
            ),
            "{err}"
        );
    }
}
