//! Properties of planning and of the re-check, over generated configs and policies: a planned
//! change only touches fields the policy governs, leaves the config satisfying every rule it
//! does not list as manual, never loosens a token limit, and passes the re-check unedited;
//! any edit of it (looser TTL, wider CIDR, extra allowlist entry, another identity, an
//! ungoverned field) is refused.

use proptest::prelude::*;
use serde_json::{Map, Value, json};

use super::*;
use crate::finding::Status;
use crate::remediate::plan::{PlanPolicy, planned_change};
use crate::remediate::rollback::loosening;

const ORG: &str = "org-1";

fn today() -> Date {
    jiff::civil::date(2026, 12, 5)
}

fn identity(method: &AuthMethod) -> Identity {
    Identity {
        id: "3c90c3cc-0d44-4b50-8888-8dd25736052a".into(),
        name: "ci-deploy".into(),
        auth_methods: vec![method.clone()],
        scope: IdentityScope::Organization,
        usage: Default::default(),
    }
}

const SECONDS: [u64; 6] = [0, 60, 3600, 7200, 86400, 2_592_000];
const IPS: [&str; 8] = [
    "0.0.0.0/0",
    "::/0",
    "10.0.0.0/8",
    "10.1.2.3",
    "192.168.0.0/16",
    "fd00::/8",
    "2001:db8::/32",
    "10.20.0.0/16",
];
const NAMES: [&str; 5] = ["svc-a", "svc-b", "root", "svc-*", "intruder"];

fn ip_list() -> impl Strategy<Value = Value> {
    proptest::sample::subsequence(IPS.to_vec(), 1..4).prop_map(|ips| {
        Value::Array(
            ips.into_iter()
                .map(|ip| json!({ "ipAddress": ip }))
                .collect(),
        )
    })
}

fn allowlist() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        Just(json!("")),
        proptest::sample::subsequence(NAMES.to_vec(), 1..4).prop_map(|n| json!(n.join(", "))),
    ]
}

/// A config of one of the methods idguard knows.
fn config() -> impl Strategy<Value = AuthConfig> {
    (
        proptest::sample::select(AuthMethod::KNOWN.to_vec()),
        proptest::sample::select(SECONDS.to_vec()),
        proptest::sample::select(SECONDS.to_vec()),
        proptest::sample::select(vec![0u64, 1, 5, 1000, 100_000]),
        proptest::sample::select(vec![0u64, 60, 7200]),
        ip_list(),
        ip_list(),
        proptest::collection::vec(allowlist(), 3),
    )
        .prop_map(|(method, ttl, max, uses, period, ips, secret_ips, lists)| {
            let mut f = Map::new();
            f.insert("accessTokenTTL".into(), json!(ttl));
            f.insert("accessTokenMaxTTL".into(), json!(max));
            f.insert("accessTokenNumUsesLimit".into(), json!(uses));
            f.insert("accessTokenTrustedIps".into(), ips);
            if method == AuthMethod::Universal {
                f.insert("accessTokenPeriod".into(), json!(period));
                f.insert("clientSecretTrustedIps".into(), secret_ips);
            }
            for (field, value) in method.allowlist_fields().iter().zip(lists) {
                f.insert((*field).to_owned(), value);
            }
            AuthConfig::from_fields(method, f).expect("generated configs decode")
        })
}

/// A policy of one to three rules, each with some of the three kinds of check.
fn policy() -> impl Strategy<Value = Policy> {
    let rule = (
        proptest::option::of((
            proptest::option::of(proptest::sample::select(vec![60u64, 3600, 86400])),
            proptest::option::of(proptest::sample::select(vec![3600u64, 86400])),
            proptest::option::of(proptest::sample::select(vec![1u64, 100])),
            proptest::option::of(any::<bool>()),
        )),
        proptest::option::of((
            proptest::sample::subsequence(
                vec!["10.0.0.0/8", "fd00::/8", "10.20.0.0/16", "2001:db8::/32"],
                1..3,
            ),
            any::<bool>(),
        )),
        proptest::option::of((
            proptest::sample::select(vec![
                "allowedUsernames",
                "allowedPrincipalArns",
                "allowedNamespaces",
                "boundAudiences",
                "allowedSpiffeIds",
                "allowedCommonNames",
            ]),
            any::<bool>(),
            any::<bool>(),
        )),
    );
    proptest::collection::vec(rule, 1..4).prop_filter_map("a rule needs a check", |rules| {
        let mut yaml = String::from("version: 1\nrules:\n");
        for (i, (token, net, list)) in rules.iter().enumerate() {
            yaml.push_str(&format!("  - id: r{i}\n"));
            let mut any = false;
            if let Some((ttl, max, uses, periodic)) = token
                && (ttl.is_some() || max.is_some() || uses.is_some() || periodic.is_some())
            {
                yaml.push_str("    access_token:\n");
                for (key, value) in [
                    ("max_ttl", ttl.map(|v| v.to_string())),
                    ("max_max_ttl", max.map(|v| v.to_string())),
                    ("max_uses", uses.map(|v| v.to_string())),
                    ("allow_periodic", periodic.map(|v| v.to_string())),
                ] {
                    if let Some(v) = value {
                        yaml.push_str(&format!("      {key}: {v}\n"));
                    }
                }
                any = true;
            }
            if let Some((cidrs, fallback)) = net {
                yaml.push_str(&format!(
                    "    trusted_ips:\n      allowed_cidrs: [{}]\n",
                    cidrs.iter().map(|c| format!("\"{c}\"")).collect::<Vec<_>>().join(", ")
                ));
                if *fallback {
                    yaml.push_str(&format!("      fallback_cidrs: [\"{}\"]\n", cidrs[0]));
                }
                any = true;
            }
            if let Some((field, required, default)) = list {
                yaml.push_str(&format!(
                    "    allowlists:\n      - field: {field}\n        required: {required}\n        allowed: [\"svc-*\"]\n"
                ));
                if *default {
                    yaml.push_str("        default: [svc-a]\n");
                }
                any = true;
            }
            if !any {
                return None;
            }
        }
        crate::policy::parse(&yaml, "generated.yaml").ok()
    })
}

/// The config after `patch` (request encoding) is written.
fn written(config: &AuthConfig, patch: &Map<String, Value>) -> AuthConfig {
    let mut fields = plan::policy_fields(config);
    fields.extend(patch.clone());
    AuthConfig::from_fields(config.method.clone(), fields).expect("patched config decodes")
}

fn plan_of(change: PlannedChange, policy: &Policy) -> Plan {
    Plan {
        schema_version: plan::PLAN_SCHEMA_VERSION,
        kind: "idguard-plan".into(),
        created_at: "2026-12-05T00:00:00Z".into(),
        api_url: "https://infisical.example.com".into(),
        org_id: ORG.into(),
        policy: PlanPolicy {
            path: "generated.yaml".into(),
            sha256: policy.sha256.clone(),
        },
        changes: vec![change],
        manual: vec![],
        shared_exemption_names: vec![],
    }
}

/// The planned change of one generated config, if it needs one.
fn planned(policy: &Policy, config: &AuthConfig) -> Option<PlannedChange> {
    let who = identity(&config.method);
    let change = evaluate::plan_config(policy, &who, config, today());
    let findings = evaluate::evaluate(policy, ORG, &who, config, today());
    planned_change(ORG, &who, config, &change, &findings)
}

/// Ways to edit a planned change by hand.
#[derive(Debug, Clone, Copy)]
enum Edit {
    LooserTtl,
    WiderCidr,
    ExtraAllowlistEntry,
    OtherIdentity,
    UngovernedField,
}

fn edit(change: &mut PlannedChange, how: Edit) -> bool {
    let after = &mut change.after;
    match how {
        Edit::LooserTtl => {
            let Some(ttl) = after.get("accessTokenMaxTTL").and_then(Value::as_u64) else {
                return false;
            };
            after.insert(
                "accessTokenMaxTTL".into(),
                json!(ttl.saturating_mul(2).max(1)),
            );
            if let Some(t) = change.patch.get_mut("accessTokenMaxTTL") {
                *t = after["accessTokenMaxTTL"].clone();
            }
        }
        Edit::WiderCidr => {
            let Some(Value::Array(ips)) = after.get_mut("accessTokenTrustedIps") else {
                return false;
            };
            ips.push(json!({"ipAddress": "0.0.0.0/0"}));
            change
                .patch
                .insert("accessTokenTrustedIps".into(), Value::Array(ips.clone()));
        }
        Edit::ExtraAllowlistEntry => {
            let Some((field, Value::String(list))) = after
                .iter_mut()
                .find(|(k, v)| k.starts_with("allowed") || k.starts_with("bound") && v.is_string())
            else {
                return false;
            };
            list.push_str(", intruder");
            let (field, list) = (field.clone(), list.clone());
            change.patch.insert(field, json!(list));
        }
        Edit::OtherIdentity => {
            change.identity_id = "0f8e4a52-5b1e-4c1a-9d6b-2c7e8f9a0b1c".into();
        }
        Edit::UngovernedField => {
            change
                .after
                .insert("stsEndpoint".into(), json!("https://evil.example.com/"));
            change
                .patch
                .insert("stsEndpoint".into(), json!("https://evil.example.com/"));
        }
    }
    true
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    /// A planned change only touches governed fields, satisfies every rule of the policy that
    /// is not left manual, never loosens a token limit, and passes the re-check as written.
    #[test]
    fn planned_changes_satisfy_the_policy_and_pass_the_recheck(
        policy in policy(),
        config in config(),
    ) {
        let Some(change) = planned(&policy, &config) else { return Ok(()); };
        let governed = governed_fields(&policy, &config.method);
        for field in change.after.keys() {
            prop_assert!(governed.contains(field.as_str()), "{field} is not governed");
        }
        let after = written(&config, &change.after);
        let who = identity(&config.method);
        let manual = evaluate::plan_config(&policy, &who, &config, today()).manual;
        for f in evaluate::evaluate(&policy, ORG, &who, &after, today()) {
            let left_manual = manual.iter().any(|(rule, _)| *rule == f.rule);
            prop_assert!(
                f.status == Status::Pass || left_manual,
                "rule {} is {:?} after the change: {:?}", f.rule, f.status, f.violations
            );
        }
        for field in plan::TOKEN_FIELDS {
            if let Some(to) = change.after.get(field) {
                let from = &change.before[field];
                prop_assert!(loosening(field, from, to).is_none(), "{field}: {from} -> {to}");
            }
        }
        let plan = plan_of(change, &policy);
        prop_assert_eq!(recheck(&plan, &policy, today()), vec![]);
    }

    /// Any edit of a planned change makes the re-check refuse it.
    #[test]
    fn edited_changes_are_refused(
        policy in policy(),
        config in config(),
        how in proptest::sample::select(vec![
            Edit::LooserTtl,
            Edit::WiderCidr,
            Edit::ExtraAllowlistEntry,
            Edit::OtherIdentity,
            Edit::UngovernedField,
        ]),
    ) {
        let Some(mut change) = planned(&policy, &config) else { return Ok(()); };
        if !edit(&mut change, how) {
            return Ok(());
        }
        let plan = plan_of(change, &policy);
        let offences = recheck(&plan, &policy, today());
        prop_assert_eq!(offences.len(), 1, "{:?} was not refused", how);
    }
}

/// A plan recorded for another policy's rules is refused even when the edit is consistent:
/// rules_fixed naming a rule the policy does not fix.
#[test]
fn a_change_claiming_other_rules_is_refused() {
    let policy = crate::policy::parse(
        "version: 1\nrules:\n  - id: ttl\n    access_token: { max_ttl: 1h }\n",
        "p.yaml",
    )
    .expect("policy");
    let mut f = Map::new();
    f.insert("accessTokenTTL".into(), json!(0));
    f.insert("accessTokenMaxTTL".into(), json!(0));
    f.insert("accessTokenNumUsesLimit".into(), json!(0));
    let config = AuthConfig::from_fields(AuthMethod::Token, f).expect("config");
    let mut change = planned(&policy, &config).expect("a change");
    change.rules_fixed.push("network".into());
    let offences = recheck(&plan_of(change, &policy), &policy, today());
    assert_eq!(offences.len(), 1);
    assert!(
        offences[0].problem.contains("fixes rules"),
        "{}",
        offences[0]
    );
}
