//! One pass over an identity listing page for the common case.
//!
//! A page of the v2 search holds 100 items of ~700 bytes (roles, timestamps, org ids ...), of
//! which idguard reads an id, a name, the auth methods and the scope. [`parse`] reads the
//! page once, straight into [`Identity`] values, skipping (but checking) the rest. Anything
//! unusual (an escaped string, a value of an unexpected type, an item `parse_item` would
//! reject, ...) gives `Ok(None)`, and the caller decodes the page the general way, which
//! yields exactly the same identities or the same error as before.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::listing::identity_of;
use crate::model::Identity;

/// A listing page read in one pass: its identities and `totalCount`.
#[derive(Debug)]
pub(crate) struct FastPage {
    pub identities: Vec<Identity>,
    pub total: Option<u64>,
}

/// Reads `bytes` as a page whose items are under `key`. `Err` only for a body that is not
/// JSON (retried by the transport); `Ok(None)` for a page to decode the general way.
pub(crate) fn parse(bytes: &[u8], key: &'static str) -> serde_json::Result<Option<FastPage>> {
    // UTF-8 checked once for the whole page (fast), instead of string by string.
    let Ok(text) = std::str::from_utf8(bytes) else {
        return serde_json::from_slice::<IgnoredAny>(bytes).map(|_| None);
    };
    let mut de = serde_json::Deserializer::from_str(text);
    match PageSeed(key)
        .deserialize(&mut de)
        .and_then(|p| de.end().map(|()| p))
    {
        Ok(page) => Ok(Some(page)),
        Err(e) if e.is_data() => {
            // Not the common shape: check the syntax here so that a cut body is retried.
            serde_json::from_slice::<IgnoredAny>(bytes).map(|_| None)
        }
        Err(e) => Err(e),
    }
}

fn unusual<E: de::Error>() -> E {
    E::custom("not the common shape of a listing page")
}

struct PageSeed(&'static str);

impl<'de> DeserializeSeed<'de> for PageSeed {
    type Value = FastPage;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<FastPage, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for PageSeed {
    type Value = FastPage;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a listing page")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<FastPage, A::Error> {
        let mut identities = None;
        let mut total = None;
        while let Some(key) = map.next_key::<&'de str>()? {
            if key == self.0 {
                identities = Some(map.next_value_seed(Items)?);
            } else if key == "totalCount" {
                total = map.next_value::<Option<u64>>()?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(FastPage {
            identities: identities.ok_or_else(unusual)?,
            total,
        })
    }
}

struct Items;

impl<'de> DeserializeSeed<'de> for Items {
    type Value = Vec<Identity>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Vec<Identity>, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Items {
    type Value = Vec<Identity>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of listing items")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<Identity>, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(100).min(20_000));
        while let Some(identity) = seq.next_element_seed(Item)? {
            out.push(identity);
        }
        Ok(out)
    }
}

/// One search or membership item, with `parse_item`'s rules.
struct Item;

impl<'de> DeserializeSeed<'de> for Item {
    type Value = Identity;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Identity, D::Error> {
        d.deserialize_map(self)
    }
}

/// A non-empty string, or `None` for an empty one (`str_field`'s rule).
fn non_empty(s: Option<&str>) -> Option<&str> {
    s.filter(|s| !s.is_empty())
}

impl<'de> Visitor<'de> for Item {
    type Value = Identity;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a listing item")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Identity, A::Error> {
        let mut identity: Option<Inner<'de>> = None;
        let mut identity_id: Option<&'de str> = None;
        let mut project_id: Option<&'de str> = None;
        let mut project: Option<Project<'de>> = None;
        let mut scope: Option<&'de str> = None;
        while let Some(key) = map.next_key::<&'de str>()? {
            match key {
                "identity" => identity = Some(map.next_value_seed(InnerSeed)?),
                "identityId" => identity_id = map.next_value()?,
                "projectId" => project_id = map.next_value()?,
                "project" => project = map.next_value_seed(ProjectSeed)?,
                "scope" => scope = map.next_value()?,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        let identity = identity.ok_or_else(unusual)?;
        let id = non_empty(identity.id)
            .or(non_empty(identity_id))
            .ok_or_else(unusual)?;
        let name = non_empty(identity.name).ok_or_else(unusual)?;
        let names: Vec<&str> = match identity.auth_methods {
            Some(names) => names,
            None => non_empty(identity.auth_method).into_iter().collect(),
        };
        let project_id = non_empty(project_id)
            .or(project.and_then(|p| non_empty(p.id)))
            .or(non_empty(identity.project_id));
        identity_of(id, name, names, project_id, scope).map_err(|_| unusual())
    }
}

/// What an item's `identity` object gives.
#[derive(Default)]
struct Inner<'de> {
    id: Option<&'de str>,
    name: Option<&'de str>,
    /// `authMethods` when it is an array (`None`: null or absent).
    auth_methods: Option<Vec<&'de str>>,
    auth_method: Option<&'de str>,
    project_id: Option<&'de str>,
}

struct InnerSeed;

impl<'de> DeserializeSeed<'de> for InnerSeed {
    type Value = Inner<'de>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Inner<'de>, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for InnerSeed {
    type Value = Inner<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an identity object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Inner<'de>, A::Error> {
        let mut inner = Inner::default();
        while let Some(key) = map.next_key::<&'de str>()? {
            match key {
                "id" => inner.id = map.next_value()?,
                "name" => inner.name = map.next_value()?,
                "authMethods" => inner.auth_methods = map.next_value()?,
                "authMethod" => inner.auth_method = map.next_value()?,
                "projectId" => inner.project_id = map.next_value()?,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(inner)
    }
}

/// An item's `project` object (`null` or absent: `None`).
struct Project<'de> {
    id: Option<&'de str>,
}

struct ProjectSeed;

impl<'de> DeserializeSeed<'de> for ProjectSeed {
    type Value = Option<Project<'de>>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_option(self)
    }
}

impl<'de> Visitor<'de> for ProjectSeed {
    type Value = Option<Project<'de>>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a project object or null")
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut id = None;
        while let Some(key) = map.next_key::<&'de str>()? {
            if key == "id" {
                id = map.next_value()?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(Some(Project { id }))
    }
}
