//! The client side: one acquisition attempt as the library's `Acquirer::attempt` runs it.
//!
//! Nothing here decides: the library does. Each node's reply is built by [`crate::node`]
//! as the `redis::Value` the script returns, parsed by `redlease::ops::acquire::parse`,
//! and fed to the library's own [`Attempt`] state machine, which says when to stop
//! listening and, in its [`Outcome`], whether the vote was won, which grants count,
//! where to release, which markers to trust. Then, as `acquire/` does: validity by
//! [`protocol::validity`] with [`protocol::drift`], the token by
//! [`protocol::fencing_token`], the fencing round counted by
//! [`protocol::attempt::fence_tally`] and
//! [`Tally::decision`](redlease::protocol::Tally::decision). What stays the model's is
//! the bookkeeping of trusted markers: each node's trusted marker, and the marker that
//! replaced it, as ages relative to now (the library's `MarkerTrust` keeps the markers'
//! births on the node's own clock, which most model configurations do not have),
//! compared exactly as the library compares births (equal).
//!
//! What follows a won attempt (the lease held, released, extended, renewed) is
//! [`crate::holding`]'s; a token minted on demand, after an unfenced acquisition,
//! [`crate::mint`]'s; the wait for grants by hand-off after a refusal,
//! [`crate::handoff`]'s. This file ends where the attempt does: a lease, a wait for
//! grants, the next attempt, or the call given up.

use std::time::Duration;

use redlease::ops;
use redlease::protocol::attempt::fence_tally;
use redlease::protocol::{
    self, Attempt, AttemptRules, Decision, Known, NodeVote, Outcome, Verdict, Vote,
};
use redlease::redis::Value;

use crate::holding::hold;
use crate::setup::{Mint, Setup, ticks};
use crate::state::{FenceRound, Fencing, MAX_NODES, Owner, Phase, Request, State, VoteRound, bit};

/// An answer from a node, or `None` for a failed vote (timeout, lost reply, crash).
pub type Answer = Option<Value>;

/// The owner of client `c`'s current acquisition attempt.
pub fn owner(state: &State, c: usize) -> Owner {
    Owner {
        client: u8::try_from(c).unwrap_or(u8::MAX),
        seq: state.clients[c].calls,
        attempt: state.clients[c].attempts,
    }
}

/// Queue `request` from client `c` to node `i`, unless the node is down (the connection
/// is refused: the request is gone, and the client will time out on it).
pub(crate) fn send(state: &mut State, c: usize, i: usize, request: Request) {
    debug_assert_eq!(usize::from(request.owner().client), c);
    if state.nodes[i].is_up() {
        state.flights.push(i, request);
    }
}

/// Queue `request` from client `c` to every node (see [`send`]).
pub(crate) fn send_all(state: &mut State, c: usize, request: Request) {
    for i in 0..state.nodes.len() {
        send(state, c, i, request);
    }
}

/// A marker age the node reported, back in ticks (it was built from whole ticks).
fn ticks_of(age: Duration) -> u8 {
    u8::try_from(age.as_nanos() / crate::setup::TICK.as_nanos()).unwrap_or(u8::MAX)
}

/// What `acquire/` knows of a reply's marker ([`Known`]): `MarkerTrust::check`, then
/// `MarkerTrust::replaced`, for every reply with a marker younger than `max_ttl`,
/// granted or refused. The library knows a marker by its birth on the node's clock (the
/// reply's time minus its age) and requires equal births; here the ages relative to now
/// must be equal. A different marker where one was trusted means the node lost its
/// data: the trust is dropped and the new marker remembered as the replacement (held
/// back until `max_ttl` old, whatever the other nodes answer).
fn known(
    setup: &Setup,
    trust: &mut Option<u8>,
    replaced: &mut Option<u8>,
    reply: &protocol::AcquireReply,
) -> Known {
    let Some(age) = reply.marker_age_ms.map(Duration::from_millis) else {
        return Known::Unknown;
    };
    if age >= setup.ttl_duration() {
        return Known::Unknown;
    }
    let age = ticks_of(age);
    match *trust {
        Some(t) if t == age => return Known::Trusted,
        Some(_) => {
            *trust = None;
            *replaced = Some(age);
        }
        None => {}
    }
    if *replaced == Some(age) {
        Known::Replaced
    } else {
        Known::Unknown
    }
}

/// Nodes in `mask`.
pub(crate) fn members(n: usize, mask: u8) -> impl Iterator<Item = usize> {
    (0..n).filter(move |&i| mask & bit(i) != 0)
}

/// Nodes in `list`, as a mask.
fn mask(list: &[usize]) -> u8 {
    list.iter().fold(0, |m, &i| m | bit(i))
}

/// The rules `acquire/` gives each attempt, fenced or not.
fn rules(setup: &Setup, fenced: bool) -> AttemptRules {
    AttemptRules {
        nodes: setup.nodes,
        fencing: fenced,
        max_ttl: setup.ttl_duration(),
        slack: setup.slack(),
    }
}

/// Start an attempt: a new `acquire` call from `Idle`, or the next attempt (a new owner)
/// from `Backoff` or `Waiting`. Every request still in flight from earlier rounds goes
/// stale. A `fenced` attempt mints the token in the acquisition (`Fencing::Client`), an
/// unfenced one leaves it to the holder (on demand) or to nobody (fencing off); on one
/// node, fenced, the node mints it with the grant (`Fencing::Script`). A call that waits
/// registers, with every attempt, the owner of its next attempt for a grant by hand-off
/// ([`Setup::registers`], [`Setup::registered_owner`]).
pub fn begin(setup: &Setup, state: &mut State, c: usize, fenced: bool) {
    let n = state.nodes.len();
    let client = &mut state.clients[c];
    if client.phase == Phase::Idle {
        client.calls += 1;
        client.attempts = 0;
        client.waited = 0;
        client.call_fenced = fenced && setup.grants && setup.mint == Mint::Mixed;
    }
    client.attempts += 1;
    client.floor = state.last_token;
    state.flights.make_stale(c);
    state.handed &= !bit(c);
    let waited = state.clients[c].waited;
    let fencing = setup.fencing_of(fenced);
    state.clients[c].phase = Phase::Voting(VoteRound {
        elapsed: 0,
        attempt: Attempt::new(rules(setup, fencing != Fencing::Off)),
        markers: [None; MAX_NODES],
        read: 0,
        fencing,
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
                role: setup.role(),
                waited,
                fence: fencing != Fencing::Off,
                mint: fencing == Fencing::Script,
                next: setup
                    .registers(fencing)
                    .then(|| setup.registered_owner(owner)),
            },
        );
    }
}

/// Node `i`'s answer to the acquire round of client `c`: the body of the loop in
/// `Acquirer::attempt`. The attempt is finished when it says stop, or when every node
/// has answered (the library's loop ends).
pub fn on_acquire_answer(setup: &Setup, state: &mut State, c: usize, i: usize, answer: Answer) {
    let client = &mut state.clients[c];
    let Phase::Voting(round) = &mut client.phase else {
        return;
    };
    // A reply the parser rejects is a failed vote, as in the library.
    let step = match answer.and_then(|v| ops::acquire::parse(&v).ok()) {
        Some(reply) => {
            let known = known(
                setup,
                &mut client.trusted[i],
                &mut client.replaced[i],
                &reply,
            );
            state.trusted_seen |= reply.granted && known == Known::Trusted;
            round.read = round.read.max(reply.fence);
            round.markers[i] = reply
                .marker_age_ms
                .map(|ms| ticks_of(Duration::from_millis(ms)));
            round.attempt.answer_known(i, Some(&reply), known)
        }
        None => round.attempt.answer(i, None, false),
    };
    state.held_back_seen |= round
        .attempt
        .votes()
        .iter()
        .any(|v| matches!(v, NodeVote::HeldBack(_)));
    let everyone_answered = round.waiting() == 0;
    if round.attempt.stops(step, setup.role()) {
        finish_vote(setup, state, c, false);
    } else if everyone_answered {
        finish_vote(setup, state, c, true);
    }
}

/// After the acquire loop: `Attempt::finish`, the markers it trusts, then as
/// `acquire/`: validity, then the fencing round (or the lease, without fencing).
fn finish_vote(setup: &Setup, state: &mut State, c: usize, everyone_answered: bool) {
    let Phase::Voting(round) = std::mem::replace(&mut state.clients[c].phase, Phase::Backoff)
    else {
        return;
    };
    let outcome: Outcome = round.attempt.finish(everyone_answered);
    for &(i, _) in &outcome.trust {
        // The library records the birth `seen_at - age`; the model keeps the marker's
        // age now, which is what it compares later ones against.
        state.clients[c].trusted[i] = round.markers[i];
        state.clients[c].replaced[i] = None;
    }
    let release_on = mask(&outcome.release_on);
    // Refused (busy, not a split vote) and registered: the call waits for grants.
    let waits =
        outcome.verdict == Verdict::Busy && !outcome.split && setup.registers(round.fencing);
    let wait = waits.then(|| crate::handoff::wait(round.elapsed, round.fencing));
    let Some(left) = validity(setup, round.elapsed).filter(|_| outcome.verdict == Verdict::Won)
    else {
        fail(setup, state, c, release_on, wait);
        return;
    };
    match round.fencing {
        // Unfenced (`Fencing::Off`): no token now; minted on demand later, if at all.
        Fencing::Off => return hold(setup, state, c, left, None),
        // The one node minted it with the grant.
        Fencing::Script => return hold(setup, state, c, left, Some(outcome.highest_fence)),
        Fencing::Client => {}
    }
    // Saturating at u64::MAX, as the library does.
    let token =
        protocol::fencing_token([outcome.highest_fence], outcome.time_floor).unwrap_or(u64::MAX);
    let n = state.nodes.len();
    let granted = mask(&outcome.granted);
    state.clients[c].phase = Phase::Fencing(FenceRound {
        elapsed: round.elapsed,
        token,
        waiting: granted,
        tally: fence_tally(n, outcome.granted.len()),
        release_on,
    });
    let owner = owner(state, c);
    for i in outcome.granted {
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

/// Node `i`'s answer to the fencing round of client `c` (`record_token`); the attempt
/// ends once the tally decides (`Round::decide`).
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
    round.tally.record(vote);
    let decision = round.tally.decision();
    if decision == Decision::Pending {
        return;
    }
    let (elapsed, token, release_on) = (round.elapsed, round.token, round.release_on);
    // The fence round took time too: the token only counts inside the validity.
    match validity(setup, elapsed).filter(|_| decision == Decision::Won) {
        Some(left) => hold(setup, state, c, left, Some(token)),
        None => fail(setup, state, c, release_on, None),
    }
}

/// Validity left `elapsed` ticks after the attempt's start: `protocol::validity`.
fn validity(setup: &Setup, elapsed: u8) -> Option<Duration> {
    protocol::validity(setup.ttl_duration(), ticks(elapsed), setup.drift())
}

/// The attempt failed: release on the outcome's `release_on` (keeping the caller's queue
/// place if `Role::keeps_place_after_failure`), then `wait` for grants by hand-off (a
/// refused, registered attempt), or back off for the next attempt, or give up the call,
/// leaving every queue if `Role::leaves_on_give_up` (as `acquire/`).
fn fail(setup: &Setup, state: &mut State, c: usize, release_on: u8, wait: Option<Phase>) {
    let n = state.nodes.len();
    let owner = owner(state, c);
    let role = setup.role();
    let stay = role.keeps_place_after_failure();
    for i in members(n, release_on) {
        let clean_up = Request::Release {
            owner,
            handoff: false,
            stay,
        };
        send(state, c, i, clean_up);
    }
    if let Some(wait) = wait {
        // Given up later, if no grant makes a lease ([`crate::handoff::give_up`]).
        state.clients[c].phase = wait;
        return;
    }
    let gives_up = state.clients[c].attempts >= setup.attempts;
    if gives_up {
        leave(setup, state, c);
    }
    state.clients[c].phase = if gives_up {
        Phase::Idle
    } else {
        Phase::Backoff
    };
}

/// The call gives up: it leaves every queue if `Role::leaves_on_give_up`, by a release
/// of its current attempt's owner that neither hands off nor stays.
pub(crate) fn leave(setup: &Setup, state: &mut State, c: usize) {
    if !setup.role().leaves_on_give_up() {
        return;
    }
    let owner = owner(state, c);
    for i in 0..state.nodes.len() {
        let leave = Request::Release {
            owner,
            handoff: false,
            stay: false,
        };
        send(state, c, i, leave);
    }
}

/// Every one of `n` nodes, as a mask.
pub(crate) fn all(n: usize) -> u8 {
    u8::try_from((1u16 << n) - 1).unwrap_or(u8::MAX)
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
    client.replaced.iter_mut().for_each(older);
    if matches!(
        client.phase,
        Phase::Voting(_) | Phase::Backoff | Phase::Fencing(_) | Phase::Waiting(_)
    ) {
        client.waited = (client.waited + 1).min(setup.place_cap);
    }
    match &mut client.phase {
        Phase::Voting(round) => {
            round.elapsed = (round.elapsed + 1).min(setup.ttl);
            round.markers.iter_mut().for_each(older);
        }
        Phase::Fencing(round) => round.elapsed = (round.elapsed + 1).min(setup.ttl),
        Phase::Holding(lease) => {
            lease.left = lease.left.saturating_sub(crate::setup::TICK);
            lease.due = lease.due.saturating_sub(1);
        }
        Phase::Extending(round) => {
            round.elapsed = (round.elapsed + 1).min(setup.ttl);
            round.lease.left = round.lease.left.saturating_sub(crate::setup::TICK);
        }
        // The renewal task's sleep runs on; it waits for the operation lock if due.
        Phase::Minting(round) => {
            round.elapsed = (round.elapsed + 1).min(setup.ttl);
            round.lease.left = round.lease.left.saturating_sub(crate::setup::TICK);
            round.lease.due = round.lease.due.saturating_sub(1);
        }
        Phase::Waiting(wait) => crate::handoff::tick(setup, wait),
        Phase::Idle | Phase::Backoff => {}
    }
}
