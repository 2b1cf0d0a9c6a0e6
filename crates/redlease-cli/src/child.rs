//! The command `exec` runs: its own process group, tied to redlease's life, and the
//! terminal's foreground while it runs.
//!
//! A command is often a shell with children of its own. Signalling only the shell would
//! leave its children running (and writing) after the lease is gone, so the command is
//! made the leader of a new process group and every signal goes to the whole group.
//!
//! The command must never outlive the lease, so it must not outlive redlease either
//! (SIGKILL, OOM kill: nobody renews any more), and neither may anything it started. So
//! the group's leader is not the command but redlease's own supervisor (`redlease
//! __supervise`, see `cmd/supervisor.rs`), which starts the command in the group and
//! kills the whole group when redlease dies. It learns that from Linux's parent-death
//! signal: the child asks for it, then checks that the parent it was forked from is
//! still its parent (the parent may have died between fork and prctl, the classic race).
//! The signal is tied to the *thread* that forked, so `exec` spawns from the runtime's one
//! thread (a current-thread runtime), which lives until redlease exits.
//!
//! On a terminal, an interactive command (`read`, an editor) must be the terminal's
//! foreground group or it is stopped by SIGTTIN. Both sides set it, as shells do (the
//! child before exec, redlease after spawn), so neither order of running loses.

use std::ffi::OsString;
use std::io;
use std::process::ExitStatus;

use tokio::process::{Child, Command};

/// A running command and its process group.
pub struct Group {
    child: Child,
    pgid: libc::pid_t,
}

impl Group {
    /// Start `argv` (program and arguments) with extra environment variables, stdio
    /// inherited, under redlease's supervisor, which leads a new process group and kills
    /// it if redlease dies; with `foreground`, the group gets the terminal on stdin.
    pub fn spawn(argv: &[OsString], env: &[(&str, String)], foreground: bool) -> io::Result<Group> {
        if argv.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "no command given",
            ));
        }
        // SAFETY: getpid has no preconditions.
        let parent = unsafe { libc::getpid() };
        // This very binary, even if the file was replaced since redlease started.
        let mut command = Command::new("/proc/self/exe");
        command
            .arg(crate::cmd::supervisor::MODE)
            .arg(parent.to_string())
            .arg("--")
            .args(argv)
            .process_group(0);
        for (key, value) in env {
            command.env(key, value);
        }
        let death_signal = crate::cmd::PARENT_DEATH_SIGNAL as libc::c_ulong;
        // SAFETY: the closure runs in the child between fork and exec and only makes
        // async-signal-safe calls (prctl, getppid, raise, sigprocmask, tcsetpgrp, getpid).
        unsafe {
            command.pre_exec(move || {
                if libc::prctl(libc::PR_SET_PDEATHSIG, death_signal) == -1 {
                    return Err(io::Error::last_os_error());
                }
                if libc::getppid() != parent {
                    // redlease died before the death signal was armed.
                    libc::raise(libc::SIGKILL);
                }
                if foreground {
                    take_terminal(libc::getpid());
                }
                Ok(())
            });
        }
        let child = command.spawn()?;
        let pid = child
            .id()
            .and_then(|id| libc::pid_t::try_from(id).ok())
            .ok_or_else(|| io::Error::other("the command exited before its pid was known"))?;
        if foreground {
            // SAFETY: as in the child; our own process.
            unsafe {
                take_terminal(pid);
            }
        }
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

    /// Whether the leader is stopped now (Ctrl-Z on the terminal it has); consumes the
    /// stop notification, never an exit (that stays for [`Group::wait`]).
    pub fn leader_stopped(&self) -> bool {
        // SAFETY: waitid with WSTOPPED|WNOHANG on our own child only reports (and
        // consumes) a stop; a zeroed siginfo_t is a valid out-parameter.
        unsafe {
            let mut info: libc::siginfo_t = std::mem::zeroed();
            let id = libc::id_t::try_from(self.pgid).unwrap_or(0);
            libc::waitid(libc::P_PID, id, &mut info, libc::WSTOPPED | libc::WNOHANG) == 0
                && info.si_pid() == self.pgid
        }
    }

    /// Stop the group: SIGTERM, then SIGKILL if the leader is still running after
    /// `grace`. Members left behind by a leader that exited are killed too, since the
    /// work must stop. Returns the leader's status.
    pub async fn terminate(&mut self, grace: std::time::Duration) -> io::Result<ExitStatus> {
        signal_group(self.pgid, libc::SIGTERM);
        // A stopped group would sit on SIGTERM.
        signal_group(self.pgid, libc::SIGCONT);
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

    /// Kill the group at once and reap the leader.
    pub async fn kill(&mut self) -> io::Result<ExitStatus> {
        signal_group(self.pgid, libc::SIGKILL);
        self.child.wait().await
    }
}

/// Make `pgid` the foreground process group of the terminal on stdin, with SIGTTOU
/// blocked (a background group may not otherwise change it).
///
/// # Safety
/// Async-signal-safe: may be called between fork and exec.
pub unsafe fn take_terminal(pgid: libc::pid_t) {
    // SAFETY: plain system calls on local, initialised signal sets.
    unsafe {
        let mut block: libc::sigset_t = std::mem::zeroed();
        let mut old: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut block);
        libc::sigaddset(&mut block, libc::SIGTTOU);
        libc::sigprocmask(libc::SIG_BLOCK, &block, &mut old);
        libc::tcsetpgrp(libc::STDIN_FILENO, pgid);
        libc::sigprocmask(libc::SIG_SETMASK, &old, std::ptr::null_mut());
    }
}

/// Whether stdin is a terminal whose foreground group is redlease's own: only then does
/// the command get the foreground (a background `exec` leaves the terminal alone).
pub fn owns_terminal() -> bool {
    // SAFETY: isatty, tcgetpgrp and getpgrp only read state.
    unsafe {
        libc::isatty(libc::STDIN_FILENO) == 1
            && libc::tcgetpgrp(libc::STDIN_FILENO) == libc::getpgrp()
    }
}

/// Give the terminal back to redlease's own group.
pub fn reclaim_terminal() {
    // SAFETY: getpgrp has no preconditions; take_terminal is safe to call anywhere.
    unsafe {
        take_terminal(libc::getpgrp());
    }
}

/// Stop redlease itself (as Ctrl-Z would have), returning once it is continued.
pub fn stop_self() {
    // SAFETY: raise(2) on our own process.
    unsafe {
        libc::raise(libc::SIGSTOP);
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
