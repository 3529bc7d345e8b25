//! Reads a cases file into a [`CaseFile`] with the policy loader's YAML reader and shape
//! checks: every problem is reported at once with line:column, unknown keys, rule ids and
//! status words with a "did you mean". The config is only turned into JSON values here; it
//! is decoded (like a live GET answer) when the case is judged.

use std::collections::HashMap;

use jiff::Timestamp;
use jiff::civil::Date;
use serde_json::{Map, Number, Value};

use super::{Case, CaseFile, Expectation, Expected, PLACEHOLDER_ID};
use crate::model::{AuthMethod, Identity, IdentityScope, LastLogin, Usage};
use crate::policy::node::{Kind, Node};
use crate::policy::suggest::did_you_mean;
use crate::policy::validate::{Ctx, fields, parse_date, peek_str, short, string, unknown};
use crate::policy::{Diagnostic, Policy, read_tree};

const TOP_KEYS: &[&str] = &["version", "today", "cases"];
const CASE_KEYS: &[&str] = &[
    "name",
    "identity",
    "auth_method",
    "config",
    "last_login",
    "created_at",
    "expect",
];
const IDENTITY_KEYS: &[&str] = &["name", "id"];

/// Parses a cases file for `policy`; `today` is the day used when the file names none.
/// Every problem comes back, sorted by position.
pub fn parse(
    bytes: &[u8],
    origin: &str,
    policy: &Policy,
    today: Date,
) -> Result<CaseFile, Vec<Diagnostic>> {
    let (_, root) = read_tree(bytes, origin, "cases file").map_err(|d| vec![d])?;
    let mut out = Vec::new();
    let mut ignored = Vec::new();
    let ctx = &mut Ctx::new(origin, today, &mut out, &mut ignored);
    let file = read_file(ctx, &root, origin, policy, today);
    match file {
        Some(file) if out.is_empty() => Ok(file),
        _ => {
            if out.is_empty() {
                out.push(Diagnostic {
                    origin: origin.to_owned(),
                    line: 1,
                    column: 1,
                    message: "the cases file is invalid".to_owned(),
                });
            }
            out.sort_by_key(|d| (d.line, d.column));
            out.dedup();
            Err(out)
        }
    }
}

/// [`parse`] judged on today's UTC day unless the file names one.
pub fn parse_with_today(
    bytes: &[u8],
    origin: &str,
    policy: &Policy,
) -> Result<CaseFile, Vec<Diagnostic>> {
    let today = Timestamp::now()
        .to_zoned_datetime(jiff::tz::TimeZone::UTC)
        .date();
    parse(bytes, origin, policy, today)
}

fn read_file(
    ctx: &mut Ctx,
    root: &Node,
    origin: &str,
    policy: &Policy,
    today: Date,
) -> Option<CaseFile> {
    if root.kind == Kind::Null {
        ctx.err(
            root,
            "the cases file is empty; it needs `version: 1` and `cases`",
        );
        return None;
    }
    let top = fields(ctx, root, TOP_KEYS, "cases file")?;
    if let Some(v) = top.require(ctx, "version", "cases file")
        && v.kind != Kind::Int(1)
    {
        ctx.err(v, "version: this idguard reads `version: 1`");
    }
    let today = match top.get("today") {
        Some(n) => date(ctx, n, "today").unwrap_or(today),
        None => today,
    };
    let mut cases = Vec::new();
    let mut names: HashMap<String, usize> = HashMap::new();
    if let Some(list) = top.require(ctx, "cases", "cases file") {
        match &list.kind {
            Kind::Seq(items) if items.is_empty() => ctx.err(list, "cases: the list is empty"),
            Kind::Seq(items) => {
                for item in items {
                    let Some(case) = read_case(ctx, item, policy) else {
                        continue;
                    };
                    match names.get(&case.name) {
                        Some(first) => ctx.err(
                            item,
                            format!(
                                "case `{}`: duplicate name (first at line {first})",
                                short(&case.name)
                            ),
                        ),
                        None => {
                            names.insert(case.name.clone(), case.line);
                            cases.push(case);
                        }
                    }
                }
            }
            _ => ctx.err(
                list,
                format!("cases: expected a list, found {}", list.type_name()),
            ),
        }
    }
    Some(CaseFile {
        origin: origin.to_owned(),
        today,
        cases,
    })
}

fn read_case(ctx: &mut Ctx, node: &Node, policy: &Policy) -> Option<Case> {
    let what = match peek_str(node, "name") {
        Some(n) => format!("case `{}`", short(n)),
        None => "case".to_owned(),
    };
    let f = fields(ctx, node, CASE_KEYS, &what)?;
    let name = f
        .require(ctx, "name", &what)
        .and_then(|n| string(ctx, n, &format!("{what}.name")));
    let method = f
        .require(ctx, "auth_method", &what)
        .and_then(|n| auth_method(ctx, n, &what));
    let (id, identity_name) = match f.require(ctx, "identity", &what) {
        Some(n) => identity(ctx, n, &what),
        None => (None, None),
    };
    let config = f
        .require(ctx, "config", &what)
        .and_then(|n| config(ctx, n, &what));
    let last_login = match f.get("last_login") {
        None => Some(LastLogin::NotReported),
        Some(n) if n.kind == Kind::Str("never".into()) => Some(LastLogin::Never),
        Some(n) => timestamp(ctx, n, &format!("{what}.last_login"))
            .map(|time| LastLogin::At { time, method: None }),
    };
    let created_at = match f.get("created_at") {
        None => Some(None),
        Some(n) => timestamp(ctx, n, &format!("{what}.created_at")).map(Some),
    };
    let expect = f
        .require(ctx, "expect", &what)
        .and_then(|n| expectations(ctx, n, &what, policy));
    let method = method?;
    Some(Case {
        name: name?,
        line: node.line,
        identity: Identity {
            id: id.unwrap_or_else(|| PLACEHOLDER_ID.to_owned()),
            name: identity_name?,
            auth_methods: vec![method.clone()],
            scope: IdentityScope::Organization,
            usage: Usage {
                created_at: created_at?,
                last_login: last_login?,
            },
        },
        method,
        config: config?,
        expect: expect?,
    })
}

/// `identity`: its id (optional) and name (required).
fn identity(ctx: &mut Ctx, node: &Node, what: &str) -> (Option<String>, Option<String>) {
    let what = format!("{what}.identity");
    let Some(f) = fields(ctx, node, IDENTITY_KEYS, &what) else {
        return (None, None);
    };
    let id = f
        .get("id")
        .and_then(|n| string(ctx, n, &format!("{what}.id")));
    let name = f
        .require(ctx, "name", &what)
        .and_then(|n| string(ctx, n, &format!("{what}.name")));
    (id, name)
}

/// `auth_method`: a known method, or an unknown name that is no likely typo of a known one.
fn auth_method(ctx: &mut Ctx, node: &Node, what: &str) -> Option<AuthMethod> {
    let name = string(ctx, node, &format!("{what}.auth_method"))?;
    if let Some(m) = AuthMethod::parse_known(&name) {
        return Some(m);
    }
    let known: Vec<&str> = AuthMethod::KNOWN.iter().map(AuthMethod::as_str).collect();
    match did_you_mean(&name, &known) {
        Some(c) => {
            ctx.err(
                node,
                format!("{what}.auth_method: unknown method `{name}`; did you mean `{c}`?"),
            );
            None
        }
        // A method this idguard does not know, judged as an audit judges one.
        None => Some(AuthMethod::parse(&name)),
    }
}

/// `config`: a mapping, turned into JSON values.
fn config(ctx: &mut Ctx, node: &Node, what: &str) -> Option<Map<String, Value>> {
    let what = format!("{what}.config");
    if !matches!(node.kind, Kind::Map(_)) {
        ctx.err(
            node,
            format!("{what}: expected a mapping, found {}", node.type_name()),
        );
        return None;
    }
    match json(ctx, node, &what)? {
        Value::Object(map) => Some(map),
        _ => None,
    }
}

/// A YAML value as JSON: mapping keys must be strings, numbers must fit JSON's.
fn json(ctx: &mut Ctx, node: &Node, what: &str) -> Option<Value> {
    Some(match &node.kind {
        Kind::Null => Value::Null,
        Kind::Bool(b) => Value::Bool(*b),
        Kind::Str(s) => Value::String(s.clone()),
        Kind::Int(i) => match (i64::try_from(*i), u64::try_from(*i)) {
            (Ok(n), _) => Value::Number(n.into()),
            (_, Ok(n)) => Value::Number(n.into()),
            _ => {
                ctx.err(node, format!("{what}: the integer {i} is out of range"));
                return None;
            }
        },
        Kind::Float(x) => match Number::from_f64(*x) {
            Some(n) => Value::Number(n),
            None => {
                ctx.err(node, format!("{what}: `{x}` is not a JSON number"));
                return None;
            }
        },
        Kind::Seq(items) => {
            let values: Vec<Option<Value>> = items.iter().map(|n| json(ctx, n, what)).collect();
            Value::Array(values.into_iter().collect::<Option<_>>()?)
        }
        Kind::Map(entries) => {
            let mut map = Map::new();
            let mut ok = true;
            for (k, v) in entries {
                let Kind::Str(key) = &k.kind else {
                    ctx.err(
                        k,
                        format!("{what}: keys must be strings, found {}", k.type_name()),
                    );
                    ok = false;
                    continue;
                };
                if map.contains_key(key) {
                    ctx.err(k, format!("{what}: duplicate key `{key}`"));
                    ok = false;
                    continue;
                }
                match json(ctx, v, &format!("{what}.{key}")) {
                    Some(value) => {
                        map.insert(key.clone(), value);
                    }
                    None => ok = false,
                }
            }
            if !ok {
                return None;
            }
            Value::Object(map)
        }
    })
}

/// `expect`: rule id → status word; every rule id is one of the policy's.
fn expectations(
    ctx: &mut Ctx,
    node: &Node,
    what: &str,
    policy: &Policy,
) -> Option<Vec<Expectation>> {
    let what = format!("{what}.expect");
    let Kind::Map(entries) = &node.kind else {
        ctx.err(
            node,
            format!(
                "{what}: expected a mapping of rule id to status, found {}",
                node.type_name()
            ),
        );
        return None;
    };
    if entries.is_empty() {
        ctx.err(
            node,
            format!("{what}: no expectation (write `rule-id: pass`, ...)"),
        );
        return None;
    }
    let rule_ids: Vec<&str> = policy.rules.iter().map(|r| r.id.as_str()).collect();
    let mut out = Vec::new();
    let mut ok = true;
    for (k, v) in entries {
        let rule = string(ctx, k, &what);
        let status = string(ctx, v, &what);
        let (Some(rule), Some(status)) = (rule, status) else {
            ok = false;
            continue;
        };
        if !rule_ids.contains(&rule.as_str()) {
            ctx.err(k, format!("{what}: {}", unknown("rule", &rule, &rule_ids)));
            ok = false;
        } else if out.iter().any(|e: &Expectation| e.rule == rule) {
            ctx.err(k, format!("{what}: duplicate rule `{rule}`"));
            ok = false;
        }
        match Expected::parse(&status) {
            Some(status) => out.push(Expectation { rule, status }),
            None => {
                ctx.err(
                    v,
                    format!(
                        "{what}.{rule}: {}",
                        unknown("status", &status, &Expected::WORDS)
                    ),
                );
                ok = false;
            }
        }
    }
    ok.then_some(out)
}

/// A strict `YYYY-MM-DD` day.
fn date(ctx: &mut Ctx, node: &Node, what: &str) -> Option<Date> {
    let text = string(ctx, node, what)?;
    let day = parse_date(&text);
    if day.is_none() {
        ctx.err(
            node,
            format!("{what}: expected a date YYYY-MM-DD, found `{text}`"),
        );
    }
    day
}

/// An RFC 3339 time with its offset (`2026-11-30T08:00:00Z`).
fn timestamp(ctx: &mut Ctx, node: &Node, what: &str) -> Option<Timestamp> {
    let text = string(ctx, node, what)?;
    let time = text.parse::<Timestamp>().ok();
    if time.is_none() {
        ctx.err(
            node,
            format!("{what}: expected a time like 2026-11-30T08:00:00Z, found `{text}`"),
        );
    }
    time
}
