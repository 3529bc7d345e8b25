//! Writing a [`Diff`] as text (terminal, mail from cron), JSON (machines) or Markdown (a ticket
//! or chat message). Server-supplied strings are sanitised: control characters never reach a
//! terminal (no escape-sequence injection) and Markdown is escaped.
//!
//! What still fails is not news: text and Markdown give only its count unless
//! [`StillFailing::List`] is asked for (`idguard diff --all`). JSON always has every entry.

use std::io::{self, Write};

use super::{Change, Diff, DiffFormat, IdentityRef};
use crate::report::markdown::escape as md;

/// How text and Markdown show the findings that still fail (JSON always lists them all).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StillFailing {
    /// Only their count, so that a run with nothing new stays quiet (the default).
    #[default]
    Count,
    /// Every one of them (`idguard diff --all`).
    List,
}

/// Writes `diff` in `format`.
pub fn render(
    diff: &Diff,
    format: DiffFormat,
    still_failing: StillFailing,
    out: &mut dyn Write,
) -> io::Result<()> {
    match format {
        DiffFormat::Json => {
            serde_json::to_writer_pretty(&mut *out, diff).map_err(io::Error::other)?;
            out.write_all(b"\n")
        }
        DiffFormat::Text => text(diff, still_failing, out),
        DiffFormat::Markdown => markdown(diff, still_failing, out),
    }
}

/// The sections in output order: title and entries. "Still failing" is there only when it is
/// to be listed.
fn sections(diff: &Diff, still_failing: StillFailing) -> Vec<(&'static str, &[Change])> {
    let mut out: Vec<(&'static str, &[Change])> = vec![
        ("New failures", &diff.new_failures),
        ("Regressed (pass -> fail)", &diff.regressed),
        (
            "Exemptions expired (exempt -> fail)",
            &diff.exemptions_expired,
        ),
        ("New errors (config could not be read)", &diff.new_errors),
        ("Resolved", &diff.resolved),
        ("Newly exempt", &diff.newly_exempt),
    ];
    if still_failing == StillFailing::List {
        out.push(("Still failing", &diff.still_failing));
    }
    out
}

/// How many still-failing entries are left out of text and Markdown (0: none are).
fn unlisted(diff: &Diff, still_failing: StillFailing) -> usize {
    match still_failing {
        StillFailing::Count => diff.still_failing.len(),
        StillFailing::List => 0,
    }
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

fn text(diff: &Diff, still_failing: StillFailing, out: &mut dyn Write) -> io::Result<()> {
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
    for (title, list) in sections(diff, still_failing) {
        if list.is_empty() {
            continue;
        }
        writeln!(out, "\n{title} ({}):", list.len())?;
        for ch in list {
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
    }
    match unlisted(diff, still_failing) {
        0 => {}
        n => writeln!(
            out,
            "\n{n} still failing, unchanged (not listed: --all lists them, --format json has them all)"
        )?,
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

fn markdown(diff: &Diff, still_failing: StillFailing, out: &mut dyn Write) -> io::Result<()> {
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
    for (title, list) in sections(diff, still_failing) {
        if list.is_empty() {
            continue;
        }
        writeln!(out, "\n## {title} ({})\n", list.len())?;
        writeln!(
            out,
            "| Severity | Rule | Identity | Identity ID | Method | Before | After | Detail |\n\
             |---|---|---|---|---|---|---|---|"
        )?;
        for ch in list {
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
    }
    match unlisted(diff, still_failing) {
        0 => {}
        n => writeln!(
            out,
            "\n## Still failing ({n})\n\nUnchanged, so not listed here: `idguard diff --all` \
             lists them, and the JSON output (`diff.json` beside the reports) has them all."
        )?,
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
