//! Re-checking a plan before anything is written. A plan is a file people review, edit, merge
//! and copy around, so `apply` trusts none of its changes: each one must be exactly what the
//! planning code computes, with the plan's policy, from the config state the change records
//! (`planned_from`). A plan edited in any way (a looser TTL, a wider CIDR, an extra allowlist
//! entry, a change pointed at another identity, a field no rule governs) is refused as a whole,
//! every offending change named.
//!
//! Pure: no I/O and no clock (`today` is passed in). Whether the live config still holds
//! `planned_from` is checked at write time, by `apply`.

use std::collections::BTreeSet;
use std::fmt;

use jiff::civil::Date;
use serde_json::{Map, Value};

use super::patch_body;
use super::plan::{self, Plan, PlannedChange};
use crate::display::safe;
use crate::evaluate;
use crate::model::{AuthConfig, AuthMethod, Identity, IdentityScope};
use crate::policy::Policy;

/// One planned change that is not what the policy computes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offence {
    /// 1-based position in the plan's `changes`.
    pub position: usize,
    pub identity_id: String,
    pub identity_name: String,
    pub auth_method: String,
    /// What is wrong, for a person.
    pub problem: String,
}

impl fmt::Display for Offence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "change {} ({} {}, {}): {}",
            self.position,
            safe(&self.identity_id),
            safe(&self.identity_name),
            safe(&self.auth_method),
            safe(&self.problem)
        )
    }
}

/// Every change of `plan` that differs from what `policy` computes from its `planned_from`
/// (empty: the plan may be applied).
pub fn recheck(plan: &Plan, policy: &Policy, today: Date) -> Vec<Offence> {
    let policy = &policy.with_shared_names(&plan.shared_exemption_names);
    let mut offences = Vec::new();
    let mut seen = BTreeSet::new();
    for (i, change) in plan.changes.iter().enumerate() {
        let offence = |problem: String| Offence {
            position: i + 1,
            identity_id: change.identity_id.clone(),
            identity_name: change.identity_name.clone(),
            auth_method: change.auth_method.clone(),
            problem,
        };
        if !seen.insert((change.identity_id.as_str(), change.auth_method.as_str())) {
            offences.push(offence("a second change for the same config".into()));
            continue;
        }
        let problems = problems(&plan.org_id, change, policy, today);
        if !problems.is_empty() {
            offences.push(offence(problems.join("; ")));
        }
    }
    offences
}

/// What is wrong with one change (empty: nothing).
fn problems(org_id: &str, change: &PlannedChange, policy: &Policy, today: Date) -> Vec<String> {
    let Some(method) = AuthMethod::parse_known(&change.auth_method) else {
        return vec![format!("{}", evaluate::UNKNOWN_METHOD_REASON)];
    };
    if change.change_id != plan::change_id(org_id, &change.identity_id, method.as_str()) {
        return vec![
            "its change_id does not belong to this organization, identity and method".into(),
        ];
    }
    let governed = governed_fields(policy, &method);
    let ungoverned: Vec<&str> = change
        .after
        .keys()
        .map(String::as_str)
        .filter(|f| !governed.contains(f))
        .collect();
    if !ungoverned.is_empty() {
        return vec![format!(
            "changes {}, which no rule of the policy governs",
            quoted(&ungoverned)
        )];
    }
    let config = match AuthConfig::from_fields(method.clone(), change.planned_from.clone()) {
        Ok(config) => config,
        Err(e) => return vec![format!("`planned_from` is not a config: {e}")],
    };
    let identity = Identity {
        id: change.identity_id.clone(),
        name: change.identity_name.clone(),
        auth_methods: vec![method.clone()],
        scope: IdentityScope::Organization,
        usage: Default::default(),
    };
    let expected = evaluate::plan_config_held(policy, &identity, &config, today, &change.held);
    let mut problems = Vec::new();
    let fields: BTreeSet<&String> = change.after.keys().chain(expected.patch.keys()).collect();
    for field in fields {
        let planned = change.after.get(field.as_str());
        let computed = expected.patch.get(field.as_str());
        if planned != computed {
            problems.push(format!(
                "`{field}`: the plan writes {}, the policy computes {}",
                shown(planned),
                shown(computed)
            ));
        }
    }
    let fixed: BTreeSet<&String> = change.rules_fixed.iter().collect();
    let computed_fixed: BTreeSet<&String> = expected.rules_fixed.iter().collect();
    if fixed != computed_fixed {
        problems.push(format!(
            "fixes rules [{}], the policy computes [{}]",
            join(&fixed),
            join(&computed_fixed)
        ));
    }
    let before: Map<String, Value> = change
        .after
        .keys()
        .map(|k| (k.clone(), plan::request_value(&config, k)))
        .collect();
    if before != change.before {
        problems.push("its `before` values are not those of `planned_from`".into());
    }
    problems.extend(body_problems(change, &method, &config));
    problems
}

/// The recorded PATCH body: the intended values, the TTL partner as planned from, and
/// otherwise only the fields the method's PATCH must resend (their values come from the live
/// config at write time and are compared there).
fn body_problems(change: &PlannedChange, method: &AuthMethod, config: &AuthConfig) -> Vec<String> {
    let resent = patch_body::resent_fields(method);
    let intended = patch_body::redacted(&change.after);
    let mut problems = Vec::new();
    for (field, value) in &change.patch {
        let expected = match intended.get(field) {
            Some(v) => Some(v.clone()),
            None if field == "accessTokenTTL" || field == "accessTokenMaxTTL" => {
                Some(plan::request_value(config, field))
            }
            None if resent.contains(&field.as_str()) => continue,
            None => None,
        };
        if expected.as_ref() != Some(value) {
            problems.push(format!(
                "its PATCH body sends `{field}` = {value}, which the change does not plan"
            ));
        }
    }
    for field in change.after.keys() {
        if !change.patch.contains_key(field) {
            problems.push(format!("its PATCH body leaves out `{field}`"));
        }
    }
    problems
}

/// The fields some rule of `policy` that can apply to `method` judges (and so may change).
pub fn governed_fields(policy: &Policy, method: &AuthMethod) -> BTreeSet<&'static str> {
    let mut out = BTreeSet::new();
    for rule in &policy.rules {
        if rule
            .applies_to
            .auth_methods
            .as_ref()
            .is_some_and(|m| !m.contains(method))
        {
            continue;
        }
        if rule.access_token.as_ref().is_some_and(|a| !a.is_empty()) {
            out.extend(plan::TOKEN_FIELDS);
        }
        if let Some(t) = &rule.trusted_ips {
            out.extend(t.fields.iter().map(|f| f.as_str()));
        }
        for a in &rule.allowlists {
            if let Some(f) = method
                .allowlist_fields()
                .iter()
                .find(|f| **f == a.field.as_str())
            {
                out.insert(*f);
            }
        }
    }
    out
}

fn shown(v: Option<&Value>) -> String {
    match v {
        None => "nothing".into(),
        Some(v) => {
            let text = v.to_string();
            if text.chars().count() > 200 {
                format!("{}…", text.chars().take(200).collect::<String>())
            } else {
                text
            }
        }
    }
}

fn quoted(fields: &[&str]) -> String {
    fields
        .iter()
        .map(|f| format!("`{f}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn join(set: &BTreeSet<&String>) -> String {
    set.iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests;
