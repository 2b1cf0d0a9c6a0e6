//! Releasing on many nodes: a lease's release, and a failed attempt's clean-up.
//!
//! Release goes to every node that may hold a grant of ours, including those that timed
//! out (a timed-out request may still have granted), and is idempotent. A lease's release
//! hands the lock to the longest waiter; a failed attempt's clean-up frees it for
//! everyone, since handing off partial grants could re-create the same split vote.

use std::sync::Arc;
use std::time::Duration;

use crate::cluster::Cluster;
use crate::error::{Error, NodeFailure, Repr};
use crate::ops::Target;
use crate::ops::release::Release;
use crate::round::Round;

/// What a release on every node found.
pub(crate) struct Released {
    /// Nodes where the key held our owner and was deleted.
    pub held: usize,
    /// Nodes that did not answer.
    #[allow(dead_code)]
    pub failures: Vec<NodeFailure>,
}

/// Release on all nodes and wait for their answers (each bounded by the node timeout),
/// handing the lock to the longest waiter. `unavailable` when fewer than a quorum
/// answered.
pub(crate) async fn everywhere(
    cluster: &Arc<Cluster>,
    target: &Arc<Target>,
) -> Result<Released, Error> {
    let n = cluster.nodes.len();
    let op = Arc::new(Release {
        target: Arc::clone(target),
        handoff: cluster.config.handoff,
        waiter_gone_after: cluster.waiter_gone_after(),
        publish_always: cluster.config.handoff.is_zero(),
    });
    let (mut held, mut answered, mut failures) = (0, 0, Vec::new());
    for (i, result) in Round::start(cluster, 0..n, &op).finish().await {
        match result {
            Ok(deleted) => {
                answered += 1;
                held += usize::from(deleted);
            }
            Err(e) => failures.push(cluster.failure(i, e)),
        }
    }
    if answered < cluster.quorum() {
        return Err(Repr::Unavailable {
            resource: target.resource.clone(),
            quorum: cluster.quorum(),
            total: n,
            failures,
        }
        .into());
    }
    Ok(Released { held, failures })
}

/// Free a failed attempt's possible grants on `nodes` (no hand-off), and leave their
/// wait queues. With `wait`, return once every node answered; otherwise in the
/// background.
pub(crate) async fn clean_up(
    cluster: &Arc<Cluster>,
    target: &Arc<Target>,
    nodes: &[usize],
    wait: bool,
) {
    if nodes.is_empty() {
        return;
    }
    let op = Arc::new(Release {
        target: Arc::clone(target),
        handoff: Duration::ZERO,
        waiter_gone_after: cluster.waiter_gone_after(),
        publish_always: cluster.config.handoff.is_zero(),
    });
    let mut round = Round::start(cluster, nodes.iter().copied(), &op);
    if wait {
        while round.next().await.is_some() {}
    }
    round.detach();
}
