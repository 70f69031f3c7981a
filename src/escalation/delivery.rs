//! The outbox's decisions, inside transactions: which due rows to send now
//! (pages of incidents that stopped paging are cancelled; SMS to one person
//! are bundled), and what a provider's answer means (retry with backoff,
//! fall back to the next channel, record every attempt on the timeline).

use chrono::{DateTime, Utc};
use serde_json::json;

use super::fallback;
use super::paging::{self, Ctx};
use crate::incident::{Actor, OutboxRow, Repo, ReportLeft, State};
use crate::notify::{SendError, message};
use crate::store::StoreResult;

/// A row handed to a provider, and how many rows are folded into it.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub row: OutboxRow,
    pub bundled: usize,
    /// The buttons a chat message about an incident carries: what its
    /// state allows as it goes out, named as its reader may see it.
    pub offer: Option<crate::notify::interactive::Offer>,
}

/// The folded rows of a sent bundle stamped per transaction: an alert
/// storm folds thousands into one SMS, and a probe's page waits for one
/// chunk, not for them all.
pub const BUNDLE_CHUNK: usize = 256;

fn event(
    repo: &mut dyn Repo,
    now: DateTime<Utc>,
    row: &OutboxRow,
    kind: &str,
    detail: serde_json::Value,
) -> StoreResult<()> {
    match row.incident {
        Some(id) => repo.append(id, now, &Actor::System, kind, detail),
        None => Ok(()),
    }
}

/// Is this page still wanted? Only while its incident is triggered.
fn still_paging(repo: &mut dyn Repo, row: &OutboxRow) -> StoreResult<bool> {
    if row.kind != "page" {
        return Ok(true);
    }
    match row.incident {
        Some(id) => Ok(repo.state_of(id)? == State::Triggered),
        None => Ok(true),
    }
}

/// Looks at the due rows at most this often per claim.
const LOOKS: usize = 4;

/// How long after an SMS to a person the next waits, gathering the pages
/// queued meanwhile into one SMS (the claim makes it five times as long
/// over the hourly limit).
fn sms_window(ctx: &Ctx<'_>) -> chrono::Duration {
    ctx.roster.limits.sms_bundle_window.to_chrono()
}

/// Folds an SMS page about to be queued into the SMS its person already
/// waits for, as the page's first claim would: their window is open and a
/// page heads their queue. Done as it is queued, an alert storm's pages are
/// not each folded by an update at a later claim. Only what the claim would
/// surely do is done here: a case it would weigh (the hourly limit's longer
/// window, a head due after the window) is left to it.
pub fn fold_on_queue(repo: &mut dyn Repo, ctx: &Ctx<'_>, row: &mut OutboxRow) -> StoreResult<()> {
    let now = ctx.now;
    if row.channel != "sms" || row.kind != "page" || row.status != "pending" || row.due_at > now {
        return Ok(());
    }
    let Some(person) = row.person.as_deref() else {
        return Ok(());
    };
    // A claim cancels a page no longer wanted (a step paged by hand on an
    // acknowledged incident); one to an opted-out person it fails at once
    // and falls back to the next channel.
    if !still_paging(repo, row)? || crate::incident::opted_out(repo, person) {
        return Ok(());
    }
    let Some(head) = repo.bundle_head(person, "sms", DateTime::<Utc>::MAX_UTC)? else {
        return Ok(());
    };
    let Some(last) = repo.last_sent(person, "sms")? else {
        return Ok(());
    };
    // The shorter window: open in it is open in the longer one too, and a
    // head due by its end is the head a claim would fold into either way.
    let end = last + sms_window(ctx);
    if end > now && head.due_at <= end {
        row.status = "bundled".into();
        row.bundle_of = Some(head.id);
    }
    Ok(())
}

/// Takes up to `limit` rows due now and marks them `sending`.
pub fn claim(repo: &mut dyn Repo, ctx: &Ctx<'_>, limit: usize) -> StoreResult<Vec<Claimed>> {
    let mut out = Vec::new();
    // A person's whole SMS queue leaves the due rows with its first row
    // (folded into its SMS, or moved to the end of its window), so when a
    // look saw a full view but did not fill the claim, it looks again:
    // thousands of pages queued for one person do not keep another
    // person's page out of this claim.
    for _ in 0..LOOKS {
        let seen = claim_due(repo, ctx, limit, &mut out)?;
        if seen < limit || out.len() >= limit {
            break;
        }
    }
    Ok(out)
}

/// One look at the `limit` rows due first; claims into `out` (up to
/// `limit` in all) and returns how many rows it saw.
fn claim_due(
    repo: &mut dyn Repo,
    ctx: &Ctx<'_>,
    limit: usize,
    out: &mut Vec<Claimed>,
) -> StoreResult<usize> {
    let now = ctx.now;
    let mut due = repo.due_outbox(now, limit)?;
    let seen = due.len();
    // Pages first: a notice due at the same time must not take the SMS
    // window from a page (the page would wait it out behind the notice).
    due.sort_by_key(|r| r.kind != "page");
    // Whether an earlier row of this look folded or deferred others.
    let mut moved = false;
    for due in due {
        if out.len() >= limit {
            break;
        }
        // Re-read once an earlier row may have folded this one into its
        // SMS, or moved it to the end of the person's SMS window: the copy
        // in `due` would not show it.
        // Most rows an earlier one moved are folded: asked first, cheaply.
        let mut row = if !moved {
            due
        } else if repo.outbox_due(due.id, now)? {
            repo.outbox(due.id)?
        } else {
            continue;
        };
        if row.status != "pending" || row.due_at > now {
            continue;
        }
        // Queued under an older roster (a later rung, a retry), it goes to
        // the person's address now: a reload that fixed a number is heeded,
        // and one that took the address (or the person) away sends nothing
        // to the old one; the page falls back to their next channel.
        if let Some(id) = row.person.clone()
            && let Ok(channel) = row.channel.parse::<crate::config::ChannelType>()
        {
            match ctx.roster.people.get(&id).and_then(|p| p.address(channel)) {
                Some(address) => {
                    if address != row.target {
                        row.target = address.to_string();
                    }
                }
                None => {
                    let why = if ctx.roster.people.contains_key(&id) {
                        format!("{id} has no {} address any more", row.channel)
                    } else {
                        format!("{id} is no longer on the roster")
                    };
                    fail_before_sending(repo, ctx, &mut row, &id, why)?;
                    moved = true;
                    continue;
                }
            }
        }
        if !still_paging(repo, &row)? {
            row.status = "cancelled".into();
            repo.update_outbox(&row)?;
            // Pages folded into it while it waited go back on their own.
            repo.unbundle(row.id)?;
            moved = true;
            event(
                repo,
                now,
                &row,
                "page cancelled",
                json!({"outbox": row.id, "person": row.person, "because": "the incident is no longer triggered"}),
            )?;
            continue;
        }
        if row.channel == "sms"
            && let Some(person) = row.person.clone()
            && crate::incident::opted_out(repo, &person)
        {
            // Twilio would refuse with 21610: go straight to the next channel.
            let why = "the person opted out of SMS (replied STOP)".to_string();
            fail_before_sending(repo, ctx, &mut row, &person, why)?;
            moved = true;
            continue;
        }
        let mut bundled = 0;
        if row.channel == "sms"
            && let Some(person) = row.person.clone()
        {
            let limit = ctx.roster.limits.sms_per_hour;
            let per_hour =
                repo.sent_since(&person, "sms", now - chrono::Duration::hours(1), limit)?;
            let mut window = sms_window(ctx);
            if per_hour >= i64::from(limit) {
                // Over the hourly limit: keep paging, but less often.
                window = window * 5;
            }
            if let Some(last) = repo.last_sent(&person, "sms")?
                && last + window > now
            {
                // Pages queued for this person fold into the oldest of them
                // as they come (each claim folds the few queued since the
                // last), and every SMS waits for the same end of the
                // window: a person with thousands queued (an alert storm)
                // costs little per claim, and their rows leave this claim's
                // way for other people's.
                let end = last + window;
                if row.kind == "page"
                    && let Some(head) = repo.bundle_head(&person, "sms", end)?
                {
                    repo.fold_into(head.id, &person, "sms", end)?;
                }
                repo.defer_pending(&person, "sms", end)?;
                moved = true;
                continue;
            }
            // Pages fold into a page's SMS: a notice keeps its own words, so
            // it neither folds in nor takes pages into its message. Only
            // pages due now: a later rung of a ladder must not go early with
            // it (an acknowledgement before its time stops it); it waits for
            // the end of the window this SMS opens. A head retried after a
            // failure also takes the pages its first try's window deferred
            // (due by that window's end, within a window of now), so they
            // do not wait out a second window behind it.
            if row.kind == "page" {
                let due_by = if row.attempts > 0 { now + window } else { now };
                if let Some(person) = row.person.as_deref() {
                    moved |= repo.fold_into(row.id, person, &row.channel, due_by)? > 0;
                }
                // Stopping an incident cancels its folded pages while their
                // head waits (`cancel_pages`), not while the head is in
                // flight: a head sent before and re-queued (a dead daemon's
                // claim) leaves out those stopped meanwhile.
                if row.attempts > 0 {
                    repo.leave_out_stopped(row.id)?;
                }
                let folded = repo.bundle_summary(&row)?;
                bundled = folded.rows;
                if bundled > 0 {
                    let pages: Vec<(i64, &str)> =
                        std::iter::once((row.incident.unwrap_or_default(), row.subject.as_str()))
                            .chain(folded.first.iter().map(|(id, s)| (*id, s.as_str())))
                            .collect();
                    let ack = |id| paging::ack_url(ctx, id, &person, crate::notify::Action::Ack);
                    let cap = ctx.roster.limits.sms_max_segments;
                    row.body = message::sms_bundle_of(&pages, folded.others + 1, cap, ack);
                }
            }
        }
        row.status = "sending".into();
        row.attempts += 1;
        // While sending, `due_at` is the claim time: stale claims are found by it.
        row.due_at = now;
        repo.update_outbox(&row)?;
        let offer = match row.incident {
            Some(id) if is_chat_about_incident(&row) => {
                crate::notify::interactive::offer(&repo.get(id)?, row.kind == "client")
            }
            _ => None,
        };
        out.push(Claimed {
            row,
            bundled,
            offer,
        });
    }
    Ok(seen)
}

/// Records a provider's answer for a claimed row. A delivery report that
/// came first is applied too; what is left of it for a big bundle is
/// returned, for `report_more`.
pub fn record(
    repo: &mut dyn Repo,
    ctx: &Ctx<'_>,
    claimed: &Claimed,
    provider: &str,
    result: &Result<Option<String>, SendError>,
    jitter: f64,
) -> StoreResult<Option<ReportLeft>> {
    let now = ctx.now;
    let mut row = repo.outbox(claimed.row.id)?;
    if row.status != "sending" || row.attempts != claimed.row.attempts {
        // The claim was taken back meanwhile (a daemon cut off from the
        // database on PostgreSQL, a store that failed after the call): the
        // row is another claim's now, and this answer is not its to record.
        tracing::warn!(
            outbox = row.id,
            status = %row.status,
            "a provider answer came for a claim that was taken back; not recorded"
        );
        return Ok(None);
    }
    match result {
        Ok(pid) => {
            row.status = "sent".into();
            row.sent_at = Some(now);
            row.provider = Some(provider.to_string());
            row.provider_id = pid.clone();
            repo.update_outbox(&row)?;
            let kind = if row.kind == "page" {
                "page sent"
            } else {
                "notification sent"
            };
            event(
                repo,
                now,
                &row,
                kind,
                json!({"outbox": row.id, "person": row.person, "channel": row.channel, "provider": provider, "provider_id": pid, "attempt": row.attempts}),
            )?;
            if claimed.bundled > 0 {
                finish_chunk(repo, &row)?;
            }
            // A report that came before this record applies now; a big
            // bundle's rest is the caller's to apply (`report_more`).
            if let Some(pid) = pid
                && let Some((status, code)) = repo.early_report(pid)?
            {
                repo.drop_early_report(pid)?;
                if let Reported::More(left) = report(repo, ctx, pid, &status, code)? {
                    return Ok(Some(left));
                }
            }
            Ok(None)
        }
        Err(SendError::Transient {
            retry_after,
            ambiguous,
            reason,
        }) if !fallback::gives_up(row.attempts) => {
            let wait = fallback::backoff(row.attempts, jitter).max(retry_after.unwrap_or_default());
            row.status = "pending".into();
            row.due_at =
                now + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::seconds(5));
            row.last_error = Some(reason.clone());
            repo.update_outbox(&row)?;
            // The pages folded into it wait with it: one SMS on one retry
            // schedule, not a call to a vendor that is down per page.
            event(
                repo,
                now,
                &row,
                "attempt failed",
                json!({"outbox": row.id, "person": row.person, "channel": row.channel, "provider": provider, "error": reason, "ambiguous": ambiguous, "retry_at": row.due_at, "attempt": row.attempts}),
            )?;
            Ok(None)
        }
        Err(e) => {
            let (code, reason) = match e {
                SendError::Permanent { code, reason } => (*code, reason.clone()),
                SendError::Transient { reason, .. } => (
                    None,
                    format!("gave up after {} attempts: {reason}", row.attempts),
                ),
            };
            if !e.is_opted_out()
                && !e.is_not_mobile()
                && next_vendor(repo, ctx, &mut row, provider, &reason)?
            {
                // Its pages go with it to the next vendor: one SMS, not one
                // per page to the vendor that just failed. Those whose
                // incident stopped paging while it was in flight stay out.
                if claimed.bundled > 0 {
                    repo.leave_out_stopped(row.id)?;
                }
                return Ok(None);
            }
            row.status = "failed".into();
            row.provider = Some(provider.to_string());
            row.last_error = Some(reason.clone());
            repo.update_outbox(&row)?;
            event(
                repo,
                now,
                &row,
                "delivery failed",
                json!({"outbox": row.id, "person": row.person, "channel": row.channel, "provider": provider, "error": reason, "code": code}),
            )?;
            if e.is_opted_out()
                && let Some(p) = &row.person
            {
                tracing::warn!(person = %p, "person opted out of SMS (STOP); pages fall back to other channels");
            }
            fall_back(repo, ctx, &row)?;
            // Every page folded into it failed with it and falls back too,
            // at once (once per incident), a chunk per transaction as a
            // failure report is: handed back, each would wait for the
            // vendor that failed all over again before its next channel.
            if claimed.bundled > 0 {
                // Those whose incident stopped paging meanwhile are cancelled, not failed.
                repo.leave_out_stopped(row.id)?;
                let left = ReportLeft {
                    head: row.id,
                    after: 0,
                    status: "failed".into(),
                    error_code: code,
                    send_error: Some(reason),
                };
                if let Reported::More(left) = report_more(repo, ctx, left)? {
                    return Ok(Some(left));
                }
            }
            Ok(None)
        }
    }
}

/// A vendor that refused the row or stayed down through its retries hands
/// it to the next vendor of the channel's list (`providers.sms`,
/// `providers.voice`), at once and with a fresh retry budget; `false` when
/// it was the last one (the caller falls back to the next channel).
fn next_vendor(
    repo: &mut dyn Repo,
    ctx: &Ctx<'_>,
    row: &mut OutboxRow,
    provider: &str,
    reason: &str,
) -> StoreResult<bool> {
    let vendors = match row.channel.as_str() {
        "sms" => ctx.roster.providers.sms.len(),
        "voice" => ctx.roster.providers.voice.len(),
        _ => 1,
    };
    if row.vendor as usize + 1 >= vendors {
        return Ok(false);
    }
    row.vendor += 1;
    row.status = "pending".into();
    row.attempts = 0;
    // Due at once, and at its claim time (not now): a moved bundle stays
    // ahead of the person's pages queued during its flight, so it takes
    // them in rather than being folded into one of them on the vendor that
    // just failed.
    row.due_at = row.due_at.min(ctx.now);
    row.last_error = Some(reason.to_owned());
    repo.update_outbox(row)?;
    event(
        repo,
        ctx.now,
        row,
        "next vendor",
        json!({"outbox": row.id, "person": row.person, "channel": row.channel, "from": provider, "error": reason, "vendor": row.vendor}),
    )?;
    Ok(true)
}

/// Stamps the next `BUNDLE_CHUNK` rows folded into `head` (sent) as sent
/// with it, each with its "page sent"; whether some may be left.
fn finish_chunk(repo: &mut dyn Repo, head: &OutboxRow) -> StoreResult<bool> {
    let rows = repo.finish_bundle(head, BUNDLE_CHUNK)?;
    for b in &rows {
        event(
            repo,
            b.sent_at.unwrap_or(head.due_at),
            b,
            "page sent",
            json!({"outbox": b.id, "person": b.person, "channel": b.channel, "provider": b.provider, "provider_id": b.provider_id, "bundled_into": head.id}),
        )?;
    }
    Ok(rows.len() == BUNDLE_CHUNK)
}

/// One more chunk of a sent bundle's rows (after `record`, which stamps
/// the first); whether some may be left.
pub fn finish_bundle(repo: &mut dyn Repo, head: i64) -> StoreResult<bool> {
    let head = repo.outbox(head)?;
    finish_chunk(repo, &head)
}

/// After a permanent failure: the person's next channel, if the page is still wanted.
pub fn fall_back(repo: &mut dyn Repo, ctx: &Ctx<'_>, row: &OutboxRow) -> StoreResult<()> {
    if row.kind != "page" || !still_paging(repo, row)? {
        return Ok(());
    }
    let Some(person) = row.person.as_ref().and_then(|p| ctx.roster.people.get(p)) else {
        return Ok(());
    };
    let Some(incident) = row.incident else {
        return Ok(());
    };
    // Every page of this step to this person (siblings fired at once, later
    // rungs, fallbacks): a channel serves a step once.
    let step = repo.page_channels_since(incident, &person.id, row.created_at)?;
    let Some(next) = paging::fallback_channel(person, row, &step) else {
        return event(
            repo,
            ctx.now,
            row,
            "no channel left",
            json!({"person": person.id, "tried": row.tried.iter().chain(std::iter::once(&row.channel)).collect::<Vec<_>>()}),
        );
    };
    let inc = repo.get(incident)?;
    let (subject, body) = paging::page_body(ctx, &inc, person, next);
    let mut tried = row.tried.clone();
    tried.push(row.channel.clone());
    let name = paging::channel_name(next);
    let new = OutboxRow {
        incident: row.incident,
        client: row.client.clone(),
        fallback: row
            .fallback
            .iter()
            .filter(|c| c.as_str() != name)
            .cloned()
            .collect(),
        tried,
        // The step's instant, so the fallback's own failure sees the step.
        created_at: row.created_at,
        ..OutboxRow::to_person(&row.kind, person, next, subject, body, ctx.now)
    };
    let id = repo.insert_outbox(&new)?;
    event(
        repo,
        ctx.now,
        row,
        "falling back",
        json!({"person": person.id, "from": row.channel, "to": name, "outbox": id}),
    )
}

/// What a delivery report did.
#[derive(Debug)]
#[must_use]
pub enum Reported {
    /// No row carries the provider id yet: kept for the record of its send.
    Kept,
    /// Applied to the row and every row folded into it.
    Done,
    /// Applied to the row and the first of a big bundle's folded rows; the
    /// rest go to `report_more`, a chunk per transaction.
    More(ReportLeft),
}

impl Reported {
    /// Whether the report found its row.
    pub fn found(&self) -> bool {
        !matches!(self, Reported::Kept)
    }
}

/// A provider's delivery report (Twilio status callback). Keeps the
/// furthest status; an undelivered SMS or unanswered call is a failure and
/// falls back to the next channel. A bundle's report is every folded row's
/// report too: each of those pages reached the person, or none did.
pub fn report(
    repo: &mut dyn Repo,
    ctx: &Ctx<'_>,
    provider_id: &str,
    status: &str,
    error_code: Option<u32>,
) -> StoreResult<Reported> {
    let Some(head) = repo.outbox_by_provider_id(provider_id)? else {
        // The callback beat the commit that records this send (its answer
        // was being recorded): keep it for `record`, furthest status first.
        let (status, error_code) = match repo.early_report(provider_id)? {
            Some((kept, code)) if crate::notify::twilio::furthest(&kept, status) == kept => {
                (kept, code)
            }
            _ => (status.to_string(), error_code),
        };
        repo.keep_early_report(provider_id, &status, error_code, ctx.now)?;
        return Ok(Reported::Kept);
    };
    let left = ReportLeft {
        head: head.id,
        after: 0,
        status: status.to_owned(),
        error_code,
        send_error: None,
    };
    report_row(
        repo,
        ctx,
        head,
        status,
        error_code,
        &["sent", "delivered"],
        None,
    )?;
    report_more(repo, ctx, left)
}

/// The next `BUNDLE_CHUNK` folded rows of a bundle's report. Where it
/// stopped is kept with the chunk, so a crash before the next chunk is
/// finished at the next start or reap (`Repo::reports_left`).
pub fn report_more(
    repo: &mut dyn Repo,
    ctx: &Ctx<'_>,
    mut left: ReportLeft,
) -> StoreResult<Reported> {
    let (status, error_code) = (left.status.clone(), left.error_code);
    // Nothing is kept for a report until a chunk of it was full.
    let kept = left.after != 0;
    let folded = repo.bundled_into(left.head, left.after, BUNDLE_CHUNK)?;
    let full = folded.len() == BUNDLE_CHUNK;
    for row in folded {
        left.after = row.id;
        match &left.send_error {
            Some(reason) => send_failed(repo, ctx, row, reason, error_code, left.head)?,
            None => report_row(
                repo,
                ctx,
                row,
                &status,
                error_code,
                &["bundled"],
                Some(left.head),
            )?,
        }
    }
    if full {
        repo.keep_report_left(&left, ctx.now)?;
        return Ok(Reported::More(left));
    }
    if kept {
        repo.drop_report_left(&left)?;
    }
    Ok(Reported::Done)
}

/// Applies a report to one row; `live` are the statuses in which a failure
/// report still fails the row, which then falls back, unless it was folded
/// into `bundle` beside a page of the same incident to the same person that
/// failed already.
fn report_row(
    repo: &mut dyn Repo,
    ctx: &Ctx<'_>,
    mut row: OutboxRow,
    status: &str,
    error_code: Option<u32>,
    live: &[&str],
    bundle: Option<i64>,
) -> StoreResult<()> {
    use crate::notify::twilio::{Outcome, furthest, outcome};
    let previous = row.provider_status.clone().unwrap_or_default();
    let kept = furthest(&previous, status).to_string();
    let changed = kept != previous;
    row.provider_status = Some(kept.clone());
    if changed {
        event(
            repo,
            ctx.now,
            &row,
            "delivery report",
            json!({"outbox": row.id, "person": row.person, "channel": row.channel, "status": status, "error_code": error_code, "bundled_into": row.bundle_of}),
        )?;
    }
    match outcome(&kept) {
        Outcome::Delivered if row.status == "sent" => row.status = "delivered".into(),
        Outcome::Failed if live.contains(&row.status.as_str()) => {
            let error = format!(
                "provider reported {kept}{}",
                error_code
                    .map(|c| format!(" (error {c})"))
                    .unwrap_or_default()
            );
            return fail(repo, ctx, row, error, bundle);
        }
        _ => {}
    }
    repo.update_outbox(&row)
}

/// A page folded into a bundle whose send failed for good fails with it,
/// its timeline naming the reason, and falls back (`fail`).
fn send_failed(
    repo: &mut dyn Repo,
    ctx: &Ctx<'_>,
    row: OutboxRow,
    reason: &str,
    code: Option<u32>,
    bundle: i64,
) -> StoreResult<()> {
    if row.status != "bundled" {
        return Ok(());
    }
    event(
        repo,
        ctx.now,
        &row,
        "delivery failed",
        json!({"outbox": row.id, "person": row.person, "channel": row.channel, "error": reason, "code": code, "bundled_into": bundle}),
    )?;
    fail(repo, ctx, row, reason.to_owned(), Some(bundle))
}

/// Fails `row` and falls back to the person's next channel, unless it was
/// folded into `bundle` beside a page of the same incident to the same
/// person that failed already: two pages of one incident in a bundle (a
/// re-page folded beside the first) fall back as one, one call and not
/// two, across chunks and across a crash between them.
fn fail(
    repo: &mut dyn Repo,
    ctx: &Ctx<'_>,
    mut row: OutboxRow,
    error: String,
    bundle: Option<i64>,
) -> StoreResult<()> {
    // Asked before this row is failed, so it finds only the others.
    let fell_back = match bundle {
        Some(head) => repo.fell_back_in_bundle(head, row.incident, row.person.as_deref())?,
        None => false,
    };
    row.status = "failed".into();
    row.last_error = Some(error);
    repo.update_outbox(&row)?;
    if !fell_back {
        fall_back(repo, ctx, &row)?;
    }
    Ok(())
}

/// Rows claimed before `claimed_before` and still `sending` go back to the
/// queue: at start-up every one (the process died during their provider
/// call), while running those whose answer could not be recorded (the store
/// failed after the call). They may be sent twice: the documented
/// at-least-once bound.
pub fn recover(
    repo: &mut dyn Repo,
    now: DateTime<Utc>,
    claimed_before: DateTime<Utc>,
) -> StoreResult<usize> {
    let rows = repo.requeue_in_flight(claimed_before)?;
    for r in &rows {
        event(
            repo,
            now,
            r,
            "requeued",
            json!({"outbox": r.id, "person": r.person, "channel": r.channel, "note": "no answer was recorded for its provider call; it may have gone out"}),
        )?;
    }
    Ok(rows.len())
}

/// A row that cannot go out as queued (its person opted out of SMS, or a
/// reload took the address): failed with `why`, out of its bundle, on the
/// timeline, and on to the person's next channel.
fn fail_before_sending(
    repo: &mut dyn Repo,
    ctx: &Ctx<'_>,
    row: &mut OutboxRow,
    person: &str,
    why: String,
) -> StoreResult<()> {
    row.status = "failed".into();
    row.last_error = Some(why.clone());
    repo.update_outbox(row)?;
    repo.unbundle(row.id)?;
    event(
        repo,
        ctx.now,
        row,
        "delivery failed",
        json!({"outbox": row.id, "person": person, "channel": row.channel, "error": why}),
    )?;
    fall_back(repo, ctx, row)
}

/// A page in the on-call chat or a post to a client's channel: the
/// messages that carry buttons where the chat has them.
fn is_chat_about_incident(row: &OutboxRow) -> bool {
    matches!(row.channel.as_str(), "chat" | "channel")
        && matches!(row.kind.as_str(), "page" | "client")
}
