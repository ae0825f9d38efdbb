//! Writing to the audit journal from request handlers and connections.
//!
//! The journal itself (append-only, hash-chained) is owned by storage; this is the server's
//! side: what gets recorded, with ids and never content, and how a failure is handled.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use relais_storage::{AuditEntry, Directory, DocumentId, NewAuditEntry, StoreError, WorkspaceId};
use tracing::error;

/// A document opened again by the same caller within this window is not recorded again:
/// "who viewed" stays answered without one journal entry per reconnect.
const OPEN_DEDUP_WINDOW: Duration = Duration::from_secs(600);

#[derive(Clone)]
pub struct Audit {
    directory: Arc<dyn Directory>,
    recent_opens: Arc<Mutex<HashMap<(String, DocumentId), Instant>>>,
}

impl Audit {
    pub fn new(directory: Arc<dyn Directory>) -> Self {
        Self { directory, recent_opens: Arc::default() }
    }

    /// Appends one entry; the caller decides whether a failure stops the action.
    pub async fn record(
        &self,
        actor: Option<String>,
        action: &str,
        workspace: Option<&WorkspaceId>,
        target: Option<String>,
        details: serde_json::Value,
    ) -> Result<AuditEntry, StoreError> {
        let entry = NewAuditEntry { actor, action: action.to_owned(), workspace: workspace.cloned(), target, details };
        self.directory.append_audit(entry).await.inspect_err(|error| {
            error!(error = %error, action, "cannot write the audit journal");
        })
    }

    /// Records that `actor` opened `document`, at most once per window per pair.
    pub async fn record_open(
        &self,
        actor: String,
        document: &DocumentId,
        role: relais_storage::Role,
    ) -> Result<(), StoreError> {
        let key = (actor.clone(), document.clone());
        {
            let Ok(mut recent) = self.recent_opens.lock() else { return Ok(()) };
            let now = Instant::now();
            if recent.get(&key).is_some_and(|at| now.duration_since(*at) < OPEN_DEDUP_WINDOW) {
                return Ok(());
            }
            if recent.len() > 100_000 {
                recent.retain(|_, at| now.duration_since(*at) < OPEN_DEDUP_WINDOW);
            }
            recent.insert(key, now);
        }
        let workspace = self.directory.document(document).await?.and_then(|info| info.workspace);
        let details = serde_json::json!({ "role": role.as_str() });
        self.record(Some(actor), "document.opened", workspace.as_ref(), Some(format!("document:{document}")), details)
            .await
            .map(|_| ())
    }
}
