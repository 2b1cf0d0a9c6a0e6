//! Which markers a client trusts. A trusted marker lets the client count a node's young
//! grant at once, without an older marker to compare it with, so trust must only ever go
//! to a marker that delayed restart would not hold back. A round in which every node
//! *refused* still reports each node's marker; before this test, such a round trusted
//! them all, including the young marker of a node that had just lost its data, and the
//! client's next attempt counted that node's grant while a valid lease still held a
//! quorum (found by the `rolling-wipes` chaos probe: two leases live at once).

mod common;

use std::time::Duration;

use common::{builder, closed_port_url};
use redlease::LockManager;
use redlease_testkit::Cluster;

async fn manager(urls: Vec<String>, cluster: &Cluster) -> LockManager {
    builder(cluster)
        .servers(urls)
        .node_timeout(Duration::from_millis(250))
        .ttl(Duration::from_secs(20))
        .max_ttl(Duration::from_secs(60))
        .delayed_restart(true)
        .wake_up_fallback(Duration::from_millis(200))
        .build()
        .await
        .expect("config")
}

/// 3 nodes. A lease is held on nodes 0 and 1 (node 2 partitioned from its holder);
/// node 1 loses its data; another client's grant on node 1, not counted by that client
/// and not yet cleaned up, makes node 1 refuse too. The client under test (`warm`: it
/// used the deployment before and trusts every node's old marker; otherwise it starts
/// now and knows nothing) waits for the lock:
/// its first attempt hears every node out (node 0 refuses for the lease, node 1 refuses
/// with its new marker, node 2 grants), and it keeps trying. Then node 1 is freed.
/// Returns whether the client got the lock while the first lease was still valid.
async fn refusals_then_a_grant(warm: bool) -> bool {
    let cluster = Cluster::start(3).expect("redis-server");
    // The deployment has been in use: markers clearly older than a node that comes back
    // empty. The client under test used it (trusts its markers) or starts afresh.
    let user = manager(cluster.urls(), &cluster).await;
    for _ in 0..3 {
        let lease = user.try_acquire("warm-up").await.expect("all nodes up");
        lease.release().await.expect("release");
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let client = if warm {
        user
    } else {
        manager(cluster.urls(), &cluster).await
    };
    let mut partitioned = cluster.urls();
    partitioned[2] = closed_port_url();
    let holder = manager(partitioned, &cluster).await;
    let lease = holder
        .try_acquire("trust")
        .await
        .expect("nodes 0 and 1 grant");

    cluster.node(1).wipe().expect("node 1 loses its data");
    // Another client's grant there (its own attempt held node 1 back and lost).
    let key = "redlease:{trust}:lock";
    cluster
        .node(1)
        .command(&["SET", key, "another-client", "PX", "20000"])
        .expect("set");
    let waiting = tokio::spawn(async move {
        let lease = client
            .acquire_for("trust", Duration::from_secs(20), Duration::from_secs(3))
            .await;
        (client, lease)
    });
    // Once node 1 has refused the waiter (it is in node 1's queue), the other client
    // cleans up.
    let queue = "redlease:{trust}:queue";
    let give_up = std::time::Instant::now() + Duration::from_secs(20);
    while cluster.node(1).command(&["ZCARD", queue]).expect("zcard") == "0" {
        assert!(
            std::time::Instant::now() < give_up,
            "the waiter never joined node 1's queue"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    cluster.node(1).command(&["DEL", key]).expect("del");

    let (_client, second) = waiting.await.expect("waiter task");
    let two_holders = second.is_ok() && lease.is_valid();
    if let Err(e) = &second {
        // Busy (node 1 held back, node 0 refusing); unavailable only if a loaded machine
        // timed out the other nodes too.
        assert!(e.is_busy() || e.is_unavailable(), "{e}");
    }
    if let Ok(l) = second {
        let _ = l.forget();
    }
    lease.release().await.expect("release");
    two_holders
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_do_not_make_a_replaced_marker_trusted() {
    assert!(
        !refusals_then_a_grant(true).await,
        "two holders: node 1's new marker was trusted after a round of refusals"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_do_not_make_a_young_marker_trusted() {
    assert!(
        !refusals_then_a_grant(false).await,
        "two holders: node 1's young marker was trusted after a round of refusals"
    );
}
