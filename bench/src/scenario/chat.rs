//! Chat: the highest rate of messages one channel of N members sustains with p99 delivery under
//! a limit, and that every member gets every message exactly once, in seq order.
//!
//! Set up through the real API of a running Relais (loopback only), as an administrator whose
//! e-mail and password are given: sign in, create a workspace in the administrator's
//! organisation, N accounts made editors of it, and sign each of them in; each member then opens
//! the `/chat` websocket with its session cookie. The first K members send.
//!
//! Each step creates a fresh channel, subscribes every member to it and waits for every
//! `subscribed`; then the senders post at a fixed total rate (open loop: each sender sends on
//! its schedule whatever the server does, so a slow server shows as latency). A message's
//! latency runs from the moment its sender queued the `send` frame to the moment the last
//! member (the sender included) received the `message` event. After the last send, the run
//! waits (bounded) for outstanding deliveries, then for the senders' acks and the deliveries
//! of what they acknowledge; a committed message (acked, or received by someone) that a
//! connected member still lacks then is lost. Every member must have received seqs 1..=total,
//! each once and in order.
//!
//! The rate doubles from `start_rate` until a step fails (p99 over the limit, a message lost or
//! out of order, a refused send, a member disconnected), then a few bisection steps narrow the
//! gap, as in the throughput scenario. Between steps the run waits (bounded) for the senders'
//! acks, so that a failed step's backlog does not weigh on the next, and reconnects members the
//! server closed.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, bail};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Map, Value, json};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::http::header::COOKIE;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use super::{CLIENT_READ_BUFFER_BYTES, Target, ms};
use crate::delivery::quantile_ms;
use crate::http::{Api, loopback_authority};
use crate::procfs::CpuMeter;

/// What to run.
#[derive(Debug, Clone)]
pub struct ChatPlan {
    /// Makes account e-mails and names unique per run.
    pub run_id: String,
    pub admin_email: String,
    pub admin_password: String,
    /// Members of the channel, senders included.
    pub members: u32,
    /// The first `senders` members post.
    pub senders: u32,
    /// Bytes of each message's body.
    pub body_bytes: usize,
    /// Messages per second, all senders together.
    pub start_rate: f64,
    pub max_rate: f64,
    pub step: Duration,
    /// Longest wait for outstanding deliveries after the last send.
    pub drain: Duration,
    pub pause: Duration,
    /// Longest wait, after a step, for the acks of every message sent.
    pub settle: Duration,
    pub refine_steps: u32,
    pub p99_limit_ms: f64,
    /// Accounts created and signed in at once during the setup.
    pub setup_parallel: usize,
}

/// How long the setup's waits may take (subscriptions, connections).
const SETUP_TIMEOUT: Duration = Duration::from_secs(30);
/// Delay between the end of preparation and the first send, so that nothing starts late.
const START_DELAY: Duration = Duration::from_millis(50);
/// Most frames written between two flushes.
const MAX_FRAMES_PER_FLUSH: usize = 256;
/// At or above this share of one core, the load generator itself may be what limits the rate.
const CLIENT_SATURATED_PERCENT: f64 = 90.0;
const NONE: u64 = u64::MAX;

/// A signed-in member: its session and, once connected, its chat socket.
struct Member {
    session: Api,
    socket: Option<ChatSocket>,
}

/// One `/chat` websocket: a reader task handing every text frame to the step's state, and a
/// sender task owning the write half.
struct ChatSocket {
    outgoing: mpsc::UnboundedSender<WsMessage>,
    closed: Arc<AtomicBool>,
    close_reason: Arc<Mutex<Option<String>>>,
    reader: JoinHandle<()>,
    sender: JoinHandle<()>,
}

impl Drop for ChatSocket {
    fn drop(&mut self) {
        self.reader.abort();
        self.sender.abort();
    }
}

impl ChatSocket {
    async fn connect(authority: &str, cookie: &str, member: usize, state: Arc<Mutex<StepState>>) -> anyhow::Result<Self> {
        let mut request = format!("ws://{authority}/chat").into_client_request()?;
        // No Origin header: a program, not a browser page, as the server expects.
        request.headers_mut().insert(COOKIE, HeaderValue::from_str(cookie).context("unusable cookie")?);
        let config = WebSocketConfig::default().read_buffer_size(CLIENT_READ_BUFFER_BYTES);
        let (socket, _) = tokio_tungstenite::connect_async_with_config(request, Some(config), true)
            .await
            .with_context(|| format!("cannot open ws://{authority}/chat"))?;
        let (mut sink, mut stream) = socket.split();
        let (outgoing, mut queue) = mpsc::unbounded_channel::<WsMessage>();
        let sender = tokio::spawn(async move {
            'connection: while let Some(first) = queue.recv().await {
                if matches!(first, WsMessage::Close(_)) || sink.feed(first).await.is_err() {
                    break;
                }
                for _ in 1..MAX_FRAMES_PER_FLUSH {
                    let Ok(next) = queue.try_recv() else { break };
                    if matches!(next, WsMessage::Close(_)) || sink.feed(next).await.is_err() {
                        break 'connection;
                    }
                }
                if sink.flush().await.is_err() {
                    break;
                }
            }
            let _ = tokio::time::timeout(Duration::from_millis(500), sink.close()).await;
        });
        let closed = Arc::new(AtomicBool::new(false));
        let close_reason = Arc::new(Mutex::new(None));
        let reader_closed = closed.clone();
        let reader_reason = close_reason.clone();
        let reader = tokio::spawn(async move {
            let reason = loop {
                match stream.next().await {
                    Some(Ok(WsMessage::Text(text))) => {
                        state.lock().expect("chat state lock").on_frame(member, text.as_str());
                    }
                    Some(Ok(WsMessage::Close(frame))) => {
                        break match frame {
                            Some(frame) => format!("closed by server: {} {}", u16::from(frame.code), frame.reason),
                            None => "closed by server".to_owned(),
                        };
                    }
                    Some(Ok(_)) => {}
                    Some(Err(error)) => break format!("read error: {error}"),
                    None => break "connection ended".to_owned(),
                }
            };
            *reader_reason.lock().expect("close reason lock") = Some(reason);
            reader_closed.store(true, Ordering::Relaxed);
        });
        Ok(Self { outgoing, closed, close_reason, reader, sender })
    }

    fn send(&self, frame: WsMessage) {
        let _ = self.outgoing.send(frame);
    }

    fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Relaxed)
    }

    fn close_reason(&self) -> Option<String> {
        self.close_reason.lock().expect("close reason lock").clone()
    }

    async fn close(mut self) {
        let _ = self.outgoing.send(WsMessage::Close(None));
        let _ = tokio::time::timeout(Duration::from_secs(1), &mut self.sender).await;
    }
}

/// What one step has seen so far; shared by every socket's reader and the senders.
struct StepState {
    /// Client ids of other steps are strays.
    step: u32,
    conversation: String,
    origin: Instant,
    members: usize,
    per_sender: usize,
    /// Messages of the step: `senders × per_sender`; message `k × per_sender + i` is sender k's i-th.
    total: usize,
    sent_us: Vec<u64>,
    ack_us: Vec<u64>,
    receivers: Vec<u32>,
    /// When the last member received the message.
    done_us: Vec<u64>,
    /// `member × total + message`: whether that member has it.
    got: Vec<bool>,
    /// Per member, the seq it expects next.
    next_seq: Vec<u64>,
    /// Per seq (1..=total), the message it carried.
    seq_message: Vec<u64>,
    subscribed: Vec<bool>,
    sent: u64,
    acked: u64,
    completed: u64,
    out_of_order: u64,
    duplicates: u64,
    strays: u64,
    /// A seq beyond the messages sent, or one seq carrying two different messages.
    seq_conflicts: u64,
    send_errors: u64,
    first_error: Option<String>,
}

impl StepState {
    fn new(step: u32, conversation: String, members: usize, senders: usize, per_sender: usize) -> Self {
        let total = senders * per_sender;
        Self {
            step,
            conversation,
            origin: Instant::now(),
            members,
            per_sender,
            total,
            sent_us: vec![NONE; total],
            ack_us: vec![NONE; total],
            receivers: vec![0; total],
            done_us: vec![NONE; total],
            got: vec![false; members * total],
            next_seq: vec![1; members],
            seq_message: vec![NONE; total + 1],
            subscribed: vec![false; members],
            sent: 0,
            acked: 0,
            completed: 0,
            out_of_order: 0,
            duplicates: 0,
            strays: 0,
            seq_conflicts: 0,
            send_errors: 0,
            first_error: None,
        }
    }

    fn now_us(&self) -> u64 {
        self.origin.elapsed().as_micros() as u64
    }

    /// The message a client id names in this step (`c{step}.{sender}.{index}`).
    fn message_of(&self, client_id: &str) -> Option<usize> {
        let mut parts = client_id.strip_prefix('c')?.split('.');
        let step: u32 = parts.next()?.parse().ok()?;
        let sender: usize = parts.next()?.parse().ok()?;
        let index: usize = parts.next()?.parse().ok()?;
        let message = sender * self.per_sender + index;
        (step == self.step && index < self.per_sender && message < self.total).then_some(message)
    }

    fn mark_sent(&mut self, message: usize) {
        self.sent_us[message] = self.now_us();
        self.sent += 1;
    }

    fn on_frame(&mut self, member: usize, text: &str) {
        if let Some((seq, client_id)) = scan_message(text) {
            self.on_message(member, seq, client_id);
            return;
        }
        let Ok(event) = serde_json::from_str::<Value>(text) else {
            self.strays += 1;
            return;
        };
        match event["type"].as_str() {
            Some("message") => match (event["message"]["seq"].as_u64(), event["message"]["client_id"].as_str()) {
                (Some(seq), Some(client_id)) => self.on_message(member, seq, client_id),
                _ => self.strays += 1,
            },
            Some("subscribed") if event["conversation_id"].as_str() == Some(self.conversation.as_str()) => {
                self.subscribed[member] = true;
            }
            Some("ack") => {
                if let Some(message) = event["client_id"].as_str().and_then(|id| self.message_of(id))
                    && self.ack_us[message] == NONE
                {
                    self.ack_us[message] = self.now_us();
                    self.acked += 1;
                }
            }
            Some("error") => {
                let for_send = event["client_id"].as_str().is_some_and(|id| self.message_of(id).is_some());
                if for_send {
                    self.send_errors += 1;
                }
                self.first_error.get_or_insert_with(|| format!("{}: {}", event["code"].as_str().unwrap_or("?"), event["message"].as_str().unwrap_or("?")));
            }
            // Presence and other live events are not measured.
            _ => {}
        }
    }

    fn on_message(&mut self, member: usize, seq: u64, client_id: &str) {
        let Some(message) = self.message_of(client_id) else {
            self.strays += 1;
            return;
        };
        let expected = self.next_seq[member];
        if seq != expected {
            self.out_of_order += 1;
        }
        if seq >= expected {
            self.next_seq[member] = seq + 1;
        }
        match self.seq_message.get_mut(seq as usize) {
            Some(slot) if seq > 0 && *slot == NONE => *slot = message as u64,
            Some(slot) if seq > 0 && *slot == message as u64 => {}
            _ => self.seq_conflicts += 1,
        }
        let slot = member * self.total + message;
        if self.got[slot] {
            self.duplicates += 1;
            return;
        }
        self.got[slot] = true;
        self.receivers[message] += 1;
        if self.receivers[message] as usize == self.members {
            self.done_us[message] = self.now_us();
            self.completed += 1;
        }
    }
}

/// `(seq, client_id)` of a `message` event, read without parsing the whole frame (50 members
/// receive every message: the load generator must stay well below its core). `None` for other
/// frames, or if the layout differs from the server's (then the frame is parsed as JSON).
fn scan_message(text: &str) -> Option<(u64, &str)> {
    let rest = text.strip_prefix(r#"{"type":"message","message":{"#)?;
    let seq_at = rest.find(r#""seq":"#)? + r#""seq":"#.len();
    let digits = &rest[seq_at..];
    let seq = digits[..digits.find(|c: char| !c.is_ascii_digit())?].parse().ok()?;
    let id_at = rest.find(r#""client_id":""#)? + r#""client_id":""#.len();
    let id = &rest[id_at..];
    Some((seq, &id[..id.find('"')?]))
}

/// What one step measured.
struct StepOutcome {
    rate: f64,
    sent: u64,
    /// Committed messages (acked, or received by someone) some connected member did not receive.
    lost: u64,
    /// Messages sent but neither acked nor delivered: the server never took them (it drops what
    /// a connection it closes had not read yet; a client resends those with the same client id).
    never_committed: u64,
    deliveries_missing: u64,
    out_of_order: u64,
    duplicates: u64,
    strays: u64,
    seq_conflicts: u64,
    send_errors: u64,
    first_error: Option<String>,
    unacked: u64,
    latencies_us: Vec<u64>,
    ack_latencies_us: Vec<u64>,
    send_secs: f64,
    client_cpu_percent: f64,
    server_cpu_percent: Option<f64>,
    disconnects: u64,
    /// Of the disconnected members, how many were senders.
    disconnected_senders: u64,
    first_disconnect: Option<String>,
}

impl StepOutcome {
    fn p99_ms(&self) -> Option<f64> {
        quantile_ms(&self.latencies_us, 0.99)
    }

    fn verdict(&self, p99_limit_ms: f64) -> Option<&'static str> {
        if self.disconnects > 0 {
            Some("disconnect")
        } else if self.send_errors > 0 {
            Some("refused")
        } else if self.lost > 0 || self.out_of_order > 0 || self.duplicates > 0 || self.seq_conflicts > 0 {
            Some("loss")
        } else if self.p99_ms().is_none_or(|p99| p99 > p99_limit_ms) {
            Some("p99")
        } else {
            None
        }
    }

    fn add_to(&self, line: &mut Map<String, Value>) {
        line.insert("messages_sent".into(), json!(self.sent));
        line.insert("messages_lost".into(), json!(self.lost));
        line.insert("messages_never_committed".into(), json!(self.never_committed));
        line.insert("deliveries_missing".into(), json!(self.deliveries_missing));
        line.insert("out_of_order".into(), json!(self.out_of_order));
        line.insert("duplicates".into(), json!(self.duplicates));
        line.insert("strays".into(), json!(self.strays));
        line.insert("seq_conflicts".into(), json!(self.seq_conflicts));
        line.insert("send_errors".into(), json!(self.send_errors));
        if let Some(error) = &self.first_error {
            line.insert("first_error".into(), json!(error));
        }
        line.insert("unacked_after_settle".into(), json!(self.unacked));
        for (name, q) in [("p50_ms", 0.5), ("p99_ms", 0.99), ("max_ms", 1.0)] {
            line.insert(name.into(), quantile_ms(&self.latencies_us, q).map_or(Value::Null, ms));
        }
        for (name, q) in [("ack_p50_ms", 0.5), ("ack_p99_ms", 0.99)] {
            line.insert(name.into(), quantile_ms(&self.ack_latencies_us, q).map_or(Value::Null, ms));
        }
        line.insert("send_secs".into(), json!((self.send_secs * 1000.0).round() / 1000.0));
        line.insert("disconnects".into(), json!(self.disconnects));
        line.insert("disconnected_senders".into(), json!(self.disconnected_senders));
        if let Some(reason) = &self.first_disconnect {
            line.insert("first_disconnect".into(), json!(reason));
        }
        line.insert("client_cpu_pct".into(), json!(self.client_cpu_percent.round()));
        line.insert("server_cpu_pct".into(), self.server_cpu_percent.map_or(Value::Null, |p| json!(p.round())));
    }
}

/// E-mails and names take the run id: letters, digits and dashes only.
fn clean_run_id(run_id: &str) -> String {
    run_id.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' }).collect()
}

/// Signs the administrator in and creates the workspace and the members; returns the
/// administrator's session, the workspace id and every member signed in.
async fn set_up(authority: &str, plan: &ChatPlan) -> anyhow::Result<(Api, String, Vec<Member>)> {
    let (admin, session) = Api::sign_in(authority, &plan.admin_email, &plan.admin_password)
        .await
        .context("signing the administrator in (create it first with `relais user create --admin`)")?;
    anyhow::ensure!(session["user"]["is_admin"] == true, "{} is not an administrator", plan.admin_email);
    let organisations = admin.expect("GET", "/api/organisations", None, 200).await?;
    let own = session["user"]["organisation_id"].as_str();
    let organisation = organisations
        .as_array()
        .and_then(|all| all.iter().find(|o| own.is_some() && o["id"].as_str() == own).or_else(|| all.first()))
        .and_then(|o| o["id"].as_str())
        .context("no organisation to create the workspace in")?
        .to_owned();
    let run = clean_run_id(&plan.run_id);
    let workspace = admin
        .expect("POST", "/api/workspaces", Some(&json!({ "organisation_id": organisation, "name": format!("bench chat {run}") })), 201)
        .await?["id"]
        .as_str()
        .context("no workspace id")?
        .to_owned();
    let password = format!("bench-{run}-member");
    let creating = (0..plan.members).map(|index| {
        let (admin, workspace, organisation, password) = (&admin, &workspace, &organisation, &password);
        let email = format!("bench-chat-{run}-{index:04}@relais.localhost");
        async move {
            let body = json!({ "email": email, "display_name": format!("Bench member {index}"), "password": password, "organisation_id": organisation });
            let user = admin.expect("POST", "/api/users", Some(&body), 201).await?;
            let id = user["id"].as_str().context("no user id")?;
            admin.expect("PUT", &format!("/api/workspaces/{workspace}/members/{id}"), Some(&json!({ "role": "editor" })), 204).await?;
            let (session, _) = Api::sign_in(authority, &email, password).await?;
            anyhow::Ok(Member { session, socket: None })
        }
    });
    let members: Vec<Member> = futures_util::stream::iter(creating)
        .buffered(plan.setup_parallel.max(1))
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<anyhow::Result<_>>()
        .context("creating and signing in the members")?;
    Ok((admin, workspace, members))
}

/// Opens a socket for every member without one, or whose socket the server closed.
async fn connect_missing(authority: &str, members: &mut [Member], state: &Arc<Mutex<StepState>>) -> anyhow::Result<u32> {
    let mut reconnected = 0;
    for (index, member) in members.iter_mut().enumerate() {
        if member.socket.as_ref().is_some_and(|socket| !socket.is_closed()) {
            continue;
        }
        let cookie = member.session.cookie().context("member not signed in")?.to_owned();
        if let Some(old) = member.socket.take() {
            old.close().await;
            reconnected += 1;
        }
        member.socket = Some(ChatSocket::connect(authority, &cookie, index, state.clone()).await?);
    }
    Ok(reconnected)
}

/// Waits until `done` holds, polling every 5 ms, at most until `deadline`.
async fn wait_for(state: &Mutex<StepState>, deadline: Instant, done: impl Fn(&StepState) -> bool) -> bool {
    loop {
        if done(&state.lock().expect("chat state lock")) {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Runs the setup and the steps; returns one line per step and the summary line last.
pub async fn run(target: &Target, plan: &ChatPlan) -> anyhow::Result<Vec<Map<String, Value>>> {
    anyhow::ensure!(plan.members >= 2, "a channel needs at least two members");
    anyhow::ensure!(plan.senders >= 1 && plan.senders <= plan.members, "senders must be 1 to members");
    anyhow::ensure!(plan.start_rate > 0.0 && plan.max_rate >= plan.start_rate, "rates must be positive, max ≥ start");
    let authority = loopback_authority(&target.url)?;
    let setup_started = Instant::now();
    let (admin, workspace, mut members) = set_up(&authority, plan).await?;
    let state = Arc::new(Mutex::new(StepState::new(0, String::new(), members.len(), 0, 0)));
    connect_missing(&authority, &mut members, &state).await.context("opening the chat sockets")?;
    let setup_secs = setup_started.elapsed().as_secs_f64();

    let mut lines = Vec::new();
    let mut best: Option<StepOutcome> = None;
    let mut failed: Option<(f64, &'static str, bool)> = None;
    let mut lost_all_steps = 0u64;
    let mut reconnects = 0u32;
    let mut previous_channel: Option<String> = None;
    let mut rate = plan.start_rate;
    let mut step_index = 1u32;
    let mut refinements = 0u32;
    loop {
        let outcome = run_step(target, &admin, &workspace, &mut members, &state, plan, step_index, rate, &mut previous_channel).await?;
        let failure = outcome.verdict(plan.p99_limit_ms);
        let client_saturated = outcome.client_cpu_percent >= CLIENT_SATURATED_PERCENT;
        lost_all_steps += outcome.lost;
        let mut line = target.result("chat-step");
        line.insert("rate".into(), json!(rate.round()));
        line.insert("members".into(), json!(plan.members));
        line.insert("senders".into(), json!(plan.senders));
        line.insert("pass".into(), json!(failure.is_none()));
        line.insert("failure".into(), failure.map_or(Value::Null, |reason| json!(reason)));
        line.insert("client_saturated".into(), json!(client_saturated));
        outcome.add_to(&mut line);
        lines.push(line);
        step_index += 1;

        match failure {
            None => best = Some(outcome),
            Some(reason) => failed = Some((rate, reason, client_saturated)),
        }
        let next = match (&best, &failed) {
            (Some(passed), None) => {
                let doubled = passed.rate * 2.0;
                (doubled <= plan.max_rate).then_some(doubled)
            }
            (Some(passed), Some((failing, _, _))) if refinements < plan.refine_steps => {
                refinements += 1;
                Some((passed.rate + failing) / 2.0)
            }
            _ => None,
        };
        match next {
            Some(next) => rate = next,
            None => break,
        }
        tokio::time::sleep(plan.pause).await;
        reconnects += connect_missing(&authority, &mut members, &state).await.context("reopening closed chat sockets")?;
    }
    for member in &mut members {
        if let Some(socket) = member.socket.take() {
            socket.close().await;
        }
    }

    let mut summary = target.result("chat");
    summary.insert("members".into(), json!(plan.members));
    summary.insert("senders".into(), json!(plan.senders));
    summary.insert("body_bytes".into(), json!(plan.body_bytes));
    summary.insert("p99_limit_ms".into(), json!(plan.p99_limit_ms));
    summary.insert("setup_secs".into(), json!((setup_secs * 100.0).round() / 100.0));
    summary.insert("messages_per_sec".into(), json!(best.as_ref().map_or(0.0, |outcome| outcome.rate.round())));
    if let Some(outcome) = &best {
        summary.insert("messages_sent_at_best".into(), json!(outcome.sent));
        for (name, q) in [("p50_ms_at_best", 0.5), ("p99_ms_at_best", 0.99), ("max_ms_at_best", 1.0)] {
            summary.insert(name.into(), quantile_ms(&outcome.latencies_us, q).map_or(Value::Null, ms));
        }
        summary.insert("ack_p99_ms_at_best".into(), quantile_ms(&outcome.ack_latencies_us, 0.99).map_or(Value::Null, ms));
        summary.insert("server_cpu_pct_at_best".into(), outcome.server_cpu_percent.map_or(Value::Null, |p| json!(p.round())));
        summary.insert("client_cpu_pct_at_best".into(), json!(outcome.client_cpu_percent.round()));
    }
    // Committed messages a connected member never received, over every step (a member the
    // server closed is not counted: it would catch up on reconnecting, and the step fails as a
    // disconnect; nor are messages the server never took from a closed sender).
    summary.insert("messages_lost".into(), json!(lost_all_steps));
    summary.insert("reconnects".into(), json!(reconnects));
    let limited_by = match failed {
        Some((rate, reason, saturated)) => {
            summary.insert("first_failing_rate".into(), json!(rate.round()));
            if saturated { format!("{reason} (load generator saturated)") } else { reason.to_owned() }
        }
        None => "max_rate".to_owned(),
    };
    summary.insert("limited_by".into(), json!(limited_by));
    lines.push(summary);
    Ok(lines)
}

/// One step: a fresh channel, every member subscribed, the senders at `rate` for `plan.step`.
#[allow(clippy::too_many_arguments)]
async fn run_step(
    target: &Target,
    admin: &Api,
    workspace: &str,
    members: &mut [Member],
    state: &Arc<Mutex<StepState>>,
    plan: &ChatPlan,
    step: u32,
    rate: f64,
    previous_channel: &mut Option<String>,
) -> anyhow::Result<StepOutcome> {
    let channel = admin
        .expect("POST", &format!("/api/workspaces/{workspace}/channels"), Some(&json!({ "name": format!("bench step {step}") })), 201)
        .await?["id"]
        .as_str()
        .context("no channel id")?
        .to_owned();
    let senders = plan.senders as usize;
    let rate_per_sender = rate / senders as f64;
    let per_sender = ((rate_per_sender * plan.step.as_secs_f64()).ceil() as usize).max(1);
    *state.lock().expect("chat state lock") = StepState::new(step, channel.clone(), members.len(), senders, per_sender);

    for member in members.iter() {
        let socket = member.socket.as_ref().context("member without a socket")?;
        if let Some(previous) = previous_channel.as_deref() {
            socket.send(WsMessage::Text(json!({ "type": "unsubscribe", "conversation_id": previous }).to_string().into()));
        }
        socket.send(WsMessage::Text(json!({ "type": "subscribe", "conversation_id": channel, "after_seq": 0 }).to_string().into()));
    }
    *previous_channel = Some(channel.clone());
    if !wait_for(state, Instant::now() + SETUP_TIMEOUT, |state| state.subscribed.iter().all(|done| *done)).await {
        let state = state.lock().expect("chat state lock");
        let missing = state.subscribed.iter().filter(|done| !**done).count();
        bail!("step {step}: {missing} members not subscribed within {SETUP_TIMEOUT:?} ({})", state.first_error.as_deref().unwrap_or("no error"));
    }

    // Make every frame now, so that the timed part only sends.
    let filler: String = "lorem ipsum dolor sit amet ".chars().cycle().take(plan.body_bytes).collect();
    let mut schedules = Vec::with_capacity(senders);
    for (sender, member) in members.iter().take(senders).enumerate() {
        let socket = member.socket.as_ref().context("sender without a socket")?;
        let frames: Vec<(usize, WsMessage)> = (0..per_sender)
            .map(|index| {
                let client_id = format!("c{step}.{sender}.{index}");
                let frame = json!({ "type": "send", "conversation_id": channel, "client_id": client_id, "body": filler });
                (sender * per_sender + index, WsMessage::Text(frame.to_string().into()))
            })
            .collect();
        schedules.push((socket.outgoing.clone(), frames));
    }

    let meter = CpuMeter::start(target.server_pid);
    let start = Instant::now() + START_DELAY;
    let interval = Duration::from_secs_f64(1.0 / rate_per_sender);
    let tasks: Vec<_> = schedules
        .into_iter()
        .enumerate()
        .map(|(index, (outgoing, frames))| {
            // Spread the senders' phases over one interval so that they do not all fire at once.
            let phase = interval.mul_f64(index as f64 / senders as f64);
            tokio::spawn(send_on_schedule(outgoing, frames, state.clone(), start + phase, interval))
        })
        .collect();
    for task in tasks {
        task.await.context("a sender task failed")?;
    }
    let send_secs = start.elapsed().as_secs_f64();
    let _ = wait_for(state, Instant::now() + plan.drain, |state| state.completed >= state.sent).await;
    let (client_cpu_percent, server_cpu_percent) = meter.percent();

    let live: Vec<bool> = members.iter().map(|m| m.socket.as_ref().is_some_and(|s| !s.is_closed())).collect();
    let disconnects = live.iter().filter(|alive| !**alive).count() as u64;
    let disconnected_senders = live.iter().take(senders).filter(|alive| !**alive).count() as u64;
    let first_disconnect = members.iter().filter_map(|m| m.socket.as_ref()).find(|s| s.is_closed()).and_then(ChatSocket::close_reason);
    // The acks of what the connected senders sent, so that no backlog of this step weighs on
    // the next (the server drops what a closed connection had not read yet).
    let live_senders: Vec<usize> = (0..senders).filter(|sender| live[*sender]).collect();
    let _ = wait_for(state, Instant::now() + plan.settle, |state| {
        live_senders.iter().all(|sender| {
            (sender * state.per_sender..(sender + 1) * state.per_sender).all(|message| state.sent_us[message] == NONE || state.ack_us[message] != NONE) || state.send_errors > 0
        })
    })
    .await;
    // Then the deliveries of what was committed meanwhile (acks may overtake them).
    let live_count = live.iter().filter(|alive| **alive).count() as u32;
    let _ = wait_for(state, Instant::now() + plan.drain, |state| {
        (0..state.total).all(|message| (state.ack_us[message] == NONE && state.receivers[message] == 0) || state.receivers[message] >= live_count)
    })
    .await;

    let state = state.lock().expect("chat state lock");
    let mut lost = 0u64;
    let mut never_committed = 0u64;
    let mut deliveries_missing = 0u64;
    let mut latencies_us = Vec::with_capacity(state.total);
    let mut ack_latencies_us = Vec::with_capacity(state.total);
    for message in 0..state.total {
        let sent_at = state.sent_us[message];
        if sent_at == NONE {
            continue;
        }
        if state.ack_us[message] == NONE && state.receivers[message] == 0 {
            never_committed += 1;
            continue;
        }
        let missing = live.iter().enumerate().filter(|(member, alive)| **alive && !state.got[member * state.total + message]).count() as u64;
        if missing > 0 {
            lost += 1;
            deliveries_missing += missing;
        }
        if state.done_us[message] != NONE {
            latencies_us.push(state.done_us[message].saturating_sub(sent_at));
        }
        if state.ack_us[message] != NONE {
            ack_latencies_us.push(state.ack_us[message].saturating_sub(sent_at));
        }
    }
    latencies_us.sort_unstable();
    ack_latencies_us.sort_unstable();
    Ok(StepOutcome {
        rate,
        sent: state.sent,
        lost,
        never_committed,
        deliveries_missing,
        out_of_order: state.out_of_order,
        duplicates: state.duplicates,
        strays: state.strays,
        seq_conflicts: state.seq_conflicts,
        send_errors: state.send_errors,
        first_error: state.first_error.clone(),
        unacked: state.sent.saturating_sub(state.acked + state.send_errors),
        latencies_us,
        ack_latencies_us,
        send_secs,
        client_cpu_percent,
        server_cpu_percent,
        disconnects,
        disconnected_senders,
        first_disconnect,
    })
}

/// Sends `frames` at one per `interval` from `start`, recording each send time. When the
/// process falls behind (timers have a 1 ms grain), it sends what is due at once.
async fn send_on_schedule(
    outgoing: mpsc::UnboundedSender<WsMessage>,
    frames: Vec<(usize, WsMessage)>,
    state: Arc<Mutex<StepState>>,
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
            let Some((message, frame)) = frames.next() else { return };
            state.lock().expect("chat state lock").mark_sent(message);
            if outgoing.send(frame).is_err() {
                return;
            }
            sent += 1;
        }
        if sent < total {
            tokio::time::sleep_until(start + interval.mul_f64(sent as f64)).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `message` event laid out as the server writes it (serde, fields in declaration order).
    const MESSAGE: &str = r#"{"type":"message","message":{"conversation_id":"0a1b","seq":42,"id":"m1","author":{"id":"u1","display_name":"Bench member 3","external":false},"client_id":"c2.1.7","body":"hi","html":"<p>hi</p>","reply_to_seq":null,"mentions":[],"mentions_all":false,"attachments":[],"reactions":[],"created_at_ms":1,"edited_at_ms":null,"deleted":false}}"#;

    #[test]
    fn scans_message_events() {
        assert_eq!(scan_message(MESSAGE), Some((42, "c2.1.7")));
        assert_eq!(scan_message(r#"{"type":"ack","client_id":"c2.1.7","conversation_id":"x","seq":1,"id":"m","duplicate":false}"#), None);
    }

    #[test]
    fn counts_order_duplicates_and_completion() {
        // Two members, two senders of two messages each.
        let mut state = StepState::new(2, "conv".into(), 2, 2, 2);
        let frame = |seq: u64, client_id: &str| MESSAGE.replace("\"seq\":42", &format!("\"seq\":{seq}")).replace("c2.1.7", client_id);
        for message in 0..4 {
            state.mark_sent(message);
        }
        state.on_frame(0, &frame(1, "c2.0.0"));
        state.on_frame(0, &frame(2, "c2.1.0"));
        state.on_frame(1, &frame(2, "c2.1.0")); // seq 1 skipped: out of order
        state.on_frame(1, &frame(1, "c2.0.0")); // late: out of order again
        state.on_frame(1, &frame(1, "c2.0.0")); // duplicate (and out of order)
        state.on_frame(0, &frame(3, "c1.0.1")); // another step: stray
        state.on_frame(0, &frame(2, "c2.0.1")); // seq 2 already carried another message
        state.on_frame(0, r#"{"type":"subscribed","conversation_id":"conv","last_seq":0}"#);
        state.on_frame(1, r#"{"type":"ack","client_id":"c2.0.0","conversation_id":"conv","seq":1,"id":"m","duplicate":false}"#);
        state.on_frame(1, r#"{"type":"error","code":"rate_limited","message":"slow down","client_id":"c2.1.1"}"#);
        assert_eq!(state.completed, 2);
        assert_eq!(state.out_of_order, 4);
        assert_eq!(state.duplicates, 1);
        assert_eq!(state.strays, 1);
        assert_eq!(state.seq_conflicts, 1);
        assert_eq!(state.acked, 1);
        assert_eq!(state.send_errors, 1);
        assert_eq!(state.subscribed, vec![true, false]);
        assert_eq!(state.first_error.as_deref(), Some("rate_limited: slow down"));
    }
}
