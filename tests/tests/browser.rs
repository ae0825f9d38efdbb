//! The web client in a real browser (Debian's Chromium, driven by playwright-core): sign-in,
//! workspaces and documents, co-editing rich text (TipTap) with named carets and one's own undo,
//! presence, an external partner invited as reader,
//! the discussion beside the document (live, rendered inert, read-only for the reader),
//! reactions, a channel with a mention, revocation and sign-out. The scenario is in
//! `node/browser.mjs`.

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

#[tokio::test]
async fn people_sign_in_co_edit_and_a_reader_cannot_type() -> anyhow::Result<()> {
    let web_dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../web-client/dist");
    anyhow::ensure!(web_dir.join("index.html").is_file(), "build the web client first (./scripts/test does)");
    let web_dir = web_dir.display().to_string();
    let server = TestServer::start_with(Backend::Sqlite, &["--web-dir", &web_dir]).await?;
    let (status, page) = server.get("/").await?;
    assert_eq!(status, 200);
    assert!(page.contains("lang=\"fr\""), "{page}");

    let (anne_email, anne_password) = ("anne.martin@commune-test.fr", "mot de passe d'Anne");
    let (bruno_email, bruno_password) = ("bruno.petit@commune-test.fr", "mot de passe de Bruno");
    server
        .command(
            &["user", "create", "--email", anne_email, "--name", "Anne Martin", "--admin", "--organisation", "Commune de Test", "--password-stdin"],
            Some(&format!("{anne_password}\n")),
        )
        .await?;
    let bruno = server
        .command(
            &["user", "create", "--email", bruno_email, "--name", "Bruno Petit", "--organisation", "Commune de Test", "--password-stdin"],
            Some(&format!("{bruno_password}\n")),
        )
        .await?;
    let people = serde_json::json!({
        "anne": { "email": anne_email, "password": anne_password },
        "bruno": { "email": bruno_email, "password": bruno_password, "id": created_user_id(&bruno)? },
    });

    let output = tokio::time::timeout(
        Duration::from_secs(120),
        tokio::process::Command::new("node")
            .arg(node_dir().join("browser.mjs"))
            .args(["--url", &format!("http://{}", server.address()), "--people", &people.to_string()])
            .kill_on_drop(true)
            .output(),
    )
    .await??;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "browser run failed: {stdout}\n{}\nserver log:\n{}",
        String::from_utf8_lossy(&output.stderr),
        server.log()
    );
    assert!(stdout.contains("Ordre du jour : budget. Vote. Fin."), "{stdout}");
    server.stop().await?;
    Ok(())
}
