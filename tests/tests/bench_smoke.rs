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

#[tokio::test]
async fn load_generator_runs_a_tiny_chat_without_loss() -> anyhow::Result<()> {
    // Sign-in and chat posting are rate-limited per address and per user: the benchmark signs
    // in every member from one address and posts faster than a person.
    let server = TestServer::start_with(Backend::Sqlite, &["--auth-rate-per-minute", "100000", "--chat-messages-per-minute", "100000"]).await?;
    let password = "bench-smoke-password";
    server
        .command(
            &["user", "create", "--email", "bench@relais.localhost", "--name", "Bench", "--admin", "--organisation", "Bench", "--password-stdin"],
            Some(&format!("{password}\n")),
        )
        .await?;
    let load = relais_binary().with_file_name("relais-load");
    anyhow::ensure!(load.is_file(), "{} missing: build the workspace first", load.display());
    let output = tokio::time::timeout(
        std::time::Duration::from_secs(60),
        tokio::process::Command::new(&load)
            .args(["--url", &format!("ws://{}/yjs/", server.address()), "--server", "smoke", "--run-id", "smoke"])
            .args(["chat", "--admin-email", "bench@relais.localhost", "--admin-password", password])
            .args(["--members", "3", "--senders", "2", "--start-rate", "20", "--max-rate", "20", "--refine-steps", "0"])
            .args(["--step-secs", "0.5", "--drain-secs", "5", "--pause-secs", "0", "--p99-limit-ms", "10000"])
            .kill_on_drop(true)
            .output(),
    )
    .await??;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    let lines: Vec<serde_json::Value> = stdout.lines().map(serde_json::from_str).collect::<Result<_, _>>()?;
    let step = lines.iter().find(|line| line["scenario"] == "chat-step").ok_or_else(|| anyhow::anyhow!("no step line: {stdout}"))?;
    assert_eq!(step["messages_sent"], 10, "{step}");
    assert_eq!(step["messages_lost"], 0, "{step}");
    assert_eq!(step["out_of_order"], 0, "{step}");
    assert_eq!(step["duplicates"], 0, "{step}");
    assert_eq!(step["send_errors"], 0, "{step}");
    assert_eq!(step["disconnects"], 0, "{step}");
    let summary = lines.last().ok_or_else(|| anyhow::anyhow!("no output"))?;
    assert_eq!(summary["scenario"], "chat", "{summary}");
    assert_eq!(summary["messages_lost"], 0, "{summary}");
    server.stop().await?;
    Ok(())
}
