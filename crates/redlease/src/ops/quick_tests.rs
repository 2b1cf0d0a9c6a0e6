//! The quick acquire against the acquire script, on a real redis-server: in every state of
//! the keys, it either answers exactly the grant the script answers, or leaves the decision
//! to the script (and then took nothing that the script would not give). The quick release
//! is tested in `release_tests.rs`.

use redis::Value;
use redis::aio::MultiplexedConnection;

use super::{commands, reply};
use crate::config::NodeKind;
use crate::ops::acquire::{Acquire, Fencing};
use crate::ops::testing::{MARKER, PREFIX, cmd, connect, request, script};
use crate::ops::{NodeFacts, Op};
use crate::protocol::AcquireReply;

async fn quick(conn: &mut MultiplexedConnection, r: &Acquire) -> Option<AcquireReply> {
    knowing(conn, r, NodeFacts::default()).await
}

/// The quick acquire to a node of which the client knows `facts`.
async fn knowing(
    conn: &mut MultiplexedConnection,
    r: &Acquire,
    facts: NodeFacts,
) -> Option<AcquireReply> {
    let invocation = commands(r, NodeKind::Standalone, facts).expect("a quick form");
    let answer = invocation.invoke(conn).await.expect("answer");
    reply(r, &answer, facts).expect("a well-formed answer")
}

/// The same reply up to the clock: the node's time and the age move between two calls.
fn same_up_to_clock(quick: &AcquireReply, script: &AcquireReply) {
    let close = |a: Option<u64>, b: Option<u64>| match (a, b) {
        (Some(a), Some(b)) => a.abs_diff(b) <= 1_000,
        (a, b) => a == b,
    };
    assert_eq!(
        (
            quick.granted,
            quick.fence,
            quick.holder_pttl_ms,
            quick.handoff
        ),
        (
            script.granted,
            script.fence,
            script.holder_pttl_ms,
            script.handoff
        ),
        "quick {quick:?} script {script:?}"
    );
    assert!(
        close(quick.marker_age_ms, script.marker_age_ms),
        "age: quick {quick:?} script {script:?}"
    );
    assert_eq!(quick.marker_born_ms, script.marker_born_ms, "birth");
    assert_eq!(quick.node_time_us == 0, script.node_time_us == 0, "clock");
    assert!(
        quick.node_time_us.abs_diff(script.node_time_us) <= 1_000_000,
        "clock: quick {quick:?} script {script:?}"
    );
}

#[tokio::test]
async fn a_free_lock_gets_the_scripts_grant_in_every_form() {
    let (_cluster, mut conn) = connect().await;
    // An old marker, and a counter left by earlier holders of both resources.
    cmd(&mut conn, &["SET", MARKER, "1000000"]).await;
    for (case, (fencing, marker)) in [
        (Fencing::Off, false),
        (Fencing::Off, true),
        (Fencing::Client, false),
        (Fencing::Client, true),
    ]
    .into_iter()
    .enumerate()
    {
        for r in ["q", "s"] {
            let fence = format!("{PREFIX}{{{r}{case}}}:fence");
            cmd(&mut conn, &["SET", &fence, "41"]).await;
        }
        let q = request(&format!("q{case}"), "owner-q", fencing, marker);
        let s = request(&format!("s{case}"), "owner-s", fencing, marker);
        let by_quick = quick(&mut conn, &q).await.expect("a free lock is granted");
        let by_script = script(&mut conn, &s).await;
        same_up_to_clock(&by_quick, &by_script);
        assert_eq!(
            by_quick.fence,
            if fencing == Fencing::Client { 41 } else { 0 }
        );
        // The grant is the same key, value and ttl the script writes.
        let lock = format!("{PREFIX}{{q{case}}}:lock");
        assert_eq!(
            cmd(&mut conn, &["GET", &lock]).await,
            Value::BulkString(b"owner-q".to_vec())
        );
        let Value::Int(pttl) = cmd(&mut conn, &["PTTL", &lock]).await else {
            panic!("no ttl")
        };
        assert!((9_000..=10_000).contains(&pttl), "pttl {pttl}");
    }
}

async fn follow_up(conn: &mut MultiplexedConnection, r: &Acquire) -> AcquireReply {
    let answer = r
        .follow_up(NodeKind::Standalone)
        .invoke(conn)
        .await
        .expect("answer");
    Acquire::parse(&answer).expect("a well-formed reply")
}

async fn queued(conn: &mut MultiplexedConnection, resource: &str) -> Value {
    cmd(conn, &["EXISTS", &format!("{PREFIX}{{{resource}}}:queue")]).await
}

#[tokio::test]
async fn a_refusal_is_reported_as_it_is_and_queues_nobody() {
    let (_cluster, mut conn) = connect().await;
    let lock = |r: &str| format!("{PREFIX}{{{r}}}:lock");
    cmd(&mut conn, &["SET", MARKER, "1000000"]).await;
    // Held by another owner: refused, not overwritten, nobody queued.
    cmd(&mut conn, &["SET", &lock("held"), "someone", "PX", "10000"]).await;
    let r = request("held", "me", Fencing::Off, true);
    let refused = quick(&mut conn, &r)
        .await
        .expect("a refusal needs no script");
    assert!(!refused.granted && !refused.handoff, "{refused:?}");
    assert_eq!(
        refused.marker_born_ms,
        Some(1_000_000),
        "the marker is reported"
    );
    assert_eq!(
        cmd(&mut conn, &["GET", &lock("held")]).await,
        Value::BulkString(b"someone".to_vec())
    );
    assert_eq!(queued(&mut conn, "held").await, Value::Int(0));
    // A hand-off reservation (for another waiter) is a refusal that says so.
    cmd(
        &mut conn,
        &["SET", &lock("handoff"), "handoff:other", "PX", "50"],
    )
    .await;
    let r = request("handoff", "me", Fencing::Off, true);
    let refused = quick(&mut conn, &r).await.expect("a refusal");
    assert!(!refused.granted && refused.handoff, "{refused:?}");
    // Our own key (the same request sent twice): ours.
    let r = request("twice", "me", Fencing::Off, true);
    assert!(quick(&mut conn, &r).await.expect("granted").granted);
    assert!(quick(&mut conn, &r).await.expect("granted again").granted);
}

#[tokio::test]
async fn a_grant_without_a_marker_is_completed_by_the_follow_up() {
    let (_cluster, mut conn) = connect().await;
    for bad in [None, Some("not a number")] {
        match bad {
            None => cmd(&mut conn, &["DEL", MARKER]).await,
            Some(text) => cmd(&mut conn, &["SET", MARKER, text]).await,
        };
        let r = request(
            &format!("marker-{}", bad.is_some()),
            "me",
            Fencing::Off,
            true,
        );
        assert_eq!(quick(&mut conn, &r).await, None);
        let granted = follow_up(&mut conn, &r).await;
        assert!(granted.granted);
        assert!(
            granted.marker_age_ms.is_some_and(|age| age < 5_000),
            "a new marker: {granted:?}"
        );
    }
}

/// A marker the client saw `max_ttl` old is checked by its birth alone: no `TIME`, and the
/// grant reports it older than any `max_ttl`, as the script's answer would have it. Any
/// other marker (the node lost its data and was marked anew) is left to the script: the
/// grant to the follow-up, which reports its true age; a refusal reports no marker.
#[tokio::test]
async fn a_marker_known_old_is_checked_by_its_birth_without_the_clock() {
    let (_cluster, mut conn) = connect().await;
    let old = NodeFacts {
        old_marker: Some(1_000_000),
    };
    cmd(&mut conn, &["SET", MARKER, "1000000"]).await;
    let q = request("known-old", "owner-q", Fencing::Off, true);
    let granted = knowing(&mut conn, &q, old).await.expect("a grant");
    let by_script = script(
        &mut conn,
        &request("by-script", "owner-s", Fencing::Off, true),
    )
    .await;
    assert!(granted.granted && by_script.granted);
    assert_eq!(granted.marker_born_ms, Some(1_000_000));
    assert_eq!(granted.marker_born_ms, by_script.marker_born_ms);
    assert_eq!(granted.marker_age_ms, Some(crate::protocol::KNOWN_OLD_MS));
    assert!(
        by_script
            .marker_age_ms
            .is_some_and(|age| age > 24 * 3_600_000)
    );
    // Two commands: `SET` and the marker's `GET`; an answer with a clock is malformed.
    let time = Value::Array(vec![
        Value::BulkString(b"1764576000".to_vec()),
        Value::BulkString(b"0".to_vec()),
    ]);
    let with_clock = Value::Array(vec![
        Value::Nil,
        time,
        Value::BulkString(b"1000000".to_vec()),
    ]);
    assert!(reply(&q, &with_clock, old).is_err());

    // The node lost its data and another client marked it anew.
    let now_ms = match cmd(&mut conn, &["TIME"]).await {
        Value::Array(parts) => match parts.first() {
            Some(Value::BulkString(secs)) => {
                let secs: u64 = std::str::from_utf8(secs)
                    .expect("digits")
                    .parse()
                    .expect("secs");
                secs * 1000
            }
            other => panic!("TIME: {other:?}"),
        },
        other => panic!("TIME: {other:?}"),
    };
    cmd(&mut conn, &["SET", MARKER, &now_ms.to_string()]).await;
    let r = request("known-old-wiped", "me", Fencing::Off, true);
    assert_eq!(
        knowing(&mut conn, &r, old).await,
        None,
        "the script judges it"
    );
    let judged = follow_up(&mut conn, &r).await;
    assert!(judged.granted);
    assert!(
        judged.marker_age_ms.is_some_and(|age| age < 60_000),
        "the new marker's true age: {judged:?}"
    );
    let lock = format!("{PREFIX}{{known-old-held}}:lock");
    cmd(&mut conn, &["SET", &lock, "someone", "PX", "10000"]).await;
    let refused = knowing(
        &mut conn,
        &request("known-old-held", "me", Fencing::Off, true),
        old,
    )
    .await
    .expect("a refusal");
    assert!(!refused.granted);
    assert_eq!(
        (refused.marker_age_ms, refused.marker_born_ms),
        (None, None)
    );

    // A client that mints the token reads the clock anyway: the exact age.
    cmd(&mut conn, &["SET", MARKER, "1000000"]).await;
    let fenced = knowing(
        &mut conn,
        &request("known-old-fenced", "me", Fencing::Client, true),
        old,
    )
    .await
    .expect("a grant");
    assert!(fenced.node_time_us > 0);
    assert_ne!(fenced.marker_age_ms, Some(crate::protocol::KNOWN_OLD_MS));
}

/// The follow-up may reach the node after the caller moved on: won on the other nodes,
/// used the lease and released it. It must not take the lock again (before the follow-up
/// was the acquire script itself, a grant that nobody would release for a whole ttl), nor
/// queue the caller (a place nobody would leave).
#[tokio::test]
async fn a_late_follow_up_takes_nothing() {
    let (_cluster, mut conn) = connect().await;
    cmd(&mut conn, &["DEL", MARKER]).await;
    let lock = format!("{PREFIX}{{late}}:lock");
    let r = request("late", "me", Fencing::Off, true);
    assert_eq!(quick(&mut conn, &r).await, None, "no marker: a follow-up");
    // Our release, before the follow-up arrives.
    cmd(&mut conn, &["DEL", &lock]).await;
    let late = follow_up(&mut conn, &r).await;
    assert!(!late.granted, "{late:?}");
    assert_eq!(cmd(&mut conn, &["EXISTS", &lock]).await, Value::Int(0));
    assert_eq!(queued(&mut conn, "late").await, Value::Int(0));
    // The same after someone else took the lock meanwhile.
    cmd(&mut conn, &["SET", &lock, "someone", "PX", "10000"]).await;
    assert!(!follow_up(&mut conn, &r).await.granted);
    assert_eq!(queued(&mut conn, "late").await, Value::Int(0));
}

/// One node, fenced: the token comes from `INCR` only where the counter was floored by a
/// clock since it was last lost. The case that needs it: the counter is lost (it expired,
/// or the node lost its data) while another client holds the lock; a quick request is
/// refused, its `INCR` still makes the counter 1; the holder releases; the next quick
/// request's `INCR` answers 2. Taking 2 as the token would hand out a token lower than
/// the ones before the loss (G2); the script floors it by the clock instead.
#[tokio::test]
async fn one_node_takes_incr_as_the_token_only_above_the_clock_floor() {
    let (_cluster, mut conn) = connect().await;
    let lock = format!("{PREFIX}{{minted}}:lock");
    let fence = format!("{PREFIX}{{minted}}:fence");
    let first = request("minted", "first", Fencing::Script, false);
    // A new resource: INCR answers 1, the follow-up floors the token by the node's clock.
    assert_eq!(quick(&mut conn, &first).await, None);
    let floored = follow_up(&mut conn, &first).await;
    assert!(floored.granted);
    assert!(floored.fence >= super::CLOCK_FLOOR, "{floored:?}");
    cmd(&mut conn, &["DEL", &lock]).await;
    // A floored counter: the next token is the counter plus one, without the node's
    // clock (three commands: `SET`, `INCR`, `PEXPIRE`).
    let second = request("minted", "second", Fencing::Script, false);
    let next = quick(&mut conn, &second).await.expect("granted");
    assert_eq!(next.fence, floored.fence + 1);
    assert_eq!(next.node_time_us, 0);
    cmd(&mut conn, &["DEL", &lock]).await;
    // The counter is lost while someone holds the lock; a refused quick request INCRs it.
    cmd(&mut conn, &["DEL", &fence]).await;
    cmd(&mut conn, &["SET", &lock, "someone", "PX", "10000"]).await;
    let refused = request("minted", "refused", Fencing::Script, false);
    assert!(!quick(&mut conn, &refused).await.expect("refused").granted);
    cmd(&mut conn, &["DEL", &lock]).await;
    // The next quick request's INCR answers 2: not a token.
    let third = request("minted", "third", Fencing::Script, false);
    assert_eq!(
        quick(&mut conn, &third).await,
        None,
        "INCR from a lost counter"
    );
    let token = follow_up(&mut conn, &third).await;
    assert!(token.granted);
    assert!(
        token.fence > next.fence,
        "tokens went backwards: {} after {}",
        token.fence,
        next.fence
    );
}

/// `INCR` cannot count past 2^63 - 1; the script counts all of u64. The quick request's
/// error answer is left to the script, which mints above the counter (the previous
/// holder's token) even though the quick `SET` already made the key ours.
#[tokio::test]
async fn a_counter_beyond_incr_is_minted_by_the_script() {
    let (_cluster, mut conn) = connect().await;
    let fence = format!("{PREFIX}{{big}}:fence");
    cmd(&mut conn, &["SET", &fence, "9999999999999999999"]).await;
    let r = request("big", "me", Fencing::Script, false);
    assert_eq!(quick(&mut conn, &r).await, None);
    let token = follow_up(&mut conn, &r).await;
    assert!(token.granted);
    assert_eq!(token.fence, 10_000_000_000_000_000_000);
}

#[test]
fn every_request_off_a_cluster_has_a_quick_form_when_asked_for() {
    let r = |fencing, quick| Acquire {
        quick,
        ..request("r", "o", fencing, true)
    };
    assert!(
        commands(
            &r(Fencing::Off, true),
            NodeKind::Standalone,
            NodeFacts::default()
        )
        .is_some()
    );
    assert!(
        commands(
            &r(Fencing::Client, true),
            NodeKind::Sentinel,
            NodeFacts::default()
        )
        .is_some()
    );
    assert!(
        commands(
            &r(Fencing::Script, true),
            NodeKind::Standalone,
            NodeFacts::default()
        )
        .is_some()
    );
    assert!(
        commands(
            &r(Fencing::Off, true),
            NodeKind::Cluster,
            NodeFacts::default()
        )
        .is_none()
    );
    assert!(
        commands(
            &r(Fencing::Off, false),
            NodeKind::Standalone,
            NodeFacts::default()
        )
        .is_none()
    );
}

#[test]
fn malformed_answers_are_errors_not_grants() {
    let bulk = |s: &str| Value::BulkString(s.as_bytes().to_vec());
    let time = || Value::Array(vec![bulk("1764576000"), bulk("123456")]);
    let r = request("r", "o", Fencing::Client, true);
    let ok = Value::Array(vec![Value::Nil, time(), bulk("1000"), bulk("7")]);
    let granted = reply(&r, &ok, NodeFacts::default())
        .expect("valid")
        .expect("a grant");
    assert_eq!(granted.fence, 7);
    assert_eq!(granted.node_time_us, 1_764_576_000_123_456);
    assert_eq!(granted.marker_born_ms, Some(1000));
    assert_eq!(granted.marker_age_ms, Some(1_764_576_000_123 - 1000));
    for bad in [
        Value::Nil,
        Value::Array(vec![Value::Nil, time(), bulk("1000")]),
        Value::Array(vec![Value::Okay, time(), bulk("1000"), bulk("7")]),
        Value::Array(vec![Value::Int(1), time(), bulk("1000"), bulk("7")]),
        Value::Array(vec![Value::Nil, bulk("1"), bulk("1000"), bulk("7")]),
        Value::Array(vec![
            Value::Nil,
            Value::Array(vec![bulk("x"), bulk("1")]),
            bulk("1000"),
            bulk("7"),
        ]),
        Value::Array(vec![Value::Nil, time(), Value::Int(1000), bulk("7")]),
        Value::Array(vec![Value::Nil, time(), bulk("1000"), bulk("-7")]),
    ] {
        assert!(reply(&r, &bad, NodeFacts::default()).is_err(), "{bad:?}");
    }
}
