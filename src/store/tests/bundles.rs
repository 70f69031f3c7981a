//! SMS bundles as an alert storm makes them: pages to one person fold into
//! the oldest of them while they wait out the SMS window, so no single
//! transaction folds thousands; a sent bundle is stamped a chunk per
//! transaction; and a page that stops being wanted, or a head that will
//! not be sent, never takes the others' pages with it.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};

use super::new_incident;
use super::on_each_store;
use super::outbox::{ctx, morning, row, sms};
use crate::config::Roster;
use crate::escalation::{delivery, fixture};
use crate::incident::{OutboxRow, Repo, ReportLeft, State};
use crate::notify::SendError;
use crate::store::{Store, StoreError, StoreResult};

/// Claims what is due at `at` (up to 10 rows).
fn claim(
    repo: &mut dyn Repo,
    r: &Roster,
    at: DateTime<Utc>,
) -> StoreResult<Vec<delivery::Claimed>> {
    delivery::claim(repo, &ctx(r, at), 10)
}

/// A new triggered incident `title` with one SMS page to m2, queued at `at`.
fn paged(
    repo: &mut dyn Repo,
    r: &Roster,
    title: &str,
    at: DateTime<Utc>,
) -> StoreResult<(i64, i64)> {
    let id = repo.insert(&new_incident(title), State::Triggered, at)?;
    let page = repo.insert_outbox(&OutboxRow {
        due_at: at,
        created_at: at,
        ..sms(r, id, "page", &format!("#{id} {title}"), "page text")
    })?;
    Ok((id, page))
}

/// The "page sent" lines on an incident's timeline.
fn sent_lines(repo: &mut dyn Repo, id: i64) -> StoreResult<Vec<serde_json::Value>> {
    Ok(repo
        .timeline(id)?
        .into_iter()
        .filter(|e| e.kind == "page sent")
        .map(|e| e.detail)
        .collect())
}

/// What the outbox worker would claim at `at`, in a transaction of its own.
async fn claim_at(
    store: &Store,
    roster: &Arc<Roster>,
    at: DateTime<Utc>,
) -> Vec<delivery::Claimed> {
    let r = roster.clone();
    store
        .transact(move |repo| claim(repo, &r, at))
        .await
        .expect("claim")
}

/// A bundle's SMS counts `total` incidents, names each of `named` and none
/// of `left_out`.
fn names(body: &str, total: usize, named: &[i64], left_out: &[i64]) {
    assert!(
        body.starts_with(&format!("tocsin: {total} incidents need you")),
        "{body}"
    );
    for id in named {
        assert!(body.contains(&format!("#{id} ")), "#{id} named: {body}");
    }
    for id in left_out {
        assert!(!body.contains(&format!("#{id} ")), "#{id} left out: {body}");
    }
}

/// m2's first page goes out at `morning()`, opening their SMS window; then
/// three more incidents page them during it. Returns the window, and each
/// later incident with its page.
async fn three_during_the_window(
    store: &Store,
    roster: &Arc<Roster>,
) -> (Duration, [(i64, i64); 3]) {
    let window = roster.limits.sms_bundle_window.to_chrono();
    let r = roster.clone();
    store
        .transact(move |repo| {
            paged(repo, &r, "first", morning())?;
            let first = claim(repo, &r, morning())?;
            let c = ctx(&r, morning());
            delivery::record(repo, &c, &first[0], "twilio", &Ok(Some("SM1".into())), 0.5)?;
            // Each claim during the window folds what came since the last.
            let quarter = window / 4;
            let b = paged(repo, &r, "b", morning() + quarter)?;
            let c = paged(repo, &r, "c", morning() + quarter)?;
            assert!(claim(repo, &r, morning() + quarter)?.is_empty());
            let d = paged(repo, &r, "d", morning() + quarter * 2)?;
            assert!(claim(repo, &r, morning() + quarter * 2)?.is_empty());
            Ok((window, [b, c, d]))
        })
        .await
        .expect("pages during the window")
}

#[tokio::test]
async fn pages_fold_into_the_oldest_as_they_wait_and_go_as_one_sms() {
    on_each_store(|store| async move {
        let roster = Arc::new(fixture::roster());
        let (window, [(b, head), (c, pc), (d, pd)]) =
            three_during_the_window(&store, &roster).await;
        // The oldest waits for the end of the window with the others in it.
        let h = row(&store, head).await;
        assert_eq!(
            (h.status.as_str(), h.due_at),
            ("pending", morning() + window)
        );
        for p in [pc, pd] {
            let folded = row(&store, p).await;
            assert_eq!(
                (folded.status.as_str(), folded.bundle_of, folded.sent_at),
                ("bundled", Some(head), None)
            );
        }
        // All three wait in the outbox (`tocsin_outbox_depth`).
        assert_eq!(store.query(|r| r.outbox_depth()).await.expect("depth"), 3);
        // At the end of the window: one SMS naming all three.
        let r = roster.clone();
        let end = morning() + window;
        let (claimed, lines) = store
            .transact(move |repo| {
                let claimed = claim(repo, &r, end)?;
                delivery::record(
                    repo,
                    &ctx(&r, end),
                    &claimed[0],
                    "twilio",
                    &Ok(Some("SM2".into())),
                    0.5,
                )?;
                let lines = [
                    sent_lines(repo, b)?,
                    sent_lines(repo, c)?,
                    sent_lines(repo, d)?,
                ];
                Ok((claimed, lines))
            })
            .await
            .expect("send the bundle");
        assert_eq!(claimed.len(), 1, "{claimed:#?}");
        assert_eq!((claimed[0].row.id, claimed[0].bundled), (head, 2));
        names(&claimed[0].row.body, 3, &[b, c, d], &[]);
        for p in [pc, pd] {
            let sent = row(&store, p).await;
            assert_eq!(
                (sent.sent_at, sent.provider_id.as_deref()),
                (Some(end), Some("SM2"))
            );
        }
        assert_eq!(store.query(|r| r.outbox_depth()).await.expect("depth"), 0);
        for (id, l) in [b, c, d].iter().zip(&lines) {
            assert_eq!(l.len(), 1, "incident {id}: {l:?}");
            assert_eq!(l[0]["provider_id"], "SM2", "incident {id}");
        }
        assert_eq!(lines[1][0]["bundled_into"], head);
    })
    .await;
}

/// A page queued while its person's SMS waits folds into it as it is
/// queued, as its first claim would; what a claim would weigh first (a
/// later rung, a notice, an opt-out, a window that has ended, a page no
/// longer wanted) is left to it.
#[tokio::test]
async fn a_page_queued_while_its_persons_sms_waits_folds_into_it_at_once() {
    on_each_store(|store| async move {
        let roster = Arc::new(fixture::roster());
        let (window, [(_, head), _, _]) = three_during_the_window(&store, &roster).await;
        let r = roster.clone();
        let queued = store
            .transact(move |repo| {
                let at = morning() + window / 4 * 3;
                let id = repo.insert(&new_incident("e"), State::Triggered, at)?;
                // A step paged by hand on an acknowledged incident.
                let acked = repo.insert(&new_incident("f"), State::Acknowledged, at)?;
                let page = OutboxRow {
                    due_at: at,
                    created_at: at,
                    ..sms(&r, id, "page", &format!("#{id} e"), "page text")
                };
                let end = morning() + window;
                let (mut later, mut notice, mut stopped, mut past) =
                    (page.clone(), page.clone(), page.clone(), page.clone());
                later.due_at = end + window;
                notice.kind = "notice".into();
                stopped.incident = Some(acked);
                past.due_at = end;
                let mut queue = |row: OutboxRow, now: DateTime<Utc>| {
                    let mut row = row;
                    delivery::fold_on_queue(repo, &ctx(&r, now), &mut row).map(|()| row)
                };
                let mut out = vec![
                    ("a page", queue(page.clone(), at)?),
                    ("a later rung", queue(later, at)?),
                    ("a notice", queue(notice, at)?),
                    ("an acknowledged incident's page", queue(stopped, at)?),
                    ("past the window", queue(past, end)?),
                ];
                let phone = r.people["m2"].phone.clone().unwrap_or_default();
                repo.set_sms_opt_out("m2", &phone, Some(at))?;
                let mut page = page;
                delivery::fold_on_queue(repo, &ctx(&r, at), &mut page)?;
                out.push(("opted out", page));
                Ok(out)
            })
            .await
            .expect("queue");
        for (what, row) in queued {
            let want = if what == "a page" {
                ("bundled", Some(head))
            } else {
                ("pending", None)
            };
            assert_eq!((row.status.as_str(), row.bundle_of), want, "{what}");
        }
    })
    .await;
}

#[tokio::test]
async fn a_waiting_head_whose_incident_stops_paging_hands_its_pages_back() {
    on_each_store(|store| async move {
        let roster = Arc::new(fixture::roster());
        let (window, [(b, head), (c, pc), (d, pd)]) =
            three_during_the_window(&store, &roster).await;
        // b is acknowledged before the window ends: its page is cancelled,
        // and the pages folded into it go back to the queue.
        let now = morning() + window / 2;
        let cancelled = store
            .transact(move |repo| {
                repo.set_state(b, State::Acknowledged, now, Some("m2"))?;
                repo.cancel_pages(b)
            })
            .await
            .expect("acknowledge");
        assert_eq!(cancelled, 1);
        assert_eq!(row(&store, head).await.status, "cancelled");
        for p in [pc, pd] {
            let back = row(&store, p).await;
            assert_eq!((back.status.as_str(), back.bundle_of), ("pending", None));
        }
        // At the end of the window the other two still go, as one SMS.
        let end = morning() + window;
        let claimed = claim_at(&store, &roster, end).await;
        assert_eq!(claimed.len(), 1, "{claimed:#?}");
        assert_eq!((claimed[0].row.id, claimed[0].bundled), (pc, 1));
        names(&claimed[0].row.body, 2, &[c, d], &[b]);
        assert_eq!(row(&store, pd).await.bundle_of, Some(pc));
    })
    .await;
}

#[tokio::test]
async fn a_folded_page_whose_incident_stops_paging_is_left_out() {
    on_each_store(|store| async move {
        let roster = Arc::new(fixture::roster());
        let (window, [(b, head), (c, pc), (_, pd)]) =
            three_during_the_window(&store, &roster).await;
        let now = morning() + window / 2;
        let cancelled = store
            .transact(move |repo| {
                repo.set_state(c, State::Resolved, now, None)?;
                repo.cancel_pages(c)
            })
            .await
            .expect("resolve");
        assert_eq!(cancelled, 1);
        let gone = row(&store, pc).await;
        assert_eq!((gone.status.as_str(), gone.bundle_of), ("cancelled", None));
        let end = morning() + window;
        let claimed = claim_at(&store, &roster, end).await;
        assert_eq!((claimed[0].row.id, claimed[0].bundled), (head, 1));
        names(&claimed[0].row.body, 2, &[b], &[c]);
        assert_eq!(row(&store, pd).await.bundle_of, Some(head));
    })
    .await;
}

/// Thousands folded into one SMS are stamped sent a chunk per transaction;
/// when the process dies between chunks, the next start finishes them.
#[tokio::test]
async fn a_big_bundle_is_stamped_in_chunks_and_a_crash_between_them_is_mended() {
    on_each_store(|store| async move {
        let roster = Arc::new(fixture::roster());
        let window = roster.limits.sms_bundle_window.to_chrono();
        const FOLDED: usize = delivery::BUNDLE_CHUNK * 2 + 10;
        let r = roster.clone();
        let end = morning() + window;
        let (head, claimed) = store
            .transact(move |repo| {
                paged(repo, &r, "first", morning())?;
                let first = claim(repo, &r, morning())?;
                delivery::record(
                    repo,
                    &ctx(&r, morning()),
                    &first[0],
                    "twilio",
                    &Ok(Some("SM1".into())),
                    0.5,
                )?;
                let during = morning() + window / 2;
                let (_, head) = paged(repo, &r, "storm 0", during)?;
                for n in 1..=FOLDED {
                    paged(repo, &r, &format!("storm {n}"), during)?;
                }
                assert!(claim(repo, &r, during)?.is_empty());
                let claimed = claim(repo, &r, end)?;
                delivery::record(
                    repo,
                    &ctx(&r, end),
                    &claimed[0],
                    "twilio",
                    &Ok(Some("SM2".into())),
                    0.5,
                )?;
                Ok((head, claimed))
            })
            .await
            .expect("storm");
        assert_eq!((claimed[0].row.id, claimed[0].bundled), (head, FOLDED));
        let body = &claimed[0].row.body;
        assert!(
            body.starts_with(&format!("tocsin: {} incidents need you", FOLDED + 1)),
            "{body}"
        );
        assert!(body.contains("more: "), "{body}");
        let unstamped = |store: Store| async move {
            store
                .transact(move |repo| {
                    let mut n = 0;
                    for id in head + 1..=head + FOLDED as i64 {
                        n += usize::from(repo.outbox(id)?.sent_at.is_none());
                    }
                    Ok(n)
                })
                .await
                .expect("count")
        };
        // The record of the send stamped the first chunk; the process died
        // before the next.
        assert_eq!(
            unstamped(store.clone()).await,
            FOLDED - delivery::BUNDLE_CHUNK
        );
        let heads = store
            .transact(|repo| repo.unfinished_bundles())
            .await
            .expect("unfinished");
        assert_eq!(heads, [head]);
        let mut chunks = 0;
        while store
            .transact(move |repo| delivery::finish_bundle(repo, head))
            .await
            .expect("finish")
        {
            chunks += 1;
        }
        assert_eq!(chunks, 1, "two more chunks: one full, one not");
        assert_eq!(unstamped(store.clone()).await, 0);
        let (heads, lines) = store
            .transact(move |repo| {
                let mut lines = Vec::new();
                for id in head + 1..=head + FOLDED as i64 {
                    let o = repo.outbox(id)?;
                    lines.push(sent_lines(repo, o.incident.ok_or(StoreError::NotFound)?)?.len());
                }
                Ok((repo.unfinished_bundles()?, lines))
            })
            .await
            .expect("after");
        assert!(heads.is_empty(), "{heads:?}");
        assert!(
            lines.iter().all(|&n| n == 1),
            "one page sent line each: {lines:?}"
        );
    })
    .await;
}

/// Rows folded into a head that will never be sent (a crash, or an older
/// version, ended it without handing them back) go back to the queue at
/// the next start.
#[tokio::test]
async fn pages_folded_into_a_head_that_ended_unsent_go_back() {
    on_each_store(|store| async move {
        let roster = Arc::new(fixture::roster());
        let (_, [(_, head), (_, pc), (_, pd)]) = three_during_the_window(&store, &roster).await;
        let heads = store
            .transact(move |repo| {
                let mut h = repo.outbox(head)?;
                h.status = "failed".into();
                repo.update_outbox(&h)?;
                repo.unfinished_bundles()
            })
            .await
            .expect("mend");
        assert!(heads.is_empty(), "{heads:?}");
        for p in [pc, pd] {
            let back = row(&store, p).await;
            assert_eq!((back.status.as_str(), back.bundle_of), ("pending", None));
        }
    })
    .await;
}

/// A head whose send failed for now keeps nothing folded (they go back);
/// when it is retried during another head's wait, that head and its rows
/// fold into it: one bundle, never one inside another.
#[tokio::test]
async fn bundles_never_nest() {
    on_each_store(|store| async move {
        let roster = Arc::new(fixture::roster());
        let window = roster.limits.sms_bundle_window.to_chrono();
        let r = roster.clone();
        let (first, retry_at) = store
            .transact(move |repo| {
                let (_, first) = paged(repo, &r, "first", morning())?;
                let claimed = claim(repo, &r, morning())?;
                // While its call is out, two more come and fold together.
                let soon = morning() + Duration::seconds(1);
                let (_, p1) = paged(repo, &r, "p1", soon)?;
                let (_, p2) = paged(repo, &r, "p2", soon)?;
                assert!(claim(repo, &r, soon)?.is_empty());
                assert_eq!(repo.outbox(p2)?.bundle_of, Some(p1));
                let failed = Err(SendError::Transient {
                    retry_after: None,
                    ambiguous: false,
                    reason: "503".into(),
                });
                delivery::record(repo, &ctx(&r, soon), &claimed[0], "twilio", &failed, 0.0)?;
                Ok((first, repo.outbox(first)?.due_at))
            })
            .await
            .expect("setup");
        assert!(
            retry_at < morning() + Duration::seconds(1) + window,
            "retried within the wait"
        );
        let claimed = claim_at(&store, &roster, retry_at).await;
        assert_eq!(claimed.len(), 1, "{claimed:#?}");
        assert_eq!((claimed[0].row.id, claimed[0].bundled), (first, 2));
        for p in [first + 1, first + 2] {
            let folded = row(&store, p).await;
            assert_eq!(
                (folded.status.as_str(), folded.bundle_of),
                ("bundled", Some(first))
            );
        }
    })
    .await;
}

/// Folded into one bundle: `BUNDLE_CHUNK + 10` incidents' pages that fall
/// back to voice, the second incident paged again last (its two pages in
/// different chunks). Claims the bundle at the window's end; returns the
/// claim, the incidents, the one paged twice, and the end.
async fn big_bundle_that_falls_back(
    store: &Store,
    roster: &Arc<Roster>,
) -> (delivery::Claimed, Vec<i64>, i64, DateTime<Utc>) {
    let window = roster.limits.sms_bundle_window.to_chrono();
    let r = roster.clone();
    store
        .transact(move |repo| {
            paged(repo, &r, "first", morning())?;
            let first = claim(repo, &r, morning())?;
            let sent = Ok(Some("SM1".into()));
            let _ = delivery::record(repo, &ctx(&r, morning()), &first[0], "twilio", &sent, 0.5)?;
            let during = morning() + window / 2;
            let page = |repo: &mut dyn Repo, id| {
                repo.insert_outbox(&OutboxRow {
                    due_at: during,
                    created_at: during,
                    fallback: vec!["voice".into()],
                    ..sms(&r, id, "page", &format!("#{id} storm"), "page text")
                })
            };
            let mut incidents = Vec::new();
            for n in 0..delivery::BUNDLE_CHUNK + 10 {
                let new = new_incident(&format!("storm {n}"));
                let id = repo.insert(&new, State::Triggered, during)?;
                page(repo, id)?;
                incidents.push(id);
            }
            let twice = incidents[1];
            page(repo, twice)?;
            assert!(claim(repo, &r, during)?.is_empty());
            let end = morning() + window;
            let mut claimed = claim(repo, &r, end)?;
            assert_eq!(claimed[0].bundled, delivery::BUNDLE_CHUNK + 10);
            Ok((claimed.remove(0), incidents, twice, end))
        })
        .await
        .expect("bundle")
}

/// What is left of a report, applied a chunk per transaction as the outbox
/// worker applies it.
async fn report_rest(
    store: &Store,
    roster: &Arc<Roster>,
    mut left: Option<ReportLeft>,
    at: DateTime<Utc>,
) {
    while let Some(rest) = left {
        let r = roster.clone();
        left = match store
            .transact(move |repo| delivery::report_more(repo, &ctx(&r, at), rest))
            .await
            .expect("report more")
        {
            delivery::Reported::More(more) => Some(more),
            _ => None,
        };
    }
}

/// Every SMS page of `incidents` failed, and each fell back to voice once.
async fn each_failed_and_fell_back_once(store: &Store, incidents: &[i64], twice: i64) {
    for &id in incidents {
        let rows = store.query(move |q| q.outbox_for(id)).await.expect("rows");
        let sms = rows
            .iter()
            .filter(|o| o.channel == "sms")
            .collect::<Vec<_>>();
        assert!(sms.iter().all(|o| o.status == "failed"), "#{id}: {sms:?}");
        let voice = rows.iter().filter(|o| o.channel == "voice").count();
        assert_eq!(
            voice,
            1,
            "#{id} falls back once (paged twice: {})",
            id == twice
        );
        // Nor does its second page report the person out of channels.
        let kinds = store
            .transact(move |repo| {
                Ok(repo
                    .timeline(id)?
                    .into_iter()
                    .map(|e| e.kind)
                    .collect::<Vec<_>>())
            })
            .await
            .expect("timeline");
        assert!(
            !kinds.iter().any(|k| k == "no channel left"),
            "#{id}: {kinds:?}"
        );
    }
}

/// An undelivered report for a big bundle fails its folded pages a chunk
/// per transaction, each falling back once per incident, even when an
/// incident's two pages are in different chunks.
#[tokio::test]
async fn a_big_bundles_report_falls_back_a_chunk_at_a_time_once_per_incident() {
    on_each_store(|store| async move {
        let roster = Arc::new(fixture::roster());
        let (claimed, incidents, twice, end) = big_bundle_that_falls_back(&store, &roster).await;
        let r = roster.clone();
        let head = claimed.row.id;
        let early = store
            .transact(move |repo| {
                let sent = Ok(Some("SM2".into()));
                let early = delivery::record(repo, &ctx(&r, end), &claimed, "twilio", &sent, 0.5)?;
                while delivery::finish_bundle(repo, head)? {}
                Ok(early)
            })
            .await
            .expect("record");
        assert!(early.is_none(), "no report came first");
        let r = roster.clone();
        let mut done = store
            .transact(move |repo| {
                delivery::report(repo, &ctx(&r, end), "SM2", "undelivered", Some(30003))
            })
            .await
            .expect("report");
        let mut chunks = 1;
        while let delivery::Reported::More(left) = done {
            // Between chunks, the bundle's last page is not failed yet.
            let last = *incidents.last().expect("one");
            let before = store
                .query(move |q| q.outbox_for(last))
                .await
                .expect("rows");
            assert!(before.iter().all(|o| o.status == "bundled"), "{before:?}");
            let r = roster.clone();
            done = store
                .transact(move |repo| delivery::report_more(repo, &ctx(&r, end), left))
                .await
                .expect("report more");
            chunks += 1;
        }
        assert_eq!(chunks, 2);
        each_failed_and_fell_back_once(&store, &incidents, twice).await;
    })
    .await;
}

/// A big bundle's failure report that a crash cut short between chunks is
/// finished at the next start: every page fails and falls back once, the
/// incident with two pages in different chunks included.
#[tokio::test]
async fn a_big_bundles_report_cut_short_by_a_crash_is_finished_at_the_next_start() {
    on_each_store(|store| async move {
        let roster = Arc::new(fixture::roster());
        let (claimed, incidents, twice, end) = big_bundle_that_falls_back(&store, &roster).await;
        let r = roster.clone();
        let head = claimed.row.id;
        store
            .transact(move |repo| {
                let sent = Ok(Some("SM2".into()));
                let early = delivery::record(repo, &ctx(&r, end), &claimed, "twilio", &sent, 0.5)?;
                assert!(early.is_none(), "no report came first");
                while delivery::finish_bundle(repo, head)? {}
                Ok(())
            })
            .await
            .expect("record");
        let r = roster.clone();
        let first = store
            .transact(move |repo| {
                delivery::report(repo, &ctx(&r, end), "SM2", "undelivered", Some(30003))
            })
            .await
            .expect("report");
        // The process dies after the first chunk: the rest in memory is lost.
        assert!(matches!(first, delivery::Reported::More(_)), "{first:?}");
        drop(first);
        let last = *incidents.last().expect("one");
        let waiting = store
            .query(move |q| q.outbox_for(last))
            .await
            .expect("rows");
        assert!(waiting.iter().all(|o| o.status == "bundled"), "{waiting:?}");
        // The next start: what the report left is kept, and is finished as
        // the outbox's start-up does.
        let mut left = store
            .transact(|repo| repo.reports_left(DateTime::<Utc>::MAX_UTC))
            .await
            .expect("left");
        assert_eq!(left.len(), 1, "{left:?}");
        assert_eq!(
            (left[0].head, left[0].status.as_str()),
            (head, "undelivered")
        );
        let later = end + Duration::minutes(2);
        let rest = Some(left.remove(0));
        report_rest(&store, &roster, rest, later).await;
        each_failed_and_fell_back_once(&store, &incidents, twice).await;
        let left = store
            .transact(|repo| repo.reports_left(DateTime::<Utc>::MAX_UTC))
            .await
            .expect("left");
        assert!(left.is_empty(), "a finished report is not kept: {left:?}");
    })
    .await;
}

/// Twilio's "undelivered" for a big bundle came before the record of its
/// send: the record applies it to the first chunk and hands back the rest,
/// which fails and falls back too (none of it is stamped sent).
#[tokio::test]
async fn a_failure_report_that_beats_a_big_bundles_record_fails_every_page_in_it() {
    on_each_store(|store| async move {
        let roster = Arc::new(fixture::roster());
        let (claimed, incidents, twice, end) = big_bundle_that_falls_back(&store, &roster).await;
        let r = roster.clone();
        let head = claimed.row.id;
        let left = store
            .transact(move |repo| {
                let c = ctx(&r, end);
                let kept = delivery::report(repo, &c, "SM2", "undelivered", Some(30003))?;
                assert!(!kept.found());
                delivery::record(repo, &c, &claimed, "twilio", &Ok(Some("SM2".into())), 0.5)
            })
            .await
            .expect("record");
        assert!(left.is_some(), "the rest of the report is handed back");
        // As the outbox worker does: the report's rest, then the stamps.
        report_rest(&store, &roster, left, end).await;
        store
            .transact(move |repo| {
                while delivery::finish_bundle(repo, head)? {}
                Ok(())
            })
            .await
            .expect("stamp");
        each_failed_and_fell_back_once(&store, &incidents, twice).await;
    })
    .await;
}

/// An incident stopped paging while its page was folded into a bundle in
/// flight (so the page went with it, and nothing cancelled it); the head
/// was then re-queued with its pages (a dead daemon's claim on PostgreSQL):
/// at the head's next claim that page is left out.
#[tokio::test]
async fn a_folded_page_that_stopped_paging_in_flight_is_left_out_when_sent_again() {
    on_each_store(|store| async move {
        let roster = Arc::new(fixture::roster());
        let (window, [(b, head), (c, pc), (d, _)]) = three_during_the_window(&store, &roster).await;
        let r = roster.clone();
        let end = morning() + window;
        let cancelled = store
            .transact(move |repo| {
                let claimed = claim(repo, &r, end)?;
                assert_eq!((claimed[0].row.id, claimed[0].bundled), (head, 2));
                // c is acknowledged during the provider call.
                repo.set_state(c, State::Acknowledged, end, Some("m2"))?;
                let cancelled = repo.cancel_pages(c)?;
                // The daemon dies; its claim goes back with the pages in it.
                let mut h = repo.outbox(head)?;
                h.status = "pending".into();
                repo.update_outbox(&h)?;
                Ok(cancelled)
            })
            .await
            .expect("in flight");
        assert_eq!(cancelled, 0, "in the SMS in flight: not cancelled then");
        let again = end + Duration::seconds(1);
        let claimed = claim_at(&store, &roster, again).await;
        assert_eq!((claimed[0].row.id, claimed[0].bundled), (head, 1));
        names(&claimed[0].row.body, 2, &[b, d], &[c]);
        let gone = row(&store, pc).await;
        assert_eq!((gone.status.as_str(), gone.bundle_of), ("cancelled", None));
    })
    .await;
}

/// A bundle's SMS fails for good (the only vendor refused it, or stayed down
/// through its retries): every page in it fails with it and falls back at
/// once, once per incident, a chunk per transaction; none goes back to wait
/// for the vendor that failed.
#[tokio::test]
async fn a_bundle_that_fails_for_good_falls_back_for_every_page_in_it() {
    on_each_store(|store| async move {
        let roster = Arc::new(fixture::roster());
        assert_eq!(roster.providers.sms.len(), 1);
        let (claimed, incidents, twice, end) = big_bundle_that_falls_back(&store, &roster).await;
        let r = roster.clone();
        let left = store
            .transact(move |repo| {
                let refused = Err(SendError::Permanent {
                    code: Some(21211),
                    reason: "invalid number".into(),
                });
                delivery::record(repo, &ctx(&r, end), &claimed, "twilio", &refused, 0.5)
            })
            .await
            .expect("record");
        assert!(left.is_some(), "the rest is applied a chunk at a time");
        // A reap between two chunks leaves the rest with its failed head.
        let heads = store
            .transact(|repo| repo.unfinished_bundles())
            .await
            .expect("reap");
        assert!(heads.is_empty(), "{heads:?}");
        report_rest(&store, &roster, left, end).await;
        each_failed_and_fell_back_once(&store, &incidents, twice).await;
        // Each page's timeline names the send's failure, not a vendor report.
        let last = *incidents.last().expect("one");
        let kinds = store
            .transact(move |repo| {
                Ok(repo
                    .timeline(last)?
                    .into_iter()
                    .map(|e| (e.kind, e.detail))
                    .collect::<Vec<_>>())
            })
            .await
            .expect("timeline");
        let errors = store
            .query(move |q| q.outbox_for(last))
            .await
            .expect("rows")
            .into_iter()
            .filter(|o| o.channel == "sms")
            .map(|o| o.last_error)
            .collect::<Vec<_>>();
        assert!(
            !kinds.iter().any(|(k, _)| k == "delivery report"),
            "{kinds:#?}"
        );
        let failed = kinds
            .iter()
            .filter(|(k, _)| k == "delivery failed")
            .collect::<Vec<_>>();
        assert_eq!(failed.len(), 1, "{kinds:#?}");
        assert_eq!(
            (failed[0].1["error"].as_str(), failed[0].1["code"].as_u64()),
            (Some("invalid number"), Some(21211))
        );
        assert_eq!(errors, [Some("invalid number".to_string())]);
        let r = roster.clone();
        let again = store
            .transact(move |repo| claim(repo, &r, end + Duration::minutes(5)))
            .await
            .expect("claim");
        assert!(
            again.iter().all(|c| c.row.channel == "voice"),
            "no SMS is tried again: {again:#?}"
        );
    })
    .await;
}

/// A bundle's vendor refuses it and another SMS vendor is configured: the
/// bundle moves to it whole, one SMS naming every page.
#[tokio::test]
async fn a_bundle_refused_by_one_vendor_goes_whole_to_the_next() {
    on_each_store(|store| async move {
        let mut two = fixture::roster();
        let second = two.providers.sms[0].clone();
        two.providers.sms.push(second);
        let roster = Arc::new(two);
        let (window, [(_, head), (_, pc), (_, pd)]) =
            three_during_the_window(&store, &roster).await;
        let r = roster.clone();
        let end = morning() + window;
        let (claimed, pe) = store
            .transact(move |repo| {
                let claimed = claim(repo, &r, end)?;
                // Another page comes while the SMS is with the vendor.
                let during = end + Duration::seconds(1);
                let (_, pe) = paged(repo, &r, "e", during)?;
                let refused = Err(SendError::Permanent {
                    code: Some(30007),
                    reason: "filtered".into(),
                });
                let after = end + Duration::seconds(2);
                let left =
                    delivery::record(repo, &ctx(&r, after), &claimed[0], "twilio", &refused, 0.5)?;
                assert!(left.is_none());
                Ok((claim(repo, &r, after)?, pe))
            })
            .await
            .expect("refused, then claimed again");
        assert_eq!(claimed.len(), 1, "{claimed:#?}");
        assert_eq!(
            (claimed[0].row.id, claimed[0].bundled, claimed[0].row.vendor),
            (head, 3, 1),
            "the bundle stays on the next vendor and takes the new page in"
        );
        names(&claimed[0].row.body, 4, &[], &[]);
        for p in [pc, pd, pe] {
            assert_eq!(row(&store, p).await.bundle_of, Some(head));
        }
    })
    .await;
}

/// Twilio's callbacks for one SMS may overlap ("sent", then "undelivered"):
/// each report's progress is kept apart, so the one that finishes first
/// does not take the other's with it, and a crash leaves the failure to be
/// finished at the next start.
#[tokio::test]
async fn two_reports_of_one_big_bundle_keep_their_progress_apart() {
    on_each_store(|store| async move {
        let roster = Arc::new(fixture::roster());
        let (claimed, incidents, twice, end) = big_bundle_that_falls_back(&store, &roster).await;
        let r = roster.clone();
        let head = claimed.row.id;
        store
            .transact(move |repo| {
                let sent = Ok(Some("SM2".into()));
                delivery::record(repo, &ctx(&r, end), &claimed, "twilio", &sent, 0.5)?;
                while delivery::finish_bundle(repo, head)? {}
                Ok(())
            })
            .await
            .expect("record");
        let report = |status: &'static str, code| {
            let r = roster.clone();
            let store = store.clone();
            async move {
                store
                    .transact(move |repo| {
                        delivery::report(repo, &ctx(&r, end), "SM2", status, code)
                    })
                    .await
                    .expect("report")
            }
        };
        let delivery::Reported::More(sent) = report("sent", None).await else {
            panic!("a big bundle's report goes a chunk at a time");
        };
        let failed = report("undelivered", Some(30003)).await;
        assert!(matches!(failed, delivery::Reported::More(_)), "{failed:?}");
        // "sent" finishes; the process dies before "undelivered" goes on.
        let r = roster.clone();
        let done = store
            .transact(move |repo| delivery::report_more(repo, &ctx(&r, end), sent))
            .await
            .expect("sent's rest");
        assert!(matches!(done, delivery::Reported::Done), "{done:?}");
        let mut left = store
            .transact(|repo| repo.reports_left(DateTime::<Utc>::MAX_UTC))
            .await
            .expect("left");
        assert_eq!(left.len(), 1, "{left:?}");
        assert_eq!(left[0].status, "undelivered");
        let rest = Some(left.remove(0));
        report_rest(&store, &roster, rest, end).await;
        each_failed_and_fell_back_once(&store, &incidents, twice).await;
    })
    .await;
}

/// A provider answer for a claim that was taken back meanwhile (the row is
/// queued again, or another claim's) is not recorded: the row's own next
/// claim decides, and nothing falls back on a stale failure.
#[tokio::test]
async fn an_answer_for_a_claim_taken_back_is_not_recorded() {
    on_each_store(|store| async move {
        let roster = Arc::new(fixture::roster());
        let (window, [(b, head), (_, pc), _]) = three_during_the_window(&store, &roster).await;
        let r = roster.clone();
        let end = morning() + window;
        let (status, folded, steps) = store
            .transact(move |repo| {
                let claimed = claim(repo, &r, end)?;
                // Taken back: as a daemon cut off from PostgreSQL sees it.
                let mut h = repo.outbox(head)?;
                h.status = "pending".into();
                repo.update_outbox(&h)?;
                let refused = Err(SendError::Permanent {
                    code: Some(21211),
                    reason: "invalid number".into(),
                });
                let left =
                    delivery::record(repo, &ctx(&r, end), &claimed[0], "twilio", &refused, 0.5)?;
                assert!(left.is_none());
                let steps = repo.page_channels_since(b, "m2", morning())?;
                Ok((repo.outbox(head)?.status, repo.outbox(pc)?.bundle_of, steps))
            })
            .await
            .expect("a late answer");
        assert_eq!(status, "pending");
        assert_eq!(folded, Some(head), "its pages stay with it");
        assert!(
            !steps.iter().any(|c| c == "voice"),
            "no fallback: {steps:?}"
        );
    })
    .await;
}

/// A bundle that fails for good leaves out, cancelled rather than failed,
/// the pages whose incident stopped paging while it was with the vendor.
#[tokio::test]
async fn a_bundle_failing_for_good_cancels_the_pages_that_stopped_meanwhile() {
    on_each_store(|store| async move {
        let roster = Arc::new(fixture::roster());
        let (window, [_, (c, pc), (_, pd)]) = three_during_the_window(&store, &roster).await;
        let r = roster.clone();
        let end = morning() + window;
        let (sc, sd) = store
            .transact(move |repo| {
                let claimed = claim(repo, &r, end)?;
                repo.set_state(c, State::Acknowledged, end, Some("m2"))?;
                let refused = Err(SendError::Permanent {
                    code: Some(21211),
                    reason: "invalid number".into(),
                });
                let _ =
                    delivery::record(repo, &ctx(&r, end), &claimed[0], "twilio", &refused, 0.5)?;
                Ok((repo.outbox(pc)?.status, repo.outbox(pd)?.status))
            })
            .await
            .expect("refused");
        assert_eq!((sc.as_str(), sd.as_str()), ("cancelled", "failed"));
    })
    .await;
}

/// A bundle's send fails for now (the vendor answered 503): its pages wait
/// with it and go in the one retried SMS, not each in a call of its own.
#[tokio::test]
async fn a_bundle_that_fails_for_now_is_retried_whole() {
    on_each_store(|store| async move {
        let roster = Arc::new(fixture::roster());
        let (window, [(_, head), (_, pc), (_, pd)]) =
            three_during_the_window(&store, &roster).await;
        let r = roster.clone();
        let end = morning() + window;
        let (retry_at, due_now) = store
            .transact(move |repo| {
                let claimed = claim(repo, &r, end)?;
                let failed = Err(SendError::Transient {
                    retry_after: None,
                    ambiguous: false,
                    reason: "503".into(),
                });
                let _ = delivery::record(repo, &ctx(&r, end), &claimed[0], "twilio", &failed, 0.5)?;
                // Nothing else goes meanwhile.
                let due_now = claim(repo, &r, end)?.len();
                Ok((repo.outbox(head)?.due_at, due_now))
            })
            .await
            .expect("a failed attempt");
        assert_eq!(due_now, 0);
        assert!(retry_at > end, "{retry_at}");
        for p in [pc, pd] {
            assert_eq!(row(&store, p).await.bundle_of, Some(head));
        }
        let r = roster.clone();
        let (claimed, stamped) = store
            .transact(move |repo| {
                let claimed = claim(repo, &r, retry_at)?;
                let sent = Ok(Some("SM3".into()));
                let _ =
                    delivery::record(repo, &ctx(&r, retry_at), &claimed[0], "twilio", &sent, 0.5)?;
                Ok((
                    claimed,
                    [repo.outbox(pc)?.sent_at, repo.outbox(pd)?.sent_at],
                ))
            })
            .await
            .expect("the retry");
        assert_eq!(claimed.len(), 1, "{claimed:#?}");
        assert_eq!((claimed[0].row.id, claimed[0].bundled), (head, 2));
        names(&claimed[0].row.body, 3, &[], &[]);
        assert_eq!(stamped, [Some(retry_at), Some(retry_at)]);
    })
    .await;
}
