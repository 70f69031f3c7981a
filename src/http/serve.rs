//! The accept loop: HTTP/1 connections served by hyper under two limits
//! that keep a flood of idle connections from taking the pager down.
//!
//! - At most `server.max_connections` connections are open at once. Past
//!   the cap nothing more is accepted: new connections wait in the kernel's
//!   listen backlog and take no descriptor from the store.
//! - `server.header_timeout` closes a connection that has not sent a whole
//!   request head in time, counted from its opening and again after each
//!   response (so it is the idle keep-alive timeout too).
//!
//! (`axum::serve` has neither: no timer for hyper, no cap.) The body timeout
//! is a middleware of the router (`read_body`).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper::service::Service as _;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};

/// How many connections, and how long a request head may take.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_connections: usize,
    pub header_timeout: Duration,
}

/// Serves `router` on `listener` until `stop` turns true, then lets open
/// requests finish.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    mut stop: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    loop {
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => slot.expect("the semaphore is never closed"),
            () = stopped(&mut stop) => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of descriptors, or the peer left before we got to it.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = stopped(&mut stop) => break,
        };
        let (router, stop) = (router.clone(), stop.clone());
        tokio::spawn(async move {
            connection((stream, peer), router, limits, stop).await;
            drop(slot);
        });
    }
    // Every slot back means every connection has finished.
    let all = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
    let _ = slots.acquire_many(all).await;
    Ok(())
}

async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

async fn connection(
    (stream, peer): (tokio::net::TcpStream, SocketAddr),
    router: Router,
    limits: Limits,
    mut stop: watch::Receiver<bool>,
) {
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    // The peer's address, for handlers that take `ConnectInfo<SocketAddr>`
    // (a trusted proxy header is believed only from the proxy).
    let inner = TowerToHyperService::new(router);
    let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
        req.extensions_mut().insert(ConnectInfo(peer));
        inner.call(req)
    });
    let conn = http.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    let done = tokio::select! {
        done = conn.as_mut() => done,
        () = stopped(&mut stop) => {
            // Finish the request in flight, close an idle connection.
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = done {
        tracing::debug!(error = %e, "connection ended");
    }
}
