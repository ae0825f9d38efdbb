//! Clients for the access-control tests: [`Api`], a REST client holding one person's session
//! cookie and CSRF token, and [`Socket`], a y-websocket client that can send extra headers
//! (a session cookie, an `Origin`) and records what the server refused (permission-denied
//! messages, close codes, HTTP statuses of refused upgrades).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, bail};
use cookie::Cookie;
use futures_util::{SinkExt, StreamExt};
use reqwest::Method;
use reqwest::header::{CONTENT_TYPE, COOKIE, HeaderName, HeaderValue, SET_COOKIE};
use serde_json::Value;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use yrs::sync::protocol::{Message, SyncMessage};
use yrs::updates::decoder::Decode;
use yrs::updates::encoder::Encode;
use yrs::{Doc, GetString, ReadTxn, Text, Transact, Update};

use crate::{Closed, TestServer, eventually};

/// Name of the server's session cookie.
pub const SESSION_COOKIE: &str = "relais_session";
/// Header carrying the session's CSRF token.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// What to send in `X-CSRF-Token` with a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Csrf<'a> {
    /// The session's own token (what a well-behaved client does).
    Session,
    /// No header at all.
    Missing,
    /// This value instead.
    Wrong(&'a str),
}

/// A REST client acting for one person (or for nobody: [`Api::anonymous`]).
#[derive(Clone)]
pub struct Api {
    base: String,
    http: reqwest::Client,
    cookie: Option<String>,
    csrf_token: Option<String>,
    /// The `user` object of the session, `Null` when anonymous.
    pub user: Value,
}

impl Api {
    /// A client without a session.
    pub fn anonymous(server: &TestServer) -> anyhow::Result<Self> {
        // reqwest is built without a default crypto provider; plain HTTP needs none, but
        // building a client wants one installed.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()?;
        Ok(Self {
            base: format!("http://{}", server.address()),
            http,
            cookie: None,
            csrf_token: None,
            user: Value::Null,
        })
    }

    /// Signs in with a password; fails unless the server answers 200 with a session cookie.
    pub async fn sign_in(server: &TestServer, email: &str, password: &str) -> anyhow::Result<Self> {
        let mut api = Self::anonymous(server)?;
        let (status, body) = api.try_sign_in(email, password).await?;
        anyhow::ensure!(
            status == 200,
            "signing in as {email} answered {status}: {body}"
        );
        Ok(api)
    }

    /// `POST /api/session`; on success this client holds the new session.
    pub async fn try_sign_in(
        &mut self,
        email: &str,
        password: &str,
    ) -> anyhow::Result<(u16, Value)> {
        let body = serde_json::json!({ "email": email, "password": password });
        self.start_session("/api/session", &body).await
    }

    /// Accepts an invitation with a new external account (`POST /api/invitations/{secret}/accept`)
    /// and holds the session it opens.
    pub async fn accept_invitation(
        server: &TestServer,
        secret: &str,
        display_name: &str,
        password: &str,
    ) -> anyhow::Result<Self> {
        let mut api = Self::anonymous(server)?;
        let body = serde_json::json!({ "display_name": display_name, "password": password });
        let (status, answer) = api
            .start_session(&format!("/api/invitations/{secret}/accept"), &body)
            .await?;
        anyhow::ensure!(
            status == 200,
            "accepting the invitation answered {status}: {answer}"
        );
        Ok(api)
    }

    async fn start_session(&mut self, path: &str, body: &Value) -> anyhow::Result<(u16, Value)> {
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .header(CONTENT_TYPE, "application/json")
            .body(serde_json::to_vec(body)?)
            .send()
            .await
            .with_context(|| format!("POST {path}"))?;
        let cookie = response
            .headers()
            .get_all(SET_COOKIE)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .filter_map(|value| Cookie::parse(value.to_owned()).ok())
            .find(|cookie| cookie.name() == SESSION_COOKIE && !cookie.value().is_empty())
            .map(|cookie| cookie.value().to_owned());
        let (status, answer) = read(response).await?;
        if status == 200 {
            self.cookie = Some(cookie.context("no session cookie in the answer")?);
            self.csrf_token = answer["csrf_token"].as_str().map(ToOwned::to_owned);
            self.user = answer["user"].clone();
        }
        Ok((status, answer))
    }

    /// The signed-in user's id.
    pub fn user_id(&self) -> &str {
        self.user["id"].as_str().unwrap_or_default()
    }

    /// `relais_session=...`, for a websocket opened with this session.
    pub fn cookie_header(&self) -> Option<String> {
        self.cookie
            .as_ref()
            .map(|value| format!("{SESSION_COOKIE}={value}"))
    }

    pub async fn get(&self, path: &str) -> anyhow::Result<(u16, Value)> {
        self.request(Method::GET, path, None, Csrf::Session).await
    }

    pub async fn post(&self, path: &str, body: Value) -> anyhow::Result<(u16, Value)> {
        self.request(Method::POST, path, Some(body), Csrf::Session)
            .await
    }

    pub async fn put(&self, path: &str, body: Value) -> anyhow::Result<(u16, Value)> {
        self.request(Method::PUT, path, Some(body), Csrf::Session)
            .await
    }

    pub async fn patch(&self, path: &str, body: Value) -> anyhow::Result<(u16, Value)> {
        self.request(Method::PATCH, path, Some(body), Csrf::Session)
            .await
    }

    pub async fn delete(&self, path: &str) -> anyhow::Result<(u16, Value)> {
        self.request(Method::DELETE, path, None, Csrf::Session)
            .await
    }

    /// Any request; the answer's status and JSON body (`Null` when empty, a string when not
    /// JSON).
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        csrf: Csrf<'_>,
    ) -> anyhow::Result<(u16, Value)> {
        let mut request = self
            .http
            .request(method.clone(), format!("{}{path}", self.base));
        if let Some(cookie) = self.cookie_header() {
            request = request.header(COOKIE, cookie);
        }
        let csrf_value = match csrf {
            Csrf::Session => self.csrf_token.as_deref(),
            Csrf::Missing => None,
            Csrf::Wrong(value) => Some(value),
        };
        if let Some(value) = csrf_value {
            request = request.header(
                HeaderName::from_static(CSRF_HEADER),
                HeaderValue::from_str(value)?,
            );
        }
        if let Some(body) = body {
            request = request
                .header(CONTENT_TYPE, "application/json")
                .body(serde_json::to_vec(&body)?);
        }
        let response = request
            .send()
            .await
            .with_context(|| format!("{method} {path}"))?;
        read(response).await
    }
}

impl Api {
    /// A GET whose answer is a file: its status, `Content-Type` and bytes.
    pub async fn download(&self, path: &str) -> anyhow::Result<(u16, String, Vec<u8>)> {
        let mut request = self.http.get(format!("{}{path}", self.base));
        if let Some(cookie) = self.cookie_header() {
            request = request.header(COOKIE, cookie);
        }
        let response = request.send().await.with_context(|| format!("GET {path}"))?;
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        Ok((status, content_type, response.bytes().await?.to_vec()))
    }

    /// A POST of raw bytes (no session needed), e.g. a file to `/api/verify`.
    pub async fn post_bytes(&self, path: &str, bytes: Vec<u8>) -> anyhow::Result<(u16, Value)> {
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .header(CONTENT_TYPE, "application/octet-stream")
            .body(bytes)
            .send()
            .await
            .with_context(|| format!("POST {path}"))?;
        read(response).await
    }
}

async fn read(response: reqwest::Response) -> anyhow::Result<(u16, Value)> {
    let status = response.status().as_u16();
    let text = response.text().await?;
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    Ok((status, body))
}

/// How a websocket upgrade went.
pub enum Upgrade {
    Accepted(Socket),
    /// The server answered the upgrade request with this HTTP status instead.
    Refused(u16),
}

#[derive(Default)]
struct SocketState {
    /// Sync step 2 messages received: the first answers our step 1 on open, later ones answer
    /// [`Socket::fence`].
    step2_received: u64,
    /// Reasons of permission-denied messages received.
    denied: Vec<String>,
    closed: Option<Closed>,
}

/// A y-websocket client on a `yrs` document, opened with arbitrary request headers.
pub struct Socket {
    doc: Doc,
    state: Arc<Mutex<SocketState>>,
    outgoing: mpsc::UnboundedSender<WsMessage>,
}

impl Socket {
    /// Opens `url` with extra headers, e.g. `("cookie", ...)` or `("origin", ...)`.
    pub async fn try_open(url: &str, headers: &[(&str, String)]) -> anyhow::Result<Upgrade> {
        let mut request = url.into_client_request()?;
        for (name, value) in headers {
            request.headers_mut().insert(
                HeaderName::from_bytes(name.as_bytes())?,
                HeaderValue::from_str(value)?,
            );
        }
        let socket = match tokio_tungstenite::connect_async(request).await {
            Ok((socket, _)) => socket,
            Err(tungstenite::Error::Http(response)) => {
                return Ok(Upgrade::Refused(response.status().as_u16()));
            }
            Err(error) => return Err(error).with_context(|| format!("cannot connect to {url}")),
        };
        let (mut sink, mut stream) = socket.split();
        let doc = Doc::new();
        let state = Arc::new(Mutex::new(SocketState::default()));
        let (outgoing, mut outgoing_receiver) = mpsc::unbounded_channel::<WsMessage>();
        tokio::spawn(async move {
            while let Some(message) = outgoing_receiver.recv().await {
                let is_close = matches!(message, WsMessage::Close(_));
                if sink.send(message).await.is_err() || is_close {
                    break;
                }
            }
        });
        let reader_doc = doc.clone();
        let reader_state = state.clone();
        let reply = outgoing.clone();
        tokio::spawn(async move {
            let closed = loop {
                match stream.next().await {
                    Some(Ok(WsMessage::Binary(frame))) => {
                        if let Err(error) = handle_frame(&frame, &reader_doc, &reader_state, &reply)
                        {
                            eprintln!("api::Socket: bad frame from server: {error}");
                        }
                    }
                    Some(Ok(WsMessage::Close(frame))) => {
                        break Closed {
                            code: frame.as_ref().map(|f| u16::from(f.code)),
                            reason: frame.map(|f| f.reason.to_string()).unwrap_or_default(),
                        };
                    }
                    Some(Ok(_)) => {}
                    Some(Err(_)) | None => {
                        break Closed {
                            code: None,
                            reason: String::new(),
                        };
                    }
                }
            };
            reader_state.lock().expect("lock").closed = Some(closed);
        });
        let socket = Self {
            doc,
            state,
            outgoing,
        };
        socket.send_step1()?;
        Ok(Upgrade::Accepted(socket))
    }

    /// Opens `url`, failing if the upgrade is refused.
    pub async fn open(url: &str, headers: &[(&str, String)]) -> anyhow::Result<Self> {
        match Self::try_open(url, headers).await? {
            Upgrade::Accepted(socket) => Ok(socket),
            Upgrade::Refused(status) => bail!("upgrade to {url} refused with HTTP {status}"),
        }
    }

    /// Opens a document with a session's cookie.
    pub async fn open_with_session(
        server: &TestServer,
        document: &str,
        api: &Api,
    ) -> anyhow::Result<Self> {
        let headers: Vec<(&str, String)> = api
            .cookie_header()
            .map(|cookie| ("cookie", cookie))
            .into_iter()
            .collect();
        Self::open(&server.ws_url_anonymous(document), &headers).await
    }

    fn send_step1(&self) -> anyhow::Result<()> {
        let step1 =
            Message::Sync(SyncMessage::SyncStep1(self.doc.transact().state_vector())).encode_v1();
        self.outgoing
            .send(WsMessage::Binary(step1.into()))
            .context("socket closed")
    }

    fn step2_received(&self) -> u64 {
        self.state.lock().expect("lock").step2_received
    }

    /// Waits for the server's answer to our first step 1, or for a close.
    pub async fn wait_synced_or_closed(&self, within: Duration) -> anyhow::Result<Option<Closed>> {
        eventually(within, "sync step 2 or a close", || {
            let state = self.state.lock().expect("lock");
            let outcome = match (&state.closed, state.step2_received) {
                (Some(closed), _) => Some(Some(closed.clone())),
                (None, 0) => None,
                (None, _) => Some(None),
            };
            async move { outcome }
        })
        .await
    }

    /// A round trip through the room: sends a sync step 1 and waits for the step 2 answering
    /// it. The room handles a connection's messages in order and answers with everything it
    /// has, so afterwards (a) every frame this socket sent before has been handled (and any
    /// permission-denied answer received), and (b) this replica holds all the room's content.
    pub async fn fence(&self, within: Duration) -> anyhow::Result<()> {
        let before = self.step2_received();
        self.send_step1()?;
        eventually(within, "the answer to a sync step 1", || {
            let state = self.state.lock().expect("lock");
            let outcome = if state.step2_received > before {
                Some(Ok(()))
            } else {
                (state.closed.as_ref()).map(|closed| {
                    Err(anyhow::anyhow!(
                        "closed while waiting for a sync step 2: {closed:?}"
                    ))
                })
            };
            async move { outcome }
        })
        .await?
    }

    /// Appends `chunk` to the shared text and sends the update.
    pub fn append(&self, chunk: &str) -> anyhow::Result<()> {
        let text = self.doc.get_or_insert_text("text");
        let update = {
            let mut txn = self.doc.transact_mut();
            let length = text.len(&txn);
            text.insert(&mut txn, length, chunk);
            txn.encode_update_v1()
        };
        let frame = Message::Sync(SyncMessage::Update(update)).encode_v1();
        self.outgoing
            .send(WsMessage::Binary(frame.into()))
            .context("socket closed")
    }

    /// Makes any change to the local document (roots via `WriteTxn`) and sends it.
    pub fn edit(&self, change: impl FnOnce(&mut yrs::TransactionMut<'_>)) -> anyhow::Result<()> {
        let update = {
            let mut txn = self.doc.transact_mut();
            change(&mut txn);
            txn.encode_update_v1()
        };
        let frame = Message::Sync(SyncMessage::Update(update)).encode_v1();
        self.outgoing
            .send(WsMessage::Binary(frame.into()))
            .context("socket closed")
    }

    /// This replica's document.
    pub fn doc(&self) -> &Doc {
        &self.doc
    }

    pub fn text(&self) -> String {
        let text = self.doc.get_or_insert_text("text");
        text.get_string(&self.doc.transact())
    }

    /// Reasons of the permission-denied messages received so far.
    pub fn denied(&self) -> Vec<String> {
        self.state.lock().expect("lock").denied.clone()
    }

    pub fn closed(&self) -> Option<Closed> {
        self.state.lock().expect("lock").closed.clone()
    }

    pub async fn wait_closed(&self, within: Duration) -> anyhow::Result<Closed> {
        eventually(within, "the connection to close", || {
            let closed = self.closed();
            async move { closed }
        })
        .await
    }

    /// Sends a normal close frame.
    pub fn close(&self) {
        let _ = self.outgoing.send(WsMessage::Close(None));
    }
}

fn handle_frame(
    frame: &[u8],
    doc: &Doc,
    state: &Mutex<SocketState>,
    reply: &mpsc::UnboundedSender<WsMessage>,
) -> anyhow::Result<()> {
    match Message::decode_v1(frame)? {
        Message::Sync(SyncMessage::SyncStep1(state_vector)) => {
            let diff = doc.transact().encode_diff_v1(&state_vector);
            let answer = Message::Sync(SyncMessage::SyncStep2(diff)).encode_v1();
            let _ = reply.send(WsMessage::Binary(answer.into()));
        }
        Message::Sync(SyncMessage::SyncStep2(update)) => {
            doc.transact_mut()
                .apply_update(Update::decode_v1(&update)?)?;
            state.lock().expect("lock").step2_received += 1;
        }
        Message::Sync(SyncMessage::Update(update)) => {
            doc.transact_mut()
                .apply_update(Update::decode_v1(&update)?)?;
        }
        Message::Auth(Some(reason)) => state.lock().expect("lock").denied.push(reason),
        Message::Auth(None)
        | Message::Awareness(_)
        | Message::AwarenessQuery
        | Message::Custom(..) => {}
    }
    Ok(())
}
