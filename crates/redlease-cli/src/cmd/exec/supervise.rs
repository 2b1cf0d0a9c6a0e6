//! Watching the command and the lease together until one of them ends.
//!
//! One loop, woken by whatever happens first: the lease is lost, the command exits, a
//! termination signal arrives (forwarded to the command's group; the lease is released
//! once it has exited), a job-control event (Ctrl-Z), or the tick on which renewal is
//! watched and the guard asks whether the command must be stopped before the deadline.
//!
//! Ctrl-Z: redlease stops the command's group, gives the terminal back, and stops
//! itself, so the shell sees the job stopped. Renewal stops with it. On SIGCONT the
//! lease is checked first (still valid, and a quorum agrees when extending it): lost, and
//! the command is killed without running another instant; held, and the command gets
//! the terminal back and SIGCONT. On a terminal, Ctrl-Z reaches the command (it has the
//! foreground), which stops; redlease learns it from SIGCHLD and does the same.

use std::io;
use std::process::ExitStatus;
use std::time::{Duration, Instant};

use redlease::{Lease, LockManager, LostReason, RenewalStats};

use super::Say;
use super::guard::{Guard, whole_millis};
use crate::child::{self, Group, signal_group};
use crate::signals::{self, Job, JobControl, Signals};

/// How often renewal and the deadline are looked at.
const TICK: Duration = Duration::from_millis(25);

/// How the command's run ended.
pub enum Outcome {
    /// It exited (or waiting for it failed).
    Exited(io::Result<ExitStatus>),
    /// The lease came within the guard's reach of its deadline without being renewed.
    AtRisk,
    /// The lease was lost.
    Lost(LostReason),
}

/// What the loop works with.
pub struct Run<'a> {
    pub manager: &'a LockManager,
    pub lease: &'a mut Lease,
    pub group: &'a mut Group,
    pub signals: &'a mut Signals,
    pub jobs: &'a mut JobControl,
    pub guard: &'a Guard,
    pub foreground: bool,
    pub say: Say,
}

/// Run until the command exits or the lease is lost or at risk.
pub async fn supervise(run: Run<'_>) -> Outcome {
    let Run {
        manager,
        lease,
        group,
        signals,
        jobs,
        guard,
        foreground,
        say,
    } = run;
    let pgid = group.pgid();
    let resource = lease.resource().to_owned();
    let lost = lease.lost();
    tokio::pin!(lost);
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut renewal = Renewal::new(manager.renewal_stats());
    loop {
        tokio::select! {
            // Loss first: if both happened, the command may have worked without the lease.
            biased;
            reason = &mut lost => return Outcome::Lost(reason),
            status = group.wait() => return Outcome::Exited(status),
            signal = signals.recv() => {
                say.info(&format!("{}: forwarded to the command's process group", signals::name(signal)));
                signal_group(pgid, signal);
            }
            job = jobs.recv() => {
                let stop = match job {
                    Job::Stop => true,
                    Job::Child => group.leader_stopped(),
                };
                if stop && let Some(outcome) = suspend(lease, pgid, foreground, say).await {
                    return outcome;
                }
            }
            _ = tick.tick() => {
                renewal.watch(manager.renewal_stats(), lease, &resource, say);
                if guard.at_risk(lease.deadline(), Instant::now()) {
                    return match lease.state() {
                        redlease::LeaseState::Lost(reason) => Outcome::Lost(reason),
                        _ => Outcome::AtRisk,
                    };
                }
            }
        }
    }
}

/// Stop the command and redlease; once continued, check the lease. `Some` when the run
/// must end.
async fn suspend(
    lease: &mut Lease,
    pgid: libc::pid_t,
    foreground: bool,
    say: Say,
) -> Option<Outcome> {
    signal_group(pgid, libc::SIGSTOP);
    if foreground {
        child::reclaim_terminal();
    }
    say.info("stopped; the lease is checked again when continued");
    child::stop_self();
    // Continued: the lease must still be held, and held by a quorum, before the command
    // may run another instant.
    if !lease.is_valid() {
        return Some(Outcome::Lost(match lease.state() {
            redlease::LeaseState::Lost(reason) => reason,
            _ => LostReason::Expired,
        }));
    }
    // By the lease's own ttl: the one renewals use.
    let ttl = lease.ttl();
    match lease.extend(ttl).await {
        Err(e) if e.is_lost() => {
            return Some(Outcome::Lost(LostReason::NotHeld));
        }
        Err(e) => say.warn(&format!(
            "continued; could not extend the lease ({e}); it is valid for {} more",
            humantime::format_duration(whole_millis(lease.remaining()))
        )),
        Ok(()) => say.info("continued; the lease is still held"),
    }
    if foreground {
        // SAFETY: plain system calls on our own terminal.
        unsafe {
            child::take_terminal(pgid);
        }
    }
    signal_group(pgid, libc::SIGCONT);
    None
}

/// Warnings at the first failed renewal and when renewal recovers.
struct Renewal {
    failures: u64,
    renewals: u64,
    failing: bool,
}

impl Renewal {
    fn new(stats: RenewalStats) -> Self {
        Renewal {
            failures: stats.failures,
            renewals: stats.renewals,
            failing: false,
        }
    }

    fn watch(&mut self, stats: RenewalStats, lease: &Lease, resource: &str, say: Say) {
        let left = humantime::format_duration(whole_millis(lease.remaining()));
        if stats.failures > self.failures && !self.failing {
            self.failing = true;
            say.warn(&format!(
                "renewing the lease on {resource:?} failed; it is still valid for {left}; the command will be stopped before it ends unless a renewal succeeds"
            ));
        } else if stats.renewals > self.renewals && self.failing {
            self.failing = false;
            say.warn(&format!(
                "renewal recovered: the lease on {resource:?} is valid for {left} again"
            ));
        }
        self.failures = stats.failures;
        self.renewals = stats.renewals;
    }
}
