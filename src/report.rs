//! Report writers: `report.json` (schema_version 1), `report.csv`, `report.md`, `report.html`,
//! `report.sarif` and `report.junit.xml`, all streamed so that an org of 100,000 identities is
//! never held in memory, plus the counts and the human summary.
//!
//! A [`ReportSink`] takes findings one at a time as the audit produces them and keeps only
//! counters; [`ReportSink::finish`] writes the run manifest and summary and moves the files into
//! place atomically. Reports are finished even when the run stopped partway (marked incomplete).
//! The sink also keeps the worst failing results for the findings table on the terminal
//! ([`TopFindings`], bounded) and renders that table ([`table`]).

mod after_apply;
mod csv_report;
mod files;
mod html;
mod json_report;
pub(crate) mod junit;
pub(crate) mod markdown;
mod sarif;
mod spool;
mod summary;
pub mod table;
mod top;

use std::path::{Path, PathBuf};

use serde::Serialize;

pub use after_apply::AfterApply;
pub use files::{
    create_private_dir_all, create_run_dir, latest_report, mark_latest, replace_atomic,
    write_atomic, write_atomic_with,
};
pub(crate) use html::{STYLE as HTML_STYLE, escape as html_escape};
pub use summary::{Counts, RuleInfo, Summary};
pub use top::{Keep, TopFindings};

use crate::finding::Finding;

/// The report schema version written in `report.json`.
pub const SCHEMA_VERSION: u32 = 1;

/// An output format selectable with `--format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum Format {
    /// `report.json`: the full, versioned machine-readable report.
    Json,
    /// `report.csv`: one row per violation (one per result without any).
    Csv,
    /// `report.md`: summary, per-rule tables, failures, expiring exemptions, errors.
    #[value(name = "md")]
    Markdown,
    /// `report.html`: one self-contained page with charts and a sortable results table.
    Html,
    /// `report.sarif`: SARIF 2.1.0 for code-scanning dashboards.
    Sarif,
    /// `report.junit.xml`: one JUnit test case per result.
    Junit,
    /// No file: the findings table (failing and `error` results, worst first) on stdout.
    Table,
}

/// Errors while writing reports.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("cannot write {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}")]
    Csv {
        path: PathBuf,
        #[source]
        source: csv::Error,
    },
    #[error("cannot encode the report: {0}")]
    Json(#[from] serde_json::Error),
}

/// What the run manifest (`run` in report.json) records.
#[derive(Debug, Clone, Serialize)]
pub struct RunInfo {
    pub id: String,
    pub started_at: String,
    pub finished_at: String,
    pub api_url: String,
    pub org_id: String,
    pub policy: PolicyRef,
    pub exit_code: u8,
    pub complete: bool,
    pub incomplete_reason: Option<String>,
    pub api: ApiCounts,
    /// What the run found wrong with its inputs, beyond the findings (e.g. an exemption whose
    /// name several identities share, which therefore exempts none of them).
    pub problems: Vec<String>,
    /// Where usage evidence came from: `audit-logs`, `unavailable` or `not-needed`.
    pub usage_evidence: &'static str,
    /// Why it was unavailable.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage_evidence_reason: Option<String>,
    /// `source: "live"`, or `source: "snapshot"` with `snapshot: {path, taken_at, ...}`.
    #[serde(flatten)]
    pub source: RunSource,
    /// How a live run read the org: `mode` (`full` or `incremental`), `mode_reason`,
    /// `base_snapshot`, `reread_configs`, `reused_configs` (absent offline).
    #[serde(flatten)]
    pub read: Option<crate::incremental::ReadMode>,
    /// What became of the alert asked for with `--notify` (absent without it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notification: Option<Notification>,
}

impl RunInfo {
    /// One line for people: where the run's configs came from.
    pub fn read_text(&self) -> String {
        match (&self.source, &self.read) {
            (RunSource::Snapshot(snap), _) => format!(
                "offline: from the snapshot {} taken at {} (nothing was read from a server)",
                snap.path, snap.taken_at
            ),
            (RunSource::Live, Some(read)) => read.describe(),
            (RunSource::Live, None) => "live".to_owned(),
        }
    }
}

/// The outcome of a `--notify` alert, as report.json's `run.notification` records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Notification {
    pub status: NotificationStatus,
    /// Why it failed, or why nothing was sent; never the webhook URL's path or query.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Whether an alert went out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum NotificationStatus {
    /// The receiver answered 2xx.
    Sent,
    /// The request could not be made or the receiver did not answer 2xx.
    Failed,
    /// Nothing new or regressed, and no `--notify-always`: no request was made.
    NothingNew,
}

/// Where a run read the organization from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "source", content = "snapshot", rename_all = "lowercase")]
pub enum RunSource {
    /// The server, during the run.
    Live,
    /// A snapshot file (`idguard audit --snapshot`): nothing was read from the server.
    Snapshot(SnapshotRef),
}

/// The snapshot an offline run audited.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SnapshotRef {
    pub path: String,
    /// When the snapshot's reading of the org started: the moment the run is judged at.
    pub taken_at: String,
    pub api_url: String,
    pub org_id: String,
}

/// The policy a run used.
#[derive(Debug, Clone, Serialize)]
pub struct PolicyRef {
    pub path: String,
    pub sha256: String,
}

/// API traffic of a run.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct ApiCounts {
    pub requests: u64,
    pub retries: u64,
    pub rate_limited: u64,
}

/// Everything a format may need when it finishes: the run manifest, the summary, the rules
/// and exemptions of the policy, the UTC date of the run, and per-finding annotations (the
/// remediation outcome of each finding after an apply).
pub struct FinishContext<'a> {
    pub run: &'a RunInfo,
    pub summary: &'a Summary,
    pub rules: &'a [RuleInfo],
    pub exemptions: &'a [crate::policy::Exemption],
    pub today: jiff::civil::Date,
    pub annotations: &'a Annotations,
    /// The comparison with a previous run (`--baseline`), when asked for.
    pub baseline: Option<&'a BaselineSection>,
}

/// A comparison with a previous run as the reports show it: report.json's `baseline` section
/// and report.md's "Changes since the baseline".
#[derive(Debug, Clone)]
pub struct BaselineSection {
    /// The whole comparison, as JSON.
    pub json: serde_json::Value,
    /// The comparison in Markdown (top-level headings `#`).
    pub markdown: String,
}

/// What a comparison with a previous run hands the reports when the run ends.
pub struct BaselineOutcome {
    /// Shown in report.json and report.md.
    pub section: BaselineSection,
    /// Merged into the results they name (e.g. `{"baseline": "new-failure"}`).
    pub annotations: Annotations,
    /// Files the comparison wrote beside the reports.
    pub written: Vec<PathBuf>,
    /// The results new or regressed since the previous run (what an alert lists).
    pub changes: Vec<ChangedResult>,
}

/// A result that is new or regressed since the previous run, by names only (no server value,
/// no violation text): what an alert may show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangedResult {
    pub rule: String,
    pub severity: String,
    pub identity_name: String,
    /// `new failure`, `regressed` or `exemption expired`.
    pub change: &'static str,
}

/// A comparison with a previous run, fed every finding as it is written (`--baseline`).
/// Implemented by the `diff` module; the reports only show what it returns.
pub trait Baseline: Send {
    /// Compares one finding of this run.
    fn observe(&mut self, finding: &Finding);
    /// Ends the comparison (`run` describes this run) and writes its own files into `dir`.
    fn finish(self: Box<Self>, run: &RunInfo, dir: &Path) -> Result<BaselineOutcome, ReportError>;
}

/// Extra fields merged into individual results at finish time, keyed by `finding_id`
/// (e.g. `{"remediation_outcome": "verified"}`).
pub type Annotations =
    std::collections::HashMap<String, serde_json::Map<String, serde_json::Value>>;

/// One report format, fed one finding at a time. Implementations keep at most a bounded
/// amount in memory (stream to a temp file, assemble at finish) and move their file into place
/// atomically in `finish`.
pub trait FormatWriter: Send {
    /// Adds one finding.
    fn write(&mut self, finding: &Finding) -> Result<(), ReportError>;
    /// Writes the file and returns its path.
    fn finish(self: Box<Self>, ctx: &FinishContext<'_>) -> Result<PathBuf, ReportError>;
    /// The last login of a listed identity, told before its findings (formats that show it
    /// keep it; the others ignore it).
    fn last_login(&mut self, _identity_id: &str, _text: &str) {}
}

/// Opens the writer of `format` in `dir` (none for [`Format::Table`], which is no file).
fn open_writer(format: Format, dir: &Path) -> Result<Option<Box<dyn FormatWriter>>, ReportError> {
    Ok(Some(match format {
        Format::Json => Box::new(json_report::JsonReport::create(dir)?),
        Format::Csv => Box::new(csv_report::CsvReport::create(dir)?),
        Format::Markdown => Box::new(markdown::MarkdownReport::create(dir)?),
        Format::Html => Box::new(html::HtmlReport::create(dir)?),
        Format::Sarif => Box::new(sarif::SarifReport::create(dir)?),
        Format::Junit => Box::new(junit::JunitReport::create(dir)?),
        Format::Table => return Ok(None),
    }))
}

/// Streams findings into the selected report files and counts them.
pub struct ReportSink {
    writers: Vec<Box<dyn FormatWriter>>,
    counts: Counts,
    top: TopFindings,
    baseline: Option<Box<dyn Baseline>>,
    dir: PathBuf,
}

impl ReportSink {
    /// Opens the report files of `formats` in `dir` (which must exist). No failing result is
    /// kept for a table until [`ReportSink::keep_worst`] says how many.
    pub fn create(
        dir: &Path,
        formats: &[Format],
        rules: &[RuleInfo],
    ) -> Result<ReportSink, ReportError> {
        let mut unique: Vec<Format> = Vec::new();
        for f in formats {
            if !unique.contains(f) {
                unique.push(*f);
            }
        }
        let mut writers = Vec::new();
        for f in unique {
            writers.extend(open_writer(f, dir)?);
        }
        Ok(ReportSink {
            writers,
            counts: Counts::new(rules),
            top: TopFindings::default(),
            baseline: None,
            dir: dir.to_owned(),
        })
    }

    /// Compares every finding with a previous run's report (`--baseline`): results gain a
    /// `baseline` annotation and `diff.json` / `diff.md` are written beside the reports.
    pub fn set_baseline(&mut self, baseline: Box<dyn Baseline>) {
        self.baseline = Some(baseline);
    }

    /// Keeps the worst failing and `error` results for the findings table (see
    /// [`TopFindings`]): call before the first [`ReportSink::write`].
    pub fn keep_worst(&mut self, keep: Keep) {
        self.top = TopFindings::new(keep);
    }

    /// The worst failing and `error` results kept so far (the sink then keeps none).
    pub fn take_worst(&mut self) -> TopFindings {
        std::mem::take(&mut self.top)
    }

    /// Records that one identity was listed (for the summary).
    pub fn count_identity(&mut self) {
        self.counts.identities += 1;
    }

    /// Records a listed identity: counted, and its last login told to the formats that show
    /// it (when the server reports last logins).
    pub fn identity_listed(&mut self, identity: &crate::model::Identity) {
        self.count_identity();
        if let Some(text) = last_login_text(&identity.usage.last_login) {
            for w in &mut self.writers {
                w.last_login(&identity.id, &text);
            }
        }
    }

    /// Records that one auth config was audited (read, or failed to read).
    pub fn count_config(&mut self) {
        self.counts.auth_configs += 1;
    }

    /// Writes one finding to every open report and counts it.
    pub fn write(&mut self, finding: &Finding) -> Result<(), ReportError> {
        self.counts.add(finding);
        self.top.observe(finding);
        if let Some(b) = &mut self.baseline {
            b.observe(finding);
        }
        for w in &mut self.writers {
            w.write(finding)?;
        }
        Ok(())
    }

    /// The counts so far.
    pub fn counts(&self) -> &Counts {
        &self.counts
    }

    /// Writes the manifest and summary, and moves every report into place. Returns the paths
    /// written.
    pub fn finish(
        self,
        run: &RunInfo,
        exemptions: &[crate::policy::Exemption],
        today: jiff::civil::Date,
        annotations: &Annotations,
    ) -> Result<Vec<PathBuf>, ReportError> {
        self.compare(run)?
            .finish(run, exemptions, today, annotations)
    }

    /// Ends the comparison with the previous run, if any (writing its own files), before the
    /// reports are written: the caller may act on its outcome (an alert) and record that in
    /// the manifest it then gives [`ComparedSink::finish`].
    pub fn compare(self, run: &RunInfo) -> Result<ComparedSink, ReportError> {
        let baseline = match self.baseline {
            Some(b) => Some(b.finish(run, &self.dir)?),
            None => None,
        };
        Ok(ComparedSink {
            writers: self.writers,
            counts: self.counts,
            baseline,
        })
    }
}

/// A [`ReportSink`] whose comparison with the previous run is done and whose reports are not
/// written yet.
pub struct ComparedSink {
    writers: Vec<Box<dyn FormatWriter>>,
    counts: Counts,
    baseline: Option<BaselineOutcome>,
}

impl ComparedSink {
    /// The comparison with the previous run (`None` without one).
    pub fn baseline(&self) -> Option<&BaselineOutcome> {
        self.baseline.as_ref()
    }

    /// Writes the manifest and summary, and moves every report into place. Returns the paths
    /// written (the comparison's files first).
    pub fn finish(
        self,
        run: &RunInfo,
        exemptions: &[crate::policy::Exemption],
        today: jiff::civil::Date,
        annotations: &Annotations,
    ) -> Result<Vec<PathBuf>, ReportError> {
        let summary = self.counts.summary();
        let mut written = Vec::new();
        let mut merged;
        let mut annotations = annotations;
        if let Some(outcome) = &self.baseline {
            merged = annotations.clone();
            for (id, extra) in &outcome.annotations {
                merged.entry(id.clone()).or_default().extend(extra.clone());
            }
            annotations = &merged;
            written.extend(outcome.written.iter().cloned());
        }
        let ctx = FinishContext {
            run,
            summary: &summary,
            rules: self.counts.rules(),
            exemptions,
            today,
            annotations,
            baseline: self.baseline.as_ref().map(|b| &b.section),
        };
        for w in self.writers {
            written.push(w.finish(&ctx)?);
        }
        Ok(written)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::{Severity, Status, finding_id};
    use crate::model::AuthMethod;

    fn finding(n: usize, status: Status) -> Finding {
        Finding {
            finding_id: finding_id("org", &format!("id-{n}"), &AuthMethod::Oci, "r"),
            identity_id: format!("id-{n}"),
            identity_name: if n == 0 {
                "=HYPERLINK(\"x\")".into()
            } else {
                format!("name-{n}")
            },
            auth_method: AuthMethod::Oci,
            rule: "r".into(),
            severity: Severity::High,
            status,
            violations: vec![],
            exemption: None,
            error: None,
            remediation: None,
        }
    }

    fn run_info() -> RunInfo {
        RunInfo {
            id: "run".into(),
            started_at: "s".into(),
            finished_at: "f".into(),
            api_url: "u".into(),
            org_id: "org".into(),
            policy: PolicyRef {
                path: "p".into(),
                sha256: "h".into(),
            },
            exit_code: 1,
            complete: true,
            incomplete_reason: None,
            api: ApiCounts::default(),
            problems: Vec::new(),
            usage_evidence: "not-needed",
            usage_evidence_reason: None,
            source: crate::report::RunSource::Live,
            read: None,
            notification: None,
        }
    }

    fn write_reports(
        n: usize,
        annotations: &Annotations,
    ) -> (tempfile::TempDir, serde_json::Value, String) {
        let dir = tempfile::tempdir().expect("tempdir");
        let rules = [
            RuleInfo {
                id: "r".into(),
                severity: Severity::High,
                description: None,
            },
            RuleInfo {
                id: "unused".into(),
                severity: Severity::Low,
                description: None,
            },
        ];
        let mut sink = ReportSink::create(
            dir.path(),
            &[Format::Json, Format::Csv, Format::Json],
            &rules,
        )
        .expect("create");
        for i in 0..n {
            sink.write(&finding(
                i,
                if i % 2 == 0 {
                    Status::Fail
                } else {
                    Status::Pass
                },
            ))
            .expect("write");
        }
        let today = jiff::civil::date(2026, 11, 25);
        let files = sink
            .finish(&run_info(), &[], today, annotations)
            .expect("finish");
        assert_eq!(files.len(), 2);
        let json = std::fs::read_to_string(dir.path().join("report.json")).expect("json");
        let csv = std::fs::read_to_string(dir.path().join("report.csv")).expect("csv");
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .expect("dir")
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with('.'))
            .collect();
        assert!(leftovers.is_empty(), "temp files left behind");
        (dir, serde_json::from_str(&json).expect("valid JSON"), csv)
    }

    #[test]
    fn streamed_reports_are_valid_and_complete() {
        for n in [0, 1, 5] {
            let (_dir, report, csv) = write_reports(n, &Annotations::new());
            assert_eq!(report["results"].as_array().map(Vec::len), Some(n));
            assert_eq!(report["summary"]["results"], n as u64);
            assert_eq!(
                report["summary"]["by_rule"]["unused"]["pass"], 0,
                "every rule listed"
            );
            assert_eq!(report["schema_version"], 1);
            assert_eq!(csv.lines().count(), n + 1, "header plus one row per result");
            if n > 0 {
                assert!(csv.contains("'=HYPERLINK"), "formula defused");
            }
        }
    }

    #[test]
    fn annotations_are_merged_into_their_results() {
        let target = finding(3, Status::Pass).finding_id;
        let mut annotations = Annotations::new();
        let mut extra = serde_json::Map::new();
        extra.insert("remediation_outcome".into(), "verified".into());
        annotations.insert(target.clone(), extra);
        let (_dir, report, _) = write_reports(5, &annotations);
        let results = report["results"].as_array().expect("results");
        let tagged: Vec<_> = results
            .iter()
            .filter(|r| r.get("remediation_outcome").is_some())
            .collect();
        assert_eq!(tagged.len(), 1);
        assert_eq!(tagged[0]["finding_id"], target.as_str());
    }

    #[cfg(unix)]
    #[test]
    fn report_files_are_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let (dir, _, _) = write_reports(1, &Annotations::new());
        let mode = std::fs::metadata(dir.path().join("report.json"))
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

/// An identity's last login as the reports show it: `2026-12-02 (aws-auth)`, `never`, or
/// `None` when the server does not report it.
pub fn last_login_text(last: &crate::model::LastLogin) -> Option<String> {
    use crate::model::LastLogin;
    match last {
        LastLogin::NotReported => None,
        LastLogin::Never => Some("never".to_owned()),
        LastLogin::At { time, method } => {
            let day = time.to_zoned_datetime(jiff::tz::TimeZone::UTC).date();
            Some(match method {
                Some(m) => format!("{day} ({m})"),
                None => day.to_string(),
            })
        }
    }
}

#[cfg(test)]
mod last_login_tests {
    use super::last_login_text;
    use crate::model::{AuthMethod, LastLogin};

    #[test]
    fn last_logins_as_reports_show_them() {
        assert_eq!(last_login_text(&LastLogin::NotReported), None);
        assert_eq!(last_login_text(&LastLogin::Never).as_deref(), Some("never"));
        let at = LastLogin::At {
            time: "2026-12-02T23:59:00Z".parse().unwrap(),
            method: Some(AuthMethod::Aws),
        };
        assert_eq!(
            last_login_text(&at).as_deref(),
            Some("2026-12-02 (aws-auth)")
        );
    }
}
