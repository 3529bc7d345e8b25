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
        for e in policy.exemptions.iter().filter(|e| !is_uuid(&e.identity)) {
            let _ = writeln!(
                stderr,
                "warning: the exemption for `{}` matches by name: a name is weaker than an id \
                 (an exemption whose name several identities share exempts none of them); \
                 prefer the identity id",
                crate::display::safe(&e.identity)
            );
        }
    }
    Ok(Exit::Ok)
}

/// Whether `s` looks like an identity id (a UUID: 8-4-4-4-12 hex digits).
fn is_uuid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Loads a policy, mapping any problem to exit 65 (invalid) with every diagnostic listed,
/// each with the source line it points at.
/// The failure of a local input file: too large is bad input (65), unreadable is I/O (74).
pub fn input_failure(e: crate::input::InputError) -> Failure {
    let exit = if e.is_too_large() {
        Exit::DataErr
    } else {
        Exit::IoErr
    };
    Failure::new(exit, e)
}

pub fn load_policy(path: &Path) -> Result<policy::Policy, Failure> {
    policy::load(path).map_err(|e| match e {
        policy::PolicyError::Invalid { diagnostics } => {
            let source = std::fs::read(path)
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_default();
            let rendered: Vec<String> = diagnostics.iter().map(|d| d.render(&source)).collect();
            Failure::new(
                Exit::DataErr,
                anyhow::anyhow!(
                    "invalid policy ({} problem{}):\n{}",
                    diagnostics.len(),
                    if diagnostics.len() == 1 { "" } else { "s" },
                    rendered.join("\n")
                ),
            )
        }
        policy::PolicyError::Read(e) => input_failure(e),
    })
}
