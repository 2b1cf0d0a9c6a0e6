//! `redlease sandbox`: throwaway local servers to try redlease with.
//!
//! The first stdout line is machine-readable (`REDLEASE_SERVERS=...`) so that scripts
//! and tests can read it and go; the servers live until SIGINT or SIGTERM, and are then
//! killed by pid, so nothing is left running behind.

use crate::cli::SandboxArgs;
use crate::exit::{self, Failure};
use crate::output::print_line;
use crate::signals::{self, Signals};

/// Start the servers, print where they are, wait for a signal, stop them.
pub async fn run(args: &SandboxArgs) -> Result<u8, Failure> {
    let mut signals = Signals::install().map_err(|e| {
        Failure::new(
            exit::INTERNAL,
            format!("cannot install signal handlers: {e}"),
        )
    })?;
    let cluster = crate::local::start(usize::from(args.nodes), args.port)?;
    let servers = cluster.urls().join(",");
    print_line(&format!("REDLEASE_SERVERS={servers}"))?;
    let quorum = redlease::protocol::quorum(usize::from(args.nodes));
    for hint in [
        format!(
            "# {} redis-server(s) running on 127.0.0.1 (quorum {quorum}); Ctrl-C stops them.",
            args.nodes
        ),
        "# In another shell:".to_owned(),
        format!("#   export REDLEASE_SERVERS={servers}"),
        "#   redlease exec my-job -- sh -c 'echo fencing token $REDLEASE_FENCING_TOKEN'".to_owned(),
        "#   redlease status my-job".to_owned(),
    ] {
        print_line(&hint)?;
    }
    let signal = signals.recv().await;
    drop(cluster);
    crate::warn(&format!(
        "{}: stopped the sandbox servers",
        signals::name(signal)
    ));
    Ok(exit::OK)
}
