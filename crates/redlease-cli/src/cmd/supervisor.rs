//! `redlease __supervise`: the hidden process between `exec` and its command that takes
//! the whole command down when redlease dies.
//!
//! Why it exists: the command must never outlive the lease, so it must not outlive
//! redlease (SIGKILL, the OOM killer: nobody renews any more). Linux's parent-death
//! signal only reaches a *direct* child, and a command is often a shell whose own
//! children (`sleep 60 & wait`, a pipeline) would run on. Nothing can catch SIGKILL, so
//! redlease cannot clean up after itself; a process that outlives it must. That is this
//! supervisor: redlease starts it (from its own binary) as its direct child, leader of a
//! new process group, with SIGTERM as its parent-death signal. It starts the command in
//! that same group and waits. When redlease dies it kills the whole group with SIGKILL,
//! itself included.
//!
//! It stays out of the way otherwise: it is in the command's group, so every signal
//! `exec` sends to the group (forwarded SIGTERM, SIGSTOP on Ctrl-Z, SIGKILL on loss)
//! reaches it too. Termination signals are blocked and only looked at (to tell a
//! forwarded one from the parent-death one, by whether the parent is still there); stop
//! signals stop it like any member of the job; and it exits the way the command did (the
//! same code, or the same signal), so `exec` reports the command's status unchanged.

use std::ffi::OsString;
use std::io;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, Command};

use crate::exit::{self, Failure};

/// The hidden first argument that makes `redlease` the supervisor. Not a clap
/// subcommand, so that no help, completion or man page ever offers it.
pub const MODE: &str = "__supervise";

/// What `exec` passes: `redlease __supervise PARENT_PID -- CMD...`.
pub struct SuperviseArgs {
    /// The pid of the `exec` that started it: when its parent is no longer that process,
    /// redlease has died.
    pub parent: i32,
    /// The command and its arguments.
    pub argv: Vec<OsString>,
}

impl SuperviseArgs {
    /// The supervisor's arguments, if the command line asks for the supervisor mode.
    pub fn from_args(mut args: impl Iterator<Item = OsString>) -> Option<SuperviseArgs> {
        let _program = args.next()?;
        if args.next()? != MODE {
            return None;
        }
        let parent = args.next()?.to_str()?.parse().ok()?;
        if args.next()? != "--" {
            return None;
        }
        Some(SuperviseArgs {
            parent,
            argv: args.collect(),
        })
    }
}

/// The signal the supervisor asks to get when redlease dies (set by `exec` when it
/// spawns it; it must be one the supervisor can catch).
pub const PARENT_DEATH_SIGNAL: i32 = libc::SIGTERM;

/// How often the parent is looked at even without a signal (in case a signal was missed).
const POLL: libc::timespec = libc::timespec {
    tv_sec: 0,
    tv_nsec: 100_000_000,
};

/// Run the command; exit like it, or kill the group if redlease dies first.
pub fn run(args: &SuperviseArgs) -> Result<u8, Failure> {
    let watched = watched_signals();
    // SAFETY: sigprocmask on an initialised set; blocked signals queue for sigtimedwait.
    unsafe {
        libc::sigprocmask(libc::SIG_BLOCK, &watched, std::ptr::null_mut());
    }
    if !parent_alive(args.parent) {
        // redlease died before the command started: start nothing.
        return Ok(exit::of_signal(libc::SIGKILL));
    }
    let mut child =
        spawn(&args.argv, watched).map_err(|e| crate::cmd::exec::spawn_failure(&e, &args.argv))?;
    loop {
        // Woken by a signal (consumed here) or the poll's timeout; either way the parent
        // and the command are looked at.
        // SAFETY: a zeroed siginfo_t is a valid out-parameter; the set is initialised.
        unsafe {
            let mut info: libc::siginfo_t = std::mem::zeroed();
            libc::sigtimedwait(&watched, &mut info, &POLL);
        }
        if !parent_alive(args.parent) {
            kill_own_group();
        }
        // Any other signal, with redlease alive, was sent to the whole group by `exec`
        // (the command has it too) or to this process alone: not ours to act on.
        match child.try_wait() {
            Ok(Some(status)) => {
                if let Some(code) = status.code() {
                    return Ok((code & 0xff) as u8);
                }
                return Ok(die_like(status.signal().unwrap_or(libc::SIGKILL)));
            }
            Ok(None) => {}
            Err(e) => {
                crate::warn(&format!(
                    "lost track of the command (waiting for it failed: {e}); killing it"
                ));
                kill_own_group();
            }
        }
    }
}

/// SIGHUP, SIGINT, SIGQUIT, SIGTERM (forwarded, or the parent-death signal) and SIGCHLD.
fn watched_signals() -> libc::sigset_t {
    // SAFETY: sigemptyset/sigaddset initialise and fill a local set.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for signal in [
            libc::SIGHUP,
            libc::SIGINT,
            libc::SIGQUIT,
            libc::SIGTERM,
            libc::SIGCHLD,
        ] {
            libc::sigaddset(&mut set, signal);
        }
        set
    }
}

/// Start the command in this process's group, with the signals the supervisor blocks
/// unblocked again (a blocked mask is inherited) and SIGKILL as its own parent-death
/// signal.
fn spawn(argv: &[OsString], watched: libc::sigset_t) -> io::Result<Child> {
    let Some((program, rest)) = argv.split_first() else {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "no command given",
        ));
    };
    let mut command = Command::new(program);
    command.args(rest);
    // SAFETY: getpid has no preconditions.
    let supervisor = unsafe { libc::getpid() };
    // SAFETY: only async-signal-safe calls between fork and exec (sigprocmask, prctl,
    // getppid, raise).
    unsafe {
        command.pre_exec(move || {
            libc::sigprocmask(libc::SIG_UNBLOCK, &watched, std::ptr::null_mut());
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong) == -1 {
                return Err(io::Error::last_os_error());
            }
            if libc::getppid() != supervisor {
                libc::raise(libc::SIGKILL);
            }
            Ok(())
        });
    }
    command.spawn()
}

/// Whether the process that started the supervisor is still its parent.
fn parent_alive(parent: i32) -> bool {
    // SAFETY: getppid has no preconditions.
    unsafe { libc::getppid() == parent }
}

/// SIGKILL to the supervisor's own group (the command and everything it started), when
/// the supervisor leads it; never to a group it does not lead (that would be redlease's
/// or the shell's).
fn kill_own_group() -> ! {
    // SAFETY: getpgrp/getpid have no preconditions; kill(2) addresses our own group.
    unsafe {
        let group = libc::getpgrp();
        if group > 1 && group == libc::getpid() {
            libc::kill(-group, libc::SIGKILL);
        }
        libc::_exit(i32::from(exit::of_signal(libc::SIGKILL)));
    }
}

/// End this process by `signal`, as the command ended, so that `exec` sees the same
/// status; without a core dump (the command dumped its own, if any). Returns the
/// shell's code for it if the signal does not end the process.
fn die_like(signal: i32) -> u8 {
    // SAFETY: plain system calls on this process: no core file, the default action for
    // `signal`, unblocked, then raised.
    unsafe {
        let none = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        libc::setrlimit(libc::RLIMIT_CORE, &none);
        libc::signal(signal, libc::SIG_DFL);
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, signal);
        libc::sigprocmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
        libc::raise(signal);
    }
    exit::of_signal(signal)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(words: &[&str]) -> Option<SuperviseArgs> {
        SuperviseArgs::from_args(words.iter().map(OsString::from))
    }

    #[test]
    fn only_the_exact_mode_is_the_supervisor() {
        let a = args(&["redlease", MODE, "42", "--", "sh", "-c", "x"]).unwrap();
        assert_eq!(a.parent, 42);
        assert_eq!(a.argv, ["sh", "-c", "x"]);
        assert!(args(&["redlease", "exec", "42", "--", "true"]).is_none());
        assert!(args(&["redlease", MODE, "x", "--", "true"]).is_none());
        assert!(args(&["redlease", MODE, "42", "true"]).is_none());
        assert!(args(&["redlease"]).is_none());
    }
}
