//! The simulated Infisical, driven over HTTP with reqwest: auth, listings, per-method GET and
//! PATCH with Infisical's traps, rate limiting, legacy mode, faults and the generator.
// Helpers shared by the tests unwrap like the tests do.
#![allow(clippy::unwrap_used)]

use std::collections::HashSet;
use std::time::Duration;

use idguard_sim::{
    self as sim, AuditLogs, AuthMethod, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, FaultKind, Faults,
    IdentitySpec, LastLogin, PlantedKind, RateLimit, SimConfig, SimServer, SpiffeApi, UsageActor,
    UsageEvent,
};
use serde_json::{Value, json};

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

async fn login(c: &reqwest::Client, url: &str) -> String {
    let r = c
        .post(format!("{url}/api/v1/auth/universal-auth/login"))
        .json(&json!({"clientId": DEMO_CLIENT_ID, "clientSecret": DEMO_CLIENT_SECRET}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    body["accessToken"].as_str().unwrap().to_owned()
}

async fn start(cfg: SimConfig) -> (SimServer, reqwest::Client, String) {
    let server = sim::start(cfg).await.unwrap();
    let c = client();
    let token = login(&c, &server.url()).await;
    (server, c, token)
}

async fn get(c: &reqwest::Client, url: &str, token: &str) -> (u16, Value) {
    let r = c.get(url).bearer_auth(token).send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn patch(c: &reqwest::Client, url: &str, token: &str, body: Value) -> (u16, Value) {
    let r = c
        .patch(url)
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn search(c: &reqwest::Client, base: &str, token: &str, body: Value) -> (u16, Value) {
    let r = c
        .post(format!("{base}/api/v2/identities/search"))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

fn config_url(base: &str, method: &AuthMethod, id: &str) -> String {
    format!("{base}/api/v1/auth/{}/identities/{id}", method.as_str())
}

/// An identity with one method whose id the test knows.
fn one(server: &SimServer, method: AuthMethod, cfg: Option<Value>) -> String {
    server.handle().add_identity(IdentitySpec {
        name: format!("test-{}", method.as_str()),
        project_id: None,
        methods: vec![(method, cfg)],
    })
}

/// Login works with the demo credential, refuses a bad secret with 401 and a bad body with 422.
#[tokio::test]
async fn login_ok_bad_secret_and_bad_body() {
    let server = sim::start(SimConfig::default()).await.unwrap();
    let c = client();
    let url = format!("{}/api/v1/auth/universal-auth/login", server.url());
    let ok: Value = c
        .post(&url)
        .json(&json!({"clientId": DEMO_CLIENT_ID, "clientSecret": DEMO_CLIENT_SECRET}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ok["tokenType"], "Bearer");
    assert_eq!(ok["accessToken"].as_str().unwrap().split('.').count(), 3);
    let bad = c
        .post(&url)
        .json(&json!({"clientId": DEMO_CLIENT_ID, "clientSecret": "wrong"}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 401);
    let body: Value = bad.json().await.unwrap();
    assert_eq!(body["message"], "Invalid credentials");
    let invalid = c
        .post(&url)
        .json(&json!({"clientId": 5}))
        .send()
        .await
        .unwrap();
    assert_eq!(invalid.status(), 422);
    let body: Value = invalid.json().await.unwrap();
    assert_eq!(body["error"], "ValidationFailure");
    assert!(body["message"].as_array().unwrap().len() >= 2);
    // Two more failures lock the identity out, even for the right secret.
    for _ in 0..2 {
        c.post(&url)
            .json(&json!({"clientId": DEMO_CLIENT_ID, "clientSecret": "wrong"}))
            .send()
            .await
            .unwrap();
    }
    let locked = c
        .post(&url)
        .json(&json!({"clientId": DEMO_CLIENT_ID, "clientSecret": DEMO_CLIENT_SECRET}))
        .send()
        .await
        .unwrap();
    assert_eq!(locked.status(), 401);
    let body: Value = locked.json().await.unwrap();
    assert!(body["message"].as_str().unwrap().contains("locked"));
}

/// Expired and revoked tokens get 403 TokenError; a missing token 401; renew gives a new token.
#[tokio::test]
async fn token_expiry_and_renew() {
    let (server, c, token) = start(SimConfig::default()).await;
    let details = format!("{}/api/v1/identities/details", server.url());
    let (status, body) = get(&c, &details, &token).await;
    assert_eq!(status, 200);
    assert_eq!(
        body["identityDetails"]["organization"]["id"],
        server.handle().org_id()
    );
    let r = c.get(&details).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let renewed: Value = c
        .post(format!("{}/api/v1/auth/token/renew", server.url()))
        .json(&json!({"accessToken": token}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let new_token = renewed["accessToken"].as_str().unwrap().to_owned();
    assert_ne!(new_token, token);
    server.handle().expire_all_tokens();
    let (status, body) = get(&c, &details, &new_token).await;
    assert_eq!(status, 403);
    assert_eq!(body["error"], "TokenError");
    assert_eq!(
        body["message"],
        "Your token has expired. Please re-authenticate."
    );
    let fresh = login(&c, &server.url()).await;
    server.handle().revoke_all_tokens();
    let (status, _) = get(&c, &details, &fresh).await;
    assert_eq!(status, 403);
}

/// Both listings page through everything in name order; project-scoped identities appear only
/// in v2 search with the project scope; limits are enforced.
#[tokio::test]
async fn listings_paginate_and_scope() {
    let (server, c, token) = start(SimConfig {
        identities: 230,
        ..SimConfig::default()
    })
    .await;
    let sim = server.handle();
    let base = server.url();
    let project_ids: HashSet<String> = sim
        .identity_ids()
        .into_iter()
        .filter(|id| sim.project_id(id).is_some())
        .collect();
    assert!(!project_ids.is_empty());
    // v2 search, default scope: organization only.
    let mut names = Vec::new();
    let mut seen = HashSet::new();
    let mut offset = 0;
    loop {
        let (status, body) =
            search(&c, &base, &token, json!({"limit": 100, "offset": offset})).await;
        assert_eq!(status, 200);
        let items = body["identities"].as_array().unwrap();
        for it in items {
            names.push(it["identity"]["name"].as_str().unwrap().to_owned());
            seen.insert(it["identityId"].as_str().unwrap().to_owned());
            assert!(it["identity"]["authMethods"].is_array());
        }
        offset += 100;
        if offset >= body["totalCount"].as_u64().unwrap() as usize {
            break;
        }
    }
    assert_eq!(seen.len(), 230 - project_ids.len());
    assert!(seen.is_disjoint(&project_ids));
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);
    // Both scopes: everyone.
    let (_, body) = search(
        &c,
        &base,
        &token,
        json!({"limit": 100, "scope": ["organization", "project"]}),
    )
    .await;
    assert_eq!(body["totalCount"], 230);
    let (_, body) = search(&c, &base, &token, json!({"scope": ["project"]})).await;
    assert_eq!(
        body["totalCount"].as_u64().unwrap() as usize,
        project_ids.len()
    );
    assert_eq!(body["identities"][0]["scope"], "project");
    // Validation.
    for bad in [
        json!({"limit": 101}),
        json!({"limit": 0}),
        json!({"offset": -1}),
        json!({"scope": []}),
        json!({"scope": ["galaxy"]}),
        json!({"limit": "10"}),
    ] {
        let (status, body) = search(&c, &base, &token, bad.clone()).await;
        assert_eq!(status, 422, "{bad}");
        assert!(body["message"].is_array());
    }
    // Name filters.
    let name = sim.identity_name(seen.iter().next().unwrap()).unwrap();
    let (status, body) = search(
        &c,
        &base,
        &token,
        json!({"search": {"name": {"$eq": name}}}),
    )
    .await;
    assert_eq!(status, 200);
    assert!(body["totalCount"].as_u64().unwrap() >= 1);
    assert!(
        body["identities"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["identity"]["name"] == name.as_str())
    );
    let (status, _) = search(&c, &base, &token, json!({"search": {"name": "a;b"}})).await;
    assert_eq!(status, 422);
    // Org memberships: skips project-scoped identities.
    let org = sim.org_id();
    let mut got = HashSet::new();
    let mut offset = 0;
    loop {
        let (status, body) = get(
            &c,
            &format!(
                "{base}/api/v2/organizations/{org}/identity-memberships?limit=64&offset={offset}"
            ),
            &token,
        )
        .await;
        assert_eq!(status, 200);
        let items = body["identityMemberships"].as_array().unwrap();
        for it in items {
            got.insert(it["identity"]["id"].as_str().unwrap().to_owned());
        }
        offset += 64;
        if items.is_empty() || offset >= body["totalCount"].as_u64().unwrap() as usize {
            break;
        }
    }
    assert_eq!(got, seen);
    let (status, _) = get(
        &c,
        &format!("{base}/api/v2/organizations/{org}/identity-memberships?limit=20001"),
        &token,
    )
    .await;
    assert_eq!(status, 422);
    let (status, _) = get(
        &c,
        &format!(
            "{base}/api/v2/organizations/3c90c3cc-0d44-4b50-8888-8dd25736052a/identity-memberships"
        ),
        &token,
    )
    .await;
    assert_eq!(status, 403);
}

/// Every method's GET answers under its wrapper key; unconfigured methods give 404 or 400.
#[tokio::test]
async fn get_wrapper_keys_and_not_configured() {
    let (server, c, token) = start(SimConfig::default()).await;
    let sim = server.handle();
    let base = server.url();
    let mut covered = HashSet::new();
    for id in sim.identity_ids() {
        for m in sim.auth_methods(&id) {
            if covered.insert(m.clone()) {
                let (status, body) = get(&c, &config_url(&base, &m, &id), &token).await;
                assert_eq!(status, 200, "{m}");
                let inner = &body[&*m.wrapper_key()];
                assert!(inner["accessTokenTTL"].is_u64(), "{m}: {body}");
                assert_eq!(Some(inner.clone()), sim.config_json(&id, &m));
            }
        }
    }
    assert_eq!(covered.len(), 13);
    let token_only = one(&server, AuthMethod::Token, None);
    for (m, want) in [
        (AuthMethod::Universal, 404),
        (AuthMethod::Kubernetes, 404),
        (AuthMethod::Oci, 400),
        (AuthMethod::Aws, 400),
        (AuthMethod::Jwt, 400),
    ] {
        let (status, body) = get(&c, &config_url(&base, &m, &token_only), &token).await;
        assert_eq!(status, want, "{m}");
        assert!(body["message"].is_string());
    }
    let (status, _) = get(
        &c,
        &config_url(
            &base,
            &AuthMethod::Token,
            "3c90c3cc-0d44-4b50-8888-8dd25736052a",
        ),
        &token,
    )
    .await;
    assert_eq!(status, 404);
    // PATCH on a missing method: universal auth looks the row up first (404), GCP checks the
    // identity's methods (400).
    let (status, _) = patch(
        &c,
        &config_url(&base, &AuthMethod::Universal, &token_only),
        &token,
        json!({"accessTokenTTL": 60}),
    )
    .await;
    assert_eq!(status, 404);
    let (status, _) = patch(
        &c,
        &config_url(&base, &AuthMethod::Gcp, &token_only),
        &token,
        json!({"accessTokenTTL": 60}),
    )
    .await;
    assert_eq!(status, 400);
    // The identity endpoint has the double nesting.
    let (status, body) = get(
        &c,
        &format!("{base}/api/v1/identities/{token_only}"),
        &token,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        body["identity"]["identity"]["authMethods"],
        json!(["token-auth"])
    );
}

/// The PATCH traps: AWS omission empties lists, OCI omission nulls usernames, JWT omission
/// resets the CA cert, required fields, TTL checks, trusted-IP rules.
#[tokio::test]
async fn patch_traps() {
    let (server, c, token) = start(SimConfig::default()).await;
    let sim = server.handle();
    let base = server.url();

    let aws = one(&server, AuthMethod::Aws, None);
    let url = config_url(&base, &AuthMethod::Aws, &aws);
    let before = sim.config_json(&aws, &AuthMethod::Aws).unwrap();
    assert_ne!(before["allowedPrincipalArns"], "");
    let (status, body) = patch(&c, &url, &token, json!({"accessTokenTTL": 600, "bogus": 1})).await;
    assert_eq!(status, 200);
    assert_eq!(body["identityAwsAuth"]["allowedPrincipalArns"], "");
    assert_eq!(body["identityAwsAuth"]["allowedAccountIds"], "");
    assert!(body["identityAwsAuth"].get("bogus").is_none());
    let (status, body) = patch(
        &c,
        &url,
        &token,
        json!({"allowedPrincipalArns": "arn:aws:iam::111122223333:role/a,arn:aws:iam::111122223333:role/b"}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        body["identityAwsAuth"]["allowedPrincipalArns"],
        "arn:aws:iam::111122223333:role/a, arn:aws:iam::111122223333:role/b"
    );
    let (status, _) = patch(&c, &url, &token, json!({"allowedAccountIds": "1234"})).await;
    assert_eq!(status, 422);

    let oci = one(&server, AuthMethod::Oci, None);
    let url = config_url(&base, &AuthMethod::Oci, &oci);
    let tenancy = sim.config_json(&oci, &AuthMethod::Oci).unwrap()["tenancyOcid"].clone();
    let (status, body) = patch(&c, &url, &token, json!({"accessTokenTTL": 600})).await;
    assert_eq!(status, 422, "missing tenancyOcid");
    assert_eq!(body["message"][0]["path"], json!(["tenancyOcid"]));
    let (status, body) = patch(&c, &url, &token, json!({"tenancyOcid": tenancy})).await;
    assert_eq!(status, 200);
    assert_eq!(body["identityOciAuth"]["allowedUsernames"], Value::Null);
    let (status, _) = patch(
        &c,
        &url,
        &token,
        json!({"tenancyOcid": "ocid1.user.oc1..x"}),
    )
    .await;
    assert_eq!(status, 422);

    let jwt = one(&server, AuthMethod::Jwt, None);
    let url = config_url(&base, &AuthMethod::Jwt, &jwt);
    sim.set_config_field(
        &jwt,
        &AuthMethod::Jwt,
        "jwksCaCert",
        json!("-----BEGIN CERTIFICATE-----"),
    );
    let (status, _) = patch(&c, &url, &token, json!({"accessTokenTTL": 600})).await;
    assert_eq!(status, 422, "missing configurationType");
    let (status, body) = patch(
        &c,
        &url,
        &token,
        json!({"configurationType": "jwks", "jwksUrl": "https://auth.corp.example/jwks"}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["identityJwtAuth"]["jwksCaCert"], "");
    assert_eq!(body["identityJwtAuth"]["publicKeys"], json!([]));
    let (status, _) = patch(&c, &url, &token, json!({"configurationType": "static"})).await;
    assert_eq!(status, 422);

    // TTL rules on a config with MaxTTL 86400.
    let tok = one(
        &server,
        AuthMethod::Token,
        Some(json!({"accessTokenTTL": 3600, "accessTokenMaxTTL": 86400,
                    "accessTokenNumUsesLimit": 0, "accessTokenTrustedIps": []})),
    );
    let url = config_url(&base, &AuthMethod::Token, &tok);
    let (status, body) = patch(&c, &url, &token, json!({"accessTokenMaxTTL": 7200})).await;
    assert_eq!(status, 400, "MaxTTL alone lowering: {body}");
    let (status, body) = patch(
        &c,
        &url,
        &token,
        json!({"accessTokenTTL": 7200, "accessTokenMaxTTL": 3600}),
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(body["message"][0]["code"], "custom");
    let (status, _) = patch(
        &c,
        &url,
        &token,
        json!({"accessTokenTTL": 600, "accessTokenMaxTTL": 3600}),
    )
    .await;
    assert_eq!(status, 200);
    let (status, _) = patch(&c, &url, &token, json!({"accessTokenTTL": 315360001})).await;
    assert_eq!(status, 422);
    // Trusted IPs: empty list is a schema error, a bad address a service error.
    let (status, _) = patch(&c, &url, &token, json!({"accessTokenTrustedIps": []})).await;
    assert_eq!(status, 422);
    let (status, _) = patch(
        &c,
        &url,
        &token,
        json!({"accessTokenTrustedIps": [{"ipAddress": "10.0.0.0/33"}]}),
    )
    .await;
    assert_eq!(status, 400);
    // Round trip: the address part is kept as given.
    let (status, body) = patch(
        &c,
        &url,
        &token,
        json!({"accessTokenTrustedIps": [{"ipAddress": "10.1.2.3/8"}, {"ipAddress": "10.9.9.9"},
                                         {"ipAddress": "fd00::/8"}]}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        body["identityTokenAuth"]["accessTokenTrustedIps"],
        json!([{"ipAddress": "10.1.2.3", "type": "ipv4", "prefix": 8},
               {"ipAddress": "10.9.9.9", "type": "ipv4"},
               {"ipAddress": "fd00::", "type": "ipv6", "prefix": 8}])
    );
    // accessTokenPeriod is universal-auth only: dropped elsewhere.
    let (status, body) = patch(
        &c,
        &url,
        &token,
        json!({"accessTokenPeriod": 60, "accessTokenNumUsesLimit": 5}),
    )
    .await;
    assert_eq!(status, 200);
    assert!(body["identityTokenAuth"].get("accessTokenPeriod").is_none());
    // GUESS: an empty body fails like on older servers.
    let (status, _) = patch(&c, &url, &token, json!({})).await;
    assert_eq!(status, 500);
}

/// Without the IP-allowlisting plan feature, only the open ranges are accepted.
#[tokio::test]
async fn plan_restriction_on_trusted_ips() {
    let (server, c, token) = start(SimConfig {
        ip_allowlisting: false,
        ..SimConfig::default()
    })
    .await;
    let id = one(&server, AuthMethod::Universal, None);
    let url = config_url(&server.url(), &AuthMethod::Universal, &id);
    let (status, body) = patch(
        &c,
        &url,
        &token,
        json!({"clientSecretTrustedIps": [{"ipAddress": "10.0.0.0/8"}]}),
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("plan restriction")
    );
    let (status, _) = patch(
        &c,
        &url,
        &token,
        json!({"clientSecretTrustedIps": [{"ipAddress": "0.0.0.0/0"}, {"ipAddress": "::/0"}]}),
    )
    .await;
    assert_eq!(status, 200);
}

/// Past the read limit the server answers 429 with headers and the "try again in N seconds" text.
#[tokio::test]
async fn rate_limit_429_with_headers() {
    let (server, c, token) = start(SimConfig {
        rate_limit: Some(RateLimit {
            reads: 3,
            writes: 10,
            window: Duration::from_secs(30),
            retry_after_header: true,
        }),
        ..SimConfig::default()
    })
    .await;
    let url = format!("{}/api/v1/identities/details", server.url());
    // Unauthenticated calls fail before the route limit counts them.
    for _ in 0..5 {
        let r = c.get(&url).send().await.unwrap();
        assert_eq!(r.status(), 401);
    }
    for i in 0..3 {
        let r = c.get(&url).bearer_auth(&token).send().await.unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(
            r.headers()["x-ratelimit-remaining"],
            (2 - i).to_string().as_str()
        );
    }
    let r = c.get(&url).bearer_auth(&token).send().await.unwrap();
    assert_eq!(r.status(), 429);
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=30).contains(&retry));
    assert_eq!(r.headers()["x-ratelimit-limit"], "3");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"], "RateLimitExceeded");
    assert_eq!(body["statusCode"], 429);
    assert!(body["reqId"].is_string());
    let msg = body["message"].as_str().unwrap();
    assert!(
        msg.starts_with("Rate limit exceeded. Please try again in ") && msg.ends_with(" seconds"),
        "{msg}"
    );
    let log = server.handle().request_log();
    assert_eq!(log.iter().filter(|r| r.status == 429).count(), 1);
    assert!(log.iter().all(|r| r.at < Duration::from_secs(60)));
    // Writes have their own window.
    let r = c
        .post(format!("{}/api/v1/auth/token/renew", server.url()))
        .json(&json!({"accessToken": token}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

/// Legacy mode: no v2 search, no details, `authMethod` in listings, 401 validation failures.
#[tokio::test]
async fn legacy_mode() {
    let (server, c, token) = start(SimConfig {
        legacy: true,
        ..SimConfig::default()
    })
    .await;
    let base = server.url();
    let (status, body) = search(&c, &base, &token, json!({})).await;
    assert_eq!(status, 404);
    assert_eq!(
        body["message"],
        "Route POST:/api/v2/identities/search not found"
    );
    let (status, _) = get(&c, &format!("{base}/api/v1/identities/details"), &token).await;
    assert_eq!(status, 500);
    let org = server.handle().org_id();
    let (status, body) = get(
        &c,
        &format!("{base}/api/v2/organizations/{org}/identity-memberships?limit=200"),
        &token,
    )
    .await;
    assert_eq!(status, 200);
    let items = body["identityMemberships"].as_array().unwrap();
    assert!(!items.is_empty());
    for it in items {
        let ident = &it["identity"];
        assert!(ident.get("authMethods").is_none());
        assert!(ident["authMethod"].is_string() || ident["authMethod"].is_null());
        assert_ne!(ident["authMethod"], "spiffe-auth");
    }
    let id = one(&server, AuthMethod::Token, None);
    let (status, body) = patch(
        &c,
        &config_url(&base, &AuthMethod::Token, &id),
        &token,
        json!({"accessTokenTTL": -1}),
    )
    .await;
    assert_eq!(status, 401);
    assert_eq!(body["error"], "ValidationFailure");
    assert!(body["message"].is_array());
}

/// Each fault kind shows up as described, and is logged with its marker.
#[tokio::test]
async fn faults_produce_each_kind() {
    let (server, c, token) = start(SimConfig::default()).await;
    let sim = server.handle();
    let id = one(&server, AuthMethod::Token, None);
    let url = config_url(&server.url(), &AuthMethod::Token, &id);
    let set = |kind| {
        sim.set_faults(Faults {
            rate: 1.0,
            kinds: vec![kind],
            slow: Duration::from_millis(300),
            ..Faults::default()
        })
    };
    set(FaultKind::ServerError);
    let r = c.get(&url).bearer_auth(&token).send().await.unwrap();
    assert!([500, 502, 503].contains(&r.status().as_u16()));
    let body: Value = r.json().await.unwrap();
    assert!(body["statusCode"].is_u64());
    set(FaultKind::HtmlPage);
    let r = c.get(&url).bearer_auth(&token).send().await.unwrap();
    assert_eq!(r.status(), 502);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    set(FaultKind::Truncated);
    let r = c.get(&url).bearer_auth(&token).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.json::<Value>().await.is_err());
    set(FaultKind::DropConnection);
    let fresh = client();
    let err = fresh.get(&url).bearer_auth(&token).send().await;
    assert!(err.is_err(), "{err:?}");
    set(FaultKind::Slow);
    let t = std::time::Instant::now();
    let r = c.get(&url).bearer_auth(&token).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(t.elapsed() >= Duration::from_millis(300));
    // always_fail ids: every config GET is 500, whatever the rate.
    sim.set_faults(Faults {
        always_fail: [id.clone()].into_iter().collect(),
        ..Faults::default()
    });
    let r = c.get(&url).bearer_auth(&token).send().await.unwrap();
    assert_eq!(r.status(), 500);
    let log = sim.request_log();
    let kinds: HashSet<FaultKind> = log.iter().filter_map(|r| r.fault).collect();
    assert_eq!(kinds.len(), 5);
    assert!(
        log.iter()
            .any(|r| r.fault == Some(FaultKind::DropConnection) && r.status == 0)
    );
    // Listings are not faulted unless asked.
    sim.set_faults(Faults {
        rate: 1.0,
        kinds: vec![FaultKind::ServerError],
        ..Faults::default()
    });
    let (status, _) = search(&c, &server.url(), &token, json!({})).await;
    assert_eq!(status, 200);
}

/// The generator is deterministic for a seed; its planted set covers every rule and method.
#[tokio::test]
async fn generator_is_deterministic_and_planted_covers_rules_and_methods() {
    let a = sim::Sim::new(&SimConfig::default());
    let b = sim::Sim::new(&SimConfig::default());
    assert_eq!(a.planted(), b.planted());
    assert_eq!(a.identity_ids(), b.identity_ids());
    let c = sim::Sim::new(&SimConfig {
        seed: 7,
        ..SimConfig::default()
    });
    assert_ne!(a.identity_ids(), c.identity_ids());
    let planted = sim::Sim::new(&SimConfig {
        identities: 300,
        ..SimConfig::default()
    })
    .planted();
    let rules: HashSet<&str> = planted.iter().map(|p| p.kind.rule_id()).collect();
    assert_eq!(
        rules,
        [
            "token-lifetime",
            "token-uses",
            "network",
            "identity-allowlists"
        ]
        .into_iter()
        .collect()
    );
    let methods: HashSet<AuthMethod> = planted.iter().map(|p| p.method.clone()).collect();
    assert_eq!(methods.len(), 13);
    let names: Vec<String> = a
        .identity_ids()
        .iter()
        .filter_map(|id| a.identity_name(id))
        .collect();
    assert!(names.contains(&"legacy-vendor-agent".to_owned()));
    assert!(names.contains(&"old-migration-bot".to_owned()));
    assert!(names.contains(&sim::LOGIN_IDENTITY_NAME.to_owned()));
}

/// Many concurrent config GETs all succeed and each is logged once with its class.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_concurrent_requests_and_logs_each() {
    use futures::StreamExt;
    let (server, c, token) = start(SimConfig {
        identities: 400,
        ..SimConfig::default()
    })
    .await;
    let sim = server.handle();
    let base = server.url();
    let urls: Vec<String> = sim
        .identity_ids()
        .iter()
        .flat_map(|id| {
            sim.auth_methods(id)
                .into_iter()
                .map(|m| config_url(&base, &m, id))
                .collect::<Vec<_>>()
        })
        .collect();
    sim.clear_request_log();
    let t = std::time::Instant::now();
    let statuses: Vec<u16> = futures::stream::iter(urls.iter())
        .map(|u| {
            let (c, token) = (c.clone(), token.clone());
            async move {
                c.get(u)
                    .bearer_auth(token)
                    .send()
                    .await
                    .map(|r| r.status().as_u16())
                    .unwrap_or(0)
            }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    let elapsed = t.elapsed();
    assert!(statuses.iter().all(|s| *s == 200));
    let log = sim.request_log();
    assert_eq!(log.len(), urls.len());
    assert!(
        log.iter()
            .all(|r| r.class == sim::RequestClass::Read && r.method == "GET")
    );
    eprintln!("{} GETs in {elapsed:?}", urls.len());
}

/// Trusted IPs in their stored (GET) form, for `Sim::set_config_field`: `"10.0.0.0/8"` is
/// `{"ipAddress": "10.0.0.0", "type": "ipv4", "prefix": 8}`, a host has no `prefix`.
fn stored_ips(entries: &[&str]) -> Value {
    Value::Array(
        entries
            .iter()
            .map(|e| {
                let (address, prefix) = match e.split_once('/') {
                    Some((a, p)) => (a, Some(p.parse::<u8>().unwrap())),
                    None => (*e, None),
                };
                let kind = if address.contains(':') {
                    "ipv6"
                } else {
                    "ipv4"
                };
                let mut entry = json!({"ipAddress": address, "type": kind});
                if let Some(p) = prefix {
                    entry["prefix"] = json!(p);
                }
                entry
            })
            .collect(),
    )
}

async fn try_login(c: &reqwest::Client, url: &str, secret: &str) -> (u16, Value) {
    let r = c
        .post(format!("{url}/api/v1/auth/universal-auth/login"))
        .json(&json!({"clientId": DEMO_CLIENT_ID, "clientSecret": secret}))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// Asserts Infisical's 403 body for a caller outside the trusted IPs.
fn assert_ip_forbidden(status: u16, body: &Value) {
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["statusCode"], 403);
    assert_eq!(body["error"], "ForbiddenError");
    assert_eq!(
        body["message"],
        "You are not allowed to access this resource from the current IP address"
    );
    assert!(body["reqId"].is_string());
    assert!(body.get("details").is_none(), "{body}");
}

/// With trusted-IP enforcement on, narrowing the login identity's `accessTokenTrustedIps` to
/// 10.0.0.0/8 (by a PATCH through the API) makes the next request with the same token a 403
/// `ForbiddenError`; renew is not checked but the renewed token is refused on use; a fresh login
/// still works because `clientSecretTrustedIps` holds 127.0.0.1, and its token is refused too.
#[tokio::test]
async fn narrowed_access_token_trusted_ips_refuse_the_next_request() {
    let (server, c, token) = start(SimConfig::default()).await;
    let sim = server.handle();
    let base = server.url();
    let me = sim.login_identity_id();
    let ua = AuthMethod::Universal;
    sim.set_config_field(
        &me,
        &ua,
        "clientSecretTrustedIps",
        stored_ips(&["10.0.0.0/8", "127.0.0.1"]),
    );
    sim.set_config_field(
        &me,
        &ua,
        "accessTokenTrustedIps",
        stored_ips(&["10.0.0.0/8", "127.0.0.0/8"]),
    );
    sim.set_enforce_trusted_ips(true);
    let details = format!("{base}/api/v1/identities/details");
    let (status, _) = get(&c, &details, &token).await;
    assert_eq!(status, 200, "127.0.0.1 is inside 127.0.0.0/8");

    let (status, body) = patch(
        &c,
        &config_url(&base, &ua, &me),
        &token,
        json!({"accessTokenTrustedIps": [{"ipAddress": "10.0.0.0/8"}]}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = get(&c, &details, &token).await;
    assert_ip_forbidden(status, &body);
    let (status, body) = get(&c, &config_url(&base, &ua, &me), &token).await;
    assert_ip_forbidden(status, &body);
    let last = sim.request_log().pop().unwrap();
    assert_eq!((last.method.as_str(), last.status), ("GET", 403));

    let r = c
        .post(format!("{base}/api/v1/auth/token/renew"))
        .json(&json!({"accessToken": token}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "renew does not check trusted IPs");
    let renewed: Value = r.json().await.unwrap();
    let (status, body) = get(&c, &details, renewed["accessToken"].as_str().unwrap()).await;
    assert_ip_forbidden(status, &body);

    let (status, body) = try_login(&c, &base, DEMO_CLIENT_SECRET).await;
    assert_eq!(
        status, 200,
        "clientSecretTrustedIps still holds 127.0.0.1: {body}"
    );
    let fresh = body["accessToken"].as_str().unwrap().to_owned();
    let (status, body) = get(&c, &details, &fresh).await;
    assert_ip_forbidden(status, &body);

    // The check reads the stored list live: widening it lets the same token back in.
    sim.set_config_field(&me, &ua, "accessTokenTrustedIps", stored_ips(&["::/0"]));
    let (status, _) = get(&c, &details, &fresh).await;
    assert_eq!(status, 200, "::/0 holds 127.0.0.1 as ::ffff:127.0.0.1");
}

/// With enforcement on from the start, the generated login identity (trusted IPs inside
/// 10.0.0.0/8 and fd00::/8) cannot log in from 127.0.0.1: 403 `ForbiddenError` even with a
/// wrong secret, and those refusals do not count towards the lockout; once
/// `clientSecretTrustedIps` holds 127.0.0.1 the right secret logs in.
#[tokio::test]
async fn narrowed_client_secret_trusted_ips_refuse_login() {
    let server = sim::start(SimConfig {
        enforce_trusted_ips: true,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let sim = server.handle();
    let c = client();
    let base = server.url();
    let me = sim.login_identity_id();
    let stored = sim.config_json(&me, &AuthMethod::Universal).unwrap();
    assert!(
        stored["clientSecretTrustedIps"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["ipAddress"].as_str().unwrap().starts_with("10.")
                || e["ipAddress"].as_str().unwrap().starts_with("fd")),
        "{stored}"
    );
    for secret in [DEMO_CLIENT_SECRET, "wrong", "wrong", "wrong"] {
        let (status, body) = try_login(&c, &base, secret).await;
        assert_ip_forbidden(status, &body);
    }
    sim.set_config_field(
        &me,
        &AuthMethod::Universal,
        "clientSecretTrustedIps",
        stored_ips(&["10.0.0.0/8", "::ffff:127.0.0.1"]),
    );
    let (status, body) = try_login(&c, &base, DEMO_CLIENT_SECRET).await;
    assert_eq!(status, 200, "not locked out: {body}");
    // An unknown client id is still 401, before any IP check.
    let r = c
        .post(format!("{base}/api/v1/auth/universal-auth/login"))
        .json(&json!({"clientId": "someone-else", "clientSecret": DEMO_CLIENT_SECRET}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

/// With enforcement off (the default), trusted IPs that do not hold 127.0.0.1 change nothing;
/// switching enforcement on refuses the same token, and off again lets it back in.
#[tokio::test]
async fn trusted_ips_are_not_enforced_by_default() {
    let (server, c, token) = start(SimConfig::default()).await;
    let sim = server.handle();
    let me = sim.login_identity_id();
    for field in ["clientSecretTrustedIps", "accessTokenTrustedIps"] {
        sim.set_config_field(
            &me,
            &AuthMethod::Universal,
            field,
            stored_ips(&["10.0.0.0/8"]),
        );
    }
    let details = format!("{}/api/v1/identities/details", server.url());
    let (status, _) = get(&c, &details, &token).await;
    assert_eq!(status, 200);
    let (status, _) = try_login(&c, &server.url(), DEMO_CLIENT_SECRET).await;
    assert_eq!(status, 200);
    sim.set_enforce_trusted_ips(true);
    let (status, body) = get(&c, &details, &token).await;
    assert_ip_forbidden(status, &body);
    sim.set_enforce_trusted_ips(false);
    let (status, _) = get(&c, &details, &token).await;
    assert_eq!(status, 200);
}

/// An identity whose `authMethods` lists a method idguard does not know (`quantum-auth`) is
/// listed with it; its config is served at `/api/v1/auth/quantum-auth/identities/{id}` under the
/// single key `identityQuantumAuth`; a PATCH of the common fields is validated, applied and
/// logged like any other; an identity without the method gets 400 there, and a method no
/// identity has stays "Route not found".
#[tokio::test]
async fn unknown_auth_method_is_served_and_patched() {
    let (server, c, token) = start(SimConfig::default()).await;
    let sim = server.handle();
    let base = server.url();
    let quantum = AuthMethod::Unknown("quantum-auth".into());
    let id = sim.add_identity(IdentitySpec {
        name: "quantum-worker".into(),
        project_id: None,
        methods: vec![
            (AuthMethod::Universal, None),
            (
                quantum.clone(),
                Some(json!({"id": "5b0a3c1e-8f5d-4c59-9a57-0d6f3f3b2a11",
                            "accessTokenTTL": 3600, "accessTokenMaxTTL": 7200,
                            "accessTokenNumUsesLimit": 10,
                            "accessTokenTrustedIps": stored_ips(&["10.0.0.0/8"]),
                            "entanglementPartner": "spooky"})),
            ),
        ],
    });
    let (status, body) = search(
        &c,
        &base,
        &token,
        json!({"search": {"name": "quantum-worker"}}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        body["identities"][0]["identity"]["authMethods"],
        json!(["universal-auth", "quantum-auth"])
    );

    let url = config_url(&base, &quantum, &id);
    let (status, body) = get(&c, &url, &token).await;
    assert_eq!(status, 200, "{body}");
    let keys: Vec<&String> = body.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["identityQuantumAuth"]);
    assert_eq!(
        Some(body["identityQuantumAuth"].clone()),
        sim.config_json(&id, &quantum)
    );
    assert_eq!(body["identityQuantumAuth"]["identityId"], id.as_str());

    sim.clear_request_log();
    let (status, body) = patch(
        &c,
        &url,
        &token,
        json!({"accessTokenTTL": 600, "accessTokenMaxTTL": 3600,
               "accessTokenTrustedIps": [{"ipAddress": "10.1.0.0/16"}],
               "entanglementPartner": "changed"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let stored = &body["identityQuantumAuth"];
    assert_eq!(stored["accessTokenTTL"], 600);
    assert_eq!(stored["accessTokenMaxTTL"], 3600);
    assert_eq!(
        stored["accessTokenTrustedIps"],
        json!([{"ipAddress": "10.1.0.0", "type": "ipv4", "prefix": 16}])
    );
    // A field the simulator has no schema for is dropped, as zod drops unknown keys.
    assert_eq!(stored["entanglementPartner"], "spooky");
    assert_eq!(Some(stored.clone()), sim.config_json(&id, &quantum));
    let (status, body) = patch(
        &c,
        &url,
        &token,
        json!({"accessTokenTTL": 7200, "accessTokenMaxTTL": 3600}),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    let log = sim.request_log();
    let path = format!("/api/v1/auth/quantum-auth/identities/{id}");
    let patches: Vec<(u16, sim::RequestClass)> = log
        .iter()
        .filter(|r| r.method == "PATCH" && r.path == path)
        .map(|r| (r.status, r.class))
        .collect();
    assert_eq!(
        patches,
        [
            (200, sim::RequestClass::Write),
            (422, sim::RequestClass::Write)
        ]
    );

    let other = one(&server, AuthMethod::Token, None);
    let (status, body) = get(&c, &config_url(&base, &quantum, &other), &token).await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = get(
        &c,
        &config_url(&base, &AuthMethod::Unknown("warp-auth".into()), &id),
        &token,
    )
    .await;
    assert_eq!(status, 404);
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .starts_with("Route GET:/api/v1/auth/warp-auth/")
    );
}

const SPIRE_CA: &str = "-----BEGIN CERTIFICATE-----\nMIIBspire\n-----END CERTIFICATE-----";
const SPIRE_JWKS: &str = r#"{"keys":[{"kty":"EC","crv":"P-256","kid":"k1","x":"a","y":"b"}]}"#;

/// A spiffe-auth row fetching its bundle from a SPIRE endpoint with the `https_spiffe`
/// profile, its CA certificate and a 5-minute refresh hint.
fn spire_row() -> Value {
    json!({"id": "0d7f3c2a-6b1e-4f8a-9c3d-2e5f7a9b1c4d", "trustDomain": "corp.example",
           "allowedSpiffeIds": "spiffe://corp.example/ns/prod/sa/api",
           "allowedAudiences": "infisical", "configurationType": "remote", "caBundleJwks": "",
           "bundleEndpointUrl": "https://spire.corp.example:8443",
           "bundleEndpointProfile": "https_spiffe", "bundleEndpointCaCert": SPIRE_CA,
           "bundleRefreshHintSeconds": 300, "cachedBundleLastRefreshedAt": null,
           "accessTokenTTL": 3600, "accessTokenMaxTTL": 86400, "accessTokenNumUsesLimit": 100,
           "accessTokenTrustedIps": stored_ips(&["10.0.0.0/8"]),
           "createdAt": "2025-03-01T10:00:00.000Z", "updatedAt": "2025-03-01T10:00:00.000Z"})
}

/// spiffe-auth speaks the stricter API by default: GET returns the trust-bundle columns (the
/// generator's configs too); a PATCH without `configurationType` is 422 with only the
/// discriminator issue and changes nothing; a remote PATCH that sends only the endpoint and a
/// TTL resets the profile to `https_web`, the CA certificate to "" and the refresh hint to
/// 3600, while resending them keeps them; a static PATCH needs `caBundleJwks` and resets
/// `bundleEndpointUrl` to "".
#[tokio::test]
async fn spiffe_patch_requires_configuration_type_and_resets_the_trust_bundle() {
    let (server, c, token) = start(SimConfig::default()).await;
    let sim = server.handle();
    let base = server.url();
    let spiffe = AuthMethod::Spiffe;
    for id in sim.identity_ids() {
        if let Some(cfg) = sim.config_json(&id, &spiffe) {
            assert!(
                ["static", "remote"].contains(&cfg["configurationType"].as_str().unwrap()),
                "{cfg}"
            );
            assert!(cfg["bundleRefreshHintSeconds"].is_u64(), "{cfg}");
            assert!(cfg.get("trustBundleDistribution").is_none(), "{cfg}");
        }
    }

    let id = one(&server, spiffe.clone(), Some(spire_row()));
    let url = config_url(&base, &spiffe, &id);
    let (status, body) = get(&c, &url, &token).await;
    assert_eq!(status, 200);
    let before = body["identitySpiffeAuth"].clone();
    assert_eq!(before["configurationType"], "remote");
    assert_eq!(before["bundleEndpointProfile"], "https_spiffe");
    assert_eq!(before["bundleEndpointCaCert"], SPIRE_CA);
    assert_eq!(before["bundleRefreshHintSeconds"], 300);
    assert_eq!(before["caBundleJwks"], "");
    assert_eq!(before["cachedBundleLastRefreshedAt"], Value::Null);

    // No configurationType: only the discriminator issue, even next to a bad field.
    let (status, body) = patch(&c, &url, &token, json!({"accessTokenTTL": "600"})).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"], "ValidationFailure");
    assert_eq!(
        body["message"],
        json!([{"code": "invalid_union_discriminator", "options": ["static", "remote"],
                "path": ["configurationType"],
                "message": "Invalid discriminator value. Expected 'static' | 'remote'"}])
    );
    let (status, _) = patch(&c, &url, &token, json!({"accessTokenTTL": 600})).await;
    assert_eq!(status, 422);
    assert_eq!(sim.config_json(&id, &spiffe), Some(before.clone()));
    let (status, body) = patch(
        &c,
        &url,
        &token,
        json!({"configurationType": "remote", "accessTokenTTL": 600}),
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(body["message"][0]["path"], json!(["bundleEndpointUrl"]));
    let (status, body) = patch(
        &c,
        &url,
        &token,
        json!({"configurationType": "remote", "bundleEndpointUrl": "http://spire.corp.example"}),
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(
        body["message"][0]["message"],
        "Bundle endpoint URL must use HTTPS"
    );

    // The reset: what the body leaves out takes the schema's defaults.
    let (status, body) = patch(
        &c,
        &url,
        &token,
        json!({"configurationType": "remote",
               "bundleEndpointUrl": "https://spire.corp.example:8443", "accessTokenTTL": 600}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let after = &body["identitySpiffeAuth"];
    assert_eq!(after["accessTokenTTL"], 600);
    assert_eq!(after["bundleEndpointProfile"], "https_web");
    assert_eq!(after["bundleEndpointCaCert"], "");
    assert_eq!(after["bundleRefreshHintSeconds"], 3600);
    assert_eq!(after["trustDomain"], before["trustDomain"]);
    assert_eq!(after["allowedSpiffeIds"], before["allowedSpiffeIds"]);
    assert_eq!(Some(after.clone()), sim.config_json(&id, &spiffe));

    // Resending every trust-bundle field keeps it.
    let (status, body) = patch(
        &c,
        &url,
        &token,
        json!({"configurationType": "remote",
               "bundleEndpointUrl": "https://spire.corp.example:8443",
               "bundleEndpointProfile": "https_spiffe", "bundleEndpointCaCert": SPIRE_CA,
               "bundleRefreshHintSeconds": 300, "accessTokenTTL": 900}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let kept = &body["identitySpiffeAuth"];
    for field in [
        "bundleEndpointProfile",
        "bundleEndpointCaCert",
        "bundleRefreshHintSeconds",
        "bundleEndpointUrl",
    ] {
        assert_eq!(kept[field], before[field], "{field}");
    }

    // Static: the JWKS is required; the endpoint is reset to "", the profile kept.
    let (status, body) = patch(&c, &url, &token, json!({"configurationType": "static"})).await;
    assert_eq!(status, 422);
    assert_eq!(body["message"][0]["path"], json!(["caBundleJwks"]));
    let (status, body) = patch(
        &c,
        &url,
        &token,
        json!({"configurationType": "static", "caBundleJwks": SPIRE_JWKS}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let stat = &body["identitySpiffeAuth"];
    assert_eq!(stat["configurationType"], "static");
    assert_eq!(stat["caBundleJwks"], SPIRE_JWKS);
    assert_eq!(stat["bundleEndpointUrl"], "");
    assert_eq!(stat["bundleEndpointCaCert"], "");
    assert_eq!(stat["bundleRefreshHintSeconds"], 3600);
    assert_eq!(stat["bundleEndpointProfile"], "https_spiffe");

    // No TTL <= MaxTTL refinement in spiffe's schema: the service answers 400.
    let (status, _) = patch(
        &c,
        &url,
        &token,
        json!({"configurationType": "static", "caBundleJwks": SPIRE_JWKS,
               "accessTokenTTL": 7200, "accessTokenMaxTTL": 3600}),
    )
    .await;
    assert_eq!(status, 400);
}

/// With `SpiffeApi::TrustBundleDistribution`, GET shows the same stored row with the trust
/// bundle nested under `trustBundleDistribution` (columns hidden), a PATCH without it keeps
/// the bundle, and a static bundle that is not a JWKS is refused with 400.
#[tokio::test]
async fn spiffe_newer_api_nests_the_bundle_and_keeps_it() {
    let (server, c, token) = start(SimConfig {
        spiffe_api: SpiffeApi::TrustBundleDistribution,
        ..SimConfig::default()
    })
    .await;
    let sim = server.handle();
    let base = server.url();
    let spiffe = AuthMethod::Spiffe;
    let id = one(&server, spiffe.clone(), Some(spire_row()));
    let url = config_url(&base, &spiffe, &id);
    let (status, body) = get(&c, &url, &token).await;
    assert_eq!(status, 200);
    let shown = &body["identitySpiffeAuth"];
    let distribution = json!({"profile": "https_web_bundle",
        "endpointUrl": "https://spire.corp.example:8443", "caCert": SPIRE_CA,
        "refreshHintSeconds": 300, "cachedBundleLastRefreshedAt": null});
    assert_eq!(shown["trustBundleDistribution"], distribution);
    assert!(shown.get("configurationType").is_none(), "{shown}");
    assert!(shown.get("bundleEndpointProfile").is_none(), "{shown}");
    assert_eq!(Some(shown.clone()), sim.config_json(&id, &spiffe));

    let (status, body) = patch(&c, &url, &token, json!({"accessTokenTTL": 600})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["identitySpiffeAuth"]["trustBundleDistribution"],
        distribution
    );
    assert_eq!(body["identitySpiffeAuth"]["accessTokenTTL"], 600);

    let (status, body) = patch(
        &c,
        &url,
        &token,
        json!({"trustBundleDistribution": {"profile": "static", "bundle": "not json"}}),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        body["message"],
        "The provided CA Bundle JWKS is not valid JWKS"
    );
    let (status, body) = patch(
        &c,
        &url,
        &token,
        json!({"trustBundleDistribution": {"profile": "static", "bundle": SPIRE_JWKS}}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["identitySpiffeAuth"]["trustBundleDistribution"],
        json!({"profile": "static", "bundle": SPIRE_JWKS})
    );
}

/// The fault dice are seeded: the same seed faults the same requests of a sequence, another
/// seed others (so a failing fault test can be re-run exactly).
#[tokio::test]
async fn fault_injection_is_seeded() {
    async fn sequence(seed: u64) -> Vec<Option<FaultKind>> {
        let (server, c, token) = start(SimConfig::default()).await;
        let id = one(&server, AuthMethod::Token, None);
        let sim = server.handle();
        sim.set_faults(Faults {
            rate: 0.5,
            kinds: vec![FaultKind::ServerError, FaultKind::HtmlPage],
            seed,
            ..Faults::default()
        });
        sim.clear_request_log();
        let url = config_url(&server.url(), &AuthMethod::Token, &id);
        for _ in 0..40 {
            let _ = get(&c, &url, &token).await;
        }
        sim.request_log().into_iter().map(|r| r.fault).collect()
    }
    let a = sequence(7).await;
    assert_eq!(a.len(), 40);
    assert!(a.iter().any(Option::is_some) && a.iter().any(Option::is_none));
    assert_eq!(sequence(7).await, a, "same seed, same faults");
    assert_ne!(sequence(8).await, a, "another seed, other faults");
}

// ---------------------------------------------------------------------------------------------
// Usage evidence: last logins and the audit log

/// The fixed start of the simulators below, so their generated usage is the same every run.
const USAGE_NOW: &str = "2026-06-15T12:00:00Z";

fn usage_config() -> SimConfig {
    SimConfig {
        now: Some(USAGE_NOW.parse().unwrap()),
        ..SimConfig::default()
    }
}

/// `now - days`, as the ISO string the audit-log query takes.
fn days_before(now: jiff::Timestamp, days: i64) -> String {
    let t = now
        .checked_sub(jiff::SignedDuration::from_hours(24 * days))
        .unwrap();
    format!("{}Z", t.strftime("%Y-%m-%dT%H:%M:%S"))
}

/// A started simulator, a client and its token, for the usage tests.
struct UsageSim {
    server: SimServer,
    c: reqwest::Client,
    token: String,
    base: String,
}

impl UsageSim {
    async fn start(cfg: SimConfig) -> UsageSim {
        let (server, c, token) = start(cfg).await;
        let base = server.url();
        UsageSim {
            server,
            c,
            token,
            base,
        }
    }

    /// `GET /api/v1/organization/audit-logs?{query}`.
    async fn audit(&self, query: &str) -> (u16, Value) {
        let url = format!("{}/api/v1/organization/audit-logs?{query}", self.base);
        get(&self.c, &url, &self.token).await
    }

    /// PATCHes `accessTokenTTL` of `id`'s aws-auth config; the status.
    async fn patch_aws_ttl(&self, id: &str, ttl: u64) -> u16 {
        let url = config_url(&self.base, &AuthMethod::Aws, id);
        let body = json!({ "accessTokenTTL": ttl });
        patch(&self.c, &url, &self.token, body).await.0
    }
}

/// The items of an audit-log answer.
fn items(body: &Value) -> &Vec<Value> {
    body["auditLogs"].as_array().expect("auditLogs is an array")
}

fn event_types(body: &Value) -> Vec<String> {
    items(body)
        .iter()
        .map(|i| i["event"]["type"].as_str().unwrap().to_owned())
        .collect()
}

fn inside_example_policy(ip: &str) -> bool {
    let ip: std::net::IpAddr = ip.parse().unwrap();
    ["10.0.0.0/8", "fd00::/8"]
        .iter()
        .any(|n| n.parse::<ipnet::IpNet>().unwrap().contains(&ip))
}

/// Both listings carry `createdAt`, `lastLoginTime` (ISO or null) and `lastLoginAuthMethod`;
/// the generated org mixes recent, old and missing logins; a login to the simulator and the
/// test hook move an identity's last login; `orderBy: lastLogin` puts never-used identities
/// last in both directions; the October-2024 listing has no last-login fields.
#[tokio::test]
async fn listings_carry_last_logins() {
    let (server, c, token) = start(usage_config()).await;
    let sim = server.handle();
    let base = server.url();
    let now: jiff::Timestamp = USAGE_NOW.parse().unwrap();
    let (status, body) = search(&c, &base, &token, json!({"limit": 100})).await;
    assert_eq!(status, 200);
    let found = body["identities"].as_array().unwrap();
    let age_days = |item: &Value| {
        item["lastLoginTime"].as_str().map(|t| {
            let t: jiff::Timestamp = t.parse().unwrap();
            now.duration_since(t).as_secs() / 86_400
        })
    };
    let mut recent = 0;
    let mut old = 0;
    let mut never = 0;
    for item in found {
        assert!(item["createdAt"].is_string(), "{item}");
        match age_days(item) {
            Some(d) if d < 7 => recent += 1,
            Some(d) if (100..400).contains(&d) => old += 1,
            Some(d) if d < 0 => panic!("a login in the future: {item}"),
            Some(_) => {}
            None => {
                never += 1;
                assert!(item["lastLoginAuthMethod"].is_null(), "{item}");
            }
        }
        if item["lastLoginTime"].is_string() {
            let method = item["lastLoginAuthMethod"].as_str().unwrap();
            assert!(AuthMethod::parse_known(method).is_some(), "{method}");
        }
    }
    assert!(
        recent > old && old > 0 && never > 0,
        "{recent} {old} {never}"
    );

    // A login through the demo credential is the auditor's newest login.
    let auditor = sim.login_identity_id();
    let before = sim.now();
    let _ = login(&c, &base).await;
    let last = sim.last_login(&auditor).unwrap();
    assert_eq!(last.method, AuthMethod::Universal);
    assert!(last.at >= before);
    let org = sim.org_id();
    let (_, body) = get(
        &c,
        &format!("{base}/api/v2/organizations/{org}/identity-memberships?limit=200"),
        &token,
    )
    .await;
    let mine = body["identityMemberships"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["identityId"] == auditor.as_str())
        .unwrap();
    assert_eq!(mine["lastLoginAuthMethod"], "universal-auth");
    let shown: jiff::Timestamp = mine["lastLoginTime"].as_str().unwrap().parse().unwrap();
    // Shown to the millisecond.
    let shown_end = shown
        .checked_add(jiff::SignedDuration::from_millis(1))
        .unwrap();
    assert!(shown_end > before, "{mine}");

    // The hook sets and clears; lastLogin order keeps never-used identities last.
    let quiet = one(&server, AuthMethod::Token, None);
    let busy = one(&server, AuthMethod::Aws, None);
    sim.set_last_login(
        &busy,
        Some(LastLogin {
            at: "2020-01-01T00:00:00Z".parse().unwrap(),
            method: AuthMethod::Aws,
        }),
    );
    sim.set_last_login(&quiet, None);
    for direction in ["asc", "desc"] {
        let (status, body) = search(
            &c,
            &base,
            &token,
            json!({"orderBy": "lastLogin", "orderDirection": direction, "limit": 100}),
        )
        .await;
        assert_eq!(status, 200);
        let list = body["identities"].as_array().unwrap();
        let first_never = list
            .iter()
            .position(|i| i["lastLoginTime"].is_null())
            .unwrap();
        assert!(
            list[first_never..]
                .iter()
                .all(|i| i["lastLoginTime"].is_null())
        );
        let times: Vec<&str> = list[..first_never]
            .iter()
            .map(|i| i["lastLoginTime"].as_str().unwrap())
            .collect();
        let mut sorted = times.clone();
        sorted.sort_unstable();
        if direction == "desc" {
            sorted.reverse();
        }
        assert_eq!(times, sorted, "{direction}");
        let busy_at = list
            .iter()
            .position(|i| i["identityId"] == busy.as_str())
            .unwrap();
        assert_eq!(list[busy_at]["lastLoginTime"], "2020-01-01T00:00:00.000Z");
        assert_eq!(list[busy_at]["lastLoginAuthMethod"], "aws-auth");
        assert!(busy_at < first_never);
    }

    let (server, c, token) = start(SimConfig {
        legacy: true,
        ..usage_config()
    })
    .await;
    let org = server.handle().org_id();
    let (_, body) = get(
        &c,
        &format!(
            "{}/api/v2/organizations/{org}/identity-memberships",
            server.url()
        ),
        &token,
    )
    .await;
    for m in body["identityMemberships"].as_array().unwrap() {
        assert!(m.get("lastLoginTime").is_none(), "{m}");
        assert!(m.get("lastLoginAuthMethod").is_none(), "{m}");
    }
}

/// The audit log answers newest first with the real item shape and no total; `actorType` +
/// `actor`, an `eventType` list and `eventMetadata=identityId=` filter; offset/limit page
/// through the same order; the default range starts yesterday at midnight.
#[tokio::test]
async fn audit_logs_filter_order_and_page() {
    let u = UsageSim::start(usage_config()).await;
    let sim = u.server.handle();
    let now = sim.now();
    let since = days_before(now, 60);

    let (status, body) = u.audit(&format!("startDate={since}&limit=1000")).await;
    assert_eq!(status, 200);
    assert_eq!(body.as_object().unwrap().len(), 1, "only auditLogs: {body}");
    let all = items(&body);
    assert!(all.len() > 50, "{}", all.len());
    let times: Vec<&str> = all
        .iter()
        .map(|i| i["createdAt"].as_str().unwrap())
        .collect();
    let mut newest_first = times.clone();
    newest_first.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(times, newest_first);
    let item = &all[0];
    for key in [
        "id",
        "ipAddress",
        "userAgent",
        "userAgentType",
        "createdAt",
        "updatedAt",
        "expiresAt",
        "orgId",
        "projectId",
        "projectName",
        "event",
        "actor",
    ] {
        assert!(item.get(key).is_some(), "{key} missing from {item}");
    }
    assert_eq!(item["orgId"], sim.org_id().as_str());

    // One identity's token uses, by actor.
    let reads = all
        .iter()
        .find(|i| i["event"]["type"] == "get-secrets")
        .unwrap();
    let who = reads["actor"]["metadata"]["identityId"].as_str().unwrap();
    assert_eq!(reads["actor"]["type"], "identity");
    assert_eq!(
        reads["actor"]["metadata"]["name"],
        sim.identity_name(who).unwrap().as_str()
    );
    let (_, body) = u
        .audit(&format!(
            "startDate={since}&actorType=identity&actor={who}&limit=1000"
        ))
        .await;
    let by_actor = items(&body);
    assert!(!by_actor.is_empty());
    assert!(
        by_actor
            .iter()
            .all(|i| i["actor"]["metadata"]["identityId"] == who)
    );
    // `actor` without `actorType` is a user id: no identity matches.
    let (_, body) = u.audit(&format!("startDate={since}&actor={who}")).await;
    assert!(items(&body).is_empty());

    // Login events name the identity in their metadata, whoever the actor.
    let (_, body) = u.audit(&format!(
            "startDate={since}&limit=1000&eventType=login-identity-aws-auth,login-identity-oidc-auth"
        )).await;
    let logins = event_types(&body);
    assert!(!logins.is_empty());
    assert!(
        logins
            .iter()
            .all(|t| t == "login-identity-aws-auth" || t == "login-identity-oidc-auth")
    );
    let login = &items(&body)[0];
    assert_eq!(
        login["actor"],
        json!({"type": "unknownUser", "metadata": {}})
    );
    let subject = login["event"]["metadata"]["identityId"].as_str().unwrap();
    let (_, body) = u
        .audit(&format!(
            "startDate={since}&limit=1000&eventMetadata=identityId={subject}"
        ))
        .await;
    assert!(!items(&body).is_empty());
    assert!(
        items(&body)
            .iter()
            .all(|i| i["event"]["metadata"]["identityId"] == subject)
    );

    // Paging: offset/limit slices of the same order (eventType keeps the view events out).
    let query = format!("startDate={since}&eventType=get-secrets");
    let (_, body) = u.audit(&format!("{query}&limit=1000")).await;
    let whole: Vec<Value> = items(&body).iter().map(|i| i["id"].clone()).collect();
    let mut paged = Vec::new();
    for offset in (0..whole.len()).step_by(7) {
        let (_, body) = u.audit(&format!("{query}&offset={offset}&limit=7")).await;
        paged.extend(items(&body).iter().map(|i| i["id"].clone()));
    }
    assert_eq!(paged, whole);
    let (_, body) = u.audit(&query).await;
    assert_eq!(items(&body).len(), 20.min(whole.len()), "default limit 20");

    // Without dates: from yesterday 00:00 UTC to now.
    let (status, body) = u.audit("limit=1000").await;
    assert_eq!(status, 200);
    let midnight = days_before(now, 1)[..10].to_owned() + "T00:00:00.000Z";
    assert!(
        items(&body)
            .iter()
            .all(|i| i["createdAt"].as_str().unwrap() >= midnight.as_str())
    );
    assert!(items(&body).len() < all.len());
}

/// `limit` above 1000 and dates more than three months apart are 422 `ValidationFailure`
/// with zod's issues; an actor type that has no id key refuses `actor` with 400; a negative
/// offset is a database error.
#[tokio::test]
async fn audit_log_queries_are_validated() {
    let u = UsageSim::start(usage_config()).await;
    let (status, body) = u.audit("limit=1001").await;
    assert_eq!(status, 422);
    assert_eq!(body["error"], "ValidationFailure");
    assert_eq!(body["message"][0]["code"], "too_big");
    assert_eq!(body["message"][0]["path"], json!(["limit"]));
    let (status, _) = u.audit("limit=1000").await;
    assert_eq!(status, 200);
    let (status, body) = u
        .audit("startDate=2026-01-01T00:00:00Z&endDate=2026-04-02T00:00:00Z")
        .await;
    assert_eq!(status, 422);
    assert_eq!(
        body["message"][0]["message"],
        "Dates must be within 3 months"
    );
    assert_eq!(body["message"][0]["path"], json!(["endDate"]));
    let (status, body) = u.audit("startDate=yesterday").await;
    assert_eq!(status, 422);
    assert_eq!(body["message"][0]["message"], "Invalid datetime");
    let (status, body) = u.audit("eventType=get-secrets,no-such-event").await;
    assert_eq!(status, 422);
    assert_eq!(body["message"][0]["path"], json!(["eventType", 1]));
    let (status, body) = u.audit("actorType=unknownUser&actor=x").await;
    assert_eq!(status, 400);
    assert_eq!(
        body["message"],
        "Actor type 'unknownUser' does not support filtering by actor ID"
    );
    let (status, _) = u.audit("offset=-1").await;
    assert_eq!(status, 500);
}

/// A config PATCH is audited as `update-identity-<method>` (metadata `identityId` and the new
/// values, the acting identity as actor, the caller's address); a universal-auth login as
/// `login-identity-universal-auth` by the identity; reading the first page as
/// `view-audit-logs`; a config GET is not audited. The hook adds events and the handle lists
/// the queries received.
#[tokio::test]
async fn what_clients_do_is_audited() {
    let u = UsageSim::start(usage_config()).await;
    let sim = u.server.handle();
    let auditor = sim.login_identity_id();
    let target = one(&u.server, AuthMethod::Aws, None);
    let url = config_url(&u.base, &AuthMethod::Aws, &target);
    // Only what happens from here on (the generated history and `start` have logins of
    // their own): a millisecond on from now, then a pause so the requests come later still.
    let t0 = sim
        .now()
        .checked_add(jiff::SignedDuration::from_millis(1))
        .unwrap();
    tokio::time::sleep(Duration::from_millis(3)).await;
    let from = format!(
        "{}.{:03}Z",
        t0.strftime("%Y-%m-%dT%H:%M:%S"),
        t0.subsec_millisecond()
    );
    let (status, _) = get(&u.c, &url, &u.token).await;
    assert_eq!(status, 200);
    assert_eq!(u.patch_aws_ttl(&target, 600).await, 200);
    let _ = login(&u.c, &u.base).await;

    let query = format!(
        "startDate={from}&eventType=update-identity-aws-auth,get-identity-aws-auth,\
         login-identity-universal-auth"
    );
    let (_, body) = u.audit(&query).await;
    assert_eq!(
        event_types(&body),
        ["login-identity-universal-auth", "update-identity-aws-auth"]
    );
    let update = &items(&body)[1];
    assert_eq!(update["event"]["metadata"]["identityId"], target.as_str());
    assert_eq!(update["event"]["metadata"]["accessTokenTTL"], 600);
    assert_eq!(update["actor"]["type"], "identity");
    assert_eq!(update["actor"]["metadata"]["identityId"], auditor.as_str());
    assert_eq!(
        update["actor"]["metadata"]["name"],
        sim::LOGIN_IDENTITY_NAME
    );
    assert_eq!(update["ipAddress"], "127.0.0.1");
    let login_event = &items(&body)[0];
    assert_eq!(
        login_event["actor"]["metadata"]["identityId"],
        auditor.as_str()
    );
    assert_eq!(
        login_event["event"]["metadata"]["identityId"],
        auditor.as_str()
    );
    assert!(login_event["event"]["metadata"]["identityUniversalAuthId"].is_string());
    assert_eq!(login_event["ipAddress"], "127.0.0.1");
    let (_, body) = u.audit(&format!("eventMetadata=identityId={target}")).await;
    assert_eq!(event_types(&body), ["update-identity-aws-auth"]);
    let (_, body) = u.audit("eventType=view-audit-logs&offset=0").await;
    assert!(
        !items(&body).is_empty(),
        "earlier first pages were recorded"
    );

    let at = sim.now();
    assert!(sim.add_usage_event(UsageEvent {
        identity_id: target.clone(),
        event_type: "get-secrets".into(),
        actor: UsageActor::Identity,
        ip: Some("198.51.100.7".parse().unwrap()),
        at,
    }));
    assert!(!sim.add_usage_event(UsageEvent {
        identity_id: "no-such-identity".into(),
        event_type: "get-secrets".into(),
        actor: UsageActor::Identity,
        ip: None,
        at,
    }));
    let (_, body) = u.audit(&format!("actorType=identity&actor={target}")).await;
    assert_eq!(event_types(&body), ["get-secrets"]);
    assert_eq!(items(&body)[0]["ipAddress"], "198.51.100.7");
    let queries = sim.audit_log_queries();
    assert_eq!(queries[0], query);
    assert_eq!(queries.len(), 4);
}

/// October-2024 differences: `actor` matches user ids only (an identity filter finds
/// nothing, `eventMetadata=identityId=` works), no login events are stored, any event type
/// and limit are taken, validation failures are 401, and no last-login fields (see
/// `listings_carry_last_logins`).
#[tokio::test]
async fn audit_logs_on_the_october_2024_server() {
    let u = UsageSim::start(SimConfig {
        legacy: true,
        ..usage_config()
    })
    .await;
    let sim = u.server.handle();
    let since = days_before(sim.now(), 60);
    let _ = login(&u.c, &u.base).await;
    let (status, body) = u.audit(&format!("startDate={since}&limit=5000")).await;
    assert_eq!(status, 200);
    let all = items(&body);
    assert!(!all.is_empty());
    assert!(all.iter().all(|i| {
        !i["event"]["type"]
            .as_str()
            .unwrap()
            .starts_with("login-identity-")
    }));
    assert!(all.iter().all(|i| i["event"]["type"] != "view-audit-logs"));
    let who = all[0]["actor"]["metadata"]["identityId"].as_str().unwrap();
    let (_, body) = u
        .audit(&format!("startDate={since}&actorType=identity&actor={who}"))
        .await;
    assert!(items(&body).is_empty());
    let target = one(&u.server, AuthMethod::Aws, None);
    assert_eq!(u.patch_aws_ttl(&target, 900).await, 200);
    let (_, body) = u.audit(&format!("eventMetadata=identityId={target}")).await;
    assert_eq!(event_types(&body), ["update-identity-aws-auth"]);
    assert_eq!(items(&body)[0]["ipAddress"], "127.0.0.1");
    let (status, _) = u.audit("eventType=anything-goes").await;
    assert_eq!(status, 200);
    let (status, body) = u.audit("limit=ten").await;
    assert_eq!(status, 401);
    assert_eq!(body["error"], "ValidationFailure");
}

/// Without an audit-log plan the listing answers 200 with nothing and nothing is recorded;
/// without `audit-logs` read it answers 403 `PermissionDenied`.
#[tokio::test]
async fn audit_logs_disabled_or_forbidden() {
    let u = UsageSim::start(SimConfig {
        audit_logs: AuditLogs::Disabled,
        ..usage_config()
    })
    .await;
    let sim = u.server.handle();
    let since = days_before(sim.now(), 60);
    let stored = sim.audit_event_count();
    let target = one(&u.server, AuthMethod::Aws, None);
    assert_eq!(u.patch_aws_ttl(&target, 900).await, 200);
    let _ = login(&u.c, &u.base).await;
    let (status, body) = u.audit(&format!("startDate={since}")).await;
    assert_eq!(status, 200);
    assert_eq!(body, json!({"auditLogs": []}));
    assert_eq!(sim.audit_event_count(), stored, "nothing recorded");

    sim.set_audit_logs(AuditLogs::Forbidden);
    let (status, body) = u.audit(&format!("startDate={since}")).await;
    assert_eq!(status, 403);
    assert_eq!(body["error"], "PermissionDenied");
    assert_eq!(body["message"], "You are not allowed to read on audit-logs");

    sim.set_audit_logs(AuditLogs::Enabled);
    let (status, body) = u.audit(&format!("startDate={since}")).await;
    assert_eq!(status, 200);
    assert!(!items(&body).is_empty());
}

/// The demo org (default seed): some identities breaking the `network` rule of
/// policies/example.yaml used their token in the last 30 days from an address outside
/// 10.0.0.0/8 and fd00::/8, others only from inside; no compliant identity was used from
/// outside.
#[tokio::test]
async fn demo_org_network_breakers_are_in_use_from_outside_and_inside() {
    let u = UsageSim::start(SimConfig::default()).await;
    let sim = u.server.handle();
    let breakers: HashSet<String> = sim
        .planted()
        .into_iter()
        .filter(|p| {
            matches!(
                p.kind,
                PlantedKind::TrustedIpsOpen {
                    field: "accessTokenTrustedIps"
                } | PlantedKind::TrustedIpsOutside {
                    field: "accessTokenTrustedIps"
                }
            )
        })
        .map(|p| p.identity_id)
        .collect();
    let since = days_before(sim.now(), 30);
    let (_, body) = u
        .audit(&format!(
            "startDate={since}&eventType=get-secrets&actorType=identity&limit=1000"
        ))
        .await;
    let mut outside = HashSet::new();
    let mut used = HashSet::new();
    for item in items(&body) {
        let who = item["actor"]["metadata"]["identityId"]
            .as_str()
            .unwrap()
            .to_owned();
        let ip = item["ipAddress"].as_str().unwrap();
        if !inside_example_policy(ip) {
            assert!(
                breakers.contains(&who),
                "{who} is compliant but used from {ip}"
            );
            outside.insert(who.clone());
        }
        used.insert(who);
    }
    let inside_only: Vec<&String> = breakers
        .iter()
        .filter(|b| used.contains(*b) && !outside.contains(*b))
        .collect();
    assert!(outside.len() >= 2, "{outside:?}");
    assert!(inside_only.len() >= 2, "{inside_only:?}");
}
