//! One lock node: its connection, its timeout, and reconnection.
//!
//! A node is what one server URL names, whatever its kind (one server, a Sentinel
//! service, a Redis Cluster: [`link`] knows the difference, nothing above it does). Each
//! node has exactly one multiplexed connection, shared by every task of the process:
//! requests from concurrent acquisitions are pipelined on it instead of opening a
//! connection per call. Every request runs under the per-node timeout, connect included,
//! so a dead or hung node costs at most that long and is a failed vote, never an error
//! that aborts the operation.
//!
//! The connection is dropped and re-established lazily when it breaks, and also after a
//! few timeouts in a row: a node that was paused (SIGSTOP, a long fork, a network black
//! hole) may leave a connection that will never answer again, and it must not poison
//! that node forever.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::config::{NodeKind, Server, Tls};
use crate::error::{Error, NodeError, NodeFailure, NodeName};
use crate::ops::{self, Op};

pub(crate) mod checks;
mod follow;
mod link;
mod markers;
mod pubsub;
mod request;
mod scan;
mod sentinel;
mod verdict;

pub(crate) use link::{Conn, Link, Refusal};
pub(crate) use pubsub::{Event, Messages, PubSubLink, Sink};
use verdict::{needs_new_connection, refusal, refuse_replica};

/// Timeouts in a row after which the connection is considered hung and replaced.
const HUNG_AFTER_TIMEOUTS: u32 = 2;

pub(crate) struct Node {
    name: NodeName,
    kind: NodeKind,
    link: Link,
    timeout: Duration,
    /// Replicas that must confirm a grant or extend (`WAIT`) before it counts.
    min_replicas: u32,
    /// The live connection, its generation and the link's primary switches when it was
    /// made, if any. A std mutex: it is only held to clone or replace the handle, never
    /// across an await.
    slot: Mutex<Option<Live>>,
    /// Sentinel: the task following `+switch-master` (stopped with the node).
    _follower: Option<follow::Follower>,
    /// Serialises reconnection so that concurrent callers do not each open a connection.
    connecting: tokio::sync::Mutex<()>,
    generations: AtomicU64,
    timeouts_in_row: AtomicU32,
    /// When this node last answered anything, in µs since `epoch`: a timeout on a
    /// connection that is still answering other requests means "slow", not "hung".
    last_answer_us: AtomicU64,
    epoch: Instant,
    /// Delayed restart: what this client knows of the node's marker ([`markers`]).
    markers: markers::Markers,
}

impl Node {
    pub(crate) fn new(
        index: usize,
        server: &Server,
        tls: Option<&Tls>,
        timeout: Duration,
        min_replicas: u32,
    ) -> Result<Self, Error> {
        let link = Link::open(server, tls, timeout).map_err(|e| {
            Error::invalid(
                format!("servers[{index}]"),
                &server.redacted,
                format!("rejected by the Redis client ({:?})", e.kind()),
                "a reachable Redis URL",
            )
        })?;
        Ok(Node {
            name: NodeName {
                index,
                server: server.redacted.clone(),
            },
            kind: server.kind(),
            _follower: link.follow(),
            link,
            timeout,
            min_replicas,
            slot: Mutex::new(None),
            connecting: tokio::sync::Mutex::new(()),
            generations: AtomicU64::new(0),
            timeouts_in_row: AtomicU32::new(0),
            last_answer_us: AtomicU64::new(0),
            epoch: Instant::now(),
            markers: markers::Markers::default(),
        })
    }

    pub(crate) fn kind(&self) -> NodeKind {
        self.kind
    }

    pub(crate) fn name(&self) -> &NodeName {
        &self.name
    }

    /// A failure of this node, for error reports.
    pub(crate) fn failure(&self, error: NodeError) -> NodeFailure {
        NodeFailure {
            index: self.name.index,
            server: self.name.server.clone(),
            error,
        }
    }

    /// Run `op` on this node, within the node timeout, and parse its reply. With
    /// `min_replicas`, a write the op reports (a grant, an extend) counts only once `WAIT`
    /// confirms that many replicas have it, within the same timeout; otherwise this node's
    /// vote fails (the caller's clean-up releases what it granted).
    ///
    /// An op with a quick form (plain commands for its usual case, see `ops/quick.rs`)
    /// sends that first; the script follows, within the same timeout, only when the quick
    /// answer does not decide.
    pub(crate) async fn run<O: Op>(&self, op: &O) -> Result<O::Reply, NodeError> {
        let started = tokio::time::Instant::now();
        let protocol = |e: ops::ReplyError| NodeError::Protocol(e.to_string());
        // What the quick request is built with is what its answer is read with.
        let facts = self.facts();
        let quick = op.quick(self.kind, facts);
        let script = match &quick {
            None => None,
            Some(quick) => {
                let (value, conn) = self.eval(quick, started).await?;
                let error = quick_error(&value);
                if let Some(e) = &error {
                    // Credentials or permissions: as for a script that met them.
                    if let Some(refused) = refusal(e) {
                        self.invalidate(None);
                        return Err(refused);
                    }
                }
                if error.as_ref().is_some_and(needs_new_connection) {
                    // A demoted primary (READONLY): nothing was written; the script runs
                    // as the request, on a new connection.
                    self.invalidate(None);
                    Some(op.invocation_for(self.kind))
                } else {
                    match op.quick_reply(&value, facts).map_err(protocol)? {
                        Some(reply) => return self.confirmed(op, reply, conn, started).await,
                        None => Some(op.follow_up(self.kind)),
                    }
                }
            }
        };
        let (value, conn) = match script {
            None => self.eval(&op.invocation_for(self.kind), started).await?,
            // After a quick request, what is left of the node timeout bounds the script.
            Some(script) => {
                let left = self.timeout.saturating_sub(started.elapsed());
                match tokio::time::timeout(left, self.eval(&script, started)).await {
                    Ok(answer) => answer?,
                    Err(_elapsed) => {
                        self.note_timeout(None);
                        return Err(NodeError::Timeout(self.timeout));
                    }
                }
            }
        };
        let reply = O::parse(&value).map_err(protocol)?;
        self.confirmed(op, reply, conn, started).await
    }

    /// `reply`, once `WAIT` confirmed the write it reports where `min_replicas` asks.
    async fn confirmed<O: Op>(
        &self,
        op: &O,
        reply: O::Reply,
        conn: Conn,
        started: tokio::time::Instant,
    ) -> Result<O::Reply, NodeError> {
        if self.min_replicas > 0
            && let Some(key) = O::replicated_key(op, &reply)
        {
            let left = self.timeout.saturating_sub(started.elapsed());
            self.confirm(conn, key, left).await?;
        }
        Ok(reply)
    }

    /// `WAIT min_replicas` on the connection that made the write.
    async fn confirm(&self, mut conn: Conn, key: &str, left: Duration) -> Result<(), NodeError> {
        let n = self.min_replicas;
        // The server's WAIT ends a little before ours, so that a slow replica reads as
        // "not confirmed" rather than as a timeout of the whole node.
        let server_side = left.mul_f64(0.8);
        let waited = tokio::time::timeout(left, conn.wait_replicas(key, n, server_side)).await;
        match waited {
            Ok(Ok(acked)) if acked >= n => Ok(()),
            Ok(Ok(acked)) => Err(NodeError::Replication(format!(
                "only {acked} of the {n} replicas required (min_replicas) confirmed the write within {left:?}"
            ))),
            Ok(Err(e)) => Err(NodeError::Replication(format!("WAIT failed: {e}"))),
            Err(_) => Err(NodeError::Replication(format!(
                "the {n} replicas required (min_replicas) did not confirm the write within {left:?}"
            ))),
        }
    }

    /// The server's identity (`run_id` of `INFO server`), if it answers within the node
    /// timeout and may run INFO: two URLs that reach one server share it.
    pub(crate) async fn identity(&self) -> Option<String> {
        let query = async {
            let (mut conn, _) = self.connection().await.ok()?;
            let info: String = redis::cmd("INFO")
                .arg("server")
                .query_async(&mut conn)
                .await
                .ok()?;
            info.lines()
                .find_map(|line| line.strip_prefix("run_id:"))
                .map(|id| id.trim().to_owned())
        };
        tokio::time::timeout(self.timeout, query)
            .await
            .ok()
            .flatten()
    }

    /// Try to connect now (used at start-up, so the first lock does not pay for it).
    pub(crate) async fn warm_up(&self) {
        let _ = tokio::time::timeout(self.timeout, self.connection()).await;
    }

    pub(crate) async fn connection(&self) -> Result<(Conn, u64), (Refusal, Option<u64>)> {
        if let Some(live) = self.current() {
            return Ok(live);
        }
        let _guard = self.connecting.lock().await;
        // Someone else may have connected while we waited for the lock.
        if let Some(live) = self.current() {
            return Ok(live);
        }
        // Read before connecting: a switch announced while we connect makes this
        // connection stale at once.
        let switches = self.link.switches();
        let mut conn = self
            .link
            .connect(self.timeout)
            .await
            .map_err(|e| (e, None))?;
        if self.kind == NodeKind::Standalone {
            refuse_replica(&mut conn).await.map_err(|e| (e, None))?;
        }
        if let Conn::Direct(conn) = &mut conn {
            // A cluster loads scripts on the shard that needs them (EVALSHA falls back to
            // SCRIPT LOAD there); a keyless pipeline cannot be routed.
            ops::preload()
                .query_async::<()>(conn)
                .await
                .map_err(|e| (Refusal::Redis(e), None))?;
        }
        let generation = self.generations.fetch_add(1, Ordering::Relaxed) + 1;
        if let Ok(mut slot) = self.slot.lock() {
            *slot = Some(Live {
                conn: conn.clone(),
                generation,
                switches,
            });
        }
        self.timeouts_in_row.store(0, Ordering::Relaxed);
        Ok((conn, generation))
    }

    /// The live connection, unless the primary switched since it was made.
    fn current(&self) -> Option<(Conn, u64)> {
        let slot = self.slot.lock().ok()?;
        let live = slot.as_ref()?;
        (live.switches == self.link.switches()).then(|| (live.conn.clone(), live.generation))
    }

    /// Drop the connection of `generation` (or whatever connection is there, if `None`),
    /// so that the next request reconnects. A newer connection is left alone.
    fn invalidate(&self, generation: Option<u64>) {
        if let Ok(mut slot) = self.slot.lock() {
            let stale = match (&*slot, generation) {
                (Some(live), Some(g)) => live.generation == g,
                (Some(_), None) => true,
                (None, _) => false,
            };
            if stale {
                tracing::debug!(node = %self.name, "dropping connection");
                *slot = None;
            }
        }
    }

    fn micros_since_epoch(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_micros()).unwrap_or(u64::MAX)
    }

    fn note_timeout(&self, generation: Option<u64>) {
        // Under load many requests are pipelined on the connection and some time out while
        // others still complete: that connection is slow, not hung, and dropping it would
        // fail every request queued on it.
        let since_answer = self
            .micros_since_epoch()
            .saturating_sub(self.last_answer_us.load(Ordering::Relaxed));
        if u128::from(since_answer) < self.timeout.as_micros() {
            return;
        }
        let in_row = self.timeouts_in_row.fetch_add(1, Ordering::Relaxed) + 1;
        if in_row >= HUNG_AFTER_TIMEOUTS {
            self.timeouts_in_row.store(0, Ordering::Relaxed);
            self.invalidate(generation);
        }
    }
}

/// A connection in use, with what it was made under.
struct Live {
    conn: Conn,
    generation: u64,
    switches: u64,
}

/// The first error reply among a quick request's answers (they come back as answers, see
/// `ops/quick.rs`), as the error the Redis client would have raised.
fn quick_error(answer: &redis::Value) -> Option<redis::RedisError> {
    let redis::Value::Array(items) = answer else {
        return None;
    };
    items.iter().find_map(|item| match item {
        redis::Value::ServerError(e) => Some(redis::RedisError::from(e.clone())),
        _ => None,
    })
}
