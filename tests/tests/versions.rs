//! Version history and validation, end to end on SQLite and Postgres: automatic and named
//! versions, comparison, restore relayed to every editor, the review workflow with the hub's
//! freeze, the seal that nothing can change, publication, exports read back by independent
//! readers, `relais verify`, and the action items of minutes.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail, ensure};
use relais_tests::api::{Api, Socket};
use relais_tests::fixtures::{Site, expect_status};
use relais_tests::{Backend, TestServer, eventually};
use serde_json::{Value, json};
use sqlx::Connection;
use yrs::{
    Any, Text, WriteTxn, Xml, XmlElementPrelim, XmlElementRef, XmlFragment, XmlTextPrelim,
    XmlTextRef,
};

const WAIT: Duration = Duration::from_secs(15);

/// An external partner made by the administrator, with `role` on the site's document for an
/// hour.
async fn partner(server: &TestServer, site: &Site, label: &str, role: &str) -> anyhow::Result<Api> {
    let partner = site.external(server, label, label).await?;
    let path = site.path(&format!("/members/{}", partner.user_id()));
    let expires_at_ms = relais_tests::fixtures::now_ms() + 3_600_000;
    expect_status(
        site.owner
            .put(
                &path,
                json!({ "role": role, "expires_at_ms": expires_at_ms }),
            )
            .await?,
        204,
        "sharing the document",
    )?;
    Ok(partner)
}

async fn open(server: &TestServer, document: &str, api: &Api) -> anyhow::Result<Socket> {
    let socket = Socket::open_with_session(server, document, api).await?;
    if let Some(closed) = socket.wait_synced_or_closed(WAIT).await? {
        bail!("closed on open: {closed:?}");
    }
    Ok(socket)
}

/// Versions of the document, newest first.
async fn versions(api: &Api, site: &Site) -> anyhow::Result<Vec<Value>> {
    let page = expect_status(
        api.get(&site.path("/versions")).await?,
        200,
        "listing versions",
    )?;
    Ok(page["versions"].as_array().cloned().unwrap_or_default())
}

/// The concatenated texts of the segments with `op` over every paragraph of a comparison.
fn segments(comparison: &Value, op: &str) -> String {
    let mut text = String::new();
    for paragraph in comparison["paragraphs"].as_array().into_iter().flatten() {
        for segment in paragraph["segments"].as_array().into_iter().flatten() {
            if segment["op"] == op {
                text.push_str(segment["text"].as_str().unwrap_or_default());
            }
        }
    }
    text
}

/// The live content's plain text, paragraphs joined by newlines.
async fn live_text(api: &Api, site: &Site) -> anyhow::Result<String> {
    let live = expect_status(
        api.get(&site.path("/content")).await?,
        200,
        "reading the live content",
    )?;
    Ok(plain(&live["content"]))
}

fn plain(content: &Value) -> String {
    fn walk(value: &Value, out: &mut String) {
        match value {
            Value::Object(map) => {
                if map.get("type").and_then(Value::as_str) == Some("text") {
                    out.push_str(map.get("text").and_then(Value::as_str).unwrap_or_default());
                }
                for (key, child) in map {
                    if key != "text" {
                        walk(child, out);
                    }
                }
                if matches!(
                    map.get("type").and_then(Value::as_str),
                    Some("paragraph" | "heading")
                ) {
                    out.push('\n');
                }
            }
            Value::Array(items) => items.iter().for_each(|item| walk(item, out)),
            _ => {}
        }
    }
    let mut out = String::new();
    walk(content, &mut out);
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn versions_compare_and_restore_on_sqlite() -> anyhow::Result<()> {
    versions_compare_and_restore(Backend::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn versions_compare_and_restore_on_postgres() -> anyhow::Result<()> {
    versions_compare_and_restore(Backend::Postgres).await
}

/// Automatic versions (after an interval of editing, and when the last editor leaves) and
/// named ones; a comparison shows exactly what was inserted and deleted; a restore brings
/// every connected client back to the old content and keeps later versions.
async fn versions_compare_and_restore(backend: Backend) -> anyhow::Result<()> {
    let server = TestServer::start_with(
        backend,
        &["--version-interval-seconds", "1", "--room-grace-ms", "300"],
    )
    .await?;
    let site = Site::build(&server, "Compte rendu du conseil").await?;
    let editor = site.add_staff(&server, "redactrice", "editor").await?;

    // The last editor leaving makes an automatic version.
    let socket = open(&server, &site.document_id, &editor).await?;
    socket.append("Le conseil a voté.")?;
    socket.fence(WAIT).await?;
    socket.close();
    let automatic = eventually(
        WAIT,
        "an automatic version when the last editor leaves",
        || async {
            versions(&editor, &site)
                .await
                .ok()
                .and_then(|list| list.into_iter().find(|v| v["kind"] == "auto"))
        },
    )
    .await?;
    ensure!(
        automatic["authors"][0]["name"] == "redactrice",
        "authors of the automatic version: {automatic}"
    );

    // While editing goes on, one more after the interval.
    let socket = open(&server, &site.document_id, &editor).await?;
    socket.append(" Première délibération.")?;
    socket.fence(WAIT).await?;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    socket.append(" Deuxième délibération.")?;
    socket.fence(WAIT).await?;
    eventually(
        WAIT,
        "an automatic version after the interval while editing",
        || async {
            let list = versions(&editor, &site).await.ok()?;
            (list.iter().filter(|v| v["kind"] == "auto").count() >= 2).then_some(())
        },
    )
    .await?;

    let first = expect_status(
        editor
            .post(
                &site.path("/versions"),
                json!({ "name": "Avant comité de pilotage" }),
            )
            .await?,
        201,
        "naming a version",
    )?;
    socket.edit(|txn| {
        let text = txn.get_or_insert_text("text");
        let at = "Le conseil".len() as u32;
        text.insert(txn, at, " municipal");
        let length = text.len(txn);
        // Deletes the final "délibération." of the text.
        text.remove_range(
            txn,
            length - "délibération.".len() as u32,
            "délibération.".len() as u32,
        );
    })?;
    socket.append("séance levée.")?;
    socket.fence(WAIT).await?;
    let second = expect_status(
        editor
            .post(&site.path("/versions"), json!({ "name": "Après comité" }))
            .await?,
        201,
        "naming a second version",
    )?;
    let (a, b) = (
        first["number"].as_u64().context("number")?,
        second["number"].as_u64().context("number")?,
    );
    ensure!(b > a, "numbers increase: {a} then {b}");

    let comparison = expect_status(
        editor
            .get(&site.path(&format!("/compare?from={a}&to={b}")))
            .await?,
        200,
        "comparing two versions",
    )?;
    let inserted = segments(&comparison, "insert");
    let deleted = segments(&comparison, "delete");
    // Word by word: "municipal " went in, and "délibération" became "séance levée".
    ensure!(
        inserted == "municipal séance levée",
        "inserted text: {inserted:?} ({comparison})"
    );
    ensure!(
        deleted == "délibération",
        "deleted text: {deleted:?} ({comparison})"
    );
    ensure!(
        comparison["summary"]["paragraphs_changed"].as_u64() == Some(1),
        "{comparison}"
    );
    // Against the live document (nothing changed since `b`) there is nothing to show.
    let live = expect_status(
        editor
            .get(&site.path(&format!("/compare?from={b}")))
            .await?,
        200,
        "comparing with live",
    )?;
    ensure!(
        segments(&live, "insert").is_empty() && segments(&live, "delete").is_empty(),
        "{live}"
    );

    // Who changed what since the previous version.
    let changes = expect_status(
        editor
            .get(&site.path(&format!("/versions/{b}/changes")))
            .await?,
        200,
        "changes",
    )?;
    let author = &changes["authors"][0];
    ensure!(
        author["person"]["name"] == "redactrice" && author["inserted_chars"].as_u64() > Some(0),
        "{changes}"
    );

    // Restore the first named version with two people connected: both come back to it.
    let other = site.add_staff(&server, "relectrice", "editor").await?;
    let watcher = open(&server, &site.document_id, &other).await?;
    let old_text = "Le conseil a voté. Première délibération. Deuxième délibération.";
    ensure!(
        watcher.text().contains("séance levée."),
        "watcher text: {}",
        watcher.text()
    );
    let restored = expect_status(
        editor
            .post(&site.path(&format!("/versions/{a}/restore")), json!({}))
            .await?,
        200,
        "restoring",
    )?;
    for (name, client) in [
        ("the restorer's editor", &socket),
        ("the other editor", &watcher),
    ] {
        eventually(
            WAIT,
            &format!("{name} to see the restored text"),
            || async { (client.text() == old_text).then_some(()) },
        )
        .await?;
    }
    ensure!(
        live_text(&editor, &site).await?.trim() == old_text,
        "live content after restore"
    );
    let list = versions(&editor, &site).await?;
    let numbers: Vec<u64> = list.iter().filter_map(|v| v["number"].as_u64()).collect();
    ensure!(
        numbers.contains(&a) && numbers.contains(&b),
        "earlier versions kept: {numbers:?}"
    );
    ensure!(
        list[0]["kind"] == "restore" && restored["version"]["number"] == list[0]["number"],
        "{restored}"
    );
    let restore_changes = expect_status(
        editor
            .get(&site.path(&format!("/versions/{}/changes", list[0]["number"])))
            .await?,
        200,
        "changes",
    )?;
    ensure!(
        restore_changes["authors"]
            .as_array()
            .is_some_and(|authors| authors
                .iter()
                .any(|author| author["person"]["name"] == "redactrice")),
        "the restore is attributed to the restorer: {restore_changes}"
    );
    // Pagination: one at a time, newest first, down to the first.
    let page = expect_status(
        editor.get(&site.path("/versions?limit=1")).await?,
        200,
        "first page",
    )?;
    let before = page["next_before"].as_u64().context("next_before")?;
    let next = expect_status(
        editor
            .get(&site.path(&format!("/versions?limit=1&before={before}")))
            .await?,
        200,
        "page",
    )?;
    ensure!(
        next["versions"][0]["number"].as_u64() == Some(before - 1),
        "{next}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn review_workflow_on_sqlite() -> anyhow::Result<()> {
    review_workflow(Backend::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn review_workflow_on_postgres() -> anyhow::Result<()> {
    review_workflow(Backend::Postgres).await
}

/// Submit freezes the document at the hub; only the validator approves; the approved version
/// is sealed and cannot be changed by the API, the database or a retention run; it is
/// published and stays so while the draft moves on; exports verify.
async fn review_workflow(backend: Backend) -> anyhow::Result<()> {
    let server = TestServer::start(backend).await?;
    let site = Site::build(&server, "Note de projet").await?;
    let editor = site.add_staff(&server, "redacteur", "editor").await?;
    let validator = site.add_staff(&server, "validatrice", "validator").await?;
    let reader = site.add_staff(&server, "lecteur", "reader").await?;
    let partner = partner(&server, &site, "bureau-etudes", "commenter").await?;

    let writing = open(&server, &site.document_id, &editor).await?;
    let reading = open(&server, &site.document_id, &reader).await?;
    writing.append("Texte soumis à validation.")?;
    writing.fence(WAIT).await?;
    eventually(WAIT, "the reader to see the text", || async {
        (reading.text() == "Texte soumis à validation.").then_some(())
    })
    .await?;

    // Neither a reader nor a partner may submit.
    for (who, api) in [("a reader", &reader), ("a commenter partner", &partner)] {
        let (status, _) = api.post(&site.path("/review/submit"), json!({})).await?;
        ensure!(status == 403, "{who} submitting: {status}");
    }
    let status = expect_status(
        editor
            .post(
                &site.path("/review/submit"),
                json!({ "note": "Pour le conseil du 2 décembre" }),
            )
            .await?,
        200,
        "submitting",
    )?;
    ensure!(
        status["state"] == "submitted" && status["frozen"] == true,
        "{status}"
    );
    let (again, _) = editor.post(&site.path("/review/submit"), json!({})).await?;
    ensure!(again == 409, "a second submission: {again}");

    // Frozen: the editor's update is refused at once, reaches nobody and nothing stored.
    writing.append(" Ajout interdit.")?;
    writing.fence(WAIT).await?;
    ensure!(
        !writing.denied().is_empty(),
        "the editor is told the update was refused"
    );
    reading.fence(WAIT).await?;
    ensure!(
        !reading.text().contains("interdit"),
        "the reader got the refused update: {}",
        reading.text()
    );
    ensure!(
        !live_text(&editor, &site).await?.contains("interdit"),
        "the store holds the refused update"
    );
    let (status, _) = editor
        .post(&site.path("/versions/1/restore"), json!({}))
        .await?;
    ensure!(status == 409, "restoring while submitted: {status}");

    // Readers compare but cannot restore or approve; only the validator decides.
    let submitted = versions(&reader, &site).await?;
    let number = submitted[0]["number"].as_u64().context("number")?;
    ensure!(submitted[0]["kind"] == "submitted", "{submitted:?}");
    expect_status(
        reader
            .get(&site.path(&format!("/versions/{number}")))
            .await?,
        200,
        "a reader opens a version",
    )?;
    expect_status(
        reader
            .get(&site.path(&format!("/compare?from={number}")))
            .await?,
        200,
        "a reader compares",
    )?;
    let (status, _) = reader
        .post(
            &site.path(&format!("/versions/{number}/restore")),
            json!({}),
        )
        .await?;
    ensure!(status == 403, "a reader restoring: {status}");
    for (who, api) in [
        ("a reader", &reader),
        ("a commenter partner", &partner),
        ("the editor", &editor),
        ("the owner", &site.owner),
    ] {
        let (status, _) = api
            .post(&site.path("/review/approve"), json!({ "comment": "ok" }))
            .await?;
        ensure!(status == 403, "{who} approving: {status}");
    }
    let (status, _) = validator
        .post(&site.path("/review/reject"), json!({ "comment": "" }))
        .await?;
    ensure!(status == 400, "rejecting without a comment: {status}");
    let approved = expect_status(
        validator
            .post(
                &site.path("/review/approve"),
                json!({ "comment": "Conforme à la délibération" }),
            )
            .await?,
        200,
        "approving",
    )?;
    ensure!(
        approved["state"] == "approved" && approved["frozen"] == false,
        "{approved}"
    );
    let sealed = expect_status(
        validator
            .get(&site.path(&format!("/versions/{number}")))
            .await?,
        200,
        "the sealed version",
    )?;
    let seal = &sealed["version"]["seal"];
    ensure!(
        seal["validator"]["name"] == "validatrice"
            && seal["comment"] == "Conforme à la délibération",
        "{sealed}"
    );
    let hash = sealed["version"]["sha256"]
        .as_str()
        .context("sha256")?
        .to_owned();
    ensure!(
        plain(&sealed["content"]).trim() == "Texte soumis à validation.",
        "{sealed}"
    );

    // Editing resumes (the access watch lifts the freeze within its poll). A client whose
    // edits were refused keeps them locally until it resyncs, so a fresh one writes.
    let resumed = open(&server, &site.document_id, &editor).await?;
    eventually(WAIT, "editing to resume after approval", || async {
        resumed.append(" Suite.").ok()?;
        resumed.fence(WAIT).await.ok()?;
        let text = live_text(&editor, &site).await.ok()?;
        text.contains("Suite.").then_some(())
    })
    .await?;
    ensure!(
        !live_text(&editor, &site).await?.contains("interdit"),
        "a refused edit reached the store after approval"
    );
    let status = expect_status(
        editor.get(&site.path("/review")).await?,
        200,
        "review state",
    )?;
    ensure!(
        status["state"] == "draft",
        "edited after approval is a draft again: {status}"
    );

    // Publication shows the approved version, not the draft.
    let (status, _) = editor.post(&site.path("/publication"), json!({})).await?;
    ensure!(status == 403, "an editor publishing: {status}");
    let publication = expect_status(
        validator
            .post(&site.path("/publication"), json!({}))
            .await?,
        200,
        "publishing",
    )?;
    let url = publication["url"].as_str().context("url")?.to_owned();
    let public_path = url
        .split_once("/p/")
        .map(|(_, rest)| format!("/p/{rest}"))
        .context("public path")?;
    let anonymous = Api::anonymous(&server)?;
    let (status, _, page) = anonymous.download(&public_path).await?;
    let page = String::from_utf8(page)?;
    ensure!(status == 200, "public page: {status}");
    ensure!(
        page.contains("lang=\"fr\"") && page.contains("Texte soumis à validation."),
        "{page}"
    );
    ensure!(
        !page.contains("Suite.") && !page.contains("interdit"),
        "the public page shows the draft: {page}"
    );
    ensure!(
        page.contains(&hash) && page.contains("Validée le"),
        "the seal on the public page: {page}"
    );

    // Exports of the sealed version verify, by the API and by `relais verify`; a changed file
    // does not.
    let (status, _, docx) = validator
        .download(&site.path(&format!("/versions/{number}/export?format=docx")))
        .await?;
    ensure!(
        status == 200 && docx.starts_with(b"PK"),
        "docx export: {status}"
    );
    let verdict = expect_status(
        anonymous.post_bytes("/api/verify", docx.clone()).await?,
        200,
        "verifying",
    )?;
    ensure!(
        verdict["matches"] == true
            && verdict["format"] == "docx"
            && verdict["seal_sha256"] == hash.as_str(),
        "{verdict}"
    );
    let file = server.data_dir().join("export.docx");
    std::fs::write(&file, &docx)?;
    let file_arg = file.display().to_string();
    let (code, stdout, stderr) = server.command_status(&["verify", &file_arg]).await?;
    ensure!(
        code == 0 && stdout.contains(&hash),
        "relais verify: {code} {stdout} {stderr}"
    );
    let mut altered = docx.clone();
    let last = altered.len() - 1;
    altered[last] ^= 1;
    std::fs::write(&file, &altered)?;
    let (code, _, stderr) = server.command_status(&["verify", &file_arg]).await?;
    ensure!(
        code == 1 && stderr.contains("matches no approved version"),
        "relais verify of a changed file: {code} {stderr}"
    );
    let verdict = expect_status(
        anonymous.post_bytes("/api/verify", altered).await?,
        200,
        "verifying a changed file",
    )?;
    ensure!(verdict["matches"] == false, "{verdict}");

    // Nothing changes a sealed version: no API to do it, the database refuses, retention
    // keeps it.
    let version_path = site.path(&format!("/versions/{number}"));
    for method in ["DELETE", "PATCH", "PUT"] {
        let method = reqwest::Method::from_bytes(method.as_bytes())?;
        let (status, _) = site
            .owner
            .request(
                method.clone(),
                &version_path,
                Some(json!({"name": "x"})),
                relais_tests::api::Csrf::Session,
            )
            .await?;
        ensure!(
            status == 405 || status == 404,
            "{method} on a sealed version: {status}"
        );
    }
    let refused = tamper(&server, backend, &hash).await?;
    ensure!(
        refused.iter().all(|(_, refused)| *refused),
        "the database let a sealed version change: {refused:?}"
    );
    server
        .command(
            &[
                "documents",
                "thin-versions",
                "--keep-all-hours",
                "0",
                "--hourly-days",
                "0",
            ],
            None,
        )
        .await?;
    let integrity = expect_status(
        validator
            .get(&site.path(&format!("/versions/{number}/integrity")))
            .await?,
        200,
        "integrity",
    )?;
    ensure!(
        integrity["intact"] == true && integrity["recorded_sha256"] == hash.as_str(),
        "{integrity}"
    );

    // Unpublishing removes the page.
    expect_status(
        validator.delete(&site.path("/publication")).await?,
        204,
        "unpublishing",
    )?;
    let (status, _, _) = anonymous.download(&public_path).await?;
    ensure!(status == 404, "public page after unpublishing: {status}");

    // A rejection unfreezes without sealing.
    expect_status(
        editor.post(&site.path("/review/submit"), json!({})).await?,
        200,
        "submitting again",
    )?;
    let rejected = expect_status(
        validator
            .post(
                &site.path("/review/reject"),
                json!({ "comment": "Manque le budget" }),
            )
            .await?,
        200,
        "rejecting",
    )?;
    ensure!(
        rejected["state"] == "rejected" && rejected["reviews"][0]["comment"] == "Manque le budget",
        "{rejected}"
    );
    let latest = versions(&editor, &site).await?;
    ensure!(
        latest[0]["seal"].is_null(),
        "a rejected version is not sealed: {}",
        latest[0]
    );

    // The journal has it all.
    let journal = expect_status(
        site.admin.get("/api/audit?limit=500").await?,
        200,
        "the audit journal",
    )?;
    let actions: Vec<&str> = journal
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["action"].as_str())
        .collect();
    for action in [
        "document.submitted",
        "document.approved",
        "document.published",
        "document.unpublished",
        "document.rejected",
    ] {
        ensure!(
            actions.contains(&action),
            "{action} not journaled: {actions:?}"
        );
    }
    Ok(())
}

/// Tries to change the sealed version (state hash `hash`) directly in the database; returns
/// each attempt and whether it was refused.
async fn tamper(
    server: &TestServer,
    backend: Backend,
    hash: &str,
) -> anyhow::Result<Vec<(&'static str, bool)>> {
    let attempts = [
        (
            "update the hash",
            "UPDATE document_versions SET sha256 = repeat('0', 64) WHERE sha256 = $1",
        ),
        (
            "update the name",
            "UPDATE document_versions SET name = 'falsifiée' WHERE sha256 = $1",
        ),
        (
            "update the comment",
            "UPDATE document_versions SET seal_comment = 'falsifié' WHERE sha256 = $1",
        ),
        (
            "delete it",
            "DELETE FROM document_versions WHERE sha256 = $1",
        ),
    ];
    let mut outcomes = Vec::new();
    match backend {
        Backend::Sqlite => {
            let url = server.database_url();
            let mut connection = sqlx::SqliteConnection::connect(url).await?;
            for (what, statement) in attempts {
                let statement = statement.replace("repeat('0', 64)", "printf('%064d', 0)");
                let outcome = sqlx::query(sqlx::AssertSqlSafe(statement))
                    .bind(hash)
                    .execute(&mut connection)
                    .await;
                outcomes.push((what, outcome.is_err()));
            }
        }
        Backend::Postgres => {
            let mut connection = sqlx::PgConnection::connect(server.database_url()).await?;
            for (what, statement) in attempts {
                let outcome = sqlx::query(statement)
                    .bind(hash)
                    .execute(&mut connection)
                    .await;
                outcomes.push((what, outcome.is_err()));
            }
        }
    }
    Ok(outcomes)
}

/// Builds meeting minutes the way the web client's editor writes them: ProseMirror nodes in
/// the `default` XML fragment, marks as text attributes.
fn write_minutes(txn: &mut yrs::TransactionMut<'_>) {
    let fragment = txn.get_or_insert_xml_fragment("default");
    let heading = |txn: &mut yrs::TransactionMut<'_>, level: f64, text: &str| {
        let fragment = txn.get_or_insert_xml_fragment("default");
        let node: XmlElementRef = fragment.push_back(txn, XmlElementPrelim::empty("heading"));
        node.insert_attribute(txn, "level", Any::from(level));
        let text_node: XmlTextRef = node.push_back(txn, XmlTextPrelim::new(""));
        text_node.insert(txn, 0, text);
    };
    heading(txn, 1.0, "Compte rendu du comité de pilotage");
    heading(txn, 2.0, "Décisions");
    let paragraph: XmlElementRef = fragment.push_back(txn, XmlElementPrelim::empty("paragraph"));
    let text: XmlTextRef = paragraph.push_back(txn, XmlTextPrelim::new(""));
    text.insert(txn, 0, "Voir le ");
    let link = HashMap::from([(
        Arc::<str>::from("link"),
        Any::from(HashMap::from([(
            "href".to_owned(),
            Any::from("https://www.collectivites-locales.gouv.fr"),
        )])),
    )]);
    text.insert_with_attributes(
        txn,
        8,
        "portail des collectivités",
        link.into_iter().collect(),
    );
    let bold = HashMap::from([(
        Arc::<str>::from("bold"),
        Any::from(HashMap::<String, Any>::new()),
    )]);
    let end = text.len(txn);
    text.insert_with_attributes(txn, end, " avant vendredi", bold.into_iter().collect());
    let list: XmlElementRef = fragment.push_back(txn, XmlElementPrelim::empty("bulletList"));
    for item in ["Budget voté", "Calendrier validé", "Marché attribué"] {
        let li: XmlElementRef = list.push_back(txn, XmlElementPrelim::empty("listItem"));
        let p: XmlElementRef = li.push_back(txn, XmlElementPrelim::empty("paragraph"));
        let t: XmlTextRef = p.push_back(txn, XmlTextPrelim::new(""));
        t.insert(txn, 0, item);
    }
    let table: XmlElementRef = fragment.push_back(txn, XmlElementPrelim::empty("table"));
    for (row_index, row) in [
        ["Qui", "Quoi", "Échéance"],
        ["Mairie", "Convoquer", "2026-12-02"],
        ["Bureau d'études", "Chiffrer", "2026-12-15"],
    ]
    .iter()
    .enumerate()
    {
        let tr: XmlElementRef = table.push_back(txn, XmlElementPrelim::empty("tableRow"));
        for cell in row {
            let kind = if row_index == 0 {
                "tableHeader"
            } else {
                "tableCell"
            };
            let td: XmlElementRef = tr.push_back(txn, XmlElementPrelim::empty(kind));
            let p: XmlElementRef = td.push_back(txn, XmlElementPrelim::empty("paragraph"));
            let t: XmlTextRef = p.push_back(txn, XmlTextPrelim::new(""));
            t.insert(txn, 0, cell);
        }
    }
    for (assignee, due, status, what) in [
        ("Mairie", "2026-12-02", "open", "Envoyer la convocation"),
        (
            "Bureau d'études",
            "2026-11-30",
            "open",
            "Chiffrer la variante",
        ),
        ("Bailleur", "2026-11-20", "done", "Transmettre le plan"),
    ] {
        let action: XmlElementRef = fragment.push_back(txn, XmlElementPrelim::empty("actionItem"));
        action.insert_attribute(txn, "assignee", assignee);
        action.insert_attribute(txn, "due", due);
        action.insert_attribute(txn, "status", status);
        let t: XmlTextRef = action.push_back(txn, XmlTextPrelim::new(""));
        t.insert(txn, 0, what);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn minutes_export_and_actions() -> anyhow::Result<()> {
    let server = TestServer::start(Backend::Sqlite).await?;
    let site = Site::build(&server, "Comité de pilotage du 25 novembre").await?;
    let socket = open(&server, &site.document_id, &site.owner).await?;
    socket.edit(write_minutes)?;
    socket.fence(WAIT).await?;

    // The open actions of the workspace, by due date.
    let actions = expect_status(
        site.owner
            .get(&format!("/api/workspaces/{}/actions", site.workspace_id))
            .await?,
        200,
        "listing open actions",
    )?;
    let listed: Vec<(String, String)> = actions
        .as_array()
        .into_iter()
        .flatten()
        .map(|a| {
            (
                a["assignee"].as_str().unwrap_or_default().to_owned(),
                a["text"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    ensure!(
        listed
            == [
                (
                    "Bureau d'études".to_owned(),
                    "Chiffrer la variante".to_owned()
                ),
                ("Mairie".to_owned(), "Envoyer la convocation".to_owned())
            ],
        "open actions: {actions}"
    );
    ensure!(
        actions[0]["document_title"] == "Comité de pilotage du 25 novembre"
            && actions[0]["due"] == "2026-11-30",
        "{actions}"
    );
    let done = expect_status(
        site.owner
            .get(&format!(
                "/api/workspaces/{}/actions?status=done",
                site.workspace_id
            ))
            .await?,
        200,
        "done",
    )?;
    ensure!(done.as_array().map(Vec::len) == Some(1), "{done}");

    let version = expect_status(
        site.owner
            .post(&site.path("/versions"), json!({ "name": "Diffusion" }))
            .await?,
        201,
        "naming",
    )?;
    let number = version["number"].as_u64().context("number")?;
    let python = relais_tests::workspace_root().join("target/test-venv/bin/python");
    let script = relais_tests::workspace_root().join("tests/python/read_export.py");
    ensure!(
        python.exists(),
        "{} is missing: run ./scripts/test, which installs python-docx and odfpy",
        python.display()
    );
    for format in ["docx", "odt"] {
        let (status, content_type, bytes) = site
            .owner
            .download(&site.path(&format!("/versions/{number}/export?format={format}")))
            .await?;
        ensure!(status == 200, "{format} export: {status}");
        ensure!(
            content_type.contains(if format == "docx" {
                "wordprocessingml"
            } else {
                "opendocument.text"
            }),
            "{content_type}"
        );
        let file = server.data_dir().join(format!("minutes.{format}"));
        std::fs::write(&file, &bytes)?;
        let output = tokio::process::Command::new(&python)
            .arg(&script)
            .arg(&file)
            .output()
            .await?;
        ensure!(
            output.status.success(),
            "reading back {format}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let read: Value =
            serde_json::from_slice(&output.stdout).with_context(|| format!("{format} summary"))?;
        let dump = read.to_string();
        for expected in [
            "Compte rendu du comité de pilotage",
            "Décisions",
            "Budget voté",
            "Calendrier validé",
            "Marché attribué",
            "https://www.collectivites-locales.gouv.fr",
            "portail des collectivités",
            "Échéance",
            "Bureau d'études",
            "Chiffrer la variante",
            "Comité de pilotage du 25 novembre",
        ] {
            ensure!(
                dump.contains(expected),
                "{format} export lacks {expected:?}: {dump}"
            );
        }
        check_structure(format, &read)?;
    }
    for format in ["md", "html"] {
        let (status, _, bytes) = site
            .owner
            .download(&site.path(&format!("/versions/{number}/export?format={format}")))
            .await?;
        let text = String::from_utf8(bytes)?;
        ensure!(
            status == 200
                && text.contains("Budget voté")
                && text.contains("https://www.collectivites-locales.gouv.fr"),
            "{format}: {text}"
        );
    }
    Ok(())
}

/// Headings with their levels, list items, the link and the table's cells, as the independent
/// reader saw them.
fn check_structure(format: &str, read: &Value) -> anyhow::Result<()> {
    let headings = read["headings"].as_array().context("headings")?;
    ensure!(
        headings
            .iter()
            .any(|h| h["text"] == "Compte rendu du comité de pilotage" && h["level"] == 1)
            && headings
                .iter()
                .any(|h| h["text"] == "Décisions" && h["level"] == 2),
        "{format} headings: {headings:?}"
    );
    let items: Vec<&str> = read["list_items"]
        .as_array()
        .context("list_items")?
        .iter()
        .filter_map(|i| i["text"].as_str())
        .collect();
    for item in ["Budget voté", "Calendrier validé", "Marché attribué"] {
        ensure!(items.contains(&item), "{format} list items: {items:?}");
    }
    let links = read["links"].as_array().context("links")?;
    ensure!(
        links
            .iter()
            .any(|l| l["href"] == "https://www.collectivites-locales.gouv.fr"
                && l["text"] == "portail des collectivités"),
        "{format} links: {links:?}"
    );
    let tables = read["tables"].as_array().context("tables")?;
    ensure!(
        tables
            .iter()
            .any(|t| t[0] == json!(["Qui", "Quoi", "Échéance"]) && t[2][0] == "Bureau d'études"),
        "{format} tables: {tables:?}"
    );
    Ok(())
}
