//! Exemptions by name against an org where the name is not unique: anyone who can create an
//! identity could otherwise borrow an exemption by reusing its name.

use idguard_sim::{AuthMethod, IdentitySpec, SimConfig, baseline_config};
use serde_json::{Value, json};

use crate::remediate::{args, example, read_json, run, stderr};
use crate::support::{audit, idguard, policy_path, results, start_sim};

/// An exemption by a name two identities share exempts neither: their failures are `fail`,
/// the run reports the problem (report.json `run.problems` and the summary), a plan of the
/// org passes its re-check, and `validate` warns that name exemptions are weaker than ids.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exemption_whose_name_is_shared_exempts_nobody() {
    let server = start_sim(SimConfig {
        identities: 40,
        ..SimConfig::default()
    })
    .await;
    let exempt_before = audit(&server.url(), &[]).await;
    let named =
        |r: &Value| r["identity_name"] == "legacy-vendor-agent" && r["rule"] == "token-lifetime";
    let report = exempt_before.report();
    assert!(
        results(&report)
            .iter()
            .filter(|r| named(r))
            .all(|r| r["status"] == "exempt"),
        "the unique name is exempt"
    );

    let mut config = baseline_config(&AuthMethod::Universal);
    config["accessTokenTTL"] = json!(0);
    config["accessTokenMaxTTL"] = json!(0);
    server.handle().add_identity(IdentitySpec {
        name: "legacy-vendor-agent".into(),
        project_id: None,
        methods: vec![(AuthMethod::Universal, Some(config))],
    });
    let shared = audit(&server.url(), &[]).await;
    let report = shared.report();
    let hits: Vec<&Value> = results(&report).iter().filter(|r| named(r)).collect();
    assert!(hits.len() >= 2, "{hits:?}");
    assert!(hits.iter().all(|r| r["status"] == "fail"), "{hits:?}");
    let problems = report["run"]["problems"].as_array().expect("problems");
    assert!(
        problems.iter().any(|p| p
            .as_str()
            .unwrap_or_default()
            .contains("legacy-vendor-agent")),
        "{problems:?}"
    );
    assert!(
        shared
            .stderr()
            .contains("problem: the exemption for `legacy-vendor-agent`")
    );

    // A plan of this org re-checks: it records the shared name.
    let tmp = tempfile::tempdir().unwrap();
    let planned = tmp.path().join("plan");
    let o = run(
        &server.url(),
        args(&["remediate", "--policy", &example()], &planned),
    )
    .await;
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let plan = read_json(&planned.join("plan.json"));
    assert_eq!(
        plan["shared_exemption_names"],
        json!(["legacy-vendor-agent"])
    );
    let o = run(
        &server.url(),
        args(
            &[
                "apply",
                &planned.join("plan.json").display().to_string(),
                "--yes",
                "--max-changes",
                "1000",
            ],
            &tmp.path().join("apply"),
        ),
    )
    .await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));

    let o = idguard()
        .args(["validate"])
        .arg(policy_path("example.yaml"))
        .output()
        .expect("runs");
    assert!(String::from_utf8_lossy(&o.stderr).contains("matches by name"));
}

/// An audit whose policy holds an expired exemption warns about it up front, does not apply
/// it (the identity's failures are `fail`), and lists it in the summary, in report.md under
/// "Expired exemptions" and in report.json `expired_exemptions`; `--quiet` prints none of it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_exemptions_are_listed_and_not_applied() {
    let server = start_sim(SimConfig {
        identities: 20,
        ..SimConfig::default()
    })
    .await;
    let tmp = tempfile::tempdir().unwrap();
    let example = std::fs::read_to_string(example()).unwrap();
    let expired = example.replace("expires: 2030-06-30", "expires: 2024-06-30");
    assert_ne!(expired, example, "the example's migration-bot exemption");
    let policy = tmp.path().join("expired.yaml");
    std::fs::write(&policy, expired).unwrap();
    let policy = policy.display().to_string();
    let audit_args = |out: &str, quiet: bool| {
        let mut parts = vec!["audit", "--policy", &policy, "--format", "json,md"];
        if quiet {
            parts.push("--quiet");
        }
        args(&parts, &tmp.path().join(out))
    };

    let o = run(&server.url(), audit_args("run", false)).await;
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains(": exemption for `old-migration-bot`: expired on 2024-06-30")
            && err.starts_with("warning: "),
        "warned before the run:\n{err}"
    );
    assert!(
        err.contains(
            "\n  expired exemption: `old-migration-bot` (rules: all) expired on 2024-06-30 \
             and no longer applies\n"
        ),
        "listed in the summary:\n{err}"
    );
    assert!(
        !err.contains("matches by name"),
        "hints are for validate:\n{err}"
    );

    let report = read_json(&tmp.path().join("run/report.json"));
    let bot: Vec<&Value> = results(&report)
        .iter()
        .filter(|r| r["identity_name"] == "old-migration-bot")
        .collect();
    assert!(!bot.is_empty());
    assert!(bot.iter().all(|r| r["status"] != "exempt"), "{bot:?}");
    assert!(bot.iter().any(|r| r["status"] == "fail"), "{bot:?}");
    assert_eq!(
        report["expired_exemptions"],
        json!([{"identity": "old-migration-bot", "rules": null, "expires": "2024-06-30",
                "reason": "Runs the data migration until it ends; tracked in MIG-42.",
                "owner": "platform@example.com"}])
    );
    let md = std::fs::read_to_string(tmp.path().join("run/report.md")).unwrap();
    let section = md
        .split("\n## Expired exemptions\n")
        .nth(1)
        .expect("an Expired exemptions section");
    let section = section.split("\n## ").next().unwrap_or_default();
    assert!(
        section.contains(
            "| old-migration-bot | all | 2024-06-30 | platform@example.com | Runs the data \
             migration until it ends; tracked in MIG-42. |"
        ),
        "{section}"
    );
    assert!(!section.contains("legacy-vendor-agent"), "{section}");

    let o = run(&server.url(), audit_args("quiet", true)).await;
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(!stderr(&o).contains("expired"), "{}", stderr(&o));
}
