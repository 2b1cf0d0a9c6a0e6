//! Probes: scenarios that need one precise sequence of events rather than a crowd of
//! workers.
//!
//! The [scenario table](crate::scenario) lets several worker processes race while a
//! fault repeats, which finds what chance finds. Some defects need a sequence that
//! chance rarely plays: every node stopped exactly while a holder shortens its lease,
//! waiters that give up just before a release, a subscriber connection that dies
//! silently while commands still work, wipes that leave the nodes idle in between. A
//! probe plays such a sequence a few times, in this process, with its own lock managers
//! (only the library's public API) and its own throwaway servers, and reports what the
//! guarantees forbid as *violations* and the rest as *measures* (counts, rates,
//! latencies). Every probe is bounded in rounds and time, loopback only, and its
//! servers are killed by pid when it returns.
//!
//! | probe | guards |
//! |---|---|
//! | [`extend`] `shortening-extend`, `renewal-shrink` | G1, G4 (issue 10 item 1) |
//! | [`wipes`] `rolling-wipes` | G1, G2 (item 2), busy vs unavailable (item 5) |
//! | [`held_back`] `held-back-busy` | busy vs unavailable (item 5) |
//! | [`departed`] `departed-waiters` | G10 (item 4) |
//! | [`subscriber`] `half-open-subscriber` | G10 (item 7) |

pub mod departed;
pub mod extend;
pub mod held_back;
pub mod sampler;
pub mod subscriber;
pub mod wipes;

use std::fmt::Write as _;
use std::io;
use std::time::{Duration, Instant};

use redlease::{Builder, LockManager};
use redlease_testkit::{Cluster, Node};
use serde::Serialize;

/// How to run probes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProbeOptions {
    /// Rounds of the probe's sequence (each probe scales its own counts by it).
    pub rounds: usize,
    /// Longest a probe may run, whatever happens.
    pub limit: Duration,
}

impl Default for ProbeOptions {
    fn default() -> Self {
        ProbeOptions {
            rounds: 1,
            limit: Duration::from_secs(60),
        }
    }
}

/// What one probe found.
#[derive(Debug, Clone, Serialize)]
pub struct ProbeOutcome {
    /// The probe's name.
    pub probe: &'static str,
    /// What it does.
    pub about: &'static str,
    /// What it guards: guarantee and issue item.
    pub guards: &'static str,
    /// Lock nodes.
    pub nodes: usize,
    /// Rounds (or trials) played.
    pub trials: usize,
    /// Each broken promise, described.
    pub violations: Vec<String>,
    /// Numbers measured, never asserted by themselves.
    pub measures: Vec<(String, String)>,
    /// Wall time, s.
    pub seconds: f64,
    /// Processes started (all gone when the probe returns).
    pub pids: Vec<u32>,
}

impl ProbeOutcome {
    fn new(probe: &Probe, nodes: usize) -> ProbeOutcome {
        ProbeOutcome {
            probe: probe.name,
            about: probe.about,
            guards: probe.guards,
            nodes,
            trials: 0,
            violations: Vec::new(),
            measures: Vec::new(),
            seconds: 0.0,
            pids: Vec::new(),
        }
    }

    /// Records a measure.
    pub fn measure(&mut self, name: &str, value: impl std::fmt::Display) {
        self.measures.push((name.to_owned(), value.to_string()));
    }

    /// Records a violation.
    pub fn violation(&mut self, what: impl Into<String>) {
        self.violations.push(what.into());
    }
}

/// One probe of the catalogue.
#[derive(Debug, Clone, Copy)]
pub struct Probe {
    /// Name on the command line.
    pub name: &'static str,
    /// One line for the reader.
    pub about: &'static str,
    /// Guarantee and issue item it guards.
    pub guards: &'static str,
    run: fn(&Probe, &ProbeOptions) -> io::Result<ProbeOutcome>,
}

impl Probe {
    /// Runs the probe.
    pub fn run(&self, options: &ProbeOptions) -> io::Result<ProbeOutcome> {
        let started = Instant::now();
        let mut outcome = (self.run)(self, options)?;
        outcome.seconds = started.elapsed().as_secs_f64();
        Ok(outcome)
    }
}

/// Every probe.
pub fn all() -> Vec<Probe> {
    vec![
        Probe {
            name: "shortening-extend",
            about: "all nodes SIGSTOPped, extend(2 s) of a 6 s lease fails but runs; a second client acquires",
            guards: "G1, G4; issue 10 item 1",
            run: extend::shortening,
        },
        Probe {
            name: "renewal-shrink",
            about: "ttl 2 s, extend(6 s), keep_alive; renewals land (replies black-holed) and shrink the keys",
            guards: "G1, G4; issue 10 item 1",
            run: extend::renewal,
        },
        Probe {
            name: "rolling-wipes",
            about: "3 nodes wiped one at a time, max_ttl apart, with busy and idle phases",
            guards: "G1, G2; issue 10 items 2, 5",
            run: wipes::run,
        },
        Probe {
            name: "held-back-busy",
            about: "5 nodes, resource held, one node wiped (held back): try_acquire must say busy",
            guards: "busy vs unavailable; issue 10 item 5",
            run: held_back::run,
        },
        Probe {
            name: "departed-waiters",
            about: "waiters give up or are dropped; then a release and an immediate try_acquire",
            guards: "G10; issue 10 item 4",
            run: departed::run,
        },
        Probe {
            name: "half-open-subscriber",
            about: "subscriber connections cut half-open, commands fine: hand-over latency",
            guards: "G10; issue 10 item 7",
            run: subscriber::run,
        },
    ]
}

/// The probe called `name`.
pub fn by_name(name: &str) -> Option<Probe> {
    all().into_iter().find(|p| p.name == name)
}

/// A probe's servers, its outcome (which records their pids: the tests check they are
/// gone afterwards) and its runtime.
pub(crate) fn start(
    probe: &Probe,
    nodes: usize,
) -> io::Result<(Cluster, ProbeOutcome, tokio::runtime::Runtime)> {
    let cluster = Cluster::start(nodes)?;
    let mut outcome = ProbeOutcome::new(probe, nodes);
    outcome.pids = cluster.nodes().iter().filter_map(Node::pid).collect();
    Ok((cluster, outcome, runtime()?))
}

/// A lock manager over `urls`: the library's defaults, a node timeout of 200 ms, and
/// what the probe needs on top (`configure`).
pub(crate) async fn manager(
    urls: Vec<String>,
    configure: impl FnOnce(Builder) -> Builder,
) -> io::Result<LockManager> {
    let builder = LockManager::builder()
        .servers(urls)
        .node_timeout(Duration::from_millis(200));
    configure(builder)
        .build()
        .await
        .map_err(|e| setup("lock manager", e))
}

/// A runtime for one probe: two worker threads, like a small service.
pub(crate) fn runtime() -> io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
}

/// A library error as an `io::Error`, for set-up steps that must work.
pub(crate) fn setup(what: &str, e: impl std::fmt::Display) -> io::Error {
    io::Error::other(format!("{what}: {e}"))
}

/// The `q` quantile of `values` (sorted here), in ms; 0 when empty.
pub(crate) fn quantile_ms(values: &mut [Duration], q: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_unstable();
    let rank = ((values.len() as f64) * q).ceil() as usize;
    values[rank.clamp(1, values.len()) - 1].as_secs_f64() * 1000.0
}

/// The outcomes as text: one block per probe.
pub fn table(outcomes: &[ProbeOutcome]) -> String {
    let mut out = String::new();
    for o in outcomes {
        let verdict = if o.violations.is_empty() {
            "ok"
        } else {
            "FAILED"
        };
        let _ = writeln!(
            out,
            "{:<21} N={} trials {:<3} violations {:<3} {:>5.1}s  {}  [{}]",
            o.probe,
            o.nodes,
            o.trials,
            o.violations.len(),
            o.seconds,
            verdict,
            o.guards
        );
        for (name, value) in &o.measures {
            let _ = writeln!(out, "    {name}: {value}");
        }
        for v in o.violations.iter().take(5) {
            let _ = writeln!(out, "    VIOLATION {v}");
        }
        if o.violations.len() > 5 {
            let _ = writeln!(out, "    ... {} more", o.violations.len() - 5);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_quantiles_work() {
        let mut names: Vec<_> = all().iter().map(|p| p.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), all().len());
        let mut v: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(quantile_ms(&mut v, 0.5), 50.0);
        assert_eq!(quantile_ms(&mut [], 0.5), 0.0);
    }
}
