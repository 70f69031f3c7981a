//! `POST /generic/2010-04-15/create_event.json`: a legacy Events v1 event.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tocsin::ingest::events_v1;
use tocsin::ingest::events_v2::{Action, EventsError};
use tocsin_fuzz::check_alert;

const GENERATED: &str = "generated-key";

fuzz_target!(|body: &[u8]| {
    match events_v1::parse(body, || GENERATED.to_string()) {
        Ok(event) => {
            assert!(!event.dedup_key.is_empty());
            assert_eq!(event.alert.is_some(), event.action == Action::Trigger);
            if let Some(alert) = &event.alert {
                assert_eq!(alert.dedup_key, event.dedup_key);
                check_alert(alert);
            }
            assert_eq!(events_v1::accepted(&event.dedup_key).0, 200);
        }
        Err(e) => {
            if let EventsError::Invalid(errors) = &e {
                assert!(!errors.is_empty(), "refused without saying why");
            }
            assert_eq!(e.response().0, 400);
        }
    }
});
