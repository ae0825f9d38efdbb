//! The Relais server: HTTP and websockets, the document hub, configuration and shutdown.
//!
//! This is the only crate that depends on both `relais-crdt` (what documents mean) and
//! `relais-storage` (where bytes rest). It owns every network input and its limits.

pub mod access;
pub mod access_watch;
pub mod admin;
pub mod api;
pub mod audit;
pub mod auth;
pub mod bus;
pub mod chat;
pub mod close;
pub mod config;
pub mod directory_cli;
pub mod http;
pub mod metrics;
pub mod hub;
pub mod public;
pub mod versions;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use relais_storage::StorageConfig;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{error, info, warn};

use crate::config::Config;
use crate::http::AppState;
use crate::hub::Hub;

/// How long shutdown may take before remaining work is abandoned; stays under the 10 s that
/// orchestrators usually allow between SIGTERM and SIGKILL.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(8);

/// Runs the server until `shutdown` is cancelled, then stops accepting, closes clients with
/// 1001 and flushes rooms. Prints the URL it listens on once ready.
pub async fn serve(mut config: Config, shutdown: CancellationToken) -> anyhow::Result<()> {
    config.prepare_data_dir()?;
    // Each websocket is a file descriptor; the usual soft limit of 1024 would cap a node far
    // below its `max_connections`. Raise it to the hard limit the system allows.
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) if (limit as usize) < config.max_connections => {
            warn!(limit, max_connections = config.max_connections, "open file limit is below max_connections");
        }
        Ok(_) => {}
        Err(error) => warn!(error = %error, "cannot raise the open file limit"),
    }
    let storage = relais_storage::connect_storage(&StorageConfig {
        database_url: config.database_url.clone(),
        object_store_url: config.object_store.clone(),
        max_connections: config.database_max_connections,
    })
    .await
    .context("cannot open storage")?;
    let store = storage.documents.clone();
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let address = listener.local_addr()?;
    if !config.auth.public_url_explicit
        && let Ok(bound) = url::Url::parse(&format!("http://{address}"))
    {
        config.auth.public_url = bound;
    }
    let oidc = match &config.auth.oidc {
        Some(oidc) => Some(Arc::new(
            auth::oidc::Oidc::discover(oidc, &config.auth.public_url)
                .await
                .context("cannot reach the OpenID Connect provider")?,
        )),
        None => None,
    };

    let tracker = TaskTracker::new();
    let bus = match &config.bus_url {
        Some(url) => Some(bus::Bus::connect(url, &tracker).await.context("cannot join the bus")?),
        None => None,
    };
    let hard_stop = CancellationToken::new();
    let metrics = Arc::new(metrics::Metrics::new());
    let (chat_hub, chat_hub_starter) = chat::hub::ChatHub::spawn(bus.clone(), &tracker);
    let hub = Hub::new(store.clone(), storage.versions.clone(), bus, metrics, config.hub.clone(), tracker.clone(), shutdown.clone(), hard_stop.clone());
    let state = AppState {
        hub: hub.clone(),
        directory: storage.directory.clone(),
        audit: audit::Audit::new(storage.directory.clone()),
        access: access_watch::AccessWatch::spawn(storage.directory.clone(), &tracker, shutdown.clone()),
        auth_limit: auth::ratelimit::AuthRateLimit::new(config.auth.auth_rate_per_minute),
        oidc,
        chat: storage.chat.clone(),
        chat_hub,
        chat_limit: auth::ratelimit::ChatRateLimit::new(config.chat.messages_per_minute),
        versions: versions::VersionService {
            store: store.clone(),
            versions: storage.versions.clone(),
            directory: storage.directory.clone(),
            hub: hub.clone(),
            recorded_exports: Arc::default(),
        },
        config: Arc::new(config),
    };
    versions::spawn_retention(storage.versions.clone(), &tracker, shutdown.clone());
    chat_hub_starter.start(state.clone(), shutdown.clone()).await;
    let app = http::router(state);

    info!(%address, backend = store.backend_name(), "relais listening");
    // The one line on stdout: scripts and tests read the address from it.
    println!("relais listening on http://{address}");

    let server_shutdown = shutdown.clone();
    // Updates are small frames that must go out at once: without TCP_NODELAY, Nagle's
    // algorithm and delayed acknowledgements hold them back by up to 40 ms.
    let listener = axum::serve::ListenerExt::tap_io(listener, |stream| {
        if let Err(error) = stream.set_nodelay(true) {
            warn!(error = %error, "cannot set TCP_NODELAY");
        }
    });
    let app = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
    let server = axum::serve(listener, app).with_graceful_shutdown(async move { server_shutdown.cancelled().await });
    server.await.context("http server failed")?;

    info!(rooms = hub.open_rooms(), connections = hub.connections(), "shutting down");
    tracker.close();
    if tokio::time::timeout(SHUTDOWN_GRACE, tracker.wait()).await.is_err() {
        warn!("shutdown grace period over; abandoning remaining work");
        hard_stop.cancel();
        if tokio::time::timeout(Duration::from_secs(1), tracker.wait()).await.is_err() {
            error!("tasks still running at exit");
        }
    }
    store.close().await;
    info!("stopped");
    Ok(())
}
