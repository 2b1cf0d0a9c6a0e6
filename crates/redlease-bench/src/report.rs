//! The report: every number a run produced, as JSON for machines and a table for people.
//!
//! Per scenario and implementation it keeps each round and the medians over rounds
//! (throughput, acquire-wait p50/p99, busiest worker's share, CPU per operation), the
//! correctness counters (violations, overlaps, errors), the latency distribution in
//! log-scaled buckets, and the ratios to the raw floors. It also says where things ran
//! (cores, whether the redis-servers share the machine with the client), since on a small
//! shared machine that explains much of what the numbers show.

use std::fmt::Write as _;

use serde::Serialize;

use crate::error::BenchError;
use crate::options::{FencingMode, Implementation, Scenario};
use crate::stats::LatencyBucket;
use crate::table::{Table, fmt_rate, fmt_ratio, fmt_share, fmt_us};

/// Everything one run measured.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Always `redlease-bench`.
    pub tool: &'static str,
    /// This crate's version.
    pub version: &'static str,
    /// Where the client and the servers ran.
    pub placement: Placement,
    /// The options in force.
    pub settings: Settings,
    /// One entry per (node count, scenario), in run order.
    pub scenarios: Vec<ScenarioReport>,
}

/// Where the client and the servers ran.
#[derive(Debug, Clone, Serialize)]
pub struct Placement {
    /// Cores this process may use (`std::thread::available_parallelism`).
    pub cores: usize,
    /// Worker threads of the client's Tokio runtime.
    pub runtime_workers: usize,
    /// The redis-servers were started by the bench on this machine.
    pub servers_started_here: bool,
    /// The redis-servers and the client share this machine's cores (true for local and
    /// loopback servers, which is all this bench talks to).
    pub servers_share_machine: bool,
    /// A sentence for people.
    pub note: String,
}

/// The options a run used.
#[derive(Debug, Clone, Serialize)]
pub struct Settings {
    /// Pairs per implementation and round.
    pub ops: u64,
    /// Rounds.
    pub rounds: usize,
    /// Untimed pairs per implementation before the first round.
    pub warmup: u64,
    /// Lease ttl, ms.
    pub ttl_ms: u64,
    /// Longest contended wait, ms.
    pub wait_ms: u64,
    /// Per-node timeout, ms (redlease and the floor).
    pub node_timeout_ms: u64,
    /// Time inside each critical section, µs.
    pub hold_us: u64,
    /// Uncontended used a new key per pair.
    pub distinct_keys: bool,
    /// redlease's fencing setting(s).
    pub fencing: FencingMode,
    /// Bound on one implementation's round, s.
    pub max_run_s: u64,
}

/// One scenario on one cluster size.
#[derive(Debug, Clone, Serialize)]
pub struct ScenarioReport {
    /// The scenario.
    pub scenario: Scenario,
    /// Nodes (k).
    pub nodes: usize,
    /// With `--shards`: the shards of the local Redis Cluster that is the one node.
    pub shards: Option<usize>,
    /// Quorum (k/2 + 1).
    pub quorum: usize,
    /// Workers.
    pub clients: usize,
    /// One entry per implementation, in turn order.
    pub results: Vec<ImplResult>,
    /// Each non-floor implementation against each floor.
    pub ratios: Vec<Ratio>,
}

/// One implementation's numbers in one scenario.
#[derive(Debug, Clone, Serialize)]
pub struct ImplResult {
    /// The implementation.
    pub implementation: Implementation,
    /// Median over rounds of completed pairs per second.
    pub ops_per_sec: Option<f64>,
    /// Median over rounds of the acquire-wait median, µs.
    pub p50_us: Option<f64>,
    /// Median over rounds of the acquire-wait 99th percentile, µs.
    pub p99_us: Option<f64>,
    /// Largest acquire wait seen in any round, µs.
    pub max_us: Option<f64>,
    /// Median over rounds of the release-time median, µs.
    pub release_p50_us: Option<f64>,
    /// Median over rounds of the busiest worker's share of the pairs.
    pub busiest_share: Option<f64>,
    /// Lost counter updates, all rounds (must be 0).
    pub violations: u64,
    /// Entries into a critical section someone else was in, all rounds (must be 0).
    pub overlaps: u64,
    /// Failed acquisitions, all rounds, by kind.
    pub errors: ErrorCounts,
    /// Releases reported as failed, all rounds.
    pub release_failures: u64,
    /// Rounds that hit the time bound.
    pub timed_out_rounds: usize,
    /// Median over rounds of this process's CPU time per pair, µs.
    pub client_cpu_us_per_op: Option<f64>,
    /// Median over rounds of the redis-servers' CPU time per pair, µs (local servers only).
    pub server_cpu_us_per_op: Option<f64>,
    /// Every round.
    pub rounds: Vec<RoundResult>,
    /// Acquire-wait distribution over all rounds, log-scaled buckets.
    pub latency_buckets: Vec<LatencyBucket>,
}

/// One implementation's round.
#[derive(Debug, Clone, Serialize)]
pub struct RoundResult {
    /// Round number, from 0.
    pub round: usize,
    /// Pairs completed.
    pub completed: u64,
    /// Failed acquisitions, by kind.
    pub errors: ErrorCounts,
    /// Wall time, s.
    pub elapsed_s: f64,
    /// Pairs per second.
    pub ops_per_sec: Option<f64>,
    /// Acquire wait p50, µs.
    pub p50_us: Option<f64>,
    /// Acquire wait p99, µs.
    pub p99_us: Option<f64>,
    /// Busiest worker's share.
    pub busiest_share: Option<f64>,
    /// Lost updates.
    pub violations: u64,
    /// Overlapping entries.
    pub overlaps: u64,
    /// Client CPU per pair, µs.
    pub client_cpu_us_per_op: Option<f64>,
    /// Server CPU per pair, µs.
    pub server_cpu_us_per_op: Option<f64>,
    /// Hit the time bound.
    pub timed_out: bool,
}

/// Failed acquisitions by kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ErrorCounts {
    /// Still held by someone else when the wait ran out.
    pub busy: u64,
    /// Fewer than a quorum of nodes answered (node timeouts, refused connections).
    pub unavailable: u64,
    /// Anything else (validity spent...).
    pub other: u64,
}

impl ErrorCounts {
    /// All failures.
    pub fn total(&self) -> u64 {
        self.busy + self.unavailable + self.other
    }

    /// Add another count.
    pub fn add(&mut self, other: ErrorCounts) {
        self.busy += other.busy;
        self.unavailable += other.unavailable;
        self.other += other.other;
    }
}

/// One implementation against one floor: throughput ratio (below 1 = slower than the
/// floor) and latency ratios (above 1 = slower than the floor).
#[derive(Debug, Clone, Serialize)]
pub struct Ratio {
    /// The implementation.
    pub implementation: Implementation,
    /// The floor it is compared with.
    pub baseline: Implementation,
    /// ops/s of the implementation / ops/s of the floor.
    pub ops_per_sec: Option<f64>,
    /// p50 of the implementation / p50 of the floor.
    pub p50: Option<f64>,
    /// p99 of the implementation / p99 of the floor.
    pub p99: Option<f64>,
}

impl ScenarioReport {
    /// The ratios of every non-floor implementation to every floor.
    pub fn compute_ratios(results: &[ImplResult]) -> Vec<Ratio> {
        let mut out = Vec::new();
        for r in results.iter().filter(|r| !r.implementation.is_floor()) {
            for f in results.iter().filter(|f| f.implementation.is_floor()) {
                out.push(Ratio {
                    implementation: r.implementation,
                    baseline: f.implementation,
                    ops_per_sec: crate::stats::ratio(r.ops_per_sec, f.ops_per_sec),
                    p50: crate::stats::ratio(r.p50_us, f.p50_us),
                    p99: crate::stats::ratio(r.p99_us, f.p99_us),
                });
            }
        }
        out
    }

    fn ratio(&self, implementation: Implementation, baseline: Implementation) -> Option<&Ratio> {
        self.ratios
            .iter()
            .find(|r| r.implementation == implementation && r.baseline == baseline)
    }

    /// A short title: `contended, 3 nodes (quorum 2), 8 workers`, or with shards
    /// `distinct, 1 Redis Cluster of 3 shards, 32 workers`.
    pub fn title(&self) -> String {
        let workers = format!(
            "{} worker{}",
            self.clients,
            if self.clients == 1 { "" } else { "s" }
        );
        match self.shards {
            Some(shards) => format!(
                "{}, 1 Redis Cluster of {shards} shard{}, {workers}",
                self.scenario,
                if shards == 1 { "" } else { "s" }
            ),
            None => format!(
                "{}, {} node{} (quorum {}), {workers}",
                self.scenario,
                self.nodes,
                if self.nodes == 1 { "" } else { "s" },
                self.quorum,
            ),
        }
    }

    /// This scenario as a table.
    pub fn render_table(&self) -> String {
        let floors: Vec<Implementation> = self
            .results
            .iter()
            .map(|r| r.implementation)
            .filter(|i| i.is_floor())
            .collect();
        let mut header: Vec<String> = [
            "implementation",
            "ops/s",
            "p50 wait",
            "p99 wait",
            "busiest",
            "viol",
            "overlap",
            "err",
            "cpu/op",
            "redis cpu/op",
        ]
        .into_iter()
        .map(String::from)
        .collect();
        for f in &floors {
            header.push(format!("ops/s vs {f}"));
            header.push(format!("p50 vs {f}"));
        }
        let mut table = Table::new(header);
        for r in &self.results {
            let mut row = vec![
                r.implementation.name().to_owned(),
                fmt_rate(r.ops_per_sec),
                fmt_us(r.p50_us),
                fmt_us(r.p99_us),
                fmt_share(r.busiest_share),
                r.violations.to_string(),
                r.overlaps.to_string(),
                r.errors.total().to_string(),
                fmt_us(r.client_cpu_us_per_op),
                fmt_us(r.server_cpu_us_per_op),
            ];
            for &f in &floors {
                let ratio = self.ratio(r.implementation, f);
                row.push(fmt_ratio(ratio.and_then(|x| x.ops_per_sec)));
                row.push(fmt_ratio(ratio.and_then(|x| x.p50)));
            }
            table.row(row);
        }
        table.render()
    }
}

impl Report {
    /// Mutual-exclusion violations seen anywhere in the run (lost updates and overlapping
    /// critical sections, every implementation): zero for a correct lock.
    pub fn violations(&self) -> u64 {
        self.scenarios
            .iter()
            .flat_map(|s| &s.results)
            .map(|r| r.violations + r.overlaps)
            .sum()
    }

    /// The report as pretty-printed JSON.
    pub fn to_json(&self) -> Result<String, BenchError> {
        serde_json::to_string_pretty(self)
            .map_err(|e| BenchError::Internal(format!("serialising the report: {e}")))
    }

    /// The report as text: one table per scenario, then the placement.
    pub fn render_table(&self) -> String {
        let s = &self.settings;
        let mut out = String::new();
        let _ = writeln!(
            out,
            "redlease-bench {}: {} pairs x {} rounds per implementation (medians over rounds), ttl {} ms, node timeout {} ms, fencing {:?}",
            self.version, s.ops, s.rounds, s.ttl_ms, s.node_timeout_ms, s.fencing
        );
        let _ = writeln!(
            out,
            "wait = acquire wait (start of acquire to holding); cpu/op = this process; busiest = busiest worker's share; viol/overlap must be 0"
        );
        for scenario in &self.scenarios {
            let _ = writeln!(out, "\n== {}", scenario.title());
            out.push_str(&scenario.render_table());
        }
        let _ = writeln!(out, "\nplacement: {}", self.placement.note);
        out
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::options::Tokens;

    pub(crate) fn sample() -> Report {
        let result = |implementation, ops: f64, p50: f64| ImplResult {
            implementation,
            ops_per_sec: Some(ops),
            p50_us: Some(p50),
            p99_us: Some(p50 * 3.0),
            max_us: Some(p50 * 10.0),
            release_p50_us: Some(p50 / 2.0),
            busiest_share: Some(0.25),
            violations: 0,
            overlaps: 0,
            errors: ErrorCounts::default(),
            release_failures: 0,
            timed_out_rounds: 0,
            client_cpu_us_per_op: Some(40.0),
            server_cpu_us_per_op: None,
            rounds: vec![RoundResult {
                round: 0,
                completed: 100,
                errors: ErrorCounts::default(),
                elapsed_s: 0.1,
                ops_per_sec: Some(ops),
                p50_us: Some(p50),
                p99_us: Some(p50 * 3.0),
                busiest_share: Some(0.25),
                violations: 0,
                overlaps: 0,
                client_cpu_us_per_op: Some(40.0),
                server_cpu_us_per_op: None,
                timed_out: false,
            }],
            latency_buckets: vec![LatencyBucket {
                from_us: 100.0,
                to_us: 177.8,
                count: 100,
            }],
        };
        let results = vec![
            result(
                Implementation::Redlease {
                    tokens: Tokens::Asked,
                },
                500.0,
                200.0,
            ),
            result(Implementation::Floor, 1000.0, 100.0),
        ];
        Report {
            tool: "redlease-bench",
            version: "0.1.0",
            placement: Placement {
                cores: 2,
                runtime_workers: 2,
                servers_started_here: true,
                servers_share_machine: true,
                note: "2 cores".into(),
            },
            settings: Settings {
                ops: 100,
                rounds: 1,
                warmup: 0,
                ttl_ms: 10_000,
                wait_ms: 10_000,
                node_timeout_ms: 100,
                hold_us: 0,
                distinct_keys: false,
                fencing: FencingMode::On,
                max_run_s: 60,
            },
            scenarios: vec![ScenarioReport {
                scenario: Scenario::Contended,
                nodes: 3,
                shards: None,
                quorum: 2,
                clients: 8,
                ratios: ScenarioReport::compute_ratios(&results),
                results,
            }],
        }
    }

    #[test]
    fn json_has_the_documented_shape() {
        let json: serde_json::Value = serde_json::from_str(&sample().to_json().unwrap()).unwrap();
        assert_eq!(json["tool"], "redlease-bench");
        assert_eq!(json["placement"]["cores"], 2);
        assert_eq!(json["settings"]["fencing"], "on");
        let s = &json["scenarios"][0];
        assert_eq!(s["scenario"], "contended");
        assert_eq!(s["nodes"], 3);
        assert_eq!(s["results"][0]["implementation"], "redlease");
        assert_eq!(s["results"][1]["implementation"], "floor");
        assert_eq!(s["results"][0]["ops_per_sec"], 500.0);
        assert!(s["results"][0]["server_cpu_us_per_op"].is_null());
        assert_eq!(s["results"][0]["rounds"][0]["completed"], 100);
        assert_eq!(s["results"][0]["errors"]["busy"], 0);
        assert_eq!(s["results"][0]["errors"]["unavailable"], 0);
        assert_eq!(s["results"][0]["latency_buckets"][0]["count"], 100);
        let ratio = &s["ratios"][0];
        assert_eq!(ratio["implementation"], "redlease");
        assert_eq!(ratio["baseline"], "floor");
        assert_eq!(ratio["ops_per_sec"], 0.5);
        assert_eq!(ratio["p50"], 2.0);
        assert_eq!(s["ratios"].as_array().map(Vec::len), Some(1));
    }

    #[test]
    fn table_shows_ratios() {
        let text = sample().render_table();
        assert!(
            text.contains("contended, 3 nodes (quorum 2), 8 workers"),
            "{text}"
        );
        assert!(text.contains("ops/s vs floor"), "{text}");
        assert!(text.contains("0.50x"), "{text}");
        assert!(text.contains("2.00x"), "{text}");
    }
}
