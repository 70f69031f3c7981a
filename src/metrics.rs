//! The daemon's Prometheus metrics and their text exposition (format 0.0.4).
//!
//! Owns: the metric families tocsin exposes (PROTOCOLS §5.1), one typed
//! method per event, and rendering `/metrics`. Every label value must come
//! from a small, fixed set (integration names, channel kinds, outcomes,
//! status codes, incident states): never incident ids, fingerprints, group
//! keys, phone numbers or addresses, which would grow the series without
//! bound. As a backstop a family stops adding series at [`MAX_SERIES`] and
//! counts further label sets under the value `other`. Must not: do I/O, read
//! the clock (durations are measured by the caller), or know HTTP.

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Mutex, MutexGuard, PoisonError};

/// The `Content-Type` of [`Metrics::render`]'s output.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Most label sets one family keeps before folding new ones into `other`.
pub const MAX_SERIES: usize = 1000;

/// Webhook handling time: Prometheus' default buckets, 5 ms to 10 s.
const REQUEST_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// Alert received → first page handed to a provider: 100 ms to 10 min.
const PAGE_BUCKETS: &[f64] = &[
    0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0,
];
/// How late the escalation engine fires a step: 1 ms to 60 s.
const LAG_BUCKETS: &[f64] = &[
    0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0,
];

/// What became of one notification attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotificationOutcome {
    /// The provider accepted it.
    Sent,
    /// The provider refused it or could not be reached.
    Failed,
    /// A status callback confirmed delivery.
    Delivered,
    /// A status callback reported it undelivered.
    Undelivered,
}

impl NotificationOutcome {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            NotificationOutcome::Sent => "sent",
            NotificationOutcome::Failed => "failed",
            NotificationOutcome::Delivered => "delivered",
            NotificationOutcome::Undelivered => "undelivered",
        }
    }
}

/// Every metric the daemon exposes; share it behind an `Arc`.
#[derive(Debug)]
pub struct Metrics {
    alerts_received: Family<2, u64>,
    duplicate_alerts: Family<1, u64>,
    webhook_requests: Family<2, u64>,
    webhook_duration: Family<1, Histogram>,
    notifications: Family<3, u64>,
    alert_to_page: Family<0, Histogram>,
    escalation_lag: Family<0, Histogram>,
    outbox_depth: Family<0, i64>,
    incidents: Family<1, i64>,
    twilio_signature_failures: Family<0, u64>,
    build_info: Family<1, i64>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// All families, empty, with `tocsin_build_info` set for this build.
    pub fn new() -> Self {
        let metrics = Metrics {
            alerts_received: Family::new(
                "tocsin_alerts_received_total",
                "Alerts accepted from monitoring systems.",
                ["source", "status"],
                Kind::Counter,
            ),
            duplicate_alerts: Family::new(
                "tocsin_duplicate_alerts_total",
                "Alerts dropped as duplicates of an open incident's alert.",
                ["source"],
                Kind::Counter,
            ),
            webhook_requests: Family::new(
                "tocsin_webhook_requests_total",
                "Inbound webhook requests by endpoint and HTTP status code.",
                ["endpoint", "code"],
                Kind::Counter,
            ),
            webhook_duration: Family::histogram(
                "tocsin_webhook_request_duration_seconds",
                "Time spent handling an inbound webhook request.",
                ["endpoint"],
                REQUEST_BUCKETS,
            ),
            notifications: Family::new(
                "tocsin_notifications_total",
                "Notification attempts and provider delivery reports.",
                ["channel", "provider", "outcome"],
                Kind::Counter,
            ),
            alert_to_page: Family::histogram(
                "tocsin_alert_to_page_seconds",
                "Time from receiving an alert to handing its first page to a provider.",
                [],
                PAGE_BUCKETS,
            ),
            escalation_lag: Family::histogram(
                "tocsin_escalation_lag_seconds",
                "How late escalation steps fire after their due time.",
                [],
                LAG_BUCKETS,
            ),
            outbox_depth: Family::new(
                "tocsin_outbox_depth",
                "Notifications waiting in the outbox (queued, being sent, or folded into an SMS bundle not sent yet).",
                [],
                Kind::Gauge,
            ),
            incidents: Family::new(
                "tocsin_incidents",
                "Incidents by state, read from the store at scrape time.",
                ["state"],
                Kind::Gauge,
            ),
            twilio_signature_failures: Family::new(
                "tocsin_twilio_signature_failures_total",
                "Twilio webhooks rejected for a bad X-Twilio-Signature.",
                [],
                Kind::Counter,
            ),
            build_info: Family::new(
                "tocsin_build_info",
                "Always 1; the version label names the running build.",
                ["version"],
                Kind::Gauge,
            ),
        };
        metrics
            .build_info
            .update([env!("CARGO_PKG_VERSION")], |v| *v = 1);
        metrics
    }

    /// An alert was accepted. `source` is the integration name from the
    /// roster, `status` is `firing` or `resolved`.
    pub fn alert_received(&self, source: &str, status: &str) {
        self.alerts_received.update([source, status], |v| *v += 1);
    }

    /// An alert was dropped as a duplicate. `source` is the integration name.
    pub fn duplicate_alert(&self, source: &str) {
        self.duplicate_alerts.update([source], |v| *v += 1);
    }

    /// A webhook request was answered. `endpoint` is the route pattern
    /// (`/v1/alertmanager/{integration}` style, never the concrete path).
    pub fn webhook_request(&self, endpoint: &str, code: u16, seconds: f64) {
        let code = code.to_string();
        self.webhook_requests
            .update([endpoint, code.as_str()], |v| *v += 1);
        self.webhook_duration
            .update([endpoint], |h| h.observe(seconds));
    }

    /// A notification attempt or delivery report. `channel` is the channel
    /// type (`sms`, `voice`, `email`, `chat`), `provider` the provider kind
    /// (`twilio`, `smtp`, `slack`, …): never a recipient.
    pub fn notification(&self, channel: &str, provider: &str, outcome: NotificationOutcome) {
        self.notifications
            .update([channel, provider, outcome.as_str()], |v| *v += 1);
    }

    /// Seconds from an alert's arrival to its first page being sent.
    pub fn observe_alert_to_page(&self, seconds: f64) {
        self.alert_to_page.update([], |h| h.observe(seconds));
    }

    /// Seconds an escalation step fired after its due time.
    pub fn observe_escalation_lag(&self, seconds: f64) {
        self.escalation_lag.update([], |h| h.observe(seconds));
    }

    /// The number of notifications waiting in the outbox.
    pub fn set_outbox_depth(&self, depth: u64) {
        let depth = i64::try_from(depth).unwrap_or(i64::MAX);
        self.outbox_depth.update([], |v| *v = depth);
    }

    /// The number of incidents in `state` (`triggered`, `acknowledged`, …),
    /// set at scrape time; set 0 for states that emptied.
    pub fn set_incidents(&self, state: &str, count: u64) {
        let count = i64::try_from(count).unwrap_or(i64::MAX);
        self.incidents.update([state], |v| *v = count);
    }

    /// A Twilio webhook failed signature validation.
    pub fn twilio_signature_failure(&self) {
        self.twilio_signature_failures.update([], |v| *v += 1);
    }

    /// Every family in the text exposition format 0.0.4 ([`CONTENT_TYPE`]).
    pub fn render(&self) -> String {
        let mut out = String::new();
        self.alerts_received.render(&mut out);
        self.duplicate_alerts.render(&mut out);
        self.webhook_requests.render(&mut out);
        self.webhook_duration.render(&mut out);
        self.notifications.render(&mut out);
        self.alert_to_page.render(&mut out);
        self.escalation_lag.render(&mut out);
        self.outbox_depth.render(&mut out);
        self.incidents.render(&mut out);
        self.twilio_signature_failures.render(&mut out);
        self.build_info.render(&mut out);
        out
    }
}

/// The `# TYPE` of a family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Counter,
    Gauge,
    Histogram,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        }
    }
}

/// One metric name with `N` labels; each label set is one series of `V`.
#[derive(Debug)]
struct Family<const N: usize, V> {
    name: &'static str,
    help: &'static str,
    labels: [&'static str; N],
    kind: Kind,
    /// A fresh series' value (histograms need their bucket bounds).
    zero: V,
    series: Mutex<BTreeMap<[String; N], V>>,
}

impl<const N: usize, V: Clone + Sample> Family<N, V> {
    fn with_zero(
        name: &'static str,
        help: &'static str,
        labels: [&'static str; N],
        kind: Kind,
        zero: V,
    ) -> Self {
        let mut series = BTreeMap::new();
        if N == 0 {
            // An unlabelled series exists from the start, so it reads 0.
            series.insert(std::array::from_fn(|_| String::new()), zero.clone());
        }
        Family {
            name,
            help,
            labels,
            kind,
            zero,
            series: Mutex::new(series),
        }
    }

    fn update(&self, values: [&str; N], change: impl FnOnce(&mut V)) {
        let mut series = lock(&self.series);
        let mut key = values.map(str::to_owned);
        if !series.contains_key(&key) && series.len() >= MAX_SERIES {
            key = std::array::from_fn(|_| "other".to_owned());
        }
        change(series.entry(key).or_insert_with(|| self.zero.clone()));
    }

    fn render(&self, out: &mut String) {
        let _ = writeln!(out, "# HELP {} {}", self.name, escape_help(self.help));
        let _ = writeln!(out, "# TYPE {} {}", self.name, self.kind.as_str());
        for (values, sample) in lock(&self.series).iter() {
            let labels: Vec<(&str, &str)> = self
                .labels
                .iter()
                .copied()
                .zip(values.iter().map(String::as_str))
                .collect();
            sample.render(self.name, &labels, out);
        }
    }
}

impl<const N: usize, V: Clone + Sample + Default> Family<N, V> {
    fn new(name: &'static str, help: &'static str, labels: [&'static str; N], kind: Kind) -> Self {
        Self::with_zero(name, help, labels, kind, V::default())
    }
}

impl<const N: usize> Family<N, Histogram> {
    fn histogram(
        name: &'static str,
        help: &'static str,
        labels: [&'static str; N],
        bounds: &'static [f64],
    ) -> Self {
        Self::with_zero(name, help, labels, Kind::Histogram, Histogram::new(bounds))
    }
}

/// How one series writes its sample line(s).
trait Sample {
    fn render(&self, name: &str, labels: &[(&str, &str)], out: &mut String);
}

impl Sample for u64 {
    fn render(&self, name: &str, labels: &[(&str, &str)], out: &mut String) {
        let _ = writeln!(out, "{name}{} {self}", label_set(labels));
    }
}

impl Sample for i64 {
    fn render(&self, name: &str, labels: &[(&str, &str)], out: &mut String) {
        let _ = writeln!(out, "{name}{} {self}", label_set(labels));
    }
}

/// Counts per bucket (not cumulative; the `+Inf` bucket is `count`).
#[derive(Debug, Clone)]
struct Histogram {
    bounds: &'static [f64],
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

impl Histogram {
    fn new(bounds: &'static [f64]) -> Self {
        Histogram {
            bounds,
            counts: vec![0; bounds.len()],
            sum: 0.0,
            count: 0,
        }
    }

    fn observe(&mut self, value: f64) {
        if value.is_nan() {
            // NaN would turn `_sum` into NaN for good.
            return;
        }
        if let Some(i) = self.bounds.iter().position(|bound| value <= *bound) {
            self.counts[i] += 1;
        }
        self.sum += value;
        self.count += 1;
    }
}

impl Sample for Histogram {
    fn render(&self, name: &str, labels: &[(&str, &str)], out: &mut String) {
        let mut cumulative = 0;
        for (bound, count) in self.bounds.iter().zip(&self.counts) {
            cumulative += count;
            let le = number(*bound);
            let with_le = [labels, &[("le", le.as_str())]].concat();
            let _ = writeln!(out, "{name}_bucket{} {cumulative}", label_set(&with_le));
        }
        let with_inf = [labels, &[("le", "+Inf")]].concat();
        let _ = writeln!(out, "{name}_bucket{} {}", label_set(&with_inf), self.count);
        let _ = writeln!(out, "{name}_sum{} {}", label_set(labels), number(self.sum));
        let _ = writeln!(out, "{name}_count{} {}", label_set(labels), self.count);
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic elsewhere must not take /metrics down with it.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// `{a="x",b="y"}`, or nothing without labels.
fn label_set(labels: &[(&str, &str)]) -> String {
    if labels.is_empty() {
        return String::new();
    }
    let pairs: Vec<String> = labels
        .iter()
        .map(|(name, value)| format!("{name}=\"{}\"", escape_label(value)))
        .collect();
    format!("{{{}}}", pairs.join(","))
}

/// Label values escape `\`, `"` and newline.
fn escape_label(value: &str) -> String {
    value
        .replace('\\', r"\\")
        .replace('"', "\\\"")
        .replace('\n', r"\n")
}

/// HELP text escapes `\` and newline only.
fn escape_help(text: &str) -> String {
    text.replace('\\', r"\\").replace('\n', r"\n")
}

/// A float as Prometheus reads it: `+Inf`, `-Inf`, `NaN`, or decimal.
fn number(value: f64) -> String {
    if value.is_nan() {
        "NaN".into()
    } else if value == f64::INFINITY {
        "+Inf".into()
    } else if value == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        value.to_string()
    }
}
