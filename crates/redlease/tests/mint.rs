//! Fencing tokens minted on demand (several nodes): only when asked for, once per lease,
//! never for a lease that is no longer ours or past its deadline, and in the order of the
//! leases (G2).

mod common;

use std::time::{Duration, Instant};

use common::{builder, manager, start};
use redlease::{LeaseState, LostReason};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_is_minted_when_first_asked_for_and_kept() {
    let cluster = start(3);
    let m = manager(&cluster).await;
    let lease = m.acquire("asked").await.expect("acquire");
    assert_eq!(lease.minted_token(), None, "not minted by the acquisition");
    let status = m.status("asked").await.expect("status");
    assert_eq!(status.last_fencing_token, 0, "nothing written yet");
    // Two callers at once get one token.
    let handle = lease.handle();
    let (a, b) = tokio::join!(lease.fencing_token(), handle.fencing_token());
    let token = a.expect("token");
    assert_eq!(b.expect("token"), token);
    assert!(token > 0);
    assert_eq!(lease.fencing_token().await.expect("token"), token);
    assert_eq!(lease.minted_token(), Some(token));
    let status = m.status("asked").await.expect("status");
    assert_eq!(status.last_fencing_token, token, "recorded on the nodes");
    lease.release().await.expect("release");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn where_the_token_is_minted_follows_whether_the_last_lease_asked() {
    let cluster = start(3);
    let m = manager(&cluster).await;
    let mut last = 0;
    // (asked for its token, minted by the acquisition)
    for (ask, at_acquisition) in [
        (true, false),
        (true, true),
        (false, true),
        (false, false),
        (true, false),
        (true, true),
    ] {
        let lease = m.acquire("habits").await.expect("acquire");
        assert_eq!(
            lease.minted_token().is_some(),
            at_acquisition,
            "after a lease that {} asked",
            if at_acquisition { "was" } else { "was not" }
        );
        let before = m.status("habits").await.expect("status").last_fencing_token;
        if ask {
            let token = lease.fencing_token().await.expect("token");
            assert!(token > last, "token {token} after {last}");
            last = token;
        }
        lease.release().await.expect("release");
        if !ask && !at_acquisition {
            // Neither minted nor asked: the counters were left alone.
            let after = m.status("habits").await.expect("status").last_fencing_token;
            assert_eq!(after, before);
        }
        last = last.max(before);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_at_acquisition_is_there_at_once() {
    let cluster = start(3);
    let m = builder(&cluster)
        .token_at_acquire(true)
        .build()
        .await
        .expect("manager");
    let lease = m.acquire("eager").await.expect("acquire");
    let token = lease.minted_token().expect("minted by the acquisition");
    assert_eq!(lease.fencing_token().await.expect("token"), token);
    lease.release().await.expect("release");
    // On demand after at acquisition, on the same resource: still above.
    let lazy = manager(&cluster).await;
    let lease = lazy.acquire("eager").await.expect("acquire");
    assert!(lease.fencing_token().await.expect("token") > token);
    lease.release().await.expect("release");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lease_whose_keys_were_taken_cannot_mint() {
    let cluster = start(3);
    let m = manager(&cluster).await;
    let lease = m.acquire("taken").await.expect("acquire");
    // The keys vanish (an operator's DEL, or expiry while the holder was paused) and
    // someone else takes the lock.
    for node in cluster.nodes() {
        node.command(&["DEL", "redlease:{taken}:lock"])
            .expect("del");
    }
    let other = m.acquire("taken").await.expect("the other acquires");
    let theirs = other.fencing_token().await.expect("their token");
    let err = lease
        .fencing_token()
        .await
        .expect_err("no token for a lease not ours");
    assert!(err.is_lost(), "{err}");
    assert_eq!(lease.state(), LeaseState::Lost(LostReason::NotHeld));
    assert_eq!(lease.minted_token(), None);
    assert!(!lease.is_valid());
    let status = m.status("taken").await.expect("status");
    assert_eq!(
        status.last_fencing_token, theirs,
        "the failed mint wrote nothing above"
    );
    other.release().await.expect("release");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_few_nodes_leave_the_lease_held_without_a_token() {
    let cluster = start(3);
    let m = builder(&cluster)
        .node_timeout(Duration::from_millis(100))
        .build()
        .await
        .expect("manager");
    let lease = m.acquire("few").await.expect("acquire");
    cluster.node(1).pause().expect("pause");
    cluster.node(2).pause().expect("pause");
    let err = lease.fencing_token().await.expect_err("one node of three");
    cluster.node(1).resume().expect("resume");
    cluster.node(2).resume().expect("resume");
    assert!(err.is_unavailable(), "{err}");
    assert!(lease.is_valid(), "still held until its deadline");
    assert_eq!(lease.minted_token(), None);
    // The nodes answer again: the token is minted.
    let token = lease
        .fencing_token()
        .await
        .expect("minted once a quorum answers");
    assert!(token > 0);
    lease.release().await.expect("release");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mint_that_ends_after_the_deadline_does_not_count() {
    // The read round waits for every node (each up to the node timeout): with one node
    // hung, a mint asked for shortly before the deadline ends after it. Confirmations that
    // late prove nothing (the lease may have been granted to someone else meanwhile), so
    // there is no token and the lease is lost.
    let cluster = start(3);
    let timeout = Duration::from_millis(400);
    // A large drift allowance: the keys outlive the client's deadline by 0.8 s, so the
    // nodes still hold them when the late mint records its token; only the client's
    // deadline stands between that and a token.
    let m = builder(&cluster)
        .ttl(Duration::from_secs(2))
        .drift_factor(0.4)
        .node_timeout(timeout)
        .build()
        .await
        .expect("manager");
    let lease = m.acquire("late").await.expect("acquire");
    let deadline = lease.deadline().expect("held");
    cluster.node(2).pause().expect("pause");
    tokio::time::sleep_until((deadline - timeout / 4).into()).await;
    let asked = Instant::now();
    let result = lease.fencing_token().await;
    cluster.node(2).resume().expect("resume");
    let err = result.expect_err("no token after the deadline");
    assert!(err.is_lost(), "{err}");
    // (Asked after the deadline, on a loaded machine, it fails at once: the same error.)
    let _ = asked;
    assert_eq!(lease.minted_token(), None);
    assert!(matches!(lease.state(), LeaseState::Lost(_)));
}
