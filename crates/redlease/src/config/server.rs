//! Server URLs: parsing, and the redacted form shown in messages.
//!
//! A password must never reach a log line or an error message, and a URL the user got
//! wrong must be shown as typed (apart from the password) so it can be fixed. Both forms
//! are made here, once, when the builder is validated.

use std::collections::HashSet;
use std::fmt;

use super::multi_host;
use crate::error::Error;

/// The URL forms accepted, for messages.
pub(crate) const URL_FORMS: &str = "redis://[user:password@]host[:port][/db], rediss://... (TLS, with the `tls` feature), unix:///path/to/socket[?db=N&user=U&pass=P], redis+sentinel://[user:password@]host:port[,host:port...]/SERVICE[/db][?sentinel_username=U&sentinel_password=P], redis+cluster://[user:password@]host:port[,host:port...]";

/// What kind of Redis deployment one server URL names. Whatever its kind, one URL is one
/// lock node, one failure domain: Redlock's quorum is taken over URLs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NodeKind {
    /// One Redis server (`redis://`, `rediss://`, `unix://`).
    Standalone,
    /// The primary of a service that Sentinel watches (`redis+sentinel://`), followed
    /// across failovers.
    Sentinel,
    /// A Redis Cluster (`redis+cluster://`): each resource lives on the shard of its slot.
    Cluster,
}

impl fmt::Display for NodeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NodeKind::Standalone => "standalone",
            NodeKind::Sentinel => "sentinel",
            NodeKind::Cluster => "cluster",
        })
    }
}

/// Where a node's connections go.
#[derive(Clone)]
pub(crate) enum Address {
    /// One server.
    Direct(redis::ConnectionInfo),
    /// Ask these sentinels for the primary of `service`; connect to it with `primary`'s
    /// credentials and database (its address is replaced by the one resolved).
    Sentinel {
        sentinels: Vec<redis::ConnectionInfo>,
        service: String,
        primary: redis::ConnectionInfo,
    },
    /// A Redis Cluster, discovered from these seeds (credentials from the first).
    Cluster { seeds: Vec<redis::ConnectionInfo> },
}

/// One parsed server URL, with its redacted form.
#[derive(Clone)]
pub(crate) struct Server {
    pub address: Address,
    pub redacted: String,
}

impl Server {
    pub(crate) fn kind(&self) -> NodeKind {
        match self.address {
            Address::Direct(_) => NodeKind::Standalone,
            Address::Sentinel { .. } => NodeKind::Sentinel,
            Address::Cluster { .. } => NodeKind::Cluster,
        }
    }
}

impl fmt::Debug for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted)
    }
}

pub(crate) fn parse_servers(urls: &[String]) -> Result<Vec<Server>, Error> {
    if urls.is_empty() {
        return Err(Error::invalid(
            "servers",
            Vec::<String>::new(),
            "no servers given",
            format!("one or more URLs: {URL_FORMS}"),
        ));
    }
    let mut seen = HashSet::new();
    let mut servers = Vec::with_capacity(urls.len());
    for (i, url) in urls.iter().enumerate() {
        let server = parse_server(i, url)?;
        if !seen.insert(server.redacted.clone()) {
            return Err(Error::invalid(
                format!("servers[{i}]"),
                &server.redacted,
                "appears twice; one node counted twice would break the quorum",
                "each node once",
            ));
        }
        servers.push(server);
    }
    Ok(servers)
}

fn parse_server(i: usize, url: &str) -> Result<Server, Error> {
    let field = format!("servers[{i}]");
    let redacted = redact(url);
    let bad = |problem: String| Error::invalid(&field, &redacted, problem, URL_FORMS);
    let url = url.trim();
    if let Some(rest) = url.strip_prefix("redis+sentinel://") {
        return multi_host::parse_sentinel(rest, &bad).map(|address| Server { address, redacted });
    }
    if let Some(rest) = url.strip_prefix("redis+cluster://") {
        return multi_host::parse_cluster(rest, &bad).map(|address| Server { address, redacted });
    }
    for scheme in ["rediss+cluster://", "rediss+sentinel://"] {
        if url.starts_with(scheme) {
            return Err(bad(format!(
                "TLS to a Redis Cluster or through Sentinel ({scheme}) is not supported: give each primary as a rediss:// URL, or reach the deployment over a private network with redis+cluster:// or redis+sentinel:// (docs/deployment.md)"
            )));
        }
    }
    let parsed = url::Url::parse(url).map_err(|e| bad(format!("not a URL ({e})")))?;
    match parsed.scheme() {
        "redis" | "unix" | "redis+unix" => {}
        "rediss" if cfg!(feature = "tls") => {}
        "rediss" => {
            return Err(bad(
                "TLS needs redlease built with the `tls` feature".to_owned()
            ));
        }
        other => return Err(bad(format!("unsupported scheme {other:?}"))),
    }
    if matches!(parsed.scheme(), "redis" | "rediss") && parsed.host_str().is_none_or(str::is_empty)
    {
        return Err(bad("has no host".to_owned()));
    }
    if matches!(parsed.scheme(), "unix" | "redis+unix") && parsed.path().is_empty() {
        return Err(bad("has no socket path".to_owned()));
    }
    let info = connection_info(parsed, &bad)?;
    Ok(Server {
        address: Address::Direct(info),
        redacted,
    })
}

pub(super) fn connection_info(
    parsed: url::Url,
    bad: &impl Fn(String) -> Error,
) -> Result<redis::ConnectionInfo, Error> {
    redis::IntoConnectionInfo::into_connection_info(parsed).map_err(|e| {
        bad(format!(
            "rejected by the Redis client ({})",
            e.kind_description()
        ))
    })
}

/// A comma-separated server list split back into URLs, for commands that take
/// `--servers a,b,c` (or an environment variable) and split it on commas:
/// `redis+sentinel://h1:p1,h2:p2/svc` and `redis+cluster://h1:p1,h2:p2` name several
/// hosts with commas themselves, so a piece without a scheme after one of those
/// continues it. Blank pieces are dropped.
///
/// ```
/// let pieces = ["redis+cluster://a:1", "b:2", "redis://c"].map(String::from);
/// assert_eq!(
///     redlease::config::rejoin_server_list(&pieces),
///     ["redis+cluster://a:1,b:2", "redis://c"]
/// );
/// ```
pub fn rejoin_server_list(pieces: &[String]) -> Vec<String> {
    let mut urls: Vec<String> = Vec::new();
    for piece in pieces.iter().map(|p| p.trim()).filter(|p| !p.is_empty()) {
        let continues = !piece.contains("://")
            && urls.last().is_some_and(|last| {
                last.starts_with("redis+sentinel://") || last.starts_with("redis+cluster://")
            });
        match urls.last_mut() {
            Some(last) if continues => {
                last.push(',');
                last.push_str(piece);
            }
            _ => urls.push(piece.to_owned()),
        }
    }
    urls
}

/// What one server URL names, found without connecting: its kind and the hosts it
/// reaches directly (the server; a cluster's seeds; a Sentinel service's sentinels,
/// not the primary they will name). A unix socket has no host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerTargets {
    /// The node's kind.
    pub kind: NodeKind,
    /// Host names or IP addresses, as written in the URL.
    pub hosts: Vec<String>,
}

/// Parse one server URL as the builder would (the same errors) and say what it names:
/// for tools that vet URLs before use, e.g. a benchmark that must only reach loopback.
///
/// ```
/// use redlease::config::{NodeKind, server_targets};
/// let t = server_targets("redis+cluster://127.0.0.1:7000,localhost:7001").unwrap();
/// assert_eq!(t.kind, NodeKind::Cluster);
/// assert_eq!(t.hosts, ["127.0.0.1", "localhost"]);
/// ```
pub fn server_targets(url: &str) -> Result<ServerTargets, Error> {
    let servers = parse_servers(&[url.to_owned()])?;
    let mut kind = NodeKind::Standalone;
    let mut hosts = Vec::new();
    for server in servers {
        kind = server.kind();
        let infos = match server.address {
            Address::Direct(info) => vec![info],
            Address::Sentinel { sentinels, .. } => sentinels,
            Address::Cluster { seeds } => seeds,
        };
        hosts.extend(infos.iter().filter_map(|info| match info.addr() {
            redis::ConnectionAddr::Tcp(host, _) | redis::ConnectionAddr::TcpTls { host, .. } => {
                Some(host.clone())
            }
            _ => None,
        }));
    }
    Ok(ServerTargets { kind, hosts })
}

/// A URL with its password (userinfo password, or `pass`/`password` query parameter)
/// replaced by `***`. Unparseable input is reduced to its scheme, so nothing secret can
/// leak through an error message.
///
/// ```
/// assert_eq!(
///     redlease::config::redact("redis://app:s3cret@10.0.0.1:6379/2"),
///     "redis://app:***@10.0.0.1:6379/2"
/// );
/// ```
pub fn redact(url: &str) -> String {
    for scheme in ["redis+sentinel://", "redis+cluster://"] {
        if let Some(rest) = url.trim().strip_prefix(scheme) {
            return format!("{scheme}{}", multi_host::redact_authority(rest));
        }
    }
    let Ok(mut parsed) = url::Url::parse(url.trim()) else {
        // Nothing to redact selectively in what does not parse: keep only the scheme.
        return match url.split_once("://") {
            Some((scheme, _))
                if scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '+') =>
            {
                format!("{scheme}://***")
            }
            _ => "***".to_owned(),
        };
    };
    if parsed.cannot_be_a_base() {
        // `scheme:anything` without `//`: no structure to redact selectively.
        return format!("{}:***", parsed.scheme());
    }
    if parsed.password().is_some() {
        let _ = parsed.set_password(Some("***"));
    }
    let pairs: Vec<(String, String)> = parsed
        .query_pairs()
        .map(|(k, v)| {
            let secret = matches!(k.as_ref(), "pass" | "password");
            (
                k.into_owned(),
                if secret {
                    "***".to_owned()
                } else {
                    v.into_owned()
                },
            )
        })
        .collect();
    if !pairs.is_empty() {
        parsed.query_pairs_mut().clear().extend_pairs(pairs);
    }
    parsed.to_string()
}

trait KindDescription {
    fn kind_description(&self) -> String;
}

impl KindDescription for redis::RedisError {
    fn kind_description(&self) -> String {
        // The error's Display may echo parts of the URL; only its category and static
        // description are safe to show.
        format!("{:?}", self.kind())
    }
}

#[cfg(test)]
mod tests {
    use super::{parse_servers, rejoin_server_list};

    #[test]
    fn tls_cluster_and_sentinel_urls_are_refused_by_name() {
        for url in [
            "rediss+cluster://127.0.0.1:7000,127.0.0.1:7001",
            "rediss+sentinel://127.0.0.1:26379/svc",
        ] {
            let Err(e) = parse_servers(&[url.to_owned()]) else {
                panic!("{url} accepted");
            };
            let text = e.to_string();
            assert!(text.contains("is not supported"), "{text}");
            assert!(text.contains("rediss:// URL"), "{text}");
        }
    }

    #[test]
    fn multi_host_urls_survive_the_comma_separated_list() {
        let pieces: Vec<String> = [
            "redis://a:1",
            "redis+cluster://b:1",
            "b:2",
            "redis+sentinel://c:1",
            "c:2/svc",
            "redis://d:1",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(
            rejoin_server_list(&pieces),
            [
                "redis://a:1",
                "redis+cluster://b:1,b:2",
                "redis+sentinel://c:1,c:2/svc",
                "redis://d:1"
            ]
        );
    }
}
