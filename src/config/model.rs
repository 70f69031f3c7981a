//! The validated roster: types that cannot hold a dangling reference or an
//! unparsed value. Built only by `validate`; read by every other module.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::PathBuf;

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;

use super::secret::{Secret, TokenHash};
use crate::duration::Span;
use crate::ingest::alert::Severity;
use crate::ingest::matcher::Matcher;
use crate::routing::{Handoff, WorkingHours};

/// Everything the daemon knows from its YAML files.
#[derive(Debug, Clone)]
pub struct Roster {
    pub server: Server,
    pub storage: Storage,
    pub timezone: Tz,
    pub calendar: Calendar,
    pub providers: Providers,
    pub limits: Limits,
    pub people: BTreeMap<String, Person>,
    pub teams: BTreeMap<String, Team>,
    pub clients: BTreeMap<String, Client>,
    pub projects: BTreeMap<String, Project>,
    pub schedules: BTreeMap<String, Schedule>,
    pub policies: BTreeMap<String, Policy>,
    pub integrations: BTreeMap<String, Integration>,
    pub heartbeats: BTreeMap<String, Heartbeat>,
    /// Recurring maintenance windows, by id.
    pub maintenance: BTreeMap<String, Maintenance>,
    /// The files read, main file first.
    pub files: Vec<PathBuf>,
}

#[derive(Debug, Clone)]
pub struct Server {
    pub listen: SocketAddr,
    pub public_url: url::Url,
    /// Signs acknowledge links; generated and kept in the store when absent.
    pub secret: Option<Secret>,
    pub max_body_bytes: usize,
    /// Open connections served at once; more wait in the listen backlog.
    pub max_connections: usize,
    /// A connection that has not sent a whole request head this long after
    /// it opened or after its last response (idle keep-alive) is closed.
    pub header_timeout: Span,
    /// A request body not read whole within this gets 408.
    pub body_timeout: Span,
    /// People allowed admin calls (reload, presence of others).
    pub admins: BTreeSet<String>,
    /// Sign-in besides the one-time link.
    pub auth: Auth,
}

/// `server.auth`: optional ways to sign in to the web UI; each opens the
/// same stored session as a sign-in link.
#[derive(Debug, Clone, Default)]
pub struct Auth {
    pub oidc: Option<Oidc>,
    pub trusted_header: Option<TrustedHeader>,
}

/// Sign-in through an OpenID Connect issuer (authorization code + PKCE);
/// the ID token's `email` names the person.
#[derive(Debug, Clone)]
pub struct Oidc {
    /// The issuer URL, without a trailing slash; discovery is under it.
    pub issuer: String,
    pub client_id: String,
    pub client_secret: Secret,
}

/// A header set by an authenticating proxy (oauth2-proxy and the like),
/// believed only on connections from `proxies`.
#[derive(Debug, Clone)]
pub struct TrustedHeader {
    /// The header's name, lower-case.
    pub header: String,
    pub proxies: BTreeSet<std::net::IpAddr>,
}

#[derive(Debug, Clone)]
pub struct Storage {
    pub sqlite: PathBuf,
    /// `storage.postgres`: the database URL (a secret); when set, tocsin
    /// runs on PostgreSQL and `sqlite` is unused.
    pub postgres: Option<Secret>,
}

#[derive(Debug, Clone)]
pub struct Calendar {
    /// Working weekdays, indexed by `Weekday::num_days_from_monday`.
    pub workdays: [bool; 7],
    pub holidays: BTreeSet<NaiveDate>,
}

#[derive(Debug, Clone)]
pub struct Limits {
    pub presence_max_ttl: Span,
    pub flap_window: Span,
    pub sms_bundle_window: Span,
    pub sms_per_hour: u32,
    /// Most segments one SMS may take (a bundle names fewer incidents).
    pub sms_max_segments: usize,
    pub shift_notice_before: Span,
    /// After acknowledgement, how long until (and how often) the assignee is
    /// reminded to record a diagnosis.
    pub diagnosis_reminder: Span,
    /// How often the assignee is reminded to open a ticket with a third-party
    /// provider until `provider_ticket` is set.
    pub third_party_reminder: Span,
    /// A critical incident open this long is marked serious.
    pub serious_after: Span,
    /// How long before an action item's deadline its assignee is reminded;
    /// whole days count business days (reminder at 09:00 team time).
    pub action_reminder_before: Span,
    /// The longest a maintenance window may last.
    pub maintenance_max: Span,
}

#[derive(Debug, Clone)]
pub struct Providers {
    /// SMS vendors in failover order; never empty (`log` when unset).
    pub sms: Vec<Provider>,
    /// Voice vendors in failover order; never empty (`log` when unset).
    pub voice: Vec<Provider>,
    pub email: Provider,
    pub chat: Channel,
    /// Mobile push (ntfy); `None` records and logs push pages.
    pub push: Option<Ntfy>,
}

impl Providers {
    /// Every Telnyx account of the SMS and voice lists.
    pub fn telnyx(&self) -> impl Iterator<Item = &Telnyx> {
        self.sms.iter().chain(&self.voice).filter_map(|p| match p {
            Provider::Telnyx(t) => Some(t),
            _ => None,
        })
    }
}

#[derive(Debug, Clone)]
pub enum Provider {
    /// Records and logs, sends nothing.
    Log,
    Twilio(Twilio),
    Telnyx(Telnyx),
    Smtp(Smtp),
}

/// A Telnyx account: messaging (`/v2/messages`) and Call Control
/// (`/v2/calls`), webhooks signed with Ed25519.
#[derive(Debug, Clone)]
pub struct Telnyx {
    pub api_key: Secret,
    /// The account's Ed25519 public key (32 bytes) that signs webhooks.
    pub public_key: Vec<u8>,
    pub from: String,
    pub messaging_profile_id: Option<String>,
    /// The Call Control application calls are placed through (voice only).
    pub connection_id: Option<String>,
    pub base_url: url::Url,
    pub ring_timeout: Span,
}

/// An ntfy server (ntfy.sh or self-hosted).
#[derive(Debug, Clone)]
pub struct Ntfy {
    pub base_url: url::Url,
    /// Access token (`tk_...`) when the topics are protected.
    pub token: Option<Secret>,
}

#[derive(Debug, Clone)]
pub struct Twilio {
    pub account_sid: String,
    pub auth_token: Secret,
    pub auth_token_secondary: Option<Secret>,
    pub from: Option<String>,
    pub messaging_service_sid: Option<String>,
    pub base_url: url::Url,
    pub validity: Span,
    pub ring_timeout: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpTls {
    None,
    StartTls,
    Tls,
}

#[derive(Debug, Clone)]
pub struct Smtp {
    pub host: String,
    pub port: u16,
    pub tls: SmtpTls,
    pub username: Option<String>,
    pub password: Option<Secret>,
    pub from: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChannelKind {
    Log,
    Slack,
    Mattermost,
    Telegram,
    Discord,
    Teams,
    Webhook,
}

/// A chat destination (a client's public channel or the on-call chat).
#[derive(Debug, Clone)]
pub struct Channel {
    pub kind: ChannelKind,
    pub name: String,
    pub url: Option<Secret>,
    pub secret: Option<Secret>,
    pub bot_token: Option<Secret>,
    pub chat_id: Option<String>,
    pub base_url: Option<url::Url>,
    /// Slack app: the channel id `chat.postMessage` posts to.
    pub channel: Option<String>,
    /// Slack app: verifies `/slack/interactions` (request signing v0).
    pub signing_secret: Option<Secret>,
    /// Telegram: the webhook's `secret_token`; buttons when set.
    pub webhook_secret: Option<Secret>,
    /// Mattermost: interactive buttons on the posts.
    pub buttons: bool,
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum ChannelType {
    Chat,
    Sms,
    Voice,
    Email,
    Push,
}

impl std::str::FromStr for ChannelType {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "chat" => Ok(Self::Chat),
            "sms" => Ok(Self::Sms),
            "voice" => Ok(Self::Voice),
            "email" => Ok(Self::Email),
            "push" => Ok(Self::Push),
            _ => Err(format!(
                "unknown channel {s:?} (expected chat, sms, voice, email or push)"
            )),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Person {
    pub id: String,
    pub name: String,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub chat: Option<String>,
    /// The ntfy topic push notifications go to.
    pub ntfy_topic: Option<String>,
    /// The user ids a chat button click carries.
    pub chat_ids: ChatIds,
    pub timezone: Tz,
    pub working_hours: WorkingHours,
    /// Fallback order for pages; defaults to the channels the person has.
    pub channels: Vec<ChannelType>,
    /// What a step without `via` sends this person, and when; empty means
    /// their first channel at once.
    pub notify: Vec<NotifyRule>,
    pub token: Option<TokenHash>,
    pub calendar_token: Option<TokenHash>,
}

/// Who a person is on each interactive chat platform.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChatIds {
    pub slack: Option<String>,
    pub mattermost: Option<String>,
    pub telegram: Option<String>,
}

impl ChatIds {
    /// Each id with its configuration key: Slack, Mattermost, Telegram.
    pub fn keyed(&self) -> [(&'static str, Option<&str>); 3] {
        [
            ("slack_id", self.slack.as_deref()),
            ("mattermost_id", self.mattermost.as_deref()),
            ("telegram_id", self.telegram.as_deref()),
        ]
    }
}

impl Person {
    /// Where a message on `channel` goes: phone, email, chat handle or ntfy topic.
    pub fn address(&self, channel: ChannelType) -> Option<&str> {
        match channel {
            ChannelType::Sms | ChannelType::Voice => self.phone.as_deref(),
            ChannelType::Email => self.email.as_deref(),
            ChannelType::Chat => self.chat.as_deref(),
            ChannelType::Push => self.ntfy_topic.as_deref(),
        }
    }
}

/// One rung of a person's notification ladder.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct NotifyRule {
    pub via: Vec<ChannelType>,
    /// Seconds after the step reached the person (0: at once).
    pub after_secs: u64,
}

/// Most rungs a person's ladder may have.
pub const MAX_NOTIFY_RULES: usize = 10;

impl NotifyRule {
    /// One rung for `person` as written (`via: [sms, voice]`, `after: 2m`):
    /// known channels the person has an address for, an `after` of zero or
    /// more. The error names the key and says why.
    pub fn parse(
        person: &Person,
        via: &[String],
        after: Option<&str>,
    ) -> Result<NotifyRule, (&'static str, String)> {
        if via.is_empty() {
            return Err(("via", "needs at least one channel".into()));
        }
        let mut channels = Vec::new();
        for c in via {
            let ch: ChannelType = c.parse().map_err(|e| ("via", e))?;
            if person.address(ch).is_none() {
                return Err((
                    "via",
                    format!(
                        "{} has no address for {c} (phone, email, chat handle or ntfy_topic)",
                        person.id
                    ),
                ));
            }
            if !channels.contains(&ch) {
                channels.push(ch);
            }
        }
        let after_secs = match after {
            None => 0,
            Some(a) => crate::duration::Span::parse_secs_or_zero(a).map_err(|e| ("after", e))?,
        };
        Ok(NotifyRule {
            via: channels,
            after_secs,
        })
    }

    /// A ladder's order: its first rung at once (a later one would hold
    /// back every page the person gets, past the step's own wait), each
    /// later rung no sooner than the one before. The first rung out of
    /// order, and why.
    pub fn check_ladder(rules: &[NotifyRule]) -> Result<(), (usize, String)> {
        for (i, rule) in rules.iter().enumerate() {
            let after = crate::duration::Span::from_secs(rule.after_secs);
            match i.checked_sub(1).map(|p| rules[p].after_secs) {
                None if rule.after_secs > 0 => {
                    return Err((
                        0,
                        format!(
                            "the first rule pages at once: drop its after ({after}), or add a rule before it"
                        ),
                    ));
                }
                Some(before) if rule.after_secs < before => {
                    let before = crate::duration::Span::from_secs(before);
                    return Err((
                        i,
                        format!(
                            "{after} is sooner than the rule before it ({before}): list rules in the order they page"
                        ),
                    ));
                }
                _ => {}
            }
        }
        Ok(())
    }
}

#[derive(Debug, Clone)]
pub struct Team {
    pub id: String,
    pub name: String,
    pub lead: String,
    pub members: Vec<String>,
    pub timezone: Tz,
    /// Cron expression of the action-item digest.
    pub digest: String,
}

#[derive(Debug, Clone)]
pub struct Client {
    pub id: String,
    pub name: String,
    pub channel: Channel,
    pub token: Option<TokenHash>,
    pub severity: Severity,
    pub ack_message: Option<String>,
}

/// The prefix of a client's incident references (`acme` → `ACME`, as in
/// `ACME-7`): the id upper-cased, anything but a letter or digit as `-`.
pub fn reference_prefix(client: &str) -> String {
    client
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '-'
            }
        })
        .collect()
}

#[derive(Debug, Clone)]
pub struct Project {
    pub id: String,
    pub name: String,
    pub client: String,
    pub team: String,
    pub responders: Vec<String>,
    pub schedule: Option<String>,
    pub escalation_policy: String,
    pub update_every: Span,
}

#[derive(Debug, Clone)]
pub struct Schedule {
    pub id: String,
    pub name: String,
    pub team: Option<String>,
    pub timezone: Tz,
    pub members: Vec<String>,
    pub handoff: Handoff,
    pub start: DateTime<Utc>,
    pub overrides: Vec<Override>,
}

#[derive(Debug, Clone)]
pub struct Override {
    pub person: String,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct Policy {
    pub id: String,
    pub steps: Vec<Step>,
    /// How many more times the whole policy runs after its last step.
    pub repeat: u32,
    pub ack_timeout: Option<Span>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Nearest,
    Next,
    Team,
    TeamLead,
    Person(String),
    Schedule(String),
}

#[derive(Debug, Clone)]
pub struct Step {
    pub notify: Target,
    /// Channels fired at once for every person targeted; empty: each
    /// person's own `notify` rules.
    pub via: Vec<ChannelType>,
    pub wait: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntegrationKind {
    Alertmanager,
    Grafana,
    /// PagerDuty Events API v2 (and v1) compatible senders.
    Events,
}

#[derive(Debug, Clone)]
pub struct Integration {
    pub id: String,
    pub kind: IntegrationKind,
    pub token: TokenHash,
    pub signing_secret: Option<Secret>,
    pub project: String,
    pub auto_resolve: bool,
    pub routes: Vec<Route>,
}

#[derive(Debug, Clone)]
pub struct Route {
    pub matchers: Vec<Matcher>,
    pub project: Option<String>,
    pub severity: Option<Severity>,
    pub critical: bool,
}

#[derive(Debug, Clone)]
pub struct Heartbeat {
    pub id: String,
    pub project: String,
    pub interval: Span,
    pub grace: Span,
    pub summary: String,
    pub token: Option<TokenHash>,
}

/// What a maintenance window covers: a project, every project of a
/// client, or what one integration sends.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    Project(String),
    Client(String),
    Integration(String),
}

/// Whether a client's own report pages through a maintenance window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClientReports {
    #[default]
    Page,
    Hold,
}

impl std::str::FromStr for ClientReports {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "page" => Ok(Self::Page),
            "hold" => Ok(Self::Hold),
            _ => Err(format!("{s:?} is not page or hold")),
        }
    }
}

/// A recurring maintenance window: from each `cron` instant (on the wall
/// clock of `timezone`, hand-off DST rules) for `duration`.
#[derive(Debug, Clone)]
pub struct Maintenance {
    pub id: String,
    pub scope: Scope,
    pub matchers: Vec<Matcher>,
    pub cron: Handoff,
    pub timezone: Tz,
    pub duration: Span,
    pub reason: String,
    pub client_reports: ClientReports,
}

impl Roster {
    /// The person whose token this is, compared in constant time.
    pub fn person_by_token(&self, token: &str) -> Option<&Person> {
        // Checks every entry so the time taken does not reveal which matched.
        let (presented, mut found) = (crate::config::secret::TokenHash::of(token), None);
        for p in self.people.values() {
            if p.token.is_some_and(|h| h.is(&presented)) && found.is_none() {
                found = Some(p);
            }
        }
        found
    }

    pub fn is_admin(&self, person: &str) -> bool {
        self.server.admins.contains(person)
    }

    /// A project's display name, or its id when it is not configured.
    pub fn project_name<'a>(&'a self, id: &'a str) -> &'a str {
        self.projects.get(id).map_or(id, |p| p.name.as_str())
    }
}
