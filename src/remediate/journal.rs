//! The write-ahead journal of an apply or a rollback (`journal.jsonl`).
//!
//! One JSON object per line. Before each PATCH the `before` entry (the live values of the
//! fields idguard is about to change, and the values it will write) is appended and flushed
//! to disk with fsync; after it, an `outcome` entry. The journal keeps only the fields idguard
//! changes, never whole configs, so secrets the server returns in clear never reach it.
//! A journal cut short by a crash is readable: a partial last line is ignored (and reported).

use std::fs::{File, OpenOptions};
use std::io::{BufReader, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::batch::Filter;

/// The result of one change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// Written, read back, and the config now matches what was intended.
    Verified,
    /// The server refused the write (or it could not be sent).
    Failed,
    /// Written, but the read-back did not show exactly what was intended (or failed).
    Unverified,
    /// The live config no longer matched the plan: nothing written.
    Drifted,
    /// Rollback: the live value is no longer what idguard wrote: nothing written.
    ChangedSince,
    /// Rollback: the live values already equal the before-state (the write never landed).
    Unchanged,
}

impl Outcome {
    /// The kebab-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Verified => "verified",
            Outcome::Failed => "failed",
            Outcome::Unverified => "unverified",
            Outcome::Drifted => "drifted",
            Outcome::ChangedSince => "changed-since",
            Outcome::Unchanged => "unchanged",
        }
    }
}

/// One journal line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Entry {
    /// The first line: what this journal is about.
    Begin {
        run_id: String,
        at: String,
        api_url: String,
        org_id: String,
        /// `apply` or `rollback`.
        action: String,
        /// The part of the plan the apply acted on (`--rule`, `--identity`, `--severity`);
        /// absent when it acted on the whole plan (and in journals of older versions).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        filter: Option<Filter>,
    },
    /// Written and flushed before the PATCH of one config.
    Before {
        change_id: String,
        identity_id: String,
        identity_name: String,
        auth_method: String,
        at: String,
        /// Live values of the fields about to change (request encoding).
        before: Map<String, Value>,
        /// The values idguard writes to those fields.
        written: Map<String, Value>,
    },
    /// Written after the PATCH (or instead of it, for `drifted` / `changed-since`).
    Outcome {
        change_id: String,
        identity_id: String,
        auth_method: String,
        at: String,
        outcome: Outcome,
        /// The read-back values of the changed fields, when the read worked.
        after: Option<Map<String, Value>>,
        error: Option<String>,
    },
}

/// Errors of writing or reading a journal.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("cannot write journal {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Read(#[from] crate::input::InputError),
    #[error("{path}:{line}: not a journal entry: {message}")]
    Invalid {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error("{path}: empty journal (no `begin` line)")]
    Empty { path: PathBuf },
}

/// Where journal lines go: a file, in every real run. Tests put a failing disk here.
pub trait JournalSink: Write + Send {
    /// Flushes what was written to stable storage.
    fn sync(&mut self) -> std::io::Result<()>;
}

impl JournalSink for File {
    fn sync(&mut self) -> std::io::Result<()> {
        self.sync_data()
    }
}

/// An open journal that appends and syncs every entry.
pub struct JournalWriter {
    path: PathBuf,
    sink: Box<dyn JournalSink>,
}

impl JournalWriter {
    /// A journal writing to `sink`; `path` names it in errors.
    pub fn with_sink(path: &Path, sink: Box<dyn JournalSink>) -> JournalWriter {
        JournalWriter {
            path: path.to_owned(),
            sink,
        }
    }

    /// Creates a new journal file (mode 0600) and syncs its folder, so the file itself
    /// survives a crash; an existing file is never reused.
    pub fn create(path: &Path) -> Result<JournalWriter, JournalError> {
        let mut opts = OpenOptions::new();
        opts.append(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let err = |source| JournalError::Write {
            path: path.to_owned(),
            source,
        };
        let file = opts.open(path).map_err(err)?;
        let folder = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        File::open(folder).and_then(|d| d.sync_all()).map_err(err)?;
        Ok(JournalWriter::with_sink(path, Box::new(file)))
    }

    /// Appends one entry and flushes it to disk (fsync) before returning.
    pub fn append(&mut self, entry: &Entry) -> Result<(), JournalError> {
        let err = |source| JournalError::Write {
            path: self.path.clone(),
            source,
        };
        let mut line = serde_json::to_vec(entry).map_err(|e| err(e.into()))?;
        line.push(b'\n');
        self.sink.write_all(&line).map_err(err)?;
        self.sink.sync().map_err(err)
    }

    /// The journal's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// A journal read back.
#[derive(Debug, Clone, PartialEq)]
pub struct Journal {
    pub entries: Vec<Entry>,
    /// The last line was partial (a crash mid-write) and was ignored.
    pub truncated_tail: bool,
}

/// Reads a journal. Every complete line must be a valid entry (else an error naming the
/// line); a partial last line without its newline is ignored and flagged.
pub fn read(path: &Path) -> Result<Journal, JournalError> {
    use crate::input::{InputError, JOURNAL_CAP, JOURNAL_LINE_CAP, read_line_capped};
    let file = File::open(path).map_err(|source| InputError::Io {
        what: "journal",
        path: path.to_owned(),
        source,
    })?;
    let mut reader = BufReader::new(file);
    let mut entries = Vec::new();
    let mut truncated_tail = false;
    let mut buf = Vec::new();
    let mut line_no = 0;
    let mut total: u64 = 0;
    loop {
        buf.clear();
        let n = read_line_capped(&mut reader, &mut buf, JOURNAL_LINE_CAP, "journal", path)?;
        if n == 0 {
            break;
        }
        total += n as u64;
        if total > JOURNAL_CAP {
            return Err(InputError::TooLarge {
                what: "journal",
                path: path.to_owned(),
                cap: JOURNAL_CAP,
            }
            .into());
        }
        line_no += 1;
        let complete = buf.ends_with(b"\n");
        let text = String::from_utf8_lossy(&buf);
        if text.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Entry>(text.trim()) {
            Ok(entry) => entries.push(entry),
            Err(_) if !complete => {
                truncated_tail = true;
                break;
            }
            Err(e) => {
                return Err(JournalError::Invalid {
                    path: path.to_owned(),
                    line: line_no,
                    message: e.to_string(),
                });
            }
        }
    }
    if !matches!(entries.first(), Some(Entry::Begin { .. })) {
        return Err(match entries.first() {
            None => JournalError::Empty {
                path: path.to_owned(),
            },
            Some(_) => JournalError::Invalid {
                path: path.to_owned(),
                line: 1,
                message: "the first line must be the `begin` entry".into(),
            },
        });
    }
    Ok(Journal {
        entries,
        truncated_tail,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn begin() -> Entry {
        Entry::Begin {
            run_id: "r".into(),
            at: "2026-11-25T00:00:00Z".into(),
            api_url: "http://127.0.0.1:1".into(),
            org_id: "o".into(),
            action: "apply".into(),
            filter: None,
        }
    }

    fn before(id: &str) -> Entry {
        Entry::Before {
            change_id: id.into(),
            identity_id: "i".into(),
            identity_name: "n".into(),
            auth_method: "oci-auth".into(),
            at: "2026-11-25T00:00:00Z".into(),
            before: json!({"accessTokenTTL": 0}).as_object().cloned().unwrap(),
            written: json!({"accessTokenTTL": 3600})
                .as_object()
                .cloned()
                .unwrap(),
        }
    }

    #[test]
    fn round_trips_and_survives_a_partial_last_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.jsonl");
        let mut w = JournalWriter::create(&path).unwrap();
        w.append(&begin()).unwrap();
        w.append(&before("c1")).unwrap();
        drop(w);
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(br#"{"type":"outcome","change_id":"c1","ident"#)
            .unwrap();
        let j = read(&path).unwrap();
        assert_eq!(j.entries, vec![begin(), before("c1")]);
        assert!(j.truncated_tail);
        assert!(
            JournalWriter::create(&path).is_err(),
            "never reuses a journal"
        );
    }

    /// The filter of a batch is recorded in the `begin` entry; a journal written before the
    /// field existed still loads.
    #[test]
    fn begin_records_the_filter_and_old_journals_load() {
        let old =
            r#"{"type":"begin","run_id":"r","at":"t","api_url":"u","org_id":"o","action":"apply"}"#;
        let entry: Entry = serde_json::from_str(old).unwrap();
        assert!(matches!(entry, Entry::Begin { filter: None, .. }));
        let filter = Filter::new(vec!["network".into()], vec!["ci-*".into()], &[]);
        let Entry::Begin {
            run_id,
            at,
            api_url,
            org_id,
            action,
            ..
        } = entry
        else {
            unreachable!()
        };
        let with = Entry::Begin {
            run_id,
            at,
            api_url,
            org_id,
            action,
            filter: Some(filter),
        };
        let line = serde_json::to_string(&with).unwrap();
        assert!(
            line.contains(
                r#""filter":{"rules":["network"],"identities":["ci-*"],"severities":[]}"#
            ),
            "{line}"
        );
        assert_eq!(serde_json::from_str::<Entry>(&line).unwrap(), with);
        assert!(!serde_json::to_string(&begin()).unwrap().contains("filter"));
    }

    #[test]
    fn a_bad_complete_line_is_an_error_with_its_number() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.jsonl");
        let good = serde_json::to_string(&begin()).unwrap();
        std::fs::write(&path, format!("{good}\nnot json\n{good}\n")).unwrap();
        let err = read(&path).unwrap_err().to_string();
        assert!(err.contains("j.jsonl:2:"), "{err}");
        std::fs::write(&path, "").unwrap();
        assert!(matches!(read(&path), Err(JournalError::Empty { .. })));
    }
}
