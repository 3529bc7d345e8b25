//! Policy unit tests (`idguard test POLICY CASES.yaml...`): a cases file describes identities
//! with one auth config each and the result every rule should give; each case is judged by
//! the code an audit uses, and the expectations that do not hold are reported.
//!
//! [`parse`] reads a cases file into [`CaseFile`] (every problem with line:column),
//! [`judge`] evaluates the cases against a policy, [`render`] writes the outcome as text or
//! JUnit XML.

mod judge;
mod parse;
pub mod render;

use jiff::civil::Date;
use serde_json::{Map, Value};

use crate::finding::Finding;
use crate::model::{AuthMethod, Identity};

pub use judge::{CaseOutcome, Mismatch, findings, judge};
pub use parse::{parse, parse_with_today};

/// The identity id a case without `identity.id` gets.
pub const PLACEHOLDER_ID: &str = "00000000-0000-0000-0000-000000000000";

/// One cases file, parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct CaseFile {
    /// The path it was read from (as given).
    pub origin: String,
    /// The UTC day exemptions and usage rules are judged on.
    pub today: Date,
    /// The cases, in file order.
    pub cases: Vec<Case>,
}

/// One case: an identity, its config for one auth method, and what each rule should give.
#[derive(Debug, Clone, PartialEq)]
pub struct Case {
    /// `name`, unique in its file.
    pub name: String,
    /// The line the case starts on.
    pub line: usize,
    /// The identity (its one auth method, usage as the listing would report it).
    pub identity: Identity,
    /// The auth method the config is of.
    pub method: AuthMethod,
    /// The config object as a GET returns it (the object under the wrapper key, or the whole
    /// wrapped answer): decoded when the case is judged, like a live answer.
    pub config: Map<String, Value>,
    /// The expectations, in file order.
    pub expect: Vec<Expectation>,
}

/// What one rule should give on a case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expectation {
    /// The rule id (one the policy has).
    pub rule: String,
    /// The expected result.
    pub status: Expected,
}

/// An expected result: a finding's status, or no result at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expected {
    Pass,
    Fail,
    Exempt,
    Error,
    /// The rule gives no result (it does not apply to this identity, method or config).
    None,
}

impl Expected {
    /// Every word, in the order they are listed to people.
    pub const WORDS: [&'static str; 5] = ["pass", "fail", "exempt", "error", "none"];

    /// Parses a status word.
    pub fn parse(word: &str) -> Option<Expected> {
        Some(match word {
            "pass" => Expected::Pass,
            "fail" => Expected::Fail,
            "exempt" => Expected::Exempt,
            "error" => Expected::Error,
            "none" => Expected::None,
            _ => return None,
        })
    }

    /// The word.
    pub fn as_str(self) -> &'static str {
        match self {
            Expected::Pass => "pass",
            Expected::Fail => "fail",
            Expected::Exempt => "exempt",
            Expected::Error => "error",
            Expected::None => "none",
        }
    }

    /// What a rule gave: its finding's status, or `None` without one.
    pub fn of(finding: Option<&Finding>) -> Expected {
        use crate::finding::Status;
        match finding.map(|f| f.status) {
            Some(Status::Pass) => Expected::Pass,
            Some(Status::Fail) => Expected::Fail,
            Some(Status::Exempt) => Expected::Exempt,
            Some(Status::Error) => Expected::Error,
            None => Expected::None,
        }
    }
}

impl std::fmt::Display for Expected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests;
