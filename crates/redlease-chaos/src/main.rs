//! `redlease-chaos`: prints the fault-injection table, or runs as a worker.
//!
//! One binary for both roles so that the runner can start workers as real
//! processes (which it must, to freeze one with SIGSTOP) without a second
//! build target: `redlease-chaos worker --config <json>` is the worker.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use redlease_chaos::probe::{self, ProbeOptions, ProbeOutcome};
use redlease_chaos::report::{self, Row};
use redlease_chaos::run::{self, RunOptions, Timing};
use redlease_chaos::scenario::{self, Scenario};
use redlease_chaos::worker;

/// Fault-injection runs of redlease against real redis-servers: prints, per
/// scenario, critical sections, violations, stale accesses, losses,
/// availability and acquire latency.
#[derive(Parser)]
#[command(name = "redlease-chaos", version)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Critical sections per scenario (all workers together).
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    sections: u32,
    /// Lock nodes (default: 5, then 1).
    #[arg(long, value_parser = clap::value_parser!(u8).range(1..=9))]
    nodes: Option<u8>,
    /// Only these scenarios (repeatable; see `list`).
    #[arg(long = "scenario")]
    scenarios: Vec<String>,
    /// Worker processes.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u8).range(2..=16))]
    workers: u8,
    /// Lease ttl, ms.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(200..=10_000))]
    ttl_ms: u64,
    /// Per-node timeout, ms.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(5..=1000))]
    node_timeout_ms: u64,
    /// Longest one scenario may run, s.
    #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u64).range(10..=3600))]
    limit_secs: u64,
    /// Seed of the random choices.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Print the rows as JSON instead of a table.
    #[arg(long)]
    json: bool,
    /// Workers take no fencing tokens (the library's `fencing(false)`): checks mutual
    /// exclusion on the unfenced path; token order and stale accesses are not checked.
    #[arg(long)]
    no_fencing: bool,
}

#[derive(Subcommand)]
enum Command {
    /// List the scenarios and the probes.
    List,
    /// Run probes: precise fault sequences played in-process (all, or those named).
    Probe {
        /// Only these probes (see `list`).
        names: Vec<String>,
        /// Rounds of each probe's sequence (scales its counts).
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=100))]
        rounds: u32,
    },
    /// Run as a worker (started by the runner itself).
    #[command(hide = true)]
    Worker {
        /// The worker's configuration, as JSON.
        #[arg(long)]
        config: String,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match &cli.command {
        Some(Command::Worker { config }) => return worker::main(config),
        Some(Command::List) => {
            for s in scenario::all() {
                println!("{:<24} {}", s.name, s.about);
            }
            println!("\nprobes (redlease-chaos probe NAME):");
            for p in probe::all() {
                println!("{:<24} {} [{}]", p.name, p.about, p.guards);
            }
            return ExitCode::SUCCESS;
        }
        Some(Command::Probe { names, rounds }) => return probes(&cli, names, *rounds),
        None => {}
    }
    let scenarios = match selected(&cli.scenarios) {
        Ok(s) => s,
        Err(unknown) => {
            eprintln!("redlease-chaos: unknown scenario {unknown:?}; see `redlease-chaos list`");
            return ExitCode::from(2);
        }
    };
    let worker_exe = match std::env::current_exe() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("redlease-chaos: cannot find my own binary: {e}");
            return ExitCode::FAILURE;
        }
    };
    let node_counts: Vec<usize> = cli.nodes.map_or(vec![5, 1], |n| vec![usize::from(n)]);
    let mut rows: Vec<Row> = Vec::new();
    let mut could_not_run = false;
    for nodes in node_counts {
        for s in &scenarios {
            let options = options(&cli, nodes, worker_exe.clone());
            match run::run(s, &options) {
                Ok(outcome) => {
                    let row = outcome.row();
                    eprintln!(
                        "{:<23} N={nodes}: {} sections in {:.1} s{}",
                        s.name,
                        row.sections,
                        row.seconds,
                        if row.ok { "" } else { " FAILED" }
                    );
                    rows.push(row);
                }
                Err(e) => {
                    eprintln!("redlease-chaos: {} (N={nodes}) could not run: {e}", s.name);
                    could_not_run = true;
                }
            }
        }
    }
    let mut out = std::io::stdout().lock();
    let printed = if cli.json {
        serde_json::to_string_pretty(&rows)
            .map_err(std::io::Error::other)
            .and_then(|json| writeln!(out, "{json}"))
    } else {
        write!(out, "{}", report::table(&rows))
    };
    if printed.is_err() {
        return ExitCode::FAILURE;
    }
    if !could_not_run && rows.iter().all(|r| r.ok) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// The `probe` subcommand: runs the probes, prints their results, exits 1 if any
/// found a violation or could not run.
fn probes(cli: &Cli, names: &[String], rounds: u32) -> ExitCode {
    let selected: Vec<probe::Probe> = if names.is_empty() {
        probe::all()
    } else {
        match names
            .iter()
            .map(|n| probe::by_name(n).ok_or_else(|| n.clone()))
            .collect::<Result<Vec<_>, _>>()
        {
            Ok(p) => p,
            Err(unknown) => {
                eprintln!("redlease-chaos: unknown probe {unknown:?}; see `redlease-chaos list`");
                return ExitCode::from(2);
            }
        }
    };
    let options = ProbeOptions {
        rounds: rounds as usize,
        limit: Duration::from_secs(cli.limit_secs),
    };
    let mut outcomes: Vec<ProbeOutcome> = Vec::new();
    let mut could_not_run = false;
    for p in selected {
        match p.run(&options) {
            Ok(outcome) => {
                eprintln!(
                    "{:<21} {} violations in {:.1} s",
                    p.name,
                    outcome.violations.len(),
                    outcome.seconds
                );
                outcomes.push(outcome);
            }
            Err(e) => {
                eprintln!("redlease-chaos: probe {} could not run: {e}", p.name);
                could_not_run = true;
            }
        }
    }
    let mut out = std::io::stdout().lock();
    let printed = if cli.json {
        serde_json::to_string_pretty(&outcomes)
            .map_err(std::io::Error::other)
            .and_then(|json| writeln!(out, "{json}"))
    } else {
        write!(out, "{}", probe::table(&outcomes))
    };
    if printed.is_err() {
        return ExitCode::FAILURE;
    }
    if !could_not_run && outcomes.iter().all(|o| o.violations.is_empty()) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn selected(names: &[String]) -> Result<Vec<Scenario>, String> {
    if names.is_empty() {
        return Ok(scenario::all());
    }
    names
        .iter()
        .map(|n| scenario::by_name(n).ok_or_else(|| n.clone()))
        .collect()
}

fn options(cli: &Cli, nodes: usize, worker_exe: PathBuf) -> RunOptions {
    let ttl = Duration::from_millis(cli.ttl_ms);
    RunOptions {
        nodes,
        sections: cli.sections as usize,
        workers: usize::from(cli.workers),
        timing: Timing {
            ttl,
            node_timeout: Duration::from_millis(cli.node_timeout_ms).min(ttl / 4),
            wait: ttl.mul_f64(1.5),
        },
        worker_exe,
        limit: Duration::from_secs(cli.limit_secs),
        seed: cli.seed,
        fencing: !cli.no_fencing,
    }
}
