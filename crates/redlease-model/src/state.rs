//! The global state the checker explores: the clock, every node, every client and the
//! requests in flight.
//!
//! Everything is small and hashable, because the checker stores a fingerprint of every
//! state it has seen. There is no absolute clock: every time is kept relative to now (a
//! key's TTL left, a marker's age, a round's elapsed time, a lease's validity left) and
//! capped where larger values can no longer change a decision. States that differ only
//! in when they happened are therefore one state, the state space is finite without a
//! horizon, and the check covers runs of any length.

use std::time::Duration;

use redlease::protocol::queue::Role;
use redlease::protocol::{Attempt, NodeVote, Tally};

/// The owner value of one acquisition attempt: which client, which of its calls, which
/// attempt of that call. Unique per attempt, as in the library (a late clean-up of one
/// attempt must never delete the next attempt's grant).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Owner {
    /// The client.
    pub client: u8,
    /// Which of the client's `acquire` calls (1-based).
    pub seq: u8,
    /// Which attempt of that call (1-based).
    pub attempt: u8,
}

impl Owner {
    /// The waiter id of the call this attempt belongs to.
    pub fn waiter(self) -> Waiter {
        Waiter {
            client: self.client,
            seq: self.seq,
        }
    }
}

/// A waiter id in the wait queue: one per `acquire` call, shared by its attempts (the
/// library's `Target::waiter`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Waiter {
    /// The client.
    pub client: u8,
    /// Which of the client's `acquire` calls.
    pub seq: u8,
}

/// A waiter's entry in a node's wait queue (`acquire.lua`'s `queue` zset and `seen`
/// hash, for one resource).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Entry {
    /// Ticks since its place: the zset score is the node's clock minus how long the
    /// waiter had waited when it was queued, so this is how long it has waited by the
    /// node's count. Capped at [`crate::setup::Setup::place_cap`]: entries at the cap
    /// are tied, and a tie may go either way (as random waiter ids break real ties).
    pub since: u8,
    /// Ticks since its last refused attempt (`seen`), capped one past the point where a
    /// release counts the waiter as gone.
    pub seen: u8,
    /// Whose entry.
    pub waiter: Waiter,
}

/// A lock key on a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Lock {
    /// Who holds it.
    pub owner: Owner,
    /// Ticks until it expires (at least 1: a key whose TTL ran out is deleted).
    pub left: u8,
}

/// One Redis node.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Node {
    /// `None` while up; while down, the ticks it has been down (capped at the setup's
    /// `min_down`, the only thing that matters).
    pub down: Option<u8>,
    /// The resource's lock key, if present and not expired.
    pub lock: Option<Lock>,
    /// The lock key as a hand-off reservation, `handoff:<waiter>`, instead of a lease
    /// (never both). Its window is shorter than a tick: gone at the next tick, or sooner.
    pub handoff: Option<Waiter>,
    /// The wait queue, in a canonical order (see [`Entry`] for the queue's own order).
    pub queue: Vec<Entry>,
    /// The resource's fencing counter (0 when absent).
    pub fence: u64,
    /// Age of the delayed-restart marker in ticks, if it exists. Capped (see
    /// [`crate::setup::Setup::age_cap`]): past the cap no decision depends on it.
    pub marker: Option<u8>,
}

impl Node {
    /// A node that has never been used.
    pub fn fresh() -> Self {
        Node::default()
    }

    /// Up and answering requests.
    pub fn is_up(&self) -> bool {
        self.down.is_none()
    }
}

/// A request on its way from a client to a node. Each (client, node) pair is one FIFO
/// channel: the library keeps one multiplexed connection per node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Request {
    /// `acquire.lua`. `current` is false once the client has moved on to another round:
    /// the node still runs it, but the reply is dropped.
    Acquire {
        /// Owner of the attempt.
        owner: Owner,
        /// Part of the client's current round.
        current: bool,
        /// Whether a refusal queues the caller (`ARGV[3]`).
        role: Role,
        /// Ticks the call has waited (`ARGV[4]`), capped like queue places.
        waited: u8,
        /// The acquisition mints the token (`ARGV[5]` "fence"): the script reads and
        /// returns the counter.
        fence: bool,
    },
    /// `fence.lua`.
    Fence {
        /// Owner of the attempt.
        owner: Owner,
        /// The token to record.
        token: u64,
        /// Part of the client's current round.
        current: bool,
    },
    /// `fence_read.lua`: the node's fencing counter and clock (the first round of a token
    /// minted on demand; read-only).
    FenceRead {
        /// Owner of the lease.
        owner: Owner,
        /// Part of the client's current round.
        current: bool,
    },
    /// `extend.lua` to `ttl` ticks.
    Extend {
        /// Owner of the lease.
        owner: Owner,
        /// The new TTL in ticks.
        ttl: u8,
        /// Part of the client's current round.
        current: bool,
    },
    /// `release.lua` (no reply is waited for: a lost release only delays others).
    Release {
        /// Owner whose key to delete.
        owner: Owner,
        /// A lease's release, with the hand-off window (not a failed attempt's clean-up).
        handoff: bool,
        /// Keep the waiter's place in the queue (`ARGV[8]` "stay").
        stay: bool,
    },
}

impl Request {
    /// Whose request it is (and so from which client).
    pub fn owner(&self) -> Owner {
        match *self {
            Request::Acquire { owner, .. }
            | Request::Fence { owner, .. }
            | Request::FenceRead { owner, .. }
            | Request::Extend { owner, .. }
            | Request::Release { owner, .. } => owner,
        }
    }

    /// The same request with its owner's client renamed.
    pub fn with_client(mut self, client: u8) -> Self {
        match &mut self {
            Request::Acquire { owner, .. }
            | Request::Fence { owner, .. }
            | Request::FenceRead { owner, .. }
            | Request::Extend { owner, .. }
            | Request::Release { owner, .. } => owner.client = client,
        }
        self
    }

    /// The same request, no longer part of the client's current round.
    pub fn stale(self) -> Self {
        match self {
            Request::Acquire {
                owner,
                role,
                waited,
                fence,
                ..
            } => Request::Acquire {
                owner,
                current: false,
                role,
                waited,
                fence,
            },
            Request::Fence { owner, token, .. } => Request::Fence {
                owner,
                token,
                current: false,
            },
            Request::FenceRead { owner, .. } => Request::FenceRead {
                owner,
                current: false,
            },
            Request::Extend { owner, ttl, .. } => Request::Extend {
                owner,
                ttl,
                current: false,
            },
            release @ Request::Release { .. } => release,
        }
    }
}

/// A client's acquire round in progress: the local variables of the library's
/// `Acquirer::attempt`, with the library's own [`Attempt`] deciding.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct VoteRound {
    /// Ticks since the round started (the library's `start.elapsed()`), capped at the
    /// TTL: past it no validity is left either way.
    pub elapsed: u8,
    /// The library's state machine of this attempt, fed every answer.
    pub attempt: Attempt,
    /// Marker ages reported in this round, by node, kept current as the clock ticks: the
    /// model's stand-in for the library's `seen_at` (it has no absolute clock), used to
    /// remember the markers the attempt's [`Outcome::trust`](redlease::protocol::Outcome)
    /// names.
    pub markers: [Option<u8>; MAX_NODES],
    /// The highest fence counter read in this round (the attempt keeps it too): a value
    /// the node clocks must not fall behind (see [`crate::model::next_clock`]).
    pub read: u64,
    /// The attempt mints the token in the acquisition (`Fencing::Client`: its rules say
    /// `fencing`, and a won vote is followed by the fencing round).
    pub fenced: bool,
}

impl VoteRound {
    /// Nodes whose answer has not been counted yet (bit mask).
    pub fn waiting(&self) -> u8 {
        let votes = self.attempt.votes();
        (0..votes.len())
            .filter(|&i| votes[i] == NodeVote::Pending)
            .fold(0, |mask, i| mask | bit(i))
    }
}

/// A client's fencing round in progress: the local variables of `record_token`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FenceRound {
    /// Ticks since the acquire round started: validity still counts from there.
    pub elapsed: u8,
    /// The token being recorded.
    pub token: u64,
    /// Granted nodes whose answer has not been counted yet (bit mask).
    pub waiting: u8,
    /// The confirmations so far ([`fence_tally`](redlease::protocol::attempt::fence_tally)).
    pub tally: Tally,
    /// Where a failure releases: the acquire outcome's `release_on` (bit mask).
    pub release_on: u8,
}

/// What a client is doing.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Phase {
    /// Between `acquire` calls (or done with all of them).
    Idle,
    /// Between two attempts of one `acquire` call.
    Backoff,
    /// Waiting for the nodes' answers to `acquire.lua`.
    Voting(VoteRound),
    /// Waiting for the nodes' answers to `fence.lua`.
    Fencing(FenceRound),
    /// Holds a lease (its critical section) until it releases.
    Holding(Lease),
    /// Holds a lease and waits for the answers to `extend.lua` (a user's extend or a
    /// renewal): the lease keeps its deadline meanwhile.
    Extending(ExtendRound),
    /// Holds a lease and mints its token on demand (`fence_read.lua`, then `fence.lua`),
    /// under the lease's operation lock: no extend, renewal or release meanwhile.
    Minting(MintRound),
}

/// A lease as its holder sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Lease {
    /// Time left until the deadline (`start + ttl - drift`, moved by extends), on the
    /// client's clock: valid while not zero.
    pub left: Duration,
    /// Ticks until the next renewal is due (the renewal task sleeps at least that long;
    /// it may run any time later).
    pub due: u8,
    /// User extends done on this lease.
    pub extended: u8,
    /// Renewals done on this lease (for `renewal::cap_reached`).
    pub renewals: u8,
    /// Mint rounds this lease may still begin ([`crate::setup::Setup::mints`]): 0 once
    /// it has a token, and always 0 unless tokens are minted on demand.
    pub mints: u8,
}

/// An extend round in progress: the local variables of `LeaseCore::extend`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ExtendRound {
    /// The lease, whose deadline still counts.
    pub lease: Lease,
    /// Ticks since the round started (capped at the TTL).
    pub elapsed: u8,
    /// The requested TTL in ticks.
    pub ttl: u8,
    /// A renewal (scheduled by `protocol::renewal`) rather than a user's extend.
    pub renewal: bool,
    /// Nodes whose answer has not been counted yet (bit mask).
    pub waiting: u8,
    /// The confirmations so far.
    pub tally: Tally,
}

/// A token minted on demand in progress: the local variables of
/// `LeaseCore::fencing_token` (`lease/mint.rs`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MintRound {
    /// The lease, whose deadline still counts (its time left runs down meanwhile).
    pub lease: Lease,
    /// Ticks since the mint began (capped at the TTL): the model's relative clock, whose
    /// zero is the mint's start, for `protocol::mint::conclude`.
    pub elapsed: u8,
    /// Nodes whose answer to the current round has not been counted yet (bit mask).
    pub waiting: u8,
    /// Which round.
    pub stage: MintStage,
}

/// The two rounds of a token minted on demand.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MintStage {
    /// `fence_read.lua` on every node: the readings `(counter, clock)` received so far,
    /// sorted. They go to the library's `protocol::mint::Reads` once every node answered
    /// or failed (its bookkeeping keeps only maxima and a count: the order in which it
    /// takes them changes nothing, and it is not `Ord`, which the model's states must be).
    Reading(Vec<(u64, u64)>),
    /// `fence.lua` with `token` on every node, the confirmations counted in `tally`.
    Recording {
        /// The token being recorded.
        token: u64,
        /// The confirmations so far (`Tally::new(n)`: every node is asked).
        tally: Tally,
    },
}

/// One client.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Client {
    /// `acquire` calls started so far; the current call's owner has this `seq`.
    pub calls: u8,
    /// Attempts made in the current call.
    pub attempts: u8,
    /// The highest token granted to anyone when the current attempt started: a token
    /// this attempt gets must be above it (real-time order).
    pub floor: u64,
    /// The marker this client's manager trusts on each node (`Node::trust_marker`), as
    /// the age it has now (capped like node markers): a young grant from a node whose
    /// marker is the trusted one counts at once.
    pub trusted: [Option<u8>; MAX_NODES],
    /// The marker each node showed in place of a trusted one (`MarkerTrust::replaced`),
    /// as the age it has now: proof that the node lost its data.
    pub replaced: [Option<u8>; MAX_NODES],
    /// Ticks the current call has waited (the library's `started.elapsed()`, sent as
    /// `waited_ms`), capped at [`crate::setup::Setup::place_cap`].
    pub waited: u8,
    /// What it is doing.
    pub phase: Phase,
}

/// The whole system.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct State {
    /// The nodes.
    pub nodes: Vec<Node>,
    /// The clients.
    pub clients: Vec<Client>,
    /// Requests in flight.
    pub flights: Flights,
    /// Nodes that have misbehaved so far (bit mask): crashed, restarted, lost or delayed
    /// a message, or were timed out by a client.
    pub faulty: u8,
    /// Highest fencing token of any lease granted so far.
    pub last_token: u64,
    /// Leases granted so far.
    pub leases: u8,
    /// False once a lease was granted a token not above every earlier lease's.
    pub tokens_increase: bool,
    /// False once a lease was granted a token not above one granted before its attempt
    /// started.
    pub tokens_follow_real_time: bool,
    /// Some grant was held back by delayed restart (for the non-vacuity checks).
    pub held_back_seen: bool,
    /// Some young grant counted at once because its marker was trusted (idem).
    pub trusted_seen: bool,
    /// Some extend or renewal moved a deadline (idem).
    pub extended_seen: bool,
    /// Some lease got a token minted on demand (idem).
    pub minted_on_demand_seen: bool,
    /// With [`crate::setup::Mint::Mixed`] (always false otherwise): whether the latest
    /// token recorded was minted on demand.
    pub last_on_demand: bool,
    /// With [`crate::setup::Mint::Mixed`] (always 0 otherwise), for the examples: bit 0,
    /// a token minted in the acquisition was recorded right after one minted on demand;
    /// bit 1, a token minted on demand right after one minted in the acquisition.
    pub mixed_orders: u8,
    /// With rolling wipes: ticks since the last node came back empty (capped at the
    /// TTL); `None` before the first, and always without rolling wipes.
    pub since_wipe: Option<u8>,
    /// With rolling wipes: nodes that came back empty at least once (bit mask, for the
    /// non-vacuity example); always 0 without.
    pub wiped: u8,
    /// Every node's clock, in token units (the library's µs; see
    /// [`crate::setup::Setup::clock_tick`]), kept finite by [`crate::model::next_clock`];
    /// always 0 without [`crate::setup::Setup::node_clocks`].
    pub now: u64,
    /// Clients whose current attempt took a hand-off reservation on some node (bit mask).
    pub handed: u8,
    /// Some lease was won with a grant that took a hand-off reservation (an example).
    pub handoff_won: bool,
    /// False once a release on a node that never misbehaved reserved the lock for a
    /// waiter that had left: its call over and every request of it run there.
    pub no_departed_reservation: bool,
}

/// Most nodes a model can have (node sets are `u8` masks).
pub const MAX_NODES: usize = 8;

/// Requests in flight, one FIFO channel per (client, node): the library keeps one
/// multiplexed connection per node. Stored flat, as (node, request) sorted by (client,
/// node) and oldest first within a channel, so that a state has one representation and
/// one allocation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Flights(Vec<(u8, Request)>);

fn key(entry: &(u8, Request)) -> (u8, u8) {
    (entry.1.owner().client, entry.0)
}

impl Flights {
    /// Channel (client `c`, node `i`), oldest first.
    pub fn channel(&self, c: usize, i: usize) -> &[(u8, Request)] {
        let k = (c as u8, i as u8);
        let start = self.0.partition_point(|e| key(e) < k);
        let end = self.0.partition_point(|e| key(e) <= k);
        &self.0[start..end]
    }

    /// The oldest request of channel (c, i).
    pub fn head(&self, c: usize, i: usize) -> Option<Request> {
        self.channel(c, i).first().map(|&(_, r)| r)
    }

    /// Append `request` (from its owner's client) to the channel to node `i`.
    pub fn push(&mut self, i: usize, request: Request) {
        let k = (request.owner().client, i as u8);
        let at = self.0.partition_point(|e| key(e) <= k);
        self.0.insert(at, (i as u8, request));
    }

    /// The request at `position` of channel (c, i) (0 is the oldest).
    pub fn get(&self, c: usize, i: usize, position: usize) -> Option<Request> {
        self.channel(c, i).get(position).map(|&(_, r)| r)
    }

    /// Remove and return the request at `position` of channel (c, i).
    pub fn take(&mut self, c: usize, i: usize, position: usize) -> Option<Request> {
        let k = (c as u8, i as u8);
        let at = self.0.partition_point(|e| key(e) < k) + position;
        (self.0.get(at).map(key) == Some(k)).then(|| self.0.remove(at).1)
    }

    /// The tokens of the `fence.lua` requests in flight.
    pub fn tokens(&self) -> impl Iterator<Item = u64> + '_ {
        self.0.iter().filter_map(|&(_, request)| match request {
            Request::Fence { token, .. } => Some(token),
            _ => None,
        })
    }

    /// Drop every request to node `i` (its connections broke).
    pub fn clear_node(&mut self, i: usize) {
        self.0.retain(|&(node, _)| usize::from(node) != i);
    }

    /// Nodes with requests queued (bit mask).
    pub fn busy_nodes(&self) -> u8 {
        self.0
            .iter()
            .fold(0, |mask, &(node, _)| mask | bit(node.into()))
    }

    /// Mark client `c`'s requests as no longer part of its current round.
    pub fn make_stale(&mut self, c: usize) {
        for entry in &mut self.0 {
            if usize::from(entry.1.owner().client) == c {
                entry.1 = entry.1.stale();
            }
        }
    }

    /// Rename clients (`client[old] = new`) and nodes (`node[old] = new`), keeping each
    /// channel's order.
    pub fn renamed(&self, client: &[u8], node: &[usize]) -> Self {
        let mut out: Vec<(u8, Request)> = self
            .0
            .iter()
            .map(|&(i, r)| {
                let c = client[usize::from(r.owner().client)];
                (node[usize::from(i)] as u8, r.with_client(c))
            })
            .collect();
        out.sort_by_key(key);
        Flights(out)
    }
}

/// Bit of node `i` in a mask.
pub fn bit(i: usize) -> u8 {
    1 << i
}
