//! Building the lock manager from the connection options, and naming bad input by its flag.
//!
//! Every command that talks to servers starts here, so `--servers`, `--node-timeout` and
//! the password mean the same thing everywhere. What the CLI can check about the servers
//! without talking to them (empty list, port 0, a db that is not a number) is checked
//! here, so it is a configuration error (64) and never an unreachable server (69); the
//! library's own checks come back with its field names, which are translated to the flags
//! the user typed. A password comes from `--password-file` or `REDLEASE_PASSWORD` and is
//! put into the URLs in memory only, so it never needs to be in argv (`ps`).

use std::time::Duration;

use redlease::LockManager;

use crate::cli::Connection;
use crate::exit::{Failure, USAGE};

/// Default servers when neither `--servers` nor `REDLEASE_SERVERS` is given.
pub const DEFAULT_SERVERS: &str = "redis://127.0.0.1:6379";

/// A manager for the servers of `connection`, with `ttl` as its default ttl.
pub async fn manager(connection: &Connection, ttl: Duration) -> Result<LockManager, Failure> {
    let builder = builder(connection, ttl)?;
    builder.build().await.map_err(Failure::from)
}

/// A builder for the servers of `connection` with `ttl`, after the CLI's own checks.
pub fn builder(connection: &Connection, ttl: Duration) -> Result<redlease::Builder, Failure> {
    check_ttl(ttl, connection.node_timeout)?;
    // Every command that takes a lease prints or exports its token: minted during the
    // acquisition, one round trip sooner than on demand.
    let mut builder = LockManager::builder()
        .servers(servers(connection)?)
        .ttl(ttl)
        .token_at_acquire(true);
    if let Some(timeout) = connection.node_timeout {
        builder = builder.node_timeout(timeout);
    }
    if let Some(replicas) = connection.min_replicas {
        builder = builder.min_replicas(replicas);
    }
    if let Some(ca) = &connection.tls_ca_cert {
        builder = builder.tls_ca_cert(ca);
    }
    if let (Some(cert), Some(key)) = (&connection.tls_cert, &connection.tls_key) {
        builder = builder.tls_client_cert(cert, key);
    }
    Ok(builder)
}

/// The ttl must be longer than the node timeout; say so with the real minimum.
fn check_ttl(ttl: Duration, node_timeout: Option<Duration>) -> Result<(), Failure> {
    let (timeout, whose) = match node_timeout {
        Some(t) => (t, "--node-timeout"),
        None => (
            redlease::config::default_node_timeout(ttl),
            "the default node timeout",
        ),
    };
    let shortest = redlease::config::min_ttl(node_timeout, redlease::config::DEFAULT_DRIFT_FACTOR);
    if ttl < shortest {
        return Err(Failure::new(
            USAGE,
            format!(
                "invalid --ttl {}: it must be longer than {whose} ({}) plus the drift allowance; the shortest ttl allowed here is {}",
                humantime::format_duration(ttl),
                humantime::format_duration(timeout),
                humantime::format_duration(shortest)
            ),
        ));
    }
    Ok(())
}

/// The servers: given (never blank), or the default; with the password put in.
pub fn servers(connection: &Connection) -> Result<Vec<String>, Failure> {
    let given: Vec<String> = match &connection.servers {
        None => vec![DEFAULT_SERVERS.to_owned()],
        Some(list) => redlease::config::rejoin_server_list(list),
    };
    if given.is_empty() {
        return Err(Failure::new(
            USAGE,
            format!(
                "--servers (or REDLEASE_SERVERS) is empty; give one or more comma-separated URLs such as {DEFAULT_SERVERS}, or leave it unset for that default"
            ),
        ));
    }
    let password = password(connection)?;
    given
        .iter()
        .enumerate()
        .map(|(i, url)| check_server(i, url, password.as_deref()))
        .collect()
}

/// The password from `--password-file` or `REDLEASE_PASSWORD`.
fn password(connection: &Connection) -> Result<Option<String>, Failure> {
    if let Some(path) = &connection.password_file {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Failure::new(
                USAGE,
                format!("invalid --password-file {}: {e}", path.display()),
            )
        })?;
        let line = text.lines().next().unwrap_or_default().to_owned();
        if line.is_empty() {
            return Err(Failure::new(
                USAGE,
                format!(
                    "invalid --password-file {}: its first line is empty; put the password on it",
                    path.display()
                ),
            ));
        }
        return Ok(Some(line));
    }
    Ok(std::env::var("REDLEASE_PASSWORD")
        .ok()
        .filter(|p| !p.is_empty()))
}

/// Check what can be checked offline; add the password to a URL that has none.
fn check_server(i: usize, url: &str, password: Option<&str>) -> Result<String, Failure> {
    let bad = |problem: &str| {
        Failure::new(
            USAGE,
            format!(
                "invalid --servers entry {} ({}): {problem}",
                i + 1,
                show_url(url)
            ),
        )
    };
    // Several hosts after one scheme: the library parses and checks these forms; the
    // password from a file goes in front of the hosts when the URL has none.
    for scheme in ["redis+sentinel://", "redis+cluster://"] {
        if let Some(rest) = url.strip_prefix(scheme) {
            return Ok(match password {
                Some(password) if !rest.contains('@') => format!("{scheme}:{password}@{rest}"),
                _ => url.to_owned(),
            });
        }
    }
    let mut parsed = url::Url::parse(url).map_err(|e| {
        bad(&format!(
            "not a URL ({e}); write redis://[user@]host[:port][/db], rediss://..., unix:///path/to/socket, redis+sentinel://host:port[,host:port...]/SERVICE or redis+cluster://host:port[,host:port...]"
        ))
    })?;
    if matches!(parsed.scheme(), "redis" | "rediss") {
        if parsed.port() == Some(0) {
            return Err(bad(
                "port 0 is not a port a server listens on; give the server's port (Redis's default is 6379)",
            ));
        }
        let db = parsed.path().trim_start_matches('/');
        if !db.is_empty() && db.parse::<u16>().is_err() {
            return Err(bad(
                "the database (after the last /) must be a number such as 0 or 2",
            ));
        }
        if let Some(password) = password
            && parsed.password().is_none()
            && parsed.set_password(Some(password)).is_ok()
        {
            return Ok(parsed.to_string());
        }
    }
    Ok(url.to_owned())
}

/// A URL for messages: only a password is ever hidden. Unparseable URLs are shown as
/// typed unless they have user info (`...@`), of which only the part after `@` is shown.
pub fn show_url(url: &str) -> String {
    if url::Url::parse(url).is_ok() {
        return redlease::config::redact(url);
    }
    match url.rsplit_once('@') {
        Some((before, after)) => {
            let scheme = before.split_once("://").map_or("", |(s, _)| s);
            if scheme.is_empty() {
                format!("***@{after}")
            } else {
                format!("{scheme}://***@{after}")
            }
        }
        None => url.to_owned(),
    }
}

/// The library's invalid-argument error, with its field named by the CLI flag.
pub fn invalid_argument(error: &redlease::Error) -> Failure {
    let (Some(field), Some(value), Some((problem, allowed))) =
        (error.field(), error.value(), error.problem())
    else {
        return Failure::new(USAGE, format!("{error}; fix it and try again (see --help)"));
    };
    let flag = flag_of(field);
    let problem = entries(problem);
    let allowed = field_names_to_flags(allowed);
    Failure::new(
        USAGE,
        format!("invalid {flag}: {value}: {problem}; allowed: {allowed}"),
    )
}

/// `servers[2]` → `--servers entry 3`, `node_timeout` → `--node-timeout`, ...
fn flag_of(field: &str) -> String {
    if let Some(index) = field
        .strip_prefix("servers[")
        .and_then(|rest| rest.strip_suffix(']'))
        .and_then(|i| i.parse::<usize>().ok())
    {
        return format!("--servers entry {}", index + 1);
    }
    match field {
        "servers" => "--servers".to_owned(),
        "resource" => "RESOURCE".to_owned(),
        other => format!("--{}", other.replace('_', "-")),
    }
}

/// `servers[0]` inside a message → `entry 1`, as the user numbers `--servers` entries.
fn entries(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("servers[") {
        let after = &rest[start + "servers[".len()..];
        let index = after
            .split_once(']')
            .and_then(|(digits, tail)| Some((digits.parse::<usize>().ok()?, tail)));
        out.push_str(&rest[..start]);
        match index {
            Some((i, tail)) => {
                out.push_str(&format!("entry {}", i + 1));
                rest = tail;
            }
            None => {
                out.push_str("servers[");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

fn field_names_to_flags(text: &str) -> String {
    text.replace("node_timeout", "--node-timeout")
        .replace("max_ttl", "--max-ttl")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_for_fields() {
        assert_eq!(flag_of("servers[0]"), "--servers entry 1");
        assert_eq!(flag_of("node_timeout"), "--node-timeout");
        assert_eq!(flag_of("ttl"), "--ttl");
        assert_eq!(
            entries("the same Redis server as servers[0] (redis://a:1), not servers[x]"),
            "the same Redis server as entry 1 (redis://a:1), not servers[x]"
        );
    }

    #[test]
    fn urls_are_shown_with_only_the_password_hidden() {
        assert_eq!(show_url("redis://h:1/0"), "redis://h:1/0");
        assert_eq!(show_url("redis://u:pw@h:1"), "redis://u:***@h:1");
        assert_eq!(show_url("redis://h:port"), "redis://h:port");
        assert_eq!(show_url("redis://u:p w@h:x"), "redis://***@h:x");
    }

    #[test]
    fn the_minimum_ttl_is_named() {
        let e = check_ttl(Duration::from_millis(3), None).unwrap_err();
        assert!(e.message.contains("--ttl 3ms"), "{}", e.message);
        assert!(e.message.contains("13ms"), "{}", e.message);
        assert!(check_ttl(Duration::from_millis(12), None).is_err());
        assert!(check_ttl(Duration::from_millis(13), None).is_ok());
    }
}
