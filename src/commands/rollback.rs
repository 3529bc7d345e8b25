//! `idguard rollback JOURNAL [--apply]`: restore what a journal records, to the server and
//! organization the journal names. Without `--apply` it only prints what would be restored.

use std::io::Write;

use crate::cli::RollbackArgs;
use crate::exit::{Exit, Failure};
use crate::remediate::journal::{self, Entry};
use crate::remediate::rollback;
use crate::report;

use super::audit::io_failure;
use super::{connect, writes};

/// Runs `idguard rollback`.
pub async fn run(args: RollbackArgs, quiet: bool, stderr: &mut dyn Write) -> Result<Exit, Failure> {
    let journal = journal::read(&args.journal).map_err(|e| Failure::new(Exit::DataErr, e))?;
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
    let mut conn = args.connection;
    if conn.api_url.is_none() {
        conn.api_url = Some(api_url.clone());
    }
    if conn.org_id.is_none() {
        conn.org_id = Some(org_id.clone());
    }
    let opts = connect::options(&conn)?;
    let concurrency = opts.concurrency;
    let client = connect::connect(opts).await?;
    if client.org_id() != org_id {
        return Err(Failure::new(
            Exit::Usage,
            anyhow::anyhow!(
                "the journal is for organization {org_id}, not {}",
                client.org_id()
            ),
        ));
    }
    let items = rollback::items(&journal);
    if !args.apply {
        let steps = rollback::rollback(&client, &items, None, concurrency)
            .await
            .map_err(io_failure)?;
        for (step, outcome) in &steps {
            for (field, value) in &step.restore {
                let _ = writeln!(
                    stderr,
                    "~ {} ({}) {}: {field} → {value}",
                    step.item.identity_name, step.item.identity_id, step.item.auth_method
                );
            }
            if !step.changed_since.is_empty() {
                let _ = writeln!(
                    stderr,
                    "! {} ({}) {}: changed since idguard wrote them, left alone: {}",
                    step.item.identity_name,
                    step.item.identity_id,
                    step.item.auth_method,
                    step.changed_since.join(", ")
                );
            }
            if let Some(e) = &outcome.error
                && step.changed_since.is_empty()
            {
                let _ = writeln!(
                    stderr,
                    "! {} {}: {e}",
                    step.item.identity_id, step.item.auth_method
                );
            }
        }
        let n = steps.iter().filter(|(s, _)| !s.restore.is_empty()).count();
        let _ = writeln!(
            stderr,
            "idguard: {n} config(s) would be restored; nothing was written (--apply to write)"
        );
        return Ok(Exit::Ok);
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
        return Ok(Exit::Ok);
    }
    let now = jiff::Timestamp::now();
    let dir = report::create_run_dir(args.out.as_deref(), now).map_err(io_failure)?;
    let (writer, journal_path) = writes::open_journal(&dir, &client, "rollback")?;
    let steps = rollback::rollback(&client, &items, Some(&writer), concurrency)
        .await
        .map_err(io_failure)?;
    let outcomes: Vec<_> = steps.into_iter().map(|(_, o)| o).collect();
    let (lines, failed) = writes::summarise(&outcomes);
    if !quiet {
        for l in lines {
            let _ = writeln!(stderr, "idguard: {l}");
        }
        let _ = writeln!(
            stderr,
            "idguard: rollback journal: {}",
            journal_path.display()
        );
    }
    Ok(if failed { Exit::WriteFailed } else { Exit::Ok })
}
