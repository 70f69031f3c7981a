//! `POST /telnyx/webhook`: every Telnyx event, SMS and calls alike —
//! replies to pages (the grammar of Twilio replies), delivery reports, and
//! the steps of a page call (answered → read the incident and gather a
//! digit → act on it and say what happened → hang up).
//!
//! Every request must carry a valid `telnyx-signature-ed25519` over
//! `telnyx-timestamp|body` from one configured Telnyx account, signed
//! within five minutes; without a Telnyx provider the endpoint does not
//! exist (404). Must not: change anything for a request whose signature
//! fails, act twice on one message id or one digit of a call, or treat a
//! hang-up as an acknowledgement.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::error::ApiError;
use super::twilio::{inbound_sms, keypress};
use crate::app::Shared;
use crate::config::ChannelType;
use crate::incident::OutboxRow;
use crate::notify::message;
use crate::notify::telnyx::TelnyxClient;
use crate::notify::telnyx::webhook::{self, CallState, Event};
use crate::store::StoreError;

const NO_INPUT: &str = "No input received. Goodbye.";

/// `POST /telnyx/webhook`.
pub async fn webhook(
    State(app): State<Shared>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let notifiers = app.notifiers();
    if notifiers.telnyx.is_empty() {
        return Ok(StatusCode::NOT_FOUND.into_response());
    }
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let (at, signature) = (
        header("telnyx-timestamp"),
        header("telnyx-signature-ed25519"),
    );
    let now = app.clock.now().timestamp();
    let Some(client) = notifiers
        .telnyx
        .iter()
        .find(|(key, _)| webhook::verify(key, at, signature, &body, now))
        .map(|(_, client)| client.clone())
    else {
        tracing::warn!("Telnyx webhook refused: bad or stale telnyx-signature-ed25519");
        return Ok((StatusCode::FORBIDDEN, "invalid telnyx-signature-ed25519").into_response());
    };
    // Not an event we read: accepted, so Telnyx does not retry it.
    let event = webhook::parse(&body).unwrap_or(Event::Other);
    match event {
        Event::Inbound { id, from, text } => {
            let bare = |words: Option<&str>| words.unwrap_or_default().to_owned();
            let answered = inbound_sms(&app, &from, &text, Some(id), bare).await?;
            if answered.fresh && !answered.rendered.is_empty() {
                // Telnyx answers nothing in the response: the reply is a
                // message. Sent at once; when that fails it goes through the
                // outbox (retries, the next SMS vendor), so whoever replied
                // still hears that it took.
                if let Err(e) = client.send_sms(&from, &answered.rendered, None).await {
                    tracing::warn!(error = %e, "Telnyx reply failed; queued for a retry");
                    queue_reply(&app, &from, answered.rendered).await?;
                }
            }
        }
        Event::Status {
            id,
            status,
            error_code,
        } => report(&app, id, status, error_code).await?,
        Event::Answered { id, state } => {
            report(&app, id.clone(), "in-progress".into(), None).await?;
            answered(&app, &client, &id, state).await?;
        }
        Event::Gathered { id, digits, state } => {
            gathered(&app, &client, &id, &digits, state).await?
        }
        Event::SpeakEnded { id } => log(client.hangup(&id).await),
        Event::Other => {}
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// An SMS reply that could not be sent at once, queued to the person whose
/// number wrote (nobody's: dropped, as that number gets only a fixed text).
async fn queue_reply(app: &Shared, from: &str, text: String) -> Result<(), ApiError> {
    let roster = app.roster();
    let Some(person) = super::twilio::person_by_phone(&roster, from) else {
        return Ok(());
    };
    let row = OutboxRow::to_person(
        "notice",
        person,
        ChannelType::Sms,
        "tocsin".into(),
        text,
        app.clock.now(),
    );
    app.store
        .transact(move |repo| repo.insert_outbox(&row).map(drop))
        .await?;
    app.outbox_wake.notify_one();
    Ok(())
}

/// A delivery report, down the one path every vendor's reports take.
async fn report(
    app: &Shared,
    id: String,
    status: String,
    code: Option<u32>,
) -> Result<(), ApiError> {
    if status.is_empty() {
        return Ok(());
    }
    crate::outbox::report(app, id, status, code).await?;
    Ok(())
}

/// The callee picked up: read the incident and ask for a digit.
async fn answered(
    app: &Shared,
    client: &TelnyxClient,
    call: &str,
    state: Option<CallState>,
) -> Result<(), ApiError> {
    let Some(state) = state else {
        log(client
            .speak(call, "Sorry, this call does not name an incident. Goodbye.")
            .await);
        return Ok(());
    };
    let id = state.incident;
    let say = match app.store.query(move |r| r.get(id)).await {
        Ok(incident) => {
            let roster = app.roster();
            message::voice(&incident, roster.project_name(&incident.project))
        }
        Err(StoreError::NotFound) => {
            log(client
                .speak(call, &format!("Incident {id} was not found. Goodbye."))
                .await);
            return Ok(());
        }
        Err(e) => return Err(e.into()),
    };
    log(client.gather(call, &say, &state).await);
    Ok(())
}

/// A digit (or none): act once per call and digit, say what happened.
async fn gathered(
    app: &Shared,
    client: &TelnyxClient,
    call: &str,
    digits: &str,
    state: Option<CallState>,
) -> Result<(), ApiError> {
    let on_roster = state
        .filter(|s| app.roster().people.contains_key(&s.person))
        .filter(|_| matches!(digits, "1" | "2" | "3"));
    let Some(state) = on_roster else {
        log(client.speak(call, NO_INPUT).await);
        return Ok(());
    };
    let goodbye = |text: &str| format!("{text} Goodbye.");
    let answered = keypress(
        app,
        state.incident,
        state.person,
        digits,
        Some(call.to_owned()),
        goodbye,
    )
    .await?;
    if answered.fresh {
        log(client.speak(call, &answered.rendered).await);
    }
    Ok(())
}

/// A call command failed: the page's state is stored; say so in the log.
fn log(result: Result<impl Sized, crate::notify::SendError>) {
    if let Err(e) = result {
        tracing::warn!(error = %e, "Telnyx call command or reply failed");
    }
}
