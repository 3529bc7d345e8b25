//! Tests of `diff` on small hand-made report.json files and on reports written by the real
//! JSON writer.

use std::path::PathBuf;

use serde_json::{Value, json};

use super::*;

/// One hand-made result: (identity id, identity name, rule, status).
type Row<'a> = (&'a str, &'a str, &'a str, &'a str);

fn result(row: Row<'_>) -> Value {
    let (id, name, rule, status) = row;
    let mut r = json!({
        "finding_id": format!("{id}:{rule}"),
        "identity_id": id,
        "identity_name": name,
        "auth_method": "universal-auth",
        "rule": rule,
        "severity": "high",
        "status": status,
        "violations": [],
        "exemption": null,
        "error": null,
        "remediation": null,
    });
    if status == "fail" {
        r["violations"] = json!([{"check": "max-ttl", "field": "accessTokenTTL",
            "observed": "30d", "expected": "at most 1h", "message": format!("{rule} broken")}]);
    }
    if status == "exempt" {
        r["exemption"] = json!({"reason": "vendor", "owner": null, "expires": "2026-11-20"});
    }
    if status == "error" {
        r["error"] = json!("GET failed: 500");
    }
    r
}

fn report(run_id: &str, rows: &[Row<'_>]) -> Value {
    json!({
        "schema_version": 1,
        "tool": {"name": "idguard", "version": "0.1.0"},
        "run": {"id": run_id, "started_at": "2026-11-25T10:00:00Z", "finished_at": "x",
                "api_url": "u", "org_id": "org", "policy": {"path": "p", "sha256": "h"},
                "exit_code": 1, "complete": true, "incomplete_reason": null,
                "api": {"requests": 0, "retries": 0, "rate_limited": 0}},
        "summary": {},
        "results": rows.iter().copied().map(result).collect::<Vec<_>>(),
    })
}

fn write(dir: &tempfile::TempDir, name: &str, value: &Value) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, serde_json::to_vec_pretty(value).expect("json")).expect("write");
    path
}

fn ids(list: &[Change]) -> Vec<&str> {
    list.iter().map(|c| c.finding_id.as_str()).collect()
}

fn sample() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let old = write(
        &dir,
        "old.json",
        &report(
            "old",
            &[
                ("id-1", "ci", "r1", "fail"),
                ("id-1", "ci", "r2", "pass"),
                ("id-1", "ci", "r3", "fail"),
                ("id-2", "vendor", "r1", "exempt"),
                ("id-2", "vendor", "r2", "fail"),
                ("id-3", "batch", "r1", "fail"),
                ("id-3", "batch", "r2", "pass"),
                ("id-4", "retired", "r1", "fail"),
                ("id-6", "flaky", "r1", "error"),
            ],
        ),
    );
    let new = write(
        &dir,
        "new.json",
        &report(
            "new",
            &[
                ("id-1", "ci", "r1", "fail"),
                ("id-1", "ci", "r2", "fail"),
                ("id-1", "ci", "r4", "fail"),
                ("id-2", "vendor", "r1", "fail"),
                ("id-2", "vendor", "r2", "pass"),
                ("id-3", "batch", "r1", "exempt"),
                ("id-3", "batch", "r2", "error"),
                ("id-5", "fresh", "r1", "fail"),
                ("id-6", "flaky", "r1", "fail"),
            ],
        ),
    );
    (dir, old, new)
}

#[test]
fn every_category_is_keyed_by_finding_id() {
    let (_dir, old, new) = sample();
    let d = diff_files(&old, &new).expect("diff");
    assert_eq!(ids(&d.new_failures), ["id-1:r4", "id-6:r1", "id-5:r1"]);
    assert_eq!(d.new_failures[1].before, Some(State::Error));
    assert_eq!(ids(&d.regressed), ["id-1:r2"]);
    assert_eq!(ids(&d.exemptions_expired), ["id-2:r1"]);
    assert_eq!(
        d.exemptions_expired[0].exemption_expired.as_deref(),
        Some("2026-11-20")
    );
    assert_eq!(ids(&d.still_failing), ["id-1:r1"]);
    assert_eq!(ids(&d.resolved), ["id-1:r3", "id-2:r2"]);
    assert_eq!(d.resolved[0].after, None, "absent from NEW");
    assert_eq!(d.resolved[1].after, Some(State::Pass));
    assert_eq!(ids(&d.newly_exempt), ["id-3:r1"]);
    assert_eq!(ids(&d.new_errors), ["id-3:r2"]);
    assert_eq!(
        d.identities_added,
        [IdentityRef {
            id: "id-5".into(),
            name: "fresh".into()
        }]
    );
    assert_eq!(
        d.identities_removed,
        [IdentityRef {
            id: "id-4".into(),
            name: "retired".into()
        }]
    );
    assert_eq!(d.summary.new_failures, 3);
    assert_eq!(d.summary.identities_removed, 1);
    assert!(d.new_or_regressed);
    assert_eq!(d.old.run_id, "old");
    assert!(d.notes.is_empty());
}

/// An alert lists new failures, regressions and expired exemptions, by names, and nothing
/// that improved, still fails or newly errs.
#[test]
fn changed_results_are_the_new_and_regressed_only() {
    let (_dir, old, new) = sample();
    let d = diff_files(&old, &new).expect("diff");
    let listed: Vec<_> = d
        .changed_results()
        .into_iter()
        .map(|c| (c.identity_name, c.rule, c.change))
        .collect();
    let row = |name: &str, rule: &str, change| (name.to_owned(), rule.to_owned(), change);
    assert_eq!(
        listed,
        [
            row("ci", "r4", "new failure"),
            row("flaky", "r1", "new failure"),
            row("fresh", "r1", "new failure"),
            row("ci", "r2", "regressed"),
            row("vendor", "r1", "exemption expired"),
        ]
    );
}

#[test]
fn unchanged_reports_are_not_new_or_regressed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rows = [("id-1", "ci", "r1", "fail"), ("id-2", "b", "r1", "pass")];
    let old = write(&dir, "a.json", &report("a", &rows));
    let new = write(&dir, "b.json", &report("b", &rows));
    let mut out = Vec::new();
    let outcome =
        run_diff(&old, &new, DiffFormat::Text, StillFailing::Count, &mut out).expect("diff");
    assert!(!outcome.new_or_regressed);
    assert_eq!(outcome.counts.still_failing, 1);
    let text = String::from_utf8(out).expect("utf8");
    assert!(text.contains("0 new failures, 0 regressed"), "{text}");
}

#[test]
fn only_improvements_do_not_alert() {
    let dir = tempfile::tempdir().expect("tempdir");
    let old = write(
        &dir,
        "a.json",
        &report("a", &[("id-1", "ci", "r1", "fail")]),
    );
    let new = write(
        &dir,
        "b.json",
        &report("b", &[("id-1", "ci", "r1", "pass")]),
    );
    let d = diff_files(&old, &new).expect("diff");
    assert!(!d.new_or_regressed);
    assert_eq!(d.summary.resolved, 1);
}

#[test]
fn bad_input_is_an_error_naming_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let good = write(&dir, "good.json", &report("g", &[]));
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "truncated.json",
            b"{\"schema_version\": 1, \"results\": [".to_vec(),
            "not a valid",
        ),
        ("text.json", b"hello".to_vec(), "not a valid"),
        ("array.json", b"[]".to_vec(), "not a valid"),
        (
            "v2.json",
            br#"{"schema_version": 2, "results": []}"#.to_vec(),
            "schema_version 2",
        ),
        ("empty-object.json", b"{}".to_vec(), "no `schema_version`"),
        (
            "no-results.json",
            br#"{"schema_version": 1}"#.to_vec(),
            "no `results`",
        ),
        (
            "bad-result.json",
            br#"{"schema_version": 1, "results": [{"identity_id": "x"}]}"#.to_vec(),
            "missing field",
        ),
        (
            "bad-status.json",
            serde_json::to_vec(&{
                let mut r = report("x", &[("id", "n", "r", "fail")]);
                r["results"][0]["status"] = json!("maybe");
                r
            })
            .expect("json"),
            "unknown variant",
        ),
        (
            "trailing.json",
            br#"{"schema_version": 1, "results": []} x"#.to_vec(),
            "trailing",
        ),
        ("binary.json", vec![0xff, 0xfe, 0x00], "not a valid"),
    ];
    for (name, bytes, expected) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).expect("write");
        for (old, new) in [(&path, &good), (&good, &path)] {
            let err = diff_files(old, new).expect_err(name).to_string();
            assert!(err.contains(name), "{name}: path in {err}");
            assert!(err.contains(expected), "{name}: {expected:?} in {err}");
        }
    }
    let missing = dir.path().join("missing.json");
    let err = diff_files(&missing, &good).expect_err("missing");
    assert!(matches!(err, DiffError::Read { .. }));
    assert!(err.to_string().contains("missing.json"));
}

#[test]
fn unknown_fields_and_key_order_are_accepted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut r = report("a", &[("id-1", "ci", "r1", "fail")]);
    r["results"][0]["remediation_outcome"] = json!("verified");
    r["future"] = json!({"nested": [1, 2]});
    let text = serde_json::to_string(&r).expect("json");
    // Put "results" before "schema_version" by rebuilding the object in another order.
    let reordered = format!(
        "{{\"results\": {}, \"schema_version\": 1, \"run\": {}}}",
        r["results"], r["run"]
    );
    let a = dir.path().join("a.json");
    let b = dir.path().join("b.json");
    std::fs::write(&a, text).expect("write");
    std::fs::write(&b, reordered).expect("write");
    let d = diff_files(&a, &b).expect("diff");
    assert_eq!(d.summary.still_failing, 1);
}

#[test]
fn renders_text_json_and_markdown_safely() {
    let dir = tempfile::tempdir().expect("tempdir");
    let hostile = "\u{1b}[31mevil|*x*<b>";
    let old = write(&dir, "a.json", &report("a", &[]));
    let new = write(
        &dir,
        "b.json",
        &report("b", &[("id-9", hostile, "r1", "fail")]),
    );

    let mut text = Vec::new();
    run_diff(&old, &new, DiffFormat::Text, StillFailing::Count, &mut text).expect("text");
    let text = String::from_utf8(text).expect("utf8");
    assert!(!text.contains('\u{1b}'), "no terminal escapes");
    assert!(text.contains("New failures (1):"));
    assert!(text.contains("r1 broken"));

    let mut md = Vec::new();
    run_diff(
        &old,
        &new,
        DiffFormat::Markdown,
        StillFailing::Count,
        &mut md,
    )
    .expect("md");
    let md = String::from_utf8(md).expect("utf8");
    assert!(md.contains("## New failures (1)"));
    assert!(md.contains("evil\\|\\*x\\*&lt;b&gt;"), "{md}");

    let mut js = Vec::new();
    let outcome =
        run_diff(&old, &new, DiffFormat::Json, StillFailing::Count, &mut js).expect("json");
    assert!(outcome.new_or_regressed);
    let v: Value = serde_json::from_slice(&js).expect("valid JSON");
    assert_eq!(v["schema_version"], 1);
    assert_eq!(v["new_or_regressed"], true);
    assert_eq!(v["summary"]["new_failures"], 1);
    assert_eq!(v["new_failures"][0]["identity_name"], hostile);
    assert_eq!(v["identities_added"][0]["id"], "id-9");
}

/// Renders the diff of two identical reports whose `n` results all fail.
fn render_unchanged(n: usize, format: DiffFormat, still_failing: StillFailing) -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    let names: Vec<String> = (0..n).map(|i| format!("id-{i:04}")).collect();
    let rows: Vec<Row<'_>> = names
        .iter()
        .map(|n| (n.as_str(), "n", "r", "fail"))
        .collect();
    let old = write(&dir, "a.json", &report("a", &rows));
    let new = write(&dir, "b.json", &report("b", &rows));
    let mut out = Vec::new();
    let outcome = run_diff(&old, &new, format, still_failing, &mut out).expect("diff");
    assert!(!outcome.new_or_regressed);
    assert_eq!(outcome.counts.still_failing, n as u64);
    String::from_utf8(out).expect("utf8")
}

/// With nothing new, text and Markdown give the still-failing count and no entry; with
/// `--all` they list every one (no cap); JSON always has them all.
#[test]
fn still_failing_is_counted_unless_listed() {
    let n = 105;
    let entry = |text: &str| text.lines().filter(|l| l.contains("id-0")).count();
    let quiet = render_unchanged(n, DiffFormat::Text, StillFailing::Count);
    assert_eq!(entry(&quiet), 0, "{quiet}");
    assert!(quiet.contains("105 still failing;"), "{quiet}");
    assert!(
        quiet.contains("105 still failing, unchanged (not listed: --all"),
        "{quiet}"
    );
    assert!(!quiet.contains("Still failing ("), "{quiet}");
    let all = render_unchanged(n, DiffFormat::Text, StillFailing::List);
    assert!(all.contains("\nStill failing (105):\n"), "{all}");
    assert_eq!(entry(&all), n, "{all}");
    assert!(!all.contains("not listed"), "{all}");

    let quiet_md = render_unchanged(n, DiffFormat::Markdown, StillFailing::Count);
    assert_eq!(entry(&quiet_md), 0, "{quiet_md}");
    assert!(quiet_md.contains("## Still failing (105)\n\nUnchanged, so not listed"));
    let all_md = render_unchanged(n, DiffFormat::Markdown, StillFailing::List);
    assert_eq!(entry(&all_md), n, "{all_md}");

    let json = render_unchanged(n, DiffFormat::Json, StillFailing::Count);
    let v: Value = serde_json::from_str(&json).expect("json");
    assert_eq!(v["still_failing"].as_array().map(Vec::len), Some(n));

    let none = render_unchanged(0, DiffFormat::Text, StillFailing::Count);
    assert!(!none.contains("not listed"), "{none}");
}

/// `--baseline`'s diff.md (and so report.md's section) only counts what still fails;
/// diff.json lists every entry.
#[test]
fn baseline_files_count_still_failing_and_json_lists_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rows = [
        ("id-1", "ci", "r1", "fail"),
        ("id-2", "batch", "r1", "fail"),
    ];
    let old = write(&dir, "a.json", &report("a", &rows));
    let new = write(&dir, "b.json", &report("b", &rows));
    let d = diff_files(&old, &new).expect("diff");
    let files = write_baseline_files(dir.path(), &d).expect("files");
    let json: Value =
        serde_json::from_slice(&std::fs::read(&files[0]).expect("read")).expect("json");
    assert_eq!(json["still_failing"].as_array().map(Vec::len), Some(2));
    let md = std::fs::read_to_string(&files[1]).expect("read");
    assert!(
        md.contains("## Still failing (2)\n\nUnchanged, so not listed"),
        "{md}"
    );
    assert!(!md.contains("id-1") && !md.contains("id-2"), "{md}");
}

#[test]
fn incomplete_runs_and_other_orgs_are_noted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let old = write(&dir, "a.json", &report("a", &[]));
    let mut n = report("b", &[]);
    n["run"]["complete"] = json!(false);
    n["run"]["org_id"] = json!("other");
    let new = write(&dir, "b.json", &n);
    let d = diff_files(&old, &new).expect("diff");
    assert_eq!(d.notes.len(), 2, "{:?}", d.notes);
}

/// Reports written by the real JSON writer are read back, and `--baseline` agrees with `diff`.
#[test]
fn real_reports_and_baseline_tracker_agree() {
    use crate::finding::{Finding, Severity, Status, finding_id};
    use crate::model::AuthMethod;
    use crate::report::{ApiCounts, Format, PolicyRef, ReportSink, RuleInfo, RunInfo};

    let finding = |id: &str, status: Status| Finding {
        finding_id: finding_id("org", id, &AuthMethod::Oci, "r"),
        identity_id: id.into(),
        identity_name: format!("name-{id}"),
        auth_method: AuthMethod::Oci,
        rule: "r".into(),
        severity: Severity::High,
        status,
        violations: vec![],
        exemption: None,
        error: None,
        remediation: None,
    };
    let run = |id: &str| RunInfo {
        id: id.into(),
        started_at: "2026-11-25T10:00:00Z".into(),
        finished_at: "2026-11-25T10:01:00Z".into(),
        api_url: "u".into(),
        org_id: "org".into(),
        policy: PolicyRef {
            path: "p".into(),
            sha256: "h".into(),
        },
        exit_code: 1,
        complete: true,
        incomplete_reason: None,
        api: ApiCounts::default(),
        problems: Vec::new(),
        usage_evidence: "not-needed",
        usage_evidence_reason: None,
        source: crate::report::RunSource::Live,
        read: None,
        notification: None,
    };
    let rules = [RuleInfo {
        id: "r".into(),
        severity: Severity::High,
        description: None,
    }];
    let today = jiff::civil::date(2026, 11, 25);
    let write_run = |name: &str, findings: &[Finding]| {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut sink = ReportSink::create(dir.path(), &[Format::Json], &rules).expect("sink");
        for f in findings {
            sink.write(f).expect("write");
        }
        sink.finish(&run(name), &[], today, &Annotations::new())
            .expect("finish");
        dir
    };
    let before = [finding("a", Status::Pass), finding("b", Status::Fail)];
    let after = [finding("a", Status::Fail), finding("c", Status::Fail)];
    let old_dir = write_run("old", &before);
    let new_dir = write_run("new", &after);
    let d = diff_files(
        &old_dir.path().join("report.json"),
        &new_dir.path().join("report.json"),
    )
    .expect("diff");
    assert_eq!(d.summary.regressed, 1);
    assert_eq!(d.summary.new_failures, 1);
    assert_eq!(d.summary.identities_removed, 1);

    let mut tracker = BaselineTracker::load(&old_dir.path().join("report.json")).expect("baseline");
    for f in &after {
        tracker.observe(f);
    }
    let b = tracker.finish(&run("new"));
    assert_eq!(b.summary, d.summary);
    assert_eq!(b.new.path, "this run");
    let notes = b.annotations();
    assert_eq!(notes[&after[0].finding_id]["baseline"], "regressed");
    assert_eq!(notes[&after[1].finding_id]["baseline"], "new-failure");
    assert_eq!(notes.len(), 2);

    let out = tempfile::tempdir().expect("tempdir");
    let files = write_baseline_files(out.path(), &b).expect("files");
    assert_eq!(files.len(), 2);
    let json: Value =
        serde_json::from_slice(&std::fs::read(&files[0]).expect("read")).expect("json");
    assert_eq!(json["summary"]["regressed"], 1);
    let md = std::fs::read_to_string(&files[1]).expect("read");
    assert!(md.starts_with("# idguard diff"));
}
