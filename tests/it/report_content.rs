//! What the reports say about the policy and each violation, end to end against the
//! simulator: rule descriptions in report.json, report.md, report.html and the stderr summary
//! (escaped for each), one report.csv row per violation with its `field`, and `idguard diff`
//! staying quiet about what still fails unless `--all` is given.

use std::collections::BTreeMap;
use std::path::Path;

use idguard_sim::{AuthMethod, IdentitySpec, SimConfig, baseline_config};
use serde_json::{Value, json};

use crate::remediate::{args, read_json, run, stderr};
use crate::support::{idguard, policy_path, results, start_sim};

/// The description given to `token-lifetime`: markup for Markdown and HTML, a pipe for a
/// Markdown table, an escape sequence for a terminal (YAML `\e`).
const DESCRIPTION_YAML: &str = r#""Short <b>tokens</b> | *no* renewal \e[31m!""#;
const DESCRIPTION: &str = "Short <b>tokens</b> | *no* renewal \u{1b}[31m!";

/// The example policy with [`DESCRIPTION`] on `token-lifetime`, written into `dir`.
fn policy_with_description(dir: &Path) -> String {
    let example = std::fs::read_to_string(policy_path("example.yaml")).unwrap();
    let original = "description: Access tokens are short-lived and never renew forever.";
    assert!(example.contains(original));
    let text = example.replace(original, &format!("description: {DESCRIPTION_YAML}"));
    let path = dir.join("policy.yaml");
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

/// Audits a small simulated org, with one identity whose token lifetime fails twice (TTL and
/// max TTL both unlimited), in every format but SARIF and JUnit; returns the output folder's
/// parent (kept alive), the folder, the run's stderr and the odd identity's id.
async fn audited() -> (tempfile::TempDir, std::path::PathBuf, String, String) {
    let server = start_sim(SimConfig {
        identities: 30,
        ..SimConfig::default()
    })
    .await;
    let mut config = baseline_config(&AuthMethod::Universal);
    config["accessTokenTTL"] = json!(0);
    config["accessTokenMaxTTL"] = json!(0);
    let twice = server.handle().add_identity(IdentitySpec {
        name: "=two-violations".into(),
        project_id: None,
        methods: vec![(AuthMethod::Universal, Some(config))],
    });
    let tmp = tempfile::tempdir().unwrap();
    let policy = policy_with_description(tmp.path());
    let out = tmp.path().join("out");
    let parts = ["audit", "--policy", &policy, "--format", "json,csv,md,html"];
    let output = run(&server.url(), args(&parts, &out)).await;
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    (tmp, out, stderr(&output), twice)
}

/// report.json lists every rule in policy order with its description as written; report.md
/// and report.html show it escaped in their rules tables; the stderr summary shows every rule
/// with the description made safe for a terminal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_carry_rule_descriptions_escaped() {
    let (_tmp, out, stderr, _) = audited().await;
    let report = read_json(&out.join("report.json"));
    let rules = report["rules"].as_array().expect("rules list");
    let ids: Vec<&str> = rules.iter().filter_map(|r| r["id"].as_str()).collect();
    assert_eq!(
        ids,
        [
            "token-lifetime",
            "token-uses",
            "network",
            "identity-allowlists"
        ]
    );
    assert_eq!(rules[0]["description"], DESCRIPTION);
    assert_eq!(rules[0]["severity"], "high");
    assert_eq!(
        rules[1]["description"],
        "Access tokens have a bounded number of uses."
    );
    assert!(
        report["summary"]["by_rule"]["token-lifetime"]["fail"].is_u64(),
        "the summary keeps its counts"
    );

    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    let md_description = "Short &lt;b&gt;tokens&lt;/b&gt; \\| \\*no\\* renewal  \\[31m\\!";
    let row = md
        .lines()
        .find(|l| l.starts_with("| token-lifetime | high |"))
        .expect("rules table row");
    assert!(row.ends_with(&format!("| {md_description} |")), "{row}");
    assert!(
        md.contains(&format!("> {md_description}\n")),
        "under the rule"
    );
    assert!(!md.contains("<b>") && !md.contains('\u{1b}'));

    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains(
        "<td class=\"description\">Short &lt;b&gt;tokens&lt;/b&gt; | *no* renewal \u{FFFD}[31m!</td>"
    ));
    assert!(!html.contains("<b>tokens") && !html.contains('\u{1b}'));

    assert!(!stderr.contains('\u{1b}'), "{stderr}");
    let line = stderr
        .lines()
        .find(|l| l.trim_start().starts_with("token-lifetime "))
        .expect("summary line");
    assert!(
        line.ends_with("  Short <b>tokens</b> | *no* renewal \\e[31m!"),
        "{line}"
    );
    for id in ids {
        assert!(
            stderr.lines().any(|l| l.trim_start().starts_with(id)),
            "every rule in the summary: {stderr}"
        );
    }
}

/// A result with two violations is two report.csv rows, each with its own `field` and check,
/// in the order of the result's violations; a result without violations is one row.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csv_has_one_row_per_violation_with_its_field() {
    let (_tmp, out, _, twice) = audited().await;
    let report = read_json(&out.join("report.json"));
    let mut reader = csv::Reader::from_path(out.join("report.csv")).unwrap();
    let headers = reader.headers().unwrap().clone();
    let col = |name: &str| headers.iter().position(|h| h == name).expect(name);
    let mut rows: BTreeMap<String, Vec<csv::StringRecord>> = BTreeMap::new();
    for record in reader.records() {
        let record = record.unwrap();
        rows.entry(record[col("finding_id")].to_owned())
            .or_default()
            .push(record);
    }

    let result = results(&report)
        .iter()
        .find(|r| r["identity_id"] == twice.as_str() && r["rule"] == "token-lifetime")
        .expect("the odd identity's token lifetime");
    let violations = result["violations"].as_array().unwrap();
    assert_eq!(violations.len(), 2, "{result}");
    let mine = &rows[result["finding_id"].as_str().unwrap()];
    let cells = |name: &str| -> Vec<&str> { mine.iter().map(|r| &r[col(name)]).collect() };
    let from_json = |key: &str| -> Vec<&str> {
        violations
            .iter()
            .map(|v| v[key].as_str().unwrap())
            .collect()
    };
    assert_eq!(cells("field"), ["accessTokenTTL", "accessTokenMaxTTL"]);
    assert_eq!(cells("field"), from_json("field"));
    assert_eq!(cells("checks"), from_json("check"));
    assert_eq!(cells("observed"), from_json("observed"));
    assert_eq!(cells("identity_name"), ["'=two-violations"; 2]);

    for r in results(&report) {
        let n = r["violations"].as_array().map_or(0, Vec::len);
        let got = &rows[r["finding_id"].as_str().unwrap()];
        assert_eq!(got.len(), n.max(1), "{r}");
        if n == 0 {
            assert_eq!(&got[0][col("field")], "");
            assert_eq!(&got[0][col("checks")], "");
        }
    }
}

/// `idguard diff` of a report with itself (nothing new, everything failing still fails)
/// exits 0 and prints no still-failing entry, only their count; with `--all` it lists each.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn diff_lists_still_failing_only_with_all() {
    let (_tmp, out, _, _) = audited().await;
    let report_path = out.join("report.json");
    let report: Value = read_json(&report_path);
    let failing = report["summary"]["fail"].as_u64().unwrap() as usize;
    assert!(failing > 0);
    let diff = |all: bool| {
        let mut cmd = idguard();
        cmd.arg("diff").arg(&report_path).arg(&report_path);
        if all {
            cmd.arg("--all");
        }
        let output = cmd.output().unwrap();
        assert_eq!(output.status.code(), Some(0), "nothing new");
        String::from_utf8(output.stdout).unwrap()
    };
    let entries = |text: &str| {
        text.lines()
            .filter(|l| l.contains("[fail -> fail]"))
            .count()
    };

    let quiet = diff(false);
    assert_eq!(entries(&quiet), 0, "{quiet}");
    assert!(!quiet.contains("Still failing ("), "{quiet}");
    assert!(
        quiet.contains(&format!(
            "{failing} still failing, unchanged (not listed: --all lists them"
        )),
        "{quiet}"
    );
    let all = diff(true);
    assert!(
        all.contains(&format!("Still failing ({failing}):")),
        "{all}"
    );
    assert_eq!(entries(&all), failing, "{all}");
}
