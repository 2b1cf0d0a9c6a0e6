//! Least privilege: the smallest ACL a lock user needs, on a real redis-server.
//!
//! A lock user should reach only redlease's keys and channels (the key prefix) and run
//! only the commands redlease sends, so that a leaked lock credential cannot read or
//! write the application's data. `docs/deployment.md` documents the same rules; this test
//! keeps them true as the scripts change.

mod common;

use std::time::Duration;

use redlease::{AuthProblem, LockManager};
use redlease_testkit::Reply;

/// The lock user's rules, as in `docs/deployment.md`.
const LOCK_USER_RULES: &[&str] = &[
    "on",
    ">lock-secret",
    "resetkeys",
    "~redlease:*",
    "resetchannels",
    "&redlease:*",
    "-@all",
    // What the client sends itself.
    "+evalsha",
    "+eval",
    "+script|load",
    "+subscribe",
    "+unsubscribe",
    "+ssubscribe",
    "+sunsubscribe",
    "+ping",
    "+role",
    "+wait",
    "+select",
    // What the scripts call.
    "+get",
    "+set",
    "+del",
    "+pexpire",
    "+pttl",
    "+time",
    // The quick acquire's token on one node.
    "+incr",
    "+zadd",
    "+zrem",
    "+zrange",
    "+hset",
    "+hget",
    "+hdel",
    "+publish",
    "+spublish",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lock_user_can_lock_but_cannot_touch_the_applications_keys() {
    let cluster = common::start(1);
    let node = cluster.node(0);
    node.acl_setuser("locker", LOCK_USER_RULES)
        .expect("acl setuser");
    node.command(&["SET", "app:balance", "100"])
        .expect("app data");
    let port = node.port().expect("tcp");
    let manager = LockManager::builder()
        .servers([format!("redis://locker:lock-secret@127.0.0.1:{port}")])
        .ttl(Duration::from_secs(5))
        .node_timeout(Duration::from_millis(500))
        .wait(Duration::from_secs(10))
        .build()
        .await
        .expect("valid");
    let lease = manager
        .acquire("acl")
        .await
        .expect("the lock user can lock");
    let first = lease.fencing_token().await.expect("token");
    // A waiter subscribes to the release channel and is woken by the release.
    let waiter = {
        let manager = manager.clone();
        tokio::spawn(async move { manager.acquire("acl").await?.fencing_token().await })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let channel = "redlease:{acl}:released";
    assert_eq!(
        node.command(&["PUBSUB", "NUMSUB", channel])
            .expect("numsub"),
        format!("{channel} 1"),
        "the lock user could not subscribe to the release channel"
    );
    lease.release().await.expect("release");
    let token = waiter.await.expect("waiter").expect("woken and granted");
    assert!(token > first, "token {token} after {first}");
    let status = manager.status("acl").await.expect("status");
    assert!(status.nodes.iter().all(|n| n.reply.is_ok()), "{status:?}");

    for forbidden in [
        vec!["GET", "app:balance"],
        vec!["SET", "app:balance", "0"],
        vec!["KEYS", "*"],
        vec!["FLUSHALL"],
        vec![
            "EVAL",
            "return redis.call('GET', KEYS[1])",
            "1",
            "app:balance",
        ],
    ] {
        let reply = node
            .command_as("locker", "lock-secret", &forbidden)
            .expect("answered");
        assert!(
            matches!(&reply, Reply::Error(e) if e.starts_with("NOPERM")),
            "{forbidden:?} was allowed: {reply}"
        );
    }
    assert_eq!(node.command(&["GET", "app:balance"]).expect("get"), "100");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lock_user_on_three_nodes_mints_tokens_on_demand_and_at_acquisition() {
    // Several nodes run the scripts one node does not: the marker, the token minted on
    // demand (fence_read.lua, fence.lua) or at acquisition.
    let cluster = common::start(3);
    let mut urls = Vec::new();
    for node in cluster.nodes() {
        node.acl_setuser("locker", LOCK_USER_RULES)
            .expect("acl setuser");
        let port = node.port().expect("tcp");
        urls.push(format!("redis://locker:lock-secret@127.0.0.1:{port}"));
    }
    let mut last = 0;
    for at_acquire in [false, true] {
        let manager = LockManager::builder()
            .servers(urls.clone())
            .ttl(Duration::from_secs(5))
            .node_timeout(Duration::from_millis(500))
            .token_at_acquire(at_acquire)
            .build()
            .await
            .expect("valid");
        for _ in 0..2 {
            let lease = manager.acquire("acl3").await.expect("acquire");
            let token = lease.fencing_token().await.expect("the lock user mints");
            assert!(token > last, "token {token} after {last}");
            last = token;
            lease.release().await.expect("release");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_say_what_the_credentials_lacked() {
    // Three users that the server refuses for three different reasons: each refusal is
    // an auth error whose `auth_problem()` names the reason, so advice can fit it.
    let cluster = common::start(1);
    let node = cluster.node(0);
    node.acl_setuser("locker", LOCK_USER_RULES)
        .expect("acl setuser");
    node.acl_setuser(
        "reader",
        &["on", ">read-secret", "~*", "-@all", "+get", "+ping"],
    )
    .expect("acl setuser");
    node.acl_setuser("default", &["on", ">default-secret"])
        .expect("the default user needs a password");
    let port = node.port().expect("tcp");
    for (url, want) in [
        (
            format!("redis://127.0.0.1:{port}"),
            AuthProblem::MissingPassword,
        ),
        (
            format!("redis://locker:wrong@127.0.0.1:{port}"),
            AuthProblem::Rejected,
        ),
        (
            format!("redis://reader:read-secret@127.0.0.1:{port}"),
            AuthProblem::NotPermitted,
        ),
    ] {
        let refused = match LockManager::builder()
            .servers([url.clone()])
            .node_timeout(Duration::from_millis(500))
            .build()
            .await
        {
            Ok(manager) => manager
                .try_acquire("acl-refused")
                .await
                .expect_err("refused"),
            Err(e) => e,
        };
        let problems: Vec<_> = refused
            .node_failures()
            .iter()
            .map(|f| f.error.auth_problem())
            .collect();
        assert_eq!(problems, [Some(want)], "{url}: {refused}");
    }
}
