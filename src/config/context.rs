//! What validation needs besides the parsed files: where each file is, the
//! environment (injected, so tests are deterministic), and the error list.
//! Turns spanned strings into values: `${ENV}` interpolation, secrets from
//! the environment or `*_file`, token hashes.

use std::path::{Path, PathBuf};

use serde_saphyr::{Location, Spanned};

use super::errors::{ConfigError, ConfigErrors};
use super::raw::S;
use super::secret::{Secret, TokenHash};

/// Reads an environment variable; `std::env::var` in production.
pub type EnvFn<'a> = &'a dyn Fn(&str) -> Option<String>;

pub struct Ctx<'a> {
    pub files: Vec<PathBuf>,
    pub env: EnvFn<'a>,
    pub errors: Vec<ConfigError>,
    /// Index into `files` of the file being validated.
    pub file: usize,
}

impl<'a> Ctx<'a> {
    pub fn new(env: EnvFn<'a>) -> Self {
        Self {
            files: Vec::new(),
            env,
            errors: Vec::new(),
            file: 0,
        }
    }

    pub fn error_at(&mut self, loc: &Location, message: impl Into<String>) {
        self.errors.push(ConfigError {
            file: self.files.get(self.file).cloned().unwrap_or_default(),
            line: loc.line(),
            column: loc.column(),
            message: message.into(),
        });
    }

    /// An error about the file as a whole, reported at its first line.
    pub fn error_at_start(&mut self, message: impl Into<String>) {
        self.errors.push(ConfigError {
            file: self.files.get(self.file).cloned().unwrap_or_default(),
            line: 1,
            column: 1,
            message: message.into(),
        });
    }

    pub fn err<T>(&mut self, at: &Spanned<T>, message: impl Into<String>) {
        let loc = at.referenced;
        self.error_at(&loc, message);
    }

    pub fn into_errors(self) -> ConfigErrors {
        ConfigErrors(self.errors)
    }

    fn dir(&self) -> PathBuf {
        self.files
            .get(self.file)
            .and_then(|f| f.parent())
            .map(Path::to_path_buf)
            .unwrap_or_default()
    }

    /// A path relative to the file that names it.
    pub fn path(&self, s: &str) -> PathBuf {
        let p = Path::new(s);
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.dir().join(p)
        }
    }

    /// The string with every `${VAR}` replaced from the environment.
    pub fn text(&mut self, s: &S) -> Option<String> {
        match interpolate(&s.value, self.env) {
            Ok(v) => Some(v),
            Err(msg) => {
                self.err(s, msg);
                None
            }
        }
    }

    pub fn opt_text(&mut self, s: Option<&S>) -> Option<String> {
        s.and_then(|s| self.text(s))
    }

    /// A secret from `key: ${ENV}` or `key_file: path`; a literal value in
    /// the file is refused so secrets never sit in version control.
    pub fn secret(&mut self, key: &str, value: Option<&S>, file: Option<&S>) -> Option<Secret> {
        match (value, file) {
            (Some(v), Some(_)) => {
                self.err(v, format!("give either {key} or {key}_file, not both"));
                None
            }
            (Some(v), None) => {
                if !v.value.contains("${") {
                    self.err(
                        v,
                        format!(
                            "{key} must not be written in the file: use ${{ENV_VAR}} or {key}_file"
                        ),
                    );
                    return None;
                }
                let text = self.text(v)?;
                if text.is_empty() {
                    self.err(v, format!("{key} is empty"));
                    return None;
                }
                Some(Secret::new(text))
            }
            (None, Some(f)) => {
                let rel = self.text(f)?;
                let path = self.path(&rel);
                match std::fs::read_to_string(&path) {
                    Ok(s) if !s.trim().is_empty() => Some(Secret::new(s.trim_end().to_string())),
                    Ok(_) => {
                        self.err(f, format!("{key}_file {} is empty", path.display()));
                        None
                    }
                    Err(e) => {
                        self.err(f, format!("cannot read {key}_file {}: {e}", path.display()));
                        None
                    }
                }
            }
            (None, None) => None,
        }
    }

    /// A bearer token from `token`, `token_file` or `token_sha256`.
    pub fn token(
        &mut self,
        key: &str,
        value: Option<&S>,
        file: Option<&S>,
        sha: Option<&S>,
    ) -> Option<TokenHash> {
        if let Some(h) = sha {
            if value.is_some() || file.is_some() {
                self.err(
                    h,
                    format!("give only one of {key}, {key}_file and {key}_sha256"),
                );
                return None;
            }
            let text = self.text(h)?;
            return match TokenHash::from_hex(&text) {
                Ok(t) => Some(t),
                Err(msg) => {
                    self.err(h, msg.replace("token_sha256", &format!("{key}_sha256")));
                    None
                }
            };
        }
        let secret = self.secret(key, value, file)?;
        if secret.expose().len() < 16 {
            let at = value.or(file);
            if let Some(at) = at {
                self.err(
                    at,
                    format!("{key} is too short: use at least 16 characters"),
                );
            }
            return None;
        }
        Some(TokenHash::of(secret.expose()))
    }
}

/// Replaces `${NAME}` from `env`; `$$` stands for a literal `$`.
pub fn interpolate(input: &str, env: EnvFn<'_>) -> Result<String, String> {
    let mut out = String::with_capacity(input.len());
    let mut rest = input;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(body) = after.strip_prefix('{') {
            let end = body
                .find('}')
                .ok_or_else(|| "unclosed ${ in value".to_string())?;
            let name = &body[..end];
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(format!("invalid environment variable name {name:?}"));
            }
            let value =
                env(name).ok_or_else(|| format!("environment variable {name} is not set"))?;
            out.push_str(&value);
            rest = &body[end + 1..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interpolates_environment() {
        let env = |k: &str| (k == "HOME_X").then(|| "/h".to_string());
        assert_eq!(interpolate("a${HOME_X}b", &env), Ok("a/hb".into()));
        assert_eq!(interpolate("cost $$5", &env), Ok("cost $5".into()));
        assert_eq!(interpolate("plain $ sign", &env), Ok("plain $ sign".into()));
        assert_eq!(
            interpolate("${NOPE}", &env),
            Err("environment variable NOPE is not set".into())
        );
        assert_eq!(
            interpolate("${A-B}", &env),
            Err("invalid environment variable name \"A-B\"".into())
        );
        assert_eq!(interpolate("${X", &env), Err("unclosed ${ in value".into()));
    }
}
