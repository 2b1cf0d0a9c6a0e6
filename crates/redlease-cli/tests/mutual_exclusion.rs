//! The point of the tool: concurrent `redlease exec` processes never overlap, and the
//! fencing tokens they get grow in the order their critical sections ran.

mod common;

use std::time::Duration;

use common::{Background, TempDir, cluster, redlease, run};
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

/// Workers running at once, and sections each runs (one `exec` process per section).
const WORKERS: usize = 6;
const ROUNDS: usize = 5;

/// WORKERS concurrent workers, each running ROUNDS `exec` processes one after another,
/// through a three-shard Redis Cluster and through Redlock over three single-shard
/// clusters. Each section marks itself inside with `mkdir` (atomic: a second holder
/// inside at once fails it and records an overlap), then does the racy increment.
#[test]
fn workers_of_many_exec_processes_never_overlap_through_clusters() {
    let shards = RedisCluster::start(3, 0).expect("a Redis Cluster");
    rounds(&[shards.cluster_url()], "rounds-cluster");
    drop(shards);
    let clusters: Vec<RedisCluster> = (0..3)
        .map(|_| RedisCluster::start(1, 0).expect("a Redis Cluster"))
        .collect();
    let servers: Vec<String> = clusters.iter().map(RedisCluster::cluster_url).collect();
    rounds(&servers, "rounds-redlock");
}

fn rounds(servers: &[String], name: &str) {
    let dir = TempDir::new(name);
    std::fs::write(dir.path().join("count"), "0\n").expect("write count");
    let script = "mkdir inside || echo overlap >> overlaps; \
        n=$(cat count); sleep 0.01; echo $((n+1)) > count; \
        echo $REDLEASE_FENCING_TOKEN >> tokens; rmdir inside";
    std::thread::scope(|scope| {
        for _ in 0..WORKERS {
            scope.spawn(|| {
                for _ in 0..ROUNDS {
                    let mut exec = redlease(servers);
                    exec.current_dir(dir.path()).args([
                        "exec", "--wait", "120s", "counter", "--", "sh", "-c", script,
                    ]);
                    run(&mut exec, Duration::from_secs(150)).expect_code(0);
                }
            });
        }
    });
    let overlaps = std::fs::read_to_string(dir.path().join("overlaps")).unwrap_or_default();
    assert!(
        overlaps.is_empty(),
        "{} overlapping sections",
        overlaps.lines().count()
    );
    let count = std::fs::read_to_string(dir.path().join("count")).expect("read count");
    assert_eq!(count.trim(), (WORKERS * ROUNDS).to_string(), "lost updates");
    let tokens: Vec<u64> = std::fs::read_to_string(dir.path().join("tokens"))
        .expect("read tokens")
        .lines()
        .map(|l| l.trim().parse().expect("a token"))
        .collect();
    assert_eq!(tokens.len(), WORKERS * ROUNDS);
    assert!(
        tokens.windows(2).all(|w| w[0] < w[1]),
        "tokens not strictly increasing in write order: {tokens:?}"
    );
}
