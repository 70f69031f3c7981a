//! A person's `working_hours` from the roster (`mon-fri 09:00-18:00`), and
//! whether an instant (`?at=` of the routing API) falls inside them.
//!
//! Input: one entry per line, then optionally `0xFF instant`.
#![no_main]

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use libfuzzer_sys::fuzz_target;
use tocsin::routing::hours::WorkingHours;
use tocsin::when;
use tocsin_fuzz::{fields, text};

const ZONES: [Tz; 4] = [
    Tz::UTC,
    Tz::Europe__Berlin,
    Tz::America__St_Johns,
    Tz::Australia__Lord_Howe,
];

fuzz_target!(|data: &[u8]| {
    let [entries, at] = fields::<2>(data);
    let entries = text(entries.unwrap_or_default());
    let entries: Vec<&str> = entries.lines().collect();
    let at = at.map(text);
    let hours = match WorkingHours::parse(&entries) {
        Ok(hours) => hours,
        Err(e) => {
            assert!(e.index < entries.len(), "{e}");
            assert_eq!(e.entry, entries[e.index]);
            return;
        }
    };
    // A list is valid exactly when each of its entries is.
    for entry in &entries {
        assert!(WorkingHours::parse(&[entry]).is_ok(), "{entry:?}");
    }
    let always = entries
        .iter()
        .any(|e| e.trim().eq_ignore_ascii_case("always"));
    for tz in ZONES {
        let mut instants = vec![
            DateTime::<Utc>::MIN_UTC,
            DateTime::<Utc>::MAX_UTC,
            DateTime::from_timestamp(1_774_746_000, 0).unwrap_or_default(),
        ];
        if let Some(t) = at.as_deref().and_then(|s| when::parse(s, tz).ok()) {
            instants.push(t);
        }
        for t in instants {
            let inside = hours.contains(tz, t);
            assert!(inside || !always, "always excludes {t} in {tz}");
        }
    }
});
