//! A config answer whose object cannot be decoded into a map of JSON values is reported as an
//! `error` result by the audit, never evaluated (or remediated) as an empty config.

use idguard_sim::{AuthMethod, IdentitySpec, SimConfig, baseline_config};
use serde_json::{Value, json};

use crate::support::{audit, results, start_sim};

/// A universal-auth config holding a field nested deeper than serde_json decodes gives
/// `error` results naming the decode problem (exit 2, run incomplete) for every rule of that
/// config and for nothing else; no rule is evaluated against it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_undecodable_config_object_is_an_error_result() {
    let server = start_sim(SimConfig {
        identities: 1,
        ..SimConfig::default()
    })
    .await;
    let sim = server.handle();
    let id = sim.add_identity(IdentitySpec {
        name: "deep".into(),
        project_id: None,
        methods: vec![(
            AuthMethod::Universal,
            Some(baseline_config(&AuthMethod::Universal)),
        )],
    });
    let deep = (0..200).fold(json!(1), |inner, _| json!([inner]));
    sim.set_config_field(&id, &AuthMethod::Universal, "vendorExtension", deep);

    let run = audit(&server.url(), &["--max-retries", "0"]).await;
    assert_eq!(run.code(), 2, "stderr: {}", run.stderr());
    let report = run.report();
    let errors: Vec<&Value> = results(&report)
        .iter()
        .filter(|r| r["status"] == "error")
        .collect();
    assert!(!errors.is_empty());
    for e in &errors {
        assert_eq!(e["identity_id"], json!(id), "only that config errs: {e}");
        let text = e["error"].as_str().unwrap_or_default();
        assert!(text.contains("config object cannot be decoded"), "{text}");
    }
    assert!(
        results(&report)
            .iter()
            .filter(|r| r["identity_id"] == json!(id))
            .all(|r| r["status"] == "error"),
        "no rule was evaluated against that config"
    );
    assert_eq!(report["run"]["complete"], false);
}
