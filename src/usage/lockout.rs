//! Lockout-aware planning, the pure part: which trusted-IP narrowings a plan must hold back
//! because the usage evidence shows an address in use that the narrowed list would not admit.
//!
//! Every address seen within the window counts for both trusted-IP fields (a login from an
//! address is usually followed by token use from it): an address outside the new list of either
//! field holds that field. Evidence that could not be read holds every narrowing; evidence
//! that is unavailable for the whole run holds them only with `--require-usage-evidence`.

use ipnet::IpNet;
use serde_json::{Map, Value};

use crate::evaluate::Holds;
use crate::model::TrustedIp;

use super::evidence::{Evidence, Seen, Use};

/// The trusted-IP fields a plan can narrow.
pub const NARROWABLE: [&str; 2] = ["accessTokenTrustedIps", "clientSecretTrustedIps"];

/// Most addresses named in one reason; the rest are counted.
const NAMED: usize = 5;

/// What is known of one identity's use, for the narrowings of one config.
#[derive(Debug, Clone, PartialEq)]
pub enum Known {
    /// Read from the audit log.
    Evidence(Evidence),
    /// The audit log could not be read for this identity.
    Failed(String),
    /// No evidence in this run (the audit log is unavailable); `required` holds every
    /// narrowing.
    Unavailable { reason: String, required: bool },
}

/// The trusted-IP fields `patch` narrows (request encoding), with their new networks.
pub fn narrowed(patch: &Map<String, Value>) -> Vec<(&'static str, Vec<IpNet>)> {
    NARROWABLE
        .iter()
        .filter_map(|field| {
            let items = patch.get(*field)?.as_array()?;
            let nets = items
                .iter()
                .filter_map(|item| TrustedIp::from_json(item).ok())
                .flat_map(|ip| ip.admitted())
                .collect();
            Some((*field, nets))
        })
        .collect()
}

/// Most addresses report.json lists per result.
const LISTED: usize = 50;

/// The evidence as report.json shows it: `[{address, last_seen, use}]`, latest first.
pub fn evidence_json(evidence: &Evidence) -> Value {
    Value::Array(
        evidence
            .latest_first()
            .into_iter()
            .take(LISTED)
            .map(|(address, seen)| {
                serde_json::json!({
                    "address": address.to_string(),
                    "last_seen": seen.last_seen.to_string(),
                    "use": match seen.last_use { Use::Login => "login", Use::Token => "token" },
                })
            })
            .collect(),
    )
}

/// The holds for the narrowings of `patch` given what is known.
pub fn holds(patch: &Map<String, Value>, known: &Known) -> Holds {
    let mut out = Holds::new();
    for (field, nets) in narrowed(patch) {
        let reason = match known {
            Known::Evidence(evidence) => {
                let cut = evidence.outside(&nets);
                if cut.is_empty() {
                    continue;
                }
                cut_off_reason(field, &cut)
            }
            Known::Failed(why) => {
                format!("usage evidence could not be read ({why}); {field} is not narrowed blind")
            }
            Known::Unavailable { reason, required } => {
                if !required {
                    continue;
                }
                format!(
                    "usage evidence is unavailable ({reason}) and --require-usage-evidence is \
                     set; {field} is not narrowed"
                )
            }
        };
        out.insert(field.to_owned(), reason);
    }
    out
}

/// "in use from 203.0.113.7 (token, last seen 2026-12-02); narrowing accessTokenTrustedIps
/// would cut it off".
fn cut_off_reason(field: &str, cut: &[(&super::evidence::Address, &Seen)]) -> String {
    let named: Vec<String> = cut
        .iter()
        .take(NAMED)
        .map(|(address, seen)| {
            let how = match seen.last_use {
                Use::Login => "login",
                Use::Token => "token",
            };
            format!(
                "{address} ({how}, last seen {})",
                seen.last_seen
                    .to_zoned_datetime(jiff::tz::TimeZone::UTC)
                    .date()
            )
        })
        .collect();
    let more = match cut.len().saturating_sub(NAMED) {
        0 => String::new(),
        n => format!(" and {n} more"),
    };
    let them = if cut.len() == 1 { "it" } else { "them" };
    format!(
        "in use from {}{more}; narrowing {field} would cut {them} off",
        named.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::usage::evidence::Address;
    use serde_json::json;

    fn evidence(seen: &[(&str, &str, Use)]) -> Known {
        let mut e = Evidence::default();
        for (ip, at, how) in seen {
            e.saw(Address::parse(ip), at.parse().unwrap(), *how);
        }
        Known::Evidence(e)
    }

    fn patch() -> Map<String, Value> {
        json!({"accessTokenTrustedIps": [{"ipAddress": "10.0.0.0/8"}], "accessTokenTTL": 3600})
            .as_object()
            .cloned()
            .unwrap()
    }

    /// An address in use outside the new list holds the narrowing, named with when it was
    /// last seen; one inside does not.
    #[test]
    fn an_address_in_use_outside_holds_the_narrowing() {
        let known = evidence(&[
            ("203.0.113.7", "2026-12-02T10:00:00Z", Use::Token),
            ("10.1.2.3", "2026-12-04T10:00:00Z", Use::Token),
        ]);
        let h = holds(&patch(), &known);
        assert_eq!(
            h.get("accessTokenTrustedIps").map(String::as_str),
            Some(
                "in use from 203.0.113.7 (token, last seen 2026-12-02); narrowing \
                 accessTokenTrustedIps would cut it off"
            )
        );
        assert_eq!(h.len(), 1, "only trusted-IP fields are held");
        let inside = evidence(&[("10.1.2.3", "2026-12-04T10:00:00Z", Use::Login)]);
        assert!(holds(&patch(), &inside).is_empty());
        assert!(holds(&patch(), &evidence(&[])).is_empty());
    }

    /// Unreadable evidence holds every narrowing; unavailable evidence only when required.
    #[test]
    fn missing_evidence() {
        assert!(
            holds(&patch(), &Known::Failed("503".into())).contains_key("accessTokenTrustedIps")
        );
        let unavailable = |required| Known::Unavailable {
            reason: "empty".into(),
            required,
        };
        assert!(holds(&patch(), &unavailable(false)).is_empty());
        assert!(holds(&patch(), &unavailable(true)).contains_key("accessTokenTrustedIps"));
        let no_narrowing = json!({"accessTokenTTL": 3600})
            .as_object()
            .cloned()
            .unwrap();
        assert!(holds(&no_narrowing, &unavailable(true)).is_empty());
    }

    #[test]
    fn many_addresses_are_counted() {
        let seen: Vec<(String, &str, Use)> = (1..=7)
            .map(|i| (format!("203.0.113.{i}"), "2026-12-02T10:00:00Z", Use::Token))
            .collect();
        let seen: Vec<(&str, &str, Use)> =
            seen.iter().map(|(a, t, u)| (a.as_str(), *t, *u)).collect();
        let h = holds(&patch(), &evidence(&seen));
        let reason = &h["accessTokenTrustedIps"];
        assert!(reason.contains(" and 2 more; "), "{reason}");
        assert!(reason.ends_with("would cut them off"), "{reason}");
    }
}
