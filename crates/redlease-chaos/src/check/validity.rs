//! G4 from the outside: no moment where a holder's `remaining()` exceeds what a quorum of
//! the nodes' keys still holds.
//!
//! A lease is only as long as the keys behind it: once fewer than a quorum of nodes keep
//! the lock key for our owner, anyone can acquire, so a holder that still counts time
//! left is lying (a shortening extend that failed but ran, a renewal that shrank the
//! keys). While a lease is held, a probe takes samples: first the holder's `remaining()`,
//! then, through plain connections to the real servers (not through any proxy), the lock
//! key's owner and `PTTL` on every node. The bound is the quorum-th largest `PTTL` among
//! the nodes that still hold our owner (zero when fewer than a quorum do).
//!
//! Tolerance: `remaining()` is read first, the `PTTL`s after it, so in a correct library
//! `remaining(t0) <= expiry - t0` and `PTTL(t1) = expiry - t1` with `t1 >= t0`: the
//! remaining time may exceed the bound by at most the time the sample took to read
//! (`read_ms`, measured per sample), plus `PTTL`'s millisecond rounding. On top of that
//! [`TOLERANCE_MS`] (20 ms) absorbs a preemption between the reads on a loaded machine.
//! Anything beyond is a lie of more than scheduling noise.

use serde::{Deserialize, Serialize};

/// Fixed slack on top of each sample's own read time, ms.
pub const TOLERANCE_MS: u64 = 20;

/// What one node's lock key said in a sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyState {
    /// The key holds our owner and expires in this many ms (`u64::MAX`: no expiry).
    Ours(u64),
    /// The key is missing or holds another owner.
    NotOurs,
    /// The node did not answer (the sample cannot be judged).
    Unreadable,
}

/// One sample taken while a lease was held.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValiditySample {
    /// When `remaining()` was read (shared monotonic clock, ns).
    pub at_ns: u64,
    /// What `remaining()` said, ms.
    pub remaining_ms: u64,
    /// From reading `remaining()` to the last node's answer, ms.
    pub read_ms: u64,
    /// Each node's lock key.
    pub keys: Vec<KeyState>,
}

/// A sample where the holder counted more time than a quorum of keys held.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Excess {
    /// When.
    pub at_ns: u64,
    /// What `remaining()` said, ms.
    pub remaining_ms: u64,
    /// The quorum-th largest `PTTL` of the keys still ours, ms.
    pub quorum_pttl_ms: u64,
}

impl Excess {
    /// By how much the holder over-counted, ms.
    pub fn excess_ms(&self) -> u64 {
        self.remaining_ms.saturating_sub(self.quorum_pttl_ms)
    }
}

/// How long a quorum of `keys` still holds our owner: the quorum-th largest `PTTL`
/// among the keys that are ours; zero when fewer than `quorum` are. `None` when a node
/// was unreadable.
pub fn quorum_pttl(keys: &[KeyState], quorum: usize) -> Option<u64> {
    let mut ours = Vec::with_capacity(keys.len());
    for key in keys {
        match *key {
            KeyState::Ours(ms) => ours.push(ms),
            KeyState::NotOurs => {}
            KeyState::Unreadable => return None,
        }
    }
    ours.sort_unstable_by(|a, b| b.cmp(a));
    Some(
        quorum
            .checked_sub(1)
            .and_then(|i| ours.get(i))
            .copied()
            .unwrap_or(0),
    )
}

/// Every sample where `remaining()` exceeded the quorum's `PTTL` by more than the
/// sample's read time plus [`TOLERANCE_MS`] (and `PTTL`'s 1 ms rounding). Samples with an
/// unreadable node are skipped.
pub fn excesses(samples: &[ValiditySample], quorum: usize) -> Vec<Excess> {
    samples
        .iter()
        .filter_map(|s| {
            let bound = quorum_pttl(&s.keys, quorum)?;
            let allowed = bound
                .saturating_add(s.read_ms)
                .saturating_add(TOLERANCE_MS + 1);
            (s.remaining_ms > allowed).then_some(Excess {
                at_ns: s.at_ns,
                remaining_ms: s.remaining_ms,
                quorum_pttl_ms: bound,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::KeyState::{NotOurs, Ours, Unreadable};
    use super::*;

    fn sample(remaining_ms: u64, read_ms: u64, keys: Vec<KeyState>) -> ValiditySample {
        ValiditySample {
            at_ns: 1,
            remaining_ms,
            read_ms,
            keys,
        }
    }

    #[test]
    fn the_bound_is_the_quorum_th_largest_key_still_ours() {
        assert_eq!(
            quorum_pttl(&[Ours(900), Ours(29_000), Ours(1_600)], 2),
            Some(1_600)
        );
        assert_eq!(
            quorum_pttl(&[Ours(900), NotOurs, Ours(29_000)], 2),
            Some(900)
        );
        assert_eq!(quorum_pttl(&[NotOurs, NotOurs, Ours(29_000)], 2), Some(0));
        assert_eq!(quorum_pttl(&[Ours(5), Unreadable, Ours(5)], 2), None);
        assert_eq!(quorum_pttl(&[Ours(7)], 1), Some(7));
    }

    #[test]
    fn a_holder_counting_past_the_quorum_keys_is_flagged() {
        // The failed shortening extend: keys cut to 1.6 s, the holder still counts 29.2 s.
        let lie = sample(29_200, 2, vec![Ours(1_600), Ours(1_600), Ours(29_000)]);
        let found = excesses(&[lie], 2);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].excess_ms(), 27_600);
        // A quorum no longer holds it at all, the holder still counts time.
        let gone = sample(500, 1, vec![NotOurs, NotOurs, Ours(900)]);
        assert_eq!(excesses(&[gone], 2).len(), 1);
    }

    #[test]
    fn honest_holders_and_sampling_delay_are_not_flagged() {
        let honest = sample(1_580, 1, vec![Ours(1_600), Ours(1_610), NotOurs]);
        // remaining() read first, keys 30 ms later on a loaded machine.
        let slow_read = sample(1_640, 30, vec![Ours(1_600), Ours(1_605), Ours(1_601)]);
        let within_tolerance = sample(1_620, 0, vec![Ours(1_600), Ours(1_600), NotOurs]);
        let unreadable = sample(9_999, 0, vec![Unreadable, Ours(1), Ours(1)]);
        let expired = sample(0, 0, vec![NotOurs, NotOurs, NotOurs]);
        let samples = [honest, slow_read, within_tolerance, unreadable, expired];
        assert!(excesses(&samples, 2).is_empty());
    }
}
