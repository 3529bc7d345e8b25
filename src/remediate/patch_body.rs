//! PATCH bodies that change only what they mean to change.
//!
//! Infisical's PATCH endpoints reset some fields when they are omitted (AWS allowlists become
//! `""`, OCI `allowedUsernames` becomes null, JWT `jwksCaCert` becomes `""`), require others
//! (OCI `tenancyOcid`, AliCloud `allowedArns`, JWT `configurationType` with `jwksUrl` or
//! `publicKeys`), and refuse a lowered `accessTokenMaxTTL` sent without `accessTokenTTL`. So
//! every body is built from a fresh GET of the config: the intended changes, plus the TTL
//! partner, plus every method-specific field the server could reset or requires, copied from
//! the live config. Secrets the GET returns (LDAP `bindPass`, Kubernetes `tokenReviewerJwt`)
//! are never copied: no method resets them on omission.

use serde_json::{Map, Value};

use crate::model::{AuthConfig, AuthMethod};

/// Fields copied from the live config into every PATCH of `method` (when the intended changes
/// don't set them and the live value is not empty): the omission traps, the fields Infisical
/// requires, and the method's allowlists (defensive: several methods' PATCH semantics are
/// unconfirmed, and resending an unchanged value cannot loosen it).
pub fn resent_fields(method: &AuthMethod) -> Vec<&'static str> {
    let mut fields: Vec<&'static str> = match method {
        AuthMethod::Oci => vec!["tenancyOcid"],
        AuthMethod::Aws => vec!["stsEndpoint"],
        AuthMethod::Jwt => vec![
            "configurationType",
            "jwksUrl",
            "jwksCaCert",
            "publicKeys",
            "boundIssuer",
            "boundClaims",
            "boundSubject",
        ],
        AuthMethod::Gcp => vec!["type"],
        // One version of Infisical's spiffe-auth PATCH requires `configurationType` and resets
        // the trust-bundle source when it is omitted (the refresh hint back to 3600, the
        // profile back to `https_web`): resend all of it, so a TTL fix cannot break logins.
        AuthMethod::Spiffe => vec![
            "configurationType",
            "caBundleJwks",
            "bundleEndpointUrl",
            "bundleEndpointCaCert",
            "bundleRefreshHintSeconds",
            "bundleEndpointProfile",
        ],
        _ => vec![],
    };
    fields.extend_from_slice(method.allowlist_fields());
    fields
}

/// The PATCH body for `changes` (field → new value, request encoding) on the live `config`.
pub fn build(config: &AuthConfig, changes: &Map<String, Value>) -> Map<String, Value> {
    let mut body = changes.clone();
    // The service rejects a lowered MaxTTL sent alone: the pair always travels together.
    let ttl = body.contains_key("accessTokenTTL");
    let max = body.contains_key("accessTokenMaxTTL");
    if ttl && !max {
        body.insert(
            "accessTokenMaxTTL".into(),
            Value::from(config.access_token_max_ttl),
        );
    }
    if max && !ttl {
        body.insert(
            "accessTokenTTL".into(),
            Value::from(config.access_token_ttl),
        );
    }
    for field in resent_fields(&config.method) {
        if body.contains_key(field) {
            continue;
        }
        if let Some(value) = config.field(field).filter(|v| !is_empty(v)) {
            body.insert(field.to_owned(), value.clone());
        }
    }
    body
}

/// Fields Infisical returns in clear text that must not be written to plan files or logs.
/// Some are resent in PATCH bodies (JWT `jwksCaCert`, `publicKeys`), so plans record them
/// redacted and `apply` rebuilds the body from the fresh GET.
pub const SENSITIVE: [&str; 10] = [
    "bindPass",
    "bindDN",
    "ldapCaCertificate",
    "tokenReviewerJwt",
    "caCert",
    "caCertificate",
    "jwksCaCert",
    "publicKeys",
    "caBundleJwks",
    "bundleEndpointCaCert",
];

/// The text that stands for a redacted value.
pub const REDACTED: &str = "<redacted: resent from the live config>";

/// `body` with the values of [`SENSITIVE`] fields replaced by [`REDACTED`].
pub fn redacted(body: &Map<String, Value>) -> Map<String, Value> {
    body.iter()
        .map(|(k, v)| {
            let v = if SENSITIVE.contains(&k.as_str()) {
                Value::from(REDACTED)
            } else {
                v.clone()
            };
            (k.clone(), v)
        })
        .collect()
}

/// Null, an empty or blank string, an empty list or an empty object.
pub fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.split(',').all(|p| p.trim().is_empty()),
        // Infisical's GET of a JWT config with no keys returns `publicKeys: [""]`.
        Value::Array(a) => a.iter().all(is_empty),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

/// Problems that make a remediation body unsafe to send: an empty allowlist or trusted-IP
/// list (Infisical reads an empty allowlist as "anyone" and rejects an empty IP list).
pub fn loosening_problems(method: &AuthMethod, body: &Map<String, Value>) -> Vec<String> {
    let mut problems = Vec::new();
    for field in method.allowlist_fields() {
        if body.get(*field).is_some_and(is_empty) {
            problems.push(format!("`{field}` would be sent empty (\"anyone\")"));
        }
    }
    for field in ["accessTokenTrustedIps", "clientSecretTrustedIps"] {
        if body.get(field).is_some_and(is_empty) {
            problems.push(format!("`{field}` would be sent empty"));
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn config(method: AuthMethod, fields: Value) -> AuthConfig {
        let mut base = json!({"accessTokenTTL": 7200, "accessTokenMaxTTL": 86400,
            "accessTokenNumUsesLimit": 0});
        if let (Some(b), Some(f)) = (base.as_object_mut(), fields.as_object()) {
            b.extend(f.clone());
        }
        AuthConfig::from_fields(method, base.as_object().cloned().unwrap()).unwrap()
    }

    fn changes(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn ttl_pair_always_travels_together() {
        let c = config(AuthMethod::Universal, json!({}));
        let body = build(&c, &changes(json!({"accessTokenMaxTTL": 3600})));
        assert_eq!(body["accessTokenTTL"], json!(7200));
        let body = build(&c, &changes(json!({"accessTokenTTL": 60})));
        assert_eq!(body["accessTokenMaxTTL"], json!(86400));
        let body = build(&c, &changes(json!({"accessTokenNumUsesLimit": 5})));
        assert!(!body.contains_key("accessTokenTTL"));
    }

    #[test]
    fn oci_resends_tenancy_and_usernames() {
        let c = config(
            AuthMethod::Oci,
            json!({"tenancyOcid": "ocid1.tenancy.oc1..aaa",
            "allowedUsernames": "svc-deploy, root"}),
        );
        let body = build(&c, &changes(json!({"accessTokenNumUsesLimit": 5})));
        assert_eq!(body["tenancyOcid"], json!("ocid1.tenancy.oc1..aaa"));
        assert_eq!(body["allowedUsernames"], json!("svc-deploy, root"));
        let body = build(&c, &changes(json!({"allowedUsernames": "svc-deploy"})));
        assert_eq!(body["allowedUsernames"], json!("svc-deploy"));
    }

    #[test]
    fn aws_resends_both_allowlists_but_never_empty_ones() {
        let c = config(
            AuthMethod::Aws,
            json!({"allowedPrincipalArns": "arn:aws:iam::111122223333:role/x",
            "allowedAccountIds": "", "stsEndpoint": "https://sts.amazonaws.com/"}),
        );
        let body = build(&c, &changes(json!({"accessTokenTTL": 60})));
        assert_eq!(
            body["allowedPrincipalArns"],
            json!("arn:aws:iam::111122223333:role/x")
        );
        assert!(!body.contains_key("allowedAccountIds"));
        assert_eq!(body["stsEndpoint"], json!("https://sts.amazonaws.com/"));
    }

    #[test]
    fn jwt_resends_configuration_and_ca_cert() {
        let c = config(
            AuthMethod::Jwt,
            json!({"configurationType": "jwks", "jwksUrl": "https://x/jwks",
            "jwksCaCert": "-----BEGIN CERTIFICATE-----", "publicKeys": [], "boundAudiences": "infisical"}),
        );
        let body = build(&c, &changes(json!({"accessTokenNumUsesLimit": 5})));
        for f in [
            "configurationType",
            "jwksUrl",
            "jwksCaCert",
            "boundAudiences",
        ] {
            assert!(body.contains_key(f), "{f} resent");
        }
        assert!(!body.contains_key("publicKeys"), "empty list not sent");
    }

    #[test]
    fn spiffe_resends_its_trust_bundle_source() {
        let c = config(
            AuthMethod::Spiffe,
            json!({"trustDomain": "example.org", "configurationType": "remote",
            "bundleEndpointUrl": "https://bundle.example.org", "bundleEndpointProfile": "https_spiffe",
            "bundleEndpointCaCert": "-----BEGIN CERTIFICATE-----", "bundleRefreshHintSeconds": 600,
            "caBundleJwks": "", "allowedSpiffeIds": "spiffe://example.org/ci"}),
        );
        let body = build(&c, &changes(json!({"accessTokenTTL": 60})));
        for f in [
            "configurationType",
            "bundleEndpointUrl",
            "bundleEndpointProfile",
            "bundleEndpointCaCert",
            "bundleRefreshHintSeconds",
            "allowedSpiffeIds",
        ] {
            assert!(body.contains_key(f), "{f} resent");
        }
        assert!(
            !body.contains_key("caBundleJwks"),
            "an empty source is not sent"
        );
        assert_eq!(redacted(&body)["bundleEndpointCaCert"], json!(REDACTED));
    }

    #[test]
    fn secrets_are_never_copied() {
        let c = config(
            AuthMethod::Ldap,
            json!({"bindPass": "hunter2", "url": "ldaps://x"}),
        );
        let body = build(&c, &changes(json!({"accessTokenNumUsesLimit": 5})));
        assert!(!body.contains_key("bindPass"));
        let c = config(
            AuthMethod::Kubernetes,
            json!({"tokenReviewerJwt": "eyJ...", "allowedNamespaces": "prod-a"}),
        );
        let body = build(&c, &changes(json!({"accessTokenNumUsesLimit": 5})));
        assert!(!body.contains_key("tokenReviewerJwt"));
        assert_eq!(body["allowedNamespaces"], json!("prod-a"));
    }

    #[test]
    fn redaction_hides_clear_text_fields_only() {
        let body =
            changes(json!({"jwksCaCert": "-----BEGIN", "publicKeys": ["k"], "accessTokenTTL": 60}));
        let r = redacted(&body);
        assert_eq!(r["jwksCaCert"], json!(REDACTED));
        assert_eq!(r["publicKeys"], json!(REDACTED));
        assert_eq!(r["accessTokenTTL"], json!(60));
    }

    #[test]
    fn empty_allowlists_are_flagged() {
        let body = changes(json!({"allowedUsernames": " , ", "accessTokenTrustedIps": []}));
        assert_eq!(loosening_problems(&AuthMethod::Oci, &body).len(), 2);
        let body = changes(json!({"allowedUsernames": "svc-deploy"}));
        assert!(loosening_problems(&AuthMethod::Oci, &body).is_empty());
    }
}
