//! What a node does with each request: the Lua scripts' rules, on the model's state.
//!
//! The scripts cannot run here (no Redis, no Lua), so their effect on the one resource the
//! model uses is written out again, line by line after `src/ops/*.lua` of the library:
//! the acquire rule (set if free or ours, report the fence counter, the holder's PTTL and
//! the marker age), the fence max-register written only where the owner holds the lock,
//! compare-and-pexpire (extend) and compare-and-delete. Replies are built as the `redis::Value` the script returns, so
//! the client side parses them with the library's own parsers. Queues and hand-off
//! reservations (fairness, not safety) are left out.

use redlease::redis::Value;

use crate::setup::Setup;
use crate::state::{Lock, Node, Owner};

fn ms(ticks: u8) -> i64 {
    i64::try_from(crate::setup::ticks(ticks).as_millis()).unwrap_or(i64::MAX)
}

/// `acquire.lua` for `owner` with the setup's TTL, on a node whose clock reads `now`
/// (token units; 0 without [`Setup::node_clocks`]). Returns the script's reply
/// `{ granted, fence, pttl, handoff, age, now }`.
pub fn acquire(setup: &Setup, node: &mut Node, owner: Owner, now: u64) -> Value {
    let age = if setup.delayed_restart {
        // Written at first contact: age 0 now.
        ms(*node.marker.get_or_insert(0))
    } else {
        -1
    };
    let fence = Value::BulkString(node.fence.to_string().into_bytes());
    let reply = |granted: i64, fence: Value, pttl: i64| {
        Value::Array(vec![
            Value::Int(granted),
            fence,
            Value::Int(pttl),
            Value::Int(0),
            Value::Int(age),
            Value::BulkString(now.to_string().into_bytes()),
        ])
    };
    match node.lock {
        // Free, or already ours (the same request again): set with a fresh TTL.
        None => {}
        Some(lock) if lock.owner == owner => {}
        Some(lock) => return reply(0, fence, ms(lock.left)),
    }
    node.lock = Some(Lock {
        owner,
        left: setup.ttl,
    });
    reply(1, fence, -1)
}

/// `fence.lua`: raise the counter to `token` if `owner` holds the lock. Returns 1 or 0.
pub fn fence(node: &mut Node, owner: Owner, token: u64) -> Value {
    if node.lock.is_none_or(|lock| lock.owner != owner) {
        return Value::Int(0);
    }
    node.fence = node.fence.max(token);
    Value::Int(1)
}

/// `extend.lua` for `owner` to `ttl` ticks: compare-and-pexpire (a missing key is never
/// re-created; a shorter TTL shortens the key). Returns `{ extended, fence }`.
pub fn extend(node: &mut Node, owner: Owner, ttl: u8) -> Value {
    let fence = Value::BulkString(node.fence.to_string().into_bytes());
    match node.lock.as_mut() {
        Some(lock) if lock.owner == owner && ttl > 0 => {
            lock.left = ttl;
            Value::Array(vec![Value::Int(1), fence])
        }
        _ => Value::Array(vec![Value::Int(0), fence]),
    }
}

/// `release.lua`: delete the lock key if `owner` holds it.
pub fn release(node: &mut Node, owner: Owner) {
    if node.lock.is_some_and(|lock| lock.owner == owner) {
        node.lock = None;
    }
}

/// One tick passes on the node: the key's TTL runs down (the key is deleted when it
/// reaches zero) and the marker ages.
pub fn tick(setup: &Setup, node: &mut Node) {
    node.lock = node
        .lock
        .map(|lock| Lock {
            left: lock.left - 1,
            ..lock
        })
        .filter(|lock| lock.left > 0);
    if let Some(age) = node.marker.as_mut() {
        *age = (*age + 1).min(setup.age_cap());
    }
    if let Some(down) = node.down.as_mut() {
        *down = (*down + 1).min(setup.min_down);
    }
}
