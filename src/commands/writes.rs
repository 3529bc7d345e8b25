//! What every writing command shares: the confirmation prompt (never on a non-terminal stdin:
//! there `--yes` is required) and the diff shown before it, the batch filter and the
//! blast-radius message, which identity idguard runs as and the changes held back because of
//! it, opening the journal, and summarising the outcomes of the writes.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::cli::BatchArgs;
use crate::display::safe;
use crate::exit::{Exit, Failure};
use crate::infisical::Client;
use crate::interrupt::Interrupt;
use crate::policy::Policy;
use crate::remediate::apply::ChangeOutcome;
use crate::remediate::batch::Filter;
use crate::remediate::journal::{Entry, JournalError, JournalWriter, Outcome};
use crate::remediate::plan::{ManualItem, PlannedChange};
use crate::remediate::plan_view;
use crate::remediate::self_guard::RunsAs;

use super::audit::io_failure;

/// Refuses (exit 64) when a confirmation would be needed and nobody can give it: no `yes` and
/// a stdin that is not a terminal. Called before anything is read for the confirmation.
pub fn require_confirmable(yes: bool) -> Result<(), Failure> {
    if yes || std::io::stdin().is_terminal() {
        return Ok(());
    }
    Err(Failure::new(
        Exit::Usage,
        anyhow::anyhow!(
            "refusing to write without --yes: stdin is not a terminal, so nobody can confirm"
        ),
    )
    .hint("review the plan, then run again with --yes"))
}

/// Asks for confirmation unless `yes`. On a non-terminal stdin without `yes`, refuses with
/// exit 64. Returns whether to go on.
pub fn confirm(yes: bool, question: &str, stderr: &mut dyn Write) -> Result<bool, Failure> {
    if yes {
        return Ok(true);
    }
    require_confirmable(yes)?;
    let _ = write!(stderr, "{question} Type `yes` to continue: ");
    let _ = stderr.flush();
    // Ctrl-C at the prompt answers no.
    let answer = Interrupt::process().read_line().map_err(|e| {
        Failure::new(
            Exit::Usage,
            anyhow::anyhow!("cannot read the confirmation: {e}"),
        )
    })?;
    Ok(answer.is_some_and(|a| a.trim() == "yes"))
}

/// The batch filter of the command line, checked against `policy` (exit 64 for a `--rule`
/// the policy does not have).
pub fn filter(batch: &BatchArgs, policy: &Policy) -> Result<Filter, Failure> {
    let filter = Filter::new(
        batch.rules.clone(),
        batch.identities.clone(),
        &batch.severities,
    );
    filter
        .check(policy)
        .map_err(|e| Failure::new(Exit::Usage, e))?;
    Ok(filter)
}

/// What to say when more configs would change than `--max-changes` allows.
pub fn too_many(writes: usize, max: usize) -> String {
    format!(
        "{writes} configs would change, more than --max-changes {max}: pass --max-changes \
         {writes}, or act on part of the plan with --rule, --identity or --severity"
    )
}

/// Prints what an apply of `changes` writes (the plan diff) on stderr.
pub fn print_diff(changes: &[&PlannedChange], stderr: &mut dyn Write) {
    let width = plan_view::terminal_width();
    for c in changes {
        let _ = write!(stderr, "{}", plan_view::render_change(c, width));
    }
}

/// Opens a new journal in `dir` and writes its `begin` line (with the batch filter, if any).
pub fn open_journal(
    dir: &Path,
    client: &Client,
    action: &str,
    filter: Option<&Filter>,
) -> Result<(Mutex<JournalWriter>, PathBuf), Failure> {
    let path = dir.join("journal.jsonl");
    let mut writer = JournalWriter::create(&path).map_err(io_failure)?;
    writer
        .append(&Entry::Begin {
            run_id: uuid::Uuid::new_v4().to_string(),
            at: jiff::Timestamp::now().to_string(),
            api_url: client.api_url().to_owned(),
            org_id: client.org_id().to_owned(),
            action: action.to_owned(),
            filter: filter.filter(|f| !f.is_empty()).cloned(),
        })
        .map_err(io_failure)?;
    Ok((Mutex::new(writer), path))
}

/// Which identity idguard is logged in as; says so on stderr when the token does not tell.
pub fn runs_as(client: &Client, stderr: &mut dyn Write) -> RunsAs {
    match client.identity_id() {
        Some(id) => RunsAs::Identity(id),
        None => {
            let _ = writeln!(
                stderr,
                "idguard: warning: the access token does not say which identity idguard runs as; \
                 every trusted-IP change is held back (--include-self applies them, last)"
            );
            RunsAs::Unknown
        }
    }
}

/// Lists the changes held back because they could lock idguard out.
pub fn print_held(held: &[ManualItem], stderr: &mut dyn Write) {
    for m in held {
        let _ = writeln!(
            stderr,
            "idguard: held: {} ({}) {} [{}]: {}",
            safe(&m.identity_name),
            safe(&m.identity_id),
            safe(&m.auth_method),
            safe(&m.rule),
            safe(&m.reason)
        );
    }
}

/// The error that ends a write run whose journal could not be written (its outcomes were
/// already reported).
pub fn journal_result(error: Option<JournalError>) -> Result<(), Failure> {
    match error {
        None => Ok(()),
        Some(e) => Err(io_failure(
            anyhow::Error::new(e)
                .context("the journal could not be written, so no further change was sent"),
        )
        .hint("`idguard rollback` on the journal restores what was written before it stopped")),
    }
}

/// Counts per outcome, a few lines for a person, and whether any write failed or did not verify.
/// `not_attempted` changes were never started (the journal had failed).
pub fn summarise(outcomes: &[ChangeOutcome], not_attempted: usize) -> (Vec<String>, bool) {
    let mut lines = Vec::new();
    let count = |o: Outcome| outcomes.iter().filter(|c| c.outcome == o).count();
    let all = [
        Outcome::Verified,
        Outcome::Failed,
        Outcome::Unverified,
        Outcome::Drifted,
        Outcome::ChangedSince,
        Outcome::Unchanged,
    ];
    let parts: Vec<String> = all
        .iter()
        .filter(|o| count(**o) > 0)
        .map(|o| format!("{} {}", count(*o), o.as_str()))
        .collect();
    let mut parts = parts;
    if not_attempted > 0 {
        parts.push(format!("{not_attempted} not attempted"));
    }
    lines.push(format!(
        "writes: {}",
        if parts.is_empty() {
            "none".to_owned()
        } else {
            parts.join(", ")
        }
    ));
    for c in outcomes
        .iter()
        .filter(|c| !matches!(c.outcome, Outcome::Verified | Outcome::Unchanged))
    {
        lines.push(format!(
            "  {} {} ({}) {}: {}",
            c.outcome.as_str(),
            safe(&c.identity_name),
            safe(&c.identity_id),
            safe(&c.auth_method),
            safe(c.error.as_deref().unwrap_or(""))
        ));
    }
    let failed = outcomes
        .iter()
        .any(|c| matches!(c.outcome, Outcome::Failed | Outcome::Unverified));
    (lines, failed)
}
