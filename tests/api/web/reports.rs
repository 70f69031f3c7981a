//! The reports page: charts drawn on the server beside their tables.

use chrono::Duration;
use serde_json::json;

use super::*;
use crate::postmortems::{call, open_incident};

#[tokio::test]
async fn reports_show_mtta_mttr_and_pages_per_person_as_svg_and_tables() {
    let d = spawn_daemon().await;
    let id = open_incident(&d).await;
    d.settle().await;
    d.advance(Duration::minutes(6)).await;
    let inc = format!("/api/v1/incidents/{id}");
    assert_eq!(
        call(
            &d,
            "POST",
            &format!("{inc}/acknowledge"),
            BOB_TOKEN,
            json!({})
        )
        .await
        .0,
        200
    );
    d.advance(Duration::minutes(30)).await;
    assert_eq!(
        call(&d, "POST", &format!("{inc}/resolve"), BOB_TOKEN, json!({}))
            .await
            .0,
        200
    );
    d.advance(Duration::days(1)).await;

    let bob = sign_in(&d, BOB_TOKEN).await;
    let (status, html) = page(&d, &bob, "/reports?weeks=4").await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains(r#"<svg viewBox="0 0 320 120""#), "{html}");
    assert!(html.contains(r#"class="bar mtta""#), "{html}");
    assert!(html.contains(r#"class="bar mttr""#), "{html}");
    assert!(html.contains(r#"id="table-times""#), "{html}");
    assert!(html.contains(r#"id="table-pages""#), "{html}");
    assert!(!html.contains("<script>"), "no inline script");
    // The last week: acknowledged after 6 min, resolved after 36, from the
    // alert's own start a minute before it arrived; one page each to bob
    // (sms) and alice (the lead's notice).
    assert!(
        html.contains("<title>19 Nov: 7 min to acknowledge</title>"),
        "{html}"
    );
    assert!(
        html.contains("<title>19 Nov: 37 min to resolve</title>"),
        "{html}"
    );
    assert!(
        html.contains(r#"y="97.3" width="38" height="22.7""#),
        "{html}"
    );
    assert!(
        html.contains("<tr><td>bob</td><td>0</td><td>0</td><td>0</td><td>1</td><td>1</td></tr>"),
        "{html}"
    );

    let (status, _) = page(&d, &bob, "/reports?weeks=0").await;
    assert_eq!(status, 400);
}
