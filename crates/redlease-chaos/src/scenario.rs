//! The catalogue of scenarios: which fault, which settings, and what the
//! protocol promises under it.
//!
//! `f = N - Q` is how many faulty nodes the protocol tolerates (2 of 5, 0 of
//! 1). The faults themselves are played by [`crate::faults`]; this file only
//! says which one, on which cluster, and whether a clean result is promised
//! (the suite asserts it) or merely measured (the table marks it).

use serde::Serialize;

/// The fault a scenario injects, over and over, while the workers run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Fault {
    /// Nothing: the reference.
    None,
    /// SIGKILL f nodes, restart them with their data.
    KillMinority,
    /// SIGKILL f + 1 nodes, restart them with their data.
    KillMajority,
    /// SIGSTOP f nodes, then f + 1 nodes, longer than the ttl.
    PauseNodes,
    /// Cut f nodes off at the proxy, then f + 1.
    Partition,
    /// Latency below the node timeout everywhere, above it on f nodes (late
    /// replies), then above it on f + 1 nodes.
    Latency,
    /// Drop the replies (the node does the work, nobody hears of it), then
    /// the requests, of f nodes; then the replies of f + 1 nodes.
    BlackHole,
    /// Reset the connections of random nodes every few milliseconds.
    ResetConnections,
    /// Restart nodes empty (no persistence), one after the other, f + 1 of
    /// them within one ttl.
    RestartEmpty,
    /// Freeze a worker that holds the lease for longer than the ttl.
    PausedClient,
    /// Wipe every node in turn (`FLUSHALL`, process kept), one at a time, `max_ttl`
    /// and the restart slack apart: never more than one node faulty.
    RollingWipes,
    /// No fault but the nodes' clocks, which run fast.
    FastClock,
}

/// Which node clocks run fast, and how fast.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ClockPlan {
    /// Every node at this rate.
    All(f64),
    /// f + 1 nodes (a majority) at this rate, the others on real time.
    Majority(f64),
}

impl ClockPlan {
    /// The rate of each of `nodes` nodes.
    pub fn rates(self, nodes: usize) -> Vec<f64> {
        match self {
            ClockPlan::All(rate) => vec![rate; nodes],
            ClockPlan::Majority(rate) => {
                let fast = redlease::protocol::quorum(nodes);
                (0..nodes)
                    .map(|i| if i < fast { rate } else { 1.0 })
                    .collect()
            }
        }
    }
}

/// What the protocol promises for a scenario on N nodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "promise", content = "why", rename_all = "snake_case")]
pub enum Promise {
    /// No violation of any kind.
    Clean,
    /// Mutual exclusion (and token order) may break; the fence must still
    /// hold.
    NotPromised(&'static str),
    /// The scenario makes no sense on this many nodes.
    Skipped(&'static str),
}

/// One scenario.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Scenario {
    /// Short name, used on the command line and in the table.
    pub name: &'static str,
    /// The fault.
    pub fault: Fault,
    /// Nodes keep their data across restarts (AOF, fsync always).
    pub persistence: bool,
    /// The library's in-band delayed restart.
    pub delayed_restart: bool,
    /// Fast node clocks, if any.
    pub clock: Option<ClockPlan>,
    /// Every this many sections, a worker holds its lease until it expires
    /// without renewing (0: never).
    pub ride_every: u32,
    /// Every this many sections, a worker holds its lease (renewed) for
    /// longer than the ttl, so that faults catch holders mid-lease.
    pub long_every: u32,
    /// Wall-clock offset of each worker process, s (through libfaketime; missing
    /// entries and 0: the real time).
    pub client_clock_offsets: &'static [i64],
    /// Largest share of all critical sections one worker may have (fairness of
    /// hand-offs); `None`: not judged.
    pub max_busiest_share: Option<f64>,
    /// One line for the reader.
    pub about: &'static str,
}

impl Scenario {
    const fn new(name: &'static str, fault: Fault, about: &'static str) -> Scenario {
        Scenario {
            name,
            fault,
            persistence: false,
            delayed_restart: true,
            clock: None,
            ride_every: 0,
            long_every: 10,
            client_clock_offsets: &[],
            max_busiest_share: None,
            about,
        }
    }

    /// What is promised on `nodes` nodes.
    pub fn promise(&self, nodes: usize) -> Promise {
        let tolerated = nodes - redlease::protocol::quorum(nodes);
        match self.fault {
            Fault::KillMinority if tolerated == 0 => Promise::Skipped("f = 0: no minority to kill"),
            Fault::RestartEmpty if !self.delayed_restart => Promise::NotPromised(
                "delayed restart off: a node that forgot the lease grants it again",
            ),
            Fault::RestartEmpty if nodes == 1 => Promise::NotPromised(
                "N = 1 cannot be protected: the only node forgets the lease and the fencing counter",
            ),
            Fault::RollingWipes if nodes == 1 => Promise::NotPromised(
                "N = 1: a wipe takes the only node's lease and fencing counter",
            ),
            Fault::FastClock if self.clock.is_some_and(beyond_drift) => {
                Promise::NotPromised("node clocks faster than the drift factor allows")
            }
            _ => Promise::Clean,
        }
    }
}

/// Whether a clock plan runs nodes faster than the default drift factor
/// (1 %) covers.
fn beyond_drift(plan: ClockPlan) -> bool {
    let rate = match plan {
        ClockPlan::All(r) | ClockPlan::Majority(r) => r,
    };
    rate > 1.0 + redlease::config::DEFAULT_DRIFT_FACTOR
}

/// Largest share of the critical sections one of four workers may have in
/// `client-clock-skew`. A fair queue gives each about a quarter (the `baseline` row
/// measures it); a queue ordered by skewed wall clocks hands every hand-off to the
/// client whose clock lags, which then has about every second section. The bound sits
/// between the two with room for load; the `hand-off-fairness` row (same workload, true
/// clocks) shows the fair share on the machine at hand.
pub const BUSIEST_SHARE_BOUND: f64 = 0.4;

/// Every scenario, in table order.
pub fn all() -> Vec<Scenario> {
    vec![
        Scenario::new("baseline", Fault::None, "no fault"),
        Scenario {
            persistence: true,
            ..Scenario::new(
                "kill-minority",
                Fault::KillMinority,
                "SIGKILL f nodes, restart with data",
            )
        },
        Scenario {
            persistence: true,
            ..Scenario::new(
                "kill-majority",
                Fault::KillMajority,
                "SIGKILL f+1 nodes, restart with data",
            )
        },
        Scenario::new(
            "pause-nodes",
            Fault::PauseNodes,
            "SIGSTOP f, then f+1 nodes",
        ),
        Scenario::new("partition", Fault::Partition, "cut f, then f+1 nodes off"),
        Scenario::new("latency", Fault::Latency, "slow links, late replies"),
        Scenario::new(
            "black-hole",
            Fault::BlackHole,
            "replies or requests dropped",
        ),
        Scenario::new("reset-conns", Fault::ResetConnections, "connections reset"),
        Scenario {
            long_every: 4,
            ..Scenario::new(
                "restart-empty",
                Fault::RestartEmpty,
                "f+1 nodes restart empty within a ttl; delayed restart on",
            )
        },
        Scenario {
            delayed_restart: false,
            long_every: 4,
            ..Scenario::new(
                "restart-empty-no-delay",
                Fault::RestartEmpty,
                "same, delayed restart off",
            )
        },
        Scenario::new(
            "paused-client",
            Fault::PausedClient,
            "holder SIGSTOPped for 2.5 ttl, then writes",
        ),
        Scenario {
            clock: Some(ClockPlan::All(1.005)),
            ride_every: 5,
            ..Scenario::new("fast-clock", Fault::FastClock, "all node clocks 0.5 % fast")
        },
        Scenario {
            clock: Some(ClockPlan::Majority(1.5)),
            ride_every: 5,
            ..Scenario::new(
                "fast-clock-beyond",
                Fault::FastClock,
                "f+1 node clocks 50 % fast",
            )
        },
        Scenario {
            long_every: 4,
            ..Scenario::new(
                "rolling-wipes",
                Fault::RollingWipes,
                "every node wiped in turn, max_ttl apart (one faulty at a time)",
            )
        },
        Scenario {
            long_every: 0,
            max_busiest_share: Some(BUSIEST_SHARE_BOUND),
            ..Scenario::new(
                "hand-off-fairness",
                Fault::None,
                "reference for client-clock-skew: same workload, true clocks",
            )
        },
        Scenario {
            long_every: 0,
            client_clock_offsets: &[-5, 5],
            max_busiest_share: Some(BUSIEST_SHARE_BOUND),
            ..Scenario::new(
                "client-clock-skew",
                Fault::None,
                "worker wall clocks -5 s and +5 s: fair hand-offs?",
            )
        },
    ]
}

/// The scenario called `name`.
pub fn by_name(name: &str) -> Option<Scenario> {
    all().into_iter().find(|s| s.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn promises() {
        let s = |name| by_name(name).expect("known scenario");
        assert_eq!(s("kill-majority").promise(5), Promise::Clean);
        assert_eq!(s("restart-empty").promise(5), Promise::Clean);
        assert!(matches!(
            s("restart-empty").promise(1),
            Promise::NotPromised(_)
        ));
        assert!(matches!(
            s("restart-empty-no-delay").promise(5),
            Promise::NotPromised(_)
        ));
        assert!(matches!(s("kill-minority").promise(1), Promise::Skipped(_)));
        assert_eq!(s("fast-clock").promise(5), Promise::Clean);
        assert!(matches!(
            s("fast-clock-beyond").promise(1),
            Promise::NotPromised(_)
        ));
        assert_eq!(s("reset-conns").promise(1), Promise::Clean);
        assert_eq!(s("rolling-wipes").promise(5), Promise::Clean);
        assert!(matches!(
            s("rolling-wipes").promise(1),
            Promise::NotPromised(_)
        ));
        assert_eq!(s("client-clock-skew").promise(5), Promise::Clean);
    }

    #[test]
    fn names_are_unique() {
        let mut names: Vec<_> = all().iter().map(|s| s.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), all().len());
    }

    #[test]
    fn majority_clock_plan() {
        assert_eq!(
            ClockPlan::Majority(2.0).rates(5),
            vec![2.0, 2.0, 2.0, 1.0, 1.0]
        );
        assert_eq!(ClockPlan::All(1.5).rates(1), vec![1.5]);
    }
}
