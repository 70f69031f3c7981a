//! One `Notifier` interface over every provider, and the set of notifiers
//! built from the configuration. The outbox worker only sees this trait, so
//! a second SMS or voice provider is one more implementation.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use super::SendError;
use super::chat::{self, ChatKind};
use super::email::EmailSender;
use super::interactive::Offer;
use super::ntfy::Ntfy;
use super::telnyx::{TelnyxClient, TelnyxSms, TelnyxVoice};
use super::twilio::{CallContent, Sender, TwilioClient};
use super::twiml;
use crate::config::{Channel, ChannelKind, Provider, Roster};
use crate::incident::OutboxRow;

pub type SendFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Option<String>, SendError>> + Send + 'a>>;

/// Delivers one outbox row; returns the provider's id for the message, if any.
pub trait Notifier: Send + Sync {
    /// Short provider name for the timeline and metrics (`twilio`, `smtp`, `log`...).
    fn provider(&self) -> &'static str;
    fn send<'a>(&'a self, row: &'a OutboxRow) -> SendFuture<'a>;
    /// [`Notifier::send`] with the buttons the message may carry (chat
    /// only; the others have none).
    fn send_offering<'a>(
        &'a self,
        row: &'a OutboxRow,
        _offer: Option<&'a Offer>,
    ) -> SendFuture<'a> {
        self.send(row)
    }
}

/// Records and logs; sends nothing. The demo default.
pub struct LogNotifier;

impl Notifier for LogNotifier {
    fn provider(&self) -> &'static str {
        "log"
    }
    fn send<'a>(&'a self, row: &'a OutboxRow) -> SendFuture<'a> {
        Box::pin(async move {
            tracing::info!(outbox = row.id, channel = %row.channel, target = %row.target, body = %row.body, "notification (log provider: not sent)");
            Ok(None)
        })
    }
}

pub struct TwilioSms {
    pub client: TwilioClient,
    pub status_callback: String,
    pub validity_secs: u32,
}

impl Notifier for TwilioSms {
    fn provider(&self) -> &'static str {
        "twilio"
    }
    fn send<'a>(&'a self, row: &'a OutboxRow) -> SendFuture<'a> {
        Box::pin(async move {
            let id = self
                .client
                .send_sms(
                    &row.target,
                    &row.body,
                    Some(&self.status_callback),
                    Some(self.validity_secs),
                )
                .await?;
            Ok(Some(id.as_str().to_string()))
        })
    }
}

pub struct TwilioVoice {
    pub client: TwilioClient,
    pub status_callback: String,
    /// `server.public_url` without a trailing slash: the keypress comes back here.
    pub public_url: String,
    pub ring_timeout_secs: u32,
}

impl Notifier for TwilioVoice {
    fn provider(&self) -> &'static str {
        "twilio"
    }
    fn send<'a>(&'a self, row: &'a OutboxRow) -> SendFuture<'a> {
        Box::pin(async move {
            let action = format!(
                "{}/twilio/voice?incident={}&person={}",
                self.public_url,
                row.incident.unwrap_or_default(),
                row.person.as_deref().unwrap_or_default()
            );
            let content = CallContent::Twiml(twiml::gather_digit(&row.body, &action));
            let id = self
                .client
                .place_call(
                    &row.target,
                    &content,
                    Some(&self.status_callback),
                    Some(self.ring_timeout_secs),
                )
                .await?;
            Ok(Some(id.as_str().to_string()))
        })
    }
}

pub struct Email {
    pub sender: EmailSender,
}

impl Notifier for Email {
    fn provider(&self) -> &'static str {
        "smtp"
    }
    fn send<'a>(&'a self, row: &'a OutboxRow) -> SendFuture<'a> {
        Box::pin(async move {
            let html = format!(
                "<pre style=\"font-family:sans-serif;white-space:pre-wrap\">{}</pre>",
                twiml::escape(&row.body)
            );
            self.sender
                .send(&row.target, &row.subject, &row.body, &html)
                .await?;
            Ok(None)
        })
    }
}

pub struct Chat {
    pub http: reqwest::Client,
    pub kind: ChatKind,
    pub url: String,
    pub name: &'static str,
    /// Whether pages and client posts carry Acknowledge, Resolve and
    /// Escalate buttons.
    pub buttons: ChatButtons,
}

/// The buttons of a chat channel.
#[derive(Clone)]
pub enum ChatButtons {
    None,
    /// A Slack app, or a Telegram bot with a webhook.
    On,
    /// Mattermost: each click posts to `url` a context signed with `key`.
    Mattermost {
        url: String,
        key: Vec<u8>,
    },
}

impl Chat {
    fn buttons<'a>(&'a self, offer: Option<&'a Offer>) -> Option<chat::Buttons<'a>> {
        let offer = offer?;
        let mattermost = match &self.buttons {
            ChatButtons::None => return None,
            ChatButtons::On => None,
            ChatButtons::Mattermost { url, key } => Some((url.as_str(), key.as_slice())),
        };
        Some(chat::Buttons {
            incident: &offer.key,
            actions: &offer.actions,
            mattermost,
        })
    }
}

impl Notifier for Chat {
    fn provider(&self) -> &'static str {
        self.name
    }
    fn send<'a>(&'a self, row: &'a OutboxRow) -> SendFuture<'a> {
        self.send_offering(row, None)
    }
    fn send_offering<'a>(&'a self, row: &'a OutboxRow, offer: Option<&'a Offer>) -> SendFuture<'a> {
        Box::pin(async move {
            chat::send(
                &self.http,
                &self.kind,
                &self.url,
                mention(row),
                &row.body,
                Some(&row.subject),
                self.buttons(offer),
            )
            .await
        })
    }
}

/// A message to one person in a shared chat names them: their handle goes
/// first (no body holds it: what an alert says could, and must not stand in
/// for the mention).
fn mention(row: &OutboxRow) -> Option<&str> {
    (row.person.is_some() && !row.target.is_empty()).then_some(row.target.as_str())
}

/// Every notifier of one configuration generation.
pub struct Notifiers {
    /// `providers.sms` in failover order (never empty).
    pub sms: Vec<Arc<dyn Notifier>>,
    /// `providers.voice` in failover order (never empty).
    pub voice: Vec<Arc<dyn Notifier>>,
    pub email: Arc<dyn Notifier>,
    pub chat: Arc<dyn Notifier>,
    pub push: Arc<dyn Notifier>,
    /// Each Telnyx account's webhook key and client (its calls are driven
    /// by commands from the webhook; replies to its SMS go back through it).
    pub telnyx: Vec<(Vec<u8>, TelnyxClient)>,
    /// Each client's public channel.
    pub clients: BTreeMap<String, Arc<dyn Notifier>>,
}

/// What a chat channel's notifier needs beyond its own configuration.
pub struct ChatContext<'a> {
    pub http: &'a reqwest::Client,
    /// `server.public_url` without a trailing slash.
    pub public_url: &'a str,
    /// The link secret, which also signs Mattermost button contexts.
    pub secret: &'a [u8],
}

/// How a chat channel is reached: its kind, its URL (or API base), and the
/// notifier's name; `None` for the log channel. Posting and updating
/// messages (button clicks) both start here.
pub fn chat_kind(c: &Channel) -> Option<(ChatKind, &'static str, String)> {
    let url = c
        .url
        .as_ref()
        .map(|u| u.expose().to_string())
        .unwrap_or_default();
    let base = |default: &str| {
        c.base_url.as_ref().map_or_else(
            || default.to_string(),
            |u| u.as_str().trim_end_matches('/').to_string(),
        )
    };
    Some(match c.kind {
        ChannelKind::Log => return None,
        ChannelKind::Slack => match (&c.bot_token, &c.channel) {
            (Some(token), Some(channel)) => (
                ChatKind::SlackApp {
                    bot_token: token.expose().to_string(),
                    channel: channel.clone(),
                },
                "slack",
                base("https://slack.com/api"),
            ),
            _ => (ChatKind::Slack, "slack", url),
        },
        ChannelKind::Mattermost => (ChatKind::Mattermost, "mattermost", url),
        ChannelKind::Discord => (ChatKind::Discord, "discord", url),
        ChannelKind::Teams => (ChatKind::Teams, "teams", url),
        ChannelKind::Webhook => (
            ChatKind::Webhook {
                secret: c.secret.as_ref().map(|s| s.expose().to_string()),
            },
            "webhook",
            url,
        ),
        ChannelKind::Telegram => (
            ChatKind::Telegram {
                bot_token: c
                    .bot_token
                    .as_ref()
                    .map(|s| s.expose().to_string())
                    .unwrap_or_default(),
                chat_id: c.chat_id.clone().unwrap_or_default(),
            },
            "telegram",
            base("https://api.telegram.org"),
        ),
    })
}

fn chat_notifier(cx: &ChatContext<'_>, c: &Channel) -> Arc<dyn Notifier> {
    let Some((kind, name, url)) = chat_kind(c) else {
        return Arc::new(LogNotifier);
    };
    let buttons = match &kind {
        ChatKind::SlackApp { .. } => ChatButtons::On,
        ChatKind::Telegram { .. } if c.webhook_secret.is_some() => ChatButtons::On,
        ChatKind::Mattermost if c.buttons => ChatButtons::Mattermost {
            url: format!("{}/mattermost/actions", cx.public_url),
            key: cx.secret.to_vec(),
        },
        _ => ChatButtons::None,
    };
    Arc::new(Chat {
        http: cx.http.clone(),
        kind,
        url,
        name,
        buttons,
    })
}

impl Notifiers {
    /// Builds the providers of `roster`. Must run inside the tokio runtime
    /// (the SMTP transport starts a task).
    pub fn from_roster(
        roster: &Roster,
        http: &reqwest::Client,
        secret: &[u8],
    ) -> Result<Notifiers, String> {
        let public = roster
            .server
            .public_url
            .as_str()
            .trim_end_matches('/')
            .to_string();
        let cx = ChatContext {
            http,
            public_url: &public,
            secret,
        };
        let twilio_client = |t: &crate::config::Twilio| {
            let from = match (&t.from, &t.messaging_service_sid) {
                (Some(n), _) => Sender::Number(n.clone()),
                (None, Some(m)) => Sender::MessagingServiceSid(m.clone()),
                (None, None) => Sender::Number(String::new()),
            };
            TwilioClient::new(
                t.base_url.as_str(),
                &t.account_sid,
                t.auth_token.expose(),
                from,
                http.clone(),
            )
        };
        let telnyx_hook = format!("{public}/telnyx/webhook");
        let sms = |p: &Provider| -> Arc<dyn Notifier> {
            match p {
                Provider::Twilio(t) => Arc::new(TwilioSms {
                    client: twilio_client(t),
                    status_callback: format!("{public}/twilio/status"),
                    validity_secs: t.validity.as_secs().min(36_000) as u32,
                }),
                Provider::Telnyx(t) => Arc::new(TelnyxSms {
                    client: TelnyxClient::new(t, http.clone()),
                    webhook_url: telnyx_hook.clone(),
                }),
                _ => Arc::new(LogNotifier),
            }
        };
        let voice = |p: &Provider| -> Arc<dyn Notifier> {
            match p {
                Provider::Twilio(t) => Arc::new(TwilioVoice {
                    client: twilio_client(t),
                    status_callback: format!("{public}/twilio/status"),
                    public_url: public.clone(),
                    ring_timeout_secs: t.ring_timeout.as_secs().min(600) as u32,
                }),
                Provider::Telnyx(t) => Arc::new(TelnyxVoice {
                    client: TelnyxClient::new(t, http.clone()),
                    webhook_url: telnyx_hook.clone(),
                    ring_timeout_secs: t.ring_timeout.as_secs().clamp(5, 600) as u32,
                }),
                _ => Arc::new(LogNotifier),
            }
        };
        let sms = roster.providers.sms.iter().map(sms).collect();
        let voice = roster.providers.voice.iter().map(voice).collect();
        let push: Arc<dyn Notifier> = match &roster.providers.push {
            Some(n) => Arc::new(Ntfy {
                http: http.clone(),
                base: n.base_url.as_str().trim_end_matches('/').to_owned(),
                token: n.token.as_ref().map(|t| t.expose().to_owned()),
            }),
            None => Arc::new(LogNotifier),
        };
        let telnyx = roster
            .providers
            .telnyx()
            .map(|t| (t.public_key.clone(), TelnyxClient::new(t, http.clone())))
            .collect();
        let email: Arc<dyn Notifier> = match &roster.providers.email {
            Provider::Smtp(s) => Arc::new(Email {
                sender: EmailSender::new(s)?,
            }),
            _ => Arc::new(LogNotifier),
        };
        let chat = chat_notifier(&cx, &roster.providers.chat);
        let clients = roster
            .clients
            .values()
            .map(|c| (c.id.clone(), chat_notifier(&cx, &c.channel)))
            .collect();
        Ok(Notifiers {
            sms,
            voice,
            email,
            chat,
            push,
            telnyx,
            clients,
        })
    }

    /// The notifier that delivers `row`: for SMS and voice, the vendor of
    /// the failover list the row is on.
    pub fn for_row(&self, row: &OutboxRow) -> Option<Arc<dyn Notifier>> {
        let vendor = row.vendor as usize;
        match row.channel.as_str() {
            "sms" => self.sms.get(vendor).cloned(),
            "voice" => self.voice.get(vendor).cloned(),
            "email" => Some(self.email.clone()),
            "chat" => Some(self.chat.clone()),
            "push" => Some(self.push.clone()),
            "channel" => row
                .client
                .as_ref()
                .and_then(|c| self.clients.get(c).cloned()),
            _ => None,
        }
    }
}

/// The HTTP client every provider shares: rustls, bounded timeouts.
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(15))
        .user_agent(concat!("tocsin/", env!("CARGO_PKG_VERSION")))
        .build()
        .unwrap_or_default()
}
