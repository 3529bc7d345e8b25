//! `idguard validate POLICY`: load and validate a policy; every problem with line:column.

use std::io::Write;
use std::path::Path;

use crate::exit::{Exit, Failure};
use crate::policy;

/// Validates the policy at `path`; exit 0 when valid, 65 when not.
pub fn run(path: &Path, quiet: bool, stderr: &mut dyn Write) -> Result<Exit, Failure> {
    let policy = load_policy(path)?;
    if !quiet {
        let _ = writeln!(
            stderr,
            "{}: valid policy with {} rule(s) and {} exemption(s)",
            path.display(),
            policy.rules.len(),
            policy.exemptions.len()
        );
    }
    Ok(Exit::Ok)
}

/// Loads a policy, mapping any problem to exit 65 (invalid) with every diagnostic listed.
pub fn load_policy(path: &Path) -> Result<policy::Policy, Failure> {
    policy::load(path).map_err(|e| Failure::new(Exit::DataErr, e))
}
