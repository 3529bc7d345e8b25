//! What one field of a config goes from and to, for a person: the data behind every diff
//! idguard shows (the plan on the terminal, `plan.md`, the rollback preview).
//!
//! A field whose value does not change (the TTL partner resent unchanged, a list in another
//! order) gives no diff. Durations read as in the reports (`86400s (24h)`, `0 (unlimited)`);
//! lists (trusted IPs, allowlists) are split into the entries removed, added and kept, never
//! shortened. The values are the raw text: whoever prints them escapes them for its medium
//! (`display::safe` on a terminal, Markdown escaping in a file). Pure: no I/O.

use serde_json::{Map, Value};

use super::plan::{TOKEN_FIELDS, TRUSTED_IP_FIELDS, same_value};
use crate::evaluate::allowlist_field_entries;
use crate::model::AuthMethod;
use crate::policy::format_seconds;

/// How one field changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldDiff {
    /// The field, in the request encoding's name.
    pub field: String,
    pub change: Change,
}

/// The change of one field's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// A single value (a TTL, a use limit, a single-value allowlist), shown whole.
    Value { from: String, to: String },
    /// A list of entries (trusted IPs, a comma-separated allowlist).
    List(ListChange),
}

/// The entries of a list field before and after, compared as sets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListChange {
    /// Entries only in the old value, in its order.
    pub removed: Vec<String>,
    /// Entries only in the new value, in its order.
    pub added: Vec<String>,
    /// Entries in both, in the new value's order.
    pub kept: Vec<String>,
    /// An empty value means "anyone" (an allowlist): which side is empty, if any.
    pub empty_is_anyone: Option<Side>,
}

/// One side of a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    From,
    To,
}

/// The diff of `field` from `from` to `to` (request encoding), or `None` when the value does
/// not change (modulo the server's normalisation, as [`same_value`] compares).
pub fn diff(field: &str, from: &Value, to: &Value) -> Option<FieldDiff> {
    if same_value(field, from, to) {
        return None;
    }
    let change = match (list_entries(field, from), list_entries(field, to)) {
        (Some(old), Some(new)) => Change::List(list_change(field, old, new)),
        _ => Change::Value {
            from: show(field, from),
            to: show(field, to),
        },
    };
    Some(FieldDiff {
        field: field.to_owned(),
        change,
    })
}

/// The diffs of the fields of `to` against `from` (a field missing from `from` counts as
/// null): token fields first in their usual order, then the others by name. Fields that do
/// not change are left out.
pub fn diffs(from: &Map<String, Value>, to: &Map<String, Value>) -> Vec<FieldDiff> {
    let mut fields: Vec<(&String, &Value)> = to.iter().collect();
    fields.sort_by_key(|(f, _)| {
        let token = TOKEN_FIELDS.iter().position(|t| t == f);
        (token.unwrap_or(TOKEN_FIELDS.len()), f.as_str())
    });
    fields
        .into_iter()
        .filter_map(|(f, new)| diff(f, from.get(f).unwrap_or(&Value::Null), new))
        .collect()
}

/// A value for a person: durations with their human form, zeros that mean "unlimited" said so.
pub fn show(field: &str, value: &Value) -> String {
    match (field, value.as_u64()) {
        ("accessTokenTTL" | "accessTokenMaxTTL", Some(0)) => "0 (unlimited)".into(),
        ("accessTokenTTL" | "accessTokenMaxTTL", Some(s)) => format_seconds(s),
        ("accessTokenPeriod", Some(0)) => "0 (not periodic)".into(),
        ("accessTokenPeriod", Some(s)) => format_seconds(s),
        ("accessTokenNumUsesLimit", Some(0)) => "0 (unlimited)".into(),
        _ => match value {
            Value::Null => "(not set)".into(),
            Value::String(s) => format!("\"{s}\""),
            other => other.to_string(),
        },
    }
}

/// The entries of a list field, `None` for a field that is not a list (or a value of another
/// shape). Null is the empty list.
fn list_entries(field: &str, value: &Value) -> Option<Vec<String>> {
    if TRUSTED_IP_FIELDS.contains(&field) {
        return match value {
            Value::Null => Some(Vec::new()),
            Value::Array(items) => items
                .iter()
                .map(|i| {
                    i.get("ipAddress")
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                })
                .collect(),
            _ => None,
        };
    }
    if AuthMethod::is_allowlist_field(field) && !AuthMethod::is_single_value_field(field) {
        return match value {
            Value::Null | Value::String(_) => {
                Some(allowlist_field_entries(field, Some(value)).unwrap_or_default())
            }
            _ => None,
        };
    }
    None
}

fn list_change(field: &str, old: Vec<String>, new: Vec<String>) -> ListChange {
    let mut removed = Vec::new();
    for e in &old {
        if !new.contains(e) && !removed.contains(e) {
            removed.push(e.clone());
        }
    }
    let (mut added, mut kept) = (Vec::new(), Vec::new());
    for e in new {
        let into = if old.contains(&e) {
            &mut kept
        } else {
            &mut added
        };
        if !into.contains(&e) {
            into.push(e);
        }
    }
    let empty_is_anyone = match (kept.is_empty(), removed.is_empty(), added.is_empty()) {
        _ if !AuthMethod::is_allowlist_field(field) => None,
        (true, true, _) => Some(Side::From),
        (true, _, true) => Some(Side::To),
        _ => None,
    };
    ListChange {
        removed,
        added,
        kept,
        empty_is_anyone,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    /// The TTL partner resent unchanged is no change; durations read as in the reports.
    #[test]
    fn unchanged_fields_give_no_diff_and_durations_are_human() {
        let d = diffs(
            &map(json!({"accessTokenTTL": 0, "accessTokenMaxTTL": 86400})),
            &map(json!({"accessTokenMaxTTL": 86400, "accessTokenTTL": 3600})),
        );
        assert_eq!(
            d,
            vec![FieldDiff {
                field: "accessTokenTTL".into(),
                change: Change::Value {
                    from: "0 (unlimited)".into(),
                    to: "3600s (1h)".into()
                }
            }]
        );
        assert_eq!(show("accessTokenMaxTTL", &json!(86400)), "86400s (24h)");
        assert_eq!(show("accessTokenNumUsesLimit", &json!(1000)), "1000");
        assert_eq!(show("accessTokenPeriod", &json!(0)), "0 (not periodic)");
    }

    /// Lists are compared as sets of entries: the same entries in another order are no change,
    /// and every entry removed, added or kept is named whole.
    #[test]
    fn lists_name_every_entry() {
        assert!(diff("allowedUsernames", &json!("a, b"), &json!("b,a")).is_none());
        let long = "intruder@other-proj.iam.gserviceaccount.com";
        let d = diff(
            "allowedServiceAccounts",
            &json!(format!("ci@corp-prod.iam.gserviceaccount.com, {long}")),
            &json!("ci@corp-prod.iam.gserviceaccount.com"),
        );
        let Some(FieldDiff {
            change: Change::List(l),
            ..
        }) = d
        else {
            panic!("a list diff: {d:?}");
        };
        assert_eq!(l.removed, vec![long.to_owned()]);
        assert_eq!(l.kept, vec!["ci@corp-prod.iam.gserviceaccount.com"]);
        assert!(l.added.is_empty() && l.empty_is_anyone.is_none());
        let d = diff(
            "accessTokenTrustedIps",
            &json!([{"ipAddress": "10.0.0.0/8"}]),
            &json!([{"ipAddress": "0.0.0.0/0"}, {"ipAddress": "10.0.0.0/8"}]),
        );
        let Some(FieldDiff {
            change: Change::List(l),
            ..
        }) = d
        else {
            panic!("a list diff: {d:?}");
        };
        assert_eq!(
            (l.added, l.kept),
            (vec!["0.0.0.0/0".into()], vec!["10.0.0.0/8".into()])
        );
    }

    /// An allowlist that was (or becomes) empty is marked: empty means anyone may log in.
    #[test]
    fn empty_allowlists_are_marked() {
        let d = diff("allowedUsernames", &Value::Null, &json!("svc-deploy"));
        assert!(matches!(
            d.map(|d| d.change),
            Some(Change::List(ListChange {
                empty_is_anyone: Some(Side::From),
                ..
            }))
        ));
        let d = diff("allowedUsernames", &json!("svc-deploy"), &Value::Null);
        assert!(matches!(
            d.map(|d| d.change),
            Some(Change::List(ListChange {
                empty_is_anyone: Some(Side::To),
                ..
            }))
        ));
    }
}
