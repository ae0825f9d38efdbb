//! One websocket connection: reads frames, decodes them, hands them to the room, and writes
//! what the room queues in its outbox.
//!
//! Reading waits for room in the room's inbox, so a flooding client slows only itself. Writes
//! have a timeout; the room never waits for them. Close reasons come from the room through a
//! one-shot "kick" channel, or from this task (malformed input, idle timeout, shutdown).

use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use relais_crdt::protocol::{self, Message as WireMessage};
use relais_storage::DocumentId;
use tokio::sync::{mpsc, oneshot};
use tokio::time::{Instant, timeout};
use tracing::{Instrument, debug, info_span, warn};

use super::room::{ClientMessage, RoomCommand};
use super::{ConnectionSlot, Hub};
use crate::access_watch::{AccessGuard, AccessState};
use crate::close::CloseReason;

/// How many times a connection looks for a live room before giving up (a room may exit
/// while a join waits for room in its full inbox).
const JOIN_ATTEMPTS: usize = 3;
/// How long a close frame may take to go out, once the connection is ending.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

/// Serves one upgraded websocket until it ends. `access` carries the caller's role, kept
/// current by the node's access watch: updates are only taken from roles that may edit, and
/// the connection closes as soon as access is gone (4403) or the credential ended (4401).
///
/// `author` is the user the connection's edits are attributed to (`None` for API tokens not
/// made by a user): the room records which Yjs client ids are theirs.
pub async fn serve_connection(
    socket: WebSocket,
    hub: Hub,
    document: DocumentId,
    slot: ConnectionSlot,
    access: AccessGuard,
    author: Option<std::sync::Arc<str>>,
) {
    let span = info_span!("connection", document = %document, connection = %slot.id());
    run(socket, hub, document, slot, access, author).instrument(span).await;
}

/// Closes a websocket at once, for an upgrade that was refused (browsers cannot read the
/// HTTP status of a failed upgrade, but they do get the close code).
pub async fn refuse_connection(socket: WebSocket, reason: CloseReason) {
    let (mut sink, _stream) = socket.split();
    close(&mut sink, reason).await;
}

async fn run(
    socket: WebSocket,
    hub: Hub,
    document: DocumentId,
    slot: ConnectionSlot,
    mut access: AccessGuard,
    author: Option<std::sync::Arc<str>>,
) {
    let Some(initial) = access.current() else { return };
    let mut may_edit = initial.may_edit();
    let mut denial = denial_reason(&initial);
    let connection = slot.id();
    let config = hub.config().clone();
    let (outbox_sender, mut outbox) = mpsc::channel::<Bytes>(config.client_outbox_messages);
    let (mut sink, mut stream) = socket.split();

    let mut joined = None;
    for _ in 0..JOIN_ATTEMPTS {
        let (kick_sender, kick) = oneshot::channel();
        let join = RoomCommand::Join {
            connection,
            outbox: outbox_sender.clone(),
            kick: kick_sender,
            author: author.clone(),
        };
        if let Ok(room) = hub.join(&document, join).await {
            joined = Some((room, kick));
            break;
        }
    }
    drop(outbox_sender);
    let Some((room, mut kick)) = joined else {
        close(&mut sink, CloseReason::Internal).await;
        return;
    };

    let shutdown = hub.shutdown_token().clone();
    let mut ticker = tokio::time::interval(config.keepalive / 3);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_sent = Instant::now();
    let mut last_received = Instant::now();

    let reason: Option<CloseReason> = loop {
        tokio::select! {
            changed = access.changed() => match changed {
                AccessState::Live(access) => {
                    may_edit = access.may_edit();
                    denial = denial_reason(&access);
                }
                AccessState::AccessEnded => break Some(CloseReason::AccessRevoked),
                AccessState::CredentialEnded => break Some(CloseReason::CredentialsEnded),
            },
            kicked = &mut kick => {
                // A dropped kick sender means the room died without a word: a failure.
                break Some(kicked.unwrap_or(CloseReason::Internal));
            }
            () = shutdown.cancelled() => break Some(CloseReason::ShuttingDown),
            frame = outbox.recv() => match frame {
                Some(frame) => {
                    if write_queued(&mut sink, frame, &mut outbox, config.write_timeout).await.is_err() {
                        break None;
                    }
                    last_sent = Instant::now();
                }
                // The room drops our outbox when it removes us; its reason, if any, is in the
                // kick channel, which this select may not have polled yet.
                None => break Some(kick.try_recv().unwrap_or(CloseReason::Internal)),
            },
            incoming = stream.next() => {
                last_received = Instant::now();
                match incoming {
                    Some(Ok(Message::Binary(frame))) => {
                        hub.metrics().frames_received.inc();
                        match decode(&frame, may_edit) {
                            Ok((messages, refused)) => {
                                if refused {
                                    hub.metrics().updates_refused.inc();
                                    let denied = Message::Binary(protocol::encode_permission_denied(denial).into());
                                    if write(&mut sink, denied, config.write_timeout).await.is_err() {
                                        break None;
                                    }
                                }
                                if messages.is_empty() {
                                    continue;
                                }
                                if room.send(RoomCommand::Messages { connection, messages }).await.is_err() {
                                    break Some(CloseReason::Internal);
                                }
                            }
                            Err(reason) => break Some(reason),
                        }
                    }
                    Some(Ok(Message::Text(_))) => break Some(CloseReason::TextFrame),
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                    Some(Ok(Message::Close(_))) | None => break None,
                    Some(Err(error)) => break read_error_reason(&error),
                }
            }
            _ = ticker.tick() => {
                if last_received.elapsed() >= config.idle_timeout {
                    break Some(CloseReason::IdleTimeout);
                }
                if last_sent.elapsed() >= config.keepalive {
                    // Pings keep proxies and our idle timer informed; the keep-alive message
                    // keeps stock clients from reconnecting, as they ignore pings.
                    let ping = write(&mut sink, Message::Ping(Bytes::new()), config.write_timeout).await;
                    let keepalive = Message::Binary(protocol::encode_keepalive().into());
                    if ping.is_err() || write(&mut sink, keepalive, config.write_timeout).await.is_err() {
                        break None;
                    }
                    last_sent = Instant::now();
                }
            }
        }
    };

    // Idempotent for the room: it may already have removed us.
    let _ = room.send(RoomCommand::Leave { connection }).await;
    match reason {
        Some(reason) => {
            if reason.is_client_error() {
                warn!(code = reason.code(), reason = %reason.text(), "closing client");
            } else {
                debug!(code = reason.code(), reason = %reason.text(), "closing client");
            }
            hub.metrics().count_close(reason.code());
            close(&mut sink, reason).await;
        }
        None => {
            hub.metrics().count_close(0);
            debug!("client disconnected");
        }
    }
    drop(slot);
}

/// What a refused update is answered with: clients show it.
fn denial_reason(access: &crate::access::Access) -> &'static str {
    if access.frozen { "document under review" } else { "read-only access" }
}

/// Largest awareness update accepted. Presence is a name, a colour and a cursor: a few hundred
/// bytes. It is relayed to everyone every 15 s, so a large one would cost every client.
pub(crate) const MAX_AWARENESS_BYTES: usize = 64 * 1024;

/// Decodes a frame into what goes to the room. Without the right to edit, document updates
/// are taken out (the second value says whether one of them deserves a permission-denied
/// answer).
fn decode(frame: &Bytes, may_edit: bool) -> Result<(Vec<ClientMessage>, bool), CloseReason> {
    let messages = protocol::decode_frame(frame).map_err(CloseReason::Malformed)?;
    if messages.iter().any(|m| matches!(m, WireMessage::Awareness(update) if update.len() > MAX_AWARENESS_BYTES)) {
        return Err(CloseReason::Policy("awareness update too big"));
    }
    let mut refused = false;
    let messages = messages
        .into_iter()
        .filter_map(|message| match message {
            WireMessage::SyncStep1(sv) => Some(ClientMessage::SyncStep1(frame.slice_ref(sv))),
            WireMessage::SyncStep2(update) if !may_edit => {
                refused |= worth_refusing(update, true);
                None
            }
            WireMessage::Update(update) if !may_edit => {
                refused |= worth_refusing(update, false);
                None
            }
            WireMessage::SyncStep2(update) | WireMessage::Update(update) => {
                Some(ClientMessage::Update(frame.slice_ref(update)))
            }
            WireMessage::Awareness(update) => Some(ClientMessage::Awareness(frame.slice_ref(update))),
            WireMessage::QueryAwareness => Some(ClientMessage::QueryAwareness),
            // Clients have no authority to deny the server anything; ignore it.
            WireMessage::PermissionDenied(_) => None,
        })
        .collect();
    Ok((messages, refused))
}

/// Whether a read-only connection's update deserves a permission-denied answer. It never
/// reaches the room either way. Empty updates and deletions-only sync replies (stock clients
/// send their whole delete set when syncing, edit or not) are dropped quietly.
pub(super) fn worth_refusing(update: &[u8], sync_reply: bool) -> bool {
    let content = relais_crdt::update_content(update);
    let quiet = matches!(content, Ok(relais_crdt::UpdateContent::Empty))
        || (sync_reply && matches!(content, Ok(relais_crdt::UpdateContent::DeletionsOnly)));
    !quiet
}

fn read_error_reason(error: &axum::Error) -> Option<CloseReason> {
    // axum wraps tungstenite's error; a capacity error is the only one worth a close frame.
    let text = error.to_string();
    if text.contains("Space limit exceeded") || text.contains("capacity") || text.contains("too long") {
        Some(CloseReason::TooBig)
    } else {
        None
    }
}

async fn write(
    sink: &mut futures_util::stream::SplitSink<WebSocket, Message>,
    message: Message,
    write_timeout: Duration,
) -> Result<(), ()> {
    match timeout(write_timeout, sink.send(message)).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(_)) | Err(_) => Err(()),
    }
}

/// Most frames written before one flush: a committed batch reaches a client as many frames,
/// and flushing once per batch instead of once per frame saves a system call per frame.
const FRAMES_PER_FLUSH: usize = 64;

/// Writes `first` and whatever else is already queued (up to a bound), then flushes once.
async fn write_queued(
    sink: &mut futures_util::stream::SplitSink<WebSocket, Message>,
    first: Bytes,
    outbox: &mut mpsc::Receiver<Bytes>,
    write_timeout: Duration,
) -> Result<(), ()> {
    let written = timeout(write_timeout, async {
        sink.feed(Message::Binary(first)).await?;
        for _ in 1..FRAMES_PER_FLUSH {
            match outbox.try_recv() {
                Ok(frame) => sink.feed(Message::Binary(frame)).await?,
                Err(_) => break,
            }
        }
        sink.flush().await
    })
    .await;
    match written {
        Ok(Ok(())) => Ok(()),
        Ok(Err(_)) | Err(_) => Err(()),
    }
}

async fn close(sink: &mut futures_util::stream::SplitSink<WebSocket, Message>, reason: CloseReason) {
    let frame = CloseFrame { code: reason.code(), reason: reason.text().into() };
    let _ = timeout(CLOSE_TIMEOUT, async {
        sink.send(Message::Close(Some(frame))).await?;
        sink.close().await
    })
    .await;
}
