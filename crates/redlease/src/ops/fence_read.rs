//! Read one node's fencing counter and clock (`fence_read.lua`): the first round of a
//! token minted on demand.
//!
//! A lease on several nodes gets its token when its holder first asks for it
//! (`LeaseHandle::fencing_token`), not during the acquisition: callers that never ask pay
//! nothing. The token must be above the counter of every node that answers (not only the
//! first quorum: see `docs/protocol.md`, "Fencing tokens over a quorum"), and above the
//! latest node clock, so this round reads both from every node; the second round is
//! [`super::fence`]'s, which records the token where the lock is still ours.

use std::sync::Arc;

use redis::Value;

use super::parse::{array, counter};
use super::{Compiled, Invocation, Op, Target};

pub(crate) const LUA: &str = include_str!("fence_read.lua");
static SCRIPT: Compiled = Compiled::new(LUA);

/// Read the counter of `target`'s resource and the node's clock.
pub(crate) struct FenceRead {
    pub target: Arc<Target>,
}

/// One node's answer to the read (`fence_read.lua`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FenceReading {
    /// The node's fencing counter for the resource (0 if none).
    pub counter: u64,
    /// The node's clock, µs since the epoch: the token's floor.
    pub now_us: u64,
}

impl Op for FenceRead {
    type Reply = FenceReading;

    fn invocation(&self) -> Invocation {
        let mut call = SCRIPT.call(1);
        call.key(self.target.keys.fence());
        call
    }

    fn parse(value: &Value) -> Result<FenceReading, super::ReplyError> {
        parse(value)
    }
}

/// Parse the `{ counter, now }` reply of `fence_read.lua`.
///
/// ```
/// use redis::Value;
/// use redlease::ops::fence_read::{FenceReading, parse};
/// let reply = Value::Array(vec![
///     Value::BulkString(b"41".to_vec()),
///     Value::BulkString(b"1700000000123456".to_vec()),
/// ]);
/// assert_eq!(parse(&reply), Ok(FenceReading { counter: 41, now_us: 1_700_000_000_123_456 }));
/// assert!(parse(&Value::Int(1)).is_err());
/// ```
pub fn parse(value: &Value) -> Result<FenceReading, super::ReplyError> {
    let [fence, now] = array::<2>("fence read", value)?;
    Ok(FenceReading {
        counter: counter("fence read", fence)?,
        now_us: counter("fence read", now)?,
    })
}
