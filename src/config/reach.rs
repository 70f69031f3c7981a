//! The vendors beyond Twilio and SMTP: `providers.sms` / `providers.voice`
//! as failover lists, Telnyx accounts, and ntfy push (`providers.push`).
//!
//! Must not: accept a secret written in the file (`${ENV}` or `*_file` only).

use base64::Engine as _;
use serde_saphyr::Spanned;

use super::context::Ctx;
use super::model::{Ntfy, Provider, Telnyx};
use super::raw::{self, Phones};
use super::validate::{is_e164, phone_provider, required, span};
use crate::duration::Span;

/// A vendor list in failover order (a single mapping is a list of one);
/// positions in errors say which entry (`providers.sms[1]`).
pub(super) fn phones(ctx: &mut Ctx<'_>, what: &str, s: &Spanned<Phones>) -> Vec<Provider> {
    let out = match &s.value {
        Phones::One(p) => {
            let one = Spanned::new(p.as_ref(), s.referenced, s.defined);
            vec![phone_provider(ctx, what, &one)]
        }
        Phones::Many(list) => list
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let at = Spanned::new(&p.value, p.referenced, p.defined);
                phone_provider(ctx, &format!("{what}[{i}]"), &at)
            })
            .collect(),
    };
    if out.is_empty() {
        ctx.err(s, format!("{what} lists no provider"));
        return vec![Provider::Log];
    }
    out
}

/// `{type: telnyx, api_key, public_key, from, connection_id?, messaging_profile_id?, base_url?}`.
pub(super) fn telnyx(ctx: &mut Ctx<'_>, what: &str, s: &Spanned<&raw::Provider>) -> Option<Telnyx> {
    let v = s.value;
    let api_key = ctx.secret("api_key", v.api_key.as_ref(), v.api_key_file.as_ref());
    if v.api_key.is_none() && v.api_key_file.is_none() {
        ctx.err(s, format!("{what} is missing api_key (or api_key_file)"));
    }
    let public_key = required(ctx, s, what, "public_key", v.public_key.as_ref()).and_then(|k| {
        let text = ctx.text(k)?;
        match base64::engine::general_purpose::STANDARD.decode(text.trim()) {
            Ok(bytes) if bytes.len() == 32 => Some(bytes),
            _ => {
                ctx.err(
                    k,
                    format!("{what}.public_key must be the account's base64 Ed25519 public key"),
                );
                None
            }
        }
    });
    let from = required(ctx, s, what, "from", v.from.as_ref()).and_then(|f| {
        let text = ctx.text(f)?;
        if is_e164(&text) {
            Some(text)
        } else {
            ctx.err(
                f,
                format!("{what}.from {text:?} is not an E.164 phone number such as +4915123456789"),
            );
            None
        }
    });
    let base_url = url_or(ctx, what, v.base_url.as_ref(), "https://api.telnyx.com")?;
    let ring_timeout = span(
        ctx,
        "ring_timeout",
        v.ring_timeout.as_ref(),
        Span::from_secs(30),
    );
    Some(Telnyx {
        api_key: api_key?,
        public_key: public_key?,
        from: from?,
        messaging_profile_id: ctx.opt_text(v.messaging_profile_id.as_ref()),
        connection_id: ctx.opt_text(v.connection_id.as_ref()),
        base_url,
        ring_timeout,
    })
}

/// `providers.push: {type: ntfy, base_url?, token?}` (or `type: log`).
pub(super) fn push(ctx: &mut Ctx<'_>, s: &Spanned<raw::Provider>) -> Option<Ntfy> {
    let v = &s.value;
    match v.kind.as_ref().map(|k| k.value.as_str()) {
        Some("ntfy") => {}
        Some("log") => return None,
        Some(other) => {
            if let Some(k) = &v.kind {
                ctx.err(
                    k,
                    format!("providers.push: unknown type {other:?} (expected ntfy or log)"),
                );
            }
            return None;
        }
        None => {
            ctx.err(s, "providers.push is missing type");
            return None;
        }
    }
    let token = ctx.secret("token", v.token.as_ref(), v.token_file.as_ref());
    let base_url = url_or(
        ctx,
        "providers.push",
        v.base_url.as_ref(),
        "https://ntfy.sh",
    )?;
    Some(Ntfy { base_url, token })
}

/// `push` in a step's `via`, a person's `channels` or `notify` rules needs
/// `providers.push`: without it those pages would only be logged.
pub(super) fn push_needs_a_server(ctx: &mut Ctx<'_>, files: &[raw::File], configured: bool) {
    if configured {
        return;
    }
    let file = ctx.file;
    for (i, f) in files.iter().enumerate() {
        ctx.file = i;
        let steps = f
            .escalation_policies
            .iter()
            .flat_map(|p| &p.value.steps)
            .flat_map(|s| &s.value.via);
        let people = f.people.iter().flat_map(|p| {
            let rules = p.value.notify.iter().flat_map(|r| &r.value.via);
            p.value.channels.iter().chain(rules)
        });
        for at in steps.chain(people).filter(|c| c.value == "push") {
            ctx.err(at, "push needs providers.push (type: ntfy)");
        }
    }
    ctx.file = file;
}

/// `what.base_url`, or `default` when absent.
fn url_or(
    ctx: &mut Ctx<'_>,
    what: &str,
    given: Option<&raw::S>,
    default: &str,
) -> Option<url::Url> {
    let Some(b) = given else {
        return Some(url::Url::parse(default).expect("constant URL parses"));
    };
    match ctx.text(b).map(|t| url::Url::parse(&t)) {
        Some(Ok(u)) if matches!(u.scheme(), "http" | "https") => Some(u),
        _ => {
            ctx.err(b, format!("{what}.base_url is not an http(s) URL"));
            None
        }
    }
}

#[cfg(test)]
mod tests;
