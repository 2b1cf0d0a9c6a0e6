//! Command-line arguments for the scenario runner, and printing its report.
//!
//! [`BenchArgs`] is a `clap::Args`, so the bench binaries (`redlease-bench`, which
//! `redlease bench` runs, and `compare`) share one set of flags (`#[command(flatten)]`) and one
//! [`execute`] that runs, prints a table or JSON, and writes SVG charts when asked.

use std::path::PathBuf;
use std::time::Duration;

use crate::error::BenchError;
use crate::options::{FencingMode, Options, Scenario};
use crate::report::Report;

/// Flags of the scenario runner.
#[derive(Debug, Clone, clap::Args)]
pub struct BenchArgs {
    /// Scenarios to run (comma-separated). Default: all.
    #[arg(long, value_enum, value_delimiter = ',')]
    pub scenario: Vec<Scenario>,
    /// Node counts (comma-separated): for each, a throwaway local cluster of that many
    /// redis-servers is started.
    #[arg(long, value_delimiter = ',')]
    pub nodes: Option<Vec<usize>>,
    /// Redis Cluster sizes (comma-separated): for each, a throwaway local Redis Cluster of
    /// that many shards is the one lock node (instead of --nodes); the redis cpu/op column
    /// covers every shard. The raw floors are left out (they speak to plain servers).
    #[arg(long, value_delimiter = ',', conflicts_with = "nodes")]
    pub shards: Vec<usize>,
    /// Use these loopback servers instead of starting local ones. Not a flag here: the
    /// binaries fill it from [`Endpoints`].
    #[arg(skip)]
    pub servers: Vec<String>,
    /// Workers (default: 1 uncontended, 32 distinct, 8 contended).
    #[arg(long)]
    pub clients: Option<usize>,
    /// Lock/unlock pairs per implementation and round, over all workers.
    #[arg(long, default_value_t = 2_000)]
    pub ops: u64,
    /// Rounds; the implementations take turns in each, medians are reported.
    #[arg(long, default_value_t = 3)]
    pub rounds: usize,
    /// Untimed pairs per implementation before the first round.
    #[arg(long, default_value_t = 100)]
    pub warmup: u64,
    /// redlease's fencing tokens: on (every token asked for), off, both (on, off and, with
    /// several nodes, never asked for), all (both, plus minted at acquisition), unasked or
    /// at-acquire alone.
    #[arg(long, value_enum, default_value_t = FencingMode::On)]
    pub fencing: FencingMode,
    /// Leave out the raw redis-rs floors.
    #[arg(long)]
    pub no_floor: bool,
    /// Leave out redlease: the floors (and rslock) alone, e.g. to count the floor's
    /// instructions per pair (scripts/callgrind.sh).
    #[arg(long)]
    pub no_redlease: bool,
    /// Also run rslock (needs the `rslock` feature).
    #[arg(long)]
    pub rslock: bool,
    /// Back-date redlease's delayed-restart markers on the given --servers before the
    /// run, as in a deployment in use for longer than max_ttl (always done on the
    /// bench's own servers). An operator action: only on servers no lease relies on.
    #[arg(long)]
    pub markers_ready: bool,
    /// Lease ttl.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "10s")]
    pub ttl: Duration,
    /// Longest a contended acquire waits.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "10s")]
    pub wait: Duration,
    /// Per-node timeout (default: redlease's, 1 % of the ttl within 10-250 ms). Filled
    /// like `servers`.
    #[arg(skip)]
    pub node_timeout: Option<Duration>,
    /// Extra time spent inside each critical section.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "0s")]
    pub hold: Duration,
    /// Uncontended: a new key for every pair instead of the same free key.
    #[arg(long)]
    pub distinct_keys: bool,
    /// Bound on one implementation's round.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "60s")]
    pub max_run: Duration,
    /// Print the report as JSON instead of tables.
    #[arg(long)]
    pub json: bool,
    /// Also write the JSON report to this file (whatever is printed).
    #[arg(long, value_name = "FILE")]
    pub json_file: Option<PathBuf>,
    /// Write one SVG latency chart per scenario into this directory.
    #[arg(long, value_name = "DIR")]
    pub svg: Option<PathBuf>,
    /// No progress bar (it is also hidden when stderr is not a terminal).
    #[arg(long)]
    pub no_progress: bool,
}

/// `--servers` and `--node-timeout` for the bench binaries, also read from
/// `REDLEASE_SERVERS` and `REDLEASE_NODE_TIMEOUT` (how `redlease bench` hands its own
/// global options over).
#[derive(Debug, Clone, clap::Args)]
pub struct Endpoints {
    /// Use these loopback servers instead of starting local ones (comma-separated URLs).
    #[arg(
        long,
        value_delimiter = ',',
        env = "REDLEASE_SERVERS",
        hide_env_values = true
    )]
    pub servers: Vec<String>,
    /// Per-node timeout (default: redlease's, 1 % of the ttl within 10-250 ms).
    #[arg(long, value_parser = humantime::parse_duration, env = "REDLEASE_NODE_TIMEOUT")]
    pub node_timeout: Option<Duration>,
}

impl Endpoints {
    /// Copy into the runner's flags.
    pub fn apply(&self, args: &mut BenchArgs) {
        // A blank entry (an empty `REDLEASE_SERVERS`) means "start local servers"; the
        // commas inside cluster and Sentinel URLs were split too: rejoin them.
        args.servers = redlease::config::rejoin_server_list(&self.servers);
        args.node_timeout = self.node_timeout;
    }
}

impl BenchArgs {
    /// The options these flags describe; `default_nodes` when `--nodes` is not given.
    pub fn options(&self, default_nodes: &[usize]) -> Options {
        Options {
            scenarios: if self.scenario.is_empty() {
                Scenario::ALL.to_vec()
            } else {
                self.scenario.clone()
            },
            nodes: self.nodes.clone().unwrap_or_else(|| default_nodes.to_vec()),
            servers: self.servers.clone(),
            shards: self.shards.clone(),
            clients: self.clients,
            ops: self.ops,
            rounds: self.rounds,
            warmup: self.warmup.min(self.ops),
            fencing: self.fencing,
            floor: !self.no_floor,
            redlease: !self.no_redlease,
            rslock: self.rslock,
            ttl: self.ttl,
            wait: self.wait,
            node_timeout: self.node_timeout,
            hold: self.hold,
            distinct_keys: self.distinct_keys,
            max_run: self.max_run,
            progress: !self.no_progress && !self.json,
            markers_ready: self.markers_ready,
        }
    }
}

/// Run `options`, then print the report (JSON with `--json`, tables otherwise) and write
/// the SVG charts if `--svg` was given.
pub async fn execute(args: &BenchArgs, options: &Options) -> Result<Report, BenchError> {
    let report = crate::runner::run(options).await?;
    if args.json {
        println!("{}", report.to_json()?);
    } else {
        print!("{}", report.render_table());
    }
    if let Some(path) = &args.json_file {
        std::fs::write(path, report.to_json()?)
            .map_err(|e| BenchError::io(format!("writing {}", path.display()), e))?;
        eprintln!("wrote {}", path.display());
    }
    if let Some(dir) = &args.svg {
        for path in write_charts(&report, dir)? {
            eprintln!("wrote {}", path.display());
        }
    }
    Ok(report)
}

/// Write one chart per scenario report into `dir` (created if needed); returns the paths.
pub fn write_charts(report: &Report, dir: &std::path::Path) -> Result<Vec<PathBuf>, BenchError> {
    std::fs::create_dir_all(dir)
        .map_err(|e| BenchError::io(format!("creating {}", dir.display()), e))?;
    let mut paths = Vec::new();
    for s in &report.scenarios {
        let path = dir.join(format!("{}-k{}.svg", s.scenario, s.nodes));
        std::fs::write(&path, crate::svg::scenario_chart(s))
            .map_err(|e| BenchError::io(format!("writing {}", path.display()), e))?;
        paths.push(path);
    }
    Ok(paths)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        bench: BenchArgs,
    }

    #[test]
    fn flags_map_to_options() {
        let cli = Cli::parse_from([
            "x",
            "--scenario",
            "contended,distinct",
            "--nodes",
            "1,3",
            "--ops",
            "50",
            "--ttl",
            "2s",
            "--fencing",
            "both",
            "--markers-ready",
        ]);
        let o = cli.bench.options(&[5]);
        assert!(o.markers_ready);
        assert_eq!(o.scenarios, [Scenario::Contended, Scenario::Distinct]);
        assert_eq!(o.nodes, [1, 3]);
        assert_eq!(o.ops, 50);
        assert_eq!(o.warmup, 50, "warm-up capped at ops");
        assert_eq!(o.ttl, Duration::from_secs(2));
        assert_eq!(o.fencing, FencingMode::Both);
        o.validate().unwrap();

        let defaults = Cli::parse_from(["x"]).bench.options(&[1, 5]);
        assert_eq!(defaults.nodes, [1, 5]);
        assert_eq!(defaults.scenarios, Scenario::ALL);
        assert!(
            !defaults.markers_ready,
            "an operator action: only when asked for"
        );
    }
}
