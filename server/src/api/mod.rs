//! The JSON REST API under `/api/`: sessions, users, organisations, workspaces, members,
//! documents, invitations, tokens and the audit journal.
//!
//! Errors are `{ "error": { "code", "message" } }` with a matching status ([`ApiError`]).
//! The OpenAPI document at `/api/openapi.json` is generated from the handlers' annotations
//! (utoipa), so it cannot drift from the code.
//! State-changing requests authenticated by the session cookie must carry the session's CSRF
//! token in the `X-CSRF-Token` header ([`CurrentUser`] checks it); JSON bodies also require
//! `Content-Type: application/json`, which a cross-site form cannot send.

mod audit;
mod chat;
mod directory;
mod documents;
mod error;
mod invitations;
mod session;
mod versions;
mod workspaces;

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use error::ApiError;
pub(crate) use versions::EXPORT_CSP;
pub use session::{SessionView, UserView, start_session};

use crate::auth::{self, CSRF_HEADER, SessionCaller, secrets};
use crate::http::AppState;

#[derive(OpenApi)]
#[openapi(
    info(title = "Relais API", description = "Accounts, workspaces, documents and the audit journal of a Relais server."),
    tags(
        (name = "session", description = "Signing in and out"),
        (name = "directory", description = "Users and organisations"),
        (name = "workspaces", description = "Workspaces and their members"),
        (name = "documents", description = "Documents and their members"),
        (name = "invitations", description = "Inviting external partners"),
        (name = "audit", description = "The audit journal"),
        (name = "chat", description = "Channels, direct messages and document discussions"),
        (name = "versions", description = "Version history, comparison, restore, validation, publication and exports"),
    )
)]
struct ApiDoc;

/// Largest JSON body the API accepts.
const MAX_JSON_BODY_BYTES: usize = 64 * 1024;

/// The API's routes and its OpenAPI document, built from the same handlers. JSON bodies are
/// limited to 64 KiB; attachment uploads to `max_upload_bytes`.
pub fn router(max_upload_bytes: usize) -> (axum::Router<AppState>, utoipa::openapi::OpenApi) {
    let uploads = OpenApiRouter::new()
        .routes(routes!(chat::upload_attachment))
        .routes(routes!(versions::verify_file))
        .layer(axum::extract::DefaultBodyLimit::max(max_upload_bytes));
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(session::sign_in, session::current, session::sign_out))
        .routes(routes!(session::oidc_login))
        .routes(routes!(session::oidc_callback))
        .routes(routes!(directory::list_users, directory::create_user))
        .routes(routes!(directory::list_organisations, directory::create_organisation))
        .routes(routes!(directory::add_organisation_member))
        .routes(routes!(directory::create_token))
        .routes(routes!(documents::shared_documents))
        .routes(routes!(workspaces::list_workspaces, workspaces::create_workspace))
        .routes(routes!(workspaces::list_members))
        .routes(routes!(workspaces::set_member, workspaces::remove_member))
        .routes(routes!(documents::list_documents, documents::create_document))
        .routes(routes!(documents::get_document, documents::rename_document, documents::delete_document))
        .routes(routes!(documents::list_document_members))
        .routes(routes!(documents::set_document_member, documents::remove_document_member))
        .routes(routes!(invitations::invite_to_workspace, invitations::list_invitations))
        .routes(routes!(invitations::invite_to_document))
        .routes(routes!(invitations::show_invitation, invitations::accept_invitation))
        .routes(routes!(audit::read_audit))
        .routes(routes!(chat::list_conversations))
        .routes(routes!(chat::create_channel))
        .routes(routes!(chat::add_member))
        .routes(routes!(chat::create_direct))
        .routes(routes!(chat::document_conversation))
        .routes(routes!(chat::history, chat::post_message))
        .routes(routes!(chat::edit_message, chat::delete_message))
        .routes(routes!(chat::add_reaction, chat::remove_reaction))
        .routes(routes!(chat::mark_read, chat::read_markers))
        .routes(routes!(chat::search))
        .routes(routes!(chat::download_attachment))
        .routes(routes!(versions::list_versions, versions::name_version))
        .routes(routes!(versions::get_version))
        .routes(routes!(versions::compare_versions))
        .routes(routes!(versions::version_changes))
        .routes(routes!(versions::restore_version))
        .routes(routes!(versions::export_version))
        .routes(routes!(versions::version_integrity))
        .routes(routes!(versions::get_review))
        .routes(routes!(versions::submit_review))
        .routes(routes!(versions::approve_review))
        .routes(routes!(versions::reject_review))
        .routes(routes!(versions::publish, versions::unpublish))
        .routes(routes!(versions::workspace_actions))
        .routes(routes!(versions::live_content))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_JSON_BODY_BYTES))
        .merge(uploads)
        .split_for_parts()
}

/// The signed-in user of a request, through the session cookie. State-changing methods also
/// need the session's CSRF token in `X-CSRF-Token`.
pub struct CurrentUser(pub SessionCaller);

impl FromRequestParts<AppState> for CurrentUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let Some(cookie) = auth::session_cookie(&parts.headers) else {
            return Err(ApiError::Unauthenticated);
        };
        let credential = auth::Credential::Session(secrets::sha256_hex(&cookie));
        let caller = auth::recheck(state.directory.as_ref(), &credential, auth::now_ms())
            .await?
            .ok_or(ApiError::Unauthenticated)?;
        let auth::Caller::User(session) = caller else { return Err(ApiError::Unauthenticated) };
        if !matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS) {
            let sent = parts.headers.get(CSRF_HEADER).and_then(|value| value.to_str().ok()).unwrap_or_default();
            if !secrets::same_digest(sent, &session.csrf_token) {
                return Err(ApiError::Forbidden("missing or wrong CSRF token"));
            }
        }
        Ok(Self(session))
    }
}

/// The client's address, for rate limits: the socket's peer, or the first `X-Forwarded-For`
/// entry when configured to trust the reverse proxy.
pub struct ClientAddr(pub IpAddr);

impl FromRequestParts<AppState> for ClientAddr {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        Ok(Self(client_addr(&parts.headers, parts.extensions.get::<ConnectInfo<SocketAddr>>(), state)))
    }
}

pub(crate) fn client_addr(headers: &HeaderMap, peer: Option<&ConnectInfo<SocketAddr>>, state: &AppState) -> IpAddr {
    if state.config.auth.trust_forwarded_for
        && let Some(forwarded) = headers
            .get("x-forwarded-for")
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.split(',').next())
            .and_then(|first| first.trim().parse().ok())
    {
        return forwarded;
    }
    peer.map_or(IpAddr::from([0, 0, 0, 0]), |ConnectInfo(address)| address.ip())
}

/// Headers of a file served as a download: `Content-Disposition: attachment` with an ASCII
/// fallback name and the UTF-8 one (RFC 6266), `nosniff`, and a sandboxing CSP in case a
/// browser renders it anyway.
pub(crate) fn download_headers(content_type: &str, file_name: &str, csp: &'static str) -> HeaderMap {
    use axum::http::HeaderValue;
    use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
    let ascii: String = file_name
        .chars()
        .map(|c| if c.is_ascii() && !c.is_ascii_control() && c != '"' && c != '\\' { c } else { '_' })
        .collect();
    let encoded: String = url::form_urlencoded::byte_serialize(file_name.as_bytes()).collect::<String>().replace('+', "%20");
    let disposition = format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}");
    let mut headers = HeaderMap::new();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_str(content_type).unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    headers.insert(CONTENT_DISPOSITION, HeaderValue::from_str(&disposition).unwrap_or(HeaderValue::from_static("attachment")));
    headers.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    headers.insert("content-security-policy", HeaderValue::from_static(csp));
    headers
}

/// Refuses the request when its address is over the sign-in/invitation/token rate.
pub(crate) fn rate_limited(state: &AppState, address: IpAddr) -> Result<(), ApiError> {
    if state.auth_limit.check(&address) { Ok(()) } else { Err(ApiError::RateLimited) }
}
