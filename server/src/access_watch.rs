//! Keeps open websockets' roles current: a role change, a removal, a signed-out session, a
//! revoked token or an expiry reaches every open connection within a second, on every node.
//!
//! Every change that can take access away bumps the directory's access epoch in the same
//! transaction. Each node reads that one counter every [`POLL_INTERVAL`]; when it moved, or
//! when a grant or credential of an open connection reached its expiry, the node re-checks
//! the access of each (credential, document) pair it has open and tells the connections
//! through a `watch` channel: a new role, or why they must close.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use relais_storage::{Directory, DocumentId, UnixMillis};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::warn;

use crate::access::{self, Access};
use crate::auth::{self, Credential};

/// How often each node reads the access epoch: well under the one-second promise.
pub const POLL_INTERVAL: Duration = Duration::from_millis(250);

/// What an open connection may do now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccessState {
    Live(Access),
    /// The credential is valid but gives no access to the document any more (4403).
    AccessEnded,
    /// The credential itself ended: session signed out or expired, token revoked or expired,
    /// account disabled (4401).
    CredentialEnded,
}

impl AccessState {
    fn live(&self) -> Option<Access> {
        match self {
            AccessState::Live(access) => Some(*access),
            AccessState::AccessEnded | AccessState::CredentialEnded => None,
        }
    }
}

struct Entry {
    credential: Credential,
    document: DocumentId,
    sender: watch::Sender<AccessState>,
}

struct Inner {
    directory: Arc<dyn Directory>,
    /// The last epoch read, for connections that re-check their own access (chat).
    epoch: watch::Sender<i64>,
    entries: Mutex<HashMap<u64, Entry>>,
    next_id: AtomicU64,
}

/// The node's registry of watched connections.
#[derive(Clone)]
pub struct AccessWatch {
    inner: Arc<Inner>,
}

/// A connection's live access; dropping it stops watching.
pub struct AccessGuard {
    id: u64,
    inner: Arc<Inner>,
    receiver: watch::Receiver<AccessState>,
}

impl AccessGuard {
    /// The current access (`None`: ended).
    pub fn current(&self) -> Option<Access> {
        self.receiver.borrow().live()
    }

    /// Waits until the access changes, and returns the new state. Pending forever if the
    /// watcher is gone (shutdown closes connections anyway).
    pub async fn changed(&mut self) -> AccessState {
        if self.receiver.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
        *self.receiver.borrow_and_update()
    }
}

impl Drop for AccessGuard {
    fn drop(&mut self) {
        if let Ok(mut entries) = self.inner.entries.lock() {
            entries.remove(&self.id);
        }
    }
}

impl AccessWatch {
    /// Starts the node's watcher task.
    pub fn spawn(directory: Arc<dyn Directory>, tracker: &TaskTracker, shutdown: CancellationToken) -> Self {
        let inner = Arc::new(Inner {
            directory,
            epoch: watch::channel(0).0,
            entries: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(0),
        });
        tracker.spawn(run(inner.clone(), shutdown));
        Self { inner }
    }

    /// Changes whenever the access epoch moves: connections that hold several grants (chat)
    /// re-check them on each change.
    pub fn epochs(&self) -> watch::Receiver<i64> {
        self.inner.epoch.subscribe()
    }

    /// Watches a connection opened with `access`.
    pub fn watch(&self, credential: Credential, document: DocumentId, access: Access) -> AccessGuard {
        let (sender, receiver) = watch::channel(AccessState::Live(access));
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut entries) = self.inner.entries.lock() {
            entries.insert(id, Entry { credential, document, sender });
        }
        AccessGuard { id, inner: self.inner.clone(), receiver }
    }
}

async fn run(inner: Arc<Inner>, shutdown: CancellationToken) {
    let mut seen_epoch = None;
    let mut ticker = tokio::time::interval(POLL_INTERVAL);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = ticker.tick() => {}
        }
        let epoch = match inner.directory.access_epoch().await {
            Ok(epoch) => epoch,
            Err(error) => {
                warn!(error = %error, "cannot read the access epoch; open connections keep their roles");
                continue;
            }
        };
        let now = auth::now_ms();
        let changed = seen_epoch != Some(epoch);
        inner.epoch.send_if_modified(|seen| std::mem::replace(seen, epoch) != epoch);
        if (changed || any_expired(&inner, now)) && recheck_all(&inner, now).await.is_ok() {
            seen_epoch = Some(epoch);
        }
    }
}

fn any_expired(inner: &Inner, now: UnixMillis) -> bool {
    let Ok(entries) = inner.entries.lock() else { return false };
    entries.values().any(|entry| {
        entry.sender.borrow().live().is_some_and(|access| access.valid_until_ms.is_some_and(|until| until <= now))
    })
}

/// Re-checks every distinct (credential, document) pair once and updates its connections.
async fn recheck_all(inner: &Inner, now: UnixMillis) -> Result<(), ()> {
    let pairs: HashSet<(Credential, DocumentId)> = {
        let Ok(entries) = inner.entries.lock() else { return Err(()) };
        entries.values().map(|e| (e.credential.clone(), e.document.clone())).collect()
    };
    let mut results = HashMap::with_capacity(pairs.len());
    for (credential, document) in pairs {
        let access = match auth::recheck(inner.directory.as_ref(), &credential, now).await {
            Ok(Some(caller)) => access::document_access(inner.directory.as_ref(), &caller, &document, now)
                .await
                .map(|access| access.map_or(AccessState::AccessEnded, AccessState::Live)),
            Ok(None) => Ok(AccessState::CredentialEnded),
            Err(error) => Err(error),
        };
        match access {
            Ok(access) => {
                results.insert((credential, document), access);
            }
            Err(error) => {
                warn!(error = %error, "cannot re-check access; will retry");
                return Err(());
            }
        }
    }
    let Ok(entries) = inner.entries.lock() else { return Err(()) };
    for entry in entries.values() {
        if let Some(access) = results.get(&(entry.credential.clone(), entry.document.clone())) {
            entry.sender.send_if_modified(|current| {
                let modified = current != access;
                *current = *access;
                modified
            });
        }
    }
    Ok(())
}
