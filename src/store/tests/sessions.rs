//! The web UI's sign-in links and sessions.

use super::{at, on_each_store};
use crate::signin::{NewLink, NewSession};

fn session(hash: &str, person: &str, days: i64) -> NewSession {
    NewSession {
        hash: hash.into(),
        person: person.into(),
        csrf: format!("csrf-{hash}"),
        created_at: at(0),
        expires_at: at(days * 86_400),
    }
}

#[tokio::test]
async fn a_signin_link_opens_one_session_once_before_it_expires() {
    on_each_store(|store| async move {
        for (hash, expires) in [("l1", 600), ("l2", 600), ("old", 60)] {
            let link = NewLink {
                hash: hash.into(),
                person: "bob".into(),
                expires_at: at(expires),
            };
            store.insert_signin_link(link).await.expect("link");
        }
        let live = |now| store.live_signin_links("bob".into(), now);
        assert_eq!(live(at(0)).await.expect("count"), 3);
        assert_eq!(live(at(120)).await.expect("count"), 2, "one expired");
        let redeem = |link: &str, now| {
            // The link says who: the session's own person is ignored.
            store.redeem_signin_link(link.into(), session("s1", "mallory", 1), now)
        };
        let opened = redeem("l1", at(10)).await.expect("redeem").expect("opened");
        assert_eq!(
            (opened.person.as_str(), opened.csrf.as_str()),
            ("bob", "csrf-s1")
        );
        assert!(
            redeem("l1", at(11)).await.expect("redeem").is_none(),
            "used"
        );
        assert!(
            redeem("old", at(120)).await.expect("redeem").is_none(),
            "expired"
        );
        assert!(
            redeem("nope", at(10)).await.expect("redeem").is_none(),
            "unknown"
        );
        assert_eq!(live(at(120)).await.expect("count"), 1);
        let found = store.session("s1".into(), at(20)).await.expect("read");
        assert_eq!(found, Some(opened));
    })
    .await;
}

#[tokio::test]
async fn sessions_are_listed_revoked_and_expire() {
    on_each_store(|store| async move {
        let a = store
            .open_session(session("a", "bob", 1))
            .await
            .expect("open");
        let b = store
            .open_session(session("b", "bob", 2))
            .await
            .expect("open");
        let c = store
            .open_session(session("c", "carol", 1))
            .await
            .expect("open");
        let ids = |person: &str, now| {
            let person = person.to_string();
            let store = store.clone();
            async move {
                let live = store.sessions_of(person, now).await.expect("list");
                live.iter().map(|s| s.id).collect::<Vec<_>>()
            }
        };
        assert_eq!(ids("bob", at(10)).await, [b.id, a.id], "newest first");
        assert_eq!(ids("bob", at(86_400)).await, [b.id], "a expired");
        let revoke = |person: &str, id| store.revoke_session(person.into(), id, at(20));
        assert!(!revoke("bob", c.id).await.expect("revoke"), "not bob's");
        assert!(revoke("bob", a.id).await.expect("revoke"));
        assert!(!revoke("bob", a.id).await.expect("revoke"), "already");
        assert_eq!(store.session("a".into(), at(30)).await.expect("read"), None);
        assert_eq!(ids("carol", at(30)).await, [c.id]);
        let ended = store.revoke_sessions_of("bob".into(), at(40)).await;
        assert_eq!(ended.expect("revoke all"), 1);
        assert_eq!(ids("bob", at(50)).await, Vec::<i64>::new());
        assert!(
            store
                .session("c".into(), at(50))
                .await
                .expect("read")
                .is_some()
        );
    })
    .await;
}

#[tokio::test]
async fn the_change_mark_grows_with_every_timeline_event() {
    use crate::incident::{Actor, State};
    on_each_store(|store| async move {
        let before = store.change_mark().await.expect("mark");
        store
            .transact(|repo| {
                let id = repo.insert(&super::new_incident("x"), State::Triggered, at(0))?;
                repo.append(id, at(0), &Actor::System, "opened", serde_json::json!({}))
            })
            .await
            .expect("write");
        assert!(store.change_mark().await.expect("mark") > before);
    })
    .await;
}
