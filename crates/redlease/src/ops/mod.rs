//! The operations a node runs: one file per operation, each with its Lua script.
//!
//! Every operation that must compare before it acts (extend and release only if the key
//! still holds our owner; record a fencing token only where we hold the lock) runs as one
//! Lua script, because Redis runs a script atomically: no other client can slip in between
//! the comparison and the write. Each file here holds one operation whole, as mini-redis
//! keeps `cmd/get.rs`: the typed request (every KEYS and ARGV entry built in one place, in
//! the order the script reads them), the `.lua` beside it, and the parsing of its reply.
//! Scripts are sent with EVALSHA, loaded once per connection.
//!
//! Replies are parsed by pure functions that never panic: a node that answers garbage is a
//! failed vote, not a crash.

use std::sync::Arc;

use redis::{Script, ScriptInvocation, Value};

use crate::config::NodeKind;
use crate::protocol::Keys;

pub mod acquire;
pub mod describe;
pub mod extend;
pub mod extend_many;
pub mod fence;
pub mod marker;
mod parse;
pub mod release;
pub mod status;

pub use parse::ReplyError;

/// One operation on one node: the script, its keys and arguments, and its reply.
pub(crate) trait Op: Send + Sync + 'static {
    /// The parsed reply.
    type Reply: Send + 'static;
    /// The script with this request's keys and arguments.
    fn invocation(&self) -> ScriptInvocation<'static>;
    /// The script for a node of `kind`: the same as [`Op::invocation`] unless the op
    /// differs on a Redis Cluster (a per-resource marker, sharded pub/sub).
    fn invocation_for(&self, kind: NodeKind) -> ScriptInvocation<'static> {
        let _ = kind;
        self.invocation()
    }
    /// Parse the script's reply.
    fn parse(value: &Value) -> Result<Self::Reply, ReplyError>;
    /// When `reply` reports a write that a lease relies on (a grant, an extend, a fencing
    /// token), a key it wrote: with `min_replicas`, replicas must confirm it (`WAIT`,
    /// routed to that key's shard on a cluster) before the vote counts.
    fn replicated_key<'a>(&'a self, reply: &Self::Reply) -> Option<&'a str> {
        let _ = reply;
        None
    }
}

/// Where the delayed-restart marker lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum MarkerKey {
    /// One marker per node, `<prefix>marker:born`: a standalone server or a Sentinel
    /// primary loses all its data at once, so one marker stands for all of it.
    Global(Arc<str>),
    /// One marker per resource, `<prefix>{<resource>}:born`, in the slot of the keys it
    /// protects: on a Redis Cluster each shard loses its own data, so the marker must be
    /// on the same shard as the lock (see `docs/protocol.md`, "Keys and Cluster").
    PerResource,
}

impl MarkerKey {
    /// The marker key for `target`.
    pub(crate) fn key<'a>(&'a self, target: &'a Target) -> &'a str {
        match self {
            MarkerKey::Global(key) => key,
            MarkerKey::PerResource => &target.keys.born,
        }
    }
}

/// The resource and owner an operation is about.
#[derive(Debug)]
pub(crate) struct Target {
    pub resource: String,
    /// The value of the lock key: unique per acquisition attempt.
    pub owner: String,
    /// The caller's id in the wait queue: the same for every attempt of one `acquire`
    /// call (equal to the owner where there is no call, e.g. release by owner).
    pub waiter: Arc<str>,
    /// Shared by every attempt of one call.
    pub keys: Arc<Keys>,
}

impl Target {
    pub(crate) fn new(prefix: &str, resource: &str, owner: String) -> Arc<Self> {
        let waiter = Arc::from(owner.as_str());
        Self::for_waiter(
            Arc::new(Keys::new(prefix, resource)),
            resource,
            owner,
            waiter,
        )
    }

    /// One attempt of the call queued as `waiter`.
    pub(crate) fn for_waiter(
        keys: Arc<Keys>,
        resource: &str,
        owner: String,
        waiter: Arc<str>,
    ) -> Arc<Self> {
        Arc::new(Target {
            resource: resource.to_owned(),
            owner,
            waiter,
            keys,
        })
    }
}

/// Every script, for loading on a new connection.
fn scripts() -> [&'static str; 8] {
    [
        acquire::LUA,
        describe::LUA,
        fence::LUA,
        extend::LUA,
        extend_many::LUA,
        release::LUA,
        status::LUA,
        marker::LUA,
    ]
}

/// One pipeline that loads every script, sent once on each new connection so that the
/// first EVALSHA of each operation does not pay a `NOSCRIPT` round trip.
pub(crate) fn preload() -> redis::Pipeline {
    let mut pipe = redis::pipe();
    for source in scripts() {
        pipe.cmd("SCRIPT").arg("LOAD").arg(source).ignore();
    }
    pipe
}

/// Milliseconds of a duration, as Redis takes them.
pub(crate) fn millis(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// A script compiled once per process.
pub(crate) type Compiled = std::sync::LazyLock<Script>;
