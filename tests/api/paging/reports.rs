//! Reports against hand-computed figures: incidents opened, acknowledged and
//! resolved through the API on a manual clock, pages really sent through the
//! fakes — two of them at 02:30 Berlin on 2026-10-25, the night that hour
//! happens twice — then `GET /api/v1/reports` and `tocsin report`.

use chrono::Duration;
use serde_json::{Value, json};

use super::rig::*;
use crate::cli::{as_token, stdout, user_error};
use crate::helpers::*;
use crate::postmortems::{advance_to, call as api, manual_pm, utc};

impl Rig {
    /// Opens an incident whose alert started at `started` and sends what it
    /// queued; returns its number.
    async fn open_started(&self, name: &str, started: &str) -> i64 {
        let mut payload = alert_payload(name);
        payload["alerts"][0]["startsAt"] = json!(started);
        let r = self
            .d
            .post_json("/api/v1/alertmanager", AM_TOKEN, &payload)
            .await;
        assert_eq!(r.status(), 200);
        let body: Value = r.json().await.expect("json");
        let id = body["outcome"]["opened"][0].as_i64().expect("opened");
        self.d.settle().await;
        id
    }

    async fn at(&self, when: &str) {
        self.d.clock.set(utc(when));
        self.d.settle().await;
    }

    async fn report(&self, query: &str) -> (u16, Value) {
        let r = self
            .d
            .http
            .get(self.d.url(&format!("/api/v1/reports{query}")))
            .bearer_auth(BOB_TOKEN)
            .send()
            .await
            .expect("report");
        (r.status().as_u16(), r.json().await.expect("json"))
    }
}

/// Three incidents on `shop`, all acknowledged and resolved:
/// 1. alert from 00:29Z; at 00:30Z (02:30 CEST, Sunday night, nobody
///    online) bob is called and texted; he acks at 00:33Z (MTTA 4m) and
///    resolves at 01:00Z (MTTR 31m);
/// 2. alert from 01:29Z; at 01:30Z (02:30 CET, the same wall time again)
///    bob is called and texted, nobody answers, step 2 calls alice at
///    01:35Z, she acks at 01:36Z (MTTA 7m; bob is told by SMS, a notice,
///    not a page) and resolves at 01:59Z (MTTR 30m);
/// 3. Wednesday 2026-11-25, alert from 08:59Z, bob texted (10:00 in
///    Berlin, working hours), acks at 09:02Z (MTTA 3m), resolves at
///    09:10Z (MTTR 11m).
async fn three_incidents() -> (Rig, [i64; 3]) {
    let rig = rig().await;
    rig.at("2026-10-25T00:30:00Z").await;
    let first = rig.open_started("DiskFull", "2026-10-25T00:29:00Z").await;
    rig.at("2026-10-25T00:33:00Z").await;
    assert_eq!(rig.act(first, "acknowledge", BOB_TOKEN).await, 200);
    rig.at("2026-10-25T01:00:00Z").await;
    assert_eq!(rig.act(first, "resolve", BOB_TOKEN).await, 200);
    rig.at("2026-10-25T01:30:00Z").await;
    let second = rig.open_started("CpuHot", "2026-10-25T01:29:00Z").await;
    rig.d.advance(Duration::minutes(5)).await;
    rig.at("2026-10-25T01:36:00Z").await;
    assert_eq!(rig.act(second, "acknowledge", ADMIN_TOKEN).await, 200);
    rig.at("2026-10-25T01:59:00Z").await;
    assert_eq!(rig.act(second, "resolve", ADMIN_TOKEN).await, 200);
    rig.at("2026-11-25T09:00:00Z").await;
    let third = rig.open_started("DayOne", "2026-11-25T08:59:00Z").await;
    rig.at("2026-11-25T09:02:00Z").await;
    assert_eq!(rig.act(third, "acknowledge", BOB_TOKEN).await, 200);
    rig.at("2026-11-25T09:10:00Z").await;
    assert_eq!(rig.act(third, "resolve", BOB_TOKEN).await, 200);
    (rig, [first, second, third])
}

fn spread(p50: i64, p90: i64) -> Value {
    json!({"p50_seconds": p50, "p90_seconds": p90})
}

#[tokio::test]
async fn report_figures_match_the_hand_computed_ones() {
    let (rig, [first, second, third]) = three_incidents().await;
    let (status, v) = rig
        .report("?from=2026-10-01&to=2026-12-01&by=project")
        .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["from"], "2026-09-30T22:00:00Z");
    assert_eq!(v["to"], "2026-11-30T23:00:00Z");
    // MTTA 4m, 7m, 3m → p50 4m, p90 7m; MTTR 31m, 30m, 11m → p50 30m,
    // p90 31m. Five of the six pages went out at night: both 02:30s and
    // the call to alice; the "alice took it" SMS to bob is no page.
    assert_eq!(
        v["groups"],
        json!([{
            "key": "shop",
            "incidents": 3,
            "acknowledged": 3,
            "resolved": 3,
            "mtta": spread(240, 420),
            "mttr": spread(1800, 1860),
            "pages": {"sms": 3, "voice": 3},
            "night_pages": 5,
            "postmortems_due": 0,
            "postmortems_overdue": 0,
            "actions_open": 0,
            "actions_overdue": 0,
        }])
    );
    // By person: the pages each received, the incidents each acknowledged.
    let (_, v) = rig.report("?from=2026-10-01&to=2026-12-01&by=person").await;
    let figures = |g: &Value| {
        json!([
            g["key"],
            g["incidents"],
            g["mtta"],
            g["mttr"],
            g["pages"],
            g["night_pages"]
        ])
    };
    let groups: Vec<Value> = v["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .map(figures)
        .collect();
    assert_eq!(
        groups,
        vec![
            json!(["alice", 1, spread(420, 420), spread(1800, 1800), {"voice": 1}, 1]),
            json!(["bob", 2, spread(180, 240), spread(660, 1860), {"sms": 3, "voice": 2}, 4]),
        ]
    );
    // Only the DST night, by team: the third incident is out of range.
    let (_, v) = rig
        .report("?from=2026-10-25T00:00:00Z&to=2026-10-25T02:00:00Z&by=team")
        .await;
    let groups: Vec<Value> = v["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .map(figures)
        .collect();
    assert_eq!(
        groups,
        vec![json!(["web", 2, spread(240, 420), spread(1800, 1860), {"sms": 2, "voice": 3}, 5])]
    );
    rig.finish(
        &[
            call(BOB_PHONE, first),
            sms(BOB_PHONE, &[first]),
            call(BOB_PHONE, second),
            sms(BOB_PHONE, &[second]),
            call(ALICE_PHONE, second),
            sms(BOB_PHONE, &[second]),
            sms(BOB_PHONE, &[third]),
        ],
        7,
    )
    .await;
}

#[tokio::test]
async fn report_counts_postmortems_and_action_items_as_of_the_range_end() {
    let d = spawn_daemon().await;
    // At t0 alice acknowledges and resolves at once (the alert started a
    // minute before); the postmortem (hers) is due the next business day.
    let pm = manual_pm(&d).await;
    let add = |who: &'static str, deadline: &'static str| {
        let d = &d;
        async move {
            let body = json!({"title": "fix it", "assignee": who, "deadline": deadline});
            let path = format!("/api/v1/postmortems/{pm}/actions");
            let (status, v) = api(d, "POST", &path, ADMIN_TOKEN, body).await;
            assert_eq!(status, 201, "{v}");
            v["action"]["id"].as_i64().expect("id")
        }
    };
    let bobs = add("bob", "2026-11-27T12:00:00Z").await;
    add("alice", "2026-12-10T12:00:00Z").await;
    let report = |query: &'static str| {
        let d = &d;
        async move {
            let (status, v) = api(
                d,
                "GET",
                &format!("/api/v1/reports{query}"),
                BOB_TOKEN,
                Value::Null,
            )
            .await;
            assert_eq!(status, 200, "{v}");
            v["groups"]
                .as_array()
                .expect("groups")
                .iter()
                .map(|g| {
                    json!([
                        g["key"],
                        g["postmortems_due"],
                        g["postmortems_overdue"],
                        g["actions_open"],
                        g["actions_overdue"]
                    ])
                })
                .collect::<Vec<_>>()
        }
    };
    let (_, v) = api(
        &d,
        "GET",
        "/api/v1/reports?from=2026-11-01&to=2026-12-01",
        BOB_TOKEN,
        Value::Null,
    )
    .await;
    assert_eq!(v["groups"][0]["incidents"], 1);
    assert_eq!(v["groups"][0]["mtta"], spread(60, 60));
    assert_eq!(v["groups"][0]["mttr"], spread(60, 60));
    assert_eq!(
        report("?from=2026-11-01&to=2026-12-01").await,
        vec![json!(["shop", 1, 0, 2, 0])]
    );
    // Five days on: the postmortem was never approved, bob's item is late.
    advance_to(&d, utc("2026-11-30T12:00:00Z")).await;
    assert_eq!(
        report("?from=2026-11-01&to=2026-12-01&by=person").await,
        vec![json!(["alice", 1, 1, 1, 0]), json!(["bob", 0, 0, 1, 1])]
    );
    let path = format!("/api/v1/actions/{bobs}/done");
    assert_eq!(api(&d, "POST", &path, BOB_TOKEN, Value::Null).await.0, 200);
    assert_eq!(
        report("?from=2026-11-01&to=2026-12-01").await,
        vec![json!(["shop", 1, 1, 1, 0])]
    );
    // A range that ended before bob's item was done counts it open and late.
    assert_eq!(
        report("?from=2026-11-01&to=2026-11-28").await,
        vec![json!(["shop", 1, 1, 2, 1])]
    );
    d.stop().await;
}

#[tokio::test]
async fn report_refuses_bad_input_naming_the_field() {
    let d = spawn_daemon().await;
    let check = |query: &'static str, field: &'static str| {
        let d = &d;
        async move {
            let r = d
                .http
                .get(d.url(&format!("/api/v1/reports{query}")))
                .bearer_auth(BOB_TOKEN)
                .send()
                .await
                .expect("report");
            assert_eq!(r.status(), 400, "{query}");
            let v: Value = r.json().await.expect("json");
            assert_eq!(v["field"], field, "{query}: {v}");
        }
    };
    check("?from=2026-11-02&to=2026-11-01", "to").await;
    check("?from=2026-11-01&to=2026-11-01", "to").await;
    check("?from=2025-01-01&to=2026-11-01", "to").await;
    check("?by=severity", "by").await;
    check("?from=yesterday", "from").await;
    check("?to=2026-13-01", "to").await;
    let r = d.get("/api/v1/reports").await;
    assert_eq!(r.status(), 401);
    // The defaults: the last 30 days, by project, nothing in them yet.
    let r = d
        .http
        .get(d.url("/api/v1/reports"))
        .bearer_auth(BOB_TOKEN)
        .send()
        .await
        .expect("report");
    let v: Value = r.json().await.expect("json");
    assert_eq!(
        v,
        json!({"from": "2026-10-26T09:00:00Z", "to": "2026-11-25T09:00:00Z", "by": "project", "groups": []})
    );
    d.stop().await;
}

#[tokio::test]
async fn report_through_the_cli_as_a_table_and_csv() {
    let (rig, _) = three_incidents().await;
    let args = ["report", "--from", "2026-10-01", "--to", "2026-12-01"];
    let o = as_token(&rig.d, BOB_TOKEN, &args).await;
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(
        stdout(&o),
        "Wed 30 Sep 22:00 UTC to Mon 30 Nov 23:00 UTC\n\
         PROJECT  INCIDENTS  ACKED  MTTA p50/p90  MTTR p50/p90  PAGES           NIGHT  PM DUE  PM LATE  ACTIONS  LATE\n\
         shop     3          3      4m/7m         30m/31m       sms 3, voice 3  5      0       0        0        0\n"
    );
    let o = as_token(
        &rig.d,
        BOB_TOKEN,
        &[&args[..], &["--by", "person", "--csv"]].concat(),
    )
    .await;
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(
        stdout(&o),
        "person,incidents,acknowledged,resolved,mtta_p50_seconds,mtta_p90_seconds,\
         mttr_p50_seconds,mttr_p90_seconds,pages,pages_sms,pages_voice,pages_email,pages_chat,\
         night_pages,postmortems_due,postmortems_overdue,actions_open,actions_overdue\n\
         alice,1,1,1,420,420,1800,1800,1,0,1,0,0,1,0,0,0,0\n\
         bob,2,2,2,180,240,660,1860,5,3,2,0,0,4,0,0,0,0\n"
    );
    let err = user_error(
        &as_token(
            &rig.d,
            BOB_TOKEN,
            &["report", "--from", "2026-12-01", "--to", "2026-11-01"],
        )
        .await,
    );
    // A refused field is named by the verb's flag.
    assert!(err.starts_with("tocsin: --to: must be after"), "{err}");
    rig.d.stop().await;
}
