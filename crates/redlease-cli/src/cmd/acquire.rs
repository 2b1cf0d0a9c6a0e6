//! `redlease acquire`: take a lease and hand it to the caller.
//!
//! The lease must outlive this process (a script acquires, works, then releases with
//! the owner value), so it is forgotten rather than released on exit, and not renewed:
//! it ends at its ttl unless extended or released. The printed line is the only way
//! anyone learns the owner, so if it cannot be written (stdout closed, disk full) the
//! lease is released at once and the command fails with 74: a lease nobody can name would
//! only block the resource until its ttl. Who holds it (the process that ran `acquire`,
//! and the ttl, for `extend`) is recorded with it for `list` and `status`.

use crate::cli::{AcquireArgs, Format};
use crate::exit::{self, Failure};
use crate::holder::Holder;
use crate::output::{LeaseJson, millis};

/// Acquire, print, forget (or release if printing failed).
pub async fn run(args: &AcquireArgs) -> Result<u8, Failure> {
    let ttl = args.ttl.ttl;
    let manager = crate::connect::manager(&args.connection, ttl).await?;
    let lease = crate::waiting::acquire(&manager, &args.resource, ttl, &args.wait).await?;
    // Minted by the acquisition (the CLI's managers mint there): at once.
    let fencing_token = match lease.fencing_token().await {
        Ok(token) => token,
        Err(e) => {
            let failure = Failure::from(e);
            // Nothing was printed: nobody could name this lease.
            let _ = lease.release().await;
            return Err(failure);
        }
    };
    crate::holder::describe(&lease, &Holder::acquire(ttl), crate::warn).await;
    let line = LeaseJson {
        resource: lease.resource(),
        owner: lease.owner(),
        fencing_token,
        validity_ms: millis(lease.remaining()),
    };
    let printed = write_checked(&line, args.format.format);
    if let Err(failure) = printed {
        let released = lease.release().await;
        let what = match released {
            Ok(()) => "the lease was released".to_owned(),
            Err(e) => format!(
                "releasing the lease failed too ({e}); it expires by itself within {}",
                humantime::format_duration(ttl)
            ),
        };
        return Err(Failure::new(
            exit::IO,
            format!("{}; {what}", failure.message),
        ));
    }
    let _ = lease.forget();
    Ok(exit::OK)
}

/// Print the line; a stdout that was closed counts as a failure too (Rust's runtime has
/// put `/dev/null` there, where writes succeed).
fn write_checked(line: &LeaseJson<'_>, format: Format) -> Result<(), Failure> {
    if crate::output::stdout_closed() {
        return Err(Failure::new(
            exit::IO,
            "cannot write the output: stdout is closed",
        ));
    }
    crate::output::print_data(line, format)
}
