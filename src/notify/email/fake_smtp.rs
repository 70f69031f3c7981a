//! A loopback SMTP server for tests: enough RFC 5321 for lettre's client.
//!
//! Owns: accepting on `127.0.0.1:0`, answering EHLO/HELO, AUTH PLAIN and
//! LOGIN (any credentials), MAIL, RCPT, DATA (dot-unstuffed), RSET, NOOP and
//! QUIT, recording each accepted message, and failing or stalling the next
//! RCPT, DATA or end-of-data on request. Must not: be used by the daemon, do
//! TLS, or check anything a real server would (it accepts every address).

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio::task::{JoinHandle, JoinSet};

use crate::config::{Smtp, SmtpTls};

/// One message the fake accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedMail {
    /// Envelope sender, without the angle brackets.
    pub from: String,
    /// Envelope recipients, without the angle brackets.
    pub to: Vec<String>,
    /// The message as sent after DATA, dot-unstuffed, CRLF line ends,
    /// without the terminating `.` line.
    pub data: String,
    /// `(user, password)` if the session authenticated.
    pub auth: Option<(String, String)>,
}

impl ReceivedMail {
    /// The first header called `name` (case-insensitive), unfolded.
    pub fn header(&self, name: &str) -> Option<String> {
        let head = self.data.split("\r\n\r\n").next().unwrap_or_default();
        let mut found: Option<String> = None;
        for line in head.split("\r\n") {
            if line.starts_with([' ', '\t']) {
                if let Some(value) = found.as_mut() {
                    value.push_str(line);
                }
                continue;
            }
            if found.is_some() {
                break;
            }
            if let Some((key, value)) = line.split_once(':')
                && key.eq_ignore_ascii_case(name)
            {
                found = Some(value.trim_start().to_owned());
            }
        }
        found
    }
}

/// Where in the dialogue a scripted fault applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// The reply to a `RCPT TO`.
    Rcpt,
    /// The reply to the `DATA` command (instead of 354).
    Data,
    /// The reply after the message's final `.` (the message is not recorded).
    EndOfData,
}

/// What the fake does at a [`Stage`] instead of succeeding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Answer with this reply code (4xx transient, 5xx permanent).
    Reply(u16),
    /// Never answer; only QUIT or a closed connection ends the session.
    Stall,
}

#[derive(Default)]
struct Shared {
    mails: Arc<Mutex<Vec<ReceivedMail>>>,
    faults: Mutex<VecDeque<(Stage, Fault)>>,
    arrived: Notify,
}

/// A running fake SMTP server; stops accepting when dropped.
pub struct FakeSmtp {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl Drop for FakeSmtp {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeSmtp {
    /// Binds `127.0.0.1:0` and starts serving.
    pub async fn start() -> std::io::Result<FakeSmtp> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::default());
        let task = tokio::spawn(accept_loop(listener, Arc::clone(&shared)));
        Ok(FakeSmtp { addr, shared, task })
    }

    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// A plain-text (`tls: none`) `providers.smtp` pointing here.
    pub fn smtp_config(&self, from: &str) -> Smtp {
        Smtp {
            host: self.addr.ip().to_string(),
            port: self.addr.port(),
            tls: SmtpTls::None,
            username: None,
            password: None,
            from: from.to_owned(),
        }
    }

    /// The shared list every accepted message is appended to.
    pub fn mails(&self) -> Arc<Mutex<Vec<ReceivedMail>>> {
        Arc::clone(&self.shared.mails)
    }

    /// A snapshot of the messages accepted so far.
    pub fn received(&self) -> Vec<ReceivedMail> {
        lock(&self.shared.mails).clone()
    }

    /// Waits until at least `count` messages arrived, for at most `within`;
    /// returns the snapshot, or `None` on timeout.
    pub async fn wait_for(&self, count: usize, within: Duration) -> Option<Vec<ReceivedMail>> {
        let wait = async {
            loop {
                let notified = self.shared.arrived.notified();
                tokio::pin!(notified);
                notified.as_mut().enable();
                let mails = self.received();
                if mails.len() >= count {
                    return mails;
                }
                notified.await;
            }
        };
        tokio::time::timeout(within, wait).await.ok()
    }

    /// Answers the next `stage` with `code` instead of succeeding.
    pub fn fail_next(&self, stage: Stage, code: u16) {
        self.script(stage, Fault::Reply(code));
    }

    /// Never answers the next `stage`.
    pub fn stall_next(&self, stage: Stage) {
        self.script(stage, Fault::Stall);
    }

    fn script(&self, stage: Stage, fault: Fault) {
        lock(&self.shared.faults).push_back((stage, fault));
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panicking test thread must not hide the mail from the next assertion.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    fn take_fault(&self, stage: Stage) -> Option<Fault> {
        let mut faults = lock(&self.faults);
        let index = faults.iter().position(|(s, _)| *s == stage)?;
        faults.remove(index).map(|(_, fault)| fault)
    }

    fn record(&self, mail: ReceivedMail) {
        lock(&self.mails).push(mail);
        self.arrived.notify_waiters();
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    // Dropping the set (when the task is aborted) aborts every session.
    let mut sessions = JoinSet::new();
    while let Ok((stream, _peer)) = listener.accept().await {
        while sessions.try_join_next().is_some() {}
        let shared = Arc::clone(&shared);
        sessions.spawn(async move {
            // A client hanging up mid-dialogue is not the fake's concern.
            let _ = Session::new(stream, shared).run().await;
        });
    }
}

/// Transaction state of one connection.
struct Session {
    reader: BufReader<OwnedReadHalf>,
    writer: OwnedWriteHalf,
    shared: Arc<Shared>,
    auth: Option<(String, String)>,
    from: Option<String>,
    to: Vec<String>,
}

/// Whether the session goes on after a command.
enum Next {
    Continue,
    Close,
}

impl Session {
    fn new(stream: TcpStream, shared: Arc<Shared>) -> Self {
        let (read, writer) = stream.into_split();
        Session {
            reader: BufReader::new(read),
            writer,
            shared,
            auth: None,
            from: None,
            to: Vec::new(),
        }
    }

    async fn run(mut self) -> std::io::Result<()> {
        self.reply("220 fake.smtp ESMTP ready").await?;
        while let Some(line) = self.line().await? {
            if let Next::Close = self.command(&line).await? {
                break;
            }
        }
        Ok(())
    }

    async fn command(&mut self, line: &str) -> std::io::Result<Next> {
        let (verb, rest) = line.split_once(' ').unwrap_or((line, ""));
        match verb.to_ascii_uppercase().as_str() {
            "EHLO" => {
                self.reply("250-fake.smtp\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250-AUTH PLAIN LOGIN\r\n250 OK")
                    .await?
            }
            "HELO" => self.reply("250 fake.smtp").await?,
            "AUTH" => self.authenticate(rest).await?,
            "MAIL" => {
                self.from = Some(path(rest));
                self.to.clear();
                self.reply("250 2.1.0 OK").await?;
            }
            "RCPT" => return self.rcpt(rest).await,
            "DATA" => return self.data().await,
            "RSET" => {
                self.from = None;
                self.to.clear();
                self.reply("250 2.0.0 OK").await?;
            }
            "NOOP" => self.reply("250 2.0.0 OK").await?,
            "QUIT" => {
                self.reply("221 2.0.0 bye").await?;
                return Ok(Next::Close);
            }
            _ => self.reply("502 5.5.2 command not implemented").await?,
        }
        Ok(Next::Continue)
    }

    async fn rcpt(&mut self, rest: &str) -> std::io::Result<Next> {
        match self.shared.take_fault(Stage::Rcpt) {
            Some(fault) => return self.fail(fault).await,
            None => self.to.push(path(rest)),
        }
        self.reply("250 2.1.5 OK").await?;
        Ok(Next::Continue)
    }

    async fn data(&mut self) -> std::io::Result<Next> {
        if let Some(fault) = self.shared.take_fault(Stage::Data) {
            return self.fail(fault).await;
        }
        self.reply("354 end data with <CR><LF>.<CR><LF>").await?;
        let mut data = String::new();
        loop {
            let Some(line) = self.line().await? else {
                return Ok(Next::Close);
            };
            if line == "." {
                break;
            }
            // RFC 5321 §4.5.2: a leading dot was doubled by the client.
            data.push_str(line.strip_prefix('.').unwrap_or(&line));
            data.push_str("\r\n");
        }
        if let Some(fault) = self.shared.take_fault(Stage::EndOfData) {
            return self.fail(fault).await;
        }
        let mail = ReceivedMail {
            from: self.from.take().unwrap_or_default(),
            to: std::mem::take(&mut self.to),
            data,
            auth: self.auth.clone(),
        };
        self.shared.record(mail);
        self.reply("250 2.0.0 OK queued").await?;
        Ok(Next::Continue)
    }

    async fn fail(&mut self, fault: Fault) -> std::io::Result<Next> {
        match fault {
            Fault::Reply(code) => {
                self.reply(&format!("{code} scripted failure")).await?;
                Ok(Next::Continue)
            }
            Fault::Stall => {
                // Silent until the client gives up; answer a QUIT so its
                // clean-up does not hang either.
                while let Some(line) = self.line().await? {
                    if line.eq_ignore_ascii_case("QUIT") {
                        self.reply("221 2.0.0 bye").await?;
                        break;
                    }
                }
                Ok(Next::Close)
            }
        }
    }

    async fn authenticate(&mut self, rest: &str) -> std::io::Result<()> {
        let (mechanism, initial) = rest.split_once(' ').unwrap_or((rest, ""));
        let credentials = match mechanism.to_ascii_uppercase().as_str() {
            "PLAIN" => {
                let response = match initial {
                    "" => self.challenge("").await?,
                    given => given.to_owned(),
                };
                let decoded = decode(&response);
                let mut parts = decoded.split('\0').skip(1);
                match (parts.next(), parts.next()) {
                    (Some(user), Some(password)) => Some((user.to_owned(), password.to_owned())),
                    _ => None,
                }
            }
            "LOGIN" => {
                let user = decode(&self.challenge("VXNlcm5hbWU6").await?);
                let password = decode(&self.challenge("UGFzc3dvcmQ6").await?);
                Some((user, password))
            }
            _ => None,
        };
        match credentials {
            Some(credentials) => {
                self.auth = Some(credentials);
                self.reply("235 2.7.0 authentication successful").await
            }
            None => self.reply("504 5.5.4 unrecognized authentication").await,
        }
    }

    async fn challenge(&mut self, prompt: &str) -> std::io::Result<String> {
        self.reply(&format!("334 {prompt}")).await?;
        Ok(self.line().await?.unwrap_or_default())
    }

    /// The next line without its CRLF; `None` once the client hung up.
    async fn line(&mut self) -> std::io::Result<Option<String>> {
        let mut buf = Vec::new();
        if self.reader.read_until(b'\n', &mut buf).await? == 0 {
            return Ok(None);
        }
        let text = String::from_utf8_lossy(&buf);
        Ok(Some(text.trim_end_matches(['\r', '\n']).to_owned()))
    }

    async fn reply(&mut self, text: &str) -> std::io::Result<()> {
        self.writer.write_all(text.as_bytes()).await?;
        self.writer.write_all(b"\r\n").await?;
        self.writer.flush().await
    }
}

/// `FROM:<a@b> SIZE=1` → `a@b`.
fn path(argument: &str) -> String {
    let after_colon = argument.split_once(':').map_or(argument, |(_, p)| p);
    let address = after_colon
        .trim_start()
        .split(' ')
        .next()
        .unwrap_or_default();
    address.trim_matches(['<', '>']).to_owned()
}

fn decode(b64: &str) -> String {
    let bytes = STANDARD.decode(b64.trim()).unwrap_or_default();
    String::from_utf8_lossy(&bytes).into_owned()
}
