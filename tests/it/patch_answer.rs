//! A PATCH answered 2xx has landed, whatever the body of that answer: idguard never sends it
//! again, and verifies the change by reading the config back.

use idguard_sim::{
    self as sim, AuthMethod, FaultKind, Faults, IdentitySpec, SimConfig, baseline_config,
};
use serde_json::{Value, json};

use crate::support::{idguard, policy_path, start_sim};

/// A PATCH the simulator applies but answers 200 with a body that is not JSON is sent once,
/// not retried, and the change ends `verified` (read back with a GET).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_2xx_patch_with_a_garbled_answer_is_not_resent() {
    let server = start_sim(SimConfig {
        identities: 1,
        ..SimConfig::default()
    })
    .await;
    let sim = server.handle();
    let mut config = baseline_config(&AuthMethod::Universal);
    config["accessTokenNumUsesLimit"] = json!(0); // breaks token-uses
    let id = sim.add_identity(IdentitySpec {
        name: "garbled".into(),
        project_id: None,
        methods: vec![(AuthMethod::Universal, Some(config))],
    });
    sim.set_faults(Faults {
        patch_garbled_answers: [id.clone()].into_iter().collect(),
        ..Faults::default()
    });

    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let mut cmd = idguard();
    cmd.arg("remediate")
        .arg("--policy")
        .arg(policy_path("example.yaml"))
        .args(["--apply", "--yes", "--max-changes", "1000", "--out"])
        .arg(&out)
        .env("INFISICAL_DOMAIN", server.url())
        .env("INFISICAL_UNIVERSAL_AUTH_CLIENT_ID", sim::DEMO_CLIENT_ID)
        .env(
            "INFISICAL_UNIVERSAL_AUTH_CLIENT_SECRET",
            sim::DEMO_CLIENT_SECRET,
        )
        .stdin(std::process::Stdio::null());
    let o = tokio::task::spawn_blocking(move || cmd.output().expect("binary runs"))
        .await
        .expect("join");
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "stderr: {stderr}");

    let patches: Vec<_> = sim
        .request_log()
        .into_iter()
        .filter(|r| r.method == "PATCH" && r.path.contains(&id))
        .collect();
    assert_eq!(patches.len(), 1, "sent once: {patches:?}");
    assert_eq!(patches[0].status, 200);
    assert_eq!(
        patches[0].fault,
        Some(FaultKind::Malformed),
        "the answer was garbled"
    );
    assert_eq!(
        sim.config_json(&id, &AuthMethod::Universal)
            .expect("config")["accessTokenNumUsesLimit"],
        json!(1000),
        "the write landed"
    );

    let journal = std::fs::read_to_string(out.join("journal.jsonl")).expect("journal written");
    let outcomes: Vec<Value> = journal
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .filter(|e: &Value| e["type"] == "outcome" && e["identity_id"] == json!(id))
        .collect();
    assert_eq!(outcomes.len(), 1, "{journal}");
    assert_eq!(outcomes[0]["outcome"], "verified", "{journal}");
}
