//! Documents in workspaces, and per-document members.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use relais_storage::{DocumentId, DocumentInfo, Role, UserId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::directory::check_name;
use super::error::ErrorBody;
use super::workspaces::{MemberView, SetMember, grant_from, member_views, parse_workspace, role_in};
use super::{ApiError, CurrentUser};
use crate::access::{self, Access};
use crate::auth::{self, Caller, SessionCaller};
use crate::http::AppState;

#[derive(Serialize, ToSchema)]
pub struct DocumentView {
    /// The name to open at `/yjs/{id}`.
    pub id: String,
    pub workspace_id: Option<String>,
    pub title: String,
    pub created_by: Option<String>,
    pub created_at_ms: i64,
    /// The caller's role on it.
    pub role: String,
}

fn view(info: &DocumentInfo, role: Role) -> DocumentView {
    DocumentView {
        id: info.id.to_string(),
        workspace_id: info.workspace.as_ref().map(ToString::to_string),
        title: info.title.clone(),
        created_by: info.created_by.as_ref().map(UserId::to_string),
        created_at_ms: info.created_at_ms,
        role: role.as_str().to_owned(),
    }
}

/// The caller's access to a document of the directory; "not found" when they have none, so
/// that its existence is not revealed.
pub(crate) async fn document_access(state: &AppState, session: &SessionCaller, id: &str) -> Result<(DocumentInfo, Access), ApiError> {
    let id = DocumentId::parse(id).map_err(|_| ApiError::NotFound("document"))?;
    let caller = Caller::User(session.clone());
    let access = access::document_access(state.directory.as_ref(), &caller, &id, auth::now_ms())
        .await?
        .ok_or(ApiError::NotFound("document"))?;
    let info = state.directory.document(&id).await?.ok_or(ApiError::NotFound("document"))?;
    Ok((info, access))
}

/// The workspace's documents.
#[utoipa::path(get, path = "/api/workspaces/{workspace_id}/documents", tag = "documents",
    params(("workspace_id" = String, Path)),
    responses((status = 200, body = Vec<DocumentView>), (status = 404, body = ErrorBody)))]
pub async fn list_documents(
    State(state): State<AppState>,
    CurrentUser(session): CurrentUser,
    Path(workspace_id): Path<String>,
) -> Result<Json<Vec<DocumentView>>, ApiError> {
    let workspace = parse_workspace(&workspace_id)?;
    role_in(&state, &session.user, &workspace).await?;
    let caller = Caller::User(session.clone());
    let now = auth::now_ms();
    let mut views = Vec::new();
    for info in state.directory.list_documents(&workspace).await? {
        // A per-document grant may differ from the workspace role.
        if let Some(access) = access::document_access(state.directory.as_ref(), &caller, &info.id, now).await? {
            views.push(view(&info, access.role));
        }
    }
    Ok(Json(views))
}

/// Documents shared with the caller one by one (external partners invited to a document).
#[utoipa::path(get, path = "/api/documents", tag = "documents", responses((status = 200, body = Vec<DocumentView>)))]
pub async fn shared_documents(
    State(state): State<AppState>,
    CurrentUser(session): CurrentUser,
) -> Result<Json<Vec<DocumentView>>, ApiError> {
    let now = auth::now_ms();
    let shared = state.directory.documents_shared_with(&session.user.id).await?;
    Ok(Json(
        shared
            .iter()
            .filter(|(_, grant)| grant.expires_at_ms.is_none_or(|expiry| expiry > now))
            .map(|(info, grant)| view(info, grant.role))
            .collect(),
    ))
}

#[derive(Deserialize, ToSchema)]
pub struct CreateDocument {
    pub title: String,
}

/// Creates a document in a workspace (editors and above).
#[utoipa::path(post, path = "/api/workspaces/{workspace_id}/documents", tag = "documents",
    params(("workspace_id" = String, Path)), request_body = CreateDocument,
    responses((status = 201, body = DocumentView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn create_document(
    State(state): State<AppState>,
    CurrentUser(session): CurrentUser,
    Path(workspace_id): Path<String>,
    Json(request): Json<CreateDocument>,
) -> Result<(StatusCode, Json<DocumentView>), ApiError> {
    let workspace = parse_workspace(&workspace_id)?;
    let (_, role) = role_in(&state, &session.user, &workspace).await?;
    if !access::can_edit(role) {
        return Err(ApiError::Forbidden("editors and above create documents"));
    }
    let id = DocumentId::parse(&uuid::Uuid::new_v4().to_string()).map_err(|e| ApiError::Internal(e.to_string()))?;
    let info = DocumentInfo {
        id,
        workspace: Some(workspace.clone()),
        title: check_name("title", &request.title)?,
        created_by: Some(session.user.id.clone()),
        created_at_ms: auth::now_ms(),
        deleted_at_ms: None,
    };
    state.directory.create_document(&info).await?;
    state
        .audit
        .record(Some(format!("user:{}", session.user.id)), "document.created", Some(&workspace), Some(format!("document:{}", info.id)), serde_json::json!({}))
        .await?;
    Ok((StatusCode::CREATED, Json(view(&info, role))))
}

/// One document and the caller's role on it.
#[utoipa::path(get, path = "/api/documents/{document_id}", tag = "documents",
    params(("document_id" = String, Path)),
    responses((status = 200, body = DocumentView), (status = 404, body = ErrorBody)))]
pub async fn get_document(
    State(state): State<AppState>,
    CurrentUser(session): CurrentUser,
    Path(document_id): Path<String>,
) -> Result<Json<DocumentView>, ApiError> {
    let (info, access) = document_access(&state, &session, &document_id).await?;
    Ok(Json(view(&info, access.role)))
}

#[derive(Deserialize, ToSchema)]
pub struct RenameDocument {
    pub title: String,
}

/// Renames a document (editors and above).
#[utoipa::path(patch, path = "/api/documents/{document_id}", tag = "documents",
    params(("document_id" = String, Path)), request_body = RenameDocument,
    responses((status = 200, body = DocumentView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn rename_document(
    State(state): State<AppState>,
    CurrentUser(session): CurrentUser,
    Path(document_id): Path<String>,
    Json(request): Json<RenameDocument>,
) -> Result<Json<DocumentView>, ApiError> {
    let (mut info, access) = document_access(&state, &session, &document_id).await?;
    if !access::can_edit(access.role) {
        return Err(ApiError::Forbidden("editors and above rename documents"));
    }
    info.title = check_name("title", &request.title)?;
    state.directory.rename_document(&info.id, &info.title).await?;
    state
        .audit
        .record(Some(format!("user:{}", session.user.id)), "document.renamed", info.workspace.as_ref(), Some(format!("document:{}", info.id)), serde_json::json!({}))
        .await?;
    Ok(Json(view(&info, access.role)))
}

/// Deletes a document (owners). Open connections to it close within a second.
#[utoipa::path(delete, path = "/api/documents/{document_id}", tag = "documents",
    params(("document_id" = String, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete_document(
    State(state): State<AppState>,
    CurrentUser(session): CurrentUser,
    Path(document_id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let (info, access) = document_access(&state, &session, &document_id).await?;
    if access.role != Role::Owner {
        return Err(ApiError::Forbidden("only owners delete documents"));
    }
    state.directory.delete_document(&info.id).await?;
    state
        .audit
        .record(Some(format!("user:{}", session.user.id)), "document.deleted", info.workspace.as_ref(), Some(format!("document:{}", info.id)), serde_json::json!({}))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// People with a role of their own on the document.
#[utoipa::path(get, path = "/api/documents/{document_id}/members", tag = "documents",
    params(("document_id" = String, Path)),
    responses((status = 200, body = Vec<MemberView>), (status = 404, body = ErrorBody)))]
pub async fn list_document_members(
    State(state): State<AppState>,
    CurrentUser(session): CurrentUser,
    Path(document_id): Path<String>,
) -> Result<Json<Vec<MemberView>>, ApiError> {
    let (info, _) = document_access(&state, &session, &document_id).await?;
    Ok(Json(member_views(&state.directory.document_members(&info.id).await?)))
}

/// Gives someone a role on this document only, narrower or wider than their workspace role
/// (document owners).
#[utoipa::path(put, path = "/api/documents/{document_id}/members/{user_id}", tag = "documents",
    params(("document_id" = String, Path), ("user_id" = String, Path)), request_body = SetMember,
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn set_document_member(
    State(state): State<AppState>,
    CurrentUser(session): CurrentUser,
    Path((document_id, user_id)): Path<(String, String)>,
    Json(request): Json<SetMember>,
) -> Result<StatusCode, ApiError> {
    let (info, access) = document_access(&state, &session, &document_id).await?;
    if access.role != Role::Owner {
        return Err(ApiError::Forbidden("only owners change members"));
    }
    let user = UserId::parse(&user_id).ok_or(ApiError::NotFound("user"))?;
    let grant = grant_from(&state, &request, &user, &session.user.id).await?;
    state.directory.set_document_member(&info.id, &user, &grant).await?;
    state
        .audit
        .record(
            Some(format!("user:{}", session.user.id)),
            "document.member_role_changed",
            info.workspace.as_ref(),
            Some(format!("user:{user}")),
            serde_json::json!({ "document": info.id.as_str(), "role": grant.role.as_str(), "expires_at_ms": grant.expires_at_ms }),
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Removes someone's role on this document (document owners).
#[utoipa::path(delete, path = "/api/documents/{document_id}/members/{user_id}", tag = "documents",
    params(("document_id" = String, Path), ("user_id" = String, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn remove_document_member(
    State(state): State<AppState>,
    CurrentUser(session): CurrentUser,
    Path((document_id, user_id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let (info, access) = document_access(&state, &session, &document_id).await?;
    if access.role != Role::Owner {
        return Err(ApiError::Forbidden("only owners change members"));
    }
    let user = UserId::parse(&user_id).ok_or(ApiError::NotFound("user"))?;
    if !state.directory.remove_document_member(&info.id, &user).await? {
        return Err(ApiError::NotFound("member"));
    }
    state
        .audit
        .record(Some(format!("user:{}", session.user.id)), "document.member_removed", info.workspace.as_ref(), Some(format!("user:{user}")), serde_json::json!({ "document": info.id.as_str() }))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
