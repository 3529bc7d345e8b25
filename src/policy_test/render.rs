//! The outcome of policy tests for people (one line per case, `ok` or `FAIL`, then what did
//! not hold) and for CI (JUnit XML: one `<testsuite>` per cases file, one `<testcase>` per
//! case, a `<failure>` listing every expectation that did not hold). Text from the files goes
//! through `display::safe` (text) or the JUnit report's XML escaping.

use std::fmt::Write as _;

use super::{CaseFile, CaseOutcome, Mismatch};
use crate::display::safe;
use crate::finding::Finding;
use crate::report::junit::escape;

/// One cases file with the outcome of each of its cases.
pub struct FileOutcome<'c> {
    pub file: &'c CaseFile,
    pub cases: Vec<CaseOutcome<'c>>,
}

impl FileOutcome<'_> {
    /// How many cases did not pass.
    pub fn failed(&self) -> usize {
        self.cases.iter().filter(|c| !c.passed()).count()
    }
}

/// The human report: per case `ok` or `FAIL` with its name and position, each mismatch under
/// a failing case, then one count line per file.
pub fn text(files: &[FileOutcome<'_>]) -> String {
    let mut out = String::new();
    for f in files {
        for c in &f.cases {
            let word = if c.passed() { "ok  " } else { "FAIL" };
            let _ = writeln!(
                out,
                "{word} {} ({}:{})",
                safe(&c.case.name),
                safe(&f.file.origin),
                c.case.line
            );
            for m in &c.mismatches {
                let _ = writeln!(out, "     {}", safe(&headline(m)));
                for line in details(m.finding.as_ref()) {
                    let _ = writeln!(out, "       {}", safe(&line));
                }
            }
        }
        let _ = writeln!(
            out,
            "{}: {} case{}, {} passed, {} failed",
            safe(&f.file.origin),
            f.cases.len(),
            if f.cases.len() == 1 { "" } else { "s" },
            f.cases.len() - f.failed(),
            f.failed()
        );
    }
    out
}

/// The JUnit XML document.
pub fn junit(files: &[FileOutcome<'_>]) -> String {
    let total: usize = files.iter().map(|f| f.cases.len()).sum();
    let failed: usize = files.iter().map(FileOutcome::failed).sum();
    let mut out = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <testsuites name=\"idguard test\" tests=\"{total}\" failures=\"{failed}\" errors=\"0\" skipped=\"0\" time=\"0\">\n"
    );
    for f in files {
        let origin = escape(&f.file.origin);
        let _ = writeln!(
            out,
            "  <testsuite name=\"{origin}\" tests=\"{}\" failures=\"{}\" errors=\"0\" skipped=\"0\" time=\"0\">",
            f.cases.len(),
            f.failed()
        );
        for c in &f.cases {
            let open = format!(
                "    <testcase classname=\"{origin}\" name=\"{}\" time=\"0\"",
                escape(&c.case.name)
            );
            if c.passed() {
                let _ = writeln!(out, "{open}/>");
                continue;
            }
            let message: Vec<String> = c.mismatches.iter().map(headline).collect();
            let mut body = format!("{}:{}\n", f.file.origin, c.case.line);
            for m in &c.mismatches {
                let _ = writeln!(body, "{}", headline(m));
                for line in details(m.finding.as_ref()) {
                    let _ = writeln!(body, "  {line}");
                }
            }
            let _ = writeln!(
                out,
                "{open}>\n      <failure message=\"{}\" type=\"expectation\">{}</failure>\n    </testcase>",
                escape(&message.join("; ")),
                escape(&body)
            );
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}

/// `rule: expected pass, got fail`.
fn headline(m: &Mismatch) -> String {
    format!("{}: expected {}, got {}", m.rule, m.expected, m.actual)
}

/// What the rule's finding says: its violations, its error or its exemption.
fn details(finding: Option<&Finding>) -> Vec<String> {
    let Some(f) = finding else {
        return Vec::new();
    };
    let mut lines: Vec<String> = f.violations.iter().map(|v| v.message.clone()).collect();
    if let Some(e) = &f.error {
        lines.push(format!("error: {e}"));
    }
    if let Some(e) = &f.exemption {
        lines.push(format!("exempt until {}: {}", e.expires, e.reason));
    }
    lines
}
