//! The [`Directory`](crate::Directory) implementation both backends share.
//!
//! The SQL is written once: both SQLite and Postgres accept `$1, $2…` placeholders, every
//! time is an `i64` of Unix milliseconds, ids are text and booleans bind as `bool`. The
//! [`impl_directory!`] macro expands the same method bodies for [`crate::SqliteStore`] and
//! [`crate::PostgresStore`]; the pure parts (row decoding, error classification, the audit
//! chain check) are plain functions here. Each store provides `directory_writer()` (a write
//! transaction: `BEGIN IMMEDIATE` on SQLite's single writer connection) and
//! `directory_reader()` (the pool reads go through).
//!
//! Lists are sorted in Rust on text keys (case-insensitively, then byte-wise), because
//! Postgres sorts text by the database's collation and SQLite byte-wise: the same data must
//! come out in the same order from either backend.

use std::time::{SystemTime, UNIX_EPOCH};

use sqlx::error::ErrorKind;
use sqlx::{ColumnIndex, Decode, Row, Type};

use crate::directory::{
    AUDIT_GENESIS, ApiToken, AuditEntry, AuditVerification, DocumentInfo, Grant, Invitation,
    InvitationId, InvitationTarget, Organisation, OrganisationId, Role, Session, TokenId,
    UnixMillis, User, UserId, UserKind, Workspace, WorkspaceId, audit_hash,
};
use crate::error::StoreError;
use crate::id::DocumentId;

/// Bumps the access epoch; run in the same transaction as the change it announces.
pub(crate) const BUMP_ACCESS_EPOCH: &str = "UPDATE access_epoch SET epoch = epoch + 1 WHERE id = 1";

/// Audit rows read per query while verifying the chain.
pub(crate) const AUDIT_PAGE_ROWS: i64 = 1000;

/// The columns of a `users` row aliased `u`, as [`user`] reads them.
macro_rules! user_columns {
    () => {
        "u.id AS user_id, u.email AS user_email, u.display_name AS user_display_name, \
         u.kind AS user_kind, u.organisation_id AS user_organisation_id, \
         u.is_admin AS user_is_admin, u.created_at_ms AS user_created_at_ms, \
         u.disabled_at_ms AS user_disabled_at_ms"
    };
}
pub(crate) use user_columns;

/// The columns of a `workspaces` row aliased `w`, as [`workspace`] reads them.
macro_rules! workspace_columns {
    () => {
        "w.id AS workspace_id, w.organisation_id AS workspace_organisation_id, \
         w.name AS workspace_name, w.created_at_ms AS workspace_created_at_ms"
    };
}
pub(crate) use workspace_columns;

/// The columns of a `document_info` row aliased `d`, as [`document`] reads them.
macro_rules! document_columns {
    () => {
        "d.document_id AS document_id, d.workspace_id AS document_workspace_id, \
         d.title AS document_title, d.created_by AS document_created_by, \
         d.created_at_ms AS document_created_at_ms, d.deleted_at_ms AS document_deleted_at_ms"
    };
}
pub(crate) use document_columns;

/// The grant columns of a `workspace_members` or `document_members` row aliased `$alias`, as
/// [`grant`] reads them with the prefix `"$alias_"`.
macro_rules! grant_columns {
    ($alias:literal) => {
        concat!(
            $alias,
            ".role AS ",
            $alias,
            "_role, ",
            $alias,
            ".expires_at_ms AS ",
            $alias,
            "_expires_at_ms, ",
            $alias,
            ".sponsor_id AS ",
            $alias,
            "_sponsor_id"
        )
    };
}
pub(crate) use grant_columns;

/// The columns of an `invitations` row, as [`invitation`] reads them.
macro_rules! invitation_columns {
    () => {
        "id, email, workspace_id, document_id, role, access_expires_at_ms, sponsor_id, \
         created_at_ms, accepted_at_ms, accepted_by, revoked_at_ms"
    };
}
pub(crate) use invitation_columns;

/// The columns of an `api_tokens` row, as [`api_token`] reads them.
macro_rules! api_token_columns {
    () => {
        "id, secret_sha256, document_pattern, role, expires_at_ms, created_by, created_at_ms, \
         revoked_at_ms"
    };
}
pub(crate) use api_token_columns;

/// The columns of an `audit_log` row, as [`audit_entry`] reads them.
macro_rules! audit_columns {
    () => {
        "seq, at_ms, actor, action, workspace_id, target, details, prev_sha256, sha256"
    };
}
pub(crate) use audit_columns;

/// The current time as stored.
pub(crate) fn now_ms() -> UnixMillis {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| {
            i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX)
        })
}

/// An e-mail address as stored and looked up.
pub(crate) fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

/// `limit` as SQL takes it; 0 means no limit.
pub(crate) fn sql_limit(limit: u32) -> i64 {
    if limit == 0 {
        i64::MAX
    } else {
        i64::from(limit)
    }
}

/// Turns a failed write into what the caller acts on: a unique violation becomes
/// [`StoreError::Conflict`] with the message of the first `(needle, message)` whose needle is
/// in the constraint's name or the database's message (else `"duplicate key"`), a foreign key
/// violation becomes [`StoreError::NotFound`] with `not_found`; anything else stays a database
/// error.
pub(crate) fn classify(
    error: sqlx::Error,
    conflicts: &[(&str, &str)],
    not_found: &str,
) -> StoreError {
    if let sqlx::Error::Database(database) = &error {
        match database.kind() {
            ErrorKind::UniqueViolation => {
                // Postgres names the constraint (`users_email_key`); SQLite only says it in
                // its message (`UNIQUE constraint failed: users.email`).
                let text = format!(
                    "{} {}",
                    database.constraint().unwrap_or_default(),
                    database.message()
                );
                let message = conflicts
                    .iter()
                    .find(|(needle, _)| text.contains(needle))
                    .map_or("duplicate key", |(_, message)| message);
                return StoreError::Conflict(message.to_owned());
            }
            ErrorKind::ForeignKeyViolation => return StoreError::NotFound(not_found.to_owned()),
            _ => {}
        }
    }
    StoreError::Database(error)
}

/// A row of either backend, read by column name.
pub(crate) trait DirectoryRow {
    fn text(&self, column: &str) -> Result<String, StoreError>;
    fn optional_text(&self, column: &str) -> Result<Option<String>, StoreError>;
    fn int(&self, column: &str) -> Result<i64, StoreError>;
    fn optional_int(&self, column: &str) -> Result<Option<i64>, StoreError>;
    fn flag(&self, column: &str) -> Result<bool, StoreError>;
}

impl<R> DirectoryRow for R
where
    R: Row,
    for<'r> &'r str: ColumnIndex<R>,
    for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> i64: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> bool: Decode<'r, R::Database> + Type<R::Database>,
{
    fn text(&self, column: &str) -> Result<String, StoreError> {
        Ok(self.try_get(column)?)
    }

    fn optional_text(&self, column: &str) -> Result<Option<String>, StoreError> {
        Ok(self.try_get(column)?)
    }

    fn int(&self, column: &str) -> Result<i64, StoreError> {
        Ok(self.try_get(column)?)
    }

    fn optional_int(&self, column: &str) -> Result<Option<i64>, StoreError> {
        Ok(self.try_get(column)?)
    }

    fn flag(&self, column: &str) -> Result<bool, StoreError> {
        Ok(self.try_get(column)?)
    }
}

fn role(value: &str) -> Result<Role, StoreError> {
    Role::parse(value).ok_or_else(|| StoreError::corrupt(format!("unknown role {value:?}")))
}

fn user_kind(value: &str) -> Result<UserKind, StoreError> {
    match value {
        "staff" => Ok(UserKind::Staff),
        "external" => Ok(UserKind::External),
        other => Err(StoreError::corrupt(format!("unknown user kind {other:?}"))),
    }
}

fn document_id(value: &str) -> Result<DocumentId, StoreError> {
    DocumentId::parse(value).map_err(|_| {
        StoreError::corrupt(format!("invalid document name {value:?} in the directory"))
    })
}

/// A user from [`user_columns!`], or `None` when a LEFT JOIN found none.
pub(crate) fn optional_user(row: &impl DirectoryRow) -> Result<Option<User>, StoreError> {
    let Some(id) = row.optional_text("user_id")? else {
        return Ok(None);
    };
    Ok(Some(User {
        id: UserId::from_db(id),
        email: row.text("user_email")?,
        display_name: row.text("user_display_name")?,
        kind: user_kind(&row.text("user_kind")?)?,
        organisation: row
            .optional_text("user_organisation_id")?
            .map(OrganisationId::from_db),
        is_admin: row.flag("user_is_admin")?,
        created_at_ms: row.int("user_created_at_ms")?,
        disabled_at_ms: row.optional_int("user_disabled_at_ms")?,
    }))
}

/// A user from [`user_columns!`].
pub(crate) fn user(row: &impl DirectoryRow) -> Result<User, StoreError> {
    optional_user(row)?.ok_or_else(|| StoreError::corrupt("user row without an id"))
}

/// A grant from [`grant_columns!`] with `prefix` (`"g_"` for alias `g`), or `None` when a
/// LEFT JOIN found none.
pub(crate) fn grant(row: &impl DirectoryRow, prefix: &str) -> Result<Option<Grant>, StoreError> {
    let Some(role_name) = row.optional_text(&format!("{prefix}role"))? else {
        return Ok(None);
    };
    Ok(Some(Grant {
        role: role(&role_name)?,
        expires_at_ms: row.optional_int(&format!("{prefix}expires_at_ms"))?,
        sponsor: row
            .optional_text(&format!("{prefix}sponsor_id"))?
            .map(UserId::from_db),
    }))
}

/// A grant that an inner join guarantees.
pub(crate) fn required_grant(row: &impl DirectoryRow, prefix: &str) -> Result<Grant, StoreError> {
    grant(row, prefix)?.ok_or_else(|| StoreError::corrupt("member row without a role"))
}

/// A document entry from [`document_columns!`], or `None` when a LEFT JOIN found none.
pub(crate) fn optional_document(
    row: &impl DirectoryRow,
) -> Result<Option<DocumentInfo>, StoreError> {
    let Some(id) = row.optional_text("document_id")? else {
        return Ok(None);
    };
    Ok(Some(DocumentInfo {
        id: document_id(&id)?,
        workspace: row
            .optional_text("document_workspace_id")?
            .map(WorkspaceId::from_db),
        title: row.text("document_title")?,
        created_by: row
            .optional_text("document_created_by")?
            .map(UserId::from_db),
        created_at_ms: row.int("document_created_at_ms")?,
        deleted_at_ms: row.optional_int("document_deleted_at_ms")?,
    }))
}

/// A document entry from [`document_columns!`].
pub(crate) fn document(row: &impl DirectoryRow) -> Result<DocumentInfo, StoreError> {
    optional_document(row)?.ok_or_else(|| StoreError::corrupt("document row without an id"))
}

/// A workspace from [`workspace_columns!`].
pub(crate) fn workspace(row: &impl DirectoryRow) -> Result<Workspace, StoreError> {
    Ok(Workspace {
        id: WorkspaceId::from_db(row.text("workspace_id")?),
        organisation: OrganisationId::from_db(row.text("workspace_organisation_id")?),
        name: row.text("workspace_name")?,
        created_at_ms: row.int("workspace_created_at_ms")?,
    })
}

/// An `organisations` row.
pub(crate) fn organisation(row: &impl DirectoryRow) -> Result<Organisation, StoreError> {
    Ok(Organisation {
        id: OrganisationId::from_db(row.text("id")?),
        name: row.text("name")?,
        created_at_ms: row.int("created_at_ms")?,
    })
}

/// An `invitations` row from [`invitation_columns!`].
pub(crate) fn invitation(row: &impl DirectoryRow) -> Result<Invitation, StoreError> {
    let target = match (
        row.optional_text("workspace_id")?,
        row.optional_text("document_id")?,
    ) {
        (Some(workspace), None) => InvitationTarget::Workspace(WorkspaceId::from_db(workspace)),
        (None, Some(document)) => InvitationTarget::Document(document_id(&document)?),
        _ => {
            return Err(StoreError::corrupt(
                "invitation without exactly one of workspace and document",
            ));
        }
    };
    Ok(Invitation {
        id: InvitationId::from_db(row.text("id")?),
        email: row.text("email")?,
        target,
        role: role(&row.text("role")?)?,
        access_expires_at_ms: row.int("access_expires_at_ms")?,
        sponsor: UserId::from_db(row.text("sponsor_id")?),
        created_at_ms: row.int("created_at_ms")?,
        accepted_at_ms: row.optional_int("accepted_at_ms")?,
        accepted_by: row.optional_text("accepted_by")?.map(UserId::from_db),
        revoked_at_ms: row.optional_int("revoked_at_ms")?,
    })
}

/// A `sessions` row.
pub(crate) fn session(row: &impl DirectoryRow) -> Result<Session, StoreError> {
    Ok(Session {
        user: UserId::from_db(row.text("user_id")?),
        csrf_token: row.text("csrf_token")?,
        created_at_ms: row.int("created_at_ms")?,
        expires_at_ms: row.int("expires_at_ms")?,
        revoked_at_ms: row.optional_int("revoked_at_ms")?,
    })
}

/// An `api_tokens` row from [`api_token_columns!`].
pub(crate) fn api_token(row: &impl DirectoryRow) -> Result<ApiToken, StoreError> {
    Ok(ApiToken {
        id: TokenId::from_db(row.text("id")?),
        secret_sha256: row.text("secret_sha256")?,
        document_pattern: row.text("document_pattern")?,
        role: role(&row.text("role")?)?,
        expires_at_ms: row.int("expires_at_ms")?,
        created_by: row.optional_text("created_by")?.map(UserId::from_db),
        created_at_ms: row.int("created_at_ms")?,
        revoked_at_ms: row.optional_int("revoked_at_ms")?,
    })
}

/// An `audit_log` row from [`audit_columns!`].
pub(crate) fn audit_entry(row: &impl DirectoryRow) -> Result<AuditEntry, StoreError> {
    Ok(AuditEntry {
        seq: row.int("seq")?,
        at_ms: row.int("at_ms")?,
        actor: row.optional_text("actor")?,
        action: row.text("action")?,
        workspace: row.optional_text("workspace_id")?.map(WorkspaceId::from_db),
        target: row.optional_text("target")?,
        details: row.text("details")?,
        prev_sha256: row.text("prev_sha256")?,
        sha256: row.text("sha256")?,
    })
}

/// Sorts by a text key case-insensitively, then byte-wise, then by a tie-breaker, the same
/// on both backends.
pub(crate) fn sort_by_text<T>(items: &mut [T], key: impl Fn(&T) -> (&str, &str)) {
    items.sort_by_cached_key(|item| {
        let (text, tie) = key(item);
        (text.to_lowercase(), text.to_owned(), tie.to_owned())
    });
}

/// The audit entry that follows the last one (`previous`: its seq, time and hash, `None` for an
/// empty journal), hashed.
pub(crate) fn next_audit_entry(
    previous: Option<(i64, UnixMillis, String)>,
    entry: crate::directory::NewAuditEntry,
    now_ms: UnixMillis,
) -> AuditEntry {
    let (seq, at_ms, prev_sha256) = match previous {
        // Time never goes backwards along the chain, even if this node's clock is behind the
        // one that wrote the previous entry.
        Some((seq, at_ms, sha256)) => (seq + 1, now_ms.max(at_ms), sha256),
        None => (1, now_ms, AUDIT_GENESIS.to_owned()),
    };
    let mut appended = AuditEntry {
        seq,
        at_ms,
        actor: entry.actor,
        action: entry.action,
        workspace: entry.workspace,
        target: entry.target,
        // `Value`'s Display is its compact JSON text, the same as `serde_json::to_string`.
        details: entry.details.to_string(),
        prev_sha256,
        sha256: String::new(),
    };
    appended.sha256 = audit_hash(&appended);
    appended
}

/// Walks the journal entry by entry, in seq order, and remembers the first break.
pub(crate) struct ChainCheck {
    entries: u64,
    last_seq: i64,
    last_sha256: String,
    first_broken: Option<(i64, String)>,
}

impl ChainCheck {
    pub(crate) fn new() -> Self {
        Self {
            entries: 0,
            last_seq: 0,
            last_sha256: AUDIT_GENESIS.to_owned(),
            first_broken: None,
        }
    }

    /// Checks the next entry; returns false once the chain is broken (stop reading).
    pub(crate) fn check(&mut self, entry: &AuditEntry) -> bool {
        if self.first_broken.is_some() {
            return false;
        }
        self.entries += 1;
        let reason = if entry.seq != self.last_seq + 1 {
            Some(if self.last_seq == 0 {
                format!("the journal starts at seq {} instead of 1", entry.seq)
            } else {
                format!("seq {} follows seq {}", entry.seq, self.last_seq)
            })
        } else if entry.prev_sha256 != self.last_sha256 {
            Some("does not link to the previous entry's hash".to_owned())
        } else if audit_hash(entry) != entry.sha256 {
            Some("does not hash to its recorded sha256".to_owned())
        } else {
            None
        };
        self.last_seq = entry.seq;
        self.last_sha256.clone_from(&entry.sha256);
        match reason {
            Some(reason) => {
                self.first_broken = Some((entry.seq, reason));
                false
            }
            None => true,
        }
    }

    /// The last seq checked, to read the next page after it.
    pub(crate) fn last_seq(&self) -> i64 {
        self.last_seq
    }

    pub(crate) fn finish(self) -> AuditVerification {
        AuditVerification {
            entries: self.entries,
            first_broken: self.first_broken,
        }
    }
}

/// Implements [`crate::Directory`] for a store with the SQL of this module.
///
/// The store provides `async fn directory_writer(&self) -> Result<Transaction<'static, DB>,
/// sqlx::Error>` and `fn directory_reader(&self) -> &Pool<DB>`; `audit_lock` is an
/// `Option<&'static str>` statement run first in an audit append's transaction, to serialise
/// appends from several processes (`None` where the write transaction already does).
macro_rules! impl_directory {
    ($store:ty, backend = $backend:literal, audit_lock = $audit_lock:expr) => {
        #[async_trait::async_trait]
        impl $crate::directory::Directory for $store {
            async fn create_user(
                &self,
                new: $crate::directory::NewUser,
            ) -> Result<$crate::directory::User, $crate::error::StoreError> {
                use $crate::directory_sql as sql;
                let user = $crate::directory::User {
                    id: $crate::directory::UserId::generate(),
                    email: sql::normalize_email(&new.email),
                    display_name: new.display_name,
                    kind: new.kind,
                    organisation: new.organisation,
                    is_admin: new.is_admin,
                    created_at_ms: sql::now_ms(),
                    disabled_at_ms: None,
                };
                let (issuer, subject) = new.oidc.unzip();
                let mut transaction = self.directory_writer().await?;
                sqlx::query(
                    "INSERT INTO users (id, email, display_name, kind, organisation_id, is_admin,
                         password_hash, oidc_issuer, oidc_subject, created_at_ms)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                )
                .bind(user.id.as_str())
                .bind(&user.email)
                .bind(&user.display_name)
                .bind(user.kind.as_str())
                .bind(user.organisation.as_ref().map(|id| id.as_str()))
                .bind(user.is_admin)
                .bind(new.password_hash)
                .bind(issuer)
                .bind(subject)
                .bind(user.created_at_ms)
                .execute(&mut *transaction)
                .await
                .map_err(|error| {
                    sql::classify(
                        error,
                        &[("email", "user e-mail"), ("oidc", "oidc identity"), ("", "user id")],
                        "organisation",
                    )
                })?;
                transaction.commit().await?;
                Ok(user)
            }

            async fn user(
                &self,
                id: &$crate::directory::UserId,
            ) -> Result<Option<$crate::directory::User>, $crate::error::StoreError> {
                use $crate::directory_sql as sql;
                sqlx::query(concat!(
                    "SELECT ",
                    sql::user_columns!(),
                    " FROM users u WHERE u.id = $1"
                ))
                .bind(id.as_str())
                .fetch_optional(self.directory_reader())
                .await?
                .as_ref()
                .map(sql::user)
                .transpose()
            }

            async fn user_by_email(
                &self,
                email: &str,
            ) -> Result<Option<$crate::directory::User>, $crate::error::StoreError> {
                use $crate::directory_sql as sql;
                sqlx::query(concat!(
                    "SELECT ",
                    sql::user_columns!(),
                    " FROM users u WHERE u.email = $1"
                ))
                .bind(sql::normalize_email(email))
                .fetch_optional(self.directory_reader())
                .await?
                .as_ref()
                .map(sql::user)
                .transpose()
            }

            async fn password_credentials(
                &self,
                email: &str,
            ) -> Result<Option<($crate::directory::User, Option<String>)>, $crate::error::StoreError>
            {
                use $crate::directory_sql::{self as sql, DirectoryRow as _};
                let Some(row) = sqlx::query(concat!(
                    "SELECT ",
                    sql::user_columns!(),
                    ", u.password_hash AS password_hash FROM users u WHERE u.email = $1"
                ))
                .bind(sql::normalize_email(email))
                .fetch_optional(self.directory_reader())
                .await?
                else {
                    return Ok(None);
                };
                Ok(Some((sql::user(&row)?, row.optional_text("password_hash")?)))
            }

            async fn user_by_oidc(
                &self,
                issuer: &str,
                subject: &str,
            ) -> Result<Option<$crate::directory::User>, $crate::error::StoreError> {
                use $crate::directory_sql as sql;
                sqlx::query(concat!(
                    "SELECT ",
                    sql::user_columns!(),
                    " FROM users u WHERE u.oidc_issuer = $1 AND u.oidc_subject = $2"
                ))
                .bind(issuer)
                .bind(subject)
                .fetch_optional(self.directory_reader())
                .await?
                .as_ref()
                .map(sql::user)
                .transpose()
            }

            async fn link_oidc(
                &self,
                user: &$crate::directory::UserId,
                issuer: &str,
                subject: &str,
            ) -> Result<(), $crate::error::StoreError> {
                use $crate::directory_sql as sql;
                let mut transaction = self.directory_writer().await?;
                let updated = sqlx::query(
                    "UPDATE users SET oidc_issuer = $1, oidc_subject = $2 WHERE id = $3",
                )
                .bind(issuer)
                .bind(subject)
                .bind(user.as_str())
                .execute(&mut *transaction)
                .await
                .map_err(|error| sql::classify(error, &[("", "oidc identity")], "user"))?
                .rows_affected();
                if updated == 0 {
                    return Err($crate::error::StoreError::NotFound("user".into()));
                }
                transaction.commit().await?;
                Ok(())
            }

            async fn set_password_hash(
                &self,
                user: &$crate::directory::UserId,
                password_hash: &str,
            ) -> Result<(), $crate::error::StoreError> {
                let mut transaction = self.directory_writer().await?;
                let updated = sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
                    .bind(password_hash)
                    .bind(user.as_str())
                    .execute(&mut *transaction)
                    .await?
                    .rows_affected();
                if updated == 0 {
                    return Err($crate::error::StoreError::NotFound("user".into()));
                }
                transaction.commit().await?;
                Ok(())
            }

            async fn set_user_disabled(
                &self,
                user: &$crate::directory::UserId,
                disabled: bool,
            ) -> Result<(), $crate::error::StoreError> {
                use $crate::directory_sql as sql;
                let mut transaction = self.directory_writer().await?;
                // Disabling twice keeps the first instant.
                let disabled_at_ms = disabled.then(sql::now_ms);
                let updated = sqlx::query(
                    "UPDATE users SET disabled_at_ms = CASE WHEN $1 THEN
                         coalesce(disabled_at_ms, $2) END
                     WHERE id = $3",
                )
                .bind(disabled)
                .bind(disabled_at_ms)
                .bind(user.as_str())
                .execute(&mut *transaction)
                .await?
                .rows_affected();
                if updated == 0 {
                    return Err($crate::error::StoreError::NotFound("user".into()));
                }
                sqlx::query(sql::BUMP_ACCESS_EPOCH)
                    .execute(&mut *transaction)
                    .await?;
                transaction.commit().await?;
                Ok(())
            }

            async fn set_user_organisation(
                &self,
                user: &$crate::directory::UserId,
                organisation: Option<&$crate::directory::OrganisationId>,
            ) -> Result<(), $crate::error::StoreError> {
                use $crate::directory_sql as sql;
                let mut transaction = self.directory_writer().await?;
                let updated = sqlx::query("UPDATE users SET organisation_id = $1 WHERE id = $2")
                    .bind(organisation.map(|id| id.as_str()))
                    .bind(user.as_str())
                    .execute(&mut *transaction)
                    .await
                    .map_err(|error| sql::classify(error, &[], "organisation"))?
                    .rows_affected();
                if updated == 0 {
                    return Err($crate::error::StoreError::NotFound("user".into()));
                }
                // Whoever the policy lets see an organisation's workspaces, a move between
                // organisations can change it.
                sqlx::query(sql::BUMP_ACCESS_EPOCH)
                    .execute(&mut *transaction)
                    .await?;
                transaction.commit().await?;
                Ok(())
            }

            async fn list_users(
                &self,
                organisation: Option<&$crate::directory::OrganisationId>,
            ) -> Result<Vec<$crate::directory::User>, $crate::error::StoreError> {
                use $crate::directory_sql as sql;
                let rows = sqlx::query(concat!(
                    "SELECT ",
                    sql::user_columns!(),
                    " FROM users u WHERE $1 IS NULL OR u.organisation_id = $1"
                ))
                .bind(organisation.map(|id| id.as_str()))
                .fetch_all(self.directory_reader())
                .await?;
                let mut users = rows.iter().map(sql::user).collect::<Result<Vec<_>, _>>()?;
                sql::sort_by_text(&mut users, |user| (&user.email, user.id.as_str()));
                Ok(users)
            }

            async fn user_count(&self) -> Result<u64, $crate::error::StoreError> {
                use $crate::directory_sql::DirectoryRow as _;
                let row = sqlx::query("SELECT count(*) AS users FROM users")
                    .fetch_one(self.directory_reader())
                    .await?;
                Ok(u64::try_from(row.int("users")?).unwrap_or_default())
            }

            async fn create_organisation(
                &self,
                name: &str,
            ) -> Result<$crate::directory::Organisation, $crate::error::StoreError> {
                use $crate::directory_sql as sql;
                let organisation = $crate::directory::Organisation {
                    id: $crate::directory::OrganisationId::generate(),
                    name: name.to_owned(),
                    created_at_ms: sql::now_ms(),
                };
                let mut transaction = self.directory_writer().await?;
                sqlx::query(
                    "INSERT INTO organisations (id, name, created_at_ms) VALUES ($1, $2, $3)",
                )
                .bind(organisation.id.as_str())
                .bind(&organisation.name)
                .bind(organisation.created_at_ms)
                .execute(&mut *transaction)
                .await
                .map_err(|error| {
                    sql::classify(
                        error,
                        &[("name", "organisation name"), ("", "organisation id")],
                        "organisation",
                    )
                })?;
                transaction.commit().await?;
                Ok(organisation)
            }

            async fn organisation(
                &self,
                id: &$crate::directory::OrganisationId,
            ) -> Result<Option<$crate::directory::Organisation>, $crate::error::StoreError> {
                use $crate::directory_sql as sql;
                sqlx::query("SELECT id, name, created_at_ms FROM organisations WHERE id = $1")
                    .bind(id.as_str())
                    .fetch_optional(self.directory_reader())
                    .await?
                    .as_ref()
                    .map(sql::organisation)
                    .transpose()
            }

            async fn organisation_by_name(
                &self,
                name: &str,
            ) -> Result<Option<$crate::directory::Organisation>, $crate::error::StoreError> {
                use $crate::directory_sql as sql;
                sqlx::query("SELECT id, name, created_at_ms FROM organisations WHERE name = $1")
                    .bind(name)
                    .fetch_optional(self.directory_reader())
                    .await?
                    .as_ref()
                    .map(sql::organisation)
                    .transpose()
            }

            async fn list_organisations(
                &self,
            ) -> Result<Vec<$crate::directory::Organisation>, $crate::error::StoreError> {
                use $crate::directory_sql as sql;
                let rows = sqlx::query("SELECT id, name, created_at_ms FROM organisations")
                    .fetch_all(self.directory_reader())
                    .await?;
                let mut organisations =
                    rows.iter().map(sql::organisation).collect::<Result<Vec<_>, _>>()?;
                sql::sort_by_text(&mut organisations, |organisation| {
                    (&organisation.name, organisation.id.as_str())
                });
                Ok(organisations)
            }

            async fn create_workspace(
                &self,
                organisation: &$crate::directory::OrganisationId,
                name: &str,
            ) -> Result<$crate::directory::Workspace, $crate::error::StoreError> {
                use $crate::directory_sql as sql;
                let workspace = $crate::directory::Workspace {
                    id: $crate::directory::WorkspaceId::generate(),
                    organisation: organisation.clone(),
                    name: name.to_owned(),
                    created_at_ms: sql::now_ms(),
                };
                let mut transaction = self.directory_writer().await?;
                sqlx::query(
                    "INSERT INTO workspaces (id, organisation_id, name, created_at_ms)
                     VALUES ($1, $2, $3, $4)",
                )
                .bind(workspace.id.as_str())
                .bind(workspace.organisation.as_str())
                .bind(&workspace.name)
                .bind(workspace.created_at_ms)
                .execute(&mut *transaction)
                .await
                .map_err(|error| sql::classify(error, &[("", "workspace id")], "organisation"))?;
                transaction.commit().await?;
                Ok(workspace)
            }

            async fn workspace(
                &self,
                id: &$crate::directory::WorkspaceId,
            ) -> Result<Option<$crate::directory::Workspace>, $crate::error::StoreError> {
                use $crate::directory_sql as sql;
                sqlx::query(concat!(
                    "SELECT ",
                    sql::workspace_columns!(),
                    " FROM workspaces w WHERE w.id = $1"
                ))
                .bind(id.as_str())
                .fetch_optional(self.directory_reader())
                .await?
                .as_ref()
                .map(sql::workspace)
                .transpose()
            }

            async fn list_workspaces(
                &self,
            ) -> Result<Vec<$crate::directory::Workspace>, $crate::error::StoreError> {
                use $crate::directory_sql as sql;
                let rows = sqlx::query(concat!(
                    "SELECT ",
                    sql::workspace_columns!(),
                    " FROM workspaces w"
                ))
                .fetch_all(self.directory_reader())
                .await?;
                let mut workspaces =
                    rows.iter().map(sql::workspace).collect::<Result<Vec<_>, _>>()?;
                sql::sort_by_text(&mut workspaces, |workspace| {
                    (&workspace.name, workspace.id.as_str())
                });
                Ok(workspaces)
            }

            async fn workspaces_of(
                &self,
                user: &$crate::directory::UserId,
            ) -> Result<
                Vec<($crate::directory::Workspace, $crate::directory::Grant)>,
                $crate::error::StoreError,
            > {
                use $crate::directory_sql as sql;
                let rows = sqlx::query(concat!(
                    "SELECT ",
                    sql::workspace_columns!(),
                    ", ",
                    sql::grant_columns!("g"),
                    " FROM workspace_members g JOIN workspaces w ON w.id = g.workspace_id
                     WHERE g.user_id = $1"
                ))
                .bind(user.as_str())
                .fetch_all(self.directory_reader())
                .await?;
                let mut workspaces = rows
                    .iter()
                    .map(|row| Ok((sql::workspace(row)?, sql::required_grant(row, "g_")?)))
                    .collect::<Result<Vec<_>, $crate::error::StoreError>>()?;
                sql::sort_by_text(&mut workspaces, |(workspace, _)| {
                    (&workspace.name, workspace.id.as_str())
                });
                Ok(workspaces)
            }

            async fn set_workspace_member(
                &self,
                workspace: &$crate::directory::WorkspaceId,
                user: &$crate::directory::UserId,
                grant: &$crate::directory::Grant,
            ) -> Result<(), $crate::error::StoreError> {
                use $crate::directory_sql as sql;
                let mut transaction = self.directory_writer().await?;
                sqlx::query(
                    "INSERT INTO workspace_members
                         (workspace_id, user_id, role, expires_at_ms, sponsor_id, created_at_ms)
                     VALUES ($1, $2, $3, $4, $5, $6)
                     ON CONFLICT (workspace_id, user_id) DO UPDATE SET role = excluded.role,
                         expires_at_ms = excluded.expires_at_ms, sponsor_id = excluded.sponsor_id",
                )
                .bind(workspace.as_str())
                .bind(user.as_str())
                .bind(grant.role.as_str())
                .bind(grant.expires_at_ms)
                .bind(grant.sponsor.as_ref().map(|id| id.as_str()))
                .bind(sql::now_ms())
                .execute(&mut *transaction)
                .await
                .map_err(|error| sql::classify(error, &[], "workspace, user or sponsor"))?;
                sqlx::query(sql::BUMP_ACCESS_EPOCH)
                    .execute(&mut *transaction)
                    .await?;
                transaction.commit().await?;
                Ok(())
            }

            async fn remove_workspace_member(
                &self,
                workspace: &$crate::directory::WorkspaceId,
                user: &$crate::directory::UserId,
            ) -> Result<bool, $crate::error::StoreError> {
                use $crate::directory_sql as sql;
                let mut transaction = self.directory_writer().await?;
                let removed = sqlx::query(
                    "DELETE FROM workspace_members WHERE workspace_id = $1 AND user_id = $2",
                )
                .bind(workspace.as_str())
                .bind(user.as_str())
                .execute(&mut *transaction)
                .await?
                .rows_affected();
                // Removing nobody changes no access: no epoch bump for it.
                if removed == 0 {
                    return Ok(false);
                }
                sqlx::query(sql::BUMP_ACCESS_EPOCH)
                    .execute(&mut *transaction)
                    .await?;
                transaction.commit().await?;
                Ok(true)
            }

            async fn workspace_members(
                &self,
                workspace: &$crate::directory::WorkspaceId,
            ) -> Result<Vec<$crate::directory::Member>, $crate::error::StoreError> {
                use $crate::directory_sql as sql;
                let rows = sqlx::query(concat!(
                    "SELECT ",
                    sql::user_columns!(),
                    ", ",
                    sql::grant_columns!("g"),
                    " FROM workspace_members g JOIN users u ON u.id = g.user_id
                     WHERE g.workspace_id = $1"
                ))
                .bind(workspace.as_str())
                .fetch_all(self.directory_reader())
                .await?;
                let mut members = rows
                    .iter()
                    .map(|row| {
                        Ok($crate::directory::Member {
                            user: sql::user(row)?,
                            grant: sql::required_grant(row, "g_")?,
                        })
                    })
                    .collect::<Result<Vec<_>, $crate::error::StoreError>>()?;
                sql::sort_by_text(&mut members, |member| {
                    (&member.user.email, member.user.id.as_str())
                });
                Ok(members)
            }

            async fn workspace_grant(
                &self,
                workspace: &$crate::directory::WorkspaceId,
                user: &$crate::directory::UserId,
            ) -> Result<Option<$crate::directory::Grant>, $crate::error::StoreError> {
                use $crate::directory_sql as sql;
                match sqlx::query(concat!(
                    "SELECT ",
                    sql::grant_columns!("g"),
                    " FROM workspace_members g WHERE g.workspace_id = $1 AND g.user_id = $2"
                ))
                .bind(workspace.as_str())
                .bind(user.as_str())
                .fetch_optional(self.directory_reader())
                .await?
                {
                    Some(row) => sql::grant(&row, "g_"),
                    None => Ok(None),
                }
            }

            async fn create_document(
                &self,
                info: &$crate::directory::DocumentInfo,
            ) -> Result<(), $crate::error::StoreError> {
                use $crate::directory_sql as sql;
                let mut transaction = self.directory_writer().await?;
                sqlx::query(
                    "INSERT INTO document_info
                         (document_id, workspace_id, title, created_by, created_at_ms, deleted_at_ms)
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(info.id.as_str())
                .bind(info.workspace.as_ref().map(|id| id.as_str()))
                .bind(&info.title)
                .bind(info.created_by.as_ref().map(|id| id.as_str()))
                .bind(info.created_at_ms)
                .bind(info.deleted_at_ms)
                .execute(&mut *transaction)
                .await
                .map_err(|error| sql::classify(error, &[("", "document")], "workspace or user"))?;
                transaction.commit().await?;
                Ok(())
            }

            async fn document(
                &self,
                id: &$crate::id::DocumentId,
            ) -> Result<Option<$crate::directory::DocumentInfo>, $crate::error::StoreError> {
                use $crate::directory_sql as sql;
                sqlx::query(concat!(
                    "SELECT ",
                    sql::document_columns!(),
                    " FROM document_info d WHERE d.document_id = $1"
                ))
                .bind(id.as_str())
                .fetch_optional(self.directory_reader())
                .await?
                .as_ref()
                .map(sql::document)
                .transpose()
            }

            async fn list_documents(
                &self,
                workspace: &$crate::directory::WorkspaceId,
            ) -> Result<Vec<$crate::directory::DocumentInfo>, $crate::error::StoreError> {
                use $crate::directory_sql as sql;
                let rows = sqlx::query(concat!(
                    "SELECT ",
                    sql::document_columns!(),
                    " FROM document_info d WHERE d.workspace_id = $1 AND d.deleted_at_ms IS NULL"
                ))
                .bind(workspace.as_str())
                .fetch_all(self.directory_reader())
                .await?;
                let mut documents = rows.iter().map(sql::document).collect::<Result<Vec<_>, _>>()?;
                sql::sort_by_text(&mut documents, |document| {
                    (&document.title, document.id.as_str())
                });
                Ok(documents)
            }

            async fn documents_shared_with(
                &self,
                user: &$crate::directory::UserId,
            ) -> Result<
                Vec<($crate::directory::DocumentInfo, $crate::directory::Grant)>,
                $crate::error::StoreError,
            > {
                use $crate::directory_sql as sql;
                let rows = sqlx::query(concat!(
                    "SELECT ",
                    sql::document_columns!(),
                    ", ",
                    sql::grant_columns!("g"),
                    " FROM document_members g JOIN document_info d ON d.document_id = g.document_id
                     WHERE g.user_id = $1 AND d.deleted_at_ms IS NULL"
                ))
                .bind(user.as_str())
                .fetch_all(self.directory_reader())
                .await?;
                let mut documents = rows
                    .iter()
                    .map(|row| Ok((sql::document(row)?, sql::required_grant(row, "g_")?)))
                    .collect::<Result<Vec<_>, $crate::error::StoreError>>()?;
                sql::sort_by_text(&mut documents, |(document, _)| {
                    (&document.title, document.id.as_str())
                });
                Ok(documents)
            }

            async fn rename_document(
                &self,
                id: &$crate::id::DocumentId,
                title: &str,
            ) -> Result<(), $crate::error::StoreError> {
                let mut transaction = self.directory_writer().await?;
                let updated =
                    sqlx::query("UPDATE document_info SET title = $1 WHERE document_id = $2")
                        .bind(title)
                        .bind(id.as_str())
                        .execute(&mut *transaction)
                        .await?
                        .rows_affected();
                if updated == 0 {
                    return Err($crate::error::StoreError::NotFound("document".into()));
                }
                transaction.commit().await?;
                Ok(())
            }

            async fn delete_document(
                &self,
                id: &$crate::id::DocumentId,
            ) -> Result<(), $crate::error::StoreError> {
                use $crate::directory_sql as sql;
                let mut transaction = self.directory_writer().await?;
                // Deleting twice keeps the first instant.
                let updated = sqlx::query(
                    "UPDATE document_info SET deleted_at_ms = coalesce(deleted_at_ms, $1)
                     WHERE document_id = $2",
                )
                .bind(sql::now_ms())
                .bind(id.as_str())
                .execute(&mut *transaction)
                .await?
                .rows_affected();
                if updated == 0 {
                    return Err($crate::error::StoreError::NotFound("document".into()));
                }
                sqlx::query(sql::BUMP_ACCESS_EPOCH)
                    .execute(&mut *transaction)
                    .await?;
                transaction.commit().await?;
                Ok(())
            }

            async fn set_document_member(
                &self,
                document: &$crate::id::DocumentId,
                user: &$crate::directory::UserId,
                grant: &$crate::directory::Grant,
            ) -> Result<(), $crate::error::StoreError> {
                use $crate::directory_sql as sql;
                let mut transaction = self.directory_writer().await?;
                sqlx::query(
                    "INSERT INTO document_members
                         (document_id, user_id, role, expires_at_ms, sponsor_id, created_at_ms)
                     VALUES ($1, $2, $3, $4, $5, $6)
                     ON CONFLICT (document_id, user_id) DO UPDATE SET role = excluded.role,
                         expires_at_ms = excluded.expires_at_ms, sponsor_id = excluded.sponsor_id",
                )
                .bind(document.as_str())
                .bind(user.as_str())
                .bind(grant.role.as_str())
                .bind(grant.expires_at_ms)
                .bind(grant.sponsor.as_ref().map(|id| id.as_str()))
                .bind(sql::now_ms())
                .execute(&mut *transaction)
                .await
                .map_err(|error| sql::classify(error, &[], "document, user or sponsor"))?;
                sqlx::query(sql::BUMP_ACCESS_EPOCH)
                    .execute(&mut *transaction)
                    .await?;
                transaction.commit().await?;
                Ok(())
            }

            async fn remove_document_member(
                &self,
                document: &$crate::id::DocumentId,
                user: &$crate::directory::UserId,
            ) -> Result<bool, $crate::error::StoreError> {
                use $crate::directory_sql as sql;
                let mut transaction = self.directory_writer().await?;
                let removed = sqlx::query(
                    "DELETE FROM document_members WHERE document_id = $1 AND user_id = $2",
                )
                .bind(document.as_str())
                .bind(user.as_str())
                .execute(&mut *transaction)
                .await?
                .rows_affected();
                if removed == 0 {
                    return Ok(false);
                }
                sqlx::query(sql::BUMP_ACCESS_EPOCH)
                    .execute(&mut *transaction)
                    .await?;
                transaction.commit().await?;
                Ok(true)
            }

            async fn document_members(
                &self,
                document: &$crate::id::DocumentId,
            ) -> Result<Vec<$crate::directory::Member>, $crate::error::StoreError> {
                use $crate::directory_sql as sql;
                let rows = sqlx::query(concat!(
                    "SELECT ",
                    sql::user_columns!(),
                    ", ",
                    sql::grant_columns!("g"),
                    " FROM document_members g JOIN users u ON u.id = g.user_id
                     WHERE g.document_id = $1"
                ))
                .bind(document.as_str())
                .fetch_all(self.directory_reader())
                .await?;
                let mut members = rows
                    .iter()
                    .map(|row| {
                        Ok($crate::directory::Member {
                            user: sql::user(row)?,
                            grant: sql::required_grant(row, "g_")?,
                        })
                    })
                    .collect::<Result<Vec<_>, $crate::error::StoreError>>()?;
                sql::sort_by_text(&mut members, |member| {
                    (&member.user.email, member.user.id.as_str())
                });
                Ok(members)
            }

            async fn document_frozen(
                &self,
                document: &$crate::id::DocumentId,
            ) -> Result<bool, $crate::error::StoreError> {
                let row: Option<i64> =
                    sqlx::query_scalar("SELECT frozen_at_ms FROM document_freezes WHERE document_id = $1")
                        .bind(document.as_str())
                        .fetch_optional(self.directory_reader())
                        .await?;
                Ok(row.is_some())
            }

            async fn access_facts(
                &self,
                user: &$crate::directory::UserId,
                document: &$crate::id::DocumentId,
            ) -> Result<$crate::directory::AccessFacts, $crate::error::StoreError> {
                use $crate::directory_sql as sql;
                // One statement, so the four facts come from one snapshot on both backends.
                let row = sqlx::query(concat!(
                    "SELECT ",
                    sql::user_columns!(),
                    ", ",
                    sql::document_columns!(),
                    ", ",
                    sql::grant_columns!("wm"),
                    ", ",
                    sql::grant_columns!("dm"),
                    " FROM (SELECT 1 AS one) AS one
                     LEFT JOIN users u ON u.id = $1
                     LEFT JOIN document_info d ON d.document_id = $2
                     LEFT JOIN workspace_members wm
                         ON wm.workspace_id = d.workspace_id AND wm.user_id = $1
                     LEFT JOIN document_members dm
                         ON dm.document_id = d.document_id AND dm.user_id = $1"
                ))
                .bind(user.as_str())
                .bind(document.as_str())
                .fetch_one(self.directory_reader())
                .await?;
                Ok($crate::directory::AccessFacts {
                    user: sql::optional_user(&row)?,
                    document: sql::optional_document(&row)?,
                    workspace_grant: sql::grant(&row, "wm_")?,
                    document_grant: sql::grant(&row, "dm_")?,
                })
            }

            async fn create_invitation(
                &self,
                new: &$crate::directory::NewInvitation,
            ) -> Result<$crate::directory::Invitation, $crate::error::StoreError> {
                use $crate::directory::InvitationTarget;
                use $crate::directory_sql as sql;
                let invitation = $crate::directory::Invitation {
                    id: new.id.clone(),
                    email: sql::normalize_email(&new.email),
                    target: new.target.clone(),
                    role: new.role,
                    access_expires_at_ms: new.access_expires_at_ms,
                    sponsor: new.sponsor.clone(),
                    created_at_ms: sql::now_ms(),
                    accepted_at_ms: None,
                    accepted_by: None,
                    revoked_at_ms: None,
                };
                let (workspace, document) = match &invitation.target {
                    InvitationTarget::Workspace(workspace) => (Some(workspace.as_str()), None),
                    InvitationTarget::Document(document) => (None, Some(document.as_str())),
                };
                let mut transaction = self.directory_writer().await?;
                sqlx::query(
                    "INSERT INTO invitations (id, secret_sha256, email, workspace_id, document_id,
                         role, access_expires_at_ms, sponsor_id, created_at_ms)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                )
                .bind(invitation.id.as_str())
                .bind(&new.secret_sha256)
                .bind(&invitation.email)
                .bind(workspace)
                .bind(document)
                .bind(invitation.role.as_str())
                .bind(invitation.access_expires_at_ms)
                .bind(invitation.sponsor.as_str())
                .bind(invitation.created_at_ms)
                .execute(&mut *transaction)
                .await
                .map_err(|error| {
                    sql::classify(
                        error,
                        &[("secret", "invitation secret"), ("", "invitation id")],
                        "workspace, document or sponsor",
                    )
                })?;
                transaction.commit().await?;
                Ok(invitation)
            }

            async fn invitation_by_secret(
                &self,
                secret_sha256: &str,
            ) -> Result<Option<$crate::directory::Invitation>, $crate::error::StoreError> {
                use $crate::directory_sql as sql;
                let query = concat!(
"SELECT ",
sql::invitation_columns!(),
" FROM invitations WHERE secret_sha256 = $1"
);
                sqlx::query(query)
                    .bind(secret_sha256)
                    .fetch_optional(self.directory_reader())
                    .await?
                    .as_ref()
                    .map(sql::invitation)
                    .transpose()
            }

            async fn mark_invitation_accepted(
                &self,
                id: &$crate::directory::InvitationId,
                user: &$crate::directory::UserId,
            ) -> Result<bool, $crate::error::StoreError> {
                use $crate::directory_sql as sql;
                let mut transaction = self.directory_writer().await?;
                let accepted = sqlx::query(
                    "UPDATE invitations SET accepted_at_ms = $1, accepted_by = $2
                     WHERE id = $3 AND accepted_at_ms IS NULL AND revoked_at_ms IS NULL",
                )
                .bind(sql::now_ms())
                .bind(user.as_str())
                .bind(id.as_str())
                .execute(&mut *transaction)
                .await
                .map_err(|error| sql::classify(error, &[], "user"))?
                .rows_affected();
                transaction.commit().await?;
                Ok(accepted == 1)
            }

            async fn revoke_invitation(
                &self,
                id: &$crate::directory::InvitationId,
            ) -> Result<bool, $crate::error::StoreError> {
                use $crate::directory_sql as sql;
                let mut transaction = self.directory_writer().await?;
                let revoked = sqlx::query(
                    "UPDATE invitations SET revoked_at_ms = $1
                     WHERE id = $2 AND accepted_at_ms IS NULL AND revoked_at_ms IS NULL",
                )
                .bind(sql::now_ms())
                .bind(id.as_str())
                .execute(&mut *transaction)
                .await?
                .rows_affected();
                transaction.commit().await?;
                Ok(revoked == 1)
            }

            async fn list_invitations(
                &self,
                workspace: &$crate::directory::WorkspaceId,
            ) -> Result<Vec<$crate::directory::Invitation>, $crate::error::StoreError> {
                use $crate::directory_sql as sql;
                // The workspace's own invitations and those to its documents.
                let query = concat!(
"SELECT ",
sql::invitation_columns!(),
" FROM invitations
                     WHERE workspace_id = $1 OR document_id IN
                         (SELECT document_id FROM document_info WHERE workspace_id = $1)
                     ORDER BY created_at_ms, id"
);
                let rows = sqlx::query(query)
                    .bind(workspace.as_str())
                    .fetch_all(self.directory_reader())
                    .await?;
                rows.iter().map(sql::invitation).collect()
            }

            async fn create_session(
                &self,
                secret_sha256: &str,
                session: &$crate::directory::Session,
            ) -> Result<(), $crate::error::StoreError> {
                use $crate::directory_sql as sql;
                let mut transaction = self.directory_writer().await?;
                sqlx::query(
                    "INSERT INTO sessions (secret_sha256, user_id, csrf_token, created_at_ms,
                         expires_at_ms, revoked_at_ms)
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(secret_sha256)
                .bind(session.user.as_str())
                .bind(&session.csrf_token)
                .bind(session.created_at_ms)
                .bind(session.expires_at_ms)
                .bind(session.revoked_at_ms)
                .execute(&mut *transaction)
                .await
                .map_err(|error| sql::classify(error, &[("", "session")], "user"))?;
                transaction.commit().await?;
                Ok(())
            }

            async fn session(
                &self,
                secret_sha256: &str,
            ) -> Result<Option<$crate::directory::Session>, $crate::error::StoreError> {
                use $crate::directory_sql as sql;
                sqlx::query(
                    "SELECT user_id, csrf_token, created_at_ms, expires_at_ms, revoked_at_ms
                     FROM sessions WHERE secret_sha256 = $1",
                )
                .bind(secret_sha256)
                .fetch_optional(self.directory_reader())
                .await?
                .as_ref()
                .map(sql::session)
                .transpose()
            }

            async fn revoke_session(&self, secret_sha256: &str) -> Result<bool, $crate::error::StoreError> {
                use $crate::directory_sql as sql;
                let mut transaction = self.directory_writer().await?;
                let revoked = sqlx::query(
                    "UPDATE sessions SET revoked_at_ms = $1
                     WHERE secret_sha256 = $2 AND revoked_at_ms IS NULL",
                )
                .bind(sql::now_ms())
                .bind(secret_sha256)
                .execute(&mut *transaction)
                .await?
                .rows_affected();
                if revoked == 0 {
                    return Ok(false);
                }
                sqlx::query(sql::BUMP_ACCESS_EPOCH)
                    .execute(&mut *transaction)
                    .await?;
                transaction.commit().await?;
                Ok(true)
            }

            async fn create_api_token(
                &self,
                new: &$crate::directory::NewApiToken,
            ) -> Result<$crate::directory::ApiToken, $crate::error::StoreError> {
                use $crate::directory_sql as sql;
                let token = $crate::directory::ApiToken {
                    id: new.id.clone(),
                    secret_sha256: new.secret_sha256.clone(),
                    document_pattern: new.document_pattern.clone(),
                    role: new.role,
                    expires_at_ms: new.expires_at_ms,
                    created_by: new.created_by.clone(),
                    created_at_ms: sql::now_ms(),
                    revoked_at_ms: None,
                };
                let mut transaction = self.directory_writer().await?;
                sqlx::query(
                    "INSERT INTO api_tokens (id, secret_sha256, document_pattern, role,
                         expires_at_ms, created_by, created_at_ms)
                     VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(token.id.as_str())
                .bind(&token.secret_sha256)
                .bind(&token.document_pattern)
                .bind(token.role.as_str())
                .bind(token.expires_at_ms)
                .bind(token.created_by.as_ref().map(|id| id.as_str()))
                .bind(token.created_at_ms)
                .execute(&mut *transaction)
                .await
                .map_err(|error| {
                    sql::classify(
                        error,
                        &[("secret", "token secret"), ("", "token id")],
                        "user",
                    )
                })?;
                transaction.commit().await?;
                Ok(token)
            }

            async fn api_token(
                &self,
                id: &$crate::directory::TokenId,
            ) -> Result<Option<$crate::directory::ApiToken>, $crate::error::StoreError> {
                use $crate::directory_sql as sql;
                let query = concat!(
"SELECT ",
sql::api_token_columns!(),
" FROM api_tokens WHERE id = $1"
);
                sqlx::query(query)
                    .bind(id.as_str())
                    .fetch_optional(self.directory_reader())
                    .await?
                    .as_ref()
                    .map(sql::api_token)
                    .transpose()
            }

            async fn list_api_tokens(
                &self,
            ) -> Result<Vec<$crate::directory::ApiToken>, $crate::error::StoreError> {
                use $crate::directory_sql as sql;
                let query = concat!(
"SELECT ",
sql::api_token_columns!(),
" FROM api_tokens ORDER BY created_at_ms, id"
);
                let rows = sqlx::query(query)
                    .fetch_all(self.directory_reader())
                    .await?;
                rows.iter().map(sql::api_token).collect()
            }

            async fn revoke_api_token(
                &self,
                id: &$crate::directory::TokenId,
            ) -> Result<bool, $crate::error::StoreError> {
                use $crate::directory_sql as sql;
                let mut transaction = self.directory_writer().await?;
                let revoked = sqlx::query(
                    "UPDATE api_tokens SET revoked_at_ms = $1 WHERE id = $2 AND revoked_at_ms IS NULL",
                )
                .bind(sql::now_ms())
                .bind(id.as_str())
                .execute(&mut *transaction)
                .await?
                .rows_affected();
                if revoked == 0 {
                    return Ok(false);
                }
                sqlx::query(sql::BUMP_ACCESS_EPOCH)
                    .execute(&mut *transaction)
                    .await?;
                transaction.commit().await?;
                Ok(true)
            }

            async fn access_epoch(&self) -> Result<i64, $crate::error::StoreError> {
                use $crate::directory_sql::DirectoryRow as _;
                let row = sqlx::query("SELECT epoch FROM access_epoch WHERE id = 1")
                    .fetch_one(self.directory_reader())
                    .await?;
                row.int("epoch")
            }

            #[tracing::instrument(skip_all, fields(backend = $backend, action = %entry.action))]
            async fn append_audit(
                &self,
                entry: $crate::directory::NewAuditEntry,
            ) -> Result<$crate::directory::AuditEntry, $crate::error::StoreError> {
                use $crate::directory_sql::{self as sql, DirectoryRow as _};
                let mut transaction = self.directory_writer().await?;
                let lock: Option<&'static str> = $audit_lock;
                if let Some(lock) = lock {
                    sqlx::query(lock).execute(&mut *transaction).await?;
                }
                let previous = match sqlx::query(
                    "SELECT seq, at_ms, sha256 FROM audit_log ORDER BY seq DESC LIMIT 1",
                )
                .fetch_optional(&mut *transaction)
                .await?
                {
                    Some(row) => Some((row.int("seq")?, row.int("at_ms")?, row.text("sha256")?)),
                    None => None,
                };
                let appended = sql::next_audit_entry(previous, entry, sql::now_ms());
                let query = concat!(
"INSERT INTO audit_log (",
sql::audit_columns!(),
") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
);
                sqlx::query(query)
                    .bind(appended.seq)
                    .bind(appended.at_ms)
                    .bind(appended.actor.as_deref())
                    .bind(&appended.action)
                    .bind(appended.workspace.as_ref().map(|id| id.as_str()))
                    .bind(appended.target.as_deref())
                    .bind(&appended.details)
                    .bind(&appended.prev_sha256)
                    .bind(&appended.sha256)
                    .execute(&mut *transaction)
                    .await?;
                transaction.commit().await?;
                Ok(appended)
            }

            async fn audit_entries(
                &self,
                filter: &$crate::directory::AuditFilter,
            ) -> Result<Vec<$crate::directory::AuditEntry>, $crate::error::StoreError> {
                use $crate::directory_sql as sql;
                let query = concat!(
"SELECT ",
sql::audit_columns!(),
" FROM audit_log
                     WHERE seq > $1
                         AND ($2 IS NULL OR workspace_id = $2)
                         AND ($3 IS NULL OR at_ms >= $3)
                         AND ($4 IS NULL OR at_ms < $4)
                     ORDER BY seq LIMIT $5"
);
                let rows = sqlx::query(query)
                    .bind(filter.after_seq)
                    .bind(filter.workspace.as_ref().map(|id| id.as_str()))
                    .bind(filter.from_ms)
                    .bind(filter.to_ms)
                    .bind(sql::sql_limit(filter.limit))
                    .fetch_all(self.directory_reader())
                    .await?;
                rows.iter().map(sql::audit_entry).collect()
            }

            #[tracing::instrument(skip_all, fields(backend = $backend))]
            async fn verify_audit(
                &self,
            ) -> Result<$crate::directory::AuditVerification, $crate::error::StoreError> {
                use $crate::directory_sql as sql;
                let query = concat!(
"SELECT ",
sql::audit_columns!(),
" FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2"
);
                let mut check = sql::ChainCheck::new();
                // Page by seq: the journal can hold millions of entries.
                'pages: loop {
                    let rows = sqlx::query(query)
                        .bind(check.last_seq())
                        .bind(sql::AUDIT_PAGE_ROWS)
                        .fetch_all(self.directory_reader())
                        .await?;
                    if rows.is_empty() {
                        break;
                    }
                    for row in &rows {
                        if !check.check(&sql::audit_entry(row)?) {
                            break 'pages;
                        }
                    }
                }
                Ok(check.finish())
            }
        }
    };
}
pub(crate) use impl_directory;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::directory::NewAuditEntry;

    fn new_entry(action: &str) -> NewAuditEntry {
        NewAuditEntry {
            actor: Some("cli".into()),
            action: action.into(),
            workspace: None,
            target: None,
            details: serde_json::json!({"n": 1}),
        }
    }

    fn chain(length: usize) -> Vec<AuditEntry> {
        let mut entries: Vec<AuditEntry> = Vec::new();
        for index in 0..length {
            let previous = entries
                .last()
                .map(|entry| (entry.seq, entry.at_ms, entry.sha256.clone()));
            entries.push(next_audit_entry(
                previous,
                new_entry("test.done"),
                1000 - index as i64,
            ));
        }
        entries
    }

    fn verify(entries: &[AuditEntry]) -> AuditVerification {
        let mut check = ChainCheck::new();
        for entry in entries {
            if !check.check(entry) {
                break;
            }
        }
        check.finish()
    }

    #[test]
    fn entries_chain_and_time_never_goes_back() {
        let entries = chain(3);
        assert_eq!(entries[0].prev_sha256, AUDIT_GENESIS);
        assert_eq!(entries[1].prev_sha256, entries[0].sha256);
        assert_eq!(
            entries.iter().map(|entry| entry.seq).collect::<Vec<_>>(),
            [1, 2, 3]
        );
        assert!(entries.iter().all(|entry| entry.at_ms == 1000));
        assert_eq!(entries[0].details, r#"{"n":1}"#);
        assert_eq!(
            verify(&entries),
            AuditVerification {
                entries: 3,
                first_broken: None
            }
        );
    }

    #[test]
    fn the_first_break_is_reported() {
        let mut edited = chain(4);
        edited[2].details = r#"{"n":2}"#.into();
        assert_eq!(verify(&edited).first_broken.unwrap().0, 3);

        let mut gap = chain(4);
        gap.remove(1);
        let broken = verify(&gap).first_broken.unwrap();
        assert_eq!(broken.0, 3);
        assert!(broken.1.contains("follows seq 1"), "{}", broken.1);

        let headless = chain(3)[1..].to_vec();
        assert_eq!(verify(&headless).first_broken.unwrap().0, 2);

        let mut relinked = chain(3);
        relinked[1].prev_sha256 = AUDIT_GENESIS.into();
        relinked[1].sha256 = audit_hash(&relinked[1]);
        let broken = verify(&relinked).first_broken.unwrap();
        assert_eq!(
            broken,
            (2, "does not link to the previous entry's hash".into())
        );
    }

    #[test]
    fn emails_are_trimmed_and_lowercased() {
        assert_eq!(
            normalize_email("  Marie.Dupont@Mairie.FR "),
            "marie.dupont@mairie.fr"
        );
    }
}
