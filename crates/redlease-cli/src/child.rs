//! The command `exec` runs: spawned in its own process group, signalled as a group.
//!
//! A command is often a shell with children of its own. Signalling only the shell would
//! leave its children running (and writing) after the lease is gone, so the command is
//! made the leader of a new process group and every signal goes to the whole group.

use std::ffi::OsString;
use std::io;
use std::process::ExitStatus;
use std::time::Duration;

use tokio::process::{Child, Command};

/// A running command and its process group.
pub struct Group {
    child: Child,
    pgid: libc::pid_t,
}

impl Group {
    /// Start `argv` (program and arguments) with extra environment variables, stdio
    /// inherited, as the leader of a new process group.
    pub fn spawn(argv: &[OsString], env: &[(&str, String)]) -> io::Result<Group> {
        let Some((program, args)) = argv.split_first() else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "no command given",
            ));
        };
        let mut command = Command::new(program);
        command.args(args).process_group(0);
        for (key, value) in env {
            command.env(key, value);
        }
        let child = command.spawn()?;
        let pid = child
            .id()
            .and_then(|id| libc::pid_t::try_from(id).ok())
            .ok_or_else(|| io::Error::other("the command exited before its pid was known"))?;
        Ok(Group { child, pgid: pid })
    }

    /// The process group id (the leader's pid).
    pub fn pgid(&self) -> libc::pid_t {
        self.pgid
    }

    /// Wait for the leader to exit. Cancel-safe.
    pub async fn wait(&mut self) -> io::Result<ExitStatus> {
        self.child.wait().await
    }

    /// Stop the group: SIGTERM, then SIGKILL if the leader is still running after
    /// `grace`. Members left behind by a leader that exited are killed too, since the
    /// work must stop. Returns the leader's status.
    pub async fn terminate(&mut self, grace: Duration) -> io::Result<ExitStatus> {
        signal_group(self.pgid, libc::SIGTERM);
        let status = match tokio::time::timeout(grace, self.child.wait()).await {
            Ok(status) => status,
            Err(_elapsed) => {
                signal_group(self.pgid, libc::SIGKILL);
                self.child.wait().await
            }
        };
        signal_group(self.pgid, libc::SIGKILL);
        status
    }
}

/// Send `signal` to every process of group `pgid`. A group that is already gone is
/// not an error.
pub fn signal_group(pgid: libc::pid_t, signal: i32) {
    if pgid <= 1 {
        // -1 and -0 would signal far more than the command; never do that.
        return;
    }
    // SAFETY: kill(2) has no memory-safety preconditions; a negative pid addresses the
    // process group, which we created for the command.
    unsafe {
        libc::kill(-pgid, signal);
    }
}
