//! Checks at connect, on real servers: a replica is refused with an error naming it, and
//! `node_checks` reports each node's kind, role, eviction policy and persistence, with
//! "unknown" where an ACL forbids CONFIG.

mod common;

use std::time::Duration;

use redlease::{LockManager, NodeKind};
use redlease_testkit::{RedisCluster, Replicated};

async fn manager(url: String) -> LockManager {
    LockManager::builder()
        .servers([url])
        .node_timeout(Duration::from_millis(500))
        .wait(Duration::ZERO)
        .build()
        .await
        .expect("valid")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_is_refused_with_an_error_naming_it() {
    let set = Replicated::start(1).expect("primary and replica");
    let replica = &set.replicas()[0];
    let manager = manager(replica.url()).await;
    let err = manager.try_acquire("r").await.expect_err("a replica");
    assert!(err.is_unavailable(), "{err}");
    let text = err.to_string();
    assert!(
        text.contains(&replica.url()) && text.contains("is a replica"),
        "{text}"
    );
    let checks = manager.node_checks().await;
    assert!(checks[0].reachable.is_err(), "{checks:?}");

    let primary = manager_for_primary(&set).await;
    primary
        .try_acquire("r")
        .await
        .expect("the primary is fine")
        .release()
        .await
        .expect("release");
}

async fn manager_for_primary(set: &Replicated) -> LockManager {
    manager(set.primary().url()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_checks_report_eviction_persistence_and_what_is_unknown() {
    let cluster = common::start(1);
    let node = cluster.node(0);
    node.command(&["CONFIG", "SET", "maxmemory-policy", "volatile-lru"])
        .expect("config");
    let checks = manager(node.url()).await.node_checks().await;
    let check = &checks[0];
    assert_eq!(check.kind, NodeKind::Standalone);
    assert!(check.reachable.is_ok(), "{check:?}");
    assert_eq!(check.role.as_deref(), Some("master"));
    assert_eq!(check.maxmemory_policy.as_deref(), Some("volatile-lru"));
    assert!(
        check.appendonly.is_some() && check.save.is_some(),
        "{check:?}"
    );
    assert!(
        check
            .warnings
            .iter()
            .any(|w| w.contains("can evict lock keys")),
        "{check:?}"
    );

    // A lock user without CONFIG: reachable, settings unknown, and said so.
    node.acl_setuser("nocfg", &["on", ">pw", "~*", "&*", "+@all", "-config"])
        .expect("acl");
    let port = node.port().expect("tcp");
    let checks = manager(format!("redis://nocfg:pw@127.0.0.1:{port}"))
        .await
        .node_checks()
        .await;
    let check = &checks[0];
    assert!(check.reachable.is_ok(), "{check:?}");
    assert_eq!(check.maxmemory_policy, None);
    assert!(
        check.warnings.iter().any(|w| w.contains("unknown")),
        "{check:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_node_is_checked_on_a_primary() {
    let cluster = RedisCluster::start(1, 0).expect("cluster");
    let checks = manager(cluster.cluster_url()).await.node_checks().await;
    assert_eq!(checks[0].kind, NodeKind::Cluster);
    assert_eq!(checks[0].role.as_deref(), Some("master"), "{checks:?}");
}
