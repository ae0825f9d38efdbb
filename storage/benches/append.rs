//! Append throughput of the update log: batches of 1 and 64 small updates, on SQLite (a file in
//! a temporary directory, WAL and `synchronous = FULL` as in production) and on Postgres (a fresh
//! schema, dropped at the end). One batch is one transaction: a room's group commit.
//!
//! Run with `cargo bench -p relais-storage --bench append`. Postgres is taken from
//! `RELAIS_BENCH_POSTGRES` (default `postgres://postgres@127.0.0.1:5432/test`); if it cannot be
//! reached its benchmarks say so and measure nothing.

use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use divan::Bencher;
use divan::counter::ItemsCount;
use relais_storage::{DocumentId, PostgresStore, SqliteStore, Store, open_object_store};
// The schema name is made here from the process id, never from input.
use sqlx::AssertSqlSafe;
use tokio::runtime::Runtime;

/// A keystroke-sized Yjs update; storage treats it as opaque bytes.
const UPDATE_BYTES: usize = 32;

struct Fixture {
    runtime: Runtime,
    sqlite: Arc<dyn Store>,
    postgres: Option<(Arc<dyn Store>, String)>,
    _temp: tempfile::TempDir,
}

static FIXTURE: OnceLock<Fixture> = OnceLock::new();

fn postgres_base() -> String {
    std::env::var("RELAIS_BENCH_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

fn fixture() -> &'static Fixture {
    FIXTURE.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio runtime");
        let temp = tempfile::tempdir().expect("temporary directory");
        let url = format!("sqlite://{}/relais.db", temp.path().display());
        let sqlite: Arc<dyn Store> = runtime.block_on(async {
            let objects = open_object_store("memory://").expect("memory object store");
            Arc::new(
                SqliteStore::connect(&url, objects, 2)
                    .await
                    .expect("SQLite store"),
            )
        });
        let postgres = runtime.block_on(connect_postgres());
        Fixture {
            runtime,
            sqlite,
            postgres,
            _temp: temp,
        }
    })
}

/// A store on a fresh schema, or `None` (with a note on stderr) if Postgres is unreachable.
async fn connect_postgres() -> Option<(Arc<dyn Store>, String)> {
    let base = postgres_base();
    let schema = format!("bench_append_{}", std::process::id());
    let admin = match sqlx::PgPool::connect(&base).await {
        Ok(pool) => pool,
        Err(error) => {
            eprintln!("append: Postgres at {base} unreachable ({error}); skipping its benchmarks");
            return None;
        }
    };
    if let Err(error) = sqlx::query(AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&admin)
        .await
    {
        eprintln!("append: cannot create schema {schema} ({error}); skipping Postgres");
        return None;
    }
    admin.close().await;
    let url = format!("{base}?options=-c%20search_path%3D{schema}");
    let objects = open_object_store("memory://").expect("memory object store");
    match PostgresStore::connect(&url, objects, 2).await {
        Ok(store) => Some((Arc::new(store) as Arc<dyn Store>, schema)),
        Err(error) => {
            eprintln!("append: cannot open the Postgres store ({error}); skipping Postgres");
            None
        }
    }
}

fn drop_postgres_schema(fixture: &Fixture) {
    if let Some((store, schema)) = &fixture.postgres {
        fixture.runtime.block_on(async {
            store.close().await;
            if let Ok(admin) = sqlx::PgPool::connect(&postgres_base()).await {
                let _ = sqlx::query(AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
                    .execute(&admin)
                    .await;
                admin.close().await;
            }
        });
    }
}

fn main() {
    divan::main();
    if let Some(fixture) = FIXTURE.get() {
        drop_postgres_schema(fixture);
    }
}

fn bench_append(
    bencher: Bencher,
    store: &Arc<dyn Store>,
    runtime: &Runtime,
    document: &str,
    batch: usize,
) {
    let document = DocumentId::parse(document).expect("valid document name");
    let updates: Vec<Bytes> = (0..batch)
        .map(|index| Bytes::from(vec![index as u8; UPDATE_BYTES]))
        .collect();
    bencher.counter(ItemsCount::new(batch)).bench_local(|| {
        runtime
            .block_on(store.append_updates(&document, &updates))
            .expect("append")
    });
}

#[divan::bench(args = [1, 64], sample_count = 30, sample_size = 4)]
fn sqlite_append(bencher: Bencher, batch: usize) {
    let fixture = fixture();
    bench_append(
        bencher,
        &fixture.sqlite,
        &fixture.runtime,
        &format!("sqlite-batch-{batch}"),
        batch,
    );
}

#[divan::bench(args = [1, 64], sample_count = 30, sample_size = 4)]
fn postgres_append(bencher: Bencher, batch: usize) {
    let fixture = fixture();
    match &fixture.postgres {
        Some((store, _)) => bench_append(
            bencher,
            store,
            &fixture.runtime,
            &format!("postgres-batch-{batch}"),
            batch,
        ),
        // Unreachable: time nothing, so the row shows a no-op rather than failing the run.
        None => bencher.bench_local(|| ()),
    }
}
