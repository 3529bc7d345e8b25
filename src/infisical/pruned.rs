//! Decoding a JSON body into a [`Value`] that keeps only the keys a caller reads.
//!
//! A listing page carries far more per identity than idguard uses (roles, timestamps, org
//! ids, ...). Building maps for all of it was a large share of an audit's CPU; a [`Shape`]
//! names the keys to keep at each level, and everything else is skipped while parsing (still
//! checked as valid JSON, so a truncated or malformed body fails exactly as before). A value
//! whose type is not the one the shape expects is kept whole, so callers see the same types and
//! give the same errors as with a full decode.

use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// Which parts of a JSON value to keep.
pub(crate) enum Shape {
    /// The whole value.
    All,
    /// An object: only these keys, each with its own shape.
    Object(&'static [(&'static str, Shape)]),
    /// An array: every element with this shape.
    Each(&'static Shape),
}

/// Parses `body` as JSON, keeping what `shape` names.
pub(crate) fn from_slice(body: &[u8], shape: &'static Shape) -> serde_json::Result<Value> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let value = shape.deserialize(&mut de)?;
    de.end()?;
    Ok(value)
}

impl<'de> DeserializeSeed<'de> for &'static Shape {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        match self {
            Shape::All => serde::Deserialize::deserialize(deserializer),
            _ => deserializer.deserialize_any(ShapeVisitor(self)),
        }
    }
}

struct ShapeVisitor(&'static Shape);

/// Forwards every type the shape does not expect to a full decode.
macro_rules! whole {
    ($($method:ident($ty:ty)),* $(,)?) => {
        $(fn $method<E: serde::de::Error>(self, v: $ty) -> Result<Value, E> {
            FullVisitor.$method(v)
        })*
    };
}

impl<'de> Visitor<'de> for ShapeVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    whole!(
        visit_bool(bool),
        visit_i64(i64),
        visit_u64(u64),
        visit_f64(f64),
        visit_str(&str),
        visit_string(String),
    );

    fn visit_unit<E: serde::de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E: serde::de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let element: &'static Shape = match self.0 {
            Shape::Each(element) => element,
            // Not the array the shape expects: keep it whole.
            _ => &Shape::All,
        };
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        while let Some(item) = seq.next_element_seed(element)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let Shape::Object(keys) = self.0 else {
            // Not the object the shape expects: keep it whole.
            return FullVisitor.visit_map(map);
        };
        let mut out = Map::new();
        while let Some(found) = map.next_key_seed(KeySeed(keys))? {
            match found {
                Some((key, shape)) => {
                    let value = map.next_value_seed(shape)?;
                    out.insert(key.to_owned(), value);
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Value::Object(out))
    }
}

/// Reads an object key and looks it up among the shape's keys without allocating.
struct KeySeed(&'static [(&'static str, Shape)]);

type Kept = Option<(&'static str, &'static Shape)>;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = Kept;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Kept, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed {
    type Value = Kept;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object key")
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Kept, E> {
        Ok(self.0.iter().find(|(k, _)| *k == v).map(|(k, s)| (*k, s)))
    }
}

/// What serde_json's own `Value` visitor builds, for values that are kept whole.
struct FullVisitor;

impl FullVisitor {
    fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_map<'de, A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let value = map.next_value::<Value>()?;
            out.insert(key, value);
        }
        Ok(Value::Object(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ITEM: Shape = Shape::Object(&[
        ("keep", Shape::All),
        ("inner", Shape::Object(&[("id", Shape::All)])),
    ]);
    const PAGE: Shape = Shape::Object(&[("items", Shape::Each(&ITEM)), ("total", Shape::All)]);

    #[test]
    fn keeps_only_the_named_keys() {
        let body = br#"{"items": [{"keep": {"a": [1, 2.5, null]}, "drop": {"x": "y"},
            "inner": {"id": "i1", "other": true}}], "total": 7, "extra": [1, 2]}"#;
        let value = from_slice(body, &PAGE).unwrap();
        assert_eq!(
            value,
            json!({"items": [{"keep": {"a": [1, 2.5, null]}, "inner": {"id": "i1"}}], "total": 7})
        );
    }

    #[test]
    fn values_of_an_unexpected_type_are_kept_whole() {
        let body = br#"{"items": {"not": "an array"}, "total": "7"}"#;
        assert_eq!(
            from_slice(body, &PAGE).unwrap(),
            json!({"items": {"not": "an array"}, "total": "7"})
        );
        let body = br#"{"items": [3, "s", null, [{"keep": 1, "drop": 2}], {"inner": [1]}]}"#;
        assert_eq!(
            from_slice(body, &PAGE).unwrap(),
            json!({"items": [3, "s", null, [{"keep": 1, "drop": 2}], {"inner": [1]}]})
        );
        assert_eq!(from_slice(b"[1, -2]", &PAGE).unwrap(), json!([1, -2]));
    }

    #[test]
    fn escaped_and_duplicate_keys_decode_as_a_full_parse_would() {
        let body = br#"{"items": [{"ke\u0065p": 1, "keep": 2, "dr\"op": 3}]}"#;
        assert_eq!(
            from_slice(body, &PAGE).unwrap(),
            json!({"items": [{"keep": 2}]})
        );
    }

    #[test]
    fn invalid_or_truncated_json_is_an_error_even_in_skipped_parts() {
        for body in [
            &br#"{"items": [{"drop": {"x": }}]}"#[..],
            br#"{"items": [{"keep": 1}"#,
            br#"{"total": 1} trailing"#,
            br#"{"drop": "unterminated}"#,
            b"",
        ] {
            assert!(from_slice(body, &PAGE).is_err(), "{body:?}");
        }
    }
}
