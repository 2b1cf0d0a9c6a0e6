//! Record a newly minted fencing token on one node (`fence.lua`).
//!
//! The second round of a fenced acquisition on several nodes: raise the node's counter
//! to the token, only where the lock is still ours. The token counts once a quorum
//! confirmed it (see `docs/protocol.md`, "Fencing tokens over a quorum").

use std::sync::Arc;
use std::time::Duration;

use redis::Value;

use super::parse::{ReplyError, flag};
use super::{Compiled, Invocation, Op, Target, millis};

pub(crate) const LUA: &str = include_str!("fence.lua");
static SCRIPT: Compiled = Compiled::new(LUA);

/// Raise the counter to `token` where `target` holds the lock.
pub(crate) struct Fence {
    pub target: Arc<Target>,
    pub token: u64,
    /// How long the node keeps the counter after this write.
    pub counter_ttl: Duration,
}

impl Op for Fence {
    /// The node holds our lock (its counter is now at least the token).
    type Reply = bool;

    fn invocation(&self) -> Invocation {
        let keys = &self.target.keys;
        let mut call = SCRIPT.call(2);
        call.key(keys.lock())
            .key(keys.fence())
            .arg(&self.target.owner)
            .arg(self.token)
            .arg(millis(self.counter_ttl));
        call
    }

    fn parse(value: &Value) -> Result<bool, ReplyError> {
        parse(value)
    }

    fn replicated_key<'a>(&'a self, reply: &bool) -> Option<&'a str> {
        reply.then_some(self.target.keys.fence())
    }
}

/// Parse the 0/1 reply of `fence.lua`.
///
/// ```
/// use redis::Value;
/// assert_eq!(redlease::ops::fence::parse(&Value::Int(1)), Ok(true));
/// assert!(redlease::ops::fence::parse(&Value::Int(7)).is_err());
/// ```
pub fn parse(value: &Value) -> Result<bool, ReplyError> {
    flag("fence", value)
}
