//! The one error type at this crate's boundary.

use crate::id::Seq;
use crate::migrations::SchemaStatus;

/// Everything that can go wrong in the store, as variants the caller acts on.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be reached or refused the statement: retry later.
    #[error("database unavailable")]
    Database(#[from] sqlx::Error),
    /// The object store could not be reached or refused the request: retry later.
    #[error("object store unavailable")]
    ObjectStore(#[source] object_store::Error),
    /// What is stored does not match what was recorded (checksum mismatch, missing blob for a
    /// row, a gap in the update log). Retrying will not help; an operator has to look.
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// The caller asked to snapshot a point that is not in the document's log: `upto_seq` must
    /// be in `1..=last_seq`. This is a bug in the caller (its idea of the log is wrong), not
    /// damage to stored data; nothing was written.
    #[error("cannot snapshot at seq {upto_seq}: the document's log ends at seq {last_seq}")]
    SnapshotBeyondLog {
        /// The point the caller asked for.
        upto_seq: Seq,
        /// The highest seq the store has assigned for this document.
        last_seq: Seq,
    },
    /// The database schema could not be brought up to date.
    #[error("migration failed")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The database schema is not the one this build expects, and the caller asked not to
    /// migrate it (administration commands): nothing was read or written.
    #[error("the database schema does not match this relais: {0}")]
    Schema(SchemaStatus),
    /// Something with the same unique key exists already (an e-mail, an organisation name,
    /// an OIDC subject, an id): nothing was written.
    #[error("already exists: {0}")]
    Conflict(String),
    /// A user, workspace, document or invitation the call refers to does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// The document is frozen for review: nothing was appended. Not a failure to retry: the
    /// caller refuses the edit, as for a reader.
    #[error("document {0} is frozen for review")]
    Frozen(String),
    /// A URL or setting cannot be used (unknown scheme, malformed URL, zero pool size...).
    #[error("invalid configuration: {0}")]
    Config(String),
}

impl StoreError {
    /// True when the failure is in reaching the database or the object store, so the same
    /// call may succeed later (readiness probe fails, persister retries, client gets 503).
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Self::Database(_) | Self::ObjectStore(_))
    }

    pub(crate) fn corrupt(message: impl Into<String>) -> Self {
        Self::Corrupt(message.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_backend_failures_are_unavailable() {
        assert!(StoreError::Database(sqlx::Error::PoolTimedOut).is_unavailable());
        assert!(
            StoreError::ObjectStore(object_store::Error::NotImplemented {
                operation: "put".into(),
                implementer: "test".into(),
            })
            .is_unavailable()
        );
        assert!(!StoreError::corrupt("sha mismatch").is_unavailable());
        assert!(!StoreError::Config("bad url".into()).is_unavailable());
        assert!(!StoreError::Schema(SchemaStatus::Current { version: 1 }).is_unavailable());
        assert!(
            !StoreError::SnapshotBeyondLog {
                upto_seq: Seq(3),
                last_seq: Seq(2)
            }
            .is_unavailable()
        );
    }

    #[test]
    fn messages_are_lowercase_and_hide_causes() {
        let error = StoreError::Database(sqlx::Error::PoolTimedOut);
        assert_eq!(error.to_string(), "database unavailable");
        assert!(std::error::Error::source(&error).is_some());
        let error = StoreError::SnapshotBeyondLog {
            upto_seq: Seq(3),
            last_seq: Seq(2),
        };
        assert_eq!(
            error.to_string(),
            "cannot snapshot at seq 3: the document's log ends at seq 2"
        );
    }
}
