//! `redlease acquire`: take a lease and hand it to the caller as JSON.
//!
//! The lease must outlive this process (a script acquires, works, then releases with
//! the owner value), so it is forgotten rather than released on exit, and not renewed:
//! it ends at its ttl unless extended or released.

use crate::cli::{AcquireArgs, Cli};
use crate::exit::Failure;
use crate::output::print_lease;

/// Acquire, print, forget.
pub async fn run(cli: &Cli, args: &AcquireArgs) -> Result<u8, Failure> {
    let manager = crate::connect::manager(cli, args.ttl.ttl).await?;
    let lease = crate::waiting::acquire(&manager, &args.resource, args.ttl.ttl, args.wait).await?;
    print_lease(&lease.forget())?;
    Ok(crate::exit::OK)
}
