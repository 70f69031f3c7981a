//! `POST /mattermost/actions`: the JSON body of a button click, whose
//! context tocsin signed.
//!
//! Input: the body.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tocsin::notify::interactive::{self, mattermost};

const KEY: &[u8] = b"link-secret";

fuzz_target!(|data: &[u8]| {
    // A click accepted carries a context signed with the key: its button
    // and text signed again give the same tag.
    if let Ok(click) = mattermost::parse(KEY, data) {
        assert!(tocsin::incident::reference::Key::parse(&click.incident).is_some());
        let button = interactive::value(&click.incident, click.action);
        let sig = mattermost::sign(KEY, &button, &click.message.text);
        let body: serde_json::Value = serde_json::from_slice(data).unwrap_or_default();
        assert_eq!(
            body.pointer("/context/sig").and_then(|s| s.as_str()),
            Some(sig.as_str())
        );
        // The same body under another key is refused.
        assert!(mattermost::parse(b"another key", data).is_err());
    }
});
