//! The "Me" page: my contact channels, my notify ladder (set here as with
//! `PUT /api/v1/people/{id}/notify`, checked by `oncall::selfservice`), and
//! my sessions (sign one out, or all of them).

use askama::Template;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::{Chrome, Posted, Viewer, WebError, When, render};
use crate::app::Shared;
use crate::config::{ChannelType, NotifyRule, Person};
use crate::duration::Span;
use crate::oncall::selfservice;

/// How many rungs the form offers.
const RUNGS: usize = 4;

fn channel_name(c: ChannelType) -> String {
    serde_json::to_value(c)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// One channel box of a rung.
struct Via {
    channel: String,
    on: bool,
}

/// One rung row of the form.
struct Rung {
    index: usize,
    /// Each channel the person has, ticked when the rung uses it.
    via: Vec<Via>,
    after: String,
}

struct SessionRow {
    id: i64,
    started: When,
    expires: When,
    current: bool,
}

#[derive(Template)]
#[template(path = "me.html")]
struct MePage {
    chrome: Chrome,
    /// (channel, address).
    channels: Vec<(String, String)>,
    /// Whether the ladder in force was set here (else the configuration's).
    own_rules: bool,
    rungs: Vec<Rung>,
    sessions: Vec<SessionRow>,
}

fn rungs(p: &Person, rules: &[NotifyRule]) -> Vec<Rung> {
    let have: Vec<ChannelType> = p.channels.clone();
    (0..RUNGS)
        .map(|index| {
            let rule = rules.get(index);
            Rung {
                index,
                via: have
                    .iter()
                    .map(|c| Via {
                        channel: channel_name(*c),
                        on: rule.is_some_and(|r| r.via.contains(c)),
                    })
                    .collect(),
                after: rule.map_or(String::new(), |r| {
                    if r.after_secs == 0 {
                        "0s".into()
                    } else {
                        Span::from_secs(r.after_secs).to_string()
                    }
                }),
            }
        })
        .collect()
}

/// `GET /me`.
pub async fn show(State(app): State<Shared>, viewer: Viewer) -> Response {
    let now = app.clock.now();
    let id = viewer.person.id.clone();
    let read = async {
        let own = app
            .store
            .query({
                let id = id.clone();
                move |r| Ok(r.all_notify_rules()?.remove(&id))
            })
            .await?;
        let sessions = app.store.sessions_of(id, now).await?;
        Ok::<_, WebError>((own, sessions))
    };
    let (own, sessions) = match read.await {
        Ok(x) => x,
        Err(e) => return e.into_response(),
    };
    let p = &viewer.person;
    let tz = p.timezone;
    let rules = own.as_deref().unwrap_or(&p.notify);
    render(&MePage {
        chrome: Chrome::new("Me", "/me", &viewer),
        channels: p
            .channels
            .iter()
            .map(|c| {
                (
                    channel_name(*c),
                    p.address(*c).unwrap_or_default().to_string(),
                )
            })
            .collect(),
        own_rules: own.is_some(),
        rungs: rungs(p, rules),
        sessions: sessions
            .iter()
            .map(|s| SessionRow {
                id: s.id,
                started: When::new(s.created_at, tz, now),
                expires: When::new(s.expires_at, tz, now),
                current: s.id == viewer.session.id,
            })
            .collect(),
    })
}

/// `POST /me/notify`: `via0=sms&via0=voice&after0=0s&via1=…`; rungs
/// without a channel are left out; `action=reset` goes back to the
/// configuration's ladder.
pub async fn notify(State(app): State<Shared>, posted: Posted<Vec<(String, String)>>) -> Response {
    match set_notify(&app, posted.viewer, posted.form).await {
        Ok(()) => Redirect::to("/me#notify").into_response(),
        Err(e) => e.into_response(),
    }
}

async fn set_notify(
    app: &Shared,
    viewer: Viewer,
    form: Vec<(String, String)>,
) -> Result<(), WebError> {
    let reset = form.iter().any(|(k, v)| k == "action" && v == "reset");
    let field = |key: String| {
        form.iter()
            .filter(move |(k, _)| *k == key)
            .map(|(_, v)| v.clone())
    };
    let rungs: Vec<(Vec<String>, Option<String>)> = (0..RUNGS)
        .map(|i| {
            let via: Vec<String> = field(format!("via{i}")).collect();
            let after = field(format!("after{i}"))
                .next()
                .filter(|a| !a.trim().is_empty());
            (via, after)
        })
        .filter(|(via, _)| !via.is_empty())
        .collect();
    let rules = if reset {
        None
    } else {
        Some(selfservice::ladder(&viewer.person, &rungs)?)
    };
    let (target, now) = (viewer.person.id.clone(), app.clock.now());
    let by = target.clone();
    app.store
        .transact(move |repo| repo.set_notify_rules(&target, rules.as_deref(), &by, now))
        .await?;
    Ok(())
}

#[derive(Debug, Deserialize)]
pub struct RevokeForm {}

/// `POST /me/sessions/{id}/revoke`: signs that session out (only one of
/// mine; another's id changes nothing).
pub async fn revoke(
    State(app): State<Shared>,
    Path(id): Path<i64>,
    posted: Posted<RevokeForm>,
) -> Response {
    let (person, now) = (posted.viewer.person.id, app.clock.now());
    match app.store.revoke_session(person, id, now).await {
        Ok(_) => Redirect::to("/me#sessions").into_response(),
        Err(e) => WebError::from(e).into_response(),
    }
}
