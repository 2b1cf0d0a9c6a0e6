//! Acquisition: attempts over all nodes, retried within the caller's wait budget.
//!
//! One attempt follows `docs/protocol.md`: note the time, send the acquire script to every
//! node at once, feed the answers to [`protocol::Attempt`] as they arrive, and stop as soon
//! as it has decided. A won vote still has to leave validity (`ttl - elapsed - drift`)
//! and, when fencing tokens are minted on several nodes, needs a second round that records
//! the token on a quorum. A failed attempt releases whatever it may have taken before the
//! next attempt, which waits for a release to be published (or the holder's key to
//! expire), or a jittered, growing delay. This file is the loop of attempts (when to try
//! again, listen, wait or give up); `attempt.rs` is one attempt on the wire. The
//! decisions themselves are the protocol module's.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::cluster::Cluster;
use crate::config;
use crate::error::Error;
use crate::handoff::Waited;
use crate::lease::{Lease, LeaseCore};
use crate::ops::Target;
use crate::ops::acquire::{Acquire, Fencing, Role};
use crate::protocol::{self, ResourceKeys};
use crate::release;
use crate::renewal::Renewals;
use crate::wakeup::{self, Subscription};

mod attempt;
mod vote_error;

/// What an acquisition needs besides the resource.
pub(crate) struct Acquirer<'a> {
    pub cluster: &'a Arc<Cluster>,
    pub renewals: &'a Arc<Renewals<LeaseCore>>,
}

/// Releases an acquisition's keys if its future is dropped in the middle of an attempt.
struct DropCleanup {
    cluster: Arc<Cluster>,
    target: Arc<Target>,
    armed: bool,
}

impl Drop for DropCleanup {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let cluster = Arc::clone(&self.cluster);
        let target = Arc::clone(&self.target);
        let nodes: Vec<usize> = (0..cluster.nodes.len()).collect();
        self.cluster.background.spawn(async move {
            release::clean_up(&cluster, &target, &nodes, true, false).await;
        });
    }
}

impl Acquirer<'_> {
    /// Acquire `resource` for `ttl`, retrying for up to `wait`.
    pub(crate) async fn acquire(
        &self,
        resource: &str,
        ttl: Duration,
        wait: Duration,
    ) -> Result<Lease, Error> {
        let cluster = self.cluster;
        let c = &cluster.config;
        config::check_resource(resource)?;
        config::check_call_ttl(ttl, c)?;
        // Each attempt has an owner of its own, so that a clean-up release of one attempt
        // that reaches a node late (after a reconnection) can never delete the next
        // attempt's grant there; the wait queue knows the call by one waiter id. An
        // attempt that registers for a hand-off grant chooses the next attempt's owner
        // before it is sent: a refusal registers that owner (see `ops/acquire.lua`).
        let waiter: Arc<str> = Arc::from(protocol::new_owner());
        // The key names are the same for every attempt: built once per call.
        let keys = Arc::new(ResourceKeys::new(&c.key_prefix, resource));
        let attempt_target =
            |owner: String| Target::for_waiter(Arc::clone(&keys), owner, Arc::clone(&waiter));
        let mut target = attempt_target(protocol::new_owner());
        // The owner the last attempt registered: the next attempt's.
        let mut next: Option<String> = None;
        // Only callers that wait, with hand-off on, join the queue.
        let role = Role::of_call(wait, c.handoff);
        let started = Instant::now();
        // Without a token here, a fenced lease on several nodes mints one on demand.
        let fencing = cluster.minting(resource);
        let (queue_ttl, counter_ttl) =
            (cluster.queue_ttl(), protocol::fence_counter_ttl(c.max_ttl));
        // A waiter that listens registers each refused attempt for a hand-off grant
        // (`protocol::handoff`), unless its grants would need replicas to confirm them
        // (`min_replicas`: a release's write is not waited for) or its token is minted
        // from every node's counter in the acquisition (several nodes: a lease handed
        // over would need both rounds of a mint on demand after the grants, and the
        // reservation with a fenced attempt measured faster, see BENCHMARKS.md).
        let grants =
            role == Role::Wait && c.wake_ups && c.min_replicas == 0 && fencing != Fencing::Client;
        let request = |target: &Arc<Target>, quick: bool, next: Option<String>| {
            Arc::new(Acquire {
                target: Arc::clone(target),
                ttl,
                role,
                // The queue orders waiters by how long they have waited (see acquire.lua).
                waited_us: u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
                fencing,
                marker: cluster.marker.clone(),
                queue_ttl,
                counter_ttl,
                quick,
                next,
            })
        };
        let mut subscription: Option<Subscription> = None;
        // If this future is dropped mid-attempt (a timeout, a select), keys it may already
        // hold are released in the background instead of lingering for the ttl.
        let mut guard = DropCleanup {
            cluster: Arc::clone(cluster),
            target: Arc::clone(&target),
            armed: true,
        };
        let give_up = started.checked_add(wait);
        let several_nodes = cluster.nodes.len() > 1;
        let mut attempt: u32 = 0;
        let mut splits: u32 = 0;
        loop {
            match subscription.as_mut() {
                Some(s) => s.mark_seen(),
                // Other waiters of this process listen on the channel already: join them
                // before the attempt, for free, so a refusal needs no second attempt.
                None if !wait.is_zero() && c.wake_ups => {
                    subscription =
                        wakeup::join_if_listening(&cluster.wakeups, keys.channel(), &waiter);
                }
                None => {}
            }
            if attempt > 0 {
                target = attempt_target(next.take().unwrap_or_else(protocol::new_owner));
                guard.target = Arc::clone(&target);
            }
            guard.armed = true;
            // The plain commands of `ops/quick.rs` for the first attempt of a caller that
            // waits, where nobody is expected to hold the lock: a refusal there does not
            // queue the caller, which subscribes and tries again at once by the script.
            // Retries, single attempts (their error reports the holder's ttl), callers
            // that join waiters of this process, and resources contended lately take the
            // script at once.
            let quick = attempt == 0
                && !wait.is_zero()
                && subscription.is_none()
                && !cluster.contention.contended_lately(resource);
            let registered = grants && subscription.is_some();
            if registered {
                next = Some(protocol::new_owner());
            }
            let attempt_started = Instant::now();
            let result = self
                .attempt(&request(&target, quick, next.clone()), give_up)
                .await;
            // Every attempt that returns has released what it did not keep; a waiter may
            // still be queued, and leaves the queues if dropped while it waits.
            guard.armed = role.leaves_on_give_up();
            let (error, outcome) = match result {
                Ok(lease) => {
                    guard.armed = false;
                    return Ok(lease);
                }
                Err((e, _)) if !e.is_retryable() => return Err(e),
                Err(failed) => failed,
            };
            let now = Instant::now();
            if give_up.is_some_and(|g| now >= g) {
                if role.leaves_on_give_up() {
                    // Leave the wait queues, so that the next release reserves nothing
                    // for a waiter that is gone.
                    let all: Vec<usize> = (0..cluster.nodes.len()).collect();
                    release::clean_up(cluster, &target, &all, true, false).await;
                    guard.armed = false;
                }
                return Err(error);
            }
            let budget = give_up.map_or(Duration::MAX, |g| g.saturating_duration_since(now));
            attempt = attempt.saturating_add(1);
            let (handoff, split) = outcome.map_or((false, false), |o| (o.handoff, o.split));
            if !error.is_busy() {
                let delay = c.retry.delay(attempt - 1, &mut rand::rng()).min(budget);
                tracing::trace!(resource, attempt, ?delay, %error, "retrying");
                tokio::time::sleep(delay).await;
                continue;
            }
            if quick {
                // Refused by the quick commands, which queue nobody: listen, and try again
                // at once by the script, which queues this caller where it belongs.
                if c.wake_ups && subscription.is_none() {
                    subscription =
                        wakeup::subscribe(&cluster.wakeups, target.keys.channel(), &waiter).await;
                }
                continue;
            }
            if c.wake_ups && subscription.is_none() {
                subscription =
                    wakeup::subscribe(&cluster.wakeups, target.keys.channel(), &waiter).await;
                // A release published before we subscribed would be missed: try once
                // more now that we listen (not for a fresh hand-off: it is reserved for a
                // waiter that has been woken).
                if subscription.is_some() && !handoff && !split {
                    continue;
                }
            }
            if split {
                // We won some nodes, others won the rest: contenders that retry in
                // lockstep split again. A random, growing delay breaks the tie (our
                // partial grants are already released).
                splits = splits.saturating_add(1);
                let jitter = protocol::retry::split_jitter(splits, c.retry.max, &mut rand::rng());
                tokio::time::sleep(jitter.min(budget)).await;
                continue;
            }
            // No point sleeping past the moment the holder's key expires.
            let expiry = error
                .holder_ttl()
                .map(|left| left + Duration::from_millis(1));
            match subscription.as_mut() {
                Some(s) => {
                    // Woken by a release, or by a timer for lost messages and for holders
                    // that crashed and whose key simply expires.
                    let fallback = c.wake_up_fallback.mul_f64(rand::random_range(0.5..=1.0));
                    let delay = expiry.map_or(fallback, |e| e.min(fallback)).min(budget);
                    let handed_to_us = tokio::select! {
                        handed = s.woken() => handed,
                        () = tokio::time::sleep(delay) => false,
                    };
                    if let (true, Some(next)) = (handed_to_us, next.as_deref()) {
                        let waited = Waited {
                            target: &target,
                            next,
                            ttl,
                            fencing,
                            started: attempt_started,
                        };
                        if let Some(lease) = self.handed_off(s, &waited).await {
                            guard.armed = false;
                            return Ok(lease);
                        }
                    }
                    if several_nodes && !handed_to_us && splits > 0 {
                        // Everyone was woken at once: spread the stampede.
                        let jitter =
                            protocol::retry::split_jitter(splits, c.retry.max, &mut rand::rng());
                        tokio::time::sleep(jitter.min(budget)).await;
                    }
                }
                None => {
                    let mut delay = c.retry.delay(attempt - 1, &mut rand::rng());
                    if let Some(e) = expiry {
                        delay = delay.min(e);
                    }
                    tokio::time::sleep(delay.min(budget)).await;
                }
            }
        }
    }
}
