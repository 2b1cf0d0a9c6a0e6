//! Read one resource's state on one node (`status.lua`), atomically.
//!
//! For operators and the `redlease status` command: who holds the lock there, for how
//! long still, and the node's fencing counter. Which owner holds it *overall* (on a
//! quorum) is decided from all nodes' answers in [`crate::protocol::quorum_holder`].

use std::sync::Arc;

use redis::Value;

use super::parse::{ReplyError, array, counter, int, text};
use super::{Compiled, Invocation, Op, Target};

pub(crate) const LUA: &str = include_str!("status.lua");
static SCRIPT: Compiled = Compiled::new(LUA);

/// Read the state of `target`'s resource (the owner is not used).
pub(crate) struct Status {
    pub target: Arc<Target>,
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
    /// The holder's description of itself, if it gave one (see
    /// [`crate::Lease::describe`]).
    pub holder_info: Option<String>,
}

impl Op for Status {
    type Reply = StatusReply;

    fn invocation(&self) -> Invocation {
        let keys = &self.target.keys;
        let mut call = SCRIPT.call(3);
        call.key(keys.lock()).key(keys.fence()).key(keys.holder());
        call
    }

    fn parse(value: &Value) -> Result<StatusReply, ReplyError> {
        parse(value)
    }
}

/// Parse the reply of `status.lua`: `{ owner, pttl, fence, holder }`.
///
/// ```
/// use redis::Value;
/// let reply = Value::Array(vec![
///     Value::BulkString(b"".to_vec()),
///     Value::Int(-2),
///     Value::BulkString(b"0".to_vec()),
///     Value::BulkString(b"".to_vec()),
/// ]);
/// let parsed = redlease::ops::status::parse(&reply).unwrap();
/// assert_eq!(parsed.owner, None);
/// assert_eq!(parsed.pttl_ms, None);
/// ```
pub fn parse(value: &Value) -> Result<StatusReply, ReplyError> {
    const NAME: &str = "status";
    let [owner, pttl, fence, holder] = array::<4>(NAME, value)?;
    let owner = text(NAME, owner)?;
    let holder = text(NAME, holder)?;
    Ok(StatusReply {
        owner: (!owner.is_empty()).then_some(owner),
        pttl_ms: u64::try_from(int(NAME, pttl)?).ok(),
        fence: counter(NAME, fence)?,
        holder_info: (!holder.is_empty()).then_some(holder),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn held() {
        let bulk = |s: &str| Value::BulkString(s.as_bytes().to_vec());
        let v = Value::Array(vec![
            bulk("abc"),
            Value::Int(1500),
            bulk("9"),
            bulk("host a"),
        ]);
        assert_eq!(
            parse(&v),
            Ok(StatusReply {
                owner: Some("abc".into()),
                pttl_ms: Some(1500),
                fence: 9,
                holder_info: Some("host a".into()),
            })
        );
    }
}
