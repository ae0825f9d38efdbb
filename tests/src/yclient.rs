//! A y-websocket client in Rust: `yrs` for the document, `tokio-tungstenite` for the socket.
//! It follows the same protocol steps as the npm provider (send step 1 on open, answer step 1
//! with step 2, apply step 2 and updates, exchange awareness), written independently of the
//! server's own codec so that the two check each other.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use futures_util::{SinkExt, StreamExt};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use yrs::sync::protocol::{Message, SyncMessage};
use yrs::sync::{Awareness, AwarenessUpdate};
use yrs::updates::decoder::Decode;
use yrs::updates::encoder::Encode;
use yrs::{Doc, GetString, ReadTxn, StateVector, Text, Transact, Update};

use crate::eventually;

/// How a connection ended, as seen by the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Closed {
    /// The close code, or `None` when the connection dropped without a close frame.
    pub code: Option<u16>,
    pub reason: String,
}

#[derive(Default)]
struct Shared {
    synced: bool,
    closed: Option<Closed>,
    frames_received: u64,
}

/// A connected client with its own replica of the document.
pub struct YClient {
    doc: Doc,
    awareness: Arc<Mutex<Awareness>>,
    shared: Arc<Mutex<Shared>>,
    outgoing: mpsc::UnboundedSender<WsMessage>,
    text_name: &'static str,
}

impl YClient {
    /// Connects and starts the sync exchange.
    pub async fn connect(url: &str) -> anyhow::Result<Self> {
        Self::connect_with_doc(url, Doc::new()).await
    }

    /// Connects again, possibly to another node, with the same replica: like the stock
    /// provider after a disconnect, it sends what the server lacks and receives what it lacks.
    pub async fn reconnect(&self, url: &str) -> anyhow::Result<Self> {
        self.close();
        let client = Self::connect_with_doc(url, self.doc.clone()).await?;
        client.wait_synced(Duration::from_secs(10)).await?;
        Ok(client)
    }

    async fn connect_with_doc(url: &str, doc: Doc) -> anyhow::Result<Self> {
        let (socket, _) = tokio_tungstenite::connect_async(url).await.with_context(|| format!("cannot connect to {url}"))?;
        let (mut sink, mut stream) = socket.split();
        let awareness = Arc::new(Mutex::new(Awareness::new(doc.clone())));
        let shared = Arc::new(Mutex::new(Shared::default()));
        let (outgoing, mut outgoing_receiver) = mpsc::unbounded_channel::<WsMessage>();

        tokio::spawn(async move {
            while let Some(message) = outgoing_receiver.recv().await {
                let is_close = matches!(message, WsMessage::Close(_));
                if sink.send(message).await.is_err() || is_close {
                    break;
                }
            }
        });

        let reader_doc = doc.clone();
        let reader_awareness = awareness.clone();
        let reader_shared = shared.clone();
        let reply = outgoing.clone();
        tokio::spawn(async move {
            let closed = loop {
                match stream.next().await {
                    Some(Ok(WsMessage::Binary(frame))) => {
                        reader_shared.lock().expect("lock").frames_received += 1;
                        if let Err(error) = handle_frame(&frame, &reader_doc, &reader_awareness, &reader_shared, &reply) {
                            eprintln!("yclient: bad frame from server: {error}");
                        }
                    }
                    Some(Ok(WsMessage::Close(frame))) => {
                        break Closed {
                            code: frame.as_ref().map(|f| u16::from(f.code)),
                            reason: frame.map(|f| f.reason.to_string()).unwrap_or_default(),
                        };
                    }
                    Some(Ok(_)) => {}
                    Some(Err(_)) | None => break Closed { code: None, reason: String::new() },
                }
            };
            reader_shared.lock().expect("lock").closed = Some(closed);
        });

        let step1 = Message::Sync(SyncMessage::SyncStep1(doc.transact().state_vector())).encode_v1();
        outgoing.send(WsMessage::Binary(step1.into())).context("socket closed")?;
        Ok(Self { doc, awareness, shared, outgoing, text_name: "text" })
    }

    /// Connects and waits for the server's step 2 (the full state we lacked).
    pub async fn connect_synced(url: &str) -> anyhow::Result<Self> {
        let client = Self::connect(url).await?;
        client.wait_synced(Duration::from_secs(10)).await?;
        Ok(client)
    }

    pub async fn wait_synced(&self, within: Duration) -> anyhow::Result<()> {
        let shared = self.shared.clone();
        eventually(within, "sync step 2", || {
            let done = shared.lock().expect("lock").synced;
            async move { done.then_some(()) }
        })
        .await
    }

    /// Inserts `chunk` at `index` of the shared text and sends the update.
    pub fn insert(&self, index: u32, chunk: &str) -> anyhow::Result<()> {
        let text = self.doc.get_or_insert_text(self.text_name);
        let update = {
            let mut txn = self.doc.transact_mut();
            let length = text.len(&txn);
            text.insert(&mut txn, index.min(length), chunk);
            txn.encode_update_v1()
        };
        self.send_update(update)
    }

    /// Appends `chunk` at the end of the shared text.
    pub fn append(&self, chunk: &str) -> anyhow::Result<()> {
        self.insert(u32::MAX, chunk)
    }

    fn send_update(&self, update: Vec<u8>) -> anyhow::Result<()> {
        let frame = Message::Sync(SyncMessage::Update(update)).encode_v1();
        self.outgoing.send(WsMessage::Binary(frame.into())).context("socket closed")
    }

    /// Sets our awareness state and sends it.
    pub fn set_awareness(&self, json: &str) -> anyhow::Result<()> {
        let update = {
            let mut awareness = self.awareness.lock().expect("lock");
            awareness.set_local_state_raw(json);
            awareness.update()?
        };
        let frame = Message::Awareness(update).encode_v1();
        self.outgoing.send(WsMessage::Binary(frame.into())).context("socket closed")
    }

    /// Awareness states of other clients: (client id, json).
    pub fn peers(&self) -> Vec<(u64, String)> {
        let awareness = self.awareness.lock().expect("lock");
        let own = awareness.client_id();
        awareness
            .iter()
            .filter(|(id, state)| *id != own && state.data.is_some())
            .map(|(id, state)| (id.get(), state.data.as_deref().unwrap_or_default().to_owned()))
            .collect()
    }

    /// Sends raw bytes as a binary frame (for malformed-input tests).
    pub fn send_raw(&self, bytes: Vec<u8>) -> anyhow::Result<()> {
        self.outgoing.send(WsMessage::Binary(bytes.into())).context("socket closed")
    }

    /// Sends any websocket message.
    pub fn send_message(&self, message: WsMessage) -> anyhow::Result<()> {
        self.outgoing.send(message).context("socket closed")
    }

    pub fn text(&self) -> String {
        let text = self.doc.get_or_insert_text(self.text_name);
        text.get_string(&self.doc.transact())
    }

    pub fn state_vector(&self) -> StateVector {
        self.doc.transact().state_vector()
    }

    pub fn client_id(&self) -> u64 {
        self.doc.client_id().get()
    }

    pub fn frames_received(&self) -> u64 {
        self.shared.lock().expect("lock").frames_received
    }

    pub fn closed(&self) -> Option<Closed> {
        self.shared.lock().expect("lock").closed.clone()
    }

    pub async fn wait_text(&self, expected: &str, within: Duration) -> anyhow::Result<()> {
        eventually(within, &format!("text {:?}", truncate(expected)), || {
            let matches = self.text() == expected;
            async move { matches.then_some(()) }
        })
        .await
        .with_context(|| format!("text is {:?}", truncate(&self.text())))
    }

    pub async fn wait_closed(&self, within: Duration) -> anyhow::Result<Closed> {
        eventually(within, "the connection to close", || {
            let closed = self.closed();
            async move { closed }
        })
        .await
    }

    /// Sends a normal close frame.
    pub fn close(&self) {
        let _ = self.outgoing.send(WsMessage::Close(None));
    }
}

fn truncate(text: &str) -> String {
    text.chars().take(80).collect()
}

fn handle_frame(
    frame: &[u8],
    doc: &Doc,
    awareness: &Mutex<Awareness>,
    shared: &Mutex<Shared>,
    reply: &mpsc::UnboundedSender<WsMessage>,
) -> anyhow::Result<()> {
    match Message::decode_v1(frame)? {
        Message::Sync(SyncMessage::SyncStep1(state_vector)) => {
            let diff = doc.transact().encode_diff_v1(&state_vector);
            let answer = Message::Sync(SyncMessage::SyncStep2(diff)).encode_v1();
            let _ = reply.send(WsMessage::Binary(answer.into()));
        }
        Message::Sync(SyncMessage::SyncStep2(update)) => {
            doc.transact_mut().apply_update(Update::decode_v1(&update)?)?;
            shared.lock().expect("lock").synced = true;
        }
        Message::Sync(SyncMessage::Update(update)) => {
            doc.transact_mut().apply_update(Update::decode_v1(&update)?)?;
        }
        Message::Awareness(update) => {
            awareness.lock().expect("lock").apply_update(update)?;
        }
        Message::AwarenessQuery => {
            let update: AwarenessUpdate = awareness.lock().expect("lock").update()?;
            let _ = reply.send(WsMessage::Binary(Message::Awareness(update).encode_v1().into()));
        }
        Message::Auth(_) | Message::Custom(..) => {}
    }
    Ok(())
}

/// A text of `bytes` ASCII bytes, for large-insert tests.
pub fn large_text(bytes: usize) -> String {
    "abcdefghijklmnopqrstuvwxyz0123456789\n".chars().cycle().take(bytes).collect()
}

/// True when `have` contains every update that `want` contains.
pub fn covers(have: &StateVector, want: &StateVector) -> bool {
    want.iter().all(|(client, clock)| have.get(client) >= *clock)
}
