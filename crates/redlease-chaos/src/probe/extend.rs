//! Shortening extends and shrinking renewals (issue 10 item 1; G1, G4).
//!
//! The extend script always sets the new ttl on the nodes it reaches, so an extend whose
//! replies are lost still changes the keys. A holder that asked for a *shorter* ttl and
//! heard "unavailable" must therefore assume the shorter one: otherwise `remaining()`
//! counts on keys that are already gone and a second client wins while the holder still
//! believes it holds the lease. The same happens when renewal uses the acquire-time ttl
//! after a longer `extend`: each renewal shrinks the keys, each failed one leaves the long
//! deadline in place.
//!
//! Both probes sample the holder's `remaining()` against the keys on the real servers
//! (see [`crate::check::validity`]) and let a rival client, connected straight to the
//! servers, try to acquire; the rival winning while the holder still believes its lease
//! valid is a mutual-exclusion violation.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use redlease::protocol::Keys;
use redlease::{LeaseHandle, LockManager};
use redlease_testkit::{Cluster, Direction, Node, ProxiedCluster};

use super::sampler::sample_until;
use super::{Probe, ProbeOptions, ProbeOutcome, runtime, setup, start};
use crate::check::validity::{self, ValiditySample};

const RESOURCE: &str = "probe:extend";
const NODE_TIMEOUT: Duration = Duration::from_millis(100);
const SAMPLE_EVERY: Duration = Duration::from_millis(10);

async fn manager(urls: Vec<String>, ttl: Duration) -> io::Result<LockManager> {
    super::manager(urls, |b| {
        b.ttl(ttl)
            .max_ttl(Duration::from_secs(10))
            .node_timeout(NODE_TIMEOUT)
    })
    .await
}

fn lock_key() -> String {
    Keys::new(redlease::config::DEFAULT_KEY_PREFIX, RESOURCE).lock
}

/// What the rival saw.
struct Rivalry {
    /// How long after it started trying it won, if it did.
    won_after: Option<Duration>,
    /// The holder's `remaining()` when the rival won.
    holder_remaining: Duration,
}

/// The rival tries once every 20 ms until it wins or `limit` passes; a win is released
/// at once.
fn contend(
    rt: &tokio::runtime::Runtime,
    rival: &LockManager,
    holder: &LeaseHandle,
    limit: Duration,
) -> Rivalry {
    let started = Instant::now();
    while started.elapsed() < limit {
        if let Ok(lease) = rt.block_on(rival.try_acquire(RESOURCE)) {
            let holder_remaining = holder.remaining();
            let _ = rt.block_on(lease.release());
            return Rivalry {
                won_after: Some(started.elapsed()),
                holder_remaining,
            };
        }
        thread::sleep(Duration::from_millis(20));
    }
    Rivalry {
        won_after: None,
        holder_remaining: holder.remaining(),
    }
}

/// Judges one round: the samples against the keys, and the rival's win against the
/// holder's belief.
fn judge(outcome: &mut ProbeOutcome, round: usize, samples: &[ValiditySample], rivalry: &Rivalry) {
    let excesses = validity::excesses(samples, redlease::protocol::quorum(outcome.nodes));
    if let Some(worst) = excesses.iter().max_by_key(|e| e.excess_ms()) {
        outcome.violation(format!(
            "round {round}: G4: remaining() exceeded a quorum's keys in {} of {} samples, by up to {} ms (remaining {} ms, quorum's keys {} ms)",
            excesses.len(),
            samples.len(),
            worst.excess_ms(),
            worst.remaining_ms,
            worst.quorum_pttl_ms
        ));
    }
    if let Some(after) = rivalry.won_after
        && !rivalry.holder_remaining.is_zero()
    {
        outcome.violation(format!(
            "round {round}: G1: a second client acquired {after:?} into the round while the holder still counted {:?}",
            rivalry.holder_remaining
        ));
    }
}

/// `shortening-extend`: 3 nodes; a 6 s lease; every node SIGSTOPped; `extend(2 s)`
/// fails; the nodes resume and run the queued extends; a rival tries to acquire.
pub fn shortening(probe: &Probe, options: &ProbeOptions) -> io::Result<ProbeOutcome> {
    let (cluster, mut outcome, rt) = start(probe, 3)?;
    let nodes: Vec<&Node> = cluster.nodes().iter().collect();
    let key = lock_key();
    let holder = rt.block_on(manager(cluster.urls(), Duration::from_secs(6)))?;
    let rival = rt.block_on(manager(cluster.urls(), Duration::from_secs(6)))?;
    let started = Instant::now();
    let (mut failed_extends, mut rival_wins, mut samples_taken) = (0, 0, 0);
    let mut worst_remaining = Duration::ZERO;
    for round in 0..2 * options.rounds {
        if started.elapsed() > options.limit {
            break;
        }
        let mut lease = rt
            .block_on(holder.try_acquire(RESOURCE))
            .map_err(|e| setup("holder's acquire", e))?;
        let handle = lease.handle();
        let (stop, hold_off) = (AtomicBool::new(false), AtomicBool::new(false));
        let (samples, rivalry, extended) = thread::scope(|s| {
            let sampler =
                s.spawn(|| sample_until(&nodes, &key, &handle, SAMPLE_EVERY, &stop, &hold_off));
            thread::sleep(Duration::from_millis(100));
            hold_off.store(true, Ordering::SeqCst);
            let paused: io::Result<()> = nodes.iter().try_for_each(|n| n.pause());
            let extended = rt.block_on(lease.extend(Duration::from_secs(2)));
            let resumed: io::Result<()> = nodes.iter().try_for_each(|n| n.resume());
            // Let the queued extend scripts run before sampling again.
            thread::sleep(Duration::from_millis(100));
            hold_off.store(false, Ordering::SeqCst);
            let rivalry = contend(&rt, &rival, &handle, Duration::from_secs(7));
            stop.store(true, Ordering::SeqCst);
            let samples = sampler.join().unwrap_or_default();
            paused.and(resumed).map(|()| (samples, rivalry, extended))
        })?;
        outcome.trials += 1;
        samples_taken += samples.len();
        failed_extends += usize::from(extended.is_err());
        rival_wins += usize::from(rivalry.won_after.is_some());
        worst_remaining = worst_remaining.max(rivalry.holder_remaining);
        judge(&mut outcome, round, &samples, &rivalry);
        let _ = rt.block_on(lease.release());
    }
    outcome.measure("extends failed (all nodes stopped)", failed_extends);
    outcome.measure("rival wins", rival_wins);
    outcome.measure(
        "holder's remaining() when the rival won (worst)",
        format!("{worst_remaining:?}"),
    );
    outcome.measure("samples", samples_taken);
    Ok(outcome)
}

/// `renewal-shrink`: 3 nodes behind proxies; a lease of ttl 2 s extended to 6 s, kept
/// alive; the proxies drop every reply (requests still land), so renewals with the
/// acquire-time ttl shrink the keys and fail; a rival connected straight to the servers
/// tries to acquire.
pub fn renewal(probe: &Probe, options: &ProbeOptions) -> io::Result<ProbeOutcome> {
    let proxied = ProxiedCluster::wrap(Cluster::start(3)?)?;
    let mut outcome = ProbeOutcome::new(probe, 3);
    outcome.pids = proxied
        .cluster()
        .nodes()
        .iter()
        .filter_map(Node::pid)
        .collect();
    let nodes: Vec<&Node> = proxied.cluster().nodes().iter().collect();
    let key = lock_key();
    let rt = runtime()?;
    let holder = rt.block_on(manager(proxied.urls(), Duration::from_secs(2)))?;
    let rival = rt.block_on(manager(proxied.cluster().urls(), Duration::from_secs(2)))?;
    let started = Instant::now();
    let (mut rival_wins, mut told_lost, mut samples_taken) = (0, 0, 0);
    let mut worst_remaining = Duration::ZERO;
    for round in 0..2 * options.rounds {
        if started.elapsed() > options.limit {
            break;
        }
        let mut lease = rt
            .block_on(holder.try_acquire(RESOURCE))
            .map_err(|e| setup("holder's acquire", e))?;
        rt.block_on(lease.extend(Duration::from_secs(6)))
            .map_err(|e| setup("holder's extend(6 s)", e))?;
        let handle = lease.handle();
        for i in 0..proxied.len() {
            proxied.proxy(i).black_hole(Direction::ToClient, true);
        }
        {
            let _runtime = rt.enter();
            lease.keep_alive().map_err(|e| setup("keep_alive", e))?;
        }
        let (stop, hold_off) = (AtomicBool::new(false), AtomicBool::new(false));
        let (samples, rivalry) = thread::scope(|s| {
            let sampler =
                s.spawn(|| sample_until(&nodes, &key, &handle, SAMPLE_EVERY, &stop, &hold_off));
            let rivalry = contend(&rt, &rival, &handle, Duration::from_secs(7));
            stop.store(true, Ordering::SeqCst);
            (sampler.join().unwrap_or_default(), rivalry)
        });
        proxied.heal();
        outcome.trials += 1;
        samples_taken += samples.len();
        rival_wins += usize::from(rivalry.won_after.is_some());
        told_lost += usize::from(!handle.is_valid());
        worst_remaining = worst_remaining.max(rivalry.holder_remaining);
        judge(&mut outcome, round, &samples, &rivalry);
        let _ = rt.block_on(lease.release());
    }
    outcome.measure("rival wins", rival_wins);
    outcome.measure("holders no longer valid at the end", told_lost);
    outcome.measure(
        "holder's remaining() when the rival won (worst)",
        format!("{worst_remaining:?}"),
    );
    outcome.measure("samples", samples_taken);
    Ok(outcome)
}
