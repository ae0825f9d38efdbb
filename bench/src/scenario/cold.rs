//! A long document written in one burst, then read back by a new client after a restart.
//!
//! `write` (the burst): one client sends `edits` small edits as fast as its socket takes them
//! while a second client of the room watches them arrive; it reports how long the relay took
//! and its longest pause, then exits once the watcher has every edit.
//! The runner then restarts the server: gracefully (cold load) or by SIGKILL right after the
//! burst (durability).
//! `read`: a new client joins the document and reports how long after its socket opened it held
//! every edit, how many of them the first sync step 2 already carried, and how many are missing.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use anyhow::Context;
use bytes::Bytes;
use serde_json::{Map, Value, json};
use tokio::time::Instant;

use super::{Target, add_delivery, ms};
use crate::client::{Client, PayloadHook, close_all, connect_many, room_address};
use crate::delivery::{Tracker, WriterPlace};
use crate::edits::{EditWriter, text_of};
use crate::token::{self, TOKEN_BYTES, Token};

const SYNC_TIMEOUT: Duration = Duration::from_secs(30);

/// Writes `edits` edits in one burst into `room` and waits (at most `deadline`) until a watcher
/// has received them all.
pub async fn write(target: &Target, room: &str, edits: u32, deadline: Duration) -> anyhow::Result<Map<String, Value>> {
    let tracker = Arc::new(Tracker::new(&[WriterPlace { room: 0, receivers: 1 }], edits as usize, 2));
    let requests = (0..2u32)
        .map(|position| {
            let tracker = tracker.clone();
            let own_writer = (position == 0).then_some(0);
            let hook: PayloadHook = Arc::new(move |payload, _| {
                token::scan(payload, |token| tracker.mark_received(0, position, own_writer, token));
            });
            (room.to_owned(), target.options(false, Some(hook)))
        })
        .collect();
    let clients: Vec<Client> = connect_many(&target.url, requests, 2).await.into_iter().collect::<anyhow::Result<_>>()?;
    let sync_deadline = Instant::now() + SYNC_TIMEOUT;
    for client in &clients {
        client.wait_synced(sync_deadline).await?;
    }
    let writer_client = &clients[0];
    let mut writer = EditWriter::new(0, 0)?;
    let frames: Vec<Bytes> = (0..edits).map(|_| writer_client.framer().update(writer.next_update())).collect();

    let started = Instant::now();
    for (seq, frame) in frames.into_iter().enumerate() {
        tracker.mark_sent(Token { writer: 0, seq: seq as u32 });
        writer_client.send(frame)?;
    }
    let end = started + deadline;
    while tracker.completed() < tracker.sent() && Instant::now() < end {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let relay_secs = started.elapsed().as_secs_f64();
    let summary = tracker.summary();
    let disconnects = clients.iter().filter(|client| client.is_closed()).count();
    close_all(clients).await;

    let mut line = target.result("burst");
    line.insert("room".into(), json!(room));
    line.insert("edits".into(), json!(edits));
    line.insert("relay_secs".into(), json!((relay_secs * 1000.0).round() / 1000.0));
    line.insert("max_relay_gap_ms".into(), ms(summary.max_gap_us as f64 / 1000.0));
    line.insert("disconnects".into(), json!(disconnects));
    add_delivery(&mut line, &summary);
    Ok(line)
}

/// Progress of a client reading a document made by [`write`].
struct Progress {
    start: Instant,
    expected: u32,
    seen: Vec<AtomicBool>,
    count: AtomicU64,
    done_us: AtomicU64,
    first_step2_tokens: AtomicU64,
    first_step2_seen: AtomicBool,
}

impl Progress {
    fn on_payload(&self, payload: &[u8], is_step2: bool) {
        let mut in_payload = 0u64;
        token::scan(payload, |token| {
            if token.writer != 0 || token.seq >= self.expected {
                return;
            }
            in_payload += 1;
            if !self.seen[token.seq as usize].swap(true, Ordering::Relaxed)
                && self.count.fetch_add(1, Ordering::Relaxed) + 1 == u64::from(self.expected)
            {
                self.done_us.store(self.start.elapsed().as_micros().max(1) as u64, Ordering::Relaxed);
            }
        });
        if is_step2 && !self.first_step2_seen.swap(true, Ordering::Relaxed) {
            self.first_step2_tokens.store(in_payload, Ordering::Relaxed);
        }
    }
}

/// Joins `room` and waits (at most `deadline`) until it holds all `edits` edits.
pub async fn read(target: &Target, room: &str, edits: u32, deadline: Duration, label: &str) -> anyhow::Result<Map<String, Value>> {
    let connect_started = Instant::now();
    let progress = Arc::new(Progress {
        start: connect_started,
        expected: edits,
        seen: (0..edits).map(|_| AtomicBool::new(false)).collect(),
        count: AtomicU64::new(0),
        done_us: AtomicU64::new(0),
        first_step2_tokens: AtomicU64::new(0),
        first_step2_seen: AtomicBool::new(false),
    });
    let hook_progress = progress.clone();
    let hook: PayloadHook = Arc::new(move |payload, is_step2| hook_progress.on_payload(payload, is_step2));
    let client = Client::connect(&room_address(&target.url, room), room, target.options(true, Some(hook)))
        .await
        .context("connecting after the restart")?;
    let open_us = connect_started.elapsed().as_micros() as u64;
    let end = connect_started + deadline;
    client.wait_synced(end).await?;
    while progress.count.load(Ordering::Relaxed) < u64::from(edits) && Instant::now() < end && !client.is_closed() {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let present = progress.count.load(Ordering::Relaxed);
    let done_us = progress.done_us.load(Ordering::Relaxed);
    let updates = client.kept_updates();
    client.close().await;
    // The document itself must hold every edit, not just the bytes: rebuild it.
    let text_bytes = text_of(updates.iter().map(|update| update.as_ref())).map(|text| text.len());

    let mut line = target.result(label);
    line.insert("room".into(), json!(room));
    line.insert("edits_expected".into(), json!(edits));
    line.insert("edits_present".into(), json!(present));
    line.insert("edits_lost".into(), json!(u64::from(edits) - present));
    line.insert("connect_ms".into(), ms(open_us as f64 / 1000.0));
    line.insert("full_state_ms".into(), if done_us == 0 { Value::Null } else { ms(done_us.saturating_sub(open_us) as f64 / 1000.0) });
    line.insert("first_step2_edits".into(), json!(progress.first_step2_tokens.load(Ordering::Relaxed)));
    line.insert(
        "document_complete".into(),
        json!(text_bytes.as_ref().is_ok_and(|&bytes| bytes == edits as usize * TOKEN_BYTES)),
    );
    Ok(line)
}
