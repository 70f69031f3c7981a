//! Label matchers in Alertmanager syntax (`severity="critical"`, `team=~"db|infra"`) and
//! first-match routing over them.
//!
//! Owns `Matcher`, `MatchOp`, `Route<T>` and `first_match`. Semantics follow Alertmanager:
//! a missing label equals `""`, regexes are fully anchored (`^(?:re)$`), a route matches
//! when all its matchers do (none = catch-all). The route target is generic: the config
//! layer decides what a route leads to. Pure; knows no YAML and no alert source.
//!
//! Quoted values understand `\"`, `\\` and `\n`; any other backslash sequence is kept as
//! written, so `"\d+"` is the regex `\d+`.

use std::collections::BTreeMap;
use std::fmt;

use regex::Regex;

/// How a matcher compares the label value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MatchOp {
    /// `=`
    Equal,
    /// `!=`
    NotEqual,
    /// `=~` (anchored regex)
    Regex,
    /// `!~` (anchored regex, negated)
    NotRegex,
}

impl MatchOp {
    /// The operator as written.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Equal => "=",
            Self::NotEqual => "!=",
            Self::Regex => "=~",
            Self::NotRegex => "!~",
        }
    }
}

/// A matcher that could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid matcher {input:?}: {reason}")]
pub struct MatcherError {
    /// The text as given.
    pub input: String,
    /// What is wrong.
    pub reason: String,
}

/// One label condition; valid by construction (the regex, if any, compiled).
#[derive(Debug, Clone)]
pub struct Matcher {
    name: String,
    op: MatchOp,
    value: String,
    regex: Option<Regex>,
}

impl PartialEq for Matcher {
    fn eq(&self, other: &Self) -> bool {
        (&self.name, self.op, &self.value) == (&other.name, other.op, &other.value)
    }
}

impl Eq for Matcher {}

impl Matcher {
    /// Builds a matcher from its parts, compiling the anchored regex for `=~`/`!~`.
    pub fn new(name: &str, op: MatchOp, value: &str) -> Result<Self, MatcherError> {
        let input = format!("{name}{}{value:?}", op.as_str());
        let fail = |reason: String| MatcherError {
            input: input.clone(),
            reason,
        };
        if name.is_empty()
            || name
                .chars()
                .any(|c| c.is_whitespace() || "\"{},=!~".contains(c))
        {
            return Err(fail(format!("invalid label name {name:?}")));
        }
        let regex = match op {
            MatchOp::Regex | MatchOp::NotRegex => {
                Some(Regex::new(&format!("^(?:{value})$")).map_err(|e| fail(e.to_string()))?)
            }
            MatchOp::Equal | MatchOp::NotEqual => None,
        };
        Ok(Self {
            name: name.to_string(),
            op,
            value: value.to_string(),
            regex,
        })
    }

    /// Parses `name<op>value`, the value quoted or not: `severity="critical"`, `env!=prod`.
    pub fn parse(text: &str) -> Result<Self, MatcherError> {
        let fail = |reason: &str| MatcherError {
            input: text.to_string(),
            reason: reason.to_string(),
        };
        let trimmed = text.trim();
        let at = trimmed
            .find(['=', '!'])
            .ok_or_else(|| fail("no operator (=, !=, =~, !~)"))?;
        let rest = &trimmed[at..];
        let op = [
            MatchOp::Regex,
            MatchOp::NotRegex,
            MatchOp::NotEqual,
            MatchOp::Equal,
        ]
        .into_iter()
        .find(|op| rest.starts_with(op.as_str()))
        .ok_or_else(|| fail("no operator (=, !=, =~, !~)"))?;
        let name = trimmed[..at].trim();
        let value = unquote(rest[op.as_str().len()..].trim())
            .ok_or_else(|| fail("unterminated quoted value"))?;
        Self::new(name, op, &value).map_err(|e| MatcherError {
            input: text.to_string(),
            reason: e.reason,
        })
    }

    /// Label name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Operator.
    pub fn op(&self) -> MatchOp {
        self.op
    }

    /// Value or regex source, unquoted.
    pub fn value(&self) -> &str {
        &self.value
    }

    /// Whether `labels` satisfy this matcher; a missing label counts as `""`.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        let actual = labels.get(&self.name).map_or("", String::as_str);
        let regex_hit = || self.regex.as_ref().is_some_and(|re| re.is_match(actual));
        match self.op {
            MatchOp::Equal => actual == self.value,
            MatchOp::NotEqual => actual != self.value,
            MatchOp::Regex => regex_hit(),
            MatchOp::NotRegex => !regex_hit(),
        }
    }
}

impl fmt::Display for Matcher {
    /// `name<op>"value"`, re-parseable by [`Matcher::parse`].
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let quoted = self
            .value
            .replace('\\', "\\\\")
            .replace('"', "\\\"")
            .replace('\n', "\\n");
        write!(f, "{}{}\"{}\"", self.name, self.op.as_str(), quoted)
    }
}

/// Parses a matcher list: `{a="1", b=~"x|y"}` or `a=1,b=~"x|y"` (commas inside quotes are
/// part of the value). An empty list is valid.
pub fn parse_matchers(text: &str) -> Result<Vec<Matcher>, MatcherError> {
    let trimmed = text.trim();
    let inner = trimmed
        .strip_prefix('{')
        .and_then(|t| t.strip_suffix('}'))
        .unwrap_or(trimmed);
    split_outside_quotes(inner)
        .into_iter()
        .filter(|part| !part.trim().is_empty())
        .map(Matcher::parse)
        .collect()
}

/// Routing rule: all `matchers` must match for `target` to apply.
#[derive(Debug, Clone, PartialEq)]
pub struct Route<T> {
    /// Conditions, all required; empty matches everything.
    pub matchers: Vec<Matcher>,
    /// What the route leads to (chosen by the config layer).
    pub target: T,
}

impl<T> Route<T> {
    /// Whether every matcher matches `labels`.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.matchers.iter().all(|m| m.matches(labels))
    }
}

/// The target of the first route (in order) whose matchers all match.
pub fn first_match<'a, T>(
    routes: &'a [Route<T>],
    labels: &BTreeMap<String, String>,
) -> Option<&'a T> {
    routes.iter().find(|r| r.matches(labels)).map(|r| &r.target)
}

/// Strips surrounding quotes and resolves `\"`, `\\`, `\n`; unquoted text is returned as is.
fn unquote(text: &str) -> Option<String> {
    let Some(body) = text.strip_prefix('"') else {
        return Some(text.to_string());
    };
    let mut out = String::with_capacity(body.len());
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => return chars.as_str().is_empty().then_some(out),
            '\\' => match chars.next()? {
                '"' => out.push('"'),
                '\\' => out.push('\\'),
                'n' => out.push('\n'),
                other => {
                    out.push('\\');
                    out.push(other);
                }
            },
            c => out.push(c),
        }
    }
    None
}

fn split_outside_quotes(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut start, mut in_quotes, mut escaped) = (0, false, false);
    for (i, c) in text.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if in_quotes => escaped = true,
            '"' => in_quotes = !in_quotes,
            ',' if !in_quotes => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

#[cfg(test)]
#[path = "matcher_tests.rs"]
mod tests;
