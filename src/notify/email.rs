//! Email over SMTP (lettre): one multipart/alternative message per send.
//!
//! Owns: building the SMTP transport from `providers.smtp` (none, STARTTLS,
//! implicit TLS; optional credentials), the send deadline, and reading
//! lettre's failures into [`SendError`]. Must not: retry (the outbox
//! decides), render page contents (the caller passes subject, text and
//! HTML), or let the SMTP password reach a log line or an error reason.
//!
//! [`fake_smtp`] is a small loopback SMTP server for this crate's unit and
//! integration tests; it is not used by the daemon.

pub mod fake_smtp;
#[cfg(test)]
mod tests;

use std::fmt;
use std::time::Duration;

use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::PoolConfig;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::config::{Smtp, SmtpTls};
use crate::notify::SendError;

/// Deadline for one whole send: connect, greeting, AUTH, envelope, DATA.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// Sends email through the configured SMTP relay.
#[derive(Clone)]
pub struct EmailSender {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    timeout: Duration,
}

impl fmt::Debug for EmailSender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // lettre's own Debug would show the transport's settings; keep it to
        // what is safe in a log line.
        f.debug_struct("EmailSender")
            .field("from", &self.from.to_string())
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl EmailSender {
    /// A sender for `smtp` with [`DEFAULT_TIMEOUT`]. Must be called inside a
    /// tokio runtime (lettre's pool spawns its reaper task at build time).
    pub fn new(smtp: &Smtp) -> Result<EmailSender, String> {
        Self::with_timeout(smtp, DEFAULT_TIMEOUT)
    }

    /// A sender whose every send gives up after `timeout`.
    pub fn with_timeout(smtp: &Smtp, timeout: Duration) -> Result<EmailSender, String> {
        if tokio::runtime::Handle::try_current().is_err() {
            return Err("the SMTP sender must be built inside a tokio runtime".into());
        }
        let from: Mailbox = smtp
            .from
            .parse()
            .map_err(|e| format!("smtp.from {:?} is not an email address: {e}", smtp.from))?;
        let builder = match smtp.tls {
            SmtpTls::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&smtp.host),
            SmtpTls::StartTls => {
                AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&smtp.host)
                    .map_err(|e| format!("smtp STARTTLS setup for {}: {e}", smtp.host))?
            }
            SmtpTls::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&smtp.host)
                .map_err(|e| format!("smtp TLS setup for {}: {e}", smtp.host))?,
        };
        let builder = match (&smtp.username, &smtp.password) {
            (Some(user), Some(password)) => {
                builder.credentials(Credentials::new(user.clone(), password.expose().to_owned()))
            }
            (None, None) => builder,
            _ => return Err("smtp username and password must be set together".into()),
        };
        // No connection reuse: a send cut off by the deadline would otherwise
        // go back to the pool mid-dialogue and desynchronise the next one.
        // Pages are rare enough that a fresh connection each time costs nothing.
        let transport = builder
            .port(smtp.port)
            .timeout(Some(timeout))
            .pool_config(PoolConfig::new().max_size(0))
            .build();
        Ok(EmailSender {
            transport,
            from,
            timeout,
        })
    }

    /// Sends one message with a plain-text and an HTML alternative.
    pub async fn send(
        &self,
        to: &str,
        subject: &str,
        text: &str,
        html: &str,
    ) -> Result<(), SendError> {
        let message = self.message(to, subject, text, html)?;
        match tokio::time::timeout(self.timeout, self.transport.send(message)).await {
            Ok(Ok(_response)) => Ok(()),
            Ok(Err(err)) => Err(classify(&err)),
            Err(_elapsed) => Err(SendError::Transient {
                retry_after: None,
                // The deadline may have hit after the message was handed over.
                ambiguous: true,
                reason: format!("SMTP send timed out after {:?}", self.timeout),
            }),
        }
    }

    fn message(
        &self,
        to: &str,
        subject: &str,
        text: &str,
        html: &str,
    ) -> Result<Message, SendError> {
        let permanent = |reason: String| SendError::Permanent { code: None, reason };
        let to: Mailbox = to
            .parse()
            .map_err(|e| permanent(format!("invalid recipient address: {e}")))?;
        Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(one_line(subject))
            .multipart(MultiPart::alternative_plain_html(
                text.to_owned(),
                html.to_owned(),
            ))
            .map_err(|e| permanent(format!("cannot build the email: {e}")))
    }
}

/// A subject never spans lines, whatever the alert text held.
fn one_line(subject: &str) -> String {
    subject
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// Reads a lettre failure as what the outbox should do next.
fn classify(err: &lettre::transport::smtp::Error) -> SendError {
    let reason = err.to_string();
    let transient = |ambiguous: bool| SendError::Transient {
        retry_after: None,
        ambiguous,
        reason: reason.clone(),
    };
    if let Some(code) = err.status() {
        let code = u32::from(u16::from(code));
        // An explicit 4xx refusal: the server did not take the message.
        return if err.is_permanent() {
            SendError::Permanent {
                code: Some(code),
                reason,
            }
        } else {
            transient(false)
        };
    }
    if err.is_client() || err.is_tls() {
        // Configuration or capability mismatch (no common AUTH mechanism,
        // no STARTTLS, bad TLS parameters): the same send fails again.
        return SendError::Permanent { code: None, reason };
    }
    if err.is_transport_shutdown() || is_connect_failure(err) {
        return transient(false);
    }
    // A read or write failed mid-dialogue (timeout, reset, truncated
    // reply); lettre does not say at which command, so assume after DATA.
    transient(true)
}

/// The TCP connect or TLS handshake failed: no command was sent yet.
fn is_connect_failure(err: &lettre::transport::smtp::Error) -> bool {
    // lettre exposes no `is_connection()`; its Display names the kind.
    err.to_string().starts_with("Connection error")
}
