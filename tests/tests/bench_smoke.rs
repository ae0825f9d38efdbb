//! Smoke check of the load generator (`bench/`): it drives a real server and reports no loss.
//! Timing is never asserted here; figures live in BENCHMARKS.md.

use relais_tests::server::relais_binary;
use relais_tests::{Backend, TestServer};

#[tokio::test]
async fn load_generator_runs_a_tiny_fanout_without_loss() -> anyhow::Result<()> {
    let server = TestServer::start(Backend::Sqlite).await?;
    let load = relais_binary().with_file_name("relais-load");
    anyhow::ensure!(load.is_file(), "{} missing: build the workspace first", load.display());
    let output = tokio::time::timeout(
        std::time::Duration::from_secs(60),
        tokio::process::Command::new(&load)
            .args(["--url", &format!("ws://{}/yjs/{{room}}?token={}", server.address(), server.token()), "--server", "smoke", "--run-id", "smoke"])
            .args(["fanout", "--rooms", "2", "--clients", "3", "--writers", "1"])
            .args(["--rate", "10", "--duration-secs", "0.5", "--drain-secs", "2"])
            .kill_on_drop(true)
            .output(),
    )
    .await??;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    let line: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap_or_default())?;
    assert_eq!(line["scenario"], "fanout", "{line}");
    assert_eq!(line["updates_lost"], 0, "{line}");
    assert_eq!(line["docs_identical"], true, "{line}");
    assert!(line["updates_sent"].as_u64().unwrap_or(0) > 0, "{line}");
    server.stop().await?;
    Ok(())
}
