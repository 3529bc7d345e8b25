//! `idguard remediate`: audit, write `plan.json` and a readable diff; with `--apply`, guard,
//! confirm, apply with the journal, and annotate the report with each finding's outcome.

use std::io::Write;

use serde_json::Value;

use crate::cli::RemediateArgs;
use crate::exit::{Exit, Failure};
use crate::finding::finding_id;
use crate::model::AuthMethod;
use crate::remediate::apply;
use crate::remediate::journal::Outcome;
use crate::remediate::plan::{self, PlanPolicy};
use crate::report::{self, Annotations};

use super::audit::{Adjustment, audit_phase, finish_phase, io_failure};
use super::{connect, validate, writes};

/// Runs `idguard remediate [--apply]`.
pub async fn run(
    args: RemediateArgs,
    quiet: bool,
    stderr: &mut dyn Write,
) -> Result<Exit, Failure> {
    let policy = validate::load_policy(&args.policy)?;
    let opts = connect::options(&args.connection)?;
    let mut audited = audit_phase(&policy, opts, &args.report, true, quiet).await?;
    let planner = audited.planner.take().unwrap_or_else(|| {
        crate::remediate::plan::PlanBuilder::new(audited.client.org_id(), audited.today)
    });
    let plan = planner.finish(
        audited.client.api_url(),
        PlanPolicy {
            path: args.policy.display().to_string(),
            sha256: policy.sha256.clone(),
        },
    );
    let plan_path = audited.dir.join("plan.json");
    let bytes = serde_json::to_vec_pretty(&plan).map_err(io_failure)?;
    report::write_atomic(&plan_path, &bytes).map_err(io_failure)?;
    if !quiet {
        let _ = write!(stderr, "{}", plan::render_diff(&plan));
    }

    let mut adjust = Adjustment::default();
    adjust.notes.push(format!(
        "plan: {} config(s) to change, {} manual item(s): {}",
        plan.changes.len(),
        plan.manual.len(),
        plan_path.display()
    ));
    let mut annotations = Annotations::new();
    let listing_ok = audited.outcome.listing_error.is_none();
    if args.apply && !plan.changes.is_empty() {
        if !listing_ok {
            adjust
                .notes
                .push("not applying: the listing failed, the plan is partial".into());
        } else if plan.changes.len() > args.writes.max_changes {
            adjust.refused = true;
            adjust.notes.push(format!(
                "refused: {} configs would change, more than --max-changes {}; nothing was written",
                plan.changes.len(),
                args.writes.max_changes
            ));
        } else if writes::confirm(
            args.writes.yes,
            &format!(
                "Apply {} change(s) to org {} at {}?",
                plan.changes.len(),
                audited.client.org_id(),
                audited.client.api_url()
            ),
            stderr,
        )? {
            let (journal, journal_path) =
                writes::open_journal(&audited.dir, &audited.client, "apply")?;
            let outcomes = apply::apply(
                &audited.client,
                Some(&policy),
                &plan.changes,
                &journal,
                audited.concurrency,
                audited.today,
            )
            .await
            .map_err(io_failure)?;
            let (lines, failed) = writes::summarise(&outcomes);
            adjust.write_failed = failed;
            adjust.notes.extend(lines);
            adjust
                .notes
                .push(format!("journal: {}", journal_path.display()));
            let org = audited.client.org_id().to_owned();
            for o in &outcomes {
                let method = AuthMethod::parse(&o.auth_method);
                for rule in &o.rules {
                    let id = finding_id(&org, &o.identity_id, &method, rule);
                    let mut extra = serde_json::Map::new();
                    extra.insert(
                        "remediation_outcome".into(),
                        Value::from(o.outcome.as_str()),
                    );
                    if let Some(e) = &o.error {
                        extra.insert("remediation_error".into(), Value::from(e.as_str()));
                    }
                    annotations.insert(id, extra);
                    if o.outcome == Outcome::Verified
                        && let Some(r) = policy.rule(rule)
                    {
                        adjust.fixed.push(r.severity);
                    }
                }
            }
        } else {
            adjust
                .notes
                .push("not confirmed; nothing was written".into());
        }
    } else if !args.apply && !plan.changes.is_empty() {
        adjust
            .notes
            .push("nothing was written (plan only; --apply to write)".into());
    }

    let done = finish_phase(
        audited,
        &policy,
        &args.policy,
        &args.report,
        &annotations,
        &adjust,
    )?;
    if !quiet {
        let _ = write!(stderr, "{}", done.human);
    }
    done.into_exit()
}
