//! One trusted-IP entry of an auth config, in both of Infisical's encodings.
//!
//! Infisical takes `{"ipAddress": "10.0.0.0/8"}` on PATCH but returns
//! `{"ipAddress": "10.0.0.0", "type": "ipv4", "prefix": 8}` on GET (a single host has no
//! `prefix`). The address part is stored as given, not canonicalised, so `10.1.2.3/8` comes back
//! as `10.1.2.3` + 8. This type keeps exactly what the server stored and knows how to write it
//! back and how to turn it into the network it covers.

use std::fmt;
use std::net::IpAddr;

use ipnet::IpNet;
use serde_json::Value;

/// A trusted-IP entry as stored: the address as written plus an optional prefix.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TrustedIp {
    /// The address part, exactly as the server stored it.
    pub address: IpAddr,
    /// The prefix length; `None` for a single host.
    pub prefix: Option<u8>,
}

/// Why a trusted-IP entry could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TrustedIpError {
    #[error("trusted IP entry is not an object with an `ipAddress` string: {0}")]
    Shape(String),
    #[error("`{0}` is not an IP address")]
    Address(String),
    #[error("prefix {prefix} is out of range for {address}")]
    Prefix { address: String, prefix: String },
}

impl TrustedIp {
    /// Decodes the GET form `{"ipAddress": "...", "type": "ipv4", "prefix": 8}`.
    ///
    /// Also accepts an `ipAddress` that itself carries `/prefix` (the request form), so a server
    /// that echoes the request shape is understood.
    pub fn from_json(value: &Value) -> Result<TrustedIp, TrustedIpError> {
        let shape = || TrustedIpError::Shape(truncate(&value.to_string()));
        let obj = value.as_object().ok_or_else(shape)?;
        let raw = obj
            .get("ipAddress")
            .and_then(Value::as_str)
            .ok_or_else(shape)?;
        let mut entry = TrustedIp::parse(raw)?;
        match obj.get("prefix") {
            None | Some(Value::Null) => {}
            Some(p) => {
                let bad = || TrustedIpError::Prefix {
                    address: truncate(raw),
                    prefix: truncate(&p.to_string()),
                };
                let n = p
                    .as_u64()
                    .or_else(|| p.as_str().and_then(|s| s.parse().ok()))
                    .ok_or_else(bad)?;
                let n = u8::try_from(n).map_err(|_| bad())?;
                if n > max_prefix(entry.address) {
                    return Err(bad());
                }
                entry.prefix = Some(n);
            }
        }
        Ok(entry)
    }

    /// Parses the request form `"10.0.0.0/8"` or `"1.2.3.4"`.
    pub fn parse(text: &str) -> Result<TrustedIp, TrustedIpError> {
        let text = text.trim();
        let (addr, prefix) = match text.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (text, None),
        };
        let address: IpAddr = addr
            .parse()
            .map_err(|_| TrustedIpError::Address(truncate(text)))?;
        let prefix = match prefix {
            None => None,
            Some(p) => {
                let bad = || TrustedIpError::Prefix {
                    address: truncate(addr),
                    prefix: truncate(p),
                };
                let n: u8 = p.parse().map_err(|_| bad())?;
                if n > max_prefix(address) {
                    return Err(bad());
                }
                Some(n)
            }
        };
        Ok(TrustedIp { address, prefix })
    }

    /// The entry in the request encoding: `address` or `address/prefix`.
    pub fn to_request_string(&self) -> String {
        self.to_string()
    }

    /// The request-body object `{"ipAddress": "..."}`.
    pub fn to_request_json(&self) -> Value {
        serde_json::json!({ "ipAddress": self.to_request_string() })
    }

    /// The GET-response object `{"ipAddress", "type", "prefix"?}` (what tests store in a
    /// simulated config).
    pub fn to_stored_json(&self) -> Value {
        let kind = if self.address.is_ipv4() {
            "ipv4"
        } else {
            "ipv6"
        };
        let mut obj = serde_json::Map::new();
        obj.insert("ipAddress".into(), Value::String(self.address.to_string()));
        obj.insert("type".into(), Value::String(kind.into()));
        if let Some(p) = self.prefix {
            obj.insert("prefix".into(), Value::from(p));
        }
        Value::Object(obj)
    }

    /// The network this entry covers: host bits cleared, a missing prefix meaning a single
    /// host, and an IPv4-mapped IPv6 range (inside `::ffff:0:0/96`) turned into the IPv4 range
    /// it covers.
    pub fn network(&self) -> IpNet {
        let prefix = self.prefix.unwrap_or(max_prefix(self.address));
        // A mapped range (inside ::ffff:0:0/96) keeps its last 32 bits as an IPv4 prefix.
        if let IpAddr::V6(v6) = self.address
            && prefix >= 96
            && let Some(v4) = v6.to_ipv4_mapped()
            && let Ok(net) = IpNet::new(IpAddr::V4(v4), prefix - 96)
        {
            return net.trunc();
        }
        IpNet::new(self.address, prefix)
            .map(|n| n.trunc())
            .unwrap_or_else(|_| IpNet::from(self.address))
    }
}

/// The network of `::ffff:0:0/96`, the IPv6 form of every IPv4 address.
const MAPPED: std::net::Ipv6Addr = std::net::Ipv6Addr::new(0, 0, 0, 0, 0, 0xffff, 0, 0);

impl TrustedIp {
    /// Every network of callers this entry admits: its [`network`](TrustedIp::network), and
    /// `0.0.0.0/0` too when that is an IPv6 network holding all of `::ffff:0:0/96` (such as
    /// `::/0`). Infisical checks a caller with Node's `BlockList`, which matches an IPv4
    /// caller against an IPv6 subnet as its mapped address `::ffff:a.b.c.d`
    /// (`in_network_ipv4_ipv6` in Node's `src/node_sockaddr.cc`): so `::/0` admits every IPv4
    /// caller as well.
    pub fn admitted(&self) -> Vec<IpNet> {
        let net = self.network();
        let mut out = vec![net];
        if let IpNet::V6(v6) = net
            && ipnet::Ipv6Net::new(MAPPED, 96).is_ok_and(|mapped| v6.contains(&mapped))
        {
            out.push(IpNet::V4(ipnet::Ipv4Net::default()));
        }
        out
    }
}

impl fmt::Display for TrustedIp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.prefix {
            Some(p) => write!(f, "{}/{}", self.address, p),
            None => write!(f, "{}", self.address),
        }
    }
}

pub(super) fn max_prefix(addr: IpAddr) -> u8 {
    if addr.is_ipv4() { 32 } else { 128 }
}

/// Keeps server-supplied text short in error messages.
fn truncate(s: &str) -> String {
    const MAX: usize = 80;
    if s.chars().count() <= MAX {
        s.to_owned()
    } else {
        let cut: String = s.chars().take(MAX).collect();
        format!("{cut}…")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn decodes_get_form_and_keeps_host_bits() {
        let ip =
            TrustedIp::from_json(&json!({"ipAddress": "10.1.2.3", "type": "ipv4", "prefix": 8}))
                .expect("valid");
        assert_eq!(ip.to_request_string(), "10.1.2.3/8");
        assert_eq!(ip.network().to_string(), "10.0.0.0/8");
        let host =
            TrustedIp::from_json(&json!({"ipAddress": "1.2.3.4", "type": "ipv4"})).expect("valid");
        assert_eq!(host.prefix, None);
        assert_eq!(host.network().to_string(), "1.2.3.4/32");
    }

    #[test]
    fn mapped_v6_is_judged_as_v4() {
        let ip = TrustedIp::parse("::ffff:0:0/96").expect("valid");
        assert_eq!(ip.network().to_string(), "0.0.0.0/0");
        let ip = TrustedIp::parse("::ffff:10.0.0.0/104").expect("valid");
        assert_eq!(ip.admitted(), vec![ip.network()]);
        assert_eq!(ip.network().to_string(), "10.0.0.0/8");
    }

    /// An IPv6 network holding all of `::ffff:0:0/96` admits every IPv4 caller too.
    #[test]
    fn a_wide_v6_entry_admits_every_v4_caller() {
        let admitted = |text: &str| -> Vec<String> {
            let ip = TrustedIp::parse(text).expect("valid");
            ip.admitted().iter().map(ToString::to_string).collect()
        };
        assert_eq!(admitted("::/0"), ["::/0", "0.0.0.0/0"]);
        assert_eq!(admitted("::/64"), ["::/64", "0.0.0.0/0"]);
        assert_eq!(admitted("::/80"), ["::/80", "0.0.0.0/0"]);
        assert_eq!(admitted("::/81"), ["::/81"]);
        assert_eq!(admitted("fd00::/8"), ["fd00::/8"]);
        assert_eq!(admitted("::ffff:0:0/96"), ["0.0.0.0/0"]);
        assert_eq!(admitted("10.0.0.0/8"), ["10.0.0.0/8"]);
    }

    #[test]
    fn rejects_bad_entries() {
        assert!(TrustedIp::from_json(&json!("10.0.0.0/8")).is_err());
        assert!(TrustedIp::from_json(&json!({"ipAddress": "10.0.0.0", "prefix": 33})).is_err());
        assert!(TrustedIp::parse("nonsense").is_err());
        assert!(TrustedIp::parse("::/129").is_err());
    }
}
