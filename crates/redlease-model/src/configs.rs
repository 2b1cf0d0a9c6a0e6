//! The named configurations: [`Setup::ideal`] and the variants the tests, the suite and
//! `main` check, each a few knobs away from another.
//!
//! Apart from `setup.rs` (the knobs and what they mean) so that each configuration reads
//! as what it adds to the one it starts from; the tests then tweak them further in place
//! (`Setup { max_faulty: 0, ..Setup::queued(3) }`), so that every checked configuration
//! names what it changed.

use std::time::Duration;

use redlease::protocol;

use crate::setup::{Mint, Restart, Setup};

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
            grants: false,
            grant_validity_from_arrival: false,
            grant_ignores_marker: false,
            grant_leave_keeps_registered: false,
            grant_registers_refused_owner: false,
            grant_stay_drops_granted: false,
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

    /// The ideal protocol with the wait queue and hand-off: calls wait (they queue when
    /// refused, registering their next attempt's owner), a lease's release grants the
    /// lock to the longest live waiter's registered owner ([`Setup::grants`], on as in
    /// the library) or, without a registration, reserves it for the library's default
    /// window (50 ms), and a waiter that has not tried again within `waiter_gone_after`
    /// (here 2 * (200 ms + 10 ms), under a tick: its entry counts only in the tick of its
    /// last refusal) is skipped.
    pub fn queued(nodes: usize) -> Self {
        Setup {
            name: "wait queue and hand-off",
            wait: Duration::from_secs(3),
            handoff: Duration::from_millis(50),
            wake_up_fallback: Duration::from_millis(200),
            grants: true,
            ..Setup::ideal(nodes)
        }
    }

    /// [`Setup::queued`] with reservations only (no grant in one round): what the library
    /// does with wake-ups off or `min_replicas` above 0.
    pub fn reserving(nodes: usize) -> Self {
        Setup {
            name: "wait queue and hand-off reservations",
            grants: false,
            ..Setup::queued(nodes)
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
            grants: queued.grants,
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

    // Broken on purpose: each one leaves out one rule of the library, for the model to
    // find the counterexample (the main run's list and the tests use the same setups).

    /// [`Setup::queued`], no faults, tokens on demand, with a hand-off's validity measured
    /// from the arrival of the last grant instead of the refused attempt's start.
    pub fn grants_validity_from_arrival(nodes: usize) -> Self {
        Setup {
            name: "grants, validity from the arrival (broken on purpose)",
            max_faulty: 0,
            mint: Mint::OnDemand,
            grant_validity_from_arrival: true,
            ..Setup::queued(nodes)
        }
    }

    /// [`Setup::queued`], no faults, unfenced, with a give-up's leave that does not free a
    /// key granted to the owner its entry registered.
    pub fn grants_leave_keeps_registered(nodes: usize) -> Self {
        Setup {
            name: "grants, no faults, the leave keeps the registered key (broken on purpose)",
            max_faulty: 0,
            mint: Mint::Off,
            grant_leave_keeps_registered: true,
            ..Setup::queued(nodes)
        }
    }

    /// [`Setup::on_demand`] with a mint that counts confirmations arriving after the
    /// lease's deadline.
    pub fn mint_ignoring_deadline(nodes: usize) -> Self {
        Setup {
            name: "tokens minted on demand, deadline ignored (broken on purpose)",
            mint_ignores_deadline: true,
            ..Setup::on_demand(nodes)
        }
    }

    /// [`Setup::on_demand`], two faulty nodes, one attempt per call, with a mint that takes
    /// any readings (no quorum of them).
    pub fn mint_reading_any(nodes: usize) -> Self {
        Setup {
            name: "tokens minted on demand, read quorum ignored (broken on purpose)",
            max_faulty: 2,
            attempts: 1,
            mint_reads_any: true,
            ..Setup::on_demand(nodes)
        }
    }
}
