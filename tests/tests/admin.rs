//! End-to-end tests of the maintenance commands through the real binary: `relais backup`,
//! `relais restore` (documents, accounts, tokens, the audit journal and chat), `relais doctor` and
//! `relais documents compact`, on both backends.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use anyhow::Context;
use relais_tests::api::Api;
use relais_tests::moto::Moto;
use relais_tests::server::{create_schema, drop_schema, nats_url, relais_binary, uuid_like};
use relais_tests::{BACKENDS, Backend, TestServer, YClient, eventually};
use sqlx::Connection;
use yrs::StateVector;

const WAIT: Duration = Duration::from_secs(15);

/// A database and an object directory of our own, which servers and commands are pointed at.
struct Site {
    dir: tempfile::TempDir,
    database_url: String,
    schema: Option<String>,
}

impl Site {
    async fn new(backend: Backend) -> anyhow::Result<Self> {
        let dir = tempfile::Builder::new().prefix("relais-admin-").tempdir()?;
        let (database_url, schema) = match backend {
            Backend::Sqlite => (
                format!("sqlite://{}", dir.path().join("relais.db").display()),
                None,
            ),
            Backend::Postgres => {
                let (url, schema) = create_schema().await?;
                (url, Some(schema))
            }
        };
        Ok(Self {
            dir,
            database_url,
            schema,
        })
    }

    fn objects(&self) -> PathBuf {
        self.dir.path().join("objects")
    }

    /// The storage settings every command of this site gets, as `relais serve` would.
    fn settings(&self) -> Vec<String> {
        vec![
            "--data-dir".into(),
            self.dir.path().display().to_string(),
            "--database-url".into(),
            self.database_url.clone(),
            "--object-store".into(),
            format!("file://{}", self.objects().display()),
        ]
    }

    async fn serve(&self, extra_args: &[&str]) -> anyhow::Result<TestServer> {
        TestServer::start_node(&self.database_url, &self.objects(), extra_args).await
    }

    /// Runs `relais ARGS... <this site's settings>`.
    async fn relais(&self, args: &[&str]) -> anyhow::Result<Output> {
        self.relais_overriding(args, &[]).await
    }

    /// Runs `relais ARGS... <this site's settings> OVERRIDES...`: the last occurrence of a
    /// setting wins.
    async fn relais_overriding(&self, args: &[&str], overrides: &[&str]) -> anyhow::Result<Output> {
        let mut all: Vec<String> = args.iter().map(ToString::to_string).collect();
        all.extend(self.settings());
        all.extend(overrides.iter().map(ToString::to_string));
        relais(&all, &[]).await
    }

    /// Runs `relais ARGS... <this site's settings>` with `input` on its standard input.
    async fn relais_with_stdin(&self, args: &[&str], input: &str) -> anyhow::Result<Output> {
        let mut all: Vec<String> = args.iter().map(ToString::to_string).collect();
        all.extend(self.settings());
        let mut child = tokio::process::Command::new(relais_binary())
            .args(&all)
            .env("RELAIS_LOG", "warn")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("cannot run {}", relais_binary().display()))?;
        let mut stdin = child.stdin.take().context("stdin")?;
        tokio::io::AsyncWriteExt::write_all(&mut stdin, input.as_bytes()).await?;
        drop(stdin);
        tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
            .await
            .with_context(|| format!("relais {all:?} did not finish within 60 s"))?
            .context("relais did not run")
    }

    /// Runs `relais ARGS... <this site's settings>` with extra environment variables.
    async fn relais_with_env(
        &self,
        args: &[&str],
        env: &[(String, String)],
    ) -> anyhow::Result<Output> {
        let mut all: Vec<String> = args.iter().map(ToString::to_string).collect();
        all.extend(self.settings());
        relais(&all, env).await
    }

    /// Rows of `table` (a name from this file), for one document or all.
    async fn count(&self, table: &str, document: Option<&str>) -> anyhow::Result<i64> {
        let postgres = self.schema.is_some();
        let sql = match (document, postgres) {
            (Some(_), true) => format!("SELECT count(*) FROM {table} WHERE document_id = $1"),
            (Some(_), false) => format!("SELECT count(*) FROM {table} WHERE document_id = ?1"),
            (None, _) => format!("SELECT count(*) FROM {table}"),
        };
        let count: (i64,) = if postgres {
            let mut connection = sqlx::PgConnection::connect(&self.database_url).await?;
            let query = sqlx::query_as(sqlx::AssertSqlSafe(sql));
            let query = match document {
                Some(document) => query.bind(document),
                None => query,
            };
            query.fetch_one(&mut connection).await?
        } else {
            let mut connection = sqlx::SqliteConnection::connect(&self.database_url).await?;
            let query = sqlx::query_as(sqlx::AssertSqlSafe(sql));
            let query = match document {
                Some(document) => query.bind(document),
                None => query,
            };
            query.fetch_one(&mut connection).await?
        };
        Ok(count.0)
    }

    async fn drop(self) -> anyhow::Result<()> {
        if let Some(schema) = &self.schema {
            drop_schema(schema).await?;
        }
        Ok(())
    }
}

async fn relais(args: &[String], env: &[(String, String)]) -> anyhow::Result<Output> {
    let child = tokio::process::Command::new(relais_binary())
        .args(args)
        .envs(env.iter().map(|(key, value)| (key, value)))
        .env("RELAIS_LOG", "warn")
        .kill_on_drop(true)
        .output();
    tokio::time::timeout(Duration::from_secs(60), child)
        .await
        .with_context(|| format!("relais {args:?} did not finish within 60 s"))?
        .with_context(|| format!("cannot run {}", relais_binary().display()))
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn ensure_success(what: &str, output: &Output) -> anyhow::Result<()> {
    anyhow::ensure!(
        output.status.success(),
        "{what} failed with {}\nstdout:\n{}\nstderr:\n{}",
        output.status,
        stdout(output),
        stderr(output)
    );
    Ok(())
}

/// Settings of the servers that edit: frequent snapshots, and rooms that stay open (a room that
/// closes snapshots its log away, and these tests need logs left to back up and compact).
const EDITING: &[&str] = &["--snapshot-every-updates", "5", "--room-grace-ms", "600000"];

/// One edited document and what its replicas converged to.
struct Edited {
    name: String,
    url_name: String,
    text: String,
    state_vector: StateVector,
}

/// Edits documents through `server`, each update confirmed by a second client (nothing is
/// relayed before it is committed). `snapshotted` gets enough separate updates for the room
/// to snapshot it (the server runs with `--snapshot-every-updates 5`).
async fn edit_documents(
    server: &TestServer,
    site: &Site,
    suffix: &str,
) -> anyhow::Result<Vec<Edited>> {
    // (name, as it appears in the URL, updates): the last one as y-websocket room names may
    // be, with accents, spaces and '/'.
    let plans = [
        (format!("plain-{suffix}"), format!("plain-{suffix}"), 3),
        (
            format!("snapshotted-{suffix}"),
            format!("snapshotted-{suffix}"),
            12,
        ),
        (
            format!("PLUi 2027/réunion {suffix}"),
            format!("PLUi%202027/r%C3%A9union%20{suffix}"),
            7,
        ),
    ];
    let mut edited = Vec::new();
    for (name, url_name, updates) in plans {
        let writer = YClient::connect_synced(&server.ws_url(&url_name)).await?;
        let observer = YClient::connect_synced(&server.ws_url(&url_name)).await?;
        let mut expected = String::new();
        for index in 0..updates {
            let chunk = format!("{name} edit {index}. ");
            writer.append(&chunk)?;
            expected.push_str(&chunk);
            // One update at a time, so that each is its own row in the log.
            observer.wait_text(&expected, WAIT).await?;
        }
        writer.wait_text(&expected, WAIT).await?;
        edited.push(Edited {
            name,
            url_name,
            text: observer.text(),
            state_vector: observer.state_vector(),
        });
        writer.close();
        observer.close();
    }
    // The room snapshots after its commit returns: wait for the rows.
    for snapshotted in [&edited[1].name, &edited[2].name] {
        eventually(WAIT, "snapshots of the busy documents", || async {
            let snapshots = site
                .count("document_snapshots", Some(snapshotted))
                .await
                .ok()?;
            (snapshots > 0).then_some(())
        })
        .await?;
    }
    Ok(edited)
}

/// Connects to every document on `server` and checks its text and state vector.
async fn check_documents(
    server: &TestServer,
    documents: &[Edited],
    context: &str,
) -> anyhow::Result<()> {
    for document in documents {
        let client = YClient::connect_synced(&server.ws_url(&document.url_name)).await?;
        client
            .wait_text(&document.text, WAIT)
            .await
            .with_context(|| format!("{context}: {}", document.name))?;
        assert_eq!(
            client.state_vector(),
            document.state_vector,
            "{context}: {}",
            document.name
        );
        client.close();
    }
    Ok(())
}

/// Signs in as the administrator Anne and, through the API, creates an organisation, a
/// workspace and a channel, and posts a message there: returns the channel's id and the
/// message.
async fn post_in_a_channel(server: &TestServer) -> anyhow::Result<(String, serde_json::Value)> {
    let anne = Api::sign_in(server, "anne@example.org", "password123456").await?;
    let created = |what: &str, status: u16, body: &serde_json::Value| {
        anyhow::ensure!(status == 201, "creating {what} answered {status}: {body}");
        body["id"]
            .as_str()
            .map(str::to_owned)
            .with_context(|| format!("the id of {what}: {body}"))
    };
    let (status, body) = anne
        .post(
            "/api/organisations",
            serde_json::json!({"name": "Commune de Trifouillis"}),
        )
        .await?;
    let organisation = created("an organisation", status, &body)?;
    let (status, body) = anne
        .post(
            "/api/workspaces",
            serde_json::json!({"organisation_id": organisation, "name": "PLUi 2027"}),
        )
        .await?;
    let workspace = created("a workspace", status, &body)?;
    let (status, body) = anne
        .post(
            &format!("/api/workspaces/{workspace}/channels"),
            serde_json::json!({"name": "général", "private": false}),
        )
        .await?;
    let channel = created("a channel", status, &body)?;
    let (status, message) = anne
        .post(
            &format!("/api/conversations/{channel}/messages"),
            serde_json::json!({
                "client_id": "before-the-backup",
                "body": "La **réunion** est déplacée à jeudi",
            }),
        )
        .await?;
    created("a message", status, &message)?;
    Ok((channel, message))
}

/// Every file under `dir` but the manifest (which records when and from where), with contents.
fn backup_files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    fn walk(root: &Path, dir: &Path, found: &mut Vec<(String, Vec<u8>)>) {
        for entry in std::fs::read_dir(dir).expect("read backup directory") {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                walk(root, &path, found);
            } else {
                let relative = path
                    .strip_prefix(root)
                    .expect("under the root")
                    .display()
                    .to_string();
                if relative != "manifest.json" {
                    found.push((relative, std::fs::read(&path).expect("read backup file")));
                }
            }
        }
    }
    let mut found = Vec::new();
    walk(dir, dir, &mut found);
    found.sort();
    found
}

#[tokio::test]
async fn backup_then_restore_gives_identical_documents() -> anyhow::Result<()> {
    for backend in BACKENDS {
        let origin = Site::new(backend).await?;
        let server = origin.serve(EDITING).await?;
        let documents = edit_documents(&server, &origin, &uuid_like()).await?;
        // SIGKILL: what is in the store is what the commits left, with logs not yet compacted.
        server.stop().await?;
        assert!(
            origin.count("document_updates", None).await? > 0,
            "{backend:?}: nothing left in the log"
        );
        // Accounts, tokens and the journal are backed up with the documents.
        let output = origin
            .relais_with_stdin(
                &[
                    "user",
                    "create",
                    "--email",
                    "anne@example.org",
                    "--name",
                    "Anne",
                    "--admin",
                    "--password-stdin",
                ],
                "password123456\n",
            )
            .await?;
        ensure_success("user create", &output)?;
        assert!(
            stdout(&output).contains("<anne@example.org> (administrator)"),
            "{}",
            stdout(&output)
        );
        let output = origin
            .relais(&[
                "token",
                "create",
                "--document",
                "*",
                "--role",
                "reader",
                "--expires",
                "2d",
            ])
            .await?;
        ensure_success("token create", &output)?;
        let reader_token = stdout(&output).trim().to_owned();
        // Chat too: a channel and a message, posted through the API.
        let server = origin.serve(&[]).await?;
        let (channel, message) = post_in_a_channel(&server).await?;
        server.stop().await?;
        // Export first: the export may itself be journaled, and the count verified must be
        // the one backed up.
        let output = origin.relais(&["audit", "export"]).await?;
        ensure_success("audit export", &output)?;
        let journal = stdout(&output);
        assert!(journal.contains("\"user.created\""), "{journal}");
        let output = origin.relais(&["audit", "verify"]).await?;
        ensure_success("audit verify", &output)?;
        let verified = stdout(&output);
        assert!(verified.contains("chain intact"), "{verified}");

        let backups = tempfile::Builder::new()
            .prefix("relais-backups-")
            .tempdir()?;
        let backup_dir = backups.path().join("first");
        let backup_arg = backup_dir.display().to_string();
        let output = origin.relais(&["backup", "--to", &backup_arg]).await?;
        ensure_success("backup", &output)?;
        assert!(
            stdout(&output).starts_with("backed up 3 documents"),
            "{backend:?}: {}",
            stdout(&output)
        );
        let manifest: serde_json::Value =
            serde_json::from_slice(&std::fs::read(backup_dir.join("manifest.json"))?)?;
        assert_eq!(manifest["format"], "relais-backup");
        assert_eq!(manifest["format_version"], 1);
        assert_eq!(manifest["documents"].as_array().map(Vec::len), Some(3));
        assert!(!manifest["blobs"].as_array().context("blobs")?.is_empty());
        let rows = |table: &str| {
            manifest["directory"]
                .as_array()
                .and_then(|entries| entries.iter().find(|entry| entry["table"] == table))
                .and_then(|entry| entry["rows"].as_u64())
        };
        assert_eq!(rows("users"), Some(1), "{backend:?}");
        // The servers' own tokens and ours.
        assert!(rows("api_tokens") >= Some(2), "{backend:?}");
        assert!(rows("audit_log") >= Some(3), "{backend:?}");
        assert_eq!(rows("conversations"), Some(1), "{backend:?}");
        assert_eq!(rows("messages"), Some(1), "{backend:?}");
        assert!(
            backup_dir.join("directory/users/00000000.jsonl").is_file(),
            "{backend:?}"
        );

        // A backup goes only into an empty location.
        let output = origin.relais(&["backup", "--to", &backup_arg]).await?;
        assert!(!output.status.success());
        assert!(
            stderr(&output).contains("the backup location is not empty"),
            "{}",
            stderr(&output)
        );

        // Restore into a fresh data directory or schema.
        let target = Site::new(backend).await?;
        let output = target.relais(&["restore", "--from", &backup_arg]).await?;
        ensure_success("restore", &output)?;
        assert!(
            stdout(&output).starts_with("restored 3 documents"),
            "{backend:?}: {}",
            stdout(&output)
        );

        // Neither the restored store nor the origin accepts another restore.
        for site in [&target, &origin] {
            let output = site.relais(&["restore", "--from", &backup_arg]).await?;
            assert_eq!(
                output.status.code(),
                Some(1),
                "{backend:?}: {}",
                stderr(&output)
            );
            assert!(
                stderr(&output).contains("the restore target is not empty"),
                "{backend:?}: {}",
                stderr(&output)
            );
        }
        // An empty database with a stray object is not empty either.
        let stray = Site::new(backend).await?;
        std::fs::create_dir_all(stray.objects())?;
        std::fs::write(stray.objects().join("stray"), b"x")?;
        let output = stray.relais(&["restore", "--from", &backup_arg]).await?;
        assert!(
            stderr(&output).contains("stray"),
            "{backend:?}: {}",
            stderr(&output)
        );
        stray.drop().await?;

        // The journal came across entry for entry, and its chain still holds.
        let output = target.relais(&["audit", "verify"]).await?;
        ensure_success("audit verify of the restored store", &output)?;
        assert_eq!(stdout(&output), verified, "{backend:?}");

        // Byte for byte: backing the restored store up gives the same rows and blobs.
        let second_dir = backups.path().join("second");
        let output = target
            .relais(&["backup", "--to", &second_dir.display().to_string()])
            .await?;
        ensure_success("backup of the restored store", &output)?;
        assert!(
            backup_files(&backup_dir) == backup_files(&second_dir),
            "{backend:?}: backups differ"
        );
        // Last of the reads: an export may append to the journal.
        let output = target.relais(&["audit", "export"]).await?;
        ensure_success("audit export of the restored store", &output)?;
        assert!(
            stdout(&output).starts_with(&journal),
            "{backend:?}: journals differ"
        );

        // The account is there: its e-mail address is taken.
        let output = target
            .relais_with_stdin(
                &[
                    "user",
                    "create",
                    "--email",
                    "anne@example.org",
                    "--name",
                    "Anne again",
                    "--password-stdin",
                ],
                "password123456\n",
            )
            .await?;
        assert!(!output.status.success(), "{backend:?}: {}", stdout(&output));
        assert!(
            stderr(&output).contains("already exists"),
            "{backend:?}: {}",
            stderr(&output)
        );

        // And a server on the restored store serves the same documents, also to the token
        // minted before the backup.
        let restored = target.serve(&[]).await?;
        check_documents(&restored, &documents, &format!("{backend:?} restored")).await?;
        let reader = YClient::connect_synced(&format!(
            "ws://{}/yjs/{}?token={reader_token}",
            restored.address(),
            documents[0].url_name
        ))
        .await
        .with_context(|| format!("{backend:?}: the restored token"))?;
        reader.wait_text(&documents[0].text, WAIT).await?;
        reader.close();
        // The message is in its channel, and search finds it: the index was rebuilt.
        let anne = Api::sign_in(&restored, "anne@example.org", "password123456").await?;
        let (status, history) = anne
            .get(&format!("/api/conversations/{channel}/messages"))
            .await?;
        anyhow::ensure!(status == 200, "{backend:?}: history: {status} {history}");
        assert_eq!(history[0]["id"], message["id"], "{backend:?}: {history}");
        assert_eq!(
            history[0]["body"], message["body"],
            "{backend:?}: {history}"
        );
        let (status, found) = anne.get("/api/search?q=reunion%20deplacee").await?;
        anyhow::ensure!(status == 200, "{backend:?}: search: {status} {found}");
        assert_eq!(found[0]["id"], message["id"], "{backend:?}: {found}");
        restored.stop().await?;
        target.drop().await?;
        origin.drop().await?;
    }
    Ok(())
}

/// The backup location may be a bucket prefix, with the same `AWS_*` settings as the object
/// store; the stores themselves stay on local files here. From SQLite to Postgres, too.
#[tokio::test]
async fn backup_to_a_bucket_and_restore_from_it() -> anyhow::Result<()> {
    let moto = Moto::start("relais-backups").await?;
    let origin = Site::new(Backend::Sqlite).await?;
    let server = origin.serve(EDITING).await?;
    let documents = edit_documents(&server, &origin, &uuid_like()).await?;
    server.stop().await?;

    let location = "s3://relais-backups/nightly/2026-03-03";
    let output = origin
        .relais_with_env(&["backup", "--to", location], &moto.env())
        .await?;
    ensure_success("backup to a bucket", &output)?;
    let output = origin
        .relais_with_env(&["backup", "--to", location], &moto.env())
        .await?;
    assert!(
        stderr(&output).contains("the backup location is not empty"),
        "{}",
        stderr(&output)
    );

    let target = Site::new(Backend::Postgres).await?;
    let output = target
        .relais_with_env(&["restore", "--from", location], &moto.env())
        .await?;
    ensure_success("restore from a bucket", &output)?;
    // The directory came across from SQLite to Postgres with its journal intact.
    let output = target.relais(&["audit", "verify"]).await?;
    ensure_success("audit verify of the store restored from a bucket", &output)?;
    assert!(
        stdout(&output).contains("chain intact"),
        "{}",
        stdout(&output)
    );
    let restored = target.serve(&[]).await?;
    check_documents(&restored, &documents, "restored from a bucket").await?;
    restored.stop().await?;
    target.drop().await?;
    origin.drop().await?;
    Ok(())
}

#[tokio::test]
async fn compact_prunes_the_log_and_keeps_the_text() -> anyhow::Result<()> {
    for backend in BACKENDS {
        let site = Site::new(backend).await?;
        let server = site.serve(EDITING).await?;
        let documents = edit_documents(&server, &site, &uuid_like()).await?;
        server.stop().await?;
        let plain = documents[0].name.as_str();
        assert_eq!(
            site.count("document_updates", Some(plain)).await?,
            3,
            "{backend:?}"
        );

        // One document.
        let output = site
            .relais(&["documents", "compact", "--document", plain])
            .await?;
        ensure_success("compact one", &output)?;
        assert!(
            stdout(&output).contains(&format!("{plain}: snapshot at seq 3")),
            "{}",
            stdout(&output)
        );
        assert_eq!(
            site.count("document_updates", Some(plain)).await?,
            0,
            "{backend:?}"
        );
        assert_eq!(
            site.count("document_snapshots", Some(plain)).await?,
            1,
            "{backend:?}"
        );
        assert!(
            site.count("document_updates", Some(&documents[2].name))
                .await?
                > 0,
            "{backend:?}: others untouched"
        );

        // Then all of them; the one already compact is left alone.
        let output = site.relais(&["documents", "compact"]).await?;
        ensure_success("compact all", &output)?;
        assert!(
            stdout(&output).contains("1 already compact"),
            "{}",
            stdout(&output)
        );
        assert_eq!(
            site.count("document_updates", None).await?,
            0,
            "{backend:?}"
        );
        assert_eq!(
            site.count("document_snapshots", Some(plain)).await?,
            1,
            "{backend:?}: no second snapshot"
        );

        // An unknown document is an error, not a silent success.
        let output = site
            .relais(&["documents", "compact", "--document", "never-written"])
            .await?;
        assert_eq!(output.status.code(), Some(1));
        assert!(
            stderr(&output).contains("no document named never-written"),
            "{}",
            stderr(&output)
        );

        let server = site.serve(&[]).await?;
        check_documents(&server, &documents, &format!("{backend:?} compacted")).await?;
        // The compacted log goes on from where it stopped.
        let client = YClient::connect_synced(&server.ws_url(plain)).await?;
        let observer = YClient::connect_synced(&server.ws_url(plain)).await?;
        client.append("after compaction.")?;
        observer
            .wait_text(&format!("{}after compaction.", documents[0].text), WAIT)
            .await?;
        server.stop().await?;
        site.drop().await?;
    }
    Ok(())
}

#[tokio::test]
async fn doctor_passes_on_a_good_configuration_and_names_what_fails() -> anyhow::Result<()> {
    for backend in BACKENDS {
        let site = Site::new(backend).await?;
        // A server creates the schema; doctor itself migrates nothing.
        let server = site.serve(&[]).await?;
        server.stop().await?;
        let bus = nats_url();
        let mut args = vec!["doctor"];
        if backend == Backend::Postgres {
            args.extend(["--bus-url", bus.as_str()]);
        }
        let output = site.relais(&args).await?;
        ensure_success("doctor", &output)?;
        let report = stdout(&output);
        for check in [
            "config",
            "database",
            "migrations",
            "objects",
            "bus",
            "clock",
        ] {
            assert!(
                report.contains(&format!("ok   {check}: ")),
                "{backend:?}: no ok {check} in\n{report}"
            );
        }
        assert!(
            !site.objects().join("doctor").read_dir()?.any(|_| true),
            "the probe object is deleted"
        );
        site.drop().await?;
    }

    // Postgres on a closed port: the database check fails, and says so; the others still run.
    let site = Site::new(Backend::Sqlite).await?;
    let output = site
        .relais_overriding(
            &["doctor"],
            &["--database-url", "postgres://relais@127.0.0.1:1/relais"],
        )
        .await?;
    assert_eq!(output.status.code(), Some(1), "{}", stdout(&output));
    let report = stdout(&output);
    assert!(
        report
            .lines()
            .any(|line| line.starts_with("FAIL database: ")),
        "{report}"
    );
    assert!(report.contains("ok   objects: "), "{report}");

    // An invalid setting is the failing check.
    let output = site.relais(&["doctor", "--keepalive-ms", "40000"]).await?;
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stdout(&output).starts_with("FAIL config: invalid configuration: keepalive_ms"),
        "{}",
        stdout(&output)
    );
    site.drop().await?;
    Ok(())
}
