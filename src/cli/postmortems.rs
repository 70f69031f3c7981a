//! `tocsin postmortems list|show|submit|approve|publish|reopen|edit`. `edit` round-
//! trips the five sections (four internal, the client summary public)
//! through Markdown in `$EDITOR`; the Markdown rendering and parsing are
//! pure functions here. The review workflow itself (who may approve, what
//! publishing sends) is the daemon's.

use chrono_tz::Tz;
use clap::Subcommand;
use serde_json::{Value, json};

use super::client::ApiClient;
use super::incidents::{Number, list_of, text, when_text};
use super::json_text;
use super::table::{Table, truncate};

#[derive(Debug, Subcommand)]
pub enum PostmortemsCmd {
    /// List postmortems.
    List {
        /// Print the daemon's JSON answer as is.
        #[arg(long)]
        json: bool,
    },
    /// Show one postmortem.
    Show {
        id: Number,
        /// Print the daemon's JSON answer as is.
        #[arg(long)]
        json: bool,
    },
    /// Submit for review.
    Submit { id: Number },
    /// Approve a submitted postmortem.
    Approve { id: Number },
    /// Publish an approved postmortem to the client.
    Publish { id: Number },
    /// Back to draft for a correction (the team lead).
    Reopen { id: Number },
    /// Edit the sections in $EDITOR (default vi) as Markdown.
    Edit { id: Number },
}

/// The section keys the API uses, with their Markdown headings.
const SECTIONS: [(&str, &str); 5] = [
    ("what_happened", "What happened"),
    ("how_fixed", "How it was fixed"),
    ("cause", "Cause"),
    ("measures", "Measures"),
    ("client_summary", PUBLIC_HEADING),
];

/// The heading of the one section published to the client.
const PUBLIC_HEADING: &str = "Client summary (public)";

/// The five editable sections, in [`SECTIONS`] order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Sections(pub [String; 5]);

impl Sections {
    /// From the API's postmortem object; absent sections are empty.
    pub fn from_json(pm: &Value) -> Self {
        Self(SECTIONS.map(|(key, _)| pm[key].as_str().unwrap_or("").to_string()))
    }

    /// The PUT body.
    pub fn to_json(&self) -> Value {
        let mut m = serde_json::Map::new();
        for ((key, _), text) in SECTIONS.iter().zip(&self.0) {
            m.insert((*key).to_string(), json!(text));
        }
        Value::Object(m)
    }
}

/// The Markdown document `edit` opens: a title line, a hint, then one
/// `## ` heading per section.
pub fn to_markdown(title: &str, s: &Sections) -> String {
    let mut out = format!(
        "# {title}\n\n<!-- Edit the text under each heading; keep the five \"## \" headings. \
         Text above the first heading is ignored. Only \"{PUBLIC_HEADING}\" is published \
         to the client; the other sections stay internal. -->\n"
    );
    for ((_, heading), body) in SECTIONS.iter().zip(&s.0) {
        out.push_str(&format!("\n## {heading}\n\n"));
        if !body.is_empty() {
            out.push_str(body);
            out.push('\n');
        }
    }
    out
}

/// The sections back from the edited Markdown. Every heading must appear
/// once; a heading may be the title or the API key, in any case. `## `
/// lines inside ``` fences are text.
pub fn from_markdown(md: &str) -> Result<Sections, String> {
    let mut found: [Option<Vec<&str>>; SECTIONS.len()] = Default::default();
    let mut current: Option<usize> = None;
    let mut fenced = false;
    for line in md.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
        }
        if let Some(heading) = line.strip_prefix("## ").filter(|_| !fenced) {
            let idx = section_index(heading).ok_or_else(|| {
                format!(
                    "unknown section \"## {}\" (expected {})",
                    heading.trim(),
                    expected_headings()
                )
            })?;
            if found[idx].is_some() {
                return Err(format!("section \"## {}\" appears twice", SECTIONS[idx].1));
            }
            found[idx] = Some(Vec::new());
            current = Some(idx);
        } else if let Some(lines) = current.and_then(|i| found[i].as_mut()) {
            lines.push(line);
        }
    }
    let mut out = Sections::default();
    for (i, lines) in found.into_iter().enumerate() {
        let lines = lines.ok_or_else(|| format!("section \"## {}\" is missing", SECTIONS[i].1))?;
        out.0[i] = strip_blank_edges(&lines);
    }
    Ok(out)
}

/// A heading is its title or its API key, in any case, with or without a
/// trailing colon or "(public)".
fn section_index(heading: &str) -> Option<usize> {
    let bare = |t: &str| {
        let t = t.trim().trim_end_matches(':').trim().to_lowercase();
        t.strip_suffix("(public)")
            .map_or(t.clone(), |s| s.trim().to_string())
    };
    let h = bare(heading);
    SECTIONS
        .iter()
        .position(|(key, title)| h == *key || h == bare(title))
}

fn expected_headings() -> String {
    SECTIONS.map(|(_, t)| format!("\"## {t}\"")).join(", ")
}

/// The lines joined, without leading or trailing blank lines or trailing
/// whitespace; inner layout (indentation, blank lines) is kept.
fn strip_blank_edges(lines: &[&str]) -> String {
    let first = lines.iter().position(|l| !l.trim().is_empty());
    let last = lines.iter().rposition(|l| !l.trim().is_empty());
    match (first, last) {
        (Some(a), Some(b)) => lines[a..=b]
            .iter()
            .map(|l| l.trim_end())
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

/// The postmortem object, whether the daemon wraps it or not.
fn unwrap_pm(v: &Value) -> &Value {
    if v["postmortem"].is_object() {
        &v["postmortem"]
    } else {
        v
    }
}

fn title(id: Number, pm: &Value) -> String {
    match pm["title"].as_str() {
        Some(t) if !t.is_empty() => format!("Postmortem {}: {t}", id.0),
        _ => format!("Postmortem {}", id.0),
    }
}

/// The postmortem table: number, incident, state, title.
pub fn render_list(v: &Value) -> String {
    let items = list_of(v, "postmortems");
    if items.is_empty() {
        return "no postmortems\n".into();
    }
    let mut t = Table::new(&["#", "INCIDENT", "STATE", "AUTHOR", "TITLE"]);
    for pm in items {
        t.row(vec![
            text(&pm["id"]),
            text(&pm["incident"]),
            text(&pm["state"]),
            text(&pm["author"]),
            truncate(&text(&pm["title"]), 60),
        ]);
    }
    t.render()
}

/// One postmortem: who and when (state, author, approver, due date), what
/// goes public, its sections as Markdown, then its action items.
pub fn render_show(id: Number, v: &Value, tz: Tz) -> String {
    let pm = unwrap_pm(v);
    let approved = match &pm["approved_by"] {
        Value::String(by) => format!(
            "\napproved by {by} on {}",
            when_text(&pm["approved_at"], tz)
        ),
        _ => String::new(),
    };
    let mut out = format!(
        "state: {}  incident: {}  author: {}  approver: {}\ndue: {}{approved}\n\
         public: only \"{PUBLIC_HEADING}\" is published to the client\n\n",
        text(&pm["state"]),
        text(&pm["incident"]),
        text(&pm["author"]),
        text(&pm["approver"]),
        when_text(&pm["due_at"], tz),
    );
    out.push_str(&to_markdown(&title(id, pm), &Sections::from_json(pm)));
    let items = list_of(pm, "actions");
    if items.is_empty() {
        out.push_str("\nAction items: none\n");
    } else {
        out.push_str(&format!(
            "\nAction items\n{}",
            super::actions::render_list(items, tz)
        ));
    }
    out
}

pub async fn run(api: &ApiClient, cmd: PostmortemsCmd, tz: Tz) -> anyhow::Result<()> {
    let one = |id: Number| format!("/api/v1/postmortems/{}", id.0);
    match cmd {
        PostmortemsCmd::List { json } => {
            let list = api
                .get_all("/api/v1/postmortems", &[], "postmortems")
                .await?;
            let v = json!({ "postmortems": list, "next_cursor": null });
            print!("{}", if json { json_text(&v) } else { render_list(&v) });
        }
        PostmortemsCmd::Show { id, json } => {
            let v = api.get(&one(id), &[]).await?;
            print!(
                "{}",
                if json {
                    json_text(&v)
                } else {
                    render_show(id, &v, tz)
                }
            );
        }
        PostmortemsCmd::Submit { id } => step(api, id, "submit", "submitted").await?,
        PostmortemsCmd::Approve { id } => step(api, id, "approve", "approved").await?,
        PostmortemsCmd::Publish { id } => step(api, id, "publish", "published").await?,
        PostmortemsCmd::Reopen { id } => step(api, id, "reopen", "reopened").await?,
        PostmortemsCmd::Edit { id } => {
            let v = api.get(&one(id), &[]).await?;
            let pm = unwrap_pm(&v);
            if let Some(state) = pm["state"].as_str().filter(|s| FINAL.contains(s)) {
                anyhow::bail!(
                    "postmortem {} is {state}, so final; the team lead reopens it for a \
                     correction (tocsin postmortems reopen {})",
                    id.0,
                    id.0
                );
            }
            let before = Sections::from_json(pm);
            let draft = Draft::create(id, &to_markdown(&title(id, pm), &before))?;
            let after = draft.edit()?;
            if after == before {
                draft.discard();
                println!("postmortem {}: no changes, nothing sent", id.0);
            } else {
                match api.put(&one(id), &after.to_json()).await {
                    Ok(_) => {
                        draft.discard();
                        println!("postmortem {} saved", id.0);
                    }
                    Err(e) => anyhow::bail!("{e}; nothing saved, {}", draft.kept()),
                }
            }
        }
    }
    Ok(())
}

/// The states whose text is final until the team lead reopens it.
const FINAL: [&str; 2] = ["approved", "published"];

async fn step(api: &ApiClient, id: Number, verb: &str, done: &str) -> anyhow::Result<()> {
    let v = api
        .post(&format!("/api/v1/postmortems/{}/{verb}", id.0), &json!({}))
        .await?;
    match (v["changed"].as_bool(), unwrap_pm(&v)["state"].as_str()) {
        (Some(false), _) => println!("postmortem {} was already {done}", id.0),
        (_, Some(state)) => println!("postmortem {} {done} (now {state})", id.0),
        (_, None) => println!("postmortem {} {done}", id.0),
    }
    // What the client will read, while it can still be changed.
    if matches!(verb, "submit" | "approve")
        && let Some(note) = v["on_publish"].as_str()
    {
        println!("{note}");
    }
    Ok(())
}

/// The Markdown being edited, in a fresh temp file that outlives every
/// failure: it is removed only once its text is saved (or unchanged).
struct Draft {
    path: std::path::PathBuf,
}

impl Draft {
    fn create(id: Number, markdown: &str) -> anyhow::Result<Self> {
        use std::io::Write;
        let path = std::env::temp_dir().join(format!(
            "tocsin-postmortem-{}-{}.md",
            id.0,
            std::process::id()
        ));
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", path.display()))?;
        file.write_all(markdown.as_bytes())
            .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
        Ok(Self { path })
    }

    /// `your text is kept in PATH`, for a message after any failure.
    fn kept(&self) -> String {
        format!("your text is kept in {}", self.path.display())
    }

    fn discard(self) {
        let _ = std::fs::remove_file(&self.path);
    }

    /// Runs `$EDITOR` (default vi) on the file and parses the result.
    fn edit(&self) -> anyhow::Result<Sections> {
        let editor = std::env::var("EDITOR")
            .ok()
            .filter(|e| !e.trim().is_empty())
            .unwrap_or_else(|| "vi".into());
        // Through the shell, as git does, so EDITOR="code --wait" works.
        let status = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("{editor} \"$1\""))
            .arg("sh")
            .arg(&self.path)
            .status()
            .map_err(|e| {
                anyhow::anyhow!(
                    "cannot run the editor {editor:?}: {e}; nothing sent, {}",
                    self.kept()
                )
            })?;
        if !status.success() {
            anyhow::bail!(
                "the editor {editor:?} failed ({status}); nothing sent, {}",
                self.kept()
            );
        }
        let edited = std::fs::read_to_string(&self.path)
            .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", self.path.display()))?;
        from_markdown(&edited).map_err(|e| anyhow::anyhow!("{e}; nothing sent, {}", self.kept()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sections(parts: [&str; 5]) -> Sections {
        Sections(parts.map(str::to_string))
    }

    #[test]
    fn markdown_round_trips() {
        for s in [
            sections(["", "", "", "", ""]),
            sections([
                "The shop was down.",
                "Restarted php-fpm.",
                "OOM",
                "Alert on memory.",
                "The shop was down for an hour.",
            ]),
            sections([
                "Line one.\n\nLine two, after a blank line.",
                "  indented code\n### a sub-heading stays text",
                "```\n## inside a fence is text\n```",
                "- one\n- two",
                "What we did: [what we did to fix it]",
            ]),
        ] {
            let md = to_markdown("Postmortem 3: Disk full", &s);
            assert_eq!(from_markdown(&md), Ok(s.clone()), "through\n{md}");
            assert_eq!(Sections::from_json(&s.to_json()), s);
        }
    }

    fn check(md: &str, expected: Result<[&str; 5], &str>) {
        let got = from_markdown(md).map_err(|e| e.to_string());
        match expected {
            Ok(parts) => assert_eq!(got, Ok(sections(parts)), "{md:?}"),
            Err(needle) => {
                let err = got.expect_err("an error");
                assert!(err.contains(needle), "{err:?} should mention {needle:?}");
            }
        }
    }

    #[test]
    fn edited_markdown_is_read_leniently_but_completely() {
        check(
            "ignored preamble\n## what_happened\n  \nA\n\n## HOW IT WAS FIXED:\nB  \n## Cause\n## Measures\nD\n\n\n## client summary\nE\n",
            Ok(["A", "B", "", "D", "E"]),
        );
        check(
            "## What happened\n## How it was fixed\n## Cause\n## Measures\n## Client summary (PUBLIC):\nE",
            Ok(["", "", "", "", "E"]),
        );
        check(
            "## What happened\nA\n## Cause\nC\n## Measures\n## client_summary\n",
            Err("\"## How it was fixed\" is missing"),
        );
        check(
            "## What happened\n## How it was fixed\n## Cause\n## Measures\n",
            Err("\"## Client summary (public)\" is missing"),
        );
        check(
            "## What happened\n## How it was fixed\n## Cause\n## Measures\n## Lessons\n",
            Err("unknown section \"## Lessons\""),
        );
        check(
            "## Cause\n## What happened\n## How it was fixed\n## Cause\n## Measures\n",
            Err("appears twice"),
        );
    }

    #[test]
    fn json_sections_default_to_empty_and_go_back_by_key() {
        let s = Sections::from_json(&json!({"what_happened": "A", "cause": null}));
        assert_eq!(s, sections(["A", "", "", "", ""]));
        assert_eq!(
            s.to_json(),
            json!({"what_happened": "A", "how_fixed": "", "cause": "", "measures": "",
                   "client_summary": ""})
        );
    }

    #[test]
    fn show_and_list_render() {
        let v = json!({"postmortem": {"id": 3, "incident": 3, "state": "approved",
                                      "title": "Disk full", "what_happened": "A",
                                      "author": "bob", "approver": "alice",
                                      "due_at": "2026-11-26T17:00:00Z",
                                      "approved_by": "alice", "approved_at": "2026-11-26T10:00:00Z",
                                      "client_summary": "Shop was down.",
                                      "actions": [{"id": 4, "postmortem": 3, "title": "Alert on memory",
                                                   "assignee": "bob", "deadline": "2026-12-04T22:59:59Z",
                                                   "priority": "high", "state": "open"}]}});
        let out = render_show(Number(3), &v, chrono_tz::Europe::Berlin);
        assert!(
            out.starts_with(
                "state: approved  incident: 3  author: bob  approver: alice\n\
                 due: Thu 26 Nov 18:00 CET\n\
                 approved by alice on Thu 26 Nov 11:00 CET\n\
                 public: only \"Client summary (public)\" is published to the client\n\n\
                 # Postmortem 3: Disk full\n"
            ),
            "{out}"
        );
        assert!(
            out.ends_with(
                "\n\nAction items\n\
                 #  STATE  DUE                   ASSIGNEE  PRIORITY  POSTMORTEM  TITLE\n\
                 4  open   Fri 04 Dec 23:59 CET  bob       high      3           Alert on memory\n"
            ),
            "{out}"
        );
        assert!(
            out.contains("\n## What happened\n\nA\n\n## How it was fixed\n"),
            "{out}"
        );
        assert!(
            out.contains("\n## Measures\n\n\n## Client summary (public)\n\nShop was down.\n"),
            "{out}"
        );
        assert_eq!(render_list(&json!({"postmortems": []})), "no postmortems\n");
        assert_eq!(
            render_list(
                &json!({"postmortems": [{"id": 3, "incident": 3, "state": "draft", "title": "Disk full"}]})
            ),
            "#  INCIDENT  STATE  AUTHOR  TITLE\n3  3         draft  -       Disk full\n"
        );
    }
}
