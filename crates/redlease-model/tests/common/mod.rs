//! What the model test files share: printing a run's size, and asserting that every
//! `always` property held and every example was reached.

#![allow(dead_code)]

use redlease_model::run::Outcome;
use redlease_model::{suite, trace};

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
