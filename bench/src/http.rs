//! A minimal HTTP/1.1 client for the Relais JSON API on a loopback address: one connection per
//! request (`Connection: close`), JSON in and out, the session cookie and CSRF token of a
//! signed-in user. Enough to set a benchmark up through the real API without a TLS stack.

use std::net::IpAddr;
use std::time::Duration;

use anyhow::{Context, bail};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "relais_session";
/// Longest wait for one request (password hashing makes some take tens of milliseconds).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Largest response read: the API's answers here are small.
const MAX_RESPONSE_BYTES: usize = 4 << 20;

/// `host:port` of a websocket or HTTP URL, refused unless the host is a loopback address.
pub fn loopback_authority(url: &str) -> anyhow::Result<String> {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    // Several nodes may be given as `URL|URL`: the first one is used.
    let rest = rest.split('|').next().unwrap_or(rest);
    let authority = rest.split(['/', '?']).next().unwrap_or(rest);
    let host = match authority.strip_prefix('[') {
        Some(bracketed) => bracketed.split(']').next().unwrap_or(bracketed),
        None => authority.rsplit_once(':').map_or(authority, |(host, _)| host),
    };
    let loopback = host.eq_ignore_ascii_case("localhost") || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
    if !loopback {
        bail!("{url}: only loopback addresses are benchmarked");
    }
    Ok(authority.to_owned())
}

/// An HTTP answer: status and JSON body (`Null` when empty or not JSON).
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub set_cookies: Vec<String>,
    pub body: Value,
}

/// A client of one server, signed in or not.
#[derive(Debug, Clone)]
pub struct Api {
    authority: String,
    /// `relais_session=…`, once signed in.
    cookie: Option<String>,
    csrf_token: Option<String>,
}

impl Api {
    pub fn new(authority: &str) -> Self {
        Self { authority: authority.to_owned(), cookie: None, csrf_token: None }
    }

    /// Signs in with a password (`POST /api/session`); returns the client and the session's
    /// JSON (`user`, `csrf_token`).
    pub async fn sign_in(authority: &str, email: &str, password: &str) -> anyhow::Result<(Self, Value)> {
        let mut api = Self::new(authority);
        let answer = api.request("POST", "/api/session", Some(&json!({ "email": email, "password": password }))).await?;
        if answer.status != 200 {
            bail!("sign-in of {email} answered {}: {}", answer.status, answer.body);
        }
        let cookie = answer
            .set_cookies
            .iter()
            .filter_map(|header| header.split(';').next())
            .find(|pair| pair.trim_start().starts_with(&format!("{SESSION_COOKIE}=")))
            .with_context(|| format!("sign-in of {email}: no {SESSION_COOKIE} cookie"))?;
        api.cookie = Some(cookie.trim().to_owned());
        api.csrf_token = answer.body["csrf_token"].as_str().map(ToOwned::to_owned);
        anyhow::ensure!(api.csrf_token.is_some(), "sign-in of {email}: no csrf_token in {}", answer.body);
        Ok((api, answer.body))
    }

    /// `relais_session=…` for the websocket upgrade's `Cookie` header.
    pub fn cookie(&self) -> Option<&str> {
        self.cookie.as_deref()
    }

    /// A request whose answer must have `expected` status; returns its JSON body.
    pub async fn expect(&self, method: &str, path: &str, body: Option<&Value>, expected: u16) -> anyhow::Result<Value> {
        let answer = self.request(method, path, body).await?;
        if answer.status != expected {
            bail!("{method} {path} answered {} (expected {expected}): {}", answer.status, answer.body);
        }
        Ok(answer.body)
    }

    /// One request on a fresh connection, with the session cookie and CSRF token if signed in.
    pub async fn request(&self, method: &str, path: &str, body: Option<&Value>) -> anyhow::Result<Answer> {
        let payload = body.map(Value::to_string).unwrap_or_default();
        let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nAccept: application/json\r\n", self.authority);
        if body.is_some() {
            head.push_str(&format!("Content-Type: application/json\r\nContent-Length: {}\r\n", payload.len()));
        } else if method != "GET" {
            head.push_str("Content-Length: 0\r\n");
        }
        if let Some(cookie) = &self.cookie {
            head.push_str(&format!("Cookie: {cookie}\r\n"));
        }
        if let Some(token) = &self.csrf_token {
            head.push_str(&format!("X-CSRF-Token: {token}\r\n"));
        }
        head.push_str("\r\n");
        let exchange = async {
            let mut stream = TcpStream::connect(&self.authority).await.with_context(|| format!("cannot connect to {}", self.authority))?;
            stream.write_all(head.as_bytes()).await?;
            stream.write_all(payload.as_bytes()).await?;
            let mut raw = Vec::new();
            (&mut stream).take(MAX_RESPONSE_BYTES as u64 + 1).read_to_end(&mut raw).await?;
            anyhow::ensure!(raw.len() <= MAX_RESPONSE_BYTES, "response larger than {MAX_RESPONSE_BYTES} bytes");
            anyhow::Ok(raw)
        };
        let raw = tokio::time::timeout(REQUEST_TIMEOUT, exchange)
            .await
            .with_context(|| format!("{method} {path}: no answer within {REQUEST_TIMEOUT:?}"))?
            .with_context(|| format!("{method} {path}"))?;
        parse_response(&raw).with_context(|| format!("{method} {path}: unreadable response"))
    }
}

/// Parses a complete HTTP/1.1 response (the connection was closed after it).
fn parse_response(raw: &[u8]) -> anyhow::Result<Answer> {
    let split = raw.windows(4).position(|window| window == b"\r\n\r\n").context("no end of headers")?;
    let head = std::str::from_utf8(&raw[..split]).context("headers are not UTF-8")?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().context("no status line")?;
    let status: u16 = status_line.split_whitespace().nth(1).context("no status code")?.parse().context("bad status code")?;
    let mut set_cookies = Vec::new();
    let mut chunked = false;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else { continue };
        let value = value.trim();
        if name.eq_ignore_ascii_case("set-cookie") {
            set_cookies.push(value.to_owned());
        } else if name.eq_ignore_ascii_case("transfer-encoding") && value.eq_ignore_ascii_case("chunked") {
            chunked = true;
        }
    }
    let rest = &raw[split + 4..];
    let body = if chunked { dechunk(rest)? } else { rest.to_vec() };
    let body = serde_json::from_slice(&body).unwrap_or(Value::Null);
    Ok(Answer { status, set_cookies, body })
}

/// Decodes a chunked body.
fn dechunk(mut rest: &[u8]) -> anyhow::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let line_end = rest.windows(2).position(|window| window == b"\r\n").context("unterminated chunk size")?;
        let size_text = std::str::from_utf8(&rest[..line_end])?.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16).context("bad chunk size")?;
        rest = &rest[line_end + 2..];
        if size == 0 {
            return Ok(body);
        }
        anyhow::ensure!(rest.len() >= size + 2, "truncated chunk");
        body.extend_from_slice(&rest[..size]);
        rest = &rest[size + 2..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_only_loopback_authorities() {
        assert_eq!(loopback_authority("ws://127.0.0.1:8080/yjs/{room}?token=x").unwrap(), "127.0.0.1:8080");
        assert_eq!(loopback_authority("ws://localhost:1/chat").unwrap(), "localhost:1");
        assert_eq!(loopback_authority("ws://[::1]:9/x|ws://127.0.0.1:2/").unwrap(), "[::1]:9");
        assert!(loopback_authority("ws://10.0.0.1:8080/").is_err());
        assert!(loopback_authority("http://example.org/").is_err());
    }

    #[test]
    fn parses_plain_and_chunked_responses() {
        let plain = b"HTTP/1.1 201 Created\r\nset-cookie: relais_session=abc; HttpOnly\r\ncontent-length: 8\r\n\r\n{\"a\":1}\n";
        let answer = parse_response(plain).unwrap();
        assert_eq!(answer.status, 201);
        assert_eq!(answer.set_cookies, vec!["relais_session=abc; HttpOnly".to_owned()]);
        assert_eq!(answer.body, json!({"a": 1}));
        let chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n{\"b\"\r\n3\r\n:2}\r\n0\r\n\r\n";
        assert_eq!(parse_response(chunked).unwrap().body, json!({"b": 2}));
        let empty = b"HTTP/1.1 204 No Content\r\n\r\n";
        assert_eq!(parse_response(empty).unwrap().body, Value::Null);
    }
}
