//! Pure evaluation: a validated [`Policy`] applied to one auth config of one identity gives one
//! [`Finding`] per applicable rule, in rule order, with its violations, exemption and
//! remediation. Also [`plan_config`], which merges every fixable failing rule of one config into
//! a single change set for the remediation engine.
//!
//! No I/O and no clock here: `today` (UTC) is passed in. The checks live in [`token`],
//! [`network`] and [`allowlist`]; this module decides which rules apply and assembles results.

mod allowlist;
mod network;
mod part;
mod token;
mod usage;

use jiff::civil::Date;
use serde_json::{Map, Value};

use crate::finding::{AppliedExemption, Finding, FindingIds, Remediation, Status, finding_id};
use crate::model::{AuthConfig, AuthMethod, Identity, TrustedIp};
use crate::pattern::Pattern;
use crate::policy::{Exemption, Policy, Rule};
use part::Part;

pub use allowlist::{entries as allowlist_entries, field_entries as allowlist_field_entries};
pub use usage::{NOT_REPORTED_REASON, STALE_REASON, usage_findings};

/// Whether `rule.applies_to` covers this identity and method (before looking at checks).
pub fn rule_matches(rule: &Rule, identity: &Identity, method: &AuthMethod) -> bool {
    let a = &rule.applies_to;
    if let Some(methods) = &a.auth_methods
        && !methods.contains(method)
    {
        return false;
    }
    let hit = |p: &Pattern| p.matches(&identity.name) || p.as_str() == identity.id;
    if let Some(ids) = &a.identities
        && !ids.iter().any(hit)
    {
        return false;
    }
    !a.exclude_identities.iter().any(hit)
}

/// Whether some check of the rule can apply to `method` at all (used for `error` results,
/// when no config could be read). `allow_periodic` counts for every method, since any GET may
/// carry `accessTokenPeriod`.
pub fn rule_could_apply(rule: &Rule, method: &AuthMethod) -> bool {
    rule.access_token.as_ref().is_some_and(|a| !a.is_empty())
        || rule
            .trusted_ips
            .as_ref()
            .is_some_and(|t| network::could_apply(t, method))
        || rule
            .allowlists
            .iter()
            .any(|a| method.allowlist_fields().contains(&a.field.as_str()))
}

/// The unexpired exemption covering this identity and rule, if any: `identity` equals the id
/// or the name, `rules` is absent or names the rule, and `today < expires`.
pub fn exemption_for<'p>(
    policy: &'p Policy,
    identity: &Identity,
    rule_id: &str,
    today: Date,
) -> Option<&'p Exemption> {
    policy.exemptions.iter().find(|e| {
        (e.identity == identity.id || (!e.name_shared && e.identity == identity.name))
            && e.rules
                .as_ref()
                .is_none_or(|r| r.iter().any(|id| id == rule_id))
            && today < e.expires
    })
}

/// The parts of `rule` that apply to `config`; empty when none does.
fn parts(rule: &Rule, config: &AuthConfig) -> Vec<Part> {
    let mut out = Vec::new();
    if let Some(a) = &rule.access_token
        && (a.max_ttl.is_some()
            || a.max_max_ttl.is_some()
            || a.max_uses.is_some()
            || (a.allow_periodic.is_some() && config.access_token_period.is_some()))
    {
        out.push(token::check(a, config));
    }
    if let Some(t) = &rule.trusted_ips
        && let Some(p) = network::check(t, config)
    {
        out.push(p);
    }
    out.extend(
        rule.allowlists
            .iter()
            .filter_map(|a| allowlist::check(a, config)),
    );
    out
}

/// Why a failing rule whose fix another rule's fix undoes is left to a person.
pub const CONFLICT_REASON: &str = "the fixes of this policy's rules conflict on this config (no \
value satisfies them all); change it by hand";

/// Why a config of an auth method idguard does not know is never patched automatically.
pub const UNKNOWN_METHOD_REASON: &str =
    "idguard does not know which fields this method resets on PATCH; change it by hand";

/// The remediation of a failing rule: every failing part's fragment merged, or manual when
/// any failing part cannot be fixed automatically (or the method is unknown: a PATCH of it
/// could reset fields idguard does not know to resend).
fn remediation(method: &AuthMethod, parts: &[Part]) -> Remediation {
    if !method.is_known() {
        return Remediation::manual(UNKNOWN_METHOD_REASON);
    }
    let mut patch = Map::new();
    let mut manual = Vec::new();
    for p in parts.iter().filter(|p| !p.violations.is_empty()) {
        match &p.fix {
            Ok(fragment) => patch.extend(fragment.clone()),
            Err(reason) => manual.push(reason.clone()),
        }
    }
    if manual.is_empty() {
        Remediation::auto(patch)
    } else {
        Remediation::manual(manual.join("; "))
    }
}

/// Evaluates every rule on one config of one identity; one finding per applicable rule, in
/// rule order.
pub fn evaluate(
    policy: &Policy,
    org_id: &str,
    identity: &Identity,
    config: &AuthConfig,
    today: Date,
) -> Vec<Finding> {
    let mut out = Vec::with_capacity(policy.rules.len());
    evaluate_into(policy, org_id, identity, config, today, &mut out);
    out
}

/// [`evaluate`] into `out`, replacing what it held: the findings already there are overwritten
/// in place, so an audit that passes the same `Vec` for every config reuses their strings
/// instead of allocating new ones for every result.
pub fn evaluate_into(
    policy: &Policy,
    org_id: &str,
    identity: &Identity,
    config: &AuthConfig,
    today: Date,
    out: &mut Vec<Finding>,
) {
    let ids = FindingIds::new(org_id, &identity.id, &config.method);
    let mut n = 0;
    for rule in &policy.rules {
        if !rule_matches(rule, identity, &config.method) {
            continue;
        }
        let parts = parts(rule, config);
        if parts.is_empty() {
            continue;
        }
        let violations: Vec<_> = parts
            .iter()
            .flat_map(|p| p.violations.iter().cloned())
            .collect();
        let (status, exemption, remediation) = if violations.is_empty() {
            (Status::Pass, None, None)
        } else {
            let fix = Some(remediation(&config.method, &parts));
            match exemption_for(policy, identity, &rule.id, today) {
                Some(e) => (
                    Status::Exempt,
                    Some(AppliedExemption {
                        reason: e.reason.clone(),
                        owner: e.owner.clone(),
                        expires: e.expires.to_string(),
                    }),
                    fix,
                ),
                None => (Status::Fail, None, fix),
            }
        };
        if n == out.len() {
            out.push(Finding {
                finding_id: String::new(),
                identity_id: String::new(),
                identity_name: String::new(),
                auth_method: config.method.clone(),
                rule: String::new(),
                severity: rule.severity,
                status,
                violations: Vec::new(),
                exemption: None,
                error: None,
                remediation: None,
            });
        }
        let f = &mut out[n];
        ids.write_for_rule(&rule.id, &mut f.finding_id);
        f.identity_id.clone_from(&identity.id);
        f.identity_name.clone_from(&identity.name);
        f.auth_method.clone_from(&config.method);
        f.rule.clone_from(&rule.id);
        f.severity = rule.severity;
        f.status = status;
        f.violations = violations;
        f.exemption = exemption;
        f.error = None;
        f.remediation = remediation;
        n += 1;
    }
    out.truncate(n);
}

/// One `error` finding for every rule that could apply to `method` on this identity (its
/// config could not be read). Never exempt, never remediated.
pub fn error_findings(
    policy: &Policy,
    org_id: &str,
    identity: &Identity,
    method: &AuthMethod,
    error: &str,
) -> Vec<Finding> {
    policy
        .rules
        .iter()
        .filter(|r| rule_matches(r, identity, method) && rule_could_apply(r, method))
        .map(|rule| Finding {
            finding_id: finding_id(org_id, &identity.id, method, &rule.id),
            identity_id: identity.id.clone(),
            identity_name: identity.name.clone(),
            auth_method: method.clone(),
            rule: rule.id.clone(),
            severity: rule.severity,
            status: Status::Error,
            violations: Vec::new(),
            exemption: None,
            error: Some(error.to_owned()),
            remediation: None,
        })
        .collect()
}

/// Every change one config needs: the merged PATCH fields (request encoding), the rules they
/// fix, and the failing rules that need a human.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ConfigChange {
    /// Field → new value. `accessTokenTTL` and `accessTokenMaxTTL` appear together or not at
    /// all. Empty when nothing can be fixed automatically.
    pub patch: Map<String, Value>,
    /// Ids of the rules whose fixes are in `patch`, in the order they were applied.
    pub rules_fixed: Vec<String>,
    /// Failing, unexempted rules that are not auto-remediable, with the reason.
    pub manual: Vec<(String, String)>,
}

impl ConfigChange {
    /// Whether there is nothing to write.
    pub fn is_empty(&self) -> bool {
        self.patch.is_empty()
    }
}

/// The config as it would be after `patch` (request encoding) is applied.
fn apply_patch(config: &AuthConfig, patch: &Map<String, Value>) -> AuthConfig {
    let mut next = config.clone();
    for (key, value) in patch {
        let n = value.as_u64();
        match key.as_str() {
            "accessTokenTTL" => next.access_token_ttl = n.unwrap_or(next.access_token_ttl),
            "accessTokenMaxTTL" => {
                next.access_token_max_ttl = n.unwrap_or(next.access_token_max_ttl)
            }
            "accessTokenNumUsesLimit" => {
                next.access_token_num_uses_limit = n.unwrap_or(next.access_token_num_uses_limit)
            }
            "accessTokenPeriod" => next.access_token_period = n.or(next.access_token_period),
            "accessTokenTrustedIps" | "clientSecretTrustedIps" => {
                let ips: Option<Vec<TrustedIp>> = value
                    .as_array()
                    .and_then(|items| items.iter().map(|i| TrustedIp::from_json(i).ok()).collect());
                if key == "accessTokenTrustedIps" {
                    next.access_token_trusted_ips = ips.or(next.access_token_trusted_ips);
                } else {
                    next.client_secret_trusted_ips = ips.or(next.client_secret_trusted_ips);
                }
            }
            _ => {}
        }
        next.set_field(key.clone(), value.clone());
    }
    next
}

/// Merges every failing, unexempted, auto-remediable rule of ONE config into a single change
/// set. Rules are applied one after another to the config as each fix leaves it, so TTLs take
/// the tightest value, a removed period stays removed, IP lists are narrowed by every rule and
/// allowlists lose every disallowed entry; passes repeat until nothing changes. Afterwards the
/// TTL is at most a finite MaxTTL.
pub fn plan_config(
    policy: &Policy,
    identity: &Identity,
    config: &AuthConfig,
    today: Date,
) -> ConfigChange {
    plan_config_held(policy, identity, config, today, &Holds::new())
}

/// Fields a plan must not change, each with the reason (e.g. usage evidence shows an address
/// in use that a narrowed trusted-IP list would cut off).
pub type Holds = std::collections::BTreeMap<String, String>;

/// [`plan_config`], except that a rule whose fix would change a held field is not fixed: it is
/// left manual with the hold's reason. Holding a field only ever writes less.
pub fn plan_config_held(
    policy: &Policy,
    identity: &Identity,
    config: &AuthConfig,
    today: Date,
    holds: &Holds,
) -> ConfigChange {
    let held = |patch: &Map<String, Value>| -> Option<String> {
        let reasons: Vec<&str> = patch
            .keys()
            .filter_map(|k| holds.get(k).map(String::as_str))
            .collect();
        (!reasons.is_empty()).then(|| reasons.join("; "))
    };
    let mut state = config.clone();
    let mut touched: Vec<String> = Vec::new();
    let mut fixed: Vec<String> = Vec::new();
    let active: Vec<&Rule> = policy
        .rules
        .iter()
        .filter(|r| {
            rule_matches(r, identity, &config.method)
                && exemption_for(policy, identity, &r.id, today).is_none()
        })
        .collect();
    for _pass in 0..=active.len() {
        let mut changed = false;
        for rule in &active {
            let parts = parts(rule, &state);
            if parts.iter().all(|p| p.violations.is_empty()) {
                continue;
            }
            let Remediation::Auto { patch, .. } = remediation(&config.method, &parts) else {
                continue;
            };
            if held(&patch).is_some() {
                continue;
            }
            let next = apply_patch(&state, &patch);
            if next == state {
                continue;
            }
            for key in patch.keys() {
                if !touched.contains(key) {
                    touched.push(key.clone());
                }
            }
            if !fixed.contains(&rule.id) {
                fixed.push(rule.id.clone());
            }
            state = next;
            changed = true;
        }
        if !changed {
            break;
        }
    }
    // The final TTL never exceeds a finite MaxTTL.
    let ttl_touched = touched
        .iter()
        .any(|k| k == "accessTokenTTL" || k == "accessTokenMaxTTL");
    if ttl_touched
        && state.access_token_max_ttl != 0
        && (state.access_token_ttl == 0 || state.access_token_ttl > state.access_token_max_ttl)
    {
        state.access_token_ttl = state.access_token_max_ttl;
    }
    let mut patch = Map::new();
    for key in &touched {
        let value = match key.as_str() {
            "accessTokenTTL" | "accessTokenMaxTTL" => continue,
            "accessTokenNumUsesLimit" => Value::from(state.access_token_num_uses_limit),
            "accessTokenPeriod" => Value::from(state.access_token_period.unwrap_or(0)),
            "accessTokenTrustedIps" | "clientSecretTrustedIps" => Value::Array(
                state
                    .trusted_ips(key)
                    .unwrap_or_default()
                    .iter()
                    .map(TrustedIp::to_request_json)
                    .collect(),
            ),
            _ => state.field(key).cloned().unwrap_or(Value::Null),
        };
        patch.insert(key.clone(), value);
    }
    if ttl_touched {
        patch.insert("accessTokenTTL".into(), Value::from(state.access_token_ttl));
        patch.insert(
            "accessTokenMaxTTL".into(),
            Value::from(state.access_token_max_ttl),
        );
    }
    // A rule still failing on the final state needs a human: its fix is manual, or the fixes
    // of several rules conflict (no value satisfies them all). It is not claimed as fixed.
    let failing = |on: &AuthConfig| -> Vec<(String, String)> {
        active
            .iter()
            .filter_map(|rule| {
                let parts = parts(rule, on);
                if parts.iter().all(|p| p.violations.is_empty()) {
                    return None;
                }
                let reason = match remediation(&config.method, &parts) {
                    Remediation::Manual { reason, .. } => reason,
                    Remediation::Auto { patch, .. } => {
                        held(&patch).unwrap_or_else(|| CONFLICT_REASON.to_owned())
                    }
                };
                Some((rule.id.clone(), reason))
            })
            .collect()
    };
    let manual = failing(&state);
    let before = failing(config);
    if manual
        .iter()
        .any(|(rule, _)| !before.iter().any(|(r, _)| r == rule))
    {
        // The fixes would break a rule that passes today: write nothing, leave it to a person.
        let manual = before
            .into_iter()
            .map(|(rule, own)| match own.as_str() {
                CONFLICT_REASON => (rule, own),
                _ if manual.iter().any(|(r, _)| *r == rule) => (rule, own),
                _ => (rule, CONFLICT_REASON.to_owned()),
            })
            .collect();
        return ConfigChange {
            patch: Map::new(),
            rules_fixed: Vec::new(),
            manual,
        };
    }
    fixed.retain(|id| !manual.iter().any(|(rule, _)| rule == id));
    if fixed.is_empty() {
        patch.clear();
    }
    ConfigChange {
        patch,
        rules_fixed: fixed,
        manual,
    }
}

#[cfg(test)]
mod tests;
