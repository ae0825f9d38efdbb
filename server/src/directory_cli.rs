//! The directory commands: `relais user create`, `relais token create|revoke`,
//! `relais audit verify|export`.
//!
//! They open the same store as `relais serve` (applying migrations, so that the first
//! administrator can be created before the first start) and write the same audit entries as
//! the API, with `cli` as the actor.

use std::io::{BufRead, Write};
use std::path::PathBuf;

use clap::Args;
use relais_storage::{
    AuditFilter, Directory, NewApiToken, NewUser, Role, StorageConfig, StoreError, TokenId, UnixMillis,
    UserKind, WorkspaceId,
};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::audit::Audit;
use crate::auth::{self, password, secrets};
use crate::config::{Config, ServeArgs};

/// Why a directory command failed.
#[derive(Debug, thiserror::Error)]
pub enum DirectoryCliError {
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot read or write: {0}")]
    Io(#[from] std::io::Error),
    #[error("the audit journal is broken at entry {seq}: {reason}")]
    AuditBroken { seq: i64, reason: String },
    #[error("{0} matches no approved version (sha256 {1})")]
    NotSealed(String, String),
}

impl DirectoryCliError {
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Usage(_) => 2,
            _ => 1,
        }
    }
}

fn usage(message: impl Into<String>) -> DirectoryCliError {
    DirectoryCliError::Usage(message.into())
}

/// Arguments of `relais user create`.
#[derive(Debug, Clone, Args)]
pub struct UserCreateArgs {
    /// The person's e-mail address (their sign-in name).
    #[arg(long)]
    pub email: String,
    /// The name shown to others.
    #[arg(long)]
    pub name: String,
    /// Make this account an administrator (the first account should be one).
    #[arg(long)]
    pub admin: bool,
    /// An external partner rather than staff.
    #[arg(long)]
    pub external: bool,
    /// Organisation to put the person in, by name; created if missing.
    #[arg(long, value_name = "NAME")]
    pub organisation: Option<String>,
    /// Read the password from the first line of standard input; otherwise one is generated
    /// and printed once.
    #[arg(long)]
    pub password_stdin: bool,
    /// Do nothing (and succeed) if any account exists already: for first-start scripts.
    #[arg(long)]
    pub if_no_users: bool,
    #[command(flatten)]
    pub settings: ServeArgs,
}

/// Arguments of `relais token create`.
#[derive(Debug, Clone, Args)]
pub struct TokenCreateArgs {
    /// The document name, a prefix ending in `*` (`projets/plui/*`), or `*` for every document.
    #[arg(long, value_name = "NAME|PREFIX*")]
    pub document: String,
    /// `owner`, `validator`, `editor`, `commenter` or `reader`.
    #[arg(long)]
    pub role: String,
    /// How long the token is valid (`3600` seconds, `30m`, `12h`, `7d`) or until when (`2027-01-31`, RFC 3339 `2027-01-31T18:00:00Z`).
    #[arg(long, value_name = "DURATION|TIME")]
    pub expires: String,
    #[command(flatten)]
    pub settings: ServeArgs,
}

/// Arguments of `relais token revoke`.
#[derive(Debug, Clone, Args)]
pub struct TokenRevokeArgs {
    /// The token's id (the part between `rls_` and the dot).
    pub id: String,
    #[command(flatten)]
    pub settings: ServeArgs,
}

/// Arguments of `relais audit verify`.
#[derive(Debug, Clone, Args)]
pub struct AuditVerifyArgs {
    #[command(flatten)]
    pub settings: ServeArgs,
}

/// Arguments of `relais verify`.
#[derive(Debug, Clone, Args)]
pub struct VerifyArgs {
    /// A file exported by Relais (Markdown, HTML, DOCX, ODT) or a version's stored state.
    #[arg(value_name = "FILE")]
    pub file: std::path::PathBuf,
    #[command(flatten)]
    pub settings: ServeArgs,
}

/// Arguments of `relais documents thin-versions`.
#[derive(Debug, Clone, Args)]
pub struct ThinVersionsArgs {
    /// Keep every automatic version younger than this many hours.
    #[arg(long, value_name = "HOURS", default_value_t = 24)]
    pub keep_all_hours: u32,
    /// Then keep one per hour up to this many days old; one per day after.
    #[arg(long, value_name = "DAYS", default_value_t = 30)]
    pub hourly_days: u32,
    #[command(flatten)]
    pub settings: ServeArgs,
}

/// Arguments of `relais audit export`.
#[derive(Debug, Clone, Args)]
pub struct AuditExportArgs {
    /// Only this workspace's entries (its id).
    #[arg(long, value_name = "ID")]
    pub workspace: Option<String>,
    /// Entries at or after this day or time (`2026-11-01` or RFC 3339).
    #[arg(long, value_name = "DATE")]
    pub from: Option<String>,
    /// Entries before this day or time (`2026-12-01` or RFC 3339).
    #[arg(long, value_name = "DATE")]
    pub to: Option<String>,
    /// Write to this file instead of standard output.
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub settings: ServeArgs,
}

async fn open(config: &Config) -> Result<std::sync::Arc<dyn Directory>, DirectoryCliError> {
    Ok(open_storage(config).await?.directory)
}

/// The store with a small pool, as the one-shot commands need.
async fn open_storage(config: &Config) -> Result<relais_storage::Storage, DirectoryCliError> {
    Ok(relais_storage::connect_storage(&StorageConfig {
        database_url: config.database_url.clone(),
        object_store_url: config.object_store.clone(),
        max_connections: 2,
    })
    .await?)
}

/// `relais user create`: prints the new account's id (and its generated password).
pub async fn user_create(config: &Config, args: UserCreateArgs) -> Result<(), DirectoryCliError> {
    let directory = open(config).await?;
    if args.if_no_users && directory.user_count().await? > 0 {
        return Ok(());
    }
    let (password, generated) = if args.password_stdin {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        (line.trim_end_matches(['\r', '\n']).to_owned(), false)
    } else {
        (secrets::random_secret()[..20].to_owned(), true)
    };
    let password_hash = password::hash(password.clone()).await.map_err(|e| usage(e.to_string()))?;
    let organisation = match &args.organisation {
        Some(name) => Some(match directory.organisation_by_name(name.trim()).await? {
            Some(organisation) => organisation.id,
            None => directory.create_organisation(name.trim()).await?.id,
        }),
        None => None,
    };
    let user = directory
        .create_user(NewUser {
            email: args.email.trim().to_lowercase(),
            display_name: args.name.trim().to_owned(),
            kind: if args.external { UserKind::External } else { UserKind::Staff },
            organisation,
            is_admin: args.admin,
            password_hash: Some(password_hash),
            oidc: None,
        })
        .await?;
    Audit::new(directory.clone())
        .record(Some("cli".into()), "user.created", None, Some(format!("user:{}", user.id)), serde_json::json!({ "is_admin": user.is_admin, "kind": user.kind.as_str() }))
        .await?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "created user {} <{}>{}", user.id, user.email, if user.is_admin { " (administrator)" } else { "" })?;
    if generated {
        writeln!(out, "password: {password}")?;
        writeln!(out, "(shown once: give it to its owner, who should sign in and keep it safe)")?;
    }
    Ok(())
}

/// Parses `30m`, `12h`, `7d`, `90s` as a duration from `now`, or an RFC 3339 instant.
pub fn parse_expiry(text: &str, now: UnixMillis) -> Result<UnixMillis, String> {
    let text = text.trim();
    if let Ok(seconds) = text.parse::<i64>() {
        // A bare number is seconds, as in `--expires 3600`.
        return match seconds.checked_mul(1_000).and_then(|ms| now.checked_add(ms)) {
            Some(at) if seconds > 0 => Ok(at),
            _ => Err("the duration must be positive".to_owned()),
        };
    }
    let unit_ms = match text.chars().last() {
        Some('s') => Some(1_000),
        Some('m') => Some(60_000),
        Some('h') => Some(3_600_000),
        Some('d') => Some(86_400_000),
        _ => None,
    };
    if let (Some(unit_ms), Ok(count)) = (unit_ms, text[..text.len() - 1].parse::<i64>())
        && count > 0
    {
        return count.checked_mul(unit_ms).and_then(|ms| now.checked_add(ms)).ok_or_else(|| "expiry too far".to_owned());
    }
    let instant = parse_instant(text)?;
    if instant <= now {
        return Err("the expiry is in the past".to_owned());
    }
    Ok(instant)
}

/// Parses a day (`2026-11-01`, midnight UTC) or an RFC 3339 instant into Unix milliseconds.
pub fn parse_instant(text: &str) -> Result<UnixMillis, String> {
    let text = text.trim();
    let full = if text.len() == 10 { format!("{text}T00:00:00Z") } else { text.to_owned() };
    let parsed = OffsetDateTime::parse(&full, &Rfc3339).map_err(|_| format!("{text:?} is neither a duration like 12h nor a date like 2026-11-01 or 2026-11-01T12:00:00Z"))?;
    i64::try_from(parsed.unix_timestamp_nanos() / 1_000_000).map_err(|_| "date out of range".to_owned())
}

/// `relais token create`: prints the token on one line (shown once).
pub async fn token_create(config: &Config, args: TokenCreateArgs) -> Result<(), DirectoryCliError> {
    auth::check_pattern(&args.document).map_err(usage)?;
    let role = Role::parse(&args.role).ok_or_else(|| usage("--role must be owner, validator, editor, commenter or reader"))?;
    let expires_at_ms = parse_expiry(&args.expires, auth::now_ms()).map_err(|e| usage(format!("--expires: {e}")))?;
    let directory = open(config).await?;
    let id = TokenId::generate();
    let secret = secrets::random_secret();
    directory
        .create_api_token(&NewApiToken {
            id: id.clone(),
            secret_sha256: secrets::sha256_hex(&secret),
            document_pattern: args.document.clone(),
            role,
            expires_at_ms,
            created_by: None,
        })
        .await?;
    Audit::new(directory)
        .record(Some("cli".into()), "token.created", None, Some(format!("token:{id}")), serde_json::json!({ "document": args.document, "role": role.as_str(), "expires_at_ms": expires_at_ms }))
        .await?;
    writeln!(std::io::stdout().lock(), "{}", auth::format_token(&id, &secret))?;
    Ok(())
}

/// `relais token revoke`.
pub async fn token_revoke(config: &Config, args: TokenRevokeArgs) -> Result<(), DirectoryCliError> {
    let id = TokenId::parse(&args.id).ok_or_else(|| usage("not a token id"))?;
    let directory = open(config).await?;
    if !directory.revoke_api_token(&id).await? {
        return Err(usage(format!("no active token {id}")));
    }
    Audit::new(directory)
        .record(Some("cli".into()), "token.revoked", None, Some(format!("token:{id}")), serde_json::json!({}))
        .await?;
    writeln!(std::io::stdout().lock(), "revoked token {id}")?;
    Ok(())
}

/// `relais audit verify`: exit 0 with the count when the chain holds, 1 naming the first
/// broken entry otherwise.
pub async fn audit_verify(config: &Config) -> Result<(), DirectoryCliError> {
    let directory = open(config).await?;
    let verification = directory.verify_audit().await?;
    match verification.first_broken {
        None => {
            writeln!(std::io::stdout().lock(), "ok: {} entries, chain intact", verification.entries)?;
            Ok(())
        }
        Some((seq, reason)) => Err(DirectoryCliError::AuditBroken { seq, reason }),
    }
}

/// `relais verify FILE`: exit 0 naming the approved version the file is exactly (its stored
/// state, or an export of it this server recorded), 1 when it is none.
pub async fn verify(config: &Config, args: VerifyArgs) -> Result<(), DirectoryCliError> {
    let bytes = std::fs::read(&args.file)?;
    let sha256 = crate::versions::sha256_hex(&bytes);
    let storage = open_storage(config).await?;
    let Some(found) = storage.versions.find_sealed(&sha256).await? else {
        return Err(DirectoryCliError::NotSealed(args.file.display().to_string(), sha256));
    };
    let title = storage.directory.document(&found.version.document).await?.map(|info| info.title).unwrap_or_default();
    let seal = found.version.seal.as_ref();
    writeln!(
        std::io::stdout().lock(),
        "ok: {} is {} of version {} of « {} » ({}), approved on {} by {}; seal sha256 {}",
        args.file.display(),
        found.format.map_or_else(|| "the stored state".to_owned(), |format| format!("the {format} export")),
        found.version.number,
        title,
        found.version.document,
        seal.map(|seal| crate::versions::french_datetime(seal.sealed_at_ms)).unwrap_or_default(),
        seal.map(|seal| seal.sealed_by.as_str()).unwrap_or_default(),
        found.version.sha256_hex,
    )?;
    Ok(())
}

/// `relais documents thin-versions`: the retention servers apply every hour, now and with
/// the given policy. Named, submitted, restore and approved versions are never removed.
pub async fn thin_versions(config: &Config, args: ThinVersionsArgs) -> Result<(), DirectoryCliError> {
    let storage = open_storage(config).await?;
    let policy = relais_storage::RetentionPolicy {
        keep_all_ms: i64::from(args.keep_all_hours) * 3_600_000,
        hourly_ms: i64::from(args.hourly_days) * 86_400_000,
    };
    let deleted = storage.versions.apply_retention(policy, crate::auth::now_ms()).await?;
    writeln!(std::io::stdout().lock(), "ok: {deleted} automatic versions removed")?;
    Ok(())
}

/// `relais audit export`: JSON lines, ascending.
pub async fn audit_export(config: &Config, args: AuditExportArgs) -> Result<(), DirectoryCliError> {
    let workspace = match &args.workspace {
        Some(id) => Some(WorkspaceId::parse(id).ok_or_else(|| usage("--workspace must be a workspace id"))?),
        None => None,
    };
    let from_ms = args.from.as_deref().map(parse_instant).transpose().map_err(|e| usage(format!("--from: {e}")))?;
    let to_ms = args.to.as_deref().map(parse_instant).transpose().map_err(|e| usage(format!("--to: {e}")))?;
    let directory = open(config).await?;
    let mut out: Box<dyn Write> = match &args.output {
        Some(path) => Box::new(std::io::BufWriter::new(std::fs::File::create(path)?)),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    let mut after_seq = 0;
    let mut exported = 0_u64;
    loop {
        let page = directory
            .audit_entries(&AuditFilter { workspace: workspace.clone(), from_ms, to_ms, after_seq, limit: 1000 })
            .await?;
        let Some(last) = page.last() else { break };
        after_seq = last.seq;
        for entry in &page {
            serde_json::to_writer(&mut out, entry).map_err(std::io::Error::other)?;
            out.write_all(b"\n")?;
        }
        exported += page.len() as u64;
    }
    out.flush()?;
    drop(out);
    // The export itself is a fact worth keeping: who took a copy of what.
    Audit::new(directory)
        .record(
            Some("cli".into()),
            "audit.exported",
            workspace.as_ref(),
            None,
            serde_json::json!({ "from_ms": from_ms, "to_ms": to_ms, "entries": exported }),
        )
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiries_are_durations_or_instants() {
        assert_eq!(parse_expiry("90s", 1_000), Ok(91_000));
        assert_eq!(parse_expiry("3600", 0), Ok(3_600_000));
        assert!(parse_expiry("-5", 0).is_err());
        assert_eq!(parse_expiry("2h", 0), Ok(7_200_000));
        assert_eq!(parse_expiry("7d", 0), Ok(604_800_000));
        assert_eq!(parse_expiry("2030-01-01T00:00:00Z", 0), Ok(1_893_456_000_000));
        assert!(parse_expiry("2001-01-01", 1_893_456_000_000).is_err());
        assert!(parse_expiry("soon", 0).is_err());
        assert!(parse_expiry("0h", 0).is_err());
        assert_eq!(parse_instant("2026-11-01"), Ok(1_793_491_200_000));
    }
}
