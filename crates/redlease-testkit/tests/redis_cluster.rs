//! A real Redis Cluster from the kit: created, routing keys by slot, and
//! failing a primary over to its replica.

use std::io;
use std::time::Instant;

use redlease_testkit::RedisCluster;

mod common;

#[test]
fn a_single_shard_cluster_is_formed_without_redis_cli() {
    let err = RedisCluster::start(0, 0).expect_err("no primary");
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{err}");

    let cluster = RedisCluster::start(1, 1).expect("start");
    let primaries = cluster.primaries().expect("primaries");
    assert_eq!(primaries.len(), 1);
    let primary = primaries[0];
    assert_eq!(
        cluster.primary_of("any").expect("owner").port(),
        primary.port()
    );
    primary.command(&["SET", "any", "v"]).expect("write");
    assert_eq!(primary.command(&["WAIT", "1", "5000"]).expect("wait"), "1");
    let replica = cluster
        .nodes()
        .iter()
        .find(|n| n.port() != primary.port())
        .expect("replica");
    let err = replica.command(&["GET", "any"]).expect_err("redirected");
    assert!(err.to_string().contains("MOVED"), "{err}");

    let err = cluster.fail_over_primary_of("any").expect_err("no voters");
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    assert!(
        err.to_string().contains("at least 3 primaries, not 1"),
        "{err}"
    );
}

#[test]
fn a_created_cluster_routes_keys_to_the_primary_of_their_slot() {
    let cluster = RedisCluster::start(3, 0).expect("start");
    assert_eq!(cluster.nodes().len(), 3);
    assert_eq!(cluster.primaries().expect("primaries").len(), 3);
    assert!(
        cluster
            .cluster_url()
            .starts_with("redis+cluster://127.0.0.1:")
    );
    assert_eq!(cluster.urls().len(), 3);
    for node in cluster.nodes() {
        let info = node.command(&["CLUSTER", "INFO"]).expect("info");
        assert!(info.contains("cluster_state:ok"), "{info}");
    }
    assert_eq!(
        cluster.slot_of("{lease}a").expect("slot"),
        cluster.slot_of("{lease}b").expect("slot")
    );
    let mut owners = std::collections::BTreeSet::new();
    for i in 0..20 {
        let key = format!("key-{i}");
        let owner = cluster.primary_of(&key).expect("owner");
        owners.insert(owner.port());
        owner
            .command(&["SET", &key, "v"])
            .expect("the owner accepts it");
        for other in cluster.nodes() {
            if other.port() != owner.port() {
                let err = other.command(&["GET", &key]).expect_err("not here");
                assert!(err.to_string().contains("MOVED"), "{err}");
            }
        }
    }
    assert_eq!(owners.len(), 3, "20 keys spread over all 3 shards");

    let err = cluster
        .fail_over_primary_of("k")
        .expect_err("nothing to promote");
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{err}");
    assert!(cluster.primary_of("k").expect("untouched").is_running());

    let (pids, dir) = (common::pids(cluster.nodes()), cluster.dir().to_path_buf());
    drop(cluster);
    common::assert_cleaned_up(&pids, &dir);
}

#[test]
fn a_failed_primary_is_replaced_by_its_replica() {
    let cluster = RedisCluster::start(3, 1).expect("start");
    assert_eq!(cluster.nodes().len(), 6);
    let old = cluster.primary_of("k").expect("owner");
    let old_port = old.port();
    // WAIT on the connection that wrote: on another connection it would not wait for
    // this write (it returned 1 while the replica did not yet have the key).
    let replies = old
        .queries(&[&["SET", "k", "v"][..], &["WAIT", "1", "5000"]])
        .expect("write");
    assert_eq!(replies[1].to_string(), "1", "{replies:?}");

    let started = Instant::now();
    let new = cluster.fail_over_primary_of("k").expect("failover");
    eprintln!("failover took {:?}", started.elapsed());
    assert_ne!(new.port(), old_port);
    assert!(
        !cluster
            .node_by_port(old_port.expect("tcp"))
            .expect("ours")
            .is_running()
    );
    assert_eq!(new.command(&["GET", "k"]).expect("read"), "v");
    new.command(&["SET", "k", "w"])
        .expect("the new primary takes writes");
    assert_eq!(cluster.primaries().expect("primaries").len(), 3);
}
