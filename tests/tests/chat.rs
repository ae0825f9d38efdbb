//! End-to-end tests of the chat: the `/chat` websocket and the chat REST API of the real
//! binary, on both backends.
//!
//! One server per backend carries most scenarios, each in a channel of its own so that seqs
//! start at 1; every scenario runs even when an earlier one failed, and the test reports them
//! all. The crash scenario comes last because it kills that server. The limits need other
//! settings and have a server of their own.

use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use relais_tests::api::Api;
use relais_tests::chat::{ChatClient, RawHttp, is_message_of};
use relais_tests::fixtures::{Site, expect_status, now_ms, text_field};
use relais_tests::{Backend, TestServer};
use serde_json::{Value, json};
use sqlx::Connection;

const WAIT: Duration = Duration::from_secs(15);
/// The README promises that a lost conversation is unsubscribed within a second; the test
/// allows a little slack for a loaded machine and prints the measured time.
const REVOCATION_DEADLINE: Duration = Duration::from_millis(1500);
/// Settings of the shared server: many sign-ins, many messages from one person, and a small
/// attachment limit for the attachment scenario.
const SHARED_FLAGS: [&str; 6] = [
    "--auth-rate-per-minute",
    "10000",
    "--chat-messages-per-minute",
    "100000",
    "--attachment-max-bytes",
    "1000",
];
const ATTACHMENT_MAX_BYTES: usize = 1000;

fn seq_of(value: &Value) -> anyhow::Result<i64> {
    value["seq"]
        .as_i64()
        .with_context(|| format!("no seq in {value}"))
}

fn seqs(messages: &[Value]) -> Vec<i64> {
    messages.iter().filter_map(|m| m["seq"].as_i64()).collect()
}

/// Fails unless `error` is an `error` event or an API error body with this code.
fn expect_error_code(error: &Value, code: &str, what: &str) -> anyhow::Result<()> {
    let found = if error["type"] == "error" {
        &error["code"]
    } else {
        &error["error"]["code"]
    };
    ensure!(
        found == code,
        "{what}: expected error {code:?}, got {error}"
    );
    Ok(())
}

fn messages_path(conversation_id: &str) -> String {
    format!("/api/conversations/{conversation_id}/messages")
}

/// The whole history of a conversation through REST (at most 200 messages).
async fn history(api: &Api, conversation_id: &str) -> anyhow::Result<Vec<Value>> {
    let body = expect_status(
        api.get(&format!(
            "{}?after_seq=0&limit=200",
            messages_path(conversation_id)
        ))
        .await?,
        200,
        "reading the history",
    )?;
    body.as_array()
        .cloned()
        .with_context(|| format!("the history is not a list: {body}"))
}

/// `GET /api/search?q=...` as `api`: the status and the messages found.
async fn search(api: &Api, words: &str) -> anyhow::Result<(u16, Value)> {
    let query: String = url::form_urlencoded::byte_serialize(words.as_bytes()).collect();
    api.get(&format!("/api/search?q={query}")).await
}

/// Takes the messages of a conversation up to seq `through`, failing unless each is the
/// next one expected (`next`, moved forward).
async fn receive_through(
    client: &mut ChatClient,
    conversation_id: &str,
    next: &mut i64,
    through: i64,
) -> anyhow::Result<Vec<Value>> {
    let mut received = Vec::new();
    while *next <= through {
        let message = next_messages(client, conversation_id, 1).await?.remove(0);
        ensure!(
            message["seq"] == *next,
            "expected seq {next}, received {message}"
        );
        *next += 1;
        received.push(message);
    }
    Ok(received)
}

/// Waits for the next `count` messages of a conversation on `client`, in arrival order.
async fn next_messages(
    client: &mut ChatClient,
    conversation_id: &str,
    count: usize,
) -> anyhow::Result<Vec<Value>> {
    let mut messages = Vec::with_capacity(count);
    for index in 0..count {
        let event = client
            .wait_for(
                WAIT,
                &format!("message {} of {count}", index + 1),
                |event| is_message_of(event, conversation_id),
            )
            .await?;
        messages.push(event["message"].clone());
    }
    Ok(messages)
}

/// Everyone the shared server's scenarios need.
struct Cast {
    site: Site,
    /// Editors of W.
    alice: Api,
    bruno: Api,
    /// An editor of W who is not a member of the private channel.
    nadia: Api,
    /// A reader of W.
    lecteur: Api,
    /// A commenter of W whom the owner removes while subscribed.
    partant: Api,
    /// External, created by the administrator, invited to nothing.
    outsider: Api,
    /// External, a member of another workspace of the organisation only.
    elsewhere: Api,
}

async fn cast(server: &TestServer) -> anyhow::Result<Cast> {
    let site = Site::build(server, "Compte rendu du conseil").await?;
    let alice = site.add_staff(server, "alice", "editor").await?;
    let bruno = site.add_staff(server, "bruno", "editor").await?;
    let nadia = site.add_staff(server, "nadia", "editor").await?;
    let lecteur = site.add_staff(server, "lecteur", "reader").await?;
    let partant = site.add_staff(server, "partant", "commenter").await?;
    let outsider = site
        .external(server, "outsider", "Partenaire outsider")
        .await?;
    let elsewhere = site
        .external(server, "elsewhere", "Partenaire elsewhere")
        .await?;
    let other_workspace = Site::workspace(&site.owner, &site.organisation_id, "Voirie").await?;
    expect_status(
        site.owner
            .put(
                &format!(
                    "/api/workspaces/{other_workspace}/members/{}",
                    elsewhere.user_id()
                ),
                json!({ "role": "editor", "expires_at_ms": now_ms() + 3_600_000 }),
            )
            .await?,
        204,
        "inviting the partner to the other workspace",
    )?;
    Ok(Cast {
        site,
        alice,
        bruno,
        nadia,
        lecteur,
        partant,
        outsider,
        elsewhere,
    })
}

/// Runs every scenario, printing each outcome; returns the failures.
struct Scenarios {
    backend: Backend,
    failures: Vec<String>,
}

impl Scenarios {
    async fn run(&mut self, name: &str, scenario: impl Future<Output = anyhow::Result<()>>) {
        let started = Instant::now();
        match scenario.await {
            Ok(()) => println!("PASS {:?} {name} ({:?})", self.backend, started.elapsed()),
            Err(error) => {
                println!("FAIL {:?} {name}: {error:#}", self.backend);
                self.failures.push(format!("{name}: {error:#}"));
            }
        }
    }

    fn finish(self) -> anyhow::Result<()> {
        if self.failures.is_empty() {
            return Ok(());
        }
        bail!(
            "{} scenario(s) failed on {:?}:\n{}",
            self.failures.len(),
            self.backend,
            self.failures.join("\n")
        )
    }
}

async fn chat(backend: Backend) -> anyhow::Result<()> {
    let mut server = TestServer::start_with(backend, &SHARED_FLAGS).await?;
    let started = Instant::now();
    let cast = cast(&server).await?;
    println!("{backend:?}: cast ready in {:?}", started.elapsed());
    let mut scenarios = Scenarios {
        backend,
        failures: Vec::new(),
    };
    scenarios
        .run("1 real time between two members", real_time(&server, &cast))
        .await;
    scenarios
        .run(
            "2 reconnect without gap or duplicate, idempotent client ids",
            reconnect_and_idempotence(&server, &cast),
        )
        .await;
    scenarios
        .run(
            "3 a private channel is closed to others",
            private_channel(&server, &cast),
        )
        .await;
    scenarios
        .run(
            "4 hostile markdown is stored as sent and rendered inert",
            hostile_markdown(&server, &cast),
        )
        .await;
    scenarios
        .run(
            "6 attachments: limits, types, nothing partial, downloads",
            attachments(&server, &cast),
        )
        .await;
    scenarios
        .run("7 search ignores accents", search_accents(backend, &cast))
        .await;
    scenarios
        .run(
            "9 a document's discussion follows the document role",
            document_discussion(&server, &cast),
        )
        .await;
    scenarios
        .run(
            "10 a removed member is unsubscribed",
            removal_unsubscribes(&server, &cast),
        )
        .await;
    scenarios
        .run(
            "10b an expired partner is unsubscribed",
            expiry_unsubscribes(&server, &cast),
        )
        .await;
    scenarios
        .run(
            "10c signing out closes the chat socket",
            sign_out_closes(&server, &cast),
        )
        .await;
    scenarios
        .run(
            "11 a bad frame closes only its sender",
            bad_frames(&server, &cast),
        )
        .await;
    scenarios
        .run(
            "5 every acked message survives SIGKILL",
            crash(&mut server, &cast),
        )
        .await;
    if !scenarios.failures.is_empty() {
        let log = server.log();
        let tail: Vec<&str> = log.lines().rev().take(40).collect();
        println!(
            "server log (last lines):\n{}",
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        );
    }
    server.stop().await?;
    scenarios.finish()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_on_sqlite() -> anyhow::Result<()> {
    chat(Backend::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_on_postgres() -> anyhow::Result<()> {
    chat(Backend::Postgres).await
}

// ---------------------------------------------------------------------------------------
// 1. Real time.
// ---------------------------------------------------------------------------------------

/// Invalid JSON, an unknown request and an oversize frame each close their sender (1007, 1007,
/// 1009), and only it: the members of the channel go on exchanging, nothing is stored from the
/// bad frames, and nothing else is lost.
async fn bad_frames(server: &TestServer, cast: &Cast) -> anyhow::Result<()> {
    let channel = cast.site.channel("trames-invalides", false).await?;
    let mut alice = ChatClient::connect(server, &cast.alice).await?;
    let mut bruno = ChatClient::connect(server, &cast.bruno).await?;
    alice.subscribe(&channel, 0).await?;
    bruno.subscribe(&channel, 0).await?;
    let before = alice
        .send(&channel, "avant", "Avant les trames invalides")
        .await?;
    ensure!(seq_of(&before)? == 1, "first ack: {before}");

    let oversize = format!(
        r#"{{"type":"send","conversation_id":"{channel}","client_id":"gros","body":"{}"}}"#,
        "x".repeat(64 * 1024)
    );
    let cases: [(&str, String, Option<u16>); 3] = [
        ("invalid JSON", "{pas du json".to_owned(), Some(1007)),
        (
            "an unknown request",
            r#"{"type":"explose"}"#.to_owned(),
            Some(1007),
        ),
        ("an oversize frame", oversize, Some(1009)),
    ];
    for (what, frame, code) in cases {
        let mut bad = ChatClient::connect(server, &cast.nadia).await?;
        bad.send_text(&frame)?;
        let closed = bad.wait_closed(WAIT).await?;
        println!("{what}: closed with {closed:?}");
        ensure!(
            closed.code == code,
            "{what}: closed with {closed:?}, expected {code:?}"
        );
    }

    // The members were not disturbed: the next message is seq 2, and each member receives
    // both, in order.
    let after = bruno
        .send(&channel, "apres", "Après les trames invalides")
        .await?;
    ensure!(seq_of(&after)? == 2, "ack after the bad frames: {after}");
    for member in [&mut alice, &mut bruno] {
        let mut next = 1;
        receive_through(member, &channel, &mut next, 2).await?;
    }
    let stored = history(&cast.alice, &channel).await?;
    ensure!(
        seqs(&stored) == vec![1, 2],
        "history after the bad frames: {stored:?}"
    );
    Ok(())
}

async fn real_time(server: &TestServer, cast: &Cast) -> anyhow::Result<()> {
    let channel = cast.site.channel("temps-reel", false).await?;
    let mut alice = ChatClient::connect(server, &cast.alice).await?;
    let mut bruno = ChatClient::connect(server, &cast.bruno).await?;
    for client in [&mut alice, &mut bruno] {
        let subscription = client.subscribe(&channel, 0).await?;
        ensure!(
            subscription.messages.is_empty() && subscription.last_seq == 0,
            "a new channel: {subscription:?}"
        );
    }
    // Each side receives every message of the conversation, its own included, in seq order:
    // `next` is the seq each expects next.
    let (mut alice_next, mut bruno_next) = (1, 1);
    let mut expected = Vec::new();
    for round in 1..=3 {
        expected.push(
            exchange(
                &mut alice,
                &mut bruno,
                &mut bruno_next,
                &cast.alice,
                &channel,
                round,
            )
            .await?,
        );
        expected.push(
            exchange(
                &mut bruno,
                &mut alice,
                &mut alice_next,
                &cast.bruno,
                &channel,
                round,
            )
            .await?,
        );
    }
    let want: Vec<i64> = (1..=6).collect();
    ensure!(
        expected.iter().map(|(seq, _)| *seq).collect::<Vec<_>>() == want,
        "seqs assigned: {expected:?}"
    );
    // Their own messages reached them too, in their place.
    receive_through(&mut alice, &channel, &mut alice_next, 6).await?;
    receive_through(&mut bruno, &channel, &mut bruno_next, 6).await?;
    let stored = history(&cast.bruno, &channel).await?;
    ensure!(seqs(&stored) == want, "history seqs: {:?}", seqs(&stored));
    for ((seq, body), message) in expected.iter().zip(&stored) {
        ensure!(
            message["seq"] == *seq && message["body"] == body.as_str(),
            "history: {message}"
        );
    }
    Ok(())
}

/// `sender` sends a message; `receiver` gets it live with the seq and id of the `ack`.
async fn exchange(
    sender: &mut ChatClient,
    receiver: &mut ChatClient,
    receiver_next: &mut i64,
    who: &Api,
    channel: &str,
    round: u32,
) -> anyhow::Result<(i64, String)> {
    let name = who.user["display_name"].as_str().unwrap_or_default();
    let body = format!("tour {round} : bonjour de {name}");
    let client_id = format!("temps-reel-{name}-{round}");
    let sent_at = Instant::now();
    let ack = sender.send(channel, &client_id, &body).await?;
    ensure!(
        ack["duplicate"] == false && ack["conversation_id"] == channel,
        "ack: {ack}"
    );
    let seq = seq_of(&ack)?;
    let received = receive_through(receiver, channel, receiver_next, seq)
        .await?
        .pop()
        .context("nothing received")?;
    let latency = sent_at.elapsed();
    ensure!(
        received["id"] == ack["id"]
            && received["body"] == body.as_str()
            && received["client_id"] == client_id.as_str()
            && received["author"]["id"] == who.user_id(),
        "ack {ack} but received {received}"
    );
    if round == 1 {
        println!("{name} → the other: delivered {latency:?} after sending");
    }
    Ok((seq, body))
}

// ---------------------------------------------------------------------------------------
// 2. Reconnection and idempotence.
// ---------------------------------------------------------------------------------------

async fn reconnect_and_idempotence(server: &TestServer, cast: &Cast) -> anyhow::Result<()> {
    const TOTAL: usize = 30;
    const BEFORE_CUT: usize = 10;
    let channel = cast.site.channel("coupure", false).await?;
    let mut bruno = ChatClient::connect(server, &cast.bruno).await?;
    bruno.subscribe(&channel, 0).await?;

    // Alice sends in a loop, each message after the previous one's ack, while Bruno's
    // connection is cut after he has received ten.
    let mut alice = ChatClient::connect(server, &cast.alice).await?;
    let acked = Arc::new(AtomicUsize::new(0));
    let sender_acked = acked.clone();
    let sender_channel = channel.clone();
    let sender = tokio::spawn(async move {
        let mut acks = Vec::with_capacity(TOTAL);
        for index in 1..=TOTAL {
            let ack = alice
                .send(
                    &sender_channel,
                    &format!("coupure-{index}"),
                    &format!("message {index} sur {TOTAL}"),
                )
                .await?;
            sender_acked.fetch_add(1, Ordering::Relaxed);
            acks.push(ack);
        }
        anyhow::Ok((alice, acks))
    });
    let before_cut = next_messages(&mut bruno, &channel, BEFORE_CUT).await?;
    let acked_at_cut = acked.load(Ordering::Relaxed);
    bruno.cut();
    let (mut alice, acks) = sender.await.context("the sending task panicked")??;
    println!(
        "connection cut after {BEFORE_CUT} received, when alice had {acked_at_cut} of {TOTAL} acked"
    );
    let acked_seqs: Vec<i64> = acks.iter().map(seq_of).collect::<Result<_, _>>()?;
    ensure!(
        acked_seqs == (1..=TOTAL as i64).collect::<Vec<_>>(),
        "acked seqs: {acked_seqs:?}"
    );
    ensure!(
        seqs(&before_cut) == (1..=BEFORE_CUT as i64).collect::<Vec<_>>(),
        "before the cut bruno received {:?}",
        seqs(&before_cut)
    );

    let last_seen = BEFORE_CUT as i64;
    let mut bruno = ChatClient::connect(server, &cast.bruno).await?;
    let caught_up = bruno.subscribe(&channel, last_seen).await?;
    ensure!(
        seqs(&caught_up.messages) == (last_seen + 1..=TOTAL as i64).collect::<Vec<_>>(),
        "after reconnecting with after_seq {last_seen}, bruno got {:?}",
        seqs(&caught_up.messages)
    );
    ensure!(
        caught_up.last_seq == TOTAL as i64,
        "subscribed at {}",
        caught_up.last_seq
    );
    for message in &caught_up.messages {
        let seq = seq_of(message)?;
        ensure!(
            message["body"] == format!("message {seq} sur {TOTAL}").as_str(),
            "message {seq}: {message}"
        );
    }

    // The same client id twice over the socket: one message.
    let first = alice.send(&channel, "unique-ws", "une seule fois").await?;
    let again = alice.send(&channel, "unique-ws", "une seule fois").await?;
    ensure!(first["duplicate"] == false, "first send: {first}");
    ensure!(
        again["duplicate"] == true && again["seq"] == first["seq"] && again["id"] == first["id"],
        "the same client id again over the socket: {first} then {again}"
    );
    // And over REST after the socket: 200, the same message.
    let over_rest = expect_status(
        cast.alice
            .post(
                &messages_path(&channel),
                json!({ "client_id": "unique-ws", "body": "une seule fois" }),
            )
            .await?,
        200,
        "the socket's client id again over REST",
    )?;
    ensure!(
        over_rest["seq"] == first["seq"] && over_rest["id"] == first["id"],
        "over REST: {over_rest} vs {first}"
    );
    // Over REST first (201), then REST again (200), then the socket (duplicate).
    let rest_first = expect_status(
        cast.alice
            .post(
                &messages_path(&channel),
                json!({ "client_id": "unique-rest", "body": "par REST" }),
            )
            .await?,
        201,
        "posting over REST",
    )?;
    let rest_again = expect_status(
        cast.alice
            .post(
                &messages_path(&channel),
                json!({ "client_id": "unique-rest", "body": "par REST" }),
            )
            .await?,
        200,
        "the same client id again over REST",
    )?;
    ensure!(
        rest_again["seq"] == rest_first["seq"] && rest_again["id"] == rest_first["id"],
        "REST twice: {rest_first} then {rest_again}"
    );
    let socket_after_rest = alice.send(&channel, "unique-rest", "par REST").await?;
    ensure!(
        socket_after_rest["duplicate"] == true && socket_after_rest["seq"] == rest_first["seq"],
        "the REST client id over the socket: {socket_after_rest}"
    );

    // A last message as a fence: messages arrive in seq order, so once it is there Bruno has
    // received everything live, and each message once.
    let fence = alice.send(&channel, "barriere", "fin").await?;
    let fence_seq = seq_of(&fence)?;
    bruno
        .wait_for(WAIT, "the fence message", |event| {
            is_message_of(event, &channel) && event["message"]["seq"] == fence_seq
        })
        .await?;
    let live: Vec<i64> = seqs(&bruno.take_messages(&channel));
    ensure!(
        live == (TOTAL as i64 + 1..fence_seq).collect::<Vec<_>>(),
        "live after the catch-up: {live:?} then {fence_seq}"
    );
    ensure!(
        fence_seq == TOTAL as i64 + 3,
        "two unique messages between the loop and the fence, got fence seq {fence_seq}"
    );

    let stored = history(&cast.bruno, &channel).await?;
    ensure!(
        seqs(&stored) == (1..=fence_seq).collect::<Vec<_>>(),
        "history seqs: {:?}",
        seqs(&stored)
    );
    for client_id in ["unique-ws", "unique-rest"] {
        let count = stored
            .iter()
            .filter(|m| m["client_id"] == client_id)
            .count();
        ensure!(count == 1, "{count} messages with client id {client_id}");
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// 3. Private channels.
// ---------------------------------------------------------------------------------------

async fn private_channel(server: &TestServer, cast: &Cast) -> anyhow::Result<()> {
    let private = cast.site.channel("bureau-prive", true).await?;
    let public = cast.site.channel("place-publique", false).await?;
    expect_status(
        cast.site
            .owner
            .put(
                &format!(
                    "/api/conversations/{private}/members/{}",
                    cast.alice.user_id()
                ),
                json!({}),
            )
            .await?,
        204,
        "adding alice to the private channel",
    )?;
    let secret_word = "zorglubissime";
    expect_status(
        cast.alice
            .post(
                &messages_path(&private),
                json!({ "client_id": "secret-1", "body": format!("Le mot de passe du coffre est {secret_word}") }),
            )
            .await?,
        201,
        "a member posting in the private channel",
    )?;
    let (status, found) = search(&cast.alice, secret_word).await?;
    ensure!(
        status == 200
            && found
                .as_array()
                .is_some_and(|all| all.iter().any(|m| m["conversation_id"] == private.as_str())),
        "a member searching the private channel: {status} {found}"
    );
    let mut member = ChatClient::connect(server, &cast.alice).await?;
    let subscription = member.subscribe(&private, 0).await?;
    ensure!(
        seqs(&subscription.messages) == [1],
        "the member's catch-up: {subscription:?}"
    );

    for (who, api) in [
        ("an editor of W outside the private channel", &cast.nadia),
        ("an external account with no access", &cast.outsider),
        ("a partner of another workspace only", &cast.elsewhere),
    ] {
        let (status, body) = api
            .get(&format!("{}?after_seq=0", messages_path(&private)))
            .await?;
        ensure!(status == 404, "{who} reading the history: {status} {body}");
        let (status, body) = api
            .post(
                &messages_path(&private),
                json!({ "client_id": "intrus", "body": "je suis entré" }),
            )
            .await?;
        ensure!(status == 404, "{who} posting: {status} {body}");
        let (status, found) = search(api, secret_word).await?;
        ensure!(
            status == 200 && found.as_array().is_some_and(Vec::is_empty),
            "{who} searching: {status} {found}"
        );
        let mut socket = ChatClient::connect(server, api).await?;
        let refused = socket.try_subscribe(&private, 0).await?;
        match refused {
            Ok(subscription) => bail!("{who} subscribed: {subscription:?}"),
            Err(error) => expect_error_code(&error, "not_found", &format!("{who} subscribing"))?,
        }
        match socket
            .try_send(&private, "intrus-ws", "je suis entré")
            .await?
        {
            Ok(ack) => bail!("{who} posted over the socket: {ack}"),
            Err(error) => expect_error_code(&error, "not_found", &format!("{who} sending"))?,
        }
        ensure!(
            socket.closed().is_none(),
            "{who}: refusals closed the socket"
        );
    }
    // The editor outside the private channel does read the public one: the refusal above is
    // the channel's privacy, not a broken account.
    let mut nadia = ChatClient::connect(server, &cast.nadia).await?;
    nadia.subscribe(&public, 0).await?;

    let anonymous = Api::anonymous(server)?;
    let (status, body) = anonymous.get(&messages_path(&private)).await?;
    ensure!(status == 401, "anonymous history: {status} {body}");
    let (status, body) = anonymous
        .post(
            &messages_path(&private),
            json!({ "client_id": "anonyme", "body": "coucou" }),
        )
        .await?;
    ensure!(status == 401, "anonymous post: {status} {body}");
    let (status, body) = search(&anonymous, secret_word).await?;
    ensure!(status == 401, "anonymous search: {status} {body}");
    let mut socket = ChatClient::connect(server, &anonymous).await?;
    // Whatever it sends, an anonymous socket is closed without an answer.
    let _ = socket
        .send_json(&json!({ "type": "subscribe", "conversation_id": private, "after_seq": 0 }));
    let closed = socket.wait_closed(WAIT).await?;
    ensure!(
        closed.code == Some(4401),
        "the anonymous socket closed with {closed:?}"
    );
    let leaked = socket.take_messages(&private);
    ensure!(leaked.is_empty(), "the anonymous socket got {leaked:?}");

    // Nothing the refused attempts sent was stored.
    let stored = history(&cast.alice, &private).await?;
    ensure!(seqs(&stored) == [1], "the private channel holds {stored:?}");
    let live = member.take_messages(&private);
    ensure!(live.is_empty(), "the member saw {live:?}");
    Ok(())
}

// ---------------------------------------------------------------------------------------
// 4. Hostile Markdown.
// ---------------------------------------------------------------------------------------

/// The problems of a rendering: script or image tags, `javascript:` or event handlers inside
/// a tag. Text outside tags (escaped) is fine.
fn unsafe_parts(html: &str) -> Vec<String> {
    let lower = html.to_ascii_lowercase();
    let mut problems = Vec::new();
    for tag in ["<script", "<img", "<iframe", "<svg"] {
        if lower.contains(tag) {
            problems.push(format!("contains {tag}"));
        }
    }
    for tag in lower.split('<').skip(1) {
        let inside = tag.split('>').next().unwrap_or_default();
        if inside.contains("javascript:") || inside.contains("onerror") || inside.contains(" on") {
            problems.push(format!("<{inside}>"));
        }
    }
    problems
}

async fn hostile_markdown(server: &TestServer, cast: &Cast) -> anyhow::Result<()> {
    let channel = cast.site.channel("hostile", false).await?;
    let mut bruno = ChatClient::connect(server, &cast.bruno).await?;
    bruno.subscribe(&channel, 0).await?;
    let mut alice = ChatClient::connect(server, &cast.alice).await?;
    let bodies = [
        "<script>alert(1)</script>\n\n[x](javascript:alert(1))\n\n<img src=x onerror=alert(1)>",
        "en ligne <script>alert(1)</script> puis [x](javascript:alert(1)) puis <img src=x onerror=alert(1)> fin",
        "[x](JaVaScRiPt:alert(1)) <a href=\"javascript:alert(1)\" onclick=\"alert(1)\">a</a> ![i](x\" onerror=\"alert(1))",
    ];
    for (index, body) in bodies.iter().enumerate() {
        let ack = alice
            .send(&channel, &format!("hostile-{index}"), body)
            .await?;
        let seq = seq_of(&ack)?;
        let live = bruno
            .wait_for(WAIT, "the hostile message", |event| {
                is_message_of(event, &channel) && event["message"]["seq"] == seq
            })
            .await?;
        let stored = history(&cast.bruno, &channel).await?;
        let stored = stored
            .iter()
            .find(|m| m["seq"] == seq)
            .with_context(|| format!("seq {seq} is not in the history"))?;
        for (what, message) in [("live", &live["message"]), ("history", stored)] {
            ensure!(
                message["body"].as_str() == Some(*body),
                "{what}: the body changed: {:?} instead of {body:?}",
                message["body"]
            );
            let html = message["html"]
                .as_str()
                .with_context(|| format!("{what}: no html in {message}"))?;
            let problems = unsafe_parts(html);
            ensure!(
                problems.is_empty(),
                "{what}: unsafe rendering {problems:?} in {html:?}"
            );
            if index == 0 && what == "history" {
                println!("body {body:?} renders as {html:?}");
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// 6. Attachments.
// ---------------------------------------------------------------------------------------

/// Files under `dir`, recursively (none if it does not exist).
fn files_under(dir: &Path) -> anyhow::Result<Vec<std::path::PathBuf>> {
    let mut files = Vec::new();
    if !dir.exists() {
        return Ok(files);
    }
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let path = entry?.path();
            if path.is_dir() {
                pending.push(path);
            } else {
                files.push(path);
            }
        }
    }
    Ok(files)
}

/// Rows of the attachments table, read in the server's database.
async fn attachment_rows(server: &TestServer) -> anyhow::Result<i64> {
    let query = "SELECT count(*) FROM attachments";
    let url = server.database_url();
    let count: i64 = if url.starts_with("sqlite:") {
        let mut connection = sqlx::SqliteConnection::connect(url).await?;
        let count = sqlx::query_scalar(query).fetch_one(&mut connection).await?;
        connection.close().await?;
        count
    } else {
        let mut connection = sqlx::PgConnection::connect(url).await?;
        let count = sqlx::query_scalar(query).fetch_one(&mut connection).await?;
        connection.close().await?;
        count
    };
    Ok(count)
}

async fn attachments(server: &TestServer, cast: &Cast) -> anyhow::Result<()> {
    let channel = cast.site.channel("pieces-jointes", false).await?;
    let raw = RawHttp::for_session(server, &cast.alice).await?;
    let blobs = server.data_dir().join("objects").join("attachments");

    let too_big = raw
        .upload(
            &channel,
            "gros.txt",
            "text/plain",
            vec![b'a'; ATTACHMENT_MAX_BYTES * 2],
        )
        .await?;
    let answer = too_big.json();
    ensure!(
        too_big.status == 413
            && answer["error"]["code"] == "too_large"
            && answer["error"]["message"].is_string(),
        "an upload over the limit: {} {answer} ({:?})",
        too_big.status,
        String::from_utf8_lossy(&too_big.body)
    );
    for (name, content_type) in [("page.html", "text/html"), ("dessin.svg", "image/svg+xml")] {
        let refused = raw
            .upload(
                &channel,
                name,
                content_type,
                b"<svg onload=alert(1)></svg>".to_vec(),
            )
            .await?;
        let answer = refused.json();
        ensure!(
            refused.status == 415
                && answer["error"]["code"] == "unsupported_type"
                && answer.get("id").is_none(),
            "uploading {content_type}: {} {answer}",
            refused.status
        );
    }
    ensure!(
        answer.get("id").is_none(),
        "the refused upload has an id: {answer}"
    );
    let rows = attachment_rows(server).await?;
    let files = files_under(&blobs)?;
    ensure!(
        rows == 0 && files.is_empty(),
        "after refused uploads: {rows} attachment rows, files {files:?}"
    );

    let content = b"Ordre du jour : budget, voirie.\n".to_vec();
    let uploaded = raw
        .upload(&channel, "ordre du jour.txt", "text/plain", content.clone())
        .await?;
    let attachment = uploaded.json();
    ensure!(
        uploaded.status == 201,
        "a good upload: {} {attachment}",
        uploaded.status
    );
    let attachment_id = text_field(&attachment, "id")?;
    ensure!(
        attachment["len"] == content.len() && attachment["content_type"] == "text/plain",
        "the attachment: {attachment}"
    );
    let mut alice = ChatClient::connect(server, &cast.alice).await?;
    let ack = match alice
        .try_send_with(json!({
            "conversation_id": channel,
            "client_id": "avec-piece-jointe",
            "body": "voir l'ordre du jour",
            "attachments": [attachment_id],
        }))
        .await?
    {
        Ok(ack) => ack,
        Err(error) => bail!("posting with the attachment: {error}"),
    };
    let seq = seq_of(&ack)?;
    let stored = history(&cast.bruno, &channel).await?;
    let message = stored
        .iter()
        .find(|m| m["seq"] == seq)
        .with_context(|| format!("seq {seq} is not in {stored:?}"))?;
    let listed = &message["attachments"];
    ensure!(
        listed.as_array().map(Vec::len) == Some(1) && listed[0]["id"] == attachment_id.as_str(),
        "the message's attachments: {message}"
    );
    let url = text_field(&listed[0], "url")?;
    // Bruno, another reader of the channel, downloads it.
    let download = RawHttp::for_session(server, &cast.bruno)
        .await?
        .get(&url)
        .await?;
    ensure!(download.status == 200, "downloading: {}", download.status);
    ensure!(
        download.body == content,
        "the download differs from the upload"
    );
    let disposition = download.header("content-disposition").unwrap_or_default();
    ensure!(
        disposition.starts_with("attachment"),
        "Content-Disposition: {disposition:?}"
    );
    ensure!(
        download.header("x-content-type-options") == Some("nosniff"),
        "X-Content-Type-Options: {:?}",
        download.header("x-content-type-options")
    );
    println!(
        "download: Content-Type {:?}, Content-Disposition {disposition:?}",
        download.header("content-type")
    );
    // Someone who cannot read the channel cannot download it either.
    let outsider = RawHttp::for_session(server, &cast.outsider)
        .await?
        .get(&url)
        .await?;
    ensure!(
        outsider.status == 404,
        "an outsider downloading: {}",
        outsider.status
    );
    let rows = attachment_rows(server).await?;
    let files = files_under(&blobs)?;
    ensure!(
        rows == 1 && files.len() == 1,
        "after one good upload: {rows} rows, files {files:?}"
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------
// 7. Search.
// ---------------------------------------------------------------------------------------

async fn search_accents(backend: Backend, cast: &Cast) -> anyhow::Result<()> {
    let channel = cast.site.channel("conseil", false).await?;
    let body = "La délibération du conseil municipal";
    expect_status(
        cast.alice
            .post(
                &messages_path(&channel),
                json!({ "client_id": "deliberation", "body": body }),
            )
            .await?,
        201,
        "posting the deliberation",
    )?;
    let queries: &[&str] = match backend {
        Backend::Postgres => &[
            "deliberation",
            "délibérations",
            "Délibération",
            "deliberations conseil",
        ],
        Backend::Sqlite => &["deliberation", "délibération", "DELIBERATION"],
    };
    for query in queries {
        let (status, found) = search(&cast.bruno, query).await?;
        ensure!(status == 200, "searching {query:?}: {status} {found}");
        ensure!(
            found.as_array().is_some_and(|all| all
                .iter()
                .any(|m| m["body"] == body && m["conversation_id"] == channel.as_str())),
            "searching {query:?} did not find {body:?}: {found}"
        );
    }
    // A word that is not there finds nothing of it.
    let (status, found) = search(&cast.bruno, "budgétaire").await?;
    ensure!(
        status == 200
            && found
                .as_array()
                .is_some_and(|all| all.iter().all(|m| m["body"] != body)),
        "searching another word: {status} {found}"
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------
// 9. A document's discussion.
// ---------------------------------------------------------------------------------------

async fn document_discussion(server: &TestServer, cast: &Cast) -> anyhow::Result<()> {
    let path = format!("/api/documents/{}/conversation", cast.site.document_id);
    let for_reader = expect_status(
        cast.lecteur.get(&path).await?,
        200,
        "the reader opening the discussion",
    )?;
    let conversation = text_field(&for_reader, "id")?;
    ensure!(
        for_reader["kind"] == "document"
            && for_reader["document_id"] == cast.site.document_id.as_str()
            && for_reader["can_write"] == false,
        "the discussion for a reader: {for_reader}"
    );
    let for_editor = expect_status(
        cast.alice.get(&path).await?,
        200,
        "the editor opening the discussion",
    )?;
    ensure!(
        for_editor["id"] == conversation.as_str() && for_editor["can_write"] == true,
        "the discussion for an editor: {for_editor}"
    );
    let (status, body) = cast.outsider.get(&path).await?;
    ensure!(
        status == 404,
        "an outsider opening the discussion: {status} {body}"
    );

    expect_status(
        cast.lecteur.get(&messages_path(&conversation)).await?,
        200,
        "the reader reading the discussion",
    )?;
    let (status, body) = cast
        .lecteur
        .post(
            &messages_path(&conversation),
            json!({ "client_id": "lecteur-1", "body": "puis-je écrire ?" }),
        )
        .await?;
    ensure!(
        status == 403,
        "the reader posting over REST: {status} {body}"
    );
    expect_error_code(&body, "forbidden", "the reader posting over REST")?;

    let mut reader = ChatClient::connect(server, &cast.lecteur).await?;
    reader.subscribe(&conversation, 0).await?;
    match reader
        .try_send(&conversation, "lecteur-2", "et par le socket ?")
        .await?
    {
        Ok(ack) => bail!("the reader posted over the socket: {ack}"),
        Err(error) => expect_error_code(&error, "forbidden", "the reader sending")?,
    }

    let mut editor = ChatClient::connect(server, &cast.alice).await?;
    let ack = editor
        .send(
            &conversation,
            "editeur-1",
            "Relu, deux coquilles corrigées.",
        )
        .await?;
    let seq = seq_of(&ack)?;
    let received = next_messages(&mut reader, &conversation, 1)
        .await?
        .remove(0);
    ensure!(
        received["seq"] == seq && received["author"]["id"] == cast.alice.user_id(),
        "the reader received {received} for {ack}"
    );
    let created = expect_status(
        cast.alice
            .post(
                &messages_path(&conversation),
                json!({ "client_id": "editeur-2", "body": "Et par REST." }),
            )
            .await?,
        201,
        "the editor posting over REST",
    )?;
    let stored = history(&cast.lecteur, &conversation).await?;
    ensure!(
        seqs(&stored) == vec![seq, seq_of(&created)?],
        "the discussion holds {stored:?}"
    );
    ensure!(
        stored
            .iter()
            .all(|m| m["author"]["id"] == cast.alice.user_id()),
        "a message not from the editor: {stored:?}"
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------
// 10. Revocation.
// ---------------------------------------------------------------------------------------

/// Waits for `unsubscribed` from `conversation` on `client`; how long it took from `since`.
async fn unsubscribed_within(
    client: &mut ChatClient,
    conversation: &str,
    since: Instant,
    what: &str,
) -> anyhow::Result<Duration> {
    let event = client
        .wait_for(WAIT, &format!("{what}: unsubscribed"), |event| {
            event["type"] == "unsubscribed" && event["conversation_id"] == conversation
        })
        .await?;
    let elapsed = since.elapsed();
    println!("{what}: {event} after {elapsed:?}");
    ensure!(
        event["reason"].is_string(),
        "{what}: unsubscribed without a reason: {event}"
    );
    ensure!(
        elapsed < REVOCATION_DEADLINE,
        "{what}: unsubscribed after {elapsed:?}, more than {REVOCATION_DEADLINE:?}"
    );
    Ok(elapsed)
}

async fn removal_unsubscribes(server: &TestServer, cast: &Cast) -> anyhow::Result<()> {
    let channel = cast.site.channel("revocation", false).await?;
    let mut leaving = ChatClient::connect(server, &cast.partant).await?;
    leaving.subscribe(&channel, 0).await?;
    let started = Instant::now();
    expect_status(
        cast.site
            .owner
            .delete(&cast.site.members_path(cast.partant.user_id()))
            .await?,
        204,
        "removing the commenter from W",
    )?;
    unsubscribed_within(&mut leaving, &channel, started, "member removed").await?;
    // Nothing of the channel reaches the removed member any more.
    let mut alice = ChatClient::connect(server, &cast.alice).await?;
    alice.send(&channel, "apres-depart", "il est parti").await?;
    match leaving.try_subscribe(&channel, 0).await? {
        Ok(subscription) => bail!("the removed member subscribed again: {subscription:?}"),
        Err(error) => expect_error_code(&error, "not_found", "subscribing after removal")?,
    }
    match leaving
        .try_send(&channel, "apres-depart-2", "je suis encore là")
        .await?
    {
        Ok(ack) => bail!("the removed member posted: {ack}"),
        Err(error) => expect_error_code(&error, "not_found", "sending after removal")?,
    }
    let leaked = leaving.take_messages(&channel);
    ensure!(leaked.is_empty(), "the removed member received {leaked:?}");
    Ok(())
}

async fn expiry_unsubscribes(server: &TestServer, cast: &Cast) -> anyhow::Result<()> {
    let channel = cast.site.channel("expiration", false).await?;
    let partner = cast
        .site
        .external(server, "temporaire", "Partenaire temporaire")
        .await?;
    expect_status(
        cast.site
            .owner
            .put(
                &cast.site.members_path(partner.user_id()),
                json!({ "role": "commenter", "expires_at_ms": now_ms() + 3_600_000 }),
            )
            .await?,
        204,
        "inviting the partner",
    )?;
    let mut socket = ChatClient::connect(server, &partner).await?;
    socket.subscribe(&channel, 0).await?;
    // Shortening the grant bumps the access epoch at once; the expiry itself, a second later,
    // is no one's action.
    let expires_at_ms = now_ms() + 1_000;
    expect_status(
        cast.site
            .owner
            .put(
                &cast.site.members_path(partner.user_id()),
                json!({ "role": "commenter", "expires_at_ms": expires_at_ms }),
            )
            .await?,
        204,
        "shortening the partner's access",
    )?;
    let within = Duration::from_millis(1_000) + REVOCATION_DEADLINE;
    let event = socket
        .wait_for(within, "unsubscribed at the expiry", |event| {
            event["type"] == "unsubscribed" && event["conversation_id"] == channel.as_str()
        })
        .await;
    let late_ms = now_ms() - expires_at_ms;
    let Ok(event) = event else {
        // Say what the stale subscription lets through: live messages, or nothing.
        let mut alice = ChatClient::connect(server, &cast.alice).await?;
        let ack = alice
            .send(&channel, "apres-expiration", "après l'expiration")
            .await?;
        let seq = seq_of(&ack)?;
        let leaked = socket
            .wait_for(
                Duration::from_secs(2),
                "a message after the expiry",
                |event| is_message_of(event, &channel) && event["message"]["seq"] == seq,
            )
            .await
            .is_ok();
        let (status, _) = partner.get(&messages_path(&channel)).await?;
        bail!(
            "{late_ms} ms after the partner's grant expired, no unsubscribed; a message posted \
             then {} the partner live (while the REST history answers {status})",
            if leaked {
                "still reached"
            } else {
                "did not reach"
            }
        );
    };
    println!("partner's access expired: {event} {late_ms} ms after the expiry");
    ensure!(
        late_ms >= 0,
        "unsubscribed {} ms before the expiry",
        -late_ms
    );
    ensure!(
        late_ms < REVOCATION_DEADLINE.as_millis() as i64,
        "unsubscribed {late_ms} ms after the expiry"
    );
    Ok(())
}

async fn sign_out_closes(server: &TestServer, cast: &Cast) -> anyhow::Result<()> {
    let channel = cast.site.channel("deconnexion", false).await?;
    let mut socket = ChatClient::connect(server, &cast.lecteur).await?;
    socket.subscribe(&channel, 0).await?;
    let started = Instant::now();
    expect_status(
        cast.lecteur.delete("/api/session").await?,
        204,
        "signing out",
    )?;
    let closed = socket.wait_closed(WAIT).await?;
    let elapsed = started.elapsed();
    println!("signed out: the chat socket closed with {closed:?} after {elapsed:?}");
    ensure!(closed.code == Some(4401), "closed with {closed:?}");
    ensure!(
        elapsed < REVOCATION_DEADLINE,
        "closed after {elapsed:?}, more than {REVOCATION_DEADLINE:?}"
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------
// 5. Crash.
// ---------------------------------------------------------------------------------------

async fn crash(server: &mut TestServer, cast: &Cast) -> anyhow::Result<()> {
    const COUNT: usize = 50;
    let channel = cast.site.channel("crash", false).await?;
    let mut alice = ChatClient::connect(server, &cast.alice).await?;
    let mut acked = Vec::with_capacity(COUNT);
    let started = Instant::now();
    for index in 1..=COUNT {
        let body = format!("avant le crash {index}");
        let ack = alice
            .send(&channel, &format!("crash-{index}"), &body)
            .await?;
        acked.push((seq_of(&ack)?, body));
    }
    println!("{COUNT} messages acked in {:?}", started.elapsed());
    server.kill().await?;
    alice
        .wait_closed(WAIT)
        .await
        .context("the socket survived SIGKILL")?;
    server.restart().await?;
    // Sessions are stored: the same cookie works after the restart.
    let stored = history(&cast.alice, &channel).await?;
    for (seq, body) in &acked {
        let found = stored.iter().find(|m| m["seq"] == *seq);
        ensure!(
            found.is_some_and(|m| m["body"] == body.as_str()),
            "acked seq {seq} after the restart: {found:?}"
        );
    }
    ensure!(
        seqs(&stored) == (1..=COUNT as i64).collect::<Vec<_>>(),
        "history after the restart: {:?}",
        seqs(&stored)
    );
    // And the conversation goes on after the last seq.
    let mut alice = ChatClient::connect(server, &cast.alice).await?;
    let after = alice.send(&channel, "apres-crash", "on reprend").await?;
    ensure!(
        after["seq"] == COUNT as i64 + 1,
        "the first message after the restart: {after}"
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------
// 8. Limits.
// ---------------------------------------------------------------------------------------

async fn limits(backend: Backend) -> anyhow::Result<()> {
    let server = TestServer::start_with(
        backend,
        &[
            "--auth-rate-per-minute",
            "10000",
            "--chat-max-message-bytes",
            "100",
            "--chat-messages-per-minute",
            "5",
        ],
    )
    .await?;
    let site = Site::build(&server, "Compte rendu du conseil").await?;
    let alice = site.add_staff(&server, "alice", "editor").await?;
    let channel = site.channel("limites", false).await?;
    let mut socket = ChatClient::connect(&server, &alice).await?;

    let long = "x".repeat(200);
    match socket.try_send(&channel, "trop-long", &long).await? {
        Ok(ack) => bail!("a 200-byte message was accepted: {ack}"),
        Err(error) => {
            expect_error_code(&error, "too_large", "a 200-byte message over the socket")?;
            ensure!(
                error["client_id"] == "trop-long",
                "the error names no client id: {error}"
            );
        }
    }
    let (status, body) = alice
        .post(
            &messages_path(&channel),
            json!({ "client_id": "trop-long-rest", "body": long }),
        )
        .await?;
    ensure!(
        status == 413,
        "a 200-byte message over REST: {status} {body}"
    );
    expect_error_code(&body, "too_large", "a 200-byte message over REST")?;
    // Exactly at the limit is fine.
    socket.send(&channel, "juste", &"y".repeat(100)).await?;

    for index in 2..=5 {
        socket
            .send(&channel, &format!("cadence-{index}"), "court")
            .await
            .with_context(|| format!("message {index} of the minute"))?;
    }
    match socket.try_send(&channel, "cadence-6", "un de trop").await? {
        Ok(ack) => bail!("the 6th message of the minute was accepted: {ack}"),
        Err(error) => expect_error_code(&error, "rate_limited", "the 6th message of the minute")?,
    }
    let (status, body) = alice
        .post(
            &messages_path(&channel),
            json!({ "client_id": "cadence-7", "body": "par REST" }),
        )
        .await?;
    ensure!(status == 429, "the 7th message over REST: {status} {body}");
    expect_error_code(&body, "rate_limited", "the 7th message over REST")?;
    ensure!(socket.closed().is_none(), "refusals closed the socket");
    let stored = history(&alice, &channel).await?;
    ensure!(
        seqs(&stored) == vec![1, 2, 3, 4, 5],
        "stored: {:?}",
        seqs(&stored)
    );
    server.stop().await
}

#[tokio::test]
async fn chat_limits_on_sqlite() -> anyhow::Result<()> {
    limits(Backend::Sqlite).await
}

#[tokio::test]
async fn chat_limits_on_postgres() -> anyhow::Result<()> {
    limits(Backend::Postgres).await
}
