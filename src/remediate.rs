//! Remediation: turning failing findings into safe PATCHes. So far: the PATCH body builder
//! (`patch_body`) that resends what Infisical would otherwise reset. Planning, applying with a
//! journal, verification and rollback build on it.

pub mod apply;
pub mod journal;
pub mod patch_body;
pub mod plan;
pub mod rollback;
