//! The simulator's TCP plumbing: a listener whose connections a handler can kill, so that the
//! `DropConnection` fault closes the socket without writing any HTTP response; optionally
//! behind TLS (rustls), with each handshake run in its own task so a stalled or refused
//! handshake never holds up other connections.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::connect_info::Connected;
use axum::serve::{IncomingStream, Listener};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// Longest a TLS handshake may take before the connection is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Accepts TCP connections and wraps each in a [`KillableStream`] (inside TLS when set up so).
pub(crate) struct SimListener {
    local: SocketAddr,
    inner: Accepting,
}

enum Accepting {
    Plain(TcpListener),
    /// Connections whose TLS handshake completed, from the acceptor task.
    Tls {
        ready: mpsc::Receiver<(SimStream, ConnInfo)>,
        /// Held only so the acceptor task ends with the listener.
        _task: AbortOnDrop,
    },
}

/// Aborts the acceptor task when the listener goes.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl SimListener {
    /// A plain-HTTP listener.
    pub(crate) fn new(inner: TcpListener) -> io::Result<SimListener> {
        Ok(SimListener {
            local: inner.local_addr()?,
            inner: Accepting::Plain(inner),
        })
    }

    /// A listener that serves TLS with `acceptor`.
    pub(crate) fn tls(inner: TcpListener, acceptor: TlsAcceptor) -> io::Result<SimListener> {
        let local = inner.local_addr()?;
        let (tx, ready) = mpsc::channel(64);
        let task = tokio::spawn(async move {
            loop {
                let (stream, peer) = match TcpListener::accept(&inner).await {
                    Ok(accepted) => accepted,
                    Err(_) => {
                        tokio::time::sleep(Duration::from_millis(5)).await;
                        continue;
                    }
                };
                let (io, info) = wrap(stream, peer);
                let acceptor = acceptor.clone();
                let tx = tx.clone();
                tokio::spawn(async move {
                    let handshake = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(io));
                    if let Ok(Ok(tls)) = handshake.await {
                        let _ = tx.send((SimStream::Tls(Box::new(tls)), info)).await;
                    }
                });
            }
        });
        Ok(SimListener {
            local,
            inner: Accepting::Tls {
                ready,
                _task: AbortOnDrop(task),
            },
        })
    }
}

/// A rustls acceptor for a PEM certificate chain and private key.
pub(crate) fn tls_acceptor(cert_pem: &str, key_pem: &str) -> io::Result<TlsAcceptor> {
    let invalid = |what: &str, e: &dyn std::fmt::Display| {
        io::Error::new(io::ErrorKind::InvalidInput, format!("{what}: {e}"))
    };
    let certs = CertificateDer::pem_slice_iter(cert_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid("bad certificate PEM", &e))?;
    if certs.is_empty() {
        return Err(invalid("bad certificate PEM", &"no certificate"));
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes())
        .map_err(|e| invalid("bad private key PEM", &e))?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| invalid("TLS setup", &e))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| invalid("TLS certificate", &e))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

fn wrap(stream: TcpStream, peer: SocketAddr) -> (KillableStream, ConnInfo) {
    let _ = stream.set_nodelay(true);
    let kill = Arc::new(AtomicBool::new(false));
    let io = KillableStream {
        inner: stream,
        kill: kill.clone(),
    };
    (io, ConnInfo { peer, kill })
}

/// Per-connection info handed to handlers: the peer address and the kill switch.
#[derive(Clone, Debug)]
pub(crate) struct ConnInfo {
    pub(crate) peer: SocketAddr,
    kill: Arc<AtomicBool>,
}

impl ConnInfo {
    /// After this, every write on the connection fails, so hyper drops it without a response.
    pub(crate) fn kill(&self) {
        self.kill.store(true, Ordering::SeqCst);
    }
}

impl Listener for SimListener {
    type Io = SimStream;
    type Addr = ConnInfo;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match &mut self.inner {
            Accepting::Plain(inner) => loop {
                match TcpListener::accept(inner).await {
                    Ok((stream, peer)) => {
                        let (io, info) = wrap(stream, peer);
                        return (SimStream::Plain(io), info);
                    }
                    // Too many open files and the like: wait a little and go on.
                    Err(_) => tokio::time::sleep(Duration::from_millis(5)).await,
                }
            },
            Accepting::Tls { ready, .. } => match ready.recv().await {
                Some(accepted) => accepted,
                // The acceptor task is gone (shutdown): accept nothing more.
                None => std::future::pending().await,
            },
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        Ok(ConnInfo {
            peer: self.local,
            kill: Arc::new(AtomicBool::new(false)),
        })
    }
}

impl Connected<IncomingStream<'_, SimListener>> for ConnInfo {
    fn connect_info(stream: IncomingStream<'_, SimListener>) -> Self {
        stream.remote_addr().clone()
    }
}

/// A TCP stream that fails all I/O once killed.
pub(crate) struct KillableStream {
    inner: TcpStream,
    kill: Arc<AtomicBool>,
}

impl KillableStream {
    fn killed(&self) -> bool {
        self.kill.load(Ordering::SeqCst)
    }
}

fn reset() -> io::Error {
    io::Error::new(
        io::ErrorKind::ConnectionReset,
        "connection dropped by fault",
    )
}

impl AsyncRead for KillableStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.killed() {
            return Poll::Ready(Err(reset()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for KillableStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.killed() {
            return Poll::Ready(Err(reset()));
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        if self.killed() {
            return Poll::Ready(Err(reset()));
        }
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.killed() {
            return Poll::Ready(Err(reset()));
        }
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// A served connection: plain or TLS, over a [`KillableStream`] either way.
pub(crate) enum SimStream {
    Plain(KillableStream),
    Tls(Box<tokio_rustls::server::TlsStream<KillableStream>>),
}

impl AsyncRead for SimStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            SimStream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            SimStream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for SimStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            SimStream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            SimStream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            SimStream::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            SimStream::Tls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            SimStream::Plain(s) => s.is_write_vectored(),
            SimStream::Tls(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            SimStream::Plain(s) => Pin::new(s).poll_flush(cx),
            SimStream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            SimStream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            SimStream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}
