//! The remediation plan (`plan.json`): per config, the identity, method, the violations fixed,
//! the before and after values of the fields to change, the exact PATCH body, the
//! policy-relevant fields of the live config it was computed from (so `apply` can compute the
//! change again and refuse a plan edited by hand) and a hash of that whole config (to detect
//! drift before applying). Configs that cannot be fixed automatically are listed as `manual`
//! with the reason.
//!
//! Building a [`PlannedChange`] is pure; reading and writing the file is here too.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::patch_body;
use crate::evaluate::ConfigChange;
use crate::finding::{Finding, Status};
use crate::model::{AuthConfig, AuthMethod, Identity};

/// The plan schema version (2: changes record `planned_from`).
pub const PLAN_SCHEMA_VERSION: u32 = 2;

/// A whole plan file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    pub schema_version: u32,
    pub kind: String,
    pub created_at: String,
    pub api_url: String,
    pub org_id: String,
    pub policy: PlanPolicy,
    pub changes: Vec<PlannedChange>,
    pub manual: Vec<ManualItem>,
    /// Exemption names several identities of the org held when the plan was made: those
    /// exemptions covered none of them (the re-check judges the plan the same way).
    #[serde(default)]
    pub shared_exemption_names: Vec<String>,
}

/// The policy a plan was computed with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanPolicy {
    pub path: String,
    pub sha256: String,
}

/// One config to PATCH.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlannedChange {
    /// Stable id of this change (hash of org, identity and method).
    pub change_id: String,
    pub identity_id: String,
    pub identity_name: String,
    pub auth_method: String,
    pub rules_fixed: Vec<String>,
    /// The violations this change fixes.
    pub violations: Vec<PlannedViolation>,
    /// Live values of the fields to change (request encoding).
    pub before: Map<String, Value>,
    /// New values of those fields.
    pub after: Map<String, Value>,
    /// The fields of the live config the policy judges (token fields, trusted IPs, the
    /// method's allowlists; request encoding), as they were when the change was computed.
    /// `apply` re-plans from them and requires the live config to still hold them.
    pub planned_from: Map<String, Value>,
    /// The exact PATCH body (the changes plus every field resent to avoid Infisical's resets),
    /// with clear-text secrets redacted: `apply` rebuilds it from the fresh GET and checks it
    /// matches.
    pub patch: Map<String, Value>,
    /// SHA-256 of the live config the plan was computed from.
    pub config_sha256: String,
    /// Fields this change leaves alone although the policy would change them, with the reason
    /// (usage evidence shows an address in use that a narrowed trusted-IP list would cut off).
    /// `apply` computes the change again with the same holds: a hold only ever writes less.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub held: crate::evaluate::Holds,
}

/// A violation as the plan records it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlannedViolation {
    pub rule: String,
    pub check: String,
    pub field: String,
    pub observed: String,
    pub expected: String,
}

/// A failing rule that needs a human.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManualItem {
    pub identity_id: String,
    pub identity_name: String,
    pub auth_method: String,
    pub rule: String,
    pub reason: String,
}

/// Errors reading a plan.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error(transparent)]
    Read(#[from] crate::input::InputError),
    #[error("{path}:{line}:{column}: not a valid idguard plan: {message}")]
    Invalid {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
}

impl Plan {
    /// Reads and checks a plan file.
    pub fn load(path: &Path) -> Result<Plan, PlanError> {
        let bytes = crate::input::read_capped(path, crate::input::PLAN_CAP, "plan")?;
        let invalid = |line, column, message: String| PlanError::Invalid {
            path: path.to_owned(),
            line,
            column,
            message,
        };
        let plan: Plan = serde_json::from_slice(&bytes)
            .map_err(|e| invalid(e.line(), e.column(), e.to_string()))?;
        if plan.schema_version != PLAN_SCHEMA_VERSION || plan.kind != "idguard-plan" {
            return Err(invalid(
                1,
                1,
                format!(
                    "expected kind \"idguard-plan\" with schema_version {PLAN_SCHEMA_VERSION} \
                     (a plan from another idguard version: run `idguard remediate` again)"
                ),
            ));
        }
        for (i, c) in plan.changes.iter().enumerate() {
            let problems = patch_body::loosening_problems(
                &crate::model::AuthMethod::parse(&c.auth_method),
                &c.patch,
            );
            if !problems.is_empty() || c.patch.is_empty() {
                return Err(invalid(
                    1,
                    1,
                    format!(
                        "change {} ({}, {}) has an unsafe PATCH body: {}",
                        i + 1,
                        c.identity_id,
                        c.auth_method,
                        if problems.is_empty() {
                            "empty".to_owned()
                        } else {
                            problems.join("; ")
                        }
                    ),
                ));
            }
        }
        Ok(plan)
    }
}

/// SHA-256 over the config's canonical JSON (keys sorted at every level).
pub fn config_sha256(config: &AuthConfig) -> String {
    let canonical = canonical(&Value::Object(config.fields().clone()));
    hex::encode(Sha256::digest(canonical.as_bytes()))
}

fn canonical(v: &Value) -> String {
    match v {
        Value::Object(map) => {
            let sorted: BTreeMap<&String, &Value> = map.iter().collect();
            let parts: Vec<String> = sorted
                .into_iter()
                .map(|(k, v)| format!("{}:{}", Value::String(k.clone()), canonical(v)))
                .collect();
            format!("{{{}}}", parts.join(","))
        }
        Value::Array(items) => {
            format!(
                "[{}]",
                items.iter().map(canonical).collect::<Vec<_>>().join(",")
            )
        }
        other => other.to_string(),
    }
}

/// The token fields every method has, in the request encoding's names.
pub const TOKEN_FIELDS: [&str; 4] = [
    "accessTokenTTL",
    "accessTokenMaxTTL",
    "accessTokenNumUsesLimit",
    "accessTokenPeriod",
];

/// The trusted-IP fields.
pub const TRUSTED_IP_FIELDS: [&str; 2] = ["accessTokenTrustedIps", "clientSecretTrustedIps"];

/// The fields of `config` a policy can judge, those the config has, in the request encoding:
/// the token fields, the trusted-IP lists and the method's allowlists. Never secrets.
pub fn policy_fields(config: &AuthConfig) -> Map<String, Value> {
    let mut out = Map::new();
    for field in TOKEN_FIELDS {
        if field != "accessTokenPeriod" || config.access_token_period.is_some() {
            out.insert(field.to_owned(), request_value(config, field));
        }
    }
    for field in TRUSTED_IP_FIELDS {
        if config.trusted_ips(field).is_some() {
            out.insert(field.to_owned(), request_value(config, field));
        }
    }
    for field in config.method.allowlist_fields() {
        if let Some(value) = config.field(field) {
            out.insert((*field).to_owned(), value.clone());
        }
    }
    out
}

/// The live value of `field` in the request encoding (trusted IPs as `[{"ipAddress": ...}]`,
/// everything else as stored; a missing field is null).
pub fn request_value(config: &AuthConfig, field: &str) -> Value {
    match field {
        "accessTokenTTL" => Value::from(config.access_token_ttl),
        "accessTokenMaxTTL" => Value::from(config.access_token_max_ttl),
        "accessTokenNumUsesLimit" => Value::from(config.access_token_num_uses_limit),
        "accessTokenPeriod" => Value::from(config.access_token_period.unwrap_or(0)),
        "accessTokenTrustedIps" | "clientSecretTrustedIps" => match config.trusted_ips(field) {
            Some(ips) => Value::Array(ips.iter().map(|ip| ip.to_request_json()).collect()),
            None => Value::Null,
        },
        _ => config.field(field).cloned().unwrap_or(Value::Null),
    }
}

/// Whether a live value equals an intended one, modulo the server's normalisation: comma
/// lists compare as sets of trimmed entries, trusted-IP lists as sets of entries.
pub fn same_value(field: &str, live: &Value, intended: &Value) -> bool {
    if live == intended {
        return true;
    }
    match (live, intended) {
        (Value::String(a), Value::String(b)) if AuthMethod::is_single_value_field(field) => {
            a.trim() == b.trim()
        }
        (Value::String(a), Value::String(b)) => comma_set(a) == comma_set(b),
        (Value::Null, Value::String(s)) | (Value::String(s), Value::Null) => {
            // An empty list and null both mean "no restriction" only for allowlists.
            AuthMethod::is_allowlist_field(field) && comma_set(s).is_empty()
        }
        (Value::Array(a), Value::Array(b)) if field.ends_with("TrustedIps") => {
            ip_set(a) == ip_set(b)
        }
        _ => false,
    }
}

fn comma_set(s: &str) -> std::collections::BTreeSet<String> {
    s.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::to_owned)
        .collect()
}

fn ip_set(items: &[Value]) -> std::collections::BTreeSet<String> {
    items
        .iter()
        .map(|i| {
            i.get("ipAddress")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        })
        .collect()
}

/// The stable id of the change to one config.
pub fn change_id(org_id: &str, identity_id: &str, method: &str) -> String {
    let mut h = Sha256::new();
    for part in [org_id, identity_id, method] {
        h.update(part.as_bytes());
        h.update([0u8]);
    }
    hex::encode(&h.finalize()[..12])
}

/// Builds the planned change of one config from its merged [`ConfigChange`] and findings.
/// `None` when there is nothing to write.
pub fn planned_change(
    org_id: &str,
    identity: &Identity,
    config: &AuthConfig,
    change: &ConfigChange,
    findings: &[Finding],
) -> Option<PlannedChange> {
    if change.is_empty() {
        return None;
    }
    let before: Map<String, Value> = change
        .patch
        .keys()
        .map(|k| (k.clone(), request_value(config, k)))
        .collect();
    let violations = findings
        .iter()
        .filter(|f| f.status == Status::Fail && change.rules_fixed.contains(&f.rule))
        .flat_map(|f| {
            f.violations.iter().map(move |v| PlannedViolation {
                rule: f.rule.clone(),
                check: v.check.as_str().to_owned(),
                field: v.field.clone(),
                observed: v.observed.clone(),
                expected: v.expected.clone(),
            })
        })
        .collect();
    Some(PlannedChange {
        change_id: change_id(org_id, &identity.id, config.method.as_str()),
        identity_id: identity.id.clone(),
        identity_name: identity.name.clone(),
        auth_method: config.method.to_string(),
        rules_fixed: change.rules_fixed.clone(),
        violations,
        before,
        after: change.patch.clone(),
        planned_from: policy_fields(config),
        patch: patch_body::redacted(&patch_body::build(config, &change.patch)),
        config_sha256: config_sha256(config),
        held: crate::evaluate::Holds::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::AuthMethod;
    use serde_json::json;

    fn cfg(fields: Value) -> AuthConfig {
        AuthConfig::from_fields(AuthMethod::Oci, fields.as_object().cloned().unwrap()).unwrap()
    }

    #[test]
    fn hash_ignores_key_order_but_not_values() {
        let a = cfg(
            json!({"accessTokenTTL": 1, "accessTokenMaxTTL": 2, "accessTokenNumUsesLimit": 0, "x": {"b": 1, "a": 2}}),
        );
        let b = cfg(
            json!({"x": {"a": 2, "b": 1}, "accessTokenNumUsesLimit": 0, "accessTokenMaxTTL": 2, "accessTokenTTL": 1}),
        );
        let c = cfg(
            json!({"accessTokenTTL": 1, "accessTokenMaxTTL": 3, "accessTokenNumUsesLimit": 0, "x": {"b": 1, "a": 2}}),
        );
        assert_eq!(config_sha256(&a), config_sha256(&b));
        assert_ne!(config_sha256(&a), config_sha256(&c));
    }

    #[test]
    fn values_compare_modulo_normalisation() {
        assert!(same_value(
            "allowedUsernames",
            &json!("a, b"),
            &json!("b,a")
        ));
        assert!(!same_value("allowedUsernames", &json!("a, b"), &json!("a")));
        assert!(same_value("allowedUsernames", &Value::Null, &json!("")));
        assert!(same_value(
            "accessTokenTrustedIps",
            &json!([{"ipAddress": "10.0.0.0/8"}, {"ipAddress": "1.2.3.4"}]),
            &json!([{"ipAddress": "1.2.3.4"}, {"ipAddress": "10.0.0.0/8"}])
        ));
        assert!(!same_value("accessTokenTTL", &json!(1), &json!(2)));
    }

    #[test]
    fn request_value_uses_the_request_encoding() {
        let c = cfg(
            json!({"accessTokenTTL": 1, "accessTokenMaxTTL": 2, "accessTokenNumUsesLimit": 0,
            "accessTokenTrustedIps": [{"ipAddress": "10.1.2.3", "type": "ipv4", "prefix": 8}]}),
        );
        assert_eq!(
            request_value(&c, "accessTokenTrustedIps"),
            json!([{"ipAddress": "10.1.2.3/8"}])
        );
        assert_eq!(request_value(&c, "allowedUsernames"), Value::Null);
    }
}

/// Collects planned changes while an audit streams past.
#[derive(Debug)]
pub struct PlanBuilder {
    org_id: String,
    today: jiff::civil::Date,
    changes: Vec<PlannedChange>,
    manual: Vec<ManualItem>,
}

impl PlanBuilder {
    /// An empty plan for `org_id`, judging exemptions on `today`.
    pub fn new(org_id: &str, today: jiff::civil::Date) -> PlanBuilder {
        PlanBuilder {
            org_id: org_id.to_owned(),
            today,
            changes: Vec::new(),
            manual: Vec::new(),
        }
    }

    /// Adds what one audited config needs (nothing when it passes).
    pub fn observe(
        &mut self,
        policy: &crate::policy::Policy,
        identity: &Identity,
        config: &AuthConfig,
        findings: &[Finding],
        holds: &crate::evaluate::Holds,
    ) {
        if !findings.iter().any(|f| f.status == Status::Fail) {
            return;
        }
        let change = crate::evaluate::plan_config_held(policy, identity, config, self.today, holds);
        for (rule, reason) in &change.manual {
            self.manual.push(ManualItem {
                identity_id: identity.id.clone(),
                identity_name: identity.name.clone(),
                auth_method: config.method.to_string(),
                rule: rule.clone(),
                reason: reason.clone(),
            });
        }
        if let Some(mut c) = planned_change(&self.org_id, identity, config, &change, findings) {
            c.held = holds.clone();
            self.changes.push(c);
        }
    }

    /// Lists the failing results among `findings` whose remediation is manual whatever the
    /// config says (usage: a stale identity), as manual items.
    pub fn note_manual(&mut self, findings: &[Finding]) {
        for f in findings.iter().filter(|f| f.status == Status::Fail) {
            if let Some(crate::finding::Remediation::Manual { reason, .. }) = &f.remediation {
                self.manual.push(ManualItem {
                    identity_id: f.identity_id.clone(),
                    identity_name: f.identity_name.clone(),
                    auth_method: f.auth_method.to_string(),
                    rule: f.rule.clone(),
                    reason: reason.clone(),
                });
            }
        }
    }

    /// The finished plan, sorted by identity name for a stable file.
    pub fn finish(mut self, api_url: &str, policy: PlanPolicy) -> Plan {
        self.changes.sort_by(|a, b| {
            (&a.identity_name, &a.identity_id, &a.auth_method).cmp(&(
                &b.identity_name,
                &b.identity_id,
                &b.auth_method,
            ))
        });
        self.manual.sort_by(|a, b| {
            (&a.identity_name, &a.identity_id, &a.auth_method, &a.rule).cmp(&(
                &b.identity_name,
                &b.identity_id,
                &b.auth_method,
                &b.rule,
            ))
        });
        Plan {
            schema_version: PLAN_SCHEMA_VERSION,
            kind: "idguard-plan".into(),
            created_at: jiff::Timestamp::now().to_string(),
            api_url: api_url.to_owned(),
            org_id: self.org_id,
            policy,
            changes: self.changes,
            manual: self.manual,
            shared_exemption_names: Vec::new(),
        }
    }
}

#[cfg(test)]
mod emptiness_tests {
    use super::*;
    use serde_json::json;

    /// Null and an empty list mean "anyone" for every allowlist field (OIDC/JWT
    /// `boundAudiences` included), and for no other field; a single-value field compares whole.
    #[test]
    fn null_and_empty_are_the_same_for_every_allowlist() {
        assert!(same_value("boundAudiences", &Value::Null, &json!("")));
        assert!(same_value("allowedUsernames", &json!(" , "), &Value::Null));
        assert!(!same_value("jwksUrl", &Value::Null, &json!("")));
        assert!(same_value(
            "allowedAudience",
            &json!(" a,b "),
            &json!("a,b")
        ));
        assert!(!same_value(
            "allowedAudience",
            &json!("a, b"),
            &json!("b,a")
        ));
    }
}
