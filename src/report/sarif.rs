//! `report.sarif`: SARIF 2.1.0 for code-scanning dashboards. One run; the driver lists one
//! reporting rule per policy rule; one result per failing config (`fail`), plus the exempt ones
//! as suppressed results; configs that could not be read (`error`) become tool execution
//! notifications. The invocation carries the exit code.
//!
//! Results have no source file of their own: each names the identity and auth method as a
//! logical location, and points at the policy file (where the rule is written) as its physical
//! location, which dashboards such as GitHub code scanning require.
//!
//! Streamed: results and notifications go to spool files; `finish` writes the log around them.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::spool::{Assembly, Spool};
use super::{FinishContext, FormatWriter, ReportError};
use crate::finding::{Finding, Severity, Status};

/// The SARIF schema this file follows.
pub const SCHEMA_URI: &str =
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json";

/// The key of `partialFingerprints` holding the finding id.
pub const FINGERPRINT_KEY: &str = "idguardFindingId/v1";

/// The streaming writer of `report.sarif`.
pub(super) struct SarifReport {
    final_path: PathBuf,
    results: Spool,
    notifications: Spool,
    /// Rules in first-seen order, to give each result its `ruleIndex` when the policy lists it.
    seen_rules: Vec<String>,
}

impl SarifReport {
    pub(super) fn create(dir: &Path) -> Result<SarifReport, ReportError> {
        let final_path = dir.join("report.sarif");
        Ok(SarifReport {
            results: Spool::create(&final_path, "results")?,
            notifications: Spool::create(&final_path, "notifications")?,
            final_path,
            seen_rules: Vec::new(),
        })
    }
}

/// The SARIF level of a severity.
pub fn level(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low | Severity::Info => "note",
    }
}

/// GitHub's `security-severity` score of a severity (its bands: critical > 9.0, high 7.0–8.9,
/// medium 4.0–6.9, low 0.1–3.9).
fn security_severity(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical => "9.5",
        Severity::High => "8.0",
        Severity::Medium => "5.5",
        Severity::Low => "2.0",
        Severity::Info => "0.0",
    }
}

/// The message of a failing result: which identity, which method, and each violation.
fn message(f: &Finding) -> String {
    let mut text = format!(
        "Identity '{}' ({}), {}: rule '{}' fails",
        f.identity_name,
        f.identity_id,
        f.auth_method.as_str(),
        f.rule
    );
    if f.violations.is_empty() {
        text.push('.');
    } else {
        text.push_str(": ");
        let parts: Vec<String> = f
            .violations
            .iter()
            .map(|v| {
                format!(
                    "{} (observed {}; expected {})",
                    v.message, v.observed, v.expected
                )
            })
            .collect();
        text.push_str(&parts.join("; "));
    }
    text
}

impl SarifReport {
    fn result(&self, f: &Finding) -> Value {
        let fqn = format!("{}/{}", f.identity_id, f.auth_method.as_str());
        let mut result = json!({
            "ruleId": f.rule,
            "level": level(f.severity),
            "kind": "fail",
            "message": {"text": message(f)},
            "locations": [{
                "physicalLocation": {"artifactLocation": {"uri": "__POLICY__"}},
                "logicalLocations": [
                    {"name": f.identity_name, "fullyQualifiedName": f.identity_id,
                     "kind": "resource"},
                    {"name": f.auth_method.as_str(), "fullyQualifiedName": fqn,
                     "kind": "resource"}
                ]
            }],
            "partialFingerprints": {FINGERPRINT_KEY: f.finding_id},
            "properties": {
                "identityId": f.identity_id,
                "identityName": f.identity_name,
                "authMethod": f.auth_method.as_str(),
                "severity": f.severity.as_str(),
                "status": f.status.as_str(),
                "violations": f.violations,
            }
        });
        if let Some(ex) = &f.exemption
            && let Some(obj) = result.as_object_mut()
        {
            let mut justification = format!("exempt until {}: {}", ex.expires, ex.reason);
            if let Some(owner) = &ex.owner {
                justification.push_str(&format!(" (owner {owner})"));
            }
            obj.insert(
                "suppressions".into(),
                json!([{"kind": "external", "status": "accepted",
                        "justification": justification}]),
            );
        }
        result
    }
}

impl FormatWriter for SarifReport {
    fn write(&mut self, f: &Finding) -> Result<(), ReportError> {
        match f.status {
            Status::Fail | Status::Exempt => {
                if !self.seen_rules.contains(&f.rule) && self.seen_rules.len() < 10_000 {
                    self.seen_rules.push(f.rule.clone());
                }
                let sep = if self.results.is_empty() {
                    "\n        "
                } else {
                    ",\n        "
                };
                self.results.push(sep)?;
                let value = self.result(f);
                self.results.push_json(&value)
            }
            Status::Error => {
                let sep = if self.notifications.is_empty() {
                    "\n            "
                } else {
                    ",\n            "
                };
                self.notifications.push(sep)?;
                let text = format!(
                    "Identity '{}' ({}), {}: rule '{}' could not be evaluated: {}",
                    f.identity_name,
                    f.identity_id,
                    f.auth_method.as_str(),
                    f.rule,
                    f.error.as_deref().unwrap_or("unknown error")
                );
                self.notifications.push_json(&json!({
                    "level": "error",
                    "message": {"text": text},
                    "associatedRule": {"id": f.rule},
                    "properties": {"findingId": f.finding_id},
                }))
            }
            Status::Pass => Ok(()),
        }
    }

    fn finish(self: Box<Self>, ctx: &FinishContext<'_>) -> Result<PathBuf, ReportError> {
        let SarifReport {
            final_path,
            mut results,
            mut notifications,
            seen_rules,
        } = *self;
        let mut rules: Vec<Value> = ctx
            .rules
            .iter()
            .map(|r| {
                let mut rule = json!({
                    "id": r.id,
                    "name": r.id,
                    "shortDescription": {"text": format!("idguard policy rule '{}'", r.id)},
                    "defaultConfiguration": {"level": level(r.severity)},
                    "properties": {
                        "severity": r.severity.as_str(),
                        "security-severity": security_severity(r.severity),
                        "tags": ["security", "infisical", "machine-identity"],
                    }
                });
                if let Some(text) = r.description.as_deref().map(str::trim)
                    && !text.is_empty()
                {
                    rule["fullDescription"] = json!({ "text": text });
                }
                rule
            })
            .collect();
        for id in seen_rules {
            if !ctx.rules.iter().any(|r| r.id == id) {
                rules.push(
                    json!({"id": id, "shortDescription": {"text": "rule not in the policy"}}),
                );
            }
        }
        let driver = json!({
            "name": "idguard",
            "version": env!("CARGO_PKG_VERSION"),
            "semanticVersion": env!("CARGO_PKG_VERSION"),
            "informationUri": "https://infisical.com/docs/documentation/platform/identities/machine-identities",
            "rules": rules,
        });
        let run = ctx.run;
        let mut invocation = json!({
            "executionSuccessful": run.complete,
            "exitCode": run.exit_code,
            "properties": {
                "runId": run.id,
                "apiUrl": run.api_url,
                "orgId": run.org_id,
                "policySha256": run.policy.sha256,
                "complete": run.complete,
                "incompleteReason": run.incomplete_reason,
                "api": run.api,
            }
        });
        if let Some(obj) = invocation.as_object_mut() {
            // SARIF wants RFC 3339 date-times here; anything else is left out.
            for (key, time) in [
                ("startTimeUtc", &run.started_at),
                ("endTimeUtc", &run.finished_at),
            ] {
                if time.parse::<jiff::Timestamp>().is_ok() {
                    obj.insert(key.into(), time.clone().into());
                }
            }
            if let Some(reason) = &run.incomplete_reason {
                obj.insert(
                    "exitCodeDescription".into(),
                    format!("incomplete: {reason}").into(),
                );
            }
        }
        let policy_uri = uri_reference(&run.policy.path);

        let mut log = Assembly::create(&final_path)?;
        log.push(&format!(
            "{{\n  \"$schema\": \"{SCHEMA_URI}\",\n  \"version\": \"2.1.0\",\n  \"runs\": [\n    {{\n      \"tool\": {{\"driver\": "
        ))?;
        log.push_json(&driver)?;
        log.push("},\n      \"artifacts\": [{\"location\": {\"uri\": ")?;
        log.push_json(&policy_uri)?;
        log.push(
            "}, \"roles\": [\"userSpecifiedConfiguration\"]}],\n      \"invocations\": [\n        ",
        )?;
        // The invocation's notifications are spooled; close the object by hand around them.
        let head = serde_json::to_string(&invocation)?;
        let head = head.strip_suffix('}').unwrap_or(&head);
        log.push(head)?;
        log.push(",\"toolExecutionNotifications\": [")?;
        log.append(&mut notifications)?;
        log.push("]}\n      ],\n      \"results\": [")?;
        if !results.is_empty() {
            // Each result names the policy file; the placeholder keeps spooled lines short.
            let placeholder = "\"__POLICY__\"";
            let replacement = serde_json::to_string(&policy_uri)?;
            let reader = results.reader()?;
            for line in std::io::BufRead::lines(reader) {
                let line = line.map_err(|e| results.io_error(e))?;
                log.push(&line.replacen(placeholder, &replacement, 1))?;
                log.push("\n")?;
            }
            log.push("      ")?;
        }
        log.push("]\n    }\n  ]\n}\n")?;
        log.commit()
    }
}

/// A path as a URI reference: unreserved characters and `/` kept, everything else
/// percent-encoded.
fn uri_reference(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_follow_severity() {
        assert_eq!(level(Severity::Critical), "error");
        assert_eq!(level(Severity::Medium), "warning");
        assert_eq!(level(Severity::Info), "note");
    }

    #[test]
    fn policy_paths_become_uri_references() {
        assert_eq!(
            uri_reference("policies/my policy#1.yaml"),
            "policies/my%20policy%231.yaml"
        );
        assert_eq!(uri_reference("/etc/idguard.yaml"), "/etc/idguard.yaml");
    }
    use super::super::Format;
    use super::super::spool::fixture;
    use serde_json::Value;

    fn sarif() -> Value {
        let (_dir, text) = fixture::render(Format::Sarif, &fixture::findings());
        serde_json::from_str(&text).expect("valid JSON")
    }

    #[test]
    fn sarif_has_one_rule_per_policy_rule_and_one_result_per_failing_config() {
        let log = sarif();
        assert_eq!(log["version"], "2.1.0");
        assert_eq!(log["$schema"], SCHEMA_URI);
        let run = &log["runs"][0];
        let rules = run["tool"]["driver"]["rules"].as_array().expect("rules");
        let ids: Vec<&str> = rules.iter().filter_map(|r| r["id"].as_str()).collect();
        assert_eq!(ids, ["token-lifetime", "network", "unused"]);
        assert_eq!(
            rules[0]["fullDescription"]["text"],
            fixture::HOSTILE_DESCRIPTION
        );
        assert!(
            rules[2].get("fullDescription").is_none(),
            "none without one"
        );
        let results = run["results"].as_array().expect("results");
        let failing: Vec<&Value> = results
            .iter()
            .filter(|r| r.get("suppressions").is_none())
            .collect();
        assert_eq!(failing.len(), 2, "two failing configs");
        assert_eq!(results.len(), 3, "plus the exempt one, suppressed");
        let hostile = &failing[0];
        assert_eq!(hostile["ruleId"], "token-lifetime");
        assert_eq!(hostile["level"], "error");
        assert_eq!(
            hostile["partialFingerprints"][FINGERPRINT_KEY],
            fixture::findings()[0].finding_id
        );
        let logical = &hostile["locations"][0]["logicalLocations"];
        assert_eq!(logical[0]["name"], fixture::HOSTILE);
        assert_eq!(logical[1]["name"], "universal-auth");
        assert_eq!(
            hostile["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
            "policies/my%20policy.yaml"
        );
        assert!(
            hostile["message"]["text"]
                .as_str()
                .expect("text")
                .contains("30d")
        );
        let exempt = results
            .iter()
            .find(|r| r.get("suppressions").is_some())
            .expect("exempt");
        assert_eq!(exempt["suppressions"][0]["kind"], "external");
        let invocation = &run["invocations"][0];
        assert_eq!(invocation["exitCode"], 2);
        assert_eq!(invocation["executionSuccessful"], false);
        assert_eq!(invocation["startTimeUtc"], "2026-11-25T10:00:00Z");
        let notes = invocation["toolExecutionNotifications"]
            .as_array()
            .expect("notes");
        assert_eq!(notes.len(), 1, "the error result");
        assert!(
            notes[0]["message"]["text"]
                .as_str()
                .expect("text")
                .contains("500")
        );
    }

    #[test]
    fn sarif_without_results_is_valid() {
        let (_dir, text) = fixture::render(Format::Sarif, &[]);
        let log: Value = serde_json::from_str(&text).expect("valid JSON");
        assert_eq!(log["runs"][0]["results"], serde_json::json!([]));
        assert_eq!(
            log["runs"][0]["invocations"][0]["toolExecutionNotifications"],
            serde_json::json!([])
        );
    }
}
