//! Inviting external partners to a workspace or a document, with a role, an expiry and a
//! sponsor; and accepting an invitation.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use relais_storage::{Grant, Invitation, InvitationId, InvitationTarget, NewInvitation, NewUser, Role, UserKind, WorkspaceId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::directory::{check_email, check_name};
use super::documents::document_access;
use super::error::ErrorBody;
use super::workspaces::{parse_workspace, role_in};
use super::{ApiError, ClientAddr, CurrentUser, rate_limited, start_session};
use crate::auth::{self, password, secrets};
use crate::http::AppState;

#[derive(Deserialize, ToSchema)]
pub struct Invite {
    pub email: String,
    /// `validator`, `editor`, `commenter` or `reader`.
    pub role: String,
    /// When the partner's access ends, Unix milliseconds.
    pub expires_at_ms: i64,
}

#[derive(Serialize, ToSchema)]
pub struct InvitationView {
    pub id: String,
    pub email: String,
    pub workspace_id: Option<String>,
    pub document_id: Option<String>,
    pub role: String,
    pub expires_at_ms: i64,
    pub sponsor_id: String,
    /// `open`, `accepted`, `revoked` or `expired`.
    pub status: String,
}

#[derive(Serialize, ToSchema)]
pub struct CreatedInvitation {
    pub invitation: InvitationView,
    /// The link to send to the partner (shown once; also written to the server log).
    pub url: String,
}

fn view(invitation: &Invitation) -> InvitationView {
    let status = if invitation.revoked_at_ms.is_some() {
        "revoked"
    } else if invitation.accepted_at_ms.is_some() {
        "accepted"
    } else if invitation.access_expires_at_ms <= auth::now_ms() {
        "expired"
    } else {
        "open"
    };
    let (workspace_id, document_id) = match &invitation.target {
        InvitationTarget::Workspace(id) => (Some(id.to_string()), None),
        InvitationTarget::Document(id) => (None, Some(id.to_string())),
    };
    InvitationView {
        id: invitation.id.to_string(),
        email: invitation.email.clone(),
        workspace_id,
        document_id,
        role: invitation.role.as_str().to_owned(),
        expires_at_ms: invitation.access_expires_at_ms,
        sponsor_id: invitation.sponsor.to_string(),
        status: status.to_owned(),
    }
}

async fn invite(
    state: &AppState,
    sponsor: &relais_storage::User,
    target: InvitationTarget,
    workspace: Option<&WorkspaceId>,
    request: Invite,
) -> Result<(StatusCode, Json<CreatedInvitation>), ApiError> {
    let role = Role::parse(&request.role).ok_or_else(|| ApiError::BadRequest("unknown role".into()))?;
    if role == Role::Owner {
        return Err(ApiError::BadRequest("an external partner cannot be an owner".into()));
    }
    if request.expires_at_ms <= auth::now_ms() {
        return Err(ApiError::BadRequest("expires_at_ms must be in the future".into()));
    }
    let secret = secrets::random_secret();
    let invitation = state
        .directory
        .create_invitation(&NewInvitation {
            id: InvitationId::generate(),
            secret_sha256: secrets::sha256_hex(&secret),
            email: check_email(&request.email)?,
            target,
            role,
            access_expires_at_ms: request.expires_at_ms,
            sponsor: sponsor.id.clone(),
        })
        .await?;
    let mut url = state.config.auth.public_url.clone();
    url.set_path("/");
    url.set_query(Some(&format!("invitation={secret}")));
    state
        .audit
        .record(
            Some(format!("user:{}", sponsor.id)),
            "invitation.created",
            workspace,
            Some(format!("invitation:{}", invitation.id)),
            serde_json::json!({ "role": role.as_str(), "expires_at_ms": request.expires_at_ms }),
        )
        .await?;
    // No mail is sent: the sponsor passes the link on, and operators find it in the log.
    tracing::info!(invitation = %invitation.id, sponsor = %sponsor.id, link = %url, "invitation created");
    Ok((StatusCode::CREATED, Json(CreatedInvitation { invitation: view(&invitation), url: url.to_string() })))
}

/// Invites an outside person to the workspace (owners).
#[utoipa::path(post, path = "/api/workspaces/{workspace_id}/invitations", tag = "invitations",
    params(("workspace_id" = String, Path)), request_body = Invite,
    responses((status = 201, body = CreatedInvitation), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn invite_to_workspace(
    State(state): State<AppState>,
    ClientAddr(address): ClientAddr,
    CurrentUser(session): CurrentUser,
    Path(workspace_id): Path<String>,
    Json(request): Json<Invite>,
) -> Result<(StatusCode, Json<CreatedInvitation>), ApiError> {
    rate_limited(&state, address)?;
    let workspace = parse_workspace(&workspace_id)?;
    let (_, role) = role_in(&state, &session.user, &workspace).await?;
    if role != Role::Owner {
        return Err(ApiError::Forbidden("only owners invite partners"));
    }
    invite(&state, &session.user, InvitationTarget::Workspace(workspace.clone()), Some(&workspace), request).await
}

/// The workspace's invitations (owners).
#[utoipa::path(get, path = "/api/workspaces/{workspace_id}/invitations", tag = "invitations",
    params(("workspace_id" = String, Path)),
    responses((status = 200, body = Vec<InvitationView>), (status = 403, body = ErrorBody)))]
pub async fn list_invitations(
    State(state): State<AppState>,
    CurrentUser(session): CurrentUser,
    Path(workspace_id): Path<String>,
) -> Result<Json<Vec<InvitationView>>, ApiError> {
    let workspace = parse_workspace(&workspace_id)?;
    let (_, role) = role_in(&state, &session.user, &workspace).await?;
    if role != Role::Owner {
        return Err(ApiError::Forbidden("only owners see invitations"));
    }
    Ok(Json(state.directory.list_invitations(&workspace).await?.iter().map(view).collect()))
}

/// Invites an outside person to one document (its owners).
#[utoipa::path(post, path = "/api/documents/{document_id}/invitations", tag = "invitations",
    params(("document_id" = String, Path)), request_body = Invite,
    responses((status = 201, body = CreatedInvitation), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn invite_to_document(
    State(state): State<AppState>,
    ClientAddr(address): ClientAddr,
    CurrentUser(session): CurrentUser,
    Path(document_id): Path<String>,
    Json(request): Json<Invite>,
) -> Result<(StatusCode, Json<CreatedInvitation>), ApiError> {
    rate_limited(&state, address)?;
    let (info, access) = document_access(&state, &session, &document_id).await?;
    if access.role != Role::Owner {
        return Err(ApiError::Forbidden("only owners invite partners"));
    }
    invite(&state, &session.user, InvitationTarget::Document(info.id.clone()), info.workspace.as_ref(), request).await
}

async fn open_invitation(state: &AppState, secret: &str) -> Result<Invitation, ApiError> {
    if secret.len() > 128 {
        return Err(ApiError::NotFound("invitation"));
    }
    let invitation = state.directory.invitation_by_secret(&secrets::sha256_hex(secret)).await?.ok_or(ApiError::NotFound("invitation"))?;
    if invitation.revoked_at_ms.is_some() || invitation.accepted_at_ms.is_some() || invitation.access_expires_at_ms <= auth::now_ms() {
        return Err(ApiError::Conflict("this invitation is no longer valid".into()));
    }
    Ok(invitation)
}

/// What an invitation link offers, before accepting it.
#[utoipa::path(get, path = "/api/invitations/{secret}", tag = "invitations",
    params(("secret" = String, Path)),
    responses((status = 200, body = InvitationView), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn show_invitation(
    State(state): State<AppState>,
    ClientAddr(address): ClientAddr,
    Path(secret): Path<String>,
) -> Result<Json<InvitationView>, ApiError> {
    rate_limited(&state, address)?;
    Ok(Json(view(&open_invitation(&state, &secret).await?)))
}

#[derive(Deserialize, ToSchema, Default)]
pub struct AcceptInvitation {
    /// For a new account: the name to show.
    pub display_name: Option<String>,
    /// For a new account: at least 10 characters.
    pub password: Option<String>,
}

/// Accepts an invitation: creates the partner's external account (or uses the signed-in
/// account with the invited e-mail) and grants the role until the expiry.
#[utoipa::path(post, path = "/api/invitations/{secret}/accept", tag = "invitations",
    params(("secret" = String, Path)), request_body = AcceptInvitation,
    responses((status = 200, body = super::SessionView), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn accept_invitation(
    State(state): State<AppState>,
    ClientAddr(address): ClientAddr,
    headers: axum::http::HeaderMap,
    Path(secret): Path<String>,
    Json(request): Json<AcceptInvitation>,
) -> Result<Response, ApiError> {
    rate_limited(&state, address)?;
    let invitation = open_invitation(&state, &secret).await?;
    let signed_in = match auth::session_cookie(&headers) {
        Some(cookie) => auth::recheck(state.directory.as_ref(), &auth::Credential::Session(secrets::sha256_hex(&cookie)), auth::now_ms()).await?,
        None => None,
    };
    let (user, new_account) = match signed_in.as_ref().and_then(auth::Caller::user) {
        Some(user) if user.email == invitation.email => (user.clone(), false),
        Some(_) => return Err(ApiError::Forbidden("this invitation is for another e-mail address")),
        None => {
            if state.directory.user_by_email(&invitation.email).await?.is_some() {
                return Err(ApiError::Conflict("an account exists for this e-mail: sign in first, then accept".into()));
            }
            let display_name = check_name("display_name", request.display_name.as_deref().unwrap_or_default())?;
            let password = request.password.ok_or_else(|| ApiError::BadRequest("a password is required".into()))?;
            let password_hash = password::hash(password).await.map_err(|e| ApiError::BadRequest(e.to_string()))?;
            let user = state
                .directory
                .create_user(NewUser {
                    email: invitation.email.clone(),
                    display_name,
                    kind: UserKind::External,
                    organisation: None,
                    is_admin: false,
                    password_hash: Some(password_hash),
                    oidc: None,
                })
                .await?;
            (user, true)
        }
    };
    if !state.directory.mark_invitation_accepted(&invitation.id, &user.id).await? {
        return Err(ApiError::Conflict("this invitation is no longer valid".into()));
    }
    let grant = Grant { role: invitation.role, expires_at_ms: Some(invitation.access_expires_at_ms), sponsor: Some(invitation.sponsor.clone()) };
    let workspace = match &invitation.target {
        InvitationTarget::Workspace(workspace) => {
            state.directory.set_workspace_member(workspace, &user.id, &grant).await?;
            Some(workspace.clone())
        }
        InvitationTarget::Document(document) => {
            state.directory.set_document_member(document, &user.id, &grant).await?;
            state.directory.document(document).await?.and_then(|info| info.workspace)
        }
    };
    state
        .audit
        .record(
            Some(format!("user:{}", user.id)),
            "invitation.accepted",
            workspace.as_ref(),
            Some(format!("invitation:{}", invitation.id)),
            serde_json::json!({ "role": invitation.role.as_str(), "new_account": new_account, "sponsor": invitation.sponsor.as_str() }),
        )
        .await?;
    if new_account {
        let (headers, view) = start_session(&state, &user, "invitation").await?;
        Ok((headers, Json(view)).into_response())
    } else {
        let Some(auth::Caller::User(session)) = signed_in else { return Err(ApiError::Unauthenticated) };
        Ok(Json(super::SessionView { user: (&session.user).into(), csrf_token: session.csrf_token }).into_response())
    }
}
