//! Markdown to HTML for previews (postmortem sections). Raw HTML in the
//! text is shown as text, never passed through: what someone typed cannot
//! become markup or script in a reviewer's browser. Links keep only http,
//! https and mailto targets.

use pulldown_cmark::{CowStr, Event, Options, Parser, Tag, html};

/// `text` as HTML, safe to put in a page unescaped.
pub fn to_html(text: &str) -> String {
    let parser = Parser::new_ext(text, Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH).map(
        |event| match event {
            Event::Html(raw) | Event::InlineHtml(raw) => Event::Text(raw),
            Event::Start(Tag::Link {
                link_type,
                dest_url,
                title,
                id,
            }) => Event::Start(Tag::Link {
                link_type,
                dest_url: safe_url(dest_url),
                title,
                id,
            }),
            Event::Start(Tag::Image {
                link_type,
                dest_url,
                title,
                id,
            }) => Event::Start(Tag::Link {
                link_type,
                dest_url: safe_url(dest_url),
                title,
                id,
            }),
            Event::End(pulldown_cmark::TagEnd::Image) => Event::End(pulldown_cmark::TagEnd::Link),
            other => other,
        },
    );
    let mut out = String::new();
    html::push_html(&mut out, parser);
    out
}

/// Only web and mail links; anything else (`javascript:`, `data:`) becomes
/// an empty link.
fn safe_url(url: CowStr<'_>) -> CowStr<'_> {
    let lower = url.trim().to_ascii_lowercase();
    if ["http://", "https://", "mailto:"]
        .iter()
        .any(|p| lower.starts_with(p))
        || !lower.contains(':')
    {
        url
    } else {
        CowStr::Borrowed("")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_table() {
        fn check(text: &str, expected: &str) {
            assert_eq!(to_html(text).trim(), expected, "{text}");
        }
        check("plain", "<p>plain</p>");
        check("**db** down", "<p><strong>db</strong> down</p>");
        check("- a\n- b", "<ul>\n<li>a</li>\n<li>b</li>\n</ul>");
        check(
            "<script>alert(1)</script>",
            "&lt;script&gt;alert(1)&lt;/script&gt;",
        );
        check(
            "a <b onclick=x>b</b>",
            "<p>a &lt;b onclick=x&gt;b&lt;/b&gt;</p>",
        );
        check("[x](javascript:alert(1))", "<p><a href=\"\">x</a></p>");
        check(
            "[x](https://e.example/)",
            "<p><a href=\"https://e.example/\">x</a></p>",
        );
        check(
            "![i](https://e.example/i.png)",
            "<p><a href=\"https://e.example/i.png\">i</a></p>",
        );
    }
}
