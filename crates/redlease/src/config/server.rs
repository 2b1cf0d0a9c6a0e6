//! Server URLs: parsing, and the redacted form shown in messages.
//!
//! A password must never reach a log line or an error message, and a URL the user got
//! wrong must be shown as typed (apart from the password) so it can be fixed. Both forms
//! are made here, once, when the builder is validated.

use std::collections::HashSet;
use std::fmt;

use crate::error::Error;

/// The URL forms accepted, for messages.
pub(crate) const URL_FORMS: &str = "redis://[user:password@]host[:port][/db], rediss://... (TLS, with the `tls` feature), unix:///path/to/socket[?db=N&user=U&pass=P]";

/// One parsed server URL, with its redacted form.
#[derive(Clone)]
pub(crate) struct Server {
    pub info: redis::ConnectionInfo,
    pub redacted: String,
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
    let parsed = url::Url::parse(url.trim()).map_err(|e| bad(format!("not a URL ({e})")))?;
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
    let info = redis::IntoConnectionInfo::into_connection_info(parsed).map_err(|e| {
        bad(format!(
            "rejected by the Redis client ({})",
            e.kind_description()
        ))
    })?;
    Ok(Server { info, redacted })
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
