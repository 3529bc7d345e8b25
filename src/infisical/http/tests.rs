//! Tests of the HTTP client against raw servers started in each test on 127.0.0.1: a recording
//! HTTP/1.1 server (plain or TLS, scripted answers, idle close), and a CONNECT proxy.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use base64::Engine;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;

use super::*;

/// One request as the server saw it.
#[derive(Debug, Clone)]
struct Seen {
    /// Connection number (0-based, in accept order).
    conn: usize,
    /// The request line, e.g. `GET /x HTTP/1.1`.
    line: String,
    /// Header names (lower case) and values, in order.
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// What the server does with one request.
struct Reply {
    /// Raw bytes written back.
    bytes: Vec<u8>,
    /// Wait before answering.
    delay: Duration,
    /// Close the connection after answering.
    close: bool,
}

type Script = Arc<dyn Fn(&Seen) -> Reply + Send + Sync>;

/// Closing connections that stay idle this long after an answer.
#[derive(Clone, Copy)]
struct Idle {
    after: Duration,
}

/// Close after `ms` of idleness.
fn idle_ms(ms: u64) -> Option<Idle> {
    Some(Idle {
        after: Duration::from_millis(ms),
    })
}

/// A recording HTTP/1.1 server.
struct Server {
    addr: SocketAddr,
    conns: Arc<AtomicUsize>,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Server {
    /// Plain HTTP; `idle_close` closes a connection idle that long after an answer.
    async fn start(script: Script, idle_close: Option<Idle>) -> Server {
        Self::start_with(script, idle_close, None).await
    }

    async fn start_with(
        script: Script,
        idle_close: Option<Idle>,
        tls: Option<TlsAcceptor>,
    ) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let conns = Arc::new(AtomicUsize::new(0));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (c, s) = (conns.clone(), seen.clone());
        tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    return;
                };
                let n = c.fetch_add(1, Ordering::SeqCst);
                let (script, seen, tls) = (script.clone(), s.clone(), tls.clone());
                tokio::spawn(async move {
                    match tls {
                        Some(acceptor) => {
                            if let Ok(stream) = acceptor.accept(tcp).await {
                                serve(stream, n, script, seen, idle_close).await;
                            }
                        }
                        None => serve(tcp, n, script, seen, idle_close).await,
                    }
                });
            }
        });
        Server { addr, conns, seen }
    }

    fn url(&self, scheme: &str) -> Url {
        Url::parse(&format!("{scheme}://{}", self.addr)).unwrap()
    }

    fn conns(&self) -> usize {
        self.conns.load(Ordering::SeqCst)
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

/// Serves requests on one connection until the peer leaves, the script closes, or it idles.
async fn serve<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    conn: usize,
    script: Script,
    seen: Arc<Mutex<Vec<Seen>>>,
    idle_close: Option<Idle>,
) {
    let mut stream = BufReader::new(stream);
    loop {
        let next = read_head(&mut stream);
        let head = match idle_close {
            Some(idle) => match tokio::time::timeout(idle.after, next).await {
                Ok(h) => h,
                Err(_) => {
                    let _ = stream.shutdown().await;
                    return;
                }
            },
            None => next.await,
        };
        let Some((line, headers)) = head else {
            return;
        };
        let len = headers
            .iter()
            .find(|(n, _)| n == "content-length")
            .and_then(|(_, v)| v.parse::<usize>().ok())
            .unwrap_or(0);
        let mut body = vec![0; len];
        if stream.read_exact(&mut body).await.is_err() {
            return;
        }
        let req = Seen {
            conn,
            line,
            headers,
            body,
        };
        let reply = script(&req);
        seen.lock().unwrap().push(req);
        tokio::time::sleep(reply.delay).await;
        if stream.write_all(&reply.bytes).await.is_err() || stream.flush().await.is_err() {
            return;
        }
        if reply.close {
            let _ = stream.shutdown().await;
            return;
        }
    }
}

/// Reads a request (or proxy) head: the first line and the headers (names lower-cased).
async fn read_head<S: AsyncRead + Unpin>(stream: &mut BufReader<S>) -> Option<Head> {
    let mut line = String::new();
    if stream.read_line(&mut line).await.ok()? == 0 {
        return None;
    }
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if stream.read_line(&mut h).await.ok()? == 0 {
            return None;
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (n, v) = h.split_once(':')?;
        headers.push((n.trim().to_ascii_lowercase(), v.trim().to_owned()));
    }
    Some((line.trim_end().to_owned(), headers))
}

fn reply(bytes: impl Into<Vec<u8>>) -> Reply {
    Reply {
        bytes: bytes.into(),
        delay: Duration::ZERO,
        close: false,
    }
}

/// A 200 JSON answer with content-length.
fn ok_json(body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn always_ok() -> Script {
    Arc::new(|_| reply(ok_json(r#"{"ok":true}"#)))
}

fn options(base: Url, proxy: ProxyConfig) -> HttpOptions {
    HttpOptions {
        base,
        user_agent: "idguard/test".into(),
        connect_timeout: Duration::from_secs(5),
        extra_roots: Vec::new(),
        proxy,
    }
}

fn client(base: Url) -> HttpClient {
    HttpClient::new(options(base, ProxyConfig::none())).unwrap()
}

async fn get(c: &HttpClient, path: &str) -> Result<HttpResponse, HttpError> {
    c.send(Method::GET, path, None, None, 1 << 20).await
}

/// A fake environment for [`ProxyConfig::from_lookup`].
fn env(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
    move |k: &str| {
        pairs
            .iter()
            .find(|(n, _)| *n == k)
            .map(|(_, v)| v.to_string())
    }
}

fn proxy_env(vars: Vec<(&'static str, String)>) -> ProxyConfig {
    ProxyConfig::from_lookup(move |k: &str| {
        vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone())
    })
}

/// The request head carries Host with the port, User-Agent, Accept, Authorization, and for
/// a body content-type and content-length; the request line is origin-form.
#[tokio::test]
async fn sends_the_expected_headers() {
    let server = Server::start(always_ok(), None).await;
    let c = client(server.url("http"));
    let bearer = HeaderValue::from_static("Bearer tok-123");
    let resp = c
        .send(Method::GET, "/api/v1/x?a=1", Some(&bearer), None, 1024)
        .await
        .unwrap();
    assert_eq!(resp.status, StatusCode::OK);
    assert_eq!(&resp.body[..], br#"{"ok":true}"#);
    let body = Bytes::from_static(br#"{"clientId":"c"}"#);
    c.send(Method::POST, "/api/v1/login", None, Some(body), 1024)
        .await
        .unwrap();

    let seen = server.seen();
    assert_eq!(seen.len(), 2);
    let g = &seen[0];
    assert_eq!(g.line, "GET /api/v1/x?a=1 HTTP/1.1");
    assert_eq!(g.header("host"), Some(server.addr.to_string().as_str()));
    assert_eq!(g.header("user-agent"), Some("idguard/test"));
    assert_eq!(g.header("accept"), Some("application/json"));
    assert_eq!(g.header("authorization"), Some("Bearer tok-123"));
    assert_eq!(g.header("content-type"), None);
    assert_eq!(g.header("content-length"), None);
    let p = &seen[1];
    assert_eq!(p.line, "POST /api/v1/login HTTP/1.1");
    assert_eq!(p.header("authorization"), None);
    assert_eq!(p.header("content-type"), Some("application/json"));
    assert_eq!(p.header("content-length"), Some("16"));
    assert_eq!(p.body, br#"{"clientId":"c"}"#);
}

/// Request URLs omit the port when it is the scheme's default and drop the base URL's path;
/// messages name `host:port`, IPv6 in brackets.
#[test]
fn origin_omits_default_port() {
    let c = client(Url::parse("http://infisical.example:80").unwrap());
    assert_eq!(c.origin, "http://infisical.example");
    assert_eq!(c.display, "infisical.example:80");
    let c = client(Url::parse("http://[::1]:8080/api").unwrap());
    assert_eq!(c.origin, "http://[::1]:8080");
    assert_eq!(c.display, "[::1]:8080");
}

/// Sequential requests share one connection; concurrent ones open several, which are then
/// all reused.
#[tokio::test]
async fn connections_are_pooled_and_reused() {
    let server = Server::start(
        Arc::new(|_| Reply {
            delay: Duration::from_millis(50),
            ..reply(ok_json("{}"))
        }),
        None,
    )
    .await;
    let c = client(server.url("http"));
    for _ in 0..5 {
        assert_eq!(get(&c, "/seq").await.unwrap().status, StatusCode::OK);
    }
    assert_eq!(server.conns(), 1);
    assert!(
        server.seen().iter().all(|s| s.conn == 0),
        "sequential requests all on the first connection"
    );

    let many = futures::future::join_all((0..6).map(|_| get(&c, "/par"))).await;
    assert!(many.iter().all(|r| r.is_ok()));
    let after_burst = server.conns();
    assert!(
        after_burst >= 5,
        "only {after_burst} connections for 6 concurrent requests"
    );

    let again = futures::future::join_all((0..after_burst).map(|_| get(&c, "/again"))).await;
    assert!(again.iter().all(|r| r.is_ok()));
    assert_eq!(
        server.conns(),
        after_burst,
        "pooled connections were not reused"
    );
}

/// The pool works on a multi-thread runtime too (connection tasks are `tokio::spawn`ed).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn works_on_a_multi_thread_runtime() {
    let server = Server::start(always_ok(), None).await;
    let c = Arc::new(client(server.url("http")));
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let c = c.clone();
            tokio::spawn(async move {
                for _ in 0..5 {
                    get(&c, "/mt").await.map(|r| r.status)?;
                }
                Ok::<_, HttpError>(())
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    assert_eq!(server.seen().len(), 40);
}

/// A pooled connection the server closed when it went idle (keep-alive timeout) does not
/// fail the next request: it goes out on a new connection.
#[tokio::test]
async fn idle_connection_closed_by_server_is_replaced() {
    let server = Server::start(always_ok(), idle_ms(30)).await;
    let c = client(server.url("http"));
    get(&c, "/one").await.unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    let second = get(&c, "/two").await.unwrap();
    assert_eq!(second.status, StatusCode::OK);
    assert_eq!(server.conns(), 2);
}

/// A server that closes right after each answer (no `connection: close`) never fails the
/// requests that follow.
#[tokio::test]
async fn server_closing_after_each_answer_does_not_fail_requests() {
    let server = Server::start(
        Arc::new(|_| Reply {
            close: true,
            ..reply(ok_json("{}"))
        }),
        None,
    )
    .await;
    let c = client(server.url("http"));
    for i in 0..20 {
        let r = get(&c, "/x").await;
        assert!(r.is_ok(), "request {i}: {r:?}");
    }
    assert_eq!(server.seen().len(), 20);
}

/// An answer with `connection: close` is not pooled.
#[tokio::test]
async fn connection_close_answers_are_not_pooled() {
    let server = Server::start(
        Arc::new(|_| Reply {
            close: true,
            ..reply("HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 2\r\n\r\n{}")
        }),
        None,
    )
    .await;
    let c = client(server.url("http"));
    get(&c, "/a").await.unwrap();
    get(&c, "/b").await.unwrap();
    assert_eq!(server.conns(), 2);
}

/// Bodies over the limit are `TooLarge`, whether announced by content-length or not; a body of
/// exactly the limit is fine.
#[tokio::test]
async fn over_limit_bodies_are_too_large() {
    let server = Server::start(
        Arc::new(|seen| match seen.line.split(' ').nth(1).unwrap_or("") {
            "/cl" => reply(ok_json(&"x".repeat(100))),
            "/chunked" => reply(
                "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n\
                 28\r\n0123456789012345678901234567890123456789\r\n\
                 28\r\n0123456789012345678901234567890123456789\r\n0\r\n\r\n",
            ),
            "/eof" => Reply {
                close: true,
                ..reply(format!("HTTP/1.1 200 OK\r\n\r\n{}", "y".repeat(100)))
            },
            _ => reply(ok_json(&"z".repeat(50))),
        }),
        None,
    )
    .await;
    let c = client(server.url("http"));
    for path in ["/cl", "/chunked", "/eof"] {
        let r = c.send(Method::GET, path, None, None, 50).await;
        assert!(
            matches!(r.unwrap_err(), HttpError::TooLarge { .. }),
            "{path}"
        );
    }
    let exact = c.send(Method::GET, "/exact", None, None, 50).await.unwrap();
    assert_eq!(exact.body.len(), 50);
    let chunked = c
        .send(Method::GET, "/chunked", None, None, 80)
        .await
        .unwrap();
    assert_eq!(chunked.body.len(), 80);
}

/// A body cut short (fewer bytes than content-length, then EOF) is a `Body` error carrying the
/// status that came with it (so a caller knows a 2xx was processed), not `TooLarge` or `Send`.
#[tokio::test]
async fn truncated_body_is_a_body_error_with_its_status() {
    let server = Server::start(
        Arc::new(|seen| {
            let status = if seen.line.contains("/busy") {
                "503 Service Unavailable"
            } else {
                "200 OK"
            };
            Reply {
                close: true,
                ..reply(format!(
                    "HTTP/1.1 {status}\r\ncontent-length: 100\r\n\r\n{{\"partial\":"
                ))
            }
        }),
        None,
    )
    .await;
    let c = client(server.url("http"));
    for (path, expected) in [
        ("/t", StatusCode::OK),
        ("/busy", StatusCode::SERVICE_UNAVAILABLE),
    ] {
        match get(&c, path).await {
            Err(HttpError::Body { status, message }) => {
                assert_eq!(status, expected, "{path}");
                assert!(message.contains(&server.addr.to_string()), "{message}");
            }
            other => panic!("expected a Body error, got {other:?}"),
        }
    }
}

/// A connection dropped before any answer is a `Send` error.
#[tokio::test]
async fn no_answer_is_a_send_error() {
    let server = Server::start(
        Arc::new(|_| Reply {
            close: true,
            ..reply("")
        }),
        None,
    )
    .await;
    let c = client(server.url("http"));
    assert!(matches!(get(&c, "/n").await, Err(HttpError::Send(_))));
}

/// A refused port is a `Connect` error naming the address.
#[tokio::test]
async fn refused_port_is_a_connect_error_naming_the_address() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let c = client(Url::parse(&format!("http://{addr}")).unwrap());
    match get(&c, "/").await {
        Err(HttpError::Connect(msg)) => {
            assert!(msg.contains(&addr.to_string()), "{msg}");
            assert!(msg.to_lowercase().contains("refused"), "{msg}");
        }
        other => panic!("expected a Connect error, got {other:?}"),
    }
}

/// Redirects come back as responses, not followed.
#[tokio::test]
async fn redirects_are_not_followed() {
    let server = Server::start(
        Arc::new(|_| {
            reply("HTTP/1.1 302 Found\r\nlocation: /elsewhere\r\ncontent-length: 0\r\n\r\n")
        }),
        None,
    )
    .await;
    let c = client(server.url("http"));
    let r = get(&c, "/r").await.unwrap();
    assert_eq!(r.status, StatusCode::FOUND);
    assert_eq!(r.headers.get("location").unwrap(), "/elsewhere");
    assert_eq!(server.seen().len(), 1);
}

/// A path not starting with '/' is refused before anything is sent.
#[tokio::test]
async fn bad_paths_are_refused() {
    let server = Server::start(always_ok(), None).await;
    let c = client(server.url("http"));
    assert!(matches!(
        get(&c, "api/v1").await,
        Err(HttpError::InvalidPath(_))
    ));
    assert!(matches!(
        get(&c, "/a b").await,
        Err(HttpError::InvalidPath(_))
    ));
    assert_eq!(server.conns(), 0);
}

/// Bad base URLs and unsupported proxies are setup errors with clear messages.
#[test]
fn setup_errors() {
    let err = HttpClient::new(options(
        Url::parse("ftp://x.example").unwrap(),
        ProxyConfig::none(),
    ))
    .unwrap_err();
    assert_eq!(err, HttpSetupError::Scheme("ftp".into()));
    let err = HttpClient::new(options(
        Url::parse("https://x.example").unwrap(),
        ProxyConfig::from_lookup(env(&[("ALL_PROXY", "socks5://u:pw@p.example:1080")])),
    ))
    .unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("socks5://p.example:1080"), "{msg}");
    assert!(msg.contains("only http:// and https://"), "{msg}");
    assert!(!msg.contains("pw"), "{msg}");
}

// ---- TLS ----

/// A self-signed certificate for localhost and 127.0.0.1, and an acceptor serving it.
fn tls_server_parts() -> (CertificateDer<'static>, TlsAcceptor) {
    let ck =
        rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    let cert = CertificateDer::from(ck.cert.der().to_vec());
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(ck.signing_key.serialize_der().into());
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.clone()], key)
        .unwrap();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    (cert, TlsAcceptor::from(Arc::new(config)))
}

/// With the self-signed certificate as an extra root, https works (IP literal as the TLS name)
/// and connections are reused.
#[tokio::test]
async fn tls_with_extra_root_works() {
    let (cert, acceptor) = tls_server_parts();
    let server = Server::start_with(always_ok(), None, Some(acceptor)).await;
    let mut opts = options(server.url("https"), ProxyConfig::none());
    opts.extra_roots = vec![cert];
    let c = HttpClient::new(opts).unwrap();
    for _ in 0..3 {
        let r = get(&c, "/tls").await.unwrap();
        assert_eq!(&r.body[..], br#"{"ok":true}"#);
    }
    assert_eq!(server.conns(), 1);
}

/// Without the extra root the handshake fails: a `Connect` error about the certificate.
#[tokio::test]
async fn tls_without_extra_root_is_a_certificate_error() {
    let (_, acceptor) = tls_server_parts();
    let server = Server::start_with(always_ok(), None, Some(acceptor)).await;
    let c = client(server.url("https"));
    match get(&c, "/tls").await {
        Err(HttpError::Connect(msg)) => {
            assert!(msg.contains("certificate"), "{msg}");
            assert!(msg.contains(&server.addr.to_string()), "{msg}");
        }
        other => panic!("expected a Connect error, got {other:?}"),
    }
    assert!(server.seen().is_empty());
}

/// The DNS name `localhost` is verified against the certificate's DNS SAN.
#[tokio::test]
async fn tls_with_a_dns_name() {
    let (cert, acceptor) = tls_server_parts();
    let server = Server::start_with(always_ok(), None, Some(acceptor)).await;
    let base = Url::parse(&format!("https://localhost:{}", server.addr.port())).unwrap();
    let mut opts = options(base, ProxyConfig::none());
    opts.extra_roots = vec![cert];
    let c = HttpClient::new(opts).unwrap();
    let r = get(&c, "/dns").await.unwrap();
    assert_eq!(r.status, StatusCode::OK);
    let seen = server.seen();
    assert_eq!(
        seen[0].header("host"),
        Some(format!("localhost:{}", server.addr.port()).as_str())
    );
}

// ---- proxies ----

/// A request or proxy head: the first line and the headers.
type Head = (String, Vec<(String, String)>);

/// A CONNECT proxy: records each CONNECT head, answers 407 without the expected
/// Proxy-Authorization (when one is required), else tunnels with copy_bidirectional.
struct ConnectProxy {
    addr: SocketAddr,
    heads: Arc<Mutex<Vec<Head>>>,
}

impl ConnectProxy {
    async fn start(required_auth: Option<&'static str>) -> ConnectProxy {
        Self::start_with(required_auth, None).await
    }

    /// With `tls`, an https proxy (TLS between client and proxy).
    async fn start_with(
        required_auth: Option<&'static str>,
        tls: Option<TlsAcceptor>,
    ) -> ConnectProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let heads = Arc::new(Mutex::new(Vec::new()));
        let h = heads.clone();
        tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    return;
                };
                let (h, tls) = (h.clone(), tls.clone());
                tokio::spawn(async move {
                    match tls {
                        Some(acceptor) => {
                            if let Ok(stream) = acceptor.accept(tcp).await {
                                tunnel(stream, h, required_auth).await;
                            }
                        }
                        None => tunnel(tcp, h, required_auth).await,
                    }
                });
            }
        });
        ConnectProxy { addr, heads }
    }
}

/// One proxy connection: read and record the CONNECT head, check credentials, then tunnel.
async fn tunnel<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    heads: Arc<Mutex<Vec<Head>>>,
    required_auth: Option<&'static str>,
) {
    let mut client = BufReader::new(stream);
    let Some((line, headers)) = read_head(&mut client).await else {
        return;
    };
    heads.lock().unwrap().push((line.clone(), headers.clone()));
    let auth = headers
        .iter()
        .find(|(n, _)| n == "proxy-authorization")
        .map(|(_, v)| v.clone());
    if required_auth.is_some() && auth.as_deref() != required_auth {
        let _ = client
            .write_all(b"HTTP/1.1 407 Proxy Authentication Required\r\ncontent-length: 0\r\n\r\n")
            .await;
        return;
    }
    let target = line.split(' ').nth(1).unwrap_or("").to_owned();
    let Ok(mut upstream) = TcpStream::connect(target).await else {
        let _ = client.write_all(b"HTTP/1.1 502 Bad Gateway\r\n\r\n").await;
        return;
    };
    let _ = client
        .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
        .await;
    let _ = client.flush().await;
    let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
}

fn basic(user_pass: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(user_pass)
    )
}

/// An https target through HTTPS_PROXY goes through a CONNECT tunnel (with Proxy-Authorization
/// from the proxy URL's user:pass), TLS inside; the tunnel is reused like any connection.
#[tokio::test]
async fn https_target_through_a_connect_proxy() {
    let (cert, acceptor) = tls_server_parts();
    let server = Server::start_with(always_ok(), None, Some(acceptor)).await;
    let auth: &'static str = Box::leak(basic("alice:s3cr3t").into_boxed_str());
    let proxy = ConnectProxy::start(Some(auth)).await;
    let mut opts = options(
        server.url("https"),
        proxy_env(vec![(
            "https_proxy",
            format!("http://alice:s3cr3t@{}", proxy.addr),
        )]),
    );
    opts.extra_roots = vec![cert];
    let c = HttpClient::new(opts).unwrap();
    assert!(!format!("{c:?}").contains("s3cr3t"));
    for _ in 0..2 {
        assert_eq!(get(&c, "/via").await.unwrap().status, StatusCode::OK);
    }
    let heads = proxy.heads.lock().unwrap().clone();
    assert_eq!(heads.len(), 1, "tunnel not reused: {heads:?}");
    let target = server.addr.to_string();
    assert_eq!(heads[0].0, format!("CONNECT {target} HTTP/1.1"));
    let sent_auth = heads[0]
        .1
        .iter()
        .find(|(n, _)| n == "proxy-authorization")
        .map(|(_, v)| v.as_str());
    assert_eq!(sent_auth, Some(auth));
    // The origin itself never sees the proxy credentials.
    assert!(server.seen()[0].header("proxy-authorization").is_none());
}

/// A proxy refusing the credentials (407) is a `Connect` error that says so, without the
/// password.
#[tokio::test]
async fn proxy_refusing_credentials_is_a_clear_connect_error() {
    let (cert, acceptor) = tls_server_parts();
    let server = Server::start_with(always_ok(), None, Some(acceptor)).await;
    let proxy = ConnectProxy::start(Some("Basic other")).await;
    let mut opts = options(
        server.url("https"),
        proxy_env(vec![(
            "HTTPS_PROXY",
            format!("http://bob:hunter2@{}", proxy.addr),
        )]),
    );
    opts.extra_roots = vec![cert];
    let c = HttpClient::new(opts).unwrap();
    match get(&c, "/x").await {
        Err(HttpError::Connect(msg)) => {
            assert!(msg.contains("407"), "{msg}");
            assert!(msg.contains(&proxy.addr.to_string()), "{msg}");
            assert!(!msg.contains("hunter2"), "{msg}");
        }
        other => panic!("expected a Connect error, got {other:?}"),
    }
}

/// An http target through HTTP_PROXY sends absolute-form requests to the proxy, with
/// Proxy-Authorization, and Host naming the target.
#[tokio::test]
async fn http_target_through_a_proxy_uses_absolute_form() {
    let proxy = Server::start(always_ok(), None).await;
    let base = Url::parse("http://infisical.internal:8080/api").unwrap();
    let c = HttpClient::new(options(
        base,
        proxy_env(vec![(
            "HTTP_PROXY",
            format!("http://carol:pw@{}", proxy.addr),
        )]),
    ))
    .unwrap();
    let bearer = HeaderValue::from_static("Bearer t");
    let r = c
        .send(Method::GET, "/api/v1/items?x=1", Some(&bearer), None, 1024)
        .await
        .unwrap();
    assert_eq!(r.status, StatusCode::OK);
    let seen = proxy.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(
        seen[0].line,
        "GET http://infisical.internal:8080/api/v1/items?x=1 HTTP/1.1"
    );
    assert_eq!(seen[0].header("host"), Some("infisical.internal:8080"));
    assert_eq!(
        seen[0].header("proxy-authorization"),
        Some(basic("carol:pw").as_str())
    );
    assert_eq!(seen[0].header("authorization"), Some("Bearer t"));
}

/// ALL_PROXY applies when the scheme's own variable is unset; lower-case names count.
#[tokio::test]
async fn all_proxy_and_lower_case_names_apply() {
    let proxy = Server::start(always_ok(), None).await;
    let base = Url::parse("http://target.internal").unwrap();
    let c = HttpClient::new(options(
        base,
        proxy_env(vec![("all_proxy", format!("http://{}", proxy.addr))]),
    ))
    .unwrap();
    get(&c, "/all").await.unwrap();
    assert_eq!(
        proxy.seen()[0].line,
        "GET http://target.internal/all HTTP/1.1"
    );
}

/// A host listed in NO_PROXY bypasses the proxy; the proxy sees nothing.
#[tokio::test]
async fn no_proxy_hosts_bypass_the_proxy() {
    let server = Server::start(always_ok(), None).await;
    let proxy = Server::start(always_ok(), None).await;
    let proxy_url = format!("http://{}", proxy.addr);
    let c = HttpClient::new(options(
        server.url("http"),
        proxy_env(vec![
            ("HTTP_PROXY", proxy_url.clone()),
            ("NO_PROXY", "example.com, 127.0.0.1".into()),
        ]),
    ))
    .unwrap();
    get(&c, "/direct").await.unwrap();
    assert_eq!(server.seen().len(), 1);
    assert_eq!(proxy.conns(), 0);
    // Without the NO_PROXY entry the same client setup goes through the proxy.
    let c = HttpClient::new(options(
        server.url("http"),
        proxy_env(vec![("HTTP_PROXY", proxy_url)]),
    ))
    .unwrap();
    get(&c, "/proxied").await.unwrap();
    assert_eq!(proxy.conns(), 1);
}

/// REQUEST_METHOD (CGI) disables environment proxies, as reqwest does.
#[test]
fn cgi_environment_ignores_proxies() {
    let c = HttpClient::new(options(
        Url::parse("http://a.example").unwrap(),
        ProxyConfig::from_lookup(env(&[
            ("HTTP_PROXY", "http://p.example:3128"),
            ("REQUEST_METHOD", "GET"),
        ])),
    ))
    .unwrap();
    assert_eq!(c.proxy, None);
}

/// A pooled connection the server closed while this runtime was busy (its driver has not seen
/// the FIN yet) takes the request onto the wire: that request may have been sent, so it fails
/// with `Send` and is not re-sent here (the transport retries with backoff); the dead
/// connection is dropped and the next request goes out on a new one.
#[tokio::test(flavor = "current_thread")]
async fn possibly_sent_request_on_a_dead_connection_is_not_resent() {
    // The server runs on its own thread so it can close while this runtime is blocked.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let server = Server::start(always_ok(), idle_ms(30)).await;
            tx.send((server.addr, server.conns.clone(), server.seen.clone()))
                .unwrap();
            std::future::pending::<()>().await;
        });
    });
    let (addr, conns, seen) = rx.recv().unwrap();
    let c = client(Url::parse(&format!("http://{addr}")).unwrap());
    get(&c, "/one").await.unwrap();
    // Block this runtime: the connection's driver cannot see the server's FIN.
    std::thread::sleep(Duration::from_millis(500));
    let second = get(&c, "/two").await;
    assert!(matches!(second, Err(HttpError::Send(_))), "{second:?}");
    assert_eq!(conns.load(Ordering::SeqCst), 1, "the request was re-sent");
    let third = get(&c, "/three").await;
    assert!(third.is_ok(), "{third:?}");
    assert_eq!(conns.load(Ordering::SeqCst), 2);
    let lines: Vec<String> = seen
        .lock()
        .unwrap()
        .iter()
        .map(|s| s.line.clone())
        .collect();
    assert_eq!(lines, ["GET /one HTTP/1.1", "GET /three HTTP/1.1"]);
}

/// A pooled connection idle longer than the pool idle timeout is not reused.
#[tokio::test]
async fn connections_idle_too_long_are_not_reused() {
    let server = Server::start(always_ok(), None).await;
    let opts = options(server.url("http"), ProxyConfig::none());
    let c = HttpClient::build(opts, Duration::from_millis(500)).unwrap();
    get(&c, "/a").await.unwrap();
    get(&c, "/b").await.unwrap();
    assert_eq!(server.conns(), 1);
    tokio::time::sleep(Duration::from_millis(700)).await;
    get(&c, "/c").await.unwrap();
    assert_eq!(server.conns(), 2);
}

/// An https target through an https proxy: TLS to the proxy, CONNECT inside it, TLS to the
/// target inside the tunnel (both verified against the extra root).
#[tokio::test]
async fn https_target_through_an_https_proxy() {
    let (cert, acceptor) = tls_server_parts();
    let server = Server::start_with(always_ok(), None, Some(acceptor.clone())).await;
    let proxy = ConnectProxy::start_with(None, Some(acceptor)).await;
    let mut opts = options(
        server.url("https"),
        proxy_env(vec![("HTTPS_PROXY", format!("https://{}", proxy.addr))]),
    );
    opts.extra_roots = vec![cert];
    let c = HttpClient::new(opts).unwrap();
    let r = get(&c, "/tls-in-tls").await.unwrap();
    assert_eq!(&r.body[..], br#"{"ok":true}"#);
    let heads = proxy.heads.lock().unwrap().clone();
    assert_eq!(heads.len(), 1);
    assert_eq!(heads[0].0, format!("CONNECT {} HTTP/1.1", server.addr));
    assert_eq!(server.seen()[0].line, "GET /tls-in-tls HTTP/1.1");
}

/// A connection that cannot be set up within the connect timeout (here: a TLS server that
/// never answers the handshake) is a `Connect` error saying it timed out.
#[tokio::test]
async fn connect_timeout_applies_to_the_handshake() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((tcp, _)) = listener.accept().await {
            held.push(tcp);
        }
    });
    let mut opts = options(
        Url::parse(&format!("https://{addr}")).unwrap(),
        ProxyConfig::none(),
    );
    opts.connect_timeout = Duration::from_millis(100);
    let c = HttpClient::new(opts).unwrap();
    let started = std::time::Instant::now();
    match get(&c, "/").await {
        Err(HttpError::Connect(msg)) => {
            assert!(msg.contains("timed out"), "{msg}");
            assert!(msg.contains(&addr.to_string()), "{msg}");
        }
        other => panic!("expected a Connect error, got {other:?}"),
    }
    assert!(started.elapsed() < Duration::from_secs(3));
}

/// Debug output of the options and the client shows no proxy password or token.
#[test]
fn debug_output_hides_secrets() {
    let opts = options(
        Url::parse("https://x.example").unwrap(),
        ProxyConfig::from_lookup(env(&[("HTTPS_PROXY", "http://u:pa55word@p.example:3128")])),
    );
    let shown = format!("{opts:?}");
    assert!(shown.contains("p.example"), "{shown}");
    assert!(!shown.contains("pa55word"), "{shown}");
    let c = HttpClient::new(opts).unwrap();
    let shown = format!("{c:?}");
    assert!(shown.contains("p.example:3128"), "{shown}");
    assert!(!shown.contains("pa55word"), "{shown}");
    let resp = HttpResponse {
        status: StatusCode::OK,
        headers: HeaderMap::new(),
        body: Bytes::from_static(b"{\"bindPass\":\"hunter2\"}"),
    };
    assert!(!format!("{resp:?}").contains("hunter2"));
}
