//! The stylesheet and the script, compiled into the binary and served under
//! a name holding a hash of their content, so browsers may keep them for a
//! year and still never run a stale one after an upgrade.

use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

const CSS: &str = include_str!("../../assets/app.css");
const JS: &str = include_str!("../../assets/app.js");

/// (served path, content type, content) of each asset.
static ASSETS: LazyLock<[(String, &'static str, &'static str); 2]> = LazyLock::new(|| {
    [
        (hashed("app", "css", CSS), "text/css; charset=utf-8", CSS),
        (
            hashed("app", "js", JS),
            "text/javascript; charset=utf-8",
            JS,
        ),
    ]
});

fn hashed(stem: &str, ext: &str, content: &str) -> String {
    let digest = hex::encode(Sha256::digest(content.as_bytes()));
    format!("/assets/{stem}.{}.{ext}", &digest[..12])
}

/// Where the stylesheet is served.
pub fn css_path() -> &'static str {
    &ASSETS[0].0
}

/// Where the script is served.
pub fn js_path() -> &'static str {
    &ASSETS[1].0
}

/// `GET /assets/{file}`: only the current names; cached for a year.
pub async fn serve(Path(file): Path<String>) -> Response {
    let wanted = format!("/assets/{file}");
    let Some((_, kind, content)) = ASSETS.iter().find(|(path, _, _)| *path == wanted) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let mut resp = (*content).into_response();
    let headers = resp.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=31536000, immutable"),
    );
    resp
}
