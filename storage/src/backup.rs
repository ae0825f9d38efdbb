//! Backups: a consistent copy of every row and every snapshot blob to a directory or a
//! bucket, and its restore into an empty store.
//!
//! Layout of a backup location (a directory, or an `s3://` bucket and prefix):
//!
//! - `documents/{n:08}.json`: one file per document, its rows in every document table
//!   ([`ExportedDocument`]: `documents`, `document_updates` with base64 payloads,
//!   `document_snapshots`), field names as the columns;
//! - `blobs/{object key}`: every snapshot blob the rows reference, under its object key;
//! - `manifest.json`, written last: format and version, where and when the copy was taken,
//!   the tables it holds, counts, and each document file and blob with its length and sha256.
//!   A location without a manifest holds an unfinished backup.
//!
//! Rows are read in one read transaction (repeatable read on Postgres, a WAL read snapshot on
//! SQLite), so they are consistent with each other; blobs are write-once and never deleted, so
//! those the rows reference can be copied afterwards and still match.
//! A restore checks the whole backup (manifest, every document file, the presence and size of
//! every blob) before writing anything, then copies blobs before the rows that reference them,
//! checking each blob's sha256, as snapshots are written.
//!
//! Compatibility: a relais restores any backup whose `format_version` it knows and whose
//! `tables` it all knows; a table missing from an older backup restores as empty. A new table
//! keyed by document adds a field to the per-document files and its name to `tables`; other
//! tables get files of their own. Bump `format_version` only when the meaning of something
//! already written changes.

use std::collections::HashSet;
use std::sync::Arc;

use bytes::Bytes;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutPayload};
use serde::{Deserialize, Serialize};

use crate::admin::{Admin, ExportedDocument};
use crate::error::StoreError;
use crate::id::DocumentId;
use crate::objects::{self, BlobRecord, sha256_hex};
use crate::open_object_store;

/// The `format` field of every manifest.
pub const FORMAT: &str = "relais-backup";
/// The manifest version this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;
/// The tables this build backs up and restores.
const TABLES: [&str; 3] = ["documents", "document_updates", "document_snapshots"];
const MANIFEST: &str = "manifest.json";

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
    /// Snapshot blobs copied.
    pub blobs_done: u64,
    /// Snapshot blobs to copy.
    pub blobs_total: u64,
    /// Bytes of document files and blobs written so far.
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
    /// Bytes of document files and blobs.
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
    blobs: Vec<BlobEntry>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Counts {
    documents: u64,
    document_updates: u64,
    document_snapshots: u64,
    /// Bytes of document files and blobs.
    bytes: u64,
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
#[derive(Debug, Serialize, Deserialize)]
struct BlobEntry {
    key: String,
    sha256: String,
    len: u64,
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

impl Admin {
    /// Copies every row and every snapshot blob to the empty location `location_url`
    /// (`file://DIR` or `s3://BUCKET/PREFIX`), reporting progress after each document and blob.
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
        let mut state = Progress {
            documents_total: names.len() as u64,
            blobs_total: header.snapshots,
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
                let len = u64::try_from(snapshot.len).map_err(|_| {
                    StoreError::corrupt(format!("negative length of blob {}", snapshot.object_key))
                })?;
                let record = BlobRecord {
                    key: &snapshot.object_key,
                    sha256_hex: &snapshot.sha256,
                    len,
                };
                let bytes = objects::fetch_checked(self.objects().as_ref(), &record).await?;
                put_in_location(location.as_ref(), &blob_path(&snapshot.object_key)?, bytes)
                    .await?;
                blobs.push(BlobEntry {
                    key: snapshot.object_key.clone(),
                    sha256: snapshot.sha256.clone(),
                    len,
                });
                state.blobs_done += 1;
                state.bytes_done += len;
                counts.bytes += len;
                progress(&state);
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
        reader.finish().await?;
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
            bytes: counts.bytes,
        };
        let manifest = Manifest {
            format: FORMAT.to_owned(),
            format_version: FORMAT_VERSION,
            relais_version: env!("CARGO_PKG_VERSION").to_owned(),
            source_backend: self.backend_name().to_owned(),
            schema_version: crate::migrations::latest_version(),
            as_of: header.as_of,
            tables: TABLES.iter().map(|table| (*table).to_owned()).collect(),
            counts,
            documents: files,
            blobs,
        };
        let json = serde_json::to_vec_pretty(&manifest)
            .map_err(|error| StoreError::corrupt(format!("cannot encode the manifest: {error}")))?;
        // Last: its presence marks the backup complete.
        put_in_location(location.as_ref(), &Path::from(MANIFEST), Bytes::from(json)).await?;
        Ok(summary)
    }

    /// Restores the backup at `location_url` into this store, which must hold no document and
    /// no object. The whole backup is checked before anything is written.
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

        // First pass: every document file parses and hangs together, every blob is there with
        // its size, and the counts add up. A broken backup then writes nothing.
        let mut keys = HashSet::new();
        let mut counts = Counts::default();
        for entry in &manifest.documents {
            let document = read_document(location.as_ref(), entry).await?;
            for snapshot in &document.document_snapshots {
                if !keys.insert(snapshot.object_key.clone()) {
                    return Err(invalid(format!(
                        "blob {} is referenced twice",
                        snapshot.object_key
                    )));
                }
                let path = blob_path(&snapshot.object_key)?;
                match location.head(&path).await {
                    Ok(meta) if i64::try_from(meta.size).ok() == Some(snapshot.len) => {}
                    Ok(_) => return Err(invalid(format!("{path} has the wrong length"))),
                    Err(object_store::Error::NotFound { .. }) => {
                        return Err(invalid(format!("{path} is missing")));
                    }
                    Err(error) => return Err(BackupError::Location(error)),
                }
                counts.bytes += snapshot.len.unsigned_abs();
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

        // Second pass: blobs first, then the rows that reference them, document by document.
        let mut state = Progress {
            documents_total: counts.documents,
            blobs_total: counts.document_snapshots,
            ..Progress::default()
        };
        progress(&state);
        for entry in &manifest.documents {
            let document = read_document(location.as_ref(), entry).await?;
            for snapshot in &document.document_snapshots {
                let len = snapshot.len.unsigned_abs();
                let bytes = read_checked(
                    location.as_ref(),
                    &blob_path(&snapshot.object_key)?,
                    &snapshot.sha256,
                    len,
                )
                .await?;
                let key = location_path(&snapshot.object_key)?;
                match objects::put_new(self.objects().as_ref(), &key, bytes).await {
                    Ok(()) => {}
                    Err(StoreError::ObjectStore(object_store::Error::AlreadyExists { .. })) => {
                        return Err(BackupError::TargetNotEmpty(format!(
                            "object {key} appeared during the restore"
                        )));
                    }
                    Err(error) => return Err(error.into()),
                }
                state.blobs_done += 1;
                state.bytes_done += len;
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
            bytes: counts.bytes,
        })
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
        .find(|table| !TABLES.contains(&table.as_str()))
    {
        return Err(invalid(format!(
            "it holds table {table}, unknown to this relais (made by a newer version?)"
        )));
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
        if snapshot.sha256.len() != 64 || !snapshot.sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
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
