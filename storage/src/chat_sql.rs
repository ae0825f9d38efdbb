//! The [`Chat`](crate::Chat) implementation both backends share.
//!
//! As in [`crate::directory_sql`], the SQL is written once (`$1, $2…` placeholders, times as
//! `i64` Unix milliseconds, text ids, booleans bound as `bool`) and the [`impl_chat!`] macro
//! expands the same method bodies for [`crate::SqliteStore`] and [`crate::PostgresStore`],
//! writing through `directory_writer()` and reading through `directory_reader()`.
//!
//! What differs between the backends comes in as macro parameters:
//! - a list of ids is bound as one parameter, `$1`: a `text[]` matched with `= ANY($1)` on
//!   Postgres, a JSON array matched with `IN (SELECT value FROM json_each($1))` on SQLite;
//! - full-text search: a generated `tsvector` column and `websearch_to_tsquery` on Postgres,
//!   an FTS5 table on SQLite, each with its own way of turning the user's words into a query.
//!
//! A message's seq comes from `UPDATE conversations SET last_seq = last_seq + 1 ... RETURNING`
//! in the posting transaction: on Postgres the update holds the conversation row's lock until
//! commit, so posts from every node queue on it; on SQLite the writer's `BEGIN IMMEDIATE`
//! already serialises them. A rolled back post gives its seq back.

use std::collections::HashMap;

use object_store::path::Path;
use sqlx::error::ErrorKind;

use crate::chat::{
    Attachment, AttachmentId, Conversation, ConversationId, ConversationKind, ConversationState,
    MAX_MESSAGES_PER_PAGE, Message, MessageId, Reaction,
};
use crate::directory::{UnixMillis, UserId, WorkspaceId};
use crate::directory_sql::DirectoryRow;
use crate::error::StoreError;
use crate::id::DocumentId;

/// The columns of a `conversations` row aliased `c`, as [`conversation`] reads them.
macro_rules! conversation_columns {
    () => {
        "c.id AS conversation_id, c.kind AS conversation_kind, \
         c.workspace_id AS conversation_workspace_id, c.document_id AS conversation_document_id, \
         c.name AS conversation_name, c.private AS conversation_private, \
         c.created_by AS conversation_created_by, c.created_at_ms AS conversation_created_at_ms, \
         c.last_seq AS conversation_last_seq"
    };
}
pub(crate) use conversation_columns;

/// The columns of a `messages` row aliased `m`, as [`message`] reads them.
macro_rules! message_columns {
    () => {
        "m.conversation_id AS message_conversation_id, m.seq AS message_seq, \
         m.id AS message_id, m.author_id AS message_author_id, \
         m.client_id AS message_client_id, m.body AS message_body, \
         m.reply_to_seq AS message_reply_to_seq, m.mentions_all AS message_mentions_all, \
         m.created_at_ms AS message_created_at_ms, m.edited_at_ms AS message_edited_at_ms, \
         m.deleted_at_ms AS message_deleted_at_ms"
    };
}
pub(crate) use message_columns;

/// The columns of an `attachments` row aliased `a`, as [`attachment`] reads them.
macro_rules! attachment_columns {
    () => {
        "a.id AS attachment_id, a.conversation_id AS attachment_conversation_id, \
         a.uploaded_by AS attachment_uploaded_by, a.file_name AS attachment_file_name, \
         a.content_type AS attachment_content_type, a.len AS attachment_len, \
         a.sha256 AS attachment_sha256, a.created_at_ms AS attachment_created_at_ms, \
         a.message_seq AS attachment_message_seq"
    };
}
pub(crate) use attachment_columns;

/// Postgres search: `$1` the conversations (`text[]`), `$2` the user's text, `$3` the limit.
pub(crate) const POSTGRES_SEARCH: &str = concat!(
    "SELECT ",
    message_columns!(),
    " FROM messages m, websearch_to_tsquery('relais_french', $2) AS query
     WHERE m.conversation_id = ANY($1) AND m.deleted_at_ms IS NULL AND m.search @@ query
     ORDER BY ts_rank(m.search, query) DESC, m.created_at_ms DESC, m.conversation_id, m.seq
     LIMIT $3"
);

/// SQLite search: `$1` the conversations (a JSON array), `$2` an FTS5 query made by
/// [`fts5_query`], `$3` the limit. FTS5's `rank` is bm25, lower is better.
pub(crate) const SQLITE_SEARCH: &str = concat!(
    "SELECT ",
    message_columns!(),
    " FROM messages_fts JOIN messages m ON m.row_id = messages_fts.rowid
     WHERE messages_fts MATCH $2
         AND m.conversation_id IN (SELECT value FROM json_each($1))
         AND m.deleted_at_ms IS NULL
     ORDER BY messages_fts.rank, m.created_at_ms DESC, m.conversation_id, m.seq
     LIMIT $3"
);

/// Ids bound as one Postgres `text[]` parameter.
pub(crate) fn postgres_id_list(ids: &[&str]) -> Vec<String> {
    ids.iter().map(|&id| id.to_owned()).collect()
}

/// Ids bound as one SQLite parameter: a JSON array of strings, read with `json_each`.
pub(crate) fn sqlite_id_list(ids: &[&str]) -> String {
    serde_json::Value::Array(
        ids.iter()
            .map(|&id| serde_json::Value::String(id.to_owned()))
            .collect(),
    )
    .to_string()
}

/// The user's text as Postgres takes it (`websearch_to_tsquery` accepts any text; only NUL,
/// which Postgres text cannot hold, is replaced), or `None` when there is nothing to look for.
pub(crate) fn websearch_query(query: &str) -> Option<String> {
    let query = query.replace('\0', " ");
    let query = query.trim();
    (!query.is_empty()).then(|| query.to_owned())
}

/// The user's text as an FTS5 query: each word a quoted string (so no word is read as an
/// operator, a column filter or a prefix), all of them required; `None` when there is no word.
///
/// Words are split on whitespace and ASCII punctuation; other separators inside a word (a
/// curly apostrophe...) are left to the tokenizer, which reads the quoted word as a phrase.
/// Pieces without a letter or digit are dropped: they would be empty phrases.
pub(crate) fn fts5_query(query: &str) -> Option<String> {
    let terms: Vec<String> = query
        .split(|c: char| c.is_whitespace() || c.is_ascii_punctuation())
        .filter(|term| term.chars().any(char::is_alphanumeric))
        .map(|term| format!("\"{}\"", term.replace('"', "\"\"")))
        .collect();
    (!terms.is_empty()).then(|| terms.join(" "))
}

/// `limit` as SQL takes it: at most [`MAX_MESSAGES_PER_PAGE`], and 0 means that maximum.
pub(crate) fn page_limit(limit: u32) -> i64 {
    if limit == 0 {
        i64::from(MAX_MESSAGES_PER_PAGE)
    } else {
        i64::from(limit.min(MAX_MESSAGES_PER_PAGE))
    }
}

/// A direct conversation's distinct participants, the creator included, sorted.
pub(crate) fn direct_participants(
    mut participants: Vec<UserId>,
    created_by: &UserId,
) -> Result<Vec<UserId>, StoreError> {
    participants.push(created_by.clone());
    participants.sort();
    participants.dedup();
    if participants.len() < 2 {
        return Err(StoreError::NotFound(
            "a direct conversation needs another participant".into(),
        ));
    }
    Ok(participants)
}

/// The key that makes one set of participants one direct conversation.
pub(crate) fn direct_key(sorted_participants: &[UserId]) -> String {
    sorted_participants
        .iter()
        .map(UserId::as_str)
        .collect::<Vec<_>>()
        .join(",")
}

/// Where an attachment's blob lives: `attachments/{conversation}/{attachment}`.
pub(crate) fn attachment_path(conversation: &ConversationId, id: &AttachmentId) -> Path {
    Path::from_iter(["attachments", conversation.as_str(), id.as_str()])
}

/// True for a unique violation: someone else stored the same key first.
pub(crate) fn is_unique_violation(error: &sqlx::Error) -> bool {
    matches!(
        error,
        sqlx::Error::Database(database) if database.kind() == ErrorKind::UniqueViolation
    )
}

fn conversation_kind(value: &str) -> Result<ConversationKind, StoreError> {
    match value {
        "channel" => Ok(ConversationKind::Channel),
        "direct" => Ok(ConversationKind::Direct),
        "document" => Ok(ConversationKind::Document),
        other => Err(StoreError::corrupt(format!(
            "unknown conversation kind {other:?}"
        ))),
    }
}

/// A conversation from [`conversation_columns!`].
pub(crate) fn conversation(row: &impl DirectoryRow) -> Result<Conversation, StoreError> {
    let document = match row.optional_text("conversation_document_id")? {
        Some(name) => Some(DocumentId::parse(&name).map_err(|_| {
            StoreError::corrupt(format!("invalid document name {name:?} in a conversation"))
        })?),
        None => None,
    };
    Ok(Conversation {
        id: ConversationId::from_db(row.text("conversation_id")?),
        kind: conversation_kind(&row.text("conversation_kind")?)?,
        workspace: row
            .optional_text("conversation_workspace_id")?
            .map(WorkspaceId::from_db),
        document,
        name: row.optional_text("conversation_name")?,
        private: row.flag("conversation_private")?,
        created_by: row
            .optional_text("conversation_created_by")?
            .map(UserId::from_db),
        created_at_ms: row.int("conversation_created_at_ms")?,
        last_seq: row.int("conversation_last_seq")?,
    })
}

/// A message from [`message_columns!`], without its mentions and attachments (see
/// [`add_details`]).
pub(crate) fn message(row: &impl DirectoryRow) -> Result<Message, StoreError> {
    Ok(Message {
        conversation: ConversationId::from_db(row.text("message_conversation_id")?),
        seq: row.int("message_seq")?,
        id: MessageId::from_db(row.text("message_id")?),
        author: UserId::from_db(row.text("message_author_id")?),
        client_id: row.text("message_client_id")?,
        body: row.text("message_body")?,
        reply_to_seq: row.optional_int("message_reply_to_seq")?,
        mentions: Vec::new(),
        mentions_all: row.flag("message_mentions_all")?,
        attachments: Vec::new(),
        created_at_ms: row.int("message_created_at_ms")?,
        edited_at_ms: row.optional_int("message_edited_at_ms")?,
        deleted_at_ms: row.optional_int("message_deleted_at_ms")?,
    })
}

/// An attachment from [`attachment_columns!`].
pub(crate) fn attachment(row: &impl DirectoryRow) -> Result<Attachment, StoreError> {
    let len = row.int("attachment_len")?;
    Ok(Attachment {
        id: AttachmentId::from_db(row.text("attachment_id")?),
        conversation: ConversationId::from_db(row.text("attachment_conversation_id")?),
        uploaded_by: UserId::from_db(row.text("attachment_uploaded_by")?),
        file_name: row.text("attachment_file_name")?,
        content_type: row.text("attachment_content_type")?,
        len: u64::try_from(len)
            .map_err(|_| StoreError::corrupt(format!("attachment length {len} is negative")))?,
        sha256_hex: row.text("attachment_sha256")?,
        created_at_ms: row.int("attachment_created_at_ms")?,
        message_seq: row.optional_int("attachment_message_seq")?,
    })
}

/// One mention read for [`add_details`]: conversation, seq, user.
pub(crate) fn mention_row(row: &impl DirectoryRow) -> Result<(String, i64, UserId), StoreError> {
    Ok((
        row.text("conversation_id")?,
        row.int("seq")?,
        UserId::from_db(row.text("user_id")?),
    ))
}

/// One attachment read for [`add_details`]: conversation, seq, upload time, id.
pub(crate) fn attached_row(
    row: &impl DirectoryRow,
) -> Result<(String, i64, UnixMillis, AttachmentId), StoreError> {
    Ok((
        row.text("conversation_id")?,
        row.int("seq")?,
        row.int("created_at_ms")?,
        AttachmentId::from_db(row.text("id")?),
    ))
}

/// Puts each mention and attachment on its message: mentions sorted by user id, attachments
/// in upload order, the same order a post returns them in.
pub(crate) fn add_details(
    messages: &mut [Message],
    mut mentions: Vec<(String, i64, UserId)>,
    mut attachments: Vec<(String, i64, UnixMillis, AttachmentId)>,
) {
    let index: HashMap<(String, i64), usize> = messages
        .iter()
        .enumerate()
        .map(|(position, message)| {
            (
                (message.conversation.as_str().to_owned(), message.seq),
                position,
            )
        })
        .collect();
    mentions.sort();
    for (conversation, seq, user) in mentions {
        if let Some(&position) = index.get(&(conversation, seq)) {
            messages[position].mentions.push(user);
        }
    }
    attachments.sort();
    for (conversation, seq, _, id) in attachments {
        if let Some(&position) = index.get(&(conversation, seq)) {
            messages[position].attachments.push(id);
        }
    }
}

/// Reaction rows (seq, emoji, user, time) grouped by seq then emoji (byte order), each
/// emoji's users in the order they reacted.
pub(crate) fn group_reactions(mut rows: Vec<(i64, String, UserId, UnixMillis)>) -> Vec<Reaction> {
    rows.sort_by(|a, b| (a.0, &a.1, a.3, &a.2).cmp(&(b.0, &b.1, b.3, &b.2)));
    let mut reactions: Vec<Reaction> = Vec::new();
    for (seq, emoji, user, _) in rows {
        match reactions.last_mut() {
            Some(last) if last.seq == seq && last.emoji == emoji => last.users.push(user),
            _ => reactions.push(Reaction {
                seq,
                emoji,
                users: vec![user],
            }),
        }
    }
    reactions
}

/// The states found, in the order of the ids asked for; unknown ids are skipped.
pub(crate) fn states_in_order(
    asked: &[ConversationId],
    found: Vec<ConversationState>,
) -> Vec<ConversationState> {
    let by_id: HashMap<ConversationId, ConversationState> = found
        .into_iter()
        .map(|state| (state.conversation.id.clone(), state))
        .collect();
    asked
        .iter()
        .filter_map(|id| by_id.get(id).cloned())
        .collect()
}

/// A count read from SQL.
pub(crate) fn count(row: &impl DirectoryRow, column: &str) -> Result<u64, StoreError> {
    let value = row.int(column)?;
    u64::try_from(value).map_err(|_| StoreError::corrupt(format!("negative count {value}")))
}

/// Implements [`crate::Chat`] for a store with the SQL of this module.
///
/// The store provides `directory_writer()` and `directory_reader()` (as for
/// `impl_directory!`) and `objects()`. Parameters:
/// - `db`: the sqlx database type;
/// - `in_ids`: the SQL fragment, after a column, that matches it against the id list `$1`;
/// - `id_list`: `fn(&[&str]) -> T` making that list's bound value;
/// - `search`: the search statement (`$1` ids, `$2` query, `$3` limit);
/// - `search_query`: `fn(&str) -> Option<String>` making `$2` from the user's text, `None`
///   when nothing can match.
macro_rules! impl_chat {
    (
        $store:ty,
        backend = $backend:literal,
        db = $db:ty,
        in_ids = $in_ids:literal,
        id_list = $id_list:path,
        search = $search:expr,
        search_query = $search_query:path $(,)?
    ) => {
        impl $store {
            /// Fills in the mentions and attachments of `messages`, in two queries.
            async fn chat_add_details(
                connection: &mut <$db as sqlx::Database>::Connection,
                messages: &mut [$crate::chat::Message],
            ) -> Result<(), $crate::error::StoreError> {
                use $crate::chat_sql as chat;
                if messages.is_empty() {
                    return Ok(());
                }
                let ids = {
                    let ids: Vec<&str> =
                        messages.iter().map(|message| message.id.as_str()).collect();
                    $id_list(&ids)
                };
                let mentions = sqlx::query(concat!(
                    "SELECT mm.conversation_id AS conversation_id, mm.seq AS seq,
                         mm.user_id AS user_id
                     FROM message_mentions mm
                     JOIN messages m ON m.conversation_id = mm.conversation_id AND m.seq = mm.seq
                     WHERE m.id ",
                    $in_ids
                ))
                .bind(ids.clone())
                .fetch_all(&mut *connection)
                .await?;
                let attachments = sqlx::query(concat!(
                    "SELECT a.conversation_id AS conversation_id, a.message_seq AS seq,
                         a.created_at_ms AS created_at_ms, a.id AS id
                     FROM attachments a
                     JOIN messages m ON m.conversation_id = a.conversation_id
                         AND m.seq = a.message_seq
                     WHERE m.id ",
                    $in_ids
                ))
                .bind(ids)
                .fetch_all(&mut *connection)
                .await?;
                chat::add_details(
                    messages,
                    mentions.iter().map(chat::mention_row).collect::<Result<_, _>>()?,
                    attachments.iter().map(chat::attached_row).collect::<Result<_, _>>()?,
                );
                Ok(())
            }

            /// Messages from rows of [`message_columns!`], with their details.
            async fn chat_messages(
                connection: &mut <$db as sqlx::Database>::Connection,
                rows: &[<$db as sqlx::Database>::Row],
            ) -> Result<Vec<$crate::chat::Message>, $crate::error::StoreError> {
                use $crate::chat_sql as chat;
                let mut messages = rows.iter().map(chat::message).collect::<Result<Vec<_>, _>>()?;
                Self::chat_add_details(connection, &mut messages).await?;
                Ok(messages)
            }

            async fn chat_message_on(
                connection: &mut <$db as sqlx::Database>::Connection,
                conversation: &str,
                seq: i64,
            ) -> Result<Option<$crate::chat::Message>, $crate::error::StoreError> {
                use $crate::chat_sql as chat;
                let rows = sqlx::query(concat!(
                    "SELECT ",
                    chat::message_columns!(),
                    " FROM messages m WHERE m.conversation_id = $1 AND m.seq = $2"
                ))
                .bind(conversation)
                .bind(seq)
                .fetch_all(&mut *connection)
                .await?;
                Ok(Self::chat_messages(connection, &rows).await?.pop())
            }

            async fn chat_message_by_client(
                connection: &mut <$db as sqlx::Database>::Connection,
                new: &$crate::chat::NewMessage,
            ) -> Result<Option<$crate::chat::Message>, $crate::error::StoreError> {
                use $crate::chat_sql as chat;
                let rows = sqlx::query(concat!(
                    "SELECT ",
                    chat::message_columns!(),
                    " FROM messages m
                     WHERE m.conversation_id = $1 AND m.author_id = $2 AND m.client_id = $3"
                ))
                .bind(new.conversation.as_str())
                .bind(new.author.as_str())
                .bind(&new.client_id)
                .fetch_all(&mut *connection)
                .await?;
                Ok(Self::chat_messages(connection, &rows).await?.pop())
            }

            /// The conversation whose `column` (`direct_key` or `document_id`) is `value`.
            async fn chat_conversation_by(
                &self,
                column: $crate::chat_sql::ChatKeyColumn,
                value: &str,
            ) -> Result<Option<$crate::chat::Conversation>, $crate::error::StoreError> {
                use $crate::chat_sql as chat;
                let query = match column {
                    $crate::chat_sql::ChatKeyColumn::DirectKey => concat!(
                        "SELECT ",
                        chat::conversation_columns!(),
                        " FROM conversations c WHERE c.direct_key = $1"
                    ),
                    $crate::chat_sql::ChatKeyColumn::Document => concat!(
                        "SELECT ",
                        chat::conversation_columns!(),
                        " FROM conversations c WHERE c.document_id = $1"
                    ),
                };
                sqlx::query(query)
                    .bind(value)
                    .fetch_optional(self.directory_reader())
                    .await?
                    .as_ref()
                    .map(chat::conversation)
                    .transpose()
            }

            /// Inserts a conversation and its explicit members in one transaction.
            async fn chat_insert_conversation(
                &self,
                conversation: &$crate::chat::Conversation,
                direct_key: Option<&str>,
                members: &[$crate::directory::UserId],
            ) -> Result<(), sqlx::Error> {
                let mut transaction = self.directory_writer().await?;
                sqlx::query(
                    "INSERT INTO conversations (id, kind, workspace_id, document_id, name, private,
                         created_by, created_at_ms, last_seq, direct_key)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                )
                .bind(conversation.id.as_str())
                .bind(conversation.kind.as_str())
                .bind(conversation.workspace.as_ref().map(|id| id.as_str()))
                .bind(conversation.document.as_ref().map(|id| id.as_str()))
                .bind(conversation.name.as_deref())
                .bind(conversation.private)
                .bind(conversation.created_by.as_ref().map(|id| id.as_str()))
                .bind(conversation.created_at_ms)
                .bind(conversation.last_seq)
                .bind(direct_key)
                .execute(&mut *transaction)
                .await?;
                for member in members {
                    sqlx::query(
                        "INSERT INTO conversation_members (conversation_id, user_id, is_member,
                             last_read_seq, joined_at_ms)
                         VALUES ($1, $2, $3, 0, $4)",
                    )
                    .bind(conversation.id.as_str())
                    .bind(member.as_str())
                    .bind(true)
                    .bind(conversation.created_at_ms)
                    .execute(&mut *transaction)
                    .await?;
                }
                transaction.commit().await
            }

            /// Creates a direct or document conversation unless one has the same key; when
            /// another creator wins the race, returns theirs.
            async fn chat_create_keyed(
                &self,
                conversation: $crate::chat::Conversation,
                column: $crate::chat_sql::ChatKeyColumn,
                key: &str,
                members: &[$crate::directory::UserId],
                not_found: &str,
            ) -> Result<$crate::chat::Conversation, $crate::error::StoreError> {
                use $crate::directory_sql as sql;
                if let Some(existing) = self.chat_conversation_by(column, key).await? {
                    return Ok(existing);
                }
                let direct_key =
                    matches!(column, $crate::chat_sql::ChatKeyColumn::DirectKey).then_some(key);
                match self
                    .chat_insert_conversation(&conversation, direct_key, members)
                    .await
                {
                    Ok(()) => Ok(conversation),
                    Err(error) if $crate::chat_sql::is_unique_violation(&error) => self
                        .chat_conversation_by(column, key)
                        .await?
                        .ok_or_else(|| sql::classify(error, &[], not_found)),
                    Err(error) => Err(sql::classify(error, &[], not_found)),
                }
            }
        }

        #[async_trait::async_trait]
        impl $crate::chat::Chat for $store {
            #[tracing::instrument(skip_all, fields(backend = $backend))]
            async fn create_conversation(
                &self,
                new: $crate::chat::NewConversation,
            ) -> Result<$crate::chat::Conversation, $crate::error::StoreError> {
                use $crate::chat::{Conversation, ConversationId, ConversationKind, NewConversation};
                use $crate::chat_sql as chat;
                use $crate::directory_sql as sql;
                let created_at_ms = sql::now_ms();
                match new {
                    NewConversation::Channel { workspace, name, private, created_by } => {
                        let conversation = Conversation {
                            id: ConversationId::generate(),
                            kind: ConversationKind::Channel,
                            workspace: Some(workspace),
                            document: None,
                            name: Some(name),
                            private,
                            created_by: Some(created_by.clone()),
                            created_at_ms,
                            last_seq: 0,
                        };
                        self.chat_insert_conversation(&conversation, None, &[created_by])
                            .await
                            .map_err(|error| sql::classify(error, &[], "workspace or user"))?;
                        Ok(conversation)
                    }
                    NewConversation::Direct { participants, created_by } => {
                        let participants = chat::direct_participants(participants, &created_by)?;
                        let key = chat::direct_key(&participants);
                        let conversation = Conversation {
                            id: ConversationId::generate(),
                            kind: ConversationKind::Direct,
                            workspace: None,
                            document: None,
                            name: None,
                            private: false,
                            created_by: Some(created_by),
                            created_at_ms,
                            last_seq: 0,
                        };
                        self.chat_create_keyed(
                            conversation,
                            $crate::chat_sql::ChatKeyColumn::DirectKey,
                            &key,
                            &participants,
                            "user",
                        )
                        .await
                    }
                    NewConversation::Document { document, workspace } => {
                        let key = document.as_str().to_owned();
                        let conversation = Conversation {
                            id: ConversationId::generate(),
                            kind: ConversationKind::Document,
                            workspace,
                            document: Some(document),
                            name: None,
                            private: false,
                            created_by: None,
                            created_at_ms,
                            last_seq: 0,
                        };
                        self.chat_create_keyed(
                            conversation,
                            $crate::chat_sql::ChatKeyColumn::Document,
                            &key,
                            &[],
                            "document or workspace",
                        )
                        .await
                    }
                }
            }

            async fn conversation(
                &self,
                id: &$crate::chat::ConversationId,
            ) -> Result<Option<$crate::chat::Conversation>, $crate::error::StoreError> {
                use $crate::chat_sql as chat;
                sqlx::query(concat!(
                    "SELECT ",
                    chat::conversation_columns!(),
                    " FROM conversations c WHERE c.id = $1"
                ))
                .bind(id.as_str())
                .fetch_optional(self.directory_reader())
                .await?
                .as_ref()
                .map(chat::conversation)
                .transpose()
            }

            async fn document_conversation(
                &self,
                document: &$crate::id::DocumentId,
            ) -> Result<Option<$crate::chat::Conversation>, $crate::error::StoreError> {
                use $crate::chat_sql::ChatKeyColumn;
                self.chat_conversation_by(ChatKeyColumn::Document, document.as_str())
                    .await
            }

            async fn workspace_channels(
                &self,
                workspace: &$crate::directory::WorkspaceId,
            ) -> Result<Vec<$crate::chat::Conversation>, $crate::error::StoreError> {
                use $crate::chat_sql as chat;
                use $crate::directory_sql as sql;
                let rows = sqlx::query(concat!(
                    "SELECT ",
                    chat::conversation_columns!(),
                    " FROM conversations c WHERE c.workspace_id = $1 AND c.kind = 'channel'"
                ))
                .bind(workspace.as_str())
                .fetch_all(self.directory_reader())
                .await?;
                let mut channels = rows
                    .iter()
                    .map(chat::conversation)
                    .collect::<Result<Vec<_>, _>>()?;
                sql::sort_by_text(&mut channels, |channel| {
                    (channel.name.as_deref().unwrap_or_default(), channel.id.as_str())
                });
                Ok(channels)
            }

            async fn direct_conversations_of(
                &self,
                user: &$crate::directory::UserId,
            ) -> Result<Vec<$crate::chat::Conversation>, $crate::error::StoreError> {
                use $crate::chat_sql as chat;
                use $crate::directory_sql::DirectoryRow as _;
                // The last message is the one at `last_seq`: one primary key lookup each.
                let rows = sqlx::query(concat!(
                    "SELECT ",
                    chat::conversation_columns!(),
                    ", coalesce((SELECT m.created_at_ms FROM messages m
                         WHERE m.conversation_id = c.id AND m.seq = c.last_seq),
                         c.created_at_ms) AS last_activity_ms
                     FROM conversations c
                     JOIN conversation_members cm ON cm.conversation_id = c.id
                     WHERE c.kind = 'direct' AND cm.user_id = $1 AND cm.is_member"
                ))
                .bind(user.as_str())
                .fetch_all(self.directory_reader())
                .await?;
                let mut conversations = rows
                    .iter()
                    .map(|row| Ok((row.int("last_activity_ms")?, chat::conversation(row)?)))
                    .collect::<Result<Vec<_>, $crate::error::StoreError>>()?;
                conversations.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.id.cmp(&b.1.id)));
                Ok(conversations.into_iter().map(|(_, conversation)| conversation).collect())
            }

            async fn conversation_members(
                &self,
                id: &$crate::chat::ConversationId,
            ) -> Result<Vec<$crate::directory::UserId>, $crate::error::StoreError> {
                use $crate::directory_sql::DirectoryRow as _;
                let rows = sqlx::query(
                    "SELECT user_id FROM conversation_members
                     WHERE conversation_id = $1 AND is_member",
                )
                .bind(id.as_str())
                .fetch_all(self.directory_reader())
                .await?;
                let mut members = rows
                    .iter()
                    .map(|row| Ok($crate::directory::UserId::from_db(row.text("user_id")?)))
                    .collect::<Result<Vec<_>, $crate::error::StoreError>>()?;
                members.sort();
                Ok(members)
            }

            async fn is_conversation_member(
                &self,
                id: &$crate::chat::ConversationId,
                user: &$crate::directory::UserId,
            ) -> Result<bool, $crate::error::StoreError> {
                let row = sqlx::query(
                    "SELECT 1 AS present FROM conversation_members
                     WHERE conversation_id = $1 AND user_id = $2 AND is_member",
                )
                .bind(id.as_str())
                .bind(user.as_str())
                .fetch_optional(self.directory_reader())
                .await?;
                Ok(row.is_some())
            }

            async fn add_conversation_member(
                &self,
                id: &$crate::chat::ConversationId,
                user: &$crate::directory::UserId,
            ) -> Result<(), $crate::error::StoreError> {
                use $crate::directory_sql as sql;
                let mut transaction = self.directory_writer().await?;
                sqlx::query(
                    "INSERT INTO conversation_members (conversation_id, user_id, is_member,
                         last_read_seq, joined_at_ms)
                     VALUES ($1, $2, $3, 0, $4)
                     ON CONFLICT (conversation_id, user_id)
                         DO UPDATE SET is_member = excluded.is_member",
                )
                .bind(id.as_str())
                .bind(user.as_str())
                .bind(true)
                .bind(sql::now_ms())
                .execute(&mut *transaction)
                .await
                .map_err(|error| sql::classify(error, &[], "conversation or user"))?;
                transaction.commit().await?;
                Ok(())
            }

            async fn remove_conversation_member(
                &self,
                id: &$crate::chat::ConversationId,
                user: &$crate::directory::UserId,
            ) -> Result<bool, $crate::error::StoreError> {
                let mut transaction = self.directory_writer().await?;
                // The row stays: it holds the user's read marker.
                let removed = sqlx::query(
                    "UPDATE conversation_members SET is_member = $1
                     WHERE conversation_id = $2 AND user_id = $3 AND is_member",
                )
                .bind(false)
                .bind(id.as_str())
                .bind(user.as_str())
                .execute(&mut *transaction)
                .await?
                .rows_affected();
                transaction.commit().await?;
                Ok(removed == 1)
            }

            async fn conversation_states(
                &self,
                user: &$crate::directory::UserId,
                conversations: &[$crate::chat::ConversationId],
            ) -> Result<Vec<$crate::chat::ConversationState>, $crate::error::StoreError> {
                use $crate::chat_sql as chat;
                use $crate::directory_sql::DirectoryRow as _;
                if conversations.is_empty() {
                    return Ok(Vec::new());
                }
                let ids: Vec<&str> = conversations.iter().map(|id| id.as_str()).collect();
                let rows = sqlx::query(concat!(
                    "SELECT ",
                    chat::conversation_columns!(),
                    ", coalesce(cm.last_read_seq, 0) AS last_read_seq,
                     (SELECT count(*) FROM messages m
                         WHERE m.conversation_id = c.id
                             AND m.seq > coalesce(cm.last_read_seq, 0)
                             AND m.author_id <> $2 AND m.deleted_at_ms IS NULL) AS unread,
                     (SELECT count(*) FROM messages m
                         WHERE m.conversation_id = c.id
                             AND m.seq > coalesce(cm.last_read_seq, 0)
                             AND m.author_id <> $2 AND m.deleted_at_ms IS NULL
                             AND (m.mentions_all OR EXISTS (SELECT 1 FROM message_mentions mm
                                 WHERE mm.conversation_id = m.conversation_id
                                     AND mm.seq = m.seq AND mm.user_id = $2))) AS mentions
                     FROM conversations c
                     LEFT JOIN conversation_members cm
                         ON cm.conversation_id = c.id AND cm.user_id = $2
                     WHERE c.id ",
                    $in_ids
                ))
                .bind($id_list(&ids))
                .bind(user.as_str())
                .fetch_all(self.directory_reader())
                .await?;
                let found = rows
                    .iter()
                    .map(|row| {
                        Ok($crate::chat::ConversationState {
                            conversation: chat::conversation(row)?,
                            last_read_seq: row.int("last_read_seq")?,
                            unread: chat::count(row, "unread")?,
                            mentions: chat::count(row, "mentions")?,
                        })
                    })
                    .collect::<Result<Vec<_>, $crate::error::StoreError>>()?;
                Ok(chat::states_in_order(conversations, found))
            }

            #[tracing::instrument(
                skip_all,
                fields(backend = $backend, conversation = %message.conversation)
            )]
            async fn post_message(
                &self,
                message: $crate::chat::NewMessage,
            ) -> Result<$crate::chat::Posted, $crate::error::StoreError> {
                use $crate::chat::{Message, MessageId, Posted};
                use $crate::directory_sql::{self as sql, DirectoryRow as _};
                use $crate::error::StoreError;
                let new = message;
                let mut transaction = self.directory_writer().await?;
                if let Some(first) = Self::chat_message_by_client(&mut transaction, &new).await? {
                    return Ok(Posted { message: first, created: false });
                }
                // Takes the conversation row's lock until commit (Postgres); under SQLite's
                // write lock already. A rollback below gives the seq back.
                let seq = match sqlx::query(
                    "UPDATE conversations SET last_seq = last_seq + 1 WHERE id = $1
                     RETURNING last_seq",
                )
                .bind(new.conversation.as_str())
                .fetch_optional(&mut *transaction)
                .await?
                {
                    Some(row) => row.int("last_seq")?,
                    None => return Err(StoreError::NotFound("conversation".into())),
                };
                if let Some(reply_to_seq) = new.reply_to_seq {
                    let replied = sqlx::query(
                        "SELECT 1 AS present FROM messages WHERE conversation_id = $1 AND seq = $2",
                    )
                    .bind(new.conversation.as_str())
                    .bind(reply_to_seq)
                    .fetch_optional(&mut *transaction)
                    .await?;
                    if replied.is_none() {
                        return Err(StoreError::NotFound("replied message".into()));
                    }
                }
                let mut mentions = new.mentions.clone();
                mentions.sort();
                mentions.dedup();
                let mut posted = Message {
                    conversation: new.conversation.clone(),
                    seq,
                    id: MessageId::generate(),
                    author: new.author.clone(),
                    client_id: new.client_id.clone(),
                    body: new.body.clone(),
                    reply_to_seq: new.reply_to_seq,
                    mentions,
                    mentions_all: new.mentions_all,
                    attachments: Vec::new(),
                    created_at_ms: sql::now_ms(),
                    edited_at_ms: None,
                    deleted_at_ms: None,
                };
                let inserted = sqlx::query(
                    "INSERT INTO messages (conversation_id, seq, id, author_id, client_id, body,
                         reply_to_seq, mentions_all, created_at_ms)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                )
                .bind(posted.conversation.as_str())
                .bind(posted.seq)
                .bind(posted.id.as_str())
                .bind(posted.author.as_str())
                .bind(&posted.client_id)
                .bind(&posted.body)
                .bind(posted.reply_to_seq)
                .bind(posted.mentions_all)
                .bind(posted.created_at_ms)
                .execute(&mut *transaction)
                .await;
                match inserted {
                    Ok(_) => {}
                    // The same (conversation, author, client id) committed by another node
                    // between the look-up and the insert: that one is the message.
                    Err(error) if $crate::chat_sql::is_unique_violation(&error) => {
                        drop(transaction);
                        let mut connection = self.directory_reader().acquire().await?;
                        return match Self::chat_message_by_client(&mut connection, &new).await? {
                            Some(first) => Ok(Posted { message: first, created: false }),
                            None => Err(sql::classify(error, &[], "author")),
                        };
                    }
                    Err(error) => return Err(sql::classify(error, &[], "author")),
                }
                for user in &posted.mentions {
                    sqlx::query(
                        "INSERT INTO message_mentions (conversation_id, seq, user_id)
                         VALUES ($1, $2, $3)",
                    )
                    .bind(posted.conversation.as_str())
                    .bind(posted.seq)
                    .bind(user.as_str())
                    .execute(&mut *transaction)
                    .await
                    .map_err(|error| sql::classify(error, &[], "mentioned user"))?;
                }
                let mut attached = Vec::with_capacity(new.attachments.len());
                for id in &new.attachments {
                    if attached.iter().any(|(_, seen)| seen == id) {
                        continue;
                    }
                    let row = sqlx::query(
                        "UPDATE attachments SET message_seq = $1
                         WHERE id = $2 AND conversation_id = $3 AND uploaded_by = $4
                             AND message_seq IS NULL
                         RETURNING created_at_ms",
                    )
                    .bind(posted.seq)
                    .bind(id.as_str())
                    .bind(posted.conversation.as_str())
                    .bind(posted.author.as_str())
                    .fetch_optional(&mut *transaction)
                    .await?;
                    match row {
                        Some(row) => attached.push((row.int("created_at_ms")?, id.clone())),
                        None => {
                            return Err(StoreError::NotFound(format!(
                                "attachment {id} (unknown, used already, or not the author's \
                                 upload to this conversation)"
                            )));
                        }
                    }
                }
                // Upload order, as reads return them.
                attached.sort();
                posted.attachments = attached.into_iter().map(|(_, id)| id).collect();
                transaction.commit().await?;
                Ok(Posted { message: posted, created: true })
            }

            async fn message(
                &self,
                conversation: &$crate::chat::ConversationId,
                seq: i64,
            ) -> Result<Option<$crate::chat::Message>, $crate::error::StoreError> {
                let mut connection = self.directory_reader().acquire().await?;
                Self::chat_message_on(&mut connection, conversation.as_str(), seq).await
            }

            async fn messages_after(
                &self,
                conversation: &$crate::chat::ConversationId,
                after_seq: i64,
                limit: u32,
            ) -> Result<Vec<$crate::chat::Message>, $crate::error::StoreError> {
                use $crate::chat_sql as chat;
                let mut connection = self.directory_reader().acquire().await?;
                let rows = sqlx::query(concat!(
                    "SELECT ",
                    chat::message_columns!(),
                    " FROM messages m WHERE m.conversation_id = $1 AND m.seq > $2
                     ORDER BY m.seq LIMIT $3"
                ))
                .bind(conversation.as_str())
                .bind(after_seq)
                .bind(chat::page_limit(limit))
                .fetch_all(&mut *connection)
                .await?;
                Self::chat_messages(&mut connection, &rows).await
            }

            async fn messages_before(
                &self,
                conversation: &$crate::chat::ConversationId,
                before_seq: i64,
                limit: u32,
            ) -> Result<Vec<$crate::chat::Message>, $crate::error::StoreError> {
                use $crate::chat_sql as chat;
                let mut connection = self.directory_reader().acquire().await?;
                let rows = sqlx::query(concat!(
                    "SELECT ",
                    chat::message_columns!(),
                    " FROM messages m WHERE m.conversation_id = $1 AND m.seq < $2
                     ORDER BY m.seq DESC LIMIT $3"
                ))
                .bind(conversation.as_str())
                .bind(before_seq)
                .bind(chat::page_limit(limit))
                .fetch_all(&mut *connection)
                .await?;
                let mut messages = Self::chat_messages(&mut connection, &rows).await?;
                messages.reverse();
                Ok(messages)
            }

            async fn edit_message(
                &self,
                conversation: &$crate::chat::ConversationId,
                seq: i64,
                body: &str,
            ) -> Result<Option<$crate::chat::Message>, $crate::error::StoreError> {
                use $crate::directory_sql as sql;
                let mut transaction = self.directory_writer().await?;
                let edited = sqlx::query(
                    "UPDATE messages SET body = $1, edited_at_ms = $2
                     WHERE conversation_id = $3 AND seq = $4 AND deleted_at_ms IS NULL",
                )
                .bind(body)
                .bind(sql::now_ms())
                .bind(conversation.as_str())
                .bind(seq)
                .execute(&mut *transaction)
                .await?
                .rows_affected();
                if edited == 0 {
                    return Ok(None);
                }
                let message =
                    Self::chat_message_on(&mut transaction, conversation.as_str(), seq).await?;
                transaction.commit().await?;
                Ok(message)
            }

            #[tracing::instrument(
                skip_all,
                fields(backend = $backend, conversation = %conversation, seq = seq)
            )]
            async fn delete_message(
                &self,
                conversation: &$crate::chat::ConversationId,
                seq: i64,
            ) -> Result<Option<$crate::chat::Message>, $crate::error::StoreError> {
                use $crate::chat_sql as chat;
                use $crate::directory_sql::{self as sql, DirectoryRow as _};
                use object_store::ObjectStoreExt as _;
                let mut transaction = self.directory_writer().await?;
                let deleted = sqlx::query(
                    "UPDATE messages SET body = '', deleted_at_ms = $1
                     WHERE conversation_id = $2 AND seq = $3 AND deleted_at_ms IS NULL",
                )
                .bind(sql::now_ms())
                .bind(conversation.as_str())
                .bind(seq)
                .execute(&mut *transaction)
                .await?
                .rows_affected();
                if deleted == 0 {
                    return Ok(None);
                }
                for statement in [
                    "DELETE FROM message_mentions WHERE conversation_id = $1 AND seq = $2",
                    "DELETE FROM message_reactions WHERE conversation_id = $1 AND seq = $2",
                ] {
                    sqlx::query(statement)
                        .bind(conversation.as_str())
                        .bind(seq)
                        .execute(&mut *transaction)
                        .await?;
                }
                let removed = sqlx::query(
                    "DELETE FROM attachments WHERE conversation_id = $1 AND message_seq = $2
                     RETURNING id",
                )
                .bind(conversation.as_str())
                .bind(seq)
                .fetch_all(&mut *transaction)
                .await?
                .iter()
                .map(|row| Ok($crate::chat::AttachmentId::from_db(row.text("id")?)))
                .collect::<Result<Vec<_>, $crate::error::StoreError>>()?;
                let message =
                    Self::chat_message_on(&mut transaction, conversation.as_str(), seq).await?;
                transaction.commit().await?;
                // Rows first, blobs second: a failure here leaves an orphan blob, never a row
                // without its blob.
                for id in removed {
                    let path = chat::attachment_path(conversation, &id);
                    if let Err(error) = self.objects().delete(&path).await {
                        tracing::warn!(
                            key = %path,
                            %error,
                            "could not delete a deleted message's attachment blob"
                        );
                    }
                }
                Ok(message)
            }

            async fn add_reaction(
                &self,
                conversation: &$crate::chat::ConversationId,
                seq: i64,
                user: &$crate::directory::UserId,
                emoji: &str,
            ) -> Result<bool, $crate::error::StoreError> {
                use $crate::directory_sql as sql;
                let mut transaction = self.directory_writer().await?;
                let live = sqlx::query(
                    "SELECT 1 AS present FROM messages
                     WHERE conversation_id = $1 AND seq = $2 AND deleted_at_ms IS NULL",
                )
                .bind(conversation.as_str())
                .bind(seq)
                .fetch_optional(&mut *transaction)
                .await?;
                if live.is_none() {
                    return Err($crate::error::StoreError::NotFound("message".into()));
                }
                let added = sqlx::query(
                    "INSERT INTO message_reactions (conversation_id, seq, user_id, emoji,
                         created_at_ms)
                     VALUES ($1, $2, $3, $4, $5)
                     ON CONFLICT (conversation_id, seq, user_id, emoji) DO NOTHING",
                )
                .bind(conversation.as_str())
                .bind(seq)
                .bind(user.as_str())
                .bind(emoji)
                .bind(sql::now_ms())
                .execute(&mut *transaction)
                .await
                .map_err(|error| sql::classify(error, &[], "user"))?
                .rows_affected();
                transaction.commit().await?;
                Ok(added == 1)
            }

            async fn remove_reaction(
                &self,
                conversation: &$crate::chat::ConversationId,
                seq: i64,
                user: &$crate::directory::UserId,
                emoji: &str,
            ) -> Result<bool, $crate::error::StoreError> {
                let mut transaction = self.directory_writer().await?;
                let removed = sqlx::query(
                    "DELETE FROM message_reactions
                     WHERE conversation_id = $1 AND seq = $2 AND user_id = $3 AND emoji = $4",
                )
                .bind(conversation.as_str())
                .bind(seq)
                .bind(user.as_str())
                .bind(emoji)
                .execute(&mut *transaction)
                .await?
                .rows_affected();
                transaction.commit().await?;
                Ok(removed == 1)
            }

            async fn reactions(
                &self,
                conversation: &$crate::chat::ConversationId,
                from_seq: i64,
                to_seq: i64,
            ) -> Result<Vec<$crate::chat::Reaction>, $crate::error::StoreError> {
                use $crate::chat_sql as chat;
                use $crate::directory_sql::DirectoryRow as _;
                let rows = sqlx::query(
                    "SELECT r.seq AS seq, r.emoji AS emoji, r.user_id AS user_id,
                         r.created_at_ms AS created_at_ms
                     FROM message_reactions r
                     JOIN messages m ON m.conversation_id = r.conversation_id AND m.seq = r.seq
                     WHERE r.conversation_id = $1 AND r.seq >= $2 AND r.seq <= $3
                         AND m.deleted_at_ms IS NULL",
                )
                .bind(conversation.as_str())
                .bind(from_seq)
                .bind(to_seq)
                .fetch_all(self.directory_reader())
                .await?;
                let rows = rows
                    .iter()
                    .map(|row| {
                        Ok((
                            row.int("seq")?,
                            row.text("emoji")?,
                            $crate::directory::UserId::from_db(row.text("user_id")?),
                            row.int("created_at_ms")?,
                        ))
                    })
                    .collect::<Result<Vec<_>, $crate::error::StoreError>>()?;
                Ok(chat::group_reactions(rows))
            }

            async fn mark_read(
                &self,
                conversation: &$crate::chat::ConversationId,
                user: &$crate::directory::UserId,
                seq: i64,
            ) -> Result<i64, $crate::error::StoreError> {
                use $crate::directory_sql::{self as sql, DirectoryRow as _};
                let mut transaction = self.directory_writer().await?;
                // A reader without a row gets one that is not a membership. The marker never
                // passes the conversation's last seq nor moves back.
                let row = sqlx::query(
                    "INSERT INTO conversation_members (conversation_id, user_id, is_member,
                         last_read_seq, joined_at_ms)
                     SELECT c.id, $2, $3,
                         CASE WHEN $4 < c.last_seq THEN $4 ELSE c.last_seq END, $5
                     FROM conversations c WHERE c.id = $1
                     ON CONFLICT (conversation_id, user_id) DO UPDATE SET last_read_seq =
                         CASE WHEN excluded.last_read_seq > conversation_members.last_read_seq
                             THEN excluded.last_read_seq
                             ELSE conversation_members.last_read_seq END
                     RETURNING last_read_seq",
                )
                .bind(conversation.as_str())
                .bind(user.as_str())
                .bind(false)
                .bind(seq.max(0))
                .bind(sql::now_ms())
                .fetch_optional(&mut *transaction)
                .await
                .map_err(|error| sql::classify(error, &[], "user"))?;
                let Some(row) = row else {
                    return Err($crate::error::StoreError::NotFound("conversation".into()));
                };
                let marker = row.int("last_read_seq")?;
                transaction.commit().await?;
                Ok(marker)
            }

            async fn read_markers(
                &self,
                conversation: &$crate::chat::ConversationId,
            ) -> Result<Vec<($crate::directory::UserId, i64)>, $crate::error::StoreError> {
                use $crate::directory_sql::DirectoryRow as _;
                let rows = sqlx::query(
                    "SELECT user_id, last_read_seq FROM conversation_members
                     WHERE conversation_id = $1",
                )
                .bind(conversation.as_str())
                .fetch_all(self.directory_reader())
                .await?;
                let mut markers = rows
                    .iter()
                    .map(|row| {
                        Ok((
                            $crate::directory::UserId::from_db(row.text("user_id")?),
                            row.int("last_read_seq")?,
                        ))
                    })
                    .collect::<Result<Vec<_>, $crate::error::StoreError>>()?;
                markers.sort();
                Ok(markers)
            }

            #[tracing::instrument(
                skip_all,
                fields(backend = $backend, conversations = conversations.len())
            )]
            async fn search_messages(
                &self,
                conversations: &[$crate::chat::ConversationId],
                query: &str,
                limit: u32,
            ) -> Result<Vec<$crate::chat::Message>, $crate::error::StoreError> {
                use $crate::chat_sql as chat;
                if conversations.is_empty() {
                    return Ok(Vec::new());
                }
                let Some(query) = $search_query(query) else {
                    return Ok(Vec::new());
                };
                let ids: Vec<&str> = conversations.iter().map(|id| id.as_str()).collect();
                let mut connection = self.directory_reader().acquire().await?;
                let rows = sqlx::query($search)
                    .bind($id_list(&ids))
                    .bind(query)
                    .bind(chat::page_limit(limit))
                    .fetch_all(&mut *connection)
                    .await?;
                Self::chat_messages(&mut connection, &rows).await
            }

            #[tracing::instrument(
                skip_all,
                fields(
                    backend = $backend,
                    conversation = %attachment.conversation,
                    len = bytes.len()
                )
            )]
            async fn put_attachment(
                &self,
                attachment: $crate::chat::NewAttachment,
                bytes: bytes::Bytes,
            ) -> Result<$crate::chat::Attachment, $crate::error::StoreError> {
                use $crate::chat_sql as chat;
                use $crate::directory_sql as sql;
                use object_store::ObjectStoreExt as _;
                let len = i64::try_from(bytes.len()).map_err(|_| {
                    $crate::error::StoreError::Config(
                        "attachment larger than i64::MAX bytes".into(),
                    )
                })?;
                let stored = $crate::chat::Attachment {
                    id: $crate::chat::AttachmentId::generate(),
                    conversation: attachment.conversation,
                    uploaded_by: attachment.uploaded_by,
                    file_name: attachment.file_name,
                    content_type: attachment.content_type,
                    len: bytes.len() as u64,
                    sha256_hex: $crate::objects::sha256_hex(&bytes),
                    created_at_ms: sql::now_ms(),
                    message_seq: None,
                };
                let path = chat::attachment_path(&stored.conversation, &stored.id);
                // Blob first: a row never names a blob that is not there.
                $crate::objects::put_new(self.objects().as_ref(), &path, bytes).await?;
                let recorded: Result<(), $crate::error::StoreError> = async {
                    let mut transaction = self.directory_writer().await?;
                    sqlx::query(
                        "INSERT INTO attachments (id, conversation_id, uploaded_by, file_name,
                             content_type, len, sha256, object_key, created_at_ms)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                    )
                    .bind(stored.id.as_str())
                    .bind(stored.conversation.as_str())
                    .bind(stored.uploaded_by.as_str())
                    .bind(&stored.file_name)
                    .bind(&stored.content_type)
                    .bind(len)
                    .bind(&stored.sha256_hex)
                    .bind(path.as_ref())
                    .bind(stored.created_at_ms)
                    .execute(&mut *transaction)
                    .await
                    .map_err(|error| sql::classify(error, &[], "conversation or user"))?;
                    transaction.commit().await?;
                    Ok(())
                }
                .await;
                if let Err(error) = recorded {
                    if let Err(delete_error) = self.objects().delete(&path).await {
                        tracing::warn!(
                            key = %path,
                            error = %delete_error,
                            "could not delete the blob of an attachment that was not recorded"
                        );
                    }
                    return Err(error);
                }
                Ok(stored)
            }

            async fn attachment(
                &self,
                id: &$crate::chat::AttachmentId,
            ) -> Result<Option<$crate::chat::Attachment>, $crate::error::StoreError> {
                use $crate::chat_sql as chat;
                sqlx::query(concat!(
                    "SELECT ",
                    chat::attachment_columns!(),
                    " FROM attachments a WHERE a.id = $1"
                ))
                .bind(id.as_str())
                .fetch_optional(self.directory_reader())
                .await?
                .as_ref()
                .map(chat::attachment)
                .transpose()
            }

            async fn attachment_bytes(
                &self,
                attachment: &$crate::chat::Attachment,
            ) -> Result<bytes::Bytes, $crate::error::StoreError> {
                use $crate::chat_sql as chat;
                let path = chat::attachment_path(&attachment.conversation, &attachment.id);
                let record = $crate::objects::BlobRecord {
                    key: path.as_ref(),
                    sha256_hex: &attachment.sha256_hex,
                    len: attachment.len,
                };
                $crate::objects::fetch_checked(self.objects().as_ref(), &record).await
            }
        }
    };
}
pub(crate) use impl_chat;

/// The unique columns a direct or document conversation is found again by.
#[derive(Clone, Copy, Debug)]
pub(crate) enum ChatKeyColumn {
    DirectKey,
    Document,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fts5_queries_quote_every_word() {
        assert_eq!(fts5_query("  "), None);
        assert_eq!(fts5_query("*** () \"\" -"), None);
        assert_eq!(
            fts5_query("La délibération"),
            Some("\"La\" \"délibération\"".into())
        );
        assert_eq!(
            fts5_query("\"a\" OR NEAR(b) * c:d"),
            Some("\"a\" \"OR\" \"NEAR\" \"b\" \"c\" \"d\"".into())
        );
        assert_eq!(fts5_query("l'école"), Some("\"l\" \"école\"".into()));
        assert_eq!(fts5_query("l’école"), Some("\"l’école\"".into()));
    }

    #[test]
    fn limits_are_capped() {
        assert_eq!(page_limit(0), 1000);
        assert_eq!(page_limit(10), 10);
        assert_eq!(page_limit(5000), 1000);
    }

    #[test]
    fn direct_participants_are_sorted_distinct_and_include_the_creator() {
        let (a, b) = (UserId::from_db("a".into()), UserId::from_db("b".into()));
        let participants = direct_participants(vec![b.clone(), b.clone()], &a).unwrap();
        assert_eq!(participants, [a.clone(), b.clone()]);
        assert_eq!(direct_key(&participants), "a,b");
        assert!(matches!(
            direct_participants(vec![a.clone()], &a),
            Err(StoreError::NotFound(_))
        ));
    }

    #[test]
    fn reactions_group_by_seq_then_emoji_in_reaction_order() {
        let user = |name: &str| UserId::from_db(name.into());
        let rows = vec![
            (2, "👍".to_owned(), user("z"), 5),
            (1, "👍".to_owned(), user("y"), 9),
            (2, "👍".to_owned(), user("a"), 7),
            (1, "🎉".to_owned(), user("x"), 1),
        ];
        let reactions = group_reactions(rows);
        let summary: Vec<(i64, &str, Vec<&str>)> = reactions
            .iter()
            .map(|reaction| {
                (
                    reaction.seq,
                    reaction.emoji.as_str(),
                    reaction.users.iter().map(UserId::as_str).collect(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                (1, "🎉", vec!["x"]),
                (1, "👍", vec!["y"]),
                (2, "👍", vec!["z", "a"]),
            ]
        );
    }

    #[test]
    fn sqlite_id_lists_are_json_arrays() {
        assert_eq!(sqlite_id_list(&["a", "b\"c"]), r#"["a","b\"c"]"#);
        assert_eq!(sqlite_id_list(&[]), "[]");
    }
}
