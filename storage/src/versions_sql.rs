//! The [`Versions`](crate::Versions) implementation both backends share, written once like
//! [`crate::chat_sql`]: `$n` placeholders, times as Unix milliseconds, and the
//! [`impl_versions!`] macro expanding the same bodies for SQLite and Postgres.
//!
//! A version's number comes from `MAX(number) + 1` inside the writing transaction: on SQLite
//! the writer is single, on Postgres the document's counter row is locked first (`documents`,
//! the same lock appends take), so two nodes never pick the same number. Retention never
//! deletes a document's newest version (it is the newest of its bucket), so a number is never
//! given twice.

use crate::directory::UnixMillis;
use crate::directory_sql::DirectoryRow;
use crate::error::StoreError;
use crate::id::{DocumentId, Seq};
use crate::versions::{Decision, Publication, Review, ReviewId, Version, VersionId, VersionKind, VersionSeal};

/// The columns of a `document_versions` row aliased `v`.
macro_rules! version_columns {
    () => {
        "v.id AS v_id, v.document_id AS v_document_id, v.number AS v_number, v.kind AS v_kind,
         v.name AS v_name, v.created_at_ms AS v_created_at_ms, v.created_by AS v_created_by,
         v.authors AS v_authors, v.upto_seq AS v_upto_seq, v.sha256 AS v_sha256, v.len AS v_len,
         v.sealed_at_ms AS v_sealed_at_ms, v.sealed_by AS v_sealed_by,
         v.seal_comment AS v_seal_comment"
    };
}
pub(crate) use version_columns;

/// The columns of a `document_reviews` row, as [`review`] reads them.
macro_rules! review_select {
    () => {
        "SELECT id, document_id, version_id, submitted_by, submitted_at_ms, note, decision,
             decided_by, decided_at_ms, decision_comment FROM document_reviews "
    };
}
pub(crate) use review_select;

fn unsigned(value: i64, what: &str) -> Result<u64, StoreError> {
    u64::try_from(value).map_err(|_| StoreError::corrupt(format!("negative {what}")))
}

pub(crate) fn version(row: &impl DirectoryRow) -> Result<Version, StoreError> {
    let document = DocumentId::parse(&row.text("v_document_id")?)
        .map_err(|error| StoreError::corrupt(format!("stored document id: {error}")))?;
    let authors: Vec<String> = serde_json::from_str(&row.text("v_authors")?)
        .map_err(|error| StoreError::corrupt(format!("version authors: {error}")))?;
    let seal = match (row.optional_int("v_sealed_at_ms")?, row.optional_text("v_sealed_by")?) {
        (Some(sealed_at_ms), Some(sealed_by)) => Some(VersionSeal {
            sealed_at_ms,
            sealed_by,
            comment: row.optional_text("v_seal_comment")?.unwrap_or_default(),
        }),
        _ => None,
    };
    Ok(Version {
        id: VersionId::from_db(row.text("v_id")?),
        document,
        number: unsigned(row.int("v_number")?, "version number")?,
        kind: VersionKind::parse(&row.text("v_kind")?)?,
        name: row.optional_text("v_name")?,
        created_at_ms: row.int("v_created_at_ms")?,
        created_by: row.optional_text("v_created_by")?,
        authors,
        upto_seq: Seq(unsigned(row.int("v_upto_seq")?, "seq")?),
        sha256_hex: row.text("v_sha256")?,
        len: unsigned(row.int("v_len")?, "length")?,
        seal,
    })
}

pub(crate) fn review(row: &impl DirectoryRow) -> Result<Review, StoreError> {
    let decision = match row.optional_text("decision")? {
        None => None,
        Some(decision) => Some(Decision {
            approved: decision == "approved",
            decided_by: row.optional_text("decided_by")?.unwrap_or_default(),
            decided_at_ms: row.optional_int("decided_at_ms")?.unwrap_or_default(),
            comment: row.optional_text("decision_comment")?.unwrap_or_default(),
        }),
    };
    Ok(Review {
        id: ReviewId::from_db(row.text("id")?),
        document: DocumentId::parse(&row.text("document_id")?)
            .map_err(|error| StoreError::corrupt(format!("stored document id: {error}")))?,
        version: VersionId::from_db(row.text("version_id")?),
        submitted_by: row.text("submitted_by")?,
        submitted_at_ms: row.int("submitted_at_ms")?,
        note: row.text("note")?,
        decision,
    })
}

pub(crate) fn publication(row: &impl DirectoryRow) -> Result<Publication, StoreError> {
    Ok(Publication {
        document: DocumentId::parse(&row.text("document_id")?)
            .map_err(|error| StoreError::corrupt(format!("stored document id: {error}")))?,
        version: VersionId::from_db(row.text("version_id")?),
        published_by: row.text("published_by")?,
        published_at_ms: row.int("published_at_ms")?,
    })
}

pub(crate) fn signed(value: u64, what: &str) -> Result<i64, StoreError> {
    i64::try_from(value).map_err(|_| StoreError::Config(format!("{what} beyond i64")))
}

pub(crate) fn now() -> UnixMillis {
    crate::directory_sql::now_ms()
}

/// Locks (creating if needed) the document's counter row, as appends do, and returns its
/// last seq.
pub(crate) const LOCK_DOCUMENT: &str = "INSERT INTO documents (id, last_seq) VALUES ($1, 0)
     ON CONFLICT (id) DO UPDATE SET last_seq = documents.last_seq
     RETURNING last_seq";

macro_rules! impl_versions {
    ($store:ty, backend = $backend:literal $(,)?) => {
        #[async_trait::async_trait]
        impl $crate::versions::Versions for $store {
            #[tracing::instrument(skip_all, fields(backend = $backend, document = %new.document))]
            async fn create_version(
                &self,
                new: $crate::versions::NewVersion,
            ) -> Result<Option<$crate::versions::Version>, $crate::error::StoreError> {
                use $crate::versions_sql as sql;
                use object_store::ObjectStoreExt as _;
                let id = $crate::versions::VersionId::generate();
                let path = $crate::versions::version_path(&new.document, &id);
                let sha256_hex = $crate::objects::sha256_hex(&new.state);
                let len = new.state.len() as u64;
                // Blob first: a row never names a blob that is not there.
                $crate::objects::put_new(self.objects().as_ref(), &path, new.state.clone()).await?;
                let recorded: Result<Option<$crate::versions::Version>, $crate::error::StoreError> = async {
                    let mut transaction = self.directory_writer().await?;
                    sqlx::query(sql::LOCK_DOCUMENT)
                        .bind(new.document.as_str())
                        .fetch_one(&mut *transaction)
                        .await?;
                    let latest: Option<(i64, i64)> = sqlx::query_as(
                        "SELECT number, upto_seq FROM document_versions WHERE document_id = $1
                         ORDER BY number DESC LIMIT 1",
                    )
                    .bind(new.document.as_str())
                    .fetch_optional(&mut *transaction)
                    .await?;
                    let upto = sql::signed(new.upto_seq.0, "seq")?;
                    if new.kind == $crate::versions::VersionKind::Auto
                        && latest.is_some_and(|(_, latest_upto)| latest_upto >= upto)
                    {
                        return Ok(None);
                    }
                    let number = latest.map_or(1, |(number, _)| number + 1);
                    let authors = serde_json::to_string(&new.authors)
                        .map_err(|error| $crate::error::StoreError::Config(error.to_string()))?;
                    sqlx::query(
                        "INSERT INTO document_versions (id, document_id, number, kind, name,
                             created_at_ms, created_by, authors, upto_seq, object_key, sha256, len)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
                    )
                    .bind(id.as_str())
                    .bind(new.document.as_str())
                    .bind(number)
                    .bind(new.kind.as_str())
                    .bind(new.name.as_deref())
                    .bind(new.created_at_ms)
                    .bind(new.created_by.as_deref())
                    .bind(&authors)
                    .bind(upto)
                    .bind(path.as_ref())
                    .bind(&sha256_hex)
                    .bind(sql::signed(len, "length")?)
                    .execute(&mut *transaction)
                    .await?;
                    transaction.commit().await?;
                    Ok(Some($crate::versions::Version {
                        id: id.clone(),
                        document: new.document.clone(),
                        number: number as u64,
                        kind: new.kind,
                        name: new.name.clone(),
                        created_at_ms: new.created_at_ms,
                        created_by: new.created_by.clone(),
                        authors: new.authors.clone(),
                        upto_seq: new.upto_seq,
                        sha256_hex: sha256_hex.clone(),
                        len,
                        seal: None,
                    }))
                }
                .await;
                if !matches!(recorded, Ok(Some(_))) {
                    // Not recorded (skipped or failed): the blob is nobody's.
                    if let Err(error) = self.objects().delete(&path).await {
                        tracing::warn!(key = %path, error = %error, "could not delete an unrecorded version blob");
                    }
                }
                recorded
            }

            async fn list_versions(
                &self,
                document: &$crate::id::DocumentId,
                before: Option<u64>,
                limit: u32,
            ) -> Result<Vec<$crate::versions::Version>, $crate::error::StoreError> {
                use $crate::versions_sql as sql;
                let before = match before {
                    Some(before) => sql::signed(before, "version number")?,
                    None => i64::MAX,
                };
                let rows = sqlx::query(concat!(
                    "SELECT ",
                    $crate::versions_sql::version_columns!(),
                    " FROM document_versions v WHERE v.document_id = $1 AND v.number < $2
                     ORDER BY v.number DESC LIMIT $3"
                ))
                .bind(document.as_str())
                .bind(before)
                .bind($crate::directory_sql::sql_limit(limit))
                .fetch_all(self.directory_reader())
                .await?;
                rows.iter().map(sql::version).collect()
            }

            async fn version(
                &self,
                document: &$crate::id::DocumentId,
                number: u64,
            ) -> Result<Option<$crate::versions::Version>, $crate::error::StoreError> {
                use $crate::versions_sql as sql;
                sqlx::query(concat!(
                    "SELECT ",
                    $crate::versions_sql::version_columns!(),
                    " FROM document_versions v WHERE v.document_id = $1 AND v.number = $2"
                ))
                .bind(document.as_str())
                .bind(sql::signed(number, "version number")?)
                .fetch_optional(self.directory_reader())
                .await?
                .as_ref()
                .map(sql::version)
                .transpose()
            }

            async fn latest_version(
                &self,
                document: &$crate::id::DocumentId,
            ) -> Result<Option<$crate::versions::Version>, $crate::error::StoreError> {
                Ok(self.list_versions(document, None, 1).await?.into_iter().next())
            }

            async fn version_by_id(
                &self,
                id: &$crate::versions::VersionId,
            ) -> Result<Option<$crate::versions::Version>, $crate::error::StoreError> {
                use $crate::versions_sql as sql;
                sqlx::query(concat!(
                    "SELECT ",
                    $crate::versions_sql::version_columns!(),
                    " FROM document_versions v WHERE v.id = $1"
                ))
                .bind(id.as_str())
                .fetch_optional(self.directory_reader())
                .await?
                .as_ref()
                .map(sql::version)
                .transpose()
            }

            async fn version_state(
                &self,
                version: &$crate::versions::Version,
            ) -> Result<bytes::Bytes, $crate::error::StoreError> {
                let path = $crate::versions::version_path(&version.document, &version.id);
                let record = $crate::objects::BlobRecord {
                    key: path.as_ref(),
                    sha256_hex: &version.sha256_hex,
                    len: version.len,
                };
                $crate::objects::fetch_checked(self.objects().as_ref(), &record).await
            }

            async fn freeze(
                &self,
                document: &$crate::id::DocumentId,
            ) -> Result<$crate::id::Seq, $crate::error::StoreError> {
                use $crate::versions_sql as sql;
                let mut transaction = self.directory_writer().await?;
                // The counter row lock orders this freeze with every append: an append that
                // got the lock first is in the returned seq, any later one sees the freeze.
                let last: i64 = sqlx::query_scalar(sql::LOCK_DOCUMENT)
                    .bind(document.as_str())
                    .fetch_one(&mut *transaction)
                    .await?;
                let inserted = sqlx::query(
                    "INSERT INTO document_freezes (document_id, frozen_at_ms) VALUES ($1, $2)
                     ON CONFLICT (document_id) DO NOTHING",
                )
                .bind(document.as_str())
                .bind(sql::now())
                .execute(&mut *transaction)
                .await?
                .rows_affected();
                if inserted == 0 {
                    return Err($crate::error::StoreError::Conflict("the document is already under review".into()));
                }
                // Connections learn from the access epoch that editing has stopped.
                sqlx::query($crate::directory_sql::BUMP_ACCESS_EPOCH).execute(&mut *transaction).await?;
                transaction.commit().await?;
                Ok($crate::id::Seq(sql::unsigned_seq(last)?))
            }

            async fn unfreeze(&self, document: &$crate::id::DocumentId) -> Result<(), $crate::error::StoreError> {
                let mut transaction = self.directory_writer().await?;
                sqlx::query("DELETE FROM document_freezes WHERE document_id = $1")
                    .bind(document.as_str())
                    .execute(&mut *transaction)
                    .await?;
                sqlx::query($crate::directory_sql::BUMP_ACCESS_EPOCH).execute(&mut *transaction).await?;
                transaction.commit().await?;
                Ok(())
            }

            async fn last_seq(&self, document: &$crate::id::DocumentId) -> Result<$crate::id::Seq, $crate::error::StoreError> {
                let last: Option<i64> = sqlx::query_scalar("SELECT last_seq FROM documents WHERE id = $1")
                    .bind(document.as_str())
                    .fetch_optional(self.directory_reader())
                    .await?;
                Ok($crate::id::Seq($crate::versions_sql::unsigned_seq(last.unwrap_or(0))?))
            }

            async fn is_frozen(&self, document: &$crate::id::DocumentId) -> Result<bool, $crate::error::StoreError> {
                let row: Option<i64> = sqlx::query_scalar("SELECT frozen_at_ms FROM document_freezes WHERE document_id = $1")
                    .bind(document.as_str())
                    .fetch_optional(self.directory_reader())
                    .await?;
                Ok(row.is_some())
            }

            async fn submit(
                &self,
                document: &$crate::id::DocumentId,
                version: &$crate::versions::VersionId,
                submitted_by: &str,
                note: &str,
                at_ms: $crate::directory::UnixMillis,
            ) -> Result<$crate::versions::Review, $crate::error::StoreError> {
                let mut transaction = self.directory_writer().await?;
                let frozen: Option<i64> = sqlx::query_scalar("SELECT frozen_at_ms FROM document_freezes WHERE document_id = $1")
                    .bind(document.as_str())
                    .fetch_optional(&mut *transaction)
                    .await?;
                if frozen.is_none() {
                    return Err($crate::error::StoreError::Conflict("the document is not frozen".into()));
                }
                let review = $crate::versions::Review {
                    id: $crate::versions::ReviewId::generate(),
                    document: document.clone(),
                    version: version.clone(),
                    submitted_by: submitted_by.to_owned(),
                    submitted_at_ms: at_ms,
                    note: note.to_owned(),
                    decision: None,
                };
                let inserted = sqlx::query(
                    "INSERT INTO document_reviews (id, document_id, version_id, submitted_by,
                         submitted_at_ms, note)
                     SELECT $1, $2, $3, $4, $5, $6
                     WHERE EXISTS (SELECT 1 FROM document_versions WHERE id = $3 AND document_id = $2)",
                )
                .bind(review.id.as_str())
                .bind(document.as_str())
                .bind(version.as_str())
                .bind(submitted_by)
                .bind(at_ms)
                .bind(note)
                .execute(&mut *transaction)
                .await
                .map_err(|error| {
                    $crate::directory_sql::classify(
                        error,
                        &[("document_reviews_open", "a review is already open")],
                        "version",
                    )
                })?
                .rows_affected();
                if inserted == 0 {
                    return Err($crate::error::StoreError::NotFound("version of this document".into()));
                }
                transaction.commit().await?;
                Ok(review)
            }

            #[tracing::instrument(skip_all, fields(backend = $backend, document = %document))]
            async fn decide(
                &self,
                document: &$crate::id::DocumentId,
                decision: $crate::versions::Decision,
            ) -> Result<$crate::versions::Review, $crate::error::StoreError> {
                use $crate::versions_sql as sql;
                let mut transaction = self.directory_writer().await?;
                let row = sqlx::query(concat!($crate::versions_sql::review_select!(), "WHERE document_id = $1 AND decision IS NULL"))
                    .bind(document.as_str())
                    .fetch_optional(&mut *transaction)
                    .await?;
                let Some(row) = row else {
                    return Err($crate::error::StoreError::NotFound("open review".into()));
                };
                let mut review = sql::review(&row)?;
                let verdict = if decision.approved { "approved" } else { "rejected" };
                let updated = sqlx::query(
                    "UPDATE document_reviews SET decision = $1, decided_by = $2, decided_at_ms = $3,
                         decision_comment = $4
                     WHERE id = $5 AND decision IS NULL",
                )
                .bind(verdict)
                .bind(&decision.decided_by)
                .bind(decision.decided_at_ms)
                .bind(&decision.comment)
                .bind(review.id.as_str())
                .execute(&mut *transaction)
                .await?
                .rows_affected();
                if updated == 0 {
                    return Err($crate::error::StoreError::NotFound("open review".into()));
                }
                if decision.approved {
                    sqlx::query(
                        "UPDATE document_versions SET sealed_at_ms = $1, sealed_by = $2, seal_comment = $3
                         WHERE id = $4",
                    )
                    .bind(decision.decided_at_ms)
                    .bind(&decision.decided_by)
                    .bind(&decision.comment)
                    .bind(review.version.as_str())
                    .execute(&mut *transaction)
                    .await?;
                }
                sqlx::query("DELETE FROM document_freezes WHERE document_id = $1")
                    .bind(document.as_str())
                    .execute(&mut *transaction)
                    .await?;
                sqlx::query($crate::directory_sql::BUMP_ACCESS_EPOCH).execute(&mut *transaction).await?;
                transaction.commit().await?;
                review.decision = Some(decision);
                Ok(review)
            }

            async fn reviews(
                &self,
                document: &$crate::id::DocumentId,
            ) -> Result<Vec<$crate::versions::Review>, $crate::error::StoreError> {
                use $crate::versions_sql as sql;
                let rows = sqlx::query(concat!(
                    $crate::versions_sql::review_select!(),
                    "WHERE document_id = $1 ORDER BY submitted_at_ms DESC, id"
                )).bind(document.as_str()).fetch_all(self.directory_reader()).await?;
                rows.iter().map(sql::review).collect()
            }

            async fn publish(
                &self,
                publication: &$crate::versions::Publication,
            ) -> Result<(), $crate::error::StoreError> {
                let mut transaction = self.directory_writer().await?;
                let sealed: Option<Option<i64>> = sqlx::query_scalar(
                    "SELECT sealed_at_ms FROM document_versions WHERE id = $1 AND document_id = $2",
                )
                .bind(publication.version.as_str())
                .bind(publication.document.as_str())
                .fetch_optional(&mut *transaction)
                .await?;
                match sealed {
                    None => return Err($crate::error::StoreError::NotFound("version".into())),
                    Some(None) => {
                        return Err($crate::error::StoreError::Conflict("only an approved version can be published".into()));
                    }
                    Some(Some(_)) => {}
                }
                sqlx::query(
                    "INSERT INTO document_publications (document_id, version_id, published_by, published_at_ms)
                     VALUES ($1, $2, $3, $4)
                     ON CONFLICT (document_id) DO UPDATE SET version_id = excluded.version_id,
                         published_by = excluded.published_by, published_at_ms = excluded.published_at_ms",
                )
                .bind(publication.document.as_str())
                .bind(publication.version.as_str())
                .bind(&publication.published_by)
                .bind(publication.published_at_ms)
                .execute(&mut *transaction)
                .await?;
                transaction.commit().await?;
                Ok(())
            }

            async fn unpublish(&self, document: &$crate::id::DocumentId) -> Result<bool, $crate::error::StoreError> {
                let mut transaction = self.directory_writer().await?;
                let deleted = sqlx::query("DELETE FROM document_publications WHERE document_id = $1")
                    .bind(document.as_str())
                    .execute(&mut *transaction)
                    .await?
                    .rows_affected();
                transaction.commit().await?;
                Ok(deleted > 0)
            }

            async fn publication(
                &self,
                document: &$crate::id::DocumentId,
            ) -> Result<Option<$crate::versions::Publication>, $crate::error::StoreError> {
                use $crate::versions_sql as sql;
                sqlx::query(
                    "SELECT document_id, version_id, published_by, published_at_ms
                     FROM document_publications WHERE document_id = $1",
                )
                .bind(document.as_str())
                .fetch_optional(self.directory_reader())
                .await?
                .as_ref()
                .map(sql::publication)
                .transpose()
            }

            async fn record_clients(
                &self,
                document: &$crate::id::DocumentId,
                clients: &[(u64, String)],
                at_ms: $crate::directory::UnixMillis,
            ) -> Result<(), $crate::error::StoreError> {
                use $crate::versions_sql as sql;
                if clients.is_empty() {
                    return Ok(());
                }
                let mut transaction = self.directory_writer().await?;
                for (client, user) in clients {
                    sqlx::query(
                        "INSERT INTO document_clients (document_id, client_id, user_id, first_seen_ms)
                         VALUES ($1, $2, $3, $4) ON CONFLICT (document_id, client_id) DO NOTHING",
                    )
                    .bind(document.as_str())
                    .bind(sql::signed(*client, "client id")?)
                    .bind(user)
                    .bind(at_ms)
                    .execute(&mut *transaction)
                    .await?;
                }
                transaction.commit().await?;
                Ok(())
            }

            async fn client_users(
                &self,
                document: &$crate::id::DocumentId,
                clients: &[u64],
            ) -> Result<Vec<(u64, String)>, $crate::error::StoreError> {
                if clients.is_empty() {
                    return Ok(Vec::new());
                }
                // A document has a few hundred client ids at most: read them all and filter.
                let rows: Vec<(i64, String)> =
                    sqlx::query_as("SELECT client_id, user_id FROM document_clients WHERE document_id = $1")
                        .bind(document.as_str())
                        .fetch_all(self.directory_reader())
                        .await?;
                let wanted: std::collections::HashSet<u64> = clients.iter().copied().collect();
                Ok(rows
                    .into_iter()
                    .filter_map(|(client, user)| u64::try_from(client).ok().map(|client| (client, user)))
                    .filter(|(client, _)| wanted.contains(client))
                    .collect())
            }

            async fn record_export(
                &self,
                version: &$crate::versions::VersionId,
                format: &str,
                sha256_hex: &str,
                at_ms: $crate::directory::UnixMillis,
            ) -> Result<(), $crate::error::StoreError> {
                let sha256_hex = sha256_hex.to_ascii_lowercase();
                let mut transaction = self.directory_writer().await?;
                sqlx::query(
                    "INSERT INTO version_exports (version_id, format, sha256, created_at_ms)
                     VALUES ($1, $2, $3, $4) ON CONFLICT (version_id, format, sha256) DO NOTHING",
                )
                .bind(version.as_str())
                .bind(format)
                .bind(&sha256_hex)
                .bind(at_ms)
                .execute(&mut *transaction)
                .await?;
                transaction.commit().await?;
                Ok(())
            }

            async fn find_sealed(
                &self,
                sha256_hex: &str,
            ) -> Result<Option<$crate::versions::SealedMatch>, $crate::error::StoreError> {
                use $crate::versions_sql as sql;
                let sha256_hex = sha256_hex.to_ascii_lowercase();
                let state = sqlx::query(concat!(
                    "SELECT ",
                    $crate::versions_sql::version_columns!(),
                    " FROM document_versions v WHERE v.sha256 = $1 AND v.sealed_at_ms IS NOT NULL
                     ORDER BY v.created_at_ms LIMIT 1"
                ))
                .bind(&sha256_hex)
                .fetch_optional(self.directory_reader())
                .await?;
                if let Some(row) = state {
                    return Ok(Some($crate::versions::SealedMatch { version: sql::version(&row)?, format: None }));
                }
                let export = sqlx::query(concat!(
                    "SELECT e.format AS e_format, ",
                    $crate::versions_sql::version_columns!(),
                    " FROM version_exports e JOIN document_versions v ON v.id = e.version_id
                     WHERE e.sha256 = $1 AND v.sealed_at_ms IS NOT NULL
                     ORDER BY e.created_at_ms LIMIT 1"
                ))
                .bind(&sha256_hex)
                .fetch_optional(self.directory_reader())
                .await?;
                export
                    .map(|row| {
                        Ok($crate::versions::SealedMatch {
                            version: sql::version(&row)?,
                            format: Some($crate::directory_sql::DirectoryRow::text(&row, "e_format")?),
                        })
                    })
                    .transpose()
            }

            #[tracing::instrument(skip_all, fields(backend = $backend))]
            async fn apply_retention(
                &self,
                policy: $crate::versions::RetentionPolicy,
                now_ms: $crate::directory::UnixMillis,
            ) -> Result<u64, $crate::error::StoreError> {
                use object_store::ObjectStoreExt as _;
                use $crate::versions_sql as sql;
                // Candidates: automatic, unsealed, not submitted for review, not published.
                let rows = sqlx::query(concat!(
                    "SELECT ",
                    $crate::versions_sql::version_columns!(),
                    " FROM document_versions v
                     WHERE v.kind = 'auto' AND v.sealed_at_ms IS NULL AND v.created_at_ms < $1
                         AND NOT EXISTS (SELECT 1 FROM document_reviews r WHERE r.version_id = v.id)
                         AND NOT EXISTS (SELECT 1 FROM document_publications p WHERE p.version_id = v.id)
                         AND NOT EXISTS (SELECT 1 FROM version_exports e WHERE e.version_id = v.id)"
                ))
                .bind(now_ms - policy.keep_all_ms)
                .fetch_all(self.directory_reader())
                .await?;
                let candidates: Vec<$crate::versions::Version> = rows.iter().map(sql::version).collect::<Result<_, _>>()?;
                let mut by_document: std::collections::HashMap<&str, Vec<&$crate::versions::Version>> =
                    std::collections::HashMap::new();
                for version in &candidates {
                    by_document.entry(version.document.as_str()).or_default().push(version);
                }
                let mut deleted = 0;
                for versions in by_document.values() {
                    // The newest version of the document is kept whatever its age, so that
                    // numbers are never reused.
                    let newest = self.latest_version(&versions[0].document).await?.map(|latest| latest.number);
                    let keyed: Vec<(u64, i64)> = versions
                        .iter()
                        .filter(|version| Some(version.number) != newest)
                        .map(|version| (version.number, version.created_at_ms))
                        .collect();
                    let victims = $crate::versions::retention_victims(&keyed, policy, now_ms);
                    for version in versions.iter().filter(|version| victims.contains(&version.number)) {
                        let mut transaction = self.directory_writer().await?;
                        let removed = sqlx::query(
                            "DELETE FROM document_versions WHERE id = $1 AND kind = 'auto' AND sealed_at_ms IS NULL",
                        )
                        .bind(version.id.as_str())
                        .execute(&mut *transaction)
                        .await
                        .map_err(|error| $crate::directory_sql::classify(error, &[], "version"));
                        match removed {
                            Ok(result) if result.rows_affected() == 1 => {
                                transaction.commit().await?;
                            }
                            // Reviewed or exported meanwhile (foreign key), or gone already.
                            Ok(_) | Err($crate::error::StoreError::NotFound(_)) => continue,
                            Err(error) => return Err(error),
                        }
                        deleted += 1;
                        let path = $crate::versions::version_path(&version.document, &version.id);
                        if let Err(error) = self.objects().delete(&path).await {
                            tracing::warn!(key = %path, error = %error, "version row deleted but not its blob");
                        }
                    }
                }
                Ok(deleted)
            }
        }
    };
}
pub(crate) use impl_versions;

pub(crate) fn unsigned_seq(value: i64) -> Result<u64, StoreError> {
    unsigned(value, "seq")
}
