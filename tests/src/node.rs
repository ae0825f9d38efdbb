//! `NodeClient`: the npm `y-websocket` provider in a Node process, driven over stdin/stdout
//! by `node/yclient.mjs` (one JSON command per line, one JSON reply per command).

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, bail};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

/// The Node driver's directory (with its `node_modules`, installed from the lock file).
pub fn node_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("node")
}

pub struct NodeClient {
    child: Child,
    stdin: ChildStdin,
    stdout: Lines<BufReader<ChildStdout>>,
}

impl NodeClient {
    /// Starts a stock provider for `room` at `server_url` (e.g. `ws://127.0.0.1:PORT/yjs`).
    /// A query string on `server_url` (`?token=...`) becomes the provider's `params`, which it
    /// appends after the room name, as an application using y-websocket would pass a token.
    pub async fn start(server_url: &str, room: &str, name: Option<&str>) -> anyhow::Result<Self> {
        let (server_url, token) = match server_url.split_once("?token=") {
            Some((base, token)) => (base, Some(token)),
            None => (server_url, None),
        };
        let dir = node_dir();
        if !dir.join("node_modules").is_dir() {
            bail!("{} has no node_modules: run `npm ci` there (the test script does)", dir.display());
        }
        let mut command = Command::new("node");
        command
            .arg(dir.join("yclient.mjs"))
            .args(["--url", server_url, "--room", room])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true);
        if let Some(name) = name {
            command.args(["--name", name]);
        }
        if let Some(token) = token {
            command.args(["--token", token]);
        }
        let mut child = command.spawn().context("cannot start node")?;
        let stdin = child.stdin.take().context("no stdin")?;
        let stdout = BufReader::new(child.stdout.take().context("no stdout")?).lines();
        Ok(Self { child, stdin, stdout })
    }

    /// Sends one command and returns its reply; fails if the reply says `ok: false`.
    pub async fn call(&mut self, command: Value) -> anyhow::Result<Value> {
        let reply = self.call_raw(command.clone()).await?;
        if reply["ok"] != json!(true) {
            bail!("node client refused {command}: {reply}");
        }
        Ok(reply)
    }

    /// Sends one command and returns its reply as is.
    pub async fn call_raw(&mut self, command: Value) -> anyhow::Result<Value> {
        let mut line = command.to_string();
        line.push('\n');
        self.stdin.write_all(line.as_bytes()).await?;
        self.stdin.flush().await?;
        let reply = tokio::time::timeout(Duration::from_secs(120), self.stdout.next_line())
            .await
            .context("node client did not answer")??
            .context("node client exited")?;
        Ok(serde_json::from_str(&reply)?)
    }

    pub async fn wait_synced(&mut self) -> anyhow::Result<()> {
        self.call(json!({"cmd": "wait_synced", "timeout_ms": 10_000})).await.map(drop)
    }

    pub async fn insert(&mut self, index: u64, text: &str) -> anyhow::Result<()> {
        self.call(json!({"cmd": "insert", "index": index, "text": text})).await.map(drop)
    }

    pub async fn text(&mut self) -> anyhow::Result<String> {
        let reply = self.call(json!({"cmd": "text"})).await?;
        Ok(reply["text"].as_str().unwrap_or_default().to_owned())
    }

    pub async fn wait_text(&mut self, text: &str, within: Duration) -> anyhow::Result<()> {
        self.call(json!({"cmd": "wait", "text": text, "timeout_ms": within.as_millis() as u64})).await.map(drop)
    }

    pub async fn status(&mut self) -> anyhow::Result<Value> {
        self.call(json!({"cmd": "status"})).await
    }

    /// Awareness states of the other clients.
    pub async fn peers(&mut self) -> anyhow::Result<Vec<Value>> {
        let reply = self.call(json!({"cmd": "peers"})).await?;
        Ok(reply["peers"].as_array().cloned().unwrap_or_default())
    }

    pub async fn close(mut self) -> anyhow::Result<()> {
        let _ = self.call_raw(json!({"cmd": "close"})).await;
        let _ = tokio::time::timeout(Duration::from_secs(5), self.child.wait()).await;
        Ok(())
    }
}
