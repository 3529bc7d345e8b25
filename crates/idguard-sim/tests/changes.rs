//! The simulator's change routes over HTTP: attaching and revoking auth methods, creating,
//! renaming and deleting identities, the audit events each writes (the change feed of an
//! incremental audit), and the Rust hooks that change the org without writing any.
// Test helpers unwrap like the tests do.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::time::Duration;

use idguard_sim::{
    self as sim, AuditLogs, AuthMethod, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, IdentitySpec,
    RequestClass, SimConfig, SimServer,
};
use serde_json::{Value, json};

/// A logged-in client of a running simulator.
struct Api {
    server: SimServer,
    client: reqwest::Client,
    token: String,
}

impl Api {
    async fn start(cfg: SimConfig) -> Api {
        let server = sim::start(cfg).await.unwrap();
        let client = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(20))
            .build()
            .unwrap();
        let login: Value = client
            .post(format!("{}/api/v1/auth/universal-auth/login", server.url()))
            .json(&json!({"clientId": DEMO_CLIENT_ID, "clientSecret": DEMO_CLIENT_SECRET}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let token = login["accessToken"].as_str().unwrap().to_owned();
        Api {
            server,
            client,
            token,
        }
    }

    /// Sends `method path` with `body` (none when null); the status and the JSON answer.
    async fn call(&self, method: reqwest::Method, path: &str, body: Value) -> (u16, Value) {
        let mut req = self
            .client
            .request(method, format!("{}{path}", self.server.url()))
            .bearer_auth(&self.token);
        if !body.is_null() {
            req = req.json(&body);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    async fn config(
        &self,
        verb: reqwest::Method,
        m: &AuthMethod,
        id: &str,
        body: Value,
    ) -> (u16, Value) {
        let path = format!("/api/v1/auth/{}/identities/{id}", m.as_str());
        self.call(verb, &path, body).await
    }

    async fn attach(&self, m: &AuthMethod, id: &str, body: Value) -> (u16, Value) {
        self.config(reqwest::Method::POST, m, id, body).await
    }

    async fn revoke(&self, m: &AuthMethod, id: &str) -> (u16, Value) {
        self.config(reqwest::Method::DELETE, m, id, Value::Null)
            .await
    }

    async fn read(&self, m: &AuthMethod, id: &str) -> (u16, Value) {
        self.config(reqwest::Method::GET, m, id, Value::Null).await
    }

    /// `verb /api/v1/identities[/{id}]`.
    async fn identity(&self, verb: reqwest::Method, id: Option<&str>, body: Value) -> (u16, Value) {
        let path = match id {
            Some(id) => format!("/api/v1/identities/{id}"),
            None => "/api/v1/identities".to_owned(),
        };
        self.call(verb, &path, body).await
    }

    /// The identity's `authMethods` as `GET /api/v1/identities/{id}` shows them.
    async fn listed_methods(&self, id: &str) -> Vec<String> {
        let (status, body) = self
            .identity(reqwest::Method::GET, Some(id), Value::Null)
            .await;
        assert_eq!(status, 200, "{body}");
        body["identity"]["identity"]["authMethods"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m.as_str().unwrap().to_owned())
            .collect()
    }

    /// The audit-log items for `query` (added to a range from the simulator's start).
    async fn events(&self, query: &[(&str, &str)]) -> Vec<Value> {
        let start = self
            .server
            .handle()
            .now()
            .checked_sub(jiff::SignedDuration::from_hours(1))
            .unwrap()
            .strftime("%Y-%m-%dT%H:%M:%SZ")
            .to_string();
        let mut q: Vec<(&str, &str)> = vec![("startDate", &start), ("limit", "1000")];
        q.extend_from_slice(query);
        let resp = self
            .client
            .get(format!(
                "{}/api/v1/organization/audit-logs",
                self.server.url()
            ))
            .bearer_auth(&self.token)
            .query(&q)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        let body: Value = resp.json().await.unwrap();
        body["auditLogs"].as_array().unwrap().clone()
    }
}

fn types(events: &[Value]) -> BTreeSet<String> {
    events
        .iter()
        .map(|e| e["event"]["type"].as_str().unwrap().to_owned())
        .collect()
}

/// An attach body each method's schema accepts.
fn attach_body(m: &AuthMethod) -> Value {
    match m {
        AuthMethod::Gcp => json!({"type": "gce", "allowedProjects": "corp-prod"}),
        AuthMethod::Azure => json!({"tenantId": "72f988bf-86f1-41af-91ab-2d7cd011db47",
                                    "resource": "https://management.azure.com/"}),
        AuthMethod::Oci => json!({"tenancyOcid": "ocid1.tenancy.oc1..aaaaaaaa"}),
        AuthMethod::Oidc => {
            json!({"oidcDiscoveryUrl": "https://token.actions.githubusercontent.com",
                                   "boundIssuer": "https://token.actions.githubusercontent.com"})
        }
        AuthMethod::Jwt => json!({"configurationType": "jwks",
                                  "jwksUrl": "https://auth.corp.example/.well-known/jwks.json"}),
        AuthMethod::Ldap => json!({"url": "ldaps://ldap.corp.example:636",
                                   "bindDN": "cn=infisical,dc=corp,dc=example",
                                   "bindPass": "not-a-real-password",
                                   "searchBase": "dc=corp,dc=example"}),
        AuthMethod::AliCloud => json!({"allowedArns": "acs:ram::1234567890123456:role/app"}),
        AuthMethod::TlsCert => json!({"caCertificate":
            "-----BEGIN CERTIFICATE-----\nMIIBsimulated\n-----END CERTIFICATE-----"}),
        AuthMethod::Spiffe => json!({"configurationType": "static",
                                     "caBundleJwks": "{\"keys\":[]}",
                                     "trustDomain": "corp.example",
                                     "allowedSpiffeIds": "spiffe://corp.example/app"}),
        _ => json!({"accessTokenTTL": 600, "accessTokenMaxTTL": 3600}),
    }
}

/// An identity with the given methods, made out of band (no event).
fn hand_built(api: &Api, name: &str, methods: &[AuthMethod]) -> String {
    api.server.handle().add_identity(IdentitySpec {
        name: name.into(),
        project_id: None,
        methods: methods.iter().map(|m| (m.clone(), None)).collect(),
    })
}

/// Attaching each of the 13 methods answers the new row under the method's key, shows the
/// method in the identity's `authMethods`, serves it on GET, refuses a second attach with 400,
/// counts as a write, and writes exactly one `add-identity-<method>` event naming the
/// identity, the caller as actor and its address.
#[tokio::test]
async fn attach_lists_serves_and_audits_every_method() {
    let api = Api::start(SimConfig::default()).await;
    let id = hand_built(&api, "attach-target", &[]);
    let caller = api.server.handle().login_identity_id();
    for m in AuthMethod::KNOWN {
        let (status, body) = api.attach(&m, &id, attach_body(&m)).await;
        assert_eq!(status, 200, "{m}: {body}");
        let key = m.wrapper_key();
        assert_eq!(body[key.as_ref()]["identityId"], id.as_str(), "{m}");
        assert!(
            api.listed_methods(&id)
                .await
                .contains(&m.as_str().to_owned()),
            "{m}"
        );
        let (status, got) = api.read(&m, &id).await;
        assert_eq!(status, 200, "{m}: {got}");
        assert_eq!(got[key.as_ref()]["id"], body[key.as_ref()]["id"], "{m}");
        let (status, again) = api.attach(&m, &id, attach_body(&m)).await;
        assert_eq!(status, 400, "{m}: {again}");
        assert!(
            again["message"]
                .as_str()
                .unwrap()
                .contains("already configured")
        );
        let event_type = format!("add-identity-{}", m.as_str());
        let meta = format!("identityId={id}");
        let events = api
            .events(&[("eventType", &event_type), ("eventMetadata", &meta)])
            .await;
        assert_eq!(events.len(), 1, "{m}");
        assert_eq!(events[0]["actor"]["type"], "identity");
        assert_eq!(
            events[0]["actor"]["metadata"]["identityId"],
            caller.as_str()
        );
        assert_eq!(events[0]["ipAddress"], "127.0.0.1");
    }
    let universal = api
        .events(&[("eventType", "add-identity-universal-auth")])
        .await;
    assert_eq!(universal[0]["event"]["metadata"]["accessTokenTTL"], 600);
    let posts: Vec<_> = api
        .server
        .handle()
        .request_log()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path.ends_with(&id))
        .collect();
    assert_eq!(posts.len(), 26);
    assert!(posts.iter().all(|r| r.class == RequestClass::Write));
}

/// Revoking removes the method from `authMethods` and from GET (universal auth: 404, its row
/// lookup comes first), keeps the other methods, refuses a method that is not attached (400,
/// or 404 for aws-auth), and writes exactly one `revoke-identity-<method>` event.
#[tokio::test]
async fn revoke_removes_the_method_and_audits_it() {
    let api = Api::start(SimConfig::default()).await;
    let id = hand_built(
        &api,
        "revoke-target",
        &[AuthMethod::Universal, AuthMethod::Gcp],
    );
    let (status, body) = api.revoke(&AuthMethod::Universal, &id).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["identityUniversalAuth"]["identityId"], id.as_str());
    assert_eq!(api.listed_methods(&id).await, ["gcp-auth"]);
    let (status, _) = api.read(&AuthMethod::Universal, &id).await;
    assert_eq!(status, 404);
    let (status, _) = api.read(&AuthMethod::Gcp, &id).await;
    assert_eq!(status, 200);
    let (status, body) = api.revoke(&AuthMethod::Universal, &id).await;
    assert_eq!(status, 400);
    assert_eq!(body["message"], "The identity does not have universal auth");
    let (status, body) = api.revoke(&AuthMethod::Aws, &id).await;
    assert_eq!(status, 404);
    assert_eq!(
        body["message"],
        "The identity does not have AWS Auth attached"
    );
    let meta = format!("identityId={id}");
    let events = api
        .events(&[
            ("eventType", "revoke-identity-universal-auth"),
            ("eventMetadata", &meta),
        ])
        .await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["event"]["metadata"], json!({"identityId": id}));
}

/// Creating, renaming and deleting an identity change what the API serves and write
/// `create-identity` and `update-identity` (with the name) and `delete-identity`, each with
/// the identity's id; bad bodies get 422 and another org 403, writing nothing.
#[tokio::test]
async fn identities_are_created_renamed_and_deleted_with_events() {
    let api = Api::start(SimConfig::default()).await;
    let org = api.server.handle().org_id();
    let (status, body) = api
        .identity(
            reqwest::Method::POST,
            None,
            json!({"name": " fresh ", "organizationId": org}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["identity"]["name"], "fresh");
    assert_eq!(body["identity"]["authMethods"], json!([]));
    let id = body["identity"]["id"].as_str().unwrap().to_owned();
    assert!(api.listed_methods(&id).await.is_empty());
    let (status, _) = api
        .identity(
            reqwest::Method::PATCH,
            Some(&id),
            json!({"name": "renamed"}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        api.server.handle().identity_name(&id).as_deref(),
        Some("renamed")
    );
    let (status, body) = api
        .identity(reqwest::Method::DELETE, Some(&id), Value::Null)
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["identity"]["name"], "renamed");
    let (status, _) = api
        .identity(reqwest::Method::GET, Some(&id), Value::Null)
        .await;
    assert_eq!(status, 404);
    let meta = format!("identityId={id}");
    let events = api
        .events(&[
            (
                "eventType",
                "create-identity,update-identity,delete-identity",
            ),
            ("eventMetadata", &meta),
        ])
        .await;
    let got: Vec<(&str, &Value)> = events
        .iter()
        .map(|e| {
            (
                e["event"]["type"].as_str().unwrap(),
                &e["event"]["metadata"],
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("delete-identity", &json!({"identityId": id})),
            (
                "update-identity",
                &json!({"identityId": id, "name": "renamed"})
            ),
            (
                "create-identity",
                &json!({"identityId": id, "name": "fresh"})
            ),
        ]
    );
    let before = api.server.handle().audit_event_count();
    let (status, body) = api
        .identity(reqwest::Method::POST, None, json!({"organizationId": org}))
        .await;
    assert_eq!(status, 422);
    assert_eq!(body["message"][0]["path"], json!(["name"]));
    let (status, _) = api
        .identity(
            reqwest::Method::POST,
            None,
            json!({"name": "x", "organizationId": "other"}),
        )
        .await;
    assert_eq!(status, 403);
    assert_eq!(api.server.handle().audit_event_count(), before);
}

/// The incremental audit's query (every method's add, update and revoke events and the three
/// identity events in one comma list) returns exactly the changes made through the API, not
/// the logins or audit-log reads around them; with `eventMetadata=identityId=` only that
/// identity's.
#[tokio::test]
async fn the_change_feed_returns_exactly_the_changes() {
    let api = Api::start(SimConfig::default()).await;
    let a = hand_built(&api, "feed-a", &[AuthMethod::Aws]);
    let b = hand_built(&api, "feed-b", &[AuthMethod::Universal]);
    let (status, _) = api
        .config(
            reqwest::Method::PATCH,
            &AuthMethod::Aws,
            &a,
            json!({"accessTokenTTL": 60, "accessTokenMaxTTL": 60}),
        )
        .await;
    assert_eq!(status, 200);
    api.attach(&AuthMethod::Token, &a, json!({})).await;
    api.revoke(&AuthMethod::Universal, &b).await;
    let org = api.server.handle().org_id();
    api.identity(
        reqwest::Method::POST,
        None,
        json!({"name": "feed-c", "organizationId": org}),
    )
    .await;
    api.identity(reqwest::Method::PATCH, Some(&b), json!({"name": "feed-b2"}))
        .await;
    let mut feed: Vec<String> = AuthMethod::KNOWN
        .iter()
        .flat_map(|m| ["add", "update", "revoke"].map(|v| format!("{v}-identity-{}", m.as_str())))
        .collect();
    feed.extend(["create-identity", "update-identity", "delete-identity"].map(String::from));
    let feed = feed.join(",");
    let changes = api.events(&[("eventType", &feed)]).await;
    assert_eq!(
        types(&changes),
        BTreeSet::from(
            [
                "update-identity-aws-auth",
                "add-identity-token-auth",
                "revoke-identity-universal-auth",
                "create-identity",
                "update-identity",
            ]
            .map(String::from)
        )
    );
    assert_eq!(changes.len(), 5);
    let all = api.events(&[]).await;
    let all_types = types(&all);
    assert!(all_types.contains("login-identity-universal-auth"));
    assert!(all_types.contains("view-audit-logs"));
    let meta = format!("identityId={a}");
    let only_a = api
        .events(&[("eventType", &feed), ("eventMetadata", &meta)])
        .await;
    assert_eq!(
        types(&only_a),
        BTreeSet::from(["update-identity-aws-auth", "add-identity-token-auth"].map(String::from))
    );
}

/// The Rust hooks change the org out of band: no event is written, so only a full sweep can
/// see what they did.
#[tokio::test]
async fn hooks_write_no_event() {
    let api = Api::start(SimConfig::default()).await;
    let sim = api.server.handle();
    let before = sim.audit_event_count();
    let id = hand_built(&api, "out-of-band", &[AuthMethod::Universal]);
    sim.set_config_field(&id, &AuthMethod::Universal, "accessTokenTTL", json!(99));
    assert_eq!(
        sim.config_json(&id, &AuthMethod::Universal).unwrap()["accessTokenTTL"],
        99
    );
    sim.delete_identity(&id);
    assert_eq!(sim.audit_event_count(), before);
}

/// Without an audit-log plan the changes are made and nothing is recorded.
#[tokio::test]
async fn changes_without_an_audit_log_plan_record_nothing() {
    let api = Api::start(SimConfig::default()).await;
    let sim = api.server.handle();
    sim.set_audit_logs(AuditLogs::Disabled);
    let before = sim.audit_event_count();
    let id = hand_built(&api, "unaudited", &[]);
    let (status, _) = api.attach(&AuthMethod::Universal, &id, json!({})).await;
    assert_eq!(status, 200);
    assert_eq!(sim.auth_methods(&id), [AuthMethod::Universal]);
    assert_eq!(sim.audit_event_count(), before);
}

/// The October-2024 server kept one method per identity: a second attach is refused even for
/// another method, a revoke frees the slot; both write their events; validation answers 401.
#[tokio::test]
async fn october_2024_server_keeps_one_method_and_audits_changes() {
    let api = Api::start(SimConfig {
        legacy: true,
        ..SimConfig::default()
    })
    .await;
    let id = hand_built(&api, "legacy-target", &[AuthMethod::Universal]);
    let (status, body) = api.attach(&AuthMethod::Aws, &id, json!({})).await;
    assert_eq!(status, 400);
    assert_eq!(
        body["message"],
        "Failed to add AWS Auth to already configured identity"
    );
    let (status, _) = api.revoke(&AuthMethod::Universal, &id).await;
    assert_eq!(status, 200);
    let (status, body) = api
        .attach(&AuthMethod::Aws, &id, json!({"accessTokenTTL": "x"}))
        .await;
    assert_eq!(status, 401, "{body}");
    let (status, _) = api.attach(&AuthMethod::Aws, &id, json!({})).await;
    assert_eq!(status, 200);
    let (status, _) = api.attach(&AuthMethod::Spiffe, &id, json!({})).await;
    assert_eq!(status, 404);
    let meta = format!("identityId={id}");
    let events = api.events(&[("eventMetadata", &meta)]).await;
    assert_eq!(
        types(&events),
        BTreeSet::from(
            ["revoke-identity-universal-auth", "add-identity-aws-auth"].map(String::from)
        )
    );
}
