//! `idguard snapshot`: connect, read the organization once, write the snapshot file, print a
//! summary. Exit 0 when every identity was listed and every config read; 2 when the listing
//! stopped short or a config could not be read (the file is still written, recording which);
//! 130 after Ctrl-C (the file is written, marked incomplete).

use std::io::Write;
use std::path::Path;

use crate::cli::SnapshotArgs;
use crate::display::safe;
use crate::exit::{Exit, Failure};

use super::audit::io_failure;
use super::connect;

/// Runs `idguard snapshot`.
pub async fn run(args: SnapshotArgs, quiet: bool, stderr: &mut dyn Write) -> Result<Exit, Failure> {
    let opts = connect::options(&args.connection)?;
    let concurrency = opts.concurrency;
    let path = match args.out {
        Some(path) => path,
        None => crate::report::create_run_dir(None, jiff::Timestamp::now())
            .map_err(io_failure)?
            .join("snapshot.json"),
    };
    check_writable(&path)?;
    let client = connect::connect(opts).await?;
    let stop = crate::interrupt::Interrupt::process();
    let snap = crate::snapshot::take(&client, concurrency, stop).await;
    crate::snapshot::write(&path, &snap).map_err(io_failure)?;

    let m = &snap.manifest;
    let configs: usize = snap.entries.iter().map(|e| e.configs.len()).sum();
    let exit = if stop.requested() {
        Exit::Interrupted
    } else if m.complete && m.errors == 0 {
        Exit::Ok
    } else {
        Exit::Incomplete
    };
    if !quiet {
        let mut text = format!(
            "idguard: snapshot of {} identities and {configs} configs of org {} ({})\n",
            snap.entries.len(),
            safe(&m.org_id),
            safe(&m.api_url)
        );
        if m.errors > 0 {
            text.push_str(&format!(
                "  {} config(s) could not be read: recorded as errors (an audit of the snapshot \
                 reports them as `error`)\n",
                m.errors
            ));
        }
        if let Some(reason) = &m.incomplete_reason {
            text.push_str(&format!("  INCOMPLETE: {}\n", safe(reason)));
        }
        let stats = client.stats();
        text.push_str(&format!(
            "  api: {} requests, {} retries, {} rate-limited\n  wrote {}\n  exit {}\n",
            stats.requests,
            stats.retries,
            stats.rate_limited,
            path.display(),
            exit.code()
        ));
        let _ = write!(stderr, "{text}");
    }
    Ok(exit)
}

/// Refuses, before reading the org, a path that is taken or whose folder is missing.
fn check_writable(path: &Path) -> Result<(), Failure> {
    if path.exists() {
        return Err(io_failure(anyhow::anyhow!(
            "{} already exists: a snapshot never replaces a file",
            path.display()
        )));
    }
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() && !dir.is_dir() => Err(io_failure(
            anyhow::anyhow!("the folder of {} does not exist", path.display()),
        )),
        _ => Ok(()),
    }
}
