//! Operating-system plumbing: spawning servers that cannot outlive us,
//! signalling them by pid, and handing out loopback ports.
//!
//! The one rule of the test kit is that every `redis-server` it starts dies
//! with its owner. `Drop` covers normal exits and panics; for a test process
//! that is SIGKILLed (or aborts) each child asks the kernel, through
//! `prctl(PR_SET_PDEATHSIG, SIGKILL)`, to be killed when its parent goes away.
//!
//! That "parent" is the *thread* that forked, not the process: a server
//! spawned from a short-lived thread (a `#[test]` thread, a tokio worker, a
//! `spawn_blocking` task) would be killed the moment that thread exits, even
//! though its [`Cluster`](crate::Cluster) lives on. So all spawning goes
//! through one long-lived "spawner" thread that exists until the process
//! does; the death signal then means "the process died", which is what we
//! want.
//!
//! Children also get their own process group, so a Ctrl-C in the terminal
//! reaches only the owner (e.g. `redlease sandbox`), which then shuts its
//! servers down in order, instead of racing them.

use std::collections::BTreeSet;
use std::io;
use std::net::{Ipv4Addr, TcpListener};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command};
use std::sync::{Mutex, MutexGuard, OnceLock, mpsc};
use std::thread;
use std::time::{Duration, Instant};

type SpawnJob = (Command, mpsc::Sender<io::Result<Child>>);

/// Spawns `command` from the long-lived spawner thread, with the death
/// signal and a process group of its own.
pub(crate) fn spawn(mut command: Command) -> io::Result<Child> {
    let parent = std::process::id();
    let hook = move || -> io::Result<()> {
        // Only async-signal-safe calls here: we are between fork and exec.
        #[cfg(any(target_os = "linux", target_os = "android"))]
        unsafe {
            if libc::prctl(
                libc::PR_SET_PDEATHSIG,
                libc::SIGKILL as libc::c_ulong,
                0,
                0,
                0,
            ) != 0
            {
                return Err(io::Error::last_os_error());
            }
            // The owner may have died between fork and prctl: then nobody
            // would ever send the signal.
            if libc::getppid() as u32 != parent {
                return Err(io::Error::other("the owning process exited"));
            }
        }
        unsafe {
            if libc::setpgid(0, 0) != 0 {
                return Err(io::Error::last_os_error());
            }
        }
        #[cfg(not(any(target_os = "linux", target_os = "android")))]
        let _ = parent;
        Ok(())
    };
    // SAFETY: the hook only makes async-signal-safe system calls.
    unsafe {
        command.pre_exec(hook);
    }

    static SPAWNER: OnceLock<Option<mpsc::Sender<SpawnJob>>> = OnceLock::new();
    let spawner = SPAWNER.get_or_init(|| {
        let (jobs, inbox) = mpsc::channel::<SpawnJob>();
        thread::Builder::new()
            .name("redlease-testkit-spawner".into())
            .spawn(move || {
                for (mut command, reply) in inbox {
                    let _ = reply.send(command.spawn());
                }
            })
            .ok()
            .map(|_| jobs)
    });
    let Some(jobs) = spawner else {
        // No thread could be started: spawn here. The death signal is then
        // tied to the calling thread, which is still better than nothing.
        return command.spawn();
    };
    let (reply, answer) = mpsc::channel();
    if let Err(mpsc::SendError((mut command, _))) = jobs.send((command, reply)) {
        return command.spawn();
    }
    answer
        .recv()
        .map_err(|_| io::Error::other("the redlease-testkit spawner thread is gone"))?
}

/// Sends `signal` to `pid`.
pub(crate) fn signal(pid: u32, signal: libc::c_int) -> io::Result<()> {
    let pid = libc::pid_t::try_from(pid)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "pid out of range"))?;
    // SAFETY: kill(2) has no memory-safety preconditions.
    if unsafe { libc::kill(pid, signal) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Waits (up to `limit`) until `/proc` shows `pid` as stopped, so a test
/// that pauses a node and immediately talks to it never races the signal.
/// Without `/proc` it returns at once.
pub(crate) fn wait_until_stopped(pid: u32, limit: Duration) {
    let deadline = Instant::now() + limit;
    let path = format!("/proc/{pid}/stat");
    while Instant::now() < deadline {
        let Ok(stat) = std::fs::read_to_string(&path) else {
            return;
        };
        // The state is the first field after the parenthesised command name.
        let state = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.trim_start().chars().next());
        if matches!(state, Some('T' | 't') | None) {
            return;
        }
        thread::sleep(Duration::from_millis(1));
    }
}

/// Ports that nodes of this process own (running or not), so that two
/// clusters in one test binary never get the same port: a killed node's
/// port must stay its own until it restarts.
fn reserved() -> MutexGuard<'static, BTreeSet<u16>> {
    static RESERVED: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());
    RESERVED
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A loopback port owned by one node; released on drop.
#[derive(Debug)]
pub(crate) struct PortReservation(u16);

impl PortReservation {
    pub(crate) fn port(&self) -> u16 {
        self.0
    }

    /// Reserves a fixed port (`ClusterOptions::base_port`), failing early
    /// with a clear message if something already listens there.
    pub(crate) fn fixed(port: u16) -> io::Result<PortReservation> {
        if !reserved().insert(port) {
            return Err(io::Error::new(
                io::ErrorKind::AddrInUse,
                format!("port {port} is already used by another redlease-testkit node"),
            ));
        }
        let reservation = PortReservation(port);
        TcpListener::bind((Ipv4Addr::LOCALHOST, port)).map_err(|e| {
            io::Error::new(e.kind(), format!("cannot use port 127.0.0.1:{port}: {e}"))
        })?;
        Ok(reservation)
    }

    /// Reserves `count` distinct ports the kernel currently considers free.
    /// The probing listeners are all held until the end so the kernel cannot
    /// hand out one port twice; another process may still grab a port before
    /// the server binds it, which the caller handles by retrying.
    pub(crate) fn free(count: usize) -> io::Result<Vec<PortReservation>> {
        let mut listeners = Vec::new();
        let mut ports = Vec::new();
        let mut attempts = 0;
        while ports.len() < count {
            attempts += 1;
            if attempts > 100 + 10 * count {
                return Err(io::Error::new(
                    io::ErrorKind::AddrNotAvailable,
                    "could not find free loopback ports",
                ));
            }
            let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
            let port = listener.local_addr()?.port();
            if reserved().insert(port) {
                ports.push(PortReservation(port));
            }
            listeners.push(listener);
        }
        Ok(ports)
    }
}

impl Drop for PortReservation {
    fn drop(&mut self) {
        reserved().remove(&self.0);
    }
}
