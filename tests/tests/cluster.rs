//! Several `relais` nodes on one Postgres schema and one NATS bus.

use std::time::Duration;

use relais_tests::server::uuid_like;
use relais_tests::yclient::covers;
use relais_tests::{NodeClient, TestCluster, YClient, eventually};

const WAIT: Duration = Duration::from_secs(15);

#[tokio::test]
async fn clients_spread_over_three_nodes_converge_and_see_each_other() -> anyhow::Result<()> {
    let cluster = TestCluster::start(3, &[]).await?;
    let room = format!("cluster-{}", uuid_like());
    let urls: Vec<String> = cluster.nodes.iter().map(|node| node.ws_url(&room)).collect();
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
        let done = texts.iter().all(|t| t == &texts[0] && t.contains("c39") && t.contains("Denis: "));
        async move { done.then_some(()) }
    })
    .await?;
    stock.wait_text(&anne.text(), WAIT).await?;

    // Presence crosses nodes both ways.
    eventually(WAIT, "Anne's presence on node 3 and Denis's on node 1", || {
        let chloe_sees_anne = chloe.peers().iter().any(|(_, json)| json.contains("Anne"));
        let anne_sees_denis = anne.peers().iter().any(|(_, json)| json.contains("Denis"));
        async move { (chloe_sees_anne && anne_sees_denis).then_some(()) }
    })
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
    let urls: Vec<String> = cluster.nodes.iter().map(|node| node.ws_url(&room)).collect();
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
    assert!(covers(&fresh.state_vector(), &bruno_received), "node 3 lacks something Bruno had received");
    assert!(covers(&fresh.state_vector(), &chloe_received), "node 3 lacks something Chloé had received");
    fresh.wait_text(&anne.text(), WAIT).await?;
    cluster.stop().await
}
