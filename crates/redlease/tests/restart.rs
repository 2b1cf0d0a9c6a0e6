//! In-band delayed restart: a node that comes back empty into a live deployment does not
//! count as a grant for `max_ttl`; a brand-new deployment works at once; a node restarted
//! with its data is not held back; an operator can mark nodes ready or reset them.

mod common;

use std::future::Future;
use std::task::Poll;
use std::time::{Duration, Instant};

use common::{builder, closed_port_url};
use redlease::{LockManager, NodeError};
use redlease_testkit::{Cluster, ClusterOptions};

async fn manager(cluster: &Cluster, delayed_restart: bool) -> LockManager {
    with_servers(builder(cluster), delayed_restart).await
}

async fn with_servers(b: redlease::Builder, delayed_restart: bool) -> LockManager {
    b.node_timeout(Duration::from_millis(100))
        .ttl(Duration::from_secs(20))
        .max_ttl(Duration::from_secs(60))
        .delayed_restart(delayed_restart)
        .build()
        .await
        .expect("config")
}

/// Use the deployment for a few seconds, so its markers are clearly older than a node
/// that comes back empty. A use that timed out (the node timeout is 100 ms, and a loaded
/// machine can miss it) is tried again, also when the failed try's own clean-up has not
/// reached a node yet: only the markers' age matters here.
async fn warm_up(m: &LockManager) {
    for _ in 0..5 {
        let mut tries = 0;
        let lease = loop {
            tries += 1;
            match m.try_acquire("warm-up").await {
                Ok(lease) => break lease,
                Err(e) if tries < 5 && (e.is_unavailable() || e.is_busy()) => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => panic!("all nodes up: {e:?}"),
            }
        };
        lease.release().await.expect("release");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// The classic counterexample. A lease is held on A, B, C (D and E unreachable at that
/// moment); C restarts empty; A and B become unreachable; a second client reaches C, D, E.
/// Returns whether the second client got the lock while the first lease was still valid.
async fn classic_counterexample(delayed_restart: bool) -> bool {
    let cluster = Cluster::start(5).expect("redis-server");
    let second = manager(&cluster, delayed_restart).await;
    warm_up(&second).await;

    // The first client cannot reach D and E at that moment (a partition: its requests
    // never arrive there, so nothing lands late either).
    let mut partitioned = cluster.urls();
    partitioned[3] = closed_port_url();
    partitioned[4] = closed_port_url();
    let first = with_servers(builder(&cluster).servers(partitioned), delayed_restart).await;
    let lease = first.try_acquire("classic").await.expect("A, B, C grant");

    cluster
        .node(2)
        .restart()
        .expect("C restarts without its data");
    cluster.node(0).pause().expect("pause A");
    cluster.node(1).pause().expect("pause B");

    let outcome = second.try_acquire("classic").await;
    let two_holders = outcome.is_ok() && lease.is_valid();
    if let Err(e) = &outcome {
        assert!(e.is_busy() || e.is_unavailable(), "{e}");
        if delayed_restart {
            assert!(
                e.node_failures()
                    .iter()
                    .any(|f| f.index == 2 && matches!(f.error, NodeError::HeldBack { .. })),
                "C should be named as held back: {e}"
            );
        }
    }
    cluster.node(0).resume().expect("resume A");
    cluster.node(1).resume().expect("resume B");
    let _ = lease.forget();
    if let Ok(l) = outcome {
        let _ = l.forget();
    }
    two_holders
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_delayed_restart_the_counterexample_has_two_holders() {
    assert!(
        classic_counterexample(false).await,
        "expected the known Redlock failure without delayed restart"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_delayed_restart_the_counterexample_is_refused() {
    assert!(!classic_counterexample(true).await, "two holders at once");
}

/// The counterexample once the second client has seen every marker `max_ttl` old (an
/// operator marked the nodes ready): its quick acquire then checks each node's marker by
/// its birth instead of reading the node's clock (`ops/quick.rs`; without fencing). C comes back empty and
/// a third client's acquisition writes C a new marker; that marker is not the old one, so
/// C's grant is judged by the script's answer (a young marker among old ones) and held
/// back. Were any marker taken for the old one, C, D and E would make a quorum.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_markers_known_old_a_wiped_node_is_still_held_back() {
    let cluster = Cluster::start(5).expect("redis-server");
    // Without fencing: a client that mints tokens reads the clocks anyway.
    let second = with_servers(builder(&cluster).fencing(false), true).await;
    for (node, result) in second.mark_nodes_ready().await {
        result.unwrap_or_else(|e| panic!("{node}: {e}"));
    }
    // The second client sees every marker old, and remembers it.
    warm_up(&second).await;

    let mut partitioned = cluster.urls();
    partitioned[3] = closed_port_url();
    partitioned[4] = closed_port_url();
    let first = with_servers(builder(&cluster).servers(partitioned), true).await;
    let lease = first.try_acquire("old").await.expect("A, B, C grant");

    cluster
        .node(2)
        .restart()
        .expect("C restarts without its data");
    // A third client writes C's new marker (its own acquisition holds C back).
    let third = manager(&cluster, true).await;
    if let Ok(other) = third.try_acquire("elsewhere").await {
        other.release().await.expect("release");
    }
    cluster.node(0).pause().expect("pause A");
    cluster.node(1).pause().expect("pause B");

    // A caller that waits: its first attempt is the quick acquire.
    let outcome = second
        .acquire_for("old", Duration::from_secs(20), Duration::from_millis(300))
        .await;
    let two_holders = outcome.is_ok() && lease.is_valid();
    cluster.node(0).resume().expect("resume A");
    cluster.node(1).resume().expect("resume B");
    let _ = lease.forget();
    if let Ok(l) = outcome {
        let _ = l.forget();
    }
    assert!(!two_holders, "two holders at once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_brand_new_deployment_works_at_once() {
    let cluster = Cluster::start(3).expect("redis-server");
    let m = manager(&cluster, true).await;
    let lease = m.try_acquire("fresh").await.expect("no node held back");
    lease.release().await.expect("release");
    let markers = m.node_markers().await;
    assert_eq!(markers.len(), 3);
    for (node, age) in markers {
        let age = age.expect("answered").expect("marker written");
        assert!(age < Duration::from_secs(30), "{node}: {age:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_restarted_with_its_data_is_not_held_back() {
    let cluster = Cluster::start_with(ClusterOptions {
        nodes: 3,
        persistence: true,
        ..Default::default()
    })
    .expect("redis-server");
    let m = manager(&cluster, true).await;
    warm_up(&m).await;
    cluster.node(2).restart().expect("restart with AOF");
    cluster.node(0).pause().expect("pause");
    // Node 2 is needed for a quorum of 2 out of 3.
    let lease = m.try_acquire("persisted").await.expect("node 2 counts");
    cluster.node(0).resume().expect("resume");
    lease.release().await.expect("release");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_can_mark_nodes_ready_or_reset_them() {
    let cluster = Cluster::start(3).expect("redis-server");
    let m = manager(&cluster, true).await;
    warm_up(&m).await;
    cluster.node(2).restart().expect("restart empty");
    cluster.node(0).pause().expect("pause");
    let err = m
        .try_acquire("operator")
        .await
        .expect_err("node 2 held back");
    assert!(err.is_unavailable(), "{err}");
    // The operator knows node 2 was down for long enough.
    let marked = m.mark_nodes_ready().await;
    assert!(marked[2].1.is_ok(), "{marked:?}");
    let lease = m
        .try_acquire("operator")
        .await
        .expect("node 2 counts again");
    lease.release().await.expect("release");
    cluster.node(0).resume().expect("resume");

    // A reset makes the deployment new: no marker anywhere until the next acquisition.
    for (node, result) in m.reset_node_markers().await {
        result.unwrap_or_else(|e| panic!("{node}: {e}"));
    }
    for (node, age) in m.node_markers().await {
        assert_eq!(age.expect("answered"), None, "{node}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn held_by_another_with_a_node_held_back_is_busy_not_unavailable() {
    // Every node answers; four refuse (held by another owner), the fifth came back empty
    // and its grant is held back. Whatever order the answers arrive in, that is "busy":
    // the holder's refusals settle it, not missing nodes.
    let cluster = Cluster::start(5).expect("redis-server");
    let m = manager(&cluster, true).await;
    warm_up(&m).await;
    let lease = m.try_acquire("held").await.expect("all nodes up");
    cluster.node(4).wipe().expect("node 4 loses its data");
    for _ in 0..21 {
        let e = m.try_acquire("held").await.expect_err("held by the lease");
        assert!(e.is_busy(), "reported as {:?}: {e}", e.kind());
    }
    lease.release().await.expect("release");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_stall_cannot_make_a_wiped_node_look_trusted() {
    stall_across_a_wipe(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_stall_cannot_make_a_wiped_node_look_trusted_without_fencing() {
    // Unfenced grants answer in a short form: it carries the marker's birth too.
    stall_across_a_wipe(false).await;
}

async fn stall_across_a_wipe(fencing: bool) {
    // A client that trusts a node's marker counts that node's young grants at once. It
    // must recognise the marker by the node's own record of it, not by when the client
    // happened to process a reply: here the client stalls between the node running its
    // acquire and reading the answer, the node is wiped and re-marked during the stall,
    // and the new marker is born exactly as much later as the stall was long. Judged by
    // the client's clock the two markers look the same, so the wiped node's grant would
    // count while a valid lease still holds a quorum.
    let cluster = Cluster::start(3).expect("redis-server");
    let with_timeout = |urls: Vec<String>| {
        builder(&cluster)
            .servers(urls)
            .node_timeout(Duration::from_millis(500))
            .ttl(Duration::from_secs(30))
            .max_ttl(Duration::from_secs(60))
            .delayed_restart(true)
            .fencing(fencing)
            .build()
    };
    let m = with_timeout(cluster.urls()).await.expect("config");
    let first_contact = Instant::now();
    m.try_acquire("warm-up")
        .await
        .expect("a new deployment")
        .release()
        .await
        .expect("release");

    // The first holder reaches nodes 0 and 1 only (node 2 is partitioned from it).
    let mut partitioned = cluster.urls();
    partitioned[2] = closed_port_url();
    let other = with_timeout(partitioned).await.expect("config");
    let held = other
        .try_acquire("stall")
        .await
        .expect("nodes 0 and 1 grant");

    // `m` sends an acquisition and stalls before reading the answers. (Answers that
    // arrive while the first poll is still sending are read at once: then try again.)
    // A fresh resource each time: the last try's release returns at a quorum and may
    // still be on its way to the third node.
    let resources: Vec<String> = (0..20).map(|i| format!("stalled-{i}")).collect();
    let mut tries = resources.iter();
    let (sent, stalled) = loop {
        let resource = tries
            .next()
            .expect("an acquisition whose answers were not read within its first poll");
        let sent = Instant::now();
        let mut acquisition = Box::pin(m.try_acquire(resource));
        match std::future::poll_fn(|cx| Poll::Ready(acquisition.as_mut().poll(cx))).await {
            Poll::Pending => break (sent, acquisition),
            Poll::Ready(lease) => lease
                .expect("all nodes up")
                .release()
                .await
                .expect("release"),
        }
    };
    let runtime = tokio::runtime::Handle::current();
    std::thread::scope(|scope| {
        let wiper = scope.spawn(|| {
            std::thread::sleep(Duration::from_secs(2));
            cluster.node(1).wipe().expect("node 1 loses its data");
            let remarked = Instant::now();
            // The first acquisition to reach node 1 writes its new marker.
            runtime.block_on(async {
                if let Ok(lease) = other.try_acquire("re-mark").await {
                    let _ = lease.release().await;
                }
            });
            remarked
        });
        let remarked = wiper.join().expect("wiper thread");
        // Read the answers as late after sending as node 1 was re-marked after its first
        // marker: by the client's clock the new marker is born when the old one was.
        let read_at = sent + remarked.saturating_duration_since(first_contact);
        std::thread::sleep(read_at.saturating_duration_since(Instant::now()));
    });
    stalled
        .await
        .expect("every node grants the stalled acquisition")
        .release()
        .await
        .expect("release");

    let second = m.try_acquire("stall").await;
    let two_holders = second.is_ok() && held.is_valid();
    match &second {
        Ok(_) => {}
        Err(e) => {
            assert!(e.is_busy(), "{e}");
            assert!(
                e.node_failures()
                    .iter()
                    .any(|f| f.index == 1 && matches!(f.error, NodeError::HeldBack { .. })),
                "node 1 should be named as held back: {e}"
            );
        }
    }
    if let Ok(lease) = second {
        let _ = lease.forget();
    }
    let _ = held.forget();
    assert!(
        !two_holders,
        "two holders: the wiped node's grant was counted"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_whose_trusted_marker_changed_is_held_back_while_the_others_are_silent() {
    // Five nodes, and a client that trusts every node's marker. Another client holds a
    // lease on all five. Three nodes lose their data and the two that kept it stop
    // answering: only young markers arrive, as in a brand-new deployment. The client knows
    // better: those markers replaced the ones it trusted, so the nodes lost their data.
    let cluster = Cluster::start(5).expect("redis-server");
    let m = manager(&cluster, true).await;
    warm_up(&m).await;
    let holder = manager(&cluster, true).await;
    let lease = holder.try_acquire("silent").await.expect("all nodes up");
    for i in 0..3 {
        cluster.node(i).wipe().expect("a node loses its data");
    }
    cluster.node(3).pause().expect("pause");
    cluster.node(4).pause().expect("pause");
    let second = m.try_acquire("silent").await;
    cluster.node(3).resume().expect("resume");
    cluster.node(4).resume().expect("resume");
    let two_holders = second.is_ok() && lease.is_valid();
    if let Err(e) = &second {
        let held_back = e
            .node_failures()
            .iter()
            .filter(|f| matches!(f.error, NodeError::HeldBack { .. }))
            .count();
        assert_eq!(held_back, 3, "the wiped nodes are named as held back: {e}");
    }
    if let Ok(l) = second {
        let _ = l.forget();
    }
    lease.release().await.expect("release");
    assert!(!two_holders, "two holders: the wiped nodes' grants counted");
}
