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
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use tokio::sync::mpsc;

use crate::error::{Error, LostReason};
use crate::lease::{LeaseCore, LeaseState};

/// Extends in flight at once; more due leases wait for a free slot.
const MAX_IN_FLIGHT: usize = 2048;
/// Retry delay floor after a failed extend.
const MIN_RETRY: Duration = Duration::from_millis(10);

/// The handle a manager keeps to its renewal task.
pub(crate) struct Renewer {
    tx: mpsc::UnboundedSender<Arc<LeaseCore>>,
}

impl Renewer {
    /// Start the renewal task on the current Tokio runtime.
    pub(crate) fn spawn() -> Option<Self> {
        let handle = tokio::runtime::Handle::try_current().ok()?;
        let (tx, rx) = mpsc::unbounded_channel();
        handle.spawn(run(rx));
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

    fn pop_due(&mut self, now: Instant) -> Option<Arc<LeaseCore>> {
        if self.next_at()? > now {
            return None;
        }
        self.heap.pop().map(|Reverse(d)| d.lease)
    }
}

async fn run(mut rx: mpsc::UnboundedReceiver<Arc<LeaseCore>>) {
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
                after_extend(&mut schedule, lease, started, result);
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
                    let Some(lease) = schedule.pop_due(now) else { break };
                    if let Some(extend) = due(&mut schedule, lease, now) {
                        in_flight.push(extend);
                    }
                }
            }
            else => break,
        }
    }
}

async fn sleep_until(at: Option<Instant>) {
    if let Some(at) = at {
        tokio::time::sleep_until(at.into()).await;
    }
}

/// A lease's renewal time has come: extend it, or retire it.
fn due(schedule: &mut Schedule, lease: Arc<LeaseCore>, now: Instant) -> Option<Extend> {
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
        return None;
    }
    if lease.cap_reached(now) {
        // Stop renewing; the lease ends at its deadline, loudly.
        lease.set_expiry_reason(LostReason::RenewalCapReached);
        schedule.push(deadline, lease);
        return None;
    }
    Some(Box::pin(async move {
        let started = Instant::now();
        let result = lease.renew().await;
        (lease, started, result)
    }))
}

fn after_extend(
    schedule: &mut Schedule,
    lease: Arc<LeaseCore>,
    started: Instant,
    result: Result<(), Error>,
) {
    match result {
        Ok(()) => {
            let at = started + lease.renew_interval();
            schedule.push(at, lease);
        }
        // Lost (already marked) or released meanwhile: retire it.
        Err(e) if e.is_lost() => {}
        Err(e) => {
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
