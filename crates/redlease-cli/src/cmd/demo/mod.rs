//! `redlease demo`: redlease at work, checked, in one command.
//!
//! This is the README's first command, so it needs nothing but `redis-server`: it starts
//! its own sandbox, runs workers (each with its own [`redlease::LockManager`], as
//! separate processes would) that contend for one resource, shows progress, and ends
//! with checks a skeptic can read: no lost updates on a deliberately racy counter,
//! fencing tokens strictly increasing in the order the critical sections ran, and
//! acquire latency percentiles.
//!
//! - `worker`: one contender's loop and the racy critical section;
//! - `progress`: the live display (a bar on a terminal, plain lines otherwise);
//! - `report`: the checks and the summary.

mod progress;
mod report;
mod worker;

use std::sync::Arc;
use std::time::Instant;

use redlease_testkit::workload::RacyCounter;
use tokio::task::JoinSet;

use crate::cli::DemoArgs;
use crate::exit::{self, Failure};
use crate::signals::{self, Signals};

use self::worker::{Board, Worker};

/// Start a sandbox, run the workers, print the summary.
pub async fn run(args: &DemoArgs) -> Result<u8, Failure> {
    let mut signals = Signals::install().map_err(|e| {
        Failure::new(
            exit::INTERNAL,
            format!("cannot install signal handlers: {e}"),
        )
    })?;
    // A sandbox of its own, or the servers given (any node kind: the counter then lives
    // in this process, where every worker runs).
    let (cluster, urls, counter) = match &args.servers {
        Some(given) => (
            None,
            redlease::config::rejoin_server_list(given),
            RacyCounter::in_memory(),
        ),
        None => {
            let cluster = crate::local::start(usize::from(args.nodes), None)?;
            let urls = cluster.urls();
            let counter_url = urls
                .first()
                .cloned()
                .ok_or_else(|| Failure::new(exit::INTERNAL, "the sandbox started no server"))?;
            let counter = RacyCounter::on_redis(&counter_url, worker::COUNTER_KEY)
                .await
                .map_err(|e| Failure::new(exit::UNAVAILABLE, format!("sandbox counter: {e}")))?;
            (Some(cluster), urls, counter)
        }
    };
    if urls.is_empty() {
        return Err(Failure::new(
            exit::USAGE,
            "--servers (or REDLEASE_DEMO_SERVERS) is empty; give one or more URLs, or leave it out for a sandbox",
        ));
    }
    let board = Arc::new(Board::new(
        args.sections,
        usize::from(args.workers),
        counter,
    ));
    let started = Instant::now();
    let mut workers = JoinSet::new();
    for id in 0..usize::from(args.workers) {
        let worker = Worker {
            id,
            servers: urls.clone(),
            board: Arc::clone(&board),
        };
        workers.spawn(worker.run());
    }
    let mut display = progress::Display::new(&board, args, urls.len());
    let interrupted = tokio::select! {
        () = display.follow(&board, &mut workers) => None,
        signal = signals.recv() => Some(signal),
    };
    display.finish();
    if let Some(signal) = interrupted {
        workers.abort_all();
        drop(cluster);
        return Err(Failure::new(
            exit::of_signal(signal),
            format!(
                "demo interrupted by {}; sandbox servers stopped",
                signals::name(signal)
            ),
        ));
    }
    let verdict = board.counter.verdict().await;
    drop(cluster);
    let summary = report::Summary::new(&board, args, urls.len(), verdict, started.elapsed());
    summary.print()?;
    Ok(if summary.passed() {
        exit::OK
    } else {
        exit::NOT_HELD
    })
}
