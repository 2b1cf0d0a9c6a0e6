//! The quick release against release.lua, on a real redis-server: it deletes exactly where
//! release.lua would without waiters, and leaves every queued resource to release.lua.

use redis::Value;
use redis::aio::MultiplexedConnection;

use super::Release;
use crate::config::NodeKind;
use crate::ops::acquire::Fencing;
use crate::ops::testing::{self, PREFIX, cmd, connect, request, script};
use crate::ops::{NodeFacts, Op};

fn release(resource: &str, owner: &str) -> Release {
    testing::release(resource, owner, owner)
}

async fn quick_release(conn: &mut MultiplexedConnection, r: &Release) -> Option<bool> {
    let invocation = r
        .quick(NodeKind::Standalone, NodeFacts::default())
        .expect("a quick form");
    let answer = invocation.invoke(conn).await.expect("answer");
    r.quick_reply(&answer, NodeFacts::default())
        .expect("a well-formed answer")
}

#[tokio::test]
async fn the_quick_release_is_compare_and_delete_where_nobody_waits() {
    let (_cluster, mut conn) = connect().await;
    let lock = format!("{PREFIX}{{free}}:lock");
    cmd(&mut conn, &["SET", &lock, "me", "PX", "10000"]).await;
    // Someone else's key stays; ours goes; an absent one is no error.
    assert_eq!(
        quick_release(&mut conn, &release("free", "other")).await,
        Some(false)
    );
    assert_eq!(cmd(&mut conn, &["EXISTS", &lock]).await, Value::Int(1));
    assert_eq!(
        quick_release(&mut conn, &release("free", "me")).await,
        Some(true)
    );
    assert_eq!(cmd(&mut conn, &["EXISTS", &lock]).await, Value::Int(0));
    assert_eq!(
        quick_release(&mut conn, &release("free", "me")).await,
        Some(false)
    );
}

#[tokio::test]
async fn a_queue_leaves_the_release_to_the_script_which_hands_off() {
    let (_cluster, mut conn) = connect().await;
    let lock = format!("{PREFIX}{{queued}}:lock");
    // A holder, and a waiter refused and queued by the acquire script.
    cmd(&mut conn, &["SET", &lock, "me", "PX", "10000"]).await;
    let waiter = request("queued", "waiter", Fencing::Off, false);
    assert!(!script(&mut conn, &waiter).await.granted);
    let r = release("queued", "me");
    assert_eq!(
        quick_release(&mut conn, &r).await,
        None,
        "left to the script"
    );
    assert!(r.saw_queue.load(std::sync::atomic::Ordering::Relaxed));
    assert_eq!(
        cmd(&mut conn, &["GET", &lock]).await,
        Value::BulkString(b"me".to_vec()),
        "the quick release touched nothing"
    );
    let answer = r.invocation().invoke(&mut conn).await.expect("answer");
    assert_eq!(Release::parse(&answer), Ok(true));
    let reservation = format!("handoff:{}", waiter.target.waiter);
    assert_eq!(
        cmd(&mut conn, &["GET", &lock]).await,
        Value::BulkString(reservation.into_bytes()),
        "handed off to the waiter"
    );
}

#[test]
fn only_a_plain_release_has_a_quick_form() {
    let plain = release("r", "o");
    assert!(
        plain
            .quick(NodeKind::Standalone, NodeFacts::default())
            .is_some()
    );
    for r in [
        Release {
            described: true,
            ..release("r", "o")
        },
        Release {
            publish_always: true,
            ..release("r", "o")
        },
        Release {
            stay_queued: true,
            ..release("r", "o")
        },
        Release {
            quick: false,
            ..release("r", "o")
        },
    ] {
        assert!(
            r.quick(NodeKind::Standalone, NodeFacts::default())
                .is_none()
        );
    }
}
