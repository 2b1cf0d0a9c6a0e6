//! One critical section of a worker, recorded for the checker.
//!
//! Under the lease: keep it alive, read the fenced counter, work a while
//! (cut short if the lease is lost), check the lease is still valid, write
//! `counter + 1`, release. The record keeps the times on the shared clock,
//! the latest deadline the holder knew of and when it was told of a loss, so
//! the checker can tell a lock violation from a holder at fault.
//!
//! Some sections are different on purpose:
//! - **long**: the work outlasts the ttl, so renewal must keep the lease;
//! - **ride**: no renewal; the holder keeps the lease until it expires, which
//!   puts the deadline arithmetic (and the node clocks) to the test;
//! - **victim**: the holder announces it and waits to be frozen by the
//!   runner, then writes *without* checking the lease again, as a client
//!   paused between its check and its write would;
//! - **unasked** (half of the short ones, with fencing): the holder never asks
//!   for its token and only holds the lease (no fenced work). On several nodes
//!   the library mints a token in the acquisition only where the resource's
//!   last lease asked for one, so the leases after these mint theirs on demand:
//!   both ways of minting run under every fault.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::Rng;
use rand::rngs::StdRng;
use redlease::{Lease, LeaseHandle, LeaseState, LostReason};
use tokio::task::JoinHandle;

use crate::fence::Fenced;
use crate::history::{Event, FenceOutcome, Section};
use crate::mono;
use crate::worker::{WorkerConfig, emit};

/// How often the tracker samples the lease's deadline.
const SAMPLE_EVERY: Duration = Duration::from_millis(5);

/// What a section does besides the ordinary read-work-write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Short work, renewed.
    Short,
    /// Work longer than the ttl, renewed.
    Long,
    /// No renewal; hold until the lease expires.
    Ride,
    /// Wait to be paused while holding, then write without checking.
    Victim,
}

impl Kind {
    /// The kind of section number `seq`.
    pub fn pick(seq: u32, config: &WorkerConfig, pause_requested: bool) -> Kind {
        let every = |n: u32| n > 0 && seq % n == n - 1;
        if pause_requested {
            Kind::Victim
        } else if every(config.ride_every) {
            Kind::Ride
        } else if every(config.long_every) {
            Kind::Long
        } else {
            Kind::Short
        }
    }
}

/// Runs one critical section on `lease` and returns its record.
pub async fn run(
    config: &WorkerConfig,
    lease: Lease,
    call_ns: u64,
    seq: u32,
    kind: Kind,
    fenced: &mut Fenced,
    rng: &mut StdRng,
) -> Section {
    let start_ns = mono::now_ns();
    let handle = lease.handle();
    let tracker = Tracker::start(handle.clone());
    if kind != Kind::Ride {
        // Fails only without a runtime, which cannot happen here; the lease
        // would then expire and the record would show it.
        let _ = lease.keep_alive();
    }
    // On several nodes the token may be minted now, on demand: a lease that cannot get
    // one (lost meanwhile, too few nodes) does no work, and its record carries token 0.
    let unasked = config.fencing && kind == Kind::Short && rng.random_bool(0.5);
    let token = if unasked {
        None
    } else if config.fencing {
        lease.fencing_token().await.ok()
    } else {
        Some(0)
    };
    let ttl = config.ttl();
    let mut ops = Vec::new();
    if let Some(token) = token
        && handle.is_valid()
    {
        let read = fenced.read(token).await;
        let value = read.value;
        let readable = read.outcome == FenceOutcome::Accepted;
        ops.push(read);
        if readable {
            match kind {
                Kind::Victim => {
                    emit(&Event::Holding {
                        worker: config.worker,
                        seq,
                    });
                    // Frozen here by the runner, for longer than the ttl.
                    tokio::time::sleep(Duration::from_millis(config.pause_window_ms)).await;
                    ops.push(fenced.write(token, value + 1).await);
                }
                Kind::Short | Kind::Long | Kind::Ride => {
                    let work = if kind == Kind::Long {
                        ttl.mul_f64(1.1)
                    } else {
                        let (lo, hi) = config.hold_ms;
                        Duration::from_millis(rng.random_range(lo..=hi.max(lo)))
                    };
                    tokio::select! {
                        () = tokio::time::sleep(work) => {}
                        _ = handle.lost() => {}
                    }
                    if handle.is_valid() {
                        ops.push(fenced.write(token, value + 1).await);
                    }
                    if kind == Kind::Ride {
                        tokio::select! {
                            _ = handle.lost() => {}
                            () = tokio::time::sleep(ttl * 3) => {}
                        }
                    }
                }
            }
        }
    }
    if unasked {
        // Holds the lease as long as a short section works, without fenced work.
        let (lo, hi) = config.hold_ms;
        let work = Duration::from_millis(rng.random_range(lo..=hi.max(lo)));
        tokio::select! {
            () = tokio::time::sleep(work) => {}
            _ = handle.lost() => {}
        }
    }
    let end_ns = mono::now_ns();
    let believed_valid_at_end = handle.is_valid();
    let track = tracker.finish(&handle, end_ns);
    // Bounded: a release to unreachable nodes gives up after the node timeout anyway.
    let _ = tokio::time::timeout(ttl * 2, lease.release()).await;
    Section {
        worker: config.worker,
        seq,
        resource: config.resource.clone(),
        owner: handle.owner().to_owned(),
        token: token.unwrap_or(0),
        call_ns,
        start_ns,
        end_ns,
        valid_until_ns: track.valid_until_ns,
        lost_ns: track.lost.map(|(ns, _)| ns),
        lost_reason: track.lost.map(|(_, reason)| format!("{reason:?}")),
        believed_valid_at_end,
        ops,
    }
}

/// What the tracker learnt about one lease.
#[derive(Debug, Clone, Copy)]
struct Track {
    valid_until_ns: u64,
    lost: Option<(u64, LostReason)>,
}

/// The latest deadline seen, and when (and why) the loss was signalled.
type Seen = (Option<Instant>, Option<(u64, LostReason)>);

/// Follows a lease while the section runs: the latest deadline it had, and
/// when its holder was told it was lost.
struct Tracker {
    latest: Arc<Mutex<Seen>>,
    task: JoinHandle<()>,
}

impl Tracker {
    fn start(handle: LeaseHandle) -> Tracker {
        let latest = Arc::new(Mutex::new((handle.deadline(), None)));
        let shared = Arc::clone(&latest);
        let task = tokio::spawn(async move {
            let lost = handle.lost();
            tokio::pin!(lost);
            let mut tick = tokio::time::interval(SAMPLE_EVERY);
            loop {
                tokio::select! {
                    reason = &mut lost => {
                        if let Ok(mut l) = shared.lock() {
                            l.1 = Some((mono::now_ns(), reason));
                        }
                        return;
                    }
                    _ = tick.tick() => {
                        let deadline = handle.deadline();
                        if let Ok(mut l) = shared.lock() {
                            l.0 = l.0.max(deadline);
                        }
                    }
                }
            }
        });
        Tracker { latest, task }
    }

    /// Stops following; `end_ns` is when the work ended.
    fn finish(self, handle: &LeaseHandle, end_ns: u64) -> Track {
        self.task.abort();
        let (mut deadline, mut lost) = self.latest.lock().map(|l| *l).unwrap_or((None, None));
        match handle.state() {
            LeaseState::Held { deadline: d } => deadline = deadline.max(Some(d)),
            // Lost, but the tracker did not get to run: the holder learnt it
            // at the end at the latest.
            LeaseState::Lost(reason) if lost.is_none() => lost = Some((end_ns, reason)),
            _ => {}
        }
        Track {
            valid_until_ns: deadline.map_or(0, mono::instant_ns),
            lost,
        }
    }
}
