//! Infisical's trusted-IP check: whether a caller's address is inside one of the stored
//! trusted-IP entries of an auth config. It owns the containment rule only: when the check
//! runs (login, every authenticated request) is decided in `routes.rs`, and the stored form of
//! an entry in `stored_ip.rs`.
//!
//! Infisical's source (`lib/ip/index.ts`, `checkIPAgainstBlocklist`) puts every stored entry
//! into a Node `net.BlockList` (`addSubnet(ipAddress, prefix, type)`, or `addAddress` for an
//! entry without a prefix) and asks `check(callerIp)`; a miss is a `ForbiddenRequestError`. Node's
//! `BlockList` (`src/node_sockaddr.cc`) compares an IPv4 caller with an IPv6 entry as the
//! IPv4-mapped address `::ffff:a.b.c.d`, and an IPv6 caller with an IPv4 entry only when the
//! caller is IPv4-mapped. So `::/0` and `::ffff:0:0/96` contain every IPv4 caller too, and
//! `0.0.0.0/0` contains every IPv4 caller (and every IPv4-mapped IPv6 one).

use std::net::IpAddr;

use ipnet::IpNet;
use serde_json::Value;

use crate::stored_ip::StoredIp;

/// The message of Infisical's `ForbiddenRequestError` for a caller outside the trusted IPs.
pub(crate) const FORBIDDEN_IP_MESSAGE: &str =
    "You are not allowed to access this resource from the current IP address";

/// Whether `peer` is inside one of `entries` (stored form `{ipAddress, type, prefix?}`).
/// Entries that do not decode match nothing; an empty list matches nothing.
pub(crate) fn allows(entries: &[Value], peer: IpAddr) -> bool {
    entries
        .iter()
        .filter_map(StoredIp::from_stored)
        .any(|entry| contains(&entry, peer))
}

/// Node's `BlockList` containment of one entry (a missing prefix is a single host).
fn contains(entry: &StoredIp, peer: IpAddr) -> bool {
    let full = entry.host_prefix();
    let Ok(net) = IpNet::new(entry.address, entry.prefix.unwrap_or(full)) else {
        return false;
    };
    match (net.trunc(), peer) {
        (IpNet::V4(net), IpAddr::V4(p)) => net.contains(&p),
        (IpNet::V4(net), IpAddr::V6(p)) => p.to_ipv4_mapped().is_some_and(|p| net.contains(&p)),
        (IpNet::V6(net), IpAddr::V6(p)) => net.contains(&p),
        (IpNet::V6(net), IpAddr::V4(p)) => net.contains(&p.to_ipv6_mapped()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn stored(list: &[&str]) -> Vec<Value> {
        list.iter()
            .map(|e| StoredIp::from_request(e).unwrap().to_stored_json())
            .collect()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn cidrs_hosts_and_open_ranges() {
        let local = ip("127.0.0.1");
        assert!(allows(&stored(&["0.0.0.0/0"]), local));
        assert!(allows(&stored(&["127.0.0.0/8"]), local));
        assert!(allows(&stored(&["127.0.0.1"]), local));
        assert!(!allows(&stored(&["127.0.0.2"]), local));
        assert!(!allows(&stored(&["10.0.0.0/8", "fd00::/8"]), local));
        // Host bits in the stored address do not matter: 127.9.9.9/8 is 127.0.0.0/8.
        assert!(allows(&stored(&["127.9.9.9/8"]), local));
        assert!(!allows(&[], local));
        assert!(allows(&stored(&["::/0"]), ip("2001:db8::1")));
        assert!(!allows(&stored(&["0.0.0.0/0"]), ip("2001:db8::1")));
        assert!(!allows(&[json!({"ipAddress": "nonsense"})], local));
    }

    #[test]
    fn ipv4_callers_against_ipv6_entries_are_compared_mapped() {
        let local = ip("127.0.0.1");
        assert!(allows(&stored(&["::ffff:127.0.0.1"]), local));
        assert!(allows(&stored(&["::ffff:0:0/96"]), local));
        assert!(allows(&stored(&["::ffff:127.0.0.0/104"]), local));
        assert!(!allows(&stored(&["::ffff:10.0.0.0/104"]), local));
        // ::/0 holds ::ffff:127.0.0.1, as Node's BlockList sees it.
        assert!(allows(&stored(&["::/0"]), local));
        assert!(!allows(&stored(&["fd00::/8"]), local));
        // A mapped IPv6 caller against an IPv4 entry.
        assert!(allows(&stored(&["127.0.0.0/8"]), ip("::ffff:127.0.0.1")));
        assert!(!allows(&stored(&["127.0.0.0/8"]), ip("::1")));
    }
}
