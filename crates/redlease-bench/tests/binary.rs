//! The `redlease-bench` program (what `redlease bench` runs), end to end and briefly:
//! flags, the environment hand-over of the servers, the JSON report and the exit status.

use std::process::{Command, Stdio};

#[test]
fn the_binary_runs_a_brief_scenario_and_prints_json() {
    let cluster = redlease_testkit::Cluster::start(1).expect("start redis-server");
    let out = Command::new(env!("CARGO_BIN_EXE_redlease-bench"))
        .env("REDLEASE_SERVERS", cluster.urls().join(","))
        .args([
            "--scenario",
            "contended",
            "--ops",
            "40",
            "--rounds",
            "1",
            "--warmup",
            "1",
            "--no-floor",
            "--json",
        ])
        .stdin(Stdio::null())
        .output()
        .expect("run redlease-bench");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let report: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("stdout is the JSON report");
    let scenarios = report["scenarios"].as_array().expect("scenarios");
    assert_eq!(scenarios.len(), 1, "{report}");
    assert_eq!(scenarios[0]["nodes"], 1, "{report}");
}

#[test]
fn bad_flags_exit_64() {
    let out = Command::new(env!("CARGO_BIN_EXE_redlease-bench"))
        .args(["--ops", "many"])
        .stdin(Stdio::null())
        .output()
        .expect("run redlease-bench");
    assert_eq!(out.status.code(), Some(64), "{out:?}");
}
