//! `redlease status`: what every server says about a resource.
//!
//! Meant for people debugging a stuck job and for monitoring, so it shows each server's
//! view (including the unreachable ones and why) next to the quorum's conclusion.

use redlease::Status;

use crate::cli::StatusArgs;
use crate::exit::{Failure, UNAVAILABLE};
use crate::output::{HolderJson, NodeJson, StatusJson, millis, print_data};

/// Query every server, print one JSON object.
pub async fn run(args: &StatusArgs) -> Result<u8, Failure> {
    let manager = crate::connect::manager(&args.connection, redlease::config::DEFAULT_TTL).await?;
    let status = manager.status(&args.resource).await?;
    let refused = refusal(&status);
    let json = to_json(status, manager.quorum());
    let (reachable, quorum, total) = (json.reachable, json.quorum, json.nodes.len());
    print_data(&json, args.format.format)?;
    if reachable < quorum {
        if let Some(failure) = refused {
            return Err(failure);
        }
        return Err(Failure::new(
            UNAVAILABLE,
            format!(
                "only {reachable} of {total} servers answered, a quorum is {quorum}: who holds {:?} is unknown; check that the servers are running and reachable",
                args.resource
            ),
        ));
    }
    Ok(crate::exit::OK)
}

/// Why nodes refused us, if they did for a reason the user must fix.
pub fn refusal(status: &Status) -> Option<Failure> {
    let failed: Vec<crate::refusal::Failed<'_>> = status
        .nodes
        .iter()
        .filter_map(|n| {
            n.reply.as_ref().err().map(|error| crate::refusal::Failed {
                index: n.node.index,
                server: &n.node.server,
                error,
            })
        })
        .collect();
    crate::refusal::explain(&failed)
}

fn to_json(status: Status, quorum: usize) -> StatusJson {
    let nodes: Vec<NodeJson> = status
        .nodes
        .into_iter()
        .map(|node| match node.reply {
            Ok(reply) => NodeJson {
                server: node.node.server,
                reachable: true,
                owner: reply.owner,
                ttl_ms: reply.pttl_ms,
                fence: Some(reply.fence),
                error: None,
            },
            Err(e) => NodeJson {
                server: node.node.server,
                reachable: false,
                owner: None,
                ttl_ms: None,
                fence: None,
                error: Some(crate::refusal::node_error_text(&e)),
            },
        })
        .collect();
    StatusJson {
        resource: status.resource,
        held: status.holder.is_some(),
        owner: status.holder,
        remaining_ms: status.remaining.map(millis),
        last_fencing_token: status.last_fencing_token,
        holder: status
            .holder_info
            .as_deref()
            .map(|info| HolderJson::from(crate::holder::Holder::parse(info))),
        quorum,
        reachable: nodes.iter().filter(|n| n.reachable).count(),
        nodes,
    }
}
