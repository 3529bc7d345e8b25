//! Remediation end to end against the simulator: plan, apply under a write rate limit with
//! the journal, verification, drift, the blast-radius guard, the omission traps, and rollback
//! after a SIGKILL in the middle of an apply.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use idguard_sim::{self as sim, AuthMethod, Faults, IdentitySpec, Sim, SimConfig, baseline_config};
use serde_json::{Value, json};

use crate::support::{configured, idguard, policy_path, results, start_sim};

pub(crate) type Snapshot = BTreeMap<(String, String), Value>;

/// Every stored config, without `updatedAt` (which every write changes) and without empty
/// fields: null and `""` are the same emptiness (a spiffe-auth PATCH stores `""` for a static
/// bundle's null `bundleEndpointUrl`, as Infisical's schema default does).
pub(crate) fn snapshot(sim: &Sim) -> Snapshot {
    configured(sim, true)
        .into_iter()
        .map(|(id, m)| {
            let mut v = sim
                .config_json(&id, &AuthMethod::parse(&m))
                .expect("config exists");
            if let Some(o) = v.as_object_mut() {
                o.remove("updatedAt");
                o.retain(|_, v| !v.is_null() && v.as_str() != Some(""));
            }
            ((id, m), v)
        })
        .collect()
}

/// Runs idguard with the simulator's credentials and the given arguments, off the runtime.
pub(crate) async fn run(url: &str, args: Vec<String>) -> std::process::Output {
    let mut cmd = command(url, args);
    tokio::task::spawn_blocking(move || cmd.output().expect("binary runs"))
        .await
        .expect("join")
}

/// The idguard command with the simulator's credentials and no terminal on stdin.
pub(crate) fn command(url: &str, args: Vec<String>) -> std::process::Command {
    let mut cmd = idguard();
    cmd.args(&args)
        .env("INFISICAL_DOMAIN", url)
        .env("INFISICAL_UNIVERSAL_AUTH_CLIENT_ID", sim::DEMO_CLIENT_ID)
        .env(
            "INFISICAL_UNIVERSAL_AUTH_CLIENT_SECRET",
            sim::DEMO_CLIENT_SECRET,
        )
        .stdin(std::process::Stdio::null());
    cmd
}

/// `idguard apply PLAN --yes --max-changes 1000 --out OUT` against `url`.
pub(crate) async fn apply_plan(url: &str, plan: &Path, out: &Path) -> std::process::Output {
    let plan = plan.display().to_string();
    run(
        url,
        args(&["apply", &plan, "--yes", "--max-changes", "1000"], out),
    )
    .await
}

/// `idguard remediate --policy policies/example.yaml --apply --yes --max-changes 1000 --out OUT`
/// against `url`.
pub(crate) async fn remediate_apply(url: &str, out: &Path) -> std::process::Output {
    run(url, remediate_apply_args(out, &[])).await
}

/// The arguments of `remediate --policy policies/example.yaml --apply --yes --max-changes 1000`,
/// then `extra`, then `--out OUT`.
pub(crate) fn remediate_apply_args(out: &Path, extra: &[&str]) -> Vec<String> {
    let policy = example();
    let mut parts = vec![
        "remediate",
        "--policy",
        &policy,
        "--apply",
        "--yes",
        "--max-changes",
        "1000",
    ];
    parts.extend_from_slice(extra);
    args(&parts, out)
}

pub(crate) fn args(parts: &[&str], out: &Path) -> Vec<String> {
    let mut v: Vec<String> = parts.iter().map(|s| s.to_string()).collect();
    v.push("--out".into());
    v.push(out.display().to_string());
    v
}

pub(crate) fn example() -> String {
    policy_path("example.yaml").display().to_string()
}

pub(crate) fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).expect("file exists")).expect("valid JSON")
}

pub(crate) fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub(crate) fn patches(sim: &Sim) -> Vec<(Duration, String, u16)> {
    sim.request_log()
        .into_iter()
        .filter(|r| r.method == "PATCH")
        .map(|r| (r.at, r.path.clone(), r.status))
        .collect()
}

/// A 500-identity org with violations on every method: after `remediate --apply`, a fresh
/// audit finds no auto-remediable failure; configs not in the plan are identical to before;
/// changed configs differ only in the fields the plan named.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_fixes_everything_and_touches_nothing_else() {
    let server = start_sim(SimConfig {
        identities: 500,
        ..SimConfig::default()
    })
    .await;
    let sim = server.handle();
    let before = snapshot(&sim);
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("fix");
    let o = remediate_apply(&server.url(), &out).await;
    assert!(
        matches!(o.status.code(), Some(0 | 1)),
        "stderr: {}",
        stderr(&o)
    );

    let plan = read_json(&out.join("plan.json"));
    let changes = plan["changes"].as_array().unwrap();
    assert!(changes.len() > 100, "plan has {} changes", changes.len());
    let methods: BTreeSet<&str> = changes
        .iter()
        .map(|c| c["auth_method"].as_str().unwrap())
        .collect();
    assert_eq!(
        methods.len(),
        13,
        "violations fixed on every method: {methods:?}"
    );

    let after = snapshot(&sim);
    let planned: BTreeMap<(String, String), BTreeSet<String>> = changes
        .iter()
        .map(|c| {
            let key = (
                c["identity_id"].as_str().unwrap().to_owned(),
                c["auth_method"].as_str().unwrap().to_owned(),
            );
            (
                key,
                c["after"].as_object().unwrap().keys().cloned().collect(),
            )
        })
        .collect();
    for (key, old) in &before {
        let new = &after[key];
        match planned.get(key) {
            None => assert_eq!(old, new, "{key:?} was not in the plan but changed"),
            Some(fields) => {
                let (o, n) = (old.as_object().unwrap(), new.as_object().unwrap());
                let touched: BTreeSet<String> = o
                    .keys()
                    .chain(n.keys())
                    .filter(|k| o.get(*k) != n.get(*k))
                    .cloned()
                    .collect();
                assert!(!touched.is_empty(), "{key:?} planned but unchanged");
                assert!(
                    touched.is_subset(fields),
                    "{key:?} changed {touched:?}, plan named {fields:?}"
                );
            }
        }
    }

    // Every journalled change verified.
    let journal = std::fs::read_to_string(out.join("journal.jsonl")).unwrap();
    let outcomes: Vec<Value> = journal
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .filter(|e: &Value| e["type"] == "outcome")
        .collect();
    assert_eq!(outcomes.len(), changes.len());
    assert!(
        outcomes.iter().all(|e| e["outcome"] == "verified"),
        "{outcomes:?}"
    );
    let report = read_json(&out.join("report.json"));
    assert!(
        results(&report)
            .iter()
            .any(|r| r["remediation_outcome"] == "verified")
    );

    // A fresh audit: whatever still fails needs a human.
    let again = tmp.path().join("again");
    let o = run(
        &server.url(),
        args(&["audit", "--policy", &example()], &again),
    )
    .await;
    assert!(
        matches!(o.status.code(), Some(0 | 1)),
        "stderr: {}",
        stderr(&o)
    );
    let report = read_json(&again.join("report.json"));
    let auto_left: Vec<&Value> = results(&report)
        .iter()
        .filter(|r| r["status"] == "fail" && r["remediation"]["auto"] == true)
        .collect();
    assert!(
        auto_left.is_empty(),
        "auto-remediable failures left: {auto_left:#?}"
    );
}

/// The omission traps: AWS allowlists, OCI usernames and tenancy, JWT CA certificate and
/// AliCloud ARNs survive a PATCH that only fixes the TTL (the simulator resets them when a
/// body leaves them out).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn omission_traps_do_not_loosen_anything() {
    let server = start_sim(SimConfig {
        identities: 1,
        ..SimConfig::default()
    })
    .await;
    let sim = server.handle();
    let mut ids = Vec::new();
    for method in [
        AuthMethod::Aws,
        AuthMethod::Oci,
        AuthMethod::Jwt,
        AuthMethod::AliCloud,
    ] {
        let mut config = baseline_config(&method);
        config["accessTokenTTL"] = json!(7200); // breaks token-lifetime (max 1h) only
        config["accessTokenMaxTTL"] = json!(86400);
        if method == AuthMethod::Jwt {
            config["configurationType"] = json!("jwks");
            config["jwksUrl"] = json!("https://idp.corp.example/.well-known/jwks.json");
            config["jwksCaCert"] =
                json!("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----");
            config["publicKeys"] = json!([]);
        }
        if method == AuthMethod::Aws {
            config["allowedPrincipalArns"] = json!("arn:aws:iam::111122223333:role/deploy");
        }
        let id = sim.add_identity(IdentitySpec {
            name: format!("trap-{method}"),
            project_id: None,
            methods: vec![(method.clone(), Some(config))],
        });
        ids.push((id, method));
    }
    let before = snapshot(&sim);
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("o");
    let o = run(
        &server.url(),
        args(
            &["remediate", "--policy", &example(), "--apply", "--yes"],
            &out,
        ),
    )
    .await;
    eprintln!(
        "PLAN {}",
        std::fs::read_to_string(out.join("plan.json")).unwrap()
    );
    for (id, method) in &ids {
        let old = &before[&(id.clone(), method.to_string())];
        let new = sim.config_json(id, method).unwrap();
        assert_eq!(new["accessTokenTTL"], json!(3600), "{method} TTL fixed");
        for field in [
            "allowedPrincipalArns",
            "allowedAccountIds",
            "allowedUsernames",
            "tenancyOcid",
            "jwksCaCert",
            "jwksUrl",
            "publicKeys",
            "configurationType",
            "allowedArns",
            "boundAudiences",
        ] {
            assert_eq!(
                old.get(field),
                new.get(field),
                "{method}: `{field}` changed"
            );
        }
    }
    assert_eq!(o.status.code(), Some(0), "stderr: {}", stderr(&o));
    for file in ["plan.json", "journal.jsonl", "report.json", "report.csv"] {
        let text = std::fs::read_to_string(out.join(file)).unwrap();
        assert!(
            !text.contains("MIIB"),
            "{file} holds the JWT CA certificate"
        );
    }
}

/// `--write-rate 4` on 12 changes: the simulator's log never shows more than 4 PATCHes in any
/// one-second window, and no PATCH for a config whose fresh GET failed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_respect_the_rate_and_never_follow_a_failed_read() {
    let server = start_sim(SimConfig {
        identities: 1,
        ..SimConfig::default()
    })
    .await;
    let sim = server.handle();
    let mut victim = String::new();
    for n in 0..13 {
        let mut config = baseline_config(&AuthMethod::Universal);
        config["accessTokenNumUsesLimit"] = json!(0); // breaks token-uses
        let id = sim.add_identity(IdentitySpec {
            name: format!("ua-{n:02}"),
            project_id: None,
            methods: vec![(AuthMethod::Universal, Some(config))],
        });
        if n == 0 {
            victim = id;
        }
    }
    let tmp = tempfile::tempdir().unwrap();
    let planned = tmp.path().join("plan");
    let o = run(
        &server.url(),
        args(&["remediate", "--policy", &example()], &planned),
    )
    .await;
    assert_eq!(o.status.code(), Some(1), "stderr: {}", stderr(&o));
    assert!(patches(&sim).is_empty(), "a plan writes nothing");
    sim.set_faults(Faults {
        always_fail: [victim.clone()].into_iter().collect(),
        ..Faults::default()
    });
    let applied = tmp.path().join("apply");
    let plan = planned.join("plan.json").display().to_string();
    let o = run(
        &server.url(),
        args(
            &[
                "apply",
                &plan,
                "--yes",
                "--write-rate",
                "4",
                "--max-retries",
                "1",
            ],
            &applied,
        ),
    )
    .await;
    assert_eq!(
        o.status.code(),
        Some(3),
        "a failed read is a failed change: {}",
        stderr(&o)
    );
    let writes = patches(&sim);
    assert_eq!(writes.len(), 12);
    assert!(
        writes.iter().all(|(_, path, _)| !path.contains(&victim)),
        "PATCH after a failed GET"
    );
    for (i, (t0, _, _)) in writes.iter().enumerate() {
        let in_window = writes[i..]
            .iter()
            .take_while(|(t, _, _)| *t < *t0 + Duration::from_secs(1))
            .count();
        assert!(in_window <= 4, "{in_window} writes within 1 s of {t0:?}");
    }
}

/// A plan applied after someone changed one of its configs skips that config as `drifted`
/// and applies the rest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drifted_configs_are_skipped() {
    let server = start_sim(SimConfig {
        identities: 120,
        ..SimConfig::default()
    })
    .await;
    let sim = server.handle();
    let tmp = tempfile::tempdir().unwrap();
    let planned = tmp.path().join("plan");
    let o = run(
        &server.url(),
        args(&["remediate", "--policy", &example()], &planned),
    )
    .await;
    assert_eq!(o.status.code(), Some(1), "stderr: {}", stderr(&o));
    let plan_path = planned.join("plan.json");
    let plan = read_json(&plan_path);
    let first = &plan["changes"][0];
    let (id, method) = (
        first["identity_id"].as_str().unwrap(),
        AuthMethod::parse(first["auth_method"].as_str().unwrap()),
    );
    sim.set_config_field(id, &method, "accessTokenNumUsesLimit", json!(7));
    let drifted = sim.config_json(id, &method).unwrap();
    let applied = tmp.path().join("apply");
    let o = apply_plan(&server.url(), &plan_path, &applied).await;
    assert_eq!(
        o.status.code(),
        Some(0),
        "drift is not a failed write: {}",
        stderr(&o)
    );
    assert!(stderr(&o).contains("drifted"), "{}", stderr(&o));
    assert_eq!(
        sim.config_json(id, &method).unwrap(),
        drifted,
        "the drifted config was not written"
    );
    let journal = std::fs::read_to_string(applied.join("journal.jsonl")).unwrap();
    let verified = journal
        .lines()
        .filter(|l| l.contains("\"outcome\":\"verified\""))
        .count();
    assert_eq!(verified, plan["changes"].as_array().unwrap().len() - 1);
}

/// `--max-changes` below the number of changes exits 4 and writes nothing; so does a
/// non-terminal stdin without `--yes` (exit 64).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guards_refuse_before_any_write() {
    let server = start_sim(SimConfig {
        identities: 100,
        ..SimConfig::default()
    })
    .await;
    let sim = server.handle();
    let tmp = tempfile::tempdir().unwrap();
    let o = run(
        &server.url(),
        args(
            &[
                "remediate",
                "--policy",
                &example(),
                "--apply",
                "--yes",
                "--max-changes",
                "3",
            ],
            &tmp.path().join("a"),
        ),
    )
    .await;
    assert_eq!(o.status.code(), Some(4), "stderr: {}", stderr(&o));
    assert!(
        tmp.path().join("a/plan.json").exists(),
        "the plan is still written for review"
    );
    let o = run(
        &server.url(),
        args(
            &[
                "remediate",
                "--policy",
                &example(),
                "--apply",
                "--max-changes",
                "1000",
            ],
            &tmp.path().join("b"),
        ),
    )
    .await;
    assert_eq!(o.status.code(), Some(64), "stderr: {}", stderr(&o));
    assert!(stderr(&o).contains("--yes"));
    assert!(patches(&sim).is_empty(), "nothing written");
}

/// SIGKILL in the middle of an apply, then `rollback --apply` on its journal: the org is back
/// to its state before the apply, field by field.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollback_after_a_crash_restores_the_org() {
    let server = start_sim(SimConfig {
        identities: 300,
        ..SimConfig::default()
    })
    .await;
    let sim = server.handle();
    let before = snapshot(&sim);
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("crash");
    let mut cmd = command(
        &server.url(),
        args(
            &[
                "remediate",
                "--policy",
                &example(),
                "--apply",
                "--yes",
                "--max-changes",
                "1000",
                "--write-rate",
                "25",
            ],
            &out,
        ),
    );
    cmd.stderr(std::process::Stdio::null());
    let mut child = cmd.spawn().unwrap();
    // Wait until some writes landed, then kill -9.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while patches(&sim).len() < 15 {
        assert!(std::time::Instant::now() < deadline, "no writes happened");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    child.kill().unwrap();
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(!status.success());
    let written = patches(&sim).len();
    let plan = read_json(&out.join("plan.json"));
    assert!(
        written < plan["changes"].as_array().unwrap().len(),
        "killed mid-apply"
    );
    assert_ne!(snapshot(&sim), before);

    let journal = out.join("journal.jsonl").display().to_string();
    let o = run(
        &server.url(),
        args(&["rollback", &journal], &tmp.path().join("dry")),
    )
    .await;
    assert_eq!(o.status.code(), Some(0), "stderr: {}", stderr(&o));
    assert_eq!(
        patches(&sim).len(),
        written,
        "a rollback without --apply writes nothing"
    );
    let o = run(
        &server.url(),
        args(
            &["rollback", &journal, "--apply", "--yes"],
            &tmp.path().join("undo"),
        ),
    )
    .await;
    assert_eq!(o.status.code(), Some(0), "stderr: {}", stderr(&o));
    let after = snapshot(&sim);
    for (key, old) in &before {
        assert_eq!(old, &after[key], "{key:?} not restored");
    }
}
