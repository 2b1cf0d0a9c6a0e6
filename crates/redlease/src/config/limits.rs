//! Limits on what callers pass at run time: ttls, resource names, the key prefix.
//!
//! Checked before anything is sent, so that a bad value fails with the field, the value
//! and what is allowed, instead of as a strange lock failure later.

use std::time::Duration;

use super::{MAX_PREFIX_LEN, MAX_RESOURCE_LEN};
use crate::error::Error;
use crate::protocol;

/// Check a ttl for acquire or extend: positive whole milliseconds, above the drift
/// allowance, at most `max_ttl`.
pub(crate) fn check_ttl(
    field: &str,
    ttl: Duration,
    max_ttl: Duration,
    drift_factor: f64,
) -> Result<(), Error> {
    // Only written out when it is needed: this check runs on every acquire and extend.
    let allowed = || {
        format!(
            "more than the drift allowance (ttl * drift_factor + 2 ms) and at most max_ttl ({max_ttl:?})"
        )
    };
    if ttl > max_ttl {
        return Err(Error::invalid(field, ttl, "above max_ttl", allowed()));
    }
    if ttl <= protocol::drift(ttl, drift_factor) {
        return Err(Error::invalid(
            field,
            ttl,
            "too short to leave any validity after the drift allowance",
            allowed(),
        ));
    }
    Ok(())
}

/// Check the ttl of one call (acquire or extend) against the configuration: as
/// [`check_ttl`], and longer than the node timeout, or one slow node's answer could use
/// up the whole lease before the vote ends.
pub(crate) fn check_call_ttl(ttl: Duration, config: &super::Config) -> Result<(), Error> {
    check_ttl("ttl", ttl, config.max_ttl, config.drift_factor)?;
    let floor = config
        .node_timeout
        .saturating_add(protocol::drift(ttl, config.drift_factor));
    if ttl <= floor {
        return Err(Error::invalid(
            "ttl",
            ttl,
            format!(
                "not longer than the node timeout ({:?}) plus the drift allowance",
                config.node_timeout
            ),
            format!(
                "more than {floor:?} (node timeout + drift allowance) and at most max_ttl ({:?})",
                config.max_ttl
            ),
        ));
    }
    Ok(())
}

/// Check a resource name.
pub(crate) fn check_resource(resource: &str) -> Result<(), Error> {
    // Written out only for an error: this check runs on every acquire.
    let allowed = || format!("a non-empty string of at most {MAX_RESOURCE_LEN} bytes");
    if resource.is_empty() {
        return Err(Error::invalid("resource", resource, "is empty", allowed()));
    }
    if resource.len() > MAX_RESOURCE_LEN {
        let shown: String = resource.chars().take(32).collect();
        return Err(Error::invalid(
            "resource",
            format_args!("{shown}... ({} bytes)", resource.len()),
            "too long",
            allowed(),
        ));
    }
    Ok(())
}

pub(crate) fn check_prefix(prefix: &str) -> Result<(), Error> {
    let allowed = format!(
        "at most {MAX_PREFIX_LEN} bytes without '{{' or '}}' (the resource is the key's hash tag)"
    );
    if prefix.contains(['{', '}']) {
        return Err(Error::invalid(
            "key_prefix",
            prefix,
            "contains a brace",
            allowed,
        ));
    }
    if prefix.len() > MAX_PREFIX_LEN {
        return Err(Error::invalid("key_prefix", prefix, "too long", allowed));
    }
    Ok(())
}
