//! Snapshots on an S3-compatible store (moto), including the store hanging mid-run.

use std::time::Duration;

use relais_tests::moto::Moto;
use relais_tests::server::uuid_like;
use relais_tests::{Backend, TestServer, YClient, eventually};

const BUCKET: &str = "relais-test";

#[tokio::test]
async fn snapshots_go_to_s3_and_a_hung_store_loses_nothing() -> anyhow::Result<()> {
    let moto = Moto::start(BUCKET).await?;
    let object_store = format!("s3://{BUCKET}/objects");
    let args = ["--object-store", object_store.as_str(), "--snapshot-every-updates", "10"];
    let mut server = TestServer::start_with_env(Backend::Postgres, &args, moto.env()).await?;
    let room = format!("s3-{}", uuid_like());
    let url = server.ws_url(&room);
    let alice = YClient::connect_synced(&url).await?;
    let bob = YClient::connect_synced(&url).await?;
    for i in 0..25 {
        alice.append(&format!("avant {i}\n"))?;
    }
    bob.wait_text(&alice.text(), Duration::from_secs(15)).await?;
    let snapshots = |keys: Vec<String>| keys.iter().filter(|k| k.contains(&room) && k.ends_with(".ydoc")).count();
    let before = eventually(Duration::from_secs(15), "snapshots on S3", || async {
        let count = snapshots(moto.keys(BUCKET).await.ok()?);
        (count >= 1).then_some(count)
    })
    .await
    .map_err(|e| e.context(format!("log:\n{}", server.log())))?;
    assert_eq!(server.get("/readyz").await?.0, 200);

    // The object store hangs: editing goes on (commits do not wait for snapshots), and
    // readiness reports the store.
    moto.pause().await?;
    for i in 0..25 {
        bob.append(&format!("pendant {i}\n"))?;
    }
    alice.wait_text(&bob.text(), Duration::from_secs(15)).await?;
    let (status, body) = server.get("/readyz").await?;
    assert_eq!(status, 503, "{body}");

    // Back: the delayed snapshots are written, and everything survives a restart.
    moto.resume().await?;
    for i in 0..15 {
        alice.append(&format!("après {i}\n"))?;
    }
    bob.wait_text(&alice.text(), Duration::from_secs(15)).await?;
    eventually(Duration::from_secs(60), "new snapshots after the store came back", || async {
        let count = snapshots(moto.keys(BUCKET).await.ok()?);
        (count > before).then_some(())
    })
    .await?;
    eventually(Duration::from_secs(15), "readiness back", || async {
        (server.get("/readyz").await.ok()?.0 == 200).then_some(())
    })
    .await?;
    server.restart().await?;
    let fresh = YClient::connect_synced(&url).await?;
    assert_eq!(fresh.text(), alice.text());
    server.stop().await?;
    Ok(())
}
