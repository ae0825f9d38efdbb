//! Users, organisations and API tokens.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use relais_storage::{NewApiToken, NewUser, Organisation, OrganisationId, Role, TokenId, UserId, UserKind};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::error::ErrorBody;
use super::{ApiError, ClientAddr, CurrentUser, UserView, rate_limited};
use crate::access;
use crate::auth::{self, password, secrets};
use crate::http::AppState;

/// Longest display name, organisation or workspace name, document title.
pub(crate) const MAX_NAME_CHARS: usize = 200;

pub(crate) fn check_name(what: &str, name: &str) -> Result<String, ApiError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS || name.chars().any(char::is_control) {
        return Err(ApiError::BadRequest(format!("{what} must be 1 to {MAX_NAME_CHARS} characters, without control characters")));
    }
    Ok(name.to_owned())
}

pub(crate) fn check_email(email: &str) -> Result<String, ApiError> {
    let email = email.trim().to_lowercase();
    let valid = email.len() <= 254
        && email.split_once('@').is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.') && !domain.starts_with('.'))
        && !email.chars().any(|c| c.is_whitespace() || c.is_control());
    if valid { Ok(email) } else { Err(ApiError::BadRequest("invalid e-mail address".into())) }
}

pub(crate) fn require_admin(session: &auth::SessionCaller) -> Result<(), ApiError> {
    if session.user.is_admin { Ok(()) } else { Err(ApiError::Forbidden("administrators only")) }
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct UsersQuery {
    /// Only this organisation's members (staff default to their own).
    pub organisation_id: Option<String>,
}

/// Lists people: administrators see everyone; staff see their own organisation; external
/// partners cannot list the directory.
#[utoipa::path(get, path = "/api/users", tag = "directory", params(UsersQuery),
    responses((status = 200, body = Vec<UserView>), (status = 403, body = ErrorBody)))]
pub async fn list_users(
    State(state): State<AppState>,
    CurrentUser(session): CurrentUser,
    Query(query): Query<UsersQuery>,
) -> Result<Json<Vec<UserView>>, ApiError> {
    let requested = match query.organisation_id.as_deref() {
        Some(id) => Some(OrganisationId::parse(id).ok_or(ApiError::NotFound("organisation"))?),
        None => None,
    };
    let organisation = if session.user.is_admin { requested } else { requested.or_else(|| session.user.organisation.clone()) };
    if !session.user.is_admin && !access::can_list_directory(&session.user, organisation.as_ref()) {
        return Err(ApiError::Forbidden("you cannot list this directory"));
    }
    let users = state.directory.list_users(organisation.as_ref()).await?;
    Ok(Json(users.iter().map(UserView::from).collect()))
}

#[derive(Deserialize, ToSchema)]
pub struct CreateUser {
    pub email: String,
    pub display_name: String,
    /// At least 10 characters; omit for accounts that sign in through OpenID Connect.
    pub password: Option<String>,
    pub organisation_id: Option<String>,
    #[serde(default)]
    pub is_admin: bool,
    /// `staff` (default) or `external`.
    pub kind: Option<String>,
}

/// Creates an account (administrators).
#[utoipa::path(post, path = "/api/users", tag = "directory", request_body = CreateUser,
    responses((status = 201, body = UserView), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn create_user(
    State(state): State<AppState>,
    CurrentUser(session): CurrentUser,
    Json(request): Json<CreateUser>,
) -> Result<(StatusCode, Json<UserView>), ApiError> {
    require_admin(&session)?;
    let organisation = match request.organisation_id.as_deref() {
        Some(id) => Some(OrganisationId::parse(id).ok_or(ApiError::NotFound("organisation"))?),
        None => None,
    };
    let kind = match request.kind.as_deref() {
        None | Some("staff") => UserKind::Staff,
        Some("external") => UserKind::External,
        Some(_) => return Err(ApiError::BadRequest("kind must be staff or external".into())),
    };
    let password_hash = match request.password {
        Some(password) => Some(password::hash(password).await.map_err(|e| ApiError::BadRequest(e.to_string()))?),
        None => None,
    };
    let user = state
        .directory
        .create_user(NewUser {
            email: check_email(&request.email)?,
            display_name: check_name("display_name", &request.display_name)?,
            kind,
            organisation,
            is_admin: request.is_admin,
            password_hash,
            oidc: None,
        })
        .await?;
    state
        .audit
        .record(Some(format!("user:{}", session.user.id)), "user.created", None, Some(format!("user:{}", user.id)), serde_json::json!({ "kind": kind.as_str(), "is_admin": user.is_admin }))
        .await?;
    Ok((StatusCode::CREATED, Json((&user).into())))
}

#[derive(Serialize, ToSchema)]
pub struct OrganisationView {
    pub id: String,
    pub name: String,
}

impl From<&Organisation> for OrganisationView {
    fn from(organisation: &Organisation) -> Self {
        Self { id: organisation.id.to_string(), name: organisation.name.clone() }
    }
}

/// Lists organisations: administrators see all, staff their own, external partners none.
#[utoipa::path(get, path = "/api/organisations", tag = "directory",
    responses((status = 200, body = Vec<OrganisationView>), (status = 403, body = ErrorBody)))]
pub async fn list_organisations(
    State(state): State<AppState>,
    CurrentUser(session): CurrentUser,
) -> Result<Json<Vec<OrganisationView>>, ApiError> {
    if session.user.is_admin {
        let all = state.directory.list_organisations().await?;
        return Ok(Json(all.iter().map(OrganisationView::from).collect()));
    }
    if !access::can_list_directory(&session.user, session.user.organisation.as_ref()) {
        return Err(ApiError::Forbidden("you cannot list this directory"));
    }
    let own = match &session.user.organisation {
        Some(id) => state.directory.organisation(id).await?,
        None => None,
    };
    Ok(Json(own.iter().map(OrganisationView::from).collect()))
}

#[derive(Deserialize, ToSchema)]
pub struct CreateOrganisation {
    pub name: String,
}

/// Creates an organisation (administrators).
#[utoipa::path(post, path = "/api/organisations", tag = "directory", request_body = CreateOrganisation,
    responses((status = 201, body = OrganisationView), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn create_organisation(
    State(state): State<AppState>,
    CurrentUser(session): CurrentUser,
    Json(request): Json<CreateOrganisation>,
) -> Result<(StatusCode, Json<OrganisationView>), ApiError> {
    require_admin(&session)?;
    let organisation = state.directory.create_organisation(&check_name("name", &request.name)?).await?;
    state
        .audit
        .record(Some(format!("user:{}", session.user.id)), "organisation.created", None, Some(format!("organisation:{}", organisation.id)), serde_json::json!({}))
        .await?;
    Ok((StatusCode::CREATED, Json((&organisation).into())))
}

/// Makes a user a member of an organisation (administrators).
#[utoipa::path(put, path = "/api/organisations/{organisation_id}/members/{user_id}", tag = "directory",
    params(("organisation_id" = String, Path), ("user_id" = String, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn add_organisation_member(
    State(state): State<AppState>,
    CurrentUser(session): CurrentUser,
    Path((organisation_id, user_id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    require_admin(&session)?;
    let organisation = OrganisationId::parse(&organisation_id).ok_or(ApiError::NotFound("organisation"))?;
    let user = UserId::parse(&user_id).ok_or(ApiError::NotFound("user"))?;
    state.directory.set_user_organisation(&user, Some(&organisation)).await?;
    state
        .audit
        .record(Some(format!("user:{}", session.user.id)), "organisation.member_added", None, Some(format!("user:{user}")), serde_json::json!({ "organisation": organisation.as_str() }))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
pub struct CreateToken {
    /// A document name, a prefix ending in `*`, or `*` for every document.
    pub document: String,
    /// `owner`, `validator`, `editor`, `commenter` or `reader`.
    pub role: String,
    /// Expiry, Unix milliseconds.
    pub expires_at_ms: i64,
}

#[derive(Serialize, ToSchema)]
pub struct CreatedToken {
    pub id: String,
    /// Shown once; pass it as `?token=` or `Authorization: Bearer`.
    pub token: String,
    pub expires_at_ms: i64,
}

/// Mints a websocket token for a document or a document pattern (administrators).
#[utoipa::path(post, path = "/api/tokens", tag = "directory", request_body = CreateToken,
    responses((status = 201, body = CreatedToken), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn create_token(
    State(state): State<AppState>,
    ClientAddr(address): ClientAddr,
    CurrentUser(session): CurrentUser,
    Json(request): Json<CreateToken>,
) -> Result<(StatusCode, Json<CreatedToken>), ApiError> {
    rate_limited(&state, address)?;
    require_admin(&session)?;
    let role = Role::parse(&request.role).ok_or_else(|| ApiError::BadRequest("unknown role".into()))?;
    if request.expires_at_ms <= auth::now_ms() {
        return Err(ApiError::BadRequest("expires_at_ms must be in the future".into()));
    }
    let (id, token) = mint_token(&state, &request.document, role, request.expires_at_ms, Some(session.user.id.clone()), format!("user:{}", session.user.id)).await?;
    Ok((StatusCode::CREATED, Json(CreatedToken { id: id.to_string(), token, expires_at_ms: request.expires_at_ms })))
}

/// Stores a new token and returns its id and the text to hand out (shown once).
pub(crate) async fn mint_token(
    state: &AppState,
    pattern: &str,
    role: Role,
    expires_at_ms: i64,
    created_by: Option<UserId>,
    actor: String,
) -> Result<(TokenId, String), ApiError> {
    auth::check_pattern(pattern).map_err(ApiError::BadRequest)?;
    let id = TokenId::generate();
    let secret = secrets::random_secret();
    state
        .directory
        .create_api_token(&NewApiToken {
            id: id.clone(),
            secret_sha256: secrets::sha256_hex(&secret),
            document_pattern: pattern.to_owned(),
            role,
            expires_at_ms,
            created_by,
        })
        .await?;
    state
        .audit
        .record(Some(actor), "token.created", None, Some(format!("token:{id}")), serde_json::json!({ "document": pattern, "role": role.as_str(), "expires_at_ms": expires_at_ms }))
        .await?;
    Ok((id.clone(), auth::format_token(&id, &secret)))
}
