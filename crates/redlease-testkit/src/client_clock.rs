//! A client process whose wall clock is off by a fixed offset.
//!
//! Servers get fast or slow clocks from [`crate::Cluster::start_with_clock_rates`]; a
//! *client* whose wall clock is wrong is a different fault: anything a client derives
//! from `SystemTime` and sends to the servers (an ordering, a timestamp) is then skewed
//! while its own timeouts are not. This is the same libfaketime mechanism, applied to a
//! helper process started with [`crate::spawn_owned`]: the returned environment preloads
//! libfaketime with an offset for the wall clock only (`FAKETIME_DONT_FAKE_MONOTONIC`),
//! so `Instant`, timers and `CLOCK_MONOTONIC` readings shared with other processes stay
//! exact.

use std::ffi::OsString;
use std::io;

use crate::clock::libfaketime_path;

/// Largest offset accepted, in seconds either way (a day).
const MAX_OFFSET_SECS: i64 = 86_400;

/// The environment that starts a process with its wall clock `offset_secs` seconds
/// ahead (positive) or behind (negative) the real time; its monotonic clock is left
/// alone. Fails when libfaketime is not installed or the offset exceeds a day.
///
/// ```no_run
/// use std::process::Command;
/// # fn main() -> std::io::Result<()> {
/// let mut command = Command::new("date");
/// command.envs(redlease_testkit::wall_clock_offset_env(-5)?);
/// let child = redlease_testkit::spawn_owned(command)?; // prints a time 5 s ago
/// # let _ = child; Ok(()) }
/// ```
pub fn wall_clock_offset_env(offset_secs: i64) -> io::Result<Vec<(OsString, OsString)>> {
    if offset_secs.abs() > MAX_OFFSET_SECS {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "wall clock offset {offset_secs} s: at most {MAX_OFFSET_SECS} s either way is allowed"
            ),
        ));
    }
    let library = libfaketime_path()?;
    Ok(offset_env(&library.into_os_string(), offset_secs))
}

fn offset_env(library: &OsString, offset_secs: i64) -> Vec<(OsString, OsString)> {
    vec![
        ("LD_PRELOAD".into(), library.clone()),
        ("FAKETIME".into(), format!("{offset_secs:+}").into()),
        ("FAKETIME_DONT_FAKE_MONOTONIC".into(), "1".into()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_are_signed_seconds_on_the_wall_clock_only() {
        let env = offset_env(&OsString::from("/x/libfaketime.so.1"), -5);
        assert_eq!(env[1].1, "-5");
        assert_eq!(offset_env(&OsString::from("/x"), 5)[1].1, "+5");
        assert_eq!(env[2].0, "FAKETIME_DONT_FAKE_MONOTONIC");
    }

    #[test]
    fn huge_offsets_are_refused() {
        let err = wall_clock_offset_env(100_000).err().map(|e| e.kind());
        assert_eq!(err, Some(io::ErrorKind::InvalidInput));
    }
}
