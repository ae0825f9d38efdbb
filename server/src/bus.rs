//! The bus between Relais nodes: NATS core pub/sub, one subject per document.
//!
//! A node publishes each committed batch (with the seqs the store assigned) and each awareness
//! change; the other nodes with that document open apply them. Delivery is at most once, and
//! that is enough: the store holds every committed update, each batch carries its seqs, and a
//! room that sees a seq beyond its watermark, or learns that the bus reconnected, fetches what
//! it missed from the store. Publishing never blocks a room: messages go through a bounded
//! queue to one publisher task, and a full queue drops (the seqs reveal the gap).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::{BufMut, Bytes, BytesMut};
use futures_util::StreamExt;
use relais_storage::{DocumentId, Seq};
use tokio::sync::{mpsc, watch};
use tracing::{info, warn};

/// Messages waiting for the publisher task before new ones are dropped.
const PUBLISH_QUEUE: usize = 8192;

/// Errors at startup.
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    #[error("cannot connect to the bus at {url}")]
    Connect {
        url: String,
        #[source]
        source: async_nats::ConnectError,
    },
    #[error("cannot subscribe on the bus")]
    Subscribe(#[source] async_nats::SubscribeError),
}

/// What travels on a document's subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BusEvent {
    /// Updates committed with seqs `first_seq..=last_seq`. `updates` is empty when they were too
    /// large for one bus message: receivers then read them from the store.
    Committed { node: u64, committed_at_ms: u64, first_seq: Seq, last_seq: Seq, updates: Vec<Bytes> },
    /// An awareness update (presence), already filtered to what changed.
    Awareness { node: u64, update: Bytes },
}

const TAG_COMMITTED: u8 = 1;
const TAG_AWARENESS: u8 = 2;

impl BusEvent {
    pub fn encode(&self) -> Bytes {
        let mut out = BytesMut::new();
        match self {
            BusEvent::Committed { node, committed_at_ms, first_seq, last_seq, updates } => {
                out.put_u8(TAG_COMMITTED);
                out.put_u64(*node);
                out.put_u64(*committed_at_ms);
                out.put_u64(first_seq.0);
                out.put_u64(last_seq.0);
                out.put_u32(updates.len() as u32);
                for update in updates {
                    out.put_u32(update.len() as u32);
                    out.put_slice(update);
                }
            }
            BusEvent::Awareness { node, update } => {
                out.put_u8(TAG_AWARENESS);
                out.put_u64(*node);
                out.put_slice(update);
            }
        }
        out.freeze()
    }

    /// Decodes a bus payload; `None` for anything malformed (another version, or garbage).
    pub fn decode(payload: &Bytes) -> Option<Self> {
        let mut reader = Cursor { bytes: payload, position: 0 };
        match reader.u8()? {
            TAG_COMMITTED => {
                let node = reader.u64()?;
                let committed_at_ms = reader.u64()?;
                let first_seq = Seq(reader.u64()?);
                let last_seq = Seq(reader.u64()?);
                let count = reader.u32()? as usize;
                if last_seq < first_seq || (count != 0 && count as u64 != last_seq.0 - first_seq.0 + 1) {
                    return None;
                }
                let mut updates = Vec::with_capacity(count.min(payload.len() / 4));
                for _ in 0..count {
                    let length = reader.u32()? as usize;
                    updates.push(reader.take(length)?);
                }
                reader.at_end().then_some(BusEvent::Committed { node, committed_at_ms, first_seq, last_seq, updates })
            }
            TAG_AWARENESS => {
                let node = reader.u64()?;
                let update = reader.take(payload.len() - reader.position)?;
                Some(BusEvent::Awareness { node, update })
            }
            _ => None,
        }
    }
}

struct Cursor<'a> {
    bytes: &'a Bytes,
    position: usize,
}

impl Cursor<'_> {
    fn take(&mut self, length: usize) -> Option<Bytes> {
        let end = self.position.checked_add(length)?;
        if end > self.bytes.len() {
            return None;
        }
        let slice = self.bytes.slice(self.position..end);
        self.position = end;
        Some(slice)
    }
    fn u8(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_be_bytes(self.take(4)?.as_ref().try_into().ok()?))
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_be_bytes(self.take(8)?.as_ref().try_into().ok()?))
    }
    fn at_end(&self) -> bool {
        self.position == self.bytes.len()
    }
}

/// A connection to the bus, shared by every room of this node.
#[derive(Clone)]
pub struct Bus {
    client: async_nats::Client,
    node: u64,
    queue: mpsc::Sender<(String, Bytes)>,
    reconnects: watch::Receiver<u64>,
    dropped: Arc<AtomicU64>,
}

impl Bus {
    /// Connects to NATS at `url` (e.g. `nats://127.0.0.1:4222`) and starts the publisher.
    pub async fn connect(url: &str, tracker: &tokio_util::task::TaskTracker) -> Result<Self, BusError> {
        let (reconnect_sender, reconnects) = watch::channel(0u64);
        let reconnect_sender = Arc::new(reconnect_sender);
        let options = async_nats::ConnectOptions::new()
            .name("relais")
            .event_callback(move |event| {
                let reconnect_sender = reconnect_sender.clone();
                async move {
                    match event {
                        async_nats::Event::Connected => {
                            reconnect_sender.send_modify(|count| *count += 1);
                            info!("bus connected");
                        }
                        async_nats::Event::Disconnected => warn!("bus disconnected; rooms will catch up from the store"),
                        async_nats::Event::SlowConsumer(_) => warn!("bus messages dropped (slow consumer); rooms catch up from the store"),
                        other => info!(event = %other, "bus event"),
                    }
                }
            });
        let client = async_nats::connect_with_options(url, options)
            .await
            .map_err(|source| BusError::Connect { url: redact(url), source })?;
        let (queue, mut receiver) = mpsc::channel::<(String, Bytes)>(PUBLISH_QUEUE);
        let publisher = client.clone();
        tracker.spawn(async move {
            while let Some((subject, payload)) = receiver.recv().await {
                if let Err(error) = publisher.publish(subject, payload).await {
                    warn!(error = %error, "bus publish failed");
                }
            }
        });
        let node = uuid::Uuid::new_v4().as_u64_pair().0;
        info!(node = format_args!("{node:016x}"), "joined the bus");
        Ok(Self { client, node, queue, reconnects, dropped: Arc::new(AtomicU64::new(0)) })
    }

    /// This process's id on the bus; events carrying it are our own.
    pub fn node(&self) -> u64 {
        self.node
    }

    fn subject(document: &DocumentId) -> String {
        let mut subject = String::with_capacity(11 + document.as_str().len() * 2);
        subject.push_str("relais.doc.");
        for byte in document.as_str().bytes() {
            subject.push_str(&format!("{byte:02x}"));
        }
        subject
    }

    /// Subscribes to a document's events. Call before loading it, so nothing committed
    /// between the load and the subscription can be missed.
    pub async fn subscribe(&self, document: &DocumentId) -> Result<async_nats::Subscriber, BusError> {
        self.client.subscribe(Self::subject(document)).await.map_err(BusError::Subscribe)
    }

    /// Queues an event for publication without waiting; drops it if the queue is full.
    pub fn publish(&self, document: &DocumentId, event: &BusEvent) {
        let mut event_to_send = event.clone();
        if let BusEvent::Committed { updates, .. } = &mut event_to_send {
            // NATS refuses payloads above its max_payload (1 MiB by default): send seqs only.
            let size: usize = updates.iter().map(|u| u.len() + 4).sum();
            if size as i64 + 64 > self.client.server_info().max_payload as i64 {
                updates.clear();
            }
        }
        if self.queue.try_send((Self::subject(document), event_to_send.encode())).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The one subject every node's chat hub listens on: chat is human-paced, so one stream
    /// filtered by each node is simpler than a subject per conversation.
    pub const CHAT_SUBJECT: &'static str = "relais.chat";

    /// Subscribes to chat events from every node.
    pub async fn subscribe_chat(&self) -> Result<async_nats::Subscriber, BusError> {
        self.client.subscribe(Self::CHAT_SUBJECT).await.map_err(BusError::Subscribe)
    }

    /// Queues a chat event (JSON) for the other nodes; dropped if the queue is full, which
    /// receivers notice as a seq gap and fill from the store.
    pub fn publish_chat(&self, payload: Bytes) {
        if self.queue.try_send((Self::CHAT_SUBJECT.to_owned(), payload)).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Changes each time the bus (re)connects; rooms then catch up from the store.
    pub fn reconnects(&self) -> watch::Receiver<u64> {
        self.reconnects.clone()
    }

    pub fn is_connected(&self) -> bool {
        self.client.connection_state() == async_nats::connection::State::Connected
    }

    /// Events dropped because the publish queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

/// The next message of an optional subscription; pending forever without one.
pub async fn next_event(subscription: &mut Option<async_nats::Subscriber>) -> Option<BusEvent> {
    match subscription {
        Some(subscriber) => loop {
            let message = subscriber.next().await?;
            match BusEvent::decode(&message.payload) {
                Some(event) => return Some(event),
                None => warn!("ignoring a malformed bus message"),
            }
        },
        None => std::future::pending().await,
    }
}

/// Milliseconds since the Unix epoch, for measuring bus lag across nodes.
pub fn unix_millis() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

fn redact(url: &str) -> String {
    match url.split_once('@') {
        Some((scheme_and_credentials, host)) => {
            let scheme = scheme_and_credentials.split("://").next().unwrap_or("nats");
            format!("{scheme}://***@{host}")
        }
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_round_trip_and_garbage_is_refused() {
        let events = [
            BusEvent::Committed {
                node: 7,
                committed_at_ms: 1_700_000_000_000,
                first_seq: Seq(3),
                last_seq: Seq(4),
                updates: vec![Bytes::from_static(b"ab"), Bytes::from_static(b"")],
            },
            BusEvent::Committed { node: 7, committed_at_ms: 0, first_seq: Seq(3), last_seq: Seq(9), updates: vec![] },
            BusEvent::Awareness { node: 1, update: Bytes::from_static(&[1, 2, 3]) },
        ];
        for event in events {
            let encoded = event.encode();
            assert_eq!(BusEvent::decode(&encoded), Some(event));
            for end in 0..encoded.len() {
                let _ = BusEvent::decode(&encoded.slice(..end));
            }
        }
        assert_eq!(BusEvent::decode(&Bytes::from_static(&[1, 0, 0])), None);
        assert_eq!(BusEvent::decode(&Bytes::from_static(&[9])), None);
    }

    #[test]
    fn subjects_are_single_tokens() {
        let document = DocumentId::parse("a.b:c~d").unwrap();
        assert_eq!(Bus::subject(&document), "relais.doc.612e623a637e64");
    }
}
