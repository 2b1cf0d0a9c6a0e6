//! The signals redlease listens for.
//!
//! Once a handler is installed the default action (dying, or stopping) is gone for good,
//! so every command that installs these must act on them: `exec` forwards the termination
//! signals to its command and handles job control itself, `sandbox` and `demo` stop their
//! servers. Installing them is also what lets those commands clean up instead of leaving
//! servers or keys behind.

use std::io;

use tokio::signal::unix::{Signal, SignalKind, signal};

/// SIGHUP, SIGINT, SIGQUIT, SIGTERM, as a stream of signal numbers.
pub struct Signals {
    hangup: Signal,
    interrupt: Signal,
    quit: Signal,
    terminate: Signal,
}

impl Signals {
    /// Install the handlers (needs a Tokio runtime).
    pub fn install() -> io::Result<Self> {
        Ok(Signals {
            hangup: signal(SignalKind::hangup())?,
            interrupt: signal(SignalKind::interrupt())?,
            quit: signal(SignalKind::quit())?,
            terminate: signal(SignalKind::terminate())?,
        })
    }

    /// The next signal received.
    pub async fn recv(&mut self) -> i32 {
        tokio::select! {
            Some(()) = self.hangup.recv() => libc::SIGHUP,
            Some(()) = self.interrupt.recv() => libc::SIGINT,
            Some(()) = self.quit.recv() => libc::SIGQUIT,
            Some(()) = self.terminate.recv() => libc::SIGTERM,
            else => std::future::pending().await,
        }
    }
}

/// Job control for `exec`: SIGTSTP sent to redlease, and SIGCHLD (a child that stopped).
pub struct JobControl {
    stop: Signal,
    child: Signal,
}

/// A job-control event.
pub enum Job {
    /// SIGTSTP (Ctrl-Z, or `kill -TSTP`).
    Stop,
    /// SIGCHLD: a child changed state (exited, stopped or continued).
    Child,
}

impl JobControl {
    /// Install the handlers (needs a Tokio runtime).
    pub fn install() -> io::Result<Self> {
        Ok(JobControl {
            stop: signal(SignalKind::from_raw(libc::SIGTSTP))?,
            child: signal(SignalKind::child())?,
        })
    }

    /// The next event.
    pub async fn recv(&mut self) -> Job {
        tokio::select! {
            Some(()) = self.stop.recv() => Job::Stop,
            Some(()) = self.child.recv() => Job::Child,
            else => std::future::pending().await,
        }
    }
}

/// The conventional name of a signal number, for messages.
pub fn name(signal: i32) -> String {
    match signal {
        libc::SIGINT => "SIGINT".into(),
        libc::SIGTERM => "SIGTERM".into(),
        libc::SIGKILL => "SIGKILL".into(),
        libc::SIGHUP => "SIGHUP".into(),
        libc::SIGQUIT => "SIGQUIT".into(),
        libc::SIGTSTP => "SIGTSTP".into(),
        other => format!("signal {other}"),
    }
}
