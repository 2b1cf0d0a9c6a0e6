//! The renewal soak: many kept-alive leases in one process, checked while they are held.
//!
//! Renewal is where leases get lost silently: a watchdog that falls behind lets leases
//! expire while their holders still work. The soak acquires many leases (distinct
//! resources, concurrently in batches), calls `keep_alive()` on each the moment it is
//! held, holds them, and checks about every 250 ms that no lease's remaining validity
//! fell below what an on-time renewal guarantees: `ttl * (1 - fraction) - drift - slack`
//! (the remaining validity just before a renewal is due is `ttl * (1 - fraction) -
//! drift`; `slack` allows for the extend's own round trip). Each lease below it at a check
//! is a *missed tick*. It reports renewals done vs expected, the manager's renewal stats,
//! leases still valid at the end (must be all), CPU time of the client and (when started
//! here) of the redis-servers, and resident memory per lease. Used by the `renewal`
//! binary; a library module so the CLI can offer it too.

use redlease_testkit::workload::micros;
use std::io::IsTerminal;
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use redlease::{Lease, LockManager, Renewal};
use serde::Serialize;

use crate::error::BenchError;
use crate::sys;
use crate::table::{Table, fmt_mib, fmt_us};

/// What the soak does.
#[derive(Debug, Clone, PartialEq)]
pub struct SoakOptions {
    /// Leases to acquire and keep alive (1 to 200,000).
    pub leases: usize,
    /// Lease ttl (300 ms to 5 min).
    pub ttl: Duration,
    /// How long to hold them (1 s to 1 h).
    pub hold: Duration,
    /// Renew every `ttl * fraction` (more than 0, at most 0.75).
    pub fraction: f64,
    /// Acquisitions (and releases) in flight at once (1 to 10,000).
    pub batch: usize,
    /// Tolerance below the on-time minimum before a check counts a missed tick.
    pub slack: Duration,
    /// Per-node timeout; `None` = redlease's default.
    pub node_timeout: Option<Duration>,
    /// Mint fencing tokens when acquiring.
    pub fencing: bool,
    /// Say what is happening on stderr when it is a terminal.
    pub progress: bool,
}

impl Default for SoakOptions {
    fn default() -> Self {
        SoakOptions {
            leases: 10_000,
            ttl: Duration::from_secs(3),
            hold: Duration::from_secs(20),
            fraction: 1.0 / 3.0,
            batch: 500,
            slack: Duration::from_millis(50),
            node_timeout: None,
            fencing: true,
            progress: true,
        }
    }
}

impl SoakOptions {
    /// Check that every number is in range, so the soak is bounded.
    pub fn validate(&self) -> Result<(), BenchError> {
        if self.leases == 0 || self.leases > 200_000 {
            return Err(BenchError::invalid(
                "leases",
                format!("{} is out of range (1 to 200000)", self.leases),
            ));
        }
        if self.hold < Duration::from_secs(1) || self.hold > Duration::from_secs(3_600) {
            return Err(BenchError::invalid(
                "seconds",
                format!("{:?} is out of range (1 s to 1 h)", self.hold),
            ));
        }
        if self.batch == 0 || self.batch > 10_000 {
            return Err(BenchError::invalid(
                "batch",
                format!("{} is out of range (1 to 10000)", self.batch),
            ));
        }
        if !(self.fraction > 0.0 && self.fraction <= 0.75) {
            return Err(BenchError::invalid(
                "fraction",
                format!("{} is out of range (0 to 0.75]", self.fraction),
            ));
        }
        if self.ttl < Duration::from_millis(300) || self.ttl > Duration::from_secs(300) {
            return Err(BenchError::invalid(
                "ttl",
                format!("{:?} is out of range (300 ms to 5 min)", self.ttl),
            ));
        }
        Ok(())
    }
}

/// What the soak measured (durations in the unit their name says).
#[derive(Debug, Clone, Serialize)]
pub struct SoakOutcome {
    pub nodes: usize,
    pub ttl_ms: u64,
    pub fraction: f64,
    pub hold_s: f64,
    pub leases_requested: usize,
    pub leases_held: usize,
    pub acquire_errors: usize,
    pub keep_alive_errors: usize,
    pub acquire_s: f64,
    pub renewals: u64,
    pub renewals_expected: u64,
    pub renewals_in_hold: u64,
    pub renewals_in_hold_expected: u64,
    pub renewal_failures: u64,
    pub renewals_late: u64,
    pub max_lateness_us: u64,
    pub lost: u64,
    pub checks: u64,
    pub missed_ticks: u64,
    pub min_remaining_us: Option<u64>,
    pub threshold_us: u64,
    pub valid_at_end: usize,
    pub client_cpu_hold_s: Option<f64>,
    pub client_cpu_hold_pct_of_core: Option<f64>,
    pub client_cpu_total_s: Option<f64>,
    pub server_cpu_hold_s: Option<f64>,
    pub server_cpu_per_renewal_us: Option<f64>,
    pub rss_before_bytes: Option<u64>,
    pub rss_after_acquire_bytes: Option<u64>,
    pub rss_end_bytes: Option<u64>,
    pub rss_per_lease_bytes: Option<f64>,
    pub release_s: f64,
    pub release_errors: usize,
    pub scheduled_after_release: usize,
}

/// Run the soak against `urls`. `local_pids`: the redis-servers' pids when the caller
/// started them (their CPU time is measured, and they are thrown away afterwards);
/// `None` for servers given by the user, from which the soak's keys are deleted at the end.
pub async fn run(
    options: &SoakOptions,
    urls: &[String],
    local_pids: Option<&[u32]>,
) -> Result<SoakOutcome, BenchError> {
    let pids = local_pids.unwrap_or(&[]);
    options.validate()?;
    crate::servers::check_loopback(urls)?;
    let run_id: String = redlease::protocol::new_owner().chars().take(8).collect();
    let mut builder = LockManager::builder()
        .servers(urls.iter().cloned())
        .ttl(options.ttl)
        .wait(Duration::from_secs(5))
        .key_prefix(format!("rlb-renewal:{run_id}:"))
        .fencing(options.fencing)
        .renewal(Renewal {
            fraction: options.fraction,
            ..Renewal::default()
        });
    if let Some(t) = options.node_timeout {
        builder = builder.node_timeout(t);
    }
    let manager = builder.build().await?;
    let interval = options.ttl.mul_f64(options.fraction);
    let drift = redlease::protocol::drift(options.ttl, 0.01);
    let threshold = options
        .ttl
        .mul_f64(1.0 - options.fraction)
        .saturating_sub(drift)
        .saturating_sub(options.slack);

    let cpu_start = sys::cpu_time();
    let rss_before = sys::rss_bytes();
    let show = options.progress && std::io::stderr().is_terminal();
    if show {
        eprintln!(
            "acquiring {} leases on {} node(s)...",
            options.leases,
            urls.len()
        );
    }

    // Acquire in batches; keep each lease alive the moment it is held.
    let acquire_start = Instant::now();
    let mut leases: Vec<(Lease, Instant)> = Vec::with_capacity(options.leases);
    let (mut acquire_errors, mut keep_alive_errors) = (0usize, 0usize);
    let indices: Vec<usize> = (0..options.leases).collect();
    for chunk in indices.chunks(options.batch) {
        let results = join_all(chunk.iter().map(|i| {
            let manager = &manager;
            async move {
                let lease = manager.acquire(&format!("lease:{i}")).await?;
                let kept = lease.keep_alive().map(|()| Instant::now());
                Ok::<_, redlease::Error>((lease, kept))
            }
        }))
        .await;
        for r in results {
            match r {
                Ok((lease, Ok(at))) => leases.push((lease, at)),
                Ok((lease, Err(_))) => {
                    keep_alive_errors += 1;
                    let _ = lease.release().await;
                }
                Err(_) => acquire_errors += 1,
            }
        }
    }
    let acquire_s = acquire_start.elapsed().as_secs_f64();
    let rss_after_acquire = sys::rss_bytes();

    // Hold, checking every lease's remaining validity about every 250 ms.
    if show {
        eprintln!(
            "holding {} leases for {:?} (checks every 250 ms)...",
            leases.len(),
            options.hold
        );
    }
    let stats_hold_start = manager.renewal_stats();
    let cpu_hold_start = sys::cpu_time();
    let srv_hold_start = sys::processes_cpu_time(pids);
    let hold_start = Instant::now();
    let hold_end = hold_start + options.hold;
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let (mut checks, mut missed) = (0u64, 0u64);
    let mut min_remaining: Option<Duration> = None;
    while Instant::now() < hold_end {
        tick.tick().await;
        checks += 1;
        for (lease, _) in &leases {
            let left = lease.remaining();
            if left < threshold {
                missed += 1;
            }
            min_remaining = Some(min_remaining.map_or(left, |m| m.min(left)));
        }
    }
    let held_for = hold_start.elapsed();
    let cpu_hold_end = sys::cpu_time();
    let srv_hold_end = sys::processes_cpu_time(pids);
    let stats = manager.renewal_stats();
    let valid_at_end = leases.iter().filter(|(l, _)| l.is_valid()).count();
    let rss_end = sys::rss_bytes();
    let now = Instant::now();
    let renewals_expected: u64 = leases
        .iter()
        .map(|(_, kept)| {
            (now.saturating_duration_since(*kept).as_secs_f64() / interval.as_secs_f64()) as u64
        })
        .sum();
    let renewals_in_hold = stats.renewals.saturating_sub(stats_hold_start.renewals);
    let renewals_in_hold_expected =
        (leases.len() as f64 * held_for.as_secs_f64() / interval.as_secs_f64()) as u64;

    // Release everything.
    let leases_held = leases.len();
    let release_start = Instant::now();
    let mut release_errors = 0usize;
    let mut pending = leases.into_iter().map(|(l, _)| l).peekable();
    while pending.peek().is_some() {
        let batch: Vec<Lease> = pending.by_ref().take(options.batch).collect();
        release_errors += join_all(batch.into_iter().map(Lease::release))
            .await
            .iter()
            .filter(|r| r.is_err())
            .count();
    }
    let release_s = release_start.elapsed().as_secs_f64();
    // Released leases leave the schedule at their next due time.
    tokio::time::sleep(interval + Duration::from_millis(100)).await;
    let after = manager.renewal_stats();

    let cpu_hold = cpu_hold_end
        .zip(cpu_hold_start)
        .map(|(a, b)| a.saturating_sub(b));
    let srv_hold = srv_hold_end
        .zip(srv_hold_start)
        .map(|(a, b)| a.saturating_sub(b))
        .filter(|_| !pids.is_empty());
    let outcome = SoakOutcome {
        nodes: urls.len(),
        ttl_ms: u64::try_from(options.ttl.as_millis()).unwrap_or(u64::MAX),
        fraction: options.fraction,
        hold_s: held_for.as_secs_f64(),
        leases_requested: options.leases,
        leases_held,
        acquire_errors,
        keep_alive_errors,
        acquire_s,
        renewals: stats.renewals,
        renewals_expected,
        renewals_in_hold,
        renewals_in_hold_expected,
        renewal_failures: stats.failures,
        renewals_late: stats.late,
        max_lateness_us: micros(stats.max_lateness),
        lost: stats.lost,
        checks,
        missed_ticks: missed,
        min_remaining_us: min_remaining.map(micros),
        threshold_us: micros(threshold),
        valid_at_end,
        client_cpu_hold_s: cpu_hold.map(|d| d.as_secs_f64()),
        client_cpu_hold_pct_of_core: cpu_hold
            .map(|d| 100.0 * d.as_secs_f64() / held_for.as_secs_f64().max(1e-9)),
        client_cpu_total_s: sys::cpu_time()
            .zip(cpu_start)
            .map(|(a, b)| a.saturating_sub(b).as_secs_f64()),
        server_cpu_hold_s: srv_hold.map(|d| d.as_secs_f64()),
        server_cpu_per_renewal_us: srv_hold
            .filter(|_| renewals_in_hold > 0)
            .map(|d| d.as_secs_f64() * 1e6 / renewals_in_hold as f64),
        rss_before_bytes: rss_before,
        rss_after_acquire_bytes: rss_after_acquire,
        rss_end_bytes: rss_end,
        rss_per_lease_bytes: rss_after_acquire
            .zip(rss_before)
            .filter(|_| leases_held > 0)
            .map(|(a, b)| a.saturating_sub(b) as f64 / leases_held as f64),
        release_s,
        release_errors,
        scheduled_after_release: after.scheduled,
    };
    if local_pids.is_none() {
        crate::servers::cleanup(urls, &format!("rlb-renewal:{run_id}:*")).await?;
    }
    Ok(outcome)
}

impl SoakOutcome {
    /// Every lease held to the end and none lost.
    pub fn all_held(&self) -> bool {
        self.valid_at_end == self.leases_held && self.lost == 0 && self.leases_held > 0
    }

    /// The outcome as a two-column table.
    pub fn render(&self) -> String {
        render(self)
    }
}

fn render(o: &SoakOutcome) -> String {
    let opt =
        |v: Option<f64>, unit: &str| v.map_or_else(|| "-".to_owned(), |x| format!("{x:.2}{unit}"));
    let pct = |a: u64, b: u64| {
        if b == 0 {
            "-".to_owned()
        } else {
            format!("{:.1} %", 100.0 * a as f64 / b as f64)
        }
    };
    let mut t = Table::new(["metric", "value"]);
    t.row(["nodes".to_owned(), o.nodes.to_string()])
        .row([
            "ttl / renew every".to_owned(),
            format!(
                "{} ms / {:.0} ms (fraction {:.3})",
                o.ttl_ms,
                o.ttl_ms as f64 * o.fraction,
                o.fraction
            ),
        ])
        .row([
            "leases held / requested".to_owned(),
            format!("{} / {}", o.leases_held, o.leases_requested),
        ])
        .row([
            "acquire errors / keep_alive errors".to_owned(),
            format!("{} / {}", o.acquire_errors, o.keep_alive_errors),
        ])
        .row([
            "acquire phase".to_owned(),
            format!(
                "{:.2} s ({:.0} leases/s)",
                o.acquire_s,
                o.leases_held as f64 / o.acquire_s.max(1e-9)
            ),
        ])
        .row(["hold".to_owned(), format!("{:.1} s", o.hold_s)])
        .row([
            "renewals done / expected (since keep_alive)".to_owned(),
            format!(
                "{} / {} ({})",
                o.renewals,
                o.renewals_expected,
                pct(o.renewals, o.renewals_expected)
            ),
        ])
        .row([
            "renewals in hold / leases*seconds/interval".to_owned(),
            format!(
                "{} / {} ({})",
                o.renewals_in_hold,
                o.renewals_in_hold_expected,
                pct(o.renewals_in_hold, o.renewals_in_hold_expected)
            ),
        ])
        .row([
            "renewal failures / late (>50 ms) / lost".to_owned(),
            format!("{} / {} / {}", o.renewal_failures, o.renewals_late, o.lost),
        ])
        .row([
            "max renewal lateness".to_owned(),
            fmt_us(Some(o.max_lateness_us as f64)),
        ])
        .row([
            "checks / missed ticks (lease below threshold at a check)".to_owned(),
            format!("{} / {}", o.checks, o.missed_ticks),
        ])
        .row([
            "threshold / min remaining seen".to_owned(),
            format!(
                "{} / {}",
                fmt_us(Some(o.threshold_us as f64)),
                fmt_us(o.min_remaining_us.map(|v| v as f64))
            ),
        ])
        .row([
            "valid at end".to_owned(),
            format!("{} / {}", o.valid_at_end, o.leases_held),
        ])
        .row([
            "client CPU in hold (% of one core)".to_owned(),
            format!(
                "{} ({})",
                opt(o.client_cpu_hold_s, " s"),
                opt(o.client_cpu_hold_pct_of_core, " %")
            ),
        ])
        .row([
            "client CPU, whole run".to_owned(),
            opt(o.client_cpu_total_s, " s"),
        ])
        .row([
            "redis CPU in hold / per renewal".to_owned(),
            format!(
                "{} / {}",
                opt(o.server_cpu_hold_s, " s"),
                fmt_us(o.server_cpu_per_renewal_us)
            ),
        ])
        .row([
            "RSS before / after acquire / end".to_owned(),
            format!(
                "{} / {} / {}",
                fmt_mib(o.rss_before_bytes),
                fmt_mib(o.rss_after_acquire_bytes),
                fmt_mib(o.rss_end_bytes)
            ),
        ])
        .row([
            "RSS per lease".to_owned(),
            o.rss_per_lease_bytes
                .map_or_else(|| "-".to_owned(), |b| format!("{b:.0} bytes")),
        ])
        .row([
            "release phase / errors".to_owned(),
            format!("{:.2} s / {}", o.release_s, o.release_errors),
        ])
        .row([
            "still scheduled after release".to_owned(),
            o.scheduled_after_release.to_string(),
        ]);
    t.render()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_are_bounded() {
        SoakOptions::default().validate().unwrap();
        let bad = |o: SoakOptions| match o.validate() {
            Err(BenchError::Invalid { option, .. }) => option,
            other => panic!("expected invalid, got {other:?}"),
        };
        let d = SoakOptions::default;
        assert_eq!(bad(SoakOptions { leases: 0, ..d() }), "leases");
        assert_eq!(
            bad(SoakOptions {
                hold: Duration::ZERO,
                ..d()
            }),
            "seconds"
        );
        assert_eq!(bad(SoakOptions { batch: 0, ..d() }), "batch");
        assert_eq!(
            bad(SoakOptions {
                fraction: 0.9,
                ..d()
            }),
            "fraction"
        );
    }
}
