//! End-to-end OpenID Connect sign-in: the real binary against a real provider (npm
//! `oidc-provider`), driven like a browser: Relais redirects to the provider, the test posts
//! the provider's login and consent forms, the provider redirects back, Relais opens a session.
//! Then the ways a callback must be refused: a tampered `state`, a pending cookie that does
//! not verify, another sign-in's cookie, an ID token issued for another nonce.

use anyhow::Context;
use relais_tests::oidc::{Browser, OidcProvider, Page, ProviderOptions, free_port};
use relais_tests::{Backend, TestServer};
use serde_json::Value;
use sqlx::Connection;
use url::Url;

const CLIENT_ID: &str = "relais";
const CLIENT_SECRET: &str = "a-test-client-secret-of-reasonable-length";
const PENDING_COOKIE: &str = "relais_oidc";
const SESSION_COOKIE: &str = "relais_session";

/// A provider and a Relais server that trusts it.
struct Setup {
    server: TestServer,
    /// Killed when dropped.
    provider: OidcProvider,
    public_url: String,
}

impl Setup {
    async fn start(jwt_userinfo: bool) -> anyhow::Result<Self> {
        // The provider must know the redirect URI, and Relais its public URL, before either
        // starts: pick the port first.
        let port = free_port()?;
        let public_url = format!("http://127.0.0.1:{port}");
        let provider = OidcProvider::start(&ProviderOptions {
            client_id: CLIENT_ID.to_owned(),
            client_secret: CLIENT_SECRET.to_owned(),
            redirect_uri: format!("{public_url}/api/auth/oidc/callback"),
            jwt_userinfo,
        })
        .await?;
        let listen = format!("127.0.0.1:{port}");
        let server = TestServer::start_with(
            Backend::Sqlite,
            &[
                "--listen",
                &listen,
                "--public-url",
                &public_url,
                "--oidc-issuer",
                provider.issuer(),
                "--oidc-client-id",
                CLIENT_ID,
                "--oidc-client-secret",
                CLIENT_SECRET,
                "--oidc-scopes",
                "siret",
                // Tests sign in many times from one address.
                "--auth-rate-per-minute",
                "10000",
            ],
        )
        .await?;
        anyhow::ensure!(
            server.address() == listen,
            "relais listens on {} instead of {listen}",
            server.address()
        );
        Ok(Self {
            server,
            provider,
            public_url,
        })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.public_url)
    }

    fn callback_prefix(&self) -> String {
        self.url("/api/auth/oidc/callback")
    }

    /// `GET /api/auth/oidc/login`: checks the redirect and the pending cookie; returns the
    /// provider's authorization URL.
    async fn begin(&self, browser: &mut Browser) -> anyhow::Result<Url> {
        let page = browser.get(&self.url("/api/auth/oidc/login")).await?;
        anyhow::ensure!(
            page.status == 303,
            "login answered {}: {}\n{}",
            page.status,
            page.body,
            self.server.log()
        );
        let pending = page
            .set_cookie(PENDING_COOKIE)
            .context("no pending sign-in cookie")?;
        assert_eq!(pending.http_only(), Some(true));
        assert_eq!(pending.same_site(), Some(cookie::SameSite::Lax));
        assert_eq!(pending.path(), Some("/api/auth/oidc"));
        assert_eq!(
            pending.max_age(),
            Some(cookie::time::Duration::seconds(600))
        );
        page.location.context("no location")
    }

    /// The provider's redirect back, after signing in there as `login`.
    async fn at_provider(
        &self,
        browser: &mut Browser,
        authorize: &Url,
        login: &str,
    ) -> anyhow::Result<Url> {
        browser
            .sign_in_at_provider(authorize, login, &self.callback_prefix())
            .await
    }

    /// A whole sign-in as `login`; returns the session's user.
    async fn sign_in(&self, browser: &mut Browser, login: &str) -> anyhow::Result<Value> {
        let authorize = self.begin(browser).await?;
        let callback = self.at_provider(browser, &authorize, login).await?;
        let page = browser.get(callback.as_str()).await?;
        anyhow::ensure!(
            page.status == 303,
            "callback answered {}: {}\n{}",
            page.status,
            page.body,
            self.server.log()
        );
        assert_eq!(page.location.as_ref().map(Url::path), Some("/"));
        assert!(
            page.set_cookie(SESSION_COOKIE)
                .is_some_and(|cookie| !cookie.value().is_empty()),
            "no session cookie"
        );
        let cleared = page
            .set_cookie(PENDING_COOKIE)
            .context("the pending cookie is not cleared")?;
        assert_eq!(cleared.value(), "");
        assert!(browser.cookie(&self.public_url, PENDING_COOKIE).is_none());
        self.session_user(browser).await
    }

    async fn session_user(&self, browser: &mut Browser) -> anyhow::Result<Value> {
        let page = browser.get(&self.url("/api/session")).await?;
        anyhow::ensure!(
            page.status == 200,
            "GET /api/session answered {}: {}",
            page.status,
            page.body
        );
        let session: Value = serde_json::from_str(&page.body)?;
        Ok(session["user"].clone())
    }

    /// Asserts that a callback was refused without opening a session, and that the server
    /// logged why (`reason`).
    fn assert_refused(&self, page: &Page, reason: &str) {
        assert_eq!(
            page.status, 401,
            "callback answered {}: {}",
            page.status, page.body
        );
        assert!(
            page.set_cookie(SESSION_COOKIE).is_none(),
            "a session cookie was set: {:?}",
            page.set_cookies
        );
        let log = self.server.log();
        assert!(
            log.contains(reason),
            "the log does not say {reason:?}:\n{log}"
        );
    }
}

/// The audit journal's `(actor, action, target, details)` rows about accounts, in order.
async fn account_audit(setup: &Setup) -> anyhow::Result<Vec<(String, String, String, Value)>> {
    let url = format!(
        "sqlite://{}",
        setup.server.data_dir().join("relais.db").display()
    );
    let mut connection = sqlx::SqliteConnection::connect(&url).await?;
    let rows: Vec<(Option<String>, String, Option<String>, String)> = sqlx::query_as(
        "SELECT actor, action, target, details FROM audit_log WHERE action LIKE 'user.%' ORDER BY seq",
    )
    .fetch_all(&mut connection)
    .await?;
    connection.close().await?;
    rows.into_iter()
        .map(|(actor, action, target, details)| {
            Ok((
                actor.unwrap_or_default(),
                action,
                target.unwrap_or_default(),
                serde_json::from_str(&details)?,
            ))
        })
        .collect()
}

fn query_param(url: &Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}

fn with_query_param(url: &Url, name: &str, value: &str) -> Url {
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .map(|(key, old)| {
            (
                key.clone().into_owned(),
                if key == name {
                    value.to_owned()
                } else {
                    old.into_owned()
                },
            )
        })
        .collect();
    let mut url = url.clone();
    url.query_pairs_mut().clear().extend_pairs(pairs);
    url
}

#[tokio::test]
async fn signs_in_through_the_provider_and_keeps_the_same_account() -> anyhow::Result<()> {
    let setup = Setup::start(false).await?;
    let mut browser = Browser::new()?;

    let authorize = setup.begin(&mut browser).await?;
    // What ProConnect requires of the authorization request.
    assert!(authorize.as_str().starts_with(setup.provider.issuer()));
    assert_eq!(
        query_param(&authorize, "response_type").as_deref(),
        Some("code")
    );
    assert_eq!(
        query_param(&authorize, "client_id").as_deref(),
        Some(CLIENT_ID)
    );
    assert_eq!(
        query_param(&authorize, "redirect_uri"),
        Some(setup.callback_prefix())
    );
    assert_eq!(
        query_param(&authorize, "code_challenge_method").as_deref(),
        Some("S256")
    );
    assert!(
        query_param(&authorize, "code_challenge").is_some_and(|challenge| challenge.len() == 43)
    );
    assert!(query_param(&authorize, "state").is_some_and(|state| state.len() >= 32));
    assert!(query_param(&authorize, "nonce").is_some_and(|nonce| nonce.len() >= 32));
    let scope = query_param(&authorize, "scope").unwrap_or_default();
    for wanted in ["openid", "email", "profile", "siret"] {
        assert!(
            scope.split(' ').any(|scope| scope == wanted),
            "{wanted} missing from {scope:?}"
        );
    }
    // Two sign-ins draw different secrets.
    let mut other_browser = Browser::new()?;
    let other = setup.begin(&mut other_browser).await?;
    assert_ne!(
        query_param(&authorize, "state"),
        query_param(&other, "state")
    );
    assert_ne!(
        query_param(&authorize, "nonce"),
        query_param(&other, "nonce")
    );

    let callback = setup
        .at_provider(&mut browser, &authorize, "camille")
        .await?;
    let page = browser.get(callback.as_str()).await?;
    assert_eq!(page.status, 303, "{}\n{}", page.body, setup.server.log());
    assert_eq!(page.location.as_ref().map(Url::path), Some("/"));
    let user = setup.session_user(&mut browser).await?;
    assert_eq!(user["email"], "camille@mairie-exemple.fr");
    assert_eq!(user["display_name"], "Camille Dupont");
    assert_eq!(user["kind"], "staff");
    assert_eq!(user["external"], false);
    assert_eq!(user["is_admin"], false);
    assert!(
        user["organisation_id"].is_string(),
        "the siret gives an organisation: {user}"
    );
    let id = user["id"].as_str().context("user id")?.to_owned();

    // Signing in again (the provider remembers the person and the consent) finds the same
    // account, as does a fresh browser going through the forms again.
    let again = setup.sign_in(&mut browser, "camille").await?;
    assert_eq!(again["id"], id.as_str());
    let again = setup.sign_in(&mut Browser::new()?, "camille").await?;
    assert_eq!(again["id"], id.as_str());
    assert_eq!(again["organisation_id"], user["organisation_id"]);

    // Someone else gets another account, in the same organisation (same siret).
    let other_user = setup.sign_in(&mut Browser::new()?, "dominique").await?;
    assert_ne!(other_user["id"], id.as_str());
    assert_eq!(other_user["email"], "dominique@mairie-exemple.fr");
    assert_eq!(other_user["organisation_id"], user["organisation_id"]);

    let audit = account_audit(&setup).await?;
    let created: Vec<_> = audit
        .iter()
        .filter(|(_, action, _, _)| action == "user.created")
        .collect();
    assert_eq!(created.len(), 2, "{audit:?}");
    assert_eq!(created[0].0, "system");
    assert_eq!(created[0].2, format!("user:{id}"));
    assert_eq!(created[0].3, serde_json::json!({ "via": "oidc" }));
    assert!(
        !audit
            .iter()
            .any(|(_, action, _, _)| action == "user.oidc_linked"),
        "{audit:?}"
    );
    setup.server.stop().await
}

#[tokio::test]
async fn reads_signed_userinfo_and_reconciles_subjects_by_email() -> anyhow::Result<()> {
    // Userinfo as a signed JWT, as ProConnect answers; the ID token holds no e-mail (the
    // provider puts claims in userinfo when an access token is issued), so a successful
    // sign-in proves the JWT was verified and read.
    let setup = Setup::start(true).await?;
    let first = setup
        .sign_in(&mut Browser::new()?, "Alix.Martin@Commune.fr")
        .await?;
    assert_eq!(first["email"], "alix.martin@commune.fr");
    assert_eq!(first["display_name"], "Alix Dupont");
    // ProConnect gives one subject per identity provider: the same e-mail through another
    // one is the same account.
    let second = setup
        .sign_in(&mut Browser::new()?, "Alix.Martin@Commune.fr#other-idp")
        .await?;
    assert_eq!(second["id"], first["id"]);
    let audit = account_audit(&setup).await?;
    let actions: Vec<&str> = audit
        .iter()
        .map(|(_, action, _, _)| action.as_str())
        .collect();
    assert_eq!(actions, ["user.created", "user.oidc_linked"]);
    assert_eq!(
        audit[1].2,
        format!("user:{}", first["id"].as_str().unwrap_or_default())
    );
    // And that subject is now linked: it signs in directly.
    let third = setup
        .sign_in(&mut Browser::new()?, "Alix.Martin@Commune.fr#other-idp")
        .await?;
    assert_eq!(third["id"], first["id"]);
    setup.server.stop().await
}

#[tokio::test]
async fn refuses_a_tampered_state() -> anyhow::Result<()> {
    let setup = Setup::start(false).await?;
    let mut browser = Browser::new()?;
    let authorize = setup.begin(&mut browser).await?;
    let callback = setup
        .at_provider(&mut browser, &authorize, "camille")
        .await?;
    let state = query_param(&callback, "state").context("no state")?;
    assert_eq!(
        Some(&state),
        query_param(&authorize, "state").as_ref(),
        "the provider echoes the state"
    );

    let mut altered = state.clone().into_bytes();
    altered[0] = if altered[0] == b'A' { b'B' } else { b'A' };
    let tampered = with_query_param(&callback, "state", &String::from_utf8(altered)?);
    let page = browser.get(tampered.as_str()).await?;
    setup.assert_refused(&page, "state does not match");
    let page = browser
        .get(with_query_param(&callback, "state", "").as_str())
        .await?;
    assert_eq!(page.status, 401);

    // The refusals did not spend the pending sign-in: the genuine callback still works.
    let page = browser.get(callback.as_str()).await?;
    assert_eq!(page.status, 303, "{}", page.body);
    assert_eq!(
        setup.session_user(&mut browser).await?["email"],
        "camille@mairie-exemple.fr"
    );
    setup.server.stop().await
}

#[tokio::test]
async fn refuses_a_pending_cookie_that_does_not_verify() -> anyhow::Result<()> {
    let setup = Setup::start(false).await?;
    let mut browser = Browser::new()?;
    let authorize = setup.begin(&mut browser).await?;
    let callback = setup
        .at_provider(&mut browser, &authorize, "camille")
        .await?;
    let genuine = browser
        .cookie(&setup.public_url, PENDING_COOKIE)
        .context("no pending cookie")?;

    // One character of the signed payload changed: the HMAC no longer verifies.
    let mut altered = genuine.clone().into_bytes();
    altered[5] = if altered[5] == b'A' { b'B' } else { b'A' };
    browser.set_cookie(
        &setup.public_url,
        PENDING_COOKIE,
        &String::from_utf8(altered)?,
        "/api/auth/oidc",
    )?;
    let page = browser.get(callback.as_str()).await?;
    setup.assert_refused(&page, "signature does not verify");

    // A made-up cookie, and none at all.
    browser.set_cookie(
        &setup.public_url,
        PENDING_COOKIE,
        "eyJzIjoiYSJ9.AAAA",
        "/api/auth/oidc",
    )?;
    assert_eq!(browser.get(callback.as_str()).await?.status, 401);
    browser.remove_cookie(&setup.public_url, PENDING_COOKIE)?;
    let page = browser.get(callback.as_str()).await?;
    setup.assert_refused(&page, "no pending sign-in cookie");
    setup.server.stop().await
}

#[tokio::test]
async fn refuses_another_sign_ins_pending_cookie() -> anyhow::Result<()> {
    let setup = Setup::start(false).await?;
    // Sign-in A goes through the provider; sign-in B only started (say, an attacker's, whose
    // pending cookie was planted in the victim's browser, or the other way round).
    let mut browser_a = Browser::new()?;
    let authorize_a = setup.begin(&mut browser_a).await?;
    let callback_a = setup
        .at_provider(&mut browser_a, &authorize_a, "camille")
        .await?;
    let mut browser_b = Browser::new()?;
    let authorize_b = setup.begin(&mut browser_b).await?;
    let cookie_b = browser_b
        .cookie(&setup.public_url, PENDING_COOKIE)
        .context("no pending cookie")?;

    // A's code and state with B's cookie: B's state differs from the returned one.
    browser_a.set_cookie(
        &setup.public_url,
        PENDING_COOKIE,
        &cookie_b,
        "/api/auth/oidc",
    )?;
    let page = browser_a.get(callback_a.as_str()).await?;
    setup.assert_refused(&page, "state does not match");

    // A's code with B's cookie and B's state: the state check passes, but A's code is bound
    // to A's PKCE challenge, and B's verifier does not match it, so the provider refuses the
    // exchange.
    let state_b = query_param(&authorize_b, "state").context("no state")?;
    let page = browser_a
        .get(with_query_param(&callback_a, "state", &state_b).as_str())
        .await?;
    setup.assert_refused(&page, "code exchange failed");
    setup.server.stop().await
}

#[tokio::test]
async fn refuses_an_id_token_issued_for_another_nonce() -> anyhow::Result<()> {
    // The pending cookie cannot be altered (it is signed), and a code cannot be used with
    // another sign-in's cookie (the state, then PKCE, refuse it: see the test above). What
    // exercises the nonce check alone is an authorization request whose nonce is not the
    // pending sign-in's while its state and PKCE challenge are: the browser is sent to the
    // provider with only the nonce replaced, as an attacker injecting a code obtained with
    // a nonce of their choosing would. The provider then issues a code for our state and
    // challenge, with an ID token carrying the other nonce; only the nonce comparison can
    // refuse it.
    let setup = Setup::start(false).await?;
    let mut browser = Browser::new()?;
    let authorize = setup.begin(&mut browser).await?;
    let nonce = query_param(&authorize, "nonce").context("no nonce")?;
    let other_nonce = format!("{}x", &nonce[..nonce.len() - 1]);
    let altered = with_query_param(&authorize, "nonce", &other_nonce);
    let callback = setup.at_provider(&mut browser, &altered, "camille").await?;
    assert_eq!(
        query_param(&callback, "state"),
        query_param(&authorize, "state")
    );
    let page = browser.get(callback.as_str()).await?;
    setup.assert_refused(&page, "nonce mismatch");
    setup.server.stop().await
}
