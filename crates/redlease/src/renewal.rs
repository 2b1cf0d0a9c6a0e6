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
//!   [`crate::LeaseHandle::lost`] future, which has its own timer, fires then too), with the
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
use crate::protocol::renewal as rules;

/// Extends in flight at once; more due leases wait for a free slot. Enough to fill each
/// node's batches (`batch`: up to 500 leases per script call), few enough that queueing
/// on a node stays well inside a node timeout where extends go one by one (a Cluster).
const MAX_IN_FLIGHT: usize = 2048;
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

/// What the renewal task needs of a lease. Implemented by the lease's shared core; a
/// trait so that this module does not depend on the lease module (which depends on it).
pub(crate) trait Renewable: Send + Sync + 'static {
    /// The deadline while the lease is held and still managed (not released, forgotten
    /// or lost); `None` retires it from the schedule.
    fn managed_deadline(&self) -> Option<Instant>;
    /// Time between renewals.
    fn interval(&self) -> Duration;
    /// Whether a configured cap stops renewal now.
    fn cap_reached(&self, now: Instant) -> bool;
    /// Record what a passed deadline will be reported as.
    fn set_expiry_reason(&self, reason: LostReason);
    /// The deadline passed: lost.
    fn mark_expired(&self);
    /// Whether the lease is lost.
    fn is_lost(&self) -> bool;
    /// The resource, for logs.
    fn resource(&self) -> &str;
    /// Extend once.
    fn renew(&self) -> impl Future<Output = Result<(), Error>> + Send;
}

/// A manager's renewal: the task (started on the first `keep_alive`, restarted if its
/// runtime went away) and its counters.
pub(crate) struct Renewals<L> {
    task: std::sync::Mutex<Option<mpsc::UnboundedSender<Arc<L>>>>,
    counters: Arc<Counters>,
}

impl<L> Default for Renewals<L> {
    fn default() -> Self {
        Renewals {
            task: std::sync::Mutex::new(None),
            counters: Arc::default(),
        }
    }
}

impl<L: Renewable> Renewals<L> {
    /// Add a lease to the schedule, starting (or restarting) the task if needed. False
    /// when there is no Tokio runtime to run it on.
    pub(crate) fn register(&self, lease: Arc<L>) -> bool {
        let Ok(mut task) = self.task.lock() else {
            return false;
        };
        let lease = match task.as_ref() {
            Some(tx) => match tx.send(lease) {
                Ok(()) => return true,
                // The task is gone (its runtime shut down): start another.
                Err(mpsc::error::SendError(lease)) => lease,
            },
            None => lease,
        };
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            return false;
        };
        let (tx, rx) = mpsc::unbounded_channel();
        handle.spawn(run(rx, Arc::clone(&self.counters)));
        let sent = tx.send(lease).is_ok();
        *task = Some(tx);
        sent
    }

    /// What the task has done so far.
    pub(crate) fn stats(&self) -> RenewalStats {
        self.counters.snapshot()
    }
}

/// One lease in the schedule.
struct Due<L> {
    at: Instant,
    seq: u64,
    lease: Arc<L>,
}

impl<L> PartialEq for Due<L> {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl<L> Eq for Due<L> {}
impl<L> PartialOrd for Due<L> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl<L> Ord for Due<L> {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

type Extend<L> = Pin<Box<dyn Future<Output = (Arc<L>, Instant, Result<(), Error>)> + Send>>;

struct Schedule<L> {
    heap: BinaryHeap<Reverse<Due<L>>>,
    seq: u64,
}

impl<L> Schedule<L> {
    fn push(&mut self, at: Instant, lease: Arc<L>) {
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

    fn pop_due(&mut self, now: Instant) -> Option<Due<L>> {
        if self.next_at()? > now {
            return None;
        }
        self.heap.pop().map(|Reverse(d)| d)
    }
}

async fn run<L: Renewable>(mut rx: mpsc::UnboundedReceiver<Arc<L>>, counters: Arc<Counters>) {
    let mut schedule = Schedule {
        heap: BinaryHeap::new(),
        seq: 0,
    };
    let mut in_flight: FuturesUnordered<Extend<L>> = FuturesUnordered::new();
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
                    let at = Instant::now() + lease.interval();
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
fn due<L: Renewable>(
    schedule: &mut Schedule<L>,
    counters: &Counters,
    entry: Due<L>,
    now: Instant,
) -> Option<Extend<L>> {
    let lease = entry.lease;
    // Released, dropped, forgotten or lost: never renewed again.
    let deadline = lease.managed_deadline()?;
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

fn after_extend<L: Renewable>(
    schedule: &mut Schedule<L>,
    counters: &Counters,
    lease: Arc<L>,
    started: Instant,
    result: Result<(), Error>,
) {
    match result {
        Ok(()) => {
            counters.renewals.fetch_add(1, Ordering::Relaxed);
            let at = started + lease.interval();
            schedule.push(at, lease);
        }
        // Lost (already marked) or released meanwhile: retire it.
        Err(e) if e.is_lost() => {
            if lease.is_lost() {
                counters.lost.fetch_add(1, Ordering::Relaxed);
            }
        }
        Err(e) => {
            counters.failures.fetch_add(1, Ordering::Relaxed);
            // Not lost yet: retry well before the deadline, and mark it lost at the
            // deadline if no extend got through by then.
            tracing::warn!(resource = lease.resource(), error = %e, "lease renewal failed; retrying");
            lease.set_expiry_reason(LostReason::RenewalFailed);
            if let Some(deadline) = lease.managed_deadline() {
                let now = Instant::now();
                let left = deadline.saturating_duration_since(now);
                let retry = rules::retry_delay(lease.interval(), left);
                schedule.push((now + retry).min(deadline), lease);
            }
        }
    }
}
