//! The wait queue, as the client decides about it: whether a call joins the nodes' queues
//! and when it keeps or gives up its place.
//!
//! The queue itself lives on the nodes (`acquire.lua` places a refused waiter by how long
//! it has waited, `release.lua` reserves the lock for the longest live waiter), but what
//! the client sends decides whether a waiter is ever in it, and whether it stays there
//! after it is gone: a waiter that never leaves keeps the lock reserved for nobody at
//! every release (issue 10 item 4). These rules are pure so that the model checker drives
//! the same ones as `acquire/`.

use std::time::Duration;

/// Whether a refused call joins the wait queues.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    /// A single attempt (`try_acquire`, or hand-off off): never queued, leaves nothing
    /// behind.
    Try,
    /// The caller waits when refused: queued for hand-off under its waiter id.
    Wait,
}

impl Role {
    /// The role of a call that may wait `wait`, with hand-off window `handoff`: only a
    /// caller that waits, with hand-off on, joins the queues.
    ///
    /// ```
    /// use std::time::Duration;
    /// use redlease::protocol::queue::Role;
    /// let ms = Duration::from_millis;
    /// assert_eq!(Role::of_call(ms(500), ms(50)), Role::Wait);
    /// assert_eq!(Role::of_call(Duration::ZERO, ms(50)), Role::Try);
    /// assert_eq!(Role::of_call(ms(500), Duration::ZERO), Role::Try);
    /// ```
    pub fn of_call(wait: Duration, handoff: Duration) -> Role {
        if wait.is_zero() || handoff.is_zero() {
            Role::Try
        } else {
            Role::Wait
        }
    }

    /// Whether the clean-up release of a failed attempt keeps the caller's place in the
    /// queues (`release.lua`'s "stay"): a caller that goes on waiting keeps it, or a split
    /// vote would leave it queued only where it was refused, and the next release would
    /// reserve the lock for it there and for someone else elsewhere, splitting again.
    pub fn keeps_place_after_failure(self) -> bool {
        self == Role::Wait
    }

    /// Whether a call that ends without a lease (its wait ran out, a non-retryable error,
    /// its future dropped) must send a release that leaves every node's queue: a queued
    /// caller must, or releases keep reserving the lock for a waiter that is gone.
    pub fn leaves_on_give_up(self) -> bool {
        self == Role::Wait
    }
}

/// How long a node keeps the wait queue after its last arrival: twice the time after
/// which an entry counts as gone (see [`super::retry::waiter_gone_after`]), so that an
/// expired queue only ever held entries a release would have skipped anyway.
///
/// ```
/// use std::time::Duration;
/// let ttl = redlease::protocol::queue::queue_ttl(Duration::from_millis(2020));
/// assert_eq!(ttl, Duration::from_millis(4040));
/// ```
pub fn queue_ttl(waiter_gone_after: Duration) -> Duration {
    waiter_gone_after.saturating_mul(2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_callers_that_wait_with_hand_off_on_are_queued() {
        let ms = Duration::from_millis;
        for (wait, handoff, role) in [
            (ms(1), ms(1), Role::Wait),
            (Duration::MAX, ms(50), Role::Wait),
            (Duration::ZERO, ms(50), Role::Try),
            (ms(100), Duration::ZERO, Role::Try),
            (Duration::ZERO, Duration::ZERO, Role::Try),
        ] {
            assert_eq!(Role::of_call(wait, handoff), role, "{wait:?} {handoff:?}");
        }
    }

    #[test]
    fn a_queued_caller_keeps_its_place_while_it_waits_and_leaves_when_it_gives_up() {
        assert!(Role::Wait.keeps_place_after_failure());
        assert!(Role::Wait.leaves_on_give_up());
        // A caller that never queued has nothing to keep or leave.
        assert!(!Role::Try.keeps_place_after_failure());
        assert!(!Role::Try.leaves_on_give_up());
    }

    #[test]
    fn the_queue_outlives_every_live_entry() {
        let gone = Duration::from_millis(2020);
        assert!(queue_ttl(gone) > gone);
        assert_eq!(queue_ttl(Duration::MAX), Duration::MAX);
    }
}
