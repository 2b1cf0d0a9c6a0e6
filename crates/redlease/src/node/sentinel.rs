//! A Sentinel service's primary, found again at every connection.
//!
//! Sentinel moves the primary role to a replica when the primary fails; a client that
//! keeps writing to the old address writes to a dead server or, once it comes back, to a
//! replica that refuses writes. So the address is never cached: each (re)connection asks
//! the sentinels `SENTINEL get-master-addr-by-name SERVICE` (the first that answers, in
//! turn, starting after the last one that failed), connects there, and checks with `ROLE`
//! that it really is a primary (a sentinel may still point at a demoted one for a
//! moment). The node reconnects when its connection breaks, when a write is answered
//! `READONLY` (see [`super::Node`]), and as soon as a sentinel announces a new primary
//! on `+switch-master` ([`super::follow`]): then it connects to the announced address
//! first, because the sentinel asked next may not have learnt of the switch yet.
//!
//! The URL's credentials and database are the data nodes'; the sentinels are asked with
//! their own, from the URL's `sentinel_username`/`sentinel_password` parameters, if given.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, Client, ConnectionAddr, ConnectionInfo, RedisResult};

use super::follow::{self, Follower, Switches};
use super::link::{Refusal, client};
use crate::config::Tls;

pub(crate) struct Sentinel {
    sentinels: Vec<Client>,
    service: String,
    /// Credentials and database for the primary; its address is replaced.
    primary: ConnectionInfo,
    tls: Option<Tls>,
    timeout: Duration,
    /// The sentinel to ask first.
    next: AtomicUsize,
    /// Switches announced on `+switch-master` (only counted while a [`Follower`] runs).
    switches: Arc<Switches>,
}

impl Sentinel {
    pub(crate) fn new(
        sentinels: &[ConnectionInfo],
        service: String,
        primary: ConnectionInfo,
        tls: Option<Tls>,
        timeout: Duration,
    ) -> RedisResult<Self> {
        Ok(Sentinel {
            sentinels: sentinels
                .iter()
                .map(|info| Client::open(info.clone()))
                .collect::<RedisResult<_>>()?,
            service,
            primary,
            tls,
            timeout,
            next: AtomicUsize::new(0),
            switches: Arc::default(),
        })
    }

    /// Start following `+switch-master` for this service (until the returned task is
    /// dropped).
    pub(crate) fn follow(&self) -> Option<Follower> {
        follow::spawn(
            self.sentinels.clone(),
            self.service.clone(),
            self.timeout,
            &self.switches,
        )
    }

    /// Switches announced so far: a connection made before the last one is stale.
    pub(crate) fn switches(&self) -> u64 {
        self.switches.count()
    }

    /// The primary's address, from the first sentinel that knows the service.
    async fn resolve(&self) -> Result<(String, u16), Refusal> {
        let count = self.sentinels.len();
        let first = self.next.load(Ordering::Relaxed);
        let mut unknown = 0;
        let mut last_error = None;
        for i in (0..count).map(|k| (first + k) % count) {
            let Some(sentinel) = self.sentinels.get(i) else {
                continue;
            };
            let asked = async {
                let mut conn = sentinel
                    .get_multiplexed_async_connection_with_config(&super::link::config(
                        self.timeout,
                    ))
                    .await?;
                redis::cmd("SENTINEL")
                    .arg("get-master-addr-by-name")
                    .arg(&self.service)
                    .query_async::<Option<(String, u16)>>(&mut conn)
                    .await
            };
            match tokio::time::timeout(self.timeout, asked).await {
                Ok(Ok(Some(addr))) => {
                    self.next.store(i, Ordering::Relaxed);
                    return Ok(addr);
                }
                Ok(Ok(None)) => unknown += 1,
                Ok(Err(e)) => last_error = Some(self.describe(&e)),
                Err(_) => last_error = Some(format!("no answer within {:?}", self.timeout)),
            }
            self.next.store((i + 1) % count, Ordering::Relaxed);
        }
        Err(Refusal::Unusable(if unknown > 0 {
            format!(
                "no sentinel knows a service named {:?} ({unknown} of {count} answered that they do not)",
                self.service
            )
        } else {
            format!(
                "no sentinel answered for service {:?} (last: {})",
                self.service,
                last_error.unwrap_or_default()
            )
        }))
    }

    /// A sentinel's error, with the advice a refused credential needs (the client's own
    /// text names its error kind, not what to do).
    fn describe(&self, e: &redis::RedisError) -> String {
        let refused = e.kind() == redis::ErrorKind::AuthenticationFailed
            || matches!(e.code(), Some("NOAUTH" | "WRONGPASS" | "NOPERM"));
        let given = self.sentinels.first().is_some_and(|c| {
            let settings = c.get_connection_info().redis_settings();
            settings.password().is_some() || settings.username().is_some()
        });
        match (refused, given) {
            (true, true) => "the sentinels refused the sentinel_username/sentinel_password given in the URL".to_owned(),
            (true, false) => "the sentinels require a password: give theirs as ?sentinel_password=... (and ?sentinel_username=... for an ACL user) in the URL".to_owned(),
            (false, _) => e.to_string(),
        }
    }

    /// A client for the primary the sentinels name now (for the wake-up subscriber).
    pub(crate) async fn primary_client(&self) -> Result<Client, Refusal> {
        let (host, port) = self.resolve().await?;
        let info = self
            .primary
            .clone()
            .set_addr(ConnectionAddr::Tcp(host, port));
        Ok(client(info, self.tls.as_ref())?)
    }

    /// Connect to the primary a switch announced, if any, else to the one the sentinels
    /// name; check that it is a primary.
    pub(crate) async fn connect(
        &self,
        config: &AsyncConnectionConfig,
    ) -> Result<MultiplexedConnection, Refusal> {
        if let Some((host, port)) = self.switches.take_announced() {
            match self.connect_to(host.clone(), port, config).await {
                Ok(conn) => return Ok(conn),
                Err(e) => tracing::debug!(%host, port, ?e, "announced primary refused"),
            }
        }
        let (host, port) = self.resolve().await?;
        self.connect_to(host, port, config).await
    }

    async fn connect_to(
        &self,
        host: String,
        port: u16,
        config: &AsyncConnectionConfig,
    ) -> Result<MultiplexedConnection, Refusal> {
        let info = self
            .primary
            .clone()
            .set_addr(ConnectionAddr::Tcp(host.clone(), port));
        let mut conn = client(info, self.tls.as_ref())?
            .get_multiplexed_async_connection_with_config(config)
            .await?;
        let role: Vec<redis::Value> = redis::cmd("ROLE").query_async(&mut conn).await?;
        let is_primary =
            matches!(role.first(), Some(redis::Value::BulkString(r)) if r == b"master");
        if !is_primary {
            return Err(Refusal::Unusable(format!(
                "the sentinels name {host}:{port} as primary of {:?}, but it is not a primary (yet): retrying",
                self.service
            )));
        }
        Ok(conn)
    }
}
