//! Sentinel nodes (`redis+sentinel://`) and replicated grants (`min_replicas`), on real
//! primaries, replicas and sentinels from the test kit.
//!
//! A Sentinel URL is one lock node that follows its service's primary across failovers.
//! Replication is asynchronous: without `min_replicas`, a grant that no replica had yet
//! is lost when its primary fails over, and a second client gets the same lock (shown
//! here by holding replication back before the failover). With `min_replicas(1)`, a
//! grant only counts once a replica confirmed it, so the lease survives the failover.

use std::time::Duration;

use redlease::{LockManager, NodeError};
use redlease_testkit::{Node, Reply, SentinelOptions, Sentinels};

fn start() -> Sentinels {
    Sentinels::start().expect("redis-server must be installed: apt-get install -y redis-server")
}

async fn manager(url: String, min_replicas: u32) -> LockManager {
    LockManager::builder()
        .servers([url])
        .ttl(Duration::from_secs(20))
        .node_timeout(Duration::from_millis(500))
        .wait(Duration::from_secs(15))
        .min_replicas(min_replicas)
        .build()
        .await
        .expect("valid configuration")
}

/// Cut every replica off the primary: they fail to re-authenticate until `resume`.
fn hold_back_replication(sentinels: &Sentinels, primary: &Node) {
    for replica in sentinels.servers().nodes() {
        if replica.port() != primary.port() {
            replica
                .command(&["CONFIG", "SET", "masterauth", "wrong-on-purpose"])
                .expect("config set");
        }
    }
    primary
        .command(&["CLIENT", "KILL", "TYPE", "replica"])
        .expect("kill replica links");
}

fn resume_replication(sentinels: &Sentinels) {
    for replica in sentinels.servers().nodes() {
        if replica.is_running() {
            let _ = replica.command(&["CONFIG", "SET", "masterauth", ""]);
        }
    }
}

fn primary(sentinels: &Sentinels) -> &Node {
    sentinels.servers().current_primary().expect("a primary")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn locks_on_the_primary_and_an_unknown_service_is_named() {
    let sentinels = start();
    let manager = manager(sentinels.sentinel_url(), 0).await;
    let lease = manager.try_acquire("s").await.expect("acquire");
    assert_eq!(
        primary(&sentinels)
            .command(&["GET", "redlease:{s}:lock"])
            .expect("get"),
        lease.owner()
    );
    lease.release().await.expect("release");

    let url = sentinels
        .sentinel_url()
        .replace("/redlease", "/no-such-service");
    let wrong = LockManager::builder()
        .servers([url])
        .node_timeout(Duration::from_millis(500))
        .wait(Duration::ZERO)
        .build()
        .await
        .expect("a node that cannot be resolved is a failed vote, not a build error");
    let err = wrong.try_acquire("s").await.expect_err("no primary");
    assert!(err.is_unavailable(), "{err}");
    let text = err.to_string();
    assert!(text.contains("\"no-such-service\""), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_min_replicas_a_lease_survives_a_failover() {
    let sentinels = start();
    let holder = manager(sentinels.sentinel_url(), 1).await;
    let mut lease = holder.try_acquire("survives").await.expect("acquire");
    sentinels
        .kill_primary_and_wait_failover()
        .expect("failover");
    let other = manager(sentinels.sentinel_url(), 1).await;
    let refused = other.try_acquire("survives").await.expect_err("still held");
    assert!(refused.is_busy(), "{refused}");
    // The new primary's other replica re-syncs first: extends must reach one too.
    sentinels.servers().wait_for_sync().expect("sync");
    lease
        .extend(Duration::from_secs(20))
        .await
        .expect("the holder extends on the new primary");
    lease.release().await.expect("release on the new primary");
    other
        .try_acquire("survives")
        .await
        .expect("free after release")
        .release()
        .await
        .expect("release");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn min_replicas_refuses_a_grant_no_replica_confirmed() {
    let sentinels = start();
    let old = primary(&sentinels);
    hold_back_replication(&sentinels, old);
    let manager = manager(sentinels.sentinel_url(), 1).await;
    let err = manager
        .try_acquire("unconfirmed")
        .await
        .expect_err("no replica can confirm");
    assert!(err.is_unavailable(), "{err}");
    assert!(
        err.node_failures()
            .iter()
            .any(|f| matches!(f.error, NodeError::Replication(_))),
        "{err}"
    );
    // Nothing left behind: the failed attempt's clean-up (in the background, after
    // the error was returned) released its grant.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while old
        .command(&["EXISTS", "redlease:{unconfirmed}:lock"])
        .expect("exists")
        != "0"
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the unconfirmed grant was left behind"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    resume_replication(&sentinels);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_min_replicas_a_failover_loses_an_unreplicated_lease() {
    let sentinels = start();
    let old = primary(&sentinels);
    hold_back_replication(&sentinels, old);
    let holder = manager(sentinels.sentinel_url(), 0).await;
    let lease = holder
        .try_acquire("lost")
        .await
        .expect("granted by the primary alone");
    sentinels
        .kill_primary_and_wait_failover()
        .expect("failover");
    resume_replication(&sentinels);
    let other = manager(sentinels.sentinel_url(), 0).await;
    let second = other
        .try_acquire("lost")
        .await
        .expect("the promoted replica never had the grant");
    assert!(
        lease.is_valid(),
        "two valid leases at once: the first was lost"
    );
    second.release().await.expect("release");
}

/// The primary port `sentinel` reports for the service.
fn reported_port(sentinels: &Sentinels, sentinel: &Node) -> Option<u16> {
    let args = ["SENTINEL", "get-master-addr-by-name", sentinels.service()];
    match sentinel.query(&args).ok()? {
        Reply::Array(items) => match items.get(1) {
            Some(Reply::Bulk(port)) => std::str::from_utf8(port).ok()?.parse().ok(),
            _ => None,
        },
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_planned_failover_is_followed_while_the_old_primary_still_takes_writes() {
    // A planned failover (SENTINEL FAILOVER) leaves the old primary up, and Sentinel
    // demotes it only after it has reported itself as primary for seconds: meanwhile it
    // still takes writes, and a connection to it neither breaks nor reads READONLY. The
    // node follows the sentinels' +switch-master announcement instead: the first
    // request after the switch already goes to the new primary.
    let sentinels = start();
    let manager = LockManager::builder()
        .servers([sentinels.sentinel_url()])
        .ttl(Duration::from_secs(20))
        .node_timeout(Duration::from_millis(500))
        .build()
        .await
        .expect("valid configuration");
    manager
        .try_acquire("switch")
        .await
        .expect("on the first primary")
        .release()
        .await
        .expect("release");
    let old = primary(&sentinels).port();
    sentinels.sentinels()[0]
        .command(&["SENTINEL", "FAILOVER", sentinels.service()])
        .expect("a planned failover");
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let new = loop {
        // Every sentinel has announced the switch once each names the new primary.
        let reports: Vec<_> = sentinels
            .sentinels()
            .iter()
            .map(|s| reported_port(&sentinels, s))
            .collect();
        if let Some(Some(port)) = reports.first()
            && Some(*port) != old
            && reports.iter().all(|r| r == &Some(*port))
        {
            break *port;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no failover within 20 s: {reports:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    // Time for the announcement to reach the node's subscriber (well inside the seconds
    // before Sentinel demotes the old primary).
    tokio::time::sleep(Duration::from_millis(500)).await;
    let lease = manager
        .try_acquire("switch")
        .await
        .expect("the first request after the switch succeeds");
    let new_primary = sentinels
        .servers()
        .node_by_port(new)
        .expect("the new primary is ours");
    assert_eq!(
        new_primary
            .command(&["GET", "redlease:{switch}:lock"])
            .expect("get"),
        lease.owner(),
        "the grant went to the old primary (port {old:?}), not the new one (port {new})"
    );
    lease.release().await.expect("release on the new primary");
}

/// Subscriber connections on `sentinel` (ours: sentinels do not subscribe to each other).
fn subscribers(sentinel: &Node) -> usize {
    sentinel
        .command(&["CLIENT", "LIST", "TYPE", "pubsub"])
        .expect("client list")
        .lines()
        .filter(|line| line.contains("sub=1"))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_switch_subscriptions_end_with_the_manager() {
    let sentinels = start();
    let manager = manager(sentinels.sentinel_url(), 0).await;
    let wait_for = |want: usize, what: &str| {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while sentinels.sentinels().iter().any(|s| subscribers(s) != want) {
            assert!(std::time::Instant::now() < deadline, "{what}");
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    wait_for(1, "one +switch-master subscription on every sentinel");
    drop(manager);
    wait_for(0, "the subscriptions outlived their manager");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sentinels_with_a_password_of_their_own() {
    let sentinels = Sentinels::start_with(SentinelOptions {
        sentinel_password: Some("guard-s3ntinels".into()),
        ..SentinelOptions::default()
    })
    .expect("sentinels with requirepass");
    let base = sentinels.sentinel_url();

    // Without their password the sentinels refuse: a failed vote that says so.
    let refused = manager(base.clone(), 0)
        .await
        .try_acquire("guarded")
        .await
        .expect_err("the sentinels refuse us");
    assert!(refused.is_unavailable(), "{refused}");
    assert!(
        refused
            .to_string()
            .contains("the sentinels require a password: give theirs as ?sentinel_password="),
        "{refused}"
    );

    // A wrong one is refused too, and never shown.
    let wrong = manager(format!("{base}?sentinel_password=not-the-one"), 0)
        .await
        .try_acquire("guarded")
        .await
        .expect_err("wrong sentinel password");
    let text = wrong.to_string();
    assert!(!text.contains("not-the-one"), "{text}");
    assert!(
        text.contains("the sentinels refused the sentinel_username/sentinel_password"),
        "{text}"
    );
    assert!(!text.contains("AuthenticationFailed"), "{text}");

    // With it, the primary is found, and the switch subscriptions authenticate too.
    let manager = manager(format!("{base}?sentinel_password=guard-s3ntinels"), 0).await;
    let lease = manager.try_acquire("guarded").await.expect("acquire");
    assert_eq!(
        primary(&sentinels)
            .command(&["GET", "redlease:{guarded}:lock"])
            .expect("get"),
        lease.owner()
    );
    lease.release().await.expect("release");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while sentinels.sentinels().iter().any(|s| subscribers(s) != 1) {
        assert!(
            std::time::Instant::now() < deadline,
            "no +switch-master subscription on every sentinel"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Parameters other than the sentinels' credentials are named.
    let err = LockManager::builder()
        .servers([format!("{base}?sentinel_pasword=typo")])
        .build()
        .await
        .expect_err("unknown parameter");
    let text = err.to_string();
    assert!(text.contains("sentinel_pasword"), "{text}");
    assert!(!text.contains("typo"), "{text}");
}
