//! Report files on disk: the per-run output folder (never reused) and atomic writes
//! (temp file in the same folder, fsync, rename), with owner-only permissions because reports
//! describe an organization's security posture, and a plan or journal another local user could
//! edit between `remediate` and `apply` would be a way to write to Infisical.
//!
//! Folders idguard creates are 0700 and files 0600 whatever the umask; folders that already
//! exist are left as they are.

use std::fs::DirBuilder;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use tempfile::NamedTempFile;

use super::ReportError;

/// Creates the output folder for a run. With `out` given, that folder is used (created if
/// missing; refused if it already holds a `report.json`, so a run never overwrites another).
/// Without it, `reports/<UTC timestamp>/` is created, with a numeric suffix if that exists
/// ([`mark_latest`] points `reports/latest` at it once its reports are written). Every folder created here (the run folder
/// and missing parents such as `reports/`) is owner-only, 0700, whatever the umask.
pub fn create_run_dir(out: Option<&Path>, now: jiff::Timestamp) -> Result<PathBuf, ReportError> {
    create_run_dir_in(Path::new("reports"), out, now)
}

/// [`create_run_dir`] with the default base folder given (for tests).
pub fn create_run_dir_in(
    base: &Path,
    out: Option<&Path>,
    now: jiff::Timestamp,
) -> Result<PathBuf, ReportError> {
    let io = |path: &Path, source| ReportError::Io {
        path: path.to_owned(),
        source,
    };
    match out {
        Some(dir) => {
            if dir.is_dir() {
                warn_if_shared(dir);
            } else {
                create_private_dir_all(dir).map_err(|e| io(dir, e))?;
            }
            for name in [
                "report.json",
                "report.csv",
                "report.md",
                "report.html",
                "report.sarif",
                "report.junit.xml",
                "plan.json",
                "plan.md",
                "journal.jsonl",
                "diff.json",
                "diff.md",
                "snapshot.json",
            ] {
                let existing = dir.join(name);
                if existing.exists() {
                    return Err(io(
                        &existing,
                        std::io::Error::new(
                            std::io::ErrorKind::AlreadyExists,
                            "a previous run's file is there; choose another --out folder",
                        ),
                    ));
                }
            }
            Ok(dir.to_owned())
        }
        None => {
            create_private_dir_all(base).map_err(|e| io(base, e))?;
            let stamp = now.strftime("%Y%m%dT%H%M%SZ").to_string();
            for n in 0..1000 {
                let name = if n == 0 {
                    stamp.clone()
                } else {
                    format!("{stamp}-{n}")
                };
                let dir = base.join(name);
                match create_private_dir(&dir) {
                    Ok(()) => return Ok(dir),
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                    Err(e) => return Err(io(&dir, e)),
                }
            }
            Err(io(
                base,
                std::io::Error::other("too many runs in the same second"),
            ))
        }
    }
}

/// Creates one folder, owner-only: made with mode 0700 (so it is never wider, even for an
/// instant) and then set to 0700 (so a umask cannot narrow it either). An existing path is an
/// `AlreadyExists` error.
fn create_private_dir(dir: &Path) -> io::Result<()> {
    let mut builder = DirBuilder::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        builder.mode(0o700);
        builder.create(dir)?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
    }
    #[cfg(not(unix))]
    {
        builder.create(dir)
    }
}

/// Creates `dir` and its missing parents, each with [`create_private_dir`]. Folders that
/// already exist (or that another process creates meanwhile) are left as they are.
pub fn create_private_dir_all(dir: &Path) -> io::Result<()> {
    let missing: Vec<&Path> = dir
        .ancestors()
        .take_while(|p| !p.as_os_str().is_empty() && !p.is_dir())
        .collect();
    for path in missing.into_iter().rev() {
        match create_private_dir(path) {
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && path.is_dir() => {}
            other => other?,
        }
    }
    Ok(())
}

/// Warns when an existing `--out` folder is writable by other users: they could change its
/// files (a plan, a journal) between `remediate` and `apply`. Its permissions are not changed.
fn warn_if_shared(dir: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(dir)
            && meta.permissions().mode() & 0o022 != 0
        {
            tracing::warn!(
                "{} is writable by other users, who could change the files idguard writes \
                 there; prefer a folder only you can write to",
                dir.display()
            );
        }
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
    }
}

/// `reports/latest/report.json`: the report of the last run whose reports were written under
/// `reports/` (it may not exist).
pub fn latest_report() -> PathBuf {
    Path::new("reports").join("latest").join("report.json")
}

/// Points `reports/latest` at `dir`, a run folder [`create_run_dir`] made under `reports/`.
/// Called once the run's reports are written, so the link never names a run still in
/// progress, one that failed before its reports, or an `apply` or `rollback` folder (which
/// holds only a journal).
pub fn mark_latest(dir: &Path) {
    if let Some(base) = dir.parent() {
        point_latest(base, dir);
    }
}

/// Points `base/latest` at `dir` (a relative symlink, replaced atomically). Best effort: a
/// failure is logged, never fatal.
fn point_latest(base: &Path, dir: &Path) {
    #[cfg(unix)]
    {
        let Some(name) = dir.file_name() else { return };
        let tmp = base.join(format!(".latest.{}.tmp", std::process::id()));
        let _ = std::fs::remove_file(&tmp);
        let result = std::os::unix::fs::symlink(name, &tmp)
            .and_then(|()| std::fs::rename(&tmp, base.join("latest")));
        if let Err(e) = result {
            let _ = std::fs::remove_file(&tmp);
            tracing::warn!("cannot update {}: {e}", base.join("latest").display());
        }
    }
    #[cfg(not(unix))]
    {
        let _ = (base, dir);
    }
}

/// Creates a hidden temp file beside `final_path` (mode 0600), removed when dropped unless
/// [`commit`]ted: a run that fails or panics leaves no temp file behind.
pub(super) fn create_temp(final_path: &Path) -> Result<NamedTempFile, ReportError> {
    let name = final_path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "report".into());
    let dir = match final_path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(|source| ReportError::Io {
            path: final_path.to_owned(),
            source,
        })
}

/// Flushes `tmp` to disk and moves it to `final_path`, never replacing a file there (no
/// check-then-rename race: the move itself refuses).
pub(super) fn commit(tmp: NamedTempFile, final_path: &Path) -> Result<(), ReportError> {
    let io = |source| ReportError::Io {
        path: final_path.to_owned(),
        source,
    };
    tmp.as_file().sync_all().map_err(io)?;
    tmp.persist_noclobber(final_path)
        .map(drop)
        .map_err(|e| io(e.error))
}

/// Writes `bytes` to `path` atomically (temp file, fsync, rename), mode 0600.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), ReportError> {
    write_atomic_with(path, |w| w.write_all(bytes))
}

/// [`write_atomic`] of what `fill` writes, through a buffer (for files too large to build in
/// memory first).
pub fn write_atomic_with(
    path: &Path,
    fill: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> Result<(), ReportError> {
    let io = |source| ReportError::Io {
        path: path.to_owned(),
        source,
    };
    let tmp = create_temp(path)?;
    let mut buffered = io::BufWriter::new(tmp);
    fill(&mut buffered).map_err(io)?;
    let tmp = buffered.into_inner().map_err(|e| io(e.into_error()))?;
    commit(tmp, path)
}

/// Writes `bytes` to `path` atomically (temp file, fsync, rename), mode 0600, replacing a file
/// there (for files rewritten on every run, such as `trend.html`).
pub fn replace_atomic(path: &Path, bytes: &[u8]) -> Result<(), ReportError> {
    let io = |source| ReportError::Io {
        path: path.to_owned(),
        source,
    };
    let mut tmp = create_temp(path)?;
    tmp.write_all(bytes).map_err(io)?;
    tmp.as_file().sync_all().map_err(io)?;
    tmp.persist(path).map(drop).map_err(|e| io(e.error))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_dirs_are_never_reused_and_latest_follows() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let base = tmp.path().join("reports");
        let now = jiff::Timestamp::from_second(1_764_000_000).expect("ts");
        let a = create_run_dir_in(&base, None, now).expect("first");
        let b = create_run_dir_in(&base, None, now).expect("second, same second");
        assert_ne!(a, b);
        assert!(
            base.join("latest").symlink_metadata().is_err(),
            "no link before a run's reports are written"
        );
        mark_latest(&b);
        #[cfg(unix)]
        for dir in [&base, &a, &b] {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir).expect("exists").permissions().mode();
            assert_eq!(mode & 0o777, 0o700, "{}", dir.display());
        }
        #[cfg(unix)]
        assert_eq!(
            std::fs::read_link(base.join("latest")).expect("link"),
            b.file_name().map(PathBuf::from).expect("name")
        );
        write_atomic(&a.join("report.json"), b"{}").expect("write");
        assert!(
            create_run_dir_in(&base, Some(&a), now).is_err(),
            "a used --out folder is refused"
        );
        assert!(
            write_atomic(&a.join("report.json"), b"{}").is_err(),
            "never overwrites"
        );
    }

    /// An `--out` folder with missing parents is created owner-only down from the first
    /// missing one; an existing parent keeps its permissions.
    #[cfg(unix)]
    #[test]
    fn out_folders_and_their_missing_parents_are_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).expect("exists").permissions().mode() & 0o777;
        let tmp = tempfile::tempdir().expect("tempdir");
        std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755))
            .expect("chmod");
        let out = tmp.path().join("a").join("b").join("run");
        let now = jiff::Timestamp::from_second(1_764_000_000).expect("ts");
        assert_eq!(
            create_run_dir_in(tmp.path(), Some(&out), now).expect("created"),
            out
        );
        for dir in [tmp.path().join("a"), tmp.path().join("a/b"), out] {
            assert_eq!(mode(&dir), 0o700, "{}", dir.display());
        }
        assert_eq!(mode(tmp.path()), 0o755, "an existing folder is left alone");
    }
}
