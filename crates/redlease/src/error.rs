//! Errors, with the cause kept apart from the message.
//!
//! Callers of a lock must react differently to "someone else holds it" (wait or give up),
//! "the nodes are unreachable" (alert, retry later), "the lease is gone" (stop the work)
//! and "you called it wrong" (fix the code). Every [`Error`] therefore has an
//! [`ErrorKind`] and predicates, so nobody matches on message strings, and keeps the
//! per-node detail ("held on nodes 1 and 3" is not "node 2: connection refused").
//!
//! Server addresses in errors are always redacted: no password ever appears.

use std::fmt;
use std::time::Duration;

/// The category of an [`Error`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// Another owner holds the resource on enough nodes that we could not get a quorum.
    Busy,
    /// Fewer than a quorum of nodes answered.
    Unavailable,
    /// A quorum granted the lease, but the time it took used up the whole validity.
    ValiditySpent,
    /// The lease is no longer held (expired, or taken away on a quorum of nodes).
    Lost,
    /// A configuration value or argument is not allowed.
    InvalidArgument,
}

/// Why a lease counts as lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LostReason {
    /// The validity deadline passed on the client's clock.
    Expired,
    /// A quorum of nodes answered that the key no longer holds our owner.
    NotHeld,
    /// The renewal could not extend on a quorum before the deadline.
    RenewalFailed,
    /// The lease hit its configured cap on renewals or total hold time.
    RenewalCapReached,
    /// The lease was released by its holder.
    Released,
}

impl fmt::Display for LostReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LostReason::Expired => "its validity deadline passed",
            LostReason::NotHeld => "a quorum of nodes no longer holds it for this owner",
            LostReason::RenewalFailed => "renewal could not extend it on a quorum in time",
            LostReason::RenewalCapReached => "it reached its cap on renewals or hold time",
            LostReason::Released => "it was released",
        })
    }
}

/// One node's failure to answer, with the node named (password redacted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeFailure {
    /// Position of the node in the configured server list (0-based).
    pub index: usize,
    /// The node's address, redacted.
    pub server: String,
    /// What went wrong.
    pub error: NodeError,
}

impl fmt::Display for NodeFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "node {} ({}): {}", self.index, self.server, self.error)
    }
}

/// What went wrong talking to one node.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NodeError {
    /// No answer within the per-node timeout.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// Could not connect, or the connection broke.
    #[error("connection failed: {0}")]
    Connection(String),
    /// The node answered with an error.
    #[error("redis error: {0}")]
    Redis(String),
    /// The node answered something the scripts never return.
    #[error("{0}")]
    Protocol(String),
    /// The node came back without its data (delayed restart): its grant does not count
    /// until its marker is older than the maximum ttl.
    #[error("came back empty {age:?} ago; its grants count again after max_ttl ({max_ttl:?})")]
    HeldBack {
        /// Age of the node's marker.
        age: Duration,
        /// The maximum ttl it must reach.
        max_ttl: Duration,
    },
}

/// A node, named for messages: its index and redacted address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeName {
    /// Position of the node in the configured server list (0-based).
    pub index: usize,
    /// The node's address, redacted.
    pub server: String,
}

impl fmt::Display for NodeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "node {} ({})", self.index, self.server)
    }
}

/// Everything that can go wrong with a lease.
///
/// ```
/// # async fn example(manager: redlease::LockManager) {
/// match manager.try_acquire("orders:42").await {
///     Ok(lease) => { /* do the work */ let _ = lease.release().await; }
///     Err(e) if e.is_busy() => println!("someone else is on it: {e}"),
///     Err(e) if e.is_unavailable() => eprintln!("redis nodes down: {e}"),
///     Err(e) => eprintln!("{e}"),
/// }
/// # }
/// ```
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Another owner holds the resource.
    #[error(
        "resource {resource:?} is held by another owner on {} of {total} nodes ({}){}",
        busy.len(), join(busy), failures_suffix(failures)
    )]
    Busy {
        /// The resource asked for.
        resource: String,
        /// The nodes where another owner holds it.
        busy: Vec<NodeName>,
        /// Number of nodes.
        total: usize,
        /// Nodes that did not answer.
        failures: Vec<NodeFailure>,
        /// The shortest remaining TTL reported by a node where it is held.
        holder_ttl: Option<Duration>,
    },
    /// Fewer than a quorum of nodes answered.
    #[error(
        "resource {resource:?}: only {answered} of {total} nodes answered, a quorum is {quorum}: {}",
        join(failures)
    )]
    Unavailable {
        /// The resource the operation was about.
        resource: String,
        /// Nodes that answered.
        answered: usize,
        /// Nodes needed.
        quorum: usize,
        /// Number of nodes.
        total: usize,
        /// Each failed node and its error.
        failures: Vec<NodeFailure>,
    },
    /// A quorum granted the lease but no validity was left.
    #[error(
        "resource {resource:?}: a quorum granted the lease but the {elapsed:?} it took left no validity of the {ttl:?} ttl (drift allowance {drift:?})"
    )]
    ValiditySpent {
        /// The resource asked for.
        resource: String,
        /// Time from the first request to the decision.
        elapsed: Duration,
        /// The requested TTL.
        ttl: Duration,
        /// The drift allowance.
        drift: Duration,
    },
    /// The lease is no longer held.
    #[error("lease on {resource:?} is lost: {reason}")]
    Lost {
        /// The resource of the lease.
        resource: String,
        /// Why.
        reason: LostReason,
    },
    /// A configuration value or argument is not allowed.
    #[error("invalid {field}: {value}: {problem}; allowed: {allowed}")]
    InvalidArgument {
        /// The field or argument, e.g. `ttl` or `servers[2]`.
        field: String,
        /// The value given (redacted where it may hold a secret).
        value: String,
        /// What is wrong with it.
        problem: String,
        /// What is allowed.
        allowed: String,
    },
}

impl Error {
    /// The category of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Busy { .. } => ErrorKind::Busy,
            Error::Unavailable { .. } => ErrorKind::Unavailable,
            Error::ValiditySpent { .. } => ErrorKind::ValiditySpent,
            Error::Lost { .. } => ErrorKind::Lost,
            Error::InvalidArgument { .. } => ErrorKind::InvalidArgument,
        }
    }

    /// Held by someone else.
    pub fn is_busy(&self) -> bool {
        self.kind() == ErrorKind::Busy
    }

    /// Fewer than a quorum of nodes answered.
    pub fn is_unavailable(&self) -> bool {
        self.kind() == ErrorKind::Unavailable
    }

    /// The lease is no longer held.
    pub fn is_lost(&self) -> bool {
        self.kind() == ErrorKind::Lost
    }

    /// A configuration value or argument is not allowed.
    pub fn is_invalid_argument(&self) -> bool {
        self.kind() == ErrorKind::InvalidArgument
    }

    /// Whether another attempt may succeed (busy, unavailable, validity spent).
    pub fn is_retryable(&self) -> bool {
        matches!(
            self.kind(),
            ErrorKind::Busy | ErrorKind::Unavailable | ErrorKind::ValiditySpent
        )
    }

    /// The per-node failures this error carries (empty for kinds without any).
    pub fn node_failures(&self) -> &[NodeFailure] {
        match self {
            Error::Busy { failures, .. } | Error::Unavailable { failures, .. } => failures,
            _ => &[],
        }
    }

    pub(crate) fn invalid(
        field: impl Into<String>,
        value: impl fmt::Debug,
        problem: impl Into<String>,
        allowed: impl Into<String>,
    ) -> Self {
        Error::InvalidArgument {
            field: field.into(),
            value: format!("{value:?}"),
            problem: problem.into(),
            allowed: allowed.into(),
        }
    }
}

fn join<T: fmt::Display>(items: &[T]) -> String {
    let parts: Vec<String> = items.iter().map(ToString::to_string).collect();
    parts.join("; ")
}

fn failures_suffix(failures: &[NodeFailure]) -> String {
    if failures.is_empty() {
        String::new()
    } else {
        format!("; unreachable: {}", join(failures))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_nodes() {
        let e = Error::Busy {
            resource: "r".into(),
            busy: vec![
                NodeName {
                    index: 0,
                    server: "redis://a:1".into(),
                },
                NodeName {
                    index: 2,
                    server: "redis://c:1".into(),
                },
            ],
            total: 3,
            failures: vec![NodeFailure {
                index: 1,
                server: "redis://b:1".into(),
                error: NodeError::Timeout(Duration::from_millis(50)),
            }],
            holder_ttl: None,
        };
        let msg = e.to_string();
        assert!(msg.contains("2 of 3 nodes"), "{msg}");
        assert!(msg.contains("node 0 (redis://a:1)"), "{msg}");
        assert!(
            msg.contains("node 1 (redis://b:1): no answer within 50ms"),
            "{msg}"
        );
        assert!(e.is_busy() && e.is_retryable() && !e.is_lost());
        assert_eq!(e.node_failures().len(), 1);
    }

    #[test]
    fn invalid_argument_says_field_value_and_allowed() {
        let e = Error::invalid("ttl", Duration::ZERO, "must be positive", "1ms ..= max_ttl");
        assert_eq!(
            e.to_string(),
            "invalid ttl: 0ns: must be positive; allowed: 1ms ..= max_ttl"
        );
        assert_eq!(e.kind(), ErrorKind::InvalidArgument);
        assert!(!e.is_retryable());
    }
}
