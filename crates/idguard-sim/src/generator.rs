//! The seeded generator of the simulator's sample organization, built against idguard's
//! `policies/example.yaml`: realistic identities over all 13 auth methods whose configs are
//! compliant except for the violations it plants (about 40% of configs get one or two), with
//! the planted set returned as ground truth for tests.
//!
//! Compliant means: TTL in 300..=3600, MaxTTL in TTL..=86400 and nonzero, uses in 1..=1000, no
//! period, trusted IPs inside 10.0.0.0/8 or fd00::/8, and every allowlist field that
//! example.yaml names set to entries its `allowed` patterns accept. Every generated config is
//! one a real server could hold (valid formats, TTL <= MaxTTL unless zero).

use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{Map, Value, json};

use super::records::{IdentityRec, OrgRec, ProjectRec};
use super::{IdentitySpec, SimConfig};
use crate::AuthMethod;
use crate::stored_ip::stored_list;

/// One violation the generator planted: ground truth for tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planted {
    /// The identity id.
    pub identity_id: String,
    /// The auth method whose config carries the violation.
    pub method: AuthMethod,
    /// What was planted.
    pub kind: PlantedKind,
}

/// The kinds of planted violations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PlantedKind {
    /// `accessTokenTTL` above 1h.
    TtlTooLong,
    /// `accessTokenTTL` 0 (unlimited).
    TtlZero,
    /// `accessTokenMaxTTL` above 24h.
    MaxTtlTooLong,
    /// `accessTokenMaxTTL` 0 (unlimited).
    MaxTtlZero,
    /// `accessTokenPeriod` > 0 (universal-auth).
    Periodic,
    /// `accessTokenNumUsesLimit` 0 (unlimited).
    UsesZero,
    /// `accessTokenNumUsesLimit` above 1000.
    UsesTooMany,
    /// The field holds `0.0.0.0/0` and `::/0`.
    TrustedIpsOpen {
        /// `accessTokenTrustedIps` or `clientSecretTrustedIps`.
        field: &'static str,
    },
    /// The field holds an entry outside 10.0.0.0/8 and fd00::/8.
    TrustedIpsOutside {
        /// `accessTokenTrustedIps` or `clientSecretTrustedIps`.
        field: &'static str,
    },
    /// A required allowlist is null or empty.
    AllowlistMissing {
        /// The allowlist field.
        field: &'static str,
    },
    /// An allowlist holds an entry no pattern allows.
    AllowlistDisallowed {
        /// The allowlist field.
        field: &'static str,
    },
}

impl PlantedKind {
    /// The example.yaml rule this violation breaks.
    pub fn rule_id(&self) -> &'static str {
        match self {
            PlantedKind::TtlTooLong
            | PlantedKind::TtlZero
            | PlantedKind::MaxTtlTooLong
            | PlantedKind::MaxTtlZero
            | PlantedKind::Periodic => "token-lifetime",
            PlantedKind::UsesZero | PlantedKind::UsesTooMany => "token-uses",
            PlantedKind::TrustedIpsOpen { .. } | PlantedKind::TrustedIpsOutside { .. } => "network",
            PlantedKind::AllowlistMissing { .. } | PlantedKind::AllowlistDisallowed { .. } => {
                "identity-allowlists"
            }
        }
    }

    /// Kinds that set the same value cannot be planted together.
    fn slot(&self) -> String {
        match self {
            PlantedKind::TtlTooLong | PlantedKind::TtlZero => "ttl".into(),
            PlantedKind::MaxTtlTooLong | PlantedKind::MaxTtlZero => "max".into(),
            PlantedKind::Periodic => "period".into(),
            PlantedKind::UsesZero | PlantedKind::UsesTooMany => "uses".into(),
            PlantedKind::TrustedIpsOpen { field } | PlantedKind::TrustedIpsOutside { field } => {
                (*field).into()
            }
            PlantedKind::AllowlistMissing { field }
            | PlantedKind::AllowlistDisallowed { field } => (*field).into(),
        }
    }
}

/// The generated organization.
pub(crate) struct Generated {
    pub(crate) org: OrgRec,
    pub(crate) projects: Vec<ProjectRec>,
    pub(crate) identities: Vec<IdentityRec>,
    pub(crate) planted: Vec<Planted>,
    pub(crate) login_identity: String,
}

/// The name of the identity the demo credential logs in as.
pub const LOGIN_IDENTITY_NAME: &str = "idguard-auditor";

/// The generated identity whose job is over: its usage (`usage.rs`) stopped long ago.
pub(crate) const RETIRED_IDENTITY_NAME: &str = "old-migration-bot";

const NAME_PREFIXES: [&str; 16] = [
    "ci-deploy",
    "ci-build",
    "k8s-payments",
    "k8s-orders",
    "k8s-search",
    "svc-billing",
    "svc-notify",
    "etl-nightly",
    "gh-actions",
    "terraform-apply",
    "vault-sync",
    "backup-agent",
    "lambda-ingest",
    "batch-reports",
    "edge-proxy",
    "ml-training",
];

/// Generates the org for `config` (deterministic for a seed and size).
pub(crate) fn generate(config: &SimConfig) -> Generated {
    let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
    let org = OrgRec {
        id: uuid(&mut rng),
        name: "Acme Corp".into(),
        slug: "acme-corp".into(),
    };
    let projects: Vec<ProjectRec> = ["payments", "data-platform", "mobile"]
        .iter()
        .map(|name| ProjectRec {
            id: uuid(&mut rng),
            name: (*name).to_owned(),
            slug: format!("{name}-{}", rng.random_range(1000..9999)),
        })
        .collect();
    let total = config.identities.max(1);
    let mut identities = Vec::with_capacity(total);
    let mut planted = Vec::new();

    // The identity the configured credential logs in as: compliant universal auth.
    let login_id = uuid(&mut rng);
    let mut login_cfg = config_for(&mut rng, &AuthMethod::Universal, &login_id, &[]);
    login_cfg.insert("clientId".into(), Value::String(config.client_id.clone()));
    identities.push(identity(
        &mut rng,
        login_id.clone(),
        LOGIN_IDENTITY_NAME.into(),
        None,
        vec![(AuthMethod::Universal, login_cfg)],
    ));

    if total >= 3 {
        let specials = [
            (
                "legacy-vendor-agent",
                AuthMethod::Universal,
                PlantedKind::Periodic,
            ),
            (
                RETIRED_IDENTITY_NAME,
                AuthMethod::Aws,
                PlantedKind::MaxTtlZero,
            ),
        ];
        for (name, method, kind) in specials {
            let id = uuid(&mut rng);
            let cfg = config_for(&mut rng, &method, &id, &[kind]);
            planted.push(Planted {
                identity_id: id.clone(),
                method: method.clone(),
                kind,
            });
            identities.push(identity(
                &mut rng,
                id,
                name.into(),
                None,
                vec![(method, cfg)],
            ));
        }
    }

    let methods: Vec<AuthMethod> = AuthMethod::KNOWN
        .iter()
        .filter(|m| !(config.legacy && **m == AuthMethod::Spiffe))
        .cloned()
        .collect();
    let mut index = 0usize;
    while identities.len() < total {
        let id = uuid(&mut rng);
        let prefix = NAME_PREFIXES.choose(&mut rng).copied().unwrap_or("svc");
        let name = format!("{prefix}-{index:04}");
        // The first identities cover every method once; then a realistic mix.
        let mut chosen: Vec<AuthMethod> = Vec::new();
        if index < methods.len() {
            chosen.push(methods[index].clone());
        }
        let roll = rng.random_range(0..100);
        let want = match roll {
            0..10 => 0,
            10..70 => 1,
            70..92 => 2,
            _ => 3,
        };
        let want = if config.legacy { want.min(1) } else { want };
        while chosen.len() < want {
            if let Some(m) = methods.choose(&mut rng)
                && !chosen.contains(m)
            {
                chosen.push(m.clone());
            }
        }
        let project = if index >= methods.len() && rng.random_bool(0.1) {
            projects.choose(&mut rng).cloned()
        } else {
            None
        };
        let mut configs = Vec::new();
        for m in chosen {
            let kinds = if rng.random_bool(0.4) {
                pick_violations(&mut rng, &m)
            } else {
                Vec::new()
            };
            for kind in &kinds {
                planted.push(Planted {
                    identity_id: id.clone(),
                    method: m.clone(),
                    kind: *kind,
                });
            }
            let cfg = config_for(&mut rng, &m, &id, &kinds);
            configs.push((m, cfg));
        }
        identities.push(identity(&mut rng, id, name, project, configs));
        index += 1;
    }
    Generated {
        org,
        projects,
        identities,
        planted,
        login_identity: login_id,
    }
}

/// A compliant stored config for `method` (GET form), for building orgs by hand.
pub fn baseline_config(method: &AuthMethod) -> Value {
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let id = uuid(&mut rng);
    Value::Object(config_for(&mut rng, method, &id, &[]))
}

/// An identity from an [`IdentitySpec`].
pub(crate) fn hand_built(spec: &IdentitySpec, _org_id: &str) -> IdentityRec {
    let mut rng = ChaCha8Rng::from_rng(&mut rand::rng());
    let id = uuid(&mut rng);
    let project = spec.project_id.as_ref().map(|p| {
        let short: String = p.chars().take(8).collect();
        ProjectRec {
            id: p.clone(),
            name: format!("project-{short}"),
            slug: format!("project-{short}"),
        }
    });
    let configs = spec
        .methods
        .iter()
        .map(|(m, cfg)| {
            let mut map = match cfg {
                Some(Value::Object(o)) => o.clone(),
                _ => config_for(&mut rng, m, &id, &[]),
            };
            map.insert("identityId".into(), Value::String(id.clone()));
            (m.clone(), map)
        })
        .collect();
    identity(&mut rng, id, spec.name.clone(), project, configs)
}

fn identity(
    rng: &mut ChaCha8Rng,
    id: String,
    name: String,
    project: Option<ProjectRec>,
    configs: Vec<(AuthMethod, Map<String, Value>)>,
) -> IdentityRec {
    IdentityRec {
        membership_id: uuid(rng),
        created_at: timestamp(rng),
        id,
        name,
        project,
        configs,
        last_login: None,
    }
}

fn uuid(rng: &mut ChaCha8Rng) -> String {
    let bytes: [u8; 16] = rng.random();
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .to_string()
}

fn timestamp(rng: &mut ChaCha8Rng) -> String {
    // Some time in 2025.
    let secs = 1_735_689_600 + rng.random_range(0..31_536_000i64);
    let millis = rng.random_range(0..1000);
    jiff::Timestamp::from_second(secs)
        .map(|t| format!("{}.{millis:03}Z", t.strftime("%Y-%m-%dT%H:%M:%S")))
        .unwrap_or_else(|_| "2025-06-01T00:00:00.000Z".into())
}

/// The allowlist fields example.yaml names for a method, with a compliant value, a
/// disallowed entry (if the rule has `allowed`), and the "missing" value a server can hold
/// (`None` when the field cannot be empty on a real server).
struct AllowSpec {
    field: &'static str,
    good: &'static [&'static str],
    bad: Option<&'static str>,
    missing: Option<Value>,
    sep: &'static str,
}

fn allow_specs(method: &AuthMethod) -> Vec<AllowSpec> {
    let spec = |field, good, bad, missing, sep| AllowSpec {
        field,
        good,
        bad,
        missing,
        sep,
    };
    match method {
        AuthMethod::Oci => vec![spec(
            "allowedUsernames",
            &["svc-deploy, svc-backup", "svc-deploy", "svc-ops, svc-ci"],
            Some("root"),
            Some(Value::Null),
            ", ",
        )],
        AuthMethod::Aws => vec![spec(
            "allowedPrincipalArns",
            &[
                "arn:aws:iam::111122223333:role/deploy",
                "arn:aws:iam::111122223333:role/ci-runner, arn:aws:iam::111122223333:role/deploy",
            ],
            Some("arn:aws:iam::444455556666:role/admin"),
            Some(json!("")),
            ", ",
        )],
        AuthMethod::Gcp => vec![spec(
            "allowedServiceAccounts",
            &[
                "deploy@corp-prod.iam.gserviceaccount.com",
                "ci@corp-prod.iam.gserviceaccount.com, etl@corp-prod.iam.gserviceaccount.com",
            ],
            Some("intruder@other-proj.iam.gserviceaccount.com"),
            Some(json!("")),
            ", ",
        )],
        AuthMethod::Azure => vec![spec(
            "allowedServicePrincipalIds",
            &[
                "0f8fad5b-d9cb-469f-a165-70867728950e",
                "7c9e6679-7425-40de-944b-e07fc1f90ae7",
            ],
            None,
            Some(json!("")),
            ", ",
        )],
        AuthMethod::Kubernetes => vec![spec(
            "allowedNamespaces",
            &["prod-payments, platform", "prod-orders", "platform"],
            Some("default"),
            Some(json!("")),
            ", ",
        )],
        AuthMethod::Oidc | AuthMethod::Jwt => vec![spec(
            "boundAudiences",
            &["infisical", "https://infisical.corp.example"],
            Some("https://evil.example"),
            Some(json!("")),
            ", ",
        )],
        AuthMethod::AliCloud => vec![spec(
            "allowedArns",
            &["acs:ram::1234567890123456:role/ecs-deploy"],
            Some("acs:ram::9999999999999999:role/admin"),
            None,
            ", ",
        )],
        AuthMethod::TlsCert => vec![spec(
            "allowedCommonNames",
            &[
                "api.svc.corp.example,worker.svc.corp.example",
                "api.svc.corp.example",
            ],
            Some("db.internal.example"),
            Some(Value::Null),
            ",",
        )],
        AuthMethod::Spiffe => vec![spec(
            "allowedSpiffeIds",
            &["spiffe://corp.example/ns/prod/sa/api"],
            Some("spiffe://other.example/ns/x/sa/y"),
            None,
            ", ",
        )],
        _ => Vec::new(),
    }
}

fn pick_violations(rng: &mut ChaCha8Rng, method: &AuthMethod) -> Vec<PlantedKind> {
    let mut candidates = vec![
        PlantedKind::TtlTooLong,
        PlantedKind::TtlZero,
        PlantedKind::MaxTtlTooLong,
        PlantedKind::MaxTtlZero,
        PlantedKind::UsesZero,
        PlantedKind::UsesTooMany,
        PlantedKind::TrustedIpsOpen {
            field: "accessTokenTrustedIps",
        },
        PlantedKind::TrustedIpsOutside {
            field: "accessTokenTrustedIps",
        },
    ];
    if *method == AuthMethod::Universal {
        candidates.push(PlantedKind::Periodic);
        candidates.push(PlantedKind::TrustedIpsOpen {
            field: "clientSecretTrustedIps",
        });
        candidates.push(PlantedKind::TrustedIpsOutside {
            field: "clientSecretTrustedIps",
        });
    }
    for spec in allow_specs(method) {
        // Allowlist violations are weighted up so every method gets some.
        for _ in 0..3 {
            if spec.missing.is_some() {
                candidates.push(PlantedKind::AllowlistMissing { field: spec.field });
            }
            if spec.bad.is_some() {
                candidates.push(PlantedKind::AllowlistDisallowed { field: spec.field });
            }
        }
    }
    let count = if rng.random_bool(0.3) { 2 } else { 1 };
    let mut out: Vec<PlantedKind> = Vec::new();
    for _ in 0..count {
        if let Some(k) = candidates.choose(rng)
            && !out.iter().any(|o| o.slot() == k.slot())
        {
            out.push(*k);
        }
    }
    out
}

const GOOD_IPS: [&[&str]; 5] = [
    &["10.0.0.0/8"],
    &["10.20.0.0/16", "10.1.2.3"],
    &["10.40.7.0/24", "fd00:1234::/32"],
    &["10.8.0.5", "10.9.0.0/16", "fd00::/8"],
    &["10.128.0.0/9", "fd12:3456:789a::/48"],
];
const OUTSIDE_IPS: [&str; 3] = ["203.0.113.7", "192.168.0.0/16", "::ffff:0:0/96"];

fn trusted_ips(rng: &mut ChaCha8Rng, field: &'static str, kinds: &[PlantedKind]) -> Value {
    if kinds.contains(&PlantedKind::TrustedIpsOpen { field }) {
        return stored_list(&["0.0.0.0/0", "::/0"]);
    }
    let mut entries: Vec<&str> = GOOD_IPS.choose(rng).copied().unwrap_or(&[]).to_vec();
    if kinds.contains(&PlantedKind::TrustedIpsOutside { field })
        && let Some(bad) = OUTSIDE_IPS.choose(rng)
    {
        entries.push(bad);
    }
    stored_list(&entries)
}

/// Builds one stored config with the given planted violations (and compliant otherwise).
fn config_for(
    rng: &mut ChaCha8Rng,
    method: &AuthMethod,
    identity_id: &str,
    kinds: &[PlantedKind],
) -> Map<String, Value> {
    let mut ttl: u64 = *[300u64, 600, 900, 1800, 3600].choose(rng).unwrap_or(&3600);
    let maxes: Vec<u64> = [3600u64, 7200, 43_200, 86_400]
        .into_iter()
        .filter(|m| *m >= ttl)
        .collect();
    let mut max = *maxes.choose(rng).unwrap_or(&86_400);
    let mut uses: u64 = *[1u64, 10, 100, 500, 1000].choose(rng).unwrap_or(&100);
    let mut period: u64 = 0;
    for kind in kinds {
        match kind {
            PlantedKind::MaxTtlTooLong => {
                max = *[604_800u64, 2_592_000].choose(rng).unwrap_or(&2_592_000)
            }
            PlantedKind::MaxTtlZero => max = 0,
            PlantedKind::UsesZero => uses = 0,
            PlantedKind::UsesTooMany => uses = *[5000u64, 100_000].choose(rng).unwrap_or(&5000),
            PlantedKind::Periodic => period = *[3600u64, 86_400].choose(rng).unwrap_or(&86_400),
            _ => {}
        }
    }
    for kind in kinds {
        match kind {
            PlantedKind::TtlTooLong => {
                ttl = *[7200u64, 14_400, 43_200].choose(rng).unwrap_or(&7200);
                if max != 0 && max < ttl {
                    max = 86_400;
                }
            }
            PlantedKind::TtlZero => ttl = 0,
            _ => {}
        }
    }
    let created = timestamp(rng);
    let mut m = Map::new();
    m.insert("id".into(), Value::String(uuid(rng)));
    // Method-specific fields first, like Infisical's rows.
    match method {
        AuthMethod::Universal => {
            m.insert("clientId".into(), Value::String(uuid(rng)));
        }
        AuthMethod::Gcp => {
            m.insert(
                "type".into(),
                json!(*["iam", "gce"].choose(rng).unwrap_or(&"iam")),
            );
            m.insert("allowedProjects".into(), json!("corp-prod, corp-shared"));
            m.insert("allowedZones".into(), json!("europe-west1-b"));
        }
        AuthMethod::Aws => {
            m.insert("type".into(), json!("iam"));
            m.insert("stsEndpoint".into(), json!("https://sts.amazonaws.com/"));
            m.insert("allowedAccountIds".into(), json!("111122223333"));
        }
        AuthMethod::Azure => {
            m.insert(
                "tenantId".into(),
                json!("72f988bf-86f1-41af-91ab-2d7cd011db47"),
            );
            m.insert("resource".into(), json!("https://management.azure.com/"));
        }
        AuthMethod::Kubernetes => {
            m.insert(
                "kubernetesHost".into(),
                json!("https://k8s.corp.example:6443"),
            );
            m.insert("tokenReviewMode".into(), json!("api"));
            m.insert("gatewayId".into(), Value::Null);
            m.insert("caCert".into(), json!(""));
            m.insert(
                "tokenReviewerJwt".into(),
                json!("sim-token-reviewer-jwt-not-real"),
            );
            m.insert("allowedNames".into(), json!("app, worker"));
            m.insert("allowedAudience".into(), json!(""));
        }
        AuthMethod::Oci => {
            m.insert("type".into(), json!("iam"));
            m.insert(
                "tenancyOcid".into(),
                json!("ocid1.tenancy.oc1..aaaaaaaaba3pv6wkcr4jqae5f15p2b2m2yt2j6rx32uzr4h25vqstifsfdsq"),
            );
        }
        AuthMethod::Oidc => {
            m.insert(
                "oidcDiscoveryUrl".into(),
                json!("https://token.actions.githubusercontent.com"),
            );
            m.insert(
                "boundIssuer".into(),
                json!("https://token.actions.githubusercontent.com"),
            );
            m.insert("boundClaims".into(), json!({"repository": "corp/app"}));
            m.insert("claimMetadataMapping".into(), json!({}));
            m.insert("boundSubject".into(), json!(""));
            m.insert("caCert".into(), json!(""));
        }
        AuthMethod::Jwt => {
            if rng.random_bool(0.5) {
                m.insert("configurationType".into(), json!("jwks"));
                m.insert(
                    "jwksUrl".into(),
                    json!("https://auth.corp.example/.well-known/jwks.json"),
                );
                m.insert(
                    "jwksCaCert".into(),
                    json!("-----BEGIN CERTIFICATE-----\nMIIBsimulated\n-----END CERTIFICATE-----"),
                );
                m.insert("publicKeys".into(), json!([]));
            } else {
                m.insert("configurationType".into(), json!("static"));
                m.insert("jwksUrl".into(), json!(""));
                m.insert("jwksCaCert".into(), json!(""));
                m.insert(
                    "publicKeys".into(),
                    json!(["-----BEGIN PUBLIC KEY-----\nMFkwsimulated\n-----END PUBLIC KEY-----"]),
                );
            }
            m.insert("boundIssuer".into(), json!("https://auth.corp.example"));
            m.insert("boundClaims".into(), json!({}));
            m.insert("boundSubject".into(), json!(""));
        }
        AuthMethod::Ldap => {
            m.insert("url".into(), json!("ldaps://ldap.corp.example:636"));
            m.insert(
                "bindDN".into(),
                json!("cn=infisical,ou=svc,dc=corp,dc=example"),
            );
            m.insert("bindPass".into(), json!("sim-bind-password-not-real"));
            m.insert("searchBase".into(), json!("ou=machines,dc=corp,dc=example"));
            m.insert("searchFilter".into(), json!("(uid={{username}})"));
            m.insert("allowedFields".into(), json!([]));
            m.insert("ldapCaCertificate".into(), json!(""));
            m.insert("templateId".into(), Value::Null);
        }
        AuthMethod::TlsCert => {
            m.insert(
                "caCertificate".into(),
                json!("-----BEGIN CERTIFICATE-----\nMIIBsimulated\n-----END CERTIFICATE-----"),
            );
        }
        AuthMethod::Spiffe => {
            m.insert("trustDomain".into(), json!("corp.example"));
            m.insert("allowedAudiences".into(), json!("infisical"));
            spiffe_bundle(&mut m, identity_id);
        }
        AuthMethod::Token | AuthMethod::AliCloud | AuthMethod::Unknown(_) => {}
    }
    for spec in allow_specs(method) {
        let value = if kinds.contains(&PlantedKind::AllowlistMissing { field: spec.field }) {
            spec.missing.clone().unwrap_or(Value::Null)
        } else {
            let good = spec.good.choose(rng).copied().unwrap_or("");
            match spec.bad {
                Some(bad)
                    if kinds.contains(&PlantedKind::AllowlistDisallowed { field: spec.field }) =>
                {
                    Value::String(format!("{good}{}{bad}", spec.sep))
                }
                _ => Value::String(good.to_owned()),
            }
        };
        m.insert(spec.field.into(), value);
    }
    m.insert("accessTokenTTL".into(), Value::from(ttl));
    m.insert("accessTokenMaxTTL".into(), Value::from(max));
    m.insert("accessTokenNumUsesLimit".into(), Value::from(uses));
    if matches!(
        method,
        AuthMethod::Universal | AuthMethod::Aws | AuthMethod::Oci
    ) {
        m.insert("accessTokenPeriod".into(), Value::from(period));
    }
    m.insert(
        "accessTokenTrustedIps".into(),
        trusted_ips(rng, "accessTokenTrustedIps", kinds),
    );
    if *method == AuthMethod::Universal {
        m.insert(
            "clientSecretTrustedIps".into(),
            trusted_ips(rng, "clientSecretTrustedIps", kinds),
        );
        m.insert("lockoutEnabled".into(), json!(true));
        m.insert("lockoutThreshold".into(), json!(3));
        m.insert("lockoutDurationSeconds".into(), json!(300));
        m.insert("lockoutCounterResetSeconds".into(), json!(30));
    }
    if *method == AuthMethod::Ldap {
        m.insert("lockoutEnabled".into(), json!(true));
        m.insert("lockoutThreshold".into(), json!(3));
        m.insert("lockoutDurationSeconds".into(), json!(300));
        m.insert("lockoutCounterResetSeconds".into(), json!(30));
    }
    m.insert("createdAt".into(), Value::String(created.clone()));
    m.insert("updatedAt".into(), Value::String(created));
    m.insert("identityId".into(), Value::String(identity_id.to_owned()));
    m
}

/// The trust-bundle columns of a spiffe-auth row as Infisical's attach stores them (see
/// `spiffe.rs`): half the identities (by id, so the random stream is not disturbed) use a
/// static JWKS, the others a SPIRE federation endpoint with the `https_spiffe` profile, its CA
/// certificate and a 5-minute refresh hint, values a PATCH that omits them would reset.
fn spiffe_bundle(m: &mut Map<String, Value>, identity_id: &str) {
    let remote = identity_id.bytes().last().is_some_and(|b| b % 2 == 0);
    let columns = if remote {
        json!({"configurationType": "remote", "caBundleJwks": "",
               "bundleEndpointUrl": "https://spire.corp.example:8443",
               "bundleEndpointProfile": "https_spiffe",
               "bundleEndpointCaCert": "-----BEGIN CERTIFICATE-----\nMIIBsimulatedspire\n-----END CERTIFICATE-----",
               "bundleRefreshHintSeconds": 300, "cachedBundleLastRefreshedAt": null})
    } else {
        json!({"configurationType": "static",
               "caBundleJwks": "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"sim-spire-1\",\"use\":\"jwt-svid\",\"x\":\"simulated\",\"y\":\"simulated\"}]}",
               "bundleEndpointUrl": null, "bundleEndpointProfile": null,
               "bundleEndpointCaCert": "", "bundleRefreshHintSeconds": 3600,
               "cachedBundleLastRefreshedAt": null})
    };
    if let Value::Object(columns) = columns {
        m.extend(columns);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn deterministic_and_covers_every_method_and_rule() {
        let cfg = SimConfig::default();
        let a = generate(&cfg);
        let b = generate(&cfg);
        assert_eq!(a.planted, b.planted);
        assert_eq!(a.identities.len(), 50);
        let methods: HashSet<&AuthMethod> = a
            .identities
            .iter()
            .flat_map(|i| i.configs.iter().map(|(m, _)| m))
            .collect();
        assert_eq!(methods.len(), 13);
        let rules: HashSet<&str> = a.planted.iter().map(|p| p.kind.rule_id()).collect();
        assert_eq!(rules.len(), 4, "{rules:?}");
    }

    #[test]
    fn generated_configs_are_ones_a_server_could_hold() {
        let g = generate(&SimConfig {
            identities: 500,
            ..SimConfig::default()
        });
        for i in &g.identities {
            for (_, c) in &i.configs {
                let t = c["accessTokenTTL"].as_u64().unwrap();
                let m = c["accessTokenMaxTTL"].as_u64().unwrap();
                assert!(t == 0 || m == 0 || t <= m, "{c:?}");
            }
        }
    }
}
