//! Which resources this process saw contended lately: the choice of the quick requests.
//!
//! The quick acquire (`ops/quick.rs`) costs a node less than the acquire script when the
//! lock is free, and the quick release (`ops/release_quick.lua`) less than the release
//! script when nobody waits; each costs one more round trip when it is wrong (the full
//! script follows). Whether a lock is free is not known before asking, but a resource
//! that was refused, or had waiters queued, a moment ago is likely to be contended again,
//! and one that never was is likely free. So every refusal and every queue a release
//! met is noted here, and acquisitions and releases go the quick way only for a resource
//! with no contention in the last [`RECENT`].
//!
//! Resources share a fixed table of slots by hash: no allocation, no lock, no growth with
//! the number of resources. Two resources in one slot only cost the quick path to one of
//! them for a while; the choice never affects what the protocol decides, only which
//! request carries it.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How long contention keeps its resource off the quick path.
pub(crate) const RECENT: Duration = Duration::from_secs(2);

const SLOTS: usize = 256;

/// Last contention per slot, in ms since `epoch` plus one (0: none yet).
pub(crate) struct Contention {
    epoch: Instant,
    slots: [AtomicU64; SLOTS],
}

impl Default for Contention {
    fn default() -> Self {
        Contention {
            epoch: Instant::now(),
            slots: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }
}

impl Contention {
    /// Whether `resource` was contended (refused, or waited for) within [`RECENT`].
    pub(crate) fn contended_lately(&self, resource: &str) -> bool {
        match self.slot(resource).load(Ordering::Relaxed) {
            0 => false,
            stamp => self.now_ms().saturating_sub(stamp - 1) < millis(RECENT),
        }
    }

    /// Note contention on `resource` now.
    pub(crate) fn note(&self, resource: &str) {
        self.slot(resource)
            .store(self.now_ms().saturating_add(1), Ordering::Relaxed);
    }

    fn slot(&self, resource: &str) -> &AtomicU64 {
        let mut hasher = DefaultHasher::new();
        resource.hash(&mut hasher);
        // The remainder is below SLOTS, so the index is in range and fits usize.
        &self.slots[(hasher.finish() % SLOTS as u64) as usize]
    }

    fn now_ms(&self) -> u64 {
        millis(self.epoch.elapsed())
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_keeps_only_its_resource_off_the_quick_path_for_a_while() {
        let contention = Contention::default();
        assert!(!contention.contended_lately("a"));
        contention.note("a");
        assert!(contention.contended_lately("a"));
        // Another resource, in another slot, is not affected.
        let other = (0..1000)
            .map(|i| format!("r{i}"))
            .find(|r| !std::ptr::eq(contention.slot(r), contention.slot("a")))
            .expect("some resource hashes elsewhere");
        assert!(!contention.contended_lately(&other));
    }

    #[test]
    fn a_refusal_is_forgotten_after_recent() {
        let contention = Contention {
            // As if the table had been made a while ago, so that a stamp can be old.
            epoch: Instant::now() - 3 * RECENT,
            ..Contention::default()
        };
        let slot = contention.slot("a");
        // Refused just after the epoch: more than RECENT ago.
        slot.store(1, Ordering::Relaxed);
        assert!(!contention.contended_lately("a"));
        contention.note("a");
        assert!(contention.contended_lately("a"));
    }

    /// A vote won despite a refusal (usually our own previous lease, whose release is still
    /// on its way to a slow node) is not contention: the resource keeps the quick requests.
    /// A vote lost to a holder is.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_outvoted_refusal_is_not_contention_a_lost_vote_is() {
        let nodes = redlease_testkit::Cluster::start(3)
            .expect("redis-server must be installed: apt-get install -y redis-server");
        let manager = crate::LockManager::builder()
            .servers(nodes.urls())
            .node_timeout(Duration::from_millis(250))
            .ttl(Duration::from_secs(5))
            .build()
            .await
            .expect("config");
        let contention = &manager.cluster().contention;
        let lock = |r: &str| format!("redlease:{{{r}}}:lock");
        // Node 2 still holds a stale key: refused there, won on nodes 0 and 1.
        nodes
            .node(2)
            .command(&["SET", &lock("outvoted"), "stale", "PX", "10000"])
            .expect("SET");
        let lease = manager
            .acquire_for("outvoted", Duration::from_secs(5), Duration::from_secs(1))
            .await
            .expect("a quorum grants");
        assert!(!contention.contended_lately("outvoted"));
        lease.release().await.expect("release");
        // Held on nodes 0 and 1: the vote is lost, the resource is contended.
        for i in [0, 1] {
            nodes
                .node(i)
                .command(&["SET", &lock("held"), "someone", "PX", "10000"])
                .expect("SET");
        }
        let refused = manager.try_acquire("held").await.expect_err("held");
        assert!(refused.is_busy(), "{refused}");
        assert!(contention.contended_lately("held"));
    }
}
