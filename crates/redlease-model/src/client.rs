//! The client side: one acquisition attempt as the library's `Acquirer::attempt` runs it.
//!
//! Nothing here decides: the library does. Each node's reply is built by [`crate::node`]
//! as the `redis::Value` the script returns, parsed by `redlease::ops::acquire::parse`,
//! and fed to the library's own [`Attempt`] state machine, which says when to stop
//! listening and, in its [`Outcome`], whether the vote was won, which grants count,
//! where to release, which markers to trust. Then, as `acquire.rs` does: validity by
//! [`protocol::validity`] with [`protocol::drift`], the token by
//! [`protocol::fencing_token`], the fencing round counted by
//! [`protocol::attempt::fence_tally`] and [`Tally::decision`](redlease::protocol::Tally::decision). What stays the model's is
//! the bookkeeping of trusted markers: each node's trusted marker, and the marker that
//! replaced it, as ages relative to now (the library's `MarkerTrust` keeps the markers'
//! births on the node's own clock, which most model configurations do not have),
//! compared exactly as the library compares births (equal).
//!
//! A token minted on demand, after an unfenced acquisition, is [`crate::mint`]'s.

use std::time::Duration;

use redlease::ops;
use redlease::protocol::attempt::fence_tally;
use redlease::protocol::extend::{self, ExtendVerdict, conclude};
use redlease::protocol::renewal;
use redlease::protocol::{
    self, Attempt, AttemptRules, Decision, Known, NodeVote, Outcome, Tally, Verdict, Vote,
};
use redlease::redis::Value;

use crate::setup::{Mint, Setup, ticks};
use crate::state::{
    ExtendRound, FenceRound, Lease, MAX_NODES, Owner, Phase, Request, State, VoteRound, bit,
};

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

/// What `acquire.rs` knows of a reply's marker ([`Known`]): `MarkerTrust::check`, then
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
fn members(n: usize, mask: u8) -> impl Iterator<Item = usize> {
    (0..n).filter(move |&i| mask & bit(i) != 0)
}

/// Nodes in `list`, as a mask.
fn mask(list: &[usize]) -> u8 {
    list.iter().fold(0, |m, &i| m | bit(i))
}

/// The rules `acquire.rs` gives each attempt, fenced or not.
fn rules(setup: &Setup, fenced: bool) -> AttemptRules {
    AttemptRules {
        nodes: setup.nodes,
        fencing: fenced,
        max_ttl: setup.ttl_duration(),
        slack: setup.slack(),
    }
}

/// Start an attempt: a new `acquire` call from `Idle`, or the next attempt from
/// `Backoff` (same owner). Every request still in flight from earlier rounds goes stale.
/// A `fenced` attempt mints the token in the acquisition (`Fencing::Client`), an
/// unfenced one leaves it to the holder (on demand) or to nobody (fencing off).
pub fn begin(setup: &Setup, state: &mut State, c: usize, fenced: bool) {
    let n = state.nodes.len();
    let client = &mut state.clients[c];
    if client.phase == Phase::Idle {
        client.calls += 1;
        client.attempts = 0;
        client.waited = 0;
    }
    client.attempts += 1;
    client.floor = state.last_token;
    state.flights.make_stale(c);
    state.handed &= !bit(c);
    let waited = state.clients[c].waited;
    state.clients[c].phase = Phase::Voting(VoteRound {
        elapsed: 0,
        attempt: Attempt::new(rules(setup, fenced)),
        markers: [None; MAX_NODES],
        read: 0,
        fenced,
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
                fence: fenced,
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
/// `acquire.rs`: validity, then the fencing round (or the lease, without fencing).
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
    if outcome.verdict != Verdict::Won || !valid_now(setup, round.elapsed) {
        fail(setup, state, c, release_on);
        return;
    }
    if !round.fenced {
        // Unfenced (`Fencing::Off`): no token now; minted on demand later, if at all.
        hold(setup, state, c, round.elapsed, None);
        return;
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
    if decision == Decision::Won && valid_now(setup, elapsed) {
        hold(setup, state, c, elapsed, Some(token));
    } else {
        fail(setup, state, c, release_on);
    }
}

/// Validity left `elapsed` ticks after the attempt's start: `protocol::validity`.
fn validity(setup: &Setup, elapsed: u8) -> Option<Duration> {
    protocol::validity(setup.ttl_duration(), ticks(elapsed), setup.drift())
}

/// Whether `validity(ttl, elapsed, drift)` leaves anything, `elapsed` ticks after start.
fn valid_now(setup: &Setup, elapsed: u8) -> bool {
    validity(setup, elapsed).is_some()
}

/// The attempt won: the lease is held until `start + ttl - drift`, with the token minted
/// in the acquisition, if any.
fn hold(setup: &Setup, state: &mut State, c: usize, elapsed: u8, token: Option<u64>) {
    let left = validity(setup, elapsed).unwrap_or_default();
    // The renewal task schedules the first renewal an interval after it takes the lease.
    state.clients[c].phase = Phase::Holding(Lease {
        left,
        // Without renewal nothing is ever due: kept at 0, so that it adds no states.
        due: if setup.renewal.is_some() {
            whole_ticks(renewal_interval(setup))
        } else {
            0
        },
        extended: 0,
        renewals: 0,
        mints: if token.is_none() && setup.mints_on_demand() {
            setup.mints
        } else {
            0
        },
    });
    state.leases = state.leases.saturating_add(1);
    state.handoff_won |= state.handed & bit(c) != 0;
    if let Some(token) = token {
        record_token(setup, state, c, token, false);
    }
}

/// Client `c`'s lease got `token` (in its acquisition or `on_demand`): the token
/// properties compare it with every token granted before, and with those granted before
/// the lease's attempt began (its floor). With [`Mint::Mixed`], which way it was minted
/// after which (for the examples).
pub(crate) fn record_token(
    setup: &Setup,
    state: &mut State,
    c: usize,
    token: u64,
    on_demand: bool,
) {
    if setup.mint == Mint::Mixed {
        // Tokens are at least 1: `last_token` is 0 only before the first.
        if state.last_token > 0 && state.last_on_demand != on_demand {
            state.mixed_orders |= if on_demand { 2 } else { 1 };
        }
        state.last_on_demand = on_demand;
    }
    state.minted_on_demand_seen |= on_demand;
    state.tokens_increase &= token > state.last_token;
    state.tokens_follow_real_time &= token > state.clients[c].floor;
    state.last_token = state.last_token.max(token);
}

/// The attempt failed: release on the outcome's `release_on` (keeping the caller's queue
/// place if `Role::keeps_place_after_failure`), then back off for the next attempt or
/// give up the call, leaving every queue if `Role::leaves_on_give_up` (as `acquire.rs`).
fn fail(setup: &Setup, state: &mut State, c: usize, release_on: u8) {
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
    let gives_up = state.clients[c].attempts >= setup.attempts;
    if gives_up && role.leaves_on_give_up() {
        for i in 0..n {
            let leave = Request::Release {
                owner,
                handoff: false,
                stay: false,
            };
            send(state, c, i, leave);
        }
    }
    state.clients[c].phase = if gives_up {
        Phase::Idle
    } else {
        Phase::Backoff
    };
}

/// The renewal interval of a lease of the setup's ttl: `protocol::renewal::interval`.
fn renewal_interval(setup: &Setup) -> Duration {
    setup.renewal.map_or(Duration::MAX, |fraction| {
        renewal::interval(setup.ttl_duration(), fraction)
    })
}

/// Whole ticks in `delay`, rounded down: a delay shorter than a tick may end before the
/// next tick, so the renewal may run at once (more behaviours, never fewer).
fn whole_ticks(delay: Duration) -> u8 {
    u8::try_from(delay.as_nanos() / crate::setup::TICK.as_nanos()).unwrap_or(u8::MAX)
}

/// Whether the renewal task would renew client `c`'s lease now: renewal is on, the
/// lease is held (not extending), its renewal is due, the deadline has not passed (the
/// task marks it lost instead) and `renewal::cap_reached` does not stop it.
pub fn renewal_due(setup: &Setup, state: &State, c: usize) -> bool {
    let Phase::Holding(lease) = &state.clients[c].phase else {
        return false;
    };
    setup.renewal.is_some()
        && lease.due == 0
        && !lease.left.is_zero()
        && !renewal::cap_reached(
            u32::from(lease.renewals),
            Some(setup.max_renewals),
            Duration::ZERO,
            None,
        )
}

/// Whether the holder may call `extend(ttl)` now (the model bounds user extends per
/// lease). An extend after the deadline fails at once in the library: not offered.
pub fn may_extend(setup: &Setup, state: &State, c: usize) -> bool {
    matches!(&state.clients[c].phase,
        Phase::Holding(lease) if lease.extended < setup.extends && !lease.left.is_zero())
}

/// `LeaseCore::extend(ttl)`, or a renewal (`renew()`: extend by the lease's own ttl):
/// `extend.lua` to every node.
pub fn begin_extend(setup: &Setup, state: &mut State, c: usize, ttl: u8, is_renewal: bool) {
    let Phase::Holding(mut lease) = state.clients[c].phase else {
        return;
    };
    // `protocol::extend::while_extending` on the model's relative clock (start = now =
    // zero): a shortening extend shortens the deadline from the moment it is sent.
    let drift = protocol::drift(ticks(ttl), setup.drift_factor);
    lease.left = extend::while_extending(lease.left, Duration::ZERO, ticks(ttl), drift);
    if is_renewal {
        lease.renewals += 1;
    } else {
        lease.extended += 1;
    }
    let n = state.nodes.len();
    state.flights.make_stale(c);
    state.clients[c].phase = Phase::Extending(ExtendRound {
        lease,
        elapsed: 0,
        ttl,
        renewal: is_renewal,
        waiting: all(n),
        tally: Tally::new(n),
    });
    let owner = owner(state, c);
    for i in 0..n {
        send(
            state,
            c,
            i,
            Request::Extend {
                owner,
                ttl,
                current: true,
            },
        );
    }
}

/// Every one of `n` nodes, as a mask.
pub(crate) fn all(n: usize) -> u8 {
    u8::try_from((1u16 << n) - 1).unwrap_or(u8::MAX)
}

/// Node `i`'s answer to client `c`'s extend round: counted as `Round::decide` counts it
/// (stop once the tally decides), then concluded as `lease/extend.rs` does, with
/// `protocol::extend::conclude` on the model's relative clock (the round's start is
/// zero, now is the time elapsed since).
pub fn on_extend_answer(setup: &Setup, state: &mut State, c: usize, i: usize, answer: Answer) {
    let Phase::Extending(round) = &mut state.clients[c].phase else {
        return;
    };
    round.waiting &= !bit(i);
    let vote = match answer.map(|v| ops::extend::parse(&v)) {
        Some(Ok(reply)) if reply.extended => Vote::Yes,
        Some(Ok(_)) => Vote::No,
        Some(Err(_)) | None => Vote::Failed,
    };
    round.tally.record(vote);
    if round.tally.decision() == Decision::Pending && round.waiting != 0 {
        return;
    }
    let round = *round;
    let now = ticks(round.elapsed);
    let ttl = ticks(round.ttl);
    let drift = protocol::drift(ttl, setup.drift_factor);
    let deadline = now + round.lease.left;
    let mut lease = round.lease;
    let interval = renewal_interval(setup);
    state.clients[c].phase = match conclude(&round.tally, Duration::ZERO, now, deadline, ttl, drift)
    {
        ExtendVerdict::Extended { deadline } => {
            state.extended_seen = true;
            lease.left = deadline.saturating_sub(now);
            if round.renewal {
                // The next renewal: an interval after this one started.
                lease.due = whole_ticks(interval).saturating_sub(round.elapsed);
            }
            Phase::Holding(lease)
        }
        // Lost: the holder knows, and stops. (Its keys expire or are released by others'
        // clean-up; the model does not release them.)
        ExtendVerdict::NotHeld | ExtendVerdict::Expired | ExtendVerdict::Spent => Phase::Idle,
        ExtendVerdict::Unavailable { deadline } => {
            lease.left = deadline.saturating_sub(now);
            if round.renewal {
                // Retried soon, never after the deadline.
                let retry = renewal::retry_delay(interval, lease.left).min(lease.left);
                lease.due = whole_ticks(retry);
            }
            Phase::Holding(lease)
        }
    };
}

/// `Lease::release`: compare-and-delete on every node, leaving the queues and handing
/// the lock to the longest waiter if hand-off is on; the client is idle again.
pub fn release(setup: &Setup, state: &mut State, c: usize) {
    let owner = owner(state, c);
    let lease_release = Request::Release {
        owner,
        handoff: !setup.handoff.is_zero(),
        stay: false,
    };
    for i in 0..state.nodes.len() {
        send(state, c, i, lease_release);
    }
    state.clients[c].phase = Phase::Idle;
}

/// The lease client `c` holds (also while extending it or minting its token), if any.
pub fn lease(state: &State, c: usize) -> Option<&Lease> {
    match &state.clients[c].phase {
        Phase::Holding(lease) => Some(lease),
        Phase::Extending(round) => Some(&round.lease),
        Phase::Minting(round) => Some(&round.lease),
        _ => None,
    }
}

/// Whether client `c` holds a lease that is valid by its own deadline right now.
pub fn holds_valid(state: &State, c: usize) -> bool {
    lease(state, c).is_some_and(|lease| !lease.left.is_zero())
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
        Phase::Voting(_) | Phase::Backoff | Phase::Fencing(_)
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
        Phase::Idle | Phase::Backoff => {}
    }
}
