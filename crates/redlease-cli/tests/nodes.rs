//! `redlease nodes`: the operator's handle on delayed restart. A server that came back
//! empty is held back until marked ready (or its marker ages past the max ttl).

mod common;

use common::{LONG, cluster, redlease, run};

fn marker_ages(json: &serde_json::Value) -> Vec<Option<u64>> {
    json["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .map(|n| n["marker_age_ms"].as_u64())
        .collect()
}

#[test]
fn show_ready_and_reset_markers() {
    let c = cluster(3);
    let servers = c.urls();

    let fresh = run(redlease(&servers).args(["nodes"]), LONG);
    fresh.expect_code(0);
    let j = fresh.json();
    assert_eq!(j["action"], "show");
    assert_eq!(j["reachable"], 3);
    assert_eq!(j["quorum"], 2);
    assert_eq!(
        marker_ages(&j),
        vec![None, None, None],
        "no marker before first use"
    );
    // Each server's role, eviction policy and persistence, as the library checks them.
    for node in j["nodes"].as_array().expect("nodes") {
        assert_eq!(node["role"], "master", "{node}");
        assert!(node["maxmemory_policy"].is_string(), "{node}");
        assert!(node["warnings"].is_array(), "{node}");
    }

    // First use writes the markers; a server restarted empty is then held back...
    run(
        redlease(&servers).args(["acquire", "--wait", "0", "--ttl", "1s", "warm"]),
        LONG,
    )
    .expect_code(0);
    std::thread::sleep(std::time::Duration::from_millis(1500));
    c.node(2).restart().expect("restart empty");
    c.node(0).pause().expect("pause");
    let held_back = run(
        redlease(&servers).args(["acquire", "--wait", "0", "--node-timeout", "200ms", "job"]),
        LONG,
    );
    held_back.expect_code(69);
    for words in [
        "server 3 (",
        "came back without its data",
        "held back until max_ttl (5m) has passed",
        "`redlease nodes --ready` marks the servers ready",
        "server 1 (",
    ] {
        assert!(held_back.stderr.contains(words), "{words}: {held_back:#?}");
    }

    // ...until the operator marks the servers ready.
    c.node(0).resume().expect("resume");
    let ready = run(
        redlease(&servers).args(["nodes", "--ready", "--max-ttl", "5m"]),
        LONG,
    );
    ready.expect_code(0);
    assert!(
        marker_ages(&ready.json())
            .iter()
            .all(|a| *a == Some(300_000)),
        "{ready:#?}"
    );
    c.node(0).pause().expect("pause");
    run(
        redlease(&servers).args(["acquire", "--wait", "0", "--node-timeout", "200ms", "job"]),
        LONG,
    )
    .expect_code(0);
    c.node(0).resume().expect("resume");

    let reset = run(redlease(&servers).args(["nodes", "--reset"]), LONG);
    reset.expect_code(0);
    let shown = run(redlease(&servers).args(["nodes"]), LONG);
    assert_eq!(marker_ages(&shown.json()), vec![None, None, None]);

    let usage = run(
        redlease(&servers).args(["nodes", "--ready", "--reset"]),
        LONG,
    );
    usage.expect_code(64);
}
