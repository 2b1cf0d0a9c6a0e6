//! The options about the nodes themselves: which servers, how to reach them (TLS), and
//! what a vote needs from their replicas.
//!
//! Kept apart from the lease options in `mod.rs` because they describe the deployment
//! (see `docs/deployment.md`), not the lock.

use std::path::PathBuf;

use super::Builder;

impl<F> Builder<F> {
    /// The Redis nodes, as URLs. One URL is the single-instance lock; N > 1 independent
    /// masters is Redlock with quorum `N/2 + 1`. No default: at least one is required.
    ///
    /// Accepted forms: `redis://[user:password@]host[:port][/db]`, `rediss://...` (with the
    /// `tls` feature), `unix:///path/to/socket[?db=N]`,
    /// `redis+sentinel://[user:password@]host:port[,host:port...]/SERVICE[/db][?sentinel_username=U&sentinel_password=P]`
    /// (the primary of SERVICE, followed across failovers; `user:password@` are the data
    /// nodes' credentials, the parameters the sentinels' own, if they require any), and
    /// `redis+cluster://[user:password@]host:port[,host:port...]` (a Redis Cluster).
    /// Whatever its kind, each URL is one node of the quorum: one failure domain. See
    /// `docs/deployment.md` for what each setup guarantees.
    pub fn servers<I, S>(mut self, servers: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.options.servers = servers.into_iter().map(Into::into).collect();
        self
    }

    /// Replicas that must confirm each grant, extend and fencing token (`WAIT`, within the
    /// node timeout) before that node's vote counts; otherwise it is a failed vote and the
    /// attempt's clean-up releases it. Default 0 (asynchronous replication: a failover
    /// right after a grant can lose it). With a Sentinel node and 1 or more, a lease
    /// survives the failover of its primary to a replica that confirmed it.
    pub fn min_replicas(mut self, replicas: u32) -> Self {
        self.options.min_replicas = replicas;
        self
    }

    /// Trust this CA (a PEM file) for `rediss://` servers, instead of the system's roots.
    /// Default: none (system roots). Needs the `tls` feature.
    pub fn tls_ca_cert(mut self, path: impl Into<PathBuf>) -> Self {
        self.options.tls_ca_cert = Some(path.into());
        self
    }

    /// Present this client certificate and key (PEM files) to `rediss://` servers that
    /// require one (mutual TLS). Default: none. Needs the `tls` feature.
    pub fn tls_client_cert(mut self, cert: impl Into<PathBuf>, key: impl Into<PathBuf>) -> Self {
        self.options.tls_client_cert = Some((cert.into(), key.into()));
        self
    }
}
