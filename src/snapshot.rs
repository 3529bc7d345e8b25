//! Snapshots: the organization's identities and auth configs read once and kept in one file
//! (`idguard snapshot`), so that audits can be run again offline (`idguard audit --snapshot`)
//! as evidence or to preview a policy change. The file format is described in
//! `docs/snapshot.md`.
//!
//! Submodules: `file` (the versioned JSON format, secrets removed, and reading it back with
//! the same config decoding as a live GET), `take` (reading the org through the client) and
//! `recorder` (gathering one from an audit as it runs).

mod file;
pub mod recorder;
mod take;

use std::collections::HashMap;
use std::sync::Arc;

use crate::model::{AuthConfig, AuthMethod, Identity};

pub use file::{SnapshotError, read, read_manifest, write};
pub use recorder::Recorder;
pub use take::take;

/// The version of the file format written, and the only one read.
pub const SCHEMA_VERSION: u32 = 1;
/// The `kind` of a snapshot file.
pub const KIND: &str = "idguard-snapshot";

/// When, where from and how completely a snapshot was taken.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Manifest {
    pub api_url: String,
    pub org_id: String,
    pub started_at: jiff::Timestamp,
    pub finished_at: jiff::Timestamp,
    pub idguard_version: String,
    /// Every identity listed and every config read attempted.
    pub complete: bool,
    /// Why the listing stopped before the end.
    pub incomplete_reason: Option<String>,
    /// Configs that could not be read (recorded as errors).
    pub errors: u64,
    /// When the oldest config of the file was read from the server: the start of the last
    /// full read that an incremental audit carried configs over from. Absent: `started_at`
    /// (the file was one full read).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub full_read_at: Option<jiff::Timestamp>,
}

impl Manifest {
    /// The manifest of `entries`, read from `api_url`'s `org_id` since `started_at` and
    /// finished now; complete unless `incomplete_reason`.
    pub fn finished(
        api_url: &str,
        org_id: &str,
        started_at: jiff::Timestamp,
        incomplete_reason: Option<String>,
        entries: &[Entry],
        full_read_at: Option<jiff::Timestamp>,
    ) -> Manifest {
        let errors = entries
            .iter()
            .flat_map(|e| &e.configs)
            .filter(|(_, read)| read.is_err())
            .count() as u64;
        Manifest {
            api_url: api_url.to_owned(),
            org_id: org_id.to_owned(),
            started_at,
            finished_at: jiff::Timestamp::now(),
            idguard_version: env!("CARGO_PKG_VERSION").to_owned(),
            complete: incomplete_reason.is_none(),
            incomplete_reason,
            errors,
            full_read_at,
        }
    }

    /// When the oldest config of the file was read (see [`Manifest::full_read_at`]).
    pub fn oldest_read(&self) -> jiff::Timestamp {
        self.full_read_at.unwrap_or(self.started_at)
    }
}

/// What a config GET gave, as a snapshot keeps it: the config, or why it could not be read
/// (the error with its causes, as a live audit reports it).
pub type ConfigRead = Result<StoredConfig, String>;

/// A config as a snapshot keeps it: the object under the GET answer's wrapper key, secrets
/// redacted, as JSON text. Decoded when it is used: a snapshot of a large org then holds a
/// few hundred bytes per config rather than a tree of values. Cloning shares the text.
#[derive(Debug, Clone)]
pub struct StoredConfig(Arc<serde_json::value::RawValue>);

impl StoredConfig {
    /// The stored form of `config` (secrets redacted).
    pub fn of(config: &AuthConfig) -> StoredConfig {
        let redacted = serde_json::Value::Object(file::without_secrets(config.fields()));
        // A map of JSON values always serializes; `null` (which decodes to an error, never to
        // a config) stands for the impossible failure.
        let raw = serde_json::value::to_raw_value(&redacted).unwrap_or_default();
        StoredConfig::from_raw(raw)
    }

    /// Stored JSON text as it was read from a file (already redacted).
    fn from_raw(raw: Box<serde_json::value::RawValue>) -> StoredConfig {
        StoredConfig(Arc::from(raw))
    }

    /// The JSON text.
    fn raw(&self) -> &serde_json::value::RawValue {
        &self.0
    }

    /// The config of `method`, decoded exactly as a live GET's object is.
    pub fn decode(&self, method: &AuthMethod) -> Result<AuthConfig, String> {
        let fields: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(self.0.get()).map_err(|e| e.to_string())?;
        AuthConfig::from_fields(method.clone(), fields).map_err(|e| e.to_string())
    }
}

/// One identity as listed, with the outcome of each of its config GETs, in the order of its
/// auth methods.
#[derive(Debug, Clone)]
pub struct Entry {
    pub identity: Arc<Identity>,
    pub configs: Vec<(AuthMethod, ConfigRead)>,
}

/// A snapshot in memory (secrets already removed).
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub manifest: Manifest,
    /// In listing order.
    pub entries: Vec<Entry>,
    /// Identity id → index in `entries`.
    by_id: HashMap<String, usize>,
}

impl Snapshot {
    /// A snapshot of these entries.
    pub fn new(manifest: Manifest, entries: Vec<Entry>) -> Snapshot {
        let by_id = entries
            .iter()
            .enumerate()
            .map(|(i, e)| (e.identity.id.clone(), i))
            .collect();
        Snapshot {
            manifest,
            entries,
            by_id,
        }
    }

    /// The entry of `identity_id`.
    pub fn entry(&self, identity_id: &str) -> Option<&Entry> {
        self.by_id
            .get(identity_id)
            .and_then(|i| self.entries.get(*i))
    }

    /// The recorded outcome of the GET of `identity_id`'s `method` config, as stored.
    pub fn stored(&self, identity_id: &str, method: &AuthMethod) -> Option<&ConfigRead> {
        self.entry(identity_id)
            .and_then(|e| e.configs.iter().find(|(m, _)| m == method))
            .map(|(_, read)| read)
    }

    /// The recorded outcome of the GET of `identity_id`'s `method` config, decoded.
    pub fn config(&self, identity_id: &str, method: &AuthMethod) -> Result<AuthConfig, String> {
        match self.stored(identity_id, method) {
            Some(Ok(stored)) => stored.decode(method),
            Some(Err(message)) => Err(message.clone()),
            None => Err("the snapshot records no config of this method".to_owned()),
        }
    }
}
