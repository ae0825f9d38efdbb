//! The public pages of published documents: `/p/{document}` shows the approved version that
//! was published (never the live draft) to anyone, without an account, and
//! `/p/{document}/document.{md,html,docx,odt}` downloads it.

use axum::extract::{Path, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use relais_export::escape_html as escape;
use relais_storage::DocumentId;

use crate::http::AppState;
use crate::versions::{french_datetime, version_label};

fn not_found() -> Response {
    let page = "<!doctype html><html lang=\"fr\"><head><meta charset=\"utf-8\"><title>Document introuvable</title></head>\
        <body><main><h1>Document introuvable</h1><p>Ce document n'est pas publié, ou ne l'est plus.</p></main></body></html>";
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    (StatusCode::NOT_FOUND, headers, page).into_response()
}

/// Published pages are cached for a minute at most: an unpublish must take effect soon.
fn headers(content_type: &'static str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert("cache-control", HeaderValue::from_static("public, max-age=60"));
    headers.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    headers
}

pub async fn page(State(state): State<AppState>, Path(document): Path<String>) -> Response {
    match render_page(&state, &document).await {
        Ok(Some(page)) => {
            let mut headers = headers("text/html; charset=utf-8");
            headers.insert(
                "content-security-policy",
                HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'; img-src 'self'"),
            );
            (headers, page).into_response()
        }
        Ok(None) => not_found(),
        Err(error) => {
            tracing::warn!(error = %error, "cannot render a public page");
            (StatusCode::SERVICE_UNAVAILABLE, "Service momentanément indisponible").into_response()
        }
    }
}

async fn render_page(state: &AppState, document: &str) -> Result<Option<String>, crate::versions::VersionError> {
    let Ok(id) = DocumentId::parse(document) else { return Ok(None) };
    let Some(info) = state.directory.document(&id).await? else { return Ok(None) };
    if info.deleted_at_ms.is_some() {
        return Ok(None);
    }
    let Some((_, version, content)) = state.versions.published(&id).await? else { return Ok(None) };
    let Some(seal) = &version.seal else { return Ok(None) };
    let validator = state.versions.display_name(&seal.sealed_by).await;
    let body = relais_export::html_body(&content);
    let title = escape(&info.title);
    let downloads: String = relais_export::Format::ALL
        .iter()
        .map(|format| {
            format!(
                "<li><a href=\"/p/{id}/document.{ext}\" download>{label}</a></li>",
                id = escape(id.as_str()),
                ext = format.extension(),
                label = match format {
                    relais_export::Format::Odt => "OpenDocument (.odt)",
                    relais_export::Format::Docx => "Word (.docx)",
                    relais_export::Format::Html => "Page web (.html)",
                    relais_export::Format::Markdown => "Markdown (.md)",
                }
            )
        })
        .collect();
    let comment = if seal.comment.is_empty() {
        String::new()
    } else {
        format!("<dt>Commentaire</dt><dd>{}</dd>", escape(&seal.comment))
    };
    Ok(Some(format!(
        r#"<!doctype html>
<html lang="fr">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; line-height: 1.5; color: #161616; margin: 0; }}
header, main, footer {{ max-width: 46rem; margin: 0 auto; padding: 1rem; }}
header {{ border-bottom: 1px solid #ddd; }}
dl {{ display: grid; grid-template-columns: max-content 1fr; gap: .25rem 1rem; }}
dt {{ font-weight: 600; }}
code {{ word-break: break-all; }}
table {{ border-collapse: collapse; }} th, td {{ border: 1px solid #999; padding: .25rem .5rem; }}
a {{ color: #000091; }} a:focus {{ outline: 2px solid #000091; outline-offset: 2px; }}
</style>
</head>
<body>
<header>
<p>Document publié</p>
<h1>{title}</h1>
<dl>
<dt>Version</dt><dd>{label}</dd>
<dt>Validée le</dt><dd>{validated_at}</dd>
<dt>Validée par</dt><dd>{validator}</dd>
{comment}
<dt>Empreinte SHA-256</dt><dd><code>{sha256}</code></dd>
</dl>
</header>
<main id="contenu">
{body}
</main>
<footer>
<h2>Télécharger cette version</h2>
<ul>{downloads}</ul>
<p>L'empreinte permet de vérifier qu'un fichier est exactement la version validée.</p>
</footer>
</body>
</html>
"#,
        label = escape(&version_label(&version)),
        validated_at = escape(&french_datetime(seal.sealed_at_ms)),
        validator = escape(&validator),
        sha256 = escape(&version.sha256_hex),
    )))
}

pub async fn download(State(state): State<AppState>, Path((document, file)): Path<(String, String)>) -> Response {
    let Some(format) = file.strip_prefix("document.").and_then(relais_export::Format::from_extension) else {
        return not_found();
    };
    let Ok(id) = DocumentId::parse(&document) else { return not_found() };
    let outcome = async {
        let Some(info) = state.directory.document(&id).await? else { return Ok(None) };
        if info.deleted_at_ms.is_some() {
            return Ok(None);
        }
        let Some((_, version, content)) = state.versions.published(&id).await? else { return Ok(None) };
        let bytes = state.versions.export(&info.title, &version, &content, format).await?;
        Ok::<_, crate::versions::VersionError>(Some(bytes))
    }
    .await;
    match outcome {
        Ok(Some(bytes)) => {
            let name = format!("document.{}", format.extension());
            let mut headers =
                crate::api::download_headers(format.media_type(), &name, crate::api::EXPORT_CSP);
            headers.insert("cache-control", HeaderValue::from_static("public, max-age=60"));
            (headers, bytes).into_response()
        }
        Ok(None) => not_found(),
        Err(error) => {
            tracing::warn!(error = %error, "cannot export a published document");
            (StatusCode::SERVICE_UNAVAILABLE, "Service momentanément indisponible").into_response()
        }
    }
}
