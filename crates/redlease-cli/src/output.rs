//! What the commands print on stdout: one JSON document per command.
//!
//! The field names are an interface (scripts and tests parse them), so they are spelled
//! out once here as serde structs rather than assembled by hand in each command.

use std::io::Write;

use serde::Serialize;

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
    /// Servers needed for a quorum.
    pub quorum: usize,
    /// Servers that answered.
    pub reachable: usize,
    /// Each server's view, in the order of `--servers`.
    pub nodes: Vec<NodeJson>,
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

/// Print `value` as one line of JSON on stdout, and flush.
pub fn print_json<T: Serialize>(value: &T) -> Result<(), Failure> {
    let line = serde_json::to_string(value)
        .map_err(|e| Failure::new(crate::exit::LOST, format!("cannot encode the output: {e}")))?;
    print_line(&line)
}

/// Print one line on stdout, and flush (so that a reader sees it at once).
pub fn print_line(line: &str) -> Result<(), Failure> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}")
        .and_then(|()| out.flush())
        .map_err(|e| Failure::output(&e))
}

/// Print a lease handed over to the caller (`acquire`, `extend`) as its JSON line.
pub fn print_lease(info: &redlease::LeaseInfo) -> Result<(), Failure> {
    print_json(&LeaseJson {
        resource: &info.resource,
        owner: &info.owner,
        fencing_token: info.fencing_token,
        validity_ms: millis(info.remaining),
    })
}
