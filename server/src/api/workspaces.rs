//! Workspaces and their members.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use relais_storage::{Grant, Member, OrganisationId, Role, User, UserId, UserKind, Workspace, WorkspaceId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::directory::check_name;
use super::error::ErrorBody;
use super::{ApiError, CurrentUser, UserView};
use crate::access;
use crate::auth;
use crate::http::AppState;

#[derive(Serialize, ToSchema)]
pub struct WorkspaceView {
    pub id: String,
    pub organisation_id: String,
    pub name: String,
    /// The caller's role.
    pub role: String,
}

fn view(workspace: &Workspace, role: Role) -> WorkspaceView {
    WorkspaceView {
        id: workspace.id.to_string(),
        organisation_id: workspace.organisation.to_string(),
        name: workspace.name.clone(),
        role: role.as_str().to_owned(),
    }
}

pub(crate) fn parse_workspace(id: &str) -> Result<WorkspaceId, ApiError> {
    WorkspaceId::parse(id).ok_or(ApiError::NotFound("workspace"))
}

/// The caller's role in a workspace; a workspace they cannot see is "not found", so that its
/// existence is not revealed.
pub(crate) async fn role_in(state: &AppState, user: &User, workspace: &WorkspaceId) -> Result<(Workspace, Role), ApiError> {
    let found = state.directory.workspace(workspace).await?.ok_or(ApiError::NotFound("workspace"))?;
    let grant = state.directory.workspace_grant(workspace, &user.id).await?;
    let role = access::workspace_role(user, grant.as_ref(), auth::now_ms()).ok_or(ApiError::NotFound("workspace"))?;
    Ok((found, role))
}

/// The caller's workspaces, with their role in each.
#[utoipa::path(get, path = "/api/workspaces", tag = "workspaces", responses((status = 200, body = Vec<WorkspaceView>)))]
pub async fn list_workspaces(
    State(state): State<AppState>,
    CurrentUser(session): CurrentUser,
) -> Result<Json<Vec<WorkspaceView>>, ApiError> {
    let now = auth::now_ms();
    if session.user.is_admin {
        let all = state.directory.list_workspaces().await?;
        return Ok(Json(all.iter().map(|w| view(w, Role::Owner)).collect()));
    }
    let mine = state.directory.workspaces_of(&session.user.id).await?;
    Ok(Json(
        mine.iter()
            .filter_map(|(workspace, grant)| access::workspace_role(&session.user, Some(grant), now).map(|role| view(workspace, role)))
            .collect(),
    ))
}

#[derive(Deserialize, ToSchema)]
pub struct CreateWorkspace {
    pub organisation_id: String,
    pub name: String,
}

/// Creates a workspace in the caller's organisation (or any, for administrators); the creator
/// becomes its owner.
#[utoipa::path(post, path = "/api/workspaces", tag = "workspaces", request_body = CreateWorkspace,
    responses((status = 201, body = WorkspaceView), (status = 403, body = ErrorBody)))]
pub async fn create_workspace(
    State(state): State<AppState>,
    CurrentUser(session): CurrentUser,
    Json(request): Json<CreateWorkspace>,
) -> Result<(StatusCode, Json<WorkspaceView>), ApiError> {
    let organisation = OrganisationId::parse(&request.organisation_id).ok_or(ApiError::NotFound("organisation"))?;
    let own = session.user.kind == UserKind::Staff && session.user.organisation.as_ref() == Some(&organisation);
    if !(session.user.is_admin || own) {
        return Err(ApiError::Forbidden("only staff of the organisation can create its workspaces"));
    }
    let workspace = state.directory.create_workspace(&organisation, &check_name("name", &request.name)?).await?;
    let owner = Grant { role: Role::Owner, expires_at_ms: None, sponsor: None };
    state.directory.set_workspace_member(&workspace.id, &session.user.id, &owner).await?;
    state
        .audit
        .record(Some(format!("user:{}", session.user.id)), "workspace.created", Some(&workspace.id), Some(format!("workspace:{}", workspace.id)), serde_json::json!({}))
        .await?;
    Ok((StatusCode::CREATED, Json(view(&workspace, Role::Owner))))
}

#[derive(Serialize, ToSchema)]
pub struct MemberView {
    pub user: UserView,
    pub role: String,
    pub expires_at_ms: Option<i64>,
    pub sponsor_id: Option<String>,
    /// The grant has expired and gives nothing any more.
    pub expired: bool,
}

pub(crate) fn member_views(members: &[Member]) -> Vec<MemberView> {
    let now = auth::now_ms();
    members
        .iter()
        .map(|member| MemberView {
            user: (&member.user).into(),
            role: member.grant.role.as_str().to_owned(),
            expires_at_ms: member.grant.expires_at_ms,
            sponsor_id: member.grant.sponsor.as_ref().map(UserId::to_string),
            expired: member.grant.expires_at_ms.is_some_and(|expiry| expiry <= now),
        })
        .collect()
}

/// The workspace's members (any member may see who they work with).
#[utoipa::path(get, path = "/api/workspaces/{workspace_id}/members", tag = "workspaces",
    params(("workspace_id" = String, Path)),
    responses((status = 200, body = Vec<MemberView>), (status = 404, body = ErrorBody)))]
pub async fn list_members(
    State(state): State<AppState>,
    CurrentUser(session): CurrentUser,
    Path(workspace_id): Path<String>,
) -> Result<Json<Vec<MemberView>>, ApiError> {
    let workspace = parse_workspace(&workspace_id)?;
    role_in(&state, &session.user, &workspace).await?;
    Ok(Json(member_views(&state.directory.workspace_members(&workspace).await?)))
}

#[derive(Deserialize, ToSchema)]
pub struct SetMember {
    /// `owner`, `validator`, `editor`, `commenter` or `reader`.
    pub role: String,
    /// When the membership ends, Unix milliseconds; required for external partners.
    pub expires_at_ms: Option<i64>,
}

pub(crate) async fn grant_from(state: &AppState, request: &SetMember, user: &UserId, sponsor: &UserId) -> Result<Grant, ApiError> {
    let role = Role::parse(&request.role).ok_or_else(|| ApiError::BadRequest("unknown role".into()))?;
    let target = state.directory.user(user).await?.ok_or(ApiError::NotFound("user"))?;
    if target.kind == UserKind::External {
        if request.expires_at_ms.is_none() {
            return Err(ApiError::BadRequest("an external partner's access needs an expiry date".into()));
        }
        if role == Role::Owner {
            return Err(ApiError::BadRequest("an external partner cannot be an owner".into()));
        }
    }
    let sponsor = (target.kind == UserKind::External).then(|| sponsor.clone());
    Ok(Grant { role, expires_at_ms: request.expires_at_ms, sponsor })
}

/// Adds a member or changes their role (owners). Open connections follow within a second.
#[utoipa::path(put, path = "/api/workspaces/{workspace_id}/members/{user_id}", tag = "workspaces",
    params(("workspace_id" = String, Path), ("user_id" = String, Path)), request_body = SetMember,
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn set_member(
    State(state): State<AppState>,
    CurrentUser(session): CurrentUser,
    Path((workspace_id, user_id)): Path<(String, String)>,
    Json(request): Json<SetMember>,
) -> Result<StatusCode, ApiError> {
    let workspace = parse_workspace(&workspace_id)?;
    let (_, role) = role_in(&state, &session.user, &workspace).await?;
    if role != Role::Owner {
        return Err(ApiError::Forbidden("only owners can change members"));
    }
    let user = UserId::parse(&user_id).ok_or(ApiError::NotFound("user"))?;
    let grant = grant_from(&state, &request, &user, &session.user.id).await?;
    let previous = state.directory.workspace_grant(&workspace, &user).await?;
    state.directory.set_workspace_member(&workspace, &user, &grant).await?;
    state
        .audit
        .record(
            Some(format!("user:{}", session.user.id)),
            "member.role_changed",
            Some(&workspace),
            Some(format!("user:{user}")),
            serde_json::json!({ "role": grant.role.as_str(), "previous": previous.map(|g| g.role.as_str()), "expires_at_ms": grant.expires_at_ms }),
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Removes a member (owners). Their open connections close within a second.
#[utoipa::path(delete, path = "/api/workspaces/{workspace_id}/members/{user_id}", tag = "workspaces",
    params(("workspace_id" = String, Path), ("user_id" = String, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn remove_member(
    State(state): State<AppState>,
    CurrentUser(session): CurrentUser,
    Path((workspace_id, user_id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let workspace = parse_workspace(&workspace_id)?;
    let (_, role) = role_in(&state, &session.user, &workspace).await?;
    if role != Role::Owner {
        return Err(ApiError::Forbidden("only owners can change members"));
    }
    let user = UserId::parse(&user_id).ok_or(ApiError::NotFound("user"))?;
    if !state.directory.remove_workspace_member(&workspace, &user).await? {
        return Err(ApiError::NotFound("member"));
    }
    state
        .audit
        .record(Some(format!("user:{}", session.user.id)), "member.removed", Some(&workspace), Some(format!("user:{user}")), serde_json::json!({}))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
