//! Version history and validation: what the API, the public page and the CLI share.
//!
//! The rules live here: who may name, restore, submit, approve and publish; what a review
//! freezes; what an export of a sealed version records. Storage keeps the facts
//! ([`relais_storage::Versions`]), `relais-crdt` reads and changes Yjs content, and
//! `relais-export` writes the files.
//!
//! The validation workflow, per document: `draft → submitted → approved | rejected`, then
//! optionally `published`. Submitting freezes the document in the store (every node's appends
//! are refused from that commit on) and in this node's room at once; the access watch makes
//! every connection read-only within its poll interval. Deciding lifts the freeze; approving
//! seals the submitted version, whose row and blob then never change.

use std::sync::Arc;

use bytes::Bytes;
use relais_crdt::attribution::ClientInsertions;
use relais_crdt::{DocState, model::Content};
use relais_export::{Format, Metadata};
use relais_storage::{
    Decision, Directory, DocumentId, NewVersion, Publication, Review, Seq, Store, StoreError, UnixMillis, Version,
    VersionKind, Versions,
};
use tracing::{info, warn};

use crate::hub::{ApplyError, Hub};

/// How long a read of the live document waits for the room's commits.
const FLUSH_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// Errors of version operations, mapped by the API to statuses.
#[derive(Debug, thiserror::Error)]
pub enum VersionError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the document content cannot be read: {0}")]
    Content(#[from] relais_crdt::CrdtError),
    #[error("{0}")]
    Apply(#[from] ApplyError),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{0}")]
    Conflict(String),
}

/// The services version operations need.
#[derive(Clone)]
pub struct VersionService {
    pub store: Arc<dyn Store>,
    pub versions: Arc<dyn Versions>,
    pub directory: Arc<dyn Directory>,
    pub hub: Hub,
    /// Export hashes this process already recorded: public downloads of a published version
    /// must not cost a database write each.
    pub recorded_exports: Arc<std::sync::Mutex<std::collections::HashSet<String>>>,
}

/// Someone named in a version, a review or a publication.
#[derive(Clone, Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Person {
    /// The user id, when the actor is a user.
    pub id: Option<String>,
    pub name: String,
    pub external: bool,
}

/// A document's place in the validation workflow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReviewState {
    /// Being written: no review, or edited since the last decision.
    Draft,
    /// Frozen, waiting for a validator.
    Submitted,
    /// The last submitted version was approved and nothing changed since.
    Approved,
    /// The last submitted version was rejected and nothing changed since.
    Rejected,
}

impl VersionService {
    /// The committed state of the document and the seq it covers, after this node's room
    /// committed what it had applied (what editors were shown).
    pub async fn live_state(&self, document: &DocumentId) -> Result<(Bytes, Seq), VersionError> {
        if !self.hub.flush(document, FLUSH_WAIT).await {
            warn!(%document, "the room did not flush in time; reading the store as it is");
        }
        let stored = self.store.load(document).await?;
        let (doc, _) = DocState::load(
            stored.snapshot.as_ref().map(|snapshot| snapshot.state.as_ref()),
            stored.updates.iter().map(|update| update.update.as_ref()),
        )?;
        Ok((doc.encode_state()?.into(), stored.last_seq))
    }

    pub async fn content_of(&self, version: &Version) -> Result<Content, VersionError> {
        let state = self.versions.version_state(version).await?;
        Ok(relais_crdt::content::extract(&state)?)
    }

    pub async fn version(&self, document: &DocumentId, number: u64) -> Result<Version, VersionError> {
        self.versions.version(document, number).await?.ok_or(VersionError::NotFound("version"))
    }

    /// What each Yjs client inserted between `previous` and `state`, most first, with the
    /// user recorded for that client (`None` when unknown, e.g. an API token's edits).
    pub async fn insertions_between(
        &self,
        document: &DocumentId,
        previous: Option<&[u8]>,
        state: &[u8],
    ) -> Result<Vec<(ClientInsertions, Option<String>)>, VersionError> {
        let insertions = relais_crdt::attribution::insertions_by_client(previous, state)?;
        let clients: Vec<u64> = insertions.iter().map(|insertion| insertion.client_id).collect();
        let owners = self.versions.client_users(document, &clients).await?;
        Ok(insertions
            .into_iter()
            .map(|insertion| {
                let owner = owners.iter().find(|(client, _)| *client == insertion.client_id).map(|(_, user)| user.clone());
                (insertion, owner)
            })
            .collect())
    }

    /// User ids of the people whose Yjs clients inserted content between `previous` and
    /// `state`, most prolific first.
    async fn authors_between(
        &self,
        document: &DocumentId,
        previous: Option<&[u8]>,
        state: &[u8],
    ) -> Result<Vec<String>, VersionError> {
        let mut authors: Vec<String> = Vec::new();
        for (_, owner) in self.insertions_between(document, previous, state).await? {
            if let Some(user) = owner
                && !authors.contains(&user)
            {
                authors.push(user);
            }
        }
        Ok(authors)
    }

    /// Records the document's committed state as a version.
    pub async fn take_version(
        &self,
        document: &DocumentId,
        kind: VersionKind,
        name: Option<String>,
        actor: &str,
        state: Bytes,
        upto_seq: Seq,
    ) -> Result<Version, VersionError> {
        let previous = match self.versions.latest_version(document).await? {
            Some(previous) => Some(self.versions.version_state(&previous).await?),
            None => None,
        };
        let authors = self.authors_between(document, previous.as_deref(), &state).await?;
        let version = NewVersion {
            document: document.clone(),
            kind,
            name,
            created_by: Some(actor.to_owned()),
            authors,
            upto_seq,
            state,
            created_at_ms: crate::auth::now_ms(),
        };
        let version = self.versions.create_version(version).await?.ok_or_else(|| {
            VersionError::Conflict("a version of this state already exists".into())
        })?;
        self.hub.metrics().versions_created.inc();
        Ok(version)
    }

    /// A named version of the document as it is now.
    pub async fn name_version(&self, document: &DocumentId, name: String, actor: &str) -> Result<Version, VersionError> {
        let (state, seq) = self.live_state(document).await?;
        self.take_version(document, VersionKind::Named, Some(name), actor, state, seq).await
    }

    /// Makes the live document's content equal to version `number`'s, as a new edit by
    /// `user` relayed to everyone; then records the result as a version. Nothing is erased.
    pub async fn restore(
        &self,
        document: &DocumentId,
        number: u64,
        user: &str,
        actor: &str,
    ) -> Result<(Version, Version), VersionError> {
        let target = self.version(document, number).await?;
        let target_state = self.versions.version_state(&target).await?;
        let (live, _) = self.live_state(document).await?;
        // A client id of its own, recorded as the restorer's, so the restore is attributed.
        let client_id = u64::from(random_u32());
        self.versions.record_clients(document, &[(client_id, user.to_owned())], crate::auth::now_ms()).await?;
        let update = relais_crdt::restore::restore_update(&live, &target_state, client_id)?;
        if let Some(update) = update {
            self.hub.apply_update(document, update.into(), Some(Arc::from(user))).await?;
        }
        let (state, seq) = self.live_state(document).await?;
        let name = Some(format!("Restauration de la version {number}"));
        let restored = self.take_version(document, VersionKind::Restore, name, actor, state, seq).await?;
        info!(%document, from = number, to = restored.number, "version restored");
        Ok((target, restored))
    }

    /// Freezes the document and records its state as the submitted version. If anything
    /// fails after the freeze, the freeze is lifted again.
    pub async fn submit(&self, document: &DocumentId, actor: &str, note: &str) -> Result<(Version, Review), VersionError> {
        // What the submitter sees goes in; an edit landing between this and the freeze is
        // refused by the store, and its room reloads.
        self.hub.flush(document, FLUSH_WAIT).await;
        let seq = self.versions.freeze(document).await?;
        self.hub.set_frozen(document, true);
        let submitted = async {
            let (state, loaded_seq) = self.live_state(document).await?;
            if loaded_seq != seq {
                return Err(VersionError::Conflict("the document changed while being submitted".into()));
            }
            let name = Some("Soumise pour validation".to_owned());
            let version = self.take_version(document, VersionKind::Submitted, name, actor, state, seq).await?;
            let review = self.versions.submit(document, &version.id, actor, note, crate::auth::now_ms()).await?;
            Ok((version, review))
        }
        .await;
        if submitted.is_err() {
            if let Err(error) = self.versions.unfreeze(document).await {
                warn!(%document, error = %error, "could not lift the freeze of a failed submission");
            }
            self.hub.set_frozen(document, false);
        }
        submitted
    }

    /// Approves or rejects the open review; approval seals the submitted version.
    pub async fn decide(
        &self,
        document: &DocumentId,
        approved: bool,
        actor: &str,
        comment: String,
    ) -> Result<(Review, Version), VersionError> {
        let decision = Decision { approved, decided_by: actor.to_owned(), decided_at_ms: crate::auth::now_ms(), comment };
        let review = self.versions.decide(document, decision).await.map_err(|error| match error {
            StoreError::NotFound(_) => VersionError::Conflict("no version is waiting for validation".into()),
            error => error.into(),
        })?;
        self.hub.set_frozen(document, false);
        let version = self.versions.version_by_id(&review.version).await?.ok_or(VersionError::NotFound("version"))?;
        Ok((review, version))
    }

    /// Where the document stands, from its latest review and whether it changed since.
    pub async fn review_state(&self, document: &DocumentId) -> Result<(ReviewState, Vec<Review>), VersionError> {
        let reviews = self.versions.reviews(document).await?;
        let Some(latest) = reviews.first() else { return Ok((ReviewState::Draft, reviews)) };
        let Some(decision) = &latest.decision else { return Ok((ReviewState::Submitted, reviews)) };
        let version = self.versions.version_by_id(&latest.version).await?.ok_or(VersionError::NotFound("version"))?;
        let last_seq = self.versions.last_seq(document).await?;
        let state = if last_seq > version.upto_seq {
            ReviewState::Draft
        } else if decision.approved {
            ReviewState::Approved
        } else {
            ReviewState::Rejected
        };
        Ok((state, reviews))
    }

    /// Publishes the latest approved version.
    pub async fn publish(&self, document: &DocumentId, actor: &str) -> Result<(Publication, Version), VersionError> {
        let reviews = self.versions.reviews(document).await?;
        let approved = reviews
            .iter()
            .find(|review| review.decision.as_ref().is_some_and(|decision| decision.approved))
            .ok_or_else(|| VersionError::Conflict("no approved version to publish".into()))?;
        let version = self.versions.version_by_id(&approved.version).await?.ok_or(VersionError::NotFound("version"))?;
        let publication = Publication {
            document: document.clone(),
            version: version.id.clone(),
            published_by: actor.to_owned(),
            published_at_ms: crate::auth::now_ms(),
        };
        self.versions.publish(&publication).await?;
        Ok((publication, version))
    }

    /// The published version of a document, if any, with its content.
    pub async fn published(&self, document: &DocumentId) -> Result<Option<(Publication, Version, Content)>, VersionError> {
        let Some(publication) = self.versions.publication(document).await? else { return Ok(None) };
        let version = self.versions.version_by_id(&publication.version).await?.ok_or(VersionError::NotFound("version"))?;
        let content = self.content_of(&version).await?;
        Ok(Some((publication, version, content)))
    }

    /// Who an actor (`user:<id>`, a bare user id, `token:<id>`) is, for people to read.
    pub async fn person(&self, actor: &str) -> Person {
        let id = actor.strip_prefix("user:").unwrap_or(actor);
        let Some(id) = relais_storage::UserId::parse(id) else {
            let name = actor.strip_prefix("token:").map_or_else(|| actor.to_owned(), |_| "Jeton d'API".to_owned());
            return Person { id: None, name, external: false };
        };
        match self.directory.user(&id).await {
            Ok(Some(user)) => Person {
                id: Some(user.id.to_string()),
                name: user.display_name,
                external: user.kind == relais_storage::UserKind::External,
            },
            _ => Person { id: None, name: "Compte supprimé".to_owned(), external: false },
        }
    }

    /// A display name for an actor, with "(externe)" for partners (exports, public page).
    pub async fn display_name(&self, actor: &str) -> String {
        let person = self.person(actor).await;
        if person.external { format!("{} (externe)", person.name) } else { person.name }
    }

    /// Renders version `version` (with content `content`) of a document titled `title`, and
    /// records the SHA-256 of the file when the version is sealed, so it can be verified.
    pub async fn export(
        &self,
        title: &str,
        version: &Version,
        content: &Content,
        format: Format,
    ) -> Result<Vec<u8>, VersionError> {
        let mut authors = Vec::new();
        for author in &version.authors {
            authors.push(self.display_name(author).await);
        }
        let seal = match &version.seal {
            Some(seal) => Some(relais_export::Seal {
                sha256: version.sha256_hex.clone(),
                validator: self.display_name(&seal.sealed_by).await,
                validated_at: french_datetime(seal.sealed_at_ms),
                comment: seal.comment.clone(),
            }),
            None => None,
        };
        let meta = Metadata {
            title: title.to_owned(),
            version_label: version_label(version),
            created_at: french_datetime(version.created_at_ms),
            authors,
            seal,
        };
        let bytes = format.render(content, &meta);
        if version.seal.is_some() {
            let sha256 = sha256_hex(&bytes);
            let known = self.recorded_exports.lock().map(|recorded| recorded.contains(&sha256)).unwrap_or(false);
            if !known {
                self.versions.record_export(&version.id, format.extension(), &sha256, crate::auth::now_ms()).await?;
                if let Ok(mut recorded) = self.recorded_exports.lock() {
                    recorded.insert(sha256);
                }
            }
        }
        Ok(bytes)
    }
}

/// `Version 12 — « Avant comité de pilotage »`.
pub fn version_label(version: &Version) -> String {
    match &version.name {
        Some(name) => format!("Version {} — « {} »", version.number, name),
        None => format!("Version {}", version.number),
    }
}

/// `25/11/2026 à 14:03 (UTC)`: exports and the public page are read anywhere, so the zone is
/// said rather than guessed.
pub fn french_datetime(ms: UnixMillis) -> String {
    let Ok(at) = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000) else {
        return String::new();
    };
    format!("{:02}/{:02}/{} à {:02}:{:02} (UTC)", at.day(), u8::from(at.month()), at.year(), at.hour(), at.minute())
}

/// Lowercase hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    sha2::Sha256::digest(bytes).iter().map(|byte| format!("{byte:02x}")).collect()
}

fn random_u32() -> u32 {
    let mut bytes = [0u8; 4];
    // The OS random source does not fail on supported platforms; a fixed id would only
    // blur attribution, never correctness.
    let _ = getrandom::fill(&mut bytes);
    u32::from_le_bytes(bytes) & 0x7fff_ffff
}

/// Thins old automatic versions once an hour, on every node (deletions are idempotent).
pub fn spawn_retention(versions: Arc<dyn Versions>, tracker: &tokio_util::task::TaskTracker, shutdown: tokio_util::sync::CancellationToken) {
    tracker.spawn(async move {
        let mut ticker = tokio::time::interval(std::time::Duration::from_secs(3600));
        loop {
            tokio::select! {
                _ = ticker.tick() => {}
                () = shutdown.cancelled() => return,
            }
            match versions.apply_retention(relais_storage::RetentionPolicy::default(), crate::auth::now_ms()).await {
                Ok(0) => {}
                Ok(deleted) => info!(deleted, "old automatic versions thinned"),
                Err(error) => warn!(error = %error, "version retention failed; will retry in an hour"),
            }
        }
    });
}
