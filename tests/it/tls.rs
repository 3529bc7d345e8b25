//! Transport security: the simulator serves HTTPS with a certificate from a private test CA
//! (made with rcgen). idguard refuses it without `--ca-cert` (a clear certificate error, exit
//! 69, nothing served), accepts it with `--ca-cert`, refuses a `--ca-cert` file that holds no
//! certificate, refuses plain `http://` to a host that is not loopback unless
//! `--allow-insecure-http`, and takes its proxy from the environment.

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
};

use crate::support::{audit, start_sim};
use idguard_sim::{SimConfig, SimServer};

/// A private CA and a server certificate it signed for 127.0.0.1 and localhost.
struct TestPki {
    ca_pem: String,
    server_chain_pem: String,
    server_key_pem: String,
}

fn test_pki() -> TestPki {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "idguard test CA");
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca = CertifiedIssuer::self_signed(ca_params, ca_key).unwrap();
    let server_key = KeyPair::generate().unwrap();
    let mut params =
        CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()]).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, "idguard test server");
    let server = params.signed_by(&server_key, &ca).unwrap();
    TestPki {
        ca_pem: ca.pem(),
        server_chain_pem: server.pem(),
        server_key_pem: server_key.serialize_pem(),
    }
}

async fn https_sim(pki: &TestPki) -> SimServer {
    let server = start_sim(SimConfig {
        identities: 12,
        tls: Some((pki.server_chain_pem.clone(), pki.server_key_pem.clone())),
        ..SimConfig::default()
    })
    .await;
    assert!(server.url().starts_with("https://127.0.0.1:"));
    server
}

/// Without `--ca-cert` the private CA is not trusted: exit 69 with an error that names the
/// certificate problem and a hint about `--ca-cert`, and no request reaches the server (no
/// fallback to plain http). With `--ca-cert` the same audit completes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_private_ca_is_trusted_only_with_ca_cert() {
    let pki = test_pki();
    let server = https_sim(&pki).await;
    let sim = server.handle();

    let refused = audit(&server.url(), &["--max-retries", "0", "--timeout", "5"]).await;
    let stderr = refused.stderr();
    assert_eq!(refused.code(), 69, "stderr: {stderr}");
    assert!(
        stderr.to_ascii_lowercase().contains("certificate"),
        "a clear TLS error: {stderr}"
    );
    assert!(stderr.contains("--ca-cert"), "a hint: {stderr}");
    assert!(
        sim.request_log().is_empty(),
        "nothing was served over an untrusted connection"
    );
    assert!(
        !refused.out_dir.join("report.json").exists(),
        "no report from a refused connection"
    );

    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, &pki.ca_pem).unwrap();
    let trusted = audit(&server.url(), &["--ca-cert", ca.to_str().unwrap()]).await;
    assert!(
        matches!(trusted.code(), 0 | 1),
        "stderr: {}",
        trusted.stderr()
    );
    let report = trusted.report();
    assert_eq!(report["run"]["complete"], true);
    assert!(
        sim.request_log()
            .iter()
            .any(|r| r.path.ends_with("/login") && r.status == 200)
    );
}

/// A CA file that is another server's certificate authority does not open the connection
/// either: trust is widened only to the CA given.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wrong_ca_is_refused() {
    let pki = test_pki();
    let other = test_pki();
    let server = https_sim(&pki).await;
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("other-ca.pem");
    std::fs::write(&ca, &other.ca_pem).unwrap();
    let run = audit(
        &server.url(),
        &["--ca-cert", ca.to_str().unwrap(), "--max-retries", "0"],
    )
    .await;
    assert_eq!(run.code(), 69, "stderr: {}", run.stderr());
    assert!(server.handle().request_log().is_empty());
}

/// A `--ca-cert` that is missing or holds no certificate is a usage error (exit 64) naming the
/// file, before anything is sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_ca_cert_file_is_a_clear_usage_error() {
    let pki = test_pki();
    let server = https_sim(&pki).await;
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.pem");
    std::fs::write(&junk, "this is not a certificate\n").unwrap();
    let missing = dir.path().join("missing.pem");
    for file in [&junk, &missing] {
        let run = audit(&server.url(), &["--ca-cert", file.to_str().unwrap()]).await;
        let stderr = run.stderr();
        assert_eq!(run.code(), 64, "stderr: {stderr}");
        let name = file.file_name().unwrap().to_str().unwrap();
        assert!(stderr.contains(name), "names the file: {stderr}");
    }
    assert!(server.handle().request_log().is_empty());
}

/// Plain `http://` to a host that is not loopback is refused (exit 64) before any request;
/// `--allow-insecure-http` lets it through. The host is the IPv4-mapped IPv6 form of
/// 127.0.0.1, which idguard does not treat as loopback but which still reaches the local
/// simulator, so no traffic leaves the machine.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_needs_allow_insecure_http_off_loopback() {
    let server = start_sim(SimConfig {
        identities: 6,
        ..SimConfig::default()
    })
    .await;
    let url = format!("http://[::ffff:127.0.0.1]:{}", server.addr().port());
    let refused = audit(&url, &[]).await;
    let stderr = refused.stderr();
    assert_eq!(refused.code(), 64, "stderr: {stderr}");
    assert!(stderr.contains("refusing plain http://"), "{stderr}");
    assert!(server.handle().request_log().is_empty());

    let allowed = audit(&url, &["--allow-insecure-http"]).await;
    assert!(
        matches!(allowed.code(), 0 | 1),
        "stderr: {}",
        allowed.stderr()
    );
    assert!(!server.handle().request_log().is_empty());
}

/// A simulator given a certificate or key that is not PEM refuses to start with an
/// `InvalidInput` error instead of serving something else.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_simulator_refuses_a_bad_certificate() {
    let pki = test_pki();
    for (cert, key) in [
        ("not a certificate".to_owned(), pki.server_key_pem.clone()),
        (pki.server_chain_pem.clone(), "not a key".to_owned()),
        (pki.server_chain_pem.clone(), other_key_pem()),
    ] {
        let err = idguard_sim::start(SimConfig {
            identities: 2,
            tls: Some((cert, key)),
            ..SimConfig::default()
        })
        .await
        .unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput, "{err}");
    }
}

/// A key that does not belong to the certificate.
fn other_key_pem() -> String {
    KeyPair::generate().unwrap().serialize_pem()
}

/// Proxies come from the environment: with `HTTP_PROXY` pointing at the simulator, an audit of
/// a host name that resolves nowhere (`.invalid`) reaches the simulator through the proxy
/// setting alone (idguard never resolves the name itself).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxies_from_the_environment_are_honoured() {
    let server = start_sim(SimConfig {
        identities: 6,
        ..SimConfig::default()
    })
    .await;
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let mut cmd = crate::support::idguard();
    cmd.arg("audit")
        .arg("--policy")
        .arg(crate::support::policy_path("example.yaml"))
        .arg("--out")
        .arg(&out)
        .args(["--allow-insecure-http", "--max-retries", "0"])
        .env("INFISICAL_DOMAIN", "http://infisical.idguard-test.invalid")
        .env("HTTP_PROXY", server.url())
        .env(
            "INFISICAL_UNIVERSAL_AUTH_CLIENT_ID",
            idguard_sim::DEMO_CLIENT_ID,
        )
        .env(
            "INFISICAL_UNIVERSAL_AUTH_CLIENT_SECRET",
            idguard_sim::DEMO_CLIENT_SECRET,
        );
    let output = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    assert!(
        matches!(output.status.code(), Some(0 | 1)),
        "stderr: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let log = server.handle().request_log();
    assert!(
        log.iter()
            .any(|r| r.path.ends_with("/login") && r.status == 200)
    );
    assert!(out.join("report.json").exists());
}
