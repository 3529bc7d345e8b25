//! The plan as a person reads it on a terminal: per config, the identity (name and id), the
//! auth method and the rules fixed, then only the fields whose value changes (`from → to`,
//! durations as in the reports, list entries removed `- x` and added `+ y`), then the
//! violations the change fixes; after the changes, the manual items with their reasons.
//!
//! Values are never shortened: long ones wrap at entry boundaries to the given width (the
//! terminal's, else 100 columns). Everything that came from the server goes through
//! `display::safe`. The building blocks (a change's header, its field lines, wrapping) are
//! shared with the rollback preview. Pure: the caller prints the text.

use std::fmt::Write as _;

use super::field_diff::{self, Change, FieldDiff, ListChange, Side};
use super::plan::{ManualItem, PlannedChange, PlannedViolation};
use crate::display::safe;

/// The width used when stderr is not a terminal.
pub const DEFAULT_WIDTH: usize = 100;

/// Narrower terminals still get this many columns (lines are wrapped, never cut).
const MIN_WIDTH: usize = 40;

/// The width of the terminal on stderr, else [`DEFAULT_WIDTH`].
pub fn terminal_width() -> usize {
    terminal_size::terminal_size_of(std::io::stderr())
        .map(|(w, _)| usize::from(w.0).max(MIN_WIDTH))
        .unwrap_or(DEFAULT_WIDTH)
}

/// The diff of `changes`, then the `manual` items, wrapped to `width` columns.
pub fn render(changes: &[PlannedChange], manual: &[ManualItem], width: usize) -> String {
    let mut out = String::new();
    for c in changes {
        out.push_str(&render_change(c, width));
    }
    for m in manual {
        let _ = writeln!(out, "{}", manual_line(m));
    }
    out
}

/// One planned change: header, changed fields, violations fixed.
pub fn render_change(c: &PlannedChange, width: usize) -> String {
    let mut out = header(
        &c.identity_name,
        &c.identity_id,
        &c.auth_method,
        &format!("  [{}]", safe(&c.rules_fixed.join(", "))),
    );
    for d in field_diff::diffs(&c.before, &c.after) {
        for line in field_lines(&d, width) {
            let _ = writeln!(out, "{line}");
        }
    }
    for v in &c.violations {
        for line in violation_lines(v, width) {
            let _ = writeln!(out, "{line}");
        }
    }
    out
}

/// `~ name (id) method{suffix}` and a line break; `suffix` is printed as given.
pub fn header(name: &str, id: &str, method: &str, suffix: &str) -> String {
    format!("~ {} ({}) {}{suffix}\n", safe(name), safe(id), safe(method))
}

/// A manual item on one line: who, which rule, and why a person must fix it.
pub fn manual_line(m: &ManualItem) -> String {
    format!(
        "! {} ({}) {} [{}]: manual: {}",
        safe(&m.identity_name),
        safe(&m.identity_id),
        safe(&m.auth_method),
        safe(&m.rule),
        safe(&m.reason)
    )
}

/// The lines of one changed field, indented by four columns.
pub fn field_lines(d: &FieldDiff, width: usize) -> Vec<String> {
    let field = safe(&d.field);
    match &d.change {
        Change::Value { from, to } => {
            let (from, to) = (safe(from), safe(to));
            let one = format!("    {field}: {from} → {to}");
            if one.chars().count() <= width {
                vec![one]
            } else {
                vec![format!("    {field}: {from}"), format!("        → {to}")]
            }
        }
        Change::List(l) => list_lines(&field, l, width),
    }
}

fn list_lines(field: &str, l: &ListChange, width: usize) -> Vec<String> {
    let note = match l.empty_is_anyone {
        Some(Side::From) => " (was empty: anyone)",
        Some(Side::To) => " (becomes empty: anyone)",
        None => "",
    };
    let mut lines = vec![format!("    {field}:{note}")];
    lines.extend(l.removed.iter().map(|e| format!("      - {}", safe(e))));
    lines.extend(l.added.iter().map(|e| format!("      + {}", safe(e))));
    if !l.kept.is_empty() {
        let kept: Vec<String> = l.kept.iter().map(|e| safe(e).into_owned()).collect();
        lines.extend(wrap_list("      kept: ", &kept, width));
    }
    lines
}

/// The lines of one violation a change fixes, wrapped between entries of the observed and
/// expected values.
fn violation_lines(v: &PlannedViolation, width: usize) -> Vec<String> {
    let mut pieces = vec![
        format!("{}/{}", safe(&v.rule), safe(&v.check)),
        format!("{}:", safe(&v.field)),
    ];
    pieces.extend(list_pieces(&safe(&v.observed)));
    if let Some(last) = pieces.last_mut() {
        last.push(';');
    }
    pieces.push("expected".into());
    pieces.extend(list_pieces(&safe(&v.expected)));
    wrap("    why: ", "         ", &pieces, width)
}

/// The entries of a `, `-separated text, each but the last with its comma.
fn list_pieces(text: &str) -> Vec<String> {
    let entries: Vec<&str> = text.split(", ").collect();
    let last = entries.len().saturating_sub(1);
    entries
        .iter()
        .enumerate()
        .map(|(i, e)| {
            if i < last {
                format!("{e},")
            } else {
                (*e).to_owned()
            }
        })
        .collect()
}

/// `entries` as one comma-separated list, wrapped after `prefix` between entries.
pub fn wrap_list(prefix: &str, entries: &[String], width: usize) -> Vec<String> {
    let pieces = list_pieces(&entries.join(", "));
    wrap(prefix, &" ".repeat(prefix.chars().count()), &pieces, width)
}

/// `prefix` then `pieces` joined by spaces, broken into lines of at most `width` columns
/// between pieces (a piece longer than a line gets a line of its own, whole); continuation
/// lines start with `indent`.
pub fn wrap(prefix: &str, indent: &str, pieces: &[String], width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = prefix.to_owned();
    let mut empty = true;
    for piece in pieces {
        if !empty && line.chars().count() + 1 + piece.chars().count() > width {
            lines.push(std::mem::replace(&mut line, indent.to_owned()));
            empty = true;
        }
        if !empty {
            line.push(' ');
        }
        line.push_str(piece);
        empty = false;
    }
    lines.push(line);
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Map, Value, json};

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    fn change(
        name: &str,
        method: &str,
        rules: &[&str],
        before: Value,
        after: Value,
        violations: Vec<PlannedViolation>,
    ) -> PlannedChange {
        PlannedChange {
            change_id: format!("c-{name}"),
            identity_id: format!("{name}-id"),
            identity_name: name.into(),
            auth_method: method.into(),
            rules_fixed: rules.iter().map(|r| (*r).to_owned()).collect(),
            violations,
            before: map(before),
            after: map(after.clone()),
            planned_from: Map::new(),
            patch: map(after),
            config_sha256: String::new(),
            held: Default::default(),
        }
    }

    fn violation(
        rule: &str,
        check: &str,
        field: &str,
        observed: &str,
        expected: &str,
    ) -> PlannedViolation {
        PlannedViolation {
            rule: rule.into(),
            check: check.into(),
            field: field.into(),
            observed: observed.into(),
            expected: expected.into(),
        }
    }

    /// The plan diff: no line for a field resent unchanged, durations as in the reports,
    /// allowlists in full (wrapped between entries at 80 columns, never cut), every entry
    /// removed or added marked, manual items with their reasons, hostile names escaped.
    #[test]
    fn plan_diff() {
        let sa = "ci@corp-prod.iam.gserviceaccount.com, etl@corp-prod.iam.gserviceaccount.com, \
                  reports@corp-prod.iam.gserviceaccount.com, backup@corp-prod.iam.gserviceaccount.com";
        let changes = vec![
            change(
                "batch-reports-0000",
                "universal-auth",
                &["token-lifetime", "network"],
                json!({"accessTokenTTL": 0, "accessTokenMaxTTL": 86400,
                       "clientSecretTrustedIps": [{"ipAddress": "0.0.0.0/0"}, {"ipAddress": "::/0"}]}),
                json!({"accessTokenTTL": 3600, "accessTokenMaxTTL": 86400,
                       "clientSecretTrustedIps": [{"ipAddress": "10.0.0.0/8"}, {"ipAddress": "fd00::/8"}]}),
                vec![
                    violation(
                        "token-lifetime",
                        "max_ttl",
                        "accessTokenTTL",
                        "0 (unlimited)",
                        "<= 3600s (1h)",
                    ),
                    violation(
                        "network",
                        "trusted_ips",
                        "clientSecretTrustedIps",
                        "0.0.0.0/0, ::/0",
                        "inside 10.0.0.0/8, fd00::/8",
                    ),
                ],
            ),
            change(
                "batch-reports-0040",
                "gcp-auth",
                &["identity-allowlists"],
                json!({"allowedServiceAccounts": format!("{sa}, intruder@other-proj.iam.gserviceaccount.com")}),
                json!({"allowedServiceAccounts": sa}),
                vec![violation(
                    "identity-allowlists",
                    "allowed",
                    "allowedServiceAccounts",
                    "intruder@other-proj.iam.gserviceaccount.com",
                    "entries in [*@corp-prod.iam.gserviceaccount.com]",
                )],
            ),
            change(
                "evil\u{1b}[31m\nidguard: forged",
                "oci-auth",
                &["identity-allowlists", "token-lifetime"],
                json!({"allowedUsernames": null, "accessTokenTTL": 600, "accessTokenMaxTTL": 0}),
                json!({"allowedUsernames": "svc-deploy", "accessTokenTTL": 600, "accessTokenMaxTTL": 86400}),
                vec![],
            ),
        ];
        let manual = vec![ManualItem {
            identity_id: "k8s-id".into(),
            identity_name: "k8s-runner".into(),
            auth_method: "kubernetes-auth".into(),
            rule: "identity-allowlists".into(),
            reason: "no entry is left and the rule has no `default`".into(),
        }];
        let text = render(&changes, &manual, 80);
        assert!(!text.contains("86400s (24h) → 86400s (24h)"), "{text}");
        for entry in sa.split(", ") {
            assert!(text.contains(entry), "{entry} shown whole: {text}");
        }
        let indented = text.lines().filter(|l| l.starts_with("      "));
        assert!(indented.clone().all(|l| l.chars().count() <= 80), "{text}");
        insta::assert_snapshot!(text);
    }

    /// Wrapping keeps every piece whole, even one longer than the line.
    #[test]
    fn wrap_never_cuts_a_piece() {
        let pieces: Vec<String> = ["aaaa", "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", "cc"]
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        assert_eq!(
            wrap_list("x: ", &pieces, 12),
            vec!["x: aaaa,", "   bbbbbbbbbbbbbbbbbbbbbbbbbbbbbb,", "   cc"]
        );
        assert_eq!(wrap_list("x: ", &pieces[..1], 12), vec!["x: aaaa"]);
        assert_eq!(wrap("ab ", "", &pieces[..1], 2), vec!["ab aaaa"]);
    }
}
