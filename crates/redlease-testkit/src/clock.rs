//! Nodes whose clock runs fast (or slow), through libfaketime.
//!
//! Redis expires keys by its own clock, and a lease is only as safe as the
//! assumption that no node's clock runs faster than the client allows for
//! (redlease's drift factor). To test that assumption, a node can be started
//! with Debian's libfaketime preloaded and `FAKETIME="+0 x<rate>"`: its wall
//! clock and monotonic clock start at the real time and then advance `rate`
//! times as fast, so a key set with `PX 1000` on a node at rate 2 is gone
//! after about half a second of real time.
//!
//! Debian's `redis-server` links jemalloc, which deadlocks at start-up under
//! libfaketime (libfaketime's lazy initialisation calls `dlsym`, which
//! allocates, while jemalloc is initialising and asking for the time). The
//! kit therefore preloads glibc right after libfaketime, so that `malloc` and
//! friends resolve to glibc for the whole process; jemalloc stays loaded but
//! unused except for its statistics calls. The process is `redis-server`
//! itself (no wrapper process), so pids, pausing and killing work as usual.
//!
//! Install it with `apt-get install -y faketime` (the project's
//! `scripts/ensure-redis.sh` does), or point `REDLEASE_LIBFAKETIME` at
//! `libfaketime.so.1`.

use std::env;
use std::ffi::OsString;
use std::io;
use std::path::{Path, PathBuf};

use crate::cluster::{Cluster, ClusterOptions};

/// Environment variable naming the libfaketime shared object to preload
/// (default: found in the usual Debian and `/usr/local` locations).
pub const LIBFAKETIME_ENV: &str = "REDLEASE_LIBFAKETIME";

/// Slowest and fastest clock rates accepted.
const RATE_RANGE: std::ops::RangeInclusive<f64> = 0.01..=100.0;

/// How one node's clock is scaled: the library to preload and the rate.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ClockRate {
    library: PathBuf,
    rate: f64,
}

impl ClockRate {
    pub(crate) fn rate(&self) -> f64 {
        self.rate
    }

    /// The environment the server is started with.
    pub(crate) fn env(&self) -> Vec<(OsString, OsString)> {
        let mut preload = OsString::from(self.library.as_os_str());
        // glibc's malloc instead of jemalloc's: see the module docs.
        preload.push(" libc.so.6");
        vec![
            ("LD_PRELOAD".into(), preload),
            ("FAKETIME".into(), format!("+0 x{}", self.rate).into()),
        ]
    }
}

/// The libfaketime shared object: `REDLEASE_LIBFAKETIME` if set, else the
/// first of the usual install locations that exists.
pub fn libfaketime_path() -> io::Result<PathBuf> {
    if let Some(path) = env::var_os(LIBFAKETIME_ENV).filter(|v| !v.is_empty()) {
        let path = PathBuf::from(path);
        return if path.is_file() {
            Ok(path)
        } else {
            Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("{LIBFAKETIME_ENV}={} is not a file", path.display()),
            ))
        };
    }
    let mut candidates: Vec<PathBuf> = Vec::new();
    // Debian's multiarch directories: /usr/lib/<triplet>/faketime.
    if let Ok(entries) = std::fs::read_dir("/usr/lib") {
        candidates.extend(
            entries
                .flatten()
                .map(|e| e.path().join("faketime/libfaketime.so.1")),
        );
    }
    candidates.extend(
        [
            "/usr/lib/faketime/libfaketime.so.1",
            "/usr/lib64/faketime/libfaketime.so.1",
            "/usr/local/lib/faketime/libfaketime.so.1",
        ]
        .map(PathBuf::from),
    );
    candidates.into_iter().find(|p| p.is_file()).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::NotFound,
            format!(
                "libfaketime.so.1 not found: install it with `apt-get install -y faketime` \
                     (or set {LIBFAKETIME_ENV})"
            ),
        )
    })
}

fn check_rate(index: usize, rate: f64) -> io::Result<()> {
    if rate.is_finite() && RATE_RANGE.contains(&rate) {
        Ok(())
    } else {
        Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "clock rate of node {index} is {rate}; allowed: {} to {}",
                RATE_RANGE.start(),
                RATE_RANGE.end()
            ),
        ))
    }
}

fn clocks(library: Option<&Path>, rates: &[f64]) -> Vec<Option<ClockRate>> {
    rates
        .iter()
        .map(|&rate| {
            let library = library.filter(|_| rate != 1.0)?;
            Some(ClockRate {
                library: library.to_path_buf(),
                rate,
            })
        })
        .collect()
}

impl Cluster {
    /// Starts a cluster as `options` says, with node `i`'s clock running
    /// `rates[i]` times as fast as the real one (1.0: the real clock, no
    /// libfaketime; 1.05: 5 % fast). Restarts keep the node's rate.
    ///
    /// Needs libfaketime for any rate other than 1.0 (see the module docs);
    /// fails with [`io::ErrorKind::NotFound`] and how to install it when it is
    /// missing, and with [`io::ErrorKind::InvalidInput`] when `rates` does not
    /// have one entry per node or a rate is outside 0.01..=100.
    ///
    /// ```no_run
    /// use redlease_testkit::{Cluster, ClusterOptions};
    /// # fn main() -> std::io::Result<()> {
    /// let options = ClusterOptions { nodes: 3, ..Default::default() };
    /// let cluster = Cluster::start_with_clock_rates(options, &[1.0, 1.0, 2.0])?;
    /// cluster.node(2).command(&["SET", "k", "v", "PX", "1000"])?;
    /// std::thread::sleep(std::time::Duration::from_millis(600));
    /// assert_eq!(cluster.node(2).command(&["EXISTS", "k"])?, "0");
    /// # Ok(()) }
    /// ```
    pub fn start_with_clock_rates(options: ClusterOptions, rates: &[f64]) -> io::Result<Cluster> {
        if rates.len() != options.nodes {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "{} clock rates for {} nodes; give one per node",
                    rates.len(),
                    options.nodes
                ),
            ));
        }
        for (i, &rate) in rates.iter().enumerate() {
            check_rate(i, rate)?;
        }
        let library = if rates.iter().any(|&r| r != 1.0) {
            Some(libfaketime_path()?)
        } else {
            None
        };
        Cluster::start_clocked(options, clocks(library.as_deref(), rates))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_preloads_libfaketime_then_glibc() {
        let clock = ClockRate {
            library: PathBuf::from("/x/libfaketime.so.1"),
            rate: 1.05,
        };
        let env = clock.env();
        assert_eq!(env[0].1, "/x/libfaketime.so.1 libc.so.6");
        assert_eq!(env[1].1, "+0 x1.05");
    }

    #[test]
    fn real_rate_needs_no_library() {
        let c = clocks(Some(Path::new("/x")), &[1.0, 2.0]);
        assert!(c[0].is_none());
        assert_eq!(c[1].as_ref().map(ClockRate::rate), Some(2.0));
    }

    #[test]
    fn bad_rates_are_refused() {
        assert!(check_rate(0, 0.0).is_err());
        assert!(check_rate(0, f64::NAN).is_err());
        assert!(check_rate(0, 1000.0).is_err());
        assert!(check_rate(0, 1.005).is_ok());
        let err = Cluster::start_with_clock_rates(
            ClusterOptions {
                nodes: 2,
                ..Default::default()
            },
            &[1.0],
        )
        .err()
        .map(|e| e.kind());
        assert_eq!(err, Some(io::ErrorKind::InvalidInput));
    }
}
