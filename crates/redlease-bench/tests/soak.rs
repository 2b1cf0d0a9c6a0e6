//! The renewal soak end to end, briefly: a few hundred kept-alive leases for two seconds
//! on a throwaway 1-node cluster, all still held at the end, and sane accounting.

use std::time::Duration;

use redlease_bench::soak::{self, SoakOptions};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_soak_keeps_every_lease() {
    let cluster =
        tokio::task::spawn_blocking(|| redlease_testkit::Cluster::start(1).expect("cluster"))
            .await
            .expect("start");
    let pids: Vec<u32> = cluster.nodes().iter().filter_map(|n| n.pid()).collect();
    let options = SoakOptions {
        leases: 300,
        ttl: Duration::from_secs(1),
        hold: Duration::from_secs(2),
        batch: 100,
        // The default for a 1 s ttl is 10 ms: too tight for a debug build on a busy machine.
        node_timeout: Some(Duration::from_millis(100)),
        progress: false,
        ..SoakOptions::default()
    };
    let outcome = soak::run(&options, &cluster.urls(), Some(&pids))
        .await
        .expect("soak");
    assert!(outcome.all_held(), "{outcome:#?}");
    assert_eq!(outcome.leases_held, 300);
    assert_eq!(outcome.acquire_errors, 0);
    assert_eq!(outcome.lost, 0);
    assert!(
        outcome.checks >= 7,
        "about 8 checks in 2 s: {}",
        outcome.checks
    );
    // Renewal every ~333 ms for ~2 s: about 6 per lease.
    assert!(
        outcome.renewals >= 300 * 4 && outcome.renewals <= 300 * 8,
        "{}",
        outcome.renewals
    );
    assert_eq!(outcome.release_errors, 0);
    assert!(outcome.rss_per_lease_bytes.is_some());
    assert!(outcome.render().contains("valid at end"));
    tokio::task::spawn_blocking(move || drop(cluster))
        .await
        .expect("stop");
}
