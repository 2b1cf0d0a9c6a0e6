//! Releasing on many nodes: a lease's release, and a failed attempt's clean-up.
//!
//! Release goes to every node that may hold a grant of ours, including those that timed
//! out (a timed-out request may still have granted), and is idempotent. A lease's release
//! hands the lock to the longest waiter; a failed attempt's clean-up frees it for
//! everyone, since handing off partial grants could re-create the same split vote.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::cluster::Cluster;
use crate::error::{Error, NodeFailure, Repr};
use crate::ops::Target;
use crate::ops::release::Release;
use crate::protocol;
use crate::round;

/// What a release on every node found.
pub(crate) struct Released {
    /// Nodes where the key held our owner and was deleted.
    pub held: usize,
    /// Nodes that did not answer.
    #[allow(dead_code)]
    pub failures: Vec<NodeFailure>,
}

/// Release on all nodes, handing the lock to the longest waiter. `unavailable` when fewer
/// than a quorum answered.
///
/// With `every_answer`, wait for every node (each bounded by the node timeout): `held`
/// then counts every node that held it (release by owner reports whether it was held
/// anywhere). Without, return once a quorum has answered: the other nodes' releases were
/// sent with the rest and finish in the background (counted by `LockManager::flush`), as
/// the floor that returns at majority does. A lease's release needs no more: what the
/// late nodes answer changes nothing for the caller, and the next acquisition's vote
/// does not depend on them.
///
/// `described`: the owner may have stored a description (see `Release::described`).
pub(crate) async fn everywhere(
    cluster: &Arc<Cluster>,
    target: &Arc<Target>,
    every_answer: bool,
    described: bool,
) -> Result<Released, Error> {
    let n = cluster.nodes.len();
    let quorum = cluster.quorum();
    let op = Arc::new(Release {
        target: Arc::clone(target),
        handoff: cluster.config.handoff,
        waiter_gone_after: cluster.waiter_gone_after(),
        queue_ttl: cluster.queue_ttl(),
        publish_always: cluster.config.handoff.is_zero(),
        stay_queued: false,
        described,
        // Waiters of this process were refused lately: release.lua at once.
        quick: !cluster.contention.contended_lately(target.resource()),
        saw_queue: AtomicBool::new(false),
        marker: cluster.marker.clone(),
        counter_ttl: protocol::fence_counter_ttl(cluster.config.max_ttl),
        registration_fresh: cluster.registration_fresh(),
    });
    let (mut held, mut answered, mut failures) = (0, 0, Vec::new());
    let mut round = round::start(cluster, 0..n, &op);
    while let Some((i, result)) = round.next().await {
        match result {
            Ok(deleted) => {
                answered += 1;
                held += usize::from(deleted);
            }
            Err(e) => failures.push(cluster.failure(i, e)),
        }
        if !every_answer && answered >= quorum {
            break;
        }
    }
    round.detach();
    // Waiters queued somewhere: the next acquire and release of this resource here go
    // straight to the scripts.
    if op.saw_queue.load(Ordering::Relaxed) {
        cluster.contention.note(target.resource());
    }
    if answered < quorum {
        return Err(Repr::Unavailable {
            resource: target.resource().to_owned(),
            quorum,
            total: n,
            failures,
        }
        .into());
    }
    Ok(Released { held, failures })
}

/// Free a failed attempt's possible grants on `nodes` (no hand-off), and leave their
/// wait queues unless `stay_queued` (a caller that goes on waiting keeps its place). With
/// `wait`, return once every node answered; otherwise in the background.
pub(crate) async fn clean_up(
    cluster: &Arc<Cluster>,
    target: &Arc<Target>,
    nodes: &[usize],
    wait: bool,
    stay_queued: bool,
) {
    if nodes.is_empty() {
        return;
    }
    let op = Arc::new(Release {
        target: Arc::clone(target),
        handoff: Duration::ZERO,
        waiter_gone_after: cluster.waiter_gone_after(),
        queue_ttl: cluster.queue_ttl(),
        publish_always: cluster.config.handoff.is_zero(),
        stay_queued,
        // An attempt that did not win never described itself.
        described: false,
        quick: false,
        saw_queue: AtomicBool::new(false),
        marker: cluster.marker.clone(),
        counter_ttl: protocol::fence_counter_ttl(cluster.config.max_ttl),
        registration_fresh: cluster.registration_fresh(),
    });
    let mut round = round::start(cluster, nodes.iter().copied(), &op);
    if wait {
        while round.next().await.is_some() {}
    }
    round.detach();
}
