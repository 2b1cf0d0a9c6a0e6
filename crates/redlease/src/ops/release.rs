//! Release our lease on one node (`release.lua`): compare-and-delete, then wake waiters.
//!
//! Release is idempotent (releasing twice, or a lease that expired, is not an error) and
//! goes to every node, including those that seemed to fail: a timed-out request may still
//! have granted. With waiters queued, the lock becomes a short hand-off reservation for
//! the longest waiter instead of being freed for whoever asks first.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use redis::Value;

use super::parse::{ReplyError, flag, int};
use super::{Compiled, Invocation, MarkerKey, NodeFacts, Op, Target, millis};
use crate::config::NodeKind;

/// `release.lua`, after the mint it shares with `acquire.lua`.
pub(crate) const LUA: &str = concat!(include_str!("mint.lua"), include_str!("release.lua"));
static SCRIPT: Compiled = Compiled::new(LUA);
pub(crate) const QUICK_LUA: &str = include_str!("release_quick.lua");
static QUICK: Compiled = Compiled::new(QUICK_LUA);

/// Delete the lock where it holds our owner.
pub(crate) struct Release {
    pub target: Arc<Target>,
    /// Hand-off window; zero frees the lock for everyone (a failed attempt's clean-up:
    /// handing off partial grants could re-create the same split vote).
    pub handoff: Duration,
    /// A queued waiter that has not tried again for this long counts as gone.
    pub waiter_gone_after: Duration,
    /// How long the node keeps the wait queue after a waiter kept its place there.
    pub queue_ttl: Duration,
    /// Publish every release, not only when someone else is queued: with hand-off off,
    /// waiters subscribe without joining the queue.
    pub publish_always: bool,
    /// Keep the owner's place in the wait queue: the clean-up of a failed attempt by a
    /// caller that goes on waiting.
    pub stay_queued: bool,
    /// The owner may have described itself (`describe`): its description goes too. Off
    /// for the leases and attempts that never did, which saves the node a read.
    pub described: bool,
    /// Try `release_quick.lua` first (nobody is expected to be queued): where someone is,
    /// `release.lua` follows on that node.
    pub quick: bool,
    /// Some node had waiters queued (the quick release left it to `release.lua`).
    pub saw_queue: AtomicBool,
    /// The node's delayed-restart marker, when delayed restart is on: a hand-off grant
    /// reports its age.
    pub marker: Option<MarkerKey>,
    /// How long a node keeps the fencing counter after a hand-off grant minted a token.
    pub counter_ttl: Duration,
    /// How long a registration is good for a hand-off grant
    /// ([`crate::protocol::handoff::registration_fresh_for`]).
    pub registration_fresh: Duration,
}

impl Op for Release {
    /// The key held our owner and was released.
    type Reply = bool;

    fn invocation(&self) -> Invocation {
        self.invocation_for(NodeKind::Standalone)
    }

    fn invocation_for(&self, kind: NodeKind) -> Invocation {
        let keys = &self.target.keys;
        let mut call = SCRIPT.call(5 + usize::from(self.marker.is_some()));
        call.key(keys.lock())
            .key(keys.queue())
            .key(keys.seen())
            .key(keys.fence())
            .key(keys.holder());
        if let Some(marker) = &self.marker {
            // As in the acquire: a shard's marker lives in the resource's slot.
            let key = match kind {
                NodeKind::Cluster => keys.born(),
                _ => marker.key(&self.target),
            };
            call.key(key);
        }
        call.arg(&self.target.owner)
            .arg(keys.channel())
            .arg(millis(self.handoff))
            .arg(millis(self.waiter_gone_after))
            .arg(self.target.waiter.as_ref())
            // On a cluster, classic PUBLISH reaches every shard's subscribers (and costs
            // every shard's CPU); sharded pub/sub stays on the resource's shard.
            .arg(match kind {
                NodeKind::Cluster => "SPUBLISH",
                _ => "PUBLISH",
            })
            .arg(if self.publish_always {
                "always"
            } else {
                "queued"
            })
            .arg(if self.stay_queued { "stay" } else { "leave" })
            .arg(millis(self.queue_ttl))
            .arg(if self.described { "described" } else { "" })
            .arg(millis(self.counter_ttl))
            .arg(millis(self.registration_fresh));
        call
    }

    fn parse(value: &Value) -> Result<bool, ReplyError> {
        parse(value)
    }

    fn quick(&self, _kind: NodeKind, _facts: NodeFacts) -> Option<Invocation> {
        // Only a plain release has a quick form: a description to delete, waiters who
        // subscribe without queueing (hand-off off), or a place in the queue to keep all
        // need release.lua.
        if !self.quick || self.described || self.publish_always || self.stay_queued {
            return None;
        }
        let mut call = QUICK.call(2);
        call.key(self.target.keys.lock())
            .key(self.target.keys.queue())
            .arg(&self.target.owner);
        Some(call)
    }

    fn quick_reply(&self, answer: &Value, _facts: NodeFacts) -> Result<Option<bool>, ReplyError> {
        match int("release", answer)? {
            -1 => {
                self.saw_queue.store(true, Ordering::Relaxed);
                Ok(None)
            }
            _ => parse(answer).map(Some),
        }
    }
}

/// Parse the 0/1 reply of `release.lua`.
///
/// ```
/// use redis::Value;
/// assert_eq!(redlease::ops::release::parse(&Value::Int(0)), Ok(false));
/// assert!(redlease::ops::release::parse(&Value::Nil).is_err());
/// ```
pub fn parse(value: &Value) -> Result<bool, ReplyError> {
    flag("release", value)
}

#[cfg(test)]
#[path = "release_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "handoff_tests.rs"]
mod handoff_tests;
