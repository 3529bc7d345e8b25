//! `report.junit.xml`: the audit as a JUnit test report, so that CI systems show it like a
//! test run. One `<testcase>` per result (classname = rule, name = identity name / auth
//! method); `fail` has a `<failure>`, `error` an `<error>`, `exempt` a `<skipped>`. The counts
//! are on `<testsuites>` and on its single `<testsuite>`.
//!
//! Streamed: test cases go to a spool file; `finish` writes the envelope with the counts around
//! them. Server-supplied text is XML-escaped, and characters XML cannot carry become U+FFFD.

use std::path::{Path, PathBuf};

use super::spool::{Assembly, Spool};
use super::{FinishContext, FormatWriter, ReportError};
use crate::finding::{Finding, Status};

/// The streaming writer of `report.junit.xml`.
pub(super) struct JunitReport {
    final_path: PathBuf,
    cases: Spool,
}

impl JunitReport {
    pub(super) fn create(dir: &Path) -> Result<JunitReport, ReportError> {
        let final_path = dir.join("report.junit.xml");
        Ok(JunitReport {
            cases: Spool::create(&final_path, "cases")?,
            final_path,
        })
    }
}

/// The body of a `<failure>`: the identity, then one line per violation.
fn failure_text(f: &Finding) -> String {
    let mut text = format!(
        "identity {} ({}), {}, severity {}\n",
        f.identity_name,
        f.identity_id,
        f.auth_method.as_str(),
        f.severity
    );
    for v in &f.violations {
        text.push_str(&format!(
            "[{}] {}: observed {}; expected {}: {}\n",
            v.check.as_str(),
            v.field,
            v.observed,
            v.expected,
            v.message
        ));
    }
    text.push_str(&format!("finding_id {}\n", f.finding_id));
    text
}

impl FormatWriter for JunitReport {
    fn write(&mut self, f: &Finding) -> Result<(), ReportError> {
        let open = format!(
            "    <testcase classname=\"{}\" name=\"{}/{}\" time=\"0\"",
            escape(&f.rule),
            escape(&f.identity_name),
            escape(f.auth_method.as_str())
        );
        let case = match f.status {
            Status::Pass => format!("{open}/>\n"),
            Status::Fail => {
                let summary = f
                    .violations
                    .iter()
                    .map(|v| v.message.as_str())
                    .collect::<Vec<_>>()
                    .join("; ");
                let checks = f
                    .violations
                    .iter()
                    .map(|v| v.check.as_str())
                    .collect::<Vec<_>>()
                    .join(",");
                format!(
                    "{open}>\n      <failure message=\"{}\" type=\"{}\">{}</failure>\n    </testcase>\n",
                    escape(&summary),
                    escape(&checks),
                    escape(&failure_text(f))
                )
            }
            Status::Error => {
                let err = f.error.as_deref().unwrap_or("the config could not be read");
                format!(
                    "{open}>\n      <error message=\"{}\" type=\"read-error\">identity {} ({}), {}</error>\n    </testcase>\n",
                    escape(err),
                    escape(&f.identity_name),
                    escape(&f.identity_id),
                    escape(f.auth_method.as_str())
                )
            }
            Status::Exempt => {
                let message = match &f.exemption {
                    Some(ex) => format!("exempt until {}: {}", ex.expires, ex.reason),
                    None => "exempt".to_owned(),
                };
                format!(
                    "{open}>\n      <skipped message=\"{}\"/>\n    </testcase>\n",
                    escape(&message)
                )
            }
        };
        self.cases.push(&case)
    }

    fn finish(self: Box<Self>, ctx: &FinishContext<'_>) -> Result<PathBuf, ReportError> {
        let JunitReport {
            final_path,
            mut cases,
        } = *self;
        let s = ctx.summary;
        let run = ctx.run;
        let counts = format!(
            "tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"0\"",
            s.results, s.fail, s.error, s.exempt
        );
        let timestamp = run
            .started_at
            .parse::<jiff::Timestamp>()
            .ok()
            .map(|t| format!(" timestamp=\"{}\"", t.strftime("%Y-%m-%dT%H:%M:%S")))
            .unwrap_or_default();
        let mut doc = Assembly::create(&final_path)?;
        doc.push(&format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
             <testsuites name=\"idguard\" {counts}>\n  \
             <testsuite name=\"idguard audit\" {counts}{timestamp}>\n    <properties>\n"
        ))?;
        let props: [(&str, String); 8] = [
            ("idguard.version", env!("CARGO_PKG_VERSION").to_owned()),
            ("run.id", run.id.clone()),
            ("api_url", run.api_url.clone()),
            ("org_id", run.org_id.clone()),
            ("policy.path", run.policy.path.clone()),
            ("policy.sha256", run.policy.sha256.clone()),
            ("exit_code", run.exit_code.to_string()),
            ("complete", run.complete.to_string()),
        ];
        for (name, value) in props {
            doc.push(&format!(
                "      <property name=\"{name}\" value=\"{}\"/>\n",
                escape(&value)
            ))?;
        }
        doc.push("    </properties>\n")?;
        doc.append(&mut cases)?;
        doc.push("  </testsuite>\n</testsuites>\n")?;
        doc.commit()
    }
}

/// Escapes text for XML content and quoted attributes. Line breaks and tabs are written as
/// character references (attribute values would otherwise lose them); characters XML 1.0
/// cannot carry become U+FFFD.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\t' => out.push_str("&#9;"),
            '\u{0}'..='\u{1F}' | '\u{FFFE}' | '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_keeps_xml_well_formed() {
        assert_eq!(
            escape("a<b & \"c\"\n\u{1}"),
            "a&lt;b &amp; &quot;c&quot;&#10;\u{FFFD}"
        );
    }
    use super::super::Format;
    use super::super::spool::fixture;
    use quick_xml::events::Event;
    use std::collections::HashMap;

    /// Parses the XML: (element name, attributes) of every start or empty tag, in order.
    fn elements(xml: &str) -> Vec<(String, HashMap<String, String>)> {
        let mut reader = quick_xml::Reader::from_str(xml);
        let mut out = Vec::new();
        loop {
            match reader.read_event().expect("well-formed XML") {
                Event::Start(e) | Event::Empty(e) => {
                    let name = e.name().into_inner().to_owned();
                    let attrs = e
                        .attributes()
                        .map(|a| {
                            let a = a.expect("attribute");
                            let key = a.key.into_inner().to_owned();
                            let value = a
                                .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                                .expect("value")
                                .into_owned();
                            (key, value)
                        })
                        .collect();
                    out.push((name, attrs));
                }
                Event::Eof => break,
                _ => {}
            }
        }
        out
    }

    #[test]
    fn junit_has_a_case_per_result_and_counts() {
        let (_dir, xml) = fixture::render(Format::Junit, &fixture::findings());
        let els = elements(&xml);
        let suites = &els[0];
        assert_eq!(suites.0, "testsuites");
        for (k, v) in [
            ("tests", "5"),
            ("failures", "2"),
            ("errors", "1"),
            ("skipped", "1"),
        ] {
            assert_eq!(suites.1[k], v, "{k} on testsuites");
        }
        let suite = els.iter().find(|e| e.0 == "testsuite").expect("testsuite");
        assert_eq!(suite.1["tests"], "5");
        assert_eq!(suite.1["failures"], "2");
        let cases: Vec<_> = els.iter().filter(|e| e.0 == "testcase").collect();
        assert_eq!(cases.len(), 5);
        assert_eq!(cases[0].1["classname"], "token-lifetime");
        assert_eq!(
            cases[0].1["name"],
            format!(
                "{}/universal-auth",
                fixture::HOSTILE.replace('\u{1}', "\u{FFFD}")
            )
        );
        assert_eq!(els.iter().filter(|e| e.0 == "failure").count(), 2);
        assert_eq!(els.iter().filter(|e| e.0 == "error").count(), 1);
        assert_eq!(els.iter().filter(|e| e.0 == "skipped").count(), 1);
        let failure = els.iter().find(|e| e.0 == "failure").expect("failure");
        assert_eq!(
            failure.1["message"],
            "token lives too long; uses are unlimited"
        );
        assert!(xml.contains("observed 30d; expected at most 1h"));
    }

    #[test]
    fn junit_without_results_parses() {
        let (_dir, xml) = fixture::render(Format::Junit, &[]);
        let els = elements(&xml);
        assert_eq!(els[0].1["tests"], "0");
        assert!(els.iter().all(|e| e.0 != "testcase"));
    }
}
