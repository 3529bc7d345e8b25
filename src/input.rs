//! Reading local input files (policy, plan, journal, token file, CA certificates) through a
//! size cap, so a huge or endless file (`/dev/zero`, a log passed by mistake) is refused with
//! its path instead of being read into memory. The caps, per kind of file:
//!
//! | file | cap |
//! |---|---|
//! | policy | 4 MiB |
//! | plan | 256 MiB |
//! | journal | 256 MiB in all, 1 MiB per line |
//! | `--token-file` | 64 KiB |
//! | `--ca-cert` | 4 MiB |
//! | a run's report.json, read by `trend` | 1 GiB |

use std::fs::File;
use std::io::{BufRead, Read};
use std::path::{Path, PathBuf};

/// The largest policy file read.
pub const POLICY_CAP: u64 = 4 * 1024 * 1024;
/// The largest plan file read.
pub const PLAN_CAP: u64 = 256 * 1024 * 1024;
/// The largest journal read, in all.
pub const JOURNAL_CAP: u64 = 256 * 1024 * 1024;
/// The longest journal line read.
pub const JOURNAL_LINE_CAP: u64 = 1024 * 1024;
/// The largest `--token-file` read.
pub const TOKEN_FILE_CAP: u64 = 64 * 1024;
/// The largest `--ca-cert` file read.
pub const CA_FILE_CAP: u64 = 4 * 1024 * 1024;
/// The largest report.json `trend` reads (an organization of 100,000 identities writes a few
/// hundred MiB).
pub const REPORT_CAP: u64 = 1024 * 1024 * 1024;

/// A local input file that could not be read whole.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// Opening or reading failed.
    #[error("cannot read {what} {}: {source}", path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A line of the file is longer than its cap.
    #[error("{what} {} has a line longer than {}", path.display(), size(*cap))]
    LineTooLong {
        what: &'static str,
        path: PathBuf,
        cap: u64,
    },
    /// The file is larger than its cap.
    #[error("{what} {} is larger than {}", path.display(), size(*cap))]
    TooLarge {
        what: &'static str,
        path: PathBuf,
        cap: u64,
    },
}

impl InputError {
    /// Whether the file was too large (bad input) rather than unreadable (an I/O problem).
    pub fn is_too_large(&self) -> bool {
        matches!(
            self,
            InputError::TooLarge { .. } | InputError::LineTooLong { .. }
        )
    }
}

fn size(bytes: u64) -> String {
    if bytes >= 1024 * 1024 * 1024 {
        format!("{} GiB", bytes / (1024 * 1024 * 1024))
    } else if bytes >= 1024 * 1024 {
        format!("{} MiB", bytes / (1024 * 1024))
    } else {
        format!("{} KiB", bytes / 1024)
    }
}

/// Reads the whole of `path`, refusing it when it holds more than `cap` bytes. `what` names
/// the kind of file in errors ("policy", "plan", ...).
pub fn read_capped(path: &Path, cap: u64, what: &'static str) -> Result<Vec<u8>, InputError> {
    let io = |source| InputError::Io {
        what,
        path: path.to_owned(),
        source,
    };
    let file = File::open(path).map_err(io)?;
    let mut bytes = Vec::new();
    file.take(cap.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() as u64 > cap {
        return Err(InputError::TooLarge {
            what,
            path: path.to_owned(),
            cap,
        });
    }
    Ok(bytes)
}

/// Opens `path` for reading through a buffer, refusing a file over `cap` bytes (and reading no
/// more than `cap` + 1 bytes should it grow meanwhile): for files parsed as a stream rather
/// than held whole.
pub fn open_capped(
    path: &Path,
    cap: u64,
    what: &'static str,
) -> Result<std::io::BufReader<std::io::Take<File>>, InputError> {
    let io = |source| InputError::Io {
        what,
        path: path.to_owned(),
        source,
    };
    let file = File::open(path).map_err(io)?;
    if file.metadata().map_err(io)?.len() > cap {
        return Err(InputError::TooLarge {
            what,
            path: path.to_owned(),
            cap,
        });
    }
    Ok(std::io::BufReader::new(file.take(cap.saturating_add(1))))
}

/// Reads one line (up to and including `\n`) into `buf` from `reader`, refusing a line longer
/// than `cap` bytes. Returns the number of bytes read (0 at the end).
pub fn read_line_capped(
    reader: &mut impl BufRead,
    buf: &mut Vec<u8>,
    cap: u64,
    what: &'static str,
    path: &Path,
) -> Result<usize, InputError> {
    let n = reader
        .take(cap.saturating_add(1))
        .read_until(b'\n', buf)
        .map_err(|source| InputError::Io {
            what,
            path: path.to_owned(),
            source,
        })?;
    if n as u64 > cap {
        return Err(InputError::LineTooLong {
            what,
            path: path.to_owned(),
            cap,
        });
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file within its cap is read whole; one byte more is refused, naming the file;
    /// an endless file is refused after reading just past the cap.
    #[test]
    fn files_are_read_up_to_their_cap() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("p.yaml");
        std::fs::write(&path, vec![b'a'; 1024]).expect("write");
        assert_eq!(
            read_capped(&path, 1024, "policy").expect("read").len(),
            1024
        );
        let err = read_capped(&path, 1023, "policy").expect_err("too large");
        assert!(err.is_too_large());
        assert!(err.to_string().contains("p.yaml"), "{err}");
        #[cfg(unix)]
        {
            let err = read_capped(Path::new("/dev/zero"), 1 << 20, "plan").expect_err("endless");
            assert!(err.is_too_large(), "{err}");
        }
        let missing = read_capped(&dir.path().join("nope"), 10, "plan").expect_err("missing");
        assert!(!missing.is_too_large());
    }

    /// A line longer than the cap is refused; shorter lines are read one at a time.
    #[test]
    fn lines_are_capped() {
        let text = b"short\nthis line is long\n";
        let mut reader = std::io::BufReader::new(&text[..]);
        let mut buf = Vec::new();
        let p = Path::new("j.jsonl");
        assert_eq!(
            read_line_capped(&mut reader, &mut buf, 8, "journal", p).expect("line"),
            6
        );
        buf.clear();
        let err = read_line_capped(&mut reader, &mut buf, 8, "journal", p).expect_err("long");
        assert!(err.is_too_large());
    }
}
