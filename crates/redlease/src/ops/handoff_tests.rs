//! The scripts' side of the one-round hand-off, on a real redis-server: a refused waiter
//! registered for a grant is given the lock by the next release (and hears it), the one
//! node mints its token with the grant, the refused attempt's clean-up never deletes the
//! grant, the call's next attempt finds it its own, and a call that gives up frees it.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use redis::Value;
use redis::aio::MultiplexedConnection;

use super::Release;
use crate::ops::acquire::{Acquire, Fencing};
use crate::ops::testing::{MARKER, PREFIX, cmd, connect, release, request, script};
use crate::ops::{Op, Target};
use crate::protocol::ResourceKeys;
use crate::protocol::handoff::{Grant, Wake, parse};

/// An attempt `owner` of the call queued as `waiter`, registering `<owner>+` (its next
/// attempt's owner) for a grant.
fn attempt(resource: &str, owner: &str, waiter: &str, fencing: Fencing) -> Acquire {
    Acquire {
        target: Target::for_waiter(
            Arc::new(ResourceKeys::new(PREFIX, resource)),
            owner.to_owned(),
            Arc::from(waiter),
        ),
        quick: false,
        next: Some(format!("{owner}+")),
        ..request(resource, owner, fencing, false)
    }
}

async fn released(conn: &mut MultiplexedConnection, r: &Release) -> bool {
    let answer = r.invocation().invoke(conn).await.expect("answer");
    Release::parse(&answer).expect("a well-formed reply")
}

async fn get(conn: &mut MultiplexedConnection, key: &str) -> Option<String> {
    match cmd(conn, &["GET", key]).await {
        Value::BulkString(b) => Some(String::from_utf8(b).expect("utf-8")),
        _ => None,
    }
}

fn int(value: Value) -> i64 {
    match value {
        Value::Int(i) => i,
        other => panic!("not an integer: {other:?}"),
    }
}

#[tokio::test]
async fn a_registered_waiter_is_given_the_lock_by_the_release_and_hears_it() {
    let (cluster, mut conn) = connect().await;
    let lock = format!("{PREFIX}{{given}}:lock");
    let client = redis::Client::open(cluster.urls()[0].as_str()).expect("url");
    let mut messages = client.get_async_pubsub().await.expect("pubsub");
    messages
        .subscribe(format!("{PREFIX}{{given}}:released"))
        .await
        .expect("subscribe");
    cmd(&mut conn, &["SET", &lock, "holder", "PX", "10000"]).await;
    let waiting = attempt("given", "attempt-1", "caller", Fencing::Off);
    assert!(!script(&mut conn, &waiting).await.granted);

    assert!(released(&mut conn, &release("given", "holder", "holder")).await);
    assert_eq!(get(&mut conn, &lock).await.as_deref(), Some("attempt-1+"));
    let pttl = int(cmd(&mut conn, &["PTTL", &lock]).await);
    assert!(
        (9_000..=10_000).contains(&pttl),
        "the registered ttl, from the release on: {pttl} ms"
    );
    let message = tokio::time::timeout(Duration::from_secs(5), messages.on_message().next())
        .await
        .expect("a message within 5 s")
        .expect("a message");
    let payload = message.get_payload_bytes().to_vec();
    assert_eq!(
        parse(&payload),
        Wake::Granted {
            waiter: "caller",
            grant: Grant {
                owner: "attempt-1+",
                token: 0,
                marker_age_ms: None
            }
        }
    );
}

#[tokio::test]
async fn the_one_node_mints_the_token_with_the_grant() {
    let (_cluster, mut conn) = connect().await;
    let lock = format!("{PREFIX}{{minted}}:lock");
    let fence = format!("{PREFIX}{{minted}}:fence");
    cmd(&mut conn, &["SET", &lock, "holder", "PX", "10000"]).await;
    // A counter far above any clock in µs: the token must be one above it.
    cmd(&mut conn, &["SET", &fence, "9000000000000000000"]).await;
    let waiting = attempt("minted", "attempt-1", "caller", Fencing::Script);
    assert!(!script(&mut conn, &waiting).await.granted);
    assert!(released(&mut conn, &release("minted", "holder", "holder")).await);
    assert_eq!(get(&mut conn, &lock).await.as_deref(), Some("attempt-1+"));
    assert_eq!(
        get(&mut conn, &fence).await.as_deref(),
        Some("9000000000000000001")
    );
    assert!(
        int(cmd(&mut conn, &["PTTL", &fence]).await) > 0,
        "the counter's ttl"
    );
}

#[tokio::test]
async fn the_calls_next_attempt_finds_the_grant_its_own_and_nobody_else_can() {
    let (_cluster, mut conn) = connect().await;
    let lock = format!("{PREFIX}{{over}}:lock");
    cmd(&mut conn, &["SET", &lock, "holder", "PX", "10000"]).await;
    assert!(
        !script(
            &mut conn,
            &attempt("over", "attempt-1", "caller", Fencing::Off)
        )
        .await
        .granted
    );
    assert!(
        !script(
            &mut conn,
            &attempt("over", "other-1", "other", Fencing::Off)
        )
        .await
        .granted
    );
    assert!(released(&mut conn, &release("over", "holder", "holder")).await);
    assert_eq!(get(&mut conn, &lock).await.as_deref(), Some("attempt-1+"));
    // The other waiter is refused.
    assert!(
        !script(
            &mut conn,
            &attempt("over", "other-2", "other", Fencing::Off)
        )
        .await
        .granted
    );
    // The call's next attempt (say the grant's message was lost) has the owner it
    // registered: the key is its own.
    assert!(
        script(
            &mut conn,
            &attempt("over", "attempt-1+", "caller", Fencing::Off)
        )
        .await
        .granted
    );
    assert_eq!(get(&mut conn, &lock).await.as_deref(), Some("attempt-1+"));
}

#[tokio::test]
async fn the_refused_attempts_clean_up_never_deletes_a_grant() {
    // The model's counterexample: the refusal's reply was lost, so the failed attempt's
    // clean-up ("stay", no hand-off) goes to this node too, and arrives after the node
    // granted the waiter, which counts that grant.
    let (_cluster, mut conn) = connect().await;
    let lock = format!("{PREFIX}{{kept}}:lock");
    cmd(&mut conn, &["SET", &lock, "holder", "PX", "10000"]).await;
    assert!(
        !script(
            &mut conn,
            &attempt("kept", "attempt-1", "caller", Fencing::Off)
        )
        .await
        .granted
    );
    assert!(released(&mut conn, &release("kept", "holder", "holder")).await);
    let granted = get(&mut conn, &lock).await.expect("granted");
    let clean_up = Release {
        handoff: Duration::ZERO,
        stay_queued: true,
        ..release("kept", "attempt-1", "caller")
    };
    released(&mut conn, &clean_up).await;
    assert_eq!(
        get(&mut conn, &lock).await,
        Some(granted),
        "the clean-up deleted the grant the waiter counts"
    );
}

#[tokio::test]
async fn a_call_ending_after_its_clean_up_still_frees_the_lock_handed_to_it() {
    // The model's trace: a release grants the registered owner here, then the failed
    // attempt's clean-up ("stay") runs (the refusal's reply was lost), then the call
    // gives up. Had the clean-up dropped the registration, the leave would not know the
    // key, held for nobody until its ttl ran out.
    let (_cluster, mut conn) = connect().await;
    let lock = format!("{PREFIX}{{ended}}:lock");
    cmd(&mut conn, &["SET", &lock, "holder", "PX", "10000"]).await;
    assert!(
        !script(
            &mut conn,
            &attempt("ended", "attempt-1", "caller", Fencing::Off)
        )
        .await
        .granted
    );
    assert!(released(&mut conn, &release("ended", "holder", "holder")).await);
    assert_eq!(get(&mut conn, &lock).await.as_deref(), Some("attempt-1+"));
    let clean_up = Release {
        handoff: Duration::ZERO,
        stay_queued: true,
        ..release("ended", "attempt-1", "caller")
    };
    assert!(!released(&mut conn, &clean_up).await);
    assert!(released(&mut conn, &release("ended", "attempt-1", "caller")).await);
    assert_eq!(get(&mut conn, &lock).await, None, "held for nobody");
}

#[tokio::test]
async fn a_call_that_gives_up_frees_the_lock_handed_to_its_next_attempt() {
    let (_cluster, mut conn) = connect().await;
    let lock = format!("{PREFIX}{{gave-up}}:lock");
    cmd(&mut conn, &["SET", &lock, "holder", "PX", "10000"]).await;
    assert!(
        !script(
            &mut conn,
            &attempt("gave-up", "attempt-1", "caller", Fencing::Off)
        )
        .await
        .granted
    );
    assert!(released(&mut conn, &release("gave-up", "holder", "holder")).await);
    assert_eq!(get(&mut conn, &lock).await.as_deref(), Some("attempt-1+"));
    // The call gave up: its leave names its last attempt's owner.
    assert!(released(&mut conn, &release("gave-up", "attempt-1", "caller")).await);
    assert_eq!(
        get(&mut conn, &lock).await,
        None,
        "not held for a whole ttl"
    );
    // Someone else's release never frees it.
    cmd(&mut conn, &["SET", &lock, "holder", "PX", "10000"]).await;
    assert!(!released(&mut conn, &release("gave-up", "attempt-1", "caller")).await);
    assert_eq!(get(&mut conn, &lock).await.as_deref(), Some("holder"));
}

#[tokio::test]
async fn a_registration_older_than_a_live_waiter_keeps_gets_a_reservation() {
    // Live (seen within the 3 s after which it would count as gone) but registered 2 s
    // ago, longer than a live waiter goes without registering again (1 s here): the
    // call may have ended while this node missed its leave, and a grant would hold the
    // lock for nobody for its whole ttl.
    let (_cluster, mut conn) = connect().await;
    let lock = format!("{PREFIX}{{stale}}:lock");
    let queue = format!("{PREFIX}{{stale}}:queue");
    let seen = format!("{PREFIX}{{stale}}:seen");
    cmd(&mut conn, &["SET", &lock, "holder", "PX", "10000"]).await;
    let Value::Array(time) = cmd(&mut conn, &["TIME"]).await else {
        panic!("TIME");
    };
    let secs = match &time[0] {
        Value::BulkString(b) => String::from_utf8_lossy(b).parse::<i64>().expect("secs"),
        other => panic!("TIME: {other:?}"),
    };
    let registered = format!("{} next 10000 -", (secs - 2) * 1000);
    cmd(&mut conn, &["ZADD", &queue, "1", "caller"]).await;
    cmd(&mut conn, &["HSET", &seen, "caller", &registered]).await;
    assert!(released(&mut conn, &release("stale", "holder", "holder")).await);
    assert_eq!(
        get(&mut conn, &lock).await.as_deref(),
        Some("handoff:caller"),
        "a reservation for the hand-off window, not a grant for a ttl"
    );
}

#[tokio::test]
async fn an_unregistered_waiter_gets_a_reservation() {
    let (_cluster, mut conn) = connect().await;
    let lock = format!("{PREFIX}{{plain}}:lock");
    cmd(&mut conn, &["SET", &lock, "holder", "PX", "10000"]).await;
    let unregistered = Acquire {
        next: None,
        ..attempt("plain", "plain-1", "plain", Fencing::Off)
    };
    assert!(!script(&mut conn, &unregistered).await.granted);
    assert!(released(&mut conn, &release("plain", "holder", "holder")).await);
    assert_eq!(
        get(&mut conn, &lock).await.as_deref(),
        Some("handoff:plain")
    );
}

#[tokio::test]
async fn a_grant_reports_the_marker_age_for_the_waiter_to_judge() {
    let (cluster, mut conn) = connect().await;
    let lock = format!("{PREFIX}{{aged}}:lock");
    let client = redis::Client::open(cluster.urls()[0].as_str()).expect("url");
    let mut messages = client.get_async_pubsub().await.expect("pubsub");
    messages
        .subscribe(format!("{PREFIX}{{aged}}:released"))
        .await
        .expect("subscribe");
    cmd(&mut conn, &["SET", &lock, "holder", "PX", "10000"]).await;
    // Born at 1 s after the epoch: decades old.
    cmd(&mut conn, &["SET", MARKER, "1000"]).await;
    let marker = Some(crate::ops::MarkerKey::Global(Arc::from(MARKER)));
    let waiting = Acquire {
        marker: marker.clone(),
        ..attempt("aged", "attempt-1", "caller", Fencing::Off)
    };
    assert!(!script(&mut conn, &waiting).await.granted);
    let releasing = Release {
        marker,
        ..release("aged", "holder", "holder")
    };
    assert!(released(&mut conn, &releasing).await);
    let message = tokio::time::timeout(Duration::from_secs(5), messages.on_message().next())
        .await
        .expect("a message within 5 s")
        .expect("a message");
    let payload = message.get_payload_bytes().to_vec();
    let Wake::Granted { grant, .. } = parse(&payload) else {
        panic!("not a grant: {payload:?}");
    };
    let age = grant.marker_age_ms.expect("an age");
    assert!(age > 1_000_000_000_000, "the marker's age in ms: {age}");
}
