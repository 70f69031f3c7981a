//! Raw files → `Roster`. Checks everything a person can get wrong (formats,
//! duplicates, dangling references) and records every problem with its
//! position instead of stopping at the first.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::str::FromStr;

use chrono::Weekday;
use chrono_tz::Tz;
use serde_saphyr::Spanned;

use super::context::Ctx;
use super::model::*;
use super::raw::{self, S};
use crate::duration::Span;
use crate::ingest::alert::Severity;
use crate::ingest::matcher::Matcher;
use crate::routing::{Handoff, WorkingHours};

/// Validates the main file (index 0) and its included files together.
pub fn roster(ctx: &mut Ctx<'_>, files: &[raw::File]) -> Option<Roster> {
    let main = files.first()?;
    for (i, f) in files.iter().enumerate().skip(1) {
        ctx.file = i;
        main_only(ctx, f);
    }
    ctx.file = 0;
    let timezone = main
        .timezone
        .as_ref()
        .and_then(|s| tz(ctx, s))
        .unwrap_or(chrono_tz::UTC);
    let server = server(ctx, main.server.as_ref());
    let storage = storage(ctx, main.storage.as_ref());
    let calendar = calendar(ctx, main.calendar.as_ref());
    let limits = limits(ctx, main.limits.as_ref());
    let providers = providers(ctx, main.providers.as_ref());

    let ids = Ids::collect(ctx, files);
    super::reach::push_needs_a_server(ctx, files, providers.push.is_some());
    let mut r = Roster {
        server,
        storage,
        timezone,
        calendar,
        providers,
        limits,
        people: BTreeMap::new(),
        teams: BTreeMap::new(),
        clients: BTreeMap::new(),
        projects: BTreeMap::new(),
        schedules: BTreeMap::new(),
        policies: BTreeMap::new(),
        integrations: BTreeMap::new(),
        heartbeats: BTreeMap::new(),
        maintenance: BTreeMap::new(),
        files: ctx.files.clone(),
    };
    for (i, f) in files.iter().enumerate() {
        ctx.file = i;
        for p in &f.people {
            if let Some(v) = person(ctx, p, timezone) {
                shared_chat_ids(ctx, p, &v, &r.people);
                r.people.insert(v.id.clone(), v);
            }
        }
        for t in &f.teams {
            if let Some(v) = team(ctx, t, &ids, timezone) {
                r.teams.insert(v.id.clone(), v);
            }
        }
        for c in &f.clients {
            if let Some(v) = client(ctx, c) {
                r.clients.insert(v.id.clone(), v);
            }
        }
        for s in &f.schedules {
            if let Some(v) = schedule(ctx, s, &ids, timezone) {
                r.schedules.insert(v.id.clone(), v);
            }
        }
        for p in &f.escalation_policies {
            if let Some(v) = policy(ctx, p, &ids) {
                r.policies.insert(v.id.clone(), v);
            }
        }
        for p in &f.projects {
            if let Some(v) = project(ctx, p, &ids) {
                r.projects.insert(v.id.clone(), v);
            }
        }
        for g in &f.integrations {
            if let Some(v) = integration(ctx, g, &ids) {
                r.integrations.insert(v.id.clone(), v);
            }
        }
        for h in &f.heartbeats {
            if let Some(v) = heartbeat(ctx, h, &ids) {
                r.heartbeats.insert(v.id.clone(), v);
            }
        }
    }
    for (i, f) in files.iter().enumerate() {
        ctx.file = i;
        super::maintenance::windows(ctx, &f.maintenance, &mut r);
    }
    ctx.file = 0;
    for a in main.server.iter().flat_map(|s| &s.value.admins) {
        if !ids.people.contains(&a.value) {
            ctx.err(
                a,
                format!("server.admins names unknown person {:?}", a.value),
            );
        }
    }
    people_and_integrations(ctx, files);
    ctx.errors.is_empty().then_some(r)
}

/// A configuration without people or without integrations answers every
/// token with 401, and Alertmanager does not retry a 4xx: that is an empty
/// or cut-off file, never an intent. Refused, so a reload keeps the running one.
fn people_and_integrations(ctx: &mut Ctx<'_>, files: &[raw::File]) {
    let none = |section: fn(&raw::File) -> bool| files.iter().all(section);
    for (missing, message) in [
        (
            none(|f| f.people.is_empty()),
            "no people configured: nobody can be paged or sign in",
        ),
        (
            none(|f| f.integrations.is_empty()),
            "no integrations configured: every alert would be refused",
        ),
    ] {
        if missing {
            ctx.error_at_start(format!("{message} (is the file empty or cut off?)"));
        }
    }
}

/// Sections that only the main file may hold.
fn main_only(ctx: &mut Ctx<'_>, f: &raw::File) {
    let mut deny = |name: &str, loc: Option<serde_saphyr::Location>| {
        if let Some(loc) = loc {
            ctx.error_at(
                &loc,
                format!("{name} may only be set in the main configuration file"),
            );
        }
    };
    deny("include", f.include.first().map(|s| s.referenced));
    deny("server", f.server.as_ref().map(|s| s.referenced));
    deny("storage", f.storage.as_ref().map(|s| s.referenced));
    deny("timezone", f.timezone.as_ref().map(|s| s.referenced));
    deny("calendar", f.calendar.as_ref().map(|s| s.referenced));
    deny("providers", f.providers.as_ref().map(|s| s.referenced));
    deny("limits", f.limits.as_ref().map(|s| s.referenced));
}

/// Every id of every kind, gathered first so references can be checked in
/// any order and across files. Duplicates are reported here.
struct Ids {
    people: BTreeSet<String>,
    teams: BTreeSet<String>,
    clients: BTreeSet<String>,
    projects: BTreeSet<String>,
    schedules: BTreeSet<String>,
    policies: BTreeSet<String>,
}

impl Ids {
    fn collect(ctx: &mut Ctx<'_>, files: &[raw::File]) -> Self {
        let mut ids = Ids {
            people: BTreeSet::new(),
            teams: BTreeSet::new(),
            clients: BTreeSet::new(),
            projects: BTreeSet::new(),
            schedules: BTreeSet::new(),
            policies: BTreeSet::new(),
        };
        let mut integrations = BTreeSet::new();
        let mut heartbeats = BTreeSet::new();
        let mut prefixes = BTreeMap::new();
        for (i, f) in files.iter().enumerate() {
            ctx.file = i;
            reference_prefixes(ctx, &mut prefixes, f.clients.iter().map(|c| &c.value.id));
            add(
                ctx,
                "person",
                &mut ids.people,
                f.people.iter().map(|p| &p.value.id),
            );
            add(
                ctx,
                "team",
                &mut ids.teams,
                f.teams.iter().map(|p| &p.value.id),
            );
            add(
                ctx,
                "client",
                &mut ids.clients,
                f.clients.iter().map(|p| &p.value.id),
            );
            add(
                ctx,
                "project",
                &mut ids.projects,
                f.projects.iter().map(|p| &p.value.id),
            );
            add(
                ctx,
                "schedule",
                &mut ids.schedules,
                f.schedules.iter().map(|p| &p.value.id),
            );
            add(
                ctx,
                "escalation policy",
                &mut ids.policies,
                f.escalation_policies.iter().map(|p| &p.value.id),
            );
            add(
                ctx,
                "integration",
                &mut integrations,
                f.integrations.iter().map(|p| &p.value.id),
            );
            add(
                ctx,
                "heartbeat",
                &mut heartbeats,
                f.heartbeats.iter().map(|p| &p.value.id),
            );
        }
        ids
    }
}

/// Two clients must not share an incident reference prefix (`big-co` and
/// `big_co` are both `BIG-CO`), or their references would mix.
fn reference_prefixes<'a>(
    ctx: &mut Ctx<'_>,
    seen: &mut BTreeMap<String, String>,
    ids: impl Iterator<Item = &'a S>,
) {
    for id in ids {
        let prefix = super::reference_prefix(&id.value);
        match seen.get(&prefix) {
            Some(other) if *other != id.value => ctx.err(
                id,
                format!(
                    "client {:?} has the incident reference prefix {prefix} of client {other:?}",
                    id.value
                ),
            ),
            _ => {
                seen.insert(prefix, id.value.clone());
            }
        }
    }
}

fn add<'a>(
    ctx: &mut Ctx<'_>,
    kind: &str,
    set: &mut BTreeSet<String>,
    items: impl Iterator<Item = &'a S>,
) {
    for id in items {
        if !valid_id(&id.value) {
            ctx.err(
                id,
                format!(
                    "invalid {kind} id {:?}: use lower-case letters, digits, '-', '_' or '.'",
                    id.value
                ),
            );
        } else if !set.insert(id.value.clone()) {
            ctx.err(id, format!("duplicate {kind} id {:?}", id.value));
        }
    }
}

pub(super) fn valid_id(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && chars
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.'))
        && s.len() <= 64
}

/// Checks that `s` names a known id of `kind`.
fn reference(ctx: &mut Ctx<'_>, owner: &str, kind: &str, set: &BTreeSet<String>, s: &S) -> bool {
    if set.contains(&s.value) {
        return true;
    }
    ctx.err(s, format!("{owner} names unknown {kind} {:?}", s.value));
    false
}

pub(super) fn tz(ctx: &mut Ctx<'_>, s: &S) -> Option<Tz> {
    match Tz::from_str(s.value.trim()) {
        Ok(t) => Some(t),
        Err(_) => {
            ctx.err(
                s,
                format!(
                    "unknown time zone {:?} (use an IANA name such as Europe/Berlin)",
                    s.value
                ),
            );
            None
        }
    }
}

pub(super) fn span(ctx: &mut Ctx<'_>, what: &str, s: Option<&S>, default: Span) -> Span {
    let Some(s) = s else { return default };
    match Span::parse(&s.value) {
        Ok(v) => v,
        Err(msg) => {
            ctx.err(s, format!("{what}: {msg}"));
            default
        }
    }
}

/// A duration of at most `max_secs`.
fn bounded_span(
    ctx: &mut Ctx<'_>,
    what: &str,
    s: Option<&S>,
    default: Span,
    max_secs: u64,
) -> Span {
    let v = span(ctx, what, s, default);
    match s {
        Some(s) if v.as_secs() > max_secs => {
            ctx.err(s, format!("{what} must be at most {max_secs}s"));
            default
        }
        _ => v,
    }
}

pub(super) fn required<'s>(
    ctx: &mut Ctx<'_>,
    owner_at: &Spanned<impl Sized>,
    owner: &str,
    key: &str,
    v: Option<&'s S>,
) -> Option<&'s S> {
    if v.is_none() {
        ctx.err(owner_at, format!("{owner} is missing {key}"));
    }
    v
}

fn server(ctx: &mut Ctx<'_>, s: Option<&Spanned<raw::Server>>) -> Server {
    let default_listen: SocketAddr = ([127, 0, 0, 1], 8080).into();
    let mut out = Server {
        listen: default_listen,
        public_url: url::Url::parse("http://127.0.0.1:8080/").expect("constant URL parses"),
        secret: None,
        max_body_bytes: 1 << 20,
        max_connections: 512,
        header_timeout: Span::from_secs(10),
        body_timeout: Span::from_secs(30),
        admins: BTreeSet::new(),
        auth: Auth::default(),
    };
    let Some(s) = s else { return out };
    let s = &s.value;
    if let Some(l) = &s.listen {
        match ctx.text(l).map(|t| t.parse::<SocketAddr>()) {
            Some(Ok(a)) => out.listen = a,
            Some(Err(_)) => ctx.err(
                l,
                format!(
                    "server.listen {:?} is not an address such as 127.0.0.1:8080",
                    l.value
                ),
            ),
            None => {}
        }
    }
    out.public_url = url::Url::parse(&format!("http://{}/", out.listen)).unwrap_or(out.public_url);
    if let Some(u) = &s.public_url {
        match ctx.text(u).map(|t| url::Url::parse(&t)) {
            Some(Ok(url)) if matches!(url.scheme(), "http" | "https") => out.public_url = url,
            Some(_) => ctx.err(
                u,
                "server.public_url must be an absolute http:// or https:// URL",
            ),
            None => {}
        }
    }
    out.secret = ctx.secret("secret", s.secret.as_ref(), s.secret_file.as_ref());
    if let Some(b) = &s.max_body_bytes {
        if b.value < 1024 || b.value > 64 << 20 {
            ctx.err(b, "server.max_body_bytes must be between 1024 and 67108864");
        } else {
            out.max_body_bytes = b.value as usize;
        }
    }
    if let Some(n) = &s.max_connections {
        if (1..=100_000).contains(&n.value) {
            out.max_connections = n.value as usize;
        } else {
            ctx.err(n, "server.max_connections must be between 1 and 100000");
        }
    }
    out.header_timeout = bounded_span(
        ctx,
        "server.header_timeout",
        s.header_timeout.as_ref(),
        out.header_timeout,
        300,
    );
    out.body_timeout = bounded_span(
        ctx,
        "server.body_timeout",
        s.body_timeout.as_ref(),
        out.body_timeout,
        600,
    );
    out.admins = s.admins.iter().map(|a| a.value.clone()).collect();
    out.auth = super::auth::auth(ctx, s.auth.as_ref());
    out
}

fn storage(ctx: &mut Ctx<'_>, s: Option<&Spanned<raw::Storage>>) -> Storage {
    let path = s
        .and_then(|s| s.value.sqlite.as_ref())
        .and_then(|p| ctx.text(p))
        .unwrap_or_else(|| "../data/tocsin.db".into());
    let postgres = s.and_then(|s| {
        let v = &s.value;
        let url = ctx.secret("postgres", v.postgres.as_ref(), v.postgres_file.as_ref())?;
        if let Some(sqlite) = &v.sqlite {
            ctx.err(
                sqlite,
                "give either storage.sqlite or storage.postgres, not both",
            );
        }
        Some(url)
    });
    Storage {
        sqlite: ctx.path(&path),
        postgres,
    }
}

fn weekday(s: &str) -> Option<Weekday> {
    Some(match s.to_ascii_lowercase().as_str() {
        "mon" | "monday" => Weekday::Mon,
        "tue" | "tuesday" => Weekday::Tue,
        "wed" | "wednesday" => Weekday::Wed,
        "thu" | "thursday" => Weekday::Thu,
        "fri" | "friday" => Weekday::Fri,
        "sat" | "saturday" => Weekday::Sat,
        "sun" | "sunday" => Weekday::Sun,
        _ => return None,
    })
}

fn calendar(ctx: &mut Ctx<'_>, c: Option<&Spanned<raw::Calendar>>) -> Calendar {
    let mut out = Calendar {
        workdays: [true, true, true, true, true, false, false],
        holidays: BTreeSet::new(),
    };
    let Some(c) = c else { return out };
    if !c.value.workdays.is_empty() {
        out.workdays = [false; 7];
        for d in &c.value.workdays {
            match weekday(&d.value) {
                Some(w) => out.workdays[w.num_days_from_monday() as usize] = true,
                None => ctx.err(
                    d,
                    format!("unknown weekday {:?} (use mon, tue, ... sun)", d.value),
                ),
            }
        }
    }
    for h in &c.value.holidays {
        match chrono::NaiveDate::parse_from_str(h.value.trim(), "%Y-%m-%d") {
            Ok(d) => {
                out.holidays.insert(d);
            }
            Err(_) => ctx.err(h, format!("holiday {:?} is not a date YYYY-MM-DD", h.value)),
        }
    }
    out
}

fn limits(ctx: &mut Ctx<'_>, l: Option<&Spanned<raw::Limits>>) -> Limits {
    let l = l.map(|l| &l.value);
    let get = |f: fn(&raw::Limits) -> Option<&S>| l.and_then(f);
    Limits {
        presence_max_ttl: span(
            ctx,
            "limits.presence_max_ttl",
            get(|l| l.presence_max_ttl.as_ref()),
            Span::from_secs(7 * 86_400),
        ),
        flap_window: span(
            ctx,
            "limits.flap_window",
            get(|l| l.flap_window.as_ref()),
            Span::from_secs(600),
        ),
        sms_bundle_window: span(
            ctx,
            "limits.sms_bundle_window",
            get(|l| l.sms_bundle_window.as_ref()),
            Span::from_secs(60),
        ),
        sms_per_hour: l
            .and_then(|l| l.sms_per_hour.as_ref())
            .map_or(20, |v| v.value.max(1)),
        sms_max_segments: sms_max_segments(ctx, l.and_then(|l| l.sms_max_segments.as_ref())),
        shift_notice_before: span(
            ctx,
            "limits.shift_notice_before",
            get(|l| l.shift_notice_before.as_ref()),
            Span::from_secs(3600),
        ),
        diagnosis_reminder: span(
            ctx,
            "limits.diagnosis_reminder",
            get(|l| l.diagnosis_reminder.as_ref()),
            Span::from_secs(900),
        ),
        third_party_reminder: span(
            ctx,
            "limits.third_party_reminder",
            get(|l| l.third_party_reminder.as_ref()),
            Span::from_secs(1800),
        ),
        serious_after: span(
            ctx,
            "limits.serious_after",
            get(|l| l.serious_after.as_ref()),
            Span::from_secs(3600),
        ),
        action_reminder_before: span(
            ctx,
            "limits.action_reminder_before",
            get(|l| l.action_reminder_before.as_ref()),
            Span::from_secs(86_400),
        ),
        maintenance_max: span(
            ctx,
            "limits.maintenance_max",
            get(|l| l.maintenance_max.as_ref()),
            super::maintenance::DEFAULT_MAX,
        ),
    }
}

/// Segments one SMS may take: 1 to 10 (Twilio takes at most 1,600
/// characters, which ten GSM-7 segments stay under), 3 when absent.
fn sms_max_segments(ctx: &mut Ctx<'_>, v: Option<&Spanned<u32>>) -> usize {
    match v {
        None => 3,
        Some(v) if (1..=10).contains(&v.value) => v.value as usize,
        Some(v) => {
            ctx.err(v, "limits.sms_max_segments must be between 1 and 10");
            3
        }
    }
}

fn providers(ctx: &mut Ctx<'_>, p: Option<&Spanned<raw::Providers>>) -> Providers {
    let mut out = Providers {
        sms: vec![Provider::Log],
        voice: vec![Provider::Log],
        email: Provider::Log,
        chat: log_channel("on-call"),
        push: None,
    };
    let Some(p) = p else { return out };
    let p = &p.value;
    if let Some(s) = &p.sms {
        out.sms = super::reach::phones(ctx, "providers.sms", s);
    }
    if let Some(s) = &p.voice {
        out.voice = super::reach::phones(ctx, "providers.voice", s);
    }
    if let Some(s) = &p.push {
        out.push = super::reach::push(ctx, s);
    }
    if let Some(s) = &p.email {
        out.email = email_provider(ctx, s);
    }
    if let Some(c) = &p.chat {
        out.chat = channel(ctx, "providers.chat", c).unwrap_or(out.chat);
    }
    out
}

fn log_channel(name: &str) -> Channel {
    Channel {
        kind: ChannelKind::Log,
        name: name.into(),
        url: None,
        secret: None,
        bot_token: None,
        chat_id: None,
        base_url: None,
        channel: None,
        signing_secret: None,
        webhook_secret: None,
        buttons: false,
    }
}

fn kind_of<'s>(
    ctx: &mut Ctx<'_>,
    at: &Spanned<impl Sized>,
    what: &str,
    k: Option<&'s S>,
) -> Option<&'s str> {
    match k {
        Some(k) => Some(k.value.as_str()),
        None => {
            ctx.err(at, format!("{what} is missing type"));
            None
        }
    }
}

pub(super) fn phone_provider(
    ctx: &mut Ctx<'_>,
    what: &str,
    s: &Spanned<&raw::Provider>,
) -> Provider {
    let v = s.value;
    match kind_of(ctx, s, what, v.kind.as_ref()) {
        Some("log") => Provider::Log,
        Some("twilio") => twilio(ctx, what, s).map_or(Provider::Log, Provider::Twilio),
        Some("telnyx") => {
            super::reach::telnyx(ctx, what, s).map_or(Provider::Log, Provider::Telnyx)
        }
        Some(other) => {
            if let Some(k) = &v.kind {
                ctx.err(
                    k,
                    format!("{what}: unknown type {other:?} (expected twilio, telnyx or log)"),
                );
            }
            Provider::Log
        }
        None => Provider::Log,
    }
}

fn twilio(ctx: &mut Ctx<'_>, what: &str, s: &Spanned<&raw::Provider>) -> Option<Twilio> {
    let v = s.value;
    let sid =
        required(ctx, s, what, "account_sid", v.account_sid.as_ref()).and_then(|x| ctx.text(x));
    let token = ctx.secret(
        "auth_token",
        v.auth_token.as_ref(),
        v.auth_token_file.as_ref(),
    );
    if token.is_none() && v.auth_token.is_none() && v.auth_token_file.is_none() {
        ctx.err(
            s,
            format!("{what} is missing auth_token (or auth_token_file)"),
        );
    }
    let secondary = ctx.secret(
        "auth_token_secondary",
        v.auth_token_secondary.as_ref(),
        v.auth_token_secondary_file.as_ref(),
    );
    let from = ctx.opt_text(v.from.as_ref());
    if let (Some(f), Some(at)) = (&from, &v.from)
        && !is_e164(f)
    {
        ctx.err(
            at,
            format!("{what}.from {f:?} is not an E.164 phone number such as +4915123456789"),
        );
    }
    let mss = ctx.opt_text(v.messaging_service_sid.as_ref());
    if from.is_none() && mss.is_none() {
        ctx.err(s, format!("{what} needs from or messaging_service_sid"));
    }
    let base_url = match v.base_url.as_ref() {
        Some(b) => match ctx.text(b).map(|t| url::Url::parse(&t)) {
            Some(Ok(u)) => u,
            _ => {
                ctx.err(b, format!("{what}.base_url is not a URL"));
                return None;
            }
        },
        None => url::Url::parse("https://api.twilio.com").expect("constant URL parses"),
    };
    let validity = span(ctx, "validity", v.validity.as_ref(), Span::from_secs(900));
    if validity.as_secs() > 36_000
        && let Some(at) = &v.validity
    {
        {
            ctx.err(
                at,
                "validity must be at most 10h (Twilio's ValidityPeriod limit)",
            );
        }
    }
    let ring_timeout = span(
        ctx,
        "ring_timeout",
        v.ring_timeout.as_ref(),
        Span::from_secs(30),
    );
    Some(Twilio {
        account_sid: sid?,
        auth_token: token?,
        auth_token_secondary: secondary,
        from,
        messaging_service_sid: mss,
        base_url,
        validity,
        ring_timeout,
    })
}

fn email_provider(ctx: &mut Ctx<'_>, s: &Spanned<raw::Provider>) -> Provider {
    let v = &s.value;
    match kind_of(ctx, s, "providers.email", v.kind.as_ref()) {
        Some("log") => Provider::Log,
        Some("smtp") => smtp(ctx, s).map_or(Provider::Log, Provider::Smtp),
        Some(other) => {
            if let Some(k) = &v.kind {
                ctx.err(
                    k,
                    format!("providers.email: unknown type {other:?} (expected smtp or log)"),
                );
            }
            Provider::Log
        }
        None => Provider::Log,
    }
}

fn smtp(ctx: &mut Ctx<'_>, s: &Spanned<raw::Provider>) -> Option<Smtp> {
    let v = &s.value;
    let host =
        required(ctx, s, "providers.email", "host", v.host.as_ref()).and_then(|h| ctx.text(h));
    let tls = match v.tls.as_ref().map(|t| (t, t.value.as_str())) {
        None | Some((_, "starttls")) => SmtpTls::StartTls,
        Some((_, "tls")) => SmtpTls::Tls,
        Some((_, "none")) => SmtpTls::None,
        Some((t, other)) => {
            ctx.err(
                t,
                format!("providers.email.tls {other:?} must be starttls, tls or none"),
            );
            SmtpTls::StartTls
        }
    };
    let port = v.port.as_ref().map_or(
        match tls {
            SmtpTls::Tls => 465,
            SmtpTls::StartTls => 587,
            SmtpTls::None => 25,
        },
        |p| p.value,
    );
    let from = required(ctx, s, "providers.email", "from", v.from.as_ref()).and_then(|f| {
        let text = ctx.text(f)?;
        if text.parse::<lettre::Address>().is_err()
            && text.parse::<lettre::message::Mailbox>().is_err()
        {
            ctx.err(
                f,
                format!("providers.email.from {text:?} is not an email address"),
            );
            return None;
        }
        Some(text)
    });
    let password = ctx.secret("password", v.password.as_ref(), v.password_file.as_ref());
    Some(Smtp {
        host: host?,
        port,
        tls,
        username: ctx.opt_text(v.username.as_ref()),
        password,
        from: from?,
    })
}

fn channel(ctx: &mut Ctx<'_>, what: &str, c: &Spanned<raw::Channel>) -> Option<Channel> {
    let v = &c.value;
    let kind = match kind_of(ctx, c, what, v.kind.as_ref())? {
        "log" => ChannelKind::Log,
        "slack" => ChannelKind::Slack,
        "mattermost" => ChannelKind::Mattermost,
        "telegram" => ChannelKind::Telegram,
        "discord" => ChannelKind::Discord,
        "teams" => ChannelKind::Teams,
        "webhook" => ChannelKind::Webhook,
        other => {
            if let Some(k) = &v.kind {
                ctx.err(k, format!("{what}: unknown type {other:?} (expected slack, mattermost, telegram, discord, teams, webhook or log)"));
            }
            return None;
        }
    };
    let name = ctx
        .opt_text(v.name.as_ref())
        .unwrap_or_else(|| what.to_string());
    let url = ctx.secret("url", v.url.as_ref(), v.url_file.as_ref());
    // A Slack app posts with its bot token instead of a webhook URL.
    let slack_app =
        kind == ChannelKind::Slack && (v.bot_token.is_some() || v.bot_token_file.is_some());
    let needs_url = !matches!(kind, ChannelKind::Log | ChannelKind::Telegram) && !slack_app;
    if needs_url && url.is_none() && v.url.is_none() && v.url_file.is_none() {
        ctx.err(c, format!("{what} is missing url (or url_file)"));
    }
    let bot_token = ctx.secret("bot_token", v.bot_token.as_ref(), v.bot_token_file.as_ref());
    let chat_id = ctx.opt_text(v.chat_id.as_ref());
    if kind == ChannelKind::Telegram
        && (v.bot_token.is_none() && v.bot_token_file.is_none() || chat_id.is_none())
    {
        ctx.err(
            c,
            format!("{what}: telegram needs bot_token (or bot_token_file) and chat_id"),
        );
    }
    let base_url = match v.base_url.as_ref() {
        Some(b) => match ctx.text(b).map(|t| url::Url::parse(&t)) {
            Some(Ok(u)) => Some(u),
            _ => {
                ctx.err(b, format!("{what}.base_url is not a URL"));
                None
            }
        },
        None => None,
    };
    let secret = ctx.secret("secret", v.secret.as_ref(), v.secret_file.as_ref());
    let slack_channel = ctx.opt_text(v.channel.as_ref());
    let signing_secret = ctx.secret(
        "signing_secret",
        v.signing_secret.as_ref(),
        v.signing_secret_file.as_ref(),
    );
    if slack_app
        && (slack_channel.is_none()
            || v.signing_secret.is_none() && v.signing_secret_file.is_none())
    {
        ctx.err(
            c,
            format!("{what}: a slack app needs channel and signing_secret (or signing_secret_file) beside bot_token"),
        );
    }
    let webhook_secret = ctx.secret(
        "webhook_secret",
        v.webhook_secret.as_ref(),
        v.webhook_secret_file.as_ref(),
    );
    Some(Channel {
        kind,
        name,
        url,
        secret,
        bot_token,
        chat_id,
        base_url,
        channel: slack_channel,
        signing_secret,
        webhook_secret,
        buttons: v.buttons.as_ref().is_some_and(|b| b.value),
    })
}

pub fn is_e164(s: &str) -> bool {
    let Some(digits) = s.strip_prefix('+') else {
        return false;
    };
    (7..=15).contains(&digits.len())
        && digits.chars().all(|c| c.is_ascii_digit())
        && !digits.starts_with('0')
}

/// A chat button click names one person: no two share a platform id.
fn shared_chat_ids(
    ctx: &mut Ctx<'_>,
    p: &Spanned<raw::Person>,
    person: &Person,
    earlier: &BTreeMap<String, Person>,
) {
    let at = [
        &p.value.slack_id,
        &p.value.mattermost_id,
        &p.value.telegram_id,
    ];
    for (i, (key, mine)) in person.chat_ids.keyed().into_iter().enumerate() {
        let (Some(at), Some(mine)) = (at[i], mine) else {
            continue;
        };
        if let Some(other) = earlier
            .values()
            .find(|o| o.chat_ids.keyed()[i].1 == Some(mine))
        {
            ctx.err(
                at,
                format!(
                    "person {:?}: {key} {mine:?} is also {:?}'s",
                    person.id, other.id
                ),
            );
        }
    }
}

fn person(ctx: &mut Ctx<'_>, p: &Spanned<raw::Person>, default_tz: Tz) -> Option<Person> {
    let v = &p.value;
    let id = v.id.value.clone();
    let phone = ctx.opt_text(v.phone.as_ref());
    if let (Some(ph), Some(at)) = (&phone, &v.phone)
        && !is_e164(ph)
    {
        ctx.err(
            at,
            format!("person {id:?}: phone {ph:?} is not in E.164 form such as +4915123456789"),
        );
    }
    let email = ctx.opt_text(v.email.as_ref());
    if let (Some(e), Some(at)) = (&email, &v.email)
        && e.parse::<lettre::Address>().is_err()
    {
        ctx.err(
            at,
            format!("person {id:?}: email {e:?} is not an email address"),
        );
    }
    let chat = ctx.opt_text(v.chat.as_ref());
    let chat_ids = ChatIds {
        slack: ctx.opt_text(v.slack_id.as_ref()),
        mattermost: ctx.opt_text(v.mattermost_id.as_ref()),
        telegram: ctx.opt_text(v.telegram_id.as_ref()),
    };
    let timezone = v
        .timezone
        .as_ref()
        .and_then(|t| tz(ctx, t))
        .unwrap_or(default_tz);
    let mut hours_ok = true;
    for h in &v.working_hours {
        if let Err(e) = WorkingHours::parse(std::slice::from_ref(&h.value)) {
            ctx.err(
                h,
                format!("person {id:?}: working hours {:?}: {e}", h.value),
            );
            hours_ok = false;
        }
    }
    let hours: Vec<&str> = v.working_hours.iter().map(|h| h.value.as_str()).collect();
    let working_hours = if hours_ok {
        match WorkingHours::parse(&hours) {
            Ok(w) => w,
            Err(e) => {
                ctx.err(p, format!("person {id:?}: working hours: {e}"));
                return None;
            }
        }
    } else {
        return None;
    };
    let ntfy_topic = ctx.opt_text(v.ntfy_topic.as_ref());
    let has = |c: ChannelType| match c {
        ChannelType::Sms | ChannelType::Voice => phone.is_some(),
        ChannelType::Email => email.is_some(),
        ChannelType::Chat => chat.is_some(),
        ChannelType::Push => ntfy_topic.is_some(),
    };
    let mut channels = Vec::new();
    for c in &v.channels {
        match c.value.parse::<ChannelType>() {
            Ok(ch) if !has(ch) => ctx.err(
                c,
                format!(
                    "person {id:?}: channel {} needs a {}",
                    c.value,
                    match ch {
                        ChannelType::Sms | ChannelType::Voice => "phone",
                        ChannelType::Email => "email",
                        ChannelType::Chat => "chat handle",
                        ChannelType::Push => "ntfy_topic",
                    }
                ),
            ),
            Ok(ch) => channels.push(ch),
            Err(msg) => ctx.err(c, format!("person {id:?}: {msg}")),
        }
    }
    if v.channels.is_empty() {
        channels = [
            ChannelType::Chat,
            ChannelType::Push,
            ChannelType::Sms,
            ChannelType::Voice,
            ChannelType::Email,
        ]
        .into_iter()
        .filter(|c| has(*c))
        .collect();
    }
    if phone.is_none() && email.is_none() && chat.is_none() && ntfy_topic.is_none() {
        ctx.err(
            &v.id,
            format!("person {id:?} has no phone, email or chat: they cannot be paged"),
        );
    }
    let token = ctx.token(
        "token",
        v.token.as_ref(),
        v.token_file.as_ref(),
        v.token_sha256.as_ref(),
    );
    let calendar_token = ctx.token(
        "calendar_token",
        v.calendar_token.as_ref(),
        v.calendar_token_file.as_ref(),
        v.calendar_token_sha256.as_ref(),
    );
    let mut person = Person {
        name: ctx.opt_text(v.name.as_ref()).unwrap_or_else(|| id.clone()),
        id,
        phone,
        email,
        chat,
        ntfy_topic,
        chat_ids,
        timezone,
        working_hours,
        channels,
        notify: Vec::new(),
        token,
        calendar_token,
    };
    person.notify = notify_rules(ctx, &person, &v.notify);
    Some(person)
}

fn cron_expr(ctx: &mut Ctx<'_>, what: &str, s: &S) -> Option<String> {
    let expr = s.value.trim();
    let full = if expr.split_whitespace().count() == 5 {
        format!("0 {expr}")
    } else {
        expr.to_string()
    };
    match cron::Schedule::from_str(&full) {
        Ok(_) => Some(expr.to_string()),
        Err(e) => {
            ctx.err(s, format!("{what}: invalid cron expression {expr:?}: {e}"));
            None
        }
    }
}

fn team(ctx: &mut Ctx<'_>, t: &Spanned<raw::Team>, ids: &Ids, default_tz: Tz) -> Option<Team> {
    let v = &t.value;
    let id = v.id.value.clone();
    let owner = format!("team {id:?}");
    let mut ok = true;
    for m in &v.members {
        ok &= reference(ctx, &owner, "person", &ids.people, m);
    }
    let lead = match &v.lead {
        Some(l) => {
            ok &= reference(ctx, &owner, "person", &ids.people, l);
            l.value.clone()
        }
        None => {
            ctx.err(
                &v.id,
                format!("team {id:?} has no lead (the lead approves postmortems)"),
            );
            return None;
        }
    };
    let timezone = v
        .timezone
        .as_ref()
        .and_then(|s| tz(ctx, s))
        .unwrap_or(default_tz);
    let digest = match &v.digest {
        Some(d) => cron_expr(ctx, &format!("{owner} digest"), d)?,
        None => "0 9 * * MON".to_string(),
    };
    ok.then(|| Team {
        name: v
            .name
            .as_ref()
            .map_or_else(|| id.clone(), |n| n.value.clone()),
        id,
        lead,
        members: v.members.iter().map(|m| m.value.clone()).collect(),
        timezone,
        digest,
    })
}

/// The client's "engineer online" wording, with its placeholders checked.
fn ack_message(ctx: &mut Ctx<'_>, client: &str, s: Option<&S>) -> Option<String> {
    let s = s?;
    let text = ctx.text(s)?;
    match crate::followup::channel::check_template(&text) {
        Ok(()) => Some(text),
        Err(e) => {
            ctx.err(s, format!("client {client:?}: ack_message: {e}"));
            None
        }
    }
}

fn client(ctx: &mut Ctx<'_>, c: &Spanned<raw::Client>) -> Option<Client> {
    let v = &c.value;
    let id = v.id.value.clone();
    let channel = match &v.channel {
        Some(ch) => channel(ctx, &format!("client {id:?} channel"), ch)?,
        None => {
            ctx.err(
                &v.id,
                format!(
                    "client {id:?} has no channel (the public chat channel for status updates)"
                ),
            );
            return None;
        }
    };
    let severity = match &v.severity {
        Some(s) => match s.value.parse::<Severity>() {
            Ok(sev) => sev,
            Err(e) => {
                ctx.err(s, format!("client {id:?}: {e}"));
                return None;
            }
        },
        None => Severity::Critical,
    };
    let token = ctx.token(
        "token",
        v.token.as_ref(),
        v.token_file.as_ref(),
        v.token_sha256.as_ref(),
    );
    let ack_message = ack_message(ctx, &id, v.ack_message.as_ref());
    Some(Client {
        name: v
            .name
            .as_ref()
            .map_or_else(|| id.clone(), |n| n.value.clone()),
        id,
        channel,
        token,
        severity,
        ack_message,
    })
}

fn project(ctx: &mut Ctx<'_>, p: &Spanned<raw::Project>, ids: &Ids) -> Option<Project> {
    let v = &p.value;
    let id = v.id.value.clone();
    let owner = format!("project {id:?}");
    let mut ok = true;
    let client = required(ctx, p, &owner, "client", v.client.as_ref());
    let team = required(ctx, p, &owner, "team", v.team.as_ref());
    for s in client.iter() {
        ok &= reference(ctx, &owner, "client", &ids.clients, s);
    }
    for s in team.iter() {
        ok &= reference(ctx, &owner, "team", &ids.teams, s);
    }
    for r in &v.responders {
        ok &= reference(ctx, &owner, "person", &ids.people, r);
    }
    if let Some(s) = &v.schedule {
        ok &= reference(ctx, &owner, "schedule", &ids.schedules, s);
    }
    let policy = match &v.escalation_policy {
        Some(s) => {
            ok &= reference(ctx, &owner, "escalation policy", &ids.policies, s);
            s.value.clone()
        }
        None if ids.policies.contains("default") => "default".to_string(),
        None => {
            ctx.err(
                &v.id,
                format!(
                    "{owner} has no escalation_policy and there is no policy named \"default\""
                ),
            );
            return None;
        }
    };
    let update_every = span(
        ctx,
        "update_every",
        v.update_every.as_ref(),
        Span::from_secs(1800),
    );
    Some(Project {
        name: v
            .name
            .as_ref()
            .map_or_else(|| id.clone(), |n| n.value.clone()),
        id,
        client: client?.value.clone(),
        team: team?.value.clone(),
        responders: v.responders.iter().map(|r| r.value.clone()).collect(),
        schedule: v.schedule.as_ref().map(|s| s.value.clone()),
        escalation_policy: policy,
        update_every,
    })
    .filter(|_| ok)
}

fn schedule(
    ctx: &mut Ctx<'_>,
    s: &Spanned<raw::Schedule>,
    ids: &Ids,
    default_tz: Tz,
) -> Option<Schedule> {
    let v = &s.value;
    let id = v.id.value.clone();
    let owner = format!("schedule {id:?}");
    let mut ok = true;
    if v.members.is_empty() {
        ctx.err(&v.id, format!("{owner} has no members"));
        ok = false;
    }
    for m in &v.members {
        ok &= reference(ctx, &owner, "person", &ids.people, m);
    }
    if let Some(t) = &v.team {
        ok &= reference(ctx, &owner, "team", &ids.teams, t);
    }
    let timezone = v
        .timezone
        .as_ref()
        .and_then(|t| tz(ctx, t))
        .unwrap_or(default_tz);
    let handoff =
        required(ctx, s, &owner, "handoff", v.handoff.as_ref()).and_then(|h| match Handoff::parse(
            &h.value,
        ) {
            Ok(x) => Some(x),
            Err(e) => {
                ctx.err(h, format!("{owner} handoff: {e}"));
                None
            }
        });
    let start =
        required(ctx, s, &owner, "start", v.start.as_ref()).and_then(
            |st| match crate::when::parse(&st.value, timezone) {
                Ok(t) => Some(t),
                Err(e) => {
                    ctx.err(st, format!("{owner} start: {e}"));
                    None
                }
            },
        );
    let mut overrides = Vec::new();
    for o in &v.overrides {
        ok &= reference(
            ctx,
            &format!("{owner} override"),
            "person",
            &ids.people,
            &o.value.person,
        );
        let from = crate::when::parse(&o.value.from.value, timezone);
        let to = crate::when::parse(&o.value.to.value, timezone);
        match (from, to) {
            (Ok(f), Ok(t)) if f < t => overrides.push(Override {
                person: o.value.person.value.clone(),
                from: f,
                to: t,
            }),
            (Ok(_), Ok(_)) => {
                ctx.err(
                    &o.value.to,
                    format!("{owner} override ends before it starts"),
                );
                ok = false;
            }
            (Err(e), _) => {
                ctx.err(&o.value.from, format!("{owner} override from: {e}"));
                ok = false;
            }
            (_, Err(e)) => {
                ctx.err(&o.value.to, format!("{owner} override to: {e}"));
                ok = false;
            }
        }
    }
    let sched = Schedule {
        name: v
            .name
            .as_ref()
            .map_or_else(|| id.clone(), |n| n.value.clone()),
        id,
        team: v.team.as_ref().map(|t| t.value.clone()),
        timezone,
        members: v.members.iter().map(|m| m.value.clone()).collect(),
        handoff: handoff?,
        start: start?,
        overrides,
    };
    ok.then_some(sched)
}

fn target(ctx: &mut Ctx<'_>, ids: &Ids, owner: &str, s: &S) -> Option<Target> {
    let t = s.value.trim();
    let out = match t {
        "nearest" => Target::Nearest,
        "next" => Target::Next,
        "team" => Target::Team,
        "team_lead" => Target::TeamLead,
        _ => {
            if let Some(p) = t.strip_prefix("person:") {
                if !ids.people.contains(p) {
                    ctx.err(s, format!("{owner} notifies unknown person {p:?}"));
                    return None;
                }
                Target::Person(p.to_string())
            } else if let Some(p) = t.strip_prefix("schedule:") {
                if !ids.schedules.contains(p) {
                    ctx.err(s, format!("{owner} notifies unknown schedule {p:?}"));
                    return None;
                }
                Target::Schedule(p.to_string())
            } else {
                ctx.err(s, format!("{owner}: unknown notify target {t:?} (expected nearest, next, team, team_lead, person:<id> or schedule:<id>)"));
                return None;
            }
        }
    };
    Some(out)
}

/// A person's `notify` ladder, each rule checked as the API checks it
/// (`NotifyRule::parse`), errors at the rule's or its `after`'s position.
fn notify_rules(
    ctx: &mut Ctx<'_>,
    person: &Person,
    rules: &[Spanned<raw::NotifyRule>],
) -> Vec<NotifyRule> {
    let mut out = Vec::new();
    for r in rules {
        let via: Vec<String> = r.value.via.iter().map(|c| c.value.clone()).collect();
        let after = r.value.after.as_ref();
        match NotifyRule::parse(person, &via, after.map(|a| a.value.as_str())) {
            Ok(rule) => out.push(rule),
            Err((key, why)) => {
                let msg = format!("person {:?}: notify rule {key}: {why}", person.id);
                match (key, after) {
                    ("after", Some(a)) => ctx.err(a, msg),
                    _ => ctx.err(r, msg),
                }
            }
        }
    }
    // In order only once every rule parsed (indexes then match).
    if out.len() == rules.len()
        && let Err((i, why)) = NotifyRule::check_ladder(&out)
    {
        let msg = format!("person {:?}: notify rule after: {why}", person.id);
        match rules[i].value.after.as_ref() {
            Some(a) => ctx.err(a, msg),
            None => ctx.err(&rules[i], msg),
        }
    }
    out
}

fn policy(ctx: &mut Ctx<'_>, p: &Spanned<raw::Policy>, ids: &Ids) -> Option<Policy> {
    let v = &p.value;
    let id = v.id.value.clone();
    let owner = format!("escalation policy {id:?}");
    if v.steps.is_empty() {
        ctx.err(&v.id, format!("{owner} has no steps"));
        return None;
    }
    let mut steps = Vec::new();
    let mut ok = true;
    for (n, st) in v.steps.iter().enumerate() {
        let so = format!("{owner} step {}", n + 1);
        let t = target(ctx, ids, &so, &st.value.notify);
        // No `via`: each person's own notify rules decide.
        let mut via = Vec::new();
        for c in &st.value.via {
            match c.value.parse::<ChannelType>() {
                Ok(ch) => via.push(ch),
                Err(e) => {
                    ctx.err(c, format!("{so}: {e}"));
                    ok = false;
                }
            }
        }
        let wait = match &st.value.wait {
            Some(w) => span(ctx, &format!("{so} wait"), Some(w), Span::from_secs(300)),
            None => {
                ctx.err(st, format!("{so} is missing wait"));
                ok = false;
                Span::from_secs(300)
            }
        };
        match t {
            Some(notify) => steps.push(Step { notify, via, wait }),
            None => ok = false,
        }
    }
    let ack_timeout = v
        .ack_timeout
        .as_ref()
        .map(|a| span(ctx, "ack_timeout", Some(a), Span::from_secs(3600)));
    ok.then(|| Policy {
        id,
        steps,
        repeat: v.repeat.as_ref().map_or(0, |r| r.value),
        ack_timeout,
    })
}

fn integration(ctx: &mut Ctx<'_>, g: &Spanned<raw::Integration>, ids: &Ids) -> Option<Integration> {
    let v = &g.value;
    let id = v.id.value.clone();
    let owner = format!("integration {id:?}");
    let kind =
        match required(ctx, g, &owner, "type", v.kind.as_ref()).map(|k| (k, k.value.as_str())) {
            Some((_, "alertmanager")) => IntegrationKind::Alertmanager,
            Some((_, "grafana")) => IntegrationKind::Grafana,
            Some((_, "events_v2" | "pagerduty")) => IntegrationKind::Events,
            Some((k, other)) => {
                ctx.err(
                k,
                format!(
                    "{owner}: unknown type {other:?} (expected alertmanager, grafana or events_v2)"
                ),
            );
                return None;
            }
            None => return None,
        };
    let token = ctx.token(
        "token",
        v.token.as_ref(),
        v.token_file.as_ref(),
        v.token_sha256.as_ref(),
    );
    if v.token.is_none() && v.token_file.is_none() && v.token_sha256.is_none() {
        ctx.err(
            &v.id,
            format!("{owner} has no token (token, token_file or token_sha256)"),
        );
    }
    let signing_secret = ctx.secret(
        "signing_secret",
        v.signing_secret.as_ref(),
        v.signing_secret_file.as_ref(),
    );
    let project = required(ctx, g, &owner, "project", v.project.as_ref())?;
    let mut ok = reference(ctx, &owner, "project", &ids.projects, project);
    let mut routes = Vec::new();
    for r in &v.routes {
        let mut matchers = Vec::new();
        for m in &r.value.matchers {
            match Matcher::parse(&m.value) {
                Ok(x) => matchers.push(x),
                Err(e) => {
                    ctx.err(m, format!("{owner} route matcher {:?}: {e}", m.value));
                    ok = false;
                }
            }
        }
        if let Some(p) = &r.value.project {
            ok &= reference(ctx, &format!("{owner} route"), "project", &ids.projects, p);
        }
        let severity = match &r.value.severity {
            Some(s) => match s.value.parse::<Severity>() {
                Ok(x) => Some(x),
                Err(e) => {
                    ctx.err(s, format!("{owner} route: {e}"));
                    ok = false;
                    None
                }
            },
            None => None,
        };
        routes.push(Route {
            matchers,
            project: r.value.project.as_ref().map(|p| p.value.clone()),
            severity,
            critical: r.value.critical.as_ref().is_none_or(|c| c.value),
        });
    }
    let integ = Integration {
        id,
        kind,
        token: token?,
        signing_secret,
        project: project.value.clone(),
        auto_resolve: v.auto_resolve.as_ref().is_none_or(|a| a.value),
        routes,
    };
    ok.then_some(integ)
}

fn heartbeat(ctx: &mut Ctx<'_>, h: &Spanned<raw::Heartbeat>, ids: &Ids) -> Option<Heartbeat> {
    let v = &h.value;
    let id = v.id.value.clone();
    let owner = format!("heartbeat {id:?}");
    let project = required(ctx, h, &owner, "project", v.project.as_ref())?;
    let ok = reference(ctx, &owner, "project", &ids.projects, project);
    let interval = required(ctx, h, &owner, "interval", v.interval.as_ref()).map(|i| {
        span(
            ctx,
            &format!("{owner} interval"),
            Some(i),
            Span::from_secs(300),
        )
    });
    let grace = span(
        ctx,
        &format!("{owner} grace"),
        v.grace.as_ref(),
        Span::from_secs(60),
    );
    let token = ctx.token(
        "token",
        v.token.as_ref(),
        v.token_file.as_ref(),
        v.token_sha256.as_ref(),
    );
    let hb = Heartbeat {
        summary: ctx
            .opt_text(v.summary.as_ref())
            .unwrap_or_else(|| format!("Heartbeat {id} missed")),
        id,
        project: project.value.clone(),
        interval: interval?,
        grace,
        token,
    };
    ok.then_some(hb)
}
