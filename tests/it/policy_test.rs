//! `idguard test POLICY CASES...` through the real binary: the shipped example tests pass, a
//! failing case is named with its rule, expected and actual results, an invalid cases file
//! exits 65 with file:line:column, and `--format junit` is well-formed XML.

use quick_xml::events::Event;

use crate::support::{idguard, policy_path};

/// Two cases of policies/example.yaml: the first holds, the second expects a pass from a
/// one-day token.
const CASES: &str = "\
version: 1
today: 2026-12-01
cases:
  - name: short tokens pass
    identity: { name: ci-build-1 }
    auth_method: universal-auth
    config: { accessTokenTTL: 600, accessTokenMaxTTL: 3600, accessTokenNumUsesLimit: 5 }
    expect: { token-lifetime: pass, token-uses: pass }
  - name: one-day token passes token-lifetime
    identity: { name: ci-build-2 }
    auth_method: universal-auth
    config: { accessTokenTTL: 86400, accessTokenMaxTTL: 86400, accessTokenNumUsesLimit: 5 }
    expect: { token-lifetime: pass, token-uses: pass }
";

/// Runs `idguard test <policies/example.yaml> cases.yaml <extra>` in a folder holding `cases`
/// as cases.yaml: (exit code, stdout, stderr).
fn test_cases(cases: &str, extra: &[&str]) -> (i32, String, String) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("cases.yaml"), cases).unwrap();
    let out = idguard()
        .current_dir(dir.path())
        .arg("test")
        .arg(policy_path("example.yaml"))
        .arg("cases.yaml")
        .args(extra)
        .output()
        .unwrap();
    (
        out.status.code().expect("exited normally"),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn shipped_example_tests_pass() {
    for policy in ["example", "strict"] {
        let out = idguard()
            .arg("test")
            .arg(policy_path(&format!("{policy}.yaml")))
            .arg(policy_path(&format!("{policy}.tests.yaml")))
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "{stdout}");
        assert!(!stdout.contains("FAIL"), "{stdout}");
        assert!(stdout.contains(" 0 failed"), "{stdout}");
    }
}

#[test]
fn a_holding_cases_file_exits_0() {
    let holding = CASES
        .replace(
            "one-day token passes token-lifetime",
            "one-day token fails token-lifetime",
        )
        .replace(
            "86400, accessTokenNumUsesLimit: 5 }\n    expect: { token-lifetime: pass,",
            "86400, accessTokenNumUsesLimit: 5 }\n    expect: { identity-allowlists: none, token-lifetime: fail,",
        );
    let (code, stdout, stderr) = test_cases(&holding, &[]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.contains("ok   one-day token fails token-lifetime (cases.yaml:9)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("cases.yaml: 2 cases, 2 passed, 0 failed"),
        "{stdout}"
    );
}

#[test]
fn a_failing_case_is_named_with_rule_expected_and_actual() {
    let (code, stdout, _) = test_cases(CASES, &[]);
    assert_eq!(code, 1, "{stdout}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines[0], "ok   short tokens pass (cases.yaml:4)");
    assert_eq!(
        lines[1],
        "FAIL one-day token passes token-lifetime (cases.yaml:9)"
    );
    assert_eq!(lines[2], "     token-lifetime: expected pass, got fail");
    assert!(
        lines[3].contains("max_ttl (3600s (1h))"),
        "the violation: {stdout}"
    );
    assert_eq!(lines[4], "cases.yaml: 2 cases, 1 passed, 1 failed");
}

#[test]
fn invalid_cases_files_exit_65_with_their_position() {
    let broken = [
        (
            CASES.replacen(
                "config: { accessTokenTTL: 600, accessTokenMaxTTL: 3600, accessTokenNumUsesLimit: 5 }",
                "config: [600]",
                1,
            ),
            "cases.yaml:7:13: case `short tokens pass`.config: expected a mapping, found a list",
        ),
        (
            CASES.replacen("    auth_method:", "    auth_mehtod:", 1),
            "cases.yaml:6:5: case `short tokens pass`: unknown key `auth_mehtod`; did you mean `auth_method`?",
        ),
        (
            CASES.replacen("token-uses: pass", "token-usse: pass", 1),
            "cases.yaml:8:37: case `short tokens pass`.expect: unknown rule `token-usse`; did you mean `token-uses`?",
        ),
        (
            CASES.replacen("token-lifetime: pass", "token-lifetime: passed", 1),
            "cases.yaml:8:31: case `short tokens pass`.expect.token-lifetime: unknown status `passed`; did you mean `pass`?",
        ),
    ];
    for (cases, expected) in broken {
        let (code, stdout, stderr) = test_cases(&cases, &[]);
        assert_eq!(code, 65, "{stderr}");
        assert!(stdout.is_empty(), "nothing is judged: {stdout}");
        assert!(stderr.contains("invalid cases file"), "{stderr}");
        assert!(stderr.contains(expected), "{expected}\nnot in\n{stderr}");
    }
}

#[test]
fn an_invalid_policy_exits_65() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("policy.yaml"), "version: 1\nrules: []\n").unwrap();
    std::fs::write(dir.path().join("cases.yaml"), CASES).unwrap();
    let out = idguard()
        .current_dir(dir.path())
        .args(["test", "policy.yaml", "cases.yaml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(65));
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid policy"));
}

#[test]
fn junit_is_well_formed_with_a_failure_for_the_failing_case() {
    let (code, xml, _) = test_cases(CASES, &["--format", "junit"]);
    assert_eq!(code, 1);
    let mut reader = quick_xml::Reader::from_str(&xml);
    let mut cases = Vec::new();
    let mut failures = Vec::new();
    loop {
        match reader.read_event().expect("well-formed XML") {
            Event::Start(e) | Event::Empty(e) => {
                let attr = |name: &str| {
                    e.try_get_attribute(name)
                        .unwrap()
                        .map(|a| {
                            a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                                .unwrap()
                                .into_owned()
                        })
                        .unwrap_or_default()
                };
                match e.name().into_inner() {
                    "testcase" => cases.push(attr("name")),
                    "failure" => failures.push((cases.last().cloned(), attr("message"))),
                    _ => {}
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    assert_eq!(
        cases,
        ["short tokens pass", "one-day token passes token-lifetime"]
    );
    assert_eq!(
        failures,
        [(
            Some("one-day token passes token-lifetime".to_owned()),
            "token-lifetime: expected pass, got fail".to_owned()
        )]
    );
}
