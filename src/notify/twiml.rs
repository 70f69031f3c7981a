//! TwiML responses (PROTOCOLS §3c, §3d), with every piece of text escaped.
//!
//! Owns: the exact XML tocsin answers Twilio with. Must not: decide what to
//! say (callers pass the words) or embed anything unescaped.

/// The `Content-Type` to answer Twilio with.
pub const CONTENT_TYPE: &str = "text/xml; charset=utf-8";

const DECLARATION: &str = r#"<?xml version="1.0" encoding="UTF-8"?>"#;

/// Said after the gather times out with no digit.
const NO_INPUT: &str = "No input received. Goodbye.";

/// A reply that sends nothing back.
pub fn empty() -> String {
    format!("{DECLARATION}<Response/>")
}

/// A reply SMS carrying `text`.
pub fn message(text: &str) -> String {
    format!(
        "{DECLARATION}<Response><Message>{}</Message></Response>",
        escape(text)
    )
}

/// Reads `say` twice while waiting up to 10 s for one keypad digit, which is
/// POSTed to `action_url`; with no input it says so and hangs up.
pub fn gather_digit(say: &str, action_url: &str) -> String {
    format!(
        concat!(
            "{decl}<Response>",
            r#"<Gather input="dtmf" numDigits="1" timeout="10" action="{action}" method="POST">"#,
            r#"<Say language="en-US" loop="2">{say}</Say>"#,
            "</Gather>",
            r#"<Say language="en-US">{no_input}</Say><Hangup/>"#,
            "</Response>"
        ),
        decl = DECLARATION,
        action = escape(action_url),
        say = escape(say),
        no_input = NO_INPUT,
    )
}

/// Says `text` once and hangs up.
pub fn say_and_hangup(text: &str) -> String {
    format!(
        r#"{DECLARATION}<Response><Say language="en-US">{}</Say><Hangup/></Response>"#,
        escape(text)
    )
}

/// Escapes text for use in XML content or a double- or single-quoted
/// attribute, dropping characters XML 1.0 cannot carry at all.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if allowed_in_xml(c) => out.push(c),
            _ => {}
        }
    }
    out
}

fn allowed_in_xml(c: char) -> bool {
    matches!(c, '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_table() {
        fn check(input: &str, expected: &str) {
            assert_eq!(escape(input), expected, "{input:?}");
        }
        check("plain", "plain");
        check("a & b", "a &amp; b");
        check("<script>", "&lt;script&gt;");
        check(r#"say "hi" it's"#, "say &quot;hi&quot; it&apos;s");
        check("&amp;", "&amp;amp;");
        check("line\nbreak\ttab", "line\nbreak\ttab");
        check("bell\u{7}nul\u{0}", "bellnul");
        check("\u{FFFE}\u{FFFF}ok", "ok");
        check("zoë 🔥", "zoë 🔥");
        check("]]>", "]]&gt;");
    }

    #[test]
    fn documents() {
        fn check(got: String, expected: &str) {
            assert_eq!(got, expected);
        }
        check(
            empty(),
            r#"<?xml version="1.0" encoding="UTF-8"?><Response/>"#,
        );
        check(
            message("Ack'd INC-42 <db> & co"),
            r#"<?xml version="1.0" encoding="UTF-8"?><Response><Message>Ack&apos;d INC-42 &lt;db&gt; &amp; co</Message></Response>"#,
        );
        check(
            gather_digit(
                "Incident 42: disk <full>. Press 1 to acknowledge.",
                "https://t.example/twilio/ack?n=7&x=\"1\"",
            ),
            concat!(
                r#"<?xml version="1.0" encoding="UTF-8"?><Response>"#,
                r#"<Gather input="dtmf" numDigits="1" timeout="10" action="https://t.example/twilio/ack?n=7&amp;x=&quot;1&quot;" method="POST">"#,
                r#"<Say language="en-US" loop="2">Incident 42: disk &lt;full&gt;. Press 1 to acknowledge.</Say></Gather>"#,
                r#"<Say language="en-US">No input received. Goodbye.</Say><Hangup/></Response>"#
            ),
        );
        check(
            say_and_hangup("Acknowledged & thanks"),
            r#"<?xml version="1.0" encoding="UTF-8"?><Response><Say language="en-US">Acknowledged &amp; thanks</Say><Hangup/></Response>"#,
        );
    }
}
