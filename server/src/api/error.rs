//! The API's one error type and its JSON shape.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use relais_storage::StoreError;
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::AuthError;

/// Everything a handler can refuse with; mapped in one place to a status, a stable code and a
/// message safe to show (causes are logged, never sent).
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("authentication required")]
    Unauthenticated,
    #[error("invalid e-mail or password")]
    BadCredentials,
    #[error("{0}")]
    Forbidden(&'static str),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    TooLarge(String),
    #[error("{0}")]
    UnsupportedType(String),
    #[error("too many attempts, try again in a minute")]
    RateLimited,
    #[error("{0} is not configured on this server")]
    NotConfigured(&'static str),
    #[error("service temporarily unavailable")]
    Unavailable(#[source] StoreError),
    #[error("internal error")]
    Internal(String),
}

/// `{ "error": { "code": "...", "message": "..." } }`.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable, for programs: `bad_request`, `unauthenticated`, `forbidden`, `not_found`,
    /// `conflict`, `too_large`, `unsupported_type`, `rate_limited`, `not_configured`,
    /// `unavailable`, `internal`.
    pub code: &'static str,
    /// For people.
    pub message: String,
}

impl ApiError {
    /// The stable code of the JSON error shape (also used on the chat websocket).
    pub fn code(&self) -> &'static str {
        self.status_and_code().1
    }

    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            ApiError::Unauthenticated | ApiError::BadCredentials => (StatusCode::UNAUTHORIZED, "unauthenticated"),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            ApiError::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "too_large"),
            ApiError::UnsupportedType(_) => (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_type"),
            ApiError::RateLimited => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
            ApiError::NotConfigured(_) => (StatusCode::NOT_FOUND, "not_configured"),
            ApiError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        match &self {
            ApiError::Unavailable(cause) => tracing::warn!(error = %cause, source = ?std::error::Error::source(cause), "api: storage unavailable"),
            ApiError::Internal(cause) => tracing::error!(cause = %cause, "api: internal error"),
            _ => {}
        }
        let body = ErrorBody { error: ErrorDetail { code, message: self.to_string() } };
        (status, Json(body)).into_response()
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Conflict(what) => ApiError::Conflict(what),
            StoreError::Frozen(_) => ApiError::Conflict("the document is under review".into()),
            StoreError::NotFound(_) => ApiError::NotFound("resource"),
            error if error.is_unavailable() => ApiError::Unavailable(error),
            error => ApiError::Internal(error.to_string()),
        }
    }
}

impl From<AuthError> for ApiError {
    fn from(error: AuthError) -> Self {
        match error {
            AuthError::Invalid => ApiError::Unauthenticated,
            AuthError::Unavailable(error) => error.into(),
        }
    }
}
