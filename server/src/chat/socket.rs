//! The chat websocket, `GET /chat`: JSON text frames both ways (schema in README.md).
//!
//! Authenticated by the session cookie at the upgrade (4401 otherwise), with the same Origin
//! check as documents. A malformed frame closes the connection with 1007 and a reason; a
//! refused request (no access, too long, rate-limited) gets an `error` event and the
//! connection goes on. Access is re-checked whenever the access epoch moves: a revoked
//! session closes the socket (4401), a lost conversation is unsubscribed.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message as WsMessage, WebSocket, WebSocketUpgrade};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::{SinkExt, StreamExt};
use relais_storage::{Conversation, ConversationId, User};
use serde::Deserialize;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::debug;

use super::hub::ServerEvent;
use super::service::{self, AuthorView, ChatAccess, PostRequest};
use crate::api::ApiError;
use crate::auth::{self, Caller, Credential};
use crate::http::{AppState, origin_allowed};

/// Largest frame a chat client may send: a message at the configured limit, JSON-escaped.
const FRAME_SLACK_BYTES: usize = 4096;
/// Frames queued for one connection before it is considered too slow.
const OUTBOX: usize = 512;
/// Posts of one connection waiting for their commit: beyond this the socket is not read, so
/// the client is slowed at its own connection while its outbox keeps being written.
const SENDS_QUEUED: usize = 32;
/// Most frames written before one flush.
const FRAMES_PER_FLUSH: usize = 64;
/// Typing indicators relayed at most this often per user and conversation.
const TYPING_EVERY: Duration = Duration::from_secs(3);
const PING_EVERY: Duration = Duration::from_secs(20);

static NEXT_CONNECTION: AtomicU64 = AtomicU64::new(1);

/// What a client sends (JSON, `type` tag).
#[derive(Deserialize, Debug)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
enum ClientEvent {
    Subscribe { conversation_id: String, #[serde(default)] after_seq: i64 },
    Unsubscribe { conversation_id: String },
    Send { conversation_id: String, client_id: String, body: String, reply_to_seq: Option<i64>, #[serde(default)] attachments: Vec<String> },
    Edit { conversation_id: String, seq: i64, body: String },
    Delete { conversation_id: String, seq: i64 },
    React { conversation_id: String, seq: i64, emoji: String, add: bool },
    Typing { conversation_id: String },
    Read { conversation_id: String, seq: i64 },
    Presence { status: PresenceStatus },
}

#[derive(Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
enum PresenceStatus {
    Online,
    Away,
}

/// `GET /chat`.
pub async fn chat_socket(State(state): State<AppState>, headers: HeaderMap, upgrade: WebSocketUpgrade) -> Response {
    if !origin_allowed(&state, &headers) {
        return (StatusCode::FORBIDDEN, "origin not allowed").into_response();
    }
    let caller = match auth::authenticate(state.directory.as_ref(), &headers, None, auth::now_ms()).await {
        Ok(Some(Caller::User(session))) => Some(session),
        Ok(_) | Err(auth::AuthError::Invalid) => None,
        Err(auth::AuthError::Unavailable(error)) => return ApiError::from(error).into_response(),
    };
    let limit = state.config.chat.max_message_bytes + FRAME_SLACK_BYTES;
    let upgrade = upgrade.max_message_size(limit).max_frame_size(limit).read_buffer_size(8 * 1024);
    let tracker = state.hub.tracker().clone();
    match caller {
        Some(session) => upgrade.on_upgrade(move |socket| {
            let expires = session.session_expires_at_ms;
            tracker.track_future(run(socket, state, session.user, Credential::Session(session.session_sha256), expires))
        }),
        None => upgrade.on_upgrade(|socket| close_now(socket, 4401, "authentication required")),
    }
}

async fn close_now(socket: WebSocket, code: u16, reason: &'static str) {
    let (mut sink, _) = socket.split();
    let _ = sink.send(WsMessage::Close(Some(CloseFrame { code, reason: reason.into() }))).await;
}

struct Session {
    state: AppState,
    user: User,
    connection: u64,
    /// Each subscription and when its access expires by itself.
    subscribed: HashMap<ConversationId, (Conversation, Option<i64>)>,
    session_expires_at_ms: i64,
    last_typing: HashMap<ConversationId, Instant>,
    outbox: mpsc::Sender<Arc<str>>,
    /// To the connection's poster task, which commits its messages one after the other (in
    /// the order sent) without holding up the connection's loop.
    posts: mpsc::Sender<(String, PostRequest)>,
}

/// Commits a connection's messages in order and answers each with `ack` or `error`.
async fn post_in_order(state: AppState, user: User, outbox: mpsc::Sender<Arc<str>>, mut posts: mpsc::Receiver<(String, PostRequest)>) {
    while let Some((conversation_id, request)) = posts.recv().await {
        let client_id = request.client_id.clone();
        let outcome = async {
            let (conversation, access) = service::readable(&state, &user, &conversation_id).await?;
            service::post(&state, &user, &conversation, access, request).await
        }
        .await;
        let reply = match outcome {
            Ok((view, created)) => ServerEvent::Ack { client_id, conversation_id: view.conversation_id.clone(), seq: view.seq, id: view.id, duplicate: !created },
            Err(error) => ServerEvent::Error { code: error.code().to_owned(), message: error.to_string(), client_id: Some(client_id) },
        };
        // A full outbox means the hub is disconnecting this client anyway.
        let _ = outbox.try_send(reply.to_json());
    }
}

async fn run(socket: WebSocket, state: AppState, user: User, credential: Credential, session_expires_at_ms: i64) {
    let connection = NEXT_CONNECTION.fetch_add(1, Ordering::Relaxed);
    let (mut sink, mut stream) = socket.split();
    let (outbox, mut outbox_receiver) = mpsc::channel::<Arc<str>>(OUTBOX);
    let kick = CancellationToken::new();
    state.chat_hub.connect(connection, user.id.clone(), outbox.clone(), kick.clone()).await;
    state.hub.metrics().chat_connections.inc();
    let mut epochs = state.access.epochs();
    let shutdown = state.hub.shutdown_token().clone();
    let mut ping = tokio::time::interval(PING_EVERY);
    let (posts, posts_receiver) = mpsc::channel(SENDS_QUEUED);
    let poster = tokio::spawn(post_in_order(state.clone(), user.clone(), outbox.clone(), posts_receiver));
    let mut session = Session {
        state: state.clone(),
        user,
        connection,
        subscribed: HashMap::new(),
        session_expires_at_ms,
        last_typing: HashMap::new(),
        outbox,
        posts,
    };
    session.presence(PresenceStatus::Online).await;
    let close: Option<(u16, String)> = loop {
        tokio::select! {
            () = kick.cancelled() => break Some((1013, "too slow".into())),
            () = shutdown.cancelled() => break Some((1001, "server shutting down".into())),
            // An access change anywhere, or the expiry of something this connection rests on
            // (a partner's grant, the session): nobody acts, so nothing bumps the epoch.
            changed = next_change(&mut epochs, session.next_expiry()) => {
                if changed {
                    match session.recheck(&credential).await {
                        Ok(true) => {}
                        Ok(false) => break Some((4401, "session ended".into())),
                        Err(_) => {}
                    }
                }
            }
            frame = outbox_receiver.recv() => match frame {
                Some(json) => {
                    if write_queued(&mut sink, json, &mut outbox_receiver).await.is_err() {
                        break None;
                    }
                }
                None => break None,
            },
            // While the poster is full, the socket is not read: backpressure on this client only.
            incoming = stream.next(), if session.posts.capacity() > 0 => match incoming {
                Some(Ok(WsMessage::Text(text))) => match serde_json::from_str::<ClientEvent>(text.as_str()) {
                    Ok(event) => session.handle(event).await,
                    Err(error) => break Some((1007, format!("invalid message: {error}"))),
                },
                Some(Ok(WsMessage::Binary(_))) => break Some((1003, "binary frames are not supported".into())),
                Some(Ok(WsMessage::Ping(_) | WsMessage::Pong(_))) => {}
                Some(Ok(WsMessage::Close(_))) | None => break None,
                Some(Err(_)) => break Some((1009, "message too big or broken".into())),
            },
            _ = ping.tick() => {
                if sink.send(WsMessage::Ping(Default::default())).await.is_err() {
                    break None;
                }
            }
        }
    };
    session.presence(PresenceStatus::Away).await;
    // Messages already handed to the poster are committed (and acknowledged if the client is
    // still there); nothing new is accepted.
    drop(session);
    let _ = poster.await;
    state.chat_hub.disconnect(connection).await;
    state.hub.metrics().chat_connections.dec();
    if let Some((code, reason)) = close {
        debug!(code, reason = %reason, "closing chat client");
        let mut reason = reason;
        reason.truncate(120);
        let _ = tokio::time::timeout(Duration::from_secs(5), sink.send(WsMessage::Close(Some(CloseFrame { code, reason: reason.into() })))).await;
    }
}

type Sink = futures_util::stream::SplitSink<WebSocket, WsMessage>;

/// Writes `first` and what else is already queued (bounded), then flushes once: a message to
/// many subscribers arrives as a burst, and one flush per burst saves a system call per frame.
async fn write_queued(sink: &mut Sink, first: Arc<str>, outbox: &mut mpsc::Receiver<Arc<str>>) -> Result<(), axum::Error> {
    sink.feed(WsMessage::Text(first.as_ref().into())).await?;
    for _ in 1..FRAMES_PER_FLUSH {
        match outbox.try_recv() {
            Ok(json) => sink.feed(WsMessage::Text(json.as_ref().into())).await?,
            Err(_) => break,
        }
    }
    sink.flush().await
}

/// Resolves with `true` when the access epoch moves, or when `expiry` (Unix ms) passes.
async fn next_change(epochs: &mut tokio::sync::watch::Receiver<i64>, expiry: i64) -> bool {
    let wait_ms = u64::try_from(expiry.saturating_sub(auth::now_ms())).unwrap_or(0);
    // A few milliseconds late, so that the grant is really over when re-checked.
    let expired = tokio::time::sleep(Duration::from_millis(wait_ms.saturating_add(5)));
    tokio::pin!(expired);
    tokio::select! {
        changed = epochs.changed() => match changed {
            Ok(()) => true,
            // The watcher is gone (shutdown): only expiries remain.
            Err(_) => {
                expired.as_mut().await;
                true
            }
        },
        () = expired.as_mut() => true,
    }
}

impl Session {
    /// The earliest instant something this connection rests on expires.
    fn next_expiry(&self) -> i64 {
        self.subscribed
            .values()
            .filter_map(|(_, valid_until)| *valid_until)
            .fold(self.session_expires_at_ms, i64::min)
    }

    fn reply(&self, event: &ServerEvent) {
        // A full outbox means the hub is about to disconnect this client anyway.
        let _ = self.outbox.try_send(event.to_json());
    }

    fn error(&self, error: &ApiError, client_id: Option<String>) {
        self.reply(&ServerEvent::Error { code: error.code().to_owned(), message: error.to_string(), client_id });
    }

    async fn conversation(&self, id: &str) -> Result<(Conversation, ChatAccess), ApiError> {
        service::readable(&self.state, &self.user, id).await
    }

    async fn handle(&mut self, event: ClientEvent) {
        let client_id = match &event {
            ClientEvent::Send { client_id, .. } => Some(client_id.clone()),
            _ => None,
        };
        if let Err(error) = self.dispatch(event).await {
            self.error(&error, client_id);
        }
    }

    async fn dispatch(&mut self, event: ClientEvent) -> Result<(), ApiError> {
        match event {
            ClientEvent::Subscribe { conversation_id, after_seq } => {
                let (conversation, access) = self.conversation(&conversation_id).await?;
                self.subscribed.insert(conversation.id.clone(), (conversation.clone(), access.valid_until_ms));
                self.state.chat_hub.subscribe(self.connection, conversation.id, after_seq).await;
            }
            ClientEvent::Unsubscribe { conversation_id } => {
                let id = service::parse_conversation(&conversation_id)?;
                self.subscribed.remove(&id);
                self.state.chat_hub.unsubscribe(self.connection, id).await;
            }
            ClientEvent::Send { conversation_id, client_id, body, reply_to_seq, attachments } => {
                let request = PostRequest { client_id, body, reply_to_seq, attachments };
                // The loop only reads the socket while the queue has room.
                self.posts.try_send((conversation_id, request)).map_err(|_| ApiError::RateLimited)?;
            }
            ClientEvent::Edit { conversation_id, seq, body } => {
                let (conversation, access) = self.conversation(&conversation_id).await?;
                service::edit(&self.state, &self.user, &conversation, access, seq, &body).await?;
            }
            ClientEvent::Delete { conversation_id, seq } => {
                let (conversation, access) = self.conversation(&conversation_id).await?;
                service::delete(&self.state, &self.user, &conversation, access, seq).await?;
            }
            ClientEvent::React { conversation_id, seq, emoji, add } => {
                let (conversation, access) = self.conversation(&conversation_id).await?;
                service::react(&self.state, &self.user, &conversation, access, seq, &emoji, add).await?;
            }
            ClientEvent::Typing { conversation_id } => {
                let id = service::parse_conversation(&conversation_id)?;
                // Only where subscribed (access was checked then), and throttled.
                if !self.subscribed.contains_key(&id) {
                    return Err(ApiError::NotFound("conversation"));
                }
                let now = Instant::now();
                if self.last_typing.get(&id).is_some_and(|at| now.duration_since(*at) < TYPING_EVERY) {
                    return Ok(());
                }
                self.last_typing.insert(id.clone(), now);
                let event = ServerEvent::Typing { conversation_id, user: AuthorView::from(&self.user) };
                self.state.chat_hub.event(&id, &event).await;
            }
            ClientEvent::Read { conversation_id, seq } => {
                let (conversation, _) = self.conversation(&conversation_id).await?;
                service::mark_read(&self.state, &self.user, &conversation, seq).await?;
            }
            ClientEvent::Presence { status } => self.presence(status).await,
        }
        Ok(())
    }

    /// Announces the user's status in every conversation this connection follows.
    async fn presence(&self, status: PresenceStatus) {
        let status = match status {
            PresenceStatus::Online => "online",
            PresenceStatus::Away => "away",
        };
        let event = ServerEvent::Presence { user: AuthorView::from(&self.user), status: status.to_owned() };
        for id in self.subscribed.keys() {
            self.state.chat_hub.event(id, &event).await;
        }
    }

    /// After an access change: is the session still valid, and which subscriptions remain?
    async fn recheck(&mut self, credential: &Credential) -> Result<bool, ApiError> {
        let Some(Caller::User(session)) = auth::recheck(self.state.directory.as_ref(), credential, auth::now_ms()).await? else {
            return Ok(false);
        };
        self.user = session.user;
        self.session_expires_at_ms = session.session_expires_at_ms;
        let mut lost = Vec::new();
        for (id, (conversation, valid_until)) in &mut self.subscribed {
            match service::access_to(&self.state, &self.user, conversation).await? {
                Some(access) => *valid_until = access.valid_until_ms,
                None => lost.push(id.clone()),
            }
        }
        for id in lost {
            self.subscribed.remove(&id);
            self.state.chat_hub.unsubscribe(self.connection, id.clone()).await;
            self.reply(&ServerEvent::Unsubscribed { conversation_id: id.to_string(), reason: "access revoked".into() });
        }
        Ok(true)
    }
}
