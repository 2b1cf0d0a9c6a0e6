//! `scenarios`: the runner on its own, redlease against the raw redis-rs floor.
//!
//! The same flags as the `redlease` CLI's future `bench` subcommand (they share
//! [`redlease_bench::args::BenchArgs`]); exists so the runner can be used before, and
//! without, the CLI. Example:
//!
//! ```text
//! cargo run --release -p redlease-bench --bin scenarios -- --nodes 1,3 --ops 2000 --svg target/bench
//! ```

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

use std::process::ExitCode;

use clap::Parser;
use redlease_bench::args::{BenchArgs, Endpoints, execute};

/// Benchmark redlease against a raw redis-rs floor on throwaway local redis-servers.
#[derive(Parser)]
#[command(name = "scenarios", version)]
struct Cli {
    #[command(flatten)]
    bench: BenchArgs,
    #[command(flatten)]
    endpoints: Endpoints,
}

#[tokio::main]
async fn main() -> ExitCode {
    let mut cli = Cli::parse();
    cli.endpoints.apply(&mut cli.bench);
    let options = cli.bench.options(&[1]);
    match execute(&cli.bench, &options).await {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("scenarios: {e}");
            ExitCode::FAILURE
        }
    }
}
