//! A benchmark client: one websocket to one document, doing the sync handshake like a Yjs
//! provider, sending pre-made edits and handing every received update to a hook.
//!
//! Two tasks per client: a reader, which answers the server's sync step 1, marks the client
//! synced on the first sync step 2 and passes update payloads to the hook; and a sender, which
//! owns the socket's write half and writes whatever is queued, flushing once per batch so that a
//! writer at a high rate does not pay one system call per edit.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use crate::wire::{Framer, Incoming, Protocol};

/// Called with each received update payload; `true` for a sync step 2.
pub type PayloadHook = Arc<dyn Fn(&[u8], bool) + Send + Sync>;

/// How to connect.
#[derive(Clone)]
pub struct ClientOptions {
    pub protocol: Protocol,
    /// tungstenite's read buffer (128 KiB by default): small for thousands of idle clients.
    pub read_buffer_bytes: usize,
    /// Keep every received update, to rebuild the client's document after the run.
    pub keep_updates: bool,
    pub on_payload: Option<PayloadHook>,
}

/// Most frames written between two flushes.
const MAX_FRAMES_PER_FLUSH: usize = 256;
/// How long closing may wait for the close frame to go out.
const CLOSE_TIMEOUT: Duration = Duration::from_millis(500);

#[derive(Default)]
struct Shared {
    kept: Mutex<Vec<Bytes>>,
    closed: AtomicBool,
    close_reason: Mutex<Option<String>>,
    undecodable_frames: AtomicU64,
}

/// A connected client.
pub struct Client {
    framer: Framer,
    outgoing: mpsc::UnboundedSender<Bytes>,
    synced: watch::Receiver<bool>,
    shared: Arc<Shared>,
    reader: JoinHandle<()>,
    sender: JoinHandle<()>,
}

impl Drop for Client {
    fn drop(&mut self) {
        self.reader.abort();
        self.sender.abort();
    }
}

impl Client {
    /// Opens `address` (the websocket URL of `document`) and starts the sync handshake
    /// (authentication first for Hocuspocus, which reads the document name from each message).
    pub async fn connect(address: &str, document: &str, options: ClientOptions) -> anyhow::Result<Self> {
        let config = WebSocketConfig::default()
            .read_buffer_size(options.read_buffer_bytes)
            .max_message_size(Some(256 << 20))
            .max_frame_size(Some(256 << 20));
        let (socket, _) = tokio_tungstenite::connect_async_with_config(address, Some(config), true)
            .await
            .with_context(|| format!("cannot connect to {address}"))?;
        let (mut sink, mut stream) = socket.split();
        let framer = Framer::new(options.protocol, document);
        let shared = Arc::new(Shared::default());
        let (outgoing, mut queue) = mpsc::unbounded_channel::<Bytes>();
        let (synced_sender, synced) = watch::channel(false);

        let sender = tokio::spawn(async move {
            // An empty frame is the signal to close: no y-websocket message is empty.
            'connection: while let Some(first) = queue.recv().await {
                if first.is_empty() || sink.feed(WsMessage::Binary(first)).await.is_err() {
                    break;
                }
                for _ in 1..MAX_FRAMES_PER_FLUSH {
                    let Ok(next) = queue.try_recv() else { break };
                    if next.is_empty() || sink.feed(WsMessage::Binary(next)).await.is_err() {
                        break 'connection;
                    }
                }
                if sink.flush().await.is_err() {
                    break;
                }
            }
            let _ = tokio::time::timeout(CLOSE_TIMEOUT, sink.close()).await;
        });

        let reader_framer = framer.clone();
        let reader_shared = shared.clone();
        let replies = outgoing.clone();
        let reader = tokio::spawn(async move {
            let reason = loop {
                match stream.next().await {
                    Some(Ok(WsMessage::Binary(frame))) => {
                        let mut answer_step1 = false;
                        let mut got_step2 = false;
                        let decoded = reader_framer.decode(&frame, |message| {
                            let (payload, is_step2) = match message {
                                Incoming::SyncStep1 => {
                                    answer_step1 = true;
                                    return;
                                }
                                Incoming::SyncStep2(payload) => (payload, true),
                                Incoming::Update(payload) => (payload, false),
                            };
                            got_step2 |= is_step2;
                            if let Some(hook) = &options.on_payload {
                                hook(payload, is_step2);
                            }
                            if options.keep_updates {
                                reader_shared.kept.lock().expect("kept updates lock").push(frame.slice_ref(payload));
                            }
                        });
                        if !decoded {
                            reader_shared.undecodable_frames.fetch_add(1, Ordering::Relaxed);
                        }
                        if answer_step1 {
                            // Clients never reconnect within a run, and a server only sends its
                            // step 1 when a client joins, before it has edited: its state is empty.
                            let _ = replies.send(reader_framer.sync_step2(vec![0, 0]));
                        }
                        if got_step2 {
                            synced_sender.send_replace(true);
                        }
                    }
                    Some(Ok(WsMessage::Close(frame))) => {
                        break match frame {
                            Some(frame) => format!("closed by server: {} {}", u16::from(frame.code), frame.reason),
                            None => "closed by server".to_owned(),
                        };
                    }
                    Some(Ok(_)) => {}
                    Some(Err(error)) => break format!("read error: {error}"),
                    None => break "connection ended".to_owned(),
                }
            };
            *reader_shared.close_reason.lock().expect("close reason lock") = Some(reason);
            reader_shared.closed.store(true, Ordering::Relaxed);
        });

        let client = Self { framer, outgoing, synced, shared, reader, sender };
        for frame in client.framer.opening() {
            client.send(frame)?;
        }
        Ok(client)
    }

    pub fn framer(&self) -> &Framer {
        &self.framer
    }

    /// Queues a frame for sending (an empty frame closes the connection).
    pub fn send(&self, frame: Bytes) -> anyhow::Result<()> {
        self.outgoing.send(frame).map_err(|_| anyhow::anyhow!("connection closed"))
    }

    /// A handle to queue frames from another task.
    pub fn sender(&self) -> mpsc::UnboundedSender<Bytes> {
        self.outgoing.clone()
    }

    /// Waits for the server's sync step 2.
    pub async fn wait_synced(&self, deadline: Instant) -> anyhow::Result<()> {
        let mut synced = self.synced.clone();
        match tokio::time::timeout_at(deadline, synced.wait_for(|synced| *synced)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(_)) => anyhow::bail!("client ended before it was synced"),
            Err(_) => anyhow::bail!("no sync step 2 before the deadline ({})", self.close_reason().unwrap_or_else(|| "still open".to_owned())),
        }
    }

    pub fn is_closed(&self) -> bool {
        self.shared.closed.load(Ordering::Relaxed)
    }

    pub fn close_reason(&self) -> Option<String> {
        self.shared.close_reason.lock().expect("close reason lock").clone()
    }

    /// Frames that could not be parsed to their end.
    pub fn undecodable_frames(&self) -> u64 {
        self.shared.undecodable_frames.load(Ordering::Relaxed)
    }

    /// The updates received so far (with `keep_updates`).
    pub fn kept_updates(&self) -> Vec<Bytes> {
        self.shared.kept.lock().expect("kept updates lock").clone()
    }

    /// Sends a close frame (waiting at most half a second) and stops both tasks.
    pub async fn close(mut self) {
        let _ = self.outgoing.send(Bytes::new());
        let _ = tokio::time::timeout(CLOSE_TIMEOUT * 2, &mut self.sender).await;
    }
}

/// Closes every client, all at once.
pub async fn close_all(clients: impl IntoIterator<Item = Client>) {
    futures_util::future::join_all(clients.into_iter().map(Client::close)).await;
}

/// The websocket URL of `room`: `{room}` in `template` replaced by it, or it appended.
pub fn room_address(template: &str, room: &str) -> String {
    // Several servers of one cluster may be given as `URL|URL|…`; single-client uses take the first.
    let template = template.split('|').next().unwrap_or(template);
    if template.contains("{room}") { template.replace("{room}", room) } else { format!("{template}{room}") }
}

/// Connects one client per `(room, options)`, `parallel` handshakes at a time; results in order.
pub async fn connect_many(
    template: &str,
    documents: Vec<(String, ClientOptions)>,
    parallel: usize,
) -> Vec<anyhow::Result<Client>> {
    // With `URL|URL|…` (nodes of one cluster), clients are spread over the nodes in turn, so
    // every room is split across them.
    let templates: Vec<&str> = template.split('|').collect();
    let connecting = documents.into_iter().enumerate().map(|(index, (document, options))| {
        let address = room_address(templates[index % templates.len()], &document);
        async move { Client::connect(&address, &document, options).await }
    });
    futures_util::stream::iter(connecting).buffered(parallel.max(1)).collect().await
}
