//! `redlease extend`: push back the end of a lease acquired by an earlier `acquire`.
//!
//! Only the owner value links this process to the lease, so a lease that expired or was
//! taken over is reported plainly (exit 1) rather than as a generic "lost" error.

use crate::cli::ExtendArgs;
use crate::exit::{Failure, NOT_HELD};
use crate::output::print_lease;

/// Extend, print the new validity.
pub async fn run(args: &ExtendArgs) -> Result<u8, Failure> {
    let manager = crate::connect::manager(&args.connection, args.ttl.ttl).await?;
    let lease = match manager
        .extend_owner(&args.resource, &args.owner, args.ttl.ttl)
        .await
    {
        Ok(lease) => lease,
        Err(e) if e.is_lost() => {
            return Err(Failure::new(
                NOT_HELD,
                format!(
                    "cannot extend {:?}: owner {:?} does not hold it (it expired, was released, or the owner is wrong); acquire it again",
                    args.resource, args.owner
                ),
            ));
        }
        Err(e) => return Err(e.into()),
    };
    print_lease(&lease.forget(), args.format.format)?;
    Ok(crate::exit::OK)
}
