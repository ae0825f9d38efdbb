//! The access policy: what a caller may do on a document, a workspace or the directory.
//!
//! This module owns the rules; storage only keeps the facts ([`AccessFacts`], [`Grant`]).
//! Every decision takes `now`, because grants of external partners expire by themselves.

use relais_storage::{
    AccessFacts, Directory, DocumentId, DocumentInfo, Grant, Role, StoreError, UnixMillis, User,
    UserKind,
};

use crate::auth::{Caller, pattern_matches};

/// A role on a document, and until when it holds without anyone acting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Access {
    pub role: Role,
    /// The earliest expiry among the grant and the credential it rests on.
    pub valid_until_ms: Option<UnixMillis>,
    /// The document is under review: nobody edits it, whatever their role.
    pub frozen: bool,
}

impl Access {
    /// Whether this access may change the document's content now.
    pub fn may_edit(&self) -> bool {
        can_edit(self.role) && !self.frozen
    }
}

/// Whether a role may change a document's content.
pub fn can_edit(role: Role) -> bool {
    matches!(role, Role::Owner | Role::Validator | Role::Editor)
}

/// Whether a role may comment (and, once chat exists, write in the document's discussion).
pub fn can_comment(role: Role) -> bool {
    role != Role::Reader
}

/// The grant if it has not expired.
fn live(grant: Option<&Grant>, now_ms: UnixMillis) -> Option<&Grant> {
    grant.filter(|grant| grant.expires_at_ms.is_none_or(|expiry| expiry > now_ms))
}

fn earliest(a: Option<UnixMillis>, b: Option<UnixMillis>) -> Option<UnixMillis> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// A user's access to a document from the stored facts.
///
/// A deleted document gives nothing to anyone. Administrators are owners of every document.
/// Otherwise the document's own grant (which may narrow or widen) wins over the workspace's;
/// an expired grant counts as none, and a document unknown to the directory gives nothing.
pub fn user_document_access(user: &User, facts: &AccessFacts, now_ms: UnixMillis) -> Option<Access> {
    if user.disabled_at_ms.is_some() {
        return None;
    }
    if facts.document.as_ref().is_some_and(|document| document.deleted_at_ms.is_some()) {
        return None;
    }
    if user.is_admin {
        return Some(Access { role: Role::Owner, valid_until_ms: None, frozen: false });
    }
    facts.document.as_ref()?;
    let grant = live(facts.document_grant.as_ref(), now_ms).or_else(|| live(facts.workspace_grant.as_ref(), now_ms))?;
    Some(Access { role: grant.role, valid_until_ms: grant.expires_at_ms, frozen: false })
}

/// What a caller may do on a document now, read from the directory.
pub async fn document_access(
    directory: &dyn Directory,
    caller: &Caller,
    document: &DocumentId,
    now_ms: UnixMillis,
) -> Result<Option<Access>, StoreError> {
    let access = match caller {
        Caller::User(session) => {
            let facts = directory.access_facts(&session.user.id, document).await?;
            user_document_access(&session.user, &facts, now_ms)
        }
        Caller::Token(token) => {
            let deleted = directory
                .document(document)
                .await?
                .is_some_and(|info: DocumentInfo| info.deleted_at_ms.is_some());
            (!deleted && pattern_matches(&token.document_pattern, document.as_str()))
                .then_some(Access { role: token.role, valid_until_ms: None, frozen: false })
        }
    };
    let Some(access) = access else { return Ok(None) };
    // Only editing roles need to know; readers are read-only anyway.
    let frozen = can_edit(access.role) && directory.document_frozen(document).await?;
    Ok(Some(Access {
        role: access.role,
        valid_until_ms: earliest(access.valid_until_ms, Some(caller.credential_expires_at_ms())),
        frozen,
    }))
}

/// A user's role in a workspace: administrators are owners of every workspace.
pub fn workspace_role(user: &User, grant: Option<&Grant>, now_ms: UnixMillis) -> Option<Role> {
    if user.disabled_at_ms.is_some() {
        return None;
    }
    if user.is_admin {
        return Some(Role::Owner);
    }
    live(grant, now_ms).map(|grant| grant.role)
}

/// Whether a user may list an organisation's people: staff of that organisation and
/// administrators. External partners never list the directory.
pub fn can_list_directory(user: &User, organisation: Option<&relais_storage::OrganisationId>) -> bool {
    if user.is_admin {
        return true;
    }
    user.kind == UserKind::Staff && organisation.is_some() && user.organisation.as_ref() == organisation
}

#[cfg(test)]
mod tests {
    use relais_storage::{UserId, WorkspaceId};

    use super::*;

    fn user(kind: UserKind, is_admin: bool) -> User {
        User {
            id: UserId::generate(),
            email: "a@b.fr".into(),
            display_name: "A".into(),
            kind,
            organisation: None,
            is_admin,
            created_at_ms: 0,
            disabled_at_ms: None,
        }
    }

    fn facts(workspace: Option<(Role, Option<i64>)>, document: Option<(Role, Option<i64>)>) -> AccessFacts {
        let grant = |(role, expires_at_ms)| Grant { role, expires_at_ms, sponsor: None };
        AccessFacts {
            user: None,
            document: Some(DocumentInfo {
                id: DocumentId::parse("d").unwrap(),
                workspace: Some(WorkspaceId::generate()),
                title: "d".into(),
                created_by: None,
                created_at_ms: 0,
                deleted_at_ms: None,
            }),
            workspace_grant: workspace.map(grant),
            document_grant: document.map(grant),
        }
    }

    #[test]
    fn document_grants_narrow_and_widen_the_workspace_role() {
        let staff = user(UserKind::Staff, false);
        let role = |f: &AccessFacts| user_document_access(&staff, f, 100).map(|a| a.role);
        assert_eq!(role(&facts(Some((Role::Editor, None)), None)), Some(Role::Editor));
        assert_eq!(role(&facts(Some((Role::Editor, None)), Some((Role::Reader, None)))), Some(Role::Reader));
        assert_eq!(role(&facts(Some((Role::Reader, None)), Some((Role::Owner, None)))), Some(Role::Owner));
        assert_eq!(role(&facts(None, None)), None);
    }

    #[test]
    fn expired_grants_give_nothing_and_expiry_is_reported() {
        let partner = user(UserKind::External, false);
        let expired = facts(None, Some((Role::Editor, Some(100))));
        assert_eq!(user_document_access(&partner, &expired, 100), None);
        let live = facts(None, Some((Role::Editor, Some(200))));
        assert_eq!(
            user_document_access(&partner, &live, 100),
            Some(Access { role: Role::Editor, valid_until_ms: Some(200), frozen: false })
        );
        // An expired document grant falls back to a live workspace grant.
        let fallback = facts(Some((Role::Reader, None)), Some((Role::Editor, Some(50))));
        assert_eq!(user_document_access(&partner, &fallback, 100).map(|a| a.role), Some(Role::Reader));
    }

    #[test]
    fn deleted_documents_and_disabled_users_get_nothing() {
        let admin = user(UserKind::Staff, true);
        let mut deleted = facts(Some((Role::Owner, None)), None);
        if let Some(document) = deleted.document.as_mut() {
            document.deleted_at_ms = Some(1);
        }
        assert_eq!(user_document_access(&admin, &deleted, 100), None);
        let mut disabled = user(UserKind::Staff, false);
        disabled.disabled_at_ms = Some(1);
        assert_eq!(user_document_access(&disabled, &facts(Some((Role::Owner, None)), None), 100), None);
    }

    #[test]
    fn externals_never_list_the_directory() {
        let mut staff = user(UserKind::Staff, false);
        let organisation = relais_storage::OrganisationId::generate();
        staff.organisation = Some(organisation.clone());
        assert!(can_list_directory(&staff, Some(&organisation)));
        assert!(!can_list_directory(&staff, Some(&relais_storage::OrganisationId::generate())));
        let mut partner = user(UserKind::External, false);
        partner.organisation = Some(organisation.clone());
        assert!(!can_list_directory(&partner, Some(&organisation)));
    }
}
