//! `trend.md`: one table row per run (time, counts, exit code, whether it was complete, how it
//! read the org), then
//! the runs that were skipped and why. Folder names and reasons are escaped for Markdown.

use super::Trend;
use crate::report::markdown::escape;

/// Renders `trend.md`.
pub fn render(trend: &Trend) -> String {
    let mut out = String::from("# idguard trend\n\n");
    if trend.runs.is_empty() {
        out.push_str("No readable runs.\n");
    } else {
        out.push_str(
            "| time | run | identities | results | pass | fail | exempt | error | exit code | complete | read |\n\
             |---|---|--:|--:|--:|--:|--:|--:|--:|---|---|\n",
        );
        for r in &trend.runs {
            let s = &r.summary;
            out.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
                r.started_at,
                escape(&r.folder),
                s.identities,
                s.results,
                s.pass,
                s.fail,
                s.exempt,
                s.error,
                r.exit_code,
                if r.complete { "yes" } else { "no" },
                r.read,
            ));
        }
    }
    if !trend.skipped.is_empty() {
        out.push_str("\n## Skipped runs\n\n");
        for s in &trend.skipped {
            out.push_str(&format!("- {}: {}\n", escape(&s.folder), escape(&s.reason)));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::tests::two_runs;
    use super::*;

    /// One row per run in order, with its counts, and the skipped runs with their reasons,
    /// escaped.
    #[test]
    fn one_row_per_run_and_skipped_listed() {
        let trend = two_runs([1, 5], "bad|run");
        let md = render(&trend);
        let rows: Vec<&str> = md.lines().filter(|l| l.starts_with("| 2026")).collect();
        assert_eq!(
            rows,
            [
                "| 2026-11-20T01:00:00Z | r1 | 3 | 6 | 4 | 1 | 0 | 0 | 1 | yes | - |",
                "| 2026-11-21T01:00:00Z | r2 | 3 | 6 | 4 | 5 | 0 | 0 | 1 | yes | - |",
            ]
        );
        assert!(
            md.contains("## Skipped runs\n\n- bad\\|run: no report.json\n"),
            "{md}"
        );
    }
}
