//! G4, validity never lies: a holder's `remaining()` never exceeds what a quorum of the
//! lock keys still holds, whatever extends and renewals did, succeeded or not.

mod common;

use std::time::{Duration, Instant};

use common::{builder, start};
use redlease::protocol::Keys;
use redlease_testkit::Cluster;

/// The quorum-th largest PTTL of `resource`'s lock key over the nodes (0 where absent):
/// how long a quorum of nodes still keeps the lease.
fn quorum_pttl(cluster: &Cluster, resource: &str) -> Duration {
    let key = Keys::new("redlease:", resource).lock;
    let mut ttls: Vec<u64> = cluster
        .nodes()
        .iter()
        .map(|node| {
            let pttl = node.command(&["PTTL", key.as_str()]).expect("PTTL");
            pttl.trim().parse::<i64>().map_or(0, |ms| ms.max(0) as u64)
        })
        .collect();
    ttls.sort_unstable_by(|a, b| b.cmp(a));
    Duration::from_millis(ttls[cluster.nodes().len() / 2])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_shortening_extend_shortens_the_deadline() {
    // The extend scripts queued on paused nodes run when they resume, after the client
    // gave up on them: the keys then hold the short ttl, so the client must not keep
    // counting on the long one.
    let cluster = start(3);
    let m = builder(&cluster)
        .ttl(Duration::from_secs(30))
        .build()
        .await
        .expect("manager");
    let mut lease = m.acquire("shorten").await.expect("acquire");
    for node in cluster.nodes() {
        node.pause().expect("pause");
    }
    let err = lease
        .extend(Duration::from_secs(2))
        .await
        .expect_err("every node is paused");
    assert!(err.is_unavailable(), "{err}");
    for node in cluster.nodes() {
        node.resume().expect("resume");
    }
    // Let the queued scripts run.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let keys = quorum_pttl(&cluster, "shorten");
    let remaining = lease.remaining();
    assert!(
        remaining <= keys + Duration::from_millis(50),
        "the holder counts on {remaining:?} while a quorum keeps the key for {keys:?}"
    );
    assert!(
        lease.is_valid(),
        "a short extend still leaves a valid lease"
    );
    lease.release().await.expect("release");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renewal_keeps_the_ttl_of_the_last_extend() {
    let cluster = start(3);
    let m = builder(&cluster)
        .ttl(Duration::from_secs(1))
        .node_timeout(Duration::from_millis(200))
        .build()
        .await
        .expect("manager");
    let mut lease = m.acquire("longer").await.expect("acquire");
    lease.extend(Duration::from_secs(6)).await.expect("extend");
    lease.keep_alive().expect("keep alive");
    // Renewals come at a third of the ttl in force: with 6 s, one at about 2 s that
    // sets the keys back to 6 s; with the acquire-time 1 s, one every 333 ms, each
    // shrinking the keys to 1 s.
    let started = Instant::now();
    while started.elapsed() < Duration::from_millis(2500) {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let keys = quorum_pttl(&cluster, "longer");
        assert!(
            keys > Duration::from_millis(2500),
            "renewal shrank the keys to {keys:?} after an extend to 6 s"
        );
        assert!(lease.remaining() <= keys + Duration::from_millis(50));
    }
    lease.release().await.expect("release");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_extend_just_before_the_deadline_is_not_reported_lost() {
    // A `lost()` future armed for the old deadline, polled again only after it passed:
    // the extend moved the deadline meanwhile, so its timer firing must not count as a
    // loss. Both the timer and the state change are ready at that poll; eight leases
    // make a coin flip that favours the timer all but certain to happen once.
    use futures_util::FutureExt;
    let cluster = start(1);
    let m = builder(&cluster)
        .ttl(Duration::from_secs(1))
        .build()
        .await
        .expect("manager");
    let runs = (0..8).map(|i| {
        let m = m.clone();
        async move {
            let resource = format!("race:{i}");
            let mut lease = m.acquire(&resource).await.expect("acquire");
            let old_deadline = lease.deadline().expect("held");
            let mut lost = Box::pin(lease.lost());
            assert!((&mut lost).now_or_never().is_none(), "held at first");
            tokio::time::sleep(Duration::from_millis(200)).await;
            lease.extend(Duration::from_secs(1)).await.expect("extend");
            let new_deadline = lease.deadline().expect("held");
            tokio::time::sleep_until((old_deadline + Duration::from_millis(100)).into()).await;
            assert!(
                Instant::now() < new_deadline,
                "the machine is too slow for this test"
            );
            let spurious = (&mut lost).now_or_never();
            assert_eq!(
                spurious,
                None,
                "reported lost with {:?} left",
                lease.remaining()
            );
            assert!(lease.is_valid());
            lease.release().await.expect("release");
        }
    });
    futures_util::future::join_all(runs).await;
}
