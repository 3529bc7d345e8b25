//! `audit --incremental`: after a full run, changes made through the API (updates, a method
//! attached, one revoked) are the only configs the next run reads, and its report is the full
//! audit's; a change made behind the API's back (no audit event) is missed until the next full
//! sweep; without audit logs, or with a corrupt or foreign base, the run reads everything and
//! says why; configs unreadable in the base are read again; remediation plans from the same
//! data and its writes are followed.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::process::Output;

use idguard_sim::{self as sim, AuditLogs, AuthMethod, Faults, Sim, SimConfig};
use serde_json::{Value, json};

use crate::remediate::{command, patches, read_json, stderr};
use crate::support::{audit, idguard, login_token, policy_path, results, start_sim};

/// Runs `idguard audit --incremental <extra>` in `cwd` (its reports go under `cwd/reports/`)
/// with the demo credentials and the example policy; returns the output and the run's
/// report.json.
async fn incremental(url: &str, cwd: &Path, extra: &[&str]) -> (Output, Value) {
    incremental_with(&policy_path("example.yaml"), url, cwd, extra).await
}

/// [`incremental`] with this policy.
async fn incremental_with(policy: &Path, url: &str, cwd: &Path, extra: &[&str]) -> (Output, Value) {
    let policy = policy.display().to_string();
    let args: Vec<String> = ["audit", "--policy", &policy, "--incremental"]
        .iter()
        .chain(extra)
        .map(|s| s.to_string())
        .collect();
    let output = in_folder(command(url, args), cwd).await;
    let report = read_json(&cwd.join("reports/latest/report.json"));
    (output, report)
}

/// Runs `cmd` in `cwd`, off the runtime.
async fn in_folder(mut cmd: std::process::Command, cwd: &Path) -> Output {
    cmd.current_dir(cwd);
    tokio::task::spawn_blocking(move || cmd.output().expect("binary runs"))
        .await
        .expect("join")
}

/// The snapshot a run wrote (relative to its working folder).
fn written_snapshot(report: &Value) -> PathBuf {
    PathBuf::from(
        report["run"]["wrote_snapshot"]
            .as_str()
            .expect("run.wrote_snapshot"),
    )
}

/// Results by finding id.
fn by_id(report: &Value) -> BTreeMap<String, Value> {
    results(report)
        .iter()
        .map(|r| (r["finding_id"].as_str().expect("id").to_owned(), r.clone()))
        .collect()
}

/// The (identity, method) of every config GET the simulator answered.
fn config_reads(sim: &Sim) -> BTreeSet<(String, String)> {
    sim.request_log()
        .into_iter()
        .filter(|r| r.method == "GET" && r.path.starts_with("/api/v1/auth/"))
        .filter_map(|r| config_of(&r.path))
        .collect()
}

/// The (identity, method) of a config route's path.
fn config_of(path: &str) -> Option<(String, String)> {
    let segs: Vec<&str> = path.split('/').collect();
    match segs.as_slice() {
        ["", "api", "v1", "auth", method, "identities", id] => {
            Some(((*id).to_owned(), (*method).to_owned()))
        }
        _ => None,
    }
}

/// A simulator of `identities` identities (audit logs on), its handle and URL, and a working
/// folder for the runs.
async fn org(identities: usize) -> (idguard_sim::SimServer, Sim, String, tempfile::TempDir) {
    let server = start_sim(SimConfig {
        identities,
        ..SimConfig::default()
    })
    .await;
    let sim = server.handle();
    let url = server.url();
    (server, sim, url, tempfile::tempdir().expect("tempdir"))
}

/// The run read everything, for a reason that says `why`.
fn assert_full_because(run: &Value, out: &Output, why: &str) {
    assert_eq!(run["mode"], "full", "{}", stderr(out));
    assert!(
        run["mode_reason"].as_str().is_some_and(|r| r.contains(why)),
        "{run:#}"
    );
}

/// One request to the simulator's API with a bearer token; panics unless it succeeds.
async fn call(url: &str, token: &str, method: reqwest::Method, path: &str, body: Value) {
    let client = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client");
    let answer = client
        .request(method.clone(), format!("{url}{path}"))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .expect("request");
    let status = answer.status();
    let text = answer.text().await.unwrap_or_default();
    assert!(status.is_success(), "{method} {path}: {status} {text}");
}

/// The organization's identities other than the one idguard logs in as, with their methods
/// now.
fn others(sim: &Sim) -> Vec<(String, Vec<AuthMethod>)> {
    let me = sim.login_identity_id();
    sim.identity_ids()
        .into_iter()
        .filter(|id| *id != me && sim.project_id(id).is_none())
        .map(|id| {
            let methods = sim.auth_methods(&id);
            (id, methods)
        })
        .collect()
}

/// Results compared field by field, and the summaries and exit codes.
fn assert_same_audit(incremental: &Value, full: &Value) {
    let (inc, all) = (by_id(incremental), by_id(full));
    assert_eq!(
        inc.keys().collect::<Vec<_>>(),
        all.keys().collect::<Vec<_>>(),
        "the same results"
    );
    for (id, result) in &all {
        assert_eq!(&inc[id], result, "result {id}");
    }
    assert_eq!(incremental["summary"], full["summary"]);
    assert_eq!(incremental["run"]["exit_code"], full["run"]["exit_code"]);
}

/// The result of `rule` for `identity`'s `method` config.
fn result_of<'a>(report: &'a Value, identity: &str, method: &str, rule: &str) -> &'a Value {
    results(report)
        .iter()
        .find(|r| r["identity_id"] == identity && r["auth_method"] == method && r["rule"] == rule)
        .expect("the result is reported")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_what_changed_is_read_and_the_report_is_the_full_audit() {
    let (server, sim, url, cwd) = org(200).await;
    let stored = crate::snapshot::secrets(&sim);
    assert!(!stored.is_empty(), "the org has LDAP or Kubernetes secrets");

    // The first run has no base: it reads everything and writes the base of the next.
    let (first, report) = incremental(&url, cwd.path(), &[]).await;
    let run = &report["run"];
    assert_full_because(run, &first, "no earlier run");
    assert_eq!(run["reused_configs"], 0);
    let base = written_snapshot(&report);
    assert_eq!(
        read_json(&cwd.path().join(&base))["manifest"]["complete"],
        true
    );
    assert!(stderr(&first).contains(
        "  read: full: every config read from the server (incremental asked for: no earlier run"
    ));

    // Changes through the API: 25 updates, 2 methods attached, 1 revoked.
    let token = login_token(&url).await;
    let others = others(&sim);
    let mut changed: BTreeSet<(String, String)> = BTreeSet::new();
    let updatable = others.iter().flat_map(|(id, methods)| {
        methods
            .iter()
            .filter(|m| matches!(m, AuthMethod::Universal | AuthMethod::Token))
            .map(move |m| (id.clone(), m.clone()))
    });
    for (id, method) in updatable.take(25) {
        let path = format!("/api/v1/auth/{method}/identities/{id}");
        let body = json!({"accessTokenTTL": 86400, "accessTokenMaxTTL": 86400});
        call(&url, &token, reqwest::Method::PATCH, &path, body).await;
        changed.insert((id, method.to_string()));
    }
    assert_eq!(changed.len(), 25, "the org has 25 configs to update");
    let updated: BTreeSet<String> = changed.iter().map(|(id, _)| id.clone()).collect();
    let untouched = |id: &String| !updated.contains(id);
    let attach_to: Vec<&String> = others
        .iter()
        .filter(|(id, methods)| !methods.contains(&AuthMethod::Token) && untouched(id))
        .map(|(id, _)| id)
        .take(2)
        .collect();
    for id in &attach_to {
        let path = format!("/api/v1/auth/token-auth/identities/{id}");
        let body = json!({
            "accessTokenTTL": 2_592_000,
            "accessTokenMaxTTL": 2_592_000,
            "accessTokenNumUsesLimit": 0,
            "accessTokenTrustedIps": [{"ipAddress": "0.0.0.0/0"}],
        });
        call(&url, &token, reqwest::Method::POST, &path, body).await;
        changed.insert(((*id).clone(), "token-auth".to_owned()));
    }
    let (detached, detached_method) = others
        .iter()
        .find(|(id, methods)| methods.len() >= 2 && untouched(id) && !attach_to.contains(&id))
        .map(|(id, methods)| (id.clone(), methods[0].to_string()))
        .expect("an identity with two methods");
    let path = format!("/api/v1/auth/{detached_method}/identities/{detached}");
    call(&url, &token, reqwest::Method::DELETE, &path, json!({})).await;

    // The incremental run reads exactly the changed configs.
    sim.clear_request_log();
    let (second, report) = incremental(&url, cwd.path(), &[]).await;
    let run = &report["run"];
    assert_eq!(run["mode"], "incremental", "{}", stderr(&second));
    assert_eq!(run["base_snapshot"]["path"], base.display().to_string());
    assert_eq!(
        config_reads(&sim),
        changed,
        "config reads = the changed configs"
    );
    assert_eq!(run["reread_configs"], 27);
    let configs: u64 = sim
        .listed_identities()
        .values()
        .map(|m| m.len() as u64)
        .sum();
    assert_eq!(run["reused_configs"], configs - 27);
    assert!(run["change_events"].as_u64() >= Some(28), "{run:#}");
    assert!(
        !results(&report)
            .iter()
            .any(|r| r["identity_id"] == detached && r["auth_method"] == detached_method),
        "the revoked method is no longer audited"
    );
    assert!(
        stderr(&second).contains("  read: incremental: 27 config(s) read from the server"),
        "{}",
        stderr(&second)
    );
    let html = std::fs::read_to_string(cwd.path().join("reports/latest/report.html"))
        .expect("report.html");
    assert!(
        html.contains("<tr><th>read</th><td>incremental: 27 config(s) read"),
        "the report handed on says how it was read"
    );

    // The same as a full audit of the same state: results, finding ids, exit code.
    let full = audit(&url, &[]).await;
    assert_same_audit(&report, &full.report());
    assert_eq!(second.status.code(), Some(full.code()));
    // Neither snapshot holds a secret: the base's redacted configs are carried over as they
    // are, the configs read again are redacted when recorded.
    for written in [base.clone(), written_snapshot(&report)] {
        let text = std::fs::read_to_string(cwd.path().join(&written)).expect("snapshot");
        for secret in stored
            .iter()
            .map(String::as_str)
            .chain([sim::DEMO_CLIENT_SECRET])
        {
            assert!(!text.contains(secret), "{secret} in {}", written.display());
        }
        assert!(text.contains(r#""redacted":true"#));
    }
    let (id, method) = changed.iter().next().expect("a change");
    assert_eq!(
        result_of(&report, id, method, "token-lifetime")["status"],
        "fail",
        "an update made through the API is seen"
    );
    server.shutdown().await;
}

/// A change the audit log never hears of (the simulator's own hook, as a database edit or a
/// restore from backup would be) is missed by an incremental run, which trusts the feed; the
/// next full sweep (`--max-base-age`, here 0) catches it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_without_an_audit_event_waits_for_the_full_sweep() {
    let (server, sim, url, cwd) = org(40).await;
    let (_, report) = incremental(&url, cwd.path(), &[]).await;
    assert_eq!(report["run"]["mode"], "full");
    let me = sim.login_identity_id();
    let (id, method) = results(&report)
        .iter()
        .filter(|r| r["identity_id"] != me.as_str())
        .filter(|r| r["rule"] == "token-lifetime" && r["status"] == "pass")
        .filter(|r| r["auth_method"] == "universal-auth" || r["auth_method"] == "token-auth")
        .map(|r| {
            let id = r["identity_id"].as_str().expect("id").to_owned();
            (id, r["auth_method"].as_str().expect("method").to_owned())
        })
        .next()
        .expect("a passing token lifetime");
    let parsed = AuthMethod::parse_known(&method).expect("known");
    sim.set_config_field(&id, &parsed, "accessTokenTTL", json!(86400));

    let (missed, report) = incremental(&url, cwd.path(), &[]).await;
    assert_eq!(report["run"]["mode"], "incremental", "{}", stderr(&missed));
    assert_eq!(
        result_of(&report, &id, &method, "token-lifetime")["status"],
        "pass",
        "without an audit event the incremental run cannot know of the change"
    );

    let (swept, report) = incremental(&url, cwd.path(), &["--max-base-age", "0"]).await;
    let run = &report["run"];
    assert_full_because(run, &swept, "--max-base-age");
    assert_eq!(
        result_of(&report, &id, &method, "token-lifetime")["status"],
        "fail",
        "the full sweep reads the config again"
    );
    server.shutdown().await;
}

/// No audit logs: the run reads everything and says why. A corrupt or foreign base is ignored
/// with a warning, never trusted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_trustworthy_feed_or_base_everything_is_read() {
    let (server, sim, url, cwd) = org(20).await;
    let (_, report) = incremental(&url, cwd.path(), &[]).await;
    let base = written_snapshot(&report);
    let configs = report["run"]["reread_configs"].clone();

    sim.set_audit_logs(AuditLogs::Disabled);
    let (out, report) = incremental(&url, cwd.path(), &[]).await;
    let run = &report["run"];
    assert_full_because(run, &out, "audit log holds no event");
    assert_eq!(run["reread_configs"], configs);
    sim.set_audit_logs(AuditLogs::Enabled);

    // A corrupt base given with --base.
    let corrupt = cwd.path().join("corrupt");
    std::fs::create_dir(&corrupt).expect("mkdir");
    std::fs::write(
        corrupt.join("snapshot.json"),
        b"{\"kind\": \"idguard-snapshot\", ",
    )
    .expect("write");
    let base_arg = corrupt.display().to_string();
    let (out, report) = incremental(&url, cwd.path(), &["--base", &base_arg]).await;
    assert_eq!(report["run"]["mode"], "full", "{}", stderr(&out));
    assert!(
        stderr(&out).contains("is not a valid idguard snapshot"),
        "{}",
        stderr(&out)
    );

    // A base of another organization (another simulator, another org id), newest under
    // reports/: skipped with a warning; the older base of this org is used.
    let other = start_sim(SimConfig {
        identities: 5,
        seed: 99,
        ..SimConfig::default()
    })
    .await;
    let foreign_cwd = tempfile::tempdir().expect("tempdir");
    let (_, foreign) = incremental(&other.url(), foreign_cwd.path(), &[]).await;
    other.shutdown().await;
    let foreign_snapshot = written_snapshot(&foreign);
    let newest = cwd.path().join("reports/29991231T235959Z");
    std::fs::create_dir(&newest).expect("mkdir");
    std::fs::copy(
        foreign_cwd.path().join(&foreign_snapshot),
        newest.join("snapshot.json"),
    )
    .expect("copy");
    let (out, report) = incremental(&url, cwd.path(), &[]).await;
    assert!(
        stderr(&out).contains("not of this run's org"),
        "{}",
        stderr(&out)
    );
    assert_eq!(report["run"]["mode"], "incremental", "{}", stderr(&out));
    assert_ne!(
        report["run"]["base_snapshot"]["path"],
        json!(newest.join("snapshot.json").display().to_string())
    );
    assert!(base.is_relative(), "run folders are named under reports/");
    server.shutdown().await;
}

/// Configs whose read failed in the base are read again; a feed longer than
/// `--max-changes-feed` makes a full read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_reads_are_read_again_and_a_long_feed_reads_everything() {
    let (server, sim, url, cwd) = org(30).await;
    let (unreadable, methods) = others(&sim)
        .into_iter()
        .find(|(_, methods)| !methods.is_empty())
        .expect("an identity with methods");
    sim.set_faults(Faults {
        forbidden: HashSet::from([unreadable.clone()]),
        ..Faults::default()
    });
    let (first, report) = incremental(&url, cwd.path(), &["--max-retries", "0"]).await;
    assert_eq!(first.status.code(), Some(2), "{}", stderr(&first));
    let errors = |report: &Value| {
        results(report)
            .iter()
            .filter(|r| r["identity_id"] == unreadable.as_str() && r["status"] == "error")
            .count()
    };
    assert!(errors(&report) > 0);
    let base = read_json(&cwd.path().join(written_snapshot(&report)));
    assert_eq!(
        base["manifest"]["complete"], true,
        "an unreadable config is recorded"
    );
    assert_eq!(base["manifest"]["errors"], methods.len());

    sim.set_faults(Faults::default());
    sim.clear_request_log();
    let (second, report) = incremental(&url, cwd.path(), &[]).await;
    assert_eq!(report["run"]["mode"], "incremental", "{}", stderr(&second));
    let expected: BTreeSet<(String, String)> = methods
        .iter()
        .map(|m| (unreadable.clone(), m.to_string()))
        .collect();
    assert_eq!(config_reads(&sim), expected);
    assert_eq!(errors(&report), 0);
    assert_eq!(second.status.code(), Some(1), "{}", stderr(&second));

    let token = login_token(&url).await;
    let (id, method) = others(&sim)
        .into_iter()
        .find_map(|(id, methods)| {
            methods
                .into_iter()
                .find(|m| *m == AuthMethod::Universal)
                .map(|m| (id, m))
        })
        .expect("a universal-auth identity");
    let path = format!("/api/v1/auth/{method}/identities/{id}");
    let body = json!({"accessTokenTTL": 600, "accessTokenMaxTTL": 600});
    call(&url, &token, reqwest::Method::PATCH, &path, body).await;
    let (long, report) = incremental(&url, cwd.path(), &["--max-changes-feed", "0"]).await;
    let run = &report["run"];
    assert_full_because(run, &long, "more than 0 change events");
    server.shutdown().await;
}

/// `remediate --incremental` plans from the carried-over configs; `apply` reads each config
/// again before writing it; its writes are change events, so the next incremental run reads
/// exactly the configs written and agrees with a full audit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remediation_plans_from_the_same_data_and_its_writes_are_followed() {
    let (server, sim, url, cwd) = org(40).await;
    incremental(&url, cwd.path(), &[]).await;

    let policy = policy_path("example.yaml").display().to_string();
    let args: Vec<String> = [
        "remediate",
        "--policy",
        &policy,
        "--incremental",
        "--apply",
        "--yes",
        "--max-changes",
        "1000",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    sim.clear_request_log();
    let fixed = in_folder(command(&url, args), cwd.path()).await;
    let report = read_json(&cwd.path().join("reports/latest/report.json"));
    assert_eq!(report["run"]["mode"], "incremental", "{}", stderr(&fixed));
    assert_eq!(
        report["run"]["reread_configs"], 0,
        "nothing changed since the base"
    );
    let written: BTreeSet<(String, String)> = patches(&sim)
        .into_iter()
        .filter(|(_, _, status)| *status == 200)
        .filter_map(|(_, path, _)| config_of(&path))
        .collect();
    assert!(
        !written.is_empty(),
        "the plan wrote fixes: {}",
        stderr(&fixed)
    );
    assert!(
        written.is_subset(&config_reads(&sim)),
        "apply read every config again before writing it"
    );

    sim.clear_request_log();
    let (after, report) = incremental(&url, cwd.path(), &[]).await;
    assert_eq!(report["run"]["mode"], "incremental", "{}", stderr(&after));
    assert_eq!(
        config_reads(&sim),
        written,
        "the writes are the changes followed"
    );
    let full = audit(&url, &[]).await;
    assert_same_audit(&report, &full.report());
    server.shutdown().await;
}

/// An October-2024 server (no eventType check, no login events, no actor filter) serves the
/// change feed too: its PATCH events name what changed. One change is made just before the
/// first run, which reads it; with a margin of 0 only the change made after the base is
/// followed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_october_2024_server_serves_the_change_feed() {
    let server = start_sim(SimConfig {
        identities: 30,
        legacy: true,
        ..SimConfig::default()
    })
    .await;
    let sim = server.handle();
    let url = server.url();
    let cwd = tempfile::tempdir().expect("tempdir");
    let token = login_token(&url).await;
    let universal: Vec<String> = others(&sim)
        .into_iter()
        .filter(|(_, methods)| methods.contains(&AuthMethod::Universal))
        .map(|(id, _)| id)
        .take(2)
        .collect();
    assert_eq!(universal.len(), 2, "two universal-auth identities");
    let patch = |id: &String| {
        let path = format!("/api/v1/auth/universal-auth/identities/{id}");
        let (url, token) = (url.clone(), token.clone());
        async move {
            let body = json!({"accessTokenTTL": 60, "accessTokenMaxTTL": 60});
            call(&url, &token, reqwest::Method::PATCH, &path, body).await;
        }
    };
    patch(&universal[0]).await;
    let (first, report) = incremental(&url, cwd.path(), &[]).await;
    assert_eq!(report["run"]["mode"], "full", "{}", stderr(&first));

    patch(&universal[1]).await;
    sim.clear_request_log();
    let (second, report) = incremental(&url, cwd.path(), &["--feed-margin", "0"]).await;
    assert_eq!(report["run"]["mode"], "incremental", "{}", stderr(&second));
    assert_eq!(
        config_reads(&sim),
        BTreeSet::from([(universal[1].clone(), "universal-auth".to_owned())])
    );
    let full = audit(&url, &[]).await;
    assert_same_audit(&report, &full.report());
    server.shutdown().await;
}

/// A run cut short (`--max-duration`) writes its snapshot marked incomplete; the next run does
/// not take it as a base and reads everything, saying why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_cut_short_is_never_a_base() {
    let server = start_sim(SimConfig {
        identities: 60,
        latency: std::time::Duration::from_millis(400),
        ..SimConfig::default()
    })
    .await;
    let url = server.url();
    let cwd = tempfile::tempdir().expect("tempdir");
    let args = ["--max-duration", "1s", "--concurrency", "2"];
    let (cut, report) = incremental(&url, cwd.path(), &args).await;
    assert_eq!(cut.status.code(), Some(2), "{}", stderr(&cut));
    assert_eq!(report["run"]["complete"], false);
    let snapshot = read_json(&cwd.path().join(written_snapshot(&report)));
    assert_eq!(snapshot["manifest"]["complete"], false);

    let (next, report) = incremental(&url, cwd.path(), &[]).await;
    assert_full_because(&report["run"], &next, "is incomplete");
    server.shutdown().await;
}

/// A config carried over from the base that changed without an audit event is planned from
/// its stale copy, but `apply` reads it again before writing: it is skipped as drifted and
/// nothing is written to it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_carried_config_is_never_written() {
    let (server, sim, url, cwd) = org(40).await;
    let policy = policy_path("example.yaml").display().to_string();
    let remediate = |extra: &[&str]| {
        let mut args: Vec<String> = ["remediate", "--policy", &policy, "--incremental"]
            .iter()
            .chain(extra)
            .map(|s| s.to_string())
            .collect();
        args.extend(["--yes", "--max-changes", "1000"].map(str::to_owned));
        in_folder(command(&url, args), cwd.path())
    };
    let planned = remediate(&[]).await;
    let report = read_json(&cwd.path().join("reports/latest/report.json"));
    assert_eq!(report["run"]["mode"], "full", "{}", stderr(&planned));
    let plan = read_json(&cwd.path().join("reports/latest/plan.json"));
    let first = &plan["changes"][0];
    let id = first["identity_id"].as_str().expect("id").to_owned();
    let method = AuthMethod::parse(first["auth_method"].as_str().expect("method"));
    sim.set_config_field(&id, &method, "accessTokenNumUsesLimit", json!(7));
    let changed = sim.config_json(&id, &method).expect("config");

    let applied = remediate(&["--apply"]).await;
    let report = read_json(&cwd.path().join("reports/latest/report.json"));
    assert_eq!(report["run"]["mode"], "incremental", "{}", stderr(&applied));
    assert_eq!(
        report["run"]["reread_configs"], 0,
        "planned from the stale copy"
    );
    assert!(stderr(&applied).contains("drifted"), "{}", stderr(&applied));
    assert_eq!(
        sim.config_json(&id, &method).expect("config"),
        changed,
        "the config changed behind the feed's back was not written"
    );
    server.shutdown().await;
}

/// Usage is judged at the run's time from the live listing, not taken from the base: an
/// identity whose last login the listing now shows 200 days old (no config changed, so no
/// config is read) fails the idle check in the incremental run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_is_judged_at_the_run_from_the_live_listing() {
    let (server, sim, url, cwd) = org(20).await;
    let policy = cwd.path().join("stale.yaml");
    std::fs::write(
        &policy,
        "version: 1\nrules:\n  - id: stale\n    severity: low\n    usage: { max_idle: 90d }\n",
    )
    .expect("policy");
    let (first, report) = incremental_with(&policy, &url, cwd.path(), &[]).await;
    assert_eq!(report["run"]["mode"], "full", "{}", stderr(&first));
    let id = results(&report)
        .iter()
        .find(|r| r["rule"] == "stale" && r["status"] == "pass")
        .and_then(|r| r["identity_id"].as_str())
        .expect("an identity in use")
        .to_owned();
    let long_ago = sim.now() - jiff::SignedDuration::from_hours(200 * 24);
    sim.set_last_login(
        &id,
        Some(sim::LastLogin {
            at: long_ago,
            method: AuthMethod::Universal,
        }),
    );

    sim.clear_request_log();
    let (second, report) = incremental_with(&policy, &url, cwd.path(), &[]).await;
    assert_eq!(report["run"]["mode"], "incremental", "{}", stderr(&second));
    assert!(config_reads(&sim).is_empty(), "no config changed");
    let stale: Vec<&Value> = results(&report)
        .iter()
        .filter(|r| r["identity_id"] == id.as_str() && r["rule"] == "stale")
        .collect();
    assert!(!stale.is_empty());
    assert!(stale.iter().all(|r| r["status"] == "fail"), "{stale:?}");
    server.shutdown().await;
}

/// `--incremental` follows a server's change feed: with `--snapshot` (no server) it is refused.
#[test]
fn an_offline_audit_cannot_be_incremental() {
    let out = idguard()
        .arg("audit")
        .arg("--policy")
        .arg(policy_path("example.yaml"))
        .args(["--snapshot", "s.json", "--incremental"])
        .output()
        .expect("binary runs");
    assert_eq!(out.status.code(), Some(64), "{}", stderr(&out));
    assert!(stderr(&out).contains("reads no server"), "{}", stderr(&out));
}
