//! The runner end to end, briefly, on real throwaway redis-servers.
//!
//! Benchmarks that are only run by hand rot: this runs every scenario for a few hundred
//! operations on a 1-node and a 3-node cluster (and rslock too, with the `rslock`
//! feature) and checks that the locks held (no lost update, no overlap) and that the
//! report's numbers are sane. It says nothing about speed.

use std::time::Duration;

use redlease_bench::options::{Implementation, Options, Scenario};

fn brief() -> Options {
    Options {
        nodes: vec![1, 3],
        ops: 200,
        rounds: 1,
        warmup: 10,
        rslock: cfg!(feature = "rslock"),
        max_run: Duration::from_secs(30),
        wait: Duration::from_secs(10),
        progress: false,
        ..Options::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_scenario_holds_the_lock_and_reports_sane_numbers() {
    let report = redlease_bench::run(&brief()).await.expect("run");
    assert_eq!(report.scenarios.len(), 6, "3 scenarios x 2 cluster sizes");
    for s in &report.scenarios {
        let what = s.title();
        assert!(s.nodes == 1 || s.nodes == 3, "{what}");
        assert_eq!(s.quorum, redlease::protocol::quorum(s.nodes), "{what}");
        let expected = if s.nodes == 1 { 2 } else { 3 } + usize::from(cfg!(feature = "rslock"));
        assert_eq!(s.results.len(), expected, "{what}");
        for r in &s.results {
            let who = format!("{what}: {}", r.implementation);
            assert_eq!(r.violations, 0, "{who}: lost updates");
            assert_eq!(r.overlaps, 0, "{who}: two holders at once");
            assert_eq!(
                r.errors.total(),
                0,
                "{who}: failed acquisitions {:?}",
                r.errors
            );
            assert_eq!(r.timed_out_rounds, 0, "{who}");
            assert!(r.ops_per_sec.is_some_and(|x| x > 0.0), "{who}");
            let share = r.busiest_share.expect("share");
            assert!(share > 0.0 && share <= 1.0, "{who}: share {share}");
            if s.scenario == Scenario::Uncontended {
                assert_eq!(share, 1.0, "{who}: one worker does everything");
            }
            let (p50, p99) = (r.p50_us.expect("p50"), r.p99_us.expect("p99"));
            assert!(p50 > 0.0 && p50 <= p99, "{who}: p50 {p50} p99 {p99}");
            assert_eq!(r.rounds.len(), 1, "{who}");
            assert_eq!(r.rounds[0].completed, 200, "{who}");
            let samples: u64 = r.latency_buckets.iter().map(|b| b.count).sum();
            assert_eq!(samples, 200, "{who}: every acquisition in the distribution");
        }
        let non_floor = s
            .results
            .iter()
            .filter(|r| !r.implementation.is_floor())
            .count();
        let floors = s.results.len() - non_floor;
        assert_eq!(s.ratios.len(), non_floor * floors, "{what}");
        assert!(
            s.ratios
                .iter()
                .all(|r| r.ops_per_sec.is_some_and(|x| x > 0.0)),
            "{what}"
        );
        assert!(
            s.results
                .iter()
                .any(|r| r.implementation == Implementation::Floor),
            "{what}"
        );
    }
    let json: serde_json::Value =
        serde_json::from_str(&report.to_json().expect("json")).expect("valid JSON");
    assert_eq!(json["scenarios"].as_array().map(Vec::len), Some(6));
    assert!(json["placement"]["cores"].as_u64().is_some_and(|c| c >= 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn given_servers_get_their_keys_back() {
    let cluster =
        tokio::task::spawn_blocking(|| redlease_testkit::Cluster::start(1).expect("cluster"))
            .await
            .expect("start");
    let options = Options {
        servers: cluster.urls(),
        scenarios: vec![Scenario::Uncontended],
        distinct_keys: true,
        ops: 50,
        warmup: 0,
        rslock: false,
        ..brief()
    };
    let report = redlease_bench::run(&options).await.expect("run");
    assert!(!report.placement.servers_started_here);
    assert_eq!(report.scenarios[0].results[0].rounds[0].completed, 50);
    // Fence keys never expire; the run must have deleted everything it created.
    let client = redis::Client::open(cluster.urls()[0].as_str()).expect("client");
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .expect("connect");
    let left: Vec<String> = redis::cmd("KEYS")
        .arg("rlb:*")
        .query_async(&mut conn)
        .await
        .expect("keys");
    assert!(left.is_empty(), "left behind: {left:?}");
    tokio::task::spawn_blocking(move || drop(cluster))
        .await
        .expect("stop");
}
