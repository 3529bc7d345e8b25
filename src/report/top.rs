//! The worst results of a run, kept as findings stream past for the findings table: failing
//! and `error` results ordered by severity (highest first), then rule, identity name, auth
//! method and identity id.
//!
//! Bounded: with a cap of N, a max-heap holds the N worst seen so far (its top is the least
//! bad of them, replaced when a worse one arrives), and the rest are only counted, so an org of
//! 100,000 identities costs N rows. Without a cap (the whole table on stdout) every failing
//! and `error` result is kept, but never a passing or exempt one.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

use super::table::{FailedCheck, Row, RowOutcome};
use crate::finding::{Finding, Severity, Status};

/// How many rows to keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Keep {
    /// None: no table is shown.
    #[default]
    Nothing,
    /// The `n` worst.
    Worst(usize),
    /// Every failing and `error` result.
    All,
}

impl Keep {
    fn holds(self, len: usize) -> bool {
        match self {
            Keep::Nothing => false,
            Keep::Worst(n) => len < n,
            Keep::All => true,
        }
    }
}

/// The worst failing and `error` results seen, and how many there were in all.
#[derive(Debug, Default)]
pub struct TopFindings {
    keep: Keep,
    heap: BinaryHeap<Ranked>,
    seen: u64,
}

impl TopFindings {
    /// Keeps what `keep` says.
    pub fn new(keep: Keep) -> TopFindings {
        TopFindings {
            keep,
            heap: BinaryHeap::new(),
            seen: 0,
        }
    }

    /// Looks at one finding; a failing or `error` one is counted, and kept if it is among
    /// the worst.
    pub fn observe(&mut self, f: &Finding) {
        if !matches!(f.status, Status::Fail | Status::Error) {
            return;
        }
        self.seen += 1;
        if self.keep.holds(self.heap.len()) {
            self.heap.push(Ranked(row_of(f)));
        } else if let Some(mut least_bad) = self.heap.peek_mut()
            && rank_of_finding(f) < rank_of_row(&least_bad.0)
        {
            *least_bad = Ranked(row_of(f));
        }
    }

    /// The rows kept, worst first, and how many failing and `error` results were left out.
    pub fn into_rows(self) -> (Vec<Row>, u64) {
        let rows: Vec<Row> = self
            .heap
            .into_sorted_vec()
            .into_iter()
            .map(|r| r.0)
            .collect();
        let hidden = self.seen - rows.len() as u64;
        (rows, hidden)
    }
}

/// A row ordered by its rank, worse first (so the max-heap's top is the least bad).
#[derive(Debug)]
struct Ranked(Row);

type Rank<'a> = (Reverse<Severity>, &'a str, &'a str, &'a str, &'a str);

fn rank_of_row(r: &Row) -> Rank<'_> {
    (
        Reverse(r.severity),
        &r.rule,
        &r.identity,
        &r.method,
        &r.identity_id,
    )
}

fn rank_of_finding(f: &Finding) -> Rank<'_> {
    (
        Reverse(f.severity),
        &f.rule,
        &f.identity_name,
        f.auth_method.as_str(),
        &f.identity_id,
    )
}

impl Ord for Ranked {
    fn cmp(&self, other: &Self) -> Ordering {
        rank_of_row(&self.0).cmp(&rank_of_row(&other.0))
    }
}

impl PartialOrd for Ranked {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Ranked {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Ranked {}

/// The table row of a failing or `error` finding.
fn row_of(f: &Finding) -> Row {
    let outcome = match f.status {
        Status::Error => RowOutcome::Error(f.error.clone().unwrap_or_default()),
        _ => RowOutcome::Failed(
            f.violations
                .iter()
                .map(|v| FailedCheck {
                    field: v.field.clone(),
                    observed: v.observed.clone(),
                    expected: v.expected.clone(),
                })
                .collect(),
        ),
    };
    Row {
        severity: f.severity,
        rule: f.rule.clone(),
        identity: f.identity_name.clone(),
        identity_id: f.identity_id.clone(),
        method: f.auth_method.as_str().to_owned(),
        outcome,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::AuthMethod;

    fn finding(i: usize) -> Finding {
        let severity = Severity::ALL[i % Severity::ALL.len()];
        Finding {
            finding_id: format!("f-{i}"),
            identity_id: format!("id-{i}"),
            identity_name: format!("name-{}", i % 7),
            auth_method: AuthMethod::Universal,
            rule: format!("rule-{}", i % 3),
            severity,
            status: [Status::Fail, Status::Pass, Status::Error, Status::Exempt][i % 4],
            violations: Vec::new(),
            exemption: None,
            error: None,
            remediation: None,
        }
    }

    /// A capped collector holds at most N rows, and they are exactly the N worst of what an
    /// uncapped one keeps; passing and exempt results are neither kept nor counted.
    #[test]
    fn keeps_only_the_worst_n() {
        let findings: Vec<Finding> = (0..1000).map(finding).collect();
        let mut all = TopFindings::new(Keep::All);
        let mut top = TopFindings::new(Keep::Worst(25));
        for f in &findings {
            all.observe(f);
            top.observe(f);
            assert!(top.heap.len() <= 25);
        }
        let (every, none_hidden) = all.into_rows();
        assert_eq!((every.len(), none_hidden), (500, 0), "fail and error only");
        let (worst, hidden) = top.into_rows();
        assert_eq!(hidden, 475);
        assert_eq!(worst, every[..25]);
        assert!(worst.windows(2).all(|w| w[0].severity >= w[1].severity));
        let mut nothing = TopFindings::new(Keep::Nothing);
        findings.iter().for_each(|f| nothing.observe(f));
        assert_eq!(nothing.into_rows().0.len(), 0);
    }
}
