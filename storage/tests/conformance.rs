//! One conformance suite, run on both backends.
//!
//! Every scenario below is an `async fn(Arc<Harness>)` that `common::both_backends!` turns into
//! two tests, `sqlite::<name>` and `postgres::<name>`, each on a private database and object
//! directory (see `common`) that it may open as many store instances on as it wants: separate
//! instances stand for separate server processes.

// The scenarios are plain async functions called from generated tests, which clippy does not
// recognise as test code; unwrap is allowed in tests by the house rules.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::future::Future;
use std::ops::Range;
use std::path::{Path as FsPath, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;
use futures_util::stream::BoxStream;
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMode, PutMultipartOptions, PutOptions, PutPayload, PutResult,
};
use relais_storage::backup::{BackupError, BackupSummary, Progress};
use relais_storage::{
    AUDIT_GENESIS, Admin, AppendedRange, AttachmentId, AuditEntry, AuditFilter, AuditVerification,
    Chat, ConversationId, Decision, Directory, DocumentId, DocumentInfo, Grant, InvitationId,
    InvitationTarget, MessageId, Migrations, NewApiToken, NewAttachment, NewAuditEntry,
    NewConversation, NewInvitation, NewMessage, NewUser, NewVersion, Publication, RetentionPolicy,
    Role, SchemaStatus, Seq, Session, Snapshot, StorageConfig, Store, StoreError, StoredDocument,
    StoredUpdate, TokenId, UserId, UserKind, VersionId, VersionKind, Versions, audit_hash,
};
use sqlx::{AssertSqlSafe, Connection, PgConnection, Row};
use tokio::sync::Barrier;
use tokio::task::JoinSet;

use common::{
    Backend, Harness, MAX_CONNECTIONS, assert_immutable, bytes, document_id as id, run, sha256_hex,
};

/// What this suite adds to the shared harness: configurations, backups and blob files.
impl Harness {
    /// This test's database and objects as the server would be configured with them.
    fn config(&self) -> StorageConfig {
        StorageConfig {
            database_url: self.database_url.clone(),
            object_store_url: format!("file://{}", self.objects_dir().display()),
            max_connections: MAX_CONNECTIONS,
        }
    }

    /// A directory URL under this test's temporary directory, for backups.
    fn backup_url(&self, name: &str) -> String {
        format!("file://{}", self.temp.path().join(name).display())
    }

    /// A new store instance (its own pools) on this test's database and objects.
    async fn open(&self) -> Arc<dyn Store> {
        self.open_with(Arc::clone(&self.objects)).await
    }

    /// A new store instance on this test's database and on `objects`, which may wrap the
    /// objects every store of this test shares (`Harness::objects`).
    async fn open_with(&self, objects: Arc<dyn ObjectStore>) -> Arc<dyn Store> {
        self.connect(objects).await
    }

    /// Every file under the objects directory.
    fn blob_files(&self) -> Vec<PathBuf> {
        fn walk(dir: &FsPath, found: &mut Vec<PathBuf>) {
            for entry in std::fs::read_dir(dir).expect("read objects directory") {
                let path = entry.expect("directory entry").path();
                if path.is_dir() {
                    walk(&path, found);
                } else {
                    found.push(path);
                }
            }
        }
        let mut found = Vec::new();
        walk(&self.objects_dir(), &mut found);
        found
    }

    /// Asserts that no blob's key starts with the segment `prefix`.
    fn assert_no_blob_under(&self, prefix: &str) {
        let files = self.blob_files();
        assert!(
            files
                .iter()
                .all(|path| !path.starts_with(self.objects_dir().join(prefix))),
            "{files:?}"
        );
    }

    /// The file holding the blob at `key` (found by its unique file name, so that the test
    /// does not depend on how the local store maps encoded key segments to file names).
    fn blob_file(&self, key: &str) -> PathBuf {
        let file_name = key.rsplit('/').next().expect("key has a file name");
        let matches: Vec<_> = self
            .blob_files()
            .into_iter()
            .filter(|path| path.file_name().and_then(|name| name.to_str()) == Some(file_name))
            .collect();
        assert_eq!(
            matches.len(),
            1,
            "blob {key} should be one file: {matches:?}"
        );
        matches.into_iter().next().expect("one match")
    }
}

common::both_backends!(
    unknown_document_loads_empty,
    appends_get_consecutive_seqs_in_order,
    updates_round_trip_byte_for_byte,
    empty_append_changes_nothing,
    concurrent_appenders_never_collide,
    snapshot_compacts_the_log,
    snapshot_outside_the_log_is_refused,
    snapshot_blob_is_write_once,
    altered_or_missing_blob_is_corrupt,
    failed_blob_write_deletes_nothing,
    same_point_snapshotted_twice_keeps_the_first,
    loads_stay_consistent_during_compaction,
    documents_are_isolated,
    odd_document_names_work_end_to_end,
    data_survives_reopening,
    ready_on_an_empty_store,
    backup_then_restore_gives_identical_documents,
    restore_refuses_non_empty_targets_and_damaged_backups,
    backup_while_appending_is_consistent,
    backup_without_a_directory_still_restores,
    backup_without_chat_still_restores,
    backup_without_versions_still_restores,
    attachments_deleted_during_a_backup_are_left_out,
    versions_deleted_during_a_backup_are_left_out,
    large_directory_tables_span_several_files,
    admin_commands_require_a_current_schema,
);

fn seqs(updates: &[StoredUpdate]) -> Vec<u64> {
    updates.iter().map(|update| update.seq.0).collect()
}

fn payloads(updates: &[StoredUpdate]) -> Vec<Bytes> {
    updates.iter().map(|update| update.update.clone()).collect()
}

async fn unknown_document_loads_empty(harness: Arc<Harness>) {
    let store = harness.open().await;
    let document = id("never-written");
    assert_eq!(
        store.load(&document).await.unwrap(),
        StoredDocument::default()
    );
    assert!(
        store
            .updates_after(&document, Seq(0))
            .await
            .unwrap()
            .is_empty()
    );
    store.close().await;
}

async fn appends_get_consecutive_seqs_in_order(harness: Arc<Harness>) {
    let store = harness.open().await;
    let document = id("ordered");
    let first = store
        .append_updates(&document, &[bytes("a"), bytes("b")])
        .await
        .unwrap();
    assert_eq!(
        first,
        AppendedRange {
            first: Seq(1),
            last: Seq(2)
        }
    );
    let second = store
        .append_updates(&document, &[bytes("c")])
        .await
        .unwrap();
    assert_eq!(
        second,
        AppendedRange {
            first: Seq(3),
            last: Seq(3)
        }
    );
    let third = store
        .append_updates(&document, &[bytes("d"), bytes("e"), bytes("f")])
        .await
        .unwrap();
    assert_eq!(
        third,
        AppendedRange {
            first: Seq(4),
            last: Seq(6)
        }
    );

    let loaded = store.load(&document).await.unwrap();
    assert_eq!(loaded.snapshot, None);
    assert_eq!(loaded.last_seq, Seq(6));
    assert_eq!(seqs(&loaded.updates), [1, 2, 3, 4, 5, 6]);
    assert_eq!(
        payloads(&loaded.updates),
        ["a", "b", "c", "d", "e", "f"].map(bytes)
    );

    let tail = store.updates_after(&document, Seq(2)).await.unwrap();
    assert_eq!(seqs(&tail), [3, 4, 5, 6]);
    assert_eq!(tail[0].update, bytes("c"));
    assert!(
        store
            .updates_after(&document, Seq(6))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .updates_after(&document, Seq(u64::MAX))
            .await
            .unwrap()
            .is_empty()
    );
    store.close().await;
}

async fn updates_round_trip_byte_for_byte(harness: Arc<Harness>) {
    let store = harness.open().await;
    let document = id("binary");
    let every_byte: Bytes = (0..=255u8).collect::<Vec<_>>().into();
    let large: Bytes = (0..1024 * 1024)
        .map(|i| (i % 251) as u8)
        .collect::<Vec<_>>()
        .into();
    let updates = [
        Bytes::new(),
        every_byte,
        large,
        Bytes::from_static(&[0, 0, 0]),
    ];
    store.append_updates(&document, &updates).await.unwrap();
    let loaded = store.load(&document).await.unwrap();
    assert_eq!(payloads(&loaded.updates), updates);
    store.close().await;
}

async fn empty_append_changes_nothing(harness: Arc<Harness>) {
    let store = harness.open().await;
    let document = id("empty-append");
    assert_eq!(
        store.append_updates(&document, &[]).await.unwrap(),
        AppendedRange {
            first: Seq(1),
            last: Seq(0)
        }
    );
    assert_eq!(
        store.load(&document).await.unwrap(),
        StoredDocument::default()
    );
    store
        .append_updates(&document, &[bytes("a"), bytes("b")])
        .await
        .unwrap();
    assert_eq!(
        store.append_updates(&document, &[]).await.unwrap(),
        AppendedRange {
            first: Seq(3),
            last: Seq(2)
        }
    );
    assert_eq!(
        store
            .append_updates(&document, &[bytes("c")])
            .await
            .unwrap(),
        AppendedRange {
            first: Seq(3),
            last: Seq(3)
        }
    );
    store.close().await;
}

async fn concurrent_appenders_never_collide(harness: Arc<Harness>) {
    const WRITERS: usize = 8;
    const BATCHES: usize = 10;
    let document = id("contended");
    // Every writer is its own store instance, like separate server processes; the barrier
    // makes them start appending together.
    let barrier = Arc::new(Barrier::new(WRITERS));
    let mut writers = JoinSet::new();
    for writer in 0..WRITERS {
        let store = harness.open().await;
        let barrier = Arc::clone(&barrier);
        let document = document.clone();
        writers.spawn(async move {
            barrier.wait().await;
            let mut appended = Vec::new();
            for batch in 0..BATCHES {
                let updates: Vec<Bytes> = (0..=batch % 3)
                    .map(|k| bytes(&format!("w{writer}-b{batch}-u{k}")))
                    .collect();
                let range = store.append_updates(&document, &updates).await.unwrap();
                assert_eq!(range.last.0 + 1 - range.first.0, updates.len() as u64);
                appended.push((range, updates));
            }
            store.close().await;
            appended
        });
    }
    // seq -> payload, from what each writer was told.
    let mut assigned = BTreeMap::new();
    while let Some(result) = writers.join_next().await {
        let appended = result.unwrap();
        let mut previous_last = Seq(0);
        for (range, updates) in appended {
            assert!(
                range.first > previous_last,
                "a writer's batches keep their order"
            );
            previous_last = range.last;
            for (seq, update) in (range.first.0..=range.last.0).zip(updates) {
                assert!(
                    assigned.insert(seq, update).is_none(),
                    "seq {seq} assigned twice"
                );
            }
        }
    }
    let total = assigned.len() as u64;
    assert_eq!(
        total,
        (WRITERS * (0..BATCHES).map(|b| b % 3 + 1).sum::<usize>()) as u64
    );
    assert_eq!(
        assigned.keys().copied().collect::<Vec<_>>(),
        (1..=total).collect::<Vec<_>>()
    );

    let store = harness.open().await;
    let loaded = store.load(&document).await.unwrap();
    assert_eq!(loaded.last_seq, Seq(total));
    assert_eq!(seqs(&loaded.updates), (1..=total).collect::<Vec<_>>());
    assert_eq!(
        payloads(&loaded.updates),
        assigned.into_values().collect::<Vec<_>>()
    );
    store.close().await;
}

async fn snapshot_compacts_the_log(harness: Arc<Harness>) {
    let store = harness.open().await;
    let document = id("compacted");
    store
        .append_updates(&document, &[bytes("u1"), bytes("u2")])
        .await
        .unwrap();
    store
        .append_updates(&document, &[bytes("u3"), bytes("u4"), bytes("u5")])
        .await
        .unwrap();

    let state = bytes("state up to 3");
    let info = store
        .write_snapshot(&document, Seq(3), state.clone())
        .await
        .unwrap();
    assert_eq!(info.upto_seq, Seq(3));
    assert_eq!(info.pruned_updates, 3);
    assert_eq!(info.len, state.len() as u64);
    assert_eq!(info.sha256_hex, sha256_hex(&state));
    let file_name = info
        .key
        .strip_prefix("documents/compacted/snapshots/00000000000000000003-")
        .unwrap_or_else(|| panic!("unexpected key {}", info.key));
    let uuid = file_name.strip_suffix(".ydoc").expect("ends in .ydoc");
    assert!(uuid::Uuid::parse_str(uuid).is_ok(), "{uuid}");
    assert_eq!(std::fs::read(harness.blob_file(&info.key)).unwrap(), state);

    let loaded = store.load(&document).await.unwrap();
    assert_eq!(
        loaded.snapshot,
        Some(Snapshot {
            upto_seq: Seq(3),
            state: state.clone()
        })
    );
    assert_eq!(seqs(&loaded.updates), [4, 5]);
    assert_eq!(payloads(&loaded.updates), [bytes("u4"), bytes("u5")]);
    assert_eq!(loaded.last_seq, Seq(5));
    // Compacted updates are gone from the log: a caller catching up from before the snapshot
    // sees the first seq jump and must load instead.
    assert_eq!(
        seqs(&store.updates_after(&document, Seq(0)).await.unwrap()),
        [4, 5]
    );

    let state = bytes("state up to 5");
    let info = store
        .write_snapshot(&document, Seq(5), state.clone())
        .await
        .unwrap();
    assert_eq!(info.pruned_updates, 2);
    let loaded = store.load(&document).await.unwrap();
    assert_eq!(
        loaded.snapshot,
        Some(Snapshot {
            upto_seq: Seq(5),
            state
        })
    );
    assert!(loaded.updates.is_empty());
    assert_eq!(loaded.last_seq, Seq(5));

    // Seqs are never reused after compaction.
    assert_eq!(
        store
            .append_updates(&document, &[bytes("u6")])
            .await
            .unwrap(),
        AppendedRange {
            first: Seq(6),
            last: Seq(6)
        }
    );
    let loaded = store.load(&document).await.unwrap();
    assert_eq!(
        loaded.snapshot.map(|snapshot| snapshot.upto_seq),
        Some(Seq(5))
    );
    assert_eq!(seqs(&loaded.updates), [6]);
    assert_eq!(loaded.last_seq, Seq(6));
    // Snapshot blobs are kept (versions will point at them).
    assert_eq!(harness.blob_files().len(), 2);
    store.close().await;
}

async fn snapshot_outside_the_log_is_refused(harness: Arc<Harness>) {
    let store = harness.open().await;
    let document = id("short-log");
    store
        .append_updates(&document, &[bytes("u1"), bytes("u2")])
        .await
        .unwrap();
    for upto_seq in [Seq(3), Seq(0), Seq(u64::MAX)] {
        let error = store
            .write_snapshot(&document, upto_seq, bytes("state"))
            .await
            .unwrap_err();
        assert!(
            matches!(error, StoreError::SnapshotBeyondLog { upto_seq: asked, last_seq: Seq(2) } if asked == upto_seq),
            "{error:?}"
        );
        assert!(!error.is_unavailable());
    }
    let error = store
        .write_snapshot(&id("unknown"), Seq(1), bytes("state"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            StoreError::SnapshotBeyondLog {
                last_seq: Seq(0),
                ..
            }
        ),
        "{error:?}"
    );
    // Refused before anything was written.
    assert!(harness.blob_files().is_empty());
    let loaded = store.load(&document).await.unwrap();
    assert_eq!(loaded.snapshot, None);
    assert_eq!(seqs(&loaded.updates), [1, 2]);
    store.close().await;
}

async fn snapshot_blob_is_write_once(harness: Arc<Harness>) {
    let store = harness.open().await;
    let document = id("immutable");
    store
        .append_updates(&document, &[bytes("u1")])
        .await
        .unwrap();
    let state = bytes("the one true state");
    let info = store
        .write_snapshot(&document, Seq(1), state.clone())
        .await
        .unwrap();

    // Another writer trying to put at the same key with the store's own mode is refused.
    let objects = Arc::clone(&harness.objects);
    let key = Path::parse(&info.key).unwrap();
    let error = objects
        .put_opts(
            &key,
            PutPayload::from(bytes("tampered")),
            PutMode::Create.into(),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(error, object_store::Error::AlreadyExists { .. }),
        "{error:?}"
    );

    let loaded = store.load(&document).await.unwrap();
    assert_eq!(
        loaded.snapshot,
        Some(Snapshot {
            upto_seq: Seq(1),
            state
        })
    );
    store.close().await;
}

async fn altered_or_missing_blob_is_corrupt(harness: Arc<Harness>) {
    let store = harness.open().await;
    let document = id("damaged");
    store
        .append_updates(&document, &[bytes("u1"), bytes("u2")])
        .await
        .unwrap();
    let info = store
        .write_snapshot(&document, Seq(1), bytes("original"))
        .await
        .unwrap();
    let file = harness.blob_file(&info.key);

    let expect_corrupt = |result: Result<StoredDocument, StoreError>| {
        let error = result.unwrap_err();
        assert!(matches!(error, StoreError::Corrupt(_)), "{error:?}");
        assert!(!error.is_unavailable());
    };
    // Same length, other content: only the checksum can tell.
    std::fs::write(&file, "0riginal").unwrap();
    expect_corrupt(store.load(&document).await);
    // Other length.
    std::fs::write(&file, "original plus").unwrap();
    expect_corrupt(store.load(&document).await);
    // Gone.
    std::fs::remove_file(&file).unwrap();
    expect_corrupt(store.load(&document).await);

    // The log itself is still readable for whoever repairs it.
    assert_eq!(
        seqs(&store.updates_after(&document, Seq(0)).await.unwrap()),
        [2]
    );
    std::fs::write(&file, "original").unwrap();
    assert_eq!(
        store.load(&document).await.unwrap().snapshot.unwrap().state,
        bytes("original")
    );
    store.close().await;
}

async fn failed_blob_write_deletes_nothing(harness: Arc<Harness>) {
    let failing = harness
        .open_with(Arc::new(FailingPuts(Arc::clone(&harness.objects))))
        .await;
    let document = id("unlucky");
    failing
        .append_updates(&document, &[bytes("u1"), bytes("u2"), bytes("u3")])
        .await
        .unwrap();
    let error = failing
        .write_snapshot(&document, Seq(2), bytes("state"))
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::ObjectStore(_)), "{error:?}");
    assert!(error.is_unavailable());

    let store = harness.open().await;
    let loaded = store.load(&document).await.unwrap();
    assert_eq!(loaded.snapshot, None);
    assert_eq!(seqs(&loaded.updates), [1, 2, 3]);
    assert_eq!(loaded.last_seq, Seq(3));
    assert!(harness.blob_files().is_empty());

    // Once the object store is back, the same compaction goes through.
    let info = store
        .write_snapshot(&document, Seq(2), bytes("state"))
        .await
        .unwrap();
    assert_eq!(info.pruned_updates, 2);
    failing.close().await;
    store.close().await;
}

async fn same_point_snapshotted_twice_keeps_the_first(harness: Arc<Harness>) {
    // Two store instances stand for two nodes compacting the same document.
    let node_a = harness.open().await;
    let node_b = harness.open().await;
    let document = id("raced");
    node_a
        .append_updates(&document, &[bytes("u1"), bytes("u2"), bytes("u3")])
        .await
        .unwrap();
    let first = node_a
        .write_snapshot(&document, Seq(2), bytes("from a"))
        .await
        .unwrap();
    let second = node_b
        .write_snapshot(&document, Seq(2), bytes("from b"))
        .await
        .unwrap();
    assert_eq!(first.pruned_updates, 2);
    // The second node is told what is recorded, not what it tried to write.
    assert_eq!(second.key, first.key);
    assert_eq!(second.sha256_hex, sha256_hex(b"from a"));
    assert_eq!(second.pruned_updates, 0);
    // Its blob stays behind as an orphan: harmless, and no row points at it.
    assert_eq!(harness.blob_files().len(), 2);

    // A late snapshot at an older point does not hide the newer one.
    let older = node_b
        .write_snapshot(&document, Seq(1), bytes("older"))
        .await
        .unwrap();
    assert_eq!(older.pruned_updates, 0);

    for node in [&node_a, &node_b] {
        let loaded = node.load(&document).await.unwrap();
        assert_eq!(
            loaded.snapshot,
            Some(Snapshot {
                upto_seq: Seq(2),
                state: bytes("from a")
            })
        );
        assert_eq!(seqs(&loaded.updates), [3]);
    }
    node_a.close().await;
    node_b.close().await;
}

async fn loads_stay_consistent_during_compaction(harness: Arc<Harness>) {
    const APPENDS: u64 = 60;
    const SNAPSHOT_EVERY: u64 = 4;
    let document = id("busy");
    let writer = harness.open().await;
    let reader = harness.open().await;
    let done = Arc::new(AtomicBool::new(false));

    let reading = {
        let document = document.clone();
        let done = Arc::clone(&done);
        tokio::spawn(async move {
            let mut loads = 0;
            loop {
                let finished = done.load(Ordering::Acquire);
                // Every load must be a coherent picture: the snapshot state says which point
                // it covers, and the updates continue right after it up to last_seq.
                let loaded = reader.load(&document).await.unwrap();
                let upto = loaded
                    .snapshot
                    .as_ref()
                    .map_or(0, |snapshot| snapshot.upto_seq.0);
                if let Some(snapshot) = &loaded.snapshot {
                    assert_eq!(snapshot.state, bytes(&format!("state-{upto}")));
                }
                assert_eq!(
                    seqs(&loaded.updates),
                    (upto + 1..=loaded.last_seq.0).collect::<Vec<_>>()
                );
                for update in &loaded.updates {
                    assert_eq!(update.update, bytes(&format!("u{}", update.seq)));
                }
                loads += 1;
                if finished {
                    break;
                }
            }
            reader.close().await;
            loads
        })
    };

    for n in 1..=APPENDS {
        let range = writer
            .append_updates(&document, &[bytes(&format!("u{n}"))])
            .await
            .unwrap();
        assert_eq!(range.first, Seq(n));
        if n % SNAPSHOT_EVERY == 0 {
            writer
                .write_snapshot(&document, Seq(n), bytes(&format!("state-{n}")))
                .await
                .unwrap();
        }
    }
    done.store(true, Ordering::Release);
    let loads = reading.await.unwrap();
    assert!(loads >= 1);
    let loaded = writer.load(&document).await.unwrap();
    assert_eq!(loaded.last_seq, Seq(APPENDS));
    assert_eq!(
        loaded.snapshot.map(|snapshot| snapshot.upto_seq),
        Some(Seq(APPENDS))
    );
    writer.close().await;
}

async fn documents_are_isolated(harness: Arc<Harness>) {
    let store = harness.open().await;
    let (a, b, upper_a) = (id("a"), id("b"), id("A"));
    for round in 0..3 {
        store
            .append_updates(&a, &[bytes(&format!("a{round}"))])
            .await
            .unwrap();
        store
            .append_updates(
                &b,
                &[bytes(&format!("b{round}")), bytes(&format!("b{round}'"))],
            )
            .await
            .unwrap();
    }
    assert_eq!(
        store
            .append_updates(&upper_a, &[bytes("A0")])
            .await
            .unwrap(),
        AppendedRange {
            first: Seq(1),
            last: Seq(1)
        }
    );
    let info = store
        .write_snapshot(&a, Seq(3), bytes("a state"))
        .await
        .unwrap();
    assert_eq!(info.pruned_updates, 3);

    let loaded_a = store.load(&a).await.unwrap();
    assert_eq!(loaded_a.last_seq, Seq(3));
    assert!(loaded_a.updates.is_empty());
    let loaded_b = store.load(&b).await.unwrap();
    assert_eq!(loaded_b.snapshot, None);
    assert_eq!(loaded_b.last_seq, Seq(6));
    assert_eq!(
        payloads(&loaded_b.updates),
        ["b0", "b0'", "b1", "b1'", "b2", "b2'"].map(bytes)
    );
    let loaded_upper_a = store.load(&upper_a).await.unwrap();
    assert_eq!(payloads(&loaded_upper_a.updates), [bytes("A0")]);
    assert_eq!(
        seqs(&store.updates_after(&b, Seq(4)).await.unwrap()),
        [5, 6]
    );
    store.close().await;
}

async fn odd_document_names_work_end_to_end(harness: Arc<Harness>) {
    let store = harness.open().await;
    let longest = "z".repeat(relais_storage::MAX_DOCUMENT_ID_BYTES);
    let names = [
        "a~b",
        "team:notes.2026",
        "x..y",
        "-_-",
        "~",
        longest.as_str(),
    ];
    let mut keys = HashSet::new();
    for name in names {
        let document = id(name);
        store
            .append_updates(&document, &[bytes(name)])
            .await
            .unwrap();
        let info = store
            .write_snapshot(&document, Seq(1), bytes(&format!("state of {name}")))
            .await
            .unwrap();
        // The name is one path segment of the key, whatever its characters.
        assert_eq!(info.key.split('/').count(), 4, "{}", info.key);
        assert!(keys.insert(info.key));
    }
    for name in names {
        let loaded = store.load(&id(name)).await.unwrap();
        assert_eq!(
            loaded.snapshot.unwrap().state,
            bytes(&format!("state of {name}"))
        );
    }
    store.close().await;
}

async fn data_survives_reopening(harness: Arc<Harness>) {
    let document = id("durable");
    let before = {
        let store = harness.open().await;
        store
            .append_updates(&document, &[bytes("u1"), bytes("u2"), bytes("u3")])
            .await
            .unwrap();
        store
            .write_snapshot(&document, Seq(2), bytes("state-2"))
            .await
            .unwrap();
        store
            .append_updates(&document, &[bytes("u4")])
            .await
            .unwrap();
        let loaded = store.load(&document).await.unwrap();
        store.close().await;
        loaded
    };
    // A new instance runs the (already applied) migrations again and sees everything.
    let store = harness.open().await;
    let after = store.load(&document).await.unwrap();
    assert_eq!(after, before);
    assert_eq!(after.snapshot.as_ref().unwrap().state, bytes("state-2"));
    assert_eq!(seqs(&after.updates), [3, 4]);
    assert_eq!(
        store
            .append_updates(&document, &[bytes("u5")])
            .await
            .unwrap(),
        AppendedRange {
            first: Seq(5),
            last: Seq(5)
        }
    );
    store.close().await;
}

async fn ready_on_an_empty_store(harness: Arc<Harness>) {
    let store = harness.open().await;
    store.check_ready().await.unwrap();
    let expected = match harness.backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    };
    assert_eq!(store.backend_name(), expected);
    store.close().await;
}

/// Documents in every state a store can hold: a log only, a snapshot with a tail, two
/// snapshots and an empty tail, and an odd name. Returns them sorted.
async fn fill(store: &dyn Store) -> Vec<DocumentId> {
    let log_only = id("log-only");
    store
        .append_updates(&log_only, &[bytes("a1"), bytes("a2"), bytes("a3")])
        .await
        .unwrap();
    let tail = id("snapshot-and-tail");
    store
        .append_updates(&tail, &[bytes("b1"), bytes("b2"), bytes("b3")])
        .await
        .unwrap();
    store
        .write_snapshot(&tail, Seq(2), bytes("state b1..b2"))
        .await
        .unwrap();
    let compacted = id("compacted:twice~");
    store
        .append_updates(&compacted, &[bytes("c1"), bytes("c2")])
        .await
        .unwrap();
    store
        .write_snapshot(&compacted, Seq(1), bytes("state c1"))
        .await
        .unwrap();
    store
        .write_snapshot(&compacted, Seq(2), Bytes::from(vec![0u8, 255, 7, 0]))
        .await
        .unwrap();
    // A name as y-websocket rooms have them: accents, spaces, '/' segments.
    let nested = id("PLUi 2027/compte rendu réunion");
    store
        .append_updates(&nested, &[bytes("d1"), bytes("d2")])
        .await
        .unwrap();
    store
        .write_snapshot(&nested, Seq(1), bytes("state d1"))
        .await
        .unwrap();
    let mut documents = vec![log_only, tail, compacted, nested];
    documents.sort();
    documents
}

/// Rows in every directory table: booleans both ways, NULLs and set values in the same
/// columns, non-ASCII text, a deleted document, accepted and open invitations, revoked
/// sessions and tokens, and audit entries whose details need escaping.
async fn fill_directory(directory: &dyn Directory) {
    let organisation = directory
        .create_organisation("Commune de Saint-Étienne-de-Tinée")
        .await
        .unwrap();
    let anne = directory
        .create_user(NewUser {
            email: "anne@example.org".into(),
            display_name: "Anne « Nane » Müller".into(),
            kind: UserKind::Staff,
            organisation: Some(organisation.id.clone()),
            is_admin: true,
            password_hash: Some("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into()),
            oidc: None,
        })
        .await
        .unwrap();
    let bob = directory
        .create_user(NewUser {
            email: "bob@partner.example".into(),
            display_name: "Bob".into(),
            kind: UserKind::External,
            organisation: None,
            is_admin: false,
            password_hash: None,
            oidc: Some(("https://id.example.org".into(), "bob-subject".into())),
        })
        .await
        .unwrap();
    let carol = directory
        .create_user(NewUser {
            email: "carol@example.org".into(),
            display_name: "Carol".into(),
            kind: UserKind::Staff,
            organisation: None,
            is_admin: false,
            password_hash: None,
            oidc: None,
        })
        .await
        .unwrap();
    directory.set_user_disabled(&carol.id, true).await.unwrap();
    let workspace = directory
        .create_workspace(&organisation.id, "PLUi 2027")
        .await
        .unwrap();
    let sponsored = Grant {
        role: Role::Commenter,
        expires_at_ms: Some(1_900_000_000_000),
        sponsor: Some(anne.id.clone()),
    };
    directory
        .set_workspace_member(
            &workspace.id,
            &anne.id,
            &Grant {
                role: Role::Owner,
                expires_at_ms: None,
                sponsor: None,
            },
        )
        .await
        .unwrap();
    directory
        .set_workspace_member(&workspace.id, &bob.id, &sponsored)
        .await
        .unwrap();
    let document = DocumentInfo {
        id: id("PLUi 2027/compte rendu réunion"),
        workspace: Some(workspace.id.clone()),
        title: "Compte rendu — réunion du 3 mars".into(),
        created_by: Some(anne.id.clone()),
        created_at_ms: 1_772_532_000_123,
        deleted_at_ms: None,
    };
    directory.create_document(&document).await.unwrap();
    let loose = DocumentInfo {
        id: id("log-only"),
        workspace: None,
        title: "Sans espace".into(),
        created_by: None,
        created_at_ms: 1_772_532_000_456,
        deleted_at_ms: None,
    };
    directory.create_document(&loose).await.unwrap();
    directory.delete_document(&loose.id).await.unwrap();
    directory
        .set_document_member(&document.id, &bob.id, &sponsored)
        .await
        .unwrap();
    let invitation = |secret: &str, target| NewInvitation {
        id: InvitationId::generate(),
        secret_sha256: secret.into(),
        email: "partner@example.org".into(),
        target,
        role: Role::Reader,
        access_expires_at_ms: 1_900_000_000_000,
        sponsor: anne.id.clone(),
    };
    directory
        .create_invitation(&invitation(
            "a".repeat(64).as_str(),
            InvitationTarget::Workspace(workspace.id.clone()),
        ))
        .await
        .unwrap();
    let accepted = directory
        .create_invitation(&invitation(
            "b".repeat(64).as_str(),
            InvitationTarget::Document(document.id.clone()),
        ))
        .await
        .unwrap();
    directory
        .mark_invitation_accepted(&accepted.id, &bob.id)
        .await
        .unwrap();
    let session = Session {
        user: anne.id.clone(),
        csrf_token: "csrf-token".into(),
        created_at_ms: 1_772_532_000_000,
        expires_at_ms: 1_772_618_400_000,
        revoked_at_ms: None,
    };
    directory
        .create_session(&"c".repeat(64), &session)
        .await
        .unwrap();
    directory
        .create_session(&"d".repeat(64), &session)
        .await
        .unwrap();
    directory.revoke_session(&"d".repeat(64)).await.unwrap();
    let token = |secret: &str, created_by| NewApiToken {
        id: TokenId::generate(),
        secret_sha256: secret.into(),
        document_pattern: "PLUi 2027/*".into(),
        role: Role::Editor,
        expires_at_ms: 1_900_000_000_000,
        created_by,
    };
    directory
        .create_api_token(&token(&"e".repeat(64), Some(anne.id.clone())))
        .await
        .unwrap();
    let revoked = directory
        .create_api_token(&token(&"f".repeat(64), None))
        .await
        .unwrap();
    directory.revoke_api_token(&revoked.id).await.unwrap();
    for (actor, workspace, details) in [
        (
            Some("cli"),
            None,
            serde_json::json!({"is_admin": true, "kind": "staff"}),
        ),
        (
            Some("user:anne"),
            Some(workspace.id.clone()),
            serde_json::json!({"title": "Compte rendu — « réunion »\n\t\"quoted\" \\ \u{1F600}"}),
        ),
        (
            None,
            None,
            serde_json::json!({"nested": {"n": -1, "x": 1.5, "list": [null, false]}}),
        ),
    ] {
        directory
            .append_audit(NewAuditEntry {
                actor: actor.map(str::to_owned),
                action: "test.recorded".into(),
                workspace,
                target: Some(format!("document:{}", document.id)),
                details,
            })
            .await
            .unwrap();
    }
}

/// Everything the directory API says about the rows [`fill_directory`] wrote, for comparing
/// a restored store with its source.
async fn directory_facts(directory: &dyn Directory) -> String {
    let everything = AuditFilter::default();
    let mut facts = vec![
        format!("{:?}", directory.list_organisations().await.unwrap()),
        format!("{:?}", directory.list_users(None).await.unwrap()),
        format!(
            "{:?}",
            directory
                .password_credentials("anne@example.org")
                .await
                .unwrap()
        ),
        format!(
            "{:?}",
            directory
                .user_by_oidc("https://id.example.org", "bob-subject")
                .await
                .unwrap()
        ),
        format!("{:?}", directory.list_api_tokens().await.unwrap()),
        format!("{:?}", directory.session(&"c".repeat(64)).await.unwrap()),
        format!("{:?}", directory.session(&"d".repeat(64)).await.unwrap()),
        format!(
            "{:?}",
            directory
                .invitation_by_secret(&"b".repeat(64))
                .await
                .unwrap()
        ),
        format!("{:?}", directory.document(&id("log-only")).await.unwrap()),
        format!("{}", directory.access_epoch().await.unwrap()),
        format!("{:?}", directory.audit_entries(&everything).await.unwrap()),
    ];
    for workspace in directory.list_workspaces().await.unwrap() {
        facts.push(format!("{workspace:?}"));
        facts.push(format!(
            "{:?}",
            directory.workspace_members(&workspace.id).await.unwrap()
        ));
        facts.push(format!(
            "{:?}",
            directory.list_invitations(&workspace.id).await.unwrap()
        ));
        for document in directory.list_documents(&workspace.id).await.unwrap() {
            facts.push(format!("{document:?}"));
            facts.push(format!(
                "{:?}",
                directory.document_members(&document.id).await.unwrap()
            ));
        }
    }
    facts.join("\n")
}

/// What [`fill_chat`] made.
struct ChatFixture {
    /// The channel, the private channel, the direct conversation, the document's discussion.
    conversations: Vec<ConversationId>,
    /// Anne, Bob, Carol.
    users: Vec<UserId>,
    /// The attachment of a live message, the one of a deleted message (gone), and one
    /// uploaded but never posted.
    attachments: Vec<AttachmentId>,
    /// The blobs of the two attachments still there.
    blobs: Vec<Bytes>,
    /// The one message about the meeting, which search finds.
    meeting: MessageId,
}

fn chat_message(conversation: &ConversationId, author: &UserId, body: &str) -> NewMessage {
    NewMessage {
        conversation: conversation.clone(),
        author: author.clone(),
        client_id: uuid::Uuid::new_v4().to_string(),
        body: body.to_owned(),
        reply_to_seq: None,
        mentions: Vec::new(),
        mentions_all: false,
        attachments: Vec::new(),
    }
}

/// Conversations of every kind on top of [`fill_directory`]'s accounts: messages with a
/// mention, an `@channel`, a reply, an edit, reactions, an attachment, a deleted message (with
/// an attachment, gone with it), an attachment never posted, members and readers' markers.
async fn fill_chat(directory: &dyn Directory, chat: &dyn Chat) -> ChatFixture {
    let users = directory.list_users(None).await.unwrap();
    let user = |email: &str| {
        users
            .iter()
            .find(|user| user.email == email)
            .unwrap()
            .id
            .clone()
    };
    let (anne, bob, carol) = (
        user("anne@example.org"),
        user("bob@partner.example"),
        user("carol@example.org"),
    );
    let workspace = directory.list_workspaces().await.unwrap()[0].id.clone();
    let general = chat
        .create_conversation(NewConversation::Channel {
            workspace: workspace.clone(),
            name: "général".into(),
            private: false,
            created_by: anne.clone(),
        })
        .await
        .unwrap()
        .id;
    let office = chat
        .create_conversation(NewConversation::Channel {
            workspace: workspace.clone(),
            name: "bureau".into(),
            private: true,
            created_by: anne.clone(),
        })
        .await
        .unwrap()
        .id;
    chat.add_conversation_member(&office, &bob).await.unwrap();
    let direct = chat
        .create_conversation(NewConversation::Direct {
            participants: vec![bob.clone(), anne.clone()],
            created_by: anne.clone(),
        })
        .await
        .unwrap()
        .id;
    let discussion = chat
        .create_conversation(NewConversation::Document {
            document: id("PLUi 2027/compte rendu réunion"),
            workspace: Some(workspace),
        })
        .await
        .unwrap()
        .id;
    let upload = |conversation: &ConversationId, uploader: &UserId, bytes: &'static [u8]| {
        chat.put_attachment(
            NewAttachment {
                conversation: conversation.clone(),
                uploaded_by: uploader.clone(),
                file_name: "compte rendu « final ».pdf".into(),
                content_type: "application/pdf".into(),
            },
            Bytes::from_static(bytes),
        )
    };

    let meeting = chat
        .post_message(NewMessage {
            mentions: vec![bob.clone()],
            ..chat_message(
                &general,
                &anne,
                "La réunion du conseil est déplacée à jeudi « 14 h »\n\"salle B\"",
            )
        })
        .await
        .unwrap()
        .message;
    let minutes = upload(&general, &bob, b"%PDF-1.7 minutes\0\xff")
        .await
        .unwrap();
    chat.post_message(NewMessage {
        reply_to_seq: Some(meeting.seq),
        attachments: vec![minutes.id.clone()],
        ..chat_message(&general, &bob, "Voici le compte rendu")
    })
    .await
    .unwrap();
    let draft = upload(&general, &anne, b"draft").await.unwrap();
    let deleted = chat
        .post_message(NewMessage {
            attachments: vec![draft.id.clone()],
            ..chat_message(&general, &anne, "brouillon à effacer")
        })
        .await
        .unwrap()
        .message;
    chat.delete_message(&general, deleted.seq)
        .await
        .unwrap()
        .unwrap();
    let thanks = chat
        .post_message(NewMessage {
            mentions_all: true,
            ..chat_message(&general, &anne, "@channel merci")
        })
        .await
        .unwrap()
        .message;
    chat.edit_message(&general, thanks.seq, "@channel merci, séance levée")
        .await
        .unwrap()
        .unwrap();
    let unposted = upload(&general, &anne, b"never posted").await.unwrap();
    chat.add_reaction(&general, meeting.seq, &bob, "👍")
        .await
        .unwrap();
    chat.add_reaction(&general, meeting.seq + 1, &anne, "🎉")
        .await
        .unwrap();
    chat.add_reaction(&general, meeting.seq + 1, &bob, "🎉")
        .await
        .unwrap();
    chat.post_message(chat_message(&office, &bob, "Ordre du jour ?"))
        .await
        .unwrap();
    chat.post_message(chat_message(&direct, &bob, "Bonjour Anne"))
        .await
        .unwrap();
    chat.post_message(chat_message(&discussion, &anne, "Relire la section 2"))
        .await
        .unwrap();
    chat.mark_read(&general, &bob, 2).await.unwrap();
    chat.mark_read(&general, &anne, 4).await.unwrap();
    chat.mark_read(&direct, &anne, 1).await.unwrap();
    chat.mark_read(&discussion, &carol, 1).await.unwrap();
    ChatFixture {
        conversations: vec![general, office, direct, discussion],
        users: vec![anne, bob, carol],
        attachments: vec![minutes.id, draft.id, unposted.id],
        blobs: vec![
            Bytes::from_static(b"%PDF-1.7 minutes\0\xff"),
            Bytes::from_static(b"never posted"),
        ],
        meeting: meeting.id,
    }
}

/// Everything the chat API says about what [`fill_chat`] wrote, for comparing a restored
/// store with its source.
async fn chat_facts(directory: &dyn Directory, chat: &dyn Chat, fixture: &ChatFixture) -> String {
    let mut facts = Vec::new();
    for workspace in directory.list_workspaces().await.unwrap() {
        facts.push(format!(
            "{:?}",
            chat.workspace_channels(&workspace.id).await.unwrap()
        ));
    }
    facts.push(format!(
        "{:?}",
        chat.document_conversation(&id("PLUi 2027/compte rendu réunion"))
            .await
            .unwrap()
    ));
    for conversation in &fixture.conversations {
        facts.push(format!(
            "{:?}",
            chat.conversation(conversation).await.unwrap()
        ));
        facts.push(format!(
            "{:?}",
            chat.conversation_members(conversation).await.unwrap()
        ));
        facts.push(format!(
            "{:?}",
            chat.read_markers(conversation).await.unwrap()
        ));
        facts.push(format!(
            "{:?}",
            chat.messages_after(conversation, 0, 0).await.unwrap()
        ));
        facts.push(format!(
            "{:?}",
            chat.reactions(conversation, 1, 1_000).await.unwrap()
        ));
    }
    for user in &fixture.users {
        facts.push(format!(
            "{:?}",
            chat.direct_conversations_of(user).await.unwrap()
        ));
        facts.push(format!(
            "{:?}",
            chat.conversation_states(user, &fixture.conversations)
                .await
                .unwrap()
        ));
    }
    for attachment in &fixture.attachments {
        let stored = chat.attachment(attachment).await.unwrap();
        facts.push(format!("{stored:?}"));
        if let Some(stored) = stored {
            facts.push(format!(
                "{:?}",
                chat.attachment_bytes(&stored).await.unwrap()
            ));
        }
    }
    facts.join("\n")
}

/// Checks what chat holds after a restore beyond [`chat_facts`]: search works (the index was
/// rebuilt), blobs come back byte for byte, and conversations go on where they stopped.
async fn check_restored_chat(chat: &dyn Chat, fixture: &ChatFixture) {
    let found = |query: &'static str| async move {
        chat.search_messages(&fixture.conversations, query, 0)
            .await
            .unwrap()
            .into_iter()
            .map(|message| message.id)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        found("reunion deplacee").await,
        std::slice::from_ref(&fixture.meeting)
    );
    assert!(
        found("brouillon").await.is_empty(),
        "deleted bodies are gone"
    );
    assert_eq!(found("levee").await.len(), 1, "edited bodies are found");
    let minutes = chat
        .attachment(&fixture.attachments[0])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        chat.attachment_bytes(&minutes).await.unwrap(),
        fixture.blobs[0]
    );
    assert_eq!(
        chat.attachment(&fixture.attachments[1]).await.unwrap(),
        None
    );
    let general = &fixture.conversations[0];
    let next = chat
        .post_message(chat_message(general, &fixture.users[1], "Nouvelle réunion"))
        .await
        .unwrap();
    assert!(next.created);
    assert_eq!(next.message.seq, 5);
    assert_eq!(found("reunion").await.len(), 2);
}

/// What [`fill_versions`] wrote.
struct VersionFixture {
    /// The document with versions (the nested name, whose key segment needs encoding), and
    /// the one left frozen.
    documents: Vec<DocumentId>,
    /// The plain automatic version, then the approved (sealed, published) one.
    versions: Vec<VersionId>,
    /// Their states, in the same order.
    states: Vec<Bytes>,
    /// The SHA-256 of the recorded export of the sealed version.
    export_sha256: String,
}

const VERSION_AT_MS: i64 = 1_772_532_000_000;

/// A version of `document` to record: named versions get a name, all but automatic ones
/// Anne as their maker.
fn version_to_record(
    document: &DocumentId,
    kind: VersionKind,
    upto_seq: u64,
    state: Bytes,
    created_at_ms: i64,
) -> NewVersion {
    NewVersion {
        document: document.clone(),
        kind,
        name: (kind == VersionKind::Named).then(|| format!("version at {upto_seq} « é »")),
        created_by: (kind != VersionKind::Auto).then(|| "user:anne".to_owned()),
        authors: Vec::new(),
        upto_seq: Seq(upto_seq),
        state,
        created_at_ms,
    }
}

/// Version history on a document of [`fill`]: an automatic version, a submitted version
/// approved through the workflow (frozen, submitted, decided: sealed) and published, a Yjs
/// client's user, a recorded export of the sealed version; and another document left frozen
/// under review.
async fn fill_versions(versions: &dyn Versions) -> VersionFixture {
    let document = id("PLUi 2027/compte rendu réunion");
    let frozen = id("log-only");
    let new_version = |kind: VersionKind, upto_seq: u64, state: &Bytes, at_ms: i64| NewVersion {
        authors: vec!["anne".to_owned(), "bob « b »".to_owned()],
        ..version_to_record(&document, kind, upto_seq, state.clone(), at_ms)
    };
    let auto_state = Bytes::from_static(b"auto state \0\xff");
    let auto = versions
        .create_version(new_version(
            VersionKind::Auto,
            1,
            &auto_state,
            VERSION_AT_MS,
        ))
        .await
        .unwrap()
        .expect("auto version recorded");
    let last_seq = versions.freeze(&document).await.unwrap();
    let sealed_state = Bytes::from_static(b"the reviewed state");
    let submitted = versions
        .create_version(new_version(
            VersionKind::Submitted,
            last_seq.0,
            &sealed_state,
            VERSION_AT_MS + 1_000,
        ))
        .await
        .unwrap()
        .expect("submitted version recorded");
    versions
        .submit(
            &document,
            &submitted.id,
            "user:anne",
            "à valider « vite »",
            VERSION_AT_MS + 2_000,
        )
        .await
        .unwrap();
    versions
        .decide(
            &document,
            Decision {
                approved: true,
                decided_by: "user:bob".into(),
                decided_at_ms: VERSION_AT_MS + 3_000,
                comment: "validé".into(),
            },
        )
        .await
        .unwrap();
    versions
        .publish(&Publication {
            document: document.clone(),
            version: submitted.id.clone(),
            published_by: "user:bob".into(),
            published_at_ms: VERSION_AT_MS + 4_000,
        })
        .await
        .unwrap();
    versions
        .record_clients(
            &document,
            &[(u64::from(u32::MAX) + 7, "anne".into())],
            VERSION_AT_MS,
        )
        .await
        .unwrap();
    let export_sha256 = sha256_hex(b"the exported PDF");
    versions
        .record_export(&submitted.id, "pdf", &export_sha256, VERSION_AT_MS + 5_000)
        .await
        .unwrap();
    versions.freeze(&frozen).await.unwrap();
    VersionFixture {
        documents: vec![document, frozen],
        versions: vec![auto.id, submitted.id],
        states: vec![auto_state, sealed_state],
        export_sha256,
    }
}

/// Everything the [`Versions`] API says about what [`fill_versions`] wrote, states
/// included (each checked against its recorded length and SHA-256), for comparing a restored
/// store with its source.
async fn version_facts(versions: &dyn Versions, fixture: &VersionFixture) -> String {
    let mut facts = Vec::new();
    for document in &fixture.documents {
        let listed = versions.list_versions(document, None, 100).await.unwrap();
        for version in &listed {
            facts.push(format!(
                "{:?}",
                versions.version_state(version).await.unwrap()
            ));
        }
        facts.push(format!("{listed:?}"));
        facts.push(format!("{:?}", versions.reviews(document).await.unwrap()));
        facts.push(format!(
            "{:?}",
            versions.publication(document).await.unwrap()
        ));
        facts.push(format!("{:?}", versions.is_frozen(document).await.unwrap()));
        facts.push(format!(
            "{:?}",
            versions
                .client_users(document, &[u64::from(u32::MAX) + 7, 1])
                .await
                .unwrap()
        ));
    }
    for version in &fixture.versions {
        facts.push(format!(
            "{:?}",
            versions.version_by_id(version).await.unwrap()
        ));
    }
    for sha256 in fixture
        .states
        .iter()
        .map(|state| sha256_hex(state))
        .chain([fixture.export_sha256.clone()])
    {
        facts.push(format!(
            "{:?}",
            versions.find_sealed(&sha256).await.unwrap()
        ));
    }
    facts.join("\n")
}

/// Runs `statement` with `id` bound as `$1` on a plain connection to `harness`'s database,
/// bypassing the store: what a script or a careless administrator could do.
async fn execute_raw(harness: &Harness, statement: &str, id: &str) -> Result<u64, sqlx::Error> {
    let mut connection = harness.raw_connection().await?;
    let result = connection.execute(statement, &[id]).await;
    connection.close().await?;
    result
}

/// Checks what the version history holds after a restore beyond [`version_facts`]: the
/// states are the bytes written, the sealed version is sealed and its row still refuses
/// UPDATE and DELETE (its triggers came with the schema, and the restore's INSERT kept the
/// seal), and the history goes on where it stopped.
async fn check_restored_versions(target: &Harness, restored: &Admin, fixture: &VersionFixture) {
    let versions = restored.versions();
    let document = &fixture.documents[0];
    let listed = versions.list_versions(document, None, 100).await.unwrap();
    let numbers: Vec<u64> = listed.iter().map(|version| version.number).collect();
    assert_eq!(numbers, [2, 1]);
    let (sealed, auto) = (&listed[0], &listed[1]);
    assert_eq!(
        (&sealed.id, &auto.id),
        (&fixture.versions[1], &fixture.versions[0])
    );
    assert_eq!(
        versions.version_state(auto).await.unwrap(),
        fixture.states[0]
    );
    assert_eq!(
        versions.version_state(sealed).await.unwrap(),
        fixture.states[1]
    );
    assert_eq!(sha256_hex(&fixture.states[1]), sealed.sha256_hex);
    assert!(auto.seal.is_none());
    let seal = sealed.seal.as_ref().expect("restored sealed");
    assert_eq!(
        (seal.sealed_by.as_str(), seal.comment.as_str()),
        ("user:bob", "validé")
    );
    let found = versions
        .find_sealed(&sealed.sha256_hex)
        .await
        .unwrap()
        .expect("the sealed state is found");
    assert_eq!((&found.version, found.format), (sealed, None));
    let exported = versions
        .find_sealed(&fixture.export_sha256)
        .await
        .unwrap()
        .expect("the recorded export is found");
    assert_eq!(exported.format.as_deref(), Some("pdf"));
    assert_eq!(versions.find_sealed(&auto.sha256_hex).await.unwrap(), None);
    for statement in [
        "UPDATE document_versions SET sha256 = 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa' WHERE id = $1",
        "UPDATE document_versions SET seal_comment = 'rewritten' WHERE id = $1",
        "UPDATE document_versions SET sealed_at_ms = NULL, sealed_by = NULL WHERE id = $1",
        "DELETE FROM document_versions WHERE id = $1",
    ] {
        assert_immutable(
            execute_raw(target, statement, sealed.id.as_str()).await,
            statement,
        );
    }
    assert_eq!(
        versions.version_by_id(&sealed.id).await.unwrap().as_ref(),
        Some(sealed)
    );
    assert!(versions.is_frozen(&fixture.documents[1]).await.unwrap());
    let next = versions
        .create_version(version_to_record(
            document,
            VersionKind::Named,
            2,
            bytes("after restore"),
            VERSION_AT_MS + 10_000,
        ))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(next.number, 3);
}

/// Every file under `dir`, as (path relative to `dir`, contents), sorted.
fn files_under(dir: &FsPath) -> Vec<(String, Vec<u8>)> {
    fn walk(root: &FsPath, dir: &FsPath, found: &mut Vec<(String, Vec<u8>)>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, found);
            } else {
                let relative = path.strip_prefix(root).unwrap().display().to_string();
                found.push((relative, std::fs::read(&path).unwrap()));
            }
        }
    }
    let mut found = Vec::new();
    walk(dir, dir, &mut found);
    found.sort();
    found
}

async fn backup_then_restore_gives_identical_documents(harness: Arc<Harness>) {
    let store = harness.open().await;
    let documents = fill(store.as_ref()).await;
    let source = Admin::open(&harness.config(), Migrations::Require)
        .await
        .unwrap();
    assert_eq!(source.list_documents().await.unwrap(), documents);
    // Before the directory's facts are taken: freezes and decisions bump the access epoch.
    let versions = fill_versions(source.versions()).await;
    let source_version_facts = version_facts(source.versions(), &versions).await;
    fill_directory(source.directory()).await;
    let facts = directory_facts(source.directory()).await;
    let chat = fill_chat(source.directory(), source.chat()).await;
    let source_chat_facts = chat_facts(source.directory(), source.chat(), &chat).await;
    let audit = source.directory().verify_audit().await.unwrap();
    assert_eq!(
        audit,
        AuditVerification {
            entries: 3,
            first_broken: None
        }
    );
    let seen = std::sync::Mutex::new(Vec::<Progress>::new());
    let record = |progress: &Progress| seen.lock().unwrap().push(*progress);
    let url = harness.backup_url("backup");
    let summary = source.backup(&url, &record).await.unwrap();
    assert_eq!(
        (summary.documents, summary.updates, summary.snapshots),
        (4, 5, 4)
    );
    let last = *seen.lock().unwrap().last().unwrap();
    assert_eq!((last.documents_done, last.documents_total), (4, 4));
    assert_eq!((summary.attachments, summary.versions), (2, 2));
    // Snapshots, attachments and versions.
    assert_eq!((last.blobs_done, last.blobs_total), (8, 8));
    assert_eq!(last.bytes_done, summary.bytes);
    let backup_files = files_under(&harness.temp.path().join("backup"));
    let manifest: serde_json::Value = serde_json::from_slice(
        &backup_files
            .iter()
            .find(|(path, _)| path == "manifest.json")
            .unwrap()
            .1,
    )
    .unwrap();
    assert_eq!(manifest["format"], "relais-backup");
    assert_eq!(manifest["format_version"], 1);
    // The manifest, 4 document files, 4 snapshot, 2 attachment and 2 version blobs, and one
    // file per directory, chat and version table.
    assert_eq!(
        backup_files.len(),
        1 + 4 + 4 + 2 + 2 + 11 + 6 + 6,
        "{backup_files:?}"
    );
    // Version blobs under the keys the rows name (the document name one segment), byte for
    // byte.
    let mut version_blobs: Vec<&str> = manifest["blobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|blob| blob["key"].as_str().unwrap())
        .filter(|key| key.starts_with("versions/"))
        .collect();
    version_blobs.sort_unstable();
    let mut expected: Vec<String> = versions
        .versions
        .iter()
        .map(|version| {
            Path::from_iter(["versions", versions.documents[0].as_str(), version.as_str()])
                .to_string()
        })
        .collect();
    expected.sort_unstable();
    assert_eq!(version_blobs, expected);
    for (version, state) in versions.versions.iter().zip(&versions.states) {
        let blob = backup_files
            .iter()
            .find(|(path, _)| {
                path.starts_with("blobs/versions/") && path.ends_with(version.as_str())
            })
            .unwrap_or_else(|| panic!("blob of version {version}"));
        assert_eq!(blob.1, state.as_ref());
    }
    for attachment in &chat.attachments {
        let blob = format!("blobs/attachments/{}/{attachment}", chat.conversations[0]);
        let stored = backup_files.iter().find(|(path, _)| *path == blob);
        if attachment == &chat.attachments[1] {
            assert!(stored.is_none(), "deleted with its message");
        } else {
            assert!(stored.is_some(), "{blob}");
        }
    }
    let tables: Vec<&str> = manifest["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|table| table.as_str().unwrap())
        .collect();
    assert_eq!(
        tables,
        [
            "documents",
            "document_updates",
            "document_snapshots",
            "organisations",
            "users",
            "workspaces",
            "workspace_members",
            "document_info",
            "document_members",
            "invitations",
            "sessions",
            "api_tokens",
            "access_epoch",
            "audit_log",
            "conversations",
            "conversation_members",
            "messages",
            "message_mentions",
            "message_reactions",
            "attachments",
            "document_freezes",
            "document_versions",
            "document_reviews",
            "document_publications",
            "document_clients",
            "version_exports"
        ]
    );
    let directory_rows: Vec<(&str, u64)> = manifest["directory"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| {
            (
                entry["table"].as_str().unwrap(),
                entry["rows"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        directory_rows,
        [
            ("organisations", 1),
            ("users", 3),
            ("workspaces", 1),
            ("workspace_members", 2),
            ("document_info", 2),
            ("document_members", 1),
            ("invitations", 2),
            ("sessions", 2),
            ("api_tokens", 2),
            ("access_epoch", 1),
            ("audit_log", 3),
            ("conversations", 4),
            ("conversation_members", 7),
            ("messages", 7),
            ("message_mentions", 1),
            ("message_reactions", 3),
            ("attachments", 2),
            ("document_freezes", 1),
            ("document_versions", 2),
            ("document_reviews", 1),
            ("document_publications", 1),
            ("document_clients", 1),
            ("version_exports", 1)
        ]
    );
    assert_eq!(summary.directory_rows, 20 + 24 + 7);
    // Each row is a JSON object with the columns as fields, values as stored.
    let users = &backup_files
        .iter()
        .find(|(path, _)| path == "directory/users/00000000.jsonl")
        .unwrap()
        .1;
    let users: Vec<serde_json::Value> = users
        .split(|&byte| byte == b'\n')
        .filter(|line| !line.is_empty())
        .map(|line| serde_json::from_slice(line).unwrap())
        .collect();
    // In primary-key order, that is by (random) id.
    let ids: Vec<&str> = users
        .iter()
        .map(|user| user["id"].as_str().unwrap())
        .collect();
    assert!(ids.is_sorted(), "{ids:?}");
    let user = |email: &str| users.iter().find(|user| user["email"] == email).unwrap();
    assert_eq!(user("anne@example.org")["is_admin"], true);
    assert!(user("anne@example.org")["organisation_id"].is_string());
    assert_eq!(user("bob@partner.example")["is_admin"], false);
    assert_eq!(
        user("bob@partner.example")["organisation_id"],
        serde_json::Value::Null
    );
    assert_eq!(user("bob@partner.example")["oidc_subject"], "bob-subject");
    assert!(user("carol@example.org")["disabled_at_ms"].is_i64());
    assert_eq!(
        user("anne@example.org")["disabled_at_ms"],
        serde_json::Value::Null
    );
    // Messages by conversation then seq, without the columns the database derives.
    let messages = &backup_files
        .iter()
        .find(|(path, _)| path == "directory/messages/00000000.jsonl")
        .unwrap()
        .1;
    let messages: Vec<serde_json::Value> = messages
        .split(|&byte| byte == b'\n')
        .filter(|line| !line.is_empty())
        .map(|line| serde_json::from_slice(line).unwrap())
        .collect();
    let keys: Vec<(&str, i64)> = messages
        .iter()
        .map(|message| {
            (
                message["conversation_id"].as_str().unwrap(),
                message["seq"].as_i64().unwrap(),
            )
        })
        .collect();
    assert!(keys.is_sorted(), "{keys:?}");
    for message in &messages {
        let object = message.as_object().unwrap();
        assert!(!object.contains_key("row_id") && !object.contains_key("search"));
    }
    let deleted = messages
        .iter()
        .find(|message| message["deleted_at_ms"].is_i64())
        .unwrap();
    assert_eq!(deleted["body"], "");
    let directory_files = |files: &[(String, Vec<u8>)]| -> Vec<(String, Vec<u8>)> {
        files
            .iter()
            .filter(|(path, _)| path.starts_with("directory/"))
            .cloned()
            .collect()
    };

    // Into a fresh store of the same backend, and of the other one.
    for target_backend in [harness.backend, other(harness.backend)] {
        let target = Harness::new(target_backend).await;
        let restored = Admin::open(&target.config(), Migrations::Create)
            .await
            .unwrap();
        let restore_summary = restored.restore(&url, &|_| {}).await.unwrap();
        assert_eq!(restore_summary.documents, 4);
        assert_eq!(restore_summary.directory_rows, 20 + 24 + 7);
        assert_eq!(
            (restore_summary.attachments, restore_summary.versions),
            (2, 2)
        );
        assert_eq!(restore_summary.bytes, summary.bytes);
        assert_eq!(restored.list_documents().await.unwrap(), documents);
        // The directory, value for value: the same answers from the API, and an audit chain
        // that still verifies.
        assert_eq!(
            directory_facts(restored.directory()).await,
            facts,
            "directory restored from {:?} into {target_backend:?}",
            harness.backend
        );
        assert_eq!(restored.directory().verify_audit().await.unwrap(), audit);
        // Chat too: the same answers, attachments byte for byte.
        assert_eq!(
            chat_facts(restored.directory(), restored.chat(), &chat).await,
            source_chat_facts,
            "chat restored from {:?} into {target_backend:?}",
            harness.backend
        );
        // And the version history: the same versions, states, reviews, publication, clients
        // and exports.
        assert_eq!(
            version_facts(restored.versions(), &versions).await,
            source_version_facts,
            "versions restored from {:?} into {target_backend:?}",
            harness.backend
        );
        // Every row and column, through the other backend too: backing the restored store up
        // gives the same directory files, byte for byte.
        let directory_again = target.backup_url("directory-again");
        restored.backup(&directory_again, &|_| {}).await.unwrap();
        assert_eq!(
            directory_files(&files_under(&target.temp.path().join("directory-again"))),
            directory_files(&backup_files),
            "directory restored from {:?} into {target_backend:?}",
            harness.backend
        );
        for document in &documents {
            assert_eq!(
                restored.store().load(document).await.unwrap(),
                store.load(document).await.unwrap(),
                "{document} restored from {:?} into {target_backend:?}",
                harness.backend
            );
        }
        if target_backend == harness.backend {
            // Same backend: backing the restored store up again gives the same rows and blobs,
            // timestamps included.
            let again = target.backup_url("again");
            restored.backup(&again, &|_| {}).await.unwrap();
            let strip = |files: Vec<(String, Vec<u8>)>| -> Vec<(String, Vec<u8>)> {
                files
                    .into_iter()
                    .filter(|(path, _)| path != "manifest.json")
                    .collect()
            };
            assert_eq!(
                strip(files_under(&target.temp.path().join("again"))),
                strip(backup_files.clone())
            );
        }
        // Search finds restored messages, and conversations go on where they stopped.
        check_restored_chat(restored.chat(), &chat).await;
        // The sealed version is still sealed and immutable; the history goes on.
        check_restored_versions(&target, &restored, &versions).await;
        // The restored journal goes on where it stopped, and so does the restored log.
        let next = restored
            .directory()
            .append_audit(NewAuditEntry {
                actor: None,
                action: "test.after_restore".into(),
                workspace: None,
                target: None,
                details: serde_json::json!({}),
            })
            .await
            .unwrap();
        assert_eq!(next.seq, 4);
        assert_eq!(
            restored.directory().verify_audit().await.unwrap(),
            AuditVerification {
                entries: 4,
                first_broken: None
            }
        );
        assert_eq!(
            restored
                .store()
                .append_updates(&documents[0], &[bytes("next")])
                .await
                .unwrap()
                .first,
            store.load(&documents[0]).await.unwrap().last_seq.next()
        );
        restored.close().await;
        target.cleanup().await;
    }
    source.close().await;
    store.close().await;
}

fn other(backend: Backend) -> Backend {
    match backend {
        Backend::Sqlite => Backend::Postgres,
        Backend::Postgres => Backend::Sqlite,
    }
}

async fn restore_refuses_non_empty_targets_and_damaged_backups(harness: Arc<Harness>) {
    let store = harness.open().await;
    fill(store.as_ref()).await;
    let source = Admin::open(&harness.config(), Migrations::Require)
        .await
        .unwrap();
    fill_directory(source.directory()).await;
    fill_chat(source.directory(), source.chat()).await;
    let versions = fill_versions(source.versions()).await;
    let url = harness.backup_url("backup");
    source.backup(&url, &|_| {}).await.unwrap();

    // A backup never goes into a location that holds something.
    let error = source.backup(&url, &|_| {}).await.unwrap_err();
    assert!(
        matches!(error, BackupError::LocationNotEmpty(_)),
        "{error:?}"
    );
    // A restore never goes into a store that holds something: documents...
    let error = source.restore(&url, &|_| {}).await.unwrap_err();
    assert!(
        matches!(&error, BackupError::TargetNotEmpty(what) if what.contains("4 documents")),
        "{error:?}"
    );

    // ... or only objects.
    let target = Harness::new(harness.backend).await;
    let restored = Admin::open(&target.config(), Migrations::Create)
        .await
        .unwrap();
    std::fs::write(target.objects_dir().join("stray"), b"x").unwrap();
    let error = restored.restore(&url, &|_| {}).await.unwrap_err();
    assert!(
        matches!(&error, BackupError::TargetNotEmpty(what) if what.contains("stray")),
        "{error:?}"
    );
    std::fs::remove_file(target.objects_dir().join("stray")).unwrap();
    // ... or only a row of the version history.
    restored
        .versions()
        .record_clients(&id("notes"), &[(1, "anne".into())], VERSION_AT_MS)
        .await
        .unwrap();
    let error = restored.restore(&url, &|_| {}).await.unwrap_err();
    assert!(
        matches!(&error, BackupError::TargetNotEmpty(what) if what.contains("1 in document_clients")),
        "{error:?}"
    );
    execute_raw(
        &target,
        "DELETE FROM document_clients WHERE document_id = $1",
        "notes",
    )
    .await
    .unwrap();
    assert_eq!(restored.contents().await.unwrap(), None);

    // ... or only directory and chat rows.
    let other_target = Harness::new(harness.backend).await;
    let accounts_only = Admin::open(&other_target.config(), Migrations::Create)
        .await
        .unwrap();
    fill_directory(accounts_only.directory()).await;
    let error = accounts_only.restore(&url, &|_| {}).await.unwrap_err();
    assert!(
        matches!(&error, BackupError::TargetNotEmpty(what) if what.contains("3 in users") && what.contains("3 in audit_log")),
        "{error:?}"
    );
    accounts_only
        .chat()
        .create_conversation(NewConversation::Channel {
            workspace: accounts_only.directory().list_workspaces().await.unwrap()[0]
                .id
                .clone(),
            name: "général".into(),
            private: false,
            created_by: accounts_only.directory().list_users(None).await.unwrap()[0]
                .id
                .clone(),
        })
        .await
        .unwrap();
    let error = accounts_only.restore(&url, &|_| {}).await.unwrap_err();
    assert!(
        matches!(&error, BackupError::TargetNotEmpty(what) if what.contains("1 in conversations")),
        "{error:?}"
    );
    accounts_only.close().await;
    other_target.cleanup().await;

    // Not a backup, or an unfinished one.
    let error = restored
        .restore(&harness.backup_url("nothing-here"), &|_| {})
        .await
        .unwrap_err();
    assert!(
        matches!(&error, BackupError::Invalid(why) if why.contains("manifest.json")),
        "{error:?}"
    );

    // A damaged document file or a missing blob is found before anything is written.
    let backup_dir = harness.temp.path().join("backup");
    let document_file = backup_dir.join("documents/00000000.json");
    let original = std::fs::read(&document_file).unwrap();
    let mut damaged = original.clone();
    damaged[10] ^= 1;
    std::fs::write(&document_file, &damaged).unwrap();
    let error = restored.restore(&url, &|_| {}).await.unwrap_err();
    assert!(matches!(error, BackupError::Invalid(_)), "{error:?}");
    assert_eq!(restored.contents().await.unwrap(), None);
    std::fs::write(&document_file, &original).unwrap();
    // So is a damaged directory file, even one restored before any document...
    let users_file = backup_dir.join("directory/users/00000000.jsonl");
    let original = std::fs::read(&users_file).unwrap();
    let mut damaged = original.clone();
    damaged[10] ^= 1;
    std::fs::write(&users_file, &damaged).unwrap();
    let error = restored.restore(&url, &|_| {}).await.unwrap_err();
    assert!(
        matches!(&error, BackupError::Invalid(why) if why.contains("directory/users/00000000.jsonl")),
        "{error:?}"
    );
    assert_eq!(restored.contents().await.unwrap(), None);
    std::fs::write(&users_file, &original).unwrap();
    // ... and a manifest whose tables and directory files disagree.
    let manifest_file = backup_dir.join("manifest.json");
    let original = std::fs::read(&manifest_file).unwrap();
    let mut manifest: serde_json::Value = serde_json::from_slice(&original).unwrap();
    manifest["directory"].as_array_mut().unwrap().remove(1);
    std::fs::write(&manifest_file, serde_json::to_vec(&manifest).unwrap()).unwrap();
    let error = restored.restore(&url, &|_| {}).await.unwrap_err();
    assert!(
        matches!(&error, BackupError::Invalid(why) if why.contains("directory files")),
        "{error:?}"
    );
    std::fs::write(&manifest_file, &original).unwrap();
    assert_eq!(restored.contents().await.unwrap(), None);
    // A version row naming a blob other than its own (here the other version's, which the
    // backup holds), in a file whose checksum was made to match, is refused before anything
    // is written.
    let versions_file = backup_dir.join("directory/document_versions/00000000.jsonl");
    let original_versions = std::fs::read(&versions_file).unwrap();
    let original_manifest = std::fs::read(&manifest_file).unwrap();
    let keys: Vec<String> = original_versions
        .split(|&byte| byte == b'\n')
        .filter(|line| !line.is_empty())
        .map(|line| {
            let row: serde_json::Value = serde_json::from_slice(line).unwrap();
            row["object_key"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(keys.len(), versions.versions.len());
    let swapped = String::from_utf8(original_versions.clone())
        .unwrap()
        .replacen(&keys[0], &keys[1], 1);
    std::fs::write(&versions_file, &swapped).unwrap();
    let mut manifest: serde_json::Value = serde_json::from_slice(&original_manifest).unwrap();
    for entry in manifest["directory"].as_array_mut().unwrap() {
        if entry["table"] == "document_versions" {
            entry["files"][0]["sha256"] = sha256_hex(swapped.as_bytes()).into();
            entry["files"][0]["len"] = swapped.len().into();
        }
    }
    std::fs::write(&manifest_file, serde_json::to_vec(&manifest).unwrap()).unwrap();
    let error = restored.restore(&url, &|_| {}).await.unwrap_err();
    assert!(
        matches!(&error, BackupError::Invalid(why) if why.contains("document_versions") && why.contains("versions/{document_id}/{id}")),
        "{error:?}"
    );
    assert_eq!(restored.contents().await.unwrap(), None);
    std::fs::write(&versions_file, &original_versions).unwrap();
    std::fs::write(&manifest_file, &original_manifest).unwrap();
    // A missing blob, an attachment's, a version's or a snapshot's, is found before anything
    // is written.
    for prefix in ["blobs/attachments/", "blobs/versions/", "blobs/documents/"] {
        let (blob, original) = files_under(&backup_dir)
            .into_iter()
            .find(|(path, _)| path.starts_with(prefix))
            .unwrap();
        std::fs::remove_file(backup_dir.join(&blob)).unwrap();
        let error = restored.restore(&url, &|_| {}).await.unwrap_err();
        assert!(
            matches!(&error, BackupError::Invalid(why) if why.contains("missing") && why.contains(prefix)),
            "{error:?}"
        );
        assert_eq!(restored.contents().await.unwrap(), None);
        std::fs::write(backup_dir.join(&blob), original).unwrap();
    }
    restored.restore(&url, &|_| {}).await.unwrap();

    restored.close().await;
    target.cleanup().await;
    source.close().await;
    store.close().await;
}

/// A backup taken while a writer appends and compacts is one consistent point of the log:
/// every restored document loads (no gap, no missing blob).
async fn backup_while_appending_is_consistent(harness: Arc<Harness>) {
    let store = harness.open().await;
    let busy = id("busy");
    store
        .append_updates(&busy, &[bytes("first")])
        .await
        .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let store = Arc::clone(&store);
        let stop = Arc::clone(&stop);
        let busy = busy.clone();
        tokio::spawn(async move {
            let mut rounds = 0u64;
            while !stop.load(Ordering::Relaxed) || rounds < 20 {
                let range = store
                    .append_updates(&busy, &[bytes("x"), bytes("y")])
                    .await
                    .unwrap();
                if rounds.is_multiple_of(3) {
                    store
                        .write_snapshot(&busy, range.last, bytes(&format!("upto {}", range.last)))
                        .await
                        .unwrap();
                }
                rounds += 1;
            }
        })
    };
    let source = Admin::open(&harness.config(), Migrations::Require)
        .await
        .unwrap();
    let mut urls = Vec::new();
    for attempt in 0..3 {
        let url = harness.backup_url(&format!("backup-{attempt}"));
        source.backup(&url, &|_| {}).await.unwrap();
        urls.push(url);
    }
    stop.store(true, Ordering::Relaxed);
    writer.await.unwrap();
    let final_seq = store.load(&busy).await.unwrap().last_seq;
    for url in urls {
        let target = Harness::new(harness.backend).await;
        let restored = Admin::open(&target.config(), Migrations::Create)
            .await
            .unwrap();
        restored.restore(&url, &|_| {}).await.unwrap();
        let loaded = restored.store().load(&busy).await.unwrap();
        assert!(loaded.last_seq >= Seq(1) && loaded.last_seq <= final_seq);
        restored.close().await;
        target.cleanup().await;
    }
    source.close().await;
    store.close().await;
}

/// A backup written before the directory was backed up (no `directory` in the manifest, no
/// directory table in `tables`) restores its documents, with an empty directory.
async fn backup_without_a_directory_still_restores(harness: Arc<Harness>) {
    let store = harness.open().await;
    let documents = fill(store.as_ref()).await;
    let source = Admin::open(&harness.config(), Migrations::Require)
        .await
        .unwrap();
    fill_directory(source.directory()).await;
    let url = harness.backup_url("backup");
    source.backup(&url, &|_| {}).await.unwrap();

    // Make it the backup an older relais wrote: its manifest had exactly these fields.
    let backup_dir = harness.temp.path().join("backup");
    std::fs::remove_dir_all(backup_dir.join("directory")).unwrap();
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(backup_dir.join("manifest.json")).unwrap()).unwrap();
    let directory_bytes: u64 = manifest["directory"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|entry| entry["files"].as_array().unwrap())
        .map(|file| file["len"].as_u64().unwrap())
        .sum();
    let old = serde_json::json!({
        "format": "relais-backup",
        "format_version": 1,
        "relais_version": "0.1.0",
        "source_backend": manifest["source_backend"],
        "schema_version": 1,
        "as_of": manifest["as_of"],
        "tables": ["documents", "document_updates", "document_snapshots"],
        "counts": {
            "documents": manifest["counts"]["documents"],
            "document_updates": manifest["counts"]["document_updates"],
            "document_snapshots": manifest["counts"]["document_snapshots"],
            "bytes": manifest["counts"]["bytes"].as_u64().unwrap() - directory_bytes,
        },
        "documents": manifest["documents"],
        "blobs": manifest["blobs"],
    });
    std::fs::write(
        backup_dir.join("manifest.json"),
        serde_json::to_vec_pretty(&old).unwrap(),
    )
    .unwrap();

    let target = Harness::new(other(harness.backend)).await;
    let restored = Admin::open(&target.config(), Migrations::Create)
        .await
        .unwrap();
    let summary = restored.restore(&url, &|_| {}).await.unwrap();
    assert_eq!((summary.documents, summary.directory_rows), (4, 0));
    assert_eq!(restored.list_documents().await.unwrap(), documents);
    for document in &documents {
        assert_eq!(
            restored.store().load(document).await.unwrap(),
            store.load(document).await.unwrap()
        );
    }
    let directory = restored.directory();
    assert_eq!(directory.user_count().await.unwrap(), 0);
    assert!(directory.list_organisations().await.unwrap().is_empty());
    assert_eq!(directory.access_epoch().await.unwrap(), 0);
    assert_eq!(
        directory.verify_audit().await.unwrap(),
        AuditVerification {
            entries: 0,
            first_broken: None
        }
    );
    restored.close().await;
    target.cleanup().await;
    source.close().await;
    store.close().await;
}

const CHAT_TABLES: [&str; 6] = [
    "conversations",
    "conversation_members",
    "messages",
    "message_mentions",
    "message_reactions",
    "attachments",
];

const VERSION_TABLES: [&str; 6] = [
    "document_freezes",
    "document_versions",
    "document_reviews",
    "document_publications",
    "document_clients",
    "version_exports",
];

/// Makes the backup in `backup_dir` one written by a relais that did not back up `tables`
/// (directory tables) nor the blobs under `blob_prefix`: their files and blobs go, and so do
/// their entries in the manifest and their bytes from its count.
fn strip_tables(backup_dir: &FsPath, tables: &[&str], blob_prefix: &str) {
    let mut manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(backup_dir.join("manifest.json")).unwrap()).unwrap();
    let mut removed_bytes = 0;
    for table in tables {
        let files = backup_dir.join("directory").join(table);
        if files.exists() {
            std::fs::remove_dir_all(files).unwrap();
        }
    }
    let blobs = backup_dir.join("blobs").join(blob_prefix);
    if blobs.exists() {
        std::fs::remove_dir_all(blobs).unwrap();
    }
    manifest["tables"]
        .as_array_mut()
        .unwrap()
        .retain(|table| !tables.contains(&table.as_str().unwrap()));
    manifest["directory"]
        .as_array_mut()
        .unwrap()
        .retain(|entry| {
            let stripped = tables.contains(&entry["table"].as_str().unwrap());
            if stripped {
                for file in entry["files"].as_array().unwrap() {
                    removed_bytes += file["len"].as_u64().unwrap();
                }
            }
            !stripped
        });
    manifest["blobs"].as_array_mut().unwrap().retain(|blob| {
        let stripped = blob["key"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{blob_prefix}/"));
        if stripped {
            removed_bytes += blob["len"].as_u64().unwrap();
        }
        !stripped
    });
    manifest["counts"]["bytes"] =
        (manifest["counts"]["bytes"].as_u64().unwrap() - removed_bytes).into();
    std::fs::write(
        backup_dir.join("manifest.json"),
        serde_json::to_vec_pretty(&manifest).unwrap(),
    )
    .unwrap();
}

/// Backs `source` up, makes the backup one an older relais wrote by stripping each
/// (tables, blob prefix) of `left_out` ([`strip_tables`]), and restores it into a fresh store
/// of the other backend.
async fn restore_older_backup(
    harness: &Harness,
    source: &Admin,
    left_out: &[(&[&str], &str)],
) -> (Harness, Admin, BackupSummary) {
    let url = harness.backup_url("backup");
    source.backup(&url, &|_| {}).await.unwrap();
    let backup_dir = harness.temp.path().join("backup");
    for (tables, blob_prefix) in left_out {
        strip_tables(&backup_dir, tables, blob_prefix);
    }
    let target = Harness::new(other(harness.backend)).await;
    let restored = Admin::open(&target.config(), Migrations::Create)
        .await
        .unwrap();
    let summary = restored.restore(&url, &|_| {}).await.unwrap();
    (target, restored, summary)
}

/// A backup written before chat was backed up (directory files, but no chat or version table
/// in `tables` and `directory`, no attachment or version blob) restores its documents and
/// directory, with no chat.
async fn backup_without_chat_still_restores(harness: Arc<Harness>) {
    let store = harness.open().await;
    let documents = fill(store.as_ref()).await;
    let source = Admin::open(&harness.config(), Migrations::Require)
        .await
        .unwrap();
    fill_directory(source.directory()).await;
    let facts = directory_facts(source.directory()).await;
    let chat = fill_chat(source.directory(), source.chat()).await;
    // As the relais before chat wrote it (it had no version tables either).
    let (target, restored, summary) = restore_older_backup(
        &harness,
        &source,
        &[(&VERSION_TABLES, "versions"), (&CHAT_TABLES, "attachments")],
    )
    .await;
    assert_eq!(
        (
            summary.documents,
            summary.directory_rows,
            summary.attachments
        ),
        (4, 20, 0)
    );
    assert_eq!(restored.list_documents().await.unwrap(), documents);
    assert_eq!(directory_facts(restored.directory()).await, facts);
    let workspace = restored.directory().list_workspaces().await.unwrap()[0]
        .id
        .clone();
    assert!(
        restored
            .chat()
            .workspace_channels(&workspace)
            .await
            .unwrap()
            .is_empty()
    );
    for conversation in &chat.conversations {
        assert_eq!(
            restored.chat().conversation(conversation).await.unwrap(),
            None
        );
    }
    target.assert_no_blob_under("attachments");
    // Chat starts afresh.
    let general = restored
        .chat()
        .create_conversation(NewConversation::Channel {
            workspace,
            name: "général".into(),
            private: false,
            created_by: chat.users[0].clone(),
        })
        .await
        .unwrap();
    let posted = restored
        .chat()
        .post_message(chat_message(&general.id, &chat.users[0], "Bonjour"))
        .await
        .unwrap();
    assert_eq!(posted.message.seq, 1);
    restored.close().await;
    target.cleanup().await;
    source.close().await;
    store.close().await;
}

/// A backup written before versions were backed up (chat, but no version table in `tables`
/// and `directory`, no version blob) restores its documents, directory and chat, with an
/// empty version history that starts again at number 1.
async fn backup_without_versions_still_restores(harness: Arc<Harness>) {
    let store = harness.open().await;
    let documents = fill(store.as_ref()).await;
    let source = Admin::open(&harness.config(), Migrations::Require)
        .await
        .unwrap();
    let versions = fill_versions(source.versions()).await;
    fill_directory(source.directory()).await;
    let facts = directory_facts(source.directory()).await;
    let chat = fill_chat(source.directory(), source.chat()).await;
    let source_chat_facts = chat_facts(source.directory(), source.chat(), &chat).await;
    // As the relais before versions wrote it.
    let (target, restored, summary) =
        restore_older_backup(&harness, &source, &[(&VERSION_TABLES, "versions")]).await;
    assert_eq!(
        (
            summary.documents,
            summary.directory_rows,
            summary.attachments,
            summary.versions
        ),
        (4, 20 + 24, 2, 0)
    );
    assert_eq!(restored.list_documents().await.unwrap(), documents);
    assert_eq!(directory_facts(restored.directory()).await, facts);
    assert_eq!(
        chat_facts(restored.directory(), restored.chat(), &chat).await,
        source_chat_facts
    );
    for document in &versions.documents {
        let history = restored.versions();
        assert!(
            history
                .list_versions(document, None, 100)
                .await
                .unwrap()
                .is_empty()
        );
        assert!(history.reviews(document).await.unwrap().is_empty());
        assert_eq!(history.publication(document).await.unwrap(), None);
        assert!(!history.is_frozen(document).await.unwrap());
    }
    for version in &versions.versions {
        assert_eq!(
            restored.versions().version_by_id(version).await.unwrap(),
            None
        );
    }
    target.assert_no_blob_under("versions");
    // The history starts afresh.
    let first = restored
        .versions()
        .create_version(version_to_record(
            &versions.documents[0],
            VersionKind::Named,
            2,
            bytes("first again"),
            VERSION_AT_MS,
        ))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first.number, 1);
    restored.close().await;
    target.cleanup().await;
    source.close().await;
    store.close().await;
}

/// Backs `source` up to `url` while another process (its own [`Admin`] on the same store)
/// runs `meanwhile` once the backup's read transaction has begun: at its first progress
/// report. It runs on its own thread and runtime, since the report blocks the backup's thread
/// until `meanwhile` is done.
async fn back_up_while<F, Fut>(
    harness: &Harness,
    source: &Admin,
    url: &str,
    meanwhile: F,
) -> BackupSummary
where
    F: FnOnce(Arc<Admin>) -> Fut + Send + 'static,
    Fut: Future<Output = ()>,
{
    let (start, started) = std::sync::mpsc::channel::<()>();
    let (finished, done) = std::sync::mpsc::channel::<()>();
    let other_process = {
        let config = harness.config();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                let other = Arc::new(Admin::open(&config, Migrations::Require).await.unwrap());
                started.recv().unwrap();
                meanwhile(Arc::clone(&other)).await;
                other.close().await;
            });
            finished.send(()).unwrap();
        })
    };
    let done = std::sync::Mutex::new(done);
    let once = std::sync::Once::new();
    let progress = |_: &Progress| {
        once.call_once(|| {
            start.send(()).unwrap();
            done.lock().unwrap().recv().unwrap();
        });
    };
    let summary = source.backup(url, &progress).await.unwrap();
    other_process.join().unwrap();
    summary
}

/// A message deleted while a backup runs takes its attachment's blob with it: the backup,
/// whose rows still show the attachment, leaves it out instead of failing, and restores.
async fn attachments_deleted_during_a_backup_are_left_out(harness: Arc<Harness>) {
    let store = harness.open().await;
    let source = Admin::open(&harness.config(), Migrations::Require)
        .await
        .unwrap();
    fill_directory(source.directory()).await;
    let chat = fill_chat(source.directory(), source.chat()).await;
    let general = chat.conversations[0].clone();

    // Another process deletes the message with the minutes (seq 2).
    let url = harness.backup_url("backup");
    let summary = back_up_while(&harness, &source, &url, {
        let general = general.clone();
        |other: Arc<Admin>| async move {
            other
                .chat()
                .delete_message(&general, 2)
                .await
                .unwrap()
                .unwrap();
        }
    })
    .await;
    assert_eq!(summary.attachments, 1, "only the attachment never posted");
    assert_eq!(
        source
            .chat()
            .attachment(&chat.attachments[0])
            .await
            .unwrap(),
        None
    );

    let target = Harness::new(harness.backend).await;
    let restored = Admin::open(&target.config(), Migrations::Create)
        .await
        .unwrap();
    let restored_summary = restored.restore(&url, &|_| {}).await.unwrap();
    assert_eq!(restored_summary.attachments, 1);
    // The message as the read transaction saw it, without the attachment deleted since.
    let message = restored.chat().message(&general, 2).await.unwrap().unwrap();
    assert_eq!(
        (message.body.as_str(), message.attachments.len()),
        ("Voici le compte rendu", 0)
    );
    assert_eq!(
        restored
            .chat()
            .attachment(&chat.attachments[0])
            .await
            .unwrap(),
        None
    );
    let unposted = restored
        .chat()
        .attachment(&chat.attachments[2])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        restored.chat().attachment_bytes(&unposted).await.unwrap(),
        chat.blobs[1]
    );
    restored.close().await;
    target.cleanup().await;
    source.close().await;
    store.close().await;
}

/// Retention deleting an automatic version while a backup runs takes its blob with it: the
/// backup, whose rows still show the version, leaves it out instead of failing, and restores
/// the rest of the history.
async fn versions_deleted_during_a_backup_are_left_out(harness: Arc<Harness>) {
    const DAY_MS: i64 = 24 * 3_600_000;
    let store = harness.open().await;
    let documents = fill(store.as_ref()).await;
    let source = Admin::open(&harness.config(), Migrations::Require)
        .await
        .unwrap();
    let versions = fill_versions(source.versions()).await;
    // Two automatic versions on one day 40 days ago, and a newer one: retention keeps the
    // newest of that day, and always the document's newest version.
    let document = id("snapshot-and-tail");
    let now_ms = VERSION_AT_MS + 100 * DAY_MS;
    let day_start = (now_ms - 40 * DAY_MS).div_euclid(DAY_MS) * DAY_MS;
    let mut automatic = Vec::new();
    for (upto_seq, at_ms) in [
        (1, day_start + 3_600_000),
        (2, day_start + 5 * 3_600_000),
        (3, now_ms),
    ] {
        let version = source
            .versions()
            .create_version(version_to_record(
                &document,
                VersionKind::Auto,
                upto_seq,
                bytes(&format!("automatic {upto_seq}")),
                at_ms,
            ))
            .await
            .unwrap()
            .unwrap();
        automatic.push(version);
    }

    // Another process applies retention.
    let url = harness.backup_url("backup");
    let summary = back_up_while(
        &harness,
        &source,
        &url,
        move |other: Arc<Admin>| async move {
            let deleted = other
                .versions()
                .apply_retention(RetentionPolicy::default(), now_ms)
                .await
                .unwrap();
            assert_eq!(deleted, 1);
        },
    )
    .await;
    assert_eq!(
        summary.versions,
        2 + 2,
        "all but the version retention deleted"
    );
    assert_eq!(
        source
            .versions()
            .version_by_id(&automatic[0].id)
            .await
            .unwrap(),
        None
    );
    let source_version_facts = version_facts(source.versions(), &versions).await;

    let target = Harness::new(harness.backend).await;
    let restored = Admin::open(&target.config(), Migrations::Create)
        .await
        .unwrap();
    let restored_summary = restored.restore(&url, &|_| {}).await.unwrap();
    assert_eq!(restored_summary.versions, 4);
    assert_eq!(restored.list_documents().await.unwrap(), documents);
    let listed = restored
        .versions()
        .list_versions(&document, None, 100)
        .await
        .unwrap();
    assert_eq!(listed, [automatic[2].clone(), automatic[1].clone()]);
    for version in &listed {
        assert_eq!(
            restored.versions().version_state(version).await.unwrap(),
            bytes(&format!("automatic {}", version.upto_seq))
        );
    }
    assert_eq!(
        version_facts(restored.versions(), &versions).await,
        source_version_facts
    );
    check_restored_versions(&target, &restored, &versions).await;
    restored.close().await;
    target.cleanup().await;
    source.close().await;
    store.close().await;
}

/// Entries of a valid chain, `count` of them, written straight into `audit_log` (many times
/// faster than appending them one by one).
async fn insert_audit_chain(harness: &Harness, count: i64) {
    let mut entries = Vec::new();
    let mut previous = AUDIT_GENESIS.to_owned();
    for seq in 1..=count {
        let mut entry = AuditEntry {
            seq,
            at_ms: 1_772_532_000_000 + seq,
            actor: (seq % 3 != 0).then(|| format!("user:{seq}")),
            action: "document.opened".into(),
            workspace: None,
            target: Some(format!("document:d{seq}")),
            details: format!("{{\"n\":{seq},\"text\":\"é\\n\"}}"),
            prev_sha256: previous.clone(),
            sha256: String::new(),
        };
        entry.sha256 = audit_hash(&entry);
        previous = entry.sha256.clone();
        entries.push(entry);
    }
    macro_rules! insert {
        ($database:ty, $connection:expr) => {
            let mut connection = $connection;
            let mut transaction = sqlx::Connection::begin(&mut connection).await.unwrap();
            for chunk in entries.chunks(500) {
                let mut insert = sqlx::QueryBuilder::<$database>::new(
                    "INSERT INTO audit_log
                         (seq, at_ms, actor, action, workspace_id, target, details, prev_sha256, sha256) ",
                );
                insert.push_values(chunk, |mut row, entry| {
                    row.push_bind(entry.seq)
                        .push_bind(entry.at_ms)
                        .push_bind(entry.actor.clone())
                        .push_bind(entry.action.clone())
                        .push_bind(None::<String>)
                        .push_bind(entry.target.clone())
                        .push_bind(entry.details.clone())
                        .push_bind(entry.prev_sha256.clone())
                        .push_bind(entry.sha256.clone());
                });
                insert.build().execute(&mut *transaction).await.unwrap();
            }
            transaction.commit().await.unwrap();
            connection.close().await.unwrap();
        };
    }
    match harness.backend {
        Backend::Sqlite => {
            insert!(
                sqlx::Sqlite,
                sqlx::SqliteConnection::connect(&harness.database_url)
                    .await
                    .unwrap()
            );
        }
        Backend::Postgres => {
            insert!(
                sqlx::Postgres,
                PgConnection::connect(&harness.database_url).await.unwrap()
            );
        }
    }
}

/// A journal of more than 10,000 entries is written as several files, restored in order into
/// either backend, and still verifies.
async fn large_directory_tables_span_several_files(harness: Arc<Harness>) {
    let store = harness.open().await;
    insert_audit_chain(&harness, 10_050).await;
    let source = Admin::open(&harness.config(), Migrations::Require)
        .await
        .unwrap();
    let verified = source.directory().verify_audit().await.unwrap();
    assert_eq!(
        verified,
        AuditVerification {
            entries: 10_050,
            first_broken: None
        }
    );
    let url = harness.backup_url("backup");
    let summary = source.backup(&url, &|_| {}).await.unwrap();
    assert_eq!(summary.directory_rows, 10_051);
    let manifest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(harness.temp.path().join("backup/manifest.json")).unwrap(),
    )
    .unwrap();
    let audit_log = manifest["directory"]
        .as_array()
        .unwrap()
        .iter()
        .find(|entry| entry["table"] == "audit_log")
        .unwrap();
    let files: Vec<(&str, u64)> = audit_log["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|file| {
            (
                file["file"].as_str().unwrap(),
                file["rows"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        files,
        [
            ("directory/audit_log/00000000.jsonl", 10_000),
            ("directory/audit_log/00000001.jsonl", 50)
        ]
    );

    let target = Harness::new(other(harness.backend)).await;
    let restored = Admin::open(&target.config(), Migrations::Create)
        .await
        .unwrap();
    restored.restore(&url, &|_| {}).await.unwrap();
    assert_eq!(restored.directory().verify_audit().await.unwrap(), verified);
    let page = AuditFilter {
        after_seq: 9_990,
        limit: 20,
        ..AuditFilter::default()
    };
    assert_eq!(
        restored.directory().audit_entries(&page).await.unwrap(),
        source.directory().audit_entries(&page).await.unwrap()
    );
    restored.close().await;
    target.cleanup().await;
    source.close().await;
    store.close().await;
}

async fn admin_commands_require_a_current_schema(harness: Arc<Harness>) {
    // Nothing exists yet: a SQLite file is not created, a Postgres schema is not migrated.
    let error = Admin::open(&harness.config(), Migrations::Require)
        .await
        .unwrap_err();
    match harness.backend {
        Backend::Sqlite => {
            assert!(
                matches!(&error, StoreError::Config(why) if why.contains("does not exist")),
                "{error:?}"
            );
            assert!(
                relais_storage::check_database(&harness.database_url)
                    .await
                    .is_err()
            );
            assert!(!harness.temp.path().join("db/relais.db").exists());
        }
        Backend::Postgres => {
            assert!(
                matches!(
                    error,
                    StoreError::Schema(SchemaStatus::Behind { applied: 0, .. })
                ),
                "{error:?}"
            );
            let check = relais_storage::check_database(&harness.database_url)
                .await
                .unwrap();
            assert!(
                matches!(check.schema, SchemaStatus::Behind { .. }),
                "{check:?}"
            );
            // Still nothing migrated.
            assert!(
                Admin::open(&harness.config(), Migrations::Require)
                    .await
                    .is_err()
            );
        }
    }

    let store = harness.open().await;
    let admin = Admin::open(&harness.config(), Migrations::Require)
        .await
        .unwrap();
    assert_eq!(admin.backend_name(), store.backend_name());
    assert!(admin.list_documents().await.unwrap().is_empty());
    assert_eq!(admin.contents().await.unwrap(), None);
    let check = relais_storage::check_database(&harness.database_url)
        .await
        .unwrap();
    assert!(check.schema.is_current(), "{check:?}");
    assert!(check.clock_offset_ms.abs() < 2_000, "{check:?}");
    relais_storage::check_object_store(&harness.config().object_store_url)
        .await
        .unwrap();
    assert!(harness.blob_files().is_empty(), "the probe must be deleted");
    admin.close().await;

    // A migration from a newer build: nothing opens it for maintenance, not even to restore.
    let future = "INSERT INTO _sqlx_migrations
                      (version, description, success, checksum, execution_time)
                  VALUES (9999, 'from the future', true, X'00', 0)";
    match harness.backend {
        Backend::Sqlite => {
            let mut connection = sqlx::SqliteConnection::connect(&harness.database_url)
                .await
                .unwrap();
            sqlx::query(future).execute(&mut connection).await.unwrap();
            connection.close().await.unwrap();
        }
        Backend::Postgres => {
            let mut connection = PgConnection::connect(&harness.database_url).await.unwrap();
            sqlx::query(AssertSqlSafe(future.replace("X'00'", "'\\x00'")))
                .execute(&mut connection)
                .await
                .unwrap();
            connection.close().await.unwrap();
        }
    }
    for migrations in [Migrations::Require, Migrations::Create] {
        let error = Admin::open(&harness.config(), migrations)
            .await
            .unwrap_err();
        assert!(
            matches!(&error, StoreError::Schema(SchemaStatus::Incompatible(why)) if why.contains("9999")),
            "{migrations:?}: {error:?}"
        );
    }
    store.close().await;
}

/// The URL's `options=-c search_path=...` really puts every table, the migrations table
/// included, in the test's schema; and `connect` picks the backend from the URL.
#[tokio::test]
async fn postgres_tables_land_in_the_url_schema() {
    run(Backend::Postgres, |harness: Arc<Harness>| async move {
        let config = StorageConfig {
            database_url: harness.database_url.clone(),
            object_store_url: format!("file://{}", harness.objects_dir().display()),
            max_connections: MAX_CONNECTIONS,
        };
        let store = relais_storage::connect(&config).await.unwrap();
        assert_eq!(store.backend_name(), "postgres");
        store
            .append_updates(&id("doc"), &[bytes("u1")])
            .await
            .unwrap();
        store.close().await;

        let (server_url, schema) = harness.postgres_schema.clone().unwrap();
        let mut admin = PgConnection::connect(&server_url).await.unwrap();
        let tables: Vec<String> = sqlx::query(
            "SELECT table_name FROM information_schema.tables
             WHERE table_schema = $1 ORDER BY table_name",
        )
        .bind(&schema)
        .fetch_all(&mut admin)
        .await
        .unwrap()
        .iter()
        .map(|row| row.get("table_name"))
        .collect();
        assert_eq!(
            tables,
            [
                "_sqlx_migrations",
                "access_epoch",
                "api_tokens",
                "attachments",
                "audit_log",
                "conversation_members",
                "conversations",
                "document_clients",
                "document_freezes",
                "document_info",
                "document_members",
                "document_publications",
                "document_reviews",
                "document_snapshots",
                "document_updates",
                "document_versions",
                "documents",
                "invitations",
                "message_mentions",
                "message_reactions",
                "messages",
                "organisations",
                "sessions",
                "users",
                "version_exports",
                "workspace_members",
                "workspaces",
            ]
        );
        let rows: i64 = sqlx::query(AssertSqlSafe(format!(
            "SELECT count(*) AS n FROM {schema}.document_updates"
        )))
        .fetch_one(&mut admin)
        .await
        .unwrap()
        .get("n");
        assert_eq!(rows, 1);
        admin.close().await.unwrap();
    })
    .await;
}

/// `connect` creates the SQLite file's parent directories and the object directory.
#[tokio::test]
async fn sqlite_connect_creates_missing_directories() {
    let temp = tempfile::tempdir().unwrap();
    let config = StorageConfig {
        database_url: format!("sqlite://{}/a/b/relais.db", temp.path().display()),
        object_store_url: format!("file://{}/c/objects", temp.path().display()),
        max_connections: MAX_CONNECTIONS,
    };
    let store = relais_storage::connect(&config).await.unwrap();
    assert_eq!(store.backend_name(), "sqlite");
    store.check_ready().await.unwrap();
    store
        .append_updates(&id("doc"), &[bytes("u1")])
        .await
        .unwrap();
    store
        .write_snapshot(&id("doc"), Seq(1), bytes("s"))
        .await
        .unwrap();
    store.close().await;
    assert!(temp.path().join("a/b/relais.db").is_file());
    assert!(temp.path().join("c/objects/documents").is_dir());
}

/// An object store whose writes all fail, as when the bucket is unreachable.
#[derive(Debug)]
struct FailingPuts(Arc<dyn ObjectStore>);

impl fmt::Display for FailingPuts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FailingPuts({})", self.0)
    }
}

fn refused(operation: &str) -> object_store::Error {
    object_store::Error::Generic {
        store: "FailingPuts",
        source: format!("{operation} refused by the test").into(),
    }
}

#[async_trait::async_trait]
impl ObjectStore for FailingPuts {
    async fn put_opts(
        &self,
        _location: &Path,
        _payload: PutPayload,
        _opts: PutOptions,
    ) -> object_store::Result<PutResult> {
        Err(refused("put"))
    }

    async fn put_multipart_opts(
        &self,
        _location: &Path,
        _opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        Err(refused("multipart put"))
    }

    async fn get_opts(
        &self,
        location: &Path,
        options: GetOptions,
    ) -> object_store::Result<GetResult> {
        self.0.get_opts(location, options).await
    }

    async fn get_ranges(
        &self,
        location: &Path,
        ranges: &[Range<u64>],
    ) -> object_store::Result<Vec<Bytes>> {
        self.0.get_ranges(location, ranges).await
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, object_store::Result<Path>>,
    ) -> BoxStream<'static, object_store::Result<Path>> {
        self.0.delete_stream(locations)
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        self.0.list(prefix)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> object_store::Result<ListResult> {
        self.0.list_with_delimiter(prefix).await
    }

    async fn copy_opts(
        &self,
        _from: &Path,
        _to: &Path,
        _options: CopyOptions,
    ) -> object_store::Result<()> {
        Err(refused("copy"))
    }
}
