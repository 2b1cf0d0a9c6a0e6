//! What a lease's holder and its helpers share: state, deadline, and the operation lock.
//!
//! The holder's [`super::Lease`], the work's [`super::LeaseHandle`]s, the renewal task and
//! `lost()` watchers all see one [`LeaseCore`]. Its state lives in a `watch` channel so
//! that every party sees a loss at once, and extend and release are serialised by one
//! lock, so that no extend can reach a node after the release.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::LeaseState;
use crate::cluster::Cluster;
use crate::error::{Error, LostReason};
use crate::ops::Target;
use crate::protocol::renewal as rules;
use crate::release;
use crate::renewal::{Renewable, Renewals};

/// The shared parts of one lease.
pub(crate) struct LeaseCore {
    pub(crate) cluster: Arc<Cluster>,
    pub(crate) renewals: Arc<Renewals<LeaseCore>>,
    pub(crate) target: Arc<Target>,
    /// The fencing token; 0 until one is minted.
    token: AtomicU64,
    /// The ttl renewals extend by: the acquisition's, or the last extend's.
    ttl_ms: AtomicU64,
    pub(crate) state: watch::Sender<LeaseState>,
    /// Release on drop, renew while kept alive.
    armed: AtomicBool,
    /// Serialises extend and release, so that no extend can reach a node after the
    /// release (a renewal in flight finishes first, then sees the lease released).
    pub(crate) ops: tokio::sync::Mutex<()>,
    /// What a passed deadline is reported as: plain expiry, or the renewal's failure
    /// or cap that let it pass.
    expiry_reason: Mutex<LostReason>,
    acquired_at: Instant,
    renewal_count: AtomicU32,
    pub(crate) renewing: AtomicBool,
    /// A description was (or is being) stored: the release removes it too.
    pub(crate) described: AtomicBool,
    /// Someone asked for the fencing token: remembered for the resource's next
    /// acquisition when the lease ends (`minting.rs`).
    pub(crate) token_asked: AtomicBool,
}

impl LeaseCore {
    pub(crate) fn new(
        cluster: Arc<Cluster>,
        renewals: Arc<Renewals<LeaseCore>>,
        target: Arc<Target>,
        token: u64,
        ttl: Duration,
        deadline: Instant,
    ) -> Self {
        let (state, _) = watch::channel(LeaseState::Held { deadline });
        LeaseCore {
            cluster,
            renewals,
            target,
            token: AtomicU64::new(token),
            ttl_ms: AtomicU64::new(crate::ops::millis(ttl)),
            state,
            armed: AtomicBool::new(true),
            ops: tokio::sync::Mutex::new(()),
            expiry_reason: Mutex::new(LostReason::Expired),
            acquired_at: Instant::now(),
            renewal_count: AtomicU32::new(0),
            renewing: AtomicBool::new(false),
            described: AtomicBool::new(false),
            token_asked: AtomicBool::new(false),
        }
    }

    pub(crate) fn state(&self) -> LeaseState {
        *self.state.borrow()
    }

    pub(crate) fn resource(&self) -> &str {
        self.target.resource()
    }

    /// The fencing token, once minted (at acquisition, or on demand).
    pub(crate) fn minted_token(&self) -> Option<u64> {
        Some(self.token.load(Ordering::Acquire)).filter(|&t| t != 0)
    }

    pub(crate) fn set_token(&self, token: u64) {
        self.token.store(token, Ordering::Release);
    }

    /// The ttl renewals extend by.
    pub(crate) fn ttl(&self) -> Duration {
        Duration::from_millis(self.ttl_ms.load(Ordering::Relaxed))
    }

    pub(super) fn set_ttl(&self, ttl: Duration) {
        self.ttl_ms
            .store(crate::ops::millis(ttl), Ordering::Relaxed);
    }

    pub(crate) fn is_armed(&self) -> bool {
        self.armed.load(Ordering::Relaxed)
    }

    /// No longer released on drop nor renewed; returns whether it was armed.
    pub(crate) fn disarm(&self) -> bool {
        self.armed.swap(false, Ordering::Relaxed)
    }

    pub(crate) fn expiry_reason(&self) -> LostReason {
        self.expiry_reason
            .lock()
            .map(|r| *r)
            .unwrap_or(LostReason::Expired)
    }

    /// The deadline passed: lost, for the reason the renewal recorded (if any). Checked
    /// against the deadline in force *now*: a caller that read an older deadline (a
    /// `lost()` timer, the renewal schedule) must not override an extend that moved it.
    pub(crate) fn mark_expired(&self) {
        let reason = self.expiry_reason();
        let now = Instant::now();
        self.state.send_if_modified(|state| match state {
            LeaseState::Held { deadline } if *deadline <= now => {
                *state = LeaseState::Lost(reason);
                true
            }
            _ => false,
        });
    }

    /// Move from held to lost; no effect on a lease already released or lost.
    pub(crate) fn mark_lost(&self, reason: LostReason) {
        self.state.send_if_modified(|state| {
            if matches!(state, LeaseState::Held { .. }) {
                *state = LeaseState::Lost(reason);
                true
            } else {
                false
            }
        });
    }

    /// Move a held lease to a new deadline; false if it was released or lost meanwhile.
    pub(crate) fn move_deadline(&self, deadline: Instant) -> bool {
        self.state.send_if_modified(|state| {
            if matches!(state, LeaseState::Held { .. }) {
                *state = LeaseState::Held { deadline };
                true
            } else {
                false
            }
        })
    }

    pub(crate) fn lost_error(&self, reason: LostReason) -> Error {
        Error::lost(self.target.resource(), reason)
    }

    /// Release on every node, after any extend in flight.
    pub(crate) async fn release(&self) -> Result<(), Error> {
        if self.cluster.chooses_minting() {
            let asked = self.token_asked.load(Ordering::Relaxed);
            self.cluster.tokens_asked.note(self.resource(), asked);
        }
        let _op = self.ops.lock().await;
        let described = self.described.load(Ordering::Acquire);
        release::everywhere(&self.cluster, &self.target, false, described)
            .await
            .map(|_| ())
    }

    /// Extend by `ttl` under the operation lock; the ttl becomes the lease's renewal ttl.
    pub(crate) async fn extend_locked(&self, ttl: Duration) -> Result<u64, Error> {
        let _op = self.ops.lock().await;
        self.extend(ttl, false).await
    }
}

impl Renewable for LeaseCore {
    fn managed_deadline(&self) -> Option<Instant> {
        match self.state() {
            LeaseState::Held { deadline } if self.is_armed() => Some(deadline),
            _ => None,
        }
    }

    fn interval(&self) -> Duration {
        rules::interval(self.ttl(), self.cluster.config.renewal.fraction)
    }

    fn cap_reached(&self, now: Instant) -> bool {
        let renewal = &self.cluster.config.renewal;
        rules::cap_reached(
            self.renewal_count.load(Ordering::Relaxed),
            renewal.max_renewals,
            now.saturating_duration_since(self.acquired_at),
            renewal.max_hold,
        )
    }

    fn set_expiry_reason(&self, reason: LostReason) {
        if let Ok(mut r) = self.expiry_reason.lock() {
            *r = reason;
        }
    }

    fn mark_expired(&self) {
        LeaseCore::mark_expired(self);
    }

    fn is_lost(&self) -> bool {
        matches!(self.state(), LeaseState::Lost(_))
    }

    fn resource(&self) -> &str {
        LeaseCore::resource(self)
    }

    /// One renewal: extend by the lease's ttl, unless it was released, forgotten or lost
    /// meanwhile (checked under the operation lock that release takes too).
    async fn renew(&self) -> Result<(), Error> {
        let _op = self.ops.lock().await;
        match self.state() {
            LeaseState::Held { .. } if self.is_armed() => {}
            LeaseState::Lost(reason) => return Err(self.lost_error(reason)),
            _ => return Err(self.lost_error(LostReason::Released)),
        }
        self.extend(self.ttl(), true).await?;
        self.renewal_count.fetch_add(1, Ordering::Relaxed);
        self.set_expiry_reason(LostReason::Expired);
        Ok(())
    }
}
