//! # redlease-model: the redlease protocol, model-checked
//!
//! Whether a lock is safe depends on interleavings, faults and timing that tests against
//! real servers only sample. This crate describes the protocol as a [`stateright`] model
//! and explores **every** reachable state of small configurations, checking mutual
//! exclusion and fencing-token order in each. The decisions are not re-implemented: the
//! client side calls the library's own functions (see [`client`]), so the model checks
//! the code that runs in production, not a copy of it.
//!
//! ## What is modelled
//!
//! - **Nodes** (independent Redis masters) holding one resource: the lock key (owner, TTL
//!   left), the fencing counter, and the delayed-restart marker (its age). The Lua
//!   scripts' rules are written out in [`node`]: acquire (set if free or already ours,
//!   report the counter, the holder's PTTL and the marker age, writing the marker at first
//!   contact), fence (a max-register written only where the owner holds the lock), fence
//!   read (the counter and the node's clock) and release (compare-and-delete). Their
//!   replies are built as `redis::Value`s and parsed by `redlease::ops`.
//! - **Clients**, each making `acquire` calls with a fresh owner per attempt (the library's
//!   fix of issue 10 item 3; owners are numbered by attempt, so the owner a call draws
//!   ahead for its next attempt is the next number) and one waiter id per call. One
//!   attempt is the library's `Acquirer::attempt` (`acquire/`), driven
//!   through the library's own state machine (see the table below): every answer goes to
//!   [`Attempt::answer`](redlease::protocol::Attempt::answer) with the same `trusted`
//!   input `acquire/` computes, the round stops when it says
//!   [`Step::Stop`](redlease::protocol::Step) (or when every node answered), and the
//!   [`Outcome`](redlease::protocol::Outcome) of
//!   [`Attempt::finish`](redlease::protocol::Attempt::finish) decides everything after:
//!   the verdict, the grants the fencing round goes to, where a failed attempt releases
//!   (`release_on`), which markers the client trusts from now on (`trust`). The only
//!   bookkeeping of the model's own is that trust, kept as a marker age relative to now
//!   (the library keeps a birth on its monotonic clock; the model has no absolute clock).
//!   A holder leaves its critical section whenever it likes and releases on every node.
//!
//! | model (file: function) | calls the library's |
//! |---|---|
//! | `client.rs`: `begin` | [`Attempt::new`](redlease::protocol::Attempt::new) with `AttemptRules { max_ttl, slack: restart_slack(node_timeout), .. }` |
//! | `client.rs`: `on_acquire_answer` | [`ops::acquire::parse`](redlease::ops::acquire::parse), [`Attempt::answer`](redlease::protocol::Attempt::answer), [`Attempt::votes`](redlease::protocol::Attempt::votes) (held-back example only) |
//! | `client.rs`: `finish_vote` | [`Attempt::finish`](redlease::protocol::Attempt::finish) (`verdict`, `granted`, `release_on`, `trust`, `highest_fence`), [`validity`](redlease::protocol::validity), [`fencing_token`](redlease::protocol::fencing_token), [`fence_tally`](redlease::protocol::attempt::fence_tally) |
//! | `client.rs`: `on_fence_answer` | [`ops::fence::parse`](redlease::ops::fence::parse), [`Tally::record`](redlease::protocol::Tally::record), [`Tally::decision`](redlease::protocol::Tally::decision), [`validity`](redlease::protocol::validity) |
//! | `holding.rs`: `hold` | [`validity`](redlease::protocol::validity) (the lease's time left: `start + ttl - drift`) |
//! | `setup.rs`: `drift`, `slack`, `quorum` | [`drift`](redlease::protocol::drift), [`restart_slack`](redlease::protocol::restart_slack), [`quorum`](redlease::protocol::quorum) |
//! | `holding.rs`: `hold`, `on_extend_answer`, `renewal_due` | [`renewal::interval`](redlease::protocol::renewal::interval), [`renewal::retry_delay`](redlease::protocol::renewal::retry_delay), [`renewal::cap_reached`](redlease::protocol::renewal::cap_reached) (when the renewal task extends) |
//! | `holding.rs`: `on_extend_answer` | [`ops::extend::parse`](redlease::ops::extend::parse), [`Tally`](redlease::protocol::Tally) (stop once it decides, as `Round::decide`), [`extend::conclude`](redlease::protocol::extend::conclude) on the model's relative clock, [`drift`](redlease::protocol::drift) of the requested ttl: the verdict and the new deadline, exactly as `lease/extend.rs` acts on them |
//! | `client.rs`: `begin`, `fail`; `holding.rs`: `release`; `setup.rs`: `role`, `live` | [`queue::Role::of_call`](redlease::protocol::queue::Role::of_call), [`keeps_place_after_failure`](redlease::protocol::queue::Role::keeps_place_after_failure), [`leaves_on_give_up`](redlease::protocol::queue::Role::leaves_on_give_up) (what the acquire and release requests ask the queue for), [`retry::waiter_gone_after`](redlease::protocol::retry::waiter_gone_after) (which entries `release.lua` skips) |
//! | `client.rs`: `begin`, `finish_vote`; `node.rs`: `acquire` | with tokens minted on demand, the unfenced acquisition (`AttemptRules { fencing: false, .. }`, the script's `ARGV[5]` "": no counter read), as `Fencing::Off` |
//! | `actions.rs`: `Begin`, `BeginFenced`; `client.rs`: `begin` | with tokens minted either way, both outcomes of the library's `minting::choose` on several nodes (`Fencing::Client`, `Fencing::Off`) at every attempt; the choice itself (whether the resource's last lease was asked for its token) is left open, every sequence explored |
//! | `mint.rs`: `on_read_answer` | [`ops::fence_read::parse`](redlease::ops::fence_read::parse), [`mint::Reads`](redlease::protocol::mint::Reads) (`read` for every node that answered, once every node answered or failed; then `token`) |
//! | `mint.rs`: `on_record_answer` | [`ops::fence::parse`](redlease::ops::fence::parse), [`Tally::new(n)`](redlease::protocol::Tally) (stop once it decides, as `Round::decide`), [`mint::conclude`](redlease::protocol::mint::conclude) on the model's relative clock, exactly as `lease/mint.rs` acts on its verdict |
//! | `symmetry.rs`: `reorder_nodes` | [`Attempt::renumbered`](redlease::protocol::Attempt::renumbered) (renames nodes, decides nothing) |
//! | `handoff.rs`: `deliver` | [`handoff::parse`](redlease::protocol::handoff::parse) (the payload `node.rs`: `payload` builds as `release.lua` does), only grants for the owner the refused attempt registered, the call's next attempt's (`Waited::next`, `Subscription::grants_for`), [`handoff::counts`](redlease::protocol::handoff::counts) with `max_ttl` and `needs_token` (one node, fenced), [`Handoffs`](redlease::protocol::handoff::Handoffs) (`new`, `grant` for each node counted so far and the new one, `granted`, `token`), as `handoff.rs`'s `handed_off` |
//! | `handoff.rs`: `won` | [`handoff::validity`](redlease::protocol::handoff::validity) from the refused attempt's start (`Waited::started`), then the lease as `Acquirer::lease` builds it (owner `Waited::next`, deadline `start + ttl - drift`, the grants' token on one node) |
//!
//! - **Extend and renewal** ([`Setup::extending`], [`Setup::shortening`]): a holder may
//!   `extend` to a ttl of the setup's list (shorter than what is left included), and the
//!   renewal task extends by the lease's ttl when `protocol::renewal` says it is due.
//!   The node applies `extend.lua`'s rule (PEXPIRE only if the key holds our owner); the
//!   request may be lost, delayed or run late like any other. The holder's deadline after
//!   `conclude` is what "holds a valid lease" means everywhere.
//! - **Tokens minted on demand** ([`Setup::mint`] = [`Mint::OnDemand`], the library's
//!   default on several nodes; [`Mint::AtAcquisition`] is `token_at_acquire(true)`, the
//!   two-round acquisition above): the acquisition is unfenced, and a holder of a valid
//!   lease without a token may mint it (`Action::Mint`, at most [`Setup::mints`] rounds
//!   per lease) as `LeaseCore::fencing_token` does, under the lease's operation lock (no
//!   release, extend or renewal meanwhile; the lease counts as held, its time running
//!   down): `fence_read.lua` to every node, each answer awaited or failed, the readings
//!   to `Reads`; no token without a quorum of readings (the lease stays held), else
//!   `fence.lua` with the token to every node and `conclude`: minted (the token is
//!   checked and recorded exactly as an acquisition's), lost (not held, or expired: the
//!   holder stops), or unavailable (held, no token).
//! - **Tokens minted either way** ([`Mint::Mixed`], what the library's default on
//!   several nodes does over time: `minting::choose` mints in the acquisition where the
//!   resource's last lease was asked for its token, else on demand): every attempt
//!   chooses, as two actions (`Begin` unfenced, `BeginFenced` fenced), so consecutive
//!   leases, and the attempts of one call, mint either way in every order (with grants
//!   on, per call, as the library chooses: see [`Mint::Mixed`]). A lease minted in the
//!   acquisition never mints again; an unfenced one may mint on demand as above.
//! - **Faults that accumulate** ([`Setup::rolling_wipes`]): any node may fail, one at a
//!   time; a node's turn ends (`Heal`) only when every node is up and the last wipe is
//!   `max_ttl` old, so nodes are wiped one after another, as often as the run goes on.
//! - **The wait queue and hand-off** ([`Setup::queued`]): each node keeps the resource's
//!   queue and reservation as `acquire.lua` and `release.lua` do ([`node`]): a refused
//!   caller that waits is placed by how long its call has waited (`ZADD NX`, so a queued
//!   waiter keeps its place) and its `seen` refreshed; a lease's release leaves the queue
//!   and, with someone else queued, turns the key into a reservation for the longest live
//!   waiter, dropping the entries the walk passes that count as gone
//!   ([`retry::waiter_gone_after`](redlease::protocol::retry::waiter_gone_after), compared
//!   on the node's tick clock); only that waiter's attempts (any attempt of its call) take
//!   it. Places at the cap ([`Setup::place_cap`]) tie and a tie goes either way (`RunPick`),
//!   as random waiter ids break real ties. The window (50 ms) is under a tick: a
//!   reservation is gone at the next tick, or at any moment before (`Lapse`). The client
//!   side is the library's [`queue::Role`](redlease::protocol::queue::Role): whether a
//!   call queues (`of_call`), whether a failed attempt's clean-up keeps its place
//!   (`keeps_place_after_failure`) and whether a call that gives up leaves every queue
//!   (`leaves_on_give_up`). A failed attempt's clean-up that keeps the place refreshes
//!   the entry's `seen` (and drops its registration), as `release.lua` does.
//! - **The grant in one round** ([`Setup::grants`], on in [`Setup::queued`] as in the
//!   library; [`Setup::reserving`] is the queue without it): every refusal of a call that
//!   waits registers the owner of the call's *next* attempt (`acquire.lua`, `ARGV[10]`:
//!   owner, the refused attempt's ttl, whether the one node mints), unless its token is
//!   minted in the acquisition on several nodes (`Fencing::Client`, which keeps the
//!   reservation); a refusal without it drops the registration. A lease's release whose
//!   head is registered, its registration fresh (`Setup::registration_fresh`: no older
//!   than a live waiter goes without registering again; an older one gets the
//!   reservation), sets the lock to the registered owner for that ttl (minting the
//!   token with it on one node) and publishes `"<waiter> <owner> <token> <marker age>"`.
//!   The next attempt has that owner, so a key granted to it is simply its own (the
//!   acquire's "already ours" branch: a fresh TTL, no take-over rule). `release.lua`
//!   reads the lock first (`mine`): a failed attempt's clean-up ("stay") refreshes the
//!   entry's `seen` and drops its registration (keeping it while a release has granted
//!   the key to it) but never frees the registered owner's key (the call still counts
//!   its grants); the call's end (its lease's release, its
//!   give-up's leave, "leave") also counts the key as the releaser's if it holds the
//!   owner the releaser's entry registered, read before the entry is removed. The
//!   published grant is a message of its own (`State::published`): delivered at any later
//!   moment, in any order, or never (time may pass meanwhile, on any node); grants for an
//!   owner its client no longer waits for are dropped, as `Subscription::grants_for`
//!   drops them. After a refusal that was not a split vote the client waits
//!   (`Phase::Waiting`), counting the grants for its registered owner (see the table)
//!   until it wins (the lease then has that owner, measured from the refused attempt's
//!   start), begins its next attempt (with that owner), or, past its last, gives up
//!   (`GiveUp`, the leave). The library registers from a call's second refusal (once it
//!   listens) and collects a quorum within a node timeout of the first grant; the model
//!   registers from the first and lets the waiter wait longer, both only more
//!   behaviours.
//! - **One node** (`Setup::queued(1)`, fenced): the acquire script mints the token with
//!   the grant (`Fencing::Script`, `ARGV[5]` "mint": `max(counter + 1, clock)` written
//!   back), the attempt takes it from the outcome's `highest_fence`, and a release's
//!   grant by hand-off mints one the same way.
//! - **Node clocks** ([`Setup::node_clocks`], on with rolling wipes): `acquire.lua`
//!   reports the node's time, and the library's `fencing_token(counters, floor)` takes the
//!   latest as the token's floor, exactly as in production. One tick is worth
//!   [`Setup::clock_tick`] token units, more than every token the run can mint, as a
//!   second is worth a million µs. Every node reads the same clock, and counters and
//!   tokens are stored as they are (absent counter 0), so the clock alone would grow
//!   without bound: [`model::next_clock`] stops it one tick above the highest counter or
//!   token still held anywhere, and never moves it back. That is exact, not an
//!   approximation: the clock enters only through `max(max counter + 1, clock)` and the
//!   comparisons and maxima of the tokens it produces, and once it is above every value
//!   held, any larger reading produces tokens that compare the same way with everything
//!   (the token formula is shift-invariant, `max(c + 1 + k, t + k) = max(c + 1, t) + k`;
//!   the model keeps one representative of each gap that is large enough). Without
//!   node clocks every node reports 0: the counters alone must keep tokens in order.
//! - **The network**: one FIFO channel per (client, node), as the library keeps one
//!   multiplexed connection per node. A request runs on its node at any later point; its
//!   reply reaches the client at once or is lost; a client may time out on any node it
//!   waits for, at any moment; a crash loses the requests in flight.
//! - **Faults**, on at most `max_faulty` distinct nodes per run (`f = N - Q` in every
//!   configuration expected to be safe): crash, restart keeping the data (AOF, fsync
//!   always), restart empty (no persistence, FLUSHALL), restart from a stale snapshot,
//!   lose a reply, be timed out on, hold a request across a tick. Every other node answers
//!   each request within the tick it was sent, which is what "answers within the node
//!   timeout" means at this resolution.
//! - **Time**: a discrete clock. Keys expire when their TTL in ticks has run out; markers
//!   age; a lease is valid while its deadline is ahead. Every time is kept relative to now
//!   and capped where larger values change no decision ([`setup::Setup::age_cap`]), so the
//!   state space is finite **without a horizon**: runs of any length are covered.
//!
//! ## What is abstracted away
//!
//! - Clock *rates* and offsets: every clock ticks at the same rate, keys expire exactly
//!   at their TTL, and all node clocks read the same time. The drift term is still
//!   subtracted (at least one tick), but the case it exists for, a node clock running
//!   fast, is not explored; nor are node clocks that disagree (assumption A5 allows up to
//!   `max_ttl / 2`), which the token floor tolerates by the argument in
//!   `docs/protocol.md`.
//! - Durations shorter than a tick: a non-faulty node's delay, the node timeout (10 ms)
//!   and the delayed-restart slack (270 ms) all fit inside one tick of 1 s; a crash keeps
//!   a node down at least `min_down` ticks (1, i.e. longer than the slack; 0 in
//!   [`Setup::instant_wipes`]).
//! - A client's memory of a marker that *replaced* one it trusted
//!   (`MarkerTrust::replaced`, `Known::Replaced`): the library holds such a node's grant
//!   back at once; the model's clients pass only trusted or unknown to the same
//!   `Attempt`, so they explore a protocol that counts more grants, never fewer.
//! - Retry delays and the wake-ups that carry no grant (pub/sub): they decide *when* a
//!   waiter retries, never whether a grant counts; any delay is possible anyway, since the
//!   clock may tick between any two steps. (The queue, reservations and published grants
//!   are modelled, see above.)
//! - Of the queue: its key's TTL (`queue_ttl`, twice `waiter_gone_after` after the last
//!   arrival: when it expires, every entry in it already counts as gone, so only the
//!   "someone else queued" test of `release.lua`, which decides whether to publish, could
//!   tell), the walk's limit of 8 entries (the model's queues hold at most 3), and the
//!   order among gone entries tied with the head (the walk drops them here). A restart
//!   from a stale snapshot keeps the queue as it was.
//! - Lease loss signals, key prefixes, several resources, Redis Cluster; the single-node
//!   path (N = 1) only with the queue and grants (`tests/handoff.rs`).
//! - Of tokens minted on demand: the fence counter's own TTL (`fence_counter_ttl`, far
//!   above any lease: the clock floor covers a counter that expired as it covers a wiped
//!   one), concurrent callers of `fencing_token` on one lease (the operation lock makes
//!   them one mint), and a token asked for after the lease was released or lost (the
//!   library fails at once).
//! - Each script runs atomically (as Redis runs Lua); client-side computation takes no
//!   time, but a client may stall for any number of ticks between two steps (a GC or
//!   SIGSTOP pause): validity is measured from the attempt's start, as in the library.
//!
//! ## Properties
//!
//! - `mutual exclusion` (*always*): no two clients hold leases that are valid by their own
//!   deadlines at the same time.
//! - `fencing tokens increase` (*always*): every lease granted gets a token above every
//!   token granted before it (minted on demand: every token granted before its mint
//!   concluded).
//! - `fencing tokens follow real time` (*always*): a lease's token is above every token
//!   granted before its attempt started (the order `docs/protocol.md` promises; on
//!   demand too, the attempt's start, not the mint's).
//! - `validity never lies` (*always*, where every restart keeps the data): a holder's
//!   settled deadline is backed by a quorum of keys holding its owner with at least that
//!   much TTL left (see [`model::validity_backed`] for why this is exact at tick
//!   resolution).
//! - `no reservation or grant for a waiter that left` (*always*, with the queue): on a
//!   node that never misbehaved, a release never reserves the lock for, or grants it to,
//!   a waiter whose call is over (given up, or its lease released) and whose requests
//!   there have all run (issue 10 item 4; a node that lost the waiter's leave keeps its
//!   entry until it counts as gone, which `docs/protocol.md` accepts); and on any node,
//!   once such a call's last request there (its leave or its lease's release) has run,
//!   the lock is not one a release granted to an owner of that call (such a lock is held
//!   for nobody until its ttl runs out; the clean-up's rule before the model's finding
//!   failed this half under one faulty node, see below). A reservation that would let a waiter win
//!   while another lease is valid would break `mutual exclusion`, checked with the queue
//!   in; a single node granting a reservation then is no harm (the grant is one vote,
//!   refused elsewhere) and is not flagged.
//! - Non-vacuity (*sometimes*, an example must exist): a lease is granted; two leases
//!   are granted; with wipes and delayed restart, a young grant is held back, and a young
//!   grant counts at once on a trusted marker; with the queue, a waiter wins a lease
//!   through a hand-off reservation (where some attempt does not register) and by a
//!   grant in one round (where some attempt registers); with tokens minted on demand, a
//!   token is minted on demand; with tokens minted either way, a token minted in the
//!   acquisition is recorded right after one minted on demand, and one minted on demand
//!   right after one minted in the acquisition.
//!
//! ## Bounds and results
//!
//! ttl = `max_ttl` = 3 ticks (the worst case for delayed restart), drift factor 1/3
//! (drift 1.002 s, at least one tick), one `acquire` call per client with two attempts
//! (the classic counterexample needs a retry, and a manager trusts markers only in later
//! rounds; one attempt where two would not fit), `f = N - Q` faulty nodes, no clock
//! horizon. State counts are symmetry classes (clients and nodes are interchangeable, see
//! [`symmetry`]); times are on two shared cores. Rows 4-5 are searched only until the
//! counterexample by the default tests, in full by the ignored ones.
//!
//! | configuration | N | clients | attempts | unique states, time | verdict |
//! |---|---|---|---|---|---|
//! | ideal: crashes, restarts with data, lost/late messages | 3 | 2 | 2 | 1.60 M, 10-12 s | all hold, validity never lies |
//! | wipes, delayed restart off | 3 | 2 | 2 | 1.72 M, 12 s | **mutual exclusion fails** (the classic counterexample, one faulty node); tokens still increase |
//! | wipes, delayed restart on | 3 | 2 | 2 | 16.4 M, 110 s | all hold; young grants are held back, trusted markers count at once |
//! | instant wipes (FLUSHALL, or a restart within the slack) in a new deployment | 3 | 2 | 2 | 26.3 M, 250 s | **mutual exclusion fails**; overlapping acquisitions may share a token, tokens still follow real time |
//! | restarts from a stale snapshot (RDB) | 3 | 2 | 2 | 11.0 M, 105 s | **mutual exclusion fails**: the marker survives, the lock keys do not; tokens hold |
//! | reordered requests on a faulty node (a reconnection) | 3 | 2 | 2 | 10.0 M, 89 s | all hold, validity never lies: each attempt has its own owner (issue 10 item 3), so a failed attempt's late release deletes only its own grant (with one owner per call it deleted the retry's, and mutual exclusion failed) |
//! | ideal | 5 | 2 | 1 | 4.5 M, 60 s | all hold |
//! | wipes, delayed restart off | 5 | 2 | 2 | counterexample after 9.8 M, 110 s | **mutual exclusion fails** |
//! | wipes, delayed restart on | 5 | 2 | 1 | 27.7 M, 360 s | all hold |
//! | wipes, delayed restart on | 3 | 3 | 1 | 10.0 M, 120 s | all hold |
//!
//! Extend, renewal and rolling wipes (`tests/lifetime.rs`):
//!
//! | configuration | N | clients | unique states, time | verdict |
//! |---|---|---|---|---|
//! | extend to the full ttl once, one renewal | 3 | 2 | 274 k, 2 s | all hold, validity never lies |
//! | shortening extend | 3 | 2 | counterexample after 230 k (validity), 2.7 M (mutual exclusion) | **validity lies, mutual exclusion fails** (issue 10 item 1) |
//! | rolling wipes, one client, two calls, node clocks | 3 | 1 | 922 k, 6 s | tokens increase and follow real time |
//! | the same with the clock floor left out (scratch edit), or node clocks off | 3 | 1 | counterexample after 14 k / 12.6 k | **fencing tokens go backwards** (issue 10 item 2) |
//! | rolling wipes, two clients (ignored) | 3 | 2 | 19.1 M, 80-195 s (release) | tokens increase and follow real time |
//!
//! The wait queue and hand-off (`tests/queue.rs`; two attempts per call, waiters gone
//! after 2 * (200 ms + 10 ms), i.e. counted only in the tick of their last refusal):
//!
//! | configuration | N | clients | unique states, time | verdict |
//! |---|---|---|---|---|
//! | no faults, fenced | 3 | 2 | 6.0 k, 0.1 s | all hold, no reservation for a waiter that left, hand-offs happen |
//! | one faulty node, unfenced | 3 | 2 | 1.02 M, 13 s | all hold, idem |
//! | one faulty node, fenced (ignored) | 3 | 2 | 15.5 M, 144-305 s (release) | all hold |
//! | no faults, places kept 2 ticks (ignored) | 3 | 3 | 7.4 M, 260 s (release, two tests at once) | all hold |
//! | the give-up's leave left out (scratch edit) | 3 | 2 | counterexample after 6.6 k / 695 k | **a release reserves the lock for a waiter that gave up** (issue 10 item 4) |
//!
//! The grant in one round (`tests/handoff.rs`; two attempts per call, times in release
//! on two cores):
//!
//! | configuration | N | clients | unique states, time | verdict |
//! |---|---|---|---|---|
//! | no faults, unfenced / tokens minted on demand | 3 | 2 | 2.2 k / 15.0 k, 0.1 s | all hold, leases won by grants |
//! | no faults, tokens minted in the acquisition (`token_at_acquire`) | 3 | 2 | 6.0 k, 0.1 s | all hold; no attempt registers, reservations only |
//! | no faults, tokens minted either way (per call) | 3 | 2 | 41.1 k, 0.3 s | all hold, both grants and reservations |
//! | one node, fenced (token minted by the release), one call / two calls | 1 | 2 | 255 / 16.7 k, 0.1 s | all hold, leases won by grants |
//! | **one faulty node, unfenced (the library's rules)** | 3 | 2 | 1.53 M, 12-23 s | all hold, leases won by grants |
//! | the same, the clean-up drops a granted registration (`Setup::grant_stay_drops_granted`, the rule before the model's finding) | 3 | 2 | 1.54 M, 12-28 s | **a lock granted to a waiter that left** (see below: time, not safety) |
//! | one faulty node, tokens minted on demand (ignored; run before the fix) | 3 | 2 | 15.7 M, 116 s | mutual exclusion, validity and both token orders hold, leases won by grants; a lock granted to a waiter that left (as above, fixed since) |
//! | reordered requests on a faulty node, unfenced, the library's rules (ignored) | 3 | 2 | 14.1 M, 158 s | mutual exclusion and validity hold; a lock granted to a waiter that left only for an owner a late request registered, which `docs/protocol.md` accepts (the late acquire of an earlier attempt re-registers its next owner over the one a release had granted) |
//! | the first version: the refused attempt's own owner registered (`Setup::grant_registers_refused_owner`), one faulty node, unfenced | 3 | 2 | counterexample after 39 k, 0.3 s | **validity lies**: a waiter counts a grant its own clean-up freed (see below) |
//! | the same, scripted with a third client (`the_first_version_lets_a_clean_up_free_a_counted_grant`; the library's rules on the same schedule: `registering_the_next_owner_keeps_the_counted_grant`) | 3 | 3 | 24 steps | **mutual exclusion fails** (the library's rules: one lease, backed) |
//! | validity from the grant's arrival (`Setup::grant_validity_from_arrival`, broken on purpose), no faults | 3 | 2 | counterexample after 4.6 k | **validity lies** |
//! | the give-up's leave keeps the registered key (`Setup::grant_leave_keeps_registered`, broken on purpose), no faults | 3 | 2 | counterexample after 1.5 k | **a lock granted to a waiter that left** (the last attempt's registered owner never comes) |
//! | grants counted whatever the marker age (`Setup::grant_ignores_marker`, broken on purpose), wipes, delayed restart on, one attempt | 3 | 2 | 391 k, 3 s | no counterexample in this bound: a node hands off only a released lease's key, and no lease holds a wiped node while one it forgot is valid |
//!
//! **The first version's counterexample**, and why registering the next owner removes it.
//! The first version registered the refused attempt's own owner. W's attempt is refused
//! by nodes 0 and 2 (registered there); node 1 runs it too (refused, registered) but its
//! reply is lost, so W times out on node 1 and sends it the failed attempt's clean-up (a
//! compare-and-delete of that attempt's owner, keeping the place). Before the clean-up
//! runs on node 1, the holder's release there sets the lock to W's registered owner and
//! publishes the grant; the clean-up then deletes it (the key holds its owner). W counts
//! node 0's grant and node 1's: a lease backed by one key. With a third waiter whose place
//! ties with W's, node 2 goes to that waiter, whose next attempt takes node 2 over and
//! wins node 1: two valid leases. With the library's rules the registration names W's
//! *next* attempt's owner: the clean-up (of the refused attempt's owner) does not match
//! the granted key, and no request of the call other than its next attempt (sent after
//! W stops counting) and its end matches it, so every grant W counts is still there; the
//! next attempt finds such a key "already ours", so no take-over rule is needed, which
//! was the other way a stale request (reordered) could take a key the call counted.
//!
//! **A lock granted to a waiter that left, with the clean-up's earlier rule** (one faulty node,
//! no reordering): W's last attempt A2 (which registers A3's owner) is refused by node 1,
//! node 2 has not answered yet, and node 0 runs it (refused, A3 registered) but the reply
//! is lost and W times out on node 0. The holder H (whose lease has expired, its keys
//! still there) releases: node 2 hands the lock to A2's owner (registered by W's
//! previous refusal there), A2's acquire then finds it its own, and A2, short of a quorum,
//! fails: clean-up ("stay") to nodes 0 and 2, then, as its last attempt, the give-up's
//! leave to every node. On node 0, H's release runs first and grants the lock to A3's
//! owner; then A2's clean-up (not `mine`, so nothing freed) drops the registration; then
//! the leave finds no registration, so the key holding A3's owner is not freed: held for
//! nobody until its ttl runs out (the model's `no reservation or grant for a waiter that
//! left` fails; mutual exclusion and validity hold). `docs/protocol.md` says the call's
//! end frees such a key. The library's fix (`release.lua`): the clean-up keeps the
//! registration while the key holds the registered owner (and this clean-up does not
//! free it); every property then holds. The old rule is the model-only knob
//! [`Setup::grant_stay_drops_granted`].
//!
//! Tokens minted on demand (`tests/mint.rs`; times in release on two cores):
//!
//! | configuration | N | clients | unique states, time | verdict |
//! |---|---|---|---|---|
//! | no faults | 3 | 2 | 8.6 k, 0.1 s | all hold, validity never lies, tokens are minted on demand |
//! | ideal faults (crashes, restarts with data, lost/late messages) | 3 | 2 | 1.73 M, 14-25 s | all hold, validity never lies |
//! | wipes, delayed restart on, one attempt | 3 | 2 | 1.07 M, 6-12 s | all hold |
//! | wipes, delayed restart on, two attempts (ignored) | 3 | 2 | 41.4 M, 450 s | all hold |
//! | rolling wipes, one client, two calls, node clocks | 3 | 1 | 4.42 M, 22-37 s | tokens increase and follow real time |
//! | the same, node clocks off | 3 | 1 | counterexample after 31-51 k | **fencing tokens go backwards** (the read round's clock is needed) |
//! | two mint rounds per lease, ideal faults (ignored) | 3 | 2 | 3.37 M, 30-56 s | all hold |
//! | extend and renewal with a mint (ignored) | 3 | 2 | 4.16 M, 39 s | all hold |
//! | the mint's deadline ignored (`Setup::mint_ignores_deadline`, broken on purpose) | 3 | 2 | counterexample after 0.3-0.5 M, 2-7 s (28 steps breadth-first, 10.8 M states, 80 s) | **fencing tokens increase fails**: confirmations that reach a quorum after the deadline record a token below a later lease's |
//! | two faulty nodes that keep their data (f > N - Q: crashes, lost replies, timeouts), one attempt (ignored) | 3 | 2 | 11.4 M, 105 s | all hold |
//! | the read round's quorum ignored (`Setup::mint_reads_any`, broken on purpose), two faulty nodes | 3 | 2 | counterexample after 3.9-4.2 M, 35-42 s | **fencing tokens increase fails**: a mint that heard only the node the previous token missed repeats it (with one faulty node of three the knob changes nothing: 1.73 M states either way) |
//!
//! Tokens minted either way (`tests/mint.rs`, [`Mint::Mixed`]: every attempt mints in the
//! acquisition or leaves it to the holder; times in release on two cores):
//!
//! | configuration | N | clients | attempts | unique states, time | verdict |
//! |---|---|---|---|---|---|
//! | no faults | 3 | 2 | 2 | 21.3 k, 0.2 s | all hold, validity never lies; both orders happen (in the acquisition after on demand, and the reverse) |
//! | ideal faults (crashes, restarts with data, lost/late messages) | 3 | 2 | 1 | 402 k, 3 s | all hold, validity never lies, both orders |
//! | the same, two attempts, each choosing anew (ignored) | 3 | 2 | 2 | 15.5 M, 122 s | all hold, validity never lies |
//! | wipes, delayed restart on | 3 | 2 | 1 | 1.81 M, 10 s | all hold, both orders |
//! | rolling wipes, one client, two calls, node clocks | 3 | 1 | 1 | 9.17 M, 29-36 s | tokens increase and follow real time, both orders |
//!
//! ## How to run
//!
//! Knobs of the grant, each model-only: [`Setup::grant_validity_from_arrival`],
//! [`Setup::grant_ignores_marker`] and [`Setup::grant_leave_keeps_registered`] break one
//! safety piece each (never on where safety is expected);
//! [`Setup::grant_registers_refused_owner`] is the first version of the design, kept for
//! its counterexample; [`Setup::grant_stay_drops_granted`] is the clean-up's rule before
//! the model found a lock granted to a waiter that left, kept for that counterexample.
//!
//! - `cargo test -p redlease-model --release`: the three-node, two-client verdicts (the
//!   known limits searched only until their counterexample) and the scripted scenarios;
//!   about seven and a half minutes on two cores (`tests/safety.rs` four of them, its
//!   wipes with delayed restart and its reordered requests, explored in full, two minutes
//!   each; tokens minted on demand and either way two and a half; the grant in one round
//!   under half a minute), no test over two minutes.
//! - `cargo test -p redlease-model --release -- --ignored`: five nodes, three clients and
//!   the known limits explored in full (about thirty-five minutes on two cores, ten of
//!   them for tokens minted on demand, two more for tokens minted either way, eight for
//!   the grant's reordered requests and tokens minted on demand).
//! - `cargo run --release -p redlease-model`: every default configuration, with state
//!   counts, each property's verdict and the counterexamples (about nine minutes on two
//!   cores); `-- --all` adds the long ones, `-- --shortest` prints breadth-first
//!   (shortest) counterexamples.

pub mod actions;
pub mod client;
pub mod configs;
pub mod handoff;
pub mod holding;
pub mod messages;
pub mod mint;
pub mod model;
pub mod node;
pub mod phase;
pub mod properties;
pub mod run;
pub mod setup;
pub mod state;
pub mod suite;
pub mod symmetry;
pub mod trace;

pub use model::{Action, Redlease};
pub use run::{Outcome, check};
pub use setup::{Mint, Restart, Setup};
pub use state::State;
