//! The command on the Redis people run: TLS with a private CA, a primary with replicas
//! behind Sentinel with --min-replicas, and a Redis Cluster, each through the real binary.

mod common;

use common::{LONG, redlease, run};
use redlease_testkit::{RedisCluster, Sentinels, TlsServer};

#[test]
fn tls_with_a_private_ca() {
    let server = TlsServer::start().expect("TLS redis-server");
    let servers = vec![server.url()];
    let ca = server.certs().ca_cert().to_string_lossy().into_owned();
    let out = run(
        redlease(&servers).args(["exec", "--tls-ca-cert", &ca, "-n", "tls", "--", "true"]),
        LONG,
    );
    out.expect_code(0);
    // Without the CA the certificate is not trusted: the server is named.
    let out = run(
        redlease(&servers).args(["exec", "-n", "tls", "--", "true"]),
        LONG,
    );
    assert_ne!(out.code(), 0, "{out:#?}");
    assert!(
        out.stderr.contains(&server.url()) || out.stderr.contains("certificate"),
        "{out:#?}"
    );
}

#[test]
fn sentinel_urls_and_min_replicas() {
    let sentinels = Sentinels::start().expect("sentinels");
    let servers = vec![sentinels.sentinel_url()];
    let out = run(
        redlease(&servers).args([
            "exec",
            "--min-replicas",
            "1",
            "-n",
            "replicated",
            "--",
            "true",
        ]),
        LONG,
    );
    out.expect_code(0);
    // More replicas than there are: no grant counts, nothing is held (69).
    let out = run(
        redlease(&servers).args([
            "exec",
            "--min-replicas",
            "5",
            "-n",
            "replicated",
            "--",
            "true",
        ]),
        LONG,
    );
    out.expect_code(69);
    let out = run(redlease(&servers).args(["status", "replicated"]), LONG);
    out.expect_code(0);
    assert_eq!(out.json()["held"], false, "{out:#?}");
}

#[test]
fn a_redis_cluster_is_one_node() {
    let cluster = RedisCluster::start(3, 0).expect("cluster");
    let servers = vec![cluster.cluster_url()];
    for resource in ["a", "b", "c", "d"] {
        let out = run(
            redlease(&servers).args(["exec", "-n", resource, "--", "true"]),
            LONG,
        );
        out.expect_code(0);
    }
}

#[test]
fn list_on_redlock_over_three_clusters() {
    // Delayed-restart markers are per resource with cluster nodes: `list` must not
    // depend on node-wide markers to decide whether the servers answered.
    let clusters: Vec<RedisCluster> = (0..3)
        .map(|_| RedisCluster::start(1, 0).expect("cluster"))
        .collect();
    let servers: Vec<String> = clusters.iter().map(RedisCluster::cluster_url).collect();
    run(
        redlease(&servers).args(["acquire", "--ttl", "60s", "jobs:a"]),
        LONG,
    )
    .expect_code(0);
    let out = run(redlease(&servers).args(["list", "jobs:*"]), LONG);
    out.expect_code(0);
    assert_eq!(out.stdout.lines().count(), 1, "{out:#?}");
    assert!(out.stdout.contains("\"jobs:a\""), "{out:#?}");
}

#[test]
fn the_demo_runs_on_a_cluster_and_on_sentinel_urls() {
    let cluster = RedisCluster::start(3, 0).expect("cluster");
    let sentinels = Sentinels::start().expect("sentinels");
    for url in [cluster.cluster_url(), sentinels.sentinel_url()] {
        let out = run(
            redlease(&[]).args([
                "demo",
                "--servers",
                &url,
                "--workers",
                "3",
                "--sections",
                "30",
            ]),
            LONG,
        );
        out.expect_code(0);
        assert!(out.stdout.contains("all checks passed"), "{url}: {out:#?}");
    }
}
