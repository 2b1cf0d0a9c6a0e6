//! `redlease exec`: run a command while holding a lease (a distributed `flock`).
//!
//! The order of events is what makes it safe:
//! 1. acquire; SIGINT/SIGTERM while waiting gives up without running anything (an
//!    attempt cut short leaves at most keys that expire by their ttl);
//! 2. start renewal, then the command, with its fencing token in the environment;
//! 3. while it runs: forward SIGINT/SIGTERM to it; if the lease is lost, stop its whole
//!    process group (SIGTERM, then SIGKILL) because it no longer has the right to work;
//! 4. release only after the command has exited, so the next holder never overlaps it.

use std::ffi::OsString;
use std::io;
use std::process::ExitStatus;

use redlease::{Lease, LostReason};

use crate::child::{Group, signal_group};
use crate::cli::{Cli, ExecArgs};
use crate::exit::{self, Failure};
use crate::signals::{self, Signals};

/// How the command's run ended.
enum Outcome {
    /// It exited (or waiting for it failed).
    Exited(io::Result<ExitStatus>),
    /// The lease was lost first.
    Lost(LostReason),
}

/// Acquire, run, release.
pub async fn run(cli: &Cli, args: &ExecArgs) -> Result<u8, Failure> {
    let mut signals = Signals::install()
        .map_err(|e| Failure::new(exit::LOST, format!("cannot install signal handlers: {e}")))?;
    let ttl = args.ttl.ttl;
    let manager = crate::connect::manager(cli, ttl).await?;
    let lease = tokio::select! {
        lease = crate::waiting::acquire(&manager, &args.resource, ttl, args.wait) => lease?,
        signal = signals.recv() => {
            return Err(Failure::new(
                exit::of_signal(signal),
                format!(
                    "interrupted by {} while waiting for {:?}; the command was not run",
                    signals::name(signal),
                    args.resource
                ),
            ));
        }
    };
    if let Err(e) = lease.keep_alive() {
        release(lease, args).await;
        return Err(e.into());
    }
    let env = [
        ("REDLEASE_FENCING_TOKEN", lease.fencing_token().to_string()),
        ("REDLEASE_RESOURCE", lease.resource().to_owned()),
        ("REDLEASE_OWNER", lease.owner().to_owned()),
    ];
    let mut group = match Group::spawn(&args.command, &env) {
        Ok(group) => group,
        Err(e) => {
            release(lease, args).await;
            return Err(spawn_failure(&e, &args.command));
        }
    };
    let pgid = group.pgid();
    let lost = lease.lost();
    tokio::pin!(lost);
    let outcome = loop {
        tokio::select! {
            // Loss first: if both happened, the command may have worked without the lease.
            biased;
            reason = &mut lost => break Outcome::Lost(reason),
            status = group.wait() => break Outcome::Exited(status),
            signal = signals.recv() => signal_group(pgid, signal),
        }
    };
    match outcome {
        Outcome::Exited(Ok(status)) => {
            release(lease, args).await;
            Ok(exit::of_status(status))
        }
        Outcome::Exited(Err(e)) => {
            // Cannot tell whether it still runs: stop it before giving the lease back.
            let _ = group.terminate(args.kill_after).await;
            release(lease, args).await;
            Err(Failure::new(
                exit::LOST,
                format!("lost track of the command (waiting for it failed: {e}); it was stopped"),
            ))
        }
        Outcome::Lost(reason) => {
            crate::warn(&format!(
                "lost the lease on {:?} while the command was running ({reason}); sending SIGTERM to its process group, SIGKILL after {}",
                args.resource,
                humantime::format_duration(args.kill_after)
            ));
            let _ = group.terminate(args.kill_after).await;
            // Whatever keys of ours are left would only block the next holder.
            let _ = lease.release().await;
            Err(Failure::new(
                exit::LOST,
                format!(
                    "the command was stopped because the lease on {:?} was lost; its work may be incomplete. Check the servers' health, or use a longer --ttl",
                    args.resource
                ),
            ))
        }
    }
}

/// Release after the command is done; a failure is reported but does not change the
/// exit status (the keys expire by their ttl anyway).
async fn release(lease: Lease, args: &ExecArgs) {
    if let Err(e) = lease.release().await {
        crate::warn(&format!(
            "could not release the lease on {:?} ({e}); it expires by itself within {}",
            args.resource,
            humantime::format_duration(args.ttl.ttl)
        ));
    }
}

/// The failure for a command that could not be started, with the shell's codes.
fn spawn_failure(error: &io::Error, argv: &[OsString]) -> Failure {
    let program = argv
        .first()
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default();
    match error.kind() {
        io::ErrorKind::NotFound => Failure::new(
            exit::NOT_FOUND,
            format!("command not found: {program:?}; check its name, or give its full path"),
        ),
        io::ErrorKind::PermissionDenied => Failure::new(
            exit::CANNOT_EXECUTE,
            format!(
                "cannot execute {program:?}: permission denied; check that it is an executable file (chmod +x)"
            ),
        ),
        _ => Failure::new(
            exit::CANNOT_EXECUTE,
            format!("cannot execute {program:?}: {error}"),
        ),
    }
}
