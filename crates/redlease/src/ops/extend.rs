//! Extend our lease on one node (`extend.lua`): compare-and-pexpire.
//!
//! A missing key is never re-created: a lease that expired may already have been granted
//! to someone else on other nodes, and silently re-acquiring would hide the loss. What a
//! round of extends means for the lease is decided in [`crate::protocol::extend`].

use std::sync::Arc;
use std::time::Duration;

use redis::Value;

use super::parse::{ReplyError, array, counter, flag};
use super::{Compiled, Invocation, Op, Target, millis};
use crate::protocol::ExtendReply;

pub(crate) const LUA: &str = include_str!("extend.lua");
static SCRIPT: Compiled = Compiled::new(LUA);

/// Set the lock's TTL to `ttl` where it still holds our owner.
pub(crate) struct Extend {
    pub target: Arc<Target>,
    pub ttl: Duration,
}

impl Op for Extend {
    type Reply = ExtendReply;

    fn invocation(&self) -> Invocation {
        let keys = &self.target.keys;
        let mut call = SCRIPT.call(3);
        call.key(keys.lock())
            .key(keys.fence())
            .key(keys.holder())
            .arg(&self.target.owner)
            .arg(millis(self.ttl));
        call
    }

    fn parse(value: &Value) -> Result<ExtendReply, ReplyError> {
        parse(value)
    }

    fn replicated_key<'a>(&'a self, reply: &ExtendReply) -> Option<&'a str> {
        reply.extended.then_some(self.target.keys.lock())
    }
}

/// Parse the reply of `extend.lua`: `{ extended, fence }`.
///
/// ```
/// use redis::Value;
/// use redlease::protocol::ExtendReply;
/// let reply = Value::Array(vec![Value::Int(1), Value::BulkString(b"3".to_vec())]);
/// assert_eq!(
///     redlease::ops::extend::parse(&reply).unwrap(),
///     ExtendReply { extended: true, fence: 3 }
/// );
/// ```
pub fn parse(value: &Value) -> Result<ExtendReply, ReplyError> {
    const NAME: &str = "extend";
    let [extended, fence] = array::<2>(NAME, value)?;
    Ok(ExtendReply {
        extended: flag(NAME, extended)?,
        fence: counter(NAME, fence)?,
    })
}
