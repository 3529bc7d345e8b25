//! Local input files read through a size cap: an endless or huge policy, plan, journal or
//! token file is refused with its path and exit 65, never read into memory or aborted on.

use crate::support::idguard;

/// `/dev/zero` as a policy, plan, journal or token file: exit 65 naming the file.
#[cfg(unix)]
#[test]
fn endless_input_files_are_refused() {
    let cases: [&[&str]; 5] = [
        &["validate", "/dev/zero"],
        &["apply", "/dev/zero", "--yes"],
        &["rollback", "/dev/zero"],
        &[
            "audit",
            "--policy",
            "policies/example.yaml",
            "--token-file",
            "/dev/zero",
        ],
        &[
            "audit",
            "--policy",
            "policies/example.yaml",
            "--ca-cert",
            "/dev/zero",
        ],
    ];
    for args in cases {
        let o = idguard()
            .args(args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .env("INFISICAL_DOMAIN", "http://127.0.0.1:9")
            .env("INFISICAL_TOKEN", "not-a-real-token")
            .output()
            .expect("binary runs");
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(65), "{args:?}: {err}");
        assert!(err.contains("/dev/zero"), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
}

/// A base URL idguard would refuse is a usage error (64) found before anything is sent: a
/// scheme other than http(s), a query, user info (never echoed), plain http to a name under
/// `localhost`.
#[test]
fn bad_api_urls_are_usage_errors() {
    for url in [
        "ftp://infisical.example.com",
        "https://infisical.example.com/?x=1",
        "https://admin:s3cret@infisical.example.com",
        "http://evil.localhost:8080",
        "not a url",
    ] {
        let o = idguard()
            .args([
                "audit",
                "--policy",
                "policies/example.yaml",
                "--api-url",
                url,
            ])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .env("INFISICAL_TOKEN", "not-a-real-token")
            .output()
            .expect("binary runs");
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(64), "{url}: {err}");
        assert!(!err.contains("s3cret"), "{url}: {err}");
    }
}
