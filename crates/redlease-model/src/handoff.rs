//! The grant in one round, the waiter's side: the library's `handoff.rs` and the waiting
//! branch of `acquire/`, with [`redlease::protocol::handoff`] deciding.
//!
//! A call that waits registers, with each refusal, the owner of its *next* attempt
//! ([`crate::node::acquire`], `ARGV[10]`; the library draws that owner before it sends
//! the refused attempt). A lease's release there sets the lock to the head's registered
//! owner and publishes the grant ([`crate::node::release`]). After a refusal that was not
//! a split vote, the client waits ([`Phase::Waiting`]): each grant published for it is
//! delivered at any later moment (or never), its payload built as `release.lua` builds it
//! ([`crate::node::payload`]) and read by [`handoff::parse`]; a grant for the owner it
//! registered ([`awaited`]) is judged by [`counts`] and tallied by [`Handoffs`], and at
//! [`Decision::Won`] [`handoff::validity`], measured from the refused attempt's start,
//! decides whether it holds the lease, with the registered owner (the model's clients
//! number owners by attempt, so the lease is its next attempt's): on one node with the
//! token that came with the grant, on several nodes without one (minted on demand if
//! asked, [`crate::mint`]; an attempt that mints in the acquisition does not register).
//! Otherwise the client goes on to its next attempt, which has the registered owner and
//! so finds a key granted to it its own, or, with no attempt left, gives up.
//!
//! Why the next attempt's owner and not the refused one's: the refused attempt's
//! clean-up (sent to the nodes whose answer it did not get) deletes that attempt's keys,
//! and a node that registered the refusal before losing its reply may have granted the
//! lock to the registered owner by then; with the refused attempt's own owner the
//! clean-up deleted a grant the waiter counted ([`Setup::grant_registers_refused_owner`]
//! keeps that first version, `tests/handoff.rs` its counterexample).

use redlease::protocol::Decision;
use redlease::protocol::handoff::{self, Grant, Handoffs, Wake, counts};

use crate::client::{leave, members, owner};
use crate::holding::hold;
use crate::setup::{Setup, ticks};
use crate::state::{Fencing, GrantWait, Owner, Phase, Published, State, bit};

/// The refused attempt's call waits for grants (the attempt registered, and it was
/// refused, not split): `elapsed` ticks since the attempt started.
pub fn wait(elapsed: u8, fencing: Fencing) -> Phase {
    Phase::Waiting(GrantWait {
        elapsed,
        granted: 0,
        token: 0,
        fencing,
    })
}

/// Keep a grant a release on node `i` published, for delivery.
pub fn publish(state: &mut State, grant: Published) {
    let at = state.published.partition_point(|p| *p <= grant);
    state.published.insert(at, grant);
}

/// The owner whose grants client `c` counts while it waits after its current attempt:
/// the owner that attempt registered ([`Setup::registered_owner`]), the library's
/// `Waited::next`.
pub fn awaited(setup: &Setup, state: &State, c: usize) -> Owner {
    setup.registered_owner(owner(state, c))
}

/// Forget the grants no client will read: the library's subscriber keeps them for the
/// waiter, but `Subscription::grants_for` drops every grant for an owner other than the
/// one the waiter's last attempt registered, and a call that holds, backs off or is over
/// reads none.
pub fn forget_unread(setup: &Setup, state: &mut State) {
    let awaited: Vec<Option<Owner>> = (0..state.clients.len())
        .map(|c| {
            let reads = matches!(state.clients[c].phase, Phase::Voting(_) | Phase::Waiting(_));
            reads.then(|| awaited(setup, state, c))
        })
        .collect();
    state
        .published
        .retain(|p| awaited[usize::from(p.owner.client)] == Some(p.owner));
}

/// The nodes whose grant for client `c`'s registered owner may be delivered now (bit
/// mask).
pub fn deliverable(setup: &Setup, state: &State, c: usize) -> u8 {
    if !matches!(state.clients[c].phase, Phase::Waiting(_)) {
        return 0;
    }
    let owner = awaited(setup, state, c);
    state
        .published
        .iter()
        .filter(|p| p.owner == owner)
        .fold(0, |mask, p| mask | bit(usize::from(p.node)))
}

/// Node `i`'s grant reaches client `c`, which waits: read as the subscriber reads it
/// (`Wakeups::wake`: `handoff::parse`, kept for the waiter it names), taken if it is for
/// the owner the attempt registered (`grants_for`), judged by `counts` and tallied
/// (`handed_off`); at a quorum, the lease (`lease`).
pub fn deliver(setup: &Setup, state: &mut State, c: usize, i: usize) {
    let owner = awaited(setup, state, c);
    let Some(at) = state
        .published
        .iter()
        .position(|p| p.owner == owner && usize::from(p.node) == i)
    else {
        return;
    };
    let published = state.published.remove(at);
    let Phase::Waiting(mut wait) = state.clients[c].phase else {
        return;
    };
    let payload = crate::node::payload(&published);
    let Wake::Granted { waiter, grant } = handoff::parse(payload.as_bytes()) else {
        return;
    };
    if waiter != owner.waiter().name() || grant.owner != owner.name() {
        return;
    }
    let judged = if setup.grant_ignores_marker {
        // Broken on purpose: the marker's age left out.
        Grant {
            marker_age_ms: None,
            ..grant
        }
    } else {
        grant
    };
    let needs_token = wait.fencing == Fencing::Script;
    if !counts(&judged, setup.ttl_duration(), needs_token) {
        return;
    }
    let n = state.nodes.len();
    let mut grants = Handoffs::new(n);
    let mut token = wait.token;
    for j in members(n, wait.granted) {
        // The highest token once (it is a maximum), with the first node counted.
        grants.grant(j, std::mem::take(&mut token));
    }
    let decision = grants.grant(i, grant.token);
    wait.granted = grants.granted().iter().fold(0, |m, &j| m | bit(j));
    wait.token = grants.token();
    state.clients[c].phase = Phase::Waiting(wait);
    if decision == Decision::Won {
        won(setup, state, c, wait);
    }
}

/// A quorum of grants (`Acquirer::lease`): validity from the refused attempt's start,
/// then the lease, with the registered owner and the token that came with the grants
/// (one node) or none yet (several nodes: minted on demand if asked); validity spent:
/// the next attempt, which finds the granted keys its own.
fn won(setup: &Setup, state: &mut State, c: usize, wait: GrantWait) {
    // Broken on purpose: measured from the arrival of the grant that completed the quorum.
    let elapsed = if setup.grant_validity_from_arrival {
        0
    } else {
        wait.elapsed
    };
    let Some(left) = handoff::validity(setup.ttl_duration(), ticks(elapsed), setup.drift()) else {
        next_attempt(setup, state, c);
        return;
    };
    state.grant_won = true;
    // The lease's owner is the registered one: the client's next attempt's, which will
    // not be sent (the model numbers owners by attempt; releases, extends and the
    // validity check use the current attempt's). Not a reservation's win.
    state.clients[c].attempts = awaited(setup, state, c).attempt;
    state.handed &= !bit(c);
    // On several nodes the lease has no token yet: minted on demand when asked (an attempt
    // whose token is minted in the acquisition never registers).
    let token = (wait.fencing == Fencing::Script).then_some(wait.token);
    hold(setup, state, c, left, token);
}

/// Nothing won by hand-off: the next attempt, or, with none left (the model's bound on
/// attempts), the call gives up and leaves every queue.
fn next_attempt(setup: &Setup, state: &mut State, c: usize) {
    if state.clients[c].attempts < setup.attempts {
        state.clients[c].phase = Phase::Backoff;
    } else {
        give_up(setup, state, c);
    }
}

/// The call's wait runs out while it waits for grants: it leaves every queue (the
/// release of `leaves_on_give_up`, whose "leave" also frees a key granted to the owner
/// its entry registered).
pub fn give_up(setup: &Setup, state: &mut State, c: usize) {
    leave(setup, state, c);
    state.clients[c].phase = Phase::Idle;
}

/// One tick passes while the client waits for grants: the attempt's time runs on
/// (capped at the TTL: past it no validity is left).
pub fn tick(setup: &Setup, wait: &mut GrantWait) {
    wait.elapsed = (wait.elapsed + 1).min(setup.ttl);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_payload_is_read_back_by_the_library() {
        let owner = Owner {
            client: 1,
            seq: 2,
            attempt: 3,
        };
        let published = Published {
            owner,
            node: 0,
            token: 7,
            marker_ms: -1,
        };
        let payload = crate::node::payload(&published);
        let Wake::Granted { waiter, grant } = handoff::parse(payload.as_bytes()) else {
            panic!("{payload:?} is not read as a grant");
        };
        assert_eq!(waiter, owner.waiter().name());
        assert_eq!(grant.owner, owner.name());
        assert_eq!((grant.token, grant.marker_age_ms), (7, None));
        let aged = Published {
            marker_ms: 3000,
            ..published
        };
        let payload = crate::node::payload(&aged);
        let Wake::Granted { grant, .. } = handoff::parse(payload.as_bytes()) else {
            panic!("{payload:?} is not read as a grant");
        };
        assert_eq!(grant.marker_age_ms, Some(3000));
    }
}
