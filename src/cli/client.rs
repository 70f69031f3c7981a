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
}

/// Where the daemon listens: the explicit URL, else `server.listen` of the
/// config when it loads, else [`DEFAULT_URL`].
pub fn base_url(explicit: Option<&str>, config: &Path) -> String {
    if let Some(url) = explicit {
        return url.trim_end_matches('/').to_string();
    }
    match crate::config::load(config) {
        Ok(roster) => url_for_listen(roster.server.listen),
        Err(_) => DEFAULT_URL.to_string(),
    }
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

/// The one line shown for a failed call: `<status>: <error>`, taking the
/// daemon's JSON `error` when there is one, else the body's first line, else
/// `request` (`GET /api/v1/route`: an endpoint this daemon lacks).
pub fn error_line(status: StatusCode, body: &str, request: &str) -> String {
    let from_json = serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| v["error"].as_str().map(str::to_string));
    let message = from_json
        .or_else(|| {
            body.lines()
                .map(str::trim)
                .find(|l| !l.is_empty())
                .map(str::to_string)
        })
        .unwrap_or_else(|| request.to_string());
    format!(
        "{status}: {}",
        message.split_whitespace().collect::<Vec<_>>().join(" ")
    )
}

impl ApiClient {
    pub fn new(base: String, token: String) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(30))
            .user_agent(concat!("tocsin-cli/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("cannot build the HTTP client")?;
        Ok(Self { base, token, http })
    }

    /// `GET path` with query pairs (pairs with `None` values are left out).
    pub async fn get(&self, path: &str, query: &[(&str, Option<&str>)]) -> anyhow::Result<Value> {
        let pairs: Vec<(&str, &str)> = query
            .iter()
            .filter_map(|(k, v)| v.map(|v| (*k, v)))
            .collect();
        self.send(Method::GET, path, &pairs, None).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> anyhow::Result<Value> {
        self.send(Method::POST, path, &[], Some(body)).await
    }

    pub async fn put(&self, path: &str, body: &Value) -> anyhow::Result<Value> {
        self.send(Method::PUT, path, &[], Some(body)).await
    }

    pub async fn patch(&self, path: &str, body: &Value) -> anyhow::Result<Value> {
        self.send(Method::PATCH, path, &[], Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> anyhow::Result<Value> {
        self.send(Method::DELETE, path, &[], None).await
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
            bail!("{}", error_line(status, &text, &request));
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
    fn error_lines_prefer_the_daemons_json() {
        for (status, body, expected) in [
            (
                409,
                r#"{"error":"incident 3 is resolved","state":"resolved"}"#,
                "409 Conflict: incident 3 is resolved",
            ),
            (404, "", "404 Not Found: GET /x"),
            (502, "\n  bad gateway\nmore", "502 Bad Gateway: bad gateway"),
            (400, r#"{"nope":1}"#, r#"400 Bad Request: {"nope":1}"#),
            (
                400,
                r#"{"error":"layer:\n  unknown"}"#,
                "400 Bad Request: layer: unknown",
            ),
        ] {
            let status = StatusCode::from_u16(status).expect("valid status");
            assert_eq!(error_line(status, body, "GET /x"), expected, "{body:?}");
        }
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
