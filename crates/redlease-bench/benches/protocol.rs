//! Micro-benchmarks of redlease's pure protocol functions.
//!
//! Every acquisition runs these on its hot path (a tally per reply, the drift and validity
//! arithmetic, a fencing token, a fresh owner, key names, reply parsing), so they must stay
//! far below a loopback round trip (~30-100 µs). These benchmarks show by how much, and
//! catch a regression that would make them matter. Short by default; run quickly with
//!
//! ```text
//! cargo bench -p redlease-bench --bench protocol -- --quick
//! ```

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use redlease::ops::acquire;
use redlease::protocol::{self, Decision, Keys, RetryPolicy, Tally, Vote};
use redlease::redis::Value;

fn tally(c: &mut Criterion) {
    let votes = [Vote::Yes, Vote::No, Vote::Yes, Vote::Failed, Vote::Yes];
    c.bench_function("tally: 5 votes to a decision", |b| {
        b.iter(|| {
            let mut t = Tally::new(5);
            for v in black_box(votes) {
                t.record(v);
                if t.decision() != Decision::Pending {
                    break;
                }
            }
            t.decision()
        })
    });
}

fn validity(c: &mut Criterion) {
    let ttl = Duration::from_secs(10);
    c.bench_function("drift + validity", |b| {
        b.iter(|| {
            let drift = protocol::drift(black_box(ttl), black_box(0.01));
            protocol::validity(ttl, black_box(Duration::from_micros(850)), drift)
        })
    });
}

fn fencing(c: &mut Criterion) {
    let counters = [41u64, 7, 40, 0, 39];
    c.bench_function("fencing_token over 5 counters", |b| {
        b.iter(|| protocol::fencing_token(black_box(counters), black_box(0)))
    });
}

fn retry(c: &mut Criterion) {
    let policy = RetryPolicy::default();
    let mut rng = rand::rng();
    let mut attempt = 0u32;
    c.bench_function("RetryPolicy::delay", |b| {
        b.iter(|| {
            attempt = (attempt + 1) % 8;
            policy.delay(black_box(attempt), &mut rng)
        })
    });
}

fn keys(c: &mut Criterion) {
    c.bench_function("Keys::new", |b| {
        b.iter(|| Keys::new(black_box("redlease:"), black_box("orders:42")))
    });
}

fn owner(c: &mut Criterion) {
    c.bench_function("new_owner (OS CSPRNG, 128 bits hex)", |b| {
        b.iter(protocol::new_owner)
    });
}

fn parse(c: &mut Criterion) {
    let now = || Value::BulkString(b"1764576000123456".to_vec());
    let granted = Value::Array(vec![
        Value::Int(1),
        Value::BulkString(b"1234".to_vec()),
        Value::Int(-1),
        Value::Int(0),
        Value::Int(-1),
        now(),
    ]);
    let refused = Value::Array(vec![
        Value::Int(0),
        Value::BulkString(b"18446744073709551615".to_vec()),
        Value::Int(9_000),
        Value::Int(0),
        Value::Int(-1),
        now(),
    ]);
    c.bench_function("acquire::parse granted", |b| {
        b.iter(|| acquire::parse(black_box(&granted)))
    });
    c.bench_function("acquire::parse refused", |b| {
        b.iter(|| acquire::parse(black_box(&refused)))
    });
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1))
        .sample_size(30)
}

criterion_group! {
    name = benches;
    config = config();
    targets = tally, validity, fencing, retry, keys, owner, parse
}
criterion_main!(benches);
