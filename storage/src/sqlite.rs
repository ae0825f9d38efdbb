//! The embedded backend: one SQLite file plus an object store.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt as _;
use futures_util::stream::BoxStream;
use object_store::ObjectStore;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{AssertSqlSafe, Connection, Row, Sqlite, SqliteConnection};
use tracing::instrument;

use crate::admin::{
    DatabaseCheck, DirectoryImport, DirectoryTable, ExportHeader, ExportReader, ExportedDocument,
    ExportedRow, Migrations, check_schema, clock_offset_ms,
};
use crate::common::{self, DocumentRows, SnapshotRow};
use crate::error::StoreError;
use crate::id::{DocumentId, Seq};
use crate::migrations::{AppliedRow, SchemaStatus};
use crate::objects;
use crate::store::{AppendedRange, SnapshotInfo, Store, StoredDocument, StoredUpdate};

/// Rows per multi-row INSERT: 3 bound values each, well under SQLite's 32,766 variables.
const ROWS_PER_INSERT: usize = 500;

/// How long a connection waits for another process's write lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// A [`Store`] on a SQLite file (WAL, `synchronous = FULL`) and an object store.
///
/// Writes go through a single-connection pool and start with `BEGIN IMMEDIATE`, so they queue
/// in the process instead of racing for SQLite's lock (no `SQLITE_BUSY` from a read lock being
/// upgraded); reads use their own pool and run alongside writes thanks to WAL.
/// Meant for one process per file; several processes sharing a file stay correct (the write
/// lock and busy timeout serialize them) but wait on each other.
pub struct SqliteStore {
    writer: SqlitePool,
    readers: SqlitePool,
    objects: Arc<dyn ObjectStore>,
}

impl SqliteStore {
    /// Opens `url` (`sqlite://path/to/relais.db`, creating the file and its parent directory
    /// if missing), runs the migrations, and keeps `objects` for snapshot blobs.
    /// `max_connections` bounds the read pool; writes always use one connection.
    pub async fn connect(
        url: &str,
        objects: Arc<dyn ObjectStore>,
        max_connections: u32,
    ) -> Result<Self, StoreError> {
        Self::open(url, objects, max_connections, Migrations::Apply).await
    }

    /// [`SqliteStore::connect`] with the schema handled as `migrations` says; with
    /// [`Migrations::Require`] the file must exist and nothing is created or migrated.
    pub(crate) async fn open(
        url: &str,
        objects: Arc<dyn ObjectStore>,
        max_connections: u32,
        migrations: Migrations,
    ) -> Result<Self, StoreError> {
        if max_connections == 0 {
            return Err(StoreError::Config(
                "max_connections must be at least 1".into(),
            ));
        }
        let options = connect_options(url, migrations).await?;
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options.clone())
            .await?;
        let status = match migrations {
            Migrations::Apply => None,
            Migrations::Create | Migrations::Require => {
                let mut connection = writer.acquire().await?;
                Some(schema_status(&mut connection).await?)
            }
        };
        if let Err(error) = check_schema(migrations, status) {
            writer.close().await;
            return Err(error);
        }
        if migrations != Migrations::Require {
            crate::migrations::sqlite().run(&writer).await?;
        }
        let readers = SqlitePoolOptions::new()
            .max_connections(max_connections)
            .connect_with(options)
            .await?;
        Ok(Self {
            writer,
            readers,
            objects,
        })
    }

    pub(crate) fn objects(&self) -> &Arc<dyn ObjectStore> {
        &self.objects
    }

    pub(crate) async fn document_names(&self) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query("SELECT id FROM documents ORDER BY id")
            .fetch_all(&self.readers)
            .await?;
        rows.iter().map(|row| Ok(row.try_get("id")?)).collect()
    }

    pub(crate) async fn document_count(&self) -> Result<u64, StoreError> {
        let count: i64 = sqlx::query("SELECT count(*) AS count FROM documents")
            .fetch_one(&self.readers)
            .await?
            .try_get("count")?;
        Ok(u64::try_from(count).unwrap_or_default())
    }

    /// Rows of each directory table, in [`crate::admin::DIRECTORY_TABLES`] order.
    pub(crate) async fn directory_counts(&self) -> Result<Vec<u64>, StoreError> {
        let row = sqlx::query(AssertSqlSafe(common::directory_counts_sql()))
            .fetch_one(&self.readers)
            .await?;
        common::directory_counts(&row)
    }

    /// One write transaction for every directory row of a restore, on the writer connection.
    pub(crate) async fn import_directory(&self) -> Result<Box<dyn DirectoryImport>, StoreError> {
        let transaction = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        Ok(Box::new(SqliteDirectoryImport { transaction }))
    }

    /// One read transaction for the whole export: in WAL mode it sees the file as of its
    /// first read, whatever commits meanwhile.
    pub(crate) async fn export(&self) -> Result<Box<dyn ExportReader>, StoreError> {
        let transaction = self.readers.begin().await?;
        Ok(Box::new(SqliteExport { transaction }))
    }

    pub(crate) async fn import_document(
        &self,
        document: &ExportedDocument,
    ) -> Result<bool, StoreError> {
        let mut transaction = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        // Timestamps are normalised to the format the column defaults write.
        let inserted = sqlx::query(
            "INSERT INTO documents (id, last_seq, created_at)
             VALUES (?1, ?2, strftime('%Y-%m-%dT%H:%M:%fZ', ?3))
             ON CONFLICT (id) DO NOTHING",
        )
        .bind(&document.id)
        .bind(document.last_seq)
        .bind(&document.created_at)
        .execute(&mut *transaction)
        .await?
        .rows_affected();
        if inserted == 0 {
            return Ok(false);
        }
        for update in &document.document_updates {
            sqlx::query(
                "INSERT INTO document_updates (document_id, seq, update_bytes, created_at)
                 VALUES (?1, ?2, ?3, strftime('%Y-%m-%dT%H:%M:%fZ', ?4))",
            )
            .bind(&document.id)
            .bind(update.seq)
            .bind(update.update_bytes.as_slice())
            .bind(&update.created_at)
            .execute(&mut *transaction)
            .await?;
        }
        for snapshot in &document.document_snapshots {
            sqlx::query(
                "INSERT INTO document_snapshots
                     (document_id, upto_seq, object_key, sha256, len, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, strftime('%Y-%m-%dT%H:%M:%fZ', ?6))",
            )
            .bind(&document.id)
            .bind(snapshot.upto_seq)
            .bind(&snapshot.object_key)
            .bind(&snapshot.sha256)
            .bind(snapshot.len)
            .bind(&snapshot.created_at)
            .execute(&mut *transaction)
            .await?;
        }
        transaction.commit().await?;
        Ok(true)
    }
}

impl SqliteStore {
    /// A directory write: on the single writer connection, holding SQLite's write lock from
    /// the start (`BEGIN IMMEDIATE`), like every other write of this store.
    async fn directory_writer(&self) -> Result<sqlx::Transaction<'static, Sqlite>, sqlx::Error> {
        self.writer.begin_with("BEGIN IMMEDIATE").await
    }

    fn directory_reader(&self) -> &SqlitePool {
        &self.readers
    }
}

// The writer's `BEGIN IMMEDIATE` already serialises audit appends, across processes too.
crate::directory_sql::impl_directory!(SqliteStore, backend = "sqlite", audit_lock = None);

// Chat SQL with ids bound as a JSON array and search through FTS5.
crate::versions_sql::impl_versions!(SqliteStore, backend = "sqlite");

crate::chat_sql::impl_chat!(
    SqliteStore,
    backend = "sqlite",
    db = sqlx::Sqlite,
    in_ids = "IN (SELECT value FROM json_each($1))",
    id_list = crate::chat_sql::sqlite_id_list,
    search = crate::chat_sql::SQLITE_SEARCH,
    search_query = crate::chat_sql::fts5_query,
);

/// Connection options for `url`. With [`Migrations::Require`] the file must exist: a
/// maintenance command must not create an empty database where the real one was expected.
async fn connect_options(
    url: &str,
    migrations: Migrations,
) -> Result<SqliteConnectOptions, StoreError> {
    // An in-memory database would silently lose everything at exit, and its shared-cache
    // mode does not mix with a separate writer pool: refuse it rather than half-support it.
    if url.contains(":memory:") || url.contains("mode=memory") {
        return Err(StoreError::Config(
            "in-memory SQLite is not supported: give a file path such as sqlite://data/relais.db"
                .into(),
        ));
    }
    let options = SqliteConnectOptions::from_str(url)
        .map_err(|error| StoreError::Config(format!("invalid SQLite URL: {error}")))?
        .create_if_missing(migrations != Migrations::Require)
        .journal_mode(SqliteJournalMode::Wal)
        // FULL: a commit is on disk before it returns, so a relayed update survives a
        // process kill and a power loss.
        .synchronous(SqliteSynchronous::Full)
        .busy_timeout(BUSY_TIMEOUT)
        .foreign_keys(true);
    let file = options.get_filename();
    match migrations {
        Migrations::Apply | Migrations::Create => {
            if let Some(parent) = file.parent()
                && !parent.as_os_str().is_empty()
            {
                tokio::fs::create_dir_all(parent).await.map_err(|error| {
                    StoreError::Config(format!(
                        "cannot create database directory {}: {error}",
                        parent.display()
                    ))
                })?;
            }
        }
        Migrations::Require => {
            if !tokio::fs::try_exists(file).await.unwrap_or(false) {
                return Err(StoreError::Config(format!(
                    "database file {} does not exist",
                    file.display()
                )));
            }
        }
    }
    Ok(options)
}

/// The schema status, read without creating sqlx's migrations table.
async fn schema_status(connection: &mut SqliteConnection) -> Result<SchemaStatus, StoreError> {
    let tables: i64 = sqlx::query(
        "SELECT count(*) AS tables FROM sqlite_master
         WHERE type = 'table' AND name = '_sqlx_migrations'",
    )
    .fetch_one(&mut *connection)
    .await?
    .try_get("tables")?;
    let applied = if tables == 0 {
        None
    } else {
        let rows =
            sqlx::query("SELECT version, success, checksum FROM _sqlx_migrations ORDER BY version")
                .fetch_all(&mut *connection)
                .await?;
        Some(
            rows.iter()
                .map(|row| {
                    Ok(AppliedRow {
                        version: row.try_get("version")?,
                        success: row.try_get("success")?,
                        checksum: row.try_get("checksum")?,
                    })
                })
                .collect::<Result<Vec<_>, StoreError>>()?,
        )
    };
    Ok(crate::migrations::status(
        &crate::migrations::sqlite(),
        applied,
    ))
}

/// `relais doctor`'s look at the database: one connection, nothing created or migrated.
pub(crate) async fn check(url: &str) -> Result<DatabaseCheck, StoreError> {
    let options = connect_options(url, Migrations::Require).await?;
    let mut connection = SqliteConnection::connect_with(&options).await?;
    let schema = schema_status(&mut connection).await?;
    // The same machine's clock, read through SQLite: the check is trivially true here, but it
    // proves the connection answers.
    let clock_offset_ms = clock_offset_ms(async {
        let now_ms: i64 = sqlx::query(
            "SELECT CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER) AS now_ms",
        )
        .fetch_one(&mut connection)
        .await?
        .try_get("now_ms")?;
        Ok(now_ms)
    })
    .await?;
    connection.close().await?;
    Ok(DatabaseCheck {
        backend: "sqlite",
        schema,
        clock_offset_ms,
    })
}

/// The read transaction of an export.
struct SqliteExport {
    transaction: sqlx::Transaction<'static, Sqlite>,
}

#[async_trait::async_trait]
impl ExportReader for SqliteExport {
    async fn header(&mut self) -> Result<ExportHeader, StoreError> {
        let row = sqlx::query(
            "SELECT strftime('%Y-%m-%dT%H:%M:%fZ', 'now') AS as_of,
                    (SELECT count(*) FROM documents) AS documents,
                    (SELECT count(*) FROM document_updates) AS updates,
                    (SELECT count(*) FROM document_snapshots) AS snapshots",
        )
        .fetch_one(&mut *self.transaction)
        .await?;
        let count = |column: &str| -> Result<u64, StoreError> {
            let value: i64 = row.try_get(column)?;
            Ok(u64::try_from(value).unwrap_or_default())
        };
        let directory = sqlx::query(AssertSqlSafe(common::directory_counts_sql()))
            .fetch_one(&mut *self.transaction)
            .await?;
        Ok(ExportHeader {
            as_of: row.try_get("as_of")?,
            documents: count("documents")?,
            updates: count("updates")?,
            snapshots: count("snapshots")?,
            directory: common::directory_counts(&directory)?,
        })
    }

    async fn document_names(&mut self) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query("SELECT id FROM documents ORDER BY id")
            .fetch_all(&mut *self.transaction)
            .await?;
        rows.iter().map(|row| Ok(row.try_get("id")?)).collect()
    }

    async fn document(&mut self, name: &str) -> Result<Option<ExportedDocument>, StoreError> {
        let Some(row) = sqlx::query("SELECT id, last_seq, created_at FROM documents WHERE id = ?1")
            .bind(name)
            .fetch_optional(&mut *self.transaction)
            .await?
        else {
            return Ok(None);
        };
        let updates = sqlx::query(
            "SELECT seq, update_bytes, created_at FROM document_updates
             WHERE document_id = ?1 ORDER BY seq",
        )
        .bind(name)
        .fetch_all(&mut *self.transaction)
        .await?;
        let snapshots = sqlx::query(
            "SELECT upto_seq, object_key, sha256, len, created_at FROM document_snapshots
             WHERE document_id = ?1 ORDER BY upto_seq",
        )
        .bind(name)
        .fetch_all(&mut *self.transaction)
        .await?;
        common::exported_document(&row, &updates, &snapshots).map(Some)
    }

    fn directory_rows<'a>(
        &'a mut self,
        table: &'static DirectoryTable,
    ) -> BoxStream<'a, Result<ExportedRow, StoreError>> {
        // SQLite compares text byte-wise (BINARY collation) already.
        sqlx::query(AssertSqlSafe(common::select_directory_sql(table, "")))
            .fetch(&mut *self.transaction)
            .map(move |row| common::exported_row(table, &row?))
            .boxed()
    }

    async fn finish(self: Box<Self>) -> Result<(), StoreError> {
        self.transaction.commit().await?;
        Ok(())
    }
}

crate::common::directory_import!(SqliteDirectoryImport, Sqlite);

async fn last_seq(
    connection: &mut SqliteConnection,
    document: &DocumentId,
) -> Result<i64, StoreError> {
    let row = sqlx::query("SELECT last_seq FROM documents WHERE id = ?1")
        .bind(document.as_str())
        .fetch_optional(connection)
        .await?;
    Ok(match row {
        Some(row) => row.try_get("last_seq")?,
        None => 0,
    })
}

fn snapshot_row(row: &SqliteRow) -> Result<SnapshotRow, StoreError> {
    Ok(SnapshotRow {
        upto_seq: row.try_get("upto_seq")?,
        object_key: row.try_get("object_key")?,
        sha256: row.try_get("sha256")?,
        len: row.try_get("len")?,
    })
}

fn update_rows(rows: &[SqliteRow]) -> Result<Vec<(i64, Vec<u8>)>, StoreError> {
    rows.iter()
        .map(|row| Ok((row.try_get("seq")?, row.try_get("update_bytes")?)))
        .collect()
}

#[async_trait::async_trait]
impl Store for SqliteStore {
    #[instrument(skip_all, fields(backend = "sqlite", document = %document, count = updates.len()))]
    async fn append_updates(
        &self,
        document: &DocumentId,
        updates: &[Bytes],
    ) -> Result<AppendedRange, StoreError> {
        if updates.is_empty() {
            let mut connection = self.readers.acquire().await?;
            let last = common::seq_from_db(last_seq(&mut connection, document).await?)?;
            return Ok(AppendedRange {
                first: last.next(),
                last,
            });
        }
        let count = i64::try_from(updates.len())
            .map_err(|_| StoreError::Config("too many updates in one append".into()))?;
        let mut transaction = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        // The counter row is the single source of seqs: bumping it and inserting the updates
        // commit together, so seqs are consecutive and never reused, even after compaction.
        let last_after: i64 = sqlx::query(
            "INSERT INTO documents (id, last_seq) VALUES (?1, ?2)
             ON CONFLICT (id) DO UPDATE SET last_seq = documents.last_seq + excluded.last_seq
             RETURNING last_seq",
        )
        .bind(document.as_str())
        .bind(count)
        .fetch_one(&mut *transaction)
        .await?
        .try_get("last_seq")?;
        let frozen: Option<i64> =
            sqlx::query_scalar("SELECT frozen_at_ms FROM document_freezes WHERE document_id = ?1")
                .bind(document.as_str())
                .fetch_optional(&mut *transaction)
                .await?;
        if frozen.is_some() {
            return Err(StoreError::Frozen(document.to_string()));
        }
        let first = last_after - count + 1;
        // One multi-row INSERT per chunk: sqlx runs each SQLite statement on its worker thread,
        // so a statement per update costs a thread hand-off per update.
        let rows: Vec<(i64, &Bytes)> = (first..).zip(updates).collect();
        for chunk in rows.chunks(ROWS_PER_INSERT) {
            let mut insert = sqlx::QueryBuilder::<sqlx::Sqlite>::new(
                "INSERT INTO document_updates (document_id, seq, update_bytes) ",
            );
            insert.push_values(chunk, |mut row, (seq, update)| {
                row.push_bind(document.as_str())
                    .push_bind(*seq)
                    .push_bind(update.as_ref());
            });
            insert.build().execute(&mut *transaction).await?;
        }
        transaction.commit().await?;
        common::appended_range(last_after, count)
    }

    #[instrument(skip_all, fields(backend = "sqlite", document = %document))]
    async fn load(&self, document: &DocumentId) -> Result<StoredDocument, StoreError> {
        // In WAL mode a read transaction sees one snapshot of the file from its first read
        // on, so the snapshot row and the tail agree even if a compaction commits meanwhile.
        let mut transaction = self.readers.begin().await?;
        let last_seq = last_seq(&mut transaction, document).await?;
        let snapshot = sqlx::query(
            "SELECT upto_seq, object_key, sha256, len FROM document_snapshots
             WHERE document_id = ?1 ORDER BY upto_seq DESC LIMIT 1",
        )
        .bind(document.as_str())
        .fetch_optional(&mut *transaction)
        .await?
        .as_ref()
        .map(snapshot_row)
        .transpose()?;
        let after = snapshot.as_ref().map_or(0, |snapshot| snapshot.upto_seq);
        let updates = sqlx::query(
            "SELECT seq, update_bytes FROM document_updates
             WHERE document_id = ?1 AND seq > ?2 ORDER BY seq",
        )
        .bind(document.as_str())
        .bind(after)
        .fetch_all(&mut *transaction)
        .await?;
        let updates = update_rows(&updates)?;
        transaction.commit().await?;
        let rows = DocumentRows {
            last_seq,
            snapshot,
            updates,
        };
        common::assemble(self.objects.as_ref(), document, rows).await
    }

    #[instrument(skip_all, fields(backend = "sqlite", document = %document, after = after.0))]
    async fn updates_after(
        &self,
        document: &DocumentId,
        after: Seq,
    ) -> Result<Vec<StoredUpdate>, StoreError> {
        let after = match common::seq_to_db(after) {
            Ok(after) => after,
            // Nothing can be stored past i64::MAX.
            Err(_) => return Ok(Vec::new()),
        };
        let rows = sqlx::query(
            "SELECT seq, update_bytes FROM document_updates
             WHERE document_id = ?1 AND seq > ?2 ORDER BY seq",
        )
        .bind(document.as_str())
        .bind(after)
        .fetch_all(&self.readers)
        .await?;
        common::updates_from_rows(update_rows(&rows)?)
    }

    #[instrument(skip_all, fields(backend = "sqlite", document = %document, upto_seq = upto_seq.0, len = state.len()))]
    async fn write_snapshot(
        &self,
        document: &DocumentId,
        upto_seq: Seq,
        state: Bytes,
    ) -> Result<SnapshotInfo, StoreError> {
        // The counter only grows, so a check outside the write transaction stays true.
        let upto = {
            let mut connection = self.readers.acquire().await?;
            common::check_snapshot_point(upto_seq, last_seq(&mut connection, document).await?)?
        };
        let sha256 = objects::sha256_hex(&state);
        let len = i64::try_from(state.len())
            .map_err(|_| StoreError::Config("snapshot larger than i64::MAX bytes".into()))?;
        let path = objects::snapshot_path(document, upto_seq);
        // Blob first: if this fails, nothing below runs and nothing is deleted.
        objects::put_new(self.objects.as_ref(), &path, state).await?;
        let key = path.as_ref();

        let mut transaction = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let inserted = sqlx::query(
            "INSERT INTO document_snapshots (document_id, upto_seq, object_key, sha256, len)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (document_id, upto_seq) DO NOTHING",
        )
        .bind(document.as_str())
        .bind(upto)
        .bind(key)
        .bind(&sha256)
        .bind(len)
        .execute(&mut *transaction)
        .await?
        .rows_affected();
        let recorded = if inserted == 1 {
            SnapshotRow {
                upto_seq: upto,
                object_key: key.to_owned(),
                sha256,
                len,
            }
        } else {
            tracing::info!(
                orphan = key,
                "another snapshot was recorded at this point first; keeping it"
            );
            let row = sqlx::query(
                "SELECT upto_seq, object_key, sha256, len FROM document_snapshots
                 WHERE document_id = ?1 AND upto_seq = ?2",
            )
            .bind(document.as_str())
            .bind(upto)
            .fetch_one(&mut *transaction)
            .await?;
            snapshot_row(&row)?
        };
        let pruned =
            sqlx::query("DELETE FROM document_updates WHERE document_id = ?1 AND seq <= ?2")
                .bind(document.as_str())
                .bind(upto)
                .execute(&mut *transaction)
                .await?
                .rows_affected();
        transaction.commit().await?;
        recorded.into_info(pruned)
    }

    async fn check_ready(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.readers).await?;
        objects::check_reachable(self.objects.as_ref()).await
    }

    fn backend_name(&self) -> &'static str {
        "sqlite"
    }

    async fn close(&self) {
        self.writer.close().await;
        self.readers.close().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn connections_use_wal_full_sync_and_foreign_keys() {
        let temp = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/nested/dir/relais.db", temp.path().display());
        let objects = objects::open_object_store("memory://").unwrap();
        let store = SqliteStore::connect(&url, objects, 2).await.unwrap();
        assert!(temp.path().join("nested/dir/relais.db").is_file());
        for pool in [&store.writer, &store.readers] {
            let mut connection = pool.acquire().await.unwrap();
            let journal: String = sqlx::query("PRAGMA journal_mode")
                .fetch_one(&mut *connection)
                .await
                .unwrap()
                .get(0);
            assert_eq!(journal, "wal");
            // 2 = FULL.
            let synchronous: i64 = sqlx::query("PRAGMA synchronous")
                .fetch_one(&mut *connection)
                .await
                .unwrap()
                .get(0);
            assert_eq!(synchronous, 2);
            let foreign_keys: i64 = sqlx::query("PRAGMA foreign_keys")
                .fetch_one(&mut *connection)
                .await
                .unwrap()
                .get(0);
            assert_eq!(foreign_keys, 1);
            let busy_timeout: i64 = sqlx::query("PRAGMA busy_timeout")
                .fetch_one(&mut *connection)
                .await
                .unwrap()
                .get(0);
            assert_eq!(busy_timeout, 5000);
        }
        store.close().await;
    }

    /// A table a migration adds is either in backups or named here on purpose; a column
    /// added to a backed-up table must be added to its description, or backups would drop it.
    #[tokio::test]
    async fn backups_describe_every_table_and_column_of_the_schema() {
        use crate::admin::{ColumnKind, DIRECTORY_TABLES};
        // The migrations' own table, and the full-text index of messages (`messages_fts*`,
        // left out of the query below): its triggers fill it again as a restore inserts the
        // messages.
        const NOT_BACKED_UP: &[&str] = &["_sqlx_migrations"];
        // Columns the database derives: `messages.row_id`, the rowid alias the FTS index
        // refers to, is assigned again on insert.
        const DERIVED: &[(&str, &str)] = &[("messages", "row_id")];
        let temp = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/relais.db", temp.path().display());
        let objects = objects::open_object_store("memory://").unwrap();
        let store = SqliteStore::connect(&url, objects, 1).await.unwrap();
        let tables: Vec<String> = sqlx::query(
            "SELECT name FROM sqlite_master
             WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE 'messages_fts%'
             ORDER BY name",
        )
        .fetch_all(&store.readers)
        .await
        .unwrap()
        .iter()
        .map(|row| row.get("name"))
        .collect();
        for table in &tables {
            assert!(
                crate::backup::is_known_table(table) || NOT_BACKED_UP.contains(&table.as_str()),
                "table {table} is neither backed up nor left out on purpose"
            );
        }
        for table in DIRECTORY_TABLES {
            assert!(
                tables.iter().any(|name| name == table.name),
                "{}",
                table.name
            );
            let columns: Vec<SqliteRow> = sqlx::query(AssertSqlSafe(format!(
                "SELECT name, type, \"notnull\", pk FROM pragma_table_info('{}') ORDER BY cid",
                table.name
            )))
            .fetch_all(&store.readers)
            .await
            .unwrap()
            .into_iter()
            .filter(|row| {
                let name: String = row.get("name");
                !DERIVED.contains(&(table.name, name.as_str()))
            })
            .collect();
            // A table whose primary key is a derived rowid alias is ordered by a unique key.
            let rowid_keyed = DERIVED.iter().any(|(derived, _)| *derived == table.name);
            if rowid_keyed {
                let unique: Vec<String> = sqlx::query(AssertSqlSafe(format!(
                    "SELECT group_concat(name, ',') AS columns FROM (
                         SELECT list.name AS index_name, info.name AS name
                         FROM pragma_index_list('{}') AS list,
                              pragma_index_info(list.name) AS info
                         WHERE list.\"unique\" ORDER BY list.name, info.seqno
                     ) GROUP BY index_name",
                    table.name
                )))
                .fetch_all(&store.readers)
                .await
                .unwrap()
                .iter()
                .map(|row| row.get("columns"))
                .collect();
                assert!(
                    unique.contains(&table.primary_key.join(",")),
                    "{} has no unique {:?}: {unique:?}",
                    table.name,
                    table.primary_key
                );
            }
            let described: Vec<(String, &str, bool, i64)> = table
                .columns
                .iter()
                .map(|column| {
                    let kind = match column.kind {
                        ColumnKind::Text => "TEXT",
                        ColumnKind::Integer | ColumnKind::Boolean => "INTEGER",
                    };
                    let key = table
                        .primary_key
                        .iter()
                        .position(|key| *key == column.name)
                        .filter(|_| !rowid_keyed)
                        .map_or(0, |position| position as i64 + 1);
                    (column.name.to_owned(), kind, column.nullable, key)
                })
                .collect();
            let actual: Vec<(String, &str, bool, i64)> = columns
                .iter()
                .zip(&described)
                .map(|(row, (_, kind, _, _))| {
                    let key: i64 = row.get("pk");
                    let not_null: bool = row.get("notnull");
                    let declared: String = row.get("type");
                    // An INTEGER PRIMARY KEY is the rowid: never NULL, whatever it declares.
                    let nullable = !not_null && key == 0;
                    let kind = if declared == *kind { *kind } else { "other" };
                    (row.get("name"), kind, nullable, key)
                })
                .collect();
            assert_eq!(columns.len(), described.len(), "columns of {}", table.name);
            assert_eq!(actual, described, "columns of {}", table.name);
        }
        store.close().await;
    }

    #[tokio::test]
    async fn refuses_in_memory_databases_and_empty_pools() {
        let objects = objects::open_object_store("memory://").unwrap();
        for url in ["sqlite::memory:", "sqlite://file?mode=memory"] {
            assert!(matches!(
                SqliteStore::connect(url, objects.clone(), 1).await,
                Err(StoreError::Config(_))
            ));
        }
        let temp = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/relais.db", temp.path().display());
        assert!(matches!(
            SqliteStore::connect(&url, objects, 0).await,
            Err(StoreError::Config(_))
        ));
    }
}
