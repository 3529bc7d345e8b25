//! What one group of checks (access token, trusted IPs, one allowlist) says about one config:
//! its violations and, when it fails, how it would be fixed.

use serde_json::{Map, Value};

use crate::finding::Violation;

/// The verdict of one group of checks that applies to a config.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Part {
    /// Empty: the group passes.
    pub violations: Vec<Violation>,
    /// When it fails: the PATCH fragment that fixes it (`Ok`), or why it cannot be automatic.
    pub fix: Result<Map<String, Value>, String>,
}
