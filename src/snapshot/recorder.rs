//! Gathering a snapshot from an audit as it runs: every identity as listed, and the outcome of
//! each of its configs (read from the server, or carried over from the previous snapshot), in
//! whatever order they complete. An incremental audit writes it as the base of the next one.

use std::collections::HashMap;
use std::sync::Arc;

use super::{ConfigRead, Entry, Manifest, Snapshot};
use crate::model::{AuthMethod, Identity};

/// Why a config of a stopped run has no outcome in the snapshot.
const NOT_READ: &str = "not read: the run stopped before this config";

/// A snapshot being gathered.
#[derive(Debug, Default)]
pub struct Recorder {
    /// In listing order.
    listed: Vec<Arc<Identity>>,
    /// Identity id → the outcomes recorded so far.
    reads: HashMap<String, Vec<(AuthMethod, ConfigRead)>>,
}

/// Where and when the recorded reading happened, and how complete it was.
#[derive(Debug, Clone)]
pub struct Reading {
    pub api_url: String,
    pub org_id: String,
    pub started_at: jiff::Timestamp,
    /// When the oldest config carried over was read (`started_at` for a full read).
    pub full_read_at: jiff::Timestamp,
    /// Why the reading stopped before the end.
    pub incomplete_reason: Option<String>,
}

impl Recorder {
    /// An identity, as listed.
    pub fn listed(&mut self, identity: &Arc<Identity>) {
        self.listed.push(identity.clone());
    }

    /// The outcome of one of `identity_id`'s configs.
    pub fn config(&mut self, identity_id: &str, method: &AuthMethod, read: ConfigRead) {
        self.reads
            .entry(identity_id.to_owned())
            .or_default()
            .push((method.clone(), read));
    }

    /// The snapshot: identities in listing order, each config in the order of its methods; a
    /// config without an outcome (the run stopped) is recorded as an error and makes the
    /// snapshot incomplete.
    pub fn finish(mut self, reading: Reading) -> Snapshot {
        let mut missing = 0u64;
        let entries: Vec<Entry> = self
            .listed
            .into_iter()
            .map(|identity| {
                let mut reads = self.reads.remove(&identity.id).unwrap_or_default();
                let configs = identity
                    .auth_methods
                    .iter()
                    .map(|method| {
                        let read = match reads.iter().position(|(m, _)| m == method) {
                            Some(i) => reads.swap_remove(i).1,
                            None => {
                                missing += 1;
                                Err(NOT_READ.to_owned())
                            }
                        };
                        (method.clone(), read)
                    })
                    .collect();
                Entry { identity, configs }
            })
            .collect();
        let mut incomplete_reason = reading.incomplete_reason;
        if missing > 0 {
            incomplete_reason.get_or_insert_with(|| {
                format!("{missing} config(s) were not read before the run stopped")
            });
        }
        let manifest = Manifest::finished(
            &reading.api_url,
            &reading.org_id,
            reading.started_at,
            incomplete_reason,
            &entries,
            Some(reading.full_read_at),
        );
        Snapshot::new(manifest, entries)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{IdentityScope, Usage};

    fn identity(id: &str, methods: &[AuthMethod]) -> Arc<Identity> {
        Arc::new(Identity {
            id: id.into(),
            name: id.into(),
            auth_methods: methods.to_vec(),
            scope: IdentityScope::Organization,
            usage: Usage::default(),
        })
    }

    fn reading(incomplete_reason: Option<String>) -> Reading {
        let at: jiff::Timestamp = "2026-12-01T00:00:00Z".parse().expect("ts");
        Reading {
            api_url: "http://127.0.0.1:1".into(),
            org_id: "org".into(),
            started_at: at,
            full_read_at: at,
            incomplete_reason,
        }
    }

    /// Outcomes arrive in any order; the snapshot keeps the listing's and the methods' order.
    #[test]
    fn keeps_the_listing_order() {
        let mut r = Recorder::default();
        let a = identity("a", &[AuthMethod::Universal, AuthMethod::Aws]);
        let b = identity("b", &[AuthMethod::Token]);
        r.listed(&a);
        r.listed(&b);
        r.config("b", &AuthMethod::Token, Err("boom".into()));
        r.config("a", &AuthMethod::Aws, Err("later".into()));
        r.config("a", &AuthMethod::Universal, Err("first".into()));
        let snap = r.finish(reading(None));
        assert!(snap.manifest.complete);
        assert_eq!(snap.manifest.errors, 3);
        let ids: Vec<&str> = snap
            .entries
            .iter()
            .map(|e| e.identity.id.as_str())
            .collect();
        assert_eq!(ids, ["a", "b"]);
        assert_eq!(snap.entries[0].configs[0].0, AuthMethod::Universal);
        let error = |i: usize| snap.entries[0].configs[i].1.as_ref().err().cloned();
        assert_eq!(error(0).as_deref(), Some("first"));
        assert_eq!(error(1).as_deref(), Some("later"));
    }

    /// A config without an outcome makes the snapshot incomplete, never silently whole.
    #[test]
    fn a_missing_config_makes_it_incomplete() {
        let mut r = Recorder::default();
        r.listed(&identity("a", &[AuthMethod::Universal]));
        let snap = r.finish(reading(None));
        assert!(!snap.manifest.complete);
        assert!(snap.config("a", &AuthMethod::Universal).is_err());
        let stopped = Recorder::default().finish(reading(Some("listing failed".into())));
        assert_eq!(
            stopped.manifest.incomplete_reason.as_deref(),
            Some("listing failed")
        );
    }
}
