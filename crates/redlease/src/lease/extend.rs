//! The extend round of a lease: every node, a quorum of confirmations.
//!
//! The I/O only: the verdict (extended, not held, expired, unknown) and the deadline that
//! follows are decided by [`crate::protocol::extend::conclude`].

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::LeaseState;
use super::core::LeaseCore;
use crate::batch;
use crate::config;
use crate::error::{Error, LostReason, Repr};
use crate::ops::extend::Extend;
use crate::protocol::ExtendReply;
use crate::protocol::extend::{ExtendVerdict, conclude, while_extending};
use crate::protocol::{Tally, Vote};
use crate::round::{self, Round};

impl LeaseCore {
    /// Extend on every node (the caller holds the operation lock); returns the highest
    /// fencing counter among the confirming nodes (0 where `batched`: renewal's batches
    /// do not read the counter). `batched` sends it with the node's other renewals.
    pub(crate) async fn extend(&self, ttl: Duration, batched: bool) -> Result<u64, Error> {
        let cluster = &self.cluster;
        let c = &cluster.config;
        config::check_call_ttl(ttl, c)?;
        let deadline = match self.state() {
            LeaseState::Held { deadline } => deadline,
            LeaseState::Released => return Err(self.lost_error(LostReason::Released)),
            LeaseState::Lost(reason) => return Err(self.lost_error(reason)),
        };
        let start = Instant::now();
        if start >= deadline {
            self.mark_expired();
            return Err(self.lost_error(self.expiry_reason()));
        }
        // A shortening extend may take effect on a node before the round concludes.
        let drift = cluster.drift(ttl);
        let deadline = while_extending(deadline, start, ttl, drift);
        if deadline <= start {
            self.mark_lost(LostReason::Expired);
            return Err(self.lost_error(LostReason::Expired));
        }
        self.move_deadline(deadline);
        let n = cluster.nodes.len();
        let op = Arc::new(Extend {
            target: Arc::clone(&self.target),
            ttl,
        });
        // Renewal gathers its extends per node where it can.
        let round = Round::from_calls(
            cluster,
            (0..n).map(|i| {
                let cluster = Arc::clone(cluster);
                let op = Arc::clone(&op);
                async move {
                    if batched && batch::batchable(&cluster, i) {
                        let result = batch::extend(&cluster, i, Arc::clone(&op.target), ttl)
                            .await
                            .map(|extended| ExtendReply { extended, fence: 0 });
                        (i, result)
                    } else {
                        round::call(cluster, i, op).await
                    }
                }
            }),
        );
        let mut tally = Tally::new(n);
        let mut fence = 0u64;
        let failures = round
            .decide(&mut tally, |_, reply| {
                if reply.extended {
                    fence = fence.max(reply.fence);
                    Vote::Yes
                } else {
                    Vote::No
                }
            })
            .await;
        let now = Instant::now();
        match conclude(&tally, start, now, deadline, ttl, drift) {
            ExtendVerdict::Extended { deadline } => {
                if !self.move_deadline(deadline) {
                    // Released or lost while the extend was in flight.
                    let reason = match self.state() {
                        LeaseState::Lost(reason) => reason,
                        _ => LostReason::Released,
                    };
                    return Err(self.lost_error(reason));
                }
                // Renewals now extend by what the holder last asked for.
                self.set_ttl(ttl);
                Ok(fence)
            }
            ExtendVerdict::NotHeld => {
                self.mark_lost(LostReason::NotHeld);
                Err(self.lost_error(LostReason::NotHeld))
            }
            ExtendVerdict::Expired => {
                self.mark_expired();
                Err(self.lost_error(self.expiry_reason()))
            }
            ExtendVerdict::Spent => {
                self.mark_lost(LostReason::Expired);
                Err(self.lost_error(LostReason::Expired))
            }
            ExtendVerdict::Unavailable { .. } => {
                // The deadline was already moved to the sooner one when the round began.
                Err(Repr::Unavailable {
                    resource: self.target.resource().to_owned(),
                    quorum: cluster.quorum(),
                    total: n,
                    failures,
                }
                .into())
            }
        }
    }
}
