//! The fencing token minted on demand, and the round that records a token.
//!
//! On several nodes a lease is acquired without a token (unless the manager mints at
//! acquisition) and gets one the first time its holder asks: read every node's counter
//! and clock, then record the token where the lock is still ours, under the lease's
//! operation lock so that no extend or release runs in between. The decisions are
//! [`crate::protocol::mint`]'s; the argument that the tokens still follow the order of the
//! leases is in `docs/protocol.md`, "Tokens minted on demand".

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use super::LeaseState;
use super::core::LeaseCore;
use crate::cluster::Cluster;
use crate::error::{Error, LostReason, NodeError, NodeFailure, Repr};
use crate::ops::Target;
use crate::ops::fence::Fence;
use crate::ops::fence_read::FenceRead;
use crate::protocol::mint::{MintVerdict, Reads, conclude};
use crate::protocol::{self, Tally, Vote};
use crate::round;

/// How a round recording a token went: the votes, and the nodes that failed or no longer
/// held the lock.
pub(crate) struct Recorded {
    pub tally: Tally,
    pub failures: Vec<NodeFailure>,
}

/// Raise the counter to `token` on `nodes` where the lock is still `target`'s, until the
/// outcome is certain. `tally` starts with the votes of the nodes not asked.
pub(crate) async fn record(
    cluster: &Arc<Cluster>,
    target: &Arc<Target>,
    token: u64,
    nodes: &[usize],
    mut tally: Tally,
) -> Recorded {
    let op = Arc::new(Fence {
        target: Arc::clone(target),
        token,
        counter_ttl: protocol::fence_counter_ttl(cluster.config.max_ttl),
    });
    let round = round::start(cluster, nodes.iter().copied(), &op);
    let mut lost_there = Vec::new();
    let mut failures = round
        .decide(&mut tally, |i, recorded| {
            if recorded {
                Vote::Yes
            } else {
                lost_there.push(i);
                Vote::No
            }
        })
        .await;
    failures.extend(lost_there.into_iter().map(|i| {
        cluster.failure(
            i,
            NodeError::Protocol(
                "lock no longer held there when recording the fencing token".into(),
            ),
        )
    }));
    Recorded { tally, failures }
}

impl LeaseCore {
    /// The lease's token, minted now if it has none yet (see the module doc).
    pub(crate) async fn fencing_token(&self) -> Result<u64, Error> {
        self.token_asked.store(true, Ordering::Relaxed);
        if let Some(token) = self.minted_token() {
            return Ok(token);
        }
        let cluster = &self.cluster;
        if !cluster.config.fencing {
            return Err(Error::invalid(
                "fencing_token",
                self.resource(),
                "this manager has fencing turned off, so its leases have no token",
                "a manager built with fencing on (the default)",
            ));
        }
        let _op = self.ops.lock().await;
        // Another caller may have minted it while we waited for the lock.
        if let Some(token) = self.minted_token() {
            return Ok(token);
        }
        let deadline = self.held_deadline()?;
        // The resource's next acquisition mints in the acquisition, one round trip less.
        cluster.tokens_asked.note(self.resource(), true);
        let n = cluster.nodes.len();
        let unavailable = |failures: Vec<NodeFailure>| -> Error {
            Repr::Unavailable {
                resource: self.resource().to_owned(),
                quorum: cluster.quorum(),
                total: n,
                failures,
            }
            .into()
        };
        // Every node that answers, each bounded by the node timeout.
        let read = Arc::new(FenceRead {
            target: Arc::clone(&self.target),
        });
        let mut reads = Reads::new(n);
        let mut failures = Vec::new();
        for (i, answer) in round::start(cluster, 0..n, &read).finish().await {
            match answer {
                Ok(reading) => reads.read(reading.counter, reading.now_us),
                Err(e) => failures.push(cluster.failure(i, e)),
            }
        }
        let Some(token) = reads.token() else {
            return Err(unavailable(failures));
        };
        let all: Vec<usize> = (0..n).collect();
        let recorded = record(cluster, &self.target, token, &all, Tally::new(n)).await;
        match conclude(&recorded.tally, Instant::now(), deadline) {
            MintVerdict::Minted => {
                self.set_token(token);
                Ok(token)
            }
            MintVerdict::NotHeld => {
                self.mark_lost(LostReason::NotHeld);
                Err(self.lost_error(LostReason::NotHeld))
            }
            MintVerdict::Expired => {
                self.mark_expired();
                Err(self.lost_error(self.expiry_reason()))
            }
            MintVerdict::Unavailable => Err(unavailable(recorded.failures)),
        }
    }

    /// The deadline of a lease still held, or the error that says why it is not.
    fn held_deadline(&self) -> Result<Instant, Error> {
        match self.state() {
            LeaseState::Held { deadline } if Instant::now() < deadline => Ok(deadline),
            LeaseState::Held { .. } => {
                self.mark_expired();
                Err(self.lost_error(self.expiry_reason()))
            }
            LeaseState::Released => Err(self.lost_error(LostReason::Released)),
            LeaseState::Lost(reason) => Err(self.lost_error(reason)),
        }
    }
}
