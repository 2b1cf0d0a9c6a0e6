//! The client side: one acquisition attempt as `LockManager::attempt` runs it.
//!
//! This is the part that must not drift from the library, so every decision is the
//! library's own function: replies are parsed by `redlease::ops`, votes are counted by
//! [`Tally`] and its [`Decision`], young markers are judged by [`protocol::held_back`]
//! with the library's [`protocol::restart_slack`] (unless the manager trusts the node's
//! marker from an earlier complete round), validity by [`protocol::validity`] with
//! [`protocol::drift`], and the token by [`protocol::fencing_token`]. What is written out
//! here is only the control flow around them, in the order `manager.rs` has it: per
//! answer, update, re-check the young grants, decide whether to stop; after the loop,
//! count young grants if everyone answered, then validity, then the fencing round.

use std::time::Duration;

use redlease::ops;
use redlease::protocol::{self, Decision, Tally, Vote};
use redlease::redis::Value;

use crate::setup::{Setup, ticks};
use crate::state::{FenceRound, MAX_NODES, Owner, Phase, Request, State, VoteRound, Votes, bit};

/// An answer from a node, or `None` for a failed vote (timeout, lost reply, crash).
pub type Answer = Option<Value>;

/// The owner of client `c`'s current `acquire` call.
pub fn owner(state: &State, c: usize) -> Owner {
    Owner {
        client: u8::try_from(c).unwrap_or(u8::MAX),
        seq: state.clients[c].calls,
    }
}

/// Queue `request` from client `c` to node `i`, unless the node is down (the connection
/// is refused: the request is gone, and the client will time out on it).
fn send(state: &mut State, c: usize, i: usize, request: Request) {
    debug_assert_eq!(usize::from(request.owner().client), c);
    if state.nodes[i].is_up() {
        state.flights.push(i, request);
    }
}

/// A marker age the node reported, back in ticks (it was built from whole ticks).
fn ticks_of(age: Duration) -> u8 {
    u8::try_from(age.as_nanos() / crate::setup::TICK.as_nanos()).unwrap_or(u8::MAX)
}

/// `Node::marker_trusted`: whether the marker seen now (`age`) is the trusted one. Both
/// births are estimated on the client's clock; the library allows the restart slack
/// between them, less than one tick, so here the ages must be equal. A different marker
/// means the node lost its data: the trust is dropped.
fn trusted(trust: &mut Option<u8>, age: Duration) -> bool {
    let same = trust.is_some_and(|t| t == ticks_of(age));
    if !same {
        *trust = None;
    }
    same
}

/// Nodes in `mask`.
fn members(n: usize, mask: u8) -> impl Iterator<Item = usize> {
    (0..n).filter(move |&i| mask & bit(i) != 0)
}

fn all(n: usize) -> u8 {
    u8::try_from((1u16 << n) - 1).unwrap_or(u8::MAX)
}

/// Start an attempt: a new `acquire` call from `Idle`, or the next attempt from
/// `Backoff` (same owner). Every request still in flight from earlier rounds goes stale.
pub fn begin(state: &mut State, c: usize) {
    let n = state.nodes.len();
    let client = &mut state.clients[c];
    if client.phase == Phase::Idle {
        client.calls += 1;
        client.attempts = 0;
    }
    client.attempts += 1;
    client.floor = state.last_token;
    state.flights.make_stale(c);
    state.clients[c].phase = Phase::Voting(VoteRound {
        elapsed: 0,
        waiting: all(n),
        tally: Votes(Tally::new(n)),
        granted: 0,
        refused: 0,
        young: [None; MAX_NODES],
        markers: [None; MAX_NODES],
        oldest: Duration::ZERO,
        highest_fence: 0,
    });
    let owner = owner(state, c);
    for i in 0..n {
        send(
            state,
            c,
            i,
            Request::Acquire {
                owner,
                current: true,
            },
        );
    }
}

/// Count node `i`'s answer to the acquire round of client `c` (the body of the loop in
/// `LockManager::attempt`), and finish the round when the library would.
pub fn on_acquire_answer(setup: &Setup, state: &mut State, c: usize, i: usize, answer: Answer) {
    let client = &mut state.clients[c];
    let Phase::Voting(round) = &mut client.phase else {
        return;
    };
    round.waiting &= !bit(i);
    let max_ttl = setup.ttl_duration();
    let slack = setup.slack();
    let tally = &mut round.tally.0;
    let mut trusted_seen = false;
    // A reply the parser rejects is a failed vote, as in the library.
    match answer.and_then(|v| ops::acquire::parse(&v).ok()) {
        Some(reply) => {
            round.highest_fence = round.highest_fence.max(reply.fence);
            let age = reply.marker_age_ms.map(Duration::from_millis);
            round.oldest = round.oldest.max(age.unwrap_or_default());
            if let Some(age) = age {
                round.markers[i] = Some(ticks_of(age));
            }
            if reply.granted {
                let young = age.is_some_and(|age| age < max_ttl);
                match age {
                    Some(age) if young && !trusted(&mut client.trusted[i], age) => {
                        round.young[i] = Some(ticks_of(age));
                    }
                    _ => {
                        tally.record(Vote::Yes);
                        round.granted |= bit(i);
                        trusted_seen |= young;
                    }
                }
            } else {
                tally.record(Vote::No);
                round.refused |= bit(i);
            }
        }
        None => tally.record(Vote::Failed),
    }
    let oldest = round.oldest;
    let mut held_back = false;
    for young in &mut round.young {
        if let Some(age) = *young
            && protocol::held_back(ticks(age), oldest, max_ttl, slack)
        {
            tally.record(Vote::Failed);
            held_back = true;
            *young = None;
        }
    }
    state.held_back_seen |= held_back;
    state.trusted_seen |= trusted_seen;
    let stop = match tally.decision() {
        Decision::Lost => true,
        Decision::Won => !setup.fencing,
        Decision::Pending => false,
    };
    let everyone_answered = round.waiting == 0;
    if stop || everyone_answered {
        finish_vote(setup, state, c, !stop);
    }
}

/// After the acquire loop: young grants, the decision, validity, then the fencing round
/// (or the lease, without fencing).
fn finish_vote(setup: &Setup, state: &mut State, c: usize, everyone_answered: bool) {
    let Phase::Voting(mut round) = std::mem::replace(&mut state.clients[c].phase, Phase::Backoff)
    else {
        return;
    };
    if everyone_answered {
        // No answer showed an older marker: young grants count (a new deployment).
        for i in 0..round.young.len() {
            if round.young[i].is_some() {
                round.tally.0.record(Vote::Yes);
                round.granted |= bit(i);
            }
        }
        // Every node answered, none held back: their markers are trusted.
        if round.tally.0.failed() == 0 {
            for (i, age) in round.markers.iter().enumerate() {
                if age.is_some() {
                    state.clients[c].trusted[i] = *age;
                }
            }
        }
    }
    if round.tally.0.decision() != Decision::Won || !valid_now(setup, round.elapsed) {
        fail(setup, state, c, round.refused);
        return;
    }
    if !setup.fencing {
        hold(setup, state, c, round.elapsed, 0);
        return;
    }
    // Saturating at u64::MAX, as the library does.
    let token = protocol::fencing_token([round.highest_fence]).unwrap_or(u64::MAX);
    let n = state.nodes.len();
    let mut tally = Tally::new(n);
    // Nodes that did not grant cannot confirm.
    let granted = round.granted.count_ones() as usize;
    (0..n - granted).for_each(|_| tally.record(Vote::No));
    state.clients[c].phase = Phase::Fencing(FenceRound {
        elapsed: round.elapsed,
        token,
        waiting: round.granted,
        tally: Votes(tally),
        refused: round.refused,
    });
    let owner = owner(state, c);
    for i in members(n, round.granted) {
        send(
            state,
            c,
            i,
            Request::Fence {
                owner,
                token,
                current: true,
            },
        );
    }
}

/// Count node `i`'s answer to the fencing round of client `c` (`record_token`), and
/// finish the attempt once the tally decides.
pub fn on_fence_answer(setup: &Setup, state: &mut State, c: usize, i: usize, answer: Answer) {
    let Phase::Fencing(round) = &mut state.clients[c].phase else {
        return;
    };
    round.waiting &= !bit(i);
    let vote = match answer.map(|v| ops::fence::parse(&v)) {
        Some(Ok(true)) => Vote::Yes,
        Some(Ok(false)) => Vote::No,
        Some(Err(_)) | None => Vote::Failed,
    };
    round.tally.0.record(vote);
    let decision = round.tally.0.decision();
    if decision == Decision::Pending {
        return;
    }
    let (elapsed, token, refused) = (round.elapsed, round.token, round.refused);
    // The fence round took time too: the token only counts inside the validity.
    if decision == Decision::Won && valid_now(setup, elapsed) {
        hold(setup, state, c, elapsed, token);
    } else {
        fail(setup, state, c, refused);
    }
}

/// Whether `validity(ttl, elapsed, drift)` leaves anything, `elapsed` ticks after start.
fn valid_now(setup: &Setup, elapsed: u8) -> bool {
    protocol::validity(setup.ttl_duration(), ticks(elapsed), setup.drift()).is_some()
}

/// The attempt won: the lease is held until `start + ttl - drift`.
fn hold(setup: &Setup, state: &mut State, c: usize, elapsed: u8, token: u64) {
    let deadline = setup.ttl_duration() - setup.drift();
    let left = deadline.saturating_sub(ticks(elapsed));
    state.clients[c].phase = Phase::Holding { left };
    state.leases = state.leases.saturating_add(1);
    if setup.fencing {
        state.tokens_increase &= token > state.last_token;
        state.tokens_follow_real_time &= token > state.clients[c].floor;
        state.last_token = state.last_token.max(token);
    }
}

/// The attempt failed: release on every node that did not refuse, then back off for the
/// next attempt or give up the call.
fn fail(setup: &Setup, state: &mut State, c: usize, refused: u8) {
    let n = state.nodes.len();
    let owner = owner(state, c);
    for i in members(n, !refused) {
        send(state, c, i, Request::Release { owner });
    }
    let client = &mut state.clients[c];
    client.phase = if client.attempts < setup.attempts {
        Phase::Backoff
    } else {
        Phase::Idle
    };
}

/// `Lease::release`: compare-and-delete on every node; the client is idle again.
pub fn release(state: &mut State, c: usize) {
    let owner = owner(state, c);
    for i in 0..state.nodes.len() {
        send(state, c, i, Request::Release { owner });
    }
    state.clients[c].phase = Phase::Idle;
}

/// Whether client `c` holds a lease that is valid by its own deadline right now.
pub fn holds_valid(state: &State, c: usize) -> bool {
    matches!(state.clients[c].phase, Phase::Holding { left } if !left.is_zero())
}

/// One tick passes on the client's clock: its round's elapsed time grows (capped at the
/// TTL, past which no validity is left anyway), marker ages it remembers grow (capped),
/// its lease's validity shrinks.
pub fn tick(setup: &Setup, client: &mut crate::state::Client) {
    let cap = setup.age_cap();
    let older = |age: &mut Option<u8>| {
        if let Some(a) = age.as_mut() {
            *a = (*a + 1).min(cap);
        }
    };
    client.trusted.iter_mut().for_each(older);
    match &mut client.phase {
        Phase::Voting(round) => {
            round.elapsed = (round.elapsed + 1).min(setup.ttl);
            round.markers.iter_mut().for_each(older);
        }
        Phase::Fencing(round) => round.elapsed = (round.elapsed + 1).min(setup.ttl),
        Phase::Holding { left } => *left = left.saturating_sub(crate::setup::TICK),
        Phase::Idle | Phase::Backoff => {}
    }
}
