//! One monotonic clock for every process of a run.
//!
//! The checker compares critical sections recorded by different worker
//! processes ("did B start before A's lease ended?"), so all timestamps must
//! come from one clock. On Linux `CLOCK_MONOTONIC` is system-wide, and it is
//! also the clock behind [`Instant`], so the library's lease deadlines (which
//! are `Instant`s) convert exactly: each process pins one `Instant` to its
//! nanosecond reading once, and converts every other `Instant` by offset.

use std::sync::OnceLock;
use std::time::Instant;

/// Nanoseconds on `CLOCK_MONOTONIC`.
pub fn raw_now_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_MONOTONIC always exists on Linux.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    if rc != 0 {
        return 0;
    }
    let secs = u64::try_from(ts.tv_sec).unwrap_or(0);
    let nanos = u64::try_from(ts.tv_nsec).unwrap_or(0);
    secs.saturating_mul(1_000_000_000).saturating_add(nanos)
}

/// An `Instant` and the `CLOCK_MONOTONIC` reading it stands for.
struct Anchor {
    instant: Instant,
    ns: u64,
}

/// Pins an `Instant` to a nanosecond reading, taking the tightest of a few
/// tries so that a preemption between the two reads does not skew it.
fn anchor() -> &'static Anchor {
    static ANCHOR: OnceLock<Anchor> = OnceLock::new();
    ANCHOR.get_or_init(|| {
        let mut best: Option<(u64, Anchor)> = None;
        for _ in 0..16 {
            let before = raw_now_ns();
            let instant = Instant::now();
            let after = raw_now_ns();
            let gap = after.saturating_sub(before);
            if best.as_ref().is_none_or(|(g, _)| gap < *g) {
                best = Some((
                    gap,
                    Anchor {
                        instant,
                        ns: before + gap / 2,
                    },
                ));
            }
        }
        best.map_or(
            Anchor {
                instant: Instant::now(),
                ns: raw_now_ns(),
            },
            |(_, a)| a,
        )
    })
}

/// `instant` in nanoseconds on the shared clock.
pub fn instant_ns(instant: Instant) -> u64 {
    let a = anchor();
    if instant >= a.instant {
        let ahead = u64::try_from((instant - a.instant).as_nanos()).unwrap_or(u64::MAX);
        a.ns.saturating_add(ahead)
    } else {
        let behind = u64::try_from((a.instant - instant).as_nanos()).unwrap_or(u64::MAX);
        a.ns.saturating_sub(behind)
    }
}

/// Now, in nanoseconds on the shared clock.
pub fn now_ns() -> u64 {
    instant_ns(Instant::now())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn instants_and_raw_readings_agree() {
        let raw = raw_now_ns();
        let converted = now_ns();
        assert!(converted.abs_diff(raw) < 5_000_000, "{converted} vs {raw}");
        let later = Instant::now() + Duration::from_millis(1500);
        let ns = instant_ns(later);
        assert!(ns > now_ns() + 1_400_000_000);
    }
}
