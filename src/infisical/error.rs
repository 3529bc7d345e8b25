//! The client's error type and the decoding of Infisical's error bodies.
//!
//! Infisical answers errors as `{"statusCode", "message", "error", "reqId"}` where `message` is
//! a string or (validation failures) an array of zod issues; proxies in front of it answer with
//! HTML. Everything the server says is rendered to one readable line and truncated before it
//! goes into an error. Secrets never go in: request bodies are not quoted.

use std::time::Duration;

use serde_json::Value;

/// Longest server-supplied text kept in an error.
pub(crate) const MAX_SERVER_TEXT: usize = 300;

/// What kind of failure an [`ApiError`] is, for exit codes and per-identity handling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The server could not be reached (DNS, connect, TLS, bad URL), retries exhausted.
    Unreachable,
    /// Authentication failed: bad credentials, 401, 403 on login or listing, expired token
    /// that could not be renewed.
    Auth,
    /// 403 on a config read or write: the identity lacks the permission.
    PermissionDenied,
    /// 404: no such identity (or hidden from this token).
    NotFound,
    /// The auth method is not attached to the identity.
    NotConfigured,
    /// 400/409/422 (or an older server's 401 `ValidationFailure`): the request was refused.
    Validation,
    /// 5xx (retries exhausted) or an unexpected status.
    Server,
    /// The response could not be decoded (not JSON, wrong shape, too large, truncated).
    Decode,
    /// Rate limited (429) beyond the request's deadline.
    RateLimited,
    /// An attempt or the request's deadline timed out.
    Timeout,
    /// Plain `http://` to a non-loopback host without `allow_insecure_http`.
    InsecureUrl,
    /// The identity listing cannot be trusted to be whole (pages repeated, fewer identities
    /// than announced, no or a changing count): what was listed is audited, the run is
    /// incomplete.
    ListingIncomplete,
    /// Not sent: a stop was asked for (Ctrl-C) before the request's turn came.
    Stopped,
}

/// An error from the Infisical client. The text never holds a token or a secret.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ApiError {
    /// The base URL uses plain http for a host that is not loopback.
    #[error(
        "refusing plain http:// to {url}: tokens would travel unencrypted (use https, or \
         --allow-insecure-http)"
    )]
    InsecureUrl {
        /// The URL as given.
        url: String,
    },
    /// The base URL cannot be used.
    #[error("invalid API URL {url}: {reason}")]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// Why.
        reason: String,
    },
    /// Connecting or sending failed (after retries).
    #[error("{request}: cannot reach the server: {detail}")]
    Unreachable {
        /// `METHOD /path`.
        request: String,
        /// The transport error chain.
        detail: String,
    },
    /// An attempt timed out (after retries), or the request's deadline passed.
    #[error("{request}: timed out after {after:?}")]
    Timeout {
        /// `METHOD /path`.
        request: String,
        /// How long it waited.
        after: Duration,
    },
    /// The server answered with an error status.
    #[error("{request}: HTTP {status}{}: {message}", error_name.as_deref().map(|e| format!(" {e}")).unwrap_or_default())]
    Status {
        /// `METHOD /path`.
        request: String,
        /// HTTP status code.
        status: u16,
        /// The body's `error` field (`TokenError`, `ValidationFailure`, ...), truncated.
        error_name: Option<String>,
        /// The body's `message` rendered readably (or an excerpt of a non-JSON body).
        message: String,
        /// The classification.
        kind: ErrorKind,
    },
    /// Still rate limited (429) when the request's deadline would pass.
    #[error("{request}: rate limited (HTTP 429) beyond the deadline: {message}")]
    RateLimited {
        /// `METHOD /path`.
        request: String,
        /// The server's message.
        message: String,
    },
    /// The body could not be decoded (or was truncated, or too large).
    #[error("{request}: cannot decode the response: {detail}")]
    Decode {
        /// `METHOD /path`.
        request: String,
        /// What was wrong (never quoting a successful answer's body: it may hold secrets).
        detail: String,
    },
    /// Logging in or renewing the token failed.
    #[error("{what} failed")]
    Login {
        /// `universal-auth login` or `token renewal`.
        what: &'static str,
        /// The underlying error.
        #[source]
        source: Box<ApiError>,
    },
    /// A caller-supplied value cannot be used (an id that cannot go in a URL).
    #[error("invalid argument: {detail}")]
    InvalidArgument {
        /// What is wrong.
        detail: String,
    },
    /// The listing stopped because it cannot be trusted to be whole.
    #[error("the identity listing is incomplete: {reason}")]
    ListingIncomplete {
        /// What the server did.
        reason: String,
    },
    /// Not sent (or not sent again): a stop was asked for (Ctrl-C) while the request waited
    /// for its turn. The server never saw it.
    #[error("{request}: not sent: stopped by Ctrl-C")]
    Stopped {
        /// `METHOD /path`.
        request: String,
    },
    /// The organization could not be determined from the token.
    #[error("cannot determine the organization ({detail}); pass --org-id")]
    OrgUnknown {
        /// What was tried and how it failed.
        detail: String,
        /// Classification of the underlying failure.
        kind: ErrorKind,
    },
}

impl ApiError {
    /// The classification of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            ApiError::InsecureUrl { .. } => ErrorKind::InsecureUrl,
            ApiError::InvalidUrl { .. } | ApiError::Unreachable { .. } => ErrorKind::Unreachable,
            ApiError::Timeout { .. } => ErrorKind::Timeout,
            ApiError::Status { kind, .. } | ApiError::OrgUnknown { kind, .. } => *kind,
            ApiError::RateLimited { .. } => ErrorKind::RateLimited,
            ApiError::InvalidArgument { .. } => ErrorKind::Validation,
            ApiError::Decode { .. } => ErrorKind::Decode,
            ApiError::ListingIncomplete { .. } => ErrorKind::ListingIncomplete,
            ApiError::Stopped { .. } => ErrorKind::Stopped,
            ApiError::Login { source, .. } => match source.kind() {
                ErrorKind::Validation | ErrorKind::PermissionDenied => ErrorKind::Auth,
                other => other,
            },
        }
    }

    /// This error with every server-supplied text redacted (known secrets, JWTs, bearer
    /// credentials) and then cut to [`MAX_SERVER_TEXT`] characters, in that order, so no part
    /// of a secret survives the cut.
    pub(crate) fn scrubbed(self, redactor: &super::redact::Redactor) -> ApiError {
        let clean = |s: String| truncate(&redactor.redact(&s));
        match self {
            ApiError::Status {
                request,
                status,
                error_name,
                message,
                kind,
            } => ApiError::Status {
                request,
                status,
                error_name: error_name.map(clean),
                message: clean(message),
                kind,
            },
            ApiError::RateLimited { request, message } => ApiError::RateLimited {
                request,
                message: clean(message),
            },
            ApiError::Decode { request, detail } => ApiError::Decode {
                request,
                detail: clean(detail),
            },
            ApiError::Unreachable { request, detail } => ApiError::Unreachable {
                request,
                detail: redactor.redact(&detail),
            },
            ApiError::OrgUnknown { detail, kind } => ApiError::OrgUnknown {
                detail: redactor.redact(&detail),
                kind,
            },
            ApiError::Login { what, source } => ApiError::Login {
                what,
                source: Box::new(source.scrubbed(redactor)),
            },
            other => other,
        }
    }

    /// The HTTP status when the server answered with an error status.
    pub fn status(&self) -> Option<u16> {
        match self {
            ApiError::Status { status, .. } => Some(*status),
            ApiError::Login { source, .. } => source.status(),
            _ => None,
        }
    }

    /// The server's rendered message, when it sent one.
    pub fn server_message(&self) -> Option<&str> {
        match self {
            ApiError::Status { message, .. } | ApiError::RateLimited { message, .. } => {
                Some(message)
            }
            ApiError::Login { source, .. } => source.server_message(),
            _ => None,
        }
    }

    /// Whether the server said the request's token expired (403 `TokenError`).
    pub(crate) fn is_token_error(&self) -> bool {
        matches!(self, ApiError::Status { status: 403, error_name: Some(e), .. } if e == "TokenError")
    }

    /// Replaces the kind of a `Status` error (callers that know what a status means there).
    pub(crate) fn with_kind(mut self, new: ErrorKind) -> ApiError {
        if let ApiError::Status { kind, .. } = &mut self {
            *kind = new;
        }
        self
    }
}

/// What an error body said: the `error` name and the rendered `message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ServerError {
    pub error_name: Option<String>,
    pub message: String,
}

impl ServerError {
    /// Decodes an error body: Infisical JSON, other JSON, or text/HTML (an excerpt).
    pub fn parse(body: &[u8]) -> ServerError {
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(obj)) => {
                let error_name = obj.get("error").and_then(Value::as_str).map(clean);
                let message = match obj.get("message") {
                    Some(m) => render_message(m),
                    None => clean(&Value::Object(obj.clone()).to_string()),
                };
                ServerError {
                    error_name,
                    message,
                }
            }
            Ok(other) => ServerError {
                error_name: None,
                message: clean(&other.to_string()),
            },
            Err(_) => ServerError {
                error_name: None,
                message: excerpt(body),
            },
        }
    }
}

/// Renders `message`: a string as is; an array of zod issues as `path: message; ...`.
pub(crate) fn render_message(m: &Value) -> String {
    let text = match m {
        Value::String(s) => s.clone(),
        Value::Array(items) => items
            .iter()
            .map(render_issue)
            .collect::<Vec<_>>()
            .join("; "),
        Value::Null => String::new(),
        other => other.to_string(),
    };
    clean(&text)
}

fn render_issue(issue: &Value) -> String {
    let Some(obj) = issue.as_object() else {
        return match issue {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
    };
    let msg = obj
        .get("message")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .unwrap_or_else(|| issue.to_string());
    let path = obj
        .get("path")
        .and_then(Value::as_array)
        .map(|p| {
            p.iter()
                .map(|seg| match seg {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect::<Vec<_>>()
                .join(".")
        })
        .filter(|p| !p.is_empty());
    match path {
        Some(p) => format!("{p}: {msg}"),
        None => msg,
    }
}

/// A single-line excerpt of a non-JSON body (HTML tags dropped, whitespace collapsed), not
/// yet cut: [`ApiError::scrubbed`] redacts it first.
pub(crate) fn excerpt(body: &[u8]) -> String {
    let head = &body[..body.len().min(MAX_SCANNED)];
    let text = String::from_utf8_lossy(head);
    let mut out = String::new();
    let mut in_tag = false;
    for c in text.chars() {
        match c {
            '<' => {
                in_tag = true;
                out.push(' ');
            }
            '>' if in_tag => in_tag = false,
            _ if in_tag => {}
            c if crate::display::is_unsafe(c) => out.push(' '),
            c => out.push(c),
        }
    }
    let collapsed = out.split_whitespace().collect::<Vec<_>>().join(" ");
    if collapsed.is_empty() {
        if body.is_empty() {
            "(empty body)".to_owned()
        } else {
            "(non-text body)".to_owned()
        }
    } else {
        collapsed
    }
}

/// How much of an error body is read for its text (enough to hold any echoed secret whole).
const MAX_SCANNED: usize = 64 * 1024;

/// Server text made one line (control and bidi characters dropped) and bounded to
/// [`MAX_SCANNED`], but not yet cut to [`MAX_SERVER_TEXT`]: secrets are removed first.
fn clean(s: &str) -> String {
    s.chars()
        .take(MAX_SCANNED)
        .map(|c| if crate::display::is_unsafe(c) { ' ' } else { c })
        .collect()
}

/// Cuts server text to at most [`MAX_SERVER_TEXT`] characters (on a char boundary) and drops
/// control and bidirectional-override characters, so it cannot spoof log lines.
pub(crate) fn truncate(s: &str) -> String {
    let clean: String = s
        .chars()
        .map(|c| if crate::display::is_unsafe(c) { ' ' } else { c })
        .collect();
    if clean.chars().count() <= MAX_SERVER_TEXT {
        clean
    } else {
        let mut t: String = clean.chars().take(MAX_SERVER_TEXT - 1).collect();
        t.push('…');
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_string_or_issue_array() {
        let e = ServerError::parse(
            br#"{"statusCode":404,"message":"Identity not found","error":"NotFound"}"#,
        );
        assert_eq!(e.error_name.as_deref(), Some("NotFound"));
        assert_eq!(e.message, "Identity not found");
        let e = ServerError::parse(
            br#"{"statusCode":422,"error":"ValidationFailure","message":[
              {"code":"too_small","message":"Number must be greater than or equal to 0","path":["accessTokenTTL"]},
              {"code":"custom","message":"TTL must be at most max TTL","path":[]}]}"#,
        );
        assert_eq!(
            e.message,
            "accessTokenTTL: Number must be greater than or equal to 0; TTL must be at most max TTL"
        );
    }

    /// HTML bodies become one line; long texts are kept whole until the error is scrubbed
    /// (redaction first), then cut.
    #[test]
    fn html_and_long_bodies_are_cut() {
        let e = ServerError::parse(
            b"<html><head><title>502 Bad Gateway</title></head>\n<body>nginx</body></html>",
        );
        assert_eq!(e.message, "502 Bad Gateway nginx");
        assert_eq!(e.error_name, None);
        let long = format!(r#"{{"message":"{}"}}"#, "x".repeat(5000));
        let e = ServerError::parse(long.as_bytes());
        assert_eq!(e.message.chars().count(), 5000);
        let err = ApiError::Status {
            request: "GET /x".into(),
            status: 500,
            error_name: None,
            message: e.message,
            kind: ErrorKind::Server,
        }
        .scrubbed(&super::super::redact::Redactor::default());
        let ApiError::Status { message, .. } = err else {
            panic!("still a status error")
        };
        assert_eq!(message.chars().count(), MAX_SERVER_TEXT);
        assert_eq!(excerpt(b""), "(empty body)");
        assert_eq!(truncate("a\nb"), "a b");
    }

    #[test]
    fn status_error_renders_and_classifies() {
        let e = ApiError::Status {
            request: "GET /api/v1/x".into(),
            status: 403,
            error_name: Some("TokenError".into()),
            message: "Your token has expired".into(),
            kind: ErrorKind::Auth,
        };
        assert!(e.is_token_error());
        assert_eq!(
            e.to_string(),
            "GET /api/v1/x: HTTP 403 TokenError: Your token has expired"
        );
        let e = e.with_kind(ErrorKind::PermissionDenied);
        assert_eq!(e.kind(), ErrorKind::PermissionDenied);
        assert_eq!(e.status(), Some(403));
    }
}
