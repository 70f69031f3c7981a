//! Twilio webhooks: `POST /twilio/sms` (replies to pages: `ack 42`, STOP…)
//! and `POST /twilio/voice` (the call's TwiML and its keypad digit).
//!
//! Every request must carry a valid `X-Twilio-Signature` computed over
//! `server.public_url` + the path and query as received ([`SignedForm`]);
//! without a Twilio provider the endpoints do not exist (404).
//!
//! Must not: trust the request's Host or scheme, change anything for a
//! request whose signature fails, act twice on one `MessageSid` or on one
//! keypress of a call (`CallSid`, digit), or act on a call without a keypad
//! digit (a `completed` call is no acknowledgement).

use axum::extract::{FromRequest, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::error::ApiError;
use crate::app::Shared;
use crate::config::{Person, Provider, Roster};
use crate::escalation::paging::{self, Ctx};
use crate::incident::transition::Action;
use crate::incident::{Actor, Repo, SmsClaim};
use crate::notify::reply::{self, Reply};
use crate::notify::{message, twilio_sig, twiml};
use crate::store::{StoreError, StoreResult};

/// A form POST from Twilio whose signature checked out.
pub struct SignedForm {
    /// The URL the signature covers: public URL + path + `?query`.
    pub url: String,
    /// The decoded query parameters (covered by the signature too).
    pub query: Vec<(String, String)>,
    /// The decoded form fields, duplicates kept, in order.
    pub params: Vec<(String, String)>,
}

impl SignedForm {
    /// The first form field called `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        first(&self.params, name)
    }

    /// The first query parameter called `name`.
    pub fn query(&self, name: &str) -> Option<&str> {
        first(&self.query, name)
    }
}

fn first<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// The auth tokens (primary, then secondary) of every Twilio account in
/// the SMS and voice lists: a webhook from any of them is accepted.
fn auth_tokens(roster: &Roster) -> Option<Vec<&str>> {
    let mut tokens = Vec::new();
    let accounts = roster.providers.sms.iter().chain(&roster.providers.voice);
    for p in accounts {
        if let Provider::Twilio(t) = p {
            tokens.push(t.auth_token.expose());
            tokens.extend(t.auth_token_secondary.as_ref().map(|s| s.expose()));
        }
    }
    (!tokens.is_empty()).then_some(tokens)
}

fn pairs(bytes: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(bytes).into_owned().collect()
}

impl FromRequest<Shared> for SignedForm {
    type Rejection = Response;

    async fn from_request(req: Request, app: &Shared) -> Result<Self, Response> {
        let roster = app.roster();
        let Some(tokens) = auth_tokens(&roster) else {
            return Err(StatusCode::NOT_FOUND.into_response());
        };
        let uri = req.uri().clone();
        let mut url = format!(
            "{}{}",
            super::public_base(&roster.server.public_url),
            uri.path()
        );
        if let Some(q) = uri.query() {
            url.push('?');
            url.push_str(q);
        }
        let header = req
            .headers()
            .get("x-twilio-signature")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = axum::body::Bytes::from_request(req, app)
            .await
            .map_err(IntoResponse::into_response)?;
        let params = pairs(&body);
        if !twilio_sig::validate(&tokens, &url, &params, header.as_deref()) {
            app.metrics.twilio_signature_failure();
            tracing::warn!(
                path = uri.path(),
                "Twilio webhook refused: bad X-Twilio-Signature"
            );
            return Err((StatusCode::FORBIDDEN, "invalid X-Twilio-Signature").into_response());
        }
        Ok(SignedForm {
            query: pairs(uri.query().unwrap_or("").as_bytes()),
            url,
            params,
        })
    }
}

fn xml(body: String) -> Response {
    let mut headers = HeaderMap::new();
    headers.insert(
        CONTENT_TYPE,
        axum::http::HeaderValue::from_static(twiml::CONTENT_TYPE),
    );
    (headers, body).into_response()
}

const NOT_ON_ROSTER: &str = "This number is not on the tocsin roster.";
const HELP: &str = "tocsin: reply ack 42 (or a42, 42) to acknowledge, res 42 (r42) to resolve, \
esc 42 to escalate; a bare ack works when one incident is paged to you. STOP ends SMS pages.";

/// What an SMS or a keypress asks for once its target incident is known.
enum Step {
    /// Answer with these words (`None`: nothing to say); `changed` names
    /// an incident that changed.
    Answer {
        words: Option<String>,
        changed: Option<i64>,
    },
    /// A repeated delivery: answer what was answered the first time.
    Repeat(Option<String>),
    /// Escalate this incident (outside the transaction), then answer.
    Escalate(i64),
}

fn answer(text: &str) -> Step {
    Step::Answer {
        words: Some(text.to_owned()),
        changed: None,
    }
}

/// What a vendor's webhook answers an SMS or a keypress with: `rendered`
/// (TwiML for Twilio; the bare words for vendors that reply by a new
/// message), and whether this delivery was the first (a redelivery gets
/// the first answer again and changes nothing).
pub(super) struct Answered {
    pub rendered: String,
    pub fresh: bool,
}

/// The person whose phone `from` is (surrounding spaces aside).
pub(super) fn person_by_phone<'r>(roster: &'r Roster, from: &str) -> Option<&'r Person> {
    let from = from.trim();
    roster
        .people
        .values()
        .find(|p| p.phone.as_deref() == Some(from))
}

/// Renders an answer's words for Twilio: a reply SMS, or none.
fn twiml_reply(words: Option<&str>) -> String {
    words.map_or_else(twiml::empty, twiml::message)
}

/// `POST /twilio/sms`: a reply from a person on the roster.
pub async fn sms(State(app): State<Shared>, form: SignedForm) -> Result<Response, ApiError> {
    let from = form.get("From").unwrap_or("").trim().to_owned();
    let sid = form.get("MessageSid").map(str::to_owned);
    let body = form.get("Body").unwrap_or("");
    let answered = inbound_sms(&app, &from, body, sid, twiml_reply).await?;
    Ok(xml(answered.rendered))
}

/// An SMS from `from` through any vendor: the reply grammar, acted on once
/// per message id `sid`; `render` turns the words into the vendor's answer,
/// which is also what a redelivery gets.
pub(super) async fn inbound_sms(
    app: &Shared,
    from: &str,
    body: &str,
    sid: Option<String>,
    render: fn(Option<&str>) -> String,
) -> Result<Answered, ApiError> {
    let roster = app.roster();
    let from = from.trim().to_owned();
    let Some(person) = person_by_phone(&roster, &from).map(|p| p.id.clone()) else {
        tracing::info!(from, "SMS from a number not on the roster");
        return Ok(Answered {
            rendered: render(Some(NOT_ON_ROSTER)),
            fresh: true,
        });
    };
    let parsed = reply::parse(body);
    let (who, sid_) = (person.clone(), sid.clone());
    let step = app
        .transact_paging(move |repo, ctx| {
            if let Some(sid) = &sid_
                && let SmsClaim::Seen { reply } = repo.claim_sms(sid, &who, ctx.now)?
            {
                return Ok(Step::Repeat(reply));
            }
            let step = decide(repo, &who, &from, parsed, ctx)?;
            if let (Some(sid), Step::Answer { words, .. }) = (&sid_, &step) {
                repo.set_sms_reply(sid, &render(words.as_deref()))?;
            }
            Ok(step)
        })
        .await?;
    match step {
        Step::Repeat(reply) => Ok(Answered {
            rendered: reply.unwrap_or_else(|| render(None)),
            fresh: false,
        }),
        Step::Answer { words, changed } => {
            if matches!(parsed, Reply::OptOut | Reply::OptIn) {
                app.outbox_wake.notify_one();
            }
            if parsed == Reply::OptOut {
                // The integrator tells the roster owner; the log says it at once.
                tracing::warn!(person, "person {person} opted out of SMS");
            }
            if let Some(id) = changed {
                app.after_action(id);
            }
            Ok(Answered {
                rendered: render(words.as_deref()),
                fresh: true,
            })
        }
        Step::Escalate(id) => {
            let rendered =
                escalate_claimed(app, id, person, "sms", sid, |w| render(Some(w))).await?;
            Ok(Answered {
                rendered,
                fresh: true,
            })
        }
    }
}

/// The roster owners (admins) hear that a person blocked or unblocked SMS.
fn tell_admins_about_opt_out(
    repo: &mut dyn Repo,
    ctx: &Ctx<'_>,
    person: &str,
    stopped: bool,
) -> StoreResult<()> {
    let text = if stopped {
        format!(
            "tocsin: {person} replied STOP: SMS pages to them are blocked until they reply START; their pages fall back to other channels."
        )
    } else {
        format!("tocsin: {person} replied START: SMS pages reach them again.")
    };
    for admin in &ctx.roster.server.admins {
        let Some(p) = ctx.roster.people.get(admin) else {
            continue;
        };
        let Some(&channel) = p.channels.iter().find(|c| {
            !matches!(
                c,
                crate::config::ChannelType::Voice | crate::config::ChannelType::Sms
            )
        }) else {
            continue;
        };
        let subject = "tocsin: SMS opt-out".to_string();
        let row = crate::incident::OutboxRow::to_person(
            "notice",
            p,
            channel,
            subject,
            text.clone(),
            ctx.now,
        );
        repo.insert_outbox(&row)?;
    }
    Ok(())
}

/// Everything an SMS does inside the store transaction.
fn decide(
    repo: &mut dyn Repo,
    person: &str,
    phone: &str,
    parsed: Reply,
    ctx: &Ctx<'_>,
) -> StoreResult<Step> {
    let now = ctx.now;
    let (action, number) = match parsed {
        Reply::OptOut | Reply::OptIn => {
            let at = (parsed == Reply::OptOut).then_some(now);
            repo.set_sms_opt_out(person, phone, at)?;
            tell_admins_about_opt_out(repo, ctx, person, at.is_some())?;
            // The vendor itself answers STOP and START.
            return Ok(Step::Answer {
                words: None,
                changed: None,
            });
        }
        Reply::Help => return Ok(answer(HELP)),
        Reply::Unknown => return Ok(answer(&format!("Sorry, that was not understood. {HELP}"))),
        Reply::Command { action, incident } => (action, incident),
    };
    let id = match number {
        Some(n) => match i64::try_from(n) {
            Ok(id) => id,
            Err(_) => return Ok(answer(&format!("Incident {n} not found."))),
        },
        None => match bare_candidates(repo, person, action)?.as_slice() {
            [one] => *one,
            [] => {
                return Ok(answer(
                    "No open incident is paged to you. Reply with its number, e.g. ack 42.",
                ));
            }
            many => {
                let list: Vec<String> = many.iter().map(i64::to_string).collect();
                return Ok(answer(&format!(
                    "Several incidents are paged to you: {}. Reply with the number, e.g. ack {}.",
                    list.join(", "),
                    many[0]
                )));
            }
        },
    };
    let action = match action {
        crate::notify::Action::Ack => Action::Acknowledge,
        crate::notify::Action::Resolve => Action::Resolve,
        crate::notify::Action::Escalate => return Ok(Step::Escalate(id)),
    };
    let actor = Actor::Person(person.to_owned());
    let result = paging::act(repo, ctx, id, action, &actor, "sms", json!({}));
    let changed = matches!(result, Ok((_, true))).then_some(id);
    let mut text = message::outcome_words(ctx.roster, id, action, result)?;
    if changed.is_some() && action == Action::Acknowledge {
        text.push_str(&format!(" Reply res {id} when fixed."));
    }
    Ok(Step::Answer {
        words: Some(text),
        changed,
    })
}

/// The incidents a reply without a number may mean: those paged to
/// `person` that still page, or that they hold (acknowledged by them). One
/// acknowledged by someone else is not theirs to resolve or escalate, nor
/// to list. A bare `ack` means one that still pages, if any does.
fn bare_candidates(
    repo: &mut dyn Repo,
    person: &str,
    action: crate::notify::Action,
) -> StoreResult<Vec<i64>> {
    let mut mine = Vec::new();
    for id in repo.paged_to(person)? {
        let inc = repo.get(id)?;
        let paging = inc.state == crate::incident::State::Triggered;
        if paging || inc.assignee.as_deref() == Some(person) {
            mine.push((id, paging));
        }
    }
    let paging: Vec<i64> = mine.iter().filter(|m| m.1).map(|m| m.0).collect();
    Ok(match action {
        crate::notify::Action::Ack if !paging.is_empty() => paging,
        _ => mine.into_iter().map(|m| m.0).collect(),
    })
}

/// What escalating answered, for every channel; `Err` when nothing was stored.
pub(super) async fn escalate_words(
    app: &Shared,
    id: i64,
    person: String,
    via: &'static str,
) -> Result<String, ApiError> {
    match super::escalate::escalate(app.clone(), id, person, via, None).await {
        Ok(_) => {
            app.after_action(id);
            Ok(message::escalated_words(id))
        }
        Err(ApiError::NotFound(_)) => Ok(format!("Incident {id} not found.")),
        Err(ApiError::IllegalTransition { state, .. }) => Ok(format!(
            "Incident {id} is {state}, so it cannot be escalated."
        )),
        Err(ApiError::Conflict(reason)) => Ok(reason),
        Err(other) => Err(other),
    }
}

/// Escalates for a claimed inbound message (`claim`: its key in the table
/// of handled webhooks) and answers `render(words)`; the answer is stored for
/// redeliveries, and a failure releases the claim so that a redelivery acts.
async fn escalate_claimed(
    app: &Shared,
    id: i64,
    person: String,
    via: &'static str,
    claim: Option<String>,
    render: impl Fn(&str) -> String,
) -> Result<String, ApiError> {
    let words = escalate_words(app, id, person, via).await;
    let text = match words {
        Ok(text) => text,
        Err(e) => {
            // Nothing happened: let the vendor's redelivery act.
            if let Some(key) = claim {
                let _ = app.store.transact(move |r| r.release_sms(&key)).await;
            }
            return Err(e);
        }
    };
    let reply = render(&text);
    if let Some(key) = claim {
        let stored = reply.clone();
        if let Err(e) = app
            .store
            .transact(move |r| r.set_sms_reply(&key, &stored))
            .await
        {
            tracing::error!(error = %e, incident = id, "cannot store the answer to a webhook");
        }
    }
    Ok(reply)
}

/// `POST /twilio/voice?incident=N&person=ID`: reads the incident and gathers
/// one digit; with `Digits` 1/2/3 acknowledges, escalates or resolves.
pub async fn voice(State(app): State<Shared>, form: SignedForm) -> Result<Response, ApiError> {
    let id = form
        .query("incident")
        .and_then(|n| n.parse::<i64>().ok())
        .filter(|n| *n > 0);
    let person = form
        .query("person")
        .filter(|p| app.roster().people.contains_key(*p))
        .map(str::to_owned);
    let (Some(id), Some(person)) = (id, person) else {
        return Ok(xml(twiml::say_and_hangup(
            "Sorry, this call does not name an incident. Goodbye.",
        )));
    };
    let digit = form.get("Digits").unwrap_or("");
    if !matches!(digit, "1" | "2" | "3") {
        // No digit yet (or a wrong one): read the incident and ask again.
        return gather(&app, id, &form.url).await;
    }
    let call = form.get("CallSid").map(str::to_owned);
    let answered = keypress(&app, id, person, digit, call, goodbye).await?;
    if answered.rendered.is_empty() {
        return Ok(xml(twiml::empty()));
    }
    Ok(xml(answered.rendered))
}

/// A keypad digit on a page call through any vendor (1 acknowledge,
/// 2 escalate, 3 resolve; anything else is `None`), acted on once per call
/// and digit; `render` turns the words into the vendor's answer.
pub(super) async fn keypress(
    app: &Shared,
    id: i64,
    person: String,
    digit: &str,
    call: Option<String>,
    render: fn(&str) -> String,
) -> Result<Answered, ApiError> {
    let action = match digit {
        "1" => Some(Action::Acknowledge),
        "3" => Some(Action::Resolve),
        _ => None,
    };
    // A keypress acts once per call, as an SMS once per MessageSid: a
    // replayed signed request answers the same and changes nothing. A
    // call id never looks like a message id, so they share the table.
    let claim = call.map(|call| format!("{call}:{digit}"));
    let (who, key) = (person.clone(), claim.clone());
    let step = app
        .transact_paging(move |repo, ctx| {
            if let Some(key) = &key
                && let SmsClaim::Seen { reply } = repo.claim_sms(key, &who, ctx.now)?
            {
                return Ok(Step::Repeat(reply));
            }
            let Some(action) = action else {
                return Ok(Step::Escalate(id));
            };
            let actor = Actor::Person(who);
            let result = paging::act(repo, ctx, id, action, &actor, "voice", json!({}));
            let changed = matches!(result, Ok((_, true))).then_some(id);
            let text = message::outcome_words(ctx.roster, id, action, result)?;
            if let Some(key) = &key {
                repo.set_sms_reply(key, &render(&text))?;
            }
            Ok(Step::Answer {
                words: Some(text),
                changed,
            })
        })
        .await?;
    match step {
        Step::Repeat(reply) => Ok(Answered {
            rendered: reply.unwrap_or_default(),
            fresh: false,
        }),
        Step::Answer { words, changed } => {
            if let Some(id) = changed {
                app.after_action(id);
            }
            Ok(Answered {
                rendered: render(words.as_deref().unwrap_or_default()),
                fresh: true,
            })
        }
        Step::Escalate(id) => Ok(Answered {
            rendered: escalate_claimed(app, id, person, "voice", claim, render).await?,
            fresh: true,
        }),
    }
}

/// The spoken answer to a keypress, then the call ends.
fn goodbye(text: &str) -> String {
    twiml::say_and_hangup(&format!("{text} Goodbye."))
}

async fn gather(app: &Shared, id: i64, url: &str) -> Result<Response, ApiError> {
    let incident = match app.store.query(move |r| r.get(id)).await {
        Ok(incident) => incident,
        Err(StoreError::NotFound) => {
            return Ok(xml(twiml::say_and_hangup(&format!(
                "Incident {id} was not found. Goodbye."
            ))));
        }
        Err(e) => return Err(e.into()),
    };
    let roster = app.roster();
    let say = message::voice(&incident, roster.project_name(&incident.project));
    Ok(xml(twiml::gather_digit(&say, url)))
}

/// `POST /twilio/status`: delivery reports for our SMS and calls. Reports
/// may arrive out of order; the furthest status is kept. An undelivered SMS
/// or an unanswered call counts as a failed attempt and falls back to the
/// person's next channel. A `completed` call is never an acknowledgement.
pub async fn status(State(app): State<Shared>, form: SignedForm) -> Result<Response, ApiError> {
    let Some(update) = crate::notify::twilio::status_update(&form.params) else {
        // Not a report we understand: accept it so Twilio does not retry.
        return Ok(StatusCode::NO_CONTENT.into_response());
    };
    // A fallback it queued wakes the outbox through the store.
    crate::outbox::report(&app, update.sid, update.status, update.error_code).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
