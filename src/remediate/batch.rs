//! Batches: acting on part of a plan (`--rule`, `--identity`, `--severity` on `remediate` and
//! `apply`). Each flag may be given several times (any of its values selects); several flags
//! must all select.
//!
//! A change is one PATCH per config and may fix several rules at once. It is selected whole or
//! not at all: only when its identity is selected and **every** rule it fixes is selected (by
//! id and by severity). A change that also fixes a rule outside the filter is left out, never
//! narrowed, so what is written is always a change the re-check (`recheck.rs`) accepted as
//! computed, and a partial fix is never claimed. Manual items are kept when their identity and
//! rule are selected. Pure: no I/O.

use serde::{Deserialize, Serialize};

use super::plan::{ManualItem, PlannedChange};
use crate::display::safe;
use crate::finding::Severity;
use crate::pattern::Pattern;
use crate::policy::Policy;

/// Which part of a plan to act on; the empty filter selects everything. Recorded in the
/// journal's `begin` entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Filter {
    /// Rule ids (`--rule`).
    #[serde(default)]
    pub rules: Vec<String>,
    /// Identity names, ids or `*` globs over either (`--identity`).
    #[serde(default)]
    pub identities: Vec<String>,
    /// Severities of the rules (`--severity`), lowercase.
    #[serde(default)]
    pub severities: Vec<String>,
}

/// A filter that names a rule the policy does not have.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("--rule {rule}: the policy has no such rule{hint} (its rules: {known})")]
pub struct UnknownRule {
    pub rule: String,
    hint: String,
    known: String,
}

/// The part of a plan a filter selects.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Selection {
    pub changes: Vec<PlannedChange>,
    pub manual: Vec<ManualItem>,
    /// Changes left out.
    pub left_out: usize,
    /// Rules outside the filter that some left-out change of a selected identity also fixes
    /// alongside a selected rule (adding them to the filter would include those changes).
    pub also_fix: Vec<String>,
    /// How many of the left-out changes fix a selected rule alongside others.
    pub left_out_partly: usize,
    /// Manual items left out.
    pub manual_left_out: usize,
}

impl Filter {
    /// A filter from the command-line values.
    pub fn new(rules: Vec<String>, identities: Vec<String>, severities: &[Severity]) -> Filter {
        Filter {
            rules,
            identities,
            severities: severities.iter().map(|s| s.as_str().to_owned()).collect(),
        }
    }

    /// Whether the filter selects everything.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty() && self.identities.is_empty() && self.severities.is_empty()
    }

    /// Every `--rule` must name a rule of `policy`.
    pub fn check(&self, policy: &Policy) -> Result<(), UnknownRule> {
        let known: Vec<&str> = policy.rules.iter().map(|r| r.id.as_str()).collect();
        match self.rules.iter().find(|r| !known.contains(&r.as_str())) {
            None => Ok(()),
            Some(rule) => {
                let closest = known
                    .iter()
                    .map(|k| (strsim::levenshtein(rule, k), *k))
                    .filter(|(d, _)| *d <= 3)
                    .min();
                Err(UnknownRule {
                    rule: safe(rule).into_owned(),
                    hint: closest
                        .map(|(_, k)| format!("; did you mean `{k}`?"))
                        .unwrap_or_default(),
                    known: known.join(", "),
                })
            }
        }
    }

    /// The filter as flags, for messages (`--rule network --severity critical`).
    pub fn describe(&self) -> String {
        let flags = [
            ("--rule", &self.rules),
            ("--identity", &self.identities),
            ("--severity", &self.severities),
        ];
        flags
            .iter()
            .flat_map(|(flag, values)| values.iter().map(move |v| format!("{flag} {}", safe(v))))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Whether `rule` is selected: by id and by its severity in `policy` (a rule the policy
    /// does not have is never selected by a non-empty filter).
    pub fn selects_rule(&self, policy: &Policy, rule: &str) -> bool {
        let by_id = self.rules.is_empty() || self.rules.iter().any(|r| r == rule);
        let by_severity = self.severities.is_empty()
            || policy
                .rule(rule)
                .is_some_and(|r| self.severities.iter().any(|s| s == r.severity.as_str()));
        by_id && by_severity
    }

    /// Whether the identity is selected: a value equal to its id, or a glob matching its name
    /// or its id.
    pub fn selects_identity(&self, id: &str, name: &str) -> bool {
        self.identities.is_empty()
            || self.identities.iter().any(|p| {
                let p = Pattern::new(p);
                p.matches(name) || p.matches(id)
            })
    }

    /// The changes and manual items of a plan this filter selects.
    pub fn select(
        &self,
        policy: &Policy,
        changes: Vec<PlannedChange>,
        manual: Vec<ManualItem>,
    ) -> Selection {
        let mut out = Selection::default();
        for change in changes {
            let who = self.selects_identity(&change.identity_id, &change.identity_name);
            let (selected, outside): (Vec<&String>, Vec<&String>) = change
                .rules_fixed
                .iter()
                .partition(|r| self.selects_rule(policy, r));
            if who && outside.is_empty() && !selected.is_empty() {
                out.changes.push(change);
                continue;
            }
            out.left_out += 1;
            if who && !selected.is_empty() {
                out.left_out_partly += 1;
                for rule in outside {
                    if !out.also_fix.contains(rule) {
                        out.also_fix.push(rule.clone());
                    }
                }
            }
        }
        for m in manual {
            if self.selects_identity(&m.identity_id, &m.identity_name)
                && self.selects_rule(policy, &m.rule)
            {
                out.manual.push(m);
            } else {
                out.manual_left_out += 1;
            }
        }
        out.also_fix.sort();
        out
    }
}

impl Selection {
    /// What a person should know about what the filter left out (nothing when it left out
    /// nothing).
    pub fn notes(&self, filter: &Filter) -> Vec<String> {
        if filter.is_empty() {
            return Vec::new();
        }
        let mut notes = Vec::new();
        let mut line = format!(
            "{} change(s) left out by the filter ({})",
            self.left_out,
            filter.describe()
        );
        if self.manual_left_out > 0 {
            line.push_str(&format!(
                "; {} manual item(s) not shown",
                self.manual_left_out
            ));
        }
        notes.push(line);
        if self.left_out_partly > 0 {
            notes.push(format!(
                "{} of them also fix {} in the same PATCH: a change is written whole or not at \
                 all (add {} to include them)",
                self.left_out_partly,
                self.also_fix.join(", "),
                self.also_fix
                    .iter()
                    .map(|r| format!("--rule {r}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            ));
        }
        notes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Map;

    const POLICY: &str = "version: 1
rules:
  - id: token-lifetime
    severity: high
    access_token: { max_ttl: 1h }
  - id: network
    severity: critical
    trusted_ips: { allowed_cidrs: [10.0.0.0/8] }
  - id: token-uses
    severity: medium
    access_token: { max_uses: 1000 }
";

    fn policy() -> Policy {
        crate::policy::parse(POLICY, "p.yaml").unwrap_or_else(|e| panic!("{e:?}"))
    }

    fn change(name: &str, rules: &[&str]) -> PlannedChange {
        PlannedChange {
            change_id: format!("c-{name}"),
            identity_id: format!("id-{name}"),
            identity_name: name.into(),
            auth_method: "universal-auth".into(),
            rules_fixed: rules.iter().map(|r| (*r).to_owned()).collect(),
            violations: vec![],
            before: Map::new(),
            after: Map::new(),
            planned_from: Map::new(),
            patch: Map::new(),
            config_sha256: String::new(),
            held: Default::default(),
        }
    }

    fn names(s: &Selection) -> Vec<&str> {
        s.changes.iter().map(|c| c.identity_name.as_str()).collect()
    }

    fn changes() -> Vec<PlannedChange> {
        vec![
            change("ci-a", &["network"]),
            change("ci-b", &["token-lifetime"]),
            change("ci-c", &["token-lifetime", "network"]),
            change("web-d", &["network"]),
            change("web-e", &["token-uses"]),
        ]
    }

    /// `--rule network` writes only the changes whose every rule is `network`; the change
    /// that also fixes token-lifetime is left out and the note says how to include it.
    #[test]
    fn a_change_is_selected_only_when_all_its_rules_are() {
        let f = Filter::new(vec!["network".into()], vec![], &[]);
        let s = f.select(&policy(), changes(), vec![]);
        assert_eq!(names(&s), vec!["ci-a", "web-d"]);
        assert_eq!((s.left_out, s.left_out_partly), (3, 1));
        assert_eq!(s.also_fix, vec!["token-lifetime"]);
        let notes = s.notes(&f).join("\n");
        assert!(
            notes.contains("3 change(s) left out by the filter (--rule network)"),
            "{notes}"
        );
        assert!(notes.contains("--rule token-lifetime"), "{notes}");
    }

    /// Values of one flag are alternatives; flags combine: `--identity ci-*` and
    /// `--severity high --severity critical` select ci-a, ci-b and ci-c.
    #[test]
    fn or_within_a_flag_and_across_flags() {
        let f = Filter::new(
            vec![],
            vec!["ci-*".into()],
            &[Severity::High, Severity::Critical],
        );
        let s = f.select(&policy(), changes(), vec![]);
        assert_eq!(names(&s), vec!["ci-a", "ci-b", "ci-c"]);
        let f = Filter::new(vec![], vec!["id-web-e".into(), "ci-b".into()], &[]);
        assert_eq!(
            names(&f.select(&policy(), changes(), vec![])),
            vec!["ci-b", "web-e"]
        );
        let f = Filter::new(vec!["token-uses".into()], vec!["ci-*".into()], &[]);
        assert!(f.select(&policy(), changes(), vec![]).changes.is_empty());
        let all = Filter::default().select(&policy(), changes(), vec![]);
        assert_eq!((all.changes.len(), all.left_out), (5, 0));
        assert!(all.notes(&Filter::default()).is_empty());
    }

    /// Manual items follow the same filter.
    #[test]
    fn manual_items_are_filtered_too() {
        let item = |name: &str, rule: &str| ManualItem {
            identity_id: format!("id-{name}"),
            identity_name: name.into(),
            auth_method: "oci-auth".into(),
            rule: rule.into(),
            reason: "r".into(),
        };
        let f = Filter::new(vec![], vec![], &[Severity::Critical]);
        let s = f.select(
            &policy(),
            vec![],
            vec![item("a", "network"), item("b", "token-uses")],
        );
        assert_eq!(s.manual.len(), 1);
        assert_eq!(s.manual_left_out, 1);
    }

    /// A `--rule` the policy lacks is refused with the closest id.
    #[test]
    fn unknown_rules_are_refused_with_a_suggestion() {
        let f = Filter::new(vec!["netwrk".into()], vec![], &[]);
        let e = f.check(&policy()).map(|_| ()).unwrap_err().to_string();
        assert!(e.contains("did you mean `network`?"), "{e}");
        assert!(
            Filter::new(vec!["network".into()], vec![], &[])
                .check(&policy())
                .is_ok()
        );
    }
}
