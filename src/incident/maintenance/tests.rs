use super::*;
use crate::duration::Span;
use crate::escalation::fixture::{roster, utc};
use crate::routing::Handoff;

fn recurring(cron: &str, duration: u64) -> Maintenance {
    Maintenance {
        id: "backup".into(),
        scope: Scope::Project("shop".into()),
        matchers: Vec::new(),
        cron: Handoff::parse(cron).expect("cron"),
        timezone: chrono_tz::Europe::Berlin,
        duration: Span::from_secs(duration),
        reason: "nightly backup".into(),
        client_reports: ClientReports::Page,
    }
}

#[test]
fn a_recurring_window_holds_from_each_cron_instant_for_its_duration_across_dst() {
    // 02:30 Berlin for an hour. 2026-03-29 has no 02:30 (clocks jump from
    // 02:00 to 03:00): the window opens at the jump. 2026-10-25 has two
    // 02:30s: only the first opens it.
    let m = recurring("30 2 * * *", 3600);
    for (now, expected) in [
        ("2026-03-28T01:29:59Z", None),
        (
            "2026-03-28T01:30:00Z",
            Some(("2026-03-28T01:30:00Z", "2026-03-28T02:30:00Z")),
        ),
        (
            "2026-03-28T02:29:59Z",
            Some(("2026-03-28T01:30:00Z", "2026-03-28T02:30:00Z")),
        ),
        ("2026-03-28T02:30:00Z", None),
        ("2026-03-29T00:59:59Z", None),
        (
            "2026-03-29T01:00:00Z",
            Some(("2026-03-29T01:00:00Z", "2026-03-29T02:00:00Z")),
        ),
        (
            "2026-03-29T01:59:59Z",
            Some(("2026-03-29T01:00:00Z", "2026-03-29T02:00:00Z")),
        ),
        ("2026-03-29T02:00:00Z", None),
        (
            "2026-03-30T00:30:00Z",
            Some(("2026-03-30T00:30:00Z", "2026-03-30T01:30:00Z")),
        ),
        ("2026-10-25T00:29:59Z", None),
        (
            "2026-10-25T00:30:00Z",
            Some(("2026-10-25T00:30:00Z", "2026-10-25T01:30:00Z")),
        ),
        ("2026-10-25T01:30:00Z", None),
        ("2026-10-25T02:00:00Z", None),
        (
            "2026-11-25T01:30:00Z",
            Some(("2026-11-25T01:30:00Z", "2026-11-25T02:30:00Z")),
        ),
    ] {
        assert_eq!(
            occurrence(&m, utc(now)),
            expected.map(|(a, b)| (utc(a), utc(b))),
            "{now}"
        );
    }
}

#[test]
fn the_end_timer_goes_to_the_current_or_next_occurrence() {
    let m = recurring("30 2 * * *", 3600);
    for (now, expected) in [
        ("2026-03-28T23:00:00Z", "2026-03-29T02:00:00Z"),
        ("2026-03-29T01:30:00Z", "2026-03-29T02:00:00Z"),
        ("2026-03-29T02:00:00Z", "2026-03-30T01:30:00Z"),
        ("2026-10-25T01:30:00Z", "2026-10-26T02:30:00Z"),
    ] {
        assert_eq!(next_end(&m, utc(now)), Some(utc(expected)), "{now}");
    }
}

fn window(scope: Scope, matchers: &[&str], client_reports: ClientReports) -> Window {
    let mut w = configured(
        &recurring("0 2 * * *", 3600),
        utc("2026-11-25T01:00:00Z"),
        utc("2026-11-25T02:00:00Z"),
    );
    w.scope = scope;
    w.matchers = matchers
        .iter()
        .map(|m| Matcher::parse(m).expect("matcher"))
        .collect();
    w.client_reports = client_reports;
    w
}

#[test]
fn a_window_covers_its_scope_narrowed_by_matchers_and_client_reports_only_when_held() {
    use ClientReports::{Hold, Page};
    let labels: BTreeMap<String, String> = [("job".to_string(), "backup".to_string())].into();
    let alert = Subject {
        project: "shop",
        client: "acme",
        integration: Some("prom"),
        labels: &labels,
        client_report: false,
    };
    let report = Subject {
        integration: Some("client:acme"),
        labels: &BTreeMap::new(),
        client_report: true,
        ..alert
    };
    for (w, subject, expected) in [
        (
            window(Scope::Project("shop".into()), &[], Page),
            alert,
            true,
        ),
        (
            window(Scope::Project("blog".into()), &[], Page),
            alert,
            false,
        ),
        (window(Scope::Client("acme".into()), &[], Page), alert, true),
        (
            window(Scope::Client("other".into()), &[], Page),
            alert,
            false,
        ),
        (
            window(Scope::Integration("prom".into()), &[], Page),
            alert,
            true,
        ),
        (
            window(Scope::Integration("pd".into()), &[], Page),
            alert,
            false,
        ),
        (
            window(Scope::Project("shop".into()), &["job=backup"], Page),
            alert,
            true,
        ),
        (
            window(Scope::Project("shop".into()), &["job=web"], Page),
            alert,
            false,
        ),
        (
            window(Scope::Project("shop".into()), &[], Page),
            report,
            false,
        ),
        (
            window(Scope::Project("shop".into()), &[], Hold),
            report,
            true,
        ),
        (
            window(Scope::Client("acme".into()), &[], Hold),
            report,
            true,
        ),
        (
            window(Scope::Integration("prom".into()), &[], Hold),
            report,
            false,
        ),
        (
            window(Scope::Project("shop".into()), &["job=backup"], Hold),
            report,
            false,
        ),
    ] {
        assert_eq!(
            covers(&w, &subject),
            expected,
            "{:?} {:?} for {subject:?}",
            w.scope,
            w.matchers
        );
    }
}

#[test]
fn admins_and_the_lead_of_every_team_concerned_may_manage_windows() {
    let mut r = roster();
    r.server.admins.insert("ext".into());
    for (person, scope, expected) in [
        ("lead", Scope::Project("shop".into()), true),
        ("lead", Scope::Client("acme".into()), true),
        ("oc", Scope::Project("shop".into()), false),
        ("ext", Scope::Project("shop".into()), true),
        ("lead", Scope::Project("moon".into()), false),
        ("lead", Scope::Client("nobody".into()), false),
    ] {
        assert_eq!(
            may_manage(&r, person, &scope),
            expected,
            "{person} {scope:?}"
        );
    }
}

#[test]
fn new_windows_are_checked() {
    let r = roster();
    let now = utc("2026-11-25T10:00:00Z");
    let ok = NewWindow {
        scope: Scope::Project("shop".into()),
        matchers: Vec::new(),
        from: now,
        to: utc("2026-11-25T12:00:00Z"),
        reason: "db migration".into(),
        client_reports: ClientReports::Page,
        created_by: "lead".into(),
    };
    let bad = |field: &'static str| Err::<(), _>(field);
    for (w, expected) in [
        (ok.clone(), Ok(())),
        (
            NewWindow {
                scope: Scope::Project("moon".into()),
                ..ok.clone()
            },
            bad("project"),
        ),
        (
            NewWindow {
                scope: Scope::Client("moon".into()),
                ..ok.clone()
            },
            bad("client"),
        ),
        (
            NewWindow {
                scope: Scope::Integration("moon".into()),
                ..ok.clone()
            },
            bad("integration"),
        ),
        (
            NewWindow {
                to: now,
                ..ok.clone()
            },
            bad("to"),
        ),
        (
            NewWindow {
                from: utc("2026-11-25T13:00:00Z"),
                ..ok.clone()
            },
            bad("to"),
        ),
        (
            NewWindow {
                from: utc("2026-11-20T00:00:00Z"),
                to: utc("2026-11-25T09:00:00Z"),
                ..ok.clone()
            },
            bad("to"),
        ),
        (
            NewWindow {
                to: utc("2026-12-02T10:00:00Z"),
                ..ok.clone()
            },
            Ok(()),
        ),
        (
            NewWindow {
                to: utc("2026-12-02T10:00:01Z"),
                ..ok.clone()
            },
            bad("to"),
        ),
    ] {
        assert_eq!(check(&r, &w, now).map_err(|e| e.field), expected, "{w:?}");
    }
}
