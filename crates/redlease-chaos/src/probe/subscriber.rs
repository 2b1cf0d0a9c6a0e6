//! Half-open subscriber connections (issue 10 item 7; G10).
//!
//! Waiters are woken by releases published on each node; each lock manager keeps one
//! subscriber connection per node. When the path under that connection dies silently,
//! nothing fails: messages just stop, and waiters fall back to timers and polling. The
//! probe puts a [`Proxy`] in front of every node, measures hand-over latency
//! (from the holder's release to the waiter's acquire returning) while healthy, then
//! cuts every subscriber connection half-open (commands keep working) and measures
//! again. A library that notices the dead connection (a health check) and replaces it
//! hands over within milliseconds again after a short detection time; one that does not
//! waits for its fallback timer.
//!
//! To tell a wake-up from a timer, the waiter's fallback and retry delays are set to
//! 1 s: a hand-over slower than [`MAX_P50_MS`] (250 ms) at the median can only have come
//! from a timer. The holder's ttl (10 s) is longer than any hand-over, so no expiry
//! interferes.

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::thread;
use std::time::{Duration, Instant};

use redlease::{LockManager, RetryPolicy};
use redlease_testkit::Proxy;

use super::{Probe, ProbeOptions, ProbeOutcome, quantile_ms, setup, start};

const RESOURCE: &str = "probe:subscriber";
const NODES: usize = 3;
const TTL: Duration = Duration::from_secs(10);
const FALLBACK: Duration = Duration::from_secs(1);

/// Largest median hand-over latency under the fault, ms.
pub const MAX_P50_MS: f64 = 250.0;

async fn manager(urls: Vec<String>, waiter: bool) -> io::Result<LockManager> {
    super::manager(urls, |b| {
        let b = b.ttl(TTL);
        if waiter {
            b.wake_up_fallback(FALLBACK).retry(RetryPolicy {
                base: FALLBACK,
                max: FALLBACK,
            })
        } else {
            b
        }
    })
    .await
}

/// One hand-over: the holder acquires, the waiter starts waiting, the holder releases;
/// the time from the release to the waiter's lease.
fn handover(
    rt: &tokio::runtime::Runtime,
    holder: &LockManager,
    waiter: &LockManager,
) -> io::Result<Duration> {
    let lease = rt
        .block_on(holder.try_acquire(RESOURCE))
        .map_err(|e| setup("holder's acquire", e))?;
    let w = waiter.clone();
    let waiting = rt.spawn(async move { w.acquire(RESOURCE).await.map(|l| (Instant::now(), l)) });
    thread::sleep(Duration::from_millis(200));
    let released_at = Instant::now();
    let _ = rt.block_on(lease.release());
    let (got_at, lease) = rt
        .block_on(waiting)
        .map_err(|e| setup("waiter task", e))?
        .map_err(|e| setup("waiter's acquire", e))?;
    let _ = rt.block_on(lease.release());
    Ok(got_at.saturating_duration_since(released_at))
}

/// The `half-open-subscriber` probe.
pub fn run(probe: &Probe, options: &ProbeOptions) -> io::Result<ProbeOutcome> {
    let (cluster, mut outcome, rt) = start(probe, NODES)?;
    let gates = cluster
        .nodes()
        .iter()
        .map(|n| {
            let port = n
                .port()
                .ok_or_else(|| io::Error::other("node without a TCP port"))?;
            Proxy::start(SocketAddr::from((Ipv4Addr::LOCALHOST, port)))
        })
        .collect::<io::Result<Vec<_>>>()?;
    let urls: Vec<String> = gates.iter().map(Proxy::url).collect();
    let holder = rt.block_on(manager(urls.clone(), false))?;
    let waiter = rt.block_on(manager(urls, true))?;
    let trials = 6 * options.rounds;
    let mut healthy = Vec::new();
    for _ in 0..trials {
        healthy.push(handover(&rt, &holder, &waiter)?);
    }
    let cut: usize = gates.iter().map(Proxy::half_open_subscribers).sum();
    if cut == 0 {
        return Err(io::Error::other(
            "no subscriber connection to cut: the waiter never subscribed",
        ));
    }
    let mut faulty = Vec::new();
    for _ in 0..trials {
        faulty.push(handover(&rt, &holder, &waiter)?);
    }
    outcome.trials = 2 * trials;
    let live_after: usize = gates.iter().map(Proxy::subscribers).sum();
    let healthy_p50 = quantile_ms(&mut healthy, 0.5);
    let faulty_p50 = quantile_ms(&mut faulty, 0.5);
    outcome.measure("subscriber connections cut half-open", cut);
    outcome.measure("live subscriber connections afterwards", live_after);
    outcome.measure(
        "hand-over p50 / p99, healthy",
        format!(
            "{healthy_p50:.1} / {:.1} ms",
            quantile_ms(&mut healthy, 0.99)
        ),
    );
    outcome.measure(
        "hand-over p50 / p99, subscribers half-open",
        format!("{faulty_p50:.1} / {:.1} ms", quantile_ms(&mut faulty, 0.99)),
    );
    outcome.measure(
        "hand-overs under the fault, ms",
        format!(
            "{:?}",
            faulty.iter().map(|d| d.as_millis()).collect::<Vec<_>>()
        ),
    );
    if faulty_p50 > MAX_P50_MS {
        outcome.violation(format!(
            "G10: with subscriber connections half-open the median hand-over took {faulty_p50:.0} ms (healthy {healthy_p50:.1} ms, bound {MAX_P50_MS} ms): waiters were woken by timers, not releases"
        ));
    }
    drop(gates);
    Ok(outcome)
}
