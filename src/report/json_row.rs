//! One `report.json` result row, written by hand: the exact bytes `serde_json::to_writer`
//! produces for a [`Finding`] (compact form, field order of the struct, serde_json's escapes),
//! without serde's per-byte escaping of every key and value.
//!
//! Keys are literal byte strings; a string value that holds no byte serde_json escapes (`"`,
//! `\`, control bytes below 0x20; it leaves `/` and non-ASCII alone) is copied in one go, any
//! other string is handed to serde_json. The PATCH fragment of an automatic remediation (a map
//! of arbitrary JSON values) is always handed to serde_json. This module owns the row's bytes
//! only; separators, files and annotations belong to `json_report`.

use serde_json::{Map, Value};

use crate::finding::{AppliedExemption, Finding, Remediation, Violation};

/// Appends the compact JSON of `f` to `out`, byte-identical to `serde_json::to_writer(out, f)`.
///
/// Fails only if serde_json fails on a fallback value, which it does not for strings and
/// string-keyed maps written to memory.
pub(super) fn write_finding(out: &mut Vec<u8>, f: &Finding) -> Result<(), serde_json::Error> {
    out.extend_from_slice(b"{\"finding_id\":");
    write_str(out, &f.finding_id)?;
    out.extend_from_slice(b",\"identity_id\":");
    write_str(out, &f.identity_id)?;
    out.extend_from_slice(b",\"identity_name\":");
    write_str(out, &f.identity_name)?;
    out.extend_from_slice(b",\"auth_method\":");
    write_str(out, f.auth_method.as_str())?;
    out.extend_from_slice(b",\"rule\":");
    write_str(out, &f.rule)?;
    // Severity and status names are lowercase ASCII letters: nothing to escape.
    out.extend_from_slice(b",\"severity\":\"");
    out.extend_from_slice(f.severity.as_str().as_bytes());
    out.extend_from_slice(b"\",\"status\":\"");
    out.extend_from_slice(f.status.as_str().as_bytes());
    out.extend_from_slice(b"\",\"violations\":[");
    for (i, v) in f.violations.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_violation(out, v)?;
    }
    out.extend_from_slice(b"],\"exemption\":");
    match &f.exemption {
        Some(e) => write_exemption(out, e)?,
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"error\":");
    write_opt_str(out, f.error.as_deref())?;
    out.extend_from_slice(b",\"remediation\":");
    match &f.remediation {
        Some(r) => write_remediation(out, r)?,
        None => out.extend_from_slice(b"null"),
    }
    out.push(b'}');
    Ok(())
}

/// `{"check":..,"field":..,"observed":..,"expected":..,"message":..}`.
fn write_violation(out: &mut Vec<u8>, v: &Violation) -> Result<(), serde_json::Error> {
    // Check codes are kebab-case ASCII: nothing to escape.
    out.extend_from_slice(b"{\"check\":\"");
    out.extend_from_slice(v.check.as_str().as_bytes());
    out.extend_from_slice(b"\",\"field\":");
    write_str(out, &v.field)?;
    out.extend_from_slice(b",\"observed\":");
    write_str(out, &v.observed)?;
    out.extend_from_slice(b",\"expected\":");
    write_str(out, &v.expected)?;
    out.extend_from_slice(b",\"message\":");
    write_str(out, &v.message)?;
    out.push(b'}');
    Ok(())
}

/// `{"reason":..,"owner":..|null,"expires":..}`.
fn write_exemption(out: &mut Vec<u8>, e: &AppliedExemption) -> Result<(), serde_json::Error> {
    out.extend_from_slice(b"{\"reason\":");
    write_str(out, &e.reason)?;
    out.extend_from_slice(b",\"owner\":");
    write_opt_str(out, e.owner.as_deref())?;
    out.extend_from_slice(b",\"expires\":");
    write_str(out, &e.expires)?;
    out.push(b'}');
    Ok(())
}

/// The untagged remediation: `{"auto":true,"patch":{..}}` or `{"auto":false,"reason":..}`.
fn write_remediation(out: &mut Vec<u8>, r: &Remediation) -> Result<(), serde_json::Error> {
    match r {
        Remediation::Auto { patch, .. } => {
            out.extend_from_slice(b"{\"auto\":true,\"patch\":");
            write_patch(out, patch)?;
        }
        Remediation::Manual { reason, .. } => {
            out.extend_from_slice(b"{\"auto\":false,\"reason\":");
            write_str(out, reason)?;
        }
    }
    out.push(b'}');
    Ok(())
}

/// The PATCH fragment: arbitrary JSON values (numbers, nested arrays), left to serde_json.
fn write_patch(out: &mut Vec<u8>, patch: &Map<String, Value>) -> Result<(), serde_json::Error> {
    serde_json::to_writer(&mut *out, patch)
}

/// A string value, or `null`.
fn write_opt_str(out: &mut Vec<u8>, s: Option<&str>) -> Result<(), serde_json::Error> {
    match s {
        Some(s) => write_str(out, s),
        None => {
            out.extend_from_slice(b"null");
            Ok(())
        }
    }
}

/// A quoted string value: copied as is when serde_json would escape none of its bytes,
/// otherwise written by serde_json.
fn write_str(out: &mut Vec<u8>, s: &str) -> Result<(), serde_json::Error> {
    if needs_escape(s.as_bytes()) {
        return serde_json::to_writer(&mut *out, s);
    }
    out.reserve(s.len() + 2);
    out.push(b'"');
    out.extend_from_slice(s.as_bytes());
    out.push(b'"');
    Ok(())
}

/// Whether any byte is one serde_json escapes: `"`, `\` or a control byte below 0x20 (its
/// `ESCAPE` table marks exactly these). Written without early exit so that it vectorizes.
fn needs_escape(bytes: &[u8]) -> bool {
    bytes.iter().fold(false, |acc, &b| {
        acc | (b < 0x20) | (b == b'"') | (b == b'\\')
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::{CheckCode, Severity, Status};
    use crate::model::AuthMethod;
    use proptest::prelude::*;

    fn row(f: &Finding) -> String {
        let mut out = Vec::new();
        write_finding(&mut out, f).unwrap();
        String::from_utf8(out).unwrap()
    }

    fn pass_finding() -> Finding {
        Finding {
            finding_id: "0123456789abcdef0123456789abcdef".into(),
            identity_id: "6f1a9c2e-0d3b-4c5a-9e7f-1a2b3c4d5e6f".into(),
            identity_name: "ci-deployer/é".into(),
            auth_method: AuthMethod::Universal,
            rule: "short-lived-tokens".into(),
            severity: Severity::High,
            status: Status::Pass,
            violations: vec![],
            exemption: None,
            error: None,
            remediation: None,
        }
    }

    #[test]
    fn pass_row_is_the_stable_schema() {
        let f = pass_finding();
        let expected = concat!(
            r#"{"finding_id":"0123456789abcdef0123456789abcdef","#,
            r#""identity_id":"6f1a9c2e-0d3b-4c5a-9e7f-1a2b3c4d5e6f","#,
            r#""identity_name":"ci-deployer/é","auth_method":"universal-auth","#,
            r#""rule":"short-lived-tokens","severity":"high","status":"pass","#,
            r#""violations":[],"exemption":null,"error":null,"remediation":null}"#
        );
        assert_eq!(row(&f), expected);
        assert_eq!(row(&f).as_bytes(), serde_json::to_vec(&f).unwrap());
    }

    #[test]
    fn fail_row_with_violations_matches_serde() {
        let mut f = pass_finding();
        f.status = Status::Fail;
        f.identity_name = "quote \" back \\ tab \t nul \0 sep \u{2028}".into();
        f.auth_method = AuthMethod::Unknown("odd\"auth".into());
        f.violations = vec![
            Violation {
                check: CheckCode::MaxTtl,
                field: "accessTokenTTL".into(),
                observed: "2592000".into(),
                expected: "<= 3600".into(),
                message: "TTL is 30d, the policy allows 1h".into(),
            },
            Violation {
                check: CheckCode::Allowed,
                field: "allowedUsernames".into(),
                observed: "root\nadmin".into(),
                expected: "svc-*".into(),
                message: "\"root\" matches no pattern".into(),
            },
        ];
        f.remediation = Some(Remediation::auto(Map::from_iter([
            ("accessTokenTTL".to_owned(), Value::from(3600)),
            ("ratio".to_owned(), Value::from(0.1)),
            ("allowedUsernames".to_owned(), Value::from("svc-a,svc-b")),
        ])));
        let got = row(&f);
        assert_eq!(got.as_bytes(), serde_json::to_vec(&f).unwrap());
        assert!(got.contains(r#""auth_method":"odd\"auth""#), "{got}");
        assert!(got.contains(r#""check":"max-ttl""#), "{got}");

        f.status = Status::Exempt;
        f.exemption = Some(AppliedExemption {
            reason: "legacy".into(),
            owner: None,
            expires: "2027-01-01".into(),
        });
        f.remediation = Some(Remediation::manual("no \"fallback\""));
        f.error = Some("timed out".into());
        assert_eq!(row(&f).as_bytes(), serde_json::to_vec(&f).unwrap());
    }

    #[test]
    fn escape_check_matches_serde_for_every_byte() {
        for b in 0u8..=0x7f {
            let s = String::from(char::from(b));
            let serde = serde_json::to_string(&s).unwrap();
            assert_eq!(needs_escape(s.as_bytes()), serde.len() != 3, "byte {b:#x}");
        }
    }

    /// Strings heavy in what JSON escaping cares about, mixed with arbitrary unicode.
    fn text() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<String>(),
            "[a-z0-9 \"\\\\/\\x00-\\x1f\\x7f\u{80}\u{a0}\u{2028}\u{2029}é€😀-]{0,16}",
            "[a-zA-Z0-9_.-]{0,40}",
        ]
    }

    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            text().prop_map(Value::from),
        ];
        leaf.prop_recursive(2, 8, 3, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
                prop::collection::btree_map(text(), inner, 0..3)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    fn finding() -> impl Strategy<Value = Finding> {
        crate::finding::strategy::finding(text().boxed(), json_value().boxed())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn row_is_byte_identical_to_serde(f in finding()) {
            let mut out = b"prefix".to_vec();
            write_finding(&mut out, &f).unwrap();
            let mut expected = b"prefix".to_vec();
            expected.extend(serde_json::to_vec(&f).unwrap());
            prop_assert_eq!(
                String::from_utf8_lossy(&out),
                String::from_utf8_lossy(&expected)
            );
            prop_assert_eq!(out, expected);
        }
    }
}
