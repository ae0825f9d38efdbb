//! The HTTP surface: the y-websocket endpoint, health checks and the web client.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use relais_storage::DocumentId;
use tower_http::services::{ServeDir, ServeFile};

use crate::config::Config;
use crate::hub::{Hub, serve_connection};

/// State shared by the handlers.
#[derive(Clone)]
pub struct AppState {
    pub hub: Hub,
    pub config: Arc<Config>,
}

/// Errors a handler returns, mapped to a status and a stable, safe message.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    InvalidDocumentName(String),
    #[error("too many connections")]
    TooManyConnections,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = match self {
            ApiError::InvalidDocumentName(_) => StatusCode::BAD_REQUEST,
            ApiError::TooManyConnections => StatusCode::SERVICE_UNAVAILABLE,
        };
        (status, self.to_string()).into_response()
    }
}

/// The application's routes.
pub fn router(state: AppState) -> Router {
    let web_dir = state.config.web_dir.clone();
    let router = Router::new()
        // A wildcard, as y-websocket room names may contain '/'.
        .route("/yjs/{*document}", get(yjs))
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

async fn yjs(
    State(state): State<AppState>,
    Path(name): Path<String>,
    upgrade: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    let document = DocumentId::parse(&name).map_err(|e| ApiError::InvalidDocumentName(e.to_string()))?;
    let slot = state
        .hub
        .try_reserve_connection(state.config.max_connections)
        .ok_or(ApiError::TooManyConnections)?;
    let limit = state.config.hub.max_message_bytes;
    let hub = state.hub.clone();
    let tracker = hub.tracker().clone();
    Ok(upgrade
        .max_message_size(limit)
        .max_frame_size(limit)
        // tungstenite zero-fills its read buffer to this size before each read and keeps it:
        // the 128 KiB default costs that much per idle connection. Larger frames still work.
        .read_buffer_size(8 * 1024)
        .on_upgrade(move |socket| tracker.track_future(serve_connection(socket, hub, document, slot))))
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
