//! A lease won by hand-off: the grants a waiter's releases published, counted.
//!
//! A refused attempt of a waiter that listens registers the owner of the call's next
//! attempt with its place in each node's queue; a release there may then set the lock to
//! that owner and publish the grant (`release.lua`). The subscriber connection keeps the
//! grants for the waiter (`wakeup/`), and here the waiter counts the ones for that owner:
//! with a quorum in time and validity left, it holds the lease without another attempt.
//! The decisions are [`crate::protocol::handoff`]'s; what is not won here is left to the
//! next attempt, which has that owner and so finds those keys its own, and nothing is
//! lost by giving up early. The owner is the next attempt's, never the refused one's: the
//! refused attempt's clean-up (a node whose reply was lost may have registered it, then
//! granted) deletes that attempt's keys, and would delete a grant the waiter counts.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::acquire::Acquirer;
use crate::lease::{Lease, LeaseCore};
use crate::ops::Target;
use crate::ops::acquire::Fencing;
use crate::protocol::Decision;
use crate::protocol::handoff::{Handoffs, counts, validity};
use crate::wakeup::Subscription;

/// The refused attempt a waiter is waiting on.
pub(crate) struct Waited<'a> {
    /// The attempt's keys and waiter id.
    pub target: &'a Arc<Target>,
    /// The owner its refusals registered: the call's next attempt's.
    pub next: &'a str,
    pub ttl: Duration,
    /// Where the attempt's token was to come from.
    pub fencing: Fencing,
    /// When the attempt was sent: each node set the key after it.
    pub started: Instant,
}

impl Acquirer<'_> {
    /// The lease `waited`'s attempt holds by hand-off, after a wake-up that named this
    /// waiter: `None` if its grants do not make a quorum within a node timeout (the
    /// releases of one holder go to every node at once), or leave no validity. Grants
    /// that cannot count are waited for too, up to a quorum (`Handoffs::try_now`), so that
    /// the next attempt finds the keys they set its own instead of racing the releases.
    pub(crate) async fn handed_off(
        &self,
        subscription: &mut Subscription,
        waited: &Waited<'_>,
    ) -> Option<Lease> {
        let cluster = self.cluster;
        let c = &cluster.config;
        let needs_token = waited.fencing == Fencing::Script;
        let mut grants = Handoffs::new(cluster.nodes.len());
        let until = Instant::now() + c.node_timeout;
        loop {
            for granted in subscription.grants_for(waited.next) {
                if !counts(&granted.grant(), c.max_ttl, needs_token) {
                    grants.uncounted(granted.node);
                } else if grants.grant(granted.node, granted.token) == Decision::Won {
                    return self.lease(waited, grants.token());
                }
            }
            if grants.try_now() {
                // A reservation for us, or a quorum of keys handed to the next attempt's
                // owner that cannot count here: the next attempt takes them over.
                return None;
            }
            let left = until.saturating_duration_since(Instant::now());
            tokio::select! {
                _ = subscription.woken() => {}
                () = tokio::time::sleep(left) => return None,
            }
        }
    }

    /// The lease of a won hand-off, its validity measured from the attempt's start. On
    /// several nodes it has no token yet: it is minted on demand (an attempt whose token
    /// is minted in the acquisition does not register, see `acquire/`).
    fn lease(&self, waited: &Waited<'_>, token: u64) -> Option<Lease> {
        let cluster = self.cluster;
        let ttl = waited.ttl;
        let drift = cluster.drift(ttl);
        validity(ttl, waited.started.elapsed(), drift)?;
        let lease = Lease::new(LeaseCore::new(
            Arc::clone(cluster),
            Arc::clone(self.renewals),
            Target::for_waiter(
                Arc::clone(&waited.target.keys),
                waited.next.to_owned(),
                Arc::clone(&waited.target.waiter),
            ),
            if waited.fencing == Fencing::Script {
                token
            } else {
                0
            },
            ttl,
            waited.started + ttl - drift,
        ));
        Some(lease)
    }
}
