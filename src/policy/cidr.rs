//! CIDRs in a policy (`allowed_cidrs`, `fallback_cidrs`): parsed with the same rules as a
//! trusted-IP entry, so a bare address is a host (/32 or /128), host bits are cleared
//! (`10.1.2.3/8` is `10.0.0.0/8`) and an IPv4-mapped IPv6 range is its IPv4 range.

use ipnet::IpNet;

use crate::model::TrustedIp;

/// Parses one CIDR or address into its normalised network.
pub fn parse_cidr(text: &str) -> Result<IpNet, String> {
    TrustedIp::parse(text).map(|ip| ip.network()).map_err(|e| {
        format!(
            "bad CIDR `{}`: {e}",
            text.chars().take(60).collect::<String>()
        )
    })
}

/// Whether `inner` lies entirely inside `outer` (same address family).
pub fn contains(outer: &IpNet, inner: &IpNet) -> bool {
    match (outer, inner) {
        (IpNet::V4(o), IpNet::V4(i)) => o.contains(i),
        (IpNet::V6(o), IpNet::V6(i)) => o.contains(i),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises() {
        assert_eq!(
            parse_cidr("10.1.2.3/8").expect("ok").to_string(),
            "10.0.0.0/8"
        );
        assert_eq!(
            parse_cidr("10.1.2.3").expect("ok").to_string(),
            "10.1.2.3/32"
        );
        assert_eq!(
            parse_cidr("2001:db8::1").expect("ok").to_string(),
            "2001:db8::1/128"
        );
        assert_eq!(
            parse_cidr("::ffff:0:0/96").expect("ok").to_string(),
            "0.0.0.0/0"
        );
        assert!(parse_cidr("10.0.0.0/33").is_err());
        assert!(parse_cidr("ten").is_err());
    }

    #[test]
    fn containment_is_per_family() {
        let a = parse_cidr("10.0.0.0/8").expect("ok");
        let b = parse_cidr("10.20.0.0/16").expect("ok");
        assert!(contains(&a, &b));
        assert!(!contains(&b, &a));
        assert!(!contains(&parse_cidr("::/0").expect("ok"), &a));
        assert!(contains(&parse_cidr("0.0.0.0/0").expect("ok"), &a));
    }
}
