//! Attaching an auth method to an identity (`POST /api/v1/auth/<method>/identities/{id}`): the
//! stored row Infisical creates from the request body, with its attach defaults.
//!
//! A minimal but real subset of Infisical's attach schemas (`server/routes/v1/
//! identity-*-auth-router.ts`): the common defaults (TTL and Max TTL 2592000, no use limit,
//! trusted IPs `0.0.0.0/0` and `::/0`), universal auth's (lockout on, 3 failures, 300 s, reset
//! after 30 s; `accessTokenPeriod` 0), aws-auth's (the global STS endpoint, empty allowlists),
//! then each method's required fields, then the body checked field by field with the same rules
//! as a PATCH (`patch.rs`), and finally the TTL check on the row as created. Simplification: a
//! field the attach schema defaults but this module does not (OIDC `boundAudiences`, ...) is
//! simply absent from the row until a PATCH sets it.
//!
//! It owns no routing and no state: `routes/changes.rs` looks the identity up, refuses a method
//! already attached, stores the row and records the event.

use serde_json::{Map, Value, json};

use super::SpiffeApi;
use super::patch::{self, PatchError};
use super::stored_ip::stored_list;
use super::zod;
use crate::AuthMethod;

/// Attach defaults of the common fields (`accessTokenTTL` ... `.default(...)`).
const DEFAULT_TTL: u64 = 2_592_000;

/// The fields an attach body must hold, beyond those its update schema already requires
/// (OCI `tenancyOcid`, AliCloud `allowedArns`, JWT `configurationType`, spiffe-auth's
/// `configurationType` in the flat version). GUESS: the attach schemas' fields without
/// `.default()` or `.optional()`, from memory of the routers, not checked one by one.
fn required(method: &AuthMethod) -> &'static [&'static str] {
    match method {
        AuthMethod::Gcp => &["type"],
        AuthMethod::Azure => &["tenantId", "resource"],
        AuthMethod::Oidc => &["oidcDiscoveryUrl", "boundIssuer"],
        AuthMethod::Ldap => &["url", "bindDN", "bindPass", "searchBase"],
        AuthMethod::TlsCert => &["caCertificate"],
        AuthMethod::Spiffe => &["trustDomain", "allowedSpiffeIds"],
        _ => &[],
    }
}

/// The row an attach starts from: ids, timestamps and the attach defaults.
fn defaults(method: &AuthMethod, identity_id: &str, now: &str) -> Map<String, Value> {
    let open = stored_list(&["0.0.0.0/0", "::/0"]);
    let mut row = Map::new();
    row.insert("id".into(), json!(uuid::Uuid::new_v4().to_string()));
    match method {
        AuthMethod::Universal => {
            row.insert("clientId".into(), json!(uuid::Uuid::new_v4().to_string()));
            row.insert("clientSecretTrustedIps".into(), open.clone());
            row.insert("lockoutEnabled".into(), json!(true));
            row.insert("lockoutThreshold".into(), json!(3));
            row.insert("lockoutDurationSeconds".into(), json!(300));
            row.insert("lockoutCounterResetSeconds".into(), json!(30));
        }
        AuthMethod::Aws => {
            row.insert("type".into(), json!("iam"));
            row.insert("stsEndpoint".into(), json!("https://sts.amazonaws.com/"));
            row.insert("allowedPrincipalArns".into(), json!(""));
            row.insert("allowedAccountIds".into(), json!(""));
        }
        _ => {}
    }
    row.insert("accessTokenTTL".into(), json!(DEFAULT_TTL));
    row.insert("accessTokenMaxTTL".into(), json!(DEFAULT_TTL));
    row.insert("accessTokenNumUsesLimit".into(), json!(0));
    if matches!(
        method,
        AuthMethod::Universal | AuthMethod::Aws | AuthMethod::Oci
    ) {
        row.insert("accessTokenPeriod".into(), json!(0));
    }
    row.insert("accessTokenTrustedIps".into(), open);
    row.insert("createdAt".into(), json!(now));
    row.insert("updatedAt".into(), json!(now));
    row.insert("identityId".into(), json!(identity_id));
    row
}

/// The row to store for an attach of `method` to `identity_id` with `body` (`now` is the
/// creation time, ISO). Errors as a PATCH's: zod issues (422), service checks (400).
pub(crate) fn row(
    method: &AuthMethod,
    identity_id: &str,
    body: &Value,
    now: &str,
    ip_allowlisting: bool,
    spiffe_api: SpiffeApi,
) -> Result<Map<String, Value>, PatchError> {
    let mut base = defaults(method, identity_id, now);
    // The TTLs are checked below on the row as created, after their defaults: kept out of
    // the PATCH's service check, which stands the stored Max TTL in for a missing TTL.
    let ttls = ["accessTokenTTL", "accessTokenMaxTTL"].map(|k| (k, base.remove(k)));
    let missing: Vec<Value> = match body.as_object() {
        Some(obj) => required(method)
            .iter()
            .filter(|k| !obj.contains_key(**k))
            .map(|k| zod::invalid_type(&zod::key(k), "string", None))
            .collect(),
        None => Vec::new(),
    };
    let built = match patch::apply(method, &base, body, ip_allowlisting, spiffe_api) {
        // Nothing in the body: the defaults stand.
        Err(PatchError::Internal) => Ok(base),
        other => other,
    };
    let row = match built {
        Err(PatchError::Validation(mut issues)) => {
            issues.extend(missing);
            return Err(PatchError::Validation(issues));
        }
        _ if !missing.is_empty() => return Err(PatchError::Validation(missing)),
        other => other?,
    };
    let mut row = row;
    for (k, default) in ttls {
        if let Some(default) = default {
            row.entry(k).or_insert(default);
        }
    }
    let of = |k: &str| row.get(k).and_then(Value::as_u64).unwrap_or(0);
    let (ttl, max) = (of("accessTokenTTL"), of("accessTokenMaxTTL"));
    if max > 0 && ttl > max {
        if *method == AuthMethod::Universal {
            // Its attach schema refines the defaulted body.
            return Err(PatchError::Validation(vec![zod::custom(
                &[],
                "Access Token TTL cannot be greater than Access Token Max TTL.",
            )]));
        }
        return Err(PatchError::BadRequest(
            "Access token TTL cannot be greater than max TTL".into(),
        ));
    }
    Ok(row)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attach(method: AuthMethod, body: Value) -> Result<Map<String, Value>, PatchError> {
        row(
            &method,
            "id-1",
            &body,
            "2026-01-01T00:00:00.000Z",
            true,
            SpiffeApi::Flat,
        )
    }

    /// An empty body attaches universal auth with Infisical's defaults, open to the world.
    #[test]
    fn empty_body_takes_the_defaults() {
        let row = attach(AuthMethod::Universal, json!({})).unwrap();
        assert_eq!(row["accessTokenTTL"], 2_592_000);
        assert_eq!(row["accessTokenNumUsesLimit"], 0);
        assert_eq!(row["accessTokenTrustedIps"][0]["prefix"], 0);
        assert_eq!(row["clientSecretTrustedIps"][1]["type"], "ipv6");
        assert_eq!(row["lockoutThreshold"], 3);
        assert_eq!(row["identityId"], "id-1");
    }

    /// Body values replace the defaults, in their stored form.
    #[test]
    fn body_values_are_stored_normalised() {
        let body = json!({"accessTokenTTL": 600, "accessTokenMaxTTL": 3600,
                          "accessTokenTrustedIps": [{"ipAddress": "10.0.0.0/8"}],
                          "allowedAccountIds": "111122223333,444455556666"});
        let row = attach(AuthMethod::Aws, body).unwrap();
        assert_eq!(row["accessTokenTTL"], 600);
        assert_eq!(
            row["accessTokenTrustedIps"],
            json!([{"ipAddress": "10.0.0.0", "type": "ipv4", "prefix": 8}])
        );
        assert_eq!(row["allowedAccountIds"], "111122223333, 444455556666");
        assert_eq!(row["allowedPrincipalArns"], "");
    }

    /// Missing required fields and bad values are reported together, as zod does.
    #[test]
    fn required_fields_and_bad_values_are_all_reported() {
        let Err(PatchError::Validation(issues)) =
            attach(AuthMethod::Ldap, json!({"accessTokenTTL": -1}))
        else {
            panic!("accepted");
        };
        let paths: Vec<&Value> = issues.iter().map(|i| &i["path"]).collect();
        assert!(paths.contains(&&json!(["accessTokenTTL"])));
        assert!(paths.contains(&&json!(["bindPass"])));
        assert_eq!(issues.len(), 5);
    }

    /// A TTL above the defaulted Max TTL is refused: by universal auth's schema (422), by the
    /// other services (400).
    #[test]
    fn ttl_above_the_defaulted_max() {
        let body = json!({"accessTokenTTL": 2_600_000});
        assert!(matches!(
            attach(AuthMethod::Universal, body.clone()),
            Err(PatchError::Validation(_))
        ));
        assert!(matches!(
            attach(AuthMethod::Token, body),
            Err(PatchError::BadRequest(_))
        ));
        // A TTL of 0 is no TTL above any Max TTL, whatever the defaults.
        let row = attach(
            AuthMethod::Token,
            json!({"accessTokenTTL": 0, "accessTokenMaxTTL": 100}),
        )
        .unwrap();
        assert_eq!(
            (&row["accessTokenTTL"], &row["accessTokenMaxTTL"]),
            (&json!(0), &json!(100))
        );
    }
}
