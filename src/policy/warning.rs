//! Policy warnings: what is valid but probably not what the author meant. An exemption that has
//! expired, a `max_ttl` that can never bind, an allowed CIDR that admits every address, a
//! duration without a unit, an exemption by name. A warning never stops a policy from loading;
//! validation returns them beside the policy (or beside its errors), and the commands print
//! them. Positions are those of [`super::Diagnostic`].

use std::fmt;

use ipnet::IpNet;

use super::duration::{format_duration, format_seconds};

/// One warning with its position (1-based line and column, in characters).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// The file path or name the policy came from.
    pub origin: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column (characters).
    pub column: usize,
    /// What is probably wrong.
    pub kind: WarningKind,
}

/// What a [`Warning`] is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WarningKind {
    /// The exemption's `expires` is today or earlier (UTC): it no longer applies.
    ExpiredExemption {
        /// The exemption's `identity`.
        identity: String,
        /// The day from which it no longer applies.
        expires: jiff::civil::Date,
    },
    /// `max_ttl` above `max_max_ttl` in one rule: Infisical keeps a TTL at or below its max
    /// TTL, so the `max_ttl` bound only ever judges periodic tokens.
    TtlAboveMaxTtl {
        /// The rule id, when it could be read.
        rule: Option<String>,
        /// `max_ttl`, in seconds.
        max_ttl: u64,
        /// `max_max_ttl`, in seconds.
        max_max_ttl: u64,
    },
    /// An allowed CIDR with prefix length 0 (`0.0.0.0/0`, `::/0`): every address of its family
    /// passes, so the check checks nothing for that family.
    AdmitsEveryAddress {
        /// The rule id, when it could be read.
        rule: Option<String>,
        /// The normalised network.
        cidr: IpNet,
    },
    /// A duration written as a bare number (`max_ttl: 90`): read as seconds.
    UnitlessDuration {
        /// The rule id, when it could be read.
        rule: Option<String>,
        /// The key within the rule, `access_token.max_ttl`.
        key: &'static str,
        /// The value as read, in seconds.
        seconds: u64,
    },
    /// An exemption naming an identity rather than its id.
    ExemptionByName {
        /// The exemption's `identity`.
        identity: String,
    },
}

impl WarningKind {
    /// Advice on how a policy is written rather than a doubt about what it does: `validate`
    /// shows it, runs do not (a run reports a name exemption that is actually ambiguous as a
    /// problem of its own).
    pub fn is_hint(&self) -> bool {
        matches!(self, WarningKind::ExemptionByName { .. })
    }
}

impl fmt::Display for WarningKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WarningKind::ExpiredExemption { identity, expires } => write!(
                f,
                "exemption for `{identity}`: expired on {expires} and no longer applies; \
                 renew it with a new date or remove it"
            ),
            WarningKind::TtlAboveMaxTtl {
                rule,
                max_ttl,
                max_max_ttl,
            } => write!(
                f,
                "{}: access_token.max_ttl ({}) is above max_max_ttl ({}): Infisical keeps a \
                 token's TTL at or below its max TTL, so this max_ttl only bounds the period of \
                 periodic tokens (were the two swapped?)",
                Label(rule),
                format_duration(*max_ttl),
                format_duration(*max_max_ttl)
            ),
            WarningKind::AdmitsEveryAddress { rule, cidr } => {
                let family = match cidr {
                    IpNet::V4(_) => "IPv4",
                    IpNet::V6(_) => "IPv6",
                };
                write!(
                    f,
                    "{}: trusted_ips.allowed_cidrs: `{cidr}` admits every {family} address, so \
                     this check passes every {family} entry",
                    Label(rule)
                )
            }
            WarningKind::UnitlessDuration { rule, key, seconds } => write!(
                f,
                "{}: {key}: `{seconds}` has no unit and is read as {}; write `{seconds}s`, or \
                 `{seconds}m` if minutes were meant",
                Label(rule),
                format_seconds(*seconds)
            ),
            WarningKind::ExemptionByName { identity } => write!(
                f,
                "exemption for `{identity}` matches by name: a name is weaker than an id (an \
                 exemption whose name several identities share exempts none of them); prefer \
                 the identity id"
            ),
        }
    }
}

/// `rule `id``, or `rule` when the id could not be read.
struct Label<'a>(&'a Option<String>);

impl fmt::Display for Label<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(id) => write!(f, "rule `{id}`"),
            None => f.write_str("rule"),
        }
    }
}

impl Warning {
    /// `origin:line:column: message` followed by the source line and a caret, for humans, with
    /// every control character escaped.
    pub fn render(&self, source: &str) -> String {
        super::with_snippet(self.to_string(), source, self.line, self.column)
    }
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.origin, self.line, self.column, self.kind
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(kind: WarningKind) -> String {
        Warning {
            origin: "p.yaml".into(),
            line: 3,
            column: 7,
            kind,
        }
        .to_string()
    }

    #[test]
    fn messages_say_what_was_read_and_what_to_write() {
        assert_eq!(
            shown(WarningKind::UnitlessDuration {
                rule: Some("t".into()),
                key: "access_token.max_ttl",
                seconds: 90,
            }),
            "p.yaml:3:7: rule `t`: access_token.max_ttl: `90` has no unit and is read as \
             90s (1m30s); write `90s`, or `90m` if minutes were meant"
        );
        assert!(
            shown(WarningKind::TtlAboveMaxTtl {
                rule: None,
                max_ttl: 172_800,
                max_max_ttl: 86_400,
            })
            .starts_with("p.yaml:3:7: rule: access_token.max_ttl (2d) is above max_max_ttl (24h)")
        );
        let v6 = shown(WarningKind::AdmitsEveryAddress {
            rule: Some("n".into()),
            cidr: "::/0".parse().expect("cidr"),
        });
        assert!(v6.contains("`::/0` admits every IPv6 address"), "{v6}");
        assert!(
            shown(WarningKind::ExpiredExemption {
                identity: "bot".into(),
                expires: jiff::civil::date(2024, 6, 30),
            })
            .contains("exemption for `bot`: expired on 2024-06-30")
        );
    }

    #[test]
    fn only_the_name_exemption_is_a_hint() {
        assert!(
            WarningKind::ExemptionByName {
                identity: "x".into()
            }
            .is_hint()
        );
        assert!(
            !WarningKind::ExpiredExemption {
                identity: "x".into(),
                expires: jiff::civil::date(2024, 1, 1),
            }
            .is_hint()
        );
    }
}
