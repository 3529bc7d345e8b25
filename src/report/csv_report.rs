//! `report.csv`: RFC 4180, a header row even when empty, one row per result (passes included),
//! streamed. Cells that a spreadsheet would run as a formula (starting with `=`, `+`, `-`, `@`,
//! tab or carriage return) get a leading `'`, since identity names and allowlist entries come
//! from the server.

use std::fs::File;
use std::path::{Path, PathBuf};

use super::{FinishContext, FormatWriter, ReportError, files};
use crate::finding::{Finding, Remediation};

/// The column names, in order. Part of the report contract: only ever append.
pub const COLUMNS: [&str; 16] = [
    "finding_id",
    "identity_id",
    "identity_name",
    "auth_method",
    "rule",
    "severity",
    "status",
    "checks",
    "observed",
    "expected",
    "message",
    "exemption_reason",
    "exemption_expires",
    "error",
    "remediation",
    "patch",
];

pub(super) struct CsvReport {
    final_path: PathBuf,
    tmp: PathBuf,
    writer: csv::Writer<File>,
}

impl CsvReport {
    pub(super) fn create(dir: &Path) -> Result<CsvReport, ReportError> {
        let final_path = dir.join("report.csv");
        let (file, tmp) = files::create_temp(&final_path)?;
        let mut writer = csv::WriterBuilder::new()
            .terminator(csv::Terminator::CRLF)
            .from_writer(file);
        writer
            .write_record(COLUMNS)
            .map_err(|source| ReportError::Csv {
                path: tmp.clone(),
                source,
            })?;
        Ok(CsvReport {
            final_path,
            tmp,
            writer,
        })
    }
}

impl FormatWriter for CsvReport {
    fn write(&mut self, f: &Finding) -> Result<(), ReportError> {
        let join = |sep: &str, part: fn(&crate::finding::Violation) -> &str| {
            f.violations.iter().map(part).collect::<Vec<_>>().join(sep)
        };
        let (remediation, patch) = match &f.remediation {
            None => (String::new(), String::new()),
            Some(Remediation::Auto { patch, .. }) => (
                "auto".to_owned(),
                serde_json::to_string(patch).unwrap_or_default(),
            ),
            Some(Remediation::Manual { reason, .. }) => {
                (format!("manual: {reason}"), String::new())
            }
        };
        let row = [
            f.finding_id.clone(),
            f.identity_id.clone(),
            f.identity_name.clone(),
            f.auth_method.to_string(),
            f.rule.clone(),
            f.severity.to_string(),
            f.status.as_str().to_owned(),
            join(";", |v| v.check.as_str()),
            join(" | ", |v| &v.observed),
            join(" | ", |v| &v.expected),
            join(" | ", |v| &v.message),
            f.exemption
                .as_ref()
                .map(|e| e.reason.clone())
                .unwrap_or_default(),
            f.exemption
                .as_ref()
                .map(|e| e.expires.clone())
                .unwrap_or_default(),
            f.error.clone().unwrap_or_default(),
            remediation,
            patch,
        ];
        self.writer
            .write_record(row.iter().map(|c| defuse(c).into_owned()))
            .map_err(|source| ReportError::Csv {
                path: self.tmp.clone(),
                source,
            })
    }

    fn finish(self: Box<Self>, _ctx: &FinishContext<'_>) -> Result<PathBuf, ReportError> {
        let CsvReport {
            final_path,
            tmp,
            writer,
        } = *self;
        let file = writer.into_inner().map_err(|e| ReportError::Io {
            path: tmp.clone(),
            source: e.into_error(),
        })?;
        files::commit(file, &tmp, &final_path)?;
        Ok(final_path)
    }
}

/// Prefixes a cell that a spreadsheet would evaluate as a formula.
fn defuse(cell: &str) -> std::borrow::Cow<'_, str> {
    match cell.as_bytes().first() {
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r') => format!("'{cell}").into(),
        _ => cell.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_cells_are_defused() {
        assert_eq!(defuse("=cmd|' /C calc'!A0"), "'=cmd|' /C calc'!A0");
        assert_eq!(defuse("ci-deploy"), "ci-deploy");
        assert_eq!(defuse(""), "");
    }
}
