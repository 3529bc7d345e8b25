//! Remediation: turning failing findings into safe PATCHes. `plan` computes the changes,
//! `recheck` refuses a plan that is not what the policy computes, `self_guard` keeps idguard
//! from changing the identity it runs as, `patch_body` resends what Infisical would otherwise
//! reset, `apply` writes with a `journal` and verifies, and `rollback` undoes a journal.
//! `batch` selects the part of a plan a `--rule`/`--identity`/`--severity` filter names.
//! `field_diff` says how each field changes, for `plan_view` (the terminal diff), `plan_md`
//! (`plan.md`) and `rollback_view` (the rollback preview).

pub mod apply;
pub mod batch;
pub mod field_diff;
pub mod journal;
pub mod patch_body;
pub mod plan;
pub mod plan_md;
pub mod plan_view;
pub mod recheck;
pub mod rollback;
pub mod rollback_view;
pub mod self_guard;
