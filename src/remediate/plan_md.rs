//! `plan.md`: the plan for a reviewer, written beside `plan.json`. The same content as the
//! terminal diff (`plan_view`): per config the identity, method, rules fixed with their
//! severity, only the fields whose value changes (durations as in the reports, list entries
//! removed and added named whole) and the violations fixed; then the manual items with their
//! reasons, and the policy rules involved (id, severity, description). Notes the command adds
//! (a batch filter, the blast-radius guard) come first.
//!
//! Every value from the server or a file is escaped for Markdown (`report::markdown::escape`
//! after `display::safe`). Pure: the caller writes the file.

use std::fmt::Write as _;

use super::field_diff::{self, Change, Side};
use super::plan::Plan;
use crate::display::safe;
use crate::policy::Policy;
use crate::report::markdown;

/// Escapes server or file text for Markdown.
fn md(text: &str) -> String {
    markdown::escape(&safe(text))
}

/// The Markdown of `plan`, judged with `policy` (for severities and descriptions), with
/// `notes` at the top.
pub fn render(plan: &Plan, policy: &Policy, notes: &[String]) -> String {
    let mut out = String::from("# idguard remediation plan\n\n");
    let _ = writeln!(out, "| | |\n|---|---|");
    let _ = writeln!(out, "| organization | {} |", md(&plan.org_id));
    let _ = writeln!(out, "| server | {} |", md(&plan.api_url));
    let _ = writeln!(
        out,
        "| policy | {} (sha256 {}) |",
        md(&plan.policy.path),
        md(&plan.policy.sha256)
    );
    let _ = writeln!(out, "| created | {} |", md(&plan.created_at));
    let _ = writeln!(out, "| changes | {} config(s) |", plan.changes.len());
    let _ = writeln!(out, "| manual | {} item(s) |\n", plan.manual.len());
    for note in notes {
        let _ = writeln!(out, "> {}\n", md(note));
    }

    out.push_str("## Changes\n\n");
    if plan.changes.is_empty() {
        out.push_str("None.\n\n");
    }
    for (i, c) in plan.changes.iter().enumerate() {
        let _ = writeln!(
            out,
            "### {}. {} ({}), {}\n",
            i + 1,
            md(&c.identity_name),
            md(&c.identity_id),
            md(&c.auth_method)
        );
        let fixes: Vec<String> = c
            .rules_fixed
            .iter()
            .map(|r| match policy.rule(r) {
                Some(rule) => format!("{} ({})", md(r), rule.severity),
                None => md(r),
            })
            .collect();
        let _ = writeln!(out, "Fixes: {}\n", fixes.join(", "));
        for d in field_diff::diffs(&c.before, &c.after) {
            let field = md(&d.field);
            match d.change {
                Change::Value { from, to } => {
                    let _ = writeln!(out, "- {field}: {} → {}", md(&from), md(&to));
                }
                Change::List(l) => {
                    let note = match l.empty_is_anyone {
                        Some(Side::From) => " (was empty: anyone)",
                        Some(Side::To) => " (becomes empty: anyone)",
                        None => "",
                    };
                    let _ = writeln!(out, "- {field}:{note}");
                    for (mark, entries) in [("removed", &l.removed), ("added", &l.added)] {
                        for e in entries {
                            let _ = writeln!(out, "  - {mark}: {}", md(e));
                        }
                    }
                    if !l.kept.is_empty() {
                        let kept: Vec<String> = l.kept.iter().map(|e| md(e)).collect();
                        let _ = writeln!(out, "  - kept: {}", kept.join(", "));
                    }
                }
            }
        }
        if !c.violations.is_empty() {
            out.push_str("\nViolations fixed:\n\n");
        }
        for v in &c.violations {
            let _ = writeln!(
                out,
                "- {} / {} on {}: {}; expected {}",
                md(&v.rule),
                md(&v.check),
                md(&v.field),
                md(&v.observed),
                md(&v.expected)
            );
        }
        out.push('\n');
    }

    out.push_str("## Manual items\n\n");
    if plan.manual.is_empty() {
        out.push_str("None.\n\n");
    } else {
        out.push_str("| identity | id | method | rule | reason |\n|---|---|---|---|---|\n");
        for m in &plan.manual {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} |",
                md(&m.identity_name),
                md(&m.identity_id),
                md(&m.auth_method),
                md(&m.rule),
                md(&m.reason)
            );
        }
        out.push('\n');
    }

    out.push_str("## Rules involved\n\n");
    let involved: Vec<_> = policy
        .rules
        .iter()
        .filter(|r| {
            plan.changes.iter().any(|c| c.rules_fixed.contains(&r.id))
                || plan.manual.iter().any(|m| m.rule == r.id)
        })
        .collect();
    if involved.is_empty() {
        out.push_str("None.\n");
    } else {
        out.push_str("| rule | severity | description |\n|---|---|---|\n");
        for r in involved {
            let _ = writeln!(
                out,
                "| {} | {} | {} |",
                md(&r.id),
                r.severity,
                md(r.description.as_deref().unwrap_or(""))
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::remediate::plan::{ManualItem, PlanPolicy, PlannedChange, PlannedViolation};
    use serde_json::{Map, Value, json};

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    /// plan.md: the changed fields only (no line for the TTL partner), every allowlist entry
    /// removed or kept, the violations, the manual items with reasons, and the rules involved
    /// with severity and description; Markdown in server text is neutralised.
    #[test]
    fn plan_markdown() {
        let policy = crate::policy::parse(
            "version: 1
rules:
  - id: token-lifetime
    description: Access tokens are short-lived.
    severity: high
    access_token: { max_ttl: 1h, max_max_ttl: 24h }
  - id: identity-allowlists
    severity: high
    allowlists:
      - field: allowedUsernames
        required: true
        allowed: [\"svc-*\"]
  - id: unused
    access_token: { max_uses: 10 }
",
            "p.yaml",
        )
        .unwrap_or_else(|e| panic!("{e:?}"));
        let plan = Plan {
            schema_version: 2,
            kind: "idguard-plan".into(),
            created_at: "2026-12-01T00:00:00Z".into(),
            api_url: "http://127.0.0.1:8080".into(),
            org_id: "org-1".into(),
            policy: PlanPolicy {
                path: "policies/p.yaml".into(),
                sha256: "abc".into(),
            },
            changes: vec![PlannedChange {
                change_id: "c1".into(),
                identity_id: "id-1".into(),
                identity_name: "oci-<b>bot</b>|x".into(),
                auth_method: "oci-auth".into(),
                rules_fixed: vec!["token-lifetime".into(), "identity-allowlists".into()],
                violations: vec![PlannedViolation {
                    rule: "identity-allowlists".into(),
                    check: "allowed".into(),
                    field: "allowedUsernames".into(),
                    observed: "root".into(),
                    expected: "entries in [svc-*]".into(),
                }],
                before: map(json!({"accessTokenTTL": 7200, "accessTokenMaxTTL": 86400,
                                   "allowedUsernames": "svc-a, root"})),
                after: map(json!({"accessTokenTTL": 3600, "accessTokenMaxTTL": 86400,
                                  "allowedUsernames": "svc-a"})),
                planned_from: Map::new(),
                patch: Map::new(),
                config_sha256: String::new(),
                held: Default::default(),
            }],
            manual: vec![ManualItem {
                identity_id: "id-2".into(),
                identity_name: "k8s".into(),
                auth_method: "oci-auth".into(),
                rule: "identity-allowlists".into(),
                reason: "no entry is left and the rule has no `default`".into(),
            }],
            shared_exemption_names: vec![],
        };
        let text = render(
            &plan,
            &policy,
            &["1 change(s) left out by the filter (--rule token-lifetime)".into()],
        );
        assert!(!text.contains("86400s (24h) →"), "{text}");
        assert!(!text.contains("<b>"), "{text}");
        assert!(!text.contains("| unused |"), "{text}");
        insta::assert_snapshot!(text);
    }
}
