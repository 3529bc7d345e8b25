//! The findings table a person reads on the terminal after the summary: one row per failing
//! or `error` result (severity, rule, identity, auth method, field, observed → expected), a
//! continuation line for each further failed check of the same result, and an "and N more"
//! line pointing at the full report.
//!
//! Pure: rows in, text out. Which rows (the worst N) is [`super::top`]'s job; which width and
//! whether to colour is the caller's, who asks the terminal. Every cell goes through
//! [`crate::display::safe`] before it is measured, so a server string can neither move the
//! cursor nor break the columns; long cells are cut with `…` here only (the report files keep
//! the full values). Widths count characters, so wide characters (CJK, emoji) can push a line
//! out of alignment but never hide or reorder text.

use std::fmt::Write as _;

use anstyle::{AnsiColor, Effects, Style};

use crate::display::safe;
use crate::finding::Severity;

/// One failing or `error` result as the table shows it. Values are raw: they are escaped
/// when rendered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub severity: Severity,
    pub rule: String,
    /// The identity's name.
    pub identity: String,
    /// The identity's id: orders identities that share a name; not shown.
    pub identity_id: String,
    /// The auth method (`universal-auth`, ...).
    pub method: String,
    pub outcome: RowOutcome,
}

/// What went wrong with one result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RowOutcome {
    /// Status `fail`: the checks that failed, one line each.
    Failed(Vec<FailedCheck>),
    /// Status `error`: why the config could not be read.
    Error(String),
}

/// One failed check of a result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedCheck {
    /// The Infisical field judged.
    pub field: String,
    pub observed: String,
    pub expected: String,
}

/// How the table is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableStyle {
    /// Total line width, indent included.
    pub width: usize,
    /// ANSI colours (severities, header) on.
    pub color: bool,
}

/// Spaces before every line (the summary's indent).
const INDENT: &str = "  ";
/// Spaces between columns.
const GAP: &str = "  ";
const HEADER: [&str; 6] = [
    "SEVERITY",
    "RULE",
    "IDENTITY",
    "METHOD",
    "FIELD",
    "OBSERVED → EXPECTED",
];
/// No column is cut narrower than this (unless its content is narrower).
const MIN_WIDTH: usize = 6;

/// The table of `rows` (already in order), followed by "and `hidden` more" (with where to
/// see them, `see`) when some were left out. Empty when there is no row to show.
pub fn render(rows: &[Row], hidden: u64, see: Option<&str>, style: TableStyle) -> String {
    if rows.is_empty() {
        return String::new();
    }
    let lines: Vec<Line> = rows.iter().flat_map(lines_of).collect();
    let mut natural: [usize; 6] = HEADER.map(width_of);
    for (_, line) in &lines {
        for (n, cell) in natural.iter_mut().zip(line) {
            *n = (*n).max(width_of(cell));
        }
    }
    let gaps = INDENT.len() + GAP.len() * (HEADER.len() - 1);
    let widths = fit(&natural, style.width.saturating_sub(gaps));

    let paint = Paint(style.color);
    let mut out = String::new();
    let header = HEADER.map(String::from);
    push_line(&mut out, &header, &widths, |_| paint.header());
    for (severity, line) in &lines {
        push_line(&mut out, line, &widths, |column| match (column, severity) {
            (0, Some(s)) => paint.severity(*s),
            _ => Style::new(),
        });
    }
    if hidden > 0 {
        let more = match see {
            Some(path) => format!("and {hidden} more: see {}", safe(path)),
            None => format!("and {hidden} more (--show N lists more)"),
        };
        let _ = writeln!(
            out,
            "{INDENT}{}{more}{}",
            paint.dim(),
            paint.dim().render_reset()
        );
    }
    out
}

/// One rendered line: the result's severity on its first line (`None` on the continuation
/// lines of further failed checks), and the escaped cells.
type Line = (Option<Severity>, [String; 6]);

/// The lines of a row: the first with every column, continuation lines (further failed
/// checks) with only the last two.
fn lines_of(row: &Row) -> Vec<Line> {
    let first = |field: String, last: String| {
        let cells = [
            row.severity.as_str().to_owned(),
            safe(&row.rule).into_owned(),
            safe(&row.identity).into_owned(),
            safe(&row.method).into_owned(),
            field,
            last,
        ];
        (Some(row.severity), cells)
    };
    match &row.outcome {
        RowOutcome::Error(message) => {
            vec![first("-".into(), format!("error: {}", safe(message)))]
        }
        RowOutcome::Failed(checks) if checks.is_empty() => {
            vec![first(String::new(), String::new())]
        }
        RowOutcome::Failed(checks) => checks
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let field = safe(&c.field).into_owned();
                let last = format!("{} → {}", safe(&c.observed), safe(&c.expected));
                if i == 0 {
                    first(field, last)
                } else {
                    let blank = String::new;
                    (None, [blank(), blank(), blank(), blank(), field, last])
                }
            })
            .collect(),
    }
}

/// Appends one line: each cell cut to its width and padded (the last one not padded), styled
/// by column.
fn push_line(
    out: &mut String,
    cells: &[String; 6],
    widths: &[usize; 6],
    style: impl Fn(usize) -> Style,
) {
    let mut line = String::from(INDENT);
    for (column, (cell, width)) in cells.iter().zip(widths).enumerate() {
        if column > 0 {
            line.push_str(GAP);
        }
        let text = cut(cell, *width);
        let pad = if column + 1 < cells.len() {
            width.saturating_sub(width_of(&text))
        } else {
            0
        };
        let s = style(column);
        let _ = write!(line, "{}{text}{}{:pad$}", s.render(), s.render_reset(), "");
    }
    out.push_str(line.trim_end());
    out.push('\n');
}

/// How much of the width each column claims when not everything fits: the identity is what
/// a person acts on, observed → expected says what is wrong, rule and method come next; the
/// field name reads well cut. (The severity is never cut.)
const WEIGHTS: [usize; 6] = [0, 2, 3, 2, 1, 3];

/// Column widths within `available`: every column keeps its natural width when all fit;
/// otherwise the severity keeps its width and the rest is a weighted max-min share: columns narrower than their share keep their natural
/// width and the others split what is left by [`WEIGHTS`], the last of them taking any
/// remainder. No column goes below [`MIN_WIDTH`] (or its natural width, if smaller), even if
/// the line then overflows.
fn fit(natural: &[usize; 6], available: usize) -> [usize; 6] {
    if natural.iter().sum::<usize>() <= available {
        return *natural;
    }
    // The severity is never cut.
    let mut widths = [natural[0], 0, 0, 0, 0, 0];
    let mut open: Vec<usize> = (1..natural.len()).collect();
    let mut left = available.saturating_sub(natural[0]);
    while !open.is_empty() {
        let weight: usize = open.iter().map(|&i| WEIGHTS[i]).sum();
        let (fits, wide): (Vec<usize>, Vec<usize>) = open
            .iter()
            .partition(|&&i| natural[i] * weight <= left * WEIGHTS[i]);
        if fits.is_empty() {
            for &i in &wide {
                widths[i] = left * WEIGHTS[i] / weight;
            }
            if let Some(&last) = wide.last() {
                widths[last] += left - wide.iter().map(|&i| widths[i]).sum::<usize>();
            }
            break;
        }
        for &i in &fits {
            widths[i] = natural[i];
            left -= natural[i];
        }
        open = wide;
    }
    for (w, n) in widths.iter_mut().zip(natural) {
        *w = (*w).max(MIN_WIDTH.min(*n));
    }
    widths
}

/// `text` cut to `width` characters, ending in `…` when cut.
fn cut(text: &str, width: usize) -> String {
    if width_of(text) <= width {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(width.saturating_sub(1)).collect();
    if width > 0 {
        out.push('…');
    }
    out
}

fn width_of(text: &str) -> usize {
    text.chars().count()
}

/// The styles of the table, or none when colour is off.
#[derive(Clone, Copy)]
struct Paint(bool);

impl Paint {
    fn on(self, style: Style) -> Style {
        if self.0 { style } else { Style::new() }
    }

    fn header(self) -> Style {
        self.on(Style::new().effects(Effects::BOLD))
    }

    fn dim(self) -> Style {
        self.on(Style::new().effects(Effects::DIMMED))
    }

    fn severity(self, severity: Severity) -> Style {
        let colored = |c: AnsiColor| Style::new().fg_color(Some(c.into()));
        self.on(match severity {
            Severity::Critical => colored(AnsiColor::Red).effects(Effects::BOLD),
            Severity::High => colored(AnsiColor::Red),
            Severity::Medium => colored(AnsiColor::Yellow),
            Severity::Low => colored(AnsiColor::Cyan),
            Severity::Info => Style::new().effects(Effects::DIMMED),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::top::{Keep, TopFindings};
    use super::*;
    use crate::finding::{CheckCode, Finding, Status, Violation, finding_id};
    use crate::model::AuthMethod;

    const PLAIN_100: TableStyle = TableStyle {
        width: 100,
        color: false,
    };

    /// A result of `rule` for identity `name` (`id`), failing `checks` (field, observed,
    /// expected).
    fn finding(
        (name, id, rule): (&str, &str, &str),
        severity: Severity,
        status: Status,
        checks: &[(&str, &str, &str)],
    ) -> Finding {
        Finding {
            finding_id: finding_id("org", id, &AuthMethod::Universal, rule),
            identity_id: id.into(),
            identity_name: name.into(),
            auth_method: AuthMethod::Universal,
            rule: rule.into(),
            severity,
            status,
            violations: checks
                .iter()
                .map(|(field, observed, expected)| Violation {
                    check: CheckCode::MaxTtl,
                    field: (*field).into(),
                    observed: (*observed).into(),
                    expected: (*expected).into(),
                    message: String::new(),
                })
                .collect(),
            exemption: None,
            error: None,
            remediation: None,
        }
    }

    /// Failing, passing, exempt and `error` results of several severities, in an order that
    /// is not the table's: a long allowlist, a two-check result, identities sharing a name,
    /// and server strings holding an escape sequence, a newline and a right-to-left override.
    fn findings() -> Vec<Finding> {
        use Severity::{Critical, High, Info, Low};
        use Status::{Error, Exempt, Fail, Pass};
        let unlimited = "0 (unlimited)";
        let users = "alice, bob, carol, dave, erin, frank, grace, heidi, ivan, judy, mallory";
        let mut out = vec![
            finding(
                ("zz-low", "id-9", "token-uses"),
                Low,
                Fail,
                &[("accessTokenNumUsesLimit", unlimited, "<= 1000")],
            ),
            finding(
                ("ci-build", "id-2", "token-lifetime"),
                High,
                Fail,
                &[
                    ("accessTokenTTL", unlimited, "<= 3600s (1h)"),
                    ("accessTokenMaxTTL", unlimited, "<= 86400s (24h)"),
                ],
            ),
            finding(("ci-ok", "id-3", "token-lifetime"), High, Pass, &[]),
            finding(
                ("vendor", "id-4", "network"),
                Critical,
                Exempt,
                &[("accessTokenTrustedIps", "0.0.0.0/0", "inside [10.0.0.0/8]")],
            ),
            finding(("broken", "id-5", "network"), Critical, Error, &[]),
            finding(
                ("dup", "id-7", "allowlists"),
                High,
                Fail,
                &[("allowedUsernames", users, "entries in [svc-*]")],
            ),
            finding(
                ("dup", "id-6", "allowlists"),
                High,
                Fail,
                &[("allowedUsernames", users, "entries in [svc-*]")],
            ),
            finding(
                ("evil\u{1b}[2J\u{202e}gnp.exe", "id-8", "network"),
                Critical,
                Fail,
                &[(
                    "accessTokenTrustedIps",
                    "0.0.0.0/0\nidguard: exit 0",
                    "inside [10.0.0.0/8]",
                )],
            ),
            finding(
                ("aa-info", "id-1", "aaa-info"),
                Info,
                Fail,
                &[("accessTokenPeriod", "60s", "0")],
            ),
        ];
        out[4].error =
            Some("GET universal-auth: 500 Internal Server Error\nretried 4 times".into());
        for dup in &mut out[5..7] {
            dup.auth_method = AuthMethod::Oci;
        }
        out
    }

    fn table(findings: &[Finding], keep: Keep, style: TableStyle) -> String {
        let mut top = TopFindings::new(keep);
        for f in findings {
            top.observe(f);
        }
        let (rows, hidden) = top.into_rows();
        render(&rows, hidden, Some("reports/run/report.html"), style)
    }

    /// Worst first (critical before high before low before info; then rule, identity name,
    /// method and id), only `fail` and `error` results, one line per failed check, long values
    /// cut with `…` to fit 100 columns, control characters escaped, and nothing hidden.
    #[test]
    fn every_failing_result_worst_first() {
        let text = table(&findings(), Keep::All, PLAIN_100);
        insta::assert_snapshot!(text);
        assert!(text.lines().all(|l| l.chars().count() <= 100), "{text}");
        assert!(
            !text
                .chars()
                .any(|c| c != '\n' && crate::display::is_unsafe(c))
        );
        assert!(!text.contains("and "), "nothing hidden: {text}");
    }

    /// With a cap, the worst rows are kept whatever order the findings arrive in, and the
    /// rest are counted in "and N more", which says where to see them.
    #[test]
    fn capped_table_says_how_many_more_and_where() {
        let mut shuffled = findings();
        let text = table(&shuffled, Keep::Worst(3), PLAIN_100);
        insta::assert_snapshot!(text);
        shuffled.reverse();
        assert_eq!(table(&shuffled, Keep::Worst(3), PLAIN_100), text);
        assert_eq!(table(&shuffled, Keep::Worst(0), PLAIN_100), "");
        let mut top = TopFindings::new(Keep::Worst(1));
        shuffled.iter().for_each(|f| top.observe(f));
        let (rows, hidden) = top.into_rows();
        assert!(
            render(&rows, hidden, None, PLAIN_100).contains("and 6 more (--show N lists more)")
        );
    }

    /// A wide terminal shows every value whole; a narrow one cuts, but never below a few
    /// characters per column.
    #[test]
    fn widths_follow_the_terminal() {
        let wide = table(
            &findings(),
            Keep::All,
            TableStyle {
                width: 200,
                color: false,
            },
        );
        assert!(!wide.contains('…'), "{wide}");
        assert!(wide.contains("mallory → entries in [svc-*]"), "{wide}");
        let narrow = table(
            &findings(),
            Keep::All,
            TableStyle {
                width: 40,
                color: false,
            },
        );
        assert!(narrow.lines().skip(1).all(|l| l.contains("  ")), "{narrow}");
        assert!(
            narrow.contains("critic") || narrow.contains("critical"),
            "{narrow}"
        );
    }

    /// Colour codes appear only when colour is on: severities and the header are styled, and
    /// the columns line up exactly as in plain text once the codes are removed.
    #[test]
    fn colour_only_when_on() {
        let plain = table(&findings(), Keep::Worst(4), PLAIN_100);
        assert!(!plain.contains('\u{1b}'));
        let colored = table(
            &findings(),
            Keep::Worst(4),
            TableStyle {
                width: 100,
                color: true,
            },
        );
        assert!(
            colored.contains("\u{1b}[1m\u{1b}[31mcritical\u{1b}[0m"),
            "{colored:?}"
        );
        assert!(colored.contains("\u{1b}[31mhigh\u{1b}[0m"), "{colored:?}");
        let stripped: String = anstream::adapter::strip_str(&colored).to_string();
        assert_eq!(stripped, plain);
    }

    /// Columns keep their natural widths when they fit, and share the width by weight
    /// otherwise, never below the minimum.
    #[test]
    fn fit_shares_by_weight() {
        assert_eq!(fit(&[8, 7, 18, 14, 22, 50], 200), [8, 7, 18, 14, 22, 50]);
        let widths = fit(&[8, 7, 18, 14, 22, 50], 88);
        assert_eq!(widths.iter().sum::<usize>(), 88);
        assert_eq!(&widths[..4], &[8, 7, 18, 14], "short columns kept whole");
        assert!(widths[5] > widths[4], "{widths:?}");
        assert_eq!(fit(&[8, 30, 30, 30, 30, 30], 10), [8, 6, 6, 6, 6, 6]);
        assert_eq!(fit(&[8, 30, 3, 30, 30, 30], 10), [8, 6, 3, 6, 6, 6]);
    }
}
