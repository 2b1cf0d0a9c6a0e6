//! `redlease bench`: the benchmark scenarios, shipped with the command.
//!
//! The runner lives in the `redlease-bench` crate (shared with its standalone binaries);
//! this only connects it to the command line: the global `--servers` (when given, from
//! the option or `REDLEASE_SERVERS`) and `--node-timeout`, and the exit codes.

use crate::cli::{BenchArgs, Cli};
use crate::exit::{self, Failure};

/// Run the scenarios and print the report.
pub async fn run(cli: &Cli, args: &BenchArgs) -> Result<u8, Failure> {
    let mut args = args.clone();
    args.servers = cli
        .servers
        .iter()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect();
    args.node_timeout = cli.node_timeout;
    let options = args.options(&[1]);
    let report = redlease_bench::args::execute(&args, &options)
        .await
        .map_err(|e| Failure::new(exit::UNAVAILABLE, format!("bench: {e}")))?;
    Ok(if report.violations() == 0 {
        exit::OK
    } else {
        exit::LOST
    })
}
