//! A token minted on demand: `LeaseCore::fencing_token` of the library's `lease/mint.rs`,
//! for a lease whose acquisition was unfenced ([`Mint::OnDemand`](crate::setup::Mint),
//! or [`Mint::Mixed`](crate::setup::Mint) after an attempt begun unfenced).
//!
//! Two rounds under the lease's operation lock, each decided by the library's
//! `protocol/mint.rs`: `fence_read.lua` on every node, its replies parsed by
//! `ops::fence_read::parse` and gathered in [`Reads`] (no token without a quorum of
//! readings); then `fence.lua` with [`Reads::token`] on every node, counted by a
//! [`Tally`] and concluded by [`mint::conclude`] against the lease's deadline. The
//! acquisition's own rounds (and the token minted there) stay in [`crate::client`]; this
//! file is apart because the mint is a lease operation of its own, like an extend, with
//! its own phase ([`Phase::Minting`]), and because `client.rs` would otherwise run to
//! seven hundred lines.

use redlease::ops;
use redlease::protocol::mint::{self, MintVerdict, Reads};
use redlease::protocol::{Decision, Tally, Vote};

use crate::client::{Answer, all, owner, send_all};
use crate::holding::record_token;
use crate::setup::{Setup, ticks};
use crate::state::{MintRound, MintStage, Phase, Request, State, bit};

/// Whether the holder may ask for its token now (`LeaseHandle::fencing_token`), minting
/// it on demand: tokens are minted on demand, the lease has none yet (and the model's
/// bound of mint rounds per lease is not reached), and it is valid (the library fails at
/// once past the deadline: not offered).
pub fn may_mint(state: &State, c: usize) -> bool {
    matches!(&state.clients[c].phase,
        Phase::Holding(lease) if lease.mints > 0 && !lease.left.is_zero())
}

/// `LeaseCore::fencing_token` on a lease without a token, under its operation lock:
/// `fence_read.lua` to every node.
pub fn begin_mint(state: &mut State, c: usize) {
    let Phase::Holding(mut lease) = state.clients[c].phase else {
        return;
    };
    lease.mints -= 1;
    let n = state.nodes.len();
    state.flights.make_stale(c);
    state.clients[c].phase = Phase::Minting(MintRound {
        lease,
        elapsed: 0,
        waiting: all(n),
        stage: MintStage::Reading(Vec::new()),
    });
    let owner = owner(state, c);
    send_all(
        state,
        c,
        Request::FenceRead {
            owner,
            current: true,
        },
    );
}

/// Node `i`'s answer to a round of client `c`'s mint.
pub fn on_mint_answer(setup: &Setup, state: &mut State, c: usize, i: usize, answer: Answer) {
    let Phase::Minting(round) = &state.clients[c].phase else {
        return;
    };
    match round.stage {
        MintStage::Reading(_) => on_read_answer(setup, state, c, i, answer),
        MintStage::Recording { .. } => on_record_answer(setup, state, c, i, answer),
    }
}

/// The read round, as `LeaseCore::fencing_token` runs it: every node's answer (parsed by
/// `ops::fence_read::parse`; a reply it rejects is a failure) is awaited, each bounded by
/// the node timeout; then `Reads::token`: no token without a quorum of readings (the mint
/// is unavailable, the lease still held), else `fence.lua` with it to every node.
fn on_read_answer(setup: &Setup, state: &mut State, c: usize, i: usize, answer: Answer) {
    let n = state.nodes.len();
    let Phase::Minting(round) = &mut state.clients[c].phase else {
        return;
    };
    let MintStage::Reading(readings) = &mut round.stage else {
        return;
    };
    round.waiting &= !bit(i);
    if let Some(reading) = answer.and_then(|v| ops::fence_read::parse(&v).ok()) {
        let reading = (reading.counter, reading.now_us);
        let at = readings.partition_point(|&r| r <= reading);
        readings.insert(at, reading);
    }
    if round.waiting != 0 {
        return;
    }
    let mut reads = Reads::new(n);
    for &(counter, now_us) in readings.iter() {
        reads.read(counter, now_us);
    }
    if setup.mint_reads_any {
        // The broken mint of `Setup::mint_reads_any`: failed reads count as empty nodes.
        (readings.len()..n).for_each(|_| reads.read(0, 0));
    }
    let Some(token) = reads.token() else {
        state.clients[c].phase = Phase::Holding(round.lease);
        return;
    };
    round.stage = MintStage::Recording {
        token,
        tally: Tally::new(n),
    };
    round.waiting = all(n);
    // Reads still queued behind a timeout run, but their replies are no longer awaited.
    state.flights.make_stale(c);
    let owner = owner(state, c);
    send_all(
        state,
        c,
        Request::Fence {
            owner,
            token,
            current: true,
        },
    );
}

/// The record round (`lease/mint.rs`: `record` on every node): counted as
/// `Round::decide` counts it (stop once the tally decides), then concluded by
/// `protocol::mint::conclude` on the model's relative clock (the mint's start is zero,
/// now is the time elapsed since, the deadline now plus the time the lease has left).
fn on_record_answer(setup: &Setup, state: &mut State, c: usize, i: usize, answer: Answer) {
    let Phase::Minting(round) = &mut state.clients[c].phase else {
        return;
    };
    let MintStage::Recording { token, tally } = &mut round.stage else {
        return;
    };
    round.waiting &= !bit(i);
    let vote = match answer.map(|v| ops::fence::parse(&v)) {
        Some(Ok(true)) => Vote::Yes,
        Some(Ok(false)) => Vote::No,
        Some(Err(_)) | None => Vote::Failed,
    };
    tally.record(vote);
    if tally.decision() == Decision::Pending && round.waiting != 0 {
        return;
    }
    let (token, tally, mut lease) = (*token, *tally, round.lease);
    let now = ticks(round.elapsed);
    let deadline = now + lease.left;
    let mut verdict = mint::conclude(&tally, now, deadline);
    if setup.mint_ignores_deadline
        && verdict == MintVerdict::Expired
        && tally.decision() == Decision::Won
    {
        // The broken mint of `Setup::mint_ignores_deadline`: late confirmations count.
        verdict = MintVerdict::Minted;
    }
    state.clients[c].phase = match verdict {
        MintVerdict::Minted => {
            record_token(setup, state, c, token, true);
            lease.mints = 0;
            Phase::Holding(lease)
        }
        // Lost: the holder knows, and stops (as after a failed extend).
        MintVerdict::NotHeld | MintVerdict::Expired => Phase::Idle,
        // No token now; the lease is still held (a later call may try again).
        MintVerdict::Unavailable => Phase::Holding(lease),
    };
}
