//! `report.html`: one self-contained page (no external scripts, fonts, styles or images) with
//! the summary, a table of every rule of the policy (description and counts), inline SVG bar
//! charts of pass/fail/exempt/error per rule and per severity, a
//! sortable and filterable table of every result, and the run manifest.
//!
//! Streamed: table rows go to a spool file as findings arrive; `finish` writes the page around
//! them and moves it into place. Identity names and every other server-supplied string are
//! HTML-escaped, the script reads the table only through `textContent` and attributes (never
//! `innerHTML`), and a Content-Security-Policy allows no source but the page's own inline script
//! (by hash), so a hostile identity name cannot run code in the reader's browser.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use sha2::{Digest, Sha256};

use super::markdown::counts_of;
use super::spool::{Assembly, Spool};
use super::{FinishContext, FormatWriter, ReportError};
use crate::finding::{Finding, Severity, Status};

/// The streaming writer of `report.html`.
pub(super) struct HtmlReport {
    final_path: PathBuf,
    rows: Spool,
    /// Last login per identity id, when the server reports them.
    last_logins: std::collections::HashMap<String, String>,
}

impl HtmlReport {
    pub(super) fn create(dir: &Path) -> Result<HtmlReport, ReportError> {
        let final_path = dir.join("report.html");
        Ok(HtmlReport {
            rows: Spool::create(&final_path, "rows")?,
            final_path,
            last_logins: std::collections::HashMap::new(),
        })
    }
}

/// Sort rank of a status: failures first.
fn status_rank(s: Status) -> u8 {
    match s {
        Status::Fail => 3,
        Status::Error => 2,
        Status::Exempt => 1,
        Status::Pass => 0,
    }
}

/// Sort rank of a severity: critical highest.
fn severity_rank(s: Severity) -> u8 {
    match s {
        Severity::Critical => 4,
        Severity::High => 3,
        Severity::Medium => 2,
        Severity::Low => 1,
        Severity::Info => 0,
    }
}

impl FormatWriter for HtmlReport {
    fn last_login(&mut self, identity_id: &str, text: &str) {
        self.last_logins
            .insert(identity_id.to_owned(), text.to_owned());
    }

    fn write(&mut self, f: &Finding) -> Result<(), ReportError> {
        let join = |part: fn(&crate::finding::Violation) -> &str| {
            f.violations
                .iter()
                .map(|v| escape(part(v)))
                .collect::<Vec<_>>()
                .join("<br>")
        };
        let note = match (f.status, &f.error, &f.exemption) {
            (Status::Error, Some(err), _) => escape(err),
            (Status::Exempt, _, Some(ex)) => format!(
                "exempt until {}: {}",
                escape(&ex.expires),
                escape(&ex.reason)
            ),
            (Status::Fail, _, _) => match &f.remediation {
                Some(crate::finding::Remediation::Manual { reason, .. }) => format!(
                    "{}<br><b>manual:</b> {}",
                    join(|v| &v.message),
                    escape(reason)
                ),
                _ => join(|v| &v.message),
            },
            _ => join(|v| &v.message),
        };
        let status = f.status.as_str();
        let row = format!(
            "<tr data-status=\"{status}\" data-rank=\"{}{}\"><td>{}</td><td class=\"id\">{}</td>\
             <td>{}</td><td>{}</td><td data-sort=\"{}\">{}</td>\
             <td data-sort=\"{}\"><span class=\"st st-{status}\">{status}</span></td>\
             <td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
            status_rank(f.status),
            severity_rank(f.severity),
            escape(&f.identity_name),
            escape(&f.identity_id),
            escape(f.auth_method.as_str()),
            escape(&f.rule),
            severity_rank(f.severity),
            f.severity,
            status_rank(f.status),
            join(|v| &v.observed),
            join(|v| &v.expected),
            note,
            self.last_logins
                .get(&f.identity_id)
                .map_or(String::new(), |t| escape(t)),
        );
        self.rows.push(&row)
    }

    fn finish(self: Box<Self>, ctx: &FinishContext<'_>) -> Result<PathBuf, ReportError> {
        let HtmlReport {
            final_path,
            mut rows,
            ..
        } = *self;
        let mut page = Assembly::create(&final_path)?;
        page.push(&head())?;
        page.push(&body_top(ctx))?;
        page.push(
            "<section id=\"results\"><h2>Results</h2>\n<div class=\"controls\">\
             <label>Filter <input id=\"filter\" type=\"search\" placeholder=\"identity, rule, value…\"></label> \
             <label>Status <select id=\"status-filter\"><option value=\"\">all</option>\
             <option value=\"fail\">fail</option><option value=\"error\">error</option>\
             <option value=\"exempt\">exempt</option><option value=\"pass\">pass</option></select></label> \
             <span id=\"shown\"></span></div>\n\
             <table id=\"results-table\"><thead><tr><th>Identity</th><th>Identity ID</th>\
             <th>Method</th><th>Rule</th><th>Severity</th><th>Status</th><th>Observed</th>\
             <th>Expected</th><th>Details</th><th>Last login</th></tr></thead>\n<tbody>\n",
        )?;
        page.append(&mut rows)?;
        page.push("</tbody></table></section>\n")?;
        page.push(&manifest(ctx))?;
        page.push(&format!("<script>{SCRIPT}</script>\n</body>\n</html>\n"))?;
        page.commit()
    }
}

/// The page's only script: sorting (click a column header), filtering (text and status), a
/// shown-rows count, and the `data-idguard-ready` marker on `<html>` once it has run.
const SCRIPT: &str = r#"
(function () {
  "use strict";
  var table = document.getElementById("results-table");
  var tbody = table.tBodies[0];
  var rows = Array.prototype.slice.call(tbody.rows);
  var filter = document.getElementById("filter");
  var status = document.getElementById("status-filter");
  var shown = document.getElementById("shown");
  var heads = table.tHead.rows[0].cells;
  var direction = {};
  function key(row, col) {
    var cell = row.cells[col];
    var k = cell.getAttribute("data-sort");
    return k !== null ? Number(k) : cell.textContent.toLowerCase();
  }
  function place() {
    var frag = document.createDocumentFragment();
    rows.forEach(function (r) { frag.appendChild(r); });
    tbody.appendChild(frag);
  }
  function apply() {
    var q = filter.value.toLowerCase();
    var s = status.value;
    var n = 0;
    rows.forEach(function (r) {
      var ok = (!s || r.getAttribute("data-status") === s) &&
        (!q || r.textContent.toLowerCase().indexOf(q) >= 0);
      r.hidden = !ok;
      if (ok) { n += 1; }
    });
    shown.textContent = n + " of " + rows.length + " results shown";
    table.setAttribute("data-shown", String(n));
  }
  function sortBy(col) {
    var d = direction[col] = direction[col] === 1 ? -1 : 1;
    rows.sort(function (a, b) {
      var x = key(a, col), y = key(b, col);
      return (x < y ? -1 : x > y ? 1 : 0) * d;
    });
    place();
    for (var i = 0; i < heads.length; i += 1) { heads[i].removeAttribute("aria-sort"); }
    heads[col].setAttribute("aria-sort", d === 1 ? "ascending" : "descending");
  }
  Array.prototype.forEach.call(heads, function (th, col) {
    th.tabIndex = 0;
    th.addEventListener("click", function () { sortBy(col); });
    th.addEventListener("keydown", function (e) { if (e.key === "Enter") { sortBy(col); } });
  });
  rows.sort(function (a, b) {
    return Number(b.getAttribute("data-rank")) - Number(a.getAttribute("data-rank"));
  });
  place();
  filter.addEventListener("input", apply);
  status.addEventListener("change", apply);
  apply();
  table.setAttribute("data-sortable", "true");
  document.documentElement.setAttribute("data-idguard-ready", "1");
})();
"#;

/// The page style, shared with `trend.html`.
pub(crate) const STYLE: &str = "
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;margin:2em;color:#1b1f24;background:#fff}
h1{font-size:1.6em;margin:0 0 .4em}h2{font-size:1.2em;margin:1.6em 0 .5em}
.banner{background:#fff4e5;border:1px solid #e8a33d;padding:.6em 1em;border-radius:4px}
.cards{display:flex;flex-wrap:wrap;gap:.8em}.card{border:1px solid #d0d7de;border-radius:6px;padding:.5em 1em;min-width:6em}
.card b{display:block;font-size:1.5em}
table{border-collapse:collapse;width:100%}th,td{border-bottom:1px solid #d0d7de;padding:.3em .5em;text-align:left;vertical-align:top}
th{background:#f6f8fa;cursor:pointer;user-select:none;position:sticky;top:0}
th[aria-sort=ascending]::after{content:' \\25B2'}th[aria-sort=descending]::after{content:' \\25BC'}
td{word-break:break-word}td.id{font-family:ui-monospace,monospace;font-size:.85em}
.manifest th{width:12em}.rules th,.manifest th{cursor:default}.rules td.description{white-space:pre-line}
.rules td:nth-child(n+4),.rules th:nth-child(n+4){text-align:right;width:4.5em}
.st{padding:0 .4em;border-radius:3px;color:#fff;white-space:nowrap}.st-fail{background:#cf222e}.st-error{background:#bc4c00}
.st-exempt{background:#6e7781}.st-pass{background:#1a7f37}
.controls{margin:.5em 0}.controls input{width:18em}
.legend span{margin-right:1em}.legend i{display:inline-block;width:.9em;height:.9em;margin-right:.3em;vertical-align:-.1em}
svg text{font:12px system-ui,sans-serif;fill:#1b1f24}
";

/// Doctype, head (with the CSP that admits only the page's own script) and styles.
fn head() -> String {
    let digest = Sha256::digest(SCRIPT.as_bytes());
    let hash = base64::engine::general_purpose::STANDARD.encode(digest);
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; \
         style-src 'unsafe-inline'; script-src 'sha256-{hash}'\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>idguard audit report</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
    )
}

/// Title, incomplete banner, summary cards and the two charts.
fn body_top(ctx: &FinishContext<'_>) -> String {
    let s = ctx.summary;
    let mut out = format!(
        "<h1>idguard audit report</h1>\n<p>Run <code>{}</code>, {} to {}, policy <code>{}</code>.</p>\n",
        escape(&ctx.run.id),
        escape(&ctx.run.started_at),
        escape(&ctx.run.finished_at),
        escape(&ctx.run.policy.path)
    );
    if !ctx.run.complete {
        out.push_str(&format!(
            "<p class=\"banner\" id=\"incomplete\"><b>Incomplete run:</b> {}</p>\n",
            escape(
                ctx.run
                    .incomplete_reason
                    .as_deref()
                    .unwrap_or("not every identity was evaluated")
            )
        ));
    }
    out.push_str("<section id=\"summary\"><h2>Summary</h2><div class=\"cards\">");
    for (label, n) in [
        ("identities", s.identities),
        ("auth configs", s.auth_configs),
        ("results", s.results),
        ("pass", s.pass),
        ("fail", s.fail),
        ("exempt", s.exempt),
        ("error", s.error),
    ] {
        out.push_str(&format!("<div class=\"card\"><b>{n}</b>{label}</div>"));
    }
    out.push_str("</div></section>\n");
    out.push_str(&rules_table(ctx));
    out.push_str("<section id=\"charts\">\n");
    out.push_str(LEGEND);
    let by_rule: Vec<(String, [u64; 4])> = ctx
        .rules
        .iter()
        .map(|r| {
            let c = s.by_rule.get(&r.id).map_or([0; 4], counts_of);
            (r.id.clone(), c)
        })
        .collect();
    out.push_str("<h2>Results per rule</h2>\n");
    out.push_str(&bar_chart("chart-rules", "Results per rule", &by_rule));
    let by_severity: Vec<(String, [u64; 4])> = Severity::ALL
        .iter()
        .filter_map(|sev| {
            s.by_severity
                .get(sev.as_str())
                .map(|c| (sev.to_string(), counts_of(c)))
        })
        .collect();
    out.push_str("<h2>Results per severity</h2>\n");
    out.push_str(&bar_chart(
        "chart-severity",
        "Results per severity",
        &by_severity,
    ));
    out.push_str("</section>\n");
    out
}

/// Every rule of the policy, in policy order, with its description and its counts (zeros
/// included).
fn rules_table(ctx: &FinishContext<'_>) -> String {
    let mut out = String::from(
        "<section id=\"rules\"><h2>Rules</h2>\n<table class=\"rules\"><thead><tr><th>Rule</th>\
         <th>Severity</th><th>Description</th><th>Pass</th><th>Fail</th><th>Exempt</th>\
         <th>Error</th></tr></thead>\n<tbody>\n",
    );
    for r in ctx.rules {
        let [pass, fail, error, exempt] = ctx.summary.by_rule.get(&r.id).map_or([0; 4], counts_of);
        out.push_str(&format!(
            "<tr data-rule=\"{id}\"><td>{id}</td><td>{}</td><td class=\"description\">{}</td>\
             <td>{pass}</td><td>{fail}</td><td>{exempt}</td><td>{error}</td></tr>\n",
            r.severity,
            escape(r.description.as_deref().unwrap_or("").trim()),
            id = escape(&r.id),
        ));
    }
    out.push_str("</tbody></table></section>\n");
    out
}

const LEGEND: &str = "<p class=\"legend\"><span><i style=\"background:#cf222e\"></i>fail</span>\
<span><i style=\"background:#bc4c00\"></i>error</span><span><i style=\"background:#6e7781\"></i>exempt</span>\
<span><i style=\"background:#1a7f37\"></i>pass</span></p>\n";

/// Chart segments in drawing order: (name, index into `[pass, fail, error, exempt]`, colour).
const SEGMENTS: [(&str, usize, &str); 4] = [
    ("fail", 1, "#cf222e"),
    ("error", 2, "#bc4c00"),
    ("exempt", 3, "#6e7781"),
    ("pass", 0, "#1a7f37"),
];

/// A horizontal stacked bar chart, one bar per row, bars scaled to the largest total.
fn bar_chart(id: &str, title: &str, rows: &[(String, [u64; 4])]) -> String {
    const ROW: u64 = 26;
    const BAR_WIDTH: u64 = 480;
    const MAX_LABEL: usize = 40;
    let label_width = rows
        .iter()
        .map(|(l, _)| l.chars().count().min(MAX_LABEL) as u64 * 7 + 12)
        .max()
        .unwrap_or(60)
        .max(60);
    let max_total = rows
        .iter()
        .map(|(_, c)| c.iter().sum::<u64>())
        .max()
        .unwrap_or(0)
        .max(1);
    let width = label_width + BAR_WIDTH + 220;
    let height = (rows.len() as u64).max(1) * ROW + 4;
    let mut svg = format!(
        "<svg id=\"{id}\" class=\"chart\" role=\"img\" xmlns=\"http://www.w3.org/2000/svg\" \
         width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\">\
         <title>{}</title>\n",
        escape(title)
    );
    if rows.is_empty() {
        svg.push_str("<text x=\"0\" y=\"18\">no results</text>\n");
    }
    for (i, (label, counts)) in rows.iter().enumerate() {
        let y = i as u64 * ROW + 2;
        let shown: String = if label.chars().count() > MAX_LABEL {
            label.chars().take(MAX_LABEL - 1).chain(['…']).collect()
        } else {
            label.clone()
        };
        svg.push_str(&format!(
            "<g class=\"bar\" data-label=\"{}\"><text x=\"0\" y=\"{}\">{}</text>",
            escape(label),
            y + 15,
            escape(&shown)
        ));
        let mut x = label_width;
        for (name, idx, colour) in SEGMENTS {
            let n = counts[idx];
            if n == 0 {
                continue;
            }
            let w = (n * BAR_WIDTH).div_ceil(max_total).max(1);
            svg.push_str(&format!(
                "<rect class=\"seg seg-{name}\" x=\"{x}\" y=\"{y}\" width=\"{w}\" height=\"{}\" \
                 fill=\"{colour}\"><title>{}: {n} {name}</title></rect>",
                ROW - 6,
                escape(label)
            ));
            x += w;
        }
        let parts: Vec<String> = SEGMENTS
            .iter()
            .filter(|(_, idx, _)| counts[*idx] > 0)
            .map(|(name, idx, _)| format!("{} {name}", counts[*idx]))
            .collect();
        let caption = if parts.is_empty() {
            "no results".to_owned()
        } else {
            parts.join(", ")
        };
        svg.push_str(&format!(
            "<text x=\"{}\" y=\"{}\">{caption}</text></g>\n",
            x + 6,
            y + 15
        ));
    }
    svg.push_str("</svg>\n");
    svg
}

/// The run manifest as a table.
fn manifest(ctx: &FinishContext<'_>) -> String {
    let run = ctx.run;
    let mut out = String::from(
        "<section id=\"manifest\"><h2>Run manifest</h2>\n<table class=\"manifest\"><tbody>\n",
    );
    let fields: [(&str, String); 15] = [
        ("idguard", env!("CARGO_PKG_VERSION").to_owned()),
        ("run id", run.id.clone()),
        ("started at", run.started_at.clone()),
        ("finished at", run.finished_at.clone()),
        ("API URL", run.api_url.clone()),
        ("organization", run.org_id.clone()),
        ("read", run.read_text()),
        ("policy", run.policy.path.clone()),
        ("policy SHA-256", run.policy.sha256.clone()),
        ("exit code", run.exit_code.to_string()),
        ("complete", run.complete.to_string()),
        (
            "incomplete reason",
            run.incomplete_reason.clone().unwrap_or_default(),
        ),
        ("API requests", run.api.requests.to_string()),
        ("API retries", run.api.retries.to_string()),
        ("rate limited", run.api.rate_limited.to_string()),
    ];
    for (k, v) in fields {
        out.push_str(&format!("<tr><th>{k}</th><td>{}</td></tr>\n", escape(&v)));
    }
    out.push_str("</tbody></table></section>\n");
    out
}

/// Escapes text for HTML element content and double- or single-quoted attributes; control
/// characters (which are not allowed in HTML) become U+FFFD.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\t' | '\n' => out.push(c),
            c if c.is_control() => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_leaves_no_markup() {
        let e = escape("<img src=x onerror=\"alert('1')\">&\u{0}");
        assert_eq!(
            e,
            "&lt;img src=x onerror=&quot;alert(&#39;1&#39;)&quot;&gt;&amp;\u{FFFD}"
        );
    }

    #[test]
    fn chart_has_one_bar_per_row_and_scales_segments() {
        let svg = bar_chart(
            "c",
            "t",
            &[("a<b".into(), [1, 3, 0, 0]), ("quiet".into(), [0, 0, 0, 0])],
        );
        assert_eq!(svg.matches("<g class=\"bar\"").count(), 2);
        assert!(svg.contains("a&lt;b") && !svg.contains("a<b"));
        assert!(svg.contains("class=\"seg seg-fail\" x=\"") && svg.contains("width=\"360\""));
        assert_eq!(svg.matches("<rect").count(), 2, "zero counts draw nothing");
        assert!(svg.contains(">3 fail, 1 pass</text>") && svg.contains(">no results</text>"));
    }

    #[test]
    fn csp_hash_matches_the_script() {
        let digest = Sha256::digest(SCRIPT.as_bytes());
        let hash = base64::engine::general_purpose::STANDARD.encode(digest);
        assert!(head().contains(&format!("'sha256-{hash}'")));
    }
    use super::super::Format;
    use super::super::spool::fixture;

    #[test]
    fn html_is_self_contained_with_charts_rows_and_manifest() {
        let (_dir, html) = fixture::render(Format::Html, &fixture::findings());
        assert!(html.starts_with("<!DOCTYPE html>"));
        assert_eq!(
            html.matches("<script").count(),
            1,
            "only the page's own script"
        );
        assert!(
            !html.contains("<script>alert"),
            "identity names are escaped"
        );
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;|*x*&quot;&#39;&amp;\u{FFFD}"));
        for external in ["src=", "href=", "@import", "url("] {
            assert!(!html.contains(external), "no external resource: {external}");
        }
        assert!(
            html.contains("<svg id=\"chart-rules\"") && html.contains("<svg id=\"chart-severity\"")
        );
        let rules_chart = &html
            [html.find("chart-rules").expect("chart")..html.find("chart-severity").expect("chart")];
        assert_eq!(
            rules_chart.matches("<g class=\"bar\"").count(),
            3,
            "one bar per rule"
        );
        let results = &html[html.find("id=\"results-table\"").expect("results table")..];
        let tbody = &results[results.find("<tbody>\n").expect("tbody")
            ..results.find("</tbody></table></section>").expect("end")];
        assert_eq!(tbody.matches("<tr ").count(), 5, "one row per result");
        assert_eq!(tbody.matches("data-status=\"fail\"").count(), 2);
        assert!(html.contains("id=\"incomplete\""));
        let rules = &html[html.find("<section id=\"rules\">").expect("rules table")
            ..html.find("<section id=\"charts\">").expect("charts")];
        assert_eq!(
            rules.matches("<tr data-rule=").count(),
            3,
            "every rule, zeros included"
        );
        assert!(rules.contains(
            "<tr data-rule=\"token-lifetime\"><td>token-lifetime</td><td>high</td>\
             <td class=\"description\">Tokens &lt;b&gt;live&lt;/b&gt; | at most *1h*\n# not a heading</td>\
             <td>1</td><td>1</td><td>1</td><td>0</td></tr>"
        ));
        assert!(rules.contains(
            "<td>unused</td><td>low</td><td class=\"description\"></td>\
             <td>0</td><td>0</td><td>0</td><td>0</td></tr>"
        ));
        assert!(!html.contains("<b>live"), "descriptions are escaped");
        assert!(html.contains("<tr><th>policy SHA-256</th><td>abc</td></tr>"));
    }
}
