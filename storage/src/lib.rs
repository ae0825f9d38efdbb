//! Relais storage: every byte at rest.
//!
//! This crate owns the database schema and its migrations, three traits implemented by both
//! the Postgres ([`PostgresStore`]) and the embedded SQLite ([`SqliteStore`]) stores, and the
//! layout of object storage (snapshot and attachment blob keys):
//! - [`Store`]: a document is an append-only log of updates (`document_updates`, seqs assigned
//!   by the database) plus write-once snapshot blobs recorded in `document_snapshots`; loading
//!   returns the latest snapshot and the updates after it;
//! - [`Directory`]: accounts, organisations, workspaces, roles, invitations, sessions, API
//!   tokens, the access epoch and the hash-chained audit journal; it keeps facts, the server
//!   decides access;
//! - [`Chat`]: conversations and messages with seqs assigned by the database, reactions, read
//!   markers, full-text search and attachments.
//!
//! [`Admin`] opens the same store for the maintenance commands: listing documents,
//! [`backup`] to a directory or bucket and restore into an empty store, and the checks of
//! `relais doctor`.
//!
//! It must never parse or depend on Yjs: updates and snapshots are opaque bytes here, and it
//! depends on neither `yrs` nor `relais-crdt`. It never overwrites or deletes a snapshot blob,
//! never records a snapshot before its blob is written, never lets a process pick a seq, and
//! never updates or deletes an audit entry.

mod admin;
pub mod backup;
mod chat;
mod chat_sql;
mod common;
mod directory;
mod directory_sql;
mod error;
mod id;
mod migrations;
mod objects;
mod postgres;
mod sqlite;
mod store;
mod versions;
mod versions_sql;

use std::fmt;
use std::sync::Arc;

pub use admin::{Admin, DatabaseCheck, Migrations, check_database, check_object_store};
pub use chat::{
    Attachment, AttachmentId, Chat, Conversation, ConversationId, ConversationKind,
    ConversationState, MAX_MESSAGES_PER_PAGE, Message, MessageId, NewAttachment, NewConversation,
    NewMessage, Posted, Reaction,
};
pub use directory::{
    AUDIT_GENESIS, AccessFacts, ApiToken, AuditEntry, AuditFilter, AuditVerification, Directory,
    DocumentInfo, Grant, Invitation, InvitationId, InvitationTarget, Member, NewApiToken,
    NewAuditEntry, NewInvitation, NewUser, Organisation, OrganisationId, Role, Session, TokenId,
    UnixMillis, User, UserId, UserKind, Workspace, WorkspaceId, audit_hash,
};
pub use error::StoreError;
pub use id::{DocumentId, InvalidDocumentId, MAX_DOCUMENT_ID_BYTES, Seq};
pub use migrations::SchemaStatus;
pub use objects::open_object_store;
pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;
pub use versions::{
    Decision, NewVersion, Publication, RetentionPolicy, Review, ReviewId, SealedMatch, Version,
    VersionId, VersionKind, VersionSeal, Versions, retention_victims,
};
pub use store::{AppendedRange, Snapshot, SnapshotInfo, Store, StoredDocument, StoredUpdate};

/// Where documents are kept.
#[derive(Clone)]
pub struct StorageConfig {
    /// `sqlite://path/to/relais.db` (embedded) or `postgres://user:password@host/db`.
    pub database_url: String,
    /// `file:///abs/path`, `file://relative/path`, `memory://` or `s3://bucket/prefix`;
    /// see [`open_object_store`].
    pub object_store_url: String,
    /// Upper bound of the database connection pool (SQLite: readers; writes use one more).
    pub max_connections: u32,
}

impl fmt::Debug for StorageConfig {
    // URLs can carry passwords: show them with the password masked, so configs can be logged.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StorageConfig")
            .field("database_url", &redact_url(&self.database_url))
            .field("object_store_url", &redact_url(&self.object_store_url))
            .field("max_connections", &self.max_connections)
            .finish()
    }
}

/// The URL with any password replaced by `***`, for logs and messages.
pub fn redact_url(raw: &str) -> String {
    match url::Url::parse(raw) {
        Ok(mut parsed) if parsed.password().is_some() => {
            // Only fails for URLs that cannot have a password, which this one has.
            if parsed.set_password(Some("***")).is_ok() {
                parsed.to_string()
            } else {
                "(unprintable URL)".to_owned()
            }
        }
        Ok(_) => raw.to_owned(),
        // Unparsable: might still hold a secret, so don't echo it.
        Err(_) if raw.contains('@') => "(unprintable URL)".to_owned(),
        Err(_) => raw.to_owned(),
    }
}

/// Both faces of one opened store: document logs and the directory, sharing one pool.
#[derive(Clone)]
pub struct Storage {
    pub documents: Arc<dyn Store>,
    pub directory: Arc<dyn Directory>,
    pub chat: Arc<dyn Chat>,
    pub versions: Arc<dyn Versions>,
}

/// Opens the store as [`connect`] does and returns both of its faces.
pub async fn connect_storage(config: &StorageConfig) -> Result<Storage, StoreError> {
    let objects = open_object_store(&config.object_store_url)?;
    let url = config.database_url.as_str();
    let storage = match admin::Backend::of(url)? {
        admin::Backend::Sqlite => {
            let store = Arc::new(SqliteStore::connect(url, objects, config.max_connections).await?);
            Storage {
                documents: store.clone(),
                directory: store.clone(),
                chat: store.clone(),
                versions: store,
            }
        }
        admin::Backend::Postgres => {
            let store =
                Arc::new(PostgresStore::connect(url, objects, config.max_connections).await?);
            Storage {
                documents: store.clone(),
                directory: store.clone(),
                chat: store.clone(),
                versions: store,
            }
        }
    };
    tracing::info!(
        backend = storage.documents.backend_name(),
        database = %redact_url(url),
        objects = %redact_url(&config.object_store_url),
        "storage ready"
    );
    Ok(storage)
}

/// Opens the database (creating the SQLite file and its parent directory if missing), runs
/// the migrations, and opens the object store.
///
/// The backend follows the database URL's scheme: `sqlite:` or `postgres:`/`postgresql:`;
/// anything else is [`StoreError::Config`].
pub async fn connect(config: &StorageConfig) -> Result<Arc<dyn Store>, StoreError> {
    Ok(connect_storage(config).await?.documents)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_passwords() {
        let config = StorageConfig {
            database_url: "postgres://relais:hunter2@db:5432/relais".into(),
            object_store_url: "s3://bucket/prefix".into(),
            max_connections: 4,
        };
        let printed = format!("{config:?}");
        assert!(!printed.contains("hunter2"), "{printed}");
        assert!(printed.contains("relais:***@db"), "{printed}");
        assert!(printed.contains("s3://bucket/prefix"), "{printed}");
    }

    #[tokio::test]
    async fn connect_refuses_unknown_database_schemes() {
        let config = StorageConfig {
            database_url: "mysql://root:secret@localhost/relais".into(),
            object_store_url: "memory://".into(),
            max_connections: 1,
        };
        let error = connect(&config).await.err().unwrap();
        assert!(matches!(error, StoreError::Config(_)), "{error:?}");
        assert!(error.to_string().contains("\"mysql\""));
        assert!(!error.to_string().contains("secret"));
    }

    #[tokio::test]
    async fn connect_opens_an_embedded_store() {
        let temp = tempfile::tempdir().unwrap();
        let config = StorageConfig {
            database_url: format!("sqlite://{}/db/relais.db", temp.path().display()),
            object_store_url: format!("file://{}/objects", temp.path().display()),
            max_connections: 2,
        };
        let store = connect(&config).await.unwrap();
        assert_eq!(store.backend_name(), "sqlite");
        store.check_ready().await.unwrap();
        store.close().await;
    }
}
