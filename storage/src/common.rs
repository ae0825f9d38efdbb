//! Logic shared by both backends: column conversions, turning rows into documents, and the
//! SQL that exports and imports directory tables.

use bytes::Bytes;
use object_store::ObjectStore;

use crate::admin::{Cell, ColumnKind, DIRECTORY_TABLES, DirectoryTable, ExportedRow};
use crate::error::StoreError;
use crate::id::{DocumentId, Seq};
use crate::objects::{self, BlobRecord};
use crate::store::{Snapshot, SnapshotInfo, StoredDocument, StoredUpdate};

/// A seq as the signed 64-bit integer both databases store.
pub(crate) fn seq_to_db(seq: Seq) -> Result<i64, StoreError> {
    i64::try_from(seq.0).map_err(|_| StoreError::Config(format!("seq {seq} is out of range")))
}

/// A stored seq; negative values cannot be written (CHECK constraints), so one means damage.
pub(crate) fn seq_from_db(value: i64) -> Result<Seq, StoreError> {
    u64::try_from(value)
        .map(Seq)
        .map_err(|_| StoreError::corrupt(format!("negative seq {value} in the database")))
}

fn len_from_db(value: i64) -> Result<u64, StoreError> {
    u64::try_from(value)
        .map_err(|_| StoreError::corrupt(format!("negative blob length {value} in the database")))
}

/// A `document_snapshots` row.
pub(crate) struct SnapshotRow {
    pub upto_seq: i64,
    pub object_key: String,
    pub sha256: String,
    pub len: i64,
}

impl SnapshotRow {
    pub(crate) fn into_info(self, pruned_updates: u64) -> Result<SnapshotInfo, StoreError> {
        Ok(SnapshotInfo {
            upto_seq: seq_from_db(self.upto_seq)?,
            len: len_from_db(self.len)?,
            key: self.object_key,
            sha256_hex: self.sha256,
            pruned_updates,
        })
    }
}

/// What one consistent read of a document returned, before the blob is fetched.
pub(crate) struct DocumentRows {
    pub last_seq: i64,
    pub snapshot: Option<SnapshotRow>,
    /// (seq, update bytes), ascending.
    pub updates: Vec<(i64, Vec<u8>)>,
}

/// Checks the rows hang together, fetches and checks the snapshot blob, and builds the document.
pub(crate) async fn assemble(
    objects: &dyn ObjectStore,
    document: &DocumentId,
    rows: DocumentRows,
) -> Result<StoredDocument, StoreError> {
    let last_seq = seq_from_db(rows.last_seq)?;
    let snapshot_upto = match &rows.snapshot {
        Some(snapshot) => seq_from_db(snapshot.upto_seq)?,
        None => Seq(0),
    };
    if snapshot_upto > last_seq {
        return Err(StoreError::corrupt(format!(
            "document {document}: snapshot at seq {snapshot_upto} is past the log's end {last_seq}"
        )));
    }
    // The log after the snapshot must be exactly snapshot_upto+1 ..= last_seq: appends assign
    // consecutive seqs and compaction deletes only what a recorded snapshot covers, so a hole
    // means lost updates, which must not be papered over.
    let updates = updates_from_rows(rows.updates)?;
    let mut expected = snapshot_upto.next();
    for update in &updates {
        if update.seq != expected {
            return Err(StoreError::corrupt(format!(
                "document {document}: update {expected} is missing from the log"
            )));
        }
        expected = expected.next();
    }
    if expected <= last_seq {
        return Err(StoreError::corrupt(format!(
            "document {document}: updates {expected} to {last_seq} are missing from the log"
        )));
    }
    if expected > last_seq.next() {
        return Err(StoreError::corrupt(format!(
            "document {document}: the log has updates past its last seq {last_seq}"
        )));
    }
    let snapshot = match rows.snapshot {
        None => None,
        Some(row) => {
            let record = BlobRecord {
                key: &row.object_key,
                sha256_hex: &row.sha256,
                len: len_from_db(row.len)?,
            };
            let state = objects::fetch_checked(objects, &record).await?;
            Some(Snapshot {
                upto_seq: snapshot_upto,
                state,
            })
        }
    };
    Ok(StoredDocument {
        snapshot,
        updates,
        last_seq,
    })
}

pub(crate) fn updates_from_rows(
    rows: Vec<(i64, Vec<u8>)>,
) -> Result<Vec<StoredUpdate>, StoreError> {
    rows.into_iter()
        .map(|(seq, update)| {
            Ok(StoredUpdate {
                seq: seq_from_db(seq)?,
                update: Bytes::from(update),
            })
        })
        .collect()
}

/// Refuses snapshot points outside the log before anything is written.
pub(crate) fn check_snapshot_point(upto_seq: Seq, last_seq: i64) -> Result<i64, StoreError> {
    let last_seq = seq_from_db(last_seq)?;
    if upto_seq == Seq(0) || upto_seq > last_seq {
        return Err(StoreError::SnapshotBeyondLog { upto_seq, last_seq });
    }
    seq_to_db(upto_seq)
}

/// The seq range an append of `count` updates got, given the counter after the append.
pub(crate) fn appended_range(
    last_after: i64,
    count: i64,
) -> Result<crate::AppendedRange, StoreError> {
    Ok(crate::AppendedRange {
        first: seq_from_db(last_after - count + 1)?,
        last: seq_from_db(last_after)?,
    })
}

/// A document's exported rows, from the rows of either backend: `row` from `documents`,
/// `updates` from `document_updates`, `snapshots` from `document_snapshots`, with `created_at`
/// already as RFC 3339 text.
pub(crate) fn exported_document<R>(
    row: &R,
    updates: &[R],
    snapshots: &[R],
) -> Result<crate::admin::ExportedDocument, StoreError>
where
    R: sqlx::Row,
    for<'r> &'r str: sqlx::ColumnIndex<R>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Vec<u8>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    use crate::admin::{ExportedDocument, ExportedSnapshot, ExportedUpdate};
    Ok(ExportedDocument {
        id: row.try_get("id")?,
        last_seq: row.try_get("last_seq")?,
        created_at: row.try_get("created_at")?,
        document_updates: updates
            .iter()
            .map(|row| {
                Ok(ExportedUpdate {
                    seq: row.try_get("seq")?,
                    update_bytes: row.try_get("update_bytes")?,
                    created_at: row.try_get("created_at")?,
                })
            })
            .collect::<Result<_, StoreError>>()?,
        document_snapshots: snapshots
            .iter()
            .map(|row| {
                Ok(ExportedSnapshot {
                    upto_seq: row.try_get("upto_seq")?,
                    object_key: row.try_get("object_key")?,
                    sha256: row.try_get("sha256")?,
                    len: row.try_get("len")?,
                    created_at: row.try_get("created_at")?,
                })
            })
            .collect::<Result<_, StoreError>>()?,
    })
}

/// `SELECT` of every row of a directory table in primary-key order; `text_order` follows each
/// text key column (Postgres: `COLLATE "C"`, so that text sorts byte-wise as on SQLite).
/// Integers are read as 64-bit whatever their declared width (`access_epoch.id` is an
/// `integer` on Postgres).
pub(crate) fn select_directory_sql(table: &DirectoryTable, text_order: &str) -> String {
    let columns: Vec<String> = table
        .columns
        .iter()
        .map(|column| match column.kind {
            ColumnKind::Integer => format!("CAST({0} AS BIGINT) AS {0}", column.name),
            ColumnKind::Text | ColumnKind::Boolean => column.name.to_owned(),
        })
        .collect();
    let order: Vec<String> = table
        .key_positions()
        .into_iter()
        .map(|position| {
            let column = &table.columns[position];
            match column.kind {
                ColumnKind::Text => format!("{}{text_order}", column.name),
                ColumnKind::Integer | ColumnKind::Boolean => column.name.to_owned(),
            }
        })
        .collect();
    format!(
        "SELECT {} FROM {} ORDER BY {}",
        columns.join(", "),
        table.name,
        order.join(", ")
    )
}

/// One `SELECT` counting the rows of every directory table, one column per table, named as
/// the table.
pub(crate) fn directory_counts_sql() -> String {
    let counts: Vec<String> = DIRECTORY_TABLES
        .iter()
        .map(|table| format!("(SELECT count(*) FROM {0}) AS {0}", table.name))
        .collect();
    format!("SELECT {}", counts.join(", "))
}

/// The counts of [`directory_counts_sql`], in [`DIRECTORY_TABLES`] order.
pub(crate) fn directory_counts<R>(row: &R) -> Result<Vec<u64>, StoreError>
where
    R: sqlx::Row,
    for<'r> &'r str: sqlx::ColumnIndex<R>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    DIRECTORY_TABLES
        .iter()
        .map(|table| {
            let count: i64 = row.try_get(table.name)?;
            Ok(u64::try_from(count).unwrap_or_default())
        })
        .collect()
}

/// A row of [`select_directory_sql`], from either backend.
pub(crate) fn exported_row<R>(table: &DirectoryTable, row: &R) -> Result<ExportedRow, StoreError>
where
    R: sqlx::Row,
    for<'r> &'r str: sqlx::ColumnIndex<R>,
    for<'r> Option<i64>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Option<String>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Option<bool>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    let cells = table
        .columns
        .iter()
        .map(|column| {
            let cell = match column.kind {
                ColumnKind::Text => row
                    .try_get::<Option<String>, _>(column.name)?
                    .map(Cell::Text),
                ColumnKind::Integer => row
                    .try_get::<Option<i64>, _>(column.name)?
                    .map(Cell::Integer),
                ColumnKind::Boolean => row
                    .try_get::<Option<bool>, _>(column.name)?
                    .map(Cell::Boolean),
            };
            match cell {
                Some(cell) => Ok(cell),
                None if column.nullable => Ok(Cell::Null),
                None => Err(StoreError::corrupt(format!(
                    "{}.{} is NULL in the database",
                    table.name, column.name
                ))),
            }
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    Ok(ExportedRow(cells))
}

/// Values bound by one multi-row `INSERT` of directory rows, at most: well under both
/// databases' limits (SQLite 32,766, Postgres 65,535).
const BOUND_VALUES_PER_INSERT: usize = 6_000;

/// Rows of `table` per multi-row `INSERT`: as many as [`BOUND_VALUES_PER_INSERT`] allows
/// (500 rows of 12 columns, 400 of `document_versions`' 15).
pub(crate) fn directory_rows_per_insert(table: &DirectoryTable) -> usize {
    (BOUND_VALUES_PER_INSERT / table.columns.len().max(1)).max(1)
}

/// A multi-row `INSERT` of `rows` (at most [`directory_rows_per_insert`]) into `table`, each
/// cell bound with its column's type, so that a NULL is typed too. A row whose cells do not
/// fit the columns is refused before anything is built.
pub(crate) fn insert_directory_rows<DB>(
    table: &DirectoryTable,
    rows: Vec<ExportedRow>,
) -> Result<sqlx::QueryBuilder<DB>, StoreError>
where
    DB: sqlx::Database,
    DB::Arguments: Default,
    for<'t> Option<String>: sqlx::Encode<'t, DB> + sqlx::Type<DB>,
    for<'t> Option<i64>: sqlx::Encode<'t, DB> + sqlx::Type<DB>,
    for<'t> Option<bool>: sqlx::Encode<'t, DB> + sqlx::Type<DB>,
{
    for row in &rows {
        let fits = row.0.len() == table.columns.len()
            && table.columns.iter().zip(&row.0).all(|(column, cell)| {
                matches!(
                    (column.kind, cell),
                    (ColumnKind::Text, Cell::Text(_))
                        | (ColumnKind::Integer, Cell::Integer(_))
                        | (ColumnKind::Boolean, Cell::Boolean(_))
                ) || (column.nullable && *cell == Cell::Null)
            });
        if !fits {
            return Err(StoreError::corrupt(format!(
                "a row to restore does not fit the columns of {}",
                table.name
            )));
        }
    }
    let names: Vec<&str> = table.columns.iter().map(|column| column.name).collect();
    let mut insert = sqlx::QueryBuilder::<DB>::new(format!(
        "INSERT INTO {} ({}) ",
        table.name,
        names.join(", ")
    ));
    insert.push_values(rows, |mut values, row| {
        for (column, cell) in table.columns.iter().zip(row.0) {
            match (column.kind, cell) {
                (_, Cell::Text(text)) => values.push_bind(Some(text)),
                (_, Cell::Integer(integer)) => values.push_bind(Some(integer)),
                (_, Cell::Boolean(flag)) => values.push_bind(Some(flag)),
                (ColumnKind::Text, Cell::Null) => values.push_bind(None::<String>),
                (ColumnKind::Integer, Cell::Null) => values.push_bind(None::<i64>),
                (ColumnKind::Boolean, Cell::Null) => values.push_bind(None::<bool>),
            };
        }
    });
    Ok(insert)
}

/// The write transaction of a restore's directory rows: the same code for both backends (the
/// `$1` placeholder works on SQLite too), expanded once per backend like `impl_directory!`.
macro_rules! directory_import {
    ($name:ident, $database:ty) => {
        /// The write transaction of a restore's directory rows.
        struct $name {
            transaction: sqlx::Transaction<'static, $database>,
        }

        #[async_trait::async_trait]
        impl $crate::admin::DirectoryImport for $name {
            async fn insert(
                &mut self,
                table: &'static $crate::admin::DirectoryTable,
                rows: Vec<$crate::admin::ExportedRow>,
            ) -> Result<(), $crate::error::StoreError> {
                let per_insert = $crate::common::directory_rows_per_insert(table);
                let mut rows = rows.into_iter().peekable();
                while rows.peek().is_some() {
                    let chunk: Vec<$crate::admin::ExportedRow> =
                        rows.by_ref().take(per_insert).collect();
                    $crate::common::insert_directory_rows::<$database>(table, chunk)?
                        .build()
                        .execute(&mut *self.transaction)
                        .await?;
                }
                Ok(())
            }

            async fn set_access_epoch(
                &mut self,
                epoch: i64,
            ) -> Result<(), $crate::error::StoreError> {
                let updated = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "UPDATE {} SET epoch = $1 WHERE id = 1",
                    $crate::admin::ACCESS_EPOCH
                )))
                .bind(epoch)
                .execute(&mut *self.transaction)
                .await?
                .rows_affected();
                if updated != 1 {
                    return Err($crate::error::StoreError::corrupt(
                        "the access epoch row is missing",
                    ));
                }
                Ok(())
            }

            async fn commit(self: Box<Self>) -> Result<(), $crate::error::StoreError> {
                self.transaction.commit().await?;
                Ok(())
            }
        }
    };
}
pub(crate) use directory_import;
