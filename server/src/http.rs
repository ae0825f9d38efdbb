//! The HTTP surface: the y-websocket endpoint, the REST API, health checks and the web client.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{Path, Query, State};
use axum::http::header::{HOST, ORIGIN};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{any, get};
use axum::{Json, Router};
use relais_storage::{Directory, DocumentId};
use serde::Deserialize;
use tower_http::services::{ServeDir, ServeFile};

use crate::access;
use crate::access_watch::AccessWatch;
use crate::api::{self, ApiError};
use crate::audit::Audit;
use crate::auth::ratelimit::{AuthRateLimit, ChatRateLimit};
use crate::auth::{self, AuthError, oidc::Oidc};
use crate::close::CloseReason;
use crate::config::Config;
use crate::hub::{Hub, refuse_connection, serve_connection};

/// State shared by the handlers.
#[derive(Clone)]
pub struct AppState {
    pub hub: Hub,
    pub config: Arc<Config>,
    pub directory: Arc<dyn Directory>,
    pub audit: Audit,
    pub access: AccessWatch,
    pub auth_limit: AuthRateLimit,
    pub oidc: Option<Arc<Oidc>>,
    pub chat: Arc<dyn relais_storage::Chat>,
    pub chat_hub: crate::chat::hub::ChatHub,
    pub chat_limit: ChatRateLimit,
    pub versions: crate::versions::VersionService,
}

/// The application's routes.
pub fn router(state: AppState) -> Router {
    let web_dir = state.config.web_dir.clone();
    let (api_routes, openapi) = api::router(state.config.chat.attachment_max_bytes);
    let openapi = Arc::new(openapi);
    let router = Router::new()
        // A wildcard, as y-websocket room names may contain '/'.
        .route("/yjs/{*document}", get(yjs))
        .route("/chat", get(crate::chat::socket::chat_socket))
        .merge(api_routes)
        .route("/api/openapi.json", get(move || async move { Json((*openapi).clone()) }))
        .route("/api/{*rest}", any(api_not_found))
        .route("/p/{document}", get(crate::public::page))
        .route("/p/{document}/{file}", get(crate::public::download))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics));
    let router = if web_dir.join("index.html").is_file() {
        let index = ServeFile::new(web_dir.join("index.html"));
        router.fallback_service(ServeDir::new(&web_dir).fallback(index))
    } else {
        router.fallback(get(no_web_client))
    };
    router.with_state(state)
}

async fn api_not_found() -> ApiError {
    ApiError::NotFound("endpoint")
}

#[derive(Deserialize)]
struct YjsQuery {
    token: Option<String>,
}

/// Whether a browser page from `origin` may open a websocket here: the server's own origin
/// (as the browser reached it, per the `Host` header, or as configured) or a configured one.
/// Requests without `Origin` come from programs, not pages, and cannot be hijacked.
pub(crate) fn origin_allowed(state: &AppState, headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(ORIGIN) else { return true };
    let Ok(origin) = origin.to_str() else { return false };
    if state.config.auth.origin_allowed(origin) {
        return true;
    }
    let Ok(parsed) = url::Url::parse(origin) else { return false };
    let Some(host) = parsed.host_str() else { return false };
    let authority = match parsed.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    };
    headers
        .get(HOST)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|host_header| host_header.eq_ignore_ascii_case(&authority))
}

async fn yjs(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(query): Query<YjsQuery>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Result<Response, Response> {
    let document = DocumentId::parse(&name).map_err(|e| (StatusCode::BAD_REQUEST, e.to_string()).into_response())?;
    if !origin_allowed(&state, &headers) {
        return Err((StatusCode::FORBIDDEN, "origin not allowed").into_response());
    }
    let refuse = |upgrade: WebSocketUpgrade, reason: CloseReason| {
        state.hub.metrics().count_close(reason.code());
        upgrade.on_upgrade(move |socket| refuse_connection(socket, reason))
    };
    let now = auth::now_ms();
    let caller = match auth::authenticate(state.directory.as_ref(), &headers, query.token.as_deref(), now).await {
        Ok(Some(caller)) => caller,
        Ok(None) | Err(AuthError::Invalid) => return Ok(refuse(upgrade, CloseReason::Unauthenticated)),
        Err(AuthError::Unavailable(error)) => return Err(ApiError::from(error).into_response()),
    };
    let access = match access::document_access(state.directory.as_ref(), &caller, &document, now).await {
        Ok(Some(access)) => access,
        Ok(None) => return Ok(refuse(upgrade, CloseReason::Forbidden)),
        Err(error) => return Err(ApiError::from(error).into_response()),
    };
    if let Err(error) = state.audit.record_open(caller.actor(), &document, access.role).await {
        return Err(ApiError::from(error).into_response());
    }
    let slot = state
        .hub
        .try_reserve_connection(state.config.max_connections)
        .ok_or_else(|| (StatusCode::SERVICE_UNAVAILABLE, "too many connections").into_response())?;
    let guard = state.access.watch(caller.credential(), document.clone(), access);
    let limit = state.config.hub.max_message_bytes;
    let hub = state.hub.clone();
    let tracker = hub.tracker().clone();
    // Whose edits these are: the session's user, or the user who minted the token.
    let author: Option<Arc<str>> = caller.user().map(|user| Arc::from(user.id.as_str())).or_else(|| match &caller {
        auth::Caller::Token(token) => token.created_by.as_ref().map(|user| Arc::from(user.as_str())),
        auth::Caller::User(_) => None,
    });
    Ok(upgrade
        .max_message_size(limit)
        .max_frame_size(limit)
        // tungstenite zero-fills its read buffer to this size before each read and keeps it:
        // the 128 KiB default costs that much per idle connection. Larger frames still work.
        .read_buffer_size(8 * 1024)
        .on_upgrade(move |socket| tracker.track_future(serve_connection(socket, hub, document, slot, guard, author))))
}

async fn healthz() -> &'static str {
    "ok"
}

async fn readyz(State(state): State<AppState>) -> Response {
    let check = tokio::time::timeout(Duration::from_secs(3), state.hub.store().check_ready()).await;
    if let Some(bus) = state.hub.bus()
        && !bus.is_connected()
    {
        return (StatusCode::SERVICE_UNAVAILABLE, "not ready: bus disconnected").into_response();
    }
    match check {
        Ok(Ok(())) => (StatusCode::OK, "ready").into_response(),
        Ok(Err(error)) => (StatusCode::SERVICE_UNAVAILABLE, format!("not ready: {error}")).into_response(),
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "not ready: storage check timed out").into_response(),
    }
}

async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let hub = &state.hub;
    let metrics = hub.metrics();
    metrics.connections.set(hub.connections() as i64);
    metrics.open_rooms.set(hub.open_rooms() as i64);
    if let Some(bus) = hub.bus() {
        metrics.bus_dropped.set(bus.dropped() as i64);
    }
    (
        [(axum::http::header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")],
        metrics.render(),
    )
}

async fn no_web_client() -> impl IntoResponse {
    (
        StatusCode::NOT_FOUND,
        Html(
            "<!doctype html><html lang=\"fr\"><meta charset=\"utf-8\"><title>Relais</title>\
             <p>Le client web n'est pas construit : lancez <code>./scripts/serve</code> \
             ou <code>npm ci &amp;&amp; npm run build</code> dans <code>web-client/</code>.</p></html>",
        ),
    )
}
