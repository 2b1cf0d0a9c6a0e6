//! The lock manager: acquisition, with retries, over all nodes.
//!
//! One attempt follows `docs/protocol.md`: note the time, send the acquire script to every
//! node at once, count the votes as they arrive, and decide as soon as the outcome is
//! certain. A won vote still has to leave validity (`ttl - elapsed - drift`) and, when
//! fencing tokens are minted, needs a second round that records the token on a quorum.
//! A failed attempt releases whatever it may have taken on every node before the next
//! attempt, which waits a jittered, growing delay (cut short when the holder's TTL is
//! about to run out). The whole retry loop stays within the caller's wait budget plus one
//! node timeout.

use std::fmt;
use std::future::Future;

use futures_util::FutureExt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::config::{self, Builder, Config};
use crate::error::{Error, NodeError, NodeFailure, NodeName};
use crate::lease::{Lease, LeaseCore, LeaseHandle};
use crate::node::Node;
use crate::protocol::{self, Decision, Keys, Tally, Vote};
use crate::renewal::{Counters, RenewalStats, Renewer};
use crate::round::{Background, Request, Round, Target};
use crate::scripts::{self, AcquireReply, StatusReply};
use crate::wakeup::{self, Subscription, Wakeups};

/// Hands out leases on resources, over one or more Redis nodes.
///
/// Cheap to clone (an `Arc` inside) and safe to share between tasks; all clones use the
/// same connection per node.
///
/// ```no_run
/// # async fn example() -> Result<(), redlease::Error> {
/// use std::time::Duration;
/// let manager = redlease::LockManager::builder()
///     .servers(["redis://127.0.0.1:6379"])
///     .ttl(Duration::from_secs(10))
///     .build()
///     .await?;
/// let mut lease = manager.acquire("orders:42").await?;
/// println!("fencing token {}", lease.fencing_token());
/// lease.extend(Duration::from_secs(10)).await?;
/// lease.release().await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct LockManager {
    pub(crate) shared: Arc<Shared>,
}

/// What every clone of a manager (and every lease) shares.
pub(crate) struct Shared {
    pub config: Config,
    pub nodes: Vec<Node>,
    /// The renewal task, started on the first `keep_alive`.
    renewer: Mutex<Option<Renewer>>,
    renewal_counters: Arc<Counters>,
    pub wakeups: Wakeups,
    /// The node marker key for delayed restart, when enabled (and N > 1).
    pub marker: Option<String>,
    /// Work left running in the background.
    pub background: Arc<Background>,
}

impl Shared {
    /// Hand a lease to the renewal task, starting (or restarting) it if needed. False
    /// when there is no runtime to run it on.
    pub(crate) fn renew(&self, lease: Arc<LeaseCore>) -> bool {
        let Ok(mut renewer) = self.renewer.lock() else {
            return false;
        };
        if let Some(r) = renewer.as_ref()
            && r.register(Arc::clone(&lease))
        {
            return true;
        }
        *renewer = Renewer::spawn(Arc::clone(&self.renewal_counters));
        renewer.as_ref().is_some_and(|r| r.register(lease))
    }

    pub(crate) fn quorum(&self) -> usize {
        protocol::quorum(self.nodes.len())
    }

    pub(crate) fn drift(&self, ttl: Duration) -> Duration {
        protocol::drift(ttl, self.config.drift_factor)
    }
}

impl fmt::Debug for LockManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.shared.config;
        f.debug_struct("LockManager")
            .field("servers", &c.servers)
            .field("ttl", &c.ttl)
            .field("wait", &c.wait)
            .field("node_timeout", &c.node_timeout)
            .field("drift_factor", &c.drift_factor)
            .field("key_prefix", &c.key_prefix)
            .field("max_ttl", &c.max_ttl)
            .field("fencing", &c.fencing)
            .finish()
    }
}

impl Builder {
    /// Validate the options, connect to the nodes that answer (the others are retried
    /// on use) and return the manager.
    ///
    /// Fails only on invalid configuration: nodes that are down at start-up are failed
    /// votes later, not a start-up error.
    pub async fn build(self) -> Result<LockManager, Error> {
        let config = self.validate()?;
        let nodes = config
            .servers
            .iter()
            .enumerate()
            .map(|(i, server)| Node::new(i, server, config.node_timeout))
            .collect::<Result<Vec<_>, _>>()?;
        futures_util::future::join_all(nodes.iter().map(Node::warm_up)).await;
        let marker = (config.delayed_restart && nodes.len() > 1)
            .then(|| format!("{}marker:born", config.key_prefix));
        let wakeups = Wakeups::new(
            nodes
                .iter()
                .map(|node| (node.client().clone(), config.node_timeout)),
        );
        Ok(LockManager {
            shared: Arc::new(Shared {
                config,
                nodes,
                renewer: Mutex::new(None),
                renewal_counters: Arc::default(),
                wakeups,
                marker,
                background: Arc::default(),
            }),
        })
    }
}

/// Releases an acquisition's keys if its future is dropped in the middle of an attempt.
struct DropCleanup {
    shared: Arc<Shared>,
    request: Arc<Request>,
    armed: bool,
}

impl Drop for DropCleanup {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let round = Round::start(
            &self.shared,
            0..self.shared.nodes.len(),
            &scripts::RELEASE,
            &self.request,
            |v| scripts::parse_flag("release", v).map_err(|e| NodeError::Protocol(e.to_string())),
        );
        round.detach();
    }
}

/// What a failed attempt saw, for deciding how to wait.
#[derive(Default)]
struct Seen {
    /// Some node held a hand-off reservation for another waiter.
    handoff: bool,
    /// We won some nodes but not a quorum: a split vote.
    split: bool,
}

/// Base of the random delay after split votes.
const SPLIT_JITTER_BASE: Duration = Duration::from_millis(1);

/// How a failed attempt cleans up after itself.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Cleanup {
    /// Release before returning: another attempt follows.
    Await,
    /// Release in the background: the caller is out of time.
    Background,
}

impl LockManager {
    /// Start configuring a manager.
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// The default lease ttl.
    pub fn ttl(&self) -> Duration {
        self.shared.config.ttl
    }

    /// How long [`LockManager::acquire`] retries.
    pub fn wait(&self) -> Duration {
        self.shared.config.wait
    }

    /// Number of nodes.
    pub fn nodes(&self) -> usize {
        self.shared.nodes.len()
    }

    /// Nodes needed for a quorum.
    pub fn quorum(&self) -> usize {
        self.shared.quorum()
    }

    /// What background renewal has done so far: leases scheduled, renewals, failures,
    /// late starts and the worst lateness, leases lost. For monitoring.
    pub fn renewal_stats(&self) -> RenewalStats {
        self.shared.renewal_counters.snapshot()
    }

    /// Wait, at most `limit`, for the work this manager left running in the background:
    /// clean-up releases after failed or abandoned attempts, releases of dropped leases,
    /// replies still in flight. A short-lived process (a CLI call, a cron job) should call
    /// it before exiting, or that work dies with the runtime and the keys it would have
    /// released stay until their ttl. Returns true when everything finished.
    pub async fn flush(&self, limit: Duration) -> bool {
        self.shared.background.idle(limit).await
    }

    /// The per-node timeout in force.
    pub fn node_timeout(&self) -> Duration {
        self.shared.config.node_timeout
    }

    /// Acquire `resource`, retrying with jittered backoff until the configured wait
    /// budget is spent. Errors: busy, unavailable or validity spent (the last attempt's
    /// outcome), or an invalid resource name.
    pub async fn acquire(&self, resource: &str) -> Result<Lease, Error> {
        self.acquire_for(resource, self.shared.config.ttl, self.shared.config.wait)
            .await
    }

    /// Make exactly one attempt to acquire `resource`.
    pub async fn try_acquire(&self, resource: &str) -> Result<Lease, Error> {
        self.acquire_for(resource, self.shared.config.ttl, Duration::ZERO)
            .await
    }

    /// Acquire `resource` with a ttl and wait budget for this call only.
    /// `wait` of zero makes one attempt; `Duration::MAX` retries forever.
    ///
    /// While the resource is held by someone else, the call waits for the holder's
    /// release to be published (see `wake_ups`), or for the holder's key to expire, rather
    /// than polling; other failures (nodes unreachable) are retried after a jittered,
    /// growing delay.
    pub async fn acquire_for(
        &self,
        resource: &str,
        ttl: Duration,
        wait: Duration,
    ) -> Result<Lease, Error> {
        config::check_resource(resource)?;
        let c = &self.shared.config;
        config::check_ttl("ttl", ttl, c.max_ttl, c.drift_factor)?;
        let target = Arc::new(Target {
            resource: resource.to_owned(),
            owner: protocol::new_owner(),
            keys: Keys::new(&c.key_prefix, resource),
        });
        // Only callers that wait, with hand-off on, join the queue.
        let role = if wait.is_zero() || c.handoff.is_zero() {
            "try"
        } else {
            "wait"
        };
        // Queue position for fair hand-off (wall clock: comparable across hosts; only the
        // order of waiters depends on it).
        let since = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis());
        let mint = if self.mints_in_one_round() {
            "mint"
        } else {
            ""
        };
        let request = Request::new(
            &target,
            vec![
                ttl.as_millis().to_string(),
                role.to_owned(),
                since.to_string(),
                mint.to_owned(),
            ],
        );
        let mut subscription: Option<Subscription> = None;
        // If this future is dropped mid-attempt (a timeout, a select), keys it may already
        // hold are released in the background instead of lingering for the ttl.
        let mut guard = DropCleanup {
            shared: Arc::clone(&self.shared),
            request: Request::new(&target, vec![target.keys.channel.clone(), "0".to_owned()]),
            armed: true,
        };
        let give_up = Instant::now().checked_add(wait);
        let several_nodes = self.shared.nodes.len() > 1;
        let mut attempt: u32 = 0;
        let mut splits: u32 = 0;
        loop {
            if let Some(s) = subscription.as_mut() {
                s.mark_seen();
            }
            guard.armed = true;
            let mut seen = Seen::default();
            let outcome = self.attempt(&request, ttl, give_up, &mut seen).await;
            // Every attempt that returns has released what it did not keep.
            guard.armed = false;
            let error = match outcome {
                Ok(lease) => return Ok(lease),
                Err(e) if !e.is_retryable() => return Err(e),
                Err(e) => e,
            };
            let now = Instant::now();
            if give_up.is_some_and(|g| now >= g) {
                return Err(error);
            }
            let budget = give_up.map_or(Duration::MAX, |g| g.saturating_duration_since(now));
            attempt = attempt.saturating_add(1);
            let Error::Busy { holder_ttl, .. } = &error else {
                let delay = c.retry.delay(attempt - 1, &mut rand::rng()).min(budget);
                tracing::trace!(resource, attempt, ?delay, %error, "retrying");
                tokio::time::sleep(delay).await;
                continue;
            };
            if c.wake_ups && subscription.is_none() {
                subscription =
                    wakeup::subscribe(&self.shared, &target.keys.channel, &target.owner).await;
                // A release published before we subscribed would be missed: try once
                // more now that we listen (not for a fresh hand-off: it is reserved for a
                // waiter that has been woken).
                if subscription.is_some() && !seen.handoff && !seen.split {
                    continue;
                }
            }
            if seen.split {
                // We won some nodes, others won the rest: contenders that retry in
                // lockstep split again. A random, growing delay breaks the tie (our
                // partial grants are already released).
                splits = splits.saturating_add(1);
                tokio::time::sleep(self.split_jitter(splits).min(budget)).await;
                continue;
            }
            // No point sleeping past the moment the holder's key expires.
            let expiry = holder_ttl.map(|left| left + Duration::from_millis(1));
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
                    if several_nodes && !handed_to_us && splits > 0 {
                        // Everyone was woken at once: spread the stampede.
                        let jitter = self.split_jitter(splits);
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

    /// With one node, its counter is the whole quorum: the acquire script mints the token
    /// itself and the second round is not needed.
    fn mints_in_one_round(&self) -> bool {
        self.shared.config.fencing && self.shared.nodes.len() == 1
    }

    /// A random delay in `[0, min(1 ms * 2^splits, retry.max)]` after split votes.
    fn split_jitter(&self, splits: u32) -> Duration {
        let ceiling = SPLIT_JITTER_BASE
            .saturating_mul(1u32.checked_shl(splits.min(20)).unwrap_or(u32::MAX))
            .min(self.shared.config.retry.max);
        ceiling.mul_f64(rand::random_range(0.0..=1.0))
    }

    /// One attempt: vote, check validity, mint a fencing token if configured.
    async fn attempt(
        &self,
        request: &Arc<Request>,
        ttl: Duration,
        give_up: Option<Instant>,
        seen: &mut Seen,
    ) -> Result<Lease, Error> {
        let shared = &self.shared;
        let n = shared.nodes.len();
        let fencing = shared.config.fencing;
        let resource = &request.target.resource;
        // Validity is measured from before the first request: a node may start the key's
        // TTL the moment it receives it.
        let start = Instant::now();
        let mut round = Round::start(shared, 0..n, &scripts::ACQUIRE, request, |v| {
            AcquireReply::parse(v).map_err(|e| crate::NodeError::Protocol(e.to_string()))
        });
        let mut tally = Tally::new(n);
        let mut granted = Vec::with_capacity(n);
        let mut refused = vec![false; n];
        let mut busy = Vec::new();
        let mut failures = Vec::new();
        let mut holder_ttl: Option<Duration> = None;
        let mut highest_fence = 0u64;
        // Delayed restart: grants from nodes with a young marker wait (as pending votes)
        // until we know whether an older node shows they came back empty.
        let max_ttl = shared.config.max_ttl;
        let slack = protocol::restart_slack(shared.config.node_timeout);
        let mut oldest = Duration::ZERO;
        let mut young: Vec<(usize, Duration)> = Vec::new();
        let mut markers: Vec<(usize, Duration, Instant)> = Vec::new();
        let mut everyone_answered = true;
        while let Some((i, result)) = round.next().await {
            match result {
                Ok(reply) => {
                    highest_fence = highest_fence.max(reply.fence);
                    let age = reply.marker_age_ms.map(Duration::from_millis);
                    oldest = oldest.max(age.unwrap_or_default());
                    let seen_at = Instant::now();
                    if let Some(age) = age {
                        markers.push((i, age, seen_at));
                    }
                    if reply.granted {
                        match age {
                            Some(age)
                                if age < max_ttl
                                    && !shared.nodes[i].marker_trusted(age, seen_at, slack) =>
                            {
                                young.push((i, age))
                            }
                            _ => {
                                tally.record(Vote::Yes);
                                granted.push(i);
                            }
                        }
                    } else {
                        tally.record(Vote::No);
                        refused[i] = true;
                        seen.handoff |= reply.handoff;
                        busy.push(shared.nodes[i].name().clone());
                        if let Some(ms) = reply.holder_pttl_ms {
                            let left = Duration::from_millis(ms);
                            holder_ttl = Some(holder_ttl.map_or(left, |h| h.min(left)));
                        }
                    }
                }
                Err(e) => {
                    tally.record(Vote::Failed);
                    failures.push(shared.nodes[i].failure(e));
                }
            }
            young.retain(|&(i, age)| {
                let back = protocol::held_back(age, oldest, max_ttl, slack);
                if back {
                    tally.record(Vote::Failed);
                    failures
                        .push(shared.nodes[i].failure(crate::NodeError::HeldBack { age, max_ttl }));
                }
                !back
            });
            let stop = match tally.decision() {
                Decision::Lost => true,
                // The token must be one above the counter of *every* node that answers in
                // time, so a fenced acquisition waits for the stragglers (each bounded by
                // the node timeout); an unfenced one returns at once.
                Decision::Won => !fencing,
                Decision::Pending => false,
            };
            if stop {
                everyone_answered = false;
                break;
            }
        }
        round.detach();
        if everyone_answered {
            // No answer showed an older marker: young grants count (a new deployment).
            for (i, _) in young {
                tally.record(Vote::Yes);
                granted.push(i);
            }
            // Every node answered, none held back: their markers are trusted, and later
            // rounds need not wait for everyone before counting their grants (until a
            // node shows a different marker, i.e. lost its data).
            if tally.failed() == 0 {
                for (i, age, seen_at) in markers {
                    shared.nodes[i].trust_marker(age, seen_at);
                }
            }
        }
        let cleanup = if give_up.is_some_and(|g| Instant::now() >= g) {
            Cleanup::Background
        } else {
            Cleanup::Await
        };
        if tally.decision() != Decision::Won {
            seen.split = tally.yes() > 0;
            self.release_where(request, &refused, cleanup).await;
            return Err(if tally.answered() < shared.quorum() {
                Error::Unavailable {
                    resource: resource.clone(),
                    answered: tally.answered(),
                    quorum: shared.quorum(),
                    total: n,
                    failures,
                }
            } else {
                Error::Busy {
                    resource: resource.clone(),
                    busy,
                    total: n,
                    failures,
                    holder_ttl,
                }
            });
        }

        let drift = shared.drift(ttl);
        let spent = |start: Instant| Error::ValiditySpent {
            resource: resource.clone(),
            elapsed: start.elapsed(),
            ttl,
            drift,
        };
        if protocol::validity(ttl, start.elapsed(), drift).is_none() {
            self.release_where(request, &refused, cleanup).await;
            return Err(spent(start));
        }

        let token = if fencing && self.mints_in_one_round() {
            // The single node minted it atomically with the grant.
            highest_fence
        } else if fencing {
            // Saturating at u64::MAX would take 2^64 acquisitions of one resource.
            let token = protocol::fencing_token([highest_fence]).unwrap_or(u64::MAX);
            match self.record_token(request, token, &granted).await {
                Ok(()) => token,
                Err(failures) => {
                    self.release_where(request, &refused, cleanup).await;
                    return Err(Error::Unavailable {
                        resource: resource.clone(),
                        answered: n - failures.len(),
                        quorum: shared.quorum(),
                        total: n,
                        failures,
                    });
                }
            }
        } else {
            0
        };
        // The fence round took time too: the token only counts inside the validity.
        if protocol::validity(ttl, start.elapsed(), drift).is_none() {
            self.release_where(request, &refused, cleanup).await;
            return Err(spent(start));
        }
        let deadline = start + ttl - drift;
        Ok(Lease::new(
            Arc::clone(shared),
            Arc::clone(&request.target),
            token,
            ttl,
            deadline,
        ))
    }

    /// Second round of a fenced acquisition: raise the counter to `token` on the nodes
    /// that granted, where the lock is still ours. Needs a quorum.
    async fn record_token(
        &self,
        request: &Arc<Request>,
        token: u64,
        granted: &[usize],
    ) -> Result<(), Vec<NodeFailure>> {
        let shared = &self.shared;
        let n = shared.nodes.len();
        let fence_request = Request::new(&request.target, vec![token.to_string()]);
        let round = Round::start(
            shared,
            granted.iter().copied(),
            &scripts::FENCE,
            &fence_request,
            |v| {
                scripts::parse_flag("fence", v)
                    .map_err(|e| crate::NodeError::Protocol(e.to_string()))
            },
        );
        let mut tally = Tally::new(n);
        // Nodes that did not grant cannot confirm.
        (0..n - granted.len()).for_each(|_| tally.record(Vote::No));
        let mut lost_there = Vec::new();
        let mut failures = round
            .decide(&mut tally, |i, recorded| {
                if recorded {
                    Vote::Yes
                } else {
                    lost_there.push(i);
                    Vote::No
                }
            })
            .await;
        failures.extend(lost_there.into_iter().map(|i| {
            shared.nodes[i].failure(crate::NodeError::Protocol(
                "lock no longer held there when recording the fencing token".into(),
            ))
        }));
        if tally.decision() == Decision::Won {
            Ok(())
        } else {
            Err(failures)
        }
    }

    /// Release on every node that did not refuse (a refusing node holds nothing of ours;
    /// every other node may, including those that timed out).
    async fn release_where(&self, request: &Arc<Request>, refused: &[bool], cleanup: Cleanup) {
        let targets: Vec<usize> = (0..refused.len()).filter(|&i| !refused[i]).collect();
        if targets.is_empty() {
            return;
        }
        // A failed attempt's partial grants are freed for everyone, not handed off: a
        // hand-off here could keep re-creating the same split vote.
        let release = Request::new(
            &request.target,
            vec![request.target.keys.channel.clone(), "0".to_owned()],
        );
        let mut round = Round::start(&self.shared, targets, &scripts::RELEASE, &release, |v| {
            scripts::parse_flag("release", v).map_err(|e| crate::NodeError::Protocol(e.to_string()))
        });
        if cleanup == Cleanup::Await {
            while round.next().await.is_some() {}
        }
        round.detach();
    }

    /// Run `work` while holding `resource`: acquire (within the wait budget), keep the
    /// lease renewed while the work runs, release afterwards.
    ///
    /// If the lease is lost while the work runs, the work future is dropped (it is not
    /// polled again) and the `lost` error is returned: code after an `.await` in the work
    /// never runs without the lease. The work gets a [`LeaseHandle`] to read its fencing
    /// token. The lease is released also when the work panics (the panic then continues).
    ///
    /// ```no_run
    /// # async fn example(manager: redlease::LockManager) -> Result<(), redlease::Error> {
    /// let rows = manager
    ///     .with_lock("reports:nightly", |lease| async move {
    ///         // write with lease.fencing_token() to a fenced store...
    ///         lease.fencing_token()
    ///     })
    ///     .await?;
    /// # let _ = rows; Ok(()) }
    /// ```
    pub async fn with_lock<F, Fut, T>(&self, resource: &str, work: F) -> Result<T, Error>
    where
        F: FnOnce(LeaseHandle) -> Fut,
        Fut: Future<Output = T>,
    {
        let lease = self.acquire(resource).await?;
        if let Err(e) = lease.keep_alive() {
            let _ = lease.release().await;
            return Err(e);
        }
        let lost = lease.lost();
        let work = std::panic::AssertUnwindSafe(work(lease.handle())).catch_unwind();
        let outcome = tokio::select! {
            done = work => Ok(done),
            reason = lost => Err(reason),
        };
        // Released in every case; a lost lease's keys may still sit on some nodes.
        if let Err(e) = lease.release().await {
            tracing::warn!(resource, error = %e, "release after with_lock failed; the keys expire by their ttl");
        }
        match outcome {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(panic)) => std::panic::resume_unwind(panic),
            Err(reason) => Err(Error::Lost {
                resource: resource.to_owned(),
                reason,
            }),
        }
    }

    /// Release `resource` for `owner` on every node, for callers that kept only the owner
    /// (such as the `redlease release` command). Returns whether any node still held it
    /// for that owner. Idempotent.
    pub async fn release_owner(&self, resource: &str, owner: &str) -> Result<bool, Error> {
        config::check_resource(resource)?;
        check_owner(owner)?;
        let target = self.target(resource, owner);
        let (held, _, _) = release_everywhere(&self.shared, &target).await?;
        Ok(held > 0)
    }

    /// Extend `resource` for `owner` to `ttl`, for callers that kept only the owner (such
    /// as the `redlease extend` command). The returned lease carries the fencing counter
    /// seen on the confirming nodes; it is not renewed and not released on drop (see
    /// [`Lease::forget`]).
    pub async fn extend_owner(
        &self,
        resource: &str,
        owner: &str,
        ttl: Duration,
    ) -> Result<Lease, Error> {
        config::check_resource(resource)?;
        check_owner(owner)?;
        let c = &self.shared.config;
        config::check_ttl("ttl", ttl, c.max_ttl, c.drift_factor)?;
        let lease = Lease::new(
            Arc::clone(&self.shared),
            self.target(resource, owner),
            0,
            ttl,
            // Unknown: the extend below sets it, or reports loss.
            Instant::now().checked_add(ttl).unwrap_or_else(Instant::now),
        );
        lease.disarm();
        let token = lease.extend_inner(ttl).await?;
        lease.set_token(token);
        Ok(lease)
    }

    /// Each node's delayed-restart marker age (on the node's own clock): `None` when the
    /// node has no marker yet. A node whose marker is younger than `max_ttl` while others
    /// are older is held back (see [`Builder::delayed_restart`]).
    pub async fn node_markers(&self) -> Vec<(NodeName, Result<Option<Duration>, NodeError>)> {
        self.marker_op("age").await
    }

    /// Operator action: delete every node's marker, so that the deployment counts as new
    /// and no node is held back. Only when no lease is outstanding (e.g. a fresh start).
    pub async fn reset_node_markers(&self) -> Vec<(NodeName, Result<Option<Duration>, NodeError>)> {
        self.marker_op("reset").await
    }

    /// Operator action: mark every reachable node as ready (its marker back-dated by
    /// `max_ttl`), so none is held back. Use when you know the nodes kept their data, or
    /// were down for longer than `max_ttl`.
    pub async fn mark_nodes_ready(&self) -> Vec<(NodeName, Result<Option<Duration>, NodeError>)> {
        self.marker_op("ready").await
    }

    async fn marker_op(&self, op: &str) -> Vec<(NodeName, Result<Option<Duration>, NodeError>)> {
        let shared = &self.shared;
        let key = format!("{}marker:born", shared.config.key_prefix);
        let max_ttl = shared.config.max_ttl.as_millis().to_string();
        let calls = shared.nodes.iter().map(|node| {
            let (key, max_ttl) = (&key, &max_ttl);
            async move {
                let reply = node
                    .eval(
                        &scripts::MARKER,
                        &[key.as_str()],
                        op,
                        std::slice::from_ref(max_ttl),
                    )
                    .await
                    .and_then(|v| match v {
                        redis::Value::Int(ms) => {
                            Ok(u64::try_from(ms).ok().map(Duration::from_millis))
                        }
                        _ => Err(NodeError::Protocol(
                            "unexpected reply from marker script".into(),
                        )),
                    });
                (node.name().clone(), reply)
            }
        });
        futures_util::future::join_all(calls).await
    }

    /// What each node says about `resource`: holder, remaining ttl, fencing counter.
    pub async fn status(&self, resource: &str) -> Result<Status, Error> {
        config::check_resource(resource)?;
        let request = Request::new(&self.target(resource, ""), Vec::new());
        let shared = &self.shared;
        let mut round = Round::start(
            shared,
            0..shared.nodes.len(),
            &scripts::STATUS,
            &request,
            |v| StatusReply::parse(v).map_err(|e| crate::NodeError::Protocol(e.to_string())),
        );
        let mut nodes: Vec<NodeStatus> = shared
            .nodes
            .iter()
            .map(|node| NodeStatus {
                node: node.name().clone(),
                reply: Err(crate::NodeError::Timeout(shared.config.node_timeout)),
            })
            .collect();
        while let Some((i, result)) = round.next().await {
            nodes[i].reply = result;
        }
        Ok(Status::from_nodes(resource, shared.quorum(), nodes))
    }

    fn target(&self, resource: &str, owner: &str) -> Arc<Target> {
        Arc::new(Target {
            resource: resource.to_owned(),
            owner: owner.to_owned(),
            keys: Keys::new(&self.shared.config.key_prefix, resource),
        })
    }
}

/// Release on all nodes and wait for their answers (each bounded by the node timeout).
/// Returns (nodes where it was held and deleted, nodes that answered, failures), or
/// `unavailable` when fewer than a quorum answered.
pub(crate) async fn release_everywhere(
    shared: &Arc<Shared>,
    target: &Arc<Target>,
) -> Result<(usize, usize, Vec<NodeFailure>), Error> {
    let n = shared.nodes.len();
    let request = release_request(shared, target);
    let mut round = Round::start(shared, 0..n, &scripts::RELEASE, &request, |v| {
        scripts::parse_flag("release", v).map_err(|e| crate::NodeError::Protocol(e.to_string()))
    });
    let (mut held, mut answered, mut failures) = (0, 0, Vec::new());
    while let Some((i, result)) = round.next().await {
        match result {
            Ok(deleted) => {
                answered += 1;
                held += usize::from(deleted);
            }
            Err(e) => failures.push(shared.nodes[i].failure(e)),
        }
    }
    if answered < shared.quorum() {
        return Err(Error::Unavailable {
            resource: target.resource.clone(),
            answered,
            quorum: shared.quorum(),
            total: n,
            failures,
        });
    }
    Ok((held, answered, failures))
}

/// Release arguments: the channel to wake waiters on, and the hand-off window.
fn release_request(shared: &Shared, target: &Arc<Target>) -> Arc<Request> {
    let handoff = shared.config.handoff.as_millis().to_string();
    Request::new(target, vec![target.keys.channel.clone(), handoff])
}

fn check_owner(owner: &str) -> Result<(), Error> {
    let well_formed = owner.len() == 32 && owner.bytes().all(|b| b.is_ascii_hexdigit());
    if !well_formed {
        return Err(Error::invalid(
            "owner",
            owner,
            "is not an owner value",
            "the 32 hex digits printed when the lease was acquired",
        ));
    }
    Ok(())
}

/// What the nodes say about one resource, from [`LockManager::status`].
#[derive(Debug, Clone)]
pub struct Status {
    /// The resource.
    pub resource: String,
    /// The owner holding it on a quorum of nodes, if any.
    pub holder: Option<String>,
    /// The holder's remaining ttl: the quorum-th largest among the nodes holding it.
    pub remaining: Option<Duration>,
    /// The highest fencing counter any node reported.
    pub last_fencing_token: u64,
    /// Each node's view.
    pub nodes: Vec<NodeStatus>,
}

/// One node's view of a resource.
#[derive(Debug, Clone)]
pub struct NodeStatus {
    /// The node.
    pub node: NodeName,
    /// Its answer, or why there was none.
    pub reply: Result<StatusReply, crate::NodeError>,
}

impl Status {
    fn from_nodes(resource: &str, quorum: usize, nodes: Vec<NodeStatus>) -> Self {
        let mut owners: Vec<&str> = nodes
            .iter()
            .filter_map(|n| n.reply.as_ref().ok()?.owner.as_deref())
            .collect();
        owners.sort_unstable();
        let holder = owners
            .chunk_by(|a, b| a == b)
            .find(|group| group.len() >= quorum)
            .and_then(|group| group.first())
            .map(|s| (*s).to_owned());
        let remaining = holder.as_deref().and_then(|h| {
            let mut ttls: Vec<u64> = nodes
                .iter()
                .filter_map(|n| n.reply.as_ref().ok())
                .filter(|r| r.owner.as_deref() == Some(h))
                .filter_map(|r| r.pttl_ms)
                .collect();
            ttls.sort_unstable_by(|a, b| b.cmp(a));
            ttls.get(quorum - 1).map(|ms| Duration::from_millis(*ms))
        });
        let last_fencing_token = nodes
            .iter()
            .filter_map(|n| n.reply.as_ref().ok().map(|r| r.fence))
            .max()
            .unwrap_or(0);
        Status {
            resource: resource.to_owned(),
            holder,
            remaining,
            last_fencing_token,
            nodes,
        }
    }
}
