//! ACL users for least-privilege tests.
//!
//! A lock user should be able to touch its own keys and channels and run
//! the few commands the lock sends, and nothing else; that is only shown by
//! a real server refusing everything else with `NOPERM`. A user can be
//! defined when a server starts ([`acl_user_args`], for any options'
//! `extra_args`) or on a running node ([`Node::acl_setuser`]), and a test
//! can then act as that user ([`Node::command_as`]) while the kit keeps its
//! own (default user) connections for control.

use std::io;
use std::time::Duration;

use crate::node::{DEFAULT_COMMAND_TIMEOUT, Node};
use crate::resp::{Connection, Endpoint, Reply};

/// `["--user", name, rules...]`: defines an ACL user at start-up when
/// added to a server's extra arguments (e.g.
/// [`ClusterOptions::extra_args`](crate::ClusterOptions::extra_args)).
/// Rules are ACL SETUSER rules: `on`, `>password`, `~redlease:*`,
/// `&redlease:*`, `+@all`, `-flushall`, ...
///
/// ```
/// let args = redlease_testkit::acl_user_args("locker", &["on", ">pw", "~redlease:*"])?;
/// assert_eq!(args, ["--user", "locker", "on", ">pw", "~redlease:*"]);
/// # Ok::<(), std::io::Error>(())
/// ```
///
/// Fails (`InvalidInput`) if the name is empty or has white space, or a
/// rule is empty or has white space.
pub fn acl_user_args(name: &str, rules: &[&str]) -> io::Result<Vec<String>> {
    check_user(name, rules)?;
    let mut args = vec!["--user".to_string(), name.to_string()];
    args.extend(rules.iter().map(|rule| rule.to_string()));
    Ok(args)
}

impl Node {
    /// Creates or changes ACL user `name` on the running server with
    /// `ACL SETUSER name rules...` (same rules as [`acl_user_args`]).
    pub fn acl_setuser(&self, name: &str, rules: &[&str]) -> io::Result<()> {
        check_user(name, rules)?;
        let mut args = vec!["ACL", "SETUSER", name];
        args.extend_from_slice(rules);
        self.command(&args).map(|_| ())
    }

    /// Sends one command on a fresh connection authenticated as `user`
    /// (`AUTH user password`) and returns the raw reply: a refusal is
    /// `Ok(Reply::Error("NOPERM ..."))`. A failed `AUTH` is an
    /// [`io::ErrorKind::PermissionDenied`] error quoting the server.
    pub fn command_as<A: AsRef<[u8]>>(
        &self,
        user: &str,
        password: &str,
        args: &[A],
    ) -> io::Result<Reply> {
        let endpoint = match (self.port(), self.unix_socket()) {
            (Some(port), _) => Endpoint::Tcp(port),
            (None, Some(path)) => Endpoint::Unix(path.to_path_buf()),
            (None, None) => return Err(io::Error::other("the node has no address")),
        };
        let timeout: Duration = DEFAULT_COMMAND_TIMEOUT;
        let mut conn = Connection::open(&endpoint, timeout).map_err(|e| {
            io::Error::new(e.kind(), format!("{}: cannot connect: {e}", self.url()))
        })?;
        if let Reply::Error(e) = conn.call(&["AUTH", user, password])? {
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!("{}: AUTH as {user} failed: {e}", self.url()),
            ));
        }
        conn.call(args)
    }
}

fn check_user(name: &str, rules: &[&str]) -> io::Result<()> {
    let bad = |s: &str| s.is_empty() || s.contains(char::is_whitespace);
    if bad(name) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("ACL user name {name:?} must be non-empty and without white space"),
        ));
    }
    if let Some(rule) = rules.iter().find(|rule| bad(rule)) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "ACL rule {rule:?} for user {name} must be non-empty and without white space; give one rule per element"
            ),
        ));
    }
    Ok(())
}
