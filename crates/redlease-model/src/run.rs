//! Running the checker on a setup and summarising what it found.
//!
//! Tests and `main` want the same things: explore every reachable state of one bounded
//! configuration and know the state counts, the time taken and which properties have a
//! discovery; or search only until a property expected to fail has its counterexample.
//! Exhaustive runs are deterministic in what they find and in how many unique states
//! they visit, whatever the thread count.

use std::time::{Duration, Instant};

use stateright::{Checker, CheckerBuilder, HasDiscoveries, Model, Path};

use crate::model::{Action, Redlease};
use crate::setup::Setup;
use crate::state::State;
use crate::symmetry;

/// What one run found.
#[derive(Debug)]
pub struct Outcome {
    /// The setup checked.
    pub setup: Setup,
    /// Distinct states visited (symmetry classes, where symmetry reduction is on).
    pub unique_states: usize,
    /// States generated, repeats included.
    pub total_states: usize,
    /// Longest path explored.
    pub max_depth: usize,
    /// Wall-clock time.
    pub elapsed: Duration,
    /// Every property, with the path that discovered it (a counterexample for `always`,
    /// an example for `sometimes`), if any.
    pub discoveries: Vec<(&'static str, Option<Path<State, Action>>)>,
}

impl Outcome {
    /// The path found for `property`, if any.
    pub fn discovery(&self, property: &str) -> Option<&Path<State, Action>> {
        self.discoveries
            .iter()
            .find(|(name, _)| *name == property)
            .and_then(|(_, path)| path.as_ref())
    }

    /// Whether `property` has a discovery.
    pub fn found(&self, property: &str) -> bool {
        self.discovery(property).is_some()
    }
}

fn run<C: Checker<Redlease>>(setup: Setup, started: Instant, checker: C) -> Outcome {
    let checker = checker.join();
    let elapsed = started.elapsed();
    let discoveries = checker
        .model()
        .properties()
        .iter()
        .map(|p| (p.name, checker.discovery(p.name)))
        .collect();
    Outcome {
        setup,
        unique_states: checker.unique_state_count(),
        total_states: checker.state_count(),
        max_depth: checker.max_depth(),
        elapsed,
        discoveries,
    }
}

fn reduced(setup: &Setup, threads: usize) -> CheckerBuilder<Redlease> {
    Redlease::new(setup.clone())
        .checker()
        .threads(threads.max(1))
        .symmetry_fn(symmetry::representative)
}

/// Explore every reachable state of `setup` (depth-first, with symmetry reduction).
pub fn check(setup: Setup, threads: usize) -> Outcome {
    let started = Instant::now();
    let checker = reduced(&setup, threads).spawn_dfs();
    run(setup, started, checker)
}

/// Explore `setup` only until `property` has a discovery (or every state was seen).
pub fn until(setup: Setup, property: &'static str, threads: usize) -> Outcome {
    let started = Instant::now();
    let checker = reduced(&setup, threads)
        .finish_when(HasDiscoveries::AnyOf([property].into()))
        .spawn_dfs();
    run(setup, started, checker)
}

/// Search `setup` breadth-first on one thread, without symmetry reduction, until
/// `property` has a discovery: slower, but the path found is among the shortest and
/// reads easily.
pub fn shortest(setup: Setup, property: &'static str) -> Outcome {
    let started = Instant::now();
    let checker = Redlease::new(setup.clone())
        .checker()
        .finish_when(HasDiscoveries::AnyOf([property].into()))
        .spawn_bfs();
    run(setup, started, checker)
}

/// Threads to use: the machine's parallelism, at most 2 (the suite shares the machine).
pub fn threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().min(2))
}
