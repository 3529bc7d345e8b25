//! Counting results as they stream past, and the summary derived from the counts: totals,
//! per rule, per severity, and the short human summary printed on stderr.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use crate::finding::{Finding, Severity, Status};

/// A rule as the summary needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleInfo {
    pub id: String,
    pub severity: Severity,
}

/// pass/fail/error/exempt counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct StatusCounts {
    pub pass: u64,
    pub fail: u64,
    pub error: u64,
    pub exempt: u64,
}

impl StatusCounts {
    fn add(&mut self, status: Status) {
        match status {
            Status::Pass => self.pass += 1,
            Status::Fail => self.fail += 1,
            Status::Error => self.error += 1,
            Status::Exempt => self.exempt += 1,
        }
    }
}

/// Running counts of a report.
#[derive(Debug, Clone)]
pub struct Counts {
    pub identities: u64,
    pub auth_configs: u64,
    totals: StatusCounts,
    rules: Vec<RuleInfo>,
    by_rule: BTreeMap<String, StatusCounts>,
    by_severity: BTreeMap<Severity, StatusCounts>,
    /// Unexempted failures per severity (for the exit code).
    failing: BTreeMap<Severity, u64>,
}

/// The `summary` object of report.json.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub identities: u64,
    pub auth_configs: u64,
    pub results: u64,
    pub pass: u64,
    pub fail: u64,
    pub error: u64,
    pub exempt: u64,
    pub by_rule: serde_json::Map<String, serde_json::Value>,
    pub by_severity: serde_json::Map<String, serde_json::Value>,
}

impl Counts {
    /// Zero counts for these rules (every rule appears in `by_rule`, even with no result).
    pub fn new(rules: &[RuleInfo]) -> Counts {
        Counts {
            identities: 0,
            auth_configs: 0,
            totals: StatusCounts::default(),
            rules: rules.to_vec(),
            by_rule: rules
                .iter()
                .map(|r| (r.id.clone(), StatusCounts::default()))
                .collect(),
            by_severity: BTreeMap::new(),
            failing: BTreeMap::new(),
        }
    }

    /// Counts one finding.
    pub fn add(&mut self, f: &Finding) {
        self.totals.add(f.status);
        match self.by_rule.get_mut(f.rule.as_str()) {
            Some(counts) => counts.add(f.status),
            None => self
                .by_rule
                .entry(f.rule.clone())
                .or_default()
                .add(f.status),
        }
        self.by_severity
            .entry(f.severity)
            .or_default()
            .add(f.status);
        if f.status == Status::Fail {
            *self.failing.entry(f.severity).or_default() += 1;
        }
    }

    /// The rules, in policy order.
    pub fn rules(&self) -> &[RuleInfo] {
        &self.rules
    }

    /// Totals over every result.
    pub fn totals(&self) -> StatusCounts {
        self.totals
    }

    /// The counts of one rule (`None` for a rule that is not in the policy).
    pub fn rule_counts(&self, rule: &str) -> Option<StatusCounts> {
        self.by_rule.get(rule).copied()
    }

    /// Unexempted failures at or above `threshold`.
    pub fn failing_at_or_above(&self, threshold: Severity) -> u64 {
        self.failing.range(threshold..).map(|(_, n)| n).sum()
    }

    /// The summary object (rules in policy order, severities highest first).
    pub fn summary(&self) -> Summary {
        let t = self.totals;
        let to_value = |c: &StatusCounts| serde_json::to_value(c).unwrap_or_default();
        let mut by_rule = serde_json::Map::new();
        for r in &self.rules {
            if let Some(c) = self.by_rule.get(&r.id) {
                by_rule.insert(r.id.clone(), to_value(c));
            }
        }
        let mut by_severity = serde_json::Map::new();
        for s in Severity::ALL {
            if let Some(c) = self.by_severity.get(&s) {
                by_severity.insert(s.to_string(), to_value(c));
            }
        }
        Summary {
            identities: self.identities,
            auth_configs: self.auth_configs,
            results: t.pass + t.fail + t.error + t.exempt,
            pass: t.pass,
            fail: t.fail,
            error: t.error,
            exempt: t.exempt,
            by_rule,
            by_severity,
        }
    }

    /// A few lines for a person: totals and the failing rules.
    pub fn human(&self) -> String {
        let t = self.totals;
        let mut out = format!(
            "audited {} identities, {} auth configs: {} results ({} pass, {} fail, {} exempt, {} error)\n",
            self.identities,
            self.auth_configs,
            t.pass + t.fail + t.error + t.exempt,
            t.pass,
            t.fail,
            t.exempt,
            t.error
        );
        for r in &self.rules {
            if let Some(c) = self.by_rule.get(&r.id)
                && (c.fail > 0 || c.error > 0 || c.exempt > 0)
            {
                let _ = writeln!(
                    out,
                    "  {:<28} {:<9} {:>6} fail {:>6} exempt {:>6} error",
                    r.id,
                    r.severity.as_str(),
                    c.fail,
                    c.exempt,
                    c.error
                );
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::{Finding, finding_id};
    use crate::model::AuthMethod;

    /// The failing-rules table lines up whatever the severity's length.
    #[test]
    fn human_summary_columns_line_up() {
        let rules = [
            RuleInfo {
                id: "a".into(),
                severity: Severity::Critical,
            },
            RuleInfo {
                id: "b".into(),
                severity: Severity::Low,
            },
        ];
        let mut counts = Counts::new(&rules);
        for r in &rules {
            counts.add(&Finding {
                finding_id: finding_id("o", "i", &AuthMethod::Oci, &r.id),
                identity_id: "i".into(),
                identity_name: "n".into(),
                auth_method: AuthMethod::Oci,
                rule: r.id.clone(),
                severity: r.severity,
                status: Status::Fail,
                violations: Vec::new(),
                exemption: None,
                error: None,
                remediation: None,
            });
        }
        let text = counts.human();
        let columns: Vec<usize> = text
            .lines()
            .filter(|l| l.starts_with("  "))
            .filter_map(|l| l.find(" fail "))
            .collect();
        assert_eq!(columns.len(), 2, "{text}");
        assert_eq!(columns[0], columns[1], "{text}");
    }
}
