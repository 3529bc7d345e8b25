//! TLS for the HTTP engine: rustls with the aws-lc-rs provider and the platform verifier
//! (system roots plus `--ca-cert` roots, as reqwest 0.13's `tls_certs_merge` gave; verification
//! is never turned off), ALPN http/1.1, and the server name of a host.

use std::sync::Arc;

use tokio_rustls::TlsConnector;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};

use super::{Host, HttpSetupError};

/// The TLS name of a host: DNS name, or IP address for IP literals.
pub(super) fn server_name(host: &Host) -> Result<ServerName<'static>, HttpSetupError> {
    match host {
        Host::Ip(ip) => Ok(ServerName::IpAddress((*ip).into())),
        Host::Name(n) => ServerName::try_from(n.clone())
            .map_err(|e| HttpSetupError::Tls(format!("invalid TLS server name `{n}`: {e}"))),
    }
}

/// rustls with the aws-lc-rs provider, the platform verifier with `extra_roots` added, ALPN
/// http/1.1.
pub(super) fn tls_connector(
    extra_roots: Vec<CertificateDer<'static>>,
) -> Result<TlsConnector, HttpSetupError> {
    let tls_err = |e: rustls::Error| HttpSetupError::Tls(e.to_string());
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let verifier = if extra_roots.is_empty() {
        rustls_platform_verifier::Verifier::new(provider.clone())
    } else {
        rustls_platform_verifier::Verifier::new_with_extra_roots(extra_roots, provider.clone())
    }
    .map_err(tls_err)?;
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(tls_err)?
        // Not "dangerous": this is the platform verifier, the same one reqwest uses.
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsConnector::from(Arc::new(config)))
}
