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
    /// Stopped by Ctrl-C (SIGINT, 128 + 2): what was written is journalled; an audit's
    /// reports, when written, are marked incomplete.
    Interrupted = 130,
}

impl Exit {
    /// The numeric code.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// Every exit code, in order.
    pub const ALL: [Exit; 11] = [
        Exit::Ok,
        Exit::Findings,
        Exit::Incomplete,
        Exit::WriteFailed,
        Exit::Refused,
        Exit::Usage,
        Exit::DataErr,
        Exit::Unavailable,
        Exit::IoErr,
        Exit::NoPerm,
        Exit::Interrupted,
    ];

    /// The exit code of a run whose listing worked, in order of precedence: a stop by Ctrl-C,
    /// then `error` results (incomplete), then a refused apply, then a write that failed or did not verify, then
    /// findings at or above `--fail-on` still failing.
    pub fn of_run(outcome: &RunOutcome) -> Exit {
        if outcome.interrupted {
            Exit::Interrupted
        } else if outcome.errors > 0 {
            Exit::Incomplete
        } else if outcome.refused {
            Exit::Refused
        } else if outcome.write_failed {
            Exit::WriteFailed
        } else if outcome.still_failing > 0 {
            Exit::Findings
        } else {
            Exit::Ok
        }
    }
}

/// What a run whose listing worked adds up to, for [`Exit::of_run`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunOutcome {
    /// Ctrl-C stopped the writes (exit 130 wins: the person asked to stop).
    pub interrupted: bool,
    /// Results that are `error`.
    pub errors: u64,
    /// The blast-radius guard refused the apply.
    pub refused: bool,
    /// A write failed or did not verify.
    pub write_failed: bool,
    /// Unexempted failures at or above `--fail-on` left after any writes.
    pub still_failing: u64,
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
    /// The error and its causes, `outer: inner: ...`, each cause once: an error whose own
    /// message already quotes its cause does not get it repeated.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut text = self.error.to_string();
        for cause in self.error.chain().skip(1) {
            let cause = cause.to_string();
            if !text.contains(&cause) {
                text.push_str(": ");
                text.push_str(&cause);
            }
        }
        f.write_str(&text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A cause already quoted by the error above it is printed once.
    #[test]
    fn causes_are_printed_once() {
        #[derive(Debug, thiserror::Error)]
        #[error("cannot write report.json: {source}")]
        struct Write {
            source: std::io::Error,
        }
        let io = std::io::Error::new(std::io::ErrorKind::PermissionDenied, "permission denied");
        let failure = Failure::new(
            Exit::IoErr,
            anyhow::Error::new(Write { source: io }).context("cannot finish the reports"),
        );
        assert_eq!(
            failure.to_string(),
            "cannot finish the reports: cannot write report.json: permission denied"
        );
    }

    #[test]
    fn errors_win_over_writes_and_findings() {
        let stopped = RunOutcome {
            interrupted: true,
            errors: 1,
            refused: true,
            write_failed: true,
            still_failing: 3,
        };
        assert_eq!(Exit::of_run(&stopped), Exit::Interrupted);
        assert_eq!(Exit::Interrupted.code(), 130);
        let all = RunOutcome {
            interrupted: false,
            errors: 1,
            refused: true,
            write_failed: true,
            still_failing: 3,
        };
        assert_eq!(Exit::of_run(&all), Exit::Incomplete);
        let no_errors = RunOutcome { errors: 0, ..all };
        assert_eq!(Exit::of_run(&no_errors), Exit::Refused);
        let written = RunOutcome {
            refused: false,
            ..no_errors
        };
        assert_eq!(Exit::of_run(&written), Exit::WriteFailed);
        let findings = RunOutcome {
            write_failed: false,
            ..written
        };
        assert_eq!(Exit::of_run(&findings), Exit::Findings);
        assert_eq!(Exit::of_run(&RunOutcome::default()), Exit::Ok);
    }
}
