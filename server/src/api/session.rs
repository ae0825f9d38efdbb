//! Signing in and out: password sign-in, the current session, sign-out, and the OpenID
//! Connect redirect and callback.

use axum::Json;
use axum::extract::{Query, State};
use axum::http::header::{LOCATION, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use cookie::{Cookie, SameSite};
use relais_storage::{OrganisationId, Session, User, UserKind};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{ApiError, ClientAddr, CurrentUser, rate_limited};
use crate::auth::{self, SESSION_COOKIE, password, secrets};
use crate::http::AppState;

/// A user as shown by the API. External partners are marked wherever a name appears.
#[derive(Serialize, ToSchema, Clone, Debug)]
pub struct UserView {
    pub id: String,
    pub email: String,
    pub display_name: String,
    /// `staff` or `external`.
    pub kind: String,
    pub external: bool,
    pub organisation_id: Option<String>,
    pub is_admin: bool,
    pub disabled: bool,
}

impl From<&User> for UserView {
    fn from(user: &User) -> Self {
        Self {
            id: user.id.to_string(),
            email: user.email.clone(),
            display_name: user.display_name.clone(),
            kind: user.kind.as_str().to_owned(),
            external: user.kind == UserKind::External,
            organisation_id: user.organisation.as_ref().map(OrganisationId::to_string),
            is_admin: user.is_admin,
            disabled: user.disabled_at_ms.is_some(),
        }
    }
}

/// The signed-in user and the token to send back in `X-CSRF-Token`.
#[derive(Serialize, ToSchema)]
pub struct SessionView {
    pub user: UserView,
    pub csrf_token: String,
}

#[derive(Deserialize, ToSchema)]
pub struct SignIn {
    pub email: String,
    pub password: String,
}

/// Opens a session for `user`: stores its digest and returns the cookie to set.
pub async fn start_session(state: &AppState, user: &User, method: &str) -> Result<(HeaderMap, SessionView), ApiError> {
    let secret = secrets::random_secret();
    let now = auth::now_ms();
    let ttl_ms = i64::try_from(state.config.auth.session_ttl.as_millis()).unwrap_or(i64::MAX);
    let session = Session {
        user: user.id.clone(),
        csrf_token: secrets::random_secret(),
        created_at_ms: now,
        expires_at_ms: now.saturating_add(ttl_ms),
        revoked_at_ms: None,
    };
    state.directory.create_session(&secrets::sha256_hex(&secret), &session).await?;
    state
        .audit
        .record(Some(format!("user:{}", user.id)), "session.created", None, Some(format!("user:{}", user.id)), serde_json::json!({ "method": method }))
        .await?;
    let cookie = Cookie::build((SESSION_COOKIE, secret))
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(state.config.auth.secure_cookies())
        .path("/")
        .max_age(cookie::time::Duration::seconds(i64::try_from(state.config.auth.session_ttl.as_secs()).unwrap_or(i64::MAX)))
        .build();
    let mut headers = HeaderMap::new();
    headers.insert(SET_COOKIE, HeaderValue::from_str(&cookie.to_string()).map_err(|e| ApiError::Internal(e.to_string()))?);
    Ok((headers, SessionView { user: user.into(), csrf_token: session.csrf_token }))
}

fn clear_cookie(state: &AppState) -> HeaderMap {
    let cookie = Cookie::build((SESSION_COOKIE, ""))
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(state.config.auth.secure_cookies())
        .path("/")
        .max_age(cookie::time::Duration::ZERO)
        .build();
    let mut headers = HeaderMap::new();
    if let Ok(value) = HeaderValue::from_str(&cookie.to_string()) {
        headers.insert(SET_COOKIE, value);
    }
    headers
}

/// Signs in with an e-mail and password.
#[utoipa::path(post, path = "/api/session", tag = "session", request_body = SignIn,
    responses((status = 200, body = SessionView), (status = 401, body = super::error::ErrorBody), (status = 429, body = super::error::ErrorBody)))]
pub async fn sign_in(
    State(state): State<AppState>,
    ClientAddr(address): ClientAddr,
    Json(request): Json<SignIn>,
) -> Result<Response, ApiError> {
    rate_limited(&state, address)?;
    let found = state.directory.password_credentials(&request.email).await?;
    let (user, stored) = match found {
        Some((user, stored)) => (Some(user), stored),
        None => (None, None),
    };
    // Verified even without an account, so timing does not reveal which e-mails exist.
    let matches = password::verify(request.password, stored).await;
    let user = user.filter(|user| matches && user.disabled_at_ms.is_none()).ok_or(ApiError::BadCredentials)?;
    let (headers, view) = start_session(&state, &user, "password").await?;
    Ok((headers, Json(view)).into_response())
}

/// The signed-in user.
#[utoipa::path(get, path = "/api/session", tag = "session",
    responses((status = 200, body = SessionView), (status = 401, body = super::error::ErrorBody)))]
pub async fn current(CurrentUser(session): CurrentUser) -> Json<SessionView> {
    Json(SessionView { user: (&session.user).into(), csrf_token: session.csrf_token })
}

/// Signs out: the session is revoked on the server, and websockets opened with it close.
#[utoipa::path(delete, path = "/api/session", tag = "session",
    responses((status = 204), (status = 401, body = super::error::ErrorBody)))]
pub async fn sign_out(State(state): State<AppState>, CurrentUser(session): CurrentUser) -> Result<Response, ApiError> {
    state.directory.revoke_session(&session.session_sha256).await?;
    let actor = format!("user:{}", session.user.id);
    state.audit.record(Some(actor.clone()), "session.revoked", None, Some(actor), serde_json::json!({})).await?;
    Ok((StatusCode::NO_CONTENT, clear_cookie(&state)).into_response())
}

/// Starts an OpenID Connect sign-in: redirects to the provider.
#[utoipa::path(get, path = "/api/auth/oidc/login", tag = "session",
    responses((status = 303, description = "to the provider"), (status = 404, body = super::error::ErrorBody)))]
pub async fn oidc_login(State(state): State<AppState>, ClientAddr(address): ClientAddr) -> Result<Response, ApiError> {
    rate_limited(&state, address)?;
    let oidc = state.oidc.as_ref().ok_or(ApiError::NotConfigured("OpenID Connect"))?;
    let (provider_url, pending_cookie) = oidc.begin(state.config.auth.secure_cookies());
    let mut headers = HeaderMap::new();
    headers.insert(LOCATION, HeaderValue::from_str(provider_url.as_str()).map_err(|e| ApiError::Internal(e.to_string()))?);
    headers.insert(SET_COOKIE, HeaderValue::from_str(&pending_cookie).map_err(|e| ApiError::Internal(e.to_string()))?);
    Ok((StatusCode::SEE_OTHER, headers).into_response())
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct CallbackQuery {
    pub code: Option<String>,
    pub state: Option<String>,
    pub error: Option<String>,
}

/// The provider's redirect back: checks state, nonce and PKCE, finds or creates the user by
/// subject, opens a session and redirects to the web client.
#[utoipa::path(get, path = "/api/auth/oidc/callback", tag = "session", params(CallbackQuery),
    responses((status = 303, description = "signed in, to the web client"), (status = 401, body = super::error::ErrorBody)))]
pub async fn oidc_callback(
    State(state): State<AppState>,
    ClientAddr(address): ClientAddr,
    headers: HeaderMap,
    Query(query): Query<CallbackQuery>,
) -> Result<Response, ApiError> {
    rate_limited(&state, address)?;
    let oidc = state.oidc.as_ref().ok_or(ApiError::NotConfigured("OpenID Connect"))?;
    if query.error.is_some() {
        return Err(ApiError::BadCredentials);
    }
    let (Some(code), Some(returned_state)) = (query.code, query.state) else {
        return Err(ApiError::BadRequest("code and state are required".into()));
    };
    let identity = oidc.finish(&headers, &code, &returned_state).await.map_err(|error| {
        tracing::warn!(error = %error, "oidc sign-in refused");
        ApiError::BadCredentials
    })?;
    let user = crate::auth::oidc::find_or_create_user(&state, &identity).await?;
    if user.disabled_at_ms.is_some() {
        return Err(ApiError::BadCredentials);
    }
    let (mut headers, _) = start_session(&state, &user, "oidc").await?;
    headers.append(SET_COOKIE, HeaderValue::from_str(&oidc.clear_pending_cookie(state.config.auth.secure_cookies())).map_err(|e| ApiError::Internal(e.to_string()))?);
    headers.insert(LOCATION, HeaderValue::from_static("/"));
    Ok((StatusCode::SEE_OTHER, headers).into_response())
}
