//! The document hub: one room task per open document, and the registry that finds or starts it.
//!
//! The registry is a plain map behind a std mutex, locked only to get or insert a handle and
//! never across an `.await`. A room removes its own entry when it exits, and only if the entry
//! still belongs to it (a newer room for the same document may have replaced it).

mod connection;
mod persister;
mod room;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use relais_storage::{DocumentId, Seq, Store, Versions};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use connection::{refuse_connection, serve_connection};
pub use room::ApplyError;
pub(crate) use room::{RoomCommand, RoomHandle};

use crate::bus::Bus;
use crate::config::HubConfig;
use crate::metrics::Metrics;

/// Snapshots written at the same time by one process.
const SNAPSHOTS_AT_ONCE: usize = 2;

/// Identifies one websocket connection for the lifetime of the process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnectionId(u64);

impl std::fmt::Display for ConnectionId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "c{}", self.0)
    }
}

/// Shared handle to the hub; cheap to clone.
#[derive(Clone)]
pub struct Hub {
    inner: Arc<HubInner>,
}

struct HubInner {
    rooms: Mutex<HashMap<DocumentId, RoomHandle>>,
    store: Arc<dyn Store>,
    versions: Arc<dyn Versions>,
    bus: Option<Bus>,
    metrics: Arc<Metrics>,
    config: HubConfig,
    tracker: TaskTracker,
    shutdown: CancellationToken,
    hard_stop: CancellationToken,
    next_generation: AtomicU64,
    next_connection: AtomicU64,
    connections: AtomicUsize,
    snapshot_permits: Arc<tokio::sync::Semaphore>,
}

impl Hub {
    /// `shutdown` starts a graceful stop; `hard_stop` ends retries when the grace period is over.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        store: Arc<dyn Store>,
        versions: Arc<dyn Versions>,
        bus: Option<Bus>,
        metrics: Arc<Metrics>,
        config: HubConfig,
        tracker: TaskTracker,
        shutdown: CancellationToken,
        hard_stop: CancellationToken,
    ) -> Self {
        Self {
            inner: Arc::new(HubInner {
                rooms: Mutex::new(HashMap::new()),
                store,
                versions,
                bus,
                metrics,
                config,
                tracker,
                shutdown,
                hard_stop,
                next_generation: AtomicU64::new(1),
                next_connection: AtomicU64::new(1),
                connections: AtomicUsize::new(0),
                snapshot_permits: Arc::new(tokio::sync::Semaphore::new(SNAPSHOTS_AT_ONCE)),
            }),
        }
    }

    pub fn config(&self) -> &HubConfig {
        &self.inner.config
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.inner.store
    }

    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    pub(crate) fn shared_metrics(&self) -> Arc<Metrics> {
        self.inner.metrics.clone()
    }

    pub fn versions(&self) -> &Arc<dyn Versions> {
        &self.inner.versions
    }

    /// Applies a server-made update (a restore) to the document as `author`'s edit: through
    /// its room, started if needed, so it is committed, relayed to every client and published
    /// to other nodes like any edit. Returns the seq it was committed at.
    pub async fn apply_update(
        &self,
        document: &DocumentId,
        update: bytes::Bytes,
        author: Option<Arc<str>>,
    ) -> Result<Seq, ApplyError> {
        for _ in 0..3 {
            let (ack, answer) = tokio::sync::oneshot::channel();
            let command = RoomCommand::Apply { update: update.clone(), author: author.clone(), ack };
            if self.join(document, command).await.is_err() {
                // The room exited as we sent: a fresh one is started on the next attempt.
                continue;
            }
            // A dropped ack means the room stopped before answering: try a fresh room.
            if let Ok(outcome) = answer.await {
                return outcome;
            }
        }
        Err(ApplyError::Failed)
    }

    /// Waits (at most `within`) until this node's room of `document`, if loaded, has
    /// committed every edit it applied. Returns false on timeout.
    pub async fn flush(&self, document: &DocumentId, within: std::time::Duration) -> bool {
        let handle = self.lock_rooms().get(document).cloned();
        let Some(handle) = handle else { return true };
        let (reply, flushed) = tokio::sync::oneshot::channel();
        if handle.send(RoomCommand::Flush(reply)).await.is_err() {
            return true;
        }
        // A room that exits drops the reply: it flushed on its way out.
        tokio::time::timeout(within, flushed).await.is_ok()
    }

    /// Tells this node's room of `document`, if loaded, that the document was frozen for
    /// review or unfrozen. Other nodes learn it from the access epoch and the store.
    pub fn set_frozen(&self, document: &DocumentId, frozen: bool) {
        let handle = self.lock_rooms().get(document).cloned();
        if let Some(handle) = handle {
            let _ = handle.try_send(RoomCommand::SetFrozen(frozen));
        }
    }

    /// The bus to other nodes, if configured.
    pub fn bus(&self) -> Option<&Bus> {
        self.inner.bus.as_ref()
    }

    pub fn shutdown_token(&self) -> &CancellationToken {
        &self.inner.shutdown
    }

    pub fn hard_stop_token(&self) -> CancellationToken {
        self.inner.hard_stop.clone()
    }

    pub fn tracker(&self) -> &TaskTracker {
        &self.inner.tracker
    }

    /// Permits for snapshot writes, shared by every room of the process.
    pub(crate) fn snapshot_permits(&self) -> Arc<tokio::sync::Semaphore> {
        self.inner.snapshot_permits.clone()
    }

    /// Number of rooms currently loaded.
    pub fn open_rooms(&self) -> usize {
        self.lock_rooms().len()
    }

    /// Number of open websocket connections.
    pub fn connections(&self) -> usize {
        self.inner.connections.load(Ordering::Relaxed)
    }

    /// Reserves a connection slot, or `None` when `limit` connections are open.
    pub fn try_reserve_connection(&self, limit: usize) -> Option<ConnectionSlot> {
        let previous = self.inner.connections.fetch_add(1, Ordering::AcqRel);
        if previous >= limit {
            self.inner.connections.fetch_sub(1, Ordering::AcqRel);
            return None;
        }
        let id = ConnectionId(self.inner.next_connection.fetch_add(1, Ordering::Relaxed));
        Some(ConnectionSlot { hub: self.clone(), id })
    }

    fn lock_rooms(&self) -> std::sync::MutexGuard<'_, HashMap<DocumentId, RoomHandle>> {
        // A panic while holding this lock cannot leave the map half-updated (single insert or
        // remove), so a poisoned lock is still safe to use.
        self.inner.rooms.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Hands `join` to the room of `document`, starting the room if needed, and returns its
    /// handle. The lookup and a non-blocking send happen under the registry lock, and a room
    /// leaves the registry only under that lock with an empty inbox, so a join is never left
    /// in the inbox of a room that is exiting. When the inbox is full the send waits outside
    /// the lock; if the room exited meanwhile, the join comes back and the caller retries.
    pub(crate) async fn join(&self, document: &DocumentId, join: RoomCommand) -> Result<RoomHandle, RoomCommand> {
        let (handle, join) = {
            let mut rooms = self.lock_rooms();
            let handle = match rooms.get(document) {
                Some(handle) if !handle.is_closed() => handle.clone(),
                _ => {
                    let generation = self.inner.next_generation.fetch_add(1, Ordering::Relaxed);
                    let (sender, receiver) = mpsc::channel(self.inner.config.room_inbox_messages);
                    let handle = RoomHandle::new(sender, generation);
                    rooms.insert(document.clone(), handle.clone());
                    room::spawn(self.clone(), document.clone(), generation, receiver);
                    handle
                }
            };
            match handle.try_send(join) {
                Ok(()) => return Ok(handle),
                Err(join) => (handle, join),
            }
        };
        handle.send(join).await.map(|()| handle)
    }

    /// Removes the registry entry of `document` if it is still the one of room `generation`.
    fn remove_room(&self, document: &DocumentId, generation: u64) {
        self.remove_room_if(document, generation, || true);
    }

    /// Like [`Hub::remove_room`], only if `condition` holds, checked under the registry lock.
    fn remove_room_if(&self, document: &DocumentId, generation: u64, condition: impl FnOnce() -> bool) -> bool {
        let mut rooms = self.lock_rooms();
        if !condition() {
            return false;
        }
        if rooms.get(document).is_some_and(|handle| handle.generation() == generation) {
            rooms.remove(document);
        }
        true
    }
}

/// A reserved connection slot; frees itself when dropped.
pub struct ConnectionSlot {
    hub: Hub,
    id: ConnectionId,
}

impl ConnectionSlot {
    pub fn id(&self) -> ConnectionId {
        self.id
    }
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        self.hub.inner.connections.fetch_sub(1, Ordering::AcqRel);
    }
}
