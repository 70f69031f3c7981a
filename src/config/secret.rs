//! Secrets and tokens. A `Secret` never prints its value; a `TokenHash`
//! holds only the SHA-256 of a token and compares in constant time, so the
//! running daemon does not need the token itself.

use std::fmt;

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// A secret value (auth token, password, webhook URL) with a redacting `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: String) -> Self {
        Self(value)
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// The SHA-256 of a bearer token.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct TokenHash([u8; 32]);

impl TokenHash {
    pub fn of(token: &str) -> Self {
        Self(Sha256::digest(token.as_bytes()).into())
    }

    /// From 64 hex digits, as written under `*_sha256` keys.
    pub fn from_hex(hex_digits: &str) -> Result<Self, String> {
        let bytes = hex::decode(hex_digits.trim())
            .map_err(|_| "token_sha256 must be 64 hexadecimal digits".to_string())?;
        let arr: [u8; 32] = bytes
            .try_into()
            .map_err(|_| "token_sha256 must be 64 hexadecimal digits".to_string())?;
        Ok(Self(arr))
    }

    /// Constant-time check of a presented token against this hash.
    pub fn matches(&self, presented: &str) -> bool {
        self.is(&Self::of(presented))
    }

    /// Constant-time check of a presented token's hash: a token checked
    /// against many entries is hashed once (`TokenHash::of`), not per entry.
    pub fn is(&self, presented: &TokenHash) -> bool {
        presented.0.ct_eq(&self.0).into()
    }
}

impl fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenHash(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_hash_matches_only_its_token() {
        let h = TokenHash::of("demo-token");
        assert!(h.matches("demo-token"));
        assert!(!h.matches("demo-tokem"));
        let hex_form = hex::encode(Sha256::digest(b"demo-token"));
        assert!(TokenHash::from_hex(&hex_form).is_ok_and(|h| h.matches("demo-token")));
        assert!(TokenHash::from_hex("abc").is_err());
    }

    #[test]
    fn debug_never_shows_secrets() {
        assert_eq!(
            format!("{:?}", Secret::new("hunter2".into())),
            "Secret(***)"
        );
        assert_eq!(format!("{:?}", TokenHash::of("x")), "TokenHash(***)");
    }
}
