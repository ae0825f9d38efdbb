//! OpenID Connect in tests: a real provider (npm `oidc-provider`, driven by
//! `node/oidc-provider.mjs`) and [`Browser`], a small cookie-keeping HTTP client that walks
//! the sign-in redirects and posts the provider's login and consent forms like a person would.

use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, bail};
use cookie::Cookie;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use url::Url;

use crate::node::node_dir;

/// A running `oidc-provider` with one confidential client; killed on drop.
pub struct OidcProvider {
    _child: Child,
    issuer: String,
}

/// How the provider is set up.
#[derive(Clone, Debug)]
pub struct ProviderOptions {
    pub client_id: String,
    pub client_secret: String,
    /// The one redirect URI the client may use.
    pub redirect_uri: String,
    /// Answer userinfo as a signed JWT (as ProConnect does) rather than JSON.
    pub jwt_userinfo: bool,
}

impl OidcProvider {
    /// Starts the provider on a free loopback port; returns once it listens.
    pub async fn start(options: &ProviderOptions) -> anyhow::Result<Self> {
        let dir = node_dir();
        if !dir.join("node_modules/oidc-provider").is_dir() {
            bail!(
                "{} has no node_modules/oidc-provider: run `npm ci` there (the test script does)",
                dir.display()
            );
        }
        let mut command = Command::new("node");
        command
            .arg(dir.join("oidc-provider.mjs"))
            .args(["--port", "0"])
            .args(["--client-id", &options.client_id])
            .args(["--client-secret", &options.client_secret])
            .args(["--redirect-uri", &options.redirect_uri])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            // Shown with a failing test's output (it warns about development keys and the
            // Node version: expected).
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        if options.jwt_userinfo {
            command.arg("--jwt-userinfo");
        }
        let mut child = command.spawn().context("cannot start node")?;
        let stdout = child.stdout.take().context("no stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
            .await
            .context("oidc-provider did not start within 30 s")??
            .context("oidc-provider exited before listening")?;
        let issuer = line
            .strip_prefix("listening ")
            .with_context(|| format!("unexpected first line: {line}"))?
            .to_owned();
        // Keep reading: a closed pipe would kill the provider at its next write (EPIPE).
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(Self {
            _child: child,
            issuer,
        })
    }

    /// The issuer URL, e.g. `http://127.0.0.1:PORT`.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }
}

/// A free loopback port, for a server whose public URL must be known before it starts.
/// (Another process could take it in between; on a test machine that is unlikely.)
pub fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// One HTTP response as a browser sees it.
#[derive(Debug)]
pub struct Page {
    pub url: Url,
    pub status: u16,
    /// The `Location` header, resolved against `url`.
    pub location: Option<Url>,
    /// Every `Set-Cookie` header, as sent.
    pub set_cookies: Vec<String>,
    pub body: String,
}

impl Page {
    /// The `Set-Cookie` header for `name`, if any.
    pub fn set_cookie(&self, name: &str) -> Option<Cookie<'static>> {
        self.set_cookies
            .iter()
            .filter_map(|header| Cookie::parse(header.clone()).ok())
            .find(|cookie| cookie.name() == name)
    }
}

/// A cookie-keeping client that never follows redirects by itself. Like a browser, it
/// scopes cookies by host (not port) and path.
pub struct Browser {
    http: reqwest::Client,
    jar: Vec<(String, Cookie<'static>)>,
}

impl Browser {
    pub fn new() -> anyhow::Result<Self> {
        // reqwest is built without a default crypto provider; plain HTTP needs none, but
        // building a client wants one installed.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()?;
        Ok(Self {
            http,
            jar: Vec::new(),
        })
    }

    pub async fn get(&mut self, url: &str) -> anyhow::Result<Page> {
        let url = Url::parse(url)?;
        let request = self.http.get(url.clone());
        self.send(url, request).await
    }

    /// Posts `fields` as `application/x-www-form-urlencoded`.
    pub async fn post_form(
        &mut self,
        url: &str,
        fields: &[(String, String)],
    ) -> anyhow::Result<Page> {
        let url = Url::parse(url)?;
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish();
        let request = self
            .http
            .post(url.clone())
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(body);
        self.send(url, request).await
    }

    async fn send(&mut self, url: Url, request: reqwest::RequestBuilder) -> anyhow::Result<Page> {
        let request = match self.cookie_header(&url) {
            Some(cookies) => request.header(reqwest::header::COOKIE, cookies),
            None => request,
        };
        let response = request
            .send()
            .await
            .with_context(|| format!("request to {url}"))?;
        let status = response.status().as_u16();
        let location = match response.headers().get(reqwest::header::LOCATION) {
            Some(value) => Some(url.join(value.to_str()?)?),
            None => None,
        };
        let set_cookies: Vec<String> = response
            .headers()
            .get_all(reqwest::header::SET_COOKIE)
            .iter()
            .filter_map(|value| value.to_str().ok().map(ToOwned::to_owned))
            .collect();
        for header in &set_cookies {
            if let Ok(cookie) = Cookie::parse(header.clone()) {
                self.store(&url, cookie);
            }
        }
        let body = response.text().await?;
        Ok(Page {
            url,
            status,
            location,
            set_cookies,
            body,
        })
    }

    fn store(&mut self, url: &Url, mut cookie: Cookie<'static>) {
        let host = url.host_str().unwrap_or_default().to_owned();
        if cookie.path().is_none() {
            // The default path: the request path up to its last '/'.
            let path = url.path();
            let default = match path.rfind('/') {
                Some(0) | None => "/".to_owned(),
                Some(end) => path[..end].to_owned(),
            };
            cookie.set_path(default);
        }
        let path = cookie.path().unwrap_or("/").to_owned();
        self.jar.retain(|(known_host, known)| {
            !(known_host == &host
                && known.name() == cookie.name()
                && known.path().unwrap_or("/") == path)
        });
        let expired = cookie
            .max_age()
            .is_some_and(|age| age.is_zero() || age.is_negative())
            || cookie
                .expires_datetime()
                .is_some_and(|expires| expires <= cookie::time::OffsetDateTime::now_utc());
        if !expired {
            self.jar.push((host, cookie));
        }
    }

    fn cookie_header(&self, url: &Url) -> Option<String> {
        let host = url.host_str().unwrap_or_default();
        let cookies: Vec<String> = self
            .jar
            .iter()
            .filter(|(known_host, cookie)| {
                known_host == host && path_matches(cookie.path().unwrap_or("/"), url.path())
            })
            .map(|(_, cookie)| format!("{}={}", cookie.name(), cookie.value()))
            .collect();
        (!cookies.is_empty()).then(|| cookies.join("; "))
    }

    /// The value of the cookie `name` this browser holds for `url`'s host, if any.
    pub fn cookie(&self, url: &str, name: &str) -> Option<String> {
        let host = Url::parse(url).ok()?.host_str()?.to_owned();
        self.jar
            .iter()
            .find(|(known_host, cookie)| *known_host == host && cookie.name() == name)
            .map(|(_, cookie)| cookie.value().to_owned())
    }

    /// Replaces (or adds) a cookie for `url`'s host, e.g. to tamper with it.
    pub fn set_cookie(
        &mut self,
        url: &str,
        name: &str,
        value: &str,
        path: &str,
    ) -> anyhow::Result<()> {
        let url = Url::parse(url)?;
        let cookie = Cookie::build((name.to_owned(), value.to_owned()))
            .path(path.to_owned())
            .build();
        self.store(&url, cookie);
        Ok(())
    }

    /// Forgets the cookie `name` for `url`'s host.
    pub fn remove_cookie(&mut self, url: &str, name: &str) -> anyhow::Result<()> {
        let host = Url::parse(url)?.host_str().unwrap_or_default().to_owned();
        self.jar
            .retain(|(known_host, cookie)| !(*known_host == host && cookie.name() == name));
        Ok(())
    }

    /// Goes to `start` (the provider's authorization URL) and follows redirects, signing in as
    /// `login` (any password) and consenting whenever the provider shows a form, until the
    /// provider sends the browser to a URL starting with `stop_prefix` (the client's redirect
    /// URI), which is returned without being requested.
    pub async fn sign_in_at_provider(
        &mut self,
        start: &Url,
        login: &str,
        stop_prefix: &str,
    ) -> anyhow::Result<Url> {
        let mut page = self.get(start.as_str()).await?;
        for _ in 0..20 {
            if let Some(location) = page.location.clone() {
                if location.as_str().starts_with(stop_prefix) {
                    return Ok(location);
                }
                page = self.get(location.as_str()).await?;
                continue;
            }
            if page.status != 200 {
                bail!(
                    "the provider answered {} at {}: {}",
                    page.status,
                    page.url,
                    page.body
                );
            }
            let form = Form::parse(&page.body)
                .with_context(|| format!("no form at {}: {}", page.url, page.body))?;
            let action = page.url.join(&form.action)?;
            let fields: Vec<(String, String)> = form
                .fields
                .into_iter()
                .chain(
                    form.inputs
                        .into_iter()
                        .filter_map(|name| match name.as_str() {
                            "login" => Some((name, login.to_owned())),
                            "password" => Some((name, "any password".to_owned())),
                            _ => None,
                        }),
                )
                .collect();
            page = self.post_form(action.as_str(), &fields).await?;
        }
        bail!("the provider did not redirect to {stop_prefix} within 20 steps")
    }
}

/// Whether a cookie with path `cookie_path` is sent for `request_path` (RFC 6265 path-match).
fn path_matches(cookie_path: &str, request_path: &str) -> bool {
    request_path == cookie_path
        || (request_path.starts_with(cookie_path)
            && (cookie_path.ends_with('/') || request_path[cookie_path.len()..].starts_with('/')))
}

/// The first HTML form of a page: its action, its hidden fields with their values, and the
/// names of the fields a person fills in.
struct Form {
    action: String,
    fields: Vec<(String, String)>,
    inputs: Vec<String>,
}

impl Form {
    fn parse(html: &str) -> Option<Self> {
        let start = html.find("<form")?;
        let end = html[start..]
            .find("</form>")
            .map_or(html.len(), |end| start + end);
        let form = &html[start..end];
        let tag_end = form.find('>')?;
        let action = unescape(&attribute(&form[..tag_end], "action")?);
        let mut fields = Vec::new();
        let mut inputs = Vec::new();
        for input in form.split("<input").skip(1) {
            let tag = &input[..input.find('>').unwrap_or(input.len())];
            let Some(name) = attribute(tag, "name") else {
                continue;
            };
            if attribute(tag, "type").as_deref() == Some("hidden") {
                fields.push((name, unescape(&attribute(tag, "value").unwrap_or_default())));
            } else {
                inputs.push(name);
            }
        }
        Some(Self {
            action,
            fields,
            inputs,
        })
    }
}

/// The double-quoted value of `name="..."` in a tag.
fn attribute(tag: &str, name: &str) -> Option<String> {
    let needle = format!(" {name}=\"");
    let start = tag.find(&needle)? + needle.len();
    let end = tag[start..].find('"')? + start;
    Some(tag[start..end].to_owned())
}

fn unescape(text: &str) -> String {
    text.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_provider_forms() {
        let html = r#"<div><form autocomplete="off" action="/interaction/abc/login?a=1&amp;b=2" method="post">
  <input type="hidden" name="prompt" value="login"/>
  <input required type="text" name="login" placeholder="Enter any login" autofocus="on">
  <input required type="password" name="password" placeholder="and password" >
  <button type="submit">Sign-in</button></form></div>"#;
        let form = Form::parse(html).unwrap();
        assert_eq!(form.action, "/interaction/abc/login?a=1&b=2");
        assert_eq!(form.fields, vec![("prompt".to_owned(), "login".to_owned())]);
        assert_eq!(form.inputs, vec!["login".to_owned(), "password".to_owned()]);
    }

    #[test]
    fn cookie_paths_match_like_browsers() {
        assert!(path_matches("/", "/anything"));
        assert!(path_matches("/api/auth/oidc", "/api/auth/oidc/callback"));
        assert!(path_matches("/api/auth/oidc", "/api/auth/oidc"));
        assert!(!path_matches("/api/auth/oidc", "/api/auth/oidcx"));
        assert!(!path_matches("/api/auth/oidc", "/api/session"));
    }
}
