//! One `redis-server` process and the ways a test can abuse it.
//!
//! A [`Node`] owns a fixed address (a loopback port or a unix socket) and a
//! data directory for its whole life; the process behind it comes and goes:
//! [`kill`](Node::kill) takes it down for good, [`restart`](Node::restart)
//! brings a fresh one up on the same address, [`pause`](Node::pause) freezes
//! it with SIGSTOP. Keeping the address stable is what lets a client built
//! once from [`Cluster::urls`](crate::Cluster::urls) observe outages and
//! recoveries the way it would in production.
//!
//! Every method takes `&self` (the child process sits behind a mutex), so a
//! node can be shared across threads and tasks; the process is killed by pid
//! and reaped whenever the node lets go of it, including on drop.

use std::ffi::OsString;
use std::fmt;
use std::fs::{self, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

use crate::clock::ClockRate;
use crate::process::{self, PortReservation};
use crate::resp::{Connection, Endpoint, Reply};

/// How long [`Node::command`], [`Node::query`] and [`Node::wipe`] wait for a
/// connection and for each reply before giving up with
/// [`io::ErrorKind::TimedOut`].
pub const DEFAULT_COMMAND_TIMEOUT: Duration = Duration::from_secs(5);

/// How often readiness is polled while a server starts.
const POLL_INTERVAL: Duration = Duration::from_millis(10);

/// How many log lines of each file a startup error quotes.
const LOG_TAIL_LINES: usize = 15;

/// How a node's server is started; shared by all nodes of a cluster.
pub(crate) struct Launch {
    pub(crate) binary: PathBuf,
    /// A configuration file given as the first argument (sentinels need
    /// one they can rewrite); kept across restarts.
    pub(crate) config_file: Option<PathBuf>,
    pub(crate) persistence: bool,
    pub(crate) extra_args: Vec<String>,
    /// The `--requirepass` found in `extra_args`, used to `AUTH` our own
    /// connections (readiness probes, `wipe`, `command`).
    pub(crate) password: Option<String>,
    pub(crate) startup_timeout: Duration,
}

/// One throwaway `redis-server` of a [`Cluster`](crate::Cluster).
///
/// `Send + Sync`; all methods take `&self`. The process is SIGKILLed by pid
/// and reaped when the node (or its cluster) is dropped.
pub struct Node {
    index: usize,
    endpoint: Endpoint,
    dir: PathBuf,
    launch: Arc<Launch>,
    /// Keeps the TCP port ours while the process is down; `None` for unix
    /// sockets.
    port: Option<PortReservation>,
    /// Whether the port was picked by us (and so may be swapped for another
    /// one if a foreign process steals it during the first start).
    auto_port: bool,
    /// The running server, if any.
    process: Mutex<Option<Child>>,
    /// Started through libfaketime with this clock rate, if set.
    clock: Option<ClockRate>,
}

impl fmt::Debug for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Hand-written so the `--requirepass` value never shows up.
        f.debug_struct("Node")
            .field("index", &self.index)
            .field("url", &self.url())
            .field("pid", &self.pid())
            .field("dir", &self.dir)
            .finish()
    }
}

impl Node {
    pub(crate) fn new(
        index: usize,
        endpoint: Endpoint,
        dir: PathBuf,
        launch: Arc<Launch>,
        port: Option<PortReservation>,
        auto_port: bool,
    ) -> io::Result<Node> {
        fs::create_dir_all(&dir).map_err(|e| {
            io::Error::new(e.kind(), format!("cannot create {}: {e}", dir.display()))
        })?;
        Ok(Node {
            index,
            endpoint,
            dir,
            launch,
            port,
            auto_port,
            process: Mutex::new(None),
            clock: None,
        })
    }

    /// The position of this node in its cluster.
    pub fn index(&self) -> usize {
        self.index
    }

    /// The URL clients use: `redis://127.0.0.1:PORT` or `unix:///path/redis.sock`.
    /// It stays the same across [`restart`](Node::restart)s.
    pub fn url(&self) -> String {
        match &self.endpoint {
            Endpoint::Tcp(port) => format!("redis://127.0.0.1:{port}"),
            Endpoint::Unix(path) => format!("unix://{}", path.display()),
        }
    }

    /// The rate of this node's clock when it runs through libfaketime (see
    /// [`Cluster::start_with_clock_rates`](crate::Cluster::start_with_clock_rates)),
    /// `None` for a node on the real clock.
    pub fn clock_rate(&self) -> Option<f64> {
        self.clock.as_ref().map(ClockRate::rate)
    }

    /// The TCP port, or `None` in unix-socket mode.
    pub fn port(&self) -> Option<u16> {
        match self.endpoint {
            Endpoint::Tcp(port) => Some(port),
            Endpoint::Unix(_) => None,
        }
    }

    /// The unix socket path, or `None` in TCP mode.
    pub fn unix_socket(&self) -> Option<&Path> {
        match &self.endpoint {
            Endpoint::Tcp(_) => None,
            Endpoint::Unix(path) => Some(path),
        }
    }

    /// The node's private directory (data files, logs, socket).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The server's log file (`--logfile`). It is appended to across restarts.
    pub fn log_path(&self) -> PathBuf {
        self.dir.join("redis.log")
    }

    /// The last `lines` lines of the server's log and of its captured
    /// stdout/stderr (where fatal configuration errors go), labelled by file;
    /// empty if both are empty.
    pub fn log_tail(&self, lines: usize) -> String {
        let mut out = String::new();
        for path in [self.log_path(), self.dir.join("stdio.log")] {
            let Ok(bytes) = fs::read(&path) else { continue };
            let text = String::from_utf8_lossy(&bytes);
            let all: Vec<&str> = text.lines().collect();
            if all.is_empty() {
                continue;
            }
            out.push_str(&format!("\n--- last lines of {} ---", path.display()));
            for line in &all[all.len().saturating_sub(lines)..] {
                out.push('\n');
                out.push_str(line);
            }
        }
        out
    }

    /// The server's pid, or `None` while the node is down (killed, failed to
    /// restart, or exited on its own, e.g. after a `SHUTDOWN` command).
    /// A paused node still has a pid.
    pub fn pid(&self) -> Option<u32> {
        live_pid(&mut self.lock())
    }

    /// Whether a server process is alive. A paused node counts as running.
    pub fn is_running(&self) -> bool {
        self.pid().is_some()
    }

    /// SIGKILLs the server by pid and reaps it; the node stays down (its
    /// address stays reserved) until [`restart`](Node::restart).
    /// Killing a node that is already down does nothing.
    pub fn kill(&self) -> io::Result<()> {
        let mut slot = self.lock();
        if let Some(child) = slot.as_mut() {
            stop(child).map_err(|e| self.context(e, "cannot kill"))?;
        }
        *slot = None;
        Ok(())
    }

    /// Freezes the server with SIGSTOP. Clients can still connect to a TCP
    /// node (the kernel accepts into the listen backlog) but nothing answers:
    /// the behaviour of a hung or partitioned server. Returns once the
    /// process is seen stopped. Fails if the node is down.
    pub fn pause(&self) -> io::Result<()> {
        let pid = self.signal_running(libc::SIGSTOP, "pause")?;
        process::wait_until_stopped(pid, Duration::from_secs(2));
        Ok(())
    }

    /// Lets a paused server run again with SIGCONT. Resuming a node that was
    /// not paused is harmless. Fails if the node is down.
    pub fn resume(&self) -> io::Result<()> {
        self.signal_running(libc::SIGCONT, "resume").map(|_| ())
    }

    /// Starts the server again on the same address, SIGKILLing the current
    /// process first if there is one (paused or not), and blocks until the
    /// new one answers `PING`.
    ///
    /// With [`persistence`](crate::ClusterOptions::persistence) the data
    /// survives (the AOF is fsynced on every write); without it the node
    /// comes back empty. On failure the node is left down and the error
    /// quotes the server's log.
    pub fn restart(&self) -> io::Result<()> {
        self.restart_with(!self.launch.persistence)
    }

    /// Like [`restart`](Node::restart), but always comes back empty: the
    /// data files are deleted first, even with persistence (a server that
    /// lost its disk).
    pub fn restart_empty(&self) -> io::Result<()> {
        self.restart_with(true)
    }

    /// Makes the running server forget everything, like a restart without
    /// persistence but keeping the process: `FLUSHALL` (all databases) then
    /// `SCRIPT FLUSH` (the Lua script cache, which a real restart loses too).
    pub fn wipe(&self) -> io::Result<()> {
        for args in [&["FLUSHALL"][..], &["SCRIPT", "FLUSH"][..]] {
            let reply = self.command(args)?;
            if reply != "OK" {
                return Err(io::Error::other(format!(
                    "redis node {} ({}): unexpected reply to {}: {reply}",
                    self.index,
                    self.endpoint,
                    args.join(" ")
                )));
            }
        }
        Ok(())
    }

    /// Sends one command on a fresh connection and returns its reply as a
    /// string (see [`Reply`] for the rendering: `"OK"`, `"v"`, `"1"`,
    /// `"(nil)"`, space-joined array elements, ...). An error reply from the
    /// server becomes an `Err` with kind [`io::ErrorKind::Other`] whose
    /// message contains the server's error text.
    ///
    /// Waits at most [`DEFAULT_COMMAND_TIMEOUT`] for the connection and for
    /// the reply: a paused node gives an [`io::ErrorKind::TimedOut`] error,
    /// a killed one a connection error.
    pub fn command<A: AsRef<[u8]>>(&self, args: &[A]) -> io::Result<String> {
        self.command_with_timeout(args, DEFAULT_COMMAND_TIMEOUT)
    }

    /// [`command`](Node::command) with a custom timeout.
    pub fn command_with_timeout<A: AsRef<[u8]>>(
        &self,
        args: &[A],
        timeout: Duration,
    ) -> io::Result<String> {
        match self.query_with_timeout(args, timeout)? {
            Reply::Error(message) => Err(io::Error::other(format!(
                "redis node {} ({}) replied to {}: {message}",
                self.index,
                self.endpoint,
                args.first()
                    .map(|a| String::from_utf8_lossy(a.as_ref()).into_owned())
                    .unwrap_or_default(),
            ))),
            reply => Ok(reply.to_string()),
        }
    }

    /// Sends one command and returns the raw [`Reply`]; an error reply is
    /// `Ok(Reply::Error(..))`. Same timeout as [`command`](Node::command).
    pub fn query<A: AsRef<[u8]>>(&self, args: &[A]) -> io::Result<Reply> {
        self.query_with_timeout(args, DEFAULT_COMMAND_TIMEOUT)
    }

    /// [`query`](Node::query) with a custom timeout.
    pub fn query_with_timeout<A: AsRef<[u8]>>(
        &self,
        args: &[A],
        timeout: Duration,
    ) -> io::Result<Reply> {
        let attempt = || -> io::Result<Reply> {
            let mut conn = self.connect(timeout)?;
            conn.call(args)
        };
        attempt().map_err(|e| match e.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => io::Error::new(
                io::ErrorKind::TimedOut,
                format!(
                    "redis node {} ({}) did not answer within {timeout:?} (is it paused?)",
                    self.index, self.endpoint
                ),
            ),
            _ => self.context(e, "request failed"),
        })
    }

    /// Sends several commands on one fresh connection, in order, and returns their raw
    /// replies: for commands whose meaning depends on the connection, such as `WAIT`
    /// (which waits for *this connection's* writes; on a fresh connection it returns at
    /// once). Same timeout as [`command`](Node::command), for each reply.
    pub fn queries<A: AsRef<[u8]>>(&self, commands: &[&[A]]) -> io::Result<Vec<Reply>> {
        let mut conn = self
            .connect(DEFAULT_COMMAND_TIMEOUT)
            .map_err(|e| self.context(e, "cannot connect"))?;
        commands
            .iter()
            .map(|args| {
                conn.call(args)
                    .map_err(|e| self.context(e, "request failed"))
            })
            .collect()
    }

    // ---- crate-internal: starting ----------------------------------------

    /// Spawns the server without waiting for it (see [`Node::await_ready`]).
    pub(crate) fn start_process(&self) -> io::Result<()> {
        let child = self.spawn()?;
        *self.lock() = Some(child);
        Ok(())
    }

    /// Blocks until the spawned server answers; on failure kills it and
    /// returns an error quoting its log.
    pub(crate) fn await_ready(&self) -> io::Result<()> {
        self.ready_or_down(&mut self.lock())
    }

    /// Whether the last start failed because another process holds our
    /// (auto-picked) port.
    pub(crate) fn lost_port_race(&self) -> bool {
        self.auto_port
            && fs::read_to_string(self.log_path())
                .is_ok_and(|log| log.contains("Address already in use"))
    }

    /// Swaps a stolen auto-picked port for a fresh one (first start only,
    /// before anyone saw the URL).
    pub(crate) fn move_to_free_port(&mut self) -> io::Result<()> {
        let fresh = PortReservation::free(1)?
            .pop()
            .ok_or_else(|| io::Error::other("no free port"))?;
        self.endpoint = Endpoint::Tcp(fresh.port());
        self.port = Some(fresh);
        for log in [self.log_path(), self.dir.join("stdio.log")] {
            let _ = fs::remove_file(log);
        }
        Ok(())
    }

    /// Runs this node's server (from its next start on) with a scaled clock.
    pub(crate) fn set_clock(&mut self, clock: Option<ClockRate>) {
        self.clock = clock;
    }

    /// SIGCONT + SIGKILL + reap, ignoring errors; for drops.
    pub(crate) fn shutdown(&self) {
        let mut slot = self.lock();
        if let Some(child) = slot.as_mut() {
            let _ = process::signal(child.id(), libc::SIGCONT);
            let _ = stop(child);
        }
        *slot = None;
    }

    // ---- private ---------------------------------------------------------

    fn lock(&self) -> MutexGuard<'_, Option<Child>> {
        // A panic while holding the lock leaves a consistent `Option<Child>`.
        self.process
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Sends `signal` to the live server and returns its pid. The lock is
    /// held meanwhile, so the pid cannot be reaped (and recycled) under us.
    fn signal_running(&self, signal: libc::c_int, action: &str) -> io::Result<u32> {
        let mut slot = self.lock();
        let pid = live_pid(&mut slot).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotConnected,
                format!(
                    "cannot {action} redis node {} ({}): it is not running",
                    self.index, self.endpoint
                ),
            )
        })?;
        process::signal(pid, signal).map_err(|e| self.context(e, &format!("cannot {action}")))?;
        Ok(pid)
    }

    fn context(&self, e: io::Error, what: &str) -> io::Error {
        io::Error::new(
            e.kind(),
            format!("redis node {} ({}): {what}: {e}", self.index, self.endpoint),
        )
    }

    fn restart_with(&self, forget: bool) -> io::Result<()> {
        let mut slot = self.lock();
        if let Some(child) = slot.as_mut() {
            stop(child).map_err(|e| self.context(e, "cannot kill before restart"))?;
        }
        *slot = None;
        if forget {
            self.forget_data()?;
        }
        *slot = Some(self.spawn()?);
        self.ready_or_down(&mut slot)
    }

    /// Deletes everything in the node's directory but the logs.
    fn forget_data(&self) -> io::Result<()> {
        for entry in fs::read_dir(&self.dir)? {
            let entry = entry?;
            let path = entry.path();
            if path.extension().is_some_and(|ext| ext == "log") {
                continue;
            }
            let removed = if entry.file_type()?.is_dir() {
                fs::remove_dir_all(&path)
            } else {
                fs::remove_file(&path)
            };
            match removed {
                Err(e) if e.kind() != io::ErrorKind::NotFound => {
                    return Err(io::Error::new(
                        e.kind(),
                        format!("cannot delete {}: {e}", path.display()),
                    ));
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn args(&self) -> Vec<OsString> {
        let mut args: Vec<OsString> = Vec::new();
        if let Some(file) = &self.launch.config_file {
            args.push(file.into());
        }
        let mut push = |items: &[&str]| args.extend(items.iter().map(OsString::from));
        push(&["--bind", "127.0.0.1", "--protected-mode", "no"]);
        push(&["--daemonize", "no", "--save", ""]);
        if self.launch.persistence {
            push(&["--appendonly", "yes", "--appendfsync", "always"]);
        } else {
            push(&["--appendonly", "no"]);
        }
        match &self.endpoint {
            Endpoint::Tcp(port) => push(&["--port", &port.to_string()]),
            Endpoint::Unix(_) => push(&["--port", "0", "--unixsocketperm", "700"]),
        }
        if let Endpoint::Unix(path) = &self.endpoint {
            args.push("--unixsocket".into());
            args.push(path.into());
        }
        args.push("--dir".into());
        args.push(self.dir.clone().into());
        args.push("--logfile".into());
        args.push(self.log_path().into());
        // Last, so they override ours.
        args.extend(self.launch.extra_args.iter().map(OsString::from));
        args
    }

    fn spawn(&self) -> io::Result<Child> {
        let stdio_path = self.dir.join("stdio.log");
        let stdio = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&stdio_path)
            .map_err(|e| {
                io::Error::new(
                    e.kind(),
                    format!("cannot open {}: {e}", stdio_path.display()),
                )
            })?;
        let mut command = Command::new(&self.launch.binary);
        command
            .args(self.args())
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .stdout(stdio.try_clone()?)
            .stderr(stdio);
        if let Some(clock) = &self.clock {
            command.envs(clock.env());
        }
        process::spawn(command).map_err(|e| {
            let binary = self.launch.binary.display();
            if e.kind() == io::ErrorKind::NotFound {
                io::Error::new(
                    e.kind(),
                    format!(
                        "cannot run `{binary}` ({e}): install it with \
                         `apt-get install -y redis-server` (or set REDLEASE_REDIS_SERVER)"
                    ),
                )
            } else {
                self.context(e, &format!("cannot run `{binary}`"))
            }
        })
    }

    /// Polls until the child in `slot` answers; on failure kills it, clears
    /// the slot and returns an error quoting the log.
    fn ready_or_down(&self, slot: &mut Option<Child>) -> io::Result<()> {
        let Some(child) = slot.as_mut() else {
            return Err(self.context(
                io::Error::new(io::ErrorKind::NotConnected, "no process"),
                "cannot wait for readiness",
            ));
        };
        let timeout = self.launch.startup_timeout;
        let deadline = Instant::now() + timeout;
        let failure = loop {
            match child.try_wait() {
                Ok(Some(status)) => {
                    break (
                        io::ErrorKind::Other,
                        format!("exited ({status}) before answering PING"),
                    );
                }
                Ok(None) => {}
                Err(e) => break (e.kind(), format!("cannot check the process: {e}")),
            }
            if self.answers_as(child.id()) {
                return Ok(());
            }
            if Instant::now() >= deadline {
                break (
                    io::ErrorKind::TimedOut,
                    format!("did not answer PING within {timeout:?}"),
                );
            }
            thread::sleep(POLL_INTERVAL);
        };
        let _ = stop(child);
        *slot = None;
        let (kind, what) = failure;
        Err(io::Error::new(
            kind,
            format!(
                "redis node {} ({}) {what}{}",
                self.index,
                self.endpoint,
                self.log_tail(LOG_TAIL_LINES)
            ),
        ))
    }

    /// Whether the server at our address answers `PING` and is really our
    /// process `pid`: with auto-picked ports, a concurrently started server
    /// of someone else may sit on "our" port while ours fails to bind.
    fn answers_as(&self, pid: u32) -> bool {
        let probe = || -> io::Result<bool> {
            let mut conn = self.connect(Duration::from_millis(500))?;
            conn.send(&["PING"])?;
            conn.send(&["INFO", "server"])?;
            match conn.read()? {
                Reply::Status(pong) if pong == "PONG" => {}
                // Password set some way we do not know: answering is all we
                // can check.
                Reply::Error(e) if e.starts_with("NOAUTH") => return Ok(true),
                // LOADING (AOF replay) and anything else: not yet.
                _ => return Ok(false),
            }
            let expected = format!("process_id:{pid}");
            Ok(match conn.read()? {
                Reply::Bulk(info) => String::from_utf8_lossy(&info)
                    .lines()
                    .any(|line| line.trim() == expected),
                _ => false,
            })
        };
        probe().unwrap_or(false)
    }

    /// Connects and, if the cluster was started with `--requirepass`,
    /// authenticates.
    fn connect(&self, timeout: Duration) -> io::Result<Connection> {
        let mut conn = Connection::open(&self.endpoint, timeout)?;
        if let Some(password) = &self.launch.password
            && let Reply::Error(e) = conn.call(&["AUTH", password.as_str()])?
        {
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!("AUTH failed: {e}"),
            ));
        }
        Ok(conn)
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// The pid of the child in `slot` if it is still alive; reaps and forgets a
/// child that exited. Never returns the pid of a reaped process, so callers
/// can signal it without hitting a recycled pid.
fn live_pid(slot: &mut Option<Child>) -> Option<u32> {
    if let Some(child) = slot.as_mut()
        && let Ok(None) = child.try_wait()
    {
        return Some(child.id());
    }
    *slot = None;
    None
}

/// SIGKILL by pid (works on stopped processes too) and reap.
fn stop(child: &mut Child) -> io::Result<()> {
    child.kill()?;
    child.wait()?;
    Ok(())
}
