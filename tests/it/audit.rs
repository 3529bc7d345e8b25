//! The real binary audits the simulated Infisical end to end: reports match the generator's
//! ground truth, nothing is dropped under faults, tokens are renewed, 429s are waited for, and
//! the README's exit codes hold for bad policies, URLs and credentials.

use std::collections::BTreeSet;
use std::time::Duration;

use idguard_sim::{FaultKind, Faults, RateLimit, SimConfig};
use serde_json::Value;

use crate::support::{audit, audit_with, configured, idguard, policy_path, results, start_sim};

type Key = (String, String, String);

fn failing(report: &Value) -> BTreeSet<Key> {
    results(report)
        .iter()
        .filter(|r| r["status"] == "fail" || r["status"] == "exempt")
        .map(|r| {
            (
                r["identity_id"].as_str().unwrap().to_owned(),
                r["auth_method"].as_str().unwrap().to_owned(),
                r["rule"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn audited_pairs(report: &Value) -> BTreeSet<(String, String)> {
    results(report)
        .iter()
        .map(|r| {
            (
                r["identity_id"].as_str().unwrap().to_owned(),
                r["auth_method"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// A 500-identity org: the failing results are exactly the violations the generator planted,
/// exemptions apply (expired ones do not: `expired_exemptions_are_listed_and_not_applied`),
/// every configured method of every identity, project-scoped ones included, is in the report,
/// and the exit code is 1.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_matches_the_generators_ground_truth() {
    let server = start_sim(SimConfig {
        identities: 500,
        ..SimConfig::default()
    })
    .await;
    let sim = server.handle();
    let run = audit(&server.url(), &[]).await;
    assert_eq!(run.code(), 1, "stderr: {}", run.stderr());
    let report = run.report();

    let want: BTreeSet<Key> = sim
        .planted()
        .iter()
        .map(|p| {
            (
                p.identity_id.clone(),
                p.method.to_string(),
                p.kind.rule_id().to_owned(),
            )
        })
        .collect();
    assert!(
        want.len() > 100,
        "the generator planted {} violations",
        want.len()
    );
    assert_eq!(failing(&report), want);

    let statuses: BTreeSet<(String, String)> = results(&report)
        .iter()
        .filter(|r| r["status"] == "exempt")
        .map(|r| {
            (
                r["identity_name"].as_str().unwrap().to_owned(),
                r["rule"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert!(statuses.contains(&(
        "legacy-vendor-agent".to_owned(),
        "token-lifetime".to_owned()
    )));

    let audited = audited_pairs(&report);
    assert_eq!(
        audited,
        configured(&sim, true),
        "every configured method of every identity is audited"
    );
    let project_scoped: Vec<String> = sim
        .identity_ids()
        .into_iter()
        .filter(|id| sim.project_id(id).is_some() && !sim.auth_methods(id).is_empty())
        .collect();
    assert!(!project_scoped.is_empty());
    assert!(
        project_scoped
            .iter()
            .all(|id| audited.iter().any(|(a, _)| a == id)),
        "project-scoped identities audited"
    );

    assert_eq!(report["run"]["complete"], true);
    assert_eq!(report["run"]["exit_code"], 1);
    assert_eq!(report["summary"]["error"], 0);
    assert_eq!(report["schema_version"], 1);
    let csv_rows = csv::Reader::from_path(run.out_dir.join("report.csv"))
        .unwrap()
        .records()
        .count();
    let violations: usize = results(&report)
        .iter()
        .map(|r| r["violations"].as_array().map_or(0, Vec::len).max(1))
        .sum();
    assert_eq!(
        csv_rows, violations,
        "one CSV row per violation, one per result without any"
    );
}

/// With 10% of config requests faulted (5xx, HTML pages, truncated bodies, dropped
/// connections), every configured method is still in the report: evaluated after retries, or
/// `error` with exit code 2. Identities whose GET always fails are `error`, never dropped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_never_drop_an_identity() {
    let server = start_sim(SimConfig {
        identities: 300,
        ..SimConfig::default()
    })
    .await;
    let sim = server.handle();
    let victim = sim
        .identity_ids()
        .into_iter()
        .find(|id| !sim.auth_methods(id).is_empty())
        .expect("an identity with a method");
    sim.set_faults(Faults {
        rate: 0.1,
        kinds: vec![
            FaultKind::ServerError,
            FaultKind::HtmlPage,
            FaultKind::Truncated,
            FaultKind::DropConnection,
        ],
        always_fail: [victim.clone()].into_iter().collect(),
        ..Faults::default()
    });
    let run = audit(&server.url(), &["--max-retries", "6"]).await;
    assert_eq!(run.code(), 2, "stderr: {}", run.stderr());
    let report = run.report();
    assert_eq!(audited_pairs(&report), configured(&sim, true));
    let errors: Vec<&Value> = results(&report)
        .iter()
        .filter(|r| r["status"] == "error")
        .collect();
    assert!(!errors.is_empty());
    assert!(
        errors.iter().all(|r| r["identity_id"] == victim.as_str()),
        "only the victim errs after retries"
    );
    assert!(report["run"]["api"]["retries"].as_u64().unwrap() > 0);
    assert_eq!(report["run"]["complete"], false);
    assert_eq!(report["run"]["exit_code"], 2);
}

/// The simulator's tokens live one second; an audit that takes longer logs in again
/// transparently and finishes with no errors.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expiring_token_is_renewed_mid_run() {
    let server = start_sim(SimConfig {
        identities: 150,
        token_ttl: Duration::from_secs(1),
        latency: Duration::from_millis(15),
        ..SimConfig::default()
    })
    .await;
    let run = audit(&server.url(), &["--concurrency", "4"]).await;
    assert_eq!(run.code(), 1, "stderr: {}", run.stderr());
    assert_eq!(run.report()["summary"]["error"], 0);
    let logins = server
        .handle()
        .request_log()
        .iter()
        .filter(|r| r.path.ends_with("/universal-auth/login") && r.status == 200)
        .count();
    assert!(logins >= 2, "expected a re-login, saw {logins} logins");
}

/// A server that answers 429 (30 reads per second) is waited for: the run completes with no
/// error and counts the 429s in run.api.rate_limited.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limited_server_is_waited_for() {
    let server = start_sim(SimConfig {
        identities: 60,
        rate_limit: Some(RateLimit {
            reads: 30,
            writes: 30,
            window: Duration::from_secs(1),
            retry_after_header: true,
        }),
        ..SimConfig::default()
    })
    .await;
    let run = audit(&server.url(), &[]).await;
    assert_eq!(run.code(), 1, "stderr: {}", run.stderr());
    let report = run.report();
    assert_eq!(report["summary"]["error"], 0);
    assert!(
        report["run"]["api"]["rate_limited"].as_u64().unwrap() > 0,
        "the server did rate-limit"
    );
}

/// An October-2024 server (no v2 search, `authMethod`, no /identities/details) is audited
/// through the fallbacks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn legacy_server_is_audited_through_fallbacks() {
    let server = start_sim(SimConfig {
        identities: 80,
        legacy: true,
        ..SimConfig::default()
    })
    .await;
    let sim = server.handle();
    let org = sim.org_id();
    let run = audit(&server.url(), &["--org-id", &org]).await;
    assert!(matches!(run.code(), 0 | 1), "stderr: {}", run.stderr());
    assert_eq!(audited_pairs(&run.report()), configured(&sim, false));
}

/// A bad policy exits 65 and lists every problem with line:column.
#[test]
fn bad_policy_exits_65_with_every_error_located() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.yaml");
    std::fs::write(
        &path,
        "version: 1\nrules:\n  - id: Bad_Id\n    access_token:\n      max_ttl: 1 fortnight\n    colour: red\n",
    )
    .unwrap();
    let out = idguard().arg("validate").arg(&path).output().unwrap();
    assert_eq!(out.status.code(), Some(65));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let located = stderr.lines().filter(|l| l.contains("bad.yaml:")).count();
    assert!(located >= 3, "every error with its location:\n{stderr}");
    assert!(
        stderr.contains(":3:") && stderr.contains(":5:") && stderr.contains(":6:"),
        "{stderr}"
    );

    let out = idguard()
        .arg("validate")
        .arg(policy_path("example.yaml"))
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A URL where nothing listens exits 69.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_server_exits_69() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let run = audit(&url, &["--max-retries", "1", "--timeout", "2"]).await;
    assert_eq!(run.code(), 69, "stderr: {}", run.stderr());
}

/// Bad credentials exit 77 with a hint naming the environment variables, and the secret
/// appears nowhere in the output.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_credentials_exit_77_without_leaking_the_secret() {
    let server = start_sim(SimConfig::default()).await;
    let secret = "s3cr3t-VALUE-that-must-not-leak";
    let run = audit_with(
        &server.url(),
        &["--log-level", "debug"],
        idguard_sim::DEMO_CLIENT_ID,
        secret,
    )
    .await;
    assert_eq!(run.code(), 77, "stderr: {}", run.stderr());
    let stderr = run.stderr();
    assert!(
        stderr.contains("INFISICAL_UNIVERSAL_AUTH_CLIENT_SECRET"),
        "{stderr}"
    );
    assert!(!stderr.contains(secret) && !run.stdout().contains(secret));
    assert!(!run.all_files().contains(secret));
    let logins = server
        .handle()
        .request_log()
        .iter()
        .filter(|r| r.path.ends_with("/login"))
        .count();
    assert_eq!(logins, 1, "bad credentials are not retried (lockout)");
}
