//! Where a lease's fencing token is minted: in the acquisition, or when first asked for.
//!
//! On one node the acquire script mints the token with the grant, for nothing. On several
//! nodes minting costs: in the acquisition, a vote that waits for every node and a second
//! round; on demand, two rounds on the first `fencing_token()` call (`lease/mint.rs`), one
//! more than in the acquisition, and nothing at all for a lease whose token nobody asks
//! for. Which is cheaper depends on the caller, and callers are consistent: a program
//! that fences its writes asks every lease of a resource for its token, one that does not,
//! none. So each resource remembers whether its last lease in this process was asked for
//! its token, and the next acquisition mints in the acquisition if it was
//! ([`Builder::token_at_acquire`](crate::Builder::token_at_acquire) mints there always).
//!
//! Both ways give tokens in the order of the leases, also mixed (`docs/protocol.md`,
//! "Tokens minted on demand"), so the choice never affects what the protocol guarantees,
//! only what it costs. Resources share a fixed table of slots by hash, as in
//! [`crate::contention`]: two resources in one slot only cost one of them a round trip
//! now and then.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicBool, Ordering};

use crate::ops::acquire::Fencing;

const SLOTS: usize = 256;

/// Per slot: whether the last lease of its resources that ended, or minted on demand,
/// was asked for its token.
pub(crate) struct TokensAsked {
    slots: [AtomicBool; SLOTS],
}

impl Default for TokensAsked {
    fn default() -> Self {
        TokensAsked {
            slots: std::array::from_fn(|_| AtomicBool::new(false)),
        }
    }
}

impl TokensAsked {
    /// Whether the last lease of `resource` was asked for its token.
    pub(crate) fn lately(&self, resource: &str) -> bool {
        self.slot(resource).load(Ordering::Relaxed)
    }

    /// A lease of `resource` was (or ended without being) asked for its token.
    pub(crate) fn note(&self, resource: &str, asked: bool) {
        self.slot(resource).store(asked, Ordering::Relaxed);
    }

    fn slot(&self, resource: &str) -> &AtomicBool {
        let mut hasher = DefaultHasher::new();
        resource.hash(&mut hasher);
        // The remainder is below SLOTS, so the index is in range and fits usize.
        &self.slots[(hasher.finish() % SLOTS as u64) as usize]
    }
}

/// How an acquisition mints: not at all (fencing off, or on demand later), in the acquire
/// script (one node), or in a second round (several nodes, when the token is expected to
/// be asked for, or always with `token_at_acquire`).
pub(crate) fn choose(fencing: bool, nodes: usize, always: bool, asked_lately: bool) -> Fencing {
    match (fencing, nodes) {
        (false, _) => Fencing::Off,
        (true, 1) => Fencing::Script,
        (true, _) if always || asked_lately => Fencing::Client,
        (true, _) => Fencing::Off,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_is_minted_in_the_acquisition_where_it_costs_nothing_or_is_expected() {
        assert_eq!(choose(false, 3, true, true), Fencing::Off);
        assert_eq!(choose(true, 1, false, false), Fencing::Script);
        assert_eq!(choose(true, 3, false, false), Fencing::Off, "on demand");
        assert_eq!(choose(true, 3, false, true), Fencing::Client);
        assert_eq!(choose(true, 5, true, false), Fencing::Client);
    }

    #[test]
    fn a_resource_remembers_its_last_lease() {
        let asked = TokensAsked::default();
        assert!(!asked.lately("a"));
        asked.note("a", true);
        assert!(asked.lately("a"));
        asked.note("a", false);
        assert!(!asked.lately("a"));
    }
}
