//! `redlease release`: give back a lease acquired by an earlier `acquire`.
//!
//! Releasing is idempotent on the servers, but a caller that releases a lease it no
//! longer held has a bug or a lost lease to look at, so that case exits 1.

use crate::cli::ReleaseArgs;
use crate::exit::{Failure, NOT_HELD};
use crate::output::{ReleasedJson, print_data};

/// Release, print confirmation.
pub async fn run(args: &ReleaseArgs) -> Result<u8, Failure> {
    let manager = crate::connect::manager(&args.connection, redlease::config::DEFAULT_TTL).await?;
    if !manager.release_owner(&args.resource, &args.owner).await? {
        return Err(Failure::new(
            NOT_HELD,
            format!(
                "{:?} was not held by owner {:?} on any server (it expired, was released already, or the owner is wrong); nothing to release",
                args.resource, args.owner
            ),
        ));
    }
    print_data(
        &ReleasedJson {
            resource: &args.resource,
            owner: &args.owner,
            released: true,
        },
        args.format.format,
    )?;
    Ok(crate::exit::OK)
}
