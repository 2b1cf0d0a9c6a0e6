//! A primary with replicas: the replicas follow it and catch up.

use std::time::Duration;

use redlease_testkit::{Replicated, ReplicatedOptions};

mod common;

#[test]
fn replicas_receive_the_primarys_writes() {
    let set = Replicated::start(2).expect("start");
    assert_eq!(set.nodes().len(), 3);
    assert_eq!(set.replicas().len(), 2);
    let primary = set.primary();
    assert_eq!(
        set.current_primary().expect("one primary").url(),
        primary.url()
    );
    primary.command(&["SET", "k", "v"]).expect("write");
    set.wait_for_sync().expect("sync");
    for replica in set.replicas() {
        assert_eq!(replica.command(&["GET", "k"]).expect("read"), "v");
        let err = replica.command(&["SET", "k", "w"]).expect_err("read-only");
        assert!(err.to_string().contains("READONLY"), "{err}");
    }
    let (pids, dir) = (common::pids(set.nodes()), set.dir().to_path_buf());
    drop(set);
    common::assert_cleaned_up(&pids, &dir);
}

#[test]
fn a_replica_that_is_down_is_skipped_and_one_restarted_catches_up() {
    let set = Replicated::start_with(ReplicatedOptions {
        replicas: 1,
        ..Default::default()
    })
    .expect("start");
    let replica = &set.replicas()[0];
    replica.kill().expect("kill");
    set.primary().command(&["SET", "k", "v"]).expect("write");
    set.wait_for_sync().expect("nothing to wait for");
    replica.restart().expect("restart");
    set.wait_for_sync().expect("sync after restart");
    assert_eq!(replica.command(&["GET", "k"]).expect("read"), "v");
}

#[test]
fn the_wait_is_bounded() {
    // The first sync may take a while on a loaded machine; only the wait after it is
    // bounded short (with the 300 ms for both, a slow start failed this test).
    let set = Replicated::start(1).expect("start");
    set.replicas()[0].pause().expect("pause");
    set.primary().command(&["SET", "k", "v"]).expect("write");
    let err = set
        .wait_for_sync_within(Duration::from_millis(300))
        .expect_err("a paused replica cannot catch up");
    assert_eq!(err.kind(), std::io::ErrorKind::TimedOut, "{err}");
    set.replicas()[0].resume().expect("resume");
}
