//! Extend many leases on one node in one call (`extend_many.lua`), for renewal.
//!
//! One `extend.lua` per lease and node is a script call, a reply and a wake-up each: with
//! 100,000 kept-alive leases on three nodes that is ~90,000 calls a second, more than a
//! small machine's Redis and client can do besides their real work. Renewal instead
//! gathers the extends that are due at about the same moment and sends each node one
//! call for all of them. Each lease keeps its own verdict (the script answers lease by
//! lease, with exactly `extend.lua`'s rule), so a batch decides nothing a single extend
//! would not.
//!
//! The keys of different resources live in different hash slots, so a batch is only sent
//! to standalone and Sentinel nodes; on a Redis Cluster, and with `min_replicas` (whose
//! `WAIT` confirms one write), renewal extends lease by lease.

use std::sync::Arc;
use std::time::Duration;

use redis::Value;

use super::parse::{ReplyError, flag};
use super::{Compiled, Invocation, Op, Target, millis};

pub(crate) const LUA: &str = include_str!("extend_many.lua");
static SCRIPT: Compiled = Compiled::new(LUA);

/// Leases to extend on one node, each by its own ttl.
pub(crate) struct ExtendMany {
    pub leases: Vec<(Arc<Target>, Duration)>,
}

impl Op for ExtendMany {
    /// Per lease, in order: whether it was extended.
    type Reply = Vec<bool>;

    fn invocation(&self) -> Invocation {
        let mut call = SCRIPT.call(2 * self.leases.len());
        for (target, _) in &self.leases {
            call.key(target.keys.lock()).key(target.keys.holder());
        }
        for (target, ttl) in &self.leases {
            call.arg(&target.owner).arg(millis(*ttl));
        }
        call
    }

    fn parse(value: &Value) -> Result<Vec<bool>, ReplyError> {
        parse(value)
    }
}

/// Parse the reply of `extend_many.lua`: one 0/1 per lease.
///
/// ```
/// use redis::Value;
/// let reply = Value::Array(vec![Value::Int(1), Value::Int(0)]);
/// assert_eq!(redlease::ops::extend_many::parse(&reply), Ok(vec![true, false]));
/// assert!(redlease::ops::extend_many::parse(&Value::Int(1)).is_err());
/// ```
pub fn parse(value: &Value) -> Result<Vec<bool>, ReplyError> {
    const NAME: &str = "extend_many";
    match value {
        Value::Array(items) => items.iter().map(|v| flag(NAME, v)).collect(),
        other => Err(ReplyError::new(
            NAME,
            format!(
                "expected an array of 0/1, got {}",
                super::parse::describe(other)
            ),
        )),
    }
}

/// One lease's extend waiting for the next batch to its node.
pub(crate) struct Pending {
    pub target: Arc<Target>,
    pub ttl: Duration,
    pub reply: tokio::sync::oneshot::Sender<Result<bool, crate::error::NodeError>>,
}

/// The extends gathered for one node until its next batch leaves.
#[derive(Default)]
pub(crate) struct Queue {
    pending: std::sync::Mutex<Vec<Pending>>,
}

impl Queue {
    /// Add an extend; true if it is the first since the last batch left (its caller then
    /// sends the next batch).
    pub(crate) fn push(&self, pending: Pending) -> bool {
        match self.pending.lock() {
            Ok(mut queue) => {
                queue.push(pending);
                queue.len() == 1
            }
            // A poisoned queue cannot happen (nothing panics while holding it); if it
            // did, the extend fails as a node error instead of hanging: its sender drops.
            Err(_) => false,
        }
    }

    /// Everything gathered so far.
    pub(crate) fn take(&self) -> Vec<Pending> {
        self.pending
            .lock()
            .map(|mut queue| std::mem::take(&mut *queue))
            .unwrap_or_default()
    }
}
