//! What a command does when Ctrl-C stops it: the run of writes it sets up watches the
//! process-wide switch, an interrupted run of writes says what was written and how to roll it
//! back, and a second Ctrl-C (stop at once) ends the command with exit 130. The switch itself
//! and the signal are `crate::interrupt`'s.

use std::future::Future;
use std::path::Path;

use crate::display::safe;
use crate::exit::{Exit, Failure};
use crate::interrupt::Interrupt;
use crate::progress::WriteProgress;
use crate::remediate::apply::{ChangeOutcome, Writing};
use crate::remediate::journal::Outcome;

/// A run of writes watching Ctrl-C, with `progress` counting its changes.
pub fn writing(concurrency: usize, progress: WriteProgress) -> Writing {
    Writing {
        concurrency,
        interrupt: Interrupt::process().clone(),
        progress,
    }
}

/// Whether Ctrl-C was pressed.
pub fn requested() -> bool {
    Interrupt::process().requested()
}

/// `exit`, or 130 when Ctrl-C was pressed.
pub fn exit_or(exit: Exit) -> Exit {
    if requested() { Exit::Interrupted } else { exit }
}

/// Awaits `fut`, unless Ctrl-C asks to stop at once first (`None`).
pub async fn unless_forced<T>(fut: impl Future<Output = T>) -> Option<T> {
    tokio::select! {
        biased;
        out = fut => Some(out),
        () = Interrupt::process().forced() => None,
    }
}

/// Awaits a run of writes journalled to `journal`, unless Ctrl-C asks to stop at once first:
/// then the run is dropped where it is and the failure says how to roll back what it wrote.
pub async fn writes_unless_forced<T>(
    journal: &Path,
    fut: impl Future<Output = T>,
) -> Result<T, Failure> {
    unless_forced(fut).await.ok_or_else(|| {
        Failure::new(
            Exit::Interrupted,
            anyhow::anyhow!(
                "stopped at once by a second Ctrl-C: changes in flight may have been written \
                 without their outcome in the journal {}",
                journal.display()
            ),
        )
        .hint(rollback_hint(journal))
    })
}

/// The failure of a command stopped at once (second Ctrl-C) outside a run of writes.
pub fn forced() -> Failure {
    Failure::new(
        Exit::Interrupted,
        anyhow::anyhow!(
            "stopped at once by a second Ctrl-C; no report was written (a run of writes, if one \
             had started, is in its journal)"
        ),
    )
}

/// `idguard rollback JOURNAL --apply`, and what it does.
fn rollback_hint(journal: &Path) -> String {
    format!(
        "`idguard rollback {} --apply` restores what the journal records (only where the \
         live value is still what idguard wrote)",
        safe(&journal.display().to_string())
    )
}

/// What a run of writes stopped by Ctrl-C did, for a person: how many changes were written
/// and not started, and how to undo them. `original` is the journal a rollback worked from
/// (`None` for an apply).
pub fn interrupted_writes(
    outcomes: &[ChangeOutcome],
    not_attempted: usize,
    journal: &Path,
    original: Option<&Path>,
) -> Vec<String> {
    let written = outcomes
        .iter()
        .filter(|o| matches!(o.outcome, Outcome::Verified | Outcome::Unverified))
        .count();
    let what = if original.is_some() {
        "restore"
    } else {
        "change"
    };
    let mut lines = vec![format!(
        "interrupted by Ctrl-C: {written} {what}(s) written, {} finished without a write, \
         {not_attempted} not started; journal: {}",
        outcomes.len() - written,
        safe(&journal.display().to_string())
    )];
    if let Some(original) = original {
        lines.push(format!(
            "to restore the rest: `idguard rollback {} --apply` (what is restored already is \
             left as it is)",
            safe(&original.display().to_string())
        ));
    }
    lines.push(format!(
        "to undo what was written: {}",
        rollback_hint(journal)
    ));
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(o: Outcome) -> ChangeOutcome {
        ChangeOutcome {
            change_id: "c".into(),
            identity_id: "i".into(),
            identity_name: "n".into(),
            auth_method: "oci-auth".into(),
            outcome: o,
            error: None,
            rules: Vec::new(),
        }
    }

    /// The note counts what was written (verified or not), what ended without a write, and
    /// what never started, and names the rollback command.
    #[test]
    fn an_interrupted_apply_says_what_was_written_and_how_to_undo_it() {
        let outcomes = [
            outcome(Outcome::Verified),
            outcome(Outcome::Unverified),
            outcome(Outcome::Drifted),
        ];
        let lines = interrupted_writes(&outcomes, 7, Path::new("out/journal.jsonl"), None);
        assert!(
            lines[0].contains("2 change(s) written, 1 finished without a write, 7 not started"),
            "{lines:?}"
        );
        assert!(
            lines
                .iter()
                .any(|l| l.contains("idguard rollback out/journal.jsonl --apply")),
            "{lines:?}"
        );
    }
}
