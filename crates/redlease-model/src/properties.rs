//! The properties checked on every reachable state: what "safe" means (mutual exclusion,
//! token order, validity that never lies, no hand-off to a waiter that left), and the
//! examples that must exist for those checks to mean anything.
//!
//! Each property is a closure over the [`State`]; the bookkeeping it reads (tokens
//! recorded, examples seen, a hand-off to a departed waiter) is kept by the steps in
//! [`crate::model`] and the client files. Apart from `model.rs` so that the list of what
//! is checked reads on its own, with [`validity_backed`], the one property with more
//! than a line of logic.

use stateright::Property;

use crate::holding;
use crate::model::Redlease;
use crate::setup::{Mint, Restart, Setup, ticks};
use crate::state::{Phase, State};

/// Property names, for `Checker::discovery`.
pub const MUTUAL_EXCLUSION: &str = "mutual exclusion";
/// See [`MUTUAL_EXCLUSION`].
pub const TOKENS_INCREASE: &str = "fencing tokens increase";
/// See [`MUTUAL_EXCLUSION`].
pub const TOKENS_REAL_TIME: &str = "fencing tokens follow real time";
/// See [`MUTUAL_EXCLUSION`].
pub const SOME_LEASE: &str = "a lease is granted";
/// See [`MUTUAL_EXCLUSION`].
pub const TWO_LEASES: &str = "two leases are granted";
/// See [`MUTUAL_EXCLUSION`].
pub const HELD_BACK: &str = "a young grant is held back";
/// See [`MUTUAL_EXCLUSION`].
pub const TRUSTED: &str = "a young grant counts on a trusted marker";
/// See [`MUTUAL_EXCLUSION`].
pub const VALIDITY: &str = "validity never lies";
/// See [`MUTUAL_EXCLUSION`].
pub const EXTENDED: &str = "an extend or renewal moves a deadline";
/// See [`MUTUAL_EXCLUSION`].
pub const ROLLING: &str = "every node is wiped in turn";
/// See [`MUTUAL_EXCLUSION`].
pub const NO_DEPARTED: &str = "no reservation or grant for a waiter that left";
/// See [`MUTUAL_EXCLUSION`].
pub const GRANTED: &str = "a waiter wins a lease by a grant in one round";
/// See [`MUTUAL_EXCLUSION`].
pub const HANDED_OFF: &str = "a waiter wins a lease through a hand-off";
/// See [`MUTUAL_EXCLUSION`].
pub const MINTED_ON_DEMAND: &str = "a token is minted on demand";
/// See [`MUTUAL_EXCLUSION`].
pub const AT_ACQUISITION_AFTER_ON_DEMAND: &str =
    "a token minted in the acquisition follows one minted on demand";
/// See [`MUTUAL_EXCLUSION`].
pub const ON_DEMAND_AFTER_AT_ACQUISITION: &str =
    "a token minted on demand follows one minted in the acquisition";

/// The properties checked on every reachable state of `setup` (`Model::properties`):
/// the `always` ones everywhere they apply, the `sometimes` ones (examples that must
/// exist, so that the `always` ones are not vacuous) where the setup can reach them.
pub(crate) fn of(setup: &Setup) -> Vec<Property<Redlease>> {
    let mut properties = vec![
        Property::always(MUTUAL_EXCLUSION, |_: &Redlease, state: &State| {
            (0..state.clients.len())
                .filter(|&c| holding::holds_valid(state, c))
                .count()
                <= 1
        }),
        Property::sometimes(SOME_LEASE, |_: &Redlease, state: &State| state.leases >= 1),
        Property::sometimes(TWO_LEASES, |_: &Redlease, state: &State| state.leases >= 2),
    ];
    if setup.fencing() {
        properties.push(Property::always(
            TOKENS_INCREASE,
            |_: &Redlease, state: &State| state.tokens_increase,
        ));
        properties.push(Property::always(
            TOKENS_REAL_TIME,
            |_: &Redlease, state: &State| state.tokens_follow_real_time,
        ));
    }
    if setup.mints_on_demand() {
        properties.push(Property::sometimes(
            MINTED_ON_DEMAND,
            |_: &Redlease, state: &State| state.minted_on_demand_seen,
        ));
    }
    if setup.mint == Mint::Mixed {
        properties.push(Property::sometimes(
            AT_ACQUISITION_AFTER_ON_DEMAND,
            |_: &Redlease, state: &State| state.mixed_orders & 1 != 0,
        ));
        properties.push(Property::sometimes(
            ON_DEMAND_AFTER_AT_ACQUISITION,
            |_: &Redlease, state: &State| state.mixed_orders & 2 != 0,
        ));
    }
    if setup.keeps_data() {
        properties.push(Property::always(
            VALIDITY,
            |model: &Redlease, state: &State| validity_backed(&model.setup, state),
        ));
    }
    if setup.extends > 0 || setup.renewal.is_some() {
        properties.push(Property::sometimes(
            EXTENDED,
            |_: &Redlease, state: &State| state.extended_seen,
        ));
    }
    if setup.rolling {
        properties.push(Property::sometimes(
            ROLLING,
            |model: &Redlease, state: &State| {
                state.wiped.count_ones() as usize == model.setup.nodes
            },
        ));
    }
    if !setup.handoff.is_zero() {
        properties.push(Property::always(
            NO_DEPARTED,
            |_: &Redlease, state: &State| state.no_departed_reservation,
        ));
    }
    if !setup.handoff.is_zero() && setup.some_attempt_reserves() {
        properties.push(Property::sometimes(
            HANDED_OFF,
            |_: &Redlease, state: &State| state.handoff_won,
        ));
    }
    if setup.some_attempt_registers() {
        properties.push(Property::sometimes(
            GRANTED,
            |_: &Redlease, state: &State| state.grant_won,
        ));
    }
    if setup.delayed_restart && setup.restarts.contains(&Restart::Wipe) {
        properties.push(Property::sometimes(
            HELD_BACK,
            |_: &Redlease, state: &State| state.held_back_seen,
        ));
        // A manager trusts markers from a complete round, for its *later* rounds.
        if setup.attempts > 1 || setup.acquisitions > 1 {
            properties.push(Property::sometimes(
                TRUSTED,
                |_: &Redlease, state: &State| state.trusted_seen,
            ));
        }
    }
    properties
}

/// "Validity never lies": every client that holds a valid lease by its settled deadline
/// (time left, no extend in flight) is backed by a quorum of nodes whose key holds its
/// owner with at least that much TTL left.
///
/// Exact at the model's resolution: a key's TTL and a client's time left both run down
/// one tick per tick; a key is set by a script that runs at or after its round's start
/// (within that tick or a later one), while the client measures from the start, so a key
/// set for `ttl` ticks has at least `ttl - elapsed` left when the client has `ttl -
/// elapsed - drift`. A node that is down counts with its data: it restarts with it
/// (only checked where every restart keeps the data; with wipes, delayed restart stands
/// in for the lost keys and mutual exclusion is what is checked).
pub fn validity_backed(setup: &Setup, state: &State) -> bool {
    (0..state.clients.len()).all(|c| {
        // While an extend is in flight the library still reports the old deadline, and a
        // shortening script may already have run on some nodes: that window lasts at most
        // a node timeout in the library, but any number of ticks for a faulty node here,
        // so it is left to mutual exclusion (see the tests in `tests/lifetime.rs`). A
        // mint changes no lock key: its lease is checked as a held one.
        let lease = match &state.clients[c].phase {
            Phase::Holding(lease) => lease,
            Phase::Minting(round) => &round.lease,
            _ => return true,
        };
        if lease.left.is_zero() {
            return true;
        }
        let owner = crate::client::owner(state, c);
        let backing = state
            .nodes
            .iter()
            .filter(|node| {
                node.lock
                    .is_some_and(|lock| lock.owner == owner && ticks(lock.left) >= lease.left)
            })
            .count();
        backing >= setup.quorum()
    })
}
