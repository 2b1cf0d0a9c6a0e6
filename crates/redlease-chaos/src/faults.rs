//! One cycle of each fault, as a script against the run [`Ctx`].
//!
//! The runner repeats a scenario's cycle until the workers have done enough
//! critical sections, so a longer run sees the fault more often rather than
//! a longer quiet tail. Every cycle ends healed, with some time for the
//! workers to make progress before the next round. Durations are multiples
//! of the lease ttl `T`: "longer than the ttl" is what makes leases expire,
//! renewals fail and waiters take over.

use std::io;
use std::time::Duration;

use rand::Rng;
use redlease_testkit::Direction;

use crate::ctx::Ctx;
use crate::scenario::Fault;

/// Plays one cycle of `fault`.
pub fn cycle(fault: Fault, ctx: &mut Ctx<'_>) -> io::Result<()> {
    let t = ctx.ttl;
    let f = ctx.tolerated();
    match fault {
        Fault::None | Fault::FastClock => ctx.sleep(t / 2),
        Fault::KillMinority => {
            let nodes = ctx.pick(f);
            ctx.kill(&nodes)?;
            ctx.sleep(t.mul_f64(1.2));
            ctx.restart(&nodes)?;
            ctx.sleep(t / 2);
        }
        Fault::KillMajority => {
            let nodes = ctx.pick(f + 1);
            ctx.kill(&nodes)?;
            ctx.sleep(t.mul_f64(1.5));
            ctx.restart(&nodes)?;
            ctx.sleep(t);
        }
        Fault::PauseNodes => {
            for (count, hold) in [(f, t.mul_f64(1.2)), (f + 1, t.mul_f64(1.5))] {
                if count == 0 {
                    continue;
                }
                let nodes = ctx.pick(count);
                ctx.pause(&nodes)?;
                ctx.sleep(hold);
                ctx.resume(&nodes)?;
                ctx.sleep(t / 2);
            }
        }
        Fault::Partition => {
            for (count, hold) in [(f, t.mul_f64(1.2)), (f + 1, t.mul_f64(1.5))] {
                if count == 0 {
                    continue;
                }
                let nodes = ctx.pick(count);
                ctx.partition(&nodes, true);
                ctx.sleep(hold);
                ctx.partition(&nodes, false);
                ctx.sleep(t / 2);
            }
        }
        Fault::Latency => latency(ctx, f),
        Fault::BlackHole => black_hole(ctx, f),
        Fault::ResetConnections => {
            let until = std::time::Instant::now() + t * 2;
            while std::time::Instant::now() < until && !ctx.out_of_time() {
                let count = if ctx.rng.random_ratio(1, 5) {
                    ctx.nodes()
                } else {
                    1
                };
                let nodes = ctx.pick(count);
                ctx.reset(&nodes);
                let gap = Duration::from_millis(ctx.rng.random_range(20..=150));
                ctx.sleep(gap);
            }
            ctx.sleep(t / 2);
        }
        Fault::RestartEmpty => {
            // f + 1 nodes forget everything within one ttl: more than the
            // quorum arithmetic alone tolerates, which is what delayed
            // restart is for.
            for i in ctx.pick(f + 1) {
                ctx.restart_empty(i)?;
                ctx.sleep(t / 4);
            }
            ctx.sleep(t.mul_f64(1.5));
        }
        Fault::RollingWipes => {
            // max_ttl is the ttl here; twice it covers the restart slack (2 node
            // timeouts + 250 ms) for every node timeout the runner allows (<= ttl / 4).
            for i in 0..ctx.nodes() {
                ctx.wipe(i)?;
                ctx.sleep(t * 2);
            }
        }
        Fault::PausedClient => {
            let victim = ctx.pauses as usize % ctx.fleet.len();
            ctx.pause_holder(victim, t * 5, t.mul_f64(2.5))?;
            ctx.sleep(t / 2);
        }
    }
    Ok(())
}

fn latency(ctx: &mut Ctx<'_>, f: usize) {
    let t = ctx.ttl;
    let all: Vec<usize> = (0..ctx.nodes()).collect();
    // Below the node timeout everywhere: slower, never failing.
    ctx.latency(&all, Direction::Both, Duration::from_millis(10));
    ctx.sleep(t);
    ctx.latency(&all, Direction::Both, Duration::ZERO);
    // Replies later than the node timeout from f nodes: the work is done,
    // the vote counts as failed.
    if f > 0 {
        let nodes = ctx.pick(f);
        ctx.latency(&nodes, Direction::ToClient, Duration::from_millis(250));
        ctx.sleep(t);
        ctx.latency(&nodes, Direction::Both, Duration::ZERO);
    }
    // A slow majority: unavailable, and every late request still lands.
    let nodes = ctx.pick(f + 1);
    ctx.latency(&nodes, Direction::Both, Duration::from_millis(120));
    ctx.sleep(t);
    ctx.latency(&nodes, Direction::Both, Duration::ZERO);
    ctx.sleep(t / 2);
}

fn black_hole(ctx: &mut Ctx<'_>, f: usize) {
    let t = ctx.ttl;
    if f > 0 {
        for direction in [Direction::ToClient, Direction::ToServer] {
            let nodes = ctx.pick(f);
            ctx.black_hole(&nodes, direction, true);
            ctx.sleep(t);
            ctx.black_hole(&nodes, direction, false);
            ctx.sleep(t / 4);
        }
    }
    let nodes = ctx.pick(f + 1);
    ctx.black_hole(&nodes, Direction::ToClient, true);
    ctx.sleep(t.mul_f64(1.2));
    ctx.black_hole(&nodes, Direction::ToClient, false);
    ctx.sleep(t / 2);
}
