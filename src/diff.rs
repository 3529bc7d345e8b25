//! What changed between two audit runs, keyed by `finding_id` (stable across runs): new
//! failures, regressions, expired exemptions, new read errors, resolved failures, newly exempt
//! ones, what still fails, and identities added or removed. Used by `idguard diff OLD NEW`
//! ([`run_diff`]) and by `idguard audit --baseline PREV/report.json` ([`BaselineTracker`]).
//!
//! Both reports are read streamed ([`read`]): OLD is indexed compactly, NEW is compared result by
//! result, and only the changes are kept. This module does no audit and parses no CLI.
//!
//! Categories, by (status in OLD → status in NEW) of one finding id:
//! - new failure: absent or `error` → `fail`
//! - regressed: `pass` → `fail`
//! - exemption expired: `exempt` → `fail` (a regression too)
//! - new error: anything but `error` (or absent) → `error`
//! - resolved: `fail` → `pass`, or `fail` → absent while the identity is still there
//! - newly exempt: `fail` → `exempt`
//! - still failing: `fail` → `fail`
//!
//! Anything new or regressed (the first three) makes [`DiffOutcome::new_or_regressed`] true,
//! which the CLI maps to exit code 1 so that a nightly cron alerts only on change.

mod compare;
mod read;
mod render;

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use render::{StillFailing, render};

use crate::finding::{Finding, Status};
use crate::report::{
    Annotations, Baseline, BaselineOutcome, BaselineSection, ChangedResult, ReportError, RunInfo,
};

/// The diff's own schema version (the `schema_version` of its JSON output).
pub const DIFF_SCHEMA_VERSION: u32 = 1;

/// Output format of `idguard diff`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum DiffFormat {
    /// Plain text for a terminal or a cron mail.
    #[default]
    Text,
    /// The full diff as JSON (every entry, nothing capped).
    Json,
    /// Markdown for a ticket or chat.
    #[value(name = "md")]
    Markdown,
}

/// Errors reading the two reports or writing the diff. Each names the file.
#[derive(Debug, thiserror::Error)]
pub enum DiffError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not a valid idguard report.json: {source}")]
    Parse {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("{path} has report schema_version {found}; this idguard reads schema_version 1 only")]
    SchemaVersion { path: PathBuf, found: u64 },
    #[error("{path} is not an idguard report.json: it has no `{missing}`")]
    NotAReport { path: PathBuf, missing: String },
    #[error("cannot write the diff: {0}")]
    Write(#[source] std::io::Error),
}

/// The status of a result, as read back from a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    Pass,
    Fail,
    Error,
    Exempt,
}

impl State {
    /// The lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Pass => "pass",
            State::Fail => "fail",
            State::Error => "error",
            State::Exempt => "exempt",
        }
    }
}

impl From<Status> for State {
    fn from(s: Status) -> State {
        match s {
            Status::Pass => State::Pass,
            Status::Fail => State::Fail,
            Status::Error => State::Error,
            Status::Exempt => State::Exempt,
        }
    }
}

/// One side of the diff: which report, which run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RunRef {
    /// The report file (or, for `--baseline`, "this run").
    pub path: String,
    pub run_id: String,
    pub started_at: String,
    pub org_id: String,
    pub complete: bool,
}

/// One finding that changed (or still fails).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    pub finding_id: String,
    pub identity_id: String,
    pub identity_name: String,
    pub auth_method: String,
    pub rule: String,
    pub severity: String,
    /// Status in OLD (`None`: not there).
    pub before: Option<State>,
    /// Status in NEW (`None`: not there).
    pub after: Option<State>,
    /// The NEW violation messages, error or exemption, in words.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// For an expired exemption: the day it ended (from OLD).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exemption_expired: Option<String>,
}

/// An identity added or removed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IdentityRef {
    pub id: String,
    pub name: String,
}

/// How many entries each category has.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct DiffCounts {
    pub new_failures: u64,
    pub regressed: u64,
    pub exemptions_expired: u64,
    pub new_errors: u64,
    pub resolved: u64,
    pub newly_exempt: u64,
    pub still_failing: u64,
    pub identities_added: u64,
    pub identities_removed: u64,
}

/// The whole diff (also the JSON output of `idguard diff --format json`).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Diff {
    pub schema_version: u32,
    pub old: RunRef,
    pub new: RunRef,
    pub summary: DiffCounts,
    /// Whether anything is new or regressed (exit code 1).
    pub new_or_regressed: bool,
    /// Caveats (incomplete runs, different organizations).
    pub notes: Vec<String>,
    pub new_failures: Vec<Change>,
    pub regressed: Vec<Change>,
    pub exemptions_expired: Vec<Change>,
    pub new_errors: Vec<Change>,
    pub resolved: Vec<Change>,
    pub newly_exempt: Vec<Change>,
    pub still_failing: Vec<Change>,
    pub identities_added: Vec<IdentityRef>,
    pub identities_removed: Vec<IdentityRef>,
}

impl Diff {
    /// Sorts every list (by identity name, id, method, rule) and fills the counts.
    fn sort_and_count(&mut self) {
        let key = |c: &Change| {
            (
                c.identity_name.clone(),
                c.identity_id.clone(),
                c.auth_method.clone(),
                c.rule.clone(),
            )
        };
        for list in [
            &mut self.new_failures,
            &mut self.regressed,
            &mut self.exemptions_expired,
            &mut self.new_errors,
            &mut self.resolved,
            &mut self.newly_exempt,
            &mut self.still_failing,
        ] {
            list.sort_by_cached_key(key);
        }
        for ids in [&mut self.identities_added, &mut self.identities_removed] {
            ids.sort_by(|a, b| (&a.name, &a.id).cmp(&(&b.name, &b.id)));
        }
        let n = |len: usize| len as u64;
        self.schema_version = DIFF_SCHEMA_VERSION;
        self.summary = DiffCounts {
            new_failures: n(self.new_failures.len()),
            regressed: n(self.regressed.len()),
            exemptions_expired: n(self.exemptions_expired.len()),
            new_errors: n(self.new_errors.len()),
            resolved: n(self.resolved.len()),
            newly_exempt: n(self.newly_exempt.len()),
            still_failing: n(self.still_failing.len()),
            identities_added: n(self.identities_added.len()),
            identities_removed: n(self.identities_removed.len()),
        };
        self.new_or_regressed = !(self.new_failures.is_empty()
            && self.regressed.is_empty()
            && self.exemptions_expired.is_empty());
    }

    /// The outcome for the exit code.
    pub fn outcome(&self) -> DiffOutcome {
        DiffOutcome {
            new_or_regressed: self.new_or_regressed,
            counts: self.summary,
        }
    }

    /// Per-finding annotations for the NEW report (`{"baseline": "<category>"}`), for
    /// `audit --baseline`: merge them into the annotations given to `ReportSink::finish` so that
    /// report.json marks each changed result. Resolved-by-absence entries are not in NEW and get
    /// none; still-failing ones are marked too.
    pub fn annotations(&self) -> Annotations {
        let mut out = Annotations::new();
        for (category, list) in [
            ("new-failure", &self.new_failures),
            ("regressed", &self.regressed),
            ("exemption-expired", &self.exemptions_expired),
            ("new-error", &self.new_errors),
            ("resolved", &self.resolved),
            ("newly-exempt", &self.newly_exempt),
            ("still-failing", &self.still_failing),
        ] {
            for c in list.iter().filter(|c| c.after.is_some()) {
                let mut extra = serde_json::Map::new();
                extra.insert("baseline".into(), category.into());
                out.insert(c.finding_id.clone(), extra);
            }
        }
        out
    }
}

impl Diff {
    /// The new failures, regressions and expired exemptions by names only (rule, severity,
    /// identity name, category), in that order: what an alert lists.
    pub fn changed_results(&self) -> Vec<ChangedResult> {
        [
            ("new failure", &self.new_failures),
            ("regressed", &self.regressed),
            ("exemption expired", &self.exemptions_expired),
        ]
        .into_iter()
        .flat_map(|(change, list)| {
            list.iter().map(move |c| ChangedResult {
                rule: c.rule.clone(),
                severity: c.severity.clone(),
                identity_name: c.identity_name.clone(),
                change,
            })
        })
        .collect()
    }
}

/// What `idguard diff` tells the CLI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DiffOutcome {
    /// Anything new or regressed: exit code 1.
    pub new_or_regressed: bool,
    pub counts: DiffCounts,
}

/// Compares two report.json files and writes the diff to `out` in `format` (still-failing
/// entries listed or only counted, as `still_failing` says).
pub fn run_diff(
    old: &Path,
    new: &Path,
    format: DiffFormat,
    still_failing: StillFailing,
    out: &mut dyn Write,
) -> Result<DiffOutcome, DiffError> {
    let diff = diff_files(old, new)?;
    render(&diff, format, still_failing, out).map_err(DiffError::Write)?;
    Ok(diff.outcome())
}

/// Compares two report.json files.
pub fn diff_files(old: &Path, new: &Path) -> Result<Diff, DiffError> {
    let mut index = compare::OldIndex::default();
    let old_run = read::read_report(old, |r| index.insert(r))?;
    let mut comparison = compare::Comparison::new(index);
    let new_run = read::read_report(new, |r| comparison.observe(r))?;
    Ok(comparison.finish(old_run, new_run))
}

/// `audit --baseline PREV/report.json`: the previous report, indexed, compared with this run's
/// findings as they stream past.
///
/// Use: `BaselineTracker::load(prev)?` before the audit, then hand it to
/// `ReportSink::set_baseline`: the sink feeds it every finding, and at the end it writes
/// `diff.json` / `diff.md` beside the reports and gives them its section and annotations.
pub struct BaselineTracker {
    old_run: RunRef,
    comparison: compare::Comparison,
}

impl BaselineTracker {
    /// Reads and indexes the previous report.
    pub fn load(previous: &Path) -> Result<BaselineTracker, DiffError> {
        let mut index = compare::OldIndex::default();
        let old_run = read::read_report(previous, |r| index.insert(r))?;
        Ok(BaselineTracker {
            old_run,
            comparison: compare::Comparison::new(index),
        })
    }

    /// Compares one finding of this run.
    pub fn observe(&mut self, f: &Finding) {
        self.comparison.observe(read::ResultRecord {
            finding_id: f.finding_id.clone(),
            identity_id: f.identity_id.clone(),
            identity_name: f.identity_name.clone(),
            auth_method: f.auth_method.as_str().to_owned(),
            rule: f.rule.clone(),
            severity: f.severity.as_str().to_owned(),
            status: f.status.into(),
            violations: f
                .violations
                .iter()
                .map(|v| read::ViolationRecord {
                    message: v.message.clone(),
                })
                .collect(),
            exemption: f.exemption.as_ref().map(|e| read::ExemptionRecord {
                expires: e.expires.clone(),
            }),
            error: f.error.clone(),
        });
    }

    /// Ends the comparison; `run` describes this run.
    pub fn finish(self, run: &RunInfo) -> Diff {
        let new = RunRef {
            path: "this run".into(),
            run_id: run.id.clone(),
            started_at: run.started_at.clone(),
            org_id: run.org_id.clone(),
            complete: run.complete,
        };
        self.comparison.finish(self.old_run, new)
    }
}

impl Baseline for BaselineTracker {
    fn observe(&mut self, finding: &Finding) {
        BaselineTracker::observe(self, finding);
    }

    fn finish(self: Box<Self>, run: &RunInfo, dir: &Path) -> Result<BaselineOutcome, ReportError> {
        let diff = BaselineTracker::finish(*self, run);
        let written = write_baseline_files(dir, &diff)?;
        let mut markdown = Vec::new();
        render(
            &diff,
            DiffFormat::Markdown,
            StillFailing::Count,
            &mut markdown,
        )
        .map_err(|source| ReportError::Io {
            path: dir.join("report.md"),
            source,
        })?;
        Ok(BaselineOutcome {
            section: BaselineSection {
                json: serde_json::to_value(&diff)?,
                markdown: String::from_utf8_lossy(&markdown).into_owned(),
            },
            annotations: diff.annotations(),
            written,
            changes: diff.changed_results(),
        })
    }
}

/// Writes `diff.json` (every entry) and `diff.md` (still-failing ones only counted) into the
/// run folder (atomically, mode 0600); returns their paths.
pub fn write_baseline_files(dir: &Path, diff: &Diff) -> Result<Vec<PathBuf>, ReportError> {
    let mut written = Vec::new();
    for (name, format) in [
        ("diff.json", DiffFormat::Json),
        ("diff.md", DiffFormat::Markdown),
    ] {
        let mut bytes = Vec::new();
        let path = dir.join(name);
        render(diff, format, StillFailing::Count, &mut bytes).map_err(|source| {
            ReportError::Io {
                path: path.clone(),
                source,
            }
        })?;
        crate::report::write_atomic(&path, &bytes)?;
        written.push(path);
    }
    Ok(written)
}

#[cfg(test)]
mod tests;
