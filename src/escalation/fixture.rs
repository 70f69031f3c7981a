//! Test fixtures shared by the escalation tests: a small roster loaded from
//! YAML, people with chosen contacts, timestamps.

use chrono::{DateTime, Utc};
use chrono_tz::Europe::Berlin;

use crate::config::{ChannelType, Person, Roster};
use crate::routing::{PresenceMark, WorkingHours};

/// Everyone works mon-fri 09:00-18:00 Berlin. Proximity order for `shop` while
/// `oc` holds `primary`: oc, r1, m1, m2, lead.
pub(crate) const ROSTER: &str = r##"timezone: Europe/Berlin
people:
  - id: oc
    phone: "+4915110000001"
    chat: "@oc"
    working_hours: ["mon-fri 09:00-18:00"]
  - id: r1
    phone: "+4915110000002"
    email: r1@example.com
    working_hours: ["mon-fri 09:00-18:00"]
  - id: m1
    chat: "@m1"
    working_hours: ["mon-fri 09:00-18:00"]
  - id: m2
    phone: "+4915110000004"
    working_hours: ["mon-fri 09:00-18:00"]
  - id: lead
    phone: "+4915110000005"
    email: lead@example.com
    chat: "@lead"
    working_hours: ["mon-fri 09:00-18:00"]
  - id: ext
    email: ext@example.com
    working_hours: ["mon-fri 09:00-18:00"]
teams:
  - id: web
    lead: lead
    members: [m1, oc, r1, m2]
clients:
  - id: acme
    channel: { type: log, name: "#acme" }
projects:
  - id: shop
    client: acme
    team: web
    responders: [r1]
    schedule: primary
  - id: blog
    client: acme
    team: web
    responders: [m2]
schedules:
  - id: primary
    timezone: Europe/Berlin
    members: [oc]
    handoff: "0 9 * * MON"
    start: "2026-01-05 09:00"
  - id: night
    timezone: Europe/Berlin
    members: [ext, m2]
    handoff: "0 9 * * MON"
    start: "2026-11-23 09:00"
    overrides:
      - { person: lead, from: "2026-11-25 12:00", to: "2026-11-25 14:00" }
escalation_policies:
  - id: default
    steps:
      - notify: nearest
        via: [chat, sms]
        wait: 5m
      - notify: next
        via: [sms]
        wait: 10m
      - notify: team_lead
        via: [voice]
        wait: 15m
    repeat: 1
integrations:
  - id: prom
    type: alertmanager
    token_sha256: 0000000000000000000000000000000000000000000000000000000000000000
    project: shop
"##;

/// Wednesday 11:00 Berlin: everybody inside working hours.
pub const DAY: &str = "2026-11-25T10:00:00Z";
/// Wednesday 23:00 Berlin: nobody inside working hours.
pub const NIGHT: &str = "2026-11-25T22:00:00Z";

pub fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .expect("test timestamps are valid RFC 3339")
        .to_utc()
}

pub fn roster() -> Roster {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("tocsin.yaml");
    std::fs::write(&path, ROSTER).expect("write fixture");
    match crate::config::load_with_env(&path, &|_| None) {
        Ok(r) => r,
        Err(e) => panic!("fixture roster is invalid: {e:?}"),
    }
}

/// A presence oracle from `(person, status, until)` marks.
pub fn marks(
    list: &[(&str, crate::routing::Status, &str)],
) -> impl Fn(&str) -> Option<PresenceMark> {
    let list: Vec<(String, PresenceMark)> = list
        .iter()
        .map(|&(p, status, until)| {
            (
                p.to_string(),
                PresenceMark {
                    status,
                    until: utc(until),
                },
            )
        })
        .collect();
    move |person| list.iter().find(|(p, _)| p == person).map(|(_, m)| *m)
}

/// A person with the contacts named by letters: `p`hone, `e`mail, `c`hat; their
/// own channels default as in the config (chat, sms, voice, email, those they have).
pub fn person(id: &str, contacts: &str) -> Person {
    let phone = contacts.contains('p').then(|| "+4915110000009".to_string());
    let email = contacts.contains('e').then(|| format!("{id}@example.com"));
    let chat = contacts.contains('c').then(|| format!("@{id}"));
    let channels = [
        (ChannelType::Chat, chat.is_some()),
        (ChannelType::Sms, phone.is_some()),
        (ChannelType::Voice, phone.is_some()),
        (ChannelType::Email, email.is_some()),
    ]
    .into_iter()
    .filter_map(|(c, has)| has.then_some(c))
    .collect();
    Person {
        id: id.to_string(),
        name: id.to_string(),
        phone,
        email,
        chat,
        ntfy_topic: None,
        chat_ids: Default::default(),
        timezone: Berlin,
        working_hours: WorkingHours::always(),
        channels,
        notify: Vec::new(),
        token: None,
        calendar_token: None,
    }
}
