//! Finding the base of an incremental audit: the newest complete `snapshot.json` of a run
//! folder under the reports folder (or the one `--base` names) that was taken of the same
//! server and organization. A snapshot that cannot be read, or was taken of another server or
//! organization, is skipped with a warning and never trusted.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::display::safe;
use crate::snapshot::{self, Snapshot};

/// The file name of a run folder's snapshot.
pub const SNAPSHOT_FILE: &str = "snapshot.json";

/// The base found, or why there is none.
#[derive(Debug)]
pub enum Lookup {
    Found {
        /// The snapshot file.
        path: PathBuf,
        snapshot: Arc<Snapshot>,
    },
    /// Why no base can be used (the reason of the full read).
    Missing(String),
}

/// What the run must be the same as.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    pub api_url: &'a str,
    pub org_id: &'a str,
}

/// Looks for the base: in `explicit` (a run folder or a snapshot file) when given, otherwise
/// in the run folders of `reports`, newest first. Every snapshot skipped is named in `warnings`.
pub fn find(
    reports: &Path,
    explicit: Option<&Path>,
    target: Target<'_>,
    warnings: &mut Vec<String>,
) -> Lookup {
    if let Some(given) = explicit {
        let path = if given.is_dir() {
            given.join(SNAPSHOT_FILE)
        } else {
            given.to_owned()
        };
        return match candidate(&path, target) {
            Candidate::Usable(snapshot) => Lookup::Found { path, snapshot },
            Candidate::Incomplete(reason) => Lookup::Missing(format!(
                "the base snapshot {} is incomplete ({})",
                path.display(),
                safe(&reason)
            )),
            Candidate::Rejected(why) => {
                warnings.push(format!("the base {why}: ignored"));
                Lookup::Missing(format!("the base given is not usable: {why}"))
            }
        };
    }
    let mut incomplete: Option<(PathBuf, String)> = None;
    for dir in run_dirs(reports) {
        let path = dir.join(SNAPSHOT_FILE);
        if !path.is_file() {
            continue;
        }
        match candidate(&path, target) {
            Candidate::Usable(snapshot) => return Lookup::Found { path, snapshot },
            Candidate::Incomplete(reason) => {
                incomplete.get_or_insert((path, reason));
            }
            Candidate::Rejected(why) => warnings.push(format!("{why}: skipped as a base")),
        }
    }
    Lookup::Missing(match incomplete {
        Some((path, reason)) => format!(
            "no complete base snapshot under {}: the newest, {}, is incomplete ({})",
            reports.display(),
            path.display(),
            safe(&reason)
        ),
        None => format!(
            "no earlier run under {} holds a {SNAPSHOT_FILE} of this organization",
            reports.display()
        ),
    })
}

enum Candidate {
    Usable(Arc<Snapshot>),
    /// Of this organization, but its reading stopped short.
    Incomplete(String),
    /// Unreadable, or of another server or organization: why, naming the file.
    Rejected(String),
}

/// Judges the file at `path`: its manifest first (cheap), then, for a complete snapshot of this
/// organization, the whole file.
fn candidate(path: &Path, target: Target<'_>) -> Candidate {
    let rejected =
        |e: snapshot::SnapshotError| Candidate::Rejected(safe(&e.to_string()).into_owned());
    let m = match snapshot::read_manifest(path) {
        Ok(m) => m,
        Err(e) => return rejected(e),
    };
    if m.api_url != target.api_url || m.org_id != target.org_id {
        return Candidate::Rejected(format!(
            "{} was taken of org {} at {}, not of this run's org {} at {}",
            path.display(),
            safe(&m.org_id),
            safe(&m.api_url),
            safe(target.org_id),
            safe(target.api_url)
        ));
    }
    if !m.complete {
        let reason = m
            .incomplete_reason
            .unwrap_or_else(|| "no reason recorded".to_owned());
        return Candidate::Incomplete(reason);
    }
    match snapshot::read(path) {
        // The whole file must say what its manifest said.
        Ok(snap) if snap.manifest == m => Candidate::Usable(Arc::new(snap)),
        Ok(_) => Candidate::Rejected(format!("{} changed while it was read", path.display())),
        Err(e) => rejected(e),
    }
}

/// The run folders of `reports` (named by their UTC start, `20261205T010000Z` or
/// `20261205T010000Z-2` for a second run in the same second), newest first; `latest` and
/// names of another shape are left out.
fn run_dirs(reports: &Path) -> Vec<PathBuf> {
    let Ok(read) = std::fs::read_dir(reports) else {
        return Vec::new();
    };
    let mut dirs: Vec<((String, u32), PathBuf)> = read
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let name = entry.file_name().into_string().ok()?;
            let key = run_key(&name)?;
            let path = entry.path();
            // A symbolic link (such as `latest`) is not a run folder of its own.
            let meta = std::fs::symlink_metadata(&path).ok()?;
            meta.is_dir().then_some((key, path))
        })
        .collect();
    dirs.sort_by(|a, b| b.0.cmp(&a.0));
    dirs.into_iter().map(|(_, path)| path).collect()
}

/// The sort key of a run folder's name: its stamp and its number within the second.
fn run_key(name: &str) -> Option<(String, u32)> {
    let (stamp, n) = match name.split_once('-') {
        Some((stamp, n)) => (stamp, n.parse().ok()?),
        None => (name, 0),
    };
    let shaped = stamp.len() == 16
        && stamp.as_bytes()[8] == b'T'
        && stamp.ends_with('Z')
        && stamp[..8].bytes().all(|b| b.is_ascii_digit())
        && stamp[9..15].bytes().all(|b| b.is_ascii_digit());
    shaped.then(|| (stamp.to_owned(), n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_folders_sort_newest_first() {
        let tmp = tempfile::tempdir().expect("tmp");
        for name in [
            "20261201T010000Z",
            "20261203T010000Z",
            "20261203T010000Z-2",
            "20261203T010000Z-10",
            "notes",
        ] {
            std::fs::create_dir(tmp.path().join(name)).expect("mkdir");
        }
        #[cfg(unix)]
        std::os::unix::fs::symlink(
            tmp.path().join("20261201T010000Z"),
            tmp.path().join("latest"),
        )
        .expect("link");
        let names: Vec<String> = run_dirs(tmp.path())
            .iter()
            .filter_map(|p| p.file_name()?.to_str().map(str::to_owned))
            .collect();
        assert_eq!(
            names,
            [
                "20261203T010000Z-10",
                "20261203T010000Z-2",
                "20261203T010000Z",
                "20261201T010000Z"
            ]
        );
    }

    #[test]
    fn nothing_under_a_missing_folder() {
        let tmp = tempfile::tempdir().expect("tmp");
        let mut warnings = Vec::new();
        let target = Target {
            api_url: "http://127.0.0.1:1",
            org_id: "org",
        };
        let lookup = find(&tmp.path().join("none"), None, target, &mut warnings);
        assert!(matches!(lookup, Lookup::Missing(ref r) if r.contains("no earlier run")));
        assert!(warnings.is_empty());
    }
}
