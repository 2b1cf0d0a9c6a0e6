//! The demo's verdict: each check, its evidence, and whether all passed.
//!
//! The checks are the properties a lock must give its users: every section ran, no
//! update was lost on the racy counter, no two holders were inside at once, no section
//! finished after its lease expired, and fencing tokens grew strictly in the order the
//! sections ran. The checks themselves are the test kit's referee
//! ([`redlease_testkit::workload::Verdict`]); this file only presents them. Latency
//! percentiles show what waiting for the lock cost.

use std::sync::atomic::Ordering;
use std::time::Duration;

use redlease_testkit::workload::{LatencySummary, Verdict};

use super::worker::Board;
use crate::cli::DemoArgs;
use crate::exit::Failure;
use crate::output::print_line;

/// The results of a demo run.
pub struct Summary {
    sections: u32,
    /// The referee's verdict, or why the counter could not be read.
    verdict: Result<Verdict, String>,
    latency: Option<LatencySummary>,
    errors: Vec<String>,
    elapsed: Duration,
    per_worker: Vec<u32>,
    nodes: usize,
}

impl Summary {
    /// Gather the results from the board and the referee's verdict.
    pub fn new(
        board: &Board,
        args: &DemoArgs,
        nodes: usize,
        verdict: std::io::Result<Verdict>,
        elapsed: Duration,
    ) -> Self {
        Summary {
            sections: args.sections,
            verdict: verdict.map_err(|e| e.to_string()),
            latency: board.latency.lock().ok().and_then(|h| h.summary()),
            errors: board.errors.lock().map(|e| e.clone()).unwrap_or_default(),
            elapsed,
            per_worker: board
                .per_worker
                .iter()
                .map(|n| n.load(Ordering::Relaxed))
                .collect(),
            nodes,
        }
    }

    fn done(&self) -> u64 {
        self.verdict.as_ref().map_or(0, |v| v.completed)
    }

    fn all_done(&self) -> bool {
        self.done() == u64::from(self.sections) && self.errors.is_empty()
    }

    /// Whether every check passed (tokens must also have been minted: the demo's lock
    /// has fencing on).
    pub fn passed(&self) -> bool {
        self.all_done()
            && self
                .verdict
                .as_ref()
                .is_ok_and(|v| v.passed() && v.tokens.first.is_some_and(|t| t > 0))
    }

    /// Print the summary on stdout.
    pub fn print(&self) -> Result<(), Failure> {
        let yes_no = |ok: bool| if ok { "yes" } else { "NO" };
        let mut lines = vec![
            String::new(),
            format!(
                "summary ({} nodes, quorum {}, {:.1}s)",
                self.nodes,
                redlease::protocol::quorum(self.nodes),
                self.elapsed.as_secs_f64()
            ),
            format!(
                "  critical sections done       {} of {} ({})  per worker: {}",
                self.done(),
                self.sections,
                yes_no(self.all_done()),
                self.per_worker
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
        ];
        match &self.verdict {
            Ok(v) => lines.extend(verdict_lines(v)),
            Err(e) => lines.push(format!(
                "  lost updates                 unknown: the counter could not be read ({e}) (NO)"
            )),
        }
        lines.push(match &self.latency {
            Some(summary) => format!("  acquire latency              {summary}"),
            None => "  acquire latency              no acquisitions".to_owned(),
        });
        lines.extend(self.errors.iter().map(|e| format!("  error: {e}")));
        lines.push(if self.passed() {
            "all checks passed".to_owned()
        } else {
            "SOME CHECKS FAILED".to_owned()
        });
        lines.iter().try_for_each(|line| print_line(line))
    }
}

/// The referee's checks, one line each.
fn verdict_lines(v: &Verdict) -> Vec<String> {
    let yes_no = |ok: bool| if ok { "yes" } else { "NO" };
    let tokens = match (v.tokens.first, v.tokens.last, v.tokens.first_break) {
        (Some(first), Some(last), None) if first > 0 => format!(
            "  fencing tokens increasing    yes ({first} .. {last}, in the order the sections ran)"
        ),
        (_, _, Some(at)) => {
            format!("  fencing tokens increasing    NO (order breaks at section {at})")
        }
        _ => "  fencing tokens increasing    NO (no token recorded)".to_owned(),
    };
    vec![
        tokens,
        format!(
            "  lost updates                 {} (counter {}, expected {}) ({})",
            v.lost_updates,
            v.counter,
            v.completed,
            yes_no(v.lost_updates == 0)
        ),
        format!(
            "  two holders at once          {} ({})",
            v.overlaps,
            yes_no(v.overlaps == 0)
        ),
        format!(
            "  sections past their lease    {} ({})",
            v.late,
            yes_no(v.late == 0)
        ),
    ]
}
