//! The directory: accounts, organisations, workspaces, roles, invitations, sessions, API
//! tokens and the audit journal, as stored.
//!
//! Storage keeps facts; it does not decide who may do what. The server's access policy reads
//! [`AccessFacts`] and [`Grant`]s and decides. Two invariants are owned here:
//! - every change that can take access away or change a role bumps the access epoch in the
//!   same transaction ([`Directory::access_epoch`]), so every node notices it with one read;
//! - the audit journal is append-only and hash-chained ([`Directory::append_audit`]); no
//!   method updates or deletes an entry.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::StoreError;
use crate::id::DocumentId;

/// Milliseconds since the Unix epoch, as every directory time is stored.
pub type UnixMillis = i64;

macro_rules! text_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// A fresh random id.
            pub fn generate() -> Self {
                Self(uuid::Uuid::new_v4().to_string())
            }

            /// Parses an id received from outside; only UUIDs are accepted.
            pub fn parse(s: &str) -> Option<Self> {
                uuid::Uuid::parse_str(s).ok().map(|uuid| Self(uuid.to_string()))
            }

            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// Wraps a value read back from the database.
            pub(crate) fn from_db(value: String) -> Self {
                Self(value)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

pub(crate) use text_id;

text_id!(
    /// A user account.
    UserId
);
text_id!(
    /// An organisation (a commune, a partner company).
    OrganisationId
);
text_id!(
    /// A workspace (a project), holding documents and channels.
    WorkspaceId
);
text_id!(
    /// An invitation of an outside person.
    InvitationId
);
text_id!(
    /// An API token (the public half; the secret is only ever stored hashed).
    TokenId
);

/// A role in a workspace or on a document, from most to least powerful.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Owner,
    Validator,
    Editor,
    Commenter,
    Reader,
}

impl Role {
    /// Every role, most powerful first.
    pub const ALL: [Role; 5] = [
        Role::Owner,
        Role::Validator,
        Role::Editor,
        Role::Commenter,
        Role::Reader,
    ];

    /// The stored and displayed name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Validator => "validator",
            Role::Editor => "editor",
            Role::Commenter => "commenter",
            Role::Reader => "reader",
        }
    }

    /// Parses a stored or received name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|role| role.as_str() == s)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Staff of an organisation using Relais, or an outside partner who was invited.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UserKind {
    Staff,
    External,
}

impl UserKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            UserKind::Staff => "staff",
            UserKind::External => "external",
        }
    }
}

/// A user account as stored (without its password hash).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    /// Lowercase.
    pub email: String,
    pub display_name: String,
    pub kind: UserKind,
    pub organisation: Option<OrganisationId>,
    pub is_admin: bool,
    pub created_at_ms: UnixMillis,
    /// Set when the account was disabled; a disabled account has no access at all.
    pub disabled_at_ms: Option<UnixMillis>,
}

/// A user to create.
#[derive(Clone, Debug)]
pub struct NewUser {
    /// Stored lowercased; must be unique.
    pub email: String,
    pub display_name: String,
    pub kind: UserKind,
    pub organisation: Option<OrganisationId>,
    pub is_admin: bool,
    /// An argon2id PHC string, or `None` for accounts that sign in only through OIDC.
    pub password_hash: Option<String>,
    /// `(issuer, subject)` for accounts created by an OIDC sign-in.
    pub oidc: Option<(String, String)>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Organisation {
    pub id: OrganisationId,
    pub name: String,
    pub created_at_ms: UnixMillis,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Workspace {
    pub id: WorkspaceId,
    pub organisation: OrganisationId,
    pub name: String,
    pub created_at_ms: UnixMillis,
}

/// A role given to one user on a workspace or a document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grant {
    pub role: Role,
    /// After this instant the grant gives nothing (external partners always have one).
    pub expires_at_ms: Option<UnixMillis>,
    /// The member who invited this person, for external partners.
    pub sponsor: Option<UserId>,
}

/// A member of a workspace or document, with the grant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    pub user: User,
    pub grant: Grant,
}

/// What the directory knows of a document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DocumentInfo {
    pub id: DocumentId,
    pub workspace: Option<WorkspaceId>,
    pub title: String,
    pub created_by: Option<UserId>,
    pub created_at_ms: UnixMillis,
    /// Set when deleted; a deleted document is not listed and cannot be opened.
    pub deleted_at_ms: Option<UnixMillis>,
}

/// Everything the access policy needs to decide what one user may do on one document,
/// read in one go. Expiry is not applied here: the policy compares with its clock.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessFacts {
    /// `None` if the user does not exist.
    pub user: Option<User>,
    /// `None` if the document has no directory entry.
    pub document: Option<DocumentInfo>,
    /// The user's grant on the document's workspace, if any.
    pub workspace_grant: Option<Grant>,
    /// The user's grant on the document itself, if any.
    pub document_grant: Option<Grant>,
}

/// What an invitation gives access to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InvitationTarget {
    Workspace(WorkspaceId),
    Document(DocumentId),
}

/// An invitation to create.
#[derive(Clone, Debug)]
pub struct NewInvitation {
    pub id: InvitationId,
    /// sha256 hex of the secret in the link.
    pub secret_sha256: String,
    /// Lowercase.
    pub email: String,
    pub target: InvitationTarget,
    pub role: Role,
    pub access_expires_at_ms: UnixMillis,
    pub sponsor: UserId,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invitation {
    pub id: InvitationId,
    pub email: String,
    pub target: InvitationTarget,
    pub role: Role,
    pub access_expires_at_ms: UnixMillis,
    pub sponsor: UserId,
    pub created_at_ms: UnixMillis,
    pub accepted_at_ms: Option<UnixMillis>,
    pub accepted_by: Option<UserId>,
    pub revoked_at_ms: Option<UnixMillis>,
}

/// A signed-in browser session, found by the sha256 of its cookie.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Session {
    pub user: UserId,
    pub csrf_token: String,
    pub created_at_ms: UnixMillis,
    pub expires_at_ms: UnixMillis,
    pub revoked_at_ms: Option<UnixMillis>,
}

/// An API token to create (`relais token create`).
#[derive(Clone, Debug)]
pub struct NewApiToken {
    pub id: TokenId,
    pub secret_sha256: String,
    /// A document name, a prefix ending in `*`, or `*`.
    pub document_pattern: String,
    pub role: Role,
    pub expires_at_ms: UnixMillis,
    pub created_by: Option<UserId>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiToken {
    pub id: TokenId,
    pub secret_sha256: String,
    pub document_pattern: String,
    pub role: Role,
    pub expires_at_ms: UnixMillis,
    pub created_by: Option<UserId>,
    pub created_at_ms: UnixMillis,
    pub revoked_at_ms: Option<UnixMillis>,
}

/// An audit entry to append. Never carries document or message content: ids only.
#[derive(Clone, Debug)]
pub struct NewAuditEntry {
    /// `user:<id>`, `token:<id>`, `cli` or `system`.
    pub actor: Option<String>,
    /// A dotted verb, `session.created`, `document.opened`, `member.role_changed`...
    pub action: String,
    pub workspace: Option<WorkspaceId>,
    /// What the action was about (`document:<name>`, `user:<id>`...).
    pub target: Option<String>,
    /// Extra facts as a JSON object.
    pub details: serde_json::Value,
}

/// An entry of the journal, as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub seq: i64,
    pub at_ms: UnixMillis,
    pub actor: Option<String>,
    pub action: String,
    pub workspace: Option<WorkspaceId>,
    pub target: Option<String>,
    /// The exact JSON text that was hashed.
    pub details: String,
    /// sha256 hex of the previous entry (64 zeros for the first).
    pub prev_sha256: String,
    /// sha256 hex of this entry, see [`audit_hash`].
    pub sha256: String,
}

/// The chain value before the first entry.
pub const AUDIT_GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The sha256 hex of an entry: over the JSON array
/// `[seq, at_ms, actor, action, workspace, target, details, prev_sha256]`, so that no two
/// different entries serialise to the same bytes.
pub fn audit_hash(entry: &AuditEntry) -> String {
    use sha2::{Digest, Sha256};
    let canonical = serde_json::json!([
        entry.seq,
        entry.at_ms,
        entry.actor,
        entry.action,
        entry.workspace.as_ref().map(WorkspaceId::as_str),
        entry.target,
        entry.details,
        entry.prev_sha256,
    ]);
    let digest = Sha256::digest(canonical.to_string().as_bytes());
    digest.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Which journal entries to read.
#[derive(Clone, Debug, Default)]
pub struct AuditFilter {
    pub workspace: Option<WorkspaceId>,
    /// Entries at or after this instant.
    pub from_ms: Option<UnixMillis>,
    /// Entries before this instant.
    pub to_ms: Option<UnixMillis>,
    /// Entries with seq greater than this (paging).
    pub after_seq: i64,
    /// At most this many entries.
    pub limit: u32,
}

/// The result of checking the whole chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditVerification {
    /// Entries checked.
    pub entries: u64,
    /// The first entry that does not hash to its recorded value or does not link to the one
    /// before it (or follows a gap in the seqs), with why.
    pub first_broken: Option<(i64, String)>,
}

/// Accounts, organisations, workspaces, roles, invitations, sessions, tokens and the audit
/// journal.
///
/// Implemented by [`crate::SqliteStore`] and [`crate::PostgresStore`] over the same schema
/// (`0002_directory.sql`). Lookups of something that does not exist return `Ok(None)`;
/// creating something that already exists (same e-mail, same organisation name, same OIDC
/// subject) is [`StoreError::Conflict`]; referring to a missing user, workspace or document is
/// [`StoreError::NotFound`].
#[async_trait::async_trait]
pub trait Directory: Send + Sync + 'static {
    // Users.
    async fn create_user(&self, user: NewUser) -> Result<User, StoreError>;
    async fn user(&self, id: &UserId) -> Result<Option<User>, StoreError>;
    async fn user_by_email(&self, email: &str) -> Result<Option<User>, StoreError>;
    /// The user and their password hash, for a password sign-in.
    async fn password_credentials(
        &self,
        email: &str,
    ) -> Result<Option<(User, Option<String>)>, StoreError>;
    async fn user_by_oidc(&self, issuer: &str, subject: &str) -> Result<Option<User>, StoreError>;
    /// Records that an existing account signs in with this OIDC identity.
    async fn link_oidc(&self, user: &UserId, issuer: &str, subject: &str)
    -> Result<(), StoreError>;
    async fn set_password_hash(&self, user: &UserId, password_hash: &str)
    -> Result<(), StoreError>;
    /// Disables (or re-enables) an account; bumps the access epoch.
    async fn set_user_disabled(&self, user: &UserId, disabled: bool) -> Result<(), StoreError>;
    async fn set_user_organisation(
        &self,
        user: &UserId,
        organisation: Option<&OrganisationId>,
    ) -> Result<(), StoreError>;
    /// Every user, or the members of one organisation, by e-mail.
    async fn list_users(
        &self,
        organisation: Option<&OrganisationId>,
    ) -> Result<Vec<User>, StoreError>;
    async fn user_count(&self) -> Result<u64, StoreError>;

    // Organisations.
    async fn create_organisation(&self, name: &str) -> Result<Organisation, StoreError>;
    async fn organisation(&self, id: &OrganisationId) -> Result<Option<Organisation>, StoreError>;
    async fn organisation_by_name(&self, name: &str) -> Result<Option<Organisation>, StoreError>;
    async fn list_organisations(&self) -> Result<Vec<Organisation>, StoreError>;

    // Workspaces and their members.
    async fn create_workspace(
        &self,
        organisation: &OrganisationId,
        name: &str,
    ) -> Result<Workspace, StoreError>;
    async fn workspace(&self, id: &WorkspaceId) -> Result<Option<Workspace>, StoreError>;
    async fn list_workspaces(&self) -> Result<Vec<Workspace>, StoreError>;
    /// Workspaces where the user has a grant (expired ones included: the caller filters).
    async fn workspaces_of(&self, user: &UserId) -> Result<Vec<(Workspace, Grant)>, StoreError>;
    /// Adds a member or replaces their grant; bumps the access epoch.
    async fn set_workspace_member(
        &self,
        workspace: &WorkspaceId,
        user: &UserId,
        grant: &Grant,
    ) -> Result<(), StoreError>;
    /// Removes a member; bumps the access epoch. Returns whether there was one.
    async fn remove_workspace_member(
        &self,
        workspace: &WorkspaceId,
        user: &UserId,
    ) -> Result<bool, StoreError>;
    async fn workspace_members(&self, workspace: &WorkspaceId) -> Result<Vec<Member>, StoreError>;
    async fn workspace_grant(
        &self,
        workspace: &WorkspaceId,
        user: &UserId,
    ) -> Result<Option<Grant>, StoreError>;

    // Documents in the directory and their own members.
    async fn create_document(&self, info: &DocumentInfo) -> Result<(), StoreError>;
    /// The entry, deleted or not.
    async fn document(&self, id: &DocumentId) -> Result<Option<DocumentInfo>, StoreError>;
    /// The workspace's documents that are not deleted, by title.
    async fn list_documents(
        &self,
        workspace: &WorkspaceId,
    ) -> Result<Vec<DocumentInfo>, StoreError>;
    /// Documents where the user has a document grant (expired included), not deleted.
    async fn documents_shared_with(
        &self,
        user: &UserId,
    ) -> Result<Vec<(DocumentInfo, Grant)>, StoreError>;
    async fn rename_document(&self, id: &DocumentId, title: &str) -> Result<(), StoreError>;
    /// Marks the document deleted; bumps the access epoch.
    async fn delete_document(&self, id: &DocumentId) -> Result<(), StoreError>;
    /// Adds or replaces a document grant; bumps the access epoch.
    async fn set_document_member(
        &self,
        document: &DocumentId,
        user: &UserId,
        grant: &Grant,
    ) -> Result<(), StoreError>;
    /// Removes a document grant; bumps the access epoch.
    async fn remove_document_member(
        &self,
        document: &DocumentId,
        user: &UserId,
    ) -> Result<bool, StoreError>;
    async fn document_members(&self, document: &DocumentId) -> Result<Vec<Member>, StoreError>;
    /// Whether the document is frozen for review (see [`crate::Versions::freeze`]): nobody
    /// may edit it until the review is decided.
    async fn document_frozen(&self, document: &DocumentId) -> Result<bool, StoreError>;
    /// The user, the document entry and both grants, in one read.
    async fn access_facts(
        &self,
        user: &UserId,
        document: &DocumentId,
    ) -> Result<AccessFacts, StoreError>;

    // Invitations.
    async fn create_invitation(&self, invitation: &NewInvitation)
    -> Result<Invitation, StoreError>;
    async fn invitation_by_secret(
        &self,
        secret_sha256: &str,
    ) -> Result<Option<Invitation>, StoreError>;
    /// Marks the invitation accepted by `user` if it is still open (not accepted, not
    /// revoked); returns whether this call accepted it. Does not grant anything by itself.
    async fn mark_invitation_accepted(
        &self,
        id: &InvitationId,
        user: &UserId,
    ) -> Result<bool, StoreError>;
    async fn revoke_invitation(&self, id: &InvitationId) -> Result<bool, StoreError>;
    async fn list_invitations(
        &self,
        workspace: &WorkspaceId,
    ) -> Result<Vec<Invitation>, StoreError>;

    // Sessions.
    async fn create_session(
        &self,
        secret_sha256: &str,
        session: &Session,
    ) -> Result<(), StoreError>;
    async fn session(&self, secret_sha256: &str) -> Result<Option<Session>, StoreError>;
    /// Revokes one session; bumps the access epoch. Returns whether it was active.
    async fn revoke_session(&self, secret_sha256: &str) -> Result<bool, StoreError>;

    // API tokens.
    async fn create_api_token(&self, token: &NewApiToken) -> Result<ApiToken, StoreError>;
    async fn api_token(&self, id: &TokenId) -> Result<Option<ApiToken>, StoreError>;
    async fn list_api_tokens(&self) -> Result<Vec<ApiToken>, StoreError>;
    /// Revokes a token; bumps the access epoch. Returns whether it was active.
    async fn revoke_api_token(&self, id: &TokenId) -> Result<bool, StoreError>;

    /// A counter bumped in the same transaction as every change that can take access away or
    /// change a role: nodes poll it to re-check open connections.
    async fn access_epoch(&self) -> Result<i64, StoreError>;

    // The audit journal.
    /// Appends one entry: under the journal's write lock, reads the last entry, gives this one
    /// the next seq, the current time and the chain hash, and inserts it.
    async fn append_audit(&self, entry: NewAuditEntry) -> Result<AuditEntry, StoreError>;
    /// Entries matching `filter`, ascending by seq.
    async fn audit_entries(&self, filter: &AuditFilter) -> Result<Vec<AuditEntry>, StoreError>;
    /// Walks the whole journal in seq order, recomputing each hash and link.
    async fn verify_audit(&self) -> Result<AuditVerification, StoreError>;
}
