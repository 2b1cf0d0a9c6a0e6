//! Exit codes, and the one error type every command returns.
//!
//! Scripts branch on the exit status, so each failure maps to a fixed code (sysexits
//! where one fits) and to one line on stderr that says what was wrong and what to do.
//! The mapping from library errors lives here and nowhere else.

use std::fmt;
use std::process::ExitStatus;

use redlease::ErrorKind;

/// Success.
pub const OK: u8 = 0;
/// The owner given no longer holds the lease (`release`, `extend`); a demo check failed.
pub const NOT_HELD: u8 = 1;
/// EX_USAGE: invalid usage or configuration.
pub const USAGE: u8 = 64;
/// EX_UNAVAILABLE: fewer than a quorum of servers reachable, or redis-server missing.
pub const UNAVAILABLE: u8 = 69;
/// EX_SOFTWARE: an internal error (a bug in redlease).
pub const INTERNAL: u8 = 70;
/// EX_NOPERM: a server refused our credentials (wrong or missing password, ACL).
pub const NOPERM: u8 = 77;
/// EX_IOERR: could not write the output (`acquire` then releases the lease).
pub const IO: u8 = 74;
/// EX_TEMPFAIL: held by someone else and the wait ran out.
pub const BUSY: u8 = 75;
/// The lease was lost (or at risk of being lost) while the command ran, and the command
/// was stopped. Not a sysexits code, and not one a shell uses, so that a script can tell
/// it from the command's own failures and from internal errors (70).
pub const LOST: u8 = 79;
/// The command was found but could not be executed.
pub const CANNOT_EXECUTE: u8 = 126;
/// The command was not found.
pub const NOT_FOUND: u8 = 127;

/// The exit codes, for `--help`, the man page and the README.
pub const HELP: &str = "\
Exit codes:
  0    success
  1    release/extend: the owner given does not hold the lease; demo: a check failed
  64   invalid usage or configuration (the message names the option)
  69   fewer than a quorum of servers reachable, or redis-server/redlease-bench missing
  70   internal error (a bug in redlease: please report it)
  74   the output could not be written (acquire then releases the lease)
  75   the resource is held by someone else and the wait ran out (-E/--conflict-exit-code)
  77   a server refused our credentials: wrong or missing password, or an ACL denial
  79   exec: the lease was lost, or could not be renewed in time, and the command was
       stopped (--lost-exit-code)
  126  exec: the command could not be executed; 127: it was not found
  128+N exec: the command was killed by signal N; otherwise exec exits with the command's
       own status

Environment: every option can be set with the REDLEASE_* variable shown next to it;
REDLEASE_PASSWORD is the servers' password (never put it in the URL on a shared host).";

/// A failed command: the exit code and the message for stderr.
#[derive(Debug)]
pub struct Failure {
    /// Process exit code.
    pub code: u8,
    /// What went wrong and what to do, without the `redlease: ` prefix.
    pub message: String,
}

impl Failure {
    /// A failure with this code and message.
    pub fn new(code: u8, message: impl Into<String>) -> Self {
        Failure {
            code,
            message: message.into(),
        }
    }

    /// A library error, with the exit code of its kind and advice on what to do.
    pub fn from_lib(error: &redlease::Error) -> Self {
        if error.kind() != ErrorKind::Busy
            && let Some(failure) = crate::refusal::explain(&crate::refusal::of_error(error))
        {
            return failure;
        }
        let (code, advice) = match error.kind() {
            ErrorKind::Busy => (
                BUSY,
                "try again later, or wait longer with --wait (e.g. --wait 1m, or --wait forever)",
            ),
            ErrorKind::ValiditySpent => (
                BUSY,
                "the servers answered too slowly for the ttl: try again, or use a longer --ttl",
            ),
            ErrorKind::Unavailable => (
                UNAVAILABLE,
                "check that the servers in --servers or REDLEASE_SERVERS are running and reachable",
            ),
            ErrorKind::InvalidArgument => return crate::connect::invalid_argument(error),
            ErrorKind::Lost => (LOST, "the lease is gone: acquire it again"),
            _ => (INTERNAL, "this is unexpected; please report it"),
        };
        Failure::new(code, format!("{error}; {advice}"))
    }

    /// A command whose output could not be written (stdout closed, disk full...).
    pub fn output(error: &std::io::Error) -> Self {
        Failure::new(IO, format!("cannot write the output: {error}"))
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "redlease: {}", self.message)
    }
}

impl From<redlease::Error> for Failure {
    fn from(error: redlease::Error) -> Self {
        Failure::from_lib(&error)
    }
}

/// The exit code that reports a child's status the way shells do: its own code, or
/// 128 + the signal that killed it.
pub fn of_status(status: ExitStatus) -> u8 {
    use std::os::unix::process::ExitStatusExt;
    if let Some(code) = status.code() {
        // Exit statuses are 0-255 on Unix; the truncation keeps what the shell would see.
        return (code & 0xff) as u8;
    }
    status.signal().map_or(INTERNAL, of_signal)
}

/// The exit code for "ended by `signal`": 128 + its number.
pub fn of_signal(signal: i32) -> u8 {
    // Signal numbers are below 128 on every Unix, so this stays within 129..=255.
    128 + (signal & 0x7f) as u8
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::ExitStatusExt;

    #[test]
    fn statuses_map_like_a_shell() {
        assert_eq!(of_status(ExitStatus::from_raw(7 << 8)), 7);
        assert_eq!(of_status(ExitStatus::from_raw(libc::SIGKILL)), 137);
        assert_eq!(of_status(ExitStatus::from_raw(libc::SIGTERM)), 143);
    }

    #[test]
    fn library_errors_get_their_codes() {
        // Real errors from the library: nothing listens on port 1, and a ttl of zero is
        // refused before anything is sent.
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let manager = runtime
            .block_on(
                redlease::LockManager::builder()
                    .servers(["redis://127.0.0.1:1"])
                    .build(),
            )
            .expect("valid configuration");
        let unavailable = runtime
            .block_on(manager.try_acquire("r"))
            .expect_err("nothing listens on port 1");
        let failure = Failure::from_lib(&unavailable);
        assert_eq!(failure.code, UNAVAILABLE);
        assert!(failure.to_string().starts_with("redlease: resource \"r\""));
        let invalid = runtime
            .block_on(manager.acquire_for(
                "r",
                std::time::Duration::ZERO,
                std::time::Duration::ZERO,
            ))
            .expect_err("zero ttl");
        assert_eq!(Failure::from_lib(&invalid).code, USAGE);
    }
}
