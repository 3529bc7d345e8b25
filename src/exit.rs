//! Exit codes (the README's table) and the failure type that carries one up to `main`.

use std::fmt;

/// The process exit codes idguard uses. Users' cron jobs depend on these numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Exit {
    /// Everything evaluated; no unexempted finding at or above `--fail-on`.
    Ok = 0,
    /// Evaluation complete; findings at or above `--fail-on`.
    Findings = 1,
    /// Evaluation incomplete: at least one result is `error`.
    Incomplete = 2,
    /// Remediation: a write failed or did not verify.
    WriteFailed = 3,
    /// The blast-radius guard refused the apply.
    Refused = 4,
    /// Bad arguments.
    Usage = 64,
    /// Invalid policy, plan or journal file.
    DataErr = 65,
    /// Server unreachable, or the identity listing failed.
    Unavailable = 69,
    /// The reports could not be written (disk full, permissions, folder already used).
    IoErr = 74,
    /// Authentication or permission failure.
    NoPerm = 77,
}

impl Exit {
    /// The numeric code.
    pub fn code(self) -> u8 {
        self as u8
    }
}

/// A run that ended in error: the error chain, the exit code, and a hint for the user.
#[derive(Debug)]
pub struct Failure {
    pub exit: Exit,
    pub error: anyhow::Error,
    pub hint: Option<String>,
}

impl Failure {
    /// A failure with this exit code.
    pub fn new(exit: Exit, error: impl Into<anyhow::Error>) -> Failure {
        Failure {
            exit,
            error: error.into(),
            hint: None,
        }
    }

    /// Adds a hint line.
    pub fn hint(mut self, hint: impl Into<String>) -> Failure {
        self.hint = Some(hint.into());
        self
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#}", self.error)
    }
}
