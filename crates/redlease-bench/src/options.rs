//! What a benchmark run does: scenarios, sizes, and the lock settings.
//!
//! The options are plain data with defaults and one [`Options::validate`] that bounds every
//! number, so that any run (from the binaries, the CLI or a test) is bounded in time and
//! count before it starts.

use std::fmt;
use std::time::Duration;

use serde::Serialize;

use crate::error::BenchError;

/// The shape of the load.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Scenario {
    /// One worker acquiring and releasing a free key, one pair after the other: the
    /// latency of the lock itself, nothing to wait for.
    Uncontended,
    /// Many concurrent workers, each on its own key: throughput when the connections are
    /// shared but nobody waits for anybody.
    Distinct,
    /// Several workers on one key, each doing a non-atomic read-modify-write of a counter
    /// while holding it: hand-over speed, fairness, and mutual exclusion.
    Contended,
}

impl Scenario {
    /// Every scenario, in the order they run.
    pub const ALL: [Scenario; 3] = [
        Scenario::Uncontended,
        Scenario::Distinct,
        Scenario::Contended,
    ];

    /// Workers when not given: 1, 32 and 8.
    pub fn default_clients(self) -> usize {
        match self {
            Scenario::Uncontended => 1,
            Scenario::Distinct => 32,
            Scenario::Contended => 8,
        }
    }

    /// The lowercase name.
    pub fn name(self) -> &'static str {
        match self {
            Scenario::Uncontended => "uncontended",
            Scenario::Distinct => "distinct",
            Scenario::Contended => "contended",
        }
    }
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Which of redlease's fencing settings run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum FencingMode {
    /// Tokens on (the library default), every lease's token asked for.
    On,
    /// Tokens off.
    Off,
    /// On, off, and (on several nodes) on with no token ever asked for.
    Both,
    /// As `both`, plus (on several nodes) every token minted at acquisition.
    All,
    /// On, no token ever asked for (several nodes; on one node the same as `on`).
    Unasked,
    /// On, every token minted at acquisition (several nodes; on one node as `on`).
    AtAcquire,
}

impl FencingMode {
    /// The fencing settings to run redlease with, on `nodes` nodes: on one node the
    /// acquisition mints the token, so whether it is asked for changes nothing.
    pub fn variants(self, nodes: usize) -> Vec<Tokens> {
        let several = nodes > 1;
        let mut out = match self {
            FencingMode::Off => return vec![Tokens::Off],
            FencingMode::Unasked if several => return vec![Tokens::Unasked],
            FencingMode::AtAcquire if several => return vec![Tokens::AtAcquire],
            _ => vec![Tokens::Asked],
        };
        if several && self == FencingMode::All {
            out.push(Tokens::AtAcquire);
        }
        if several && matches!(self, FencingMode::Both | FencingMode::All) {
            out.push(Tokens::Unasked);
        }
        if matches!(self, FencingMode::Both | FencingMode::All) {
            out.push(Tokens::Off);
        }
        out
    }
}

/// redlease's fencing tokens in one run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tokens {
    /// The defaults, and every lease's token asked for (`fencing_token().await`, inside
    /// the timed acquisition): what a caller that fences its writes pays.
    Asked,
    /// The defaults, and no token ever asked for: on several nodes none is minted.
    Unasked,
    /// `token_at_acquire(true)`: every token minted during the acquisition, and asked.
    AtAcquire,
    /// `fencing(false)`.
    Off,
}

/// One lock implementation taking part in a run. Serialised as its [`Implementation::name`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Implementation {
    /// redlease, with one of its fencing settings.
    Redlease {
        /// How tokens are minted and used.
        tokens: Tokens,
    },
    /// Raw redis-rs: SET NX PX on every node, waits for every reply.
    Floor,
    /// Raw redis-rs, returning as soon as a majority granted (or can no longer grant);
    /// the other replies are drained in the background. Only for more than one node.
    FloorMajority,
    /// rslock, with its default retry settings.
    Rslock,
}

impl Implementation {
    /// Short name for tables and JSON.
    pub fn name(self) -> &'static str {
        match self {
            Implementation::Redlease {
                tokens: Tokens::Asked,
            } => "redlease",
            Implementation::Redlease {
                tokens: Tokens::Unasked,
            } => "redlease-unasked",
            Implementation::Redlease {
                tokens: Tokens::AtAcquire,
            } => "redlease-at-acquire",
            Implementation::Redlease {
                tokens: Tokens::Off,
            } => "redlease-nofence",
            Implementation::Floor => "floor",
            Implementation::FloorMajority => "floor-majority",
            Implementation::Rslock => "rslock",
        }
    }

    /// Whether this is one of the raw floors (what the others are compared with).
    pub fn is_floor(self) -> bool {
        matches!(self, Implementation::Floor | Implementation::FloorMajority)
    }
}

impl Serialize for Implementation {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

impl fmt::Display for Implementation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Everything a run needs. Build with struct-update syntax from [`Options::default`].
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// Scenarios to run, in order. Default: all three.
    pub scenarios: Vec<Scenario>,
    /// Node counts to run with: for each, a throwaway local cluster of that many
    /// redis-servers is started (via `redlease-testkit`). Ignored when `servers` is set.
    /// Default: `[1]`.
    pub nodes: Vec<usize>,
    /// Existing servers to use instead of local throwaway ones (loopback only; any node
    /// kind: the floors and rslock run only where every node is one plain server).
    pub servers: Vec<String>,
    /// Redis Cluster sizes: for each, a throwaway local Redis Cluster of that many shards
    /// (no replicas) is the one lock node, and the redis CPU time covers every shard.
    /// Replaces `nodes`; not with `servers`. Default: none.
    pub shards: Vec<usize>,
    /// Workers; `None` uses each scenario's default (1, 32, 8).
    pub clients: Option<usize>,
    /// Lock/unlock pairs (critical sections) per implementation and round, over all
    /// workers. Default 2,000.
    pub ops: u64,
    /// Rounds; implementations take turns within each. Default 3.
    pub rounds: usize,
    /// Untimed pairs per implementation before the first round. Default 100.
    pub warmup: u64,
    /// redlease's fencing tokens. Default on.
    pub fencing: FencingMode,
    /// Run the raw floors. Default true.
    pub floor: bool,
    /// Run redlease. Default true (false: the floors or rslock alone).
    pub redlease: bool,
    /// Run rslock too (needs the `rslock` feature). Default false.
    pub rslock: bool,
    /// Lease ttl. Default 10 s.
    pub ttl: Duration,
    /// Longest a contended acquire waits. Default 10 s.
    pub wait: Duration,
    /// redlease's per-node timeout; `None` = its default. Also the floor's.
    pub node_timeout: Option<Duration>,
    /// Time spent inside each critical section (besides the counter update). Default 0.
    pub hold: Duration,
    /// Uncontended: a new key per pair instead of the same free key. Default false.
    pub distinct_keys: bool,
    /// Upper bound on one implementation's round; what is unfinished then is reported.
    /// Default 60 s.
    pub max_run: Duration,
    /// Show a progress bar on a terminal. Default true.
    pub progress: bool,
    /// Back-date redlease's delayed-restart markers before the run (the operator action
    /// `LockManager::mark_nodes_ready`), as in a deployment in use for longer than
    /// `max_ttl`, redlease's steady state: then its quick acquire checks each marker by
    /// its birth and reads no clock. Always done on the bench's own throwaway servers;
    /// on `servers` given, only when true (it is an operator's decision there). Default
    /// false.
    pub markers_ready: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            scenarios: Scenario::ALL.to_vec(),
            nodes: vec![1],
            servers: Vec::new(),
            shards: Vec::new(),
            clients: None,
            ops: 2_000,
            rounds: 3,
            warmup: 100,
            fencing: FencingMode::On,
            floor: true,
            redlease: true,
            rslock: false,
            ttl: Duration::from_secs(10),
            wait: Duration::from_secs(10),
            node_timeout: None,
            hold: Duration::ZERO,
            distinct_keys: false,
            max_run: Duration::from_secs(60),
            progress: true,
            markers_ready: false,
        }
    }
}

/// Largest node count accepted.
pub const MAX_NODES: usize = 9;
/// Largest Redis Cluster (shards) accepted.
pub const MAX_SHARDS: usize = 9;

/// What one part of a run locks on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Deployment {
    /// A throwaway local cluster of this many independent redis-servers.
    Local(usize),
    /// The servers given.
    Given,
    /// A throwaway local Redis Cluster of this many shards, as one node.
    Shards(usize),
}
/// Largest op count per round accepted.
pub const MAX_OPS: u64 = 10_000_000;
/// Largest number of workers accepted.
pub const MAX_CLIENTS: usize = 4_096;
/// Largest number of rounds accepted.
pub const MAX_ROUNDS: usize = 50;
/// Longest round accepted.
pub const MAX_RUN: Duration = Duration::from_secs(3_600);

impl Options {
    /// Workers for `scenario`.
    pub fn clients_for(&self, scenario: Scenario) -> usize {
        self.clients.unwrap_or_else(|| scenario.default_clients())
    }

    /// The node counts this run covers, one per [`Deployment`].
    pub fn node_counts(&self) -> Vec<usize> {
        self.deployments()
            .iter()
            .map(|d| match d {
                Deployment::Local(k) => *k,
                Deployment::Given => self.servers.len(),
                Deployment::Shards(_) => 1,
            })
            .collect()
    }

    /// What the run locks on, in order.
    pub fn deployments(&self) -> Vec<Deployment> {
        if !self.servers.is_empty() {
            vec![Deployment::Given]
        } else if !self.shards.is_empty() {
            self.shards.iter().map(|&s| Deployment::Shards(s)).collect()
        } else {
            self.nodes.iter().map(|&k| Deployment::Local(k)).collect()
        }
    }

    /// Whether every node is one plain server: the raw floors and rslock speak to such
    /// servers only (not to a Redis Cluster or through Sentinel).
    pub fn plain_servers(&self) -> bool {
        self.shards.is_empty()
            && self.servers.iter().all(|url| {
                redlease::config::server_targets(url)
                    .is_ok_and(|t| t.kind == redlease::NodeKind::Standalone)
            })
    }

    /// The implementations that run with `nodes` nodes, in turn order.
    pub fn implementations(&self, nodes: usize) -> Vec<Implementation> {
        let mut out: Vec<Implementation> = Vec::new();
        if self.redlease {
            out.extend(
                self.fencing
                    .variants(nodes)
                    .into_iter()
                    .map(|tokens| Implementation::Redlease { tokens }),
            );
        }
        if self.floor && self.plain_servers() {
            out.push(Implementation::Floor);
            if nodes > 1 {
                out.push(Implementation::FloorMajority);
            }
        }
        if self.rslock && self.plain_servers() {
            out.push(Implementation::Rslock);
        }
        out
    }

    /// Check that every number is in range, so the run is bounded.
    pub fn validate(&self) -> Result<(), BenchError> {
        if self.scenarios.is_empty() {
            return Err(BenchError::invalid("scenario", "no scenario given"));
        }
        if !self.redlease && !self.floor && !self.rslock {
            return Err(BenchError::invalid(
                "no-redlease",
                "with --no-floor too, nothing is left to run (add --rslock, or drop one of them)",
            ));
        }
        if !self.shards.is_empty() {
            if !self.servers.is_empty() {
                return Err(BenchError::invalid(
                    "shards",
                    "starts its own Redis Clusters: give --shards or --servers, not both",
                ));
            }
            if let Some(n) = self.shards.iter().find(|&&n| n == 0 || n > MAX_SHARDS) {
                return Err(BenchError::invalid(
                    "shards",
                    format!("{n} is out of range (1 to {MAX_SHARDS})"),
                ));
            }
        }
        if self.rslock && !self.plain_servers() {
            return Err(BenchError::invalid(
                "rslock",
                "rslock takes only plain redis:// servers, not a Redis Cluster or a Sentinel service",
            ));
        }
        if !self.redlease && !self.plain_servers() {
            return Err(BenchError::invalid(
                "no-redlease",
                "on a Redis Cluster or a Sentinel service only redlease runs (the floors speak to plain servers)",
            ));
        }
        if self.servers.is_empty() {
            if self.nodes.is_empty() {
                return Err(BenchError::invalid("nodes", "no node count given"));
            }
            if let Some(n) = self.nodes.iter().find(|&&n| n == 0 || n > MAX_NODES) {
                return Err(BenchError::invalid(
                    "nodes",
                    format!("{n} is out of range (1 to {MAX_NODES})"),
                ));
            }
        } else if self.servers.len() > MAX_NODES {
            return Err(BenchError::invalid(
                "servers",
                format!("{} servers; at most {MAX_NODES}", self.servers.len()),
            ));
        }
        if self.ops == 0 || self.ops > MAX_OPS {
            return Err(BenchError::invalid(
                "ops",
                format!("{} is out of range (1 to {MAX_OPS})", self.ops),
            ));
        }
        if self.warmup > self.ops {
            return Err(BenchError::invalid(
                "warmup",
                format!("{} is more than ops ({})", self.warmup, self.ops),
            ));
        }
        if self.rounds == 0 || self.rounds > MAX_ROUNDS {
            return Err(BenchError::invalid(
                "rounds",
                format!("{} is out of range (1 to {MAX_ROUNDS})", self.rounds),
            ));
        }
        if let Some(c) = self.clients
            && (c == 0 || c > MAX_CLIENTS)
        {
            return Err(BenchError::invalid(
                "clients",
                format!("{c} is out of range (1 to {MAX_CLIENTS})"),
            ));
        }
        if self.ttl < Duration::from_millis(100) || self.ttl > Duration::from_secs(300) {
            return Err(BenchError::invalid(
                "ttl",
                format!("{:?} is out of range (100 ms to 5 min)", self.ttl),
            ));
        }
        if self.max_run < Duration::from_secs(1) || self.max_run > MAX_RUN {
            return Err(BenchError::invalid(
                "max-run",
                format!("{:?} is out of range (1 s to 1 h)", self.max_run),
            ));
        }
        if self.wait > self.max_run {
            return Err(BenchError::invalid(
                "wait",
                format!(
                    "{:?} is longer than max-run ({:?})",
                    self.wait, self.max_run
                ),
            ));
        }
        if self.hold > Duration::from_secs(1) {
            return Err(BenchError::invalid(
                "hold",
                format!("{:?} is out of range (0 to 1 s)", self.hold),
            ));
        }
        if self.rslock && !cfg!(feature = "rslock") {
            return Err(BenchError::invalid(
                "rslock",
                "this build has no rslock: build redlease-bench with `--features rslock`",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_bounded() {
        let o = Options::default();
        o.validate().expect("defaults");
        assert_eq!(o.clients_for(Scenario::Distinct), 32);
        assert_eq!(o.clients_for(Scenario::Contended), 8);
        assert_eq!(o.clients_for(Scenario::Uncontended), 1);
    }

    #[test]
    fn out_of_range_options_are_named() {
        let bad = |o: Options| match o.validate() {
            Err(BenchError::Invalid { option, .. }) => option,
            other => panic!("expected invalid, got {other:?}"),
        };
        let d = Options::default;
        assert_eq!(bad(Options { ops: 0, ..d() }), "ops");
        assert_eq!(
            bad(Options {
                nodes: vec![0],
                ..d()
            }),
            "nodes"
        );
        assert_eq!(
            bad(Options {
                clients: Some(0),
                ..d()
            }),
            "clients"
        );
        assert_eq!(bad(Options { rounds: 0, ..d() }), "rounds");
        assert_eq!(
            bad(Options {
                shards: vec![3, 0],
                ..d()
            }),
            "shards"
        );
        let both = Options {
            shards: vec![3],
            servers: vec!["redis://127.0.0.1:6379".into()],
            ..d()
        };
        assert_eq!(bad(both), "shards");
        let cluster = vec!["redis+cluster://127.0.0.1:7000".to_owned()];
        let rslock = Options {
            servers: cluster.clone(),
            rslock: true,
            ..d()
        };
        assert_eq!(bad(rslock), "rslock");
        let floors = Options {
            servers: cluster,
            ..d()
        };
        assert_eq!(floors.implementations(1).len(), 1, "redlease alone");
        assert_eq!(
            bad(Options {
                warmup: 5_000,
                ..d()
            }),
            "warmup"
        );
        assert_eq!(
            bad(Options {
                scenarios: vec![],
                ..d()
            }),
            "scenario"
        );
    }

    #[test]
    fn majority_floor_only_with_several_nodes() {
        let o = Options {
            fencing: FencingMode::Both,
            ..Options::default()
        };
        let one: Vec<&str> = o.implementations(1).iter().map(|i| i.name()).collect();
        assert_eq!(one, ["redlease", "redlease-nofence", "floor"]);
        let three: Vec<&str> = o.implementations(3).iter().map(|i| i.name()).collect();
        assert_eq!(
            three,
            [
                "redlease",
                "redlease-unasked",
                "redlease-nofence",
                "floor",
                "floor-majority"
            ]
        );
    }

    #[test]
    fn all_adds_the_token_at_acquisition_on_several_nodes_only() {
        let o = Options {
            fencing: FencingMode::All,
            ..Options::default()
        };
        let names = |n| -> Vec<&str> {
            o.implementations(n)
                .iter()
                .filter(|i| matches!(i, Implementation::Redlease { .. }))
                .map(|i| i.name())
                .collect()
        };
        assert_eq!(names(1), ["redlease", "redlease-nofence"]);
        assert_eq!(
            names(5),
            [
                "redlease",
                "redlease-at-acquire",
                "redlease-unasked",
                "redlease-nofence"
            ]
        );
    }
}
