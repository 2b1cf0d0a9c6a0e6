//! Counterexamples as people read them: one line per step, with what each node and each
//! client looks like after it.
//!
//! A stateright path is a list of full states, too verbose to follow by eye. Only what
//! matters for the lock is shown: who holds each node's key and for how many more ticks,
//! each node's fence counter and marker age, and each client's phase.

use std::fmt::Write;

use redlease::protocol::NodeVote;
use stateright::Path;

use crate::model::Action;
use crate::state::{MintStage, Node, Phase, State};

/// `path`, one step per line: each action, then the state it led to.
pub fn describe(path: &Path<State, Action>) -> String {
    let steps = path.clone().into_vec();
    let mut out = String::new();
    let mut label = "(start)".to_owned();
    for (state, action) in steps {
        let _ = writeln!(out, "  {label:<36} {}", summary(&state));
        label = action.map_or_else(String::new, |a| format!("{a:?}"));
    }
    out
}

/// One line: nodes, then clients.
pub fn summary(state: &State) -> String {
    let nodes: Vec<String> = state.nodes.iter().map(node).collect();
    let clients: Vec<String> = state
        .clients
        .iter()
        .enumerate()
        .map(|(c, client)| format!("c{c}:{}", phase(&client.phase)))
        .collect();
    let clock = if state.now > 0 {
        format!(" clock {}", state.now)
    } else {
        String::new()
    };
    let published: Vec<String> = state
        .published
        .iter()
        .map(|p| {
            let o = p.owner;
            format!("n{}->c{}#{}.{}", p.node, o.client, o.seq, o.attempt)
        })
        .collect();
    let published = if published.is_empty() {
        String::new()
    } else {
        format!(" grants in flight [{}]", published.join(" "))
    };
    format!(
        "nodes [{}] clients [{}]{clock}{published}",
        nodes.join(" "),
        clients.join(" ")
    )
}

fn node(node: &Node) -> String {
    let mut s = String::new();
    if node.down.is_some() {
        s.push_str("DOWN ");
    }
    match node.lock {
        Some(lock) => {
            let _ = write!(
                s,
                "{}c{}#{}.{}({}t)",
                if lock.granted { "granted:" } else { "" },
                lock.owner.client,
                lock.owner.seq,
                lock.owner.attempt,
                lock.left
            );
        }
        None => match node.handoff {
            Some(w) => {
                let _ = write!(s, "handoff:c{}#{}", w.client, w.seq);
            }
            None => s.push('-'),
        },
    }
    let _ = write!(s, " f{}", node.fence);
    if let Some(age) = node.marker {
        let _ = write!(s, " m{age}");
    }
    if !node.queue.is_empty() {
        let queue: Vec<String> = node
            .queue
            .iter()
            .map(|e| {
                let registered = e
                    .registered
                    .map_or(String::new(), |r| format!("={}", r.owner.attempt));
                format!("c{}#{}{registered}", e.waiter.client, e.waiter.seq)
            })
            .collect();
        let _ = write!(s, " q[{}]", queue.join(","));
    }
    format!("<{s}>")
}

fn phase(phase: &Phase) -> String {
    match phase {
        Phase::Idle => "idle".to_owned(),
        Phase::Backoff => "backoff".to_owned(),
        Phase::Waiting(w) => {
            let granted: Vec<String> = (0..8)
                .filter(|&i| w.granted & (1 << i) != 0)
                .map(|i| format!("n{i}"))
                .collect();
            format!("waiting(+{}t, granted [{}])", w.elapsed, granted.join(","))
        }
        Phase::Voting(r) => format!("voting(+{}t {})", r.elapsed, votes(r.attempt.votes())),
        Phase::Fencing(r) => format!("fencing(token {}, +{}t)", r.token, r.elapsed),
        Phase::Holding(lease) if lease.left.is_zero() => "holding(expired)".to_owned(),
        Phase::Holding(lease) => format!("HOLDING({:?} left)", lease.left),
        Phase::Extending(r) => format!(
            "{}(to {}t, +{}t, yes={} no={} failed={}; {:?} left)",
            if r.renewal { "renewing" } else { "extending" },
            r.ttl,
            r.elapsed,
            r.tally.yes(),
            r.tally.no(),
            r.tally.failed(),
            r.lease.left
        ),
        Phase::Minting(r) => match &r.stage {
            MintStage::Reading(readings) => format!(
                "minting(reading {:?}, +{}t; {:?} left)",
                readings, r.elapsed, r.lease.left
            ),
            MintStage::Recording { token, tally } => format!(
                "minting(token {token}, +{}t, yes={} no={} failed={}; {:?} left)",
                r.elapsed,
                tally.yes(),
                tally.no(),
                tally.failed(),
                r.lease.left
            ),
        },
    }
}

/// Each node's vote, in node order: `+` granted, `y` young, `h` held back, `x` busy,
/// `!` failed, `.` pending.
fn votes(votes: &[NodeVote]) -> String {
    votes
        .iter()
        .map(|v| match v {
            NodeVote::Granted => '+',
            NodeVote::Young(_) => 'y',
            NodeVote::HeldBack(_) => 'h',
            NodeVote::Busy => 'x',
            NodeVote::Failed => '!',
            NodeVote::Pending => '.',
        })
        .collect()
}
