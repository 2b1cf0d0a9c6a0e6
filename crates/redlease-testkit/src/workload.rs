//! The one workload every part of redlease checks a lock with: a racy counter, the
//! fencing-token order, overlap detection, and latency percentiles.
//!
//! A lock is only shown to work by work that breaks without it. The critical section here
//! is a deliberately **non-atomic** read-modify-write of a counter (read, let others run,
//! write the value read plus one): two holders inside at once lose an update. Around it a
//! referee counts entries while someone else is inside (overlaps), records the fencing
//! tokens in the order the sections were entered (they must grow strictly), and counts
//! sections whose lease had run out by the time they wrote (late). The library's tests,
//! the `redlease demo`, the benchmarks and the chaos suite all use this one
//! implementation, so a fix or a new check lands everywhere at once.
//!
//! The module knows nothing of redlease (it cannot: redlease's own tests depend on this
//! crate): a section takes the fencing token as a `u64` and a closure that says whether the
//! lease is still valid.
//!
//! ```no_run
//! use std::time::Duration;
//! use redlease_testkit::workload::{Latencies, RacyCounter};
//!
//! # async fn example(url: &str) -> std::io::Result<()> {
//! let counter = RacyCounter::on_redis(url, "demo:counter").await?; // one per resource
//! let mut waits = Latencies::new();
//! // In each worker, for each section (the clone shares the counter and the referee):
//! let worker = counter.clone();
//! # let (token, waited) = (1u64, Duration::from_millis(3));
//! // ... acquire the lock, measuring `waited`, and read its fencing `token` ...
//! waits.record(waited);
//! worker.section(token, Duration::from_millis(2), || true /* lease.is_valid() */).await?;
//! // ... release the lock ...
//! let verdict = counter.verdict().await?;
//! assert!(verdict.passed(), "{verdict:?}");
//! println!("acquire wait {}", waits.summary().map(|s| s.to_string()).unwrap_or_default());
//! # Ok(()) }
//! ```
//!
//! [`FencedCounter`] is the other half of fencing: a counter that checks the token itself
//! (as a store protected by a lock should), refusing any access with a token below the
//! highest it has seen.

use std::fmt;
use std::io;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hdrhistogram::Histogram;
use redis::aio::MultiplexedConnection;

/// How long one Redis command of the workload may take before it counts as failed.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(5);

/// Milliseconds in `d`, saturated at `u64::MAX`.
pub fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Microseconds in `d`, saturated at `u64::MAX`.
pub fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// Where the counter lives.
#[derive(Clone)]
enum Store {
    /// In this process: measures the lock alone (benchmarks), no extra round trips.
    Memory(Arc<AtomicU64>),
    /// A key on a real Redis server: what separate processes would share.
    Redis {
        conn: MultiplexedConnection,
        key: String,
    },
}

/// The referee's books, shared by every clone of a [`RacyCounter`].
#[derive(Default)]
struct Referee {
    /// Sections inside right now.
    inside: AtomicUsize,
    overlaps: AtomicU64,
    completed: AtomicU64,
    late: AtomicU64,
    /// Fencing tokens (non-zero) in the order the sections were entered.
    tokens: Mutex<Vec<u64>>,
    /// Sections entered with token 0 (an unfenced lock): not part of the order check.
    unfenced: AtomicU64,
}

/// Leaves the section on drop, so an error or a cancelled future cannot leave the referee
/// believing someone is still inside.
struct Inside<'a>(&'a Referee);

impl Drop for Inside<'_> {
    fn drop(&mut self) {
        self.0.inside.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A counter whose increment is correct only under mutual exclusion, with a referee.
///
/// Cheap to clone; clones share the counter and the referee, so give one clone to each
/// worker contending for the same resource, and use one `RacyCounter` per resource.
#[derive(Clone)]
pub struct RacyCounter {
    store: Store,
    referee: Arc<Referee>,
}

impl fmt::Debug for RacyCounter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let place = match &self.store {
            Store::Memory(_) => "memory".to_owned(),
            Store::Redis { key, .. } => format!("redis key {key:?}"),
        };
        f.debug_struct("RacyCounter")
            .field("store", &place)
            .field("completed", &self.completed())
            .finish()
    }
}

impl RacyCounter {
    /// A counter in this process's memory (starts at 0).
    pub fn in_memory() -> Self {
        RacyCounter {
            store: Store::Memory(Arc::default()),
            referee: Arc::default(),
        }
    }

    /// A counter on `key` of the Redis server at `url`, set to 0 now.
    pub async fn on_redis(url: &str, key: &str) -> io::Result<Self> {
        let client = redis::Client::open(url)
            .map_err(|e| io::Error::other(format!("racy counter at {url}: {e}")))?;
        let conn = timed(
            &format!("connecting to {url}"),
            client.get_multiplexed_async_connection(),
        )
        .await?;
        let counter = RacyCounter {
            store: Store::Redis {
                conn,
                key: key.to_owned(),
            },
            referee: Arc::default(),
        };
        counter.write(0).await?;
        Ok(counter)
    }

    /// One critical section, run while holding the lock with fencing `token` (0 for a lock
    /// without tokens): enter, read the counter, yield and sleep `hold`, write it plus one,
    /// then ask `still_valid` whether the lease was still valid at the write (a section that
    /// was not counts as late), leave.
    ///
    /// An error (the Redis counter unreachable) leaves the section without counting it.
    pub async fn section(
        &self,
        token: u64,
        hold: Duration,
        still_valid: impl FnOnce() -> bool,
    ) -> io::Result<()> {
        let referee = &*self.referee;
        if referee.inside.fetch_add(1, Ordering::SeqCst) != 0 {
            referee.overlaps.fetch_add(1, Ordering::SeqCst);
        }
        let inside = Inside(referee);
        if token == 0 {
            referee.unfenced.fetch_add(1, Ordering::Relaxed);
        } else if let Ok(mut tokens) = referee.tokens.lock() {
            tokens.push(token);
        }
        let seen = self.read().await?;
        tokio::task::yield_now().await;
        if !hold.is_zero() {
            tokio::time::sleep(hold).await;
        }
        self.write(seen + 1).await?;
        if !still_valid() {
            referee.late.fetch_add(1, Ordering::SeqCst);
        }
        referee.completed.fetch_add(1, Ordering::SeqCst);
        drop(inside);
        Ok(())
    }

    /// Sections completed so far (for progress displays).
    pub fn completed(&self) -> u64 {
        self.referee.completed.load(Ordering::SeqCst)
    }

    /// The most recent fencing token recorded.
    pub fn last_token(&self) -> Option<u64> {
        self.referee
            .tokens
            .lock()
            .ok()
            .and_then(|t| t.last().copied())
    }

    /// The fencing tokens, in the order the sections were entered (token 0 left out).
    pub fn tokens(&self) -> Vec<u64> {
        self.referee
            .tokens
            .lock()
            .map(|t| t.clone())
            .unwrap_or_default()
    }

    /// The counter's current value.
    pub async fn value(&self) -> io::Result<u64> {
        self.read().await
    }

    /// Read the counter and give the verdict on every section so far.
    pub async fn verdict(&self) -> io::Result<Verdict> {
        let counter = self.read().await?;
        let r = &*self.referee;
        let completed = r.completed.load(Ordering::SeqCst);
        Ok(Verdict {
            completed,
            counter,
            lost_updates: completed.abs_diff(counter),
            overlaps: r.overlaps.load(Ordering::SeqCst),
            late: r.late.load(Ordering::SeqCst),
            tokens: TokenOrder::of(&self.tokens(), r.unfenced.load(Ordering::Relaxed)),
        })
    }

    async fn read(&self) -> io::Result<u64> {
        match &self.store {
            Store::Memory(value) => Ok(value.load(Ordering::SeqCst)),
            Store::Redis { conn, key } => {
                let mut conn = conn.clone();
                let value: Option<u64> = timed(
                    &format!("reading the counter {key:?}"),
                    redis::cmd("GET").arg(key).query_async(&mut conn),
                )
                .await?;
                Ok(value.unwrap_or(0))
            }
        }
    }

    async fn write(&self, value: u64) -> io::Result<()> {
        match &self.store {
            Store::Memory(stored) => {
                stored.store(value, Ordering::SeqCst);
                Ok(())
            }
            Store::Redis { conn, key } => {
                let mut conn = conn.clone();
                timed(
                    &format!("writing the counter {key:?}"),
                    redis::cmd("SET").arg(key).arg(value).query_async(&mut conn),
                )
                .await
            }
        }
    }
}

/// What the referee saw, and whether the lock held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// Sections completed.
    pub completed: u64,
    /// The counter's value at the verdict.
    pub counter: u64,
    /// Updates lost (or invented): the difference between `completed` and `counter`.
    pub lost_updates: u64,
    /// Entries into the section while another holder was inside.
    pub overlaps: u64,
    /// Sections whose lease was no longer valid when they wrote.
    pub late: u64,
    /// The fencing tokens' order.
    pub tokens: TokenOrder,
}

impl Verdict {
    /// No lost update, no overlap, no late section, tokens strictly increasing.
    pub fn passed(&self) -> bool {
        self.lost_updates == 0 && self.overlaps == 0 && self.late == 0 && self.tokens.increasing()
    }
}

/// The fencing tokens in the order the sections ran: they must grow strictly.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TokenOrder {
    /// Tokens recorded (sections with a non-zero token).
    pub recorded: usize,
    /// The first token.
    pub first: Option<u64>,
    /// The last token.
    pub last: Option<u64>,
    /// Index of the first token not greater than the one before it.
    pub first_break: Option<usize>,
    /// Sections entered without a token (token 0).
    pub unfenced: u64,
}

impl TokenOrder {
    /// The order of `tokens` (as entered); `unfenced` sections had no token.
    pub fn of(tokens: &[u64], unfenced: u64) -> Self {
        TokenOrder {
            recorded: tokens.len(),
            first: tokens.first().copied(),
            last: tokens.last().copied(),
            first_break: tokens.windows(2).position(|w| w[0] >= w[1]).map(|i| i + 1),
            unfenced,
        }
    }

    /// Whether every token was greater than the one before (true for no tokens).
    pub fn increasing(&self) -> bool {
        self.first_break.is_none()
    }
}

/// Largest latency recorded exactly: one hour (in µs); longer ones saturate.
pub const MAX_LATENCY: Duration = Duration::from_secs(3600);

/// A latency histogram: microseconds from 1 µs to [`MAX_LATENCY`], 3 significant digits.
#[derive(Debug, Clone)]
pub struct Latencies {
    histogram: Histogram<u64>,
}

impl Default for Latencies {
    fn default() -> Self {
        Self::new()
    }
}

impl Latencies {
    /// An empty histogram.
    pub fn new() -> Self {
        Latencies {
            histogram: empty_histogram(),
        }
    }

    /// Record one latency (sub-microsecond ones count as 1 µs, beyond an hour as an hour).
    pub fn record(&mut self, latency: Duration) {
        self.histogram.saturating_record(micros(latency).max(1));
    }

    /// Add every sample of `other`.
    pub fn add(&mut self, other: &Latencies) {
        // Both have the same bounds, so adding cannot fail.
        let _ = self.histogram.add(&other.histogram);
    }

    /// Samples recorded.
    pub fn len(&self) -> u64 {
        self.histogram.len()
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.histogram.is_empty()
    }

    /// The latency at quantile `q` (0 to 1), `None` when empty.
    pub fn quantile(&self, q: f64) -> Option<Duration> {
        quantile(&self.histogram, q)
    }

    /// p50, p90, p99 and max, `None` when empty.
    pub fn summary(&self) -> Option<LatencySummary> {
        Some(LatencySummary {
            count: self.len(),
            p50: self.quantile(0.50)?,
            p90: self.quantile(0.90)?,
            p99: self.quantile(0.99)?,
            max: self.quantile(1.0)?,
        })
    }

    /// The histogram itself (for charts and buckets).
    pub fn histogram(&self) -> &Histogram<u64> {
        &self.histogram
    }

    /// The histogram, by value.
    pub fn into_histogram(self) -> Histogram<u64> {
        self.histogram
    }
}

/// An empty histogram with the bounds of [`Latencies`] (µs).
#[allow(clippy::expect_used)]
pub fn empty_histogram() -> Histogram<u64> {
    // Constant, valid bounds (1 <= low, high >= 2 * low, 3 digits): no input can make this
    // fail, and the unit tests build it.
    Histogram::new_with_bounds(1, micros(MAX_LATENCY), 3).expect("constant histogram bounds")
}

/// The value at quantile `q` (clamped to 0..=1) of a µs histogram, `None` when empty: the
/// one way percentiles are computed in redlease's tests, demo, benchmarks and chaos suite.
pub fn quantile(histogram: &Histogram<u64>, q: f64) -> Option<Duration> {
    if histogram.is_empty() {
        return None;
    }
    let q = if q.is_nan() { 1.0 } else { q.clamp(0.0, 1.0) };
    Some(Duration::from_micros(histogram.value_at_quantile(q)))
}

/// Latency percentiles, printed as `p50 1.2ms  p90 3.4ms  p99 5.6ms  max 7.8ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LatencySummary {
    /// Samples.
    pub count: u64,
    /// Median.
    pub p50: Duration,
    /// 90th percentile.
    pub p90: Duration,
    /// 99th percentile.
    pub p99: Duration,
    /// Largest.
    pub max: Duration,
}

impl fmt::Display for LatencySummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        write!(
            f,
            "p50 {:.1}ms  p90 {:.1}ms  p99 {:.1}ms  max {:.1}ms",
            ms(self.p50),
            ms(self.p90),
            ms(self.p99),
            ms(self.max)
        )
    }
}

async fn timed<T>(what: &str, call: impl Future<Output = redis::RedisResult<T>>) -> io::Result<T> {
    match tokio::time::timeout(COMMAND_TIMEOUT, call).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => Err(io::Error::other(format!("{what}: {e}"))),
        Err(_) => Err(io::Error::new(
            io::ErrorKind::TimedOut,
            format!("{what}: no answer within {COMMAND_TIMEOUT:?}"),
        )),
    }
}

pub use crate::fenced::{Access, FencedCounter, FencedState};

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn two_holders_at_once_are_caught() {
        let counter = RacyCounter::in_memory();
        // Two "holders" inside together: both read 0, both write 1.
        let (a, b) = tokio::join!(
            counter.section(1, Duration::from_millis(5), || true),
            counter.section(2, Duration::from_millis(5), || true),
        );
        a.unwrap();
        b.unwrap();
        let v = counter.verdict().await.unwrap();
        assert_eq!((v.completed, v.counter, v.lost_updates), (2, 1, 1));
        assert_eq!(v.overlaps, 1);
        assert!(!v.passed());
        // One after the other, tokens growing, but the lease ran out in the second.
        let counter = RacyCounter::in_memory();
        counter.section(5, Duration::ZERO, || true).await.unwrap();
        counter.section(7, Duration::ZERO, || false).await.unwrap();
        let v = counter.verdict().await.unwrap();
        assert_eq!((v.lost_updates, v.overlaps, v.late), (0, 0, 1));
        assert_eq!(v.tokens.first, Some(5));
        assert_eq!(v.tokens.last, Some(7));
        assert!(v.tokens.increasing());
    }

    #[tokio::test]
    async fn tokens_must_grow_strictly_and_zero_is_unfenced() {
        let counter = RacyCounter::in_memory();
        for token in [3, 4, 4, 0, 9] {
            counter
                .section(token, Duration::ZERO, || true)
                .await
                .unwrap();
        }
        let v = counter.verdict().await.unwrap();
        assert_eq!(v.tokens.first_break, Some(2), "{v:?}");
        assert_eq!(v.tokens.unfenced, 1);
        assert_eq!(v.tokens.recorded, 4);
        assert!(!v.passed());
        assert_eq!(counter.tokens(), [3, 4, 4, 9]);
    }

    #[tokio::test]
    async fn a_cancelled_section_leaves_the_referee_clean() {
        let counter = RacyCounter::in_memory();
        let cut = tokio::time::timeout(
            Duration::from_millis(1),
            counter.section(1, Duration::from_secs(5), || true),
        )
        .await;
        assert!(cut.is_err());
        counter.section(2, Duration::ZERO, || true).await.unwrap();
        let v = counter.verdict().await.unwrap();
        assert_eq!(v.overlaps, 0, "the cancelled section left");
        assert_eq!(v.completed, 1);
    }

    #[test]
    fn percentiles_of_a_known_distribution() {
        let mut l = Latencies::new();
        assert_eq!(l.summary(), None);
        for ms in 1..=100 {
            l.record(Duration::from_millis(ms));
        }
        let s = l.summary().unwrap();
        assert_eq!(s.count, 100);
        let near = |d: Duration, ms: f64| (d.as_secs_f64() * 1000.0 - ms).abs() < 0.2;
        assert!(near(s.p50, 50.0), "{s}");
        assert!(near(s.p99, 99.0), "{s}");
        assert!(near(s.max, 100.0), "{s}");
        assert!(s.to_string().starts_with("p50 50.0ms"), "{s}");
        let mut other = Latencies::new();
        other.record(Duration::from_secs(7200));
        l.add(&other);
        assert_eq!(l.len(), 101);
        assert!(
            l.quantile(1.0).unwrap() >= MAX_LATENCY.mul_f64(0.99),
            "saturated"
        );
        assert_eq!(millis(Duration::MAX), u64::MAX);
    }
}
