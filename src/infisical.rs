//! The Infisical API client: login and token refresh, organization discovery, the identity
//! listing, and the per-method auth-config GET and PATCH, over a transport that retries,
//! paces, honours 429s and bounds concurrency.
//!
//! It speaks the documented API (see `docs/infisical-api.md`) and knows nothing of policies,
//! evaluation or reports. Submodules: [`options`](ConnectOptions) (what to connect to and how),
//! `error` ([`ApiError`], [`ErrorKind`]), `session` (tokens), `org` (which organization),
//! `listing` ([`IdentityPager`]), `throttle` (rates and 429 gates), `transport` (sending).

mod audit_logs;
mod error;
mod http;
mod listing;
mod options;
mod org;
mod redact;
mod session;
mod throttle;
mod transport;

use std::fmt;
use std::sync::Arc;

use ::http::Method;
use serde_json::{Map, Value};
use url::Url;

pub use audit_logs::{AUDIT_LOG_PAGE_LIMIT, AuditEvent, AuditLogQuery, EventsOf};
pub use error::{ApiError, ErrorKind};
pub use listing::IdentityPager;
pub use options::{
    ConnectOptions, Credentials, CredentialsError, Rate, RateParseError, check_api_url,
    load_ca_certs, normalise_api_url,
};
pub use transport::ApiStats;

pub(crate) use http::error_chain;
pub(crate) use options::{UrlProblem, check_target};

use crate::interrupt::Interrupt;
use crate::model::{AuthConfig, AuthMethod, ConfigDecodeError};
use http::{HttpClient, HttpOptions, ProxyConfig};
use session::Session;
use throttle::Class;
use transport::{Request, TokenHolder, Transport};

/// A connected client. Cheap to clone (shared state inside); `Send + Sync`.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    transport: Transport,
    session: Session,
    base: Url,
    /// The base URL's path without a trailing `/` (usually empty).
    base_path: String,
    api_url: String,
    org_id: String,
}

impl Inner {
    /// A config GET, its answer decoded into JSON values (see
    /// [`AuthConfig::response_value`]).
    async fn execute_config(
        &self,
        req: &Request,
    ) -> Result<Result<Value, ConfigDecodeError>, ApiError> {
        self.transport
            .execute_with(
                req,
                Some(&self.session as &dyn TokenHolder),
                AuthConfig::response_value,
            )
            .await
    }

    /// A request whose 2xx answer is decoded by `decode` (a decode error is retried like a
    /// truncated body).
    async fn execute_decoded<T>(
        &self,
        req: &Request,
        decode: impl Fn(&[u8]) -> serde_json::Result<T>,
    ) -> Result<T, ApiError> {
        self.transport
            .execute_with(req, Some(&self.session as &dyn TokenHolder), decode)
            .await
    }
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("api_url", &self.inner.api_url)
            .field("org_id", &self.inner.org_id)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Checks the URL, loads the extra CA certificates (`ca_cert`), logs in (universal auth)
    /// or takes the token, and resolves the organization (`org_id`, else from the token).
    pub async fn connect(opts: ConnectOptions) -> Result<Client, ApiError> {
        let api_url = normalise_api_url(&opts.api_url);
        let base = options::checked_base_url(&api_url, opts.allow_insecure_http)?;
        let extra_roots = match &opts.ca_cert {
            // Added to the system roots; verification itself is never turned off.
            Some(path) => options::load_ca_certs(path)?,
            None => Vec::new(),
        };
        let http = HttpClient::new(HttpOptions {
            base: base.clone(),
            user_agent: concat!("idguard/", env!("CARGO_PKG_VERSION")).to_owned(),
            connect_timeout: opts.request_timeout,
            extra_roots,
            proxy: ProxyConfig::from_env(),
        })
        .map_err(|e| ApiError::InvalidUrl {
            url: api_url.clone(),
            reason: format!("cannot set up the HTTP client: {e}"),
        })?;
        let transport = Transport::new(
            http,
            opts.concurrency,
            opts.read_rate,
            opts.write_rate,
            opts.max_retries,
            opts.request_timeout,
            opts.deadline,
        );
        let session = Session::open(&transport, base.clone(), opts.credentials).await?;
        let org_id = match opts.org_id.filter(|o| !o.trim().is_empty()) {
            Some(org) => org.trim().to_owned(),
            None => org::discover(&transport, &session, &base).await?,
        };
        tracing::debug!(org_id = %org_id, "connected to Infisical");
        Ok(Client {
            inner: Arc::new(Inner {
                transport,
                session,
                base_path: base.path().trim_end_matches('/').to_owned(),
                base,
                api_url,
                org_id,
            }),
        })
    }

    /// The organization being audited.
    pub fn org_id(&self) -> &str {
        &self.inner.org_id
    }

    /// The normalised base URL (no trailing `/` or `/api`).
    pub fn api_url(&self) -> &str {
        &self.inner.api_url
    }

    /// The identity idguard is logged in as: the access token's `identityId` claim (Infisical
    /// access tokens are JWTs). `None` when the token does not say.
    pub fn identity_id(&self) -> Option<String> {
        self.inner
            .session
            .claims()?
            .get("identityId")?
            .as_str()
            .filter(|id| !id.trim().is_empty())
            .map(str::to_owned)
    }

    /// The organization of the identity idguard is logged in as, asked of the server
    /// (whatever `--org-id` says).
    pub async fn logged_in_org(&self) -> Result<String, ApiError> {
        org::discover(&self.inner.transport, &self.inner.session, &self.inner.base).await
    }

    /// A pager over every identity of the organization (project-scoped ones included where
    /// the server can list them).
    pub fn identities(&self) -> IdentityPager {
        IdentityPager::new(self.clone())
    }

    /// `GET /api/v1/auth/<method>/identities/{id}`, decoded. A 400/404 saying the method is
    /// not attached gives [`ErrorKind::NotConfigured`]; other 404s [`ErrorKind::NotFound`];
    /// 403 [`ErrorKind::PermissionDenied`].
    pub async fn get_config(
        &self,
        identity_id: &str,
        method: &AuthMethod,
    ) -> Result<AuthConfig, ApiError> {
        let req = self.config_request(Method::GET, identity_id, method, Class::Read)?;
        let body = self
            .inner
            .execute_config(&req)
            .await
            .map_err(not_configured)?;
        decode_config(&req, method, body)
    }

    /// `PATCH /api/v1/auth/<method>/identities/{id}` with `body` as is. Any 2xx answer is
    /// success, whatever its body (which is not decoded): the write landed. Read the config
    /// back with [`Client::get_config`] to see what the server stored. Build `body` from a
    /// fresh GET: Infisical resets some omitted fields.
    pub async fn patch_config(
        &self,
        identity_id: &str,
        method: &AuthMethod,
        body: &Map<String, Value>,
    ) -> Result<(), ApiError> {
        self.patch_config_unless(identity_id, method, body, None)
            .await
    }

    /// [`Client::patch_config`], except that once `stop` is pressed before the PATCH's turn
    /// comes (rate limit, concurrency, a 429 pause), it is not sent at all:
    /// [`ApiError::Stopped`], nothing written. A PATCH already sent is finished.
    pub async fn patch_config_unless(
        &self,
        identity_id: &str,
        method: &AuthMethod,
        body: &Map<String, Value>,
        stop: Option<&Interrupt>,
    ) -> Result<(), ApiError> {
        // Sent again only when no 2xx came back (5xx, 408, 429, connection errors, timeouts): a
        // PATCH sets absolute values, so sending it twice leaves the same state. After a 2xx it
        // is never sent again, even when its answer cannot be decoded or is cut short.
        let mut req = self.config_request(Method::PATCH, identity_id, method, Class::Write)?;
        req.set_json(&Value::Object(body.clone()));
        req.stop = stop.cloned();
        self.inner
            .transport
            .execute_write(&req, Some(&self.inner.session as &dyn TokenHolder))
            .await
            .map_err(not_configured)
    }

    /// Request counters so far.
    pub fn stats(&self) -> ApiStats {
        self.inner.transport.stats()
    }

    fn config_request(
        &self,
        http_method: Method,
        identity_id: &str,
        method: &AuthMethod,
        class: Class,
    ) -> Result<Request, ApiError> {
        for (what, value) in [
            ("identity id", identity_id),
            ("auth method", method.as_str()),
        ] {
            if !is_safe_segment(value) {
                return Err(ApiError::InvalidArgument {
                    detail: format!("{what} `{}` cannot go in a URL", error::truncate(value)),
                });
            }
        }
        let path = config_path(&self.inner.base_path, method, identity_id);
        Ok(Request::at_path(http_method, path, class))
    }
}

/// The config of a GET answer (see [`AuthConfig::from_response_owned`]).
fn decode_config(
    req: &Request,
    method: &AuthMethod,
    body: Result<Value, ConfigDecodeError>,
) -> Result<AuthConfig, ApiError> {
    body.and_then(|body| AuthConfig::from_response_owned(method, body))
        .map_err(|e| ApiError::Decode {
            request: req.describe(),
            detail: e.to_string(),
        })
}

/// 400/404 whose message says the method is not attached → [`ErrorKind::NotConfigured`].
fn not_configured(err: ApiError) -> ApiError {
    let says_not_attached = err.server_message().is_some_and(|m| {
        let m = m.to_ascii_lowercase();
        m.contains("does not have")
            || m.contains("not attached")
            || m.contains("not configured")
            || (m.contains("failed to find") && m.contains("auth"))
    });
    if matches!(err.status(), Some(400 | 404)) && says_not_attached {
        err.with_kind(ErrorKind::NotConfigured)
    } else {
        err
    }
}

/// An id or method name that is safe as one URL path segment.
fn is_safe_segment(s: &str) -> bool {
    !s.is_empty()
        && s != "."
        && s != ".."
        && s.len() <= 200
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// `base` + `/seg/seg/...` (each segment percent-encoded).
/// `<base path>/api/v1/auth/<method>/identities/<id>`, for segments [`is_safe_segment`]
/// accepted (plain ASCII: nothing to encode). The same as [`endpoint`] gives, built without a
/// URL round trip (it is on the hot path).
fn config_path(base_path: &str, method: &AuthMethod, identity_id: &str) -> String {
    format!(
        "{base_path}/api/v1/auth/{}/identities/{identity_id}",
        method.as_str()
    )
}

pub(crate) fn endpoint(base: &Url, segments: &[&str]) -> Url {
    let mut url = base.clone();
    if let Ok(mut path) = url.path_segments_mut() {
        path.pop_if_empty().extend(segments);
    }
    url
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_keep_a_base_path() {
        let base = Url::parse("https://h.example/sub").unwrap();
        assert_eq!(
            endpoint(&base, &["api", "v1", "x"]).as_str(),
            "https://h.example/sub/api/v1/x"
        );
        let base = Url::parse("https://h.example").unwrap();
        assert_eq!(endpoint(&base, &["api"]).as_str(), "https://h.example/api");
    }

    #[test]
    fn config_paths_match_endpoints() {
        for base in [
            "https://h.example",
            "https://h.example/",
            "https://h.example/sub/",
        ] {
            let base = Url::parse(base).unwrap();
            let base_path = base.path().trim_end_matches('/').to_owned();
            for (method, id) in [
                (AuthMethod::Oci, "6addb6ae-1234"),
                (AuthMethod::Unknown("x_y.z-auth".into()), "A.b_c"),
            ] {
                let url = endpoint(
                    &base,
                    &["api", "v1", "auth", method.as_str(), "identities", id],
                );
                assert_eq!(
                    config_path(&base_path, &method, id),
                    url[url::Position::BeforePath..]
                );
            }
        }
    }

    #[test]
    fn unsafe_segments_are_refused() {
        assert!(is_safe_segment("6addb6ae-1234"));
        assert!(!is_safe_segment("../x"));
        assert!(!is_safe_segment(".."));
        assert!(!is_safe_segment(""));
        assert!(!is_safe_segment("a b"));
    }

    #[test]
    fn not_attached_messages_are_not_configured() {
        let e = |status, message: &str| ApiError::Status {
            request: "GET /x".into(),
            status,
            error_name: None,
            message: message.into(),
            kind: ErrorKind::NotFound,
        };
        assert_eq!(
            not_configured(e(400, "The identity does not have universal auth")).kind(),
            ErrorKind::NotConfigured
        );
        assert_eq!(
            not_configured(e(
                404,
                "Failed to find universal auth for identity with ID x"
            ))
            .kind(),
            ErrorKind::NotConfigured
        );
        assert_eq!(
            not_configured(e(404, "Failed to find identity with ID x")).kind(),
            ErrorKind::NotFound
        );
    }

    #[test]
    fn client_is_send_sync_clone() {
        fn check<T: Send + Sync + Clone>() {}
        check::<Client>();
    }
}
