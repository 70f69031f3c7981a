//! Configuration: YAML files → a validated [`Roster`].
//!
//! `raw` mirrors the files with positions, `validate` turns them into
//! `model` types that cannot be wrong, collecting every error as
//! `file:line:column: message`. This module reads files and the environment
//! and nothing else; it never starts anything.

mod auth;
mod context;
mod errors;
mod maintenance;
pub mod model;
mod raw;
mod reach;
pub mod secret;
mod validate;

#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};

pub use context::interpolate;
pub use errors::{ConfigError, ConfigErrors};
pub use model::*;
pub use secret::{Secret, TokenHash};
pub use validate::is_e164;

use context::Ctx;

/// Loads the main file, its includes and every referenced secret file,
/// reading variables from the process environment.
pub fn load(path: &Path) -> Result<Roster, ConfigErrors> {
    load_with_env(path, &|k| std::env::var(k).ok())
}

/// As [`load`], with the environment injected (tests).
pub fn load_with_env(
    path: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Roster, ConfigErrors> {
    let mut ctx = Ctx::new(env);
    let mut files = Vec::new();
    let main = read(&mut ctx, path.to_path_buf(), None);
    let Some(main) = main else {
        return Err(ctx.into_errors());
    };
    let includes: Vec<_> = main
        .include
        .iter()
        .map(|g| (g.referenced, g.value.clone()))
        .collect();
    files.push(main);
    for (at, pattern) in includes {
        ctx.file = 0;
        let Some(pattern) = (match interpolate(&pattern, env) {
            Ok(p) => Some(p),
            Err(e) => {
                ctx.error_at(&at, e);
                None
            }
        }) else {
            continue;
        };
        let full = ctx.path(&pattern);
        let matched = match glob::glob(&full.to_string_lossy()) {
            Ok(paths) => paths.filter_map(Result::ok).collect::<Vec<_>>(),
            Err(e) => {
                ctx.error_at(&at, format!("include {pattern:?} is not a valid glob: {e}"));
                continue;
            }
        };
        if matched.is_empty() {
            ctx.error_at(&at, format!("include {pattern:?} matches no file"));
        }
        let mut matched = matched;
        matched.sort();
        for p in matched {
            if let Some(f) = read(&mut ctx, p, Some(&at)) {
                files.push(f);
            }
        }
    }
    if !ctx.errors.is_empty() {
        // Syntax errors make cross-file checks meaningless; report them alone.
        return Err(ctx.into_errors());
    }
    match validate::roster(&mut ctx, &files) {
        Some(r) => Ok(r),
        None => Err(ctx.into_errors()),
    }
}

/// Reads and parses one file, recording its path in `ctx.files`.
fn read(
    ctx: &mut Ctx<'_>,
    path: PathBuf,
    included_at: Option<&serde_saphyr::Location>,
) -> Option<raw::File> {
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) => {
            match included_at {
                Some(at) => ctx.error_at(
                    at,
                    format!("cannot read included file {}: {e}", path.display()),
                ),
                None => ctx.errors.push(ConfigError {
                    file: path.clone(),
                    line: 1,
                    column: 1,
                    message: format!("cannot read configuration: {e}"),
                }),
            }
            return None;
        }
    };
    ctx.files.push(path);
    ctx.file = ctx.files.len() - 1;
    match raw::parse(&text) {
        Ok(f) => Some(f),
        Err(e) => {
            let (line, column, message) = parse_error(&e, &text);
            let file = ctx.files[ctx.file].clone();
            ctx.errors.push(ConfigError {
                file,
                line,
                column,
                message,
            });
            None
        }
    }
}

/// Whether `text` reads as one configuration file: YAML, known keys, value
/// types; values and references are not checked, so a documentation
/// example (a fragment) can be tested. The error is `line:column: message`.
pub fn parse_fragment(text: &str) -> Result<(), String> {
    raw::parse(text).map(drop).map_err(|e| {
        let (line, column, message) = parse_error(&e, text);
        format!("{line}:{column}: {message}")
    })
}

/// Position and message of a parse error, without the parser's own
/// trailing position (ours leads the line).
fn parse_error(e: &serde_saphyr::Error, text: &str) -> (u64, u64, String) {
    let (line, column) = e.location().map_or((1, 1), |l| (l.line(), l.column()));
    let msg = e.without_snippet().to_string();
    let msg = match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg,
    };
    (line, column, with_quoting_hint(msg, text, line))
}

/// `{ url: ${X} }` is not YAML: inside `{ }` or `[ ]` the braces of `${X}`
/// end the value. The parser's message does not say so; this one does.
fn with_quoting_hint(message: String, text: &str, line: u64) -> String {
    let at = |n: u64| {
        usize::try_from(n)
            .ok()
            .and_then(|n| text.lines().nth(n.checked_sub(1)?))
            .unwrap_or("")
    };
    // The parser may point at the line after the one that broke.
    let near_variable = at(line).contains("${") || at(line.saturating_sub(1)).contains("${");
    if near_variable && message.contains("flow") {
        format!("{message}: quote a ${{VAR}} inside {{ }} or [ ], as in {{ url: \"${{VAR}}\" }}")
    } else {
        message
    }
}

impl Roster {
    /// The one-line summary `check-config` prints on success.
    pub fn summary(&self) -> String {
        format!(
            "configuration OK: {} files, {} people, {} teams, {} clients, {} projects, {} schedules, {} escalation policies, {} integrations, {} heartbeats",
            self.files.len(),
            self.people.len(),
            self.teams.len(),
            self.clients.len(),
            self.projects.len(),
            self.schedules.len(),
            self.policies.len(),
            self.integrations.len(),
            self.heartbeats.len()
        )
    }
}
