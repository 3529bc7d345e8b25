//! Judging cases with the audit's code: the config is decoded as a live GET answer is (a
//! config that does not decode gives `error` results, as in an audit), the config rules are
//! evaluated on the file's `today`, the usage rules at 00:00 UTC of that day, exemptions
//! apply as in an audit; then each expectation is compared with what its rule gave.

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use serde_json::{Map, Value};

use super::{Case, CaseFile, Expected};
use crate::evaluate;
use crate::finding::Finding;
use crate::model::{AuthConfig, AuthMethod, ConfigDecodeError};
use crate::policy::Policy;

/// The organization id the findings of cases carry (it only shapes finding ids).
const ORG_ID: &str = "policy-test";

/// How one case came out.
#[derive(Debug, Clone, PartialEq)]
pub struct CaseOutcome<'c> {
    /// The case.
    pub case: &'c Case,
    /// The expectations that did not hold, in the case's order; empty when the case passed.
    pub mismatches: Vec<Mismatch>,
}

impl CaseOutcome<'_> {
    /// Whether every expectation held.
    pub fn passed(&self) -> bool {
        self.mismatches.is_empty()
    }
}

/// An expectation that did not hold.
#[derive(Debug, Clone, PartialEq)]
pub struct Mismatch {
    /// The rule id.
    pub rule: String,
    /// What the case expected.
    pub expected: Expected,
    /// What the rule gave.
    pub actual: Expected,
    /// The rule's finding (its violations, error or exemption), when it gave one.
    pub finding: Option<Finding>,
}

/// Judges every case of `file` against `policy`, in file order.
pub fn judge<'c>(policy: &Policy, file: &'c CaseFile) -> Vec<CaseOutcome<'c>> {
    file.cases
        .iter()
        .map(|case| {
            let found = findings(policy, case, file.today);
            let mismatches = case
                .expect
                .iter()
                .filter_map(|e| {
                    let finding = found.iter().find(|f| f.rule == e.rule);
                    let actual = Expected::of(finding);
                    (actual != e.status).then(|| Mismatch {
                        rule: e.rule.clone(),
                        expected: e.status,
                        actual,
                        finding: finding.cloned(),
                    })
                })
                .collect();
            CaseOutcome { case, mismatches }
        })
        .collect()
}

/// Every result the policy gives on the case: its config rules, then its usage rules.
pub fn findings(policy: &Policy, case: &Case, today: Date) -> Vec<Finding> {
    let mut out = match decode(&case.method, &case.config) {
        Ok(config) => evaluate::evaluate(policy, ORG_ID, &case.identity, &config, today),
        Err(e) => evaluate::error_findings(
            policy,
            ORG_ID,
            &case.identity,
            &case.method,
            &format!("the config could not be decoded: {e}"),
        ),
    };
    out.extend(evaluate::usage_findings(
        policy,
        ORG_ID,
        &case.identity,
        &case.method,
        start_of(today),
    ));
    out
}

/// The config as a GET answer is decoded: the object under the method's wrapper key when the
/// case wrote the whole answer, else the config object itself.
fn decode(
    method: &AuthMethod,
    config: &Map<String, Value>,
) -> Result<AuthConfig, ConfigDecodeError> {
    match method.wrapper_key() {
        Some(key) if config.len() == 1 && config.contains_key(key) => {
            AuthConfig::from_response_owned(method, Value::Object(config.clone()))
        }
        _ => AuthConfig::from_fields(method.clone(), config.clone()),
    }
}

/// 00:00 UTC of `day`, the instant usage rules are judged at.
fn start_of(day: Date) -> Timestamp {
    TimeZone::UTC
        .to_timestamp(day.to_datetime(jiff::civil::Time::midnight()))
        .unwrap_or(Timestamp::MAX)
}
