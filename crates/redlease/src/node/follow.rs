//! Following a Sentinel service's primary the moment the sentinels switch it.
//!
//! After a failover, the old primary is not always gone: a planned failover
//! (`SENTINEL FAILOVER`), a primary that was only cut off from the sentinels, or one that
//! comes back before it is reconfigured stays a writable primary for seconds (Sentinel
//! demotes it only after it has reported itself as primary for a while). A client whose
//! connection to it is still open keeps locking there while every other client locks on
//! the new primary: two holders. Waiting for a `READONLY` reply or a broken connection
//! is too late.
//!
//! So each Sentinel node subscribes to the `+switch-master` channel of every sentinel
//! (message: `SERVICE OLD-IP OLD-PORT NEW-IP NEW-PORT`): the sentinel that ran the
//! failover announces it only once the replicas are reconfigured, the others as soon as
//! they learn the new configuration, so the first announcement, from whichever sentinel,
//! is taken. When it names our service and a primary other than the last announced, the
//! address is kept and the switch counter goes up; the node sees the counter changed,
//! drops its connection and connects to the announced primary (checking `ROLE`, else it
//! asks the sentinels again). A sentinel that goes away (or stops answering `PING`) is
//! subscribed to again, at a bounded pace. If every subscription was down at once,
//! announcements may have been lost: the next subscription counts as a switch (one
//! reconnection, which asks the sentinels).
//!
//! The task is one per node, holds only a weak reference to what it updates, and is
//! aborted when the node is dropped.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use futures_util::{FutureExt, StreamExt};
use redis::Client;
use redis::aio::{PubSubSink, PubSubStream};
use tokio::task::JoinHandle;

/// The channel Sentinel announces a new primary on.
const CHANNEL: &str = "+switch-master";
/// How often a quiet subscription is checked with `PING`.
const PROBE_EVERY: Duration = Duration::from_secs(5);
/// Pause before subscribing to a sentinel again, doubled while it keeps failing.
const RETRY_AFTER: Duration = Duration::from_millis(500);
const RETRY_AT_MOST: Duration = Duration::from_secs(8);

/// A primary's host and port.
type Addr = (String, u16);

/// What the follower tells the node: how many switches so far, and the last announced
/// primary not yet used.
#[derive(Default)]
pub(crate) struct Switches {
    count: AtomicU64,
    /// The announced primary not yet connected to, and the last one announced.
    announced: Mutex<(Option<Addr>, Option<Addr>)>,
}

impl Switches {
    /// Switches seen so far: a connection made before the last one leads to a stale primary.
    pub(crate) fn count(&self) -> u64 {
        self.count.load(Ordering::Acquire)
    }

    /// The primary announced by the last switch, once.
    pub(crate) fn take_announced(&self) -> Option<(String, u16)> {
        self.announced.lock().ok().and_then(|mut a| a.0.take())
    }

    /// A switch to `to` (`None`: announcements may have been lost, ask the sentinels).
    /// Every sentinel announces the same switch: only the first one counts.
    fn switched(&self, to: Option<(String, u16)>) {
        if let Ok(mut announced) = self.announced.lock() {
            if to.is_some() && announced.1 == to {
                return;
            }
            announced.0.clone_from(&to);
            announced.1 = to;
        }
        self.count.fetch_add(1, Ordering::AcqRel);
    }
}

/// The running subscription task; aborted when dropped.
pub(crate) struct Follower(JoinHandle<()>);

impl Drop for Follower {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Start following `service` through `sentinels`, on the current runtime (none: nothing
/// to run it on, and the node still follows on `READONLY` and connection loss).
pub(crate) fn spawn(
    sentinels: Vec<Client>,
    service: String,
    timeout: Duration,
    switches: &Arc<Switches>,
) -> Option<Follower> {
    let runtime = tokio::runtime::Handle::try_current().ok()?;
    let shared = Arc::new(Shared {
        service,
        timeout,
        switches: Arc::downgrade(switches),
        live: AtomicUsize::new(0),
        ever: AtomicBool::new(false),
    });
    let each = sentinels
        .into_iter()
        .map(move |sentinel| follow(sentinel, Arc::clone(&shared)));
    Some(Follower(
        runtime.spawn(futures_util::future::join_all(each).map(drop)),
    ))
}

/// What the subscriptions of one node share.
struct Shared {
    service: String,
    timeout: Duration,
    switches: Weak<Switches>,
    /// Subscriptions up now, and whether any ever was.
    live: AtomicUsize,
    ever: AtomicBool,
}

/// Keep a subscription to one sentinel, until the node is gone.
async fn follow(sentinel: Client, shared: Arc<Shared>) {
    let mut pause = RETRY_AFTER;
    while shared.switches.strong_count() > 0 {
        let Some((sink, stream)) = subscribe(&sentinel, shared.timeout).await else {
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(RETRY_AT_MOST);
            continue;
        };
        pause = RETRY_AFTER;
        let none_live = shared.live.fetch_add(1, Ordering::AcqRel) == 0;
        if none_live
            && shared.ever.swap(true, Ordering::AcqRel)
            && let Some(live) = shared.switches.upgrade()
        {
            tracing::debug!(service = shared.service, "subscribed again: re-resolving");
            live.switched(None);
        }
        listen(sink, stream, &shared).await;
        shared.live.fetch_sub(1, Ordering::AcqRel);
        tokio::time::sleep(pause).await;
    }
}

async fn subscribe(sentinel: &Client, timeout: Duration) -> Option<(PubSubSink, PubSubStream)> {
    let attempt = async {
        let (mut sink, stream) = sentinel.get_async_pubsub().await.ok()?.split();
        sink.subscribe(CHANNEL).await.ok()?;
        Some((sink, stream))
    };
    tokio::time::timeout(timeout, attempt).await.ok().flatten()
}

/// Handle messages until the subscription breaks or stops answering.
async fn listen(mut sink: PubSubSink, mut stream: PubSubStream, shared: &Shared) {
    loop {
        tokio::select! {
            message = stream.next() => {
                let Some(message) = message else { return };
                let payload = String::from_utf8_lossy(message.get_payload_bytes());
                let Some(to) = switch_of(&payload, &shared.service) else { continue };
                let Some(live) = shared.switches.upgrade() else { return };
                tracing::debug!(service = shared.service, primary = ?to, "+switch-master");
                live.switched(Some(to));
            }
            () = tokio::time::sleep(PROBE_EVERY) => {
                let ping = tokio::time::timeout(shared.timeout, sink.ping::<redis::Value>()).await;
                if !matches!(ping, Ok(Ok(_))) {
                    return;
                }
            }
        }
    }
}

/// The new primary a `+switch-master` payload announces for `service`, if it is ours.
fn switch_of(payload: &str, service: &str) -> Option<(String, u16)> {
    let fields: Vec<&str> = payload.split_whitespace().collect();
    match fields.as_slice() {
        [name, _old_ip, _old_port, ip, port] if *name == service => {
            Some(((*ip).to_owned(), port.parse().ok()?))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::{Switches, switch_of};

    #[test]
    fn each_switch_counts_once() {
        let switches = Switches::default();
        let to = || Some(("127.0.0.1".to_owned(), 6380));
        switches.switched(to());
        switches.switched(to());
        assert_eq!(switches.count(), 1, "announced by two sentinels");
        assert_eq!(switches.take_announced(), to());
        assert_eq!(switches.take_announced(), None, "used once");
        switches.switched(None);
        assert_eq!(switches.count(), 2, "announcements may have been lost");
        switches.switched(to());
        assert_eq!(
            switches.count(),
            3,
            "back to a primary after a lost announcement"
        );
    }

    #[test]
    fn only_our_service_switches() {
        let ours = "redlease 127.0.0.1 6379 127.0.0.1 6380";
        assert_eq!(
            switch_of(ours, "redlease"),
            Some(("127.0.0.1".to_owned(), 6380))
        );
        assert_eq!(switch_of(ours, "other"), None);
        assert_eq!(switch_of("redlease 127.0.0.1 6379", "redlease"), None);
        assert_eq!(switch_of("redlease a 1 b not-a-port", "redlease"), None);
    }
}
