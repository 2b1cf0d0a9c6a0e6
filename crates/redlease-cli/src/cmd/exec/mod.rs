//! `redlease exec`: run a command while holding a lease (a distributed `flock`).
//!
//! The order of events is what makes it safe:
//! 1. check that `--kill-after` fits in the ttl, then acquire; a termination signal while
//!    waiting gives up without running anything;
//! 2. start renewal, then the command (its own process group, killed if redlease dies,
//!    the terminal's foreground on a terminal), with its fencing token in the environment;
//! 3. while it runs (`supervise`): forward termination signals to its group, handle
//!    Ctrl-Z, warn when renewal fails and when it recovers, and stop the group *before*
//!    the lease can end (`guard`);
//! 4. release only after the command has exited, so the next holder never overlaps it.

mod guard;
mod supervise;

use std::ffi::OsString;
use std::io;

use redlease::Lease;

use crate::child::{self, Group};
use crate::cli::ExecArgs;
use crate::exit::{self, Failure};
use crate::signals::{self, JobControl, Signals};

use self::guard::Guard;
use self::supervise::Outcome;

/// What `exec` says on stderr: warnings unless `-q`, progress with `-v`.
#[derive(Debug, Clone, Copy)]
pub struct Say {
    verbose: bool,
    quiet: bool,
}

impl Say {
    /// A warning (hidden by `-q`).
    pub fn warn(self, message: &str) {
        if !self.quiet {
            crate::warn(message);
        }
    }

    /// Progress (shown with `-v`).
    pub fn info(self, message: &str) {
        if self.verbose {
            crate::warn(message);
        }
    }
}

/// Acquire, run, release.
pub async fn run(args: &ExecArgs) -> Result<u8, Failure> {
    let ttl = args.ttl.ttl;
    let guard = Guard::new(ttl, args.kill_after)?;
    let say = Say {
        verbose: args.verbose,
        quiet: args.quiet,
    };
    let mut signals = Signals::install().map_err(handlers)?;
    let mut jobs = JobControl::install().map_err(handlers)?;
    let manager = crate::connect::manager(&args.connection, ttl).await?;
    let mut lease = tokio::select! {
        lease = crate::waiting::acquire(&manager, &args.resource, ttl, &args.wait) => lease?,
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
        release(lease, args, say).await;
        return Err(e.into());
    }
    // Minted by the acquisition (the CLI's managers mint there): at once.
    let token = match lease.fencing_token().await {
        Ok(token) => token,
        Err(e) => {
            release(lease, args, say).await;
            return Err(e.into());
        }
    };
    let holder = crate::holder::Holder::exec(&args.program(), ttl);
    crate::holder::describe(&lease, &holder, |m| say.warn(m)).await;
    say.info(&format!(
        "acquired {:?} (fencing token {token}, valid for {})",
        args.resource,
        humantime::format_duration(guard::whole_millis(lease.remaining()))
    ));
    let env = [
        ("REDLEASE_FENCING_TOKEN", token.to_string()),
        ("REDLEASE_RESOURCE", lease.resource().to_owned()),
        ("REDLEASE_OWNER", lease.owner().to_owned()),
    ];
    let argv = args.program();
    let foreground = child::owns_terminal();
    let mut group = match Group::spawn(&argv, &env, foreground) {
        Ok(group) => group,
        Err(e) => {
            release(lease, args, say).await;
            return Err(Failure::new(
                exit::INTERNAL,
                format!(
                    "cannot start redlease's supervisor for the command: {e}; the command was not run"
                ),
            ));
        }
    };
    let outcome = supervise::supervise(supervise::Run {
        manager: &manager,
        lease: &mut lease,
        group: &mut group,
        signals: &mut signals,
        jobs: &mut jobs,
        guard: &guard,
        foreground,
        say,
    })
    .await;
    if foreground {
        child::reclaim_terminal();
    }
    finish(outcome, lease, &mut group, args, &guard, say).await
}

/// Act on how the run ended: release, and choose the exit code.
async fn finish(
    outcome: Outcome,
    lease: Lease,
    group: &mut Group,
    args: &ExecArgs,
    guard: &Guard,
    say: Say,
) -> Result<u8, Failure> {
    let resource = &args.resource;
    match outcome {
        Outcome::Exited(Ok(status)) => {
            release(lease, args, say).await;
            Ok(exit::of_status(status))
        }
        Outcome::Exited(Err(e)) => {
            // Cannot tell whether it still runs: stop it before giving the lease back.
            let _ = group.terminate(guard.kill_after()).await;
            release(lease, args, say).await;
            Err(Failure::new(
                exit::INTERNAL,
                format!("lost track of the command (waiting for it failed: {e}); it was stopped"),
            ))
        }
        Outcome::AtRisk => {
            say.warn(&format!(
                "the lease on {resource:?} was not renewed in time ({} left): sending SIGTERM to the command's process group, SIGKILL in {} (before the lease can end)",
                humantime::format_duration(guard::whole_millis(lease.remaining())),
                humantime::format_duration(guard.kill_after())
            ));
            let _ = group.terminate(guard.kill_after()).await;
            // Whatever keys of ours are left would only block the next holder.
            let _ = lease.release().await;
            Err(Failure::new(
                args.lost_exit_code,
                format!(
                    "the command was stopped because the lease on {resource:?} could not be renewed; its work may be incomplete. Check the servers' health, or use a longer --ttl"
                ),
            ))
        }
        Outcome::Lost(reason) => {
            say.warn(&format!(
                "lost the lease on {resource:?} while the command was running ({reason}); killing its process group"
            ));
            let _ = group.kill().await;
            let _ = lease.release().await;
            Err(Failure::new(
                args.lost_exit_code,
                format!(
                    "the command was stopped because the lease on {resource:?} was lost; its work may be incomplete. Check the servers' health, or use a longer --ttl"
                ),
            ))
        }
    }
}

fn handlers(e: io::Error) -> Failure {
    Failure::new(
        exit::INTERNAL,
        format!("cannot install signal handlers: {e}"),
    )
}

/// Release after the command is done; a failure is reported but does not change the
/// exit status (the keys expire by their ttl anyway).
async fn release(lease: Lease, args: &ExecArgs, say: Say) {
    match lease.release().await {
        Ok(()) => say.info(&format!("released {:?}", args.resource)),
        Err(e) => say.warn(&format!(
            "could not release the lease on {:?} ({e}); it expires by itself within {}",
            args.resource,
            humantime::format_duration(args.ttl.ttl)
        )),
    }
}

/// The failure for a command that could not be started, with the shell's codes (the
/// supervisor reports it).
pub fn spawn_failure(error: &io::Error, argv: &[OsString]) -> Failure {
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
