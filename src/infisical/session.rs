//! The access token of a client: universal-auth login, token renewal, and the single-flight
//! refresh when the token expires mid-run (Infisical answers 403 `TokenError`), plus a
//! proactive refresh shortly before `expiresIn` runs out.
//!
//! Bad credentials are never retried (Infisical locks an identity out after 3 failures): a
//! failed refresh is remembered for the token generation it tried to replace, and every other
//! request waiting on that generation gets the same error instead of another login.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{PoisonError, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use http::{HeaderValue, Method};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Map, Value, json};
use tokio::time::Instant;
use url::Url;

use super::endpoint;
use super::error::{ApiError, ErrorKind};
use super::options::Credentials;
use super::throttle::Class;
use futures::future::BoxFuture;

use super::transport::{Request, TokenHolder, Transport};

/// Refreshed tokens rejected in a row (no request succeeded in between) before refreshing
/// stops: a server that rejects every new token must not cause a login per request.
const MAX_FRUITLESS_REFRESHES: u32 = 3;

/// Refresh no earlier than this before expiry (or a fifth of the lifetime, if shorter).
const RENEW_MARGIN: Duration = Duration::from_secs(60);

struct TokenState {
    token: SecretString,
    /// `Authorization: Bearer <token>`, built once per token (marked sensitive); `None` when
    /// the token cannot be a header value.
    bearer: Option<HeaderValue>,
    generation: u64,
    /// When to refresh proactively; `None` when unknown or after a failed proactive refresh.
    renew_at: Option<Instant>,
}

/// A freshly issued token.
struct Issued {
    token: SecretString,
    expires_in: Option<u64>,
}

/// The credentials and the current token of a client.
pub(crate) struct Session {
    credentials: Credentials,
    base: Url,
    state: RwLock<TokenState>,
    /// Single-flight lock for refreshes; holds the generation whose refresh failed for good
    /// and that failure.
    refresh: tokio::sync::Mutex<Option<(u64, ApiError)>>,
    /// Refreshes since the last request that succeeded with a token.
    fruitless: AtomicU32,
}

impl Session {
    /// Logs in (universal auth) or takes the given token.
    pub async fn open(
        transport: &Transport,
        base: Url,
        credentials: Credentials,
    ) -> Result<Session, ApiError> {
        let issued = match &credentials {
            Credentials::Token(token) => Issued {
                token: token.clone(),
                expires_in: None,
            },
            Credentials::UniversalAuth { client_secret, .. } => {
                transport.redactor().add(client_secret);
                login(transport, &base, &credentials).await?
            }
        };
        transport.redactor().add(&issued.token);
        let renew_at = renew_at(&issued);
        Ok(Session {
            credentials,
            base,
            state: RwLock::new(TokenState {
                bearer: bearer_header(&issued.token),
                token: issued.token,
                generation: 0,
                renew_at,
            }),
            refresh: tokio::sync::Mutex::new(None),
            fruitless: AtomicU32::new(0),
        })
    }

    /// The current token and its generation.
    pub fn current(&self) -> (u64, SecretString) {
        let st = self.state.read().unwrap_or_else(PoisonError::into_inner);
        (st.generation, st.token.clone())
    }

    /// The current token's generation and its `Authorization` header value.
    pub fn current_bearer(&self) -> (u64, Option<HeaderValue>) {
        let st = self.state.read().unwrap_or_else(PoisonError::into_inner);
        (st.generation, st.bearer.clone())
    }

    fn generation(&self) -> u64 {
        self.state
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .generation
    }

    /// The current token's JWT payload, when it is a JWT.
    pub fn claims(&self) -> Option<Map<String, Value>> {
        jwt_claims(self.current().1.expose_secret())
    }

    /// Records that a request succeeded with the token of `generation`.
    pub fn note_success(&self, generation: u64) {
        if generation == self.generation() {
            self.fruitless.store(0, Ordering::Relaxed);
        }
    }

    fn install(&self, issued: Issued) {
        let renew_at = renew_at(&issued);
        let mut st = self.state.write().unwrap_or_else(PoisonError::into_inner);
        st.bearer = bearer_header(&issued.token);
        st.token = issued.token;
        st.generation += 1;
        st.renew_at = renew_at;
    }

    fn due(&self) -> Option<u64> {
        let st = self.state.read().unwrap_or_else(PoisonError::into_inner);
        st.renew_at
            .is_some_and(|t| Instant::now() >= t)
            .then_some(st.generation)
    }

    /// Refreshes the token when it is about to expire. A failure is logged and the current
    /// token kept; bad credentials are remembered so they are not tried again.
    pub async fn renew_if_due(&self, transport: &Transport) {
        if self.due().is_none() {
            return;
        }
        let mut failed = self.refresh.lock().await;
        let Some(generation) = self.due() else {
            return; // another request refreshed while we waited
        };
        tracing::debug!("access token close to expiry; refreshing");
        match Box::pin(self.obtain(transport)).await {
            Ok(issued) => self.install(issued),
            Err(e) => {
                tracing::warn!(
                    "proactive token refresh failed: {e}; continuing with the current token"
                );
                self.state
                    .write()
                    .unwrap_or_else(PoisonError::into_inner)
                    .renew_at = None;
                if e.kind() == ErrorKind::Auth {
                    *failed = Some((generation, e));
                }
            }
        }
    }

    /// After a 403 `TokenError` seen with token `generation`: logs in again (universal auth) or
    /// renews the token once, unless another request already did.
    pub async fn refresh_after_token_error(
        &self,
        transport: &Transport,
        generation: u64,
    ) -> Result<(), ApiError> {
        let mut failed = self.refresh.lock().await;
        if self.generation() != generation {
            return Ok(());
        }
        if let Some((g, e)) = failed.as_ref()
            && *g == generation
        {
            return Err(e.clone());
        }
        if self.fruitless.load(Ordering::Relaxed) >= MAX_FRUITLESS_REFRESHES {
            let e = ApiError::Login {
                what: "token refresh",
                source: Box::new(ApiError::Status {
                    request: "token check".into(),
                    status: 403,
                    error_name: Some("TokenError".into()),
                    message: format!(
                        "the server rejected {MAX_FRUITLESS_REFRESHES} fresh tokens in a row"
                    ),
                    kind: ErrorKind::Auth,
                }),
            };
            *failed = Some((generation, e.clone()));
            return Err(e);
        }
        tracing::info!("access token expired; obtaining a new one");
        match Box::pin(self.obtain(transport)).await {
            Ok(issued) => {
                self.install(issued);
                self.fruitless.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
            Err(e) => {
                *failed = Some((generation, e.clone()));
                Err(e)
            }
        }
    }

    async fn obtain(&self, transport: &Transport) -> Result<Issued, ApiError> {
        let issued = match &self.credentials {
            Credentials::UniversalAuth { .. } => {
                login(transport, &self.base, &self.credentials).await
            }
            Credentials::Token(_) => {
                let current = self.current().1;
                renew(transport, &self.base, &current).await
            }
        }?;
        // The previous tokens stay in the redactor: a server may still echo them.
        transport.redactor().add(&issued.token);
        Ok(issued)
    }
}

/// `POST /api/v1/auth/universal-auth/login`. Not retried on 4xx: bad credentials count towards
/// the identity's lockout.
async fn login(
    transport: &Transport,
    base: &Url,
    credentials: &Credentials,
) -> Result<Issued, ApiError> {
    let Credentials::UniversalAuth {
        client_id,
        client_secret,
    } = credentials
    else {
        return Err(ApiError::InvalidUrl {
            url: String::new(),
            reason: "login needs universal-auth credentials".into(),
        });
    };
    let mut req = Request::new(
        Method::POST,
        endpoint(base, &["api", "v1", "auth", "universal-auth", "login"]),
        Class::Write,
    );
    req.authenticated = false;
    req.forbidden = ErrorKind::Auth;
    req.set_json(&json!({"clientId": client_id, "clientSecret": client_secret.expose_secret()}));
    let wrap = |e: ApiError| ApiError::Login {
        what: "universal-auth login",
        source: Box::new(e),
    };
    let body = transport.execute(&req, None).await.map_err(wrap)?;
    decode_issued(&req, &body).map_err(wrap)
}

/// `POST /api/v1/auth/token/renew` with the current token.
async fn renew(
    transport: &Transport,
    base: &Url,
    token: &SecretString,
) -> Result<Issued, ApiError> {
    let mut req = Request::new(
        Method::POST,
        endpoint(base, &["api", "v1", "auth", "token", "renew"]),
        Class::Write,
    );
    req.authenticated = false;
    req.forbidden = ErrorKind::Auth;
    req.set_json(&json!({"accessToken": token.expose_secret()}));
    let wrap = |e: ApiError| ApiError::Login {
        what: "token renewal",
        source: Box::new(e),
    };
    let body = transport.execute(&req, None).await.map_err(wrap)?;
    decode_issued(&req, &body).map_err(wrap)
}

fn decode_issued(req: &Request, body: &Value) -> Result<Issued, ApiError> {
    let token = body
        .get("accessToken")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| ApiError::Decode {
            request: req.describe(),
            detail: "no `accessToken` in the answer".into(),
        })?;
    let expires_in = body.get("expiresIn").and_then(|v| {
        v.as_u64()
            .or_else(|| v.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64))
            .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
    });
    Ok(Issued {
        token: SecretString::from(token.to_owned()),
        expires_in,
    })
}

/// When to refresh an issued token: from `expiresIn`, else from the JWT's `exp` claim.
/// `Bearer ` + token, exactly (the server slices the first 7 characters off), marked
/// sensitive so that it is never logged.
fn bearer_header(token: &SecretString) -> Option<HeaderValue> {
    let mut value = HeaderValue::from_str(&format!("Bearer {}", token.expose_secret())).ok()?;
    value.set_sensitive(true);
    Some(value)
}

fn renew_at(issued: &Issued) -> Option<Instant> {
    let lifetime = match issued.expires_in {
        Some(0) => return None,
        Some(secs) => Duration::from_secs(secs),
        None => {
            let exp = jwt_claims(issued.token.expose_secret())?
                .get("exp")?
                .as_u64()?;
            let now = SystemTime::now().duration_since(UNIX_EPOCH).ok()?.as_secs();
            Duration::from_secs(exp.saturating_sub(now))
        }
    };
    let margin = RENEW_MARGIN.min(lifetime / 5);
    Instant::now().checked_add(lifetime.saturating_sub(margin))
}

/// Decodes the payload of a JWT (base64url JSON, padded or not).
pub(crate) fn jwt_claims(token: &str) -> Option<Map<String, Value>> {
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    match serde_json::from_slice(&bytes).ok()? {
        Value::Object(m) => Some(m),
        _ => None,
    }
}

impl TokenHolder for Session {
    fn bearer(&self) -> (u64, Option<HeaderValue>) {
        self.current_bearer()
    }

    fn worked(&self, generation: u64) {
        self.note_success(generation);
    }

    fn renew_if_due<'a>(&'a self, transport: &'a Transport) -> BoxFuture<'a, ()> {
        Box::pin(Session::renew_if_due(self, transport))
    }

    fn refresh<'a>(
        &'a self,
        transport: &'a Transport,
        generation: u64,
    ) -> BoxFuture<'a, Result<(), ApiError>> {
        Box::pin(self.refresh_after_token_error(transport, generation))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt(payload: &Value) -> String {
        let enc = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        format!(
            "{}.{}.sig",
            enc.encode(br#"{"alg":"HS256"}"#),
            enc.encode(payload.to_string())
        )
    }

    #[test]
    fn jwt_payload_is_decoded() {
        let t = jwt(&json!({"identityId": "abc", "authTokenType": "identityAccessToken"}));
        assert_eq!(
            jwt_claims(&t).and_then(|c| c.get("identityId").cloned()),
            Some(json!("abc"))
        );
        assert_eq!(jwt_claims("not-a-jwt"), None);
        assert_eq!(jwt_claims("a.!!!.c"), None);
    }

    #[test]
    fn renewal_is_scheduled_before_expiry() {
        let now = Instant::now();
        let at = renew_at(&Issued {
            token: SecretString::from("t"),
            expires_in: Some(600),
        })
        .unwrap();
        let d = at - now;
        assert!(
            d >= Duration::from_secs(539) && d <= Duration::from_secs(541),
            "{d:?}"
        );
        let at = renew_at(&Issued {
            token: SecretString::from("t"),
            expires_in: Some(10),
        })
        .unwrap();
        assert!(at - now <= Duration::from_millis(8100));
        assert_eq!(
            renew_at(&Issued {
                token: SecretString::from("opaque"),
                expires_in: None
            }),
            None
        );
    }
}
