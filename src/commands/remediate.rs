//! `idguard remediate`: audit, keep the part of the plan a batch filter selects, write
//! `plan.json`, `plan.md` and a readable diff (saying when `--max-changes` would refuse the
//! plan); with `--apply`, guard, confirm, apply with the journal, and annotate the report with
//! each finding's outcome.

use std::io::Write;

use serde_json::Value;

use crate::cli::RemediateArgs;
use crate::exit::{Exit, Failure};
use crate::finding::finding_id;
use crate::model::AuthMethod;
use crate::policy::Policy;
use crate::progress::WriteProgress;
use crate::remediate::journal::Outcome;
use crate::remediate::plan::PlanPolicy;
use crate::remediate::{apply, self_guard};
use crate::remediate::{plan_md, plan_view};
use crate::report::{self, Annotations};

use super::audit::{Adjustment, Audited, audit_phase, finish_phase, io_failure};
use super::{connect, stop, validate, writes};

/// Runs `idguard remediate [--apply]`.
pub async fn run(
    args: RemediateArgs,
    quiet: bool,
    stderr: &mut dyn Write,
) -> Result<Exit, Failure> {
    let policy = validate::load_policy_for_run(&args.policy, quiet, stderr)?;
    let filter = writes::filter(&args.batch, &policy)?;
    let opts = connect::options(&args.connection)?;
    let (client, mut audited) = audit_phase(&policy, opts, &args.report, true, quiet).await?;
    if stop::requested() {
        // Stopped during the audit: the reports are finished (marked incomplete if the audit
        // was cut short); no plan is written (it could hold only part of the org).
        let adjust = Adjustment {
            interrupted: true,
            notes: vec!["interrupted: no plan was written and nothing was applied".into()],
            ..Adjustment::default()
        };
        return finish(
            audited,
            &policy,
            &args,
            &Annotations::new(),
            &adjust,
            quiet,
            stderr,
        )
        .await;
    }
    let planner = audited.planner.take().unwrap_or_else(|| {
        crate::remediate::plan::PlanBuilder::new(client.org_id(), audited.today)
    });
    let mut plan = planner.finish(
        client.api_url(),
        PlanPolicy {
            path: args.policy.display().to_string(),
            sha256: policy.sha256.clone(),
        },
    );
    plan.shared_exemption_names = audited.outcome.shared_exemption_names.clone();
    // A batch keeps only the changes the filter selects: the plan on disk is the batch.
    let selection = filter.select(
        &policy,
        std::mem::take(&mut plan.changes),
        std::mem::take(&mut plan.manual),
    );
    let mut notes = selection.notes(&filter);
    plan.manual = selection.manual;
    // Changes that could lock idguard out become manual items (or, with --include-self, go
    // last): the plan on disk says what an apply of it writes.
    let runs_as = writes::runs_as(&client, stderr);
    let split = self_guard::split(selection.changes, &runs_as, args.writes.include_self);
    plan.changes = split.first.iter().chain(&split.last).cloned().collect();
    plan.manual.extend(split.held.iter().cloned());
    if !args.apply && split.writes() > args.writes.max_changes {
        notes.push(format!(
            "`apply` would refuse this plan: {}",
            writes::too_many(split.writes(), args.writes.max_changes)
        ));
    }
    let plan_path = audited.dir.join("plan.json");
    let bytes = serde_json::to_vec_pretty(&plan).map_err(io_failure)?;
    report::write_atomic(&plan_path, &bytes).map_err(io_failure)?;
    let md_path = audited.dir.join("plan.md");
    let md = plan_md::render(&plan, &policy, &notes);
    report::write_atomic(&md_path, md.as_bytes()).map_err(io_failure)?;
    if !quiet || (args.apply && !args.writes.yes) {
        let _ = write!(
            stderr,
            "{}",
            plan_view::render(&plan.changes, &plan.manual, plan_view::terminal_width())
        );
    }

    let mut adjust = Adjustment::default();
    adjust.notes.push(format!(
        "plan: {} config(s) to change, {} manual item(s): {} (for review: {})",
        plan.changes.len(),
        plan.manual.len(),
        plan_path.display(),
        md_path.display()
    ));
    adjust.notes.extend(notes);
    let mut annotations = Annotations::new();
    let mut journal_error = None;
    let org = client.org_id().to_owned();
    for m in &split.held {
        let id = finding_id(
            &org,
            &m.identity_id,
            &AuthMethod::parse(&m.auth_method),
            &m.rule,
        );
        let mut extra = serde_json::Map::new();
        extra.insert("remediation_outcome".into(), Value::from("manual"));
        extra.insert("remediation_reason".into(), Value::from(m.reason.as_str()));
        annotations.insert(id, extra);
    }
    let listing_ok = audited.outcome.listing_error.is_none();
    if args.apply && !plan.changes.is_empty() {
        if !listing_ok {
            adjust
                .notes
                .push("not applying: the listing failed, the plan is partial".into());
        } else if split.writes() > args.writes.max_changes {
            adjust.refused = true;
            adjust.notes.push(format!(
                "refused: {}; nothing was written",
                writes::too_many(split.writes(), args.writes.max_changes)
            ));
        } else if writes::confirm(
            args.writes.yes,
            &format!(
                "Apply {} change(s) to org {} at {}?",
                plan.changes.len(),
                client.org_id(),
                client.api_url()
            ),
            stderr,
        )? {
            let (journal, journal_path) =
                writes::open_journal(&audited.dir, &client, "apply", Some(&filter))?;
            let writing = stop::writing(
                audited.concurrency,
                WriteProgress::new(!quiet, split.writes() as u64, "drifted"),
            );
            let run = stop::writes_unless_forced(
                &journal_path,
                apply::apply(&client, &policy, &split, &journal, audited.today, &writing),
            )
            .await?;
            writing.progress.finish();
            let outcomes = run.outcomes;
            let (lines, failed) = writes::summarise(&outcomes, run.not_attempted);
            adjust.applied = true;
            adjust.interrupted = writing.interrupt.requested();
            adjust.write_failed = failed || run.journal_error.is_some();
            journal_error = run.journal_error;
            adjust.notes.extend(lines);
            adjust
                .notes
                .push(format!("journal: {}", journal_path.display()));
            if adjust.interrupted {
                adjust.notes.extend(stop::interrupted_writes(
                    &outcomes,
                    run.not_attempted,
                    &journal_path,
                    None,
                ));
            }
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
                        adjust.fixed.push(report::RuleInfo {
                            id: r.id.clone(),
                            severity: r.severity,
                            description: r.description.clone(),
                        });
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

    // Ctrl-C at the confirmation, or during the writes.
    adjust.interrupted |= stop::requested();
    let exit = finish(
        audited,
        &policy,
        &args,
        &annotations,
        &adjust,
        quiet,
        stderr,
    )
    .await;
    writes::journal_result(journal_error)?;
    exit
}

/// Finishes the reports and prints the summary.
async fn finish(
    audited: Audited,
    policy: &Policy,
    args: &RemediateArgs,
    annotations: &Annotations,
    adjust: &Adjustment,
    quiet: bool,
    stderr: &mut dyn Write,
) -> Result<Exit, Failure> {
    let done = finish_phase(
        audited,
        policy,
        &args.policy,
        &args.report,
        annotations,
        adjust,
    )
    .await?;
    if !quiet {
        let _ = write!(stderr, "{}", done.human);
    }
    done.stdout.print()?;
    done.into_exit()
}
