//! One trusted-IP entry as Infisical takes and stores it: the simulator's own reading of
//! Infisical's `lib/ip/index.ts`, not idguard's.
//!
//! A PATCH entry must pass `isValidIpOrCidr`: an IPv4 or IPv6 address, optionally `/prefix` with
//! a prefix 0–32 or 0–128, no surrounding blanks. `extractIPDetails` then stores `"10.1.2.3/8"`
//! as `{"ipAddress": "10.1.2.3", "type": "ipv4", "prefix": 8}` (host bits kept) and a single
//! host without `prefix`. The simulator writes the address in its canonical text form, where
//! Infisical keeps the text as sent: the two differ only for an IPv6 address sent uncompressed
//! or in upper case. Whether a caller is inside an entry is `trusted_ips.rs`'s business.

use std::net::IpAddr;

use serde_json::{Map, Value};

/// One trusted-IP entry: an address (host bits kept) and an optional prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct StoredIp {
    /// The address as written, host bits included.
    pub(crate) address: IpAddr,
    /// `None` for a single host.
    pub(crate) prefix: Option<u8>,
}

impl StoredIp {
    /// An entry of a PATCH (`"10.0.0.0/8"`, `"1.2.3.4"`) if it passes `isValidIpOrCidr`.
    pub(crate) fn from_request(text: &str) -> Option<StoredIp> {
        let (addr, prefix) = match text.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (text, None),
        };
        let address: IpAddr = addr.parse().ok()?;
        let prefix = match prefix {
            None => None,
            Some(p) => Some(p.parse::<u8>().ok().filter(|n| *n <= full(address))?),
        };
        Some(StoredIp { address, prefix })
    }

    /// A stored entry `{"ipAddress", "type", "prefix"?}` (an `ipAddress` carrying `/prefix`
    /// and a prefix written as a string are read too); `None` when it does not decode.
    pub(crate) fn from_stored(value: &Value) -> Option<StoredIp> {
        let obj = value.as_object()?;
        let mut entry = StoredIp::from_request(obj.get("ipAddress")?.as_str()?.trim())?;
        match obj.get("prefix") {
            None | Some(Value::Null) => {}
            Some(p) => {
                let n = p
                    .as_u64()
                    .or_else(|| p.as_str().and_then(|s| s.parse().ok()))?;
                let n = u8::try_from(n).ok().filter(|n| *n <= full(entry.address))?;
                entry.prefix = Some(n);
            }
        }
        Some(entry)
    }

    /// The stored form `{"ipAddress", "type", "prefix"?}` a GET shows.
    pub(crate) fn to_stored_json(self) -> Value {
        let kind = if self.address.is_ipv4() {
            "ipv4"
        } else {
            "ipv6"
        };
        let mut obj = Map::new();
        obj.insert("ipAddress".into(), Value::String(self.address.to_string()));
        obj.insert("type".into(), Value::String(kind.into()));
        if let Some(p) = self.prefix {
            obj.insert("prefix".into(), Value::from(p));
        }
        Value::Object(obj)
    }

    /// The prefix length that makes the entry a single host (32 or 128).
    pub(crate) fn host_prefix(self) -> u8 {
        full(self.address)
    }
}

/// The longest prefix of the address's family.
fn full(address: IpAddr) -> u8 {
    if address.is_ipv4() { 32 } else { 128 }
}

/// The stored form of request-form entries that pass `isValidIpOrCidr` (the others are left
/// out): how the generator writes the lists of the configs it makes.
pub(crate) fn stored_list(entries: &[&str]) -> Value {
    Value::Array(
        entries
            .iter()
            .filter_map(|e| StoredIp::from_request(e))
            .map(StoredIp::to_stored_json)
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn request_form_is_checked_like_is_valid_ip_or_cidr() {
        for good in [
            "10.0.0.0/8",
            "1.2.3.4",
            "::/0",
            "fd00::/8",
            "10.1.2.3/32",
            "::1/128",
        ] {
            assert!(StoredIp::from_request(good).is_some(), "{good}");
        }
        for bad in [
            "nonsense",
            "10.0.0.0/33",
            "::/129",
            "10.0.0.0/",
            "10.0.0.0/x",
            " 10.0.0.0/8",
            "10.0.0.0/8 ",
            "10.0.0.0/8/8",
            "",
        ] {
            assert!(StoredIp::from_request(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn stored_form_keeps_host_bits_and_omits_a_host_prefix() {
        assert_eq!(
            stored_list(&["10.1.2.3/8", "10.9.9.9", "fd00::/8", "bad"]),
            json!([
                {"ipAddress": "10.1.2.3", "type": "ipv4", "prefix": 8},
                {"ipAddress": "10.9.9.9", "type": "ipv4"},
                {"ipAddress": "fd00::", "type": "ipv6", "prefix": 8},
            ])
        );
        let entry = json!({"ipAddress": "10.1.2.3", "type": "ipv4", "prefix": 8});
        assert_eq!(
            StoredIp::from_stored(&entry).map(StoredIp::to_stored_json),
            Some(entry)
        );
        assert_eq!(
            StoredIp::from_stored(&json!({"ipAddress": "10.0.0.0", "prefix": "8"})),
            StoredIp::from_request("10.0.0.0/8")
        );
        assert!(StoredIp::from_stored(&json!({"ipAddress": "10.0.0.0", "prefix": 33})).is_none());
        assert!(StoredIp::from_stored(&json!("10.0.0.0/8")).is_none());
    }
}
