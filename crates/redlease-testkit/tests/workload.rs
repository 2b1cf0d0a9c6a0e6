//! The workload on a real redis-server: the racy counter loses updates when two holders
//! overlap and not otherwise, and the fenced counter refuses a token below the highest.

use std::time::Duration;

use redlease_testkit::Cluster;
use redlease_testkit::workload::{Access, FencedCounter, RacyCounter};

#[tokio::test]
async fn the_racy_counter_on_redis_catches_an_overlap() {
    let cluster = Cluster::start(1).expect("start redis-server");
    let url = cluster.urls().remove(0);
    let counter = RacyCounter::on_redis(&url, "w:racy")
        .await
        .expect("connect");
    let other = counter.clone();
    let (a, b) = tokio::join!(
        counter.section(1, Duration::from_millis(20), || true),
        other.section(2, Duration::from_millis(20), || true),
    );
    a.expect("section a");
    b.expect("section b");
    counter
        .section(3, Duration::ZERO, || true)
        .await
        .expect("c");
    let verdict = counter.verdict().await.expect("verdict");
    assert_eq!(verdict.completed, 3);
    assert_eq!(verdict.counter, 2, "one update lost to the overlap");
    assert_eq!(verdict.lost_updates, 1);
    assert_eq!(verdict.overlaps, 1);
    assert!(verdict.tokens.increasing());
    assert!(!verdict.passed());
    assert_eq!(
        cluster.node(0).command(&["GET", "w:racy"]).expect("GET"),
        "2"
    );
    // A new counter on the same key starts from 0.
    let fresh = RacyCounter::on_redis(&url, "w:racy")
        .await
        .expect("connect");
    assert_eq!(fresh.value().await.expect("value"), 0);
}

#[tokio::test]
async fn the_fenced_counter_refuses_older_tokens() {
    let cluster = Cluster::start(1).expect("start redis-server");
    let url = cluster.urls().remove(0);
    let mut fenced = FencedCounter::connect(&url, "w{f}").await.expect("connect");
    assert_eq!(fenced.read(5).await.expect("read"), Access::Accepted(0));
    assert_eq!(
        fenced.write(5, 1).await.expect("write"),
        Access::Accepted(1)
    );
    assert_eq!(fenced.write(4, 9).await.expect("write"), Access::Rejected);
    assert_eq!(fenced.read(6).await.expect("read"), Access::Accepted(1));
    let state = fenced.state().await.expect("state");
    assert_eq!(state.counter, 1);
    assert_eq!(state.highest_token, 6);
    assert_eq!((state.accepted_reads, state.accepted_writes), (2, 1));
    assert_eq!(state.rejected, 1);
}
