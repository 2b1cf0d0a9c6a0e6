//! Hand-made histories that the checker must flag, and ones it must not.

use super::*;
use crate::history::{FenceOutcome, FencedOp, OpKind, Section};

const MS: u64 = 1_000_000;

/// A section of worker `worker` holding from `start` to `end` (ms), valid
/// until `valid` (ms), with token `token`, called `start - 1` ms.
fn section(worker: u32, token: u64, start: u64, end: u64, valid: u64) -> Section {
    Section {
        worker,
        seq: u32::try_from(token).unwrap_or(0),
        resource: "r".into(),
        owner: format!("owner-{worker}-{token}"),
        token,
        call_ns: (start - 1) * MS,
        start_ns: start * MS,
        end_ns: end * MS,
        valid_until_ns: valid * MS,
        lost_ns: None,
        lost_reason: None,
        believed_valid_at_end: end < valid,
        ops: Vec::new(),
    }
}

fn op(kind: OpKind, token: u64, sent: u64, ack: u64, outcome: FenceOutcome) -> FencedOp {
    FencedOp {
        kind,
        token,
        sent_ns: sent * MS,
        ack_ns: ack * MS,
        outcome,
        value: 0,
    }
}

fn history(sections: Vec<Section>) -> History {
    History {
        sections,
        acquires: Vec::new(),
    }
}

#[test]
fn a_clean_sequential_history_has_no_findings() {
    let mut a = section(0, 1, 10, 20, 1000);
    a.ops = vec![
        op(OpKind::Read, 1, 11, 12, FenceOutcome::Accepted),
        op(OpKind::Write, 1, 13, 14, FenceOutcome::Accepted),
    ];
    let mut b = section(1, 2, 25, 30, 1000);
    b.ops = vec![
        op(OpKind::Read, 2, 26, 27, FenceOutcome::Accepted),
        op(OpKind::Write, 2, 28, 29, FenceOutcome::Accepted),
    ];
    let fence = FenceState {
        counter: 2,
        accepted_writes: 2,
        accepted_reads: 2,
        rejected: 0,
    };
    let f = check(&history(vec![a, b]), Some(fence));
    assert!(f.is_clean(), "{f:?}");
    assert_eq!(f.sections, 2);
    assert_eq!(f.late_ops, 0);
    assert_eq!(f.lost_signalled, 0);
}

#[test]
fn sections_that_touch_do_not_overlap() {
    let a = section(0, 1, 10, 20, 1000);
    let b = section(1, 2, 20, 30, 1000);
    assert!(check(&history(vec![a, b]), None).overlaps.is_empty());
}

#[test]
fn two_live_leases_at_once_are_a_violation_and_an_unsignalled_loss() {
    let a = section(0, 1, 10, 50, 1000);
    let b = section(1, 2, 30, 60, 1000);
    let f = check(&history(vec![b, a]), None);
    assert_eq!(f.overlaps.len(), 1, "{f:?}");
    let o = f.overlaps[0];
    assert_eq!((o.first.worker, o.second.worker), (0, 1));
    assert_eq!(o.overlap_ns, 20 * MS);
    assert_eq!(f.unsignalled.len(), 1);
    assert_eq!(f.unsignalled[0].worker, 0);
    assert!(!f.is_clean());
}

#[test]
fn a_holder_past_its_deadline_is_late_not_a_violation() {
    // A's lease ends at 40 (deadline); it goes on until 90 and writes at 80,
    // after B (from 45) wrote with a greater token: the fence rejects it.
    let mut a = section(0, 1, 10, 90, 40);
    a.lost_ns = Some(85 * MS);
    a.believed_valid_at_end = false;
    a.ops = vec![
        op(OpKind::Read, 1, 11, 12, FenceOutcome::Accepted),
        op(OpKind::Write, 1, 80, 81, FenceOutcome::Rejected),
    ];
    let mut b = section(1, 2, 45, 60, 1000);
    b.ops = vec![
        op(OpKind::Read, 2, 46, 47, FenceOutcome::Accepted),
        op(OpKind::Write, 2, 48, 49, FenceOutcome::Accepted),
    ];
    let fence = FenceState {
        counter: 1,
        accepted_writes: 1,
        accepted_reads: 2,
        rejected: 1,
    };
    let f = check(&history(vec![a, b]), Some(fence));
    assert!(f.is_clean(), "{f:?}");
    assert_eq!(f.late_ops, 1);
    assert_eq!(f.stale_rejected, 1);
    assert_eq!(f.lost_signalled, 1);
}

#[test]
fn a_holder_told_of_a_loss_stops_being_live_at_once() {
    // A is told at 30 that a quorum no longer holds it (its deadline was
    // 1000); B acquires at 35.
    let mut a = section(0, 1, 10, 31, 1000);
    a.lost_ns = Some(30 * MS);
    a.believed_valid_at_end = false;
    let b = section(1, 2, 35, 60, 1000);
    let f = check(&history(vec![a.clone(), b.clone()]), None);
    assert!(f.is_clean(), "{f:?}");
    // Told only at 40: both believed they held it from 35 to 40.
    a.lost_ns = Some(40 * MS);
    a.end_ns = 41 * MS;
    let f = check(&history(vec![a, b]), None);
    assert_eq!(f.overlaps.len(), 1);
    assert_eq!(f.overlaps[0].overlap_ns, 5 * MS);
}

#[test]
fn a_lease_granted_earlier_must_have_a_smaller_token() {
    let a = section(0, 5, 10, 20, 1000);
    let b = section(1, 4, 25, 30, 1000); // called at 24, after A was granted
    let f = check(&history(vec![a, b]), None);
    assert_eq!(f.token_disorder.len(), 1, "{f:?}");
    assert_eq!(f.token_disorder[0].earlier.token, 5);
    assert_eq!(f.token_disorder[0].later.token, 4);
}

#[test]
fn leases_without_a_token_take_no_part_in_the_order() {
    // Two leases that never asked for their token (0), then one with a token: no
    // disorder, no shared token.
    let a = section(0, 0, 10, 20, 1000);
    let b = section(1, 0, 25, 30, 1000);
    let c = section(0, 7, 35, 40, 1000);
    let f = check(&history(vec![a, b, c]), None);
    assert!(f.token_disorder.is_empty(), "{f:?}");
    // The order is still checked among those with one.
    let d = section(1, 6, 45, 50, 1000);
    let e = section(0, 0, 55, 60, 1000);
    let f = check(&history(vec![section(0, 7, 35, 40, 1000), d, e]), None);
    assert_eq!(f.token_disorder.len(), 1, "{f:?}");
}

#[test]
fn concurrent_acquisitions_may_get_tokens_in_any_order() {
    // B was called before A was granted (and waited): no order is promised.
    let a = section(0, 5, 10, 20, 1000);
    let mut b = section(1, 4, 25, 30, 1000);
    b.call_ns = 5 * MS;
    let f = check(&history(vec![a, b]), None);
    assert!(f.token_disorder.is_empty(), "{f:?}");
}

#[test]
fn two_leases_never_share_a_token() {
    let a = section(0, 3, 10, 20, 1000);
    let mut b = section(1, 3, 25, 30, 1000);
    b.call_ns = 5 * MS;
    let f = check(&history(vec![a, b]), None);
    assert_eq!(f.token_disorder.len(), 1, "{f:?}");
}

#[test]
fn an_access_accepted_after_a_greater_token_was_acknowledged_is_stale() {
    let mut a = section(0, 1, 10, 90, 40);
    a.believed_valid_at_end = false;
    a.ops = vec![op(OpKind::Write, 1, 80, 81, FenceOutcome::Accepted)];
    let mut b = section(1, 2, 45, 60, 1000);
    b.ops = vec![op(OpKind::Read, 2, 46, 47, FenceOutcome::Accepted)];
    let f = check(&history(vec![a.clone(), b.clone()]), None);
    assert_eq!(f.stale_accepted.len(), 1, "{f:?}");
    assert_eq!(f.stale_accepted[0].worker, 0);
    // Sent before the greater token was acknowledged: a race the fence
    // cannot see, not a stale acceptance.
    a.ops = vec![op(OpKind::Write, 1, 46, 48, FenceOutcome::Accepted)];
    assert!(check(&history(vec![a, b]), None).stale_accepted.is_empty());
}

#[test]
fn a_holder_that_believes_past_its_deadline_was_not_told() {
    let mut a = section(0, 1, 10, 50, 40);
    a.believed_valid_at_end = true;
    let f = check(&history(vec![a]), None);
    assert_eq!(f.unsignalled.len(), 1, "{f:?}");
}

#[test]
fn the_counter_must_match_the_accepted_writes() {
    let fence = FenceState {
        counter: 7,
        accepted_writes: 9,
        accepted_reads: 9,
        rejected: 0,
    };
    let f = check(&history(Vec::new()), Some(fence));
    assert_eq!(f.counter_mismatch, 2);
    assert!(!f.is_clean());
}

#[test]
fn many_sequential_sections_stay_clean() {
    let sections: Vec<Section> = (0..500u64)
        .map(|i| {
            section(
                (i % 4) as u32,
                i + 1,
                10 + i * 10,
                15 + i * 10,
                10 + i * 10 + 900,
            )
        })
        .collect();
    let f = check(&history(sections), None);
    assert!(f.is_clean(), "{f:?}");
}
