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
    let sentinels = hosts
        .iter()
        .map(|host| host_info("", host, "", bad))
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
/// dropped (multi-host URLs take no parameters, and a parameter could be a secret).
pub(super) fn redact_authority(rest: &str) -> String {
    let rest = rest.split(['?', '#']).next().unwrap_or_default();
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
