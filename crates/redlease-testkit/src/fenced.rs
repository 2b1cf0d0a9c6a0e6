//! The fenced counter: a counter on a Redis server that checks fencing tokens itself.
//!
//! A lock alone cannot protect a store from a holder that was paused past its lease; the
//! store has to check the token. Every access here, the read as well as the write, goes
//! through one Lua script that compares the token with the highest one recorded, records
//! it, and does the access or refuses it. Fencing the read too is what makes a
//! read-modify-write safe: once a newer holder has read the counter, an older holder's
//! write of `old value + 1` is refused, so no update is lost. The script keeps its own
//! counts (accepted reads and writes, rejections) for checkers.
//!
//! Tokens are compared as decimal strings (length, then bytes), like redlease's own
//! scripts, so every `u64` works.

use std::io;
use std::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::{Client, Script};

/// Default bound on one access.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);

/// KEYS: counter, token, stats. ARGV: `read` or `write`, token, value.
/// Returns `{accepted (0/1), counter value}`.
const SCRIPT: &str = r"
local function below(a, b)
  if #a ~= #b then return #a < #b end
  return a < b
end
local last = redis.call('GET', KEYS[2]) or '0'
if below(ARGV[2], last) then
  redis.call('HINCRBY', KEYS[3], 'rejected', 1)
  return {0, 0}
end
redis.call('SET', KEYS[2], ARGV[2])
if ARGV[1] == 'write' then
  redis.call('SET', KEYS[1], ARGV[3])
  redis.call('HINCRBY', KEYS[3], 'accepted_writes', 1)
else
  redis.call('HINCRBY', KEYS[3], 'accepted_reads', 1)
end
return {1, tonumber(redis.call('GET', KEYS[1]) or '0')}
";

/// What the store said to one access.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// The token was at least the highest seen: done. Holds the counter's value after it.
    Accepted(u64),
    /// The token was below the highest seen: refused, nothing changed.
    Rejected,
}

/// The store's own books.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FencedState {
    /// The counter.
    pub counter: u64,
    /// The highest token seen.
    pub highest_token: u64,
    /// Writes done.
    pub accepted_writes: u64,
    /// Reads done.
    pub accepted_reads: u64,
    /// Accesses refused.
    pub rejected: u64,
}

/// One connection to a fenced counter (reconnects after an error).
pub struct FencedCounter {
    client: Client,
    conn: Option<MultiplexedConnection>,
    script: Script,
    keys: [String; 3],
    timeout: Duration,
}

impl FencedCounter {
    /// The keys of the counter named `name`: `NAME:counter`, `NAME:token`, `NAME:stats`.
    /// Put a hash tag in the name (`app{fenced}`) to keep them on one cluster slot.
    pub fn keys(name: &str) -> [String; 3] {
        [
            format!("{name}:counter"),
            format!("{name}:token"),
            format!("{name}:stats"),
        ]
    }

    /// Connect to the counter named `name` on the server at `url`.
    pub async fn connect(url: &str, name: &str) -> io::Result<Self> {
        let client = Client::open(url)
            .map_err(|e| io::Error::other(format!("fenced counter at {url}: {e}")))?;
        let mut counter = FencedCounter {
            client,
            conn: None,
            script: Script::new(SCRIPT),
            keys: Self::keys(name),
            timeout: DEFAULT_TIMEOUT,
        };
        counter.connection().await?;
        Ok(counter)
    }

    /// Bound each access by `timeout` instead of 2 s.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Read the counter with `token`.
    pub async fn read(&mut self, token: u64) -> io::Result<Access> {
        self.access("read", token, 0).await
    }

    /// Write `value` with `token`.
    pub async fn write(&mut self, token: u64, value: u64) -> io::Result<Access> {
        self.access("write", token, value).await
    }

    /// The store's books.
    pub async fn state(&mut self) -> io::Result<FencedState> {
        let [counter, token, stats] = self.keys.clone();
        let mut conn = self.connection().await?.clone();
        let call = async {
            let (counter, token): (Option<u64>, Option<u64>) = redis::pipe()
                .get(&counter)
                .get(&token)
                .query_async(&mut conn)
                .await?;
            let stats: Vec<(String, u64)> = redis::cmd("HGETALL")
                .arg(&stats)
                .query_async(&mut conn)
                .await?;
            Ok::<_, redis::RedisError>((counter, token, stats))
        };
        let result = bounded(self.timeout, "reading its state", call).await;
        let (counter, token, stats) = self.forget_on_error(result)?;
        let mut state = FencedState {
            counter: counter.unwrap_or(0),
            highest_token: token.unwrap_or(0),
            ..FencedState::default()
        };
        for (name, value) in stats {
            match name.as_str() {
                "accepted_writes" => state.accepted_writes = value,
                "accepted_reads" => state.accepted_reads = value,
                "rejected" => state.rejected = value,
                _ => {}
            }
        }
        Ok(state)
    }

    async fn access(&mut self, op: &str, token: u64, value: u64) -> io::Result<Access> {
        // A multiplexed connection is a cheap handle onto one shared socket.
        let mut conn = self.connection().await?.clone();
        let mut invocation = self.script.key(&self.keys[0]);
        invocation
            .key(&self.keys[1])
            .key(&self.keys[2])
            .arg(op)
            .arg(token.to_string())
            .arg(value.to_string());
        let reply = invocation.invoke_async::<(i64, u64)>(&mut conn);
        let result = bounded(self.timeout, op, reply).await;
        drop(invocation);
        let (accepted, counter) = self.forget_on_error(result)?;
        Ok(if accepted == 1 {
            Access::Accepted(counter)
        } else {
            Access::Rejected
        })
    }

    /// After an error the connection may be broken or stuck: start afresh next time.
    fn forget_on_error<T>(&mut self, result: io::Result<T>) -> io::Result<T> {
        if result.is_err() {
            self.conn = None;
        }
        result
    }

    async fn connection(&mut self) -> io::Result<&mut MultiplexedConnection> {
        if self.conn.is_none() {
            let conn =
                tokio::time::timeout(self.timeout, self.client.get_multiplexed_async_connection())
                    .await
                    .map_err(|_| {
                        io::Error::new(io::ErrorKind::TimedOut, "fenced counter: connect timed out")
                    })?
                    .map_err(|e| io::Error::other(format!("fenced counter: {e}")))?;
            self.conn = Some(conn);
        }
        self.conn
            .as_mut()
            .ok_or_else(|| io::Error::other("fenced counter: no connection"))
    }
}

/// `call`, bounded by `timeout`, with `what` in its error.
async fn bounded<T>(
    timeout: Duration,
    what: &str,
    call: impl Future<Output = redis::RedisResult<T>>,
) -> io::Result<T> {
    match tokio::time::timeout(timeout, call).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => Err(io::Error::other(format!("fenced counter, {what}: {e}"))),
        Err(_) => Err(io::Error::new(
            io::ErrorKind::TimedOut,
            format!("fenced counter, {what}: no answer within {timeout:?}"),
        )),
    }
}
