//! The stateright [`Model`]: which steps the environment and the clients may take, and the
//! properties checked on every reachable state.
//!
//! Steps are atomic and interleave freely: the clock ticks, a client begins an attempt or
//! releases, a node runs the oldest request of one client's channel (its reply reaching
//! the client at once, or being lost), a client times out on a node, a node crashes or
//! restarts. The fault budget is enforced here: only `max_faulty` distinct nodes may ever
//! crash, restart, lose a reply, hold a request across a tick, or be timed out on. The
//! others answer every request within the tick it was sent, which is what "answers within
//! the node timeout" means at this resolution.

use stateright::{Model, Property};

use crate::client::{self, Answer};
use crate::setup::{Mint, Restart, Setup, ticks};
use crate::state::{Client, Flights, MAX_NODES, MintStage, Node, Phase, Request, State, bit};
use crate::{mint, node};

/// The protocol under one [`Setup`].
#[derive(Debug, Clone)]
pub struct Redlease {
    /// The bounds and switches.
    pub setup: Setup,
}

/// One atomic step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// The clock advances one tick; keys whose TTL ran out expire.
    Tick,
    /// The client starts an `acquire` call, or its next attempt: fenced as the setup says
    /// ([`Setup::fenced_acquire`]); with [`Mint::Mixed`], the unfenced attempt.
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
    /// overtake those still buffered on the old one. Only with [`Setup::reorder`].
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
pub const NO_DEPARTED: &str = "no reservation for a waiter that left";
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

impl Redlease {
    /// The model of `setup`.
    pub fn new(setup: Setup) -> Self {
        assert!(
            (1..=8).contains(&setup.nodes),
            "node masks are u8: 1 to 8 nodes"
        );
        Redlease { setup }
    }

    /// Whether node `i` may misbehave now: it already has, or the budget allows one more.
    fn may_fault(&self, state: &State, i: usize) -> bool {
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

    /// Whether the head of channel (c, i) is a request whose reply the client waits for.
    fn reply_awaited(&self, state: &State, c: usize, i: usize, position: usize) -> bool {
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
            } => {
                let reserved = node.handoff.is_some();
                let reply = node::acquire(&self.setup, node, owner, now, role, waited, fence);
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
                let head = node::release(&self.setup, node, owner, handoff, stay, pick);
                if let Some(waiter) = head
                    && self.departed(state, i, waiter)
                {
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
        let c = usize::from(waiter.client);
        let client = &state.clients[c];
        let over = waiter.seq < client.calls || client.phase == Phase::Idle;
        let in_flight = state
            .flights
            .channel(c, i)
            .iter()
            .any(|&(_, r)| r.owner().seq == waiter.seq);
        over && !in_flight && state.faulty & bit(i) == 0
    }

    /// Deliver an answer (or a failed vote) from node `i` to client `c`'s current round.
    fn answer(&self, state: &mut State, c: usize, i: usize, answer: Answer) {
        match state.clients[c].phase {
            Phase::Voting(_) => client::on_acquire_answer(&self.setup, state, c, i, answer),
            Phase::Fencing(_) => client::on_fence_answer(&self.setup, state, c, i, answer),
            Phase::Extending(_) => client::on_extend_answer(&self.setup, state, c, i, answer),
            Phase::Minting(_) => mint::on_mint_answer(&self.setup, state, c, i, answer),
            _ => {}
        }
    }
}

use redlease::redis::Value;

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
        }]
    }

    fn actions(&self, state: &State, actions: &mut Vec<Action>) {
        let s = &self.setup;
        let late = state.faulty | state.flights.busy_nodes();
        if late.count_ones() as usize <= s.max_faulty {
            actions.push(Action::Tick);
        }
        for (c, client) in state.clients.iter().enumerate() {
            match &client.phase {
                Phase::Idle if client.calls < s.acquisitions => self.begins(c, actions),
                Phase::Backoff => self.begins(c, actions),
                Phase::Holding(_) => {
                    actions.push(Action::Release(c));
                    if client::may_extend(s, state, c) {
                        actions.extend(s.extend_ttls.iter().map(|&ttl| Action::Extend(c, ttl)));
                    }
                    if client::renewal_due(s, state, c) {
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
            Action::Release(c) => client::release(&self.setup, &mut state, c),
            Action::Extend(c, ttl) => client::begin_extend(&self.setup, &mut state, c, ttl, false),
            Action::Renew(c) => {
                client::begin_extend(&self.setup, &mut state, c, self.setup.ttl, true)
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
        Some(state)
    }

    fn properties(&self) -> Vec<Property<Self>> {
        let mut properties = vec![
            Property::always(MUTUAL_EXCLUSION, |_, state: &State| {
                (0..state.clients.len())
                    .filter(|&c| client::holds_valid(state, c))
                    .count()
                    <= 1
            }),
            Property::sometimes(SOME_LEASE, |_, state: &State| state.leases >= 1),
            Property::sometimes(TWO_LEASES, |_, state: &State| state.leases >= 2),
        ];
        if self.setup.fencing() {
            properties.push(Property::always(TOKENS_INCREASE, |_, state: &State| {
                state.tokens_increase
            }));
            properties.push(Property::always(TOKENS_REAL_TIME, |_, state: &State| {
                state.tokens_follow_real_time
            }));
        }
        if self.setup.mints_on_demand() {
            properties.push(Property::sometimes(MINTED_ON_DEMAND, |_, state: &State| {
                state.minted_on_demand_seen
            }));
        }
        if self.setup.mint == Mint::Mixed {
            properties.push(Property::sometimes(
                AT_ACQUISITION_AFTER_ON_DEMAND,
                |_, state: &State| state.mixed_orders & 1 != 0,
            ));
            properties.push(Property::sometimes(
                ON_DEMAND_AFTER_AT_ACQUISITION,
                |_, state: &State| state.mixed_orders & 2 != 0,
            ));
        }
        if self.setup.keeps_data() {
            properties.push(Property::always(VALIDITY, |model: &Self, state: &State| {
                validity_backed(&model.setup, state)
            }));
        }
        if self.setup.extends > 0 || self.setup.renewal.is_some() {
            properties.push(Property::sometimes(EXTENDED, |_, state: &State| {
                state.extended_seen
            }));
        }
        if self.setup.rolling {
            properties.push(Property::sometimes(
                ROLLING,
                |model: &Self, state: &State| {
                    state.wiped.count_ones() as usize == model.setup.nodes
                },
            ));
        }
        if !self.setup.handoff.is_zero() {
            properties.push(Property::always(NO_DEPARTED, |_, state: &State| {
                state.no_departed_reservation
            }));
            properties.push(Property::sometimes(HANDED_OFF, |_, state: &State| {
                state.handoff_won
            }));
        }
        if self.setup.delayed_restart && self.setup.restarts.contains(&Restart::Wipe) {
            properties.push(Property::sometimes(HELD_BACK, |_, state: &State| {
                state.held_back_seen
            }));
            // A manager trusts markers from a complete round, for its *later* rounds.
            if self.setup.attempts > 1 || self.setup.acquisitions > 1 {
                properties.push(Property::sometimes(TRUSTED, |_, state: &State| {
                    state.trusted_seen
                }));
            }
        }
        properties
    }
}

impl Redlease {
    /// The attempts client `c` may begin: as the setup says, or, with [`Mint::Mixed`],
    /// unfenced or fenced.
    fn begins(&self, c: usize, actions: &mut Vec<Action>) {
        actions.push(Action::Begin(c));
        if self.setup.mint == Mint::Mixed {
            actions.push(Action::BeginFenced(c));
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
        .chain(
            state
                .clients
                .iter()
                .filter_map(|client| match &client.phase {
                    Phase::Voting(round) => Some(round.read),
                    Phase::Fencing(round) => Some(round.token),
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

/// "Validity never lies": every client that holds a valid lease by its settled deadline
/// (time left, no extend in flight) is backed by a quorum of nodes whose key holds its owner with at
/// least that much TTL left.
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
        let owner = client::owner(state, c);
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
