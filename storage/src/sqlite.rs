//! The embedded backend: one SQLite file plus an object store.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use object_store::ObjectStore;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{Row, SqliteConnection};
use tracing::instrument;

use crate::common::{self, DocumentRows, SnapshotRow};
use crate::error::StoreError;
use crate::id::{DocumentId, Seq};
use crate::objects;
use crate::store::{AppendedRange, SnapshotInfo, Store, StoredDocument, StoredUpdate};

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
        if max_connections == 0 {
            return Err(StoreError::Config(
                "max_connections must be at least 1".into(),
            ));
        }
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
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // FULL: a commit is on disk before it returns, so a relayed update survives a
            // process kill and a power loss.
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true);
        if let Some(parent) = options.get_filename().parent()
            && !parent.as_os_str().is_empty()
        {
            tokio::fs::create_dir_all(parent).await.map_err(|error| {
                StoreError::Config(format!(
                    "cannot create database directory {}: {error}",
                    parent.display()
                ))
            })?;
        }
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options.clone())
            .await?;
        crate::migrations::sqlite().run(&writer).await?;
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
}

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
        let first = last_after - count + 1;
        for (seq, update) in (first..).zip(updates) {
            sqlx::query(
                "INSERT INTO document_updates (document_id, seq, update_bytes) VALUES (?1, ?2, ?3)",
            )
            .bind(document.as_str())
            .bind(seq)
            .bind(update.as_ref())
            .execute(&mut *transaction)
            .await?;
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
