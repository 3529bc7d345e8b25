//! The configuration of one auth method on one identity, as read from
//! `GET /api/v1/auth/<method>/identities/{id}`.
//!
//! The fields every method has are decoded into typed values, the method's allowlist fields
//! are kept as returned, and the whole object (method-specific settings and unknown fields
//! included) is kept as a map of JSON values, which remediation resends and compares. A config
//! whose object cannot be decoded into that map is a decode error: the map is built when the
//! config is, never later and never empty in its place.

use std::fmt;

use serde_json::{Map, Value};

use super::config_body::{ConfigBody, Parsed};
use super::{AuthMethod, TrustedIp, TrustedIpError};

/// One decoded auth-method configuration.
#[derive(Debug, Clone)]
pub struct AuthConfig {
    /// Which method this is.
    pub method: AuthMethod,
    /// `accessTokenTTL` in seconds; 0 = unlimited.
    pub access_token_ttl: u64,
    /// `accessTokenMaxTTL` in seconds; 0 = unlimited.
    pub access_token_max_ttl: u64,
    /// `accessTokenNumUsesLimit`; 0 = unlimited.
    pub access_token_num_uses_limit: u64,
    /// `accessTokenPeriod` when the config has the field; > 0 = periodic token.
    pub access_token_period: Option<u64>,
    /// `accessTokenTrustedIps` when present (null or absent: `None`).
    pub access_token_trusted_ips: Option<Vec<TrustedIp>>,
    /// `clientSecretTrustedIps` when present (universal-auth).
    pub client_secret_trusted_ips: Option<Vec<TrustedIp>>,
    /// The method's allowlist fields that the config has, as returned (null included).
    allowlists: Vec<(&'static str, Value)>,
    /// The whole object as the server returned it, unknown fields included.
    fields: Fields,
}

/// The whole config object.
#[derive(Clone, PartialEq)]
struct Fields(Map<String, Value>);

impl fmt::Debug for Fields {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Values can be secrets (LDAP bindPass, ...): keys only.
        f.debug_list().entries(self.0.keys()).finish()
    }
}

impl PartialEq for AuthConfig {
    fn eq(&self, other: &Self) -> bool {
        self.method == other.method
            && self.access_token_ttl == other.access_token_ttl
            && self.access_token_max_ttl == other.access_token_max_ttl
            && self.access_token_num_uses_limit == other.access_token_num_uses_limit
            && self.access_token_period == other.access_token_period
            && self.access_token_trusted_ips == other.access_token_trusted_ips
            && self.client_secret_trusted_ips == other.client_secret_trusted_ips
            && self.fields == other.fields
    }
}

/// Why a GET response body could not be turned into an [`AuthConfig`].
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConfigDecodeError {
    #[error("response is not a JSON object with the `{0}` key")]
    MissingWrapper(String),
    #[error("`{field}` is missing or not a non-negative integer")]
    BadNumber { field: &'static str },
    #[error("`{field}` is not a list of trusted IPs")]
    BadTrustedIps { field: &'static str },
    #[error("`{field}` entry {index}: {source}")]
    TrustedIp {
        field: &'static str,
        index: usize,
        source: TrustedIpError,
    },
    /// The config object cannot be decoded into a map of JSON values (a number beyond what
    /// JSON decoding represents, nesting too deep, ...); the detail names no value.
    #[error("the config object cannot be decoded: {0}")]
    Object(String),
}

/// The typed and allowlist fields as JSON values (the full decoder's path).
#[derive(Default)]
struct Typed {
    ttl: Option<Value>,
    max_ttl: Option<Value>,
    uses: Option<Value>,
    period: Option<Value>,
    access_ips: Option<Value>,
    secret_ips: Option<Value>,
    allowlists: Vec<(&'static str, Value)>,
}

impl AuthConfig {
    /// Decodes a whole response body `{"<wrapperKey>": {...}}`. For an unknown method the body
    /// must hold exactly one key whose value is an object.
    pub fn from_response(
        method: &AuthMethod,
        body: &Value,
    ) -> Result<AuthConfig, ConfigDecodeError> {
        AuthConfig::from_response_owned(method, body.clone())
    }

    /// [`AuthConfig::from_response`] taking the body by value (no copy of the config).
    pub fn from_response_owned(
        method: &AuthMethod,
        body: Value,
    ) -> Result<AuthConfig, ConfigDecodeError> {
        let wrapper = method.wrapper_key();
        let missing =
            || ConfigDecodeError::MissingWrapper(wrapper.unwrap_or("<method>").to_owned());
        let Value::Object(mut obj) = body else {
            return Err(missing());
        };
        let inner = match wrapper {
            Some(key) => obj.remove(key),
            None if obj.len() == 1 => obj.into_iter().next().map(|(_, v)| v),
            None => None,
        };
        match inner {
            Some(Value::Object(fields)) => AuthConfig::from_fields(method.clone(), fields),
            _ => Err(missing()),
        }
    }

    /// Decodes a parsed response body (see [`ConfigBody`]): the same result as
    /// [`AuthConfig::from_response`], and an error whenever the config object cannot be decoded
    /// into a map (which a body that is not valid JSON cannot reach: [`ConfigBody::parse`]
    /// refuses it).
    pub fn from_body(
        method: &AuthMethod,
        body: ConfigBody,
    ) -> Result<AuthConfig, ConfigDecodeError> {
        let (typed, body) = match body.0 {
            Parsed::Slow(value) => return AuthConfig::from_response_owned(method, value),
            Parsed::Fast { typed, body } => (typed, body),
        };
        let fields = object_of(&body, method.wrapper_key())?;
        Ok(AuthConfig {
            method: method.clone(),
            access_token_ttl: typed.ttl,
            access_token_max_ttl: typed.max_ttl,
            access_token_num_uses_limit: typed.uses,
            access_token_period: typed.period,
            access_token_trusted_ips: typed.access_ips,
            client_secret_trusted_ips: typed.secret_ips,
            allowlists: typed.allowlists,
            fields: Fields(fields),
        })
    }

    /// Decodes the config object itself (the value under the wrapper key).
    pub fn from_fields(
        method: AuthMethod,
        fields: Map<String, Value>,
    ) -> Result<AuthConfig, ConfigDecodeError> {
        let get = |key: &str| fields.get(key).cloned();
        let typed = Typed {
            ttl: get("accessTokenTTL"),
            max_ttl: get("accessTokenMaxTTL"),
            uses: get("accessTokenNumUsesLimit"),
            period: get("accessTokenPeriod"),
            access_ips: get("accessTokenTrustedIps"),
            secret_ips: get("clientSecretTrustedIps"),
            allowlists: allowlists_of(&method, &fields),
        };
        AuthConfig::from_typed(method, typed, Fields(fields))
    }

    fn from_typed(
        method: AuthMethod,
        typed: Typed,
        fields: Fields,
    ) -> Result<AuthConfig, ConfigDecodeError> {
        let number =
            |value: &Option<Value>, field: &'static str| -> Result<u64, ConfigDecodeError> {
                value
                    .as_ref()
                    .and_then(as_count)
                    .ok_or(ConfigDecodeError::BadNumber { field })
            };
        let access_token_ttl = number(&typed.ttl, "accessTokenTTL")?;
        let access_token_max_ttl = number(&typed.max_ttl, "accessTokenMaxTTL")?;
        let access_token_num_uses_limit = number(&typed.uses, "accessTokenNumUsesLimit")?;
        let access_token_period = match &typed.period {
            None | Some(Value::Null) => None,
            Some(v) => Some(as_count(v).ok_or(ConfigDecodeError::BadNumber {
                field: "accessTokenPeriod",
            })?),
        };
        let access_token_trusted_ips =
            trusted_ips(typed.access_ips.as_ref(), "accessTokenTrustedIps")?;
        let client_secret_trusted_ips =
            trusted_ips(typed.secret_ips.as_ref(), "clientSecretTrustedIps")?;
        Ok(AuthConfig {
            method,
            access_token_ttl,
            access_token_max_ttl,
            access_token_num_uses_limit,
            access_token_period,
            access_token_trusted_ips,
            client_secret_trusted_ips,
            allowlists: typed.allowlists,
            fields,
        })
    }

    /// The raw value of a field (allowlists and other method-specific fields).
    pub fn field(&self, name: &str) -> Option<&Value> {
        if self.method.allowlist_fields().contains(&name) {
            return self
                .allowlists
                .iter()
                .find(|(f, _)| *f == name)
                .map(|(_, v)| v);
        }
        self.fields.0.get(name)
    }

    /// The whole config object as the server returned it.
    pub fn fields(&self) -> &Map<String, Value> {
        &self.fields.0
    }

    /// Sets one field of the object, as a PATCH of it would (the typed fields are not
    /// touched: callers set those themselves).
    pub fn set_field(&mut self, name: String, value: Value) {
        if let Some(field) = self.method.allowlist_fields().iter().find(|f| **f == name) {
            self.allowlists.retain(|(f, _)| f != field);
            self.allowlists.push((field, value.clone()));
        }
        self.fields.0.insert(name, value);
    }

    /// The trusted-IP list of `field` (`accessTokenTrustedIps` or `clientSecretTrustedIps`).
    pub fn trusted_ips(&self, field: &str) -> Option<&[TrustedIp]> {
        match field {
            "accessTokenTrustedIps" => self.access_token_trusted_ips.as_deref(),
            "clientSecretTrustedIps" => self.client_secret_trusted_ips.as_deref(),
            _ => None,
        }
    }
}

/// The config object of a body the one-pass decoder accepted (the value of `wrapper`, or of
/// the only key for a method this version does not know), decoded into a map.
fn object_of(body: &[u8], wrapper: Option<&str>) -> Result<Map<String, Value>, ConfigDecodeError> {
    // serde_json's messages name a position, never a value (values can be secrets).
    let mut outer: Map<String, Value> =
        serde_json::from_slice(body).map_err(|e| ConfigDecodeError::Object(e.to_string()))?;
    let inner = match wrapper {
        Some(key) => outer.remove(key),
        None => outer.into_iter().next().map(|(_, v)| v),
    };
    match inner {
        Some(Value::Object(map)) => Ok(map),
        _ => Err(ConfigDecodeError::Object(
            "no config object in the answer".into(),
        )),
    }
}

fn allowlists_of(method: &AuthMethod, fields: &Map<String, Value>) -> Vec<(&'static str, Value)> {
    method
        .allowlist_fields()
        .iter()
        .filter_map(|f| fields.get(*f).map(|v| (*f, v.clone())))
        .collect()
}

/// A non-negative integer, also from a float with no fraction or a numeric string (the server's
/// schemas coerce).
fn as_count(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64().or_else(|| {
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f <= u64::MAX as f64)
                .map(|f| f as u64)
        }),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn trusted_ips(
    value: Option<&Value>,
    field: &'static str,
) -> Result<Option<Vec<TrustedIp>>, ConfigDecodeError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(index, item)| {
                TrustedIp::from_json(item).map_err(|source| ConfigDecodeError::TrustedIp {
                    field,
                    index,
                    source,
                })
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(_) => Err(ConfigDecodeError::BadTrustedIps { field }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn decodes_the_real_universal_auth_response() {
        let body = json!({"identityUniversalAuth": {"id": "6addb6ae", "clientId": "d65eddff",
          "accessTokenTTL": 2592000, "accessTokenMaxTTL": 2592000, "accessTokenNumUsesLimit": 0,
          "clientSecretTrustedIps": [{"type": "ipv4", "prefix": 0, "ipAddress": "0.0.0.0"},
                                     {"type": "ipv6", "prefix": 0, "ipAddress": "::"}],
          "accessTokenTrustedIps": [{"type": "ipv4", "prefix": 0, "ipAddress": "0.0.0.0"}],
          "createdAt": "2026-11-25T16:46:27.513Z", "identityId": "f2166b11"}});
        let cfg = AuthConfig::from_response(&AuthMethod::Universal, &body).expect("decodes");
        assert_eq!(cfg.access_token_ttl, 2_592_000);
        assert_eq!(cfg.access_token_period, None);
        assert_eq!(
            cfg.client_secret_trusted_ips.as_ref().map(Vec::len),
            Some(2)
        );
        assert_eq!(cfg.field("clientId"), Some(&json!("d65eddff")));
    }

    #[test]
    fn rejects_missing_numbers_and_wrong_wrapper() {
        let body = json!({"identityOciAuth": {"accessTokenTTL": 1}});
        assert!(matches!(
            AuthConfig::from_response(&AuthMethod::Oci, &body),
            Err(ConfigDecodeError::BadNumber {
                field: "accessTokenMaxTTL"
            })
        ));
        assert!(AuthConfig::from_response(&AuthMethod::Aws, &body).is_err());
    }

    #[test]
    fn unknown_method_takes_the_single_key() {
        let body = json!({"identityQuantumAuth": {"accessTokenTTL": 1, "accessTokenMaxTTL": 2,
            "accessTokenNumUsesLimit": 0}});
        let m = AuthMethod::Unknown("quantum-auth".into());
        assert_eq!(
            AuthConfig::from_response(&m, &body)
                .expect("ok")
                .access_token_max_ttl,
            2
        );
    }

    /// The one-pass decode of a raw body gives what the full decode gives: same typed values,
    /// same allowlist fields (null and missing kept apart), same whole-object map, same errors.
    #[test]
    fn raw_body_decode_matches_the_full_decode() {
        let bodies = [
            (
                AuthMethod::Oci,
                json!({"identityOciAuth": {"accessTokenTTL": "60", "accessTokenMaxTTL": 120.0,
                "accessTokenNumUsesLimit": 0, "accessTokenPeriod": null, "allowedUsernames": "a, b",
                "tenancyOcid": "ocid1.tenancy", "accessTokenTrustedIps": [{"ipAddress": "10.0.0.0", "prefix": 8, "type": "ipv4"}]}}),
            ),
            (
                AuthMethod::Aws,
                json!({"identityAwsAuth": {"accessTokenTTL": 1, "accessTokenMaxTTL": 2,
                "accessTokenNumUsesLimit": 3, "allowedPrincipalArns": null, "stsEndpoint": "https://sts"}}),
            ),
            (
                AuthMethod::Gcp,
                json!({"identityGcpAuth": {"accessTokenTTL": 1, "accessTokenMaxTTL": 2,
                "accessTokenNumUsesLimit": 3, "allowedZones": "", "allowedZones": "z1"}}),
            ),
            (
                AuthMethod::Unknown("quantum-auth".into()),
                json!({"identityQuantumAuth": {"accessTokenTTL": 1,
                "accessTokenMaxTTL": 2, "accessTokenNumUsesLimit": 0, "x": {"nested": [1, 2]}}}),
            ),
            (
                AuthMethod::Oci,
                json!({"identityOciAuth": {"accessTokenTTL": -1}}),
            ),
            (AuthMethod::Oci, json!({"identityOciAuth": [1, 2]})),
            (AuthMethod::Oci, json!({"identityAwsAuth": {}})),
            (AuthMethod::Oci, json!([{"identityOciAuth": {}}])),
            (
                AuthMethod::Universal,
                json!({"identityUniversalAuth": {"accessTokenTTL": 1, "accessTokenMaxTTL": 2,
                "accessTokenNumUsesLimit": 0, "clientSecretTrustedIps": [{"ipAddress": "nope"}]}}),
            ),
            (
                AuthMethod::Universal,
                json!({"identityUniversalAuth": {"accessTokenTTL": 1, "accessTokenMaxTTL": 2,
                "accessTokenNumUsesLimit": 0, "accessTokenTrustedIps": "10.0.0.0/8"}}),
            ),
        ];
        for (method, body) in bodies {
            let full = AuthConfig::from_response(&method, &body);
            let text = serde_json::to_vec(&body).unwrap();
            let one_pass =
                AuthConfig::from_body(&method, ConfigBody::parse(&text, &method).unwrap());
            assert_eq!(one_pass, full, "{body}");
            if let (Ok(one_pass), Ok(full)) = (&one_pass, &full) {
                assert_eq!(one_pass.fields(), full.fields());
                for f in method.allowlist_fields() {
                    assert_eq!(one_pass.field(f), full.field(f), "{f} of {body}");
                }
            }
        }
        let oci = AuthMethod::Oci;
        assert!(ConfigBody::parse(br#"{"identityOciAuth": {"accessTokenTTL": 1"#, &oci).is_err());
        assert!(ConfigBody::parse(br#"{"identityOciAuth": {}} x"#, &oci).is_err());
        // Escaped keys and values take the full decoder, with the same outcome.
        let escaped = br#"{"identity\u004fciAuth": {"accessTokenTTL": 1, "accessTokenMaxTTL": 2,
            "accessTokenNumUsesLimit": 0, "allowedUsernames": "a\u0020b"}}"#;
        let cfg = AuthConfig::from_body(&oci, ConfigBody::parse(escaped, &oci).unwrap()).unwrap();
        assert_eq!(cfg.field("allowedUsernames"), Some(&json!("a b")));
    }

    /// A body the one-pass decoder accepts but whose object cannot be decoded into a map (a
    /// number beyond f64 or nesting past serde_json's limit, in a field the one pass skips) is
    /// a decode error, never a config with an empty map.
    #[test]
    fn an_object_that_cannot_be_decoded_is_an_error() {
        let oci = AuthMethod::Oci;
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        for extra in ["1e400", "-1e999", deep.as_str()] {
            let text = format!(
                r#"{{"identityOciAuth": {{"accessTokenTTL": 1, "accessTokenMaxTTL": 2,
                "accessTokenNumUsesLimit": 0, "tenancyOcid": "t", "x": {extra}}}}}"#
            );
            let body = ConfigBody::parse(text.as_bytes(), &oci).expect("one pass accepts it");
            assert!(matches!(body.0, Parsed::Fast { .. }), "{extra}");
            let err = AuthConfig::from_body(&oci, body).expect_err(extra);
            assert!(
                matches!(&err, ConfigDecodeError::Object(detail) if !detail.contains(extra)),
                "{err}"
            );
            assert!(err.to_string().contains("cannot be decoded"), "{err}");
        }
    }

    #[test]
    fn set_field_updates_allowlists_and_the_map() {
        let body = json!({"identityOciAuth": {"accessTokenTTL": 1, "accessTokenMaxTTL": 2,
            "accessTokenNumUsesLimit": 0, "allowedUsernames": "a, b", "tenancyOcid": "t"}});
        let text = serde_json::to_vec(&body).unwrap();
        let mut cfg = AuthConfig::from_body(
            &AuthMethod::Oci,
            ConfigBody::parse(&text, &AuthMethod::Oci).unwrap(),
        )
        .unwrap();
        cfg.set_field("allowedUsernames".into(), json!("a"));
        assert_eq!(cfg.field("allowedUsernames"), Some(&json!("a")));
        assert_eq!(cfg.fields().get("allowedUsernames"), Some(&json!("a")));
        assert_eq!(cfg.field("tenancyOcid"), Some(&json!("t")));
        let debug = format!("{cfg:?}");
        assert!(
            debug.contains("tenancyOcid") && !debug.contains("\"t\""),
            "{debug}"
        );
    }
}
