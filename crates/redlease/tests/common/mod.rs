//! Shared helpers for the integration tests: a manager over a test-kit cluster with
//! generous timeouts (tests assert behaviour, not speed, on a loaded 2-core machine).

#![allow(dead_code)]

use std::time::Duration;

use redlease::{Builder, LockManager};
use redlease_testkit::Cluster;

/// A builder over `cluster` with test-friendly defaults: ttl 5 s, node timeout 250 ms,
/// wait 30 s.
pub fn builder(cluster: &Cluster) -> Builder {
    LockManager::builder()
        .servers(cluster.urls())
        .ttl(Duration::from_secs(5))
        .node_timeout(Duration::from_millis(250))
        .wait(Duration::from_secs(30))
}

pub async fn manager(cluster: &Cluster) -> LockManager {
    builder(cluster)
        .build()
        .await
        .expect("valid test configuration")
}

pub fn start(nodes: usize) -> Cluster {
    Cluster::start(nodes).expect("redis-server must be installed: apt-get install -y redis-server")
}

/// A loopback URL where nothing listens (distinct per call): a node partitioned from
/// one client.
pub fn closed_port_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    drop(listener);
    format!("redis://127.0.0.1:{port}")
}
