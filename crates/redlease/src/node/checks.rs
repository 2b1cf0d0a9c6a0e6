//! What each node is, for operators: its role, its eviction policy, its persistence.
//!
//! A lock is only as safe as the Redis under it, and three settings decide that without
//! any error ever showing: a replica accepts no lock at all (refused at connect, see
//! [`super::Node`]); an eviction policy that may evict keys with a ttl (`volatile-*`) can
//! drop a held lock, and one that may evict any key (`allkeys-*`) can also drop fencing
//! counters and delayed-restart markers; and without persistence a restart forgets every
//! lease (delayed restart covers that, at a cost in availability). redlease does not
//! refuse such nodes (managed Redis often defaults to `volatile-lru`, and eviction only
//! happens when memory is full), but it reports them here so that `redlease nodes` shows
//! which guarantee each node really gives. `CONFIG` may be forbidden by an ACL (or
//! renamed by a managed service): such settings are reported as unknown, not as errors.

use redis::Value;

use super::{Conn, Node};
use crate::config::NodeKind;
use crate::error::{NodeError, NodeName};

/// What one node is, from [`crate::LockManager::node_checks`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct NodeCheck {
    /// The node.
    pub node: NodeName,
    /// Its kind (from its URL).
    pub kind: NodeKind,
    /// Whether it could be reached (and, if not, why); the fields below are `None` then.
    pub reachable: Result<(), NodeError>,
    /// `ROLE`: `master` for a usable node (on a cluster: one of its primaries).
    pub role: Option<String>,
    /// `maxmemory-policy`, `None` when unknown (CONFIG not allowed).
    pub maxmemory_policy: Option<String>,
    /// `appendonly`, `None` when unknown.
    pub appendonly: Option<bool>,
    /// `save` (RDB snapshot schedule; empty: none), `None` when unknown.
    pub save: Option<String>,
    /// What an operator should know, one sentence each (empty: nothing to report).
    pub warnings: Vec<String>,
}

/// What `policy` means for locks, if anything to worry about.
pub(crate) fn eviction_warning(policy: &str) -> Option<String> {
    if policy.starts_with("allkeys-") {
        Some(format!(
            "maxmemory-policy {policy} can evict lock keys, fencing counters and delayed-restart markers when memory is full: use noeviction"
        ))
    } else if policy.starts_with("volatile-") {
        Some(format!(
            "maxmemory-policy {policy} can evict lock keys (they have a ttl) when memory is full: use noeviction"
        ))
    } else {
        None
    }
}

/// Check `node`.
pub(crate) async fn check(node: &Node) -> NodeCheck {
    let mut check = NodeCheck {
        node: node.name().clone(),
        kind: node.kind(),
        reachable: Ok(()),
        role: None,
        maxmemory_policy: None,
        appendonly: None,
        save: None,
        warnings: Vec::new(),
    };
    let work = async {
        let (mut conn, _) = node.connection().await.map_err(|(e, _)| match e {
            super::Refusal::Redis(e) => NodeError::Connection(e.to_string()),
            super::Refusal::Unusable(why) => NodeError::Connection(why),
        })?;
        let role = conn.node_command(redis::cmd("ROLE")).await.ok();
        check.role = role.as_ref().and_then(first_string);
        check.maxmemory_policy = config_get(&mut conn, "maxmemory-policy").await;
        check.appendonly = config_get(&mut conn, "appendonly")
            .await
            .map(|v| v == "yes");
        check.save = config_get(&mut conn, "save").await;
        Ok::<_, NodeError>(())
    };
    match tokio::time::timeout(node.timeout.saturating_mul(4), work).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => check.reachable = Err(e),
        Err(_) => check.reachable = Err(NodeError::Timeout(node.timeout.saturating_mul(4))),
    }
    if let Some(warning) = check.maxmemory_policy.as_deref().and_then(eviction_warning) {
        check.warnings.push(warning);
    }
    if check.appendonly == Some(false) && check.save.as_deref() == Some("") {
        check.warnings.push(
            "no persistence (appendonly no, save \"\"): a restart forgets every lease; keep delayed restart on".to_owned(),
        );
    }
    if check.kind == NodeKind::Cluster && check.reachable.is_ok() {
        check.warnings.push(
            "settings shown are one primary's: check that every shard has the same".to_owned(),
        );
    }
    if check.reachable.is_ok() && check.maxmemory_policy.is_none() {
        check
            .warnings
            .push("CONFIG GET is not allowed: eviction policy and persistence unknown".to_owned());
    }
    check
}

async fn config_get(conn: &mut Conn, name: &str) -> Option<String> {
    let mut cmd = redis::cmd("CONFIG");
    cmd.arg("GET").arg(name);
    let value = conn.node_command(cmd).await.ok()?;
    // RESP2: [name, value]; RESP3: {name: value}.
    match value {
        Value::Array(items) => items.get(1).and_then(string),
        Value::Map(pairs) => pairs.first().and_then(|(_, v)| string(v)),
        _ => None,
    }
}

fn first_string(value: &Value) -> Option<String> {
    match value {
        Value::Array(items) => items.first().and_then(string),
        _ => None,
    }
}

fn string(value: &Value) -> Option<String> {
    match value {
        Value::BulkString(bytes) => Some(String::from_utf8_lossy(bytes).into_owned()),
        Value::SimpleString(s) => Some(s.clone()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::eviction_warning;

    #[test]
    fn policies_that_can_evict_lock_keys_are_named() {
        assert!(eviction_warning("noeviction").is_none());
        assert!(eviction_warning("volatile-lru").is_some_and(|w| w.contains("lock keys")));
        assert!(eviction_warning("allkeys-lfu").is_some_and(|w| w.contains("fencing")));
    }
}
