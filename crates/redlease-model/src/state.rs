//! The global state the checker explores: the clock, every node, every client and the
//! requests in flight.
//!
//! Everything is small and hashable, because the checker stores a fingerprint of every
//! state it has seen. There is no absolute clock: every time is kept relative to now (a
//! key's TTL left, a marker's age, a round's elapsed time, a lease's validity left) and
//! capped where larger values can no longer change a decision. States that differ only
//! in when they happened are therefore one state, the state space is finite without a
//! horizon, and the check covers runs of any length.
//!
//! This file holds the state itself and what lives on a node (lock, queue entries); what
//! travels between clients and nodes is in [`crate::messages`], and what a client is
//! doing (its phase and the local variables of each round) in [`crate::phase`]. Both are
//! re-exported here, so `state::Request` or `state::Phase` name them as before.

pub use crate::messages::{Flights, Published, Request};
pub use crate::phase::{
    ExtendRound, FenceRound, Fencing, GrantWait, Lease, MintRound, MintStage, Phase, VoteRound,
};

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

    /// The owner value as the scripts and the hand-off message carry it (the library's
    /// are random strings without spaces; these are unique per attempt too).
    pub fn name(self) -> String {
        format!("o{}.{}.{}", self.client, self.seq, self.attempt)
    }

    /// The owner of the same call's next attempt: chosen before this one is sent (the
    /// library's `attempt_target` draws it ahead), so this attempt's refusals can register
    /// it for a grant by hand-off.
    pub fn next(self) -> Owner {
        Owner {
            attempt: self.attempt.saturating_add(1),
            ..self
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

impl Waiter {
    /// The waiter id as the scripts and the hand-off message carry it.
    pub fn name(self) -> String {
        format!("w{}.{}", self.client, self.seq)
    }
}

/// What a refused attempt registered for a grant by hand-off (`acquire.lua` with
/// `ARGV[10]`): the `seen` entry's `"<ms> <owner> <ttl> <m|->"` after the time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Registration {
    /// The owner a release sets the lock to: the call's next attempt's (`ARGV[10]`), or,
    /// with [`crate::setup::Setup::grant_registers_refused_owner`] (the first version),
    /// the refused attempt's own.
    pub owner: Owner,
    /// The refused attempt's ttl in ticks (`ARGV[2]`): the key's TTL when a release sets
    /// it.
    pub ttl: u8,
    /// `m`: the one node mints the token with the grant (`ARGV[5]` "mint").
    pub mint: bool,
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
    /// What its last registering refusal registered for a grant by hand-off, if any
    /// (`seen`'s suffix); dropped by a clean-up that stays, replaced by the next refusal
    /// (a refusal that does not register drops it too: `HSET seen <ms>`).
    pub registered: Option<Registration>,
}

/// A lock key on a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Lock {
    /// Who holds it.
    pub owner: Owner,
    /// Ticks until it expires (at least 1: a key whose TTL ran out is deleted).
    pub left: u8,
    /// Set by a release's grant by hand-off to the owner a waiter registered (not by the
    /// owner's own acquire): bookkeeping for `no reservation or grant for a waiter that
    /// left`, no script reads it.
    pub granted: bool,
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
    /// With [`crate::setup::Mint::Mixed`] and grants on, whether the current call mints in
    /// the acquisition: the library chooses once per call (`minting::choose`), and
    /// whether its attempts register depends on it, so its attempts keep the choice
    /// (without grants each attempt chooses anew, a superset). False otherwise.
    pub call_fenced: bool,
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
    /// False once a release on a node that never misbehaved reserved the lock for, or
    /// granted it to, a waiter that had left (its call over and every request of it run
    /// there), or once a call's last release (a leave or a lease's release) left a lock
    /// granted by hand-off to one of its attempts.
    pub no_departed_reservation: bool,
    /// Grants by hand-off published and not yet delivered, sorted (client, then node):
    /// only those for an attempt its client still votes or waits on are kept (the
    /// library drops the others unread, `Subscription::grants_for`).
    pub published: Vec<Published>,
    /// Some lease was won by a grant in one round (an example).
    pub grant_won: bool,
}

/// Most nodes a model can have (node sets are `u8` masks).
pub const MAX_NODES: usize = 8;

/// Bit of node `i` in a mask.
pub fn bit(i: usize) -> u8 {
    1 << i
}
