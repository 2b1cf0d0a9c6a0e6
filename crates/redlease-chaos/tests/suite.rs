//! The short chaos suite: every scenario on 5 nodes and on 1 node, about 30
//! critical sections each, against real redis-servers.
//!
//! Each test asserts behaviour only: zero of everything the scenario's
//! promise covers (see `redlease_chaos::scenario`), the fence holding
//! everywhere, and every process of the run gone afterwards. Timing
//! (availability, latency) is printed, never asserted. Runs are serialised:
//! two at once would only slow each other down on a small machine.
//!
//! `CHAOS_SEED` changes the random choices (default 1).

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use redlease_chaos::report;
use redlease_chaos::run::{self, Outcome, RunOptions, Timing};
use redlease_chaos::scenario::{self, Promise};

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

const SECTIONS: usize = 30;

fn seed() -> u64 {
    std::env::var("CHAOS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1)
}

/// Whether `pid` names no live process of ours any more.
fn gone(pid: u32) -> bool {
    match std::fs::read(format!("/proc/{pid}/cmdline")) {
        Err(_) => true,
        Ok(cmdline) => {
            let cmdline = String::from_utf8_lossy(&cmdline);
            !(cmdline.contains("redis-server") || cmdline.contains("redlease-chaos"))
        }
    }
}

fn run(name: &str, nodes: usize) -> Outcome {
    run_with(name, nodes, SECTIONS)
}

fn run_with(name: &str, nodes: usize, sections: usize) -> Outcome {
    run_fenced(name, nodes, sections, true)
}

fn run_fenced(name: &str, nodes: usize, sections: usize, fencing: bool) -> Outcome {
    let _serial = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let scenario = scenario::by_name(name).expect("known scenario");
    let options = RunOptions {
        nodes,
        sections,
        workers: 4,
        timing: Timing::default(),
        worker_exe: PathBuf::from(env!("CARGO_BIN_EXE_redlease-chaos")),
        limit: Duration::from_secs(120),
        seed: seed(),
        fencing,
    };
    let outcome = run::run(&scenario, &options)
        .expect("the run starts (redis-server and faketime installed? scripts/ensure-redis.sh)");
    println!("seed {}\n{}", options.seed, report::table(&[outcome.row()]));
    let left: Vec<u32> = outcome.pids.iter().copied().filter(|&p| !gone(p)).collect();
    assert!(left.is_empty(), "processes left running: {left:?}");
    let broken = outcome.verdict();
    assert!(broken.is_empty(), "{name} N={nodes}: {broken:#?}");
    if !matches!(outcome.promise, Promise::Skipped(_)) {
        assert!(
            outcome.findings.sections >= sections.min(10),
            "too few sections"
        );
    }
    outcome
}

macro_rules! scenarios {
    ($($five:ident, $one:ident => $name:literal;)*) => {$(
        #[test]
        fn $five() {
            run($name, 5);
        }
        #[test]
        fn $one() {
            run($name, 1);
        }
    )*};
}

scenarios! {
    baseline_5, baseline_1 => "baseline";
    kill_majority_5, kill_majority_1 => "kill-majority";
    pause_nodes_5, pause_nodes_1 => "pause-nodes";
    partition_5, partition_1 => "partition";
    latency_5, latency_1 => "latency";
    black_hole_5, black_hole_1 => "black-hole";
    reset_connections_5, reset_connections_1 => "reset-conns";
    restart_empty_5, restart_empty_1 => "restart-empty";
    restart_empty_no_delay_5, restart_empty_no_delay_1 => "restart-empty-no-delay";
    fast_clock_5, fast_clock_1 => "fast-clock";
    fast_clock_beyond_5, fast_clock_beyond_1 => "fast-clock-beyond";
}

/// Without fencing, a client that knows every marker old checks them by their birth and
/// reads no node clock (the quick acquire): nodes restarted empty must still be held back.
#[test]
fn restart_empty_without_fencing_5() {
    let outcome = run_fenced("restart-empty", 5, SECTIONS, false);
    assert!(
        outcome.row().token_disorder.is_none(),
        "not checked without tokens"
    );
}

#[test]
fn rolling_wipes_without_fencing_5() {
    run_fenced("rolling-wipes", 5, SECTIONS, false);
}

#[test]
fn rolling_wipes_5() {
    run("rolling-wipes", 5);
}

#[test]
fn rolling_wipes_1() {
    run("rolling-wipes", 1);
}

/// Workers whose wall clocks are 5 s behind and ahead compete with two on real time:
/// no worker may win a disproportionate share of the hand-offs (100 sections, so that
/// a fair queue's share stays well inside the bound).
#[test]
fn client_clock_skew_5() {
    let outcome = run_with("client-clock-skew", 5, 100);
    assert!(outcome.busiest_share > 0.0);
}

/// The reference for `client_clock_skew_5`: the same workload on true clocks stays
/// within the fairness bound.
#[test]
fn hand_off_fairness_5() {
    run_with("hand-off-fairness", 5, 100);
}

#[test]
fn kill_minority_5() {
    run("kill-minority", 5);
}

#[test]
fn kill_minority_is_skipped_on_one_node() {
    let outcome = run("kill-minority", 1);
    assert!(matches!(outcome.promise, Promise::Skipped(_)));
}

/// A holder frozen past its ttl writes when it wakes up; by then others
/// have used the resource with greater tokens, so the fence refuses it.
fn paused_client(nodes: usize) {
    let outcome = run("paused-client", nodes);
    assert!(outcome.pauses >= 1, "no holder was frozen");
    let f = &outcome.findings;
    assert!(f.late_ops >= 1, "the frozen holder wrote late: {f:?}");
    assert!(f.stale_rejected >= 1, "its late write was refused: {f:?}");
}

#[test]
fn paused_client_5() {
    paused_client(5);
}

#[test]
fn paused_client_1() {
    paused_client(1);
}
