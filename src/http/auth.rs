//! Bearer tokens: extraction from `Authorization` (Bearer, or Basic with the
//! token as password, which is what Alertmanager's `basic_auth` sends) and
//! the person a token belongs to. Comparison is constant-time (`TokenHash`).

use axum::http::HeaderMap;
use base64::Engine;

use super::error::ApiError;
use crate::config::secret::TokenHash;
use crate::config::{Client, Integration, IntegrationKind, Person, Roster};

/// The presented token, if any.
pub fn bearer(headers: &HeaderMap) -> Option<String> {
    let value = headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .trim();
    let (scheme, rest) = value.split_once(' ')?;
    match scheme.to_ascii_lowercase().as_str() {
        "bearer" => Some(rest.trim().to_string()),
        "basic" => {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(rest.trim())
                .ok()?;
            let text = String::from_utf8(decoded).ok()?;
            let (_, password) = text.split_once(':')?;
            Some(password.to_string())
        }
        _ => None,
    }
}

/// The person calling, from a person token.
pub fn person<'r>(roster: &'r Roster, headers: &HeaderMap) -> Result<&'r Person, ApiError> {
    let token = bearer(headers)
        .ok_or_else(|| ApiError::Unauthorized("missing Authorization: Bearer token".into()))?;
    roster
        .person_by_token(&token)
        .ok_or_else(|| ApiError::Unauthorized("unknown token".into()))
}

/// An admin (listed in `server.admins`).
pub fn admin<'r>(roster: &'r Roster, headers: &HeaderMap) -> Result<&'r Person, ApiError> {
    let p = person(roster, headers)?;
    if roster.is_admin(&p.id) {
        Ok(p)
    } else {
        Err(ApiError::Forbidden(format!(
            "{} is not an admin (server.admins)",
            p.id
        )))
    }
}

/// The integration of `kind` whose token this is.
pub fn integration_by_token<'r>(
    roster: &'r Roster,
    token: &str,
    kind: IntegrationKind,
) -> Option<&'r Integration> {
    // Every entry is checked so timing does not reveal which one matched.
    let (presented, mut found) = (TokenHash::of(token), None);
    for i in roster.integrations.values() {
        if i.token.is(&presented) && i.kind == kind && found.is_none() {
            found = Some(i);
        }
    }
    found
}

/// The integration calling, from `Authorization` (Bearer or Basic).
pub fn integration<'r>(
    roster: &'r Roster,
    headers: &HeaderMap,
    kind: IntegrationKind,
) -> Result<&'r Integration, ApiError> {
    let token = bearer(headers)
        .ok_or_else(|| ApiError::Unauthorized("missing Authorization: Bearer token".into()))?;
    integration_by_token(roster, &token, kind).ok_or_else(|| {
        ApiError::Unauthorized("token does not belong to an integration of this type".into())
    })
}

/// Whether `token` is any heartbeat's or any integration's (every entry is
/// checked, so timing does not say which).
pub fn heartbeat_or_integration(roster: &Roster, token: &str) -> bool {
    let presented = TokenHash::of(token);
    let heartbeats = roster
        .heartbeats
        .values()
        .filter(|h| h.token.is_some_and(|t| t.is(&presented)))
        .count();
    let integrations = roster
        .integrations
        .values()
        .filter(|i| i.token.is(&presented))
        .count();
    heartbeats + integrations > 0
}

/// The client calling `POST /api/v1/trigger`.
pub fn client<'r>(roster: &'r Roster, headers: &HeaderMap) -> Result<&'r Client, ApiError> {
    let token = bearer(headers)
        .ok_or_else(|| ApiError::Unauthorized("missing Authorization: Bearer token".into()))?;
    let (presented, mut found) = (TokenHash::of(&token), None);
    for c in roster.clients.values() {
        if c.token.is_some_and(|h| h.is(&presented)) && found.is_none() {
            found = Some(c);
        }
    }
    found.ok_or_else(|| ApiError::Unauthorized("unknown client token".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            axum::http::header::AUTHORIZATION,
            v.parse().expect("valid header"),
        );
        h
    }

    #[test]
    fn reads_bearer_and_basic() {
        assert_eq!(bearer(&headers("Bearer abc")), Some("abc".into()));
        assert_eq!(bearer(&headers("bearer  abc ")), Some("abc".into()));
        let basic = base64::engine::general_purpose::STANDARD.encode("tocsin:s3cr3t");
        assert_eq!(
            bearer(&headers(&format!("Basic {basic}"))),
            Some("s3cr3t".into())
        );
        assert_eq!(bearer(&headers("Token abc")), None);
        assert_eq!(bearer(&headers("Basic !!!")), None);
        assert_eq!(bearer(&HeaderMap::new()), None);
    }
}
