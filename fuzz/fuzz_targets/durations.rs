//! Durations and instants as people type them: `ttl` of a presence mark
//! (`4h`), `?at=` of the routing API (`2026-11-25 09:00`), the config's
//! timeouts and overrides.
#![no_main]

use chrono_tz::Tz;
use libfuzzer_sys::fuzz_target;
use tocsin::duration::Span;
use tocsin::when;
use tocsin_fuzz::text;

const TEN_YEARS: u64 = 10 * 365 * 86_400;
const ZONES: [Tz; 4] = [
    Tz::UTC,
    Tz::Europe__Berlin,
    Tz::America__St_Johns,
    Tz::Australia__Lord_Howe,
];

fuzz_target!(|data: &[u8]| {
    let input = text(data);
    if let Ok(span) = Span::parse(&input) {
        assert!((1..=TEN_YEARS).contains(&span.as_secs()), "{input:?}");
        // Printed, a span reads back as itself.
        assert_eq!(Span::parse(&span.to_string()), Ok(span), "{input:?}");
        assert_eq!(
            span.to_chrono().num_seconds().unsigned_abs(),
            span.as_secs()
        );
        assert_eq!(span.to_std().as_secs(), span.as_secs());
    }
    for tz in ZONES {
        if let Ok(t) = when::parse(&input, tz) {
            // What the API answers shows the instant on the zone's clock.
            let _ = t.with_timezone(&tz).to_rfc3339();
        }
    }
});
