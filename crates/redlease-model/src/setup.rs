//! The knobs of one model run, and the named configurations the tests check.
//!
//! Every bound that keeps the state space finite lives here (nodes, clients, clock
//! horizon, acquisitions and attempts per client, fault budget), next to the switches
//! that select which faults the environment may inject and which protocol features the
//! clients use. Keeping them in one plain struct lets the tests, `main` and anyone
//! exploring a variant say exactly what was checked.

use std::time::Duration;

use redlease::protocol;
use redlease::protocol::queue::Role;

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
    /// sequence of choices is explored, a superset of what that rule can pick.
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
    /// With [`Mint::OnDemand`] (or [`Mint::Mixed`], after an unfenced acquisition): mint rounds a holder may begin per lease (a round that
    /// ends unavailable leaves the lease held without a token; the next may try again).
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
}

impl Setup {
    /// The ideal protocol: crashes, restarts that keep their data, lost and delayed
    /// messages, all on at most `f` nodes; no delayed restart needed.
    pub fn ideal(nodes: usize) -> Self {
        Setup {
            name: "ideal",
            nodes,
            clients: 2,
            ttl: 3,
            acquisitions: 1,
            attempts: 2,
            max_faulty: nodes - protocol::quorum(nodes),
            restarts: vec![Restart::KeepData],
            min_down: 1,
            reorder: false,
            mint: Mint::AtAcquisition,
            mints: 1,
            mint_ignores_deadline: false,
            mint_reads_any: false,
            delayed_restart: false,
            // drift(3 s, 1/3) = 1.002 s: at least one tick, as the model's contract says.
            drift_factor: 1.0 / 3.0,
            node_timeout: Duration::from_millis(10),
            extend_ttls: Vec::new(),
            extends: 0,
            renewal: None,
            max_renewals: 0,
            rolling: false,
            node_clocks: false,
            wait: Duration::ZERO,
            handoff: Duration::ZERO,
            wake_up_fallback: Duration::from_secs(1),
            place_cap: 0,
        }
    }

    /// The ideal protocol, and the holder extends: once to the full ttl (which, measured
    /// from the extend's start, lengthens the lease) and is renewed once, at a third of
    /// the ttl, as the library's default renewal does. Every property must hold,
    /// validity never lying included.
    pub fn extending(nodes: usize) -> Self {
        Setup {
            name: "extend and renewal",
            acquisitions: 1,
            attempts: 1,
            extend_ttls: vec![3],
            extends: 1,
            renewal: Some(1.0 / 3.0),
            max_renewals: 1,
            ..Setup::ideal(nodes)
        }
    }

    /// Like [`Setup::extending`], but the holder's extend asks for a ttl of one tick: a
    /// *shortening* extend (less than what is left). Issue 10 item 1: a failed one keeps
    /// the old deadline while the late-running scripts shorten the keys.
    pub fn shortening(nodes: usize) -> Self {
        Setup {
            name: "shortening extends",
            extend_ttls: vec![1],
            renewal: None,
            ..Setup::extending(nodes)
        }
    }

    /// Rolling wipes: nodes lose their data one at a time, `max_ttl` apart, as often as
    /// the run goes on (within assumption A3), with delayed restart on. Issue 10 item 2:
    /// fence counters live only where their last write quorum put them; the nodes' clocks
    /// (the tokens' floor) are what keeps tokens growing.
    pub fn rolling_wipes(nodes: usize) -> Self {
        Setup {
            name: "rolling wipes, delayed restart on",
            max_faulty: 1,
            rolling: true,
            node_clocks: true,
            attempts: 1,
            ..Setup::wipes_protected(nodes)
        }
    }

    /// Rolling wipes, for fencing tokens alone: one client makes two `acquire` calls one
    /// after the other while the nodes lose their data one at a time (every restart
    /// empty), so that no copy of a counter may survive between them. With one client
    /// mutual exclusion is not in question, so delayed restart (whose markers multiply
    /// the states) is off; [`Setup::rolling_wipes`] with two clients checks the same
    /// faults with contention, in far more states.
    pub fn rolling_wipes_tokens(nodes: usize) -> Self {
        Setup {
            name: "rolling wipes, one client, two calls",
            clients: 1,
            acquisitions: 2,
            delayed_restart: false,
            restarts: vec![Restart::Wipe],
            ..Setup::rolling_wipes(nodes)
        }
    }

    /// The ideal protocol with the wait queue and hand-off reservations: calls wait
    /// (they queue when refused), a lease's release reserves the lock for the longest
    /// live waiter for the library's default window (50 ms), and a waiter that has not
    /// tried again within `waiter_gone_after` (here 2 * (200 ms + 10 ms), under a tick:
    /// its entry counts only in the tick of its last refusal) is skipped.
    pub fn queued(nodes: usize) -> Self {
        Setup {
            name: "wait queue and hand-off",
            wait: Duration::from_secs(3),
            handoff: Duration::from_millis(50),
            wake_up_fallback: Duration::from_millis(200),
            ..Setup::ideal(nodes)
        }
    }

    /// [`Setup::ideal`] with tokens minted on demand: the acquisition is unfenced, and a
    /// holder may mint its token once, at any moment while its lease is valid.
    pub fn on_demand(nodes: usize) -> Self {
        Setup {
            name: "tokens minted on demand",
            mint: Mint::OnDemand,
            ..Setup::ideal(nodes)
        }
    }

    /// [`Setup::ideal`] with tokens minted either way ([`Mint::Mixed`]): each attempt mints
    /// in the acquisition or leaves it to the holder, on demand.
    pub fn mixed(nodes: usize) -> Self {
        Setup {
            name: "tokens minted either way",
            mint: Mint::Mixed,
            ..Setup::ideal(nodes)
        }
    }

    /// [`Setup::wipes_protected`] with tokens minted on demand: a wiped node loses its
    /// counter, which the read round must not let send tokens back.
    pub fn on_demand_wipes(nodes: usize) -> Self {
        Setup {
            name: "tokens minted on demand, wipes, delayed restart on",
            mint: Mint::OnDemand,
            ..Setup::wipes_protected(nodes)
        }
    }

    /// [`Setup::rolling_wipes_tokens`] with tokens minted on demand: the clocks
    /// `fence_read.lua` reports must keep tokens growing after every copy of a counter was
    /// lost.
    pub fn on_demand_rolling_wipes(nodes: usize) -> Self {
        Setup {
            name: "rolling wipes, one client, two calls, tokens minted on demand",
            mint: Mint::OnDemand,
            ..Setup::rolling_wipes_tokens(nodes)
        }
    }

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

    /// The queue's role for every call: `protocol::queue::Role::of_call`.
    pub fn role(&self) -> Role {
        Role::of_call(self.wait, self.handoff)
    }

    /// Whether a queue entry last refreshed `seen` ticks ago still counts: `release.lua`
    /// keeps it while `now - seen <= waiter_gone_after` (node clocks tick exactly).
    pub fn live(&self, seen: u8) -> bool {
        ticks(seen) <= protocol::retry::waiter_gone_after(self.wake_up_fallback, self.node_timeout)
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

    /// Nodes may come back empty and delayed restart is off: the classic Redlock
    /// counterexample must be found.
    pub fn wipes_unprotected(nodes: usize) -> Self {
        Setup {
            name: "wipes, delayed restart off",
            restarts: vec![Restart::KeepData, Restart::Wipe],
            delayed_restart: false,
            ..Setup::ideal(nodes)
        }
    }

    /// Nodes may come back empty and delayed restart is on: mutual exclusion must hold.
    pub fn wipes_protected(nodes: usize) -> Self {
        Setup {
            name: "wipes, delayed restart on",
            restarts: vec![Restart::KeepData, Restart::Wipe],
            delayed_restart: true,
            ..Setup::ideal(nodes)
        }
    }

    /// [`Setup::wipes_protected`] with callers that wait ([`Setup::queued`]'s wait,
    /// hand-off and fallback): a refused waiter hears every node out, so a lost round
    /// reports every node's marker, refusals included. Trusting a marker from such a round
    /// that delayed restart would hold back counted a wiped node's next grant (found by
    /// the `rolling-wipes` chaos probe). The sequence needs three clients and two
    /// attempts of one of them, past what an exhaustive run explores in minutes: the
    /// scripted run `scenarios.rs::a_round_of_refusals_does_not_make_a_wiped_node_trusted`
    /// plays it.
    pub fn wipes_waiting(nodes: usize) -> Self {
        let queued = Setup::queued(nodes);
        Setup {
            name: "wipes, delayed restart on, callers wait",
            wait: queued.wait,
            handoff: queued.handoff,
            wake_up_fallback: queued.wake_up_fallback,
            ..Setup::wipes_protected(nodes)
        }
    }

    /// Like [`Setup::wipes_protected`], but a node may lose its data with no downtime
    /// (FLUSHALL, or a restart quicker than the slack) in the same tick as the
    /// deployment's first acquisition: the marker ages cannot tell it apart.
    pub fn instant_wipes(nodes: usize) -> Self {
        Setup {
            name: "instant wipes in a new deployment, delayed restart on",
            min_down: 0,
            ..Setup::wipes_protected(nodes)
        }
    }

    /// Like [`Setup::wipes_protected`], but a node may restart from an old RDB snapshot:
    /// its marker is old, so it is not held back, yet its lock keys are gone.
    pub fn stale_snapshots(nodes: usize) -> Self {
        Setup {
            name: "restarts from stale snapshots, delayed restart on",
            restarts: vec![Restart::KeepData, Restart::StaleSnapshot],
            ..Setup::wipes_protected(nodes)
        }
    }

    /// The ideal protocol, but a faulty node may run a client's newer request before an
    /// older one (a reconnection after timeouts: the old connection's buffered requests
    /// still run later). Retries of one `acquire` call share the owner, so a failed
    /// attempt's late release can delete the next attempt's grant.
    pub fn reordering(nodes: usize) -> Self {
        Setup {
            name: "reordered requests on a faulty node",
            reorder: true,
            ..Setup::ideal(nodes)
        }
    }

    /// How far a node clock advances in one tick, in token units (the library's µs): more
    /// than the number of tokens the whole run can mint, so that, as with real clocks
    /// (a million µs a second, each token a round trip or more), no chain of `counter + 1`
    /// increments within one tick can reach the next tick's clock.
    pub fn clock_tick(&self) -> u64 {
        let leases = self.clients * usize::from(self.acquisitions) * usize::from(self.attempts);
        let per_lease = match self.mint {
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
