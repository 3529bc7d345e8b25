//! Removing secrets from what a server says before it goes anywhere. A server (or a proxy in
//! front of it) may echo a request back in an error: the client secret of a login, the access
//! token of a request. Every server-supplied string that ends up in an error (error name,
//! message, 429 text, body excerpt, decode detail) passes through one [`Redactor`] before it is
//! truncated, logged, written to a file or printed.
//!
//! It removes the secrets it was told about (the client secret, every access token issued in
//! this run) wherever they appear, and anything shaped like a JWT or a bearer credential.

use std::sync::{Arc, PoisonError, RwLock};

use secrecy::{ExposeSecret, SecretString};

/// What replaces a removed secret.
pub(crate) const REDACTED: &str = "[redacted]";

/// The shortest known secret that is removed by value (shorter ones would redact ordinary
/// words; JWTs and bearer credentials are still removed by shape).
const MIN_SECRET_LEN: usize = 6;

/// The secrets of one run, shared by the transport and the session. Cheap to clone.
#[derive(Clone, Default)]
pub(crate) struct Redactor {
    secrets: Arc<RwLock<Vec<SecretString>>>,
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Redactor(..)")
    }
}

impl Redactor {
    /// Adds a secret to remove from now on (a client secret, an access token).
    pub(crate) fn add(&self, secret: &SecretString) {
        if secret.expose_secret().trim().len() < MIN_SECRET_LEN {
            return;
        }
        let mut secrets = self.secrets.write().unwrap_or_else(PoisonError::into_inner);
        if !secrets
            .iter()
            .any(|s| s.expose_secret() == secret.expose_secret())
        {
            secrets.push(secret.clone());
        }
    }

    /// `text` without the known secrets and without anything shaped like a JWT or a bearer
    /// credential.
    pub(crate) fn redact(&self, text: &str) -> String {
        let mut out = text.to_owned();
        {
            let secrets = self.secrets.read().unwrap_or_else(PoisonError::into_inner);
            for s in secrets.iter() {
                let s = s.expose_secret().trim();
                if out.contains(s) {
                    out = out.replace(s, REDACTED);
                }
            }
        }
        let out = remove_jwts(&out);
        remove_bearer_credentials(&out)
    }
}

/// Characters of a base64url segment.
fn is_b64url(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '='
}

/// Replaces every `eyJ…​.…​.…` (a JWT: base64url JSON header, payload, signature).
fn remove_jwts(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("eyJ") {
        let (before, from) = rest.split_at(at);
        out.push_str(before);
        let len = jwt_len(from);
        if len > 0 {
            out.push_str(REDACTED);
            rest = &from[len..];
        } else {
            out.push_str("eyJ");
            rest = &from[3..];
        }
    }
    out.push_str(rest);
    out
}

/// The length of the JWT at the start of `s` (at least two dots between base64url runs), or 0.
fn jwt_len(s: &str) -> usize {
    let mut dots = 0;
    let mut len = 0;
    let mut run = 0;
    for c in s.chars() {
        if is_b64url(c) {
            run += 1;
        } else if c == '.' && run > 0 && dots < 2 {
            dots += 1;
            run = 0;
        } else {
            break;
        }
        len += c.len_utf8();
    }
    if dots == 2 { len } else { 0 }
}

/// Replaces the credential after every `Bearer ` (any case).
fn remove_bearer_credentials(text: &str) -> String {
    let lower = text.to_ascii_lowercase();
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    let mut search = 0;
    while let Some(found) = lower[search..].find("bearer ") {
        let start = search + found + "bearer ".len();
        let cred_len: usize = text[start..]
            .chars()
            .take_while(|c| !c.is_whitespace() && *c != '"' && *c != ',')
            .map(char::len_utf8)
            .sum();
        if cred_len > 0 {
            out.push_str(&text[last..start]);
            out.push_str(REDACTED);
            last = start + cred_len;
        }
        search = start + cred_len;
    }
    out.push_str(&text[last..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SECRET: &str = "idguard-test-secret-4f9c2a";

    fn redactor() -> Redactor {
        let r = Redactor::default();
        r.add(&SecretString::from(SECRET));
        r.add(&SecretString::from("tok"));
        r
    }

    /// Known secrets, JWTs and bearer credentials go; ordinary text (and too-short "secrets")
    /// stays.
    #[test]
    fn secrets_tokens_and_bearer_credentials_are_removed() {
        let r = redactor();
        let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJpZGVudGl0eUlkIjoieCJ9.c2ln";
        let text = format!(
            "bad secret {SECRET}; header Authorization: Bearer opaque123 and {jwt}, token tok"
        );
        let out = r.redact(&text);
        assert!(!out.contains(SECRET), "{out}");
        assert!(!out.contains("opaque123"), "{out}");
        assert!(!out.contains("c2ln") && !out.contains("eyJpZGVu"), "{out}");
        assert!(out.contains("bad secret [redacted]"), "{out}");
        assert!(out.contains("token tok"), "{out}");
        assert_eq!(r.redact("Identity not found"), "Identity not found");
        assert_eq!(r.redact("eyJ not a token"), "eyJ not a token");
    }

    /// Every error shape Infisical (or a proxy) answers with, the secret embedded at a random
    /// place of a random field with padding on either side (long enough to be cut to the
    /// length errors keep): the error idguard builds never holds the secret, nor its first
    /// eight characters.
    #[test]
    fn no_error_shape_keeps_the_secret() {
        use crate::infisical::error::{ServerError, truncate};
        let r = redactor();
        proptest!(ProptestConfig::with_cases(500), |(
            before in "[a-zA-Z0-9 .:,]{0,400}",
            after in "[a-zA-Z0-9 .:,]{0,400}",
            shape in 0usize..6,
            form in 0usize..3,
        )| {
            let secret = match form {
                0 => SECRET.to_owned(),
                1 => format!("Bearer {SECRET}"),
                _ => format!("eyJhbGciOiJub25lIn0.eyJzIjoiJ{SECRET}.sig"),
            };
            let text = format!("{before}{secret}{after}");
            let quoted = serde_json::to_string(&text).unwrap_or_default();
            let body = match shape {
                0 => format!(r#"{{"statusCode":401,"message":{quoted},"error":"Unauthorized"}}"#),
                1 => format!(r#"{{"statusCode":400,"message":"x","error":{quoted}}}"#),
                2 => format!(r#"{{"statusCode":422,"message":[{{"path":["a"],"message":{quoted}}}],"error":"ValidationFailure"}}"#),
                3 => format!(r#"{{"statusCode":500,"detail":{quoted}}}"#),
                4 => format!("<html><body><h1>502</h1><p>{text}</p></body></html>"),
                _ => format!(r#"{{"statusCode":429,"message":"Rate limit exceeded. {text} try again in 1 minute"}}"#),
            };
            let server = ServerError::parse(body.as_bytes());
            for field in [Some(server.message), server.error_name].into_iter().flatten() {
                let kept = truncate(&r.redact(&field));
                prop_assert!(!kept.contains(&SECRET[..8]), "{kept}");
            }
        });
    }
}
