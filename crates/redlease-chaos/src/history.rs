//! What workers record, and what they tell the runner, one JSON line each.
//!
//! A run's history is the list of critical sections every worker went
//! through (who held which lease, with which token, from when to when, how
//! it ended, what it did to the fenced resource) plus every acquire call
//! (for availability and latency). Times are nanoseconds on the shared
//! monotonic clock ([`crate::mono`]), so sections of different processes can
//! be compared. The same types travel from worker to runner as [`Event`]s on
//! the worker's stdout.

use serde::{Deserialize, Serialize};

use crate::check::unavailable::FailureDetail;

/// What the fenced resource said to one access.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FenceOutcome {
    /// Token at least the highest seen: done.
    Accepted,
    /// Token below the highest seen: refused.
    Rejected,
    /// No answer (error or timeout): it may or may not have been applied.
    Unknown,
}

/// One access to the fenced resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FencedOp {
    /// `read` or `write`.
    pub kind: OpKind,
    /// The token sent with it.
    pub token: u64,
    /// When it was sent.
    pub sent_ns: u64,
    /// When the answer came (or the attempt gave up).
    pub ack_ns: u64,
    /// What the resource said.
    pub outcome: FenceOutcome,
    /// The counter value read, or written.
    pub value: u64,
}

/// A read or a write of the fenced counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OpKind {
    /// Read the counter (registers the token too).
    Read,
    /// Write the counter.
    Write,
}

/// One critical section: from a successful acquire to the release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Section {
    /// Worker number within the run.
    pub worker: u32,
    /// Sequence number within the worker.
    pub seq: u32,
    /// The resource locked.
    pub resource: String,
    /// The lease's owner value.
    pub owner: String,
    /// The lease's fencing token.
    pub token: u64,
    /// When the acquire call that produced the lease was made.
    pub call_ns: u64,
    /// When acquire returned the lease: the section starts.
    pub start_ns: u64,
    /// When the work ended (before the release was sent).
    pub end_ns: u64,
    /// The latest validity deadline the holder knew of, on its own clock.
    pub valid_until_ns: u64,
    /// When the holder was told the lease was lost, if it was.
    pub lost_ns: Option<u64>,
    /// Why, as the library said it.
    pub lost_reason: Option<String>,
    /// Whether the holder still believed the lease valid at `end_ns`.
    pub believed_valid_at_end: bool,
    /// Accesses to the fenced resource, in order.
    pub ops: Vec<FencedOp>,
}

impl Section {
    /// When the lease stopped being valid for its holder: the earliest of
    /// the end of the work, the deadline, and the moment it was told of a
    /// loss.
    pub fn live_end_ns(&self) -> u64 {
        let mut end = self.end_ns.min(self.valid_until_ns);
        if let Some(lost) = self.lost_ns {
            end = end.min(lost);
        }
        end
    }

    /// Whether the holder learnt of a loss during the section.
    pub fn told_lost(&self) -> bool {
        self.lost_ns.is_some() || !self.believed_valid_at_end
    }
}

/// One call to `acquire`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AcquireCall {
    /// Worker number.
    pub worker: u32,
    /// When it was made.
    pub call_ns: u64,
    /// How long it took.
    pub latency_ns: u64,
    /// `None` on success, else the error kind (`busy`, `unavailable`, ...).
    pub error: Option<String>,
    /// What the error said, in detail (for the busy-vs-unavailable rule).
    #[serde(default)]
    pub failure: Option<FailureDetail>,
}

/// What a worker writes on stdout, one JSON object per line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "ev", rename_all = "snake_case")]
pub enum Event {
    /// Connected and about to start.
    Ready {
        /// Worker number.
        worker: u32,
        /// Its process id.
        pid: u32,
    },
    /// An acquire call finished.
    Acquire(AcquireCall),
    /// Holding the lease and waiting to be paused (asked for with `pause-next`).
    Holding {
        /// Worker number.
        worker: u32,
        /// The section's sequence number.
        seq: u32,
    },
    /// A critical section finished.
    Section(Section),
    /// A fatal problem; the worker exits after it.
    Failed {
        /// Worker number.
        worker: u32,
        /// What went wrong.
        message: String,
    },
}

/// Everything recorded during one run.
#[derive(Debug, Clone, Default)]
pub struct History {
    /// Every critical section.
    pub sections: Vec<Section>,
    /// Every acquire call.
    pub acquires: Vec<AcquireCall>,
}

impl History {
    /// Adds an event's record, if it carries one.
    pub fn record(&mut self, event: &Event) {
        match event {
            Event::Section(s) => self.sections.push(s.clone()),
            Event::Acquire(a) => self.acquires.push(a.clone()),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_round_trip_as_json_lines() {
        let event = Event::Holding { worker: 2, seq: 7 };
        let line = serde_json::to_string(&event).expect("json");
        assert_eq!(line, r#"{"ev":"holding","worker":2,"seq":7}"#);
        let back: Event = serde_json::from_str(&line).expect("parse");
        assert_eq!(back, event);
    }
}
