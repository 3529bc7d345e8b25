//! Reading the organization's audit log, one page at a time: `GET
//! /api/v1/organization/audit-logs`, newest first, paged by `offset`, without a total count
//! (shapes and filters in `docs/infisical-api.md`, "Audit logs").
//!
//! idguard reads it for usage evidence: the addresses an identity logged in from or used its
//! token from. Two filters name an identity: the requests made with its token (and the logins
//! that name it as the actor) are `actorType=identity&actor=<id>`; the logins of methods whose
//! events name it only in their metadata are `eventMetadata=identityId=<id>`.
//!
//! It also reads it as a change feed (`eventType=<type>,<type>,...`): the events that changed an
//! identity or one of its auth configs, each naming the identity in `event.metadata.identityId`.

use http::Method;
use jiff::Timestamp;
use serde::Deserialize;

use super::Client;
use super::error::ApiError;
use super::throttle::Class;
use super::transport::{PAGE_BODY_LIMIT, Request};

/// The largest page the server accepts.
pub const AUDIT_LOG_PAGE_LIMIT: u32 = 1000;

/// Which events of a time range to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventsOf<'a> {
    /// Events whose actor is this identity: requests made with its token, and the logins
    /// newer servers record with the identity as actor.
    Actor(&'a str),
    /// Events whose metadata names this identity (`identityId`): every login, whatever the
    /// actor, and changes made to it.
    Metadata(&'a str),
    /// Events of these types (`eventType`, a comma list).
    Types(&'a [&'a str]),
    /// Every event of the organization.
    Any,
}

/// One page's query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuditLogQuery<'a> {
    pub events: EventsOf<'a>,
    pub since: Timestamp,
    pub until: Timestamp,
    pub offset: u64,
    /// At most [`AUDIT_LOG_PAGE_LIMIT`].
    pub limit: u32,
}

/// One audit-log event, as far as usage evidence needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    pub id: String,
    /// `event.type`, e.g. `login-identity-aws-auth` or `get-secrets`.
    pub event_type: String,
    /// The caller's address; absent on the logins of older servers.
    pub ip_address: Option<String>,
    pub created_at: Timestamp,
    /// `event.metadata.identityId`: the identity a login or a change is about, when named.
    pub identity_id: Option<String>,
}

impl Client {
    /// One page of the organization's audit log, newest first. A page shorter than the
    /// query's limit is the last one.
    pub async fn audit_log_page(
        &self,
        query: &AuditLogQuery<'_>,
    ) -> Result<Vec<AuditEvent>, ApiError> {
        let mut req = Request::at_path(
            Method::GET,
            format!(
                "{}/api/v1/organization/audit-logs?{}",
                self.inner.base_path,
                query_string(query)
            ),
            Class::Read,
        );
        req.body_limit = PAGE_BODY_LIMIT;
        let page = self
            .inner
            .execute_decoded(&req, |bytes| serde_json::from_slice::<Page>(bytes))
            .await?;
        page.audit_logs
            .into_iter()
            .enumerate()
            .map(|(i, event)| {
                event
                    .checked()
                    .map_err(|what| format!("auditLogs[{i}]: {what}"))
            })
            .collect::<Result<Vec<_>, String>>()
            .map_err(|detail| {
                self.inner.transport.scrub(ApiError::Decode {
                    request: req.describe(),
                    detail,
                })
            })
    }
}

/// The encoded query string of `query`.
fn query_string(query: &AuditLogQuery<'_>) -> String {
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    match query.events {
        EventsOf::Actor(id) => {
            q.append_pair("actorType", "identity");
            q.append_pair("actor", id);
        }
        EventsOf::Metadata(id) => {
            q.append_pair("eventMetadata", &format!("identityId={id}"));
        }
        EventsOf::Types(types) => {
            q.append_pair("eventType", &types.join(","));
        }
        EventsOf::Any => {}
    }
    q.append_pair("startDate", &query.since.to_string());
    q.append_pair("endDate", &query.until.to_string());
    q.append_pair("offset", &query.offset.to_string());
    q.append_pair(
        "limit",
        &query.limit.clamp(1, AUDIT_LOG_PAGE_LIMIT).to_string(),
    );
    q.finish()
}

/// An audit-log answer (fields idguard does not read are skipped).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Page {
    audit_logs: Vec<RawEvent>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawEvent {
    id: Option<String>,
    ip_address: Option<String>,
    created_at: Option<String>,
    event: Option<RawEventBody>,
}

#[derive(Deserialize)]
struct RawEventBody {
    #[serde(rename = "type")]
    event_type: Option<String>,
    metadata: Option<RawMetadata>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawMetadata {
    /// Kept only when it is a string (other shapes name no identity idguard can look up).
    #[serde(default, deserialize_with = "string_or_none")]
    identity_id: Option<String>,
}

/// A string, or `None` for any other JSON value.
fn string_or_none<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match serde_json::Value::deserialize(d)? {
        serde_json::Value::String(s) => Some(s),
        _ => None,
    })
}

impl RawEvent {
    /// The event, or what is missing or wrong. An empty `ipAddress` counts as absent.
    fn checked(self) -> Result<AuditEvent, &'static str> {
        let id = self.id.filter(|s| !s.is_empty()).ok_or("no `id`")?;
        let (event_type, metadata) = match self.event {
            Some(body) => (body.event_type, body.metadata),
            None => (None, None),
        };
        let event_type = event_type
            .filter(|s| !s.is_empty())
            .ok_or("no `event.type`")?;
        let created_at = self
            .created_at
            .ok_or("no `createdAt`")?
            .parse()
            .map_err(|_| "`createdAt` is not a timestamp")?;
        Ok(AuditEvent {
            id,
            event_type,
            ip_address: self.ip_address.filter(|s| !s.trim().is_empty()),
            created_at,
            identity_id: metadata
                .and_then(|m| m.identity_id)
                .filter(|s| !s.is_empty()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    /// The identity filters as the server reads them, percent-encoded; the limit is clamped to
    /// what the server accepts.
    #[test]
    fn query_strings() {
        let query = |events, limit| AuditLogQuery {
            events,
            since: at("2026-11-05T00:00:00Z"),
            until: at("2026-12-05T00:00:00Z"),
            offset: 2000,
            limit,
        };
        assert_eq!(
            query_string(&query(EventsOf::Actor("i-1"), 1000)),
            "actorType=identity&actor=i-1&startDate=2026-11-05T00%3A00%3A00Z\
             &endDate=2026-12-05T00%3A00%3A00Z&offset=2000&limit=1000"
        );
        assert!(
            query_string(&query(EventsOf::Metadata("i-1"), 5000))
                .starts_with("eventMetadata=identityId%3Di-1&startDate=")
        );
        assert!(query_string(&query(EventsOf::Metadata("i-1"), 5000)).ends_with("&limit=1000"));
        assert!(query_string(&query(EventsOf::Any, 0)).ends_with("&offset=2000&limit=1"));
        assert!(
            query_string(&query(
                EventsOf::Types(&["update-identity-aws-auth", "delete-identity"]),
                1000
            ))
            .starts_with("eventType=update-identity-aws-auth%2Cdelete-identity&startDate=")
        );
    }

    /// Events as newer and older servers send them; an event without an id, a type or a valid
    /// time is refused with its index.
    #[test]
    fn events_decode_or_name_what_is_wrong() {
        let page: Page = serde_json::from_value(serde_json::json!({"auditLogs": [
            {"id": "e1", "ipAddress": "203.0.113.7", "userAgent": "curl", "createdAt": "2026-12-02T08:00:00.000Z",
             "event": {"type": "get-secrets", "metadata": {}}, "actor": {"type": "identity", "metadata": {"identityId": "i"}}},
            {"id": "e2", "ipAddress": null, "createdAt": "2024-10-01T00:00:00Z",
             "event": {"type": "login-identity-aws-auth"}},
            {"id": "e3", "ipAddress": "", "createdAt": "2024-10-01T00:00:00Z", "event": {"type": "x"}},
            {"id": "e4", "createdAt": "2024-10-01T00:00:00Z",
             "event": {"type": "update-identity-aws-auth", "metadata": {"identityId": "i-9", "accessTokenTTL": 60}}},
            {"id": "e5", "createdAt": "2024-10-01T00:00:00Z",
             "event": {"type": "update-identity", "metadata": {"identityId": 7}}},
        ]}))
        .unwrap();
        let events: Vec<_> = page
            .audit_logs
            .into_iter()
            .map(|e| e.checked().unwrap())
            .collect();
        assert_eq!(events[0].ip_address.as_deref(), Some("203.0.113.7"));
        assert_eq!(events[0].created_at, at("2026-12-02T08:00:00Z"));
        assert_eq!(events[1].event_type, "login-identity-aws-auth");
        assert_eq!(events[1].ip_address, None);
        assert_eq!(events[2].ip_address, None);
        assert_eq!(events[0].identity_id, None);
        assert_eq!(events[3].identity_id.as_deref(), Some("i-9"));
        assert_eq!(events[4].identity_id, None, "a number names no identity");
        for bad in [
            serde_json::json!({"createdAt": "2026-12-02T08:00:00Z", "event": {"type": "x"}}),
            serde_json::json!({"id": "e", "createdAt": "2026-12-02T08:00:00Z"}),
            serde_json::json!({"id": "e", "createdAt": "then", "event": {"type": "x"}}),
        ] {
            let raw: RawEvent = serde_json::from_value(bad.clone()).unwrap();
            assert!(raw.checked().is_err(), "{bad}");
        }
    }
}
