//! The serde mirror of the YAML files: every key the spec names, unknown keys
//! rejected, values wrapped in `Spanned` so validation can point at
//! `file:line:column`. Nothing here is checked beyond YAML types; see
//! `validate.rs` for the rules.

use serde::Deserialize;
use serde_saphyr::Spanned;

pub type S = Spanned<String>;

/// One YAML file: the main file or an included roster file. Included files
/// may hold roster sections only; `validate` reports any other key there.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct File {
    #[serde(default)]
    pub include: Vec<S>,
    pub server: Option<Spanned<Server>>,
    pub storage: Option<Spanned<Storage>>,
    pub timezone: Option<S>,
    pub calendar: Option<Spanned<Calendar>>,
    pub providers: Option<Spanned<Providers>>,
    pub limits: Option<Spanned<Limits>>,
    #[serde(default)]
    pub people: Vec<Spanned<Person>>,
    #[serde(default)]
    pub teams: Vec<Spanned<Team>>,
    #[serde(default)]
    pub clients: Vec<Spanned<Client>>,
    #[serde(default)]
    pub projects: Vec<Spanned<Project>>,
    #[serde(default)]
    pub schedules: Vec<Spanned<Schedule>>,
    #[serde(default)]
    pub escalation_policies: Vec<Spanned<Policy>>,
    #[serde(default)]
    pub integrations: Vec<Spanned<Integration>>,
    #[serde(default)]
    pub heartbeats: Vec<Spanned<Heartbeat>>,
    #[serde(default)]
    pub maintenance: Vec<Spanned<Maintenance>>,
}

/// A secret or token: `${ENV}` in the value, a `*_file` path, or (tokens
/// only) a `*_sha256` hash. Flattened into its owner with a key prefix.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Server {
    pub listen: Option<S>,
    pub public_url: Option<S>,
    pub secret: Option<S>,
    pub secret_file: Option<S>,
    pub max_body_bytes: Option<Spanned<u64>>,
    pub max_connections: Option<Spanned<u64>>,
    pub header_timeout: Option<S>,
    pub body_timeout: Option<S>,
    #[serde(default)]
    pub admins: Vec<S>,
    pub auth: Option<Spanned<Auth>>,
}

/// `server.auth`: sign-in besides the one-time link.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Auth {
    pub oidc: Option<Spanned<Oidc>>,
    pub trusted_header: Option<Spanned<TrustedHeader>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Oidc {
    pub issuer: Option<S>,
    pub client_id: Option<S>,
    pub client_secret: Option<S>,
    pub client_secret_file: Option<S>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrustedHeader {
    pub header: Option<S>,
    #[serde(default)]
    pub proxies: Vec<S>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Storage {
    pub sqlite: Option<S>,
    pub postgres: Option<S>,
    pub postgres_file: Option<S>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Calendar {
    #[serde(default)]
    pub workdays: Vec<S>,
    #[serde(default)]
    pub holidays: Vec<S>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    pub presence_max_ttl: Option<S>,
    pub flap_window: Option<S>,
    pub sms_bundle_window: Option<S>,
    pub sms_per_hour: Option<Spanned<u32>>,
    pub sms_max_segments: Option<Spanned<u32>>,
    pub shift_notice_before: Option<S>,
    /// First response: remind the assignee to record a diagnosis after this.
    pub diagnosis_reminder: Option<S>,
    /// First response: remind to open a provider ticket this often.
    pub third_party_reminder: Option<S>,
    /// A critical incident open this long becomes serious.
    pub serious_after: Option<S>,
    pub action_reminder_before: Option<S>,
    /// The longest a maintenance window may last (default 7d).
    pub maintenance_max: Option<S>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Providers {
    pub sms: Option<Spanned<Phones>>,
    pub voice: Option<Spanned<Phones>>,
    pub email: Option<Spanned<Provider>>,
    pub chat: Option<Spanned<Channel>>,
    pub push: Option<Spanned<Provider>>,
}

/// `providers.sms` / `providers.voice`: one vendor (a mapping), or a list of
/// them in failover order.
#[derive(Debug)]
pub enum Phones {
    One(Box<Provider>),
    Many(Vec<Spanned<Provider>>),
}

impl<'de> Deserialize<'de> for Phones {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Either;
        impl<'de> serde::de::Visitor<'de> for Either {
            type Value = Phones;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a provider (type: ...) or a list of them")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<Phones, A::Error> {
                let one = serde::de::value::MapAccessDeserializer::new(map);
                Provider::deserialize(one).map(|p| Phones::One(Box::new(p)))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Phones, A::Error> {
                let mut many = Vec::new();
                while let Some(p) = seq.next_element()? {
                    many.push(p);
                }
                Ok(Phones::Many(many))
            }
        }
        d.deserialize_any(Either)
    }
}

/// A provider entry; `type` says which fields apply (checked in validate).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Provider {
    #[serde(rename = "type")]
    pub kind: Option<S>,
    // twilio
    pub account_sid: Option<S>,
    pub auth_token: Option<S>,
    pub auth_token_file: Option<S>,
    pub auth_token_secondary: Option<S>,
    pub auth_token_secondary_file: Option<S>,
    pub from: Option<S>,
    pub messaging_service_sid: Option<S>,
    pub base_url: Option<S>,
    pub validity: Option<S>,
    pub ring_timeout: Option<S>,
    // telnyx (from, base_url as above)
    pub api_key: Option<S>,
    pub api_key_file: Option<S>,
    pub public_key: Option<S>,
    pub messaging_profile_id: Option<S>,
    pub connection_id: Option<S>,
    // ntfy (base_url as above)
    pub token: Option<S>,
    pub token_file: Option<S>,
    // smtp
    pub host: Option<S>,
    pub port: Option<Spanned<u16>>,
    pub tls: Option<S>,
    pub username: Option<S>,
    pub password: Option<S>,
    pub password_file: Option<S>,
}

/// A chat destination: a client's public channel or the on-call chat.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Channel {
    #[serde(rename = "type")]
    pub kind: Option<S>,
    /// Display name for logs and the `log` provider (e.g. `#acme-support`).
    pub name: Option<S>,
    pub url: Option<S>,
    pub url_file: Option<S>,
    pub secret: Option<S>,
    pub secret_file: Option<S>,
    pub bot_token: Option<S>,
    pub bot_token_file: Option<S>,
    pub chat_id: Option<S>,
    pub base_url: Option<S>,
    /// Slack app: the channel id (`C0123…`) `chat.postMessage` posts to.
    pub channel: Option<S>,
    /// Slack app: the signing secret of `/slack/interactions`.
    pub signing_secret: Option<S>,
    pub signing_secret_file: Option<S>,
    /// Telegram: the `secret_token` given to `setWebhook` (buttons on).
    pub webhook_secret: Option<S>,
    pub webhook_secret_file: Option<S>,
    /// Mattermost: interactive buttons on the posts.
    pub buttons: Option<Spanned<bool>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Person {
    pub id: S,
    pub name: Option<S>,
    pub phone: Option<S>,
    pub email: Option<S>,
    pub chat: Option<S>,
    /// The ntfy topic their push notifications go to.
    pub ntfy_topic: Option<S>,
    /// Who this person is on Slack, Mattermost and Telegram (the user id a
    /// button click carries).
    pub slack_id: Option<S>,
    pub mattermost_id: Option<S>,
    pub telegram_id: Option<S>,
    pub timezone: Option<S>,
    #[serde(default)]
    pub working_hours: Vec<S>,
    /// Channels in the order a page falls back through them.
    #[serde(default)]
    pub channels: Vec<S>,
    /// Personal notification rules, used by steps without `via`.
    #[serde(default)]
    pub notify: Vec<Spanned<NotifyRule>>,
    pub token: Option<S>,
    pub token_file: Option<S>,
    pub token_sha256: Option<S>,
    pub calendar_token: Option<S>,
    pub calendar_token_file: Option<S>,
    pub calendar_token_sha256: Option<S>,
}

/// `{via: [sms, push], after: 2m}`: these channels, this long after a
/// step reached the person, while the incident is unacknowledged.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifyRule {
    #[serde(default)]
    pub via: Vec<S>,
    pub after: Option<S>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Team {
    pub id: S,
    pub name: Option<S>,
    pub lead: Option<S>,
    #[serde(default)]
    pub members: Vec<S>,
    pub timezone: Option<S>,
    pub digest: Option<S>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Client {
    pub id: S,
    pub name: Option<S>,
    pub channel: Option<Spanned<Channel>>,
    pub token: Option<S>,
    pub token_file: Option<S>,
    pub token_sha256: Option<S>,
    /// Severity of client reports (default critical).
    pub severity: Option<S>,
    /// Wording of the "engineer online" post; placeholders {person}, {number}, {title}, {project}.
    pub ack_message: Option<S>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Project {
    pub id: S,
    pub name: Option<S>,
    pub client: Option<S>,
    pub team: Option<S>,
    #[serde(default)]
    pub responders: Vec<S>,
    pub schedule: Option<S>,
    pub escalation_policy: Option<S>,
    pub update_every: Option<S>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Schedule {
    pub id: S,
    pub name: Option<S>,
    pub team: Option<S>,
    pub timezone: Option<S>,
    #[serde(default)]
    pub members: Vec<S>,
    pub handoff: Option<S>,
    pub start: Option<S>,
    #[serde(default)]
    pub overrides: Vec<Spanned<Override>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Override {
    pub person: S,
    pub from: S,
    pub to: S,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    pub id: S,
    #[serde(default)]
    pub steps: Vec<Spanned<Step>>,
    pub repeat: Option<Spanned<u32>>,
    pub ack_timeout: Option<S>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    pub notify: S,
    #[serde(default)]
    pub via: Vec<S>,
    pub wait: Option<S>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Integration {
    pub id: S,
    #[serde(rename = "type")]
    pub kind: Option<S>,
    pub token: Option<S>,
    pub token_file: Option<S>,
    pub token_sha256: Option<S>,
    /// Grafana's optional HMAC signing secret.
    pub signing_secret: Option<S>,
    pub signing_secret_file: Option<S>,
    pub project: Option<S>,
    pub auto_resolve: Option<Spanned<bool>>,
    #[serde(default)]
    pub routes: Vec<Spanned<Route>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Route {
    #[serde(default)]
    pub matchers: Vec<S>,
    pub project: Option<S>,
    pub severity: Option<S>,
    pub critical: Option<Spanned<bool>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Heartbeat {
    pub id: S,
    pub project: Option<S>,
    pub interval: Option<S>,
    pub grace: Option<S>,
    pub summary: Option<S>,
    pub token: Option<S>,
    pub token_file: Option<S>,
    pub token_sha256: Option<S>,
}

/// A recurring maintenance window; exactly one of project, client and
/// integration names its scope.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Maintenance {
    pub id: S,
    pub project: Option<S>,
    pub client: Option<S>,
    pub integration: Option<S>,
    #[serde(default)]
    pub matchers: Vec<S>,
    pub cron: Option<S>,
    pub duration: Option<S>,
    pub timezone: Option<S>,
    pub reason: Option<S>,
    pub client_reports: Option<S>,
}

/// Parses one file's text. Keys are kept in a map only to report unknown
/// top-level keys in included files.
pub fn parse(text: &str) -> Result<File, serde_saphyr::Error> {
    if text.trim().is_empty() {
        return Ok(File::default());
    }
    serde_saphyr::from_str(text)
}
