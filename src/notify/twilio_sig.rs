//! `X-Twilio-Signature` validation (PROTOCOLS §3e), byte-for-byte as
//! Twilio's own validators compute it.
//!
//! Owns: the string-to-sign, HMAC-SHA1 + Base64, the with/without-port URL
//! variants, and the `bodySHA256` check for JSON bodies. Must not: rebuild the
//! URL from the request's Host or scheme (the caller passes the public URL it
//! configured in Twilio), normalise the URL (a trailing slash or
//! percent-encoding must match exactly), or trim parameter values.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The signature Twilio would send for a form-encoded request to `url`.
///
/// Parameters are sorted by name, each name's values sorted and
/// de-duplicated, and `name + value` appended to the URL.
pub fn expected_signature(token: &str, url: &str, params: &[(String, String)]) -> String {
    let mut pairs: Vec<(&str, &str)> = params
        .iter()
        .map(|(name, value)| (name.as_str(), value.as_str()))
        .collect();
    pairs.sort_unstable();
    pairs.dedup();
    let mut mac =
        Hmac::<Sha1>::new_from_slice(token.as_bytes()).expect("HMAC accepts keys of any length");
    mac.update(url.as_bytes());
    for (name, value) in pairs {
        mac.update(name.as_bytes());
        mac.update(value.as_bytes());
    }
    STANDARD.encode(mac.finalize().into_bytes())
}

/// Whether `header` is a valid signature of a form-encoded request under any
/// of `tokens` (primary, then secondary during rotation), accepting the URL
/// with the default port added or with any port removed.
pub fn validate(
    tokens: &[&str],
    url: &str,
    params: &[(String, String)],
    header: Option<&str>,
) -> bool {
    let Some(header) = header else {
        return false;
    };
    let variants = url_variants(url);
    let mut ok = false;
    // No early exit: the work done does not depend on which candidate matched.
    for token in tokens {
        for candidate in &variants {
            ok |= constant_time_eq(&expected_signature(token, candidate, params), header);
        }
    }
    ok
}

/// Whether a JSON-bodied request is authentic: the signature covers the URL
/// alone (which carries `bodySHA256=<hex>`), and that hash must equal the
/// SHA-256 of the exact raw body.
pub fn validate_json(tokens: &[&str], url: &str, raw_body: &[u8], header: Option<&str>) -> bool {
    let Some(claimed) = body_sha256_param(url) else {
        return false;
    };
    let actual = hex::encode(Sha256::digest(raw_body));
    let body_ok = constant_time_eq(&actual, &claimed);
    let signature_ok = validate(tokens, url, &[], header);
    body_ok && signature_ok
}

fn constant_time_eq(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

/// The first `bodySHA256` value in the URL's query, decoded.
fn body_sha256_param(url: &str) -> Option<String> {
    let without_fragment = url.split('#').next().unwrap_or(url);
    let (_, query) = without_fragment.split_once('?')?;
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(name, _)| name == "bodySHA256")
        .map(|(_, value)| value.into_owned())
}

/// The URLs Twilio's validator tries: as given with the default port added
/// (when it has none) and with its port removed (when it has one); one of the
/// two is always the URL as given.
fn url_variants(url: &str) -> [String; 2] {
    match split_authority(url) {
        None => [url.to_owned(), url.to_owned()],
        Some(parts) => match parts.port_start {
            Some(colon) => [
                url.to_owned(),
                format!("{}{}", &url[..colon], &url[parts.host_end..]),
            ],
            None => {
                let port = if parts.scheme.eq_ignore_ascii_case("https") {
                    ":443"
                } else {
                    ":80"
                };
                [
                    format!(
                        "{}{}{}",
                        &url[..parts.host_end],
                        port,
                        &url[parts.host_end..]
                    ),
                    url.to_owned(),
                ]
            }
        },
    }
}

struct Authority<'a> {
    scheme: &'a str,
    /// Byte index of the `:` before the port, if a port is present.
    port_start: Option<usize>,
    /// Byte index just past the authority (host and port).
    host_end: usize,
}

fn split_authority(url: &str) -> Option<Authority<'_>> {
    let (scheme, rest) = url.split_once("://")?;
    let start = scheme.len() + 3;
    let len = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..len];
    let host_offset = authority.rfind('@').map_or(0, |at| at + 1);
    let host_port = &authority[host_offset..];
    // An IPv6 literal holds colons of its own; the port follows the `]`.
    let search_from = host_port.rfind(']').map_or(0, |bracket| bracket + 1);
    let port_start = host_port[search_from..]
        .rfind(':')
        .map(|colon| start + host_offset + search_from + colon);
    Some(Authority {
        scheme,
        port_start,
        host_end: start + len,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "12345";
    const URL: &str = "https://mycompany.com/myapp.php?foo=1&bar=2";

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn call_params() -> Vec<(String, String)> {
        pairs(&[
            ("CallSid", "CA1234567890ABCDE"),
            ("Caller", "+14158675309"),
            ("Digits", "1234"),
            ("From", "+14158675309"),
            ("To", "+18005551212"),
        ])
    }

    #[test]
    fn protocol_vectors_for_expected_signature() {
        fn check(url: &str, params: &[(String, String)], expected: &str) {
            assert_eq!(expected_signature(TOKEN, url, params), expected, "{url}");
        }
        let p = call_params();
        check(URL, &p, "RSOYDt4T1cUTdK1PDd93/VVr8B8=");
        check(
            "https://mycompany.com:443/myapp.php?foo=1&bar=2",
            &p,
            "kvajT1Ptam85bY51eRf/AJRuM3w=",
        );
        check(
            "http://mycompany.com:1234/myapp.php?foo=1&bar=2",
            &p,
            "Zmvh+3yNM1Phv2jhDCwEM3q5ebU=",
        );
        check(
            "http://mycompany.com:80/myapp.php?foo=1&bar=2",
            &p,
            "0ZXoZLH/DfblKGATFgpif+LLRf4=",
        );
        let multi = pairs(&[
            ("Sid", "CA123"),
            ("SidAccount", "AC123"),
            ("Digits", "5678"),
            ("Digits", "1234"),
            ("Digits", "1234"),
        ]);
        check(URL, &multi, "IK+Dwps556ElfBT0I3Rgjkr1wJU=");
        let json_url = format!(
            "{URL}&bodySHA256=0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620"
        );
        check(&json_url, &[], "a9nBmqA0ju/hNViExpshrM61xv4=");
    }

    #[test]
    fn parameter_order_in_the_request_does_not_matter() {
        let mut reversed = call_params();
        reversed.reverse();
        assert_eq!(
            expected_signature(TOKEN, URL, &reversed),
            "RSOYDt4T1cUTdK1PDd93/VVr8B8="
        );
    }

    #[test]
    fn validate_table() {
        fn check(tokens: &[&str], url: &str, header: Option<&str>, expected: bool) {
            let got = validate(tokens, url, &call_params(), header);
            assert_eq!(
                got, expected,
                "tokens={tokens:?} url={url} header={header:?}"
            );
        }
        let good = Some("RSOYDt4T1cUTdK1PDd93/VVr8B8=");
        check(&[TOKEN], URL, good, true);
        check(&["wrong", TOKEN], URL, good, true); // secondary token during rotation
        check(&[TOKEN, "wrong"], URL, good, true);
        check(&["wrong"], URL, good, false);
        check(&[], URL, good, false);
        check(&[TOKEN], URL, None, false);
        check(&[TOKEN], URL, Some(""), false);
        check(&[TOKEN], URL, Some("RSOYDt4T1cUTdK1PDd93/VVr8B8"), false); // truncated
        check(&[TOKEN], URL, Some("rSOYDt4T1cUTdK1PDd93/VVr8B8="), false); // case changed
        check(
            &[TOKEN],
            "https://mycompany.com/myapp.php?foo=1&bar=3",
            good,
            false,
        );
        check(
            &[TOKEN],
            "https://mycompany.com/myapp.php/?foo=1&bar=2",
            good,
            false,
        );
        // Signed with :443, configured without: the validator adds the port.
        check(&[TOKEN], URL, Some("kvajT1Ptam85bY51eRf/AJRuM3w="), true);
        // Signed without the port, configured with :443: the validator removes it.
        check(
            &[TOKEN],
            "https://mycompany.com:443/myapp.php?foo=1&bar=2",
            good,
            true,
        );
        // Any port is removed, not only the default one.
        check(
            &[TOKEN],
            "https://mycompany.com:8443/myapp.php?foo=1&bar=2",
            good,
            true,
        );
        check(
            &[TOKEN],
            "http://mycompany.com:1234/myapp.php?foo=1&bar=2",
            Some("Zmvh+3yNM1Phv2jhDCwEM3q5ebU="),
            true,
        );
        // Plain http gets :80 added, never :443.
        check(
            &[TOKEN],
            "http://mycompany.com/myapp.php?foo=1&bar=2",
            Some("0ZXoZLH/DfblKGATFgpif+LLRf4="),
            true,
        );
        check(
            &[TOKEN],
            "https://mycompany.com/myapp.php?foo=1&bar=2",
            Some("0ZXoZLH/DfblKGATFgpif+LLRf4="),
            false,
        );
        // A non-default port is never swapped for another.
        check(
            &[TOKEN],
            "http://mycompany.com:1234/myapp.php?foo=1&bar=2",
            Some("0ZXoZLH/DfblKGATFgpif+LLRf4="),
            false,
        );
    }

    #[test]
    fn forged_params_fail() {
        let mut forged = call_params();
        forged[2].1 = "1".to_string();
        assert!(!validate(
            &[TOKEN],
            URL,
            &forged,
            Some("RSOYDt4T1cUTdK1PDd93/VVr8B8=")
        ));
        let mut extra = call_params();
        extra.push(("Extra".to_string(), "x".to_string()));
        assert!(!validate(
            &[TOKEN],
            URL,
            &extra,
            Some("RSOYDt4T1cUTdK1PDd93/VVr8B8=")
        ));
    }

    #[test]
    fn url_variants_table() {
        fn check(url: &str, expected: [&str; 2]) {
            assert_eq!(url_variants(url), expected.map(String::from), "{url}");
        }
        check(
            "https://a.com/x",
            ["https://a.com:443/x", "https://a.com/x"],
        );
        check("http://a.com/x", ["http://a.com:80/x", "http://a.com/x"]);
        check("https://a.com", ["https://a.com:443", "https://a.com"]);
        check(
            "https://a.com?q=1:2",
            ["https://a.com:443?q=1:2", "https://a.com?q=1:2"],
        );
        check(
            "https://a.com:8443/x",
            ["https://a.com:8443/x", "https://a.com/x"],
        );
        check(
            "https://u:p@a.com/x",
            ["https://u:p@a.com:443/x", "https://u:p@a.com/x"],
        );
        check(
            "https://u:p@a.com:9/x",
            ["https://u:p@a.com:9/x", "https://u:p@a.com/x"],
        );
        check(
            "http://[::1]:8080/x",
            ["http://[::1]:8080/x", "http://[::1]/x"],
        );
        check("http://[::1]/x", ["http://[::1]:80/x", "http://[::1]/x"]);
        check("not a url", ["not a url", "not a url"]);
    }

    #[test]
    fn json_bodies() {
        const BODY: &[u8] = br#"{"property": "value", "boolean": true}"#;
        const HASH: &str = "0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620";
        const SIG: &str = "a9nBmqA0ju/hNViExpshrM61xv4=";
        fn check(url: &str, body: &[u8], header: Option<&str>, expected: bool) {
            assert_eq!(
                validate_json(&[TOKEN], url, body, header),
                expected,
                "{url}"
            );
        }
        let url = format!("{URL}&bodySHA256={HASH}");
        check(&url, BODY, Some(SIG), true);
        check(
            &url,
            br#"{"property": "value", "boolean": false}"#,
            Some(SIG),
            false,
        );
        check(&url, BODY, Some("RSOYDt4T1cUTdK1PDd93/VVr8B8="), false);
        check(&url, BODY, None, false);
        check(URL, BODY, Some(SIG), false); // no bodySHA256 at all
        let port_url = format!("https://mycompany.com:443/myapp.php?foo=1&bar=2&bodySHA256={HASH}");
        check(&port_url, BODY, Some(SIG), true);
        // Correct hash of the body, but the URL was re-signed by nobody.
        let other = format!("{URL}&bodySHA256={}", hex::encode(Sha256::digest(b"{}")));
        check(&other, b"{}", Some(SIG), false);
    }
}
