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
    /// The blocking API could not start (or lost) its private runtime.
    Runtime,
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
    /// The node refused our credentials or permissions (wrong or missing password, an
    /// ACL that forbids a command or key): fix the configuration, retrying will not help.
    #[error("refused our credentials: {0}")]
    Auth(String),
    /// The node says the configuration does not fit it (e.g. a database number it does
    /// not have): fix the server URL.
    #[error("does not accept this configuration: {0}")]
    Config(String),
    /// The node answered something the scripts never return.
    #[error("{0}")]
    Protocol(String),
    /// The write was made, but fewer replicas than `min_replicas` confirmed it in time: the
    /// vote counts as failed (a failover could lose it).
    #[error("not replicated: {0}")]
    Replication(String),
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

/// What a node's [`NodeError::Auth`] refusal was about, so that the advice can fit it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthProblem {
    /// The server needs a password and none was sent (`NOAUTH`).
    MissingPassword,
    /// The user or password was rejected (`WRONGPASS`, or the handshake failed).
    Rejected,
    /// The user is known but its ACL forbids a command, key or channel redlease uses
    /// (`NOPERM`).
    NotPermitted,
}

impl NodeError {
    /// Credentials or permissions refused (see [`NodeError::Auth`]).
    pub fn is_auth(&self) -> bool {
        matches!(self, NodeError::Auth(_))
    }

    /// For an [`NodeError::Auth`] refusal, what it was about (from the server's error
    /// code); `None` for every other error.
    ///
    /// ```
    /// use redlease::{AuthProblem, NodeError};
    /// let e = NodeError::Auth("NOAUTH: Authentication required.".into());
    /// assert_eq!(e.auth_problem(), Some(AuthProblem::MissingPassword));
    /// let e = NodeError::Auth("error: NoPerm: this user has no permissions".into());
    /// assert_eq!(e.auth_problem(), Some(AuthProblem::NotPermitted));
    /// assert_eq!(NodeError::Redis("ERR".into()).auth_problem(), None);
    /// ```
    pub fn auth_problem(&self) -> Option<AuthProblem> {
        let NodeError::Auth(text) = self else {
            return None;
        };
        // The server's codes, however the client library spelled them ("NOPERM" from
        // the server, "NoPerm" inside a failed pipeline).
        let text = text.to_ascii_uppercase();
        Some(if text.contains("NOAUTH") {
            AuthProblem::MissingPassword
        } else if text.contains("NOPERM") {
            AuthProblem::NotPermitted
        } else {
            AuthProblem::Rejected
        })
    }

    /// The server does not accept the configuration (see [`NodeError::Config`]).
    pub fn is_config(&self) -> bool {
        matches!(self, NodeError::Config(_))
    }
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

/// Everything that can go wrong with a lease: one type, with a [`kind`](Error::kind),
/// predicates and accessors for the detail.
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
#[error(transparent)]
pub struct Error(Box<Repr>);

#[derive(Debug, Clone, thiserror::Error)]
pub(crate) enum Repr {
    #[error(
        "resource {resource:?} is held by another owner on {} of {total} nodes ({}){}",
        busy.len(), join(busy), failures_suffix(failures)
    )]
    Busy {
        resource: String,
        busy: Vec<NodeName>,
        total: usize,
        failures: Vec<NodeFailure>,
        holder_ttl: Option<Duration>,
    },
    #[error(
        "resource {resource:?}: {} of {total} nodes could not take part and no quorum of {quorum} was reached: {}",
        failures.len(), join(failures)
    )]
    Unavailable {
        resource: String,
        quorum: usize,
        total: usize,
        failures: Vec<NodeFailure>,
    },
    #[error(
        "resource {resource:?}: a quorum granted the lease but the {elapsed:?} it took left no validity of the {ttl:?} ttl (drift allowance {drift:?})"
    )]
    ValiditySpent {
        resource: String,
        elapsed: Duration,
        ttl: Duration,
        drift: Duration,
    },
    #[error("lease on {resource:?} is lost: {reason}")]
    Lost {
        resource: String,
        reason: LostReason,
    },
    #[error("invalid {field}: {value}: {problem}; allowed: {allowed}")]
    InvalidArgument {
        field: String,
        value: String,
        problem: String,
        allowed: String,
    },
    #[error("{0}")]
    Runtime(String),
}

impl From<Repr> for Error {
    fn from(repr: Repr) -> Self {
        Error(Box::new(repr))
    }
}

impl Error {
    /// The category of this error.
    pub fn kind(&self) -> ErrorKind {
        match &*self.0 {
            Repr::Busy { .. } => ErrorKind::Busy,
            Repr::Unavailable { .. } => ErrorKind::Unavailable,
            Repr::ValiditySpent { .. } => ErrorKind::ValiditySpent,
            Repr::Lost { .. } => ErrorKind::Lost,
            Repr::InvalidArgument { .. } => ErrorKind::InvalidArgument,
            Repr::Runtime(_) => ErrorKind::Runtime,
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

    /// A quorum granted, but no validity was left.
    pub fn is_validity_spent(&self) -> bool {
        self.kind() == ErrorKind::ValiditySpent
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

    /// The resource the failed operation was about, if any.
    pub fn resource(&self) -> Option<&str> {
        match &*self.0 {
            Repr::Busy { resource, .. }
            | Repr::Unavailable { resource, .. }
            | Repr::ValiditySpent { resource, .. }
            | Repr::Lost { resource, .. } => Some(resource),
            Repr::InvalidArgument { .. } | Repr::Runtime(_) => None,
        }
    }

    /// The per-node failures this error carries (empty for kinds without any).
    pub fn node_failures(&self) -> &[NodeFailure] {
        match &*self.0 {
            Repr::Busy { failures, .. } | Repr::Unavailable { failures, .. } => failures,
            _ => &[],
        }
    }

    /// Busy: the nodes where another owner holds the resource.
    pub fn busy_nodes(&self) -> &[NodeName] {
        match &*self.0 {
            Repr::Busy { busy, .. } => busy,
            _ => &[],
        }
    }

    /// Busy: the shortest remaining ttl of the other holder that a node reported.
    pub fn holder_ttl(&self) -> Option<Duration> {
        match &*self.0 {
            Repr::Busy { holder_ttl, .. } => *holder_ttl,
            _ => None,
        }
    }

    /// Unavailable: the quorum that was needed, and the number of nodes. The nodes that
    /// could not take part are [`Error::node_failures`].
    pub fn quorum(&self) -> Option<(usize, usize)> {
        match &*self.0 {
            Repr::Unavailable { quorum, total, .. } => Some((*quorum, *total)),
            _ => None,
        }
    }

    /// Lost: why.
    pub fn lost_reason(&self) -> Option<LostReason> {
        match &*self.0 {
            Repr::Lost { reason, .. } => Some(*reason),
            _ => None,
        }
    }

    /// Invalid argument: the field or argument at fault (e.g. `ttl`, `servers[2]`).
    pub fn field(&self) -> Option<&str> {
        match &*self.0 {
            Repr::InvalidArgument { field, .. } => Some(field),
            _ => None,
        }
    }

    /// Invalid argument: the value given, as shown in the message (redacted where it may
    /// hold a secret).
    pub fn value(&self) -> Option<&str> {
        match &*self.0 {
            Repr::InvalidArgument { value, .. } => Some(value),
            _ => None,
        }
    }

    /// Invalid argument: what is wrong with the value, and what is allowed.
    pub fn problem(&self) -> Option<(&str, &str)> {
        match &*self.0 {
            Repr::InvalidArgument {
                problem, allowed, ..
            } => Some((problem, allowed)),
            _ => None,
        }
    }

    pub(crate) fn invalid(
        field: impl Into<String>,
        value: impl fmt::Debug,
        problem: impl Into<String>,
        allowed: impl Into<String>,
    ) -> Self {
        Repr::InvalidArgument {
            field: field.into(),
            value: format!("{value:?}"),
            problem: problem.into(),
            allowed: allowed.into(),
        }
        .into()
    }

    pub(crate) fn lost(resource: &str, reason: LostReason) -> Self {
        Repr::Lost {
            resource: resource.to_owned(),
            reason,
        }
        .into()
    }

    pub(crate) fn runtime(detail: impl Into<String>) -> Self {
        Repr::Runtime(detail.into()).into()
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
        let e: Error = Repr::Busy {
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
        }
        .into();
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
