//! `report.csv`: RFC 4180 through the `csv` crate, a header row even when empty, streamed to a
//! temp file that is moved into place at the end. One row per violation: a result with several
//! violations gives several rows (its other cells repeated; `checks`, `field`, `observed`,
//! `expected` and `message` are that violation's), a result without one (a pass, an error) one
//! row with those cells empty, so every result, passes included, has at least one row.
//! Cells that a spreadsheet would run as a formula (starting with `=`, `+`, `-`, `@`, tab or
//! carriage return) get a leading `'`, since identity names and allowlist entries come from the
//! server.

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use tempfile::NamedTempFile;

use super::{FinishContext, FormatWriter, ReportError, files};
use crate::finding::{Finding, Remediation, Violation};

/// The column names, in order. Part of the report contract: only ever append (a column
/// inserted in the middle would shift every later one under a reader that counts columns).
pub const COLUMNS: [&str; 17] = [
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
    "field",
];

pub(super) struct CsvReport {
    final_path: PathBuf,
    writer: csv::Writer<NamedTempFile>,
}

impl CsvReport {
    pub(super) fn create(dir: &Path) -> Result<CsvReport, ReportError> {
        let final_path = dir.join("report.csv");
        let tmp = files::create_temp(&final_path)?;
        let mut writer = csv::WriterBuilder::new()
            .terminator(csv::Terminator::CRLF)
            .from_writer(tmp);
        writer
            .write_record(COLUMNS)
            .map_err(|source| csv_error(&final_path, source))?;
        Ok(CsvReport { final_path, writer })
    }
}

fn csv_error(path: &Path, source: csv::Error) -> ReportError {
    ReportError::Csv {
        path: path.to_owned(),
        source,
    }
}

/// Prefixes a cell that a spreadsheet would evaluate as a formula.
fn defuse(cell: &str) -> Cow<'_, str> {
    match cell.as_bytes().first() {
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r') => format!("'{cell}").into(),
        _ => cell.into(),
    }
}

/// The `remediation` and `patch` cells of a result (the same on each of its rows).
fn remediation_cells(f: &Finding) -> [Cow<'_, str>; 2] {
    match &f.remediation {
        None => ["".into(), "".into()],
        Some(Remediation::Auto { patch, .. }) => [
            "auto".into(),
            serde_json::Value::Object(patch.clone()).to_string().into(),
        ],
        Some(Remediation::Manual { reason, .. }) => [format!("manual: {reason}").into(), "".into()],
    }
}

/// The cells of one row, in [`COLUMNS`] order, before the formula guard: the result's cells
/// with those of one of its violations (`None`: a result without any).
fn cells<'a>(
    f: &'a Finding,
    violation: Option<&'a Violation>,
    remediation: &'a [Cow<'a, str>; 2],
) -> [&'a str; 17] {
    let part = |get: fn(&Violation) -> &str| violation.map_or("", get);
    let exemption = f.exemption.as_ref();
    [
        f.finding_id.as_str(),
        f.identity_id.as_str(),
        f.identity_name.as_str(),
        f.auth_method.as_str(),
        f.rule.as_str(),
        f.severity.as_str(),
        f.status.as_str(),
        part(|v| v.check.as_str()),
        part(|v| &v.observed),
        part(|v| &v.expected),
        part(|v| &v.message),
        exemption.map_or("", |e| e.reason.as_str()),
        exemption.map_or("", |e| e.expires.as_str()),
        f.error.as_deref().unwrap_or(""),
        &remediation[0],
        &remediation[1],
        part(|v| &v.field),
    ]
}

impl FormatWriter for CsvReport {
    fn write(&mut self, f: &Finding) -> Result<(), ReportError> {
        let remediation = remediation_cells(f);
        // One row per violation; one row (with no violation) when there is none.
        for i in 0..f.violations.len().max(1) {
            let row = cells(f, f.violations.get(i), &remediation).map(defuse);
            self.writer
                .write_record(row.iter().map(|c| c.as_bytes()))
                .map_err(|source| csv_error(&self.final_path, source))?;
        }
        Ok(())
    }

    fn finish(self: Box<Self>, _ctx: &FinishContext<'_>) -> Result<PathBuf, ReportError> {
        let CsvReport { final_path, writer } = *self;
        let tmp = writer.into_inner().map_err(|e| ReportError::Io {
            path: final_path.clone(),
            source: std::io::Error::other(e.to_string()),
        })?;
        files::commit(tmp, &final_path)?;
        Ok(final_path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::{AppliedExemption, CheckCode, Severity, Status};
    use crate::model::AuthMethod;

    fn written_file(findings: &[Finding]) -> Vec<u8> {
        let dir = tempfile::tempdir().unwrap();
        let mut report: Box<dyn FormatWriter> = Box::new(CsvReport::create(dir.path()).unwrap());
        for f in findings {
            report.write(f).unwrap();
        }
        let run = crate::report::RunInfo {
            id: "run".into(),
            started_at: "s".into(),
            finished_at: "f".into(),
            api_url: "u".into(),
            org_id: "org".into(),
            policy: crate::report::PolicyRef {
                path: "p".into(),
                sha256: "h".into(),
            },
            exit_code: 0,
            complete: true,
            incomplete_reason: None,
            api: crate::report::ApiCounts::default(),
            problems: Vec::new(),
            usage_evidence: "not-needed",
            usage_evidence_reason: None,
            source: crate::report::RunSource::Live,
            read: None,
            notification: None,
        };
        let summary = crate::report::Counts::new(&[]).summary();
        let annotations = crate::report::Annotations::new();
        let ctx = FinishContext {
            run: &run,
            summary: &summary,
            rules: &[],
            exemptions: &[],
            today: jiff::civil::date(2026, 11, 26),
            annotations: &annotations,
            baseline: None,
        };
        let path = report.finish(&ctx).unwrap();
        assert_eq!(path, dir.path().join("report.csv"));
        std::fs::read(path).unwrap()
    }

    /// The rows of a written file, parsed back by a CSV reader.
    fn parsed(bytes: &[u8]) -> Vec<Vec<String>> {
        csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(bytes)
            .records()
            .map(|r| r.unwrap().iter().map(str::to_owned).collect())
            .collect()
    }

    /// A typical pass result, plus the awkward cases by hand.
    fn samples() -> Vec<Finding> {
        let pass = Finding {
            finding_id: crate::finding::finding_id("org", "id-1", &AuthMethod::Universal, "r"),
            identity_id: "6f1a9c2e-0d3b-4c5a-9e7f-1a2b3c4d5e6f".into(),
            identity_name: "ci-deploy".into(),
            auth_method: AuthMethod::Universal,
            rule: "short-lived-tokens".into(),
            severity: Severity::High,
            status: Status::Pass,
            violations: vec![],
            exemption: None,
            error: None,
            remediation: None,
        };
        let violation = |observed: &str| Violation {
            check: CheckCode::TrustedIps,
            field: "accessTokenTrustedIps".into(),
            observed: observed.into(),
            expected: "within 10.0.0.0/8".into(),
            message: "an entry, \"0.0.0.0/0\", is too wide".into(),
        };
        let fail = Finding {
            identity_name: "=HYPERLINK(\"http://x\",\"y\")".into(),
            status: Status::Fail,
            violations: vec![violation("0.0.0.0/0"), violation("-1"), violation("")],
            remediation: Some(Remediation::auto(
                serde_json::json!({"accessTokenTrustedIps": [{"ipAddress": "10.0.0.0/8"}]})
                    .as_object()
                    .cloned()
                    .unwrap(),
            )),
            ..pass.clone()
        };
        let exempt = Finding {
            identity_name: "\rline\nbreak".into(),
            status: Status::Exempt,
            violations: vec![violation("@home")],
            exemption: Some(AppliedExemption {
                reason: "+legacy, until migrated".into(),
                owner: Some("team".into()),
                expires: "2027-01-01".into(),
            }),
            remediation: Some(Remediation::manual("no fallback")),
            ..pass.clone()
        };
        let error = Finding {
            status: Status::Error,
            error: Some("\tHTTP 500: \"oops\"".into()),
            ..pass.clone()
        };
        vec![pass, fail, exempt, error]
    }

    /// An empty run still has the header row, CRLF-terminated.
    #[test]
    fn empty_report_is_the_header_row() {
        let got = written_file(&[]);
        assert_eq!(parsed(&got), vec![COLUMNS.map(str::to_owned).to_vec()]);
        assert!(got.ends_with(b",patch,field\r\n"));
    }

    /// Each violation is one row that reads back cell for cell (quotes, commas, line breaks),
    /// with formulas defused; a result without violations is one row with those cells empty.
    #[test]
    fn rows_read_back_with_formulas_defused() {
        let rows = parsed(&written_file(&samples()));
        assert_eq!(rows.len(), 7, "header, pass, 3 violations, exempt, error");
        assert!(rows.iter().all(|r| r.len() == COLUMNS.len()));
        let [_, pass, fail_1, fail_2, fail_3, exempt, error] = rows.as_slice() else {
            panic!("seven rows")
        };
        assert_eq!(pass[2], "ci-deploy");
        assert_eq!(pass[6], "pass");
        assert!(pass[7..=10].iter().all(String::is_empty) && pass[16].is_empty());
        for (row, observed) in [(fail_1, "0.0.0.0/0"), (fail_2, "'-1"), (fail_3, "")] {
            assert_eq!(row[2], "'=HYPERLINK(\"http://x\",\"y\")");
            assert_eq!(row[7], "trusted-ips");
            assert_eq!(row[8], observed);
            assert_eq!(row[9], "within 10.0.0.0/8");
            assert_eq!(row[10], "an entry, \"0.0.0.0/0\", is too wide");
            assert_eq!(row[14], "auto");
            assert_eq!(
                row[15],
                r#"{"accessTokenTrustedIps":[{"ipAddress":"10.0.0.0/8"}]}"#
            );
            assert_eq!(row[16], "accessTokenTrustedIps");
        }
        assert_eq!(exempt[2], "'\rline\nbreak");
        assert_eq!(exempt[8], "'@home");
        assert_eq!(exempt[11], "'+legacy, until migrated");
        assert_eq!(exempt[12], "2027-01-01");
        assert_eq!(exempt[14], "manual: no fallback");
        assert_eq!(error[13], "'\tHTTP 500: \"oops\"");
        assert!(error[10].is_empty() && error[16].is_empty());
    }

    /// Two violations on different fields give two rows, each with its own `field`, `checks`
    /// and values, and the result's own cells repeated.
    #[test]
    fn a_result_with_two_violations_is_two_rows() {
        let mut f = samples().swap_remove(0);
        f.status = Status::Fail;
        f.violations = vec![
            Violation {
                check: CheckCode::MaxTtl,
                field: "accessTokenTTL".into(),
                observed: "30d".into(),
                expected: "at most 1h".into(),
                message: "lives too long".into(),
            },
            Violation {
                check: CheckCode::MaxUses,
                field: "accessTokenNumUsesLimit".into(),
                observed: "unlimited".into(),
                expected: "at most 1000".into(),
                message: "unlimited uses".into(),
            },
        ];
        let rows = parsed(&written_file(&[f]));
        let col = |name: &str| {
            COLUMNS
                .iter()
                .position(|c| *c == name)
                .unwrap_or(usize::MAX)
        };
        let [header, first, second] = rows.as_slice() else {
            panic!("header and two rows: {rows:?}")
        };
        assert_eq!(header[col("field")], "field");
        assert_eq!(first[..7], second[..7], "the result's cells repeated");
        let pick = |row: &[String]| {
            ["checks", "field", "observed", "expected", "message"].map(|c| row[col(c)].clone())
        };
        assert_eq!(
            pick(first),
            [
                "max-ttl",
                "accessTokenTTL",
                "30d",
                "at most 1h",
                "lives too long"
            ]
        );
        assert_eq!(
            pick(second),
            [
                "max-uses",
                "accessTokenNumUsesLimit",
                "unlimited",
                "at most 1000",
                "unlimited uses"
            ]
        );
    }
}
