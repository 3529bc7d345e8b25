//! `idguard test POLICY CASES...`: run a policy's unit tests and print the outcome on stdout;
//! exit 0 when every expectation holds, 1 when one does not, 65 on an invalid policy or cases
//! file (every problem with line:column), 74 on a file that cannot be read.

use std::io::Write;

use super::validate::{input_failure, invalid_file, load_policy};
use crate::cli::{TestArgs, TestFormat};
use crate::exit::{Exit, Failure};
use crate::policy_test::render::{self, FileOutcome};
use crate::policy_test::{CaseFile, judge, parse_with_today};

/// Runs `idguard test`.
pub fn run(args: &TestArgs) -> Result<Exit, Failure> {
    let policy = load_policy(&args.policy)?;
    let mut files: Vec<CaseFile> = Vec::with_capacity(args.cases.len());
    for path in &args.cases {
        let bytes = crate::input::read_capped(path, crate::input::POLICY_CAP, "cases file")
            .map_err(input_failure)?;
        let origin = path.display().to_string();
        let file = parse_with_today(&bytes, &origin, &policy)
            .map_err(|diagnostics| invalid_file("cases file", path, &diagnostics))?;
        files.push(file);
    }
    let outcomes: Vec<FileOutcome> = files
        .iter()
        .map(|file| FileOutcome {
            file,
            cases: judge(&policy, file),
        })
        .collect();
    let text = match args.format {
        TestFormat::Text => render::text(&outcomes),
        TestFormat::Junit => render::junit(&outcomes),
    };
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        // A closed pipe (`idguard test ... | head`) is not an error.
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            return Err(Failure::new(
                Exit::IoErr,
                anyhow::Error::new(e).context("cannot write to stdout"),
            ));
        }
        _ => {}
    }
    Ok(if outcomes.iter().any(|o| o.failed() > 0) {
        Exit::Findings
    } else {
        Exit::Ok
    })
}
