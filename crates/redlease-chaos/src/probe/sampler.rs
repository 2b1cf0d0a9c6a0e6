//! Samples a held lease against the keys behind it, for the
//! [validity rule](crate::check::validity).
//!
//! Runs on a plain thread beside the probe's runtime: every few milliseconds it reads
//! the holder's `remaining()`, then the lock key's owner and `PTTL` on every node
//! through a fresh, direct connection to the real server (never through a proxy or
//! gate, which may be the thing that is broken), in one script so the owner and the
//! `PTTL` are read atomically. While the probe has nodes stopped, it does not sample:
//! the nodes cannot answer, and the keys' clocks are judged once they run again.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use redlease::LeaseHandle;
use redlease_testkit::{Node, Reply};

use crate::check::validity::{KeyState, ValiditySample};
use crate::mono;

/// Owner and `PTTL` of the lock key in one step: -3 when the key is not ours.
const READ_KEY: &str = "local v = redis.call('GET', KEYS[1]) \
    if v ~= ARGV[1] then return -3 end \
    return redis.call('PTTL', KEYS[1])";

/// How long one node may take to answer a sample.
const READ_TIMEOUT: Duration = Duration::from_millis(250);

/// Reads the lock key `key` of `owner` on `nodes`.
pub fn read_keys(nodes: &[&Node], key: &str, owner: &str) -> Vec<KeyState> {
    nodes
        .iter()
        .map(|node| {
            match node.query_with_timeout(&["EVAL", READ_KEY, "1", key, owner], READ_TIMEOUT) {
                Ok(Reply::Integer(-1)) => KeyState::Ours(u64::MAX),
                Ok(Reply::Integer(ms)) if ms >= 0 => KeyState::Ours(ms.unsigned_abs()),
                Ok(Reply::Integer(_)) => KeyState::NotOurs,
                _ => KeyState::Unreadable,
            }
        })
        .collect()
}

/// One sample of `handle` against its keys.
pub fn sample(nodes: &[&Node], key: &str, handle: &LeaseHandle) -> ValiditySample {
    let at = Instant::now();
    let remaining = handle.remaining();
    let keys = read_keys(nodes, key, handle.owner());
    ValiditySample {
        at_ns: mono::instant_ns(at),
        remaining_ms: u64::try_from(remaining.as_millis()).unwrap_or(u64::MAX),
        read_ms: u64::try_from(at.elapsed().as_millis()).unwrap_or(u64::MAX),
        keys,
    }
}

/// Samples `handle` every `every` until `stop` is set or the holder counts no time left,
/// skipping while `hold_off` is set; returns the samples.
pub fn sample_until(
    nodes: &[&Node],
    key: &str,
    handle: &LeaseHandle,
    every: Duration,
    stop: &AtomicBool,
    hold_off: &AtomicBool,
) -> Vec<ValiditySample> {
    let mut samples = Vec::new();
    while !stop.load(Ordering::SeqCst) {
        if !hold_off.load(Ordering::SeqCst) {
            if handle.remaining().is_zero() {
                break;
            }
            let s = sample(nodes, key, handle);
            // A sample that straddled a pause of the nodes is not judged.
            if !hold_off.load(Ordering::SeqCst) {
                samples.push(s);
            }
        }
        std::thread::sleep(every);
    }
    samples
}
