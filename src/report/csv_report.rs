//! `report.csv`: RFC 4180, a header row even when empty, one row per result (passes included),
//! streamed. Cells that a spreadsheet would run as a formula (starting with `=`, `+`, `-`, `@`,
//! tab or carriage return) get a leading `'`, since identity names and allowlist entries come
//! from the server.
//!
//! Rows are encoded by `csv_row` into a 1 MiB buffer and written to a temp file in big chunks;
//! the bytes are exactly what the `csv` crate wrote with a CRLF terminator (the tests here keep
//! that writer as the reference and compare). Write errors are reported as `ReportError::Io`.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::{FinishContext, FormatWriter, ReportError, csv_row, files};
use crate::finding::Finding;

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

/// Rows are encoded into `buf` and written to the file once it holds this many bytes.
const FLUSH_AT: usize = 1 << 20;

pub(super) struct CsvReport {
    final_path: PathBuf,
    tmp: PathBuf,
    file: File,
    /// Encoded rows not yet written to `file`.
    buf: Vec<u8>,
    /// Reused for cells that are assembled from several parts.
    scratch: Vec<u8>,
}

impl CsvReport {
    pub(super) fn create(dir: &Path) -> Result<CsvReport, ReportError> {
        let final_path = dir.join("report.csv");
        let (file, tmp) = files::create_temp(&final_path)?;
        // Headroom past FLUSH_AT so that the row crossing it does not reallocate.
        let mut buf = Vec::with_capacity(FLUSH_AT + (64 << 10));
        csv_row::push_header(&mut buf, &COLUMNS);
        Ok(CsvReport {
            final_path,
            tmp,
            file,
            buf,
            scratch: Vec::new(),
        })
    }

    /// Writes the buffered rows to the temp file.
    fn flush(&mut self) -> Result<(), ReportError> {
        self.file
            .write_all(&self.buf)
            .map_err(|source| ReportError::Io {
                path: self.tmp.clone(),
                source,
            })?;
        self.buf.clear();
        Ok(())
    }
}

impl FormatWriter for CsvReport {
    fn write(&mut self, f: &Finding) -> Result<(), ReportError> {
        csv_row::push_row(&mut self.buf, &mut self.scratch, f);
        if self.buf.len() >= FLUSH_AT {
            self.flush()?;
        }
        Ok(())
    }

    fn finish(mut self: Box<Self>, _ctx: &FinishContext<'_>) -> Result<PathBuf, ReportError> {
        self.flush()?;
        let CsvReport {
            final_path,
            tmp,
            file,
            ..
        } = *self;
        files::commit(file, &tmp, &final_path)?;
        Ok(final_path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::{AppliedExemption, CheckCode, Remediation, Severity, Status, Violation};
    use crate::model::AuthMethod;
    use proptest::prelude::*;
    use serde_json::Value;

    // ---- The reference: the csv-crate writer this module used before, kept verbatim. ----

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

    fn reference_write(writer: &mut csv::Writer<Vec<u8>>, f: &Finding) {
        use std::borrow::Cow;
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
        writer
            .write_record(row.iter().map(|c| Cell(defuse(c))))
            .unwrap();
    }

    /// The whole file as the old writer produced it.
    fn reference_file(findings: &[Finding]) -> Vec<u8> {
        let mut writer = csv::WriterBuilder::new()
            .terminator(csv::Terminator::CRLF)
            .buffer_capacity(1 << 20)
            .from_writer(Vec::new());
        writer.write_record(COLUMNS).unwrap();
        for f in findings {
            reference_write(&mut writer, f);
        }
        writer.into_inner().unwrap()
    }

    // ---- The new encoder, in memory and through the file. ----

    fn encoded_file(findings: &[Finding]) -> Vec<u8> {
        let (mut out, mut scratch) = (Vec::new(), Vec::new());
        csv_row::push_header(&mut out, &COLUMNS);
        for f in findings {
            csv_row::push_row(&mut out, &mut scratch, f);
        }
        out
    }

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

    fn show(bytes: &[u8]) -> String {
        String::from_utf8_lossy(bytes).into_owned()
    }

    // ---- Generators. ----

    /// Short strings rich in what matters to CSV and to the formula guard, sometimes any
    /// unicode at all, sometimes empty.
    fn text() -> impl Strategy<Value = String> {
        prop_oneof![
            4 => "[=+@,\"\r\n\t' a-z0-9;|é€😀-]{0,40}",
            1 => any::<String>(),
            1 => Just(String::new()),
        ]
    }

    fn finding() -> impl Strategy<Value = Finding> {
        let value = prop_oneof![
            text().prop_map(Value::String),
            any::<i64>().prop_map(Value::from),
            any::<bool>().prop_map(Value::Bool),
            Just(Value::Null),
        ];
        crate::finding::strategy::finding(text().boxed(), value.boxed())
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

        /// The hand encoder writes exactly the bytes the csv-crate writer wrote.
        #[test]
        fn rows_match_the_csv_crate_writer(findings in proptest::collection::vec(finding(), 0..4)) {
            let want = reference_file(&findings);
            let got = encoded_file(&findings);
            prop_assert_eq!(show(&got), show(&want));
            prop_assert_eq!(got, want);
        }
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

    /// The file written through `CsvReport` (header, buffered flushes past 1 MiB, finish) is
    /// byte for byte what the csv-crate writer produced.
    #[test]
    fn report_file_matches_the_csv_crate_writer_across_flushes() {
        let mut findings = Vec::new();
        for i in 0..4000 {
            for mut f in samples() {
                f.identity_id = format!("{}-{i}", f.identity_id);
                findings.push(f);
            }
        }
        let want = reference_file(&findings);
        assert!(want.len() > 2 * FLUSH_AT, "crosses several flushes");
        let got = written_file(&findings);
        assert!(got == want, "report.csv differs from the csv-crate output");
    }

    /// An empty run still has the header row, exactly as before.
    #[test]
    fn empty_report_is_the_header_row() {
        let got = written_file(&[]);
        assert_eq!(got, reference_file(&[]));
        assert!(got.starts_with(b"finding_id,identity_id,"));
        assert!(got.ends_with(b",patch\r\n"));
    }

    /// Each hand-picked awkward finding encodes like the reference, and a formula stays defused.
    #[test]
    fn samples_match_and_formulas_are_defused() {
        for f in samples() {
            let one = std::slice::from_ref(&f);
            assert_eq!(show(&encoded_file(one)), show(&reference_file(one)));
        }
        let text = show(&encoded_file(&samples()));
        assert!(text.contains("\"'=HYPERLINK(\"\"http://x\"\","));
        assert!(text.contains("\"'\rline\nbreak\""));
        assert!(text.contains("'@home"));
    }
}
