//! The simulator's own list of Infisical's auth methods: each method's `authMethods` name (also
//! its URL path segment under `/api/v1/auth/`) and the key that wraps its config in GET/PATCH
//! answers.
//!
//! It is written from Infisical's API as idguard's `docs/infisical-api.md` records it, not
//! shared with idguard's client, so a mistake in the client's list is not repeated by the server
//! the client is tested against. What each method's PATCH validates lives in `patch.rs`, what
//! its generated configs hold in `generator.rs`.

use std::borrow::Cow;
use std::fmt;

/// One auth method of a simulated identity.
///
/// `Unknown` is a method outside Infisical's 13 (a newer server's), which the simulator can be
/// told to serve (see [`crate::Sim::add_identity`]).
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
    /// Any other method name.
    Unknown(String),
}

impl AuthMethod {
    /// Infisical's 13 auth methods. The generator draws from them in this order: changing it
    /// changes the org every seed generates.
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

    /// The method named `name`; a name outside [`AuthMethod::KNOWN`] becomes
    /// [`AuthMethod::Unknown`].
    pub fn parse(name: &str) -> AuthMethod {
        Self::parse_known(name).unwrap_or_else(|| AuthMethod::Unknown(name.to_owned()))
    }

    /// One of Infisical's 13 methods by name; `None` for anything else.
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

    /// The key that wraps the config object in GET/PATCH answers (`identityAliCloudAuth` has a
    /// capital C). GUESS for an unknown method: Infisical's pattern, `identity` + the path
    /// segment in upper camel case (`quantum-auth` → `identityQuantumAuth`).
    pub fn wrapper_key(&self) -> Cow<'static, str> {
        Cow::Borrowed(match self {
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
            AuthMethod::Unknown(name) => {
                let mut key = String::from("identity");
                for part in name.split('-') {
                    let mut chars = part.chars();
                    if let Some(first) = chars.next() {
                        key.extend(first.to_uppercase());
                        key.push_str(chars.as_str());
                    }
                }
                return Cow::Owned(key);
            }
        })
    }
}

impl fmt::Display for AuthMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_is_kept() {
        for m in AuthMethod::KNOWN {
            assert_eq!(AuthMethod::parse(m.as_str()), m);
            assert_eq!(AuthMethod::parse_known(m.as_str()), Some(m));
        }
        assert_eq!(
            AuthMethod::parse("quantum-auth"),
            AuthMethod::Unknown("quantum-auth".into())
        );
        assert_eq!(AuthMethod::parse_known("quantum-auth"), None);
    }

    #[test]
    fn wrapper_keys() {
        assert_eq!(AuthMethod::AliCloud.wrapper_key(), "identityAliCloudAuth");
        assert_eq!(AuthMethod::TlsCert.wrapper_key(), "identityTlsCertAuth");
        assert_eq!(
            AuthMethod::Unknown("quantum-auth".into()).wrapper_key(),
            "identityQuantumAuth"
        );
        let keys: std::collections::HashSet<_> = AuthMethod::KNOWN
            .iter()
            .map(AuthMethod::wrapper_key)
            .collect();
        assert_eq!(keys.len(), AuthMethod::KNOWN.len());
    }
}
