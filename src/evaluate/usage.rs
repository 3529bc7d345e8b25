//! The `usage` check: is the identity still in use? It is judged from the listing (the last
//! login, or when the identity was added), not from a config, so its results exist even when a
//! config could not be read. One result per identity × configured auth method, like every rule.
//!
//! Idle time is measured from the last login; an identity that never logged in is idle since
//! it was added. A server that does not report last logins gives `error` results: never a
//! silent pass. A failing result is always manual: idguard never deletes or disables an
//! identity.

use jiff::{SignedDuration, Timestamp};

use crate::finding::{
    AppliedExemption, CheckCode, Finding, Remediation, Status, Violation, finding_id,
};
use crate::model::{AuthMethod, Identity, LastLogin};
use crate::policy::{Policy, Rule, format_duration};

use super::{exemption_for, rule_matches};

/// The remediation of a stale identity.
pub const STALE_REASON: &str = "review this identity, then delete or disable it in Infisical \
(idguard never deletes identities)";

/// Why usage cannot be judged on a server without last logins.
pub const NOT_REPORTED_REASON: &str = "this Infisical server does not report last logins \
(`lastLoginTime` is missing from its identity listing), so idleness cannot be judged";

/// The results of every usage rule covering this identity and method, judged at `now`.
pub fn usage_findings(
    policy: &Policy,
    org_id: &str,
    identity: &Identity,
    method: &AuthMethod,
    now: Timestamp,
) -> Vec<Finding> {
    let today = now.to_zoned_datetime(jiff::tz::TimeZone::UTC).date();
    policy
        .rules
        .iter()
        .filter(|r| r.usage.is_some() && rule_matches(r, identity, method))
        .map(|rule| {
            let mut f = Finding {
                finding_id: finding_id(org_id, &identity.id, method, &rule.id),
                identity_id: identity.id.clone(),
                identity_name: identity.name.clone(),
                auth_method: method.clone(),
                rule: rule.id.clone(),
                severity: rule.severity,
                status: Status::Pass,
                violations: Vec::new(),
                exemption: None,
                error: None,
                remediation: None,
            };
            match judge(rule, identity, now) {
                Verdict::Pass => f.status = Status::Pass,
                Verdict::Error(reason) => {
                    f.status = Status::Error;
                    f.error = Some(reason);
                }
                Verdict::Fail(violation) => {
                    f.violations = vec![violation];
                    f.remediation = Some(Remediation::manual(STALE_REASON));
                    f.status = match exemption_for(policy, identity, &rule.id, today) {
                        Some(e) => {
                            f.exemption = Some(AppliedExemption {
                                reason: e.reason.clone(),
                                owner: e.owner.clone(),
                                expires: e.expires.to_string(),
                            });
                            Status::Exempt
                        }
                        None => Status::Fail,
                    };
                }
            }
            f
        })
        .collect()
}

enum Verdict {
    Pass,
    Fail(Violation),
    Error(String),
}

fn judge(rule: &Rule, identity: &Identity, now: Timestamp) -> Verdict {
    let Some(check) = &rule.usage else {
        return Verdict::Pass;
    };
    let max_idle = SignedDuration::from_secs(i64::try_from(check.max_idle).unwrap_or(i64::MAX));
    let expected = format!("within {}", format_duration(check.max_idle));
    let (since, observed) = match &identity.usage.last_login {
        LastLogin::NotReported => return Verdict::Error(NOT_REPORTED_REASON.to_owned()),
        LastLogin::At { time, method } => (
            *time,
            match method {
                Some(m) => format!("last login {time} ({m})"),
                None => format!("last login {time}"),
            },
        ),
        LastLogin::Never => match identity.usage.created_at {
            Some(created) => (created, format!("never logged in (added {created})")),
            None => {
                return Verdict::Error(
                    "never logged in, and the listing does not say when it was added".to_owned(),
                );
            }
        },
    };
    let idle = now.duration_since(since);
    if idle <= max_idle {
        return Verdict::Pass;
    }
    let days = idle.as_secs() / 86_400;
    Verdict::Fail(Violation {
        check: CheckCode::MaxIdle,
        field: "lastLoginTime".to_owned(),
        message: format!(
            "{observed}: idle for {days} days, more than {}",
            format_duration(check.max_idle)
        ),
        observed,
        expected,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{IdentityScope, Usage};

    fn policy() -> Policy {
        crate::policy::parse(
            "version: 1\nrules:\n  - id: stale\n    severity: low\n    usage: { max_idle: 90d }\n\
             exemptions:\n  - identity: break-glass\n    rules: [stale]\n    reason: kept for emergencies\n    expires: 2030-01-01\n",
            "p.yaml",
        )
        .unwrap()
    }

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn identity(name: &str, created: Option<&str>, last_login: LastLogin) -> Identity {
        Identity {
            id: format!("id-{name}"),
            name: name.into(),
            auth_methods: vec![AuthMethod::Universal],
            scope: IdentityScope::Organization,
            usage: Usage {
                created_at: created.map(at),
                last_login,
            },
        }
    }

    fn status(identity: &Identity) -> (Status, Option<String>) {
        let f = usage_findings(
            &policy(),
            "org",
            identity,
            &AuthMethod::Universal,
            at("2026-12-05T12:00:00Z"),
        );
        assert_eq!(f.len(), 1);
        (
            f[0].status,
            f[0].violations.first().map(|v| v.observed.clone()),
        )
    }

    fn login(time: &str) -> LastLogin {
        LastLogin::At {
            time: at(time),
            method: Some(AuthMethod::Aws),
        }
    }

    /// Logged in 200 days ago or never since two years ago: fail; added five days ago or
    /// logged in yesterday: pass; a listing without last logins: error; exemptions apply.
    #[test]
    fn idle_identities_fail_and_fresh_ones_pass() {
        let (s, observed) = status(&identity("old", None, login("2026-05-19T12:00:00Z")));
        assert_eq!(s, Status::Fail);
        assert_eq!(
            observed.as_deref(),
            Some("last login 2026-05-19T12:00:00Z (aws-auth)")
        );
        let (s, observed) = status(&identity(
            "unused",
            Some("2024-12-05T00:00:00Z"),
            LastLogin::Never,
        ));
        assert_eq!(s, Status::Fail);
        assert_eq!(
            observed.as_deref(),
            Some("never logged in (added 2024-12-05T00:00:00Z)")
        );
        let new = identity("new", Some("2026-11-30T00:00:00Z"), LastLogin::Never);
        assert_eq!(status(&new).0, Status::Pass);
        let busy = identity("busy", None, login("2026-12-04T12:00:00Z"));
        assert_eq!(status(&busy).0, Status::Pass);
        let edge = identity("edge", None, login("2026-09-06T12:00:00Z"));
        assert_eq!(
            status(&edge).0,
            Status::Pass,
            "exactly 90 days is within 90d"
        );
        let old_server = identity("x", Some("2020-01-01T00:00:00Z"), LastLogin::NotReported);
        let f = usage_findings(
            &policy(),
            "org",
            &old_server,
            &AuthMethod::Universal,
            at("2026-12-05T12:00:00Z"),
        );
        assert_eq!(f[0].status, Status::Error);
        assert_eq!(f[0].error.as_deref(), Some(NOT_REPORTED_REASON));
        let unknown_age = identity("y", None, LastLogin::Never);
        assert_eq!(status(&unknown_age).0, Status::Error);
        let exempt = identity("break-glass", None, login("2025-01-01T00:00:00Z"));
        assert_eq!(status(&exempt).0, Status::Exempt);
    }

    /// A failing result is manual, names the field and the bound.
    #[test]
    fn stale_results_are_manual() {
        let f = usage_findings(
            &policy(),
            "org",
            &identity("old", None, login("2026-05-19T12:00:00Z")),
            &AuthMethod::Universal,
            at("2026-12-05T12:00:00Z"),
        );
        let v = &f[0].violations[0];
        assert_eq!(v.check, CheckCode::MaxIdle);
        assert_eq!(v.expected, "within 90d");
        assert!(v.message.contains("idle for 200 days"), "{}", v.message);
        assert_eq!(f[0].remediation, Some(Remediation::manual(STALE_REASON)));
    }
}
