//! Fixtures shared by the end-to-end tests that need accounts: the first administrator, names
//! and passwords, small checks of API answers, and a [`Site`] to start from.

use anyhow::{Context, ensure};
use serde_json::{Value, json};

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
    let user = expect_status(
        admin.post("/api/users", body).await?,
        201,
        &format!("creating {label}"),
    )?;
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

/// An organisation with a workspace W holding a document D, made by its owner: the cast most
/// end-to-end tests start from.
pub struct Site {
    pub admin: Api,
    pub organisation_id: String,
    pub owner: Api,
    pub workspace_id: String,
    pub document_id: String,
}

impl Site {
    /// The first administrator, the organisation [`ORGANISATION`], its staff member "owner",
    /// who makes W ("Urbanisme") and in it D, titled `title`.
    pub async fn build(server: &TestServer, title: &str) -> anyhow::Result<Self> {
        let admin = create_admin(server).await?;
        let organisation = expect_status(
            admin
                .post("/api/organisations", json!({ "name": ORGANISATION }))
                .await?,
            201,
            "creating the organisation",
        )?;
        let organisation_id = text_field(&organisation, "id")?;
        let owner = create_staff(server, &admin, &organisation_id, "owner").await?;
        let workspace_id = Self::workspace(&owner, &organisation_id, "Urbanisme").await?;
        let document_id = Self::document(&owner, &workspace_id, title).await?;
        Ok(Self {
            admin,
            organisation_id,
            owner,
            workspace_id,
            document_id,
        })
    }

    /// A workspace of the organisation, made by `owner`; returns its id.
    pub async fn workspace(
        owner: &Api,
        organisation_id: &str,
        name: &str,
    ) -> anyhow::Result<String> {
        let workspace = expect_status(
            owner
                .post(
                    "/api/workspaces",
                    json!({ "organisation_id": organisation_id, "name": name }),
                )
                .await?,
            201,
            &format!("creating the workspace {name}"),
        )?;
        text_field(&workspace, "id")
    }

    /// A document in a workspace, made by `owner`; returns its id.
    pub async fn document(owner: &Api, workspace_id: &str, title: &str) -> anyhow::Result<String> {
        let document = expect_status(
            owner
                .post(
                    &format!("/api/workspaces/{workspace_id}/documents"),
                    json!({ "title": title }),
                )
                .await?,
            201,
            "creating the document",
        )?;
        text_field(&document, "id")
    }

    /// The path of a member of W.
    pub fn members_path(&self, user_id: &str) -> String {
        format!("/api/workspaces/{}/members/{user_id}", self.workspace_id)
    }

    /// `rest` under D's API path.
    pub fn path(&self, rest: &str) -> String {
        format!("/api/documents/{}{rest}", self.document_id)
    }

    /// A staff member of the organisation with `role` in W, signed in.
    pub async fn add_staff(
        &self,
        server: &TestServer,
        label: &str,
        role: &str,
    ) -> anyhow::Result<Api> {
        let api = create_staff(server, &self.admin, &self.organisation_id, label).await?;
        expect_status(
            self.owner
                .put(&self.members_path(api.user_id()), json!({ "role": role }))
                .await?,
            204,
            &format!("making {label} {role}"),
        )?;
        Ok(api)
    }

    /// A channel of W made by its owner; returns its id.
    pub async fn channel(&self, name: &str, private: bool) -> anyhow::Result<String> {
        let channel = expect_status(
            self.owner
                .post(
                    &format!("/api/workspaces/{}/channels", self.workspace_id),
                    json!({ "name": name, "private": private }),
                )
                .await?,
            201,
            &format!("creating the channel {name}"),
        )?;
        ensure!(
            channel["kind"] == "channel" && channel["private"] == private,
            "the channel {name}: {channel}"
        );
        text_field(&channel, "id")
    }

    /// An external account made by the administrator (`kind: external`), signed in, with no
    /// access to anything yet.
    pub async fn external(
        &self,
        server: &TestServer,
        label: &str,
        display_name: &str,
    ) -> anyhow::Result<Api> {
        let body = json!({ "email": email(label), "display_name": display_name, "password": password(label), "kind": "external" });
        expect_status(
            self.admin.post("/api/users", body).await?,
            201,
            &format!("creating {label}"),
        )?;
        Api::sign_in(server, &email(label), &password(label)).await
    }
}
