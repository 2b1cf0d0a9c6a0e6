//! Runs every model configuration and prints the explored state counts and results.
//!
//! `cargo run --release -p redlease-model` checks the default configurations (three
//! nodes, two clients; several minutes on two cores); add `--all` for five
//! nodes, three clients and the known limits explored in full (a quarter of an hour or
//! more), `--shortest` to print the shortest counterexamples (breadth-first, slower)
//! instead of the depth-first ones. Exits non-zero if any property does not come out as
//! expected.

use redlease_model::run::{self, Outcome};
use redlease_model::setup::Mint;
use redlease_model::suite::{self, Case};
use redlease_model::trace;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let all = args.iter().any(|a| a == "--all");
    let shortest = args.iter().any(|a| a == "--shortest");
    let mut cases = suite::default_cases();
    if all {
        cases.extend(suite::long_cases());
    }
    let mut unexpected = 0;
    for case in cases {
        let outcome = match case.failing.first() {
            Some(&first) if !case.exhaustive => {
                run::until(case.setup.clone(), first, run::threads())
            }
            _ => run::check(case.setup.clone(), run::threads()),
        };
        report(&outcome, case.exhaustive);
        unexpected += verdicts(&case, &outcome);
        for &property in case.failing {
            if shortest {
                let short = run::shortest(case.setup.clone(), property);
                if let Some(path) = short.discovery(property) {
                    println!("  shortest counterexample to {property:?}:");
                    print!("{}", trace::describe(path));
                }
            } else if let Some(path) = outcome.discovery(property) {
                println!("  counterexample to {property:?}:");
                print!("{}", trace::describe(path));
            }
        }
        println!();
    }
    if unexpected > 0 {
        eprintln!("{unexpected} properties did not come out as expected");
        std::process::exit(1);
    }
}

fn report(outcome: &Outcome, exhaustive: bool) {
    let s = &outcome.setup;
    println!(
        "{}: N={} (quorum {}, f={}), {} clients, {} call(s) x {} attempt(s) each, ttl {} ticks, tokens {}, delayed restart {}{}",
        s.name,
        s.nodes,
        s.quorum(),
        s.max_faulty,
        s.clients,
        s.acquisitions,
        s.attempts,
        s.ttl,
        mint(s),
        on(s.delayed_restart),
        grants(s),
    );
    let scope = if exhaustive {
        "every state explored"
    } else {
        "searched until the first counterexample"
    };
    println!(
        "  {} unique states (up to symmetry), {} generated, depth {}, {:.1?}: {scope}",
        outcome.unique_states, outcome.total_states, outcome.max_depth, outcome.elapsed
    );
}

fn mint(s: &redlease_model::Setup) -> String {
    let broken = match (s.mint_ignores_deadline, s.mint_reads_any) {
        (false, false) => "",
        (true, false) => ", deadline IGNORED",
        (false, true) => ", read quorum IGNORED",
        (true, true) => ", deadline and read quorum IGNORED",
    };
    match s.mint {
        Mint::Off => "off".to_owned(),
        Mint::AtAcquisition => "minted at acquisition".to_owned(),
        Mint::OnDemand => format!("minted on demand (<= {} per lease{broken})", s.mints),
        Mint::Mixed => format!(
            "minted in the acquisition or on demand, each attempt's choice (<= {} per lease{broken})",
            s.mints
        ),
    }
}

fn grants(s: &redlease_model::Setup) -> String {
    if !s.some_attempt_registers() {
        return String::new();
    }
    let knobs = [
        (
            s.grant_validity_from_arrival,
            "validity from the arrival IGNORES the attempt's start",
        ),
        (s.grant_ignores_marker, "marker age IGNORED"),
        (
            s.grant_leave_keeps_registered,
            "the leave KEEPS the registered key",
        ),
        (
            s.grant_registers_refused_owner,
            "the REFUSED attempt's owner registered (first version)",
        ),
        (
            s.grant_stay_drops_granted,
            "the clean-up DROPS a granted registration (before the fix)",
        ),
    ];
    let on: Vec<&str> = knobs.iter().filter(|k| k.0).map(|k| k.1).collect();
    if on.is_empty() {
        ", grants in one round".to_owned()
    } else {
        format!(", grants in one round ({})", on.join(", "))
    }
}

fn on(flag: bool) -> &'static str {
    if flag { "on" } else { "off" }
}

/// Print each property's result; count those that differ from the expectation.
fn verdicts(case: &Case, outcome: &Outcome) -> usize {
    let mut unexpected = 0;
    for (name, path) in &outcome.discoveries {
        if !case.exhaustive && !case.failing.contains(name) {
            continue;
        }
        let expected_failure = case.failing.contains(name);
        let is_example = suite::is_example(name);
        let (result, as_expected) = match (path, is_example) {
            (Some(p), true) => (format!("example found ({} steps)", len(p)), true),
            (None, true) => ("no example".to_owned(), false),
            (Some(p), false) => (
                format!("COUNTEREXAMPLE ({} steps)", len(p)),
                expected_failure,
            ),
            (None, false) => ("holds".to_owned(), !expected_failure),
        };
        let mark = if as_expected {
            "as expected"
        } else {
            "UNEXPECTED"
        };
        println!("    {name:<42} {result:<32} {mark}");
        unexpected += usize::from(!as_expected);
    }
    unexpected
}

fn len(path: &stateright::Path<redlease_model::State, redlease_model::Action>) -> usize {
    path.clone().into_actions().len()
}
