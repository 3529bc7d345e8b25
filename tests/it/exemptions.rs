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
