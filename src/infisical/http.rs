//! A lean HTTP/1.1 client engine for the one origin idguard talks to: a LIFO pool of
//! `hyper::client::conn::http1` connections (one per concurrent request, reused), plain TCP or
//! TLS (rustls with the aws-lc-rs provider and the platform verifier plus `--ca-cert` roots),
//! optionally through an HTTP(S) proxy taken from the environment (CONNECT tunnel for https
//! targets, absolute-form requests for http targets).
//!
//! Why not reqwest: issue 5 needs < 20 us of idguard CPU per audited config at 100,000
//! identities. Measured on loopback (40,000 GETs, concurrency 64, one current-thread runtime):
//! reqwest 15.5 us/request, hyper-util's legacy `Client` 12 us, hyper's `conn::http1` with a
//! hand-kept pool of `SendRequest`s 10 us. This module is the last one, built properly.
//!
//! It owns connections, TLS, proxies, the request head and the size-capped body read. It does
//! not retry a request that may have been sent, follow redirects, pace, or decode JSON: the
//! transport (`transport.rs`) does that above it. Submodules: `proxy` (environment proxies,
//! the route, CONNECT), `tls` (rustls set-up), `stream` (TCP or TLS bytes).

use std::fmt;
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{
    ACCEPT, AUTHORIZATION, CONNECTION, CONTENT_LENGTH, CONTENT_TYPE, HOST, PROXY_AUTHORIZATION,
    USER_AGENT,
};
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, Uri};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
use url::Url;

pub(crate) use proxy::ProxyConfig;
use proxy::{connect_tunnel, route_for};
use stream::Stream;
use tls::{server_name, tls_connector};

/// Idle connections kept at most (more than any sensible `--concurrency`).
const MAX_IDLE: usize = 1024;
/// A pooled connection idle longer than this is dropped rather than reused (reqwest's and
/// hyper-util's default): middleboxes silently forget idle connections.
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(90);

type Body = Full<Bytes>;

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

/// The client could not be set up from its options.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum HttpSetupError {
    /// The base URL's scheme is neither `http` nor `https`.
    #[error("unsupported URL scheme `{0}` (expected http or https)")]
    Scheme(String),
    /// The base URL has no host.
    #[error("the URL has no host")]
    NoHost,
    /// The proxy chosen for the base URL uses a scheme this client does not speak.
    #[error("unsupported proxy `{proxy}`: only http:// and https:// proxies are supported")]
    UnsupportedProxy {
        /// The proxy URI without credentials.
        proxy: String,
    },
    /// The proxy URI has no usable host.
    #[error("invalid proxy `{proxy}`: no host")]
    InvalidProxy {
        /// The proxy URI without credentials.
        proxy: String,
    },
    /// The user agent is not a valid header value.
    #[error("invalid user agent: not a valid HTTP header value")]
    UserAgent,
    /// The TLS configuration could not be built (bad extra root, no system roots, ...).
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
    /// The response body was cut short or the connection failed while reading it.
    #[error("{0}")]
    Body(String),
    /// The body (or its announced content-length) is larger than the limit.
    #[error("response body larger than the limit")]
    TooLarge,
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

/// A host to open TCP connections to.
#[derive(Debug, Clone)]
enum Host {
    Ip(IpAddr),
    Name(String),
}

/// Where a connection goes: host, port, and `host:port` for messages and CONNECT.
#[derive(Debug, Clone)]
struct Endpoint {
    host: Host,
    port: u16,
    /// `host:port`, IPv6 in brackets.
    display: String,
    /// The TLS name when the endpoint speaks TLS.
    tls: Option<ServerName<'static>>,
}

/// How requests reach the origin.
enum Route {
    Direct,
    /// Plain http target through a proxy: absolute-form requests to the proxy.
    Forward {
        proxy: Endpoint,
        /// `http://authority`, prefixed to each path.
        prefix: String,
        auth: Option<HeaderValue>,
    },
    /// https target through a proxy: a CONNECT tunnel, then TLS inside.
    Tunnel {
        proxy: Endpoint,
        auth: Option<HeaderValue>,
    },
}

impl Route {
    /// The proxy, when one is used.
    fn proxy(&self) -> Option<&Endpoint> {
        match self {
            Route::Direct => None,
            Route::Forward { proxy, .. } | Route::Tunnel { proxy, .. } => Some(proxy),
        }
    }
}

/// The HTTP/1.1 client of one origin. `Send + Sync`; share it (by reference or `Arc`) across
/// all requests of a run.
pub(crate) struct HttpClient {
    origin: Endpoint,
    route: Route,
    tls: Option<TlsConnector>,
    connect_timeout: Duration,
    host_header: HeaderValue,
    user_agent: HeaderValue,
    /// Idle connections with the time each was returned; the last is the most recent.
    idle: Mutex<Vec<(SendRequest<Body>, Instant)>>,
    pool_idle_timeout: Duration,
}

impl fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpClient")
            .field("origin", &self.origin.display)
            .field("tls", &self.origin.tls.is_some())
            .field("proxy", &self.route.proxy().map(|p| &p.display))
            .finish_non_exhaustive()
    }
}

impl HttpClient {
    /// Sets the client up: decides the route (direct or which proxy) once for the origin and
    /// builds the TLS configuration (platform roots + `extra_roots`, verification always on).
    pub fn new(opts: HttpOptions) -> Result<HttpClient, HttpSetupError> {
        let https = match opts.base.scheme() {
            "https" => true,
            "http" => false,
            other => return Err(HttpSetupError::Scheme(other.to_owned())),
        };
        let (host, host_text) = match opts.base.host() {
            Some(url::Host::Domain(d)) => (Host::Name(d.to_owned()), d.to_owned()),
            Some(url::Host::Ipv4(ip)) => (Host::Ip(ip.into()), ip.to_string()),
            Some(url::Host::Ipv6(ip)) => (Host::Ip(ip.into()), format!("[{ip}]")),
            None => return Err(HttpSetupError::NoHost),
        };
        let port = opts
            .base
            .port_or_known_default()
            .unwrap_or(if https { 443 } else { 80 });
        let authority = match opts.base.port() {
            Some(p) => format!("{host_text}:{p}"),
            None => host_text.clone(),
        };
        let tls_name = if https {
            Some(server_name(&host)?)
        } else {
            None
        };
        let origin = Endpoint {
            host,
            port,
            display: format!("{host_text}:{port}"),
            tls: tls_name,
        };

        let route = route_for(&opts.proxy, https, &authority)?;
        let proxy_tls = route.proxy().is_some_and(|p| p.tls.is_some());
        let tls = if https || proxy_tls {
            Some(tls_connector(opts.extra_roots)?)
        } else {
            None
        };
        let host_header = HeaderValue::from_str(&authority).map_err(|_| HttpSetupError::NoHost)?;
        let user_agent =
            HeaderValue::from_str(&opts.user_agent).map_err(|_| HttpSetupError::UserAgent)?;
        Ok(HttpClient {
            origin,
            route,
            tls,
            connect_timeout: opts.connect_timeout,
            host_header,
            user_agent,
            idle: Mutex::new(Vec::new()),
            pool_idle_timeout: POOL_IDLE_TIMEOUT,
        })
    }

    /// One exchange. `path_and_query` starts with '/'. `bearer` is the whole header value
    /// ("Bearer <token>"; sent marked sensitive). `json` is a serialized JSON body (sent with
    /// `content-type: application/json`). Reads the body up to `body_limit` bytes.
    ///
    /// A pooled connection the server closed meanwhile does not fail the request: closed
    /// connections are skipped, and a request a connection hands back unsent goes out once on
    /// a fresh connection. A request that may have been sent is never re-sent here.
    pub async fn send(
        &self,
        method: Method,
        path_and_query: &str,
        bearer: Option<&HeaderValue>,
        json: Option<Bytes>,
        body_limit: usize,
    ) -> Result<HttpResponse, HttpError> {
        let req = self.request(method, path_and_query, bearer, json)?;
        let (sender, pooled) = match self.checkout().await {
            Some(s) => (s, true),
            // Boxed: connecting (TCP, proxy, TLS handshake) is rare but its future is large,
            // and every request's future would otherwise carry it (and be copied with it).
            None => (Box::pin(self.connect()).await?, false),
        };
        let (sender, response) = self.exchange(sender, pooled, req).await?;
        let (parts, body) = response.into_parts();
        if content_length(&parts.headers).is_some_and(|n| n > body_limit as u64) {
            return Err(HttpError::TooLarge);
        }
        let body = read_body(body, body_limit).await.map_err(|e| match e {
            BodyError::TooLarge => HttpError::TooLarge,
            BodyError::Read(e) => HttpError::Body(format!(
                "reading the response from {} failed: {}",
                self.origin.display,
                error_chain(&e)
            )),
        })?;
        let close = parts
            .headers
            .get(CONNECTION)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"close"));
        if !close {
            self.checkin(sender);
        }
        Ok(HttpResponse {
            status: parts.status,
            headers: parts.headers,
            body,
        })
    }

    /// Sends `req` on `sender`; when a pooled connection hands the request back unsent (it
    /// closed meanwhile), sends it once on a new connection. Returns the connection used.
    async fn exchange(
        &self,
        mut sender: SendRequest<Body>,
        pooled: bool,
        req: Request<Body>,
    ) -> Result<(SendRequest<Body>, Response<Incoming>), HttpError> {
        match sender.try_send_request(req).await {
            Ok(r) => Ok((sender, r)),
            Err(mut e) => match e.take_message() {
                Some(req) if pooled => {
                    tracing::debug!(origin = %self.origin.display, "pooled connection closed; using a new one");
                    let mut fresh = Box::pin(self.connect()).await?;
                    let r = fresh
                        .send_request(req)
                        .await
                        .map_err(|e| self.send_error(&e))?;
                    Ok((fresh, r))
                }
                _ => Err(self.send_error(e.error())),
            },
        }
    }

    /// The request head and body.
    fn request(
        &self,
        method: Method,
        path_and_query: &str,
        bearer: Option<&HeaderValue>,
        json: Option<Bytes>,
    ) -> Result<Request<Body>, HttpError> {
        let invalid = || HttpError::InvalidPath(path_and_query.chars().take(200).collect());
        if !path_and_query.starts_with('/') {
            return Err(invalid());
        }
        let uri = match &self.route {
            Route::Forward { prefix, .. } => {
                let mut s = String::with_capacity(prefix.len() + path_and_query.len());
                s.push_str(prefix);
                s.push_str(path_and_query);
                Uri::try_from(s)
            }
            Route::Direct | Route::Tunnel { .. } => Uri::try_from(path_and_query),
        }
        .map_err(|_| invalid())?;
        let has_body = json.is_some();
        let body = json.unwrap_or_default();
        let len = body.len();
        let mut req = Request::new(Full::new(body));
        *req.method_mut() = method;
        *req.uri_mut() = uri;
        let h = req.headers_mut();
        h.reserve(8);
        h.insert(HOST, self.host_header.clone());
        h.insert(USER_AGENT, self.user_agent.clone());
        h.insert(ACCEPT, HeaderValue::from_static("application/json"));
        if let Some(b) = bearer {
            let mut v = b.clone();
            v.set_sensitive(true);
            h.insert(AUTHORIZATION, v);
        }
        if let Route::Forward {
            auth: Some(auth), ..
        } = &self.route
        {
            h.insert(PROXY_AUTHORIZATION, auth.clone());
        }
        if has_body {
            h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            h.insert(CONTENT_LENGTH, HeaderValue::from(len));
        }
        Ok(req)
    }

    /// The most recently used idle connection that is still open, not idle for too long, and
    /// ready.
    async fn checkout(&self) -> Option<SendRequest<Body>> {
        loop {
            let (mut sender, since) = self
                .idle
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .pop()?;
            if sender.is_closed() || since.elapsed() > self.pool_idle_timeout {
                continue;
            }
            if sender.ready().await.is_ok() {
                return Some(sender);
            }
        }
    }

    /// Returns a connection whose exchange completed to the idle pool.
    fn checkin(&self, sender: SendRequest<Body>) {
        if sender.is_closed() {
            return;
        }
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.len() < MAX_IDLE {
            idle.push((sender, Instant::now()));
        }
    }

    /// Number of idle pooled connections.
    #[cfg(test)]
    fn idle_len(&self) -> usize {
        self.idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// A new connection (within the connect timeout), its driver spawned on the runtime.
    async fn connect(&self) -> Result<SendRequest<Body>, HttpError> {
        let stream = tokio::time::timeout(self.connect_timeout, self.open())
            .await
            .map_err(|_| {
                HttpError::Connect(format!(
                    "timed out after {:?} connecting to {}{}",
                    self.connect_timeout,
                    self.origin.display,
                    self.via()
                ))
            })??;
        let (sender, conn) = http1::Builder::new()
            .handshake(TokioIo::new(stream))
            .await
            .map_err(|e| {
                HttpError::Connect(format!(
                    "cannot open an HTTP connection to {}: {}",
                    self.origin.display,
                    error_chain(&e)
                ))
            })?;
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %error_chain(&e), "HTTP connection ended with an error");
            }
        });
        Ok(sender)
    }

    /// " via proxy host:port" when a proxy is used.
    fn via(&self) -> String {
        self.route
            .proxy()
            .map(|p| format!(" via proxy {}", p.display))
            .unwrap_or_default()
    }

    /// The byte stream of a new connection: TCP, proxy, tunnel and TLS as the route says.
    async fn open(&self) -> Result<Stream, HttpError> {
        match &self.route {
            Route::Direct => {
                let tcp = tcp_connect(&self.origin, "").await?;
                self.tls_over(tcp, &self.origin, "").await
            }
            Route::Forward { proxy, .. } => self.open_proxy(proxy).await,
            Route::Tunnel { proxy, auth } => {
                let stream = self.open_proxy(proxy).await?;
                let tunnel = connect_tunnel(
                    stream,
                    &self.origin.display,
                    auth.as_ref(),
                    &self.user_agent,
                    &proxy.display,
                )
                .await?;
                self.tls_over(tunnel, &self.origin, &self.via()).await
            }
        }
    }

    /// A connection to the proxy itself (TLS for an https proxy).
    async fn open_proxy(&self, proxy: &Endpoint) -> Result<Stream, HttpError> {
        let tcp = tcp_connect(proxy, "proxy ").await?;
        self.tls_over(tcp, proxy, "").await
    }

    /// TLS over `stream` when `to` speaks TLS, else `stream` as is.
    async fn tls_over(
        &self,
        stream: Stream,
        to: &Endpoint,
        via: &str,
    ) -> Result<Stream, HttpError> {
        let (Some(name), Some(tls)) = (&to.tls, &self.tls) else {
            return Ok(stream);
        };
        let tls = tls.connect(name.clone(), stream).await.map_err(|e| {
            HttpError::Connect(format!(
                "TLS handshake with {}{via} failed: {}",
                to.display,
                error_chain(&e)
            ))
        })?;
        Ok(Stream::Tls(Box::new(tls)))
    }

    fn send_error(&self, e: &hyper::Error) -> HttpError {
        HttpError::Send(format!(
            "request to {}{} failed: {}",
            self.origin.display,
            self.via(),
            error_chain(e)
        ))
    }
}

/// A TCP connection with TCP_NODELAY on; `what` prefixes the address in messages ("proxy ").
/// Why a body could not be read.
enum BodyError {
    TooLarge,
    Read(hyper::Error),
}

/// Reads a whole body of at most `limit` bytes. A body that arrives as one frame (the usual
/// case for a small JSON answer) is returned as that frame, without a copy or a buffer list.
async fn read_body(mut body: Incoming, limit: usize) -> Result<Bytes, BodyError> {
    let mut first: Option<Bytes> = None;
    let mut more: Vec<u8> = Vec::new();
    let mut len = 0usize;
    while let Some(frame) = body.frame().await {
        let Ok(data) = frame.map_err(BodyError::Read)?.into_data() else {
            continue; // trailers
        };
        len += data.len();
        if len > limit {
            return Err(BodyError::TooLarge);
        }
        match &first {
            None => first = Some(data),
            // A second frame: from here on the frames are gathered into one buffer.
            Some(f) => {
                if more.is_empty() {
                    more.reserve(len.max(8 << 10));
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

async fn tcp_connect(to: &Endpoint, what: &str) -> Result<Stream, HttpError> {
    let connected = match &to.host {
        Host::Ip(ip) => TcpStream::connect((*ip, to.port)).await,
        Host::Name(name) => TcpStream::connect((name.as_str(), to.port)).await,
    };
    let tcp = connected
        .map_err(|e| HttpError::Connect(format!("cannot connect to {what}{}: {e}", to.display)))?;
    tcp.set_nodelay(true).map_err(|e| {
        HttpError::Connect(format!(
            "cannot set TCP_NODELAY on {what}{}: {e}",
            to.display
        ))
    })?;
    Ok(Stream::Tcp(tcp))
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

/// An error with its sources, on one line, each message once.
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
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

mod proxy;
mod stream;
#[cfg(test)]
mod tests;
mod tls;
