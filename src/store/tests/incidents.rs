//! Incidents, their timelines, SMS replies and opt-outs, overrides, and
//! what a failed write leaves behind.

use super::{at, new_incident, on_each_store};
use crate::incident::{Actor, Diagnosis, OutboxRow, Repo, SmsClaim, State};
use crate::store::{Store, StoreError, StoreResult};

#[tokio::test]
async fn paged_to_counts_open_incidents_paged_or_assigned() {
    on_each_store(|store| async move {
        let now = at(0);
        // A page queued for `to`, as paging queues one (sent or not).
        let paged = move |repo: &mut dyn Repo, state: State, to: &str| {
            let id = repo.insert(&new_incident("x"), state, now)?;
            let page =
                OutboxRow::pending("page", "sms", "+1555".into(), "s".into(), "b".into(), now);
            repo.insert_outbox(&OutboxRow {
                incident: Some(id),
                person: Some(to.to_string()),
                ..page
            })?;
            Ok::<_, StoreError>(id)
        };
        let (got, expected) = store
            .transact(move |repo| {
                let triggered = paged(repo, State::Triggered, "bob")?;
                let acked = paged(repo, State::Acknowledged, "bob")?;
                paged(repo, State::Resolved, "bob")?;
                paged(repo, State::Downgraded, "bob")?;
                paged(repo, State::Triggered, "alice")?;
                // A notice to bob (not a page) does not count.
                let noticed = repo.insert(&new_incident("z"), State::Triggered, now)?;
                let notice = OutboxRow::pending(
                    "notice",
                    "sms",
                    "+1555".into(),
                    "s".into(),
                    "b".into(),
                    now,
                );
                repo.insert_outbox(&OutboxRow {
                    incident: Some(noticed),
                    person: Some("bob".into()),
                    ..notice
                })?;
                // Assigned without a page (acknowledged in the UI, say).
                let assigned = repo.insert(&new_incident("y"), State::Triggered, now)?;
                repo.set_state(assigned, State::Acknowledged, now, Some("bob"))?;
                let got = (repo.paged_to("bob")?, repo.paged_to("carol")?);
                Ok((got, (vec![triggered, acked, assigned], vec![])))
            })
            .await
            .expect("transact");
        assert_eq!(got, expected);
    })
    .await;
}

#[tokio::test]
async fn sms_sids_and_opt_outs() {
    on_each_store(|store| async move {
        let now = at(0);
        let steps = store
            .transact(move |repo| {
                let mut seen = vec![repo.claim_sms("SM1", "bob", now)?];
                seen.push(repo.claim_sms("SM1", "bob", now)?);
                repo.set_sms_reply("SM1", "<Response/>")?;
                seen.push(repo.claim_sms("SM1", "bob", now)?);
                repo.release_sms("SM1")?;
                seen.push(repo.claim_sms("SM1", "bob", now)?);
                // Forgotten after the memory window.
                let later =
                    now + crate::incident::repo::SMS_SID_MEMORY + chrono::Duration::seconds(1);
                seen.push(repo.claim_sms("SM1", "bob", later)?);
                let mut opted = vec![crate::incident::opted_out(repo, "bob")];
                repo.set_sms_opt_out("bob", "+4915110000002", Some(now))?;
                repo.set_sms_opt_out("bob", "+4915110000002", Some(later))?;
                opted.push(crate::incident::opted_out(repo, "bob"));
                let first_stop = repo.sms_opted_out_at("bob")? == Some(now);
                repo.set_sms_opt_out("bob", "+4915110000002", None)?;
                opted.push(crate::incident::opted_out(repo, "bob"));
                Ok((seen, opted, first_stop))
            })
            .await
            .expect("transact");
        assert_eq!(
            steps,
            (
                vec![
                    SmsClaim::New,
                    SmsClaim::Seen { reply: None },
                    SmsClaim::Seen {
                        reply: Some("<Response/>".into())
                    },
                    SmsClaim::New,
                    SmsClaim::New,
                ],
                vec![false, true, false],
                true
            )
        );
    })
    .await;
}

#[tokio::test]
async fn each_client_counts_its_own_incidents() {
    on_each_store(|store| async move {
        let refs = store
            .transact(|repo| {
                let mut refs = Vec::new();
                for client in ["acme", "globex", "acme", "big_co", "acme"] {
                    let new = crate::incident::NewIncident {
                        client: client.into(),
                        ..new_incident("t")
                    };
                    let id = repo.insert(&new, State::Triggered, at(0))?;
                    refs.push((id, repo.get(id)?.reference));
                }
                Ok(refs)
            })
            .await
            .expect("insert");
        let names: Vec<&str> = refs.iter().map(|(_, r)| r.as_str()).collect();
        assert_eq!(
            names,
            ["ACME-1", "GLOBEX-1", "ACME-2", "BIG-CO-1", "ACME-3"]
        );
        let found = store
            .query(|r| Ok((r.by_reference("ACME", 2)?, r.by_reference("ACME", 4))))
            .await
            .expect("read");
        assert_eq!(found.0, refs[2].0);
        assert!(matches!(found.1, Err(StoreError::NotFound)), "{found:?}");
    })
    .await;
}

type Change = Box<dyn FnOnce(&mut dyn Repo) -> StoreResult<()> + Send>;

/// Each job reads the incident, changes it and reads it again: what it
/// read must be what a fresh reader sees once it committed.
#[tokio::test]
async fn a_job_reads_back_every_change_it_made_to_its_incident() {
    on_each_store(|store| async move {
        // Sub-millisecond instants: the stores keep whole milliseconds.
        let at = |s: i64| {
            chrono::DateTime::from_timestamp(1_800_000_000 + s, 123_456_789).expect("instant")
        };
        let mut new = new_incident("db down");
        new.integration = Some("prom".into());
        new.dedup_key = Some("g1".into());
        new.labels.insert("severity".into(), "critical".into());
        new.annotations
            .insert("runbook".into(), "https://wiki/db".into());
        new.links.push(crate::ingest::alert::Link {
            href: "https://grafana/d/1".into(),
            text: "dashboard".into(),
        });
        new.details = serde_json::json!({"load": 0.1, "hosts": ["db1", "db2"], "n": -3});
        new.started_at = at(-60);
        let (id, inserted) = store
            .transact(move |repo| {
                let id = repo.insert(&new, State::Triggered, at(0))?;
                Ok((id, repo.get(id)?))
            })
            .await
            .expect("insert");
        let mut steps: Vec<(&str, Change)> = vec![
            ("touch when opened", Box::new(move |r| r.touch(id, at(0)))),
            (
                "a new alert",
                Box::new(move |r| {
                    r.find_open("prom", "g1")?.ok_or(StoreError::NotFound)?;
                    r.upsert_alert(id, "fp1", "firing", "s", &Default::default(), at(1))?;
                    Ok(())
                }),
            ),
            ("touch", Box::new(move |r| r.touch(id, at(2)))),
            ("assign", Box::new(move |r| r.set_assignee(id, "alice"))),
        ];
        steps.push((
            "diagnosis",
            Box::new(move |r| {
                let d = Diagnosis {
                    provider_ticket: Some("T-1".into()),
                    ..Default::default()
                };
                r.set_diagnosis(id, &d)
            }),
        ));
        steps.push((
            "acknowledge",
            Box::new(move |r| r.set_state(id, State::Acknowledged, at(3), None)),
        ));
        steps.push(("announce", Box::new(move |r| r.mark_announced(id))));
        steps.push((
            "reading another",
            Box::new(move |r| {
                let other = r.insert(&new_incident("other"), State::Triggered, at(4))?;
                r.get(other).map(drop)
            }),
        ));
        let json = |i: &crate::incident::Incident| serde_json::to_value(i).expect("json");
        let fresh = store.query(move |r| r.get(id)).await.expect("get");
        assert_eq!(json(&inserted), json(&fresh), "after insert");
        for (step, change) in steps {
            let through = store
                .transact(move |repo| {
                    repo.get(id)?;
                    change(repo)?;
                    repo.get(id)
                })
                .await
                .expect(step);
            let fresh = store.query(move |r| r.get(id)).await.expect("get");
            assert_eq!(json(&through), json(&fresh), "after {step}");
        }
        let last = json(&store.query(move |r| r.get(id)).await.expect("get"));
        assert_eq!(
            (
                &last["alert_count"],
                &last["assignee"],
                &last["provider_ticket"],
                &last["state"],
                &last["announced"],
                &last["title"]
            ),
            (
                &1.into(),
                &"alice".into(),
                &"T-1".into(),
                &"acknowledged".into(),
                &true.into(),
                &"db down".into()
            )
        );
    })
    .await;
}

/// A join reads only the open incident's id; a new alert counts and marks
/// the incident seen in one write, and `touch` still marks every later
/// sighting (a repeated alert, another instant in the same job).
#[tokio::test]
async fn joins_count_alerts_and_mark_the_incident_seen() {
    on_each_store(|store| async move {
        let mut new = new_incident("db down");
        new.integration = Some("prom".into());
        new.dedup_key = Some("g1".into());
        let id = store
            .transact(move |repo| repo.insert(&new, State::Triggered, at(0)))
            .await
            .expect("insert");
        let seen = |s: &Store| {
            let s = s.clone();
            async move {
                let i = s.query(move |r| r.get(id)).await.expect("get");
                (i.alert_count, i.last_seen_at)
            }
        };
        let join = |fp: &'static str, alert_at: i64, touch_at: i64| {
            let store = store.clone();
            async move {
                store
                    .transact(move |r| {
                        let found = r.find_open_id("prom", "g1")?;
                        assert_eq!(found, Some(id), "the open incident");
                        r.upsert_alert(id, fp, "firing", "s", &Default::default(), at(alert_at))?;
                        r.touch(id, at(touch_at))
                    })
                    .await
                    .expect("join");
            }
        };
        join("fp1", 5, 5).await;
        assert_eq!(seen(&store).await, (1, at(5)), "a new alert");
        join("fp1", 7, 7).await;
        assert_eq!(seen(&store).await, (1, at(7)), "the same alert again");
        join("fp2", 8, 9).await;
        assert_eq!(seen(&store).await, (2, at(9)), "touched later in the job");
        store
            .transact(move |r| r.set_state(id, State::Resolved, at(10), None))
            .await
            .expect("resolve");
        let found = store
            .transact(|r| r.find_open_id("prom", "g1"))
            .await
            .expect("find");
        assert_eq!(found, None, "a resolved incident is not open");
    })
    .await;
}

/// An alert sent again answers its previous status (which decides the
/// timeline event), and keeps its latest summary and when it was last seen;
/// only a new fingerprint counts.
#[tokio::test]
async fn an_alert_sent_again_answers_its_previous_status() {
    on_each_store(|store| async move {
        let id = store
            .transact(|repo| repo.insert(&new_incident("db down"), State::Triggered, at(0)))
            .await
            .expect("insert");
        let steps = [
            (1, "firing", "s1", None),
            (2, "firing", "s2", Some("firing")),
            (3, "resolved", "s3", Some("firing")),
            (4, "resolved", "s3", Some("resolved")),
            (5, "firing", "s5", Some("resolved")),
        ];
        for (secs, status, summary, previous) in steps {
            let got = store
                .transact(move |r| {
                    r.upsert_alert(id, "fp", status, summary, &Default::default(), at(secs))
                })
                .await
                .expect("upsert");
            assert_eq!(got.as_deref(), previous, "at {secs}: {status}");
            let alerts = store.query(move |r| r.alerts(id)).await.expect("alerts");
            assert_eq!(alerts.len(), 1);
            let a = &alerts[0];
            assert_eq!(
                (
                    a.status.as_str(),
                    a.summary.as_str(),
                    a.first_seen,
                    a.last_seen
                ),
                (status, summary, at(1), at(secs)),
                "at {secs}"
            );
        }
        let count = store
            .query(move |r| r.get(id))
            .await
            .expect("get")
            .alert_count;
        assert_eq!(count, 1);
    })
    .await;
}

/// Whom the client was last told investigates: none at first, kept across
/// transactions, cleared again; an unknown incident is not found.
#[tokio::test]
async fn an_incident_keeps_whom_the_client_was_told_investigates() {
    on_each_store(|store| async move {
        let id = store
            .transact(|repo| {
                let id = repo.insert(&new_incident("db down"), State::Triggered, at(0))?;
                assert_eq!(repo.told_online(id)?, None);
                repo.set_told_online(id, Some("bob"))?;
                Ok(id)
            })
            .await
            .expect("transact");
        let told = store
            .transact(move |repo| {
                let told = repo.told_online(id)?;
                repo.set_told_online(id, Some(""))?;
                Ok((told, repo.told_online(id)?))
            })
            .await
            .expect("transact");
        assert_eq!(told, (Some("bob".to_string()), Some(String::new())));
        let cleared = store
            .transact(move |repo| {
                repo.set_told_online(id, None)?;
                repo.told_online(id)
            })
            .await
            .expect("transact");
        assert_eq!(cleared, None);
        let unknown = store.transact(move |repo| repo.told_online(id + 1)).await;
        assert!(matches!(unknown, Err(StoreError::NotFound)), "{unknown:?}");
    })
    .await;
}

#[tokio::test]
async fn a_job_reads_its_own_timeline_events_in_the_order_it_appended_them() {
    on_each_store(|store| async move {
        let kinds: Vec<String> = (0..19).map(|i| format!("event {i}")).collect();
        let appended = kinds.clone();
        let (id, read) = store
            .transact(move |repo| {
                let id = repo.insert(&new_incident("db down"), State::Triggered, at(0))?;
                for (i, kind) in appended.iter().enumerate() {
                    repo.append(id, at(0), &Actor::System, kind, serde_json::json!({"n": i}))?;
                }
                let read: Vec<String> = repo.timeline(id)?.into_iter().map(|e| e.kind).collect();
                repo.append(id, at(0), &Actor::System, "last", serde_json::json!({}))?;
                Ok((id, read))
            })
            .await
            .expect("transact");
        assert_eq!(read, kinds);
        let stored = store.query(move |r| r.timeline(id)).await.expect("read");
        assert_eq!(stored.len(), 20);
        assert_eq!(stored[19].kind, "last");
    })
    .await;
}

#[tokio::test]
async fn failing_store_reports_unavailable_and_recovers() {
    on_each_store(|store| async move {
        store.ready().await.expect("ready");
        store.set_fail_writes(true);
        let err = store.meta_get_or_insert("secret", "a".into()).await;
        assert!(matches!(err, Err(StoreError::Unavailable(_))), "{err:?}");
        let err = store.transact(|repo| repo.touch(1, at(0))).await;
        assert!(matches!(err, Err(StoreError::Unavailable(_))), "{err:?}");
        assert_eq!(
            store.meta_get("secret").await.expect("read"),
            None,
            "nothing committed"
        );
        assert!(store.ready().await.is_err(), "not ready while writes fail");
        store.ping().await.expect("but alive: no restart helps");
        store.set_fail_writes(false);
        let stored = store.meta_get_or_insert("secret", "b".into()).await;
        assert_eq!(stored.expect("write"), "b");
        let kept = store.meta_get_or_insert("secret", "c".into()).await;
        assert_eq!(kept.expect("write"), "b", "the first value stays");
        store.ready().await.expect("ready again");
    })
    .await;
}

/// Many transactions at once (one batch on SQLite's writer, one lock on
/// PostgreSQL's): the failing ones leave nothing behind, the others commit.
#[tokio::test]
async fn concurrent_failing_transactions_leave_nothing_behind() {
    on_each_store(|store| async move {
        let mut handles = Vec::new();
        for i in 0..50 {
            let store = store.clone();
            handles.push(tokio::spawn(async move {
                store
                    .transact(move |repo| {
                        repo.set_timer(&crate::incident::Timer {
                            kind: "test".into(),
                            key: format!("k{i}"),
                            due: at(i),
                            data: serde_json::json!({}),
                        })?;
                        if i % 10 == 0 {
                            return Err(StoreError::Conflict("refused".into()));
                        }
                        Ok(i)
                    })
                    .await
            }));
        }
        let mut ok = 0;
        for h in handles {
            if h.await.expect("join").is_ok() {
                ok += 1;
            }
        }
        assert_eq!(ok, 45);
        let timers = store.query(|r| r.timers("test")).await.expect("read");
        assert_eq!(timers.len(), 45, "failed jobs leave nothing behind");
    })
    .await;
}

#[tokio::test]
async fn overrides_are_listed_by_schedule_deletion_and_end() {
    use crate::incident::OverrideFilter;
    use crate::routing::NewOverride;
    on_each_store(|store| async move {
        let hour = |h: i64| at(h * 3600);
        let new = move |schedule: &str, to: i64, created: i64| NewOverride {
            schedule: schedule.into(),
            person: "bob".into(),
            from: hour(1),
            to: hour(to),
            reason: None,
            created_by: "bob".into(),
            created_at: hour(created),
        };
        // Inserted out of creation order: the list is by creation.
        let (ids, deleted) = store
            .transact(move |repo| {
                let late = repo.insert_override(&new("pri", 10, 3))?;
                let early = repo.insert_override(&new("pri", 5, 2))?;
                let other = repo.insert_override(&new("sec", 10, 1))?;
                let gone = repo.insert_override(&new("pri", 10, 4))?;
                let deleted = (
                    repo.delete_override(gone, "alice", hour(6))?,
                    repo.delete_override(gone, "alice", hour(7))?,
                );
                Ok(([late, early, other, gone], deleted))
            })
            .await
            .expect("insert");
        let [late, early, other, gone] = ids;
        assert_eq!(deleted, (true, false), "deleted once");
        let pri = OverrideFilter {
            schedule: Some("pri".into()),
            include_deleted: true,
            ending_after: None,
        };
        let live = OverrideFilter::live_after(hour(5));
        let (all, live, pri, gone) = store
            .transact(move |repo| {
                let ids = |v: Vec<crate::routing::StoredOverride>| v.iter().map(|o| o.id).collect();
                let all: Vec<i64> = ids(repo.overrides(&OverrideFilter::default())?);
                let live: Vec<i64> = ids(repo.overrides(&live)?);
                let pri: Vec<i64> = ids(repo.overrides(&pri)?);
                Ok((all, live, pri, repo.override_by_id(gone)?))
            })
            .await
            .expect("list");
        assert_eq!(all, [other, early, late]);
        assert_eq!(live, [other, late]);
        assert_eq!(pri, [early, late, gone.id]);
        assert_eq!(
            (gone.deleted_by.as_deref(), gone.deleted_at),
            (Some("alice"), Some(hour(6)))
        );
        let read = store
            .query(|r| r.overrides(&OverrideFilter::default()))
            .await
            .expect("read");
        assert_eq!(read.iter().map(|o| o.id).collect::<Vec<_>>(), all);
    })
    .await;
}

#[tokio::test]
async fn incidents_are_listed_newest_first_page_by_page() {
    use crate::incident::StateFilter;
    use crate::store::Cursor;
    on_each_store(|store| async move {
        let states = [
            State::Triggered,
            State::Acknowledged,
            State::Resolved,
            State::Triggered,
            State::Downgraded,
            State::Acknowledged,
        ];
        let ids = store
            .transact(move |repo| {
                let mut ids = Vec::new();
                for s in states {
                    ids.push(repo.insert(&new_incident("t"), s, at(0))?);
                }
                Ok(ids)
            })
            .await
            .expect("insert");
        let list = |filter: StateFilter, after: Option<i64>, limit: usize| {
            let store = store.clone();
            async move {
                let found = store
                    .query(move |r| r.list(filter, after.map(Cursor::at), limit))
                    .await
                    .expect("list");
                found.iter().map(|i| i.id).collect::<Vec<_>>()
            }
        };
        let open = [ids[5], ids[3], ids[1], ids[0]];
        assert_eq!(list(StateFilter::Open, None, 10).await, open);
        assert_eq!(list(StateFilter::Open, None, 2).await, open[..2]);
        assert_eq!(list(StateFilter::Open, Some(ids[3]), 2).await, open[2..]);
        let acked = StateFilter::Only(State::Acknowledged);
        assert_eq!(list(acked, Some(ids[5]), 10).await, [ids[1]]);
        let all: Vec<i64> = ids.iter().rev().copied().collect();
        assert_eq!(list(StateFilter::All, None, 10).await, all);
        assert_eq!(list(StateFilter::All, Some(ids[2]), 10).await, all[4..]);
        let mut counts = store.query(|r| r.count_by_state()).await.expect("count");
        counts.sort_by_key(|(s, _)| s.as_str());
        let expected = [
            (State::Acknowledged, 2),
            (State::Downgraded, 1),
            (State::Resolved, 1),
            (State::Triggered, 2),
        ];
        assert_eq!(counts, expected);
    })
    .await;
}
