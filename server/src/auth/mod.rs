//! Who is calling: session cookies, API tokens, passwords, OpenID Connect, rate limits.
//!
//! Authentication ends in a [`Caller`]; what a caller may do is decided by [`crate::access`].
//! Secrets (cookies, tokens, invitation links) are only ever stored as sha256 digests and
//! never logged.

pub mod oidc;
pub mod password;
pub mod ratelimit;
pub mod secrets;

use axum::http::HeaderMap;
use axum::http::header::{AUTHORIZATION, COOKIE};
use relais_storage::{ApiToken, Directory, StoreError, TokenId, UnixMillis, User};

/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "relais_session";
/// Header carrying the session's CSRF token on every state-changing API request.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// Prefix of API tokens, so that a leaked one is recognisable (and greppable) as ours.
pub const TOKEN_PREFIX: &str = "rls_";

/// A signed-in user, through a session cookie.
#[derive(Clone, Debug)]
pub struct SessionCaller {
    pub user: User,
    pub session_sha256: String,
    pub csrf_token: String,
    pub session_expires_at_ms: UnixMillis,
}

/// Who is calling.
#[derive(Clone, Debug)]
pub enum Caller {
    User(SessionCaller),
    Token(ApiToken),
}

impl Caller {
    /// The credential that lets access be re-checked later (open websockets).
    pub fn credential(&self) -> Credential {
        match self {
            Caller::User(session) => Credential::Session(session.session_sha256.clone()),
            Caller::Token(token) => Credential::Token(token.id.clone()),
        }
    }

    /// `user:<id>` or `token:<id>`, as recorded in the audit journal.
    pub fn actor(&self) -> String {
        match self {
            Caller::User(session) => format!("user:{}", session.user.id),
            Caller::Token(token) => format!("token:{}", token.id),
        }
    }

    /// The user, for session callers.
    pub fn user(&self) -> Option<&User> {
        match self {
            Caller::User(session) => Some(&session.user),
            Caller::Token(_) => None,
        }
    }

    /// When this credential stops being valid by itself.
    pub fn credential_expires_at_ms(&self) -> UnixMillis {
        match self {
            Caller::User(session) => session.session_expires_at_ms,
            Caller::Token(token) => token.expires_at_ms,
        }
    }
}

/// A credential kept by an open connection, re-checked when access may have changed.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Credential {
    /// The sha256 of a session cookie.
    Session(String),
    Token(TokenId),
}

/// Why a request is not authenticated.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// Credentials were given but are not valid (unknown, expired, revoked, malformed).
    #[error("invalid or expired credentials")]
    Invalid,
    #[error("storage unavailable")]
    Unavailable(#[from] StoreError),
}

/// Reads the caller from a session cookie, an `Authorization: Bearer` header or a `?token=`
/// query parameter (in that order of preference). `Ok(None)` means no credentials at all.
pub async fn authenticate(
    directory: &dyn Directory,
    headers: &HeaderMap,
    query_token: Option<&str>,
    now_ms: UnixMillis,
) -> Result<Option<Caller>, AuthError> {
    if let Some(cookie) = session_cookie(headers) {
        return recheck(directory, &Credential::Session(secrets::sha256_hex(&cookie)), now_ms)
            .await?
            .map(Some)
            .ok_or(AuthError::Invalid);
    }
    let bearer = headers
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::trim);
    let Some(token) = bearer.or(query_token) else {
        return Ok(None);
    };
    let (id, secret) = parse_token(token).ok_or(AuthError::Invalid)?;
    let Some(stored) = directory.api_token(&id).await? else {
        return Err(AuthError::Invalid);
    };
    if !secrets::same_digest(&stored.secret_sha256, &secrets::sha256_hex(secret)) {
        return Err(AuthError::Invalid);
    }
    token_if_valid(stored, now_ms).map(|token| Some(Caller::Token(token))).ok_or(AuthError::Invalid)
}

/// The caller a credential stands for now, or `None` if it no longer stands for anyone
/// (session signed out or expired, account disabled, token revoked or expired).
pub async fn recheck(
    directory: &dyn Directory,
    credential: &Credential,
    now_ms: UnixMillis,
) -> Result<Option<Caller>, StoreError> {
    match credential {
        Credential::Session(sha256) => {
            let Some(session) = directory.session(sha256).await? else { return Ok(None) };
            if session.revoked_at_ms.is_some() || session.expires_at_ms <= now_ms {
                return Ok(None);
            }
            let Some(user) = directory.user(&session.user).await? else { return Ok(None) };
            if user.disabled_at_ms.is_some() {
                return Ok(None);
            }
            Ok(Some(Caller::User(SessionCaller {
                user,
                session_sha256: sha256.clone(),
                csrf_token: session.csrf_token,
                session_expires_at_ms: session.expires_at_ms,
            })))
        }
        Credential::Token(id) => {
            Ok(directory.api_token(id).await?.and_then(|token| token_if_valid(token, now_ms)).map(Caller::Token))
        }
    }
}

fn token_if_valid(token: ApiToken, now_ms: UnixMillis) -> Option<ApiToken> {
    (token.revoked_at_ms.is_none() && token.expires_at_ms > now_ms).then_some(token)
}

/// The session cookie's value, if the request carries one.
pub fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(cookie::Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|cookie| cookie.name() == SESSION_COOKIE)
        .map(|cookie| cookie.value().to_owned())
        .filter(|value| !value.is_empty() && value.len() <= 128)
}

/// `rls_<id>.<secret>`, the text given to the token's holder.
pub fn format_token(id: &TokenId, secret: &str) -> String {
    format!("{TOKEN_PREFIX}{id}.{secret}")
}

/// Splits a token into its id and secret; `None` if it does not have our shape.
pub fn parse_token(token: &str) -> Option<(TokenId, &str)> {
    let rest = token.strip_prefix(TOKEN_PREFIX)?;
    let (id, secret) = rest.split_once('.')?;
    if secret.is_empty() || secret.len() > 128 {
        return None;
    }
    Some((TokenId::parse(id)?, secret))
}

/// Whether a token's document pattern covers `document`: an exact name, a prefix ending in
/// `*`, or `*` alone for every document.
pub fn pattern_matches(pattern: &str, document: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => document.starts_with(prefix),
        None => pattern == document,
    }
}

/// Checks a token's document pattern: a valid document name, optionally ending in `*`, or
/// `*` alone.
pub fn check_pattern(pattern: &str) -> Result<(), String> {
    if pattern == "*" {
        return Ok(());
    }
    let name = pattern.strip_suffix('*').unwrap_or(pattern);
    let name = name.strip_suffix('/').unwrap_or(name);
    relais_storage::DocumentId::parse(name).map(|_| ()).map_err(|e| format!("invalid document pattern: {e}"))
}

/// The current time in Unix milliseconds.
pub fn now_ms() -> UnixMillis {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_reject_other_shapes() {
        let id = TokenId::generate();
        let text = format_token(&id, "s3cr3t");
        let (parsed, secret) = parse_token(&text).unwrap();
        assert_eq!(parsed, id);
        assert_eq!(secret, "s3cr3t");
        assert!(parse_token("rls_not-a-uuid.secret").is_none());
        assert!(parse_token(&format!("rls_{id}.")).is_none());
        assert!(parse_token(&format!("xyz_{id}.secret")).is_none());
        assert!(parse_token("").is_none());
    }

    #[test]
    fn patterns_match_names_and_prefixes() {
        assert!(pattern_matches("*", "anything/at/all"));
        assert!(pattern_matches("projets/plui/*", "projets/plui/cr-2026"));
        assert!(!pattern_matches("projets/plui/*", "projets/autre"));
        assert!(pattern_matches("cr", "cr"));
        assert!(!pattern_matches("cr", "cr2"));
    }

    #[test]
    fn finds_the_session_cookie_among_others() {
        let mut headers = HeaderMap::new();
        headers.insert(COOKIE, "a=1; relais_session=abc; b=2".parse().unwrap());
        assert_eq!(session_cookie(&headers).as_deref(), Some("abc"));
        headers.insert(COOKIE, "a=1".parse().unwrap());
        assert_eq!(session_cookie(&headers), None);
    }
}
