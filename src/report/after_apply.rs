//! The counts after an apply, for the summary: the audit's counts with every result that a
//! verified change fixed moved from `fail` to `pass`, beside the counts before the writes
//! (`after apply: 0 fail (was 124)`, then one such line per rule that failed). A change is
//! `verified` only when its read-back config passes the rules it fixed, so no result is
//! read again for this. Rules with no failure before the writes are not shown.

use super::summary::Counts;

/// Failures before and after the writes, in all and per rule (policy order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AfterApply {
    before: u64,
    after: u64,
    rules: Vec<RuleFailures>,
}

/// One rule's failures before and after the writes.
#[derive(Debug, Clone, PartialEq, Eq)]
struct RuleFailures {
    rule: String,
    before: u64,
    after: u64,
}

impl AfterApply {
    /// `counts` are the audit's (before the writes); `fixed` names the rule of each result a
    /// verified change fixed (a rule once per fixed result).
    pub fn new<'a>(counts: &Counts, fixed: impl IntoIterator<Item = &'a str>) -> AfterApply {
        let mut rules: Vec<RuleFailures> = counts
            .rules()
            .iter()
            .filter_map(|r| {
                let fail = counts.rule_counts(&r.id)?.fail;
                Some(RuleFailures {
                    rule: r.id.clone(),
                    before: fail,
                    after: fail,
                })
            })
            .collect();
        for rule in fixed {
            if let Some(row) = rules.iter_mut().find(|row| row.rule == rule) {
                row.after = row.after.saturating_sub(1);
            }
        }
        let before = counts.totals().fail;
        let fixed_total: u64 = rules.iter().map(|r| r.before - r.after).sum();
        rules.retain(|r| r.before > 0);
        AfterApply {
            before,
            after: before.saturating_sub(fixed_total),
            rules,
        }
    }

    /// Failures left after the writes.
    pub fn fail(&self) -> u64 {
        self.after
    }

    /// The summary lines: the total, then each rule that failed before the writes.
    pub fn lines(&self) -> Vec<String> {
        let mut lines = vec![format!(
            "after apply: {} fail (was {})",
            self.after, self.before
        )];
        for r in &self.rules {
            lines.push(format!(
                "  {:<28} {:>6} fail (was {})",
                r.rule, r.after, r.before
            ));
        }
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::{Finding, Severity, Status, finding_id};
    use crate::model::AuthMethod;
    use crate::report::RuleInfo;

    fn counts(results: &[(&str, Status)]) -> Counts {
        let rules: Vec<RuleInfo> = ["token-lifetime", "network", "clean"]
            .into_iter()
            .map(|id| RuleInfo {
                id: id.into(),
                severity: Severity::High,
                description: None,
            })
            .collect();
        let mut counts = Counts::new(&rules);
        for (i, (rule, status)) in results.iter().enumerate() {
            let id = format!("id-{i}");
            counts.add(&Finding {
                finding_id: finding_id("o", &id, &AuthMethod::Oci, rule),
                identity_id: id,
                identity_name: "n".into(),
                auth_method: AuthMethod::Oci,
                rule: (*rule).into(),
                severity: Severity::High,
                status: *status,
                violations: Vec::new(),
                exemption: None,
                error: None,
                remediation: None,
            });
        }
        counts
    }

    /// Each verified fix takes one failure off its rule and off the total; rules without
    /// failures are not shown; a fix naming a rule without failures changes nothing.
    #[test]
    fn verified_fixes_move_failures_to_passes() {
        let before = counts(&[
            ("token-lifetime", Status::Fail),
            ("token-lifetime", Status::Fail),
            ("token-lifetime", Status::Fail),
            ("network", Status::Fail),
            ("network", Status::Exempt),
            ("clean", Status::Pass),
        ]);
        let after = AfterApply::new(
            &before,
            [
                "token-lifetime",
                "token-lifetime",
                "network",
                "clean",
                "unknown",
            ],
        );
        assert_eq!(after.fail(), 1);
        assert_eq!(
            after.lines(),
            vec![
                "after apply: 1 fail (was 4)".to_owned(),
                format!("  {:<28} {:>6} fail (was 3)", "token-lifetime", 1),
                format!("  {:<28} {:>6} fail (was 1)", "network", 0),
            ]
        );
    }

    /// An apply that fixed nothing says so with the same counts.
    #[test]
    fn nothing_verified_leaves_the_counts() {
        let before = counts(&[("network", Status::Fail), ("network", Status::Fail)]);
        let after = AfterApply::new(&before, []);
        assert_eq!(after.fail(), 2);
        assert_eq!(after.lines()[0], "after apply: 2 fail (was 2)");
    }
}
