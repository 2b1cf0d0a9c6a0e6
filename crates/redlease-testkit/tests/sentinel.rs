//! Sentinels from the kit: they find the replicas and each other, and
//! promote a replica when the primary is killed.

use std::io;
use std::time::Instant;

use redlease_testkit::{SentinelOptions, Sentinels};

mod common;

#[test]
fn a_bad_quorum_is_refused_clearly() {
    let err = Sentinels::start_with(SentinelOptions {
        quorum: 4,
        ..Default::default()
    })
    .expect_err("quorum above the sentinel count");
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    assert!(err.to_string().contains("quorum 4"), "{err}");
}

#[test]
fn killing_the_primary_promotes_a_replica_that_the_sentinels_report() {
    let set = Sentinels::start().expect("start");
    assert_eq!(set.service(), "redlease");
    assert_eq!(set.sentinels().len(), 3);
    assert_eq!(set.sentinel_addrs().len(), 3);
    assert!(set.sentinel_url().ends_with("/redlease"));
    let old = set.servers().primary();
    assert_eq!(
        set.primary_addr().expect("reported"),
        format!("127.0.0.1:{}", old.port().expect("tcp"))
    );
    old.command(&["SET", "k", "v"]).expect("write");
    set.servers().wait_for_sync().expect("replicated");

    let started = Instant::now();
    let new = set.kill_primary_and_wait_failover().expect("failover");
    eprintln!("sentinel failover took {:?}", started.elapsed());
    assert_ne!(new.port(), old.port());
    assert!(!old.is_running());
    assert_eq!(
        set.primary_addr().expect("reported"),
        format!("127.0.0.1:{}", new.port().expect("tcp"))
    );
    assert_eq!(new.command(&["GET", "k"]).expect("read"), "v");
    new.command(&["SET", "k", "w"])
        .expect("the new primary takes writes");
    set.servers()
        .wait_for_sync()
        .expect("the other replica follows the new primary");

    let pids = common::pids(set.sentinels().iter().chain(set.servers().nodes()));
    assert_eq!(pids.len(), 5, "3 sentinels and 2 servers left running");
    let dir = set.servers().dir().to_path_buf();
    drop(set);
    common::assert_cleaned_up(&pids, &dir);
}
