//! Administration: the handle the `relais` maintenance commands use (list documents, back up,
//! restore, compact through [`Admin::store`]) and the health checks of `relais doctor`.
//!
//! Nothing here deletes an object: compaction writes snapshots through the [`Store`], the
//! doctor's probe deletes only its own object under `doctor/`, and there is no sweep of
//! unreferenced blobs (a version's blob under `versions/` is deleted only by
//! [`Versions::apply_retention`], after its row, and never a sealed version's).
//!
//! The server's rooms never see any of this: they only get a [`Store`].
//! Rows cross this module as the databases hold them (text ids, signed seqs, timestamps as
//! RFC 3339 text), so that a backup copies them faithfully and a restore can check them before
//! writing; Yjs bytes stay opaque as everywhere in this crate.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::stream::BoxStream;
use object_store::ObjectStore;
use serde::{Deserialize, Serialize};

use crate::chat::Chat;
use crate::directory::Directory;
use crate::error::StoreError;
use crate::id::DocumentId;
use crate::migrations::SchemaStatus;
use crate::objects;
use crate::postgres::PostgresStore;
use crate::sqlite::SqliteStore;
use crate::store::Store;
use crate::versions::Versions;
use crate::{StorageConfig, open_object_store};

/// What opening a store does with the database schema.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Migrations {
    /// Create or update the schema, as the server does at startup.
    Apply,
    /// Create the schema in a database that has none (creating a SQLite file if missing), but
    /// refuse with [`StoreError::Schema`], without changing anything, a database that already
    /// has a schema of another version: for restoring into a new database, where migrating a
    /// database in use by mistake must not happen.
    Create,
    /// Leave the schema alone and refuse with [`StoreError::Schema`] unless it is exactly the
    /// one this build expects; a SQLite file must already exist. For commands that read or
    /// change existing data: they must neither migrate a database under running servers of
    /// another version nor create an empty one by mistake.
    Require,
}

/// Which database a URL names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// The backend of a database URL; anything but `sqlite:`/`postgres:`/`postgresql:` is
    /// [`StoreError::Config`] naming the scheme only (the URL may hold a password).
    pub(crate) fn of(url: &str) -> Result<Self, StoreError> {
        let scheme = url.split_once(':').map_or("", |(scheme, _)| scheme);
        match scheme {
            "sqlite" => Ok(Self::Sqlite),
            "postgres" | "postgresql" => Ok(Self::Postgres),
            _ => Err(StoreError::Config(format!(
                "unsupported database URL scheme {scheme:?}: use sqlite:// or postgres://"
            ))),
        }
    }
}

enum Opened {
    Sqlite(SqliteStore),
    Postgres(PostgresStore),
}

/// A store opened for maintenance: everything a [`Store`] does, plus listing documents,
/// [`Admin::backup`] and [`Admin::restore`].
pub struct Admin {
    opened: Opened,
}

impl std::fmt::Debug for Admin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Admin")
            .field("backend", &self.backend_name())
            .finish_non_exhaustive()
    }
}

impl Admin {
    /// Opens the database and the object store of `config`, migrating the schema or requiring
    /// it to be current as `migrations` says.
    pub async fn open(config: &StorageConfig, migrations: Migrations) -> Result<Self, StoreError> {
        let objects = open_object_store(&config.object_store_url)?;
        let url = config.database_url.as_str();
        let opened = match Backend::of(url)? {
            Backend::Sqlite => Opened::Sqlite(
                SqliteStore::open(url, objects, config.max_connections, migrations).await?,
            ),
            Backend::Postgres => Opened::Postgres(
                PostgresStore::open(url, objects, config.max_connections, migrations).await?,
            ),
        };
        Ok(Self { opened })
    }

    /// The store itself, for loading documents and writing snapshots.
    pub fn store(&self) -> &dyn Store {
        match &self.opened {
            Opened::Sqlite(store) => store,
            Opened::Postgres(store) => store,
        }
    }

    /// `"sqlite"` or `"postgres"`.
    pub fn backend_name(&self) -> &'static str {
        self.store().backend_name()
    }

    /// Every document the database knows, by name.
    pub async fn list_documents(&self) -> Result<Vec<DocumentId>, StoreError> {
        let names = match &self.opened {
            Opened::Sqlite(store) => store.document_names().await?,
            Opened::Postgres(store) => store.document_names().await?,
        };
        names
            .iter()
            .map(|name| {
                DocumentId::parse(name).map_err(|error| {
                    StoreError::corrupt(format!(
                        "the database holds an invalid document name: {error}"
                    ))
                })
            })
            .collect()
    }

    /// The directory of the same store: accounts, access and the audit journal.
    pub fn directory(&self) -> &dyn Directory {
        match &self.opened {
            Opened::Sqlite(store) => store,
            Opened::Postgres(store) => store,
        }
    }

    /// The chat of the same store: conversations, messages and attachments.
    pub fn chat(&self) -> &dyn Chat {
        match &self.opened {
            Opened::Sqlite(store) => store,
            Opened::Postgres(store) => store,
        }
    }

    /// The version history of the same store: versions, reviews and publications.
    pub fn versions(&self) -> &dyn Versions {
        match &self.opened {
            Opened::Sqlite(store) => store,
            Opened::Postgres(store) => store,
        }
    }

    /// What makes this store not empty, or `None` when it holds no document, no row of the
    /// other tables (directory, chat and versions; the access epoch's single row aside) and
    /// no object.
    pub async fn contents(&self) -> Result<Option<String>, StoreError> {
        let documents = match &self.opened {
            Opened::Sqlite(store) => store.document_count().await?,
            Opened::Postgres(store) => store.document_count().await?,
        };
        if documents > 0 {
            return Ok(Some(format!("the database holds {documents} documents")));
        }
        let counts = match &self.opened {
            Opened::Sqlite(store) => store.directory_counts().await?,
            Opened::Postgres(store) => store.directory_counts().await?,
        };
        let held: Vec<String> = DIRECTORY_TABLES
            .iter()
            .zip(counts)
            .filter(|(table, rows)| table.name != ACCESS_EPOCH && *rows > 0)
            .map(|(table, rows)| format!("{rows} in {}", table.name))
            .collect();
        if !held.is_empty() {
            return Ok(Some(format!(
                "the database holds directory, chat or version rows ({})",
                held.join(", ")
            )));
        }
        let first = objects::first_object(self.objects().as_ref())
            .await
            .map_err(StoreError::ObjectStore)?;
        Ok(first.map(|key| format!("the object store holds objects (for example {key})")))
    }

    /// Closes the connection pools.
    pub async fn close(&self) {
        self.store().close().await;
    }

    pub(crate) fn objects(&self) -> &Arc<dyn ObjectStore> {
        match &self.opened {
            Opened::Sqlite(store) => store.objects(),
            Opened::Postgres(store) => store.objects(),
        }
    }

    /// Starts one consistent read of every row.
    pub(crate) async fn export(&self) -> Result<Box<dyn ExportReader>, StoreError> {
        match &self.opened {
            Opened::Sqlite(store) => store.export().await,
            Opened::Postgres(store) => store.export().await,
        }
    }

    /// Starts the one write transaction that restores every directory table.
    pub(crate) async fn import_directory(&self) -> Result<Box<dyn DirectoryImport>, StoreError> {
        match &self.opened {
            Opened::Sqlite(store) => store.import_directory().await,
            Opened::Postgres(store) => store.import_directory().await,
        }
    }

    /// Inserts one document's rows in one transaction. `false` (and nothing written) when the
    /// document already exists. The caller has written and checked the snapshot blobs first.
    pub(crate) async fn import_document(
        &self,
        document: &ExportedDocument,
    ) -> Result<bool, StoreError> {
        match &self.opened {
            Opened::Sqlite(store) => store.import_document(document).await,
            Opened::Postgres(store) => store.import_document(document).await,
        }
    }
}

/// Whether a database whose schema stands at `status` (read before anything was migrated;
/// `None` when not read) may be opened with `migrations`.
pub(crate) fn check_schema(
    migrations: Migrations,
    status: Option<SchemaStatus>,
) -> Result<(), StoreError> {
    match (migrations, status) {
        (Migrations::Apply, _) | (_, None) => Ok(()),
        (_, Some(SchemaStatus::Current { .. })) => Ok(()),
        (Migrations::Create, Some(SchemaStatus::Behind { applied: 0, .. })) => Ok(()),
        (_, Some(status)) => Err(StoreError::Schema(status)),
    }
}

/// What `relais doctor` learns from the database.
#[derive(Clone, Debug)]
pub struct DatabaseCheck {
    /// `"sqlite"` or `"postgres"`.
    pub backend: &'static str,
    /// Where the schema stands.
    pub schema: SchemaStatus,
    /// The database's clock minus this machine's, in milliseconds, measured at the middle of
    /// the query (so the round trip does not count).
    pub clock_offset_ms: i64,
}

/// Connects once to the database (no pool, no retries, no migration, no file creation) and
/// reads its schema status and clock.
pub async fn check_database(url: &str) -> Result<DatabaseCheck, StoreError> {
    match Backend::of(url)? {
        Backend::Sqlite => crate::sqlite::check(url).await,
        Backend::Postgres => crate::postgres::check(url).await,
    }
}

/// Opens the object store at `url` and writes, reads back and deletes a probe object under
/// `doctor/` with a create-only put, as snapshots are written.
pub async fn check_object_store(url: &str) -> Result<(), StoreError> {
    let objects = open_object_store(url)?;
    objects::probe(objects.as_ref()).await
}

/// Runs `query` (which returns the database's time in milliseconds since the epoch) and
/// compares it with this machine's clock at the middle of the round trip.
pub(crate) async fn clock_offset_ms<F>(query: F) -> Result<i64, StoreError>
where
    F: Future<Output = Result<i64, StoreError>>,
{
    let before = SystemTime::now();
    let database_ms = query.await?;
    let after = SystemTime::now();
    let round_trip = after.duration_since(before).unwrap_or(Duration::ZERO);
    let middle = before + round_trip / 2;
    let local_ms = match middle.duration_since(UNIX_EPOCH) {
        Ok(since) => i64::try_from(since.as_millis()).unwrap_or(i64::MAX),
        Err(before_epoch) => {
            -i64::try_from(before_epoch.duration().as_millis()).unwrap_or(i64::MAX)
        }
    };
    Ok(database_ms.saturating_sub(local_ms))
}

/// Totals read at the start of an export, in the same read transaction as the rows.
#[derive(Clone, Debug)]
pub(crate) struct ExportHeader {
    /// The database's time when the read began, RFC 3339 UTC.
    pub as_of: String,
    pub documents: u64,
    pub updates: u64,
    pub snapshots: u64,
    /// Rows of each of [`DIRECTORY_TABLES`], in that order.
    pub directory: Vec<u64>,
}

/// A read transaction over every row, opened by a backend; rows are read document by document
/// so that memory holds one document at a time.
#[async_trait::async_trait]
pub(crate) trait ExportReader: Send {
    async fn header(&mut self) -> Result<ExportHeader, StoreError>;
    /// Every document name, in the database's order.
    async fn document_names(&mut self) -> Result<Vec<String>, StoreError>;
    /// One document's rows; `None` if the name is unknown.
    async fn document(&mut self, name: &str) -> Result<Option<ExportedDocument>, StoreError>;
    /// Every row of a directory table, streamed in primary-key order (text compared byte-wise,
    /// so that both backends give the same order).
    fn directory_rows<'a>(
        &'a mut self,
        table: &'static DirectoryTable,
    ) -> BoxStream<'a, Result<ExportedRow, StoreError>>;
    /// Ends the read transaction.
    async fn finish(self: Box<Self>) -> Result<(), StoreError>;
}

/// The write transaction of a restore's directory rows, opened by a backend. Nothing is
/// visible to others before [`DirectoryImport::commit`]; dropping it rolls everything back.
#[async_trait::async_trait]
pub(crate) trait DirectoryImport: Send {
    /// Inserts rows of `table` (any table of [`DIRECTORY_TABLES`] but `access_epoch`), each
    /// holding one cell per column in the table's order.
    async fn insert(
        &mut self,
        table: &'static DirectoryTable,
        rows: Vec<ExportedRow>,
    ) -> Result<(), StoreError>;
    /// Sets the access epoch, whose single row the migration created.
    async fn set_access_epoch(&mut self, epoch: i64) -> Result<(), StoreError>;
    async fn commit(self: Box<Self>) -> Result<(), StoreError>;
}

/// How a column of a [`DirectoryTable`] is stored: text, a 64-bit integer (every time is Unix
/// milliseconds) or a boolean (`INTEGER` 0/1 on SQLite, `boolean` on Postgres).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ColumnKind {
    Text,
    Integer,
    Boolean,
}

/// A column of a [`DirectoryTable`].
#[derive(Debug)]
pub(crate) struct Column {
    pub name: &'static str,
    pub kind: ColumnKind,
    pub nullable: bool,
}

const fn column(name: &'static str, kind: ColumnKind, nullable: bool) -> Column {
    Column {
        name,
        kind,
        nullable,
    }
}

const fn text(name: &'static str) -> Column {
    column(name, ColumnKind::Text, false)
}

const fn optional_text(name: &'static str) -> Column {
    column(name, ColumnKind::Text, true)
}

const fn integer(name: &'static str) -> Column {
    column(name, ColumnKind::Integer, false)
}

const fn optional_integer(name: &'static str) -> Column {
    column(name, ColumnKind::Integer, true)
}

/// A table backed up row by row, not in the per-document files: the directory's
/// (`0002_directory.sql`), chat's (`0003_chat.sql`) and the version history's
/// (`0004_versions.sql`; keyed by document, but restored with the directory in one
/// transaction, before the documents' logs, as their foreign keys and the migration
/// expect). `columns` are the ones a backup copies, in the
/// schema's order: every column but those the database derives (SQLite's `messages.row_id`,
/// a rowid alias, and Postgres's generated `messages.search`), which a restore lets it fill.
#[derive(Debug)]
pub(crate) struct DirectoryTable {
    pub name: &'static str,
    pub columns: &'static [Column],
    /// The key rows are ordered by: the primary key, or for `messages` on SQLite (whose
    /// primary key is the rowid alias) the unique (conversation, seq) that is its primary key
    /// on Postgres.
    pub primary_key: &'static [&'static str],
}

/// The table holding the access epoch's single row (`id` = 1), which the migration inserts:
/// a restore updates it rather than inserting.
pub(crate) const ACCESS_EPOCH: &str = "access_epoch";

/// The chat table of attachments, whose rows name a blob each.
pub(crate) const ATTACHMENTS: &str = "attachments";

/// The table of versions, whose rows name a blob each; reviews, publications and exports
/// reference its rows.
pub(crate) const DOCUMENT_VERSIONS: &str = "document_versions";

/// A table of [`DIRECTORY_TABLES`] whose rows name a blob each (`object_key`, `sha256`,
/// `len`, keyed by the row's `id`): a backup copies the blobs as it does snapshots', and a
/// restore writes them before the rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BlobTable {
    /// `attachments`, blobs at `attachments/{conversation_id}/{id}`; a blob is deleted with
    /// its message.
    Attachments,
    /// `document_versions`, blobs at `versions/{document_id}/{id}`; an automatic version's
    /// blob is deleted by retention, after its row, and a sealed version's never.
    DocumentVersions,
}

impl BlobTable {
    pub(crate) const ALL: [Self; 2] = [Self::Attachments, Self::DocumentVersions];

    /// The table's name.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Attachments => ATTACHMENTS,
            Self::DocumentVersions => DOCUMENT_VERSIONS,
        }
    }

    /// The blob table `table` is, if it is one.
    pub(crate) fn of(table: &DirectoryTable) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|blobs| blobs.name() == table.name)
    }

    /// The table's description.
    pub(crate) fn table(self) -> &'static DirectoryTable {
        DirectoryTable::named(self.name()).expect("blob tables are directory tables")
    }
}

/// Every table not in the per-document files, directory then chat then versions, in an order
/// where a row comes after those its foreign keys name, as a restore inserts them.
pub(crate) const DIRECTORY_TABLES: &[DirectoryTable] = &[
    DirectoryTable {
        name: "organisations",
        columns: &[text("id"), text("name"), integer("created_at_ms")],
        primary_key: &["id"],
    },
    DirectoryTable {
        name: "users",
        columns: &[
            text("id"),
            text("email"),
            text("display_name"),
            text("kind"),
            optional_text("organisation_id"),
            column("is_admin", ColumnKind::Boolean, false),
            optional_text("password_hash"),
            optional_text("oidc_issuer"),
            optional_text("oidc_subject"),
            integer("created_at_ms"),
            optional_integer("disabled_at_ms"),
        ],
        primary_key: &["id"],
    },
    DirectoryTable {
        name: "workspaces",
        columns: &[
            text("id"),
            text("organisation_id"),
            text("name"),
            integer("created_at_ms"),
        ],
        primary_key: &["id"],
    },
    DirectoryTable {
        name: "workspace_members",
        columns: &[
            text("workspace_id"),
            text("user_id"),
            text("role"),
            optional_integer("expires_at_ms"),
            optional_text("sponsor_id"),
            integer("created_at_ms"),
        ],
        primary_key: &["workspace_id", "user_id"],
    },
    DirectoryTable {
        name: "document_info",
        columns: &[
            text("document_id"),
            optional_text("workspace_id"),
            text("title"),
            optional_text("created_by"),
            integer("created_at_ms"),
            optional_integer("deleted_at_ms"),
        ],
        primary_key: &["document_id"],
    },
    DirectoryTable {
        name: "document_members",
        columns: &[
            text("document_id"),
            text("user_id"),
            text("role"),
            optional_integer("expires_at_ms"),
            optional_text("sponsor_id"),
            integer("created_at_ms"),
        ],
        primary_key: &["document_id", "user_id"],
    },
    DirectoryTable {
        name: "invitations",
        columns: &[
            text("id"),
            text("secret_sha256"),
            text("email"),
            optional_text("workspace_id"),
            optional_text("document_id"),
            text("role"),
            integer("access_expires_at_ms"),
            text("sponsor_id"),
            integer("created_at_ms"),
            optional_integer("accepted_at_ms"),
            optional_text("accepted_by"),
            optional_integer("revoked_at_ms"),
        ],
        primary_key: &["id"],
    },
    DirectoryTable {
        name: "sessions",
        columns: &[
            text("secret_sha256"),
            text("user_id"),
            text("csrf_token"),
            integer("created_at_ms"),
            integer("expires_at_ms"),
            optional_integer("revoked_at_ms"),
        ],
        primary_key: &["secret_sha256"],
    },
    DirectoryTable {
        name: "api_tokens",
        columns: &[
            text("id"),
            text("secret_sha256"),
            text("document_pattern"),
            text("role"),
            integer("expires_at_ms"),
            optional_text("created_by"),
            integer("created_at_ms"),
            optional_integer("revoked_at_ms"),
        ],
        primary_key: &["id"],
    },
    DirectoryTable {
        name: ACCESS_EPOCH,
        columns: &[integer("id"), integer("epoch")],
        primary_key: &["id"],
    },
    DirectoryTable {
        name: "audit_log",
        columns: &[
            integer("seq"),
            integer("at_ms"),
            optional_text("actor"),
            text("action"),
            optional_text("workspace_id"),
            optional_text("target"),
            text("details"),
            text("prev_sha256"),
            text("sha256"),
        ],
        primary_key: &["seq"],
    },
    DirectoryTable {
        name: "conversations",
        columns: &[
            text("id"),
            text("kind"),
            optional_text("workspace_id"),
            optional_text("document_id"),
            optional_text("name"),
            column("private", ColumnKind::Boolean, false),
            optional_text("created_by"),
            integer("created_at_ms"),
            integer("last_seq"),
            optional_text("direct_key"),
        ],
        primary_key: &["id"],
    },
    DirectoryTable {
        name: "conversation_members",
        columns: &[
            text("conversation_id"),
            text("user_id"),
            column("is_member", ColumnKind::Boolean, false),
            integer("last_read_seq"),
            integer("joined_at_ms"),
        ],
        primary_key: &["conversation_id", "user_id"],
    },
    DirectoryTable {
        name: "messages",
        columns: &[
            text("conversation_id"),
            integer("seq"),
            text("id"),
            text("author_id"),
            text("client_id"),
            text("body"),
            optional_integer("reply_to_seq"),
            column("mentions_all", ColumnKind::Boolean, false),
            integer("created_at_ms"),
            optional_integer("edited_at_ms"),
            optional_integer("deleted_at_ms"),
        ],
        primary_key: &["conversation_id", "seq"],
    },
    DirectoryTable {
        name: "message_mentions",
        columns: &[text("conversation_id"), integer("seq"), text("user_id")],
        primary_key: &["conversation_id", "seq", "user_id"],
    },
    DirectoryTable {
        name: "message_reactions",
        columns: &[
            text("conversation_id"),
            integer("seq"),
            text("user_id"),
            text("emoji"),
            integer("created_at_ms"),
        ],
        primary_key: &["conversation_id", "seq", "user_id", "emoji"],
    },
    DirectoryTable {
        name: ATTACHMENTS,
        columns: &[
            text("id"),
            text("conversation_id"),
            text("uploaded_by"),
            text("file_name"),
            text("content_type"),
            integer("len"),
            text("sha256"),
            text("object_key"),
            integer("created_at_ms"),
            optional_integer("message_seq"),
        ],
        primary_key: &["id"],
    },
    DirectoryTable {
        name: "document_freezes",
        columns: &[text("document_id"), integer("frozen_at_ms")],
        primary_key: &["document_id"],
    },
    DirectoryTable {
        name: DOCUMENT_VERSIONS,
        columns: &[
            text("id"),
            text("document_id"),
            integer("number"),
            text("kind"),
            optional_text("name"),
            integer("created_at_ms"),
            optional_text("created_by"),
            text("authors"),
            integer("upto_seq"),
            text("object_key"),
            text("sha256"),
            integer("len"),
            optional_integer("sealed_at_ms"),
            optional_text("sealed_by"),
            optional_text("seal_comment"),
        ],
        primary_key: &["id"],
    },
    DirectoryTable {
        name: "document_reviews",
        columns: &[
            text("id"),
            text("document_id"),
            text("version_id"),
            text("submitted_by"),
            integer("submitted_at_ms"),
            text("note"),
            optional_text("decision"),
            optional_text("decided_by"),
            optional_integer("decided_at_ms"),
            optional_text("decision_comment"),
        ],
        primary_key: &["id"],
    },
    DirectoryTable {
        name: "document_publications",
        columns: &[
            text("document_id"),
            text("version_id"),
            text("published_by"),
            integer("published_at_ms"),
        ],
        primary_key: &["document_id"],
    },
    DirectoryTable {
        name: "document_clients",
        columns: &[
            text("document_id"),
            integer("client_id"),
            text("user_id"),
            integer("first_seen_ms"),
        ],
        primary_key: &["document_id", "client_id"],
    },
    DirectoryTable {
        name: "version_exports",
        columns: &[
            text("version_id"),
            text("format"),
            text("sha256"),
            integer("created_at_ms"),
        ],
        primary_key: &["version_id", "format", "sha256"],
    },
];

impl DirectoryTable {
    /// The directory table named `name`.
    pub(crate) fn named(name: &str) -> Option<&'static DirectoryTable> {
        DIRECTORY_TABLES.iter().find(|table| table.name == name)
    }

    /// Where the column `name` is in a row.
    pub(crate) fn position(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|column| column.name == name)
    }

    /// Where each primary-key column is in a row.
    pub(crate) fn key_positions(&self) -> Vec<usize> {
        self.primary_key
            .iter()
            .map(|key| {
                self.position(key)
                    .expect("primary-key columns are columns of their table")
            })
            .collect()
    }
}

/// One value of a directory row, as stored. The derived order compares integers numerically
/// and text byte-wise, as backups sort primary keys.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Cell {
    Null,
    Boolean(bool),
    Integer(i64),
    Text(String),
}

/// A directory row: one [`Cell`] per column, in the table's column order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ExportedRow(pub Vec<Cell>);

/// One document's rows in every table keyed by document, as stored. This is also the JSON of
/// a backup's per-document file, so field names follow the columns and a field nobody knows
/// is refused rather than dropped. A table added later gets a `#[serde(default)]` field, so
/// that older backups still restore (with that table empty).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ExportedDocument {
    /// `documents.id`.
    pub id: String,
    /// `documents.last_seq`.
    pub last_seq: i64,
    /// `documents.created_at`, RFC 3339 UTC.
    pub created_at: String,
    /// Rows of `document_updates`, ascending seq.
    pub document_updates: Vec<ExportedUpdate>,
    /// Rows of `document_snapshots`, ascending `upto_seq`.
    pub document_snapshots: Vec<ExportedSnapshot>,
}

/// A `document_updates` row.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ExportedUpdate {
    pub seq: i64,
    /// The opaque update, base64 (standard alphabet, padded) in JSON.
    #[serde(with = "base64_bytes")]
    pub update_bytes: Vec<u8>,
    pub created_at: String,
}

/// A `document_snapshots` row; its blob travels separately, under its `object_key`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ExportedSnapshot {
    pub upto_seq: i64,
    pub object_key: String,
    pub sha256: String,
    pub len: i64,
    pub created_at: String,
}

mod base64_bytes {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&STANDARD.encode(bytes))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Vec<u8>, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        STANDARD
            .decode(text.as_bytes())
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_new_databases_get_a_schema_created() {
        let current = SchemaStatus::Current { version: 1 };
        let fresh = SchemaStatus::Behind {
            applied: 0,
            latest: 2,
            pending: 2,
        };
        let older = SchemaStatus::Behind {
            applied: 1,
            latest: 2,
            pending: 1,
        };
        let newer = SchemaStatus::Incompatible("newer".into());
        for status in [&current, &fresh, &older, &newer] {
            assert!(check_schema(Migrations::Apply, Some(status.clone())).is_ok());
        }
        assert!(check_schema(Migrations::Create, Some(current.clone())).is_ok());
        assert!(check_schema(Migrations::Create, Some(fresh.clone())).is_ok());
        assert!(check_schema(Migrations::Create, Some(older.clone())).is_err());
        assert!(check_schema(Migrations::Create, Some(newer.clone())).is_err());
        assert!(check_schema(Migrations::Require, Some(current)).is_ok());
        for status in [fresh, older, newer] {
            assert!(check_schema(Migrations::Require, Some(status)).is_err());
        }
    }

    #[test]
    fn backends_follow_the_scheme() {
        assert_eq!(Backend::of("sqlite://x.db").unwrap(), Backend::Sqlite);
        assert_eq!(Backend::of("postgres://h/db").unwrap(), Backend::Postgres);
        assert_eq!(Backend::of("postgresql://h/db").unwrap(), Backend::Postgres);
        let error = Backend::of("mysql://root:secret@h/db")
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("\"mysql\"") && !error.contains("secret"),
            "{error}"
        );
    }

    #[test]
    fn exported_rows_round_trip_through_json_and_refuse_unknown_fields() {
        let document = ExportedDocument {
            id: "notes".into(),
            last_seq: 2,
            created_at: "2026-03-03T10:00:00.123Z".into(),
            document_updates: vec![ExportedUpdate {
                seq: 2,
                update_bytes: vec![0, 1, 2, 255],
                created_at: "2026-03-03T10:00:01.000Z".into(),
            }],
            document_snapshots: vec![ExportedSnapshot {
                upto_seq: 1,
                object_key: "documents/notes/snapshots/1.ydoc".into(),
                sha256: "a".repeat(64),
                len: 3,
                created_at: "2026-03-03T10:00:00.500Z".into(),
            }],
        };
        let json = serde_json::to_string(&document).unwrap();
        assert!(json.contains("\"update_bytes\":\"AAEC/w==\""), "{json}");
        assert_eq!(
            serde_json::from_str::<ExportedDocument>(&json).unwrap(),
            document
        );
        let newer = json.replacen('{', "{\"document_comments\":[],", 1);
        assert!(serde_json::from_str::<ExportedDocument>(&newer).is_err());
    }

    #[tokio::test]
    async fn clock_offset_compares_with_the_middle_of_the_query() {
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64;
        let offset = clock_offset_ms(async { Ok(now_ms + 5_000) }).await.unwrap();
        assert!((4_900..=5_000).contains(&offset), "{offset}");
    }
}
