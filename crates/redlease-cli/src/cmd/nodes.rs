//! `redlease nodes`: what each server is (role, eviction policy, persistence, with
//! warnings) and its delayed-restart marker; mark servers ready or reset them.
//!
//! Delayed restart keeps a server that came back empty from counting as a grant until the
//! max ttl has passed. That is automatic; this command is the operator's handle on it:
//! see the markers' ages, mark servers ready after a planned restart, or reset them when
//! a deployment starts afresh.

use std::time::Duration;

use redlease::{LockManager, NodeError, NodeName};
use serde::Serialize;

use crate::cli::NodesArgs;
use crate::exit::{Failure, OK, UNAVAILABLE};
use crate::output::{millis, print_data};

/// One server's marker.
#[derive(Debug, Serialize)]
struct MarkerJson {
    server: String,
    reachable: bool,
    /// Age of the marker on the server's own clock; null when it has none.
    marker_age_ms: Option<u64>,
    error: Option<String>,
    /// `ROLE` (`master` for a usable server).
    role: Option<String>,
    /// `maxmemory-policy`; null when the server does not let us read it.
    maxmemory_policy: Option<String>,
    /// `appendonly`; null when unknown.
    appendonly: Option<bool>,
    /// `save` (RDB schedule, empty: none); null when unknown.
    save: Option<String>,
    /// What weakens a guarantee on this server, one sentence each.
    warnings: Vec<String>,
}

/// The whole answer.
#[derive(Debug, Serialize)]
struct NodesJson {
    action: &'static str,
    max_ttl_ms: u64,
    reachable: usize,
    quorum: usize,
    nodes: Vec<MarkerJson>,
}

/// Show, mark ready, or reset; print one JSON object.
pub async fn run(args: &NodesArgs) -> Result<u8, Failure> {
    let manager = manager(args).await?;
    let (action, markers) = if args.ready {
        ("ready", manager.mark_nodes_ready().await)
    } else if args.reset {
        ("reset", manager.reset_node_markers().await)
    } else {
        ("show", manager.node_markers().await)
    };
    let checks = manager.node_checks().await;
    let mut nodes: Vec<MarkerJson> = markers.into_iter().map(to_json).collect();
    for (node, check) in nodes.iter_mut().zip(checks) {
        node.role = check.role;
        node.maxmemory_policy = check.maxmemory_policy;
        node.appendonly = check.appendonly;
        node.save = check.save;
        node.warnings = check.warnings;
    }
    let reachable = nodes.iter().filter(|n| n.reachable).count();
    let quorum = manager.quorum();
    let total = nodes.len();
    print_data(
        &NodesJson {
            action,
            max_ttl_ms: millis(args.max_ttl),
            reachable,
            quorum,
            nodes,
        },
        args.format.format,
    )?;
    if reachable < quorum {
        return Err(Failure::new(
            UNAVAILABLE,
            format!(
                "only {reachable} of {total} servers answered, a quorum is {quorum}; the others were not changed: run it again once they are reachable"
            ),
        ));
    }
    Ok(OK)
}

/// A manager whose max ttl is the one the operator names (the markers are back-dated by
/// it); its own ttl only has to fit under it.
async fn manager(args: &NodesArgs) -> Result<LockManager, Failure> {
    let ttl = args.max_ttl.min(redlease::config::DEFAULT_TTL);
    crate::connect::builder(&args.connection, ttl)?
        .max_ttl(args.max_ttl)
        .build()
        .await
        .map_err(Failure::from)
}

fn to_json((node, marker): (NodeName, Result<Option<Duration>, NodeError>)) -> MarkerJson {
    match marker {
        Ok(age) => MarkerJson {
            server: node.server,
            reachable: true,
            marker_age_ms: age.map(millis),
            error: None,
            role: None,
            maxmemory_policy: None,
            appendonly: None,
            save: None,
            warnings: Vec::new(),
        },
        Err(e) => MarkerJson {
            server: node.server,
            reachable: false,
            marker_age_ms: None,
            error: Some(e.to_string()),
            role: None,
            maxmemory_policy: None,
            appendonly: None,
            save: None,
            warnings: Vec::new(),
        },
    }
}
