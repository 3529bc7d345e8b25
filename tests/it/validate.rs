//! `idguard validate` as a person sees it: warnings and errors, each with file:line:column and
//! the source line, in one snapshot; warnings alone keep exit 0.

use crate::support::idguard;

/// A policy with every warning (an expired exemption, max_ttl above max_max_ttl, allowed CIDRs
/// of every address, a duration without a unit, an exemption by name) and one misspelt key.
const EVERY_WARNING: &str = "\
version: 1
rules:
  - id: token-lifetime
    access_token:
      max_ttl: 48h
      max_max_ttl: 24h
  - id: token-uses
    access_token:
      max_ttl: 90
      max_uses: 1000
  - id: network
    trusted_ips:
      allowed_cidrs: [10.0.0.0/8, 0.0.0.0/0, \"::/0\"]
      fallback_cidr: [10.0.0.0/8]
exemptions:
  - identity: legacy-vendor-agent
    rules: [token-lifetime]
    reason: Vendor agent cannot renew tokens.
    expires: 2024-06-30
";

/// Runs `idguard validate policy.yaml` in a folder holding `text` as policy.yaml, so the
/// path in the output is the same on every machine. Returns the exit code and stderr.
fn validate(text: &str, extra: &[&str]) -> (i32, String) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("policy.yaml"), text).unwrap();
    let out = idguard()
        .current_dir(dir.path())
        .args(extra)
        .args(["validate", "policy.yaml"])
        .output()
        .unwrap();
    (
        out.status.code().expect("exited"),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Every warning and the misspelt key's error ("did you mean"), in file order, each with its
/// position and source line; the misspelling makes it exit 65 and adds no second error.
#[test]
fn warnings_and_errors_as_printed() {
    let (code, stderr) = validate(EVERY_WARNING, &[]);
    assert_eq!(code, 65, "{stderr}");
    insta::assert_snapshot!("every_warning_and_a_misspelt_key", stderr);
}

/// Warnings alone leave the policy valid (exit 0, counted in the summary line); `--quiet`
/// prints none of them.
#[test]
fn warnings_alone_exit_0_and_quiet_hides_them() {
    let fixed = EVERY_WARNING.replace("fallback_cidr:", "fallback_cidrs:");
    let (code, stderr) = validate(&fixed, &[]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        stderr.matches("warning: policy.yaml:").count(),
        6,
        "{stderr}"
    );
    assert!(
        stderr.ends_with(
            "policy.yaml: valid policy with 3 rule(s) and 1 exemption(s); 6 warning(s)\n"
        ),
        "{stderr}"
    );
    let (code, stderr) = validate(&fixed, &["--quiet"]);
    assert_eq!((code, stderr.as_str()), (0, ""));
}
