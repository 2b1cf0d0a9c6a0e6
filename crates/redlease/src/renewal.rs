//! Background renewal: one task per manager keeps every kept-alive lease extended.
//!
//! A task and a timer per lease would cost memory and wake-ups per lease and tick, and
//! falls behind when thousands of leases are held. Instead one task keeps a min-heap of
//! due times, sleeps until the earliest, and sends the extends that are due as concurrent
//! rounds over the shared per-node connections (which pipeline them).
//!
//! Renewal is where leases are usually lost silently. Here:
//! - a lease is extended at a fraction of its ttl (a third by default), so an extend that
//!   fails has time for several retries before the deadline;
//! - when extends keep failing, the lease is marked lost *at* its deadline (and the
//!   [`crate::Lease::lost`] future, which has its own timer, fires then too), with the
//!   reason `RenewalFailed`;
//! - a lease that is released, dropped, forgotten or lost is never extended again: the
//!   state is checked under the lease's operation lock, which release also takes, so no
//!   extend can slip in after a release;
//! - an optional cap (renewals, total hold time) stops renewing, and the lease then
//!   expires with the reason `RenewalCapReached`.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use tokio::sync::mpsc;

use crate::error::{Error, LostReason};
use crate::lease::{LeaseCore, LeaseState};

/// Extends in flight at once; more due leases wait for a free slot. Enough to keep the
/// pipelines full, few enough that queueing on a node stays well inside a node timeout.
const MAX_IN_FLIGHT: usize = 256;
/// Retry delay floor after a failed extend.
const MIN_RETRY: Duration = Duration::from_millis(10);

/// A renewal late by more than this counts as a missed tick.
const LATE: Duration = Duration::from_millis(50);

/// What the renewal task has done so far, from [`crate::LockManager::renewal_stats`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RenewalStats {
    /// Leases in the renewal schedule now (released ones leave at their next due time).
    pub scheduled: usize,
    /// Successful renewals.
    pub renewals: u64,
    /// Renewals that failed (each is retried until the deadline).
    pub failures: u64,
    /// Renewals that started more than 50 ms after they were due.
    pub late: u64,
    /// The largest delay between a renewal's due time and its start.
    pub max_lateness: Duration,
    /// Leases that renewal let expire (failed until the deadline) or found lost.
    pub lost: u64,
}

/// Counters shared between the task and the manager.
#[derive(Default)]
pub(crate) struct Counters {
    scheduled: AtomicUsize,
    renewals: AtomicU64,
    failures: AtomicU64,
    late: AtomicU64,
    max_lateness_us: AtomicU64,
    lost: AtomicU64,
}

impl Counters {
    pub(crate) fn snapshot(&self) -> RenewalStats {
        RenewalStats {
            scheduled: self.scheduled.load(Ordering::Relaxed),
            renewals: self.renewals.load(Ordering::Relaxed),
            failures: self.failures.load(Ordering::Relaxed),
            late: self.late.load(Ordering::Relaxed),
            max_lateness: Duration::from_micros(self.max_lateness_us.load(Ordering::Relaxed)),
            lost: self.lost.load(Ordering::Relaxed),
        }
    }

    fn record_start(&self, lateness: Duration) {
        if lateness > LATE {
            self.late.fetch_add(1, Ordering::Relaxed);
        }
        let us = u64::try_from(lateness.as_micros()).unwrap_or(u64::MAX);
        self.max_lateness_us.fetch_max(us, Ordering::Relaxed);
    }
}

/// The handle a manager keeps to its renewal task.
pub(crate) struct Renewer {
    tx: mpsc::UnboundedSender<Arc<LeaseCore>>,
}

impl Renewer {
    /// Start the renewal task on the current Tokio runtime.
    pub(crate) fn spawn(counters: Arc<Counters>) -> Option<Self> {
        let handle = tokio::runtime::Handle::try_current().ok()?;
        let (tx, rx) = mpsc::unbounded_channel();
        handle.spawn(run(rx, counters));
        Some(Renewer { tx })
    }

    /// Add a lease; false if the task is gone (the runtime shut down).
    pub(crate) fn register(&self, lease: Arc<LeaseCore>) -> bool {
        self.tx.send(lease).is_ok()
    }
}

/// One lease in the schedule.
struct Due {
    at: Instant,
    seq: u64,
    lease: Arc<LeaseCore>,
}

impl PartialEq for Due {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl Eq for Due {}
impl PartialOrd for Due {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Due {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

type Extend = Pin<Box<dyn Future<Output = (Arc<LeaseCore>, Instant, Result<(), Error>)> + Send>>;

struct Schedule {
    heap: BinaryHeap<Reverse<Due>>,
    seq: u64,
}

impl Schedule {
    fn push(&mut self, at: Instant, lease: Arc<LeaseCore>) {
        self.seq += 1;
        self.heap.push(Reverse(Due {
            at,
            seq: self.seq,
            lease,
        }));
    }

    fn next_at(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse(d)| d.at)
    }

    fn pop_due(&mut self, now: Instant) -> Option<Due> {
        if self.next_at()? > now {
            return None;
        }
        self.heap.pop().map(|Reverse(d)| d)
    }
}

async fn run(mut rx: mpsc::UnboundedReceiver<Arc<LeaseCore>>, counters: Arc<Counters>) {
    let mut schedule = Schedule {
        heap: BinaryHeap::new(),
        seq: 0,
    };
    let mut in_flight: FuturesUnordered<Extend> = FuturesUnordered::new();
    let mut open = true;
    loop {
        let next_at = schedule.next_at();
        tokio::select! {
            biased;
            Some((lease, started, result)) = in_flight.next(), if !in_flight.is_empty() => {
                after_extend(&mut schedule, &counters, lease, started, result);
            }
            registered = rx.recv(), if open => match registered {
                Some(lease) => {
                    let at = Instant::now() + lease.renew_interval();
                    schedule.push(at, lease);
                }
                None => open = false,
            },
            () = sleep_until(next_at), if next_at.is_some() => {
                let now = Instant::now();
                while in_flight.len() < MAX_IN_FLIGHT {
                    let Some(entry) = schedule.pop_due(now) else { break };
                    if let Some(extend) = due(&mut schedule, &counters, entry, now) {
                        in_flight.push(extend);
                    }
                }
            }
            else => break,
        }
        counters
            .scheduled
            .store(schedule.heap.len() + in_flight.len(), Ordering::Relaxed);
    }
}

async fn sleep_until(at: Option<Instant>) {
    if let Some(at) = at {
        tokio::time::sleep_until(at.into()).await;
    }
}

/// A lease's renewal time has come: extend it, or retire it.
fn due(schedule: &mut Schedule, counters: &Counters, entry: Due, now: Instant) -> Option<Extend> {
    let lease = entry.lease;
    let deadline = match lease.state() {
        LeaseState::Held { deadline } => deadline,
        // Released, dropped or lost: never renewed again.
        LeaseState::Released | LeaseState::Lost(_) => return None,
    };
    if !lease.is_armed() {
        // Forgotten: no longer ours to manage.
        return None;
    }
    if now >= deadline {
        lease.mark_expired();
        counters.lost.fetch_add(1, Ordering::Relaxed);
        return None;
    }
    if lease.cap_reached(now) {
        // Stop renewing; the lease ends at its deadline, loudly.
        lease.set_expiry_reason(LostReason::RenewalCapReached);
        schedule.push(deadline, lease);
        return None;
    }
    counters.record_start(now.saturating_duration_since(entry.at));
    Some(Box::pin(async move {
        let started = Instant::now();
        let result = lease.renew().await;
        (lease, started, result)
    }))
}

fn after_extend(
    schedule: &mut Schedule,
    counters: &Counters,
    lease: Arc<LeaseCore>,
    started: Instant,
    result: Result<(), Error>,
) {
    match result {
        Ok(()) => {
            counters.renewals.fetch_add(1, Ordering::Relaxed);
            let at = started + lease.renew_interval();
            schedule.push(at, lease);
        }
        // Lost (already marked) or released meanwhile: retire it.
        Err(e) if e.is_lost() => {
            if matches!(lease.state(), LeaseState::Lost(_)) {
                counters.lost.fetch_add(1, Ordering::Relaxed);
            }
        }
        Err(e) => {
            counters.failures.fetch_add(1, Ordering::Relaxed);
            // Not lost yet: retry well before the deadline, and mark it lost at the
            // deadline if no extend got through by then.
            tracing::warn!(resource = lease.resource(), error = %e, "lease renewal failed; retrying");
            lease.set_expiry_reason(LostReason::RenewalFailed);
            if let LeaseState::Held { deadline } = lease.state() {
                let now = Instant::now();
                let left = deadline.saturating_duration_since(now);
                let retry = (lease.renew_interval() / 4).min(left / 3).max(MIN_RETRY);
                schedule.push((now + retry).min(deadline), lease);
            }
        }
    }
}
