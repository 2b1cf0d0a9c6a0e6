//! `compare`: redlease, the raw redis-rs floor and rslock, in the same rounds.
//!
//! rslock is what a Rust user would most likely pick instead of redlease, so the honest
//! question is how the two compare on the same machine, servers and connections. This runs
//! the three scenarios (uncontended, distinct keys, contended) on 1 and 5 nodes by default,
//! with the implementations taking turns in every round. Needs the `rslock` feature:
//!
//! ```text
//! cargo run --release -p redlease-bench --features rslock --bin compare -- --ops 500
//! ```

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

use std::process::ExitCode;

use clap::Parser;
use redlease_bench::args::{BenchArgs, Endpoints, execute};

/// Compare redlease with rslock and a raw redis-rs floor on throwaway local redis-servers.
#[derive(Parser)]
#[command(name = "compare", version)]
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
    let mut options = cli.bench.options(&[1, 5]);
    options.rslock = true;
    match execute(&cli.bench, &options).await {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("compare: {e}");
            ExitCode::FAILURE
        }
    }
}
