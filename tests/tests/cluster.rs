//! Several `relais` nodes on one Postgres schema and one NATS bus.

use std::time::Duration;

use relais_tests::api::{Api, Socket};
use relais_tests::chat::ChatClient;
use relais_tests::server::uuid_like;
use relais_tests::yclient::covers;
use relais_tests::{NodeClient, TestCluster, TestServer, YClient, eventually};
use serde_json::json;

const WAIT: Duration = Duration::from_secs(15);

/// Every account's password in the cluster tests.
const PASSWORD: &str = "mot de passe solide";

/// Anne, administrator of the organisation "Commune" made with `relais user create` on `node`
/// and signed in there, and the workspace "PLUi" she made in it.
struct Commune {
    anne: Api,
    organisation: String,
    workspace: String,
}

impl Commune {
    async fn create(node: &TestServer) -> anyhow::Result<Self> {
        node.command(
            &[
                "user",
                "create",
                "--email",
                "anne@commune.fr",
                "--name",
                "Anne",
                "--admin",
                "--organisation",
                "Commune",
                "--password-stdin",
            ],
            Some(&format!("{PASSWORD}\n")),
        )
        .await?;
        let anne = Api::sign_in(node, "anne@commune.fr", PASSWORD).await?;
        let (_, organisations) = anne.get("/api/organisations").await?;
        let organisation = organisations[0]["id"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let (status, workspace) = anne
            .post(
                "/api/workspaces",
                json!({ "organisation_id": organisation, "name": "PLUi" }),
            )
            .await?;
        anyhow::ensure!(status == 201, "workspace: {status} {workspace}");
        let workspace = workspace["id"].as_str().unwrap_or_default().to_owned();
        Ok(Self {
            anne,
            organisation,
            workspace,
        })
    }

    /// A staff account of the organisation with `role` in the workspace.
    async fn add_member(&self, email: &str, name: &str, role: &str) -> anyhow::Result<()> {
        let (status, user) = self
            .anne
            .post("/api/users", json!({ "email": email, "display_name": name, "password": PASSWORD, "organisation_id": self.organisation }))
            .await?;
        anyhow::ensure!(status == 201, "user: {status} {user}");
        let id = user["id"].as_str().unwrap_or_default().to_owned();
        let (status, _) = self
            .anne
            .put(
                &format!("/api/workspaces/{}/members/{id}", self.workspace),
                json!({ "role": role }),
            )
            .await?;
        anyhow::ensure!(status == 204, "member: {status}");
        Ok(())
    }
}

#[tokio::test]
async fn clients_spread_over_three_nodes_converge_and_see_each_other() -> anyhow::Result<()> {
    let cluster = TestCluster::start(3, &[]).await?;
    let room = format!("cluster-{}", uuid_like());
    let urls: Vec<String> = cluster
        .nodes
        .iter()
        .map(|node| node.ws_url(&room))
        .collect();
    let anne = YClient::connect_synced(&urls[0]).await?;
    let bruno = YClient::connect_synced(&urls[1]).await?;
    let chloe = YClient::connect_synced(&urls[2]).await?;
    let mut stock = NodeClient::start(&cluster.nodes[1].ws_base(), &room, Some("Denis")).await?;
    stock.wait_synced().await?;

    anne.set_awareness(r#"{"user":{"name":"Anne"}}"#)?;
    for i in 0..40 {
        anne.append(&format!("a{i} "))?;
        bruno.append(&format!("b{i} "))?;
        chloe.append(&format!("c{i} "))?;
    }
    stock.insert(0, "Denis: ").await?;
    eventually(WAIT, "all replicas to converge", || {
        let texts = [anne.text(), bruno.text(), chloe.text()];
        let done = texts
            .iter()
            .all(|t| t == &texts[0] && t.contains("c39") && t.contains("Denis: "));
        async move { done.then_some(()) }
    })
    .await?;
    stock.wait_text(&anne.text(), WAIT).await?;

    // Presence crosses nodes both ways.
    eventually(
        WAIT,
        "Anne's presence on node 3 and Denis's on node 1",
        || {
            let chloe_sees_anne = chloe.peers().iter().any(|(_, json)| json.contains("Anne"));
            let anne_sees_denis = anne.peers().iter().any(|(_, json)| json.contains("Denis"));
            async move { (chloe_sees_anne && anne_sees_denis).then_some(()) }
        },
    )
    .await?;
    stock.close().await?;
    eventually(WAIT, "Denis's presence to disappear on node 1", || {
        let gone = !anne.peers().iter().any(|(_, json)| json.contains("Denis"));
        async move { gone.then_some(()) }
    })
    .await?;
    cluster.stop().await
}

#[tokio::test]
async fn killing_a_node_loses_nothing_that_was_relayed() -> anyhow::Result<()> {
    let mut cluster = TestCluster::start(3, &[]).await?;
    let room = format!("cluster-kill-{}", uuid_like());
    let urls: Vec<String> = cluster
        .nodes
        .iter()
        .map(|node| node.ws_url(&room))
        .collect();
    let anne = YClient::connect_synced(&urls[0]).await?;
    let bruno = YClient::connect_synced(&urls[1]).await?;
    let chloe = YClient::connect_synced(&urls[2]).await?;
    for i in 0..200 {
        let _ = anne.append(&format!("a{i} "));
        let _ = bruno.append(&format!("b{i} "));
        let _ = chloe.append(&format!("c{i} "));
        if i == 120 {
            cluster.nodes[0].kill().await?;
        }
        tokio::task::yield_now().await;
    }
    // What each survivor had received before anyone moved.
    let bruno_received = bruno.state_vector();
    let chloe_received = chloe.state_vector();
    // Anne's provider reconnects to a surviving node with its replica.
    let anne = anne.reconnect(&urls[1]).await?;
    eventually(WAIT, "convergence after the node loss", || {
        let done = anne.text() == bruno.text() && bruno.text() == chloe.text();
        async move { done.then_some(()) }
    })
    .await?;
    let fresh = YClient::connect_synced(&urls[2]).await?;
    assert!(
        covers(&fresh.state_vector(), &bruno_received),
        "node 3 lacks something Bruno had received"
    );
    assert!(
        covers(&fresh.state_vector(), &chloe_received),
        "node 3 lacks something Chloé had received"
    );
    fresh.wait_text(&anne.text(), WAIT).await?;
    cluster.stop().await
}

/// Chat across three nodes: two people on different nodes post at the same time, a third
/// node only reads; each sees every message once, in the seq order the database assigned,
/// with no gap, and a reconnection to another node catches up from the last seq seen.
#[tokio::test]
async fn chat_messages_cross_nodes_in_one_order() -> anyhow::Result<()> {
    let cluster = TestCluster::start(
        3,
        &[
            "--auth-rate-per-minute",
            "10000",
            "--chat-messages-per-minute",
            "1000",
        ],
    )
    .await?;
    let (node_a, node_b, node_c) = (&cluster.nodes[0], &cluster.nodes[1], &cluster.nodes[2]);
    let commune = Commune::create(node_a).await?;
    commune
        .add_member("bruno@commune.fr", "Bruno", "editor")
        .await?;
    let anne = commune.anne;
    let workspace = commune.workspace;
    let (status, channel) = anne
        .post(
            &format!("/api/workspaces/{workspace}/channels"),
            json!({ "name": "général" }),
        )
        .await?;
    anyhow::ensure!(status == 201, "channel: {status} {channel}");
    let channel = channel["id"].as_str().unwrap_or_default().to_owned();

    // Bruno signs in on the other node: sessions live in the shared database.
    let bruno = Api::sign_in(node_b, "bruno@commune.fr", PASSWORD).await?;
    let mut on_a = ChatClient::connect(node_a, &anne).await?;
    let mut on_b = ChatClient::connect(node_b, &bruno).await?;
    // Anne also follows the channel from a second device, through the third node.
    let mut on_c = ChatClient::connect(node_c, &anne).await?;
    on_a.subscribe(&channel, 0).await?;
    on_b.subscribe(&channel, 0).await?;
    on_c.subscribe(&channel, 0).await?;

    for i in 0..20 {
        on_a.send_json(&json!({ "type": "send", "conversation_id": channel, "client_id": format!("a{i}"), "body": format!("Anne {i}") }))?;
        on_b.send_json(&json!({ "type": "send", "conversation_id": channel, "client_id": format!("b{i}"), "body": format!("Bruno {i}") }))?;
    }
    let mut seen_a = Vec::new();
    let mut seen_b = Vec::new();
    let mut seen_c = Vec::new();
    eventually(WAIT, "40 messages on the three nodes", || {
        seen_a.extend(on_a.take_messages(&channel));
        seen_b.extend(on_b.take_messages(&channel));
        seen_c.extend(on_c.take_messages(&channel));
        let done = seen_a.len() >= 40 && seen_b.len() >= 40 && seen_c.len() >= 40;
        async move { done.then_some(()) }
    })
    .await?;
    let seqs = |messages: &[serde_json::Value]| {
        messages
            .iter()
            .map(|m| m["seq"].as_i64().unwrap_or(-1))
            .collect::<Vec<_>>()
    };
    let expected: Vec<i64> = (1..=40).collect();
    assert_eq!(seqs(&seen_a), expected, "node A: every seq once, in order");
    assert_eq!(seqs(&seen_b), expected, "node B: every seq once, in order");
    assert_eq!(seqs(&seen_c), expected, "node C: every seq once, in order");
    let bodies = |messages: &[serde_json::Value]| {
        messages
            .iter()
            .map(|m| m["body"].to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        bodies(&seen_a),
        bodies(&seen_b),
        "nodes A and B show the same conversation"
    );
    assert_eq!(
        bodies(&seen_a),
        bodies(&seen_c),
        "nodes A and C show the same conversation"
    );

    // Bruno loses his connection to node B, moves to node C and catches up from where he was.
    on_b.cut();
    for i in 20..25 {
        on_a.send(&channel, &format!("a{i}"), &format!("Anne {i}"))
            .await?;
    }
    let mut moved = ChatClient::connect(node_c, &bruno).await?;
    let caught_up = moved.subscribe(&channel, 40).await?;
    assert_eq!(seqs(&caught_up.messages), (41..=45).collect::<Vec<_>>());
    cluster.stop().await
}

/// Submitting on one node freezes the document on every node: an editor typing through
/// another node the whole time gets nothing stored or relayed after the freeze, and edits
/// again once a validator decided.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_submission_freezes_the_document_on_every_node() -> anyhow::Result<()> {
    let cluster = TestCluster::start(2, &[]).await?;
    let (node_a, node_b) = (&cluster.nodes[0], &cluster.nodes[1]);
    let commune = Commune::create(node_a).await?;
    let (status, document) = commune
        .anne
        .post(
            &format!("/api/workspaces/{}/documents", commune.workspace),
            json!({ "title": "Note" }),
        )
        .await?;
    anyhow::ensure!(status == 201, "document: {status} {document}");
    let document = document["id"].as_str().unwrap_or_default().to_owned();
    commune
        .add_member("bruno@commune.fr", "Bruno", "editor")
        .await?;
    commune
        .add_member("chloe@commune.fr", "Chloé", "validator")
        .await?;
    let anne = commune.anne;
    let bruno = Api::sign_in(node_b, "bruno@commune.fr", PASSWORD).await?;
    let chloe = Api::sign_in(node_a, "chloe@commune.fr", PASSWORD).await?;

    // Bruno types through node B, one edit every 5 ms, while Anne submits through node A.
    let typing = Socket::open_with_session(node_b, &document, &bruno).await?;
    anyhow::ensure!(
        typing.wait_synced_or_closed(WAIT).await?.is_none(),
        "Bruno could not open the document"
    );
    let writer = tokio::spawn(async move {
        for i in 0..400 {
            if typing.closed().is_some() || typing.append(&format!("[{i}]")).is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        typing
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (status, review) = anne
        .post(
            &format!("/api/documents/{document}/review/submit"),
            json!({}),
        )
        .await?;
    anyhow::ensure!(
        status == 200 && review["state"] == "submitted",
        "submit: {status} {review}"
    );
    let typing = writer.await?;

    // What is stored and shown everywhere is exactly the submitted version.
    let (_, versions) = anne
        .get(&format!("/api/documents/{document}/versions"))
        .await?;
    let submitted = &versions["versions"][0];
    anyhow::ensure!(submitted["kind"] == "submitted", "{versions}");
    let number = submitted["number"].as_u64().unwrap_or_default();
    let (_, version) = anne
        .get(&format!("/api/documents/{document}/versions/{number}"))
        .await?;
    for node in [node_a, node_b] {
        let api = Api::sign_in(node, "anne@commune.fr", PASSWORD).await?;
        let (_, live) = api
            .get(&format!("/api/documents/{document}/content"))
            .await?;
        anyhow::ensure!(
            live["upto_seq"] == submitted["upto_seq"],
            "an edit was stored after the freeze: {live} vs {submitted}"
        );
        anyhow::ensure!(
            live["content"] == version["content"],
            "the live document differs from the submitted version"
        );
    }
    let submitted_text = typing_text(&version["content"]);
    let reader = Socket::open_with_session(node_a, &document, &chloe).await?;
    anyhow::ensure!(
        reader.wait_synced_or_closed(WAIT).await?.is_none(),
        "Chloé could not open the document"
    );
    reader.fence(WAIT).await?;
    anyhow::ensure!(
        reader.text() == submitted_text,
        "a client got more than the submitted text"
    );
    let typed = typing.text();
    anyhow::ensure!(
        typed.len() > submitted_text.len(),
        "Bruno kept typing after the freeze: {typed}"
    );
    println!(
        "after the freeze Bruno's socket got {} refusals, closed: {:?}; {} characters kept, {} typed",
        typing.denied().len(),
        typing.closed(),
        submitted_text.len(),
        typed.len()
    );

    // After the decision, editing goes on through node B.
    let (status, _) = chloe
        .post(
            &format!("/api/documents/{document}/review/approve"),
            json!({ "comment": "Bon pour accord" }),
        )
        .await?;
    anyhow::ensure!(status == 200, "approve: {status}");
    let again = Socket::open_with_session(node_b, &document, &bruno).await?;
    anyhow::ensure!(
        again.wait_synced_or_closed(WAIT).await?.is_none(),
        "Bruno could not reopen the document"
    );
    eventually(WAIT, "an edit after approval to reach node A", || async {
        again.append(" suite").ok()?;
        again.fence(WAIT).await.ok()?;
        reader.fence(WAIT).await.ok()?;
        reader.text().contains(" suite").then_some(())
    })
    .await?;
    cluster.stop().await
}

/// The legacy text of a content tree (the test clients write the `text` root).
fn typing_text(content: &serde_json::Value) -> String {
    content["blocks"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|block| {
            block["content"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|inline| inline["text"].as_str())
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("\n")
}
