//! Helpers shared by the CLI tests: running the real `redlease` binary with a time
//! bound, background processes that are always killed and reaped, temporary
//! directories, and process-liveness checks.
//!
//! Every helper is bounded in time and cleans up after itself even when the test
//! fails, so a broken build cannot hang the suite or leave processes behind.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread;
use std::time::{Duration, Instant};

pub use redlease_testkit::Cluster;

/// A generous bound for one command on a loaded two-core machine.
pub const LONG: Duration = Duration::from_secs(60);

/// The `redlease` binary, with its environment cleaned and `servers` set.
pub fn redlease(servers: &[String]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_redlease"));
    command
        .env("REDLEASE_SERVERS", servers.join(","))
        .env_remove("RUST_BACKTRACE")
        .stdin(Stdio::null());
    command
}

/// A cluster of `n` fresh servers (the kit kills them on drop).
pub fn cluster(n: usize) -> Cluster {
    Cluster::start(n).expect("start redis-servers (is redis-server installed?)")
}

/// What a finished command did.
#[derive(Debug)]
pub struct Run {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// The exit code (panics with the output if killed by a signal).
    pub fn code(&self) -> i32 {
        self.status
            .code()
            .unwrap_or_else(|| panic!("redlease was killed by a signal: {self:?}"))
    }

    /// Assert the exit code, showing the output when it differs.
    pub fn expect_code(&self, code: i32) -> &Self {
        assert_eq!(self.status.code(), Some(code), "unexpected exit: {self:#?}");
        self
    }

    /// stdout parsed as one JSON document.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(self.stdout.trim())
            .unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}): {self:#?}"))
    }
}

/// Run `command` to completion, killing it (and failing) after `limit`.
///
/// A binary just copied (the bench tests copy `redlease`) can fail to start with
/// ETXTBSY while another test thread forks with the copy's write descriptor still open;
/// that is retried for a while.
pub fn run(command: &mut Command, limit: Duration) -> Run {
    command.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut tries = 0;
    let child = loop {
        match command.spawn() {
            Err(e) if e.kind() == std::io::ErrorKind::ExecutableFileBusy && tries < 100 => {
                tries += 1;
                thread::sleep(Duration::from_millis(20));
            }
            other => break other.expect("spawn redlease"),
        }
    };
    Background::from(child).finish(limit)
}

/// A spawned process that is killed and reaped on drop, whatever happens.
pub struct Background {
    child: Option<Child>,
    stdout: Option<thread::JoinHandle<String>>,
    stderr: Option<thread::JoinHandle<String>>,
}

impl From<Child> for Background {
    fn from(mut child: Child) -> Self {
        let stdout = child.stdout.take().map(drain);
        let stderr = child.stderr.take().map(drain);
        Background {
            child: Some(child),
            stdout,
            stderr,
        }
    }
}

fn drain<R: Read + Send + 'static>(mut reader: R) -> thread::JoinHandle<String> {
    thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = reader.read_to_end(&mut bytes);
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

impl Background {
    /// Spawn `command` with stdout and stderr captured.
    pub fn spawn(command: &mut Command) -> Self {
        let child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        Background::from(child)
    }

    /// Its pid.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(Child::id).unwrap_or(0)
    }

    /// Send `signal` to it.
    pub fn signal(&self, signal: i32) {
        let pid = libc::pid_t::try_from(self.pid()).expect("pid fits");
        assert!(pid > 1);
        // SAFETY: plain kill(2) on our own child's pid.
        unsafe {
            libc::kill(pid, signal);
        }
    }

    /// Whether it has exited (it is not reaped until `finish`).
    pub fn has_exited(&mut self) -> bool {
        self.child
            .as_mut()
            .is_none_or(|c| c.try_wait().ok().flatten().is_some())
    }

    /// Wait for it to exit within `limit` (else kill it and fail); return its output.
    pub fn finish(mut self, limit: Duration) -> Run {
        let mut child = self.child.take().expect("not finished yet");
        let deadline = Instant::now() + limit;
        let status = loop {
            if let Some(status) = child.try_wait().expect("try_wait") {
                break status;
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                let out = self.output();
                panic!("process did not exit within {limit:?}; output so far: {out:?}");
            }
            thread::sleep(Duration::from_millis(20));
        };
        let (stdout, stderr) = self.output();
        Run {
            status,
            stdout,
            stderr,
        }
    }

    fn output(&mut self) -> (String, String) {
        let join = |h: Option<thread::JoinHandle<String>>| {
            h.map(|h| h.join().unwrap_or_default()).unwrap_or_default()
        };
        (join(self.stdout.take()), join(self.stderr.take()))
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Poll `condition` every 20 ms until it holds or `limit` passes; return whether it held.
pub fn wait_until(limit: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if condition() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        thread::sleep(Duration::from_millis(20));
    }
}

/// Whether process `pid` exists and is not a zombie.
pub fn process_alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state is the first field after the parenthesised command name.
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X"),
        Err(_) => false,
    }
}

/// Whether process `pid` has a handler installed for `signal` (from `SigCgt` in
/// `/proc/PID/status`): the way to know a process is ready to be signalled.
pub fn catches(pid: u32, signal: i32) -> bool {
    let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
        return false;
    };
    status
        .lines()
        .find_map(|l| l.strip_prefix("SigCgt:"))
        .and_then(|mask| u64::from_str_radix(mask.trim(), 16).ok())
        .is_some_and(|mask| mask & (1 << (signal - 1)) != 0)
}

/// A directory removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    /// A new empty directory named after the test.
    pub fn new(name: &str) -> Self {
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "redlease-cli-{name}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
