//! The `allowlists` checks: comma-separated lists split on `,`, trimmed, empties dropped;
//! `required` fails on a null or empty list (Infisical reads it as "anyone"); `allowed` fails on
//! entries no pattern matches (an entry's own `*` is literal). Also their remediation: drop the
//! disallowed entries, use `default` when nothing is left, never send an empty list.

use serde_json::{Map, Value};

use super::part::Part;
use crate::finding::{CheckCode, Violation};
use crate::model::{AuthConfig, AuthMethod};
use crate::policy::AllowlistCheck;

/// The entries of the stored allowlist `field`: a comma-separated list split and trimmed, or,
/// for a single-value field (Kubernetes `allowedAudience`), the whole trimmed value. `None`
/// when the field is missing or null.
pub fn field_entries(field: &str, value: Option<&Value>) -> Option<Vec<String>> {
    if AuthMethod::is_single_value_field(field)
        && let Some(Value::String(s)) = value
    {
        let one = s.trim();
        return Some(if one.is_empty() {
            vec![]
        } else {
            vec![one.to_owned()]
        });
    }
    entries(value)
}

/// The entries of a stored comma-separated allowlist; `None` when the field is missing or null.
pub fn entries(value: Option<&Value>) -> Option<Vec<String>> {
    let split = |s: &str| -> Vec<String> {
        s.split(',')
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .map(str::to_owned)
            .collect()
    };
    match value? {
        Value::Null => None,
        Value::String(s) => Some(split(s)),
        Value::Array(items) => Some(
            items
                .iter()
                .flat_map(|i| match i {
                    Value::String(s) => split(s),
                    other => split(&other.to_string()),
                })
                .collect(),
        ),
        other => Some(split(&other.to_string())),
    }
}

fn state(value: Option<&Value>) -> &'static str {
    match value {
        None => "(missing)",
        Some(Value::Null) => "(null)",
        Some(_) => "(empty)",
    }
}

/// Judges one allowlist; `None` when the method does not have the field.
pub(crate) fn check(rule: &AllowlistCheck, cfg: &AuthConfig) -> Option<Part> {
    if !cfg.method.allowlist_fields().contains(&rule.field.as_str()) {
        return None;
    }
    let field = rule.field.as_str();
    let raw = cfg.field(field);
    let list = field_entries(field, raw);
    let mut violations = Vec::new();
    let empty = list.as_ref().is_none_or(Vec::is_empty);
    if rule.required && empty {
        violations.push(Violation {
            check: CheckCode::Required,
            field: field.to_owned(),
            observed: state(raw).to_owned(),
            expected: "a non-empty list".to_owned(),
            message: format!(
                "{field} is {}; Infisical treats an empty allowlist as anyone",
                state(raw).trim_matches(['(', ')'])
            ),
        });
    }
    let mut kept = list.unwrap_or_default();
    if let Some(patterns) = &rule.allowed {
        let bad: Vec<&String> = kept
            .iter()
            .filter(|e| !patterns.iter().any(|p| p.matches(e)))
            .collect();
        if !bad.is_empty() {
            let shown: Vec<&str> = patterns.iter().map(|p| p.as_str()).collect();
            violations.push(Violation {
                check: CheckCode::Allowed,
                field: field.to_owned(),
                observed: bad
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                expected: format!("entries in [{}]", shown.join(", ")),
                message: format!(
                    "{} of {} entries of {field} match none of the allowed patterns",
                    bad.len(),
                    kept.len()
                ),
            });
        }
        kept.retain(|e| patterns.iter().any(|p| p.matches(e)));
    }
    let fix = if violations.is_empty() {
        Ok(Map::new())
    } else if !kept.is_empty() {
        Ok(Map::from_iter([(
            field.to_owned(),
            Value::from(kept.join(", ")),
        )]))
    } else if let Some(default) = &rule.default {
        Ok(Map::from_iter([(
            field.to_owned(),
            Value::from(default.join(", ")),
        )]))
    } else {
        Err(format!(
            "no allowed entry of {field} is left and the rule has no default (an empty allowlist means anyone)"
        ))
    };
    Some(Part { violations, fix })
}
