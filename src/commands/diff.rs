//! `idguard diff OLD NEW`: what changed between two runs, on stdout; exit 1 when anything is
//! new or regressed (for a nightly cron that alerts only on change), 65 on a bad report file.

use std::io::Write;

use crate::cli::DiffArgs;
use crate::diff::{DiffError, StillFailing, run_diff};
use crate::exit::{Exit, Failure};

/// Runs `idguard diff`.
pub fn run(args: &DiffArgs, _stderr: &mut dyn Write) -> Result<Exit, Failure> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let still_failing = if args.all {
        StillFailing::List
    } else {
        StillFailing::Count
    };
    match run_diff(&args.old, &args.new, args.format, still_failing, &mut out) {
        Ok(outcome) => Ok(if outcome.new_or_regressed {
            Exit::Findings
        } else {
            Exit::Ok
        }),
        // A closed pipe (`idguard diff ... | head`) is not an error.
        Err(DiffError::Write(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(Exit::Ok),
        Err(e @ DiffError::Write(_)) => Err(Failure::new(Exit::IoErr, e)),
        Err(e) => Err(Failure::new(Exit::DataErr, e)),
    }
}
