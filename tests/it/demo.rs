//! `idguard demo`, the README's first command: from an empty folder (the built-in policy), it
//! writes every report format and ends by saying what to open, what the audit's exit code
//! would be, and what to try next, while exiting 0 itself.

use crate::support::idguard;

#[test]
fn the_demo_runs_from_an_empty_folder_and_says_what_next() {
    let cwd = tempfile::tempdir().unwrap();
    let out = cwd.path().join("run");
    let output = idguard()
        .current_dir(cwd.path())
        .args(["demo", "--identities", "30", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    for file in ["report.json", "report.csv", "report.md", "report.html"] {
        assert!(out.join(file).is_file(), "{file} missing: {stderr}");
    }
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap()).unwrap();
    assert_eq!(
        report["run"]["policy"]["path"], "policies/example.yaml (built in)",
        "no policies/ folder here, so the demo audits with its built-in copy"
    );
    assert!(
        stderr.contains("the demo exits 0. An `idguard audit` of this org would exit 1"),
        "{stderr}"
    );
    let html = format!("{}/report.html", out.display());
    let open = stderr.find("open:").expect("an `open:` section");
    assert!(stderr[open..].contains(&html), "{stderr}");
    assert!(stderr.contains("next:\n  idguard sim"), "{stderr}");
}
