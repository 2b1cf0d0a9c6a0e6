//! Helpers for the tests of the quick requests (`quick_tests.rs`, `release_tests.rs`): one
//! throwaway redis-server, raw commands, and requests with the keys under one prefix.

use std::sync::Arc;
use std::time::Duration;

use redis::Value;
use redis::aio::MultiplexedConnection;

use crate::ops::acquire::{Acquire, Fencing, Role};
use crate::ops::release::Release;
use crate::ops::{MarkerKey, Op, Target};
use crate::protocol::{AcquireReply, ResourceKeys};

pub(crate) const PREFIX: &str = "quick:";
pub(crate) const MARKER: &str = "quick:marker:born";

/// An acquisition of `resource` by `owner` that waits, quick form allowed.
pub(crate) fn request(resource: &str, owner: &str, fencing: Fencing, marker: bool) -> Acquire {
    Acquire {
        target: Target::new(PREFIX, resource, owner.to_owned()),
        ttl: Duration::from_secs(10),
        role: Role::Wait,
        waited_us: 0,
        fencing,
        marker: marker.then(|| MarkerKey::Global(Arc::from(MARKER))),
        queue_ttl: Duration::from_secs(60),
        counter_ttl: Duration::from_secs(600),
        quick: true,
        next: None,
    }
}

/// A lease's release of `resource` by `owner` of the call queued as `waiter`: hand-off
/// on (50 ms), quick form allowed.
pub(crate) fn release(resource: &str, owner: &str, waiter: &str) -> Release {
    Release {
        target: Target::for_waiter(
            Arc::new(ResourceKeys::new(PREFIX, resource)),
            owner.to_owned(),
            Arc::from(waiter),
        ),
        handoff: Duration::from_millis(50),
        waiter_gone_after: Duration::from_secs(3),
        queue_ttl: Duration::from_secs(60),
        publish_always: false,
        stay_queued: false,
        described: false,
        quick: true,
        saw_queue: std::sync::atomic::AtomicBool::new(false),
        marker: None,
        counter_ttl: Duration::from_secs(600),
        registration_fresh: Duration::from_secs(1),
    }
}

/// One throwaway redis-server (stopped when the first element drops) and a connection.
pub(crate) async fn connect() -> (redlease_testkit::Cluster, MultiplexedConnection) {
    let cluster = redlease_testkit::Cluster::start(1)
        .expect("redis-server must be installed: apt-get install -y redis-server");
    let client = redis::Client::open(cluster.urls()[0].as_str()).expect("url");
    let conn = client
        .get_multiplexed_async_connection()
        .await
        .expect("connect");
    (cluster, conn)
}

/// `r` sent as the acquire script.
pub(crate) async fn script(conn: &mut MultiplexedConnection, r: &Acquire) -> AcquireReply {
    let answer = r.invocation().invoke(conn).await.expect("answer");
    Acquire::parse(&answer).expect("a well-formed reply")
}

/// A raw command.
pub(crate) async fn cmd(conn: &mut MultiplexedConnection, args: &[&str]) -> Value {
    let mut c = redis::cmd(args[0]);
    for a in &args[1..] {
        c.arg(*a);
    }
    c.query_async(conn).await.expect("command")
}
