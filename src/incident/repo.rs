//! What incident logic needs from storage, as a trait the domain owns. The
//! SQLite store implements it over one transaction; every call made during
//! one `Store::transact` commits (or not) together.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::maintenance::{NewWindow, Window};
use super::model::{Actor, AttachedAlert, Event, Incident, Layer, NewIncident, State};
use crate::followup::actions::{ActionItem, Filter as ActionFilter, NewAction};
use crate::followup::postmortem::{NewPostmortem, Postmortem};
use crate::routing::{NewOverride, StoredOverride};
use crate::store::{Cursor, StoreResult};

/// Filter for listing incidents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateFilter {
    /// triggered + acknowledged
    Open,
    Only(State),
    All,
}

/// Diagnosis fields set by `PATCH`; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct Diagnosis {
    pub layer: Option<Layer>,
    pub reproducible: Option<bool>,
    pub serious: Option<bool>,
    pub serious_reason: Option<String>,
    pub severity: Option<crate::ingest::alert::Severity>,
    pub provider_ticket: Option<String>,
}

pub trait Repo {
    fn get(&mut self, id: i64) -> StoreResult<Incident>;
    /// An incident's state alone (a store may read less than `get`).
    fn state_of(&mut self, id: i64) -> StoreResult<State> {
        Ok(self.get(id)?.state)
    }
    /// The incident open (not resolved) under this integration and key.
    fn find_open(&mut self, integration: &str, key: &str) -> StoreResult<Option<Incident>>;
    /// The id of the incident `find_open` finds (a store may read less).
    fn find_open_id(&mut self, integration: &str, key: &str) -> StoreResult<Option<i64>> {
        Ok(self.find_open(integration, key)?.map(|i| i.id))
    }
    /// The latest incident under this key resolved at or after `since`.
    fn find_resolved_since(
        &mut self,
        integration: &str,
        key: &str,
        since: DateTime<Utc>,
    ) -> StoreResult<Option<Incident>>;
    fn insert(&mut self, new: &NewIncident, state: State, now: DateTime<Utc>) -> StoreResult<i64>;
    /// Sets the state and its timestamp; `assignee` replaces the assignee when given.
    fn set_state(
        &mut self,
        id: i64,
        state: State,
        now: DateTime<Utc>,
        assignee: Option<&str>,
    ) -> StoreResult<()>;
    fn set_diagnosis(&mut self, id: i64, d: &Diagnosis) -> StoreResult<()>;
    /// Makes a non-critical record critical, at `severity` (an alert that
    /// pages joined it).
    fn raise(&mut self, id: i64, severity: crate::ingest::alert::Severity) -> StoreResult<()>;
    /// Records that the client was told about the incident.
    fn mark_announced(&mut self, id: i64) -> StoreResult<()>;
    /// Whom the client's channel was last told is investigating (`""` for
    /// "An engineer"), since it last heard the incident end.
    fn told_online(&mut self, id: i64) -> StoreResult<Option<String>>;
    /// Records [`Repo::told_online`]; None once the client heard the end.
    fn set_told_online(&mut self, id: i64, who: Option<&str>) -> StoreResult<()>;
    /// Replaces the assignee, leaving the state as it is.
    fn set_assignee(&mut self, id: i64, person: &str) -> StoreResult<()>;
    fn append(
        &mut self,
        id: i64,
        now: DateTime<Utc>,
        actor: &Actor,
        kind: &str,
        detail: serde_json::Value,
    ) -> StoreResult<()>;
    /// Records an alert's status; returns its previous status (None when new).
    /// A new alert is counted, and the incident marked seen `now` (as `touch`).
    fn upsert_alert(
        &mut self,
        id: i64,
        fingerprint: &str,
        status: &str,
        summary: &str,
        labels: &BTreeMap<String, String>,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<String>>;
    /// Whether any alert of the incident is still firing.
    fn any_firing(&mut self, id: i64) -> StoreResult<bool>;
    /// Updates when the incident was last seen.
    fn touch(&mut self, id: i64, now: DateTime<Utc>) -> StoreResult<()>;
    /// True when this snapshot of a group is a re-send: it equals the last
    /// snapshot processed for the group, or one processed within `recent`
    /// (an HA peer's late copy). A new one is recorded as the group's last;
    /// only what later checks can need is kept.
    fn seen_delivery(
        &mut self,
        integration: &str,
        group_key: &str,
        key: &str,
        now: DateTime<Utc>,
        recent: chrono::Duration,
    ) -> StoreResult<bool>;
    /// Forgets the group's last snapshot (kept for the HA copy window):
    /// after its incident was ended by hand, the same snapshot re-sent once
    /// the copy window has passed is a new alert.
    fn forget_delivery(&mut self, integration: &str, group_key: &str) -> StoreResult<()>;
    /// Schedules (or moves) the durable timer `(kind, key)`.
    fn set_timer(&mut self, timer: &Timer) -> StoreResult<()>;
    /// Schedules the timer only when none exists under `(kind, key)`.
    fn set_timer_if_absent(&mut self, timer: &Timer) -> StoreResult<()>;
    fn delete_timer(&mut self, kind: &str, key: &str) -> StoreResult<()>;
    /// Removes and returns up to `limit` timers due at `now`, earliest first.
    fn take_due(&mut self, now: DateTime<Utc>, limit: usize) -> StoreResult<Vec<Timer>>;
    /// A presence mark, as routing needs it inside a transaction.
    fn presence(&mut self, person: &str) -> StoreResult<Option<crate::routing::PresenceMark>>;
    fn set_presence(
        &mut self,
        person: &str,
        mark: &crate::routing::PresenceMark,
        set_by: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// A person's notify ladder set over the API (overriding the YAML one).
    fn notify_rules(&mut self, person: &str)
    -> StoreResult<Option<Vec<crate::config::NotifyRule>>>;
    /// Sets (Some) or clears back to the YAML default (None) a person's
    /// ladder; clearing returns whether there was one.
    fn set_notify_rules(
        &mut self,
        person: &str,
        rules: Option<&[crate::config::NotifyRule]>,
        set_by: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;
    /// Removes a person's presence mark; false when there was none.
    fn clear_presence(&mut self, person: &str) -> StoreResult<bool>;
    fn escalation(&mut self, id: i64) -> StoreResult<Option<crate::escalation::EscalationState>>;
    fn put_escalation(
        &mut self,
        id: i64,
        state: &crate::escalation::EscalationState,
    ) -> StoreResult<()>;
    fn insert_outbox(&mut self, row: &OutboxRow) -> StoreResult<i64>;
    /// Writes back the mutable fields of a row (status, attempts, due, provider...).
    fn update_outbox(&mut self, row: &OutboxRow) -> StoreResult<()>;
    fn outbox(&mut self, id: i64) -> StoreResult<OutboxRow>;
    /// Whether row `id` is pending and due at `now` (a store may read less
    /// than `outbox`).
    fn outbox_due(&mut self, id: i64, now: DateTime<Utc>) -> StoreResult<bool> {
        let row = self.outbox(id)?;
        Ok(row.status == "pending" && row.due_at <= now)
    }
    /// Pending rows due at `now`, earliest first.
    fn due_outbox(&mut self, now: DateTime<Utc>, limit: usize) -> StoreResult<Vec<OutboxRow>>;
    /// Makes every pending row to `person` on `channel` due no earlier than
    /// `until` (the end of their bundle window); returns how many moved.
    fn defer_pending(
        &mut self,
        person: &str,
        channel: &str,
        until: DateTime<Utc>,
    ) -> StoreResult<usize>;
    /// The oldest pending page to `person` on `channel` due by `due_by`
    /// whose incident is still triggered: the head the others fold into.
    fn bundle_head(
        &mut self,
        person: &str,
        channel: &str,
        due_by: DateTime<Utc>,
    ) -> StoreResult<Option<BundleHead>>;
    /// Folds into `head` (bundling) every other pending page to `person` on
    /// `channel` due by `due_by` whose incident is still triggered, and the
    /// rows folded into any of them (bundles never nest); returns how many
    /// pending pages folded.
    fn fold_into(
        &mut self,
        head: i64,
        person: &str,
        channel: &str,
        due_by: DateTime<Utc>,
    ) -> StoreResult<usize>;
    /// Cancels the pages folded into `head` whose incident stopped paging
    /// (an acknowledgement while `head` was in flight, then re-queued);
    /// returns how many.
    fn leave_out_stopped(&mut self, head: i64) -> StoreResult<usize>;
    /// The rows folded into `head` and not sent yet, summed up for its SMS.
    fn bundle_summary(&mut self, head: &OutboxRow) -> StoreResult<BundleSummary>;
    /// Stamps up to `limit` of the rows folded into `head` (which was sent)
    /// with its sending; returns them, oldest first. A big bundle is
    /// stamped a chunk per transaction, so other writes wait for a chunk,
    /// never for the whole bundle.
    fn finish_bundle(&mut self, head: &OutboxRow, limit: usize) -> StoreResult<Vec<OutboxRow>>;
    /// Mends bundles a crash left halfway: rows folded into a head that
    /// will never be sent go back to the queue on their own, and the sent
    /// heads with rows not stamped yet are returned (to `finish_bundle`).
    fn unfinished_bundles(&mut self) -> StoreResult<Vec<i64>>;
    /// Rows folded into `head` and not sent go back to the queue on their own.
    fn unbundle(&mut self, head: i64) -> StoreResult<()>;
    /// When the last page on `channel` went to `person` (a notice opens no
    /// bundle window: a reminder's SMS must not hold back a page).
    fn last_sent(&mut self, person: &str, channel: &str) -> StoreResult<Option<DateTime<Utc>>>;
    /// Messages (a bundle is one) sent to `person` on `channel` since `since`, counted up to
    /// `at_most` (the caller compares with a limit; counting further would
    /// make every claim slower for a person paged thousands of times).
    fn sent_since(
        &mut self,
        person: &str,
        channel: &str,
        since: DateTime<Utc>,
        at_most: u32,
    ) -> StoreResult<i64>;
    /// Cancels the pending pages of an incident, and those folded into a
    /// bundle not sent yet; pages folded into one of its pending pages go
    /// back to the queue on their own. Returns how many were cancelled.
    fn cancel_pages(&mut self, incident: i64) -> StoreResult<i64>;
    /// [`Repo::cancel_pages`], of the pages to `person` only.
    fn cancel_pages_to(&mut self, incident: i64, person: &str) -> StoreResult<i64>;
    /// The channels of the incident's pages to `person` created at or after
    /// `since`, whatever became of them.
    fn page_channels_since(
        &mut self,
        incident: i64,
        person: &str,
        since: DateTime<Utc>,
    ) -> StoreResult<Vec<String>>;
    /// The incident's pages that reached someone (sent, or folded into a
    /// sent SMS), oldest first.
    fn pages_sent(&mut self, incident: i64) -> StoreResult<Vec<OutboxRow>>;
    /// The row a provider's message or call id was recorded for: for a
    /// bundle, its head (the rows folded into it carry the same id).
    fn outbox_by_provider_id(&mut self, provider_id: &str) -> StoreResult<Option<OutboxRow>>;
    /// The rows folded into bundle `head` that went out with it, after row
    /// `after`, at most `limit`, oldest first.
    fn bundled_into(&mut self, head: i64, after: i64, limit: usize) -> StoreResult<Vec<OutboxRow>>;
    /// Whether a page of bundle `head` (the head or a row folded into it)
    /// for `incident` to `person` failed already: its report fell back.
    fn fell_back_in_bundle(
        &mut self,
        head: i64,
        incident: Option<i64>,
        person: Option<&str>,
    ) -> StoreResult<bool>;
    /// Keeps where a bundle's report of this status stopped.
    fn keep_report_left(&mut self, left: &ReportLeft, at: DateTime<Utc>) -> StoreResult<()>;
    /// A bundle's report (of this status: a bundle may have several on
    /// their way, "sent" then "undelivered") is done.
    fn drop_report_left(&mut self, left: &ReportLeft) -> StoreResult<()>;
    /// Reports kept before `before` and not done: a crash stopped them.
    fn reports_left(&mut self, before: DateTime<Utc>) -> StoreResult<Vec<ReportLeft>>;
    /// A delivery report kept for a provider id no row carries yet.
    fn early_report(&mut self, provider_id: &str) -> StoreResult<Option<(String, Option<u32>)>>;
    /// Keeps (or replaces) it; reports older than a day are dropped.
    fn keep_early_report(
        &mut self,
        provider_id: &str,
        status: &str,
        error_code: Option<u32>,
        at: DateTime<Utc>,
    ) -> StoreResult<()>;
    fn drop_early_report(&mut self, provider_id: &str) -> StoreResult<()>;
    /// Rows `sending` since before `claimed_before` (left by a crash, or
    /// whose answer could not be recorded) go back to `pending`; returns them.
    fn requeue_in_flight(&mut self, claimed_before: DateTime<Utc>) -> StoreResult<Vec<OutboxRow>>;
    fn record_change_event(
        &mut self,
        integration: &str,
        project: &str,
        now: DateTime<Utc>,
        summary: &str,
        detail: serde_json::Value,
    ) -> StoreResult<i64>;
    /// Open (triggered or acknowledged) incidents paged to `person`: a
    /// `page queued` event names them, or they are the assignee. By number.
    fn paged_to(&mut self, person: &str) -> StoreResult<Vec<i64>>;
    /// Records an inbound SMS by its `MessageSid` (a keypress by
    /// `<CallSid>:<digit>`); a key seen before returns what was answered then.
    /// Forgets keys older than [`SMS_SID_MEMORY`].
    fn claim_sms(&mut self, sid: &str, person: &str, now: DateTime<Utc>) -> StoreResult<SmsClaim>;
    /// Stores the answer given to a claimed SMS, for its repeated deliveries.
    fn set_sms_reply(&mut self, sid: &str, reply: &str) -> StoreResult<()>;
    /// Forgets a claimed SMS whose action failed, so a redelivery acts.
    fn release_sms(&mut self, sid: &str) -> StoreResult<()>;
    /// STOP (`Some(now)`) or START (`None`) from `person`'s `phone`.
    fn set_sms_opt_out(
        &mut self,
        person: &str,
        phone: &str,
        at: Option<DateTime<Utc>>,
    ) -> StoreResult<()>;
    /// When `person` opted out of SMS, if they have not opted back in.
    fn sms_opted_out_at(&mut self, person: &str) -> StoreResult<Option<DateTime<Utc>>>;
    /// The incident's timeline, oldest first (the postmortem draft reads it).
    fn timeline(&mut self, id: i64) -> StoreResult<Vec<Event>>;
    /// The timer `(kind, key)`, if one is scheduled.
    fn timer(&mut self, kind: &str, key: &str) -> StoreResult<Option<Timer>>;
    /// Stores a new draft; `Conflict` when the incident already has one.
    fn insert_postmortem(&mut self, new: &NewPostmortem, now: DateTime<Utc>) -> StoreResult<i64>;
    fn postmortem(&mut self, id: i64) -> StoreResult<Postmortem>;
    /// The postmortem of an incident, if it has one.
    fn postmortem_of(&mut self, incident: i64) -> StoreResult<Option<Postmortem>>;
    /// Writes back state, author, title, sections and review timestamps.
    fn update_postmortem(&mut self, pm: &Postmortem) -> StoreResult<()>;
    fn insert_action(&mut self, new: &NewAction, now: DateTime<Utc>) -> StoreResult<i64>;
    fn action(&mut self, id: i64) -> StoreResult<ActionItem>;
    /// Writes back `done_at` and `done_by`.
    fn update_action(&mut self, item: &ActionItem) -> StoreResult<()>;
    /// The items of a postmortem, by number.
    fn actions_of(&mut self, postmortem: i64) -> StoreResult<Vec<ActionItem>>;
    /// Items of a team not yet done, by deadline (the digest).
    fn open_actions_of_team(&mut self, team: &str) -> StoreResult<Vec<ActionItem>>;
    /// Stored maintenance windows in force at `now` (begun, not over, not ended).
    fn active_windows(&mut self, now: DateTime<Utc>) -> StoreResult<Vec<Window>>;
    fn insert_window(&mut self, w: &NewWindow, now: DateTime<Utc>) -> StoreResult<i64>;
    fn window(&mut self, id: i64) -> StoreResult<Option<Window>>;
    /// Records that `by` ended the window early at `now`.
    fn end_window(&mut self, id: i64, by: &str, now: DateTime<Utc>) -> StoreResult<()>;
    /// Incidents in state `suppressed`, by number.
    fn suppressed(&mut self) -> StoreResult<Vec<Incident>>;
    /// Stores an on-call override; returns its id.
    fn insert_override(&mut self, new: &NewOverride) -> StoreResult<i64>;
    /// One override, deleted or not; `NotFound` for an unknown id.
    fn override_by_id(&mut self, id: i64) -> StoreResult<StoredOverride>;
    /// Marks an override deleted (kept for the audit); false when it was already.
    fn delete_override(&mut self, id: i64, by: &str, at: DateTime<Utc>) -> StoreResult<bool>;
    /// Overrides by `filter`, oldest created first.
    fn overrides(&mut self, filter: &OverrideFilter) -> StoreResult<Vec<StoredOverride>>;
}

/// Which stored overrides to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OverrideFilter {
    /// One schedule's, or every schedule's.
    pub schedule: Option<String>,
    /// Deleted ones too (the audit).
    pub include_deleted: bool,
    /// Only those still running or ahead after this instant.
    pub ending_after: Option<DateTime<Utc>>,
}

impl OverrideFilter {
    /// Live overrides of every schedule that matter at and after `t`.
    pub fn live_after(t: DateTime<Utc>) -> Self {
        OverrideFilter {
            ending_after: Some(t),
            ..Self::default()
        }
    }
}

/// How long a `MessageSid` is remembered for deduplication.
pub const SMS_SID_MEMORY: chrono::Duration = chrono::Duration::days(30);

/// Whether an inbound SMS was new or a repeated delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SmsClaim {
    /// First delivery: act on it.
    New,
    /// Seen before: answer `reply` again (`None` while the first delivery is
    /// still being acted on) and change nothing.
    Seen { reply: Option<String> },
}

/// Whether `person` replied STOP and has not replied START since; the outbox
/// skips SMS to them. A store error reads as "not opted out": the send then
/// fails with Twilio 21610, which is already a permanent, fall-back failure.
pub fn opted_out(repo: &mut dyn Repo, person: &str) -> bool {
    matches!(repo.sms_opted_out_at(person), Ok(Some(_)))
}

/// A durable deadline: escalation steps, heartbeats, reminders. Firing and
/// its effects commit in one transaction, so a timer fires once.
#[derive(Debug, Clone, PartialEq)]
pub struct Timer {
    pub kind: String,
    pub key: String,
    pub due: DateTime<Utc>,
    pub data: serde_json::Value,
}

/// What a bundle's SMS says of the rows folded into its head.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BundleSummary {
    /// Rows folded in.
    pub rows: usize,
    /// Incidents among them other than the head's.
    pub others: usize,
    /// The first `BUNDLE_PREVIEW` of them, oldest first: (incident, subject).
    pub first: Vec<(i64, String)>,
}

/// Where a big bundle's delivery report stopped: kept with each chunk, so
/// a report a crash cut short is finished at the next start (or reap).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportLeft {
    pub head: i64,
    /// The last folded row the report was applied to.
    pub after: i64,
    pub status: String,
    pub error_code: Option<u32>,
    /// Set when the bundle's send failed for good (no vendor took it): the
    /// reason, which each page's timeline shows instead of a vendor's report.
    pub send_error: Option<String>,
}

/// How many folded rows a bundle's summary names (an SMS shows fewer).
pub const BUNDLE_PREVIEW: usize = 64;

/// What folding needs of a bundle's head: which row, and when it is due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BundleHead {
    pub id: i64,
    pub due_at: DateTime<Utc>,
}

/// One notification: a page, a notice, or a post to a client channel.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct OutboxRow {
    pub id: i64,
    pub incident: Option<i64>,
    pub person: Option<String>,
    pub client: Option<String>,
    /// `page` (stopped by an acknowledgement), `notice`, `client`.
    pub kind: String,
    /// sms, voice, email, chat, or `channel` for a client's public channel.
    pub channel: String,
    /// Phone, email, chat handle or channel name (for the timeline).
    pub target: String,
    /// Channels left to fall back to, in order.
    pub fallback: Vec<String>,
    /// Channels already tried for this page.
    pub tried: Vec<String>,
    pub subject: String,
    pub body: String,
    /// pending, sending, sent, delivered, failed, cancelled, bundled.
    pub status: String,
    pub attempts: u32,
    pub due_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
    pub provider: Option<String>,
    pub provider_id: Option<String>,
    pub provider_status: Option<String>,
    pub last_error: Option<String>,
    pub bundle_of: Option<i64>,
    /// Which vendor of the channel's failover list (`providers.sms`,
    /// `providers.voice`) the row is on: 0 is the first.
    pub vendor: u32,
}

impl OutboxRow {
    /// A pending row due at `now`, to `target` on `channel`; callers set
    /// the incident, person, client and fallback they need.
    pub fn pending(
        kind: &str,
        channel: &str,
        target: String,
        subject: String,
        body: String,
        now: DateTime<Utc>,
    ) -> Self {
        OutboxRow {
            id: 0,
            incident: None,
            person: None,
            client: None,
            kind: kind.into(),
            channel: channel.into(),
            target,
            fallback: Vec::new(),
            tried: Vec::new(),
            subject,
            body,
            status: "pending".into(),
            attempts: 0,
            due_at: now,
            created_at: now,
            sent_at: None,
            provider: None,
            provider_id: None,
            provider_status: None,
            last_error: None,
            bundle_of: None,
            vendor: 0,
        }
    }

    /// A pending row to a person on one of their channels.
    pub fn to_person(
        kind: &str,
        person: &crate::config::Person,
        channel: crate::config::ChannelType,
        subject: String,
        body: String,
        now: DateTime<Utc>,
    ) -> Self {
        let target = person.address(channel).unwrap_or_default().to_string();
        let name = match channel {
            crate::config::ChannelType::Chat => "chat",
            crate::config::ChannelType::Sms => "sms",
            crate::config::ChannelType::Voice => "voice",
            crate::config::ChannelType::Email => "email",
            crate::config::ChannelType::Push => "push",
        };
        OutboxRow {
            person: Some(person.id.clone()),
            ..OutboxRow::pending(kind, name, target, subject, body, now)
        }
    }
}

/// Read-side queries (they run on reader connections, outside the writer).
pub trait ReadRepo {
    /// The newest first: at most `limit` incidents numbered below `after`.
    fn list(
        &self,
        filter: StateFilter,
        after: Option<Cursor>,
        limit: usize,
    ) -> StoreResult<Vec<Incident>>;
    fn timeline(&self, id: i64) -> StoreResult<Vec<Event>>;
    fn alerts(&self, id: i64) -> StoreResult<Vec<AttachedAlert>>;
    fn get(&self, id: i64) -> StoreResult<Incident>;
    /// The number of the incident a client reference (`ACME`, 7) names.
    fn by_reference(&self, prefix: &str, seq: i64) -> StoreResult<i64>;
    fn count_by_state(&self) -> StoreResult<Vec<(State, i64)>>;
    /// The earliest timer deadline, if any.
    fn next_timer(&self) -> StoreResult<Option<DateTime<Utc>>>;
    fn timers(&self, kind: &str) -> StoreResult<Vec<Timer>>;
    fn outbox_for(&self, incident: i64) -> StoreResult<Vec<OutboxRow>>;
    fn outbox_depth(&self) -> StoreResult<i64>;
    /// When the earliest pending notification is due.
    fn next_outbox_due(&self) -> StoreResult<Option<DateTime<Utc>>>;
    /// Every unexpired presence mark at `now`.
    fn presence_marks(
        &self,
        now: DateTime<Utc>,
    ) -> StoreResult<BTreeMap<String, crate::routing::PresenceMark>>;
    /// Every notify ladder set over the API, by person.
    fn all_notify_rules(&self) -> StoreResult<BTreeMap<String, Vec<crate::config::NotifyRule>>>;
    /// Every notification addressed to `person`, oldest first.
    fn outbox_to(&self, person: &str) -> StoreResult<Vec<OutboxRow>>;
    /// The newest postmortems first: at most `limit` numbered below `after`.
    fn postmortems(&self, after: Option<Cursor>, limit: usize) -> StoreResult<Vec<Postmortem>>;
    fn postmortem(&self, id: i64) -> StoreResult<Postmortem>;
    fn actions_of(&self, postmortem: i64) -> StoreResult<Vec<ActionItem>>;
    /// Items by status at `now`, optionally of one assignee, by deadline
    /// then number: at most `limit` after `after` (key: the deadline in ms).
    fn actions(
        &self,
        filter: ActionFilter,
        assignee: Option<&str>,
        now: DateTime<Utc>,
        after: Option<Cursor>,
        limit: usize,
    ) -> StoreResult<Vec<ActionItem>>;
    /// Stored maintenance windows not over at `now` (in force or to come),
    /// by start.
    fn windows(&self, now: DateTime<Utc>, limit: usize) -> StoreResult<Vec<Window>>;
    /// Overrides by `filter`, oldest created first.
    fn overrides(&self, filter: &OverrideFilter) -> StoreResult<Vec<StoredOverride>>;
    /// What a report over `range` counts (action items: those open at `as_of`).
    fn report_rows(
        &self,
        range: crate::reports::Range,
        as_of: DateTime<Utc>,
    ) -> StoreResult<crate::reports::Rows>;
}
