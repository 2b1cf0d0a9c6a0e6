//! Runs one scenario end to end: start the servers, proxies and workers,
//! play the fault until enough critical sections are done, heal, stop,
//! check.
//!
//! Everything a run starts is owned by values on this function's stack, so
//! it is all stopped (workers killed and reaped, proxies joined, servers
//! killed) when the run returns, also on an error or a panic. A run is
//! bounded by its `limit` whatever the workers do.

use redlease_testkit::workload::Latencies;
use std::io;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use rand::SeedableRng;
use rand::rngs::StdRng;
use redlease_testkit::{Cluster, ClusterOptions, ProxiedCluster};

use crate::check::{self, FenceState, Findings};
use crate::ctx::Ctx;
use crate::faults;
use crate::fence;
use crate::fleet::Fleet;
use crate::scenario::{Fault, Promise, Scenario};
use crate::worker::WorkerConfig;

/// Lease timing of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// Lease ttl (also the delayed-restart hold-back, `max_ttl`).
    pub ttl: Duration,
    /// Per-node timeout.
    pub node_timeout: Duration,
    /// How long one acquire call may keep retrying.
    pub wait: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            ttl: Duration::from_secs(1),
            node_timeout: Duration::from_millis(100),
            wait: Duration::from_millis(1500),
        }
    }
}

/// How to run scenarios.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunOptions {
    /// Lock nodes.
    pub nodes: usize,
    /// Critical sections to reach (all workers together) before stopping.
    pub sections: usize,
    /// Worker processes.
    pub workers: usize,
    /// Lease timing.
    pub timing: Timing,
    /// The `redlease-chaos` binary, started in `worker` mode.
    pub worker_exe: PathBuf,
    /// Longest a run may take, whatever happens.
    pub limit: Duration,
    /// Seed of every random choice (faults, work durations).
    pub seed: u64,
    /// Workers take fencing tokens (the library's default). Without them the checks that
    /// only tokens make possible (token order, stale accesses) are not made: the report
    /// shows `-` there.
    pub fencing: bool,
}

/// What one run produced.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The scenario.
    pub scenario: Scenario,
    /// Lock nodes.
    pub nodes: usize,
    /// What was promised.
    pub promise: Promise,
    /// What the checker found.
    pub findings: Findings,
    /// The fenced resource at the end.
    pub fence: FenceState,
    /// Acquire calls made, and how many succeeded.
    pub acquire_calls: usize,
    /// Successful acquire calls.
    pub acquired: usize,
    /// Acquire calls that failed because fewer than a quorum answered.
    pub unavailable: usize,
    /// 99th percentile latency of successful acquire calls.
    pub p99_acquire: Duration,
    /// Fault cycles played.
    pub cycles: u32,
    /// Lease holders frozen (paused-client scenario).
    pub pauses: u32,
    /// Acquire calls that failed as unavailable although a quorum answered and the
    /// schedule had a quorum reachable (see [`crate::check::unavailable`]).
    pub misreported: Vec<String>,
    /// The largest share of the critical sections one worker had.
    pub busiest_share: f64,
    /// Wall time of the run.
    pub elapsed: Duration,
    /// Worker problems (failures, stray output, early exits).
    pub problems: Vec<String>,
    /// The workers took fencing tokens (see [`RunOptions::fencing`]).
    pub fencing: bool,
    /// Every process the run started that was seen running (workers and
    /// servers); all are gone when [`run`] returns.
    pub pids: Vec<u32>,
}

/// Runs `scenario` as `options` say.
pub fn run(scenario: &Scenario, options: &RunOptions) -> io::Result<Outcome> {
    let started = Instant::now();
    let promise = match scenario.promise(options.nodes) {
        // Without tokens nothing stops the late writes of a second holder or of a holder
        // paused past its lease: the fenced counter would show lost updates by design.
        Promise::NotPromised(_) if !options.fencing => {
            Promise::Skipped("not promised, and only fencing tokens stop its late writes")
        }
        _ if !options.fencing && scenario.fault == Fault::PausedClient => {
            Promise::Skipped("a holder paused past its lease is stopped by fencing tokens alone")
        }
        promise => promise,
    };
    let mut outcome = Outcome {
        scenario: *scenario,
        nodes: options.nodes,
        promise,
        findings: Findings::default(),
        fence: FenceState::default(),
        acquire_calls: 0,
        acquired: 0,
        unavailable: 0,
        p99_acquire: Duration::ZERO,
        cycles: 0,
        pauses: 0,
        misreported: Vec::new(),
        busiest_share: 0.0,
        elapsed: Duration::ZERO,
        problems: Vec::new(),
        fencing: options.fencing,
        pids: Vec::new(),
    };
    if let Promise::Skipped(_) = promise {
        return Ok(outcome);
    }
    let timing = options.timing;
    let cluster_options = ClusterOptions {
        nodes: options.nodes,
        persistence: scenario.persistence,
        ..Default::default()
    };
    let cluster = match scenario.clock {
        Some(plan) => Cluster::start_with_clock_rates(cluster_options, &plan.rates(options.nodes))?,
        None => Cluster::start_with(cluster_options)?,
    };
    let cluster = ProxiedCluster::wrap(cluster)?;
    let fenced = Cluster::start(1)?;
    let configs: Vec<WorkerConfig> = (0..options.workers)
        .map(|w| worker_config(w, scenario, options, &cluster, &fenced))
        .collect();
    let envs = scenario
        .client_clock_offsets
        .iter()
        .map(|&offset| {
            if offset == 0 {
                Ok(Vec::new())
            } else {
                redlease_testkit::wall_clock_offset_env(offset)
            }
        })
        .collect::<io::Result<Vec<_>>>()?;
    let mut fleet = Fleet::spawn_with_env(&options.worker_exe, &configs, &envs)?;
    outcome.pids = fleet.pids();
    let mut ctx = Ctx::new(
        &cluster,
        &mut fleet,
        StdRng::seed_from_u64(options.seed),
        timing.ttl,
        started + options.limit,
    );
    let played = play(scenario, options, &mut ctx, &mut outcome.cycles);
    // Undo the faults and stop the workers whatever happened.
    let healed = ctx.heal();
    ctx.fleet.stop(timing.ttl * 6 + Duration::from_secs(2));
    ctx.drain(Duration::from_secs(5));
    played?;
    healed?;
    outcome.fence = fence::final_state(fenced.node(0))?;
    outcome.findings = check::check(&ctx.history, Some(outcome.fence));
    if !options.fencing {
        // Every token is 0: their order says nothing (the row shows `-`).
        outcome.findings.token_disorder.clear();
    }
    let calls = &ctx.history.acquires;
    outcome.acquire_calls = calls.len();
    let mut latencies = Latencies::new();
    for call in calls.iter().filter(|c| c.error.is_none()) {
        latencies.record(Duration::from_nanos(call.latency_ns));
    }
    outcome.acquired = calls.iter().filter(|c| c.error.is_none()).count();
    outcome.unavailable = calls
        .iter()
        .filter(|c| c.error.as_deref() == Some("unavailable"))
        .count();
    outcome.p99_acquire = latencies.quantile(0.99).unwrap_or_default();
    outcome.pauses = ctx.pauses;
    outcome.misreported = calls
        .iter()
        .filter_map(|c| {
            let failure = c.failure.as_ref()?;
            let reachable = ctx.reachable_between(c.call_ns, c.call_ns + c.latency_ns);
            failure.misreported(Some(reachable)).then(|| {
                format!(
                    "w{}: {} ({} reachable, {} non-answers, {} held back)",
                    c.worker, failure.message, reachable, failure.non_answers, failure.held_back
                )
            })
        })
        .collect();
    outcome.busiest_share = busiest_share(&ctx.history.sections);
    outcome.problems = std::mem::take(&mut ctx.problems);
    outcome
        .pids
        .extend(cluster.cluster().nodes().iter().filter_map(|n| n.pid()));
    outcome.pids.extend(fenced.node(0).pid());
    drop(ctx);
    drop(fleet);
    drop(cluster);
    drop(fenced);
    outcome.elapsed = started.elapsed();
    Ok(outcome)
}

/// Warm up, then cycle the fault until enough sections are done.
fn play(
    scenario: &Scenario,
    options: &RunOptions,
    ctx: &mut Ctx<'_>,
    cycles: &mut u32,
) -> io::Result<()> {
    if !ctx.wait_for(Duration::from_secs(20), |c| c.all_ready()) {
        let tails: Vec<String> = (0..ctx.fleet.len())
            .map(|i| format!("worker {i}: {}", ctx.fleet.stderr_tail(i)))
            .collect();
        return Err(io::Error::new(
            io::ErrorKind::TimedOut,
            format!(
                "workers not ready within 20 s; {:?}\n{}",
                ctx.problems,
                tails.join("\n")
            ),
        ));
    }
    // Let the nodes' delayed-restart markers age, so that a node restarted
    // empty is recognised as such.
    ctx.sleep(ctx.ttl);
    loop {
        faults::cycle(scenario.fault, ctx)?;
        *cycles += 1;
        let done = ctx.history.sections.len() >= options.sections;
        let workers_gone = ctx.exited().len() == ctx.fleet.len();
        if done || workers_gone || ctx.out_of_time() {
            if workers_gone {
                ctx.problems.push("every worker exited early".into());
            }
            return Ok(());
        }
    }
}

fn worker_config(
    worker: usize,
    scenario: &Scenario,
    options: &RunOptions,
    cluster: &ProxiedCluster,
    fenced: &Cluster,
) -> WorkerConfig {
    let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
    let timing = options.timing;
    WorkerConfig {
        worker: u32::try_from(worker).unwrap_or(u32::MAX),
        servers: cluster.urls(),
        fenced_url: fenced.node(0).url(),
        resource: "chaos".into(),
        ttl_ms: ms(timing.ttl),
        node_timeout_ms: ms(timing.node_timeout),
        wait_ms: ms(timing.wait),
        max_ttl_ms: ms(timing.ttl),
        delayed_restart: scenario.delayed_restart,
        fencing: options.fencing,
        hold_ms: (5, 40),
        long_every: scenario.long_every,
        ride_every: scenario.ride_every,
        pause_window_ms: 1000,
        seed: options
            .seed
            .wrapping_add(0x9e37_79b9_7f4a_7c15_u64.wrapping_mul(worker as u64 + 1)),
    }
}

/// The largest share of `sections` one worker had (0 when there are none).
pub fn busiest_share(sections: &[crate::history::Section]) -> f64 {
    let mut per_worker: std::collections::HashMap<u32, usize> = std::collections::HashMap::new();
    for s in sections {
        *per_worker.entry(s.worker).or_default() += 1;
    }
    let most = per_worker.values().copied().max().unwrap_or(0);
    if sections.is_empty() {
        0.0
    } else {
        most as f64 / sections.len() as f64
    }
}
