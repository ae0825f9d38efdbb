//! Reading the audit journal.

use axum::Json;
use axum::extract::{Query, State};
use relais_storage::{AuditEntry, AuditFilter, Role};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::error::ErrorBody;
use super::workspaces::{parse_workspace, role_in};
use super::{ApiError, CurrentUser};
use crate::http::AppState;

/// Most entries per page.
const MAX_PAGE: u32 = 1000;

#[derive(Deserialize, utoipa::IntoParams)]
pub struct AuditQuery {
    /// Required except for administrators.
    pub workspace_id: Option<String>,
    pub from_ms: Option<i64>,
    pub to_ms: Option<i64>,
    /// Entries after this seq (paging).
    pub after_seq: Option<i64>,
    /// At most 1000.
    pub limit: Option<u32>,
}

#[derive(Serialize, ToSchema)]
pub struct AuditEntryView {
    pub seq: i64,
    pub at_ms: i64,
    pub actor: Option<String>,
    pub action: String,
    pub workspace_id: Option<String>,
    pub target: Option<String>,
    /// A JSON object, as recorded.
    pub details: String,
    pub prev_sha256: String,
    pub sha256: String,
}

impl From<AuditEntry> for AuditEntryView {
    fn from(entry: AuditEntry) -> Self {
        Self {
            seq: entry.seq,
            at_ms: entry.at_ms,
            actor: entry.actor,
            action: entry.action,
            workspace_id: entry.workspace.map(|w| w.to_string()),
            target: entry.target,
            details: entry.details,
            prev_sha256: entry.prev_sha256,
            sha256: entry.sha256,
        }
    }
}

/// Journal entries: a workspace's for its owners, everything for administrators.
#[utoipa::path(get, path = "/api/audit", tag = "audit", params(AuditQuery),
    responses((status = 200, body = Vec<AuditEntryView>), (status = 403, body = ErrorBody)))]
pub async fn read_audit(
    State(state): State<AppState>,
    CurrentUser(session): CurrentUser,
    Query(query): Query<AuditQuery>,
) -> Result<Json<Vec<AuditEntryView>>, ApiError> {
    let workspace = match query.workspace_id.as_deref() {
        Some(id) => Some(parse_workspace(id)?),
        None => None,
    };
    match &workspace {
        _ if session.user.is_admin => {}
        Some(workspace) => {
            let (_, role) = role_in(&state, &session.user, workspace).await?;
            if role != Role::Owner {
                return Err(ApiError::Forbidden("only owners read the journal"));
            }
        }
        None => return Err(ApiError::Forbidden("only administrators read the whole journal")),
    }
    let filter = AuditFilter {
        workspace,
        from_ms: query.from_ms,
        to_ms: query.to_ms,
        after_seq: query.after_seq.unwrap_or(0),
        limit: query.limit.unwrap_or(MAX_PAGE).clamp(1, MAX_PAGE),
    };
    let entries = state.directory.audit_entries(&filter).await?;
    Ok(Json(entries.into_iter().map(AuditEntryView::from).collect()))
}
