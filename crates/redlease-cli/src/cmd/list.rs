//! `redlease list`: the leases held now and who holds them, like `lslocks`.
//!
//! The question is "what is stuck, and whose is it?", so each held lease comes with the
//! description its holder stored (host, pid, command). The library scans the servers
//! with SCAN (bounded by `--limit`; every shard of a cluster), never KEYS, which would
//! stall a busy server. An empty list must not hide an outage: fewer than a quorum of
//! servers scanned in full is an error (69, or 77 for refused credentials) rather than
//! an empty answer; a server (or cluster shard) that could not be scanned, with a
//! quorum scanned, is named on stderr, since leases held only there may be missing.

use redlease::{Listing, LockManager, Status};

use crate::cli::{Format, ListArgs};
use crate::exit::{Failure, OK, UNAVAILABLE};
use crate::holder::Holder;
use crate::output::{HolderJson, millis, print_json, print_line};

/// One held lease, as printed.
#[derive(Debug, serde::Serialize)]
struct Listed {
    resource: String,
    owner: Option<String>,
    remaining_ms: Option<u64>,
    fencing_token: u64,
    holder: Option<HolderJson>,
}

/// List, check that enough servers were scanned, print.
pub async fn run(args: &ListArgs) -> Result<u8, Failure> {
    let manager = crate::connect::manager(&args.connection, redlease::config::DEFAULT_TTL).await?;
    let limit = usize::try_from(args.limit).unwrap_or(usize::MAX);
    let listing = manager.list(&args.pattern, limit).await?;
    enough_scanned(&manager, &listing)?;
    for failure in &listing.unscanned {
        crate::warn(&format!(
            "server {} ({}) could not be scanned, leases held only there may be missing: {}",
            failure.index + 1,
            failure.server,
            crate::refusal::node_error_text(&failure.error)
        ));
    }
    let rows: Vec<Listed> = listing.held.into_iter().map(listed).collect();
    match args.format.format {
        Format::Json => {
            for row in &rows {
                print_json(row)?;
            }
        }
        Format::Human => print_line(&table(&rows, &args.pattern))?,
    }
    Ok(OK)
}

/// Fewer than a quorum of servers scanned means the list cannot be trusted: a lease is
/// held on a quorum, so it may be on none of the servers that were.
fn enough_scanned(manager: &LockManager, listing: &Listing) -> Result<(), Failure> {
    let scanned = manager.nodes().saturating_sub(listing.unscanned.len());
    if scanned >= manager.quorum() {
        return Ok(());
    }
    let failed: Vec<crate::refusal::Failed<'_>> = listing
        .unscanned
        .iter()
        .map(|f| crate::refusal::Failed {
            index: f.index,
            server: &f.server,
            error: &f.error,
        })
        .collect();
    if let Some(failure) = crate::refusal::explain(&failed) {
        return Err(failure);
    }
    let why: Vec<String> = failed
        .iter()
        .map(|f| {
            format!(
                "server {} ({}): {}",
                f.index + 1,
                f.server,
                crate::refusal::node_error_text(f.error)
            )
        })
        .collect();
    Err(Failure::new(
        UNAVAILABLE,
        format!(
            "only {scanned} of {} servers could be scanned, a quorum is {}: the list would be incomplete ({}); check that the servers are running and reachable",
            manager.nodes(),
            manager.quorum(),
            why.join("; ")
        ),
    ))
}

fn listed(status: Status) -> Listed {
    Listed {
        resource: status.resource,
        owner: status.holder,
        remaining_ms: status.remaining.map(millis),
        fencing_token: status.last_fencing_token,
        holder: status
            .holder_info
            .as_deref()
            .map(|info| HolderJson::from(Holder::parse(info))),
    }
}

/// Aligned columns for people.
fn table(rows: &[Listed], pattern: &str) -> String {
    if rows.is_empty() {
        return format!("no lease held on resources matching {pattern:?}");
    }
    let dash = || "-".to_owned();
    let mut cells = vec![[
        "RESOURCE".to_owned(),
        "TOKEN".to_owned(),
        "REMAINING".to_owned(),
        "HOST".to_owned(),
        "PID".to_owned(),
        "OWNER".to_owned(),
        "COMMAND".to_owned(),
    ]];
    for row in rows {
        let holder = row.holder.as_ref();
        cells.push([
            row.resource.clone(),
            row.fencing_token.to_string(),
            row.remaining_ms.map_or_else(dash, |ms| {
                humantime::format_duration(std::time::Duration::from_millis(ms)).to_string()
            }),
            holder.and_then(|h| h.host.clone()).unwrap_or_else(dash),
            holder
                .and_then(|h| h.pid)
                .map_or_else(dash, |p| p.to_string()),
            row.owner.clone().unwrap_or_else(dash),
            holder.and_then(|h| h.command.clone()).unwrap_or_else(dash),
        ]);
    }
    let widths: Vec<usize> = (0..7)
        .map(|i| {
            cells
                .iter()
                .map(|r| r[i].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    cells
        .iter()
        .map(|r| {
            let line: Vec<String> = r
                .iter()
                .zip(&widths)
                .map(|(cell, w)| format!("{cell:<w$}"))
                .collect();
            line.join("  ").trim_end().to_owned()
        })
        .collect::<Vec<_>>()
        .join("\n")
}
