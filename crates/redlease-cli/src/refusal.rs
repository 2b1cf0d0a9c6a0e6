//! Node failures that retrying will not cure, turned into what the user must do.
//!
//! "Fewer than a quorum answered" (69) tells an operator to look at the servers' health.
//! That is wrong advice when the servers answered fine and refused us: a password that
//! was rejected or never sent, an ACL that forbids our commands (77, EX_NOPERM), a
//! database number the server does not have (64: the URL is wrong), or a server that came
//! back without its data and is held back (69, but the fix is an operator's decision,
//! `redlease nodes --ready`). The library tells these apart with typed node errors
//! (`NodeError::Auth`, `Config`, `HeldBack`); this module only chooses the words, once,
//! for every command (`acquire`, `exec`, `status`, `list`, ...).

use redlease::{AuthProblem, NodeError};

use crate::exit::{Failure, NOPERM, UNAVAILABLE, USAGE};

/// One node that failed: its 0-based index, its redacted URL and why.
pub struct Failed<'a> {
    pub index: usize,
    pub server: &'a str,
    pub error: &'a NodeError,
}

/// The failures of a library error, as [`Failed`] entries.
pub fn of_error(error: &redlease::Error) -> Vec<Failed<'_>> {
    error
        .node_failures()
        .iter()
        .map(|f| Failed {
            index: f.index,
            server: &f.server,
            error: &f.error,
        })
        .collect()
}

/// The failure that names what to fix, if some node refused us for a reason the user
/// must act on: authentication (77) first, then configuration (64), then held-back
/// nodes (69 with the operator's way out).
pub fn explain(failed: &[Failed<'_>]) -> Option<Failure> {
    // Failures arrive in the order the servers answered: name the first in --servers
    // order, so that the message does not change from run to run.
    let mut failed: Vec<&Failed<'_>> = failed.iter().collect();
    failed.sort_by_key(|f| f.index);
    if let Some(f) = failed.iter().find(|f| f.error.is_auth()) {
        return Some(Failure::new(NOPERM, auth_message(f)));
    }
    if let Some(f) = failed.iter().find(|f| f.error.is_config()) {
        return Some(Failure::new(
            USAGE,
            format!(
                "invalid --servers entry {} ({}): the server does not accept the connection's settings ({}); if that is the database number after the last /, the server has no such database: use one it has (0 to `databases` - 1 in its configuration, 16 by default)",
                f.index + 1,
                f.server,
                detail(f.error)
            ),
        ));
    }
    let held: Vec<String> = failed
        .iter()
        .filter_map(|f| match f.error {
            NodeError::HeldBack { age, max_ttl } => Some(format!(
                "server {} ({}) came back without its data {} ago and is held back until max_ttl ({}) has passed",
                f.index + 1,
                f.server,
                humantime::format_duration(crate::output::whole_millis(*age)),
                humantime::format_duration(*max_ttl)
            )),
            _ => None,
        })
        .collect();
    if held.is_empty() {
        return None;
    }
    let others: Vec<String> = failed
        .iter()
        .filter(|f| !matches!(f.error, NodeError::HeldBack { .. }))
        .map(|f| {
            format!(
                "; server {} ({}): {}",
                f.index + 1,
                f.server,
                node_error_text(f.error)
            )
        })
        .collect();
    Some(Failure::new(
        UNAVAILABLE,
        format!(
            "no quorum: {}{}; a server that lost its data does not count until then, since it may have forgotten leases that are still held. If you know it kept its data, or was down for longer than max_ttl, `redlease nodes --ready` marks the servers ready at once",
            held.join("; "),
            others.concat()
        ),
    ))
}

/// What a refused authentication means, for the server that refused.
fn auth_message(f: &Failed<'_>) -> String {
    let text = detail(f.error);
    let server = format!("server {} ({})", f.index + 1, f.server);
    match f.error.auth_problem() {
        Some(AuthProblem::MissingPassword) => format!(
            "{server} requires a password: use --password-file or REDLEASE_PASSWORD (or redis://:PASSWORD@host in --servers)"
        ),
        Some(AuthProblem::NotPermitted) => format!(
            "{server} refused our commands for this user (ACL: {text}): give the user the commands and keys redlease uses, or use another user"
        ),
        _ => format!(
            "the password was rejected by {server} ({text}): check --password-file, REDLEASE_PASSWORD or the user in the URL"
        ),
    }
}

/// One node's error for people: a refusal in the server's own words, said once.
pub fn node_error_text(error: &NodeError) -> String {
    match error {
        NodeError::Auth(_) => format!("refused our credentials: {}", detail(error)),
        NodeError::Config(_) => format!("does not accept this configuration: {}", detail(error)),
        other => other.to_string(),
    }
}

/// The server's own words, without the library's prefix.
fn detail(error: &NodeError) -> String {
    match error {
        NodeError::Auth(text) | NodeError::Config(text) => first_reply(text),
        other => other.to_string(),
    }
}

/// redis-rs repeats one refusal per pipelined command ("Pipeline failures: [(Index 0,
/// error: "NOAUTH": Authentication required.), ...]"): keep the first.
/// A client-side message ends in redis-rs's kind name ("... - AuthenticationFailed"):
/// drop it, it is a Rust type name.
fn first_reply(text: &str) -> String {
    let Some(rest) = text.strip_prefix("Pipeline failures: [(Index 0, error: ") else {
        return match text.rsplit_once(" - ") {
            Some((words, kind)) if is_type_name(kind) => words.to_owned(),
            _ => text.to_owned(),
        };
    };
    let first = rest.split("), (Index").next().unwrap_or(rest);
    first.trim_end_matches(")]").replace('"', "")
}

fn is_type_name(word: &str) -> bool {
    word.starts_with(|c: char| c.is_ascii_uppercase())
        && word.chars().all(|c| c.is_ascii_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pipelined_refusal_is_said_once() {
        let text = "Pipeline failures: [(Index 0, error: \"NOAUTH\": Authentication required.), (Index 1, error: \"NOAUTH\": Authentication required.)]";
        assert_eq!(first_reply(text), "NOAUTH: Authentication required.");
        assert_eq!(first_reply("WRONGPASS nope"), "WRONGPASS nope");
        assert_eq!(
            first_reply("Password authentication failed - AuthenticationFailed"),
            "Password authentication failed"
        );
    }

    #[test]
    fn auth_comes_before_config_and_held_back() {
        let auth = NodeError::Auth("WRONGPASS invalid username-password pair".into());
        let config = NodeError::Config("ERR DB index is out of range".into());
        let failed = [
            Failed {
                index: 0,
                server: "redis://a:1/99",
                error: &config,
            },
            Failed {
                index: 2,
                server: "redis://:***@c:1",
                error: &auth,
            },
        ];
        let f = explain(&failed).unwrap();
        assert_eq!(f.code, NOPERM);
        assert!(
            f.message
                .starts_with("the password was rejected by server 3 (redis://:***@c:1)"),
            "{}",
            f.message
        );
        let f = explain(&failed[..1]).unwrap();
        assert_eq!(f.code, USAGE);
        assert!(f.message.contains("--servers entry 1"), "{}", f.message);
        assert!(explain(&[]).is_none());
    }
}
