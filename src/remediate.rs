//! Remediation: turning failing findings into safe PATCHes: the plan (`plan`), the PATCH body
//! builder that resends what Infisical would otherwise reset (`patch_body`), and the
//! write-ahead journal (`journal`).

pub mod journal;
pub mod patch_body;
pub mod plan;
