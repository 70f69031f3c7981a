use std::time::Duration;

use super::fake_smtp::{FakeSmtp, ReceivedMail, Stage};
use super::*;
use crate::config::Secret;

const FROM: &str = "Tocsin <tocsin@example.org>";
const TO: &str = "alice@example.org";
const WAIT: Duration = Duration::from_secs(5);

async fn fake() -> FakeSmtp {
    FakeSmtp::start().await.expect("bind 127.0.0.1:0")
}

fn sender(smtp: &Smtp) -> EmailSender {
    EmailSender::new(smtp).expect("valid test config")
}

async fn send(server: &FakeSmtp) -> Result<(), SendError> {
    sender(&server.smtp_config(FROM))
        .send(TO, "[P1] disk full", "plain body", "<p>html body</p>")
        .await
}

fn only(mails: Vec<ReceivedMail>) -> ReceivedMail {
    assert_eq!(mails.len(), 1, "{mails:#?}");
    mails.into_iter().next().expect("one mail")
}

#[tokio::test]
async fn plain_send_arrives_with_both_parts_and_headers() {
    let server = fake().await;
    send(&server).await.expect("accepted");
    let mail = only(server.wait_for(1, WAIT).await.expect("arrived"));

    assert_eq!(mail.from, "tocsin@example.org");
    assert_eq!(mail.to, vec![TO.to_owned()]);
    assert_eq!(mail.auth, None);
    assert_eq!(mail.header("From").as_deref(), Some(FROM));
    assert_eq!(mail.header("To").as_deref(), Some(TO));
    assert_eq!(mail.header("Subject").as_deref(), Some("[P1] disk full"));
    assert_eq!(mail.header("MIME-Version").as_deref(), Some("1.0"));
    let content_type = mail.header("Content-Type").expect("content type");
    assert!(
        content_type.starts_with("multipart/alternative;"),
        "{content_type}"
    );
    let plain = mail
        .data
        .find("Content-Type: text/plain")
        .expect("text part");
    let html = mail
        .data
        .find("Content-Type: text/html")
        .expect("html part");
    assert!(plain < html, "the preferred (HTML) part comes last");
    assert!(mail.data.contains("\r\nplain body\r\n"), "{}", mail.data);
    assert!(
        mail.data.contains("\r\n<p>html body</p>\r\n"),
        "{}",
        mail.data
    );
}

#[tokio::test]
async fn credentials_are_presented_when_configured() {
    let server = fake().await;
    let smtp = Smtp {
        username: Some("tocsin".into()),
        password: Some(Secret::new("hunter2".into())),
        ..server.smtp_config(FROM)
    };
    sender(&smtp)
        .send(TO, "s", "t", "<p>h</p>")
        .await
        .expect("accepted");
    let mail = only(server.received());
    assert_eq!(mail.auth, Some(("tocsin".into(), "hunter2".into())));
}

#[tokio::test]
async fn lines_starting_with_a_dot_survive_the_round_trip() {
    let server = fake().await;
    let text = "line one\r\n.hidden\r\n.\r\nend";
    sender(&server.smtp_config(FROM))
        .send(TO, "dots", text, "<p>h</p>")
        .await
        .expect("accepted");
    let mail = only(server.received());
    assert!(
        mail.data
            .contains("\r\nline one\r\n.hidden\r\n.\r\nend\r\n"),
        "{}",
        mail.data
    );
}

#[tokio::test]
async fn subject_control_characters_cannot_inject_headers() {
    let server = fake().await;
    sender(&server.smtp_config(FROM))
        .send(TO, "a\r\nBcc: eve@example.org", "t", "<p>h</p>")
        .await
        .expect("accepted");
    let mail = only(server.received());
    assert_eq!(mail.header("Bcc"), None);
    assert_eq!(mail.to, vec![TO.to_owned()]);
}

/// What a scripted server fault becomes.
#[derive(Debug, PartialEq)]
enum Seen {
    Permanent(Option<u32>),
    Transient { ambiguous: bool },
}

fn seen(result: Result<(), SendError>) -> Seen {
    match result.expect_err("the send must fail") {
        SendError::Permanent { code, .. } => Seen::Permanent(code),
        SendError::Transient { ambiguous, .. } => Seen::Transient { ambiguous },
    }
}

#[tokio::test]
async fn scripted_replies_are_classified() {
    async fn check(stage: Stage, code: u16, expected: Seen) {
        let server = fake().await;
        server.fail_next(stage, code);
        assert_eq!(seen(send(&server).await), expected, "{stage:?} {code}");
        assert_eq!(server.received(), vec![], "{stage:?} {code}");
    }
    check(Stage::Rcpt, 550, Seen::Permanent(Some(550))).await;
    check(Stage::Rcpt, 451, Seen::Transient { ambiguous: false }).await;
    check(Stage::Data, 554, Seen::Permanent(Some(554))).await;
    check(Stage::Data, 421, Seen::Transient { ambiguous: false }).await;
    check(Stage::EndOfData, 552, Seen::Permanent(Some(552))).await;
    check(Stage::EndOfData, 451, Seen::Transient { ambiguous: false }).await;
}

#[tokio::test]
async fn a_fault_applies_once() {
    let server = fake().await;
    server.fail_next(Stage::Rcpt, 451);
    assert!(send(&server).await.is_err());
    send(&server).await.expect("second attempt accepted");
    assert_eq!(server.received().len(), 1);
}

#[tokio::test]
async fn connection_refused_is_transient_and_not_ambiguous() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    drop(listener);
    let smtp = Smtp {
        host: "127.0.0.1".into(),
        port,
        tls: SmtpTls::None,
        username: None,
        password: None,
        from: FROM.into(),
    };
    let result = sender(&smtp).send(TO, "s", "t", "<p>h</p>").await;
    assert_eq!(seen(result), Seen::Transient { ambiguous: false });
}

#[tokio::test]
async fn silence_after_the_message_is_an_ambiguous_timeout() {
    let server = fake().await;
    server.stall_next(Stage::EndOfData);
    let short = EmailSender::with_timeout(&server.smtp_config(FROM), Duration::from_millis(300))
        .expect("valid test config");
    let result = short.send(TO, "s", "t", "<p>h</p>").await;
    assert_eq!(seen(result), Seen::Transient { ambiguous: true });
}

#[tokio::test]
async fn bad_addresses_are_permanent() {
    let server = fake().await;
    let result = sender(&server.smtp_config(FROM))
        .send("not an address", "s", "t", "<p>h</p>")
        .await;
    assert_eq!(seen(result), Seen::Permanent(None));
    assert_eq!(server.received(), vec![]);
}

#[tokio::test]
async fn invalid_configs_are_refused() {
    let server = fake().await;
    let check = |smtp: Smtp, expected: &str| {
        let err = EmailSender::new(&smtp).expect_err("must be refused");
        assert!(err.contains(expected), "{err}");
    };
    check(server.smtp_config("nobody"), "smtp.from");
    check(
        Smtp {
            username: Some("u".into()),
            ..server.smtp_config(FROM)
        },
        "together",
    );
}

#[test]
fn building_outside_a_runtime_is_an_error_not_a_panic() {
    let smtp = Smtp {
        host: "127.0.0.1".into(),
        port: 25,
        tls: SmtpTls::None,
        username: None,
        password: None,
        from: FROM.into(),
    };
    let err = EmailSender::new(&smtp).expect_err("no runtime");
    assert!(err.contains("tokio runtime"), "{err}");
}

#[test]
fn debug_shows_no_credentials() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let _guard = runtime.enter();
    let smtp = Smtp {
        host: "smtp.example.org".into(),
        port: 587,
        tls: SmtpTls::StartTls,
        username: Some("tocsin".into()),
        password: Some(Secret::new("hunter2".into())),
        from: FROM.into(),
    };
    let debug = format!("{:?}", EmailSender::new(&smtp).expect("valid config"));
    assert!(!debug.contains("hunter2"), "{debug}");
}
