//! Chat over REST: conversations, history, posting, edits, reactions, read markers, search
//! and attachments. Live delivery is the `/chat` websocket; both share `chat::service`.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use relais_storage::{AttachmentId, ConversationKind, NewAttachment, NewConversation, UserId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::directory::check_name;
use super::documents::document_access;
use super::error::ErrorBody;
use super::workspaces::{parse_workspace, role_in};
use super::{ApiError, CurrentUser};
use crate::access;
use crate::auth;
use crate::chat::service::{self, AttachmentView, ConversationView, MessageView, PostRequest};
use crate::http::AppState;

/// Most messages per history page.
const MAX_PAGE: u32 = 200;

/// The caller's conversations with unread and mention counts.
#[utoipa::path(get, path = "/api/conversations", tag = "chat", responses((status = 200, body = Vec<ConversationView>)))]
pub async fn list_conversations(State(state): State<AppState>, CurrentUser(session): CurrentUser) -> Result<Json<Vec<ConversationView>>, ApiError> {
    let readable = service::readable_conversations(&state, &session.user).await?;
    Ok(Json(service::conversation_views(&state, &session.user, readable).await?))
}

#[derive(Deserialize, ToSchema)]
pub struct CreateChannel {
    pub name: String,
    /// Private channels are readable by their members only.
    #[serde(default)]
    pub private: bool,
}

/// Creates a channel in a workspace (members who may comment).
#[utoipa::path(post, path = "/api/workspaces/{workspace_id}/channels", tag = "chat",
    params(("workspace_id" = String, Path)), request_body = CreateChannel,
    responses((status = 201, body = ConversationView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn create_channel(
    State(state): State<AppState>,
    CurrentUser(session): CurrentUser,
    Path(workspace_id): Path<String>,
    Json(request): Json<CreateChannel>,
) -> Result<(StatusCode, Json<ConversationView>), ApiError> {
    let workspace = parse_workspace(&workspace_id)?;
    let (_, role) = role_in(&state, &session.user, &workspace).await?;
    if !access::can_comment(role) {
        return Err(ApiError::Forbidden("readers cannot create channels"));
    }
    let conversation = state
        .chat
        .create_conversation(NewConversation::Channel { workspace: workspace.clone(), name: check_name("name", &request.name)?, private: request.private, created_by: session.user.id.clone() })
        .await?;
    state
        .audit
        .record(Some(format!("user:{}", session.user.id)), "channel.created", Some(&workspace), Some(format!("conversation:{}", conversation.id)), serde_json::json!({ "private": request.private }))
        .await?;
    let access = service::access_to(&state, &session.user, &conversation).await?.ok_or(ApiError::Forbidden("no access"))?;
    let mut views = service::conversation_views(&state, &session.user, vec![(conversation, access)]).await?;
    Ok((StatusCode::CREATED, Json(views.remove(0))))
}

/// Adds a member to a private channel (its members who may write, or workspace owners).
#[utoipa::path(put, path = "/api/conversations/{conversation_id}/members/{user_id}", tag = "chat",
    params(("conversation_id" = String, Path), ("user_id" = String, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn add_member(
    State(state): State<AppState>,
    CurrentUser(session): CurrentUser,
    Path((conversation_id, user_id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let (conversation, access) = service::readable(&state, &session.user, &conversation_id).await?;
    if conversation.kind != ConversationKind::Channel || !conversation.private || !access.write {
        return Err(ApiError::Forbidden("members are added to private channels by their members"));
    }
    let user = UserId::parse(&user_id).ok_or(ApiError::NotFound("user"))?;
    let invited = state.directory.user(&user).await?.ok_or(ApiError::NotFound("user"))?;
    let workspace = conversation.workspace.clone().ok_or(ApiError::NotFound("workspace"))?;
    let grant = state.directory.workspace_grant(&workspace, &user).await?;
    if access::workspace_role(&invited, grant.as_ref(), auth::now_ms()).is_none() {
        return Err(ApiError::Forbidden("only members of the workspace can join its channels"));
    }
    state.chat.add_conversation_member(&conversation.id, &user).await?;
    state
        .audit
        .record(Some(format!("user:{}", session.user.id)), "channel.member_added", Some(&workspace), Some(format!("user:{user}")), serde_json::json!({ "conversation": conversation.id.as_str() }))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
pub struct CreateDirect {
    /// The other participants (1 to 8); the caller is added.
    pub participants: Vec<String>,
}

/// Opens (or finds) a direct conversation with people the caller shares a workspace with.
#[utoipa::path(post, path = "/api/conversations/direct", tag = "chat", request_body = CreateDirect,
    responses((status = 200, body = ConversationView), (status = 403, body = ErrorBody)))]
pub async fn create_direct(
    State(state): State<AppState>,
    CurrentUser(session): CurrentUser,
    Json(request): Json<CreateDirect>,
) -> Result<Json<ConversationView>, ApiError> {
    if request.participants.is_empty() || request.participants.len() > 8 {
        return Err(ApiError::BadRequest("a direct conversation has 2 to 9 people".into()));
    }
    let now = auth::now_ms();
    let mine: Vec<_> = state
        .directory
        .workspaces_of(&session.user.id)
        .await?
        .into_iter()
        .filter(|(_, grant)| access::workspace_role(&session.user, Some(grant), now).is_some())
        .map(|(workspace, _)| workspace.id)
        .collect();
    let mut participants = vec![session.user.id.clone()];
    for id in &request.participants {
        let user = UserId::parse(id).ok_or(ApiError::NotFound("user"))?;
        let other = state.directory.user(&user).await?.ok_or(ApiError::NotFound("user"))?;
        let mut shared = session.user.is_admin;
        for workspace in &mine {
            let grant = state.directory.workspace_grant(workspace, &user).await?;
            if access::workspace_role(&other, grant.as_ref(), now).is_some() {
                shared = true;
                break;
            }
        }
        // Not revealing whether the account exists: the same answer as for an unknown id.
        if !shared {
            return Err(ApiError::NotFound("user"));
        }
        participants.push(user);
    }
    participants.sort();
    participants.dedup();
    if participants.len() < 2 {
        return Err(ApiError::BadRequest("a direct conversation needs someone else".into()));
    }
    let conversation = state.chat.create_conversation(NewConversation::Direct { participants, created_by: session.user.id.clone() }).await?;
    let access = service::access_to(&state, &session.user, &conversation).await?.ok_or(ApiError::Forbidden("no access"))?;
    let mut views = service::conversation_views(&state, &session.user, vec![(conversation, access)]).await?;
    Ok(Json(views.remove(0)))
}

/// The discussion beside a document (created on first use).
#[utoipa::path(get, path = "/api/documents/{document_id}/conversation", tag = "chat",
    params(("document_id" = String, Path)),
    responses((status = 200, body = ConversationView), (status = 404, body = ErrorBody)))]
pub async fn document_conversation(
    State(state): State<AppState>,
    CurrentUser(session): CurrentUser,
    Path(document_id): Path<String>,
) -> Result<Json<ConversationView>, ApiError> {
    let (info, _) = document_access(&state, &session, &document_id).await?;
    let conversation = match state.chat.document_conversation(&info.id).await? {
        Some(conversation) => conversation,
        None => state.chat.create_conversation(NewConversation::Document { document: info.id.clone(), workspace: info.workspace.clone() }).await?,
    };
    let access = service::access_to(&state, &session.user, &conversation).await?.ok_or(ApiError::NotFound("conversation"))?;
    let mut views = service::conversation_views(&state, &session.user, vec![(conversation, access)]).await?;
    Ok(Json(views.remove(0)))
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct HistoryQuery {
    /// Messages after this seq, ascending (catching up).
    pub after_seq: Option<i64>,
    /// Messages before this seq, the closest ones (scrolling back); the default is the end.
    pub before_seq: Option<i64>,
    /// At most 200 (default 50).
    pub limit: Option<u32>,
}

/// A page of history, ascending by seq.
#[utoipa::path(get, path = "/api/conversations/{conversation_id}/messages", tag = "chat",
    params(("conversation_id" = String, Path), HistoryQuery),
    responses((status = 200, body = Vec<MessageView>), (status = 404, body = ErrorBody)))]
pub async fn history(
    State(state): State<AppState>,
    CurrentUser(session): CurrentUser,
    Path(conversation_id): Path<String>,
    Query(query): Query<HistoryQuery>,
) -> Result<Json<Vec<MessageView>>, ApiError> {
    let (conversation, _) = service::readable(&state, &session.user, &conversation_id).await?;
    let limit = query.limit.unwrap_or(50).clamp(1, MAX_PAGE);
    let messages = match (query.after_seq, query.before_seq) {
        (Some(after), _) => state.chat.messages_after(&conversation.id, after, limit).await?,
        (None, Some(before)) => state.chat.messages_before(&conversation.id, before, limit).await?,
        (None, None) => state.chat.messages_before(&conversation.id, i64::MAX, limit).await?,
    };
    Ok(Json(service::views(&state, &messages).await?))
}

/// Posts a message; the same `client_id` again returns the first message (200 instead of 201).
#[utoipa::path(post, path = "/api/conversations/{conversation_id}/messages", tag = "chat",
    params(("conversation_id" = String, Path)), request_body = PostRequest,
    responses((status = 201, body = MessageView), (status = 200, body = MessageView), (status = 403, body = ErrorBody), (status = 413, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn post_message(
    State(state): State<AppState>,
    CurrentUser(session): CurrentUser,
    Path(conversation_id): Path<String>,
    Json(request): Json<PostRequest>,
) -> Result<(StatusCode, Json<MessageView>), ApiError> {
    let (conversation, access) = service::readable(&state, &session.user, &conversation_id).await?;
    let (view, created) = service::post(&state, &session.user, &conversation, access, request).await?;
    Ok((if created { StatusCode::CREATED } else { StatusCode::OK }, Json(view)))
}

#[derive(Deserialize, ToSchema)]
pub struct EditMessage {
    pub body: String,
}

/// Edits one's own message.
#[utoipa::path(patch, path = "/api/conversations/{conversation_id}/messages/{seq}", tag = "chat",
    params(("conversation_id" = String, Path), ("seq" = i64, Path)), request_body = EditMessage,
    responses((status = 200, body = MessageView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn edit_message(
    State(state): State<AppState>,
    CurrentUser(session): CurrentUser,
    Path((conversation_id, seq)): Path<(String, i64)>,
    Json(request): Json<EditMessage>,
) -> Result<Json<MessageView>, ApiError> {
    let (conversation, access) = service::readable(&state, &session.user, &conversation_id).await?;
    Ok(Json(service::edit(&state, &session.user, &conversation, access, seq, &request.body).await?))
}

/// Deletes a message (its author, or an owner); readers then see "message deleted".
#[utoipa::path(delete, path = "/api/conversations/{conversation_id}/messages/{seq}", tag = "chat",
    params(("conversation_id" = String, Path), ("seq" = i64, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete_message(
    State(state): State<AppState>,
    CurrentUser(session): CurrentUser,
    Path((conversation_id, seq)): Path<(String, i64)>,
) -> Result<StatusCode, ApiError> {
    let (conversation, access) = service::readable(&state, &session.user, &conversation_id).await?;
    service::delete(&state, &session.user, &conversation, access, seq).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Adds one's reaction.
#[utoipa::path(put, path = "/api/conversations/{conversation_id}/messages/{seq}/reactions/{emoji}", tag = "chat",
    params(("conversation_id" = String, Path), ("seq" = i64, Path), ("emoji" = String, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn add_reaction(
    State(state): State<AppState>,
    CurrentUser(session): CurrentUser,
    Path((conversation_id, seq, emoji)): Path<(String, i64, String)>,
) -> Result<StatusCode, ApiError> {
    let (conversation, access) = service::readable(&state, &session.user, &conversation_id).await?;
    service::react(&state, &session.user, &conversation, access, seq, &emoji, true).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Removes one's reaction.
#[utoipa::path(delete, path = "/api/conversations/{conversation_id}/messages/{seq}/reactions/{emoji}", tag = "chat",
    params(("conversation_id" = String, Path), ("seq" = i64, Path), ("emoji" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn remove_reaction(
    State(state): State<AppState>,
    CurrentUser(session): CurrentUser,
    Path((conversation_id, seq, emoji)): Path<(String, i64, String)>,
) -> Result<StatusCode, ApiError> {
    let (conversation, access) = service::readable(&state, &session.user, &conversation_id).await?;
    service::react(&state, &session.user, &conversation, access, seq, &emoji, false).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
pub struct MarkRead {
    pub seq: i64,
}

#[derive(Serialize, ToSchema)]
pub struct ReadMarker {
    pub user_id: String,
    pub seq: i64,
}

/// Moves the caller's read marker forward.
#[utoipa::path(post, path = "/api/conversations/{conversation_id}/read", tag = "chat",
    params(("conversation_id" = String, Path)), request_body = MarkRead,
    responses((status = 200, body = ReadMarker), (status = 404, body = ErrorBody)))]
pub async fn mark_read(
    State(state): State<AppState>,
    CurrentUser(session): CurrentUser,
    Path(conversation_id): Path<String>,
    Json(request): Json<MarkRead>,
) -> Result<Json<ReadMarker>, ApiError> {
    let (conversation, _) = service::readable(&state, &session.user, &conversation_id).await?;
    let seq = service::mark_read(&state, &session.user, &conversation, request.seq).await?;
    Ok(Json(ReadMarker { user_id: session.user.id.to_string(), seq }))
}

/// Read markers: everyone's in direct conversations, the caller's own elsewhere.
#[utoipa::path(get, path = "/api/conversations/{conversation_id}/read", tag = "chat",
    params(("conversation_id" = String, Path)),
    responses((status = 200, body = Vec<ReadMarker>), (status = 404, body = ErrorBody)))]
pub async fn read_markers(
    State(state): State<AppState>,
    CurrentUser(session): CurrentUser,
    Path(conversation_id): Path<String>,
) -> Result<Json<Vec<ReadMarker>>, ApiError> {
    let (conversation, _) = service::readable(&state, &session.user, &conversation_id).await?;
    let markers = state.chat.read_markers(&conversation.id).await?;
    Ok(Json(
        markers
            .into_iter()
            .filter(|(user, _)| conversation.kind == ConversationKind::Direct || *user == session.user.id)
            .map(|(user, seq)| ReadMarker { user_id: user.to_string(), seq })
            .collect(),
    ))
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct SearchQuery {
    /// Words to find (French stemming and accents ignored on Postgres; accents ignored on SQLite).
    pub q: String,
    /// At most 100 (default 20).
    pub limit: Option<u32>,
}

/// Full-text search over the conversations the caller may read, and only those.
#[utoipa::path(get, path = "/api/search", tag = "chat", params(SearchQuery), responses((status = 200, body = Vec<MessageView>)))]
pub async fn search(
    State(state): State<AppState>,
    CurrentUser(session): CurrentUser,
    Query(query): Query<SearchQuery>,
) -> Result<Json<Vec<MessageView>>, ApiError> {
    if query.q.len() > 200 {
        return Err(ApiError::BadRequest("a search is at most 200 bytes".into()));
    }
    let readable: Vec<_> = service::readable_conversations(&state, &session.user).await?.into_iter().map(|(c, _)| c.id).collect();
    let found = state.chat.search_messages(&readable, &query.q, query.limit.unwrap_or(20).clamp(1, 100)).await?;
    let mut views = Vec::with_capacity(found.len());
    for message in &found {
        views.push(service::view(&state, message).await?);
    }
    Ok(Json(views))
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct UploadQuery {
    /// The file's name, shown to readers.
    pub name: String,
}

/// Uploads an attachment (the raw bytes as the body, its type as `Content-Type`); then post
/// a message listing its id. Over the size limit: 413; a type outside the allow-list: 415.
#[utoipa::path(post, path = "/api/conversations/{conversation_id}/attachments", tag = "chat",
    params(("conversation_id" = String, Path), UploadQuery), request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 201, body = AttachmentView), (status = 413, body = ErrorBody), (status = 415, body = ErrorBody)))]
pub async fn upload_attachment(
    State(state): State<AppState>,
    CurrentUser(session): CurrentUser,
    Path(conversation_id): Path<String>,
    Query(query): Query<UploadQuery>,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<(StatusCode, Json<AttachmentView>), ApiError> {
    // The route's body limit is the attachment limit; reading past it fails here.
    let body = body.map_err(|_| ApiError::TooLarge(format!("an attachment is limited to {} bytes", state.config.chat.attachment_max_bytes)))?;
    let (conversation, access) = service::readable(&state, &session.user, &conversation_id).await?;
    if !access.write {
        return Err(ApiError::Forbidden("you can read this conversation but not write in it"));
    }
    let content_type = headers
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .map(|value| value.split(';').next().unwrap_or_default().trim().to_ascii_lowercase())
        .unwrap_or_default();
    if !state.config.chat.attachment_types.contains(&content_type) {
        return Err(ApiError::UnsupportedType(format!("attachments of type {content_type:?} are not accepted")));
    }
    if body.len() > state.config.chat.attachment_max_bytes {
        return Err(ApiError::TooLarge(format!("an attachment is limited to {} bytes", state.config.chat.attachment_max_bytes)));
    }
    let name = check_name("name", &query.name)?;
    if name.contains(['/', '\\', '"']) {
        return Err(ApiError::BadRequest("the file name may not contain / \\ or \"".into()));
    }
    let attachment = state
        .chat
        .put_attachment(NewAttachment { conversation: conversation.id.clone(), uploaded_by: session.user.id.clone(), file_name: name, content_type }, body)
        .await?;
    Ok((StatusCode::CREATED, Json(AttachmentView::from(&attachment))))
}

/// Downloads an attachment, for readers of its conversation. Always as a download, never
/// rendered by the browser.
#[utoipa::path(get, path = "/api/attachments/{attachment_id}", tag = "chat",
    params(("attachment_id" = String, Path)),
    responses((status = 200, content_type = "application/octet-stream", body = Vec<u8>), (status = 404, body = ErrorBody)))]
pub async fn download_attachment(
    State(state): State<AppState>,
    CurrentUser(session): CurrentUser,
    Path(attachment_id): Path<String>,
) -> Result<Response, ApiError> {
    let id = AttachmentId::parse(&attachment_id).ok_or(ApiError::NotFound("attachment"))?;
    let attachment = state.chat.attachment(&id).await?.ok_or(ApiError::NotFound("attachment"))?;
    service::readable(&state, &session.user, attachment.conversation.as_str()).await.map_err(|_| ApiError::NotFound("attachment"))?;
    let bytes = state.chat.attachment_bytes(&attachment).await?;
    let headers = super::download_headers(&attachment.content_type, &attachment.file_name, "default-src 'none'; sandbox");
    Ok((headers, bytes).into_response())
}
