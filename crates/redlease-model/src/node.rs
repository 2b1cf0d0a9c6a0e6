//! What a node does with each request: the Lua scripts' rules, on the model's state.
//!
//! The scripts cannot run here (no Redis, no Lua), so their effect on the one resource the
//! model uses is written out again, line by line after `src/ops/*.lua` of the library:
//! the acquire rule (set if free or ours, report the fence counter, the holder's PTTL and
//! the marker age), the fence max-register written only where the owner holds the lock,
//! compare-and-pexpire (extend) and compare-and-delete, and the wait queue: a refused
//! caller that waits is placed by how long it has waited, a lease's release leaves the
//! queue and reserves the lock (`handoff:<waiter>`) for the longest live waiter, and only
//! that waiter's attempts may take the reservation. Replies are built as the
//! `redis::Value` the script returns, so the client side parses them with the library's
//! own parsers.

use redlease::protocol::queue::Role;
use redlease::redis::Value;

use crate::setup::Setup;
use crate::state::{Entry, Lock, Node, Owner, Waiter};

fn ms(ticks: u8) -> i64 {
    i64::try_from(crate::setup::ticks(ticks).as_millis()).unwrap_or(i64::MAX)
}

/// `acquire.lua` for `owner` with the setup's TTL, on a node whose clock reads `now`
/// (token units; 0 without [`Setup::node_clocks`]). Returns the script's reply
/// `{ granted, fence, pttl, handoff, age, now }`. An unfenced acquisition (`ARGV[5]` "",
/// `fencing` false) neither reads nor returns the counter ("0" in its place), and
/// reports the clock only where the script read it for something else (the marker, or
/// the queue of a refused waiter).
pub fn acquire(
    setup: &Setup,
    node: &mut Node,
    owner: Owner,
    now: u64,
    role: Role,
    waited: u8,
    fencing: bool,
) -> Value {
    let age = if setup.delayed_restart {
        // Written at first contact: age 0 now.
        ms(*node.marker.get_or_insert(0))
    } else {
        -1
    };
    let counter = if fencing { node.fence } else { 0 };
    let fence = Value::BulkString(counter.to_string().into_bytes());
    let reply = |granted: i64, fence: Value, pttl: i64, handoff: bool| {
        let clock_read = fencing || setup.delayed_restart || (granted == 0 && role == Role::Wait);
        let now = if clock_read { now } else { 0 };
        Value::Array(vec![
            Value::Int(granted),
            fence,
            Value::Int(pttl),
            Value::Int(i64::from(handoff)),
            Value::Int(age),
            Value::BulkString(now.to_string().into_bytes()),
        ])
    };
    let waiter = owner.waiter();
    match (node.lock, node.handoff) {
        // Free, or reserved for this call's waiter id (the reservation is taken), or
        // already ours (the same request again): set with a fresh TTL.
        (None, None) => {}
        (None, Some(reserved)) if reserved == waiter => node.handoff = None,
        (Some(lock), _) if lock.owner == owner => {}
        (lock, reserved) => {
            if role == Role::Wait {
                // ZADD NX: a queued waiter keeps its place; HSET seen: now.
                let place = waited.min(setup.place_cap);
                match node.queue.iter_mut().find(|e| e.waiter == waiter) {
                    Some(entry) => entry.seen = 0,
                    None => node.queue.push(Entry {
                        since: place,
                        seen: 0,
                        waiter,
                    }),
                }
                node.queue.sort_unstable();
            }
            let pttl = match lock {
                Some(lock) => ms(lock.left),
                None => i64::try_from(setup.handoff.as_millis()).unwrap_or(i64::MAX),
            };
            return reply(0, fence, pttl, reserved.is_some());
        }
    }
    node.lock = Some(Lock {
        owner,
        left: setup.ttl,
    });
    reply(1, fence, -1, false)
}

/// `fence.lua`: raise the counter to `token` if `owner` holds the lock. Returns 1 or 0.
pub fn fence(node: &mut Node, owner: Owner, token: u64) -> Value {
    if node.lock.is_none_or(|lock| lock.owner != owner) {
        return Value::Int(0);
    }
    node.fence = node.fence.max(token);
    Value::Int(1)
}

/// `fence_read.lua` on a node whose clock reads `now` (token units, as in [`acquire`]; 0
/// without [`Setup::node_clocks`]): `{ counter, now }`, both decimal strings, the counter
/// "0" if none. Read-only.
pub fn fence_read(node: &Node, now: u64) -> Value {
    Value::Array(vec![
        Value::BulkString(node.fence.to_string().into_bytes()),
        Value::BulkString(now.to_string().into_bytes()),
    ])
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

/// The waiters a release by `owner` could reserve the lock for: `release.lua`'s walk
/// from the queue's head, past entries whose waiter counts as gone, to the first live
/// one; several if the first places tie. Empty when the release would not hand off
/// (a clean-up, hand-off off, the key not ours, nobody else queued, nobody live).
pub fn heads(setup: &Setup, node: &Node, owner: Owner, handoff: bool, stay: bool) -> Vec<Waiter> {
    let waiter = owner.waiter();
    let others = node.queue.iter().any(|e| e.waiter != waiter);
    if !handoff || !others || node.lock.is_none_or(|lock| lock.owner != owner) {
        return Vec::new();
    }
    let live = node
        .queue
        .iter()
        .filter(|e| (stay || e.waiter != waiter) && setup.live(e.seen));
    let Some(first) = live.clone().map(|e| e.since).max() else {
        return Vec::new();
    };
    live.filter(|e| e.since == first)
        .map(|e| e.waiter)
        .collect()
}

/// `release.lua` for `owner`: leave the queue (unless `stay`), then, if the key holds
/// `owner`, delete it, or with `handoff` and someone else queued turn it into a
/// reservation for the longest live waiter (`heads()[pick]`), dropping the gone entries
/// the walk passes. Returns the waiter it reserved the lock for.
pub fn release(
    setup: &Setup,
    node: &mut Node,
    owner: Owner,
    handoff: bool,
    stay: bool,
    pick: usize,
) -> Option<Waiter> {
    let heads = heads(setup, node, owner, handoff, stay);
    let others = node.queue.iter().any(|e| e.waiter != owner.waiter());
    if !stay {
        node.queue.retain(|e| e.waiter != owner.waiter());
    }
    if node.lock.is_none_or(|lock| lock.owner != owner) {
        return None;
    }
    node.lock = None;
    let head = heads.get(pick).or(heads.first()).copied();
    if handoff && others {
        // The walk drops the gone entries ahead of the head (ties: taken first); with
        // nobody live it drops them all (the model's queues are far below its 8 steps).
        let first = head
            .and_then(|w| node.queue.iter().find(|e| e.waiter == w))
            .map_or(0, |e| e.since);
        node.queue.retain(|e| setup.live(e.seen) || e.since < first);
    }
    node.handoff = head;
    head
}

/// One tick passes on the node: the key's TTL runs down (the key is deleted when it
/// reaches zero), a reservation's window ends, queue entries and the marker age.
pub fn tick(setup: &Setup, node: &mut Node) {
    // The hand-off window is under a tick.
    node.handoff = None;
    for entry in &mut node.queue {
        entry.since = (entry.since + 1).min(setup.place_cap);
        entry.seen = (entry.seen + 1).min(setup.seen_cap());
    }
    node.queue.sort_unstable();
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
