//! A [`Cluster`] whose nodes are reached through one [`Proxy`] each.
//!
//! Clients built from [`ProxiedCluster::urls`] talk to the proxies, so a
//! test can slow down, cut off or black-hole each node's network path while
//! still killing, pausing or restarting the node itself through
//! [`ProxiedCluster::node`]. A restarted node keeps its port, so its proxy
//! keeps working across restarts.

use std::io;
use std::net::{Ipv4Addr, SocketAddr};

use crate::cluster::Cluster;
use crate::node::Node;
use crate::proxy::Proxy;

/// A cluster with a proxy in front of every node. Dropping it stops the
/// proxies first, then the servers.
#[derive(Debug)]
pub struct ProxiedCluster {
    // Field order is drop order: proxies before the servers they front.
    proxies: Vec<Proxy>,
    cluster: Cluster,
}

impl ProxiedCluster {
    /// Starts `nodes` servers with default options, each behind a proxy.
    pub fn start(nodes: usize) -> io::Result<ProxiedCluster> {
        ProxiedCluster::wrap(Cluster::start(nodes)?)
    }

    /// Puts a proxy in front of every node of `cluster` (TCP nodes only).
    pub fn wrap(cluster: Cluster) -> io::Result<ProxiedCluster> {
        let proxies = cluster
            .nodes()
            .iter()
            .map(|node| {
                let port = node.port().ok_or_else(|| {
                    io::Error::new(
                        io::ErrorKind::InvalidInput,
                        "proxies need TCP nodes, not unix sockets",
                    )
                })?;
                Proxy::start(SocketAddr::from((Ipv4Addr::LOCALHOST, port)))
            })
            .collect::<io::Result<Vec<_>>>()?;
        Ok(ProxiedCluster { proxies, cluster })
    }

    /// The proxies' URLs, in node order: what clients should use.
    pub fn urls(&self) -> Vec<String> {
        self.proxies.iter().map(Proxy::url).collect()
    }

    /// How many nodes.
    pub fn len(&self) -> usize {
        self.proxies.len()
    }

    /// Always false: a cluster has at least one node.
    pub fn is_empty(&self) -> bool {
        self.proxies.is_empty()
    }

    /// The proxy in front of node `index`.
    ///
    /// # Panics
    ///
    /// If `index >= self.len()`.
    pub fn proxy(&self, index: usize) -> &Proxy {
        &self.proxies[index]
    }

    /// All proxies, in node order.
    pub fn proxies(&self) -> &[Proxy] {
        &self.proxies
    }

    /// Node `index` itself (kill, pause, restart, ...).
    ///
    /// # Panics
    ///
    /// If `index >= self.len()`.
    pub fn node(&self, index: usize) -> &Node {
        self.cluster.node(index)
    }

    /// The cluster behind the proxies.
    pub fn cluster(&self) -> &Cluster {
        &self.cluster
    }

    /// Every proxy back to a plain pass-through (see [`Proxy::heal`]).
    pub fn heal(&self) {
        self.proxies.iter().for_each(Proxy::heal);
    }
}
