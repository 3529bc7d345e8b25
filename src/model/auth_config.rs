//! The configuration of one auth method on one identity, as read from
//! `GET /api/v1/auth/<method>/identities/{id}` (answer shapes in `docs/infisical-api.md`).
//!
//! The config object is kept whole as a map of JSON values (method-specific settings and
//! unknown fields included: remediation resends and compares whole configs), and the fields
//! every method has are decoded from it into typed values. Both happen in one place,
//! [`AuthConfig::from_fields`]; [`AuthConfig::from_response`] takes the object out of the
//! answer's wrapper first. Errors name fields, never values (values can be secrets).

use std::fmt;

use serde_json::{Map, Value};

use super::{AuthMethod, TrustedIp, TrustedIpError};

/// One decoded auth-method configuration.
#[derive(Clone)]
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
    /// The whole object as the server returned it, unknown fields included.
    fields: Map<String, Value>,
}

impl fmt::Debug for AuthConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Values of the object can be secrets (LDAP bindPass, ...): its keys only.
        f.debug_struct("AuthConfig")
            .field("method", &self.method)
            .field("access_token_ttl", &self.access_token_ttl)
            .field("access_token_max_ttl", &self.access_token_max_ttl)
            .field(
                "access_token_num_uses_limit",
                &self.access_token_num_uses_limit,
            )
            .field("access_token_period", &self.access_token_period)
            .field("access_token_trusted_ips", &self.access_token_trusted_ips)
            .field("client_secret_trusted_ips", &self.client_secret_trusted_ips)
            .field("fields", &self.fields.keys().collect::<Vec<_>>())
            .finish()
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
    /// The answer is JSON but cannot be decoded into JSON values (a number beyond what JSON
    /// decoding represents, nesting too deep, ...); the detail names no value.
    #[error("the config object cannot be decoded: {0}")]
    Object(String),
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

    /// A config answer as JSON values, for [`AuthConfig::from_response_owned`]. `Err` for an
    /// answer that is not JSON (cut short, invalid, not UTF-8), which is worth fetching again.
    /// `Ok(Err(ConfigDecodeError::Object))` for JSON that cannot be held as JSON values (a
    /// number beyond `f64`, nesting past serde_json's limit): that is what the server stores,
    /// to be reported, never read as an empty config.
    pub fn response_value(body: &[u8]) -> serde_json::Result<Result<Value, ConfigDecodeError>> {
        let text = std::str::from_utf8(body).map_err(serde::de::Error::custom)?;
        match serde_json::from_str(text) {
            Ok(value) => Ok(Ok(value)),
            Err(e) => {
                serde_json::from_str::<serde::de::IgnoredAny>(text)?;
                // serde_json's message names a position, never a value.
                Ok(Err(ConfigDecodeError::Object(e.to_string())))
            }
        }
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

    /// Decodes the config object itself (the value under the wrapper key): the typed fields
    /// are read from it, and it is kept whole.
    pub fn from_fields(
        method: AuthMethod,
        fields: Map<String, Value>,
    ) -> Result<AuthConfig, ConfigDecodeError> {
        let number = |field: &'static str| -> Result<u64, ConfigDecodeError> {
            fields
                .get(field)
                .and_then(as_count)
                .ok_or(ConfigDecodeError::BadNumber { field })
        };
        let access_token_ttl = number("accessTokenTTL")?;
        let access_token_max_ttl = number("accessTokenMaxTTL")?;
        let access_token_num_uses_limit = number("accessTokenNumUsesLimit")?;
        let access_token_period = match fields.get("accessTokenPeriod") {
            None | Some(Value::Null) => None,
            Some(_) => Some(number("accessTokenPeriod")?),
        };
        let access_token_trusted_ips = trusted_ips(&fields, "accessTokenTrustedIps")?;
        let client_secret_trusted_ips = trusted_ips(&fields, "clientSecretTrustedIps")?;
        Ok(AuthConfig {
            method,
            access_token_ttl,
            access_token_max_ttl,
            access_token_num_uses_limit,
            access_token_period,
            access_token_trusted_ips,
            client_secret_trusted_ips,
            fields,
        })
    }

    /// The raw value of a field (allowlists and other method-specific fields).
    pub fn field(&self, name: &str) -> Option<&Value> {
        self.fields.get(name)
    }

    /// The whole config object as the server returned it.
    pub fn fields(&self) -> &Map<String, Value> {
        &self.fields
    }

    /// Sets one field of the object, as a PATCH of it would (the typed fields are not
    /// touched: callers set those themselves).
    pub fn set_field(&mut self, name: String, value: Value) {
        self.fields.insert(name, value);
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

/// The trusted-IP list of `field`: `null` or absent is `None`; entries in either encoding.
fn trusted_ips(
    fields: &Map<String, Value>,
    field: &'static str,
) -> Result<Option<Vec<TrustedIp>>, ConfigDecodeError> {
    match fields.get(field) {
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

    /// An OCI config with `extra` fields on top of the three required numbers.
    fn oci(extra: Value) -> Value {
        let mut config = json!({"accessTokenTTL": 1, "accessTokenMaxTTL": 2,
            "accessTokenNumUsesLimit": 0, "tenancyOcid": "ocid1.tenancy.oc1..t"});
        if let (Some(config), Value::Object(extra)) = (config.as_object_mut(), extra) {
            config.extend(extra);
        }
        json!({"identityOciAuth": config})
    }

    /// [`oci`] decoded.
    fn decode_oci(extra: Value) -> Result<AuthConfig, ConfigDecodeError> {
        AuthConfig::from_response(&AuthMethod::Oci, &oci(extra))
    }

    /// A real universal-auth answer decodes: numbers, both trusted-IP lists, other fields kept.
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
        assert_eq!(
            cfg.trusted_ips("accessTokenTrustedIps").map(<[_]>::len),
            Some(1)
        );
        assert_eq!(cfg.field("clientId"), Some(&json!("d65eddff")));
        assert_eq!(cfg.fields().len(), 9);
    }

    /// Numbers as the server's schemas coerce them are read: integers, floats without a
    /// fraction, numeric strings (spaces trimmed); anything else is refused, naming the field.
    #[test]
    fn odd_numbers() {
        for (value, want) in [
            (json!(60), Some(60)),
            (json!(60.0), Some(60)),
            (json!(1e3), Some(1000)),
            (json!("60"), Some(60)),
            (json!(" 60 "), Some(60)),
            (json!(u64::MAX), Some(u64::MAX)),
            (json!(-1), None),
            (json!(1.5), None),
            (json!(1e30), None),
            (json!("-1"), None),
            (json!("1.5"), None),
            (json!("sixty"), None),
            (json!(true), None),
            (json!(null), None),
            (json!([60]), None),
        ] {
            let got = decode_oci(json!({"accessTokenTTL": value}));
            match want {
                Some(n) => assert_eq!(got.expect("decodes").access_token_ttl, n, "{value}"),
                None => assert_eq!(
                    got.expect_err("refused"),
                    ConfigDecodeError::BadNumber {
                        field: "accessTokenTTL"
                    },
                    "{value}"
                ),
            }
        }
    }

    /// `accessTokenPeriod` is optional (absent or null: `None`), read like the other numbers
    /// when present.
    #[test]
    fn token_period() {
        assert_eq!(decode_oci(json!({})).unwrap().access_token_period, None);
        let period = |v: Value| decode_oci(json!({"accessTokenPeriod": v}));
        assert_eq!(period(json!(null)).unwrap().access_token_period, None);
        assert_eq!(period(json!("30")).unwrap().access_token_period, Some(30));
        assert_eq!(
            period(json!(-30)).unwrap_err(),
            ConfigDecodeError::BadNumber {
                field: "accessTokenPeriod"
            }
        );
    }

    /// Each of the three required numbers, when missing, is named in the error.
    #[test]
    fn missing_numbers_are_named() {
        for field in [
            "accessTokenTTL",
            "accessTokenMaxTTL",
            "accessTokenNumUsesLimit",
        ] {
            let mut body = oci(json!({}));
            body["identityOciAuth"]
                .as_object_mut()
                .map(|config| config.remove(field));
            let err = AuthConfig::from_response(&AuthMethod::Oci, &body).unwrap_err();
            assert_eq!(err, ConfigDecodeError::BadNumber { field });
            assert!(err.to_string().contains(field), "{err}");
        }
    }

    /// The config must sit under the method's wrapper key as an object: another key, another
    /// type, or a body that is not an object is refused.
    #[test]
    fn wrong_wrappers_are_refused() {
        let config = oci(json!({}))["identityOciAuth"].clone();
        for body in [
            json!({"identityAwsAuth": config}),
            json!({"identityOciAuth": [config]}),
            json!({"identityOciAuth": null}),
            json!([{"identityOciAuth": config}]),
            json!("identityOciAuth"),
        ] {
            assert_eq!(
                AuthConfig::from_response(&AuthMethod::Oci, &body),
                Err(ConfigDecodeError::MissingWrapper("identityOciAuth".into())),
                "{body}"
            );
        }
        assert!(AuthConfig::from_response(&AuthMethod::Oci, &oci(json!({"x": 1}))).is_ok());
    }

    /// For a method this version does not know, the body's single key holds the config; a
    /// body with more keys, or whose single value is not an object, is refused.
    #[test]
    fn unknown_method_takes_the_single_key() {
        let m = AuthMethod::Unknown("quantum-auth".into());
        let config = json!({"accessTokenTTL": 1, "accessTokenMaxTTL": 2,
            "accessTokenNumUsesLimit": 0, "x": {"nested": [1, 2]}});
        let cfg = AuthConfig::from_response(&m, &json!({"identityQuantumAuth": config}))
            .expect("decodes");
        assert_eq!(cfg.access_token_max_ttl, 2);
        assert_eq!(cfg.field("x"), Some(&json!({"nested": [1, 2]})));
        for body in [
            json!({"identityQuantumAuth": config, "other": {}}),
            json!({"identityQuantumAuth": 1}),
            json!({}),
        ] {
            assert_eq!(
                AuthConfig::from_response(&m, &body),
                Err(ConfigDecodeError::MissingWrapper("<method>".into())),
                "{body}"
            );
        }
    }

    /// Trusted IPs are read in the GET encoding (address + optional prefix, also as a string)
    /// and in the request encoding (`address/prefix`); `null` or absent is no list, `[]` an
    /// empty one; a list of another type, or a bad entry, is refused naming the field (and the
    /// entry).
    #[test]
    fn trusted_ips_in_both_encodings() {
        let cfg = decode_oci(json!({"accessTokenTrustedIps": [
            {"ipAddress": "10.0.0.0", "type": "ipv4", "prefix": 8},
            {"ipAddress": "1.2.3.4", "type": "ipv4"},
            {"ipAddress": "192.168.0.0/16"},
            {"ipAddress": "fd00::", "type": "ipv6", "prefix": "8"},
        ]}))
        .unwrap();
        let ips: Vec<String> = cfg
            .trusted_ips("accessTokenTrustedIps")
            .unwrap()
            .iter()
            .map(TrustedIp::to_request_string)
            .collect();
        assert_eq!(ips, ["10.0.0.0/8", "1.2.3.4", "192.168.0.0/16", "fd00::/8"]);
        assert_eq!(cfg.trusted_ips("clientSecretTrustedIps"), None);
        let ips = |v: Value| decode_oci(json!({"accessTokenTrustedIps": v}));
        assert_eq!(ips(json!(null)).unwrap().access_token_trusted_ips, None);
        assert_eq!(
            ips(json!([])).unwrap().access_token_trusted_ips,
            Some(vec![])
        );
        assert_eq!(
            ips(json!("10.0.0.0/8")).unwrap_err(),
            ConfigDecodeError::BadTrustedIps {
                field: "accessTokenTrustedIps"
            }
        );
        for bad in [
            json!({"ipAddress": "nope"}),
            json!({"ipAddress": "10.0.0.0", "prefix": 33}),
            json!("10.0.0.0/8"),
        ] {
            assert!(
                matches!(
                    ips(json!([{"ipAddress": "1.2.3.4"}, bad])),
                    Err(ConfigDecodeError::TrustedIp {
                        field: "accessTokenTrustedIps",
                        index: 1,
                        ..
                    })
                ),
                "{bad}"
            );
        }
    }

    /// The whole object is kept: unknown fields, and allowlists as returned, a `null` one apart
    /// from a missing one; of a repeated key the last value counts.
    #[test]
    fn the_whole_object_is_kept() {
        let text = r#"{"identityAwsAuth": {"accessTokenTTL": 1, "accessTokenMaxTTL": 2,
            "accessTokenNumUsesLimit": 3, "allowedPrincipalArns": null, "stsEndpoint": "https://sts",
            "allowedAccountIds": "1", "allowedAccountIds": "2", "vendor": {"x": [1, 2.5, null]}}}"#;
        let body: Value = serde_json::from_str(text).unwrap();
        let cfg = AuthConfig::from_response(&AuthMethod::Aws, &body).unwrap();
        assert_eq!(cfg.field("allowedPrincipalArns"), Some(&Value::Null));
        assert_eq!(cfg.field("allowedAccountIds"), Some(&json!("2")));
        assert_eq!(cfg.field("vendor"), Some(&json!({"x": [1, 2.5, null]})));
        assert_eq!(cfg.field("boundAudiences"), None);
        assert_eq!(cfg.fields().len(), 7);
        assert_eq!(Some(cfg.fields()), body["identityAwsAuth"].as_object());
    }

    /// Errors name the field, never its value (a value can be a secret).
    #[test]
    fn errors_name_fields_not_values() {
        for (field, value) in [
            ("accessTokenMaxTTL", json!("hunter2-secret")),
            (
                "accessTokenNumUsesLimit",
                json!({"bindPass": "hunter2-secret"}),
            ),
            ("clientSecretTrustedIps", json!("hunter2-secret")),
        ] {
            let err = AuthConfig::from_response(
                &AuthMethod::Universal,
                &json!({"identityUniversalAuth": {"accessTokenTTL": 1, "accessTokenMaxTTL": 2,
                    "accessTokenNumUsesLimit": 0, field: value}}),
            )
            .unwrap_err()
            .to_string();
            assert!(err.contains(field) && !err.contains("hunter2"), "{err}");
        }
    }

    /// `set_field` changes the object as a PATCH would; `Debug` shows the object's keys, not
    /// its values.
    #[test]
    fn set_field_updates_the_object_and_debug_hides_values() {
        let mut cfg =
            decode_oci(json!({"allowedUsernames": "a, b", "bindPass": "hunter2"})).unwrap();
        cfg.set_field("allowedUsernames".into(), json!("a"));
        assert_eq!(cfg.field("allowedUsernames"), Some(&json!("a")));
        assert_eq!(cfg.fields().get("allowedUsernames"), Some(&json!("a")));
        assert_eq!(
            cfg.field("tenancyOcid"),
            Some(&json!("ocid1.tenancy.oc1..t"))
        );
        let debug = format!("{cfg:?}");
        assert!(
            debug.contains("tenancyOcid") && debug.contains("bindPass"),
            "{debug}"
        );
        assert!(
            !debug.contains("hunter2") && !debug.contains("a, b"),
            "{debug}"
        );
    }

    /// A config answer decodes into values; JSON that values cannot hold (a number beyond
    /// `f64`, nesting past serde_json's limit) is a config error naming no value, not retried
    /// and never an empty config; an answer that is not JSON is retried.
    #[test]
    fn config_answers_that_cannot_be_decoded() {
        let good = br#"{"identityOciAuth": {"accessTokenTTL": 1, "accessTokenMaxTTL": 2,
            "accessTokenNumUsesLimit": 0, "tenancyOcid": "t"}}"#;
        let value = AuthConfig::response_value(good).unwrap().unwrap();
        assert_eq!(value["identityOciAuth"]["accessTokenMaxTTL"], 2);
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        for extra in ["1e400", "-1e999", "123456789e400", deep.as_str()] {
            let text = format!(
                r#"{{"identityOciAuth": {{"accessTokenTTL": 1, "accessTokenMaxTTL": 2,
                "accessTokenNumUsesLimit": 0, "tenancyOcid": "t", "x": {extra}}}}}"#
            );
            let err = AuthConfig::response_value(text.as_bytes())
                .expect("valid JSON: not retried")
                .expect_err(extra);
            assert!(matches!(&err, ConfigDecodeError::Object(_)), "{err}");
            let text = err.to_string();
            assert!(
                text.contains("cannot be decoded") && !text.contains("400"),
                "{text}"
            );
        }
        for bad in [
            &br#"{"identityOciAuth": {"accessTokenTTL": 1"#[..],
            br#"{"identityOciAuth": {}} x"#,
            b"{\"identityOciAuth\": {\"x\": \"\xff\"}}",
            b"<html>502</html>",
            b"",
        ] {
            assert!(
                AuthConfig::response_value(bad).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
