//! `idguard trend [DIR]`: read every run under the reports folder and write trend.html and
//! trend.md (into `--out` when given). Skipped runs are warnings, never a failure; exit 74
//! when the folder cannot be read or the files cannot be written.

use std::io::Write;

use crate::cli::TrendArgs;
use crate::display::safe;
use crate::exit::{Exit, Failure};
use crate::trend;

/// Runs `idguard trend`.
pub fn run(args: &TrendArgs, quiet: bool, stderr: &mut dyn Write) -> Result<Exit, Failure> {
    let trend = trend::collect(&args.dir).map_err(|e| Failure::new(Exit::IoErr, e))?;
    let out = args.out.as_deref().unwrap_or(&args.dir);
    crate::report::create_private_dir_all(out).map_err(|e| {
        Failure::new(
            Exit::IoErr,
            anyhow::Error::new(e).context(format!("cannot create {}", out.display())),
        )
    })?;
    let html = out.join("trend.html");
    let md = out.join("trend.md");
    for (path, text) in [
        (&html, trend::html::render(&trend)),
        (&md, trend::markdown::render(&trend)),
    ] {
        crate::report::replace_atomic(path, text.as_bytes())
            .map_err(|e| Failure::new(Exit::IoErr, e))?;
    }
    if !quiet {
        for s in &trend.skipped {
            let _ = writeln!(
                stderr,
                "warning: skipped run {}: {}",
                safe(&s.folder),
                safe(&s.reason)
            );
        }
        let _ = writeln!(
            stderr,
            "{} run(s), {} skipped: wrote {} and {}",
            trend.runs.len(),
            trend.skipped.len(),
            safe(&html.display().to_string()),
            safe(&md.display().to_string())
        );
    }
    Ok(Exit::Ok)
}
