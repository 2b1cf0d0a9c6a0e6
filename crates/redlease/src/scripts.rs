//! The Lua scripts that run on each node, and the parsing of their replies.
//!
//! Every operation that must compare before it acts (extend and release only if the key
//! still holds our owner; record a fencing token only where we hold the lock) runs as one
//! Lua script, because Redis runs a script atomically: no other client can slip in between
//! the comparison and the write. The scripts live in `src/scripts/*.lua` so they can be
//! read, reviewed and tested as Lua; they are sent with EVALSHA, loaded once per
//! connection (see [`crate::node`]), with a fallback to loading on `NOSCRIPT`.
//!
//! Replies are parsed by pure functions that never panic: a node that answers garbage is a
//! failed vote, not a crash.

use std::sync::LazyLock;

use redis::{Script, Value};

const ACQUIRE_LUA: &str = include_str!("scripts/acquire.lua");
const FENCE_LUA: &str = include_str!("scripts/fence.lua");
const EXTEND_LUA: &str = include_str!("scripts/extend.lua");
const RELEASE_LUA: &str = include_str!("scripts/release.lua");
const STATUS_LUA: &str = include_str!("scripts/status.lua");
const MARKER_LUA: &str = include_str!("scripts/marker.lua");

/// Acquire: see `scripts/acquire.lua`.
pub(crate) static ACQUIRE: LazyLock<Script> = LazyLock::new(|| Script::new(ACQUIRE_LUA));
/// Record a fencing token: see `scripts/fence.lua`.
pub(crate) static FENCE: LazyLock<Script> = LazyLock::new(|| Script::new(FENCE_LUA));
/// Extend: see `scripts/extend.lua`.
pub(crate) static EXTEND: LazyLock<Script> = LazyLock::new(|| Script::new(EXTEND_LUA));
/// Release: see `scripts/release.lua`.
pub(crate) static RELEASE: LazyLock<Script> = LazyLock::new(|| Script::new(RELEASE_LUA));
/// Status: see `scripts/status.lua`.
pub(crate) static STATUS: LazyLock<Script> = LazyLock::new(|| Script::new(STATUS_LUA));
/// Delayed-restart marker operations: see `scripts/marker.lua`.
pub(crate) static MARKER: LazyLock<Script> = LazyLock::new(|| Script::new(MARKER_LUA));

/// One pipeline that loads every script, sent once on each new connection so that the
/// first EVALSHA of each operation does not pay a `NOSCRIPT` round trip.
pub(crate) fn preload() -> redis::Pipeline {
    let mut pipe = redis::pipe();
    for source in [
        ACQUIRE_LUA,
        FENCE_LUA,
        EXTEND_LUA,
        RELEASE_LUA,
        STATUS_LUA,
        MARKER_LUA,
    ] {
        pipe.cmd("SCRIPT").arg("LOAD").arg(source).ignore();
    }
    pipe
}

/// A reply that does not have the shape a script returns.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unexpected reply from {script} script: {detail}")]
pub struct ReplyError {
    script: &'static str,
    detail: String,
}

impl ReplyError {
    fn new(script: &'static str, detail: impl Into<String>) -> Self {
        ReplyError {
            script,
            detail: detail.into(),
        }
    }
}

/// What the acquire script said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AcquireReply {
    /// The lock is ours on this node.
    pub granted: bool,
    /// The node's fencing counter for the resource.
    pub fence: u64,
    /// The other holder's remaining TTL, when refused.
    pub holder_pttl_ms: Option<u64>,
    /// The key is a hand-off reservation: the lock was just released to the waiters.
    pub handoff: bool,
    /// Age of the node's marker on its own clock (delayed restart), if asked for.
    pub marker_age_ms: Option<u64>,
}

impl AcquireReply {
    /// Parse the reply of `acquire.lua`.
    ///
    /// ```
    /// use redis::Value;
    /// use redlease::scripts::AcquireReply;
    /// let reply = Value::Array(vec![
    ///     Value::Int(0),
    ///     Value::BulkString(b"17".to_vec()),
    ///     Value::Int(900),
    ///     Value::Int(0),
    ///     Value::Int(-1),
    /// ]);
    /// let parsed = AcquireReply::parse(&reply).unwrap();
    /// assert!(!parsed.granted);
    /// assert_eq!(parsed.fence, 17);
    /// assert_eq!(parsed.holder_pttl_ms, Some(900));
    /// assert!(AcquireReply::parse(&Value::Nil).is_err());
    /// ```
    pub fn parse(value: &Value) -> Result<Self, ReplyError> {
        const NAME: &str = "acquire";
        let [granted, fence, pttl, handoff, age] = array::<5>(NAME, value)?;
        let granted = flag(NAME, granted)?;
        let fence = counter(NAME, fence)?;
        let pttl = int(NAME, pttl)?;
        Ok(AcquireReply {
            granted,
            fence,
            holder_pttl_ms: if granted {
                None
            } else {
                u64::try_from(pttl).ok()
            },
            handoff: flag(NAME, handoff)?,
            marker_age_ms: u64::try_from(int(NAME, age)?).ok(),
        })
    }
}

/// What the extend script said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExtendReply {
    /// The key held our owner and got the new TTL.
    pub extended: bool,
    /// The node's fencing counter for the resource.
    pub fence: u64,
}

impl ExtendReply {
    /// Parse the reply of `extend.lua`.
    ///
    /// ```
    /// use redis::Value;
    /// use redlease::scripts::ExtendReply;
    /// let reply = Value::Array(vec![Value::Int(1), Value::BulkString(b"3".to_vec())]);
    /// assert_eq!(ExtendReply::parse(&reply).unwrap(), ExtendReply { extended: true, fence: 3 });
    /// ```
    pub fn parse(value: &Value) -> Result<Self, ReplyError> {
        const NAME: &str = "extend";
        let [extended, fence] = array::<2>(NAME, value)?;
        Ok(ExtendReply {
            extended: flag(NAME, extended)?,
            fence: counter(NAME, fence)?,
        })
    }
}

/// Parse the 0/1 reply of `fence.lua` or `release.lua`.
///
/// ```
/// use redis::Value;
/// assert_eq!(redlease::scripts::parse_flag("release", &Value::Int(1)), Ok(true));
/// assert!(redlease::scripts::parse_flag("release", &Value::Int(7)).is_err());
/// ```
pub fn parse_flag(script: &'static str, value: &Value) -> Result<bool, ReplyError> {
    flag(script, value)
}

/// What the status script said about one node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusReply {
    /// The holder's owner value, if the resource is held on this node.
    pub owner: Option<String>,
    /// The holder's remaining TTL in ms, if held (and the key has a TTL).
    pub pttl_ms: Option<u64>,
    /// The node's fencing counter for the resource.
    pub fence: u64,
}

impl StatusReply {
    /// Parse the reply of `status.lua`.
    ///
    /// ```
    /// use redis::Value;
    /// use redlease::scripts::StatusReply;
    /// let reply = Value::Array(vec![
    ///     Value::BulkString(b"".to_vec()),
    ///     Value::Int(-2),
    ///     Value::BulkString(b"0".to_vec()),
    /// ]);
    /// let parsed = StatusReply::parse(&reply).unwrap();
    /// assert_eq!(parsed.owner, None);
    /// assert_eq!(parsed.pttl_ms, None);
    /// ```
    pub fn parse(value: &Value) -> Result<Self, ReplyError> {
        const NAME: &str = "status";
        let [owner, pttl, fence] = array::<3>(NAME, value)?;
        let owner = text(NAME, owner)?;
        Ok(StatusReply {
            owner: (!owner.is_empty()).then_some(owner),
            pttl_ms: u64::try_from(int(NAME, pttl)?).ok(),
            fence: counter(NAME, fence)?,
        })
    }
}

fn array<'a, const N: usize>(
    script: &'static str,
    value: &'a Value,
) -> Result<&'a [Value; N], ReplyError> {
    match value {
        Value::Array(items) => <&[Value; N]>::try_from(items.as_slice()).map_err(|_| {
            ReplyError::new(
                script,
                format!("expected {N} elements, got {}", items.len()),
            )
        }),
        other => Err(ReplyError::new(
            script,
            format!("expected an array, got {}", describe(other)),
        )),
    }
}

fn int(script: &'static str, value: &Value) -> Result<i64, ReplyError> {
    match value {
        Value::Int(n) => Ok(*n),
        other => Err(ReplyError::new(
            script,
            format!("expected an integer, got {}", describe(other)),
        )),
    }
}

fn flag(script: &'static str, value: &Value) -> Result<bool, ReplyError> {
    match int(script, value)? {
        0 => Ok(false),
        1 => Ok(true),
        n => Err(ReplyError::new(script, format!("expected 0 or 1, got {n}"))),
    }
}

fn text(script: &'static str, value: &Value) -> Result<String, ReplyError> {
    match value {
        Value::BulkString(bytes) => String::from_utf8(bytes.clone())
            .map_err(|_| ReplyError::new(script, "expected UTF-8 text")),
        Value::SimpleString(s) => Ok(s.clone()),
        other => Err(ReplyError::new(
            script,
            format!("expected a string, got {}", describe(other)),
        )),
    }
}

/// A fencing counter: a decimal u64 stored as a string.
fn counter(script: &'static str, value: &Value) -> Result<u64, ReplyError> {
    let digits = match value {
        Value::BulkString(bytes) => bytes.as_slice(),
        Value::SimpleString(s) => s.as_bytes(),
        Value::Int(n) => {
            return u64::try_from(*n)
                .map_err(|_| ReplyError::new(script, format!("negative fencing counter {n}")));
        }
        other => {
            return Err(ReplyError::new(
                script,
                format!("expected a fencing counter, got {}", describe(other)),
            ));
        }
    };
    std::str::from_utf8(digits)
        .ok()
        .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|s| s.parse::<u64>().ok())
        .ok_or_else(|| {
            ReplyError::new(
                script,
                format!(
                    "fencing counter {:?} is not a u64",
                    String::from_utf8_lossy(digits)
                ),
            )
        })
}

fn describe(value: &Value) -> &'static str {
    match value {
        Value::Nil => "nil",
        Value::Int(_) => "an integer",
        Value::BulkString(_) => "a bulk string",
        Value::Array(_) => "an array",
        Value::SimpleString(_) => "a simple string",
        Value::Okay => "OK",
        Value::ServerError(_) => "a server error",
        _ => "another reply type",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(s: &str) -> Value {
        Value::BulkString(s.as_bytes().to_vec())
    }

    #[test]
    fn acquire_granted() {
        let v = Value::Array(vec![
            Value::Int(1),
            bulk("0"),
            Value::Int(-1),
            Value::Int(0),
            Value::Int(1500),
        ]);
        assert_eq!(
            AcquireReply::parse(&v),
            Ok(AcquireReply {
                granted: true,
                fence: 0,
                holder_pttl_ms: None,
                handoff: false,
                marker_age_ms: Some(1500),
            })
        );
    }

    #[test]
    fn acquire_rejects_garbage() {
        let valid = || {
            vec![
                Value::Int(0),
                bulk("7"),
                Value::Int(900),
                Value::Int(0),
                Value::Int(5),
            ]
        };
        assert!(AcquireReply::parse(&Value::Array(valid())).is_ok());
        let mut cases = vec![Value::Nil, Value::Int(1), Value::Array(vec![])];
        // Each element replaced by something the script never returns.
        let bad: [(usize, Value); 8] = [
            (0, Value::Int(2)),
            (0, bulk("1")),
            (1, bulk("-3")),
            (1, bulk("18446744073709551616")),
            (1, bulk("")),
            (2, bulk("x")),
            (3, Value::Int(7)),
            (4, Value::Nil),
        ];
        for (index, value) in bad {
            let mut reply = valid();
            reply[index] = value;
            cases.push(Value::Array(reply));
        }
        let mut short = valid();
        short.pop();
        cases.push(Value::Array(short));
        let mut long = valid();
        long.push(Value::Nil);
        cases.push(Value::Array(long));
        for case in cases {
            assert!(AcquireReply::parse(&case).is_err(), "{case:?}");
        }
    }

    #[test]
    fn counters_cover_all_of_u64() {
        let v = Value::Array(vec![Value::Int(1), bulk("18446744073709551615")]);
        assert_eq!(ExtendReply::parse(&v).map(|r| r.fence), Ok(u64::MAX));
    }

    #[test]
    fn status_reply() {
        let v = Value::Array(vec![bulk("abc"), Value::Int(1500), bulk("9")]);
        assert_eq!(
            StatusReply::parse(&v),
            Ok(StatusReply {
                owner: Some("abc".into()),
                pttl_ms: Some(1500),
                fence: 9
            })
        );
    }
}
