//! Unit tests of [`super::Attempt`]: answer sequences and what they decide.

use super::*;

fn rules(nodes: usize, fencing: bool) -> AttemptRules {
    AttemptRules {
        nodes,
        fencing,
        max_ttl: Duration::from_secs(60),
        slack: Duration::from_millis(450),
    }
}

fn granted(age_s: Option<u64>) -> AcquireReply {
    AcquireReply {
        granted: true,
        marker_age_ms: age_s.map(|s| s * 1000),
        ..AcquireReply::default()
    }
}

fn busy(age_s: Option<u64>) -> AcquireReply {
    AcquireReply {
        granted: false,
        holder_pttl_ms: Some(900),
        marker_age_ms: age_s.map(|s| s * 1000),
        ..AcquireReply::default()
    }
}

#[test]
fn fenced_attempts_hear_everyone() {
    let mut a = Attempt::new(rules(3, true));
    assert_eq!(a.answer(0, Some(&granted(None)), false), Step::Continue);
    assert_eq!(a.answer(1, Some(&granted(None)), false), Step::Continue);
    assert_eq!(a.answer(2, None, false), Step::Continue);
    let o = a.finish(true);
    assert_eq!(o.verdict, Verdict::Won);
    assert_eq!(o.failed, 1);
}

#[test]
fn a_node_that_came_back_empty_is_held_back() {
    let mut a = Attempt::new(rules(3, false));
    a.answer(0, Some(&granted(Some(1))), false);
    a.answer(1, Some(&granted(Some(3600))), false);
    a.answer(2, Some(&busy(Some(3600))), false);
    let o = a.finish(true);
    assert_eq!(o.held_back, vec![(0, Duration::from_secs(1))]);
    assert_ne!(o.verdict, Verdict::Won);
    assert!(
        o.trust.is_empty(),
        "a round with a held-back node trusts no marker"
    );
}

#[test]
fn a_new_deployment_counts_young_grants() {
    let mut a = Attempt::new(rules(3, false));
    for i in 0..3 {
        a.answer(i, Some(&granted(Some(1))), false);
    }
    let o = a.finish(true);
    assert_eq!(o.verdict, Verdict::Won);
    assert_eq!(o.trust.len(), 3);
}

#[test]
fn a_trusted_young_marker_counts_at_once() {
    let mut a = Attempt::new(rules(3, false));
    assert_eq!(a.answer(0, Some(&granted(Some(1))), true), Step::Continue);
    assert_eq!(a.answer(1, Some(&granted(Some(1))), true), Step::Stop);
    assert_eq!(a.finish(false).verdict, Verdict::Won);
}

#[test]
fn refused_nodes_are_not_released() {
    let mut a = Attempt::new(rules(3, false));
    a.answer(0, Some(&busy(None)), false);
    a.answer(1, Some(&busy(None)), false);
    let o = a.finish(false);
    assert_eq!(o.verdict, Verdict::Busy);
    assert_eq!(o.release_on, vec![2]);
    assert_eq!(o.holder_ttl, Some(Duration::from_millis(900)));
}

#[test]
fn refusals_make_it_busy_even_with_a_node_held_back() {
    // 5 nodes, held by another owner on 4; the fifth came back empty and grants. Its
    // grant is held back, and two refusals settle it whatever the rest say: busy,
    // not unavailable (every node answered or could have).
    let mut a = Attempt::new(rules(5, false));
    a.answer(0, Some(&granted(Some(1))), false);
    a.answer(1, Some(&busy(Some(3600))), false);
    assert_eq!(a.answer(2, Some(&busy(Some(3600))), false), Step::Stop);
    let o = a.finish(false);
    assert_eq!(o.verdict, Verdict::Busy);
    assert_eq!(o.held_back.len(), 1);
}

#[test]
fn failures_alone_make_it_unavailable() {
    let mut a = Attempt::new(rules(3, false));
    a.answer(0, None, false);
    assert_eq!(a.answer(1, None, false), Step::Stop);
    assert_eq!(a.finish(false).verdict, Verdict::Unavailable);
    // Two failures and a refusal: still unavailable (no quorum even if it granted).
    let mut a = Attempt::new(rules(3, false));
    a.answer(2, Some(&busy(None)), false);
    a.answer(0, None, false);
    a.answer(1, None, false);
    assert_eq!(a.finish(true).verdict, Verdict::Unavailable);
    // Nodes held back count like failed ones: nobody holds it, yet no quorum.
    let mut a = Attempt::new(rules(3, false));
    a.answer(0, Some(&granted(Some(3600))), false);
    a.answer(1, Some(&granted(Some(1))), false);
    a.answer(2, Some(&granted(Some(1))), false);
    assert_eq!(a.finish(true).verdict, Verdict::Unavailable);
}

#[test]
fn a_second_answer_from_one_node_is_ignored() {
    let mut a = Attempt::new(rules(3, false));
    a.answer(0, Some(&granted(None)), false);
    a.answer(0, Some(&granted(None)), false);
    assert_eq!(a.answer(0, None, false), Step::Continue);
    assert_eq!(a.finish(false).granted, vec![0]);
}

/// The nodes whose markers an outcome trusts.
fn trusted_nodes(o: &Outcome) -> Vec<usize> {
    o.trust.iter().map(|&(i, _)| i).collect()
}

#[test]
fn refusals_with_a_young_marker_among_older_ones_are_not_trusted() {
    // Node 1 refused with a marker far younger than the others': it lost its data. Its
    // refusal says nothing about its next grant, which must wait for max_ttl.
    let mut a = Attempt::new(rules(3, true));
    a.answer(0, Some(&busy(Some(30))), false);
    a.answer(1, Some(&busy(Some(0))), false);
    a.answer(2, Some(&granted(Some(30))), false);
    let o = a.finish(true);
    assert_eq!(o.verdict, Verdict::Busy);
    let trusted = trusted_nodes(&o);
    assert_eq!(trusted, vec![0, 2]);
}

#[test]
fn a_replaced_marker_is_not_trusted_even_when_every_marker_is_young() {
    // Every node lost its data (all markers young, as in a new deployment), but node 0's
    // marker replaced the one the caller trusted: it stays untrusted until max_ttl old.
    let mut a = Attempt::new(rules(3, true));
    a.answer_known(0, Some(&busy(Some(0))), Known::Replaced);
    a.answer(1, Some(&busy(Some(0))), false);
    a.answer(2, Some(&busy(Some(0))), false);
    let trusted = trusted_nodes(&a.finish(true));
    assert_eq!(trusted, vec![1, 2]);
}

#[test]
fn markers_older_than_max_ttl_are_trusted_whatever_replaced_them() {
    let mut a = Attempt::new(rules(3, false));
    a.answer_known(0, Some(&busy(Some(61))), Known::Replaced);
    a.answer(1, Some(&busy(Some(0))), false);
    a.answer(2, Some(&busy(Some(61))), false);
    let trusted = trusted_nodes(&a.finish(true));
    assert_eq!(trusted, vec![0, 2]);
}

/// The quick acquire reports a marker it knows to be old as `KNOWN_OLD_MS` instead of its
/// true age (`ops/quick.rs`): that must never count a grant, win a vote or trust a marker
/// that the true ages would not.
mod known_old {
    use proptest::prelude::*;

    use super::*;

    /// One node's answer: granted or refused, the marker's age in ms (none, young, about
    /// `max_ttl`, old), and what the client knew of the marker.
    type Answer = (bool, Option<u64>, Known);

    fn answer() -> impl Strategy<Value = Answer> {
        let age = prop_oneof![
            Just(None),
            (0u64..60_000).prop_map(Some),
            (59_000u64..61_000).prop_map(Some),
            (60_000u64..10_000_000).prop_map(Some),
        ];
        let known = prop_oneof![
            Just(Known::Trusted),
            Just(Known::Replaced),
            Just(Known::Unknown)
        ];
        (any::<bool>(), age, known)
    }

    /// Answers for 1 to 5 nodes, and the order they arrive in.
    fn round() -> impl Strategy<Value = (Vec<Answer>, Vec<usize>)> {
        proptest::collection::vec(answer(), 1..=5).prop_flat_map(|answers| {
            let order: Vec<usize> = (0..answers.len()).collect();
            (Just(answers), Just(order).prop_shuffle())
        })
    }

    /// Feed the answers in order and conclude, with every marker at least `max_ttl` old
    /// reported as `KNOWN_OLD_MS` if `known_old`.
    fn conclude(
        answers: &[(bool, Option<u64>, Known)],
        order: &[usize],
        known_old: bool,
    ) -> Outcome {
        let rules = rules(answers.len(), false);
        let mut attempt = Attempt::new(rules);
        for &i in order {
            let (granted, age, known) = answers[i];
            let age = match age {
                Some(ms) if known_old && Duration::from_millis(ms) >= rules.max_ttl => {
                    Some(crate::protocol::KNOWN_OLD_MS)
                }
                age => age,
            };
            let reply = AcquireReply {
                granted,
                marker_age_ms: age,
                ..AcquireReply::default()
            };
            attempt.answer_known(i, Some(&reply), known);
        }
        attempt.finish(true)
    }

    proptest! {
        #[test]
        fn an_old_marker_reported_older_never_counts_more(case in round()) {
            let (answers, order) = case;
            let exact = conclude(&answers, &order, false);
            let reported = conclude(&answers, &order, true);
            prop_assert!(
                reported.granted.iter().all(|i| exact.granted.contains(i)),
                "granted {:?} against {:?}", reported.granted, exact.granted
            );
            prop_assert!(reported.verdict != Verdict::Won || exact.verdict == Verdict::Won);
            let nodes = |o: &Outcome| o.trust.iter().map(|&(i, _)| i).collect::<Vec<_>>();
            prop_assert!(
                nodes(&reported).iter().all(|i| nodes(&exact).contains(i)),
                "trusted {:?} against {:?}", nodes(&reported), nodes(&exact)
            );
        }
    }
}
