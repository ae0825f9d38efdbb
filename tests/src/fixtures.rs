//! Fixtures shared by the end-to-end tests that need accounts: the first administrator, names
//! and passwords, and small checks of API answers.

use anyhow::{Context, ensure};
use serde_json::Value;

use crate::TestServer;
use crate::api::Api;

pub const ORGANISATION: &str = "Commune de Test";

pub fn now_ms() -> i64 {
    let elapsed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970");
    i64::try_from(elapsed.as_millis()).expect("milliseconds fit in i64")
}

pub fn password(label: &str) -> String {
    format!("mot-de-passe-de-{label}")
}

pub fn email(label: &str) -> String {
    format!("{label}@commune-de-test.fr")
}

/// Fails with the body unless the status is `want`; returns the body.
pub fn expect_status(answer: (u16, Value), want: u16, what: &str) -> anyhow::Result<Value> {
    let (status, body) = answer;
    ensure!(
        status == want,
        "{what}: expected HTTP {want}, got {status}: {body}"
    );
    Ok(body)
}

pub fn text_field(body: &Value, field: &str) -> anyhow::Result<String> {
    body[field]
        .as_str()
        .map(ToOwned::to_owned)
        .with_context(|| format!("no {field:?} in {body}"))
}

/// The first administrator, made with `relais user create` as an operator would.
pub async fn create_admin(server: &TestServer) -> anyhow::Result<Api> {
    let password = password("admin");
    server
        .command(
            &[
                "user",
                "create",
                "--email",
                &email("admin"),
                "--name",
                "Administratrice",
                "--admin",
                "--password-stdin",
            ],
            Some(&format!("{password}\n")),
        )
        .await?;
    Api::sign_in(server, &email("admin"), &password).await
}

/// A staff account made by the administrator, put in the organisation, signed in.
pub async fn create_staff(
    server: &TestServer,
    admin: &Api,
    organisation_id: &str,
    label: &str,
) -> anyhow::Result<Api> {
    let body = serde_json::json!({ "email": email(label), "display_name": label, "password": password(label) });
    let user = expect_status(admin.post("/api/users", body).await?, 201, &format!("creating {label}"))?;
    let user_id = text_field(&user, "id")?;
    expect_status(
        admin
            .put(
                &format!("/api/organisations/{organisation_id}/members/{user_id}"),
                serde_json::json!({}),
            )
            .await?,
        204,
        &format!("putting {label} in the organisation"),
    )?;
    Api::sign_in(server, &email(label), &password(label)).await
}
