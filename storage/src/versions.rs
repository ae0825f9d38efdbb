//! The [`Versions`] trait: a document's version history, its validation workflow and its
//! publication.
//!
//! A version is a whole Yjs state written once as a blob (`versions/{document}/{id}`) and a
//! row. Rows never change, except once, when an approval seals one; a sealed version's row can
//! then be neither updated nor deleted (database triggers enforce it, whatever code runs), and
//! no code path deletes its blob. A document under review is *frozen*: the store refuses every
//! append to it ([`StoreError::Frozen`]), on every node, until the review is decided.

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::directory::UnixMillis;
use crate::error::StoreError;
use crate::id::{DocumentId, Seq};

crate::directory::text_id!(
    /// Identifies one version.
    VersionId
);
crate::directory::text_id!(
    /// Identifies one submission for validation.
    ReviewId
);

/// Why a version exists.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VersionKind {
    /// Taken by the server while the document is edited, or when its last editor leaves.
    Auto,
    /// Made and named by a user.
    Named,
    /// Taken right after a restore, so the restored content is itself a version.
    Restore,
    /// Taken when the document was submitted for validation: the exact state reviewed.
    Submitted,
}

impl VersionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Auto => "auto",
            Self::Named => "named",
            Self::Restore => "restore",
            Self::Submitted => "submitted",
        }
    }

    pub(crate) fn parse(s: &str) -> Result<Self, StoreError> {
        Ok(match s {
            "auto" => Self::Auto,
            "named" => Self::Named,
            "restore" => Self::Restore,
            "submitted" => Self::Submitted,
            other => return Err(StoreError::corrupt(format!("unknown version kind {other:?}"))),
        })
    }
}

/// The seal an approval puts on a version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VersionSeal {
    pub sealed_at_ms: UnixMillis,
    /// The validator, as an actor (`user:<id>`).
    pub sealed_by: String,
    pub comment: String,
}

/// One version of a document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Version {
    pub id: VersionId,
    pub document: DocumentId,
    /// 1, 2, 3… per document, never reused.
    pub number: u64,
    pub kind: VersionKind,
    pub name: Option<String>,
    pub created_at_ms: UnixMillis,
    /// The actor who made it (`user:<id>`, `token:<id>`), `None` for automatic versions.
    pub created_by: Option<String>,
    /// User ids of the people who edited since the previous version.
    pub authors: Vec<String>,
    /// The last seq of the document's log the state covers.
    pub upto_seq: Seq,
    /// Lowercase hex SHA-256 of the stored state: the seal's hash once approved.
    pub sha256_hex: String,
    pub len: u64,
    pub seal: Option<VersionSeal>,
}

/// A version to record.
#[derive(Clone, Debug)]
pub struct NewVersion {
    pub document: DocumentId,
    pub kind: VersionKind,
    pub name: Option<String>,
    pub created_by: Option<String>,
    pub authors: Vec<String>,
    pub upto_seq: Seq,
    /// The whole Yjs state (v1 update) at `upto_seq`.
    pub state: Bytes,
    pub created_at_ms: UnixMillis,
}

/// A submission for validation and, once made, its decision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Review {
    pub id: ReviewId,
    pub document: DocumentId,
    pub version: VersionId,
    pub submitted_by: String,
    pub submitted_at_ms: UnixMillis,
    pub note: String,
    pub decision: Option<Decision>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    pub approved: bool,
    pub decided_by: String,
    pub decided_at_ms: UnixMillis,
    pub comment: String,
}

/// The version of a document readable without an account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Publication {
    pub document: DocumentId,
    pub version: VersionId,
    pub published_by: String,
    pub published_at_ms: UnixMillis,
}

/// Which automatic versions to keep: every one younger than `keep_all_ms`, then the newest of
/// each `hourly_ms`-old hour, then the newest of each day. Named, restore, submitted and
/// sealed versions are always kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetentionPolicy {
    pub keep_all_ms: i64,
    pub hourly_ms: i64,
}

impl Default for RetentionPolicy {
    /// All of the last day, hourly for 30 days, daily after.
    fn default() -> Self {
        Self { keep_all_ms: 24 * 3_600_000, hourly_ms: 30 * 24 * 3_600_000 }
    }
}

/// An export of a sealed version whose SHA-256 was recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SealedMatch {
    pub version: Version,
    /// `None` when the file is the stored Yjs state itself, else the export format.
    pub format: Option<String>,
}

/// Version history, validation and publication, stored beside the documents.
#[async_trait::async_trait]
pub trait Versions: Send + Sync + 'static {
    /// Writes the state blob (create-only) then the row, numbered after the document's last
    /// version. For [`VersionKind::Auto`], nothing is recorded (and `None` returned) when the
    /// latest version already covers `upto_seq`: several nodes may try at once.
    async fn create_version(&self, version: NewVersion) -> Result<Option<Version>, StoreError>;

    /// Versions of a document, newest first, numbered below `before` (all when `None`).
    async fn list_versions(
        &self,
        document: &DocumentId,
        before: Option<u64>,
        limit: u32,
    ) -> Result<Vec<Version>, StoreError>;

    /// One version by number.
    async fn version(&self, document: &DocumentId, number: u64) -> Result<Option<Version>, StoreError>;

    /// The latest version, if any.
    async fn latest_version(&self, document: &DocumentId) -> Result<Option<Version>, StoreError>;

    /// The version's state, checked against its recorded length and SHA-256.
    async fn version_state(&self, version: &Version) -> Result<Bytes, StoreError>;

    /// Freezes the document for review and returns its last seq: no append commits after
    /// this. [`StoreError::Conflict`] if it is already frozen.
    async fn freeze(&self, document: &DocumentId) -> Result<Seq, StoreError>;

    /// Ends a freeze that did not lead to a review (the submission failed half-way).
    async fn unfreeze(&self, document: &DocumentId) -> Result<(), StoreError>;

    /// The document's last seq (0 when it has none), without reading its log: whether it
    /// changed since a version.
    async fn last_seq(&self, document: &DocumentId) -> Result<Seq, StoreError>;

    /// Whether the document is frozen.
    async fn is_frozen(&self, document: &DocumentId) -> Result<bool, StoreError>;

    /// Records a submission of `version` (the document must be frozen).
    async fn submit(
        &self,
        document: &DocumentId,
        version: &VersionId,
        submitted_by: &str,
        note: &str,
        at_ms: UnixMillis,
    ) -> Result<Review, StoreError>;

    /// Decides the open review of the document in one transaction: records the decision,
    /// seals the version when approved, and lifts the freeze.
    /// [`StoreError::NotFound`] when no review is open.
    async fn decide(&self, document: &DocumentId, decision: Decision) -> Result<Review, StoreError>;

    /// Reviews of a document, newest first.
    async fn reviews(&self, document: &DocumentId) -> Result<Vec<Review>, StoreError>;

    /// A version by id.
    async fn version_by_id(&self, id: &VersionId) -> Result<Option<Version>, StoreError>;

    /// Publishes a sealed version (replacing any earlier publication).
    /// [`StoreError::Conflict`] when the version is not sealed.
    async fn publish(&self, publication: &Publication) -> Result<(), StoreError>;

    /// Removes the publication; true if there was one.
    async fn unpublish(&self, document: &DocumentId) -> Result<bool, StoreError>;

    async fn publication(&self, document: &DocumentId) -> Result<Option<Publication>, StoreError>;

    /// Records which user Yjs client ids belong to (first record wins).
    async fn record_clients(
        &self,
        document: &DocumentId,
        clients: &[(u64, String)],
        at_ms: UnixMillis,
    ) -> Result<(), StoreError>;

    /// Client id → user id, for the given client ids.
    async fn client_users(
        &self,
        document: &DocumentId,
        clients: &[u64],
    ) -> Result<Vec<(u64, String)>, StoreError>;

    /// Records the SHA-256 of an export of a sealed version.
    async fn record_export(
        &self,
        version: &VersionId,
        format: &str,
        sha256_hex: &str,
        at_ms: UnixMillis,
    ) -> Result<(), StoreError>;

    /// The sealed version whose state or recorded export has this SHA-256, if any.
    async fn find_sealed(&self, sha256_hex: &str) -> Result<Option<SealedMatch>, StoreError>;

    /// Thins automatic versions (of every document) by `policy` as of `now_ms`; returns how
    /// many were deleted. Rows go first, blobs after; a sealed, named, restore or submitted
    /// version is never a candidate, and the database refuses deleting a sealed one anyway.
    async fn apply_retention(&self, policy: RetentionPolicy, now_ms: UnixMillis) -> Result<u64, StoreError>;
}

/// Which of `candidates` (automatic versions of one document: (number, created_at_ms), any
/// order) the policy deletes as of `now_ms`: in each hour (between `keep_all_ms` and
/// `hourly_ms` old) or day (older) only the newest is kept.
pub fn retention_victims(candidates: &[(u64, UnixMillis)], policy: RetentionPolicy, now_ms: UnixMillis) -> Vec<u64> {
    let mut sorted = candidates.to_vec();
    // Newest first: the first seen in a bucket is the one kept.
    sorted.sort_by(|a, b| b.1.cmp(&a.1).then(b.0.cmp(&a.0)));
    let mut kept_buckets = std::collections::HashSet::new();
    let mut victims = Vec::new();
    for (number, at) in sorted {
        let age = now_ms - at;
        if age < policy.keep_all_ms {
            continue;
        }
        let bucket = if age < policy.hourly_ms { (0, at.div_euclid(3_600_000)) } else { (1, at.div_euclid(86_400_000)) };
        if !kept_buckets.insert(bucket) {
            victims.push(number);
        }
    }
    victims.sort_unstable();
    victims
}

/// Object key of a version's state.
pub(crate) fn version_path(document: &DocumentId, id: &VersionId) -> object_store::path::Path {
    object_store::path::Path::from_iter(["versions", document.as_str(), id.as_str()])
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 3_600_000;

    #[test]
    fn retention_keeps_the_last_day_then_one_per_hour_then_one_per_day() {
        let now = 100 * 24 * HOUR;
        let policy = RetentionPolicy::default();
        let mut candidates = Vec::new();
        // Every 10 minutes over the last 2 hours: all kept.
        for i in 0..12 {
            candidates.push((1000 + i, now - i as i64 * HOUR / 6));
        }
        // Three in one hour, 3 days ago: one kept (the newest).
        let hour_start = (now - 3 * 24 * HOUR).div_euclid(HOUR) * HOUR;
        candidates.push((10, hour_start + 1));
        candidates.push((11, hour_start + 2));
        candidates.push((12, hour_start + 3));
        // Two in one day, 40 days ago: one kept.
        let day_start = (now - 40 * 24 * HOUR).div_euclid(24 * HOUR) * 24 * HOUR;
        candidates.push((1, day_start + HOUR));
        candidates.push((2, day_start + 5 * HOUR));
        assert_eq!(retention_victims(&candidates, policy, now), vec![1, 10, 11]);
    }
}
