//! Usage evidence against the simulator: stale identities from the listing's last logins, and
//! trusted-IP narrowings held back when the organization's audit log shows an address in use
//! that the narrowed list would cut off.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use idguard_sim::{
    AuditLogs, AuthMethod, IdentitySpec, LastLogin, Sim, SimConfig, UsageActor, UsageEvent,
    baseline_config,
};
use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};

use crate::remediate::{args, read_json, run, stderr};
use crate::support::{results, start_sim};

const DAY: i64 = 86_400;

/// A policy file in `dir` with these rules.
fn policy(dir: &Path, rules: &str) -> PathBuf {
    let path = dir.join("policy.yaml");
    std::fs::write(&path, format!("version: 1\nrules:\n{rules}")).unwrap();
    path
}

const STALE: &str = "  - id: stale\n    severity: low\n    usage: { max_idle: 90d }\n";
const NETWORK: &str = "  - id: network\n    severity: critical\n    trusted_ips:\n      allowed_cidrs: [10.0.0.0/8, \"fd00::/8\"]\n";

fn days_ago(sim: &Sim, days: i64) -> Timestamp {
    sim.now() - SignedDuration::from_secs(days * DAY)
}

/// An identity with one method whose config is the compliant baseline with `fields` set.
fn add(sim: &Sim, name: &str, method: AuthMethod, fields: Value) -> String {
    let mut config = baseline_config(&method);
    if let (Some(c), Some(f)) = (config.as_object_mut(), fields.as_object()) {
        c.extend(f.clone());
    }
    sim.add_identity(IdentitySpec {
        name: name.into(),
        project_id: None,
        methods: vec![(method, Some(config))],
    })
}

fn open_network() -> Value {
    json!({"accessTokenTrustedIps": [
        {"ipAddress": "0.0.0.0", "type": "ipv4", "prefix": 0}]})
}

fn used(sim: &Sim, id: &str, ip: &str, days: i64, event: &str, actor: UsageActor) {
    let ip: IpAddr = ip.parse().unwrap();
    assert!(sim.add_usage_event(UsageEvent {
        identity_id: id.into(),
        event_type: event.into(),
        actor,
        ip: Some(ip),
        at: days_ago(sim, days),
    }));
}

/// The status of `rule` for the identity named `name`.
fn status_of<'r>(report: &'r Value, name: &str, rule: &str) -> &'r str {
    results(report)
        .iter()
        .find(|r| r["identity_name"] == name && r["rule"] == rule)
        .and_then(|r| r["status"].as_str())
        .unwrap_or_else(|| panic!("no `{rule}` result for {name}"))
}

async fn sim(legacy: bool) -> idguard_sim::SimServer {
    start_sim(SimConfig {
        identities: 1,
        legacy,
        ..SimConfig::default()
    })
    .await
}

/// Last login 200 days ago, and never logged in but added two years ago: fail; added five
/// days ago, or logged in yesterday: pass. A server without last logins gives `error`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_identities_fail_fresh_ones_pass() {
    let server = sim(false).await;
    let s = server.handle();
    let login = |days| {
        Some(LastLogin {
            at: days_ago(&s, days),
            method: AuthMethod::Aws,
        })
    };
    for (name, last, created) in [
        ("idle-200d", login(200), 400),
        ("never-old", None, 730),
        ("never-new", None, 5),
        ("yesterday", login(1), 400),
    ] {
        let id = add(&s, name, AuthMethod::Aws, json!({}));
        s.set_last_login(&id, last);
        s.set_created_at(&id, days_ago(&s, created));
    }
    let tmp = tempfile::tempdir().unwrap();
    let p = policy(tmp.path(), STALE).display().to_string();
    let out = tmp.path().join("run");
    let o = run(&server.url(), args(&["audit", "--policy", &p], &out)).await;
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let report = read_json(&out.join("report.json"));
    assert_eq!(status_of(&report, "idle-200d", "stale"), "fail");
    assert_eq!(status_of(&report, "never-old", "stale"), "fail");
    assert_eq!(status_of(&report, "never-new", "stale"), "pass");
    assert_eq!(status_of(&report, "yesterday", "stale"), "pass");
    let stale = results(&report)
        .iter()
        .find(|r| r["identity_name"] == "never-old")
        .unwrap();
    assert_eq!(stale["violations"][0]["check"], "max-idle");
    assert_eq!(stale["remediation"]["auto"], false);
    let plan_less_audit = &report["run"]["usage_evidence"];
    assert_eq!(plan_less_audit, "not-needed");

    let old = sim(true).await;
    add(&old.handle(), "anyone", AuthMethod::Aws, json!({}));
    let out = tmp.path().join("legacy");
    let o = run(&old.url(), args(&["audit", "--policy", &p], &out)).await;
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let report = read_json(&out.join("report.json"));
    let r = results(&report)
        .iter()
        .find(|r| r["identity_name"] == "anyone")
        .unwrap();
    assert_eq!(r["status"], "error");
    assert!(
        r["error"]
            .as_str()
            .unwrap()
            .contains("does not report last logins"),
        "{r}"
    );
}

/// The lockout acceptance: a token used from 203.0.113.7 three days ago keeps `0.0.0.0/0`
/// after `remediate --apply` and the output names the address; one used only from 10.1.2.3 is
/// narrowed to 10.0.0.0/8; one last seen outside the policy 45 days ago (before the 30-day
/// window) is narrowed; an AWS identity whose only evidence is a login with an unknown-user
/// actor (the identity in the event's metadata) from outside keeps its network.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn narrowing_never_cuts_off_an_address_in_use() {
    let server = sim(false).await;
    let s = server.handle();
    let outside = add(&s, "in-use-outside", AuthMethod::Universal, open_network());
    used(
        &s,
        &outside,
        "203.0.113.7",
        3,
        "get-secrets",
        UsageActor::Identity,
    );
    used(
        &s,
        &outside,
        "10.9.9.9",
        1,
        "get-secrets",
        UsageActor::Identity,
    );
    let inside = add(&s, "in-use-inside", AuthMethod::Universal, open_network());
    used(
        &s,
        &inside,
        "10.1.2.3",
        2,
        "get-secrets",
        UsageActor::Identity,
    );
    let long_ago = add(&s, "seen-long-ago", AuthMethod::Universal, open_network());
    used(
        &s,
        &long_ago,
        "198.51.100.9",
        45,
        "get-secrets",
        UsageActor::Identity,
    );
    let aws = add(&s, "aws-login-only", AuthMethod::Aws, open_network());
    used(
        &s,
        &aws,
        "192.0.2.44",
        6,
        "login-identity-aws-auth",
        UsageActor::UnknownUser,
    );

    let tmp = tempfile::tempdir().unwrap();
    let p = policy(tmp.path(), NETWORK).display().to_string();
    let out = tmp.path().join("run");
    let o = run(
        &server.url(),
        args(&["remediate", "--policy", &p, "--apply", "--yes"], &out),
    )
    .await;
    let err = stderr(&o);
    assert!(matches!(o.status.code(), Some(0 | 1)), "{err}");
    assert!(err.contains("203.0.113.7"), "the address is named: {err}");
    assert!(err.contains("192.0.2.44"), "the address is named: {err}");

    let ips = |id: &str, method: &AuthMethod| {
        s.config_json(id, method).unwrap()["accessTokenTrustedIps"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| format!("{}/{}", e["ipAddress"].as_str().unwrap(), e["prefix"]))
            .collect::<Vec<_>>()
    };
    assert_eq!(ips(&outside, &AuthMethod::Universal), ["0.0.0.0/0"]);
    assert_eq!(ips(&aws, &AuthMethod::Aws), ["0.0.0.0/0"]);
    assert_eq!(ips(&inside, &AuthMethod::Universal), ["10.0.0.0/8"]);
    assert_eq!(ips(&long_ago, &AuthMethod::Universal), ["10.0.0.0/8"]);

    let report = read_json(&out.join("report.json"));
    assert_eq!(report["run"]["usage_evidence"], "audit-logs");
    let held = results(&report)
        .iter()
        .find(|r| r["identity_name"] == "in-use-outside")
        .unwrap();
    assert_eq!(held["status"], "fail");
    assert_eq!(held["remediation"]["auto"], false);
    let reason = held["remediation"]["reason"].as_str().unwrap();
    assert!(
        reason.starts_with("in use from 203.0.113.7 (token, last seen "),
        "{reason}"
    );
    let evidence: Vec<&str> = held["usage_evidence"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["address"].as_str().unwrap())
        .collect();
    assert_eq!(evidence, ["10.9.9.9", "203.0.113.7"], "latest first");
    let plan = read_json(&out.join("plan.json"));
    let manual: Vec<&str> = plan["manual"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["identity_name"].as_str().unwrap())
        .collect();
    assert!(manual.contains(&"in-use-outside") && manual.contains(&"aws-login-only"));
}

/// A simulator with one identity `name` open to every address and used from 203.0.113.7
/// three days ago; a folder with the network policy (its path, the last value).
async fn one_in_use(
    name: &str,
) -> (
    idguard_sim::SimServer,
    Sim,
    String,
    tempfile::TempDir,
    String,
) {
    let server = sim(false).await;
    let s = server.handle();
    let id = add(&s, name, AuthMethod::Universal, open_network());
    used(
        &s,
        &id,
        "203.0.113.7",
        3,
        "get-secrets",
        UsageActor::Identity,
    );
    let tmp = tempfile::tempdir().unwrap();
    let p = policy(tmp.path(), NETWORK).display().to_string();
    (server, s, id, tmp, p)
}

/// Without an audit-log plan the log answers empty: the evidence is `unavailable` with the
/// reason, narrowing is planned as before, and `--require-usage-evidence` holds every
/// narrowing instead.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unavailable_evidence_is_said_and_can_be_required() {
    let (server, s, _, tmp, p) = one_in_use("open").await;
    s.set_audit_logs(AuditLogs::Disabled);

    let out = tmp.path().join("plain");
    let o = run(&server.url(), args(&["remediate", "--policy", &p], &out)).await;
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let report = read_json(&out.join("report.json"));
    assert_eq!(report["run"]["usage_evidence"], "unavailable");
    assert!(
        report["run"]["usage_evidence_reason"]
            .as_str()
            .unwrap()
            .contains("holds no event"),
        "{}",
        report["run"]
    );
    assert!(
        stderr(&o).contains("usage evidence unavailable"),
        "{}",
        stderr(&o)
    );
    let plan = read_json(&out.join("plan.json"));
    assert_eq!(plan["changes"].as_array().unwrap().len(), 1);

    let out = tmp.path().join("required");
    let o = run(
        &server.url(),
        args(
            &["remediate", "--policy", &p, "--require-usage-evidence"],
            &out,
        ),
    )
    .await;
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let plan = read_json(&out.join("plan.json"));
    assert!(plan["changes"].as_array().unwrap().is_empty(), "{plan}");
    let manual = &plan["manual"][0];
    assert!(
        manual["reason"]
            .as_str()
            .unwrap()
            .contains("--require-usage-evidence"),
        "{manual}"
    );
}

/// Evidence reads cost at most two requests per identity whose network a plan would narrow,
/// plus one to learn whether the log is usable (no identity here has more than a page).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn evidence_costs_two_reads_per_narrowed_identity() {
    let server = start_sim(SimConfig {
        identities: 1000,
        ..SimConfig::default()
    })
    .await;
    let s = server.handle();
    let tmp = tempfile::tempdir().unwrap();
    let p = policy(tmp.path(), NETWORK).display().to_string();
    let out = tmp.path().join("run");
    let o = run(&server.url(), args(&["remediate", "--policy", &p], &out)).await;
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let report = read_json(&out.join("report.json"));
    let narrowing: std::collections::BTreeSet<&str> = results(&report)
        .iter()
        .filter(|r| r["status"] == "fail")
        .filter(|r| r.get("usage_evidence").is_some() || r["remediation"]["auto"] == true)
        .map(|r| r["identity_id"].as_str().unwrap())
        .collect();
    assert!(narrowing.len() > 50, "{}", narrowing.len());
    let reads = s.audit_log_queries().len();
    assert!(
        reads <= 2 * narrowing.len() + 1,
        "{reads} audit-log reads for {} identities",
        narrowing.len()
    );
    let requests = report["run"]["api"]["requests"].as_u64().unwrap();
    assert!(requests > reads as u64);
}

/// A plan can be days old: `apply` reads the evidence again, and a change whose narrowing would
/// now cut off an address (first seen after the plan was made) is not written, and says why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_reads_the_evidence_again() {
    let server = sim(false).await;
    let s = server.handle();
    let id = add(&s, "quiet-then-busy", AuthMethod::Universal, open_network());
    used(&s, &id, "10.1.2.3", 2, "get-secrets", UsageActor::Identity);
    let tmp = tempfile::tempdir().unwrap();
    let p = policy(tmp.path(), NETWORK).display().to_string();
    let out = tmp.path().join("plan");
    let o = run(&server.url(), args(&["remediate", "--policy", &p], &out)).await;
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let plan = out.join("plan.json");
    assert_eq!(read_json(&plan)["changes"].as_array().unwrap().len(), 1);

    used(
        &s,
        &id,
        "203.0.113.8",
        0,
        "get-secrets",
        UsageActor::Identity,
    );
    let plan_arg = plan.display().to_string();
    let o = run(
        &server.url(),
        args(
            &["apply", &plan_arg, "--policy", &p, "--yes"],
            &tmp.path().join("apply"),
        ),
    )
    .await;
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(err.contains("in use from 203.0.113.8"), "{err}");
    assert!(err.contains("found when applying"), "{err}");
    assert!(
        crate::remediate::patches(&s).is_empty(),
        "nothing written: {err}"
    );
}

/// The demo org has network breakers in use from outside the example policy's CIDRs: an audit
/// says how many narrowings it leaves to a person, and report.md and report.html name the
/// addresses in use.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_org_shows_held_narrowings_in_every_report() {
    let server = start_sim(SimConfig::default()).await;
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("run");
    let example = crate::remediate::example();
    let o = run(
        &server.url(),
        args(
            &["audit", "--policy", &example, "--format", "json,md,html"],
            &out,
        ),
    )
    .await;
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("trusted-IP narrowing(s) left to a person"),
        "{err}"
    );
    for file in ["report.md", "report.html", "report.json"] {
        let text = std::fs::read_to_string(out.join(file)).unwrap();
        assert!(
            text.contains("in use from "),
            "{file} names no address in use"
        );
    }
    // The failing identities' last logins, as the listing reports them.
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(md.contains("| Remediation | Last login |"), "{md}");
    let year = server.handle().now().to_string()[..4].to_owned();
    let with_login = md
        .lines()
        .filter(|l| l.contains(&format!("| {year}-")) || l.contains("| never |"))
        .count();
    assert!(
        with_login > 10,
        "{with_login} failure rows show a last login"
    );
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("<th>Last login</th>"));
}

/// `audit --no-usage-evidence` reads no audit log: the narrowing an address in use would hold
/// is reported without the hold, and the run says why; `remediate` has no such flag, and
/// refuses it with `--require-usage-evidence` too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_audit_can_skip_usage_evidence_and_says_so() {
    let (server, s, id, tmp, p) = one_in_use("in-use").await;

    let held = tmp.path().join("held");
    let o = run(&server.url(), args(&["audit", "--policy", &p], &held)).await;
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let report = read_json(&held.join("report.json"));
    assert_eq!(report["run"]["usage_evidence"], "audit-logs");
    assert!(s.audit_log_queries().iter().any(|q| q.contains(&id)));

    let before = s.audit_log_queries().len();
    let out = tmp.path().join("skipped");
    let o = run(
        &server.url(),
        args(&["audit", "--policy", &p, "--no-usage-evidence"], &out),
    )
    .await;
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert_eq!(s.audit_log_queries().len(), before, "no audit-log read");
    let report = read_json(&out.join("report.json"));
    assert_eq!(report["run"]["usage_evidence"], "unavailable");
    assert_eq!(
        report["run"]["usage_evidence_reason"],
        "not read (--no-usage-evidence)"
    );
    assert!(
        stderr(&o).contains("narrowings are shown without holds"),
        "{}",
        stderr(&o)
    );
    let remediation = |report: &Value| {
        results(report)
            .iter()
            .find(|r| r["identity_name"] == "in-use" && r["rule"] == "network")
            .map(|r| r["remediation"]["auto"].clone())
            .unwrap()
    };
    assert_eq!(remediation(&report), true, "no hold without evidence");
    assert_eq!(
        remediation(&read_json(&held.join("report.json"))),
        false,
        "the hold with evidence"
    );

    for refused in [
        vec!["remediate", "--policy", &p, "--no-usage-evidence"],
        vec![
            "audit",
            "--policy",
            &p,
            "--no-usage-evidence",
            "--require-usage-evidence",
        ],
    ] {
        let o = run(&server.url(), args(&refused, &tmp.path().join("refused"))).await;
        assert_eq!(o.status.code(), Some(64), "{refused:?}: {}", stderr(&o));
    }
}
