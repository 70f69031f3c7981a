//! The YAML examples of the documentation parse as users paste them: every
//! ```yaml block of README.md, docs/ and deploy/README.md is YAML, and a
//! block of tocsin configuration uses only keys and types tocsin reads.

use std::path::Path;

/// The ```yaml blocks of a Markdown file, with the line each starts on.
fn yaml_blocks(markdown: &str) -> Vec<(usize, String)> {
    let mut blocks = Vec::new();
    let mut open: Option<(usize, String)> = None;
    for (i, line) in markdown.lines().enumerate() {
        match open.as_mut() {
            None if line.trim_start() == "```yaml" => open = Some((i + 2, String::new())),
            Some(_) if line.trim_start() == "```" => blocks.extend(open.take()),
            Some((_, text)) => {
                text.push_str(line);
                text.push('\n');
            }
            None => {}
        }
    }
    blocks
}

/// A block is tocsin's configuration when it has one of its own sections.
fn is_tocsin_config(block: &serde_json::Value) -> bool {
    [
        "server",
        "people",
        "integrations",
        "limits",
        "clients",
        "projects",
    ]
    .iter()
    .any(|key| block.get(key).is_some())
}

#[test]
fn every_yaml_example_parses() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = vec![root.join("README.md"), root.join("deploy/README.md")];
    let docs = std::fs::read_dir(root.join("docs")).expect("docs/");
    files.extend(docs.filter_map(Result::ok).map(|e| e.path()));
    let mut tocsin_blocks = 0;
    for file in files
        .iter()
        .filter(|f| f.extension().is_some_and(|e| e == "md"))
    {
        let text = std::fs::read_to_string(file).expect("read");
        for (line, block) in yaml_blocks(&text) {
            let at = format!("{}:{line}", file.display());
            let value: serde_json::Value =
                serde_saphyr::from_str(&block).unwrap_or_else(|e| panic!("{at}: {e}"));
            if is_tocsin_config(&value) {
                tocsin::config::parse_fragment(&block).unwrap_or_else(|e| panic!("{at}: {e}"));
                tocsin_blocks += 1;
            }
        }
    }
    assert!(tocsin_blocks >= 2, "the configuration reference is checked");
}
