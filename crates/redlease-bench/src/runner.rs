//! The run: clusters, implementations, interleaved rounds, medians.
//!
//! For each node count a throwaway local cluster is started (or the given loopback servers
//! are used); every implementation connects once; then each scenario runs a short untimed
//! warm-up per implementation and `rounds` rounds in which the implementations take turns
//! (the starting one rotates each round), so that a noisy neighbour on a shared machine
//! hits all of them alike. Medians over rounds are reported, with every round kept.

use redlease_testkit::workload::{micros, millis};
use std::sync::Arc;
use std::time::Duration;

use hdrhistogram::Histogram;

use crate::backend::{self, Backend};
use crate::error::BenchError;
use crate::options::{Deployment, Implementation, Options, Scenario};
use crate::progress::Progress;
use crate::report::{
    ErrorCounts, ImplResult, Placement, Report, RoundResult, ScenarioReport, Settings,
};
pub use crate::servers::check_loopback;
use crate::servers::{cleanup, start};
use crate::stats;
use crate::sys;
use crate::workload::{self, Outcome, Plan};

/// Pause between two implementations' turns, so that replies one implementation drains
/// in the background do not land in the next one's measurement.
const SETTLE: Duration = Duration::from_millis(50);

/// Run everything `options` asks for and return the report. Needs a Tokio runtime
/// (multi-threaded for meaningful numbers). Starts and stops its own redis-servers
/// unless `options.servers` is set.
pub async fn run(options: &Options) -> Result<Report, BenchError> {
    options.validate()?;
    check_loopback(&options.servers)?;
    let run_id: String = redlease::protocol::new_owner().chars().take(8).collect();
    let total: u64 = options
        .node_counts()
        .iter()
        .map(|&k| {
            let per_impl = options.warmup + options.ops * options.rounds as u64;
            per_impl * options.implementations(k).len() as u64 * options.scenarios.len() as u64
        })
        .sum();
    let progress = Progress::new(options.progress, total);
    let histogram = stats::new_histogram()?;
    let mut scenarios = Vec::new();

    for (deployment, k) in options.deployments().into_iter().zip(options.node_counts()) {
        progress.set_message(format!("starting {deployment:?}"));
        let local = start(&deployment).await?;
        let (urls, pids) = match &local {
            Some(local) => (local.urls(), local.pids()),
            None => (options.servers.clone(), Vec::new()),
        };
        let shards = match deployment {
            Deployment::Shards(s) => Some(s),
            Deployment::Local(_) | Deployment::Given => None,
        };
        let mut backends = Vec::new();
        for implementation in options.implementations(k) {
            let prefix = format!("rlb:{run_id}:{}:", implementation.name());
            let backend = Backend::connect(implementation, &urls, options, prefix).await?;
            // The steady state of a deployment in use: markers older than max_ttl.
            let ready = match deployment {
                Deployment::Local(_) => true,
                Deployment::Given => options.markers_ready,
                Deployment::Shards(_) => false,
            };
            if ready {
                backend.mark_ready().await?;
            }
            backends.push((implementation, Arc::new(backend)));
        }
        for &scenario in &options.scenarios {
            let ctx = ScenarioContext {
                scenario,
                nodes: k,
                shards,
                backends: &backends,
                options,
                pids: &pids,
                histogram: &histogram,
                progress: &progress,
            };
            scenarios.push(run_scenario(ctx).await?);
        }
        drop(backends);
        if local.is_none() && options.plain_servers() {
            // Every key redlease writes has a ttl, and the floors run on plain servers
            // only: on a cluster or a Sentinel service the keys simply expire.
            progress.set_message("removing the run's keys".to_owned());
            cleanup(&urls, &format!("rlb:{run_id}:*")).await?;
        }
        if let Some(local) = local {
            // Dropping kills and reaps the servers: blocking work, off the runtime.
            tokio::task::spawn_blocking(move || drop(local))
                .await
                .map_err(|e| BenchError::Internal(format!("stopping redis-servers: {e}")))?;
        }
    }
    drop(progress);
    Ok(Report {
        tool: "redlease-bench",
        version: env!("CARGO_PKG_VERSION"),
        placement: placement(options),
        settings: Settings {
            ops: options.ops,
            rounds: options.rounds,
            warmup: options.warmup,
            ttl_ms: millis(options.ttl),
            wait_ms: millis(options.wait),
            node_timeout_ms: millis(backend::node_timeout(options)),
            hold_us: micros(options.hold),
            distinct_keys: options.distinct_keys,
            fencing: options.fencing,
            max_run_s: options.max_run.as_secs(),
        },
        scenarios,
    })
}

fn placement(options: &Options) -> Placement {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let runtime_workers = tokio::runtime::Handle::try_current()
        .map(|h| h.metrics().num_workers())
        .unwrap_or(1);
    let started_here = options.servers.is_empty();
    let floors = if options.plain_servers() {
        ""
    } else {
        " (raw floors left out: they speak to plain servers only)"
    };
    let servers = if !options.shards.is_empty() {
        let counts: Vec<String> = options.shards.iter().map(|n| n.to_string()).collect();
        format!(
            "a local Redis Cluster of {} shard(s) started by the bench as the one node{floors}",
            counts.join("/")
        )
    } else if started_here {
        let counts: Vec<String> = options.nodes.iter().map(|n| n.to_string()).collect();
        format!(
            "{} local redis-server(s) started by the bench",
            counts.join("/")
        )
    } else {
        format!("{} loopback node(s) given{floors}", options.servers.len())
    };
    Placement {
        cores,
        runtime_workers,
        servers_started_here: started_here,
        servers_share_machine: true,
        note: format!(
            "{cores} core(s) available; client runtime has {runtime_workers} worker thread(s); {servers}, sharing the same cores with the client (no pinning)"
        ),
    }
}

struct ScenarioContext<'a> {
    scenario: Scenario,
    nodes: usize,
    shards: Option<usize>,
    backends: &'a [(Implementation, Arc<Backend>)],
    options: &'a Options,
    pids: &'a [u32],
    histogram: &'a Histogram<u64>,
    progress: &'a Progress,
}

/// What one implementation accumulates over the rounds of a scenario.
struct Accumulator {
    rounds: Vec<RoundResult>,
    acquire: Histogram<u64>,
    release_p50: Vec<f64>,
    release_failures: u64,
}

async fn run_scenario(ctx: ScenarioContext<'_>) -> Result<ScenarioReport, BenchError> {
    let options = ctx.options;
    let clients = options.clients_for(ctx.scenario);
    let plan = Plan {
        scenario: ctx.scenario,
        clients,
        ops: options.ops,
        hold: options.hold,
        wait: options.wait,
        distinct_keys: options.distinct_keys,
        max_run: options.max_run,
    };
    let label =
        |i: Implementation, what: &str| format!("{}, k={}: {i} {what}", ctx.scenario, ctx.nodes);

    if options.warmup > 0 {
        for (implementation, backend) in ctx.backends {
            ctx.progress.set_message(label(*implementation, "warm-up"));
            let warm = Plan {
                ops: options.warmup,
                ..plan
            };
            workload::run(
                Arc::clone(backend),
                warm,
                ctx.histogram,
                ctx.progress.counter(),
            )
            .await?;
            tokio::time::sleep(SETTLE).await;
        }
    }

    let mut acc: Vec<Accumulator> = ctx
        .backends
        .iter()
        .map(|_| Accumulator {
            rounds: Vec::with_capacity(options.rounds),
            acquire: ctx.histogram.clone(),
            release_p50: Vec::new(),
            release_failures: 0,
        })
        .collect();
    let n = ctx.backends.len();
    for round in 0..options.rounds {
        for turn in 0..n {
            let i = (round + turn) % n;
            let (implementation, backend) = &ctx.backends[i];
            ctx.progress
                .set_message(label(*implementation, &format!("round {}", round + 1)));
            let cpu_before = sys::cpu_time();
            let srv_before = sys::processes_cpu_time(ctx.pids);
            let outcome = workload::run(
                Arc::clone(backend),
                plan,
                ctx.histogram,
                ctx.progress.counter(),
            )
            .await?;
            let cpu = sys::cpu_time()
                .zip(cpu_before)
                .map(|(a, b)| a.saturating_sub(b));
            let srv = if ctx.pids.is_empty() {
                None
            } else {
                sys::processes_cpu_time(ctx.pids)
                    .zip(srv_before)
                    .map(|(a, b)| a.saturating_sub(b))
            };
            record(&mut acc[i], round, &outcome, cpu, srv)?;
            tokio::time::sleep(SETTLE).await;
        }
    }

    let results: Vec<ImplResult> = ctx
        .backends
        .iter()
        .zip(acc)
        .map(|((implementation, _), a)| summarize(*implementation, a))
        .collect();
    Ok(ScenarioReport {
        scenario: ctx.scenario,
        nodes: ctx.nodes,
        shards: ctx.shards,
        quorum: redlease::protocol::quorum(ctx.nodes),
        clients,
        ratios: ScenarioReport::compute_ratios(&results),
        results,
    })
}

fn per_op(d: Option<Duration>, ops: u64) -> Option<f64> {
    let d = d?;
    (ops > 0).then(|| d.as_secs_f64() * 1e6 / ops as f64)
}

fn record(
    acc: &mut Accumulator,
    round: usize,
    o: &Outcome,
    cpu: Option<Duration>,
    srv: Option<Duration>,
) -> Result<(), BenchError> {
    acc.acquire
        .add(&o.acquire)
        .map_err(|e| BenchError::Internal(format!("histogram: {e:?}")))?;
    if let Some(p) = stats::percentile_us(&o.release, 0.5) {
        acc.release_p50.push(p);
    }
    acc.release_failures += o.release_failures;
    let elapsed = o.elapsed.as_secs_f64();
    acc.rounds.push(RoundResult {
        round,
        completed: o.completed,
        errors: o.errors,
        elapsed_s: elapsed,
        ops_per_sec: stats::rate(o.completed, elapsed),
        p50_us: stats::percentile_us(&o.acquire, 0.5),
        p99_us: stats::percentile_us(&o.acquire, 0.99),
        busiest_share: stats::busiest_share(&o.per_worker),
        violations: o.violations,
        overlaps: o.overlaps,
        client_cpu_us_per_op: per_op(cpu, o.completed),
        server_cpu_us_per_op: per_op(srv, o.completed),
        timed_out: o.timed_out,
    });
    Ok(())
}

fn summarize(implementation: Implementation, a: Accumulator) -> ImplResult {
    let med = |f: fn(&RoundResult) -> Option<f64>| stats::median(a.rounds.iter().filter_map(f));
    ImplResult {
        implementation,
        ops_per_sec: med(|r| r.ops_per_sec),
        p50_us: med(|r| r.p50_us),
        p99_us: med(|r| r.p99_us),
        max_us: (!a.acquire.is_empty()).then(|| a.acquire.max() as f64),
        release_p50_us: stats::median(a.release_p50.iter().copied()),
        busiest_share: med(|r| r.busiest_share),
        violations: a.rounds.iter().map(|r| r.violations).sum(),
        overlaps: a.rounds.iter().map(|r| r.overlaps).sum(),
        errors: a.rounds.iter().fold(ErrorCounts::default(), |mut acc, r| {
            acc.add(r.errors);
            acc
        }),
        release_failures: a.release_failures,
        timed_out_rounds: a.rounds.iter().filter(|r| r.timed_out).count(),
        client_cpu_us_per_op: med(|r| r.client_cpu_us_per_op),
        server_cpu_us_per_op: med(|r| r.server_cpu_us_per_op),
        latency_buckets: stats::log_buckets(&a.acquire),
        rounds: a.rounds,
    }
}
