//! What this client knows of one node's delayed-restart marker.
//!
//! A node's marker is known by its birth on the node's own clock, as the node reports it
//! (the acquire script's age and clock reading, or the quick acquire's `GET`): when this
//! client reads the answer does not enter, so a stall between the node's answer and the
//! client's reading cannot make a new marker look like the trusted one
//! (`tests/restart.rs`, `a_client_stall_cannot_make_a_wiped_node_look_trusted`). Two
//! things are kept per node: the trust a complete round gave its marker
//! ([`MarkerTrust`]: later grants count without waiting for every other node), and the
//! birth of a marker seen `max_ttl` old (the quick acquire then checks the marker by its
//! birth instead of reading the node's clock, see `ops/quick.rs`).

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::Node;
use crate::ops::NodeFacts;
use crate::protocol::attempt::Known;
use crate::protocol::{AcquireReply, MarkerTrust};

/// One node's marker, as this client knows it.
#[derive(Default)]
pub(super) struct Markers {
    /// The marker a complete round showed is not a node that came back empty.
    trust: Mutex<MarkerTrust>,
    /// The birth (node ms) of the marker when last seen at least `max_ttl` old, 0 for
    /// none.
    old: AtomicU64,
}

impl Node {
    /// What `reply` says of this node's marker: whether it is the trusted one, one that
    /// replaced it (the node lost its data; only with one marker per node, `global`), or
    /// neither; and when the node measured its age, on the node's clock (to trust it
    /// later, [`Node::trust_marker`]). Remembers a marker seen `max_ttl` old for the quick
    /// acquire ([`Node::facts`]) and forgets one replaced since.
    pub(crate) fn judge_marker(
        &self,
        reply: &AcquireReply,
        max_ttl: Duration,
        global: bool,
    ) -> (Known, Option<Duration>) {
        let (Some(born), Some(age)) = (reply.marker_born_ms, reply.marker_age_ms) else {
            return (Known::Unknown, None);
        };
        let seen_at = Duration::from_millis(born.saturating_add(age));
        let age = Duration::from_millis(age);
        if global {
            let old = if age >= max_ttl { born } else { 0 };
            self.markers.old.store(old, Ordering::Relaxed);
        }
        // Markers `max_ttl` old count whoever wrote them; refusals are judged too: a
        // different marker proves the node lost its data whatever it answered this time.
        if age >= max_ttl {
            return (Known::Unknown, Some(seen_at));
        }
        let Ok(mut trust) = self.markers.trust.lock() else {
            return (Known::Unknown, Some(seen_at));
        };
        let known = if trust.check(age, seen_at, Duration::ZERO) {
            Known::Trusted
        } else if global && trust.replaced(age, seen_at, Duration::ZERO) {
            Known::Replaced
        } else {
            Known::Unknown
        };
        (known, Some(seen_at))
    }

    /// Remember this node's marker as one that a complete round did not hold back.
    pub(crate) fn trust_marker(&self, age: Duration, seen_at: Duration) {
        if let Ok(mut trust) = self.markers.trust.lock() {
            trust.trust(age, seen_at);
        }
    }

    /// Forget what this node's markers were (an operator reset them).
    pub(crate) fn forget_markers(&self) {
        if let Ok(mut trust) = self.markers.trust.lock() {
            trust.forget();
        }
        self.markers.old.store(0, Ordering::Relaxed);
    }

    /// What the quick requests to this node may rely on.
    pub(crate) fn facts(&self) -> NodeFacts {
        let born = self.markers.old.load(Ordering::Relaxed);
        NodeFacts {
            old_marker: (born != 0).then_some(born),
        }
    }
}
