//! Counting results as they stream past, and the summary derived from the counts: totals,
//! per rule, per severity, and the short human summary printed on stderr.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use crate::finding::{Finding, Severity, Status};

/// A rule of the policy as the reports show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleInfo {
    pub id: String,
    pub severity: Severity,
    /// The policy's `description` of the rule, as written (each format escapes it).
    pub description: Option<String>,
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

    /// A few lines for a person: totals, then one line per rule of the policy, in policy
    /// order and with zeros (a rule that found nothing is shown so), ending with the rule's
    /// description (escaped for a terminal, shortened to [`DESCRIPTION_SHOWN`] characters).
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
            let c = self.by_rule.get(&r.id).copied().unwrap_or_default();
            let line = format!(
                "  {:<28} {:<9} {:>6} fail {:>6} exempt {:>6} error",
                r.id,
                r.severity.as_str(),
                c.fail,
                c.exempt,
                c.error
            );
            match r.description.as_deref().map(shorten) {
                Some(d) if !d.is_empty() => {
                    let _ = writeln!(out, "{line}  {}", crate::display::safe(&d));
                }
                _ => {
                    let _ = writeln!(out, "{line}");
                }
            }
        }
        out
    }
}

/// Characters of a rule's description shown in the human summary.
pub const DESCRIPTION_SHOWN: usize = 60;

/// `text` on one line (every run of whitespace, line breaks included, becomes one space) and
/// cut to [`DESCRIPTION_SHOWN`] characters, with `…` where it was cut.
fn shorten(text: &str) -> String {
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if text.chars().count() <= DESCRIPTION_SHOWN {
        return text;
    }
    let mut cut: String = text.chars().take(DESCRIPTION_SHOWN - 1).collect();
    cut.truncate(cut.trim_end().len());
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::{Finding, finding_id};
    use crate::model::AuthMethod;

    fn rule(id: &str, severity: Severity, description: Option<&str>) -> RuleInfo {
        RuleInfo {
            id: id.into(),
            severity,
            description: description.map(str::to_owned),
        }
    }

    fn failing(rule: &RuleInfo) -> Finding {
        Finding {
            finding_id: finding_id("o", "i", &AuthMethod::Oci, &rule.id),
            identity_id: "i".into(),
            identity_name: "n".into(),
            auth_method: AuthMethod::Oci,
            rule: rule.id.clone(),
            severity: rule.severity,
            status: Status::Fail,
            violations: Vec::new(),
            exemption: None,
            error: None,
            remediation: None,
        }
    }

    /// The per-rule table lines up whatever the severity's length.
    #[test]
    fn human_summary_columns_line_up() {
        let rules = [
            rule("a", Severity::Critical, None),
            rule("b", Severity::Low, Some("short")),
        ];
        let mut counts = Counts::new(&rules);
        for r in &rules {
            counts.add(&failing(r));
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

    /// Every rule of the policy has its line, in policy order, with zeros when nothing
    /// failed; descriptions follow on one line, escaped for a terminal and shortened.
    #[test]
    fn human_summary_lists_every_rule_in_policy_order() {
        let long = "x".repeat(DESCRIPTION_SHOWN + 10);
        let rules = [
            rule("zeta", Severity::Low, Some("Quiet rule.\nsecond  line")),
            rule("alpha", Severity::High, Some("evil \u{1b}[31mred")),
            rule("mid", Severity::Medium, Some(&long)),
            rule("plain", Severity::Info, None),
        ];
        let mut counts = Counts::new(&rules);
        counts.add(&failing(&rules[1]));
        let text = counts.human();
        let lines: Vec<&str> = text.lines().skip(1).collect();
        assert_eq!(lines.len(), 4, "{text}");
        for (line, r) in lines.iter().zip(&rules) {
            assert!(line.trim_start().starts_with(&r.id), "{text}");
        }
        assert!(
            lines[0].contains("0 fail      0 exempt      0 error  Quiet rule. second line"),
            "{text}"
        );
        assert!(lines[1].contains("1 fail"), "{text}");
        assert!(
            !text.contains('\u{1b}') && lines[1].ends_with("evil \\e[31mred"),
            "{text}"
        );
        let shown = lines[2].rsplit("  ").next().unwrap_or_default();
        assert_eq!(shown.chars().count(), DESCRIPTION_SHOWN, "{text}");
        assert!(shown.ends_with('…'), "{text}");
        assert!(lines[3].ends_with(" error"), "{text}");
    }
}
