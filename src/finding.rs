//! The result data every report format is written from: one [`Finding`] per
//! (identity, configured auth method, applicable rule), with its status, its violations
//! (each with a stable check code, observed and expected values) and the remediation it would
//! take.
//!
//! Produced by `evaluate` (pure) and by `audit` (for configs that could not be read); consumed
//! by `report`. No I/O here.

use std::fmt;

use serde::Serialize;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::model::AuthMethod;

/// Severity of a rule, ordered `Info < Low < Medium < High < Critical`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    /// Every severity, highest first.
    pub const ALL: [Severity; 5] = [
        Severity::Critical,
        Severity::High,
        Severity::Medium,
        Severity::Low,
        Severity::Info,
    ];

    /// Parses `critical | high | medium | low | info`.
    pub fn parse(text: &str) -> Option<Severity> {
        Severity::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// The lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Critical => "critical",
            Severity::High => "high",
            Severity::Medium => "medium",
            Severity::Low => "low",
            Severity::Info => "info",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Outcome of one rule on one config.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pass,
    Fail,
    /// The config could not be read; nothing was judged.
    Error,
    /// It fails, but an unexpired exemption covers it.
    Exempt,
}

impl Status {
    /// Every status, in report order.
    pub const ALL: [Status; 4] = [Status::Pass, Status::Fail, Status::Error, Status::Exempt];

    /// The lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Fail => "fail",
            Status::Error => "error",
            Status::Exempt => "exempt",
        }
    }
}

/// The stable code of one kind of check. Each code is documented in the README's policy
/// reference; the set is part of the report schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CheckCode {
    /// `access_token.max_ttl` against the effective TTL.
    MaxTtl,
    /// `access_token.max_max_ttl` against the effective max TTL.
    MaxMaxTtl,
    /// `access_token.max_uses` against `accessTokenNumUsesLimit`.
    MaxUses,
    /// `access_token.allow_periodic: false` against `accessTokenPeriod`.
    AllowPeriodic,
    /// `trusted_ips.allowed_cidrs` containment.
    TrustedIps,
    /// `allowlists[].required`: the list is null or empty.
    Required,
    /// `allowlists[].allowed`: an entry matches no pattern.
    Allowed,
    /// `usage.max_idle` against the last login (or the day the identity was added).
    MaxIdle,
}

impl CheckCode {
    /// Every code.
    pub const ALL: [CheckCode; 8] = [
        CheckCode::MaxTtl,
        CheckCode::MaxMaxTtl,
        CheckCode::MaxUses,
        CheckCode::AllowPeriodic,
        CheckCode::TrustedIps,
        CheckCode::Required,
        CheckCode::Allowed,
        CheckCode::MaxIdle,
    ];

    /// The kebab-case code used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            CheckCode::MaxTtl => "max-ttl",
            CheckCode::MaxMaxTtl => "max-max-ttl",
            CheckCode::MaxUses => "max-uses",
            CheckCode::AllowPeriodic => "allow-periodic",
            CheckCode::TrustedIps => "trusted-ips",
            CheckCode::Required => "required",
            CheckCode::Allowed => "allowed",
            CheckCode::MaxIdle => "max-idle",
        }
    }
}

/// One failed check: what was seen, what the rule expects, in words.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Violation {
    pub check: CheckCode,
    /// The Infisical field judged (`accessTokenTTL`, `allowedUsernames`, ...).
    pub field: String,
    pub observed: String,
    pub expected: String,
    pub message: String,
}

/// The exemption that turned a `fail` into `exempt`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AppliedExemption {
    pub reason: String,
    pub owner: Option<String>,
    /// `YYYY-MM-DD`; the exemption stops applying on that UTC day.
    pub expires: String,
}

/// What remediation would do for one failing result.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Remediation {
    /// A PATCH fragment (field → new value, in the request encoding) that fixes this rule.
    Auto {
        auto: AutoTrue,
        patch: Map<String, Value>,
    },
    /// Cannot be fixed automatically.
    Manual { auto: AutoFalse, reason: String },
}

impl Remediation {
    /// An automatic remediation with this PATCH fragment.
    pub fn auto(patch: Map<String, Value>) -> Remediation {
        Remediation::Auto {
            auto: AutoTrue,
            patch,
        }
    }

    /// A manual remediation with the reason it cannot be automatic.
    pub fn manual(reason: impl Into<String>) -> Remediation {
        Remediation::Manual {
            auto: AutoFalse,
            reason: reason.into(),
        }
    }
}

/// Serializes as `true` (so `remediation.auto` is a plain boolean in JSON).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AutoTrue;
/// Serializes as `false`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AutoFalse;

impl Serialize for AutoTrue {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bool(true)
    }
}
impl Serialize for AutoFalse {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bool(false)
    }
}

/// One result: a rule applied to one auth config of one identity.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    /// Stable hash of org, identity id, auth method and rule (see [`finding_id`]).
    pub finding_id: String,
    pub identity_id: String,
    pub identity_name: String,
    pub auth_method: AuthMethod,
    pub rule: String,
    pub severity: Severity,
    pub status: Status,
    pub violations: Vec<Violation>,
    pub exemption: Option<AppliedExemption>,
    /// Why the config could not be read (status `error`).
    pub error: Option<String>,
    /// Only for `fail` and `exempt`.
    pub remediation: Option<Remediation>,
}

/// The stable id of a finding: the first 16 bytes of SHA-256 over the org id, identity id,
/// auth method and rule id, hex-encoded. Stable across runs, so `diff` can key on it.
pub fn finding_id(org_id: &str, identity_id: &str, method: &AuthMethod, rule: &str) -> String {
    FindingIds::new(org_id, identity_id, method).for_rule(rule)
}

/// [`finding_id`] for several rules of one config: the hash of the common prefix (org,
/// identity, method) is computed once.
#[derive(Clone)]
pub struct FindingIds(Sha256);

impl FindingIds {
    /// The ids of the findings of one config.
    pub fn new(org_id: &str, identity_id: &str, method: &AuthMethod) -> FindingIds {
        let mut h = Sha256::new();
        for part in [org_id, identity_id, method.as_str()] {
            h.update(part.as_bytes());
            h.update([0u8]);
        }
        FindingIds(h)
    }

    /// The id of the finding of `rule`.
    pub fn for_rule(&self, rule: &str) -> String {
        let mut id = String::with_capacity(32);
        self.write_for_rule(rule, &mut id);
        id
    }

    /// [`FindingIds::for_rule`] into `id`.
    pub fn write_for_rule(&self, rule: &str, id: &mut String) {
        let mut h = self.0.clone();
        h.update(rule.as_bytes());
        h.update([0u8]);
        *id = hex::encode(&h.finalize()[..16]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn check_codes_are_unique_and_match_serde() {
        let codes: HashSet<_> = CheckCode::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(codes.len(), CheckCode::ALL.len());
        for c in CheckCode::ALL {
            assert_eq!(
                serde_json::to_value(c).expect("ser"),
                Value::String(c.as_str().into())
            );
        }
    }

    #[test]
    fn severity_orders_and_parses() {
        assert!(Severity::Critical > Severity::High && Severity::Low > Severity::Info);
        assert_eq!(Severity::parse("medium"), Some(Severity::Medium));
        assert_eq!(Severity::parse("Medium"), None);
    }

    #[test]
    fn finding_id_is_stable_and_separates_parts() {
        let a = finding_id("o", "i", &AuthMethod::Oci, "r");
        assert_eq!(a, finding_id("o", "i", &AuthMethod::Oci, "r"));
        assert_ne!(a, finding_id("o", "i", &AuthMethod::Aws, "r"));
        assert_ne!(
            finding_id("ab", "c", &AuthMethod::Oci, "r"),
            finding_id("a", "bc", &AuthMethod::Oci, "r")
        );
        assert_eq!(a.len(), 32);
        // The same id as earlier versions wrote (hex of the first 16 digest bytes), so `diff`
        // keeps matching results across versions.
        let mut h = Sha256::new();
        h.update(b"o\0i\0oci-auth\0r\0");
        assert_eq!(a, hex::encode(&h.finalize()[..16]));
    }

    #[test]
    fn remediation_serializes_auto_flag() {
        let r = Remediation::manual("no fallback");
        assert_eq!(
            serde_json::to_value(&r).expect("ser"),
            serde_json::json!({"auto": false, "reason": "no fallback"})
        );
    }
}
