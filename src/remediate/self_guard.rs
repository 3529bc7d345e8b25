//! Self-protection: idguard never changes the identity it is logged in as unless asked to.
//! Narrowing that identity's trusted IPs (or its token limits) from an address outside the new
//! range would fail the rest of the run, every verification read and any rollback. Its changes
//! become `manual` items; `--include-self` applies them, always last.
//!
//! When idguard cannot tell which identity it runs as (a token that is not a JWT with an
//! `identityId` claim), every change that touches a trusted-IP list is held the same way.

use super::plan::{ManualItem, PlannedChange, TRUSTED_IP_FIELDS};

/// Why a change to idguard's own identity is held back.
pub const SELF_REASON: &str = "idguard runs as this identity; changing it could lock idguard out \
(--include-self applies it, after every other change)";

/// Why a network change is held back when idguard cannot tell which identity it runs as.
pub const UNKNOWN_SELF_REASON: &str = "idguard cannot tell which identity it runs as (the \
token carries no identityId claim), so a trusted-IP change could lock it out (--include-self \
applies it, after every other change)";

/// Which identity idguard runs as, as far as it can tell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunsAs {
    /// The identity id from the access token.
    Identity(String),
    /// The token does not say.
    Unknown,
}

/// The changes split for writing: `first` (in plan order), then `last` (changes to idguard's
/// own identity, when included), and the `held` ones as manual items.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Split {
    pub first: Vec<PlannedChange>,
    pub last: Vec<PlannedChange>,
    pub held: Vec<ManualItem>,
}

impl Split {
    /// How many changes will be written.
    pub fn writes(&self) -> usize {
        self.first.len() + self.last.len()
    }
}

/// The reason a change is held, or `None` when it is an ordinary change.
pub fn hold_reason(change: &PlannedChange, runs_as: &RunsAs) -> Option<&'static str> {
    match runs_as {
        RunsAs::Identity(id) if *id == change.identity_id => Some(SELF_REASON),
        RunsAs::Identity(_) => None,
        RunsAs::Unknown
            if TRUSTED_IP_FIELDS
                .iter()
                .any(|f| change.after.contains_key(*f)) =>
        {
            Some(UNKNOWN_SELF_REASON)
        }
        RunsAs::Unknown => None,
    }
}

/// Splits `changes`: those that could lock idguard out are held as manual items, or, with
/// `include_self`, moved after every other change.
pub fn split(changes: Vec<PlannedChange>, runs_as: &RunsAs, include_self: bool) -> Split {
    let mut out = Split::default();
    for change in changes {
        match hold_reason(&change, runs_as) {
            None => out.first.push(change),
            Some(_) if include_self => out.last.push(change),
            Some(reason) => out
                .held
                .extend(change.rules_fixed.iter().map(|rule| ManualItem {
                    identity_id: change.identity_id.clone(),
                    identity_name: change.identity_name.clone(),
                    auth_method: change.auth_method.clone(),
                    rule: rule.clone(),
                    reason: reason.to_owned(),
                })),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Map, Value, json};

    fn change(identity: &str, fields: Value) -> PlannedChange {
        let after: Map<String, Value> = fields.as_object().cloned().unwrap_or_default();
        PlannedChange {
            change_id: format!("c-{identity}"),
            identity_id: identity.into(),
            identity_name: identity.into(),
            auth_method: "universal-auth".into(),
            rules_fixed: vec!["r".into()],
            violations: vec![],
            before: Map::new(),
            after: after.clone(),
            planned_from: Map::new(),
            patch: after,
            config_sha256: String::new(),
            held: Default::default(),
        }
    }

    #[test]
    fn own_identity_is_held_or_moved_last() {
        let changes = vec![
            change("me", json!({"accessTokenTTL": 60})),
            change("a", json!({"accessTokenTTL": 60})),
            change(
                "b",
                json!({"accessTokenTrustedIps": [{"ipAddress": "10.0.0.0/8"}]}),
            ),
        ];
        let me = RunsAs::Identity("me".into());
        let held = split(changes.clone(), &me, false);
        assert_eq!(held.first.len(), 2);
        assert!(held.last.is_empty());
        assert_eq!(held.held.len(), 1);
        assert_eq!(held.held[0].identity_id, "me");
        assert_eq!(held.held[0].reason, SELF_REASON);
        let included = split(changes, &me, true);
        assert_eq!(included.first.len(), 2);
        assert_eq!(included.last[0].identity_id, "me");
        assert_eq!(included.writes(), 3);
    }

    #[test]
    fn unknown_self_holds_every_network_change() {
        let changes = vec![
            change("a", json!({"accessTokenTTL": 60})),
            change(
                "b",
                json!({"accessTokenTrustedIps": [{"ipAddress": "10.0.0.0/8"}]}),
            ),
            change(
                "c",
                json!({"clientSecretTrustedIps": [{"ipAddress": "10.0.0.0/8"}]}),
            ),
        ];
        let s = split(changes, &RunsAs::Unknown, false);
        assert_eq!(s.first.len(), 1);
        assert_eq!(s.held.len(), 2);
        assert!(s.held.iter().all(|m| m.reason == UNKNOWN_SELF_REASON));
    }
}
