//! `redlease-bench`: the scenario runner, redlease against the raw redis-rs floor.
//!
//! A binary of its own, not a part of the `redlease` command: the command is what users
//! install on their servers, and it should not carry a benchmark runner, an SVG writer and
//! the floor's lock. `redlease bench ARGS...` finds this program next to itself or on
//! `PATH` and runs it, as `cargo foo` runs `cargo-foo`; it hands `--servers` and
//! `--node-timeout` over as `REDLEASE_SERVERS` and `REDLEASE_NODE_TIMEOUT`, which is why
//! both are read from the environment here. Example:
//!
//! ```text
//! cargo run --release -p redlease-bench --bin redlease-bench -- --nodes 1,3 --ops 2000 --svg target/bench
//! ```

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

use std::process::ExitCode;

use clap::Parser;
use clap::error::ErrorKind;
use redlease_bench::args::{BenchArgs, Endpoints, execute};

/// Exit status when every lock held (no lost update, no overlap).
const OK: u8 = 0;
/// Exit status when a lock let two holders in (lost updates or overlaps were counted).
const VIOLATIONS: u8 = 1;
/// EX_USAGE: invalid flags.
const USAGE: u8 = 64;
/// EX_UNAVAILABLE: the run could not be done (servers, files, options out of range).
const UNAVAILABLE: u8 = 69;

/// Benchmark redlease against a raw redis-rs floor on throwaway local redis-servers.
///
/// Scenarios: uncontended (one worker), distinct (32 workers, one key each), contended
/// (8 workers, one key; a non-atomic counter checks for violations). Starts its own local
/// redis-servers unless --servers is given (loopback only). Prints ops/s, p50, p99, the
/// busiest worker's share and violations; --json for machines, --svg DIR for latency
/// charts.
///
/// Exit codes: 0 every lock held; 1 violations were counted; 64 invalid usage; 69 the run
/// could not be done.
#[derive(Parser)]
#[command(name = "redlease-bench", version)]
struct Cli {
    #[command(flatten)]
    bench: BenchArgs,
    #[command(flatten)]
    endpoints: Endpoints,
}

#[tokio::main]
async fn main() -> ExitCode {
    let mut cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(match e.kind() {
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => OK,
                _ => USAGE,
            });
        }
    };
    cli.endpoints.apply(&mut cli.bench);
    let options = cli.bench.options(&[1]);
    match execute(&cli.bench, &options).await {
        Ok(report) if report.violations() == 0 => ExitCode::from(OK),
        Ok(_) => ExitCode::from(VIOLATIONS),
        Err(e) => {
            eprintln!("redlease-bench: {e}");
            ExitCode::from(UNAVAILABLE)
        }
    }
}
