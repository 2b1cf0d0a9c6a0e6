//! CPU time and resident memory, from the OS (Linux).
//!
//! Throughput alone hides where the time goes: a lock that is slower because it burns
//! client CPU is a different problem from one that waits on the network. The runner and
//! the renewal soak therefore sample this process's CPU time (`getrusage`), the
//! redis-servers' CPU time (`/proc/<pid>/stat`) and this process's resident set
//! (`/proc/self/status`). Everything returns `None` where the OS does not tell.

use std::time::Duration;

/// User + system CPU time of this process so far.
pub fn cpu_time() -> Option<Duration> {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: `usage` is a valid, writable `rusage`; getrusage only writes into it.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr()) };
    if rc != 0 {
        return None;
    }
    // SAFETY: getrusage returned 0, so it filled the struct (and it was zeroed before).
    let usage = unsafe { usage.assume_init() };
    Some(timeval(usage.ru_utime)? + timeval(usage.ru_stime)?)
}

fn timeval(t: libc::timeval) -> Option<Duration> {
    let secs = u64::try_from(t.tv_sec).ok()?;
    let micros = u64::try_from(t.tv_usec).ok()?;
    Some(Duration::from_secs(secs) + Duration::from_micros(micros))
}

/// This process's resident set size, in bytes (`VmRSS` of `/proc/self/status`).
pub fn rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    parse_vm_rss(&status)
}

/// `VmRSS:   12345 kB` → bytes.
pub fn parse_vm_rss(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let mut fields = line.split_whitespace().skip(1);
    let value: u64 = fields.next()?.parse().ok()?;
    match fields.next() {
        Some("kB") | None => value.checked_mul(1024),
        Some(_) => None,
    }
}

/// User + system CPU time of process `pid` (for example a redis-server), from
/// `/proc/<pid>/stat`.
pub fn process_cpu_time(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let ticks = parse_stat_ticks(&stat)?;
    // SAFETY: sysconf has no preconditions.
    let per_sec = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    let per_sec = u64::try_from(per_sec).ok().filter(|&t| t > 0)?;
    Some(Duration::from_secs_f64(ticks as f64 / per_sec as f64))
}

/// utime + stime (fields 14 and 15) of a `/proc/<pid>/stat` line, in clock ticks. The
/// command name (field 2) may contain spaces and parentheses, so fields are counted from
/// the last `)`.
pub fn parse_stat_ticks(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    // After ')': field 3 (state) is the first; utime is field 14, stime 15.
    let mut fields = rest.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    utime.checked_add(stime)
}

/// Total CPU time of several processes; `None` if any of them cannot be read.
pub fn processes_cpu_time(pids: &[u32]) -> Option<Duration> {
    pids.iter()
        .map(|&pid| process_cpu_time(pid))
        .sum::<Option<Duration>>()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vm_rss_is_parsed() {
        let status = "Name:\tx\nVmPeak:\t  9000 kB\nVmRSS:\t   2048 kB\nThreads: 3\n";
        assert_eq!(parse_vm_rss(status), Some(2048 * 1024));
        assert_eq!(parse_vm_rss("Name: x\n"), None);
        assert_eq!(parse_vm_rss("VmRSS: lots kB\n"), None);
    }

    #[test]
    fn stat_ticks_survive_odd_command_names() {
        let stat = "4242 (redis (x) y) S 1 4242 4242 0 -1 4194560 500 0 0 0 17 5 0 0 20 0 4 0";
        assert_eq!(parse_stat_ticks(stat), Some(22));
        assert_eq!(parse_stat_ticks("garbage"), None);
    }

    #[test]
    fn this_process_is_measurable() {
        assert!(cpu_time().is_some());
        assert!(rss_bytes().is_some_and(|b| b > 0));
        assert!(process_cpu_time(std::process::id()).is_some());
    }
}
