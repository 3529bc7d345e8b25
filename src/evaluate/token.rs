//! The `access_token` checks (effective TTL, effective max TTL, uses, periodic tokens) and
//! their remediation, exactly as docs/policy.md defines them: zeros mean unlimited and always
//! violate a maximum; a periodic token's TTL is its period and its max TTL is unlimited.

use serde_json::{Map, Value};

use super::part::Part;
use crate::finding::{CheckCode, Violation};
use crate::model::AuthConfig;
use crate::policy::{AccessTokenCheck, format_seconds};

/// A lifetime that may be unlimited; `Unlimited` is greater than every finite value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Life {
    Finite(u64),
    Unlimited,
}

/// The period when the config has one (> 0).
fn period(cfg: &AuthConfig) -> u64 {
    cfg.access_token_period.unwrap_or(0)
}

/// `accessTokenPeriod` if > 0; else unlimited if `accessTokenTTL` is 0; else the TTL.
pub(crate) fn effective_ttl(cfg: &AuthConfig) -> Life {
    match (period(cfg), cfg.access_token_ttl) {
        (p, _) if p > 0 => Life::Finite(p),
        (_, 0) => Life::Unlimited,
        (_, t) => Life::Finite(t),
    }
}

/// Unlimited if `accessTokenMaxTTL` is 0 or the token is periodic; else the max TTL.
pub(crate) fn effective_max_ttl(cfg: &AuthConfig) -> Life {
    if cfg.access_token_max_ttl == 0 || period(cfg) > 0 {
        Life::Unlimited
    } else {
        Life::Finite(cfg.access_token_max_ttl)
    }
}

fn exceeds(life: Life, bound: u64) -> bool {
    life > Life::Finite(bound)
}

/// Judges the access-token checks on one config (they apply to every method).
pub(crate) fn check(rule: &AccessTokenCheck, cfg: &AuthConfig) -> Part {
    let mut violations = Vec::new();
    let p = period(cfg);
    if let Some(max) = rule.max_ttl {
        let eff = effective_ttl(cfg);
        if exceeds(eff, max) {
            let field = if p > 0 {
                "accessTokenPeriod"
            } else {
                "accessTokenTTL"
            };
            let observed = match eff {
                Life::Unlimited => "0 (unlimited)".to_owned(),
                Life::Finite(_) if p > 0 => format!("periodic, period {}", format_seconds(p)),
                Life::Finite(t) => format_seconds(t),
            };
            violations.push(Violation {
                check: CheckCode::MaxTtl,
                field: field.to_owned(),
                message: format!(
                    "the token lifetime ({observed}) is longer than the rule's max_ttl ({})",
                    format_seconds(max)
                ),
                observed,
                expected: format!("<= {}", format_seconds(max)),
            });
        }
    }
    let periodic_accepted = p > 0 && rule.allow_periodic == Some(true);
    if let Some(max) = rule.max_max_ttl
        && !periodic_accepted
    {
        let eff = effective_max_ttl(cfg);
        if exceeds(eff, max) {
            let observed = if p > 0 {
                format!("periodic (period {}; renews forever)", format_seconds(p))
            } else if cfg.access_token_max_ttl == 0 {
                "0 (unlimited)".to_owned()
            } else {
                format_seconds(cfg.access_token_max_ttl)
            };
            violations.push(Violation {
                check: CheckCode::MaxMaxTtl,
                field: "accessTokenMaxTTL".to_owned(),
                message: format!(
                    "tokens can be renewed for longer ({observed}) than the rule's max_max_ttl ({})",
                    format_seconds(max)
                ),
                observed,
                expected: format!("<= {}", format_seconds(max)),
            });
        }
    }
    if let Some(max) = rule.max_uses {
        let uses = cfg.access_token_num_uses_limit;
        if uses == 0 || uses > max {
            let observed = if uses == 0 {
                "0 (unlimited)".to_owned()
            } else {
                uses.to_string()
            };
            violations.push(Violation {
                check: CheckCode::MaxUses,
                field: "accessTokenNumUsesLimit".to_owned(),
                message: format!(
                    "a token may be used {observed} times; the rule allows at most {max}"
                ),
                observed,
                expected: format!("<= {max}"),
            });
        }
    }
    if rule.allow_periodic == Some(false) && cfg.access_token_period.is_some() && p > 0 {
        violations.push(Violation {
            check: CheckCode::AllowPeriodic,
            field: "accessTokenPeriod".to_owned(),
            observed: format_seconds(p),
            expected: "0 (no periodic tokens)".to_owned(),
            message: format!(
                "tokens are periodic (period {}) and renew forever; the rule forbids periodic tokens",
                format_seconds(p)
            ),
        });
    }
    let fix = if violations.is_empty() {
        Ok(Map::new())
    } else {
        remediate(rule, cfg, &violations)
    };
    Part { violations, fix }
}

/// `min(value, bound)` with 0 counting as unlimited; no bound keeps the value.
fn tighten(value: u64, bound: Option<u64>) -> u64 {
    match bound {
        Some(b) if value == 0 || value > b => b,
        _ => value,
    }
}

/// The PATCH fragment for the failing access-token checks (docs/remediation.md, "What a change may contain").
fn remediate(
    rule: &AccessTokenCheck,
    cfg: &AuthConfig,
    violations: &[Violation],
) -> Result<Map<String, Value>, String> {
    let mut patch = Map::new();
    let lifetime_failed = violations.iter().any(|v| {
        matches!(
            v.check,
            CheckCode::MaxTtl | CheckCode::MaxMaxTtl | CheckCode::AllowPeriodic
        )
    });
    if lifetime_failed {
        let p = period(cfg);
        let remove = p > 0
            && (rule.allow_periodic == Some(false)
                || (rule.max_max_ttl.is_some() && rule.allow_periodic != Some(true)));
        let new_period = if remove {
            0
        } else {
            match rule.max_ttl {
                Some(m) if p > m => m,
                _ => p,
            }
        };
        if new_period != p {
            if !cfg.method.has_settable_period() {
                return Err(format!(
                    "accessTokenPeriod can only be changed on universal-auth, not {}",
                    cfg.method
                ));
            }
            patch.insert("accessTokenPeriod".into(), Value::from(new_period));
        }
        let max = tighten(cfg.access_token_max_ttl, rule.max_max_ttl);
        let mut ttl = tighten(cfg.access_token_ttl, rule.max_ttl);
        if max != 0 && (ttl == 0 || ttl > max) {
            ttl = max;
        }
        patch.insert("accessTokenTTL".into(), Value::from(ttl));
        patch.insert("accessTokenMaxTTL".into(), Value::from(max));
    }
    if let Some(max) = rule.max_uses
        && violations.iter().any(|v| v.check == CheckCode::MaxUses)
    {
        patch.insert("accessTokenNumUsesLimit".into(), Value::from(max));
    }
    Ok(patch)
}
