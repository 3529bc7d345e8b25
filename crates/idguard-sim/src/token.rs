//! Access tokens the simulator issues: JWT-shaped strings (`header.payload.signature`, base64url)
//! whose payload carries `identityId`, `orgId`, `exp` and a token id. The server keeps the real
//! state (expiry, revocation, the auth method it was issued through) in a table keyed by the
//! token id, so the string itself is opaque to clients, as Infisical's are.

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::AuthMethod;

/// One issued token.
#[derive(Debug, Clone)]
pub(crate) struct TokenRec {
    pub(crate) identity_id: String,
    /// The auth method the token was issued through (its trusted IPs apply to every use).
    pub(crate) auth_method: AuthMethod,
    pub(crate) expires_at: Instant,
    pub(crate) revoked: bool,
}

/// Why a presented token is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenProblem {
    /// Not shaped like a JWT.
    Malformed,
    /// Unknown, expired or revoked.
    Expired,
}

/// Login lockout bookkeeping of one client id.
#[derive(Debug, Clone, Default)]
pub(crate) struct Lockout {
    pub(crate) failures: u32,
    pub(crate) first_failure: Option<Instant>,
    pub(crate) locked_until: Option<Instant>,
}

/// Tokens and lockouts.
#[derive(Debug, Default)]
pub(crate) struct AuthState {
    pub(crate) tokens: HashMap<String, TokenRec>,
    pub(crate) lockouts: HashMap<String, Lockout>,
    counter: u64,
}

impl AuthState {
    /// Issues a new token for `identity_id`, through `auth_method`, living `ttl`.
    pub(crate) fn issue(
        &mut self,
        identity_id: &str,
        auth_method: &AuthMethod,
        org_id: &str,
        ttl: Duration,
    ) -> String {
        self.counter += 1;
        let jti = uuid::Uuid::new_v4().to_string();
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        let payload = json!({
            "identityId": identity_id,
            "identityAccessTokenId": jti,
            "authTokenType": "identityAccessToken",
            "orgId": org_id,
            "iat": now,
            "exp": now + ttl.as_secs(),
            "jti": jti,
        });
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
        let body = URL_SAFE_NO_PAD.encode(payload.to_string());
        let mut hasher = Sha256::new();
        hasher.update(header.as_bytes());
        hasher.update(body.as_bytes());
        hasher.update(self.counter.to_le_bytes());
        let sig = URL_SAFE_NO_PAD.encode(hasher.finalize());
        self.tokens.insert(
            jti,
            TokenRec {
                identity_id: identity_id.to_owned(),
                auth_method: auth_method.clone(),
                expires_at: Instant::now() + ttl,
                revoked: false,
            },
        );
        format!("{header}.{body}.{sig}")
    }

    /// The identity a presented token stands for, and the auth method it was issued through.
    pub(crate) fn check(&self, token: &str) -> Result<(String, AuthMethod), TokenProblem> {
        let jti = token_id(token).ok_or(TokenProblem::Malformed)?;
        let rec = self.tokens.get(&jti).ok_or(TokenProblem::Expired)?;
        if rec.revoked || rec.expires_at <= Instant::now() {
            return Err(TokenProblem::Expired);
        }
        Ok((rec.identity_id.clone(), rec.auth_method.clone()))
    }

    /// Revokes every token issued to `identity_id`, only those issued through `method` when
    /// given (a revoked auth method, `revokeTokensForIdentityAuthMethod`), all of them
    /// otherwise (a deleted identity).
    pub(crate) fn revoke_for(&mut self, identity_id: &str, method: Option<&AuthMethod>) {
        for rec in self.tokens.values_mut() {
            if rec.identity_id == identity_id && method.is_none_or(|m| *m == rec.auth_method) {
                rec.revoked = true;
            }
        }
    }

    /// The record of a token (for renew).
    pub(crate) fn get(&self, token: &str) -> Option<&TokenRec> {
        token_id(token).and_then(|jti| self.tokens.get(&jti))
    }
}

/// The token id from the payload of a JWT-shaped string.
fn token_id(token: &str) -> Option<String> {
    let mut parts = token.split('.');
    let (_, payload, _) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let bytes = URL_SAFE_NO_PAD.decode(payload).ok()?;
    let value: Value = serde_json::from_slice(&bytes).ok()?;
    value.get("jti")?.as_str().map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issued_token_checks_and_expires() {
        let mut auth = AuthState::default();
        let t = auth.issue(
            "id-1",
            &AuthMethod::Universal,
            "org",
            Duration::from_secs(60),
        );
        assert_eq!(
            auth.check(&t),
            Ok(("id-1".to_owned(), AuthMethod::Universal))
        );
        assert_eq!(auth.check("nope"), Err(TokenProblem::Malformed));
        for rec in auth.tokens.values_mut() {
            rec.expires_at = Instant::now() - Duration::from_secs(1);
        }
        assert_eq!(auth.check(&t), Err(TokenProblem::Expired));
    }

    /// Revoking one method's tokens leaves the identity's other tokens and other identities'
    /// tokens working; revoking them all leaves none of the identity's.
    #[test]
    fn revoke_for_one_method_or_all() {
        let mut auth = AuthState::default();
        let ttl = Duration::from_secs(60);
        let ua = auth.issue("id-1", &AuthMethod::Universal, "org", ttl);
        let aws = auth.issue("id-1", &AuthMethod::Aws, "org", ttl);
        let other = auth.issue("id-2", &AuthMethod::Universal, "org", ttl);
        auth.revoke_for("id-1", Some(&AuthMethod::Universal));
        assert_eq!(auth.check(&ua), Err(TokenProblem::Expired));
        assert!(auth.check(&aws).is_ok());
        assert!(auth.check(&other).is_ok());
        auth.revoke_for("id-1", None);
        assert_eq!(auth.check(&aws), Err(TokenProblem::Expired));
        assert!(auth.check(&other).is_ok());
    }
}
