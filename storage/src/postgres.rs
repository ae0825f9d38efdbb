//! The shared backend: Postgres plus an object store, safe for several server processes.

use std::str::FromStr;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::StreamExt as _;
use futures_util::stream::BoxStream;
use object_store::ObjectStore;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgRow};
use sqlx::{AssertSqlSafe, Connection, PgConnection, Postgres, Row};
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

/// A [`Store`] on Postgres and an object store.
///
/// Several processes may share one database: seqs come from a row lock on `documents`, and
/// loads read in a repeatable-read transaction.
/// Tables go to the first schema of the connection's `search_path`, which a URL can set with
/// `?options=-c%20search_path%3Dmy_schema` (the schema must exist).
pub struct PostgresStore {
    pool: PgPool,
    objects: Arc<dyn ObjectStore>,
}

impl PostgresStore {
    /// Connects to `url` (`postgres://...`), runs the migrations, and keeps `objects` for
    /// snapshot blobs. `max_connections` bounds the pool.
    pub async fn connect(
        url: &str,
        objects: Arc<dyn ObjectStore>,
        max_connections: u32,
    ) -> Result<Self, StoreError> {
        Self::open(url, objects, max_connections, Migrations::Apply).await
    }

    /// [`PostgresStore::connect`] with the schema handled as `migrations` says.
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
        let options = connect_options(url)?;
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .connect_with(options)
            .await?;
        let status = match migrations {
            Migrations::Apply => None,
            Migrations::Create | Migrations::Require => {
                let mut connection = pool.acquire().await?;
                Some(schema_status(&mut connection).await?)
            }
        };
        if let Err(error) = check_schema(migrations, status) {
            pool.close().await;
            return Err(error);
        }
        if migrations != Migrations::Require {
            // Migrations take a database-wide advisory lock, so processes starting together
            // apply them once.
            crate::migrations::postgres().run(&pool).await?;
        }
        Ok(Self { pool, objects })
    }

    pub(crate) fn objects(&self) -> &Arc<dyn ObjectStore> {
        &self.objects
    }

    pub(crate) async fn document_names(&self) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query("SELECT id FROM documents ORDER BY id")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|row| Ok(row.try_get("id")?)).collect()
    }

    pub(crate) async fn document_count(&self) -> Result<u64, StoreError> {
        let count: i64 = sqlx::query("SELECT count(*) AS count FROM documents")
            .fetch_one(&self.pool)
            .await?
            .try_get("count")?;
        Ok(u64::try_from(count).unwrap_or_default())
    }

    /// Rows of each directory table, in [`crate::admin::DIRECTORY_TABLES`] order.
    pub(crate) async fn directory_counts(&self) -> Result<Vec<u64>, StoreError> {
        let row = sqlx::query(AssertSqlSafe(common::directory_counts_sql()))
            .fetch_one(&self.pool)
            .await?;
        common::directory_counts(&row)
    }

    /// One transaction for every directory row of a restore.
    pub(crate) async fn import_directory(&self) -> Result<Box<dyn DirectoryImport>, StoreError> {
        let transaction = self.pool.begin().await?;
        Ok(Box::new(PostgresDirectoryImport { transaction }))
    }

    /// One repeatable-read, read-only transaction for the whole export: every row comes from
    /// the same snapshot of the database, whatever other nodes commit meanwhile.
    pub(crate) async fn export(&self) -> Result<Box<dyn ExportReader>, StoreError> {
        let transaction = self
            .pool
            .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .await?;
        Ok(Box::new(PostgresExport { transaction }))
    }

    pub(crate) async fn import_document(
        &self,
        document: &ExportedDocument,
    ) -> Result<bool, StoreError> {
        let mut transaction = self.pool.begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO documents (id, last_seq, created_at) VALUES ($1, $2, $3::timestamptz)
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
        let seqs: Vec<i64> = document.document_updates.iter().map(|u| u.seq).collect();
        let payloads: Vec<&[u8]> = document
            .document_updates
            .iter()
            .map(|u| u.update_bytes.as_slice())
            .collect();
        let times: Vec<&str> = document
            .document_updates
            .iter()
            .map(|u| u.created_at.as_str())
            .collect();
        sqlx::query(
            "INSERT INTO document_updates (document_id, seq, update_bytes, created_at)
             SELECT $1, batch.seq, batch.update_bytes, batch.created_at::timestamptz
             FROM UNNEST($2::bigint[], $3::bytea[], $4::text[])
                 AS batch (seq, update_bytes, created_at)",
        )
        .bind(&document.id)
        .bind(seqs)
        .bind(payloads)
        .bind(times)
        .execute(&mut *transaction)
        .await?;
        for snapshot in &document.document_snapshots {
            sqlx::query(
                "INSERT INTO document_snapshots
                     (document_id, upto_seq, object_key, sha256, len, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6::timestamptz)",
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

impl PostgresStore {
    /// A directory write: a read-committed transaction from the pool; the audit append adds
    /// its own table lock.
    async fn directory_writer(&self) -> Result<sqlx::Transaction<'static, Postgres>, sqlx::Error> {
        self.pool.begin().await
    }

    fn directory_reader(&self) -> &PgPool {
        &self.pool
    }
}

// Appends from every process queue on this table lock (it conflicts with itself and with
// inserts, not with reads), so each reads the last entry only after the previous append
// committed: one unbroken chain. A row lock cannot do it: the first append has no row to lock.
crate::directory_sql::impl_directory!(
    PostgresStore,
    backend = "postgres",
    audit_lock = Some("LOCK TABLE audit_log IN SHARE ROW EXCLUSIVE MODE")
);

// Chat SQL with ids bound as a text[] and search through the generated tsvector column.
crate::versions_sql::impl_versions!(PostgresStore, backend = "postgres");

crate::chat_sql::impl_chat!(
    PostgresStore,
    backend = "postgres",
    db = sqlx::Postgres,
    in_ids = "= ANY($1)",
    id_list = crate::chat_sql::postgres_id_list,
    search = crate::chat_sql::POSTGRES_SEARCH,
    search_query = crate::chat_sql::websearch_query,
);

fn connect_options(url: &str) -> Result<PgConnectOptions, StoreError> {
    PgConnectOptions::from_str(url)
        .map_err(|error| StoreError::Config(format!("invalid Postgres URL: {error}")))
}

/// A timestamp column as RFC 3339 UTC text with microseconds, the form backups carry.
macro_rules! utc_text {
    ($column:literal) => {
        concat!(
            "to_char(",
            $column,
            " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
        )
    };
}

/// The schema status, read without creating sqlx's migrations table. The table is looked up
/// through the connection's `search_path`, as sqlx itself finds it.
async fn schema_status(connection: &mut PgConnection) -> Result<SchemaStatus, StoreError> {
    let present: bool =
        sqlx::query("SELECT to_regclass('_sqlx_migrations') IS NOT NULL AS present")
            .fetch_one(&mut *connection)
            .await?
            .try_get("present")?;
    let applied = if present {
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
    } else {
        None
    };
    Ok(crate::migrations::status(
        &crate::migrations::postgres(),
        applied,
    ))
}

/// `relais doctor`'s look at the database: one connection, so that a refused connection is
/// reported at once with its cause instead of after a pool's retries.
pub(crate) async fn check(url: &str) -> Result<DatabaseCheck, StoreError> {
    let mut connection = PgConnection::connect_with(&connect_options(url)?).await?;
    let schema = schema_status(&mut connection).await?;
    let clock_offset_ms = clock_offset_ms(async {
        let now_ms: i64 =
            sqlx::query("SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint AS now_ms")
                .fetch_one(&mut connection)
                .await?
                .try_get("now_ms")?;
        Ok(now_ms)
    })
    .await?;
    connection.close().await?;
    Ok(DatabaseCheck {
        backend: "postgres",
        schema,
        clock_offset_ms,
    })
}

/// The read transaction of an export.
struct PostgresExport {
    transaction: sqlx::Transaction<'static, Postgres>,
}

#[async_trait::async_trait]
impl ExportReader for PostgresExport {
    async fn header(&mut self) -> Result<ExportHeader, StoreError> {
        // now() is the transaction's start, the moment its snapshot was taken.
        let row = sqlx::query(concat!(
            "SELECT ",
            utc_text!("now()"),
            " AS as_of,
                    (SELECT count(*) FROM documents) AS documents,
                    (SELECT count(*) FROM document_updates) AS updates,
                    (SELECT count(*) FROM document_snapshots) AS snapshots"
        ))
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
        let Some(row) = sqlx::query(concat!(
            "SELECT id, last_seq, ",
            utc_text!("created_at"),
            " AS created_at FROM documents WHERE id = $1"
        ))
        .bind(name)
        .fetch_optional(&mut *self.transaction)
        .await?
        else {
            return Ok(None);
        };
        let updates = sqlx::query(concat!(
            "SELECT seq, update_bytes, ",
            utc_text!("created_at"),
            " AS created_at FROM document_updates WHERE document_id = $1 ORDER BY seq"
        ))
        .bind(name)
        .fetch_all(&mut *self.transaction)
        .await?;
        let snapshots = sqlx::query(concat!(
            "SELECT upto_seq, object_key, sha256, len, ",
            utc_text!("created_at"),
            " AS created_at FROM document_snapshots WHERE document_id = $1 ORDER BY upto_seq"
        ))
        .bind(name)
        .fetch_all(&mut *self.transaction)
        .await?;
        common::exported_document(&row, &updates, &snapshots).map(Some)
    }

    fn directory_rows<'a>(
        &'a mut self,
        table: &'static DirectoryTable,
    ) -> BoxStream<'a, Result<ExportedRow, StoreError>> {
        // The "C" collation compares text byte-wise, as SQLite does, whatever the database's
        // own collation: both backends then write rows in the same order.
        sqlx::query(AssertSqlSafe(common::select_directory_sql(
            table,
            " COLLATE \"C\"",
        )))
        .fetch(&mut *self.transaction)
        .map(move |row| common::exported_row(table, &row?))
        .boxed()
    }

    async fn finish(self: Box<Self>) -> Result<(), StoreError> {
        self.transaction.commit().await?;
        Ok(())
    }
}

crate::common::directory_import!(PostgresDirectoryImport, Postgres);

async fn last_seq(connection: &mut PgConnection, document: &DocumentId) -> Result<i64, StoreError> {
    let row = sqlx::query("SELECT last_seq FROM documents WHERE id = $1")
        .bind(document.as_str())
        .fetch_optional(connection)
        .await?;
    Ok(match row {
        Some(row) => row.try_get("last_seq")?,
        None => 0,
    })
}

fn snapshot_row(row: &PgRow) -> Result<SnapshotRow, StoreError> {
    Ok(SnapshotRow {
        upto_seq: row.try_get("upto_seq")?,
        object_key: row.try_get("object_key")?,
        sha256: row.try_get("sha256")?,
        len: row.try_get("len")?,
    })
}

fn update_rows(rows: &[PgRow]) -> Result<Vec<(i64, Vec<u8>)>, StoreError> {
    rows.iter()
        .map(|row| Ok((row.try_get("seq")?, row.try_get("update_bytes")?)))
        .collect()
}

#[async_trait::async_trait]
impl Store for PostgresStore {
    #[instrument(skip_all, fields(backend = "postgres", document = %document, count = updates.len()))]
    async fn append_updates(
        &self,
        document: &DocumentId,
        updates: &[Bytes],
    ) -> Result<AppendedRange, StoreError> {
        if updates.is_empty() {
            let mut connection = self.pool.acquire().await?;
            let last = common::seq_from_db(last_seq(&mut connection, document).await?)?;
            return Ok(AppendedRange {
                first: last.next(),
                last,
            });
        }
        let count = i64::try_from(updates.len())
            .map_err(|_| StoreError::Config("too many updates in one append".into()))?;
        let mut transaction = self.pool.begin().await?;
        // The upsert locks the document's counter row until commit, so appenders on every
        // process queue there and each gets its own consecutive block of seqs.
        let last_after: i64 = sqlx::query(
            "INSERT INTO documents (id, last_seq) VALUES ($1, $2)
             ON CONFLICT (id) DO UPDATE SET last_seq = documents.last_seq + EXCLUDED.last_seq
             RETURNING last_seq",
        )
        .bind(document.as_str())
        .bind(count)
        .fetch_one(&mut *transaction)
        .await?
        .try_get("last_seq")?;
        let first = last_after - count + 1;
        let seqs: Vec<i64> = (first..=last_after).collect();
        let payloads: Vec<&[u8]> = updates.iter().map(AsRef::as_ref).collect();
        // A new statement, so it sees a freeze committed while we waited for the row lock;
        // a frozen document gets nothing, and the transaction (and its seqs) is rolled back.
        let inserted = sqlx::query(
            "INSERT INTO document_updates (document_id, seq, update_bytes)
             SELECT $1, batch.seq, batch.update_bytes
             FROM UNNEST($2::bigint[], $3::bytea[]) AS batch (seq, update_bytes)
             WHERE NOT EXISTS (SELECT 1 FROM document_freezes WHERE document_id = $1)",
        )
        .bind(document.as_str())
        .bind(seqs)
        .bind(payloads)
        .execute(&mut *transaction)
        .await?
        .rows_affected();
        if inserted == 0 {
            return Err(StoreError::Frozen(document.to_string()));
        }
        transaction.commit().await?;
        common::appended_range(last_after, count)
    }

    #[instrument(skip_all, fields(backend = "postgres", document = %document))]
    async fn load(&self, document: &DocumentId) -> Result<StoredDocument, StoreError> {
        // One snapshot of the database for all three reads, so a compaction committed by
        // another node meanwhile cannot make the snapshot row and the tail disagree.
        let mut transaction = self
            .pool
            .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .await?;
        let last_seq = last_seq(&mut transaction, document).await?;
        let snapshot = sqlx::query(
            "SELECT upto_seq, object_key, sha256, len FROM document_snapshots
             WHERE document_id = $1 ORDER BY upto_seq DESC LIMIT 1",
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
             WHERE document_id = $1 AND seq > $2 ORDER BY seq",
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

    #[instrument(skip_all, fields(backend = "postgres", document = %document, after = after.0))]
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
             WHERE document_id = $1 AND seq > $2 ORDER BY seq",
        )
        .bind(document.as_str())
        .bind(after)
        .fetch_all(&self.pool)
        .await?;
        common::updates_from_rows(update_rows(&rows)?)
    }

    #[instrument(skip_all, fields(backend = "postgres", document = %document, upto_seq = upto_seq.0, len = state.len()))]
    async fn write_snapshot(
        &self,
        document: &DocumentId,
        upto_seq: Seq,
        state: Bytes,
    ) -> Result<SnapshotInfo, StoreError> {
        // The counter only grows, so a check outside the write transaction stays true.
        let upto = {
            let mut connection = self.pool.acquire().await?;
            common::check_snapshot_point(upto_seq, last_seq(&mut connection, document).await?)?
        };
        let sha256 = objects::sha256_hex(&state);
        let len = i64::try_from(state.len())
            .map_err(|_| StoreError::Config("snapshot larger than i64::MAX bytes".into()))?;
        let path = objects::snapshot_path(document, upto_seq);
        // Blob first: if this fails, nothing below runs and nothing is deleted.
        objects::put_new(self.objects.as_ref(), &path, state).await?;
        let key = path.as_ref();

        let mut transaction = self.pool.begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO document_snapshots (document_id, upto_seq, object_key, sha256, len)
             VALUES ($1, $2, $3, $4, $5)
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
            // Visible here: ON CONFLICT waited for the other transaction to commit.
            let row = sqlx::query(
                "SELECT upto_seq, object_key, sha256, len FROM document_snapshots
                 WHERE document_id = $1 AND upto_seq = $2",
            )
            .bind(document.as_str())
            .bind(upto)
            .fetch_one(&mut *transaction)
            .await?;
            snapshot_row(&row)?
        };
        let pruned =
            sqlx::query("DELETE FROM document_updates WHERE document_id = $1 AND seq <= $2")
                .bind(document.as_str())
                .bind(upto)
                .execute(&mut *transaction)
                .await?
                .rows_affected();
        transaction.commit().await?;
        recorded.into_info(pruned)
    }

    async fn check_ready(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        objects::check_reachable(self.objects.as_ref()).await
    }

    fn backend_name(&self) -> &'static str {
        "postgres"
    }

    async fn close(&self) {
        self.pool.close().await;
    }
}
