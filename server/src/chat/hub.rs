//! The node's chat hub: one task that delivers committed messages and live events to the
//! connections subscribed on this node, and exchanges them with the other nodes over the bus.
//!
//! Messages reach each subscriber in seq order without gaps or duplicates: a subscriber
//! records the next seq it expects; an older message is skipped, a newer one first pulls the
//! missing ones from the store (they are committed: their seq was assigned). Ephemeral events
//! (typing, presence, read markers, edits, reactions) are best effort.
//! A subscriber whose queue is full is disconnected (1013) rather than waited for: it catches
//! up from its last seq when it reconnects.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use bytes::Bytes;
use futures_util::StreamExt;
use relais_storage::{ConversationId, Message, UserId};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::warn;

use super::service::{self, AuthorView, MessageView};
use crate::bus::Bus;
use crate::http::AppState;

/// Messages fetched from the store per round when a subscriber catches up.
const CATCH_UP_PAGE: u32 = 500;
const INBOX: usize = 1024;

/// What the server sends on the chat websocket (JSON, `type` tag). Documented in README.md.
#[derive(Serialize, Clone, Debug)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerEvent {
    /// A committed message, in seq order per conversation.
    Message { message: MessageView },
    /// The catch-up after a subscribe is complete up to `last_seq`; live messages follow.
    Subscribed { conversation_id: String, last_seq: i64 },
    /// The subscription ended (access revoked, conversation gone).
    Unsubscribed { conversation_id: String, reason: String },
    /// Reply to `send`, once the message is committed (also for a repeated client id).
    Ack { client_id: String, conversation_id: String, seq: i64, id: String, duplicate: bool },
    MessageEdited { message: MessageView },
    MessageDeleted { conversation_id: String, seq: i64 },
    Reaction { conversation_id: String, seq: i64, emoji: String, user_id: String, added: bool },
    Typing { conversation_id: String, user: AuthorView },
    /// A read marker moved (direct conversations).
    Read { conversation_id: String, user_id: String, seq: i64 },
    Presence { user: AuthorView, status: String },
    /// Someone mentioned the user in a conversation they may not be subscribed to.
    Mention { message: MessageView },
    /// A request failed; the connection goes on.
    Error { code: String, message: String, client_id: Option<String> },
}

impl ServerEvent {
    pub fn to_json(&self) -> Arc<str> {
        // Serialising these plain structs cannot fail.
        Arc::from(serde_json::to_string(self).unwrap_or_else(|_| "{\"type\":\"error\",\"code\":\"internal\",\"message\":\"internal error\",\"client_id\":null}".to_owned()))
    }
}

/// What travels between nodes on the chat subject.
#[derive(Serialize, Deserialize)]
struct BusChat {
    node: u64,
    conversation: Option<String>,
    /// Set for committed messages.
    seq: Option<i64>,
    /// Set for notifications to users rather than to a conversation's subscribers.
    users: Vec<String>,
    /// Committed messages: when, for the delivery-delay histogram.
    #[serde(default)]
    committed_at_ms: Option<i64>,
    json: String,
}

struct Connection {
    user: UserId,
    outbox: mpsc::Sender<Arc<str>>,
    kick: CancellationToken,
    conversations: HashSet<ConversationId>,
}

enum Command {
    Connect { connection: u64, user: UserId, outbox: mpsc::Sender<Arc<str>>, kick: CancellationToken },
    Disconnect { connection: u64 },
    Subscribe { connection: u64, conversation: ConversationId, after_seq: i64 },
    Unsubscribe { connection: u64, conversation: ConversationId },
    Message { conversation: ConversationId, seq: i64, json: Arc<str>, committed_at_ms: i64 },
    Event { conversation: ConversationId, json: Arc<str> },
    Notify { users: Vec<UserId>, json: Arc<str> },
}

/// The handle to the node's chat hub.
#[derive(Clone)]
pub struct ChatHub {
    sender: mpsc::Sender<Command>,
    bus: Option<Bus>,
}

impl ChatHub {
    /// Starts the hub task; it needs the application state to read the store (catch-up) and
    /// render messages.
    pub fn spawn(bus: Option<Bus>, tracker: &tokio_util::task::TaskTracker) -> (Self, HubStarter) {
        let (sender, receiver) = mpsc::channel(INBOX);
        let hub = Self { sender, bus: bus.clone() };
        (hub, HubStarter { receiver, bus, tracker: tracker.clone() })
    }

    pub async fn connect(&self, connection: u64, user: UserId, outbox: mpsc::Sender<Arc<str>>, kick: CancellationToken) {
        let _ = self.sender.send(Command::Connect { connection, user, outbox, kick }).await;
    }

    pub async fn disconnect(&self, connection: u64) {
        let _ = self.sender.send(Command::Disconnect { connection }).await;
    }

    /// Sends the connection every message after `after_seq`, then `subscribed`, then live
    /// messages.
    pub async fn subscribe(&self, connection: u64, conversation: ConversationId, after_seq: i64) {
        let _ = self.sender.send(Command::Subscribe { connection, conversation, after_seq }).await;
    }

    pub async fn unsubscribe(&self, connection: u64, conversation: ConversationId) {
        let _ = self.sender.send(Command::Unsubscribe { connection, conversation }).await;
    }

    /// A committed message: delivered here and published to the other nodes.
    pub async fn message(&self, conversation: &ConversationId, seq: i64, view: &MessageView) {
        let json = ServerEvent::Message { message: view.clone() }.to_json();
        self.publish(Some(conversation), Some(seq), &[], &json, Some(view.created_at_ms));
        let committed_at_ms = view.created_at_ms;
        let _ = self.sender.send(Command::Message { conversation: conversation.clone(), seq, json, committed_at_ms }).await;
    }

    /// An ephemeral event for a conversation's subscribers, here and on other nodes.
    pub async fn event(&self, conversation: &ConversationId, event: &ServerEvent) {
        let json = event.to_json();
        self.publish(Some(conversation), None, &[], &json, None);
        let _ = self.sender.send(Command::Event { conversation: conversation.clone(), json }).await;
    }

    /// Tells the mentioned users, on every connection of theirs, subscribed or not.
    /// `@channel` counts in everyone's unread mentions but is not pushed to each member.
    pub async fn notify_mentions(&self, message: &Message, view: &MessageView) {
        let users: Vec<UserId> = message.mentions.iter().filter(|user| **user != message.author).cloned().collect();
        if users.is_empty() {
            return;
        }
        let json = ServerEvent::Mention { message: view.clone() }.to_json();
        self.publish(None, None, &users, &json, None);
        let _ = self.sender.send(Command::Notify { users, json }).await;
    }

    fn publish(&self, conversation: Option<&ConversationId>, seq: Option<i64>, users: &[UserId], json: &Arc<str>, committed_at_ms: Option<i64>) {
        let Some(bus) = &self.bus else { return };
        let payload = BusChat {
            node: bus.node(),
            conversation: conversation.map(ToString::to_string),
            seq,
            users: users.iter().map(ToString::to_string).collect(),
            committed_at_ms,
            json: json.to_string(),
        };
        if let Ok(bytes) = serde_json::to_vec(&payload) {
            bus.publish_chat(Bytes::from(bytes));
        }
    }
}

/// Starts the hub task once the application state exists.
pub struct HubStarter {
    receiver: mpsc::Receiver<Command>,
    bus: Option<Bus>,
    tracker: tokio_util::task::TaskTracker,
}

impl HubStarter {
    pub async fn start(self, state: AppState, shutdown: CancellationToken) {
        let subscription = match &self.bus {
            Some(bus) => match bus.subscribe_chat().await {
                Ok(subscription) => Some(subscription),
                Err(error) => {
                    warn!(error = %error, "chat: cannot subscribe to the bus; other nodes' messages arrive on reconnect only");
                    None
                }
            },
            None => None,
        };
        let node = self.bus.as_ref().map(Bus::node);
        let task = Hub { state, connections: HashMap::new(), subscribers: HashMap::new() };
        self.tracker.spawn(task.run(self.receiver, subscription, node, shutdown));
    }
}

struct Hub {
    state: AppState,
    connections: HashMap<u64, Connection>,
    /// conversation → connection → next seq it expects.
    subscribers: HashMap<ConversationId, HashMap<u64, i64>>,
}

impl Hub {
    async fn run(
        mut self,
        mut commands: mpsc::Receiver<Command>,
        mut subscription: Option<async_nats::Subscriber>,
        node: Option<u64>,
        shutdown: CancellationToken,
    ) {
        loop {
            let command = tokio::select! {
                () = shutdown.cancelled() => return,
                command = commands.recv() => match command {
                    Some(command) => command,
                    None => return,
                },
                incoming = next_bus(&mut subscription) => match incoming.and_then(|m| from_bus(&m.payload, node)) {
                    Some(command) => command,
                    None => continue,
                },
            };
            self.handle(command).await;
        }
    }

    async fn handle(&mut self, command: Command) {
        match command {
            Command::Connect { connection, user, outbox, kick } => {
                self.connections.insert(connection, Connection { user, outbox, kick, conversations: HashSet::new() });
            }
            Command::Disconnect { connection } => {
                if let Some(gone) = self.connections.remove(&connection) {
                    for conversation in gone.conversations {
                        self.drop_subscriber(&conversation, connection);
                    }
                }
            }
            Command::Subscribe { connection, conversation, after_seq } => self.subscribe(connection, conversation, after_seq).await,
            Command::Unsubscribe { connection, conversation } => {
                if let Some(subscriber) = self.connections.get_mut(&connection) {
                    subscriber.conversations.remove(&conversation);
                }
                self.drop_subscriber(&conversation, connection);
            }
            Command::Message { conversation, seq, json, committed_at_ms } => {
                self.deliver(conversation, seq, json).await;
                let delay_ms = crate::auth::now_ms().saturating_sub(committed_at_ms).max(0);
                self.state.hub.metrics().chat_delivery_seconds.observe(delay_ms as f64 / 1000.0);
            }
            Command::Event { conversation, json } => {
                let targets: Vec<u64> = self.subscribers.get(&conversation).map(|s| s.keys().copied().collect()).unwrap_or_default();
                for connection in targets {
                    self.send(connection, json.clone());
                }
            }
            Command::Notify { users, json } => {
                let targets: Vec<u64> = self.connections.iter().filter(|(_, c)| users.contains(&c.user)).map(|(id, _)| *id).collect();
                for connection in targets {
                    self.send(connection, json.clone());
                }
            }
        }
    }

    fn drop_subscriber(&mut self, conversation: &ConversationId, connection: u64) {
        if let Some(subscribers) = self.subscribers.get_mut(conversation) {
            subscribers.remove(&connection);
            if subscribers.is_empty() {
                self.subscribers.remove(conversation);
            }
        }
    }

    /// Queues a frame for a connection; a full queue disconnects it.
    fn send(&mut self, connection: u64, json: Arc<str>) -> bool {
        let Some(target) = self.connections.get(&connection) else { return false };
        if target.outbox.try_send(json).is_ok() {
            return true;
        }
        target.kick.cancel();
        if let Some(gone) = self.connections.remove(&connection) {
            for conversation in gone.conversations {
                self.drop_subscriber(&conversation, connection);
            }
        }
        false
    }

    /// Committed messages after `after_seq`, up to `up_to` (or the end), rendered.
    async fn committed_after(&self, conversation: &ConversationId, after_seq: i64, up_to: Option<i64>) -> Option<Vec<(i64, Arc<str>)>> {
        let mut rendered = Vec::new();
        let mut after = after_seq;
        loop {
            let page = match self.state.chat.messages_after(conversation, after, CATCH_UP_PAGE).await {
                Ok(page) => page,
                Err(error) => {
                    warn!(error = %error, "chat: cannot read messages to catch up");
                    return None;
                }
            };
            let views = match service::views(&self.state, &page).await {
                Ok(views) => views,
                Err(error) => {
                    warn!(error = %error, "chat: cannot render messages to catch up");
                    return None;
                }
            };
            let full = page.len() as u32 == CATCH_UP_PAGE;
            for view in views {
                if up_to.is_some_and(|limit| view.seq > limit) {
                    return Some(rendered);
                }
                after = view.seq;
                rendered.push((view.seq, ServerEvent::Message { message: view }.to_json()));
            }
            if !full {
                return Some(rendered);
            }
        }
    }

    async fn subscribe(&mut self, connection: u64, conversation: ConversationId, after_seq: i64) {
        if !self.connections.contains_key(&connection) {
            return;
        }
        let Some(backlog) = self.committed_after(&conversation, after_seq.max(0), None).await else {
            let error = ServerEvent::Error { code: "unavailable".into(), message: "cannot read this conversation now".into(), client_id: None };
            self.send(connection, error.to_json());
            return;
        };
        let mut next = after_seq.max(0) + 1;
        for (seq, json) in backlog {
            if !self.send(connection, json) {
                return;
            }
            next = seq + 1;
        }
        let done = ServerEvent::Subscribed { conversation_id: conversation.to_string(), last_seq: next - 1 };
        if !self.send(connection, done.to_json()) {
            return;
        }
        if let Some(subscriber) = self.connections.get_mut(&connection) {
            subscriber.conversations.insert(conversation.clone());
        }
        self.subscribers.entry(conversation).or_default().insert(connection, next);
    }

    async fn deliver(&mut self, conversation: ConversationId, seq: i64, json: Arc<str>) {
        let Some(subscribers) = self.subscribers.get(&conversation) else { return };
        let lagging_from = subscribers.values().copied().filter(|next| *next < seq).min();
        // Someone expects an earlier seq: the messages in between are committed (seqs are
        // assigned at commit), so read them once for all lagging subscribers.
        let fill = match lagging_from {
            Some(from) => self.committed_after(&conversation, from - 1, Some(seq - 1)).await.unwrap_or_default(),
            None => Vec::new(),
        };
        let targets: Vec<(u64, i64)> = self.subscribers.get(&conversation).map(|s| s.iter().map(|(c, n)| (*c, *n)).collect()).unwrap_or_default();
        for (connection, mut next) in targets {
            if seq < next {
                continue;
            }
            let mut alive = true;
            for (fill_seq, fill_json) in &fill {
                if *fill_seq == next {
                    alive = self.send(connection, fill_json.clone());
                    next += 1;
                    if !alive {
                        break;
                    }
                }
            }
            if !alive {
                continue;
            }
            if seq == next && self.send(connection, json.clone()) {
                next += 1;
            }
            if let Some(entry) = self.subscribers.get_mut(&conversation).and_then(|s| s.get_mut(&connection)) {
                *entry = next;
            }
        }
    }
}

async fn next_bus(subscription: &mut Option<async_nats::Subscriber>) -> Option<async_nats::Message> {
    match subscription {
        Some(subscriber) => subscriber.next().await,
        None => std::future::pending().await,
    }
}

fn from_bus(payload: &Bytes, node: Option<u64>) -> Option<Command> {
    let event: BusChat = serde_json::from_slice(payload).ok()?;
    if Some(event.node) == node {
        return None;
    }
    let json: Arc<str> = Arc::from(event.json);
    if !event.users.is_empty() {
        let users = event.users.iter().filter_map(|id| UserId::parse(id)).collect();
        return Some(Command::Notify { users, json });
    }
    let conversation = ConversationId::parse(event.conversation.as_deref()?)?;
    Some(match event.seq {
        Some(seq) => Command::Message { conversation, seq, json, committed_at_ms: event.committed_at_ms.unwrap_or_else(crate::auth::now_ms) },
        None => Command::Event { conversation, json },
    })
}
