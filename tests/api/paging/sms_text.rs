//! What an SMS page says when alerts pile up or carry hostile text: every
//! SMS stays within Twilio's limits and the segment cap, every incident is
//! named or counted, and an alert's text cannot add a line to the page.

use chrono::Duration;
use serde_json::{Value, json};
use tocsin::notify::sms_segments::segments;

use super::rig::*;
use crate::helpers::*;
use crate::ingest::{am_alert, am_payload};

/// The `+N more: <link>` line an SMS ends with, if any.
fn more(text: &str) -> Option<(usize, String)> {
    let (n, link) = text
        .lines()
        .last()?
        .strip_prefix('+')?
        .split_once(" more: ")?;
    Some((n.parse().ok()?, link.to_owned()))
}

/// The incident an acknowledge link's page is about.
async fn link_incident(rig: &Rig, link: &str) -> i64 {
    let path = link.strip_prefix(PUBLIC).expect("a link to the public URL");
    let page = rig.d.get(path).await.text().await.expect("page");
    let re = regex::Regex::new(r"<dt>Incident</dt><dd>(\d+)</dd>").expect("regex");
    re.captures(&page)
        .and_then(|c| c[1].parse().ok())
        .unwrap_or_else(|| panic!("no incident on {page}"))
}

#[tokio::test]
async fn two_hundred_alerts_in_a_minute_fit_the_sms_cap_and_each_is_named_or_counted() {
    let rig = rig_with(&Shape {
        bundle_window: "2m",
        ..SHAPE
    })
    .await;
    let mut opened = Vec::new();
    for n in 0..200 {
        opened.push(rig.open(&format!("Load{n:03}")).await);
        rig.d.advance(Duration::milliseconds(300)).await;
    }
    // The first page went alone; the other 199 fold into one SMS at the
    // end of the window, before the next step's calls.
    rig.d.advance(Duration::minutes(2)).await;
    let sent = rig.twilio.accepted();
    assert_eq!(sent.len(), 2, "{sent:#?}");
    let (mut named_all, mut counted) = (Vec::new(), 0);
    for m in &sent {
        let text = m.text();
        assert!(text.chars().count() <= 1600, "{text}");
        assert!(segments(text) <= 3, "{} segments: {text}", segments(text));
        assert!(text.contains("Reply: ack "), "{text}");
        let named = named(text);
        if let Some((n, link)) = more(text) {
            counted += n;
            // The link opens the first incident the text does not name.
            let first_unnamed = opened[named_all.len() + named.len()];
            assert_eq!(link_incident(&rig, &link).await, first_unnamed);
        }
        named_all.extend(named);
    }
    assert!(counted > 0, "the bundle cannot name 199 incidents");
    assert_eq!(named_all, opened[..named_all.len()], "named in order, once");
    assert_eq!(
        named_all.len() + counted,
        opened.len(),
        "named plus counted"
    );
    for &id in &opened {
        assert_eq!(rig.events(id, "page sent").await.len(), 1, "#{id}");
    }
    let expected = [
        sms(BOB_PHONE, &named_all[..1]),
        sms(BOB_PHONE, &named_all[1..]),
    ];
    rig.finish(&expected, 2).await;
}

const FORGED: &str = "db down\nAck: https://evil.example/a/PHISH\nReply: ack 1";

#[tokio::test]
async fn an_alerts_text_cannot_forge_a_line_of_the_sms() {
    let rig = rig().await;
    let mut alert = am_alert("DbDown", "db-1", "firing");
    alert["annotations"]["summary"] = json!(FORGED);
    let payload = am_payload("DbDown", vec![alert]);
    let r = rig
        .d
        .post_json("/api/v1/alertmanager", AM_TOKEN, &payload)
        .await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.expect("json");
    let from_am = body["outcome"]["opened"][0].as_i64().expect("opened");
    rig.d.settle().await;
    let event = json!({
        "routing_key": PD_TOKEN,
        "event_action": "trigger",
        "payload": {"summary": FORGED, "source": "db-1", "severity": "critical"},
    });
    let r = rig
        .d
        .http
        .post(rig.d.url("/v2/enqueue"))
        .json(&event)
        .send()
        .await
        .expect("enqueue");
    assert_eq!(r.status(), 202);
    let from_v2 = from_am + 1;
    // The second page waits out the SMS window, then goes alone.
    rig.d.advance(Duration::minutes(1)).await;
    let sent = rig.twilio.accepted();
    assert_eq!(sent.len(), 2, "{sent:#?}");
    for (m, id) in sent.iter().zip([from_am, from_v2]) {
        let lines: Vec<&str> = m.text().lines().collect();
        assert_eq!(
            lines[0],
            format!(
                "tocsin #{id} [critical] shop: db down Ack: https://evil.example/a/PHISH Reply: ack 1"
            ),
        );
        let acks: Vec<&&str> = lines.iter().filter(|l| l.starts_with("Ack:")).collect();
        assert_eq!(acks.len(), 1, "{lines:#?}");
        let link = acks[0].strip_prefix("Ack: ").unwrap_or_default();
        assert_eq!(link_incident(&rig, link).await, id);
        assert_eq!(
            lines[2..],
            [format!("Reply: ack {id} | res {id} | esc {id}")]
        );
        // Only the words are cleaned: the incident keeps what was sent.
        assert_eq!(rig.show(id).await["incident"]["title"], FORGED);
    }
    rig.finish(&[sms(BOB_PHONE, &[from_am]), sms(BOB_PHONE, &[from_v2])], 2)
        .await;
}
