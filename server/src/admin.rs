//! The maintenance commands: `relais backup`, `relais restore`, `relais doctor` and
//! `relais documents compact`.
//!
//! They take the same settings as `relais serve` (flags, `RELAIS_*` variables, the TOML file)
//! and open the same store; the backup format and the consistency of the copy belong to
//! `relais_storage::backup`, rebuilding documents to `relais_crdt`. What is here is the
//! command line around them: messages, progress, exit status.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use bytes::Bytes;
use clap::Args;
use relais_crdt::{CrdtError, DocState};
use relais_storage::backup::{BackupError, BackupSummary, Progress};
use relais_storage::{
    Admin, DocumentId, InvalidDocumentId, Migrations, SchemaStatus, Seq, StorageConfig, Store,
    StoreError, redact_url,
};

use crate::config::{Config, ConfigError, ServeArgs};

/// How far the database clock may drift from this machine's before doctor warns.
const CLOCK_TOLERANCE_MS: i64 = 2_000;
/// How long doctor waits for each part to answer.
const CHECK_TIMEOUT: Duration = Duration::from_secs(10);

/// The settings of `relais serve` that the maintenance commands use. The others are accepted
/// too (one configuration file and one environment serve every command), but hidden from
/// their help.
pub const STORAGE_SETTINGS: &[&str] = &[
    "config",
    "data_dir",
    "database_url",
    "object_store",
    "database_max_connections",
    "log",
    "log_format",
];

/// Arguments of `relais backup`.
#[derive(Debug, Clone, Args)]
pub struct BackupArgs {
    /// Where to write the backup: a directory (created if missing, must be empty) or
    /// `s3://BUCKET/PREFIX` (with the same `AWS_*` variables as the object store).
    #[arg(long, value_name = "DIR|URL")]
    pub to: String,
    #[command(flatten)]
    pub settings: ServeArgs,
}

/// Arguments of `relais restore`.
#[derive(Debug, Clone, Args)]
pub struct RestoreArgs {
    /// The backup to restore: a directory written by `relais backup`, or `s3://BUCKET/PREFIX`.
    #[arg(long, value_name = "DIR|URL")]
    pub from: String,
    #[command(flatten)]
    pub settings: ServeArgs,
}

/// Arguments of `relais doctor`.
#[derive(Debug, Clone, Args)]
pub struct DoctorArgs {
    #[command(flatten)]
    pub settings: ServeArgs,
}

/// Arguments of `relais documents compact`.
#[derive(Debug, Clone, Args)]
pub struct CompactArgs {
    /// Compact only this document [default: every document].
    #[arg(long, value_name = "NAME")]
    pub document: Option<String>,
    #[command(flatten)]
    pub settings: ServeArgs,
}

/// Why a maintenance command failed.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("invalid backup location: {0}")]
    Location(String),
    #[error("{0}; `relais serve` applies the migrations when it starts")]
    SchemaBehind(SchemaStatus),
    #[error(transparent)]
    Store(StoreError),
    #[error(transparent)]
    Backup(BackupError),
    #[error("invalid document name")]
    DocumentName(#[from] InvalidDocumentId),
    #[error("no document named {0}")]
    NoSuchDocument(DocumentId),
    #[error("cannot rebuild the document")]
    Crdt(#[from] CrdtError),
    #[error(
        "{skipped} stored updates cannot be decoded: not compacting, so that they stay in the log for inspection"
    )]
    Undecodable { skipped: usize },
    #[error("{failed} of {total} documents could not be compacted")]
    CompactFailed { failed: usize, total: usize },
}

impl AdminError {
    /// The exit status: 2 for an invalid configuration or command line, as `relais serve`; 1
    /// for everything else.
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Config(_) | Self::Location(_) | Self::DocumentName(_) => 2,
            _ => 1,
        }
    }
}

impl From<StoreError> for AdminError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Schema(status @ SchemaStatus::Behind { .. }) => Self::SchemaBehind(status),
            other => Self::Store(other),
        }
    }
}

impl From<BackupError> for AdminError {
    fn from(error: BackupError) -> Self {
        match error {
            BackupError::Store(error) => error.into(),
            other => Self::Backup(other),
        }
    }
}

fn storage_config(config: &Config) -> StorageConfig {
    StorageConfig {
        database_url: config.database_url.clone(),
        object_store_url: config.object_store.clone(),
        max_connections: config.database_max_connections,
    }
}

/// `relais backup --to LOCATION`: copies every row (one read transaction) and every snapshot
/// blob into an empty directory or bucket prefix, with a progress line on a terminal.
pub async fn backup(config: &Config, to: &str) -> Result<BackupSummary, AdminError> {
    let location = location_url(to)?;
    refuse_location_inside_objects(&location, &config.object_store)?;
    let admin = Admin::open(&storage_config(config), Migrations::Require).await?;
    let progress = ProgressLine::new("backup");
    let outcome = admin.backup(&location, &|state| progress.show(state)).await;
    progress.finish();
    admin.close().await;
    let summary = outcome?;
    println!(
        "backed up {} documents ({} updates, {} snapshots), {} other rows ({} attachments, {} versions), {} from {} as of {} to {}",
        summary.documents,
        summary.updates,
        summary.snapshots,
        summary.directory_rows,
        summary.attachments,
        summary.versions,
        human_bytes(summary.bytes),
        summary.source_backend,
        summary.as_of,
        redact_url(to),
    );
    Ok(summary)
}

/// `relais restore --from LOCATION`: restores a backup into an empty database and object
/// store (creating the schema), refusing a target that holds anything.
pub async fn restore(config: &Config, from: &str) -> Result<BackupSummary, AdminError> {
    let location = location_url(from)?;
    if let Some(directory) = location.strip_prefix("file://")
        && !Path::new(directory).is_dir()
    {
        return Err(AdminError::Location(format!(
            "{directory} is not a directory"
        )));
    }
    config.prepare_data_dir()?;
    // Create, not Apply: a database that already has another version's schema is in use
    // somewhere, and must be refused before anything in it changes.
    let admin = match Admin::open(&storage_config(config), Migrations::Create).await {
        Ok(admin) => admin,
        Err(StoreError::Schema(status)) => {
            return Err(AdminError::Backup(BackupError::TargetNotEmpty(format!(
                "the database already has a relais schema ({status})"
            ))));
        }
        Err(error) => return Err(error.into()),
    };
    let progress = ProgressLine::new("restore");
    let outcome = admin
        .restore(&location, &|state| progress.show(state))
        .await;
    progress.finish();
    admin.close().await;
    let summary = outcome?;
    println!(
        "restored {} documents ({} updates, {} snapshots), {} other rows ({} attachments, {} versions), {} backed up from {} as of {}",
        summary.documents,
        summary.updates,
        summary.snapshots,
        summary.directory_rows,
        summary.attachments,
        summary.versions,
        human_bytes(summary.bytes),
        summary.source_backend,
        summary.as_of,
    );
    Ok(summary)
}

/// A directory or URL given on the command line, as a backup location URL.
fn location_url(raw: &str) -> Result<String, AdminError> {
    if raw.starts_with("s3://") || raw.starts_with("file://") {
        return Ok(raw.to_owned());
    }
    if raw.contains("://") {
        return Err(AdminError::Location(
            "use a directory, a file:// URL or an s3://BUCKET/PREFIX URL".into(),
        ));
    }
    if raw.is_empty() {
        return Err(AdminError::Location("empty directory name".into()));
    }
    Ok(format!("file://{raw}"))
}

/// A backup written inside the object store's own directory would be copied into the next
/// backup and make any restore target non-empty: refuse it.
fn refuse_location_inside_objects(location: &str, object_store: &str) -> Result<(), AdminError> {
    let (Some(location), Some(objects)) = (
        location.strip_prefix("file://"),
        object_store.strip_prefix("file://"),
    ) else {
        return Ok(());
    };
    let (Some(location), Some(objects)) =
        (absolute(Path::new(location)), absolute(Path::new(objects)))
    else {
        return Ok(());
    };
    if location.starts_with(&objects) {
        return Err(AdminError::Location(format!(
            "{} is inside the object store's directory {}",
            location.display(),
            objects.display()
        )));
    }
    Ok(())
}

/// The path with symbolic links resolved as far as it exists, for comparing directories.
fn absolute(path: &Path) -> Option<PathBuf> {
    let mut existing = path.to_path_buf();
    let mut rest = Vec::new();
    loop {
        if let Ok(canonical) = existing.canonicalize() {
            return Some(
                rest.iter()
                    .rev()
                    .fold(canonical, |path, part| path.join(part)),
            );
        }
        rest.push(existing.file_name()?.to_owned());
        existing = existing.parent()?.to_path_buf();
        if existing.as_os_str().is_empty() {
            existing = PathBuf::from(".");
        }
    }
}

/// What `relais documents compact` did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct CompactSummary {
    pub compacted: usize,
    pub already_compact: usize,
    pub pruned_updates: u64,
}

/// `relais documents compact [--document NAME]`: for each document, rebuilds the state from
/// the latest snapshot and the log, writes it as a snapshot at the last seq read, and prunes
/// the log up to there. Safe while servers run: the snapshot covers exactly what was read,
/// later appends stay in the log, and the store refuses a snapshot beyond the log.
pub async fn compact(
    config: &Config,
    document: Option<&str>,
) -> Result<CompactSummary, AdminError> {
    let only = document.map(DocumentId::parse).transpose()?;
    let admin = Admin::open(&storage_config(config), Migrations::Require).await?;
    let outcome = compact_documents(&admin, only).await;
    admin.close().await;
    outcome
}

async fn compact_documents(
    admin: &Admin,
    only: Option<DocumentId>,
) -> Result<CompactSummary, AdminError> {
    let single = only.is_some();
    let documents = match only {
        Some(document) => vec![document],
        None => admin.list_documents().await?,
    };
    let mut summary = CompactSummary::default();
    let mut failed = 0;
    for document in &documents {
        match compact_one(admin.store(), document).await {
            Ok(Compacted::Nothing) => summary.already_compact += 1,
            Ok(Compacted::Snapshot {
                upto_seq,
                bytes,
                pruned_updates,
            }) => {
                summary.compacted += 1;
                summary.pruned_updates += pruned_updates;
                println!(
                    "{document}: snapshot at seq {upto_seq} ({}), {pruned_updates} updates pruned",
                    human_bytes(bytes)
                );
            }
            Err(error) if single => return Err(error),
            Err(error) => {
                failed += 1;
                eprintln!("relais: {document}: {}", error_chain(&error));
            }
        }
    }
    println!(
        "compacted {} documents ({} updates pruned); {} already compact",
        summary.compacted, summary.pruned_updates, summary.already_compact
    );
    if failed > 0 {
        return Err(AdminError::CompactFailed {
            failed,
            total: documents.len(),
        });
    }
    Ok(summary)
}

enum Compacted {
    Nothing,
    Snapshot {
        upto_seq: Seq,
        bytes: u64,
        pruned_updates: u64,
    },
}

async fn compact_one(store: &dyn Store, document: &DocumentId) -> Result<Compacted, AdminError> {
    let stored = store.load(document).await?;
    if stored.last_seq == Seq(0) {
        return Err(AdminError::NoSuchDocument(document.clone()));
    }
    if stored.updates.is_empty() {
        return Ok(Compacted::Nothing);
    }
    let (state, skipped) = DocState::load(
        stored
            .snapshot
            .as_ref()
            .map(|snapshot| snapshot.state.as_ref()),
        stored.updates.iter().map(|update| update.update.as_ref()),
    )?;
    // The server skips such updates when it loads the document; an explicit compaction must
    // not make that loss permanent.
    if skipped > 0 {
        return Err(AdminError::Undecodable { skipped });
    }
    let encoded = state.encode_state()?;
    // `load` checked that the log is consecutive up to last_seq: the state covers exactly that.
    let info = store
        .write_snapshot(document, stored.last_seq, Bytes::from(encoded))
        .await?;
    Ok(Compacted::Snapshot {
        upto_seq: info.upto_seq,
        bytes: info.len,
        pruned_updates: info.pruned_updates,
    })
}

/// The outcome of one doctor check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Ok,
    /// Works now, but needs attention.
    Warn,
    /// Not run, because something it needs failed.
    Skip,
    Fail,
}

impl Status {
    fn label(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Warn => "warn",
            Status::Skip => "skip",
            Status::Fail => "FAIL",
        }
    }
}

/// One line of `relais doctor`.
#[derive(Debug, Clone)]
pub struct Check {
    pub name: &'static str,
    pub status: Status,
    pub detail: String,
}

impl Check {
    fn new(name: &'static str, status: Status, detail: impl Into<String>) -> Self {
        Self {
            name,
            status,
            detail: detail.into(),
        }
    }
}

impl std::fmt::Display for Check {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:<4} {}: {}",
            self.status.label(),
            self.name,
            self.detail
        )
    }
}

/// `relais doctor`: checks the configuration, the database (reachable, migrations, clock), the
/// object store (a create-only write, read and delete of a probe object) and the bus, and
/// prints one line per check as it finishes. Returns the checks; any `Fail` means exit 1.
pub async fn doctor(config: Result<Config, ConfigError>, config_file: Option<&Path>) -> Vec<Check> {
    let mut checks = Vec::new();
    let mut report = |check: Check| {
        println!("{check}");
        checks.push(check);
    };
    let config = match config {
        Ok(config) => config,
        Err(error) => {
            report(Check::new("config", Status::Fail, error.to_string()));
            return checks;
        }
    };
    report(Check::new(
        "config",
        Status::Ok,
        match config_file {
            Some(file) => format!("{} and the flags and environment are valid", file.display()),
            None => "flags, environment and defaults are valid".to_owned(),
        },
    ));

    let database = redact_url(&config.database_url);
    let mut clock = Check::new("clock", Status::Skip, "the database did not answer");
    match tokio::time::timeout(
        CHECK_TIMEOUT,
        relais_storage::check_database(&config.database_url),
    )
    .await
    {
        Err(_) => {
            report(Check::new(
                "database",
                Status::Fail,
                format!("{database}: no answer within {CHECK_TIMEOUT:?}"),
            ));
            report(Check::new(
                "migrations",
                Status::Skip,
                "the database did not answer",
            ));
        }
        Ok(Err(error)) => {
            report(Check::new(
                "database",
                Status::Fail,
                format!("{database}: {}", error_chain(&error)),
            ));
            report(Check::new(
                "migrations",
                Status::Skip,
                "the database did not answer",
            ));
        }
        Ok(Ok(check)) => {
            report(Check::new(
                "database",
                Status::Ok,
                format!("{} at {database} answers", check.backend),
            ));
            report(match &check.schema {
                SchemaStatus::Current { .. } => {
                    Check::new("migrations", Status::Ok, check.schema.to_string())
                }
                SchemaStatus::Behind { .. } => Check::new(
                    "migrations",
                    Status::Warn,
                    format!(
                        "{}; `relais serve` applies them when it starts",
                        check.schema
                    ),
                ),
                SchemaStatus::Incompatible(_) => {
                    Check::new("migrations", Status::Fail, check.schema.to_string())
                }
            });
            clock = clock_check(check.backend, check.clock_offset_ms);
        }
    }

    let objects = redact_url(&config.object_store);
    report(
        match tokio::time::timeout(
            CHECK_TIMEOUT,
            relais_storage::check_object_store(&config.object_store),
        )
        .await
        {
            Err(_) => Check::new(
                "objects",
                Status::Fail,
                format!("{objects}: no answer within {CHECK_TIMEOUT:?}"),
            ),
            Ok(Err(error)) => Check::new(
                "objects",
                Status::Fail,
                format!("{objects}: {}", error_chain(&error)),
            ),
            Ok(Ok(())) => Check::new(
                "objects",
                Status::Ok,
                format!("{objects}: wrote, read back and deleted a probe object"),
            ),
        },
    );

    report(match &config.bus_url {
        None => Check::new("bus", Status::Ok, "none configured (single node)"),
        Some(url) => bus_check(url).await,
    });
    report(clock);
    checks
}

async fn bus_check(url: &str) -> Check {
    let shown = redact_credentials(url);
    let connect = async {
        let client = async_nats::ConnectOptions::new()
            .name("relais doctor")
            .connection_timeout(CHECK_TIMEOUT / 2)
            .connect(url)
            .await
            .map_err(|error| error_chain(&error))?;
        // A round trip, so that a server that accepts and then says nothing does not pass.
        client.flush().await.map_err(|error| error_chain(&error))?;
        Ok::<_, String>(client.server_info().version)
    };
    match tokio::time::timeout(CHECK_TIMEOUT, connect).await {
        Err(_) => Check::new(
            "bus",
            Status::Fail,
            format!("{shown}: no answer within {CHECK_TIMEOUT:?}"),
        ),
        Ok(Err(error)) => Check::new("bus", Status::Fail, format!("{shown}: {error}")),
        Ok(Ok(version)) => Check::new(
            "bus",
            Status::Ok,
            format!("{shown} answers (nats-server {version})"),
        ),
    }
}

fn clock_check(backend: &str, offset_ms: i64) -> Check {
    let seconds = offset_ms.unsigned_abs() as f64 / 1000.0;
    if backend == "sqlite" {
        return Check::new(
            "clock",
            Status::Ok,
            "the embedded database uses this machine's clock",
        );
    }
    if offset_ms.abs() <= CLOCK_TOLERANCE_MS {
        return Check::new(
            "clock",
            Status::Ok,
            format!("the database clock is within {seconds:.3} s of this machine's"),
        );
    }
    let direction = if offset_ms > 0 { "ahead of" } else { "behind" };
    Check::new(
        "clock",
        Status::Warn,
        format!(
            "the database clock is {seconds:.1} s {direction} this machine's (more than 2 s): check NTP on both"
        ),
    )
}

/// The URL with anything before `@` masked: NATS URLs may carry a token as the user name.
fn redact_credentials(url: &str) -> String {
    match (url.split_once("://"), url.rsplit_once('@')) {
        (Some((scheme, _)), Some((_, host))) => format!("{scheme}://***@{host}"),
        _ => url.to_owned(),
    }
}

/// An error and its causes on one line: `a: b: c`.
pub fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        // Transparent wrappers repeat their cause's message.
        if !text.ends_with(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// A progress bar on one stderr line, redrawn in place at most ten times a second, shown only
/// when stderr is a terminal (logs and pipes get the final summary alone).
struct ProgressLine {
    verb: &'static str,
    enabled: bool,
    /// When it was last drawn; `None` before the first time.
    drawn: Mutex<Option<Instant>>,
}

impl ProgressLine {
    fn new(verb: &'static str) -> Self {
        Self {
            verb,
            enabled: std::io::stderr().is_terminal(),
            drawn: Mutex::new(None),
        }
    }

    fn show(&self, progress: &Progress) {
        if !self.enabled {
            return;
        }
        let complete = progress.documents_done == progress.documents_total
            && progress.blobs_done == progress.blobs_total;
        let mut drawn = self
            .drawn
            .lock()
            .expect("progress lock is never poisoned: drawing does not panic");
        if let Some(last) = *drawn
            && last.elapsed() < Duration::from_millis(100)
            && !complete
        {
            return;
        }
        *drawn = Some(Instant::now());
        let mut stderr = std::io::stderr().lock();
        // Carriage return and erase-line: redraw in place.
        let _ = write!(stderr, "\r\x1b[2K{}", render(self.verb, progress));
        let _ = stderr.flush();
    }

    fn finish(&self) {
        let drawn = self
            .drawn
            .lock()
            .expect("progress lock is never poisoned: drawing does not panic");
        if drawn.is_some() {
            eprintln!();
        }
    }
}

/// `backup [############------------] 12/40 documents  3/10 blobs  1.2 MiB`
fn render(verb: &str, progress: &Progress) -> String {
    const WIDTH: u64 = 24;
    let total = progress.documents_total + progress.blobs_total;
    let done = progress.documents_done + progress.blobs_done;
    let filled = (done.min(total) * WIDTH)
        .checked_div(total)
        .unwrap_or(WIDTH);
    format!(
        "{verb} [{}{}] {}/{} documents  {}/{} blobs  {}",
        "#".repeat(filled as usize),
        "-".repeat((WIDTH - filled) as usize),
        progress.documents_done,
        progress.documents_total,
        progress.blobs_done,
        progress.blobs_total,
        human_bytes(progress.bytes_done),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_are_directories_or_urls() {
        assert_eq!(
            location_url("/var/backups/relais").unwrap(),
            "file:///var/backups/relais"
        );
        assert_eq!(
            location_url("backups/today").unwrap(),
            "file://backups/today"
        );
        assert_eq!(
            location_url("s3://bucket/relais").unwrap(),
            "s3://bucket/relais"
        );
        assert_eq!(location_url("file:///x").unwrap(), "file:///x");
        assert!(location_url("gs://bucket").is_err());
        assert!(location_url("").is_err());
    }

    #[test]
    fn refuses_backups_inside_the_object_directory() {
        let temp = std::env::temp_dir().join(format!("relais-admin-{}", std::process::id()));
        std::fs::create_dir_all(temp.join("objects")).unwrap();
        let objects = format!("file://{}/objects", temp.display());
        let inside = format!("file://{}/objects/backup/new", temp.display());
        let beside = format!("file://{}/backup", temp.display());
        assert!(refuse_location_inside_objects(&inside, &objects).is_err());
        // The same directory through a relative path and a symbolic link is still inside.
        std::os::unix::fs::symlink(temp.join("objects"), temp.join("link")).unwrap();
        let through_link = format!("file://{}/link/backup", temp.display());
        assert!(refuse_location_inside_objects(&through_link, &objects).is_err());
        refuse_location_inside_objects(&beside, &objects).unwrap();
        refuse_location_inside_objects(&beside, "s3://bucket").unwrap();
        let _ = std::fs::remove_dir_all(temp);
    }

    #[test]
    fn progress_renders_a_bar() {
        let progress = Progress {
            documents_done: 1,
            documents_total: 2,
            blobs_done: 1,
            blobs_total: 2,
            bytes_done: 2048,
        };
        assert_eq!(
            render("backup", &progress),
            "backup [############------------] 1/2 documents  1/2 blobs  2.0 KiB"
        );
        let empty = Progress::default();
        assert_eq!(
            render("restore", &empty),
            "restore [########################] 0/0 documents  0/0 blobs  0 B"
        );
    }

    #[test]
    fn clock_warns_beyond_two_seconds() {
        assert_eq!(clock_check("postgres", 1_999).status, Status::Ok);
        assert_eq!(clock_check("postgres", -1_500).status, Status::Ok);
        let ahead = clock_check("postgres", 3_200);
        assert_eq!(ahead.status, Status::Warn);
        assert!(ahead.detail.contains("3.2 s ahead of"), "{}", ahead.detail);
        assert!(clock_check("postgres", -2_500).detail.contains("behind"));
    }

    #[test]
    fn checks_print_status_name_and_detail() {
        let check = Check::new(
            "database",
            Status::Fail,
            "postgres://127.0.0.1:1/x: refused",
        );
        assert_eq!(
            check.to_string(),
            "FAIL database: postgres://127.0.0.1:1/x: refused"
        );
        assert_eq!(
            Check::new("bus", Status::Ok, "none").to_string(),
            "ok   bus: none"
        );
    }

    #[test]
    fn bus_credentials_are_masked() {
        assert_eq!(
            redact_credentials("nats://secret-token@nats:4222"),
            "nats://***@nats:4222"
        );
        assert_eq!(
            redact_credentials("nats://127.0.0.1:4222"),
            "nats://127.0.0.1:4222"
        );
    }

    #[test]
    fn human_sizes() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(5 * 1024 * 1024), "5.0 MiB");
    }

    #[test]
    fn error_chains_skip_repeated_messages() {
        let error = AdminError::from(StoreError::Config("database file x does not exist".into()));
        assert_eq!(
            error_chain(&error),
            "invalid configuration: database file x does not exist"
        );
    }
}
