//! Record who holds a lease on one node (`describe.lua`): for `redlease list` and status.
//!
//! Operators ask "who holds this, and since when" (`lslocks`, `consul kv`). The holder
//! describes itself once after acquiring; the description lives beside the lock with the
//! lease's TTL, extend and release keep it in step, and status reads it only while it
//! belongs to the current owner. Nothing on the lock's hot path reads it.

use std::sync::Arc;

use redis::Value;

use super::parse::{ReplyError, flag};
use super::{Compiled, Invocation, Op, Target};

pub(crate) const LUA: &str = include_str!("describe.lua");
static SCRIPT: Compiled = Compiled::new(LUA);

/// Store `info` as the description of `target`'s lease where it holds the lock.
pub(crate) struct Describe {
    pub target: Arc<Target>,
    pub info: String,
}

impl Op for Describe {
    /// The lock holds our owner on this node, and the description is stored.
    type Reply = bool;

    fn invocation(&self) -> Invocation {
        let keys = &self.target.keys;
        let mut call = SCRIPT.call(2);
        call.key(keys.lock())
            .key(keys.holder())
            .arg(&self.target.owner)
            .arg(&self.info);
        call
    }

    fn parse(value: &Value) -> Result<bool, ReplyError> {
        flag("describe", value)
    }
}
