//! Waiters are woken by releases instead of polling.
//!
//! Pollers either hammer Redis or add up to a whole retry delay of hand-over latency, and
//! the client that just released, looping straight back, wins again while the others
//! sleep. Here the release script publishes on the resource's channel, naming the waiter
//! it handed the lock to (or nobody, when the lock was simply freed), and with a grant,
//! what the node granted ([`crate::protocol::handoff`]). Each manager keeps one
//! subscriber connection per node, shared by all its waiters, and wakes the named waiter
//! (keeping its grants, node by node, for it to count) or all of its waiters on that
//! channel. A waiter also retries on a timer as a fallback: a lost message, a hand-off to
//! a waiter that is gone, a crashed holder whose key simply expires.
//!
//! Subscriptions are reference-counted per channel: the first waiter subscribes, the last
//! one to leave unsubscribes. Both re-check the channel table under the node's lock, so a
//! late unsubscribe can never undo a newer subscribe. A subscriber connection that breaks
//! wakes every waiter (messages may have been lost) and is re-established, with all live
//! channels, by the next subscription.

mod connection;

use std::collections::HashMap;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;

use crate::config::{Server, Tls};
use crate::node::{PubSubLink, Sink};
use crate::protocol::handoff::{self, Grant, Wake};
use connection::{subscribe_on, unsubscribe};

/// The per-manager state: channels with waiters, and one subscriber per node.
pub(crate) struct Wakeups {
    channels: Mutex<HashMap<String, Channel>>,
    subscribers: Vec<Subscriber>,
    generations: AtomicU64,
}

/// The waiters of this process on one channel, by waiter id.
struct Channel {
    waiters: HashMap<String, Slot>,
    /// The first waiter's SUBSCRIBE went through: releases published from now on reach
    /// the waiters registered here (see [`join_if_listening`]).
    listening: bool,
}

/// One waiter's wake-ups, and the grants published for it.
struct Slot {
    tx: watch::Sender<u64>,
    grants: Arc<Mutex<Vec<Granted>>>,
}

/// A grant by hand-off published for a waiter of this process, as it arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Granted {
    /// The node that granted.
    pub node: usize,
    pub owner: String,
    pub token: u64,
    pub marker_age_ms: Option<u64>,
}

impl Granted {
    /// The grant as [`crate::protocol::handoff`] judges it.
    pub(crate) fn grant(&self) -> Grant<'_> {
        Grant {
            owner: &self.owner,
            token: self.token,
            marker_age_ms: self.marker_age_ms,
        }
    }
}

/// Grants kept per waiter at most: a waiter takes its grants after each wake-up, so more
/// than a few rounds of every node's grant are for attempts long over.
const MAX_GRANTS: usize = 64;

/// Count a wake-up; the low bit records whether the last one was a hand-off to this
/// waiter (`true`) or a free-for-all (`false`).
fn bump(tx: &watch::Sender<u64>, handed_to_us: bool) {
    tx.send_modify(|g| *g = ((*g >> 1).wrapping_add(1) << 1) | u64::from(handed_to_us));
}

impl Slot {
    fn new() -> (Slot, watch::Receiver<u64>, Arc<Mutex<Vec<Granted>>>) {
        let (tx, rx) = watch::channel(0);
        let grants = Arc::new(Mutex::new(Vec::new()));
        let slot = Slot {
            tx,
            grants: Arc::clone(&grants),
        };
        (slot, rx, grants)
    }
}

struct Subscriber {
    link: PubSubLink,
    timeout: Duration,
    /// The live subscriber connection and its generation.
    sink: tokio::sync::Mutex<Option<(Sink, u64)>>,
}

impl Wakeups {
    pub(crate) fn new(
        nodes: impl IntoIterator<Item = (Server, Duration)>,
        tls: Option<Tls>,
    ) -> Self {
        Wakeups {
            channels: Mutex::new(HashMap::new()),
            subscribers: nodes
                .into_iter()
                .map(|(server, timeout)| Subscriber {
                    link: PubSubLink::new(server, tls.clone(), timeout),
                    timeout,
                    sink: tokio::sync::Mutex::new(None),
                })
                .collect(),
            generations: AtomicU64::new(0),
        }
    }

    /// Bump every channel: used when a subscriber connection broke and messages may
    /// have been lost. New waiters no longer count on those channels (they subscribe and
    /// try once more) until all their waiters have left and they are subscribed afresh.
    fn wake_all(&self) {
        if let Ok(mut channels) = self.channels.lock() {
            for channel in channels.values_mut() {
                channel.listening = false;
                channel
                    .waiters
                    .values()
                    .for_each(|slot| bump(&slot.tx, false));
            }
        }
    }

    /// A release on `name` published by node `node`: wake the waiter it was handed to
    /// (with the grant, if it was granted outright), or everyone if it was simply freed.
    fn wake(&self, node: usize, name: &str, payload: &[u8]) {
        let Ok(channels) = self.channels.lock() else {
            return;
        };
        let Some(channel) = channels.get(name) else {
            return;
        };
        match handoff::parse(payload) {
            Wake::Freed => channel
                .waiters
                .values()
                .for_each(|slot| bump(&slot.tx, false)),
            Wake::Reserved { waiter } => {
                if let Some(slot) = channel.waiters.get(waiter) {
                    bump(&slot.tx, true);
                }
            }
            Wake::Granted { waiter, grant } => {
                let Some(slot) = channel.waiters.get(waiter) else {
                    return;
                };
                if let Ok(mut grants) = slot.grants.lock() {
                    if grants.len() >= MAX_GRANTS {
                        grants.remove(0);
                    }
                    grants.push(Granted {
                        node,
                        owner: grant.owner.to_owned(),
                        token: grant.token,
                        marker_age_ms: grant.marker_age_ms,
                    });
                }
                bump(&slot.tx, true);
            }
        }
    }

    fn is_live(&self, name: &str) -> bool {
        self.channels
            .lock()
            .map(|c| c.contains_key(name))
            .unwrap_or(false)
    }

    fn live_channels(&self) -> Vec<String> {
        self.channels
            .lock()
            .map(|c| c.keys().cloned().collect())
            .unwrap_or_default()
    }
}

/// One waiter's registration on a channel. Dropping it leaves the channel.
pub(crate) struct Subscription {
    wakeups: Arc<Wakeups>,
    channel: String,
    owner: String,
    rx: watch::Receiver<u64>,
    grants: Arc<Mutex<Vec<Granted>>>,
}

impl Subscription {
    /// Forget the wake-ups seen so far (call right before an attempt).
    pub(crate) fn mark_seen(&mut self) {
        self.rx.borrow_and_update();
    }

    /// Completes when a release was published since [`Subscription::mark_seen`]; true if
    /// the lock was handed to this waiter, false if it was freed for everyone.
    pub(crate) async fn woken(&mut self) -> bool {
        if self.rx.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
        *self.rx.borrow_and_update() & 1 == 1
    }

    /// The grants published for `owner` (this waiter's current attempt) since the last
    /// call; grants for its earlier attempts are dropped (its next attempt takes such a
    /// key over, see `acquire.lua`).
    pub(crate) fn grants_for(&self, owner: &str) -> Vec<Granted> {
        let Ok(mut grants) = self.grants.lock() else {
            return Vec::new();
        };
        let mut mine = std::mem::take(&mut *grants);
        mine.retain(|g| g.owner == owner);
        mine
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let Ok(mut channels) = self.wakeups.channels.lock() else {
            return;
        };
        let last = match channels.get_mut(&self.channel) {
            Some(channel) => {
                channel.waiters.remove(&self.owner);
                channel.waiters.is_empty()
            }
            None => false,
        };
        if !last {
            return;
        }
        channels.remove(&self.channel);
        drop(channels);
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let wakeups = Arc::clone(&self.wakeups);
            let channel = std::mem::take(&mut self.channel);
            runtime.spawn(async move { unsubscribe(&wakeups, &channel).await });
        }
    }
}

/// Register `owner` as a waiter on `channel`. `None` when no node's subscriber could be
/// reached (the caller then polls).
pub(crate) async fn subscribe(
    wakeups: &Arc<Wakeups>,
    channel: &str,
    owner: &str,
) -> Option<Subscription> {
    let (rx, grants, first) = {
        let mut channels = wakeups.channels.lock().ok()?;
        let entry = channels
            .entry(channel.to_owned())
            .or_insert_with(|| Channel {
                waiters: HashMap::new(),
                listening: false,
            });
        let (slot, rx, grants) = Slot::new();
        entry.waiters.insert(owner.to_owned(), slot);
        (rx, grants, entry.waiters.len() == 1)
    };
    let subscription = Subscription {
        wakeups: Arc::clone(wakeups),
        channel: channel.to_owned(),
        owner: owner.to_owned(),
        rx,
        grants,
    };
    if first {
        let results = futures_util::future::join_all(
            (0..wakeups.subscribers.len()).map(|i| subscribe_on(wakeups, i, channel)),
        )
        .await;
        if !results.into_iter().any(|ok| ok) {
            return None;
        }
        if let Ok(mut channels) = wakeups.channels.lock()
            && let Some(entry) = channels.get_mut(channel)
        {
            entry.listening = true;
        }
    }
    Some(subscription)
}

/// Register `owner` on `channel` without a round trip, if this process already listens
/// there (other waiters subscribed it): `None` otherwise.
///
/// Registered before an attempt, a waiter that is then refused cannot miss a release
/// published in between, so it need not try once more after subscribing (the releaser
/// of each hand-off comes straight back and is refused: that second attempt cost a whole
/// round on every node, and its clean-up, per critical section).
pub(crate) fn join_if_listening(
    wakeups: &Arc<Wakeups>,
    channel: &str,
    owner: &str,
) -> Option<Subscription> {
    let (rx, grants) = {
        let mut channels = wakeups.channels.lock().ok()?;
        let entry = channels.get_mut(channel).filter(|c| c.listening)?;
        let (slot, rx, grants) = Slot::new();
        entry.waiters.insert(owner.to_owned(), slot);
        (rx, grants)
    };
    Some(Subscription {
        wakeups: Arc::clone(wakeups),
        channel: channel.to_owned(),
        owner: owner.to_owned(),
        rx,
        grants,
    })
}
