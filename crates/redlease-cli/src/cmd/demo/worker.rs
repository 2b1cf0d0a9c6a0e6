//! One demo worker: acquire, racy read-modify-write, release, repeat.
//!
//! The critical section is the test kit's racy counter (see
//! [`redlease_testkit::workload`]) on the first sandbox server: it reads the counter, pauses,
//! and writes the value plus one, so any overlap between two holders loses an update, and
//! its referee records the fencing tokens in the order the sections ran. The board holds
//! what the display and the report read.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use redlease::LockManager;
use redlease_testkit::workload::{Latencies, RacyCounter};

/// The resource the workers contend for.
pub const RESOURCE: &str = "redlease-demo";
/// The counter key, on the first sandbox server.
pub const COUNTER_KEY: &str = "redlease-demo:counter";
/// Lease ttl: far longer than a critical section.
const TTL: Duration = Duration::from_secs(10);
/// How long one acquisition may wait before the worker gives up.
const WAIT: Duration = Duration::from_secs(30);
/// The pause between read and write that makes the counter racy.
const RACE_WINDOW: Duration = Duration::from_millis(2);
/// Non-critical work between sections, so the other workers get a turn.
const OUTSIDE: Duration = Duration::from_millis(1);

/// What the workers share and the display and report read.
pub struct Board {
    /// Sections to run in total.
    pub sections: u32,
    claimed: AtomicU32,
    /// The racy counter and its referee (sections done, tokens, overlaps, late ones).
    pub counter: RacyCounter,
    /// Completed sections per worker.
    pub per_worker: Vec<AtomicU32>,
    /// Acquire latency.
    pub latency: Mutex<Latencies>,
    /// What went wrong, per failed worker.
    pub errors: Mutex<Vec<String>>,
}

impl Board {
    /// An empty board for `sections` sections and `workers` workers.
    pub fn new(sections: u32, workers: usize, counter: RacyCounter) -> Self {
        Board {
            sections,
            claimed: AtomicU32::new(0),
            counter,
            per_worker: (0..workers).map(|_| AtomicU32::new(0)).collect(),
            latency: Mutex::new(Latencies::new()),
            errors: Mutex::new(Vec::new()),
        }
    }

    /// Claim the next section; false once all are claimed.
    fn claim(&self) -> bool {
        self.claimed.fetch_add(1, Ordering::Relaxed) < self.sections
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
        while self.board.claim() {
            let asked = Instant::now();
            let lease = manager
                .acquire_for(RESOURCE, TTL, WAIT)
                .await
                .map_err(|e| e.to_string())?;
            // Several nodes: minted now, on demand, and counted in the wait.
            let token = lease.fencing_token().await.map_err(|e| e.to_string())?;
            let waited = asked.elapsed();
            let section = self
                .board
                .counter
                .section(token, RACE_WINDOW, || lease.is_valid())
                .await;
            lease.release().await.map_err(|e| e.to_string())?;
            section.map_err(|e| e.to_string())?;
            if let Ok(mut latency) = self.board.latency.lock() {
                latency.record(waited);
            }
            if let Some(mine) = self.board.per_worker.get(self.id) {
                mine.fetch_add(1, Ordering::Relaxed);
            }
            tokio::time::sleep(OUTSIDE).await;
        }
        Ok(())
    }
}
