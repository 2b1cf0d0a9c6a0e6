//! The point of the tool: concurrent `redlease exec` processes never overlap, and the
//! fencing tokens they get grow in the order their critical sections ran.

mod common;

use std::time::Duration;

use common::{Background, TempDir, cluster, redlease};
use redlease_testkit::RedisCluster;

const PROCESSES: usize = 20;

#[test]
fn concurrent_execs_never_overlap_and_tokens_increase() {
    let c = cluster(5);
    contend(&c.urls(), "mutex");
}

/// The same through a Redis Cluster given as one node: every process reaches the
/// resource's shard through the cluster client.
#[test]
fn concurrent_execs_through_a_redis_cluster_never_overlap() {
    let c = RedisCluster::start(3, 0).expect("a Redis Cluster");
    contend(&[c.cluster_url()], "mutex-cluster");
}

/// PROCESSES concurrent `exec`s of a non-atomic read-modify-write on one resource.
fn contend(servers: &[String], name: &str) {
    let servers = servers.to_vec();
    let dir = TempDir::new(name);
    std::fs::write(dir.path().join("count"), "0\n").expect("write count");
    // Non-atomic read-modify-write: any overlap loses an increment.
    let script =
        "n=$(cat count); sleep 0.01; echo $((n+1)) > count; echo $REDLEASE_FENCING_TOKEN >> tokens";
    let children: Vec<Background> = (0..PROCESSES)
        .map(|_| {
            Background::spawn(redlease(&servers).current_dir(dir.path()).args([
                "exec", "--wait", "120s", "counter", "--", "sh", "-c", script,
            ]))
        })
        .collect();
    for child in children {
        child.finish(Duration::from_secs(180)).expect_code(0);
    }
    let count = std::fs::read_to_string(dir.path().join("count")).expect("read count");
    assert_eq!(count.trim(), PROCESSES.to_string(), "lost updates");
    let tokens: Vec<u64> = std::fs::read_to_string(dir.path().join("tokens"))
        .expect("read tokens")
        .lines()
        .map(|l| l.trim().parse().expect("a token"))
        .collect();
    assert_eq!(tokens.len(), PROCESSES);
    assert!(
        tokens.windows(2).all(|w| w[0] < w[1]),
        "tokens not strictly increasing in write order: {tokens:?}"
    );
}
