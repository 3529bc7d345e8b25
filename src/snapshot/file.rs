//! The snapshot file: versioned JSON (`schema_version`, `kind`, `manifest`, `identities`),
//! written atomically with mode 0600, secrets replaced by `{"redacted": true}`. Reading it back
//! decodes each config with [`AuthConfig::from_fields`], the decoding a live GET uses, so an
//! offline audit sees what a live one would.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use serde_json::value::RawValue;

use super::{Entry, KIND, Manifest, SCHEMA_VERSION, Snapshot, StoredConfig};
use crate::input::{self, InputError};
use crate::model::{AuthMethod, Identity, IdentityScope, LastLogin, Usage};
use crate::remediate::patch_body::{SENSITIVE, is_empty};

/// The largest snapshot file read.
pub const SNAPSHOT_CAP: u64 = 1024 * 1024 * 1024;

/// A snapshot file that could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error(transparent)]
    Input(#[from] InputError),
    /// Not a snapshot this version reads (not JSON, another kind or version, bad fields).
    #[error("{} is not a valid idguard snapshot: {reason}", path.display())]
    Invalid { path: PathBuf, reason: String },
    #[error("cannot write the snapshot: {0}")]
    Write(#[from] crate::report::ReportError),
    #[error("cannot encode the snapshot: {0}")]
    Encode(#[from] serde_json::Error),
}

impl SnapshotError {
    /// Whether the file itself is at fault (bad input, exit 65) rather than the disk.
    pub fn is_invalid(&self) -> bool {
        match self {
            SnapshotError::Invalid { .. } => true,
            SnapshotError::Input(e) => e.is_too_large(),
            _ => false,
        }
    }
}

/// What is read of a file before the rest: its kind and version (any JSON value, so that a
/// wrong one is named rather than a type error), and its manifest unchecked.
#[derive(Deserialize)]
struct Head {
    schema_version: Option<Value>,
    kind: Option<Value>,
    #[serde(default)]
    manifest: Option<Value>,
}

/// A file as it is read.
#[derive(Deserialize)]
struct FileV1 {
    #[allow(dead_code)]
    schema_version: u32,
    #[allow(dead_code)]
    kind: String,
    manifest: Manifest,
    identities: Vec<IdentityV1<ConfigIn>>,
}

/// A file as it is written, borrowing the snapshot (never a copy of it, nor a JSON tree).
#[derive(Serialize)]
struct FileOut<'a> {
    schema_version: u32,
    kind: &'a str,
    manifest: &'a Manifest,
    identities: Identities<'a>,
}

/// The entries, each turned into its file form only while it is written.
struct Identities<'a>(&'a [Entry]);

impl Serialize for Identities<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(identity_v1))
    }
}

#[derive(Serialize, Deserialize)]
struct IdentityV1<C> {
    id: String,
    name: String,
    /// `organization` or `project`.
    scope: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    project_id: Option<String>,
    created_at: Option<jiff::Timestamp>,
    /// `{time, method}`, `"never"`, or null (not reported by the server).
    last_login: Option<LastLoginV1>,
    auth_methods: Vec<String>,
    configs: BTreeMap<String, C>,
}

#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum LastLoginV1 {
    At {
        time: jiff::Timestamp,
        method: Option<String>,
    },
    Word(String),
}

/// A config's entry as it is read: its object kept as JSON text.
#[derive(Deserialize)]
#[serde(rename_all = "lowercase", deny_unknown_fields)]
enum ConfigIn {
    Config(Box<RawValue>),
    Error(String),
}

/// A config's entry as it is written.
#[derive(Serialize)]
#[serde(rename_all = "lowercase")]
enum ConfigOut<'a> {
    Config(&'a RawValue),
    Error(&'a str),
}

/// Writes `snapshot` to `path` (atomically, mode 0600; an existing file is never replaced),
/// streamed: what is held in memory while writing is the snapshot itself.
pub fn write(path: &Path, snapshot: &Snapshot) -> Result<(), SnapshotError> {
    let file = FileOut {
        schema_version: SCHEMA_VERSION,
        kind: KIND,
        manifest: &snapshot.manifest,
        identities: Identities(&snapshot.entries),
    };
    crate::report::write_atomic_with(path, |w| {
        serde_json::to_writer_pretty(&mut *w, &file).map_err(std::io::Error::from)?;
        w.write_all(b"\n")
    })?;
    Ok(())
}

/// Reads a snapshot file written by [`write`].
pub fn read(path: &Path) -> Result<Snapshot, SnapshotError> {
    // Parsed as a stream, twice (the kind and version, then the whole): the file of a large
    // org is tens of MB, and neither its bytes nor a JSON tree of it are ever held whole.
    let invalid = |reason| SnapshotError::Invalid {
        path: path.to_owned(),
        reason,
    };
    let open = || input::open_capped(path, SNAPSHOT_CAP, "snapshot");
    check_head(serde_json::from_reader(open()?).map_err(|e| invalid(e.to_string()))?)
        .map_err(invalid)?;
    let mut de = serde_json::Deserializer::from_reader(open()?);
    parse_with(&mut de).map_err(invalid)
}

/// The manifest of a snapshot file, read without its identities (which are skipped, never
/// built): to choose among files before reading one whole.
pub fn read_manifest(path: &Path) -> Result<Manifest, SnapshotError> {
    let invalid = |reason| SnapshotError::Invalid {
        path: path.to_owned(),
        reason,
    };
    let reader = input::open_capped(path, SNAPSHOT_CAP, "snapshot")?;
    let mut head: Head = serde_json::from_reader(reader).map_err(|e| invalid(e.to_string()))?;
    let manifest = head.manifest.take();
    check_head(head).map_err(invalid)?;
    let manifest = manifest.ok_or_else(|| invalid("no `manifest`".to_owned()))?;
    serde_path_to_error::deserialize(manifest)
        .map_err(|e| invalid(format!("at `manifest.{}`: {}", e.path(), e.inner())))
}

/// Refuses a file of another kind or version.
fn check_head(head: Head) -> Result<(), String> {
    if head.kind.as_ref().and_then(Value::as_str) != Some(KIND) {
        return Err(format!("`kind` is not `{KIND}`"));
    }
    if head.schema_version.as_ref().and_then(Value::as_u64) != Some(u64::from(SCHEMA_VERSION)) {
        return Err(format!(
            "`schema_version` is not {SCHEMA_VERSION} (the only version this idguard reads)"
        ));
    }
    Ok(())
}

/// A snapshot from the file's bytes; the error says what is wrong (never a value).
#[cfg(test)]
fn parse(bytes: &[u8]) -> Result<Snapshot, String> {
    check_head(serde_json::from_slice(bytes).map_err(|e| e.to_string())?)?;
    parse_with(&mut serde_json::Deserializer::from_slice(bytes))
}

/// The snapshot a deserializer holds (its kind and version already checked).
fn parse_with<'de, R: serde_json::de::Read<'de>>(
    de: &mut serde_json::Deserializer<R>,
) -> Result<Snapshot, String> {
    let file: FileV1 = serde_path_to_error::deserialize(&mut *de).map_err(|e| {
        // The path names the field; serde's message names the expected type, not the value.
        format!("at `{}`: {}", e.path(), e.inner())
    })?;
    de.end().map_err(|e| e.to_string())?;
    let entries = file
        .identities
        .into_iter()
        .enumerate()
        .map(|(i, identity)| entry(identity).map_err(|e| format!("identities[{i}]: {e}")))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Snapshot::new(file.manifest, entries))
}

/// One identity of the file as the listing would have given it, with its configs decoded as
/// a live GET decodes them.
fn entry(v: IdentityV1<ConfigIn>) -> Result<Entry, String> {
    let scope = match (v.scope.as_str(), v.project_id) {
        ("organization", None) => IdentityScope::Organization,
        ("project", Some(project_id)) => IdentityScope::Project { project_id },
        _ => {
            return Err(
                "`scope` is not `organization`, or `project` with a `project_id`".to_owned(),
            );
        }
    };
    let last_login = match v.last_login {
        None => LastLogin::NotReported,
        Some(LastLoginV1::Word(w)) if w == "never" => LastLogin::Never,
        Some(LastLoginV1::Word(_)) => {
            return Err("`last_login` is not {time, method}, \"never\" or null".to_owned());
        }
        Some(LastLoginV1::At { time, method }) => LastLogin::At {
            time,
            method: method.as_deref().map(AuthMethod::parse),
        },
    };
    let auth_methods: Vec<AuthMethod> = v
        .auth_methods
        .iter()
        .map(|m| AuthMethod::parse(m))
        .collect();
    let mut configs = v.configs;
    let configs = auth_methods
        .iter()
        .map(|method| {
            let read = match configs.remove(method.as_str()) {
                Some(ConfigIn::Config(raw)) => {
                    let stored = StoredConfig::from_raw(raw);
                    // Decoded once here, so a bad config is refused with the file, not later.
                    stored
                        .decode(method)
                        .map_err(|e| format!("the `{method}` config: {e}"))?;
                    stored
                }
                Some(ConfigIn::Error(message)) => return Ok((method.clone(), Err(message))),
                None => return Err(format!("no entry in `configs` for `{method}`")),
            };
            Ok((method.clone(), Ok(read)))
        })
        .collect::<Result<Vec<_>, String>>()?;
    let identity = Identity {
        id: v.id,
        name: v.name,
        auth_methods,
        scope,
        usage: Usage {
            created_at: v.created_at,
            last_login,
        },
    };
    Ok(Entry {
        identity: Arc::new(identity),
        configs,
    })
}

fn identity_v1(entry: &Entry) -> IdentityV1<ConfigOut<'_>> {
    let identity = &entry.identity;
    let (scope, project_id) = match &identity.scope {
        IdentityScope::Organization => ("organization", None),
        IdentityScope::Project { project_id } => ("project", Some(project_id.clone())),
    };
    let last_login = match &identity.usage.last_login {
        LastLogin::NotReported => None,
        LastLogin::Never => Some(LastLoginV1::Word("never".to_owned())),
        LastLogin::At { time, method } => Some(LastLoginV1::At {
            time: *time,
            method: method.as_ref().map(|m| m.as_str().to_owned()),
        }),
    };
    IdentityV1 {
        id: identity.id.clone(),
        name: identity.name.clone(),
        scope: scope.to_owned(),
        project_id,
        created_at: identity.usage.created_at,
        last_login,
        auth_methods: identity
            .auth_methods
            .iter()
            .map(|m| m.as_str().to_owned())
            .collect(),
        configs: entry
            .configs
            .iter()
            .map(|(method, read)| {
                let v = match read {
                    Ok(stored) => ConfigOut::Config(stored.raw()),
                    Err(message) => ConfigOut::Error(message),
                };
                (method.as_str().to_owned(), v)
            })
            .collect(),
    }
}

/// `fields` with the value of every field idguard treats as secret replaced by
/// `{"redacted": true}` (its presence kept; an empty value, which holds no secret, kept as is).
pub fn without_secrets(fields: &Map<String, Value>) -> Map<String, Value> {
    fields
        .iter()
        .map(|(k, v)| {
            let v = if SENSITIVE.contains(&k.as_str()) && !is_empty(v) {
                serde_json::json!({"redacted": true})
            } else {
                v.clone()
            };
            (k.clone(), v)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::AuthConfig;
    use serde_json::json;

    fn ldap() -> AuthConfig {
        let fields = json!({"accessTokenTTL": 60, "accessTokenMaxTTL": 120,
            "accessTokenNumUsesLimit": 0, "bindPass": "hunter2-secret", "bindDN": "",
            "url": "ldaps://ldap.example"});
        let Value::Object(fields) = fields else {
            unreachable!()
        };
        AuthConfig::from_fields(AuthMethod::Ldap, fields).expect("decodes")
    }

    fn sample() -> Snapshot {
        let identity = Identity {
            id: "id-1".into(),
            name: "ci".into(),
            auth_methods: vec![AuthMethod::Ldap, AuthMethod::Universal],
            scope: IdentityScope::Project {
                project_id: "p-1".into(),
            },
            usage: Usage {
                created_at: Some("2026-01-02T03:04:05Z".parse().expect("ts")),
                last_login: LastLogin::At {
                    time: "2026-02-02T03:04:05Z".parse().expect("ts"),
                    method: Some(AuthMethod::Ldap),
                },
            },
        };
        let manifest = Manifest {
            api_url: "http://127.0.0.1:1".into(),
            org_id: "org".into(),
            started_at: "2026-03-01T00:00:00Z".parse().expect("ts"),
            finished_at: "2026-03-01T00:00:01Z".parse().expect("ts"),
            idguard_version: "0.0.0".into(),
            complete: true,
            incomplete_reason: None,
            errors: 1,
            full_read_at: None,
        };
        Snapshot::new(
            manifest,
            vec![Entry {
                identity: Arc::new(identity),
                configs: vec![
                    (AuthMethod::Ldap, Ok(StoredConfig::of(&ldap()))),
                    (AuthMethod::Universal, Err("HTTP 500: boom".into())),
                ],
            }],
        )
    }

    /// Written and read back: the identity and the error are the same; the secret is gone,
    /// its presence kept; an empty sensitive field is kept as is.
    #[test]
    fn round_trip_without_secrets() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let path = tmp.path().join("s.json");
        let snap = sample();
        write(&path, &snap).expect("written");
        let text = std::fs::read_to_string(&path).expect("read");
        assert!(!text.contains("hunter2-secret"), "{text}");
        let back = read(&path).expect("reads back");
        assert_eq!(back.manifest, snap.manifest);
        assert_eq!(back.entries[0].identity, snap.entries[0].identity);
        let config = back.config("id-1", &AuthMethod::Ldap).expect("config");
        assert_eq!(config.field("bindPass"), Some(&json!({"redacted": true})));
        assert_eq!(config.field("bindDN"), Some(&json!("")));
        assert_eq!(config.access_token_max_ttl, 120);
        assert_eq!(
            back.config("id-1", &AuthMethod::Universal).err().as_deref(),
            Some("HTTP 500: boom")
        );
        assert!(back.config("id-1", &AuthMethod::Aws).is_err());
    }

    /// The manifest alone reads back as written; a file that is not a snapshot is refused.
    #[test]
    fn the_manifest_reads_alone() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let path = tmp.path().join("s.json");
        let snap = sample();
        write(&path, &snap).expect("written");
        assert_eq!(read_manifest(&path).expect("manifest"), snap.manifest);
        let other = tmp.path().join("o.json");
        std::fs::write(
            &other,
            br#"{"kind": "other", "schema_version": 1, "manifest": {}}"#,
        )
        .expect("write");
        assert!(read_manifest(&other).is_err());
        std::fs::write(
            &other,
            br#"{"kind": "idguard-snapshot", "schema_version": 1}"#,
        )
        .expect("write");
        let err = read_manifest(&other).expect_err("no manifest").to_string();
        assert!(err.contains("no `manifest`"), "{err}");
    }

    /// Bad files are refused with a reason naming what is wrong.
    #[test]
    fn bad_files_are_refused() {
        for (bytes, want) in [
            (&b"{not json"[..], "key must be a string"),
            (br#"{"kind": "other", "schema_version": 1}"#, "`kind`"),
            (
                br#"{"kind": "idguard-snapshot", "schema_version": 2}"#,
                "`schema_version`",
            ),
            (
                br#"{"kind": "idguard-snapshot", "schema_version": 1, "manifest": {}}"#,
                "at `manifest`",
            ),
        ] {
            let err = parse(bytes).expect_err("refused");
            assert!(err.contains(want), "{err}");
        }
    }
}
