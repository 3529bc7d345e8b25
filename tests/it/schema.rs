//! `idguard schema`: the JSON Schema of the policy format, printed on stdout. The schema's
//! agreement with the loader is tested beside it (`src/policy/schema/tests.rs`); here, the
//! command: what it prints, that the shipped policies pass it and that a mistake does not.

use serde_json::Value;

use crate::support::{idguard, policy_path};

fn printed_schema() -> String {
    let out = idguard()
        .arg("schema")
        .output()
        .expect("run idguard schema");
    assert!(out.status.success(), "{out:?}");
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8")
}

/// A YAML policy as JSON (the shipped policies use nothing JSON lacks).
fn as_json(yaml: &str) -> Value {
    serde_saphyr::from_str(yaml).expect("YAML")
}

#[test]
fn prints_the_schema_that_the_shipped_policies_pass() {
    let text = printed_schema();
    let schema: Value = serde_json::from_str(&text).expect("JSON");
    let validator = jsonschema::validator_for(&schema).expect("a valid schema");
    for name in ["example.yaml", "strict.yaml"] {
        let policy = std::fs::read_to_string(policy_path(name)).expect("read policy");
        let errors: Vec<String> = validator
            .iter_errors(&as_json(&policy))
            .map(|e| e.to_string())
            .collect();
        assert!(errors.is_empty(), "{name}: {errors:#?}");
    }
    let misspelt = as_json("version: 1\nrules:\n  - id: t\n    access_token: {max_tll: 1h}\n");
    assert!(!validator.is_valid(&misspelt));
    // Reviewed on every change: editors complete and check policies from it.
    insta::assert_snapshot!("policy_schema", text);
}
