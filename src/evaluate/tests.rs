//! Evaluation and remediation tests: every rule of docs/policy.md (what a rule means) and of
//! docs/remediation.md (what a change may contain), on hand-built configs.

use serde_json::{Value, json};

use super::*;
use crate::finding::{CheckCode, Severity};
use crate::model::IdentityScope;

fn policy(yaml: &str) -> Policy {
    crate::policy::parse(yaml, "t.yaml").unwrap_or_else(|d| {
        panic!(
            "{}",
            d.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        )
    })
}

fn ident(id: &str, name: &str) -> Identity {
    Identity {
        id: id.into(),
        name: name.into(),
        auth_methods: Vec::new(),
        scope: IdentityScope::Organization,
        usage: Default::default(),
    }
}

fn who() -> Identity {
    ident("id-1", "ci-deploy")
}

fn today() -> Date {
    jiff::civil::date(2026, 11, 25)
}

/// A config of `method` with sane defaults, overridden by `extra`.
fn cfg(method: AuthMethod, extra: Value) -> AuthConfig {
    let mut fields = json!({
        "accessTokenTTL": 600, "accessTokenMaxTTL": 3600, "accessTokenNumUsesLimit": 10,
        "accessTokenTrustedIps": [{"ipAddress": "10.0.0.0", "type": "ipv4", "prefix": 8}],
    });
    if method == AuthMethod::Universal {
        fields["accessTokenPeriod"] = json!(0);
        fields["clientSecretTrustedIps"] =
            json!([{"ipAddress": "10.0.0.0", "type": "ipv4", "prefix": 8}]);
    }
    let (Value::Object(mut base), Value::Object(extra)) = (fields, extra) else {
        panic!("objects")
    };
    for (k, v) in extra {
        if v == json!("__remove__") {
            base.remove(&k);
        } else {
            base.insert(k, v);
        }
    }
    AuthConfig::from_fields(method, base).expect("valid config")
}

fn ua(extra: Value) -> AuthConfig {
    cfg(AuthMethod::Universal, extra)
}

fn run(p: &Policy, c: &AuthConfig) -> Vec<Finding> {
    evaluate(p, "org", &who(), c, today())
}

fn one(p: &Policy, c: &AuthConfig) -> Finding {
    let f = run(p, c);
    assert_eq!(f.len(), 1, "{f:#?}");
    f.into_iter().next().expect("one")
}

fn codes(f: &Finding) -> Vec<CheckCode> {
    f.violations.iter().map(|v| v.check).collect()
}

fn patch(f: &Finding) -> Map<String, Value> {
    match &f.remediation {
        Some(Remediation::Auto { patch, .. }) => patch.clone(),
        other => panic!("expected auto remediation, got {other:?}"),
    }
}

fn manual_reason(f: &Finding) -> String {
    match &f.remediation {
        Some(Remediation::Manual { reason, .. }) => reason.clone(),
        other => panic!("expected manual remediation, got {other:?}"),
    }
}

const TOKEN: &str =
    "version: 1\nrules:\n  - id: t\n    access_token:\n      max_ttl: 1h\n      max_max_ttl: 24h\n";

#[test]
fn compliant_config_passes_without_remediation() {
    let f = one(&policy(TOKEN), &ua(json!({})));
    assert_eq!(f.status, Status::Pass);
    assert!(f.violations.is_empty() && f.remediation.is_none() && f.exemption.is_none());
    assert_eq!(
        f.finding_id,
        finding_id("org", "id-1", &AuthMethod::Universal, "t")
    );
    assert_eq!(f.severity, Severity::Medium);
}

#[test]
fn ttl_zero_is_unlimited_and_fails_max_ttl() {
    let f = one(&policy(TOKEN), &ua(json!({"accessTokenTTL": 0})));
    assert_eq!(f.status, Status::Fail);
    assert_eq!(codes(&f), vec![CheckCode::MaxTtl]);
    assert_eq!(f.violations[0].observed, "0 (unlimited)");
    assert_eq!(f.violations[0].expected, "<= 3600s (1h)");
    assert_eq!(f.violations[0].field, "accessTokenTTL");
}

#[test]
fn ttl_above_max_fails_with_human_values() {
    let f = one(
        &policy(TOKEN),
        &ua(json!({"accessTokenTTL": 86400, "accessTokenMaxTTL": 86400})),
    );
    assert_eq!(codes(&f), vec![CheckCode::MaxTtl]);
    assert_eq!(f.violations[0].observed, "86400s (24h)");
    let ok = one(&policy(TOKEN), &ua(json!({"accessTokenTTL": 3600})));
    assert_eq!(ok.status, Status::Pass, "equal to the bound passes");
}

#[test]
fn max_ttl_zero_is_unlimited_and_fails_max_max_ttl() {
    let f = one(&policy(TOKEN), &ua(json!({"accessTokenMaxTTL": 0})));
    assert_eq!(codes(&f), vec![CheckCode::MaxMaxTtl]);
    assert_eq!(f.violations[0].observed, "0 (unlimited)");
    let f = one(&policy(TOKEN), &ua(json!({"accessTokenMaxTTL": 90000})));
    assert_eq!(codes(&f), vec![CheckCode::MaxMaxTtl]);
}

#[test]
fn periodic_token_ttl_is_period_and_max_is_unlimited() {
    // Period 30m within max_ttl, but periodic => effective max TTL unlimited.
    let f = one(&policy(TOKEN), &ua(json!({"accessTokenPeriod": 1800})));
    assert_eq!(codes(&f), vec![CheckCode::MaxMaxTtl]);
    // Period 2h > max_ttl 1h even though the stored TTL is short.
    let f = one(&policy(TOKEN), &ua(json!({"accessTokenPeriod": 7200})));
    assert_eq!(codes(&f), vec![CheckCode::MaxTtl, CheckCode::MaxMaxTtl]);
    assert_eq!(f.violations[0].field, "accessTokenPeriod");
}

#[test]
fn allow_periodic_true_skips_max_max_ttl_for_periodic_tokens() {
    let p = policy(&format!("{TOKEN}      allow_periodic: true\n"));
    let f = one(&p, &ua(json!({"accessTokenPeriod": 1800})));
    assert_eq!(f.status, Status::Pass);
    // ... but max_ttl still judges the period.
    let f = one(&p, &ua(json!({"accessTokenPeriod": 7200})));
    assert_eq!(codes(&f), vec![CheckCode::MaxTtl]);
    // A non-periodic token is still judged by max_max_ttl.
    let f = one(&p, &ua(json!({"accessTokenMaxTTL": 0})));
    assert_eq!(codes(&f), vec![CheckCode::MaxMaxTtl]);
}

#[test]
fn allow_periodic_false_fails_only_on_a_period() {
    let p = policy("version: 1\nrules:\n  - id: p\n    access_token: {allow_periodic: false}\n");
    let f = one(&p, &ua(json!({"accessTokenPeriod": 60})));
    assert_eq!(codes(&f), vec![CheckCode::AllowPeriodic]);
    assert_eq!(f.violations[0].observed, "60s (1m)");
    assert_eq!(one(&p, &ua(json!({}))).status, Status::Pass);
    // A config without accessTokenPeriod: the check does not apply => no result at all.
    assert!(run(&p, &cfg(AuthMethod::Oci, json!({}))).is_empty());
}

#[test]
fn max_uses_fails_on_zero_and_above() {
    let p = policy("version: 1\nrules:\n  - id: u\n    access_token: {max_uses: 100}\n");
    let f = one(&p, &ua(json!({"accessTokenNumUsesLimit": 0})));
    assert_eq!(codes(&f), vec![CheckCode::MaxUses]);
    assert_eq!(f.violations[0].observed, "0 (unlimited)");
    assert_eq!(f.violations[0].expected, "<= 100");
    assert_eq!(patch(&f)["accessTokenNumUsesLimit"], json!(100));
    assert!(!patch(&f).contains_key("accessTokenTTL"), "uses-only fix");
    let f = one(&p, &ua(json!({"accessTokenNumUsesLimit": 101})));
    assert_eq!(f.violations[0].observed, "101");
    assert_eq!(
        one(&p, &ua(json!({"accessTokenNumUsesLimit": 100}))).status,
        Status::Pass
    );
}

const NET: &str = "version: 1\nrules:\n  - id: net\n    trusted_ips:\n      allowed_cidrs: [10.0.0.0/8, \"fd00::/8\"]\n";

fn ips(list: &[&str]) -> Value {
    Value::Array(
        list.iter()
            .map(|s| {
                crate::model::TrustedIp::parse(s)
                    .expect("ip")
                    .to_stored_json()
            })
            .collect(),
    )
}

fn net_status(entries: &[&str]) -> Finding {
    one(
        &policy(NET),
        &cfg(
            AuthMethod::Oci,
            json!({"accessTokenTrustedIps": ips(entries)}),
        ),
    )
}

#[test]
fn trusted_ips_compare_by_containment() {
    for ok in [
        &["10.0.0.0/8"][..],
        &["10.1.2.3/8"],
        &["10.1.2.3"],
        &["10.20.0.0/16", "fd12::/16"],
        &["fd00::1"],
        &["::ffff:10.0.0.0/104"],
        &["::ffff:10.1.2.3"],
    ] {
        assert_eq!(net_status(ok).status, Status::Pass, "{ok:?}");
    }
    for bad in [
        &["0.0.0.0/0"][..],
        &["::/0"],
        &["::ffff:0:0/96"],
        &["11.0.0.1"],
        &["10.0.0.0/7"],
        &["fe80::/10"],
        &["10.0.0.0/8", "192.168.1.1"],
    ] {
        assert_eq!(net_status(bad).status, Status::Fail, "{bad:?}");
    }
}

#[test]
fn trusted_ip_violation_shows_outside_entries() {
    let f = net_status(&["0.0.0.0/0", "10.1.0.0/16", "11.1.2.3/8", "::ffff:0:0/96"]);
    let v = &f.violations[0];
    assert_eq!(v.check, CheckCode::TrustedIps);
    assert_eq!(v.field, "accessTokenTrustedIps");
    assert_eq!(
        v.observed,
        "0.0.0.0/0, 11.1.2.3/8 (= 11.0.0.0/8), ::ffff:0.0.0.0/96 (= 0.0.0.0/0)"
    );
    assert_eq!(v.expected, "inside [10.0.0.0/8, fd00::/8]");
}

#[test]
fn trusted_ip_fields_follow_the_method() {
    // universal-auth: both fields judged by default.
    let f = one(
        &policy(NET),
        &ua(json!({"clientSecretTrustedIps": ips(&["0.0.0.0/0"])})),
    );
    assert_eq!(f.violations.len(), 1);
    assert_eq!(f.violations[0].field, "clientSecretTrustedIps");
    // A missing / null field the method has fails with "(missing)".
    let f = one(&policy(NET), &ua(json!({"clientSecretTrustedIps": null})));
    assert_eq!(f.violations[0].observed, "(missing)");
    // A rule judging only clientSecretTrustedIps gives no result for oci-auth.
    let p = policy(&format!("{NET}      fields: [clientSecretTrustedIps]\n"));
    assert!(run(&p, &cfg(AuthMethod::Oci, json!({}))).is_empty());
    assert_eq!(run(&p, &ua(json!({}))).len(), 1);
}

const OCI: &str = "version: 1\nrules:\n  - id: oci\n    allowlists:\n      - field: allowedUsernames\n        required: true\n        allowed: [\"svc-*\"]\n";

fn oci(value: Value) -> AuthConfig {
    cfg(AuthMethod::Oci, json!({"allowedUsernames": value}))
}

#[test]
fn required_allowlist_fails_on_null_missing_and_empty() {
    let p = policy(OCI);
    for (value, observed) in [
        (json!(null), "(null)"),
        (json!("__remove__"), "(missing)"),
        (json!(""), "(empty)"),
        (json!(" , ,"), "(empty)"),
    ] {
        let f = one(&p, &oci(value));
        assert_eq!(codes(&f), vec![CheckCode::Required]);
        assert_eq!(f.violations[0].observed, observed);
    }
    // Not required: a null list is not judged by `allowed`.
    let p = policy(&OCI.replace("required: true", "required: false"));
    assert_eq!(one(&p, &oci(json!(null))).status, Status::Pass);
}

#[test]
fn allowlist_entries_are_split_trimmed_and_judged() {
    let p = policy(OCI);
    assert_eq!(
        one(&p, &oci(json!(" svc-a, ,svc-b,,"))).status,
        Status::Pass
    );
    let f = one(&p, &oci(json!("alice, svc-a,root")));
    assert_eq!(codes(&f), vec![CheckCode::Allowed]);
    assert_eq!(f.violations[0].observed, "alice, root");
    assert_eq!(f.violations[0].expected, "entries in [svc-*]");
    assert_eq!(patch(&f)["allowedUsernames"], json!("svc-a"));
    assert_eq!(
        allowlist_entries(Some(&json!("a, ,b,"))),
        Some(vec!["a".to_owned(), "b".to_owned()])
    );
}

#[test]
fn wildcard_entry_passes_only_when_a_pattern_matches_its_text() {
    let yaml = "version: 1\nrules:\n  - id: aws\n    allowlists:\n      - field: allowedPrincipalArns\n        allowed: [\"arn:aws:iam::1:role/deploy-*\"]\n";
    let p = policy(yaml);
    let aws = |v: &str| cfg(AuthMethod::Aws, json!({"allowedPrincipalArns": v}));
    assert_eq!(
        one(&p, &aws("arn:aws:iam::1:role/deploy-x")).status,
        Status::Pass
    );
    assert_eq!(
        one(&p, &aws("arn:aws:iam::1:role/deploy-*")).status,
        Status::Pass
    );
    assert_eq!(one(&p, &aws("arn:aws:iam::1:role/*")).status, Status::Fail);
    assert_eq!(one(&p, &aws("arn:aws:iam::1:*")).status, Status::Fail);
}

#[test]
fn identity_globs_ids_and_exclusions() {
    let p = policy(
        "version: 1\nrules:\n  - id: t\n    applies_to:\n      identities: [\"ci-*\", id-9]\n      exclude_identities: [\"ci-break-*\"]\n    access_token: {max_ttl: 1h}\n",
    );
    let c = ua(json!({}));
    let n = |i: Identity| evaluate(&p, "org", &i, &c, today()).len();
    assert_eq!(n(ident("a", "ci-deploy")), 1);
    assert_eq!(n(ident("id-9", "other")), 1, "pattern equal to the id");
    assert_eq!(n(ident("a", "other")), 0);
    assert_eq!(n(ident("a", "ci-break-glass")), 0, "exclusion wins");
    assert_eq!(n(ident("a", "CI-deploy")), 0, "case-sensitive");
}

#[test]
fn auth_methods_filter_and_unknown_methods() {
    let p = policy(
        "version: 1\nrules:\n  - id: only-oci\n    applies_to: {auth_methods: [oci-auth]}\n    access_token: {max_ttl: 1h}\n  - id: all\n    access_token: {max_ttl: 1h}\n",
    );
    let quantum = cfg(AuthMethod::Unknown("quantum-auth".into()), json!({}));
    let f = run(&p, &quantum);
    assert_eq!(
        f.iter().map(|f| f.rule.as_str()).collect::<Vec<_>>(),
        ["all"]
    );
    let f = run(&p, &cfg(AuthMethod::Oci, json!({})));
    assert_eq!(
        f.iter().map(|f| f.rule.as_str()).collect::<Vec<_>>(),
        ["only-oci", "all"],
        "rule order"
    );
}

#[test]
fn rule_with_no_check_for_the_method_gives_no_result() {
    let p = policy(OCI);
    assert!(run(&p, &ua(json!({}))).is_empty());
    assert!(run(&p, &cfg(AuthMethod::Aws, json!({}))).is_empty());
    assert!(error_findings(&p, "org", &who(), &AuthMethod::Universal, "boom").is_empty());
}

const EXEMPT: &str = "version: 1\nrules:\n  - id: t\n    access_token: {max_ttl: 1h}\n  - id: u\n    access_token: {max_uses: 5}\nexemptions:\n  - identity: ci-deploy\n    rules: [t]\n    reason: vendor\n    owner: sec@x\n    expires: 2026-12-01\n";

#[test]
fn unexpired_exemption_turns_fail_into_exempt() {
    let p = policy(EXEMPT);
    let c = ua(json!({"accessTokenTTL": 0, "accessTokenNumUsesLimit": 0}));
    let f = run(&p, &c);
    assert_eq!(f[0].status, Status::Exempt);
    assert_eq!(codes(&f[0]), vec![CheckCode::MaxTtl], "violations kept");
    let e = f[0].exemption.as_ref().expect("exemption set");
    assert_eq!(
        (e.reason.as_str(), e.expires.as_str()),
        ("vendor", "2026-12-01")
    );
    assert_eq!(e.owner.as_deref(), Some("sec@x"));
    assert!(matches!(f[0].remediation, Some(Remediation::Auto { .. })));
    assert_eq!(f[1].status, Status::Fail, "exemption names only rule t");
    // By id too, and for all rules when `rules` is absent.
    let p = policy(&EXEMPT.replace("identity: ci-deploy\n    rules: [t]", "identity: id-1"));
    assert!(run(&p, &c).iter().all(|f| f.status == Status::Exempt));
}

#[test]
fn exemption_stops_applying_on_its_expiry_day() {
    let p = policy(EXEMPT);
    let c = ua(json!({"accessTokenTTL": 0}));
    let on = |d: Date| evaluate(&p, "org", &who(), &c, d)[0].status;
    assert_eq!(on(jiff::civil::date(2026, 11, 30)), Status::Exempt);
    assert_eq!(on(jiff::civil::date(2026, 12, 1)), Status::Fail);
    assert_eq!(on(jiff::civil::date(2027, 1, 1)), Status::Fail);
    // A passing rule stays pass even when exempted.
    assert_eq!(run(&p, &ua(json!({})))[0].status, Status::Pass);
}

#[test]
fn severity_defaults() {
    let p = policy(
        "version: 1\ndefaults: {severity: low}\nrules:\n  - id: a\n    access_token: {max_ttl: 1h}\n  - id: b\n    severity: critical\n    access_token: {max_ttl: 1h}\n",
    );
    let f = run(&p, &ua(json!({})));
    assert_eq!(
        (f[0].severity, f[1].severity),
        (Severity::Low, Severity::Critical)
    );
    assert_eq!(
        one(&policy(TOKEN), &ua(json!({}))).severity,
        Severity::Medium
    );
}

#[test]
fn error_findings_cover_every_rule_that_could_apply() {
    let p = policy(&format!(
        "{TOKEN}  - id: oci\n    allowlists:\n      - field: allowedUsernames\n        required: true\nexemptions:\n  - identity: ci-deploy\n    reason: r\n    expires: 2099-01-01\n"
    ));
    let f = error_findings(&p, "org", &who(), &AuthMethod::Oci, "HTTP 500");
    assert_eq!(f.len(), 2);
    assert!(f.iter().all(|f| f.status == Status::Error
        && f.exemption.is_none()
        && f.remediation.is_none()
        && f.error.as_deref() == Some("HTTP 500")));
    assert_eq!(
        error_findings(&p, "org", &who(), &AuthMethod::Universal, "x").len(),
        1
    );
    assert_eq!(
        f[0].finding_id,
        finding_id("org", "id-1", &AuthMethod::Oci, "t")
    );
}

// ---- remediation ----

fn token_policy(lines: &str) -> Policy {
    policy(&format!(
        "version: 1\nrules:\n  - id: t\n    access_token:\n{lines}"
    ))
}

#[test]
fn remediation_removes_period_when_periodic_is_forbidden() {
    let p = token_policy("      max_ttl: 1h\n      allow_periodic: false\n");
    let f = one(
        &p,
        &ua(json!({"accessTokenPeriod": 600, "accessTokenTTL": 0, "accessTokenMaxTTL": 0})),
    );
    assert_eq!(
        Value::Object(patch(&f)),
        json!({"accessTokenPeriod": 0, "accessTokenTTL": 3600, "accessTokenMaxTTL": 0})
    );
}

#[test]
fn remediation_removes_period_when_max_max_ttl_fails_because_of_it() {
    let p = token_policy("      max_max_ttl: 24h\n");
    let f = one(
        &p,
        &ua(json!({"accessTokenPeriod": 600, "accessTokenTTL": 600, "accessTokenMaxTTL": 3600})),
    );
    assert_eq!(
        Value::Object(patch(&f)),
        json!({"accessTokenPeriod": 0, "accessTokenTTL": 600, "accessTokenMaxTTL": 3600})
    );
}

#[test]
fn remediation_lowers_period_when_periodic_is_allowed() {
    let p = token_policy("      max_ttl: 1h\n      max_max_ttl: 24h\n      allow_periodic: true\n");
    let f = one(&p, &ua(json!({"accessTokenPeriod": 7200})));
    assert_eq!(
        Value::Object(patch(&f)),
        json!({"accessTokenPeriod": 3600, "accessTokenTTL": 600, "accessTokenMaxTTL": 3600})
    );
}

#[test]
fn remediation_tightens_ttls_and_sends_both() {
    let p = token_policy("      max_ttl: 1h\n      max_max_ttl: 24h\n");
    // Zeros are unlimited: both replaced by the bounds.
    let f = one(
        &p,
        &ua(json!({"accessTokenTTL": 0, "accessTokenMaxTTL": 0})),
    );
    assert_eq!(
        Value::Object(patch(&f)),
        json!({"accessTokenTTL": 3600, "accessTokenMaxTTL": 86400})
    );
    // Only MaxTTL fails: TTL is resent unchanged.
    let f = one(&p, &ua(json!({"accessTokenMaxTTL": 90000})));
    assert_eq!(
        Value::Object(patch(&f)),
        json!({"accessTokenTTL": 600, "accessTokenMaxTTL": 86400})
    );
    // No max_max_ttl: MaxTTL keeps its stored value and TTL is clamped to it.
    let p = token_policy("      max_ttl: 1h\n");
    let f = one(
        &p,
        &ua(json!({"accessTokenTTL": 0, "accessTokenMaxTTL": 1800})),
    );
    assert_eq!(
        Value::Object(patch(&f)),
        json!({"accessTokenTTL": 1800, "accessTokenMaxTTL": 1800})
    );
    // No max_ttl: an unlimited TTL counts as greater than the new MaxTTL.
    let p = token_policy("      max_max_ttl: 24h\n");
    let f = one(
        &p,
        &ua(json!({"accessTokenTTL": 0, "accessTokenMaxTTL": 0})),
    );
    assert_eq!(
        Value::Object(patch(&f)),
        json!({"accessTokenTTL": 86400, "accessTokenMaxTTL": 86400})
    );
}

#[test]
fn remediation_narrows_trusted_ips() {
    let f = net_status(&["0.0.0.0/0", "10.1.0.0/16", "::/0"]);
    assert_eq!(
        patch(&f)["accessTokenTrustedIps"],
        json!([{"ipAddress": "10.0.0.0/8"}, {"ipAddress": "10.1.0.0/16"}, {"ipAddress": "fd00::/8"}])
    );
    // Entries already inside stay as stored; duplicates (same network) dropped.
    let f = net_status(&["10.1.2.3/8", "0.0.0.0/0", "10.0.0.0/8", "192.168.0.1"]);
    assert_eq!(
        patch(&f)["accessTokenTrustedIps"],
        json!([{"ipAddress": "10.1.2.3/8"}])
    );
    // Mapped IPv6 entries are narrowed as the IPv4 range they cover.
    let f = net_status(&["::ffff:0:0/96"]);
    assert_eq!(
        patch(&f)["accessTokenTrustedIps"],
        json!([{"ipAddress": "10.0.0.0/8"}])
    );
}

/// `::/0` admits every IPv4 caller too (Infisical matches an IPv4 caller against an IPv6 subnet
/// as `::ffff:a.b.c.d`): a policy that allows `::/0` without `0.0.0.0/0` fails it, and its
/// narrowing keeps the allowed IPv4 ranges its IPv4 callers may come from.
#[test]
fn a_wide_ipv6_entry_is_judged_with_the_ipv4_callers_it_admits() {
    let v6_only =
        "version: 1\nrules:\n  - id: net\n    trusted_ips:\n      allowed_cidrs: [\"::/0\"]\n";
    let judged = |policy_text: &str, entries: &[&str]| {
        one(
            &policy(policy_text),
            &cfg(
                AuthMethod::Oci,
                json!({"accessTokenTrustedIps": ips(entries)}),
            ),
        )
    };
    let f = judged(v6_only, &["::/0"]);
    assert_eq!(f.status, Status::Fail);
    assert_eq!(f.violations[0].observed, "::/0 (= ::/0 + 0.0.0.0/0)");
    assert_eq!(judged(v6_only, &["fd00::/8"]).status, Status::Pass);
    let both = "version: 1\nrules:\n  - id: net\n    trusted_ips:\n      allowed_cidrs: [\"::/0\", 0.0.0.0/0]\n";
    assert_eq!(judged(both, &["::/0"]).status, Status::Pass);

    let f = net_status(&["::/0"]);
    assert_eq!(
        patch(&f)["accessTokenTrustedIps"],
        json!([{"ipAddress": "10.0.0.0/8"}, {"ipAddress": "fd00::/8"}])
    );
}

#[test]
fn remediation_uses_fallback_or_goes_manual() {
    let f = net_status(&["192.168.0.0/16"]);
    assert!(manual_reason(&f).contains("fallback_cidrs"));
    let p = policy(&format!("{NET}      fallback_cidrs: [10.20.0.0/16]\n"));
    let f = one(
        &p,
        &cfg(
            AuthMethod::Oci,
            json!({"accessTokenTrustedIps": ips(&["192.168.0.0/16"])}),
        ),
    );
    assert_eq!(
        patch(&f)["accessTokenTrustedIps"],
        json!([{"ipAddress": "10.20.0.0/16"}])
    );
    let f = one(
        &p,
        &cfg(AuthMethod::Oci, json!({"accessTokenTrustedIps": null})),
    );
    assert_eq!(
        patch(&f)["accessTokenTrustedIps"],
        json!([{"ipAddress": "10.20.0.0/16"}])
    );
}

#[test]
fn remediation_of_allowlists() {
    let with_default = policy(&format!("{OCI}        default: [svc-deploy]\n"));
    // All entries dropped => default.
    let f = one(&with_default, &oci(json!("alice, root")));
    assert_eq!(patch(&f)["allowedUsernames"], json!("svc-deploy"));
    // Required and null => default.
    let f = one(&with_default, &oci(json!(null)));
    assert_eq!(patch(&f)["allowedUsernames"], json!("svc-deploy"));
    // Several kept entries are joined with ", ".
    let f = one(&with_default, &oci(json!("svc-a,root, svc-b")));
    assert_eq!(patch(&f)["allowedUsernames"], json!("svc-a, svc-b"));
    // No default: never an empty list.
    let f = one(&policy(OCI), &oci(json!("root")));
    assert!(manual_reason(&f).contains("no default"));
    let f = one(&policy(OCI), &oci(json!("")));
    assert!(manual_reason(&f).contains("no default"));
}

#[test]
fn a_manual_part_makes_the_rule_manual() {
    let p = policy(
        "version: 1\nrules:\n  - id: mix\n    access_token: {max_ttl: 1h}\n    allowlists:\n      - field: allowedUsernames\n        required: true\n",
    );
    let f = one(
        &p,
        &cfg(
            AuthMethod::Oci,
            json!({"accessTokenTTL": 0, "allowedUsernames": null}),
        ),
    );
    assert_eq!(codes(&f), vec![CheckCode::MaxTtl, CheckCode::Required]);
    assert!(manual_reason(&f).contains("allowedUsernames"));
}

#[test]
fn plan_config_merges_rules_tightest_wins() {
    let p = policy(
        "version: 1\nrules:\n  - id: loose\n    access_token: {max_ttl: 2h, max_max_ttl: 48h}\n  - id: tight\n    access_token: {max_max_ttl: 30m}\n  - id: uses\n    access_token: {max_uses: 5}\n  - id: net\n    trusted_ips: {allowed_cidrs: [10.0.0.0/8]}\n  - id: exempted\n    access_token: {max_uses: 1}\nexemptions:\n  - identity: ci-deploy\n    rules: [exempted]\n    reason: r\n    expires: 2099-01-01\n",
    );
    let c = ua(
        json!({"accessTokenTTL": 0, "accessTokenMaxTTL": 0, "accessTokenNumUsesLimit": 0,
        "clientSecretTrustedIps": null, "accessTokenPeriod": 0}),
    );
    let change = plan_config(&p, &who(), &c, today());
    assert_eq!(change.patch["accessTokenMaxTTL"], json!(1800));
    assert_eq!(change.patch["accessTokenTTL"], json!(1800), "TTL <= MaxTTL");
    assert_eq!(
        change.patch["accessTokenNumUsesLimit"],
        json!(5),
        "exempt rule ignored"
    );
    assert_eq!(change.rules_fixed, vec!["loose", "tight", "uses"]);
    assert_eq!(change.manual.len(), 1);
    assert_eq!(change.manual[0].0, "net");
    assert!(!change.patch.contains_key("clientSecretTrustedIps"));
}

#[test]
fn plan_config_removes_period_and_narrows_ips_across_rules() {
    let p = policy(
        "version: 1\nrules:\n  - id: a\n    access_token: {max_ttl: 1h, allow_periodic: true}\n  - id: b\n    access_token: {allow_periodic: false}\n  - id: n1\n    trusted_ips: {allowed_cidrs: [10.0.0.0/8], fields: [accessTokenTrustedIps]}\n  - id: n2\n    trusted_ips: {allowed_cidrs: [10.1.0.0/16, 192.168.0.0/16], fields: [accessTokenTrustedIps]}\n",
    );
    let c = ua(json!({"accessTokenPeriod": 7200, "accessTokenTrustedIps": ips(&["0.0.0.0/0"])}));
    let change = plan_config(&p, &who(), &c, today());
    assert_eq!(change.patch["accessTokenPeriod"], json!(0));
    assert_eq!(
        change.patch["accessTokenTrustedIps"],
        json!([{"ipAddress": "10.1.0.0/16"}])
    );
    assert!(
        change.patch.contains_key("accessTokenTTL")
            && change.patch.contains_key("accessTokenMaxTTL")
    );
    assert!(change.manual.is_empty());
    // A compliant config needs nothing.
    let ok = ua(json!({"accessTokenTrustedIps": ips(&["10.1.0.0/16"])}));
    let none = plan_config(&p, &who(), &ok, today());
    assert!(none.is_empty() && none.rules_fixed.is_empty());
}

#[test]
fn empty_trusted_ip_list_passes() {
    // Infisical's BlockList with no entries lets nobody in (lib/ip checkIPAgainstBlocklist),
    // so an empty list is as tight as it gets.
    assert_eq!(net_status(&[]).status, Status::Pass);
}

#[test]
fn example_policy_on_a_wide_open_universal_auth_config() {
    let root = env!("CARGO_MANIFEST_DIR");
    let p = crate::policy::load(&std::path::Path::new(root).join("policies/example.yaml"))
        .expect("example.yaml is valid");
    let c = ua(
        json!({"accessTokenTTL": 2592000, "accessTokenMaxTTL": 2592000,
        "accessTokenNumUsesLimit": 0,
        "accessTokenTrustedIps": ips(&["0.0.0.0/0", "::/0"]),
        "clientSecretTrustedIps": ips(&["0.0.0.0/0", "::/0"])}),
    );
    let f = run(&p, &c);
    let rules: Vec<&str> = f.iter().map(|f| f.rule.as_str()).collect();
    assert_eq!(
        rules,
        ["token-lifetime", "token-uses", "network"],
        "no allowlist result for UA"
    );
    assert!(f.iter().all(|f| f.status == Status::Fail));
    assert_eq!(
        Value::Object(patch(&f[0])),
        json!({"accessTokenTTL": 3600, "accessTokenMaxTTL": 86400})
    );
    assert_eq!(
        patch(&f[2])["clientSecretTrustedIps"],
        json!([{"ipAddress": "10.0.0.0/8"}, {"ipAddress": "fd00::/8"}])
    );
    // The legacy vendor agent is exempt from token-lifetime only.
    let vendor = ident("v-1", "legacy-vendor-agent");
    let f = evaluate(&p, "org", &vendor, &c, today());
    assert_eq!(f[0].status, Status::Exempt);
    assert_eq!(f[1].status, Status::Fail);
    // The migration bot is exempt from every rule until its exemption expires, and from
    // its expiry day on from none.
    let bot = ident("o-1", "old-migration-bot");
    let expires = jiff::civil::date(2030, 6, 30);
    let on = |day: Date| -> Vec<Status> {
        evaluate(&p, "org", &bot, &c, day)
            .iter()
            .map(|f| f.status)
            .collect()
    };
    assert_eq!(on(expires.yesterday().expect("a day")), [Status::Exempt; 3]);
    assert_eq!(on(expires), [Status::Fail; 3]);
}

/// `evaluate_into` over a Vec that held another config's findings (more of them, other
/// statuses) gives exactly what `evaluate` gives.
#[test]
fn evaluate_into_reuses_findings_without_leftovers() {
    let p = policy(
        "version: 1\nrules:\n  - id: u\n    access_token: {max_uses: 100}\n  - id: p\n    access_token: {allow_periodic: false}\n  - id: oci-only\n    applies_to: {auth_methods: [oci-auth]}\n    access_token: {max_ttl: 1h}\n",
    );
    let first = cfg(
        AuthMethod::Oci,
        json!({"accessTokenNumUsesLimit": 0, "accessTokenPeriod": 60}),
    );
    let second = ua(json!({"accessTokenNumUsesLimit": 5}));
    let mut reused = Vec::new();
    evaluate_into(&p, "org", &who(), &first, today(), &mut reused);
    assert_eq!(reused, evaluate(&p, "org", &who(), &first, today()));
    assert!(reused.len() > 1);
    let other = ident("id-2", "other-name");
    evaluate_into(&p, "org", &other, &second, today(), &mut reused);
    assert_eq!(reused, evaluate(&p, "org", &other, &second, today()));
    assert!(
        reused
            .iter()
            .all(|f| f.identity_id == "id-2" && f.rule != "oci-only")
    );
}

/// Two rules whose fixes cannot both hold (disjoint allowed ranges): the rule left failing is
/// manual and not claimed as fixed, and a fix that would break a rule passing today is not
/// made at all.
#[test]
fn conflicting_rule_fixes_are_left_manual() {
    let p = policy(
        "version: 1\nrules:\n  - id: a\n    trusted_ips: { allowed_cidrs: [10.0.0.0/8], fallback_cidrs: [10.0.0.0/8] }\n  - id: b\n    trusted_ips: { allowed_cidrs: [\"192.168.0.0/16\"], fallback_cidrs: [\"192.168.0.0/16\"] }\n",
    );
    let c = cfg(
        AuthMethod::Token,
        json!({"accessTokenTrustedIps": [{"ipAddress": "0.0.0.0", "type": "ipv4", "prefix": 0}]}),
    );
    let change = plan_config(&p, &who(), &c, today());
    assert_eq!(change.rules_fixed, ["b"]);
    assert_eq!(
        change.manual,
        [("a".to_owned(), CONFLICT_REASON.to_owned())]
    );
    // A config that already passes `a` is not narrowed into failing it by `b`'s fix.
    let inside_a = cfg(AuthMethod::Token, json!({}));
    let change = plan_config(&p, &who(), &inside_a, today());
    assert!(change.patch.is_empty());
    assert_eq!(change.manual.len(), 1);
    assert_eq!(change.manual[0].0, "b");
}

/// Kubernetes `allowedAudience` is one value, commas included: it is judged whole and never
/// cut down to a part of itself; without a default its fix is manual.
#[test]
fn kubernetes_audience_is_a_single_value() {
    let p = policy(
        "version: 1\nrules:\n  - id: aud\n    allowlists:\n      - field: allowedAudience\n        allowed: [\"sts.example.com\"]\n",
    );
    let c = cfg(
        AuthMethod::Kubernetes,
        json!({"allowedAudience": "sts.example.com, evil", "allowedNamespaces": "prod"}),
    );
    let f = &evaluate(&p, "org", &who(), &c, today())[0];
    assert_eq!(f.status, Status::Fail);
    assert_eq!(f.violations[0].observed, "sts.example.com, evil");
    assert!(
        matches!(f.remediation, Some(Remediation::Manual { .. })),
        "{:?}",
        f.remediation
    );
    let ok = cfg(
        AuthMethod::Kubernetes,
        json!({"allowedAudience": " sts.example.com "}),
    );
    assert_eq!(
        evaluate(&p, "org", &who(), &ok, today())[0].status,
        Status::Pass
    );
    // A default for a single-value field takes one entry.
    let errs = crate::policy::parse(
        "version: 1\nrules:\n  - id: aud\n    allowlists:\n      - field: allowedAudience\n        required: true\n        default: [a, b]\n",
        "p.yaml",
    )
    .expect_err("two defaults");
    assert!(
        errs[0].to_string().contains("takes one entry"),
        "{}",
        errs[0]
    );
}
