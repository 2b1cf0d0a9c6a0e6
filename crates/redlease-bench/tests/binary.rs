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

fn brief(extra: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_redlease-bench"));
    command
        .args([
            "--scenario",
            "distinct",
            "--clients",
            "4",
            "--ops",
            "40",
            "--rounds",
            "1",
            "--warmup",
            "1",
            "--json",
        ])
        .args(extra)
        .env_remove("REDLEASE_SERVERS")
        .stdin(Stdio::null());
    command
}

fn report_of(out: &std::process::Output) -> serde_json::Value {
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    serde_json::from_slice(&out.stdout).expect("stdout is the JSON report")
}

/// Every node kind runs redlease; the raw floors speak to one plain server each, so they
/// are left out (and said so) where a node is a cluster or a Sentinel service.
#[test]
fn cluster_and_sentinel_urls_are_benchmarked() {
    let cluster = redlease_testkit::RedisCluster::start(3, 0).expect("cluster");
    let sentinels = redlease_testkit::Sentinels::start().expect("sentinels");
    for url in [cluster.cluster_url(), sentinels.sentinel_url()] {
        let out = brief(&["--servers", &url]).output().expect("run");
        let report = report_of(&out);
        let results = report["scenarios"][0]["results"]
            .as_array()
            .expect("results");
        let names: Vec<&str> = results
            .iter()
            .filter_map(|r| r["implementation"].as_str())
            .collect();
        assert_eq!(names, ["redlease"], "{url}: {report}");
        assert!(
            report["placement"]["note"]
                .as_str()
                .is_some_and(|n| n.contains("floors left out")),
            "{report}"
        );
    }
    // A non-loopback host hidden among a cluster's seeds is still refused.
    let out = brief(&["--servers", "redis+cluster://127.0.0.1:7000,10.1.2.3:7000"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(69), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("only loopback servers"),
        "{out:?}"
    );
}

/// `--shards 1,3`: a local Redis Cluster of each size is the one node, and the redis
/// CPU time covers every shard's server.
#[test]
fn shards_runs_on_local_clusters_of_each_size() {
    let out = brief(&["--shards", "1,3", "--no-floor"])
        .output()
        .expect("run");
    let report = report_of(&out);
    let scenarios = report["scenarios"].as_array().expect("scenarios");
    assert_eq!(scenarios.len(), 2, "{report}");
    for (scenario, shards) in scenarios.iter().zip([1, 3]) {
        assert_eq!(scenario["nodes"], 1, "{report}");
        assert_eq!(scenario["shards"], shards, "{report}");
        let redlease = &scenario["results"][0];
        assert_eq!(redlease["implementation"], "redlease", "{report}");
        assert!(
            redlease["server_cpu_us_per_op"].as_f64().is_some(),
            "{report}"
        );
    }
}
