//! Renewal's extends, gathered per node into one script call (`ops::extend_many`).
//!
//! Each lease's renewal is still its own extend round (the verdict and the deadline are
//! decided per lease, as for an extend the holder asks for); only the transport differs.
//! The first extend queued for a node arms a short gathering window; when it ends, what
//! was queued leaves as one call per [`MAX_BATCH`] leases, and each lease gets its own
//! answer back. The window costs a renewal at most a millisecond, on an interval of a
//! third of the ttl; an extend the holder asks for is never delayed by it.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::oneshot;

use crate::cluster::Cluster;
use crate::config::NodeKind;
use crate::error::NodeError;
use crate::ops::Target;
use crate::ops::extend_many::{ExtendMany, Pending};

/// How long the first extend of a batch waits for others.
const WINDOW: Duration = Duration::from_millis(1);
/// Leases per script call: a call blocks its node while it runs (about a microsecond per
/// lease), so a huge batch is split to keep every other client's latency low.
const MAX_BATCH: usize = 500;

/// Whether extends to node `index` may be batched: keys of different resources are in
/// different hash slots on a Cluster, and `WAIT` (min_replicas) confirms one write.
pub(crate) fn batchable(cluster: &Cluster, index: usize) -> bool {
    cluster.config.min_replicas == 0
        && cluster
            .nodes
            .get(index)
            .is_some_and(|n| n.kind() != NodeKind::Cluster)
}

/// Extend `target` by `ttl` on node `index` in the node's next batch: whether the key
/// held our owner and got the new ttl.
pub(crate) async fn extend(
    cluster: &Arc<Cluster>,
    index: usize,
    target: Arc<Target>,
    ttl: Duration,
) -> Result<bool, NodeError> {
    let Some(queue) = cluster.extend_queues.get(index) else {
        return Err(NodeError::Protocol(format!("no node {index}")));
    };
    let (reply, answer) = oneshot::channel();
    if queue.push(Pending { target, ttl, reply }) {
        let background = Arc::clone(&cluster.background);
        let cluster = Arc::clone(cluster);
        background.spawn(async move {
            tokio::time::sleep(WINDOW).await;
            send(&cluster, index).await;
        });
    }
    answer
        .await
        .unwrap_or_else(|_| Err(NodeError::Protocol("the batched extend was dropped".into())))
}

/// Send what node `index` has gathered, one call per [`MAX_BATCH`] leases at once.
async fn send(cluster: &Arc<Cluster>, index: usize) {
    let (Some(queue), Some(node)) = (cluster.extend_queues.get(index), cluster.nodes.get(index))
    else {
        return;
    };
    let mut pending = queue.take();
    let mut chunks = Vec::new();
    while !pending.is_empty() {
        let rest = pending.split_off(pending.len().min(MAX_BATCH));
        chunks.push(std::mem::replace(&mut pending, rest));
    }
    futures_util::future::join_all(chunks.into_iter().map(|chunk| async move {
        let (leases, replies): (Vec<_>, Vec<_>) = chunk
            .into_iter()
            .map(|p| ((p.target, p.ttl), p.reply))
            .unzip();
        let expected = leases.len();
        match node.run(&ExtendMany { leases }).await {
            Ok(extended) if extended.len() == expected => {
                for (reply, extended) in replies.into_iter().zip(extended) {
                    let _ = reply.send(Ok(extended));
                }
            }
            Ok(extended) => {
                let error = NodeError::Protocol(format!(
                    "extend_many answered {} leases of {expected}",
                    extended.len()
                ));
                for reply in replies {
                    let _ = reply.send(Err(error.clone()));
                }
            }
            Err(error) => {
                for reply in replies {
                    let _ = reply.send(Err(error.clone()));
                }
            }
        }
    }))
    .await;
}
