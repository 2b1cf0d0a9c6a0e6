//! ACL users from the kit: a lock user limited to its key prefix is refused
//! everything else by the real server.

use std::io;

use redlease_testkit::{Cluster, ClusterOptions, Reply, acl_user_args};

const LOCKER: [&str; 5] = ["on", ">pw", "~redlease:*", "&redlease:*", "+@all"];

fn is_noperm(reply: &Reply) -> bool {
    matches!(reply, Reply::Error(e) if e.starts_with("NOPERM"))
}

#[test]
fn a_user_defined_at_start_is_limited_to_its_keys_and_channels() {
    let cluster = Cluster::start_with(ClusterOptions {
        nodes: 1,
        extra_args: acl_user_args("locker", &LOCKER).expect("valid"),
        ..Default::default()
    })
    .expect("start");
    let node = cluster.node(0);
    let ok = node
        .command_as("locker", "pw", &["SET", "redlease:k", "v"])
        .expect("reply");
    assert_eq!(ok, Reply::Status("OK".into()));
    let refused = node
        .command_as("locker", "pw", &["SET", "app:k", "v"])
        .expect("reply");
    assert!(is_noperm(&refused), "{refused}");
    let refused = node
        .command_as("locker", "pw", &["PUBLISH", "app:events", "x"])
        .expect("reply");
    assert!(is_noperm(&refused), "{refused}");
    let err = node
        .command_as("locker", "wrong", &["PING"])
        .expect_err("bad password");
    assert_eq!(err.kind(), io::ErrorKind::PermissionDenied, "{err}");
    // The kit's own connections are unaffected.
    assert_eq!(node.command(&["GET", "redlease:k"]).expect("get"), "v");
}

#[test]
fn a_user_set_on_a_running_node_can_be_narrowed() {
    let cluster = Cluster::start(1).expect("start");
    let node = cluster.node(0);
    node.acl_setuser("locker", &LOCKER).expect("setuser");
    let reply = node
        .command_as("locker", "pw", &["FLUSHALL"])
        .expect("reply");
    assert_eq!(reply, Reply::Status("OK".into()));
    node.acl_setuser("locker", &["-flushall"]).expect("narrow");
    let reply = node
        .command_as("locker", "pw", &["FLUSHALL"])
        .expect("reply");
    assert!(is_noperm(&reply), "{reply}");

    let err = node.acl_setuser("lock er", &["on"]).expect_err("space");
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    let err = acl_user_args("locker", &["on", ""]).expect_err("empty rule");
    assert!(
        err.to_string().contains("ACL rule \"\" for user locker"),
        "{err}"
    );
}
