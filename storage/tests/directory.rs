//! The directory's conformance suite, run on both backends.
//!
//! As in `conformance.rs`, every scenario is an `async fn(Arc<Harness>)` that
//! `common::both_backends!` turns into `sqlite::<name>` and `postgres::<name>`, each on a
//! private database (see `common`).

// The scenarios are plain async functions called from generated tests, which clippy does not
// recognise as test code; unwrap is allowed in tests by the house rules.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;

use relais_storage::{
    AUDIT_GENESIS, AccessFacts, AuditEntry, AuditFilter, Directory, DocumentId, DocumentInfo,
    Grant, InvitationId, InvitationTarget, NewApiToken, NewAuditEntry, NewInvitation, NewUser,
    OrganisationId, Role, Session, StoreError, TokenId, User, UserId, UserKind, WorkspaceId,
    audit_hash, open_object_store,
};

use common::{Backend, Harness, document_id, is_not_found, new_user, workspace};

/// What this suite adds to the shared harness: a directory on objects in memory, and raw SQL.
impl Harness {
    /// A new store instance (its own pools) on this test's database, as another server
    /// process would open it.
    async fn open(&self) -> Arc<dyn Directory> {
        self.connect(open_object_store("memory://").unwrap()).await
    }

    /// Runs one statement on a plain connection, around the store, as an intruder with
    /// database access would.
    async fn execute(&self, statement: &str) -> Result<u64, sqlx::Error> {
        let mut connection = self.raw_connection().await?;
        let result = connection.execute(statement, &[]).await;
        connection.close().await?;
        result
    }
}

common::both_backends!(
    users_are_found_by_id_email_and_oidc,
    duplicates_conflict,
    account_changes_apply_to_known_users_only,
    users_are_listed_by_email,
    organisations_are_found_by_id_and_name,
    workspace_members_are_set_replaced_and_removed,
    documents_are_created_listed_renamed_and_deleted,
    document_members_are_set_and_removed,
    access_facts_combine_user_document_and_grants,
    invitations_are_accepted_once,
    sessions_are_created_and_revoked,
    api_tokens_are_created_and_revoked,
    access_epoch_moves_with_access_changes_only,
    audit_entries_chain_and_verify,
    audit_entries_are_filtered_and_paged,
    audit_log_refuses_updates_and_deletes,
    audit_tampering_is_found_at_its_seq,
    verification_reads_past_one_page,
    concurrent_audit_appends_form_one_chain,
);

async fn user(directory: &dyn Directory, email: &str) -> User {
    directory.create_user(new_user(email)).await.unwrap()
}

fn grant(role: Role) -> Grant {
    Grant {
        role,
        expires_at_ms: None,
        sponsor: None,
    }
}

fn document_info(name: &str, workspace: Option<&WorkspaceId>, title: &str) -> DocumentInfo {
    DocumentInfo {
        id: document_id(name),
        workspace: workspace.cloned(),
        title: title.to_owned(),
        created_by: None,
        created_at_ms: 1_700_000_000_000,
        deleted_at_ms: None,
    }
}

fn audit(action: &str, workspace: Option<&WorkspaceId>) -> NewAuditEntry {
    NewAuditEntry {
        actor: Some("system".to_owned()),
        action: action.to_owned(),
        workspace: workspace.cloned(),
        target: Some("document:plan".to_owned()),
        details: serde_json::json!({"reason": "test", "n": 1}),
    }
}

fn unknown_user() -> UserId {
    UserId::generate()
}

fn is_conflict<T: std::fmt::Debug>(result: Result<T, StoreError>) -> bool {
    matches!(result, Err(StoreError::Conflict(_)))
}

async fn users_are_found_by_id_email_and_oidc(harness: Arc<Harness>) {
    let directory = harness.open().await;
    let organisation = directory.create_organisation("Mairie").await.unwrap();
    let created = directory
        .create_user(NewUser {
            email: "  Marie.Dupont@Mairie.FR ".to_owned(),
            display_name: "Marie Dupont".to_owned(),
            kind: UserKind::External,
            organisation: Some(organisation.id.clone()),
            is_admin: true,
            password_hash: Some("$argon2id$v=19$hash".to_owned()),
            oidc: Some(("https://idp.example".to_owned(), "subject-1".to_owned())),
        })
        .await
        .unwrap();
    assert_eq!(created.email, "marie.dupont@mairie.fr");
    assert_eq!(created.kind, UserKind::External);
    assert_eq!(created.organisation, Some(organisation.id.clone()));
    assert!(created.is_admin);
    assert_eq!(created.disabled_at_ms, None);

    assert_eq!(
        directory.user(&created.id).await.unwrap(),
        Some(created.clone())
    );
    assert_eq!(
        directory
            .user_by_email("MARIE.dupont@mairie.fr")
            .await
            .unwrap(),
        Some(created.clone())
    );
    assert_eq!(
        directory
            .password_credentials(" Marie.Dupont@mairie.fr")
            .await
            .unwrap(),
        Some((created.clone(), Some("$argon2id$v=19$hash".to_owned())))
    );
    assert_eq!(
        directory
            .user_by_oidc("https://idp.example", "subject-1")
            .await
            .unwrap(),
        Some(created.clone())
    );
    assert_eq!(
        directory
            .user_by_oidc("https://idp.example", "subject-2")
            .await
            .unwrap(),
        None
    );
    assert_eq!(directory.user(&unknown_user()).await.unwrap(), None);
    assert_eq!(
        directory.user_by_email("nobody@example.org").await.unwrap(),
        None
    );
    assert_eq!(
        directory
            .password_credentials("nobody@example.org")
            .await
            .unwrap(),
        None
    );

    // An OIDC-only account has no password; linking gives it an identity.
    let oidc_only = user(directory.as_ref(), "paul@example.org").await;
    assert_eq!(
        directory
            .password_credentials("paul@example.org")
            .await
            .unwrap(),
        Some((oidc_only.clone(), None))
    );
    directory
        .link_oidc(&oidc_only.id, "https://idp.example", "subject-2")
        .await
        .unwrap();
    assert_eq!(
        directory
            .user_by_oidc("https://idp.example", "subject-2")
            .await
            .unwrap(),
        Some(oidc_only.clone())
    );
    assert!(is_conflict(
        directory
            .link_oidc(&oidc_only.id, "https://idp.example", "subject-1")
            .await
    ));
    assert!(is_not_found(
        directory
            .link_oidc(&unknown_user(), "https://idp.example", "subject-3")
            .await
    ));
}

async fn duplicates_conflict(harness: Arc<Harness>) {
    let directory = harness.open().await;
    user(directory.as_ref(), "anne@example.org").await;
    let duplicate = directory.create_user(new_user("Anne@Example.org")).await;
    assert!(
        matches!(&duplicate, Err(StoreError::Conflict(message)) if message.contains("e-mail")),
        "{duplicate:?}"
    );

    let oidc = |email: &str| NewUser {
        oidc: Some(("https://idp".to_owned(), "same".to_owned())),
        ..new_user(email)
    };
    directory.create_user(oidc("b@example.org")).await.unwrap();
    let duplicate = directory.create_user(oidc("c@example.org")).await;
    assert!(
        matches!(&duplicate, Err(StoreError::Conflict(message)) if message.contains("oidc")),
        "{duplicate:?}"
    );

    directory.create_organisation("Commune").await.unwrap();
    let duplicate = directory.create_organisation("Commune").await;
    assert!(
        matches!(&duplicate, Err(StoreError::Conflict(message)) if message.contains("organisation")),
        "{duplicate:?}"
    );
    // A failed write leaves nothing behind.
    assert_eq!(directory.user_count().await.unwrap(), 2);
    assert_eq!(directory.list_organisations().await.unwrap().len(), 1);

    let workspace = workspace(directory.as_ref(), "Plans").await;
    directory
        .create_document(&document_info("plan", Some(&workspace), "Plan"))
        .await
        .unwrap();
    assert!(is_conflict(
        directory
            .create_document(&document_info("plan", Some(&workspace), "Other"))
            .await
    ));

    // Unknown references are NotFound, not Conflict.
    let orphan = NewUser {
        organisation: Some(OrganisationId::generate()),
        ..new_user("orphan@example.org")
    };
    assert!(is_not_found(directory.create_user(orphan).await));
    assert!(is_not_found(
        directory
            .create_workspace(&OrganisationId::generate(), "nowhere")
            .await
    ));
    assert!(is_not_found(
        directory
            .create_document(&document_info(
                "homeless",
                Some(&WorkspaceId::generate()),
                "x"
            ))
            .await
    ));
}

async fn account_changes_apply_to_known_users_only(harness: Arc<Harness>) {
    let directory = harness.open().await;
    let anne = user(directory.as_ref(), "anne@example.org").await;
    directory
        .set_password_hash(&anne.id, "$argon2id$new")
        .await
        .unwrap();
    assert_eq!(
        directory
            .password_credentials("anne@example.org")
            .await
            .unwrap()
            .unwrap()
            .1
            .as_deref(),
        Some("$argon2id$new")
    );

    directory.set_user_disabled(&anne.id, true).await.unwrap();
    let disabled_at = directory
        .user(&anne.id)
        .await
        .unwrap()
        .unwrap()
        .disabled_at_ms;
    assert!(disabled_at.is_some());
    // Disabling again keeps the first instant.
    directory.set_user_disabled(&anne.id, true).await.unwrap();
    assert_eq!(
        directory
            .user(&anne.id)
            .await
            .unwrap()
            .unwrap()
            .disabled_at_ms,
        disabled_at
    );
    directory.set_user_disabled(&anne.id, false).await.unwrap();
    assert_eq!(
        directory
            .user(&anne.id)
            .await
            .unwrap()
            .unwrap()
            .disabled_at_ms,
        None
    );

    let organisation = directory.create_organisation("Mairie").await.unwrap();
    directory
        .set_user_organisation(&anne.id, Some(&organisation.id))
        .await
        .unwrap();
    assert_eq!(
        directory
            .user(&anne.id)
            .await
            .unwrap()
            .unwrap()
            .organisation,
        Some(organisation.id.clone())
    );
    directory
        .set_user_organisation(&anne.id, None)
        .await
        .unwrap();
    assert_eq!(
        directory
            .user(&anne.id)
            .await
            .unwrap()
            .unwrap()
            .organisation,
        None
    );
    assert!(is_not_found(
        directory
            .set_user_organisation(&anne.id, Some(&OrganisationId::generate()))
            .await
    ));

    let nobody = unknown_user();
    assert!(is_not_found(
        directory.set_password_hash(&nobody, "x").await
    ));
    assert!(is_not_found(
        directory.set_user_disabled(&nobody, true).await
    ));
    assert!(is_not_found(
        directory
            .set_user_organisation(&nobody, Some(&organisation.id))
            .await
    ));
}

async fn users_are_listed_by_email(harness: Arc<Harness>) {
    let directory = harness.open().await;
    assert_eq!(directory.user_count().await.unwrap(), 0);
    assert!(directory.list_users(None).await.unwrap().is_empty());
    let mairie = directory.create_organisation("Mairie").await.unwrap();
    let bureau = directory.create_organisation("Bureau").await.unwrap();
    for (email, organisation) in [
        ("zoe@mairie.fr", Some(&mairie)),
        ("Bob@bureau.fr", Some(&bureau)),
        ("alice@mairie.fr", Some(&mairie)),
        ("carl@nowhere.org", None),
    ] {
        directory
            .create_user(NewUser {
                organisation: organisation.map(|organisation| organisation.id.clone()),
                ..new_user(email)
            })
            .await
            .unwrap();
    }
    let emails = |users: Vec<User>| users.into_iter().map(|user| user.email).collect::<Vec<_>>();
    assert_eq!(
        emails(directory.list_users(None).await.unwrap()),
        [
            "alice@mairie.fr",
            "bob@bureau.fr",
            "carl@nowhere.org",
            "zoe@mairie.fr"
        ]
    );
    assert_eq!(
        emails(directory.list_users(Some(&mairie.id)).await.unwrap()),
        ["alice@mairie.fr", "zoe@mairie.fr"]
    );
    assert_eq!(
        emails(
            directory
                .list_users(Some(&OrganisationId::generate()))
                .await
                .unwrap()
        ),
        Vec::<String>::new()
    );
    assert_eq!(directory.user_count().await.unwrap(), 4);
}

async fn organisations_are_found_by_id_and_name(harness: Arc<Harness>) {
    let directory = harness.open().await;
    let mairie = directory.create_organisation("Mairie").await.unwrap();
    let bureau = directory
        .create_organisation("bureau d'études")
        .await
        .unwrap();
    assert_eq!(
        directory.organisation(&mairie.id).await.unwrap(),
        Some(mairie.clone())
    );
    assert_eq!(
        directory.organisation_by_name("Mairie").await.unwrap(),
        Some(mairie.clone())
    );
    assert_eq!(
        directory.organisation_by_name("mairie").await.unwrap(),
        None
    );
    assert_eq!(
        directory
            .organisation(&OrganisationId::generate())
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        directory.list_organisations().await.unwrap(),
        [bureau, mairie.clone()]
    );

    let second = directory
        .create_workspace(&mairie.id, "Voirie")
        .await
        .unwrap();
    let first = directory
        .create_workspace(&mairie.id, "Écoles")
        .await
        .unwrap();
    let third = directory
        .create_workspace(&mairie.id, "budget")
        .await
        .unwrap();
    assert_eq!(
        directory.workspace(&first.id).await.unwrap(),
        Some(first.clone())
    );
    assert_eq!(
        directory.workspace(&WorkspaceId::generate()).await.unwrap(),
        None
    );
    // Case-insensitive, then byte-wise: the same order on both backends.
    assert_eq!(
        directory.list_workspaces().await.unwrap(),
        [third, second, first]
    );
}

async fn workspace_members_are_set_replaced_and_removed(harness: Arc<Harness>) {
    let directory = harness.open().await;
    let plans = workspace(directory.as_ref(), "Plans").await;
    let budget = workspace(directory.as_ref(), "Budget").await;
    let anne = user(directory.as_ref(), "anne@example.org").await;
    let bob = user(directory.as_ref(), "bob@example.org").await;

    directory
        .set_workspace_member(&plans, &bob.id, &grant(Role::Owner))
        .await
        .unwrap();
    let partner = Grant {
        role: Role::Commenter,
        expires_at_ms: Some(1_800_000_000_000),
        sponsor: Some(bob.id.clone()),
    };
    directory
        .set_workspace_member(&plans, &anne.id, &partner)
        .await
        .unwrap();
    directory
        .set_workspace_member(&budget, &anne.id, &grant(Role::Reader))
        .await
        .unwrap();

    assert_eq!(
        directory.workspace_grant(&plans, &anne.id).await.unwrap(),
        Some(partner.clone())
    );
    let members = directory.workspace_members(&plans).await.unwrap();
    assert_eq!(
        members
            .iter()
            .map(|member| (member.user.email.as_str(), member.grant.role))
            .collect::<Vec<_>>(),
        [
            ("anne@example.org", Role::Commenter),
            ("bob@example.org", Role::Owner)
        ]
    );
    assert_eq!(members[0].user, anne);
    assert_eq!(members[0].grant, partner);
    let of_anne = directory.workspaces_of(&anne.id).await.unwrap();
    assert_eq!(
        of_anne
            .iter()
            .map(|(workspace, grant)| (workspace.name.as_str(), grant.role))
            .collect::<Vec<_>>(),
        [("Budget", Role::Reader), ("Plans", Role::Commenter)]
    );

    // Setting again replaces the grant.
    directory
        .set_workspace_member(&plans, &anne.id, &grant(Role::Editor))
        .await
        .unwrap();
    assert_eq!(
        directory.workspace_grant(&plans, &anne.id).await.unwrap(),
        Some(grant(Role::Editor))
    );
    assert_eq!(directory.workspace_members(&plans).await.unwrap().len(), 2);

    assert!(
        directory
            .remove_workspace_member(&plans, &anne.id)
            .await
            .unwrap()
    );
    assert!(
        !directory
            .remove_workspace_member(&plans, &anne.id)
            .await
            .unwrap()
    );
    assert_eq!(
        directory.workspace_grant(&plans, &anne.id).await.unwrap(),
        None
    );
    assert_eq!(directory.workspaces_of(&anne.id).await.unwrap().len(), 1);

    assert!(is_not_found(
        directory
            .set_workspace_member(&plans, &unknown_user(), &grant(Role::Reader))
            .await
    ));
    assert!(is_not_found(
        directory
            .set_workspace_member(&WorkspaceId::generate(), &anne.id, &grant(Role::Reader))
            .await
    ));
    let unknown_sponsor = Grant {
        sponsor: Some(unknown_user()),
        ..grant(Role::Reader)
    };
    assert!(is_not_found(
        directory
            .set_workspace_member(&plans, &anne.id, &unknown_sponsor)
            .await
    ));
}

async fn documents_are_created_listed_renamed_and_deleted(harness: Arc<Harness>) {
    let directory = harness.open().await;
    let plans = workspace(directory.as_ref(), "Plans").await;
    let other = workspace(directory.as_ref(), "Other").await;
    let anne = user(directory.as_ref(), "anne@example.org").await;
    let created = DocumentInfo {
        created_by: Some(anne.id.clone()),
        ..document_info("plans/compte-rendu-réunion", Some(&plans), "Compte rendu")
    };
    directory.create_document(&created).await.unwrap();
    directory
        .create_document(&document_info("plans/agenda", Some(&plans), "agenda"))
        .await
        .unwrap();
    directory
        .create_document(&document_info("elsewhere", Some(&other), "Budget"))
        .await
        .unwrap();
    directory
        .create_document(&document_info("loose", None, "No workspace"))
        .await
        .unwrap();

    assert_eq!(
        directory.document(&created.id).await.unwrap(),
        Some(created.clone())
    );
    assert_eq!(
        directory.document(&document_id("missing")).await.unwrap(),
        None
    );
    let titles = |documents: Vec<DocumentInfo>| {
        documents
            .into_iter()
            .map(|document| document.title)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        titles(directory.list_documents(&plans).await.unwrap()),
        ["agenda", "Compte rendu"]
    );

    directory
        .rename_document(&created.id, "Procès-verbal")
        .await
        .unwrap();
    assert_eq!(
        directory
            .document(&created.id)
            .await
            .unwrap()
            .unwrap()
            .title,
        "Procès-verbal"
    );

    directory.delete_document(&created.id).await.unwrap();
    let deleted = directory.document(&created.id).await.unwrap().unwrap();
    assert!(deleted.deleted_at_ms.is_some());
    assert_eq!(
        titles(directory.list_documents(&plans).await.unwrap()),
        ["agenda"]
    );
    // Deleting again keeps the first instant.
    directory.delete_document(&created.id).await.unwrap();
    assert_eq!(
        directory
            .document(&created.id)
            .await
            .unwrap()
            .unwrap()
            .deleted_at_ms,
        deleted.deleted_at_ms
    );

    let missing = document_id("missing");
    assert!(is_not_found(directory.rename_document(&missing, "x").await));
    assert!(is_not_found(directory.delete_document(&missing).await));
}

async fn document_members_are_set_and_removed(harness: Arc<Harness>) {
    let directory = harness.open().await;
    let plans = workspace(directory.as_ref(), "Plans").await;
    let anne = user(directory.as_ref(), "anne@example.org").await;
    let bob = user(directory.as_ref(), "bob@example.org").await;
    let first = document_info("a", Some(&plans), "B title");
    let second = document_info("b", Some(&plans), "A title");
    for document in [&first, &second] {
        directory.create_document(document).await.unwrap();
    }
    directory
        .set_document_member(&first.id, &anne.id, &grant(Role::Validator))
        .await
        .unwrap();
    directory
        .set_document_member(&second.id, &anne.id, &grant(Role::Reader))
        .await
        .unwrap();
    directory
        .set_document_member(&first.id, &bob.id, &grant(Role::Reader))
        .await
        .unwrap();

    let shared = directory.documents_shared_with(&anne.id).await.unwrap();
    assert_eq!(
        shared
            .iter()
            .map(|(document, grant)| (document.title.as_str(), grant.role))
            .collect::<Vec<_>>(),
        [("A title", Role::Reader), ("B title", Role::Validator)]
    );
    let members = directory.document_members(&first.id).await.unwrap();
    assert_eq!(
        members
            .iter()
            .map(|member| (member.user.id.clone(), member.grant.role))
            .collect::<Vec<_>>(),
        [
            (anne.id.clone(), Role::Validator),
            (bob.id.clone(), Role::Reader)
        ]
    );

    directory
        .set_document_member(&first.id, &anne.id, &grant(Role::Commenter))
        .await
        .unwrap();
    assert_eq!(
        directory.document_members(&first.id).await.unwrap()[0]
            .grant
            .role,
        Role::Commenter
    );

    // Deleted documents are no longer listed as shared.
    directory.delete_document(&second.id).await.unwrap();
    assert_eq!(
        directory
            .documents_shared_with(&anne.id)
            .await
            .unwrap()
            .len(),
        1
    );

    assert!(
        directory
            .remove_document_member(&first.id, &bob.id)
            .await
            .unwrap()
    );
    assert!(
        !directory
            .remove_document_member(&first.id, &bob.id)
            .await
            .unwrap()
    );
    assert_eq!(
        directory.document_members(&first.id).await.unwrap().len(),
        1
    );

    assert!(is_not_found(
        directory
            .set_document_member(&document_id("missing"), &anne.id, &grant(Role::Reader))
            .await
    ));
    assert!(is_not_found(
        directory
            .set_document_member(&first.id, &unknown_user(), &grant(Role::Reader))
            .await
    ));
}

async fn access_facts_combine_user_document_and_grants(harness: Arc<Harness>) {
    let directory = harness.open().await;
    let plans = workspace(directory.as_ref(), "Plans").await;
    let other = workspace(directory.as_ref(), "Other").await;
    let anne = user(directory.as_ref(), "anne@example.org").await;
    let bob = user(directory.as_ref(), "bob@example.org").await;
    let document = document_info("plan", Some(&plans), "Plan");
    let loose = document_info("loose", None, "Loose");
    directory.create_document(&document).await.unwrap();
    directory.create_document(&loose).await.unwrap();

    let facts = |user: UserId, document: DocumentId| {
        let directory = directory.clone();
        async move { directory.access_facts(&user, &document).await.unwrap() }
    };

    // Neither user nor document.
    assert_eq!(
        facts(unknown_user(), document_id("missing")).await,
        AccessFacts {
            user: None,
            document: None,
            workspace_grant: None,
            document_grant: None,
        }
    );
    // A user without grants on an unknown document.
    assert_eq!(
        facts(anne.id.clone(), document_id("missing")).await,
        AccessFacts {
            user: Some(anne.clone()),
            document: None,
            workspace_grant: None,
            document_grant: None,
        }
    );
    // Known both, no grant.
    assert_eq!(
        facts(anne.id.clone(), document.id.clone()).await,
        AccessFacts {
            user: Some(anne.clone()),
            document: Some(document.clone()),
            workspace_grant: None,
            document_grant: None,
        }
    );

    // A grant on another workspace does not count.
    directory
        .set_workspace_member(&other, &anne.id, &grant(Role::Owner))
        .await
        .unwrap();
    assert_eq!(
        facts(anne.id.clone(), document.id.clone())
            .await
            .workspace_grant,
        None
    );

    let workspace_grant = Grant {
        role: Role::Editor,
        expires_at_ms: Some(1_800_000_000_000),
        sponsor: Some(bob.id.clone()),
    };
    directory
        .set_workspace_member(&plans, &anne.id, &workspace_grant)
        .await
        .unwrap();
    assert_eq!(
        facts(anne.id.clone(), document.id.clone()).await,
        AccessFacts {
            user: Some(anne.clone()),
            document: Some(document.clone()),
            workspace_grant: Some(workspace_grant.clone()),
            document_grant: None,
        }
    );

    directory
        .set_document_member(&document.id, &anne.id, &grant(Role::Reader))
        .await
        .unwrap();
    assert_eq!(
        facts(anne.id.clone(), document.id.clone()).await,
        AccessFacts {
            user: Some(anne.clone()),
            document: Some(document.clone()),
            workspace_grant: Some(workspace_grant.clone()),
            document_grant: Some(grant(Role::Reader)),
        }
    );
    // Only the asking user's grants.
    assert_eq!(
        facts(bob.id.clone(), document.id.clone()).await,
        AccessFacts {
            user: Some(bob.clone()),
            document: Some(document.clone()),
            workspace_grant: None,
            document_grant: None,
        }
    );
    // A document grant without a workspace grant, on a document outside any workspace.
    directory
        .set_document_member(&loose.id, &bob.id, &grant(Role::Commenter))
        .await
        .unwrap();
    assert_eq!(
        facts(bob.id.clone(), loose.id.clone()).await,
        AccessFacts {
            user: Some(bob.clone()),
            document: Some(loose.clone()),
            workspace_grant: None,
            document_grant: Some(grant(Role::Commenter)),
        }
    );
    // Deleted and disabled are facts, not filters.
    directory.delete_document(&document.id).await.unwrap();
    directory.set_user_disabled(&anne.id, true).await.unwrap();
    let after = facts(anne.id.clone(), document.id.clone()).await;
    assert!(after.user.unwrap().disabled_at_ms.is_some());
    assert!(after.document.unwrap().deleted_at_ms.is_some());
    assert_eq!(after.workspace_grant, Some(workspace_grant));
    assert_eq!(after.document_grant, Some(grant(Role::Reader)));
}

async fn invitations_are_accepted_once(harness: Arc<Harness>) {
    let directory = harness.open().await;
    let plans = workspace(directory.as_ref(), "Plans").await;
    let bob = user(directory.as_ref(), "bob@example.org").await;
    let document = document_info("plan", Some(&plans), "Plan");
    directory.create_document(&document).await.unwrap();
    let invite = |secret: &str, target: InvitationTarget| NewInvitation {
        id: InvitationId::generate(),
        secret_sha256: secret.to_owned(),
        email: "Partner@Example.org".to_owned(),
        target,
        role: Role::Commenter,
        access_expires_at_ms: 1_800_000_000_000,
        sponsor: bob.id.clone(),
    };

    let to_workspace = invite("secret-1", InvitationTarget::Workspace(plans.clone()));
    let created = directory.create_invitation(&to_workspace).await.unwrap();
    assert_eq!(created.email, "partner@example.org");
    assert_eq!(created.target, InvitationTarget::Workspace(plans.clone()));
    assert_eq!(created.accepted_at_ms, None);
    assert_eq!(
        directory.invitation_by_secret("secret-1").await.unwrap(),
        Some(created.clone())
    );
    assert_eq!(directory.invitation_by_secret("nope").await.unwrap(), None);

    let partner = user(directory.as_ref(), "partner@example.org").await;
    assert!(
        directory
            .mark_invitation_accepted(&created.id, &partner.id)
            .await
            .unwrap()
    );
    assert!(
        !directory
            .mark_invitation_accepted(&created.id, &bob.id)
            .await
            .unwrap()
    );
    let accepted = directory
        .invitation_by_secret("secret-1")
        .await
        .unwrap()
        .unwrap();
    assert!(accepted.accepted_at_ms.is_some());
    assert_eq!(accepted.accepted_by, Some(partner.id.clone()));
    assert!(!directory.revoke_invitation(&created.id).await.unwrap());

    let to_document = invite("secret-2", InvitationTarget::Document(document.id.clone()));
    let revoked = directory.create_invitation(&to_document).await.unwrap();
    assert_eq!(
        revoked.target,
        InvitationTarget::Document(document.id.clone())
    );
    assert!(directory.revoke_invitation(&revoked.id).await.unwrap());
    assert!(!directory.revoke_invitation(&revoked.id).await.unwrap());
    assert!(
        !directory
            .mark_invitation_accepted(&revoked.id, &partner.id)
            .await
            .unwrap()
    );
    let stored = directory
        .invitation_by_secret("secret-2")
        .await
        .unwrap()
        .unwrap();
    assert!(stored.revoked_at_ms.is_some());
    assert_eq!(stored.accepted_at_ms, None);
    assert!(
        !directory
            .mark_invitation_accepted(&InvitationId::generate(), &partner.id)
            .await
            .unwrap()
    );

    // The workspace's invitations include those to its documents.
    let listed = directory.list_invitations(&plans).await.unwrap();
    assert_eq!(
        listed
            .iter()
            .map(|invitation| invitation.id.clone())
            .collect::<Vec<_>>(),
        [created.id.clone(), revoked.id.clone()]
    );
    let elsewhere = workspace(directory.as_ref(), "Elsewhere").await;
    assert!(
        directory
            .list_invitations(&elsewhere)
            .await
            .unwrap()
            .is_empty()
    );

    assert!(is_conflict(
        directory
            .create_invitation(&invite(
                "secret-1",
                InvitationTarget::Workspace(plans.clone())
            ))
            .await
    ));
    assert!(is_not_found(
        directory
            .create_invitation(&invite(
                "secret-3",
                InvitationTarget::Workspace(WorkspaceId::generate())
            ))
            .await
    ));
    assert!(is_not_found(
        directory
            .create_invitation(&NewInvitation {
                sponsor: unknown_user(),
                ..invite("secret-4", InvitationTarget::Workspace(plans.clone()))
            })
            .await
    ));
}

async fn sessions_are_created_and_revoked(harness: Arc<Harness>) {
    let directory = harness.open().await;
    let anne = user(directory.as_ref(), "anne@example.org").await;
    let session = Session {
        user: anne.id.clone(),
        csrf_token: "csrf".to_owned(),
        created_at_ms: 1_700_000_000_000,
        expires_at_ms: 1_700_086_400_000,
        revoked_at_ms: None,
    };
    directory
        .create_session("cookie-sha", &session)
        .await
        .unwrap();
    assert_eq!(
        directory.session("cookie-sha").await.unwrap(),
        Some(session.clone())
    );
    assert_eq!(directory.session("other").await.unwrap(), None);
    assert!(is_conflict(
        directory.create_session("cookie-sha", &session).await
    ));
    assert!(is_not_found(
        directory
            .create_session(
                "orphan",
                &Session {
                    user: unknown_user(),
                    ..session.clone()
                }
            )
            .await
    ));

    assert!(directory.revoke_session("cookie-sha").await.unwrap());
    assert!(!directory.revoke_session("cookie-sha").await.unwrap());
    assert!(!directory.revoke_session("other").await.unwrap());
    let revoked = directory.session("cookie-sha").await.unwrap().unwrap();
    assert!(revoked.revoked_at_ms.is_some());
    assert_eq!(revoked.csrf_token, "csrf");
}

async fn api_tokens_are_created_and_revoked(harness: Arc<Harness>) {
    let directory = harness.open().await;
    let anne = user(directory.as_ref(), "anne@example.org").await;
    let new_token = |secret: &str, created_by: Option<UserId>| NewApiToken {
        id: TokenId::generate(),
        secret_sha256: secret.to_owned(),
        document_pattern: "plans/*".to_owned(),
        role: Role::Editor,
        expires_at_ms: 1_800_000_000_000,
        created_by,
    };
    let first = directory
        .create_api_token(&new_token("secret-1", Some(anne.id.clone())))
        .await
        .unwrap();
    assert_eq!(first.document_pattern, "plans/*");
    assert_eq!(first.role, Role::Editor);
    assert_eq!(first.created_by, Some(anne.id.clone()));
    assert_eq!(first.revoked_at_ms, None);
    let second = directory
        .create_api_token(&new_token("secret-2", None))
        .await
        .unwrap();
    assert_eq!(
        directory.api_token(&first.id).await.unwrap(),
        Some(first.clone())
    );
    assert_eq!(
        directory.api_token(&TokenId::generate()).await.unwrap(),
        None
    );
    let listed = directory.list_api_tokens().await.unwrap();
    assert_eq!(listed.len(), 2);
    assert!(listed.contains(&first) && listed.contains(&second));

    assert!(is_conflict(
        directory
            .create_api_token(&new_token("secret-1", None))
            .await
    ));
    assert!(is_not_found(
        directory
            .create_api_token(&new_token("secret-3", Some(unknown_user())))
            .await
    ));

    assert!(directory.revoke_api_token(&first.id).await.unwrap());
    assert!(!directory.revoke_api_token(&first.id).await.unwrap());
    assert!(
        !directory
            .revoke_api_token(&TokenId::generate())
            .await
            .unwrap()
    );
    assert!(
        directory
            .api_token(&first.id)
            .await
            .unwrap()
            .unwrap()
            .revoked_at_ms
            .is_some()
    );
}

async fn access_epoch_moves_with_access_changes_only(harness: Arc<Harness>) {
    let directory = harness.open().await;
    let epoch = || {
        let directory = directory.clone();
        async move { directory.access_epoch().await.unwrap() }
    };
    assert_eq!(epoch().await, 0);

    // Creating things and reading them takes no access away.
    let plans = workspace(directory.as_ref(), "Plans").await;
    let anne = user(directory.as_ref(), "anne@example.org").await;
    let document = document_info("plan", Some(&plans), "Plan");
    directory.create_document(&document).await.unwrap();
    directory
        .rename_document(&document.id, "Plan 2")
        .await
        .unwrap();
    directory
        .set_password_hash(&anne.id, "$argon2id$x")
        .await
        .unwrap();
    let session = Session {
        user: anne.id.clone(),
        csrf_token: "csrf".to_owned(),
        created_at_ms: 0,
        expires_at_ms: 1,
        revoked_at_ms: None,
    };
    directory.create_session("cookie", &session).await.unwrap();
    let token = directory
        .create_api_token(&NewApiToken {
            id: TokenId::generate(),
            secret_sha256: "token-secret".to_owned(),
            document_pattern: "*".to_owned(),
            role: Role::Reader,
            expires_at_ms: 1,
            created_by: None,
        })
        .await
        .unwrap();
    directory
        .append_audit(audit("test.done", None))
        .await
        .unwrap();
    directory.user(&anne.id).await.unwrap();
    directory
        .access_facts(&anne.id, &document.id)
        .await
        .unwrap();
    directory.workspace_members(&plans).await.unwrap();
    directory.list_users(None).await.unwrap();
    directory.session("cookie").await.unwrap();
    directory.verify_audit().await.unwrap();
    assert_eq!(epoch().await, 0);

    let mut expected = 0;
    let mut bumped = async |what: &str| {
        expected += 1;
        assert_eq!(epoch().await, expected, "{what} bumps the access epoch");
    };
    directory
        .set_workspace_member(&plans, &anne.id, &grant(Role::Editor))
        .await
        .unwrap();
    bumped("adding a workspace member").await;
    directory
        .set_workspace_member(&plans, &anne.id, &grant(Role::Reader))
        .await
        .unwrap();
    bumped("changing a workspace role").await;
    directory
        .remove_workspace_member(&plans, &anne.id)
        .await
        .unwrap();
    bumped("removing a workspace member").await;
    directory
        .set_document_member(&document.id, &anne.id, &grant(Role::Editor))
        .await
        .unwrap();
    bumped("adding a document member").await;
    directory
        .remove_document_member(&document.id, &anne.id)
        .await
        .unwrap();
    bumped("removing a document member").await;
    directory.set_user_disabled(&anne.id, true).await.unwrap();
    bumped("disabling a user").await;
    directory.set_user_disabled(&anne.id, false).await.unwrap();
    bumped("enabling a user").await;
    let organisation = directory.create_organisation("Mairie").await.unwrap();
    directory
        .set_user_organisation(&anne.id, Some(&organisation.id))
        .await
        .unwrap();
    bumped("moving a user to another organisation").await;
    directory.revoke_session("cookie").await.unwrap();
    bumped("revoking a session").await;
    directory.revoke_api_token(&token.id).await.unwrap();
    bumped("revoking a token").await;
    directory.delete_document(&document.id).await.unwrap();
    bumped("deleting a document").await;

    // Failed and no-op changes change no access.
    assert!(
        !directory
            .remove_workspace_member(&plans, &anne.id)
            .await
            .unwrap()
    );
    assert!(!directory.revoke_session("cookie").await.unwrap());
    assert!(
        directory
            .set_workspace_member(&plans, &unknown_user(), &grant(Role::Owner))
            .await
            .is_err()
    );
    assert!(
        directory
            .set_user_disabled(&unknown_user(), true)
            .await
            .is_err()
    );
    assert_eq!(epoch().await, expected);

    // Another process sees the same counter.
    assert_eq!(harness.open().await.access_epoch().await.unwrap(), expected);
}

async fn audit_entries_chain_and_verify(harness: Arc<Harness>) {
    let directory = harness.open().await;
    assert_eq!(directory.verify_audit().await.unwrap().first_broken, None);
    assert_eq!(directory.verify_audit().await.unwrap().entries, 0);

    let plans = WorkspaceId::generate();
    let first = directory
        .append_audit(audit("session.created", None))
        .await
        .unwrap();
    assert_eq!(first.seq, 1);
    assert_eq!(first.prev_sha256, AUDIT_GENESIS);
    assert_eq!(first.sha256, audit_hash(&first));
    assert_eq!(first.details, r#"{"n":1,"reason":"test"}"#);
    let mut appended = vec![first];
    for index in 0..5 {
        let workspace = (index % 2 == 0).then_some(&plans);
        appended.push(
            directory
                .append_audit(audit("document.opened", workspace))
                .await
                .unwrap(),
        );
    }
    for pair in appended.windows(2) {
        assert_eq!(pair[1].seq, pair[0].seq + 1);
        assert_eq!(pair[1].prev_sha256, pair[0].sha256);
        assert!(pair[1].at_ms >= pair[0].at_ms);
    }
    // What was returned is what was stored.
    assert_eq!(
        directory
            .audit_entries(&AuditFilter::default())
            .await
            .unwrap(),
        appended
    );
    let verification = directory.verify_audit().await.unwrap();
    assert_eq!(verification.entries, 6);
    assert_eq!(verification.first_broken, None);

    // A second process continues the same chain.
    let other = harness.open().await;
    let next = other
        .append_audit(audit("member.role_changed", Some(&plans)))
        .await
        .unwrap();
    assert_eq!(next.seq, 7);
    assert_eq!(next.prev_sha256, appended[5].sha256);
    assert_eq!(directory.verify_audit().await.unwrap().entries, 7);
}

async fn audit_entries_are_filtered_and_paged(harness: Arc<Harness>) {
    let directory = harness.open().await;
    let plans = WorkspaceId::generate();
    let budget = WorkspaceId::generate();
    let mut appended: Vec<AuditEntry> = Vec::new();
    for index in 0..10 {
        let workspace = match index % 3 {
            0 => Some(&plans),
            1 => Some(&budget),
            _ => None,
        };
        appended.push(
            directory
                .append_audit(audit("document.opened", workspace))
                .await
                .unwrap(),
        );
    }
    let seqs = |entries: Vec<AuditEntry>| entries.iter().map(|entry| entry.seq).collect::<Vec<_>>();
    let read = |filter: AuditFilter| {
        let directory = directory.clone();
        async move { seqs(directory.audit_entries(&filter).await.unwrap()) }
    };

    assert_eq!(
        read(AuditFilter::default()).await,
        (1..=10).collect::<Vec<_>>()
    );
    assert_eq!(
        read(AuditFilter {
            workspace: Some(plans.clone()),
            ..AuditFilter::default()
        })
        .await,
        [1, 4, 7, 10]
    );
    assert_eq!(
        read(AuditFilter {
            workspace: Some(plans.clone()),
            after_seq: 4,
            limit: 1,
            ..AuditFilter::default()
        })
        .await,
        [7]
    );
    assert_eq!(
        read(AuditFilter {
            after_seq: 3,
            limit: 4,
            ..AuditFilter::default()
        })
        .await,
        [4, 5, 6, 7]
    );
    assert_eq!(
        read(AuditFilter {
            after_seq: 10,
            ..AuditFilter::default()
        })
        .await,
        Vec::<i64>::new()
    );

    // Times: from is inclusive, to exclusive.
    let at = appended[4].at_ms;
    let expected_from = appended
        .iter()
        .filter(|entry| entry.at_ms >= at)
        .map(|entry| entry.seq)
        .collect::<Vec<_>>();
    assert_eq!(
        read(AuditFilter {
            from_ms: Some(at),
            ..AuditFilter::default()
        })
        .await,
        expected_from
    );
    let expected_to = appended
        .iter()
        .filter(|entry| entry.at_ms < at)
        .map(|entry| entry.seq)
        .collect::<Vec<_>>();
    assert_eq!(
        read(AuditFilter {
            to_ms: Some(at),
            ..AuditFilter::default()
        })
        .await,
        expected_to
    );
    assert_eq!(
        read(AuditFilter {
            from_ms: Some(at),
            to_ms: Some(at),
            ..AuditFilter::default()
        })
        .await,
        Vec::<i64>::new()
    );
    assert_eq!(
        read(AuditFilter {
            workspace: Some(budget.clone()),
            from_ms: Some(0),
            to_ms: Some(i64::MAX),
            ..AuditFilter::default()
        })
        .await,
        [2, 5, 8]
    );
}

async fn audit_log_refuses_updates_and_deletes(harness: Arc<Harness>) {
    let directory = harness.open().await;
    for _ in 0..3 {
        directory
            .append_audit(audit("test.done", None))
            .await
            .unwrap();
    }
    let update = harness
        .execute("UPDATE audit_log SET action = 'test.undone' WHERE seq = 2")
        .await;
    assert!(
        update
            .as_ref()
            .is_err_and(|error| error.to_string().contains("append-only")),
        "{update:?}"
    );
    let delete = harness.execute("DELETE FROM audit_log WHERE seq = 3").await;
    assert!(
        delete
            .as_ref()
            .is_err_and(|error| error.to_string().contains("append-only")),
        "{delete:?}"
    );
    let verification = directory.verify_audit().await.unwrap();
    assert_eq!(verification.entries, 3);
    assert_eq!(verification.first_broken, None);
}

async fn audit_tampering_is_found_at_its_seq(harness: Arc<Harness>) {
    let directory = harness.open().await;
    for _ in 0..5 {
        directory
            .append_audit(audit("test.done", None))
            .await
            .unwrap();
    }
    let bypass = match harness.backend {
        Backend::Sqlite => "DROP TRIGGER audit_log_no_update",
        Backend::Postgres => "ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update",
    };
    harness.execute(bypass).await.unwrap();

    // An edited row no longer hashes to its recorded value.
    assert_eq!(
        harness
            .execute(r#"UPDATE audit_log SET details = '{"n":2,"reason":"test"}' WHERE seq = 3"#)
            .await
            .unwrap(),
        1
    );
    let verification = directory.verify_audit().await.unwrap();
    let (seq, reason) = verification.first_broken.unwrap();
    assert_eq!(seq, 3, "{reason}");
    assert!(reason.contains("hash"), "{reason}");

    // Re-hashing the edited row moves the break to the next link.
    let edited = directory
        .audit_entries(&AuditFilter {
            after_seq: 2,
            limit: 1,
            ..AuditFilter::default()
        })
        .await
        .unwrap()
        .remove(0);
    let statement = format!(
        "UPDATE audit_log SET sha256 = '{}' WHERE seq = 3",
        audit_hash(&edited)
    );
    harness.execute(&statement).await.unwrap();
    let (seq, reason) = directory
        .verify_audit()
        .await
        .unwrap()
        .first_broken
        .unwrap();
    assert_eq!(seq, 4, "{reason}");
    assert!(reason.contains("link"), "{reason}");
}

async fn verification_reads_past_one_page(harness: Arc<Harness>) {
    // Verification reads 1000 entries at a time: the break is on the second page.
    let directory = harness.open().await;
    for _ in 0..1001 {
        directory
            .append_audit(audit("test.done", None))
            .await
            .unwrap();
    }
    let verification = directory.verify_audit().await.unwrap();
    assert_eq!(verification.entries, 1001);
    assert_eq!(verification.first_broken, None);

    let bypass = match harness.backend {
        Backend::Sqlite => "DROP TRIGGER audit_log_no_update",
        Backend::Postgres => "ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update",
    };
    harness.execute(bypass).await.unwrap();
    harness
        .execute("UPDATE audit_log SET actor = 'cli' WHERE seq = 1001")
        .await
        .unwrap();
    let verification = directory.verify_audit().await.unwrap();
    assert_eq!(verification.entries, 1001);
    assert_eq!(verification.first_broken.unwrap().0, 1001);
}

async fn concurrent_audit_appends_form_one_chain(harness: Arc<Harness>) {
    // Two stores stand for two server processes; each appends from its own pool.
    let first = harness.open().await;
    let second = harness.open().await;
    let append_many = |directory: Arc<dyn Directory>, actor: &'static str| async move {
        for index in 0..50 {
            directory
                .append_audit(NewAuditEntry {
                    actor: Some(actor.to_owned()),
                    action: "test.concurrent".to_owned(),
                    workspace: None,
                    target: None,
                    details: serde_json::json!({ "index": index }),
                })
                .await
                .unwrap();
        }
    };
    let (a, b, c) = tokio::join!(
        tokio::spawn(append_many(first.clone(), "user:first")),
        tokio::spawn(append_many(second.clone(), "user:second")),
        tokio::spawn(append_many(first.clone(), "user:third")),
    );
    a.unwrap();
    b.unwrap();
    c.unwrap();
    let verification = first.verify_audit().await.unwrap();
    assert_eq!(verification.first_broken, None);
    assert_eq!(verification.entries, 150);
    let entries = second.audit_entries(&AuditFilter::default()).await.unwrap();
    assert_eq!(
        entries.iter().map(|entry| entry.seq).collect::<Vec<_>>(),
        (1..=150).collect::<Vec<_>>()
    );
    for actor in ["user:first", "user:second", "user:third"] {
        let indexes: Vec<String> = entries
            .iter()
            .filter(|entry| entry.actor.as_deref() == Some(actor))
            .map(|entry| entry.details.clone())
            .collect();
        assert_eq!(indexes.len(), 50, "{actor}");
    }
}
