//! `audit --notify URL`: one alert to an incoming webhook (Slack, Microsoft Teams, or anything
//! that takes `{"text": "..."}`) when a run has results new or regressed since the previous run.
//!
//! This module owns the webhook URL's check (https only, except to a loopback host), the
//! message (a summary line and at most [`MAX_LINES`] lines of rule, severity, identity name and
//! what changed; identity names and rule ids only, never a violation's text, a server value or
//! a token) and the one POST (no redirect followed, no retry, bounded by [`TIMEOUT`]). It does
//! not compare runs (the `diff` module does, through `--baseline`) and never fails a run: the
//! outcome is a [`Notification`] the caller records in report.json.
//!
//! The webhook URL is a credential (whoever holds a Slack hook URL may post to the channel):
//! messages and reports show its scheme, host and port only.

use std::time::Duration;

use url::Url;

use crate::infisical::UrlProblem;
use crate::report::{ChangedResult, Notification, NotificationStatus};

/// Bound on the whole request (connect, send, answer).
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// Changed results listed in one message at most; the rest are counted ("and N more").
pub const MAX_LINES: usize = 20;

/// Characters of an identity name or rule id shown at most.
const MAX_NAME: usize = 80;

/// A `--notify` URL that cannot be used (exit 64, before any request).
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error(
        "--notify {url}: plain http:// is accepted only to a loopback host (127.0.0.1, localhost, [::1]); use https://"
    )]
    Insecure { url: String },
    #[error("--notify {url}: {reason}")]
    Invalid { url: String, reason: String },
    #[error("cannot set up the --notify client: {0}")]
    Client(String),
}

/// Where alerts go and when.
#[derive(Debug)]
pub struct Notifier {
    url: Url,
    /// `scheme://host[:port]`: the URL as messages show it.
    shown: String,
    /// Send a summary even when nothing is new (`--notify-always`).
    always: bool,
    client: reqwest::Client,
}

/// What a run has to tell: the comparison with the previous run, and the run itself.
#[derive(Debug, Clone, Copy)]
pub struct Alert<'a> {
    /// The organization audited.
    pub org_id: &'a str,
    /// Results new or regressed since the previous run; `None` when there was no previous
    /// report to compare with.
    pub changes: Option<&'a [ChangedResult]>,
    /// Failing results of this run, in all.
    pub failing: u64,
    /// This run is incomplete (some results are `error`, or the listing stopped).
    pub incomplete: bool,
}

impl Notifier {
    /// Checks `url` (https, or http to a loopback host; no user info) and sets up the client.
    pub fn new(url: &str, always: bool) -> Result<Notifier, NotifyError> {
        let parsed = Url::parse(url.trim());
        let shown = match &parsed {
            Ok(u) => origin(u),
            // Never echo an unparsable URL whole: it may hold a hook's secret path.
            Err(_) => "(the URL given)".to_owned(),
        };
        let url = parsed.map_err(|e| NotifyError::Invalid {
            url: shown.clone(),
            reason: e.to_string(),
        })?;
        match crate::infisical::check_target(&url, false) {
            Ok(()) => {}
            Err(UrlProblem::Insecure) => return Err(NotifyError::Insecure { url: shown }),
            Err(problem) => {
                return Err(NotifyError::Invalid {
                    url: shown,
                    reason: problem.to_string(),
                });
            }
        }
        let client = reqwest::Client::builder()
            .user_agent(concat!("idguard/", env!("CARGO_PKG_VERSION")))
            .tls_backend_rustls()
            // A hook that moved is a failure to look at, not an address to follow.
            .redirect(reqwest::redirect::Policy::none())
            .referer(false)
            .retry(reqwest::retry::never())
            .timeout(TIMEOUT)
            .build()
            .map_err(|e| NotifyError::Client(crate::infisical::error_chain(&e.without_url())))?;
        Ok(Notifier {
            url,
            shown,
            always,
            client,
        })
    }

    /// The webhook as messages show it (`scheme://host[:port]`).
    pub fn shown(&self) -> &str {
        &self.shown
    }

    /// Sends the alert when there is something new (or always, with `--notify-always`) and
    /// says what became of it. Never fails: a failure is a [`NotificationStatus::Failed`].
    pub async fn notify(&self, alert: &Alert<'_>) -> Notification {
        let Some(text) = message(alert, self.always) else {
            let reason = match alert.changes {
                None => "no previous report to compare with",
                Some(_) => "no result is new or regressed since the previous run",
            };
            return Notification {
                status: NotificationStatus::NothingNew,
                reason: Some(reason.to_owned()),
            };
        };
        let body = serde_json::json!({ "text": text });
        let sent = self.client.post(self.url.clone()).json(&body).send().await;
        let failed = |reason: String| Notification {
            status: NotificationStatus::Failed,
            reason: Some(format!("{}: {reason}", self.shown)),
        };
        match sent {
            Ok(resp) if resp.status().is_success() => Notification {
                status: NotificationStatus::Sent,
                reason: None,
            },
            Ok(resp) if resp.status().is_redirection() => failed(format!(
                "the receiver answered {} (redirects are not followed)",
                resp.status()
            )),
            // The body is the receiver's text: not shown.
            Ok(resp) => failed(format!("the receiver answered {}", resp.status())),
            Err(e) if e.is_timeout() => failed(format!("no answer within {} s", TIMEOUT.as_secs())),
            Err(e) => failed(crate::infisical::error_chain(&e.without_url())),
        }
    }
}

/// `scheme://host[:port]` of `url`.
fn origin(url: &Url) -> String {
    let host = url.host_str().unwrap_or_default();
    let shown = match url.port() {
        Some(port) => format!("{}://{host}:{port}", url.scheme()),
        None => format!("{}://{host}", url.scheme()),
    };
    crate::display::safe(&shown).chars().take(200).collect()
}

/// The message's text, or `None` when there is nothing to send (nothing new, no `always`).
pub fn message(alert: &Alert<'_>, always: bool) -> Option<String> {
    let changes = alert.changes.unwrap_or_default();
    if changes.is_empty() && !always {
        return None;
    }
    let org = shown_name(alert.org_id);
    let incomplete = if alert.incomplete {
        " (incomplete run)"
    } else {
        ""
    };
    let mut text = match alert.changes {
        None => format!(
            "idguard: {} failing result(s) in org `{org}`{incomplete}; no previous report to compare with",
            alert.failing
        ),
        Some([]) => format!(
            "idguard: nothing new or regressed in org `{org}` since the previous run; {} failing result(s) in all{incomplete}",
            alert.failing
        ),
        Some(list) => format!(
            "idguard: {} result(s) new or regressed in org `{org}` since the previous run; {} failing in all{incomplete}",
            list.len(),
            alert.failing
        ),
    };
    for c in changes.iter().take(MAX_LINES) {
        text.push_str(&format!(
            "\n• {} ({}) on `{}`: {}",
            shown_name(&c.rule),
            shown_name(&c.severity),
            shown_name(&c.identity_name),
            c.change
        ));
    }
    if changes.len() > MAX_LINES {
        text.push_str(&format!("\nand {} more", changes.len() - MAX_LINES));
    }
    Some(text)
}

/// A name as a chat message may show it: control characters escaped, cut at [`MAX_NAME`]
/// characters, no backtick (it would end the code span), and `&`, `<`, `>` escaped (Slack
/// reads `<!channel>` as a mention of everyone).
fn shown_name(name: &str) -> String {
    let safe = crate::display::safe(name);
    let mut out = String::with_capacity(safe.len());
    for (i, c) in safe.chars().enumerate() {
        if i == MAX_NAME {
            out.push('…');
            break;
        }
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '`' => out.push('\''),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(n: usize) -> ChangedResult {
        ChangedResult {
            rule: "max-ttl".into(),
            severity: "high".into(),
            identity_name: format!("id-{n}"),
            change: "new failure",
        }
    }

    fn alert(changes: Option<&[ChangedResult]>) -> Alert<'_> {
        Alert {
            org_id: "org-1",
            changes,
            failing: 7,
            incomplete: false,
        }
    }

    #[test]
    fn plain_http_is_refused_except_to_loopback() {
        for ok in [
            "https://hooks.example.com/services/T/B/secret",
            "http://127.0.0.1:9/hook",
            "http://localhost/hook",
            "http://[::1]:8080/hook",
        ] {
            assert!(Notifier::new(ok, false).is_ok(), "{ok}");
        }
        let err = Notifier::new("http://example.com/services/secret-path", false)
            .expect_err("plain http");
        assert!(matches!(err, NotifyError::Insecure { .. }));
        assert!(!err.to_string().contains("secret-path"), "{err}");
        for bad in [
            "ftp://example.com/x",
            "https://user:pw@example.com/x",
            "http://evil.localhost/x",
            "not a url",
        ] {
            let err = Notifier::new(bad, false).expect_err(bad);
            assert!(!err.to_string().contains("pw"), "{err}");
        }
    }

    #[test]
    fn the_message_lists_at_most_twenty_changes_then_counts_the_rest() {
        let many: Vec<_> = (0..25).map(change).collect();
        let text = message(&alert(Some(&many)), false).expect("something new");
        let lines: Vec<_> = text.lines().collect();
        assert_eq!(lines.len(), 1 + MAX_LINES + 1, "{text}");
        assert!(lines[0].contains("25 result(s) new or regressed"), "{text}");
        assert_eq!(lines[1], "• max-ttl (high) on `id-0`: new failure");
        assert_eq!(lines[MAX_LINES + 1], "and 5 more");
    }

    #[test]
    fn nothing_new_sends_nothing_unless_always() {
        assert_eq!(message(&alert(Some(&[])), false), None);
        assert_eq!(message(&alert(None), false), None);
        let summary = message(&alert(Some(&[])), true).expect("always");
        assert!(summary.contains("nothing new"), "{summary}");
        assert_eq!(summary.lines().count(), 1);
    }

    #[test]
    fn names_cannot_mention_everyone_or_break_the_message() {
        let mut c = change(0);
        c.identity_name = "<!channel> `x`\n& more".into();
        let text = message(&alert(Some(&[c])), false).expect("new");
        assert!(!text.contains('<') && !text.contains("`x`"), "{text}");
        assert_eq!(text.lines().count(), 2, "{text}");
    }

    fn one_change() -> Vec<ChangedResult> {
        vec![change(0)]
    }

    /// A closed port is a failure whose reason names the host, not the hook's path.
    #[tokio::test]
    async fn a_closed_port_fails_without_naming_the_path() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        drop(listener);
        let notifier = Notifier::new(&format!("http://127.0.0.1:{port}/secret-path"), false)
            .expect("loopback");
        let changes = one_change();
        let n = notifier.notify(&alert(Some(&changes))).await;
        assert_eq!(n.status, NotificationStatus::Failed);
        let reason = n.reason.unwrap_or_default();
        assert!(
            reason.contains("127.0.0.1") && !reason.contains("secret-path"),
            "{reason}"
        );
    }

    /// A redirect is a failure, and its target is never asked.
    #[tokio::test]
    async fn a_redirect_is_not_followed() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let accepted = tokio::spawn(async move {
            let mut count = 0;
            while let Ok(Ok((mut stream, _))) =
                tokio::time::timeout(Duration::from_millis(500), listener.accept()).await
            {
                count += 1;
                let mut buf = [0u8; 4096];
                let _ = stream.read(&mut buf).await;
                let answer = format!(
                    "HTTP/1.1 302 Found\r\nlocation: http://{addr}/elsewhere\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                );
                let _ = stream.write_all(answer.as_bytes()).await;
            }
            count
        });
        let notifier = Notifier::new(&format!("http://{addr}/hook"), false).expect("loopback");
        let changes = one_change();
        let n = notifier.notify(&alert(Some(&changes))).await;
        assert_eq!(n.status, NotificationStatus::Failed);
        assert!(n.reason.unwrap_or_default().contains("302"));
        assert_eq!(
            accepted.await.expect("join"),
            1,
            "one request, no redirect followed"
        );
    }
}
