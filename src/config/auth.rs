//! Validation of `server.auth`: OpenID Connect sign-in and the trusted
//! header of an authenticating proxy.

use std::collections::BTreeSet;
use std::net::IpAddr;

use serde_saphyr::Spanned;

use super::context::Ctx;
use super::model::{Auth, Oidc, TrustedHeader};
use super::raw;
use super::validate::required;

/// `server.auth`, every problem reported at its position.
pub fn auth(ctx: &mut Ctx<'_>, a: Option<&Spanned<raw::Auth>>) -> Auth {
    let Some(a) = a else {
        return Auth::default();
    };
    Auth {
        oidc: a.value.oidc.as_ref().and_then(|o| oidc(ctx, o)),
        trusted_header: a
            .value
            .trusted_header
            .as_ref()
            .and_then(|t| trusted_header(ctx, t)),
    }
}

fn oidc(ctx: &mut Ctx<'_>, o: &Spanned<raw::Oidc>) -> Option<Oidc> {
    const OWNER: &str = "server.auth.oidc";
    let v = &o.value;
    let issuer = required(ctx, o, OWNER, "issuer", v.issuer.as_ref());
    let issuer = issuer.and_then(|i| {
        let text = ctx.text(i)?;
        match url::Url::parse(&text) {
            Ok(u) if issuer_scheme_ok(&u) => Some(text.trim_end_matches('/').to_string()),
            _ => {
                ctx.err(
                    i,
                    format!(
                        "{OWNER}.issuer {text:?} must be an https:// URL (http:// only on localhost)"
                    ),
                );
                None
            }
        }
    });
    let client_id = required(ctx, o, OWNER, "client_id", v.client_id.as_ref());
    let client_id = client_id
        .and_then(|c| ctx.text(c))
        .filter(|c| !c.is_empty());
    let secret = ctx.secret(
        "client_secret",
        v.client_secret.as_ref(),
        v.client_secret_file.as_ref(),
    );
    if v.client_secret.is_none() && v.client_secret_file.is_none() {
        ctx.err(
            o,
            format!("{OWNER} is missing client_secret (or client_secret_file)"),
        );
    }
    Some(Oidc {
        issuer: issuer?,
        client_id: client_id?,
        client_secret: secret?,
    })
}

/// https, or http to this machine (a local issuer while trying it out).
fn issuer_scheme_ok(u: &url::Url) -> bool {
    match u.scheme() {
        "https" => true,
        "http" => match u.host() {
            Some(url::Host::Domain(d)) => d == "localhost",
            Some(url::Host::Ipv4(a)) => a.is_loopback(),
            Some(url::Host::Ipv6(a)) => a.is_loopback(),
            None => false,
        },
        _ => false,
    }
}

fn trusted_header(ctx: &mut Ctx<'_>, t: &Spanned<raw::TrustedHeader>) -> Option<TrustedHeader> {
    const OWNER: &str = "server.auth.trusted_header";
    let v = &t.value;
    let header = required(ctx, t, OWNER, "header", v.header.as_ref());
    let header = header.and_then(|h| {
        let name = ctx.text(h)?;
        if is_header_name(&name) {
            Some(name.to_ascii_lowercase())
        } else {
            ctx.err(
                h,
                format!("{OWNER}.header {name:?} is not a header name such as X-Forwarded-Email"),
            );
            None
        }
    });
    if v.proxies.is_empty() {
        ctx.err(
            t,
            format!("{OWNER} is missing proxies: the addresses the header is believed from"),
        );
    }
    let (mut proxies, mut bad) = (BTreeSet::new(), false);
    for p in &v.proxies {
        match ctx.text(p).map(|s| s.trim().parse::<IpAddr>()) {
            Some(Ok(ip)) => {
                proxies.insert(ip);
            }
            Some(Err(_)) => {
                bad = true;
                ctx.err(
                    p,
                    format!("{OWNER}.proxies: {:?} is not an IP address", p.value),
                );
            }
            None => bad = true,
        }
    }
    // None given, or one was wrong (reported above): no header is believed.
    if proxies.is_empty() || bad {
        return None;
    }
    Some(TrustedHeader {
        header: header?,
        proxies,
    })
}

/// An HTTP token: letters, digits and `!#$%&'*+-.^_`|~`.
fn is_header_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_names() {
        fn check(name: &str, ok: bool) {
            assert_eq!(is_header_name(name), ok, "{name:?}");
        }
        check("X-Forwarded-Email", true);
        check("x-auth-request-user", true);
        check("", false);
        check("X Forwarded", false);
        check("X-Email:", false);
    }

    #[test]
    fn issuer_schemes() {
        fn check(url: &str, ok: bool) {
            let u = url::Url::parse(url).expect("url");
            assert_eq!(issuer_scheme_ok(&u), ok, "{url}");
        }
        check("https://login.example.com/realms/x", true);
        check("http://127.0.0.1:5556", true);
        check("http://localhost:5556", true);
        check("http://[::1]:5556", true);
        check("http://login.example.com", false);
        check("ftp://login.example.com", false);
    }
}
