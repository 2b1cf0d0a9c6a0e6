//! One Redis node: its connection, its timeout, and reconnection.
//!
//! Each node has exactly one multiplexed connection, shared by every task of the process:
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

use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, Client, Value};

use crate::config::Server;
use crate::error::{Error, NodeError, NodeFailure, NodeName};
use crate::ops::{self, Op};
use crate::protocol::MarkerTrust;

/// Timeouts in a row after which the connection is considered hung and replaced.
const HUNG_AFTER_TIMEOUTS: u32 = 2;

pub(crate) struct Node {
    name: NodeName,
    client: Client,
    timeout: Duration,
    /// The live connection and its generation, if any. A std mutex: it is only held to
    /// clone or replace the handle, never across an await.
    slot: Mutex<Option<(MultiplexedConnection, u64)>>,
    /// Serialises reconnection so that concurrent callers do not each open a connection.
    connecting: tokio::sync::Mutex<()>,
    generations: AtomicU64,
    timeouts_in_row: AtomicU32,
    /// When this node last answered anything, in µs since `epoch`: a timeout on a
    /// connection that is still answering other requests means "slow", not "hung".
    last_answer_us: AtomicU64,
    epoch: Instant,
    /// Delayed restart: this node's marker, once a complete round showed it is not a
    /// node that came back empty. The same marker later means the node kept its data
    /// since, so its grants can be counted without waiting for every other node's answer.
    trust: Mutex<MarkerTrust>,
}

impl Node {
    pub(crate) fn new(index: usize, server: &Server, timeout: Duration) -> Result<Self, Error> {
        let client = Client::open(server.info.clone()).map_err(|e| {
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
            client,
            timeout,
            slot: Mutex::new(None),
            connecting: tokio::sync::Mutex::new(()),
            generations: AtomicU64::new(0),
            timeouts_in_row: AtomicU32::new(0),
            last_answer_us: AtomicU64::new(0),
            epoch: Instant::now(),
            trust: Mutex::new(MarkerTrust::default()),
        })
    }

    pub(crate) fn client(&self) -> &Client {
        &self.client
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

    /// Run `op` on this node, within the node timeout, and parse its reply.
    pub(crate) async fn run<O: Op>(&self, op: &O) -> Result<O::Reply, NodeError> {
        let value = self.eval(&op.invocation()).await?;
        O::parse(&value).map_err(|e| NodeError::Protocol(e.to_string()))
    }

    async fn eval(&self, invocation: &redis::ScriptInvocation<'_>) -> Result<Value, NodeError> {
        let attempt = async {
            let (mut conn, generation) = self.connection().await?;
            match invocation.invoke_async::<Value>(&mut conn).await {
                // A connection that broke while idle (the node restarted, a proxy reset
                // it): reconnect once within the same timeout. Every script is safe to
                // run twice for the same owner.
                Err(e) if is_connection_level(&e) && !e.is_timeout() => {
                    self.invalidate(Some(generation));
                    let (mut conn, generation) = self.connection().await?;
                    invocation
                        .invoke_async::<Value>(&mut conn)
                        .await
                        .map_err(|e| (e, Some(generation)))
                }
                other => other.map_err(|e| (e, Some(generation))),
            }
        };
        match tokio::time::timeout(self.timeout, attempt).await {
            Ok(Ok(value)) => {
                self.timeouts_in_row.store(0, Ordering::Relaxed);
                self.last_answer_us
                    .store(self.micros_since_epoch(), Ordering::Relaxed);
                Ok(value)
            }
            Ok(Err((e, generation))) if e.is_timeout() => {
                self.note_timeout(generation);
                Err(NodeError::Timeout(self.timeout))
            }
            Ok(Err((e, generation))) => {
                if let Some(refusal) = refusal(&e) {
                    // Credentials or configuration: the connection is of no use as it is.
                    self.invalidate(generation);
                    Err(refusal)
                } else if is_connection_level(&e) {
                    self.invalidate(generation);
                    Err(NodeError::Connection(e.to_string()))
                } else {
                    Err(NodeError::Redis(e.to_string()))
                }
            }
            Err(_elapsed) => {
                self.note_timeout(None);
                Err(NodeError::Timeout(self.timeout))
            }
        }
    }

    /// Try to connect now (used at start-up, so the first lock does not pay for it).
    pub(crate) async fn warm_up(&self) {
        let _ = tokio::time::timeout(self.timeout, self.connection()).await;
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

    /// Keys matching `pattern`, by SCAN (never KEYS: it would block the server), at most
    /// `limit` of them; each SCAN call within the node timeout.
    pub(crate) async fn scan(&self, pattern: &str, limit: usize) -> Result<Vec<String>, NodeError> {
        let (mut conn, _) = tokio::time::timeout(self.timeout, self.connection())
            .await
            .map_err(|_| NodeError::Timeout(self.timeout))?
            .map_err(|(e, _)| NodeError::Connection(e.to_string()))?;
        let mut keys = Vec::new();
        let mut cursor: u64 = 0;
        loop {
            let mut scan = redis::cmd("SCAN");
            scan.arg(cursor)
                .arg("MATCH")
                .arg(pattern)
                .arg("COUNT")
                .arg(512);
            let call = scan.query_async::<(u64, Vec<String>)>(&mut conn);
            let (next, batch) = tokio::time::timeout(self.timeout, call)
                .await
                .map_err(|_| NodeError::Timeout(self.timeout))?
                .map_err(|e| NodeError::Redis(e.to_string()))?;
            keys.extend(batch);
            cursor = next;
            if cursor == 0 || keys.len() >= limit {
                keys.truncate(limit);
                return Ok(keys);
            }
        }
    }

    async fn connection(
        &self,
    ) -> Result<(MultiplexedConnection, u64), (redis::RedisError, Option<u64>)> {
        if let Some(live) = self.current() {
            return Ok(live);
        }
        let _guard = self.connecting.lock().await;
        // Someone else may have connected while we waited for the lock.
        if let Some(live) = self.current() {
            return Ok(live);
        }
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(self.timeout))
            .set_response_timeout(Some(self.timeout));
        let mut conn = self
            .client
            .get_multiplexed_async_connection_with_config(&config)
            .await
            .map_err(|e| (e, None))?;
        ops::preload()
            .query_async::<()>(&mut conn)
            .await
            .map_err(|e| (e, None))?;
        let generation = self.generations.fetch_add(1, Ordering::Relaxed) + 1;
        if let Ok(mut slot) = self.slot.lock() {
            *slot = Some((conn.clone(), generation));
        }
        self.timeouts_in_row.store(0, Ordering::Relaxed);
        Ok((conn, generation))
    }

    fn current(&self) -> Option<(MultiplexedConnection, u64)> {
        self.slot.lock().ok().and_then(|slot| slot.clone())
    }

    /// Drop the connection of `generation` (or whatever connection is there, if `None`),
    /// so that the next request reconnects. A newer connection is left alone.
    fn invalidate(&self, generation: Option<u64>) {
        if let Ok(mut slot) = self.slot.lock() {
            let stale = match (&*slot, generation) {
                (Some((_, current)), Some(g)) => *current == g,
                (Some(_), None) => true,
                (None, _) => false,
            };
            if stale {
                tracing::debug!(node = %self.name, "dropping connection");
                *slot = None;
            }
        }
    }

    /// Whether a marker of `age`, seen at `seen_at` (the cluster's clock), is the one
    /// trusted before (see [`MarkerTrust::check`]).
    pub(crate) fn marker_trusted(
        &self,
        age: Duration,
        seen_at: Duration,
        tolerance: Duration,
    ) -> bool {
        self.trust
            .lock()
            .is_ok_and(|mut trust| trust.check(age, seen_at, tolerance))
    }

    /// Remember this node's marker as one that a complete round did not hold back.
    pub(crate) fn trust_marker(&self, age: Duration, seen_at: Duration) {
        if let Ok(mut trust) = self.trust.lock() {
            trust.trust(age, seen_at);
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

/// A refusal that retrying will not cure: credentials, permissions, a database the
/// server does not have.
fn refusal(e: &redis::RedisError) -> Option<NodeError> {
    let code = e.code().unwrap_or_default();
    let text = e.to_string();
    if e.kind() == redis::ErrorKind::AuthenticationFailed
        || matches!(code, "NOAUTH" | "WRONGPASS" | "NOPERM")
        || text.contains("WRONGPASS")
        || text.contains("NOAUTH")
    {
        return Some(NodeError::Auth(text));
    }
    if text.contains("DB index is out of range") {
        return Some(NodeError::Config(text));
    }
    None
}

fn is_connection_level(e: &redis::RedisError) -> bool {
    e.is_io_error()
        || e.is_connection_dropped()
        || e.is_connection_refusal()
        || e.is_unrecoverable_error()
}
