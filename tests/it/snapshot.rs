//! `idguard snapshot` and `idguard audit --snapshot`: a snapshot of a simulator org (some
//! configs unreadable) audited with no server at all gives the live audit's results, finding
//! ids and exit code; the file holds no secret and is owner-only; a corrupt file is exit 65;
//! a listing that fails partway gives an incomplete snapshot and exit 2 both times.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::process::Output;

use idguard_sim::{self as sim, AuditLogs, FaultKind, Faults, Sim, SimConfig};
use serde_json::Value;

use crate::interrupt::{finish, interrupt, until};
use crate::remediate::{read_json, stderr};
use crate::support::{audit, idguard, policy_path, results, start_sim};

/// A closed port: any request of an offline audit would fail there.
const NOWHERE: &str = "http://127.0.0.1:9";

/// `idguard snapshot <extra> --out <path>` against `url` with the demo credentials.
fn snapshot_command(url: &str, path: &Path, extra: &[&str]) -> std::process::Command {
    let mut cmd = idguard();
    cmd.arg("snapshot")
        .args(extra)
        .arg("--out")
        .arg(path)
        .env("INFISICAL_DOMAIN", url)
        .env("INFISICAL_UNIVERSAL_AUTH_CLIENT_ID", sim::DEMO_CLIENT_ID)
        .env(
            "INFISICAL_UNIVERSAL_AUTH_CLIENT_SECRET",
            sim::DEMO_CLIENT_SECRET,
        );
    cmd
}

/// Runs `idguard snapshot --max-retries 0 --out <path>` against `url`, off the runtime.
async fn take_snapshot(url: &str, path: &Path) -> Output {
    let mut cmd = snapshot_command(url, path, &["--max-retries", "0"]);
    tokio::task::spawn_blocking(move || cmd.output().expect("binary runs"))
        .await
        .expect("join")
}

/// Runs `idguard audit --snapshot <snapshot> --out <out> <extra>` (example policy) with no
/// credentials and `INFISICAL_DOMAIN` on a closed port.
fn offline_audit(snapshot: &Path, out: &Path, extra: &[&str]) -> Output {
    offline_audit_with(&policy_path("example.yaml"), snapshot, out, extra)
}

/// [`offline_audit`] with this policy.
fn offline_audit_with(policy: &Path, snapshot: &Path, out: &Path, extra: &[&str]) -> Output {
    idguard()
        .arg("audit")
        .arg("--policy")
        .arg(policy)
        .arg("--snapshot")
        .arg(snapshot)
        .arg("--out")
        .arg(out)
        .args(extra)
        .env("INFISICAL_DOMAIN", NOWHERE)
        .output()
        .expect("binary runs")
}

/// Results by finding id.
fn by_id(report: &Value) -> BTreeMap<String, Value> {
    results(report)
        .iter()
        .map(|r| (r["finding_id"].as_str().expect("id").to_owned(), r.clone()))
        .collect()
}

/// The simulator's stored secrets (LDAP `bindPass`, Kubernetes `tokenReviewerJwt`), after
/// giving the first identities of each method a recognisable one.
pub(crate) fn secrets(sim: &Sim) -> Vec<String> {
    let mut found = Vec::new();
    for id in sim.identity_ids() {
        for method in sim.auth_methods(&id) {
            let field = match method.to_string().as_str() {
                "ldap-auth" => "bindPass",
                "kubernetes-auth" => "tokenReviewerJwt",
                _ => continue,
            };
            let secret = format!("s3cret-{field}-{id}");
            sim.set_config_field(&id, &method, field, Value::from(secret.clone()));
            found.push(secret);
        }
    }
    found
}

/// Snapshot with unreadable configs, audited offline: the live audit's results field by
/// field (finding ids, statuses, the `error` results of the same configs), exit code and
/// counts; the manifest says where it came from; no secret in the file; mode 0600;
/// `--baseline` works offline.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offline_audit_of_a_snapshot_is_the_live_audit() {
    let server = start_sim(SimConfig {
        identities: 40,
        // No usage evidence live either: both runs judge trusted-IP narrowings without it.
        audit_logs: AuditLogs::Disabled,
        ..SimConfig::default()
    })
    .await;
    let sim = server.handle();
    let url = server.url();
    let stored = secrets(&sim);
    assert!(!stored.is_empty(), "the org has LDAP or Kubernetes configs");
    // Deterministic faults (a seeded rate draws in request order, which concurrency changes):
    // 403 on two identities, 500 on a third, on every GET of both runs.
    let ids = sim.identity_ids();
    let with_methods: Vec<&String> = ids
        .iter()
        .filter(|id| !sim.auth_methods(id).is_empty())
        .collect();
    sim.set_faults(Faults {
        forbidden: with_methods[..2].iter().map(|s| (*s).clone()).collect(),
        always_fail: HashSet::from([with_methods[2].clone()]),
        ..Faults::default()
    });

    let tmp = tempfile::tempdir().expect("tempdir");
    let snap = tmp.path().join("s.json");
    let taken = take_snapshot(&url, &snap).await;
    assert_eq!(taken.status.code(), Some(2), "{}", stderr(&taken));
    let live = audit(&url, &["--max-retries", "0"]).await;
    server.shutdown().await;

    let text = std::fs::read_to_string(&snap).expect("snapshot written");
    for secret in stored
        .iter()
        .map(String::as_str)
        .chain([sim::DEMO_CLIENT_SECRET])
    {
        assert!(!text.contains(secret), "{secret} in the snapshot");
    }
    assert!(text.contains(r#""redacted":true"#));
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&snap)
        .expect("exists")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let file = read_json(&snap);
    assert_eq!(file["schema_version"], 1);
    assert_eq!(file["manifest"]["complete"], true);
    assert!(file["manifest"]["errors"].as_u64() >= Some(3), "{file:#}");

    let out = tmp.path().join("offline");
    let offline = offline_audit(&snap, &out, &[]);
    assert_eq!(
        offline.status.code(),
        Some(live.code()),
        "{}",
        stderr(&offline)
    );
    assert_eq!(
        live.code(),
        2,
        "the unreadable configs make both incomplete"
    );
    assert!(
        stderr(&offline).contains("  offline: from the snapshot "),
        "the summary says where the run came from: {}",
        stderr(&offline)
    );
    let off_report = read_json(&out.join("report.json"));
    let live_report = live.report();
    let (off, on) = (by_id(&off_report), by_id(&live_report));
    assert_eq!(
        off.keys().collect::<Vec<_>>(),
        on.keys().collect::<Vec<_>>()
    );
    assert!(off.values().any(|r| r["status"] == "error"));
    for (id, result) in &on {
        assert_eq!(&off[id], result, "result {id}");
    }
    assert_eq!(off_report["summary"], live_report["summary"]);
    let run = &off_report["run"];
    assert_eq!(run["source"], "snapshot");
    assert_eq!(live_report["run"]["source"], "live");
    assert_eq!(run["snapshot"]["path"], snap.display().to_string());
    assert_eq!(run["snapshot"]["taken_at"], file["manifest"]["started_at"]);
    assert_eq!(run["org_id"], live_report["run"]["org_id"]);
    assert_eq!(run["api_url"], file["manifest"]["api_url"]);
    assert_eq!(run["api"]["requests"], 0);
    assert_eq!(run["complete"], false);

    // --baseline: the live run as the previous one; nothing is new.
    let again = tmp.path().join("again");
    let baseline = live.out_dir.join("report.json");
    let base_arg = baseline.to_str().expect("utf-8");
    let with_base = offline_audit(&snap, &again, &["--baseline", base_arg]);
    assert_eq!(with_base.status.code(), Some(2), "{}", stderr(&with_base));
    let diff = read_json(&again.join("diff.json"));
    assert_eq!(diff["new_or_regressed"], false, "{diff:#}");
    assert_eq!(diff["new_failures"].as_array().map(Vec::len), Some(0));
    let report = read_json(&again.join("report.json"));
    let failing: Vec<&Value> = results(&report)
        .iter()
        .filter(|r| r["status"] == "fail")
        .collect();
    assert!(!failing.is_empty());
    for r in failing {
        assert!(r["baseline"].is_string(), "{r:#}");
        assert_ne!(r["baseline"], "new-failure", "{r:#}");
    }
}

/// A corrupt or foreign file is refused with exit 65 and a message naming it; never a panic.
#[test]
fn a_corrupt_snapshot_is_exit_65() {
    let tmp = tempfile::tempdir().expect("tempdir");
    for (name, body) in [
        (
            "cut.json",
            r#"{"schema_version": 1, "kind": "idguard-snaps"#,
        ),
        ("other.json", r#"{"schema_version": 1, "kind": "report"}"#),
        (
            "bad.json",
            r#"{"schema_version": 1, "kind": "idguard-snapshot", "manifest": {"api_url": 3}}"#,
        ),
    ] {
        let path = tmp.path().join(name);
        std::fs::write(&path, body).expect("written");
        let out = offline_audit(&path, &tmp.path().join(format!("out-{name}")), &[]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(65), "{err}");
        assert!(err.contains("is not a valid idguard snapshot"), "{err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}

/// A listing that fails partway: the snapshot is written marked incomplete (exit 2), and an
/// audit of it is incomplete too (exit 2, `run.complete: false`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_incomplete_snapshot_stays_incomplete() {
    let server = start_sim(SimConfig::default()).await;
    server.handle().set_faults(Faults {
        rate: 1.0,
        kinds: vec![FaultKind::ServerError],
        listing: true,
        ..Faults::default()
    });
    let tmp = tempfile::tempdir().expect("tempdir");
    let snap = tmp.path().join("s.json");
    let taken = take_snapshot(&server.url(), &snap).await;
    server.shutdown().await;
    assert_eq!(taken.status.code(), Some(2), "{}", stderr(&taken));
    let file = read_json(&snap);
    assert_eq!(file["manifest"]["complete"], false);
    assert!(
        file["manifest"]["incomplete_reason"]
            .as_str()
            .is_some_and(|r| r.contains("listing failed")),
        "{file:#}"
    );
    let out = tmp.path().join("out");
    let offline = offline_audit(&snap, &out, &[]);
    assert_eq!(offline.status.code(), Some(2), "{}", stderr(&offline));
    let report = read_json(&out.join("report.json"));
    assert_eq!(report["run"]["complete"], false);
}

/// Exemption expiry is judged at the snapshot's time: an exemption that expires between the
/// snapshot and a later date holds for the snapshot, and is expired for the same file dated
/// after it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offline_audit_is_judged_at_the_snapshot_time() {
    let server = start_sim(SimConfig::default()).await;
    let tmp = tempfile::tempdir().expect("tempdir");
    let snap = tmp.path().join("s.json");
    let taken = take_snapshot(&server.url(), &snap).await;
    server.shutdown().await;
    assert_eq!(taken.status.code(), Some(0), "{}", stderr(&taken));
    let mut file = read_json(&snap);
    let name = file["identities"][0]["name"]
        .as_str()
        .expect("a name")
        .to_owned();
    let mut policy = std::fs::read_to_string(policy_path("example.yaml")).expect("policy");
    policy.push_str(&format!(
        "  - identity: {name}\n    reason: test\n    owner: a@example.com\n    expires: 2090-01-01\n"
    ));
    let policy_file = tmp.path().join("policy.yaml");
    std::fs::write(&policy_file, policy).expect("written");

    let now = offline_audit_with(&policy_file, &snap, &tmp.path().join("now"), &[]);
    let now_err = stderr(&now);
    assert!(!now_err.contains("expired exemption"), "{now_err}");

    file["manifest"]["started_at"] = Value::from("2095-01-01T00:00:00Z");
    let later = tmp.path().join("later.json");
    std::fs::write(&later, file.to_string()).expect("written");
    let run = offline_audit_with(&policy_file, &later, &tmp.path().join("later"), &[]);
    let err = stderr(&run);
    assert!(
        err.contains(&format!("expired exemption: `{name}`")),
        "{err}"
    );
    let report = read_json(&tmp.path().join("later/report.json"));
    assert_eq!(
        report["run"]["snapshot"]["taken_at"],
        "2095-01-01T00:00:00Z"
    );
}

/// Ctrl-C while the configs are read: no further request, the file is written marked
/// incomplete with the configs not read recorded as such, exit 130.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_writes_an_incomplete_snapshot() {
    let server = start_sim(SimConfig::default()).await;
    let sim = server.handle();
    let tmp = tempfile::tempdir().expect("tempdir");
    let snap = tmp.path().join("s.json");
    let child = snapshot_command(&server.url(), &snap, &["--read-rate", "10"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("idguard starts");
    let gets = || {
        sim.request_log()
            .iter()
            .filter(|r| r.method == "GET" && r.path.starts_with("/api/v1/auth/"))
            .count()
    };
    until("a few config GETs", || gets() >= 3).await;
    interrupt(&child);
    let out = finish(child).await;
    server.shutdown().await;
    assert_eq!(out.status.code(), Some(130), "{}", stderr(&out));
    let file = read_json(&snap);
    assert_eq!(file["manifest"]["complete"], false);
    let reason = file["manifest"]["incomplete_reason"].as_str().unwrap_or("");
    assert!(reason.contains("Ctrl-C"), "{reason}");
    let not_read = file["identities"]
        .as_array()
        .expect("identities")
        .iter()
        .flat_map(|i| i["configs"].as_object().expect("configs").values())
        .filter(|c| c["error"].as_str().is_some_and(|e| e.contains("Ctrl-C")))
        .count();
    assert!(not_read > 0, "{file:#}");
}
