//! An S3-compatible server for tests: `moto_server` from PyPI, in memory, on loopback.
//! It enforces conditional puts (`If-None-Match: *`), which write-once snapshots rely on.

use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, bail};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, Command};

use crate::eventually;

/// The `moto_server` executable: `RELAIS_TEST_MOTO`, or the virtualenv the test script makes.
pub fn moto_binary() -> std::path::PathBuf {
    if let Ok(path) = std::env::var("RELAIS_TEST_MOTO") {
        return path.into();
    }
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/test-venv/bin/moto_server")
}

pub struct Moto {
    child: Child,
    pub port: u16,
}

impl Moto {
    /// Starts moto on a free port and creates `bucket`.
    pub async fn start(bucket: &str) -> anyhow::Result<Self> {
        let binary = moto_binary();
        if !binary.exists() {
            bail!("{} is missing: run ./scripts/test, which installs tests/requirements.txt", binary.display());
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let child = Command::new(binary)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .context("cannot start moto_server")?;
        let moto = Self { child, port };
        eventually(Duration::from_secs(20), "moto to listen", || async {
            moto.request("GET", "/").await.ok().map(drop)
        })
        .await?;
        let status = moto.request("PUT", &format!("/{bucket}")).await?.0;
        anyhow::ensure!(status == 200, "creating the bucket answered {status}");
        Ok(moto)
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Environment for a `relais` process using this server.
    pub fn env(&self) -> Vec<(String, String)> {
        [
            ("AWS_ENDPOINT_URL", self.endpoint()),
            ("AWS_ALLOW_HTTP", "true".to_owned()),
            ("AWS_ACCESS_KEY_ID", "test".to_owned()),
            ("AWS_SECRET_ACCESS_KEY", "test".to_owned()),
            ("AWS_REGION", "us-east-1".to_owned()),
        ]
        .into_iter()
        .map(|(key, value)| (key.to_owned(), value))
        .collect()
    }

    /// A minimal HTTP/1.1 request; returns status and body.
    pub async fn request(&self, method: &str, path: &str) -> anyhow::Result<(u16, String)> {
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", self.port)).await?;
        let request = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            self.port
        );
        stream.write_all(request.as_bytes()).await?;
        let mut response = String::new();
        tokio::time::timeout(Duration::from_secs(5), stream.read_to_string(&mut response)).await??;
        let status = response.split_whitespace().nth(1).and_then(|c| c.parse().ok()).context("no status")?;
        let body = response.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
        Ok((status, body))
    }

    /// Keys in `bucket` (first page of a list).
    pub async fn keys(&self, bucket: &str) -> anyhow::Result<Vec<String>> {
        let (_, body) = self.request("GET", &format!("/{bucket}?list-type=2")).await?;
        Ok(body
            .split("<Key>")
            .skip(1)
            .filter_map(|part| part.split_once("</Key>").map(|(key, _)| key.to_owned()))
            .collect())
    }

    /// Freezes the server (SIGSTOP): connections open, nothing answers, like a hung store.
    pub async fn pause(&self) -> anyhow::Result<()> {
        self.signal("-STOP").await
    }

    pub async fn resume(&self) -> anyhow::Result<()> {
        self.signal("-CONT").await
    }

    async fn signal(&self, signal: &str) -> anyhow::Result<()> {
        let pid = self.child.id().context("moto exited")?;
        let status = Command::new("kill").args([signal, &pid.to_string()]).status().await?;
        anyhow::ensure!(status.success(), "kill {signal} failed");
        Ok(())
    }
}
