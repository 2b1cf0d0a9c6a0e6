//! The termination signals redlease listens for: SIGINT and SIGTERM.
//!
//! Once a handler is installed the default action (dying at once) is gone for good, so
//! every command that installs these must act on them: `exec` forwards them to its
//! command, `sandbox` stops its servers. Installing them is also what lets those
//! commands clean up instead of leaving servers or keys behind.

use std::io;

use tokio::signal::unix::{Signal, SignalKind, signal};

/// SIGINT and SIGTERM, as a stream of signal numbers.
pub struct Signals {
    interrupt: Signal,
    terminate: Signal,
}

impl Signals {
    /// Install the handlers (needs a Tokio runtime).
    pub fn install() -> io::Result<Self> {
        Ok(Signals {
            interrupt: signal(SignalKind::interrupt())?,
            terminate: signal(SignalKind::terminate())?,
        })
    }

    /// The next signal received: `libc::SIGINT` or `libc::SIGTERM`.
    pub async fn recv(&mut self) -> i32 {
        tokio::select! {
            Some(()) = self.interrupt.recv() => libc::SIGINT,
            Some(()) = self.terminate.recv() => libc::SIGTERM,
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
        other => format!("signal {other}"),
    }
}
