//! `redlease extend`: push back the end of a lease acquired by an earlier `acquire`.
//!
//! Only the owner value links this process to the lease, so a lease that expired or was
//! taken over is reported plainly (exit 1) rather than as a generic "lost" error.
//!
//! Without `--ttl` the lease keeps its own ttl: the one its holder recorded with it when
//! it acquired it (`acquire` and `exec` do). A default from elsewhere would silently cut
//! a one-minute lease to ten seconds, so a lease without that record needs `--ttl`.

use std::time::Duration;

use redlease::LockManager;

use crate::cli::ExtendArgs;
use crate::exit::{Failure, NOT_HELD, UNAVAILABLE, USAGE};
use crate::output::print_lease;

/// Extend, print the new validity.
pub async fn run(args: &ExtendArgs) -> Result<u8, Failure> {
    let manager_ttl = args.ttl.unwrap_or(redlease::config::DEFAULT_TTL);
    let manager = crate::connect::manager(&args.connection, manager_ttl).await?;
    let ttl = match args.ttl {
        Some(ttl) => ttl,
        None => recorded_ttl(&manager, args).await?,
    };
    let lease = match manager.extend_owner(&args.resource, &args.owner, ttl).await {
        Ok(lease) => lease,
        Err(e) if e.is_lost() => return Err(not_held(args)),
        Err(e) => return Err(e.into()),
    };
    print_lease(&lease.forget(), args.format.format)?;
    Ok(crate::exit::OK)
}

/// The ttl the holder recorded when it acquired the lease.
async fn recorded_ttl(manager: &LockManager, args: &ExtendArgs) -> Result<Duration, Failure> {
    let status = manager.status(&args.resource).await?;
    let reachable = status.nodes.iter().filter(|n| n.reply.is_ok()).count();
    if reachable < manager.quorum() {
        return Err(super::status::refusal(&status).unwrap_or_else(|| {
            Failure::new(
                UNAVAILABLE,
                format!(
                    "cannot read the lease on {:?}: only {reachable} of {} servers answered, a quorum is {}; check that the servers are running and reachable",
                    args.resource,
                    status.nodes.len(),
                    manager.quorum()
                ),
            )
        }));
    }
    if status.holder.as_deref() != Some(args.owner.as_str()) {
        return Err(not_held(args));
    }
    status
        .holder_info
        .as_deref()
        .map(crate::holder::Holder::parse)
        .and_then(|h| h.ttl())
        .ok_or_else(|| {
            Failure::new(
                USAGE,
                format!(
                    "the lease on {:?} has no recorded ttl (it was not acquired by `redlease acquire` or `exec`, or its holder could not record it): give the new ttl with --ttl, e.g. --ttl 30s",
                    args.resource
                ),
            )
        })
}

fn not_held(args: &ExtendArgs) -> Failure {
    Failure::new(
        NOT_HELD,
        format!(
            "cannot extend {:?}: owner {:?} does not hold it (it expired, was released, or the owner is wrong); acquire it again",
            args.resource, args.owner
        ),
    )
}
