//! What the commands print on stdout: one JSON document per command (or, with
//! `--format human`, the same fields as `key: value` lines).
//!
//! The field names are an interface (scripts and tests parse them), so they are spelled
//! out once here as serde structs rather than assembled by hand in each command.

use std::io::Write;

use serde::Serialize;

use crate::cli::Format;
use crate::exit::Failure;

/// A lease, as `acquire` and `extend` print it.
#[derive(Debug, Serialize)]
pub struct LeaseJson<'a> {
    /// The resource.
    pub resource: &'a str,
    /// The owner value: needed to extend or release.
    pub owner: &'a str,
    /// The fencing token of the acquisition.
    pub fencing_token: u64,
    /// Validity left, in milliseconds.
    pub validity_ms: u64,
}

/// What `release` prints.
#[derive(Debug, Serialize)]
pub struct ReleasedJson<'a> {
    /// The resource.
    pub resource: &'a str,
    /// The owner that held it.
    pub owner: &'a str,
    /// Always true: a release that found nothing exits 1 instead.
    pub released: bool,
}

/// What `status` prints.
#[derive(Debug, Serialize)]
pub struct StatusJson {
    /// The resource.
    pub resource: String,
    /// Whether one owner holds it on a quorum of servers.
    pub held: bool,
    /// That owner.
    pub owner: Option<String>,
    /// The holder's remaining ttl in milliseconds (as the quorum sees it).
    pub remaining_ms: Option<u64>,
    /// The highest fencing counter any server reported.
    pub last_fencing_token: u64,
    /// Who holds it, as the holder described itself (null if it did not).
    pub holder: Option<HolderJson>,
    /// Servers needed for a quorum.
    pub quorum: usize,
    /// Servers that answered.
    pub reachable: usize,
    /// Each server's view, in the order of `--servers`.
    pub nodes: Vec<NodeJson>,
}

/// Who holds a lease, as its holder described itself (`list`, `status`).
#[derive(Debug, Serialize)]
pub struct HolderJson {
    /// The holder's host name.
    pub host: Option<String>,
    /// The holding process (`exec`: redlease; `acquire`: the process that ran it).
    pub pid: Option<u32>,
    /// Its command line.
    pub command: Option<String>,
}

impl From<crate::holder::Holder> for HolderJson {
    fn from(h: crate::holder::Holder) -> Self {
        HolderJson {
            host: h.host,
            pid: h.pid,
            command: h.command,
        }
    }
}

/// One server's view in `status`.
#[derive(Debug, Serialize)]
pub struct NodeJson {
    /// The server URL, password redacted.
    pub server: String,
    /// Whether it answered.
    pub reachable: bool,
    /// The owner holding the resource there.
    pub owner: Option<String>,
    /// The key's remaining ttl there, in milliseconds.
    pub ttl_ms: Option<u64>,
    /// The server's fencing counter for the resource.
    pub fence: Option<u64>,
    /// Why it did not answer.
    pub error: Option<String>,
}

pub use redlease_testkit::workload::millis;

/// `d` rounded down to whole milliseconds, for messages.
pub fn whole_millis(d: std::time::Duration) -> std::time::Duration {
    std::time::Duration::from_millis(millis(d))
}

/// Print `value` in `format`: one JSON line, or `key: value` lines for people.
pub fn print_data<T: Serialize>(value: &T, format: Format) -> Result<(), Failure> {
    match format {
        Format::Json => print_json(value),
        Format::Human => {
            let json = serde_json::to_value(value).map_err(|e| {
                Failure::new(
                    crate::exit::INTERNAL,
                    format!("cannot encode the output: {e}"),
                )
            })?;
            print_line(&human(&json, ""))
        }
    }
}

/// A JSON value as `key: value` lines; arrays of objects one indented line per element.
fn human(value: &serde_json::Value, indent: &str) -> String {
    use serde_json::Value;
    let scalar = |v: &Value| match v {
        Value::Null => "-".to_owned(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let Value::Object(map) = value else {
        return format!("{indent}{}", scalar(value));
    };
    let mut lines = Vec::new();
    for (key, v) in map {
        match v {
            Value::Array(items) => {
                lines.push(format!("{indent}{key}:"));
                for item in items {
                    let fields = match item {
                        Value::Object(m) => m
                            .iter()
                            .filter(|(_, v)| !v.is_null())
                            .map(|(k, v)| format!("{k}={}", scalar(v)))
                            .collect::<Vec<_>>()
                            .join("  "),
                        other => scalar(other),
                    };
                    lines.push(format!("{indent}  - {fields}"));
                }
            }
            Value::Object(_) => {
                lines.push(format!("{indent}{key}:"));
                lines.push(human(v, &format!("{indent}  ")));
            }
            other => lines.push(format!("{indent}{key}: {}", scalar(other))),
        }
    }
    lines.join("\n")
}

/// Print `value` as one line of JSON on stdout, and flush.
pub fn print_json<T: Serialize>(value: &T) -> Result<(), Failure> {
    let line = serde_json::to_string(value).map_err(|e| {
        Failure::new(
            crate::exit::INTERNAL,
            format!("cannot encode the output: {e}"),
        )
    })?;
    print_line(&line)
}

/// Print one line on stdout, and flush (so that a reader sees it at once).
pub fn print_line(line: &str) -> Result<(), Failure> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}")
        .and_then(|()| out.flush())
        .map_err(|e| Failure::output(&e))
}

/// Print a lease handed over to the caller (`acquire`, `extend`).
pub fn print_lease(info: &redlease::LeaseInfo, format: Format) -> Result<(), Failure> {
    print_data(
        &LeaseJson {
            resource: &info.resource,
            owner: &info.owner,
            fencing_token: info.fencing_token,
            validity_ms: millis(info.remaining),
        },
        format,
    )
}

/// Write `bytes` to stdout as they are (completions, man page); exit code 0 or a failure.
pub fn print_bytes(bytes: &[u8]) -> Result<u8, Failure> {
    let mut out = std::io::stdout().lock();
    out.write_all(bytes)
        .and_then(|()| out.flush())
        .map_err(|e| Failure::output(&e))?;
    Ok(crate::exit::OK)
}

/// Whether stdout was closed when redlease started.
static STDOUT_CLOSED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Remember whether stdout was closed when redlease started. Call first thing in `main`.
///
/// Rust's runtime puts `/dev/null` (opened read-write) on a closed stdin, stdout or
/// stderr before `main`, so that the next file opened (a connection to a server!) cannot
/// become descriptor 1. A closed stdout is therefore seen as `/dev/null` open read-write,
/// which a shell's `> /dev/null` (write-only) is not: that one stays a deliberate choice.
pub fn note_closed_stdout() {
    // SAFETY: fcntl(F_GETFL), fstat and stat only read; the stat buffers are zeroed
    // plain-data out-parameters.
    let closed = unsafe {
        let flags = libc::fcntl(1, libc::F_GETFL);
        let mut out: libc::stat = std::mem::zeroed();
        let mut null: libc::stat = std::mem::zeroed();
        flags != -1
            && flags & libc::O_ACCMODE == libc::O_RDWR
            && libc::fstat(1, &mut out) == 0
            && libc::stat(c"/dev/null".as_ptr(), &mut null) == 0
            && out.st_rdev == null.st_rdev
            && out.st_mode & libc::S_IFMT == libc::S_IFCHR
    };
    STDOUT_CLOSED.store(closed, std::sync::atomic::Ordering::Relaxed);
}

/// Whether stdout was closed when redlease started (what it prints goes nowhere).
pub fn stdout_closed() -> bool {
    STDOUT_CLOSED.load(std::sync::atomic::Ordering::Relaxed)
}
