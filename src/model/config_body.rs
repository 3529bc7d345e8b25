//! One pass over a config GET/PATCH answer for the common case.
//!
//! An audit reads one config per auth method of every identity, so decoding the answer is on
//! the hot path. [`ConfigBody::parse`] reads the body once: the typed fields straight into
//! integers and [`TrustedIp`]s, the method's allowlist fields as JSON values, everything else
//! skipped (but checked as JSON). The body is kept for `AuthConfig::from_body`, which decodes
//! the whole object into a map, and fails when it cannot (a skipped number beyond `f64`,
//! nesting past serde_json's limit). Anything unusual (a number sent as a string, a malformed
//! trusted IP, a missing wrapper, ...) falls back to the full decode of the body into a
//! `Value`, so unusual answers get exactly the same result and the same errors as before.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use super::trusted_ip::max_prefix;
use super::{AuthMethod, TrustedIp};

/// A parsed config answer (see the module doc).
#[derive(Debug)]
pub struct ConfigBody(pub(super) Parsed);

#[derive(Debug)]
pub(super) enum Parsed {
    /// The common case, read in one pass; `body` is the whole answer, for the map of the
    /// config object.
    Fast { typed: FastTyped, body: Box<[u8]> },
    /// Anything else: the whole body, for the full decoder to judge.
    Slow(Value),
}

/// What the one pass decodes.
#[derive(Debug)]
pub(super) struct FastTyped {
    pub ttl: u64,
    pub max_ttl: u64,
    pub uses: u64,
    pub period: Option<u64>,
    pub access_ips: Option<Vec<TrustedIp>>,
    pub secret_ips: Option<Vec<TrustedIp>>,
    pub allowlists: Vec<(&'static str, Value)>,
}

impl ConfigBody {
    /// Parses a response body for `method`. Fails only on a body that is not JSON (truncated,
    /// cut, invalid): that is worth a retry; what the content means is judged by
    /// `AuthConfig::from_body`.
    pub fn parse(bytes: &[u8], method: &AuthMethod) -> serde_json::Result<ConfigBody> {
        // UTF-8 checked once for the whole body (fast), instead of string by string.
        let Ok(text) = std::str::from_utf8(bytes) else {
            return serde_json::from_slice(bytes).map(|v| ConfigBody(Parsed::Slow(v)));
        };
        let mut de = serde_json::Deserializer::from_str(text);
        let seed = Outer {
            wrapper: method.wrapper_key(),
            allowlists: method.allowlist_fields(),
        };
        match seed.deserialize(&mut de).and_then(|t| de.end().map(|()| t)) {
            Ok(typed) => Ok(ConfigBody(Parsed::Fast {
                typed,
                body: bytes.into(),
            })),
            // Not the common shape (or a value idguard would coerce): the full decoder decides.
            Err(e) if e.is_data() => {
                serde_json::from_slice(bytes).map(|v| ConfigBody(Parsed::Slow(v)))
            }
            Err(e) => Err(e),
        }
    }
}

/// The error that sends a body to the full decoder.
fn unusual<E: de::Error>() -> E {
    E::custom("not the common shape of a config answer")
}

/// The answer object: the config under the wrapper key (or the only key, for a method this
/// version does not know).
struct Outer {
    wrapper: Option<&'static str>,
    allowlists: &'static [&'static str],
}

impl<'de> DeserializeSeed<'de> for Outer {
    type Value = FastTyped;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<FastTyped, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Outer {
    type Value = FastTyped;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a config answer object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<FastTyped, A::Error> {
        let mut found = None;
        let mut keys = 0usize;
        while let Some(key) = map.next_key::<&'de str>()? {
            keys += 1;
            let ours = match self.wrapper {
                Some(w) => key == w,
                None => keys == 1,
            };
            if ours && found.is_none() {
                found = Some(map.next_value_seed(Inner(self.allowlists))?);
            } else if self.wrapper.is_none() || ours {
                // A second key for an unknown method, or a repeated wrapper: unusual.
                return Err(unusual());
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        found.ok_or_else(unusual)
    }
}

/// The config object itself.
struct Inner(&'static [&'static str]);

impl<'de> DeserializeSeed<'de> for Inner {
    type Value = FastTyped;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<FastTyped, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Inner {
    type Value = FastTyped;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an auth config object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<FastTyped, A::Error> {
        let (mut ttl, mut max_ttl, mut uses) = (None, None, None);
        let mut period = None;
        let (mut access_ips, mut secret_ips) = (None, None);
        let mut allowlists: Vec<(&'static str, Value)> = Vec::new();
        while let Some(key) = map.next_key::<&'de str>()? {
            match key {
                "accessTokenTTL" => ttl = Some(map.next_value()?),
                "accessTokenMaxTTL" => max_ttl = Some(map.next_value()?),
                "accessTokenNumUsesLimit" => uses = Some(map.next_value()?),
                "accessTokenPeriod" => period = map.next_value()?,
                "accessTokenTrustedIps" => access_ips = map.next_value_seed(IpList)?,
                "clientSecretTrustedIps" => secret_ips = map.next_value_seed(IpList)?,
                other => match self.0.iter().find(|f| **f == other) {
                    Some(field) => {
                        let value: Value = map.next_value()?;
                        allowlists.retain(|(f, _)| f != field);
                        allowlists.push((field, value));
                    }
                    None => {
                        map.next_value::<IgnoredAny>()?;
                    }
                },
            }
        }
        // All three are required; without one, the full decoder names the missing field.
        let (Some(ttl), Some(max_ttl), Some(uses)) = (ttl, max_ttl, uses) else {
            return Err(unusual());
        };
        Ok(FastTyped {
            ttl,
            max_ttl,
            uses,
            period,
            access_ips,
            secret_ips,
            allowlists,
        })
    }
}

/// A trusted-IP list: `null` or an array of well-formed GET entries.
struct IpList;

impl<'de> DeserializeSeed<'de> for IpList {
    type Value = Option<Vec<TrustedIp>>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_option(self)
    }
}

impl<'de> Visitor<'de> for IpList {
    type Value = Option<Vec<TrustedIp>>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a trusted-IP list")
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_seq(self)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(4).min(64));
        while let Some(entry) = seq.next_element_seed(IpEntry)? {
            out.push(entry);
        }
        Ok(Some(out))
    }
}

/// One GET entry `{"ipAddress": "10.0.0.0", "type": "ipv4", "prefix": 8}`, with what
/// `TrustedIp::from_json` accepts and nothing else.
struct IpEntry;

impl<'de> DeserializeSeed<'de> for IpEntry {
    type Value = TrustedIp;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<TrustedIp, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for IpEntry {
    type Value = TrustedIp;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a trusted-IP entry")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<TrustedIp, A::Error> {
        let mut address: Option<&'de str> = None;
        let mut prefix: Option<u64> = None;
        while let Some(key) = map.next_key::<&'de str>()? {
            match key {
                "ipAddress" => address = Some(map.next_value()?),
                "prefix" => prefix = map.next_value()?,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        let address = address.ok_or_else(unusual)?;
        let mut entry = TrustedIp::parse(address).map_err(|_| unusual())?;
        if let Some(p) = prefix {
            let p = u8::try_from(p).map_err(|_| unusual())?;
            if p > max_prefix(entry.address) {
                return Err(unusual());
            }
            entry.prefix = Some(p);
        }
        Ok(entry)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A body that is not UTF-8 is not JSON: an error (retried by the transport), as before.
    #[test]
    fn invalid_utf8_is_an_error() {
        let body = b"{\"identityOciAuth\": {\"accessTokenTTL\": 1, \"x\": \"\xff\"}}";
        assert!(ConfigBody::parse(body, &AuthMethod::Oci).is_err());
        let ok = "{\"identityOciAuth\": {\"accessTokenTTL\": 1, \"accessTokenMaxTTL\": 2, \
                  \"accessTokenNumUsesLimit\": 0, \"x\": \"é\"}}";
        assert!(matches!(
            ConfigBody::parse(ok.as_bytes(), &AuthMethod::Oci),
            Ok(ConfigBody(Parsed::Fast { .. }))
        ));
    }
}
