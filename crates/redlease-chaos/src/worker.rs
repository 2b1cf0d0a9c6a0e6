//! A worker process: acquires the resource over and over, does a critical
//! section each time, and reports everything on stdout.
//!
//! Workers are separate processes (the crate's own binary, `redlease-chaos
//! worker`) because one fault needs a whole client to freeze: SIGSTOP stops
//! the holder's renewal task along with its work, as a long GC pause or swap
//! storm would. The runner talks to a worker through its pipes only:
//!
//! - stdout: one JSON [`Event`] per line;
//! - stdin: `pause-next` (make the next section wait to be paused while
//!   holding the lease), and end of file (stop after the current section).
//!
//! A worker that loses its parent (broken stdout, closed stdin) stops by
//! itself; the kernel also kills it when its parent dies.

use std::io::{self, BufRead, Write};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use rand::SeedableRng;
use rand::rngs::StdRng;
use redlease::{ErrorKind, LockManager};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::check::unavailable::FailureDetail;
use crate::fence::Fenced;
use crate::history::{AcquireCall, Event};
use crate::mono;
use crate::section::{self, Kind};

/// How a worker runs; passed as JSON on its command line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerConfig {
    /// Worker number within the run.
    pub worker: u32,
    /// Lock node URLs (the proxies).
    pub servers: Vec<String>,
    /// The fenced resource's server.
    pub fenced_url: String,
    /// The resource every worker locks.
    pub resource: String,
    /// Lease ttl.
    pub ttl_ms: u64,
    /// Per-node timeout.
    pub node_timeout_ms: u64,
    /// Acquire wait budget.
    pub wait_ms: u64,
    /// Upper bound on ttls, and the delayed-restart hold-back.
    pub max_ttl_ms: u64,
    /// In-band delayed restart on or off.
    pub delayed_restart: bool,
    /// Fencing tokens on or off.
    pub fencing: bool,
    /// Shortest and longest work in an ordinary section.
    pub hold_ms: (u64, u64),
    /// Every this many sections, hold for longer than the ttl (renewal at
    /// work); 0: never.
    pub long_every: u32,
    /// Every this many sections, do not renew and hold until the lease
    /// expires (the deadline at work); 0: never.
    pub ride_every: u32,
    /// How long a section asked to be paused waits for the SIGSTOP.
    pub pause_window_ms: u64,
    /// Seed of the worker's random choices.
    pub seed: u64,
}

impl WorkerConfig {
    /// Lease ttl.
    pub fn ttl(&self) -> Duration {
        Duration::from_millis(self.ttl_ms)
    }
}

/// Writes one event line; a worker whose parent is gone exits.
pub fn emit(event: &Event) {
    let Ok(line) = serde_json::to_string(event) else {
        return;
    };
    let mut out = io::stdout().lock();
    if writeln!(out, "{line}").and_then(|()| out.flush()).is_err() {
        std::process::exit(0);
    }
}

/// The `worker` subcommand.
pub fn main(config: &str) -> ExitCode {
    let config: WorkerConfig = match serde_json::from_str(config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("redlease-chaos worker: bad --config: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("redlease-chaos worker: no runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let (stop_tx, stop) = watch::channel(false);
    let pause = Arc::new(AtomicBool::new(false));
    listen_to_parent(stop_tx, Arc::clone(&pause));
    let worker = config.worker;
    match runtime.block_on(run(config, stop, pause)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            emit(&Event::Failed { worker, message });
            ExitCode::FAILURE
        }
    }
}

/// Reads commands from stdin on a thread of its own.
fn listen_to_parent(stop: watch::Sender<bool>, pause: Arc<AtomicBool>) {
    let spawned = std::thread::Builder::new()
        .name("stdin".into())
        .spawn(move || {
            for line in io::stdin().lock().lines() {
                match line.as_deref().map(str::trim) {
                    Ok("pause-next") => pause.store(true, Ordering::SeqCst),
                    Ok("stop") | Err(_) => break,
                    Ok(_) => {}
                }
            }
            let _ = stop.send(true);
        });
    if spawned.is_err() {
        eprintln!("redlease-chaos worker: cannot read stdin; running until killed");
    }
}

async fn run(
    config: WorkerConfig,
    mut stop: watch::Receiver<bool>,
    pause: Arc<AtomicBool>,
) -> Result<(), String> {
    let manager = LockManager::builder()
        .servers(config.servers.clone())
        .ttl(config.ttl())
        .node_timeout(Duration::from_millis(config.node_timeout_ms))
        .wait(Duration::from_millis(config.wait_ms))
        .max_ttl(Duration::from_millis(config.max_ttl_ms))
        .delayed_restart(config.delayed_restart)
        .fencing(config.fencing)
        .build()
        .await
        .map_err(|e| format!("lock manager: {e}"))?;
    let mut fenced = Fenced::connect(&config.fenced_url).await?;
    emit(&Event::Ready {
        worker: config.worker,
        pid: std::process::id(),
    });
    let mut rng = StdRng::seed_from_u64(config.seed);
    let mut seq: u32 = 0;
    while !*stop.borrow() {
        let call_ns = mono::now_ns();
        let acquired = tokio::select! {
            result = manager.acquire(&config.resource) => result,
            _ = stop.changed() => break,
        };
        emit(&Event::Acquire(AcquireCall {
            worker: config.worker,
            call_ns,
            latency_ns: mono::now_ns().saturating_sub(call_ns),
            error: acquired.as_ref().err().map(|e| kind_name(e.kind())),
            failure: acquired
                .as_ref()
                .err()
                .map(|e| FailureDetail::of(e, config.servers.len())),
        }));
        let lease = match acquired {
            Ok(lease) => lease,
            Err(e) if e.is_retryable() => continue,
            Err(e) => return Err(format!("acquire: {e}")),
        };
        let kind = Kind::pick(seq, &config, pause.swap(false, Ordering::SeqCst));
        let section = section::run(&config, lease, call_ns, seq, kind, &mut fenced, &mut rng).await;
        emit(&Event::Section(section));
        seq = seq.wrapping_add(1);
    }
    Ok(())
}

fn kind_name(kind: ErrorKind) -> String {
    match kind {
        ErrorKind::Busy => "busy",
        ErrorKind::Unavailable => "unavailable",
        ErrorKind::ValiditySpent => "validity_spent",
        ErrorKind::Lost => "lost",
        ErrorKind::InvalidArgument => "invalid_argument",
        _ => "other",
    }
    .to_owned()
}
