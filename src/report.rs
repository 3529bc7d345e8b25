//! Report writers: `report.json` (schema_version 1) and `report.csv`, both streamed so that an
//! org of 100,000 identities is never held in memory, plus the counts and the human summary.
//!
//! A [`ReportSink`] takes findings one at a time as the audit produces them and keeps only
//! counters; [`ReportSink::finish`] writes the run manifest and summary and moves the files into
//! place atomically. Reports are finished even when the run stopped partway (marked incomplete).

mod csv_report;
mod files;
mod json_report;
mod summary;

use std::path::{Path, PathBuf};

use serde::Serialize;

pub use files::{create_run_dir, write_atomic};
pub use summary::{Counts, RuleInfo, Summary};

use crate::finding::Finding;

/// The report schema version written in `report.json`.
pub const SCHEMA_VERSION: u32 = 1;

/// An output format selectable with `--format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum Format {
    /// `report.json`: the full, versioned machine-readable report.
    Json,
    /// `report.csv`: one row per result.
    Csv,
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

/// Streams findings into the selected report files and counts them.
pub struct ReportSink {
    dir: PathBuf,
    json: Option<json_report::JsonReport>,
    csv: Option<csv_report::CsvReport>,
    counts: Counts,
}

impl ReportSink {
    /// Opens the report files of `formats` in `dir` (which must exist).
    pub fn create(dir: &Path, formats: &[Format], rules: &[RuleInfo]) -> Result<ReportSink, ReportError> {
        let json = if formats.contains(&Format::Json) {
            Some(json_report::JsonReport::create(dir)?)
        } else {
            None
        };
        let csv = if formats.contains(&Format::Csv) {
            Some(csv_report::CsvReport::create(dir)?)
        } else {
            None
        };
        Ok(ReportSink { dir: dir.to_owned(), json, csv, counts: Counts::new(rules) })
    }

    /// Records that one identity was listed (for the summary).
    pub fn count_identity(&mut self) {
        self.counts.identities += 1;
    }

    /// Records that one auth config was audited (read, or failed to read).
    pub fn count_config(&mut self) {
        self.counts.auth_configs += 1;
    }

    /// Writes one finding to every open report and counts it.
    pub fn write(&mut self, finding: &Finding) -> Result<(), ReportError> {
        self.counts.add(finding);
        if let Some(json) = &mut self.json {
            json.write(finding)?;
        }
        if let Some(csv) = &mut self.csv {
            csv.write(finding)?;
        }
        Ok(())
    }

    /// The counts so far.
    pub fn counts(&self) -> &Counts {
        &self.counts
    }

    /// Writes the manifest and summary, and moves every report into place. Returns the paths
    /// written.
    pub fn finish(self, run: &RunInfo) -> Result<Vec<PathBuf>, ReportError> {
        let summary = self.counts.summary();
        let mut written = Vec::new();
        if let Some(json) = self.json {
            written.push(json.finish(run, &summary)?);
        }
        if let Some(csv) = self.csv {
            written.push(csv.finish()?);
        }
        let _ = &self.dir;
        Ok(written)
    }
}
