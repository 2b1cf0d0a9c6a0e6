//! The stateright [`Model`]: what each step does to the state.
//!
//! The steps themselves, and which of them a state offers, are [`crate::actions`]'s; the
//! properties checked on every reachable state are [`crate::properties`]'s (both
//! re-exported here). What stays here is the step's effect: a node running a request
//! ([`crate::node`] for the scripts' rules, the reply handed to the client side), the
//! clock ticking everywhere, crashes and restarts, the grants delivered, and the
//! bookkeeping of the properties that needs to see a step happen (a release that hands
//! the lock to a waiter that left).

use redlease::redis::Value;
use stateright::{Model, Property};

pub use crate::actions::Action;
pub use crate::properties::{
    AT_ACQUISITION_AFTER_ON_DEMAND, EXTENDED, GRANTED, HANDED_OFF, HELD_BACK, MINTED_ON_DEMAND,
    MUTUAL_EXCLUSION, NO_DEPARTED, ON_DEMAND_AFTER_AT_ACQUISITION, ROLLING, SOME_LEASE,
    TOKENS_INCREASE, TOKENS_REAL_TIME, TRUSTED, TWO_LEASES, VALIDITY, validity_backed,
};

use crate::client::{self, Answer};
use crate::setup::{Restart, Setup};
use crate::state::{Client, Flights, MAX_NODES, MintStage, Node, Phase, Request, State, bit};
use crate::{holding, mint, node};

/// The protocol under one [`Setup`].
#[derive(Debug, Clone)]
pub struct Redlease {
    /// The bounds and switches.
    pub setup: Setup,
}

impl Redlease {
    /// The model of `setup`.
    pub fn new(setup: Setup) -> Self {
        assert!(
            (1..=8).contains(&setup.nodes),
            "node masks are u8: 1 to 8 nodes"
        );
        Redlease { setup }
    }

    /// Whether the head of channel (c, i) is a request whose reply the client waits for.
    pub(crate) fn reply_awaited(&self, state: &State, c: usize, i: usize, position: usize) -> bool {
        match (state.flights.get(c, i, position), &state.clients[c].phase) {
            (Some(Request::Acquire { current: true, .. }), Phase::Voting(round)) => {
                round.waiting() & bit(i) != 0
            }
            (Some(Request::Fence { current: true, .. }), Phase::Fencing(round)) => {
                round.waiting & bit(i) != 0
            }
            (Some(Request::Extend { current: true, .. }), Phase::Extending(round)) => {
                round.waiting & bit(i) != 0
            }
            (Some(Request::FenceRead { current: true, .. }), Phase::Minting(round)) => {
                matches!(round.stage, MintStage::Reading(_)) && round.waiting & bit(i) != 0
            }
            (Some(Request::Fence { current: true, .. }), Phase::Minting(round)) => {
                matches!(round.stage, MintStage::Recording { .. }) && round.waiting & bit(i) != 0
            }
            _ => false,
        }
    }

    /// Node `i` runs the request at `position` of client `c`'s channel (0: the oldest);
    /// returns the reply for the client, if it waits for one. A release that hands off
    /// reserves the lock for the `pick`-th of the tied first waiters.
    fn run(
        &self,
        state: &mut State,
        c: usize,
        i: usize,
        position: usize,
        pick: usize,
    ) -> Option<Value> {
        let awaited = self.reply_awaited(state, c, i, position);
        let request = state.flights.take(c, i, position)?;
        let now = state.now;
        let node = &mut state.nodes[i];
        let reply = match request {
            Request::Acquire {
                owner,
                current,
                role,
                waited,
                fence,
                mint,
                next,
            } => {
                let reserved = node.handoff.is_some();
                let asked = node::Asked {
                    role,
                    waited,
                    fencing: fence,
                    mint,
                    next,
                };
                let reply = node::acquire(&self.setup, node, owner, now, asked);
                if reserved && node.handoff.is_none() && current {
                    state.handed |= bit(c);
                }
                Some(reply)
            }
            Request::Fence { owner, token, .. } => Some(node::fence(node, owner, token)),
            Request::FenceRead { .. } => Some(node::fence_read(node, now)),
            Request::Extend { owner, ttl, .. } => Some(node::extend(node, owner, ttl)),
            Request::Release {
                owner,
                handoff,
                stay,
            } => {
                let request = (owner, handoff, stay);
                let released = node::release(&self.setup, node, i, now, request, pick);
                if let Some(waiter) = released.head
                    && self.departed(state, i, waiter)
                {
                    state.no_departed_reservation = false;
                }
                if let Some(grant) = released.grant {
                    crate::handoff::publish(state, grant);
                }
                if !stay && self.left_granted(state, i, owner.waiter()) {
                    state.no_departed_reservation = false;
                }
                None
            }
        };
        reply.filter(|_| awaited)
    }

    /// Whether `waiter` has left as far as node `i` can know: its call is over (a lease
    /// released, or given up), every request of that call has run on node `i`, and node
    /// `i` never misbehaved (a crash may lose the release that leaves; the entry then
    /// stays until it counts as gone, which `docs/protocol.md` accepts).
    fn departed(&self, state: &State, i: usize, waiter: crate::state::Waiter) -> bool {
        over_on(state, i, waiter) && state.faulty & bit(i) == 0
    }

    /// Whether the call of `waiter` is over and its last request on node `i` has run (a
    /// leave or a lease's release), yet node `i`'s lock is one a release granted to an
    /// attempt of that call: a lock handed to a waiter that left. Whatever node `i` did
    /// before (the release ran there, so nothing was lost).
    fn left_granted(&self, state: &State, i: usize, waiter: crate::state::Waiter) -> bool {
        let over = over_on(state, i, waiter);
        let granted = state.nodes[i]
            .lock
            .is_some_and(|lock| lock.granted && lock.owner.waiter() == waiter);
        over && granted
    }

    /// Deliver an answer (or a failed vote) from node `i` to client `c`'s current round.
    fn answer(&self, state: &mut State, c: usize, i: usize, answer: Answer) {
        match state.clients[c].phase {
            Phase::Voting(_) => client::on_acquire_answer(&self.setup, state, c, i, answer),
            Phase::Fencing(_) => client::on_fence_answer(&self.setup, state, c, i, answer),
            Phase::Extending(_) => holding::on_extend_answer(&self.setup, state, c, i, answer),
            Phase::Minting(_) => mint::on_mint_answer(&self.setup, state, c, i, answer),
            _ => {}
        }
    }
}

impl Model for Redlease {
    type State = State;
    type Action = Action;

    fn init_states(&self) -> Vec<State> {
        let (n, clients) = (self.setup.nodes, self.setup.clients);
        vec![State {
            nodes: vec![Node::fresh(); n],
            clients: vec![
                Client {
                    calls: 0,
                    attempts: 0,
                    floor: 0,
                    trusted: [None; MAX_NODES],
                    replaced: [None; MAX_NODES],
                    waited: 0,
                    call_fenced: false,
                    phase: Phase::Idle,
                };
                clients
            ],
            flights: Flights::default(),
            faulty: 0,
            last_token: 0,
            leases: 0,
            tokens_increase: true,
            tokens_follow_real_time: true,
            held_back_seen: false,
            trusted_seen: false,
            extended_seen: false,
            minted_on_demand_seen: false,
            last_on_demand: false,
            mixed_orders: 0,
            since_wipe: None,
            wiped: 0,
            now: 0,
            handed: 0,
            handoff_won: false,
            no_departed_reservation: true,
            published: Vec::new(),
            grant_won: false,
        }]
    }

    fn actions(&self, state: &State, actions: &mut Vec<Action>) {
        self.offered(state, actions);
    }

    fn next_state(&self, last: &State, action: Action) -> Option<State> {
        let mut state = last.clone();
        match action {
            Action::Tick => {
                state.faulty |= state.flights.busy_nodes();
                for node in &mut state.nodes {
                    node::tick(&self.setup, node);
                }
                for client in &mut state.clients {
                    client::tick(&self.setup, client);
                }
                if let Some(t) = state.since_wipe.as_mut() {
                    *t = (*t + 1).min(self.setup.ttl);
                }
                if self.setup.node_clocks {
                    state.now = next_clock(&self.setup, &state);
                }
            }
            Action::Begin(c) => {
                client::begin(&self.setup, &mut state, c, self.setup.fenced_acquire())
            }
            Action::BeginFenced(c) => client::begin(&self.setup, &mut state, c, true),
            Action::Run { client, node } => {
                if let Some(reply) = self.run(&mut state, client, node, 0, 0) {
                    self.answer(&mut state, client, node, Some(reply));
                }
            }
            Action::RunPick { client, node, pick } => {
                self.run(&mut state, client, node, 0, pick);
            }
            Action::Lapse(i) => state.nodes[i].handoff = None,
            Action::Deliver { client, node } => {
                crate::handoff::deliver(&self.setup, &mut state, client, node)
            }
            Action::GiveUp(c) => crate::handoff::give_up(&self.setup, &mut state, c),
            Action::Overtake {
                client,
                node,
                position,
            } => {
                state.faulty |= bit(node);
                if let Some(reply) = self.run(&mut state, client, node, position, 0) {
                    self.answer(&mut state, client, node, Some(reply));
                }
            }
            Action::RunReplyLost { client, node } => {
                state.faulty |= bit(node);
                self.run(&mut state, client, node, 0, 0);
            }
            Action::Timeout { client, node } => {
                state.faulty |= bit(node);
                self.answer(&mut state, client, node, None);
            }
            Action::Release(c) => holding::release(&self.setup, &mut state, c),
            Action::Extend(c, ttl) => holding::begin_extend(&self.setup, &mut state, c, ttl, false),
            Action::Renew(c) => {
                holding::begin_extend(&self.setup, &mut state, c, self.setup.ttl, true)
            }
            Action::Mint(c) => mint::begin_mint(&mut state, c),
            Action::Heal => state.faulty = 0,
            Action::Crash(i) => {
                state.faulty |= bit(i);
                state.nodes[i].down = Some(0);
                state.flights.clear_node(i);
            }
            Action::Restart(i, kind) => {
                let node = &mut state.nodes[i];
                node.down = None;
                match kind {
                    Restart::KeepData => {}
                    Restart::Wipe => {
                        *node = Node::fresh();
                        if self.setup.rolling {
                            state.since_wipe = Some(0);
                            state.wiped |= bit(i);
                        }
                    }
                    Restart::StaleSnapshot => {
                        node.lock = None;
                        node.handoff = None;
                    }
                }
            }
        }
        crate::handoff::forget_unread(&self.setup, &mut state);
        Some(state)
    }

    fn properties(&self) -> Vec<Property<Self>> {
        crate::properties::of(&self.setup)
    }
}

/// The node clocks one tick later: `now + clock_tick`, but never more than one tick above
/// the highest token or counter the state still holds, and never back.
///
/// This keeps the clock finite without a horizon, and it is exact for every decision:
/// clocks enter only through `fencing_token = max(max counter + 1, latest clock)` and
/// then only through comparisons and `max` with the counters and tokens held. Once the
/// clock is a tick above every value held (`m`), any new token is the clock itself,
/// above all of them, whether the clock reads `m + clock_tick` or a million ticks more:
/// stopping it there changes no comparison. Below that it runs exactly. A value that
/// falls (a counter wiped) never pulls the clock back. The state stores absolute
/// values (counters start from 0, the absent counter), so a library that ignored the
/// floor would be checked exactly too: its tokens restart from 1 after every copy of
/// a counter was lost, and the model sees that.
pub fn next_clock(setup: &Setup, state: &State) -> u64 {
    let held = state
        .nodes
        .iter()
        .map(|node| node.fence)
        .chain(state.flights.tokens())
        .chain(state.published.iter().map(|p| p.token))
        .chain(
            state
                .clients
                .iter()
                .filter_map(|client| match &client.phase {
                    Phase::Voting(round) => Some(round.read),
                    Phase::Fencing(round) => Some(round.token),
                    Phase::Waiting(wait) => Some(wait.token),
                    // Counters read (a node may have lost its copy since), or the token.
                    Phase::Minting(round) => match &round.stage {
                        MintStage::Reading(readings) => readings.iter().map(|r| r.0).max(),
                        MintStage::Recording { token, .. } => Some(*token),
                    },
                    _ => None,
                }),
        )
        .fold(state.last_token, u64::max);
    let tick = setup.clock_tick();
    state
        .now
        .saturating_add(tick)
        .min(state.now.max(held.saturating_add(tick)))
}

/// Whether the call of `waiter` is over and none of its requests to node `i` is still on
/// its way: what node `i` holds for it now is all it will ever hold.
fn over_on(state: &State, i: usize, waiter: crate::state::Waiter) -> bool {
    let c = usize::from(waiter.client);
    let client = &state.clients[c];
    let over = waiter.seq < client.calls || client.phase == Phase::Idle;
    let in_flight = state
        .flights
        .channel(c, i)
        .iter()
        .any(|&(_, r)| r.owner().seq == waiter.seq);
    over && !in_flight
}
