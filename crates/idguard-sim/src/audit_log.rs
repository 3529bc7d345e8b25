//! The organization's audit log: events (what, about which identity, by whom, from which
//! address, when) kept in time order, matched like Infisical's `find`
//! (`ee/services/audit-log/audit-log-dal.ts`) and written like one item of the
//! `GET /api/v1/organization/audit-logs` answer.
//!
//! It owns the store, the matching and the JSON form of an event. The query string is read in
//! `audit_query.rs`, the generated history comes from `usage.rs`, and what the routes record
//! (logins, config and identity changes) is decided in `routes.rs` and `routes/changes.rs`.
//!
//! Events are kept compact (shared ids and names, metadata built when an event is shown)
//! because a generated org of 100,000 identities holds a few hundred thousand of them.

use std::borrow::Cow;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use crate::AuthMethod;
use crate::clock::iso_millis;

/// `expiresAt` = `createdAt` + this. GUESS: 90 days; Infisical takes the plan's
/// `auditLogsRetentionDays`. The simulator prunes nothing.
const RETENTION: SignedDuration = SignedDuration::from_hours(90 * 24);

/// The event types whose `environment` / `secretPath` / `secretKey` filters apply
/// (`filterableSecretEvents` in `audit-log-types.ts`).
const FILTERABLE_SECRET_EVENTS: [&str; 7] = [
    "get-secret",
    "delete-secrets",
    "create-secrets",
    "update-secrets",
    "create-secret",
    "update-secret",
    "delete-secret",
];

/// A project an event happened in (`projectId`, `projectName`).
#[derive(Debug, Clone)]
pub(crate) struct Project {
    pub(crate) id: Arc<str>,
    pub(crate) name: Arc<str>,
}

/// Who did it.
#[derive(Debug, Clone)]
pub(crate) enum Actor {
    /// A machine identity (`injectAuditLogInfo` in `server/plugins/audit-log.ts`: metadata
    /// `{name, identityId}`).
    Identity { id: Arc<str>, name: Arc<str> },
    /// An unauthenticated caller: `unknownUser` with empty metadata.
    UnknownUser,
}

impl Actor {
    /// The `actor` column (`ActorType` in `services/auth/auth-type.ts`).
    pub(crate) fn type_name(&self) -> &'static str {
        match self {
            Actor::Identity { .. } => "identity",
            Actor::UnknownUser => "unknownUser",
        }
    }

    /// `actorMetadata[key]` when it is a string.
    fn metadata_str(&self, key: &str) -> Option<&str> {
        match (self, key) {
            (Actor::Identity { id, .. }, "identityId") => Some(id),
            (Actor::Identity { name, .. }, "name") => Some(name),
            _ => None,
        }
    }

    fn to_json(&self) -> Value {
        match self {
            Actor::Identity { id, name } => json!({"type": "identity",
                "metadata": {"name": name.as_ref(), "identityId": id.as_ref()}}),
            Actor::UnknownUser => json!({"type": "unknownUser", "metadata": {}}),
        }
    }
}

/// A `login-identity-<method>` event's metadata: `{identityId, identity<Method>AuthId,
/// identityAccessTokenId}` and, for universal auth, `clientSecretId` (the login routes, e.g.
/// `server/routes/v1/identity-universal-auth-router.ts`).
#[derive(Debug, Clone)]
pub(crate) struct Login {
    pub(crate) method: AuthMethod,
    pub(crate) identity_id: Arc<str>,
    /// The id of the auth config row (what GET shows as `id`).
    pub(crate) config_id: Arc<str>,
    pub(crate) token_id: Uuid,
    pub(crate) client_secret_id: Option<Uuid>,
}

impl Login {
    fn metadata_str(&self, key: &str) -> Option<Cow<'_, str>> {
        match key {
            "identityId" => Some(Cow::Borrowed(&self.identity_id)),
            "identityAccessTokenId" => Some(Cow::Owned(self.token_id.to_string())),
            "clientSecretId" => self.client_secret_id.map(|id| Cow::Owned(id.to_string())),
            _ if key.strip_suffix("Id") == Some(&self.method.wrapper_key()) => {
                Some(Cow::Borrowed(&self.config_id))
            }
            _ => None,
        }
    }

    fn to_json(&self) -> Value {
        let mut m = Map::new();
        if let Some(secret) = self.client_secret_id {
            m.insert("clientSecretId".into(), json!(secret.to_string()));
        }
        m.insert("identityId".into(), json!(self.identity_id.as_ref()));
        m.insert(
            "identityAccessTokenId".into(),
            json!(self.token_id.to_string()),
        );
        m.insert(
            format!("{}Id", self.method.wrapper_key()),
            json!(self.config_id.as_ref()),
        );
        Value::Object(m)
    }
}

/// What happened: the event type and its metadata.
#[derive(Debug, Clone)]
pub(crate) enum EventBody {
    /// `login-identity-<method>`.
    Login(Login),
    /// `get-secrets` with `{environment, secretPath, numberOfSecrets}`: a read made with an
    /// identity's token.
    GetSecrets {
        environment: &'static str,
        secret_path: &'static str,
        count: u32,
    },
    /// Any other type, metadata as is.
    Other {
        event_type: Box<str>,
        metadata: Box<Map<String, Value>>,
    },
}

impl EventBody {
    /// The `eventType` column.
    pub(crate) fn event_type(&self) -> Cow<'_, str> {
        match self {
            EventBody::Login(login) => {
                Cow::Owned(format!("login-identity-{}", login.method.as_str()))
            }
            EventBody::GetSecrets { .. } => Cow::Borrowed("get-secrets"),
            EventBody::Other { event_type, .. } => Cow::Borrowed(event_type),
        }
    }

    /// Whether the event type is `t` (without building it).
    fn is_type(&self, t: &str) -> bool {
        match self {
            EventBody::Login(login) => {
                t.strip_prefix("login-identity-") == Some(login.method.as_str())
            }
            EventBody::GetSecrets { .. } => t == "get-secrets",
            EventBody::Other { event_type, .. } => **event_type == *t,
        }
    }

    /// `eventMetadata[key]` when it is a string (what `jsonb_build_object(key, value)` can
    /// be contained in: a number or an object never matches a text value).
    fn metadata_str(&self, key: &str) -> Option<Cow<'_, str>> {
        match self {
            EventBody::Login(login) => login.metadata_str(key),
            EventBody::GetSecrets {
                environment,
                secret_path,
                ..
            } => match key {
                "environment" => Some(Cow::Borrowed(environment)),
                "secretPath" => Some(Cow::Borrowed(secret_path)),
                _ => None,
            },
            EventBody::Other { metadata, .. } => {
                metadata.get(key).and_then(Value::as_str).map(Cow::Borrowed)
            }
        }
    }

    /// Whether the metadata names the secret `key` (`{secretKey}` or an item of `secrets`).
    fn names_secret(&self, key: &str) -> bool {
        if self.metadata_str("secretKey").as_deref() == Some(key) {
            return true;
        }
        match self {
            EventBody::Other { metadata, .. } => metadata
                .get("secrets")
                .and_then(Value::as_array)
                .is_some_and(|items| {
                    items
                        .iter()
                        .any(|i| i.get("secretKey").and_then(Value::as_str) == Some(key))
                }),
            _ => false,
        }
    }

    fn metadata_json(&self) -> Value {
        match self {
            EventBody::Login(login) => login.to_json(),
            EventBody::GetSecrets {
                environment,
                secret_path,
                count,
            } => json!({"environment": environment, "secretPath": secret_path,
                        "numberOfSecrets": count}),
            EventBody::Other { metadata, .. } => Value::Object((**metadata).clone()),
        }
    }
}

/// One event of the audit log.
#[derive(Debug, Clone)]
pub(crate) struct AuditEvent {
    pub(crate) id: Uuid,
    pub(crate) at: Timestamp,
    /// The caller's address; `None` = not recorded (null).
    pub(crate) ip: Option<IpAddr>,
    /// The caller's `user-agent` header; `None` = not recorded (null).
    pub(crate) user_agent: Option<Arc<str>>,
    pub(crate) actor: Actor,
    pub(crate) body: EventBody,
    pub(crate) project: Option<Project>,
}

impl AuditEvent {
    /// The item of the listing: the row without `eventType`, `eventMetadata`, `actor`,
    /// `actorMetadata`, plus `event {type, metadata}` and `actor {type, metadata}`
    /// (`listAuditLogs` in `audit-log-service.ts`; `updatedAt` is `createdAt` there too).
    pub(crate) fn to_json(&self, org_id: &str) -> Value {
        let created = iso_millis(self.at);
        let expires = self
            .at
            .checked_add(RETENTION)
            .map(iso_millis)
            .unwrap_or_else(|_| created.clone());
        json!({
            "id": self.id.to_string(),
            "ipAddress": self.ip.map(|ip| ip.to_string()),
            "userAgent": self.user_agent.as_deref(),
            "userAgentType": self.user_agent.as_deref().map(user_agent_type),
            "expiresAt": expires,
            "createdAt": created,
            "updatedAt": created,
            "orgId": org_id,
            "projectId": self.project.as_ref().map(|p| p.id.as_ref()),
            "projectName": self.project.as_ref().map(|p| p.name.as_ref()),
            "event": {"type": self.body.event_type(), "metadata": self.body.metadata_json()},
            "actor": self.actor.to_json(),
        })
    }

    fn matches(&self, f: &Filter) -> bool {
        if !f.event_types.is_empty() && !f.event_types.iter().any(|t| self.body.is_type(t)) {
            return false;
        }
        if f.actor_type
            .as_ref()
            .is_some_and(|t| t != self.actor.type_name())
        {
            return false;
        }
        if let Some((key, value)) = &f.actor
            && self.actor.metadata_str(key) != Some(value.as_str())
        {
            return false;
        }
        if !f
            .metadata
            .iter()
            .all(|(k, v)| self.body.metadata_str(k).as_deref() == Some(v.as_str()))
        {
            return false;
        }
        if let Some(project) = &f.project_id
            && self.project.as_ref().map(|p| p.id.as_ref()) != Some(project.as_str())
        {
            return false;
        }
        if let Some(kind) = &f.user_agent_type
            && self.user_agent.as_deref().map(user_agent_type) != Some(kind.as_str())
        {
            return false;
        }
        if let Some(key) = &f.secret_key
            && !self.body.names_secret(key)
        {
            return false;
        }
        true
    }
}

/// `getUserAgentType` (`server/plugins/audit-log.ts`): the exact names of Infisical's own
/// clients, then substrings.
pub(crate) fn user_agent_type(ua: &str) -> &'static str {
    match ua {
        "cli" => "cli",
        "k8-operator" => "k8-operator",
        "terraform" => "terraform",
        _ if ua.to_lowercase().contains("mozilla") => "web",
        _ if ua.contains("InfisicalNodeSDK") => "InfisicalNodeSDK",
        _ if ua.contains("InfisicalPythonSDK") => "InfisicalPythonSDK",
        _ => "other",
    }
}

/// The upper end of the date range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum End {
    /// `createdAt < t` (newer servers; `endDate` defaults to now).
    Before(Timestamp),
    /// `createdAt <= t` (October 2024).
    UpTo(Timestamp),
    /// No upper end (October 2024 without `endDate`).
    Open,
}

/// What `find` filters on, already validated (see `audit_query.rs`).
#[derive(Debug, Clone)]
pub(crate) struct Filter {
    /// `createdAt >= start`.
    pub(crate) start: Timestamp,
    pub(crate) end: End,
    /// `actor` column equality.
    pub(crate) actor_type: Option<String>,
    /// `actorMetadata @> {key: value}`.
    pub(crate) actor: Option<(&'static str, String)>,
    /// `eventType IN (...)`; empty: any.
    pub(crate) event_types: Vec<String>,
    /// `eventMetadata @> {key: value}` for each pair (text values).
    pub(crate) metadata: Vec<(String, String)>,
    pub(crate) project_id: Option<String>,
    pub(crate) user_agent_type: Option<String>,
    /// The event names this secret (`secretKey`, or an item of `secrets`).
    pub(crate) secret_key: Option<String>,
    pub(crate) offset: usize,
    pub(crate) limit: usize,
}

impl Filter {
    /// Whether the `environment` / `secretPath` / `secretKey` filters apply: only with a
    /// project, and only when no event type or a filterable secret event is asked for
    /// (`eventIsSecretType` in `audit-log-dal.ts`).
    pub(crate) fn secret_filters_apply(project: bool, event_types: &[String]) -> bool {
        project
            && (event_types.is_empty()
                || event_types
                    .iter()
                    .any(|t| FILTERABLE_SECRET_EVENTS.contains(&t.as_str())))
    }
}

/// Every event, with indexes by time and by the identity an event names.
///
/// `find` reads one candidate list, oldest first: the events whose actor is the identity a
/// filter's `actor` names, or whose metadata names the identity of a filter's
/// `eventMetadata identityId=…`, else every event. Each list keeps the order of the full one
/// (ties in time: in the order the events came), and every filter is still checked on each
/// candidate, so the answers are those of a scan of every event; a generated org of 100,000
/// identities answers its per-identity queries without reading a few hundred thousand events.
#[derive(Debug, Default)]
pub(crate) struct AuditStore {
    /// In the order they came (an event's index never changes).
    events: Vec<AuditEvent>,
    /// Indexes into `events`, oldest first.
    by_time: Vec<usize>,
    /// Per `actorMetadata.identityId`: indexes, oldest first.
    by_actor: HashMap<Arc<str>, Vec<usize>>,
    /// Per `eventMetadata.identityId`: indexes, oldest first.
    by_subject: HashMap<Arc<str>, Vec<usize>>,
}

/// The metadata key both identity indexes are kept for.
const IDENTITY_ID: &str = "identityId";

impl AuditStore {
    /// A store holding `events` (in any order).
    pub(crate) fn new(mut events: Vec<AuditEvent>) -> AuditStore {
        events.sort_by_key(|e| e.at);
        let mut store = AuditStore::default();
        for event in events {
            store.insert(event);
        }
        store
    }

    /// Adds one event in its place in time (after those of the same instant).
    pub(crate) fn insert(&mut self, event: AuditEvent) {
        let index = self.events.len();
        let actor = event.actor.metadata_str(IDENTITY_ID).map(Arc::from);
        let subject = event
            .body
            .metadata_str(IDENTITY_ID)
            .map(|id| Arc::from(&*id));
        self.events.push(event);
        let events = &self.events;
        let place = |list: &mut Vec<usize>| {
            let at = events[index].at;
            let pos = list.partition_point(|&i| events[i].at <= at);
            list.insert(pos, index);
        };
        place(&mut self.by_time);
        if let Some(id) = actor {
            place(self.by_actor.entry(id).or_default());
        }
        if let Some(id) = subject {
            place(self.by_subject.entry(id).or_default());
        }
    }

    /// Number of events held.
    pub(crate) fn len(&self) -> usize {
        self.events.len()
    }

    /// The events that can match `f`, oldest first: a superset of its matches, in the order
    /// of `by_time`.
    fn candidates(&self, f: &Filter) -> &[usize] {
        let list = match (&f.actor, f.metadata.iter().find(|(k, _)| k == IDENTITY_ID)) {
            (Some((IDENTITY_ID, id)), _) => self.by_actor.get(id.as_str()),
            (_, Some((_, id))) => self.by_subject.get(id.as_str()),
            _ => return &self.by_time,
        };
        list.map_or(&[], Vec::as_slice)
    }

    /// The page `find` answers: newest first, then `offset` and `limit`.
    pub(crate) fn find(&self, f: &Filter) -> Vec<&AuditEvent> {
        self.candidates(f)
            .iter()
            .rev()
            .map(|&i| &self.events[i])
            .skip_while(|e| match f.end {
                End::Before(t) => e.at >= t,
                End::UpTo(t) => e.at > t,
                End::Open => false,
            })
            .take_while(|e| e.at >= f.start)
            .filter(|e| e.matches(f))
            .skip(f.offset)
            .take(f.limit)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn identity(n: u8) -> Actor {
        Actor::Identity {
            id: Arc::from(format!("id-{n}")),
            name: Arc::from(format!("name-{n}")),
        }
    }

    fn other(event_type: &str, identity_id: &str) -> EventBody {
        let mut m = Map::new();
        m.insert("identityId".into(), json!(identity_id));
        m.insert("accessTokenTTL".into(), json!(3600));
        EventBody::Other {
            event_type: event_type.into(),
            metadata: Box::new(m),
        }
    }

    fn event(t: &str, actor: Actor, body: EventBody) -> AuditEvent {
        AuditEvent {
            id: Uuid::nil(),
            at: at(t),
            ip: Some("203.0.113.9".parse().unwrap()),
            user_agent: Some(Arc::from("cli")),
            actor,
            body,
            project: None,
        }
    }

    fn all_since(start: &str) -> Filter {
        Filter {
            start: at(start),
            end: End::Open,
            actor_type: None,
            actor: None,
            event_types: Vec::new(),
            metadata: Vec::new(),
            project_id: None,
            user_agent_type: None,
            secret_key: None,
            offset: 0,
            limit: 100,
        }
    }

    fn store() -> AuditStore {
        AuditStore::new(vec![
            event(
                "2026-01-03T00:00:00Z",
                identity(1),
                other("update-identity-aws-auth", "id-2"),
            ),
            event(
                "2026-01-01T00:00:00Z",
                Actor::UnknownUser,
                EventBody::Login(Login {
                    method: AuthMethod::Aws,
                    identity_id: Arc::from("id-2"),
                    config_id: Arc::from("cfg-2"),
                    token_id: Uuid::nil(),
                    client_secret_id: None,
                }),
            ),
            event(
                "2026-01-02T00:00:00Z",
                identity(2),
                EventBody::GetSecrets {
                    environment: "prod",
                    secret_path: "/",
                    count: 3,
                },
            ),
        ])
    }

    fn types(found: &[&AuditEvent]) -> Vec<String> {
        found
            .iter()
            .map(|e| e.body.event_type().into_owned())
            .collect()
    }

    /// Newest first; the range is `[start, end)` on newer servers and `[start, end]` on older.
    #[test]
    fn newest_first_within_the_range() {
        let s = store();
        let found = s.find(&all_since("2026-01-01T00:00:00Z"));
        assert_eq!(
            types(&found),
            [
                "update-identity-aws-auth",
                "get-secrets",
                "login-identity-aws-auth"
            ]
        );
        let mut f = all_since("2026-01-02T00:00:00Z");
        f.end = End::Before(at("2026-01-03T00:00:00Z"));
        assert_eq!(types(&s.find(&f)), ["get-secrets"]);
        f.end = End::UpTo(at("2026-01-03T00:00:00Z"));
        assert_eq!(types(&s.find(&f)).len(), 2);
    }

    /// Metadata filters match text values only, as `jsonb_build_object(k, v::text)` does; the
    /// login's per-method id key is derived from the method.
    #[test]
    fn metadata_filters_match_text_values() {
        let s = store();
        let mut f = all_since("2025-01-01T00:00:00Z");
        f.metadata = vec![("identityId".into(), "id-2".into())];
        assert_eq!(s.find(&f).len(), 2);
        f.metadata = vec![("accessTokenTTL".into(), "3600".into())];
        assert!(s.find(&f).is_empty());
        f.metadata = vec![("identityAwsAuthId".into(), "cfg-2".into())];
        assert_eq!(types(&s.find(&f)), ["login-identity-aws-auth"]);
    }

    /// Actor filters: by type, and by the id key of that type.
    #[test]
    fn actor_filters() {
        let s = store();
        let mut f = all_since("2025-01-01T00:00:00Z");
        f.actor_type = Some("identity".into());
        f.actor = Some(("identityId", "id-2".into()));
        assert_eq!(types(&s.find(&f)), ["get-secrets"]);
        f.actor = Some(("userId", "id-2".into()));
        assert!(s.find(&f).is_empty());
        f.actor = None;
        f.actor_type = Some("unknownUser".into());
        assert_eq!(types(&s.find(&f)), ["login-identity-aws-auth"]);
    }

    /// Offset and limit page through the newest-first order; an inserted event takes its
    /// place in time.
    #[test]
    fn paging_and_insertion() {
        let mut s = store();
        s.insert(event(
            "2026-01-02T12:00:00Z",
            identity(3),
            other("get-identity-aws-auth", "id-3"),
        ));
        let mut f = all_since("2025-01-01T00:00:00Z");
        f.offset = 1;
        f.limit = 2;
        assert_eq!(types(&s.find(&f)), ["get-identity-aws-auth", "get-secrets"]);
    }

    /// The indexes answer what a scan of every event answers: per-identity filters by actor and
    /// by metadata, ties in time kept in arrival order, events inserted out of order, paging,
    /// and an identity nothing names.
    #[test]
    fn indexed_answers_equal_a_full_scan() {
        let mut s = store();
        let mut all: Vec<AuditEvent> = s.events.clone();
        let extra = [
            event(
                "2026-01-02T00:00:00Z",
                identity(2),
                other("update-identity-aws-auth", "id-2"),
            ),
            event(
                "2026-01-02T00:00:00Z",
                identity(1),
                other("get-identity-aws-auth", "id-2"),
            ),
            event(
                "2026-01-01T12:00:00Z",
                identity(2),
                other("update-identity", "id-1"),
            ),
            event(
                "2026-01-05T00:00:00Z",
                Actor::UnknownUser,
                other("delete-identity", "id-3"),
            ),
        ];
        for (n, mut e) in extra.into_iter().enumerate() {
            e.id = Uuid::from_u128(n as u128 + 1);
            all.push(e.clone());
            s.insert(e);
        }
        // The reference: a stable sort of everything, as the unindexed store kept it.
        all.sort_by_key(|e| e.at);
        let scan = |f: &Filter| -> Vec<(Uuid, String)> {
            all.iter()
                .rev()
                .filter(|e| e.at >= f.start && e.matches(f))
                .skip(f.offset)
                .take(f.limit)
                .map(|e| (e.id, e.body.event_type().into_owned()))
                .collect()
        };
        let mut filters = Vec::new();
        for id in ["id-1", "id-2", "id-3", "id-9"] {
            let mut f = all_since("2025-01-01T00:00:00Z");
            f.actor_type = Some("identity".into());
            f.actor = Some(("identityId", id.into()));
            filters.push(f.clone());
            f.actor = None;
            f.actor_type = None;
            f.metadata = vec![("identityId".into(), id.into())];
            filters.push(f.clone());
            f.offset = 1;
            filters.push(f);
        }
        filters.push(all_since("2026-01-02T00:00:00Z"));
        for f in &filters {
            let found: Vec<(Uuid, String)> = s
                .find(f)
                .iter()
                .map(|e| (e.id, e.body.event_type().into_owned()))
                .collect();
            assert_eq!(found, scan(f), "{f:?}");
        }
    }

    /// The item carries the row's columns and the nested event and actor.
    #[test]
    fn json_shape() {
        let s = store();
        let found = s.find(&all_since("2026-01-02T00:00:00Z"));
        let item = found[1].to_json("org-1");
        assert_eq!(item["createdAt"], "2026-01-02T00:00:00.000Z");
        assert_eq!(item["updatedAt"], item["createdAt"]);
        assert_eq!(item["expiresAt"], "2026-04-02T00:00:00.000Z");
        assert_eq!(item["ipAddress"], "203.0.113.9");
        assert_eq!(item["userAgentType"], "cli");
        assert_eq!(item["orgId"], "org-1");
        assert!(item["projectId"].is_null());
        assert_eq!(item["event"]["metadata"]["numberOfSecrets"], 3);
        assert_eq!(
            item["actor"],
            json!({"type": "identity", "metadata": {"name": "name-2", "identityId": "id-2"}})
        );
    }

    /// User-agent types follow Infisical's order of checks.
    #[test]
    fn user_agent_types() {
        assert_eq!(user_agent_type("cli"), "cli");
        assert_eq!(user_agent_type("Mozilla/5.0"), "web");
        assert_eq!(user_agent_type("InfisicalNodeSDK/3.0"), "InfisicalNodeSDK");
        assert_eq!(user_agent_type(""), "other");
        assert_eq!(user_agent_type("cli/0.1"), "other");
    }
}
