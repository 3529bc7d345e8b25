//! The HTTP client of the one origin idguard talks to, on reqwest: HTTP/1.1 only, a pool of
//! keep-alive connections (idle ones dropped after [`POOL_IDLE_TIMEOUT`]), TLS by rustls with
//! the platform verifier (the system's roots plus the `--ca-cert` roots; verification is never
//! turned off), and an HTTP(S) proxy from the environment (`HTTPS_PROXY`, `HTTP_PROXY`,
//! `ALL_PROXY`, `NO_PROXY`, with reqwest's semantics: a CONNECT tunnel for https targets,
//! absolute-form requests for http ones, credentials from the proxy URL). The proxy is decided
//! once, when the client is set up, since there is one origin; a SOCKS proxy, which this build
//! cannot speak, is refused then rather than bypassed.
//!
//! It sends one request and reads its body up to a limit, nothing more: it does not retry,
//! follow redirects (a 3xx comes back as a response), pace, or decode JSON. The transport
//! (`transport.rs`) does that above it. Error messages name the origin, the proxy and the
//! cause, never a token or a proxy password.

use std::fmt;
use std::time::Duration;

use bytes::Bytes;
use http::header::{ACCEPT, AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE};
use http::uri::PathAndQuery;
use http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use hyper_util::client::proxy::matcher::Matcher;
use tokio_rustls::rustls::pki_types::CertificateDer;
use url::Url;

/// Idle connections kept at most: more than any sensible `--concurrency` (at most 1024).
const MAX_IDLE: usize = 1024;
/// A pooled connection idle longer than this is closed rather than reused: middleboxes
/// silently forget idle connections.
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// How to reach the one origin: where, as whom, with which trust and through which proxy.
#[derive(Debug)]
pub(crate) struct HttpOptions {
    /// The origin (scheme `http` or `https`, host, port) every request goes to; its path is
    /// ignored (callers pass whole paths to [`HttpClient::send`]).
    pub base: Url,
    /// The `User-Agent` value, e.g. `idguard/0.1.0`.
    pub user_agent: String,
    /// Bound on TCP connect + proxy CONNECT + TLS handshake of one new connection.
    pub connect_timeout: Duration,
    /// Trusted roots added to the platform's (`--ca-cert`).
    pub extra_roots: Vec<CertificateDer<'static>>,
    /// Which proxy, if any, to go through.
    pub proxy: ProxyConfig,
}

/// Proxy settings with reqwest's semantics (hyper-util's `Matcher`, which reqwest itself reads
/// the environment with): `HTTPS_PROXY` for https targets, `HTTP_PROXY` for http ones,
/// `ALL_PROXY` for both when the specific one is unset, `NO_PROXY` exempting hosts, domains and
/// CIDRs; upper case first, then lower case; all ignored when `REQUEST_METHOD` is set (CGI).
pub(crate) struct ProxyConfig {
    matcher: Option<Matcher>,
}

impl ProxyConfig {
    /// The proxy settings of the process environment.
    pub fn from_env() -> ProxyConfig {
        ProxyConfig {
            matcher: Some(Matcher::from_env()),
        }
    }

    /// No proxy at all.
    #[cfg(test)]
    pub fn none() -> ProxyConfig {
        ProxyConfig { matcher: None }
    }

    /// [`from_env`](Self::from_env) over any variable lookup (tests pass a fake environment).
    #[cfg(test)]
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> ProxyConfig {
        if lookup("REQUEST_METHOD").is_some() {
            return ProxyConfig::none();
        }
        let first =
            |upper: &str, lower: &str| lookup(upper).or_else(|| lookup(lower)).unwrap_or_default();
        let matcher = Matcher::builder()
            .all(first("ALL_PROXY", "all_proxy"))
            .http(first("HTTP_PROXY", "http_proxy"))
            .https(first("HTTPS_PROXY", "https_proxy"))
            .no(first("NO_PROXY", "no_proxy"))
            .build();
        ProxyConfig {
            matcher: Some(matcher),
        }
    }
}

impl fmt::Debug for ProxyConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // hyper-util's Debug shows proxy URIs without their credentials.
        match &self.matcher {
            Some(m) => m.fmt(f),
            None => f.write_str("NoProxy"),
        }
    }
}

/// The client could not be set up from its options.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum HttpSetupError {
    /// The base URL's scheme is neither `http` nor `https`.
    #[error("unsupported URL scheme `{0}` (expected http or https)")]
    Scheme(String),
    /// The base URL has no host.
    #[error("the URL has no host")]
    NoHost,
    /// The proxy chosen for the base URL uses a scheme this client does not speak (SOCKS).
    #[error("unsupported proxy `{proxy}`: only http:// and https:// proxies are supported")]
    UnsupportedProxy {
        /// The proxy URI without credentials.
        proxy: String,
    },
    /// The proxy URI is not usable.
    #[error("invalid proxy `{proxy}`")]
    InvalidProxy {
        /// The proxy URI without credentials.
        proxy: String,
    },
    /// The user agent is not a valid header value.
    #[error("invalid user agent: not a valid HTTP header value")]
    UserAgent,
    /// The client could not be built (TLS set-up: a bad extra root, no system roots, ...).
    #[error("cannot set up TLS: {0}")]
    Tls(String),
}

/// One exchange failed. The messages name addresses and causes, never tokens or proxy
/// passwords.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum HttpError {
    /// No connection could be opened: DNS, TCP, proxy, TLS, or the connect timeout.
    #[error("{0}")]
    Connect(String),
    /// The connection failed before a response head arrived (the request may have been sent).
    #[error("{0}")]
    Send(String),
    /// A response head with `status` arrived, then its body was cut short or the connection
    /// failed while reading it. After a 2xx the server has processed the request.
    #[error("{message}")]
    Body {
        /// The status of the response whose body failed.
        status: StatusCode,
        /// What failed, naming the origin.
        message: String,
    },
    /// The body (or its announced content-length) is larger than the limit; `status` came
    /// with it (a 2xx write was processed).
    #[error("response body larger than the limit")]
    TooLarge {
        /// The status of the answer.
        status: StatusCode,
    },
    /// `path_and_query` does not start with `/` or is not a valid request target (a caller bug).
    #[error("invalid request path: {0}")]
    InvalidPath(String),
}

/// A response: status, headers, and the whole body.
pub(crate) struct HttpResponse {
    /// The status (a 3xx is returned as is, never followed).
    pub status: StatusCode,
    /// The response headers.
    pub headers: HeaderMap,
    /// The body, at most the `body_limit` given to [`HttpClient::send`].
    pub body: Bytes,
}

impl fmt::Debug for HttpResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // No body and no header values: a 2xx body can hold secrets.
        f.debug_struct("HttpResponse")
            .field("status", &self.status)
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .field("body_len", &self.body.len())
            .finish()
    }
}

/// The HTTP client of one origin. `Send + Sync`; share it (by reference or `Arc`) across all
/// requests of a run.
pub(crate) struct HttpClient {
    client: reqwest::Client,
    /// `scheme://host[:port]`, without a trailing `/`; request URLs are this plus the path.
    origin: String,
    /// `host:port` for messages (IPv6 in brackets).
    display: String,
    /// The proxy's URI without credentials, when one is used.
    proxy: Option<String>,
}

impl fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpClient")
            .field("origin", &self.origin)
            .field("proxy", &self.proxy)
            .finish_non_exhaustive()
    }
}

impl HttpClient {
    /// Sets the client up: decides the proxy (or none) once for the origin and builds the TLS
    /// configuration (platform roots + `extra_roots`, verification always on).
    pub fn new(opts: HttpOptions) -> Result<HttpClient, HttpSetupError> {
        HttpClient::build(opts, POOL_IDLE_TIMEOUT)
    }

    /// [`new`](HttpClient::new) with the pool idle timeout given (tests shorten it).
    fn build(opts: HttpOptions, pool_idle_timeout: Duration) -> Result<HttpClient, HttpSetupError> {
        let scheme = match opts.base.scheme() {
            s @ ("http" | "https") => s,
            other => return Err(HttpSetupError::Scheme(other.to_owned())),
        };
        let host = match opts.base.host() {
            Some(url::Host::Domain(d)) => d.to_owned(),
            Some(url::Host::Ipv4(ip)) => ip.to_string(),
            Some(url::Host::Ipv6(ip)) => format!("[{ip}]"),
            None => return Err(HttpSetupError::NoHost),
        };
        let authority = match opts.base.port() {
            Some(p) => format!("{host}:{p}"),
            None => host.clone(),
        };
        let port = opts
            .base
            .port_or_known_default()
            .unwrap_or(if scheme == "https" { 443 } else { 80 });
        let origin = format!("{scheme}://{authority}");
        let user_agent =
            HeaderValue::from_str(&opts.user_agent).map_err(|_| HttpSetupError::UserAgent)?;
        let mut roots = Vec::with_capacity(opts.extra_roots.len());
        for der in &opts.extra_roots {
            roots.push(
                reqwest::Certificate::from_der(der.as_ref())
                    .map_err(|e| HttpSetupError::Tls(error_chain(&e)))?,
            );
        }

        let mut builder = reqwest::Client::builder()
            .user_agent(user_agent)
            .http1_only()
            .tls_backend_rustls()
            // Added to the platform verifier's roots ("merge", not "only").
            .tls_certs_merge(roots)
            // The bearer token must not follow a redirect to another address.
            .redirect(reqwest::redirect::Policy::none())
            .referer(false)
            // The transport decides what to retry; a request that may have been sent is never
            // re-sent here.
            .retry(reqwest::retry::never())
            .connect_timeout(opts.connect_timeout)
            .pool_idle_timeout(pool_idle_timeout)
            .pool_max_idle_per_host(MAX_IDLE)
            .tcp_nodelay(true)
            // The proxy is decided below from `opts.proxy`, not by reqwest reading the
            // environment again.
            .no_proxy();
        let proxy = proxy_for(&opts.proxy, scheme, &authority)?;
        let shown = match proxy {
            Some((proxy, shown)) => {
                builder = builder.proxy(proxy);
                Some(shown)
            }
            None => None,
        };
        let client = builder
            .build()
            .map_err(|e| HttpSetupError::Tls(error_chain(&e)))?;
        Ok(HttpClient {
            client,
            origin,
            display: format!("{host}:{port}"),
            proxy: shown,
        })
    }

    /// One exchange. `path_and_query` starts with '/'. `bearer` is the whole header value
    /// ("Bearer <token>"; sent marked sensitive). `json` is a serialized JSON body (sent with
    /// `content-type: application/json`). Reads the body up to `body_limit` bytes: a larger
    /// announced content-length is refused before reading, and reading stops as soon as the
    /// body passes the limit.
    ///
    /// A pooled connection the server had closed before the request was written does not fail
    /// it (the pool opens a new one); a request that may have been sent is never re-sent here.
    pub async fn send(
        &self,
        method: Method,
        path_and_query: &str,
        bearer: Option<&HeaderValue>,
        json: Option<Bytes>,
        body_limit: usize,
    ) -> Result<HttpResponse, HttpError> {
        let invalid = || HttpError::InvalidPath(path_and_query.chars().take(200).collect());
        if !path_and_query.starts_with('/') || PathAndQuery::try_from(path_and_query).is_err() {
            return Err(invalid());
        }
        let mut url = String::with_capacity(self.origin.len() + path_and_query.len());
        url.push_str(&self.origin);
        url.push_str(path_and_query);
        let url = Url::parse(&url).map_err(|_| invalid())?;

        let mut req = self
            .client
            .request(method, url)
            .header(ACCEPT, HeaderValue::from_static("application/json"));
        if let Some(b) = bearer {
            let mut v = b.clone();
            v.set_sensitive(true);
            req = req.header(AUTHORIZATION, v);
        }
        if let Some(body) = json {
            req = req
                .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
                .body(body);
        }
        let mut resp = req.send().await.map_err(|e| self.send_error(&e))?;

        let status = resp.status();
        let headers = std::mem::take(resp.headers_mut());
        if content_length(&headers).is_some_and(|n| n > body_limit as u64) {
            return Err(HttpError::TooLarge { status });
        }
        let body = read_body(&mut resp, body_limit)
            .await
            .map_err(|e| match e {
                BodyError::TooLarge => HttpError::TooLarge { status },
                BodyError::Read(e) => HttpError::Body {
                    status,
                    message: format!(
                        "reading the {} response from {} failed: {}",
                        status.as_u16(),
                        self.display,
                        error_chain(&e)
                    ),
                },
            })?;
        Ok(HttpResponse {
            status,
            headers,
            body,
        })
    }

    /// " via proxy URI" when a proxy is used.
    fn via(&self) -> String {
        self.proxy
            .as_deref()
            .map(|p| format!(" via proxy {p}"))
            .unwrap_or_default()
    }

    /// A failure before a response head: `Connect` when no connection could be opened, else
    /// `Send` (the request may have been sent).
    fn send_error(&self, e: &reqwest::Error) -> HttpError {
        let mut cause = error_chain(e);
        if self.proxy.is_some() && cause.contains("proxy authorization required") {
            cause.push_str(" (the proxy answered 407: check the credentials in the proxy URL)");
        }
        if e.is_connect() {
            HttpError::Connect(format!(
                "cannot connect to {}{}: {cause}",
                self.display,
                self.via()
            ))
        } else {
            HttpError::Send(format!(
                "request to {}{} failed: {cause}",
                self.display,
                self.via()
            ))
        }
    }
}

/// The proxy for the origin (`scheme://authority`) under `config`, as a reqwest proxy with its
/// credentials and as its URI without them (for messages); `None` for a direct connection.
fn proxy_for(
    config: &ProxyConfig,
    scheme: &str,
    authority: &str,
) -> Result<Option<(reqwest::Proxy, String)>, HttpSetupError> {
    let Some(matcher) = &config.matcher else {
        return Ok(None);
    };
    let Ok(target) = Uri::try_from(format!("{scheme}://{authority}/")) else {
        return Ok(None);
    };
    let Some(intercept) = matcher.intercept(&target) else {
        return Ok(None);
    };
    // The matcher strips the credentials from the URI, so it is safe to show.
    let uri = intercept.uri();
    let shown = uri.to_string();
    if !matches!(uri.scheme_str(), Some("http" | "https")) {
        return Err(HttpSetupError::UnsupportedProxy { proxy: shown });
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err(HttpSetupError::InvalidProxy { proxy: shown });
    }
    let mut proxy =
        reqwest::Proxy::all(shown.as_str()).map_err(|_| HttpSetupError::InvalidProxy {
            proxy: shown.clone(),
        })?;
    if let Some(auth) = intercept.basic_auth() {
        let mut auth = auth.clone();
        auth.set_sensitive(true);
        proxy = proxy.custom_http_auth(auth);
    }
    Ok(Some((proxy, shown)))
}

/// Why a body could not be read.
enum BodyError {
    TooLarge,
    Read(reqwest::Error),
}

/// Reads a whole body of at most `limit` bytes, never holding more than `limit` (plus the one
/// chunk that crosses it). A body that arrives as one chunk (the usual case for a small JSON
/// answer) is returned as that chunk, without a copy.
async fn read_body(resp: &mut reqwest::Response, limit: usize) -> Result<Bytes, BodyError> {
    let mut first: Option<Bytes> = None;
    let mut more: Vec<u8> = Vec::new();
    let mut len = 0usize;
    while let Some(data) = resp.chunk().await.map_err(BodyError::Read)? {
        len += data.len();
        if len > limit {
            return Err(BodyError::TooLarge);
        }
        match &first {
            None => first = Some(data),
            // A second chunk: from here on the chunks are gathered into one buffer.
            Some(f) => {
                if more.is_empty() {
                    more.reserve(len.max(8 << 10).min(limit));
                    more.extend_from_slice(f);
                }
                more.extend_from_slice(&data);
            }
        }
    }
    Ok(if more.is_empty() {
        first.unwrap_or_default()
    } else {
        Bytes::from(more)
    })
}

/// The `content-length` of a response, when present and valid.
fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// An error's causes on one line, each message once. reqwest's own outer message ("error
/// sending request", ...) is left out when it has a cause: the caller says what failed.
pub(crate) fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let (mut text, mut source) = match e.source() {
        Some(s) if e.is::<reqwest::Error>() => (s.to_string(), s.source()),
        _ => (e.to_string(), e.source()),
    };
    while let Some(s) = source {
        let msg = s.to_string();
        if !text.contains(&msg) {
            text.push_str(": ");
            text.push_str(&msg);
        }
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests;
