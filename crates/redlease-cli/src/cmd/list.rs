//! `redlease list`: the leases held now and who holds them, like `lslocks`.
//!
//! The question is "what is stuck, and whose is it?", so each held lease comes with the
//! description its holder stored (host, pid, command). The library scans the servers
//! with SCAN (bounded by `--limit`), never KEYS, which would stall a busy server. A
//! server that cannot be scanned is skipped by that scan, so an empty list could hide an
//! outage; the servers are therefore asked first, and fewer than a quorum answering is
//! an error (69, or 77 for refused credentials) rather than an empty answer.

use redlease::{LockManager, Status};

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

/// Check the servers, list, print.
pub async fn run(args: &ListArgs) -> Result<u8, Failure> {
    let manager = crate::connect::manager(&args.connection, redlease::config::DEFAULT_TTL).await?;
    enough_servers(&manager).await?;
    let limit = usize::try_from(args.limit).unwrap_or(usize::MAX);
    let held = manager.list(&args.pattern, limit).await?;
    let rows: Vec<Listed> = held.into_iter().map(listed).collect();
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

/// Fewer than a quorum of servers answering means the list cannot be trusted.
async fn enough_servers(manager: &LockManager) -> Result<(), Failure> {
    let answers = manager.node_markers().await;
    let failed: Vec<crate::refusal::Failed<'_>> = answers
        .iter()
        .filter_map(|(node, answer)| {
            answer.as_ref().err().map(|error| crate::refusal::Failed {
                index: node.index,
                server: &node.server,
                error,
            })
        })
        .collect();
    let reachable = answers.len() - failed.len();
    if reachable >= manager.quorum() {
        return Ok(());
    }
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
            "only {reachable} of {} servers answered, a quorum is {}: the list would be incomplete ({}); check that the servers are running and reachable",
            answers.len(),
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
