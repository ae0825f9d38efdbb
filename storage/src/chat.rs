//! Chat, as stored: conversations, messages, mentions, reactions, read markers, attachments
//! and full-text search (`0003_chat.sql`).
//!
//! Invariants owned here:
//! - a message's seq is assigned by the database under the conversation row's lock, so seqs
//!   are dense (1, 2, 3...) per conversation across every node, and a message is visible to
//!   readers only once committed;
//! - posting is idempotent on (conversation, author, client id): a retry returns the message
//!   first stored, without a new seq;
//! - an attachment's blob is written before its row, and a failed row write removes the blob.
//!
//! Who may read or write a conversation is the server's decision; search takes the list of
//! conversations the caller may read and never looks elsewhere.

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::directory::{UnixMillis, UserId, WorkspaceId};
use crate::error::StoreError;
use crate::id::DocumentId;

/// The most messages one call returns ([`Chat::messages_after`], [`Chat::messages_before`],
/// [`Chat::search_messages`]): a larger `limit` is lowered to it, and 0 means it.
pub const MAX_MESSAGES_PER_PAGE: u32 = 1000;

crate::directory::text_id!(
    /// A conversation: a channel, a direct message or a document's discussion.
    ConversationId
);
crate::directory::text_id!(
    /// A message, across conversations (the pair conversation + seq also identifies it).
    MessageId
);
crate::directory::text_id!(
    /// An uploaded attachment.
    AttachmentId
);

/// What a conversation is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConversationKind {
    /// A named channel of a workspace, public to its members or private.
    Channel,
    /// Two people or a small group.
    Direct,
    /// The discussion beside one document.
    Document,
}

impl ConversationKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            ConversationKind::Channel => "channel",
            ConversationKind::Direct => "direct",
            ConversationKind::Document => "document",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Conversation {
    pub id: ConversationId,
    pub kind: ConversationKind,
    /// Channels and (when the document has one) document discussions.
    pub workspace: Option<WorkspaceId>,
    /// Document discussions.
    pub document: Option<DocumentId>,
    /// Channels.
    pub name: Option<String>,
    /// Private channels: readable only by their members.
    pub private: bool,
    pub created_by: Option<UserId>,
    pub created_at_ms: UnixMillis,
    /// The seq of the last message (0 when empty).
    pub last_seq: i64,
}

/// A conversation to create.
#[derive(Clone, Debug)]
pub enum NewConversation {
    Channel {
        workspace: WorkspaceId,
        name: String,
        private: bool,
        created_by: UserId,
    },
    /// Participants, the creator included (added if missing, duplicates ignored); 2 or more
    /// distinct users, else [`StoreError::NotFound`] (the other participant is missing).
    /// Creating the same set again, in any order, returns the existing conversation.
    Direct {
        participants: Vec<UserId>,
        created_by: UserId,
    },
    /// Creating it again returns the existing one.
    Document {
        document: DocumentId,
        workspace: Option<WorkspaceId>,
    },
}

/// A conversation as one user sees it in their list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConversationState {
    pub conversation: Conversation,
    /// The user's last read seq (0 if never read).
    pub last_read_seq: i64,
    /// Messages after `last_read_seq` not written by the user and not deleted.
    pub unread: u64,
    /// Of those, the ones mentioning the user (or `@channel`).
    pub mentions: u64,
}

/// A stored message. A deleted one has an empty body, no mentions and no attachments, and
/// `deleted_at_ms` set.
///
/// `mentions` are sorted by user id, without duplicates; `attachments` are in upload order
/// (their `created_at_ms`, then id).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    pub conversation: ConversationId,
    pub seq: i64,
    pub id: MessageId,
    pub author: UserId,
    pub client_id: String,
    pub body: String,
    pub reply_to_seq: Option<i64>,
    pub mentions: Vec<UserId>,
    pub mentions_all: bool,
    pub attachments: Vec<AttachmentId>,
    pub created_at_ms: UnixMillis,
    pub edited_at_ms: Option<UnixMillis>,
    pub deleted_at_ms: Option<UnixMillis>,
}

/// A message to post.
#[derive(Clone, Debug)]
pub struct NewMessage {
    pub conversation: ConversationId,
    pub author: UserId,
    /// The sender's own id (1..=64 characters, checked by the server).
    pub client_id: String,
    pub body: String,
    /// Must be an existing seq of the same conversation (else [`StoreError::NotFound`]).
    pub reply_to_seq: Option<i64>,
    /// Users mentioned by name (resolved by the server).
    pub mentions: Vec<UserId>,
    /// `@channel`.
    pub mentions_all: bool,
    /// Attachments uploaded to this conversation by the author and not yet used; they are
    /// attached in the same transaction (else [`StoreError::NotFound`] and nothing is posted).
    pub attachments: Vec<AttachmentId>,
}

/// The result of a post.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Posted {
    pub message: Message,
    /// False when the (author, client id) pair had been posted before: nothing new was
    /// stored and `message` is the first one.
    pub created: bool,
}

/// One emoji on one message, with who put it there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reaction {
    pub seq: i64,
    pub emoji: String,
    pub users: Vec<UserId>,
}

/// An attachment's record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attachment {
    pub id: AttachmentId,
    pub conversation: ConversationId,
    pub uploaded_by: UserId,
    pub file_name: String,
    pub content_type: String,
    pub len: u64,
    pub sha256_hex: String,
    pub created_at_ms: UnixMillis,
    /// Set once a message uses it.
    pub message_seq: Option<i64>,
}

/// An attachment to store.
#[derive(Clone, Debug)]
pub struct NewAttachment {
    pub conversation: ConversationId,
    pub uploaded_by: UserId,
    pub file_name: String,
    pub content_type: String,
}

/// Chat storage, implemented by [`crate::SqliteStore`] and [`crate::PostgresStore`].
#[async_trait::async_trait]
pub trait Chat: Send + Sync + 'static {
    /// Creates a conversation; direct and document conversations are found instead when they
    /// exist (also when another node creates the same one at the same time). Direct
    /// participants become members (`is_member`), a channel's creator too.
    ///
    /// An unknown workspace, document or user is [`StoreError::NotFound`], as is a direct
    /// conversation with fewer than two distinct participants.
    async fn create_conversation(&self, new: NewConversation) -> Result<Conversation, StoreError>;
    async fn conversation(&self, id: &ConversationId) -> Result<Option<Conversation>, StoreError>;
    async fn document_conversation(
        &self,
        document: &DocumentId,
    ) -> Result<Option<Conversation>, StoreError>;
    /// A workspace's channels (private ones included: the caller filters), by name.
    async fn workspace_channels(
        &self,
        workspace: &WorkspaceId,
    ) -> Result<Vec<Conversation>, StoreError>;
    /// Direct conversations the user takes part in, most recent message first.
    async fn direct_conversations_of(&self, user: &UserId)
    -> Result<Vec<Conversation>, StoreError>;
    /// Explicit members (private channels, direct messages), sorted by id.
    async fn conversation_members(&self, id: &ConversationId) -> Result<Vec<UserId>, StoreError>;
    async fn is_conversation_member(
        &self,
        id: &ConversationId,
        user: &UserId,
    ) -> Result<bool, StoreError>;
    /// Makes the user an explicit member (keeping any read marker); an unknown conversation
    /// or user is [`StoreError::NotFound`].
    async fn add_conversation_member(
        &self,
        id: &ConversationId,
        user: &UserId,
    ) -> Result<(), StoreError>;
    /// Ends an explicit membership; the user's read marker stays. Returns false if the user
    /// was not a member.
    async fn remove_conversation_member(
        &self,
        id: &ConversationId,
        user: &UserId,
    ) -> Result<bool, StoreError>;
    /// The user's read state and counts for each of `conversations` (in that order; unknown
    /// ids are skipped, repeated ones repeated).
    async fn conversation_states(
        &self,
        user: &UserId,
        conversations: &[ConversationId],
    ) -> Result<Vec<ConversationState>, StoreError>;

    /// Posts a message: in one transaction, returns the earlier message if (conversation,
    /// author, client id) exists; else bumps the conversation's `last_seq` under its row lock,
    /// inserts the message with that seq and the current time, its mentions, and attaches the
    /// attachments.
    ///
    /// An unknown conversation, author or mentioned user, a missing `reply_to_seq` or an
    /// attachment that cannot be used is [`StoreError::NotFound`]; then nothing is stored and
    /// no seq is used. A retry's other fields are ignored: the first message is returned.
    async fn post_message(&self, message: NewMessage) -> Result<Posted, StoreError>;
    async fn message(
        &self,
        conversation: &ConversationId,
        seq: i64,
    ) -> Result<Option<Message>, StoreError>;
    /// Messages with seq > `after_seq`, ascending, at most `limit` (see
    /// [`MAX_MESSAGES_PER_PAGE`]).
    async fn messages_after(
        &self,
        conversation: &ConversationId,
        after_seq: i64,
        limit: u32,
    ) -> Result<Vec<Message>, StoreError>;
    /// Messages with seq < `before_seq`, the `limit` closest ones, ascending (see
    /// [`MAX_MESSAGES_PER_PAGE`]).
    async fn messages_before(
        &self,
        conversation: &ConversationId,
        before_seq: i64,
        limit: u32,
    ) -> Result<Vec<Message>, StoreError>;
    /// Replaces the body of a message that is not deleted; sets `edited_at_ms`. Returns the
    /// new message, or `None` if there is no such live message.
    async fn edit_message(
        &self,
        conversation: &ConversationId,
        seq: i64,
        body: &str,
    ) -> Result<Option<Message>, StoreError>;
    /// Empties the body and sets `deleted_at_ms`; the seq stays. Its mentions and reactions
    /// are removed, and its attachments too: their rows in the transaction, then their blobs
    /// (best effort: a failure leaves an orphan blob, logged). Returns the message, or `None`
    /// if there is no such live message.
    async fn delete_message(
        &self,
        conversation: &ConversationId,
        seq: i64,
    ) -> Result<Option<Message>, StoreError>;

    /// Adds a reaction; returns false if it was there already. A missing or deleted message,
    /// or an unknown user, is [`StoreError::NotFound`].
    async fn add_reaction(
        &self,
        conversation: &ConversationId,
        seq: i64,
        user: &UserId,
        emoji: &str,
    ) -> Result<bool, StoreError>;
    async fn remove_reaction(
        &self,
        conversation: &ConversationId,
        seq: i64,
        user: &UserId,
        emoji: &str,
    ) -> Result<bool, StoreError>;
    /// Reactions on live messages with seq in `from_seq..=to_seq`, by seq then emoji (byte
    /// order); each emoji's users in the order they reacted.
    async fn reactions(
        &self,
        conversation: &ConversationId,
        from_seq: i64,
        to_seq: i64,
    ) -> Result<Vec<Reaction>, StoreError>;

    /// Moves the user's read marker forward to `seq` (never backward, never past
    /// `last_seq`); returns the marker now stored. A reader who is not a member gets a row
    /// with `is_member` false. An unknown conversation or user is [`StoreError::NotFound`].
    async fn mark_read(
        &self,
        conversation: &ConversationId,
        user: &UserId,
        seq: i64,
    ) -> Result<i64, StoreError>;
    /// Everyone's read marker in the conversation (members and readers), sorted by user id.
    async fn read_markers(
        &self,
        conversation: &ConversationId,
    ) -> Result<Vec<(UserId, i64)>, StoreError>;

    /// Full-text search of live messages in `conversations` only, best matches first (then
    /// most recent), at most `limit`. Postgres: `relais_french` (French stemming, accents
    /// ignored) with `websearch_to_tsquery`; SQLite: FTS5 with diacritics removed, each word
    /// of the query a prefix-less term, all required. The query is plain text from a user:
    /// it is never interpreted as FTS syntax that could fail or escape (quote each term).
    /// A query without words, or no conversations, finds nothing. At most
    /// [`MAX_MESSAGES_PER_PAGE`] results.
    async fn search_messages(
        &self,
        conversations: &[ConversationId],
        query: &str,
        limit: u32,
    ) -> Result<Vec<Message>, StoreError>;

    /// Stores an attachment: the blob first under `attachments/{conversation}/{id}` with
    /// create-only semantics, then its row; if the row cannot be written the blob is deleted.
    /// An unknown conversation or user is [`StoreError::NotFound`].
    async fn put_attachment(
        &self,
        attachment: NewAttachment,
        bytes: Bytes,
    ) -> Result<Attachment, StoreError>;
    async fn attachment(&self, id: &AttachmentId) -> Result<Option<Attachment>, StoreError>;
    /// The blob, checked against its recorded length and sha256 ([`StoreError::Corrupt`] on a
    /// mismatch or a missing blob).
    async fn attachment_bytes(&self, attachment: &Attachment) -> Result<Bytes, StoreError>;
}
