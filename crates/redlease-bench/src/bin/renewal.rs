//! `renewal`: can one process keep 10,000 leases alive, on time, cheaply?
//!
//! A thin command line over [`redlease_bench::soak`]: starts a throwaway local cluster
//! (or uses the given loopback servers), runs the soak, prints a table (or JSON) and exits
//! non-zero if any lease was lost. Example:
//!
//! ```text
//! cargo run --release -p redlease-bench --bin renewal -- --leases 10000 --nodes 3 --ttl 3s --seconds 20
//! ```

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use redlease_bench::soak::{self, SoakOptions, SoakOutcome};

/// Hold many kept-alive leases in one process and check that renewal keeps up.
#[derive(Parser, Debug)]
#[command(name = "renewal", version)]
struct Cli {
    /// Leases to acquire and keep alive (1 to 200,000).
    #[arg(long, default_value_t = 10_000)]
    leases: usize,
    /// Start a throwaway local cluster of this many redis-servers (1 to 9).
    #[arg(long, default_value_t = 1)]
    nodes: usize,
    /// Use these loopback servers instead (comma-separated URLs).
    #[arg(long, value_delimiter = ',', conflicts_with = "nodes")]
    servers: Vec<String>,
    /// Lease ttl.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "3s")]
    ttl: Duration,
    /// How long to hold the leases, in seconds (1 to 3600).
    #[arg(long, default_value_t = 20)]
    seconds: u64,
    /// Renew every ttl * fraction.
    #[arg(long, default_value_t = 1.0 / 3.0)]
    fraction: f64,
    /// Acquisitions in flight at once.
    #[arg(long, default_value_t = 500)]
    batch: usize,
    /// Tolerance below the on-time minimum before a check counts a missed tick.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "50ms")]
    slack: Duration,
    /// Per-node timeout (default: redlease's).
    #[arg(long, value_parser = humantime::parse_duration)]
    node_timeout: Option<Duration>,
    /// Acquire without fencing tokens.
    #[arg(long)]
    no_fencing: bool,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let options = SoakOptions {
        leases: cli.leases,
        ttl: cli.ttl,
        hold: Duration::from_secs(cli.seconds),
        fraction: cli.fraction,
        batch: cli.batch,
        slack: cli.slack,
        node_timeout: cli.node_timeout,
        fencing: !cli.no_fencing,
        progress: !cli.json,
    };
    if let Err(e) = options.validate() {
        eprintln!("renewal: {e}");
        return ExitCode::FAILURE;
    }
    if cli.servers.is_empty() && !(1..=9).contains(&cli.nodes) {
        eprintln!("renewal: --nodes {} is out of range (1 to 9)", cli.nodes);
        return ExitCode::FAILURE;
    }
    let cluster = if cli.servers.is_empty() {
        let nodes = cli.nodes;
        match tokio::task::spawn_blocking(move || redlease_testkit::Cluster::start(nodes)).await {
            Ok(Ok(c)) => Some(c),
            Ok(Err(e)) => {
                eprintln!("renewal: could not start redis-servers: {e}");
                return ExitCode::FAILURE;
            }
            Err(e) => {
                eprintln!("renewal: could not start redis-servers: {e}");
                return ExitCode::FAILURE;
            }
        }
    } else {
        None
    };
    let (urls, pids): (Vec<String>, Option<Vec<u32>>) = match &cluster {
        Some(c) => (
            c.urls(),
            Some(c.nodes().iter().filter_map(|n| n.pid()).collect()),
        ),
        None => (cli.servers.clone(), None),
    };
    let result = soak::run(&options, &urls, pids.as_deref()).await;
    if let Some(cluster) = cluster {
        // Dropping kills and reaps the servers: blocking work, off the runtime.
        let _ = tokio::task::spawn_blocking(move || drop(cluster)).await;
    }
    match result {
        Ok(outcome) => report(&outcome, cli.json),
        Err(e) => {
            eprintln!("renewal: {e}");
            ExitCode::FAILURE
        }
    }
}

fn report(outcome: &SoakOutcome, json: bool) -> ExitCode {
    if json {
        match serde_json::to_string_pretty(outcome) {
            Ok(text) => println!("{text}"),
            Err(e) => {
                eprintln!("renewal: {e}");
                return ExitCode::FAILURE;
            }
        }
    } else {
        print!("{}", outcome.render());
    }
    if outcome.all_held() {
        ExitCode::SUCCESS
    } else {
        eprintln!("renewal: leases were lost or never held");
        ExitCode::FAILURE
    }
}
