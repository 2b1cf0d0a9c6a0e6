//! Building the lock manager from the global options.
//!
//! Every command that talks to servers starts here, so `--servers`,
//! `REDLEASE_SERVERS` and `--node-timeout` mean the same thing everywhere. Bad URLs
//! come back as usage errors (exit 64); servers that are down are not an error yet:
//! they count as failed votes when the lock is used.

use std::time::Duration;

use redlease::LockManager;

use crate::cli::Cli;
use crate::exit::Failure;

/// A manager for the servers of the command line, with `ttl` as its default ttl.
pub async fn manager(cli: &Cli, ttl: Duration) -> Result<LockManager, Failure> {
    let mut builder = LockManager::builder().servers(cli.servers()).ttl(ttl);
    if let Some(timeout) = cli.node_timeout {
        builder = builder.node_timeout(timeout);
    }
    builder.build().await.map_err(Failure::from)
}
