//! The calibration row: a bare axum handler that only parses the JSON body
//! and answers 200, run as a child process of this binary (so it does not
//! share the load generator's runtime), driven by the same client, payloads
//! and concurrency as the ingest loads. It is the ceiling any server doing
//! real work can approach on the machine the run is on.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use anyhow::{Context, bail};

/// The flag that turns this binary into the bare server.
pub const FLAG: &str = "--bare-server";

/// Runs the bare server until killed; prints `listening <port>` first.
pub fn serve() -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let app = axum::Router::new().route(
            "/bare",
            axum::routing::post(|body: axum::body::Bytes| async move {
                match serde_json::from_slice::<serde_json::Value>(&body) {
                    Ok(_) => (
                        axum::http::StatusCode::OK,
                        axum::Json(serde_json::json!({"status": "ok"})),
                    ),
                    Err(e) => (
                        axum::http::StatusCode::BAD_REQUEST,
                        axum::Json(serde_json::json!({"error": e.to_string()})),
                    ),
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        println!("listening {}", listener.local_addr()?.port());
        axum::serve(listener, app).await?;
        anyhow::Ok(())
    })
}

pub struct Bare {
    child: Child,
    pub url: String,
}

impl Drop for Bare {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Bare {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn start() -> anyhow::Result<Bare> {
        let mut child = Command::new(std::env::current_exe()?)
            .arg(FLAG)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .context("starting the bare server")?;
        let out = child.stdout.take().context("bare server stdout")?;
        let mut line = String::new();
        BufReader::new(out).read_line(&mut line)?;
        let Some(port) = line.trim().strip_prefix("listening ") else {
            let _ = child.kill();
            bail!("bare server said {line:?}");
        };
        let url = format!("http://127.0.0.1:{port}/bare");
        Ok(Bare { child, url })
    }
}
