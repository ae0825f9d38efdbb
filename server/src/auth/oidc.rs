//! OpenID Connect sign-in (ProConnect or any provider): the authorization code flow with
//! PKCE (S256), `state` and `nonce`.
//!
//! Nothing about a sign-in in progress is kept on the server: `begin` puts the state, nonce,
//! PKCE verifier and creation time in a short-lived cookie scoped to `/api/auth/oidc`,
//! signed with HMAC-SHA256 under a key derived from the client secret. Every node of a
//! cluster shares that secret, so the provider's redirect may land on any node. `finish`
//! checks the cookie's signature and age and the returned `state`, exchanges the code with
//! the verifier, verifies the ID token (signature against the provider's keys, issuer,
//! audience, expiry, nonce, `at_hash`), then reads the e-mail and names from the ID token and
//! the userinfo endpoint (plain JSON, or a signed JWT as ProConnect answers).
//!
//! Tokens, codes, verifiers and secrets are never logged.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use axum::http::HeaderMap;
use axum::http::header::COOKIE;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use cookie::{Cookie, SameSite};
use hmac::{Hmac, Mac};
use openidconnect::core::{
    CoreAuthDisplay, CoreAuthPrompt, CoreAuthenticationFlow, CoreErrorResponseType,
    CoreGenderClaim, CoreJsonWebKey, CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm,
    CoreProviderMetadata, CoreRevocableToken, CoreRevocationErrorResponse,
    CoreTokenIntrospectionResponse, CoreTokenType,
};
use openidconnect::{
    AccessTokenHash, AdditionalClaims, AsyncHttpClient, AuthorizationCode, ClaimsVerificationError,
    ClientId, ClientSecret, ConfigurationError, CsrfToken, EmptyExtraTokenFields, EndpointMaybeSet,
    EndpointNotSet, EndpointSet, HttpRequest, HttpResponse, IdTokenClaims, IdTokenFields,
    IssuerUrl, JsonWebKeySet, Nonce, OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier,
    RedirectUrl, Scope, SignatureVerificationError, StandardErrorResponse, StandardTokenResponse,
    TokenResponse, UserInfoClaims,
};
use relais_storage::{NewUser, StoreError, User, UserKind};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use super::{now_ms, secrets};
use crate::api::ApiError;
use crate::http::AppState;

/// The cookie holding a sign-in in progress.
pub const PENDING_COOKIE: &str = "relais_oidc";
/// The only path the pending cookie is sent to.
pub const PENDING_COOKIE_PATH: &str = "/api/auth/oidc";
/// Where the provider sends the browser back, relative to the public URL.
pub const CALLBACK_PATH: &str = "/api/auth/oidc/callback";
/// How long a user has to sign in at the provider.
pub const PENDING_TTL: Duration = Duration::from_secs(600);
/// A pending cookie dated this far in the future (another node's clock) is still accepted.
const CLOCK_SKEW: Duration = Duration::from_secs(60);
/// Longer cookies than this are not ours; they are refused before any decoding.
const MAX_PENDING_COOKIE_BYTES: usize = 1024;
/// Largest response read from the provider (discovery, keys, tokens, userinfo).
const MAX_RESPONSE_BYTES: usize = 1024 * 1024;
/// Time allowed for each request to the provider.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// The provider's keys are fetched again when a token is signed with an unknown key (after
/// a rotation), at most this often.
const MIN_KEYS_REFRESH_INTERVAL: Duration = Duration::from_secs(60);
/// Longest e-mail, display name and organisation name taken from the provider.
const MAX_EMAIL_CHARS: usize = 320;
const MAX_NAME_CHARS: usize = 200;

type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why a sign-in through the provider is refused or the provider cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    #[error("invalid openid connect settings: {0}")]
    Config(String),
    #[error("cannot discover the openid connect provider: {0}")]
    Discovery(#[source] BoxError),
    #[error("no pending sign-in cookie")]
    NoPendingSignIn,
    #[error("the pending sign-in cookie is malformed or its signature does not verify")]
    BadPendingSignIn,
    #[error("the pending sign-in has expired")]
    ExpiredPendingSignIn,
    #[error("the returned state does not match the pending sign-in")]
    StateMismatch,
    #[error("the code exchange failed: {0}")]
    TokenExchange(#[source] BoxError),
    #[error("the provider returned no id token")]
    NoIdToken,
    #[error("id token refused: {0}")]
    IdToken(#[source] ClaimsVerificationError),
    #[error("the access token does not match the id token's at_hash")]
    AccessTokenHash,
    #[error("the userinfo request failed: {0}")]
    UserInfo(#[source] BoxError),
    #[error("the provider gave no usable e-mail address")]
    NoEmail,
    #[error("the provider says the e-mail address is not verified")]
    EmailNotVerified,
}

/// Who signed in, as the provider vouches for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OidcIdentity {
    /// The issuer as configured (the key, with `subject`, of the account's OIDC link).
    pub issuer: String,
    pub subject: String,
    /// Lowercase.
    pub email: String,
    pub display_name: String,
    /// An organisation name, or a SIRET when the provider gives no name.
    pub organisation: Option<String>,
}

/// Claims ProConnect (and others) send besides the standard ones. Values are kept as JSON so
/// that an unexpected type is ignored rather than failing the whole sign-in.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ProviderClaims {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    usual_name: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    organization: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    organisation: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    siret: Option<serde_json::Value>,
}

impl AdditionalClaims for ProviderClaims {}

type ProviderIdTokenFields = IdTokenFields<
    ProviderClaims,
    EmptyExtraTokenFields,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;
type ProviderTokenResponse = StandardTokenResponse<ProviderIdTokenFields, CoreTokenType>;
type ProviderIdTokenClaims = IdTokenClaims<ProviderClaims, CoreGenderClaim>;
type ProviderUserInfoClaims = UserInfoClaims<ProviderClaims, CoreGenderClaim>;

/// The core client with [`ProviderClaims`], as built from discovery: authorization endpoint
/// known, token and userinfo endpoints maybe.
type ProviderClient = openidconnect::Client<
    ProviderClaims,
    CoreAuthDisplay,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJsonWebKey,
    CoreAuthPrompt,
    StandardErrorResponse<CoreErrorResponseType>,
    ProviderTokenResponse,
    CoreTokenIntrospectionResponse,
    CoreRevocableToken,
    CoreRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// The configured provider: its discovered metadata and keys, and our client settings.
pub struct Oidc {
    issuer: String,
    client_id: ClientId,
    client_secret: ClientSecret,
    redirect_url: RedirectUrl,
    scopes: Vec<String>,
    metadata: CoreProviderMetadata,
    client: RwLock<Arc<ProviderClient>>,
    keys_refreshed_at: Mutex<Option<Instant>>,
    http: HttpClient,
    cookie_key: [u8; 32],
}

impl fmt::Debug for Oidc {
    // The secret and the cookie key stay out of logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Oidc")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id.as_str())
            .field("redirect_url", &self.redirect_url.as_str())
            .field("scopes", &self.scopes)
            .finish_non_exhaustive()
    }
}

impl Oidc {
    /// Fetches the provider's discovery document and keys; the redirect URI is the public URL
    /// joined with [`CALLBACK_PATH`].
    pub async fn discover(
        config: &crate::config::OidcConfig,
        public_url: &url::Url,
    ) -> Result<Oidc, OidcError> {
        // Storage installs it too when it opens S3; whichever comes first wins.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = HttpClient::new()?;
        let issuer_url = IssuerUrl::new(config.issuer.clone())
            .map_err(|error| OidcError::Config(format!("issuer {:?}: {error}", config.issuer)))?;
        let redirect = public_url
            .join(CALLBACK_PATH)
            .map_err(|error| OidcError::Config(format!("public url {public_url}: {error}")))?;
        let redirect_url = RedirectUrl::from_url(redirect);
        let metadata = CoreProviderMetadata::discover_async(issuer_url, &http)
            .await
            .map_err(|error| OidcError::Discovery(Box::new(error)))?;
        if metadata.token_endpoint().is_none() {
            return Err(OidcError::Config(
                "the provider announces no token endpoint".into(),
            ));
        }
        let client_id = ClientId::new(config.client_id.clone());
        let client_secret = ClientSecret::new(config.client_secret.clone());
        let mut scopes: Vec<String> = Vec::new();
        for scope in ["email", "profile"]
            .into_iter()
            .chain(config.extra_scopes.iter().map(String::as_str))
        {
            if scope != "openid" && !scope.is_empty() && !scopes.iter().any(|known| known == scope)
            {
                scopes.push(scope.to_owned());
            }
        }
        let client = build_client(&metadata, &client_id, &client_secret, &redirect_url);
        Ok(Oidc {
            issuer: config.issuer.clone(),
            cookie_key: cookie_key(&config.client_secret),
            client_id,
            client_secret,
            redirect_url,
            scopes,
            metadata,
            client: RwLock::new(Arc::new(client)),
            keys_refreshed_at: Mutex::new(None),
            http,
        })
    }

    /// The issuer, as configured.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// Starts a sign-in: the provider's authorization URL to redirect the browser to, and the
    /// `Set-Cookie` value holding the pending sign-in.
    pub fn begin(&self, secure_cookies: bool) -> (url::Url, String) {
        let pending = Pending {
            // 256 random bits each, 43 characters: ProConnect wants at least 32.
            state: secrets::random_secret(),
            nonce: secrets::random_secret(),
            verifier: secrets::random_secret(),
            created_at_ms: now_ms(),
        };
        let challenge = PkceCodeChallenge::from_code_verifier_sha256(&PkceCodeVerifier::new(
            pending.verifier.clone(),
        ));
        let client = self.client();
        let state = pending.state.clone();
        let nonce = pending.nonce.clone();
        let mut request = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                move || CsrfToken::new(state),
                move || Nonce::new(nonce),
            )
            .set_pkce_challenge(challenge);
        for scope in &self.scopes {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        let (url, _, _) = request.url();
        (url, self.pending_cookie(&pending, secure_cookies))
    }

    /// Ends a sign-in on the provider's redirect back: `headers` carry the pending cookie,
    /// `code` and `state` come from the query.
    pub async fn finish(
        &self,
        headers: &HeaderMap,
        code: &str,
        state: &str,
    ) -> Result<OidcIdentity, OidcError> {
        let pending = self.pending_from_headers(headers, now_ms())?;
        if !same_secret(&pending.state, state) {
            return Err(OidcError::StateMismatch);
        }
        let client = self.client();
        let token = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|error| OidcError::Config(error.to_string()))?
            .set_pkce_verifier(PkceCodeVerifier::new(pending.verifier))
            .request_async(&self.http)
            .await
            .map_err(|error| OidcError::TokenExchange(Box::new(error)))?;
        let nonce = Nonce::new(pending.nonce);
        let (client, id_claims) = match verify_id_token(&client, &token, &nonce) {
            Err(OidcError::IdToken(ClaimsVerificationError::SignatureVerification(
                SignatureVerificationError::NoMatchingKey,
            ))) => {
                // Signed with a key we have not seen: the provider may have rotated its keys.
                let client = self.refresh_keys().await?;
                let claims = verify_id_token(&client, &token, &nonce)?;
                (client, claims)
            }
            other => (client, other?),
        };
        let subject = id_claims.subject().clone();
        let user_info: Option<ProviderUserInfoClaims> =
            match client.user_info(token.access_token().clone(), Some(subject.clone())) {
                Ok(request) => Some(
                    request
                        .request_async(&self.http)
                        .await
                        .map_err(|error| OidcError::UserInfo(Box::new(error)))?,
                ),
                Err(ConfigurationError::MissingUrl(_)) => None,
                Err(error) => return Err(OidcError::Config(error.to_string())),
            };
        let mut claims = ClaimSet::from_id_token(&id_claims);
        if let Some(user_info) = &user_info {
            // Userinfo is fresher and, at ProConnect, the only place most claims are found.
            claims = ClaimSet::from_user_info(user_info).or(claims);
        }
        identity(&self.issuer, subject.as_str(), claims)
    }

    /// The `Set-Cookie` value that deletes the pending cookie.
    pub fn clear_pending_cookie(&self, secure_cookies: bool) -> String {
        Cookie::build((PENDING_COOKIE, ""))
            .http_only(true)
            .same_site(SameSite::Lax)
            .secure(secure_cookies)
            .path(PENDING_COOKIE_PATH)
            .max_age(cookie::time::Duration::ZERO)
            .build()
            .to_string()
    }

    fn client(&self) -> Arc<ProviderClient> {
        match self.client.read() {
            Ok(client) => Arc::clone(&client),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// Fetches the provider's keys again and rebuilds the client with them; returns the
    /// current client without fetching if that was done less than a minute ago.
    async fn refresh_keys(&self) -> Result<Arc<ProviderClient>, OidcError> {
        {
            let Ok(mut refreshed_at) = self.keys_refreshed_at.lock() else {
                return Ok(self.client());
            };
            if refreshed_at.is_some_and(|at| at.elapsed() < MIN_KEYS_REFRESH_INTERVAL) {
                return Ok(self.client());
            }
            *refreshed_at = Some(Instant::now());
        }
        let keys = JsonWebKeySet::fetch_async(self.metadata.jwks_uri(), &self.http)
            .await
            .map_err(|error| OidcError::Discovery(Box::new(error)))?;
        tracing::info!(issuer = %self.issuer, keys = keys.keys().len(), "fetched the openid connect provider's keys again");
        let metadata = self.metadata.clone().set_jwks(keys);
        let client = Arc::new(build_client(
            &metadata,
            &self.client_id,
            &self.client_secret,
            &self.redirect_url,
        ));
        match self.client.write() {
            Ok(mut current) => *current = Arc::clone(&client),
            Err(poisoned) => *poisoned.into_inner() = Arc::clone(&client),
        }
        Ok(client)
    }

    fn pending_cookie(&self, pending: &Pending, secure_cookies: bool) -> String {
        Cookie::build((PENDING_COOKIE, seal(&self.cookie_key, pending)))
            .http_only(true)
            .same_site(SameSite::Lax)
            .secure(secure_cookies)
            .path(PENDING_COOKIE_PATH)
            .max_age(cookie::time::Duration::seconds(
                i64::try_from(PENDING_TTL.as_secs()).unwrap_or(600),
            ))
            .build()
            .to_string()
    }

    fn pending_from_headers(&self, headers: &HeaderMap, now_ms: i64) -> Result<Pending, OidcError> {
        let value = pending_cookie_value(headers).ok_or(OidcError::NoPendingSignIn)?;
        open(&self.cookie_key, &value, now_ms)
    }
}

/// The pending cookie's value, if the request carries a non-empty one.
fn pending_cookie_value(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|cookie| cookie.name() == PENDING_COOKIE && !cookie.value().is_empty())
        .map(|cookie| cookie.value().to_owned())
}

fn build_client(
    metadata: &CoreProviderMetadata,
    client_id: &ClientId,
    client_secret: &ClientSecret,
    redirect_url: &RedirectUrl,
) -> ProviderClient {
    ProviderClient::from_provider_metadata(
        metadata.clone(),
        client_id.clone(),
        Some(client_secret.clone()),
    )
    .set_redirect_uri(redirect_url.clone())
}

/// Verifies the ID token of `token` (signature, issuer, audience, expiry, nonce) and the
/// access token's hash when the ID token carries one.
fn verify_id_token(
    client: &ProviderClient,
    token: &ProviderTokenResponse,
    nonce: &Nonce,
) -> Result<ProviderIdTokenClaims, OidcError> {
    let id_token = token.id_token().ok_or(OidcError::NoIdToken)?;
    let verifier = client.id_token_verifier();
    let claims = id_token
        .claims(&verifier, nonce)
        .map_err(OidcError::IdToken)?;
    if let Some(expected) = claims.access_token_hash() {
        let algorithm = id_token.signing_alg().map_err(|error| {
            OidcError::IdToken(ClaimsVerificationError::SignatureVerification(error))
        })?;
        let key = id_token.signing_key(&verifier).map_err(|error| {
            OidcError::IdToken(ClaimsVerificationError::SignatureVerification(error))
        })?;
        let actual = AccessTokenHash::from_token(token.access_token(), algorithm, key)
            .map_err(|_| OidcError::AccessTokenHash)?;
        if actual != *expected {
            return Err(OidcError::AccessTokenHash);
        }
    }
    Ok(claims.clone())
}

/// A sign-in in progress, as kept in the pending cookie.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Pending {
    #[serde(rename = "s")]
    state: String,
    #[serde(rename = "n")]
    nonce: String,
    #[serde(rename = "v")]
    verifier: String,
    #[serde(rename = "t")]
    created_at_ms: i64,
}

type HmacSha256 = Hmac<Sha256>;

/// The pending cookie's signing key: the client secret, through HMAC with a fixed label so
/// that the key is used for nothing else.
fn cookie_key(client_secret: &str) -> [u8; 32] {
    let mut mac = HmacSha256::new_from_slice(client_secret.as_bytes())
        .expect("hmac accepts keys of any length");
    mac.update(b"relais oidc pending sign-in cookie v1");
    mac.finalize().into_bytes().into()
}

/// `base64url(json).base64url(hmac)`.
fn seal(key: &[u8; 32], pending: &Pending) -> String {
    let json = serde_json::to_vec(pending).expect("a pending sign-in serialises");
    let payload = URL_SAFE_NO_PAD.encode(json);
    let mut mac = HmacSha256::new_from_slice(key).expect("hmac accepts keys of any length");
    mac.update(payload.as_bytes());
    let signature = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
    format!("{payload}.{signature}")
}

/// Checks the signature and the age of a pending cookie's value, then decodes it.
fn open(key: &[u8; 32], value: &str, now_ms: i64) -> Result<Pending, OidcError> {
    if value.len() > MAX_PENDING_COOKIE_BYTES {
        return Err(OidcError::BadPendingSignIn);
    }
    let (payload, signature) = value.split_once('.').ok_or(OidcError::BadPendingSignIn)?;
    let signature = URL_SAFE_NO_PAD
        .decode(signature)
        .map_err(|_| OidcError::BadPendingSignIn)?;
    let mut mac = HmacSha256::new_from_slice(key).expect("hmac accepts keys of any length");
    mac.update(payload.as_bytes());
    // Constant-time comparison.
    mac.verify_slice(&signature)
        .map_err(|_| OidcError::BadPendingSignIn)?;
    let json = URL_SAFE_NO_PAD
        .decode(payload)
        .map_err(|_| OidcError::BadPendingSignIn)?;
    let pending: Pending =
        serde_json::from_slice(&json).map_err(|_| OidcError::BadPendingSignIn)?;
    let ttl_ms = i64::try_from(PENDING_TTL.as_millis()).unwrap_or(i64::MAX);
    let skew_ms = i64::try_from(CLOCK_SKEW.as_millis()).unwrap_or(i64::MAX);
    if pending.created_at_ms > now_ms.saturating_add(skew_ms)
        || now_ms.saturating_sub(pending.created_at_ms) > ttl_ms
    {
        return Err(OidcError::ExpiredPendingSignIn);
    }
    Ok(pending)
}

/// Compares two secrets in time independent of their content (through their digests, so
/// that lengths do not matter either).
fn same_secret(expected: &str, given: &str) -> bool {
    secrets::same_digest(&secrets::sha256_hex(expected), &secrets::sha256_hex(given))
}

/// The claims a sign-in uses, from the ID token or userinfo.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct ClaimSet {
    email: Option<String>,
    email_verified: Option<bool>,
    name: Option<String>,
    given_name: Option<String>,
    family_name: Option<String>,
    usual_name: Option<String>,
    organisation: Option<String>,
    siret: Option<String>,
}

impl ClaimSet {
    fn from_id_token(claims: &ProviderIdTokenClaims) -> Self {
        Self {
            email: claims.email().map(|email| email.as_str().to_owned()),
            email_verified: claims.email_verified(),
            name: claims
                .name()
                .and_then(|name| name.get(None))
                .map(|name| name.as_str().to_owned()),
            given_name: claims
                .given_name()
                .and_then(|name| name.get(None))
                .map(|name| name.as_str().to_owned()),
            family_name: claims
                .family_name()
                .and_then(|name| name.get(None))
                .map(|name| name.as_str().to_owned()),
            ..Self::from_extra(claims.additional_claims())
        }
    }

    fn from_user_info(claims: &ProviderUserInfoClaims) -> Self {
        let standard = claims.standard_claims();
        Self {
            email: standard.email().map(|email| email.as_str().to_owned()),
            email_verified: standard.email_verified(),
            name: standard
                .name()
                .and_then(|name| name.get(None))
                .map(|name| name.as_str().to_owned()),
            given_name: standard
                .given_name()
                .and_then(|name| name.get(None))
                .map(|name| name.as_str().to_owned()),
            family_name: standard
                .family_name()
                .and_then(|name| name.get(None))
                .map(|name| name.as_str().to_owned()),
            ..Self::from_extra(claims.additional_claims())
        }
    }

    fn from_extra(extra: &ProviderClaims) -> Self {
        Self {
            usual_name: text(extra.usual_name.as_ref()),
            organisation: text(extra.organization.as_ref())
                .or_else(|| text(extra.organisation.as_ref())),
            // A SIRET is sometimes sent as a number.
            siret: text(extra.siret.as_ref()).or_else(|| {
                extra
                    .siret
                    .as_ref()
                    .and_then(serde_json::Value::as_u64)
                    .map(|siret| siret.to_string())
            }),
            ..Self::default()
        }
    }

    /// Each claim from `self`, or else from `other`.
    fn or(self, other: Self) -> Self {
        Self {
            email: self.email.or(other.email),
            email_verified: self.email_verified.or(other.email_verified),
            name: self.name.or(other.name),
            given_name: self.given_name.or(other.given_name),
            family_name: self.family_name.or(other.family_name),
            usual_name: self.usual_name.or(other.usual_name),
            organisation: self.organisation.or(other.organisation),
            siret: self.siret.or(other.siret),
        }
    }
}

/// A JSON string claim, trimmed; `None` if absent, empty or not a string.
fn text(value: Option<&serde_json::Value>) -> Option<String> {
    non_empty(value?.as_str())
}

fn non_empty(value: Option<&str>) -> Option<String> {
    value
        .map(str::trim)
        .filter(|value| !value.is_empty())
        .map(ToOwned::to_owned)
}

fn truncated(value: String, max_chars: usize) -> String {
    match value.char_indices().nth(max_chars) {
        Some((end, _)) => value[..end].to_owned(),
        None => value,
    }
}

/// The identity a sign-in stands for: lowercase e-mail; display name from `name`, else
/// `given_name` and `family_name` or `usual_name`, else the e-mail; organisation from
/// `organization`/`organisation`, else `siret`.
fn identity(issuer: &str, subject: &str, claims: ClaimSet) -> Result<OidcIdentity, OidcError> {
    // An e-mail the provider itself says is unverified could take over the account that has
    // it; providers that do not say (ProConnect) vouch for professional addresses.
    if claims.email_verified == Some(false) {
        return Err(OidcError::EmailNotVerified);
    }
    let email = non_empty(claims.email.as_deref())
        .map(|email| email.to_lowercase())
        .filter(|email| {
            email.len() <= MAX_EMAIL_CHARS
                && email.contains('@')
                && !email.chars().any(char::is_whitespace)
        })
        .ok_or(OidcError::NoEmail)?;
    let display_name = non_empty(claims.name.as_deref())
        .or_else(|| {
            let given = non_empty(claims.given_name.as_deref())?;
            let family = non_empty(claims.family_name.as_deref())
                .or_else(|| non_empty(claims.usual_name.as_deref()));
            Some(match family {
                Some(family) => format!("{given} {family}"),
                None => given,
            })
        })
        .unwrap_or_else(|| email.clone());
    let organisation = claims
        .organisation
        .or(claims.siret)
        .map(|organisation| truncated(organisation, MAX_NAME_CHARS));
    Ok(OidcIdentity {
        issuer: issuer.to_owned(),
        subject: subject.to_owned(),
        email,
        display_name: truncated(display_name, MAX_NAME_CHARS),
        organisation,
    })
}

/// The account an OIDC identity signs in to: the one linked to `(issuer, subject)`; else the
/// one with the same e-mail, which gets linked (ProConnect gives one subject per identity
/// provider, so e-mail is what stays the same); else a new staff account in the named
/// organisation (created if missing).
pub async fn find_or_create_user(
    state: &AppState,
    identity: &OidcIdentity,
) -> Result<User, ApiError> {
    let directory = &state.directory;
    if let Some(user) = directory
        .user_by_oidc(&identity.issuer, &identity.subject)
        .await?
    {
        return Ok(user);
    }
    let email = identity.email.to_lowercase();
    if let Some(user) = link_by_email(state, identity, &email).await? {
        return Ok(user);
    }
    let organisation = match &identity.organisation {
        Some(name) => Some(organisation_named(state, name).await?),
        None => None,
    };
    let new_user = NewUser {
        email: email.clone(),
        display_name: identity.display_name.clone(),
        kind: UserKind::Staff,
        organisation,
        is_admin: false,
        password_hash: None,
        oidc: Some((identity.issuer.clone(), identity.subject.clone())),
    };
    let user = match directory.create_user(new_user).await {
        Ok(user) => user,
        // Another sign-in of the same person won the race: use what it made.
        Err(StoreError::Conflict(_)) => {
            if let Some(user) = directory
                .user_by_oidc(&identity.issuer, &identity.subject)
                .await?
            {
                return Ok(user);
            }
            return link_by_email(state, identity, &email)
                .await?
                .ok_or_else(|| {
                    ApiError::Conflict("this account is being created by another sign-in".into())
                });
        }
        Err(error) => return Err(error.into()),
    };
    state
        .audit
        .record(
            Some("system".to_owned()),
            "user.created",
            None,
            Some(format!("user:{}", user.id)),
            serde_json::json!({ "via": "oidc" }),
        )
        .await?;
    tracing::info!(user = %user.id, "account created by an openid connect sign-in");
    Ok(user)
}

/// Links the account with `email`, if any, to the identity.
async fn link_by_email(
    state: &AppState,
    identity: &OidcIdentity,
    email: &str,
) -> Result<Option<User>, ApiError> {
    let Some(user) = state.directory.user_by_email(email).await? else {
        return Ok(None);
    };
    state
        .directory
        .link_oidc(&user.id, &identity.issuer, &identity.subject)
        .await?;
    state
        .audit
        .record(
            Some("system".to_owned()),
            "user.oidc_linked",
            None,
            Some(format!("user:{}", user.id)),
            serde_json::json!({ "via": "oidc", "issuer": identity.issuer }),
        )
        .await?;
    tracing::info!(user = %user.id, "account linked to an openid connect identity");
    Ok(Some(user))
}

async fn organisation_named(
    state: &AppState,
    name: &str,
) -> Result<relais_storage::OrganisationId, ApiError> {
    if let Some(organisation) = state.directory.organisation_by_name(name).await? {
        return Ok(organisation.id);
    }
    match state.directory.create_organisation(name).await {
        Ok(organisation) => Ok(organisation.id),
        Err(StoreError::Conflict(_)) => state
            .directory
            .organisation_by_name(name)
            .await?
            .map(|organisation| organisation.id)
            .ok_or_else(|| {
                ApiError::Conflict("this organisation is being created by another sign-in".into())
            }),
        Err(error) => Err(error.into()),
    }
}

/// Requests to the provider, over the reqwest client the server already has, without
/// following redirects (the library's advice against request forgery) and with bounded
/// response sizes.
#[derive(Clone)]
struct HttpClient(reqwest::Client);

/// A failed request to the provider.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("request to the provider failed: {0}")]
    Request(#[source] reqwest::Error),
    #[error("invalid response from the provider: {0}")]
    Response(#[source] openidconnect::http::Error),
    #[error("provider response larger than {MAX_RESPONSE_BYTES} bytes")]
    TooLarge,
}

impl HttpClient {
    fn new() -> Result<Self, OidcError> {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(REQUEST_TIMEOUT)
            .build()
            .map(Self)
            .map_err(|error| OidcError::Config(format!("cannot build the http client: {error}")))
    }
}

impl<'c> AsyncHttpClient<'c> for HttpClient {
    type Error = HttpError;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, HttpError>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(async move {
            let request = reqwest::Request::try_from(request).map_err(HttpError::Request)?;
            let mut response = self.0.execute(request).await.map_err(HttpError::Request)?;
            let mut builder = openidconnect::http::Response::builder().status(response.status());
            for (name, value) in response.headers() {
                builder = builder.header(name, value);
            }
            let mut body = Vec::new();
            while let Some(chunk) = response.chunk().await.map_err(HttpError::Request)? {
                if body.len().saturating_add(chunk.len()) > MAX_RESPONSE_BYTES {
                    return Err(HttpError::TooLarge);
                }
                body.extend_from_slice(&chunk);
            }
            builder.body(body).map_err(HttpError::Response)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: [u8; 32] = [7; 32];

    fn pending(created_at_ms: i64) -> Pending {
        Pending {
            state: secrets::random_secret(),
            nonce: secrets::random_secret(),
            verifier: secrets::random_secret(),
            created_at_ms,
        }
    }

    #[test]
    fn pending_cookies_round_trip() {
        let now = 1_800_000_000_000;
        let pending = pending(now);
        let sealed = seal(&KEY, &pending);
        assert!(sealed.len() < MAX_PENDING_COOKIE_BYTES);
        assert!(
            sealed
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)),
            "cookie-safe: {sealed}"
        );
        assert_eq!(open(&KEY, &sealed, now + 1000).unwrap(), pending);
    }

    #[test]
    fn altered_or_foreign_pending_cookies_are_refused() {
        let now = 1_800_000_000_000;
        let sealed = seal(&KEY, &pending(now));
        let (payload, signature) = sealed.split_once('.').unwrap();
        // Another pending sign-in's payload under this one's signature.
        let other = seal(&KEY, &pending(now));
        let (other_payload, _) = other.split_once('.').unwrap();
        assert!(matches!(
            open(&KEY, &format!("{other_payload}.{signature}"), now),
            Err(OidcError::BadPendingSignIn)
        ));
        // One character of the payload changed.
        let mut altered = payload.to_owned().into_bytes();
        altered[3] = if altered[3] == b'A' { b'B' } else { b'A' };
        let altered = String::from_utf8(altered).unwrap();
        assert!(matches!(
            open(&KEY, &format!("{altered}.{signature}"), now),
            Err(OidcError::BadPendingSignIn)
        ));
        // Signed with another key (another client secret).
        assert!(matches!(
            open(&[8; 32], &sealed, now),
            Err(OidcError::BadPendingSignIn)
        ));
        for junk in ["", ".", "abc", "abc.def", &"a".repeat(2000)] {
            assert!(
                matches!(open(&KEY, junk, now), Err(OidcError::BadPendingSignIn)),
                "{junk:?}"
            );
        }
    }

    #[test]
    fn pending_cookies_expire() {
        let now = 1_800_000_000_000;
        let ttl = i64::try_from(PENDING_TTL.as_millis()).unwrap();
        assert!(open(&KEY, &seal(&KEY, &pending(now - ttl + 1000)), now).is_ok());
        assert!(matches!(
            open(&KEY, &seal(&KEY, &pending(now - ttl - 1)), now),
            Err(OidcError::ExpiredPendingSignIn)
        ));
        assert!(matches!(
            open(&KEY, &seal(&KEY, &pending(now + 3_600_000)), now),
            Err(OidcError::ExpiredPendingSignIn)
        ));
    }

    #[test]
    fn cookie_keys_depend_on_the_client_secret() {
        assert_eq!(cookie_key("secret"), cookie_key("secret"));
        assert_ne!(cookie_key("secret"), cookie_key("secret2"));
        assert_ne!(&cookie_key("secret")[..], b"secret");
    }

    #[test]
    fn states_are_compared_exactly() {
        let state = secrets::random_secret();
        assert!(same_secret(&state, &state.clone()));
        assert!(!same_secret(&state, &format!("{state}x")));
        assert!(!same_secret(&state, &state[..state.len() - 1]));
        assert!(!same_secret(&state, ""));
    }

    fn headers_with_cookie(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(COOKIE, value.parse().unwrap());
        headers
    }

    #[test]
    fn finds_the_pending_cookie_among_others() {
        let now = now_ms();
        let pending = pending(now);
        let sealed = seal(&KEY, &pending);
        let found = headers_with_cookie(&format!(
            "relais_session=abc; {PENDING_COOKIE}={sealed}; other=1"
        ));
        assert_eq!(
            open(&KEY, &pending_cookie_value(&found).unwrap(), now).unwrap(),
            pending
        );
        assert_eq!(
            pending_cookie_value(&headers_with_cookie("relais_session=abc")),
            None
        );
        assert_eq!(
            pending_cookie_value(&headers_with_cookie(&format!("{PENDING_COOKIE}="))),
            None
        );
    }

    fn claims() -> ClaimSet {
        ClaimSet {
            email: Some(" Camille.Dupont@Mairie-Exemple.FR ".into()),
            given_name: Some("Camille".into()),
            usual_name: Some("Dupont".into()),
            siret: Some("21750001600019".into()),
            ..ClaimSet::default()
        }
    }

    #[test]
    fn identities_take_proconnect_claims() {
        let identity = identity("https://issuer", "sub-1", claims()).unwrap();
        assert_eq!(
            identity,
            OidcIdentity {
                issuer: "https://issuer".into(),
                subject: "sub-1".into(),
                email: "camille.dupont@mairie-exemple.fr".into(),
                display_name: "Camille Dupont".into(),
                organisation: Some("21750001600019".into()),
            }
        );
    }

    #[test]
    fn display_names_fall_back_in_order() {
        let with_name = ClaimSet {
            name: Some("C. Dupont".into()),
            family_name: Some("Martin".into()),
            ..claims()
        };
        assert_eq!(
            identity("i", "s", with_name).unwrap().display_name,
            "C. Dupont"
        );
        let with_family = ClaimSet {
            family_name: Some("Martin".into()),
            ..claims()
        };
        assert_eq!(
            identity("i", "s", with_family).unwrap().display_name,
            "Camille Martin"
        );
        let given_only = ClaimSet {
            usual_name: None,
            ..claims()
        };
        assert_eq!(
            identity("i", "s", given_only).unwrap().display_name,
            "Camille"
        );
        let none = ClaimSet {
            given_name: Some("  ".into()),
            usual_name: None,
            ..claims()
        };
        assert_eq!(
            identity("i", "s", none).unwrap().display_name,
            "camille.dupont@mairie-exemple.fr"
        );
    }

    #[test]
    fn organisations_prefer_names_to_sirets() {
        let named = ClaimSet {
            organisation: Some("Mairie d'Exemple".into()),
            ..claims()
        };
        assert_eq!(
            identity("i", "s", named).unwrap().organisation.as_deref(),
            Some("Mairie d'Exemple")
        );
        let neither = ClaimSet {
            siret: None,
            ..claims()
        };
        assert_eq!(identity("i", "s", neither).unwrap().organisation, None);
        let extra: ProviderClaims = serde_json::from_value(serde_json::json!({
            "organization": {"not": "a string"}, "organisation": "Commune", "siret": 21750001600019_u64
        }))
        .unwrap();
        let from_extra = ClaimSet::from_extra(&extra);
        assert_eq!(from_extra.organisation.as_deref(), Some("Commune"));
        assert_eq!(from_extra.siret.as_deref(), Some("21750001600019"));
    }

    #[test]
    fn emails_are_required_and_must_not_be_unverified() {
        assert!(matches!(
            identity(
                "i",
                "s",
                ClaimSet {
                    email: None,
                    ..claims()
                }
            ),
            Err(OidcError::NoEmail)
        ));
        assert!(matches!(
            identity(
                "i",
                "s",
                ClaimSet {
                    email: Some("nobody".into()),
                    ..claims()
                }
            ),
            Err(OidcError::NoEmail)
        ));
        assert!(matches!(
            identity(
                "i",
                "s",
                ClaimSet {
                    email_verified: Some(false),
                    ..claims()
                }
            ),
            Err(OidcError::EmailNotVerified)
        ));
        assert!(
            identity(
                "i",
                "s",
                ClaimSet {
                    email_verified: Some(true),
                    ..claims()
                }
            )
            .is_ok()
        );
    }

    #[test]
    fn userinfo_claims_win_over_the_id_token() {
        let id_token = ClaimSet {
            email: Some("old@x.fr".into()),
            name: Some("Old".into()),
            ..ClaimSet::default()
        };
        let user_info = ClaimSet {
            email: Some("new@x.fr".into()),
            ..ClaimSet::default()
        };
        let merged = user_info.or(id_token);
        assert_eq!(merged.email.as_deref(), Some("new@x.fr"));
        assert_eq!(merged.name.as_deref(), Some("Old"));
    }
}
