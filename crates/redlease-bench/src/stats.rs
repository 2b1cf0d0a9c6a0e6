//! The little statistics a benchmark report needs, as pure functions.
//!
//! Latencies are recorded in microseconds into HDR histograms (3 significant digits, up to
//! one hour, saturating beyond); rounds are summarised by their median, which one slow
//! round on a shared 2-core machine cannot drag the way it drags a mean.

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::error::BenchError;

/// Largest latency a histogram records exactly (one hour, in µs); larger ones saturate.
pub const HIST_MAX_US: u64 = redlease_testkit::workload::MAX_LATENCY.as_secs() * 1_000_000;

/// Log-scaled buckets per factor of ten, for the latency distribution.
pub const BUCKETS_PER_DECADE: u32 = 4;

/// An empty latency histogram (µs, 1 µs to one hour, 3 significant digits): the test
/// kit's workload histogram, so every part of redlease measures latency the same way.
pub fn new_histogram() -> Result<Histogram<u64>, BenchError> {
    Ok(redlease_testkit::workload::empty_histogram())
}

/// The value at quantile `q` (0 to 1) in µs, or `None` for an empty histogram (the test
/// kit's [`redlease_testkit::workload::quantile`], in µs).
pub fn percentile_us(h: &Histogram<u64>, q: f64) -> Option<f64> {
    // Lossless for any latency a histogram bounded at one hour holds.
    redlease_testkit::workload::quantile(h, q).map(|d| d.as_micros() as f64)
}

/// The median of `values` (mean of the two middle ones for an even count), ignoring NaN.
/// `None` when there is nothing to take the median of.
pub fn median(values: impl IntoIterator<Item = f64>) -> Option<f64> {
    let mut v: Vec<f64> = values.into_iter().filter(|x| !x.is_nan()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    Some(if v.len() % 2 == 1 {
        v[mid]
    } else {
        (v[mid - 1] + v[mid]) / 2.0
    })
}

/// The busiest worker's share of the work: max count / total, in (0, 1]. `None` if nothing
/// was done. 1/C for perfectly fair C workers; 1.0 when one worker did everything.
pub fn busiest_share(counts: &[u64]) -> Option<f64> {
    let total: u64 = counts.iter().sum();
    let max = counts.iter().copied().max()?;
    (total > 0).then(|| max as f64 / total as f64)
}

/// `num / den`, when both are known and the denominator is positive.
pub fn ratio(num: Option<f64>, den: Option<f64>) -> Option<f64> {
    match (num, den) {
        (Some(n), Some(d)) if d > 0.0 && n.is_finite() && d.is_finite() => Some(n / d),
        _ => None,
    }
}

/// Operations per second, or `None` if no time passed.
pub fn rate(ops: u64, seconds: f64) -> Option<f64> {
    (seconds > 0.0).then(|| ops as f64 / seconds)
}

/// One bar of the latency distribution: values in `[from_us, to_us)`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LatencyBucket {
    /// Lower bound, µs (inclusive).
    pub from_us: f64,
    /// Upper bound, µs (exclusive).
    pub to_us: f64,
    /// Samples in the bucket.
    pub count: u64,
}

/// Index of the log-scaled bucket holding `us`: `floor(BUCKETS_PER_DECADE * log10(us))`,
/// with everything below 1 µs in bucket 0.
pub fn bucket_index(us: u64) -> usize {
    if us <= 1 {
        return 0;
    }
    // A hair of tolerance so exact powers of ten land at the start of their bucket.
    let x = f64::from(BUCKETS_PER_DECADE) * (us as f64).log10() + 1e-9;
    x.floor() as usize
}

/// The bounds of bucket `index`, µs.
pub fn bucket_bounds(index: usize) -> (f64, f64) {
    let per = f64::from(BUCKETS_PER_DECADE);
    let i = index as f64;
    (10f64.powf(i / per), 10f64.powf((i + 1.0) / per))
}

/// The distribution in log-scaled buckets, from the first non-empty bucket to the last
/// (empty ones in between included, so a chart has no gaps). Empty for no samples.
pub fn log_buckets(h: &Histogram<u64>) -> Vec<LatencyBucket> {
    let mut counts: Vec<u64> = Vec::new();
    for v in h.iter_recorded() {
        let i = bucket_index(v.value_iterated_to());
        if counts.len() <= i {
            counts.resize(i + 1, 0);
        }
        counts[i] += v.count_at_value();
    }
    let Some(first) = counts.iter().position(|&c| c > 0) else {
        return Vec::new();
    };
    counts
        .iter()
        .enumerate()
        .skip(first)
        .map(|(i, &count)| {
            let (from_us, to_us) = bucket_bounds(i);
            LatencyBucket {
                from_us,
                to_us,
                count,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_of_a_known_distribution() {
        let mut h = new_histogram().unwrap();
        for v in 1..=1000u64 {
            h.record(v).unwrap();
        }
        let p50 = percentile_us(&h, 0.5).unwrap();
        let p99 = percentile_us(&h, 0.99).unwrap();
        assert!((p50 - 500.0).abs() <= 1.0, "{p50}");
        assert!((p99 - 990.0).abs() <= 1.0, "{p99}");
        assert_eq!(percentile_us(&h, 1.0), Some(1000.0));
        assert_eq!(percentile_us(&new_histogram().unwrap(), 0.5), None);
    }

    #[test]
    fn medians() {
        assert_eq!(median([3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median([4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median([f64::NAN, 7.0]), Some(7.0));
        assert_eq!(median(Vec::<f64>::new()), None);
    }

    #[test]
    fn busiest_shares() {
        assert_eq!(busiest_share(&[5, 5, 5, 5]), Some(0.25));
        assert_eq!(busiest_share(&[10, 0, 0]), Some(1.0));
        assert_eq!(busiest_share(&[3, 1]), Some(0.75));
        assert_eq!(busiest_share(&[0, 0]), None);
        assert_eq!(busiest_share(&[]), None);
    }

    #[test]
    fn ratios_and_rates() {
        assert_eq!(ratio(Some(1.0), Some(4.0)), Some(0.25));
        assert_eq!(ratio(Some(1.0), Some(0.0)), None);
        assert_eq!(ratio(None, Some(1.0)), None);
        assert_eq!(rate(100, 2.0), Some(50.0));
        assert_eq!(rate(100, 0.0), None);
    }

    #[test]
    fn buckets_are_log_scaled() {
        assert_eq!(bucket_index(0), 0);
        assert_eq!(bucket_index(1), 0);
        assert_eq!(bucket_index(10), 4);
        assert_eq!(bucket_index(99), 7);
        assert_eq!(bucket_index(100), 8);
        assert_eq!(bucket_index(1_000_000), 24);
        let (lo, hi) = bucket_bounds(8);
        assert!((lo - 100.0).abs() < 1e-9 && (hi - 177.827_941).abs() < 1e-3);

        let mut h = new_histogram().unwrap();
        h.record_n(100, 3).unwrap();
        h.record_n(1_000, 1).unwrap();
        let b = log_buckets(&h);
        assert_eq!(b.len(), 5, "100 µs to 1 ms is buckets 8..=12");
        assert_eq!(b[0].count, 3);
        assert_eq!(b[4].count, 1);
        assert_eq!(b.iter().map(|x| x.count).sum::<u64>(), 4);
        assert!(log_buckets(&new_histogram().unwrap()).is_empty());
    }
}
