//! Departed and impatient waiters (issue 10 item 4; G10).
//!
//! A waiter whose wait ran out, or whose acquire future was dropped, has left; the lock
//! must not be reserved for it. Two measurements:
//!
//! - **after departures**: a holder holds; three waiters with a 150 ms wait give up and a
//!   fourth acquire future is dropped by a 100 ms timeout; then the holder releases and a
//!   third client's `try_acquire` follows at once. Nobody waits any more, so it must
//!   succeed; *busy* there is a violation (the hand-off reserved for a departed waiter).
//! - **hand-overs with impatient callers**: eight clients loop on `acquire`, holding
//!   20 ms each time, for three seconds: first all waiting up to 5 s (nobody departs:
//!   the reference on this machine), then four of them waiting only 30 ms, so that they
//!   give up while others hold and leave entries at the head of the queue while the
//!   patient ones sleep until they are woken. Reserving the lock for
//!   departed waiters stalls hand-overs for the reservation window after each departure.
//!   The floor asserted is the larger of [`MIN_HANDOVERS_PER_SEC`] and
//!   [`MIN_SHARE_OF_PATIENT`] of the reference rate: departures may cost some
//!   throughput, not most of it; a ratio, so that machine load moves both alike.

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use redlease::LockManager;
use tokio::task::JoinSet;

use super::{Probe, ProbeOptions, ProbeOutcome, setup, start};

const RESOURCE: &str = "probe:departed";
const NODES: usize = 3;
const TTL: Duration = Duration::from_secs(5);

/// Hand-overs per second that impatient callers must at least reach.
pub const MIN_HANDOVERS_PER_SEC: f64 = 10.0;

/// Impatient callers must reach at least this share of the patient callers' rate.
pub const MIN_SHARE_OF_PATIENT: f64 = 0.25;

/// How long an impatient caller waits.
const IMPATIENT_WAIT: Duration = Duration::from_millis(30);

/// How long a patient caller waits.
const PATIENT_WAIT: Duration = Duration::from_secs(5);

/// How long each caller holds the lock: about the impatient wait, so that callers do
/// give up while others hold.
const HOLD: Duration = Duration::from_millis(20);

/// Callers in the hand-over measurement, and how long it runs.
const CALLERS: usize = 8;
const RATE_WINDOW: Duration = Duration::from_secs(3);

async fn manager(urls: Vec<String>) -> io::Result<LockManager> {
    super::manager(urls, |b| b.ttl(TTL)).await
}

/// The `departed-waiters` probe.
pub fn run(probe: &Probe, options: &ProbeOptions) -> io::Result<ProbeOutcome> {
    let (cluster, mut outcome, rt) = start(probe, NODES)?;
    let urls = cluster.urls();
    let holder = rt.block_on(manager(urls.clone()))?;
    let third = rt.block_on(manager(urls.clone()))?;
    let mut waiters = Vec::new();
    for _ in 0..4 {
        waiters.push(rt.block_on(manager(urls.clone()))?);
    }
    let mut refused = 0;
    for trial in 0..5 * options.rounds {
        outcome.trials += 1;
        // Not the subject: a departed waiter's reservation may delay it (item 4 itself).
        let lease = rt
            .block_on(holder.acquire_for(RESOURCE, TTL, Duration::from_secs(3)))
            .map_err(|e| setup("holder's acquire", e))?;
        rt.block_on(async {
            let mut tasks = JoinSet::new();
            for w in &waiters[..3] {
                let w = w.clone();
                tasks.spawn(async move {
                    let _ = w
                        .acquire_for(RESOURCE, TTL, Duration::from_millis(150))
                        .await;
                });
            }
            let dropped = waiters[3].clone();
            tasks.spawn(async move {
                let _ = tokio::time::timeout(Duration::from_millis(100), dropped.acquire(RESOURCE))
                    .await;
            });
            while tasks.join_next().await.is_some() {}
        });
        thread::sleep(Duration::from_millis(50));
        let _ = rt.block_on(lease.release());
        match rt.block_on(third.try_acquire(RESOURCE)) {
            Ok(l) => {
                let _ = rt.block_on(l.release());
            }
            Err(e) => {
                refused += 1;
                outcome.violation(format!(
                    "trial {trial}: released with every waiter gone, yet try_acquire failed: {e}"
                ));
            }
        }
    }
    outcome.measure("try_acquire refused after the release", refused);
    let (patient, _) = rt.block_on(handovers(&urls, &[PATIENT_WAIT; CALLERS]))?;
    let patient_rate = patient as f64 / RATE_WINDOW.as_secs_f64();
    let mut mixed = [PATIENT_WAIT; CALLERS];
    mixed[CALLERS / 2..].fill(IMPATIENT_WAIT);
    let (handovers, failures) = rt.block_on(handovers(&urls, &mixed))?;
    let rate = handovers as f64 / RATE_WINDOW.as_secs_f64();
    outcome.measure(
        "hand-overs/s, 8 callers waiting 5 s (nobody departs), hold 20 ms",
        format!("{patient_rate:.1}"),
    );
    outcome.measure(
        "hand-overs/s, 4 callers waiting 5 s and 4 waiting 30 ms, hold 20 ms",
        format!("{rate:.1} ({handovers} in {RATE_WINDOW:?}, {failures} calls gave up)"),
    );
    let floor = MIN_HANDOVERS_PER_SEC.max(patient_rate * MIN_SHARE_OF_PATIENT);
    if rate < floor {
        outcome.violation(format!(
            "G10: only {rate:.1} hand-overs/s with impatient callers, against {patient_rate:.1} with patient ones (floor {floor:.1}: the larger of {MIN_HANDOVERS_PER_SEC}/s and {MIN_SHARE_OF_PATIENT} of the patient rate)"
        ));
    }
    Ok(outcome)
}

/// One caller per entry of `waits`, each waiting up to its entry, for [`RATE_WINDOW`]:
/// successful acquisitions and given-up calls.
async fn handovers(urls: &[String], waits: &[Duration]) -> io::Result<(usize, usize)> {
    let won = Arc::new(AtomicUsize::new(0));
    let gave_up = Arc::new(AtomicUsize::new(0));
    let mut managers = Vec::with_capacity(waits.len());
    for &wait in waits {
        managers.push((manager(urls.to_vec()).await?, wait));
    }
    let until = Instant::now() + RATE_WINDOW;
    let mut tasks = JoinSet::new();
    for (m, wait) in managers {
        let (won, gave_up) = (Arc::clone(&won), Arc::clone(&gave_up));
        tasks.spawn(async move {
            while Instant::now() < until {
                match m.acquire_for(RESOURCE, TTL, wait).await {
                    Ok(lease) => {
                        tokio::time::sleep(HOLD).await;
                        let _ = lease.release().await;
                        won.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(_) => {
                        gave_up.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        });
    }
    while tasks.join_next().await.is_some() {}
    Ok((won.load(Ordering::Relaxed), gave_up.load(Ordering::Relaxed)))
}
