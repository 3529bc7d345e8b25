//! The raw policy: YAML read into a tree of [`Node`]s, each carrying the line and column it
//! came from. No meaning is attached here; `validate` does that.
//!
//! Duplicate keys are passed through (so validation can report each of them with its
//! position), booleans are YAML 1.2 only (`yes` stays a string), and conservative budgets
//! guard against alias bombs, deep nesting and huge inputs.

use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::options::DuplicateKeyPolicy;
use serde_saphyr::{MessageFormatter, Spanned, UserMessageFormatter};

/// One YAML node with its position (1-based line and column).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Node {
    pub kind: Kind,
    pub line: usize,
    pub column: usize,
}

/// What a node holds.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Kind {
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

impl Node {
    /// A short name of the node's type, for "expected X, found Y" messages.
    pub fn type_name(&self) -> &'static str {
        match self.kind {
            Kind::Null => "null",
            Kind::Bool(_) => "a boolean",
            Kind::Int(_) => "an integer",
            Kind::Float(_) => "a number",
            Kind::Str(_) => "a string",
            Kind::Seq(_) => "a list",
            Kind::Map(_) => "a mapping",
        }
    }
}

/// A YAML syntax or limit error, with its position.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ReadError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

/// Reads one YAML document. An empty document is a `Null` node at 1:1.
pub(crate) fn read(source: &str) -> Result<Node, ReadError> {
    match serde_saphyr::from_str_with_options::<Node>(source, options()) {
        Ok(node) => Ok(node),
        Err(err) => {
            let (line, column) = err
                .location()
                .map(|l| (to_usize(l.line()), to_usize(l.column())))
                .unwrap_or((1, 1));
            let raw = UserMessageFormatter.format_message(err.without_snippet());
            // Keep the message on one line and free of control characters.
            let message: String = raw
                .chars()
                .map(|c| if c.is_control() { ' ' } else { c })
                .take(300)
                .collect();
            Err(ReadError {
                line: line.max(1),
                column: column.max(1),
                message: format!("YAML syntax error: {message}"),
            })
        }
    }
}

/// How policies are read: YAML 1.2 scalars, duplicate keys kept, budgets against bombs.
pub(crate) fn options() -> serde_saphyr::Options {
    serde_saphyr::options! {
        duplicate_keys: DuplicateKeyPolicy::PassThrough,
        strict_booleans: true,
        leading_zero_numbers_as_strings: true,
        underscored_numbers_as_strings: true,
        budget: serde_saphyr::budget! {
            max_reader_input_bytes: Some(super::MAX_POLICY_BYTES),
            max_depth: 24,
            max_documents: 1,
            max_nodes: 100_000,
            max_events: 400_000,
            max_aliases: 2_000,
            max_anchors: 2_000,
            max_merge_keys: 1_000,
            max_total_scalar_bytes: super::MAX_POLICY_BYTES,
            max_recorded_anchor_events: 100_000,
            max_recorded_anchor_bytes: super::MAX_POLICY_BYTES,
        },
        alias_limits: serde_saphyr::alias_limits! {
            max_total_replayed_events: 100_000,
            max_replay_stack_depth: 16,
        },
    }
}

fn to_usize(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Node, D::Error> {
        let spanned = Spanned::<Kind>::deserialize(d)?;
        Ok(Node {
            kind: spanned.value,
            line: to_usize(spanned.referenced.line()).max(1),
            column: to_usize(spanned.referenced.column()).max(1),
        })
    }
}

impl<'de> Deserialize<'de> for Kind {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Kind, D::Error> {
        d.deserialize_any(KindVisitor)
    }
}

struct KindVisitor;

impl<'de> Visitor<'de> for KindVisitor {
    type Value = Kind;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Kind, E> {
        Ok(Kind::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Kind, E> {
        Ok(Kind::Int(v.into()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Kind, E> {
        Ok(Kind::Int(v.into()))
    }
    fn visit_i128<E>(self, v: i128) -> Result<Kind, E> {
        Ok(Kind::Int(v))
    }
    fn visit_u128<E>(self, v: u128) -> Result<Kind, E> {
        Ok(Kind::Int(i128::try_from(v).unwrap_or(i128::MAX)))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Kind, E> {
        Ok(Kind::Float(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Kind, E> {
        Ok(Kind::Str(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Kind, E> {
        Ok(Kind::Str(v))
    }
    fn visit_bytes<E>(self, v: &[u8]) -> Result<Kind, E> {
        Ok(Kind::Str(String::from_utf8_lossy(v).into_owned()))
    }
    fn visit_unit<E>(self) -> Result<Kind, E> {
        Ok(Kind::Null)
    }
    fn visit_none<E>(self) -> Result<Kind, E> {
        Ok(Kind::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Kind, D::Error> {
        Kind::deserialize(d)
    }
    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Kind, D::Error> {
        Kind::deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<Kind, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = a.next_element::<Node>()? {
            items.push(item);
        }
        Ok(Kind::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Kind, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = a.next_key::<Node>()? {
            let value = a.next_value::<Node>()?;
            entries.push((key, value));
        }
        Ok(Kind::Map(entries))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_positions_and_duplicates() {
        let n = read("a: 1\nb: [x, 'y']\na: 2\n").expect("valid yaml");
        let Kind::Map(entries) = &n.kind else {
            panic!("expected a map, got {n:?}")
        };
        assert_eq!(entries.len(), 3);
        assert_eq!((entries[2].0.line, entries[2].0.column), (3, 1));
        assert_eq!(entries[0].1.kind, Kind::Int(1));
        let Kind::Seq(items) = &entries[1].1.kind else {
            panic!("expected a list")
        };
        assert_eq!((items[1].line, items[1].column), (2, 8));
    }

    #[test]
    fn yaml_12_scalars() {
        let n = read("a: yes\nb: 0123\nc: 2027-01-31\nd: ~\n").expect("valid");
        let Kind::Map(e) = n.kind else { panic!("map") };
        assert_eq!(e[0].1.kind, Kind::Str("yes".into()));
        assert_eq!(e[1].1.kind, Kind::Str("0123".into()));
        assert_eq!(e[2].1.kind, Kind::Str("2027-01-31".into()));
        assert_eq!(e[3].1.kind, Kind::Null);
    }

    #[test]
    fn syntax_error_has_position() {
        let e = read("a: 1\n  b: 2\n").expect_err("invalid");
        assert_eq!((e.line, e.column), (2, 4));
        assert!(e.message.starts_with("YAML syntax error"), "{}", e.message);
    }

    #[test]
    fn alias_bomb_and_depth_are_refused() {
        let mut bomb = String::from("a: &a [x,x,x,x,x,x,x,x,x,x]\n");
        for (prev, name) in ["a", "b", "c", "d", "e", "f", "g", "h"]
            .iter()
            .zip(["b", "c", "d", "e", "f", "g", "h", "i"])
        {
            let refs = vec![format!("*{prev}"); 10].join(",");
            bomb.push_str(&format!("{name}: &{name} [{refs}]\n"));
        }
        assert!(read(&bomb).is_err());
        let deep = format!("a: {}{}", "[".repeat(200), "]".repeat(200));
        assert!(read(&deep).is_err());
        assert!(read("a: 1\n---\nb: 2\n").is_err());
    }
}
