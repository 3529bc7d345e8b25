//! The schema and the loader agree: every valid policy the repository holds (the shipped ones,
//! the YAML of the docs, every policy literal of the tests) passes both; each of them mutated
//! (a key removed, a key added, a value nulled or replaced) gets the same verdict from both;
//! and a list of typical mistakes fails both.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::schema;
use crate::policy::{node, parse};

fn validator() -> jsonschema::Validator {
    jsonschema::validator_for(&schema()).unwrap_or_else(|e| panic!("the schema compiles: {e}"))
}

/// The YAML as the loader reads it (same scalar rules), as JSON.
fn to_json(yaml: &str) -> Option<Value> {
    serde_saphyr::from_str_with_options::<Value>(yaml, node::options()).ok()
}

/// (loader accepts, schema accepts) for a policy written as JSON (which is YAML too).
fn verdicts(v: &jsonschema::Validator, policy: &Value) -> (bool, bool) {
    (
        parse(&policy.to_string(), "m.yaml").is_ok(),
        v.is_valid(policy),
    )
}

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn files(dir: &Path, ext: &str, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files(&path, ext, out);
        } else if path.extension().is_some_and(|e| e == ext) {
            out.push(path);
        }
    }
}

/// The Rust string literals beginning `"version: 1`, unescaped (format templates come along;
/// the loader refuses them, so they only count when valid).
fn literals(source: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (start, _) in source.match_indices("\"version: 1") {
        let mut text = String::new();
        let mut chars = source[start + 1..].chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '"' => break,
                '\\' => match chars.next() {
                    Some('n') => text.push('\n'),
                    Some('t') => text.push('\t'),
                    Some('\n') => {
                        while chars.peek().is_some_and(|c| c.is_whitespace()) {
                            chars.next();
                        }
                    }
                    Some(other) => text.push(other),
                    None => break,
                },
                c => text.push(c),
            }
        }
        out.push(text);
    }
    out
}

/// The ```yaml blocks of a Markdown file.
fn yaml_blocks(markdown: &str) -> Vec<String> {
    markdown
        .split("```yaml\n")
        .skip(1)
        .filter_map(|rest| rest.split("```").next().map(str::to_owned))
        .collect()
}

/// Every policy the repository holds, named by where it came from.
fn fixtures() -> Vec<(String, String)> {
    let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
    let mut out = Vec::new();
    let mut yaml = Vec::new();
    files(&root().join("policies"), "yaml", &mut yaml);
    for path in yaml {
        out.push((path.display().to_string(), read(&path)));
    }
    for doc in ["README.md", "docs/policy.md"] {
        for (i, block) in yaml_blocks(&read(&root().join(doc)))
            .into_iter()
            .enumerate()
        {
            out.push((format!("{doc} yaml block {i}"), block));
        }
    }
    let mut sources = Vec::new();
    files(&root().join("src"), "rs", &mut sources);
    files(&root().join("tests"), "rs", &mut sources);
    for path in sources {
        for (i, text) in literals(&read(&path)).into_iter().enumerate() {
            out.push((format!("{} literal {i}", path.display()), text));
        }
    }
    out
}

/// The fixtures the loader accepts, as JSON.
fn valid_fixtures() -> Vec<(String, Value)> {
    fixtures()
        .into_iter()
        .filter(|(_, text)| text.contains("rules") && parse(text, "f.yaml").is_ok())
        .map(|(name, text)| {
            let json = to_json(&text).unwrap_or_else(|| panic!("{name}: no JSON of it"));
            (name, json)
        })
        .collect()
}

#[test]
fn the_schema_is_a_valid_draft_2020_12_schema() {
    let s = schema();
    assert!(jsonschema::meta::is_valid(&s), "{s}");
    assert_eq!(s["$schema"], "https://json-schema.org/draft/2020-12/schema");
}

#[test]
fn every_valid_policy_of_the_repository_passes_the_schema() {
    let v = validator();
    let valid = valid_fixtures();
    // The harvest works: the shipped policies, the docs' examples and many test policies.
    assert!(valid.len() >= 40, "only {} valid fixtures", valid.len());
    for name in [
        "example.yaml",
        "strict.yaml",
        "docs/policy.md",
        "src/policy/tests.rs",
    ] {
        assert!(
            valid.iter().any(|(n, _)| n.contains(name)),
            "none from {name}"
        );
    }
    for (name, policy) in &valid {
        let errors: Vec<String> = v.iter_errors(policy).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{name}: {errors:#?}\n{policy:#}");
    }
}

/// Every mapping of `value` with its path, and every scalar position.
fn paths(value: &Value, at: Vec<String>, out: &mut Vec<Vec<String>>) {
    out.push(at.clone());
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                let mut p = at.clone();
                p.push(k.clone());
                paths(v, p, out);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                let mut p = at.clone();
                p.push(i.to_string());
                paths(v, p, out);
            }
        }
        _ => {}
    }
}

fn get_mut<'v>(value: &'v mut Value, path: &[String]) -> Option<&'v mut Value> {
    path.iter().try_fold(value, |v, k| match v {
        Value::Object(map) => map.get_mut(k),
        Value::Array(items) => k.parse::<usize>().ok().and_then(|i| items.get_mut(i)),
        _ => None,
    })
}

/// Each valid policy, changed in one place at a time, gets one verdict from both: a key
/// removed or nulled, an unknown key added to a mapping, a value replaced by a mapping, a
/// list, a string, an integer or a boolean.
#[test]
fn mutated_policies_get_the_same_verdict_from_loader_and_schema() {
    let v = validator();
    let mut disagreements = Vec::new();
    let mut checked = 0;
    for (name, policy) in valid_fixtures() {
        let mut all = Vec::new();
        paths(&policy, Vec::new(), &mut all);
        for path in all {
            let mut variants: Vec<(String, Value)> = Vec::new();
            let replacements = [
                json!(null),
                json!({}),
                json!([]),
                json!(["x"]),
                json!("ten"),
                json!(0),
                json!(7),
                json!(true),
            ];
            for r in replacements {
                let mut p = policy.clone();
                if let Some(slot) = get_mut(&mut p, &path) {
                    *slot = r.clone();
                    variants.push((format!("{path:?} = {r}"), p));
                }
            }
            if let Some((key, parent)) = path.split_last() {
                let mut p = policy.clone();
                if let Some(Value::Object(map)) = get_mut(&mut p, parent) {
                    map.remove(key);
                    variants.push((format!("{path:?} removed"), p));
                }
            }
            let mut p = policy.clone();
            if let Some(Value::Object(map)) = get_mut(&mut p, &path) {
                map.insert("colour".into(), json!("red"));
                variants.push((format!("{path:?} + colour"), p));
            }
            for (what, p) in variants {
                checked += 1;
                let (loader, schema) = verdicts(&v, &p);
                // The schema may let through what only the whole policy can judge; it never
                // refuses what the loader accepts, and agrees on everything it can judge.
                if loader != schema && !loader_only(&p) {
                    let said = parse(&p.to_string(), "m.yaml").err().unwrap_or_default();
                    disagreements.push(format!(
                        "{name}: {what}: loader {loader}, schema {schema}: {said:?}\n{p}"
                    ));
                }
            }
        }
    }
    assert!(checked > 1000, "only {checked} mutations");
    assert!(
        disagreements.is_empty(),
        "{} disagreements:\n{}",
        disagreements.len(),
        disagreements.join("\n")
    );
}

/// Whether the loader refuses `policy` for a reason the schema leaves to it (documented in
/// the module doc): checked by asking the loader's messages.
fn loader_only(policy: &Value) -> bool {
    const WHOLE_POLICY: [&str; 8] = [
        "matches none of `allowed`",
        "bad CIDR",
        "duplicate rule id",
        "exemption rules: unknown rule",
        "is not inside allowed_cidrs",
        "none of the rule's auth methods has",
        "duration must be positive",
        "is not a date",
    ];
    match parse(&policy.to_string(), "m.yaml") {
        Ok(_) => false,
        Err(d) => d
            .iter()
            .all(|d| WHOLE_POLICY.iter().any(|m| d.message.contains(m))),
    }
}

/// Typical mistakes, each refused by both.
#[test]
fn typical_mistakes_fail_both() {
    let v = validator();
    let rule = "  - id: t\n    access_token: {max_ttl: 1h}\n";
    let cases = [
        format!("verison: 1\nrules:\n{rule}"),
        format!("version: 1\nnmae: x\nrules:\n{rule}"),
        format!("version: 1\ndefaults: {{severty: high}}\nrules:\n{rule}"),
        "version: 1\nrules:\n  - id: t\n    acess_token: {max_ttl: 1h}\n".to_owned(),
        "version: 1\nrules:\n  - id: t\n    access_token: {max_tll: 1h}\n".to_owned(),
        "version: 1\nrules:\n  - id: t\n    applies_to: {auth_method: [oci-auth]}\n    access_token: {max_ttl: 1h}\n".to_owned(),
        "version: 1\nrules:\n  - id: t\n    trusted_ips: {allowed_cidr: [10.0.0.0/8]}\n".to_owned(),
        "version: 1\nrules:\n  - id: t\n    allowlists:\n      - {field: allowedUsernames, require: true}\n".to_owned(),
        "version: 1\nrules:\n  - id: t\n    usage: {max_idel: 90d}\n".to_owned(),
        format!("version: 1\nrules:\n{rule}exemptions:\n  - {{identity: a, reason: r, expires: 2030-01-01, ower: me}}\n"),
        "version: 1\nrules:\n  - id: t\n    access_token: {max_uses: \"ten\"}\n".to_owned(),
        "version: 1\nrules:\n  - id: t\n    severity: urgent\n    access_token: {max_ttl: 1h}\n".to_owned(),
        "version: 1\nrules:\n  - id: t\n    applies_to: {auth_methods: [quantum-auth]}\n    access_token: {max_ttl: 1h}\n".to_owned(),
        "version: 1\nrules: {}\n".to_owned(),
        "version: 1\nrules: []\n".to_owned(),
        "version: 2\nrules:\n  - id: t\n    access_token: {max_ttl: 1h}\n".to_owned(),
        "version: 1\nrules:\n  - id: Bad_Id\n    access_token: {max_ttl: 1h}\n".to_owned(),
        "version: 1\nrules:\n  - id: t\n    access_token: {max_ttl: 1 fortnight}\n".to_owned(),
        "version: 1\nrules:\n  - id: t\n    access_token: {max_ttl: 1h30}\n".to_owned(),
        "version: 1\nrules:\n  - id: t\n    usage: {max_idle: 90d}\n    access_token: {max_ttl: 1h}\n".to_owned(),
        "version: 1\nrules:\n  - id: t\n    description: nothing\n".to_owned(),
        "version: 1\nrules:\n  - id: t\n    allowlists:\n      - {field: allowedUsernames}\n".to_owned(),
        format!("version: 1\nrules:\n{rule}exemptions:\n  - {{identity: a, reason: r, expires: 31/01/2030}}\n"),
        format!("version: 1\nrules:\n{rule}exemptions:\n  - {{identity: a, expires: 2030-01-31}}\n"),
    ];
    for case in &cases {
        assert!(
            parse(case, "c.yaml").is_err(),
            "the loader accepts:\n{case}"
        );
        let json = to_json(case).unwrap_or_else(|| panic!("no JSON of:\n{case}"));
        assert!(!v.is_valid(&json), "the schema accepts:\n{case}");
    }
}

/// A key the loader knows is a key of the schema, with a description for editors' hovers.
#[test]
fn every_key_of_the_loader_is_described() {
    use super::super::validate::{
        ALLOWLIST_KEYS, APPLIES_KEYS, DEFAULTS_KEYS, EXEMPTION_KEYS, IPS_KEYS, RULE_KEYS,
        TOKEN_KEYS, TOP_KEYS, USAGE_KEYS,
    };
    let s = schema();
    let rule = &s["properties"]["rules"]["items"];
    let levels = [
        (&s, TOP_KEYS),
        (&s["properties"]["defaults"], DEFAULTS_KEYS),
        (rule, RULE_KEYS),
        (&rule["properties"]["applies_to"], APPLIES_KEYS),
        (&rule["properties"]["access_token"], TOKEN_KEYS),
        (&rule["properties"]["trusted_ips"], IPS_KEYS),
        (&rule["properties"]["allowlists"]["items"], ALLOWLIST_KEYS),
        (&rule["properties"]["usage"], USAGE_KEYS),
        (&s["properties"]["exemptions"]["items"], EXEMPTION_KEYS),
    ];
    for (object, keys) in levels {
        assert_eq!(object["additionalProperties"], json!(false), "{object}");
        let properties = object["properties"].as_object().expect("properties");
        let mut names: Vec<&str> = properties.keys().map(String::as_str).collect();
        let mut keys = keys.to_vec();
        names.sort_unstable();
        keys.sort_unstable();
        assert_eq!(names, keys);
        for (key, p) in properties {
            assert!(
                p["description"].as_str().is_some_and(|d| !d.is_empty()),
                "`{key}` has no description: {p}"
            );
        }
    }
}
