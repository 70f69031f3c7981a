//! 200 alerts for one person within a minute: every SMS fits Twilio's
//! limits, and every incident is named in one or counted in a `+N more`.

use chrono::Duration;

use crate::world::*;

#[tokio::test]
async fn two_hundred_alerts_in_a_minute_every_sms_fits_and_counts_them_all() {
    let mut w = world().await;
    let mut opened = Vec::new();
    for n in 0..200 {
        let out = w.alert(&format!("Alert{n:03}"), "shop").await;
        opened.push(out["opened"][0].as_i64().expect("opened"));
        w.advance(Duration::milliseconds(300)).await;
    }
    w.advance(Duration::seconds(1)).await;
    let got = w.take();
    let chat = got.iter().filter(|m| m.kind == "chat").count();
    assert_eq!(chat, 200, "one chat page per incident");
    let re = regex::Regex::new(r"#(\d+) \[").expect("regex");
    let more = regex::Regex::new(r"\+(\d+) more: https://tocsin\.example/a/").expect("regex");
    let mut named = std::collections::BTreeSet::new();
    let mut counted = 0;
    for m in got.iter().filter(|m| m.kind == "sms") {
        assert_eq!(m.to, BOB);
        assert!(m.text.chars().count() <= 1600, "{}", m.text);
        assert!(
            tocsin::notify::sms_segments::segments(&m.text) <= 3,
            "over 3 segments: {}",
            m.text
        );
        for c in re.captures_iter(&m.text) {
            named.insert(c[1].parse::<i64>().expect("number"));
        }
        counted += more
            .captures(&m.text)
            .map_or(0, |c| c[1].parse::<usize>().expect("count"));
    }
    assert!(
        got.iter().all(|m| m.kind == "chat" || m.kind == "sms"),
        "{got:#?}"
    );
    assert_eq!(
        named.len() + counted,
        200,
        "named {named:?}, counted {counted}"
    );
    assert!(named.iter().all(|n| opened.contains(n)));
    w.stop().await;
}
