//! The configuration of one auth method on one identity, as read from
//! `GET /api/v1/auth/<method>/identities/{id}`.
//!
//! The fields every method has are decoded into typed values; everything else (allowlists,
//! method-specific settings) is kept verbatim in `fields` so that unknown fields are tolerated
//! and a PATCH can resend what the server stored.

use serde_json::{Map, Value};

use super::{AuthMethod, TrustedIp, TrustedIpError};

/// One decoded auth-method configuration.
#[derive(Debug, Clone, PartialEq)]
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
    pub fields: Map<String, Value>,
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

    /// Decodes the config object itself (the value under the wrapper key).
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
            Some(v) => Some(as_count(v).ok_or(ConfigDecodeError::BadNumber {
                field: "accessTokenPeriod",
            })?),
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
}
