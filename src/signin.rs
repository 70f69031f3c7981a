//! Web sign-in: one-time sign-in links and the sessions they open.
//!
//! A sign-in link carries a random token; only its SHA-256 is stored, it is
//! valid for [`LINK_TTL`] and opens one session. A session is a random
//! cookie value (stored hashed too) with its own CSRF token, revocable one
//! by one or all at once. Pure: tokens and `now` come in as parameters; the
//! store keeps the rows, `web` speaks HTTP.

use chrono::{DateTime, Duration, Utc};
use sha2::{Digest, Sha256};

use crate::config::{ChannelType, Person, Roster};

/// How long a sign-in link works.
pub const LINK_TTL: Duration = Duration::minutes(15);

/// Most unused links a person may have at once: the sign-in form sends
/// no more until one is used or expires, so it cannot be used to flood
/// someone's phone.
pub const MAX_LIVE_LINKS: i64 = 3;

/// How long a session lasts without signing in again.
pub const SESSION_TTL: Duration = Duration::days(30);

/// A stored session: who, and the token every form must carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub id: i64,
    pub person: String,
    pub csrf: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// What the store keeps of a sign-in link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewLink {
    pub hash: String,
    pub person: String,
    pub expires_at: DateTime<Utc>,
}

/// What the store keeps of a new session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSession {
    pub hash: String,
    pub person: String,
    pub csrf: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// The stored form of a token: its SHA-256, hex.
pub fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A sign-in link for `person` from the random `token`, issued at `now`.
pub fn link(person: &str, token: &str, now: DateTime<Utc>) -> NewLink {
    NewLink {
        hash: hash(token),
        person: person.to_string(),
        expires_at: now + LINK_TTL,
    }
}

/// A session for `person` from the random cookie value and CSRF token.
pub fn session(person: &str, cookie: &str, csrf: &str, now: DateTime<Utc>) -> NewSession {
    NewSession {
        hash: hash(cookie),
        person: person.to_string(),
        csrf: csrf.to_string(),
        created_at: now,
        expires_at: now + SESSION_TTL,
    }
}

/// The person `who` names: a person id or an email address (any case).
pub fn find<'r>(roster: &'r Roster, who: &str) -> Option<&'r Person> {
    let who = who.trim();
    roster
        .people
        .get(who)
        .or_else(|| find_by_email(roster, who))
}

/// The person whose configured email is `email` (any case); what an
/// identity provider's `email` claim opens.
pub fn find_by_email<'r>(roster: &'r Roster, email: &str) -> Option<&'r Person> {
    let email = email.trim();
    roster.people.values().find(|p| {
        p.email
            .as_deref()
            .is_some_and(|e| e.eq_ignore_ascii_case(email))
    })
}

/// The channels a person can get a sign-in link on (voice cannot read one).
pub fn channels(person: &Person) -> Vec<ChannelType> {
    [ChannelType::Email, ChannelType::Chat, ChannelType::Sms]
        .into_iter()
        .filter(|c| person.address(*c).is_some())
        .collect()
}

/// The words of the message carrying a sign-in link: (subject, body).
pub fn message(url: &str) -> (String, String) {
    (
        "tocsin: your sign-in link".to_string(),
        format!("Sign in to tocsin: {url}\nWorks once, for 15 min. Not you? Ignore this."),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_is_hex_sha256_and_never_the_token() {
        fn check(token: &str, expected_prefix: &str) {
            let h = hash(token);
            assert_eq!(h.len(), 64, "{token}");
            assert!(h.starts_with(expected_prefix), "{token}: {h}");
            assert_ne!(h, token);
        }
        check("", "e3b0c442");
        check("abc", "ba7816bf");
    }

    #[test]
    fn expiries() {
        let now = DateTime::from_timestamp(1_800_000_000, 0).expect("instant");
        assert_eq!(
            link("bob", "t", now).expires_at - now,
            Duration::minutes(15)
        );
        assert_eq!(
            session("bob", "c", "x", now).expires_at - now,
            Duration::days(30)
        );
    }

    #[test]
    fn message_names_the_link_and_its_limits() {
        let (subject, body) = message("https://t.example/signin/abc");
        assert_eq!(subject, "tocsin: your sign-in link");
        assert!(body.contains("https://t.example/signin/abc"));
        assert!(body.contains("15 min"));
    }
}
