//! The probes (`redlease_chaos::probe`): precise fault sequences for the holes issue 10
//! found, each asserting that the guarantees it guards hold (zero violations) and that
//! every process it started is gone. Probes that fail on the current library are
//! `#[ignore]`d with the defect they wait for; `cargo test -p redlease-chaos --test
//! probes -- --ignored` runs them. Serialised, like the scenario suite.

use std::sync::Mutex;

use redlease_chaos::probe::{self, ProbeOptions, ProbeOutcome};

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn gone(pid: u32) -> bool {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|c| !String::from_utf8_lossy(&c).contains("redis-server"))
        .unwrap_or(true)
}

fn run(name: &str) -> ProbeOutcome {
    let _serial = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let probe = probe::by_name(name).expect("known probe");
    let outcome = probe
        .run(&ProbeOptions::default())
        .expect("the probe runs (redis-server installed? scripts/ensure-redis.sh)");
    println!("{}", probe::table(std::slice::from_ref(&outcome)));
    let left: Vec<u32> = outcome.pids.iter().copied().filter(|&p| !gone(p)).collect();
    assert!(left.is_empty(), "processes left running: {left:?}");
    assert!(outcome.trials > 0, "{name}: nothing was played");
    assert!(
        outcome.violations.is_empty(),
        "{name}: {:#?}",
        outcome.violations
    );
    outcome
}

#[test]
fn shortening_extend() {
    run("shortening-extend");
}

#[test]
fn renewal_shrink() {
    run("renewal-shrink");
}

#[test]
fn rolling_wipes() {
    run("rolling-wipes");
}

#[test]
fn held_back_busy() {
    run("held-back-busy");
}

#[test]
fn departed_waiters() {
    run("departed-waiters");
}

#[test]
fn half_open_subscriber() {
    run("half-open-subscriber");
}
