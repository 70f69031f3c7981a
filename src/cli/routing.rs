//! `tocsin route --project P [--at TIME]` and `tocsin oncall [--at TIME]`:
//! the daemon's nearest-responder explanation and who is on call, as
//! tables. Rendering is pure; the routing decision itself stays in the
//! daemon (this module never recomputes it).

use serde_json::Value;

use super::client::ApiClient;
use chrono_tz::Tz;

use super::incidents::{list_of, text, when_text};
use super::json_text;
use super::table::Table;

/// The flags of these verbs by the API fields they send.
const FLAGS: &[(&str, &str)] = &[("at", "--at"), ("project", "--project")];

/// `GET /api/v1/route`, printed as the proximity order and the pick.
pub async fn route(
    api: &ApiClient,
    project: &str,
    at: Option<&str>,
    json: bool,
    tz: Tz,
) -> anyhow::Result<()> {
    let api = &api.naming(FLAGS);
    let v = api
        .get("/api/v1/route", &[("project", Some(project)), ("at", at)])
        .await?;
    print!(
        "{}",
        if json {
            json_text(&v)
        } else {
            render_route(&v, tz)
        }
    );
    Ok(())
}

/// `GET /api/v1/oncall`, printed as one row per schedule.
pub async fn oncall(api: &ApiClient, at: Option<&str>, json: bool, tz: Tz) -> anyhow::Result<()> {
    let api = &api.naming(FLAGS);
    let v = api.get("/api/v1/oncall", &[("at", at)]).await?;
    print!(
        "{}",
        if json {
            json_text(&v)
        } else {
            render_oncall(&v, tz)
        }
    );
    Ok(())
}

/// The proximity order (person, online, reason) then the pick.
pub fn render_route(v: &Value, tz: Tz) -> String {
    let mut out = format!(
        "project {} at {}\n",
        text(&v["project"]),
        when_text(&v["at"], tz)
    );
    let mut t = Table::new(&["PERSON", "WHY HERE", "ONLINE", "REASON"]);
    for entry in list_of(v, "order") {
        t.row(vec![
            text(&entry["person"]),
            rank_text(&entry["rank"], tz),
            text(&entry["online"]),
            text(&entry["reason"]),
        ]);
    }
    if t.is_empty() {
        out.push_str("nobody can be paged for this project\n");
    } else {
        out.push_str(&t.render());
    }
    match (&v["picked"], &v["first_page"]) {
        (Value::Null, _) => out.push_str("picked: nobody\n"),
        (p, Value::Null) => out.push_str(&format!("picked: {}\n", text(p))),
        (p, first) if first == "phone_call" => out.push_str(&format!(
            "picked: {} (nobody online: a phone call first)\n",
            text(p)
        )),
        (p, _) => out.push_str(&format!("picked: {} (first online)\n", text(p))),
    }
    for page in list_of(v, "first_step") {
        out.push_str(&format!(
            "step 1 pages {}: {}\n",
            text(&page["person"]),
            fires(page)
        ));
    }
    out
}

/// `sms + voice at once, then voice after 2m`: every message a page sends.
fn fires(page: &Value) -> String {
    let names = |v: &Value| {
        list_of(v, "channels")
            .iter()
            .map(text)
            .collect::<Vec<_>>()
            .join(" + ")
    };
    let mut parts = Vec::new();
    if !list_of(page, "channels").is_empty() {
        parts.push(format!("{} at once", names(page)));
    }
    for l in list_of(page, "later") {
        parts.push(format!("{} after {}", names(l), text(&l["after"])));
    }
    parts.join(", then ")
}

/// One row per schedule: who, until when, and who takes over then.
pub fn render_oncall(v: &Value, tz: Tz) -> String {
    let mut out = format!("on call at {}\n", when_text(&v["at"], tz));
    let mut t = Table::new(&["SCHEDULE", "PERSON", "UNTIL", "NEXT"]);
    for s in list_of(v, "schedules") {
        let person = match s["is_override"].as_bool() {
            Some(true) => format!("{} (override)", text(&s["person"])),
            _ => text(&s["person"]),
        };
        t.row(vec![
            text(&s["schedule"]),
            person,
            when_text(&s["until"], tz),
            text(&s["next_person"]),
        ]);
    }
    if t.is_empty() {
        out.push_str("no schedules\n");
    } else {
        out.push_str(&t.render());
    }
    out
}

/// `on call in web-primary until Mon 30 Nov 09:00 CET`, `responder 1 of
/// shop`, `member of team web`, `lead of team web`.
pub fn rank_text(rank: &Value, tz: Tz) -> String {
    let s = |k: &str| text(&rank[k]);
    match rank["as"].as_str() {
        Some("on_call") => format!(
            "{} in {} until {}",
            if rank["by_override"] == true {
                "override"
            } else {
                "on call"
            },
            s("schedule"),
            when_text(&rank["until"], tz)
        ),
        Some("responder") => format!("responder {} of {}", s("n"), s("project")),
        Some("team_member") => format!("member of team {}", s("team")),
        Some("team_lead") => format!("lead of team {}", s("team")),
        _ => "-".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(rendered: String, expected: &str) {
        assert_eq!(rendered, expected);
    }

    #[test]
    fn route_shows_order_and_pick() {
        let v = json!({
            "project": "shop", "at": "2026-11-25T09:00:00Z",
            "order": [
                {"person": "carol", "online": false, "reason": "outside working hours",
                 "rank": {"as": "on_call", "schedule": "web", "until": "2026-11-30T08:00:00Z", "by_override": false}},
                {"person": "bob", "online": false, "reason": "outside working hours",
                 "rank": {"as": "responder", "project": "shop", "n": 1}},
                {"person": "dave", "online": false, "reason": "outside working hours",
                 "rank": {"as": "team_member", "team": "web"}},
                {"person": "alice", "online": true, "reason": "inside working hours",
                 "rank": {"as": "team_lead", "team": "web"}}
            ],
            "picked": "alice", "first_page": "normal"
        });
        check(
            render_route(&v, chrono_tz::Europe::Berlin),
            "project shop at Wed 25 Nov 10:00 CET\n\
             PERSON  WHY HERE                                   ONLINE  REASON\n\
             carol   on call in web until Mon 30 Nov 09:00 CET  no      outside working hours\n\
             bob     responder 1 of shop                        no      outside working hours\n\
             dave    member of team web                         no      outside working hours\n\
             alice   lead of team web                           yes     inside working hours\n\
             picked: alice (first online)\n",
        );
        let mut night = v.clone();
        night["first_page"] = json!("phone_call");
        night["picked"] = json!("carol");
        assert!(
            render_route(&night, chrono_tz::Europe::Berlin)
                .ends_with("picked: carol (nobody online: a phone call first)\n")
        );
        check(
            render_route(
                &json!({"project": "x", "at": "t", "order": [], "picked": null}),
                chrono_tz::UTC,
            ),
            "project x at t\nnobody can be paged for this project\npicked: nobody\n",
        );
        check(
            render_route(
                &json!({"project": "x", "at": "t", "picked": "dave"}),
                chrono_tz::UTC,
            ),
            "project x at t\nnobody can be paged for this project\npicked: dave\n",
        );
    }

    #[test]
    fn oncall_lists_schedules() {
        let v = json!({
            "at": "t",
            "schedules": [{"schedule": "primary", "person": "bob",
                           "until": "2026-11-26T09:00:00Z", "next_person": "alice"},
                          {"schedule": "night", "person": "dave", "is_override": true,
                           "until": "2026-11-25T12:00:00Z", "next_person": "bob"},
                          {"schedule": "solo", "person": "eve", "until": null, "next_person": null}]
        });
        check(
            render_oncall(&v, chrono_tz::Europe::Berlin),
            "on call at t\n\
             SCHEDULE  PERSON           UNTIL                 NEXT\n\
             primary   bob              Thu 26 Nov 10:00 CET  alice\n\
             night     dave (override)  Wed 25 Nov 13:00 CET  bob\n\
             solo      eve              -                     -\n",
        );
        check(
            render_oncall(&json!({"at": "t", "schedules": []}), chrono_tz::UTC),
            "on call at t\nno schedules\n",
        );
    }
}
