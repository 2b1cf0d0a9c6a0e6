//! Scripted runs: known sequences of steps, replayed through the model one by one.
//!
//! The exhaustive checks say *whether* something can happen; these say *how*, step by
//! step, in the scenarios the protocol was designed around, so that a change to the model
//! (or to the library functions it calls) that alters them shows up as a readable
//! failure. Every step must be one the model offers in that state.

use redlease_model::model::{Action, Redlease};
use redlease_model::setup::Restart;
use redlease_model::state::{Phase, State, Waiter};
use redlease_model::{Setup, holding};
use stateright::Model;

mod common;

use common::play;

fn run(client: usize, node: usize) -> Action {
    Action::Run { client, node }
}

/// Client 0 takes the lock on every node and records its token (two rounds).
fn c0_takes_everything() -> Vec<Action> {
    let mut steps = vec![Action::Begin(0)];
    steps.extend((0..3).map(|i| run(0, i)));
    steps.extend((0..3).map(|i| run(0, i)));
    steps
}

fn valid_holders(state: &State) -> usize {
    (0..state.clients.len())
        .filter(|&c| holding::holds_valid(state, c))
        .count()
}

#[test]
fn a_lease_is_granted_with_token_one_and_expires() {
    let model = Redlease::new(Setup::ideal(3));
    let mut steps = c0_takes_everything();
    let state = play(&model, &steps);
    assert!(holding::holds_valid(&state, 0));
    assert_eq!(state.last_token, 1);
    assert!(state.nodes.iter().all(|n| n.fence == 1));
    // Validity is ttl - drift = 3 s - 1.002 s: valid for one more tick, not two.
    steps.push(Action::Tick);
    assert!(holding::holds_valid(&play(&model, &steps), 0));
    steps.push(Action::Tick);
    assert!(!holding::holds_valid(&play(&model, &steps), 0));
}

#[test]
fn a_second_client_is_refused_then_gets_a_higher_token() {
    let model = Redlease::new(Setup::ideal(3));
    let mut steps = c0_takes_everything();
    steps.extend([Action::Begin(1), run(1, 0), run(1, 1)]);
    let state = play(&model, &steps);
    // Two refusals out of three: lost at once, released where it did not refuse.
    assert_eq!(state.clients[1].phase, Phase::Backoff);
    // Node 2 still runs client 1's acquire, then its release (one FIFO connection).
    steps.extend([run(1, 2), run(1, 2)]);
    steps.extend([Action::Release(0), run(0, 0), run(0, 1), run(0, 2)]);
    steps.push(Action::Begin(1));
    steps.extend((0..3).map(|i| run(1, i)));
    steps.extend((0..3).map(|i| run(1, i)));
    let state = play(&model, &steps);
    assert!(holding::holds_valid(&state, 1));
    assert_eq!(state.last_token, 2);
}

#[test]
fn a_wiped_node_is_held_back_until_its_marker_is_old() {
    let model = Redlease::new(Setup::wipes_protected(3));
    let mut steps = c0_takes_everything();
    steps.extend([
        Action::Crash(0),
        Action::Tick,
        Action::Restart(0, Restart::Wipe),
    ]);
    // Client 1: node 0 grants (its marker is brand new), node 1 refuses with a marker a
    // tick old: node 0 is held back, and the attempt is lost.
    steps.extend([Action::Begin(1), run(1, 0), run(1, 1)]);
    let state = play(&model, &steps);
    assert!(state.held_back_seen);
    assert_eq!(state.clients[1].phase, Phase::Backoff);
    assert_eq!(valid_holders(&state), 1);
    // Once client 0's lease and keys are gone and node 0's marker is max_ttl old, its
    // grant counts again.
    steps.extend([run(1, 2), run(1, 2), run(1, 0)]);
    steps.extend([Action::Tick, Action::Tick, Action::Tick]);
    steps.extend([Action::Begin(1)]);
    steps.extend((0..3).map(|i| run(1, i)));
    steps.extend((0..3).map(|i| run(1, i)));
    let state = play(&model, &steps);
    assert!(holding::holds_valid(&state, 1));
    assert_eq!(state.last_token, 2);
}

/// The classic Redlock counterexample, with a single faulty node: client 1 wins nodes
/// 0 and 2 in a split vote, node 0 restarts empty, client 0's retry wins nodes 0 and 1.
#[test]
fn without_delayed_restart_a_wiped_node_gives_a_second_holder() {
    let model = Redlease::new(Setup::wipes_unprotected(3));
    let steps = [
        Action::Begin(0),
        Action::Timeout { client: 0, node: 0 },
        run(0, 1),
        Action::Begin(1),
        run(1, 0),
        run(1, 1),
        run(1, 2),
        run(0, 2),
        run(0, 1),
        run(1, 0),
        run(1, 2),
        Action::Crash(0),
        Action::Tick,
        Action::Restart(0, Restart::Wipe),
        Action::Begin(0),
        run(0, 0),
        run(0, 1),
        run(0, 2),
        run(0, 0),
        run(0, 1),
    ];
    let state = play(&model, &steps);
    assert_eq!(valid_holders(&state), 2);
    // Node 2 still answered with client 1's counter: the tokens still increase.
    assert!(state.tokens_increase);
    assert_eq!(state.last_token, 2);
    // The same steps with delayed restart on: node 0 is held back, client 0 fails.
    let protected = Redlease::new(Setup::wipes_protected(3));
    let state = play(&protected, &steps[..18]);
    assert_eq!(state.clients[0].phase, Phase::Idle);
    assert_eq!(valid_holders(&state), 1);
}

/// Client 1 runs one attempt while client 0 holds every node: refused everywhere, it is
/// queued on each node, and waits in backoff.
fn c1_is_refused_and_queued() -> Vec<Action> {
    let mut steps = c0_takes_everything();
    // Two refusals lose the vote; a waiter hears node 2 out (as `Attempt::stops` says),
    // refused and queued there too: no node needs a clean-up.
    steps.extend([Action::Begin(1), run(1, 0), run(1, 1), run(1, 2)]);
    steps
}

/// The hand-off: the holder's release reserves every node for the queued waiter, whose
/// next attempt (a new owner, the same waiter id) takes the reservations and wins.
#[test]
fn a_release_hands_the_lock_to_the_queued_waiter() {
    let model = Redlease::new(Setup::reserving(3));
    let mut steps = c1_is_refused_and_queued();
    let state = play(&model, &steps);
    assert_eq!(state.clients[1].phase, Phase::Backoff);
    let waiter = Waiter { client: 1, seq: 1 };
    assert!(
        state
            .nodes
            .iter()
            .all(|n| n.queue.len() == 1 && n.queue[0].waiter == waiter)
    );
    steps.extend([Action::Release(0), run(0, 0), run(0, 1), run(0, 2)]);
    let state = play(&model, &steps);
    // Reserved for client 1's call, and client 0 left the queue.
    assert!(
        state
            .nodes
            .iter()
            .all(|n| n.handoff == Some(waiter) && n.lock.is_none())
    );
    steps.push(Action::Begin(1));
    steps.extend((0..3).map(|i| run(1, i)));
    steps.extend((0..3).map(|i| run(1, i)));
    let state = play(&model, &steps);
    assert!(holding::holds_valid(&state, 1));
    assert!(state.handoff_won);
    assert_eq!(state.last_token, 2);
    // The winner is still queued (a grant does not know the vote was won) until its
    // release leaves.
    steps.extend([Action::Release(1), run(1, 0), run(1, 1), run(1, 2)]);
    let state = play(&model, &steps);
    assert!(
        state
            .nodes
            .iter()
            .all(|n| n.queue.is_empty() && n.handoff.is_none())
    );
}

/// A waiter that gives up leaves every queue (issue 10 item 4): the holder's release then
/// simply frees the lock, reserving nothing for a caller that is gone.
#[test]
fn a_waiter_that_gives_up_leaves_every_queue() {
    let model = Redlease::new(Setup::reserving(3));
    let mut steps = c1_is_refused_and_queued();
    // The second and last attempt: refused everywhere (heard out); the call gives up and
    // the leave goes to every node.
    steps.extend([Action::Begin(1), run(1, 0), run(1, 1), run(1, 2)]);
    steps.extend([run(1, 0), run(1, 1), run(1, 2)]);
    let state = play(&model, &steps);
    assert_eq!(state.clients[1].phase, Phase::Idle);
    assert!(state.nodes.iter().all(|n| n.queue.is_empty()));
    steps.extend([Action::Release(0), run(0, 0), run(0, 1), run(0, 2)]);
    let state = play(&model, &steps);
    assert!(
        state
            .nodes
            .iter()
            .all(|n| n.lock.is_none() && n.handoff.is_none())
    );
    assert!(state.no_departed_reservation);
}

/// The `rolling-wipes` chaos probe's overlap, step by step (3 clients A, B, C; node 1 is
/// the one faulty node). A holds nodes 0 and 1 (node 2 refused it: C's grant of a lost
/// vote was still there). Node 1 loses its data. C's next attempt re-marks node 1 and
/// leaves its uncounted grant there; B, waiting, hears every node out: all three refuse,
/// node 1 with its young marker. Trusting that marker (as every marker of a complete
/// round was trusted before) let B's next attempt count node 1's grant at once, and win
/// nodes 1 and 2 while A's lease was valid. Now the marker is not trusted (delayed restart
/// would hold it back) and B's grant from node 1 is held back.
#[test]
fn a_round_of_refusals_does_not_make_a_wiped_node_trusted() {
    let (a, b, c) = (0, 1, 2);
    let model = Redlease::new(Setup {
        clients: 3,
        min_down: 0,
        ..Setup::wipes_waiting(3)
    });
    let mut steps = vec![
        // C's attempt: node 2 grants it first.
        Action::Begin(c),
        run(c, 2),
        // A wins nodes 0 and 1 (node 2 refuses it), and records its token there.
        Action::Begin(a),
        run(a, 0),
        run(a, 1),
        run(a, 2),
        run(a, 0),
        run(a, 1),
        // C loses, hears everyone out, and cleans up on node 2.
        run(c, 0),
        run(c, 1),
        run(c, 2),
        // The markers age a tick; node 1 loses its data.
        Action::Tick,
        Action::Crash(1),
        Action::Restart(1, Restart::Wipe),
        // C again: node 1 re-marks and grants (held back: C trusted the old marker), node 0
        // refuses, node 2 grants; lost, clean-ups pending on nodes 1 and 2.
        Action::Begin(c),
        run(c, 1),
        run(c, 0),
        run(c, 2),
        // B waits: every node refuses (node 1 with its young marker), and B hears all.
        Action::Begin(b),
        run(b, 0),
        run(b, 1),
        run(b, 2),
        // C's clean-ups free nodes 1 and 2 (reservations there run out).
        run(c, 1),
        run(c, 2),
    ];
    let state = play(&model, &steps);
    assert!(holding::holds_valid(&state, a));
    assert_eq!(
        state.clients[b].trusted[1], None,
        "node 1's young marker must not be trusted"
    );
    // B's next attempt: node 1 grants with its young marker, node 0 refuses with an old
    // one (node 1 is held back), node 2 grants: lost.
    steps.extend([Action::Begin(b), run(b, 1), run(b, 0), run(b, 2)]);
    let state = play(&model, &steps);
    assert!(
        !matches!(state.clients[b].phase, Phase::Fencing(_)),
        "B won nodes 1 and 2 while A's lease is valid"
    );
    assert!(state.held_back_seen);
    assert_eq!(valid_holders(&state), 1);
    assert!(holding::holds_valid(&state, a));
}

/// Tokens minted on demand: client 0's acquisition is unfenced (it stops at a quorum of
/// grants, node 2's request still runs); its holder then mints: every node's counter and
/// clock read, token 1 recorded on every node that still holds the lock. After its
/// release, client 1's lease mints token 2: the read round sees client 0's token.
#[test]
fn a_token_minted_on_demand_is_above_the_previous_one() {
    let model = Redlease::new(Setup::on_demand(3));
    let mut steps = vec![Action::Begin(0), run(0, 0), run(0, 1)];
    let state = play(&model, &steps);
    assert!(holding::holds_valid(&state, 0));
    assert_eq!(state.last_token, 0, "no token at acquisition");
    steps.extend([run(0, 2), Action::Mint(0), run(0, 0), run(0, 1)]);
    let state = play(&model, &steps);
    assert!(matches!(state.clients[0].phase, Phase::Minting(_)));
    assert!(holding::holds_valid(&state, 0), "held while minting");
    // Node 2's reading completes the round; two confirmations mint the token.
    steps.extend([run(0, 2), run(0, 0), run(0, 1)]);
    let state = play(&model, &steps);
    assert!(state.minted_on_demand_seen);
    assert_eq!(state.last_token, 1);
    assert!(matches!(&state.clients[0].phase, Phase::Holding(lease) if lease.mints == 0));
    let mut offered = Vec::new();
    model.actions(&state, &mut offered);
    assert!(!offered.contains(&Action::Mint(0)), "one token per lease");
    steps.extend([
        run(0, 2),
        Action::Release(0),
        run(0, 0),
        run(0, 1),
        run(0, 2),
    ]);
    steps.extend([Action::Begin(1), run(1, 0), run(1, 1), run(1, 2)]);
    steps.extend([Action::Mint(1), run(1, 0), run(1, 1), run(1, 2)]);
    steps.extend([run(1, 0), run(1, 1)]);
    let state = play(&model, &steps);
    assert!(holding::holds_valid(&state, 1));
    assert_eq!(state.last_token, 2);
    assert!(state.tokens_increase && state.tokens_follow_real_time);
}

/// Client 0 holds nodes 0 and 1 (client 1's grant of a lost vote kept node 2 from it);
/// it mints, node 2 answers no, node 0 yes, node 1 (the faulty one) only after the
/// lease's deadline: confirmations that late prove nothing, the lease is lost, no token
/// is recorded. With the deadline ignored (`Setup::mint_ignores_deadline`), the same
/// steps record the token of a lease that has expired.
#[test]
fn a_mint_confirmed_after_the_deadline_loses_the_lease() {
    let steps = [
        Action::Begin(1),
        run(1, 2),
        Action::Begin(0),
        run(0, 0),
        run(0, 1),
        run(0, 2),
        run(1, 0),
        run(1, 1),
        // Client 1 lost: its clean-up frees node 2.
        run(1, 2),
        Action::Mint(0),
        run(0, 0),
        run(0, 1),
        run(0, 2),
        run(0, 2),
        run(0, 0),
        Action::Tick,
        Action::Tick,
        run(0, 1),
    ];
    let model = Redlease::new(Setup::on_demand(3));
    let before = play(&model, &steps[..steps.len() - 1]);
    assert!(!holding::holds_valid(&before, 0), "the deadline has passed");
    assert!(matches!(before.clients[0].phase, Phase::Minting(_)));
    let state = play(&model, &steps);
    assert_eq!(state.clients[0].phase, Phase::Idle);
    assert_eq!(state.last_token, 0);
    assert!(!state.minted_on_demand_seen);
    let broken = Redlease::new(Setup {
        mint_ignores_deadline: true,
        ..Setup::on_demand(3)
    });
    let state = play(&broken, &steps);
    assert!(state.minted_on_demand_seen);
    assert_eq!(state.last_token, 1);
}

/// Tokens minted either way (`Mint::Mixed`), the order the library's choice produces when
/// a resource's lease was asked for its token: client 0's acquisition is unfenced, it
/// mints token 1 on demand, confirmed by nodes 0 and 1 while its `fence.lua` to node 2
/// (the faulty one) is held back. Its keys expire; client 1's acquisition mints in the
/// acquisition and reads node 2 first, before client 0's write could land there: counter
/// 0 on node 2, granted. Its token is still 2, above client 0's: its grants on nodes 0
/// and 1, which the vote counts too, came after client 0's write there. Client 0's late
/// write then finds client 1's key on node 2 and changes nothing.
#[test]
fn a_token_minted_in_the_acquisition_is_above_one_minted_on_demand() {
    let model = Redlease::new(Setup::mixed(3));
    let mut steps = vec![Action::Begin(0), run(0, 0), run(0, 1), run(0, 2)];
    steps.extend([Action::Mint(0), run(0, 0), run(0, 1), run(0, 2)]);
    steps.extend([run(0, 0), run(0, 1)]);
    let state = play(&model, &steps);
    assert_eq!(state.last_token, 1);
    assert!(state.minted_on_demand_seen && state.last_on_demand);
    assert_eq!(state.nodes[2].fence, 0, "node 2's write still in flight");
    steps.extend([Action::Tick, Action::Tick, Action::Tick]);
    steps.extend([Action::BeginFenced(1), run(1, 2), run(1, 0), run(1, 1)]);
    let state = play(&model, &steps);
    assert!(
        matches!(&state.clients[1].phase, Phase::Fencing(round) if round.token == 2),
        "the vote read counter 0 on node 2, 1 on nodes 0 and 1"
    );
    steps.extend([run(1, 0), run(1, 1)]);
    let state = play(&model, &steps);
    assert!(holding::holds_valid(&state, 1));
    assert_eq!(state.last_token, 2);
    assert_eq!(
        state.mixed_orders & 1,
        1,
        "in the acquisition after on demand"
    );
    steps.extend([run(0, 2), run(1, 2)]);
    let state = play(&model, &steps);
    assert_eq!(state.nodes[2].fence, 2, "client 0's late write was refused");
    assert!(state.tokens_increase && state.tokens_follow_real_time);
}
