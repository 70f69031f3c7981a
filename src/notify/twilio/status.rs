//! Twilio delivery reports: status callbacks (PROTOCOLS §3f), their order,
//! and what each status means for a page.
//!
//! Owns: reading callback form fields, the "furthest status wins" order, and
//! the status → [`Outcome`] map. Must not: treat a completed call as an
//! acknowledgement (voicemail completes too; only Digits/SMS/HTTP ack).

/// Which kind of Twilio resource a status belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusKind {
    /// An SMS (`SM…`/`MM…`).
    Message,
    /// A voice call (`CA…`).
    Call,
}

/// One delivery report, from a status callback or a lookup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusUpdate {
    /// The provider id the report is about.
    pub sid: String,
    /// Message or call.
    pub kind: StatusKind,
    /// Twilio's status word, lower-cased.
    pub status: String,
    /// Twilio's error code on failure (e.g. 30003 unreachable, 30006 landline).
    pub error_code: Option<u32>,
    /// Answering-machine detection result (`human`, `machine_start`, …).
    pub answered_by: Option<String>,
}

/// What a status means for the page it reports on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Not final yet (an SMS stuck at `sent` may stay here: some carriers
    /// never report delivery).
    Pending,
    /// Reached the handset or was answered — never an acknowledgement.
    Delivered,
    /// Will not arrive: fall back to the next channel.
    Failed,
}

/// Reads a message or call status callback; `None` when the fields are not one.
pub fn status_update(params: &[(String, String)]) -> Option<StatusUpdate> {
    let get = |name: &str| {
        params
            .iter()
            .find(|(n, v)| n == name && !v.trim().is_empty())
            .map(|(_, v)| v.trim())
    };
    let (kind, sid, status) = if let Some(sid) = get("MessageSid").or_else(|| get("SmsSid")) {
        let status = get("MessageStatus").or_else(|| get("SmsStatus"))?;
        (StatusKind::Message, sid, status)
    } else {
        (StatusKind::Call, get("CallSid")?, get("CallStatus")?)
    };
    Some(StatusUpdate {
        sid: sid.to_owned(),
        kind,
        status: status.to_ascii_lowercase(),
        error_code: get("ErrorCode").and_then(|c| c.parse().ok()),
        answered_by: get("AnsweredBy").map(str::to_owned),
    })
}

/// Of the current status `a` and a newly reported `b`, the one to keep:
/// the further along, so out-of-order callbacks never regress. Once a final
/// status is kept, it stays; unknown words never replace a known one.
pub fn furthest<'a>(a: &'a str, b: &'a str) -> &'a str {
    if rank(b) > rank(a) { b } else { a }
}

fn rank(status: &str) -> u8 {
    match status.to_ascii_lowercase().as_str() {
        "scheduled" => 1,
        "accepted" => 2,
        "queued" => 3,
        "initiated" | "sending" => 4,
        "ringing" | "sent" => 5,
        "in-progress" => 6,
        s if is_final(s) => 7,
        _ => 0,
    }
}

fn is_final(status: &str) -> bool {
    matches!(
        status,
        "delivered"
            | "read"
            | "partially_delivered"
            | "undelivered"
            | "failed"
            | "canceled"
            | "completed"
            | "busy"
            | "no-answer"
    )
}

/// What `status` means for the page.
pub fn outcome(status: &str) -> Outcome {
    match status.to_ascii_lowercase().as_str() {
        "delivered" | "read" | "partially_delivered" | "completed" => Outcome::Delivered,
        "undelivered" | "failed" | "canceled" | "busy" | "no-answer" => Outcome::Failed,
        _ => Outcome::Pending,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn furthest_table() {
        fn check(a: &str, b: &str, expected: &str) {
            assert_eq!(furthest(a, b), expected, "furthest({a}, {b})");
        }
        let sms = ["queued", "sending", "sent", "delivered"];
        for (i, earlier) in sms.iter().enumerate() {
            for later in &sms[i + 1..] {
                check(earlier, later, later);
                check(later, earlier, later);
            }
        }
        let calls = ["queued", "initiated", "ringing", "in-progress", "completed"];
        for (i, earlier) in calls.iter().enumerate() {
            for later in &calls[i + 1..] {
                check(earlier, later, later);
                check(later, earlier, later);
            }
        }
        for last in ["undelivered", "failed"] {
            check("sent", last, last);
            check(last, "sent", last);
            check(last, "queued", last);
        }
        for last in ["busy", "no-answer", "failed", "canceled"] {
            check("ringing", last, last);
            check(last, "in-progress", last);
        }
        // A final status is never replaced, even by another final one.
        check("failed", "delivered", "failed");
        check("delivered", "undelivered", "delivered");
        check("completed", "no-answer", "completed");
        check("sent", "sent", "sent");
        check("sent", "mystery", "sent");
        check("mystery", "queued", "queued");
        check("accepted", "queued", "queued");
        check("Sent", "DELIVERED", "DELIVERED");
    }

    #[test]
    fn outcome_table() {
        fn check(status: &str, expected: Outcome) {
            assert_eq!(outcome(status), expected, "{status}");
        }
        use Outcome::*;
        for s in [
            "queued",
            "accepted",
            "scheduled",
            "sending",
            "sent",
            "initiated",
            "ringing",
            "in-progress",
            "",
            "??",
        ] {
            check(s, Pending);
        }
        for s in ["delivered", "read", "completed", "Delivered"] {
            check(s, Delivered);
        }
        for s in ["undelivered", "failed", "busy", "no-answer", "canceled"] {
            check(s, Failed);
        }
    }

    #[test]
    fn status_update_table() {
        fn check(params: &[(&str, &str)], expected: Option<StatusUpdate>) {
            assert_eq!(status_update(&form(params)), expected, "{params:?}");
        }
        let up = |sid: &str, kind, status: &str, error_code, answered_by: Option<&str>| {
            Some(StatusUpdate {
                sid: sid.into(),
                kind,
                status: status.into(),
                error_code,
                answered_by: answered_by.map(Into::into),
            })
        };
        check(
            &[
                ("MessageSid", "SM1"),
                ("SmsSid", "SM1"),
                ("MessageStatus", "undelivered"),
                ("SmsStatus", "undelivered"),
                ("ErrorCode", "30003"),
            ],
            up("SM1", StatusKind::Message, "undelivered", Some(30003), None),
        );
        check(
            &[("SmsSid", "SM2"), ("SmsStatus", "Delivered")],
            up("SM2", StatusKind::Message, "delivered", None, None),
        );
        check(
            &[
                ("CallSid", "CA1"),
                ("CallStatus", "completed"),
                ("AnsweredBy", "machine_start"),
                ("CallDuration", "12"),
            ],
            up(
                "CA1",
                StatusKind::Call,
                "completed",
                None,
                Some("machine_start"),
            ),
        );
        check(
            &[
                ("CallSid", "CA1"),
                ("CallStatus", "busy"),
                ("ErrorCode", ""),
            ],
            up("CA1", StatusKind::Call, "busy", None, None),
        );
        check(
            &[
                ("CallSid", "CA1"),
                ("CallStatus", "failed"),
                ("ErrorCode", "x"),
            ],
            up("CA1", StatusKind::Call, "failed", None, None),
        );
        check(&[("MessageSid", "SM1")], None);
        check(&[("CallSid", "CA1")], None);
        check(&[("CallStatus", "completed")], None);
        check(&[("MessageSid", ""), ("MessageStatus", "sent")], None);
        check(&[], None);
    }
}
