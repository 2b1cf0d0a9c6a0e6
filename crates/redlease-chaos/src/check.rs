//! The history checker: what went wrong in a run, from the records alone.
//!
//! Pure functions over a [`History`] and the fenced resource's final state,
//! so that every rule can be tested on hand-made histories. The rules:
//!
//! - **Mutual exclusion**: two sections whose leases were *live* at the same
//!   time. A section is live from its start until the earliest of the end of
//!   its work, its deadline (the client's own validity) and the moment its
//!   holder was told the lease was lost. A holder that carries on after that
//!   is at fault itself; it is not a lock violation but a *late* access,
//!   which the fenced resource must handle.
//! - **Fencing token order**: if acquisition B was called after lease A was
//!   granted, B's token must be greater than A's; no two leases share one.
//! - **Stale access accepted**: the fenced resource accepted an access whose
//!   token was below one it had already acknowledged before the access was
//!   sent.
//! - **Lost updates**: the counter must equal the number of writes the
//!   resource accepted (each write is `read + 1` under the lease).
//! - **Unsignalled loss**: a holder believed its lease valid after the
//!   deadline it had been given (the library lied), or while another holder
//!   had the lease (the nodes gave it away without the holder being told;
//!   the earlier party of every mutual-exclusion violation).
//! - **Validity beyond the keys** ([`validity`]): a holder's `remaining()` exceeded what
//!   a quorum of the nodes' lock keys still held for its owner (G4).
//! - **Busy reported as unavailable** ([`unavailable`]): an acquire failed as
//!   *unavailable* although a quorum of nodes answered and the schedule had them up.

pub mod unavailable;
pub mod validity;

use std::collections::{BTreeSet, HashMap};

use crate::history::{FenceOutcome, History, OpKind, Section};

/// The fenced resource at the end of a run (its own counts).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FenceState {
    /// The counter's final value.
    pub counter: u64,
    /// Writes it accepted.
    pub accepted_writes: u64,
    /// Reads it accepted.
    pub accepted_reads: u64,
    /// Accesses it rejected for a stale token.
    pub rejected: u64,
}

/// Names one section: worker, sequence number, token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SectionId {
    /// Worker number.
    pub worker: u32,
    /// Sequence number within the worker.
    pub seq: u32,
    /// Fencing token.
    pub token: u64,
}

impl SectionId {
    fn of(s: &Section) -> Self {
        SectionId {
            worker: s.worker,
            seq: s.seq,
            token: s.token,
        }
    }
}

impl std::fmt::Display for SectionId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "w{}#{} (token {})", self.worker, self.seq, self.token)
    }
}

/// Two live leases at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Overlap {
    /// The section that started first.
    pub first: SectionId,
    /// The section that started while the first was live.
    pub second: SectionId,
    /// How long both were live.
    pub overlap_ns: u64,
}

/// A fencing token that does not follow the order of acquisitions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenDisorder {
    /// The lease granted first.
    pub earlier: SectionId,
    /// A lease acquired after it, with a token not above it.
    pub later: SectionId,
}

/// What the checker found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Findings {
    /// Sections checked.
    pub sections: usize,
    /// Mutual-exclusion violations.
    pub overlaps: Vec<Overlap>,
    /// Fencing tokens out of order, or shared.
    pub token_disorder: Vec<TokenDisorder>,
    /// Accesses the fenced resource accepted with a stale token.
    pub stale_accepted: Vec<SectionId>,
    /// Accesses the fenced resource rejected.
    pub stale_rejected: u64,
    /// Accesses sent after the holder's lease had ended (the holder's fault;
    /// the fence must catch those that matter).
    pub late_ops: usize,
    /// Sections whose holder was told the lease was lost.
    pub lost_signalled: usize,
    /// Sections whose lease ended without the holder being told.
    pub unsignalled: Vec<SectionId>,
    /// Accepted writes minus the counter: positive means lost updates,
    /// negative means writes counted that the resource did not accept.
    pub counter_mismatch: i64,
}

impl Findings {
    /// Whether nothing that a correct lock and fence must prevent happened.
    pub fn is_clean(&self) -> bool {
        self.overlaps.is_empty()
            && self.token_disorder.is_empty()
            && self.stale_accepted.is_empty()
            && self.unsignalled.is_empty()
            && self.counter_mismatch == 0
    }
}

/// Checks a run's history against every rule of the [module docs](self).
pub fn check(history: &History, fence: Option<FenceState>) -> Findings {
    let sections = &history.sections;
    let overlaps = overlaps(sections);
    let mut unsignalled: BTreeSet<SectionId> = overlaps.iter().map(|o| o.first).collect();
    unsignalled.extend(
        sections
            .iter()
            .filter(|s| s.believed_valid_at_end && s.end_ns > s.valid_until_ns)
            .map(SectionId::of),
    );
    let late_ops = sections
        .iter()
        .map(|s| {
            let live_end = s.live_end_ns();
            s.ops.iter().filter(|op| op.sent_ns > live_end).count()
        })
        .sum();
    let rejected_seen = sections
        .iter()
        .flat_map(|s| &s.ops)
        .filter(|op| op.outcome == FenceOutcome::Rejected)
        .count() as u64;
    let counter_mismatch = fence.map_or(0, |f| {
        i64::try_from(f.accepted_writes).unwrap_or(i64::MAX)
            - i64::try_from(f.counter).unwrap_or(i64::MAX)
    });
    Findings {
        sections: sections.len(),
        token_disorder: token_disorder(sections),
        stale_accepted: stale_accepted(sections),
        stale_rejected: fence.map_or(rejected_seen, |f| f.rejected.max(rejected_seen)),
        late_ops,
        lost_signalled: sections.iter().filter(|s| s.told_lost()).count(),
        unsignalled: unsignalled.into_iter().collect(),
        counter_mismatch,
        overlaps,
    }
}

/// Pairs of sections live at the same time.
fn overlaps(sections: &[Section]) -> Vec<Overlap> {
    let mut live: Vec<&Section> = sections
        .iter()
        .filter(|s| s.live_end_ns() > s.start_ns)
        .collect();
    live.sort_by_key(|s| (s.start_ns, s.worker, s.seq));
    let mut found = Vec::new();
    for (i, a) in live.iter().enumerate() {
        let a_end = a.live_end_ns();
        for b in &live[i + 1..] {
            if b.start_ns >= a_end {
                break;
            }
            if a.owner == b.owner {
                continue;
            }
            found.push(Overlap {
                first: SectionId::of(a),
                second: SectionId::of(b),
                overlap_ns: a_end.min(b.live_end_ns()) - b.start_ns,
            });
        }
    }
    found
}

/// Leases acquired after another was granted, without a greater token; and
/// tokens shared by two leases. Leases without a token (0: fencing off, or a token
/// minted on demand that could not be) take no part.
fn token_disorder(sections: &[Section]) -> Vec<TokenDisorder> {
    let sections: Vec<&Section> = sections.iter().filter(|s| s.token != 0).collect();
    let mut found = Vec::new();
    let mut by_token: HashMap<u64, &Section> = HashMap::new();
    for &s in &sections {
        if let Some(first) = by_token.get(&s.token) {
            if first.owner != s.owner {
                found.push(TokenDisorder {
                    earlier: SectionId::of(first),
                    later: SectionId::of(s),
                });
            }
        } else {
            by_token.insert(s.token, s);
        }
    }
    // Granted leases by grant time, with the running maximum of their tokens.
    let mut granted = sections.clone();
    granted.sort_by_key(|s| s.start_ns);
    let mut running_max: Vec<&Section> = Vec::with_capacity(granted.len());
    for s in &granted {
        let best = match running_max.last() {
            Some(prev) if prev.token >= s.token => prev,
            _ => s,
        };
        running_max.push(best);
    }
    for &later in &sections {
        let before = granted.partition_point(|s| s.start_ns < later.call_ns);
        if before == 0 {
            continue;
        }
        let earlier = running_max[before - 1];
        if earlier.token >= later.token && earlier.owner != later.owner {
            let pair = TokenDisorder {
                earlier: SectionId::of(earlier),
                later: SectionId::of(later),
            };
            if !found.contains(&pair) {
                found.push(pair);
            }
        }
    }
    found
}

/// Accesses accepted although a greater token had been acknowledged before
/// they were sent.
fn stale_accepted(sections: &[Section]) -> Vec<SectionId> {
    let mut acks: Vec<(u64, u64)> = sections
        .iter()
        .flat_map(|s| &s.ops)
        .filter(|op| op.outcome == FenceOutcome::Accepted)
        .map(|op| (op.ack_ns, op.token))
        .collect();
    acks.sort_unstable();
    let mut max_token = Vec::with_capacity(acks.len());
    let mut max = 0;
    for &(_, token) in &acks {
        max = max.max(token);
        max_token.push(max);
    }
    let mut found = Vec::new();
    for s in sections {
        let stale = s.ops.iter().any(|op| {
            let before = acks.partition_point(|&(ack, _)| ack < op.sent_ns);
            op.outcome == FenceOutcome::Accepted && before > 0 && max_token[before - 1] > op.token
        });
        if stale {
            found.push(SectionId::of(s));
        }
    }
    found
}

/// Writes accepted by the resource according to the workers' own records.
pub fn accepted_writes(history: &History) -> u64 {
    history
        .sections
        .iter()
        .flat_map(|s| &s.ops)
        .filter(|op| op.kind == OpKind::Write && op.outcome == FenceOutcome::Accepted)
        .count() as u64
}

#[cfg(test)]
mod tests;
