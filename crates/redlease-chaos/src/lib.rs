//! # redlease-chaos: the fault-injection suite
//!
//! Unit tests show that the protocol's arithmetic is right; this crate shows
//! what the library does when the world is not: real `redis-server`s that
//! are killed, frozen, cut off, slowed down, restarted empty or run on a fast
//! clock, and clients frozen while they hold a lease. Several worker
//! processes take turns on one resource; each critical section reads a
//! counter on a separate, fenced redis-server and writes it back plus one.
//! Every section is recorded on one monotonic clock, and a checker then
//! looks for what must never happen.
//!
//! ## Running it
//!
//! ```text
//! cargo test -p redlease-chaos                          # short suite: ~30 sections per scenario, asserts
//! cargo run --release -p redlease-chaos                 # the table, 200 sections per scenario, N = 5 and 1
//! cargo run --release -p redlease-chaos -- --nodes 5 --sections 500 --json
//! cargo run --release -p redlease-chaos -- --scenario paused-client --scenario latency
//! cargo run --release -p redlease-chaos -- list         # the scenarios and probes, and what they do
//! cargo run --release -p redlease-chaos -- probe        # every probe (see [`probe`])
//! cargo run --release -p redlease-chaos -- probe shortening-extend --rounds 5
//! cargo run --release -p redlease-chaos -- --nodes 5 --scenario rolling-wipes --scenario client-clock-skew
//! cargo run --release -p redlease-chaos -- --nodes 5 --no-fencing   # unfenced workers: mutual exclusion only
//! ```
//!
//! Needs `redis-server` and `faketime` (`scripts/ensure-redis.sh` installs
//! both). Everything runs on loopback; every process is stopped by pid when
//! its run ends. The binary exits with status 1 if a promise was broken.
//!
//! ## The table
//!
//! | column | meaning |
//! |---|---|
//! | `promise` | `yes`: the protocol promises zero in every column but `avail` and `p99`; `no*`: mutual exclusion is not promised (why is printed below the table), but the fence must still hold |
//! | `sections` | critical sections completed (all workers) |
//! | `viol` | mutual-exclusion violations: pairs of sections whose leases were both live (within the holder's own deadline, not yet reported lost) at the same time |
//! | `tok` | fencing tokens out of order: a lease acquired after another was granted without a greater token, or two leases with one token |
//! | `stale+` | accesses the fenced resource *accepted* although a greater token had been acknowledged before they were sent |
//! | `stale-` | accesses the fenced resource rejected for a stale token (the fence at work) |
//! | `late` | accesses sent after the holder's own deadline: the holder's fault (paused client), which the fence has to catch |
//! | `lost!` | sections whose holder was told its lease was lost (fine: loud loss) |
//! | `lost?` | leases lost without the holder being told: it believed the lease valid past its deadline, or while another holder had it |
//! | `upd` | lost updates: writes the resource accepted minus the final counter |
//! | `avail` | successful acquire calls / acquire calls (each call retries for up to 1.5 ttl; losing to another holder counts as a failure too) |
//! | `unav` | acquire calls that failed because fewer than a quorum of nodes answered |
//! | `unav?` | of those, calls where a quorum did answer and the fault schedule had a quorum reachable: busy reported as unavailable ([`check::unavailable`]); must be 0 in every row |
//! | `share` | the largest share of the critical sections one worker had; judged in `client-clock-skew` (bound [`scenario::BUSIEST_SHARE_BOUND`]) |
//! | `p99` | 99th percentile latency of successful acquire calls |
//!
//! Timing columns (`avail`, `p99`, `time`) are measured, never asserted: a
//! loaded two-core machine changes them, not the behaviour.
//!
//! ## What is promised
//!
//! With at most `f = N - Q` nodes faulty (crashed, frozen, cut off, slow,
//! dropping packets), and node clocks within the drift factor: no
//! violation, tokens in order, no unsignalled loss. Killing, freezing or
//! cutting off a *majority* costs availability, never safety (restarts keep
//! their data). A majority of nodes restarted *empty* within one ttl is safe
//! thanks to delayed restart; without it, or with N = 1 (which delayed
//! restart cannot protect), mutual exclusion may break: those rows are
//! marked, as is a majority of node clocks 50 % fast. Whatever happens, the
//! fenced resource never accepts a stale access and no update is lost.
//!
//! ## Layout
//!
//! | module | what lives there |
//! |---|---|
//! | [`mono`] | one monotonic clock for all processes |
//! | [`history`] | the records and the worker's JSON-lines events |
//! | [`check`] | the checker (pure, unit-tested on hand-made histories) |
//! | [`fence`] | the fenced counter: Lua script and client |
//! | [`worker`], [`section`] | the worker process and one critical section |
//! | [`fleet`] | starting, pausing and stopping worker processes |
//! | [`scenario`] | the scenarios and their promises |
//! | [`faults`], [`ctx`] | one cycle of each fault, and the run state they act on |
//! | [`run`] | one scenario end to end |
//! | [`probe`] | precise sequences played in-process (shortening extends, rolling wipes, departed waiters, half-open subscribers) |
//! | [`report`] | the table, JSON rows and verdicts |

#![deny(missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod check;
pub mod ctx;
pub mod faults;
pub mod fence;
pub mod fleet;
pub mod history;
pub mod mono;
pub mod probe;
pub mod report;
pub mod run;
pub mod scenario;
pub mod section;
pub mod worker;
