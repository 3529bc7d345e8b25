//! `idguard trend`: real audits of the simulator under one reports folder, plus a corrupt run,
//! charted in trend.html (rendered in headless Chromium) and tabled in trend.md.

use std::path::Path;

use idguard_sim::{self as sim, SimConfig};
use serde_json::Value;

use crate::formats::render_dom;
use crate::support::{idguard, policy_path, start_sim};

/// Audits `url` with `policy` into `out` (JSON report only) and returns report.json.
async fn audit_into(url: &str, policy: &str, out: &Path) -> Value {
    let mut cmd = idguard();
    cmd.args(["audit", "--format", "json", "--policy"])
        .arg(policy_path(policy))
        .arg("--out")
        .arg(out)
        .env("INFISICAL_DOMAIN", url)
        .env("INFISICAL_UNIVERSAL_AUTH_CLIENT_ID", sim::DEMO_CLIENT_ID)
        .env(
            "INFISICAL_UNIVERSAL_AUTH_CLIENT_SECRET",
            sim::DEMO_CLIENT_SECRET,
        );
    let output = tokio::task::spawn_blocking(move || cmd.output().expect("binary runs"))
        .await
        .expect("join");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        matches!(output.status.code(), Some(0 | 1)),
        "audit failed: {stderr}"
    );
    let text = std::fs::read_to_string(out.join("report.json")).expect("report.json");
    serde_json::from_str(&text).expect("valid JSON")
}

/// Two audits with different policies and a run whose report.json is cut short: `trend`
/// exits 0, charts the two runs in the order they ran (not folder order), names the skipped
/// run on stderr, in trend.md and in trend.html, and the page renders in Chromium with a line
/// per rule and severity (two points where both runs have it). Running it again replaces both
/// files; `--out` writes them (owner-only) into a new folder instead.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trend_charts_two_runs_and_names_the_skipped_one() {
    let server = start_sim(SimConfig {
        identities: 40,
        ..SimConfig::default()
    })
    .await;
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("reports");
    let first = audit_into(&server.url(), "example.yaml", &dir.join("b-first")).await;
    let second = audit_into(&server.url(), "strict.yaml", &dir.join("a-second")).await;
    let fails = |r: &Value| r["summary"]["fail"].as_u64().expect("fail count");
    assert_ne!(fails(&first), fails(&second), "the policies differ");
    let text = std::fs::read(dir.join("b-first/report.json")).expect("read");
    std::fs::create_dir(dir.join("c-broken")).expect("mkdir");
    std::fs::write(dir.join("c-broken/report.json"), &text[..text.len() / 3]).expect("write");

    for _ in 0..2 {
        let output = idguard().arg("trend").arg(&dir).output().expect("runs");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(0), "{stderr}");
        assert!(stderr.contains("warning: skipped run c-broken"), "{stderr}");
        assert!(stderr.contains("2 run(s), 1 skipped"), "{stderr}");
    }

    let elsewhere = tmp.path().join("site/trend");
    let output = idguard()
        .args(["trend", "--quiet", "--out"])
        .arg(&elsewhere)
        .arg(&dir)
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(0));
    assert!(output.stderr.is_empty(), "--quiet");
    assert!(elsewhere.join("trend.html").is_file() && elsewhere.join("trend.md").is_file());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).expect("exists").permissions().mode() & 0o777;
        assert_eq!(mode(&elsewhere), 0o700);
        assert_eq!(mode(&elsewhere.join("trend.html")), 0o600);
    }

    let md = std::fs::read_to_string(dir.join("trend.md")).expect("trend.md");
    let rows: Vec<&str> = md.lines().filter(|l| l.starts_with("| 20")).collect();
    assert_eq!(rows.len(), 2, "{md}");
    assert!(rows[0].contains("| b-first |") && rows[1].contains("| a-second |"));
    assert!(
        rows[0].contains(&format!("| {} |", fails(&first))),
        "{}",
        rows[0]
    );
    assert!(
        md.contains("- c-broken: report.json cannot be used: EOF"),
        "{md}"
    );

    let dom = render_dom(&dir.join("trend.html"));
    assert!(dom.contains("c-broken"), "skipped run listed");
    for id in [
        "chart-rule-fail",
        "chart-rule-error",
        "chart-severity-fail",
        "chart-severity-error",
    ] {
        let start = dom.find(&format!("id=\"{id}\"")).expect(id);
        let chart = &dom[start..start + dom[start..].find("</svg>").expect("end")];
        let lines: Vec<&str> = chart
            .split("<polyline")
            .skip(1)
            .map(|p| {
                let p = &p[p.find("points=\"").expect("points") + 8..];
                &p[..p.find('"').expect("end")]
            })
            .collect();
        assert!(!lines.is_empty(), "{id} has lines");
        // A rule or severity in both runs has two points; one in a single policy has one.
        let points: Vec<usize> = lines.iter().map(|p| p.split(' ').count()).collect();
        assert!(
            points.iter().all(|n| (1..=2).contains(n)),
            "{id}: {lines:?}"
        );
        assert!(points.contains(&2), "{id}: {lines:?}");
    }
}
