//! The Infisical client against tiny scripted axum servers on 127.0.0.1: each test answers
//! exactly what it needs (errors, 429s, truncated bodies, slow answers) and asserts what the
//! client sent, how often and how fast.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use idguard::infisical::{Client, ConnectOptions, Credentials, ErrorKind, Rate};
use idguard::model::{AuthMethod, IdentityScope};
use secrecy::SecretString;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// One request as the server saw it.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    query: String,
    auth: Option<String>,
    user_agent: Option<String>,
    body: Value,
    at: Instant,
}

/// A scripted answer.
struct Reply {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: String,
}

fn reply(status: u16, body: Value) -> Reply {
    Reply {
        status,
        headers: vec![("content-type", "application/json".into())],
        body: body.to_string(),
    }
}

fn raw(status: u16, content_type: &str, body: impl Into<String>) -> Reply {
    Reply {
        status,
        headers: vec![("content-type", content_type.to_owned())],
        body: body.into(),
    }
}

/// The script: (request, how many earlier requests had the same method and path) -> answer.
type Script = dyn Fn(&Seen, usize) -> Reply + Send + Sync;

struct Server {
    seen: Mutex<Vec<Seen>>,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    delay: Duration,
    script: Box<Script>,
}

impl Server {
    fn requests(&self, method: &str, path: &str) -> Vec<Seen> {
        self.seen
            .lock()
            .expect("log lock")
            .iter()
            .filter(|s| s.method == method && s.path == path)
            .cloned()
            .collect()
    }
}

async fn handle(
    State(srv): State<Arc<Server>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let now = srv.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    srv.max_in_flight.fetch_max(now, Ordering::SeqCst);
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let seen = Seen {
        method: method.to_string(),
        path: uri.path().to_owned(),
        query: uri.query().unwrap_or_default().to_owned(),
        auth: header("authorization"),
        user_agent: header("user-agent"),
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
        at: Instant::now(),
    };
    let nth = {
        let mut log = srv.seen.lock().expect("log lock");
        let nth = log
            .iter()
            .filter(|s| s.method == seen.method && s.path == seen.path)
            .count();
        log.push(seen.clone());
        nth
    };
    if !srv.delay.is_zero() {
        tokio::time::sleep(srv.delay).await;
    }
    let r = (srv.script)(&seen, nth);
    srv.in_flight.fetch_sub(1, Ordering::SeqCst);
    let mut resp = (StatusCode::from_u16(r.status).expect("status"), r.body).into_response();
    for (k, v) in r.headers {
        resp.headers_mut().insert(k, v.parse().expect("header"));
    }
    resp
}

/// Starts a scripted server; returns its base URL and its state.
async fn serve_with_delay(
    delay: Duration,
    script: impl Fn(&Seen, usize) -> Reply + Send + Sync + 'static,
) -> (String, Arc<Server>) {
    let srv = Arc::new(Server {
        seen: Mutex::new(Vec::new()),
        in_flight: AtomicUsize::new(0),
        max_in_flight: AtomicUsize::new(0),
        delay,
        script: Box::new(script),
    });
    let app = axum::Router::new().fallback(handle).with_state(srv.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}"), srv)
}

async fn serve(
    script: impl Fn(&Seen, usize) -> Reply + Send + Sync + 'static,
) -> (String, Arc<Server>) {
    serve_with_delay(Duration::ZERO, script).await
}

const SECRET: &str = "s3cret-value-never-shown";

fn ua() -> Credentials {
    Credentials::UniversalAuth {
        client_id: "client-1".into(),
        client_secret: SecretString::from(SECRET),
    }
}

fn token(t: &str) -> Credentials {
    Credentials::Token(SecretString::from(t.to_owned()))
}

/// Fast options for tests: short backoff budget, no deadline surprises.
fn opts(base: &str, credentials: Credentials) -> ConnectOptions {
    let mut o = ConnectOptions::new(base, credentials);
    o.max_retries = 3;
    o.request_timeout = Duration::from_secs(5);
    o.deadline = Some(Duration::from_secs(30));
    o
}

fn with_org(mut o: ConnectOptions) -> ConnectOptions {
    o.org_id = Some("org-1".into());
    o
}

/// A JWT-shaped token with the given payload.
fn jwt(payload: Value) -> String {
    let enc = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    format!(
        "{}.{}.sig",
        enc.encode(br#"{"alg":"HS256","typ":"JWT"}"#),
        enc.encode(payload.to_string())
    )
}

fn ua_config(ttl: u64) -> Value {
    json!({"identityUniversalAuth": {"id": "c1", "clientId": "cid", "accessTokenTTL": ttl,
        "accessTokenMaxTTL": 7200, "accessTokenNumUsesLimit": 0, "accessTokenPeriod": 0,
        "clientSecretTrustedIps": [{"type": "ipv4", "prefix": 0, "ipAddress": "0.0.0.0"}],
        "accessTokenTrustedIps": [{"type": "ipv4", "prefix": 8, "ipAddress": "10.0.0.0"}],
        "identityId": "id-1"}})
}

const UA_PATH: &str = "/api/v1/auth/universal-auth/identities/id-1";
const LOGIN: &str = "/api/v1/auth/universal-auth/login";

/// Answers login (`tok-<n>`) and the org details; anything else is a 599 so a test notices.
fn standard(seen: &Seen, nth: usize) -> Reply {
    match (seen.method.as_str(), seen.path.as_str()) {
        ("POST", LOGIN) => reply(
            200,
            json!({"accessToken": format!("tok-{}", nth + 1), "expiresIn": 7200,
                   "accessTokenMaxTTL": 7200, "tokenType": "Bearer"}),
        ),
        ("GET", "/api/v1/identities/details") => reply(
            200,
            json!({"identityDetails": {"organization": {"id": "org-1", "name": "o", "slug": "o"}}}),
        ),
        _ => reply(599, json!({"message": "unexpected request"})),
    }
}

/// Universal-auth login sends the credentials once, later requests carry `Bearer <token>` and
/// the idguard User-Agent, and the org comes from `/identities/details`.
#[tokio::test]
async fn ua_login_then_bearer_token_and_org_from_details() {
    let (base, srv) = serve(|s, n| match s.path.as_str() {
        UA_PATH => reply(200, ua_config(3600)),
        _ => standard(s, n),
    })
    .await;
    let client = Client::connect(opts(&format!("{base}/api/"), ua()))
        .await
        .unwrap();
    assert_eq!(client.org_id(), "org-1");
    assert_eq!(client.api_url(), base);
    let cfg = client
        .get_config("id-1", &AuthMethod::Universal)
        .await
        .unwrap();
    assert_eq!(cfg.access_token_ttl, 3600);

    let logins = srv.requests("POST", LOGIN);
    assert_eq!(logins.len(), 1);
    assert_eq!(
        logins[0].body,
        json!({"clientId": "client-1", "clientSecret": SECRET})
    );
    assert_eq!(logins[0].auth, None);
    let get = &srv.requests("GET", UA_PATH)[0];
    assert_eq!(get.auth.as_deref(), Some("Bearer tok-1"));
    assert!(get.user_agent.as_deref().unwrap().starts_with("idguard/"));
    assert_eq!(client.stats().requests, 3);
}

/// Bad credentials: an Auth error with the server's message, exactly one login attempt
/// (lockout after 3), and the secret nowhere in the error.
#[tokio::test]
async fn bad_credentials_are_not_retried() {
    let (base, srv) = serve(|_, _| {
        reply(
            401,
            json!({"statusCode": 401, "message": "Invalid credentials", "error": "UnauthorizedError"}),
        )
    })
    .await;
    let err = Client::connect(opts(&base, ua())).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth);
    let text = format!("{err} {err:?}");
    assert!(text.contains("Invalid credentials"), "{text}");
    assert!(!text.contains(SECRET), "{text}");
    assert_eq!(srv.requests("POST", LOGIN).len(), 1);
}

/// A 422 on login (validation issues array) is also an Auth error, readable.
#[tokio::test]
async fn login_validation_failure_is_auth() {
    let (base, srv) = serve(|_, _| {
        reply(
            422,
            json!({"statusCode": 422, "error": "ValidationFailure",
                   "message": [{"code": "too_small", "path": ["clientSecret"], "message": "Required"}]}),
        )
    })
    .await;
    let err = Client::connect(opts(&base, ua())).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth);
    let text = format!("{:#}", anyhow::Error::new(err));
    assert!(text.contains("clientSecret: Required"), "{text}");
    assert_eq!(srv.requests("POST", LOGIN).len(), 1);
}

/// Older servers: `/identities/details` answers 500 (not retried); the org comes from the
/// token's identityId and `GET /api/v1/identities/{id}`.
#[tokio::test]
async fn org_from_legacy_fallback() {
    let (base, srv) = serve(|s, _| match s.path.as_str() {
        "/api/v1/identities/details" => reply(
            500,
            json!({"statusCode": 500, "error": "FindOne", "message": "oops"}),
        ),
        "/api/v1/identities/legacy-id" => reply(
            200,
            json!({"identity": {"id": "m1", "orgId": "org-legacy", "identityId": "legacy-id",
                   "identity": {"id": "legacy-id", "name": "n", "authMethods": []}}}),
        ),
        _ => reply(404, json!({"message": "no"})),
    })
    .await;
    let t = jwt(json!({"identityId": "legacy-id", "authTokenType": "identityAccessToken"}));
    let client = Client::connect(opts(&base, token(&t))).await.unwrap();
    assert_eq!(client.org_id(), "org-legacy");
    assert_eq!(srv.requests("GET", "/api/v1/identities/details").len(), 1);
    assert_eq!(
        srv.requests("GET", "/api/v1/identities/legacy-id")[0]
            .auth
            .as_deref(),
        Some(format!("Bearer {t}").as_str())
    );
}

/// Without a way to find the org, the error says to pass --org-id; with --org-id no lookup
/// is made.
#[tokio::test]
async fn org_unknown_asks_for_org_id() {
    let (base, srv) = serve(|_, _| reply(404, json!({"message": "Route not found"}))).await;
    let err = Client::connect(opts(&base, token("opaque")))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("--org-id"), "{err}");
    let client = Client::connect(with_org(opts(&base, token("opaque"))))
        .await
        .unwrap();
    assert_eq!(client.org_id(), "org-1");
    assert_eq!(srv.requests("GET", "/api/v1/identities/details").len(), 1);
}

fn search_item(i: usize) -> Value {
    let methods = if i == 3 {
        json!(["universal-auth", "quantum-auth"])
    } else {
        json!(["universal-auth"])
    };
    let mut item = json!({"id": format!("m{i}"), "identityId": format!("id{i}"),
        "scope": "organization", "orgId": "org-1", "roles": [],
        "identity": {"id": format!("id{i}"), "name": format!("n{i:03}"), "orgId": "org-1",
                     "authMethods": methods}});
    if i == 7 {
        item["scope"] = json!("project");
        item["projectId"] = json!("p7");
    }
    item
}

/// The v2 search is paged by offset with a JSON-integer limit of 100 until totalCount, and
/// identities repeated by a shifting list are returned once; unknown methods are kept.
#[tokio::test]
async fn search_pages_until_total_and_dedupes() {
    let (base, srv) = serve(|s, n| match s.path.as_str() {
        "/api/v2/identities/search" => {
            let offset = s.body["offset"].as_u64().unwrap() as usize;
            // the second page overlaps the first by 5 (an identity was added meanwhile)
            let range = match offset {
                0 => 0..100,
                100 => 95..195,
                _ => 195..205,
            };
            reply(
                200,
                json!({"identities": range.map(search_item).collect::<Vec<_>>(), "totalCount": 205}),
            )
        }
        _ => standard(s, n),
    })
    .await;
    let client = Client::connect(opts(&base, token("t"))).await.unwrap();
    let mut pager = client.identities();
    fn is_send<T: Send>(_: &T) {}
    let first = pager.next_page();
    is_send(&first); // the audit drives the pager from spawned tasks
    let mut all = first.await.unwrap().unwrap();
    while let Some(page) = pager.next_page().await.unwrap() {
        all.extend(page);
    }
    assert_eq!(pager.total(), Some(205));
    assert_eq!(all.len(), 205);
    let mut ids: Vec<_> = all.iter().map(|i| i.id.clone()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 205);
    let calls = srv.requests("POST", "/api/v2/identities/search");
    assert_eq!(calls.len(), 3);
    let offsets: Vec<_> = calls.iter().map(|c| c.body["offset"].clone()).collect();
    assert_eq!(offsets, vec![json!(0), json!(100), json!(200)]);
    assert_eq!(calls[0].body["limit"], json!(100));
    assert!(calls[0].body["limit"].is_u64());
    assert_eq!(calls[0].body["scope"], json!(["organization", "project"]));
    let three = all.iter().find(|i| i.id == "id3").unwrap();
    assert!(
        three
            .auth_methods
            .contains(&AuthMethod::Unknown("quantum-auth".into()))
    );
    let seven = all.iter().find(|i| i.id == "id7").unwrap();
    assert_eq!(
        seven.scope,
        IdentityScope::Project {
            project_id: "p7".into()
        }
    );
}

/// No search route (404): the org memberships listing is used with its largest page, and the
/// older single `authMethod` field is read.
#[tokio::test]
async fn search_404_falls_back_to_memberships() {
    let (base, srv) = serve(|s, n| match s.path.as_str() {
        "/api/v2/identities/search" => reply(
            404,
            json!({"statusCode": 404, "message": "Route POST:/api/v2/identities/search not found",
                   "error": "Not Found"}),
        ),
        "/api/v2/organizations/org-1/identity-memberships" => reply(
            200,
            json!({"identityMemberships": [
                {"id": "m1", "role": "admin", "orgId": "org-1", "identityId": "a",
                 "identity": {"id": "a", "name": "alpha", "authMethod": "universal-auth"}},
                {"id": "m2", "role": "admin", "orgId": "org-1", "identityId": "b",
                 "identity": {"id": "b", "name": "beta", "authMethod": null}}],
                   "totalCount": 2}),
        ),
        _ => standard(s, n),
    })
    .await;
    let client = Client::connect(with_org(opts(&base, token("t"))))
        .await
        .unwrap();
    let mut pager = client.identities();
    let page = pager.next_page().await.unwrap().unwrap();
    assert!(pager.next_page().await.unwrap().is_none());
    assert_eq!(page.len(), 2);
    assert_eq!(page[0].auth_methods, vec![AuthMethod::Universal]);
    assert!(page[1].auth_methods.is_empty());
    let calls = srv.requests("GET", "/api/v2/organizations/org-1/identity-memberships");
    assert_eq!(calls.len(), 1);
    assert!(calls[0].query.contains("limit=20000"), "{}", calls[0].query);
    assert!(calls[0].query.contains("offset=0"));
}

/// A malformed listing item is a Decode error naming its index, not a panic.
#[tokio::test]
async fn malformed_item_is_a_decode_error() {
    let (base, _srv) = serve(|s, n| match s.path.as_str() {
        "/api/v2/identities/search" => reply(
            200,
            json!({"identities": [search_item(0), {"identity": {"id": "x"}}], "totalCount": 2}),
        ),
        _ => standard(s, n),
    })
    .await;
    let client = Client::connect(with_org(opts(&base, token("t"))))
        .await
        .unwrap();
    let err = client.identities().next_page().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Decode);
    assert!(err.to_string().contains("item 1"), "{err}");
}

/// Config GETs decode; 400/404 "not attached" are NotConfigured, other 404s NotFound, 403
/// PermissionDenied.
#[tokio::test]
async fn config_get_statuses() {
    let (base, _srv) = serve(|s, _| match s.path.as_str() {
        UA_PATH => reply(200, ua_config(60)),
        "/api/v1/auth/aws-auth/identities/id-1" => reply(
            400,
            json!({"statusCode": 400, "message": "The identity does not have AWS Auth attached",
                   "error": "BadRequest"}),
        ),
        "/api/v1/auth/universal-auth/identities/id-2" => reply(
            404,
            json!({"statusCode": 404, "error": "NotFound",
                   "message": "Failed to find universal auth for identity with ID id-2"}),
        ),
        "/api/v1/auth/universal-auth/identities/gone" => reply(
            404,
            json!({"statusCode": 404, "error": "NotFound", "message": "Failed to find identity with ID gone"}),
        ),
        _ => reply(
            403,
            json!({"statusCode": 403, "error": "PermissionDenied", "message": "You are not allowed to read identity"}),
        ),
    })
    .await;
    let client = Client::connect(with_org(opts(&base, token("t"))))
        .await
        .unwrap();
    let cfg = client
        .get_config("id-1", &AuthMethod::Universal)
        .await
        .unwrap();
    assert_eq!(cfg.access_token_max_ttl, 7200);
    assert_eq!(cfg.access_token_trusted_ips.unwrap().len(), 1);
    let kind = |r: Result<_, idguard::infisical::ApiError>| r.unwrap_err().kind();
    assert_eq!(
        kind(client.get_config("id-1", &AuthMethod::Aws).await),
        ErrorKind::NotConfigured
    );
    assert_eq!(
        kind(client.get_config("id-2", &AuthMethod::Universal).await),
        ErrorKind::NotConfigured
    );
    assert_eq!(
        kind(client.get_config("gone", &AuthMethod::Universal).await),
        ErrorKind::NotFound
    );
    assert_eq!(
        kind(client.get_config("id-1", &AuthMethod::Oci).await),
        ErrorKind::PermissionDenied
    );
    assert_eq!(
        kind(client.get_config("../x", &AuthMethod::Oci).await),
        ErrorKind::Validation
    );
}

/// A 503 HTML page and then success: one retry, counted.
#[tokio::test]
async fn server_error_then_success_is_retried() {
    let (base, _srv) = serve(|_, n| {
        if n == 0 {
            raw(
                503,
                "text/html",
                "<html><body><h1>503 Service Unavailable</h1></body></html>",
            )
        } else {
            reply(200, ua_config(60))
        }
    })
    .await;
    let client = Client::connect(with_org(opts(&base, token("t"))))
        .await
        .unwrap();
    client
        .get_config("id-1", &AuthMethod::Universal)
        .await
        .unwrap();
    assert_eq!(client.stats().retries, 1);
    assert_eq!(client.stats().requests, 2);
}

/// When every attempt is a 5xx the error is Server after 1 + max_retries attempts, with an
/// excerpt of the page.
#[tokio::test]
async fn retries_exhausted_is_server_error() {
    let (base, srv) = serve(|_, _| raw(502, "text/html", "<h1>502 Bad Gateway</h1>")).await;
    let mut o = with_org(opts(&base, token("t")));
    o.max_retries = 2;
    let client = Client::connect(o).await.unwrap();
    let err = client
        .get_config("id-1", &AuthMethod::Universal)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Server);
    assert!(err.to_string().contains("502 Bad Gateway"), "{err}");
    assert_eq!(srv.requests("GET", UA_PATH).len(), 3);
    assert_eq!(client.stats().retries, 2);
}

/// A 2xx with invalid (cut) JSON is retried.
#[tokio::test]
async fn invalid_json_then_success() {
    let (base, _srv) = serve(|_, n| {
        if n == 0 {
            raw(
                200,
                "application/json",
                r#"{"identityUniversalAuth": {"accessTok"#,
            )
        } else {
            reply(200, ua_config(60))
        }
    })
    .await;
    let client = Client::connect(with_org(opts(&base, token("t"))))
        .await
        .unwrap();
    client
        .get_config("id-1", &AuthMethod::Universal)
        .await
        .unwrap();
    assert_eq!(client.stats().retries, 1);
}

/// A 2xx body that stays invalid is a Decode error that does not quote the body (config
/// answers can hold secrets such as LDAP `bindPass`).
#[tokio::test]
async fn invalid_body_error_does_not_quote_secrets() {
    let (base, _srv) = serve(|_, _| {
        raw(
            200,
            "application/json",
            r#"{"identityLdapAuth": {"bindPass": "hunter2-secret", "url": "ld"#,
        )
    })
    .await;
    let mut o = with_org(opts(&base, token("t")));
    o.max_retries = 1;
    let client = Client::connect(o).await.unwrap();
    let err = client
        .get_config("id-1", &AuthMethod::Ldap)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Decode);
    let text = format!("{err} {err:?}");
    assert!(!text.contains("hunter2"), "{text}");
}

/// A body cut short of its Content-Length (connection closed) is retried.
#[tokio::test]
async fn truncated_body_then_success() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let served = Arc::new(AtomicUsize::new(0));
    let counter = served.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let n = counter.fetch_add(1, Ordering::SeqCst);
            let mut buf = vec![0u8; 8192];
            let mut got = Vec::new();
            while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                let Ok(k) = sock.read(&mut buf).await else {
                    break;
                };
                if k == 0 {
                    break;
                }
                got.extend_from_slice(&buf[..k]);
            }
            let full = ua_config(60).to_string();
            let resp = if n == 0 {
                format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{}",
                    full.len(),
                    &full[..20]
                )
            } else {
                format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{}",
                    full.len(),
                    full
                )
            };
            let _ = sock.write_all(resp.as_bytes()).await;
            let _ = sock.shutdown().await;
        }
    });
    let client = Client::connect(with_org(opts(&format!("http://{addr}"), token("t"))))
        .await
        .unwrap();
    let cfg = client
        .get_config("id-1", &AuthMethod::Universal)
        .await
        .unwrap();
    assert_eq!(cfg.access_token_ttl, 60);
    assert_eq!(client.stats().retries, 1);
    assert_eq!(served.load(Ordering::SeqCst), 2);
}

/// A 429 with `Retry-After: 1` is waited for, then the request succeeds; it is counted as
/// rate-limited, not as a retry, and does not use up max_retries (0 here).
#[tokio::test]
async fn rate_limited_with_retry_after_is_waited_for() {
    let (base, srv) = serve(|_, n| {
        if n == 0 {
            let mut r = reply(
                429,
                json!({"statusCode": 429, "error": "RateLimitExceeded",
                       "message": "Rate limit exceeded. Please try again in 1 minute"}),
            );
            r.headers.push(("retry-after", "1".into()));
            r
        } else {
            reply(200, ua_config(60))
        }
    })
    .await;
    let mut o = with_org(opts(&base, token("t")));
    o.max_retries = 0;
    let client = Client::connect(o).await.unwrap();
    client
        .get_config("id-1", &AuthMethod::Universal)
        .await
        .unwrap();
    let calls = srv.requests("GET", UA_PATH);
    assert_eq!(calls.len(), 2);
    let gap = calls[1].at - calls[0].at;
    assert!(gap >= Duration::from_millis(990), "{gap:?}");
    assert!(
        gap < Duration::from_secs(30),
        "header must win over the text: {gap:?}"
    );
    assert_eq!(client.stats().rate_limited, 1);
    assert_eq!(client.stats().retries, 0);
}

/// A 429 without Retry-After: the wait is read from "try again in N seconds".
#[tokio::test]
async fn rate_limited_with_text_only() {
    let (base, srv) = serve(|_, n| {
        if n == 0 {
            reply(
                429,
                json!({"statusCode": 429, "error": "RateLimitExceeded",
                       "message": "Rate limit exceeded. Please try again in 1 seconds"}),
            )
        } else {
            reply(200, ua_config(60))
        }
    })
    .await;
    let client = Client::connect(with_org(opts(&base, token("t"))))
        .await
        .unwrap();
    client
        .get_config("id-1", &AuthMethod::Universal)
        .await
        .unwrap();
    let calls = srv.requests("GET", UA_PATH);
    assert!(calls[1].at - calls[0].at >= Duration::from_millis(990));
    assert_eq!(client.stats().rate_limited, 1);
}

/// A 429 asking for longer than the request deadline fails fast as RateLimited.
#[tokio::test]
async fn rate_limit_beyond_deadline_fails() {
    let (base, srv) = serve(|_, _| {
        let mut r = reply(429, json!({"message": "Rate limit exceeded"}));
        r.headers.push(("retry-after", "120".into()));
        r
    })
    .await;
    let mut o = with_org(opts(&base, token("t")));
    o.deadline = Some(Duration::from_secs(2));
    let client = Client::connect(o).await.unwrap();
    let err = client
        .get_config("id-1", &AuthMethod::Universal)
        .await
        .unwrap_err();
    // Waiting would have ended as a timeout at the deadline: RateLimited after one request
    // is the fail-fast path.
    assert_eq!(err.kind(), ErrorKind::RateLimited);
    assert_eq!(srv.requests("GET", UA_PATH).len(), 1);
}

/// One 429 pauses the whole read class: a request started during the pause waits too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit_pauses_the_class() {
    let (base, srv) = serve(|s, n| {
        if s.path == UA_PATH && n == 0 {
            let mut r = reply(429, json!({"message": "Rate limit exceeded"}));
            r.headers.push(("retry-after", "1".into()));
            r
        } else {
            reply(200, ua_config(60))
        }
    })
    .await;
    let client = Client::connect(with_org(opts(&base, token("t"))))
        .await
        .unwrap();
    let first = {
        let c = client.clone();
        tokio::spawn(async move { c.get_config("id-1", &AuthMethod::Universal).await })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    client
        .get_config("id-2", &AuthMethod::Universal)
        .await
        .unwrap();
    first.await.unwrap().unwrap();
    // The server's log: id-2 arrived only once the 1 s pause the 429 asked for was over.
    let limited = srv.requests("GET", UA_PATH)[0].at;
    let second = srv.requests("GET", "/api/v1/auth/universal-auth/identities/id-2")[0].at;
    assert!(
        second - limited >= Duration::from_millis(990),
        "{:?}",
        second - limited
    );
    assert_eq!(
        srv.requests("GET", "/api/v1/auth/universal-auth/identities/id-2")
            .len(),
        1
    );
}

/// An expired token (403 TokenError) seen by many concurrent requests causes ONE re-login,
/// and each request is replayed with the new token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_error_relogs_in_once_and_replays() {
    let (base, srv) = serve_with_delay(Duration::from_millis(50), |s, n| {
        match (s.path.as_str(), s.auth.as_deref()) {
            (p, Some("Bearer tok-1"))
                if p.starts_with("/api/v1/auth/universal-auth/identities/") =>
            {
                reply(
                    403,
                    json!({"statusCode": 403, "error": "TokenError",
                           "message": "Your token has expired. Please re-authenticate."}),
                )
            }
            (p, Some("Bearer tok-2"))
                if p.starts_with("/api/v1/auth/universal-auth/identities/") =>
            {
                reply(200, ua_config(60))
            }
            _ => standard(s, n),
        }
    })
    .await;
    let client = Client::connect(with_org(opts(&base, ua()))).await.unwrap();
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let c = client.clone();
            tokio::spawn(async move {
                c.get_config(&format!("id-{i}"), &AuthMethod::Universal)
                    .await
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    assert_eq!(srv.requests("POST", LOGIN).len(), 2);
}

/// A plain token that expires is renewed once via /auth/token/renew and the request replayed.
#[tokio::test]
async fn plain_token_is_renewed_on_token_error() {
    let (base, srv) = serve(|s, _| match (s.path.as_str(), s.auth.as_deref()) {
        ("/api/v1/auth/token/renew", _) => reply(
            200,
            json!({"accessToken": "renewed", "expiresIn": 3600, "accessTokenMaxTTL": 0, "tokenType": "Bearer"}),
        ),
        (UA_PATH, Some("Bearer renewed")) => reply(200, ua_config(60)),
        _ => reply(403, json!({"statusCode": 403, "error": "TokenError", "message": "expired"})),
    })
    .await;
    let client = Client::connect(with_org(opts(&base, token("old"))))
        .await
        .unwrap();
    client
        .get_config("id-1", &AuthMethod::Universal)
        .await
        .unwrap();
    let renews = srv.requests("POST", "/api/v1/auth/token/renew");
    assert_eq!(renews.len(), 1);
    assert_eq!(renews[0].body, json!({"accessToken": "old"}));
    // a second expiry that renewal cannot fix is an Auth error, not a loop
    let err = client
        .get_config("id-9", &AuthMethod::Universal)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth);
}

/// The token is refreshed proactively shortly before `expiresIn` runs out.
#[tokio::test]
async fn token_is_refreshed_before_expiry() {
    let (base, srv) = serve(|s, n| match s.path.as_str() {
        LOGIN => reply(
            200,
            json!({"accessToken": format!("tok-{}", n + 1), "expiresIn": 2, "tokenType": "Bearer"}),
        ),
        UA_PATH => reply(200, ua_config(60)),
        _ => standard(s, n),
    })
    .await;
    let client = Client::connect(with_org(opts(&base, ua()))).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1700)).await;
    client
        .get_config("id-1", &AuthMethod::Universal)
        .await
        .unwrap();
    assert_eq!(srv.requests("POST", LOGIN).len(), 2);
    assert_eq!(
        srv.requests("GET", UA_PATH)[0].auth.as_deref(),
        Some("Bearer tok-2")
    );
}

/// Never more than `concurrency` requests in flight.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrency_is_bounded() {
    let (base, srv) =
        serve_with_delay(Duration::from_millis(80), |_, _| reply(200, ua_config(60))).await;
    let mut o = with_org(opts(&base, token("t")));
    o.concurrency = 3;
    let client = Client::connect(o).await.unwrap();
    let tasks: Vec<_> = (0..12)
        .map(|i| {
            let c = client.clone();
            tokio::spawn(async move {
                c.get_config(&format!("id-{i}"), &AuthMethod::Universal)
                    .await
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let max = srv.max_in_flight.load(Ordering::SeqCst);
    assert!(max <= 3, "{max} in flight");
    assert!(max >= 2, "requests were not concurrent at all: {max}");
}

/// The read rate is honoured: N requests at R/s span at least (N-1)/R on the server's clock
/// (10 ms allowed for the server's own scheduling).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_rate_is_honoured() {
    let (base, srv) = serve(|_, _| reply(200, ua_config(60))).await;
    let mut o = with_org(opts(&base, token("t")));
    o.read_rate = Some("10/s".parse::<Rate>().unwrap());
    let client = Client::connect(o).await.unwrap();
    let tasks: Vec<_> = (0..6)
        .map(|i| {
            let c = client.clone();
            tokio::spawn(async move {
                c.get_config(&format!("id-{i}"), &AuthMethod::Universal)
                    .await
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let times: Vec<Instant> = srv.seen.lock().unwrap().iter().map(|s| s.at).collect();
    assert_eq!(times.len(), 6);
    let span = *times.iter().max().unwrap() - *times.iter().min().unwrap();
    assert!(span >= Duration::from_millis(490), "{span:?}");
}

/// Plain http:// to a non-loopback host is refused before any request.
#[tokio::test]
async fn plain_http_to_remote_host_is_refused() {
    let err = Client::connect(opts("http://infisical.example.org", token("t")))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InsecureUrl);
}

/// A body above the cap (1 MiB for a config) is refused, not buffered.
#[tokio::test]
async fn oversized_body_is_refused() {
    let (base, _srv) = serve(|_, _| {
        raw(
            200,
            "application/json",
            format!(
                r#"{{"identityUniversalAuth": {{"pad": "{}"}}}}"#,
                "x".repeat(2 << 20)
            ),
        )
    })
    .await;
    let client = Client::connect(with_org(opts(&base, token("t"))))
        .await
        .unwrap();
    let err = client
        .get_config("id-1", &AuthMethod::Universal)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Decode);
    assert!(err.to_string().contains("larger than"), "{err}");
}

/// PATCH sends the body as given and is retried on 5xx (idempotent); its 2xx ends it.
#[tokio::test]
async fn patch_sends_body_and_retries_5xx() {
    let (base, srv) = serve(|s, n| {
        if n == 0 {
            reply(500, json!({"statusCode": 500, "message": "boom"}))
        } else {
            let ttl = s.body["accessTokenTTL"].as_u64().unwrap_or(0);
            reply(200, ua_config(ttl))
        }
    })
    .await;
    let client = Client::connect(with_org(opts(&base, token("t"))))
        .await
        .unwrap();
    let mut body = serde_json::Map::new();
    body.insert("accessTokenTTL".into(), json!(900));
    body.insert("accessTokenMaxTTL".into(), json!(7200));
    client
        .patch_config("id-1", &AuthMethod::Universal, &body)
        .await
        .unwrap();
    let calls = srv.requests("PATCH", UA_PATH);
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[1].body, Value::Object(body));
}

/// A PATCH answered with a 200 head whose body is then cut short (the connection closes before
/// the announced content-length) has been processed: it is sent once and succeeds, never sent
/// again. A GET answered the same way is retried (its body is needed).
#[tokio::test]
async fn a_2xx_patch_whose_body_is_cut_short_is_not_resent() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen: Arc<Mutex<Vec<String>>> = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            // The request head and its body (by content-length), then a cut answer.
            let mut got = Vec::new();
            let mut buf = vec![0u8; 8192];
            let head_end = loop {
                if let Some(i) = got.windows(4).position(|w| w == b"\r\n\r\n") {
                    break Some(i + 4);
                }
                match sock.read(&mut buf).await {
                    Ok(0) | Err(_) => break None,
                    Ok(k) => got.extend_from_slice(&buf[..k]),
                }
            };
            let Some(head_end) = head_end else { continue };
            let head = String::from_utf8_lossy(&got[..head_end]).to_ascii_lowercase();
            let len = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok())
                .unwrap_or(0);
            while got.len() < head_end + len {
                match sock.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(k) => got.extend_from_slice(&buf[..k]),
                }
            }
            log.lock()
                .unwrap()
                .push(head.lines().next().unwrap_or_default().to_owned());
            let full = ua_config(900).to_string();
            let cut = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{}",
                full.len(),
                &full[..20]
            );
            let _ = sock.write_all(cut.as_bytes()).await;
            let _ = sock.shutdown().await;
        }
    });
    let mut o = with_org(opts(&format!("http://{addr}"), token("t")));
    o.max_retries = 2;
    let client = Client::connect(o).await.unwrap();
    let mut body = serde_json::Map::new();
    body.insert("accessTokenTTL".into(), json!(900));
    client
        .patch_config("id-1", &AuthMethod::Universal, &body)
        .await
        .expect("a 2xx PATCH is a success whatever its body");
    let patches = |seen: &Mutex<Vec<String>>| {
        seen.lock()
            .unwrap()
            .iter()
            .filter(|l| l.starts_with("patch "))
            .count()
    };
    assert_eq!(patches(&seen), 1, "sent once: {:?}", seen.lock().unwrap());
    assert_eq!(client.stats().retries, 0);

    let err = client
        .get_config("id-1", &AuthMethod::Universal)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Decode, "{err}");
    assert_eq!(client.stats().retries, 2, "the GET was retried");
    assert_eq!(patches(&seen), 1);
}

/// A 422 on PATCH renders the issue array readably as a Validation error; so does an older
/// server's 401 `ValidationFailure`.
#[tokio::test]
async fn patch_validation_error_is_readable() {
    let (base, _srv) = serve(|_, n| {
        let status = if n == 0 { 422 } else { 401 };
        reply(
            status,
            json!({"statusCode": status, "error": "ValidationFailure", "message": [
                {"code": "invalid_type", "path": ["tenancyOcid"], "message": "Required"}]}),
        )
    })
    .await;
    let client = Client::connect(with_org(opts(&base, token("t"))))
        .await
        .unwrap();
    for status in ["HTTP 422", "HTTP 401"] {
        let err = client
            .patch_config("id-1", &AuthMethod::Oci, &serde_json::Map::new())
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Validation);
        let text = err.to_string();
        assert!(text.contains("tenancyOcid: Required"), "{text}");
        assert!(text.contains(status), "{text}");
    }
}

/// An attempt that gets no answer within `request_timeout` is retried, and the retry succeeds.
#[tokio::test]
async fn timeout_is_retried() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted: Arc<Mutex<Vec<Instant>>> = Arc::default();
    let log = accepted.clone();
    tokio::spawn(async move {
        let mut n = 0;
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            log.lock().unwrap().push(Instant::now());
            n += 1;
            let first = n == 1;
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                let _ = sock.read(&mut buf).await;
                if first {
                    tokio::time::sleep(Duration::from_secs(5)).await;
                    return;
                }
                let body = ua_config(60).to_string();
                let resp = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = sock.write_all(resp.as_bytes()).await;
            });
        }
    });
    let mut o = with_org(opts(&format!("http://{addr}"), token("t")));
    o.request_timeout = Duration::from_millis(300);
    let client = Client::connect(o).await.unwrap();
    client
        .get_config("id-1", &AuthMethod::Universal)
        .await
        .unwrap();
    assert_eq!(client.stats().retries, 1);
    // The server's log: the retry came while the first attempt was still held (5 s), so the
    // client gave up on it after its timeout rather than waiting for the connection to end.
    let accepted = accepted.lock().unwrap().clone();
    assert_eq!(accepted.len(), 2);
    assert!(
        accepted[1] - accepted[0] < Duration::from_secs(5),
        "{:?}",
        accepted[1] - accepted[0]
    );
}

/// A server that refuses connections is Unreachable once the retries are used up.
#[tokio::test]
async fn refused_connection_is_unreachable() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut o = with_org(opts(&format!("http://127.0.0.1:{port}"), token("t")));
    o.max_retries = 1;
    let client = Client::connect(o).await.unwrap();
    let err = client
        .get_config("id-1", &AuthMethod::Universal)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unreachable);
    assert_eq!(client.stats().requests, 2);
}

/// A server that rejects every token (even fresh ones) does not cause a login per request:
/// after a few fruitless refreshes the session stops and reports an Auth error.
#[tokio::test]
async fn always_rejected_tokens_stop_refreshing() {
    let (base, srv) = serve(|s, n| match s.path.as_str() {
        LOGIN => standard(s, n),
        _ => reply(
            403,
            json!({"statusCode": 403, "error": "TokenError", "message": "invalid signature"}),
        ),
    })
    .await;
    let client = Client::connect(with_org(opts(&base, ua()))).await.unwrap();
    for i in 0..5 {
        let err = client
            .get_config(&format!("id-{i}"), &AuthMethod::Universal)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Auth, "{err}");
    }
    let logins = srv.requests("POST", LOGIN).len();
    assert!(logins <= 4, "{logins} logins");
}

/// A redirect is not followed (the bearer token never goes to another address): one request,
/// and the error names the target and says what to do.
#[tokio::test]
async fn redirects_are_reported_not_followed() {
    let (base, srv) = serve(|s, n| match s.path.as_str() {
        UA_PATH => Reply {
            headers: vec![("location", "https://elsewhere.example/api/x".into())],
            ..reply(301, json!({}))
        },
        _ => standard(s, n),
    })
    .await;
    let client = Client::connect(with_org(opts(&base, ua()))).await.unwrap();
    let err = client
        .get_config("id-1", &AuthMethod::Universal)
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("HTTP 301"), "{text}");
    assert!(
        text.contains("to https://elsewhere.example/api/x"),
        "{text}"
    );
    assert!(text.contains("does not follow redirects"), "{text}");
    assert_eq!(srv.requests("GET", UA_PATH).len(), 1);
}

/// A 408 (the server or a proxy timed out the connection before reading this request) is
/// retried like a 5xx.
#[tokio::test]
async fn request_timeout_408_is_retried() {
    let (base, srv) = serve(|s, n| match s.path.as_str() {
        UA_PATH if n == 0 => reply(408, json!({"message": "Request Timeout"})),
        UA_PATH => reply(200, ua_config(600)),
        _ => standard(s, n),
    })
    .await;
    let client = Client::connect(with_org(opts(&base, ua()))).await.unwrap();
    let cfg = client
        .get_config("id-1", &AuthMethod::Universal)
        .await
        .unwrap();
    assert_eq!(cfg.access_token_ttl, 600);
    assert_eq!(srv.requests("GET", UA_PATH).len(), 2);
    assert_eq!(client.stats().retries, 1);
}
