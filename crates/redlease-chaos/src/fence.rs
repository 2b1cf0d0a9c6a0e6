//! The fenced resource: a counter on its own redis-server that only accepts
//! accesses carrying a fencing token at least as high as any it has seen.
//!
//! A lock alone cannot protect a resource from a holder that was paused past
//! its lease; the resource has to check the token itself. Here every access,
//! the read as well as the write, goes through one Lua script that compares
//! the token with the highest one recorded, records it, and does the access
//! or refuses it. Fencing the read too is what makes a read-modify-write
//! safe: once a newer holder has read the counter, an older holder's write
//! of `old value + 1` is refused, so no update is lost. The script also
//! keeps its own counts (accepted writes, rejections) for the checker.
//!
//! Tokens are compared as decimal strings (length, then bytes), like the
//! library's own scripts, so every u64 works.

use std::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::{Client, Script};

use crate::check::FenceState;
use crate::history::{FenceOutcome, FencedOp, OpKind};
use crate::mono;

/// Keys of the fenced resource (one hash tag, one node).
pub const COUNTER_KEY: &str = "chaos{fenced}:counter";
/// Highest token seen.
pub const TOKEN_KEY: &str = "chaos{fenced}:token";
/// The script's own counts.
pub const STATS_KEY: &str = "chaos{fenced}:stats";

/// How long one access may take before it counts as unknown.
const OP_TIMEOUT: Duration = Duration::from_secs(2);

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

/// A worker's connection to the fenced resource.
pub struct Fenced {
    client: Client,
    conn: Option<MultiplexedConnection>,
    script: Script,
}

impl Fenced {
    /// Connects to the fenced resource's server.
    pub async fn connect(url: &str) -> Result<Fenced, String> {
        let client = Client::open(url).map_err(|e| format!("fenced resource URL: {e}"))?;
        let mut fenced = Fenced {
            client,
            conn: None,
            script: Script::new(SCRIPT),
        };
        fenced.connection().await?;
        Ok(fenced)
    }

    async fn connection(&mut self) -> Result<&mut MultiplexedConnection, String> {
        if self.conn.is_none() {
            let conn =
                tokio::time::timeout(OP_TIMEOUT, self.client.get_multiplexed_async_connection())
                    .await
                    .map_err(|_| "fenced resource: connect timed out".to_owned())?
                    .map_err(|e| format!("fenced resource: {e}"))?;
            self.conn = Some(conn);
        }
        self.conn
            .as_mut()
            .ok_or_else(|| "fenced resource: no connection".to_owned())
    }

    /// Reads the counter with `token`.
    pub async fn read(&mut self, token: u64) -> FencedOp {
        self.access(OpKind::Read, token, 0).await
    }

    /// Writes `value` with `token`.
    pub async fn write(&mut self, token: u64, value: u64) -> FencedOp {
        self.access(OpKind::Write, token, value).await
    }

    async fn access(&mut self, kind: OpKind, token: u64, value: u64) -> FencedOp {
        let sent_ns = mono::now_ns();
        let reply = self.call(kind, token, value).await;
        let ack_ns = mono::now_ns();
        let (outcome, value) = match reply {
            Ok((1, counter)) => (
                FenceOutcome::Accepted,
                if kind == OpKind::Read { counter } else { value },
            ),
            Ok(_) => (FenceOutcome::Rejected, value),
            Err(_) => {
                // The connection may be broken or stuck: start afresh next time.
                self.conn = None;
                (FenceOutcome::Unknown, value)
            }
        };
        FencedOp {
            kind,
            token,
            sent_ns,
            ack_ns,
            outcome,
            value,
        }
    }

    async fn call(&mut self, kind: OpKind, token: u64, value: u64) -> Result<(i64, u64), String> {
        let op = match kind {
            OpKind::Read => "read",
            OpKind::Write => "write",
        };
        // A multiplexed connection is a cheap handle onto one shared socket.
        let mut conn = self.connection().await?.clone();
        let mut invocation = self.script.key(COUNTER_KEY);
        invocation
            .key(TOKEN_KEY)
            .key(STATS_KEY)
            .arg(op)
            .arg(token.to_string())
            .arg(value.to_string());
        tokio::time::timeout(OP_TIMEOUT, invocation.invoke_async::<(i64, u64)>(&mut conn))
            .await
            .map_err(|_| "fenced resource: timed out".to_owned())?
            .map_err(|e| format!("fenced resource: {e}"))
    }
}

/// Reads the fenced resource's final state through the test kit (blocking).
pub fn final_state(node: &redlease_testkit::Node) -> std::io::Result<FenceState> {
    let counter = node.command(&["GET", COUNTER_KEY])?;
    let stats = node.command(&["HGETALL", STATS_KEY])?;
    let mut state = FenceState {
        counter: counter.parse().unwrap_or(0),
        ..FenceState::default()
    };
    let fields: Vec<&str> = stats.split_whitespace().collect();
    for pair in fields.chunks(2) {
        if let [name, value] = pair {
            let value = value.parse().unwrap_or(0);
            match *name {
                "accepted_writes" => state.accepted_writes = value,
                "accepted_reads" => state.accepted_reads = value,
                "rejected" => state.rejected = value,
                _ => {}
            }
        }
    }
    Ok(state)
}
