//! Proxies for the HTTP engine: the environment's proxy settings (reqwest's semantics through
//! hyper-util's `Matcher`), the route chosen once for the origin (direct, absolute-form through
//! an http proxy, or a CONNECT tunnel), and the CONNECT handshake itself.

use std::fmt;
use std::net::IpAddr;

use http::{HeaderValue, Uri};
use hyper_util::client::proxy::matcher::Matcher;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::stream::Stream;
use super::tls::server_name;
use super::{Endpoint, Host, HttpError, HttpSetupError, Route};

/// Longest proxy answer head to a CONNECT accepted.
const MAX_CONNECT_HEAD: usize = 8 * 1024;

/// Proxy settings with reqwest's semantics (hyper-util's `Matcher`, as reqwest 0.13 uses):
/// `HTTPS_PROXY` for https targets, `HTTP_PROXY` for http ones, `ALL_PROXY` for both when the
/// specific one is unset, `NO_PROXY` exempting hosts, domains and CIDRs; upper case first, then
/// lower case; all ignored when `REQUEST_METHOD` is set (CGI, "httpoxy").
pub(crate) struct ProxyConfig {
    pub(super) matcher: Option<Matcher>,
}

impl ProxyConfig {
    /// The proxy settings of the process environment.
    pub fn from_env() -> ProxyConfig {
        ProxyConfig::from_lookup(|name| std::env::var(name).ok())
    }

    /// No proxy at all.
    pub fn none() -> ProxyConfig {
        ProxyConfig { matcher: None }
    }

    /// [`from_env`](Self::from_env) over any variable lookup (tests pass a fake environment).
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

/// The proxy route for the origin (decided once: there is one origin).
pub(super) fn route_for(
    proxy: &ProxyConfig,
    https: bool,
    authority: &str,
) -> Result<Route, HttpSetupError> {
    let Some(matcher) = &proxy.matcher else {
        return Ok(Route::Direct);
    };
    let scheme = if https { "https" } else { "http" };
    let Ok(target) = Uri::try_from(format!("{scheme}://{authority}/")) else {
        return Ok(Route::Direct);
    };
    let Some(intercept) = matcher.intercept(&target) else {
        return Ok(Route::Direct);
    };
    // The matcher strips credentials from the URI, so it is safe to show.
    let uri = intercept.uri();
    let shown = uri.to_string();
    let proxy_tls = match uri.scheme_str() {
        Some("http") => false,
        Some("https") => true,
        _ => return Err(HttpSetupError::UnsupportedProxy { proxy: shown }),
    };
    let invalid = || HttpSetupError::InvalidProxy {
        proxy: shown.clone(),
    };
    let raw_host = uri.host().ok_or_else(invalid)?;
    let bare = raw_host.trim_start_matches('[').trim_end_matches(']');
    let host = match bare.parse::<IpAddr>() {
        Ok(ip) => Host::Ip(ip),
        Err(_) if !bare.is_empty() => Host::Name(bare.to_owned()),
        Err(_) => return Err(invalid()),
    };
    let port = uri.port_u16().unwrap_or(if proxy_tls { 443 } else { 80 });
    let tls = if proxy_tls {
        Some(server_name(&host)?)
    } else {
        None
    };
    let display = match &host {
        Host::Ip(IpAddr::V6(ip)) => format!("[{ip}]:{port}"),
        _ => format!("{bare}:{port}"),
    };
    let endpoint = Endpoint {
        host,
        port,
        display,
        tls,
    };
    let auth = intercept.basic_auth().cloned().map(|mut v| {
        v.set_sensitive(true);
        v
    });
    Ok(if https {
        Route::Tunnel {
            proxy: endpoint,
            auth,
        }
    } else {
        Route::Forward {
            proxy: endpoint,
            prefix: format!("http://{authority}"),
            auth,
        }
    })
}

/// Opens a CONNECT tunnel to `target` (`host:port`) through the proxy connection `stream`.
pub(super) async fn connect_tunnel(
    mut stream: Stream,
    target: &str,
    auth: Option<&HeaderValue>,
    user_agent: &HeaderValue,
    proxy: &str,
) -> Result<Stream, HttpError> {
    let fail = |why: String| {
        HttpError::Connect(format!(
            "proxy {proxy} could not open a tunnel to {target}: {why}"
        ))
    };
    let mut head = Vec::with_capacity(256);
    for part in [
        b"CONNECT ".as_slice(),
        target.as_bytes(),
        b" HTTP/1.1\r\nHost: ",
        target.as_bytes(),
        b"\r\nUser-Agent: ",
        user_agent.as_bytes(),
        b"\r\n",
    ] {
        head.extend_from_slice(part);
    }
    if let Some(auth) = auth {
        head.extend_from_slice(b"Proxy-Authorization: ");
        head.extend_from_slice(auth.as_bytes());
        head.extend_from_slice(b"\r\n");
    }
    head.extend_from_slice(b"\r\n");
    stream
        .write_all(&head)
        .await
        .map_err(|e| fail(e.to_string()))?;
    stream.flush().await.map_err(|e| fail(e.to_string()))?;

    let mut buf = vec![0u8; MAX_CONNECT_HEAD];
    let mut len = 0;
    loop {
        let n = stream
            .read(&mut buf[len..])
            .await
            .map_err(|e| fail(e.to_string()))?;
        if n == 0 {
            return Err(fail("the proxy closed the connection".into()));
        }
        len += n;
        if let Some(end) = buf[..len].windows(4).position(|w| w == b"\r\n\r\n") {
            if end + 4 != len {
                return Err(fail("the proxy sent data after its answer".into()));
            }
            return match connect_status(&buf[..end]) {
                Some(200..=299) => Ok(stream),
                Some(407) => Err(fail(
                    "proxy authentication required (407): check the credentials in the proxy URL"
                        .into(),
                )),
                Some(code) => Err(fail(format!("the proxy answered {code}"))),
                None => Err(fail("the proxy's answer is not HTTP".into())),
            };
        }
        if len == buf.len() {
            return Err(fail("the proxy's answer head is too long".into()));
        }
    }
}

/// The status code of a response head (`HTTP/1.x NNN ...`).
fn connect_status(head: &[u8]) -> Option<u16> {
    let line = head.split(|&b| b == b'\n').next()?;
    let line = std::str::from_utf8(line).ok()?;
    let mut parts = line.split_ascii_whitespace();
    if !parts.next()?.starts_with("HTTP/1.") {
        return None;
    }
    let code = parts.next()?;
    if code.len() != 3 {
        return None;
    }
    code.parse().ok()
}
