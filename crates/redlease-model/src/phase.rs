//! What a client is doing: its [`Phase`], and the local variables of each round the
//! library runs (an acquire vote, the fencing round, an extend, a mint, a wait for
//! grants by hand-off), each kept as small as a decision needs.
//!
//! Apart from `state.rs` because these are the client side's working memory, mirroring
//! the library's locals in `Acquirer::attempt`, `record_token`, `LeaseCore::extend`,
//! `LeaseCore::fencing_token` and `handoff.rs`'s `handed_off`, while `state.rs` holds
//! what the nodes keep and the global bookkeeping of the properties.

use std::time::Duration;

use redlease::protocol::{Attempt, NodeVote, Tally};

use crate::state::{MAX_NODES, bit};

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
    /// Where the attempt's token comes from.
    pub fencing: Fencing,
}

/// Where an attempt's token comes from: the library's `ops::acquire::Fencing` (private
/// to it), as `minting::choose` picks it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Fencing {
    /// No token in the acquisition (fencing off, or minted on demand later).
    Off,
    /// Minted in the acquisition by the client (several nodes): its rules say
    /// `fencing`, and a won vote is followed by the fencing round.
    Client,
    /// Minted by the one node with the grant (N = 1): `ARGV[5]` "mint".
    Script,
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
    /// Between two attempts after a refusal that registered the attempt: waits for the
    /// grants by hand-off that releases publish for it ([`crate::handoff`]).
    Waiting(GrantWait),
}

/// A refused, registered attempt waited on: the library's `handoff::Waited` and the
/// [`Handoffs`](redlease::protocol::handoff::Handoffs) it counts (kept as the nodes
/// counted and the highest token, replayed into a `Handoffs` at each grant: it is not
/// `Ord`, which the model's states must be). The grants counted are those for the owner
/// the attempt registered, the call's next attempt's (`Waited::next`), which is a
/// function of the client's current attempt ([`crate::handoff::awaited`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GrantWait {
    /// Ticks since the attempt started (capped at the TTL): validity counts from there.
    pub elapsed: u8,
    /// Nodes whose grant counted (bit mask).
    pub granted: u8,
    /// The highest token the counted grants carried (one node, fenced), or 0.
    pub token: u64,
    /// Where the attempt's token was to come from.
    pub fencing: Fencing,
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
