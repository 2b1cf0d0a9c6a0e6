//! Operations for operators and commands that hold no lease object: status, the
//! delayed-restart markers, and extend or release by owner value.
//!
//! The `redlease` command releases or extends a lease acquired by another process (it
//! printed the owner value); an operator asks who holds a resource, or marks nodes ready
//! after a planned restart. None of this is on the lock's hot path.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::cluster::Cluster;
use crate::config;
use crate::error::{Error, NodeError, NodeFailure, NodeName};
use crate::lease::{Lease, LeaseCore};
use crate::ops::MarkerKey;
use crate::ops::marker::{Action, Marker};
use crate::ops::status::{Status as StatusOp, StatusReply};
use crate::protocol;
use crate::release;
use crate::renewal::Renewals;
use crate::round;

/// What the nodes say about one resource, from [`crate::LockManager::status`].
#[derive(Debug, Clone)]
pub struct Status {
    /// The resource.
    pub resource: String,
    /// The owner holding it on a quorum of nodes, if any.
    pub holder: Option<String>,
    /// The holder's remaining ttl: the quorum-th largest among the nodes holding it.
    pub remaining: Option<Duration>,
    /// The highest fencing counter any node reported.
    pub last_fencing_token: u64,
    /// The holder's description of itself, if it gave one (see [`Lease::describe`]).
    pub holder_info: Option<String>,
    /// Each node's view.
    pub nodes: Vec<NodeStatus>,
}

/// One node's view of a resource.
#[derive(Debug, Clone)]
pub struct NodeStatus {
    /// The node.
    pub node: NodeName,
    /// Its answer, or why there was none.
    pub reply: Result<StatusReply, NodeError>,
}

/// The leases held now, from [`crate::LockManager::list`], and the nodes that could not
/// be scanned.
#[derive(Debug, Clone)]
pub struct Listing {
    /// The held leases found, by resource name.
    pub held: Vec<Status>,
    /// Nodes that could not be scanned, wholly or (a Redis Cluster node) some of their
    /// shards; the error says which. A lease is held on a quorum of nodes, so it is
    /// listed as long as one of its nodes was scanned; with a quorum or more of the
    /// nodes here, leases may be missing from `held`.
    pub unscanned: Vec<NodeFailure>,
}

impl Listing {
    /// Whether every node was scanned in full.
    pub fn is_complete(&self) -> bool {
        self.unscanned.is_empty()
    }
}

/// Each node's marker age, or why there is none (see [`crate::LockManager::node_markers`]).
pub type Markers = Vec<(NodeName, Result<Option<Duration>, NodeError>)>;

/// What each node says about `resource`.
pub(crate) async fn status(cluster: &Arc<Cluster>, resource: &str) -> Result<Status, Error> {
    config::check_resource(resource)?;
    let op = Arc::new(StatusOp {
        target: cluster.target(resource, String::new()),
    });
    let mut nodes: Vec<NodeStatus> = cluster
        .nodes
        .iter()
        .map(|node| NodeStatus {
            node: node.name().clone(),
            reply: Err(NodeError::Timeout(cluster.config.node_timeout)),
        })
        .collect();
    for (i, reply) in round::start(cluster, 0..cluster.nodes.len(), &op)
        .finish()
        .await
    {
        if let Some(node) = nodes.get_mut(i) {
            node.reply = reply;
        }
    }
    let replies = || nodes.iter().filter_map(|n| n.reply.as_ref().ok());
    let holder = protocol::quorum_holder(
        nodes.len(),
        replies().map(|r| (r.owner.as_deref(), r.pttl_ms)),
    )
    .map(|(owner, remaining)| (owner.to_owned(), remaining));
    let last_fencing_token = replies().map(|r| r.fence).max().unwrap_or(0);
    let (holder, remaining) = holder.map_or((None, None), |(h, r)| (Some(h), r));
    let holder_info = holder.as_deref().and_then(|h| {
        replies()
            .filter(|r| r.owner.as_deref() == Some(h))
            .find_map(|r| r.holder_info.clone())
    });
    Ok(Status {
        resource: resource.to_owned(),
        holder,
        remaining,
        last_fencing_token,
        holder_info,
        nodes,
    })
}

/// The leases held now on resources matching the glob `pattern`, at most `limit`: every
/// node is scanned (SCAN, bounded; every shard of a cluster) for lock keys, then each
/// resource's status is read. What could not be scanned is named, not skipped silently.
pub(crate) async fn list(
    cluster: &Arc<Cluster>,
    pattern: &str,
    limit: usize,
) -> Result<Listing, Error> {
    let prefix = &cluster.config.key_prefix;
    let glob = format!("{}{{{pattern}}}:lock", escape_glob(prefix));
    let scans = futures_util::future::join_all(
        cluster
            .nodes
            .iter()
            .map(|node| node.scan(&glob, limit.saturating_mul(2).max(limit))),
    )
    .await;
    let head = format!("{prefix}{{");
    let mut unscanned = Vec::new();
    let mut resources = Vec::new();
    for (node, scanned) in cluster.nodes.iter().zip(scans) {
        if let Some(error) = scanned.failure {
            unscanned.push(node.failure(error));
        }
        resources.extend(scanned.keys.into_iter().filter_map(|key| {
            key.strip_prefix(&head)?
                .strip_suffix("}:lock")
                .map(str::to_owned)
        }));
    }
    resources.sort_unstable();
    resources.dedup();
    let mut held = Vec::new();
    for resource in resources {
        if held.len() >= limit {
            break;
        }
        let status = status(cluster, &resource).await?;
        if status.holder.is_some() {
            held.push(status);
        }
    }
    Ok(Listing { held, unscanned })
}

/// `text` with Redis glob characters escaped, to match it literally.
fn escape_glob(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Run a marker action on every node.
pub(crate) async fn markers(cluster: &Cluster, action: Action) -> Markers {
    if cluster.marker == Some(MarkerKey::PerResource) {
        // Each resource has its own marker on a cluster: there is no node-wide one to
        // read or set, and scanning every shard for them is not an operator's quick check.
        let why = "markers are per resource on a deployment with a Redis Cluster node (<prefix>{<resource>}:born): no node-wide marker to read or set";
        return cluster
            .nodes
            .iter()
            .map(|node| {
                (
                    node.name().clone(),
                    Err(NodeError::Protocol(why.to_owned())),
                )
            })
            .collect();
    }
    let op = Marker {
        key: Arc::from(format!("{}marker:born", cluster.config.key_prefix)),
        action,
        max_ttl: cluster.config.max_ttl,
    };
    if action == Action::Reset {
        // The new markers are a fresh start, not a sign of lost data, for this client.
        // (Other running clients hold the nodes back until the markers are max_ttl old.)
        cluster.nodes.iter().for_each(|node| node.forget_markers());
    }
    let calls = cluster.nodes.iter().map(|node| {
        let op = &op;
        async move { (node.name().clone(), node.run(op).await) }
    });
    futures_util::future::join_all(calls).await
}

/// Release `resource` for `owner` on every node; whether any node still held it.
pub(crate) async fn release_owner(
    cluster: &Arc<Cluster>,
    resource: &str,
    owner: &str,
) -> Result<bool, Error> {
    config::check_resource(resource)?;
    check_owner(owner)?;
    let target = cluster.target(resource, owner.to_owned());
    Ok(release::everywhere(cluster, &target, true, true)
        .await?
        .held
        > 0)
}

/// Extend `resource` for `owner` to `ttl`: a lease that is neither renewed nor released
/// on drop.
pub(crate) async fn extend_owner(
    cluster: &Arc<Cluster>,
    renewals: &Arc<Renewals<LeaseCore>>,
    resource: &str,
    owner: &str,
    ttl: Duration,
) -> Result<Lease, Error> {
    config::check_resource(resource)?;
    check_owner(owner)?;
    let c = &cluster.config;
    config::check_call_ttl(ttl, c)?;
    let lease = Lease::new(LeaseCore::new(
        Arc::clone(cluster),
        Arc::clone(renewals),
        cluster.target(resource, owner.to_owned()),
        0,
        ttl,
        // Unknown: the extend below sets it, or reports loss.
        Instant::now().checked_add(ttl).unwrap_or_else(Instant::now),
    ));
    lease.disarm();
    let counter = lease.extend_inner(ttl).await?;
    // Where every acquisition mints its token, the counter of the confirming nodes is it
    // (nobody else mints while the lease is ours). Where tokens may be minted on demand,
    // the counter may be the previous lease's: the token is minted when asked for.
    if cluster.always_mints_at_acquire() {
        lease.set_token(counter);
    }
    Ok(lease)
}

fn check_owner(owner: &str) -> Result<(), Error> {
    let well_formed = owner.len() == 32 && owner.bytes().all(|b| b.is_ascii_hexdigit());
    if !well_formed {
        return Err(Error::invalid(
            "owner",
            owner,
            "is not an owner value",
            "the 32 hex digits printed when the lease was acquired",
        ));
    }
    Ok(())
}
