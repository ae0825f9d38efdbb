//! Backups: a consistent copy of every row and every blob a row names (snapshots, attachments,
//! versions) to a directory or a bucket, and its restore into an empty store.
//!
//! Layout of a backup location (a directory, or an `s3://` bucket and prefix):
//!
//! - `documents/{n:08}.json`: one file per document, its rows in every document table
//!   ([`ExportedDocument`]: `documents`, `document_updates` with base64 payloads,
//!   `document_snapshots`), field names as the columns;
//! - `directory/{table}/{n:08}.jsonl`: the rows of each other table, the directory's
//!   (`organisations`, `users`, `workspaces`, `workspace_members`, `document_info`,
//!   `document_members`, `invitations`, `sessions`, `api_tokens`, `access_epoch`,
//!   `audit_log`), chat's (`conversations`, `conversation_members`, `messages`,
//!   `message_mentions`, `message_reactions`, `attachments`) and the version history's
//!   (`document_freezes`, `document_versions`, `document_reviews`, `document_publications`,
//!   `document_clients`, `version_exports`), as JSON lines: one
//!   object per row, the columns as fields in the schema's order, values as stored (text,
//!   64-bit integers, booleans, `null`), rows in primary-key order (text compared byte-wise;
//!   `messages` by conversation and seq), at most 10,000 rows and about 8 MiB per file, and no
//!   file for an empty table; password and secret hashes and message bodies are copied as
//!   they are, so a backup is as sensitive as the database. Columns the database derives are
//!   left out and derived again on restore: SQLite's `messages.row_id` and its full-text
//!   index `messages_fts` (filled by the insert triggers), Postgres's generated
//!   `messages.search`;
//! - `blobs/{object key}`: every blob the rows reference, under its object key: snapshots
//!   (`documents/...`), attachments (`attachments/{conversation}/{id}`) and versions
//!   (`versions/{document}/{id}`);
//! - `manifest.json`, written last: format and version, where and when the copy was taken,
//!   the tables it holds, counts, each document file and blob with its length and sha256,
//!   and under `directory` each directory table with its row count and its files (rows,
//!   length and sha256 of each).
//!   A location without a manifest holds an unfinished backup.
//!
//! Rows are read in one read transaction (repeatable read on Postgres, a WAL read snapshot on
//! SQLite), so they are consistent with each other, directory and chat included; blobs are
//! write-once, so those the rows reference can be copied afterwards and still match. Snapshot
//! and sealed versions' blobs are never deleted; an attachment's blob is deleted with its
//! message, and an automatic version's by retention (after its row), so one may be gone by
//! the time it is copied: if its row is gone from the database too, it was deleted after the
//! read began and is left out of the backup (its message then restores without it; nothing
//! references such a version); otherwise the backup fails, as for any missing blob.
//! A restore checks the whole backup (manifest, every document and directory file against its
//! sha256, every directory row against its table's columns and key order, the object key of
//! every attachment and version, the presence and size of every blob) before writing
//! anything. It then copies the attachment and version blobs, inserts the directory, chat and
//! version rows in one transaction, tables in foreign-key order (the access epoch's row, which
//! the schema creates, is updated; sealed versions are inserted, which their triggers allow),
//! and copies snapshot blobs before the rows that reference them, document by document: every
//! blob before its row, its sha256 checked, as the server writes them. Audit entries are
//! copied value for value, so the restored journal verifies as the original did.
//!
//! Compatibility: a relais restores any backup whose `format_version` it knows and whose
//! `tables` it all knows; a table missing from an older backup restores as empty (the access
//! epoch as 0; a backup written before chat or versions were backed up restores with no
//! conversation or no version).
//! A new table keyed by document adds a field to the per-document files and its name to
//! `tables`; other tables get files of their own (as the directory tables and then the chat
//! tables and then the version tables did, without a version bump). Bump `format_version` only
//! when the meaning of something already written changes.

use std::collections::HashSet;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::StreamExt as _;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutPayload};
use serde::ser::SerializeMap as _;
use serde::{Deserialize, Serialize, Serializer};

use crate::admin::{
    ACCESS_EPOCH, Admin, BlobTable, Cell, ColumnKind, DIRECTORY_TABLES, DirectoryTable,
    ExportReader, ExportedDocument, ExportedRow, ExportedSnapshot,
};
use crate::chat::{AttachmentId, ConversationId};
use crate::error::StoreError;
use crate::id::DocumentId;
use crate::objects::{self, BlobRecord, sha256_hex};
use crate::open_object_store;
use crate::versions::{VersionId, version_path};

/// The `format` field of every manifest.
pub const FORMAT: &str = "relais-backup";
/// The manifest version this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;
/// The tables keyed by document, in the per-document files.
const DOCUMENT_TABLES: [&str; 3] = ["documents", "document_updates", "document_snapshots"];
const MANIFEST: &str = "manifest.json";
/// Rows per directory file: bounds the memory a backup or a restore holds for one file.
const ROWS_PER_DIRECTORY_FILE: u64 = 10_000;
/// Bytes after which a directory file is closed, whatever its rows: message bodies may be
/// long. A single row longer than this gets a file of its own.
const BYTES_PER_DIRECTORY_FILE: usize = 8 * 1024 * 1024;

/// Whether this build backs up and restores `table`.
pub(crate) fn is_known_table(table: &str) -> bool {
    DOCUMENT_TABLES.contains(&table) || DirectoryTable::named(table).is_some()
}

/// Why a backup or a restore stopped.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// The store being copied or restored into failed (unavailable, corrupt, wrong schema).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The backup location could not be read or written.
    #[error("cannot use the backup location")]
    Location(#[source] object_store::Error),
    /// A backup goes only into an empty location, so that it never mixes with another.
    #[error(
        "the backup location is not empty (it holds {0}): back up into a new directory or prefix"
    )]
    LocationNotEmpty(String),
    /// The location does not hold a complete backup this build can restore.
    #[error("not a usable backup: {0}")]
    Invalid(String),
    /// A restore goes only into an empty store; nothing was written.
    #[error(
        "the restore target is not empty: {0}; restore into a new database and an empty object store"
    )]
    TargetNotEmpty(String),
}

/// How far a backup or restore has gone, reported after each document and each blob.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Progress {
    /// Documents whose rows are copied.
    pub documents_done: u64,
    /// Documents to copy.
    pub documents_total: u64,
    /// Blobs copied: snapshots, attachments and versions.
    pub blobs_done: u64,
    /// Blobs to copy: snapshots, attachments and versions.
    pub blobs_total: u64,
    /// Bytes of document files, directory files and blobs written so far.
    pub bytes_done: u64,
}

/// What a backup or restore copied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BackupSummary {
    /// The database time the rows were read at, RFC 3339 UTC.
    pub as_of: String,
    /// The backend the rows were read from.
    pub source_backend: String,
    /// Rows of `documents`.
    pub documents: u64,
    /// Rows of `document_updates`.
    pub updates: u64,
    /// Rows of `document_snapshots`, one blob each.
    pub snapshots: u64,
    /// Rows of the tables not in the per-document files: the directory (accounts, access,
    /// audit journal; the access epoch's single row included), chat and version history.
    pub directory_rows: u64,
    /// Rows of `attachments`, one blob each.
    pub attachments: u64,
    /// Rows of `document_versions`, one blob each.
    pub versions: u64,
    /// Bytes of document files, directory files and blobs.
    pub bytes: u64,
}

/// `manifest.json`.
#[derive(Debug, Serialize, Deserialize)]
struct Manifest {
    format: String,
    format_version: u32,
    /// The relais version that wrote it.
    relais_version: String,
    source_backend: String,
    /// The source database's migration version.
    schema_version: i64,
    as_of: String,
    tables: Vec<String>,
    counts: Counts,
    documents: Vec<FileEntry>,
    /// One entry per table not keyed by document, in restore order; absent from backups
    /// written before the directory existed.
    #[serde(default)]
    directory: Vec<TableEntry>,
    blobs: Vec<BlobEntry>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Counts {
    documents: u64,
    document_updates: u64,
    document_snapshots: u64,
    /// Bytes of every file but the manifest: document files, directory files and blobs.
    bytes: u64,
}

/// A table not keyed by document and its files.
#[derive(Debug, Serialize, Deserialize)]
struct TableEntry {
    table: String,
    rows: u64,
    files: Vec<PartEntry>,
}

/// One file of a directory table: JSON lines, `rows` of them.
#[derive(Debug, Serialize, Deserialize)]
struct PartEntry {
    file: String,
    rows: u64,
    sha256: String,
    len: u64,
}

/// A per-document file.
#[derive(Debug, Serialize, Deserialize)]
struct FileEntry {
    id: String,
    file: String,
    sha256: String,
    len: u64,
}

/// A blob, stored at `blobs/{key}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct BlobEntry {
    key: String,
    sha256: String,
    len: u64,
}

impl BlobEntry {
    fn record(&self) -> BlobRecord<'_> {
        BlobRecord {
            key: &self.key,
            sha256_hex: &self.sha256,
            len: self.len,
        }
    }
}

/// The blob of a `document_snapshots` row; its length must not be negative.
fn snapshot_blob(snapshot: &ExportedSnapshot) -> Result<BlobEntry, String> {
    let len = u64::try_from(snapshot.len)
        .map_err(|_| format!("negative length of blob {}", snapshot.object_key))?;
    Ok(BlobEntry {
        key: snapshot.object_key.clone(),
        sha256: snapshot.sha256.clone(),
        len,
    })
}

/// The blobs of the rows of [`BlobTable`]s, each with its table, in row order.
type RowBlobs = Vec<(BlobTable, BlobEntry)>;

/// How many of `blobs` belong to `table`'s rows.
fn blob_count(blobs: &RowBlobs, table: BlobTable) -> u64 {
    blobs.iter().filter(|(owner, _)| *owner == table).count() as u64
}

/// 64 hex digits, the only sha256 rows may hold.
fn is_sha256_hex(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|byte| byte.is_ascii_hexdigit())
}

/// Opens a backup location: `file://DIR` (created if missing) or `s3://BUCKET/PREFIX`.
fn open_location(url: &str) -> Result<Arc<dyn ObjectStore>, BackupError> {
    if !(url.starts_with("file://") || url.starts_with("s3://")) {
        return Err(StoreError::Config(
            "a backup location is a directory, a file:// URL or an s3:// URL".into(),
        )
        .into());
    }
    Ok(open_object_store(url)?)
}

fn invalid(message: impl Into<String>) -> BackupError {
    BackupError::Invalid(message.into())
}

fn location_path(raw: &str) -> Result<Path, BackupError> {
    Path::parse(raw).map_err(|error| invalid(format!("invalid path {raw:?}: {error}")))
}

/// Where the blob with object key `key` lives in a backup.
fn blob_path(key: &str) -> Result<Path, BackupError> {
    let key = location_path(key)?;
    if key.as_ref().is_empty() {
        return Err(invalid("empty object key"));
    }
    location_path(&format!("blobs/{key}"))
}

async fn put_in_location(
    location: &dyn ObjectStore,
    path: &Path,
    bytes: Bytes,
) -> Result<(), BackupError> {
    location
        .put_opts(path, PutPayload::from(bytes), PutMode::Create.into())
        .await
        .map_err(BackupError::Location)?;
    Ok(())
}

/// Reads a file of the backup and checks its length and sha256.
async fn read_checked(
    location: &dyn ObjectStore,
    path: &Path,
    sha256: &str,
    len: u64,
) -> Result<Bytes, BackupError> {
    let bytes = match location.get(path).await {
        Ok(result) => result.bytes().await.map_err(BackupError::Location)?,
        Err(object_store::Error::NotFound { .. }) => {
            return Err(invalid(format!("{path} is missing")));
        }
        Err(error) => return Err(BackupError::Location(error)),
    };
    if bytes.len() as u64 != len || !sha256_hex(&bytes).eq_ignore_ascii_case(sha256) {
        return Err(invalid(format!(
            "{path} does not match its recorded length and sha256"
        )));
    }
    Ok(bytes)
}

/// Checks that the backup holds the blob `key` with `len` bytes (its sha256 is checked when it
/// is copied).
async fn check_blob(location: &dyn ObjectStore, key: &str, len: u64) -> Result<(), BackupError> {
    let path = blob_path(key)?;
    match location.head(&path).await {
        Ok(meta) if meta.size == len => Ok(()),
        Ok(_) => Err(invalid(format!("{path} has the wrong length"))),
        Err(object_store::Error::NotFound { .. }) => Err(invalid(format!("{path} is missing"))),
        Err(error) => Err(BackupError::Location(error)),
    }
}

/// Copies one blob from the backup into the store, checking its length and sha256; it must
/// not exist there yet.
async fn restore_blob(
    location: &dyn ObjectStore,
    objects: &dyn ObjectStore,
    blob: &BlobEntry,
) -> Result<(), BackupError> {
    let bytes = read_checked(location, &blob_path(&blob.key)?, &blob.sha256, blob.len).await?;
    let key = location_path(&blob.key)?;
    match objects::put_new(objects, &key, bytes).await {
        Ok(()) => Ok(()),
        Err(StoreError::ObjectStore(object_store::Error::AlreadyExists { .. })) => Err(
            BackupError::TargetNotEmpty(format!("object {key} appeared during the restore")),
        ),
        Err(error) => Err(error.into()),
    }
}

impl Admin {
    /// Copies every row and every snapshot and attachment blob to the empty location
    /// `location_url` (`file://DIR` or `s3://BUCKET/PREFIX`), reporting progress after each
    /// document, directory file and blob.
    pub async fn backup(
        &self,
        location_url: &str,
        progress: &(dyn Fn(&Progress) + Sync),
    ) -> Result<BackupSummary, BackupError> {
        let location = open_location(location_url)?;
        if let Some(key) = objects::first_object(location.as_ref())
            .await
            .map_err(BackupError::Location)?
        {
            return Err(BackupError::LocationNotEmpty(key));
        }
        let mut reader = self.export().await?;
        let header = reader.header().await?;
        let names = reader.document_names().await?;
        let row_blobs: u64 = DIRECTORY_TABLES
            .iter()
            .zip(&header.directory)
            .filter(|(table, _)| BlobTable::of(table).is_some())
            .map(|(_, rows)| *rows)
            .sum();
        let mut state = Progress {
            documents_total: names.len() as u64,
            blobs_total: header.snapshots + row_blobs,
            ..Progress::default()
        };
        progress(&state);
        let mut counts = Counts::default();
        let mut files = Vec::with_capacity(names.len());
        let mut blobs = Vec::new();
        for (index, name) in names.iter().enumerate() {
            let document = reader.document(name).await?.ok_or_else(|| {
                StoreError::corrupt(format!(
                    "document {name} vanished inside a read transaction"
                ))
            })?;
            for snapshot in &document.document_snapshots {
                let blob = snapshot_blob(snapshot).map_err(StoreError::corrupt)?;
                let bytes = objects::fetch_checked(self.objects().as_ref(), &blob.record()).await?;
                put_in_location(location.as_ref(), &blob_path(&blob.key)?, bytes).await?;
                state.blobs_done += 1;
                state.bytes_done += blob.len;
                counts.bytes += blob.len;
                progress(&state);
                blobs.push(blob);
            }
            let json = serde_json::to_vec(&document)
                .map_err(|error| StoreError::corrupt(format!("cannot encode {name}: {error}")))?;
            let file = format!("documents/{index:08}.json");
            files.push(FileEntry {
                id: document.id.clone(),
                file: file.clone(),
                sha256: sha256_hex(&json),
                len: json.len() as u64,
            });
            counts.documents += 1;
            counts.document_updates += document.document_updates.len() as u64;
            counts.document_snapshots += document.document_snapshots.len() as u64;
            counts.bytes += json.len() as u64;
            state.bytes_done += json.len() as u64;
            put_in_location(location.as_ref(), &location_path(&file)?, Bytes::from(json)).await?;
            state.documents_done += 1;
            progress(&state);
        }
        let (directory, row_blobs) = back_up_directory(
            self,
            reader.as_mut(),
            &header.directory,
            location.as_ref(),
            &mut state,
            progress,
        )
        .await?;
        reader.finish().await?;
        let directory_bytes: u64 = directory
            .iter()
            .flat_map(|entry| &entry.files)
            .map(|file| file.len)
            .sum();
        counts.bytes += directory_bytes + row_blobs.iter().map(|(_, blob)| blob.len).sum::<u64>();
        // Counted in the same transaction as the rows were read: a difference would mean the
        // read was not one consistent snapshot, and the copy must not be trusted.
        if (
            counts.documents,
            counts.document_updates,
            counts.document_snapshots,
        ) != (header.documents, header.updates, header.snapshots)
        {
            return Err(StoreError::corrupt(
                "the rows read do not add up to the counts taken in the same transaction",
            )
            .into());
        }

        let summary = BackupSummary {
            as_of: header.as_of.clone(),
            source_backend: self.backend_name().to_owned(),
            documents: counts.documents,
            updates: counts.document_updates,
            snapshots: counts.document_snapshots,
            directory_rows: directory.iter().map(|entry| entry.rows).sum(),
            attachments: blob_count(&row_blobs, BlobTable::Attachments),
            versions: blob_count(&row_blobs, BlobTable::DocumentVersions),
            bytes: counts.bytes,
        };
        blobs.extend(row_blobs.into_iter().map(|(_, blob)| blob));
        let manifest = Manifest {
            format: FORMAT.to_owned(),
            format_version: FORMAT_VERSION,
            relais_version: env!("CARGO_PKG_VERSION").to_owned(),
            source_backend: self.backend_name().to_owned(),
            schema_version: crate::migrations::latest_version(),
            as_of: header.as_of,
            tables: DOCUMENT_TABLES
                .into_iter()
                .chain(DIRECTORY_TABLES.iter().map(|table| table.name))
                .map(str::to_owned)
                .collect(),
            counts,
            documents: files,
            directory,
            blobs,
        };
        let json = serde_json::to_vec_pretty(&manifest)
            .map_err(|error| StoreError::corrupt(format!("cannot encode the manifest: {error}")))?;
        // Last: its presence marks the backup complete.
        put_in_location(location.as_ref(), &Path::from(MANIFEST), Bytes::from(json)).await?;
        Ok(summary)
    }

    /// Restores the backup at `location_url` into this store, which must hold no document, no
    /// directory, chat or version row and no object. The whole backup is checked before
    /// anything is written.
    pub async fn restore(
        &self,
        location_url: &str,
        progress: &(dyn Fn(&Progress) + Sync),
    ) -> Result<BackupSummary, BackupError> {
        let location = open_location(location_url)?;
        let manifest = read_manifest(location.as_ref()).await?;
        if let Some(what) = self.contents().await? {
            return Err(BackupError::TargetNotEmpty(what));
        }

        // First pass: every document and directory file parses and hangs together, every
        // blob is there with its size, and the counts add up. A broken backup then writes
        // nothing.
        let mut keys = HashSet::new();
        let mut note_key = |key: &str| {
            if keys.insert(key.to_owned()) {
                Ok(())
            } else {
                Err(invalid(format!("blob {key} is referenced twice")))
            }
        };
        let mut counts = Counts::default();
        let mut directory_rows = 0;
        let mut row_blobs = RowBlobs::new();
        for (table, entry) in directory_entries(&manifest) {
            row_blobs.extend(check_table(location.as_ref(), table, entry).await?);
            directory_rows += entry.rows;
            counts.bytes += entry.files.iter().map(|file| file.len).sum::<u64>();
        }
        for (_, blob) in &row_blobs {
            note_key(&blob.key)?;
            check_blob(location.as_ref(), &blob.key, blob.len).await?;
            counts.bytes += blob.len;
        }
        for entry in &manifest.documents {
            let document = read_document(location.as_ref(), entry).await?;
            for snapshot in &document.document_snapshots {
                let blob = snapshot_blob(snapshot).map_err(invalid)?;
                note_key(&blob.key)?;
                check_blob(location.as_ref(), &blob.key, blob.len).await?;
                counts.bytes += blob.len;
            }
            counts.documents += 1;
            counts.document_updates += document.document_updates.len() as u64;
            counts.document_snapshots += document.document_snapshots.len() as u64;
            counts.bytes += entry.len;
        }
        let expected = &manifest.counts;
        if (
            counts.documents,
            counts.document_updates,
            counts.document_snapshots,
        ) != (
            expected.documents,
            expected.document_updates,
            expected.document_snapshots,
        ) || keys.len() != manifest.blobs.len()
        {
            return Err(invalid(
                "the document files do not add up to the manifest's counts",
            ));
        }

        // Second pass: the attachment and version blobs, then the directory, chat and version
        // rows in one transaction (their tables reference each other, not the documents'
        // logs), then blobs first and the rows that reference them, document by document.
        let mut state = Progress {
            documents_total: counts.documents,
            blobs_total: counts.document_snapshots + row_blobs.len() as u64,
            ..Progress::default()
        };
        progress(&state);
        for (_, blob) in &row_blobs {
            restore_blob(location.as_ref(), self.objects().as_ref(), blob).await?;
            state.blobs_done += 1;
            state.bytes_done += blob.len;
            progress(&state);
        }
        let mut import = self.import_directory().await?;
        for (table, entry) in directory_entries(&manifest) {
            for file in &entry.files {
                let rows = read_directory_file(location.as_ref(), table, file).await?;
                if table.name == ACCESS_EPOCH {
                    import.set_access_epoch(access_epoch(&rows)?).await?;
                } else {
                    import.insert(table, rows).await?;
                }
                state.bytes_done += file.len;
                progress(&state);
            }
        }
        import.commit().await?;
        for entry in &manifest.documents {
            let document = read_document(location.as_ref(), entry).await?;
            for snapshot in &document.document_snapshots {
                let blob = snapshot_blob(snapshot).map_err(invalid)?;
                restore_blob(location.as_ref(), self.objects().as_ref(), &blob).await?;
                state.blobs_done += 1;
                state.bytes_done += blob.len;
                progress(&state);
            }
            if !self.import_document(&document).await? {
                return Err(BackupError::TargetNotEmpty(format!(
                    "document {} appeared during the restore",
                    document.id
                )));
            }
            state.documents_done += 1;
            state.bytes_done += entry.len;
            progress(&state);
        }
        Ok(BackupSummary {
            as_of: manifest.as_of,
            source_backend: manifest.source_backend,
            documents: counts.documents,
            updates: counts.document_updates,
            snapshots: counts.document_snapshots,
            directory_rows,
            attachments: blob_count(&row_blobs, BlobTable::Attachments),
            versions: blob_count(&row_blobs, BlobTable::DocumentVersions),
            bytes: counts.bytes,
        })
    }
}

/// Writes every directory, chat and version table, streamed from the export's read
/// transaction, into files of at most [`ROWS_PER_DIRECTORY_FILE`] rows and about
/// [`BYTES_PER_DIRECTORY_FILE`] bytes, and copies the blob of each row of a [`BlobTable`] as
/// the row goes by; `expected` are the row counts taken in the same transaction. Returns the
/// tables' entries and the rows' blobs.
async fn back_up_directory(
    admin: &Admin,
    reader: &mut dyn ExportReader,
    expected: &[u64],
    location: &dyn ObjectStore,
    state: &mut Progress,
    progress: &(dyn Fn(&Progress) + Sync),
) -> Result<(Vec<TableEntry>, RowBlobs), BackupError> {
    let mut entries = Vec::with_capacity(DIRECTORY_TABLES.len());
    let mut blobs = RowBlobs::new();
    for (table, expected) in DIRECTORY_TABLES.iter().zip(expected) {
        let mut entry = TableEntry {
            table: table.name.to_owned(),
            rows: 0,
            files: Vec::new(),
        };
        let blob_table = BlobTable::of(table);
        // Rows deleted with their blob (attachments with their message, automatic versions
        // by retention) since the read began.
        let mut left_out = 0;
        let mut rows = reader.directory_rows(table);
        let mut lines = Vec::new();
        let mut lines_rows = 0;
        loop {
            let row = rows.next().await.transpose()?;
            if let Some(row) = &row
                && let Some(blob_table) = blob_table
            {
                match back_up_row_blob(admin, blob_table, row, location).await? {
                    Some(blob) => {
                        state.blobs_done += 1;
                        state.bytes_done += blob.len;
                        blobs.push((blob_table, blob));
                    }
                    None => {
                        left_out += 1;
                        state.blobs_total -= 1;
                        progress(state);
                        continue;
                    }
                }
                progress(state);
            }
            if let Some(row) = &row {
                serde_json::to_writer(&mut lines, &RowJson { table, row }).map_err(|error| {
                    StoreError::corrupt(format!("cannot encode a row of {}: {error}", table.name))
                })?;
                lines.push(b'\n');
                lines_rows += 1;
            }
            if lines_rows == ROWS_PER_DIRECTORY_FILE
                || lines.len() >= BYTES_PER_DIRECTORY_FILE
                || (row.is_none() && lines_rows > 0)
            {
                let file = format!("directory/{}/{:08}.jsonl", table.name, entry.files.len());
                let len = lines.len() as u64;
                entry.files.push(PartEntry {
                    file: file.clone(),
                    rows: lines_rows,
                    sha256: sha256_hex(&lines),
                    len,
                });
                put_in_location(
                    location,
                    &location_path(&file)?,
                    Bytes::from(std::mem::take(&mut lines)),
                )
                .await?;
                entry.rows += lines_rows;
                lines_rows = 0;
                state.bytes_done += len;
                progress(state);
            }
            if row.is_none() {
                break;
            }
        }
        // Counted in the same transaction as the rows were read, as for documents.
        if entry.rows + left_out != *expected {
            return Err(StoreError::corrupt(format!(
                "the rows of {} read do not add up to the count taken in the same transaction",
                table.name
            ))
            .into());
        }
        entries.push(entry);
    }
    Ok((entries, blobs))
}

/// Copies the blob of a row of `blobs` into the backup, checked against the row; `None` when
/// the blob is gone and so is the row, now: it was deleted (an attachment with its message,
/// an automatic version by retention) after the read transaction began, and is left out.
async fn back_up_row_blob(
    admin: &Admin,
    blobs: BlobTable,
    row: &ExportedRow,
    location: &dyn ObjectStore,
) -> Result<Option<BlobEntry>, BackupError> {
    let (id, blob) = row_blob(blobs, row)
        .map_err(|reason| StoreError::corrupt(format!("a {} row: {reason}", blobs.name())))?;
    let bytes = match objects::fetch_checked(admin.objects().as_ref(), &blob.record()).await {
        Ok(bytes) => bytes,
        Err(error) => {
            if !row_exists(admin, blobs, &id).await? {
                tracing::info!(
                    table = blobs.name(),
                    id = %id,
                    "row deleted with its blob during the backup, left out"
                );
                return Ok(None);
            }
            return Err(error.into());
        }
    };
    put_in_location(location, &blob_path(&blob.key)?, bytes).await?;
    Ok(Some(blob))
}

/// Whether the row of `blobs` with this `id` exists now, outside the backup's read
/// transaction.
async fn row_exists(admin: &Admin, blobs: BlobTable, id: &str) -> Result<bool, StoreError> {
    Ok(match blobs {
        BlobTable::Attachments => admin
            .chat()
            .attachment(&AttachmentId::from_db(id.to_owned()))
            .await?
            .is_some(),
        BlobTable::DocumentVersions => admin
            .versions()
            .version_by_id(&VersionId::from_db(id.to_owned()))
            .await?
            .is_some(),
    })
}

/// The blob a row of `blobs` names, with the row's id. Its key must be where the store keeps
/// that row's blob (`attachments/{conversation_id}/{id}`, `versions/{document_id}/{id}`), so
/// that a backup cannot place an object anywhere else nor give a row another's blob; its
/// sha256 must be 64 hex digits and its length not negative. Values are not echoed.
fn row_blob(blobs: BlobTable, row: &ExportedRow) -> Result<(String, BlobEntry), String> {
    let table = blobs.table();
    let cell = |name: &str| {
        table
            .position(name)
            .and_then(|position| row.0.get(position))
            .ok_or_else(|| format!("no {name}"))
    };
    let text = |name: &str| match cell(name)? {
        Cell::Text(text) => Ok(text.clone()),
        _ => Err(format!("{name} is not text")),
    };
    let id = text("id")?;
    let (expected, pattern) = match blobs {
        BlobTable::Attachments => (
            crate::chat_sql::attachment_path(
                &ConversationId::from_db(text("conversation_id")?),
                &AttachmentId::from_db(id.clone()),
            ),
            "attachments/{conversation_id}/{id}",
        ),
        BlobTable::DocumentVersions => {
            let document = DocumentId::parse(&text("document_id")?)
                .map_err(|_| "document_id is not a valid document name".to_owned())?;
            (
                version_path(&document, &VersionId::from_db(id.clone())),
                "versions/{document_id}/{id}",
            )
        }
    };
    let key = text("object_key")?;
    if key != expected.as_ref() {
        return Err(format!("object_key is not {pattern}"));
    }
    let sha256 = text("sha256")?;
    if !is_sha256_hex(&sha256) {
        return Err("sha256 is not 64 hex digits".into());
    }
    let len = match cell("len")? {
        Cell::Integer(len) => u64::try_from(*len).map_err(|_| "negative len".to_owned())?,
        _ => return Err("len is not an integer".into()),
    };
    Ok((id, BlobEntry { key, sha256, len }))
}

/// The manifest's directory entries with their tables, in restore (foreign-key) order.
/// [`read_manifest`] has checked that every entry names a distinct known table.
fn directory_entries(manifest: &Manifest) -> Vec<(&'static DirectoryTable, &TableEntry)> {
    DIRECTORY_TABLES
        .iter()
        .filter_map(|table| {
            manifest
                .directory
                .iter()
                .find(|entry| entry.table == table.name)
                .map(|entry| (table, entry))
        })
        .collect()
}

/// Reads every file of a directory, chat or version table: each matches its sha256 and row
/// count, each row its columns, and primary keys strictly ascend across the files (so none
/// is repeated). Returns the blobs of the rows of a [`BlobTable`] (none for other tables).
async fn check_table(
    location: &dyn ObjectStore,
    table: &'static DirectoryTable,
    entry: &TableEntry,
) -> Result<RowBlobs, BackupError> {
    let keys = table.key_positions();
    let blob_table = BlobTable::of(table);
    let mut previous: Option<Vec<Cell>> = None;
    let mut rows_seen = 0;
    let mut blobs = RowBlobs::new();
    for file in &entry.files {
        let rows = read_directory_file(location, table, file).await?;
        if table.name == ACCESS_EPOCH {
            access_epoch(&rows)?;
        }
        for (index, row) in rows.iter().enumerate() {
            if let Some(blob_table) = blob_table {
                let (_, blob) = row_blob(blob_table, row).map_err(|reason| {
                    invalid(format!("{}: line {}: {reason}", file.file, index + 1))
                })?;
                blobs.push((blob_table, blob));
            }
            let key: Vec<Cell> = keys
                .iter()
                .map(|&position| row.0[position].clone())
                .collect();
            if previous.as_ref().is_some_and(|previous| *previous >= key) {
                return Err(invalid(format!(
                    "{}: rows out of primary-key order or repeated",
                    file.file
                )));
            }
            previous = Some(key);
        }
        rows_seen += rows.len() as u64;
    }
    if rows_seen != entry.rows {
        return Err(invalid(format!(
            "the files of {} do not add up to its {} rows",
            table.name, entry.rows
        )));
    }
    Ok(blobs)
}

/// Reads, checks and parses one directory file.
async fn read_directory_file(
    location: &dyn ObjectStore,
    table: &'static DirectoryTable,
    file: &PartEntry,
) -> Result<Vec<ExportedRow>, BackupError> {
    let path = location_path(&file.file)?;
    let bytes = read_checked(location, &path, &file.sha256, file.len).await?;
    let rows = parse_directory_file(table, &bytes)
        .map_err(|reason| invalid(format!("{path}: {reason}")))?;
    if rows.len() as u64 != file.rows {
        return Err(invalid(format!(
            "{path} holds {} rows, the manifest says {}",
            rows.len(),
            file.rows
        )));
    }
    Ok(rows)
}

/// The rows of a directory file: JSON lines, each ending with a newline.
fn parse_directory_file(table: &DirectoryTable, bytes: &[u8]) -> Result<Vec<ExportedRow>, String> {
    let Some(body) = bytes.strip_suffix(b"\n") else {
        return Err("empty, or its last line does not end".into());
    };
    body.split(|&byte| byte == b'\n')
        .enumerate()
        .map(|(index, line)| {
            parse_row(table, line).map_err(|reason| format!("line {}: {reason}", index + 1))
        })
        .collect()
}

/// One row of `table` from its JSON object: every column present with a value of its type
/// (`null` only where the column allows it), no other field. Values are never echoed: they
/// may be password or secret hashes.
fn parse_row(table: &DirectoryTable, line: &[u8]) -> Result<ExportedRow, String> {
    let mut object: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(line).map_err(|error| format!("not a JSON object: {error}"))?;
    let mut cells = Vec::with_capacity(table.columns.len());
    for column in table.columns {
        let value = object
            .remove(column.name)
            .ok_or_else(|| format!("no {} field", column.name))?;
        let cell = match (column.kind, value) {
            (_, serde_json::Value::Null) if column.nullable => Some(Cell::Null),
            (ColumnKind::Text, serde_json::Value::String(text)) => Some(Cell::Text(text)),
            (ColumnKind::Integer, serde_json::Value::Number(number)) => {
                number.as_i64().map(Cell::Integer)
            }
            (ColumnKind::Boolean, serde_json::Value::Bool(flag)) => Some(Cell::Boolean(flag)),
            _ => None,
        };
        let cell = cell.ok_or_else(|| {
            let expected = match column.kind {
                ColumnKind::Text => "text",
                ColumnKind::Integer => "a 64-bit integer",
                ColumnKind::Boolean => "a boolean",
            };
            let null = if column.nullable { " or null" } else { "" };
            format!("{} is not {expected}{null}", column.name)
        })?;
        cells.push(cell);
    }
    if let Some(field) = object.keys().next() {
        return Err(format!(
            "field {field} is not a column of {} (made by a newer version?)",
            table.name
        ));
    }
    Ok(ExportedRow(cells))
}

/// The epoch of the access epoch's rows: exactly one, with id 1.
fn access_epoch(rows: &[ExportedRow]) -> Result<i64, BackupError> {
    match rows {
        [ExportedRow(cells)] => match cells.as_slice() {
            [Cell::Integer(1), Cell::Integer(epoch)] => Ok(*epoch),
            _ => Err(invalid("the access_epoch row is not id 1")),
        },
        _ => Err(invalid("access_epoch holds other than one row")),
    }
}

/// A directory row as its JSON object: the columns as fields, in the table's order.
struct RowJson<'a> {
    table: &'a DirectoryTable,
    row: &'a ExportedRow,
}

impl Serialize for RowJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.table.columns.len()))?;
        for (column, cell) in self.table.columns.iter().zip(&self.row.0) {
            match cell {
                Cell::Null => map.serialize_entry(column.name, &())?,
                Cell::Boolean(flag) => map.serialize_entry(column.name, flag)?,
                Cell::Integer(integer) => map.serialize_entry(column.name, integer)?,
                Cell::Text(text) => map.serialize_entry(column.name, text)?,
            }
        }
        map.end()
    }
}

async fn read_manifest(location: &dyn ObjectStore) -> Result<Manifest, BackupError> {
    let bytes = match location.get(&Path::from(MANIFEST)).await {
        Ok(result) => result.bytes().await.map_err(BackupError::Location)?,
        Err(object_store::Error::NotFound { .. }) => {
            return Err(invalid(
                "no manifest.json (not a backup, or one that did not finish)",
            ));
        }
        Err(error) => return Err(BackupError::Location(error)),
    };
    let manifest: Manifest = serde_json::from_slice(&bytes)
        .map_err(|error| invalid(format!("manifest.json: {error}")))?;
    if manifest.format != FORMAT {
        return Err(invalid(format!(
            "manifest.json is of format {:?}, not {FORMAT:?}",
            manifest.format
        )));
    }
    if manifest.format_version != FORMAT_VERSION {
        return Err(invalid(format!(
            "format version {} is not supported by this relais (it reads version {FORMAT_VERSION})",
            manifest.format_version
        )));
    }
    if let Some(table) = manifest
        .tables
        .iter()
        .chain(manifest.directory.iter().map(|entry| &entry.table))
        .find(|table| !is_known_table(table))
    {
        return Err(invalid(format!(
            "it holds table {table}, unknown to this relais (made by a newer version?)"
        )));
    }
    // Each directory table in `tables` has exactly one entry of files, and no other has any.
    let mut listed: Vec<&str> = manifest
        .tables
        .iter()
        .map(String::as_str)
        .filter(|table| DirectoryTable::named(table).is_some())
        .collect();
    let mut entries: Vec<&str> = manifest
        .directory
        .iter()
        .map(|entry| entry.table.as_str())
        .collect();
    listed.sort_unstable();
    listed.dedup();
    entries.sort_unstable();
    if listed != entries {
        return Err(invalid(
            "the directory files do not match the manifest's tables",
        ));
    }
    Ok(manifest)
}

/// Reads, checks and parses one per-document file.
async fn read_document(
    location: &dyn ObjectStore,
    entry: &FileEntry,
) -> Result<ExportedDocument, BackupError> {
    let path = location_path(&entry.file)?;
    let bytes = read_checked(location, &path, &entry.sha256, entry.len).await?;
    let document: ExportedDocument =
        serde_json::from_slice(&bytes).map_err(|error| invalid(format!("{path}: {error}")))?;
    check_document(&document, &entry.id).map_err(|reason| invalid(format!("{path}: {reason}")))?;
    Ok(document)
}

/// The rows of one document can be inserted without breaking what the store guarantees:
/// a valid name, seqs inside the log, well-formed checksums and timestamps.
fn check_document(document: &ExportedDocument, expected_id: &str) -> Result<(), String> {
    DocumentId::parse(&document.id).map_err(|error| error.to_string())?;
    if document.id != expected_id {
        return Err(format!(
            "holds document {:?}, the manifest says {expected_id:?}",
            document.id
        ));
    }
    let last_seq = document.last_seq;
    if last_seq < 0 {
        return Err("negative last_seq".into());
    }
    check_timestamp(&document.created_at)?;
    let mut previous = 0;
    for update in &document.document_updates {
        if update.seq <= previous || update.seq > last_seq {
            return Err(format!(
                "update seq {} is out of order or past last_seq {last_seq}",
                update.seq
            ));
        }
        previous = update.seq;
        check_timestamp(&update.created_at)?;
    }
    let mut previous = 0;
    for snapshot in &document.document_snapshots {
        if snapshot.upto_seq <= previous || snapshot.upto_seq > last_seq {
            return Err(format!(
                "snapshot at seq {} is out of order or past last_seq {last_seq}",
                snapshot.upto_seq
            ));
        }
        previous = snapshot.upto_seq;
        if snapshot.len < 0 {
            return Err("negative blob length".into());
        }
        if !is_sha256_hex(&snapshot.sha256) {
            return Err(format!("invalid sha256 for blob {}", snapshot.object_key));
        }
        check_timestamp(&snapshot.created_at)?;
    }
    Ok(())
}

/// `YYYY-MM-DDTHH:MM:SS[.fraction]Z`, the only form backups carry.
fn check_timestamp(text: &str) -> Result<(), String> {
    let bytes = text.as_bytes();
    let digits = |range: std::ops::Range<usize>| {
        bytes
            .get(range)
            .is_some_and(|part| part.iter().all(u8::is_ascii_digit))
    };
    let well_formed = bytes.len() >= 20
        && digits(0..4)
        && bytes[4] == b'-'
        && digits(5..7)
        && bytes[7] == b'-'
        && digits(8..10)
        && bytes[10] == b'T'
        && digits(11..13)
        && bytes[13] == b':'
        && digits(14..16)
        && bytes[16] == b':'
        && digits(17..19)
        && bytes[bytes.len() - 1] == b'Z'
        && (bytes.len() == 20
            || (bytes.len() > 21 && bytes[19] == b'.' && digits(20..bytes.len() - 1)));
    if well_formed {
        Ok(())
    } else {
        Err(format!("invalid timestamp {text:?}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admin::{ExportedSnapshot, ExportedUpdate};

    fn document() -> ExportedDocument {
        ExportedDocument {
            id: "notes".into(),
            last_seq: 3,
            created_at: "2026-03-03T10:00:00.123Z".into(),
            document_updates: vec![ExportedUpdate {
                seq: 3,
                update_bytes: vec![1],
                created_at: "2026-03-03T10:00:00.123456Z".into(),
            }],
            document_snapshots: vec![ExportedSnapshot {
                upto_seq: 2,
                object_key: "documents/notes/snapshots/x.ydoc".into(),
                sha256: "0".repeat(64),
                len: 1,
                created_at: "2026-03-03T10:00:00Z".into(),
            }],
        }
    }

    #[test]
    fn accepts_well_formed_rows() {
        check_document(&document(), "notes").unwrap();
    }

    #[test]
    fn refuses_rows_that_would_break_the_store() {
        let mut wrong_id = document();
        wrong_id.id = "other".into();
        assert!(check_document(&wrong_id, "notes").is_err());
        let mut bad_name = document();
        bad_name.id = "../etc".into();
        assert!(check_document(&bad_name, "../etc").is_err());
        let mut past_log = document();
        past_log.document_updates[0].seq = 4;
        assert!(check_document(&past_log, "notes").is_err());
        let mut snapshot_past_log = document();
        snapshot_past_log.document_snapshots[0].upto_seq = 4;
        assert!(check_document(&snapshot_past_log, "notes").is_err());
        let mut bad_sha = document();
        bad_sha.document_snapshots[0].sha256 = "zz".into();
        assert!(check_document(&bad_sha, "notes").is_err());
        let mut bad_time = document();
        bad_time.created_at = "yesterday".into();
        assert!(check_document(&bad_time, "notes").is_err());
    }

    #[test]
    fn timestamps_are_rfc3339_utc() {
        for good in [
            "2026-03-03T10:00:00Z",
            "2026-03-03T10:00:00.1Z",
            "2026-03-03T10:00:00.123456Z",
        ] {
            assert!(check_timestamp(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "2026-03-03 10:00:00Z",
            "2026-03-03T10:00:00",
            "2026-03-03T10:00:00.Z",
            "2026-03-03T10:00:00+01:00",
        ] {
            assert!(check_timestamp(bad).is_err(), "{bad}");
        }
    }

    fn users() -> &'static DirectoryTable {
        DirectoryTable::named("users").unwrap()
    }

    fn user_row() -> ExportedRow {
        ExportedRow(vec![
            Cell::Text("7d0c1f4e-0000-4000-8000-000000000001".into()),
            Cell::Text("anne@example.org".into()),
            Cell::Text("Anne \"Nane\" Müller\n".into()),
            Cell::Text("staff".into()),
            Cell::Null,
            Cell::Boolean(true),
            Cell::Text("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into()),
            Cell::Null,
            Cell::Null,
            Cell::Integer(1_700_000_000_123),
            Cell::Null,
        ])
    }

    fn encode(table: &DirectoryTable, rows: &[ExportedRow]) -> Vec<u8> {
        let mut lines = Vec::new();
        for row in rows {
            serde_json::to_writer(&mut lines, &RowJson { table, row }).unwrap();
            lines.push(b'\n');
        }
        lines
    }

    #[test]
    fn directory_rows_are_json_lines_with_the_columns_in_order() {
        let row = user_row();
        let lines = encode(users(), std::slice::from_ref(&row));
        let text = String::from_utf8(lines.clone()).unwrap();
        assert!(
            text.starts_with(r#"{"id":"7d0c1f4e-0000-4000-8000-000000000001","email":"anne@example.org","display_name":"Anne \"Nane\" Müller\n","kind":"staff","organisation_id":null,"is_admin":true,"#),
            "{text}"
        );
        assert!(text.ends_with("\"disabled_at_ms\":null}\n"), "{text}");
        assert_eq!(text.lines().count(), 1, "a newline in a value is escaped");
        assert_eq!(parse_directory_file(users(), &lines).unwrap(), vec![row]);
    }

    #[test]
    fn directory_rows_must_fit_their_columns() {
        let line = String::from_utf8(encode(users(), &[user_row()])).unwrap();
        let line = line.trim_end();
        let refused = |changed: String| {
            let error = parse_row(users(), changed.as_bytes()).unwrap_err();
            assert!(
                !error.contains("argon2id"),
                "values are never echoed: {error}"
            );
            error
        };
        // A NULL where the column allows none, a value of the wrong type, a missing column,
        // an unknown one.
        assert!(refused(line.replace(r#""kind":"staff""#, r#""kind":null"#)).contains("kind"));
        assert!(
            refused(line.replace(r#""is_admin":true"#, r#""is_admin":1"#)).contains("is_admin")
        );
        assert!(refused(line.replace("1700000000123", "1.5")).contains("created_at_ms"));
        assert!(
            refused(line.replace(r#""password_hash""#, r#""password""#)).contains("password_hash")
        );
        assert!(refused(line.replacen('{', r#"{"totp_secret":"x","#, 1)).contains("newer version"));
        assert!(refused("[1, 2]".into()).contains("not a JSON object"));
        // Files end with a newline and hold no blank line.
        let lines = encode(users(), &[user_row()]);
        assert!(parse_directory_file(users(), &lines[..lines.len() - 1]).is_err());
        assert!(parse_directory_file(users(), b"").is_err());
        let mut blank = lines.clone();
        blank.push(b'\n');
        assert!(parse_directory_file(users(), &blank).is_err());
    }

    #[test]
    fn the_access_epoch_is_one_row_with_id_one() {
        let row = |id, epoch| ExportedRow(vec![Cell::Integer(id), Cell::Integer(epoch)]);
        assert_eq!(access_epoch(&[row(1, 42)]).unwrap(), 42);
        assert!(access_epoch(&[row(2, 42)]).is_err());
        assert!(access_epoch(&[row(1, 1), row(1, 2)]).is_err());
        assert!(access_epoch(&[]).is_err());
    }

    #[test]
    fn every_table_is_known_and_directory_tables_come_after_what_they_reference() {
        for table in DOCUMENT_TABLES {
            assert!(is_known_table(table));
        }
        assert!(!is_known_table("document_comments"));
        let names: Vec<&str> = DIRECTORY_TABLES.iter().map(|table| table.name).collect();
        let position = |name: &str| names.iter().position(|other| *other == name).unwrap();
        for (table, referenced) in [
            ("users", "organisations"),
            ("workspaces", "organisations"),
            ("workspace_members", "workspaces"),
            ("workspace_members", "users"),
            ("document_info", "workspaces"),
            ("document_info", "users"),
            ("document_members", "document_info"),
            ("invitations", "document_info"),
            ("invitations", "users"),
            ("sessions", "users"),
            ("api_tokens", "users"),
            ("conversations", "workspaces"),
            ("conversations", "document_info"),
            ("conversations", "users"),
            ("conversation_members", "conversations"),
            ("conversation_members", "users"),
            ("messages", "conversations"),
            ("messages", "users"),
            ("message_mentions", "messages"),
            ("message_mentions", "users"),
            ("message_reactions", "messages"),
            ("message_reactions", "users"),
            ("attachments", "conversations"),
            ("attachments", "users"),
            ("attachments", "messages"),
            ("document_reviews", "document_versions"),
            ("document_publications", "document_versions"),
            ("version_exports", "document_versions"),
        ] {
            assert!(
                position(referenced) < position(table),
                "{table} -> {referenced}"
            );
        }
        for table in DIRECTORY_TABLES {
            assert!(is_known_table(table.name));
            assert!(!table.key_positions().is_empty());
            // Multi-row inserts bind at most 6,000 values, at least one row's.
            let rows = crate::common::directory_rows_per_insert(table);
            assert!(
                rows >= 1 && rows * table.columns.len() <= 6_000,
                "{}",
                table.name
            );
        }
        // The tables whose rows name a blob are backed up, with the columns naming it.
        for blobs in BlobTable::ALL {
            let table = blobs.table();
            assert_eq!(BlobTable::of(table), Some(blobs));
            for column in ["id", "object_key", "sha256", "len"] {
                assert!(table.position(column).is_some(), "{}.{column}", table.name);
            }
        }
        assert_eq!(crate::common::directory_rows_per_insert(users()), 545);
        // Derived columns are neither backed up nor restored.
        let messages = DirectoryTable::named("messages").unwrap();
        assert!(messages.position("row_id").is_none() && messages.position("search").is_none());
    }

    fn attachment_row(key: &str, sha256: &str, len: i64) -> ExportedRow {
        ExportedRow(vec![
            Cell::Text("a1".into()),
            Cell::Text("c1".into()),
            Cell::Text("u1".into()),
            Cell::Text("plan.pdf".into()),
            Cell::Text("application/pdf".into()),
            Cell::Integer(len),
            Cell::Text(sha256.into()),
            Cell::Text(key.into()),
            Cell::Integer(1_700_000_000_000),
            Cell::Null,
        ])
    }

    #[test]
    fn attachment_blobs_are_where_chat_keeps_them() {
        let sha256 = "ab".repeat(32);
        let (id, blob) = row_blob(
            BlobTable::Attachments,
            &attachment_row("attachments/c1/a1", &sha256, 3),
        )
        .unwrap();
        assert_eq!(id, "a1");
        assert_eq!(
            blob,
            BlobEntry {
                key: "attachments/c1/a1".into(),
                sha256: sha256.clone(),
                len: 3
            }
        );
        assert_eq!(
            blob_path(&blob.key).unwrap().as_ref(),
            "blobs/attachments/c1/a1"
        );
        // Elsewhere in the store, under another attachment, with a bad checksum or length.
        for (key, sha256, len) in [
            ("documents/notes/snapshots/1.ydoc", sha256.as_str(), 3),
            ("versions/notes/a1", sha256.as_str(), 3),
            ("attachments/c1/a2", sha256.as_str(), 3),
            ("attachments/c1/a1", "zz", 3),
            ("attachments/c1/a1", sha256.as_str(), -1),
        ] {
            assert!(
                row_blob(BlobTable::Attachments, &attachment_row(key, sha256, len)).is_err(),
                "{key} {sha256} {len}"
            );
        }
    }

    fn version_row(document: &str, key: &str, sha256: &str, len: i64) -> ExportedRow {
        ExportedRow(vec![
            Cell::Text("v1".into()),
            Cell::Text(document.into()),
            Cell::Integer(1),
            Cell::Text("submitted".into()),
            Cell::Null,
            Cell::Integer(1_700_000_000_000),
            Cell::Text("user:u1".into()),
            Cell::Text("[\"u1\"]".into()),
            Cell::Integer(3),
            Cell::Text(key.into()),
            Cell::Text(sha256.into()),
            Cell::Integer(len),
            Cell::Integer(1_700_000_000_001),
            Cell::Text("user:u2".into()),
            Cell::Text("ok".into()),
        ])
    }

    #[test]
    fn version_blobs_are_where_versions_keep_them() {
        let sha256 = "cd".repeat(32);
        let row = version_row(
            "PLU/2027 réunion",
            "versions/PLU/2027 réunion/v1",
            &sha256,
            7,
        );
        // The key as the store writes it: the document name is one segment, encoded.
        let expected = version_path(
            &DocumentId::parse("PLU/2027 réunion").unwrap(),
            &VersionId::from_db("v1".into()),
        );
        assert!(row_blob(BlobTable::DocumentVersions, &row).is_err());
        let row = version_row("PLU/2027 réunion", expected.as_ref(), &sha256, 7);
        let (id, blob) = row_blob(BlobTable::DocumentVersions, &row).unwrap();
        assert_eq!(id, "v1");
        assert_eq!(
            blob,
            BlobEntry {
                key: expected.as_ref().into(),
                sha256: sha256.clone(),
                len: 7
            }
        );
        // Another document's or version's blob, an attachment's, a snapshot's, an invalid
        // document name, a bad checksum or length.
        for (document, key, sha256, len) in [
            ("notes", "versions/other/v1", sha256.as_str(), 7),
            ("notes", "versions/notes/v2", sha256.as_str(), 7),
            ("notes", "attachments/notes/v1", sha256.as_str(), 7),
            (
                "notes",
                "documents/notes/snapshots/1.ydoc",
                sha256.as_str(),
                7,
            ),
            ("../notes", "versions/../notes/v1", sha256.as_str(), 7),
            ("notes", "versions/notes/v1", "zz", 7),
            ("notes", "versions/notes/v1", sha256.as_str(), -1),
        ] {
            assert!(
                row_blob(
                    BlobTable::DocumentVersions,
                    &version_row(document, key, sha256, len)
                )
                .is_err(),
                "{document} {key} {sha256} {len}"
            );
        }
        let plain = version_row("notes", "versions/notes/v1", &sha256, 7);
        assert_eq!(
            row_blob(BlobTable::DocumentVersions, &plain).unwrap().1.key,
            "versions/notes/v1"
        );
    }

    #[test]
    fn blobs_live_under_their_key() {
        assert_eq!(
            blob_path("documents/a~b/snapshots/1.ydoc")
                .unwrap()
                .as_ref(),
            "blobs/documents/a~b/snapshots/1.ydoc"
        );
        assert!(blob_path("").is_err());
    }
}
