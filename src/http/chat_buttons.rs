//! Buttons on chat messages: `POST /slack/interactions` (request signing
//! v0), `POST /mattermost/actions` (a signed context per button) and
//! `POST /telegram/webhook` (the webhook's secret token). Each click is
//! mapped to a person by `slack_id`, `mattermost_id` or `telegram_id`, acts
//! through the same domain calls as the API (`paging::act`, escalate), and
//! updates the message with who did what; the clicker alone hears a refusal.
//!
//! Must not: change anything for a request that fails its check, act for a
//! platform user not on the roster, or escalate twice for one person's
//! clicks on one message (acknowledge and resolve are idempotent already:
//! a repeated click answers "already acknowledged by …").

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::error::ApiError;
use crate::app::Shared;
use crate::config::{Channel, ChannelKind, Roster};
use crate::escalation::paging;
use crate::incident::apply::ActError;
use crate::incident::transition::Action as Transition;
use crate::incident::{Actor, SmsClaim, State as IncidentState};
use crate::notify::Action;
use crate::notify::chat::{self, ChatKind};
use crate::notify::interactive::{self, Click, Refusal, mattermost, slack, telegram};
use crate::notify::notifier::chat_kind;

/// What a click came to.
enum Outcome {
    /// It changed the incident: the message gains `line` and keeps the
    /// buttons that still apply.
    Done { line: String, buttons: Vec<Action> },
    /// Nothing changed; tell the clicker only.
    Told(String),
}

/// Every chat channel of the running configuration: the on-call chat, then
/// each client's.
fn channels(roster: &Roster) -> impl Iterator<Item = &Channel> {
    std::iter::once(&roster.providers.chat).chain(roster.clients.values().map(|c| &c.channel))
}

/// The channels whose callbacks `secret` checks, with that secret.
fn keyed<'r>(
    roster: &'r Roster,
    secret: impl Fn(&'r Channel) -> Option<&'r crate::config::Secret>,
) -> (Vec<&'r Channel>, Vec<&'r [u8]>) {
    channels(roster)
        .filter_map(|c| secret(c).map(|s| (c, s.expose().as_bytes())))
        .unzip()
}

fn refused(platform: &str, why: Refusal) -> Response {
    tracing::warn!(platform, %why, "chat button refused");
    let status = match why {
        Refusal::Unsigned | Refusal::BadSignature => StatusCode::UNAUTHORIZED,
        Refusal::Stale => StatusCode::FORBIDDEN,
    };
    (status, Json(json!({"error": why.to_string()}))).into_response()
}

/// `POST /slack/interactions`: a click on a Slack app's button.
pub async fn slack(State(app): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let roster = app.roster();
    let (apps, secrets) = keyed(&roster, |c| {
        let app = c.kind == ChannelKind::Slack && c.bot_token.is_some();
        c.signing_secret.as_ref().filter(|_| app)
    });
    if apps.is_empty() {
        return StatusCode::NOT_FOUND.into_response();
    }
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let found = slack::verify(
        &secrets,
        header("x-slack-request-timestamp"),
        header("x-slack-signature"),
        &body,
        app.clock.now(),
    );
    let which = match found {
        Ok(i) => apps[i],
        Err(why) => return refused("slack", why),
    };
    // Another interaction (a shortcut, a modal): nothing of ours.
    let (Some(click), Some((kind, _, base))) = (slack::parse(&body), chat_kind(which)) else {
        return StatusCode::OK.into_response();
    };
    let person = person_of(&roster, &click.user, |p| p.chat_ids.slack.as_deref());
    let outcome = match click_outcome(&app, person, &click, "slack").await {
        Ok(o) => o,
        Err(e) => return e.into_response(),
    };
    slack_answer(&app, &kind, &base, &click, outcome).await;
    StatusCode::OK.into_response()
}

/// Updates the clicked message with `chat.update`, or tells the clicker
/// alone through the click's `response_url`.
async fn slack_answer(app: &Shared, kind: &ChatKind, base: &str, click: &Click, outcome: Outcome) {
    let sent = match outcome {
        Outcome::Done { line, buttons } => {
            let text = format!("{}\n{line}", click.message.text);
            let update = slack::message(
                &click.message.channel,
                Some(&click.message.id),
                &text,
                Some(&click.incident),
                &buttons,
            );
            chat::call(app.http(), kind, base, "chat.update", &update).await
        }
        Outcome::Told(words) => {
            let url = &click.message.reply_to;
            chat::call(app.http(), kind, url, "", &slack::ephemeral(&words)).await
        }
    };
    if let Err(e) = sent {
        tracing::warn!(error = %e, "cannot update the Slack message");
    }
}

/// `POST /mattermost/actions`: a click on a Mattermost button; the answer
/// updates the post.
pub async fn mattermost(State(app): State<Shared>, body: Bytes) -> Response {
    let roster = app.roster();
    if !channels(&roster).any(|c| c.kind == ChannelKind::Mattermost && c.buttons) {
        return StatusCode::NOT_FOUND.into_response();
    }
    let click = match mattermost::parse(app.link_secret(), &body) {
        Ok(c) => c,
        Err(why) => return refused("mattermost", why),
    };
    let person = person_of(&roster, &click.user, |p| p.chat_ids.mattermost.as_deref());
    let answer = match click_outcome(&app, person, &click, "mattermost").await {
        Ok(Outcome::Done { line, buttons }) => {
            let url = format!(
                "{}/mattermost/actions",
                super::public_base(&roster.server.public_url)
            );
            mattermost::update(app.link_secret(), &url, &click, &line, &buttons)
        }
        Ok(Outcome::Told(words)) => mattermost::ephemeral(&words),
        Err(e) => return e.into_response(),
    };
    Json(answer).into_response()
}

/// `POST /telegram/webhook`: an update from a Telegram bot; only button
/// clicks (`callback_query`) do anything.
pub async fn telegram(State(app): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let roster = app.roster();
    let (bots, secrets) = keyed(&roster, |c| {
        let bot = c.kind == ChannelKind::Telegram;
        c.webhook_secret.as_ref().filter(|_| bot)
    });
    if bots.is_empty() {
        return StatusCode::NOT_FOUND.into_response();
    }
    let given = headers
        .get(telegram::SECRET_HEADER)
        .and_then(|v| v.to_str().ok());
    let which = match telegram::verify(&secrets, given) {
        Ok(i) => bots[i],
        Err(why) => return refused("telegram", why),
    };
    let (Some(click), Some((kind, _, base))) = (telegram::parse(&body), chat_kind(which)) else {
        return StatusCode::OK.into_response();
    };
    let person = person_of(&roster, &click.user, |p| p.chat_ids.telegram.as_deref());
    let outcome = match click_outcome(&app, person, &click, "telegram").await {
        Ok(o) => o,
        Err(e) => return e.into_response(),
    };
    telegram_answer(&app, &kind, &base, &click, outcome).await;
    StatusCode::OK.into_response()
}

/// Tells the clicker with `answerCallbackQuery` and, when the click changed
/// the incident, edits the message with `editMessageText`.
async fn telegram_answer(
    app: &Shared,
    kind: &ChatKind,
    base: &str,
    click: &Click,
    outcome: Outcome,
) {
    let (note, edit) = match outcome {
        Outcome::Done { line, buttons } => {
            let edit = telegram::edit(click, &line, &buttons);
            (line, Some(edit))
        }
        Outcome::Told(words) => (words, None),
    };
    let http = app.http();
    let answer = telegram::answer(click, &note);
    let mut sent = chat::call(http, kind, base, "answerCallbackQuery", &answer).await;
    if let Some(edit) = edit {
        sent = sent.and(chat::call(http, kind, base, "editMessageText", &edit).await);
    }
    if let Err(e) = sent {
        tracing::warn!(error = %e, "cannot answer the Telegram click");
    }
}

/// The person whose platform id (read by `id_of`) is `user`.
fn person_of(
    roster: &Roster,
    user: &str,
    id_of: impl Fn(&crate::config::Person) -> Option<&str>,
) -> Option<String> {
    roster
        .people
        .values()
        .find(|p| id_of(p) == Some(user))
        .map(|p| p.id.clone())
}

fn name_of(roster: &Roster, id: &str) -> String {
    crate::followup::channel::person_name(roster, id).to_string()
}

/// Acts on a click as `person` (`None`: not on the roster).
async fn click_outcome(
    app: &Shared,
    person: Option<String>,
    click: &Click,
    via: &'static str,
) -> Result<Outcome, ApiError> {
    let platform = match via {
        "slack" => "Slack",
        "mattermost" => "Mattermost",
        _ => "Telegram",
    };
    let Some(person) = person else {
        tracing::info!(via, user = %click.user, "button click from a user not on the roster");
        return Ok(Outcome::Told(interactive::unknown_user(platform)));
    };
    let roster = app.roster();
    let name = name_of(&roster, &person);
    let id = match clicked_incident(app, click).await? {
        Ok(id) => id,
        Err(told) => return Ok(told),
    };
    let transition = match click.action {
        Action::Ack => Transition::Acknowledge,
        Action::Resolve => Transition::Resolve,
        Action::Escalate => return escalate_once(app, person, &name, click, via).await,
    };
    let result = app
        .transact_paging(move |repo, ctx| {
            let actor = Actor::Person(person);
            ActError::in_job(paging::act(
                repo,
                ctx,
                id,
                transition,
                &actor,
                via,
                json!({}),
            ))
        })
        .await?;
    let verb = interactive::past(click.action);
    Ok(match result {
        Ok((incident, true)) => {
            app.after_action(id);
            Outcome::Done {
                line: interactive::done_line(click.action, &name),
                buttons: interactive::buttons(incident.state),
            }
        }
        Ok((incident, false)) => Outcome::Told(match incident.assignee {
            Some(who) => format!("Already {verb} by {}.", name_of(&roster, &who)),
            None => format!("Already {verb}."),
        }),
        Err(ActError::NotFound) => Outcome::Told(format!("Incident {id} not found.")),
        // Resolving a resolved incident is no transition, but a repeat all the same.
        Err(ActError::Illegal(IncidentState::Resolved)) if click.action == Action::Resolve => {
            Outcome::Told("Already resolved.".into())
        }
        Err(ActError::Illegal(state)) => Outcome::Told(illegal(state, verb)),
        Err(ActError::NobodyLeft) => Outcome::Told(ActError::nobody_left(id)),
        Err(ActError::Store(e)) => return Err(e.into()),
    })
}

/// The number of the incident a button names (a number on a page, the
/// client's reference on a client's channel), or what to tell the clicker.
async fn clicked_incident(app: &Shared, click: &Click) -> Result<Result<i64, Outcome>, ApiError> {
    match super::incidents::incident_id(app, &click.incident).await {
        Ok(id) => Ok(Ok(id)),
        Err(ApiError::NotFound(_) | ApiError::BadRequest { .. }) => Ok(Err(Outcome::Told(
            format!("Incident {} not found.", click.incident),
        ))),
        Err(e) => Err(e),
    }
}

fn illegal(state: IncidentState, verb: &str) -> String {
    format!("The incident is {state}, so it cannot be {verb}.")
}

/// Escalates once per person and message: a second click (or a replay)
/// answers that it was done and changes nothing.
async fn escalate_once(
    app: &Shared,
    person: String,
    name: &str,
    click: &Click,
    via: &'static str,
) -> Result<Outcome, ApiError> {
    let id = match clicked_incident(app, click).await? {
        Ok(id) => id,
        Err(told) => return Ok(told),
    };
    let key = format!(
        "{via}:{}:{}:{person}:escalate",
        click.message.channel, click.message.id
    );
    let (claim_key, who) = (key.clone(), person.clone());
    let claim = app
        .transact_paging(move |repo, ctx| repo.claim_sms(&claim_key, &who, ctx.now))
        .await?;
    if let SmsClaim::Seen { .. } = claim {
        return Ok(Outcome::Told("You already escalated this.".into()));
    }
    let escalated = super::escalate::escalate(app.clone(), id, person, via, None).await;
    let told = match escalated {
        Ok(_) => None,
        Err(ApiError::NotFound(_)) => Some(format!("Incident {id} not found.")),
        Err(ApiError::IllegalTransition { state, .. }) => Some(format!(
            "The incident is {state}, so it cannot be escalated."
        )),
        Err(ApiError::Conflict(reason)) => Some(reason),
        Err(other) => {
            // Nothing happened: a new click may try again.
            let _ = app.store.transact(move |r| r.release_sms(&key)).await;
            return Err(other);
        }
    };
    if let Some(words) = told {
        let _ = app.store.transact(move |r| r.release_sms(&key)).await;
        return Ok(Outcome::Told(words));
    }
    let state = app.store.query(move |r| r.get(id)).await?.state;
    Ok(Outcome::Done {
        line: interactive::done_line(Action::Escalate, name),
        buttons: interactive::buttons(state),
    })
}
