//! The web client in a real browser (Debian's Chromium, driven by playwright-core): sign-in,
//! workspaces and documents, co-editing rich text (TipTap) with named carets and one's own undo,
//! presence, an external partner invited as reader,
//! the discussion beside the document (live, rendered inert, read-only for the reader),
//! reactions, a reply in a thread, an attachment, an edited and a deleted message,
//! a channel with a mention, revocation and sign-out, edits made offline (kept back
//! until the network returns, and kept in the browser across a closed tab), the English interface;
//! and the version history with
//! the validation workflow: meeting minutes from the template, a named version compared with the
//! current text, a submission that turns the editor read-only, a validator's approval seen live
//! by the editor. The scenarios are in `node/browser.mjs`; screenshots of the main screens go to
//! `target/browser-screenshots/` (or `RELAIS_SCREENSHOTS`).

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use relais_tests::node::node_dir;
use relais_tests::{Backend, TestServer};

/// `relais user create` prints `created user <id> <email>`: the id.
fn created_user_id(output: &str) -> anyhow::Result<String> {
    output
        .lines()
        .find_map(|line| line.strip_prefix("created user "))
        .and_then(|rest| rest.split_whitespace().next())
        .map(str::to_owned)
        .with_context(|| format!("no user id in {output:?}"))
}

/// Where the scenarios save their screenshots.
fn screenshot_dir() -> PathBuf {
    std::env::var_os("RELAIS_SCREENSHOTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/browser-screenshots"))
}

/// A server serving the built web client.
async fn server_with_web_client() -> anyhow::Result<TestServer> {
    let web_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../web-client/dist");
    anyhow::ensure!(web_dir.join("index.html").is_file(), "build the web client first (./scripts/test does)");
    let web_dir = web_dir.display().to_string();
    TestServer::start_with(Backend::Sqlite, &["--web-dir", &web_dir]).await
}

/// Creates a user of the test organisation with `relais user create`; returns their id.
async fn create_user(server: &TestServer, email: &str, name: &str, password: &str, admin: bool) -> anyhow::Result<String> {
    let mut args = vec!["user", "create", "--email", email, "--name", name];
    if admin {
        args.push("--admin");
    }
    args.extend(["--organisation", "Commune de Test", "--password-stdin"]);
    created_user_id(&server.command(&args, Some(&format!("{password}\n"))).await?)
}

/// Runs one scenario of `node/browser.mjs`; returns its stdout once it succeeded.
async fn run_scenario(server: &TestServer, people: &serde_json::Value, scenario: &str) -> anyhow::Result<String> {
    let screenshots = screenshot_dir().join(scenario);
    let output = tokio::time::timeout(
        Duration::from_secs(120),
        tokio::process::Command::new("node")
            .arg(node_dir().join("browser.mjs"))
            .args(["--url", &format!("http://{}", server.address()), "--people", &people.to_string(), "--scenario", scenario])
            .arg("--screenshots")
            .arg(&screenshots)
            .kill_on_drop(true)
            .output(),
    )
    .await??;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    anyhow::ensure!(
        output.status.success(),
        "browser run failed: {stdout}\n{}\nscreenshots in {}\nserver log:\n{}",
        String::from_utf8_lossy(&output.stderr),
        screenshots.display(),
        server.log()
    );
    // The outcome (timings, states seen) for whoever reads the test's output.
    eprintln!("{scenario}: {}", stdout.trim());
    Ok(stdout)
}

#[tokio::test]
async fn people_sign_in_co_edit_and_a_reader_cannot_type() -> anyhow::Result<()> {
    let server = server_with_web_client().await?;
    let (status, page) = server.get("/").await?;
    assert_eq!(status, 200);
    assert!(page.contains("lang=\"fr\""), "{page}");

    let (anne_email, anne_password) = ("anne.martin@commune-test.fr", "mot de passe d'Anne");
    let (bruno_email, bruno_password) = ("bruno.petit@commune-test.fr", "mot de passe de Bruno");
    create_user(&server, anne_email, "Anne Martin", anne_password, true).await?;
    let bruno = create_user(&server, bruno_email, "Bruno Petit", bruno_password, false).await?;
    let people = serde_json::json!({
        "anne": { "email": anne_email, "password": anne_password },
        "bruno": { "email": bruno_email, "password": bruno_password, "id": bruno },
    });

    let stdout = run_scenario(&server, &people, "collaboration").await?;
    assert!(stdout.contains("Ordre du jour : budget. Vote. Fin. Hors ligne. Gardé."), "{stdout}");
    server.stop().await?;
    Ok(())
}

/// An editor names a version, compares it with the current text, submits the document and
/// gets a read-only editor; a validator approves in another browser; the editor sees the
/// "Validé" badge and can type again within seconds.
#[tokio::test]
async fn history_comparison_and_validation_reach_the_editor_live() -> anyhow::Result<()> {
    let server = server_with_web_client().await?;
    let (anne_email, anne_password) = ("anne.martin@commune-test.fr", "mot de passe d'Anne");
    let (bruno_email, bruno_password) = ("bruno.petit@commune-test.fr", "mot de passe de Bruno");
    let (valerie_email, valerie_password) = ("valerie.roux@commune-test.fr", "mot de passe de Valérie");
    create_user(&server, anne_email, "Anne Martin", anne_password, true).await?;
    let bruno = create_user(&server, bruno_email, "Bruno Petit", bruno_password, false).await?;
    let valerie = create_user(&server, valerie_email, "Valérie Roux", valerie_password, false).await?;
    let people = serde_json::json!({
        "anne": { "email": anne_email, "password": anne_password },
        "bruno": { "email": bruno_email, "password": bruno_password, "id": bruno },
        "valerie": { "email": valerie_email, "password": valerie_password, "id": valerie },
    });

    let stdout = run_scenario(&server, &people, "history").await?;
    assert!(stdout.contains("\"compared\":\"Ajout :  Vote à main levée.\""), "{stdout}");
    server.stop().await?;
    Ok(())
}
