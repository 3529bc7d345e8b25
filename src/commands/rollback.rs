//! `idguard rollback JOURNAL [--apply]`: restore what a journal records, on the configured
//! server (never a URL read from the journal) and only in the organization the journal names.
//! Without `--apply` it only prints what would be restored (from → to per field) and marks the
//! restores that widen access again; with `--apply` it prints the same preview before asking.

use std::io::Write;

use crate::cli::RollbackArgs;
use crate::display::safe;
use crate::exit::{Exit, Failure};
use crate::progress::WriteProgress;
use crate::remediate::journal::{self, Entry};
use crate::remediate::{plan_view, rollback, rollback_view};
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
    if args.apply {
        writes::require_confirmable(args.yes)?;
    }
    let client =
        connect::connect_for_file(&args.connection, api_url, org_id, "journal", stderr).await?;
    let concurrency = args.connection.concurrency as usize;
    let items = rollback::items(&journal);
    // The preview reads every config; with --apply --yes nobody reads it before the writes,
    // and the writes read every config again.
    if !args.apply || !args.yes {
        let run = rollback::rollback(
            &client,
            &items,
            None,
            &stop::writing(concurrency, WriteProgress::hidden()),
        )
        .await;
        let preview = rollback_view::render(&run.steps, plan_view::terminal_width());
        let _ = write!(stderr, "{}", preview.text);
        if run.not_attempted > 0 {
            let _ = writeln!(
                stderr,
                "idguard: interrupted by Ctrl-C: {} journalled change(s) were not looked at",
                run.not_attempted
            );
            return Ok(stop::exit_or(Exit::Ok));
        }
        let widen = (preview.widening > 0).then(|| {
            format!(
                "{} of them widen access again (marked `! widens access` above): a rollback \
                 restores the state before idguard's writes, looser values included",
                preview.widening
            )
        });
        if !args.apply {
            let _ = writeln!(
                stderr,
                "idguard: {} config(s) would be restored; nothing was written (--apply to write)",
                preview.restores
            );
            if let Some(widen) = widen {
                let _ = writeln!(stderr, "idguard: {widen}");
            }
            return Ok(stop::exit_or(Exit::Ok));
        }
        let _ = writeln!(
            stderr,
            "idguard: {} config(s) to restore{}",
            preview.restores,
            widen.map(|w| format!("; {w}")).unwrap_or_default()
        );
    }
    if !writes::confirm(
        args.yes,
        &format!(
            "Roll back {} journalled change(s) in org {} at {}?",
            items.len(),
            safe(org_id),
            client.api_url()
        ),
        stderr,
    )? {
        let _ = writeln!(stderr, "idguard: not confirmed; nothing was written");
        return Ok(stop::exit_or(Exit::Ok));
    }
    let now = jiff::Timestamp::now();
    let dir = report::create_run_dir(args.out.as_deref(), now).map_err(io_failure)?;
    let (writer, journal_path) = writes::open_journal(&dir, &client, "rollback", None)?;
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
