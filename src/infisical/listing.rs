//! Listing every machine identity of the organization, page by page.
//!
//! Current servers: `POST /api/v2/identities/search` over organization and project scopes,
//! 100 per page. Older servers (no search route: 404): the org identity-memberships listing,
//! which cannot see project-scoped identities. Identity ids are deduplicated across pages,
//! since the list can shift while it is paged; and when `totalCount` changes during the
//! listing (identities added or removed), the listing is paged again from the start (at most
//! twice), because a removal shifts later identities onto pages already fetched and offset
//! paging alone would skip them.
//!
//! Each page is decoded once, into the `Deserialize` types at the end of this file (the item
//! shapes are in `docs/infisical-api.md`), and [`identity_of`] turns each item into an
//! [`Identity`]. Fields idguard does not read are skipped; a field it reads that has another
//! JSON type, or an item without an id or a name, refuses the page with an error naming the
//! item and the field.

use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt;
use std::marker::PhantomData;

use http::Method;
use serde::Deserialize;
use serde::de::value::MapAccessDeserializer;
use serde::de::{Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::json;
use serde_path_to_error::Segment;

use super::error::{ApiError, ErrorKind, truncate};
use super::throttle::Class;
use super::transport::{PAGE_BODY_LIMIT, Request};
use super::{Client, endpoint};
use crate::model::{AuthMethod, Identity, IdentityScope, LastLogin, Usage};

/// Page size of the v2 search (its maximum).
const SEARCH_LIMIT: u64 = 100;
/// Page size of the memberships listing (its maximum).
const MEMBERSHIPS_LIMIT: u64 = 20000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Search,
    Memberships,
}

impl Source {
    /// The key of the items array in the source's answer.
    fn key(self) -> &'static str {
        match self {
            Source::Search => "identities",
            Source::Memberships => "identityMemberships",
        }
    }
}

/// Pages through the organization's identities; see [`Client::identities`].
pub struct IdentityPager {
    client: Client,
    source: Source,
    offset: u64,
    total: Option<u64>,
    /// Ids listed so far.
    seen: SeenIds,
    first: bool,
    done: bool,
    /// `totalCount` of the first page of the current pass.
    pass_total: Option<u64>,
    /// `totalCount` changed during the current pass.
    shifted: bool,
    /// Extra passes made so far.
    repasses: u32,
    /// Pages fetched in the current pass.
    pass_pages: u64,
    /// Items of the first page of the current pass (the server's page size).
    page_size: u64,
    /// Items listed again (the same identity on two pages), counted once.
    duplicates: u64,
    /// Why the listing cannot be trusted, returned once the identities before it are.
    failure: Option<ApiError>,
}

/// How many times the listing is paged again after `totalCount` changed.
const MAX_REPASSES: u32 = 2;

impl IdentityPager {
    pub(crate) fn new(client: Client) -> IdentityPager {
        IdentityPager {
            client,
            source: Source::Search,
            offset: 0,
            total: None,
            seen: SeenIds::default(),
            first: true,
            done: false,
            pass_total: None,
            shifted: false,
            repasses: 0,
            pass_pages: 0,
            page_size: 0,
            duplicates: 0,
            failure: None,
        }
    }

    /// Identities listed more than once (each counted once in the listing).
    pub fn duplicates(&self) -> u64 {
        self.duplicates
    }

    /// The next page of identities not seen before; `None` when the listing is complete.
    ///
    /// A listing that cannot be trusted to be whole ends with
    /// [`ApiError::ListingIncomplete`] (the identities already returned stay listed): a page
    /// without `totalCount`, a page that brings no new identity while the count holds, more
    /// pages than the count can need, a count that keeps changing after the listing was paged
    /// again, or fewer distinct identities than the count at the end.
    pub async fn next_page(&mut self) -> Result<Option<Vec<Identity>>, ApiError> {
        if let Some(failure) = self.failure.take() {
            return Err(failure);
        }
        while !self.done {
            let (identities, total) = self.fetch().await?;
            self.first = false;
            self.pass_pages += 1;
            let page_len = identities.len() as u64;
            if self.pass_pages == 1 {
                self.page_size = page_len;
            }
            self.offset += page_len;
            let mut page = Vec::with_capacity(identities.len());
            for identity in identities {
                if self.seen.insert(&identity.id) {
                    page.push(identity);
                } else {
                    self.duplicates += 1;
                }
            }
            let Some(t) = total else {
                self.stop(
                    "the server did not say how many identities there are (no `totalCount`), so \
                     idguard cannot tell whether it saw them all",
                );
                if !page.is_empty() {
                    return Ok(Some(page));
                }
                continue;
            };
            self.total = Some(t);
            match self.pass_total {
                None => self.pass_total = Some(t),
                Some(first) if first != t => self.shifted = true,
                Some(_) => {}
            }
            // (A pass made again after the count changed starts with identities already listed.)
            if page_len > 0 && page.is_empty() && !self.shifted && self.repasses == 0 {
                self.stop(&format!(
                    "the page at offset {} repeated identities already listed while the count \
                     stayed {t}",
                    self.offset - page_len
                ));
                continue;
            }
            // Pages the count can need, at the server's page size, plus a margin for shifts.
            let needed = t.div_ceil(self.page_size.max(1)) + 2;
            if self.pass_pages > needed {
                self.stop(&format!(
                    "{} pages were served for {t} identities, more than the count can need",
                    self.pass_pages
                ));
                if !page.is_empty() {
                    return Ok(Some(page));
                }
                continue;
            }
            if page_len == 0 || self.offset >= t {
                if self.shifted && self.repasses < MAX_REPASSES {
                    tracing::info!(
                        "the identity count changed while listing; listing again from the start \
                         so no identity is skipped"
                    );
                    self.repasses += 1;
                    self.offset = 0;
                    self.pass_total = None;
                    self.shifted = false;
                    self.pass_pages = 0;
                } else if self.shifted {
                    self.stop(&format!(
                        "the identity count kept changing while listing ({} passes)",
                        self.repasses + 1
                    ));
                } else {
                    self.done = true;
                    let listed = self.seen.len();
                    if listed < t {
                        self.stop(&format!(
                            "{listed} distinct identities were listed, the server announced {t}"
                        ));
                    }
                    if self.duplicates > 0 {
                        tracing::warn!(
                            duplicates = self.duplicates,
                            "the listing served some identities more than once; each is audited once"
                        );
                    }
                }
            }
            if !page.is_empty() {
                return Ok(Some(page));
            }
        }
        match self.failure.take() {
            Some(failure) => Err(failure),
            None => Ok(None),
        }
    }

    /// Ends the listing: it cannot be trusted to be whole. The identities already listed
    /// stay listed; the next call reports `reason`.
    fn stop(&mut self, reason: &str) {
        self.done = true;
        self.failure = Some(ApiError::ListingIncomplete {
            reason: reason.to_owned(),
        });
    }

    /// The latest `totalCount` the server reported.
    pub fn total(&self) -> Option<u64> {
        self.total
    }

    async fn fetch(&mut self) -> Result<(Vec<Identity>, Option<u64>), ApiError> {
        let inner = &self.client.inner;
        if self.source == Source::Search {
            let mut req = Request::new(
                Method::POST,
                endpoint(&inner.base, &["api", "v2", "identities", "search"]),
                Class::Read,
            );
            req.body_limit = PAGE_BODY_LIMIT;
            req.forbidden = ErrorKind::Auth;
            req.set_json(&json!({
                "scope": ["organization", "project"],
                "limit": SEARCH_LIMIT,
                "offset": self.offset,
                "orderBy": "name",
                "orderDirection": "asc",
            }));
            match fetch_page(inner, &req, Source::Search, self.offset).await {
                Ok(page) => return Ok(page),
                Err(e) if self.first && e.status() == Some(404) => {
                    tracing::info!(
                        "this server has no POST /api/v2/identities/search; falling back to the \
                         org identity-memberships listing, which cannot list project-scoped \
                         identities"
                    );
                    self.source = Source::Memberships;
                }
                Err(e) => return Err(e),
            }
        }
        let mut url = endpoint(
            &inner.base,
            &[
                "api",
                "v2",
                "organizations",
                &inner.org_id,
                "identity-memberships",
            ],
        );
        url.query_pairs_mut()
            .append_pair("limit", &MEMBERSHIPS_LIMIT.to_string())
            .append_pair("offset", &self.offset.to_string());
        let mut req = Request::new(Method::GET, url, Class::Read);
        req.body_limit = PAGE_BODY_LIMIT;
        req.forbidden = ErrorKind::Auth;
        fetch_page(inner, &req, Source::Memberships, self.offset).await
    }
}

/// The set of identity ids listed so far (one insert per identity, up to millions of them).
/// Infisical's ids are UUIDs: those in canonical form (lower-case, hyphenated) are kept as
/// 128-bit numbers, which hash and compare without touching the heap; any other id is kept as
/// text. Two ids are the same entry exactly when their texts are equal.
#[derive(Default)]
struct SeenIds {
    uuids: HashSet<u128, foldhash::fast::RandomState>,
    others: HashSet<String, foldhash::fast::RandomState>,
}

impl SeenIds {
    /// How many distinct ids were added.
    fn len(&self) -> u64 {
        (self.uuids.len() + self.others.len()) as u64
    }

    /// Adds `id`; `false` when it was there already.
    fn insert(&mut self, id: &str) -> bool {
        match canonical_uuid(id) {
            Some(n) => self.uuids.insert(n),
            None => self.others.insert(id.to_owned()),
        }
    }
}

/// The value of a canonical UUID text (`xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`, lower-case hex);
/// `None` for any other text, so that distinct texts never share a value.
fn canonical_uuid(id: &str) -> Option<u128> {
    let b = id.as_bytes();
    if b.len() != 36 {
        return None;
    }
    let mut n: u128 = 0;
    for (i, &c) in b.iter().enumerate() {
        if matches!(i, 8 | 13 | 18 | 23) {
            if c != b'-' {
                return None;
            }
            continue;
        }
        let digit = match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            _ => return None,
        };
        n = (n << 4) | u128::from(digit);
    }
    Some(n)
}

/// Sends a listing request and decodes its answer. A body that is not JSON (cut short,
/// invalid) is retried by the transport; a page of JSON that idguard cannot read is a
/// [`ApiError::Decode`] naming the item (counted from the start of the listing) and the field.
async fn fetch_page(
    inner: &super::Inner,
    req: &Request,
    source: Source,
    base: u64,
) -> Result<(Vec<Identity>, Option<u64>), ApiError> {
    let page = inner
        .execute_decoded(req, |bytes| decode_page(bytes, source))
        .await?;
    page.map(|page| (page.identities, page.total))
        .map_err(|refused| {
            inner.transport.scrub(ApiError::Decode {
                request: req.describe(),
                detail: refused.detail(source, base),
            })
        })
}

/// One decoded listing page.
#[derive(Debug, PartialEq)]
struct Listed {
    /// Its identities, in the page's order.
    identities: Vec<Identity>,
    /// Its `totalCount`, when it has a usable one.
    total: Option<u64>,
}

/// Why a page of valid JSON was refused.
#[derive(Debug, PartialEq)]
enum Refused {
    /// No array of items under the source's key (or the answer is not an object).
    NoItems,
    /// The item at `index` in the page cannot be read: `problem` says which field and why.
    Item { index: usize, problem: String },
}

impl Refused {
    /// What to say of a refused page of `source` whose first item is item `base` of the
    /// listing.
    fn detail(self, source: Source, base: u64) -> String {
        match self {
            Refused::NoItems => format!("no `{}` array in the answer", source.key()),
            Refused::Item { index, problem } => {
                format!("identity listing item {}: {problem}", base + index as u64)
            }
        }
    }
}

/// Decodes a listing page of `source`. `Err` only for a body that is not JSON, which the
/// transport retries; a page that is JSON but not a listing page is `Ok(Err(_))`.
fn decode_page(bytes: &[u8], source: Source) -> serde_json::Result<Result<Listed, Refused>> {
    match source {
        Source::Search => decode::<SearchPage>(bytes, source.key()),
        Source::Memberships => decode::<MembershipsPage>(bytes, source.key()),
    }
}

/// [`decode_page`] for a page type `P` whose items are under `key`.
fn decode<'a, P>(bytes: &'a [u8], key: &str) -> serde_json::Result<Result<Listed, Refused>>
where
    P: Deserialize<'a> + Into<Page<'a>>,
{
    let page: Page = match serde_json::from_slice::<Object<P>>(bytes) {
        Ok(page) => page.0.into(),
        Err(e) if e.is_data() => return refusal::<Object<P>>(bytes, key).map(Err),
        Err(e) => return Err(e),
    };
    let mut identities = Vec::with_capacity(page.items.len());
    for (index, item) in page.items.into_iter().enumerate() {
        match identity_of(item.0) {
            Ok(identity) => identities.push(identity),
            Err(problem) => {
                return Ok(Err(Refused::Item {
                    index,
                    problem: problem.to_owned(),
                }));
            }
        }
    }
    Ok(Ok(Listed {
        identities,
        total: page.total,
    }))
}

/// What is wrong with a page that is JSON but not the shape `P` expects: the page as a whole,
/// or which item and which of its fields (found by decoding it again, tracking the path).
fn refusal<'a, P: Deserialize<'a>>(bytes: &'a [u8], key: &str) -> serde_json::Result<Refused> {
    // A body cut short is retried, whatever comes before the cut.
    serde_json::from_slice::<IgnoredAny>(bytes)?;
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let Err(e) = serde_path_to_error::deserialize::<_, P>(&mut de) else {
        return Ok(Refused::NoItems);
    };
    let mut segments = e.path().iter();
    let (Some(Segment::Map { key: found }), Some(Segment::Seq { index })) =
        (segments.next(), segments.next())
    else {
        return Ok(Refused::NoItems);
    };
    if found != key {
        return Ok(Refused::NoItems);
    }
    let mut field = String::new();
    for segment in segments {
        match segment {
            Segment::Map { key } => {
                if !field.is_empty() {
                    field.push('.');
                }
                field.push_str(key);
            }
            Segment::Seq { index } => field.push_str(&format!("[{index}]")),
            Segment::Enum { .. } | Segment::Unknown => field.push_str(".?"),
        }
    }
    // serde's message can quote the offending value (an id or a name): bounded and cleaned.
    let problem = if field.is_empty() {
        truncate(&e.inner().to_string())
    } else {
        truncate(&format!("`{field}`: {}", e.inner()))
    };
    Ok(Refused::Item {
        index: *index,
        problem,
    })
}

/// A listing page, whichever source it came from.
struct Page<'a> {
    items: Vec<Object<Item<'a>>>,
    total: Option<u64>,
}

/// An answer of `POST /api/v2/identities/search`.
#[derive(Deserialize)]
struct SearchPage<'a> {
    #[serde(borrow)]
    identities: Vec<Object<Item<'a>>>,
    #[serde(rename = "totalCount", default, deserialize_with = "total_count")]
    total: Option<u64>,
}

impl<'a> From<SearchPage<'a>> for Page<'a> {
    fn from(page: SearchPage<'a>) -> Page<'a> {
        Page {
            items: page.identities,
            total: page.total,
        }
    }
}

/// An answer of `GET /api/v2/organizations/{orgId}/identity-memberships`.
#[derive(Deserialize)]
struct MembershipsPage<'a> {
    #[serde(borrow, rename = "identityMemberships")]
    items: Vec<Object<Item<'a>>>,
    #[serde(rename = "totalCount", default, deserialize_with = "total_count")]
    total: Option<u64>,
}

impl<'a> From<MembershipsPage<'a>> for Page<'a> {
    fn from(page: MembershipsPage<'a>) -> Page<'a> {
        Page {
            items: page.items,
            total: page.total,
        }
    }
}

/// `totalCount`: an integer; a non-negative float (truncated) or a numeric string are read
/// too. Any other value (negative, `null`, another type) counts as no count.
fn total_count<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Count {
        Integer(u64),
        Float(f64),
        Text(String),
        Other(IgnoredAny),
    }
    Ok(match Count::deserialize(d)? {
        Count::Integer(n) => Some(n),
        Count::Float(f) => (f >= 0.0).then_some(f as u64),
        Count::Text(s) => s.trim().parse().ok(),
        Count::Other(_) => None,
    })
}

/// One search or membership item: the parts idguard reads (every other field is skipped).
/// Where the identity's id and project are taken from is [`identity_of`]'s business.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Item<'a> {
    #[serde(borrow)]
    identity: Object<ItemIdentity<'a>>,
    #[serde(borrow)]
    identity_id: Option<Text<'a>>,
    #[serde(borrow)]
    project_id: Option<Text<'a>>,
    #[serde(borrow)]
    project: Option<Object<ItemProject<'a>>>,
    #[serde(borrow)]
    scope: Option<Text<'a>>,
    /// When the membership was created.
    #[serde(borrow)]
    created_at: Option<Text<'a>>,
    /// Absent on servers that do not report last logins; `null` when there was none.
    #[serde(default, deserialize_with = "present")]
    last_login_time: Option<Option<String>>,
    #[serde(borrow)]
    last_login_auth_method: Option<Text<'a>>,
}

/// `Some(value)` for a field that is present, even when it is `null` (`Some(None)`); with
/// `#[serde(default)]` an absent field stays `None`.
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

/// An item's `identity` object.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ItemIdentity<'a> {
    #[serde(borrow)]
    id: Option<Text<'a>>,
    #[serde(borrow)]
    name: Option<Text<'a>>,
    /// Current servers: every attached method.
    #[serde(borrow)]
    auth_methods: Option<Vec<Text<'a>>>,
    /// Older servers: the one attached method, or `null`.
    #[serde(borrow)]
    auth_method: Option<Text<'a>>,
    #[serde(borrow)]
    project_id: Option<Text<'a>>,
}

/// An item's `project` object.
#[derive(Deserialize)]
struct ItemProject<'a> {
    #[serde(borrow)]
    id: Option<Text<'a>>,
}

/// A `T` decoded from a JSON object only (serde's derived structs also accept an array of
/// their fields in order, which no listing answer means).
struct Object<T>(T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Object<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Object<T>, D::Error> {
        struct Fields<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for Fields<T> {
            type Value = T;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
                T::deserialize(MapAccessDeserializer::new(map))
            }
        }
        d.deserialize_map(Fields(PhantomData)).map(Object)
    }
}

/// A JSON string, borrowed from the page unless it holds escapes.
#[derive(Deserialize)]
struct Text<'a>(#[serde(borrow)] Cow<'a, str>);

/// The text of a field that is present and not empty.
fn non_empty(text: Option<Text<'_>>) -> Option<Cow<'_, str>> {
    text.map(|t| t.0).filter(|s| !s.is_empty())
}

/// The single place a listing item becomes an [`Identity`]: the id is `identity.id`, else
/// `identityId`; the methods are `identity.authMethods`, else the older single
/// `identity.authMethod` (string or null), unknown names kept and duplicates dropped; the
/// project is `projectId`, else `project.id`, else `identity.projectId`, and its presence makes
/// the identity project-scoped. Empty strings count as absent.
fn identity_of(item: Item<'_>) -> Result<Identity, &'static str> {
    let Item {
        identity: Object(identity),
        identity_id,
        project_id,
        project,
        scope,
        created_at,
        last_login_time,
        last_login_auth_method,
    } = item;
    let id = non_empty(identity.id)
        .or_else(|| non_empty(identity_id))
        .ok_or("no `identity.id` or `identityId`")?;
    let name = non_empty(identity.name).ok_or("no `identity.name`")?;
    let method_names = match identity.auth_methods {
        Some(names) => names,
        None => identity
            .auth_method
            .filter(|m| !m.0.is_empty())
            .into_iter()
            .collect(),
    };
    let mut auth_methods: Vec<AuthMethod> = Vec::with_capacity(method_names.len());
    for name in method_names {
        let m = AuthMethod::parse(&name.0);
        if !auth_methods.contains(&m) {
            auth_methods.push(m);
        }
    }
    let project_id = non_empty(project_id)
        .or_else(|| project.and_then(|p| non_empty(p.0.id)))
        .or_else(|| non_empty(identity.project_id));
    let scope = match (scope.as_ref().map(|s| &*s.0), project_id) {
        (_, Some(project_id)) => IdentityScope::Project {
            project_id: project_id.into_owned(),
        },
        (Some("project"), None) => return Err("scope is `project` but there is no projectId"),
        _ => IdentityScope::Organization,
    };
    let created_at = match non_empty(created_at) {
        Some(text) => Some(text.parse().map_err(|_| "`createdAt` is not a timestamp")?),
        None => None,
    };
    let last_login = match last_login_time {
        None => LastLogin::NotReported,
        Some(None) => LastLogin::Never,
        Some(Some(text)) if text.is_empty() => LastLogin::Never,
        Some(Some(text)) => LastLogin::At {
            time: text
                .parse()
                .map_err(|_| "`lastLoginTime` is not a timestamp")?,
            method: non_empty(last_login_auth_method).map(|m| AuthMethod::parse(&m)),
        },
    };
    Ok(Identity {
        id: id.into_owned(),
        name: name.into_owned(),
        auth_methods,
        scope,
        usage: Usage {
            created_at,
            last_login,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    /// The answer of `source` holding `items`.
    fn body(source: Source, items: Value) -> Vec<u8> {
        serde_json::to_vec(&json!({source.key(): items, "totalCount": 2})).unwrap()
    }

    /// Decodes a search page of valid JSON.
    fn search(items: Value) -> Result<Listed, Refused> {
        decode_page(&body(Source::Search, items), Source::Search).expect("valid JSON")
    }

    /// The identity of a one-item search page.
    fn one(item: Value) -> Result<Identity, Refused> {
        search(json!([item])).map(|mut listed| listed.identities.remove(0))
    }

    /// A search item with a project: project-scoped; unknown method names are kept and
    /// repeated ones dropped; fields idguard does not read (roles, timestamps, ...) are skipped.
    #[test]
    fn search_item_with_project_scope() {
        let id = one(
            json!({"id": "m1", "identityId": "i1", "scope": "project", "orgId": "o",
            "projectId": "p1", "createdAt": "2025-10-06T05:29:28.778Z", "lastLoginTime": null,
            "roles": [{"id": "r", "role": "member", "isTemporary": false}],
            "identity": {"id": "i1", "name": "ci", "hasDeleteProtection": false,
                "activeLockoutAuthMethods": [],
                "authMethods": ["universal-auth", "quantum-auth", "universal-auth"]}}),
        )
        .unwrap();
        assert_eq!(id.id, "i1");
        assert_eq!(id.name, "ci");
        assert_eq!(
            id.auth_methods,
            vec![
                AuthMethod::Universal,
                AuthMethod::Unknown("quantum-auth".into())
            ]
        );
        assert_eq!(
            id.scope,
            IdentityScope::Project {
                project_id: "p1".into()
            }
        );
    }

    /// Last logins: absent fields (older servers) are "not reported", `null` is "never", a
    /// time comes with the method that logged in; a time that is not one refuses the item.
    #[test]
    fn last_logins_as_servers_report_them() {
        let item = |extra: Value| {
            let mut item = json!({"createdAt": "2024-12-01T10:00:00.000Z",
                "identity": {"id": "i1", "name": "ci", "authMethods": []}});
            if let (Some(item), Some(extra)) = (item.as_object_mut(), extra.as_object()) {
                item.extend(extra.clone());
            }
            one(item)
        };
        let usage = |extra: Value| item(extra).unwrap().usage;
        let created: jiff::Timestamp = "2024-12-01T10:00:00Z".parse().unwrap();
        assert_eq!(
            usage(json!({})),
            Usage {
                created_at: Some(created),
                last_login: LastLogin::NotReported
            }
        );
        assert_eq!(
            usage(json!({"lastLoginTime": null, "lastLoginAuthMethod": null})).last_login,
            LastLogin::Never
        );
        assert_eq!(
            usage(json!({"lastLoginTime": "2026-12-02T08:00:00.000Z",
                "lastLoginAuthMethod": "aws-auth"}))
            .last_login,
            LastLogin::At {
                time: "2026-12-02T08:00:00Z".parse().unwrap(),
                method: Some(AuthMethod::Aws)
            }
        );
        for bad in [
            json!({"lastLoginTime": "yesterday"}),
            json!({"lastLoginTime": 5}),
            json!({"createdAt": "soon"}),
        ] {
            assert!(item(bad.clone()).is_err(), "{bad}");
        }
    }

    /// Older servers' memberships items: the single `authMethod` (a string, `null` or `""`) is
    /// read when `authMethods` is absent or null, under the `identityMemberships` key.
    #[test]
    fn legacy_membership_items() {
        let items = json!([
            {"id": "m", "identityId": "i2", "role": "admin",
             "identity": {"id": "i2", "name": "old", "authMethod": "aws-auth"}},
            {"identity": {"id": "i3", "name": "n", "authMethod": null}},
            {"identity": {"id": "i4", "name": "n", "authMethods": null, "authMethod": ""}},
            {"identity": {"id": "i5", "name": "n", "authMethods": [], "authMethod": "aws-auth"}},
        ]);
        let listed = decode_page(&body(Source::Memberships, items), Source::Memberships)
            .unwrap()
            .unwrap();
        let methods: Vec<_> = listed.identities.iter().map(|i| &i.auth_methods).collect();
        assert_eq!(methods, [&vec![AuthMethod::Aws], &vec![], &vec![], &vec![]]);
        assert_eq!(listed.identities[0].scope, IdentityScope::Organization);
        assert_eq!(listed.total, Some(2));
    }

    /// The id is `identity.id`, else `identityId`; the project is `projectId`, else
    /// `project.id`, else `identity.projectId`; empty strings and nulls count as absent.
    #[test]
    fn where_the_id_and_the_project_come_from() {
        let project = |p: &str| IdentityScope::Project {
            project_id: p.into(),
        };
        let cases = [
            (
                json!({"identityId": "i", "identity": {"name": "n"}}),
                "i",
                IdentityScope::Organization,
            ),
            (
                json!({"identityId": "i", "identity": {"id": "", "name": "n"}}),
                "i",
                IdentityScope::Organization,
            ),
            (
                json!({"identityId": "x", "identity": {"id": "i", "name": "n"}}),
                "i",
                IdentityScope::Organization,
            ),
            (
                json!({"projectId": "p1", "project": {"id": "p2"},
                       "identity": {"id": "i", "name": "n", "projectId": "p3"}}),
                "i",
                project("p1"),
            ),
            (
                json!({"projectId": "", "project": {"id": "p2", "name": "x"},
                       "identity": {"id": "i", "name": "n", "projectId": "p3"}}),
                "i",
                project("p2"),
            ),
            (
                json!({"projectId": null, "project": null, "scope": "project",
                       "identity": {"id": "i", "name": "n", "projectId": "p3"}}),
                "i",
                project("p3"),
            ),
            (
                json!({"scope": "organization", "project": {"name": "x"},
                       "identity": {"id": "i", "name": "n", "projectId": ""}}),
                "i",
                IdentityScope::Organization,
            ),
        ];
        for (item, id, scope) in cases {
            let identity = one(item.clone()).unwrap();
            assert_eq!(
                (identity.id.as_str(), identity.scope),
                (id, scope),
                "{item}"
            );
        }
    }

    /// `totalCount` is read as an integer, a non-negative float (truncated) or a numeric
    /// string; any other value, or none, is no count (the listing then pages until a page
    /// comes back empty), never an error.
    #[test]
    fn total_count_as_servers_send_it() {
        let cases = [
            (json!(7), Some(7)),
            (json!(7.0), Some(7)),
            (json!(2.5), Some(2)),
            (json!("12"), Some(12)),
            (json!(" 12 "), Some(12)),
            (json!(-1), None),
            (json!(-1.5), None),
            (json!("-1"), None),
            (json!("many"), None),
            (json!(null), None),
            (json!(true), None),
            (json!({"n": 1}), None),
            (json!([1]), None),
        ];
        for (total, want) in cases {
            let page = serde_json::to_vec(&json!({"identities": [], "totalCount": total})).unwrap();
            let listed = decode_page(&page, Source::Search).unwrap().unwrap();
            assert_eq!(listed.total, want, "{total}");
        }
        let listed = decode_page(br#"{"identities": []}"#, Source::Search)
            .unwrap()
            .unwrap();
        assert_eq!(listed.total, None);
    }

    /// Escaped strings decode to their text; unknown keys at every level are skipped, the
    /// other source's key included (whatever it holds), and so are invalid UTF-8 bytes in a
    /// field idguard does not read.
    #[test]
    fn escapes_and_unknown_fields() {
        let page = br#"{"identities": [{"identity": {"id": "i\u0031", "name": "quote\"d \u00e9",
            "authMethods": ["universal\u002dauth"], "extra": {"deep": [[1, {"x": null}]]}}}],
            "identityMemberships": 7, "totalCount": 1, "next": "#
            .iter()
            .chain(b"\"\xff\"}")
            .copied()
            .collect::<Vec<u8>>();
        let listed = decode_page(&page, Source::Search).unwrap().unwrap();
        assert_eq!(listed.identities[0].id, "i1");
        assert_eq!(listed.identities[0].name, "quote\"d é");
        assert_eq!(
            listed.identities[0].auth_methods,
            vec![AuthMethod::Universal]
        );
    }

    /// A bad item refuses the page with its index and what is wrong with it: which field has
    /// the wrong type, or which one is missing.
    #[test]
    fn malformed_items_name_the_item_and_the_field() {
        let good = json!({"identity": {"id": "g", "name": "good"}});
        let cases = [
            (
                json!(7),
                "invalid type: integer `7`, expected a JSON object",
            ),
            (json!({"identityId": "i"}), "missing field `identity`"),
            (
                json!({"identity": ["i", "n"]}),
                "`identity`: invalid type: sequence, expected a JSON object",
            ),
            (json!({"identity": {"id": "x"}}), "no `identity.name`"),
            (
                json!({"identity": {"id": "x", "name": ""}}),
                "no `identity.name`",
            ),
            (
                json!({"identity": {"name": "n"}}),
                "no `identity.id` or `identityId`",
            ),
            (
                json!({"identity": {"id": "", "name": "n"}, "identityId": ""}),
                "no `identity.id` or `identityId`",
            ),
            (
                json!({"identity": {"id": 8, "name": "n"}, "identityId": "i8"}),
                "`identity.id`: invalid type",
            ),
            (
                json!({"identity": {"id": "i", "name": ["n"]}}),
                "`identity.name`: invalid type",
            ),
            (
                json!({"identity": {"id": "i", "name": "n", "authMethods": "universal-auth"}}),
                "`identity.authMethods`: invalid type",
            ),
            (
                json!({"identity": {"id": "i", "name": "n", "authMethods": ["aws-auth", null]}}),
                "`identity.authMethods[1]`: invalid type",
            ),
            (
                json!({"identity": {"id": "i", "name": "n", "authMethod": 5}}),
                "`identity.authMethod`: invalid type",
            ),
            (
                json!({"identity": {"id": "i", "name": "n"}, "project": "p"}),
                "`project`: invalid type",
            ),
            (
                json!({"identity": {"id": "i", "name": "n"}, "project": ["p"]}),
                "`project`: invalid type",
            ),
            (
                json!({"identity": {"id": "i", "name": "n"}, "scope": 1}),
                "`scope`: invalid type",
            ),
            (
                json!({"scope": "project", "identity": {"id": "i", "name": "n"}}),
                "scope is `project` but there is no projectId",
            ),
        ];
        for (bad, want) in cases {
            match search(json!([good, bad])) {
                Err(Refused::Item { index: 1, problem }) => {
                    assert!(problem.contains(want), "{bad}: {problem}");
                }
                other => panic!("{bad}: {other:?}"),
            }
        }
        let duplicate = br#"{"identities": [{"identity": {"id": "a", "name": "n"},
            "identity": {"id": "b", "name": "n"}}]}"#;
        assert!(matches!(
            decode_page(duplicate, Source::Search).unwrap(),
            Err(Refused::Item { index: 0, problem }) if problem.contains("duplicate field `identity`")
        ));
    }

    /// The error of a refused item counts from the start of the listing and is bounded, even
    /// when serde quotes a long offending value.
    #[test]
    fn refusals_count_from_the_listing_start_and_are_bounded() {
        let long = "x".repeat(5000);
        let Err(refused) =
            search(json!([{"identity": {"id": "i", "name": "n", "authMethods": long}}]))
        else {
            panic!("accepted");
        };
        let detail = refused.detail(Source::Search, 300);
        assert!(
            detail.starts_with("identity listing item 300: "),
            "{detail}"
        );
        assert!(detail.chars().count() < 400, "{detail}");
        assert_eq!(
            Refused::NoItems.detail(Source::Memberships, 0),
            "no `identityMemberships` array in the answer"
        );
    }

    /// An answer without an array of items under the source's key is refused as a whole.
    #[test]
    fn pages_without_items_are_refused() {
        for page in [
            json!({"totalCount": 1}),
            json!({"identities": null}),
            json!({"identities": {"0": {}}}),
            json!({"identityMemberships": []}),
            json!([]),
            json!([[], 0]),
            json!("identities"),
        ] {
            let bytes = serde_json::to_vec(&page).unwrap();
            assert_eq!(
                decode_page(&bytes, Source::Search).unwrap(),
                Err(Refused::NoItems),
                "{page}"
            );
        }
        assert_eq!(
            decode_page(br#"{"identities": []}"#, Source::Memberships).unwrap(),
            Err(Refused::NoItems)
        );
    }

    /// A body that is not JSON (cut short, with trailing bytes, empty) is an error the
    /// transport retries, even when a refused item comes before the cut.
    #[test]
    fn bodies_that_are_not_json_are_retried() {
        for body in [
            &br#"{"identities": [{"identity": {"id": "a""#[..],
            br#"{"identities": [7, {"identity": {"id": "a""#,
            br#"{"identities": [], "totalCount": 1} x"#,
            br#"{"identities": [], "totalCount": 1e400}"#,
            b"",
        ] {
            assert!(
                decode_page(body, Source::Search).is_err(),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn seen_ids_keep_distinct_texts_apart() {
        let mut seen = SeenIds::default();
        let a = "67e55044-10b1-426f-9247-bb680e5fe0c8";
        assert!(seen.insert(a));
        assert!(!seen.insert(a));
        // Same UUID value, other spellings: other ids (the server compares text).
        for other in [
            "67E55044-10B1-426F-9247-BB680E5FE0C8",
            "67e5504410b1426f9247bb680e5fe0c8",
            "{67e55044-10b1-426f-9247-bb680e5fe0c8}",
        ] {
            assert!(seen.insert(other), "{other}");
            assert!(!seen.insert(other), "{other}");
        }
        assert!(seen.insert("67e55044-10b1-426f-9247-bb680e5fe0c9"));
        assert!(seen.insert("not-a-uuid"));
        assert!(!seen.insert("not-a-uuid"));
        assert_eq!(
            canonical_uuid("00000000-0000-0000-0000-00000000000f"),
            Some(15)
        );
        assert_eq!(canonical_uuid("00000000-0000-0000-0000-00000000000g"), None);
        assert_eq!(canonical_uuid("00000000x0000-0000-0000-00000000000f"), None);
    }
}
