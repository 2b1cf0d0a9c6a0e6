//! The multi-host URLs: `redis+sentinel://` and `redis+cluster://`.
//!
//! Both name several hosts with commas, which `url` cannot parse as one authority, so they
//! are split here by hand: credentials, the `host:port` list, the path. A Sentinel URL
//! may also carry the sentinels' own credentials as parameters (`sentinel_username`,
//! `sentinel_password`): a sentinel protected by `requirepass` or an ACL user is asked
//! with them, while the URL's `user:password@` stays the data nodes', since the two are
//! configured apart on the servers too. Parameters are never shown back (the redacted
//! form drops everything after `?`).

use super::server::{Address, connection_info};
use crate::error::Error;

/// The parts of a multi-host URL after its scheme: credentials (`user:password@`, kept
/// percent-encoded), the `host:port` list, and the path.
fn split_hosts<'a>(
    rest: &'a str,
    bad: &impl Fn(String) -> Error,
) -> Result<(&'a str, Vec<&'a str>, &'a str), Error> {
    let (userinfo, hosts, path) = parts(rest);
    let (userinfo, path) = (userinfo.unwrap_or_default(), path.unwrap_or_default());
    let hosts: Vec<&str> = hosts.split(',').map(str::trim).collect();
    for host in &hosts {
        let port_ok = host
            .rsplit_once(':')
            .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok_and(|p| p > 0));
        if !port_ok {
            return Err(bad(format!(
                "{host:?} is not host:port (every node of the list needs its port)"
            )));
        }
    }
    Ok((userinfo, hosts, path))
}

/// One host of a multi-host URL as a `redis://` connection, with the URL's credentials
/// and database.
fn host_info(
    userinfo: &str,
    host: &str,
    db: &str,
    bad: &impl Fn(String) -> Error,
) -> Result<redis::ConnectionInfo, Error> {
    let at = if userinfo.is_empty() { "" } else { "@" };
    let parsed = url::Url::parse(&format!("redis://{userinfo}{at}{host}/{db}"))
        .map_err(|e| bad(format!("host {host:?} is not valid ({e})")))?;
    connection_info(parsed, bad)
}

pub(super) fn parse_sentinel(rest: &str, bad: &impl Fn(String) -> Error) -> Result<Address, Error> {
    let (rest, query) = split_query(rest);
    let (userinfo, hosts, path) = split_hosts(rest, bad)?;
    let mut parts = path.split('/');
    let service = parts.next().unwrap_or_default();
    let db = parts.next().unwrap_or_default();
    if service.is_empty() || parts.next().is_some() || service.contains(['?', '#']) {
        return Err(bad(
            "needs the service name as its path: .../SERVICE or .../SERVICE/db".to_owned(),
        ));
    }
    if !db.is_empty() && db.parse::<u16>().is_err() {
        return Err(bad(format!("database {db:?} is not a number")));
    }
    let (user, password) = sentinel_credentials(query, bad)?;
    let sentinels = hosts
        .iter()
        .map(|host| {
            let info = host_info("", host, "", bad)?;
            let mut settings = info.redis_settings().clone();
            if let Some(user) = &user {
                settings = settings.set_username(user);
            }
            if let Some(password) = &password {
                settings = settings.set_password(password);
            }
            Ok::<_, Error>(info.set_redis_settings(settings))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let primary = host_info(
        userinfo,
        hosts.first().copied().unwrap_or_default(),
        db,
        bad,
    )?;
    Ok(Address::Sentinel {
        sentinels,
        service: service.to_owned(),
        primary,
    })
}

/// The sentinels' own username and password, from the URL's parameters.
fn sentinel_credentials(
    query: Option<&str>,
    bad: &impl Fn(String) -> Error,
) -> Result<(Option<String>, Option<String>), Error> {
    let (mut user, mut password) = (None, None);
    for (key, value) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        match key.as_ref() {
            "sentinel_username" => user = Some(value.into_owned()),
            "sentinel_password" => password = Some(value.into_owned()),
            other => {
                return Err(bad(format!(
                    "unknown parameter {other:?} (a Sentinel URL takes sentinel_username and sentinel_password, the sentinels' own credentials)"
                )));
            }
        }
    }
    Ok((user, password))
}

/// `rest` without its parameters (after `?`) and fragment (after `#`), and the
/// parameters. Only a `?` after the credentials counts: a password may contain one.
fn split_query(rest: &str) -> (&str, Option<&str>) {
    let start = rest.rfind('@').map_or(0, |at| at + 1);
    let (head, tail) = rest.split_at(start);
    let (tail, _fragment) = tail.split_once('#').unwrap_or((tail, ""));
    match tail.split_once('?') {
        Some((before, query)) => (&rest[..head.len() + before.len()], Some(query)),
        None => (&rest[..head.len() + tail.len()], None),
    }
}

pub(super) fn parse_cluster(rest: &str, bad: &impl Fn(String) -> Error) -> Result<Address, Error> {
    let (userinfo, hosts, path) = split_hosts(rest, bad)?;
    if !path.is_empty() {
        return Err(bad(format!(
            "a cluster URL has no path ({path:?}): Redis Cluster has only database 0"
        )));
    }
    let seeds = hosts
        .iter()
        .map(|host| host_info(userinfo, host, "", bad))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Address::Cluster { seeds })
}

/// Split `[userinfo@]hosts[/path]`. The userinfo ends at the last `@`, so that a
/// password with an unencoded `/` or `@` still counts as the password.
fn parts(rest: &str) -> (Option<&str>, &str, Option<&str>) {
    let (userinfo, after) = match rest.rsplit_once('@') {
        Some((userinfo, after)) => (Some(userinfo), after),
        None => (None, rest),
    };
    match after.split_once('/') {
        Some((hosts, path)) => (userinfo, hosts, Some(path)),
        None => (userinfo, after, None),
    }
}

/// `user:password@hosts/path` with the password replaced; anything after `?` or `#` is
/// dropped (a parameter may be a secret: the sentinels' password).
pub(super) fn redact_authority(rest: &str) -> String {
    let (rest, _parameters) = split_query(rest);
    let (userinfo, hosts, path) = parts(rest);
    let authority = match userinfo {
        Some(userinfo) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{user}:***@{hosts}"),
            None => format!("{userinfo}@{hosts}"),
        },
        None => hosts.to_owned(),
    };
    match path {
        Some(path) => format!("{authority}/{path}"),
        None => authority,
    }
}

#[cfg(test)]
mod tests {
    use super::{redact_authority, split_query};

    #[test]
    fn parameters_start_after_the_credentials() {
        assert_eq!(split_query("h:1/svc?a=b"), ("h:1/svc", Some("a=b")));
        assert_eq!(split_query("u:p?w@h:1/svc"), ("u:p?w@h:1/svc", None));
        assert_eq!(split_query("u:p@h:1/svc#x?y"), ("u:p@h:1/svc", None));
        assert_eq!(
            redact_authority("u:p?w@h:1/svc?sentinel_password=s"),
            "u:***@h:1/svc"
        );
    }
}
