//! One demo worker: acquire, racy read-modify-write, release, repeat.
//!
//! The critical section is deliberately unsafe without the lock: it reads a counter
//! from Redis, sleeps, and writes the value plus one. Any overlap between two holders
//! loses an update, which the summary detects. Each section also records its fencing
//! token on the shared [`Board`], in the order the sections actually ran.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use redlease::LockManager;
use redlease::redis;

use crate::exit::{self, Failure};

/// The resource the workers contend for.
pub const RESOURCE: &str = "redlease-demo";
/// The counter key, on the first sandbox server.
const COUNTER_KEY: &str = "redlease-demo:counter";
/// Lease ttl: far longer than a critical section.
const TTL: Duration = Duration::from_secs(10);
/// How long one acquisition may wait before the worker gives up.
const WAIT: Duration = Duration::from_secs(30);
/// The pause between read and write that makes the counter racy.
const RACE_WINDOW: Duration = Duration::from_millis(2);
/// Non-critical work between sections, so the other workers get a turn.
const OUTSIDE: Duration = Duration::from_millis(1);
/// Largest latency the histogram records, in microseconds.
const MAX_LATENCY_US: u64 = 120_000_000;

/// What the workers share and the display and report read.
pub struct Board {
    /// Sections to run in total.
    pub sections: u32,
    claimed: AtomicU32,
    /// Sections completed (counter written while holding a valid lease).
    pub done: AtomicU32,
    /// Completed sections per worker.
    pub per_worker: Vec<AtomicU32>,
    /// Fencing tokens, in the order the critical sections ran.
    pub tokens: Mutex<Vec<u64>>,
    /// Acquire latency, in microseconds.
    pub latency: Mutex<Histogram<u64>>,
    /// Sections whose lease had expired by the time the counter was written.
    pub late: AtomicU32,
    /// What went wrong, per failed worker.
    pub errors: Mutex<Vec<String>>,
}

impl Board {
    /// An empty board for `sections` sections and `workers` workers.
    pub fn new(sections: u32, workers: usize) -> Result<Self, Failure> {
        let latency = Histogram::new_with_bounds(1, MAX_LATENCY_US, 3).map_err(|e| {
            Failure::new(
                exit::LOST,
                format!("cannot set up the latency histogram: {e}"),
            )
        })?;
        Ok(Board {
            sections,
            claimed: AtomicU32::new(0),
            done: AtomicU32::new(0),
            per_worker: (0..workers).map(|_| AtomicU32::new(0)).collect(),
            tokens: Mutex::new(Vec::new()),
            latency: Mutex::new(latency),
            late: AtomicU32::new(0),
            errors: Mutex::new(Vec::new()),
        })
    }

    /// Claim the next section; false once all are claimed.
    fn claim(&self) -> bool {
        self.claimed.fetch_add(1, Ordering::Relaxed) < self.sections
    }

    /// The most recent fencing token.
    pub fn last_token(&self) -> Option<u64> {
        self.tokens.lock().ok()?.last().copied()
    }

    fn fail(&self, worker: usize, error: String) {
        if let Ok(mut errors) = self.errors.lock() {
            errors.push(format!("worker {worker}: {error}"));
        }
    }
}

/// One contender, with its own manager (connections) like a separate process.
pub struct Worker {
    /// Its number, for the display.
    pub id: usize,
    /// The sandbox servers.
    pub servers: Vec<String>,
    /// The server holding the counter.
    pub counter_url: String,
    /// Shared results.
    pub board: std::sync::Arc<Board>,
}

impl Worker {
    /// Run sections until all are claimed; a failure is recorded on the board.
    pub async fn run(self) {
        if let Err(e) = self.sections().await {
            self.board.fail(self.id, e);
        }
    }

    async fn sections(&self) -> Result<(), String> {
        let manager = LockManager::builder()
            .servers(self.servers.clone())
            .ttl(TTL)
            .build()
            .await
            .map_err(|e| e.to_string())?;
        let mut counter = connect(&self.counter_url).await?;
        while self.board.claim() {
            let asked = Instant::now();
            let lease = manager
                .acquire_for(RESOURCE, TTL, WAIT)
                .await
                .map_err(|e| e.to_string())?;
            let waited = asked.elapsed();
            let section = self
                .critical_section(&mut counter, lease.fencing_token())
                .await;
            let valid = lease.is_valid();
            lease.release().await.map_err(|e| e.to_string())?;
            section?;
            if !valid {
                self.board.late.fetch_add(1, Ordering::Relaxed);
            }
            if let Ok(mut h) = self.board.latency.lock() {
                h.saturating_record(u64::try_from(waited.as_micros()).unwrap_or(u64::MAX).max(1));
            }
            self.board.done.fetch_add(1, Ordering::Relaxed);
            if let Some(mine) = self.board.per_worker.get(self.id) {
                mine.fetch_add(1, Ordering::Relaxed);
            }
            tokio::time::sleep(OUTSIDE).await;
        }
        Ok(())
    }

    /// GET, pause, SET + 1: correct only if no one else runs it meanwhile.
    async fn critical_section(
        &self,
        counter: &mut redis::aio::MultiplexedConnection,
        token: u64,
    ) -> Result<(), String> {
        let value: Option<u64> = redis::cmd("GET")
            .arg(COUNTER_KEY)
            .query_async(counter)
            .await
            .map_err(|e| format!("reading the counter: {e}"))?;
        if let Ok(mut tokens) = self.board.tokens.lock() {
            tokens.push(token);
        }
        tokio::time::sleep(RACE_WINDOW).await;
        let () = redis::cmd("SET")
            .arg(COUNTER_KEY)
            .arg(value.unwrap_or(0) + 1)
            .query_async(counter)
            .await
            .map_err(|e| format!("writing the counter: {e}"))?;
        Ok(())
    }
}

async fn connect(url: &str) -> Result<redis::aio::MultiplexedConnection, String> {
    let client = redis::Client::open(url).map_err(|e| format!("counter server: {e}"))?;
    client
        .get_multiplexed_async_connection()
        .await
        .map_err(|e| format!("connecting to the counter server: {e}"))
}

/// The counter's final value (None if it cannot be read).
pub async fn read_counter(url: &str) -> Option<u64> {
    let mut conn = connect(url).await.ok()?;
    let value: Option<u64> = redis::cmd("GET")
        .arg(COUNTER_KEY)
        .query_async(&mut conn)
        .await
        .ok()?;
    Some(value.unwrap_or(0))
}
