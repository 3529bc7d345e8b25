//! The people-and-CI report formats end to end through the public `ReportSink`: the HTML
//! report rendered in headless Chromium (chart, table and script present, hostile identity
//! names inert), SARIF checked against the required fields of the SARIF 2.1.0 schema, and the
//! JUnit XML parsed.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use idguard::finding::{
    AppliedExemption, CheckCode, Finding, Severity, Status, Violation, finding_id,
};
use idguard::model::AuthMethod;
use idguard::report::{Annotations, ApiCounts, Format, PolicyRef, ReportSink, RuleInfo, RunInfo};
use serde_json::Value;

/// Identity names a hostile server could send: each would run script or add markup if a
/// report pasted it into the page unescaped.
const HOSTILE: [&str; 3] = [
    "<img src=x onerror=\"document.documentElement.setAttribute('data-pwned','img')\">",
    "<script>document.documentElement.setAttribute('data-pwned','script')</script>",
    "\"><svg onload=\"document.documentElement.setAttribute('data-pwned','svg')\">",
];

fn rules() -> Vec<RuleInfo> {
    vec![
        RuleInfo {
            id: "token-lifetime".into(),
            severity: Severity::High,
            description: None,
        },
        RuleInfo {
            id: "network".into(),
            severity: Severity::Critical,
            description: None,
        },
        RuleInfo {
            id: "oci-usernames".into(),
            severity: Severity::Medium,
            description: None,
        },
    ]
}

/// 30 results over the three rules, every status present, three hostile names.
fn findings() -> Vec<Finding> {
    let statuses = [
        Status::Fail,
        Status::Pass,
        Status::Exempt,
        Status::Error,
        Status::Pass,
    ];
    (0..30)
        .map(|i| {
            let rule = &rules()[i % 3];
            let id = format!("3c90c3cc-0000-4b50-8888-{i:012}");
            let status = statuses[i % statuses.len()];
            Finding {
                finding_id: finding_id("org", &id, &AuthMethod::Universal, &rule.id),
                identity_name: HOSTILE
                    .get(i)
                    .map_or_else(|| format!("ci-{i}"), |s| (*s).to_owned()),
                identity_id: id,
                auth_method: AuthMethod::Universal,
                rule: rule.id.clone(),
                severity: rule.severity,
                status,
                violations: if matches!(status, Status::Fail | Status::Exempt) {
                    vec![Violation {
                        check: CheckCode::MaxTtl,
                        field: "accessTokenTTL".into(),
                        observed: "30d".into(),
                        expected: "at most 1h".into(),
                        message: "the token lives longer than 1h".into(),
                    }]
                } else {
                    vec![]
                },
                exemption: (status == Status::Exempt).then(|| AppliedExemption {
                    reason: "vendor agent".into(),
                    owner: None,
                    expires: "2026-12-31".into(),
                }),
                error: (status == Status::Error).then(|| "GET universal-auth: 500".into()),
                remediation: None,
            }
        })
        .collect()
}

fn run_info() -> RunInfo {
    RunInfo {
        id: "run-42".into(),
        started_at: "2026-11-25T10:00:00Z".into(),
        finished_at: "2026-11-25T10:02:00Z".into(),
        api_url: "http://127.0.0.1:9".into(),
        org_id: "org".into(),
        policy: PolicyRef {
            path: "policies/example.yaml".into(),
            sha256: "0123".into(),
        },
        exit_code: 2,
        complete: false,
        incomplete_reason: Some("6 configs could not be read".into()),
        api: ApiCounts::default(),
        problems: Vec::new(),
        usage_evidence: "not-needed",
        usage_evidence_reason: None,
        source: idguard::report::RunSource::Live,
        read: None,
        notification: None,
    }
}

/// Writes the sample findings in `format`; returns the folder and the report's path.
fn write_report(format: Format) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let mut sink = ReportSink::create(dir.path(), &[format], &rules()).unwrap();
    for f in findings() {
        sink.count_identity();
        sink.count_config();
        sink.write(&f).unwrap();
    }
    let today = jiff::civil::date(2026, 11, 25);
    let mut files = sink
        .finish(&run_info(), &[], today, &Annotations::new())
        .unwrap();
    assert_eq!(files.len(), 1);
    (dir, files.remove(0))
}

/// The Chromium binary, or a failure telling how to install it (never a silent skip).
fn chromium() -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    for name in ["chromium", "chromium-browser", "google-chrome"] {
        for dir in std::env::split_paths(&path) {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return candidate;
            }
        }
    }
    panic!(
        "headless Chromium is required to test report.html and was not found on PATH \
         (Debian: `apt-get install -y chromium`; .ci/run installs it)"
    );
}

/// Loads `page` in headless Chromium and returns the DOM after its scripts ran.
pub(crate) fn render_dom(page: &Path) -> String {
    let profile = tempfile::tempdir().unwrap();
    let out = tempfile::NamedTempFile::new().unwrap();
    let mut child = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", page.display()))
        .stdin(Stdio::null())
        .stdout(out.reopen().unwrap())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromium");
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "chromium did not finish rendering {} in 120 s",
                page.display()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success(), "chromium failed: {status}");
    std::fs::read_to_string(out.path()).unwrap()
}

/// The HTML report renders in a real browser: its script ran (sorting and filtering set up,
/// every row shown), both SVG charts have their bars, the manifest is there, and no hostile
/// identity name became markup or ran script.
#[test]
fn html_report_renders_in_headless_chromium() {
    let (_dir, page) = write_report(Format::Html);
    let dom = render_dom(&page);
    assert!(
        dom.contains("data-idguard-ready=\"1\""),
        "the page's script did not run (CSP hash or syntax?):\n{}",
        &dom[..dom.len().min(2000)]
    );
    assert!(dom.contains("id=\"results-table\""));
    assert!(dom.contains("data-sortable=\"true\""));
    assert!(dom.contains("data-shown=\"30\""), "every result shown");
    assert!(dom.contains("30 of 30 results shown"));
    let rules_chart = dom.find("id=\"chart-rules\"").expect("rules chart");
    let severity_chart = dom.find("id=\"chart-severity\"").expect("severity chart");
    assert_eq!(
        dom[rules_chart..severity_chart]
            .matches("<g class=\"bar\"")
            .count(),
        3,
        "one bar per rule"
    );
    assert!(dom[severity_chart..].contains("class=\"seg seg-fail\""));
    assert!(dom.contains("id=\"manifest\"") && dom.contains("run-42"));
    let html_tag = &dom[dom.find("<html").expect("html")..];
    let html_tag = &html_tag[..html_tag.find('>').expect("tag end")];
    assert!(html_tag.contains("data-idguard-ready"), "{html_tag}");
    assert!(
        !html_tag.contains("data-pwned"),
        "a hostile identity name ran script"
    );
    assert!(
        !dom.contains("<img"),
        "a hostile identity name became markup"
    );
    assert!(
        dom.contains("&lt;img src=x onerror="),
        "names shown as text"
    );
    // The script sorted failures first.
    let first_row = dom.find("<tr data-status=").expect("a row");
    assert!(dom[first_row..].starts_with("<tr data-status=\"fail\""));
}

/// Checks `obj` is an object with every key in `required`.
fn require(obj: &Value, what: &str, required: &[&str]) {
    let map = obj
        .as_object()
        .unwrap_or_else(|| panic!("{what} is not an object"));
    for key in required {
        assert!(map.contains_key(*key), "{what} lacks required `{key}`");
    }
}

fn message(m: &Value, what: &str) {
    require(m, what, &[]);
    assert!(
        m.get("text").is_some_and(Value::is_string) || m.get("id").is_some_and(Value::is_string),
        "{what} needs text or id"
    );
}

/// report.sarif has what the SARIF 2.1.0 schema requires of each object it uses (sarifLog:
/// version, runs; run: tool; tool: driver; toolComponent: name; reportingDescriptor: id;
/// result: message; invocation: executionSuccessful; suppression: kind; notification:
/// message), with valid enum values, and the content the issue asks for.
#[test]
fn sarif_report_meets_the_schema_required_fields() {
    let (_dir, path) = write_report(Format::Sarif);
    let log: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    require(&log, "sarifLog", &["version", "runs"]);
    assert_eq!(log["version"], "2.1.0");
    assert!(
        log["$schema"]
            .as_str()
            .unwrap()
            .ends_with("sarif-schema-2.1.0.json")
    );
    let runs = log["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 1);
    let run = &runs[0];
    require(run, "run", &["tool"]);
    require(&run["tool"], "tool", &["driver"]);
    let driver = &run["tool"]["driver"];
    require(driver, "toolComponent", &["name"]);
    let rule_ids: Vec<&str> = driver["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            require(r, "reportingDescriptor", &["id"]);
            r["id"].as_str().unwrap()
        })
        .collect();
    assert_eq!(rule_ids, ["token-lifetime", "network", "oci-usernames"]);
    let results = run["results"].as_array().unwrap();
    let fails = findings()
        .iter()
        .filter(|f| f.status == Status::Fail)
        .count();
    let exempt = findings()
        .iter()
        .filter(|f| f.status == Status::Exempt)
        .count();
    assert_eq!(results.len(), fails + exempt);
    let mut unsuppressed = 0;
    for r in results {
        require(
            r,
            "result",
            &[
                "message",
                "ruleId",
                "level",
                "partialFingerprints",
                "locations",
            ],
        );
        message(&r["message"], "result.message");
        assert!(rule_ids.contains(&r["ruleId"].as_str().unwrap()));
        assert!(["none", "note", "warning", "error"].contains(&r["level"].as_str().unwrap()));
        assert_eq!(
            r["partialFingerprints"].as_object().unwrap().len(),
            1,
            "finding id fingerprint"
        );
        let logical = r["locations"][0]["logicalLocations"].as_array().unwrap();
        assert!(logical.iter().any(|l| l["name"] == "universal-auth"));
        match r.get("suppressions") {
            Some(s) => {
                for s in s.as_array().unwrap() {
                    require(s, "suppression", &["kind"]);
                    assert!(["inSource", "external"].contains(&s["kind"].as_str().unwrap()));
                }
            }
            None => unsuppressed += 1,
        }
    }
    assert_eq!(unsuppressed, fails);
    let invocation = &run["invocations"][0];
    require(
        invocation,
        "invocation",
        &["executionSuccessful", "exitCode"],
    );
    assert_eq!(invocation["exitCode"], 2);
    assert_eq!(invocation["executionSuccessful"], false);
    let notes = invocation["toolExecutionNotifications"].as_array().unwrap();
    assert_eq!(
        notes.len(),
        findings()
            .iter()
            .filter(|f| f.status == Status::Error)
            .count()
    );
    for n in notes {
        require(n, "notification", &["message"]);
        message(&n["message"], "notification.message");
    }
}

/// report.junit.xml is well-formed XML with one test case per result and the right counts.
#[test]
fn junit_report_parses_with_a_case_per_result() {
    use quick_xml::events::Event;
    let (_dir, path) = write_report(Format::Junit);
    let xml = std::fs::read_to_string(path).unwrap();
    let mut reader = quick_xml::Reader::from_str(&xml);
    let (mut cases, mut failures, mut errors, mut skipped) = (0, 0, 0, 0);
    let mut suite_tests = None;
    loop {
        match reader.read_event().expect("well-formed XML") {
            Event::Start(e) | Event::Empty(e) => match e.name().into_inner() {
                "testsuite" => {
                    let tests = e
                        .try_get_attribute("tests")
                        .unwrap()
                        .expect("tests attribute");
                    suite_tests = Some(
                        tests
                            .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                            .unwrap()
                            .into_owned(),
                    );
                }
                "testcase" => cases += 1,
                "failure" => failures += 1,
                "error" => errors += 1,
                "skipped" => skipped += 1,
                _ => {}
            },
            Event::Eof => break,
            _ => {}
        }
    }
    let count = |s: Status| findings().iter().filter(|f| f.status == s).count();
    assert_eq!(cases, 30);
    assert_eq!(suite_tests.as_deref(), Some("30"));
    assert_eq!(failures, count(Status::Fail));
    assert_eq!(errors, count(Status::Error));
    assert_eq!(skipped, count(Status::Exempt));
}

/// Two real audits of the simulator, with changes made between them, through the binary with
/// every format: the reports agree with report.json, and `diff` finds exactly the changes (a
/// passing config made to fail is regressed, a failing one fixed is resolved, a new identity
/// with a bad config is a new failure and an added identity, a deleted identity is removed).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn diff_of_two_simulator_runs_shows_the_changes() {
    use crate::support;
    // The simulator's own method type, in place of the report's.
    use idguard_sim::{AuthMethod, IdentitySpec, SimConfig, baseline_config};

    let server = support::start_sim(SimConfig {
        identities: 40,
        ..SimConfig::default()
    })
    .await;
    let sim = server.handle();
    let formats = ["--format", "json,md,html,sarif,junit"];
    let first = support::audit(&server.url(), &formats).await;
    assert!(matches!(first.code(), 0 | 1), "stderr: {}", first.stderr());
    let before = first.report();
    let results = support::results(&before);

    // Every format was written, and agrees with report.json.
    let summary = &before["summary"];
    let sarif: Value =
        serde_json::from_str(&std::fs::read_to_string(first.out_dir.join("report.sarif")).unwrap())
            .unwrap();
    let sarif_results = sarif["runs"][0]["results"].as_array().unwrap().len() as u64;
    assert_eq!(
        sarif_results,
        summary["fail"].as_u64().unwrap() + summary["exempt"].as_u64().unwrap()
    );
    let junit = std::fs::read_to_string(first.out_dir.join("report.junit.xml")).unwrap();
    assert_eq!(
        junit.matches("<testcase ").count() as u64,
        summary["results"].as_u64().unwrap()
    );
    let md = std::fs::read_to_string(first.out_dir.join("report.md")).unwrap();
    assert!(md.contains("### token-lifetime (high)"));
    let html = std::fs::read_to_string(first.out_dir.join("report.html")).unwrap();
    assert_eq!(
        html.matches("<tr data-status=").count() as u64,
        summary["results"].as_u64().unwrap()
    );

    let pick = |rule: &str, status: &str, one_violation: bool| -> &Value {
        results
            .iter()
            .find(|r| {
                r["rule"] == rule
                    && r["status"] == status
                    && (!one_violation || r["violations"].as_array().is_some_and(|v| v.len() == 1))
            })
            .unwrap_or_else(|| panic!("no {status} result of {rule} in the sample org"))
    };
    let str_of = |r: &Value, k: &str| r[k].as_str().unwrap().to_owned();
    // A passing token lifetime becomes unlimited: regressed.
    let regressed = pick("token-lifetime", "pass", false);
    sim.set_config_field(
        &str_of(regressed, "identity_id"),
        &AuthMethod::parse(&str_of(regressed, "auth_method")),
        "accessTokenTTL",
        serde_json::json!(0),
    );
    // A failing use limit (its only violation) is fixed: resolved.
    let fixed = pick("token-uses", "fail", true);
    sim.set_config_field(
        &str_of(fixed, "identity_id"),
        &AuthMethod::parse(&str_of(fixed, "auth_method")),
        "accessTokenNumUsesLimit",
        serde_json::json!(10),
    );
    // An identity no other change touches is deleted.
    let keep = [
        str_of(regressed, "identity_id"),
        str_of(fixed, "identity_id"),
        sim.login_identity_id(),
    ];
    let deleted = results
        .iter()
        .map(|r| str_of(r, "identity_id"))
        .find(|id| !keep.contains(id))
        .expect("another identity");
    sim.delete_identity(&deleted);
    // A new identity with unlimited token uses.
    let mut config = baseline_config(&AuthMethod::Universal);
    config["accessTokenNumUsesLimit"] = serde_json::json!(0);
    let added = sim.add_identity(IdentitySpec {
        name: "new-<b>bot</b>".into(),
        project_id: None,
        methods: vec![(AuthMethod::Universal, Some(config))],
    });

    let baseline = first.out_dir.join("report.json").display().to_string();
    let second = support::audit(
        &server.url(),
        &["--baseline", &baseline, "--format", "json,csv,md"],
    )
    .await;
    assert_eq!(second.code(), 1, "stderr: {}", second.stderr());
    // --baseline: the regressed result is annotated, diff.json / diff.md are written.
    let annotated = second.report();
    let tagged: Vec<&Value> = support::results(&annotated)
        .iter()
        .filter(|r| r["baseline"] == "regressed")
        .collect();
    assert_eq!(tagged.len(), 1);
    assert_eq!(tagged[0]["finding_id"], str_of(regressed, "finding_id"));
    let diff_json: Value =
        serde_json::from_str(&std::fs::read_to_string(second.out_dir.join("diff.json")).unwrap())
            .unwrap();
    assert_eq!(diff_json["new_or_regressed"], true);
    assert!(second.out_dir.join("diff.md").exists());
    assert_eq!(
        annotated["baseline"]["new_or_regressed"], true,
        "report.json has the section"
    );
    let md = std::fs::read_to_string(second.out_dir.join("report.md")).unwrap();
    assert!(
        md.contains("## Changes since the baseline"),
        "report.md has the section"
    );
    // `idguard diff` through the binary: exit 1 on change, 0 without, 65 on a bad file.
    let new_report = second.out_dir.join("report.json");
    let out = support::idguard()
        .args(["diff", "--format", "json"])
        .arg(&baseline)
        .arg(&new_report)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let changed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        changed["regressed"][0]["finding_id"],
        str_of(regressed, "finding_id")
    );
    let out = support::idguard()
        .arg("diff")
        .arg(&baseline)
        .arg(&new_report)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .to_lowercase()
            .contains("regressed")
    );
    let out = support::idguard()
        .arg("diff")
        .arg(&new_report)
        .arg(&new_report)
        .arg("--format")
        .arg("json")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let same: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(same["new_or_regressed"], false);
    let out = support::idguard()
        .arg("diff")
        .arg(&new_report)
        .arg(policy_file())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(65),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let diff = idguard::diff::diff_files(
        &first.out_dir.join("report.json"),
        &second.out_dir.join("report.json"),
    )
    .unwrap();
    let ids = |list: &[idguard::diff::Change]| -> Vec<String> {
        list.iter().map(|c| c.finding_id.clone()).collect()
    };
    assert_eq!(ids(&diff.regressed), [str_of(regressed, "finding_id")]);
    assert_eq!(ids(&diff.resolved), [str_of(fixed, "finding_id")]);
    assert!(diff.exemptions_expired.is_empty() && diff.new_errors.is_empty());
    assert!(
        !diff.new_failures.is_empty()
            && diff
                .new_failures
                .iter()
                .all(|c| c.identity_id == added && c.rule == "token-uses"),
        "{:?}",
        diff.new_failures
    );
    assert_eq!(diff.identities_added.len(), 1);
    assert_eq!(diff.identities_added[0].id, added);
    assert_eq!(diff.identities_removed.len(), 1);
    assert_eq!(diff.identities_removed[0].id, deleted);
    assert!(diff.new_or_regressed);
    let failing_before = summary["fail"].as_u64().unwrap();
    let gone_with_deleted = results
        .iter()
        .filter(|r| r["identity_id"] == deleted.as_str() && r["status"] == "fail")
        .count() as u64;
    assert_eq!(
        diff.summary.still_failing,
        failing_before - 1 - gone_with_deleted,
        "every other failure still fails"
    );
}

fn policy_file() -> std::path::PathBuf {
    crate::support::policy_path("example.yaml")
}
