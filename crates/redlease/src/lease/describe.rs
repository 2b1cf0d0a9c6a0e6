//! The holder's description of itself, stored beside the lock on every node.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::core::LeaseCore;
use crate::error::{Error, LostReason, Repr};
use crate::ops::describe::Describe;
use crate::protocol::{Decision, Tally, Vote};
use crate::round;

/// Longest holder description accepted, in bytes.
pub const MAX_HOLDER_INFO: usize = 4096;

impl LeaseCore {
    /// Store `info` on every node where the lease holds the lock; a quorum must confirm.
    pub(crate) async fn describe(&self, info: &str) -> Result<(), Error> {
        if info.len() > MAX_HOLDER_INFO {
            return Err(Error::invalid(
                "holder info",
                format_args!("{} bytes", info.len()),
                "too long",
                format!("at most {MAX_HOLDER_INFO} bytes"),
            ));
        }
        // Before the first node can store it: a release from now on removes it.
        self.described.store(true, Ordering::Release);
        let cluster = &self.cluster;
        let n = cluster.nodes.len();
        let op = Arc::new(Describe {
            target: Arc::clone(&self.target),
            info: info.to_owned(),
        });
        let mut tally = Tally::new(n);
        let failures = round::start(cluster, 0..n, &op)
            .decide(
                &mut tally,
                |_, stored| if stored { Vote::Yes } else { Vote::No },
            )
            .await;
        match tally.decision() {
            Decision::Won => Ok(()),
            _ if tally.refused_by_enough() => Err(self.lost_error(LostReason::NotHeld)),
            _ => Err(Repr::Unavailable {
                resource: self.target.resource().to_owned(),
                quorum: cluster.quorum(),
                total: n,
                failures,
            }
            .into()),
        }
    }
}
