//! The HTTP API client the CLI verbs share: where the daemon is (`--url`,
//! `TOCSIN_URL`, or `server.listen` from the config), which person token to
//! send (`TOCSIN_TOKEN` or `--token-file`), and the turning of daemon errors
//! into one-line messages. It knows paths and JSON, never presentation.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;

use anyhow::{Context, bail};
use reqwest::{Method, StatusCode};
use serde_json::Value;

/// The daemon address when neither `--url` nor the config gives one.
pub const DEFAULT_URL: &str = "http://127.0.0.1:8080";

/// A person-authenticated client for one daemon.
#[derive(Debug, Clone)]
pub struct ApiClient {
    base: String,
    token: String,
    http: reqwest::Client,
    /// API field → the flag of the verb that sent it, for refusals.
    flags: &'static [(&'static str, &'static str)],
}

/// Where the daemon listens: the explicit URL, else `server.listen` of the
/// config, else (no config file, or no `server.listen` in it)
/// [`DEFAULT_URL`]. A config with errors elsewhere (a roster being edited)
/// still names its daemon: `reload` must reach that one and hear why it
/// refuses, not another daemon on the default address.
pub fn base_url(explicit: Option<&str>, config: &Path) -> anyhow::Result<String> {
    if let Some(url) = explicit {
        return Ok(url.trim_end_matches('/').to_string());
    }
    if let Ok(roster) = crate::config::load(config) {
        return Ok(url_for_listen(roster.server.listen));
    }
    let unread = |why: String| {
        anyhow::anyhow!(
            "cannot read server.listen from {}: {why}; give --url (or TOCSIN_URL)",
            config.display()
        )
    };
    match peek(config).map_err(unread)? {
        Some(Peek {
            server: PeekServer {
                listen: Some(listen),
            },
            ..
        }) => {
            let addr = listen
                .trim()
                .parse::<SocketAddr>()
                .map_err(|e| unread(format!("{listen:?}: {e}")))?;
            Ok(url_for_listen(addr))
        }
        _ => Ok(DEFAULT_URL.to_string()),
    }
}

/// What the client verbs need of the main config file, read on its own.
#[derive(Debug, Default, serde::Deserialize)]
pub struct Peek {
    #[serde(default)]
    server: PeekServer,
    pub timezone: Option<String>,
}

#[derive(Debug, Default, serde::Deserialize)]
struct PeekServer {
    listen: Option<String>,
}

/// The main config file's `server.listen` and `timezone`, without its
/// includes or any check of the rest; `None` when there is no such file.
pub fn peek(config: &Path) -> Result<Option<Peek>, String> {
    let text = match std::fs::read_to_string(config) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e.to_string()),
    };
    serde_saphyr::from_str::<Peek>(&text)
        .map(Some)
        .map_err(|e| {
            // The parser draws the line below its message: one line is enough here.
            let e = e.to_string();
            let first = e.lines().next().unwrap_or_default();
            first.trim_start_matches("error: ").to_string()
        })
}

/// `http://` + the listen address, with a wildcard address (`0.0.0.0`,
/// `::`) replaced by loopback: a client cannot connect to "any".
pub fn url_for_listen(listen: SocketAddr) -> String {
    let ip = match listen.ip() {
        IpAddr::V4(v4) if v4.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(v6) if v6.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        other => other,
    };
    format!("http://{}", SocketAddr::new(ip, listen.port()))
}

/// The person token: the file's content when `--token-file` is given, else
/// `TOCSIN_TOKEN` (passed in as `env_token`).
pub fn token(file: Option<&Path>, env_token: Option<String>) -> anyhow::Result<String> {
    let raw = match file {
        Some(path) => std::fs::read_to_string(path)
            .with_context(|| format!("cannot read token file {}", path.display()))?,
        None => env_token.unwrap_or_default(),
    };
    let token = raw.trim().to_string();
    if token.is_empty() {
        bail!("no API token: set TOCSIN_TOKEN to your person token or pass --token-file PATH");
    }
    Ok(token)
}

/// A daemon's refusal in the words of the command line: the reason it
/// gave, the field a 400 names (as the verb's flag once [`Refusal::named`]),
/// and the state a 409 reports. It prints no HTTP status line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub status: u16,
    pub field: Option<String>,
    pub state: Option<String>,
    pub reason: String,
    /// Every problem, when the daemon lists them (a refused reload).
    pub errors: Vec<String>,
}

impl Refusal {
    /// From a failed answer: the daemon's JSON `field`/`reason` or `error`,
    /// else the body's first line, else what was asked (`GET /api/v1/x`: an
    /// endpoint this daemon lacks). White space is folded to one line.
    pub fn from_answer(status: StatusCode, body: &str, request: &str) -> Self {
        let json = serde_json::from_str::<Value>(body).ok();
        let get = |key: &str| {
            json.as_ref()
                .and_then(|v| v[key].as_str())
                .map(str::to_string)
        };
        let field = get("field");
        let reason = field
            .as_ref()
            .and_then(|_| get("reason"))
            .or_else(|| get("error"))
            .or_else(|| {
                body.lines()
                    .map(str::trim)
                    .find(|l| !l.is_empty())
                    .map(str::to_string)
            })
            .unwrap_or_else(|| match status.as_u16() {
                404 => format!("{request}: not on this daemon (an older version?)"),
                code => format!("{request} failed ({code})"),
            });
        Self {
            status: status.as_u16(),
            field: field.filter(|_| json.as_ref().is_some_and(|v| v["reason"].is_string())),
            state: get("state"),
            errors: json
                .as_ref()
                .and_then(|v| v["errors"].as_array())
                .map(|a| {
                    a.iter()
                        .filter_map(|e| e.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default(),
            reason: reason.split_whitespace().collect::<Vec<_>>().join(" "),
        }
    }

    /// The field as the verb's flag (`("ttl", "--for")`); a field the verb
    /// has no flag for keeps its API name.
    pub fn named(mut self, flags: &[(&str, &str)]) -> Self {
        if let Some(flag) = self
            .field
            .as_deref()
            .and_then(|f| flags.iter().find(|(field, _)| *field == f))
            .map(|(_, flag)| (*flag).to_string())
        {
            self.field = Some(flag);
        }
        self
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.field, self.status) {
            (Some(field), _) => write!(f, "{field}: {}", self.reason),
            (None, 401) => write!(f, "{} (check TOCSIN_TOKEN or --token-file)", self.reason),
            (None, 500..) => write!(f, "the daemon failed: {}", self.reason),
            (None, _) => f.write_str(&self.reason),
        }
    }
}

impl std::error::Error for Refusal {}

/// `GET /readyz` of the daemon at `base`: Ok on 200, else why not ready.
pub async fn check_ready(base: &str) -> anyhow::Result<()> {
    let http = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(3))
        .build()
        .context("cannot build the HTTP client")?;
    let resp = http
        .get(format!("{base}/readyz"))
        .send()
        .await
        .with_context(|| format!("no answer from {base}"))?;
    let status = resp.status();
    if status.is_success() {
        return Ok(());
    }
    let body = resp.text().await.unwrap_or_default();
    bail!(
        "not ready: {}",
        Refusal::from_answer(status, &body, "GET /readyz")
    )
}

impl ApiClient {
    pub fn new(base: String, token: String) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(30))
            .user_agent(concat!("tocsin-cli/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("cannot build the HTTP client")?;
        Ok(Self {
            base,
            token,
            http,
            flags: &[],
        })
    }

    /// This client, naming a refused field by the verb's flag: each pair
    /// is (API field, flag), e.g. `("ttl", "--for")`.
    pub fn naming(&self, flags: &'static [(&'static str, &'static str)]) -> Self {
        Self {
            flags,
            ..self.clone()
        }
    }

    /// `GET path` with query pairs (pairs with `None` values are left out).
    pub async fn get(&self, path: &str, query: &[(&str, Option<&str>)]) -> anyhow::Result<Value> {
        let pairs: Vec<(&str, &str)> = query
            .iter()
            .filter_map(|(k, v)| v.map(|v| (*k, v)))
            .collect();
        self.send(Method::GET, path, &pairs, None).await
    }

    /// Every item of the list `key` at `path`, following `next_cursor`
    /// page by page (the largest pages the server gives).
    pub async fn get_all(
        &self,
        path: &str,
        query: &[(&str, Option<&str>)],
        key: &str,
    ) -> anyhow::Result<Vec<Value>> {
        let max = crate::limits::PAGE_MAX.to_string();
        let mut items = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut q = query.to_vec();
            q.push(("limit", Some(max.as_str())));
            q.push(("cursor", cursor.as_deref()));
            let mut page = self.get(path, &q).await?;
            if let Some(Value::Array(list)) = page.get_mut(key).map(Value::take) {
                items.extend(list);
            }
            match page.get("next_cursor").and_then(Value::as_str) {
                Some(next) if cursor.as_deref() != Some(next) => cursor = Some(next.to_string()),
                _ => return Ok(items),
            }
        }
    }

    pub async fn post(&self, path: &str, body: &Value) -> anyhow::Result<Value> {
        self.send(Method::POST, path, &[], Some(body)).await
    }

    pub async fn put(&self, path: &str, body: &Value) -> anyhow::Result<Value> {
        self.send(Method::PUT, path, &[], Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> anyhow::Result<Value> {
        self.send(Method::DELETE, path, &[], None).await
    }

    pub async fn patch(&self, path: &str, body: &Value) -> anyhow::Result<Value> {
        self.send(Method::PATCH, path, &[], Some(body)).await
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
    ) -> anyhow::Result<Value> {
        let url = format!("{}{}", self.base, path);
        let request = format!("{method} {path}");
        let mut req = self
            .http
            .request(method, &url)
            .bearer_auth(&self.token)
            .query(query);
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req.send().await.map_err(|e| {
            anyhow::anyhow!("cannot reach the daemon at {}: {}", self.base, root(&e))
        })?;
        let status = resp.status();
        let text = resp
            .text()
            .await
            .map_err(|e| anyhow::anyhow!("reading the answer from {url}: {}", root(&e)))?;
        if !status.is_success() {
            return Err(Refusal::from_answer(status, &text, &request)
                .named(self.flags)
                .into());
        }
        if text.trim().is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_str(&text).with_context(|| format!("{url} answered with invalid JSON"))
    }
}

/// The innermost cause of a reqwest error ("Connection refused"), which is
/// what a person can act on; the outer layers repeat the URL.
fn root(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_read_as_one_line_without_a_status() {
        let flags: &[(&str, &str)] = &[("ttl", "--for"), ("person", "--by")];
        for (status, body, expected) in [
            (
                409,
                r#"{"error":"incident 3 is resolved","state":"resolved"}"#,
                "incident 3 is resolved",
            ),
            (
                400,
                r#"{"error":"ttl: too long","field":"ttl","reason":"too long"}"#,
                "--for: too long",
            ),
            (
                400,
                r#"{"error":"person: unknown \"x\"","field":"person","reason":"unknown \"x\""}"#,
                "--by: unknown \"x\"",
            ),
            (
                400,
                r#"{"error":"body: bad","field":"body","reason":"bad"}"#,
                "body: bad",
            ),
            (403, r#"{"error":"bob may not"}"#, "bob may not"),
            (
                401,
                r#"{"error":"unknown token"}"#,
                "unknown token (check TOCSIN_TOKEN or --token-file)",
            ),
            (404, "", "GET /x: not on this daemon (an older version?)"),
            (
                502,
                "\n  bad gateway\nmore",
                "the daemon failed: bad gateway",
            ),
            (400, r#"{"nope":1}"#, r#"{"nope":1}"#),
            (400, r#"{"error":"layer:\n  unknown"}"#, "layer: unknown"),
        ] {
            let status = StatusCode::from_u16(status).expect("valid status");
            let r = Refusal::from_answer(status, body, "GET /x").named(flags);
            assert_eq!(r.to_string(), expected, "{body:?}");
        }
        let r = Refusal::from_answer(
            StatusCode::CONFLICT,
            r#"{"error":"incident 3 is resolved","state":"resolved"}"#,
            "POST /x",
        );
        assert_eq!((r.status, r.state.as_deref()), (409, Some("resolved")));
    }

    #[test]
    fn listen_addresses_become_urls() {
        for (listen, expected) in [
            ("127.0.0.1:8080", "http://127.0.0.1:8080"),
            ("0.0.0.0:9000", "http://127.0.0.1:9000"),
            ("[::]:80", "http://[::1]:80"),
            ("10.0.0.5:8080", "http://10.0.0.5:8080"),
        ] {
            let addr: SocketAddr = listen.parse().expect("valid address");
            assert_eq!(url_for_listen(addr), expected, "{listen}");
        }
    }

    #[test]
    fn tokens_come_from_the_environment_trimmed() {
        assert_eq!(
            token(None, Some(" abc\n".into())).expect("token"),
            "abc".to_string()
        );
        for missing in [None, Some(String::new()), Some("  \n".into())] {
            let err = token(None, missing.clone()).expect_err("no token");
            assert!(err.to_string().contains("TOCSIN_TOKEN"), "{missing:?}");
        }
    }
}
