//! `idguard validate POLICY`: load and validate a policy; every error and every warning with
//! line:column. Also the policy loading the other commands share, with its warnings printed
//! by the commands that run audits.

use std::io::Write;
use std::path::Path;

use crate::display::safe;
use crate::exit::{Exit, Failure};
use crate::policy::{self, Diagnostic, Policy, PolicyError, Warning};

/// Validates the policy at `path`: exit 0 when valid (warnings or not), 65 when not. Warnings
/// are printed with the source line they point at, hints included, unless `quiet`.
pub fn run(path: &Path, quiet: bool, stderr: &mut dyn Write) -> Result<Exit, Failure> {
    let policy = load_and_warn(path, Shown::WithSource, quiet, stderr)?;
    if !quiet {
        let warnings = match policy.warnings.len() {
            0 => String::new(),
            n => format!("; {n} warning(s)"),
        };
        let _ = writeln!(
            stderr,
            "{}: valid policy with {} rule(s) and {} exemption(s){warnings}",
            safe(&path.display().to_string()),
            policy.rules.len(),
            policy.exemptions.len()
        );
    }
    Ok(Exit::Ok)
}

/// Loads the policy of a run (`audit`, `remediate`): its warnings, hints aside, go to `stderr`
/// one line each unless `quiet`; an invalid policy is exit 65 with every error.
pub fn load_policy_for_run(
    path: &Path,
    quiet: bool,
    stderr: &mut dyn Write,
) -> Result<Policy, Failure> {
    load_and_warn(path, Shown::OneLine, quiet, stderr)
}

/// How warnings are printed.
#[derive(Clone, Copy)]
enum Shown {
    /// Every warning, followed by its source line and a caret (as errors are).
    WithSource,
    /// One line per warning that is not a hint.
    OneLine,
}

/// Loads the policy at `path`, printing its warnings (also those of an invalid policy, before
/// the errors) unless `quiet`.
fn load_and_warn(
    path: &Path,
    shown: Shown,
    quiet: bool,
    stderr: &mut dyn Write,
) -> Result<Policy, Failure> {
    let loaded = policy::load(path);
    let warnings: &[Warning] = match &loaded {
        Ok(policy) => &policy.warnings,
        Err(PolicyError::Invalid { warnings, .. }) => warnings,
        Err(PolicyError::Read(_)) => &[],
    };
    if !quiet && !warnings.is_empty() {
        let source = match shown {
            Shown::WithSource => source_of(path),
            Shown::OneLine => String::new(),
        };
        for w in warnings {
            let _ = match shown {
                Shown::WithSource => writeln!(stderr, "warning: {}", w.render(&source)),
                Shown::OneLine if w.kind.is_hint() => Ok(()),
                Shown::OneLine => writeln!(stderr, "warning: {}", safe(&w.to_string())),
            };
        }
    }
    loaded.map_err(|e| policy_failure(path, e))
}

/// The failure of a local input file: too large is bad input (65), unreadable is I/O (74).
pub fn input_failure(e: crate::input::InputError) -> Failure {
    let exit = if e.is_too_large() {
        Exit::DataErr
    } else {
        Exit::IoErr
    };
    Failure::new(exit, e)
}

/// Loads a policy without printing its warnings, mapping any problem to exit 65 (invalid)
/// with every diagnostic listed, each with the source line it points at.
pub fn load_policy(path: &Path) -> Result<Policy, Failure> {
    policy::load(path).map_err(|e| policy_failure(path, e))
}

/// Exit 65 with every diagnostic and its source line, or the failure to read the file.
fn policy_failure(path: &Path, e: PolicyError) -> Failure {
    match e {
        PolicyError::Invalid { diagnostics, .. } => invalid_file("policy", path, &diagnostics),
        PolicyError::Read(e) => input_failure(e),
    }
}

/// Exit 65 for the file at `path` (`what` names it: "policy"), with every diagnostic and the
/// source line it points at.
pub fn invalid_file(what: &str, path: &Path, diagnostics: &[Diagnostic]) -> Failure {
    let source = source_of(path);
    let rendered: Vec<String> = diagnostics.iter().map(|d| d.render(&source)).collect();
    Failure::new(
        Exit::DataErr,
        anyhow::anyhow!(
            "invalid {what} ({} problem{}):\n{}",
            diagnostics.len(),
            if diagnostics.len() == 1 { "" } else { "s" },
            rendered.join("\n")
        ),
    )
}

/// The policy text for the snippets under diagnostics (empty when it cannot be read again).
fn source_of(path: &Path) -> String {
    std::fs::read(path)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default()
}
