//! `TestServer`: the `relais` binary as a child process.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, bail};
use sqlx::Connection;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};

/// Which store the server runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Base URL of the Postgres server tests use; each test gets its own schema in it.
pub fn postgres_url() -> String {
    std::env::var("RELAIS_TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// The `relais` binary cargo built next to this test executable (or `RELAIS_BIN`).
pub fn relais_binary() -> PathBuf {
    if let Ok(path) = std::env::var("RELAIS_BIN") {
        return PathBuf::from(path);
    }
    let exe = std::env::current_exe().expect("test executable path");
    // target/<profile>/deps/<test> → target/<profile>/relais
    let profile_dir = exe.parent().and_then(Path::parent).expect("target profile directory");
    profile_dir.join("relais")
}

/// A running `relais` process with its own data directory and database.
pub struct TestServer {
    child: Option<Child>,
    address: String,
    data_dir: tempfile::TempDir,
    database_url: String,
    schema: Option<String>,
    extra_args: Vec<String>,
    env: Vec<(String, String)>,
    stderr_log: PathBuf,
    /// An owner token on every document, minted with `relais token create` before the first
    /// start, so that tests about the hub need not sign in.
    token: String,
}

impl TestServer {
    pub async fn start(backend: Backend) -> anyhow::Result<Self> {
        Self::start_with(backend, &[]).await
    }

    /// Starts a server with extra command-line settings, e.g. `["--client-outbox-messages", "8"]`.
    pub async fn start_with(backend: Backend, extra_args: &[&str]) -> anyhow::Result<Self> {
        Self::start_with_env(backend, extra_args, Vec::new()).await
    }

    /// Starts one node of a cluster on a shared database and object directory; the schema
    /// belongs to the caller (see [`TestCluster`]).
    pub async fn start_node(database_url: &str, objects: &Path, extra_args: &[&str]) -> anyhow::Result<Self> {
        let data_dir = tempfile::Builder::new().prefix("relais-node-").tempdir()?;
        let mut args: Vec<&str> = extra_args.to_vec();
        let objects = format!("file://{}", objects.display());
        args.extend(["--object-store", objects.as_str()]);
        let mut server = Self::new(data_dir, database_url.to_owned(), None, &args);
        server.spawn().await?;
        Ok(server)
    }

    fn new(data_dir: tempfile::TempDir, database_url: String, schema: Option<String>, extra_args: &[&str]) -> Self {
        let stderr_log = data_dir.path().join("relais.log");
        Self {
            child: None,
            address: String::new(),
            data_dir,
            database_url,
            schema,
            extra_args: extra_args.iter().map(ToString::to_string).collect(),
            env: Vec::new(),
            stderr_log,
            token: String::new(),
        }
    }

    /// Like [`TestServer::start_with`], with extra environment variables.
    pub async fn start_with_env(backend: Backend, extra_args: &[&str], env: Vec<(String, String)>) -> anyhow::Result<Self> {
        let data_dir = tempfile::Builder::new().prefix("relais-test-").tempdir()?;
        let (database_url, schema) = match backend {
            Backend::Sqlite => (format!("sqlite://{}", data_dir.path().join("relais.db").display()), None),
            Backend::Postgres => {
                let (url, schema) = create_schema().await?;
                (url, Some(schema))
            }
        };
        let mut server = Self::new(data_dir, database_url, schema, extra_args);
        server.env = env;
        server.spawn().await?;
        Ok(server)
    }

    /// Runs a `relais` maintenance command on this server's storage; returns its stdout.
    pub async fn command(&self, args: &[&str], stdin: Option<&str>) -> anyhow::Result<String> {
        let mut child = Command::new(relais_binary())
            .args(args)
            .arg("--data-dir")
            .arg(self.data_dir.path())
            .args(["--database-url", &self.database_url])
            .arg("--object-store")
            .arg(format!("file://{}", self.data_dir.path().join("objects").display()))
            .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("cannot start {}", relais_binary().display()))?;
        if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
            pipe.write_all(input.as_bytes()).await?;
        }
        let output = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output()).await.context("relais command timed out")??;
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        if !output.status.success() {
            bail!("relais {args:?} failed ({}): {}{}", output.status, stdout, String::from_utf8_lossy(&output.stderr));
        }
        Ok(stdout)
    }

    /// Like [`TestServer::command`], returning the exit code and both outputs without
    /// failing on a non-zero exit.
    pub async fn command_status(&self, args: &[&str]) -> anyhow::Result<(i32, String, String)> {
        let output = Command::new(relais_binary())
            .args(args)
            .arg("--data-dir")
            .arg(self.data_dir.path())
            .args(["--database-url", &self.database_url])
            .arg("--object-store")
            .arg(format!("file://{}", self.data_dir.path().join("objects").display()))
            .stdin(Stdio::null())
            .output()
            .await?;
        Ok((
            output.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        ))
    }

    /// The database URL this server uses (with its schema for Postgres).
    pub fn database_url(&self) -> &str {
        &self.database_url
    }

    /// The owner token on every document.
    pub fn token(&self) -> &str {
        &self.token
    }

    async fn spawn(&mut self) -> anyhow::Result<()> {
        if self.token.is_empty() {
            let token = self.command(&["token", "create", "--document", "*", "--role", "owner", "--expires", "2d"], None).await?;
            self.token = token.trim().to_owned();
        }
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&self.stderr_log)?;
        // Reuse the port after a restart so that clients reconnect to the same address.
        let listen = if self.address.is_empty() { "127.0.0.1:0".to_owned() } else { self.address.clone() };
        let mut child = Command::new(relais_binary())
            .arg("serve")
            .args(["--listen", &listen])
            .arg("--data-dir")
            .arg(self.data_dir.path())
            .args(["--database-url", &self.database_url])
            .arg("--object-store")
            .arg(format!("file://{}", self.data_dir.path().join("objects").display()))
            .arg("--web-dir")
            .arg(self.data_dir.path().join("no-web-client"))
            // Later arguments win, so extra ones may override the defaults above.
            .args(&self.extra_args)
            .env("RELAIS_LOG", std::env::var("RELAIS_TEST_LOG").unwrap_or_else(|_| "info".to_owned()))
            .envs(self.env.iter().map(|(key, value)| (key, value)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("cannot start {}", relais_binary().display()))?;
        let stdout = child.stdout.take().context("no stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
            .await
            .context("relais did not print its address within 30 s")??;
        let Some(line) = line else {
            bail!("relais exited before listening; log:\n{}", self.log());
        };
        let address = line
            .strip_prefix("relais listening on http://")
            .with_context(|| format!("unexpected first line: {line}"))?;
        self.address = address.to_owned();
        self.child = Some(child);
        Ok(())
    }

    /// `host:port`.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// The y-websocket server URL (what a provider is given; the room name is appended),
    /// with the owner token as a query string that [`crate::node::NodeClient`] turns into the
    /// provider's `params`.
    pub fn ws_base(&self) -> String {
        format!("ws://{}/yjs?token={}", self.address, self.token)
    }

    /// A document's websocket URL, authenticated with the owner token.
    pub fn ws_url(&self, document: &str) -> String {
        format!("ws://{}/yjs/{document}?token={}", self.address, self.token)
    }

    /// A document's websocket URL without credentials.
    pub fn ws_url_anonymous(&self, document: &str) -> String {
        format!("ws://{}/yjs/{document}", self.address)
    }

    pub fn data_dir(&self) -> &Path {
        self.data_dir.path()
    }

    /// The server's log so far, for failure messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr_log).unwrap_or_default()
    }

    /// SIGKILL: no flush, no goodbye.
    pub async fn kill(&mut self) -> anyhow::Result<()> {
        if let Some(mut child) = self.child.take() {
            child.kill().await?;
        }
        Ok(())
    }

    /// SIGTERM, then waits for the exit status.
    pub async fn terminate(&mut self, within: Duration) -> anyhow::Result<std::process::ExitStatus> {
        let mut child = self.child.take().context("server not running")?;
        let pid = child.id().context("no pid")?;
        let status = Command::new("kill").args(["-TERM", &pid.to_string()]).status().await?;
        anyhow::ensure!(status.success(), "kill -TERM failed");
        Ok(tokio::time::timeout(within, child.wait()).await.context("relais did not exit in time")??)
    }

    /// Starts the server again on the same address, data directory and database.
    pub async fn restart(&mut self) -> anyhow::Result<()> {
        if self.child.is_some() {
            self.kill().await?;
        }
        self.spawn().await
    }

    /// A plain HTTP GET; returns status and body.
    pub async fn get(&self, path: &str) -> anyhow::Result<(u16, String)> {
        let mut stream = tokio::net::TcpStream::connect(&self.address).await?;
        let request = format!("GET {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n", self.address);
        stream.write_all(request.as_bytes()).await?;
        let mut response = String::new();
        stream.read_to_string(&mut response).await?;
        let status = response
            .split_whitespace()
            .nth(1)
            .and_then(|code| code.parse().ok())
            .context("no status line")?;
        let body = response.split_once("\r\n\r\n").map(|(_, body)| body.to_owned()).unwrap_or_default();
        Ok((status, body))
    }

    /// Stops the server and drops its schema.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        self.kill().await?;
        if let Some(schema) = self.schema.take() {
            drop_schema(&schema).await?;
        }
        Ok(())
    }
}

/// Creates a fresh schema; returns the database URL selecting it, and its name.
pub async fn create_schema() -> anyhow::Result<(String, String)> {
    let schema = format!("relais_t_{}", uuid_like());
    let mut connection = sqlx::PgConnection::connect(&postgres_url())
        .await
        .context("cannot reach Postgres for the test (is it running on 127.0.0.1:5432?)")?;
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}"))).execute(&mut connection).await?;
    connection.close().await?;
    Ok((format!("{}?options=-c%20search_path%3D{schema}", postgres_url()), schema))
}

/// Drops a schema made by [`create_schema`].
pub async fn drop_schema(schema: &str) -> anyhow::Result<()> {
    let mut connection = sqlx::PgConnection::connect(&postgres_url()).await?;
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE"))).execute(&mut connection).await?;
    Ok(())
}

/// The NATS server nodes of a test cluster share (`RELAIS_TEST_NATS_URL` overrides).
pub fn nats_url() -> String {
    std::env::var("RELAIS_TEST_NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".to_owned())
}

/// Several `relais` processes sharing one Postgres schema, one object directory and the bus.
pub struct TestCluster {
    pub nodes: Vec<TestServer>,
    schema: String,
    _objects: tempfile::TempDir,
}

impl TestCluster {
    pub async fn start(count: usize, extra_args: &[&str]) -> anyhow::Result<Self> {
        let (database_url, schema) = create_schema().await?;
        let objects = tempfile::Builder::new().prefix("relais-objects-").tempdir()?;
        let bus = nats_url();
        let mut args = vec!["--bus-url", bus.as_str()];
        args.extend_from_slice(extra_args);
        let mut nodes = Vec::with_capacity(count);
        for _ in 0..count {
            nodes.push(TestServer::start_node(&database_url, objects.path(), &args).await?);
        }
        Ok(Self { nodes, schema, _objects: objects })
    }

    pub async fn stop(self) -> anyhow::Result<()> {
        for node in self.nodes {
            node.stop().await?;
        }
        drop_schema(&self.schema).await
    }
}

/// A unique enough suffix for schema and document names, without a uuid dependency.
pub fn uuid_like() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    format!("{:x}{:x}{:x}", std::process::id(), nanos & 0xffff_ffff_ffff, COUNTER.fetch_add(1, Ordering::Relaxed))
}
