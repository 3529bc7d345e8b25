//! Spool files for the streamed report formats: a hidden, owner-only temp file beside the final
//! report that collects rendered fragments as findings arrive, read back (once or several
//! times) when the report is assembled, and removed when dropped, on success and on error.
//!
//! It holds no report format itself; `markdown`, `html`, `sarif` and `junit` use it.

use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use tempfile::NamedTempFile;

use super::{ReportError, files};

/// A temp file written in order and read back at finish. Removed on drop.
pub(super) struct Spool {
    path: PathBuf,
    writer: BufWriter<NamedTempFile>,
    /// Bytes written so far.
    len: u64,
}

impl Spool {
    /// Creates the spool `.<final name>.<part>.<pid>.tmp` beside `final_path`.
    pub(super) fn create(final_path: &Path, part: &str) -> Result<Spool, ReportError> {
        let name = final_path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "report".into());
        let file = files::create_temp(&final_path.with_file_name(format!("{name}.{part}")))?;
        Ok(Spool {
            path: file.path().to_owned(),
            writer: BufWriter::new(file),
            len: 0,
        })
    }

    /// The error for an I/O failure on this spool.
    pub(super) fn io_error(&self, source: std::io::Error) -> ReportError {
        ReportError::Io {
            path: self.path.clone(),
            source,
        }
    }

    /// Appends text.
    pub(super) fn push(&mut self, text: &str) -> Result<(), ReportError> {
        match self.writer.write_all(text.as_bytes()) {
            Ok(()) => {
                self.len += text.len() as u64;
                Ok(())
            }
            Err(e) => Err(self.io_error(e)),
        }
    }

    /// Appends a value as compact JSON.
    pub(super) fn push_json<T: serde::Serialize>(&mut self, value: &T) -> Result<(), ReportError> {
        let text = serde_json::to_string(value)?;
        self.push(&text)
    }

    /// Whether nothing was written.
    pub(super) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Flushes what was written and opens a fresh reader from the start (may be called again).
    pub(super) fn reader(&mut self) -> Result<BufReader<File>, ReportError> {
        if let Err(e) = self.writer.flush() {
            return Err(self.io_error(e));
        }
        match self.writer.get_ref().reopen() {
            Ok(f) => Ok(BufReader::new(f)),
            Err(e) => Err(self.io_error(e)),
        }
    }

    /// Copies everything written into `out`; `out_path` names `out` in errors.
    pub(super) fn copy_into(
        &mut self,
        out: &mut impl Write,
        out_path: &Path,
    ) -> Result<(), ReportError> {
        let mut reader = self.reader()?;
        std::io::copy(&mut reader, out).map_err(|source| ReportError::Io {
            path: out_path.to_owned(),
            source,
        })?;
        Ok(())
    }
}

/// The final file of a report being assembled: a buffered temp file moved into place by
/// [`Assembly::commit`] (and removed if dropped before that).
pub(super) struct Assembly {
    final_path: PathBuf,
    tmp: PathBuf,
    out: Option<BufWriter<NamedTempFile>>,
}

impl Assembly {
    /// Starts assembling `final_path`.
    pub(super) fn create(final_path: &Path) -> Result<Assembly, ReportError> {
        let file = files::create_temp(final_path)?;
        Ok(Assembly {
            final_path: final_path.to_owned(),
            tmp: file.path().to_owned(),
            out: Some(BufWriter::new(file)),
        })
    }

    /// The writer, or the error for a committed assembly (not reachable: `commit` consumes it).
    fn out(&mut self) -> Result<&mut BufWriter<NamedTempFile>, ReportError> {
        let tmp = &self.tmp;
        self.out.as_mut().ok_or_else(|| ReportError::Io {
            path: tmp.clone(),
            source: std::io::Error::other("report already committed"),
        })
    }

    /// Appends text.
    pub(super) fn push(&mut self, text: &str) -> Result<(), ReportError> {
        let tmp = self.tmp.clone();
        self.out()?
            .write_all(text.as_bytes())
            .map_err(|source| ReportError::Io { path: tmp, source })
    }

    /// Appends a value as JSON.
    pub(super) fn push_json<T: serde::Serialize>(&mut self, value: &T) -> Result<(), ReportError> {
        serde_json::to_writer(self.out()?, value)?;
        Ok(())
    }

    /// Copies a spool into the file.
    pub(super) fn append(&mut self, spool: &mut Spool) -> Result<(), ReportError> {
        let tmp = self.tmp.clone();
        spool.copy_into(self.out()?, &tmp)
    }

    /// Flushes, syncs and moves the file into place; returns its path.
    pub(super) fn commit(mut self) -> Result<PathBuf, ReportError> {
        let tmp = self.tmp.clone();
        let Some(out) = self.out.take() else {
            return Err(ReportError::Io {
                path: tmp,
                source: std::io::Error::other("report already committed"),
            });
        };
        let file = out.into_inner().map_err(|e| ReportError::Io {
            path: tmp.clone(),
            source: e.into_error(),
        })?;
        files::commit(file, &self.final_path)?;
        Ok(self.final_path.clone())
    }
}

/// Sample findings written through a [`super::ReportSink`], shared by the format tests.
#[cfg(test)]
pub(super) mod fixture {
    use super::super::{Annotations, ApiCounts, Format, PolicyRef, ReportSink, RuleInfo, RunInfo};
    use crate::finding::{
        AppliedExemption, CheckCode, Finding, Remediation, Severity, Status, Violation, finding_id,
    };
    use crate::model::AuthMethod;

    /// A server-supplied identity name that tries to inject markup everywhere.
    pub const HOSTILE: &str = "<script>alert(1)</script>|*x*\"'&\u{1}";

    /// The UTC day of the sample run.
    pub fn today() -> jiff::civil::Date {
        jiff::civil::date(2026, 11, 25)
    }

    /// A rule description that tries to add markup to every format.
    pub const HOSTILE_DESCRIPTION: &str = "Tokens <b>live</b> | at most *1h*\n# not a heading";

    /// The sample policy's rules (`unused` gets no result and has no description).
    pub fn rules() -> Vec<RuleInfo> {
        vec![
            RuleInfo {
                id: "token-lifetime".into(),
                severity: Severity::High,
                description: Some(HOSTILE_DESCRIPTION.into()),
            },
            RuleInfo {
                id: "network".into(),
                severity: Severity::Critical,
                description: Some("Only from the corporate network.".into()),
            },
            RuleInfo {
                id: "unused".into(),
                severity: Severity::Low,
                description: None,
            },
        ]
    }

    fn finding(
        identity: &str,
        name: &str,
        rule: &str,
        severity: Severity,
        status: Status,
    ) -> Finding {
        Finding {
            finding_id: finding_id("org", identity, &AuthMethod::Universal, rule),
            identity_id: identity.into(),
            identity_name: name.into(),
            auth_method: AuthMethod::Universal,
            rule: rule.into(),
            severity,
            status,
            violations: vec![],
            exemption: None,
            error: None,
            remediation: None,
        }
    }

    /// Five results: two failures (one with a hostile name), a pass, an exempt, an error.
    pub fn findings() -> Vec<Finding> {
        let mut hostile = finding(
            "id-1",
            HOSTILE,
            "token-lifetime",
            Severity::High,
            Status::Fail,
        );
        hostile.violations = vec![
            Violation {
                check: CheckCode::MaxTtl,
                field: "accessTokenTTL".into(),
                observed: "30d".into(),
                expected: "at most 1h".into(),
                message: "token lives too long".into(),
            },
            Violation {
                check: CheckCode::MaxUses,
                field: "accessTokenNumUsesLimit".into(),
                observed: "unlimited".into(),
                expected: "at most 1000".into(),
                message: "uses are unlimited".into(),
            },
        ];
        hostile.remediation = Some(Remediation::manual("sample"));
        let mut net = finding(
            "id-2",
            "ci-deploy",
            "network",
            Severity::Critical,
            Status::Fail,
        );
        net.violations = vec![Violation {
            check: CheckCode::TrustedIps,
            field: "accessTokenTrustedIps".into(),
            observed: "0.0.0.0/0".into(),
            expected: "inside [10.0.0.0/8]".into(),
            message: "0.0.0.0/0 is outside the allowed CIDRs".into(),
        }];
        let pass = finding(
            "id-2",
            "ci-deploy",
            "token-lifetime",
            Severity::High,
            Status::Pass,
        );
        let mut exempt = finding(
            "id-3",
            "vendor",
            "token-lifetime",
            Severity::High,
            Status::Exempt,
        );
        exempt.exemption = Some(AppliedExemption {
            reason: "vendor agent".into(),
            owner: Some("secops@example.com".into()),
            expires: "2026-12-05".into(),
        });
        let mut error = finding(
            "id-4",
            "broken",
            "network",
            Severity::Critical,
            Status::Error,
        );
        error.error = Some("GET universal-auth: 500 Internal Server Error".into());
        vec![hostile, net, pass, exempt, error]
    }

    /// The sample run manifest.
    pub fn run_info() -> RunInfo {
        RunInfo {
            id: "run-1".into(),
            started_at: "2026-11-25T10:00:00Z".into(),
            finished_at: "2026-11-25T10:01:00Z".into(),
            api_url: "http://127.0.0.1:8080".into(),
            org_id: "org".into(),
            policy: PolicyRef {
                path: "policies/my policy.yaml".into(),
                sha256: "abc".into(),
            },
            exit_code: 2,
            complete: false,
            incomplete_reason: Some("1 config could not be read".into()),
            api: ApiCounts::default(),
            problems: Vec::new(),
            usage_evidence: "not-needed",
            usage_evidence_reason: None,
            source: crate::report::RunSource::Live,
            read: None,
            notification: None,
        }
    }

    /// Exemptions expiring in 10 days, in 60 days, and expired 5 days ago.
    pub fn exemptions() -> Vec<crate::policy::Exemption> {
        let ex = |identity: &str, expires| crate::policy::Exemption {
            name_shared: false,
            identity: identity.into(),
            rules: Some(vec!["token-lifetime".into()]),
            reason: format!("reason for {identity}"),
            owner: None,
            expires,
        };
        vec![
            ex("vendor", jiff::civil::date(2026, 12, 5)),
            ex("later", jiff::civil::date(2027, 1, 24)),
            ex("gone", jiff::civil::date(2026, 11, 20)),
        ]
    }

    /// Writes `findings` in `format` to a fresh folder; returns the folder and the file text.
    /// Asserts that no temp file is left behind and that the file is owner-only.
    pub fn render(format: Format, findings: &[Finding]) -> (tempfile::TempDir, String) {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut sink = ReportSink::create(dir.path(), &[format], &rules()).expect("create");
        for (i, f) in findings.iter().enumerate() {
            if i == 0 || f.identity_id != findings[i - 1].identity_id {
                sink.count_identity();
            }
            sink.count_config();
            sink.write(f).expect("write");
        }
        let files = sink
            .finish(&run_info(), &exemptions(), today(), &Annotations::new())
            .expect("finish");
        assert_eq!(files.len(), 1);
        let names: Vec<String> = std::fs::read_dir(dir.path())
            .expect("dir")
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names.len(), 1, "only the report is left: {names:?}");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&files[0])
                .expect("meta")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let text = std::fs::read_to_string(&files[0]).expect("read report");
        (dir, text)
    }
}
