//! The chat operations shared by the websocket and the REST API: access, limits, posting,
//! editing, deleting, reactions, read markers, listing and rendering.

use std::collections::HashMap;

use relais_storage::{
    Attachment, AttachmentId, Conversation, ConversationId, ConversationKind, Message, NewMessage, Role, User,
    UserId, UserKind,
};
use serde::Serialize;
use utoipa::ToSchema;

use crate::access;
use crate::api::ApiError;
use crate::auth;
use crate::chat::render;
use crate::http::AppState;

/// What a user may do in a conversation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChatAccess {
    pub read: bool,
    pub write: bool,
    /// May delete others' messages (workspace owners, administrators).
    pub moderate: bool,
    /// When the grant this rests on expires by itself (external partners).
    pub valid_until_ms: Option<i64>,
}

/// A message's author as readers see it; external partners are marked.
#[derive(Serialize, ToSchema, Clone, Debug)]
pub struct AuthorView {
    pub id: String,
    pub display_name: String,
    pub external: bool,
}

impl From<&User> for AuthorView {
    fn from(user: &User) -> Self {
        Self { id: user.id.to_string(), display_name: user.display_name.clone(), external: user.kind == UserKind::External }
    }
}

#[derive(Serialize, ToSchema, Clone, Debug)]
pub struct AttachmentView {
    pub id: String,
    pub file_name: String,
    pub content_type: String,
    pub len: u64,
    /// Where to download it (same-origin, needs the session).
    pub url: String,
}

impl From<&Attachment> for AttachmentView {
    fn from(attachment: &Attachment) -> Self {
        Self {
            id: attachment.id.to_string(),
            file_name: attachment.file_name.clone(),
            content_type: attachment.content_type.clone(),
            len: attachment.len,
            url: format!("/api/attachments/{}", attachment.id),
        }
    }
}

#[derive(Serialize, ToSchema, Clone, Debug)]
pub struct ReactionView {
    pub emoji: String,
    pub user_ids: Vec<String>,
}

/// A message as clients receive it. `body` is the Markdown exactly as sent; `html` is its
/// safe rendering (see [`render`]), the only form a client should insert into a page.
#[derive(Serialize, ToSchema, Clone, Debug)]
pub struct MessageView {
    pub conversation_id: String,
    pub seq: i64,
    pub id: String,
    pub author: AuthorView,
    pub client_id: String,
    pub body: String,
    pub html: String,
    pub reply_to_seq: Option<i64>,
    pub mentions: Vec<String>,
    pub mentions_all: bool,
    pub attachments: Vec<AttachmentView>,
    pub reactions: Vec<ReactionView>,
    pub created_at_ms: i64,
    pub edited_at_ms: Option<i64>,
    /// A deleted message keeps its place (its seq) without its content.
    pub deleted: bool,
}

#[derive(Serialize, ToSchema, Clone, Debug)]
pub struct ConversationView {
    pub id: String,
    /// `channel`, `direct` or `document`.
    pub kind: String,
    pub workspace_id: Option<String>,
    pub document_id: Option<String>,
    pub name: Option<String>,
    pub private: bool,
    pub last_seq: i64,
    pub last_read_seq: i64,
    pub unread: u64,
    pub mentions: u64,
    /// Direct conversations: the participants.
    pub participants: Vec<AuthorView>,
    pub can_write: bool,
}

pub(crate) fn parse_conversation(id: &str) -> Result<ConversationId, ApiError> {
    ConversationId::parse(id).ok_or(ApiError::NotFound("conversation"))
}

/// The user's access to a conversation; `None` gives nothing.
pub async fn access_to(state: &AppState, user: &User, conversation: &Conversation) -> Result<Option<ChatAccess>, ApiError> {
    if user.disabled_at_ms.is_some() {
        return Ok(None);
    }
    let now = auth::now_ms();
    match conversation.kind {
        ConversationKind::Channel => {
            let Some(workspace) = &conversation.workspace else { return Ok(None) };
            let grant = state.directory.workspace_grant(workspace, &user.id).await?;
            let Some(role) = access::workspace_role(user, grant.as_ref(), now) else { return Ok(None) };
            if conversation.private && !user.is_admin && !state.chat.is_conversation_member(&conversation.id, &user.id).await? {
                return Ok(None);
            }
            let valid_until_ms = if user.is_admin { None } else { grant.and_then(|grant| grant.expires_at_ms) };
            Ok(Some(ChatAccess { read: true, write: access::can_comment(role), moderate: role == Role::Owner, valid_until_ms }))
        }
        ConversationKind::Document => {
            let Some(document) = &conversation.document else { return Ok(None) };
            let facts = state.directory.access_facts(&user.id, document).await?;
            Ok(access::user_document_access(user, &facts, now).map(|access| ChatAccess {
                read: true,
                write: access::can_comment(access.role),
                moderate: access.role == Role::Owner,
                valid_until_ms: access.valid_until_ms,
            }))
        }
        ConversationKind::Direct => {
            let member = state.chat.is_conversation_member(&conversation.id, &user.id).await?;
            Ok(member.then_some(ChatAccess { read: true, write: true, moderate: false, valid_until_ms: None }))
        }
    }
}

/// Loads a conversation the user may read; "not found" otherwise, so that its existence is
/// not revealed.
pub async fn readable(state: &AppState, user: &User, id: &str) -> Result<(Conversation, ChatAccess), ApiError> {
    let id = parse_conversation(id)?;
    let conversation = state.chat.conversation(&id).await?.ok_or(ApiError::NotFound("conversation"))?;
    let access = access_to(state, user, &conversation).await?.ok_or(ApiError::NotFound("conversation"))?;
    Ok((conversation, access))
}

/// Every conversation the user may read: channels of their workspaces, their direct
/// conversations, and the discussions of documents they can open that have one.
pub async fn readable_conversations(state: &AppState, user: &User) -> Result<Vec<(Conversation, ChatAccess)>, ApiError> {
    let now = auth::now_ms();
    let mut candidates: Vec<Conversation> = Vec::new();
    let workspaces: Vec<_> = if user.is_admin {
        state.directory.list_workspaces().await?.into_iter().map(|w| w.id).collect()
    } else {
        state
            .directory
            .workspaces_of(&user.id)
            .await?
            .into_iter()
            .filter(|(_, grant)| access::workspace_role(user, Some(grant), now).is_some())
            .map(|(workspace, _)| workspace.id)
            .collect()
    };
    let mut documents = Vec::new();
    for workspace in &workspaces {
        candidates.extend(state.chat.workspace_channels(workspace).await?);
        documents.extend(state.directory.list_documents(workspace).await?.into_iter().map(|d| d.id));
    }
    documents.extend(state.directory.documents_shared_with(&user.id).await?.into_iter().map(|(d, _)| d.id));
    documents.sort();
    documents.dedup();
    for document in &documents {
        if let Some(conversation) = state.chat.document_conversation(document).await? {
            candidates.push(conversation);
        }
    }
    candidates.extend(state.chat.direct_conversations_of(&user.id).await?);
    let mut readable = Vec::with_capacity(candidates.len());
    for conversation in candidates {
        if let Some(access) = access_to(state, user, &conversation).await? {
            readable.push((conversation, access));
        }
    }
    Ok(readable)
}

/// Authors (and others) by id, for rendering.
pub async fn users_by_id(state: &AppState, ids: &[UserId]) -> Result<HashMap<UserId, User>, ApiError> {
    let mut users = HashMap::new();
    for id in ids {
        if !users.contains_key(id)
            && let Some(user) = state.directory.user(id).await?
        {
            users.insert(id.clone(), user);
        }
    }
    Ok(users)
}

fn unknown_author(id: &UserId) -> AuthorView {
    AuthorView { id: id.to_string(), display_name: "(compte supprimé)".into(), external: false }
}

/// Messages as clients see them: rendered, with authors, attachments and reactions.
pub async fn views(state: &AppState, messages: &[Message]) -> Result<Vec<MessageView>, ApiError> {
    let (Some(first), Some(last)) = (messages.first(), messages.last()) else { return Ok(Vec::new()) };
    let author_ids: Vec<UserId> = messages.iter().map(|m| m.author.clone()).collect();
    let authors = users_by_id(state, &author_ids).await?;
    let reactions = state.chat.reactions(&first.conversation, first.seq, last.seq).await?;
    let mut views = Vec::with_capacity(messages.len());
    for message in messages {
        let mut attachments = Vec::new();
        for id in &message.attachments {
            if let Some(attachment) = state.chat.attachment(id).await? {
                attachments.push(AttachmentView::from(&attachment));
            }
        }
        let deleted = message.deleted_at_ms.is_some();
        views.push(MessageView {
            conversation_id: message.conversation.to_string(),
            seq: message.seq,
            id: message.id.to_string(),
            author: authors.get(&message.author).map_or_else(|| unknown_author(&message.author), AuthorView::from),
            client_id: message.client_id.clone(),
            body: if deleted { String::new() } else { message.body.clone() },
            html: if deleted { String::new() } else { render::render(&message.body) },
            reply_to_seq: message.reply_to_seq,
            mentions: message.mentions.iter().map(ToString::to_string).collect(),
            mentions_all: message.mentions_all,
            attachments: if deleted { Vec::new() } else { attachments },
            reactions: reactions
                .iter()
                .filter(|reaction| reaction.seq == message.seq && !deleted)
                .map(|reaction| ReactionView { emoji: reaction.emoji.clone(), user_ids: reaction.users.iter().map(ToString::to_string).collect() })
                .collect(),
            created_at_ms: message.created_at_ms,
            edited_at_ms: message.edited_at_ms,
            deleted,
        });
    }
    Ok(views)
}

pub async fn view(state: &AppState, message: &Message) -> Result<MessageView, ApiError> {
    views(state, std::slice::from_ref(message))
        .await?
        .pop()
        .ok_or_else(|| ApiError::Internal("a message rendered to nothing".into()))
}

/// What a client asks to post.
#[derive(Clone, Debug, serde::Deserialize, ToSchema)]
pub struct PostRequest {
    /// The client's own id for this message (1 to 64 characters): sending it again after a
    /// dropped connection returns the message first stored instead of a duplicate.
    pub client_id: String,
    /// Markdown.
    pub body: String,
    pub reply_to_seq: Option<i64>,
    #[serde(default)]
    pub attachments: Vec<String>,
}

fn check_client_id(client_id: &str) -> Result<(), ApiError> {
    if client_id.is_empty() || client_id.len() > 64 || client_id.chars().any(char::is_control) {
        return Err(ApiError::BadRequest("client_id must be 1 to 64 characters".into()));
    }
    Ok(())
}

fn check_body(state: &AppState, body: &str, may_be_empty: bool) -> Result<(), ApiError> {
    if body.len() > state.config.chat.max_message_bytes {
        return Err(ApiError::TooLarge(format!("a message is limited to {} bytes", state.config.chat.max_message_bytes)));
    }
    if body.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')) {
        return Err(ApiError::BadRequest("the message contains control characters".into()));
    }
    if !may_be_empty && body.trim().is_empty() {
        return Err(ApiError::BadRequest("the message is empty".into()));
    }
    Ok(())
}

/// Users a message's `@names` designate, among those who may read the conversation: the
/// part of the e-mail before `@`, or the display name with spaces as dots.
async fn resolve_mentions(state: &AppState, conversation: &Conversation, names: &[String]) -> Result<Vec<UserId>, ApiError> {
    if names.is_empty() {
        return Ok(Vec::new());
    }
    let mut candidates: Vec<User> = Vec::new();
    if let Some(workspace) = &conversation.workspace {
        candidates.extend(state.directory.workspace_members(workspace).await?.into_iter().map(|m| m.user));
    }
    if let Some(document) = &conversation.document {
        candidates.extend(state.directory.document_members(document).await?.into_iter().map(|m| m.user));
    }
    if conversation.kind == ConversationKind::Direct {
        let ids = state.chat.conversation_members(&conversation.id).await?;
        candidates.extend(users_by_id(state, &ids).await?.into_values());
    }
    let mut found = Vec::new();
    for user in candidates {
        let local = user.email.split('@').next().unwrap_or_default().to_lowercase();
        let dotted = user.display_name.to_lowercase().split_whitespace().collect::<Vec<_>>().join(".");
        if names.iter().any(|name| *name == local || *name == dotted) && !found.contains(&user.id) {
            found.push(user.id);
        }
    }
    Ok(found)
}

/// Posts a message (idempotent on the client id) and, when new, tells everyone.
pub async fn post(state: &AppState, user: &User, conversation: &Conversation, access: ChatAccess, request: PostRequest) -> Result<(MessageView, bool), ApiError> {
    if !access.write {
        return Err(ApiError::Forbidden("you can read this conversation but not write in it"));
    }
    check_client_id(&request.client_id)?;
    check_body(state, &request.body, !request.attachments.is_empty())?;
    if request.attachments.len() > 10 {
        return Err(ApiError::BadRequest("at most 10 attachments per message".into()));
    }
    if !state.chat_limit.check(&user.id) {
        return Err(ApiError::RateLimited);
    }
    let (names, mentions_all) = render::mentions(&request.body);
    let mentions = resolve_mentions(state, conversation, &names).await?;
    let attachments = request
        .attachments
        .iter()
        .map(|id| AttachmentId::parse(id).ok_or(ApiError::NotFound("attachment")))
        .collect::<Result<Vec<_>, _>>()?;
    let posted = state
        .chat
        .post_message(NewMessage {
            conversation: conversation.id.clone(),
            author: user.id.clone(),
            client_id: request.client_id,
            body: request.body,
            reply_to_seq: request.reply_to_seq,
            mentions,
            mentions_all,
            attachments,
        })
        .await?;
    let view = view(state, &posted.message).await?;
    if posted.created {
        state.hub.metrics().chat_messages.inc();
        state
            .audit
            .record(
                Some(format!("user:{}", user.id)),
                "message.sent",
                conversation.workspace.as_ref(),
                Some(format!("message:{}", posted.message.id)),
                serde_json::json!({ "conversation": conversation.id.as_str(), "seq": posted.message.seq }),
            )
            .await?;
        state.chat_hub.message(&conversation.id, posted.message.seq, &view).await;
        if !posted.message.mentions.is_empty() {
            state.chat_hub.notify_mentions(&posted.message, &view).await;
        }
    }
    Ok((view, posted.created))
}

/// Replaces the text of one's own message.
pub async fn edit(state: &AppState, user: &User, conversation: &Conversation, access: ChatAccess, seq: i64, body: &str) -> Result<MessageView, ApiError> {
    check_body(state, body, false)?;
    let message = state.chat.message(&conversation.id, seq).await?.ok_or(ApiError::NotFound("message"))?;
    if message.author != user.id || !access.write {
        return Err(ApiError::Forbidden("only its author can edit a message"));
    }
    let edited = state.chat.edit_message(&conversation.id, seq, body).await?.ok_or(ApiError::NotFound("message"))?;
    state
        .audit
        .record(Some(format!("user:{}", user.id)), "message.edited", conversation.workspace.as_ref(), Some(format!("message:{}", edited.id)), serde_json::json!({ "conversation": conversation.id.as_str(), "seq": seq }))
        .await?;
    let view = view(state, &edited).await?;
    state.chat_hub.event(&conversation.id, &super::hub::ServerEvent::MessageEdited { message: view.clone() }).await;
    Ok(view)
}

/// Deletes a message: its author, or a moderator. Readers then see "message deleted".
pub async fn delete(state: &AppState, user: &User, conversation: &Conversation, access: ChatAccess, seq: i64) -> Result<(), ApiError> {
    let message = state.chat.message(&conversation.id, seq).await?.ok_or(ApiError::NotFound("message"))?;
    if !(message.author == user.id && access.write || access.moderate) {
        return Err(ApiError::Forbidden("only its author or an owner can delete a message"));
    }
    let deleted = state.chat.delete_message(&conversation.id, seq).await?.ok_or(ApiError::NotFound("message"))?;
    state
        .audit
        .record(Some(format!("user:{}", user.id)), "message.deleted", conversation.workspace.as_ref(), Some(format!("message:{}", deleted.id)), serde_json::json!({ "conversation": conversation.id.as_str(), "seq": seq, "author": message.author.as_str() }))
        .await?;
    state
        .chat_hub
        .event(&conversation.id, &super::hub::ServerEvent::MessageDeleted { conversation_id: conversation.id.to_string(), seq })
        .await;
    Ok(())
}

fn check_emoji(emoji: &str) -> Result<(), ApiError> {
    if emoji.is_empty() || emoji.len() > 32 || emoji.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(ApiError::BadRequest("a reaction is 1 to 32 bytes without spaces".into()));
    }
    Ok(())
}

/// Adds or removes one's reaction.
pub async fn react(state: &AppState, user: &User, conversation: &Conversation, access: ChatAccess, seq: i64, emoji: &str, add: bool) -> Result<(), ApiError> {
    check_emoji(emoji)?;
    if !access.write {
        return Err(ApiError::Forbidden("you can read this conversation but not react in it"));
    }
    let message = state.chat.message(&conversation.id, seq).await?.ok_or(ApiError::NotFound("message"))?;
    if message.deleted_at_ms.is_some() {
        return Err(ApiError::NotFound("message"));
    }
    let changed = if add {
        state.chat.add_reaction(&conversation.id, seq, &user.id, emoji).await?
    } else {
        state.chat.remove_reaction(&conversation.id, seq, &user.id, emoji).await?
    };
    if changed {
        let event = super::hub::ServerEvent::Reaction {
            conversation_id: conversation.id.to_string(),
            seq,
            emoji: emoji.to_owned(),
            user_id: user.id.to_string(),
            added: add,
        };
        state.chat_hub.event(&conversation.id, &event).await;
    }
    Ok(())
}

/// Moves one's read marker; in direct conversations the others see it.
pub async fn mark_read(state: &AppState, user: &User, conversation: &Conversation, seq: i64) -> Result<i64, ApiError> {
    let stored = state.chat.mark_read(&conversation.id, &user.id, seq).await?;
    if conversation.kind == ConversationKind::Direct {
        let event = super::hub::ServerEvent::Read { conversation_id: conversation.id.to_string(), user_id: user.id.to_string(), seq: stored };
        state.chat_hub.event(&conversation.id, &event).await;
    }
    Ok(stored)
}

/// A conversation in a user's list, with its counts.
pub async fn conversation_views(state: &AppState, user: &User, conversations: Vec<(Conversation, ChatAccess)>) -> Result<Vec<ConversationView>, ApiError> {
    let ids: Vec<ConversationId> = conversations.iter().map(|(c, _)| c.id.clone()).collect();
    let states = state.chat.conversation_states(&user.id, &ids).await?;
    let mut views = Vec::with_capacity(conversations.len());
    for (conversation, access) in conversations {
        let counts = states.iter().find(|s| s.conversation.id == conversation.id);
        let participants = if conversation.kind == ConversationKind::Direct {
            let ids = state.chat.conversation_members(&conversation.id).await?;
            users_by_id(state, &ids).await?.values().map(AuthorView::from).collect()
        } else {
            Vec::new()
        };
        views.push(ConversationView {
            id: conversation.id.to_string(),
            kind: conversation.kind.as_str().to_owned(),
            workspace_id: conversation.workspace.as_ref().map(ToString::to_string),
            document_id: conversation.document.as_ref().map(ToString::to_string),
            name: conversation.name.clone(),
            private: conversation.private,
            last_seq: conversation.last_seq,
            last_read_seq: counts.map_or(0, |s| s.last_read_seq),
            unread: counts.map_or(0, |s| s.unread),
            mentions: counts.map_or(0, |s| s.mentions),
            participants,
            can_write: access.write,
        });
    }
    Ok(views)
}
