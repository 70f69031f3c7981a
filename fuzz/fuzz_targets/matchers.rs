//! Label matchers as written in routing rules: `{severity="critical", team=~"db|infra"}`.
#![no_main]

use std::collections::BTreeMap;

use libfuzzer_sys::fuzz_target;
use tocsin::ingest::matcher::{MatchOp, Matcher, parse_matchers};
use tocsin_fuzz::text;

fuzz_target!(|data: &[u8]| {
    let input = text(data);
    if let Ok(m) = Matcher::parse(&input) {
        check(&m);
    }
    if let Ok(list) = parse_matchers(&input) {
        list.iter().for_each(check);
    }
});

fn check(m: &Matcher) {
    // Printed, a matcher reads back as itself.
    let printed = m.to_string();
    match Matcher::parse(&printed) {
        Ok(again) => assert_eq!(&again, m, "{printed}"),
        Err(e) => panic!("{printed} does not read back: {e}"),
    }
    // A label equal to the value: `=` holds, `!=` does not; a missing label
    // is "".
    let labels = BTreeMap::from([(m.name().to_string(), m.value().to_string())]);
    match m.op() {
        MatchOp::Equal => assert!(m.matches(&labels)),
        MatchOp::NotEqual => assert!(!m.matches(&labels)),
        MatchOp::Regex | MatchOp::NotRegex => {
            m.matches(&labels);
        }
    }
    let empty = BTreeMap::new();
    let blank = BTreeMap::from([(m.name().to_string(), String::new())]);
    assert_eq!(m.matches(&empty), m.matches(&blank), "{printed}");
}
