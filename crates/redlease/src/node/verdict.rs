//! What a node's replies say about its connection.
//!
//! After an error, the node must decide: keep the connection, replace it, or report a
//! refusal no retry will cure. Those decisions are kept apart from the connection
//! handling in [`super::Node`] so each reads on its own, and so a new error case is added
//! in one place.

use redis::Value;

use super::link::{Conn, Refusal};
use crate::error::NodeError;

/// A replica takes no writes (and, with `replica-read-only no`, would take them and lose
/// them): refuse it at connect with a message that says what to give instead. A node
/// whose ACL forbids ROLE is given the benefit of the doubt: its writes would fail with
/// READONLY anyway.
pub(super) async fn refuse_replica(conn: &mut Conn) -> Result<(), Refusal> {
    let Ok(Value::Array(role)) = conn.node_command(redis::cmd("ROLE")).await else {
        return Ok(());
    };
    match role.first() {
        Some(Value::BulkString(r)) if r.as_slice() != b"master" => Err(Refusal::Unusable(format!(
            "is a replica (ROLE {}), and locks need a primary: give the primary's URL, or a redis+sentinel:// URL that follows it",
            String::from_utf8_lossy(r)
        ))),
        _ => Ok(()),
    }
}

/// A refusal that retrying will not cure: credentials, permissions, a database the
/// server does not have.
pub(super) fn refusal(e: &redis::RedisError) -> Option<NodeError> {
    let code = e.code().unwrap_or_default();
    let text = e.to_string();
    if e.kind() == redis::ErrorKind::AuthenticationFailed
        || matches!(code, "NOAUTH" | "WRONGPASS" | "NOPERM")
        || text.contains("WRONGPASS")
        || text.contains("NOAUTH")
    {
        return Some(NodeError::Auth(text));
    }
    if text.contains("DB index is out of range") {
        return Some(NodeError::Config(text));
    }
    None
}

/// Errors after which this connection must not be used again: it broke, or (Sentinel) it
/// leads to a primary that was demoted to a replica.
pub(super) fn needs_new_connection(e: &redis::RedisError) -> bool {
    e.is_io_error()
        || e.is_connection_dropped()
        || e.is_connection_refusal()
        || e.is_unrecoverable_error()
        || e.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::ReadOnly)
        || e.code() == Some("READONLY")
}
