//! The auth methods an Infisical machine identity can have, with the facts idguard needs about
//! each: URL path segment, JSON wrapper key, comma-separated allowlist fields, and the fields
//! Infisical requires or resets on PATCH.

use std::fmt;

/// One auth method, as named in an identity's `authMethods` list.
///
/// `Unknown` keeps a method name this version of idguard does not know (a newer server), so it
/// can be reported instead of dropped.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AuthMethod {
    Universal,
    Gcp,
    AliCloud,
    Aws,
    Kubernetes,
    Oci,
    Oidc,
    Azure,
    Token,
    Jwt,
    Ldap,
    TlsCert,
    Spiffe,
    /// A method name this version does not know.
    Unknown(String),
}

impl AuthMethod {
    /// Every method idguard knows, in Infisical's order.
    pub const KNOWN: [AuthMethod; 13] = [
        AuthMethod::Universal,
        AuthMethod::Gcp,
        AuthMethod::AliCloud,
        AuthMethod::Aws,
        AuthMethod::Kubernetes,
        AuthMethod::Oci,
        AuthMethod::Oidc,
        AuthMethod::Azure,
        AuthMethod::Token,
        AuthMethod::Jwt,
        AuthMethod::Ldap,
        AuthMethod::TlsCert,
        AuthMethod::Spiffe,
    ];

    /// Parses an `authMethods` value; unknown names become [`AuthMethod::Unknown`].
    pub fn parse(name: &str) -> AuthMethod {
        Self::KNOWN
            .iter()
            .find(|m| m.as_str() == name)
            .cloned()
            .unwrap_or_else(|| AuthMethod::Unknown(name.to_owned()))
    }

    /// Parses a known method name; `None` for anything else.
    pub fn parse_known(name: &str) -> Option<AuthMethod> {
        Self::KNOWN.iter().find(|m| m.as_str() == name).cloned()
    }

    /// The `authMethods` value, which is also the URL path segment under `/api/v1/auth/`.
    pub fn as_str(&self) -> &str {
        match self {
            AuthMethod::Universal => "universal-auth",
            AuthMethod::Gcp => "gcp-auth",
            AuthMethod::AliCloud => "alicloud-auth",
            AuthMethod::Aws => "aws-auth",
            AuthMethod::Kubernetes => "kubernetes-auth",
            AuthMethod::Oci => "oci-auth",
            AuthMethod::Oidc => "oidc-auth",
            AuthMethod::Azure => "azure-auth",
            AuthMethod::Token => "token-auth",
            AuthMethod::Jwt => "jwt-auth",
            AuthMethod::Ldap => "ldap-auth",
            AuthMethod::TlsCert => "tls-cert-auth",
            AuthMethod::Spiffe => "spiffe-auth",
            AuthMethod::Unknown(name) => name,
        }
    }

    /// Whether this is one of the 13 methods idguard knows.
    pub fn is_known(&self) -> bool {
        !matches!(self, AuthMethod::Unknown(_))
    }

    /// The key that wraps the config object in GET/PATCH responses (`identityAliCloudAuth` has
    /// a capital C). `None` for unknown methods: their single top-level key is taken as is.
    pub fn wrapper_key(&self) -> Option<&'static str> {
        Some(match self {
            AuthMethod::Universal => "identityUniversalAuth",
            AuthMethod::Gcp => "identityGcpAuth",
            AuthMethod::AliCloud => "identityAliCloudAuth",
            AuthMethod::Aws => "identityAwsAuth",
            AuthMethod::Kubernetes => "identityKubernetesAuth",
            AuthMethod::Oci => "identityOciAuth",
            AuthMethod::Oidc => "identityOidcAuth",
            AuthMethod::Azure => "identityAzureAuth",
            AuthMethod::Token => "identityTokenAuth",
            AuthMethod::Jwt => "identityJwtAuth",
            AuthMethod::Ldap => "identityLdapAuth",
            AuthMethod::TlsCert => "identityTlsCertAuth",
            AuthMethod::Spiffe => "identitySpiffeAuth",
            AuthMethod::Unknown(_) => return None,
        })
    }

    /// The comma-separated allowlist fields of this method (the ones a policy `allowlists`
    /// entry may name).
    pub fn allowlist_fields(&self) -> &'static [&'static str] {
        match self {
            AuthMethod::Oci => &["allowedUsernames"],
            AuthMethod::Aws => &["allowedPrincipalArns", "allowedAccountIds"],
            AuthMethod::Gcp => &["allowedServiceAccounts", "allowedProjects", "allowedZones"],
            AuthMethod::Azure => &["allowedServicePrincipalIds"],
            AuthMethod::Kubernetes => &["allowedNamespaces", "allowedNames", "allowedAudience"],
            AuthMethod::Oidc | AuthMethod::Jwt => &["boundAudiences"],
            AuthMethod::AliCloud => &["allowedArns"],
            AuthMethod::TlsCert => &["allowedCommonNames"],
            AuthMethod::Spiffe => &["allowedSpiffeIds", "allowedAudiences"],
            AuthMethod::Universal
            | AuthMethod::Token
            | AuthMethod::Ldap
            | AuthMethod::Unknown(_) => &[],
        }
    }

    /// Whether `field` (an allowlist field) holds one value rather than a comma-separated list:
    /// Kubernetes `allowedAudience` is compared whole by Infisical, commas included.
    pub fn is_single_value_field(field: &str) -> bool {
        field == "allowedAudience"
    }

    /// Whether `field` is an allowlist field of some method (null and empty both mean
    /// "anyone" there).
    pub fn is_allowlist_field(field: &str) -> bool {
        Self::KNOWN
            .iter()
            .any(|m| m.allowlist_fields().contains(&field))
    }

    /// Whether the method has `clientSecretTrustedIps` (universal-auth only).
    pub fn has_client_secret_trusted_ips(&self) -> bool {
        matches!(self, AuthMethod::Universal)
    }

    /// Whether `accessTokenPeriod` can be set on this method (universal-auth only; other
    /// methods may still show `accessTokenPeriod: 0` on GET).
    pub fn has_settable_period(&self) -> bool {
        matches!(self, AuthMethod::Universal)
    }
}

impl fmt::Display for AuthMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for AuthMethod {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_is_kept() {
        for m in AuthMethod::KNOWN {
            assert_eq!(AuthMethod::parse(m.as_str()), m);
            assert!(m.wrapper_key().is_some());
        }
        assert_eq!(
            AuthMethod::parse("quantum-auth"),
            AuthMethod::Unknown("quantum-auth".into())
        );
        assert_eq!(
            AuthMethod::AliCloud.wrapper_key(),
            Some("identityAliCloudAuth")
        );
    }
}
