//! Unit tests of cases files: parsing (defaults, every problem with its position) and judging
//! (expectations against the audit's results, exemptions, usage at the file's day).

use jiff::civil::date;

use super::*;
use crate::model::LastLogin;
use crate::policy::{Diagnostic, Policy};

const POLICY: &str = "\
version: 1
rules:
  - id: token-lifetime
    access_token: { max_ttl: 1h }
  - id: stale
    usage: { max_idle: 30d }
  - id: oci-only
    applies_to: { auth_methods: [oci-auth] }
    access_token: { max_uses: 10 }
exemptions:
  - identity: 11111111-2222-3333-4444-555555555555
    rules: [token-lifetime]
    reason: tracked
    expires: 2027-01-01
";

fn policy() -> Policy {
    crate::policy::parse_on(POLICY, "policy.yaml", date(2026, 12, 1)).expect("valid policy")
}

fn parse_cases(text: &str) -> Result<CaseFile, Vec<Diagnostic>> {
    parse(text.as_bytes(), "cases.yaml", &policy(), date(2026, 6, 1))
}

/// The diagnostics as `line:column: message`.
fn problems(text: &str) -> Vec<String> {
    parse_cases(text)
        .expect_err("invalid cases file")
        .iter()
        .map(|d| format!("{}:{}: {}", d.line, d.column, d.message))
        .collect()
}

/// One case of `token-lifetime` with this TTL, plus extra case keys.
fn case(ttl: u64, extra: &str, expect: &str) -> String {
    format!(
        "version: 1\ntoday: 2026-12-01\ncases:\n  - name: c\n    identity: {{ name: bot }}\n    \
         auth_method: universal-auth\n    config: {{ accessTokenTTL: {ttl}, accessTokenMaxTTL: {ttl}, \
         accessTokenNumUsesLimit: 0 }}\n{extra}    expect: {expect}\n"
    )
}

fn outcome(text: &str) -> Vec<Mismatch> {
    let file = parse_cases(text).expect("valid cases");
    let mut outcomes = judge(&policy(), &file);
    assert_eq!(outcomes.len(), 1);
    outcomes.remove(0).mismatches
}

#[test]
fn parses_a_case_with_its_defaults() {
    let file = parse_cases(
        "version: 1\ncases:\n  - name: c\n    identity: { name: bot }\n    auth_method: quantum-auth\n    \
         config: { identityQuantumAuth: { accessTokenTTL: 1 } }\n    expect: { token-lifetime: pass }\n",
    )
    .expect("valid");
    assert_eq!(
        file.today,
        date(2026, 6, 1),
        "the caller's day when none is written"
    );
    let c = &file.cases[0];
    assert_eq!((c.name.as_str(), c.line), ("c", 3));
    assert_eq!(c.identity.id, PLACEHOLDER_ID);
    assert_eq!(c.method, AuthMethod::Unknown("quantum-auth".into()));
    assert_eq!(c.identity.usage.last_login, LastLogin::NotReported);
    assert_eq!(c.identity.usage.created_at, None);
    assert_eq!(c.expect[0].status, Expected::Pass);
}

#[test]
fn reads_today_and_usage() {
    let file = parse_cases(&case(
        60,
        "    last_login: never\n    created_at: 2026-01-01T00:00:00Z\n",
        "{ stale: fail }",
    ))
    .expect("valid");
    assert_eq!(file.today, date(2026, 12, 1));
    let usage = &file.cases[0].identity.usage;
    assert_eq!(usage.last_login, LastLogin::Never);
    assert_eq!(
        usage.created_at,
        Some("2026-01-01T00:00:00Z".parse().unwrap())
    );
}

#[test]
fn every_problem_has_its_position() {
    let text = "\
version: 1
today: 2026-13-01
cases:
  - name: c
    identity: { name: bot, idd: x }
    auth_method: univresal-auth
    config: 5
    last_login: soon
    expect: { token-lifetme: pass, stale: fial, oci-only: [pass] }
    colour: red
";
    assert_eq!(
        problems(text),
        [
            "2:8: today: expected a date YYYY-MM-DD, found `2026-13-01`",
            "5:28: case `c`.identity: unknown key `idd`; did you mean `id`?",
            "6:18: case `c`.auth_method: unknown method `univresal-auth`; did you mean `universal-auth`?",
            "7:13: case `c`.config: expected a mapping, found an integer",
            "8:17: case `c`.last_login: expected a time like 2026-11-30T08:00:00Z, found `soon`",
            "9:15: case `c`.expect: unknown rule `token-lifetme`; did you mean `token-lifetime`?",
            "9:43: case `c`.expect.stale: unknown status `fial`; did you mean `fail`?",
            "9:59: case `c`.expect: expected a string, found a list",
            "10:5: case `c`: unknown key `colour` (expected one of: name, identity, auth_method, config, last_login, created_at, expect)",
        ]
    );
}

#[test]
fn file_level_problems() {
    assert_eq!(
        problems("cases: []\n"),
        [
            "1:1: cases file: missing required key `version`",
            "1:8: cases: the list is empty"
        ]
    );
    assert_eq!(
        problems(
            "version: 1\ncases:\n  - {name: a, identity: {name: b}, auth_method: token-auth, config: {}, expect: {stale: none}}\n  - {name: a, identity: {name: b}, auth_method: token-auth, config: {}, expect: {stale: none}}\n  - {name: b, identity: {name: b}, auth_method: token-auth, config: {}, expect: {}}\n"
        ),
        [
            "4:5: case `a`: duplicate name (first at line 3)",
            "5:81: case `b`.expect: no expectation (write `rule-id: pass`, ...)",
        ]
    );
    assert!(problems("version: 1\ncases: [\n")[0].contains("YAML syntax error"));
    assert_eq!(
        problems(""),
        ["1:1: the cases file is empty; it needs `version: 1` and `cases`"]
    );
}

#[test]
fn holding_expectations_give_no_mismatch() {
    assert_eq!(
        outcome(&case(60, "", "{ token-lifetime: pass, oci-only: none }")),
        []
    );
    assert_eq!(outcome(&case(7200, "", "{ token-lifetime: fail }")), []);
}

#[test]
fn a_mismatch_carries_expected_actual_and_the_finding() {
    let m = outcome(&case(7200, "", "{ token-lifetime: pass, oci-only: fail }"));
    assert_eq!(m.len(), 2);
    assert_eq!(
        (m[0].expected, m[0].actual),
        (Expected::Pass, Expected::Fail)
    );
    let finding = m[0].finding.as_ref().expect("the rule gave a result");
    assert!(
        finding.violations[0].message.contains("max_ttl"),
        "{finding:?}"
    );
    assert_eq!(
        (m[1].rule.as_str(), m[1].actual, m[1].finding.is_none()),
        ("oci-only", Expected::None, true),
        "a rule for another method gives no result"
    );
}

#[test]
fn exemptions_match_by_id_and_expire_on_the_files_day() {
    let by_id = case(7200, "", "{ token-lifetime: exempt }").replace(
        "{ name: bot }",
        "{ name: bot, id: 11111111-2222-3333-4444-555555555555 }",
    );
    assert_eq!(outcome(&by_id), []);
    let later = by_id.replace("today: 2026-12-01", "today: 2027-01-01");
    assert_eq!(
        outcome(&later)[0].actual,
        Expected::Fail,
        "expired that day"
    );
}

#[test]
fn usage_is_judged_at_midnight_utc_of_today() {
    // Idle exactly 30 days at 2026-12-01T00:00Z: within max_idle.
    let at_limit = case(
        60,
        "    last_login: 2026-11-01T00:00:00Z\n",
        "{ stale: pass }",
    );
    assert_eq!(outcome(&at_limit), []);
    let one_second_more = case(
        60,
        "    last_login: 2026-10-31T23:59:59Z\n",
        "{ stale: pass }",
    );
    assert_eq!(outcome(&one_second_more)[0].actual, Expected::Fail);
    assert_eq!(
        outcome(&case(60, "", "{ stale: error }")),
        [],
        "not reported"
    );
}

#[test]
fn configs_decode_like_a_get_answer() {
    let wrapped = case(60, "", "{ token-lifetime: fail }").replace(
        "config: { accessTokenTTL: 60, accessTokenMaxTTL: 60, accessTokenNumUsesLimit: 0 }",
        "config: { identityUniversalAuth: { accessTokenTTL: 7200, accessTokenMaxTTL: 7200, accessTokenNumUsesLimit: 0 } }",
    );
    assert_eq!(outcome(&wrapped), []);
    let undecodable = case(60, "", "{ token-lifetime: pass }")
        .replace("accessTokenTTL: 60,", "accessTokenTTL: -1,");
    let m = outcome(&undecodable);
    assert_eq!(m[0].actual, Expected::Error);
    let error = m[0].finding.as_ref().and_then(|f| f.error.clone());
    assert!(error.is_some_and(|e| e.contains("accessTokenTTL")), "{m:?}");
}

#[test]
fn names_from_the_file_are_escaped_in_text_and_junit() {
    let text = case(7200, "", "{ token-lifetime: pass }")
        .replace("name: c\n", "name: \"<a & \\\"b\\\"> \\e]0;x\"\n");
    let file = parse_cases(&text).expect("valid");
    let outcomes = [render::FileOutcome {
        file: &file,
        cases: judge(&policy(), &file),
    }];
    let shown = render::text(&outcomes);
    assert!(
        !shown.contains('\u{1b}'),
        "control characters escaped: {shown:?}"
    );
    assert!(shown.starts_with("FAIL <a & \"b\">"), "{shown}");
    let xml = render::junit(&outcomes);
    assert!(!xml.contains('\u{1b}'), "{xml:?}");
    let mut reader = quick_xml::Reader::from_str(&xml);
    let mut names = Vec::new();
    loop {
        match reader.read_event().expect("well-formed XML") {
            quick_xml::events::Event::Start(e) if e.name().into_inner() == "testcase" => {
                let name = e.try_get_attribute("name").unwrap().expect("name");
                names.push(
                    name.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                        .unwrap()
                        .into_owned(),
                );
            }
            quick_xml::events::Event::Eof => break,
            _ => {}
        }
    }
    assert_eq!(names, ["<a & \"b\"> \u{FFFD}]0;x"]);
}
