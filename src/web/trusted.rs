//! `server.auth.trusted_header`: behind an authenticating proxy
//! (oauth2-proxy and the like), the header it sets names the person. The
//! header is believed only when the TCP peer is one of the configured proxy
//! addresses; from anywhere else it is ignored, so nobody signs in by
//! typing the header themselves. The sign-in happens on `GET /signin`
//! (where a page without a session redirects): the proxy has already
//! authenticated the person, so there is no form to press.

use std::net::SocketAddr;

use axum::http::HeaderMap;

use crate::config::{Roster, TrustedHeader};

/// Who the trusted proxy says this request comes from (an email or a
/// person id, as sent), if the proxy is configured and sent it.
pub fn named(roster: &Roster, peer: SocketAddr, headers: &HeaderMap) -> Option<String> {
    let cfg = roster.server.auth.trusted_header.as_ref()?;
    vouched(cfg, peer, headers)
}

fn vouched(cfg: &TrustedHeader, peer: SocketAddr, headers: &HeaderMap) -> Option<String> {
    if !cfg.proxies.contains(&peer.ip().to_canonical()) {
        return None;
    }
    let value = headers.get(cfg.header.as_str())?.to_str().ok()?.trim();
    (!value.is_empty()).then(|| value.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn believed_only_from_a_proxy() {
        let cfg = TrustedHeader {
            header: "x-forwarded-email".into(),
            proxies: ["10.0.0.5".parse().expect("ip"), "::1".parse().expect("ip")].into(),
        };
        fn check(cfg: &TrustedHeader, peer: &str, header: Option<&str>, expected: Option<&str>) {
            let mut h = HeaderMap::new();
            if let Some(v) = header {
                h.insert("X-Forwarded-Email", v.parse().expect("value"));
            }
            let peer: SocketAddr = peer.parse().expect("peer");
            assert_eq!(
                vouched(cfg, peer, &h).as_deref(),
                expected,
                "{peer} {header:?}"
            );
        }
        check(
            &cfg,
            "10.0.0.5:4000",
            Some("bob@example.com"),
            Some("bob@example.com"),
        );
        check(&cfg, "[::ffff:10.0.0.5]:4000", Some("bob"), Some("bob"));
        check(&cfg, "[::1]:4000", Some(" bob "), Some("bob"));
        check(&cfg, "10.0.0.6:4000", Some("bob@example.com"), None);
        check(&cfg, "127.0.0.1:4000", Some("bob@example.com"), None);
        check(&cfg, "10.0.0.5:4000", None, None);
        check(&cfg, "10.0.0.5:4000", Some(""), None);
    }
}
