//! A room's persister: the only part of a room that awaits the store.
//!
//! The room hands it one job at a time with `try_send` and goes on serving clients; the result
//! comes back on a channel the room selects on. An append is retried until it succeeds (the
//! room keeps its updates meanwhile and relays nothing), so a database outage delays edits but
//! never loses one that was relayed.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use relais_storage::{AppendedRange, DocumentId, Seq, SnapshotInfo, Store, StoreError, StoredUpdate, Versions};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, debug, error, warn};

/// Work for the persister.
pub(crate) enum PersistJob {
    /// Append `updates`; `watermark` is the highest seq the room has applied with no gap below.
    /// `clients` are (Yjs client id, user id) pairs first seen in them, recorded first.
    Append { updates: Vec<Bytes>, watermark: Seq, clients: Vec<(u64, String)> },
    /// Write a snapshot of the whole document covering every update up to `upto`.
    Snapshot { upto: Seq, state: Bytes },
    /// Read what other nodes committed after `watermark` (a gap seen on the bus).
    CatchUp { watermark: Seq },
}

/// What the persister reports back.
pub(crate) enum PersistResult {
    /// The updates were committed with seqs `range`. `catch_up` holds updates written by other
    /// processes between the room's watermark and `range.first`, which the room must apply.
    Appended { range: AppendedRange, catch_up: Vec<CatchUpItem> },
    /// The append could not be committed: the store refused it, or shutdown came first.
    AppendFailed,
    /// The document was frozen for review before the append: nothing was committed, and
    /// nothing will be until the review is decided.
    AppendRefused,
    Snapshotted(Result<SnapshotInfo, StoreError>),
    /// Updates after the requested watermark, in seq order; may start with a whole-document
    /// snapshot state when the missing updates were already compacted.
    CaughtUp(Vec<CatchUpItem>),
}

const FIRST_RETRY: Duration = Duration::from_millis(50);
const MAX_RETRY: Duration = Duration::from_secs(5);

/// Starts the persister of `document`. Appends run one at a time, in order; snapshots run
/// beside them. It ends when the room drops its job sender, after finishing the job at hand,
/// so a room may exit while its last snapshot is being written.
pub(crate) fn spawn(
    store: Arc<dyn Store>,
    versions: Arc<dyn Versions>,
    document: DocumentId,
    tracker: &tokio_util::task::TaskTracker,
    hard_stop: CancellationToken,
    snapshot_permits: Arc<tokio::sync::Semaphore>,
) -> (mpsc::Sender<PersistJob>, mpsc::Receiver<PersistResult>) {
    let (job_sender, mut jobs) = mpsc::channel::<PersistJob>(2);
    // Room and persister alternate with at most two jobs outstanding, so results fit.
    let (result_sender, results) = mpsc::channel::<PersistResult>(4);
    let span = tracing::info_span!("persister", document = %document);
    let snapshot_tracker = tracker.clone();
    tracker.spawn(
        async move {
            while let Some(job) = jobs.recv().await {
                match job {
                    PersistJob::Append { updates, watermark, clients } => {
                        // Best effort: authorship is worth a retry-free attempt, never an edit.
                        if !clients.is_empty()
                            && let Err(error) = versions.record_clients(&document, &clients, crate::auth::now_ms()).await
                        {
                            warn!(error = %error, "cannot record who edits; authorship of these edits will be unknown");
                        }
                        let result = append(&*store, &document, &updates, watermark, &hard_stop).await;
                        // The room may be gone (it failed, or exited after its final snapshot).
                        let _ = result_sender.send(result).await;
                    }
                    PersistJob::CatchUp { watermark } => {
                        let updates = fetch_after(&*store, &document, watermark, &hard_stop).await.unwrap_or_default();
                        let _ = result_sender.send(PersistResult::CaughtUp(updates)).await;
                    }
                    PersistJob::Snapshot { upto, state } => {
                        // A slow or unreachable object store must not hold up commits, so
                        // snapshots run beside appends; the room keeps at most one going.
                        let store = store.clone();
                        let document = document.clone();
                        let result_sender = result_sender.clone();
                        let snapshot_permits = snapshot_permits.clone();
                        snapshot_tracker.spawn(
                            async move {
                                // Bounded across the process, so that many rooms closing at once
                                // do not queue many snapshots in front of other rooms' commits.
                                let _permit = snapshot_permits.acquire_owned().await;
                                let outcome = store.write_snapshot(&document, upto, state).await;
                                let _ = result_sender.send(PersistResult::Snapshotted(outcome)).await;
                            }
                            .in_current_span(),
                        );
                    }
                }
            }
        }
        .instrument(span),
    );
    (job_sender, results)
}

async fn append(
    store: &dyn Store,
    document: &DocumentId,
    updates: &[Bytes],
    watermark: Seq,
    hard_stop: &CancellationToken,
) -> PersistResult {
    let range = match retry_outcome(hard_stop, "append", || store.append_updates(document, updates)).await {
        Ok(range) => range,
        Err(Some(StoreError::Frozen(_))) => return PersistResult::AppendRefused,
        Err(_) => return PersistResult::AppendFailed,
    };
    let mut catch_up = Vec::new();
    if range.first > watermark.next() {
        // Another process appended to this document since we last looked: fetch what lies
        // between, so that the room's state and watermark stay gap-free.
        let Some(mut fetched) = fetch_after(store, document, watermark, hard_stop).await else {
            return PersistResult::AppendFailed;
        };
        fetched.retain(|item| item.stored.seq < range.first || item.is_whole_document);
        catch_up = fetched;
    }
    PersistResult::Appended { range, catch_up }
}

/// An update fetched from the store to fill a gap.
pub(crate) struct CatchUpItem {
    pub(crate) stored: StoredUpdate,
    /// The whole document as of `stored.seq` (a snapshot), rather than one update.
    pub(crate) is_whole_document: bool,
}

/// Updates after `watermark`. If some were already compacted into a snapshot, the whole
/// stored document instead: applying a full state is idempotent for a Yjs document.
async fn fetch_after(
    store: &dyn Store,
    document: &DocumentId,
    watermark: Seq,
    hard_stop: &CancellationToken,
) -> Option<Vec<CatchUpItem>> {
    let fetched = retry(hard_stop, "catch up", || store.updates_after(document, watermark)).await?;
    let contiguous = fetched.first().is_none_or(|update| update.seq == watermark.next());
    if contiguous {
        return Some(fetched.into_iter().map(|stored| CatchUpItem { stored, is_whole_document: false }).collect());
    }
    let stored = retry(hard_stop, "reload", || store.load(document)).await?;
    let snapshot = stored.snapshot.map(|snapshot| CatchUpItem {
        stored: StoredUpdate { seq: snapshot.upto_seq, update: snapshot.state },
        is_whole_document: true,
    });
    let updates = stored.updates.into_iter().map(|stored| CatchUpItem { stored, is_whole_document: false });
    Some(snapshot.into_iter().chain(updates).collect())
}

/// Runs `operation` until it succeeds, backing off while the store is unavailable. Gives up
/// on any other error (retrying cannot fix it) and at hard stop.
async fn retry<T, F, Fut>(hard_stop: &CancellationToken, what: &str, operation: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, StoreError>>,
{
    retry_outcome(hard_stop, what, operation).await.ok()
}

/// [`retry`], giving back the error that ended it (`None` at hard stop).
async fn retry_outcome<T, F, Fut>(
    hard_stop: &CancellationToken,
    what: &str,
    mut operation: F,
) -> Result<T, Option<StoreError>>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, StoreError>>,
{
    let mut delay = FIRST_RETRY;
    loop {
        match operation().await {
            Ok(value) => return Ok(value),
            Err(error) if error.is_unavailable() => {
                let cause = std::error::Error::source(&error).map(ToString::to_string);
                warn!(error = %error, cause, "{what} failed; retrying in {delay:?}");
            }
            Err(StoreError::Frozen(document)) => {
                debug!(%document, "{what} refused: the document is frozen for review");
                return Err(Some(StoreError::Frozen(document)));
            }
            Err(error) => {
                error!(error = %error, "{what} failed");
                return Err(Some(error));
            }
        }
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            () = hard_stop.cancelled() => return Err(None),
        }
        delay = (delay * 2).min(MAX_RETRY);
    }
}
