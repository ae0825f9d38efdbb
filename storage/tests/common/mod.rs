//! The harness every storage suite runs its scenarios in.
//!
//! A scenario is an `async fn(Arc<Harness>)`; the `both_backends!` macro turns each into two
//! tests, `sqlite::<name>` and `postgres::<name>`. A harness gives the scenario a private
//! database (a fresh SQLite file, or a fresh Postgres schema) and a private object directory
//! (`LocalFileSystem` in a temporary directory), and can open as many store instances on them
//! as the scenario wants: separate instances stand for separate server processes. Each suite
//! adds the methods it needs to `Harness` in its own file.
//!
//! Postgres: `postgres://postgres@127.0.0.1:5432/test?sslmode=disable` unless
//! `RELAIS_TEST_POSTGRES_URL` says otherwise (TLS on loopback only costs ~90 ms a connection).
//! Each test creates its own schema over a plain connection and drops it at the end, also when
//! the scenario panics.

// Every suite compiles this module and uses only part of it.
#![allow(dead_code)]

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use object_store::ObjectStore;
use object_store::local::LocalFileSystem;
use relais_storage::{
    Chat, Directory, DocumentId, NewUser, PostgresStore, SqliteStore, Store, StoreError, UserKind,
    Versions, WorkspaceId,
};
use sha2::{Digest, Sha256};
use sqlx::{AssertSqlSafe, Connection, PgConnection, SqliteConnection};
use tempfile::TempDir;

pub const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable";

/// Pool size of every store a scenario opens: small, since up to 9 stores run at once.
pub const MAX_CONNECTIONS: u32 = 2;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Every face of one store instance; each suite keeps the ones it tests.
pub trait FullStore: Store + Directory + Chat + Versions {}

impl<T: Store + Directory + Chat + Versions> FullStore for T {}

/// A private database and object directory for one test.
pub struct Harness {
    pub backend: Backend,
    /// Holds the SQLite file, the objects and whatever a scenario writes beside them, for as
    /// long as the test runs.
    pub temp: TempDir,
    pub database_url: String,
    /// Shared by every store instance of the test, as one bucket would be.
    pub objects: Arc<dyn ObjectStore>,
    /// Postgres only: the server URL without the schema option, and the schema's name.
    pub postgres_schema: Option<(String, String)>,
}

impl Harness {
    pub async fn new(backend: Backend) -> Self {
        let temp = tempfile::tempdir().expect("temporary directory");
        let objects_dir = temp.path().join("objects");
        std::fs::create_dir(&objects_dir).expect("objects directory");
        let objects: Arc<dyn ObjectStore> =
            Arc::new(LocalFileSystem::new_with_prefix(&objects_dir).expect("local objects"));
        match backend {
            Backend::Sqlite => {
                let database_url = format!("sqlite://{}/db/relais.db", temp.path().display());
                Self {
                    backend,
                    temp,
                    database_url,
                    objects,
                    postgres_schema: None,
                }
            }
            Backend::Postgres => {
                let server_url = std::env::var("RELAIS_TEST_POSTGRES_URL")
                    .unwrap_or_else(|_| DEFAULT_POSTGRES_URL.to_owned());
                let schema = format!("relais_test_{}", uuid::Uuid::new_v4().simple());
                let mut admin = PgConnection::connect(&server_url).await.unwrap_or_else(|error| {
                    panic!("cannot reach Postgres at {server_url} (set RELAIS_TEST_POSTGRES_URL): {error}")
                });
                // The name is made here from a uuid, so formatting it into SQL is safe.
                sqlx::query(AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
                    .execute(&mut admin)
                    .await
                    .expect("create test schema");
                admin.close().await.expect("close admin connection");
                let separator = if server_url.contains('?') { '&' } else { '?' };
                let database_url =
                    format!("{server_url}{separator}options=-c%20search_path%3D{schema}");
                Self {
                    backend,
                    temp,
                    database_url,
                    objects,
                    postgres_schema: Some((server_url, schema)),
                }
            }
        }
    }

    pub fn objects_dir(&self) -> PathBuf {
        self.temp.path().join("objects")
    }

    /// A new store instance (its own pools) on this test's database and on `objects`, as
    /// another server process would open it.
    pub async fn connect(&self, objects: Arc<dyn ObjectStore>) -> Arc<dyn FullStore> {
        match self.backend {
            Backend::Sqlite => Arc::new(
                SqliteStore::connect(&self.database_url, objects, MAX_CONNECTIONS)
                    .await
                    .expect("open SQLite store"),
            ),
            Backend::Postgres => Arc::new(
                PostgresStore::connect(&self.database_url, objects, MAX_CONNECTIONS)
                    .await
                    .expect("open Postgres store"),
            ),
        }
    }

    /// A plain connection to this test's database (its schema, on Postgres), around the store.
    pub async fn raw_connection(&self) -> Result<RawConnection, sqlx::Error> {
        Ok(match self.backend {
            Backend::Sqlite => {
                RawConnection::Sqlite(SqliteConnection::connect(&self.database_url).await?)
            }
            Backend::Postgres => {
                RawConnection::Postgres(PgConnection::connect(&self.database_url).await?)
            }
        })
    }

    /// Best effort: a leftover schema only costs disk space.
    pub async fn cleanup(&self) {
        if let Some((server_url, schema)) = &self.postgres_schema
            && let Ok(mut admin) = PgConnection::connect(server_url).await
        {
            let _ = sqlx::query(AssertSqlSafe(format!(
                "DROP SCHEMA IF EXISTS {schema} CASCADE"
            )))
            .execute(&mut admin)
            .await;
            let _ = admin.close().await;
        }
    }
}

/// A plain database connection beside the store, standing for anyone with SQL access.
pub enum RawConnection {
    Sqlite(SqliteConnection),
    Postgres(PgConnection),
}

impl RawConnection {
    /// Runs one statement with `binds` bound to `$1`, `$2`..., returning the rows it affected.
    pub async fn execute(&mut self, statement: &str, binds: &[&str]) -> Result<u64, sqlx::Error> {
        let statement = AssertSqlSafe(statement.to_owned());
        match self {
            Self::Sqlite(connection) => {
                let mut query = sqlx::query(statement);
                for bind in binds {
                    query = query.bind(*bind);
                }
                Ok(query.execute(&mut *connection).await?.rows_affected())
            }
            Self::Postgres(connection) => {
                let mut query = sqlx::query(statement);
                for bind in binds {
                    query = query.bind(*bind);
                }
                Ok(query.execute(&mut *connection).await?.rows_affected())
            }
        }
    }

    pub async fn close(self) -> Result<(), sqlx::Error> {
        match self {
            Self::Sqlite(connection) => connection.close().await,
            Self::Postgres(connection) => connection.close().await,
        }
    }
}

/// Runs one scenario in its own task so that a panic still lets the schema be dropped.
pub async fn run<F, Fut>(backend: Backend, scenario: F)
where
    F: FnOnce(Arc<Harness>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let harness = Arc::new(Harness::new(backend).await);
    let outcome = tokio::spawn(scenario(Arc::clone(&harness))).await;
    harness.cleanup().await;
    if let Err(error) = outcome {
        std::panic::resume_unwind(error.into_panic());
    }
}

/// Turns each scenario into `sqlite::<name>` and `postgres::<name>`; the scenarios after
/// `postgres only:` into `postgres::<name>` alone.
macro_rules! both_backends {
    ($($scenario:ident),* $(,)? $(; postgres only: $($postgres_only:ident),* $(,)?)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    $crate::common::run($crate::common::Backend::Sqlite, super::$scenario).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    $crate::common::run($crate::common::Backend::Postgres, super::$scenario).await;
                }
            )*
            $($(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $postgres_only() {
                    $crate::common::run($crate::common::Backend::Postgres, super::$postgres_only)
                        .await;
                }
            )*)?
        }
    };
}

pub(crate) use both_backends;

pub fn document_id(name: &str) -> DocumentId {
    DocumentId::parse(name).expect("valid test document name")
}

pub fn bytes(text: &str) -> Bytes {
    Bytes::copy_from_slice(text.as_bytes())
}

pub fn sha256_hex(data: &[u8]) -> String {
    Sha256::digest(data)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// A staff user with no organisation, named after `email`.
pub fn new_user(email: &str) -> NewUser {
    NewUser {
        email: email.to_owned(),
        display_name: format!("User {email}"),
        kind: UserKind::Staff,
        organisation: None,
        is_admin: false,
        password_hash: None,
        oidc: None,
    }
}

/// A workspace in a new organisation.
pub async fn workspace(directory: &dyn Directory, name: &str) -> WorkspaceId {
    let organisation = directory
        .create_organisation(&format!("organisation of {name}"))
        .await
        .unwrap();
    directory
        .create_workspace(&organisation.id, name)
        .await
        .unwrap()
        .id
}

/// Asserts the database refused a statement by one of the immutability triggers.
pub fn assert_immutable(result: Result<u64, sqlx::Error>, statement: &str) {
    match result {
        Err(sqlx::Error::Database(error)) => assert!(
            error.message().contains("immutable"),
            "{statement}: refused for another reason: {error}"
        ),
        other => panic!("{statement}: expected a refusal, got {other:?}"),
    }
}

pub fn is_not_found<T: std::fmt::Debug>(result: Result<T, StoreError>) -> bool {
    matches!(result, Err(StoreError::NotFound(_)))
}
