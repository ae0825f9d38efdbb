//! Test harness for Relais: starts the real `relais` binary on an ephemeral port with its own
//! data directory (and its own Postgres schema), and talks to it with real clients: a Rust
//! y-websocket client built on `yrs` and `tokio-tungstenite`, the npm `y-websocket` provider
//! driven through `node/yclient.mjs`, and raw websockets for malformed input.

pub mod api;
pub mod chat;
pub mod fixtures;
pub mod moto;
pub mod node;
pub mod oidc;
pub mod server;
pub mod yclient;

pub use node::NodeClient;

/// The workspace's root folder (where `target/` and `tests/` are).
pub fn workspace_root() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}
pub use server::{Backend, TestCluster, TestServer};
pub use yclient::{Closed, YClient};

use std::future::Future;
use std::time::Duration;

/// Waits until `check` returns `Some`, polling every 20 ms, or fails after `within`.
/// Tests wait for conditions, never for fixed delays.
pub async fn eventually<T, F, Fut>(within: Duration, what: &str, mut check: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if let Some(value) = check().await {
            return Ok(value);
        }
        if tokio::time::Instant::now() >= deadline {
            anyhow::bail!("timed out after {within:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Both storage backends, for tests that must pass on each.
pub const BACKENDS: [Backend; 2] = [Backend::Sqlite, Backend::Postgres];
