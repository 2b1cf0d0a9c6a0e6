//! The state of a run while faults are played: the cluster, the workers,
//! what they have recorded so far, and what is currently broken.
//!
//! Faults are written as plain sequences ("kill these, wait, restart them")
//! against this context. Waiting is never a bare sleep: [`Ctx::sleep`] keeps
//! reading the workers' events meanwhile, so their history is collected and
//! a worker that announces it holds the lease for a pause is frozen at once.
//! The context remembers which nodes are down or paused and which worker is
//! frozen, so [`Ctx::heal`] can undo everything at the end.

use std::collections::BTreeSet;
use std::io;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::seq::index;
use redlease_testkit::{Direction, ProxiedCluster};

use crate::fleet::{Fleet, Message};
use crate::history::{Event, History};

/// How long [`Ctx::sleep`] blocks at most between checks.
const POLL: Duration = Duration::from_millis(20);

/// A run in progress.
pub struct Ctx<'a> {
    /// The lock nodes and their proxies.
    pub cluster: &'a ProxiedCluster,
    /// The workers.
    pub fleet: &'a mut Fleet,
    /// Everything recorded so far.
    pub history: History,
    /// Random choices of the faults.
    pub rng: StdRng,
    /// The lease ttl of the run (faults are timed by it).
    pub ttl: Duration,
    /// Nodes killed and not restarted yet.
    killed: BTreeSet<usize>,
    /// Nodes paused and not resumed yet.
    paused: BTreeSet<usize>,
    /// Nodes cut off, black-holed or slowed down at their proxies.
    cut: BTreeSet<usize>,
    holed: BTreeSet<usize>,
    slow: BTreeSet<usize>,
    /// From when on how many nodes were up and reachable (shared clock, ns).
    reachability: Vec<(u64, usize)>,
    /// A worker asked to wait for its pause, not frozen yet.
    pause_wanted: Option<usize>,
    /// The frozen worker and since when.
    frozen: Option<(usize, Instant)>,
    /// Workers that are ready / whose output has closed.
    ready: BTreeSet<usize>,
    closed: BTreeSet<usize>,
    /// Pauses of a lease holder that took place.
    pub pauses: u32,
    /// Worker problems seen (failed events, garbage, early exits).
    pub problems: Vec<String>,
    /// When the run gives up, whatever happens.
    pub hard_deadline: Instant,
}

impl<'a> Ctx<'a> {
    /// A context over a started cluster and fleet.
    pub fn new(
        cluster: &'a ProxiedCluster,
        fleet: &'a mut Fleet,
        rng: StdRng,
        ttl: Duration,
        hard_deadline: Instant,
    ) -> Self {
        Ctx {
            cluster,
            fleet,
            history: History::default(),
            rng,
            ttl,
            killed: BTreeSet::new(),
            paused: BTreeSet::new(),
            cut: BTreeSet::new(),
            holed: BTreeSet::new(),
            slow: BTreeSet::new(),
            reachability: vec![(crate::mono::now_ns(), cluster.len())],
            pause_wanted: None,
            frozen: None,
            ready: BTreeSet::new(),
            closed: BTreeSet::new(),
            pauses: 0,
            problems: Vec::new(),
            hard_deadline,
        }
    }

    /// Number of lock nodes.
    pub fn nodes(&self) -> usize {
        self.cluster.len()
    }

    /// Faulty nodes tolerated: `N - Q`.
    pub fn tolerated(&self) -> usize {
        self.nodes() - redlease::protocol::quorum(self.nodes())
    }

    /// Records how many nodes are up and reachable from now on.
    fn note_reachability(&mut self) {
        let faulty: BTreeSet<usize> = self
            .killed
            .iter()
            .chain(&self.paused)
            .chain(&self.cut)
            .chain(&self.holed)
            .chain(&self.slow)
            .copied()
            .collect();
        let reachable = self.nodes() - faulty.len();
        self.reachability.push((crate::mono::now_ns(), reachable));
    }

    /// The fewest nodes the fault schedule had up and reachable at any moment from
    /// `from_ns` to `to_ns` (a node with any fault on it counts as unreachable, also a
    /// merely slowed one: the schedule errs towards excusing the library).
    pub fn reachable_between(&self, from_ns: u64, to_ns: u64) -> usize {
        fewest_between(&self.reachability, from_ns, to_ns).unwrap_or(self.nodes())
    }

    /// `k` distinct random nodes.
    pub fn pick(&mut self, k: usize) -> Vec<usize> {
        let n = self.nodes();
        let mut picked = index::sample(&mut self.rng, n, k.min(n)).into_vec();
        picked.sort_unstable();
        picked
    }

    /// Whether the run is out of time.
    pub fn out_of_time(&self) -> bool {
        Instant::now() >= self.hard_deadline
    }

    /// Waits `duration` (cut short at the hard deadline) while handling the
    /// workers' events.
    pub fn sleep(&mut self, duration: Duration) {
        let until = (Instant::now() + duration).min(self.hard_deadline);
        self.pump_until(until, |_| false);
    }

    /// Waits until `done` holds or `limit` passes; returns whether it held.
    pub fn wait_for(&mut self, limit: Duration, done: impl Fn(&Ctx<'_>) -> bool) -> bool {
        let until = (Instant::now() + limit).min(self.hard_deadline);
        self.pump_until(until, done)
    }

    fn pump_until(&mut self, until: Instant, done: impl Fn(&Ctx<'_>) -> bool) -> bool {
        loop {
            if done(self) {
                return true;
            }
            let now = Instant::now();
            if now >= until {
                return false;
            }
            if let Some((i, message)) = self.fleet.next((until - now).min(POLL)) {
                self.handle(i, message);
            }
        }
    }

    /// Reads whatever the workers still have to say (after they stopped).
    pub fn drain(&mut self, limit: Duration) {
        let until = Instant::now() + limit;
        while Instant::now() < until {
            match self.fleet.next(POLL) {
                Some((i, message)) => self.handle(i, message),
                None if self.closed.len() == self.fleet.len() => return,
                None => {}
            }
        }
    }

    fn handle(&mut self, i: usize, message: Message) {
        match message {
            Message::Event(event) => {
                self.history.record(&event);
                match event {
                    Event::Ready { .. } => {
                        self.ready.insert(i);
                    }
                    Event::Holding { .. } if self.pause_wanted == Some(i) => {
                        self.pause_wanted = None;
                        match self.fleet.freeze(i) {
                            Ok(()) => self.frozen = Some((i, Instant::now())),
                            Err(e) => self.problems.push(format!("cannot freeze worker {i}: {e}")),
                        }
                    }
                    Event::Failed { message, .. } => {
                        self.problems.push(format!("worker {i} failed: {message}"));
                    }
                    _ => {}
                }
            }
            Message::Garbage(line) => self
                .problems
                .push(format!("worker {i} wrote a stray line: {line}")),
            Message::Closed => {
                self.closed.insert(i);
            }
        }
    }

    /// Whether every worker said it is ready.
    pub fn all_ready(&self) -> bool {
        self.ready.len() == self.fleet.len()
    }

    /// Workers whose output closed before they were told to stop.
    pub fn exited(&self) -> &BTreeSet<usize> {
        &self.closed
    }

    // ---- node faults --------------------------------------------------

    /// SIGKILLs `nodes`.
    pub fn kill(&mut self, nodes: &[usize]) -> io::Result<()> {
        for &i in nodes {
            self.cluster.node(i).kill()?;
            self.killed.insert(i);
        }
        self.note_reachability();
        Ok(())
    }

    /// Restarts `nodes` (with their data when the cluster persists).
    pub fn restart(&mut self, nodes: &[usize]) -> io::Result<()> {
        for &i in nodes {
            self.cluster.node(i).restart()?;
            self.killed.remove(&i);
            self.paused.remove(&i);
        }
        self.note_reachability();
        Ok(())
    }

    /// Restarts node `i` without its data.
    pub fn restart_empty(&mut self, i: usize) -> io::Result<()> {
        self.cluster.node(i).restart_empty()?;
        self.killed.remove(&i);
        self.paused.remove(&i);
        self.note_reachability();
        Ok(())
    }

    /// Makes node `i` forget everything while it keeps running (`FLUSHALL`): it stays
    /// up and reachable, and delayed restart holds it back.
    pub fn wipe(&mut self, i: usize) -> io::Result<()> {
        self.cluster.node(i).wipe()
    }

    /// SIGSTOPs `nodes`.
    pub fn pause(&mut self, nodes: &[usize]) -> io::Result<()> {
        for &i in nodes {
            self.cluster.node(i).pause()?;
            self.paused.insert(i);
        }
        self.note_reachability();
        Ok(())
    }

    /// SIGCONTs `nodes`.
    pub fn resume(&mut self, nodes: &[usize]) -> io::Result<()> {
        for &i in nodes {
            self.cluster.node(i).resume()?;
            self.paused.remove(&i);
        }
        self.note_reachability();
        Ok(())
    }

    /// Cuts `nodes` off at their proxies, or lets them back in.
    pub fn partition(&mut self, nodes: &[usize], on: bool) {
        for &i in nodes {
            self.cluster.proxy(i).partition(on);
            mark(&mut self.cut, i, on);
        }
        self.note_reachability();
    }

    /// Sets the latency of `nodes`' links.
    pub fn latency(&mut self, nodes: &[usize], direction: Direction, latency: Duration) {
        for &i in nodes {
            self.cluster.proxy(i).set_latency(direction, latency);
            mark(&mut self.slow, i, !latency.is_zero());
        }
        self.note_reachability();
    }

    /// Black-holes one direction of `nodes`' links, or ends it.
    pub fn black_hole(&mut self, nodes: &[usize], direction: Direction, on: bool) {
        for &i in nodes {
            self.cluster.proxy(i).black_hole(direction, on);
            mark(&mut self.holed, i, on);
        }
        self.note_reachability();
    }

    /// Resets every connection to `nodes`.
    pub fn reset(&self, nodes: &[usize]) {
        for &i in nodes {
            self.cluster.proxy(i).reset_all();
        }
    }

    // ---- client pauses ------------------------------------------------

    /// Asks worker `i` to hold its next lease until frozen, waits for that
    /// (up to `limit`), keeps it frozen for `pause`, then thaws it. Returns
    /// whether the pause took place.
    pub fn pause_holder(&mut self, i: usize, limit: Duration, pause: Duration) -> io::Result<bool> {
        self.fleet.request_pause(i)?;
        self.pause_wanted = Some(i);
        let caught = self.wait_for(limit, |ctx| ctx.frozen.is_some());
        self.pause_wanted = None;
        if !caught {
            return Ok(false);
        }
        self.sleep(pause);
        self.thaw()?;
        self.pauses += 1;
        Ok(true)
    }

    fn thaw(&mut self) -> io::Result<()> {
        if let Some((i, _)) = self.frozen.take() {
            self.fleet.thaw(i)?;
        }
        Ok(())
    }

    /// Undoes every fault: workers thawed, nodes resumed and restarted,
    /// proxies back to pass-through.
    pub fn heal(&mut self) -> io::Result<()> {
        self.thaw()?;
        let paused: Vec<usize> = self.paused.iter().copied().collect();
        self.resume(&paused)?;
        let killed: Vec<usize> = self.killed.iter().copied().collect();
        self.restart(&killed)?;
        self.cluster.heal();
        self.cut.clear();
        self.holed.clear();
        self.slow.clear();
        self.note_reachability();
        Ok(())
    }
}

/// The smallest count in force at any moment from `from_ns` to `to_ns`, in a log of
/// `(since_ns, count)` entries sorted by time (`None`: the log starts after `to_ns`).
fn fewest_between(log: &[(u64, usize)], from_ns: u64, to_ns: u64) -> Option<usize> {
    let before = log.partition_point(|&(at, _)| at <= from_ns);
    log[before.saturating_sub(1)..]
        .iter()
        .take_while(|&&(at, _)| at <= to_ns)
        .map(|&(_, count)| count)
        .min()
}

fn mark(set: &mut BTreeSet<usize>, i: usize, on: bool) {
    if on {
        set.insert(i);
    } else {
        set.remove(&i);
    }
}

#[cfg(test)]
mod tests {
    use super::fewest_between;

    #[test]
    fn the_fewest_reachable_nodes_over_a_call() {
        let log = [(10, 5), (20, 3), (30, 5), (40, 4)];
        assert_eq!(fewest_between(&log, 12, 18), Some(5));
        assert_eq!(fewest_between(&log, 12, 25), Some(3));
        assert_eq!(fewest_between(&log, 25, 29), Some(3));
        assert_eq!(fewest_between(&log, 31, 35), Some(5));
        assert_eq!(fewest_between(&log, 45, 99), Some(4));
        assert_eq!(fewest_between(&log, 1, 5), None);
    }
}
