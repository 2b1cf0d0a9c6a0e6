//! The subscriber connections: one per node, shared by all the waiters of a manager.
//!
//! Split from the channel table (`mod.rs`) because their life is their own: a connection
//! is made by the first subscription, dispatches every message of its node to the table,
//! is probed while anyone waits (a half-open connection sends nothing, not even a reset),
//! and is replaced when it breaks, re-subscribed to every live channel.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::Duration;

use super::{Subscriber, Wakeups};
use crate::node::{Event, Messages, Sink};

/// Subscribe `channel` on node `index`, connecting its subscriber first if needed.
pub(super) async fn subscribe_on(wakeups: &Arc<Wakeups>, index: usize, channel: &str) -> bool {
    let Some(subscriber) = wakeups.subscribers.get(index) else {
        return false;
    };
    let work = async {
        let mut slot = subscriber.sink.lock().await;
        if let Some((sink, _)) = slot.as_mut() {
            if !wakeups.is_live(channel) {
                return true;
            }
            return sink.subscribe(&[channel.to_owned()]).await.is_ok();
        }
        let Some((sink, stream)) = connect(wakeups, subscriber).await else {
            return false;
        };
        let generation = wakeups.generations.fetch_add(1, Ordering::Relaxed) + 1;
        *slot = Some((sink, generation));
        tokio::spawn(read(Arc::downgrade(wakeups), index, generation, stream));
        true
    };
    tokio::time::timeout(subscriber.timeout, work)
        .await
        .unwrap_or(false)
}

/// A new subscriber connection, subscribed to every live channel.
async fn connect(wakeups: &Wakeups, subscriber: &Subscriber) -> Option<(Sink, Messages)> {
    let (mut sink, stream) = subscriber.link.connect().await?;
    let live = wakeups.live_channels();
    if !live.is_empty() {
        sink.subscribe(&live).await.ok()?;
    }
    Some((sink, stream))
}

pub(super) async fn unsubscribe(wakeups: &Wakeups, channel: &str) {
    for subscriber in &wakeups.subscribers {
        let work = async {
            let mut slot = subscriber.sink.lock().await;
            if wakeups.is_live(channel) {
                return; // a new waiter arrived meanwhile
            }
            if let Some((sink, _)) = slot.as_mut()
                && sink.unsubscribe(channel).await.is_err()
            {
                *slot = None;
            }
        };
        let _ = tokio::time::timeout(subscriber.timeout, work).await;
    }
}

/// Dispatch one node's messages; when its connection breaks, or stops answering the
/// periodic probe (half-open), wake every waiter (messages may have been lost) and
/// reconnect while anyone is still waiting.
async fn read(wakeups: Weak<Wakeups>, index: usize, mut generation: u64, mut stream: Messages) {
    loop {
        let mut probe = tokio::time::interval(PROBE_EVERY);
        probe.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let event = tokio::select! {
                event = stream.next() => event,
                _ = probe.tick() => {
                    let Some(wakeups) = wakeups.upgrade() else {
                        return;
                    };
                    if alive(&wakeups, index, generation).await {
                        continue;
                    }
                    tracing::debug!(node = index, "subscriber connection stopped answering; replacing it");
                    None
                }
            };
            let Some(event) = event else { break };
            let Some(wakeups) = wakeups.upgrade() else {
                return;
            };
            match event {
                Event::Message { channel, payload } => wakeups.wake(index, &channel, &payload),
                // A cluster connection re-subscribes by itself; messages may have been
                // lost meanwhile.
                Event::Lost => wakeups.wake_all(),
            }
        }
        let Some(wakeups) = wakeups.upgrade() else {
            return;
        };
        let Some(subscriber) = wakeups.subscribers.get(index) else {
            return;
        };
        {
            let mut slot = subscriber.sink.lock().await;
            if slot.as_ref().is_some_and(|(_, g)| *g == generation) {
                *slot = None;
            }
        }
        wakeups.wake_all();
        tokio::time::sleep(RECONNECT_DELAY).await;
        let mut slot = subscriber.sink.lock().await;
        if slot.is_some() || wakeups.live_channels().is_empty() {
            // Someone else reconnected, or nobody waits any more.
            return;
        }
        let connected =
            tokio::time::timeout(subscriber.timeout, connect(&wakeups, subscriber)).await;
        let Ok(Some((sink, next))) = connected else {
            // The next new waiter tries again; the others poll on their timers.
            return;
        };
        generation = wakeups.generations.fetch_add(1, Ordering::Relaxed) + 1;
        *slot = Some((sink, generation));
        stream = next;
    }
}

/// Whether node `index`'s subscriber connection of `generation` still answers a PING
/// within the node timeout. Only probed while someone waits: an idle subscriber costs
/// nothing. A newer connection (someone reconnected) means this reader is done.
async fn alive(wakeups: &Wakeups, index: usize, generation: u64) -> bool {
    if wakeups.live_channels().is_empty() {
        return true;
    }
    let Some(subscriber) = wakeups.subscribers.get(index) else {
        return false;
    };
    let check = async {
        let mut slot = subscriber.sink.lock().await;
        match slot.as_mut() {
            Some((sink, g)) if *g == generation => sink.answers().await,
            _ => false,
        }
    };
    tokio::time::timeout(subscriber.timeout, check)
        .await
        .unwrap_or(false)
}

/// How often a subscriber connection with waiters is probed: a half-open connection is
/// replaced within this plus a node timeout, instead of leaving waiters to their
/// fallback timers.
const PROBE_EVERY: Duration = Duration::from_millis(200);

/// Pause before re-connecting a broken subscriber.
const RECONNECT_DELAY: Duration = Duration::from_millis(100);
