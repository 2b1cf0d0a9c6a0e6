//! Options, their defaults, and their validation.
//!
//! All options go through [`Builder`]; `build` checks every one of them and
//! names the field, the value and what is allowed, so a misconfiguration fails at start-up
//! with a message that says how to fix it rather than as a strange lock failure later.
//! Server URLs are parsed here and kept with a redacted form for messages and `Debug`.

use std::fmt;
use std::marker::PhantomData;
use std::path::PathBuf;
use std::time::Duration;

use crate::protocol::RetryPolicy;

mod limits;
mod multi_host;
mod nodes;
mod server;
mod tls;
mod validate;

use limits::check_prefix;
pub(crate) use limits::{check_call_ttl, check_resource, check_ttl};

pub use server::NodeKind;
use server::parse_servers;
pub(crate) use server::{Address, Server};
pub use server::{ServerTargets, redact, rejoin_server_list, server_targets};
pub(crate) use tls::Tls;
pub(crate) use validate::Config;
pub use validate::{default_node_timeout, min_ttl};

/// Default lease time to live.
pub const DEFAULT_TTL: Duration = Duration::from_secs(10);
/// Default time `acquire` keeps retrying.
pub const DEFAULT_WAIT: Duration = Duration::from_secs(10);
/// Default drift factor.
pub const DEFAULT_DRIFT_FACTOR: f64 = 0.01;
/// Default key prefix.
pub const DEFAULT_KEY_PREFIX: &str = "redlease:";
/// Default upper bound on any TTL.
pub const DEFAULT_MAX_TTL: Duration = Duration::from_secs(300);
/// Largest `max_ttl` accepted.
pub const MAX_MAX_TTL: Duration = Duration::from_secs(24 * 3600);
/// Largest per-node timeout accepted.
pub const MAX_NODE_TIMEOUT: Duration = Duration::from_secs(60);
/// Longest resource name accepted, in bytes.
pub const MAX_RESOURCE_LEN: usize = 1024;
/// Longest key prefix accepted, in bytes.
pub const MAX_PREFIX_LEN: usize = 256;
/// Largest drift factor accepted.
pub const MAX_DRIFT_FACTOR: f64 = 0.5;
/// Default renewal interval, as a fraction of the ttl.
pub const DEFAULT_RENEWAL_FRACTION: f64 = 1.0 / 3.0;

/// Configures and builds a [`crate::LockManager`].
///
/// Every option has a default, given next to its setter.
///
/// ```no_run
/// # async fn example() -> Result<(), redlease::Error> {
/// use std::time::Duration;
/// let manager = redlease::LockManager::builder()
///     .servers(["redis://127.0.0.1:7001", "redis://127.0.0.1:7002", "redis://127.0.0.1:7003"])
///     .ttl(Duration::from_secs(10))
///     .wait(Duration::from_secs(5))
///     .build()
///     .await?;
/// # Ok(()) }
/// ```
#[derive(Clone, Default)]
pub struct Builder<Face = Async> {
    pub(crate) options: Options,
    face: PhantomData<Face>,
}

/// Every option a [`Builder`] holds, whatever face it builds (one list, so the faces
/// cannot drift apart); checked and turned into a `Config` by `Options::validate`.
#[derive(Clone)]
pub(crate) struct Options {
    pub(crate) servers: Vec<String>,
    pub(crate) ttl: Duration,
    pub(crate) wait: Duration,
    pub(crate) retry: RetryPolicy,
    pub(crate) drift_factor: f64,
    pub(crate) node_timeout: Option<Duration>,
    pub(crate) key_prefix: String,
    pub(crate) max_ttl: Duration,
    pub(crate) fencing: bool,
    pub(crate) token_at_acquire: bool,
    pub(crate) renewal: Renewal,
    pub(crate) wake_ups: bool,
    pub(crate) handoff: Duration,
    pub(crate) wake_up_fallback: Duration,
    pub(crate) delayed_restart: bool,
    pub(crate) min_replicas: u32,
    pub(crate) tls_ca_cert: Option<PathBuf>,
    pub(crate) tls_client_cert: Option<(PathBuf, PathBuf)>,
}

/// The face a [`Builder`] builds: [`crate::LockManager`] (`async fn build`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Async;

/// The face a [`Builder`] builds: [`crate::blocking::LockManager`] (`fn build`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Blocking;

/// Largest `min_replicas` accepted.
pub const MAX_MIN_REPLICAS: u32 = 16;

/// Default longest sleep of a waiter without a wake-up.
pub const DEFAULT_WAKE_UP_FALLBACK: Duration = Duration::from_secs(1);

/// Default hand-off window.
pub const DEFAULT_HANDOFF: Duration = Duration::from_millis(50);

/// How kept-alive leases are renewed (see [`crate::Lease::keep_alive`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Renewal {
    /// Extend every `ttl * fraction`. Default 1/3: a failed extend leaves time for
    /// retries before the deadline. Allowed: more than 0, at most 0.75.
    pub fraction: f64,
    /// Stop renewing after this many extensions (the lease then expires and is reported
    /// lost). Default: no cap.
    pub max_renewals: Option<u32>,
    /// Stop renewing once the lease has been held this long. Default: no cap.
    pub max_hold: Option<Duration>,
}

impl Default for Renewal {
    fn default() -> Self {
        Renewal {
            fraction: DEFAULT_RENEWAL_FRACTION,
            max_renewals: None,
            max_hold: None,
        }
    }
}

impl Default for Options {
    fn default() -> Self {
        Options {
            servers: Vec::new(),
            ttl: DEFAULT_TTL,
            wait: DEFAULT_WAIT,
            retry: RetryPolicy::default(),
            drift_factor: DEFAULT_DRIFT_FACTOR,
            node_timeout: None,
            key_prefix: DEFAULT_KEY_PREFIX.to_owned(),
            max_ttl: DEFAULT_MAX_TTL,
            fencing: true,
            token_at_acquire: false,
            renewal: Renewal::default(),
            wake_ups: true,
            handoff: DEFAULT_HANDOFF,
            wake_up_fallback: DEFAULT_WAKE_UP_FALLBACK,
            delayed_restart: true,
            min_replicas: 0,
            tls_ca_cert: None,
            tls_client_cert: None,
        }
    }
}

impl<F> fmt::Debug for Builder<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.options.fmt(f)
    }
}

impl fmt::Debug for Options {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let servers: Vec<String> = self.servers.iter().map(|s| redact(s)).collect();
        f.debug_struct("Builder")
            .field("servers", &servers)
            .field("ttl", &self.ttl)
            .field("wait", &self.wait)
            .field("retry", &self.retry)
            .field("drift_factor", &self.drift_factor)
            .field("node_timeout", &self.node_timeout)
            .field("key_prefix", &self.key_prefix)
            .field("max_ttl", &self.max_ttl)
            .field("fencing", &self.fencing)
            .field("token_at_acquire", &self.token_at_acquire)
            .field("renewal", &self.renewal)
            .field("wake_ups", &self.wake_ups)
            .field("handoff", &self.handoff)
            .field("wake_up_fallback", &self.wake_up_fallback)
            .field("delayed_restart", &self.delayed_restart)
            .field("min_replicas", &self.min_replicas)
            .field("tls_ca_cert", &self.tls_ca_cert)
            .field("tls_client_cert", &self.tls_client_cert)
            .finish()
    }
}

impl<F> Builder<F> {
    /// The same options, for the other face (async or blocking).
    pub(crate) fn with_face<G>(self) -> Builder<G> {
        Builder {
            options: self.options,
            face: PhantomData,
        }
    }

    /// Time to live of a lease on each node. Default 10 s. Must be at most `max_ttl`.
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.options.ttl = ttl;
        self
    }

    /// How long [`crate::LockManager::acquire`] keeps retrying. Default 10 s.
    /// `Duration::ZERO` makes one attempt; `Duration::MAX` retries forever.
    pub fn wait(mut self, wait: Duration) -> Self {
        self.options.wait = wait;
        self
    }

    /// Delay between attempts. Default: uniform in `[c/2, c]` with a ceiling `c` of
    /// 10 ms doubling per attempt up to 250 ms.
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.options.retry = retry;
        self
    }

    /// Clock drift factor: the lease counts as gone `ttl * factor + 2 ms` before its
    /// TTL. Default 0.01 (a node's clock may run 1 % fast). Allowed: 0 to 0.5.
    pub fn drift_factor(mut self, factor: f64) -> Self {
        self.options.drift_factor = factor;
        self
    }

    /// How long to wait for one node's answer (connect included) before counting it as a
    /// failed vote. Default: 1 % of the ttl, clamped to 10-250 ms. Must be smaller than
    /// the ttl.
    pub fn node_timeout(mut self, timeout: Duration) -> Self {
        self.options.node_timeout = Some(timeout);
        self
    }

    /// Prefix of every key. Default `redlease:`. May not contain `{` or `}` (the
    /// resource is the key's hash tag); at most 256 bytes.
    pub fn key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.options.key_prefix = prefix.into();
        self
    }

    /// Upper bound on any ttl, in acquire or extend. Default 5 min, at most 1 day.
    pub fn max_ttl(mut self, max_ttl: Duration) -> Self {
        self.options.max_ttl = max_ttl;
        self
    }

    /// Whether leases have fencing tokens. Default true. Without,
    /// [`crate::LeaseHandle::fencing_token`] fails.
    ///
    /// On one node the token is minted by the acquisition itself, at no extra round trip.
    /// On several nodes it is minted when the holder first asks for it (two round trips
    /// then, none for leases whose token nobody asks for), or by the acquisition (one
    /// round trip) where the resource's previous lease in this process was asked for its
    /// token, or always with [`Builder::token_at_acquire`].
    pub fn fencing(mut self, enabled: bool) -> Self {
        self.options.fencing = enabled;
        self
    }

    /// On several nodes, mint every lease's fencing token during its acquisition: one
    /// round trip after the vote, which then waits for every node's answer, instead of
    /// two on the first [`crate::LeaseHandle::fencing_token`] call. By default (false) an
    /// acquisition mints there only when the resource's previous lease in this process
    /// was asked for its token; set it for callers that read the token of every lease,
    /// so that their first lease pays no extra round trip either. No effect without
    /// fencing or on one node.
    pub fn token_at_acquire(mut self, enabled: bool) -> Self {
        self.options.token_at_acquire = enabled;
        self
    }

    /// How kept-alive leases are renewed: interval as a fraction of the ttl (default
    /// 1/3), optional caps on renewals and hold time (default none).
    pub fn renewal(mut self, renewal: Renewal) -> Self {
        self.options.renewal = renewal;
        self
    }

    /// Whether waiters subscribe to release notifications (one subscriber connection
    /// per node, shared by all waiters) instead of polling. Default true.
    pub fn wake_ups(mut self, enabled: bool) -> Self {
        self.options.wake_ups = enabled;
        self
    }

    /// The longest a waiter sleeps without a wake-up before it tries again anyway (a lost
    /// message; the holder's expiry is also waited for exactly, without this). The actual
    /// sleep is random in `[fallback / 2, fallback]`. Default 1 s.
    pub fn wake_up_fallback(mut self, fallback: Duration) -> Self {
        self.options.wake_up_fallback = fallback;
        self
    }

    /// In-band delayed restart (N > 1 only): a node that comes back without its data does
    /// not count as a grant until `max_ttl` has passed, while nodes that kept their data
    /// show it has been in use for longer. Each node keeps a marker key
    /// (`<prefix>marker:born`, written once, never expiring; on a deployment with a Redis
    /// Cluster node, one per resource, `<prefix>{<resource>}:born`, in the slot of the
    /// keys it protects). Default true. Turn it off if every node persists its data.
    pub fn delayed_restart(mut self, enabled: bool) -> Self {
        self.options.delayed_restart = enabled;
        self
    }

    /// Hand-off window: when someone is waiting, a release reserves the lock this long
    /// for the waiters, so that the releasing client cannot grab it straight back and
    /// starve them. Default 50 ms; zero disables hand-off. At most 1 s and below the ttl.
    pub fn handoff(mut self, window: Duration) -> Self {
        self.options.handoff = window;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bare() -> Builder {
        Builder::default()
    }

    fn builder() -> Builder {
        bare().servers(["redis://127.0.0.1:6379"])
    }

    fn invalid_field(b: Builder) -> String {
        match b.validate() {
            Err(e) if e.is_invalid_argument() => e.field().unwrap_or_default().to_owned(),
            other => panic!("expected an invalid argument, got {other:?}"),
        }
    }

    #[test]
    fn defaults_are_valid() {
        let c = builder().validate().expect("defaults");
        assert_eq!(c.ttl, DEFAULT_TTL);
        assert_eq!(c.node_timeout, Duration::from_millis(100));
        assert!(c.fencing);
    }

    #[test]
    fn every_bad_option_names_its_field() {
        assert_eq!(invalid_field(bare()), "servers");
        assert_eq!(invalid_field(builder().ttl(Duration::ZERO)), "ttl");
        assert_eq!(
            invalid_field(builder().ttl(Duration::from_millis(2))),
            "ttl"
        );
        assert_eq!(
            invalid_field(builder().ttl(Duration::from_secs(301))),
            "ttl"
        );
        assert_eq!(invalid_field(builder().drift_factor(-0.1)), "drift_factor");
        assert_eq!(invalid_field(builder().drift_factor(0.6)), "drift_factor");
        assert_eq!(
            invalid_field(builder().drift_factor(f64::NAN)),
            "drift_factor"
        );
        assert_eq!(invalid_field(builder().key_prefix("a{b")), "key_prefix");
        assert_eq!(invalid_field(builder().key_prefix("}")), "key_prefix");
        assert_eq!(
            invalid_field(builder().key_prefix("x".repeat(300))),
            "key_prefix"
        );
        assert_eq!(
            invalid_field(builder().node_timeout(Duration::from_secs(10))),
            "node_timeout"
        );
        assert_eq!(
            invalid_field(builder().node_timeout(Duration::ZERO)),
            "node_timeout"
        );
        assert_eq!(invalid_field(builder().max_ttl(Duration::ZERO)), "max_ttl");
        let renewal = |fraction| Renewal {
            fraction,
            ..Renewal::default()
        };
        assert_eq!(
            invalid_field(builder().renewal(renewal(0.0))),
            "renewal.fraction"
        );
        assert_eq!(
            invalid_field(builder().renewal(renewal(0.9))),
            "renewal.fraction"
        );
        assert_eq!(
            invalid_field(builder().renewal(Renewal {
                max_hold: Some(Duration::ZERO),
                ..Renewal::default()
            })),
            "renewal.max_hold"
        );
        assert_eq!(
            invalid_field(builder().retry(RetryPolicy {
                base: Duration::ZERO,
                max: Duration::ZERO
            })),
            "retry"
        );
        assert_eq!(
            invalid_field(builder().servers(["redis://a:1", "not a url"])),
            "servers[1]"
        );
        assert_eq!(
            invalid_field(builder().servers(["http://a:1"])),
            "servers[0]"
        );
        assert_eq!(invalid_field(builder().servers(["redis://"])), "servers[0]");
        assert_eq!(
            invalid_field(builder().servers(["redis://a:1", "redis://a:1"])),
            "servers[1]"
        );
        assert_eq!(
            invalid_field(builder().servers(["redis://a:99999"])),
            "servers[0]"
        );
    }

    #[test]
    fn accepted_url_forms() {
        let b = bare().servers([
            "redis://127.0.0.1:7001",
            "redis://user:secret@127.0.0.1:7002/3",
            "redis://:secret@localhost",
            "unix:///tmp/redis.sock",
            "unix:///tmp/other.sock?db=2",
            "redis+sentinel://10.0.0.1:26379,10.0.0.2:26379/orders",
            "redis+sentinel://app:secret@10.0.0.1:26379/orders/2",
            "redis+cluster://10.0.0.1:7000,10.0.0.2:7000",
            "redis+cluster://app:secret@10.0.0.3:7000",
        ]);
        let c = b.validate().expect("valid");
        assert_eq!(c.servers.len(), 9);
        let kinds: Vec<NodeKind> = c.servers.iter().map(Server::kind).collect();
        assert_eq!(kinds[4], NodeKind::Standalone);
        assert_eq!(kinds[5..7], [NodeKind::Sentinel; 2]);
        assert_eq!(kinds[7..], [NodeKind::Cluster; 2]);
    }

    #[test]
    fn multi_host_urls_say_what_is_wrong() {
        let problem = |url: &str| match bare().servers([url]).validate() {
            Err(e) => e.to_string(),
            Ok(_) => panic!("{url} accepted"),
        };
        assert!(problem("redis+sentinel://h:1").contains("service name"));
        assert!(problem("redis+sentinel://h:1/svc/x").contains("database"));
        assert!(problem("redis+sentinel://h:1,h2/svc").contains("\"h2\" is not host:port"));
        assert!(problem("redis+cluster://h:1/3").contains("no path"));
        assert!(problem("redis+cluster://h:0").contains("not host:port"));
        let shown = problem("redis+cluster://u:hunter2@h:1/0");
        assert!(
            !shown.contains("hunter2") && shown.contains("u:***@h:1"),
            "{shown}"
        );
    }

    #[test]
    fn passwords_never_show() {
        let b = bare().servers([
            "redis://user:hunter2@127.0.0.1:7002/3",
            "unix:///tmp/s.sock?pass=hunter2&db=1",
            "redis://user:hunter2@127.0.0.1:7002/notadb",
        ]);
        assert!(!format!("{b:?}").contains("hunter2"), "{b:?}");
        let err = b.clone().validate().expect_err("bad db").to_string();
        assert!(!err.contains("hunter2"), "{err}");
        assert!(err.contains("***"), "{err}");
        let ok = bare()
            .servers(["redis://user:hunter2@127.0.0.1:7002/3"])
            .validate()
            .expect("valid");
        assert!(!format!("{ok:?}").contains("hunter2"));
        assert_eq!(redact("garbage:hunter2@x"), "garbage:***");
        assert_eq!(
            redact("redis+sentinel://u:hun/ter2@h:1,h:2/svc?x=hunter2"),
            "redis+sentinel://u:***@h:1,h:2/svc"
        );
        assert_eq!(
            redact("redis+cluster://:hunter2@h:1"),
            "redis+cluster://:***@h:1"
        );
        assert_eq!(redact("redis//u:hunter2@x"), "***");
    }

    #[test]
    fn resources() {
        assert!(check_resource("orders:42").is_ok());
        assert!(check_resource("").is_err());
        assert!(check_resource(&"x".repeat(MAX_RESOURCE_LEN)).is_ok());
        let e = check_resource(&"x".repeat(MAX_RESOURCE_LEN + 1)).expect_err("too long");
        assert!(e.to_string().contains("1025 bytes"), "{e}");
    }
}
