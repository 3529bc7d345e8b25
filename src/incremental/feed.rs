//! The change feed: the audit-log events that changed an identity or one of its auth configs
//! between two moments, read page by page, reduced to the identities they name.
//!
//! Infisical writes `add-identity-<method>`, `update-identity-<method>` and
//! `revoke-identity-<method>` when an auth method is attached, changed or removed, and
//! `create-identity`, `update-identity`, `delete-identity` for the identity itself; each names
//! the identity in `event.metadata.identityId`. Whatever makes the feed doubtful ends the
//! incremental read with the reason, and the run reads everything: a log that cannot be shown
//! to reach back to the base's run (audit logs off, kept too briefly, no permission),
//! a refused or failed read, an event that names no identity, or more events than the cap.

use std::collections::{BTreeSet, HashMap, HashSet};

use jiff::{SignedDuration, Timestamp};

use crate::display::safe;
use crate::infisical::{
    AUDIT_LOG_PAGE_LIMIT, ApiError, AuditEvent, AuditLogQuery, Client, ErrorKind, EventsOf,
};
use crate::model::AuthMethod;

/// How far before the window the reach-back probe looks (Infisical refuses ranges over three
/// months).
const PROBE_SPAN: SignedDuration = SignedDuration::from_hours(89 * 24);

/// The event types of changes to an identity or its auth configs: three per method of
/// `methods` (the base's), and three for the identity itself. A method the base has no config
/// of needs no events: any config of it is new to the base, so it is read anyway. Asking only
/// for those also keeps the query within what the server knows (newer servers refuse an
/// `eventType` outside their list, and a server that serves a method has its events).
/// GUESS (the enum's values for spiffe-auth were not seen; its routers use
/// `ADD/UPDATE/REVOKE_IDENTITY_SPIFFE_AUTH`): every method's events are spelled alike.
pub fn change_event_types<'a>(methods: impl IntoIterator<Item = &'a AuthMethod>) -> Vec<String> {
    let known: BTreeSet<&str> = methods
        .into_iter()
        .filter(|m| m.is_known())
        .map(AuthMethod::as_str)
        .collect();
    let mut types: Vec<String> = known
        .iter()
        .flat_map(|m| ["add", "update", "revoke"].map(|verb| format!("{verb}-identity-{m}")))
        .collect();
    types.extend(["create-identity", "update-identity", "delete-identity"].map(str::to_owned));
    types
}

/// What the feed says changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Changes {
    /// Events read.
    pub events: u64,
    /// Identities changed as a whole (created, updated, deleted, or a change to a method this
    /// version does not know): every config of theirs is read again.
    pub identities: HashSet<String>,
    /// Configs attached, updated or revoked: identity id → methods.
    pub configs: HashMap<String, HashSet<AuthMethod>>,
}

impl Changes {
    /// Notes what `event` changed; an event that names no identity makes the feed unusable.
    fn note(&mut self, event: AuditEvent) -> Result<(), String> {
        let method = config_method(&event.event_type);
        let identity = named(event)?;
        match method {
            Some(method) => {
                self.configs.entry(identity).or_default().insert(method);
            }
            None => {
                self.identities.insert(identity);
            }
        }
        Ok(())
    }
}

/// The method of a config change event (`update-identity-aws-auth` → aws-auth); `None` for
/// the identity's own events and for methods this version does not know.
fn config_method(event_type: &str) -> Option<AuthMethod> {
    ["add-identity-", "update-identity-", "revoke-identity-"]
        .iter()
        .find_map(|prefix| event_type.strip_prefix(prefix))
        .and_then(AuthMethod::parse_known)
}

/// What to read of the feed.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    /// The base's start less the margin.
    pub since: Timestamp,
    /// Now.
    pub until: Timestamp,
    /// The end of the base's run: the log must hold an event from no later than this.
    pub reach: Timestamp,
}

/// Reads the changes of the window to configs of `methods` and to identities, or says why
/// the feed cannot be trusted. More than `cap` events end the read.
pub async fn read(
    client: &Client,
    methods: &BTreeSet<AuthMethod>,
    window: Window,
    cap: u64,
) -> Result<Changes, String> {
    let Window {
        since,
        until,
        reach,
    } = window;
    reaches_back(client, reach).await?;
    let types = change_event_types(methods);
    let types: Vec<&str> = types.iter().map(String::as_str).collect();
    let mut changes = Changes::default();
    let mut offset = 0u64;
    loop {
        let page = client
            .audit_log_page(&AuditLogQuery {
                events: EventsOf::Types(&types),
                since,
                until,
                offset,
                limit: AUDIT_LOG_PAGE_LIMIT,
            })
            .await
            .map_err(|e| failed("reading the change events", &e))?;
        let full = page.len() >= AUDIT_LOG_PAGE_LIMIT as usize;
        offset += page.len() as u64;
        changes.events += page.len() as u64;
        if changes.events > cap {
            return Err(format!(
                "more than {cap} change events since {since} (--max-changes-feed): reading \
                 every config costs less than following them"
            ));
        }
        for event in page {
            changes.note(event)?;
        }
        if !full {
            return Ok(changes);
        }
    }
}

/// Shows the audit log holds an event from no later than `reach`, the end of the base's run
/// (the newest one of the span before it): the base run itself wrote some (its login, its
/// config reads), so a log that has none is not being written (no audit-log plan) or has
/// already dropped them (a retention shorter than the base's age). Pruning drops the oldest
/// events first, so an event kept from then means the window since is whole.
async fn reaches_back(client: &Client, reach: Timestamp) -> Result<(), String> {
    let before = client
        .audit_log_page(&AuditLogQuery {
            events: EventsOf::Any,
            since: reach.checked_sub(PROBE_SPAN).unwrap_or(Timestamp::MIN),
            until: reach,
            offset: 0,
            limit: 1,
        })
        .await
        .map_err(|e| failed("reading the audit log", &e))?;
    if before.is_empty() {
        return Err(format!(
            "the organization's audit log holds no event from the base's run or the 89 days \
             before it (up to {reach}): audit logs are not part of its plan or are kept for \
             less time than the base's age; the change feed cannot be shown to be whole"
        ));
    }
    Ok(())
}

/// The identity an event names; an event that names none makes the feed unusable.
fn named(event: AuditEvent) -> Result<String, String> {
    event.identity_id.ok_or_else(|| {
        format!(
            "a `{}` event of the audit log names no identity (`event.metadata.identityId`)",
            safe(&event.event_type)
        )
    })
}

/// Why a read of the audit log ended the incremental read.
fn failed(what: &str, e: &ApiError) -> String {
    match e.kind() {
        ErrorKind::PermissionDenied => {
            "idguard's identity may not read the organization's audit log (permission denied)"
                .to_owned()
        }
        _ => format!("{what} failed: {}", safe(&crate::audit::chain(e))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every method's three change events and the identity's own three, each once.
    #[test]
    fn the_change_events() {
        let types = change_event_types(&AuthMethod::KNOWN);
        assert_eq!(types.len(), AuthMethod::KNOWN.len() * 3 + 3);
        for t in [
            "add-identity-universal-auth",
            "update-identity-kubernetes-auth",
            "revoke-identity-spiffe-auth",
            "update-identity-tls-cert-auth",
            "create-identity",
            "delete-identity",
        ] {
            assert!(types.iter().any(|x| x == t), "{t}");
        }
        assert!(!types.iter().any(|t| t.starts_with("login-")));
        let unique: HashSet<&String> = types.iter().collect();
        assert_eq!(unique.len(), types.len());
    }

    /// Only the methods the base has, once each; unknown methods are never asked for.
    #[test]
    fn only_the_base_methods_are_asked_for() {
        let methods = [
            AuthMethod::Aws,
            AuthMethod::Aws,
            AuthMethod::Unknown("quantum-auth".into()),
        ];
        assert_eq!(
            change_event_types(&methods),
            [
                "add-identity-aws-auth",
                "update-identity-aws-auth",
                "revoke-identity-aws-auth",
                "create-identity",
                "update-identity",
                "delete-identity"
            ]
        );
    }

    #[test]
    fn config_events_name_their_method() {
        assert_eq!(
            config_method("update-identity-aws-auth"),
            Some(AuthMethod::Aws)
        );
        assert_eq!(
            config_method("revoke-identity-tls-cert-auth"),
            Some(AuthMethod::TlsCert)
        );
        assert_eq!(config_method("update-identity"), None);
        assert_eq!(config_method("create-identity"), None);
        assert_eq!(config_method("update-identity-future-auth"), None);
    }

    #[test]
    fn an_event_without_an_identity_is_refused() {
        let event = |identity_id: Option<&str>| AuditEvent {
            id: "e".into(),
            event_type: "update-identity-aws-auth".into(),
            ip_address: None,
            created_at: Timestamp::UNIX_EPOCH,
            identity_id: identity_id.map(str::to_owned),
        };
        assert_eq!(named(event(Some("i-1"))).as_deref(), Ok("i-1"));
        let err = named(event(None)).expect_err("refused");
        assert!(err.contains("update-identity-aws-auth"), "{err}");
    }
}
