//! What a node does with each request: the Lua scripts' rules, on the model's state.
//!
//! The scripts cannot run here (no Redis, no Lua), so their effect on the one resource the
//! model uses is written out again, line by line after `src/ops/*.lua` of the library:
//! the acquire rule (set if free or ours, report the fence counter, the holder's PTTL and
//! the marker age), the fence max-register written only where the owner holds the lock,
//! compare-and-pexpire (extend) and compare-and-delete, and the wait queue: a refused
//! caller that waits is placed by how long it has waited (and registers the owner of its
//! next attempt, `ARGV[10]`), a lease's release leaves the queue and hands the lock to
//! the longest live waiter: set to its registered owner, the grant published
//! ([`payload`]), or else reserved (`handoff:<waiter>`) for that waiter's attempts. The
//! next attempt has the registered owner, so a key granted to it is simply its own; the
//! call's end (a lease's release or a give-up's leave, not a failed attempt's clean-up)
//! also frees a key that holds the owner its entry registered. Replies are built as the
//! `redis::Value` the script returns, so the client side parses them with the library's
//! own parsers.

use redlease::protocol::queue::Role;
use redlease::redis::Value;

use crate::setup::Setup;
use crate::state::{Entry, Lock, Node, Owner, Published, Registration, Waiter};

fn ms(ticks: u8) -> i64 {
    i64::try_from(crate::setup::ticks(ticks).as_millis()).unwrap_or(i64::MAX)
}

/// What an acquire request asks of the script besides its owner: `ARGV[3]`, `ARGV[4]`,
/// `ARGV[5]` and `ARGV[10]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Asked {
    /// Whether a refusal queues the caller (`ARGV[3]`).
    pub role: Role,
    /// Ticks the call has waited (`ARGV[4]`).
    pub waited: u8,
    /// The counter is read and returned (`ARGV[5]` not "").
    pub fencing: bool,
    /// The one node mints the token with the grant (`ARGV[5]` "mint").
    pub mint: bool,
    /// The owner a refusal registers for a grant by hand-off (`ARGV[10]`), if any.
    pub next: Option<Owner>,
}

/// The mint both scripts share (`mint.lua`): one above the counter, floored by the
/// node's clock, written back. Returns the token.
fn mint(node: &mut Node, now: u64) -> u64 {
    node.fence = (node.fence + 1).max(now);
    node.fence
}

/// `acquire.lua` for `owner` with the setup's TTL, on a node whose clock reads `now`
/// (token units; 0 without [`Setup::node_clocks`]). Returns the script's reply
/// `{ granted, fence, pttl, handoff, age, now }` (a grant's short forms carry the same
/// values for the parser). An unfenced acquisition (`ARGV[5]` "", `fencing` false)
/// neither reads nor returns the counter ("0" in its place), and reports the clock only
/// where the script read it for something else (the marker, or the queue of a refused
/// waiter). With "mint" the fence returned on a grant is the token minted.
pub fn acquire(setup: &Setup, node: &mut Node, owner: Owner, now: u64, asked: Asked) -> Value {
    let Asked {
        role,
        waited,
        fencing,
        mint: mints,
        next,
    } = asked;
    let age = if setup.delayed_restart {
        // Written at first contact: age 0 now.
        ms(*node.marker.get_or_insert(0))
    } else {
        -1
    };
    let mut fence = if fencing { node.fence } else { 0 };
    let reply = |granted: i64, fence: u64, pttl: i64, handoff: bool| {
        let clock_read = fencing || setup.delayed_restart || (granted == 0 && role == Role::Wait);
        let now = if clock_read { now } else { 0 };
        Value::Array(vec![
            Value::Int(granted),
            Value::BulkString(fence.to_string().into_bytes()),
            Value::Int(pttl),
            Value::Int(i64::from(handoff)),
            Value::Int(age),
            Value::BulkString(now.to_string().into_bytes()),
        ])
    };
    let waiter = owner.waiter();
    let entry = node.queue.iter().position(|e| e.waiter == waiter);
    // The first version only ([`Setup::grant_registers_refused_owner`]): a release gave
    // the lock to an earlier attempt of this call (the owner its entry registered, that
    // attempt's own) and the call has moved on to this one, which takes it over. The
    // library's rule needs no take-over: the owner registered is this attempt's.
    let taken_over = setup.grant_registers_refused_owner
        && next.is_some()
        && node.lock.is_some_and(|lock| {
            lock.owner != owner
                && entry
                    .and_then(|e| node.queue[e].registered)
                    .is_some_and(|r| r.owner == lock.owner)
        });
    match (node.lock, node.handoff) {
        // Free, or reserved for this call's waiter id (the reservation is taken), or
        // already ours (the same request again, or a key a release granted to the owner
        // a refusal of the previous attempt registered): set with a fresh TTL.
        (None, None) => {}
        (None, Some(reserved)) if reserved == waiter => node.handoff = None,
        _ if taken_over => {}
        (Some(lock), _) if lock.owner == owner => {}
        (lock, reserved) => {
            if role == Role::Wait {
                // ZADD NX: a queued waiter keeps its place; HSET seen: now, and with
                // `ARGV[10]` the registration (without, none).
                let registered = next.map(|next| Registration {
                    owner: next,
                    ttl: setup.ttl,
                    mint: mints,
                });
                match entry {
                    Some(e) => {
                        node.queue[e].seen = 0;
                        node.queue[e].registered = registered;
                    }
                    None => node.queue.push(Entry {
                        since: waited.min(setup.place_cap),
                        seen: 0,
                        waiter,
                        registered,
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
        granted: false,
    });
    if mints {
        fence = mint(node, now);
    }
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

/// The owner `waiter`'s entry registered on `node`, if any (`release.lua`'s `HGET` of
/// the releaser's `seen` entry).
fn registered(node: &Node, waiter: Waiter) -> Option<Owner> {
    let entry = node.queue.iter().find(|e| e.waiter == waiter)?;
    entry.registered.map(|r| r.owner)
}

/// Whether a release by `owner` frees the key (`release.lua`'s `mine`): it holds
/// `owner`; or the call is over (not `stay`: a lease's release, a give-up's leave) and it
/// holds the owner the caller's entry registered, which a release granted and whose
/// attempt will not come. A failed attempt's clean-up (`stay`) never frees the latter:
/// the call still counts its grants.
///
/// [`Setup::grant_leave_keeps_registered`] (broken on purpose) leaves the registered key
/// to a give-up's leave (no hand-off, no stay); [`Setup::grant_registers_refused_owner`]
/// (the first version) frees it on every release, the clean-up included.
fn frees(setup: &Setup, node: &Node, owner: Owner, handoff: bool, stay: bool) -> bool {
    let Some(lock) = node.lock else {
        return false;
    };
    if lock.owner == owner {
        return true;
    }
    let give_up = !handoff && !stay;
    let over = !stay || setup.grant_registers_refused_owner;
    over && !(give_up && setup.grant_leave_keeps_registered)
        && registered(node, owner.waiter()) == Some(lock.owner)
}

/// The waiters a release by `owner` could hand the lock to: `release.lua`'s walk from
/// the queue's head, past entries whose waiter counts as gone, to the first live one;
/// several if the first places tie. Empty when the release would not hand off (a
/// clean-up, hand-off off, the key not freed by this release, nobody else queued,
/// nobody live).
pub fn heads(setup: &Setup, node: &Node, owner: Owner, handoff: bool, stay: bool) -> Vec<Waiter> {
    let waiter = owner.waiter();
    let others = node.queue.iter().any(|e| e.waiter != waiter);
    if !handoff || !others || !frees(setup, node, owner, handoff, stay) {
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

/// `release.lua`'s message for a grant by hand-off: `"<waiter> <owner> <token> <marker
/// age>"`, the age -1 without delayed restart.
pub fn payload(published: &Published) -> String {
    let owner = published.owner;
    format!(
        "{} {} {} {}",
        owner.waiter().name(),
        owner.name(),
        published.token,
        published.marker_ms
    )
}

/// What a release did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Released {
    /// The waiter it handed the lock to (reserved, or granted), if any.
    pub head: Option<Waiter>,
    /// The grant it published, if it set the lock to the head's registered owner.
    pub grant: Option<Published>,
}

/// `release.lua` for `owner` on node `i` (its clock reading `now`): whether the key is
/// freed (`frees`, the registration read first), then leave the queue (or, with `stay`,
/// refresh the entry's `seen` and drop its registration), then, if the key is freed,
/// delete it or, with `handoff` and someone else queued, hand it to the longest live
/// waiter (`heads()[pick]`), dropping the gone entries the walk passes: set it to the
/// head's registered owner for its ttl (minting a token with it where registered so) and
/// publish the grant, or without a registration reserve it for the head.
pub fn release(
    setup: &Setup,
    node: &mut Node,
    i: usize,
    now: u64,
    request: (Owner, bool, bool),
    pick: usize,
) -> Released {
    let (owner, handoff, stay) = request;
    let waiter = owner.waiter();
    let heads = heads(setup, node, owner, handoff, stay);
    let others = node.queue.iter().any(|e| e.waiter != waiter);
    let frees = frees(setup, node, owner, handoff, stay);
    if stay {
        // HSET seen: now, without the registration (until the next refusal registers
        // again, a release here reserves instead), unless the key holds the registered
        // owner (a release granted it): the call's end must still find it.
        let lock = node.lock.map(|lock| lock.owner);
        if let Some(entry) = node.queue.iter_mut().find(|e| e.waiter == waiter) {
            entry.seen = 0;
            let granted = entry.registered.map(|r| r.owner) == lock && lock.is_some();
            if setup.grant_stay_drops_granted || !granted || frees {
                entry.registered = None;
            }
        }
    } else {
        node.queue.retain(|e| e.waiter != waiter);
    }
    if !frees {
        return Released::default();
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
    let registration = head
        .filter(|&w| w != waiter)
        .and_then(|w| node.queue.iter().find(|e| e.waiter == w))
        .filter(|e| setup.registration_fresh(e.seen))
        .and_then(|e| e.registered);
    let Some(registration) = registration else {
        node.handoff = head;
        return Released { head, grant: None };
    };
    node.lock = Some(Lock {
        owner: registration.owner,
        left: registration.ttl,
        granted: true,
    });
    let token = if registration.mint {
        mint(node, now)
    } else {
        0
    };
    // A missing marker counts as new (age 0).
    let marker_ms = if setup.delayed_restart {
        node.marker.map_or(0, ms)
    } else {
        -1
    };
    let grant = Published {
        owner: registration.owner,
        node: u8::try_from(i).unwrap_or(u8::MAX),
        token,
        marker_ms,
    };
    Released {
        head,
        grant: Some(grant),
    }
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
