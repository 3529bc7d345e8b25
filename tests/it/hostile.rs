//! Hostile input: property tests over the decoders of what a server (or whoever sits in front
//! of it) can send — `AuthConfig::from_response`, `TrustedIp::from_json`/`parse`, and, through a
//! tiny axum server that answers with the generated body, the client's config, listing-item and
//! error-body decoding — plus the policy loader's edge cases the unit harness in
//! `src/policy/tests.rs` does not cover (integers out of range, CIDRs with host bits). Nothing
//! may panic; every refusal is an error that says what was wrong, and oversized answers are cut
//! off at the client's cap.
//!
//! The case counts keep the whole module to a few seconds.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use idguard::infisical::{Client, ConnectOptions, Credentials};
use idguard::model::{AuthConfig, AuthMethod, TrustedIp};
use idguard_sim::baseline_config;
use proptest::prelude::*;
use secrecy::SecretString;
use serde_json::{Map, Value, json};

// ---------------------------------------------------------------------------------------------
// Strategies

/// Any JSON value: big and negative integers, floats, long and odd strings, nested arrays and
/// objects (a few levels).
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<u64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f)
            .map(Value::Number)
            .unwrap_or(Value::Null)),
        "\\PC{0,40}".prop_map(Value::String),
        "[0-9a-f:./ ,]{0,30}".prop_map(Value::String),
        (1usize..5000).prop_map(|n| Value::String("x".repeat(n))),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            proptest::collection::btree_map("[a-zA-Z]{1,20}", inner, 0..8)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Field names the decoders look at, so mutations hit them.
const FIELDS: &[&str] = &[
    "accessTokenTTL",
    "accessTokenMaxTTL",
    "accessTokenNumUsesLimit",
    "accessTokenPeriod",
    "accessTokenTrustedIps",
    "clientSecretTrustedIps",
    "allowedUsernames",
    "allowedPrincipalArns",
    "boundAudiences",
    "allowedNamespaces",
    "identityId",
    "id",
];

/// A real config response of a random method with a few fields replaced by random JSON.
fn mutated_config() -> impl Strategy<Value = (AuthMethod, Value)> {
    (
        0usize..AuthMethod::KNOWN.len(),
        proptest::collection::vec((0usize..FIELDS.len(), json_value()), 1..4),
        any::<bool>(),
    )
        .prop_map(|(m, edits, drop_field)| {
            let method = AuthMethod::KNOWN[m].clone();
            let mut config = baseline_config(&idguard_sim::AuthMethod::parse(method.as_str()));
            if let Some(obj) = config.as_object_mut() {
                for (field, value) in edits {
                    if drop_field {
                        obj.remove(FIELDS[field]);
                    } else {
                        obj.insert(FIELDS[field].to_owned(), value);
                    }
                }
            }
            let mut wrapper = Map::new();
            wrapper.insert(method.wrapper_key().unwrap_or("x").to_owned(), config);
            (method, Value::Object(wrapper))
        })
}

/// Trusted-IP entries in both encodings, mostly almost-valid.
fn trusted_ip_json() -> impl Strategy<Value = Value> {
    prop_oneof![
        json_value(),
        (
            "[0-9a-f:.]{0,40}|10\\.0\\.0\\.[0-9]{1,4}|::ffff:[0-9.]{0,15}",
            prop_oneof![
                Just(Value::Null),
                any::<i64>().prop_map(|n| json!(n)),
                "[0-9]{0,25}".prop_map(Value::String),
                Just(json!(1e300)),
            ],
            prop_oneof![Just("ipv4"), Just("ipv6"), Just("bogus")],
        )
            .prop_map(
                |(addr, prefix, ty)| json!({"ipAddress": addr, "prefix": prefix,
                                                "type": ty})
            ),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    /// Random JSON of any shape, for every method: decoded or refused with a message.
    #[test]
    fn config_decoder_never_panics_on_random_json(
        m in 0usize..AuthMethod::KNOWN.len() + 1,
        body in json_value(),
    ) {
        let method = AuthMethod::KNOWN
            .get(m)
            .cloned()
            .unwrap_or_else(|| AuthMethod::parse("quantum-auth"));
        if let Err(e) = AuthConfig::from_response(&method, &body) {
            prop_assert!(!e.to_string().is_empty());
        }
        // The same value as the config itself, under the right wrapper.
        if let (Some(key), Value::Object(_)) = (method.wrapper_key(), &body) {
            let wrapped = json!({ key: body });
            if let Err(e) = AuthConfig::from_response(&method, &wrapped) {
                prop_assert!(!e.to_string().is_empty());
            }
        }
    }

    /// Real configs with fields replaced by hostile values (negative, huge, fractional, wrong
    /// types, long strings) or removed: decoded or refused with a message naming a field.
    #[test]
    fn config_decoder_never_panics_on_mutated_configs((method, body) in mutated_config()) {
        if let Err(e) = AuthConfig::from_response(&method, &body) {
            let text = e.to_string();
            prop_assert!(!text.is_empty());
            prop_assert!(text.len() < 2000, "error text is bounded: {} bytes", text.len());
        }
    }

    /// Trusted-IP entries: decoded into a valid network or refused with a message; a decoded
    /// entry's prefix fits its address family.
    #[test]
    fn trusted_ip_decoders_never_panic(value in trusted_ip_json(), text in "\\PC{0,60}|[0-9a-f:./]{0,50}") {
        match TrustedIp::from_json(&value) {
            Ok(ip) => {
                let net = ip.network();
                prop_assert!(net.prefix_len() <= net.max_prefix_len());
            }
            Err(e) => prop_assert!(!e.to_string().is_empty() && e.to_string().len() < 2000),
        }
        match TrustedIp::parse(&text) {
            Ok(ip) => {
                let net = ip.network();
                prop_assert!(net.prefix_len() <= net.max_prefix_len());
            }
            Err(e) => prop_assert!(!e.to_string().is_empty()),
        }
    }
}

/// Deep nesting, CIDRs with host bits and out-of-range prefixes in trusted IPs are decided
/// without panicking: host bits are kept as stored (the network is the truncated one),
/// impossible prefixes are errors.
#[test]
fn trusted_ip_edge_cases() {
    let ip = TrustedIp::parse("10.1.2.3/8").unwrap();
    assert_eq!(ip.network().to_string(), "10.0.0.0/8");
    for bad in [
        "10.0.0.0/33",
        "::/129",
        "10.0.0.0/-1",
        "10.0.0.0/99999999999999999999999",
        "10.0.0.0/",
        "/8",
        "",
    ] {
        assert!(TrustedIp::parse(bad).is_err(), "{bad}");
    }
    for bad in [
        json!({"ipAddress": "10.0.0.0", "prefix": 33}),
        json!({"ipAddress": "10.0.0.0", "prefix": -8}),
        json!({"ipAddress": "10.0.0.0", "prefix": 1e300}),
        json!({"ipAddress": "10.0.0.0", "prefix": "99999999999999999999"}),
        json!({"ipAddress": 10}),
        json!([["10.0.0.0/8"]]),
    ] {
        assert!(TrustedIp::from_json(&bad).is_err(), "{bad}");
    }
    // As deep as serde_json's parser lets a server's answer be (its recursion limit is 128;
    // deeper bodies are refused while parsing, see `deeply_nested_answers_are_refused`).
    let mut deep = json!("10.0.0.0/8");
    for _ in 0..120 {
        deep = json!([deep]);
    }
    assert!(TrustedIp::from_json(&deep).is_err());
    let body = json!({"identityUniversalAuth": {"accessTokenTrustedIps": deep}});
    assert!(AuthConfig::from_response(&AuthMethod::Universal, &body).is_err());
}

// ---------------------------------------------------------------------------------------------
// Through HTTP: a server that answers whatever the test sets.

#[derive(Clone)]
struct Canned {
    status: u16,
    body: Arc<Vec<u8>>,
    /// Stream the body in chunks without a Content-Length.
    chunked: bool,
}

struct Echo {
    addr: SocketAddr,
    answer: Arc<Mutex<Canned>>,
    task: tokio::task::JoinHandle<()>,
}

impl Echo {
    fn set(&self, status: u16, body: Vec<u8>, chunked: bool) {
        *self.answer.lock().unwrap() = Canned {
            status,
            body: Arc::new(body),
            chunked,
        };
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Echo {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn echo_server() -> Echo {
    let answer = Arc::new(Mutex::new(Canned {
        status: 200,
        body: Arc::new(b"{}".to_vec()),
        chunked: false,
    }));
    let shared = answer.clone();
    let app = Router::new().fallback(move || {
        let canned = shared.lock().unwrap().clone();
        async move { respond(canned) }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Echo { addr, answer, task }
}

fn respond(canned: Canned) -> Response {
    let status = StatusCode::from_u16(canned.status).unwrap_or(StatusCode::OK);
    let mut resp = if canned.chunked {
        let body = canned.body.clone();
        let chunks = futures::stream::iter(
            (0..body.len())
                .step_by(1 << 20)
                .map(move |i| {
                    let end = (i + (1 << 20)).min(body.len());
                    Ok::<_, std::io::Error>(axum::body::Bytes::copy_from_slice(&body[i..end]))
                })
                .collect::<Vec<_>>(),
        );
        (status, Body::from_stream(chunks)).into_response()
    } else {
        (status, canned.body.as_ref().clone()).into_response()
    };
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

/// A client with a ready token, a known org (so connecting sends nothing), no retries and a
/// short deadline.
async fn client_for(url: &str) -> Client {
    let mut opts = ConnectOptions::new(
        url,
        Credentials::Token(SecretString::from("hostile.test.token".to_owned())),
    );
    opts.org_id = Some("11111111-2222-3333-4444-555555555555".into());
    opts.max_retries = 0;
    opts.request_timeout = Duration::from_secs(5);
    opts.deadline = Some(Duration::from_secs(10));
    Client::connect(opts).await.unwrap()
}

const ID: &str = "6b1a3c4d-1111-4222-8333-944455556666";

/// Random statuses (no 429: its wait is the transport's business) and bodies: random bytes,
/// random JSON, or a listing page whose items are random JSON.
fn http_answer() -> impl Strategy<Value = (u16, Vec<u8>)> {
    let status = prop_oneof![
        Just(200u16),
        Just(200),
        Just(400),
        Just(401),
        Just(403),
        Just(404),
        Just(422),
        Just(500),
        Just(502),
    ];
    let body = prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..512),
        json_value().prop_map(|v| v.to_string().into_bytes()),
        (proptest::collection::vec(json_value(), 0..6), json_value()).prop_map(|(items, total)| {
            json!({"identities": items, "identityMemberships": [], "totalCount": total})
                .to_string()
                .into_bytes()
        }),
        json_value().prop_map(|m| {
            json!({"statusCode": 400, "error": "ValidationFailure", "message": m, "reqId": "r"})
                .to_string()
                .into_bytes()
        }),
    ];
    (status, body)
}

/// Random answers to a config GET and to listing pages: the client returns a config, a page,
/// or an error with a bounded one-line message; it never panics.
#[test]
fn client_decoders_never_panic_on_random_answers() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (echo, client) = rt.block_on(async {
        let echo = echo_server().await;
        let client = client_for(&echo.url()).await;
        (echo, client)
    });
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: 96,
        ..ProptestConfig::default()
    });
    runner
        .run(&http_answer(), |(status, body)| {
            echo.set(status, body, false);
            rt.block_on(async {
                for method in [AuthMethod::Universal, AuthMethod::Ldap] {
                    if let Err(e) = client.get_config(ID, &method).await {
                        let text = e.to_string();
                        prop_assert!(!text.is_empty() && text.len() < 2000, "{text}");
                        prop_assert!(!text.contains('\n') || text.len() < 2000);
                    }
                }
                let mut pager = client.identities();
                for _ in 0..3 {
                    match pager.next_page().await {
                        Ok(Some(page)) => {
                            prop_assert!(page.iter().all(|i| !i.id.is_empty()));
                        }
                        Ok(None) => break,
                        Err(e) => {
                            let text = e.to_string();
                            prop_assert!(!text.is_empty() && text.len() < 2000, "{text}");
                            break;
                        }
                    }
                }
                Ok(())
            })
        })
        .unwrap();
    drop(echo);
}

/// Answers larger than the client's caps are refused, not buffered: a 2 MiB config (1 MiB
/// cap, announced with Content-Length) and a 65 MiB listing page streamed without a length
/// (64 MiB cap) both fail with "larger than".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_answers_are_cut_off_at_the_cap() {
    let echo = echo_server().await;
    let client = client_for(&echo.url()).await;

    let mut config = br#"{"identityUniversalAuth": {"padding": ""#.to_vec();
    config.extend(std::iter::repeat_n(b'a', 2 << 20));
    config.extend(br#""}}"#);
    echo.set(200, config, false);
    let err = client
        .get_config(ID, &AuthMethod::Universal)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("larger than"), "{err}");

    echo.set(200, config_stream_body(), true);
    let err = client
        .get_config(ID, &AuthMethod::Universal)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("larger than"), "streamed config: {err}");

    let mut page = br#"{"totalCount": 1, "identities": [], "padding": ""#.to_vec();
    page.extend(std::iter::repeat_n(b' ', 65 << 20));
    page.extend(br#""}"#);
    echo.set(200, page, true);
    let mut pager = client.identities();
    let err = pager.next_page().await.unwrap_err().to_string();
    assert!(err.contains("larger than"), "{err}");
}

/// Answers nested 100 000 levels deep are refused by the parser's recursion limit, not by a
/// stack overflow.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deeply_nested_answers_are_refused() {
    let echo = echo_server().await;
    let client = client_for(&echo.url()).await;
    let depth = 100_000;
    let mut body = br#"{"identityUniversalAuth": "#.to_vec();
    body.extend(std::iter::repeat_n(b'[', depth));
    body.extend(std::iter::repeat_n(b']', depth));
    body.push(b'}');
    echo.set(200, body.clone(), false);
    let err = client
        .get_config(ID, &AuthMethod::Universal)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("cannot decode"), "{err}");
    echo.set(500, body, false);
    let err = client
        .get_config(ID, &AuthMethod::Universal)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("500") && err.len() < 2000, "{err}");
}

/// 3 MiB of JSON whitespace, streamed.
fn config_stream_body() -> Vec<u8> {
    let mut body = vec![b' '; 3 << 20];
    body.extend(b"{}");
    body
}

// ---------------------------------------------------------------------------------------------
// Policy loader: what src/policy/tests.rs does not try.

/// Integers out of range, durations that overflow, CIDRs with host bits or impossible prefixes,
/// and control characters: a validated policy or positioned diagnostics, never a panic.
#[test]
fn policy_loader_handles_out_of_range_values() {
    let rule = |body: &str| format!("version: 1\nrules:\n  - id: r\n    severity: high\n{body}");
    let cases = [
        rule("    access_token: { max_uses: 99999999999999999999999999999 }\n"),
        rule("    access_token: { max_uses: -1 }\n"),
        rule("    access_token: { max_uses: 1.5 }\n"),
        rule("    access_token: { max_uses: .inf }\n"),
        rule("    access_token: { max_ttl: 99999999999999999999d }\n"),
        rule("    access_token: { max_ttl: 9223372036854775807s }\n"),
        rule("    access_token: { max_ttl: -5m }\n"),
        rule("    trusted_ips: { allowed_cidrs: [10.0.0.0/33] }\n"),
        rule("    trusted_ips: { allowed_cidrs: [\"::/200\"] }\n"),
        rule("    trusted_ips: { allowed_cidrs: [10.0.0.0/99999999999999999999] }\n"),
        rule("    trusted_ips: { allowed_cidrs: [\"10.0.0.0/8\\u0000\"] }\n"),
        "version: 99999999999999999999999\nrules: []\n".to_owned(),
        "version: -1\nrules: []\n".to_owned(),
    ];
    for text in &cases {
        match idguard::policy::parse(text, "hostile.yaml") {
            Ok(p) => panic!("accepted {text:?}: {p:?}"),
            Err(d) => assert!(
                !d.is_empty() && d.iter().all(|d| d.line >= 1 && d.column >= 1),
                "{text:?}: {d:?}"
            ),
        }
    }
    // Host bits are normalised, not refused.
    let ok = rule("    trusted_ips: { allowed_cidrs: [10.1.2.3/8] }\n");
    let policy = idguard::policy::parse(&ok, "hostile.yaml").expect("host bits are accepted");
    assert_eq!(policy.rules.len(), 1);
}

// ---------------------------------------------------------------------------------------------
// Secrets and clear-text server fields never reach output or files.

mod secrets {
    use std::path::{Path, PathBuf};

    use idguard_sim::{self as sim, AuthMethod, IdentitySpec, Sim, SimConfig, baseline_config};
    use serde_json::{Value, json};

    use crate::support::{idguard, policy_path, start_sim};

    /// The client secret the simulator accepts in these tests.
    const SECRET: &str = "cs-SECRETMARK-3b9f1e0a7c5d42e8a6f1";

    /// Every clear-text marker value planted in server configs holds this.
    const MARK: &str = "CLEARTEXTMARK";

    fn pem(kind: &str, body: &str) -> Value {
        json!(format!(
            "-----BEGIN {kind}-----\n{MARK}{body}\n-----END {kind}-----"
        ))
    }

    /// Identities whose configs carry clear-text secrets and certificates, each with a TTL
    /// violation so they are planned, written, journalled and rolled back.
    fn plant(sim: &Sim) {
        let add = |name: &str, method: AuthMethod, fields: Value| {
            let mut config = baseline_config(&method);
            config["accessTokenTTL"] = json!(7200);
            config["accessTokenMaxTTL"] = json!(86400);
            for (k, v) in fields.as_object().unwrap() {
                config[k] = v.clone();
            }
            sim.add_identity(IdentitySpec {
                name: name.to_owned(),
                project_id: None,
                methods: vec![(method, Some(config))],
            });
        };
        add(
            "sec-ldap",
            AuthMethod::Ldap,
            json!({"bindPass": format!("{MARK}-bindpass"),
                   "ldapCaCertificate": pem("CERTIFICATE", "ldapca")}),
        );
        add(
            "sec-k8s",
            AuthMethod::Kubernetes,
            json!({"tokenReviewerJwt": format!("{MARK}-reviewer-jwt"),
                   "caCert": pem("CERTIFICATE", "k8sca")}),
        );
        add(
            "sec-jwt-static",
            AuthMethod::Jwt,
            json!({"configurationType": "static", "jwksUrl": "", "jwksCaCert": "",
                   "publicKeys": [pem("PUBLIC KEY", "pubkey")]}),
        );
        add(
            "sec-jwt-jwks",
            AuthMethod::Jwt,
            json!({"configurationType": "jwks",
                   "jwksUrl": "https://idp.corp.example/.well-known/jwks.json",
                   "jwksCaCert": pem("CERTIFICATE", "jwksca"), "publicKeys": []}),
        );
        add(
            "sec-oidc",
            AuthMethod::Oidc,
            json!({"caCert": pem("CERTIFICATE", "oidcca")}),
        );
        add(
            "sec-tls",
            AuthMethod::TlsCert,
            json!({"caCertificate": pem("CERTIFICATE", "tlsca")}),
        );
    }

    /// How the runs authenticate.
    enum Auth {
        Universal,
        Token(String),
    }

    struct Ran {
        code: i32,
        stdout: String,
        stderr: String,
    }

    async fn run(url: &str, auth: &Auth, args: Vec<String>) -> Ran {
        let mut cmd = idguard();
        cmd.args(&args)
            .args(["--log-level", "debug"])
            .env("INFISICAL_DOMAIN", url)
            .stdin(std::process::Stdio::null());
        match auth {
            Auth::Universal => {
                cmd.env("INFISICAL_UNIVERSAL_AUTH_CLIENT_ID", sim::DEMO_CLIENT_ID)
                    .env("INFISICAL_UNIVERSAL_AUTH_CLIENT_SECRET", SECRET);
            }
            Auth::Token(t) => {
                cmd.env("INFISICAL_TOKEN", t);
            }
        }
        let out = tokio::task::spawn_blocking(move || cmd.output().expect("binary runs"))
            .await
            .unwrap();
        Ran {
            code: out.status.code().expect("exited"),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    async fn login(url: &str) -> String {
        let client = reqwest::Client::builder().no_proxy().build().unwrap();
        let answer: Value = client
            .post(format!("{url}/api/v1/auth/universal-auth/login"))
            .json(&json!({"clientId": sim::DEMO_CLIENT_ID, "clientSecret": SECRET}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        answer["accessToken"].as_str().unwrap().to_owned()
    }

    fn files(dir: &Path) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let text = String::from_utf8_lossy(&std::fs::read(e.path()).unwrap()).into_owned();
            out.push((name, text));
        }
        out
    }

    fn s(p: &Path) -> String {
        p.display().to_string()
    }

    /// `audit`, `remediate --apply --yes` and `rollback --apply --yes` at `--log-level debug`,
    /// once with universal auth and once with `INFISICAL_TOKEN`: neither the client secret nor
    /// the token appears in stdout, stderr or any file written; the clear-text fields Infisical
    /// returns (LDAP `bindPass`, Kubernetes `tokenReviewerJwt`, CA certificates, JWT public
    /// keys) appear in no report and no journal.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn secrets_and_clear_text_fields_never_leak() {
        for use_token in [false, true] {
            let server = start_sim(SimConfig {
                identities: 4,
                client_secret: SECRET.to_owned(),
                ..SimConfig::default()
            })
            .await;
            let sim = server.handle();
            plant(&sim);
            let url = server.url();
            let token = login(&url).await;
            let auth = if use_token {
                Auth::Token(token.clone())
            } else {
                Auth::Universal
            };
            let tmp = tempfile::tempdir().unwrap();
            let (audit_dir, fix_dir, undo_dir): (PathBuf, PathBuf, PathBuf) = (
                tmp.path().join("audit"),
                tmp.path().join("fix"),
                tmp.path().join("undo"),
            );
            let policy = s(&policy_path("example.yaml"));
            let mut runs = Vec::new();
            let a = run(
                &url,
                &auth,
                vec![
                    "audit".into(),
                    "--policy".into(),
                    policy.clone(),
                    "--out".into(),
                    s(&audit_dir),
                ],
            )
            .await;
            assert!(matches!(a.code, 0 | 1), "audit: {}", a.stderr);
            runs.push(a);
            let r = run(
                &url,
                &auth,
                [
                    "remediate",
                    "--policy",
                    &policy,
                    "--apply",
                    "--yes",
                    "--max-changes",
                    "100",
                    "--out",
                    &s(&fix_dir),
                ]
                .iter()
                .map(|x| x.to_string())
                .collect(),
            )
            .await;
            assert!(matches!(r.code, 0 | 1), "remediate: {}", r.stderr);
            runs.push(r);
            let journal = fix_dir.join("journal.jsonl");
            let journal_text = std::fs::read_to_string(&journal).unwrap();
            for name in [
                "sec-ldap",
                "sec-k8s",
                "sec-jwt-static",
                "sec-jwt-jwks",
                "sec-oidc",
                "sec-tls",
            ] {
                assert!(
                    journal_text.contains(name),
                    "{name} was remediated:\n{journal_text}"
                );
            }
            let b = run(
                &url,
                &auth,
                vec![
                    "rollback".into(),
                    s(&journal),
                    "--apply".into(),
                    "--yes".into(),
                    "--out".into(),
                    s(&undo_dir),
                ],
            )
            .await;
            assert_eq!(b.code, 0, "rollback: {}", b.stderr);
            runs.push(b);
            assert!(
                runs.iter()
                    .any(|r| r.stderr.contains("DEBUG") || r.stderr.contains("debug")),
                "debug logging was on"
            );

            for (i, r) in runs.iter().enumerate() {
                for (what, text) in [("stdout", &r.stdout), ("stderr", &r.stderr)] {
                    assert!(
                        !text.contains(SECRET),
                        "run {i} {what} holds the client secret"
                    );
                    assert!(!text.contains(&token), "run {i} {what} holds the token");
                    assert!(
                        !text.contains(MARK),
                        "run {i} {what} holds a clear-text field"
                    );
                }
            }
            for dir in [&audit_dir, &fix_dir, &undo_dir] {
                for (name, text) in files(dir) {
                    assert!(!text.contains(SECRET), "{name} holds the client secret");
                    assert!(!text.contains(&token), "{name} holds the token");
                    if name.starts_with("report") || name.starts_with("journal") {
                        assert!(
                            !text.contains(MARK),
                            "{} {name} holds a clear-text server field",
                            dir.display()
                        );
                    }
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Files: 0600, and a finished run's folder is never written again.

mod files {
    use std::os::unix::fs::PermissionsExt;
    use std::path::Path;

    use idguard_sim::{self as sim, SimConfig};

    use crate::support::{idguard, policy_path, start_sim};

    async fn run(url: &str, args: Vec<String>) -> (i32, String) {
        let mut cmd = idguard();
        cmd.args(&args)
            .env("INFISICAL_DOMAIN", url)
            .env("INFISICAL_UNIVERSAL_AUTH_CLIENT_ID", sim::DEMO_CLIENT_ID)
            .env(
                "INFISICAL_UNIVERSAL_AUTH_CLIENT_SECRET",
                sim::DEMO_CLIENT_SECRET,
            )
            .stdin(std::process::Stdio::null());
        let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
            .await
            .unwrap();
        (
            out.status.code().unwrap(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>, u32)> {
        let mut v: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .flatten()
            .map(|e| {
                let meta = e.metadata().unwrap();
                (
                    e.file_name().to_string_lossy().into_owned(),
                    std::fs::read(e.path()).unwrap(),
                    meta.permissions().mode() & 0o777,
                )
            })
            .collect();
        v.sort();
        v
    }

    /// Reports, plans and journals are created 0600; `--out` naming a finished run's folder is
    /// refused (exit 74) by audit, remediate and apply, and the folder's files stay as they
    /// were.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn files_are_private_and_never_overwritten() {
        let server = start_sim(SimConfig {
            identities: 20,
            ..SimConfig::default()
        })
        .await;
        let url = server.url();
        let tmp = tempfile::tempdir().unwrap();
        let policy = policy_path("example.yaml").display().to_string();
        let audit_dir = tmp.path().join("audit").display().to_string();
        let fix_dir = tmp.path().join("fix").display().to_string();
        let argv = |parts: &[&str]| parts.iter().map(|p| p.to_string()).collect::<Vec<_>>();

        let (code, err) = run(
            &url,
            argv(&["audit", "--policy", &policy, "--out", &audit_dir]),
        )
        .await;
        assert!(matches!(code, 0 | 1), "{err}");
        let (code, err) = run(
            &url,
            argv(&[
                "remediate",
                "--policy",
                &policy,
                "--apply",
                "--yes",
                "--max-changes",
                "1000",
                "--out",
                &fix_dir,
            ]),
        )
        .await;
        assert!(matches!(code, 0 | 1), "{err}");

        let audit_files = snapshot(Path::new(&audit_dir));
        let fix_files = snapshot(Path::new(&fix_dir));
        let names: Vec<&str> = fix_files.iter().map(|(n, _, _)| n.as_str()).collect();
        for want in ["report.json", "report.csv", "plan.json", "journal.jsonl"] {
            assert!(names.contains(&want), "{want} written: {names:?}");
        }
        for (name, _, mode) in audit_files.iter().chain(fix_files.iter()) {
            assert_eq!(*mode, 0o600, "{name} has mode {mode:o}");
        }

        let again = [
            argv(&["audit", "--policy", &policy, "--out", &audit_dir]),
            argv(&["audit", "--policy", &policy, "--out", &fix_dir]),
            argv(&[
                "remediate",
                "--policy",
                &policy,
                "--apply",
                "--yes",
                "--out",
                &fix_dir,
            ]),
            argv(&[
                "apply",
                &format!("{fix_dir}/plan.json"),
                "--yes",
                "--out",
                &fix_dir,
            ]),
        ];
        for args in again {
            let (code, err) = run(&url, args.clone()).await;
            assert_eq!(code, 74, "{args:?} reused a finished run's folder: {err}");
        }
        assert_eq!(snapshot(Path::new(&audit_dir)), audit_files);
        assert_eq!(snapshot(Path::new(&fix_dir)), fix_files);
    }
}
