//! A small W3C WebDriver client over reqwest, and chromedriver itself.
//!
//! The dozen commands these tests use are plain JSON over HTTP; reqwest is
//! already here, while the WebDriver crates bring a second HTTP and TLS
//! stack (fantoccini's rustls path pulls aws-lc beside our ring). Every
//! wait is a condition with a deadline: WebDriver's implicit wait for
//! elements, and [`Browser::wait_until`] for anything else. Never a fixed
//! sleep.

use std::io::{Read, Write};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

/// W3C's key for an element reference.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";
/// How long any condition may take before the test fails.
pub const PATIENCE: Duration = Duration::from_secs(15);

pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
pub const CHROMIUM: &str = "/usr/bin/chromium";

/// A chromedriver process on a free loopback port; killed when dropped.
pub struct Driver {
    child: Child,
    pub base: String,
}

impl Driver {
    pub async fn start() -> Driver {
        // A free port: bind, read it, let go; chromedriver takes it at once.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let driver = Driver {
            child,
            base: format!("http://127.0.0.1:{port}"),
        };
        let http = reqwest::Client::new();
        let status = format!("{}/status", driver.base);
        wait_for("chromedriver to be ready", || async {
            let r = http.get(&status).send().await.ok()?;
            let v: Value = r.json().await.ok()?;
            v["value"]["ready"].as_bool().filter(|r| *r)
        })
        .await;
        driver
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One browser window of headless Chromium, `width` CSS pixels wide (360:
/// a phone, by Chromium's mobile emulation). Quits when dropped.
pub struct Browser {
    http: reqwest::Client,
    session: String,
    driver: String,
}

impl Browser {
    pub async fn open(driver: &Driver, width: u32, height: u32) -> Browser {
        let mut args = vec![
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--hide-scrollbars",
            "--force-device-scale-factor=1",
        ]
        .into_iter()
        .map(String::from)
        .collect::<Vec<_>>();
        args.push(format!("--window-size={width},{height}"));
        let mut options = json!({ "binary": CHROMIUM, "args": args });
        if width < 600 {
            options["mobileEmulation"] = json!({
                "deviceMetrics": { "width": width, "height": height, "pixelRatio": 1.0, "touch": true }
            });
        }
        let caps = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": options,
            "timeouts": { "implicit": PATIENCE.as_millis() as u64, "pageLoad": 30000 }
        }}});
        let http = reqwest::Client::new();
        let r = http
            .post(format!("{}/session", driver.base))
            .json(&caps)
            .send()
            .await
            .expect("new session");
        let v: Value = r.json().await.expect("session json");
        let session = v["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no WebDriver session: {v}"))
            .to_string();
        Browser {
            http,
            session,
            driver: driver.base.clone(),
        }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}/session/{}{path}", self.driver, self.session);
        let mut req = self.http.request(method, &url);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let v: Value = req
            .send()
            .await
            .expect("webdriver call")
            .json()
            .await
            .expect("webdriver json");
        v["value"].clone()
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        let v = self.call(reqwest::Method::POST, path, Some(body)).await;
        if let Some(e) = v.get("error") {
            panic!("webdriver {path}: {e} {}", v["message"]);
        }
        v
    }

    async fn get(&self, path: &str) -> Value {
        self.call(reqwest::Method::GET, path, None).await
    }

    pub async fn goto(&self, url: &str) {
        self.post("/url", json!({ "url": url })).await;
    }

    pub async fn url(&self) -> String {
        self.get("/url")
            .await
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// The element `css` picks, waiting (implicitly) until there is one.
    pub async fn find(&self, css: &str) -> String {
        let v = self
            .call(
                reqwest::Method::POST,
                "/element",
                Some(json!({ "using": "css selector", "value": css })),
            )
            .await;
        v[ELEMENT]
            .as_str()
            .unwrap_or_else(|| panic!("no element {css}: {v}"))
            .to_string()
    }

    pub async fn click(&self, css: &str) {
        let id = self.find(css).await;
        self.post(&format!("/element/{id}/click"), json!({})).await;
    }

    pub async fn type_into(&self, css: &str, text: &str) {
        let id = self.find(css).await;
        self.post(&format!("/element/{id}/value"), json!({ "text": text }))
            .await;
    }

    /// Replaces what the field holds with `text`.
    pub async fn fill(&self, css: &str, text: &str) {
        let id = self.find(css).await;
        self.post(&format!("/element/{id}/clear"), json!({})).await;
        self.post(&format!("/element/{id}/value"), json!({ "text": text }))
            .await;
    }

    /// The element's rendered text.
    pub async fn text(&self, css: &str) -> String {
        let id = self.find(css).await;
        self.get(&format!("/element/{id}/text"))
            .await
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// The element's rendered size (width, height) in CSS pixels.
    pub async fn size(&self, css: &str) -> (f64, f64) {
        let id = self.find(css).await;
        let r = self.get(&format!("/element/{id}/rect")).await;
        (
            r["width"].as_f64().unwrap_or_default(),
            r["height"].as_f64().unwrap_or_default(),
        )
    }

    /// Runs `script` (a function body; `arguments` are `args`) in the page.
    pub async fn run(&self, script: &str, args: Value) -> Value {
        self.post("/execute/sync", json!({ "script": script, "args": args }))
            .await
    }

    /// The text of an open alert dialog, if a script opened one.
    pub async fn alert_text(&self) -> Option<String> {
        self.get("/alert/text").await.as_str().map(str::to_string)
    }

    pub async fn screenshot(&self) -> Vec<u8> {
        use base64::Engine as _;
        let v = self.get("/screenshot").await;
        base64::engine::general_purpose::STANDARD
            .decode(v.as_str().unwrap_or_default())
            .expect("png")
    }

    /// Waits until `cond` on the page's body text holds.
    pub async fn wait_for_text(&self, what: &str, cond: impl Fn(&str) -> bool) -> String {
        wait_for(what, || async {
            let body = self.text("body").await;
            cond(&body).then_some(body)
        })
        .await
    }

    /// Waits until nothing on the page matches `css` (the page moved on).
    pub async fn wait_gone(&self, css: &str) {
        wait_for(&format!("{css} to go"), || async {
            let v = self
                .run(
                    "return document.querySelector(arguments[0]) === null;",
                    json!([css]),
                )
                .await;
            v.as_bool().filter(|gone| *gone)
        })
        .await;
    }

    /// Waits until the current URL satisfies `cond`.
    pub async fn wait_for_url(&self, what: &str, cond: impl Fn(&str) -> bool) -> String {
        wait_for(what, || async {
            let url = self.url().await;
            cond(&url).then_some(url)
        })
        .await
    }
}

impl Drop for Browser {
    /// Quits Chromium (a blocking DELETE: there is no async drop), so no
    /// browser outlives its test even when the test panicked.
    fn drop(&mut self) {
        let Some(addr) = self.driver.strip_prefix("http://") else {
            return;
        };
        if let Ok(mut s) = std::net::TcpStream::connect(addr) {
            let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
            let req = format!(
                "DELETE /session/{} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                self.session
            );
            let _ = s.write_all(req.as_bytes());
            let _ = s.read_to_end(&mut Vec::new());
        }
    }
}

/// Polls `probe` until it gives `Some`, failing the test after [`PATIENCE`].
pub async fn wait_for<T, F, Fut>(what: &str, probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    crate::helpers::eventually_within(what, PATIENCE, probe).await
}
