//! `idguard man`: print the man page (roff) on stdout, generated from the command line's own
//! definition (clap_mangen): `idguard man > idguard.1`.

use clap::CommandFactory;

use super::findings::Stdout;
use crate::cli::Cli;
use crate::exit::{Exit, Failure};

/// Prints the page; a closed pipe is not an error.
pub fn run() -> Result<Exit, Failure> {
    let mut page = Vec::new();
    clap_mangen::Man::new(Cli::command())
        .render(&mut page)
        .map_err(|e| {
            Failure::new(
                Exit::IoErr,
                anyhow::Error::new(e).context("cannot render the man page"),
            )
        })?;
    Stdout::Table(String::from_utf8_lossy(&page).into_owned()).print()?;
    Ok(Exit::Ok)
}
