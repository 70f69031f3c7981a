//! `POST /v2/change/enqueue`: a PagerDuty change event.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tocsin::ingest::alert::MAX_SUMMARY_CHARS;
use tocsin::ingest::change_event;
use tocsin::ingest::events_v2::EventsError;
use tocsin_fuzz::check_page_text;

fuzz_target!(|body: &[u8]| {
    match change_event::parse(body) {
        Ok(event) => {
            assert!(event.summary.chars().count() <= MAX_SUMMARY_CHARS);
            check_page_text(&event.summary);
            for link in &event.links {
                assert!(!link.href.trim().is_empty(), "empty link kept: {link:?}");
            }
        }
        Err(e) => {
            if let EventsError::Invalid(errors) = &e {
                assert!(!errors.is_empty(), "refused without saying why");
            }
            assert_eq!(e.response().0, 400);
        }
    }
});
