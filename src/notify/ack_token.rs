//! Signed acknowledge-link tokens: `/a/{token}` in an SMS.
//!
//! Owns: the token format. A token is base64url (no padding) of
//! `payload || tag`, where `payload` = one byte (version << 4 | action),
//! LEB128 incident, LEB128 expiry in Unix seconds, then the person id's UTF-8
//! bytes, and `tag` = the first 16 bytes (128 bits) of
//! HMAC-SHA256(secret, "tocsin-ack-v1" || payload). A token for incident
//! 42 and person `alice` is 38 characters; each person-id byte adds ~1.3. Must not: read the clock (`now` is a parameter), or reveal
//! anything about a token's contents before its tag has been checked.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::notify::Action;

const VERSION: u8 = 1;
const TAG_LEN: usize = 16;
/// Keeps the secret's tags distinct from any other use of the same key.
const CONTEXT: &[u8] = b"tocsin-ack-v1";

/// What a token lets its bearer do, and until when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    /// The incident number.
    pub incident: u64,
    /// The person the link was sent to; the action is recorded as theirs.
    pub person: String,
    /// What following the link does.
    pub action: Action,
    /// The first instant at which the token is no longer accepted. Stored
    /// with whole-second precision (sub-seconds are dropped; instants before
    /// 1970 become 1970).
    pub expires: DateTime<Utc>,
}

/// Why a token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not a token this code could have produced.
    #[error("malformed token")]
    Malformed,
    /// Well-formed, but not signed with our secret (or altered).
    #[error("token signature does not match")]
    BadSignature,
    /// Authentic, but past its expiry.
    #[error("token expired")]
    Expired,
}

/// Signs `claims` into a URL-safe token.
pub fn sign(secret: &[u8], claims: &Claims) -> String {
    let mut bytes = encode_payload(claims);
    let tag = tag(secret, &bytes);
    bytes.extend_from_slice(&tag);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The acknowledge link for `claims` under the daemon's public URL.
pub fn url(public_url: &url::Url, secret: &[u8], claims: &Claims) -> String {
    let mut base = public_url.clone();
    base.set_query(None);
    base.set_fragment(None);
    format!(
        "{}/a/{}",
        base.as_str().trim_end_matches('/'),
        sign(secret, claims)
    )
}

/// Checks a token's signature, then its expiry (valid while `now < expires`).
pub fn verify(secret: &[u8], token: &str, now: DateTime<Utc>) -> Result<Claims, TokenError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(token.as_bytes())
        .map_err(|_| TokenError::Malformed)?;
    // Version byte plus two one-byte varints at the very least.
    if bytes.len() < 3 + TAG_LEN {
        return Err(TokenError::Malformed);
    }
    let (payload, given) = bytes.split_at(bytes.len() - TAG_LEN);
    if !bool::from(tag(secret, payload).ct_eq(given)) {
        return Err(TokenError::BadSignature);
    }
    let claims = decode_payload(payload).ok_or(TokenError::Malformed)?;
    if now >= claims.expires {
        return Err(TokenError::Expired);
    }
    Ok(claims)
}

fn tag(secret: &[u8], payload: &[u8]) -> [u8; TAG_LEN] {
    let mut mac = keyed(secret);
    mac.update(payload);
    let full = mac.finalize().into_bytes();
    let mut out = [0u8; TAG_LEN];
    out.copy_from_slice(&full[..TAG_LEN]);
    out
}

thread_local! {
    /// The last key's HMAC state with the context absorbed: keying hashes
    /// two blocks, as much as the tag of a short payload itself, and every
    /// page's SMS signs a link with the daemon's one key.
    static KEYED: std::cell::RefCell<Option<(Vec<u8>, Hmac<Sha256>)>> =
        const { std::cell::RefCell::new(None) };
}

/// HMAC-SHA256 under `secret`, `CONTEXT` already absorbed.
fn keyed(secret: &[u8]) -> Hmac<Sha256> {
    KEYED.with_borrow_mut(|cached| match cached {
        Some((key, mac)) if key.as_slice() == secret => mac.clone(),
        _ => {
            let mut mac =
                Hmac::<Sha256>::new_from_slice(secret).expect("HMAC accepts keys of any length");
            mac.update(CONTEXT);
            *cached = Some((secret.to_vec(), mac.clone()));
            mac
        }
    })
}

fn action_code(action: Action) -> u8 {
    match action {
        Action::Ack => 0,
        Action::Resolve => 1,
        Action::Escalate => 2,
    }
}

fn encode_payload(claims: &Claims) -> Vec<u8> {
    let mut out = vec![(VERSION << 4) | action_code(claims.action)];
    put_varint(&mut out, claims.incident);
    put_varint(
        &mut out,
        u64::try_from(claims.expires.timestamp()).unwrap_or(0),
    );
    out.extend_from_slice(claims.person.as_bytes());
    out
}

fn decode_payload(payload: &[u8]) -> Option<Claims> {
    let (&head, rest) = payload.split_first()?;
    if head >> 4 != VERSION {
        return None;
    }
    let action = match head & 0x0f {
        0 => Action::Ack,
        1 => Action::Resolve,
        2 => Action::Escalate,
        _ => return None,
    };
    let (incident, rest) = take_varint(rest)?;
    let (expires, rest) = take_varint(rest)?;
    let expires = DateTime::from_timestamp(i64::try_from(expires).ok()?, 0)?;
    let person = std::str::from_utf8(rest).ok()?.to_owned();
    Some(Claims {
        incident,
        person,
        action,
        expires,
    })
}

fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8 & 0x7f) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

fn take_varint(bytes: &[u8]) -> Option<(u64, &[u8])> {
    let mut value: u64 = 0;
    for (i, &byte) in bytes.iter().enumerate().take(10) {
        let bits = u64::from(byte & 0x7f);
        let shift = 7 * i as u32;
        // The tenth byte may carry only the top bit of a u64.
        if shift == 63 && bits > 1 {
            return None;
        }
        value |= bits << shift;
        if byte & 0x80 == 0 {
            return Some((value, &bytes[i + 1..]));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    const SECRET: &[u8] = b"correct horse battery staple";

    fn at(secs: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(secs, 0)
            .single()
            .expect("valid test timestamp")
    }

    fn claims(incident: u64, person: &str, action: Action) -> Claims {
        Claims {
            incident,
            person: person.to_owned(),
            action,
            expires: at(1_800_000_000),
        }
    }

    #[test]
    fn round_trips() {
        fn check(c: Claims) {
            let token = sign(SECRET, &c);
            assert!(
                token
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
                "{token}"
            );
            assert_eq!(verify(SECRET, &token, at(1_700_000_000)), Ok(c));
        }
        check(claims(42, "alice", Action::Ack));
        check(claims(0, "", Action::Resolve));
        check(claims(
            u64::MAX,
            "bob.o'neill@example.com",
            Action::Escalate,
        ));
        check(claims(7, "zoë", Action::Ack));
    }

    #[test]
    fn typical_token_is_short() {
        let token = sign(SECRET, &claims(12_345, "alice.smith", Action::Ack));
        assert!(token.len() < 60, "{} chars: {token}", token.len());
        assert_eq!(sign(SECRET, &claims(42, "alice", Action::Ack)).len(), 38);
    }

    #[test]
    fn sub_second_expiry_is_truncated() {
        let mut c = claims(1, "a", Action::Ack);
        c.expires = at(1_800_000_000) + chrono::Duration::milliseconds(900);
        let got = verify(SECRET, &sign(SECRET, &c), at(0)).expect("valid token");
        assert_eq!(got.expires, at(1_800_000_000));
    }

    #[test]
    fn expiry_boundary() {
        let token = sign(SECRET, &claims(42, "alice", Action::Ack));
        let check = |now: i64, ok: bool| {
            let got = verify(SECRET, &token, at(now));
            assert_eq!(got.is_ok(), ok, "now={now}: {got:?}");
            if !ok {
                assert_eq!(got, Err(TokenError::Expired));
            }
        };
        check(1_799_999_999, true);
        check(1_800_000_000, false);
        check(1_800_000_001, false);
    }

    #[test]
    fn wrong_secret() {
        let token = sign(SECRET, &claims(42, "alice", Action::Ack));
        assert_eq!(
            verify(b"other", &token, at(0)),
            Err(TokenError::BadSignature)
        );
        assert_eq!(verify(b"", &token, at(0)), Err(TokenError::BadSignature));
        // The keyed state kept between calls follows the key asked for.
        let c = claims(42, "alice", Action::Ack);
        let other = sign(b"other", &c);
        assert_ne!(other, token);
        assert_eq!(verify(SECRET, &token, at(0)), Ok(c.clone()));
        assert_eq!(verify(b"other", &other, at(0)), Ok(c));
        assert_eq!(verify(SECRET, &other, at(0)), Err(TokenError::BadSignature));
    }

    #[test]
    fn tampering_any_character_is_refused() {
        const ALPHABET: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let token = sign(SECRET, &claims(42, "alice", Action::Ack));
        for (i, original) in token.char_indices() {
            for replacement in ALPHABET.chars().filter(|&c| c != original) {
                let mut forged = token.clone();
                forged.replace_range(i..i + 1, replacement.encode_utf8(&mut [0; 4]));
                let got = verify(SECRET, &forged, at(0));
                assert!(
                    matches!(got, Err(TokenError::BadSignature | TokenError::Malformed)),
                    "{forged}: {got:?}"
                );
            }
        }
    }

    #[test]
    fn truncated_or_extended_tokens_are_refused() {
        let token = sign(SECRET, &claims(42, "alice", Action::Ack));
        for len in 0..token.len() {
            assert!(
                verify(SECRET, &token[..len], at(0)).is_err(),
                "prefix {len}"
            );
        }
        assert!(verify(SECRET, &format!("{token}A"), at(0)).is_err());
        assert!(verify(SECRET, &format!("{token}="), at(0)).is_err());
    }

    #[test]
    fn garbage() {
        fn check(token: &str, expected: TokenError) {
            assert_eq!(verify(SECRET, token, at(0)), Err(expected), "{token:?}");
        }
        check("", TokenError::Malformed);
        check("!!!!", TokenError::Malformed);
        check("abc", TokenError::Malformed);
        check("a b c", TokenError::Malformed);
        check("AAAA/+==", TokenError::Malformed);
        check(&"A".repeat(40), TokenError::BadSignature);
        check(&"🔥".repeat(20), TokenError::Malformed);
    }

    #[test]
    fn authentic_but_undecodable_payload_is_malformed() {
        fn check(payload: &[u8]) {
            let mut bytes = payload.to_vec();
            bytes.extend_from_slice(&tag(SECRET, payload));
            let token = URL_SAFE_NO_PAD.encode(bytes);
            assert_eq!(
                verify(SECRET, &token, at(0)),
                Err(TokenError::Malformed),
                "{payload:?}"
            );
        }
        check(&[0x20, 1, 1]); // unknown version
        check(&[0x13, 1, 1]); // unknown action
        check(&[0x10, 0x80, 0x80]); // unterminated varint
        check(&[0x10, 1, 1, 0xff]); // person not UTF-8
        check(&[
            0x10, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 1,
        ]); // > u64
    }

    #[test]
    fn varint_round_trip() {
        for value in [0, 1, 127, 128, 300, 1 << 35, u64::MAX - 1, u64::MAX] {
            let mut out = Vec::new();
            put_varint(&mut out, value);
            assert_eq!(take_varint(&out), Some((value, &[][..])), "{value}");
        }
    }
}
