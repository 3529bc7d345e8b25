//! `report.md`: the audit for people (a pull-request comment, a ticket, a wiki page): the run,
//! summary counts, a count table of every rule (with its description) and per severity, one
//! table of failing identities per rule (under the rule's description) with observed vs
//! expected values, the remediation (automatic, or manual with the reason) and the identity's
//! last login (where the server reports it), the policy's
//! exemptions that expire within 30 days and those that have expired, and the configs that
//! could not be read.
//!
//! Streamed: failing rows and error rows go to spool files as findings arrive; `finish` writes
//! the document, reading the failure spool once per rule to group it, and moves it into place.
//! Every server-supplied string is escaped so that it cannot add Markdown or HTML structure.

use std::io::BufRead;
use std::path::{Path, PathBuf};

use std::collections::HashMap;

use serde_json::Value;

use super::spool::{Assembly, Spool};
use super::{FinishContext, FormatWriter, ReportError};
use crate::finding::{Finding, Status};

/// Exemptions expiring within this many days of the run are listed.
pub const EXPIRY_WINDOW_DAYS: i32 = 30;

/// The streaming writer of `report.md`.
pub(super) struct MarkdownReport {
    final_path: PathBuf,
    /// One line per violation of a failing result: `<rule>\t<table row>`.
    failures: Spool,
    /// One table row per `error` result.
    errors: Spool,
    /// Rules seen in failures that the policy did not list (kept in first-seen order).
    extra_rules: Vec<String>,
    /// Last login per identity id, when the server reports them.
    last_logins: HashMap<String, String>,
}

impl MarkdownReport {
    pub(super) fn create(dir: &Path) -> Result<MarkdownReport, ReportError> {
        let final_path = dir.join("report.md");
        Ok(MarkdownReport {
            failures: Spool::create(&final_path, "failures")?,
            errors: Spool::create(&final_path, "errors")?,
            final_path,
            extra_rules: Vec::new(),
            last_logins: HashMap::new(),
        })
    }
}

impl FormatWriter for MarkdownReport {
    fn last_login(&mut self, identity_id: &str, text: &str) {
        self.last_logins
            .insert(identity_id.to_owned(), text.to_owned());
    }

    fn write(&mut self, f: &Finding) -> Result<(), ReportError> {
        match f.status {
            Status::Fail => {
                if !self.extra_rules.contains(&f.rule) && self.extra_rules.len() < 1000 {
                    self.extra_rules.push(f.rule.clone());
                }
                let head = format!(
                    "{}\t| {} | {} | {} |",
                    escape(&f.rule),
                    escape(&f.identity_name),
                    escape(&f.identity_id),
                    escape(f.auth_method.as_str()),
                );
                let last_login = self
                    .last_logins
                    .get(&f.identity_id)
                    .map_or(String::new(), |t| escape(t));
                let fix = match &f.remediation {
                    Some(crate::finding::Remediation::Manual { reason, .. }) => {
                        format!("manual: {}", escape(reason))
                    }
                    Some(crate::finding::Remediation::Auto { .. }) => "automatic".to_owned(),
                    None => String::new(),
                };
                if f.violations.is_empty() {
                    self.failures
                        .push(&format!("{head} | | | | {fix} | {last_login} |\n"))?;
                }
                for v in &f.violations {
                    self.failures.push(&format!(
                        "{head} {} | {} | {} | {} | {fix} | {last_login} |\n",
                        escape(v.check.as_str()),
                        escape(&v.field),
                        escape(&v.observed),
                        escape(&v.expected),
                    ))?;
                }
            }
            Status::Error => {
                self.errors.push(&format!(
                    "| {} | {} | {} | {} | {} |\n",
                    escape(&f.identity_name),
                    escape(&f.identity_id),
                    escape(f.auth_method.as_str()),
                    escape(&f.rule),
                    escape(f.error.as_deref().unwrap_or("")),
                ))?;
            }
            Status::Pass | Status::Exempt => {}
        }
        Ok(())
    }

    fn finish(self: Box<Self>, ctx: &FinishContext<'_>) -> Result<PathBuf, ReportError> {
        let MarkdownReport {
            final_path,
            mut failures,
            mut errors,
            extra_rules,
            ..
        } = *self;
        let mut doc = Assembly::create(&final_path)?;
        doc.push(&header(ctx))?;

        doc.push("\n## Failures\n")?;
        let mut rules: Vec<(String, String, Option<&str>)> = ctx
            .rules
            .iter()
            .map(|r| {
                (
                    r.id.clone(),
                    r.severity.to_string(),
                    r.description.as_deref(),
                )
            })
            .collect();
        for extra in extra_rules {
            if !rules.iter().any(|(id, _, _)| *id == extra) {
                rules.push((extra, "unknown".into(), None));
            }
        }
        for (rule, severity, description) in &rules {
            let fails = ctx.summary.by_rule.get(rule).map_or(0, |c| counts_of(c)[1]);
            doc.push(&format!(
                "\n### {} ({}): {} failing\n\n",
                escape(rule),
                severity,
                fails
            ))?;
            if let Some(text) = description.map(|d| escape(d.trim()))
                && !text.is_empty()
            {
                doc.push(&format!("> {text}\n\n"))?;
            }
            let mut rows = String::new();
            let mut any = false;
            let reader = failures.reader()?;
            for line in reader.lines() {
                let line = line.map_err(|e| failures.io_error(e))?;
                if let Some((key, row)) = line.split_once('\t')
                    && key == escape(rule)
                {
                    if !any {
                        doc.push(
                            "| Identity | Identity ID | Method | Check | Field | Observed | Expected | Remediation | Last login |\n\
                             |---|---|---|---|---|---|---|---|---|\n",
                        )?;
                        any = true;
                    }
                    rows.push_str(row);
                    rows.push('\n');
                    if rows.len() > 64 * 1024 {
                        doc.push(&rows)?;
                        rows.clear();
                    }
                }
            }
            doc.push(&rows)?;
            if !any {
                doc.push("No failures.\n")?;
            }
        }

        doc.push(&format!(
            "\n## Exemptions expiring within {EXPIRY_WINDOW_DAYS} days\n\n"
        ))?;
        doc.push(&expiring_exemptions(ctx))?;
        doc.push(&expired_exemptions(ctx))?;

        if let Some(baseline) = ctx.baseline {
            doc.push("\n## Changes since the baseline\n\n")?;
            // Demote the comparison's own headings below this section.
            let text = baseline.markdown.replace("\n#", "\n###");
            let text = text
                .strip_prefix('#')
                .map(|t| format!("###{t}"))
                .unwrap_or(text);
            doc.push(&text)?;
        }

        doc.push("\n## Errors\n\n")?;
        if errors.is_empty() {
            doc.push("None.\n")?;
        } else {
            doc.push(
                "| Identity | Identity ID | Method | Rule | Error |\n|---|---|---|---|---|\n",
            )?;
            doc.append(&mut errors)?;
        }
        doc.commit()
    }
}

/// Title, run manifest, summary and the count tables.
fn header(ctx: &FinishContext<'_>) -> String {
    let run = ctx.run;
    let s = ctx.summary;
    let mut out = String::from("# idguard audit report\n\n");
    if !run.complete {
        out.push_str(&format!(
            "> **Incomplete run:** {}\n\n",
            escape(
                run.incomplete_reason
                    .as_deref()
                    .unwrap_or("not every identity was evaluated")
            )
        ));
    }
    out.push_str("| Run | |\n|---|---|\n");
    let read = run.read_text();
    for (k, v) in [
        ("Run id", run.id.as_str()),
        ("Started", run.started_at.as_str()),
        ("Finished", run.finished_at.as_str()),
        ("API", run.api_url.as_str()),
        ("Organization", run.org_id.as_str()),
        ("Read", read.as_str()),
        ("Policy", run.policy.path.as_str()),
        ("Policy SHA-256", run.policy.sha256.as_str()),
    ] {
        out.push_str(&format!("| {k} | {} |\n", escape(v)));
    }
    out.push_str(&format!(
        "| Exit code | {} |\n| Complete | {} |\n| idguard | {} |\n",
        run.exit_code,
        if run.complete { "yes" } else { "no" },
        env!("CARGO_PKG_VERSION")
    ));
    out.push_str(&format!(
        "\n## Summary\n\n| Identities | Auth configs | Results | Pass | Fail | Exempt | Error |\n\
         |---:|---:|---:|---:|---:|---:|---:|\n| {} | {} | {} | {} | {} | {} | {} |\n",
        s.identities, s.auth_configs, s.results, s.pass, s.fail, s.exempt, s.error
    ));
    // Every rule of the policy, in policy order, zeros included.
    out.push_str(
        "\n## Rules\n\n| Rule | Severity | Pass | Fail | Exempt | Error | Description |\n\
         |---|---|---:|---:|---:|---:|---|\n",
    );
    for r in ctx.rules {
        let [pass, fail, error, exempt] = s.by_rule.get(&r.id).map_or([0; 4], counts_of);
        out.push_str(&format!(
            "| {} | {} | {pass} | {fail} | {exempt} | {error} | {} |\n",
            escape(&r.id),
            r.severity,
            escape(r.description.as_deref().unwrap_or("").trim()),
        ));
    }
    out.push_str(
        "\n## By severity\n\n| Severity | Pass | Fail | Exempt | Error |\n|---|---:|---:|---:|---:|\n",
    );
    for (sev, c) in &s.by_severity {
        let [pass, fail, error, exempt] = counts_of(c);
        out.push_str(&format!(
            "| {} | {pass} | {fail} | {exempt} | {error} |\n",
            escape(sev)
        ));
    }
    out
}

/// The exemptions that still apply on `ctx.today` and stop applying within the window.
fn expiring_exemptions(ctx: &FinishContext<'_>) -> String {
    let mut soon: Vec<(&crate::policy::Exemption, i32)> = ctx
        .exemptions
        .iter()
        .filter_map(|e| {
            let days = days_until(ctx.today, e.expires)?;
            (days > 0 && days <= EXPIRY_WINDOW_DAYS).then_some((e, days))
        })
        .collect();
    if soon.is_empty() {
        return "None.\n".into();
    }
    soon.sort_by_key(|(e, days)| (*days, e.identity.clone()));
    let mut out = String::from(
        "| Identity | Rules | Expires | Days left | Owner | Reason |\n|---|---|---|---:|---|---|\n",
    );
    for (e, days) in soon {
        let rules = e
            .rules
            .as_ref()
            .map_or_else(|| "all".to_owned(), |r| r.join(", "));
        out.push_str(&format!(
            "| {} | {} | {} | {days} | {} | {} |\n",
            escape(&e.identity),
            escape(&rules),
            e.expires,
            escape(e.owner.as_deref().unwrap_or("")),
            escape(&e.reason),
        ));
    }
    out
}

/// The "Expired exemptions" section: the policy's exemptions that no longer apply on
/// `ctx.today` (still written in the policy, so probably meant to apply).
fn expired_exemptions(ctx: &FinishContext<'_>) -> String {
    let mut out = String::from("\n## Expired exemptions\n\n");
    let expired: Vec<&crate::policy::Exemption> = ctx
        .exemptions
        .iter()
        .filter(|e| e.has_expired(ctx.today))
        .collect();
    if expired.is_empty() {
        out.push_str("None.\n");
        return out;
    }
    out.push_str("| Identity | Rules | Expired on | Owner | Reason |\n|---|---|---|---|---|\n");
    for e in expired {
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} |\n",
            escape(&e.identity),
            escape(&e.rules_shown()),
            e.expires,
            escape(e.owner.as_deref().unwrap_or("")),
            escape(&e.reason),
        ));
    }
    out
}

/// Whole days from `today` until `expires` (negative when past); `None` if out of range.
pub(super) fn days_until(today: jiff::civil::Date, expires: jiff::civil::Date) -> Option<i32> {
    today.until(expires).ok().map(|span| span.get_days())
}

/// `[pass, fail, error, exempt]` from a `{"pass": n, ...}` summary object.
pub(super) fn counts_of(v: &Value) -> [u64; 4] {
    let get = |k: &str| v.get(k).and_then(Value::as_u64).unwrap_or(0);
    [get("pass"), get("fail"), get("error"), get("exempt")]
}

/// Escapes text for a Markdown table cell: no line breaks, no pipes, no emphasis, links, code
/// or raw HTML.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' | '|' | '`' | '*' | '_' | '[' | ']' | '~' | '#' | '!' => {
                out.push('\\');
                out.push(c);
            }
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_neutralises_markdown_and_html() {
        let e = escape("a|b\n<script>*x*[l](u)`c`\\");
        assert!(!e.contains('\n'));
        assert!(!e.contains("<script>"));
        assert_eq!(e, "a\\|b &lt;script&gt;\\*x\\*\\[l\\](u)\\`c\\`\\\\");
    }

    #[test]
    fn days_until_counts_whole_days() {
        let d = |m, day| jiff::civil::date(2026, m, day);
        assert_eq!(days_until(d(11, 25), d(12, 25)), Some(30));
        assert_eq!(days_until(d(11, 25), d(11, 20)), Some(-5));
    }
    use super::super::Format;
    use super::super::spool::fixture;

    #[test]
    fn markdown_groups_failures_per_rule_and_lists_expiring_exemptions() {
        let (_dir, md) = fixture::render(Format::Markdown, &fixture::findings());
        assert!(md.starts_with("# idguard audit report"));
        assert!(md.contains("**Incomplete run:** 1 config could not be read"));
        assert!(
            md.contains("| 4 | 5 | 5 | 1 | 2 | 1 | 1 |"),
            "summary counts:\n{md}"
        );
        assert!(md.contains("| token-lifetime | high | 1 | 1 | 1 | 0 |"));
        let ttl = md
            .find("### token-lifetime (high): 1 failing")
            .expect("ttl section");
        let net = md
            .find("### network (critical): 1 failing")
            .expect("network section");
        let unused = md
            .find("### unused (low): 0 failing")
            .expect("unused section");
        let row_30d = md
            .find("| 30d | at most 1h |")
            .expect("observed vs expected");
        let row_cidr = md
            .find("| 0.0.0.0/0 | inside \\[10.0.0.0/8\\] |")
            .expect("cidr row");
        assert!(ttl < row_30d && row_30d < net, "ttl rows under their rule");
        assert!(
            net < row_cidr && row_cidr < unused,
            "network rows under their rule"
        );
        assert_eq!(
            md.matches("| max-uses | accessTokenNumUsesLimit |").count(),
            1
        );
        assert!(!md.contains("<script>"), "server text escaped");
        assert!(md.contains("&lt;script&gt;alert(1)&lt;/script&gt;\\|\\*x\\*"));
        let expiring = md
            .find("## Exemptions expiring within 30 days")
            .expect("section");
        let errors = md.find("## Errors").expect("errors");
        let expired = md.find("## Expired exemptions").expect("expired section");
        assert!(expiring < expired && expired < errors);
        let window = &md[expiring..expired];
        assert!(window.contains("| vendor | token-lifetime | 2026-12-05 | 10 |"));
        assert!(!window.contains("later") && !window.contains("gone"));
        let gone = &md[expired..errors];
        assert!(
            gone.contains("| gone | token-lifetime | 2026-11-20 |  | reason for gone |"),
            "{gone}"
        );
        assert!(!gone.contains("vendor") && !gone.contains("later"));
        assert!(
            md[errors..]
                .contains("| broken | id-4 | universal-auth | network | GET universal-auth: 500")
        );
    }

    /// The rules table lists every rule of the policy in policy order, zeros included, with
    /// its description escaped (no pipe, line break or markup gets through); the per-rule
    /// section quotes the description under its heading.
    #[test]
    fn markdown_shows_every_rule_with_its_description() {
        let (_dir, md) = fixture::render(Format::Markdown, &fixture::findings());
        let escaped = "Tokens &lt;b&gt;live&lt;/b&gt; \\| at most \\*1h\\* \\# not a heading";
        let table =
            &md[md.find("## Rules").expect("rules")..md.find("## By severity").expect("sev")];
        let rows: Vec<&str> = table
            .lines()
            .filter(|l| l.starts_with("| "))
            .skip(1)
            .collect();
        assert_eq!(
            rows,
            [
                format!("| token-lifetime | high | 1 | 1 | 1 | 0 | {escaped} |"),
                "| network | critical | 0 | 1 | 0 | 1 | Only from the corporate network. |".into(),
                "| unused | low | 0 | 0 | 0 | 0 |  |".into(),
            ]
        );
        assert!(
            md.contains(&format!(
                "### token-lifetime (high): 1 failing\n\n> {escaped}\n\n| Identity"
            )),
            "{md}"
        );
        assert!(md.contains("### unused (low): 0 failing\n\nNo failures."));
        assert!(!md.contains("<b>") && !md.contains("\n# not"));
    }

    #[test]
    fn markdown_without_results_says_none() {
        let (_dir, md) = fixture::render(Format::Markdown, &[]);
        assert_eq!(md.matches("No failures.").count(), 3);
        assert!(md.contains("## Expired exemptions\n\n| Identity |"));
        assert!(md.trim_end().ends_with("None."), "no errors");
    }
}
