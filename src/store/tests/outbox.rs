//! The outbox statements behind a claim: pages before notices, a person's
//! SMS folded into one bundle or moved to the end of their window, delivery
//! reports for a bundle, and reports that come before the send's record.

use std::sync::Arc;

use super::{new_incident, on_each_store};
use crate::config::{ChannelType, Roster};
use crate::escalation::{delivery, fixture, paging::Ctx};
use crate::incident::{OutboxRow, Repo, State};
use crate::store::{Store, StoreResult};

/// What a paging decision needs, over `roster`, at `now`.
pub(super) fn ctx(roster: &Roster, now: chrono::DateTime<chrono::Utc>) -> Ctx<'_> {
    Ctx {
        roster,
        secret: b"k",
        now,
    }
}

/// A Wednesday morning.
pub(super) fn morning() -> chrono::DateTime<chrono::Utc> {
    fixture::utc("2026-11-25T10:00:00Z")
}

/// An SMS to m2 about `incident`, due at `now`.
pub(super) fn sms(
    roster: &Roster,
    incident: i64,
    kind: &str,
    subject: &str,
    body: &str,
) -> OutboxRow {
    OutboxRow {
        incident: Some(incident),
        ..OutboxRow::to_person(
            kind,
            &roster.people["m2"],
            ChannelType::Sms,
            subject.into(),
            body.into(),
            morning(),
        )
    }
}

pub(super) async fn row(store: &Store, id: i64) -> OutboxRow {
    store
        .transact(move |repo| repo.outbox(id))
        .await
        .expect("row")
}

/// The rows of `incident` on `channel` in `status` (any status: `None`).
async fn count(store: &Store, incident: i64, channel: &str, status: Option<&str>) -> usize {
    let rows = store
        .query(move |r| r.outbox_for(incident))
        .await
        .expect("rows");
    rows.iter()
        .filter(|r| r.channel == channel && status.is_none_or(|s| r.status == s))
        .count()
}

#[tokio::test]
async fn a_notice_keeps_its_own_sms_and_never_holds_a_page_back() {
    on_each_store(|store| async move {
        let roster = Arc::new(fixture::roster());
        let window = roster.limits.sms_bundle_window.to_chrono();
        let r = roster.clone();
        // A notice queued first, then two pages, all due now.
        let (notice, page, other_page, claimed) = store
            .transact(move |repo| {
                let id = repo.insert(&new_incident("db down"), State::Triggered, morning())?;
                let sms = |kind, subject, body| sms(&r, id, kind, subject, body);
                let notice = repo.insert_outbox(&sms(
                    "notice",
                    "handed over",
                    "tocsin: lead handed you #1",
                ))?;
                let page = repo.insert_outbox(&sms("page", "#1 db down", "page text"))?;
                let other = repo.insert_outbox(&sms("page", "#1 db down again", "page text"))?;
                let claimed = delivery::claim(repo, &ctx(&r, morning()), 10)?;
                Ok((notice, page, other, claimed))
            })
            .await
            .expect("claim");
        // The pages go at once, as one SMS; the notice is not folded into it
        // and waits out the SMS window.
        assert_eq!(claimed.len(), 1, "{claimed:#?}");
        assert_eq!(claimed[0].row.id, page);
        assert_eq!(claimed[0].bundled, 1);
        let folded = row(&store, other_page).await;
        assert_eq!(
            (folded.status.as_str(), folded.bundle_of),
            ("bundled", Some(page))
        );
        let waiting = row(&store, notice).await;
        assert_eq!(
            (waiting.status.as_str(), waiting.bundle_of, waiting.due_at),
            ("pending", None, morning() + window)
        );
        // Then the notice goes alone, in its own words, and does not take a
        // page due shortly after into its message.
        let later = morning() + window;
        let r = roster.clone();
        let incident = waiting.incident.expect("incident");
        let (next_page, claimed) = store
            .transact(move |repo| {
                let next = repo.insert_outbox(&OutboxRow {
                    due_at: later + chrono::Duration::seconds(10),
                    ..sms(&r, incident, "page", "#1 still down", "page text")
                })?;
                Ok((next, delivery::claim(repo, &ctx(&r, later), 10)?))
            })
            .await
            .expect("claim");
        assert_eq!(claimed.len(), 1, "{claimed:#?}");
        assert_eq!(claimed[0].row.id, notice);
        assert_eq!(claimed[0].row.body, "tocsin: lead handed you #1");
        assert_eq!(claimed[0].bundled, 0);
        let kept = row(&store, next_page).await;
        assert_eq!((kept.status.as_str(), kept.bundle_of), ("pending", None));
    })
    .await;
}

#[tokio::test]
async fn an_undelivered_bundle_falls_back_once_per_incident_and_person() {
    on_each_store(|store| async move {
        let roster = Arc::new(fixture::roster());
        let r = roster.clone();
        let (first, second, claimed, found) = store
            .transact(move |repo| {
                let first = repo.insert(&new_incident("db down"), State::Triggered, morning())?;
                let second =
                    repo.insert(&new_incident("disk full"), State::Triggered, morning())?;
                // The first incident paged twice (a re-page folded beside the first).
                for id in [first, first, second] {
                    repo.insert_outbox(&OutboxRow {
                        fallback: vec!["voice".into()],
                        ..sms(&r, id, "page", "s", "b")
                    })?;
                }
                let ctx = ctx(&r, morning());
                let claimed = delivery::claim(repo, &ctx, 10)?;
                let head = claimed.first().ok_or(crate::store::StoreError::NotFound)?;
                delivery::record(repo, &ctx, head, "twilio", &Ok(Some("SM1".into())), 0.5)?;
                let found =
                    delivery::report(repo, &ctx, "SM1", "undelivered", Some(30003))?.found();
                Ok((first, second, claimed, found))
            })
            .await
            .expect("claim, record and report");
        assert_eq!(claimed.len(), 1);
        assert_eq!(claimed[0].bundled, 2);
        assert!(found);
        let calls = |id| count(&store, id, "voice", None);
        assert_eq!((calls(first).await, calls(second).await), (1, 1));
        // Every SMS row of the bundle is failed, and a repeated report changes nothing.
        let failed = |id| count(&store, id, "sms", Some("failed"));
        assert_eq!((failed(first).await, failed(second).await), (2, 1));
        let r = roster.clone();
        let _ = store
            .transact(move |repo| {
                delivery::report(repo, &ctx(&r, morning()), "SM1", "undelivered", Some(30003))
            })
            .await
            .expect("report");
        assert_eq!((calls(first).await, calls(second).await), (1, 1));
    })
    .await;
}

#[tokio::test]
async fn a_report_that_beats_the_record_of_its_send_still_falls_back() {
    on_each_store(|store| async move {
        let roster = Arc::new(fixture::roster());
        let r = roster.clone();
        let (id, claimed) = store
            .transact(move |repo| {
                let id = repo.insert(&new_incident("db down"), State::Triggered, morning())?;
                repo.insert_outbox(&OutboxRow {
                    fallback: vec!["voice".into()],
                    ..sms(&r, id, "page", "s", "b")
                })?;
                Ok((id, delivery::claim(repo, &ctx(&r, morning()), 10)?))
            })
            .await
            .expect("claim");
        // Twilio's callbacks come before the worker records the send; an older
        // status arriving last does not replace the furthest.
        let r = roster.clone();
        let (found, kept) = store
            .transact(move |repo| {
                let mut found = Vec::new();
                for status in ["sent", "undelivered", "queued"] {
                    let ctx = ctx(&r, morning());
                    found.push(delivery::report(repo, &ctx, "SM9", status, Some(30003))?.found());
                }
                Ok((found, repo.early_report("SM9")?))
            })
            .await
            .expect("reports");
        assert_eq!(found, [false, false, false]);
        assert_eq!(kept, Some(("undelivered".to_string(), Some(30003))));
        let r = roster.clone();
        let left = store
            .transact(move |repo| {
                let ctx = ctx(&r, morning());
                let head = claimed.first().ok_or(crate::store::StoreError::NotFound)?;
                delivery::record(repo, &ctx, head, "twilio", &Ok(Some("SM9".into())), 0.5)?;
                repo.early_report("SM9")
            })
            .await
            .expect("record");
        assert_eq!(count(&store, id, "sms", Some("failed")).await, 1);
        assert_eq!(count(&store, id, "voice", None).await, 1);
        assert_eq!(left, None, "the report was used");
        // Reports for ids no row ever carries are dropped after a day.
        let r = roster.clone();
        let (other, new) = store
            .transact(move |repo| {
                let report = |repo: &mut dyn Repo, at, id: &str, status: &str| -> StoreResult<()> {
                    delivery::report(repo, &ctx(&r, at), id, status, None).map(drop)
                };
                report(repo, morning(), "SMother", "delivered")?;
                let next_day = morning() + chrono::Duration::days(1) + chrono::Duration::seconds(1);
                report(repo, next_day, "SMnew", "sent")?;
                Ok((repo.early_report("SMother")?, repo.early_report("SMnew")?))
            })
            .await
            .expect("reports");
        assert_eq!(other, None, "pruned");
        assert!(new.is_some(), "kept");
    })
    .await;
}

/// A claim whose answer was never recorded (the store failed after the
/// provider call) goes back once it is older than the cut-off, with the
/// pages folded into it, and a younger one stays.
#[tokio::test]
async fn a_stale_claim_goes_back_with_its_bundle() {
    on_each_store(|store| async move {
        let roster = Arc::new(fixture::roster());
        let r = roster.clone();
        let (head, bundled) = store
            .transact(move |repo| {
                let id = repo.insert(&new_incident("db down"), State::Triggered, morning())?;
                let mut queued = Vec::new();
                for _ in 0..3 {
                    queued.push(repo.insert_outbox(&sms(&r, id, "page", "s", "b"))?);
                }
                let claimed = delivery::claim(repo, &ctx(&r, morning()), 10)?;
                let head = claimed.first().ok_or(crate::store::StoreError::NotFound)?;
                assert_eq!(head.bundled, 2);
                queued.retain(|&q| q != head.row.id);
                Ok((head.row.id, queued))
            })
            .await
            .expect("claim");
        assert_eq!(bundled.len(), 2);
        let requeue = |before| {
            store.transact(move |repo| {
                let rows = repo.requeue_in_flight(before)?;
                Ok(rows.iter().map(|r| r.id).collect::<Vec<_>>())
            })
        };
        let young = requeue(morning() - chrono::Duration::seconds(1)).await;
        assert_eq!(young.expect("requeue"), Vec::<i64>::new(), "younger: kept");
        assert_eq!(row(&store, head).await.status, "sending");
        let stale = requeue(morning() + chrono::Duration::minutes(5)).await;
        assert_eq!(stale.expect("requeue"), [head]);
        for id in std::iter::once(head).chain(bundled) {
            let back = row(&store, id).await;
            assert_eq!((back.status.as_str(), back.bundle_of), ("pending", None));
        }
        let depth = store.query(|r| r.outbox_depth()).await.expect("depth");
        assert_eq!(depth, 3);
        let next = store.query(|r| r.next_outbox_due()).await.expect("due");
        assert!(next.is_some_and(|t| t <= morning()), "{next:?}");
    })
    .await;
}

/// Acknowledging cancels the pages still queued, not those already sent,
/// and a fallback finds every channel its step used.
#[tokio::test]
async fn cancelled_pages_and_the_channels_a_step_used() {
    on_each_store(|store| async move {
        let roster = Arc::new(fixture::roster());
        let r = roster.clone();
        let got = store
            .transact(move |repo| {
                let id = repo.insert(&new_incident("db down"), State::Triggered, morning())?;
                let sent = repo.insert_outbox(&OutboxRow {
                    status: "sent".into(),
                    sent_at: Some(morning()),
                    ..sms(&r, id, "page", "s", "b")
                })?;
                let voice = OutboxRow {
                    channel: "voice".into(),
                    ..sms(&r, id, "page", "s", "b")
                };
                repo.insert_outbox(&voice)?;
                repo.insert_outbox(&sms(&r, id, "notice", "s", "b"))?;
                let channels = repo.page_channels_since(id, "m2", morning())?;
                let later =
                    repo.page_channels_since(id, "m2", morning() + chrono::Duration::seconds(1))?;
                let cancelled = repo.cancel_pages(id)?;
                let sent_pages: Vec<i64> = repo.pages_sent(id)?.iter().map(|r| r.id).collect();
                let last = repo.last_sent("m2", "sms")?;
                let since = repo.sent_since("m2", "sms", morning(), 5)?;
                Ok((
                    channels,
                    later,
                    cancelled,
                    sent_pages == [sent],
                    last,
                    since,
                ))
            })
            .await
            .expect("transact");
        let (mut channels, later, cancelled, only_sent, last, since) = got;
        channels.sort();
        assert_eq!(channels, ["sms", "voice"]);
        assert!(later.is_empty(), "{later:?}");
        assert_eq!(cancelled, 1, "the queued page, not the notice");
        assert!(only_sent);
        assert_eq!((last, since), (Some(morning()), 1));
    })
    .await;
}
