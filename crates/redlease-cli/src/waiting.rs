//! How the commands wait for a lease: patiently when it is busy, briefly when the
//! servers are down.
//!
//! `--wait` is about someone else holding the resource. With the default (`forever`),
//! retrying through an outage would leave a cron job or CI step hanging without a word
//! when the servers are simply gone. So unreachable servers get a short grace period
//! (enough to ride out a blip or a loaded machine), after which the command fails with
//! exit 69; once the resource has been seen busy, the full wait applies.

use std::time::{Duration, Instant};

use redlease::{ErrorKind, Lease, LockManager};

use crate::cli::WaitArgs;
use crate::exit::Failure;

/// How long unreachable servers are retried before giving up (capped by the wait).
pub const UNAVAILABLE_GRACE: Duration = Duration::from_secs(3);

/// Acquire `resource` within the wait of `wait`, failing after [`UNAVAILABLE_GRACE`] if
/// fewer than a quorum of servers answer; a busy resource exits with `-E`'s code.
pub async fn acquire(
    manager: &LockManager,
    resource: &str,
    ttl: Duration,
    wait: &WaitArgs,
) -> Result<Lease, Failure> {
    acquire_within(manager, resource, ttl, wait.budget())
        .await
        .map_err(|e| {
            let mut failure = Failure::from_lib(&e);
            if e.kind() == ErrorKind::Busy {
                failure.code = wait.conflict_exit_code;
            }
            failure
        })
}

async fn acquire_within(
    manager: &LockManager,
    resource: &str,
    ttl: Duration,
    wait: Duration,
) -> Result<Lease, redlease::Error> {
    let start = Instant::now();
    let first = manager
        .acquire_for(resource, ttl, wait.min(UNAVAILABLE_GRACE))
        .await;
    let outcome = match first {
        Err(e) if matches!(e.kind(), ErrorKind::Busy | ErrorKind::ValiditySpent) => {
            let left = wait.saturating_sub(start.elapsed());
            if left.is_zero() {
                Err(e)
            } else {
                manager.acquire_for(resource, ttl, left).await
            }
        }
        other => other,
    };
    if outcome.is_err() {
        // The last attempt's clean-up runs in the background; the process is about to
        // exit, so let it finish (bounded) rather than leave keys until their ttl.
        manager.flush(CLEANUP_GRACE).await;
    }
    outcome
}

/// How long a failing command waits for its last attempt's clean-up before exiting.
pub const CLEANUP_GRACE: Duration = Duration::from_secs(1);
