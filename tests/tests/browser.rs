//! The web client in a real browser (Debian's Chromium, driven by playwright-core).

use std::time::Duration;

use relais_tests::node::node_dir;
use relais_tests::server::uuid_like;
use relais_tests::{Backend, TestServer};

#[tokio::test]
async fn two_browsers_co_edit_the_same_text() -> anyhow::Result<()> {
    let web_dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../web-client/dist");
    anyhow::ensure!(web_dir.join("index.html").is_file(), "build the web client first (./scripts/test does)");
    let web_dir = web_dir.display().to_string();
    let server = TestServer::start_with(Backend::Sqlite, &["--web-dir", &web_dir]).await?;
    let (status, page) = server.get("/").await?;
    assert_eq!(status, 200);
    assert!(page.contains("lang=\"fr\""), "{page}");

    let output = tokio::time::timeout(
        Duration::from_secs(90),
        tokio::process::Command::new("node")
            .arg(node_dir().join("browser.mjs"))
            .args(["--url", &format!("http://{}", server.address()), "--doc", &format!("navigateur-{}", uuid_like())])
            .kill_on_drop(true)
            .output(),
    )
    .await??;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "browser run failed: {stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("Ordre du jour : budget. Vote."), "{stdout}");
    server.stop().await?;
    Ok(())
}
