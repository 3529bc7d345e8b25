//! `idguard rollback JOURNAL [--apply]`: restore what a journal records, on the configured
//! server (never a URL read from the journal) and only in the organization the journal names.
//! Without `--apply` it only prints what would be restored, and which restores loosen a config.

use std::io::Write;

use crate::cli::RollbackArgs;
use crate::display::safe;
use crate::exit::{Exit, Failure};
use crate::progress::WriteProgress;
use crate::remediate::journal::{self, Entry};
use crate::remediate::rollback;
use crate::report;

use super::audit::io_failure;
use super::{connect, stop, validate, writes};

/// Runs `idguard rollback`.
pub async fn run(args: RollbackArgs, quiet: bool, stderr: &mut dyn Write) -> Result<Exit, Failure> {
    let journal = journal::read(&args.journal).map_err(|e| match e {
        journal::JournalError::Read(e) => validate::input_failure(e),
        invalid => Failure::new(Exit::DataErr, invalid),
    })?;
    if journal.truncated_tail {
        let _ = writeln!(
            stderr,
            "idguard: note: the journal's last line was cut short (a crash mid-write) and is ignored"
        );
    }
    let Some(Entry::Begin {
        api_url, org_id, ..
    }) = journal.entries.first()
    else {
        return Err(Failure::new(
            Exit::DataErr,
            anyhow::anyhow!("{}: no begin entry", args.journal.display()),
        ));
    };
    let client =
        connect::connect_for_file(&args.connection, api_url, org_id, "journal", stderr).await?;
    let concurrency = args.connection.concurrency as usize;
    let items = rollback::items(&journal);
    if !args.apply {
        let run = rollback::rollback(
            &client,
            &items,
            None,
            &stop::writing(concurrency, WriteProgress::hidden()),
        )
        .await;
        let steps = run.steps;
        let mut loosening = 0;
        for (step, outcome) in &steps {
            let loose = step.loosening();
            loosening += usize::from(!loose.is_empty());
            for (field, value) in &step.restore {
                let from = step
                    .item
                    .written
                    .get(field)
                    .unwrap_or(&serde_json::Value::Null);
                let why = loose
                    .iter()
                    .find(|(f, _)| f == field)
                    .map(|(_, why)| format!("  (loosens: {why})"))
                    .unwrap_or_default();
                let _ = writeln!(
                    stderr,
                    "~ {} ({}) {}: {}: {} → {}{why}",
                    safe(&step.item.identity_name),
                    safe(&step.item.identity_id),
                    safe(&step.item.auth_method),
                    safe(field),
                    safe(&from.to_string()),
                    safe(&value.to_string())
                );
            }
            if !step.changed_since.is_empty() {
                let _ = writeln!(
                    stderr,
                    "! {} ({}) {}: changed since idguard wrote them, left alone: {}",
                    safe(&step.item.identity_name),
                    safe(&step.item.identity_id),
                    safe(&step.item.auth_method),
                    safe(&step.changed_since.join(", "))
                );
            }
            if let Some(e) = &outcome.error
                && step.changed_since.is_empty()
            {
                let _ = writeln!(
                    stderr,
                    "! {} {}: {}",
                    safe(&step.item.identity_id),
                    safe(&step.item.auth_method),
                    safe(e)
                );
            }
        }
        let n = steps.iter().filter(|(s, _)| !s.restore.is_empty()).count();
        let _ = writeln!(
            stderr,
            "idguard: {n} config(s) would be restored; nothing was written (--apply to write)"
        );
        if loosening > 0 {
            let _ = writeln!(
                stderr,
                "idguard: {loosening} of them would be loosened again (marked `loosens` above): \
                 a rollback restores the state before idguard's writes, looser values included"
            );
        }
        if run.not_attempted > 0 {
            let _ = writeln!(
                stderr,
                "idguard: interrupted by Ctrl-C: {} journalled change(s) were not looked at",
                run.not_attempted
            );
        }
        return Ok(stop::exit_or(Exit::Ok));
    }
    if !writes::confirm(
        args.yes,
        &format!(
            "Roll back {} journalled change(s) in org {org_id} at {}?",
            items.len(),
            client.api_url()
        ),
        stderr,
    )? {
        let _ = writeln!(stderr, "idguard: not confirmed; nothing was written");
        return Ok(stop::exit_or(Exit::Ok));
    }
    let now = jiff::Timestamp::now();
    let dir = report::create_run_dir(args.out.as_deref(), now).map_err(io_failure)?;
    let (writer, journal_path) = writes::open_journal(&dir, &client, "rollback")?;
    let writing = stop::writing(
        concurrency,
        WriteProgress::new(!quiet, items.len() as u64, "changed-since"),
    );
    let run = stop::writes_unless_forced(
        &journal_path,
        rollback::rollback(&client, &items, Some(&writer), &writing),
    )
    .await?;
    writing.progress.finish();
    let interrupted = writing.interrupt.requested();
    let outcomes: Vec<_> = run.steps.into_iter().map(|(_, o)| o).collect();
    let (lines, failed) = writes::summarise(&outcomes, run.not_attempted);
    if !quiet || run.journal_error.is_some() || interrupted {
        for l in lines {
            let _ = writeln!(stderr, "idguard: {l}");
        }
        let _ = writeln!(
            stderr,
            "idguard: rollback journal: {}",
            journal_path.display()
        );
    }
    if interrupted {
        let notes = stop::interrupted_writes(
            &outcomes,
            run.not_attempted,
            &journal_path,
            Some(&args.journal),
        );
        for l in notes {
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
