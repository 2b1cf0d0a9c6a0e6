//! A lease once held: its start (the validity left and the token recorded, for the token
//! properties), the holder's `extend` and the renewal task, and `Lease::release`.
//!
//! An extend or a renewal is `LeaseCore::extend`: `extend.lua` to every node, counted as
//! `Round::decide` counts it and concluded by the library's [`extend::conclude`] on the
//! model's relative clock; the renewal task's schedule is [`renewal::interval`],
//! [`renewal::retry_delay`] and [`renewal::cap_reached`]. Apart from [`crate::client`] (the acquisition) because these
//! are operations on a lease, however it was won: by a vote, by a reservation, or by
//! grants in one round ([`crate::handoff`]).

use std::time::Duration;

use redlease::ops;
use redlease::protocol::extend::{self, ExtendVerdict, conclude};
use redlease::protocol::renewal;
use redlease::protocol::{self, Decision, Tally, Vote};

use crate::client::{Answer, all, owner, send};
use crate::setup::{Mint, Setup, ticks};
use crate::state::{ExtendRound, Lease, Phase, Request, State, bit};

/// The attempt won (by its vote, or by hand-off): the lease is held for `left`, the
/// validity left (`start + ttl - drift`), with the token minted in the acquisition or
/// with the grants, if any.
pub(crate) fn hold(setup: &Setup, state: &mut State, c: usize, left: Duration, token: Option<u64>) {
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
