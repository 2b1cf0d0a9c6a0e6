//! The knobs of one model run, and what the model derives from them.
//!
//! Every bound that keeps the state space finite lives here (nodes, clients, clock
//! horizon, acquisitions and attempts per client, fault budget), next to the switches
//! that select which faults the environment may inject and which protocol features the
//! clients use. Keeping them in one plain struct lets the tests, `main` and anyone
//! exploring a variant say exactly what was checked. The named configurations
//! ([`Setup::ideal`] and the rest) are in [`crate::configs`].

use std::time::Duration;

use redlease::protocol;
use redlease::protocol::queue::Role;

use crate::state::{Fencing, Owner};

/// How long one tick of the model's clock stands for. Only ratios matter: the TTL and
/// `max_ttl` are whole ticks, the drift allowance and the delayed-restart slack are
/// computed by the library from durations and compared against ticks.
pub const TICK: Duration = Duration::from_secs(1);

/// What a restarting node keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Restart {
    /// Everything (AOF with `appendfsync always`): keys keep their absolute expiry.
    KeepData,
    /// Nothing (no persistence, or FLUSHALL): lock keys, fence counters and the marker
    /// are gone.
    Wipe,
    /// An old snapshot (RDB): the marker and the fence counters survive, the lock keys
    /// written since the snapshot do not. Off in every configuration the tests expect to
    /// be safe; see [`Setup::stale_snapshots`].
    StaleSnapshot,
}

/// How a lease gets its fencing token: the library's `fencing` switch and, on several
/// nodes, `Builder::token_at_acquire`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Mint {
    /// No tokens (a manager with fencing off): acquisitions are unfenced
    /// (`ops::acquire::Fencing::Off`).
    Off,
    /// Minted during the acquisition (`token_at_acquire(true)`, `Fencing::Client`): the
    /// attempt hears every node out, then a second round records the token on the
    /// granted nodes.
    AtAcquisition,
    /// Minted on demand (the library's default on several nodes): the acquisition is
    /// unfenced, and the holder mints its token later, once (`LeaseHandle::fencing_token`):
    /// read every node's counter and clock, then record the token on every node where the
    /// lock is still ours (`protocol::mint`).
    OnDemand,
    /// Either, chosen anew by every attempt ([`crate::model::Action::Begin`] for the
    /// unfenced acquisition, [`crate::model::Action::BeginFenced`] for the fenced one): the
    /// library's default on several nodes chooses per `acquire` call (`minting::choose`:
    /// in the acquisition where the resource's last lease was asked for its token, else
    /// on demand), so consecutive leases of one resource may mint either way. Every
    /// sequence of choices is explored, a superset of what that rule can pick. With
    /// [`Setup::grants`] the choice is per call, as in the library, whose calls register
    /// for grants or not by it.
    Mixed,
}

/// One model configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Setup {
    /// A short name for reports.
    pub name: &'static str,
    /// Number of Redis nodes (N).
    pub nodes: usize,
    /// Number of competing clients.
    pub clients: usize,
    /// Lease TTL in ticks. Every lease uses `max_ttl`'s worth: `ttl == max_ttl` is the
    /// worst case for delayed restart.
    pub ttl: u8,
    /// `acquire` calls per client (each with a fresh owner).
    pub acquisitions: u8,
    /// Attempts per `acquire` call (retries share the owner, as in the library).
    pub attempts: u8,
    /// Nodes that may misbehave during a run (crash, restart, lose or delay messages,
    /// be timed out by a client). The protocol's claims hold for at most `f = N - Q`.
    pub max_faulty: usize,
    /// Which restarts faulty nodes may do (crash without restart is always possible).
    pub restarts: Vec<Restart>,
    /// Ticks a crashed node stays down before it can restart. A restart that takes
    /// longer than the delayed-restart slack (`2 * node_timeout + 250 ms`, well under one
    /// tick) is one tick or more; 0 also covers FLUSHALL, which needs no restart at all.
    pub min_down: u8,
    /// Faulty nodes may run a client's requests out of order (see
    /// [`crate::model::Action::Overtake`]). Off in every configuration expected to be
    /// safe; see [`Setup::reordering`].
    pub reorder: bool,
    /// Whether and when leases get fencing tokens.
    pub mint: Mint,
    /// With [`Mint::OnDemand`] (or [`Mint::Mixed`], after an unfenced acquisition): mint
    /// rounds a holder may begin per lease (a round that ends unavailable leaves the lease
    /// held without a token; the next may try again).
    pub mints: u8,
    /// A deliberately broken mint, for the test that shows the properties would catch it:
    /// a recording round whose confirmations reach a quorum only after the lease's
    /// deadline counts as minted (the library's `protocol::mint::conclude` says expired).
    /// Never on in a configuration expected to be safe.
    pub mint_ignores_deadline: bool,
    /// Another deliberately broken mint: a node whose reading failed counts as one that
    /// read no counter and a clock of 0, so the read round no longer needs a quorum of
    /// answers (`protocol::mint::Reads::token` is then always `Some`). Never on in a
    /// configuration expected to be safe.
    pub mint_reads_any: bool,
    /// In-band delayed restart (marker ages, `held_back`).
    pub delayed_restart: bool,
    /// The library's drift factor; the deadline is `start + ttl - drift(ttl, factor)`.
    pub drift_factor: f64,
    /// The per-node timeout the library would use; only feeds `restart_slack`.
    pub node_timeout: Duration,
    /// TTLs (ticks, at most `ttl`) a holder may `extend` its lease to; a TTL shorter
    /// than what is left shortens the lease. Empty: no user extends.
    pub extend_ttls: Vec<u8>,
    /// User extends per lease.
    pub extends: u8,
    /// Renewal (keep-alive) at this fraction of the ttl, if on: periodic extends by the
    /// lease's ttl, scheduled by `protocol::renewal`.
    pub renewal: Option<f64>,
    /// Renewals per lease (the library's `max_renewals`, through
    /// `protocol::renewal::cap_reached`).
    pub max_renewals: u32,
    /// Faults accumulate over time: any node may misbehave, but only one at a time
    /// ([`crate::model::Action::Heal`] ends a node's turn once every node is up and the
    /// last wipe is `max_ttl` old), so nodes may be wiped one after the other, many
    /// times: assumption A3 of `docs/guarantees.md` with f = 1. Needs `max_faulty` 1.
    pub rolling: bool,
    /// Nodes have clocks: `acquire.lua` reports the node's time, the floor of the next
    /// fencing token (see [`Setup::clock_tick`] and [`crate::model::next_clock`]). Off,
    /// every node reports 0: the counters alone must keep the tokens in order.
    pub node_clocks: bool,
    /// How long each `acquire` call may wait (the model's calls give up after
    /// `attempts`; this only decides, through `protocol::queue::Role::of_call`, whether a
    /// refused call joins the wait queues). Zero: `try_acquire`.
    pub wait: Duration,
    /// The hand-off window a lease's release reserves the lock for the longest live
    /// waiter (the library's `handoff`, under a tick); zero turns hand-off and the queue
    /// off.
    pub handoff: Duration,
    /// The library's `wake_up_fallback`: with the node timeout it sets when a queued
    /// waiter that has not tried again counts as gone (`retry::waiter_gone_after`).
    pub wake_up_fallback: Duration,
    /// Queue places are kept up to this many ticks; places at the cap tie, and a tie may
    /// go either way. 0 keeps no order at all, which is exact while at most one other
    /// waiter can be queued (two clients: a releasing holder leaves the queue first).
    pub place_cap: u8,
    /// The grant in one round (`protocol::handoff`): every refusal of a call that waits
    /// registers the owner of the call's next attempt (`acquire.lua`'s `ARGV[10]`), a
    /// lease's release sets the lock to the head's registered owner and publishes the
    /// grant, and a waiter counts the grants for the owner its last attempt registered.
    /// The library registers from the second refusal of a call (once it listens) when
    /// wake-ups are on, `min_replicas` is 0 and the token is not minted in the
    /// acquisition on several nodes; the model registers every such attempt (a call's
    /// first refusal included), which only offers more grants. Needs the queue (`handoff`
    /// not zero).
    pub grants: bool,
    /// Broken on purpose (never on where the tests expect safety): a lease won by hand-off
    /// measures its validity from the arrival of the grant that completed the quorum,
    /// instead of from the attempt's start (`handoff::validity(ttl, elapsed, drift)`).
    pub grant_validity_from_arrival: bool,
    /// Broken on purpose: a grant counts whatever its node's marker age (`handoff::counts`
    /// is asked with the age left out; the token check stays).
    pub grant_ignores_marker: bool,
    /// Broken on purpose: a caller's leave (the release of a call that gives up) frees
    /// only its last attempt's key, not one a release granted to the owner its entry
    /// registered (`release.lua`'s check of the registration on "leave"): that owner's
    /// attempt will not come.
    pub grant_leave_keeps_registered: bool,
    /// The first version of the grant, kept to document its counterexample (never on
    /// where the tests expect safety): a refusal registers the refused attempt's own
    /// owner instead of the next attempt's, a later attempt of the call takes over a key
    /// set to the owner its entry registered (the first version's take-over in
    /// `acquire.lua`), every release of the caller frees such a key, a failed attempt's
    /// clean-up ("stay") included, and the waiter counts the grants for the refused
    /// attempt's owner, its lease having that owner. The clean-up may then delete a grant
    /// the waiter counts (`tests/handoff.rs`).
    pub grant_registers_refused_owner: bool,
    /// The rule before the model's finding (model-only): a failed attempt's clean-up that
    /// keeps the place ("stay") drops the entry's registration even while the key holds
    /// the registered owner (a release granted it, and this clean-up does not free it);
    /// the call's end, finding no registration, then leaves that key held for nobody
    /// until its ttl runs out (`tests/handoff.rs`). The library keeps it.
    pub grant_stay_drops_granted: bool,
}

impl Setup {
    /// Whether leases get fencing tokens at all (the token properties are checked).
    pub fn fencing(&self) -> bool {
        self.mint != Mint::Off
    }

    /// Whether an attempt begun by [`crate::model::Action::Begin`] mints the token in the
    /// acquisition (`AttemptRules::fencing`, and the acquire script's `ARGV[5]` "fence"
    /// rather than ""): only with [`Mint::AtAcquisition`]. With [`Mint::Mixed`],
    /// [`crate::model::Action::BeginFenced`] begins the fenced one.
    pub fn fenced_acquire(&self) -> bool {
        self.mint == Mint::AtAcquisition
    }

    /// Whether a lease whose acquisition was unfenced may mint its token later:
    /// [`Mint::OnDemand`] and [`Mint::Mixed`].
    pub fn mints_on_demand(&self) -> bool {
        matches!(self.mint, Mint::OnDemand | Mint::Mixed)
    }

    /// Where an attempt's token comes from (`minting::choose`): the one node mints it with
    /// the grant whenever fencing is on (N = 1); on several nodes, the client mints it in
    /// the acquisition if the attempt is `fenced`, else nobody does now.
    pub fn fencing_of(&self, fenced: bool) -> Fencing {
        match (self.nodes, self.mint, fenced) {
            (_, Mint::Off, _) => Fencing::Off,
            (1, _, _) => Fencing::Script,
            (_, _, true) => Fencing::Client,
            (_, _, false) => Fencing::Off,
        }
    }

    /// Whether a refused attempt whose token comes from `fencing` registers for a grant by
    /// hand-off (`ARGV[10]` not "", `acquire/`'s `grants`): grants are on, the call
    /// waits in the queue, and the token is not minted from every node's counter in the
    /// acquisition (`Fencing::Client`: such a call keeps the reservation).
    pub fn registers(&self, fencing: Fencing) -> bool {
        self.grants && self.role() == Role::Wait && fencing != Fencing::Client
    }

    /// The owner a refusal of `owner`'s attempt registers for a grant by hand-off, and
    /// whose grants its waiter counts: the call's next attempt's
    /// ([`Owner::next`]), or the refused attempt's own with
    /// [`Setup::grant_registers_refused_owner`] (the first version).
    pub fn registered_owner(&self, owner: Owner) -> Owner {
        if self.grant_registers_refused_owner {
            owner
        } else {
            owner.next()
        }
    }

    /// Whether some attempt registers (the example of a lease won by grants is expected).
    pub fn some_attempt_registers(&self) -> bool {
        [false, true]
            .iter()
            .any(|&fenced| self.offers(fenced) && self.registers(self.fencing_of(fenced)))
    }

    /// Whether some attempt does not register (with the queue: a reservation is expected).
    pub fn some_attempt_reserves(&self) -> bool {
        [false, true]
            .iter()
            .any(|&fenced| self.offers(fenced) && !self.registers(self.fencing_of(fenced)))
    }

    /// Whether attempts begin `fenced` ([`crate::model::Action::BeginFenced`]) or not
    /// ([`crate::model::Action::Begin`]) in this setup.
    fn offers(&self, fenced: bool) -> bool {
        self.mint == Mint::Mixed || fenced == self.fenced_acquire()
    }

    /// The queue's role for every call: `protocol::queue::Role::of_call`.
    pub fn role(&self) -> Role {
        Role::of_call(self.wait, self.handoff)
    }

    /// Whether a queue entry last refreshed `seen` ticks ago still counts: `release.lua`
    /// keeps it while `now - seen <= waiter_gone_after` (node clocks tick exactly).
    pub fn live(&self, seen: u8) -> bool {
        ticks(seen) <= protocol::retry::waiter_gone_after(self.wake_up_fallback, self.node_timeout)
    }

    /// Whether a registration `seen` ticks old is still good for a grant (`release.lua`'s
    /// `ARGV[12]`: [`protocol::handoff::registration_fresh_for`]); an older one gets a
    /// reservation. (The entry's `seen` is its registration's age: a refusal writes both,
    /// and a clean-up that refreshes `seen` drops the registration or keeps a granted one,
    /// which no release hands over again.)
    pub fn registration_fresh(&self, seen: u8) -> bool {
        ticks(seen)
            <= protocol::handoff::registration_fresh_for(self.wake_up_fallback, self.node_timeout)
    }

    /// `seen` ages are kept up to the first age that no longer counts.
    pub fn seen_cap(&self) -> u8 {
        (0..u8::MAX).find(|&t| !self.live(t)).unwrap_or(u8::MAX)
    }

    /// Whether every node that restarts keeps its data: only then must a quorum of keys
    /// back every valid lease (with wipes, delayed restart protects it instead).
    pub fn keeps_data(&self) -> bool {
        self.restarts.iter().all(|&r| r == Restart::KeepData)
    }

    /// How far a node clock advances in one tick, in token units (the library's µs): more
    /// than the number of tokens the whole run can mint, so that, as with real clocks
    /// (a million µs a second, each token a round trip or more), no chain of `counter + 1`
    /// increments within one tick can reach the next tick's clock.
    pub fn clock_tick(&self) -> u64 {
        let leases = self.clients * usize::from(self.acquisitions) * usize::from(self.attempts);
        let per_lease = match self.mint {
            // The one node mints with each grant, and a release with each grant by
            // hand-off (at most one per registration).
            _ if self.nodes == 1 => 2,
            Mint::OnDemand | Mint::Mixed => usize::from(self.mints.max(1)),
            Mint::Off | Mint::AtAcquisition => 1,
        };
        let mints = leases * per_lease;
        u64::try_from(mints).unwrap_or(u64::MAX - 1) + 1
    }

    /// Quorum of this setup.
    pub fn quorum(&self) -> usize {
        protocol::quorum(self.nodes)
    }

    /// Lease TTL as a duration.
    pub fn ttl_duration(&self) -> Duration {
        TICK * u32::from(self.ttl)
    }

    /// The drift allowance the library computes for this TTL.
    pub fn drift(&self) -> Duration {
        protocol::drift(self.ttl_duration(), self.drift_factor)
    }

    /// The delayed-restart slack the library computes from the node timeout.
    pub fn slack(&self) -> Duration {
        protocol::restart_slack(self.node_timeout)
    }

    /// Marker ages are kept up to this many ticks. Any age `a < max_ttl` that can be held
    /// back satisfies `a + slack < max_ttl + slack <= cap`, so an oldest age at or past
    /// the cap holds a young node back exactly as any larger age would, and a node that
    /// old is never held back itself: larger ages change no decision.
    pub fn age_cap(&self) -> u8 {
        let slack_ticks = self.slack().as_nanos().div_ceil(TICK.as_nanos());
        self.ttl
            .saturating_add(u8::try_from(slack_ticks).unwrap_or(u8::MAX))
    }
}

/// `ticks` of the model clock as a duration.
pub fn ticks(ticks: u8) -> Duration {
    TICK * u32::from(ticks)
}
