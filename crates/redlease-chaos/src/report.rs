//! The results table, as text or JSON, and the verdict on each row.
//!
//! Timing numbers (availability, latency) are only reported here, never
//! asserted: they depend on the machine's load. What is judged is behaviour:
//! [`Outcome::verdict`] says whether a run kept every promise its scenario
//! makes.

use std::fmt::Write as _;

use serde::Serialize;

use crate::run::Outcome;
use crate::scenario::Promise;

/// One line of the table.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// Scenario name.
    pub scenario: &'static str,
    /// What it does.
    pub about: &'static str,
    /// Lock nodes.
    pub nodes: usize,
    /// `yes` (zero of everything promised), `no: why`, or `skipped: why`.
    pub promised: String,
    /// Critical sections recorded.
    pub sections: usize,
    /// Mutual-exclusion violations (pairs of live leases at once).
    pub violations: usize,
    /// Fencing tokens out of acquisition order (or shared); `None` without fencing.
    pub token_disorder: Option<usize>,
    /// Accesses the fenced resource accepted with a stale token; `None` without fencing.
    pub stale_accepted: Option<usize>,
    /// Accesses the fenced resource rejected for a stale token.
    pub stale_rejected: u64,
    /// Accesses sent after the holder's lease had ended.
    pub late_accesses: usize,
    /// Sections whose holder was told its lease was lost.
    pub lost_signalled: usize,
    /// Sections whose lease ended without the holder being told.
    pub lost_unsignalled: usize,
    /// Accepted writes minus the final counter.
    pub lost_updates: i64,
    /// Successful acquire calls / all acquire calls.
    pub availability: f64,
    /// Acquire calls.
    pub acquire_calls: usize,
    /// Acquire calls that failed because fewer than a quorum answered.
    pub unavailable: usize,
    /// 99th percentile latency of successful acquire calls, ms.
    pub p99_acquire_ms: f64,
    /// Acquire calls that said unavailable although a quorum answered.
    pub busy_as_unavailable: usize,
    /// The largest share of the sections one worker had.
    pub busiest_share: f64,
    /// Fault cycles played.
    pub cycles: u32,
    /// Lease holders frozen.
    pub pauses: u32,
    /// Run time, s.
    pub seconds: f64,
    /// Whether the run kept its promises.
    pub ok: bool,
    /// Why not, if it did not.
    pub failures: Vec<String>,
}

impl Outcome {
    /// Every broken promise of this run (empty: all kept). Whatever the
    /// scenario, the fence must hold (no stale access accepted, no lost
    /// update) and the workers must have run cleanly; where the scenario is
    /// promised clean, there must also be no violation, no token out of
    /// order and no unsignalled loss.
    pub fn verdict(&self) -> Vec<String> {
        let f = &self.findings;
        let mut broken = Vec::new();
        if let Promise::Skipped(_) = self.promise {
            return broken;
        }
        if f.sections == 0 {
            broken.push("no critical section completed".to_owned());
        }
        if !f.stale_accepted.is_empty() {
            broken.push(format!(
                "stale accesses accepted: {:?}",
                head(&f.stale_accepted)
            ));
        }
        if f.counter_mismatch != 0 {
            broken.push(format!(
                "counter {} after {} accepted writes",
                self.fence.counter, self.fence.accepted_writes
            ));
        }
        broken.extend(self.problems.iter().cloned());
        // Busy is never reported as unavailable, whatever the fault (issue 10 item 5).
        if !self.misreported.is_empty() {
            broken.push(format!(
                "busy reported as unavailable {} times: {:?}",
                self.misreported.len(),
                head(&self.misreported)
            ));
        }
        if let Some(bound) = self.scenario.max_busiest_share
            && self.busiest_share > bound
        {
            broken.push(format!(
                "unfair hand-offs: one worker had {:.0} % of the sections (bound {:.0} %)",
                self.busiest_share * 100.0,
                bound * 100.0
            ));
        }
        if self.promise == Promise::Clean {
            if !f.overlaps.is_empty() {
                broken.push(format!(
                    "mutual exclusion violated: {:?}",
                    head(&f.overlaps)
                ));
            }
            if !f.token_disorder.is_empty() {
                broken.push(format!(
                    "fencing tokens out of order: {:?}",
                    head(&f.token_disorder)
                ));
            }
            if !f.unsignalled.is_empty() {
                broken.push(format!(
                    "leases lost unsignalled: {:?}",
                    head(&f.unsignalled)
                ));
            }
        }
        broken
    }

    /// The table row.
    pub fn row(&self) -> Row {
        let f = &self.findings;
        let failures = self.verdict();
        Row {
            scenario: self.scenario.name,
            about: self.scenario.about,
            nodes: self.nodes,
            promised: match self.promise {
                Promise::Clean => "yes".to_owned(),
                Promise::NotPromised(why) => format!("no: {why}"),
                Promise::Skipped(why) => format!("skipped: {why}"),
            },
            sections: f.sections,
            violations: f.overlaps.len(),
            token_disorder: self.fencing.then_some(f.token_disorder.len()),
            stale_accepted: self.fencing.then_some(f.stale_accepted.len()),
            stale_rejected: f.stale_rejected,
            late_accesses: f.late_ops,
            lost_signalled: f.lost_signalled,
            lost_unsignalled: f.unsignalled.len(),
            lost_updates: f.counter_mismatch,
            availability: if self.acquire_calls == 0 {
                0.0
            } else {
                self.acquired as f64 / self.acquire_calls as f64
            },
            acquire_calls: self.acquire_calls,
            unavailable: self.unavailable,
            p99_acquire_ms: self.p99_acquire.as_secs_f64() * 1000.0,
            busy_as_unavailable: self.misreported.len(),
            busiest_share: self.busiest_share,
            cycles: self.cycles,
            pauses: self.pauses,
            seconds: self.elapsed.as_secs_f64(),
            ok: failures.is_empty(),
            failures,
        }
    }
}

/// A count, or `-` where it was not checked.
fn dash(count: Option<usize>) -> String {
    count.map_or_else(|| "-".to_owned(), |n| n.to_string())
}

fn head<T: std::fmt::Debug>(items: &[T]) -> &[T] {
    &items[..items.len().min(3)]
}

/// What each column means, printed under the table.
pub const LEGEND: &str = "\
columns: N lock nodes; promise: yes = everything below must be zero but avail/p99 (asserted by the suite), no = mutual exclusion not promised (fence still must hold);
  sections  critical sections completed      viol   pairs of live leases at once (mutual exclusion violations)
  tok       fencing tokens out of order      stale+ stale accesses ACCEPTED by the fenced resource (both - with --no-fencing)
  stale-    stale accesses rejected          late   accesses sent after the holder's own deadline (its fault; the fence's job)
  lost!     losses the holder was told of    lost?  losses the holder was NOT told of
  upd       lost updates (accepted writes - counter)
  avail     successful acquire calls / calls (each call retries for up to 1.5 ttl; losing to a holder counts as a failure)
  unav      acquire calls that failed because fewer than a quorum of nodes answered
  unav?     of those, calls where a quorum did answer and was reachable (busy reported as unavailable)
  share     the largest share of the sections one worker had (fair: 1 / workers)
  p99       99th percentile acquire latency of successful calls";

/// The rows as an aligned text table.
pub fn table(rows: &[Row]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<23} {:>2} {:<7} {:>8} {:>5} {:>4} {:>6} {:>6} {:>5} {:>6} {:>6} {:>4} {:>6} {:>6} {:>5} {:>5} {:>8} {:>6}  verdict",
        "scenario",
        "N",
        "promise",
        "sections",
        "viol",
        "tok",
        "stale+",
        "stale-",
        "late",
        "lost!",
        "lost?",
        "upd",
        "avail",
        "unav",
        "unav?",
        "share",
        "p99",
        "time"
    );
    for r in rows {
        if r.promised.starts_with("skipped") {
            let _ = writeln!(out, "{:<23} {:>2} {}", r.scenario, r.nodes, r.promised);
            continue;
        }
        let promise = if r.promised == "yes" { "yes" } else { "no*" };
        let verdict = if r.ok { "ok" } else { "FAILED" };
        let _ = writeln!(
            out,
            "{:<23} {:>2} {:<7} {:>8} {:>5} {:>4} {:>6} {:>6} {:>5} {:>6} {:>6} {:>4} {:>5.1}% {:>6} {:>5} {:>5.2} {:>6.0}ms {:>5.1}s  {}",
            r.scenario,
            r.nodes,
            promise,
            r.sections,
            r.violations,
            dash(r.token_disorder),
            dash(r.stale_accepted),
            r.stale_rejected,
            r.late_accesses,
            r.lost_signalled,
            r.lost_unsignalled,
            r.lost_updates,
            r.availability * 100.0,
            r.unavailable,
            r.busy_as_unavailable,
            r.busiest_share,
            r.p99_acquire_ms,
            r.seconds,
            verdict
        );
    }
    let notes: Vec<String> = rows
        .iter()
        .filter(|r| r.promised.starts_with("no"))
        .map(|r| format!("  * {} (N={}): {}", r.scenario, r.nodes, &r.promised[4..]))
        .collect();
    if !notes.is_empty() {
        out.push_str("not promised:\n");
        for n in notes {
            out.push_str(&n);
            out.push('\n');
        }
    }
    for r in rows.iter().filter(|r| !r.ok) {
        let _ = writeln!(
            out,
            "FAILED {} (N={}): {}",
            r.scenario,
            r.nodes,
            r.failures.join("; ")
        );
    }
    out.push_str(LEGEND);
    out.push('\n');
    out
}
