use super::*;

fn rendered<const N: usize, V: Clone + Sample>(family: &Family<N, V>) -> String {
    let mut out = String::new();
    family.render(&mut out);
    out
}

#[test]
fn counter_renders_exactly() {
    let family: Family<2, u64> = Family::new(
        "tocsin_alerts_received_total",
        "Alerts accepted.",
        ["source", "status"],
        Kind::Counter,
    );
    family.update(["prod", "firing"], |v| *v += 1);
    family.update(["prod", "firing"], |v| *v += 1);
    family.update(["grafana", "resolved"], |v| *v += 1);
    assert_eq!(
        rendered(&family),
        "# HELP tocsin_alerts_received_total Alerts accepted.\n\
         # TYPE tocsin_alerts_received_total counter\n\
         tocsin_alerts_received_total{source=\"grafana\",status=\"resolved\"} 1\n\
         tocsin_alerts_received_total{source=\"prod\",status=\"firing\"} 2\n"
    );
}

#[test]
fn gauge_renders_exactly_and_can_go_down() {
    let metrics = Metrics::new();
    metrics.set_incidents("triggered", 3);
    metrics.set_incidents("acknowledged", 1);
    metrics.set_incidents("triggered", 2);
    assert_eq!(
        rendered(&metrics.incidents),
        "# HELP tocsin_incidents Incidents by state, read from the store at scrape time.\n\
         # TYPE tocsin_incidents gauge\n\
         tocsin_incidents{state=\"acknowledged\"} 1\n\
         tocsin_incidents{state=\"triggered\"} 2\n"
    );
}

#[test]
fn histogram_renders_cumulative_buckets_sum_and_count() {
    let family = Family::histogram("lag_seconds", "Lag.", ["endpoint"], &[0.1, 1.0]);
    for value in [0.05, 0.1, 0.5, 5.0] {
        family.update(["a"], |h| h.observe(value));
    }
    assert_eq!(
        rendered(&family),
        "# HELP lag_seconds Lag.\n\
         # TYPE lag_seconds histogram\n\
         lag_seconds_bucket{endpoint=\"a\",le=\"0.1\"} 2\n\
         lag_seconds_bucket{endpoint=\"a\",le=\"1\"} 3\n\
         lag_seconds_bucket{endpoint=\"a\",le=\"+Inf\"} 4\n\
         lag_seconds_sum{endpoint=\"a\"} 5.65\n\
         lag_seconds_count{endpoint=\"a\"} 4\n"
    );
}

#[test]
fn unlabelled_families_read_zero_before_any_event() {
    let metrics = Metrics::new();
    metrics.observe_escalation_lag(f64::NAN);
    assert_eq!(
        rendered(&metrics.twilio_signature_failures),
        "# HELP tocsin_twilio_signature_failures_total Twilio webhooks rejected for a bad X-Twilio-Signature.\n\
         # TYPE tocsin_twilio_signature_failures_total counter\n\
         tocsin_twilio_signature_failures_total 0\n"
    );
    let lag = rendered(&metrics.escalation_lag);
    assert!(
        lag.contains("\ntocsin_escalation_lag_seconds_bucket{le=\"0.001\"} 0\n"),
        "{lag}"
    );
    assert!(
        lag.contains("\ntocsin_escalation_lag_seconds_bucket{le=\"60\"} 0\n"),
        "{lag}"
    );
    assert!(
        lag.ends_with(
            "tocsin_escalation_lag_seconds_sum 0\ntocsin_escalation_lag_seconds_count 0\n"
        ),
        "{lag}"
    );
}

#[test]
fn label_values_are_escaped() {
    fn check(input: &str, expected: &str) {
        assert_eq!(escape_label(input), expected, "{input:?}");
    }
    check("plain", "plain");
    check(r"a\b", r"a\\b");
    check("say \"hi\"", r#"say \"hi\""#);
    check("two\nlines", r"two\nlines");
    check("\\\"\n", r#"\\\"\n"#);

    let metrics = Metrics::new();
    metrics.duplicate_alert("we\"ird\\src\n");
    assert!(
        metrics
            .render()
            .contains("tocsin_duplicate_alerts_total{source=\"we\\\"ird\\\\src\\n\"} 1\n")
    );
}

#[test]
fn numbers_render_as_prometheus_reads_them() {
    fn check(input: f64, expected: &str) {
        assert_eq!(number(input), expected, "{input}");
    }
    check(0.0, "0");
    check(1.0, "1");
    check(0.005, "0.005");
    check(2.5, "2.5");
    check(f64::INFINITY, "+Inf");
    check(f64::NEG_INFINITY, "-Inf");
    check(f64::NAN, "NaN");
}

#[test]
fn typed_methods_feed_their_families() {
    let metrics = Metrics::new();
    metrics.alert_received("prod", "firing");
    metrics.webhook_request("/v1/alertmanager/{integration}", 202, 0.02);
    metrics.notification("sms", "twilio", NotificationOutcome::Delivered);
    metrics.observe_alert_to_page(3.0);
    metrics.set_outbox_depth(7);
    metrics.twilio_signature_failure();
    let text = metrics.render();
    for line in [
        "tocsin_alerts_received_total{source=\"prod\",status=\"firing\"} 1",
        "tocsin_webhook_requests_total{endpoint=\"/v1/alertmanager/{integration}\",code=\"202\"} 1",
        "tocsin_webhook_request_duration_seconds_bucket{endpoint=\"/v1/alertmanager/{integration}\",le=\"0.025\"} 1",
        "tocsin_webhook_request_duration_seconds_bucket{endpoint=\"/v1/alertmanager/{integration}\",le=\"0.01\"} 0",
        "tocsin_notifications_total{channel=\"sms\",provider=\"twilio\",outcome=\"delivered\"} 1",
        "tocsin_alert_to_page_seconds_bucket{le=\"2.5\"} 0",
        "tocsin_alert_to_page_seconds_bucket{le=\"5\"} 1",
        "tocsin_alert_to_page_seconds_sum 3",
        "tocsin_outbox_depth 7",
        "tocsin_twilio_signature_failures_total 1",
        &format!(
            "tocsin_build_info{{version=\"{}\"}} 1",
            env!("CARGO_PKG_VERSION")
        ),
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing {line:?} in\n{text}"
        );
    }
}

#[test]
fn every_family_has_help_and_type_once() {
    let text = Metrics::new().render();
    for (name, kind) in [
        ("tocsin_alerts_received_total", "counter"),
        ("tocsin_duplicate_alerts_total", "counter"),
        ("tocsin_webhook_requests_total", "counter"),
        ("tocsin_webhook_request_duration_seconds", "histogram"),
        ("tocsin_notifications_total", "counter"),
        ("tocsin_alert_to_page_seconds", "histogram"),
        ("tocsin_escalation_lag_seconds", "histogram"),
        ("tocsin_outbox_depth", "gauge"),
        ("tocsin_incidents", "gauge"),
        ("tocsin_twilio_signature_failures_total", "counter"),
        ("tocsin_build_info", "gauge"),
    ] {
        let type_line = format!("# TYPE {name} {kind}");
        assert_eq!(
            text.lines().filter(|l| *l == type_line).count(),
            1,
            "{name}"
        );
        let help = format!("# HELP {name} ");
        assert_eq!(
            text.lines().filter(|l| l.starts_with(&help)).count(),
            1,
            "{name}"
        );
    }
}

#[test]
fn runaway_label_values_fold_into_other() {
    let metrics = Metrics::new();
    for i in 0..MAX_SERIES + 5 {
        metrics.duplicate_alert(&format!("source-{i}"));
    }
    metrics.duplicate_alert("source-0");
    let text = rendered(&metrics.duplicate_alerts);
    assert_eq!(text.lines().count(), 2 + MAX_SERIES + 1);
    assert!(text.contains("\ntocsin_duplicate_alerts_total{source=\"other\"} 5\n"));
    assert!(text.contains("\ntocsin_duplicate_alerts_total{source=\"source-0\"} 2\n"));
}
