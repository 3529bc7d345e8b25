//! The `trusted_ips` check: every entry of each judged field must lie inside an allowed CIDR,
//! by containment (never by string), with IPv4-mapped IPv6 entries judged as IPv4 and an IPv6
//! entry that admits every IPv4 caller (`::/0`) judged as both (see [`TrustedIp::admitted`]). Also its
//! remediation: intersect outside entries with the allowed CIDRs, drop duplicates, fall back
//! to `fallback_cidrs`, never propose an empty list.

use std::collections::HashSet;

use ipnet::IpNet;
use serde_json::{Map, Value};

use super::part::Part;
use crate::finding::{CheckCode, Violation};
use crate::model::{AuthConfig, AuthMethod, TrustedIp};
use crate::policy::{TrustedIpField, TrustedIpsCheck};

/// Whether `method` has the trusted-IP `field` (an unknown method: only if the config shows it).
pub(crate) fn method_has(
    method: &AuthMethod,
    field: TrustedIpField,
    cfg: Option<&AuthConfig>,
) -> bool {
    let known = match field {
        TrustedIpField::AccessToken => method.is_known(),
        TrustedIpField::ClientSecret => method.has_client_secret_trusted_ips(),
    };
    known
        || (!method.is_known()
            && match cfg {
                Some(c) => c.trusted_ips(field.as_str()).is_some(),
                None => true,
            })
}

/// Whether the rule's trusted-IP check could apply to a config of `method` (for `error` results).
pub(crate) fn could_apply(rule: &TrustedIpsCheck, method: &AuthMethod) -> bool {
    rule.fields.iter().any(|f| method_has(method, *f, None))
}

fn contains(outer: &IpNet, inner: &IpNet) -> bool {
    match (outer, inner) {
        (IpNet::V4(o), IpNet::V4(i)) => o.contains(i),
        (IpNet::V6(o), IpNet::V6(i)) => o.contains(i),
        _ => false,
    }
}

fn inside(allowed: &[IpNet], net: &IpNet) -> bool {
    allowed.iter().any(|a| contains(a, net))
}

/// Whether every caller `entry` admits lies inside the allowed CIDRs.
fn admits_only(allowed: &[IpNet], entry: &TrustedIp) -> bool {
    entry.admitted().iter().all(|net| inside(allowed, net))
}

/// How an entry is shown: as stored, plus the networks judged when they differ.
fn show(entry: &TrustedIp) -> String {
    let nets = entry.admitted();
    if nets.len() == 1 && nets[0].addr() == entry.address {
        entry.to_request_string()
    } else {
        format!(
            "{} (= {})",
            entry.to_request_string(),
            list(&nets).replace(", ", " + ")
        )
    }
}

fn list(nets: &[IpNet]) -> String {
    nets.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

fn as_entry(net: &IpNet) -> TrustedIp {
    TrustedIp {
        address: net.network(),
        prefix: Some(net.prefix_len()),
    }
}

/// Judges each field the method has; `None` when no judged field applies to this method.
pub(crate) fn check(rule: &TrustedIpsCheck, cfg: &AuthConfig) -> Option<Part> {
    let mut applied = false;
    let mut violations = Vec::new();
    let mut patch = Map::new();
    let mut manual = Vec::new();
    // Only a failing field shows it: built on first use.
    let mut expected_text: Option<String> = None;
    let mut expected = || -> String {
        expected_text
            .get_or_insert_with(|| format!("inside [{}]", list(&rule.allowed_cidrs)))
            .clone()
    };
    for field in &rule.fields {
        if !method_has(&cfg.method, *field, Some(cfg)) {
            continue;
        }
        applied = true;
        let name = field.as_str();
        let replacement = match cfg.trusted_ips(name) {
            None => {
                violations.push(Violation {
                    check: CheckCode::TrustedIps,
                    field: name.to_owned(),
                    observed: "(missing)".to_owned(),
                    expected: expected(),
                    message: format!("{name} is missing or null, so it restricts nothing"),
                });
                Vec::new()
            }
            Some(entries) => {
                if entries.iter().all(|e| admits_only(&rule.allowed_cidrs, e)) {
                    continue;
                }
                let outside: Vec<&TrustedIp> = entries
                    .iter()
                    .filter(|e| !admits_only(&rule.allowed_cidrs, e))
                    .collect();
                violations.push(Violation {
                    check: CheckCode::TrustedIps,
                    field: name.to_owned(),
                    observed: outside
                        .iter()
                        .map(|e| show(e))
                        .collect::<Vec<_>>()
                        .join(", "),
                    expected: expected(),
                    message: format!(
                        "{} of {} entries of {name} lie outside the allowed CIDRs",
                        outside.len(),
                        entries.len()
                    ),
                });
                narrowed(&rule.allowed_cidrs, entries)
            }
        };
        let replacement = if replacement.is_empty() {
            rule.fallback_cidrs.iter().map(as_entry).collect()
        } else {
            replacement
        };
        if replacement.is_empty() {
            manual.push(format!(
                "no entry of {name} lies inside the allowed CIDRs and the rule has no fallback_cidrs (Infisical rejects an empty list)"
            ));
        } else {
            patch.insert(
                name.to_owned(),
                Value::Array(replacement.iter().map(TrustedIp::to_request_json).collect()),
            );
        }
    }
    if !applied {
        return None;
    }
    let fix = if manual.is_empty() {
        Ok(patch)
    } else {
        Err(manual.join("; "))
    };
    Some(Part { violations, fix })
}

/// Entries inside stay as stored; each entry outside becomes the allowed CIDRs that lie inside
/// what it admits (nothing when they don't overlap); duplicates (same network) are dropped.
pub(crate) fn narrowed(allowed: &[IpNet], entries: &[TrustedIp]) -> Vec<TrustedIp> {
    let mut seen: HashSet<IpNet> = HashSet::new();
    let mut out = Vec::new();
    for entry in entries {
        let nets = entry.admitted();
        if nets.iter().all(|net| inside(allowed, net)) {
            if seen.insert(entry.network()) {
                out.push(entry.clone());
            }
        } else {
            for a in allowed {
                if nets.iter().any(|net| contains(net, a)) && seen.insert(*a) {
                    out.push(as_entry(a));
                }
            }
        }
    }
    out
}
