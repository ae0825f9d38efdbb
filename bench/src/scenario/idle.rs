//! Idle memory: the server's resident memory per idle connection and per loaded document.
//!
//! Phases, each followed by a settling pause before reading the server's RSS:
//! 0. nothing connected (baseline);
//! 1. one client per room joins and writes `doc_edits` edits: `rooms` documents are loaded,
//!    each with one connection;
//! 2. the other clients join and stay idle; each receives the whole document in its sync step 2
//!    (the run waits until every one of them holds every edit), as people joining an existing
//!    document do.
//!
//! Per connection = growth from 1 to 2 per added connection. Per document = growth from 0 to 1
//! per room, less one connection: the document, its room and what the server keeps for it.
//! RSS includes allocator slack, buffers kept after use and, for garbage-collected servers,
//! garbage not yet collected: it is what an operator pays, not an exact size of data structures.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use bytes::Bytes;
use serde_json::{Map, Value, json};
use tokio::time::Instant;

use super::Target;
use crate::client::{Client, PayloadHook, close_all, connect_many};
use crate::delivery::{Tracker, WriterPlace};
use crate::edits::EditWriter;
use crate::procfs::rss_bytes;
use crate::token::{self, Token};

#[derive(Debug, Clone)]
pub struct IdlePlan {
    pub room_prefix: String,
    pub connections: u32,
    pub rooms: u32,
    pub doc_edits: u32,
    pub edit_bytes: usize,
    pub settle: Duration,
    pub connect_parallel: usize,
    /// The server keeps no document (the raw relay): joiners cannot receive it, so do not wait.
    pub stateless: bool,
    /// Scenario name in the result (`idle`, or e.g. `idle-10k` for a larger run).
    pub label: String,
}

const SYNC_TIMEOUT: Duration = Duration::from_secs(120);
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(120);

pub async fn run(target: &Target, plan: &IdlePlan) -> anyhow::Result<Map<String, Value>> {
    let pid = target.server_pid.context("the idle scenario needs --server-pid")?;
    anyhow::ensure!(plan.rooms > 0 && plan.connections.is_multiple_of(plan.rooms), "connections must be a multiple of rooms");
    let per_room = plan.connections / plan.rooms;
    anyhow::ensure!(per_room >= 2, "at least two connections per room");
    let room = |index: u32| format!("{}-{index:04}", plan.room_prefix);

    // The first client of each room writes in phase 3; every client counts what it receives.
    let places: Vec<WriterPlace> = (0..plan.rooms).map(|room| WriterPlace { room, receivers: per_room - 1 }).collect();
    let tracker = Arc::new(Tracker::new(&places, plan.doc_edits as usize, per_room as usize));
    let request = |index: u32, position: u32| {
        let tracker = tracker.clone();
        let own_writer = (position == 0).then_some(index);
        let hook: PayloadHook = Arc::new(move |payload, _| {
            token::scan(payload, |token| tracker.mark_received(index, position, own_writer, token));
        });
        (room(index), target.options(false, Some(hook)))
    };

    tokio::time::sleep(plan.settle).await;
    let rss_empty = rss_bytes(pid)?;

    let started = Instant::now();
    let writers = connect_phase(target, (0..plan.rooms).map(|index| request(index, 0)).collect(), plan.connect_parallel).await?;
    let mut state_bytes = 0usize;
    for (index, client) in writers.iter().enumerate() {
        let mut writer = EditWriter::new(index as u32, plan.edit_bytes.saturating_sub(token::TOKEN_BYTES))?;
        for seq in 0..plan.doc_edits {
            let frame: Bytes = client.framer().update(writer.next_update());
            tracker.mark_sent(Token { writer: index as u32, seq });
            client.send(frame)?;
        }
        state_bytes = state_bytes.max(writer.state().len());
    }
    tokio::time::sleep(plan.settle).await;
    let rss_documents = rss_bytes(pid)?;

    let others: Vec<_> = (1..per_room).flat_map(|position| (0..plan.rooms).map(move |index| (index, position))).collect();
    let idle = connect_phase(target, others.iter().map(|&(index, position)| request(index, position)).collect(), plan.connect_parallel).await?;
    let connect_secs = started.elapsed().as_secs_f64();
    // Every joiner must hold the whole document: that also proves phase 1 was complete.
    let deadline = Instant::now() + if plan.stateless { Duration::ZERO } else { DELIVERY_TIMEOUT };
    while tracker.completed() < tracker.sent() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let delivered = tracker.completed() == tracker.sent();
    tokio::time::sleep(plan.settle).await;
    let rss_connected = rss_bytes(pid)?;

    let disconnects = writers.iter().chain(&idle).filter(|client| client.is_closed()).count();
    let first_disconnect = writers.iter().chain(&idle).find(|client| client.is_closed()).and_then(Client::close_reason);
    close_all(writers.into_iter().chain(idle)).await;

    let added_connections = f64::from(plan.connections - plan.rooms);
    let per_connection = (rss_connected as f64 - rss_documents as f64) / added_connections;
    let per_document = (rss_documents as f64 - rss_empty as f64) / f64::from(plan.rooms) - per_connection;
    let mut line = target.result(&plan.label);
    line.insert("connections".into(), json!(plan.connections));
    line.insert("rooms".into(), json!(plan.rooms));
    line.insert("connect_secs".into(), json!((connect_secs * 100.0).round() / 100.0));
    line.insert("rss_empty_bytes".into(), json!(rss_empty));
    line.insert("rss_documents_bytes".into(), json!(rss_documents));
    line.insert("rss_connected_bytes".into(), json!(rss_connected));
    line.insert("bytes_per_connection".into(), json!(per_connection.round()));
    line.insert("doc_edits".into(), json!(plan.doc_edits));
    line.insert("doc_state_bytes".into(), json!(state_bytes));
    line.insert("bytes_per_document".into(), json!(per_document.round()));
    line.insert("document_to_state_ratio".into(), json!(((per_document / state_bytes.max(1) as f64) * 100.0).round() / 100.0));
    line.insert("documents_delivered".into(), if plan.stateless { Value::Null } else { json!(delivered) });
    line.insert("disconnects".into(), json!(disconnects));
    if let Some(reason) = first_disconnect {
        line.insert("first_disconnect".into(), json!(reason));
    }
    Ok(line)
}

async fn connect_phase(
    target: &Target,
    requests: Vec<(String, crate::client::ClientOptions)>,
    parallel: usize,
) -> anyhow::Result<Vec<Client>> {
    let count = requests.len();
    let results = connect_many(&target.url, requests, parallel).await;
    let mut clients = Vec::with_capacity(count);
    let mut failures = 0usize;
    let mut first_error = None;
    for result in results {
        match result {
            Ok(client) => clients.push(client),
            Err(error) => {
                failures += 1;
                first_error.get_or_insert(format!("{error:#}"));
            }
        }
    }
    if let Some(error) = first_error {
        close_all(clients).await;
        anyhow::bail!("{failures} of {count} connections failed, first: {error}");
    }
    let deadline = Instant::now() + SYNC_TIMEOUT;
    for client in &clients {
        client.wait_synced(deadline).await?;
    }
    Ok(clients)
}
