//! The floor: a Redlock-shaped lock in bare redis-rs calls, to compare redlease with.
//!
//! It is the least any quorum lock on these connections must do, and nothing more: one
//! multiplexed connection per node shared by every task, `SET key owner NX PX ttl` sent to
//! all nodes at once, a majority of `OK`s wins, release is `EVALSHA` of a compare-and-delete
//! script on every node. No validity arithmetic, no fencing, no typed errors, no
//! reconnection: the gap between this and redlease is what those cost.
//!
//! Two variants: [`FloorMode::AllReplies`] waits for every node's reply (what a plain
//! `join_all` does); [`FloorMode::Majority`] returns as soon as the outcome is certain and
//! drains the other replies in a background task (as redlease's unfenced acquire does).
//! When busy, a waiting caller polls every millisecond.

use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, Client, Script, Value};

use crate::error::BenchError;

/// How long a busy floor waits before polling again.
pub(crate) const POLL: Duration = Duration::from_millis(1);

/// Compare-and-delete: delete the key only if it still holds our owner.
static RELEASE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0",
    )
});

/// When the floor stops waiting for replies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FloorMode {
    /// Every node's reply is awaited.
    AllReplies,
    /// Return once a majority granted, or can no longer grant; drain the rest later.
    Majority,
}

/// The raw lock over k nodes.
pub(crate) struct Floor {
    conns: Vec<MultiplexedConnection>,
    ttl_ms: u64,
    quorum: usize,
    mode: FloorMode,
    prefix: String,
}

/// A held floor lock: the key and our owner value.
pub(crate) struct FloorLease {
    key: Arc<str>,
    owner: Arc<str>,
}

/// Why a floor acquisition failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FloorError {
    /// Held by someone else until the wait ran out.
    Busy,
    /// Fewer than a quorum of nodes answered.
    Unavailable,
}

impl Floor {
    /// Connect to every node (one multiplexed connection each) and load the release script.
    pub(crate) async fn connect(
        urls: &[String],
        ttl: Duration,
        node_timeout: Duration,
        prefix: String,
        mode: FloorMode,
    ) -> Result<Self, BenchError> {
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(node_timeout))
            .set_response_timeout(Some(node_timeout));
        let mut conns = Vec::with_capacity(urls.len());
        for url in urls {
            let client = Client::open(url.as_str())?;
            let mut conn = client
                .get_multiplexed_async_connection_with_config(&config)
                .await?;
            RELEASE.load_async(&mut conn).await?;
            conns.push(conn);
        }
        Ok(Floor {
            ttl_ms: u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX),
            quorum: redlease::protocol::quorum(conns.len()),
            conns,
            mode,
            prefix,
        })
    }

    /// Acquire `resource`, polling every millisecond while it is busy, until `deadline`.
    pub(crate) async fn acquire(
        &self,
        resource: &str,
        deadline: Instant,
    ) -> Result<FloorLease, FloorError> {
        let key: Arc<str> = format!("{}{}", self.prefix, resource).into();
        loop {
            match self.attempt(&key).await {
                Ok(lease) => return Ok(lease),
                Err(e) if Instant::now() >= deadline => return Err(e),
                Err(_) => tokio::time::sleep(POLL).await,
            }
        }
    }

    /// One attempt: SET NX PX everywhere, count the OKs; on failure, undo everywhere.
    async fn attempt(&self, key: &Arc<str>) -> Result<FloorLease, FloorError> {
        let owner: Arc<str> = redlease::protocol::new_owner().into();
        let mut calls: FuturesUnordered<_> = self
            .conns
            .iter()
            .map(|conn| {
                let mut conn = conn.clone();
                let mut cmd = redis::cmd("SET");
                cmd.arg(&**key)
                    .arg(&*owner)
                    .arg("NX")
                    .arg("PX")
                    .arg(self.ttl_ms);
                async move { cmd.query_async::<Value>(&mut conn).await }
            })
            .collect();
        let n = self.conns.len();
        let (mut granted, mut answered, mut seen) = (0usize, 0usize, 0usize);
        while let Some(reply) = calls.next().await {
            seen += 1;
            match reply {
                Ok(Value::Okay) => {
                    granted += 1;
                    answered += 1;
                }
                Ok(Value::SimpleString(s)) if s == "OK" => {
                    granted += 1;
                    answered += 1;
                }
                Ok(_) => answered += 1,
                Err(_) => {}
            }
            let decided = granted >= self.quorum || granted + (n - seen) < self.quorum;
            if decided && self.mode == FloorMode::Majority {
                break;
            }
        }
        drain(calls);
        let lease = FloorLease {
            key: Arc::clone(key),
            owner,
        };
        if granted >= self.quorum {
            return Ok(lease);
        }
        // Undo wherever it may have been granted (every node: a timed-out SET may have
        // landed), always waiting for the answers so the next attempt starts clean.
        self.release_with(lease, FloorMode::AllReplies).await;
        if answered + (n - seen) < self.quorum {
            Err(FloorError::Unavailable)
        } else {
            Err(FloorError::Busy)
        }
    }

    /// Release on every node with compare-and-delete (EVALSHA).
    pub(crate) async fn release(&self, lease: FloorLease) {
        self.release_with(lease, self.mode).await;
    }

    async fn release_with(&self, lease: FloorLease, mode: FloorMode) {
        let mut calls: FuturesUnordered<_> = self
            .conns
            .iter()
            .map(|conn| {
                let mut conn = conn.clone();
                let key = Arc::clone(&lease.key);
                let owner = Arc::clone(&lease.owner);
                async move {
                    RELEASE
                        .key(&*key)
                        .arg(&*owner)
                        .invoke_async::<i64>(&mut conn)
                        .await
                }
            })
            .collect();
        let mut answered = 0;
        while calls.next().await.is_some() {
            answered += 1;
            if mode == FloorMode::Majority && answered >= self.quorum {
                break;
            }
        }
        drain(calls);
    }
}

/// Let the replies still in flight arrive in a background task (the requests are already
/// written to the connections).
fn drain<F>(mut calls: FuturesUnordered<F>)
where
    F: std::future::Future + Send + 'static,
    F::Output: Send,
{
    if calls.is_empty() {
        return;
    }
    tokio::spawn(async move { while calls.next().await.is_some() {} });
}
