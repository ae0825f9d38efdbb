//! End-to-end tests of the document hub: the real `relais` binary, real clients.

use std::time::Duration;

use relais_tests::yclient::{covers, large_text};
use relais_tests::{BACKENDS, Backend, NodeClient, TestServer, YClient, eventually, server::uuid_like};
use tokio_tungstenite::tungstenite::Message as WsMessage;

const WAIT: Duration = Duration::from_secs(15);

fn room() -> String {
    format!("doc-{}", uuid_like())
}

#[tokio::test]
async fn two_clients_converge_and_late_joiner_gets_everything() -> anyhow::Result<()> {
    for backend in BACKENDS {
        let server = TestServer::start(backend).await?;
        let room = room();
        let alice = YClient::connect_synced(&server.ws_url(&room)).await?;
        let bob = YClient::connect_synced(&server.ws_url(&room)).await?;
        alice.append("Ordre du jour. ")?;
        bob.wait_text("Ordre du jour. ", WAIT).await?;
        bob.append("Point 1.")?;
        alice.insert(0, "» ")?;
        let expected_len = "» Ordre du jour. Point 1.".len();
        eventually(WAIT, "convergence", || {
            let done = alice.text() == bob.text() && alice.text().len() == expected_len;
            async move { done.then_some(()) }
        })
        .await?;
        let late = YClient::connect_synced(&server.ws_url(&room)).await?;
        assert_eq!(late.text(), alice.text(), "{backend:?}");
        // Documents are isolated from each other.
        let other = YClient::connect_synced(&server.ws_url(&format!("{room}-other"))).await?;
        assert_eq!(other.text(), "");
        server.stop().await?;
    }
    Ok(())
}

#[tokio::test]
async fn stock_y_websocket_clients_converge_and_see_awareness() -> anyhow::Result<()> {
    for backend in BACKENDS {
        let server = TestServer::start(backend).await?;
        let room = room();
        let mut anne = NodeClient::start(&server.ws_base(), &room, Some("Anne")).await?;
        let mut bruno = NodeClient::start(&server.ws_base(), &room, Some("Bruno")).await?;
        anne.wait_synced().await?;
        bruno.wait_synced().await?;
        anne.insert(0, "Compte rendu").await?;
        bruno.wait_text("Compte rendu", WAIT).await?;
        bruno.insert(12, " du 3 mars").await?;
        anne.wait_text("Compte rendu du 3 mars", WAIT).await?;

        // A Rust client in the same room sees the same text and both presences.
        let rust = YClient::connect_synced(&server.ws_url(&room)).await?;
        rust.wait_text("Compte rendu du 3 mars", WAIT).await?;
        eventually(WAIT, "both awareness states", || {
            let names: Vec<String> = rust.peers().into_iter().map(|(_, json)| json).collect();
            let both = names.iter().any(|s| s.contains("Anne")) && names.iter().any(|s| s.contains("Bruno"));
            async move { both.then_some(()) }
        })
        .await?;
        let peers = anne.peers().await?;
        assert!(peers.iter().any(|p| p["state"]["user"]["name"] == "Bruno"), "{peers:?}");

        // Bruno leaves: his awareness disappears for the others at once (not after 30 s).
        bruno.close().await?;
        eventually(Duration::from_secs(5), "Bruno's awareness to be removed", || {
            let gone = !rust.peers().iter().any(|(_, json)| json.contains("Bruno"));
            async move { gone.then_some(()) }
        })
        .await?;
        let mut anne_peers = anne.peers().await?;
        for _ in 0..100 {
            if !anne_peers.iter().any(|p| p["state"]["user"]["name"] == "Bruno") {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
            anne_peers = anne.peers().await?;
        }
        assert!(!anne_peers.iter().any(|p| p["state"]["user"]["name"] == "Bruno"), "{anne_peers:?}");
        anne.close().await?;
        server.stop().await?;
    }
    Ok(())
}

#[tokio::test]
async fn large_paste_of_five_mebibytes_reaches_the_others() -> anyhow::Result<()> {
    let server = TestServer::start(Backend::Sqlite).await?;
    let room = room();
    let mut writer = NodeClient::start(&server.ws_base(), &room, None).await?;
    let reader = YClient::connect_synced(&server.ws_url(&room)).await?;
    writer.wait_synced().await?;
    writer.call(serde_json::json!({"cmd": "insert_large", "index": 0, "bytes": 5 * 1024 * 1024})).await?;
    eventually(Duration::from_secs(60), "the 5 MiB paste", || {
        let len = reader.text().len();
        async move { (len == 5 * 1024 * 1024).then_some(()) }
    })
    .await?;
    assert!(reader.closed().is_none());
    writer.close().await?;
    server.stop().await?;
    Ok(())
}

#[tokio::test]
async fn never_reading_client_is_closed_with_1013_and_others_keep_editing() -> anyhow::Result<()> {
    let server = TestServer::start_with(
        Backend::Sqlite,
        &["--client-outbox-messages", "32", "--max-batch-updates", "4", "--write-timeout-ms", "60000"],
    )
    .await?;
    let room = room();
    let url = server.ws_url(&room);

    // The stalled client completes the handshake, then never reads: a raw socket we leave alone.
    // A small fixed receive buffer (no autotuning) so that a few MiB fill the path.
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.set_recv_buffer_size(32 * 1024)?;
    let stream = socket.connect(server.address().parse()?).await?;
    let (stalled, _) = tokio_tungstenite::client_async(url.as_str(), stream).await?;
    let writer = YClient::connect_synced(&url).await?;
    let reader = YClient::connect_synced(&url).await?;

    // About 10 MiB of edits: more than the server's send buffer (4 MiB at most here), the
    // stalled client's receive buffer and an outbox of 32 frames hold, so its outbox fills.
    let chunk = large_text(32 * 1024);
    let started = tokio::time::Instant::now();
    for _ in 0..320 {
        writer.append(&chunk)?;
    }
    eventually(Duration::from_secs(120), "the reader to receive every edit", || {
        let done = reader.text().len() == 320 * chunk.len();
        // A reader closed as too slow would never finish: fail at once with the reason.
        let closed = reader.closed();
        async move {
            assert_eq!(closed, None, "the reading client was closed");
            done.then_some(())
        }
    })
    .await
    .map_err(|e| e.context(format!("reader has {} bytes; server log:\n{}", reader.text().len(), server.log())))?;
    let elapsed = started.elapsed();
    assert!(reader.closed().is_none() && writer.closed().is_none());

    // Now read the stalled socket: after the data it was sent, a close frame with 1013.
    let (_, mut stalled_stream) = futures_util::StreamExt::split(stalled);
    let close = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(message) = futures_util::StreamExt::next(&mut stalled_stream).await {
            if let Ok(WsMessage::Close(frame)) = message {
                return frame.map(|f| (u16::from(f.code), f.reason.to_string()));
            }
        }
        None
    })
    .await?;
    assert_eq!(close, Some((1013, "too slow".to_owned())), "elapsed {elapsed:?}");
    server.stop().await?;
    Ok(())
}

#[tokio::test]
async fn malformed_frames_close_only_their_sender() -> anyhow::Result<()> {
    let server = TestServer::start_with(Backend::Sqlite, &["--max-message-bytes", "131072"]).await?;
    let room = room();
    let url = server.ws_url(&room);
    let good = YClient::connect_synced(&url).await?;
    let watcher = YClient::connect_synced(&url).await?;
    let cases: Vec<(&str, WsMessage, u16)> = vec![
        ("empty", WsMessage::Binary(Vec::new().into()), 1002),
        ("truncated varint", WsMessage::Binary(vec![0x80].into()), 1002),
        ("unknown type", WsMessage::Binary(vec![9, 0].into()), 1002),
        ("unknown sync type", WsMessage::Binary(vec![0, 9, 0].into()), 1002),
        ("length beyond the frame", WsMessage::Binary(vec![0, 2, 100, 1, 2].into()), 1002),
        ("invalid update", WsMessage::Binary(vec![0, 2, 3, 0xff, 0xff, 0xff].into()), 1007),
        ("invalid awareness", WsMessage::Binary(vec![1, 3, 1, 1, 1].into()), 1007),
        ("text frame", WsMessage::Text("bonjour".into()), 1003),
        ("oversize", WsMessage::Binary(vec![0; 200 * 1024].into()), 1009),
        ("oversize awareness", WsMessage::Binary(awareness_frame(&[(1, &"x".repeat(65 * 1024))]).into()), 1008),
        (
            "too many awareness states",
            WsMessage::Binary(awareness_frame(&(1..=40).map(|id| (id, "{}")).collect::<Vec<_>>()).into()),
            1008,
        ),
    ];
    let mut expected = String::new();
    for (name, frame, code) in cases {
        let bad = YClient::connect_synced(&url).await.map_err(|e| e.context(name))?;
        bad.send_message(frame)?;
        let closed = bad.wait_closed(WAIT).await?;
        assert_eq!(closed.code, Some(code), "{name}: {closed:?}");
        assert!(!closed.reason.is_empty(), "{name}: a close reason is given");
        // Everyone else is unaffected and the document keeps working.
        expected.push_str(name);
        good.append(name)?;
        watcher.wait_text(&expected, WAIT).await?;
        assert!(good.closed().is_none() && watcher.closed().is_none(), "{name}");
    }
    let log = server.log();
    assert!(!log.contains("panicked"), "{log}");
    let (status, metrics) = server.get("/metrics").await?;
    assert_eq!(status, 200);
    for code in [1002, 1003, 1007, 1008, 1009] {
        assert!(metrics.contains(&format!("relais_closes_total{{code=\"{code}\"}}")), "{metrics}");
    }
    assert!(metrics.contains("relais_updates_committed_total"), "{metrics}");
    server.stop().await?;
    Ok(())
}

/// An awareness frame announcing `(client id, json state)` entries, all at clock 1.
fn awareness_frame(entries: &[(u64, &str)]) -> Vec<u8> {
    fn varint(out: &mut Vec<u8>, mut value: u64) {
        while value >= 0x80 {
            out.push((value as u8 & 0x7f) | 0x80);
            value >>= 7;
        }
        out.push(value as u8);
    }
    let mut update = Vec::new();
    varint(&mut update, entries.len() as u64);
    for (id, json) in entries {
        varint(&mut update, *id);
        varint(&mut update, 1);
        let state = if json.starts_with('{') { json.to_string() } else { format!("{{\"pad\":\"{json}\"}}") };
        varint(&mut update, state.len() as u64);
        update.extend_from_slice(state.as_bytes());
    }
    let mut frame = vec![1];
    varint(&mut frame, update.len() as u64);
    frame.extend(update);
    frame
}

#[tokio::test]
async fn invalid_document_names_get_400_before_the_upgrade() -> anyhow::Result<()> {
    let server = TestServer::start(Backend::Sqlite).await?;
    let too_long = "a".repeat(201);
    for name in ["..", ".hidden", "a//b", "a/../b", "nul%00", "%20padded", too_long.as_str()] {
        let result = tokio_tungstenite::connect_async(server.ws_url(name)).await;
        match result {
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                assert_eq!(response.status().as_u16(), 400, "{name}");
            }
            other => panic!("{name}: expected HTTP 400, got {other:?}"),
        }
    }
    // Names with accents, spaces and '/' are fine, and stay distinct documents.
    let accented = YClient::connect_synced(&server.ws_url("compte-rendu-r%C3%A9union")).await?;
    accented.append("é")?;
    let nested = YClient::connect_synced(&server.ws_url("PLUi%202027/notes")).await?;
    assert_eq!(nested.text(), "");
    let again = YClient::connect_synced(&server.ws_url("compte-rendu-r%C3%A9union")).await?;
    again.wait_text("é", WAIT).await?;
    let (status, body) = server.get("/healthz").await?;
    assert_eq!((status, body.as_str()), (200, "ok"));
    let (status, _) = server.get("/readyz").await?;
    assert_eq!(status, 200);
    server.stop().await?;
    Ok(())
}

#[tokio::test]
async fn idle_stock_client_stays_connected_past_40_seconds() -> anyhow::Result<()> {
    let server = TestServer::start(Backend::Sqlite).await?;
    let room = room();
    let mut idle = NodeClient::start(&server.ws_base(), &room, Some("Idle")).await?;
    idle.wait_synced().await?;
    tokio::time::sleep(Duration::from_secs(42)).await;
    let status = idle.status().await?;
    assert_eq!(status["connects"], 1, "{status}");
    assert_eq!(status["disconnects"], 0, "{status}");
    assert_eq!(status["connected"], true, "{status}");
    idle.close().await?;
    server.stop().await?;
    Ok(())
}

#[tokio::test]
async fn sigkill_loses_nothing_a_client_had_received() -> anyhow::Result<()> {
    for backend in BACKENDS {
        let mut server = TestServer::start(backend).await?;
        let room = room();
        let url = server.ws_url(&room);
        let alice = YClient::connect_synced(&url).await?;
        let bob = YClient::connect_synced(&url).await?;
        // Both type; kill the server while edits are in flight.
        for i in 0..300 {
            // After the kill, sends fail and the edits stay local, as in a browser offline.
            let _ = alice.append(&format!("a{i} "));
            let _ = bob.append(&format!("b{i} "));
            if i == 200 {
                server.kill().await?;
            }
            tokio::task::yield_now().await;
        }
        let received_by_bob = bob.state_vector();
        let received_by_alice = alice.state_vector();
        server.restart().await?;
        let fresh = YClient::connect_synced(&url).await?;
        let stored = fresh.state_vector();
        // Everything Bob had received from Alice (and vice versa) was relayed, so it is stored.
        let alice_id = yrs::ClientID::new(alice.client_id());
        let bob_id = yrs::ClientID::new(bob.client_id());
        assert!(
            stored.get(&alice_id) >= received_by_bob.get(&alice_id),
            "{backend:?}: Bob had {} of Alice's edits, the store has {}",
            received_by_bob.get(&alice_id),
            stored.get(&alice_id)
        );
        assert!(stored.get(&bob_id) >= received_by_alice.get(&bob_id), "{backend:?}");
        server.stop().await?;
    }
    Ok(())
}

#[tokio::test]
async fn sigterm_flushes_closes_with_1001_and_restart_keeps_everything() -> anyhow::Result<()> {
    for backend in BACKENDS {
        let mut server = TestServer::start(backend).await?;
        let room = room();
        let url = server.ws_url(&room);
        let alice = YClient::connect_synced(&url).await?;
        let bob = YClient::connect_synced(&url).await?;
        for i in 0..50 {
            alice.append(&format!("{i},"))?;
        }
        bob.wait_text(&alice.text(), WAIT).await?;
        let started = std::time::Instant::now();
        let status = server.terminate(Duration::from_secs(10)).await?;
        assert!(status.success(), "{backend:?}: exit {status:?}");
        assert!(started.elapsed() < Duration::from_secs(10));
        let closed = alice.wait_closed(WAIT).await?;
        assert_eq!(closed.code, Some(1001), "{closed:?}");
        server.restart().await?;
        let fresh = YClient::connect_synced(&url).await?;
        assert_eq!(fresh.text(), alice.text(), "{backend:?}");
        assert!(covers(&fresh.state_vector(), &alice.state_vector()));
        server.stop().await?;
    }
    Ok(())
}

#[tokio::test]
async fn snapshots_compact_the_log_and_reload_identically() -> anyhow::Result<()> {
    for backend in BACKENDS {
        let mut server = TestServer::start_with(backend, &["--snapshot-every-updates", "20", "--room-grace-ms", "100"]).await?;
        let room = room();
        let url = server.ws_url(&room);
        let writer = YClient::connect_synced(&url).await?;
        for i in 0..75 {
            writer.append(&format!("ligne {i}\n"))?;
        }
        let observer = YClient::connect_synced(&url).await?;
        observer.wait_text(&writer.text(), WAIT).await?;
        let snapshot_dir = server.data_dir().join("objects/documents").join(&room).join("snapshots");
        eventually(WAIT, "a snapshot blob", || {
            let count = std::fs::read_dir(&snapshot_dir).map(|dir| dir.count()).unwrap_or(0);
            async move { (count >= 1).then_some(()) }
        })
        .await
        .map_err(|e| e.context(format!("{backend:?}")))?;
        writer.close();
        observer.close();
        // A hard kill: the reload must come from snapshot + log, not from a final flush.
        server.restart().await?;
        let fresh = YClient::connect_synced(&url).await?;
        assert_eq!(fresh.text(), writer.text(), "{backend:?}");
        server.stop().await?;
    }
    Ok(())
}

#[tokio::test]
async fn a_crashed_room_closes_its_clients_with_1011_and_reloads_while_others_go_on() -> anyhow::Result<()> {
    let env = vec![("RELAIS_FAULT_INJECTION".to_owned(), "1".to_owned())];
    let server = TestServer::start_with_env(Backend::Sqlite, &[], env).await?;
    let doomed = room();
    let healthy = room();
    let writer = YClient::connect_synced(&server.ws_url(&doomed)).await?;
    let watcher = YClient::connect_synced(&server.ws_url(&doomed)).await?;
    let bystander = YClient::connect_synced(&server.ws_url(&healthy)).await?;
    let bystander_peer = YClient::connect_synced(&server.ws_url(&healthy)).await?;
    writer.append("avant la panne")?;
    watcher.wait_text("avant la panne", WAIT).await?;

    writer.append("__relais_fault_injection_panic__")?;
    assert_eq!(writer.wait_closed(WAIT).await?.code, Some(1011));
    assert_eq!(watcher.wait_closed(WAIT).await?.code, Some(1011));

    // Another document is unaffected.
    bystander.append("toujours là")?;
    bystander_peer.wait_text("toujours là", WAIT).await?;
    assert!(bystander.closed().is_none() && bystander_peer.closed().is_none());

    // The crashed document reloads from storage, without the update that crashed it.
    let back = YClient::connect_synced(&server.ws_url(&doomed)).await?;
    assert_eq!(back.text(), "avant la panne");
    back.append(" et après")?;
    let other = YClient::connect_synced(&server.ws_url(&doomed)).await?;
    other.wait_text("avant la panne et après", WAIT).await?;
    server.stop().await?;
    Ok(())
}

#[tokio::test]
async fn reconnect_storm_against_rooms_that_keep_closing_loses_nothing() -> anyhow::Result<()> {
    // A grace of 1 ms makes the room exit between almost every wave of clients, so joins race
    // with room exits all the time.
    let server = TestServer::start_with(Backend::Sqlite, &["--room-grace-ms", "1"]).await?;
    let room = room();
    let url = server.ws_url(&room);
    let mut expected = 0;
    for wave in 0..15 {
        let mut clients = Vec::new();
        for index in 0..8 {
            let client = YClient::connect_synced(&url).await?;
            client.append(&format!("{wave}.{index};"))?;
            clients.push(client);
            expected += 1;
        }
        let check = YClient::connect_synced(&url).await?;
        eventually(WAIT, "every edit of the wave", || {
            let count = check.text().matches(';').count();
            async move { (count == expected).then_some(()) }
        })
        .await?;
        for client in &clients {
            assert!(client.closed().is_none(), "wave {wave}: {:?}", client.closed());
            client.close();
        }
        check.close();
    }
    server.stop().await?;
    Ok(())
}
