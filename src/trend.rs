//! `idguard trend`: reading every run's `report.json` under a reports folder into points of a
//! time series (counts per run, per rule and per severity), sorted by the run's start. Runs
//! that cannot be read (no report.json, truncated or invalid JSON, missing fields, too large)
//! are kept as [`Skipped`] with the reason, never an error. Rendering lives in
//! [`html`] (`trend.html`) and [`markdown`] (`trend.md`).

pub mod html;
pub mod markdown;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::finding::Severity;

/// What one run's report.json says, as far as trends need it.
#[derive(Debug, Clone, PartialEq)]
pub struct RunPoint {
    /// The run's folder name under the reports folder.
    pub folder: String,
    pub started_at: jiff::Timestamp,
    pub complete: bool,
    pub exit_code: u8,
    pub summary: SummaryRecord,
    /// How the run read the org: `full`, `incremental`, `offline` (a snapshot), or `-` when
    /// its report does not say (runs of older versions).
    pub read: &'static str,
}

/// A run that could not be read, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub folder: String,
    pub reason: String,
}

/// Every run under a reports folder: readable ones sorted by start, then those skipped (by
/// folder name).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Trend {
    pub runs: Vec<RunPoint>,
    pub skipped: Vec<Skipped>,
}

/// The `summary` object of report.json, as far as trends need it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SummaryRecord {
    pub identities: u64,
    pub results: u64,
    pub pass: u64,
    pub fail: u64,
    pub exempt: u64,
    pub error: u64,
    pub by_rule: BTreeMap<String, FailErr>,
    pub by_severity: BTreeMap<String, FailErr>,
}

/// The fail and error counts of one rule or severity.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub struct FailErr {
    pub fail: u64,
    pub error: u64,
}

#[derive(Deserialize)]
struct ReportRecord {
    run: RunRecord,
    summary: SummaryRecord,
}

#[derive(Deserialize)]
struct RunRecord {
    started_at: jiff::Timestamp,
    complete: bool,
    exit_code: u8,
    #[serde(default)]
    mode: Option<String>,
    #[serde(default)]
    source: Option<String>,
}

impl RunRecord {
    /// [`RunPoint::read`]: only the values idguard writes, never the file's own text.
    fn read(&self) -> &'static str {
        match (self.source.as_deref(), self.mode.as_deref()) {
            (Some("snapshot"), _) => "offline",
            (_, Some("full")) => "full",
            (_, Some("incremental")) => "incremental",
            _ => "-",
        }
    }
}

/// The reports folder itself could not be listed.
#[derive(Debug, thiserror::Error)]
#[error("cannot read the reports folder {}: {source}", path.display())]
pub struct TrendError {
    pub path: PathBuf,
    #[source]
    pub source: std::io::Error,
}

impl Trend {
    /// The rules seen in any run, sorted by id.
    pub fn rules(&self) -> Vec<&str> {
        let mut rules: Vec<&str> = self
            .runs
            .iter()
            .flat_map(|r| r.summary.by_rule.keys().map(String::as_str))
            .collect();
        rules.sort_unstable();
        rules.dedup();
        rules
    }

    /// The severities seen in any run, most severe first.
    pub fn severities(&self) -> Vec<&'static str> {
        Severity::ALL
            .iter()
            .map(|s| s.as_str())
            .filter(|s| {
                self.runs
                    .iter()
                    .any(|r| r.summary.by_severity.contains_key(*s))
            })
            .collect()
    }
}

/// Reads every run folder under `dir` (the `latest` link and plain files are passed over).
pub fn collect(dir: &Path) -> Result<Trend, TrendError> {
    let err = |source| TrendError {
        path: dir.to_owned(),
        source,
    };
    let mut trend = Trend::default();
    for entry in std::fs::read_dir(dir).map_err(err)? {
        let entry = entry.map_err(err)?;
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if !kind.is_dir() {
            // `latest` is a symlink; trend.html and trend.md are files.
            continue;
        }
        let folder = entry.file_name().to_string_lossy().into_owned();
        match read_run(&entry.path().join("report.json"), folder.clone()) {
            Ok(point) => trend.runs.push(point),
            Err(reason) => trend.skipped.push(Skipped { folder, reason }),
        }
    }
    trend
        .runs
        .sort_by(|a, b| (a.started_at, &a.folder).cmp(&(b.started_at, &b.folder)));
    trend.skipped.sort_by(|a, b| a.folder.cmp(&b.folder));
    Ok(trend)
}

/// Reads one run's report.json, or says why it cannot be used.
fn read_run(path: &Path, folder: String) -> Result<RunPoint, String> {
    let bytes = match crate::input::read_capped(path, crate::input::REPORT_CAP, "report") {
        Ok(bytes) => bytes,
        Err(crate::input::InputError::Io { source, .. })
            if source.kind() == std::io::ErrorKind::NotFound =>
        {
            return Err("no report.json".to_owned());
        }
        Err(e) => return Err(e.to_string()),
    };
    parse_report(&bytes, folder)
}

/// Decodes the fields trends need from the text of a report.json.
pub fn parse_report(bytes: &[u8], folder: String) -> Result<RunPoint, String> {
    let report: ReportRecord =
        serde_json::from_slice(bytes).map_err(|e| format!("report.json cannot be used: {e}"))?;
    Ok(RunPoint {
        folder,
        started_at: report.run.started_at,
        complete: report.run.complete,
        exit_code: report.run.exit_code,
        read: report.run.read(),
        summary: report.summary,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A report.json with the fields trends read (and some it ignores).
    pub(crate) fn report(started_at: &str, fail: u64) -> String {
        serde_json::json!({
            "schema_version": 1,
            "tool": {"name": "idguard", "version": "0.1.0"},
            "run": {"id": "r", "started_at": started_at, "complete": true, "exit_code": 1,
                    "org_id": "o"},
            "summary": {
                "identities": 3, "auth_configs": 3, "results": 6, "pass": 4, "fail": fail,
                "error": 0, "exempt": 0,
                "by_rule": {"network": {"pass": 2, "fail": fail, "error": 0, "exempt": 0}},
                "by_severity": {"critical": {"pass": 2, "fail": fail, "error": 0, "exempt": 0}}
            },
            "results": [{"finding_id": "x"}]
        })
        .to_string()
    }

    /// Two runs (folders `r1` and `r2`, with `fails[i]` failures) and one skipped run named
    /// `skipped`.
    pub(crate) fn two_runs(fails: [u64; 2], skipped: &str) -> Trend {
        let run = |day: u8, fail: u64| {
            let text = report(&format!("2026-11-{day}T01:00:00Z"), fail);
            parse_report(text.as_bytes(), format!("r{}", day - 19)).expect("parses")
        };
        Trend {
            runs: vec![run(20, fails[0]), run(21, fails[1])],
            skipped: vec![Skipped {
                folder: skipped.into(),
                reason: "no report.json".into(),
            }],
        }
    }

    /// The fields trends need are read; the rest of the report is ignored.
    #[test]
    fn parses_the_summary_and_run() {
        let point =
            parse_report(report("2026-11-20T01:00:00Z", 2).as_bytes(), "a".into()).expect("parses");
        assert_eq!(point.exit_code, 1);
        assert!(point.complete);
        assert_eq!(point.summary.fail, 2);
        assert_eq!(point.summary.by_rule["network"].fail, 2);
        assert_eq!(point.summary.by_severity["critical"].fail, 2);
    }

    /// How each run read the org, from `run.mode` and `run.source`; anything else is `-`.
    #[test]
    fn the_read_of_each_run() {
        let with = |extra: serde_json::Value| {
            let mut v: serde_json::Value =
                serde_json::from_str(&report("2026-11-20T01:00:00Z", 2)).expect("json");
            if let (Some(run), Some(extra)) = (v["run"].as_object_mut(), extra.as_object()) {
                run.extend(extra.clone());
            }
            parse_report(v.to_string().as_bytes(), "a".into())
                .expect("parses")
                .read
        };
        assert_eq!(with(serde_json::json!({})), "-");
        assert_eq!(
            with(serde_json::json!({"mode": "full", "source": "live"})),
            "full"
        );
        assert_eq!(
            with(serde_json::json!({"mode": "incremental"})),
            "incremental"
        );
        assert_eq!(with(serde_json::json!({"source": "snapshot"})), "offline");
        assert_eq!(with(serde_json::json!({"mode": "<script>"})), "-");
    }

    /// Truncated JSON and a missing field are refused with a reason naming the problem.
    #[test]
    fn bad_reports_give_a_reason() {
        let text = report("2026-11-20T01:00:00Z", 2);
        let cut =
            parse_report(&text.as_bytes()[..text.len() / 2], "a".into()).expect_err("truncated");
        assert!(cut.contains("EOF"), "{cut}");
        let no_run = serde_json::json!({"summary": {}}).to_string();
        let missing = parse_report(no_run.as_bytes(), "a".into()).expect_err("missing");
        assert!(missing.contains("missing field"), "{missing}");
        let bad_time = report("yesterday", 1);
        assert!(parse_report(bad_time.as_bytes(), "a".into()).is_err());
    }

    /// Runs are sorted by their start, not their folder name; a folder without report.json
    /// and a corrupt one are skipped with their reasons; files and the `latest` link are
    /// passed over.
    #[test]
    fn collects_sorted_runs_and_skips_bad_ones() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path();
        for (folder, text) in [
            ("b", report("2026-11-20T01:00:00Z", 1)),
            ("a", report("2026-11-21T01:00:00Z", 2)),
            ("c", "{\"run\": {".to_owned()),
        ] {
            std::fs::create_dir(dir.join(folder)).expect("mkdir");
            std::fs::write(dir.join(folder).join("report.json"), text).expect("write");
        }
        std::fs::create_dir(dir.join("empty")).expect("mkdir");
        std::fs::write(dir.join("trend.md"), "x").expect("write");
        #[cfg(unix)]
        std::os::unix::fs::symlink("a", dir.join("latest")).expect("symlink");
        let trend = collect(dir).expect("collects");
        let folders: Vec<&str> = trend.runs.iter().map(|r| r.folder.as_str()).collect();
        assert_eq!(folders, ["b", "a"]);
        assert_eq!(trend.skipped.len(), 2);
        assert_eq!(trend.skipped[0].folder, "c");
        assert!(trend.skipped[0].reason.contains("EOF"));
        assert_eq!(trend.skipped[1].folder, "empty");
        assert_eq!(trend.skipped[1].reason, "no report.json");
        assert_eq!(trend.rules(), ["network"]);
        assert_eq!(trend.severities(), ["critical"]);
        assert!(collect(&dir.join("nope")).is_err());
    }
}
