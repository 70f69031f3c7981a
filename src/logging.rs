//! The daemon's log: one event per line on stderr, as text or JSON
//! (`TOCSIN_LOG_FORMAT`), levels from `RUST_LOG`, colour only on a terminal.
//!
//! Every line is scrubbed on its way out, whatever it carries: a line break
//! inside a value is escaped (a multi-line SMS body stays one event), and
//! credentials are redacted: acknowledge-link tokens (`/a/<token>`), query
//! values named `…token` (calendar feeds) and `Bearer`/`Basic` credentials.
//! Request spans record the method and URI only, never headers.

use std::borrow::Cow;
use std::io::{IsTerminal, Write};
use std::sync::LazyLock;

use regex::Regex;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// What stands in for a redacted secret.
pub const REDACTED: &str = "…";

/// Installs the global subscriber (once; later calls change nothing).
pub fn init() {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,tower_http=info"));
    let format = std::env::var("TOCSIN_LOG_FORMAT").unwrap_or_default();
    let colour = std::io::stderr().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(colour)
        .with_writer(Scrubbed);
    let _ = if format == "json" {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
    if !matches!(format.as_str(), "" | "text" | "json") {
        tracing::warn!(TOCSIN_LOG_FORMAT = %format, "unknown log format; writing text (text | json)");
    }
}

/// Hands stderr a scrubbed copy of each event. The formatter writes an
/// event with one `write_all`, which reaches `write` whole.
struct Scrubbed;

impl<'a> MakeWriter<'a> for Scrubbed {
    type Writer = Scrubbed;
    fn make_writer(&'a self) -> Scrubbed {
        Scrubbed
    }
}

impl Write for Scrubbed {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let event = String::from_utf8_lossy(buf);
        std::io::stderr()
            .lock()
            .write_all(scrub(&event).as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

/// One formatted event as it may be written: line breaks before the final
/// one escaped (`\n`, `\r`), secrets redacted.
pub fn scrub(event: &str) -> Cow<'_, str> {
    let (body, end) = match event.strip_suffix('\n') {
        Some(body) => (body, "\n"),
        None => (event, ""),
    };
    match redact(body) {
        b if b.contains(['\n', '\r']) => {
            Cow::Owned(b.replace('\n', "\\n").replace('\r', "\\r") + end)
        }
        Cow::Borrowed(_) => Cow::Borrowed(event),
        Cow::Owned(b) => Cow::Owned(b + end),
    }
}

/// `text` with every credential replaced by [`REDACTED`].
pub fn redact(text: &str) -> Cow<'_, str> {
    static RULES: LazyLock<[(Regex, &str); 3]> = LazyLock::new(|| {
        let rule = |pattern: &str, keep: &'static str| {
            (Regex::new(pattern).expect("a valid pattern"), keep)
        };
        [
            // Acknowledge links: https://host/a/<token>, and request paths.
            rule(r#"/a/[^\s/?#"'<>\\]+"#, "/a/…"),
            // ?token=, &calendar_token=: feeds and links that carry a token.
            rule(r#"(?i)\b([a-z_]*token)=[^\s&#"'<>\\]+"#, "${1}=…"),
            rule(r#"(?i)\b(bearer|basic) +[A-Za-z0-9+/=._~-]+"#, "${1} …"),
        ]
    });
    let mut out = Cow::Borrowed(text);
    for (pattern, with) in RULES.iter() {
        if let Cow::Owned(s) = pattern.replace_all(&out, *with) {
            out = Cow::Owned(s);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expected: &str) {
        assert_eq!(scrub(input), expected, "{input:?}");
    }

    #[test]
    fn each_event_is_one_line_without_secrets() {
        for (input, expected) in [
            ("plain event\n", "plain event\n"),
            ("no newline at all", "no newline at all"),
            (
                "body=#7 shop: Disk full\nAck: reply a7\r\n\n",
                "body=#7 shop: Disk full\\nAck: reply a7\\r\\n\n",
            ),
            (
                "request{method=GET uri=/a/eyJpIjo3fQ.c2ln version=HTTP/1.1}: started\n",
                "request{method=GET uri=/a/… version=HTTP/1.1}: started\n",
            ),
            (
                "body=Ack: https://tocsin.example/a/AbC-_9 (24h)\n",
                "body=Ack: https://tocsin.example/a/… (24h)\n",
            ),
            (
                r#"{"span":{"uri":"/api/v1/people/alice/ical?token=s3cr3t&x=1"}}"#,
                r#"{"span":{"uri":"/api/v1/people/alice/ical?token=…&x=1"}}"#,
            ),
            (
                "uri=/status/acme?Token=abc#top calendar_token=xyz\n",
                "uri=/status/acme?Token=…#top calendar_token=…\n",
            ),
            (
                "authorization: Bearer tok-123.x, authorization: Basic dXNlcjpwYXNz\n",
                "authorization: Bearer …, authorization: Basic …\n",
            ),
            // What is not a credential stays as it was.
            (
                "path=/api/v1/incidents/7/acknowledge key=escalation:7 tokens=3\n",
                "path=/api/v1/incidents/7/acknowledge key=escalation:7 tokens=3\n",
            ),
        ] {
            check(input, expected);
        }
    }
}
