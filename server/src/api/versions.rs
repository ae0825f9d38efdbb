//! Version history, comparison, restore, the validation workflow, publication, exports,
//! verification of exported files and the action items of meeting minutes.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use relais_crdt::diff::{ParagraphDiff, compare, summarize};
use relais_crdt::model::{ActionStatus, Content};
use relais_export::Format;
use relais_storage::{DocumentInfo, Review, Role, Version};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::documents::document_access;
use super::error::ErrorBody;
use super::workspaces::{parse_workspace, role_in};
use super::{ApiError, ClientAddr, CurrentUser, rate_limited};
use crate::access::{self, Access};
use crate::auth::{self, Caller, SessionCaller};
use crate::http::AppState;
use crate::versions::{ReviewState, VersionError, sha256_hex};

impl From<VersionError> for ApiError {
    fn from(error: VersionError) -> Self {
        match error {
            VersionError::Store(error) => error.into(),
            VersionError::Content(error) => ApiError::Internal(error.to_string()),
            VersionError::Apply(crate::hub::ApplyError::Frozen) => {
                ApiError::Conflict("the document is under review".into())
            }
            VersionError::Apply(error) => ApiError::Internal(error.to_string()),
            VersionError::NotFound(what) => ApiError::NotFound(what),
            VersionError::Conflict(what) => ApiError::Conflict(what),
        }
    }
}

/// Someone named in a version or a review.
pub type PersonView = crate::versions::Person;

#[derive(Serialize, ToSchema)]
pub struct SealView {
    pub validator: PersonView,
    pub sealed_at_ms: i64,
    pub comment: String,
    /// SHA-256 of the stored state, the seal's hash.
    pub sha256: String,
}

#[derive(Serialize, ToSchema)]
pub struct VersionView {
    pub number: u64,
    pub id: String,
    /// `auto`, `named`, `restore` or `submitted`.
    pub kind: String,
    pub name: Option<String>,
    pub created_at_ms: i64,
    pub created_by: Option<PersonView>,
    /// The people who wrote what this version added.
    pub authors: Vec<PersonView>,
    /// The last seq of the document's log it covers.
    pub upto_seq: u64,
    /// SHA-256 of the stored Yjs state.
    pub sha256: String,
    pub size: u64,
    /// Present once a validator approved this exact version.
    pub seal: Option<SealView>,
}

async fn person(state: &AppState, actor: &str) -> PersonView {
    state.versions.person(actor).await
}

async fn version_view(state: &AppState, version: &Version) -> VersionView {
    let created_by = match &version.created_by {
        Some(actor) => Some(person(state, actor).await),
        None => None,
    };
    let mut authors = Vec::with_capacity(version.authors.len());
    for author in &version.authors {
        authors.push(person(state, author).await);
    }
    let seal = match &version.seal {
        Some(seal) => Some(SealView {
            validator: person(state, &seal.sealed_by).await,
            sealed_at_ms: seal.sealed_at_ms,
            comment: seal.comment.clone(),
            sha256: version.sha256_hex.clone(),
        }),
        None => None,
    };
    VersionView {
        number: version.number,
        id: version.id.to_string(),
        kind: version.kind.as_str().to_owned(),
        name: version.name.clone(),
        created_at_ms: version.created_at_ms,
        created_by,
        authors,
        upto_seq: version.upto_seq.0,
        sha256: version.sha256_hex.clone(),
        size: version.len,
        seal,
    }
}

fn actor(session: &SessionCaller) -> String {
    format!("user:{}", session.user.id)
}

async fn audit(state: &AppState, session: &SessionCaller, info: &DocumentInfo, action: &str, details: serde_json::Value) -> Result<(), ApiError> {
    state
        .audit
        .record(Some(actor(session)), action, info.workspace.as_ref(), Some(format!("document:{}", info.id)), details)
        .await?;
    Ok(())
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct PageQuery {
    /// Versions numbered below this (the `next_before` of the previous page).
    pub before: Option<u64>,
    /// At most this many (default 50, at most 200).
    pub limit: Option<u32>,
}

#[derive(Serialize, ToSchema)]
pub struct VersionPage {
    /// Newest first.
    pub versions: Vec<VersionView>,
    /// Pass as `before` for the next page; absent on the last page.
    pub next_before: Option<u64>,
}

/// The document's versions, newest first (anyone who can read the document).
#[utoipa::path(get, path = "/api/documents/{document_id}/versions", tag = "versions",
    params(("document_id" = String, Path), PageQuery),
    responses((status = 200, body = VersionPage), (status = 404, body = ErrorBody)))]
pub async fn list_versions(
    State(state): State<AppState>,
    CurrentUser(session): CurrentUser,
    Path(document_id): Path<String>,
    Query(query): Query<PageQuery>,
) -> Result<Json<VersionPage>, ApiError> {
    let (info, _) = document_access(&state, &session, &document_id).await?;
    let limit = query.limit.unwrap_or(50).clamp(1, 200);
    let versions = state.versions.versions.list_versions(&info.id, query.before, limit).await?;
    let next_before = (versions.len() == limit as usize).then(|| versions.last().map(|v| v.number)).flatten();
    let mut views = Vec::with_capacity(versions.len());
    for version in &versions {
        views.push(version_view(&state, version).await);
    }
    Ok(Json(VersionPage { versions: views, next_before }))
}

#[derive(Deserialize, ToSchema)]
pub struct NameVersion {
    /// e.g. « Avant comité de pilotage ».
    pub name: String,
}

/// Makes a named version of the document as it is now (editors and above).
#[utoipa::path(post, path = "/api/documents/{document_id}/versions", tag = "versions",
    params(("document_id" = String, Path)), request_body = NameVersion,
    responses((status = 201, body = VersionView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn name_version(
    State(state): State<AppState>,
    CurrentUser(session): CurrentUser,
    Path(document_id): Path<String>,
    Json(request): Json<NameVersion>,
) -> Result<(StatusCode, Json<VersionView>), ApiError> {
    let (info, access) = document_access(&state, &session, &document_id).await?;
    if !access::can_edit(access.role) {
        return Err(ApiError::Forbidden("editors and above name versions"));
    }
    let name = super::directory::check_name("name", &request.name)?;
    let version = state.versions.name_version(&info.id, name, &actor(&session)).await?;
    audit(&state, &session, &info, "version.named", serde_json::json!({ "version": version.number })).await?;
    Ok((StatusCode::CREATED, Json(version_view(&state, &version).await)))
}

#[derive(Serialize, ToSchema)]
pub struct VersionContent {
    pub version: VersionView,
    /// The content as a tree of blocks (headings, paragraphs, lists, tables, action items).
    #[schema(value_type = Object)]
    pub content: Content,
}

/// One version, read-only, with its content.
#[utoipa::path(get, path = "/api/documents/{document_id}/versions/{number}", tag = "versions",
    params(("document_id" = String, Path), ("number" = u64, Path)),
    responses((status = 200, body = VersionContent), (status = 404, body = ErrorBody)))]
pub async fn get_version(
    State(state): State<AppState>,
    CurrentUser(session): CurrentUser,
    Path((document_id, number)): Path<(String, u64)>,
) -> Result<Json<VersionContent>, ApiError> {
    let (info, _) = document_access(&state, &session, &document_id).await?;
    let version = state.versions.version(&info.id, number).await?;
    let content = state.versions.content_of(&version).await?;
    Ok(Json(VersionContent { version: version_view(&state, &version).await, content }))
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct CompareQuery {
    /// The older version's number.
    pub from: u64,
    /// The newer version's number, or `live` (the default) for the document as it is now.
    pub to: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct DiffSummaryView {
    pub inserted_chars: u64,
    pub deleted_chars: u64,
    pub paragraphs_changed: u64,
}

#[derive(Serialize, ToSchema)]
pub struct CompareView {
    pub from: VersionView,
    /// Absent when compared with the live document.
    pub to: Option<VersionView>,
    pub summary: DiffSummaryView,
    /// Every paragraph of the newer side, and the deleted ones where they were, with
    /// `change` (`equal`, `inserted`, `deleted`, `modified`) and segments (`equal`, `insert`,
    /// `delete`).
    #[schema(value_type = Vec<Object>)]
    pub paragraphs: Vec<ParagraphDiff>,
}

fn summary_view(paragraphs: &[ParagraphDiff]) -> DiffSummaryView {
    let summary = summarize(paragraphs);
    DiffSummaryView {
        inserted_chars: summary.inserted_chars,
        deleted_chars: summary.deleted_chars,
        paragraphs_changed: summary.paragraphs_changed,
    }
}

/// Compares two versions, or a version with the live document, paragraph by paragraph.
#[utoipa::path(get, path = "/api/documents/{document_id}/compare", tag = "versions",
    params(("document_id" = String, Path), CompareQuery),
    responses((status = 200, body = CompareView), (status = 404, body = ErrorBody)))]
pub async fn compare_versions(
    State(state): State<AppState>,
    CurrentUser(session): CurrentUser,
    Path(document_id): Path<String>,
    Query(query): Query<CompareQuery>,
) -> Result<Json<CompareView>, ApiError> {
    let (info, _) = document_access(&state, &session, &document_id).await?;
    let from = state.versions.version(&info.id, query.from).await?;
    let old = state.versions.content_of(&from).await?;
    let (to, new) = match query.to.as_deref() {
        None | Some("live") => {
            let (live, _) = state.versions.live_state(&info.id).await?;
            (None, relais_crdt::content::extract(&live).map_err(crate::versions::VersionError::from)?)
        }
        Some(number) => {
            let number = number.parse().map_err(|_| ApiError::BadRequest("`to` is a version number or `live`".into()))?;
            let version = state.versions.version(&info.id, number).await?;
            let content = state.versions.content_of(&version).await?;
            (Some(version), content)
        }
    };
    let paragraphs = compare(&old, &new);
    let to = match &to {
        Some(version) => Some(version_view(&state, version).await),
        None => None,
    };
    Ok(Json(CompareView { from: version_view(&state, &from).await, to, summary: summary_view(&paragraphs), paragraphs }))
}

#[derive(Serialize, ToSchema)]
pub struct AuthorChanges {
    /// Whose Yjs client this was; absent when not recorded (an edit through an API token).
    pub person: Option<PersonView>,
    pub client_id: u64,
    pub inserted_chars: u64,
    /// Some of the inserted runs of text, shortened.
    pub excerpts: Vec<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ChangesView {
    pub version: VersionView,
    /// The version compared with (the one before), absent for the first.
    pub previous: Option<u64>,
    /// Who inserted what since the previous version, most first. Deletions are in
    /// `paragraphs`; Yjs does not record who deleted.
    pub authors: Vec<AuthorChanges>,
    pub summary: DiffSummaryView,
    #[schema(value_type = Vec<Object>)]
    pub paragraphs: Vec<ParagraphDiff>,
}

/// What changed in a version since the one before, and who wrote it.
#[utoipa::path(get, path = "/api/documents/{document_id}/versions/{number}/changes", tag = "versions",
    params(("document_id" = String, Path), ("number" = u64, Path)),
    responses((status = 200, body = ChangesView), (status = 404, body = ErrorBody)))]
pub async fn version_changes(
    State(state): State<AppState>,
    CurrentUser(session): CurrentUser,
    Path((document_id, number)): Path<(String, u64)>,
) -> Result<Json<ChangesView>, ApiError> {
    let (info, _) = document_access(&state, &session, &document_id).await?;
    let service = &state.versions;
    let version = service.version(&info.id, number).await?;
    let previous = service.versions.list_versions(&info.id, Some(number), 1).await?.into_iter().next();
    let state_bytes = service.versions.version_state(&version).await?;
    let previous_bytes = match &previous {
        Some(previous) => Some(service.versions.version_state(previous).await?),
        None => None,
    };
    let insertions = service.insertions_between(&info.id, previous_bytes.as_deref(), &state_bytes).await?;
    let mut authors = Vec::with_capacity(insertions.len());
    for (insertion, owner) in insertions {
        let person = match owner {
            Some(user) => Some(person(&state, &user).await),
            None => None,
        };
        authors.push(AuthorChanges {
            person,
            client_id: insertion.client_id,
            inserted_chars: insertion.inserted_chars,
            excerpts: insertion.excerpts,
        });
    }
    let old = match &previous_bytes {
        Some(bytes) => relais_crdt::content::extract(bytes).map_err(VersionError::from)?,
        None => Content::default(),
    };
    let new = relais_crdt::content::extract(&state_bytes).map_err(VersionError::from)?;
    let paragraphs = compare(&old, &new);
    Ok(Json(ChangesView {
        version: version_view(&state, &version).await,
        previous: previous.map(|previous| previous.number),
        authors,
        summary: summary_view(&paragraphs),
        paragraphs,
    }))
}

#[derive(Serialize, ToSchema)]
pub struct RestoreView {
    /// The version whose content was brought back.
    pub restored_from: VersionView,
    /// The new version recording the document after the restore.
    pub version: VersionView,
}

/// Restores a version: a new edit making the live document's content equal to it, relayed
/// to everyone editing; nothing in the history is erased (editors and above).
#[utoipa::path(post, path = "/api/documents/{document_id}/versions/{number}/restore", tag = "versions",
    params(("document_id" = String, Path), ("number" = u64, Path)),
    responses((status = 200, body = RestoreView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "The document is under review")))]
pub async fn restore_version(
    State(state): State<AppState>,
    CurrentUser(session): CurrentUser,
    Path((document_id, number)): Path<(String, u64)>,
) -> Result<Json<RestoreView>, ApiError> {
    let (info, access) = document_access(&state, &session, &document_id).await?;
    if !access::can_edit(access.role) {
        return Err(ApiError::Forbidden("editors and above restore versions"));
    }
    if access.frozen {
        return Err(ApiError::Conflict("the document is under review".into()));
    }
    let user = session.user.id.to_string();
    let (from, version) = state.versions.restore(&info.id, number, &user, &actor(&session)).await?;
    audit(&state, &session, &info, "version.restored", serde_json::json!({ "from": from.number, "version": version.number })).await?;
    Ok(Json(RestoreView { restored_from: version_view(&state, &from).await, version: version_view(&state, &version).await }))
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct ExportQuery {
    /// `md`, `html`, `docx` or `odt`.
    pub format: String,
}

fn file_response(title: &str, number: Option<u64>, format: Format, bytes: Vec<u8>) -> Response {
    let stem: String = title
        .chars()
        .map(|c| if c.is_alphanumeric() || c == '-' || c == '_' { c } else { '-' })
        .collect::<String>()
        .trim_matches('-')
        .chars()
        .take(80)
        .collect();
    let stem = if stem.is_empty() { "document".to_owned() } else { stem };
    let name = match number {
        Some(number) => format!("{stem}-v{number}.{}", format.extension()),
        None => format!("{stem}.{}", format.extension()),
    };
    let headers = super::download_headers(format.media_type(), &name, EXPORT_CSP);
    (headers, bytes).into_response()
}

/// Exported HTML carries its own styles; nothing else may load or run.
pub(crate) const EXPORT_CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; sandbox";

pub(crate) fn parse_format(format: &str) -> Result<Format, ApiError> {
    Format::from_extension(format).ok_or_else(|| ApiError::BadRequest("format is one of md, html, docx, odt".into()))
}

/// Exports a version as Markdown, HTML, DOCX or ODT. The SHA-256 of an export of an approved
/// version is recorded, so that the file can be verified later.
#[utoipa::path(get, path = "/api/documents/{document_id}/versions/{number}/export", tag = "versions",
    params(("document_id" = String, Path), ("number" = u64, Path), ExportQuery),
    responses((status = 200, description = "The file", content_type = "application/octet-stream"), (status = 404, body = ErrorBody)))]
pub async fn export_version(
    State(state): State<AppState>,
    CurrentUser(session): CurrentUser,
    Path((document_id, number)): Path<(String, u64)>,
    Query(query): Query<ExportQuery>,
) -> Result<Response, ApiError> {
    let format = parse_format(&query.format)?;
    let (info, _) = document_access(&state, &session, &document_id).await?;
    let version = state.versions.version(&info.id, number).await?;
    let content = state.versions.content_of(&version).await?;
    let bytes = state.versions.export(&info.title, &version, &content, format).await?;
    Ok(file_response(&info.title, Some(version.number), format, bytes))
}

#[derive(Serialize, ToSchema)]
pub struct IntegrityView {
    /// The SHA-256 recorded when the version was made (the seal's hash once approved).
    pub recorded_sha256: String,
    /// The SHA-256 of the stored state now.
    pub actual_sha256: String,
    pub intact: bool,
    pub sealed: bool,
}

/// Checks a version's stored state against its recorded SHA-256.
#[utoipa::path(get, path = "/api/documents/{document_id}/versions/{number}/integrity", tag = "versions",
    params(("document_id" = String, Path), ("number" = u64, Path)),
    responses((status = 200, body = IntegrityView), (status = 404, body = ErrorBody)))]
pub async fn version_integrity(
    State(state): State<AppState>,
    CurrentUser(session): CurrentUser,
    Path((document_id, number)): Path<(String, u64)>,
) -> Result<Json<IntegrityView>, ApiError> {
    let (info, _) = document_access(&state, &session, &document_id).await?;
    let version = state.versions.version(&info.id, number).await?;
    // Read the blob without the store's check, to report a mismatch rather than fail on it.
    let actual = match state.versions.versions.version_state(&version).await {
        Ok(bytes) => sha256_hex(&bytes),
        Err(relais_storage::StoreError::Corrupt(_)) => String::new(),
        Err(error) => return Err(error.into()),
    };
    Ok(Json(IntegrityView {
        intact: actual == version.sha256_hex,
        recorded_sha256: version.sha256_hex.clone(),
        actual_sha256: actual,
        sealed: version.seal.is_some(),
    }))
}

#[derive(Serialize, ToSchema)]
pub struct ReviewView {
    pub id: String,
    /// The submitted version's number.
    pub version: u64,
    pub submitted_by: PersonView,
    pub submitted_at_ms: i64,
    pub note: String,
    /// `approved` or `rejected`; absent while waiting.
    pub decision: Option<String>,
    pub decided_by: Option<PersonView>,
    pub decided_at_ms: Option<i64>,
    pub comment: Option<String>,
    /// The seal of the version, once approved.
    pub seal: Option<SealView>,
}

#[derive(Serialize, ToSchema)]
pub struct PublicationView {
    /// The published (approved) version's number.
    pub version: u64,
    pub published_at_ms: i64,
    pub published_by: PersonView,
    /// Readable without an account.
    pub url: String,
}

#[derive(Serialize, ToSchema)]
pub struct ReviewStatus {
    pub state: ReviewState,
    /// Whether the document refuses edits (under review).
    pub frozen: bool,
    /// Whether the caller may approve or reject (validators).
    pub can_decide: bool,
    /// Whether the caller may submit for validation (editors and above).
    pub can_submit: bool,
    /// Whether the caller may publish and unpublish (validators and owners).
    pub can_publish: bool,
    /// Newest first.
    pub reviews: Vec<ReviewView>,
    pub publication: Option<PublicationView>,
}

async fn review_view(state: &AppState, review: &Review) -> Result<ReviewView, ApiError> {
    let version = state.versions.versions.version_by_id(&review.version).await?;
    let seal = match &version {
        Some(version) => version_view(state, version).await.seal,
        None => None,
    };
    let version = version.map_or(0, |version| version.number);
    let decided_by = match &review.decision {
        Some(decision) => Some(person(state, &decision.decided_by).await),
        None => None,
    };
    Ok(ReviewView {
        id: review.id.to_string(),
        version,
        submitted_by: person(state, &review.submitted_by).await,
        submitted_at_ms: review.submitted_at_ms,
        note: review.note.clone(),
        decision: review.decision.as_ref().map(|decision| if decision.approved { "approved" } else { "rejected" }.to_owned()),
        decided_by,
        decided_at_ms: review.decision.as_ref().map(|decision| decision.decided_at_ms),
        comment: review.decision.as_ref().map(|decision| decision.comment.clone()),
        seal,
    })
}

pub(crate) fn public_url(state: &AppState, info: &DocumentInfo) -> String {
    let base = state.config.auth.public_url.as_str().trim_end_matches('/');
    format!("{base}/p/{}", info.id)
}

async fn review_status(state: &AppState, info: &DocumentInfo, access: &Access) -> Result<ReviewStatus, ApiError> {
    let (review_state, reviews) = state.versions.review_state(&info.id).await?;
    let mut views = Vec::with_capacity(reviews.len());
    for review in &reviews {
        views.push(review_view(state, review).await?);
    }
    let publication = match state.versions.versions.publication(&info.id).await? {
        Some(publication) => {
            let version = state.versions.versions.version_by_id(&publication.version).await?;
            Some(PublicationView {
                version: version.map_or(0, |version| version.number),
                published_at_ms: publication.published_at_ms,
                published_by: person(state, &publication.published_by).await,
                url: public_url(state, info),
            })
        }
        None => None,
    };
    Ok(ReviewStatus {
        state: review_state,
        frozen: review_state == ReviewState::Submitted,
        can_decide: access.role == Role::Validator,
        can_submit: access::can_edit(access.role),
        can_publish: matches!(access.role, Role::Validator | Role::Owner),
        reviews: views,
        publication,
    })
}

/// Where the document stands in the validation workflow.
#[utoipa::path(get, path = "/api/documents/{document_id}/review", tag = "versions",
    params(("document_id" = String, Path)),
    responses((status = 200, body = ReviewStatus), (status = 404, body = ErrorBody)))]
pub async fn get_review(
    State(state): State<AppState>,
    CurrentUser(session): CurrentUser,
    Path(document_id): Path<String>,
) -> Result<Json<ReviewStatus>, ApiError> {
    let (info, access) = document_access(&state, &session, &document_id).await?;
    Ok(Json(review_status(&state, &info, &access).await?))
}

#[derive(Deserialize, ToSchema, Default)]
pub struct SubmitRequest {
    /// A word for the validator.
    #[serde(default)]
    pub note: String,
}

/// Submits the document as it is now for validation: it is frozen (nobody edits it) until a
/// validator decides (editors and above).
#[utoipa::path(post, path = "/api/documents/{document_id}/review/submit", tag = "versions",
    params(("document_id" = String, Path)), request_body = SubmitRequest,
    responses((status = 200, body = ReviewStatus), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "Already under review")))]
pub async fn submit_review(
    State(state): State<AppState>,
    CurrentUser(session): CurrentUser,
    Path(document_id): Path<String>,
    Json(request): Json<SubmitRequest>,
) -> Result<Json<ReviewStatus>, ApiError> {
    let (info, access) = document_access(&state, &session, &document_id).await?;
    if !access::can_edit(access.role) {
        return Err(ApiError::Forbidden("editors and above submit for validation"));
    }
    let note = check_text("note", &request.note, false)?;
    let (version, _) = state.versions.submit(&info.id, &actor(&session), &note).await?;
    audit(&state, &session, &info, "document.submitted", serde_json::json!({ "version": version.number, "sha256": version.sha256_hex })).await?;
    let access = Access { frozen: true, ..access };
    Ok(Json(review_status(&state, &info, &access).await?))
}

#[derive(Deserialize, ToSchema)]
pub struct DecisionRequest {
    /// Required to reject; recorded in the seal when approving.
    #[serde(default)]
    pub comment: String,
}

fn check_text(field: &str, text: &str, required: bool) -> Result<String, ApiError> {
    let text = text.trim();
    if required && text.is_empty() {
        return Err(ApiError::BadRequest(format!("{field} is required")));
    }
    if text.len() > 4000 || text.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return Err(ApiError::BadRequest(format!("{field} must be at most 4000 bytes of text")));
    }
    Ok(text.to_owned())
}

async fn decide(state: AppState, session: SessionCaller, document_id: String, approved: bool, comment: String) -> Result<Json<ReviewStatus>, ApiError> {
    let (info, access) = document_access(&state, &session, &document_id).await?;
    if access.role != Role::Validator {
        return Err(ApiError::Forbidden("only a validator of the document approves or rejects"));
    }
    let comment = check_text("comment", &comment, !approved)?;
    let (_, version) = state.versions.decide(&info.id, approved, &actor(&session), comment).await?;
    let action = if approved { "document.approved" } else { "document.rejected" };
    audit(&state, &session, &info, action, serde_json::json!({ "version": version.number, "sha256": version.sha256_hex })).await?;
    Ok(Json(review_status(&state, &info, &access).await?))
}

/// Approves the submitted version: it is sealed (its content hash, validator, time and
/// comment are recorded and it never changes again) and editing resumes (validators only).
#[utoipa::path(post, path = "/api/documents/{document_id}/review/approve", tag = "versions",
    params(("document_id" = String, Path)), request_body = DecisionRequest,
    responses((status = 200, body = ReviewStatus), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn approve_review(
    State(state): State<AppState>,
    CurrentUser(session): CurrentUser,
    Path(document_id): Path<String>,
    Json(request): Json<DecisionRequest>,
) -> Result<Json<ReviewStatus>, ApiError> {
    decide(state, session, document_id, true, request.comment).await
}

/// Rejects the submitted version with a comment; editing resumes (validators only).
#[utoipa::path(post, path = "/api/documents/{document_id}/review/reject", tag = "versions",
    params(("document_id" = String, Path)), request_body = DecisionRequest,
    responses((status = 200, body = ReviewStatus), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn reject_review(
    State(state): State<AppState>,
    CurrentUser(session): CurrentUser,
    Path(document_id): Path<String>,
    Json(request): Json<DecisionRequest>,
) -> Result<Json<ReviewStatus>, ApiError> {
    decide(state, session, document_id, false, request.comment).await
}

/// Publishes the latest approved version at `/p/{document_id}`, readable without an account
/// (validators and owners).
#[utoipa::path(post, path = "/api/documents/{document_id}/publication", tag = "versions",
    params(("document_id" = String, Path)),
    responses((status = 200, body = PublicationView), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn publish(
    State(state): State<AppState>,
    CurrentUser(session): CurrentUser,
    Path(document_id): Path<String>,
) -> Result<Json<PublicationView>, ApiError> {
    let (info, access) = document_access(&state, &session, &document_id).await?;
    if !matches!(access.role, Role::Validator | Role::Owner) {
        return Err(ApiError::Forbidden("validators and owners publish"));
    }
    let (publication, version) = state.versions.publish(&info.id, &actor(&session)).await?;
    audit(&state, &session, &info, "document.published", serde_json::json!({ "version": version.number })).await?;
    Ok(Json(PublicationView {
        version: version.number,
        published_at_ms: publication.published_at_ms,
        published_by: person(&state, &publication.published_by).await,
        url: public_url(&state, &info),
    }))
}

/// Removes the public page (validators and owners).
#[utoipa::path(delete, path = "/api/documents/{document_id}/publication", tag = "versions",
    params(("document_id" = String, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn unpublish(
    State(state): State<AppState>,
    CurrentUser(session): CurrentUser,
    Path(document_id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let (info, access) = document_access(&state, &session, &document_id).await?;
    if !matches!(access.role, Role::Validator | Role::Owner) {
        return Err(ApiError::Forbidden("validators and owners unpublish"));
    }
    if !state.versions.versions.unpublish(&info.id).await? {
        return Err(ApiError::NotFound("publication"));
    }
    audit(&state, &session, &info, "document.unpublished", serde_json::json!({})).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, ToSchema)]
pub struct VerifyView {
    /// SHA-256 of the file sent.
    pub sha256: String,
    /// Whether it is an approved version's state or a recorded export of one.
    pub matches: bool,
    /// The export format (`md`, `html`, `docx`, `odt`), or `yjs` for the stored state.
    pub format: Option<String>,
    pub version: Option<u64>,
    pub sealed_at_ms: Option<i64>,
    /// The seal's hash (SHA-256 of the approved state).
    pub seal_sha256: Option<String>,
    /// The document's title and public page, when it is published.
    pub title: Option<String>,
    pub public_url: Option<String>,
}

/// Tells whether a file is exactly an approved version (its stored state, or an export of it
/// made by this server). Open to anyone, rate-limited; says which document only when it is
/// published.
#[utoipa::path(post, path = "/api/verify", tag = "versions",
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 200, body = VerifyView), (status = 413, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn verify_file(State(state): State<AppState>, ClientAddr(address): ClientAddr, body: Bytes) -> Result<Json<VerifyView>, ApiError> {
    rate_limited(&state, address)?;
    let sha256 = sha256_hex(&body);
    let Some(found) = state.versions.versions.find_sealed(&sha256).await? else {
        return Ok(Json(VerifyView {
            sha256,
            matches: false,
            format: None,
            version: None,
            sealed_at_ms: None,
            seal_sha256: None,
            title: None,
            public_url: None,
        }));
    };
    let published = state.versions.versions.publication(&found.version.document).await?.is_some();
    let info = if published { state.directory.document(&found.version.document).await? } else { None };
    Ok(Json(VerifyView {
        sha256,
        matches: true,
        format: Some(found.format.unwrap_or_else(|| "yjs".to_owned())),
        version: Some(found.version.number),
        sealed_at_ms: found.version.seal.as_ref().map(|seal| seal.sealed_at_ms),
        seal_sha256: Some(found.version.sha256_hex.clone()),
        public_url: info.as_ref().map(|info| public_url(&state, info)),
        title: info.map(|info| info.title),
    }))
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct ActionsQuery {
    /// `open` (default), `done` or `all`.
    pub status: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ActionView {
    pub document_id: String,
    pub document_title: String,
    pub assignee: String,
    /// `YYYY-MM-DD`.
    pub due: Option<String>,
    /// `open` or `done`.
    pub status: String,
    pub text: String,
}

/// The action items of the workspace's minutes (documents the caller can read), by due date
/// (undated last).
#[utoipa::path(get, path = "/api/workspaces/{workspace_id}/actions", tag = "versions",
    params(("workspace_id" = String, Path), ActionsQuery),
    responses((status = 200, body = Vec<ActionView>), (status = 404, body = ErrorBody)))]
pub async fn workspace_actions(
    State(state): State<AppState>,
    CurrentUser(session): CurrentUser,
    Path(workspace_id): Path<String>,
    Query(query): Query<ActionsQuery>,
) -> Result<Json<Vec<ActionView>>, ApiError> {
    let wanted = match query.status.as_deref().unwrap_or("open") {
        "open" => Some(ActionStatus::Open),
        "done" => Some(ActionStatus::Done),
        "all" => None,
        _ => return Err(ApiError::BadRequest("status is open, done or all".into())),
    };
    let workspace = parse_workspace(&workspace_id)?;
    role_in(&state, &session.user, &workspace).await?;
    let caller = Caller::User(session.clone());
    let now = auth::now_ms();
    let mut actions = Vec::new();
    for info in state.directory.list_documents(&workspace).await? {
        if access::document_access(state.directory.as_ref(), &caller, &info.id, now).await?.is_none() {
            continue;
        }
        let (live, _) = state.versions.live_state(&info.id).await?;
        let content = relais_crdt::content::extract(&live).map_err(VersionError::from)?;
        for item in relais_crdt::content::action_items(&content) {
            if wanted.is_some_and(|wanted| wanted != item.status) {
                continue;
            }
            actions.push(ActionView {
                document_id: info.id.to_string(),
                document_title: info.title.clone(),
                assignee: item.assignee.clone(),
                due: item.due.clone(),
                status: match item.status {
                    ActionStatus::Open => "open",
                    ActionStatus::Done => "done",
                }
                .to_owned(),
                text: relais_crdt::content::inline_text(&item.content),
            });
        }
    }
    actions.sort_by(|a, b| (a.due.is_none(), &a.due, &a.document_title).cmp(&(b.due.is_none(), &b.due, &b.document_title)));
    Ok(Json(actions))
}

#[derive(Serialize, ToSchema)]
pub struct LiveContent {
    /// The last seq of the document's log this content covers.
    pub upto_seq: u64,
    #[schema(value_type = Object)]
    pub content: Content,
}

/// The document's content as it is now (committed edits), as a tree of blocks.
#[utoipa::path(get, path = "/api/documents/{document_id}/content", tag = "versions",
    params(("document_id" = String, Path)),
    responses((status = 200, body = LiveContent), (status = 404, body = ErrorBody)))]
pub async fn live_content(
    State(state): State<AppState>,
    CurrentUser(session): CurrentUser,
    Path(document_id): Path<String>,
) -> Result<Json<LiveContent>, ApiError> {
    let (info, _) = document_access(&state, &session, &document_id).await?;
    let (live, seq) = state.versions.live_state(&info.id).await?;
    let content = relais_crdt::content::extract(&live).map_err(VersionError::from)?;
    Ok(Json(LiveContent { upto_seq: seq.0, content }))
}
