//! Mobile push through ntfy (self-hosted or ntfy.sh): one `POST
//! {base_url}/{topic}` per message, the text as the body, `Title`,
//! `Priority` (urgent for pages, default for notices), `Tags`, and for a
//! page two `http` actions (`Actions` header) that POST to the signed
//! acknowledge and resolve links, so a tap acts without opening anything.
//!
//! Owns: the push page document kept in the outbox row ([`page`]) and the
//! request shape. Must not: read the clock (links are signed when the page
//! is queued) or let the access token reach a log line.

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use super::notifier::{Notifier, SendFuture};
use super::{SendError, classify, message};
use crate::incident::{Incident, OutboxRow};

/// What a push page carries: its words and the two signed links. Kept as
/// JSON in the outbox row's body, so the links are those signed when the
/// page was queued.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushPage {
    pub text: String,
    pub ack: String,
    pub resolve: String,
}

/// The body of a push page for `inc`.
pub fn page(inc: &Incident, ack: &str, resolve: &str) -> String {
    let page = PushPage {
        text: format!(
            "Incident {} needs a responder: {}",
            inc.id,
            message::one_line(&inc.title)
        ),
        ack: ack.to_owned(),
        resolve: resolve.to_owned(),
    };
    serde_json::to_string(&page).unwrap_or_default()
}

/// The headers of one ntfy message (besides authorization) and its body.
pub fn request(row: &OutboxRow) -> (Vec<(&'static str, String)>, String) {
    let mut headers = vec![("Title", header_text(&row.subject))];
    let page = (row.kind == "page")
        .then(|| serde_json::from_str::<PushPage>(&row.body).ok())
        .flatten();
    if row.kind == "page" {
        headers.push(("Priority", "urgent".into()));
        headers.push(("Tags", "rotating_light".into()));
    } else {
        headers.push(("Priority", "default".into()));
    }
    let body = match &page {
        Some(p) => {
            headers.push((
                "Actions",
                format!(
                    "http, Acknowledge, {}, method=POST, clear=true; http, Resolve, {}, method=POST, clear=true",
                    quoted(&p.ack),
                    quoted(&p.resolve)
                ),
            ));
            p.text.clone()
        }
        None => row.body.clone(),
    };
    (headers, body)
}

/// A header value ntfy reads back as `text`: plain when ASCII, else RFC
/// 2047 encoded-word (ntfy decodes `=?UTF-8?B?...?=`).
fn header_text(text: &str) -> String {
    let line = message::one_line(text);
    if line.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        line
    } else {
        format!(
            "=?UTF-8?B?{}?=",
            base64::engine::general_purpose::STANDARD.encode(line)
        )
    }
}

/// An action field, quoted when it holds a separator.
fn quoted(value: &str) -> String {
    if value.contains([',', ';', '"']) {
        format!("'{}'", value.replace('\'', "%27"))
    } else {
        value.to_owned()
    }
}

/// Publishes to a person's topic on one ntfy server.
pub struct Ntfy {
    pub http: reqwest::Client,
    /// The server's URL without a trailing slash.
    pub base: String,
    pub token: Option<String>,
}

impl Notifier for Ntfy {
    fn provider(&self) -> &'static str {
        "ntfy"
    }
    fn send<'a>(&'a self, row: &'a OutboxRow) -> SendFuture<'a> {
        Box::pin(async move {
            let topic = row.target.trim();
            if topic.is_empty() || topic.contains(['/', '?', '#']) {
                return Err(SendError::Permanent {
                    code: None,
                    reason: format!("not an ntfy topic: {topic:?}"),
                });
            }
            let (headers, body) = request(row);
            let mut builder = self.http.post(format!("{}/{topic}", self.base)).body(body);
            for (name, value) in headers {
                builder = builder.header(name, value);
            }
            if let Some(token) = &self.token {
                builder = builder.bearer_auth(token);
            }
            let response = builder.send().await.map_err(classify::transport)?;
            let status = response.status();
            let retry_after = classify::retry_after(response.headers());
            let text = response.text().await.map_err(classify::transport)?;
            if !status.is_success() {
                let reason = format!("ntfy HTTP {}: {}", status.as_u16(), classify::quote(&text));
                return Err(classify::http_failure(reason, status, retry_after, None));
            }
            let id = serde_json::from_str::<serde_json::Value>(&text)
                .ok()
                .and_then(|v| v["id"].as_str().map(str::to_owned));
            Ok(id)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(kind: &str, subject: &str, body: &str) -> OutboxRow {
        OutboxRow::pending(
            kind,
            "push",
            "alice-pages".into(),
            subject.into(),
            body.into(),
            chrono::DateTime::UNIX_EPOCH,
        )
    }

    #[test]
    fn requests() {
        fn check(row: OutboxRow, headers: &[(&str, &str)], body: &str) {
            let (got_headers, got_body) = request(&row);
            let got: Vec<(&str, &str)> =
                got_headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
            assert_eq!(got, headers);
            assert_eq!(got_body, body);
        }
        let page = serde_json::to_string(&PushPage {
            text: "Incident 7 needs a responder: disk full".into(),
            ack: "https://t.example/a/AAA".into(),
            resolve: "https://t.example/a/B,B".into(),
        })
        .expect("json");
        check(
            row("page", "#7 [critical] shop: disk full", &page),
            &[
                ("Title", "#7 [critical] shop: disk full"),
                ("Priority", "urgent"),
                ("Tags", "rotating_light"),
                (
                    "Actions",
                    "http, Acknowledge, https://t.example/a/AAA, method=POST, clear=true; http, Resolve, 'https://t.example/a/B,B', method=POST, clear=true",
                ),
            ],
            "Incident 7 needs a responder: disk full",
        );
        check(
            row("notice", "tocsin: zoë took #7", "zoë took it"),
            &[
                ("Title", "=?UTF-8?B?dG9jc2luOiB6b8OrIHRvb2sgIzc=?="),
                ("Priority", "default"),
            ],
            "zoë took it",
        );
        // A page whose body is not a push document is sent as plain text.
        check(
            row("page", "t", "plain"),
            &[
                ("Title", "t"),
                ("Priority", "urgent"),
                ("Tags", "rotating_light"),
            ],
            "plain",
        );
    }
}
