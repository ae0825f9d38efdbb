//! The `Store` trait and the values it exchanges.

use bytes::Bytes;

use crate::error::StoreError;
use crate::id::{DocumentId, Seq};

/// One update of a document's log, as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredUpdate {
    /// Its position in the log.
    pub seq: Seq,
    /// The opaque Yjs update bytes, exactly as appended.
    pub update: Bytes,
}

/// A compacted document state covering every update up to `upto_seq`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot {
    /// The last seq folded into `state`.
    pub upto_seq: Seq,
    /// The opaque Yjs state bytes, checked against the recorded sha256.
    pub state: Bytes,
}

/// Everything needed to rebuild a document.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StoredDocument {
    /// The latest snapshot, if any.
    pub snapshot: Option<Snapshot>,
    /// Every update with seq > `snapshot.upto_seq` (or all of them), ascending and consecutive.
    pub updates: Vec<StoredUpdate>,
    /// The highest seq ever assigned for this document (`Seq(0)` if none).
    pub last_seq: Seq,
}

/// The seqs assigned by one append, both ends included.
///
/// An append of nothing returns the empty range `first = last_seq + 1, last = last_seq`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AppendedRange {
    /// Seq of the first appended update.
    pub first: Seq,
    /// Seq of the last appended update.
    pub last: Seq,
}

/// What a snapshot write recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SnapshotInfo {
    /// The last seq folded into the snapshot.
    pub upto_seq: Seq,
    /// Object key of the blob, relative to the object store root.
    pub key: String,
    /// Lowercase hex sha256 of the blob.
    pub sha256_hex: String,
    /// Blob length in bytes.
    pub len: u64,
    /// How many updates this call deleted from the log (0 if another node had already done it).
    pub pruned_updates: u64,
}

/// Durable storage for documents: an append-only update log per document in a database, and
/// write-once snapshot blobs in an object store.
///
/// Implementations are cheap to share (`Arc<dyn Store>`) and safe to call concurrently, from
/// one process or (Postgres) from several processes sharing one database.
#[async_trait::async_trait]
pub trait Store: Send + Sync + 'static {
    /// Appends `updates` to the document's log in one transaction, assigning consecutive seqs
    /// after the current last seq, and returns the range assigned.
    ///
    /// The seq counter is bumped by the database under a row lock, never computed in the
    /// process, so concurrent appenders on several processes never collide or leave gaps.
    /// `updates` should not be empty; if it is, nothing is written and the empty range
    /// `last_seq + 1 ..= last_seq` is returned.
    async fn append_updates(
        &self,
        document: &DocumentId,
        updates: &[Bytes],
    ) -> Result<AppendedRange, StoreError>;

    /// The latest snapshot and every update after it, read in one consistent read
    /// transaction; then the snapshot blob is fetched and checked against its recorded length
    /// and sha256.
    ///
    /// An unknown document is an empty [`StoredDocument`], not an error.
    /// A missing or altered blob, or a gap in the log, is [`StoreError::Corrupt`].
    async fn load(&self, document: &DocumentId) -> Result<StoredDocument, StoreError>;

    /// Updates with seq > `after`, ascending, for catching up after a gap.
    ///
    /// If some of those updates have already been compacted into a snapshot, the result starts
    /// later than `after + 1`: the caller must check the first seq and [`Store::load`] instead.
    async fn updates_after(
        &self,
        document: &DocumentId,
        after: Seq,
    ) -> Result<Vec<StoredUpdate>, StoreError>;

    /// Compacts the log: writes `state` (covering every update up to `upto_seq`) as a new
    /// write-once blob, then in one transaction records it and deletes the updates it covers.
    ///
    /// The blob goes first, so a crash leaves at worst an orphan blob, never a row without its
    /// blob; if the blob write fails nothing is deleted. If a snapshot at the same point was
    /// already recorded (another node got there first), the existing record is kept and
    /// returned, and the blob written here is left as an orphan.
    /// `upto_seq` outside `1..=last_seq` is refused with [`StoreError::SnapshotBeyondLog`]
    /// before anything is written.
    async fn write_snapshot(
        &self,
        document: &DocumentId,
        upto_seq: Seq,
        state: Bytes,
    ) -> Result<SnapshotInfo, StoreError>;

    /// Succeeds when both the database and the object store answer.
    async fn check_ready(&self) -> Result<(), StoreError>;

    /// `"sqlite"` or `"postgres"`, for logs.
    fn backend_name(&self) -> &'static str;

    /// Closes the connection pools, waiting for connections in use to be returned.
    async fn close(&self);
}
