//! Who holds a lease: the description `exec` and `acquire` store beside it, and reading it
//! back for `list`, `status` and `extend`.
//!
//! A stuck resource is an operator's question ("which host, which process, doing what?"),
//! and the owner value alone does not answer it. So right after acquiring, the holder
//! stores a small JSON object with the lease (`Lease::describe`, which the library keeps
//! in step with the lease's ttl). It also records the ttl the lease was acquired with,
//! which is what `extend` without `--ttl` must keep. The description is best effort: the
//! lease is held whether or not it could be stored, so a failure is only a warning.

use std::ffi::OsString;
use std::time::Duration;

use redlease::Lease;
use serde::{Deserialize, Serialize};

/// The command line is cut to this many bytes, to stay well inside the library's limit.
const MAX_COMMAND: usize = 1024;

/// What a holder says about itself (stored as one JSON object).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    /// The host name.
    pub host: Option<String>,
    /// The process that holds the lease.
    pub pid: Option<u32>,
    /// Its command line.
    pub command: Option<String>,
    /// The ttl the lease was acquired with, in milliseconds.
    pub ttl_ms: Option<u64>,
}

impl Holder {
    /// `exec`: redlease itself holds the lease while `argv` runs.
    pub fn exec(argv: &[OsString], ttl: Duration) -> Holder {
        Holder {
            host: hostname(),
            pid: Some(std::process::id()),
            command: Some(shell_words(argv)),
            ttl_ms: Some(crate::output::millis(ttl)),
        }
    }

    /// `acquire`: redlease exits at once, so the holder is the process that ran it (its
    /// parent: the script that will extend and release the lease).
    pub fn acquire(ttl: Duration) -> Holder {
        let parent = std::os::unix::process::parent_id();
        Holder {
            host: hostname(),
            pid: Some(parent),
            command: command_line(parent),
            ttl_ms: Some(crate::output::millis(ttl)),
        }
    }

    /// A description read back: ours, or (from another client) any text, kept as the
    /// command so that it is still shown.
    pub fn parse(info: &str) -> Holder {
        serde_json::from_str(info).unwrap_or_else(|_| Holder {
            host: None,
            pid: None,
            command: Some(info.to_owned()),
            ttl_ms: None,
        })
    }

    /// The ttl the lease was acquired with, if the holder recorded it.
    pub fn ttl(&self) -> Option<Duration> {
        self.ttl_ms.map(Duration::from_millis)
    }
}

/// Store `holder` with `lease`; a failure is a warning (given to `warn`), never an error.
pub async fn describe(lease: &Lease, holder: &Holder, warn: impl FnOnce(&str)) {
    let outcome = match serde_json::to_string(holder) {
        Ok(text) => lease.describe(&text).await.map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    if let Err(e) = outcome {
        warn(&format!(
            "could not record who holds the lease on {:?} ({e}); it is held, but `redlease list` and `status` will not show its holder, and `extend` will need --ttl",
            lease.resource()
        ));
    }
}

/// This machine's host name.
fn hostname() -> Option<String> {
    let mut buf = [0u8; 256];
    // SAFETY: gethostname writes at most `buf.len()` bytes into our buffer.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return None;
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    Some(String::from_utf8_lossy(&buf[..end]).into_owned())
}

/// The command line of process `pid` (from /proc), shell-quoted.
fn command_line(pid: u32) -> Option<String> {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let words: Vec<OsString> = raw
        .split(|&b| b == 0)
        .filter(|w| !w.is_empty())
        .map(|w| OsString::from(String::from_utf8_lossy(w).into_owned()))
        .collect();
    (!words.is_empty()).then(|| shell_words(&words))
}

/// `argv` as a shell would need it typed (single quotes where needed), cut to
/// [`MAX_COMMAND`] bytes.
fn shell_words(argv: &[OsString]) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "_./:=@%+-,".contains(c);
    let mut line = argv
        .iter()
        .map(|w| {
            let w = w.to_string_lossy();
            if !w.is_empty() && w.chars().all(plain) {
                w.into_owned()
            } else {
                format!("'{}'", w.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ");
    if line.len() > MAX_COMMAND {
        let mut end = MAX_COMMAND;
        while !line.is_char_boundary(end) {
            end -= 1;
        }
        line.truncate(end);
        line.push_str("...");
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_lines_are_quoted_like_a_shell() {
        let argv: Vec<OsString> = ["sh", "-c", "sleep 1 && echo 'hi'"]
            .iter()
            .map(OsString::from)
            .collect();
        assert_eq!(shell_words(&argv), r"sh -c 'sleep 1 && echo '\''hi'\'''");
        let long = vec![OsString::from("x".repeat(5000))];
        assert_eq!(shell_words(&long).len(), MAX_COMMAND + 3);
    }

    #[test]
    fn descriptions_round_trip_and_foreign_text_is_kept() {
        let h = Holder::exec(&[OsString::from("true")], Duration::from_secs(30));
        let text = serde_json::to_string(&h).unwrap();
        assert_eq!(Holder::parse(&text), h);
        assert_eq!(h.ttl(), Some(Duration::from_secs(30)));
        let foreign = Holder::parse("worker 7");
        assert_eq!(foreign.command.as_deref(), Some("worker 7"));
        assert_eq!(foreign.ttl(), None);
    }
}
