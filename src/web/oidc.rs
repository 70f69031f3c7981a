//! `server.auth.oidc`: sign-in through an OpenID Connect issuer, the
//! authorization code flow with PKCE (S256), `state` and `nonce`.
//!
//! `GET /auth/oidc` reads the issuer's discovery document, keeps the
//! flow's secrets (state, nonce, PKCE verifier, where to go after) in a
//! short-lived HttpOnly cookie scoped to `/auth/oidc`, and sends the
//! browser to the issuer. `GET /auth/oidc/callback` checks `state`,
//! exchanges the code (client secret and verifier), verifies the ID token's
//! RS256 signature against the issuer's JWKS, its issuer, audience, expiry
//! (by the daemon's clock) and nonce, and signs in the person whose
//! configured email is the token's `email`: the same stored session a
//! sign-in link opens. Like the link's button, the callback is the one GET
//! that changes something: the issuer can only send the browser back with
//! a GET.

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::session::{csrf_matches, encode, random_token};
use super::signin::{secure, set_cookie, sign_in_as};
use super::{WebError, message};
use crate::app::Shared;
use crate::config::Oidc;

/// The cookie that carries one sign-in's state, nonce, verifier and next.
const FLOW_COOKIE: &str = "tocsin_oidc";
/// How long the person has at the issuer.
const FLOW_SECONDS: i64 = 600;
/// Tolerated clock difference with the issuer.
const LEEWAY_SECONDS: i64 = 60;

#[derive(Debug, thiserror::Error)]
enum OidcError {
    /// The issuer could not be reached or answered something unusable.
    #[error("identity provider: {0}")]
    Issuer(String),
    /// The answer was read and is not good enough to sign anyone in.
    #[error("{0}")]
    Refused(String),
}

fn refused(why: impl Into<String>) -> OidcError {
    OidcError::Refused(why.into())
}

impl IntoResponse for OidcError {
    fn into_response(self) -> Response {
        match self {
            OidcError::Issuer(why) => {
                tracing::warn!(error = %why, "single sign-on failed");
                message(
                    StatusCode::BAD_GATEWAY,
                    "Single sign-on unavailable",
                    "The identity provider did not answer as expected. Try again, or sign in with a link.",
                )
            }
            OidcError::Refused(why) => {
                tracing::info!(reason = %why, "single sign-on refused");
                message(
                    StatusCode::FORBIDDEN,
                    "Sign-in refused",
                    &format!("{why}. Start again from the sign-in page."),
                )
            }
        }
    }
}

/// The parts of the discovery document we use.
#[derive(Debug, Deserialize)]
struct Discovery {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    jwks_uri: String,
}

#[derive(Debug, Deserialize)]
pub struct Start {
    next: Option<String>,
}

/// `GET /auth/oidc`: off to the issuer.
pub async fn start(State(app): State<Shared>, Query(q): Query<Start>) -> Response {
    let Some(cfg) = app.roster().server.auth.oidc.clone() else {
        return WebError::NotFound.into_response();
    };
    let d = match discover(&app, &cfg).await {
        Ok(d) => d,
        Err(e) => return e.into_response(),
    };
    let Ok(mut to) = url::Url::parse(&d.authorization_endpoint) else {
        return OidcError::Issuer("authorization_endpoint is not a URL".into()).into_response();
    };
    let flow = Flow {
        state: random_token(),
        nonce: random_token(),
        verifier: random_token(),
        next: super::session::safe_next(q.next.as_deref()),
    };
    to.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", &cfg.client_id)
        .append_pair("redirect_uri", &redirect_uri(&app))
        .append_pair("scope", "openid email")
        .append_pair("state", &flow.state)
        .append_pair("nonce", &flow.nonce)
        .append_pair("code_challenge", &challenge(&flow.verifier))
        .append_pair("code_challenge_method", "S256");
    let mut resp = Redirect::to(to.as_str()).into_response();
    set_cookie(&mut resp, &flow.cookie(secure(&app)));
    resp
}

#[derive(Debug, Deserialize)]
pub struct Back {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

/// `GET /auth/oidc/callback`: the issuer sends the browser back here.
pub async fn callback(
    State(app): State<Shared>,
    headers: HeaderMap,
    Query(back): Query<Back>,
) -> Response {
    let Some(cfg) = app.roster().server.auth.oidc.clone() else {
        return WebError::NotFound.into_response();
    };
    let outcome = finish(&app, &cfg, &headers, back).await;
    let mut resp = match outcome {
        Ok((email, next)) => match crate::signin::find_by_email(&app.roster(), &email) {
            Some(person) => sign_in_as(&app, &person.id, Some(&next)).await,
            None => message(
                StatusCode::FORBIDDEN,
                "Not on the roster",
                &format!(
                    "{email} is not on tocsin's roster. Ask an admin to add this email to your person."
                ),
            ),
        },
        Err(e) => e.into_response(),
    };
    // One sign-in, one flow: its cookie goes whatever happened.
    set_cookie(&mut resp, &Flow::clear(secure(&app)));
    resp
}

/// Checks the issuer's answer; the verified email and where to go next.
async fn finish(
    app: &Shared,
    cfg: &Oidc,
    headers: &HeaderMap,
    back: Back,
) -> Result<(String, String), OidcError> {
    if let Some(error) = back.error {
        return Err(refused(format!("The identity provider said: {error}")));
    }
    let flow = Flow::read(headers)
        .ok_or_else(|| refused("This sign-in was started elsewhere or took over 10 minutes"))?;
    if !csrf_matches(back.state.as_deref().unwrap_or(""), &flow.state) {
        return Err(refused("This answer does not belong to this sign-in"));
    }
    let code = back
        .code
        .ok_or_else(|| refused("The identity provider sent no code"))?;
    let d = discover(app, cfg).await?;
    let id_token = exchange(app, cfg, &d, &code, &flow.verifier).await?;
    let jwks = get_json::<serde_json::Value>(app, &d.jwks_uri).await?;
    let email = verify(
        &id_token,
        &jwks,
        cfg,
        &d.issuer,
        &flow.nonce,
        app.clock.now(),
    )?;
    Ok((email, flow.next))
}

async fn discover(app: &Shared, cfg: &Oidc) -> Result<Discovery, OidcError> {
    let url = format!("{}/.well-known/openid-configuration", cfg.issuer);
    let d: Discovery = get_json(app, &url).await?;
    if d.issuer.trim_end_matches('/') != cfg.issuer {
        return Err(OidcError::Issuer(format!(
            "discovery names issuer {:?}, configured {:?}",
            d.issuer, cfg.issuer
        )));
    }
    Ok(d)
}

async fn get_json<T: serde::de::DeserializeOwned>(app: &Shared, url: &str) -> Result<T, OidcError> {
    let resp = app
        .http()
        .get(url)
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .map_err(|e| OidcError::Issuer(format!("{url}: {e}")))?;
    resp.json()
        .await
        .map_err(|e| OidcError::Issuer(format!("{url}: {e}")))
}

/// The code for an ID token, at the token endpoint (client secret basic).
async fn exchange(
    app: &Shared,
    cfg: &Oidc,
    d: &Discovery,
    code: &str,
    verifier: &str,
) -> Result<String, OidcError> {
    #[derive(Deserialize)]
    struct Tokens {
        id_token: String,
    }
    let resp = app
        .http()
        .post(&d.token_endpoint)
        .basic_auth(&cfg.client_id, Some(cfg.client_secret.expose()))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", &redirect_uri(app)),
            ("code_verifier", verifier),
            ("client_id", &cfg.client_id),
        ])
        .send()
        .await
        .map_err(|e| OidcError::Issuer(format!("token endpoint: {e}")))?;
    if resp.status().is_client_error() {
        return Err(refused("The identity provider refused the code"));
    }
    let tokens: Tokens = resp
        .error_for_status()
        .map_err(|e| OidcError::Issuer(format!("token endpoint: {e}")))?
        .json()
        .await
        .map_err(|e| OidcError::Issuer(format!("token endpoint: {e}")))?;
    Ok(tokens.id_token)
}

#[derive(Debug, Deserialize)]
struct Claims {
    exp: i64,
    nonce: Option<String>,
    email: Option<String>,
    email_verified: Option<bool>,
}

/// The ID token's verified email: RS256 under a key of `jwks`, from
/// `issuer`, for our client id, not expired at `now`, with our nonce.
fn verify(
    token: &str,
    jwks: &serde_json::Value,
    cfg: &Oidc,
    issuer: &str,
    nonce: &str,
    now: DateTime<Utc>,
) -> Result<String, OidcError> {
    let bad = || refused("The identity provider's token did not check out");
    let head = jsonwebtoken::decode_header(token).map_err(|_| bad())?;
    if head.alg != Algorithm::RS256 {
        return Err(bad());
    }
    let key = rsa_key(jwks, head.kid.as_deref()).ok_or_else(bad)?;
    let mut v = Validation::new(Algorithm::RS256);
    v.set_issuer(&[issuer]);
    v.set_audience(&[&cfg.client_id]);
    // Expiry by the daemon's clock, below, not the library's.
    v.validate_exp = false;
    let claims = jsonwebtoken::decode::<Claims>(token, &key, &v)
        .map_err(|_| bad())?
        .claims;
    if claims.exp + LEEWAY_SECONDS < now.timestamp() {
        return Err(refused("The identity provider's token has expired"));
    }
    if !csrf_matches(claims.nonce.as_deref().unwrap_or(""), nonce) {
        return Err(bad());
    }
    if claims.email_verified == Some(false) {
        return Err(refused(
            "Your email is not verified at the identity provider",
        ));
    }
    claims
        .email
        .filter(|e| !e.trim().is_empty())
        .ok_or_else(|| refused("The identity provider sent no email"))
}

/// The RSA key `kid` names in the JWKS (or its only RSA key when the token
/// names none).
fn rsa_key(jwks: &serde_json::Value, kid: Option<&str>) -> Option<DecodingKey> {
    let keys = jwks.get("keys")?.as_array()?;
    let mut rsa = keys.iter().filter(|k| k["kty"] == "RSA");
    let key = match kid {
        Some(kid) => rsa.find(|k| k["kid"] == kid)?,
        None => {
            let only = rsa.next()?;
            rsa.next().is_none().then_some(only)?
        }
    };
    DecodingKey::from_rsa_components(key["n"].as_str()?, key["e"].as_str()?).ok()
}

/// PKCE S256: base64url(SHA-256(verifier)).
fn challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

fn redirect_uri(app: &Shared) -> String {
    let base = crate::http::public_base(&app.roster().server.public_url).to_string();
    format!("{base}/auth/oidc/callback")
}

/// One sign-in in progress, kept in the browser between the two requests.
#[derive(Debug, PartialEq, Eq)]
struct Flow {
    state: String,
    nonce: String,
    verifier: String,
    next: String,
}

impl Flow {
    fn cookie(&self, secure: bool) -> String {
        let secure = if secure { "; Secure" } else { "" };
        format!(
            "{FLOW_COOKIE}={}.{}.{}.{}; Path=/auth/oidc; HttpOnly; SameSite=Lax; Max-Age={FLOW_SECONDS}{secure}",
            self.state,
            self.nonce,
            self.verifier,
            encode(&self.next)
        )
    }

    fn clear(secure: bool) -> String {
        let secure = if secure { "; Secure" } else { "" };
        format!("{FLOW_COOKIE}=; Path=/auth/oidc; HttpOnly; SameSite=Lax; Max-Age=0{secure}")
    }

    fn read(headers: &HeaderMap) -> Option<Flow> {
        let value = headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(name, _)| *name == FLOW_COOKIE)?
            .1;
        let mut parts = value.splitn(4, '.');
        let (state, nonce, verifier, next) =
            (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        let next: String = url::form_urlencoded::parse(format!("n={next}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())?;
        Some(Flow {
            state: state.to_string(),
            nonce: nonce.to_string(),
            verifier: verifier.to_string(),
            next: super::session::safe_next(Some(&next)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_challenge_is_unpadded_base64url_of_sha256() {
        fn check(verifier: &str, expected: &str) {
            assert_eq!(challenge(verifier), expected, "{verifier}");
        }
        check(
            "dBjftJeZ4CK-1bw9bNHp3BL5yIvFhrKx7PxK2zRG1vA",
            "SvlSqEYzdgLbPuYTJrSurib47zoelq4hyYDjlAaoTK4",
        );
        check("", "47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU");
    }

    #[test]
    fn the_flow_cookie_round_trips() {
        fn check(next: &str, expected_next: &str) {
            let flow = Flow {
                state: "s1".into(),
                nonce: "n2".into(),
                verifier: "v3".into(),
                next: next.into(),
            };
            let set = flow.cookie(false);
            let pair = set.split(';').next().expect("pair");
            let mut h = HeaderMap::new();
            h.insert(
                header::COOKIE,
                format!("a=b; {pair}").parse().expect("header"),
            );
            let read = Flow::read(&h).expect("read back");
            assert_eq!(read.next, expected_next, "{next}");
            assert_eq!((read.state.as_str(), read.verifier.as_str()), ("s1", "v3"));
        }
        check("/", "/");
        check("/incidents/4?x=1.2&y=3", "/incidents/4?x=1.2&y=3");
        check("//evil.example", "/");
    }
}
