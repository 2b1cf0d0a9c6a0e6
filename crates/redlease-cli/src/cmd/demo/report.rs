//! The demo's verdict: each check, its evidence, and whether all passed.
//!
//! The checks are the properties a lock must give its users: every section ran, no
//! update was lost on the racy counter, no section finished after its lease expired,
//! and fencing tokens grew strictly in the order the sections ran. Latency percentiles
//! show what waiting for the lock cost.

use std::sync::atomic::Ordering;
use std::time::Duration;

use hdrhistogram::Histogram;

use super::worker::Board;
use crate::cli::DemoArgs;
use crate::exit::Failure;
use crate::output::print_line;

/// The results of a demo run.
pub struct Summary {
    sections: u32,
    done: u32,
    late: u32,
    counter: Option<u64>,
    /// (first, last, first position where the order breaks)
    tokens: (Option<u64>, Option<u64>, Option<usize>),
    latency: Option<Histogram<u64>>,
    errors: Vec<String>,
    elapsed: Duration,
    per_worker: Vec<u32>,
    nodes: usize,
}

impl Summary {
    /// Gather the results from the board and the counter's final value.
    pub fn new(
        board: &Board,
        args: &DemoArgs,
        nodes: usize,
        counter: Option<u64>,
        elapsed: Duration,
    ) -> Self {
        let tokens = board.tokens.lock().map(|t| t.clone()).unwrap_or_default();
        let broken = tokens.windows(2).position(|w| w[0] >= w[1]);
        Summary {
            sections: args.sections,
            done: board.done.load(Ordering::Relaxed),
            late: board.late.load(Ordering::Relaxed),
            counter,
            tokens: (tokens.first().copied(), tokens.last().copied(), broken),
            latency: board.latency.lock().ok().map(|h| h.clone()),
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

    fn all_done(&self) -> bool {
        self.done == self.sections && self.errors.is_empty()
    }

    fn lost_updates(&self) -> Option<u64> {
        self.counter.map(|c| u64::from(self.done).abs_diff(c))
    }

    fn tokens_increasing(&self) -> bool {
        self.tokens.2.is_none() && self.tokens.0.is_some_and(|t| t > 0)
    }

    /// Whether every check passed.
    pub fn passed(&self) -> bool {
        self.all_done()
            && self.lost_updates() == Some(0)
            && self.late == 0
            && self.tokens_increasing()
    }

    /// Print the summary on stdout.
    pub fn print(&self) -> Result<(), Failure> {
        let yes_no = |ok: bool| if ok { "yes" } else { "NO" };
        let mut lines = vec![
            String::new(),
            format!(
                "summary ({} nodes, quorum {}, {:.1}s)",
                self.nodes,
                self.nodes / 2 + 1,
                self.elapsed.as_secs_f64()
            ),
            format!(
                "  critical sections done       {} of {} ({})  per worker: {}",
                self.done,
                self.sections,
                yes_no(self.all_done()),
                self.per_worker
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
            match self.tokens {
                (Some(first), Some(last), None) => format!(
                    "  fencing tokens increasing    {} ({first} .. {last}, in the order the sections ran)",
                    yes_no(self.tokens_increasing())
                ),
                (_, _, Some(at)) => format!(
                    "  fencing tokens increasing    NO (order breaks after section {})",
                    at + 1
                ),
                _ => "  fencing tokens increasing    NO (no token recorded)".to_owned(),
            },
            match (self.counter, self.lost_updates()) {
                (Some(counter), Some(lost)) => format!(
                    "  lost updates                 {lost} (counter {counter}, expected {}) ({})",
                    self.done,
                    yes_no(lost == 0)
                ),
                _ => "  lost updates                 unknown: the counter could not be read (NO)"
                    .to_owned(),
            },
            format!(
                "  sections past their lease    {} ({})",
                self.late,
                yes_no(self.late == 0)
            ),
            self.latency_line(),
        ];
        lines.extend(self.errors.iter().map(|e| format!("  error: {e}")));
        lines.push(if self.passed() {
            "all checks passed".to_owned()
        } else {
            "SOME CHECKS FAILED".to_owned()
        });
        lines.iter().try_for_each(|line| print_line(line))
    }

    fn latency_line(&self) -> String {
        let Some(h) = self.latency.as_ref().filter(|h| !h.is_empty()) else {
            return "  acquire latency              no acquisitions".to_owned();
        };
        let ms = |us: u64| format!("{:.1}ms", us as f64 / 1000.0);
        format!(
            "  acquire latency              p50 {}  p90 {}  p99 {}  max {}",
            ms(h.value_at_quantile(0.50)),
            ms(h.value_at_quantile(0.90)),
            ms(h.value_at_quantile(0.99)),
            ms(h.max())
        )
    }
}
