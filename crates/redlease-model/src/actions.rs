//! The steps the checker may take from a state: the [`Action`]s and which of them each
//! state offers.
//!
//! Steps are atomic and interleave freely: the clock ticks, a client begins an attempt or
//! releases, a node runs the oldest request of one client's channel (its reply reaching
//! the client at once, or being lost), a client times out on a node, a node crashes or
//! restarts. The fault budget is enforced here: only `max_faulty` distinct nodes may ever
//! crash, restart, lose a reply, hold a request across a tick, or be timed out on. The
//! others answer every request within the tick it was sent, which is what "answers within
//! the node timeout" means at this resolution. What each step does is
//! [`crate::model`]'s `next_state`; this file only says when it is possible, which is
//! where the model's bounds and fault budget live.

use crate::model::Redlease;
use crate::setup::{Mint, Restart};
use crate::state::{Client, Node, Phase, Request, State, bit};
use crate::{holding, mint, node};

/// One atomic step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// The clock advances one tick; keys whose TTL ran out expire.
    Tick,
    /// The client starts an `acquire` call, or its next attempt: fenced as the setup says
    /// ([`Setup::fenced_acquire`](crate::setup::Setup::fenced_acquire)); with
    /// [`Mint::Mixed`], the unfenced attempt.
    Begin(usize),
    /// With [`Mint::Mixed`] only: the client starts an `acquire` call, or its next
    /// attempt, that mints the token in the acquisition. Offered beside
    /// [`Action::Begin`], so that every attempt may go either way.
    BeginFenced(usize),
    /// The node runs the client's oldest request; the reply (if any) reaches the client.
    Run {
        /// The client.
        client: usize,
        /// The node.
        node: usize,
    },
    /// A faulty node runs a newer request of the client before older ones: requests sent
    /// on a new connection after the old one was dropped (two timeouts in a row) may
    /// overtake those still buffered on the old one. Only with
    /// [`Setup::reorder`](crate::setup::Setup::reorder).
    Overtake {
        /// The client.
        client: usize,
        /// The node.
        node: usize,
        /// Position in the channel of the request that runs first (1 or more).
        position: usize,
    },
    /// The node runs the client's oldest request, a lease's release whose first queue
    /// places tie, and reserves the lock for the `pick`-th of the tied waiters (`Run`
    /// takes the first): random waiter ids break real ties, either way.
    RunPick {
        /// The client.
        client: usize,
        /// The node.
        node: usize,
        /// Which of the tied waiters (1 or more).
        pick: usize,
    },
    /// The hand-off reservation on the node runs out (its window is under a tick).
    Lapse(usize),
    /// The grant by hand-off the node published for the client's attempt reaches the
    /// client, which waits for grants (pub/sub may also deliver it later, or never).
    Deliver {
        /// The client.
        client: usize,
        /// The node that published it.
        node: usize,
    },
    /// The call's wait runs out while it waits for grants after its last attempt (the
    /// model's bound): it gives up and leaves every queue.
    GiveUp(usize),
    /// The node runs the client's oldest request, but the reply is lost.
    RunReplyLost {
        /// The client.
        client: usize,
        /// The node.
        node: usize,
    },
    /// The client gives up waiting for the node (per-node timeout): a failed vote.
    Timeout {
        /// The client.
        client: usize,
        /// The node.
        node: usize,
    },
    /// The client leaves its critical section and releases.
    Release(usize),
    /// The holder calls `extend` to this ttl (ticks).
    Extend(usize, u8),
    /// The renewal task extends the client's lease by its ttl (when due).
    Renew(usize),
    /// The holder asks for its token, which its lease does not have yet: minted on
    /// demand ([`Mint::OnDemand`], or [`Mint::Mixed`] after an unfenced acquisition).
    Mint(usize),
    /// With rolling faults: the faulty node is sound again (every node up, the last
    /// wipe `max_ttl` old), so the next fault may hit any node.
    Heal,
    /// The node crashes; requests in flight to it are lost.
    Crash(usize),
    /// The node comes back.
    Restart(usize, Restart),
}

impl Redlease {
    /// Every step offered in `state` (`Model::actions`).
    pub(crate) fn offered(&self, state: &State, actions: &mut Vec<Action>) {
        let s = &self.setup;
        let late = state.faulty | state.flights.busy_nodes();
        if late.count_ones() as usize <= s.max_faulty {
            actions.push(Action::Tick);
        }
        for (c, client) in state.clients.iter().enumerate() {
            match &client.phase {
                Phase::Idle if client.calls < s.acquisitions => self.begins(c, None, actions),
                Phase::Backoff => self.begins(c, Some(client), actions),
                Phase::Waiting(_) => {
                    if client.attempts < s.attempts {
                        self.begins(c, Some(client), actions);
                    } else {
                        actions.push(Action::GiveUp(c));
                    }
                    let from = crate::handoff::deliverable(s, state, c);
                    actions.extend(
                        (0..s.nodes)
                            .filter(|&i| from & bit(i) != 0)
                            .map(|i| Action::Deliver { client: c, node: i }),
                    );
                }
                Phase::Holding(_) => {
                    actions.push(Action::Release(c));
                    if holding::may_extend(s, state, c) {
                        actions.extend(s.extend_ttls.iter().map(|&ttl| Action::Extend(c, ttl)));
                    }
                    if holding::renewal_due(s, state, c) {
                        actions.push(Action::Renew(c));
                    }
                    if mint::may_mint(state, c) {
                        actions.push(Action::Mint(c));
                    }
                }
                // Under the lease's operation lock: no release, extend or renewal.
                Phase::Minting(round) => self.timeouts(state, c, round.waiting, actions),
                Phase::Extending(round) => self.timeouts(state, c, round.waiting, actions),
                Phase::Voting(round) => self.timeouts(state, c, round.waiting(), actions),
                Phase::Fencing(round) => self.timeouts(state, c, round.waiting, actions),
                Phase::Idle => {}
            }
            for i in 0..s.nodes {
                if state.nodes[i].is_up() && state.flights.head(c, i).is_some() {
                    actions.push(Action::Run { client: c, node: i });
                    if let Some(Request::Release {
                        owner,
                        handoff,
                        stay,
                    }) = state.flights.head(c, i)
                    {
                        let tied = node::heads(s, &state.nodes[i], owner, handoff, stay).len();
                        actions.extend((1..tied).map(|pick| Action::RunPick {
                            client: c,
                            node: i,
                            pick,
                        }));
                    }
                    if self.reply_awaited(state, c, i, 0) && self.may_fault(state, i) {
                        actions.push(Action::RunReplyLost { client: c, node: i });
                    }
                    if s.reorder && self.may_fault(state, i) {
                        let queued = state.flights.channel(c, i).len();
                        actions.extend((1..queued).map(|position| Action::Overtake {
                            client: c,
                            node: i,
                            position,
                        }));
                    }
                }
            }
        }
        if self.may_heal(state) {
            actions.push(Action::Heal);
        }
        for (i, node) in state.nodes.iter().enumerate() {
            if node.handoff.is_some() {
                actions.push(Action::Lapse(i));
            }
            match node.down {
                None if self.may_fault(state, i) => actions.push(Action::Crash(i)),
                Some(down) if down >= s.min_down => {
                    actions.extend(s.restarts.iter().map(|&r| Action::Restart(i, r)));
                }
                _ => {}
            }
        }
    }

    /// Whether node `i` may misbehave now: it already has, or the budget allows one more.
    pub(crate) fn may_fault(&self, state: &State, i: usize) -> bool {
        state.faulty & bit(i) != 0 || (state.faulty.count_ones() as usize) < self.setup.max_faulty
    }

    /// Rolling faults: the faulty node's turn may end once every node is up and the last
    /// wipe is `max_ttl` old (A3: at most f nodes lost their data in any `max_ttl`).
    fn may_heal(&self, state: &State) -> bool {
        self.setup.rolling
            && state.faulty != 0
            && state.nodes.iter().all(Node::is_up)
            && state.since_wipe.is_none_or(|t| t >= self.setup.ttl)
    }
    /// The attempts client `c` may begin: as the setup says, or, with [`Mint::Mixed`],
    /// unfenced or fenced (with grants on, the next attempt of a call as the call chose,
    /// [`Client::call_fenced`]).
    fn begins(&self, c: usize, call: Option<&Client>, actions: &mut Vec<Action>) {
        if self.setup.mint != Mint::Mixed {
            actions.push(Action::Begin(c));
            return;
        }
        match call.filter(|_| self.setup.grants) {
            Some(client) if client.call_fenced => actions.push(Action::BeginFenced(c)),
            Some(_) => actions.push(Action::Begin(c)),
            None => actions.extend([Action::Begin(c), Action::BeginFenced(c)]),
        }
    }

    fn timeouts(&self, state: &State, c: usize, waiting: u8, actions: &mut Vec<Action>) {
        for i in 0..self.setup.nodes {
            if waiting & bit(i) != 0 && self.may_fault(state, i) {
                actions.push(Action::Timeout { client: c, node: i });
            }
        }
    }
}
