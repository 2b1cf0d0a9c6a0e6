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

use std::sync::{Arc, OnceLock};

use redis::{Cmd, RedisResult, ToRedisArgs, Value};

use crate::config::NodeKind;
use crate::protocol::ResourceKeys;

pub mod acquire;
pub mod describe;
pub mod extend;
pub mod extend_many;
pub mod fence;
pub mod fence_read;
pub mod marker;
mod parse;
mod quick;
pub mod release;
pub mod status;
#[cfg(test)]
mod testing;

pub use parse::ReplyError;

/// One operation on one node: the script, its keys and arguments, and its reply.
pub(crate) trait Op: Send + Sync + 'static {
    /// The parsed reply.
    type Reply: Send + 'static;
    /// The script with this request's keys and arguments.
    fn invocation(&self) -> Invocation;
    /// The script for a node of `kind`: the same as [`Op::invocation`] unless the op
    /// differs on a Redis Cluster (a per-resource marker, sharded pub/sub).
    fn invocation_for(&self, kind: NodeKind) -> Invocation {
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
    /// Plain commands that answer the usual case of this request for less than the
    /// script costs the node, on a node of `kind` of which this client knows `facts`, if
    /// the op has them (the quick acquire, see [`quick`]). [`Op::quick_reply`] reads
    /// their answer, with the same `facts`.
    fn quick(&self, kind: NodeKind, facts: NodeFacts) -> Option<Invocation> {
        let _ = (kind, facts);
        None
    }
    /// The reply that the quick commands' `answer` stands for, or `None` when the script
    /// must decide (then [`Op::follow_up`] is sent after them).
    fn quick_reply(
        &self,
        answer: &Value,
        facts: NodeFacts,
    ) -> Result<Option<Self::Reply>, ReplyError> {
        let _ = (answer, facts);
        Ok(None)
    }
    /// The script sent after a quick answer that did not decide. It may reach the node
    /// after requests the caller sent since (the caller may have moved on without this
    /// node's answer), so it must be harmless then.
    fn follow_up(&self, kind: NodeKind) -> Invocation {
        self.invocation_for(kind)
    }
}

/// What this client learnt of one node in earlier rounds, for its quick requests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct NodeFacts {
    /// The birth (node ms) of the node's delayed-restart marker when this client saw
    /// that marker at least `max_ttl` old: the same marker again is older still, so the
    /// quick acquire need not read the node's clock to know it (see [`quick`]).
    pub old_marker: Option<u64>,
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
            MarkerKey::PerResource => target.keys.born(),
        }
    }
}

/// The resource and owner an operation is about.
#[derive(Debug)]
pub(crate) struct Target {
    /// The value of the lock key: unique per acquisition attempt.
    pub owner: String,
    /// The caller's id in the wait queue: the same for every attempt of one `acquire`
    /// call (equal to the owner where there is no call, e.g. release by owner).
    pub waiter: Arc<str>,
    /// The resource and its key names, shared by every attempt of one call.
    pub keys: Arc<ResourceKeys>,
}

impl Target {
    pub(crate) fn new(prefix: &str, resource: &str, owner: String) -> Arc<Self> {
        let waiter = Arc::from(owner.as_str());
        Self::for_waiter(Arc::new(ResourceKeys::new(prefix, resource)), owner, waiter)
    }

    /// One attempt of the call queued as `waiter`.
    pub(crate) fn for_waiter(
        keys: Arc<ResourceKeys>,
        owner: String,
        waiter: Arc<str>,
    ) -> Arc<Self> {
        Arc::new(Target {
            owner,
            waiter,
            keys,
        })
    }

    /// The resource.
    pub(crate) fn resource(&self) -> &str {
        self.keys.resource()
    }
}

/// Every script, for loading on a new connection.
fn scripts() -> [&'static str; 10] {
    [
        acquire::LUA,
        describe::LUA,
        fence::LUA,
        fence_read::LUA,
        extend::LUA,
        extend_many::LUA,
        release::LUA,
        release::QUICK_LUA,
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

/// A script: its source, and its SHA1 computed once per process.
pub(crate) struct Compiled {
    source: &'static str,
    hash: OnceLock<String>,
}

impl Compiled {
    pub(crate) const fn new(source: &'static str) -> Self {
        Compiled {
            source,
            hash: OnceLock::new(),
        }
    }

    /// Start a call with `keys` keys: the keys follow with [`Invocation::key`], then the
    /// arguments with [`Invocation::arg`].
    pub(crate) fn call(&'static self, keys: usize) -> Invocation {
        let hash = self
            .hash
            .get_or_init(|| redis::Script::new(self.source).get_hash().to_owned());
        let mut cmd = Cmd::with_capacity(3 + 2 * keys + 8, 64 * keys + 128);
        cmd.arg("EVALSHA").arg(hash.as_str()).arg(keys);
        Invocation {
            body: Body::Script {
                cmd,
                source: self.source,
            },
            keys_left: keys,
            misbuilt: false,
        }
    }
}

/// One request to a node: a script call, written straight into the command that is sent
/// (`EVALSHA hash numkeys keys... args...`), or a few plain commands sent together (the
/// quick acquire, see [`quick`]).
///
/// redis-rs' `ScriptInvocation` keeps every key and argument in a buffer of its own and
/// copies them all into a command at each call: a dozen allocations per acquire or
/// release, a visible share of the client's cost per pair next to a loopback round trip.
/// Writing into the command directly needs the number of keys up front.
pub(crate) struct Invocation {
    body: Body,
    keys_left: usize,
    /// A key after the arguments began, or too few or too many keys: a bug of ours,
    /// reported as an error by [`Invocation::invoke`] instead of sending a wrong call.
    misbuilt: bool,
}

enum Body {
    Script {
        cmd: Cmd,
        source: &'static str,
    },
    /// Plain commands, answered as one array of their replies, in order.
    Commands(redis::Pipeline),
}

impl Invocation {
    /// Plain `commands`, sent together in one write (not a transaction).
    pub(crate) fn commands(commands: redis::Pipeline) -> Self {
        Invocation {
            body: Body::Commands(commands),
            keys_left: 0,
            misbuilt: false,
        }
    }

    /// The next key.
    pub(crate) fn key(&mut self, key: impl ToRedisArgs) -> &mut Self {
        match self.keys_left.checked_sub(1) {
            Some(left) => self.keys_left = left,
            None => self.misbuilt = true,
        }
        self.push(key);
        self
    }

    /// The next argument (after every key).
    pub(crate) fn arg(&mut self, arg: impl ToRedisArgs) -> &mut Self {
        if self.keys_left > 0 {
            self.misbuilt = true;
        }
        self.push(arg);
        self
    }

    fn push(&mut self, arg: impl ToRedisArgs) {
        match &mut self.body {
            Body::Script { cmd, .. } => {
                cmd.arg(arg);
            }
            Body::Commands(_) => self.misbuilt = true,
        }
    }

    /// Run it on `conn`; a node that does not know the script (restarted, `SCRIPT
    /// FLUSH`) gets it loaded and the call sent again.
    pub(crate) async fn invoke(
        &self,
        conn: &mut impl redis::aio::ConnectionLike,
    ) -> RedisResult<Value> {
        match self.query(conn).await {
            Err(e) => self.recover(conn, e).await,
            answer => answer,
        }
    }

    /// Send the call once, as it is.
    pub(crate) async fn query(
        &self,
        conn: &mut impl redis::aio::ConnectionLike,
    ) -> RedisResult<Value> {
        if self.misbuilt || self.keys_left > 0 {
            return Err(redis::RedisError::from((
                redis::ErrorKind::Client,
                "script call built with the wrong number of keys (a redlease bug)",
            )));
        }
        match &self.body {
            Body::Script { cmd, .. } => cmd.query_async::<Value>(conn).await,
            Body::Commands(commands) => commands.query_async::<Value>(conn).await,
        }
    }

    /// After [`Invocation::query`] failed with `error` on `conn`: a node that does not
    /// know the script gets it loaded and the call sent again; any other error stands.
    pub(crate) async fn recover(
        &self,
        conn: &mut impl redis::aio::ConnectionLike,
        error: redis::RedisError,
    ) -> RedisResult<Value> {
        let Body::Script { cmd, source } = &self.body else {
            return Err(error);
        };
        if !needs_script(&error) {
            return Err(error);
        }
        redis::cmd("SCRIPT")
            .arg("LOAD")
            .arg(*source)
            .exec_async(conn)
            .await?;
        cmd.query_async::<Value>(conn).await
    }
}

/// The node does not know the script (`NOSCRIPT`): [`Invocation::recover`] loads it.
pub(crate) fn needs_script(error: &redis::RedisError) -> bool {
    error.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::NoScript)
}

#[cfg(test)]
mod tests {
    use super::*;

    static TWO_KEYS: Compiled = Compiled::new("return 1");

    #[test]
    fn a_call_with_the_wrong_keys_is_never_sent() {
        let mut ok = TWO_KEYS.call(2);
        ok.key("a").key("b").arg(1);
        assert!(!ok.misbuilt && ok.keys_left == 0);
        let mut key_after_arg = TWO_KEYS.call(2);
        key_after_arg.key("a").arg(1).key("b");
        assert!(key_after_arg.misbuilt);
        let mut too_many = TWO_KEYS.call(1);
        too_many.key("a").key("b");
        assert!(too_many.misbuilt);
        let mut too_few = TWO_KEYS.call(2);
        too_few.key("a");
        assert_eq!(too_few.keys_left, 1);
    }
}
