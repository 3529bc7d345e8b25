//! What `audit` and `remediate` show beyond the summary: the findings table (on stderr after
//! the summary, or on stdout with `--format table`), sized to the terminal it goes to and
//! coloured only on a colour terminal (`NO_COLOR` honoured), and report.json copied to stdout
//! with `--stdout json`. Glue: the table itself is `report::table`, the rows `report::top`.

use std::io::Write;
use std::path::{Path, PathBuf};

use anstream::ColorChoice;

use crate::cli::{ReportArgs, StdoutFormat};
use crate::exit::{Exit, Failure};
use crate::report::table::{self, TableStyle};
use crate::report::{Format, Keep, TopFindings};

/// Rows of the table on stderr without `--show`.
pub const DEFAULT_SHOW: usize = 20;
/// Line width when the output is not a terminal.
const DEFAULT_WIDTH: usize = 100;
/// Where "and N more" sends the reader, most readable first.
const SEE: [&str; 4] = ["report.html", "report.md", "report.json", "report.csv"];

/// Refuses two reports on stdout at once (the JSON would no longer parse).
pub fn check(args: &ReportArgs) -> Result<(), Failure> {
    if args.stdout.is_some() && table_on_stdout(args) {
        return Err(Failure::new(
            Exit::Usage,
            anyhow::anyhow!(
                "--stdout json and --format table both print on stdout; choose one (the table \
                 is also on stderr without --format table)"
            ),
        ));
    }
    Ok(())
}

/// The formats to write: those asked for, and json when `--stdout json` prints it.
pub fn formats(args: &ReportArgs) -> Vec<Format> {
    let mut formats = args.format.clone();
    if args.stdout == Some(StdoutFormat::Json) && !formats.contains(&Format::Json) {
        formats.push(Format::Json);
    }
    formats
}

/// How many failing results the report sink keeps for the table: `--show` (default 20) for
/// the table on stderr, none under `--quiet`; every one for `--format table` unless `--show`.
pub fn keep(args: &ReportArgs, quiet: bool) -> Keep {
    match (table_on_stdout(args), args.show) {
        (true, None) => Keep::All,
        (true, Some(n)) => Keep::Worst(n),
        (false, _) if quiet => Keep::Nothing,
        (false, n) => Keep::Worst(n.unwrap_or(DEFAULT_SHOW)),
    }
}

fn table_on_stdout(args: &ReportArgs) -> bool {
    args.format.contains(&Format::Table)
}

/// What a run prints once its reports are written.
#[derive(Debug)]
pub struct Shown {
    /// The findings table for stderr, after the summary (empty when it goes to stdout).
    pub stderr: String,
    pub stdout: Stdout,
}

/// What a run prints on stdout.
#[derive(Debug, Default)]
pub enum Stdout {
    #[default]
    Nothing,
    /// Text: the findings table (or, for `idguard schema`, the schema).
    Table(String),
    /// A report file, copied as it was written.
    File(PathBuf),
}

/// The table of the worst results, for stderr or stdout as the arguments say; `files` are
/// the reports written (the "and N more" line points at the most readable one).
pub fn show(top: TopFindings, args: &ReportArgs, files: &[PathBuf]) -> Shown {
    let (rows, hidden) = top.into_rows();
    let see = SEE.iter().find_map(|name| {
        files
            .iter()
            .find(|f| f.file_name().is_some_and(|n| n == *name))
    });
    let see = see.map(|p| p.display().to_string());
    let render = |style| table::render(&rows, hidden, see.as_deref(), style);
    if table_on_stdout(args) {
        let style = TableStyle {
            width: stdout_width(),
            color: false,
        };
        return Shown {
            stderr: String::new(),
            stdout: Stdout::Table(render(style)),
        };
    }
    let stdout = match args.stdout {
        Some(StdoutFormat::Json) => files
            .iter()
            .find(|f| f.file_name().is_some_and(|n| n == "report.json"))
            .map_or(Stdout::Nothing, |p| Stdout::File(p.clone())),
        None => Stdout::Nothing,
    };
    Shown {
        stderr: render(stderr_style()),
        stdout,
    }
}

impl Stdout {
    /// Writes it to `out`. A closed pipe (`... | head`) is not an error; any other write
    /// error is exit 74.
    pub fn write_to(&self, out: &mut dyn Write) -> Result<(), Failure> {
        let result = match self {
            Stdout::Nothing => Ok(()),
            Stdout::Table(text) => out.write_all(text.as_bytes()),
            Stdout::File(path) => copy(path, out),
        };
        match result.and_then(|()| out.flush()) {
            Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(Failure::new(
                Exit::IoErr,
                anyhow::Error::new(e).context("cannot write to stdout"),
            )),
            _ => Ok(()),
        }
    }

    /// Writes it to the process's stdout.
    pub fn print(&self) -> Result<(), Failure> {
        self.write_to(&mut std::io::stdout().lock())
    }
}

fn copy(path: &Path, out: &mut dyn Write) -> std::io::Result<()> {
    let mut file = std::fs::File::open(path)?;
    std::io::copy(&mut file, out).map(drop)
}

/// The table on stderr: as wide as the terminal, coloured when stderr is a colour terminal
/// (or `CLICOLOR_FORCE` is set) and `NO_COLOR` is not.
fn stderr_style() -> TableStyle {
    let stderr = std::io::stderr();
    TableStyle {
        width: width_of(&stderr),
        color: matches!(
            anstream::AutoStream::choice(&stderr),
            ColorChoice::Always | ColorChoice::AlwaysAnsi
        ),
    }
}

fn stdout_width() -> usize {
    width_of(&std::io::stdout())
}

/// The terminal's width, or [`DEFAULT_WIDTH`] when the stream is not a terminal.
#[cfg(unix)]
fn width_of(stream: &impl std::os::fd::AsFd) -> usize {
    terminal_size::terminal_size_of(stream).map_or(DEFAULT_WIDTH, |(w, _)| usize::from(w.0))
}

#[cfg(not(unix))]
fn width_of<S>(_stream: &S) -> usize {
    DEFAULT_WIDTH
}
