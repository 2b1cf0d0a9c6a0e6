//! One implementation, one scenario, one round: the workers and what they measure.
//!
//! C workers share a ticket counter of N operations. Each takes a ticket, acquires its
//! key (the same free key, its own key, or the one contended key), runs the critical
//! section, releases, and goes on until the tickets or the round's time run out. The
//! critical section is the test kit's racy counter ([`redlease_testkit::workload`]), kept
//! in memory here so that it adds no round trip to what is measured: a deliberately
//! **non-atomic** read-modify-write (load, yield to the scheduler, store + 1) with a
//! referee. Under a lock that ever lets two holders in, updates get lost and entries
//! overlap, and both are counted; fencing tokens that go backwards (redlease only; the
//! others have none) count as one more violation. Every worker keeps its own histograms
//! (acquire wait: from starting to acquire to holding; release) so measuring does not add
//! contention.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use redlease_testkit::workload::{RacyCounter, micros};

use crate::backend::{AcquireError, Backend};
use crate::error::BenchError;
use crate::options::Scenario;
use crate::report::ErrorCounts;

/// Extra time past the round's bound before stuck workers are aborted.
const GRACE: Duration = Duration::from_secs(5);

/// What one round does.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Plan {
    pub scenario: Scenario,
    pub clients: usize,
    pub ops: u64,
    pub hold: Duration,
    pub wait: Duration,
    pub distinct_keys: bool,
    pub max_run: Duration,
}

/// What one round measured.
pub(crate) struct Outcome {
    /// Critical sections completed (acquired and released).
    pub completed: u64,
    /// Acquisitions that failed, by kind.
    pub errors: ErrorCounts,
    /// Releases the implementation reported as failed.
    pub release_failures: u64,
    pub elapsed: Duration,
    pub per_worker: Vec<u64>,
    /// Acquire wait, µs.
    pub acquire: Histogram<u64>,
    /// Release time, µs.
    pub release: Histogram<u64>,
    /// Lost counter updates: completed critical sections minus the counters' sum.
    pub violations: u64,
    /// Entries into a critical section while another holder was inside.
    pub overlaps: u64,
    /// The round hit its time bound before using all tickets.
    pub timed_out: bool,
}

struct Shared {
    next_ticket: AtomicU64,
    /// One racy counter per key.
    slots: Vec<RacyCounter>,
    progress: Arc<AtomicU64>,
}

fn count(errors: &mut ErrorCounts, e: AcquireError) {
    match e {
        AcquireError::Busy => errors.busy += 1,
        AcquireError::Unavailable => errors.unavailable += 1,
        AcquireError::Other => errors.other += 1,
    }
}

struct WorkerResult {
    completed: u64,
    errors: ErrorCounts,
    release_failures: u64,
    acquire: Histogram<u64>,
    release: Histogram<u64>,
    timed_out: bool,
}

/// Run one round of `plan` on `backend`. `histogram` is an empty histogram to clone;
/// `progress` is incremented once per ticket used.
pub(crate) async fn run(
    backend: Arc<Backend>,
    plan: Plan,
    histogram: &Histogram<u64>,
    progress: Arc<AtomicU64>,
) -> Result<Outcome, BenchError> {
    let clients = plan.clients.max(1);
    let slot_count = match plan.scenario {
        Scenario::Distinct => clients,
        Scenario::Uncontended | Scenario::Contended => 1,
    };
    let shared = Arc::new(Shared {
        next_ticket: AtomicU64::new(0),
        slots: (0..slot_count).map(|_| RacyCounter::in_memory()).collect(),
        progress,
    });
    let barrier = Arc::new(tokio::sync::Barrier::new(clients + 1));
    let start_at = Arc::new(std::sync::OnceLock::<Instant>::new());
    let mut handles = Vec::with_capacity(clients);
    for worker in 0..clients {
        let backend = Arc::clone(&backend);
        let shared = Arc::clone(&shared);
        let barrier = Arc::clone(&barrier);
        let start_at = Arc::clone(&start_at);
        let acquire = histogram.clone();
        let release = histogram.clone();
        handles.push(tokio::spawn(async move {
            barrier.wait().await;
            let start = *start_at.get_or_init(Instant::now);
            worker_loop(&backend, &shared, plan, worker, start, acquire, release).await
        }));
    }
    barrier.wait().await;
    let start = *start_at.get_or_init(Instant::now);
    let bound = plan.max_run + plan.wait.min(plan.max_run) + GRACE;
    let aborts: Vec<_> = handles.iter().map(|h| h.abort_handle()).collect();
    let joined = tokio::time::timeout(bound, futures_util::future::join_all(handles)).await;
    let elapsed = start.elapsed();
    let results = match joined {
        Ok(results) => results,
        Err(_) => {
            aborts.iter().for_each(|a| a.abort());
            return Err(BenchError::Internal(format!(
                "{} workers did not stop within {bound:?} (an implementation hangs?)",
                plan.scenario
            )));
        }
    };

    let mut outcome = Outcome {
        completed: 0,
        errors: ErrorCounts::default(),
        release_failures: 0,
        elapsed,
        per_worker: Vec::with_capacity(clients),
        acquire: histogram.clone(),
        release: histogram.clone(),
        violations: 0,
        overlaps: 0,
        timed_out: false,
    };
    for result in results {
        let r = result.map_err(|e| BenchError::Internal(format!("worker failed: {e}")))?;
        outcome.completed += r.completed;
        outcome.errors.add(r.errors);
        outcome.release_failures += r.release_failures;
        outcome.per_worker.push(r.completed);
        outcome.timed_out |= r.timed_out;
        outcome
            .acquire
            .add(&r.acquire)
            .map_err(|e| BenchError::Internal(format!("histogram: {e:?}")))?;
        outcome
            .release
            .add(&r.release)
            .map_err(|e| BenchError::Internal(format!("histogram: {e:?}")))?;
    }
    for slot in &shared.slots {
        let verdict = slot
            .verdict()
            .await
            .map_err(|e| BenchError::Internal(format!("in-memory counter: {e}")))?;
        outcome.violations += verdict.lost_updates + u64::from(!verdict.tokens.increasing());
        outcome.overlaps += verdict.overlaps;
    }
    Ok(outcome)
}

async fn worker_loop(
    backend: &Backend,
    shared: &Shared,
    plan: Plan,
    worker: usize,
    start: Instant,
    mut acquire_hist: Histogram<u64>,
    mut release_hist: Histogram<u64>,
) -> WorkerResult {
    let run_deadline = start + plan.max_run;
    let fixed_key = match plan.scenario {
        Scenario::Uncontended => "u".to_owned(),
        Scenario::Distinct => format!("d:{worker}"),
        Scenario::Contended => "c".to_owned(),
    };
    let slot = match plan.scenario {
        Scenario::Distinct => &shared.slots[worker % shared.slots.len()],
        Scenario::Uncontended | Scenario::Contended => &shared.slots[0],
    };
    let (mut completed, mut release_failures) = (0u64, 0u64);
    let mut errors = ErrorCounts::default();
    let mut timed_out = false;
    loop {
        if Instant::now() >= run_deadline {
            timed_out = shared.next_ticket.load(Ordering::Relaxed) < plan.ops;
            break;
        }
        let ticket = shared.next_ticket.fetch_add(1, Ordering::Relaxed);
        if ticket >= plan.ops {
            break;
        }
        let key = if plan.distinct_keys && plan.scenario == Scenario::Uncontended {
            format!("u:{ticket}")
        } else {
            fixed_key.clone()
        };
        let t0 = Instant::now();
        let deadline = (t0 + plan.wait).min(run_deadline);
        match backend.acquire(&key, deadline).await {
            Ok(held) => {
                acquire_hist.saturating_record(micros(t0.elapsed()));
                // In memory, the section cannot fail; the lease's validity is the
                // implementations' business, not measured here.
                let _ = slot.section(held.fencing_token(), plan.hold, || true).await;
                let t1 = Instant::now();
                if !backend.release(held).await {
                    release_failures += 1;
                }
                release_hist.saturating_record(micros(t1.elapsed()));
                completed += 1;
            }
            Err(e) => count(&mut errors, e),
        }
        shared.progress.fetch_add(1, Ordering::Relaxed);
    }
    WorkerResult {
        completed,
        errors,
        release_failures,
        acquire: acquire_hist,
        release: release_hist,
        timed_out,
    }
}
