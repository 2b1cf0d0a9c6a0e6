//! The fenced resource: the test kit's fenced counter
//! ([`redlease_testkit::workload::FencedCounter`]) on its own redis-server, which only
//! accepts accesses carrying a fencing token at least as high as any it has seen.
//!
//! A lock alone cannot protect a resource from a holder that was paused past its lease;
//! the resource has to check the token itself, the read as well as the write (see the
//! kit's module for why). This file adds what the checker needs around each access: the
//! times on the shared clock and the outcome, including "unknown" when no answer came.

use redlease_testkit::workload::{Access, FencedCounter};

use crate::check::FenceState;
use crate::history::{FenceOutcome, FencedOp, OpKind};
use crate::mono;

/// Name of the fenced counter (one hash tag, one node): its keys are
/// `chaos{fenced}:counter`, `:token` and `:stats`.
pub const NAME: &str = "chaos{fenced}";

/// A worker's connection to the fenced resource.
pub struct Fenced {
    counter: FencedCounter,
}

impl Fenced {
    /// Connects to the fenced resource's server.
    pub async fn connect(url: &str) -> Result<Fenced, String> {
        let counter = FencedCounter::connect(url, NAME)
            .await
            .map_err(|e| e.to_string())?;
        Ok(Fenced { counter })
    }

    /// Reads the counter with `token`.
    pub async fn read(&mut self, token: u64) -> FencedOp {
        self.access(OpKind::Read, token, 0).await
    }

    /// Writes `value` with `token`.
    pub async fn write(&mut self, token: u64, value: u64) -> FencedOp {
        self.access(OpKind::Write, token, value).await
    }

    async fn access(&mut self, kind: OpKind, token: u64, value: u64) -> FencedOp {
        let sent_ns = mono::now_ns();
        let reply = match kind {
            OpKind::Read => self.counter.read(token).await,
            OpKind::Write => self.counter.write(token, value).await,
        };
        let ack_ns = mono::now_ns();
        let (outcome, value) = match reply {
            Ok(Access::Accepted(counter)) => (
                FenceOutcome::Accepted,
                if kind == OpKind::Read { counter } else { value },
            ),
            Ok(Access::Rejected) => (FenceOutcome::Rejected, value),
            Err(_) => (FenceOutcome::Unknown, value),
        };
        FencedOp {
            kind,
            token,
            sent_ns,
            ack_ns,
            outcome,
            value,
        }
    }
}

/// Reads the fenced resource's final state through the test kit (blocking).
pub fn final_state(node: &redlease_testkit::Node) -> std::io::Result<FenceState> {
    let [counter_key, _, stats_key] = FencedCounter::keys(NAME);
    let counter = node.command(&["GET", &counter_key])?;
    let stats = node.command(&["HGETALL", &stats_key])?;
    let mut state = FenceState {
        counter: counter.parse().unwrap_or(0),
        ..FenceState::default()
    };
    let fields: Vec<&str> = stats.split_whitespace().collect();
    for pair in fields.chunks(2) {
        if let [name, value] = pair {
            let value = value.parse().unwrap_or(0);
            match *name {
                "accepted_writes" => state.accepted_writes = value,
                "accepted_reads" => state.accepted_reads = value,
                "rejected" => state.rejected = value,
                _ => {}
            }
        }
    }
    Ok(state)
}
