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
            // One write call per MiB of rows, not per 8 KiB.
            .buffer_capacity(1 << 20)
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
        use std::borrow::Cow;
        // Borrow wherever possible: this runs for every result of a large org.
        let join = |sep: &str, part: fn(&crate::finding::Violation) -> &str| -> Cow<'_, str> {
            match f.violations.as_slice() {
                [] => Cow::Borrowed(""),
                [one] => Cow::Borrowed(part(one)),
                many => Cow::Owned(many.iter().map(part).collect::<Vec<_>>().join(sep)),
            }
        };
        let (remediation, patch): (Cow<'_, str>, Cow<'_, str>) = match &f.remediation {
            None => ("".into(), "".into()),
            Some(Remediation::Auto { patch, .. }) => (
                "auto".into(),
                serde_json::to_string(patch).unwrap_or_default().into(),
            ),
            Some(Remediation::Manual { reason, .. }) => {
                (format!("manual: {reason}").into(), "".into())
            }
        };
        let exemption = f.exemption.as_ref();
        let row: [Cow<'_, str>; 16] = [
            f.finding_id.as_str().into(),
            f.identity_id.as_str().into(),
            f.identity_name.as_str().into(),
            f.auth_method.as_str().into(),
            f.rule.as_str().into(),
            f.severity.as_str().into(),
            f.status.as_str().into(),
            join(";", |v| v.check.as_str()),
            join(" | ", |v| &v.observed),
            join(" | ", |v| &v.expected),
            join(" | ", |v| &v.message),
            exemption.map_or("", |e| e.reason.as_str()).into(),
            exemption.map_or("", |e| e.expires.as_str()).into(),
            f.error.as_deref().unwrap_or("").into(),
            remediation,
            patch,
        ];
        self.writer
            .write_record(row.iter().map(|c| Cell(defuse(c))))
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

/// A cell as bytes for the csv writer.
struct Cell<'a>(std::borrow::Cow<'a, str>);

impl AsRef<[u8]> for Cell<'_> {
    fn as_ref(&self) -> &[u8] {
        self.0.as_bytes()
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
