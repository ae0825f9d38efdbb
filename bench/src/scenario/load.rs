//! Rooms of clients where some clients type at a fixed rate: the fan-out scenario, and one step
//! of the throughput scenario.
//!
//! Every client joins and completes the sync handshake before anyone types. Edits are made
//! before the clock starts; then each writer sends its edits on a fixed schedule (open loop: a
//! slow server does not slow the writers down, its queue shows up as latency). An edit's latency
//! runs from the moment its writer queued it to the moment the last other client of the room
//! received it. After the last send, the run waits (bounded) for outstanding deliveries; what is
//! still missing then is lost. Optionally every client then rebuilds its document from what it
//! received, and all copies, plus the server's (a fresh client's sync), must be identical.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use bytes::Bytes;
use serde_json::{Map, Value, json};
use tokio::time::Instant;

use super::{Target, add_delivery};
use crate::client::{Client, PayloadHook, close_all, connect_many, room_address};
use crate::delivery::{DeliverySummary, Tracker, WriterPlace};
use crate::edits::{EditWriter, text_of};
use crate::procfs::CpuMeter;
use crate::token::{self, Token};

/// What to run.
#[derive(Debug, Clone)]
pub struct LoadPlan {
    /// Room names are `{room_prefix}-{index}`: use a fresh prefix per run.
    pub room_prefix: String,
    pub rooms: u32,
    pub clients_per_room: u32,
    /// The first `writers_per_room` clients of each room type; all clients receive.
    pub writers_per_room: u32,
    /// Edits per second of each writer.
    pub rate_per_writer: f64,
    pub edits_per_writer: u32,
    /// Bytes of text after each edit's 16-byte token.
    pub filler_bytes: usize,
    /// Longest wait for outstanding deliveries after the last send.
    pub drain: Duration,
    /// Rebuild and compare the documents of this many rooms (0: none).
    pub verify_rooms: u32,
    /// Whether a fresh client can get the document from the server (not the raw relay).
    pub server_keeps_state: bool,
    /// Handshakes in flight at once while connecting.
    pub connect_parallel: usize,
}

/// Whether every copy of the documents is the same.
#[derive(Debug, Clone, Default)]
pub struct DocCheck {
    pub rooms_checked: u32,
    /// Rooms where two clients ended with different text.
    pub rooms_diverged: u32,
    /// Rooms where the server's copy differs from the clients' (`None`: not checked).
    pub server_mismatches: Option<u32>,
    pub error: Option<String>,
}

/// What a run measured.
#[derive(Debug, Clone)]
pub struct LoadOutcome {
    pub summary: DeliverySummary,
    /// Time from the first scheduled send to the last.
    pub send_secs: f64,
    pub client_cpu_percent: f64,
    pub server_cpu_percent: Option<f64>,
    /// Clients whose connection ended during the run, and why the first one did.
    pub disconnects: u64,
    pub first_disconnect: Option<String>,
    pub undecodable_frames: u64,
    pub docs: Option<DocCheck>,
}

/// How long clients may take to connect and sync.
const SYNC_TIMEOUT: Duration = Duration::from_secs(60);
/// Delay between the end of preparation and the first send, so that nothing starts late.
const START_DELAY: Duration = Duration::from_millis(50);

fn room_name(prefix: &str, room: u32) -> String {
    format!("{prefix}-{room:04}")
}

/// Runs `plan` against `target`.
pub async fn run(target: &Target, plan: &LoadPlan) -> anyhow::Result<LoadOutcome> {
    anyhow::ensure!(plan.clients_per_room >= 2, "a room needs at least two clients");
    anyhow::ensure!(plan.writers_per_room <= plan.clients_per_room, "more writers than clients");
    anyhow::ensure!(plan.rate_per_writer > 0.0, "the rate must be positive");
    let places: Vec<WriterPlace> = (0..plan.rooms)
        .flat_map(|room| (0..plan.writers_per_room).map(move |_| WriterPlace { room, receivers: plan.clients_per_room - 1 }))
        .collect();
    let tracker = Arc::new(Tracker::new(&places, plan.edits_per_writer as usize, plan.clients_per_room as usize));
    let keep_updates = plan.verify_rooms > 0;

    let mut requests = Vec::with_capacity((plan.rooms * plan.clients_per_room) as usize);
    for room in 0..plan.rooms {
        for position in 0..plan.clients_per_room {
            let own_writer = (position < plan.writers_per_room).then(|| room * plan.writers_per_room + position);
            let tracker = tracker.clone();
            let hook: PayloadHook = Arc::new(move |payload, _| {
                token::scan(payload, |token| tracker.mark_received(room, position, own_writer, token));
            });
            let keep = keep_updates && room < plan.verify_rooms;
            requests.push((room_name(&plan.room_prefix, room), target.options(keep, Some(hook))));
        }
    }
    let clients: Vec<Client> = connect_many(&target.url, requests, plan.connect_parallel)
        .await
        .into_iter()
        .collect::<anyhow::Result<_>>()
        .context("connecting the clients")?;
    let deadline = Instant::now() + SYNC_TIMEOUT;
    for client in &clients {
        client.wait_synced(deadline).await?;
    }

    // Make every edit now, so that the timed part only sends.
    let mut schedules = Vec::with_capacity(places.len());
    let mut writers = Vec::with_capacity(places.len());
    for room in 0..plan.rooms {
        for position in 0..plan.writers_per_room {
            let client = &clients[(room * plan.clients_per_room + position) as usize];
            let mut writer = EditWriter::new(room * plan.writers_per_room + position, plan.filler_bytes)?;
            let frames: Vec<Bytes> =
                (0..plan.edits_per_writer).map(|_| client.framer().update(writer.next_update())).collect();
            schedules.push((writer.id(), client.sender(), frames));
            writers.push(writer);
        }
    }

    let meter = CpuMeter::start(target.server_pid);
    let start = Instant::now() + START_DELAY;
    let interval = Duration::from_secs_f64(1.0 / plan.rate_per_writer);
    let writer_count = schedules.len().max(1) as u32;
    let tasks: Vec<_> = schedules
        .into_iter()
        .enumerate()
        .map(|(index, (writer, sender, frames))| {
            // Spread the writers' phases over one interval so that they do not all fire at once.
            let phase = interval.mul_f64(index as f64 / f64::from(writer_count));
            let tracker = tracker.clone();
            tokio::spawn(send_on_schedule(writer, sender, frames, tracker, start + phase, interval))
        })
        .collect();
    for task in tasks {
        task.await.context("a writer task failed")?;
    }
    let send_secs = start.elapsed().as_secs_f64();
    let drain_deadline = Instant::now() + plan.drain;
    while tracker.completed() < tracker.sent() && Instant::now() < drain_deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let (client_cpu_percent, server_cpu_percent) = meter.percent();
    let summary = tracker.summary();

    let closed: Vec<&Client> = clients.iter().filter(|client| client.is_closed()).collect();
    let disconnects = closed.len() as u64;
    let first_disconnect = closed.first().and_then(|client| client.close_reason());
    let undecodable_frames = clients.iter().map(Client::undecodable_frames).sum();
    let docs = if keep_updates && disconnects == 0 {
        Some(check_documents(target, plan, &clients, &writers).await)
    } else {
        None
    };
    close_all(clients).await;
    Ok(LoadOutcome {
        summary,
        send_secs,
        client_cpu_percent,
        server_cpu_percent,
        disconnects,
        first_disconnect,
        undecodable_frames,
        docs,
    })
}

/// Sends `frames` at one per `interval` from `start`, recording each send time. When the
/// process falls behind (timers have a 1 ms grain), it sends what is due at once.
async fn send_on_schedule(
    writer: u32,
    sender: tokio::sync::mpsc::UnboundedSender<Bytes>,
    frames: Vec<Bytes>,
    tracker: Arc<Tracker>,
    start: Instant,
    interval: Duration,
) {
    let total = frames.len();
    let mut frames = frames.into_iter();
    let mut sent = 0usize;
    tokio::time::sleep_until(start).await;
    while sent < total {
        let elapsed = Instant::now().saturating_duration_since(start);
        let due = ((elapsed.as_secs_f64() / interval.as_secs_f64()) as usize + 1).min(total);
        while sent < due {
            let Some(frame) = frames.next() else { return };
            tracker.mark_sent(Token { writer, seq: sent as u32 });
            if sender.send(frame).is_err() {
                return;
            }
            sent += 1;
        }
        if sent < total {
            tokio::time::sleep_until(start + interval.mul_f64(sent as f64)).await;
        }
    }
}

/// Rebuilds each client's document from what it received (plus, for writers, what they
/// wrote) and compares them within each room, and with a fresh client's copy from the server.
async fn check_documents(target: &Target, plan: &LoadPlan, clients: &[Client], writers: &[EditWriter]) -> DocCheck {
    let mut check = DocCheck { server_mismatches: plan.server_keeps_state.then_some(0), ..DocCheck::default() };
    for room in 0..plan.rooms.min(plan.verify_rooms) {
        check.rooms_checked += 1;
        let mut reference: Option<String> = None;
        let mut diverged = false;
        for position in 0..plan.clients_per_room {
            let client = &clients[(room * plan.clients_per_room + position) as usize];
            let mut updates = client.kept_updates();
            if position < plan.writers_per_room {
                let writer = &writers[(room * plan.writers_per_room + position) as usize];
                updates.push(writer.state().into());
            }
            match text_of(updates.iter().map(|update| update.as_ref())) {
                Ok(text) => match &reference {
                    None => reference = Some(text),
                    Some(expected) if *expected != text => {
                        diverged = true;
                        check.error.get_or_insert_with(|| {
                            format!("room {room}: client {position} has {} bytes of text, client 0 has {}", text.len(), expected.len())
                        });
                    }
                    Some(_) => {}
                },
                Err(error) => {
                    check.error.get_or_insert_with(|| format!("room {room} client {position}: {error}"));
                    diverged = true;
                }
            }
        }
        if diverged {
            check.rooms_diverged += 1;
        }
        if plan.server_keeps_state {
            let server_text = server_copy(target, &room_name(&plan.room_prefix, room)).await;
            let matches = match (&server_text, &reference) {
                (Ok(server), Some(expected)) if server != expected => {
                    check.error.get_or_insert_with(|| {
                        format!("room {room}: the server's copy has {} bytes of text, the clients' {}", server.len(), expected.len())
                    });
                    false
                }
                (Ok(_), Some(_)) => true,
                (Err(error), _) => {
                    check.error.get_or_insert_with(|| format!("room {room} server copy: {error:#}"));
                    false
                }
                (Ok(_), None) => false,
            };
            if !matches && let Some(count) = check.server_mismatches.as_mut() {
                *count += 1;
            }
        }
    }
    check
}

/// The text a fresh client gets from the server for `room`.
async fn server_copy(target: &Target, room: &str) -> anyhow::Result<String> {
    let client = Client::connect(&room_address(&target.url, room), room, target.options(true, None)).await?;
    client.wait_synced(Instant::now() + Duration::from_secs(10)).await?;
    let updates = client.kept_updates();
    client.close().await;
    text_of(updates.iter().map(|update| update.as_ref()))
}

/// The fan-out scenario's result line.
pub fn fanout_result(target: &Target, plan: &LoadPlan, outcome: &LoadOutcome) -> Map<String, Value> {
    let mut line = target.result("fanout");
    line.insert("rooms".into(), json!(plan.rooms));
    line.insert("clients_per_room".into(), json!(plan.clients_per_room));
    line.insert("writers_per_room".into(), json!(plan.writers_per_room));
    line.insert("rate_per_writer".into(), json!(plan.rate_per_writer));
    add_outcome(&mut line, outcome);
    line
}

/// Adds what every load run reports.
pub fn add_outcome(line: &mut Map<String, Value>, outcome: &LoadOutcome) {
    add_delivery(line, &outcome.summary);
    line.insert("send_secs".into(), json!((outcome.send_secs * 1000.0).round() / 1000.0));
    line.insert("disconnects".into(), json!(outcome.disconnects));
    if let Some(reason) = &outcome.first_disconnect {
        line.insert("first_disconnect".into(), json!(reason));
    }
    line.insert("undecodable_frames".into(), json!(outcome.undecodable_frames));
    line.insert("client_cpu_pct".into(), json!(outcome.client_cpu_percent.round()));
    line.insert("server_cpu_pct".into(), outcome.server_cpu_percent.map_or(Value::Null, |p| json!(p.round())));
    if let Some(docs) = &outcome.docs {
        line.insert("rooms_checked".into(), json!(docs.rooms_checked));
        line.insert("docs_identical".into(), json!(docs.rooms_diverged == 0));
        line.insert("server_copy_identical".into(), docs.server_mismatches.map_or(Value::Null, |n| json!(n == 0)));
        if let Some(error) = &docs.error {
            line.insert("doc_error".into(), json!(error));
        }
    }
}
