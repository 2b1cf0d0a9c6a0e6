//! Fencing tokens minted on demand (`Mint::OnDemand`, the library's default on several
//! nodes): the acquisition is unfenced, and the holder mints its token later, under the
//! lease's operation lock: `fence_read.lua` on every node (`protocol::mint::Reads`), then
//! `fence.lua` with the token on every node, concluded by `protocol::mint::conclude`
//! before the lease's deadline. The token properties are the same as for tokens minted
//! at acquisition: a lease's token is above every token granted before it, and above
//! every token granted before its attempt began.
//!
//! Tokens minted either way (`Mint::Mixed`, what the library's default does over time:
//! in the acquisition where the resource's last lease was asked for its token, else on
//! demand): every attempt chooses, and the same properties hold whichever way each lease
//! minted, in every order.
//!
//! The last tests show the properties would catch a broken mint (model-only knobs, never
//! on in a configuration expected to be safe): with the deadline check of `conclude` left
//! out (`Setup::mint_ignores_deadline`), a lease whose confirmations arrive after its
//! deadline records a token below a later lease's; with the read round's quorum left out
//! (`Setup::mint_reads_any`) and two slow nodes of three, a token repeats.

use redlease_model::model::{
    AT_ACQUISITION_AFTER_ON_DEMAND, MINTED_ON_DEMAND, ON_DEMAND_AFTER_AT_ACQUISITION,
    TOKENS_INCREASE, TOKENS_REAL_TIME, TWO_LEASES,
};
use redlease_model::run::{self, Outcome};
use redlease_model::{Mint, Setup, trace};

mod common;

use common::{assert_safe, show};

fn check(setup: Setup) -> Outcome {
    run::check(setup, run::threads())
}

/// No faults: every property holds, and tokens are minted on demand (not vacuous).
#[test]
fn tokens_minted_on_demand_keep_every_property_without_faults() {
    let outcome = check(Setup {
        name: "tokens minted on demand, no faults",
        max_faulty: 0,
        ..Setup::on_demand(3)
    });
    assert_safe(&outcome);
    assert!(outcome.found(MINTED_ON_DEMAND));
}

/// One faulty node (crashes, restarts with data, lost, late and timed-out messages, in
/// either round of the mint): mutual exclusion, both token orders and validity hold.
#[test]
fn tokens_minted_on_demand_keep_every_property_under_faults() {
    let outcome = check(Setup::on_demand(3));
    assert_safe(&outcome);
    assert!(outcome.found(MINTED_ON_DEMAND));
}

/// One node may restart empty, delayed restart on, one attempt per call: the counter a
/// wiped node loses must not send a token minted on demand back.
#[test]
fn tokens_minted_on_demand_survive_a_wiped_node() {
    let outcome = check(Setup {
        name: "tokens minted on demand, wipes, delayed restart on, one attempt",
        attempts: 1,
        ..Setup::on_demand_wipes(3)
    });
    assert_safe(&outcome);
    assert!(outcome.found(MINTED_ON_DEMAND));
}

#[test]
#[ignore = "minutes (41 M states): run with --ignored"]
fn tokens_minted_on_demand_survive_a_wiped_node_with_retries() {
    let outcome = check(Setup::on_demand_wipes(3));
    assert_safe(&outcome);
    assert!(outcome.found(MINTED_ON_DEMAND));
}

/// Nodes lose their data one at a time, `max_ttl` apart, between two leases of one
/// client that each mint on demand: the clocks `fence_read.lua` reports (the token's
/// floor) keep the tokens growing after every copy of a counter was lost.
#[test]
fn rolling_wipes_keep_tokens_minted_on_demand_increasing() {
    let outcome = check(Setup::on_demand_rolling_wipes(3));
    show(&outcome);
    for property in [TOKENS_INCREASE, TOKENS_REAL_TIME] {
        if let Some(path) = outcome.discovery(property) {
            panic!("{property} violated:\n{}", trace::describe(path));
        }
    }
    assert!(outcome.found(TWO_LEASES));
    assert!(outcome.found(MINTED_ON_DEMAND));
}

/// The same without node clocks (every node reports 0): the counters alone cannot keep
/// the order across rolling wipes, the checker finds the counterexample. The clock the
/// read round reports is needed, as the acquire script's is for tokens minted at
/// acquisition.
#[test]
fn rolling_wipes_without_node_clocks_send_tokens_minted_on_demand_back() {
    let setup = Setup {
        node_clocks: false,
        ..Setup::on_demand_rolling_wipes(3)
    };
    let outcome = run::until(setup, TOKENS_INCREASE, run::threads());
    show(&outcome);
    let path = outcome
        .discovery(TOKENS_INCREASE)
        .expect("without the clock floor, a token after the wipes repeats an earlier one");
    println!("{}", trace::describe(path));
}

/// Two mint rounds per lease: a round that ends unavailable (the lease still held, its
/// token recorded on too few nodes, or nowhere) may be followed by another.
#[test]
#[ignore = "half a minute (3.4 M states): run with --ignored"]
fn a_second_mint_after_an_unavailable_one_keeps_every_property() {
    let outcome = check(Setup {
        name: "tokens minted on demand, two mint rounds per lease",
        mints: 2,
        ..Setup::on_demand(3)
    });
    assert_safe(&outcome);
    assert!(outcome.found(MINTED_ON_DEMAND));
}

/// Extends and renewals with a mint in between (the operation lock keeps them apart):
/// every property holds.
#[test]
#[ignore = "most of a minute (4.2 M states): run with --ignored"]
fn tokens_minted_on_demand_with_extend_and_renewal_keep_every_property() {
    let outcome = check(Setup {
        name: "extend and renewal, tokens minted on demand",
        mint: Mint::OnDemand,
        ..Setup::extending(3)
    });
    assert_safe(&outcome);
    assert!(outcome.found(MINTED_ON_DEMAND));
}

/// More nodes slow than `f = N - Q` (two of three: crashes with their data kept, lost
/// replies, timeouts): acquisitions and mints may fail, but nothing breaks. One attempt
/// per call to keep it to eleven million states.
#[test]
#[ignore = "minutes (11.4 M states): run with --ignored"]
fn tokens_minted_on_demand_keep_every_property_with_two_slow_nodes() {
    let outcome = check(Setup {
        name: "tokens minted on demand, two faulty nodes that keep their data",
        max_faulty: 2,
        attempts: 1,
        ..Setup::on_demand(3)
    });
    assert_safe(&outcome);
}

/// A broken mint that reads too few nodes (`Setup::mint_reads_any`: the read round's
/// quorum left out, a failed reading counted as an empty node): with two nodes slow, a
/// mint that heard only the node the previous token missed repeats that token. The
/// quorum of readings is what makes every read round meet the previous token's write
/// quorum. With one faulty node of three it can never be missed (the other two always
/// answer): the same knob changes nothing there.
#[test]
fn a_mint_without_a_read_quorum_repeats_a_token() {
    let setup = Setup::mint_reading_any(3);
    let outcome = run::until(setup, TOKENS_INCREASE, run::threads());
    show(&outcome);
    let path = outcome
        .discovery(TOKENS_INCREASE)
        .expect("a token minted from one reading repeats the previous one");
    println!("{}", trace::describe(path));
}

/// A broken mint that counts confirmations arriving after the lease's deadline (the
/// deadline check of `protocol::mint::conclude` left out): a lease whose last
/// confirmation comes from a faulty node after its deadline gets a token below the one
/// a later lease minted meanwhile. The properties catch it.
#[test]
fn a_mint_that_ignores_the_deadline_sends_tokens_back() {
    let setup = Setup::mint_ignoring_deadline(3);
    let outcome = run::until(setup, TOKENS_INCREASE, run::threads());
    show(&outcome);
    let path = outcome
        .discovery(TOKENS_INCREASE)
        .expect("a late-confirmed token below a later lease's");
    println!("{}", trace::describe(path));
    let last = path.last_state();
    assert!(last.faulty.count_ones() as usize <= outcome.setup.max_faulty);
}

/// Tokens minted either way (`Mint::Mixed`): every attempt chooses, as an action of the
/// model, between minting in the acquisition (`Action::BeginFenced`: the vote waits for
/// every node, then `fence.lua` on the granted nodes before the lease is held) and an
/// unfenced acquisition whose holder may mint on demand later (`Action::Begin`). The
/// library chooses per call (`minting::choose`: in the acquisition where the resource's
/// last lease was asked for its token); the model explores every sequence of choices.
/// No faults: every property holds, and both orders happen: a token minted in the
/// acquisition right after one minted on demand, and the reverse.
#[test]
fn tokens_minted_either_way_keep_every_property_without_faults() {
    let outcome = check(Setup {
        name: "tokens minted either way, no faults",
        max_faulty: 0,
        ..Setup::mixed(3)
    });
    assert_safe(&outcome);
    assert!(outcome.found(MINTED_ON_DEMAND));
    assert!(outcome.found(AT_ACQUISITION_AFTER_ON_DEMAND));
    assert!(outcome.found(ON_DEMAND_AFTER_AT_ACQUISITION));
}

/// Either way, one faulty node (the faults of
/// `tokens_minted_on_demand_keep_every_property_under_faults`, in any round of either
/// way), one attempt per call (the choice is then per call, as the library's): a token
/// minted in the acquisition may follow one minted on demand whose record round has not
/// reached every node yet, and the reverse. Every property holds. With two attempts per
/// call, each choosing anew, it is the ignored test below.
#[test]
fn tokens_minted_either_way_keep_every_property_under_faults() {
    let outcome = check(Setup {
        name: "tokens minted either way, one attempt",
        attempts: 1,
        ..Setup::mixed(3)
    });
    assert_safe(&outcome);
    assert!(outcome.found(AT_ACQUISITION_AFTER_ON_DEMAND));
    assert!(outcome.found(ON_DEMAND_AFTER_AT_ACQUISITION));
}

#[test]
#[ignore = "two minutes (15.5 M states): run with --ignored"]
fn tokens_minted_either_way_keep_every_property_under_faults_with_retries() {
    let outcome = check(Setup::mixed(3));
    assert_safe(&outcome);
    assert!(outcome.found(AT_ACQUISITION_AFTER_ON_DEMAND));
    assert!(outcome.found(ON_DEMAND_AFTER_AT_ACQUISITION));
}

/// Either way, one node may restart empty, delayed restart on, one attempt per call (the
/// setup of `tokens_minted_on_demand_survive_a_wiped_node`): a node wiped between two
/// leases minted different ways loses its counter, and delayed restart holds its next
/// grant back.
#[test]
fn tokens_minted_either_way_survive_a_wiped_node() {
    let outcome = check(Setup {
        name: "tokens minted either way, wipes, delayed restart on, one attempt",
        mint: Mint::Mixed,
        attempts: 1,
        ..Setup::on_demand_wipes(3)
    });
    assert_safe(&outcome);
    assert!(outcome.found(AT_ACQUISITION_AFTER_ON_DEMAND));
    assert!(outcome.found(ON_DEMAND_AFTER_AT_ACQUISITION));
}

/// Either way, rolling wipes with node clocks (the setup of
/// `rolling_wipes_keep_tokens_minted_on_demand_increasing`): one client's two calls may
/// mint different ways while every copy of a counter is lost between them; the clocks
/// both scripts report keep the tokens growing.
#[test]
fn rolling_wipes_keep_tokens_minted_either_way_increasing() {
    let outcome = check(Setup {
        name: "rolling wipes, one client, two calls, tokens minted either way",
        mint: Mint::Mixed,
        ..Setup::on_demand_rolling_wipes(3)
    });
    assert_safe(&outcome);
    assert!(outcome.found(TWO_LEASES));
    assert!(outcome.found(AT_ACQUISITION_AFTER_ON_DEMAND));
    assert!(outcome.found(ON_DEMAND_AFTER_AT_ACQUISITION));
}
