//! `trend.html`: one self-contained page (no script, no external styles, fonts or images;
//! a Content-Security-Policy admits nothing else) with inline SVG line charts of the fail and
//! error counts per rule and per severity, run after run, the table of runs and the skipped
//! runs. Styled like `report.html`; every folder name, rule id and reason is HTML-escaped.

use super::{FailErr, RunPoint, Trend};
use crate::report::{HTML_STYLE, html_escape as escape};

/// Line colours, cycled.
const PALETTE: [&str; 8] = [
    "#cf222e", "#0969da", "#1a7f37", "#bc4c00", "#8250df", "#6e7781", "#bf3989", "#4d2d00",
];

/// One line of a chart: its name and its value at each run (`None`: not in that run).
struct Series {
    name: String,
    values: Vec<Option<u64>>,
}

/// Renders `trend.html`.
pub fn render(trend: &Trend) -> String {
    let mut out = format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; \
         style-src 'unsafe-inline'\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>idguard trend</title>\n<style>{HTML_STYLE}\
         .chart .line{{fill:none;stroke-width:2}}.chart .axis{{stroke:#d0d7de}}</style>\n\
         </head>\n<body>\n<h1>idguard trend</h1>\n"
    );
    let runs = &trend.runs;
    match (runs.first(), runs.last()) {
        (Some(first), Some(last)) => out.push_str(&format!(
            "<p>{} run(s), {} to {}; {} skipped.</p>\n",
            runs.len(),
            first.started_at,
            last.started_at,
            trend.skipped.len()
        )),
        _ => out.push_str(&format!(
            "<p>No readable runs; {} skipped.</p>\n",
            trend.skipped.len()
        )),
    }
    let labels: Vec<String> = runs.iter().map(|r| r.started_at.to_string()).collect();
    let rules = trend.rules();
    let severities = trend.severities();
    let per = |keys: &[&str], pick: fn(&RunPoint, &str) -> Option<FailErr>, fail: bool| {
        keys.iter()
            .map(|k| Series {
                name: (*k).to_owned(),
                values: runs
                    .iter()
                    .map(|r| pick(r, k).map(|c| if fail { c.fail } else { c.error }))
                    .collect(),
            })
            .collect::<Vec<_>>()
    };
    let by_rule = |r: &RunPoint, k: &str| r.summary.by_rule.get(k).copied();
    let by_severity = |r: &RunPoint, k: &str| r.summary.by_severity.get(k).copied();
    out.push_str("<section id=\"charts\">\n");
    for (id, title, series) in [
        (
            "chart-rule-fail",
            "Failures per rule",
            per(&rules, by_rule, true),
        ),
        (
            "chart-rule-error",
            "Errors per rule",
            per(&rules, by_rule, false),
        ),
        (
            "chart-severity-fail",
            "Failures per severity",
            per(&severities, by_severity, true),
        ),
        (
            "chart-severity-error",
            "Errors per severity",
            per(&severities, by_severity, false),
        ),
    ] {
        out.push_str(&format!("<h2>{title}</h2>\n"));
        out.push_str(&line_chart(id, title, &labels, &series));
    }
    out.push_str("</section>\n");
    out.push_str(&runs_table(runs));
    if !trend.skipped.is_empty() {
        out.push_str("<section id=\"skipped\"><h2>Skipped runs</h2>\n<ul>\n");
        for s in &trend.skipped {
            out.push_str(&format!(
                "<li><code>{}</code>: {}</li>\n",
                escape(&s.folder),
                escape(&s.reason)
            ));
        }
        out.push_str("</ul></section>\n");
    }
    out.push_str("</body>\n</html>\n");
    out
}

/// The table of runs, one row each.
fn runs_table(runs: &[RunPoint]) -> String {
    let mut out = String::from(
        "<section id=\"runs\"><h2>Runs</h2>\n<table class=\"rules\"><thead><tr><th>Time</th>\
         <th>Run</th><th>Identities</th><th>Results</th><th>Pass</th><th>Fail</th>\
         <th>Exempt</th><th>Error</th><th>Exit code</th><th>Complete</th><th>Read</th></tr></thead>\n<tbody>\n",
    );
    for r in runs {
        let s = &r.summary;
        out.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
             <td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
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
    out.push_str("</tbody></table></section>\n");
    out
}

/// A line chart: runs evenly spaced left to right (labelled with their start), one line per
/// series scaled to the largest value, a dot with a tooltip at each run, a legend on the right.
fn line_chart(id: &str, title: &str, labels: &[String], series: &[Series]) -> String {
    const LEFT: u64 = 70;
    const TOP: u64 = 10;
    const PLOT_W: u64 = 640;
    const PLOT_H: u64 = 200;
    const LEGEND_W: u64 = 260;
    const MAX_LABEL: usize = 32;
    const MAX_X_LABELS: usize = 6;
    let max = series
        .iter()
        .flat_map(|s| s.values.iter().flatten())
        .copied()
        .max()
        .unwrap_or(0)
        .max(1);
    let legend_h = series.len() as u64 * 18 + TOP;
    let width = LEFT + PLOT_W + LEGEND_W;
    let height = (TOP + PLOT_H + 30).max(legend_h);
    let x = |i: usize| match labels.len() {
        0 | 1 => LEFT + PLOT_W / 2,
        n => LEFT + i as u64 * PLOT_W / (n as u64 - 1),
    };
    let y = |v: u64| TOP + PLOT_H - v * PLOT_H / max;
    let mut svg = format!(
        "<svg id=\"{id}\" class=\"chart\" role=\"img\" xmlns=\"http://www.w3.org/2000/svg\" \
         width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\">\
         <title>{}</title>\n\
         <line class=\"axis\" x1=\"{LEFT}\" y1=\"{b}\" x2=\"{r}\" y2=\"{b}\"/>\
         <line class=\"axis\" x1=\"{LEFT}\" y1=\"{TOP}\" x2=\"{LEFT}\" y2=\"{b}\"/>\
         <text x=\"0\" y=\"{}\">{max}</text><text x=\"0\" y=\"{b}\">0</text>\n",
        escape(title),
        TOP + 10,
        b = TOP + PLOT_H,
        r = LEFT + PLOT_W,
    );
    if series.is_empty() || labels.is_empty() {
        svg.push_str(&format!(
            "<text x=\"{}\" y=\"{}\">no runs</text>\n",
            LEFT + 10,
            TOP + PLOT_H / 2
        ));
    }
    let every = labels.len().div_ceil(MAX_X_LABELS).max(1);
    for (i, label) in labels.iter().enumerate() {
        if i % every == 0 || i + 1 == labels.len() {
            let day: String = label.chars().take(16).collect();
            svg.push_str(&format!(
                "<text class=\"x-label\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n",
                x(i),
                TOP + PLOT_H + 18,
                escape(&day)
            ));
        }
    }
    for (n, s) in series.iter().enumerate() {
        let colour = PALETTE[n % PALETTE.len()];
        let points: Vec<(usize, u64)> = s
            .values
            .iter()
            .enumerate()
            .filter_map(|(i, v)| v.map(|v| (i, v)))
            .collect();
        let path: Vec<String> = points
            .iter()
            .map(|&(i, v)| format!("{},{}", x(i), y(v)))
            .collect();
        svg.push_str(&format!(
            "<g class=\"series\" data-series=\"{}\"><polyline class=\"line\" stroke=\"{colour}\" \
             points=\"{}\"/>",
            escape(&s.name),
            path.join(" ")
        ));
        for &(i, v) in &points {
            svg.push_str(&format!(
                "<circle cx=\"{}\" cy=\"{}\" r=\"3\" fill=\"{colour}\"><title>{}, {}: {v}</title>\
                 </circle>",
                x(i),
                y(v),
                escape(&s.name),
                escape(&labels[i])
            ));
        }
        let shown: String = if s.name.chars().count() > MAX_LABEL {
            s.name.chars().take(MAX_LABEL - 1).chain(['…']).collect()
        } else {
            s.name.clone()
        };
        let (lx, ly) = (LEFT + PLOT_W + 20, TOP + n as u64 * 18);
        svg.push_str(&format!(
            "<rect x=\"{lx}\" y=\"{ly}\" width=\"10\" height=\"10\" fill=\"{colour}\"/>\
             <text x=\"{}\" y=\"{}\">{}</text></g>\n",
            lx + 16,
            ly + 10,
            escape(&shown),
        ));
    }
    svg.push_str("</svg>\n");
    svg
}

#[cfg(test)]
mod tests {
    use super::super::tests::two_runs;
    use super::*;

    /// Each chart has one line per rule or severity through every run; the page has no script
    /// and nothing external; a hostile folder name is text, not markup.
    #[test]
    fn charts_have_a_line_per_series_and_names_are_escaped() {
        let trend = two_runs([0, 4], "<img src=x onerror=alert(1)>");
        let page = render(&trend);
        let chart = &page[page.find("id=\"chart-rule-fail\"").expect("chart")..];
        let chart = &chart[..chart.find("</svg>").expect("end")];
        assert_eq!(chart.matches("<polyline").count(), 1);
        // Zero failures sits on the axis (y = 210), four at the top (y = 10).
        assert!(chart.contains("points=\"70,210 710,10\""), "{chart}");
        assert_eq!(page.matches("<polyline").count(), 4, "four charts");
        assert!(!page.contains("<script") && !page.contains("src=\"http"));
        assert!(!page.contains("<img"));
        assert!(page.contains("&lt;img src=x onerror=alert(1)&gt;"));
    }
}
