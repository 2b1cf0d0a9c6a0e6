//! The nodes and everything every operation on them shares.
//!
//! A [`Cluster`] is what a manager, its leases, its rounds and its waiters have in common:
//! the validated configuration, one [`Node`] per server, the wake-up subscribers, the
//! delayed-restart marker key and the background work counter. It sits below every module
//! that uses it and calls none of them, so that dependencies point one way: the manager
//! and leases use rounds, rounds use the cluster, the cluster uses nodes.

use std::sync::Arc;
use std::time::Duration;

use crate::background::Background;
use crate::config::Config;
use crate::config::NodeKind;
use crate::contention::Contention;
use crate::error::{Error, NodeError, NodeFailure};
use crate::minting::{self, TokensAsked};
use crate::node::Node;
use crate::ops::acquire::Fencing;
use crate::ops::extend_many::Queue;
use crate::ops::{MarkerKey, Target};
use crate::protocol;
use crate::wakeup::Wakeups;

/// The nodes of one manager and what they share.
pub(crate) struct Cluster {
    pub config: Config,
    pub nodes: Vec<Node>,
    pub wakeups: Arc<Wakeups>,
    /// Where the delayed-restart marker lives, when enabled (and N > 1).
    pub marker: Option<MarkerKey>,
    /// Work left running in the background.
    pub background: Arc<Background>,
    /// Per node, renewal's extends waiting for the next batch (see `batch`).
    pub extend_queues: Vec<Queue>,
    /// Resources contended lately: those skip the quick acquire and release.
    pub contention: Contention,
    /// Which resources' leases were asked for their tokens lately (`minting.rs`).
    pub tokens_asked: TokensAsked,
}

impl Cluster {
    /// Open a client per node and try to connect each (nodes that are down are failed
    /// votes later, not an error now).
    pub(crate) async fn connect(config: Config) -> Result<Self, Error> {
        let nodes = config
            .servers
            .iter()
            .enumerate()
            .map(|(i, server)| {
                Node::new(
                    i,
                    server,
                    config.tls.as_ref(),
                    config.node_timeout,
                    config.min_replicas,
                )
            })
            .collect::<Result<Vec<_>, _>>()?;
        futures_util::future::join_all(nodes.iter().map(Node::warm_up)).await;
        refuse_twins(&nodes, &config).await?;
        // Marker ages are compared across nodes, so every node keeps the same kind of
        // marker: per resource as soon as one node is a cluster (whose shards each lose
        // their own data), else one per node.
        let any_cluster = nodes.iter().any(|n| n.kind() == NodeKind::Cluster);
        let marker = (config.delayed_restart && nodes.len() > 1).then(|| {
            if any_cluster {
                MarkerKey::PerResource
            } else {
                MarkerKey::Global(Arc::from(format!("{}marker:born", config.key_prefix)))
            }
        });
        let wakeups = Arc::new(Wakeups::new(
            config
                .servers
                .iter()
                .map(|server| (server.clone(), config.node_timeout)),
            config.tls.clone(),
        ));
        Ok(Cluster {
            extend_queues: nodes.iter().map(|_| Queue::default()).collect(),
            config,
            nodes,
            wakeups,
            marker,
            background: Arc::default(),
            contention: Contention::default(),
            tokens_asked: TokensAsked::default(),
        })
    }

    /// Nodes needed for a quorum.
    pub(crate) fn quorum(&self) -> usize {
        protocol::quorum(self.nodes.len())
    }

    /// How an acquisition of `resource` mints its fencing token (`minting.rs`).
    pub(crate) fn minting(&self, resource: &str) -> Fencing {
        let c = &self.config;
        // The table is read only where it decides (its hash is not free).
        let asked = self.chooses_minting() && self.tokens_asked.lately(resource);
        minting::choose(c.fencing, self.nodes.len(), c.token_at_acquire, asked)
    }

    /// Whether where a lease's token is minted depends on the resource's last lease (fenced,
    /// several nodes, `token_at_acquire` off): only then is it worth remembering.
    pub(crate) fn chooses_minting(&self) -> bool {
        let c = &self.config;
        c.fencing && self.nodes.len() > 1 && !c.token_at_acquire
    }

    /// Whether every acquisition mints its token (one node, or `token_at_acquire`): then
    /// a lease's token is on a quorum of its nodes as soon as it is granted.
    pub(crate) fn always_mints_at_acquire(&self) -> bool {
        minting::choose(
            self.config.fencing,
            self.nodes.len(),
            self.config.token_at_acquire,
            false,
        ) != Fencing::Off
    }

    /// The drift allowance for a lease of `ttl`.
    pub(crate) fn drift(&self, ttl: Duration) -> Duration {
        protocol::drift(ttl, self.config.drift_factor)
    }

    /// How long a queued waiter may go without trying again before it counts as gone.
    pub(crate) fn waiter_gone_after(&self) -> Duration {
        protocol::retry::waiter_gone_after(self.config.wake_up_fallback, self.config.node_timeout)
    }

    /// How long a registration is good for a hand-off grant.
    pub(crate) fn registration_fresh(&self) -> Duration {
        protocol::handoff::registration_fresh_for(
            self.config.wake_up_fallback,
            self.config.node_timeout,
        )
    }

    /// How long a node keeps a wait queue after a waiter last joined or kept its place.
    pub(crate) fn queue_ttl(&self) -> Duration {
        protocol::queue::queue_ttl(self.waiter_gone_after())
    }

    /// The keys of `resource`, for `owner`.
    pub(crate) fn target(&self, resource: &str, owner: String) -> Arc<Target> {
        Target::new(&self.config.key_prefix, resource, owner)
    }

    /// Node `index`'s failure, named for error reports.
    pub(crate) fn failure(&self, index: usize, error: NodeError) -> NodeFailure {
        match self.nodes.get(index) {
            Some(node) => node.failure(error),
            None => NodeFailure {
                index,
                server: String::new(),
                error,
            },
        }
    }
}

/// One server reached under two names (`localhost` and `127.0.0.1`, two databases of one
/// instance) is one failure domain that would vote twice: refuse it. Compared by the
/// servers' own identity, for the nodes that answer now (a node that is down is checked
/// when the manager is built again, not later).
async fn refuse_twins(nodes: &[Node], config: &Config) -> Result<(), Error> {
    let ids = futures_util::future::join_all(nodes.iter().map(Node::identity)).await;
    for (j, id) in ids.iter().enumerate() {
        let Some(id) = id else { continue };
        if let Some(i) = ids[..j].iter().position(|other| other.as_ref() == Some(id)) {
            let (first, twin) = (&config.servers[i].redacted, &config.servers[j].redacted);
            return Err(Error::invalid(
                format!("servers[{j}]"),
                twin,
                format!(
                    "is the same Redis server as servers[{i}] ({first}) under another name (run_id {id}); one server counted twice would break the quorum"
                ),
                "each server once: independent Redis masters, one URL each",
            ));
        }
    }
    Ok(())
}
