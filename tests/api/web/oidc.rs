//! Sign-in through OpenID Connect, against a small issuer of the test's
//! own on 127.0.0.1: discovery, authorize (approves at once), token (checks
//! the client secret and the PKCE verifier) and JWKS, signing ID tokens
//! with its own RSA key.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Form, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use reqwest::header;
use sha2::{Digest, Sha256};

use super::*;

/// The issuer's RSA key (PKCS#1 DER, base64), made for these tests only.
const KEY_DER: [&str; 16] = [
    "MIIEpAIBAAKCAQEAvlaR2iC8hNU3uclEoNxzS8QlnCEG13f5ECG5w8qZ7OILBVMPxr/3b6rmdxYPEz33GK6wvcud2CGCIFj5knDH",
    "agXnsjNK1LyEsjI7OgxaARTF4Y6bhL977VHzrvl8rNvc/kz/rffaczfBLLIvJyW13sRj/q8ZBBJ4OTGWE0yYlj0p8wRxtUUWI+CZ",
    "dyF2F3dFe46vdfhtkdh+k+3FQyrz9ml+ZkJzr/8B+akqa3+qtL9595Ko5EI4FdbV5HbAfQ0tBbQBKTwyUIkDj9hvkRoc+p6ck6ce",
    "bCtEhFIJAEjrFOrA8xllgWAqb2RE9IcH4S3HYyqcqxsXMGL7zx1AQneGEwIDAQABAoIBABhTaGeYKHp85Owt0MNoTqSfyG4S+yoI",
    "OhYkNqF9yryvdQN0sVRQOMzrlXHMfsJm+HtjPtEQQreagg7P9Zw60AROWzrMpbiDnB1Jddqo38s56Ze2tKHmIRixu8hLOB0Vf8HR",
    "JcTeTkEhyTgE+9QafzXIeWkq3V0bs9lyFhaYWFCsVGLs0uOWRcDnmcDp3xHGwnN7xOkH09CgdXP7rEd6CtulOYC81l2aT0sWoBun",
    "S6apiW5/PO/s77obj0nd/RpmQhkHMb7Ley/aVuWYUeaOHWLmoZLV8gP1kNfvGV4S0LIRwWMrdD6p1VZZZy+l0CEn9OmAXRpzROdL",
    "JRRdZXFfocUCgYEA4fksH8FrqachnmVPDy+KngdEP7+HeHYYqYYQ0CQSyiagFxzIPRbR2RFX1eehOr6dBHAvPf2JP9EWL606ncx7",
    "ar0S8paqiu358dok5RsMZJ7x+Tq4MSWt47fV8O6WnSeCjWPC/18dgdxfvI0XQHRwvq+w1SjbDweMX3DXmeiSrE0CgYEA16E2eoTZ",
    "y6DD5EIWyN1S63juBh6nDOyhqG1d9zscosYMrkX6Q3uiy0mgS/bDK4EUFgPTMpt6P1/pAd1RJOdpJkP22iz/WVrR+1A4yQjp6oNq",
    "2X4lASJ/fjoYM4VHgp5MY64pQiQXgxoo6co8NXd78hMgvNzlo0p5AHsRvhYMq98CgYBrdE1jHFrR5cO6ynn5wqWr19DAb5c/1QiN",
    "NE8yarT0o8FkvC8LvZo0GmcmNGsawCFyRtZwJ+voCMkACuPgvafCbf5glPyr69X7B7ybpW0TO/Hcjeugk0ZJDtYRJ6M/P9Z43YOQ",
    "Y+5oHh74Ti9MWxJx2qG/+xmP4AsEJ2ieq1Vz0QKBgQC6zDfrr4cVtjG9XdtrKwCYaOyadJd2xM/OnuAWOyk1gaiemJSTPVnsDd5F",
    "sIGnAG0sHSgq4THoEOhD6zxOYgJfWeVRYEXdXKYntnla/tPViv9XZsYb04zrBtzMVRt79jJq8Adh+u47bsAeuEmsb9P6A8QKmLp+",
    "2Rc16WeXanaTtQKBgQCtTAg/S9zWqjxSY+TM+Ay/ayEiji7iX2R4WTQIDTx3dXsWiJh0GEpPCkklCXX4bAXK+PmOKkanj5lagDS9",
    "77IyMDCSEhsUnGtK3hQb9cQy3TnwJ9LT15uI4xXJC3p6RE9gVim2DLN/NdKiRgDUIB6ZO+Lw4FUx6gmmTkQCadtnmA==",
];
/// Its public modulus, base64url.
const KEY_N: [&str; 4] = [
    "vlaR2iC8hNU3uclEoNxzS8QlnCEG13f5ECG5w8qZ7OILBVMPxr_3b6rmdxYPEz33GK6wvcud2CGCIFj5knDHagXnsjNK1LyEsjI7",
    "OgxaARTF4Y6bhL977VHzrvl8rNvc_kz_rffaczfBLLIvJyW13sRj_q8ZBBJ4OTGWE0yYlj0p8wRxtUUWI-CZdyF2F3dFe46vdfht",
    "kdh-k-3FQyrz9ml-ZkJzr_8B-akqa3-qtL9595Ko5EI4FdbV5HbAfQ0tBbQBKTwyUIkDj9hvkRoc-p6ck6cebCtEhFIJAEjrFOrA",
    "8xllgWAqb2RE9IcH4S3HYyqcqxsXMGL7zx1AQneGEw",
];
const CLIENT_SECRET: &str = "oidc-client-secret-0123456789";

/// What the fake issuer puts in the ID token, and what it saw.
#[derive(Default)]
struct Issuer {
    base: String,
    email: String,
    /// Breaks the token's signature.
    tamper: bool,
    /// code -> (nonce, code_challenge)
    codes: HashMap<String, (String, String)>,
}

type Shared = Arc<Mutex<Issuer>>;

async fn discovery(State(s): State<Shared>) -> axum::Json<serde_json::Value> {
    let base = s.lock().expect("lock").base.clone();
    axum::Json(serde_json::json!({
        "issuer": base,
        "authorization_endpoint": format!("{base}/authorize"),
        "token_endpoint": format!("{base}/token"),
        "jwks_uri": format!("{base}/jwks"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
    }))
}

async fn authorize(
    State(s): State<Shared>,
    Query(q): Query<HashMap<String, String>>,
) -> impl IntoResponse {
    assert_eq!(q["client_id"], "tocsin");
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!(q["scope"], "openid email");
    let code = format!("code-{}", q["state"]);
    s.lock().expect("lock").codes.insert(
        code.clone(),
        (q["nonce"].clone(), q["code_challenge"].clone()),
    );
    Redirect::to(&format!(
        "{}?code={code}&state={}",
        q["redirect_uri"], q["state"]
    ))
}

async fn token(
    State(s): State<Shared>,
    headers: HeaderMap,
    Form(f): Form<HashMap<String, String>>,
) -> axum::response::Response {
    let basic = format!(
        "Basic {}",
        STANDARD.encode(format!("tocsin:{CLIENT_SECRET}"))
    );
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some(basic.as_str()) {
        return (axum::http::StatusCode::UNAUTHORIZED, "bad client").into_response();
    }
    let s = s.lock().expect("lock");
    let Some((nonce, challenge)) = s.codes.get(&f["code"]) else {
        return (axum::http::StatusCode::BAD_REQUEST, "bad code").into_response();
    };
    if URL_SAFE_NO_PAD.encode(Sha256::digest(f["code_verifier"].as_bytes())) != *challenge {
        return (axum::http::StatusCode::BAD_REQUEST, "bad verifier").into_response();
    }
    let now = t0().timestamp();
    let claims = serde_json::json!({
        "iss": s.base, "aud": "tocsin", "sub": "u-1", "iat": now, "exp": now + 300,
        "nonce": nonce, "email": s.email, "email_verified": true,
    });
    let mut head = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    head.kid = Some("k1".into());
    let der = STANDARD.decode(KEY_DER.concat()).expect("key");
    let mut jwt = jsonwebtoken::encode(
        &head,
        &claims,
        &jsonwebtoken::EncodingKey::from_rsa_der(&der),
    )
    .expect("sign");
    if s.tamper {
        // Another person's email under the same signature.
        let mut parts: Vec<String> = jwt.split('.').map(str::to_string).collect();
        let mut body: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&parts[1]).expect("b64")).expect("json");
        body["email"] = "bob@example.com".into();
        parts[1] = URL_SAFE_NO_PAD.encode(body.to_string());
        jwt = parts.join(".");
    }
    axum::Json(serde_json::json!({"access_token": "at", "token_type": "Bearer", "id_token": jwt}))
        .into_response()
}

async fn jwks() -> axum::Json<serde_json::Value> {
    axum::Json(serde_json::json!({"keys": [
        {"kty": "RSA", "kid": "k1", "use": "sig", "alg": "RS256", "n": KEY_N.concat(), "e": "AQAB"}
    ]}))
}

/// Starts the issuer; its state, for the test to steer.
async fn issuer(email: &str) -> Shared {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let s: Shared = Arc::new(Mutex::new(Issuer {
        base,
        email: email.into(),
        ..Issuer::default()
    }));
    let app = axum::Router::new()
        .route("/.well-known/openid-configuration", get(discovery))
        .route("/authorize", get(authorize))
        .route("/token", post(token))
        .route("/jwks", get(jwks))
        .with_state(s.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    s
}

async fn spawn_for(issuer: &Shared) -> Daemon {
    let base = issuer.lock().expect("lock").base.clone();
    let yaml = roster_yaml("").replace(
        "  admins: [alice]\n",
        &format!(
            "  admins: [alice]\n  auth:\n    oidc:\n      issuer: {base}\n      client_id: tocsin\n      client_secret_file: oidc.secret\n"
        ),
    );
    spawn_with_files(&yaml, &[("oidc.secret", CLIENT_SECRET)]).await
}

/// Goes through the whole flow: (status, Set-Cookie of the session or "",
/// Location, body) of the callback.
async fn sign_in_through(
    d: &Daemon,
    state_override: Option<&str>,
) -> (u16, String, String, String) {
    let b = browser();
    let r = b
        .get(d.url("/auth/oidc?next=%2F%3Fstate%3Dall"))
        .send()
        .await
        .expect("start");
    assert_eq!(r.status(), 303);
    let flow = header_of(&r, header::SET_COOKIE);
    assert!(
        flow.contains("HttpOnly") && flow.contains("Path=/auth/oidc"),
        "{flow}"
    );
    let flow = flow.split(';').next().expect("pair").to_string();
    let to_issuer = header_of(&r, header::LOCATION);
    let r = b.get(&to_issuer).send().await.expect("authorize");
    assert_eq!(r.status(), 303);
    let mut back = header_of(&r, header::LOCATION)
        .strip_prefix("https://tocsin.example")
        .expect("back to our public_url")
        .to_string();
    if let Some(state) = state_override {
        back = regex::Regex::new("state=[0-9a-f]+")
            .expect("re")
            .replace(&back, format!("state={state}"))
            .into_owned();
    }
    let r = b
        .get(d.url(&back))
        .header(header::COOKIE, flow)
        .send()
        .await
        .expect("callback");
    let status = r.status().as_u16();
    let session = r
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("tocsin_session="))
        .and_then(|c| c.split(';').next())
        .unwrap_or_default()
        .to_string();
    let location = header_of(&r, header::LOCATION);
    (status, session, location, r.text().await.expect("body"))
}

#[tokio::test]
async fn signs_in_by_the_email_the_issuer_vouches_for() {
    let iss = issuer("Bob@Example.com").await;
    let d = spawn_for(&iss).await;
    let (status, html) = page(&d, "", "/signin?next=%2F").await;
    assert_eq!(status, 200);
    assert!(html.contains(r#"href="/auth/oidc?next=%2F""#), "{html}");

    let (status, session, location, _) = sign_in_through(&d, None).await;
    assert_eq!((status, location.as_str()), (303, "/?state=all"));
    assert!(!session.is_empty(), "no session cookie");
    let (status, html) = page(&d, &session, "/").await;
    assert_eq!(status, 200);
    assert!(html.contains("bob"), "{html}");
    // The same stored session as a sign-in link's: listed, revocable.
    let sessions = d
        .state()
        .store
        .sessions_of("bob".into(), t0())
        .await
        .expect("sessions");
    assert_eq!(sessions.len(), 1);
}

#[tokio::test]
async fn refuses_an_unknown_email_a_forged_state_and_a_broken_signature() {
    let iss = issuer("mallory@example.com").await;
    let d = spawn_for(&iss).await;
    let (status, session, _, body) = sign_in_through(&d, None).await;
    assert_eq!((status, session.as_str()), (403, ""));
    assert!(
        body.contains("mallory@example.com is not on tocsin&#39;s roster")
            || body.contains("mallory@example.com is not on tocsin's roster"),
        "{body}"
    );

    iss.lock().expect("lock").email = "bob@example.com".into();
    let (status, session, _, body) = sign_in_through(&d, Some("00ff")).await;
    assert_eq!((status, session.as_str()), (403, ""));
    assert!(body.contains("does not belong to this sign-in"), "{body}");

    iss.lock().expect("lock").email = "alice-not-on-roster@example.com".into();
    iss.lock().expect("lock").tamper = true;
    let (status, session, _, body) = sign_in_through(&d, None).await;
    assert_eq!((status, session.as_str()), (403, ""));
    assert!(body.contains("token did not check out"), "{body}");
    assert!(
        d.state()
            .store
            .sessions_of("bob".into(), t0())
            .await
            .expect("sessions")
            .is_empty()
    );
}

#[tokio::test]
async fn without_oidc_configured_there_is_no_sso() {
    let d = spawn_daemon().await;
    let (status, html) = page(&d, "", "/signin").await;
    assert_eq!(status, 200);
    assert!(!html.contains("/auth/oidc"), "{html}");
    assert_eq!(page(&d, "", "/auth/oidc").await.0, 404);
}
