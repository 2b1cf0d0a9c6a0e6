//! What the model test files share: printing a run's size, asserting that every
//! `always` property held and every example was reached, and playing a scripted run.

#![allow(dead_code)]

use redlease_model::model::{Action, Redlease};
use redlease_model::run::Outcome;
use redlease_model::state::State;
use redlease_model::{suite, trace};
use stateright::Model;

/// One line per run: the setup and how many states it took.
pub fn show(outcome: &Outcome) {
    println!(
        "{} (N={}, {} clients): {} unique states, {} generated, {:.1?}",
        outcome.setup.name,
        outcome.setup.nodes,
        outcome.setup.clients,
        outcome.unique_states,
        outcome.total_states,
        outcome.elapsed
    );
}

/// Every `always` property holds and every example exists.
pub fn assert_safe(outcome: &Outcome) {
    show(outcome);
    for (name, path) in &outcome.discoveries {
        if suite::is_example(name) {
            assert!(path.is_some(), "{name}: no example, the model is vacuous");
        } else if let Some(path) = path {
            panic!("{name} violated:\n{}", trace::describe(path));
        }
    }
}

/// Like [`assert_safe`], but `property` (an `always` property) may fail too (printed).
pub fn assert_safe_but(outcome: &Outcome, property: &str) {
    show(outcome);
    let verdict = if outcome.found(property) {
        "counterexample found (allowed here)"
    } else {
        "holds"
    };
    println!("{property}: {verdict}");
    for (name, path) in &outcome.discoveries {
        if suite::is_example(name) {
            assert!(path.is_some(), "{name}: no example, the model is vacuous");
        } else if let Some(path) = path.as_ref().filter(|_| *name != property) {
            panic!("{name} violated:\n{}", trace::describe(path));
        }
    }
}

/// Play `steps` from the initial state, each one checked to be offered there, printing
/// every state reached.
pub fn play(model: &Redlease, steps: &[Action]) -> State {
    let mut state = model.init_states().remove(0);
    for &step in steps {
        let mut offered = Vec::new();
        model.actions(&state, &mut offered);
        assert!(
            offered.contains(&step),
            "{step:?} not offered in {}",
            trace::summary(&state)
        );
        state = model.next_state(&state, step).expect("a step");
        println!("{step:<40?} {}", trace::summary(&state));
    }
    state
}
