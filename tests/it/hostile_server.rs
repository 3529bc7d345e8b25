//! A hostile server beside the simulator, and what idguard does against it:
//! - an identity listing that lies (repeats its pages, comes up short of its `totalCount`,
//!   never stops changing the count, or gives none) ends the run within seconds as incomplete
//!   (exit 2, `run.complete: false`, the reason in the manifest); a well-behaved listing from
//!   the same server completes;
//! - errors that echo the client secret or the access token back, in any field of any
//!   endpoint's answer, leave no trace of them in any output or file, at trace level, in text
//!   and JSON logs.
//!
//! The server is a few lines of HTTP/1.1 over a tokio listener, answering each request with a
//! handler and closing the connection after its answer.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::support::audit;

/// How the listing lies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Listing {
    /// 250 identities, `totalCount` 250.
    Honest,
    /// The same 100 identities at every offset, `totalCount` 1000.
    Repeats,
    /// Pages of 10 fresh identities (fewer than asked), 300 in all, `totalCount` 1000.
    ShortOfTheCount,
    /// Fresh identities forever, a `totalCount` that grows on every page.
    ChangingCount,
    /// Fresh identities forever, no `totalCount`.
    NoCount,
}

/// A compliant universal-auth config (what the example policy accepts).
fn config() -> Value {
    json!({"identityUniversalAuth": {
        "accessTokenTTL": 600, "accessTokenMaxTTL": 3600, "accessTokenNumUsesLimit": 10,
        "accessTokenPeriod": 0,
        "accessTokenTrustedIps": [{"ipAddress": "10.0.0.0", "type": "ipv4", "prefix": 8}],
        "clientSecretTrustedIps": [{"ipAddress": "10.0.0.0", "type": "ipv4", "prefix": 8}]
    }})
}

fn item(n: u64) -> Value {
    let id = format!("00000000-0000-4000-8000-{n:012}");
    json!({"id": format!("m-{n}"), "identityId": id, "scope": "organization",
           "identity": {"id": id, "name": format!("svc-{n:05}"), "authMethods": ["universal-auth"]}})
}

/// The search answer for `offset` (the `page`-th page served).
fn page(listing: Listing, offset: u64, served: u64) -> Value {
    let range = |from: u64, to: u64| (from..to).map(item).collect::<Vec<_>>();
    match listing {
        Listing::Honest => {
            json!({"identities": range(offset, (offset + 100).min(250)), "totalCount": 250})
        }
        Listing::Repeats => json!({"identities": range(0, 100), "totalCount": 1000}),
        Listing::ShortOfTheCount => {
            json!({"identities": range(offset, (offset + 10).min(300)), "totalCount": 1000})
        }
        Listing::ChangingCount => {
            json!({"identities": range(offset, offset + 100), "totalCount": 1000 + served})
        }
        Listing::NoCount => json!({"identities": range(offset, offset + 100)}),
    }
}

/// What a hostile server answers: (request line, body) → (status, JSON answer); status 0
/// means it never answers.
pub(crate) type Handler = Arc<dyn Fn(&str, &Value) -> (u16, Value) + Send + Sync>;

/// Answers one request on `stream` with `handler`.
async fn serve(mut stream: TcpStream, handler: Handler) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        let Ok(n) = stream.read(&mut chunk).await else {
            return;
        };
        if n == 0 {
            return;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let length: usize = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())?
        })
        .unwrap_or(0);
    while buf.len() < head_end + length {
        let Ok(n) = stream.read(&mut chunk).await else {
            return;
        };
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let body: Value = serde_json::from_slice(&buf[head_end..]).unwrap_or(Value::Null);
    let line = head.lines().next().unwrap_or_default().to_owned();
    let (code, answer) = handler(&line, &body);
    if code == 0 {
        // Accept, read, and never answer.
        std::future::pending::<()>().await;
    }
    let status = match code {
        200 => "200 OK".to_owned(),
        other => format!("{other} Error"),
    };
    let text = answer.to_string();
    let response = format!(
        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{text}",
        text.len()
    );
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}

/// Starts a hostile server answering with `handler`; returns its base URL.
pub(crate) async fn start_hostile(handler: Handler) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(serve(stream, handler.clone()));
        }
    });
    url
}

/// The answers of an org whose search is `listing`, counting the listing pages served.
fn org(listing: Listing, pages: Arc<AtomicU64>) -> Handler {
    Arc::new(move |line: &str, body: &Value| {
        let answer = if line.starts_with("POST /api/v1/auth/universal-auth/login") {
            json!({"accessToken": "hostile-token", "expiresIn": 86400,
                   "accessTokenMaxTTL": 86400, "tokenType": "Bearer"})
        } else if line.starts_with("GET /api/v1/identities/details") {
            json!({"identityDetails": {"organization": {"id": "org-hostile", "name": "h", "slug": "h"}}})
        } else if line.starts_with("POST /api/v2/identities/search") {
            let served = pages.fetch_add(1, Ordering::SeqCst);
            page(listing, body["offset"].as_u64().unwrap_or(0), served)
        } else if line.starts_with("GET /api/v1/auth/universal-auth/identities/") {
            config()
        } else {
            return (
                404,
                json!({"statusCode": 404, "message": "Route not found", "error": "NotFound"}),
            );
        };
        (200, answer)
    })
}

/// Starts the hostile org; returns its base URL and the count of listing pages served.
async fn start(listing: Listing) -> (String, Arc<AtomicU64>) {
    let pages = Arc::new(AtomicU64::new(0));
    let url = start_hostile(org(listing, pages.clone())).await;
    (url, pages)
}

/// Each lying listing ends as an incomplete run (exit 2, `run.complete: false`, the reason
/// in the manifest) after a handful of pages; the identities it did list are audited.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lying_listings_end_the_run_as_incomplete() {
    for (listing, reason) in [
        (Listing::Repeats, "repeated identities"),
        (Listing::ShortOfTheCount, "the server announced 1000"),
        (Listing::ChangingCount, "kept changing"),
        (Listing::NoCount, "no `totalCount`"),
    ] {
        let (url, pages) = start(listing).await;
        let run = audit(&url, &[]).await;
        let err = run.stderr();
        assert_eq!(run.code(), 2, "{listing:?}: {err}");
        let report = run.report();
        assert_eq!(report["run"]["complete"], false, "{listing:?}");
        let why = report["run"]["incomplete_reason"]
            .as_str()
            .unwrap_or_default();
        assert!(why.contains(reason), "{listing:?}: {why}");
        assert!(
            pages.load(Ordering::SeqCst) <= 40,
            "{listing:?}: {} pages",
            pages.load(Ordering::SeqCst)
        );
        assert!(
            report["summary"]["identities"].as_u64().unwrap_or(0) >= 100,
            "{listing:?}: what was listed is audited"
        );
    }
}

/// The same server with an honest listing: every identity audited, the run complete.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_honest_listing_completes() {
    let (url, pages) = start(Listing::Honest).await;
    let run = audit(&url, &[]).await;
    assert_eq!(run.code(), 0, "{}", run.stderr());
    let report = run.report();
    assert_eq!(report["run"]["complete"], true);
    assert_eq!(report["summary"]["identities"], 250);
    assert_eq!(pages.load(Ordering::SeqCst), 3);
}

const CLIENT_SECRET: &str = "client-secret-echoed-9d41e7";
const TOKEN: &str = "opaque-access-token-53c0a2";

/// An error answer echoing `what` in every field.
fn echo(status: u16, what: &str) -> (u16, Value) {
    (
        status,
        json!({"statusCode": status, "reqId": what, "error": format!("Err {what}"),
               "message": [{"path": [what], "message": format!("you sent {what}")}],
               "details": {"echo": what}}),
    )
}

/// An org whose `failing` endpoint answers an error echoing the client secret and the token.
fn echoing(failing: &'static str) -> Handler {
    Arc::new(move |line: &str, _body: &Value| {
        // What idguard sent: the client secret to the login, the token everywhere else.
        let secrets = if failing.contains("login") {
            format!("secret={CLIENT_SECRET}")
        } else if failing.contains("renew") {
            format!("body={{\"accessToken\":\"{TOKEN}\"}} raw={TOKEN}")
        } else {
            format!("secret={CLIENT_SECRET} auth=Bearer {TOKEN} raw={TOKEN}")
        };
        if line.starts_with(failing) {
            let status = if failing.contains("login") || failing.contains("renew") {
                401
            } else {
                500
            };
            return echo(status, &secrets);
        }
        // A ready-made token is renewed when the server calls it expired.
        if failing.contains("renew") && line.starts_with("GET /api/v1/auth/") {
            return (
                403,
                json!({"statusCode": 403, "error": "TokenError", "message": "Your token has expired"}),
            );
        }
        let answer = if line.starts_with("POST /api/v1/auth/universal-auth/login")
            || line.starts_with("POST /api/v1/auth/token/renew")
        {
            json!({"accessToken": TOKEN, "expiresIn": 86400, "accessTokenMaxTTL": 86400,
                   "tokenType": "Bearer"})
        } else if line.starts_with("GET /api/v1/identities/details") {
            json!({"identityDetails": {"organization": {"id": "org-echo", "name": "e", "slug": "e"}}})
        } else if line.starts_with("POST /api/v2/identities/search") {
            json!({"identities": [item(1), item(2)], "totalCount": 2})
        } else if line.starts_with("GET /api/v1/auth/universal-auth/identities/") {
            let mut c = config();
            c["identityUniversalAuth"]["accessTokenTTL"] = json!(0);
            c
        } else {
            return (
                404,
                json!({"statusCode": 404, "message": "Route not found"}),
            );
        };
        (200, answer)
    })
}

/// Every file a run wrote, concatenated.
fn files(dir: &std::path::Path) -> String {
    let mut all = String::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            all.push_str(&String::from_utf8_lossy(
                &std::fs::read(e.path()).unwrap_or_default(),
            ));
        }
    }
    all
}

/// Secrets and tokens echoed in any error field of the login, the token renewal, the
/// organization lookup, the search, a config GET and a PATCH appear nowhere: not on stderr or stdout at trace level (in
/// text and JSON logs), not in any report, plan or journal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echoed_secrets_and_tokens_appear_nowhere() {
    let policy = crate::support::policy_path("example.yaml");
    for failing in [
        "POST /api/v1/auth/universal-auth/login",
        "GET /api/v1/identities/details",
        "POST /api/v2/identities/search",
        "GET /api/v1/auth/universal-auth/identities/",
        "PATCH /api/v1/auth/universal-auth/identities/",
        "POST /api/v1/auth/token/renew",
    ] {
        let url = start_hostile(echoing(failing)).await;
        for format in ["text", "json"] {
            let tmp = tempfile::tempdir().expect("tempdir");
            let out = tmp.path().join("out");
            let mut cmd = crate::support::idguard();
            cmd.args(["remediate", "--policy"])
                .arg(&policy)
                .args([
                    "--apply",
                    "--yes",
                    "--log-level",
                    "trace",
                    "--log-format",
                    format,
                ])
                // One attempt per request: the echo is in the first answer.
                .args(["--max-retries", "0"])
                .arg("--out")
                .arg(&out)
                .env("INFISICAL_DOMAIN", &url)
                .stdin(std::process::Stdio::null());
            if failing.contains("renew") {
                cmd.env("INFISICAL_TOKEN", TOKEN);
            } else {
                cmd.env("INFISICAL_UNIVERSAL_AUTH_CLIENT_ID", "echo-client")
                    .env("INFISICAL_UNIVERSAL_AUTH_CLIENT_SECRET", CLIENT_SECRET);
            }
            let o = tokio::task::spawn_blocking(move || cmd.output().expect("runs"))
                .await
                .expect("join");
            let seen = format!(
                "{}{}{}",
                String::from_utf8_lossy(&o.stderr),
                String::from_utf8_lossy(&o.stdout),
                files(&out)
            );
            assert!(
                seen.contains("[redacted]"),
                "{failing} {format}: the echo was seen: {seen}"
            );
            for secret in [CLIENT_SECRET, TOKEN] {
                assert!(
                    !seen.contains(secret),
                    "{failing} {format}: {secret} leaked:\n{seen}"
                );
            }
        }
    }
}

/// An org of `identities` whose login, lookup and listing work and whose config GETs are
/// accepted and never answered (counted in `hung`).
fn hanging_configs(identities: u64, hung: Arc<AtomicU64>) -> Handler {
    Arc::new(move |line: &str, _body: &Value| {
        if line.starts_with("POST /api/v1/auth/universal-auth/login") {
            let token = json!({"accessToken": "hostile-token", "expiresIn": 86400,
                               "accessTokenMaxTTL": 86400, "tokenType": "Bearer"});
            (200, token)
        } else if line.starts_with("GET /api/v1/identities/details") {
            let org = json!({"identityDetails": {"organization": {"id": "org-h", "name": "h", "slug": "h"}}});
            (200, org)
        } else if line.starts_with("POST /api/v2/identities/search") {
            let items: Vec<Value> = (0..identities).map(item).collect();
            (200, json!({"identities": items, "totalCount": identities}))
        } else {
            hung.fetch_add(1, Ordering::SeqCst);
            (0, Value::Null)
        }
    })
}

/// A server that accepts config GETs and never answers them: after a run of attempts that all
/// time out, idguard stops sending (the circuit breaker) and reports every config it could not
/// read as `error` (exit 2) instead of waiting out each request's timeouts and retries.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_stops_answering_trips_the_breaker() {
    let hung = Arc::new(AtomicU64::new(0));
    let handler = hanging_configs(60, hung.clone());
    let url = start_hostile(handler).await;
    let run = audit(
        &url,
        &["--timeout", "1", "--max-retries", "3", "--concurrency", "8"],
    )
    .await;
    assert_eq!(run.code(), 2, "{}", run.stderr());
    let report = run.report();
    assert_eq!(report["summary"]["auth_configs"], 60);
    assert_eq!(report["summary"]["pass"], 0, "every config is an error");
    assert!(
        run.stderr().contains("stopped answering"),
        "{}",
        run.stderr()
    );
    let sent = hung.load(Ordering::SeqCst);
    assert!(
        sent <= 24 + 8,
        "{sent} config GETs sent (without the breaker: 240)"
    );
}

/// `--max-duration` bounds the run: against config GETs that never answer (and a 30 s
/// timeout), the run stops at the budget, writes its reports marked incomplete and exits 2.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_duration_bounds_the_run() {
    let handler = hanging_configs(5, Arc::new(AtomicU64::new(0)));
    let url = start_hostile(handler).await;
    let run = audit(&url, &["--timeout", "30", "--max-duration", "2s"]).await;
    assert_eq!(run.code(), 2, "{}", run.stderr());
    let report = run.report();
    assert_eq!(report["run"]["complete"], false);
    let why = report["run"]["incomplete_reason"]
        .as_str()
        .unwrap_or_default();
    assert!(why.contains("--max-duration"), "{why}");
}

/// A PATCH answered 2xx with a body over the size cap was processed: it is a success, sent
/// once, not an error and never sent again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_2xx_patch_with_a_huge_answer_is_a_success_sent_once() {
    let patches = Arc::new(AtomicU64::new(0));
    let count = patches.clone();
    let handler: Handler = Arc::new(move |line: &str, _body: &Value| {
        if line.starts_with("PATCH ") {
            count.fetch_add(1, Ordering::SeqCst);
            return (200, json!({"padding": "x".repeat(3 << 20)}));
        }
        if line.starts_with("GET /api/v1/identities/details") {
            return (
                200,
                json!({"identityDetails": {"organization": {"id": "org-h", "name": "h", "slug": "h"}}}),
            );
        }
        (
            404,
            json!({"statusCode": 404, "message": "Route not found"}),
        )
    });
    let url = start_hostile(handler).await;
    let client = idguard::infisical::Client::connect(idguard::infisical::ConnectOptions::new(
        url,
        idguard::infisical::Credentials::Token(secrecy::SecretString::from("hostile-token")),
    ))
    .await
    .expect("connects");
    let mut body = serde_json::Map::new();
    body.insert("accessTokenTTL".into(), json!(900));
    client
        .patch_config("id-1", &idguard::model::AuthMethod::Universal, &body)
        .await
        .expect("a 2xx PATCH is a success whatever the size of its answer");
    assert_eq!(patches.load(Ordering::SeqCst), 1);
}
