//! How a node's connections are made, for each kind of node.
//!
//! A lock node is one failure domain whatever it is: one server, the primary of a Sentinel
//! service, or a whole Redis Cluster. What differs is only how to reach it, so that is all
//! this file knows: [`Link`] opens a [`Conn`], and a `Conn` carries scripts like any
//! connection. Everything above (timeouts, reconnection, the protocol) is the same for
//! every kind.
//!
//! - **Standalone**: one multiplexed connection.
//! - **Sentinel**: the primary's address is asked from the sentinels at every
//!   (re)connection ([`super::sentinel`]), so a failover is followed as soon as a sentinel
//!   announces it ([`super::follow`]), the old connection breaks, or the old primary, now
//!   a replica, answers `READONLY`.
//! - **Cluster**: redis-rs' async cluster client, which follows `MOVED`/`ASK` and
//!   refreshes its slot map itself. Every key of one resource shares the hash tag
//!   `{resource}`, so each script runs on the one shard that owns the resource.

use std::time::Duration;

use redis::aio::{ConnectionLike, MultiplexedConnection};
use redis::cluster::{ClusterClient, ClusterClientBuilder};
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::{Route, RoutingInfo, SingleNodeRoutingInfo, Slot, SlotAddr};
use redis::{AsyncConnectionConfig, Client, Cmd, Pipeline, RedisFuture, RedisResult, Value};

use super::sentinel::Sentinel;
use crate::config::{Address, Server, Tls};

/// How to reach one node.
pub(crate) enum Link {
    Direct(Client),
    Sentinel(Sentinel),
    /// The client, and the first seed's host: where a server that does not know its own
    /// address (`""` in `CLUSTER SLOTS`, a cluster of one shard) is reached.
    Cluster(ClusterClient, String),
}

/// A live connection to a node.
#[derive(Clone)]
pub(crate) enum Conn {
    Direct(MultiplexedConnection),
    Cluster(ClusterConnection),
}

/// Why a node could not be used, beyond what the Redis client reports.
#[derive(Debug)]
pub(crate) enum Refusal {
    /// The Redis client failed (connect, I/O, an error reply).
    Redis(redis::RedisError),
    /// The node answered, but is not one redlease may lock on (a replica, an unknown
    /// Sentinel service): the message says which and why.
    Unusable(String),
}

impl From<redis::RedisError> for Refusal {
    fn from(e: redis::RedisError) -> Self {
        Refusal::Redis(e)
    }
}

impl Link {
    /// A link for `server` (no connection is made yet).
    pub(crate) fn open(server: &Server, tls: Option<&Tls>, timeout: Duration) -> RedisResult<Link> {
        Ok(match &server.address {
            Address::Direct(info) => Link::Direct(client(info.clone(), tls)?),
            Address::Sentinel {
                sentinels,
                service,
                primary,
            } => Link::Sentinel(Sentinel::new(
                sentinels,
                service.clone(),
                primary.clone(),
                tls.cloned(),
                timeout,
            )?),
            Address::Cluster { seeds } => {
                let host = seeds
                    .first()
                    .and_then(|seed| match seed.addr() {
                        redis::ConnectionAddr::Tcp(host, _)
                        | redis::ConnectionAddr::TcpTls { host, .. } => Some(host.clone()),
                        _ => None,
                    })
                    .unwrap_or_default();
                Link::Cluster(cluster_builder(seeds, tls, timeout).build()?, host)
            }
        })
    }

    /// Start following the primary's switches, for a Sentinel node.
    pub(crate) fn follow(&self) -> Option<super::follow::Follower> {
        match self {
            Link::Sentinel(sentinel) => sentinel.follow(),
            Link::Direct(_) | Link::Cluster(..) => None,
        }
    }

    /// Primary switches seen so far (Sentinel; always 0 for the other kinds): a
    /// connection made before the last switch must not be used.
    pub(crate) fn switches(&self) -> u64 {
        match self {
            Link::Sentinel(sentinel) => sentinel.switches(),
            Link::Direct(_) | Link::Cluster(..) => 0,
        }
    }

    /// A cluster's first seed host (see [`Link::Cluster`]).
    pub(crate) fn seed_host(&self) -> &str {
        match self {
            Link::Cluster(_, host) => host,
            Link::Direct(_) | Link::Sentinel(_) => "",
        }
    }

    /// Connect, within `timeout` per step.
    pub(crate) async fn connect(&self, timeout: Duration) -> Result<Conn, Refusal> {
        match self {
            Link::Direct(client) => {
                let conn = client
                    .get_multiplexed_async_connection_with_config(&config(timeout))
                    .await?;
                Ok(Conn::Direct(conn))
            }
            Link::Sentinel(sentinel) => Ok(Conn::Direct(sentinel.connect(&config(timeout)).await?)),
            Link::Cluster(client, _) => Ok(Conn::Cluster(client.get_async_connection().await?)),
        }
    }
}

/// A client for one server, with the configured certificates.
pub(crate) fn client(info: redis::ConnectionInfo, tls: Option<&Tls>) -> RedisResult<Client> {
    match tls {
        Some(tls) => tls.client(info),
        None => Client::open(info),
    }
}

/// A cluster client over `seeds` (credentials from the first), with the node timeout as
/// its connection and response timeouts. Its own retries (MOVED, ASK, TRYAGAIN, a shard
/// failing over) are short: the caller's node timeout bounds the whole request anyway.
pub(crate) fn cluster_builder(
    seeds: &[redis::ConnectionInfo],
    tls: Option<&Tls>,
    timeout: Duration,
) -> ClusterClientBuilder {
    let builder = ClusterClientBuilder::new(seeds.to_vec())
        .connection_timeout(timeout)
        .response_timeout(timeout)
        .min_retry_wait(2)
        .max_retry_wait(50);
    match tls {
        Some(tls) => tls.cluster(builder),
        None => builder,
    }
}

/// A direct connection's settings: the node timeout for connecting and for each response.
/// The response timeout is what bounds a request on a live connection (see
/// `request.rs`, which sends those without a timer of its own): keep it.
pub(crate) fn config(timeout: Duration) -> AsyncConnectionConfig {
    AsyncConnectionConfig::new()
        .set_connection_timeout(Some(timeout))
        .set_response_timeout(Some(timeout))
}

impl Conn {
    /// `WAIT replicas timeout` after a write to `key`: how many replicas acknowledged every
    /// write made so far on this connection (on a cluster: on the shard of `key`).
    pub(crate) async fn wait_replicas(
        &mut self,
        key: &str,
        replicas: u32,
        timeout: Duration,
    ) -> RedisResult<u32> {
        let mut cmd = redis::cmd("WAIT");
        // WAIT 0 blocks forever: never send less than 1 ms.
        cmd.arg(replicas).arg(
            u64::try_from(timeout.as_millis())
                .unwrap_or(u64::MAX)
                .max(1),
        );
        let value = match self {
            Conn::Direct(conn) => cmd.query_async::<Value>(conn).await?,
            Conn::Cluster(conn) => {
                let route = Route::with_slot(Slot::for_key(key), SlotAddr::Master);
                let routing = RoutingInfo::SingleNode(SingleNodeRoutingInfo::SpecificNode(route));
                conn.route_command(cmd, routing).await?
            }
        };
        Ok(redis::from_redis_value(value)?)
    }
}

impl Conn {
    /// A command about the node itself (ROLE, CONFIG GET): on a cluster, sent to a random
    /// primary.
    pub(crate) async fn node_command(&mut self, cmd: Cmd) -> RedisResult<Value> {
        match self {
            Conn::Direct(conn) => cmd.query_async(conn).await,
            Conn::Cluster(conn) => {
                let routing = RoutingInfo::SingleNode(SingleNodeRoutingInfo::RandomPrimary);
                conn.route_command(cmd, routing).await
            }
        }
    }
}

impl ConnectionLike for Conn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Conn::Direct(conn) => conn.req_packed_command(cmd),
            Conn::Cluster(conn) => conn.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        cmd: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Conn::Direct(conn) => conn.req_packed_commands(cmd, offset, count),
            Conn::Cluster(conn) => conn.req_packed_commands(cmd, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Conn::Direct(conn) => conn.get_db(),
            Conn::Cluster(conn) => conn.get_db(),
        }
    }
}
