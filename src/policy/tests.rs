//! Validation tests: every diagnostic kind with its exact position, several problems at once,
//! the shipped policies, and a property test that no input panics.

use super::*;
use crate::finding::Severity;
use sha2::{Digest, Sha256};

fn errors(src: &str) -> Vec<String> {
    match parse(src, "p.yaml") {
        Ok(_) => Vec::new(),
        Err(d) => d.iter().map(ToString::to_string).collect(),
    }
}

fn has(errs: &[String], pos: &str, needle: &str) -> bool {
    errs.iter()
        .any(|e| e.starts_with(&format!("p.yaml:{pos}: ")) && e.contains(needle))
}

/// The shipped policies are valid and warn about nothing but hints: an expired example
/// exemption would greet every new user (renew its date when this fails).
#[test]
fn shipped_policies_are_valid() {
    let root = env!("CARGO_MANIFEST_DIR");
    for name in ["example.yaml", "strict.yaml"] {
        let path = std::path::Path::new(root).join("policies").join(name);
        let p = load(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(!p.rules.is_empty());
        assert_eq!(p.sha256.len(), 64);
        let warned: Vec<String> = p
            .warnings
            .iter()
            .filter(|w| !w.kind.is_hint())
            .map(ToString::to_string)
            .collect();
        assert!(warned.is_empty(), "{name}: {warned:#?}");
    }
}

const GOOD: &str = "version: 1
rules:
  - id: t
    access_token:
      max_ttl: 1h
";

#[test]
fn minimal_policy_is_valid_with_defaults() {
    let p = parse(GOOD, "p.yaml").expect("valid");
    assert_eq!(p.rules[0].severity, Severity::Medium);
    assert_eq!(p.rules[0].applies_to, AppliesTo::default());
    assert_eq!(
        p.rules[0].access_token.as_ref().and_then(|a| a.max_ttl),
        Some(3600)
    );
    assert_eq!(p.origin, "p.yaml");
    assert_eq!(
        p.sha256,
        hex::encode(Sha256::digest(GOOD.as_bytes())),
        "sha256 of the source bytes"
    );
}

#[test]
fn unknown_keys_at_every_level() {
    let e = errors(
        "version: 1\ncolour: red\nrules:\n  - id: t\n    sevrity: high\n    access_token:\n      max_tll: 1h\n      max_ttl: 1h\n",
    );
    assert!(has(&e, "2:1", "unknown key `colour`"), "{e:#?}");
    assert!(has(&e, "5:5", "unknown key `sevrity`"), "{e:#?}");
    assert!(has(&e, "7:7", "unknown key `max_tll`"), "{e:#?}");
    assert_eq!(e.len(), 3, "{e:#?}");
}

#[test]
fn duplicate_keys_and_rule_ids() {
    let e = errors(
        "version: 1\nrules:\n  - id: t\n    access_token: {max_ttl: 1h, max_ttl: 2h}\n  - id: t\n    access_token: {max_uses: 3}\nversion: 1\n",
    );
    assert!(
        has(&e, "4:33", "duplicate key `max_ttl` (first at line 4)"),
        "{e:#?}"
    );
    assert!(
        has(&e, "5:9", "duplicate rule id `t` (first at line 3)"),
        "{e:#?}"
    );
    assert!(has(&e, "7:1", "duplicate key `version`"), "{e:#?}");
    assert_eq!(e.len(), 3, "{e:#?}");
}

#[test]
fn rule_id_shape() {
    let e = errors("version: 1\nrules:\n  - id: Token_Life\n    access_token: {max_ttl: 1h}\n");
    assert!(has(&e, "3:9", "must match [a-z0-9-]+"), "{e:#?}");
    let e = errors("version: 1\nrules:\n  - description: x\n    access_token: {max_ttl: 1h}\n");
    assert!(has(&e, "3:5", "missing required key `id`"), "{e:#?}");
}

#[test]
fn version_missing_or_wrong() {
    let e = errors("rules:\n  - id: t\n    access_token: {max_ttl: 1h}\n");
    assert!(has(&e, "1:1", "missing required key `version`"), "{e:#?}");
    let e = errors("version: 2\nrules:\n  - id: t\n    access_token: {max_ttl: 1h}\n");
    assert!(has(&e, "1:10", "unsupported version 2"), "{e:#?}");
    let e = errors("version: \"1\"\nrules:\n  - id: t\n    access_token: {max_ttl: 1h}\n");
    assert!(has(&e, "1:10", "unsupported version \"1\""), "{e:#?}");
}

#[test]
fn rules_missing_or_empty() {
    let e = errors("version: 1\n");
    assert!(has(&e, "1:1", "missing required key `rules`"), "{e:#?}");
    let e = errors("version: 1\nrules: []\n");
    assert!(has(&e, "2:8", "at least one rule"), "{e:#?}");
    let e = errors("version: 1\nrules: 5\n");
    assert!(
        has(&e, "2:8", "rules: expected a list, found an integer"),
        "{e:#?}"
    );
    let e = errors("");
    assert!(has(&e, "1:1", "the policy is empty"), "{e:#?}");
    let e = errors("- 1\n- 2\n");
    assert!(
        has(&e, "1:1", "policy: expected a mapping, found a list"),
        "{e:#?}"
    );
}

#[test]
fn bad_severities() {
    let e = errors(
        "version: 1\ndefaults:\n  severity: severe\nrules:\n  - id: t\n    severity: High\n    access_token: {max_ttl: 1h}\n",
    );
    assert!(has(&e, "3:13", "unknown severity `severe`"), "{e:#?}");
    assert!(has(&e, "6:15", "unknown severity `High`"), "{e:#?}");
}

#[test]
fn bad_durations() {
    let e = errors(
        "version: 1\nrules:\n  - id: t\n    access_token:\n      max_ttl: 0\n      max_max_ttl: 11y\n  - id: u\n    access_token:\n      max_ttl: -5\n      max_max_ttl: 3651d\n  - id: v\n    access_token:\n      max_ttl: 1.5\n      max_max_ttl: 315360001\n",
    );
    assert!(has(&e, "5:16", "must be positive"), "{e:#?}");
    assert!(has(&e, "6:20", "unknown unit `y`"), "{e:#?}");
    assert!(has(&e, "9:16", "must be positive"), "{e:#?}");
    assert!(has(&e, "10:20", "over 10 years"), "{e:#?}");
    assert!(has(&e, "13:16", "found a number"), "{e:#?}");
    assert!(has(&e, "14:20", "over 10 years"), "{e:#?}");
    assert_eq!(e.len(), 6, "{e:#?}");
    let p = parse(
        "version: 1\nrules:\n  - id: t\n    access_token: {max_ttl: 90, max_max_ttl: 1h30m}\n",
        "p",
    )
    .expect("valid");
    let a = p.rules[0].access_token.as_ref().expect("checks");
    assert_eq!((a.max_ttl, a.max_max_ttl), (Some(90), Some(5400)));
}

#[test]
fn max_uses_and_allow_periodic_types() {
    let e = errors(
        "version: 1\nrules:\n  - id: t\n    access_token:\n      max_uses: 0\n      allow_periodic: yes\n",
    );
    assert!(has(&e, "5:17", "max_uses: must be at least 1"), "{e:#?}");
    assert!(has(&e, "6:23", "expected true or false"), "{e:#?}");
}

#[test]
fn cidrs_parse_normalise_and_fallbacks_must_lie_inside() {
    let e = errors(
        "version: 1\nrules:\n  - id: n\n    trusted_ips:\n      allowed_cidrs: [10.0.0.0/8, 300.1.1.1/8, 10.0.0.0/33]\n      fallback_cidrs: [10.2.0.0/16, 192.168.0.0/16]\n",
    );
    assert!(has(&e, "5:35", "bad CIDR `300.1.1.1/8`"), "{e:#?}");
    assert!(has(&e, "5:48", "bad CIDR `10.0.0.0/33`"), "{e:#?}");
    assert_eq!(
        e.len(),
        2,
        "fallbacks are not judged against a bad list: {e:#?}"
    );
    let e = errors(
        "version: 1\nrules:\n  - id: n\n    trusted_ips:\n      allowed_cidrs: [10.0.0.0/8]\n      fallback_cidrs: [10.2.0.0/16, 192.168.0.0/16]\n",
    );
    assert!(
        has(&e, "6:37", "192.168.0.0/16 is not inside allowed_cidrs"),
        "{e:#?}"
    );
    assert_eq!(e.len(), 1, "{e:#?}");
    let p = parse(
        "version: 1\nrules:\n  - id: n\n    trusted_ips:\n      allowed_cidrs: [10.1.2.3/8, 192.168.1.1, \"::ffff:10.0.0.0/104\"]\n",
        "p",
    )
    .expect("valid");
    let t = p.rules[0].trusted_ips.as_ref().expect("check");
    let shown: Vec<String> = t.allowed_cidrs.iter().map(ToString::to_string).collect();
    assert_eq!(shown, ["10.0.0.0/8", "192.168.1.1/32", "10.0.0.0/8"]);
    assert_eq!(
        t.fields,
        TrustedIpField::ALL.to_vec(),
        "default: both fields"
    );
}

#[test]
fn unknown_auth_methods_and_trusted_ip_fields() {
    let e = errors(
        "version: 1\nrules:\n  - id: n\n    applies_to:\n      auth_methods: [oci-auth, quantum-auth]\n    trusted_ips:\n      allowed_cidrs: [10.0.0.0/8]\n      fields: [accessTokenTrustedIps, clientSecretTrustedIps, bogus]\n",
    );
    assert!(
        has(&e, "5:32", "unknown auth method `quantum-auth`"),
        "{e:#?}"
    );
    assert!(
        has(&e, "8:63", "unknown trusted-IP field `bogus`"),
        "{e:#?}"
    );
    assert_eq!(
        e.len(),
        2,
        "with an unknown method, the methods are not held against the fields: {e:#?}"
    );
    let e = errors(
        "version: 1\nrules:\n  - id: n\n    applies_to:\n      auth_methods: [oci-auth]\n    trusted_ips:\n      allowed_cidrs: [10.0.0.0/8]\n      fields: [accessTokenTrustedIps, clientSecretTrustedIps]\n",
    );
    assert!(
        has(
            &e,
            "8:39",
            "none of the rule's auth methods has `clientSecretTrustedIps`"
        ),
        "{e:#?}"
    );
    assert_eq!(e.len(), 1, "{e:#?}");
}

#[test]
fn allowlist_field_must_belong_to_a_rule_method() {
    let e = errors(
        "version: 1\nrules:\n  - id: a\n    applies_to: {auth_methods: [oci-auth]}\n    allowlists:\n      - field: allowedPrincipalArns\n        required: true\n  - id: b\n    allowlists:\n      - field: allowedUsername\n        required: true\n",
    );
    assert!(
        has(&e, "6:16", "allowlist field `allowedPrincipalArns`"),
        "{e:#?}"
    );
    assert!(
        has(&e, "10:16", "allowlist field `allowedUsername`"),
        "{e:#?}"
    );
    // No auth_methods: every method's fields are allowed.
    assert!(parse(
        "version: 1\nrules:\n  - id: a\n    allowlists:\n      - field: allowedSpiffeIds\n        required: true\n",
        "p"
    )
    .is_ok());
}

#[test]
fn allowlist_defaults_must_be_allowed_and_non_empty() {
    let e = errors(
        "version: 1\nrules:\n  - id: a\n    allowlists:\n      - field: allowedUsernames\n        allowed: [\"svc-*\"]\n        default: [svc-deploy, root]\n      - field: allowedPrincipalArns\n        required: true\n        default: []\n      - field: allowedNamespaces\n",
    );
    assert!(
        has(&e, "7:31", "`root` matches none of `allowed`"),
        "{e:#?}"
    );
    assert!(has(&e, "10:18", "default: the list is empty"), "{e:#?}");
    assert!(has(&e, "11:9", "checks nothing"), "{e:#?}");
    assert_eq!(e.len(), 3, "{e:#?}");
}

#[test]
fn rule_without_checks() {
    let e = errors(
        "version: 1\nrules:\n  - id: a\n    description: nothing\n  - id: b\n    access_token: {}\n",
    );
    assert!(has(&e, "3:5", "rule `a`: no checks"), "{e:#?}");
    assert!(has(&e, "6:19", "rule `b`: no checks"), "{e:#?}");
}

#[test]
fn exemption_problems() {
    let e = errors(
        "version: 1\nrules:\n  - id: t\n    access_token: {max_ttl: 1h}\nexemptions:\n  - identity: x\n    rules: [t, nope]\n  - identity: y\n    reason: r\n    expires: 2027-02-30\n  - identity: z\n    reason: r\n    expires: 31/01/2027\n",
    );
    assert!(has(&e, "6:5", "missing required key `reason`"), "{e:#?}");
    assert!(has(&e, "6:5", "missing required key `expires`"), "{e:#?}");
    assert!(has(&e, "7:16", "unknown rule `nope`"), "{e:#?}");
    assert!(has(&e, "10:14", "`2027-02-30` is not a date"), "{e:#?}");
    assert!(has(&e, "13:14", "`31/01/2027` is not a date"), "{e:#?}");
    assert_eq!(e.len(), 5, "{e:#?}");
    let p = parse(
        "version: 1\nrules:\n  - id: t\n    access_token: {max_ttl: 1h}\nexemptions:\n  - identity: x\n    reason: r\n    owner: o\n    expires: 2027-01-31\n",
        "p",
    )
    .expect("valid");
    assert_eq!(p.exemptions[0].expires, jiff::civil::date(2027, 1, 31));
    assert_eq!(p.exemptions[0].rules, None);
}

#[test]
fn syntax_error_is_one_diagnostic_with_position() {
    let e = errors("version: 1\nrules:\n  - id: t\n   bad: [\n");
    assert_eq!(e.len(), 1, "{e:#?}");
    assert!(has(&e, "4:4", "YAML syntax error"), "{e:#?}");
    let e = errors("version: 1\nname: \"open\n");
    assert!(has(&e, "2:7", "YAML syntax error"), "{e:#?}");
}

#[test]
fn many_problems_reported_at_once_in_order() {
    let src = "version: 3\nrules:\n  - id: A\n    severity: urgent\n    access_token: {max_ttl: 0s}\n    extra: 1\nexemptions:\n  - identity: x\n    rules: [zzz]\n    reason: r\n    expires: soon\n";
    let d = parse(src, "p.yaml").expect_err("invalid");
    assert_eq!(d.len(), 7, "{d:#?}");
    assert!(
        d.iter()
            .any(|d| d.message.starts_with("rule `A`: unknown key `extra`"))
    );
    let positions: Vec<(usize, usize)> = d.iter().map(|d| (d.line, d.column)).collect();
    let mut sorted = positions.clone();
    sorted.sort();
    assert_eq!(positions, sorted);
    let err = PolicyError::Invalid {
        diagnostics: d,
        warnings: Vec::new(),
    };
    assert_eq!(err.to_string().lines().count(), 7);
    assert!(err.to_string().starts_with("p.yaml:1:10: "));
}

#[test]
fn invalid_utf8_and_oversized_inputs_are_diagnostics() {
    let d = parse_bytes(b"version: 1\nname: \xff\xfe\n", "p").expect_err("bad utf-8");
    assert_eq!((d[0].line, d[0].column), (2, 7));
    assert!(d[0].message.contains("UTF-8"));
    let huge = format!("version: 1\nname: {}\n", "x".repeat(MAX_POLICY_BYTES));
    let d = parse(&huge, "p").expect_err("too big");
    assert!(d[0].message.contains("limit"));
}

#[test]
fn load_reports_read_errors_and_renders_snippets() {
    let missing = std::path::Path::new("/nonexistent/idguard/policy.yaml");
    assert!(matches!(load(missing), Err(PolicyError::Read { .. })));
    let d = Diagnostic {
        origin: "p".into(),
        line: 2,
        column: 3,
        message: "bad".into(),
    };
    assert_eq!(d.to_string(), "p:2:3: bad");
    assert_eq!(d.render("a\nbcd\n"), "p:2:3: bad\n  | bcd\n  |   ^");
}

mod never_panics {
    use super::*;
    use proptest::prelude::*;

    const EXAMPLE: &str = include_str!("../../policies/example.yaml");

    proptest! {
        #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

        /// Random text never panics the validator.
        #[test]
        fn random_strings(s in "\\PC{0,400}") {
            let _ = parse(&s, "fuzz");
        }

        /// Random YAML-ish text (structure characters weighted up) never panics.
        #[test]
        fn random_yamlish(s in "[a-z0-9_:\\-\\[\\]{}&*!|>'\" ,#\\n]{0,300}") {
            let _ = parse(&s, "fuzz");
        }

        /// Random edits of the example policy never panic, and the result is either a policy
        /// or at least one positioned diagnostic.
        #[test]
        fn mutated_example(edits in proptest::collection::vec((0usize..4000, 0u8..4, "\\PC{0,8}"), 1..6)) {
            let mut text = EXAMPLE.to_owned();
            for (pos, op, insert) in edits {
                let mut at = pos % (text.len() + 1);
                while !text.is_char_boundary(at) { at -= 1; }
                match op {
                    0 => text.insert_str(at, &insert),
                    1 => { let end = (at + insert.len().max(1)).min(text.len());
                           let mut end = end; while !text.is_char_boundary(end) { end += 1; }
                           text.replace_range(at..end, ""); }
                    2 => text.insert_str(at, "\n  - "),
                    _ => text.insert_str(at, ": "),
                }
            }
            match parse(&text, "fuzz") {
                Ok(p) => prop_assert!(!p.rules.is_empty()),
                Err(d) => prop_assert!(!d.is_empty() && d.iter().all(|d| d.line >= 1 && d.column >= 1)),
            }
        }
    }

    #[test]
    fn deep_nesting_and_alias_bombs_are_refused() {
        let deep = format!(
            "version: 1\nrules: {}{}\n",
            "[".repeat(5000),
            "]".repeat(5000)
        );
        assert!(parse(&deep, "p").is_err());
        let deep_block: String = (0..500)
            .map(|i| format!("{}- \n", "  ".repeat(i)))
            .collect();
        assert!(parse(&deep_block, "p").is_err());
        let mut bomb = String::from("a: &a [x,x,x,x,x,x,x,x,x,x]\n");
        for (prev, name) in ["a", "b", "c", "d", "e", "f", "g", "h"]
            .iter()
            .zip(["b", "c", "d", "e", "f", "g", "h", "i"])
        {
            bomb.push_str(&format!(
                "{name}: &{name} [{}]\n",
                vec![format!("*{prev}"); 10].join(",")
            ));
        }
        assert!(parse(&bomb, "p").is_err());
    }
}

/// A rule whose only checks are written as null checks nothing: refused at the access_token
/// mapping; one real value among nulls is a check.
#[test]
fn a_rule_of_null_checks_is_refused() {
    let errs = errors(
        "version: 1\nrules:\n  - id: a\n    access_token: { max_ttl: ~, max_uses: ~, allow_periodic: ~ }\n",
    );
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(has(&errs, "4:19", "every check is null"), "{errs:?}");
    let ok =
        errors("version: 1\nrules:\n  - id: a\n    access_token: { max_ttl: 1h, max_uses: ~ }\n");
    assert!(ok.is_empty(), "{ok:?}");
}

/// The warnings of a valid policy validated on `today`, as printed.
fn warnings_on(src: &str, today: jiff::civil::Date) -> Vec<String> {
    let p = parse_on(src, "p.yaml", today).unwrap_or_else(|d| panic!("valid: {d:#?}"));
    p.warnings.iter().map(ToString::to_string).collect()
}

fn warnings(src: &str) -> Vec<String> {
    warnings_on(src, jiff::civil::date(2026, 12, 1))
}

/// An exemption warns from its expiry day on (UTC), at its `expires`; the policy stays valid.
#[test]
fn expired_exemption_warns_from_its_expiry_day() {
    let src = "version: 1\nrules:\n  - id: t\n    access_token: {max_ttl: 1h}\nexemptions:\n  - identity: 3c90c3cc-0d44-4b50-8888-8dd25736052a\n    reason: r\n    expires: 2026-12-01\n";
    let day = jiff::civil::date(2026, 12, 1);
    assert_eq!(
        warnings_on(src, day),
        [
            "p.yaml:8:14: exemption for `3c90c3cc-0d44-4b50-8888-8dd25736052a`: expired on \
             2026-12-01 and no longer applies; renew it with a new date or remove it"
        ]
    );
    assert!(warnings_on(src, day.yesterday().expect("day")).is_empty());
    let p = parse_on(src, "p", day).expect("valid");
    assert_eq!(
        p.warnings[0].kind,
        WarningKind::ExpiredExemption {
            identity: "3c90c3cc-0d44-4b50-8888-8dd25736052a".into(),
            expires: day,
        }
    );
}

/// `max_ttl` above `max_max_ttl` in one rule warns at `max_ttl`; equal or below does not.
#[test]
fn max_ttl_above_max_max_ttl_warns() {
    let w = warnings(
        "version: 1\nrules:\n  - id: t\n    access_token:\n      max_ttl: 48h\n      max_max_ttl: 24h\n  - id: u\n    access_token: {max_ttl: 24h, max_max_ttl: 24h}\n",
    );
    assert_eq!(w.len(), 1, "{w:#?}");
    assert!(
        w[0].starts_with(
            "p.yaml:5:16: rule `t`: access_token.max_ttl (2d) is above max_max_ttl (24h): \
             Infisical keeps a token's TTL at or below its max TTL"
        ),
        "{w:#?}"
    );
}

/// An allowed CIDR of prefix length 0 admits a whole family: `0.0.0.0/0`, `::/0`, and the
/// IPv4-mapped `::ffff:0:0/96` (which is `0.0.0.0/0`) warn, each at its entry.
#[test]
fn allowed_cidr_of_every_address_warns() {
    let w = warnings(
        "version: 1\nrules:\n  - id: n\n    trusted_ips:\n      allowed_cidrs: [0.0.0.0/0, \"::/0\", 10.0.0.0/8]\n  - id: m\n    trusted_ips:\n      allowed_cidrs: [\"::ffff:0:0/96\"]\n",
    );
    assert_eq!(w.len(), 3, "{w:#?}");
    assert!(w[0].starts_with("p.yaml:5:23: rule `n`: trusted_ips.allowed_cidrs: `0.0.0.0/0` admits every IPv4 address"), "{w:#?}");
    assert!(
        w[1].starts_with(
            "p.yaml:5:34: rule `n`: trusted_ips.allowed_cidrs: `::/0` admits every IPv6 address"
        ),
        "{w:#?}"
    );
    assert!(
        w[2].starts_with("p.yaml:8:23: rule `m`: trusted_ips.allowed_cidrs: `0.0.0.0/0`"),
        "{w:#?}"
    );
}

/// A duration without a unit is still read as seconds (existing policies keep working), with
/// a warning saying how it was read; a duration with a unit does not warn.
#[test]
fn unitless_duration_is_seconds_with_a_warning() {
    let src = "version: 1\nrules:\n  - id: t\n    access_token:\n      max_ttl: 90\n      max_max_ttl: \"3600\"\n  - id: u\n    access_token: {max_ttl: 90s}\n";
    let p = parse(src, "p.yaml").expect("valid");
    let a = p.rules[0].access_token.as_ref().expect("checks");
    assert_eq!((a.max_ttl, a.max_max_ttl), (Some(90), Some(3600)));
    let w = warnings(src);
    assert_eq!(
        w,
        [
            "p.yaml:5:16: rule `t`: access_token.max_ttl: `90` has no unit and is read as 90s \
             (1m30s); write `90s`, or `90m` if minutes were meant",
            "p.yaml:6:20: rule `t`: access_token.max_max_ttl: `3600` has no unit and is read as \
             3600s (1h); write `3600s`, or `3600m` if minutes were meant",
        ]
    );
}

/// An exemption by name is a hint, at its `identity`; by id, nothing.
#[test]
fn exemption_by_name_is_a_hint() {
    let p = parse(
        "version: 1\nrules:\n  - id: t\n    access_token: {max_ttl: 1h}\nexemptions:\n  - identity: ci-deploy\n    reason: r\n    expires: 2099-01-01\n  - identity: 3c90c3cc-0d44-4b50-8888-8dd25736052a\n    reason: r\n    expires: 2099-01-01\n",
        "p.yaml",
    )
    .expect("valid");
    assert_eq!(p.warnings.len(), 1, "{:#?}", p.warnings);
    assert_eq!((p.warnings[0].line, p.warnings[0].column), (6, 15));
    assert!(p.warnings[0].kind.is_hint());
}

/// An invalid policy still hands back its warnings, beside its errors.
#[test]
fn an_invalid_policy_keeps_its_warnings() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("p.yaml");
    std::fs::write(
        &path,
        "version: 1\nrules:\n  - id: t\n    access_token: {max_ttl: 90, max_uses: 0}\n",
    )
    .expect("write");
    match load(&path) {
        Err(PolicyError::Invalid {
            diagnostics,
            warnings,
        }) => {
            assert_eq!(diagnostics.len(), 1, "{diagnostics:#?}");
            assert_eq!(warnings.len(), 1, "{warnings:#?}");
            assert!(matches!(
                warnings[0].kind,
                WarningKind::UnitlessDuration { seconds: 90, .. }
            ));
        }
        other => panic!("expected invalid, got {other:?}"),
    }
}

/// `errs` are exactly one error per `(position, needle)` of `expect`.
fn assert_exactly(errs: &[String], expect: &[(&str, &str)]) {
    for (pos, needle) in expect {
        assert!(has(errs, pos, needle), "{pos} {needle}: {errs:#?}");
    }
    assert_eq!(errs.len(), expect.len(), "{errs:#?}");
}

/// An unknown key within two edits of a key known at that place gets "did you mean"; one
/// further off lists the known keys. So do severities, auth methods, trusted-IP fields,
/// allowlist fields and exemption rules.
#[test]
fn did_you_mean_for_likely_typos() {
    let e = errors(
        "version: 1\nrules:\n  - id: token-lifetime\n    severity: hihg\n    acess_token:\n      max_tll: 1h\n    access_token:\n      max_ttl: 1h\n      colour: red\n    applies_to:\n      auth_methods: [universal-oauth]\n  - id: n\n    trusted_ips:\n      allowed_cidrs: [10.0.0.0/8]\n      fields: [accessTokenTrustedIp]\n  - id: a\n    allowlists:\n      - field: allowedUsername\n        required: true\nexemptions:\n  - identity: x\n    rules: [token-lifetme]\n    reason: r\n    expires: 2099-01-01\n",
    );
    let expect = [
        ("4:15", "unknown severity `hihg`; did you mean `high`?"),
        (
            "5:5",
            "unknown key `acess_token`; did you mean `access_token`?",
        ),
        (
            "9:7",
            "unknown key `colour` (expected one of: max_ttl, max_max_ttl",
        ),
        (
            "11:22",
            "unknown auth method `universal-oauth`; did you mean `universal-auth`?",
        ),
        (
            "15:16",
            "unknown trusted-IP field `accessTokenTrustedIp`; did you mean `accessTokenTrustedIps`?",
        ),
        (
            "18:16",
            "allowlist field `allowedUsername`; did you mean `allowedUsernames`?",
        ),
        (
            "22:13",
            "unknown rule `token-lifetme`; did you mean `token-lifetime`?",
        ),
    ];
    assert_exactly(&e, &expect);
}

/// A misspelt key is one error: not also "missing required key", "no checks" or "checks
/// nothing" for the key it was meant to be.
#[test]
fn a_misspelt_key_is_one_error() {
    let e = errors(
        "verison: 1\nrules:\n  - id: a\n    acess_token: {max_ttl: 1h}\n  - id: b\n    trusted_ips:\n      allowed_cidr: [10.0.0.0/8]\n  - id: c\n    allowlists:\n      - feild: allowedNamespaces\n        requird: true\nexemptions:\n  - identity: x\n    reasno: r\n    expire: 2099-01-01\n",
    );
    let expect = [
        ("1:1", "unknown key `verison`; did you mean `version`?"),
        (
            "4:5",
            "unknown key `acess_token`; did you mean `access_token`?",
        ),
        (
            "7:7",
            "unknown key `allowed_cidr`; did you mean `allowed_cidrs`?",
        ),
        ("10:9", "unknown key `feild`; did you mean `field`?"),
        ("11:9", "unknown key `requird`; did you mean `required`?"),
        ("14:5", "unknown key `reasno`; did you mean `reason`?"),
        ("15:5", "unknown key `expire`; did you mean `expires`?"),
    ];
    assert_exactly(&e, &expect);
    let e = errors("version: 1\nrule:\n  - id: a\n    access_token: {max_ttl: 1h}\n");
    assert_eq!(e.len(), 1, "{e:#?}");
    assert!(has(&e, "2:1", "did you mean `rules`?"), "{e:#?}");
}

/// An invalid value is one error: what depends on it (fallbacks inside allowed CIDRs,
/// defaults matching `allowed`, fields of the rule's methods, an exemption's rules, a
/// `required` that decides whether the entry checks anything) is not judged against it.
#[test]
fn an_invalid_value_is_one_error() {
    let e = errors(
        "version: 1\nrules:\n  - id: n\n    trusted_ips:\n      allowed_cidrs: [10.0.0.0/33]\n      fallback_cidrs: [10.1.0.0/16]\n",
    );
    assert_eq!(e.len(), 1, "{e:#?}");
    assert!(has(&e, "5:23", "bad CIDR `10.0.0.0/33`"), "{e:#?}");

    let e = errors(
        "version: 1\nrules:\n  - id: Token_TTL\n    access_token: {max_ttl: 1h}\n  - description: no id\n    access_token: {max_ttl: 1h}\nexemptions:\n  - identity: x\n    rules: [Token_TTL, no-id]\n    reason: r\n    expires: 2099-01-01\n",
    );
    assert_eq!(e.len(), 2, "{e:#?}");
    assert!(has(&e, "3:9", "must match [a-z0-9-]+"), "{e:#?}");
    assert!(has(&e, "5:5", "missing required key `id`"), "{e:#?}");

    let e = errors(
        "version: 1\nrules:\n  - id: a\n    applies_to: {auth_methods: []}\n    trusted_ips:\n      allowed_cidrs: [10.0.0.0/8]\n      fields: [clientSecretTrustedIps]\n    allowlists:\n      - field: allowedNamespaces\n        allowed: [\"prod-*\", \"a,b\"]\n        default: [platform]\n      - field: allowedNames\n        required: yes\n",
    );
    assert_eq!(e.len(), 3, "{e:#?}");
    assert!(has(&e, "4:32", "the list is empty"), "{e:#?}");
    assert!(has(&e, "10:29", "contains a comma"), "{e:#?}");
    assert!(has(&e, "13:19", "expected true or false"), "{e:#?}");

    let e = errors(
        "version: 1\nrules: {id: a}\nexemptions:\n  - identity: x\n    rules: [a]\n    reason: r\n    expires: 2099-01-01\n",
    );
    assert_eq!(e.len(), 1, "{e:#?}");
}

/// `usage: {max_idle}` parses as a duration; null, missing, a bad duration and a rule that
/// mixes usage with config checks are refused where they are written.
#[test]
fn usage_checks() {
    let p = parse(
        "version: 1\nrules:\n  - id: stale\n    usage: { max_idle: 90d }\n",
        "p.yaml",
    )
    .unwrap();
    assert_eq!(
        p.rules[0].usage,
        Some(UsageCheck {
            max_idle: 90 * 86_400
        })
    );
    assert_eq!(p.rules[0].access_token, None);
    let e = errors("version: 1\nrules:\n  - id: stale\n    usage: { max_idle: ~ }\n");
    assert!(has(&e, "4:24", "checks nothing"), "{e:#?}");
    let e = errors("version: 1\nrules:\n  - id: stale\n    usage: {}\n");
    assert!(has(&e, "4:12", "missing required key `max_idle`"), "{e:#?}");
    let e = errors("version: 1\nrules:\n  - id: stale\n    usage: { max_idle: soon }\n");
    assert!(has(&e, "4:24", "usage.max_idle"), "{e:#?}");
    assert_eq!(e.len(), 1, "{e:#?}");
    let e = errors(
        "version: 1\nrules:\n  - id: stale\n    usage: { max_idle: 90d }\n    access_token: { max_ttl: 1h }\n",
    );
    assert!(has(&e, "4:12", "give it a rule of its own"), "{e:#?}");
    let e = errors("version: 1\nrules:\n  - id: stale\n    usage: { max_idel: 90d }\n");
    assert!(
        e.iter().any(|m| m.contains("did you mean `max_idle`")),
        "{e:#?}"
    );
    assert_eq!(e.len(), 1, "{e:#?}");
}
