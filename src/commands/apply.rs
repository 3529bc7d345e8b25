//! `idguard apply PLAN`: apply a plan written earlier. Before any request every change is
//! computed again from the plan's policy and refused as a whole when one differs; the server is
//! the configured one (never the plan's), the organization must be the plan's, changes to the
//! identity idguard runs as are held unless `--include-self`, and configs that changed since
//! the plan are skipped as `drifted`. `--rule`, `--identity` and `--severity` apply part of the
//! plan (the journal records the filter); the diff of what will be written is shown before the
//! confirmation.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::cli::ApplyArgs;
use crate::exit::{Exit, Failure};
use crate::policy::Policy;
use crate::progress::WriteProgress;
use crate::remediate::plan::{Plan, PlanError};
use crate::remediate::{apply, recheck, self_guard};
use crate::report;
use crate::usage::at_apply;
use crate::usage::reader::EvidenceSettings;

use super::audit::io_failure;
use super::{connect, stop, validate, writes};

/// Runs `idguard apply`.
pub async fn run(args: ApplyArgs, quiet: bool, stderr: &mut dyn Write) -> Result<Exit, Failure> {
    let plan = Plan::load(&args.plan).map_err(|e| match e {
        PlanError::Read(e) => validate::input_failure(e),
        invalid => Failure::new(Exit::DataErr, invalid),
    })?;
    let policy = plan_policy(args.policy.as_deref(), &plan)?;
    let filter = writes::filter(&args.batch, &policy)?;
    let now = jiff::Timestamp::now();
    let today = now.to_zoned_datetime(jiff::tz::TimeZone::UTC).date();
    let offences = recheck::recheck(&plan, &policy, today);
    if !offences.is_empty() {
        for o in &offences {
            let _ = writeln!(stderr, "idguard: refused: {o}");
        }
        return Err(Failure::new(
            Exit::DataErr,
            anyhow::anyhow!(
                "{}: {} of {} change(s) are not what the policy computes from the config they \
                 were planned from; the whole plan is refused and nothing was written",
                args.plan.display(),
                offences.len(),
                plan.changes.len()
            ),
        )
        .hint("make a new plan with `idguard remediate`; a plan is never edited by hand"));
    }

    let client = connect::connect_for_file(
        &args.connection,
        &plan.api_url,
        &plan.org_id,
        "plan",
        stderr,
    )
    .await?;
    if plan.changes.is_empty() {
        let _ = writeln!(stderr, "idguard: the plan has no changes; nothing to do");
        return Ok(Exit::Ok);
    }
    let selection = filter.select(&policy, plan.changes.clone(), Vec::new());
    for note in selection.notes(&filter) {
        let _ = writeln!(stderr, "idguard: note: {note}");
    }
    let runs_as = writes::runs_as(&client, stderr);
    let split = self_guard::split(selection.changes, &runs_as, args.writes.include_self);
    // A plan can be days old: usage evidence is read again for every narrowing it holds.
    let (split, evidence) = at_apply::hold_in_use(
        &client,
        split,
        jiff::Timestamp::now(),
        EvidenceSettings {
            window: args.evidence.evidence_window,
            require: args.evidence.require_usage_evidence,
            // A write always reads it.
            read: true,
        },
    )
    .await
    .map_err(|e| connect::api_failure("reading the identity listing failed", e))?;
    if let Some(reason) = evidence.reason() {
        let _ = writeln!(
            stderr,
            "idguard: usage evidence unavailable: {}",
            crate::display::safe(reason)
        );
    }
    writes::print_held(&split.held, stderr);
    if split.writes() == 0 {
        let _ = writeln!(
            stderr,
            "idguard: nothing left to write; nothing was written"
        );
        return Ok(Exit::Ok);
    }
    if split.writes() > args.writes.max_changes {
        let _ = writeln!(
            stderr,
            "idguard: refused: {}; nothing was written",
            writes::too_many(split.writes(), args.writes.max_changes)
        );
        return Ok(Exit::Refused);
    }
    if !quiet || !args.writes.yes {
        let writing: Vec<_> = split.first.iter().chain(&split.last).collect();
        writes::print_diff(&writing, stderr);
    }
    if !writes::confirm(
        args.writes.yes,
        &format!(
            "Apply {} change(s) to org {} at {}?",
            split.writes(),
            plan.org_id,
            client.api_url()
        ),
        stderr,
    )? {
        let _ = writeln!(stderr, "idguard: not confirmed; nothing was written");
        return Ok(stop::exit_or(Exit::Ok));
    }
    let dir = report::create_run_dir(args.out.as_deref(), now).map_err(io_failure)?;
    let (journal, journal_path) = writes::open_journal(&dir, &client, "apply", Some(&filter))?;
    let writing = stop::writing(
        args.connection.concurrency as usize,
        WriteProgress::new(!quiet, split.writes() as u64, "drifted"),
    );
    let run = stop::writes_unless_forced(
        &journal_path,
        apply::apply(&client, &policy, &split, &journal, today, &writing),
    )
    .await?;
    writing.progress.finish();
    let interrupted = writing.interrupt.requested();
    let (lines, failed) = writes::summarise(&run.outcomes, run.not_attempted);
    if !quiet || run.journal_error.is_some() || interrupted {
        for l in lines {
            let _ = writeln!(stderr, "idguard: {l}");
        }
        let _ = writeln!(stderr, "idguard: journal: {}", journal_path.display());
    }
    if interrupted {
        for l in stop::interrupted_writes(&run.outcomes, run.not_attempted, &journal_path, None) {
            let _ = writeln!(stderr, "idguard: {l}");
        }
    }
    writes::journal_result(run.journal_error)?;
    Ok(stop::exit_or(if failed {
        Exit::WriteFailed
    } else {
        Exit::Ok
    }))
}

/// The policy the plan was made with: `--policy`, else the path the plan records. Its SHA-256
/// must be the one the plan records.
fn plan_policy(flag: Option<&Path>, plan: &Plan) -> Result<Policy, Failure> {
    let path = flag.map_or_else(|| PathBuf::from(&plan.policy.path), Path::to_path_buf);
    if flag.is_none() && !path.is_file() {
        return Err(Failure::new(
            Exit::Usage,
            anyhow::anyhow!(
                "the plan's policy {} cannot be found",
                path.display().to_string().escape_debug()
            ),
        )
        .hint("pass --policy FILE: the policy the plan was made with"));
    }
    let policy = validate::load_policy(&path)?;
    if policy.sha256 != plan.policy.sha256 {
        return Err(Failure::new(
            Exit::DataErr,
            anyhow::anyhow!(
                "{} is not the policy the plan was made with (sha256 {} recorded, {} found); \
                 nothing was written",
                path.display(),
                plan.policy.sha256.escape_debug(),
                policy.sha256
            ),
        )
        .hint("make a new plan with this policy (`idguard remediate`)"));
    }
    Ok(policy)
}
