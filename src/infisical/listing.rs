//! Listing every machine identity of the organization, page by page.
//!
//! Current servers: `POST /api/v2/identities/search` over organization and project scopes,
//! 100 per page. Older servers (no search route: 404): the org identity-memberships listing,
//! which cannot see project-scoped identities. Identity ids are deduplicated across pages,
//! since the list can shift while it is paged; and when `totalCount` changes during the
//! listing (identities added or removed), the listing is paged again from the start (at most
//! twice), because a removal shifts later identities onto pages already fetched and offset
//! paging alone would skip them.

use std::collections::HashSet;

use http::Method;
use serde_json::{Map, Value, json};

use super::error::{ApiError, ErrorKind};
use super::page;
use super::pruned::{self, Shape};
use super::throttle::Class;
use super::transport::{PAGE_BODY_LIMIT, Request};
use super::{Client, endpoint};
use crate::model::{AuthMethod, Identity, IdentityScope};

/// Page size of the v2 search (its maximum).
const SEARCH_LIMIT: u64 = 100;
/// Page size of the memberships listing (its maximum).
const MEMBERSHIPS_LIMIT: u64 = 20000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Search,
    Memberships,
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
        }
    }

    /// The next page of identities not seen before; `None` when the listing is complete.
    pub async fn next_page(&mut self) -> Result<Option<Vec<Identity>>, ApiError> {
        while !self.done {
            let (items, total) = self.fetch().await?;
            self.first = false;
            let page_len = items.len() as u64;
            let base = self.offset;
            self.offset += page_len;
            if let Some(t) = total {
                self.total = Some(t);
                match self.pass_total {
                    None => self.pass_total = Some(t),
                    Some(first) if first != t => self.shifted = true,
                    Some(_) => {}
                }
            }
            if page_len == 0 || self.total.is_some_and(|t| self.offset >= t) {
                if self.shifted && self.repasses < MAX_REPASSES {
                    tracing::info!(
                        "the identity count changed while listing; listing again from the start                          so no identity is skipped"
                    );
                    self.repasses += 1;
                    self.offset = 0;
                    self.pass_total = None;
                    self.shifted = false;
                } else {
                    self.done = true;
                }
            }
            let identities = match items {
                Items::Identities(identities) => identities,
                Items::Values(items) => {
                    let mut identities = Vec::with_capacity(items.len());
                    for (i, item) in items.iter().enumerate() {
                        identities.push(parse_item(item).map_err(|problem| ApiError::Decode {
                            request: self.describe(),
                            detail: format!("identity listing item {}: {problem}", base + i as u64),
                        })?);
                    }
                    identities
                }
            };
            let mut page = Vec::with_capacity(identities.len());
            for identity in identities {
                if self.seen.insert(&identity.id) {
                    page.push(identity);
                }
            }
            if !page.is_empty() {
                return Ok(Some(page));
            }
        }
        Ok(None)
    }

    /// The latest `totalCount` the server reported.
    pub fn total(&self) -> Option<u64> {
        self.total
    }

    fn describe(&self) -> String {
        match self.source {
            Source::Search => "POST /api/v2/identities/search".to_owned(),
            Source::Memberships => format!(
                "GET /api/v2/organizations/{}/identity-memberships",
                self.client.org_id()
            ),
        }
    }

    async fn fetch(&mut self) -> Result<(Items, Option<u64>), ApiError> {
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
            match fetch_page(inner, &req, "identities").await {
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
        fetch_page(inner, &req, "identityMemberships").await
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

/// A page's items: read in one pass, or kept as values for [`parse_item`].
enum Items {
    Identities(Vec<Identity>),
    Values(Vec<Value>),
}

impl Items {
    fn len(&self) -> usize {
        match self {
            Items::Identities(v) => v.len(),
            Items::Values(v) => v.len(),
        }
    }
}

/// Sends a listing request; the answer is read in one pass when it has the usual shape,
/// else decoded pruned and its items checked one by one.
async fn fetch_page(
    inner: &super::Inner,
    req: &Request,
    key: &'static str,
) -> Result<(Items, Option<u64>), ApiError> {
    let body = inner
        .execute_decoded(req, |bytes| match page::parse(bytes, key)? {
            Some(fast) => Ok(Ok(fast)),
            None => pruned::from_slice(bytes, &PAGE).map(Err),
        })
        .await?;
    match body {
        Ok(fast) => Ok((Items::Identities(fast.identities), fast.total)),
        Err(value) => {
            let (items, total) = page_of(req, value, key)?;
            Ok((Items::Values(items), total))
        }
    }
}

/// What [`page_of`] and [`parse_item`] read of a listing page; the rest of each item (roles,
/// timestamps, ...) is skipped while parsing.
const PAGE: Shape = Shape::Object(&[
    ("identities", Shape::Each(&ITEM)),
    ("identityMemberships", Shape::Each(&ITEM)),
    ("totalCount", Shape::All),
]);
const ITEM: Shape = Shape::Object(&[
    (
        "identity",
        Shape::Object(&[
            ("id", Shape::All),
            ("name", Shape::All),
            ("authMethods", Shape::All),
            ("authMethod", Shape::All),
            ("projectId", Shape::All),
        ]),
    ),
    ("identityId", Shape::All),
    ("projectId", Shape::All),
    ("project", Shape::Object(&[("id", Shape::All)])),
    ("scope", Shape::All),
]);

/// The items array under `key` and the `totalCount`.
fn page_of(
    req: &Request,
    mut body: Value,
    key: &str,
) -> Result<(Vec<Value>, Option<u64>), ApiError> {
    let total = body.get("totalCount").and_then(|v| {
        v.as_u64()
            .or_else(|| v.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64))
            .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
    });
    match body.get_mut(key).map(Value::take) {
        Some(Value::Array(items)) => Ok((items, total)),
        _ => Err(ApiError::Decode {
            request: req.describe(),
            detail: format!("no `{key}` array in the answer"),
        }),
    }
}

/// One search or membership item → [`Identity`]; the error says what is wrong.
fn parse_item(item: &Value) -> Result<Identity, String> {
    let obj = item.as_object().ok_or("not an object")?;
    let identity = obj
        .get("identity")
        .and_then(Value::as_object)
        .ok_or("no `identity` object")?;
    let id = str_field(identity, "id")
        .or_else(|| str_field(obj, "identityId"))
        .ok_or("no `identity.id` or `identityId`")?;
    let name = str_field(identity, "name").ok_or("no `identity.name`")?;
    let names = auth_method_names(identity)?;
    let project_id = str_field(obj, "projectId")
        .or_else(|| {
            obj.get("project")
                .and_then(Value::as_object)
                .and_then(|p| str_field(p, "id"))
        })
        .or_else(|| str_field(identity, "projectId"));
    let scope = obj.get("scope").and_then(Value::as_str);
    identity_of(id, name, names, project_id, scope).map_err(String::from)
}

/// The identity a listing item describes, from the parts read out of it (by [`parse_item`] or
/// the one-pass page reader): method names parsed with unknown ones kept and duplicates
/// dropped; project scope when there is a project id.
pub(super) fn identity_of(
    id: &str,
    name: &str,
    method_names: Vec<&str>,
    project_id: Option<&str>,
    scope: Option<&str>,
) -> Result<Identity, &'static str> {
    let mut auth_methods: Vec<AuthMethod> = Vec::with_capacity(method_names.len());
    for name in method_names {
        let m = AuthMethod::parse(name);
        if !auth_methods.contains(&m) {
            auth_methods.push(m);
        }
    }
    let scope = match (scope, project_id) {
        (_, Some(project_id)) => IdentityScope::Project {
            project_id: project_id.to_owned(),
        },
        (Some("project"), None) => return Err("scope is `project` but there is no projectId"),
        _ => IdentityScope::Organization,
    };
    Ok(Identity {
        id: id.to_owned(),
        name: name.to_owned(),
        auth_methods,
        scope,
    })
}

fn str_field<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    obj.get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// `authMethods` (array) or the older `authMethod` (string or null), unknown names kept,
/// duplicates dropped.
fn auth_method_names(identity: &Map<String, Value>) -> Result<Vec<&str>, String> {
    Ok(match identity.get("authMethods") {
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().ok_or("`authMethods` holds a non-string"))
            .collect::<Result<_, _>>()?,
        Some(Value::Null) | None => match identity.get("authMethod") {
            Some(Value::String(s)) if !s.is_empty() => vec![s.as_str()],
            Some(Value::String(_)) | Some(Value::Null) | None => Vec::new(),
            Some(_) => return Err("`authMethod` is not a string".into()),
        },
        Some(_) => return Err("`authMethods` is not an array".into()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_item_with_project_scope() {
        let item = json!({"id": "m1", "identityId": "i1", "scope": "project", "orgId": "o",
            "projectId": "p1", "identity": {"id": "i1", "name": "ci",
            "authMethods": ["universal-auth", "quantum-auth", "universal-auth"]}});
        let id = parse_item(&item).unwrap();
        assert_eq!(id.id, "i1");
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

    #[test]
    fn legacy_membership_item() {
        let item = json!({"id": "m", "identityId": "i2",
            "identity": {"id": "i2", "name": "old", "authMethod": "aws-auth"}});
        let id = parse_item(&item).unwrap();
        assert_eq!(id.auth_methods, vec![AuthMethod::Aws]);
        assert_eq!(id.scope, IdentityScope::Organization);
        let none = json!({"identity": {"id": "i3", "name": "n", "authMethod": null}});
        assert!(parse_item(&none).unwrap().auth_methods.is_empty());
    }

    /// Items of a search page and a memberships page, well-formed and malformed: the pruned
    /// decode of the listing gives the same identities and the same errors as a full decode.
    #[test]
    fn pruned_pages_parse_like_full_ones() {
        let page = json!({"identities": [
            {"id": "m1", "identityId": "i1", "scope": "organization", "orgId": "o",
             "projectId": null, "project": null, "createdAt": "2025-10-06T05:29:28.778Z",
             "roles": [{"id": "r", "role": "member", "isTemporary": false}],
             "identity": {"name": "edge", "id": "i1", "hasDeleteProtection": false,
                          "orgId": "o", "authMethods": ["gcp-auth", "oidc-auth"]}},
            {"id": "m2", "scope": "project", "project": {"id": "p2", "name": "x"},
             "identity": {"name": "ci", "id": "i2", "authMethod": "aws-auth", "projectId": "p9"}},
            {"identityId": "i3", "identity": {"name": "n3", "authMethods": null}},
            {"scope": "project", "identity": {"id": "i4", "name": "n4"}},
            {"identity": {"id": "i5", "name": "n5", "authMethods": "universal-auth"}},
            {"identity": ["not", "an", "object"]},
            7
        ], "totalCount": 7, "other": {"big": [1, 2, 3]}});
        let bytes = serde_json::to_vec(&page).unwrap();
        let req = Request::new(
            Method::POST,
            url::Url::parse("http://h/api/v2/identities/search").unwrap(),
            Class::Read,
        );
        let full = page_of(&req, serde_json::from_slice(&bytes).unwrap(), "identities").unwrap();
        let pruned = page_of(
            &req,
            super::super::pruned::from_slice(&bytes, &PAGE).unwrap(),
            "identities",
        )
        .unwrap();
        assert_eq!(full.1, Some(7));
        assert_eq!(pruned.1, full.1);
        assert_eq!(pruned.0.len(), full.0.len());
        for (p, f) in pruned.0.iter().zip(&full.0) {
            assert_eq!(parse_item(p), parse_item(f));
        }
        assert_eq!(
            parse_item(&pruned.0[1]).unwrap().scope,
            IdentityScope::Project {
                project_id: "p2".into()
            }
        );
        let members = json!({"identityMemberships": [{"identity": {"id": "a", "name": "b"}}]});
        let bytes = serde_json::to_vec(&members).unwrap();
        let pruned = super::super::pruned::from_slice(&bytes, &PAGE).unwrap();
        let items = page_of(&req, pruned, "identityMemberships").unwrap().0;
        assert_eq!(parse_item(&items[0]).unwrap().id, "a");
    }

    #[test]
    fn malformed_items_say_why() {
        assert!(parse_item(&json!(5)).is_err());
        assert!(
            parse_item(&json!({"identity": {"id": "x"}}))
                .unwrap_err()
                .contains("name")
        );
        assert!(
            parse_item(&json!({"identity": {"id": "x", "name": "n", "authMethods": [1]}})).is_err()
        );
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

    /// The one-pass page reader gives exactly what the general decode gives for usual items,
    /// and declines (so the general decode runs) for every item the general decode rejects or
    /// reads differently.
    #[test]
    fn one_pass_pages_match_the_general_decode() {
        let usual = [
            json!({"id": "m1", "identityId": "i1", "scope": "organization", "orgId": "o",
             "projectId": null, "project": null, "createdAt": "2025-10-06T05:29:28.778Z",
             "roles": [{"id": "r", "role": "member", "isTemporary": false}],
             "identity": {"name": "edge", "id": "i1", "hasDeleteProtection": false,
                          "orgId": "o", "authMethods": ["gcp-auth", "oidc-auth", "gcp-auth", "x-auth"]}}),
            json!({"id": "m2", "scope": "project", "project": {"id": "p2", "name": "x"},
             "identity": {"name": "ci", "id": "i2", "authMethod": "aws-auth", "projectId": "p9"}}),
            json!({"identityId": "i3", "identity": {"name": "n3", "authMethods": null, "authMethod": ""}}),
            json!({"identityId": "i6", "projectId": "", "identity": {"id": "", "name": "n6", "projectId": "p6"}}),
            json!({"identity": {"id": "i7", "name": "n7é", "authMethods": []}, "scope": "organization"}),
        ];
        let unusual = [
            json!({"scope": "project", "identity": {"id": "i4", "name": "n4"}}),
            json!({"identity": {"id": "i5", "name": "n5", "authMethods": "universal-auth"}}),
            json!({"identity": ["not", "an", "object"]}),
            json!(7),
            json!({"identity": {"id": "i8", "name": ""}}),
            json!({"identity": {"id": 8, "name": "n8"}, "identityId": "i8"}),
            json!({"identity": {"id": "i9", "name": "n9", "authMethods": [null]}}),
            json!({"identity": {"id": "i10", "name": "quote\"d"}}),
            json!({"identity": {"id": "i11", "name": "n11"}, "project": "p11"}),
        ];
        let items: Vec<Value> = usual.to_vec();
        for key in ["identities", "identityMemberships"] {
            let page = json!({key: items, "totalCount": 5, "other": {"big": [1, 2, 3]}});
            let bytes = serde_json::to_vec(&page).unwrap();
            let fast = super::super::page::parse(&bytes, key)
                .unwrap()
                .expect("usual page");
            assert_eq!(fast.total, Some(5));
            let general: Vec<Identity> = items.iter().map(|i| parse_item(i).unwrap()).collect();
            assert_eq!(fast.identities, general);
        }
        for odd in unusual {
            let page = json!({"identities": [usual[0].clone(), odd.clone()], "totalCount": 2});
            let bytes = serde_json::to_vec(&page).unwrap();
            assert!(
                super::super::page::parse(&bytes, "identities")
                    .unwrap()
                    .is_none(),
                "took the fast path for {odd}"
            );
        }
        // No items array, or a total of another type: the general decode decides.
        for page in [
            json!({"totalCount": 1}),
            json!({"identities": [], "totalCount": "1"}),
        ] {
            let bytes = serde_json::to_vec(&page).unwrap();
            assert!(
                super::super::page::parse(&bytes, "identities")
                    .unwrap()
                    .is_none()
            );
        }
        // Not UTF-8: the general decode decides (it skips what it does not read, as before).
        assert!(matches!(
            super::super::page::parse(b"{\"identities\": [], \"x\": \"\xff\"}", "identities"),
            Ok(None)
        ));
        // Cut: an error (retried), not a fallback.
        assert!(
            super::super::page::parse(br#"{"identities": [{"identity": {"id": "a""#, "identities")
                .is_err()
        );
    }
}
