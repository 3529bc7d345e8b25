//! Writing a [`Diff`] as text (terminal, mail from cron), JSON (machines) or Markdown (a ticket
//! or chat message). Server-supplied strings are sanitised: control characters never reach a
//! terminal (no escape-sequence injection) and Markdown is escaped.

use std::io::{self, Write};

use super::{Change, Diff, DiffFormat, IdentityRef};
use crate::report::markdown::escape as md;

/// In text and Markdown, at most this many still-failing entries are listed (all are in JSON).
pub const STILL_FAILING_SHOWN: usize = 100;

/// Writes `diff` in `format`.
pub fn render(diff: &Diff, format: DiffFormat, out: &mut dyn Write) -> io::Result<()> {
    match format {
        DiffFormat::Json => {
            serde_json::to_writer_pretty(&mut *out, diff).map_err(io::Error::other)?;
            out.write_all(b"\n")
        }
        DiffFormat::Text => text(diff, out),
        DiffFormat::Markdown => markdown(diff, out),
    }
}

/// The sections in output order: title, entries, whether the list is capped.
fn sections(diff: &Diff) -> [(&'static str, &[Change], bool); 7] {
    [
        ("New failures", &diff.new_failures, false),
        ("Regressed (pass -> fail)", &diff.regressed, false),
        (
            "Exemptions expired (exempt -> fail)",
            &diff.exemptions_expired,
            false,
        ),
        (
            "New errors (config could not be read)",
            &diff.new_errors,
            false,
        ),
        ("Resolved", &diff.resolved, false),
        ("Newly exempt", &diff.newly_exempt, false),
        ("Still failing", &diff.still_failing, true),
    ]
}

/// Replaces control characters (terminal escape sequences included) with U+FFFD.
fn clean(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { '\u{FFFD}' } else { c })
        .collect()
}

fn state(s: Option<super::State>) -> &'static str {
    s.map_or("absent", super::State::as_str)
}

fn text(diff: &Diff, out: &mut dyn Write) -> io::Result<()> {
    let c = &diff.summary;
    writeln!(
        out,
        "idguard diff: {} (run {}, {}) -> {} (run {}, {})",
        clean(&diff.old.path),
        clean(&diff.old.run_id),
        clean(&diff.old.started_at),
        clean(&diff.new.path),
        clean(&diff.new.run_id),
        clean(&diff.new.started_at)
    )?;
    writeln!(
        out,
        "{} new failures, {} regressed, {} exemptions expired, {} new errors, {} resolved, \
         {} newly exempt, {} still failing; {} identities added, {} removed",
        c.new_failures,
        c.regressed,
        c.exemptions_expired,
        c.new_errors,
        c.resolved,
        c.newly_exempt,
        c.still_failing,
        c.identities_added,
        c.identities_removed
    )?;
    for note in &diff.notes {
        writeln!(out, "note: {}", clean(note))?;
    }
    for (title, list, capped) in sections(diff) {
        if list.is_empty() {
            continue;
        }
        writeln!(out, "\n{title} ({}):", list.len())?;
        let shown = if capped {
            STILL_FAILING_SHOWN
        } else {
            usize::MAX
        };
        for ch in list.iter().take(shown) {
            write!(
                out,
                "  {:<8} {:<24} {} ({}) {}  [{} -> {}]",
                clean(&ch.severity),
                clean(&ch.rule),
                clean(&ch.identity_name),
                clean(&ch.identity_id),
                clean(&ch.auth_method),
                state(ch.before),
                state(ch.after)
            )?;
            if let Some(d) = &ch.detail {
                write!(out, ": {}", clean(d))?;
            }
            if let Some(e) = &ch.exemption_expired {
                write!(out, " (exemption ended {})", clean(e))?;
            }
            writeln!(out)?;
        }
        if list.len() > shown {
            writeln!(
                out,
                "  ... and {} more (all are in --format json)",
                list.len() - shown
            )?;
        }
    }
    for (title, ids) in [
        ("Identities added", &diff.identities_added),
        ("Identities removed", &diff.identities_removed),
    ] {
        if ids.is_empty() {
            continue;
        }
        writeln!(out, "\n{title} ({}):", ids.len())?;
        for IdentityRef { id, name } in ids {
            writeln!(out, "  {} ({})", clean(name), clean(id))?;
        }
    }
    Ok(())
}

fn markdown(diff: &Diff, out: &mut dyn Write) -> io::Result<()> {
    let c = &diff.summary;
    writeln!(out, "# idguard diff\n")?;
    writeln!(
        out,
        "From {} (run {}, {}) to {} (run {}, {}).\n",
        md(&diff.old.path),
        md(&diff.old.run_id),
        md(&diff.old.started_at),
        md(&diff.new.path),
        md(&diff.new.run_id),
        md(&diff.new.started_at)
    )?;
    for note in &diff.notes {
        writeln!(out, "> **Note:** {}\n", md(note))?;
    }
    writeln!(
        out,
        "| New failures | Regressed | Exemptions expired | New errors | Resolved | Newly exempt | Still failing | Identities added | Identities removed |\n\
         |---:|---:|---:|---:|---:|---:|---:|---:|---:|\n\
         | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
        c.new_failures,
        c.regressed,
        c.exemptions_expired,
        c.new_errors,
        c.resolved,
        c.newly_exempt,
        c.still_failing,
        c.identities_added,
        c.identities_removed
    )?;
    for (title, list, capped) in sections(diff) {
        if list.is_empty() {
            continue;
        }
        writeln!(out, "\n## {title} ({})\n", list.len())?;
        writeln!(
            out,
            "| Severity | Rule | Identity | Identity ID | Method | Before | After | Detail |\n\
             |---|---|---|---|---|---|---|---|"
        )?;
        let shown = if capped {
            STILL_FAILING_SHOWN
        } else {
            usize::MAX
        };
        for ch in list.iter().take(shown) {
            let mut detail = ch.detail.as_deref().map(md).unwrap_or_default();
            if let Some(e) = &ch.exemption_expired {
                detail.push_str(&format!(" (exemption ended {})", md(e)));
            }
            writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} | {} |",
                md(&ch.severity),
                md(&ch.rule),
                md(&ch.identity_name),
                md(&ch.identity_id),
                md(&ch.auth_method),
                state(ch.before),
                state(ch.after),
                detail.trim()
            )?;
        }
        if list.len() > shown {
            writeln!(
                out,
                "\n… and {} more (all are in the JSON output).",
                list.len() - shown
            )?;
        }
    }
    for (title, ids) in [
        ("Identities added", &diff.identities_added),
        ("Identities removed", &diff.identities_removed),
    ] {
        if ids.is_empty() {
            continue;
        }
        writeln!(
            out,
            "\n## {title} ({})\n\n| Identity | Identity ID |\n|---|---|",
            ids.len()
        )?;
        for IdentityRef { id, name } in ids {
            writeln!(out, "| {} | {} |", md(name), md(id))?;
        }
    }
    Ok(())
}
