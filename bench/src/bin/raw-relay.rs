//! `raw-relay`: the physical limit. A websocket relay with no CRDT and no storage, on the same
//! URL shape as Relais (`/yjs/{room}`): every binary frame a client sends goes as is to the
//! other clients of its room. A sync step 1 is answered with an empty sync step 2 and not
//! forwarded, so that clients consider themselves synced without a storm of step 1/step 2
//! exchanges between peers.
//!
//! It keeps the structure a careful server would have, so that it measures what websockets on
//! this machine can carry rather than a shortcut: a bounded outbox per connection, a connection
//! that cannot keep up is dropped (never an update dropped while the client stays), and each
//! writer flushes once per batch of queued frames.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::Context;
use axum::Router;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::get;
use bytes::Bytes;
use clap::Parser;
use futures_util::{SinkExt, StreamExt};
use relais_bench::wire::{EMPTY_SYNC_STEP2, is_sync_step1};
use tokio::sync::{Notify, mpsc};

/// Minimal websocket relay for benchmarks.
#[derive(Parser)]
#[command(name = "raw-relay")]
struct Cli {
    /// Address to listen on (port 0: any free port, printed on stdout).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Frames queued for one client before it is dropped as too slow: room for a burst of
    /// 20,000 edits arriving at once, which a client reads in milliseconds.
    #[arg(long, default_value_t = 32_768)]
    outbox_frames: usize,
}

/// Most frames written between two flushes.
const MAX_FRAMES_PER_FLUSH: usize = 256;
/// tungstenite reads into a buffer of this size per connection (128 KiB by default).
const READ_BUFFER_BYTES: usize = 8 * 1024;

struct Member {
    id: u64,
    outbox: mpsc::Sender<Bytes>,
    /// Told when the member is removed for being too slow, so that its connection ends.
    kicked: Arc<Notify>,
}

type Members = Arc<Mutex<Vec<Member>>>;

#[derive(Clone)]
struct Relay {
    rooms: Arc<Mutex<HashMap<String, Members>>>,
    next_id: Arc<AtomicU64>,
    outbox_frames: usize,
}

impl Relay {
    fn join(&self, room: &str, member: Member) -> Members {
        let mut rooms = self.rooms.lock().expect("rooms lock");
        let members = rooms.entry(room.to_owned()).or_default().clone();
        members.lock().expect("members lock").push(member);
        members
    }

    fn leave(&self, room: &str, id: u64, members: &Members) {
        let now_empty = {
            let mut list = members.lock().expect("members lock");
            list.retain(|member| member.id != id);
            list.is_empty()
        };
        if now_empty {
            let mut rooms = self.rooms.lock().expect("rooms lock");
            if rooms.get(room).is_some_and(|current| Arc::ptr_eq(current, members) && current.lock().expect("members lock").is_empty()) {
                rooms.remove(room);
            }
        }
    }
}

async fn upgrade(State(relay): State<Relay>, Path(room): Path<String>, upgrade: WebSocketUpgrade) -> Response {
    upgrade.read_buffer_size(READ_BUFFER_BYTES).on_upgrade(move |socket| serve(socket, relay, room))
}

async fn serve(socket: WebSocket, relay: Relay, room: String) {
    let id = relay.next_id.fetch_add(1, Ordering::Relaxed);
    let (outbox, mut queue) = mpsc::channel::<Bytes>(relay.outbox_frames);
    let kicked = Arc::new(Notify::new());
    let members = relay.join(&room, Member { id, outbox: outbox.clone(), kicked: kicked.clone() });
    let (mut sink, mut stream) = socket.split();

    let writer = tokio::spawn(async move {
        'connection: while let Some(first) = queue.recv().await {
            if sink.feed(Message::Binary(first)).await.is_err() {
                break;
            }
            for _ in 1..MAX_FRAMES_PER_FLUSH {
                let Ok(next) = queue.try_recv() else { break };
                if sink.feed(Message::Binary(next)).await.is_err() {
                    break 'connection;
                }
            }
            if sink.flush().await.is_err() {
                break;
            }
        }
        let _ = sink.close().await;
    });

    loop {
        let message = tokio::select! {
            message = stream.next() => message,
            () = kicked.notified() => break,
        };
        let Some(Ok(message)) = message else { break };
        let Message::Binary(frame) = message else {
            if matches!(message, Message::Close(_)) {
                break;
            }
            continue;
        };
        if is_sync_step1(&frame) {
            if outbox.try_send(Bytes::from_static(&EMPTY_SYNC_STEP2)).is_err() {
                break;
            }
            continue;
        }
        // A member whose outbox is full (or closed) is removed and told to end its connection:
        // never keep a client and drop one of its frames.
        members.lock().expect("members lock").retain(|member| {
            if member.id == id || member.outbox.try_send(frame.clone()).is_ok() {
                return true;
            }
            member.kicked.notify_one();
            false
        });
    }
    relay.leave(&room, id, &members);
    drop(outbox);
    let _ = writer.await;
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let relay = Relay { rooms: Arc::default(), next_id: Arc::new(AtomicU64::new(1)), outbox_frames: cli.outbox_frames };
    let app = Router::new().route("/yjs/{room}", get(upgrade)).with_state(relay);
    let listener = tokio::net::TcpListener::bind(cli.listen).await.with_context(|| format!("cannot listen on {}", cli.listen))?;
    let address = listener.local_addr()?;
    println!("raw-relay listening on http://{address}");
    // Small frames must leave at once, as the Node servers' `ws` does by default.
    let listener = axum::serve::ListenerExt::tap_io(listener, |stream| {
        let _ = stream.set_nodelay(true);
    });
    axum::serve(listener, app).await.context("server failed")
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("raw-relay: cannot start the runtime: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("raw-relay: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
