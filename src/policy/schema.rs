//! The JSON Schema (draft 2020-12) of policy version 1, for editors that complete and check
//! YAML (`idguard schema`). Built from the loader's own key lists, auth methods, severities,
//! trusted-IP fields and allowlist fields, so a key the loader learns appears here too.
//!
//! The schema says what a single file can say: keys, types, enums, required keys, and the
//! shape of durations, dates, patterns and rule ids. What needs the whole policy or arithmetic
//! stays with `idguard validate`: unique rule ids, exemptions naming existing rules, fallback
//! CIDRs inside the allowed ones, fields the rule's auth methods have, `default` entries
//! matching `allowed` (and one only for `allowedAudience`), the range of a duration written
//! with units, a CIDR's syntax and a real calendar day. The schema never refuses a policy the
//! loader accepts (see the tests).

use serde_json::{Map, Value, json};

use super::TrustedIpField;
use super::duration::MAX_SECONDS;
use super::validate::{
    ALLOWLIST_KEYS, APPLIES_KEYS, CHECKS, DEFAULTS_KEYS, EXEMPTION_KEYS, IPS_KEYS, RULE_KEYS,
    TOKEN_KEYS, TOP_KEYS, USAGE_KEYS,
};
use crate::finding::Severity;
use crate::model::AuthMethod;

/// The schema's identifier (a name, not a place: nothing is fetched).
const ID: &str = "urn:idguard:policy:v1";

/// The schema as pretty-printed JSON, ending with a newline.
pub fn schema_json() -> String {
    let mut text = serde_json::to_string_pretty(&schema()).unwrap_or_default();
    text.push('\n');
    text
}

/// The schema of policy version 1.
pub fn schema() -> Value {
    let mut top = object(
        TOP_KEYS,
        &["version", "rules"],
        &[
            (
                "version",
                "The format version: the integer 1.",
                json!({"const": 1}),
            ),
            (
                "name",
                "Free text for readers (idguard does not use it).",
                text(),
            ),
            (
                "defaults",
                "Defaults for every rule: only `severity`.",
                object(
                    DEFAULTS_KEYS,
                    &[],
                    &[(
                        "severity",
                        "The severity of rules that do not set one; default `medium`.",
                        severity(),
                    )],
                ),
            ),
            (
                "rules",
                "The rules, in order (at least one); results come out in this order.",
                json!({"type": "array", "minItems": 1, "items": rule()}),
            ),
            (
                "exemptions",
                "Accepted failures: each covers an identity for some or every rule until it \
                 expires.",
                json!({"type": "array", "items": exemption()}),
            ),
        ],
    );
    if let Value::Object(map) = &mut top {
        map.insert(
            "$schema".into(),
            json!("https://json-schema.org/draft/2020-12/schema"),
        );
        map.insert("$id".into(), json!(ID));
        map.insert("title".into(), json!("idguard policy, version 1"));
        map.insert(
            "description".into(),
            json!(
                "How the auth configurations of Infisical machine identities must look. \
                 `idguard validate FILE` checks a policy fully."
            ),
        );
    }
    top
}

/// A closed mapping of `keys` (the loader's list, in its order): each key takes its schema
/// and description from `spec`; keys not in `required` may also be null (`key: ~` is the same
/// as leaving it out).
fn object(keys: &[&str], required: &[&str], spec: &[(&str, &str, Value)]) -> Value {
    let mut properties = Map::new();
    for key in keys {
        let mut schema = match spec.iter().find(|(k, _, _)| k == key) {
            Some((_, description, schema)) => with_description(schema.clone(), description),
            None => json!({}),
        };
        if !required.contains(key) {
            schema = nullable(schema);
        }
        properties.insert((*key).to_owned(), schema);
    }
    json!({
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": false,
    })
}

/// `schema` with `description` (none when empty: the schema carries its own).
fn with_description(mut schema: Value, description: &str) -> Value {
    if let Value::Object(map) = &mut schema
        && !description.is_empty()
    {
        map.insert("description".into(), json!(description));
    }
    schema
}

/// `schema` that also accepts null.
fn nullable(mut schema: Value) -> Value {
    let Value::Object(map) = &mut schema else {
        return schema;
    };
    if let Some(Value::Array(values)) = map.get_mut("enum") {
        values.push(Value::Null);
    } else if let Some(t) = map.get_mut("type") {
        let mut types = match t.take() {
            Value::Array(types) => types,
            one => vec![one],
        };
        types.push(json!("null"));
        *t = Value::Array(types);
    }
    schema
}

/// Where the loader expects a string it also takes an integer, as its decimal text.
fn text() -> Value {
    json!({"type": ["string", "integer"]})
}

/// Text with at least one non-blank character.
fn non_blank() -> Value {
    json!({"type": ["string", "integer"], "pattern": "\\S"})
}

fn severity() -> Value {
    json!({"enum": Severity::ALL.map(Severity::as_str)})
}

/// An identity or allowlist pattern: `*` matches any run of characters; not empty, no comma.
fn pattern() -> Value {
    json!({"type": ["string", "integer"], "pattern": "^[^,]+$"})
}

fn patterns(description: &str, min_items: usize) -> Value {
    json!({
        "type": "array",
        "minItems": min_items,
        "items": pattern(),
        "description": description,
    })
}

/// Seconds (an integer, or a string of digits) or a duration with units, largest first.
fn duration() -> Value {
    json!({
        "type": ["string", "integer"],
        "pattern": "^\\s*(?=[0-9])([0-9]+|([0-9]+d)?([0-9]+h)?([0-9]+m)?([0-9]+s)?)\\s*$",
        "minimum": 1,
        "maximum": MAX_SECONDS,
        "examples": ["90s", "15m", "1h", "30d", "1h30m"],
    })
}

fn cidrs(description: &str) -> Value {
    json!({
        "type": "array",
        "minItems": 1,
        "items": {"type": "string"},
        "description": description,
    })
}

fn rule() -> Value {
    let methods: Vec<&str> = AuthMethod::KNOWN.iter().map(AuthMethod::as_str).collect();
    let mut rule = object(
        RULE_KEYS,
        &["id"],
        &[
            (
                "id",
                "Unique in the policy, `[a-z0-9-]+`; names the rule in reports and exemptions.",
                json!({"type": ["string", "integer"], "pattern": "^[a-z0-9-]+$"}),
            ),
            (
                "description",
                "Free text for readers, shown with the rule in reports.",
                text(),
            ),
            (
                "severity",
                "The rule's severity; else `defaults.severity`; else `medium`.",
                severity(),
            ),
            (
                "applies_to",
                "Which identities and auth methods the rule covers; absent: every identity, \
                 every auth method.",
                object(
                    APPLIES_KEYS,
                    &[],
                    &[
                        (
                            "auth_methods",
                            "The rule covers only these methods; absent: every method, \
                             including methods this version of idguard does not know.",
                            json!({"type": "array", "minItems": 1, "items": {"enum": methods}}),
                        ),
                        (
                            "identities",
                            "The rule covers only identities one pattern matches (a glob on \
                             the name, or exactly the id); absent: every identity.",
                            patterns("", 1),
                        ),
                        (
                            "exclude_identities",
                            "Identities excluded even when `identities` matches them \
                             (exclusion wins).",
                            patterns("", 0),
                        ),
                    ],
                ),
            ),
            (
                "access_token",
                "Bounds on token lifetime and uses.",
                access_token(),
            ),
            (
                "trusted_ips",
                "Where tokens and client secrets may be used from: every entry of a judged \
                 field must lie inside one of `allowed_cidrs`.",
                trusted_ips(),
            ),
            (
                "allowlists",
                "The method-specific allowlists (who may log in), at most one entry per field.",
                json!({"type": "array", "items": allowlist()}),
            ),
            (
                "usage",
                "Whether the identity is still in use; must be the rule's only check.",
                object(
                    USAGE_KEYS,
                    &["max_idle"],
                    &[(
                        "max_idle",
                        "How long an identity may go without a login (or, never logged in, \
                         since it was added), e.g. `90d`.",
                        duration(),
                    )],
                ),
            ),
        ],
    );
    if let Value::Object(map) = &mut rule {
        map.insert("allOf".into(), json!([at_least_one_check(), usage_alone()]));
    }
    rule
}

/// A rule writes at least one check with content (`allowlists: []` alone checks nothing).
fn at_least_one_check() -> Value {
    let any: Vec<Value> = CHECKS
        .iter()
        .map(|check| {
            json!({
                "required": [check],
                "properties": {
                    (*check): {"not": {"type": "null"}, "minProperties": 1, "minItems": 1}
                },
            })
        })
        .collect();
    json!({"anyOf": any})
}

/// `usage` is judged from the identity listing, not from a config: no other check beside it.
fn usage_alone() -> Value {
    let Some((usage, others)) = CHECKS.split_last() else {
        return json!({});
    };
    let nulls: Map<String, Value> = others
        .iter()
        .map(|k| ((*k).to_owned(), json!({"type": "null"})))
        .collect();
    json!({
        "if": {"required": [usage], "properties": {(*usage): {"not": {"type": "null"}}}},
        "then": {"properties": nulls},
    })
}

fn access_token() -> Value {
    let mut check = object(
        TOKEN_KEYS,
        &[],
        &[
            (
                "max_ttl",
                "The effective TTL (the period of a periodic token) is at most this.",
                duration(),
            ),
            (
                "max_max_ttl",
                "The effective max TTL is at most this (periodic tokens renew forever and fail \
                 it unless `allow_periodic: true`).",
                duration(),
            ),
            (
                "max_uses",
                "`accessTokenNumUsesLimit` is not 0 (unlimited) and at most this.",
                json!({"type": "integer", "minimum": 1, "maximum": u32::MAX}),
            ),
            (
                "allow_periodic",
                "`false`: tokens are not periodic; `true`: periodic tokens are accepted.",
                json!({"type": "boolean"}),
            ),
        ],
    );
    if let Value::Object(map) = &mut check {
        // Written keys that are all null check nothing.
        map.insert(
            "not".into(),
            json!({
                "type": "object",
                "minProperties": 1,
                "additionalProperties": {"type": "null"},
            }),
        );
    }
    check
}

fn trusted_ips() -> Value {
    let fields = TrustedIpField::ALL.map(TrustedIpField::as_str);
    object(
        IPS_KEYS,
        &["allowed_cidrs"],
        &[
            (
                "allowed_cidrs",
                "",
                cidrs("CIDRs or addresses; every entry of a judged field must lie inside one."),
            ),
            (
                "fields",
                "Which lists to judge: `accessTokenTrustedIps` (every method), \
                 `clientSecretTrustedIps` (universal-auth only); default both.",
                json!({"type": "array", "minItems": 1, "items": {"enum": fields}}),
            ),
            (
                "fallback_cidrs",
                "",
                cidrs(
                    "What remediation writes when no entry is left; each inside \
                     `allowed_cidrs`.",
                ),
            ),
        ],
    )
}

fn allowlist() -> Value {
    let mut fields: Vec<&str> = AuthMethod::KNOWN
        .iter()
        .flat_map(|m| m.allowlist_fields().iter().copied())
        .collect();
    fields.sort_unstable();
    fields.dedup();
    let mut entry = object(
        ALLOWLIST_KEYS,
        &["field"],
        &[
            (
                "field",
                "The Infisical allowlist field; one of the rule's auth methods must have it.",
                json!({"enum": fields}),
            ),
            (
                "required",
                "Fail when the list is null or empty.",
                json!({"type": "boolean"}),
            ),
            (
                "allowed",
                "",
                patterns("Patterns every entry of the list must match.", 1),
            ),
            (
                "default",
                "What remediation writes when nothing is left; each entry matches `allowed`.",
                json!({
                    "type": "array",
                    "minItems": 1,
                    "items": {"type": ["string", "integer"], "pattern": "^[^,]*[^,\\s][^,]*$"},
                }),
            ),
        ],
    );
    if let Value::Object(map) = &mut entry {
        // Neither `required: true` nor `allowed`: the entry checks nothing.
        map.insert(
            "anyOf".into(),
            json!([
                {"required": ["required"], "properties": {"required": {"const": true}}},
                {"required": ["allowed"], "properties": {"allowed": {"type": "array"}}},
            ]),
        );
    }
    entry
}

fn exemption() -> Value {
    object(
        EXEMPTION_KEYS,
        &["identity", "reason", "expires"],
        &[
            (
                "identity",
                "An exact identity id or exact identity name (no patterns, case-sensitive).",
                non_blank(),
            ),
            (
                "rules",
                "The rules it covers (ids of this policy's rules); absent: every rule.",
                json!({"type": "array", "minItems": 1, "items": text()}),
            ),
            ("reason", "Why; shown in reports.", non_blank()),
            ("owner", "Who owns it; shown in reports.", text()),
            (
                "expires",
                "The first UTC day on which it no longer applies, `YYYY-MM-DD`.",
                json!({
                    "type": "string",
                    "format": "date",
                    "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$",
                }),
            ),
        ],
    )
}

#[cfg(test)]
mod tests;
