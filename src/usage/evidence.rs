//! Usage evidence of one identity: the addresses it logged in from or used its token from
//! within a time window, each with when it was last seen, read from the organization's audit
//! log (two filters, each paged to its end).
//!
//! Requests made with the identity's token, and the logins newer servers record with the
//! identity as actor, come from the actor filter (every event counts: each is a request from
//! that address). Logins of the other methods name the identity only in the event's metadata;
//! of that filter only successful logins count (`login-identity-<method>`): the rest are changes
//! made to the identity by others, from their addresses.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::net::IpAddr;

use ipnet::IpNet;
use jiff::Timestamp;

use crate::infisical::{
    AUDIT_LOG_PAGE_LIMIT, ApiError, AuditEvent, AuditLogQuery, Client, EventsOf,
};

/// Pages read per filter before giving up (100,000 events): past that the evidence is
/// incomplete, and incomplete evidence never allows a narrowing.
pub const MAX_PAGES: u64 = 100;

/// The time range evidence is read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub since: Timestamp,
    pub until: Timestamp,
}

/// An address an identity was seen at, as the audit log wrote it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Address {
    /// IPv4-mapped IPv6 addresses (`::ffff:203.0.113.7`) are read as IPv4.
    Ip(IpAddr),
    /// Text that is not an address: no list can be shown to hold it.
    Unreadable(String),
}

impl Address {
    /// The address of an event's `ipAddress`.
    pub fn parse(text: &str) -> Address {
        match text.trim().parse::<IpAddr>() {
            Ok(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
                Some(v4) => Address::Ip(IpAddr::V4(v4)),
                None => Address::Ip(IpAddr::V6(v6)),
            },
            Ok(ip) => Address::Ip(ip),
            Err(_) => Address::Unreadable(text.to_owned()),
        }
    }

    /// Whether one of `networks` holds it (never for an unreadable address).
    pub fn inside(&self, networks: &[IpNet]) -> bool {
        match self {
            Address::Ip(ip) => networks.iter().any(|n| n.contains(ip)),
            Address::Unreadable(_) => false,
        }
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Address::Ip(ip) => write!(f, "{ip}"),
            Address::Unreadable(text) => write!(f, "{:?}", crate::display::safe(text)),
        }
    }
}

/// How an address was used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Use {
    /// A login.
    Login,
    /// A request made with the identity's token.
    Token,
}

/// When and how an address was last seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seen {
    pub last_seen: Timestamp,
    pub last_use: Use,
}

/// Every address an identity was seen at within the window.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Evidence {
    pub addresses: BTreeMap<Address, Seen>,
}

impl Evidence {
    /// Adds one sighting, keeping the latest per address.
    pub fn saw(&mut self, address: Address, at: Timestamp, how: Use) {
        let seen = Seen {
            last_seen: at,
            last_use: how,
        };
        self.addresses
            .entry(address)
            .and_modify(|s| {
                if at > s.last_seen {
                    *s = seen;
                }
            })
            .or_insert(seen);
    }

    /// Every address, latest first (ties by address).
    pub fn latest_first(&self) -> Vec<(&Address, &Seen)> {
        let mut out: Vec<_> = self.addresses.iter().collect();
        out.sort_by(|a, b| b.1.last_seen.cmp(&a.1.last_seen).then(a.0.cmp(b.0)));
        out
    }

    /// The addresses `networks` would not admit, latest first.
    pub fn outside(&self, networks: &[IpNet]) -> Vec<(&Address, &Seen)> {
        let mut out = self.latest_first();
        out.retain(|(a, _)| !a.inside(networks));
        out
    }
}

/// Why an identity's evidence could not be read.
#[derive(Debug, thiserror::Error)]
pub enum EvidenceError {
    #[error("reading the audit log failed: {0}")]
    Api(#[from] ApiError),
    #[error("the audit log holds more than {max} pages of events for it; not all were read", max = MAX_PAGES)]
    TooMany,
    #[error("the audit log repeated a page of events (offset {offset}): not all were read")]
    Repeated { offset: u64 },
}

/// Reads the identity's evidence within `window`: both filters, every page.
pub async fn collect(
    client: &Client,
    identity_id: &str,
    window: Window,
) -> Result<Evidence, EvidenceError> {
    let mut evidence = Evidence::default();
    for events in [
        EventsOf::Actor(identity_id),
        EventsOf::Metadata(identity_id),
    ] {
        read_all(client, events, window, |event| {
            let how = match events {
                EventsOf::Metadata(_) if !is_login(&event.event_type) => return,
                _ if is_login(&event.event_type) => Use::Login,
                _ => Use::Token,
            };
            if let Some(ip) = &event.ip_address {
                evidence.saw(Address::parse(ip), event.created_at, how);
            }
        })
        .await?;
    }
    Ok(evidence)
}

/// A successful login event (`login-identity-<method>`, not its `-failed` twin).
fn is_login(event_type: &str) -> bool {
    event_type.starts_with("login-identity-") && !event_type.ends_with("-failed")
}

/// Pages through one filter to its end (a page shorter than the limit), giving each event
/// once to `each`.
async fn read_all(
    client: &Client,
    events: EventsOf<'_>,
    window: Window,
    mut each: impl FnMut(&AuditEvent),
) -> Result<(), EvidenceError> {
    let mut seen_ids = HashSet::new();
    for page in 0..MAX_PAGES {
        let offset = page * u64::from(AUDIT_LOG_PAGE_LIMIT);
        let batch = client
            .audit_log_page(&AuditLogQuery {
                events,
                since: window.since,
                until: window.until,
                offset,
                limit: AUDIT_LOG_PAGE_LIMIT,
            })
            .await?;
        let mut new = 0;
        for event in &batch {
            if seen_ids.insert(event.id.clone()) {
                new += 1;
                each(event);
            }
        }
        if batch.len() < AUDIT_LOG_PAGE_LIMIT as usize {
            return Ok(());
        }
        if new == 0 {
            return Err(EvidenceError::Repeated { offset });
        }
    }
    Err(EvidenceError::TooMany)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    /// IPv4-mapped IPv6 is IPv4; text that is no address is never inside a list.
    #[test]
    fn addresses_as_the_audit_log_writes_them() {
        let nets: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap(), "fd00::/8".parse().unwrap()];
        assert!(Address::parse("::ffff:10.1.2.3").inside(&nets));
        assert_eq!(
            Address::parse("::ffff:10.1.2.3"),
            Address::parse("10.1.2.3")
        );
        assert!(Address::parse("fd00::1").inside(&nets));
        assert!(!Address::parse("203.0.113.7").inside(&nets));
        assert!(!Address::parse("10.1.2.3, 203.0.113.7").inside(&nets));
        assert!(!Address::parse("").inside(&["0.0.0.0/0".parse().unwrap()]));
    }

    /// The latest sighting per address wins; `outside` lists the addresses a list would cut
    /// off, latest first.
    #[test]
    fn latest_sighting_and_what_a_list_cuts_off() {
        let mut e = Evidence::default();
        e.saw(
            Address::parse("203.0.113.7"),
            at("2026-12-01T00:00:00Z"),
            Use::Token,
        );
        e.saw(
            Address::parse("203.0.113.7"),
            at("2026-12-02T00:00:00Z"),
            Use::Login,
        );
        e.saw(
            Address::parse("203.0.113.7"),
            at("2026-11-02T00:00:00Z"),
            Use::Token,
        );
        e.saw(
            Address::parse("198.51.100.1"),
            at("2026-12-03T00:00:00Z"),
            Use::Token,
        );
        e.saw(
            Address::parse("10.1.2.3"),
            at("2026-12-04T00:00:00Z"),
            Use::Token,
        );
        let nets: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let out: Vec<String> = e
            .outside(&nets)
            .iter()
            .map(|(a, s)| format!("{a} {} {:?}", s.last_seen, s.last_use))
            .collect();
        assert_eq!(
            out,
            [
                "198.51.100.1 2026-12-03T00:00:00Z Token",
                "203.0.113.7 2026-12-02T00:00:00Z Login"
            ]
        );
    }

    #[test]
    fn only_successful_logins_count_as_logins() {
        assert!(is_login("login-identity-aws-auth"));
        assert!(!is_login("login-identity-aws-auth-failed"));
        assert!(!is_login("update-identity-aws-auth"));
    }
}
