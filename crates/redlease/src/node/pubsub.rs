//! The wake-up subscriber connection of one node, for each kind of node.
//!
//! Releases publish on the resource's channel; waiters listen (see `wakeup`). How to
//! listen depends on the node: a standalone server or a Sentinel primary takes classic
//! `SUBSCRIBE`; a Redis Cluster takes sharded `SSUBSCRIBE`, served by the shard that owns
//! the channel's slot (the channel shares the resource's hash tag), because classic
//! pub/sub on a cluster is broadcast to every shard. redis-rs' cluster connection routes
//! each `SSUBSCRIBE` to its shard, follows slot moves and re-subscribes after
//! reconnections; it reports a lost connection as a `Disconnection` push, after which
//! messages may have been lost.

use std::time::Duration;

use futures_util::StreamExt;
use redis::aio::{PubSubSink, PubSubStream};
use redis::cluster_async::ClusterConnection;
use redis::{PushInfo, PushKind, RedisResult};
use tokio::sync::mpsc::{UnboundedReceiver, unbounded_channel};

use super::link::{client, cluster_builder};
use super::sentinel::Sentinel;
use crate::config::{Address, Server, Tls};

/// What a subscriber connection reports.
pub(crate) enum Event {
    /// A message on `channel`.
    Message { channel: String, payload: Vec<u8> },
    /// The connection dropped (and may have come back): messages may have been lost.
    Lost,
}

/// How to open one node's subscriber connection.
pub(crate) struct PubSubLink {
    server: Server,
    tls: Option<Tls>,
    timeout: Duration,
    sentinel: Option<Sentinel>,
}

/// The half that subscribes and unsubscribes.
pub(crate) enum Sink {
    Plain(PubSubSink),
    Cluster(ClusterConnection),
}

/// The half that receives.
pub(crate) enum Messages {
    Plain(PubSubStream),
    Cluster(UnboundedReceiver<PushInfo>),
}

impl PubSubLink {
    pub(crate) fn new(server: Server, tls: Option<Tls>, timeout: Duration) -> Self {
        let sentinel = match &server.address {
            Address::Sentinel {
                sentinels,
                service,
                primary,
            } => Sentinel::new(
                sentinels,
                service.clone(),
                primary.clone(),
                tls.clone(),
                timeout,
            )
            .ok(),
            _ => None,
        };
        PubSubLink {
            server,
            tls,
            timeout,
            sentinel,
        }
    }

    /// A new subscriber connection (not subscribed to anything yet).
    pub(crate) async fn connect(&self) -> Option<(Sink, Messages)> {
        let plain = |c: redis::Client| async move {
            let (sink, stream) = c.get_async_pubsub().await.ok()?.split();
            Some((Sink::Plain(sink), Messages::Plain(stream)))
        };
        match &self.server.address {
            Address::Direct(info) => plain(client(info.clone(), self.tls.as_ref()).ok()?).await,
            Address::Sentinel { .. } => {
                plain(self.sentinel.as_ref()?.primary_client().await.ok()?).await
            }
            Address::Cluster { seeds } => {
                let (tx, rx) = unbounded_channel();
                let conn = cluster_builder(seeds, self.tls.as_ref(), self.timeout)
                    .use_protocol(redis::ProtocolVersion::RESP3)
                    .push_sender(tx)
                    .build()
                    .ok()?
                    .get_async_connection()
                    .await
                    .ok()?;
                Some((Sink::Cluster(conn), Messages::Cluster(rx)))
            }
        }
    }
}

impl Sink {
    pub(crate) async fn subscribe(&mut self, channels: &[String]) -> RedisResult<()> {
        match self {
            Sink::Plain(sink) => sink.subscribe(channels).await,
            Sink::Cluster(conn) => {
                // One SSUBSCRIBE per channel: channels of different resources are in
                // different slots, and one command may only name channels of one slot.
                for channel in channels {
                    conn.ssubscribe(channel).await?;
                }
                Ok(())
            }
        }
    }

    /// Whether the connection still answers (PING in subscribe mode). A connection that
    /// went half-open (the peer vanished without a reset: a black-holed network, a
    /// paused proxy) delivers nothing and reports no error; only a probe finds it. A
    /// cluster connection watches its own links and reports `Event::Lost`: not probed.
    pub(crate) async fn answers(&mut self) -> bool {
        match self {
            Sink::Plain(sink) => sink.ping::<redis::Value>().await.is_ok(),
            Sink::Cluster(_) => true,
        }
    }

    pub(crate) async fn unsubscribe(&mut self, channel: &str) -> RedisResult<()> {
        match self {
            Sink::Plain(sink) => sink.unsubscribe(channel).await,
            Sink::Cluster(conn) => conn.sunsubscribe(channel).await,
        }
    }
}

impl Messages {
    /// The next event; `None` once the connection is gone for good.
    pub(crate) async fn next(&mut self) -> Option<Event> {
        match self {
            Messages::Plain(stream) => stream.next().await.map(|m| Event::Message {
                channel: m.get_channel_name().to_owned(),
                payload: m.get_payload_bytes().to_vec(),
            }),
            Messages::Cluster(rx) => loop {
                let push = rx.recv().await?;
                match push.kind {
                    PushKind::SMessage | PushKind::Message => {
                        let mut data = push.data.into_iter();
                        let channel = data.next().and_then(|v| redis::from_redis_value(v).ok());
                        let payload = data.next().and_then(|v| redis::from_redis_value(v).ok());
                        if let (Some(channel), Some(payload)) = (channel, payload) {
                            return Some(Event::Message { channel, payload });
                        }
                    }
                    PushKind::Disconnection => return Some(Event::Lost),
                    _ => {}
                }
            },
        }
    }
}
