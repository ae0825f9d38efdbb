//! Clients for the chat tests: [`ChatClient`], a `/chat` websocket speaking the JSON protocol
//! of README.md (frames in, events out, in arrival order), and [`RawHttp`], for the requests
//! [`Api`] cannot make: attachment uploads (raw bodies with their own `Content-Type`) and
//! downloads (whose headers matter).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, bail};
use futures_util::{SinkExt, StreamExt};
use reqwest::header::{CONTENT_TYPE, COOKIE, HeaderMap, HeaderName, HeaderValue};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::api::{Api, CSRF_HEADER};
use crate::{Closed, TestServer};

/// How long the helpers wait for an answer that should come at once.
pub const ANSWER_WITHIN: Duration = Duration::from_secs(10);

/// The server's answer to a `subscribe`: the catch-up, then `subscribed`.
#[derive(Debug, Clone)]
pub struct Subscription {
    /// The `message` objects (not the events) of the catch-up, in arrival order.
    pub messages: Vec<Value>,
    /// `last_seq` of the `subscribed` event.
    pub last_seq: i64,
}

/// A `/chat` websocket. Events are kept in arrival order; [`ChatClient::wait_for`] takes the
/// first matching one and leaves the others for later calls.
pub struct ChatClient {
    events: mpsc::UnboundedReceiver<Value>,
    /// Events received but passed over by [`ChatClient::wait_for`], oldest first.
    backlog: VecDeque<Value>,
    outgoing: mpsc::UnboundedSender<WsMessage>,
    closed: Arc<Mutex<Option<Closed>>>,
    reader: JoinHandle<()>,
    writer: JoinHandle<()>,
}

impl ChatClient {
    /// Opens `/chat` with `api`'s session cookie (none for an anonymous `Api`). Fails if the
    /// upgrade is refused; an anonymous client is upgraded, then closed by the server.
    pub async fn connect(server: &TestServer, api: &Api) -> anyhow::Result<Self> {
        Self::connect_with_cookie(server, api.cookie_header().as_deref()).await
    }

    /// Opens `/chat` with a `Cookie` header value such as `relais_session=...`, or none.
    pub async fn connect_with_cookie(
        server: &TestServer,
        cookie: Option<&str>,
    ) -> anyhow::Result<Self> {
        let url = format!("ws://{}/chat", server.address());
        let mut request = url.as_str().into_client_request()?;
        if let Some(cookie) = cookie {
            request
                .headers_mut()
                .insert(COOKIE, HeaderValue::from_str(cookie)?);
        }
        let socket = match tokio_tungstenite::connect_async(request).await {
            Ok((socket, _)) => socket,
            Err(tungstenite::Error::Http(response)) => {
                bail!(
                    "the /chat upgrade was refused with HTTP {}",
                    response.status()
                )
            }
            Err(error) => return Err(error).with_context(|| format!("cannot connect to {url}")),
        };
        let (mut sink, mut stream) = socket.split();
        let (outgoing, mut outgoing_receiver) = mpsc::unbounded_channel::<WsMessage>();
        let writer = tokio::spawn(async move {
            while let Some(message) = outgoing_receiver.recv().await {
                let is_close = matches!(message, WsMessage::Close(_));
                if sink.send(message).await.is_err() || is_close {
                    break;
                }
            }
        });
        let (events_sender, events) = mpsc::unbounded_channel();
        let closed = Arc::new(Mutex::new(None));
        let reader_closed = closed.clone();
        let reader = tokio::spawn(async move {
            let outcome = loop {
                match stream.next().await {
                    Some(Ok(WsMessage::Text(text))) => {
                        match serde_json::from_str::<Value>(text.as_str()) {
                            Ok(event) => {
                                let _ = events_sender.send(event);
                            }
                            Err(error) => eprintln!(
                                "ChatClient: a frame that is not JSON ({error}): {}",
                                text.as_str()
                            ),
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
            *reader_closed.lock().expect("lock") = Some(outcome);
        });
        Ok(Self {
            events,
            backlog: VecDeque::new(),
            outgoing,
            closed,
            reader,
            writer,
        })
    }

    /// Sends one JSON frame.
    pub fn send_json(&self, frame: &Value) -> anyhow::Result<()> {
        self.outgoing
            .send(WsMessage::text(frame.to_string()))
            .context("the chat socket is closed")
    }

    /// Sends one text frame as is (to send what is not valid JSON).
    pub fn send_text(&self, text: &str) -> anyhow::Result<()> {
        self.outgoing
            .send(WsMessage::text(text.to_owned()))
            .context("the chat socket is closed")
    }

    /// The next event (the oldest passed over by [`ChatClient::wait_for`] first), or an error
    /// once `within` has passed or the socket has closed.
    pub async fn next_event(&mut self, within: Duration) -> anyhow::Result<Value> {
        if let Some(event) = self.backlog.pop_front() {
            return Ok(event);
        }
        self.receive(Instant::now() + within).await
    }

    async fn receive(&mut self, deadline: Instant) -> anyhow::Result<Value> {
        match tokio::time::timeout_at(deadline, self.events.recv()).await {
            Ok(Some(event)) => Ok(event),
            Ok(None) => bail!("the chat socket closed: {:?}", self.closed()),
            Err(_) => bail!("no chat event in time"),
        }
    }

    /// The first event matching `predicate`, waiting up to `within`; the others stay queued
    /// in order.
    pub async fn wait_for(
        &mut self,
        within: Duration,
        what: &str,
        predicate: impl Fn(&Value) -> bool,
    ) -> anyhow::Result<Value> {
        if let Some(index) = self.backlog.iter().position(&predicate) {
            return Ok(self
                .backlog
                .remove(index)
                .expect("the index was just found"));
        }
        let deadline = Instant::now() + within;
        loop {
            let event = self
                .receive(deadline)
                .await
                .with_context(|| format!("waiting {within:?} for {what}"))?;
            if predicate(&event) {
                return Ok(event);
            }
            self.backlog.push_back(event);
        }
    }

    /// Takes every queued `message` of `conversation_id` (its `message` objects, in arrival
    /// order), leaving the other events; does not wait.
    pub fn take_messages(&mut self, conversation_id: &str) -> Vec<Value> {
        while let Ok(event) = self.events.try_recv() {
            self.backlog.push_back(event);
        }
        let (taken, kept): (VecDeque<Value>, VecDeque<Value>) = self
            .backlog
            .drain(..)
            .partition(|event| is_message_of(event, conversation_id));
        self.backlog = kept;
        taken
            .into_iter()
            .map(|event| event["message"].clone())
            .collect()
    }

    /// `subscribe`, then the catch-up up to `subscribed`; `Err(error event)` if refused.
    pub async fn try_subscribe(
        &mut self,
        conversation_id: &str,
        after_seq: i64,
    ) -> anyhow::Result<Result<Subscription, Value>> {
        self.send_json(&json!({ "type": "subscribe", "conversation_id": conversation_id, "after_seq": after_seq }))?;
        let mut messages = Vec::new();
        loop {
            let event = self
                .wait_for(ANSWER_WITHIN, "the answer to subscribe", |event| {
                    is_message_of(event, conversation_id)
                        || (event["type"] == "subscribed"
                            && event["conversation_id"] == conversation_id)
                        || (event["type"] == "error" && event["client_id"].is_null())
                })
                .await?;
            match event["type"].as_str() {
                Some("message") => messages.push(event["message"].clone()),
                Some("subscribed") => {
                    let last_seq = event["last_seq"]
                        .as_i64()
                        .with_context(|| format!("no last_seq in {event}"))?;
                    return Ok(Ok(Subscription { messages, last_seq }));
                }
                _ => return Ok(Err(event)),
            }
        }
    }

    /// Like [`ChatClient::try_subscribe`], failing if refused.
    pub async fn subscribe(
        &mut self,
        conversation_id: &str,
        after_seq: i64,
    ) -> anyhow::Result<Subscription> {
        match self.try_subscribe(conversation_id, after_seq).await? {
            Ok(subscription) => Ok(subscription),
            Err(error) => bail!("subscribing to {conversation_id} was refused: {error}"),
        }
    }

    /// `send`, then its `ack`; `Err(error event)` if refused.
    pub async fn try_send(
        &mut self,
        conversation_id: &str,
        client_id: &str,
        body: &str,
    ) -> anyhow::Result<Result<Value, Value>> {
        self.try_send_with(
            json!({ "conversation_id": conversation_id, "client_id": client_id, "body": body }),
        )
        .await
    }

    /// `send` with any fields (`conversation_id`, `client_id`, `body`, `attachments`...), then
    /// its `ack`; `Err(error event)` if refused.
    pub async fn try_send_with(
        &mut self,
        mut frame: Value,
    ) -> anyhow::Result<Result<Value, Value>> {
        frame["type"] = json!("send");
        let client_id = frame["client_id"].clone();
        self.send_json(&frame)?;
        let event = self
            .wait_for(
                ANSWER_WITHIN,
                &format!("the answer to send {client_id}"),
                |event| {
                    (event["type"] == "ack" || event["type"] == "error")
                        && event["client_id"] == client_id
                },
            )
            .await?;
        Ok(if event["type"] == "ack" {
            Ok(event)
        } else {
            Err(event)
        })
    }

    /// Like [`ChatClient::try_send`], failing if refused; returns the `ack`.
    pub async fn send(
        &mut self,
        conversation_id: &str,
        client_id: &str,
        body: &str,
    ) -> anyhow::Result<Value> {
        match self.try_send(conversation_id, client_id, body).await? {
            Ok(ack) => Ok(ack),
            Err(error) => bail!("sending {client_id} was refused: {error}"),
        }
    }

    pub fn closed(&self) -> Option<Closed> {
        self.closed.lock().expect("lock").clone()
    }

    /// Waits for the server to close the socket.
    pub async fn wait_closed(&mut self, within: Duration) -> anyhow::Result<Closed> {
        let deadline = Instant::now() + within;
        loop {
            match tokio::time::timeout_at(deadline, self.events.recv()).await {
                Ok(Some(event)) => self.backlog.push_back(event),
                Ok(None) => return self.closed().context("the reader ended without an outcome"),
                Err(_) => bail!("the chat socket stayed open for {within:?}"),
            }
        }
    }

    /// Sends a normal close frame.
    pub fn close(&self) {
        let _ = self.outgoing.send(WsMessage::Close(None));
    }

    /// Drops the connection without a close frame, as a lost network would.
    pub fn cut(self) {
        self.reader.abort();
        self.writer.abort();
    }
}

impl Drop for ChatClient {
    fn drop(&mut self) {
        self.reader.abort();
        self.writer.abort();
    }
}

/// Whether `event` is a `message` event of `conversation_id`.
pub fn is_message_of(event: &Value, conversation_id: &str) -> bool {
    event["type"] == "message" && event["message"]["conversation_id"] == conversation_id
}

/// Plain HTTP with a session, for what [`Api`] cannot do: raw bodies and response headers.
pub struct RawHttp {
    base: String,
    http: reqwest::Client,
    cookie: String,
    csrf_token: String,
}

/// A response as [`RawHttp`] returns it.
pub struct RawResponse {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl RawResponse {
    /// The body as JSON (`Null` when it is not).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }
}

impl RawHttp {
    /// Acts with `api`'s session; its CSRF token is read from `GET /api/session`.
    pub async fn for_session(server: &TestServer, api: &Api) -> anyhow::Result<Self> {
        let cookie = api
            .cookie_header()
            .context("RawHttp needs a signed-in Api")?;
        let (status, session) = api.get("/api/session").await?;
        anyhow::ensure!(
            status == 200,
            "GET /api/session answered {status}: {session}"
        );
        let csrf_token = session["csrf_token"]
            .as_str()
            .with_context(|| format!("no csrf_token in {session}"))?
            .to_owned();
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()?;
        Ok(Self {
            base: format!("http://{}", server.address()),
            http,
            cookie,
            csrf_token,
        })
    }

    /// `POST /api/conversations/{id}/attachments?name=...` with `bytes` as the body.
    pub async fn upload(
        &self,
        conversation_id: &str,
        name: &str,
        content_type: &str,
        bytes: Vec<u8>,
    ) -> anyhow::Result<RawResponse> {
        let name: String = url::form_urlencoded::byte_serialize(name.as_bytes()).collect();
        let path = format!("/api/conversations/{conversation_id}/attachments?name={name}");
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .header(COOKIE, &self.cookie)
            .header(HeaderName::from_static(CSRF_HEADER), &self.csrf_token)
            .header(CONTENT_TYPE, content_type)
            .body(bytes)
            .send()
            .await
            .with_context(|| format!("POST {path}"))?;
        Self::read(response).await
    }

    /// A GET with the session, keeping the headers and the raw body.
    pub async fn get(&self, path: &str) -> anyhow::Result<RawResponse> {
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .header(COOKIE, &self.cookie)
            .send()
            .await
            .with_context(|| format!("GET {path}"))?;
        Self::read(response).await
    }

    async fn read(response: reqwest::Response) -> anyhow::Result<RawResponse> {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.bytes().await?.to_vec();
        Ok(RawResponse {
            status,
            headers,
            body,
        })
    }
}
