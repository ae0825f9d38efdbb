//! Configuration: one struct built from flags, `RELAIS_*` environment variables and an optional
//! TOML file, in that order of precedence, then checked once at startup.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Args, ValueEnum};
use serde::Deserialize;

/// Settings of `relais serve`. Every field is optional here so that a flag or variable
/// overrides the file, and the file overrides the default.
#[derive(Debug, Default, Clone, Args, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct ServeArgs {
    /// TOML file with any of the settings below (keys in snake_case).
    #[arg(long, env = "RELAIS_CONFIG", value_name = "FILE")]
    #[serde(skip)]
    pub config: Option<PathBuf>,

    /// Address and port to listen on [default: 127.0.0.1:8080].
    #[arg(long, env = "RELAIS_LISTEN", value_name = "ADDR")]
    pub listen: Option<SocketAddr>,

    /// Directory for the embedded database and local objects [default: ./data].
    #[arg(long, env = "RELAIS_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    /// `sqlite://FILE` or `postgres://USER@HOST/DB` [default: sqlite://DATA_DIR/relais.db].
    #[arg(long, env = "RELAIS_DATABASE_URL", value_name = "URL")]
    pub database_url: Option<String>,

    /// `file://DIR`, `s3://BUCKET/PREFIX` (AWS_* variables) or `memory://` [default: file://DATA_DIR/objects].
    #[arg(long, env = "RELAIS_OBJECT_STORE", value_name = "URL")]
    pub object_store: Option<String>,

    /// NATS server shared by the nodes of a cluster, e.g. `nats://127.0.0.1:4222` [default: none, single node].
    #[arg(long, env = "RELAIS_BUS_URL", value_name = "URL")]
    pub bus_url: Option<String>,

    /// Built web client to serve at `/` [default: ./web-client/dist].
    #[arg(long, env = "RELAIS_WEB_DIR", value_name = "DIR")]
    pub web_dir: Option<PathBuf>,

    /// Log filter, in `tracing` syntax, e.g. `info` or `relais_server=debug` [default: info].
    #[arg(long, env = "RELAIS_LOG", value_name = "FILTER")]
    pub log: Option<String>,

    /// Log format [default: text].
    #[arg(long, env = "RELAIS_LOG_FORMAT", value_name = "FORMAT")]
    pub log_format: Option<LogFormat>,

    /// Largest websocket message accepted, in bytes; larger ones close the sender with 1009 [default: 16777216].
    #[arg(long, env = "RELAIS_MAX_MESSAGE_BYTES", value_name = "BYTES")]
    pub max_message_bytes: Option<usize>,

    /// Most simultaneous websocket connections; more get HTTP 503 [default: 20000].
    #[arg(long, env = "RELAIS_MAX_CONNECTIONS", value_name = "N")]
    pub max_connections: Option<usize>,

    /// Messages queued for one client before it is closed with 1013 as too slow [default: 512].
    #[arg(long, env = "RELAIS_CLIENT_OUTBOX_MESSAGES", value_name = "N")]
    pub client_outbox_messages: Option<usize>,

    /// Messages queued for one room before its clients wait [default: 256].
    #[arg(long, env = "RELAIS_ROOM_INBOX_MESSAGES", value_name = "N")]
    pub room_inbox_messages: Option<usize>,

    /// Most updates in one database commit (group commit) [default: 256].
    #[arg(long, env = "RELAIS_MAX_BATCH_UPDATES", value_name = "N")]
    pub max_batch_updates: Option<usize>,

    /// Stored updates after which a room writes a snapshot and compacts its log [default: 1000].
    #[arg(long, env = "RELAIS_SNAPSHOT_EVERY_UPDATES", value_name = "N")]
    pub snapshot_every_updates: Option<u64>,

    /// Seconds of editing after which an automatic version is taken (one also is when the last editor leaves) [default: 300].
    #[arg(long, env = "RELAIS_VERSION_INTERVAL_SECONDS", value_name = "S")]
    pub version_interval_seconds: Option<u64>,

    /// Milliseconds a room stays loaded after its last client leaves [default: 5000].
    #[arg(long, env = "RELAIS_ROOM_GRACE_MS", value_name = "MS")]
    pub room_grace_ms: Option<u64>,

    /// Milliseconds of silence after which a client is sent a keep-alive message; stock clients reconnect after 30000 [default: 15000].
    #[arg(long, env = "RELAIS_KEEPALIVE_MS", value_name = "MS")]
    pub keepalive_ms: Option<u64>,

    /// Milliseconds without any frame from a client before it is closed [default: 90000].
    #[arg(long, env = "RELAIS_IDLE_TIMEOUT_MS", value_name = "MS")]
    pub idle_timeout_ms: Option<u64>,

    /// Milliseconds a write to one client may take before it is dropped [default: 10000].
    #[arg(long, env = "RELAIS_WRITE_TIMEOUT_MS", value_name = "MS")]
    pub write_timeout_ms: Option<u64>,

    /// Database connection pool size [default: 16].
    #[arg(long, env = "RELAIS_DATABASE_MAX_CONNECTIONS", value_name = "N")]
    pub database_max_connections: Option<u32>,

    /// URL users reach this server at, e.g. `https://relais.example.fr`; used for invitation links, OIDC redirects and secure cookies [default: http://LISTEN].
    #[arg(long, env = "RELAIS_PUBLIC_URL", value_name = "URL")]
    pub public_url: Option<String>,

    /// Comma-separated origins allowed to open websockets and call the API from a browser, besides the public URL's [default: none].
    #[arg(long, env = "RELAIS_ALLOWED_ORIGINS", value_name = "ORIGINS")]
    pub allowed_origins: Option<String>,

    /// Take the client address from `X-Forwarded-For` (only behind a reverse proxy that sets it) [default: false].
    #[arg(long, env = "RELAIS_TRUST_FORWARDED_FOR", value_name = "BOOL")]
    pub trust_forwarded_for: Option<bool>,

    /// Hours a browser session lasts [default: 168].
    #[arg(long, env = "RELAIS_SESSION_HOURS", value_name = "HOURS")]
    pub session_hours: Option<u64>,

    /// Sign-in, invitation and token requests allowed per client address and minute [default: 20].
    #[arg(long, env = "RELAIS_AUTH_RATE_PER_MINUTE", value_name = "N")]
    pub auth_rate_per_minute: Option<u32>,

    /// OpenID Connect issuer URL (ProConnect or any provider); enables the OIDC sign-in [default: none].
    #[arg(long, env = "RELAIS_OIDC_ISSUER", value_name = "URL")]
    pub oidc_issuer: Option<String>,

    /// OpenID Connect client id [default: none].
    #[arg(long, env = "RELAIS_OIDC_CLIENT_ID", value_name = "ID")]
    pub oidc_client_id: Option<String>,

    /// OpenID Connect client secret [default: none].
    #[arg(long, env = "RELAIS_OIDC_CLIENT_SECRET", value_name = "SECRET", hide_env_values = true)]
    pub oidc_client_secret: Option<String>,

    /// Longest chat message accepted, in bytes of UTF-8 [default: 16384].
    #[arg(long, env = "RELAIS_CHAT_MAX_MESSAGE_BYTES", value_name = "BYTES")]
    pub chat_max_message_bytes: Option<usize>,

    /// Chat messages one user may post per minute (then refused with rate_limited) [default: 60].
    #[arg(long, env = "RELAIS_CHAT_MESSAGES_PER_MINUTE", value_name = "N")]
    pub chat_messages_per_minute: Option<u32>,

    /// Largest chat attachment, in bytes [default: 10485760].
    #[arg(long, env = "RELAIS_ATTACHMENT_MAX_BYTES", value_name = "BYTES")]
    pub attachment_max_bytes: Option<usize>,

    /// Comma-separated content types accepted as attachments [default: PDF, PNG, JPEG, GIF, WebP, plain text, CSV, OpenDocument and Office files].
    #[arg(long, env = "RELAIS_ATTACHMENT_TYPES", value_name = "TYPES")]
    pub attachment_types: Option<String>,

    /// Extra OIDC scopes besides `openid email profile`, space-separated, e.g. `organizational_unit` [default: none].
    #[arg(long, env = "RELAIS_OIDC_SCOPES", value_name = "SCOPES")]
    pub oidc_scopes: Option<String>,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// The checked configuration the server runs with.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub database_url: String,
    pub object_store: String,
    pub bus_url: Option<String>,
    pub web_dir: PathBuf,
    pub log: String,
    pub log_format: LogFormat,
    pub max_connections: usize,
    pub hub: HubConfig,
    pub database_max_connections: u32,
    pub auth: AuthConfig,
    pub chat: ChatConfig,
}

/// Limits of the chat.
#[derive(Debug, Clone)]
pub struct ChatConfig {
    pub max_message_bytes: usize,
    pub messages_per_minute: u32,
    pub attachment_max_bytes: usize,
    /// Lowercase `type/subtype`.
    pub attachment_types: Vec<String>,
}

/// Attachment types accepted by default: documents and images people exchange in a project.
pub const DEFAULT_ATTACHMENT_TYPES: &[&str] = &[
    "application/pdf",
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "text/plain",
    "text/csv",
    "application/vnd.oasis.opendocument.text",
    "application/vnd.oasis.opendocument.spreadsheet",
    "application/vnd.oasis.opendocument.presentation",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
];

/// Sign-in, sessions and the checks made on every browser request.
#[derive(Debug, Clone)]
pub struct AuthConfig {
    /// Where users reach the server: scheme, host and port, no trailing slash.
    pub public_url: url::Url,
    /// False when `public_url` is the default: then it follows the address actually bound
    /// (which differs from `listen` with port 0).
    pub public_url_explicit: bool,
    /// Origins (`scheme://host[:port]`) allowed besides the public URL's.
    pub allowed_origins: Vec<String>,
    pub trust_forwarded_for: bool,
    pub session_ttl: Duration,
    pub auth_rate_per_minute: u32,
    pub oidc: Option<OidcConfig>,
}

impl AuthConfig {
    /// Whether cookies get the `Secure` attribute: when users reach the server over TLS.
    pub fn secure_cookies(&self) -> bool {
        self.public_url.scheme() == "https"
    }

    /// Whether a browser page from `origin` may open a websocket or call the API.
    pub fn origin_allowed(&self, origin: &str) -> bool {
        let origin = origin.trim_end_matches('/');
        origin.eq_ignore_ascii_case(&self.public_url.origin().ascii_serialization())
            || self.allowed_origins.iter().any(|allowed| allowed.eq_ignore_ascii_case(origin))
    }
}

/// An OpenID Connect provider.
#[derive(Clone)]
pub struct OidcConfig {
    pub issuer: String,
    pub client_id: String,
    pub client_secret: String,
    pub extra_scopes: Vec<String>,
}

impl std::fmt::Debug for OidcConfig {
    // The secret stays out of logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcConfig")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("extra_scopes", &self.extra_scopes)
            .finish_non_exhaustive()
    }
}

/// Limits and timings of the document hub, passed to rooms and connections.
#[derive(Debug, Clone)]
pub struct HubConfig {
    pub max_message_bytes: usize,
    pub client_outbox_messages: usize,
    pub room_inbox_messages: usize,
    pub max_batch_updates: usize,
    pub snapshot_every_updates: u64,
    pub room_grace: Duration,
    pub version_interval: Duration,
    pub keepalive: Duration,
    pub idle_timeout: Duration,
    pub write_timeout: Duration,
}

impl Default for HubConfig {
    fn default() -> Self {
        Self {
            max_message_bytes: 16 * 1024 * 1024,
            client_outbox_messages: 512,
            room_inbox_messages: 256,
            max_batch_updates: 256,
            snapshot_every_updates: 1000,
            room_grace: Duration::from_millis(5000),
            version_interval: Duration::from_secs(300),
            keepalive: Duration::from_millis(15_000),
            idle_timeout: Duration::from_millis(90_000),
            write_timeout: Duration::from_millis(10_000),
        }
    }
}

/// A configuration error: names the setting and says what is wrong, on one line.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {setting}: {reason}")]
pub struct ConfigError {
    pub setting: &'static str,
    pub reason: String,
}

fn invalid(setting: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError { setting, reason: reason.into() }
}

impl ServeArgs {
    /// Fills what flags and environment left unset from the TOML file named by `--config`.
    fn merged_with_file(self) -> Result<Self, ConfigError> {
        let Some(path) = self.config.clone() else { return Ok(self) };
        let text = std::fs::read_to_string(&path)
            .map_err(|e| invalid("config", format!("cannot read {}: {e}", path.display())))?;
        let file: ServeArgs = toml::from_str(&text).map_err(|e| {
            invalid("config", format!("{}: {}", path.display(), e.message().replace('\n', " ")))
        })?;
        Ok(Self {
            config: self.config,
            listen: self.listen.or(file.listen),
            data_dir: self.data_dir.or(file.data_dir),
            database_url: self.database_url.or(file.database_url),
            object_store: self.object_store.or(file.object_store),
            bus_url: self.bus_url.or(file.bus_url),
            web_dir: self.web_dir.or(file.web_dir),
            log: self.log.or(file.log),
            log_format: self.log_format.or(file.log_format),
            max_message_bytes: self.max_message_bytes.or(file.max_message_bytes),
            max_connections: self.max_connections.or(file.max_connections),
            client_outbox_messages: self.client_outbox_messages.or(file.client_outbox_messages),
            room_inbox_messages: self.room_inbox_messages.or(file.room_inbox_messages),
            max_batch_updates: self.max_batch_updates.or(file.max_batch_updates),
            snapshot_every_updates: self.snapshot_every_updates.or(file.snapshot_every_updates),
            room_grace_ms: self.room_grace_ms.or(file.room_grace_ms),
            version_interval_seconds: self.version_interval_seconds.or(file.version_interval_seconds),
            keepalive_ms: self.keepalive_ms.or(file.keepalive_ms),
            idle_timeout_ms: self.idle_timeout_ms.or(file.idle_timeout_ms),
            write_timeout_ms: self.write_timeout_ms.or(file.write_timeout_ms),
            database_max_connections: self.database_max_connections.or(file.database_max_connections),
            public_url: self.public_url.or(file.public_url),
            allowed_origins: self.allowed_origins.or(file.allowed_origins),
            trust_forwarded_for: self.trust_forwarded_for.or(file.trust_forwarded_for),
            session_hours: self.session_hours.or(file.session_hours),
            auth_rate_per_minute: self.auth_rate_per_minute.or(file.auth_rate_per_minute),
            oidc_issuer: self.oidc_issuer.or(file.oidc_issuer),
            oidc_client_id: self.oidc_client_id.or(file.oidc_client_id),
            oidc_client_secret: self.oidc_client_secret.or(file.oidc_client_secret),
            oidc_scopes: self.oidc_scopes.or(file.oidc_scopes),
            chat_max_message_bytes: self.chat_max_message_bytes.or(file.chat_max_message_bytes),
            chat_messages_per_minute: self.chat_messages_per_minute.or(file.chat_messages_per_minute),
            attachment_max_bytes: self.attachment_max_bytes.or(file.attachment_max_bytes),
            attachment_types: self.attachment_types.or(file.attachment_types),
        })
    }

    /// Applies defaults and checks every setting.
    pub fn into_config(self) -> Result<Config, ConfigError> {
        let args = self.merged_with_file()?;
        let defaults = HubConfig::default();
        let data_dir = args.data_dir.unwrap_or_else(|| PathBuf::from("./data"));
        let database_url = args
            .database_url
            .unwrap_or_else(|| format!("sqlite://{}", data_dir.join("relais.db").display()));
        if !(database_url.starts_with("sqlite:") || database_url.starts_with("postgres://") || database_url.starts_with("postgresql://")) {
            return Err(invalid("database_url", "must start with sqlite:// or postgres://"));
        }
        let object_store = args
            .object_store
            .unwrap_or_else(|| format!("file://{}", data_dir.join("objects").display()));
        if !["file://", "s3://", "memory://"].iter().any(|scheme| object_store.starts_with(scheme)) {
            return Err(invalid("object_store", "must start with file://, s3:// or memory://"));
        }
        if let Some(url) = &args.bus_url
            && !(url.starts_with("nats://") || url.starts_with("tls://"))
        {
            return Err(invalid("bus_url", "must start with nats:// or tls://"));
        }
        let positive = |setting: &'static str, value: Option<u64>, default: u64| match value {
            Some(0) => Err(invalid(setting, "must be greater than 0")),
            Some(value) => Ok(value),
            None => Ok(default),
        };
        let millis = |d: Duration| d.as_millis() as u64;
        let keepalive_ms = positive("keepalive_ms", args.keepalive_ms, millis(defaults.keepalive))?;
        if keepalive_ms > 25_000 {
            return Err(invalid("keepalive_ms", "must be at most 25000: stock clients reconnect after 30000 ms of silence"));
        }
        let idle_timeout_ms = positive("idle_timeout_ms", args.idle_timeout_ms, millis(defaults.idle_timeout))?;
        if idle_timeout_ms <= keepalive_ms {
            return Err(invalid("idle_timeout_ms", "must be longer than keepalive_ms"));
        }
        let max_message_bytes = positive("max_message_bytes", args.max_message_bytes.map(|v| v as u64), defaults.max_message_bytes as u64)?;
        if max_message_bytes < 1024 {
            return Err(invalid("max_message_bytes", "must be at least 1024"));
        }
        let hub = HubConfig {
            max_message_bytes: max_message_bytes as usize,
            client_outbox_messages: positive("client_outbox_messages", args.client_outbox_messages.map(|v| v as u64), defaults.client_outbox_messages as u64)? as usize,
            room_inbox_messages: positive("room_inbox_messages", args.room_inbox_messages.map(|v| v as u64), defaults.room_inbox_messages as u64)? as usize,
            max_batch_updates: positive("max_batch_updates", args.max_batch_updates.map(|v| v as u64), defaults.max_batch_updates as u64)? as usize,
            snapshot_every_updates: positive("snapshot_every_updates", args.snapshot_every_updates, defaults.snapshot_every_updates)?,
            room_grace: Duration::from_millis(args.room_grace_ms.unwrap_or(millis(defaults.room_grace))),
            version_interval: Duration::from_secs(positive(
                "version_interval_seconds",
                args.version_interval_seconds,
                defaults.version_interval.as_secs(),
            )?),
            keepalive: Duration::from_millis(keepalive_ms),
            idle_timeout: Duration::from_millis(idle_timeout_ms),
            write_timeout: Duration::from_millis(positive("write_timeout_ms", args.write_timeout_ms, millis(defaults.write_timeout))?),
        };
        if hub.client_outbox_messages < 2 * hub.max_batch_updates {
            // One commit relays up to a batch of frames at once to every client.
            return Err(invalid("client_outbox_messages", "must be at least twice max_batch_updates"));
        }
        let listen = args.listen.unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8080)));
        let public_url = args.public_url.clone().unwrap_or_else(|| format!("http://{listen}"));
        let public_url = url::Url::parse(&public_url)
            .ok()
            .filter(|url| matches!(url.scheme(), "http" | "https") && url.has_host())
            .ok_or_else(|| invalid("public_url", "must be an http:// or https:// URL"))?;
        let allowed_origins = args
            .allowed_origins
            .as_deref()
            .unwrap_or_default()
            .split(',')
            .map(|origin| origin.trim().trim_end_matches('/').to_owned())
            .filter(|origin| !origin.is_empty())
            .collect::<Vec<_>>();
        if let Some(bad) = allowed_origins.iter().find(|o| url::Url::parse(o).map(|u| u.origin().ascii_serialization() != **o).unwrap_or(true)) {
            return Err(invalid("allowed_origins", format!("{bad:?} is not an origin like https://host:port")));
        }
        let oidc = match (args.oidc_issuer, args.oidc_client_id, args.oidc_client_secret) {
            (None, None, None) => None,
            (Some(issuer), Some(client_id), Some(client_secret)) => {
                if url::Url::parse(&issuer).is_err() {
                    return Err(invalid("oidc_issuer", "must be a URL"));
                }
                Some(OidcConfig {
                    issuer,
                    client_id,
                    client_secret,
                    extra_scopes: args.oidc_scopes.unwrap_or_default().split_whitespace().map(str::to_owned).collect(),
                })
            }
            _ => return Err(invalid("oidc_issuer", "oidc_issuer, oidc_client_id and oidc_client_secret go together")),
        };
        let auth = AuthConfig {
            public_url,
            public_url_explicit: args.public_url.is_some(),
            allowed_origins,
            trust_forwarded_for: args.trust_forwarded_for.unwrap_or(false),
            session_ttl: Duration::from_secs(3600 * positive("session_hours", args.session_hours, 168)?),
            auth_rate_per_minute: positive("auth_rate_per_minute", args.auth_rate_per_minute.map(u64::from), 20)? as u32,
            oidc,
        };
        let chat = ChatConfig {
            max_message_bytes: positive("chat_max_message_bytes", args.chat_max_message_bytes.map(|v| v as u64), 16_384)? as usize,
            messages_per_minute: positive("chat_messages_per_minute", args.chat_messages_per_minute.map(u64::from), 60)? as u32,
            attachment_max_bytes: positive("attachment_max_bytes", args.attachment_max_bytes.map(|v| v as u64), 10 * 1024 * 1024)? as usize,
            attachment_types: match &args.attachment_types {
                Some(list) => list.split(',').map(|t| t.trim().to_ascii_lowercase()).filter(|t| !t.is_empty()).collect(),
                None => DEFAULT_ATTACHMENT_TYPES.iter().map(|t| (*t).to_owned()).collect(),
            },
        };
        if chat.attachment_types.iter().any(|t| t.split_once('/').is_none_or(|(a, b)| a.is_empty() || b.is_empty())) {
            return Err(invalid("attachment_types", "each type must look like type/subtype"));
        }
        if chat.max_message_bytes > 1024 * 1024 {
            return Err(invalid("chat_max_message_bytes", "must be at most 1048576"));
        }
        Ok(Config {
            listen,
            auth,
            chat,
            web_dir: args.web_dir.unwrap_or_else(|| PathBuf::from("./web-client/dist")),
            log: args.log.unwrap_or_else(|| "info".to_owned()),
            log_format: args.log_format.unwrap_or_default(),
            max_connections: positive("max_connections", args.max_connections.map(|v| v as u64), 20_000)? as usize,
            database_max_connections: positive("database_max_connections", args.database_max_connections.map(u64::from), 16)? as u32,
            data_dir,
            database_url,
            object_store,
            bus_url: args.bus_url,
            hub,
        })
    }
}

impl Config {
    /// Creates the data directory when the defaults point into it.
    pub fn prepare_data_dir(&self) -> Result<(), ConfigError> {
        let uses_data_dir = self.database_url.starts_with("sqlite:") || self.object_store.starts_with("file://");
        if uses_data_dir {
            create_dir(&self.data_dir)?;
        }
        Ok(())
    }
}

fn create_dir(path: &Path) -> Result<(), ConfigError> {
    std::fs::create_dir_all(path).map_err(|e| invalid("data_dir", format!("cannot create {}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{CommandFactory, Parser};

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        serve: ServeArgs,
    }

    #[test]
    fn defaults_give_the_embedded_quick_start() {
        let config = ServeArgs::default().into_config().unwrap();
        assert_eq!(config.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(config.database_url, "sqlite://./data/relais.db");
        assert_eq!(config.object_store, "file://./data/objects");
    }

    #[test]
    fn invalid_settings_name_themselves() {
        let args = ServeArgs { keepalive_ms: Some(40_000), ..Default::default() };
        let error = args.into_config().unwrap_err().to_string();
        assert!(error.starts_with("invalid configuration: keepalive_ms:"), "{error}");
        let args = ServeArgs { database_url: Some("mysql://x".into()), ..Default::default() };
        assert!(args.into_config().unwrap_err().to_string().contains("database_url"));
    }

    #[test]
    fn file_fills_what_flags_leave_unset() {
        let dir = std::env::temp_dir().join(format!("relais-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("relais.toml");
        std::fs::write(&path, "listen = \"127.0.0.1:9000\"\nkeepalive_ms = 10000\n").unwrap();
        let args = ServeArgs { config: Some(path.clone()), keepalive_ms: Some(5000), ..Default::default() };
        let config = args.into_config().unwrap();
        assert_eq!(config.listen.port(), 9000);
        assert_eq!(config.hub.keepalive, Duration::from_millis(5000));
        std::fs::write(&path, "lisen = 1\n").unwrap();
        let error = ServeArgs { config: Some(path), ..Default::default() }.into_config().unwrap_err();
        assert!(error.to_string().contains("lisen"), "{error}");
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn readme_documents_every_setting() {
        let readme = include_str!("../../README.md");
        for argument in Cli::command().get_arguments() {
            let flag = format!("`--{}`", argument.get_long().unwrap_or_default());
            let env = format!("`{}`", argument.get_env().and_then(|e| e.to_str()).unwrap_or_default());
            assert!(readme.contains(&flag), "README.md lacks {flag}");
            assert!(readme.contains(&env), "README.md lacks {env}");
        }
    }
}
