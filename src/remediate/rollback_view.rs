//! The rollback preview as a person reads it, shown by the dry run and before the
//! confirmation of `rollback --apply`: per config, every field to restore from its current
//! value (what idguard wrote) to the journalled before-value, in the same form as the plan
//! diff (`plan_view`), and a marked line under every restore that widens access again
//! (`! widens access: accessTokenTrustedIps admits 0.0.0.0/0 again`). Configs changed since
//! idguard wrote them, and configs that could not be read, are named. Pure: the caller prints
//! the text.

use std::fmt::Write as _;

use super::apply::ChangeOutcome;
use super::field_diff;
use super::plan_view::{field_lines, header};
use super::rollback::RollbackStep;
use crate::display::safe;

/// The preview text and its counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preview {
    pub text: String,
    /// Configs with something to restore.
    pub restores: usize,
    /// Of those, configs where a restore widens access.
    pub widening: usize,
}

/// The preview of the steps of a rollback dry run, wrapped to `width` columns.
pub fn render(steps: &[(RollbackStep, ChangeOutcome)], width: usize) -> Preview {
    let mut out = String::new();
    let (mut restores, mut widening) = (0, 0);
    for (step, outcome) in steps {
        let item = &step.item;
        if !step.restore.is_empty() {
            restores += 1;
            let loose = step.loosening();
            widening += usize::from(!loose.is_empty());
            out.push_str(&header(
                &item.identity_name,
                &item.identity_id,
                &item.auth_method,
                "  [restore]",
            ));
            for d in field_diff::diffs(&item.written, &step.restore) {
                for line in field_lines(&d, width) {
                    let _ = writeln!(out, "{line}");
                }
                for (_, why) in loose.iter().filter(|(f, _)| *f == d.field) {
                    let _ = writeln!(out, "    ! widens access: {} {}", safe(&d.field), safe(why));
                }
            }
        }
        if !step.changed_since.is_empty() {
            let _ = writeln!(
                out,
                "! {} ({}) {}: changed since idguard wrote them, left alone: {}",
                safe(&item.identity_name),
                safe(&item.identity_id),
                safe(&item.auth_method),
                safe(&step.changed_since.join(", "))
            );
        } else if let Some(e) = &outcome.error {
            let _ = writeln!(
                out,
                "! {} ({}) {}: {}",
                safe(&item.identity_name),
                safe(&item.identity_id),
                safe(&item.auth_method),
                safe(e)
            );
        }
    }
    Preview {
        text: out,
        restores,
        widening,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::remediate::journal::Outcome;
    use crate::remediate::rollback::RollbackItem;
    use serde_json::{Map, Value, json};

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    fn step(name: &str, before: Value, written: Value, changed_since: &[&str]) -> RollbackStep {
        let (before, written) = (map(before), map(written));
        RollbackStep {
            item: RollbackItem {
                change_id: format!("c-{name}"),
                identity_id: format!("{name}-id"),
                identity_name: name.into(),
                auth_method: "universal-auth".into(),
                before: before.clone(),
                written: written.clone(),
            },
            restore: if changed_since.is_empty() {
                before
            } else {
                Map::new()
            },
            changed_since: changed_since.iter().map(|f| (*f).to_owned()).collect(),
        }
    }

    fn outcome(s: &RollbackStep, error: Option<&str>) -> ChangeOutcome {
        ChangeOutcome {
            change_id: s.item.change_id.clone(),
            identity_id: s.item.identity_id.clone(),
            identity_name: s.item.identity_name.clone(),
            auth_method: s.item.auth_method.clone(),
            outcome: Outcome::Unchanged,
            error: error.map(str::to_owned),
            rules: vec![],
        }
    }

    /// The rollback preview: from → to per field (what idguard wrote back to what was there
    /// before), no line for the TTL partner that does not change, durations as in the
    /// reports, and a `! widens access` line under every restore that loosens the config.
    #[test]
    fn rollback_preview() {
        let steps = [
            step(
                "batch-reports-0000",
                json!({"accessTokenTTL": 0, "accessTokenMaxTTL": 86400,
                       "clientSecretTrustedIps": [{"ipAddress": "0.0.0.0/0"}, {"ipAddress": "::/0"}]}),
                json!({"accessTokenTTL": 3600, "accessTokenMaxTTL": 86400,
                       "clientSecretTrustedIps": [{"ipAddress": "10.0.0.0/8"}]}),
                &[],
            ),
            step(
                "svc-billing-0042",
                json!({"accessTokenNumUsesLimit": 5000, "allowedUsernames": "svc-a, root"}),
                json!({"accessTokenNumUsesLimit": 1000, "allowedUsernames": "svc-a"}),
                &[],
            ),
            step(
                "edited-by-hand",
                json!({"accessTokenNumUsesLimit": 0}),
                json!({"accessTokenNumUsesLimit": 1000}),
                &["accessTokenNumUsesLimit"],
            ),
        ];
        let mut with_outcomes: Vec<(RollbackStep, ChangeOutcome)> = steps
            .iter()
            .map(|s| (s.clone(), outcome(s, None)))
            .collect();
        let unread = step("unread", json!({}), json!({}), &[]);
        with_outcomes.push((
            unread.clone(),
            outcome(&unread, Some("read failed, nothing written: 503")),
        ));
        let preview = render(&with_outcomes, 100);
        assert_eq!((preview.restores, preview.widening), (2, 2));
        assert!(
            preview
                .text
                .contains("! widens access: clientSecretTrustedIps admits 0.0.0.0/0, ::/0 again"),
            "{}",
            preview.text
        );
        assert!(
            !preview.text.contains("accessTokenMaxTTL"),
            "{}",
            preview.text
        );
        insta::assert_snapshot!(preview.text);
    }
}
