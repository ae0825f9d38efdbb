//! The version store's conformance suite, run on both backends.
//!
//! As in `conformance.rs`, every scenario is an `async fn(Arc<Harness>)` that
//! `common::both_backends!` turns into `sqlite::<name>` and `postgres::<name>`, each on a
//! private database and object directory (see `common`).
//!
//! Besides the trait's contract, these tests prove what no code path may do: a sealed
//! version's row refuses every UPDATE and DELETE sent over a plain database connection, its
//! blob refuses a second create-only write, retention never touches it, and no append commits
//! after a freeze.

// The scenarios are plain async functions called from generated tests, which clippy does not
// recognise as test code; unwrap is allowed in tests by the house rules.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::TryStreamExt as _;
use object_store::path::Path;
use object_store::{ObjectMeta, ObjectStore, ObjectStoreExt as _, PutMode, PutPayload};
use relais_storage::{
    Decision, DocumentId, NewVersion, Publication, RetentionPolicy, Review, Seq, Store, StoreError,
    Version, VersionKind, VersionSeal, Versions,
};
use tokio::sync::{Barrier, watch};
use tokio::task::JoinSet;

use common::{
    Backend, Harness, RawConnection, assert_immutable, bytes, document_id as id, sha256_hex,
};

/// A plausible creation time (November 2023), in Unix milliseconds.
const AT_MS: i64 = 1_700_000_000_000;

/// Both faces of one store instance that these tests use.
struct Stores {
    documents: Arc<dyn Store>,
    versions: Arc<dyn Versions>,
}

impl Stores {
    async fn close(&self) {
        self.documents.close().await;
    }
}

/// What this suite adds to the shared harness: both faces, nodes, raw SQL and version blobs.
impl Harness {
    /// A new store instance (its own pools) on this test's database and objects, as another
    /// server process would open it.
    async fn open(&self) -> Stores {
        let store = self.connect(Arc::clone(&self.objects)).await;
        Stores {
            documents: store.clone(),
            versions: store,
        }
    }

    /// The store instances standing for the server's processes: several on Postgres, one on
    /// SQLite, whose embedded store serves one process per file.
    async fn open_nodes(&self) -> Vec<Stores> {
        let count = match self.backend {
            Backend::Sqlite => 1,
            Backend::Postgres => 3,
        };
        let mut nodes = Vec::new();
        for _ in 0..count {
            nodes.push(self.open().await);
        }
        nodes
    }

    /// Every blob stored for a document's versions.
    async fn version_blobs(&self, document: &DocumentId) -> BTreeSet<Path> {
        let prefix = Path::from_iter(["versions", document.as_str()]);
        let listed: Vec<ObjectMeta> = self
            .objects
            .list(Some(&prefix))
            .try_collect()
            .await
            .expect("list version blobs");
        listed.into_iter().map(|meta| meta.location).collect()
    }
}

common::both_backends!(
    versions_are_numbered_one_two_three_per_document,
    auto_version_not_beyond_the_latest_is_skipped_without_a_blob,
    versions_list_newest_first_and_page_with_before,
    version_state_returns_the_exact_bytes,
    altered_or_missing_version_blob_is_corrupt,
    freeze_returns_the_last_seq_and_a_second_freeze_conflicts,
    frozen_document_refuses_appends_until_decided,
    appenders_racing_a_freeze_never_commit_after_it,
    unfreeze_lifts_a_freeze_without_a_review,
    submit_requires_a_freeze,
    second_open_review_is_refused,
    approval_seals_the_version_and_lifts_the_freeze,
    decide_without_an_open_review_is_not_found,
    rejection_leaves_the_version_unsealed,
    sealed_version_row_refuses_raw_updates_and_deletes,
    retention_thins_old_auto_versions_but_never_sealed_named_or_submitted_ones,
    sealed_version_blob_is_write_once,
    unsealed_version_content_refuses_raw_updates,
    decided_review_refuses_raw_updates_and_deletes,
    publish_requires_a_sealed_version,
    unpublish_reports_whether_there_was_a_publication,
    record_clients_keeps_the_first_user_of_each_client,
    find_sealed_matches_states_and_exports_of_sealed_versions_only,
);

/// The object key of a version's state, as the store lays it out.
fn version_key(version: &Version) -> Path {
    Path::from_iter(["versions", version.document.as_str(), version.id.as_str()])
}

/// A version to record; named versions get a name, the others none.
fn new_version(
    document: &DocumentId,
    kind: VersionKind,
    upto_seq: u64,
    state: Bytes,
    created_at_ms: i64,
) -> NewVersion {
    NewVersion {
        document: document.clone(),
        kind,
        name: (kind == VersionKind::Named).then(|| format!("version at {upto_seq}")),
        created_by: (kind != VersionKind::Auto).then(|| "user:alice".to_owned()),
        authors: vec!["alice".to_owned(), "bob".to_owned()],
        upto_seq: Seq(upto_seq),
        state,
        created_at_ms,
    }
}

/// Records a version that must not be skipped.
async fn create(versions: &dyn Versions, version: NewVersion) -> Version {
    versions
        .create_version(version)
        .await
        .unwrap()
        .expect("version recorded")
}

fn approval(comment: &str, at_ms: i64) -> Decision {
    Decision {
        approved: true,
        decided_by: "user:valerie".to_owned(),
        decided_at_ms: at_ms,
        comment: comment.to_owned(),
    }
}

fn rejection(comment: &str, at_ms: i64) -> Decision {
    Decision {
        approved: false,
        ..approval(comment, at_ms)
    }
}

/// Freezes the document and submits `version` for review.
async fn submit_for_review(versions: &dyn Versions, version: &Version) -> Review {
    versions.freeze(&version.document).await.unwrap();
    versions
        .submit(
            &version.document,
            &version.id,
            "user:alice",
            "please review",
            version.created_at_ms + 1,
        )
        .await
        .unwrap()
}

/// Takes `version` through a whole approval and returns it as now stored, sealed.
async fn seal(versions: &dyn Versions, version: &Version) -> Version {
    submit_for_review(versions, version).await;
    versions
        .decide(
            &version.document,
            approval("approved as is", version.created_at_ms + 2),
        )
        .await
        .unwrap();
    let sealed = versions.version_by_id(&version.id).await.unwrap().unwrap();
    assert!(sealed.seal.is_some(), "{sealed:?}");
    sealed
}

/// A document whose version 1 is a sealed submitted version.
async fn sealed_fixture(stores: &Stores, name: &str) -> Version {
    let document = id(name);
    stores
        .documents
        .append_updates(&document, &[bytes("u1"), bytes("u2")])
        .await
        .unwrap();
    let version = create(
        stores.versions.as_ref(),
        new_version(
            &document,
            VersionKind::Submitted,
            2,
            bytes("the reviewed state"),
            AT_MS,
        ),
    )
    .await;
    seal(stores.versions.as_ref(), &version).await
}

fn assert_conflict<T: std::fmt::Debug>(result: Result<T, StoreError>) {
    let error = result.unwrap_err();
    assert!(matches!(error, StoreError::Conflict(_)), "{error:?}");
}

fn assert_not_found<T: std::fmt::Debug>(result: Result<T, StoreError>) {
    let error = result.unwrap_err();
    assert!(matches!(error, StoreError::NotFound(_)), "{error:?}");
}

fn assert_frozen<T: std::fmt::Debug>(result: Result<T, StoreError>) {
    let error = result.unwrap_err();
    assert!(matches!(error, StoreError::Frozen(_)), "{error:?}");
}

fn numbers(versions: &[Version]) -> Vec<u64> {
    versions.iter().map(|version| version.number).collect()
}

// Creation, listing, reading.

async fn versions_are_numbered_one_two_three_per_document(harness: Arc<Harness>) {
    let stores = harness.open().await;
    let versions = stores.versions.as_ref();
    let document = id("numbered");
    let other = id("numbered-other");
    let first = create(
        versions,
        new_version(&document, VersionKind::Named, 1, bytes("s1"), AT_MS),
    )
    .await;
    let second = create(
        versions,
        new_version(&document, VersionKind::Auto, 2, bytes("s2"), AT_MS + 1),
    )
    .await;
    let third = create(
        versions,
        new_version(&document, VersionKind::Restore, 3, bytes("s3"), AT_MS + 2),
    )
    .await;
    assert_eq!([first.number, second.number, third.number], [1, 2, 3]);
    assert_ne!(first.id, second.id);
    // Numbers are per document.
    let elsewhere = create(
        versions,
        new_version(&other, VersionKind::Named, 1, bytes("o1"), AT_MS),
    )
    .await;
    assert_eq!(elsewhere.number, 1);

    // What create_version returned is exactly what is stored.
    assert_eq!(
        versions.version(&document, 2).await.unwrap(),
        Some(second.clone())
    );
    assert_eq!(
        versions.version_by_id(&third.id).await.unwrap(),
        Some(third.clone())
    );
    assert_eq!(
        versions.latest_version(&document).await.unwrap(),
        Some(third)
    );
    assert_eq!(versions.version(&document, 4).await.unwrap(), None);
    assert_eq!(first.kind, VersionKind::Named);
    assert_eq!(first.name.as_deref(), Some("version at 1"));
    assert_eq!(first.authors, ["alice", "bob"]);
    assert_eq!(first.upto_seq, Seq(1));
    assert_eq!(first.seal, None);
    stores.close().await;
}

async fn auto_version_not_beyond_the_latest_is_skipped_without_a_blob(harness: Arc<Harness>) {
    let stores = harness.open().await;
    let versions = stores.versions.as_ref();
    let document = id("auto-skip");
    let named = create(
        versions,
        new_version(&document, VersionKind::Named, 5, bytes("at 5"), AT_MS),
    )
    .await;

    // Another node already covered seq 5, or more: nothing recorded, no blob left behind.
    for upto in [5, 3] {
        let skipped = versions
            .create_version(new_version(
                &document,
                VersionKind::Auto,
                upto,
                bytes("late"),
                AT_MS + 1,
            ))
            .await
            .unwrap();
        assert_eq!(skipped, None, "auto version at {upto}");
    }
    assert_eq!(
        numbers(&versions.list_versions(&document, None, 10).await.unwrap()),
        [1]
    );
    assert_eq!(
        harness.version_blobs(&document).await,
        BTreeSet::from([version_key(&named)])
    );

    // Beyond the latest, an automatic version is recorded and numbered next.
    let auto = create(
        versions,
        new_version(&document, VersionKind::Auto, 6, bytes("at 6"), AT_MS + 2),
    )
    .await;
    assert_eq!(auto.number, 2);
    assert_eq!(
        harness.version_blobs(&document).await,
        BTreeSet::from([version_key(&named), version_key(&auto)])
    );
    stores.close().await;
}

async fn versions_list_newest_first_and_page_with_before(harness: Arc<Harness>) {
    let stores = harness.open().await;
    let versions = stores.versions.as_ref();
    let document = id("paged");
    let mut created = Vec::new();
    for upto in 1..=5 {
        created.push(
            create(
                versions,
                new_version(
                    &document,
                    VersionKind::Auto,
                    upto,
                    bytes(&format!("s{upto}")),
                    AT_MS + upto as i64,
                ),
            )
            .await,
        );
    }
    create(
        versions,
        new_version(&id("paged-other"), VersionKind::Named, 1, bytes("o"), AT_MS),
    )
    .await;

    let all = versions.list_versions(&document, None, 10).await.unwrap();
    assert_eq!(numbers(&all), [5, 4, 3, 2, 1]);
    assert_eq!(all, created.iter().rev().cloned().collect::<Vec<_>>());
    assert_eq!(
        numbers(&versions.list_versions(&document, None, 2).await.unwrap()),
        [5, 4]
    );
    assert_eq!(
        numbers(&versions.list_versions(&document, Some(4), 2).await.unwrap()),
        [3, 2]
    );
    assert_eq!(
        numbers(&versions.list_versions(&document, Some(2), 2).await.unwrap()),
        [1]
    );
    assert!(
        versions
            .list_versions(&document, Some(1), 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        versions
            .list_versions(&id("paged-none"), None, 10)
            .await
            .unwrap()
            .is_empty()
    );
    stores.close().await;
}

async fn version_state_returns_the_exact_bytes(harness: Arc<Harness>) {
    let stores = harness.open().await;
    let versions = stores.versions.as_ref();
    let document = id("exact");
    let every_byte: Bytes = (0..=255u8).collect::<Vec<u8>>().into();
    // A megabyte that is not all one byte, so that truncation or reordering would show.
    let large: Bytes = (0..1 << 20)
        .map(|i: u32| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect::<Vec<u8>>()
        .into();
    for (upto, state) in [every_byte, Bytes::new(), large].into_iter().enumerate() {
        let version = create(
            versions,
            new_version(
                &document,
                VersionKind::Named,
                upto as u64 + 1,
                state.clone(),
                AT_MS,
            ),
        )
        .await;
        assert_eq!(version.len, state.len() as u64);
        assert_eq!(version.sha256_hex, sha256_hex(&state));
        assert_eq!(versions.version_state(&version).await.unwrap(), state);
    }
    stores.close().await;
}

async fn altered_or_missing_version_blob_is_corrupt(harness: Arc<Harness>) {
    let stores = harness.open().await;
    let versions = stores.versions.as_ref();
    let document = id("altered");
    let version = create(
        versions,
        new_version(&document, VersionKind::Named, 1, bytes("original"), AT_MS),
    )
    .await;
    let key = version_key(&version);
    let expect_corrupt = |result: Result<Bytes, StoreError>| {
        let error = result.unwrap_err();
        assert!(matches!(error, StoreError::Corrupt(_)), "{error:?}");
    };

    // Overwritten behind the store: same length (only the checksum can tell), then another.
    harness
        .objects
        .put(&key, PutPayload::from(bytes("0riginal")))
        .await
        .unwrap();
    expect_corrupt(versions.version_state(&version).await);
    harness
        .objects
        .put(&key, PutPayload::from(bytes("original, longer")))
        .await
        .unwrap();
    expect_corrupt(versions.version_state(&version).await);
    harness.objects.delete(&key).await.unwrap();
    expect_corrupt(versions.version_state(&version).await);

    harness
        .objects
        .put(&key, PutPayload::from(bytes("original")))
        .await
        .unwrap();
    assert_eq!(
        versions.version_state(&version).await.unwrap(),
        bytes("original")
    );
    stores.close().await;
}

// Freezing.

async fn freeze_returns_the_last_seq_and_a_second_freeze_conflicts(harness: Arc<Harness>) {
    let stores = harness.open().await;
    let document = id("freeze-twice");
    stores
        .documents
        .append_updates(&document, &[bytes("u1"), bytes("u2"), bytes("u3")])
        .await
        .unwrap();
    assert!(!stores.versions.is_frozen(&document).await.unwrap());
    assert_eq!(stores.versions.freeze(&document).await.unwrap(), Seq(3));
    assert!(stores.versions.is_frozen(&document).await.unwrap());
    // From another node too.
    let other = harness.open().await;
    assert_conflict(other.versions.freeze(&document).await);
    assert!(other.versions.is_frozen(&document).await.unwrap());

    // A document with no update yet freezes at seq 0.
    assert_eq!(
        stores.versions.freeze(&id("freeze-empty")).await.unwrap(),
        Seq(0)
    );
    other.close().await;
    stores.close().await;
}

async fn frozen_document_refuses_appends_until_decided(harness: Arc<Harness>) {
    let stores = harness.open().await;
    let other_node = harness.open().await;
    let document = id("frozen");
    stores
        .documents
        .append_updates(&document, &[bytes("u1"), bytes("u2")])
        .await
        .unwrap();
    let frozen_at = stores.versions.freeze(&document).await.unwrap();
    assert_eq!(frozen_at, Seq(2));

    // Refused on every node, and nothing is left of the attempt.
    assert_frozen(
        stores
            .documents
            .append_updates(&document, &[bytes("late")])
            .await,
    );
    assert_frozen(
        other_node
            .documents
            .append_updates(&document, &[bytes("late"), bytes("later")])
            .await,
    );
    let loaded = stores.documents.load(&document).await.unwrap();
    assert_eq!(loaded.last_seq, Seq(2));
    assert_eq!(
        loaded
            .updates
            .iter()
            .map(|update| update.update.clone())
            .collect::<Vec<_>>(),
        [bytes("u1"), bytes("u2")]
    );
    // Other documents are not affected.
    stores
        .documents
        .append_updates(&id("not-frozen"), &[bytes("free")])
        .await
        .unwrap();

    let version = create(
        stores.versions.as_ref(),
        new_version(&document, VersionKind::Submitted, 2, bytes("state"), AT_MS),
    )
    .await;
    stores
        .versions
        .submit(&document, &version.id, "user:alice", "", AT_MS)
        .await
        .unwrap();
    // Still frozen while the review is open.
    assert_frozen(
        stores
            .documents
            .append_updates(&document, &[bytes("late")])
            .await,
    );
    stores
        .versions
        .decide(&document, rejection("not yet", AT_MS + 1))
        .await
        .unwrap();

    // After the decision, appends continue right after the frozen seq: refused appends used
    // no seq.
    assert!(!stores.versions.is_frozen(&document).await.unwrap());
    let range = other_node
        .documents
        .append_updates(&document, &[bytes("u3")])
        .await
        .unwrap();
    assert_eq!((range.first, range.last), (Seq(3), Seq(3)));
    other_node.close().await;
    stores.close().await;
}

async fn appenders_racing_a_freeze_never_commit_after_it(harness: Arc<Harness>) {
    const APPENDERS: usize = 20;
    // The freeze waits for this many committed appends, so that it lands mid-stream.
    const BEFORE_FREEZE: u64 = 20;
    let document = id("racing");
    let nodes: Vec<Arc<Stores>> = harness
        .open_nodes()
        .await
        .into_iter()
        .map(Arc::new)
        .collect();
    let barrier = Arc::new(Barrier::new(APPENDERS));
    let (committed_tx, mut committed_rx) = watch::channel(0u64);
    let committed_tx = Arc::new(committed_tx);
    let mut appenders = JoinSet::new();
    for appender in 0..APPENDERS {
        let node = Arc::clone(&nodes[appender % nodes.len()]);
        let barrier = Arc::clone(&barrier);
        let committed_tx = Arc::clone(&committed_tx);
        let document = document.clone();
        appenders.spawn(async move {
            barrier.wait().await;
            // Appends until the freeze stops it: (seq, payload) of each committed append.
            let mut appended = Vec::new();
            loop {
                let payload = bytes(&format!("a{appender}-{}", appended.len()));
                match node
                    .documents
                    .append_updates(&document, std::slice::from_ref(&payload))
                    .await
                {
                    Ok(range) => {
                        assert_eq!(range.first, range.last);
                        appended.push((range.last, payload));
                        committed_tx.send_modify(|count| *count += 1);
                    }
                    Err(StoreError::Frozen(_)) => return appended,
                    Err(error) => panic!("appender {appender}: {error:?}"),
                }
            }
        });
    }
    // Only the appenders hold senders now: if they all stop early, the wait below fails.
    drop(committed_tx);
    committed_rx
        .wait_for(|count| *count >= BEFORE_FREEZE)
        .await
        .unwrap();
    let frozen_at = nodes[0].versions.freeze(&document).await.unwrap();

    let mut committed = std::collections::BTreeMap::new();
    while let Some(result) = appenders.join_next().await {
        for (seq, payload) in result.unwrap() {
            assert!(
                seq <= frozen_at,
                "seq {seq} committed after the freeze at {frozen_at}"
            );
            assert!(
                committed.insert(seq.0, payload).is_none(),
                "seq {seq} assigned twice"
            );
        }
    }
    assert!(frozen_at.0 >= BEFORE_FREEZE, "{frozen_at}");
    // Every seq up to the freeze was told to an appender, and none after.
    assert_eq!(
        committed.keys().copied().collect::<Vec<_>>(),
        (1..=frozen_at.0).collect::<Vec<_>>()
    );
    let loaded = nodes[0].documents.load(&document).await.unwrap();
    assert_eq!(loaded.last_seq, frozen_at);
    assert_eq!(
        loaded
            .updates
            .iter()
            .map(|update| (update.seq.0, update.update.clone()))
            .collect::<Vec<_>>(),
        committed.into_iter().collect::<Vec<_>>()
    );
    for node in &nodes {
        node.close().await;
    }
}

async fn unfreeze_lifts_a_freeze_without_a_review(harness: Arc<Harness>) {
    let stores = harness.open().await;
    let document = id("unfrozen");
    stores
        .documents
        .append_updates(&document, &[bytes("u1")])
        .await
        .unwrap();
    stores.versions.freeze(&document).await.unwrap();
    stores.versions.unfreeze(&document).await.unwrap();
    assert!(!stores.versions.is_frozen(&document).await.unwrap());
    let range = stores
        .documents
        .append_updates(&document, &[bytes("u2")])
        .await
        .unwrap();
    assert_eq!(range.last, Seq(2));
    // The document can be frozen again.
    assert_eq!(stores.versions.freeze(&document).await.unwrap(), Seq(2));
    stores.close().await;
}

// Reviews.

async fn submit_requires_a_freeze(harness: Arc<Harness>) {
    let stores = harness.open().await;
    let document = id("unfrozen-submit");
    let version = create(
        stores.versions.as_ref(),
        new_version(&document, VersionKind::Submitted, 0, bytes("s"), AT_MS),
    )
    .await;
    assert_conflict(
        stores
            .versions
            .submit(&document, &version.id, "user:alice", "", AT_MS)
            .await,
    );
    assert!(stores.versions.reviews(&document).await.unwrap().is_empty());
    // Frozen, but naming another document's version: refused, nothing recorded.
    let other = id("unfrozen-submit-other");
    let foreign = create(
        stores.versions.as_ref(),
        new_version(&other, VersionKind::Submitted, 0, bytes("o"), AT_MS),
    )
    .await;
    stores.versions.freeze(&document).await.unwrap();
    assert_not_found(
        stores
            .versions
            .submit(&document, &foreign.id, "user:alice", "", AT_MS)
            .await,
    );
    assert!(stores.versions.reviews(&document).await.unwrap().is_empty());
    stores.close().await;
}

async fn second_open_review_is_refused(harness: Arc<Harness>) {
    let stores = harness.open().await;
    let versions = stores.versions.as_ref();
    let document = id("two-reviews");
    let version = create(
        versions,
        new_version(&document, VersionKind::Submitted, 0, bytes("s"), AT_MS),
    )
    .await;
    let review = submit_for_review(versions, &version).await;
    assert_eq!(review.decision, None);
    assert_conflict(
        versions
            .submit(&document, &version.id, "user:bob", "me too", AT_MS + 5)
            .await,
    );
    assert_eq!(versions.reviews(&document).await.unwrap(), [review]);
    stores.close().await;
}

async fn approval_seals_the_version_and_lifts_the_freeze(harness: Arc<Harness>) {
    let stores = harness.open().await;
    let versions = stores.versions.as_ref();
    let document = id("approved");
    stores
        .documents
        .append_updates(&document, &[bytes("u1")])
        .await
        .unwrap();
    let version = create(
        versions,
        new_version(&document, VersionKind::Submitted, 1, bytes("s"), AT_MS),
    )
    .await;
    let review = submit_for_review(versions, &version).await;
    assert_eq!(
        (review.document.clone(), review.version.clone()),
        (document.clone(), version.id.clone())
    );

    let decision = approval("looks good", AT_MS + 10);
    let decided = versions.decide(&document, decision.clone()).await.unwrap();
    assert_eq!(decided.id, review.id);
    assert_eq!(decided.decision, Some(decision));
    assert_eq!(versions.reviews(&document).await.unwrap(), [decided]);

    let sealed = versions.version_by_id(&version.id).await.unwrap().unwrap();
    assert_eq!(
        sealed.seal,
        Some(VersionSeal {
            sealed_at_ms: AT_MS + 10,
            sealed_by: "user:valerie".to_owned(),
            comment: "looks good".to_owned(),
        })
    );
    // Nothing else about the version changed.
    assert_eq!(
        Version {
            seal: None,
            ..sealed
        },
        version
    );
    assert!(!versions.is_frozen(&document).await.unwrap());
    stores
        .documents
        .append_updates(&document, &[bytes("u2")])
        .await
        .unwrap();
    stores.close().await;
}

async fn decide_without_an_open_review_is_not_found(harness: Arc<Harness>) {
    let stores = harness.open().await;
    let versions = stores.versions.as_ref();
    let document = id("no-review");
    assert_not_found(versions.decide(&document, approval("", AT_MS)).await);
    // Frozen is not enough: a review must be open.
    versions.freeze(&document).await.unwrap();
    assert_not_found(versions.decide(&document, approval("", AT_MS)).await);
    assert!(versions.is_frozen(&document).await.unwrap());
    versions.unfreeze(&document).await.unwrap();

    // A decided review is not open any more.
    let version = create(
        versions,
        new_version(&document, VersionKind::Submitted, 0, bytes("s"), AT_MS),
    )
    .await;
    submit_for_review(versions, &version).await;
    versions
        .decide(&document, rejection("no", AT_MS + 1))
        .await
        .unwrap();
    assert_not_found(
        versions
            .decide(&document, approval("yes after all", AT_MS + 2))
            .await,
    );
    assert_eq!(
        versions
            .version_by_id(&version.id)
            .await
            .unwrap()
            .unwrap()
            .seal,
        None
    );
    stores.close().await;
}

async fn rejection_leaves_the_version_unsealed(harness: Arc<Harness>) {
    let stores = harness.open().await;
    let versions = stores.versions.as_ref();
    let document = id("rejected");
    let version = create(
        versions,
        new_version(&document, VersionKind::Submitted, 0, bytes("s"), AT_MS),
    )
    .await;
    submit_for_review(versions, &version).await;
    let decision = rejection("needs work", AT_MS + 10);
    let decided = versions.decide(&document, decision.clone()).await.unwrap();
    assert_eq!(decided.decision, Some(decision));
    assert_eq!(
        versions.version_by_id(&version.id).await.unwrap(),
        Some(version.clone())
    );
    assert!(!versions.is_frozen(&document).await.unwrap());
    // The version can be submitted again and approved then.
    let sealed = seal(versions, &version).await;
    assert_eq!(
        sealed.seal.map(|seal| seal.comment),
        Some("approved as is".to_owned())
    );
    assert_eq!(versions.reviews(&document).await.unwrap().len(), 2);
    stores.close().await;
}

// Immutability.

async fn sealed_version_row_refuses_raw_updates_and_deletes(harness: Arc<Harness>) {
    let stores = harness.open().await;
    let sealed = sealed_fixture(&stores, "sealed-raw").await;
    let mut raw = harness.raw_connection().await.unwrap();
    for statement in [
        "UPDATE document_versions SET sha256 = 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa' WHERE id = $1",
        "UPDATE document_versions SET name = 'renamed' WHERE id = $1",
        "UPDATE document_versions SET seal_comment = 'rewritten' WHERE id = $1",
        "UPDATE document_versions SET sealed_at_ms = NULL, sealed_by = NULL WHERE id = $1",
        "DELETE FROM document_versions WHERE id = $1",
    ] {
        assert_immutable(
            raw.execute(statement, &[sealed.id.as_str()]).await,
            statement,
        );
    }
    // What row triggers do not see: SQLite's REPLACE deletes the old row without delete
    // triggers, Postgres's TRUNCATE skips row triggers.
    let bypass: &[&'static str] = match &raw {
        RawConnection::Sqlite(_) => &[
            "REPLACE INTO document_versions (id, document_id, number, kind, created_at_ms, authors, upto_seq, object_key, sha256, len) \
             SELECT id, document_id, number, kind, created_at_ms, authors, upto_seq, object_key, \
             'bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb', len FROM document_versions WHERE id = $1",
            "REPLACE INTO document_reviews (id, document_id, version_id, submitted_by, submitted_at_ms, note) \
             SELECT id, document_id, version_id, 'mallory', submitted_at_ms, note FROM document_reviews WHERE version_id = $1",
        ],
        RawConnection::Postgres(_) => &[
            "TRUNCATE document_versions CASCADE",
            "TRUNCATE document_reviews",
        ],
    };
    for statement in bypass {
        // Postgres's TRUNCATEs take no parameter.
        let binds: &[&str] = match &raw {
            RawConnection::Sqlite(_) => &[sealed.id.as_str()],
            RawConnection::Postgres(_) => &[],
        };
        assert_immutable(raw.execute(statement, binds).await, statement);
    }
    raw.close().await.unwrap();
    assert_eq!(
        stores.versions.version_by_id(&sealed.id).await.unwrap(),
        Some(sealed.clone())
    );
    assert_eq!(
        sha256_hex(&stores.versions.version_state(&sealed).await.unwrap()),
        sealed.sha256_hex
    );
    stores.close().await;
}

async fn retention_thins_old_auto_versions_but_never_sealed_named_or_submitted_ones(
    harness: Arc<Harness>,
) {
    let stores = harness.open().await;
    let versions = stores.versions.as_ref();
    let document = id("retained");
    let mut created = Vec::new();
    let mut add = async |kind, state: &str| {
        let number = created.len() as u64 + 1;
        let version = create(
            versions,
            new_version(
                &document,
                kind,
                number,
                bytes(state),
                AT_MS + number as i64 * 1000,
            ),
        )
        .await;
        created.push(version.clone());
        version
    };
    add(VersionKind::Auto, "old auto 1").await;
    add(VersionKind::Auto, "old auto 2").await;
    add(VersionKind::Named, "named").await;
    let sealed_auto = add(VersionKind::Auto, "sealed auto").await;
    let sealed_submitted = add(VersionKind::Submitted, "sealed submitted").await;
    let rejected = add(VersionKind::Submitted, "rejected submitted").await;
    add(VersionKind::Submitted, "never reviewed").await;
    add(VersionKind::Restore, "restore").await;
    add(VersionKind::Auto, "newest auto of the day").await;
    add(VersionKind::Auto, "newest version").await;
    let sealed_auto = seal(versions, &sealed_auto).await;
    let sealed_submitted = seal(versions, &sealed_submitted).await;
    submit_for_review(versions, &rejected).await;
    versions
        .decide(&document, rejection("no", AT_MS + 20_000))
        .await
        .unwrap();

    // Everything is far older than any bucket, so only the newest automatic version of each
    // day survives among the candidates: versions 1 and 2 go, version 9 stays, version 10 is
    // the document's newest and never a candidate. Every other version would go too if it
    // were a candidate.
    let policy = RetentionPolicy {
        keep_all_ms: 0,
        hourly_ms: 0,
    };
    let far_future = AT_MS + 1000 * 365 * 86_400_000;
    assert_eq!(
        versions.apply_retention(policy, far_future).await.unwrap(),
        2
    );
    assert_eq!(
        numbers(&versions.list_versions(&document, None, 100).await.unwrap()),
        [10, 9, 8, 7, 6, 5, 4, 3]
    );
    let kept: BTreeSet<Path> = created[2..].iter().map(version_key).collect();
    assert_eq!(harness.version_blobs(&document).await, kept);
    for sealed in [&sealed_auto, &sealed_submitted] {
        assert_eq!(
            versions.version_by_id(&sealed.id).await.unwrap().as_ref(),
            Some(sealed)
        );
        assert_eq!(
            sha256_hex(&versions.version_state(sealed).await.unwrap()),
            sealed.sha256_hex
        );
    }
    // A second pass finds nothing more to delete.
    assert_eq!(
        versions.apply_retention(policy, far_future).await.unwrap(),
        0
    );
    stores.close().await;
}

async fn sealed_version_blob_is_write_once(harness: Arc<Harness>) {
    let stores = harness.open().await;
    let sealed = sealed_fixture(&stores, "sealed-blob").await;
    let error = harness
        .objects
        .put_opts(
            &version_key(&sealed),
            PutPayload::from(bytes("forged")),
            PutMode::Create.into(),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(error, object_store::Error::AlreadyExists { .. }),
        "{error:?}"
    );
    let state = stores.versions.version_state(&sealed).await.unwrap();
    assert_eq!(state, bytes("the reviewed state"));
    assert_eq!(sha256_hex(&state), sealed.sha256_hex);
    stores.close().await;
}

async fn unsealed_version_content_refuses_raw_updates(harness: Arc<Harness>) {
    let stores = harness.open().await;
    let document = id("unsealed-raw");
    let version = create(
        stores.versions.as_ref(),
        new_version(&document, VersionKind::Named, 1, bytes("s"), AT_MS),
    )
    .await;
    let mut raw = harness.raw_connection().await.unwrap();
    for statement in [
        "UPDATE document_versions SET sha256 = 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa' WHERE id = $1",
        "UPDATE document_versions SET len = len + 1 WHERE id = $1",
        "UPDATE document_versions SET name = 'renamed' WHERE id = $1",
        "UPDATE document_versions SET number = number + 10 WHERE id = $1",
        "UPDATE document_versions SET upto_seq = upto_seq + 1 WHERE id = $1",
        "UPDATE document_versions SET object_key = 'elsewhere' WHERE id = $1",
        "UPDATE document_versions SET authors = '[]' WHERE id = $1",
        "UPDATE document_versions SET kind = 'auto' WHERE id = $1",
    ] {
        assert_immutable(
            raw.execute(statement, &[version.id.as_str()]).await,
            statement,
        );
    }
    raw.close().await.unwrap();
    assert_eq!(
        stores.versions.version_by_id(&version.id).await.unwrap(),
        Some(version)
    );
    stores.close().await;
}

async fn decided_review_refuses_raw_updates_and_deletes(harness: Arc<Harness>) {
    let stores = harness.open().await;
    let versions = stores.versions.as_ref();
    let sealed = sealed_fixture(&stores, "approved-review").await;
    let rejected = create(
        versions,
        new_version(
            &sealed.document,
            VersionKind::Submitted,
            2,
            bytes("again"),
            AT_MS + 100,
        ),
    )
    .await;
    submit_for_review(versions, &rejected).await;
    versions
        .decide(&sealed.document, rejection("no", AT_MS + 200))
        .await
        .unwrap();
    let reviews = versions.reviews(&sealed.document).await.unwrap();
    assert_eq!(reviews.len(), 2);

    let mut raw = harness.raw_connection().await.unwrap();
    for review in &reviews {
        for statement in [
            "UPDATE document_reviews SET decision = 'approved' WHERE id = $1",
            "UPDATE document_reviews SET decision_comment = 'rewritten' WHERE id = $1",
            "UPDATE document_reviews SET decided_by = 'user:mallory' WHERE id = $1",
            "DELETE FROM document_reviews WHERE id = $1",
        ] {
            assert_immutable(
                raw.execute(statement, &[review.id.as_str()]).await,
                statement,
            );
        }
    }
    raw.close().await.unwrap();
    assert_eq!(versions.reviews(&sealed.document).await.unwrap(), reviews);
    stores.close().await;
}

// Publication.

async fn publish_requires_a_sealed_version(harness: Arc<Harness>) {
    let stores = harness.open().await;
    let versions = stores.versions.as_ref();
    let sealed = sealed_fixture(&stores, "published").await;
    let document = sealed.document.clone();
    let unsealed = create(
        versions,
        new_version(
            &document,
            VersionKind::Named,
            3,
            bytes("draft"),
            AT_MS + 100,
        ),
    )
    .await;
    let publication = |version: &Version| Publication {
        document: document.clone(),
        version: version.id.clone(),
        published_by: "user:valerie".to_owned(),
        published_at_ms: AT_MS + 200,
    };

    assert_conflict(versions.publish(&publication(&unsealed)).await);
    assert_eq!(versions.publication(&document).await.unwrap(), None);
    versions.publish(&publication(&sealed)).await.unwrap();
    assert_eq!(
        versions.publication(&document).await.unwrap(),
        Some(publication(&sealed))
    );
    // A refused publication leaves the current one in place.
    assert_conflict(versions.publish(&publication(&unsealed)).await);
    assert_eq!(
        versions.publication(&document).await.unwrap(),
        Some(publication(&sealed))
    );
    stores.close().await;
}

async fn unpublish_reports_whether_there_was_a_publication(harness: Arc<Harness>) {
    let stores = harness.open().await;
    let versions = stores.versions.as_ref();
    let sealed = sealed_fixture(&stores, "unpublished").await;
    let publication = Publication {
        document: sealed.document.clone(),
        version: sealed.id.clone(),
        published_by: "user:valerie".to_owned(),
        published_at_ms: AT_MS + 200,
    };
    versions.publish(&publication).await.unwrap();
    assert!(versions.unpublish(&sealed.document).await.unwrap());
    assert_eq!(versions.publication(&sealed.document).await.unwrap(), None);
    assert!(!versions.unpublish(&sealed.document).await.unwrap());
    // The version itself is untouched.
    assert_eq!(
        versions.version_by_id(&sealed.id).await.unwrap(),
        Some(sealed)
    );
    stores.close().await;
}

// Authorship and verification.

async fn record_clients_keeps_the_first_user_of_each_client(harness: Arc<Harness>) {
    let stores = harness.open().await;
    let versions = stores.versions.as_ref();
    let document = id("clients");
    let other = id("clients-other");
    let sorted = |mut pairs: Vec<(u64, String)>| {
        pairs.sort();
        pairs
    };
    versions
        .record_clients(
            &document,
            &[(1, "alice".to_owned()), (2, "bob".to_owned())],
            AT_MS,
        )
        .await
        .unwrap();
    versions
        .record_clients(
            &document,
            &[
                (1, "mallory".to_owned()),
                (u64::from(u32::MAX) + 7, "carol".to_owned()),
            ],
            AT_MS + 1,
        )
        .await
        .unwrap();
    versions
        .record_clients(&other, &[(2, "dave".to_owned())], AT_MS)
        .await
        .unwrap();
    versions
        .record_clients(&document, &[], AT_MS)
        .await
        .unwrap();

    let carol = u64::from(u32::MAX) + 7;
    assert_eq!(
        sorted(
            versions
                .client_users(&document, &[1, 2, carol, 99])
                .await
                .unwrap()
        ),
        [
            (1, "alice".to_owned()),
            (2, "bob".to_owned()),
            (carol, "carol".to_owned())
        ]
    );
    assert_eq!(
        versions.client_users(&document, &[2]).await.unwrap(),
        [(2, "bob".to_owned())]
    );
    assert_eq!(
        versions.client_users(&other, &[1, 2]).await.unwrap(),
        [(2, "dave".to_owned())]
    );
    assert!(
        versions
            .client_users(&document, &[])
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        versions
            .client_users(&id("clients-none"), &[1])
            .await
            .unwrap()
            .is_empty()
    );
    stores.close().await;
}

async fn find_sealed_matches_states_and_exports_of_sealed_versions_only(harness: Arc<Harness>) {
    let stores = harness.open().await;
    let versions = stores.versions.as_ref();
    let sealed = sealed_fixture(&stores, "verified").await;
    let unsealed = create(
        versions,
        new_version(
            &sealed.document,
            VersionKind::Named,
            3,
            bytes("draft"),
            AT_MS + 100,
        ),
    )
    .await;
    let pdf_hash = sha256_hex(b"%PDF of the reviewed state");
    versions
        .record_export(&sealed.id, "pdf", &pdf_hash, AT_MS + 300)
        .await
        .unwrap();
    // Recording the same export twice is harmless.
    versions
        .record_export(&sealed.id, "pdf", &pdf_hash, AT_MS + 301)
        .await
        .unwrap();

    let by_export = versions.find_sealed(&pdf_hash).await.unwrap().unwrap();
    assert_eq!(by_export.version, sealed);
    assert_eq!(by_export.format.as_deref(), Some("pdf"));
    let by_state = versions
        .find_sealed(&sealed.sha256_hex)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(by_state.version, sealed);
    assert_eq!(by_state.format, None);
    // Hex case does not matter to the caller.
    let upper = versions
        .find_sealed(&pdf_hash.to_ascii_uppercase())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(upper.version.id, sealed.id);

    // An unsealed version's state, or an export recorded of it, proves nothing.
    assert_eq!(
        versions.find_sealed(&unsealed.sha256_hex).await.unwrap(),
        None
    );
    let draft_export = sha256_hex(b"%PDF of the draft");
    versions
        .record_export(&unsealed.id, "pdf", &draft_export, AT_MS + 400)
        .await
        .unwrap();
    assert_eq!(versions.find_sealed(&draft_export).await.unwrap(), None);
    assert_eq!(
        versions
            .find_sealed(&sha256_hex(b"never seen"))
            .await
            .unwrap(),
        None
    );
    stores.close().await;
}
