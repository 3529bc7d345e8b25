//! `idguard man [COMMAND]`: print a man page (roff) on stdout, generated from the command
//! line's own definition (clap_mangen): `idguard man > idguard.1`, and one page per command
//! with its flags (`idguard man audit > idguard-audit.1`).

use clap::CommandFactory;

use super::findings::Stdout;
use crate::cli::Cli;
use crate::exit::{Exit, Failure};

/// Prints idguard's page, or `command`'s; a closed pipe is not an error.
pub fn run(command: Option<&str>) -> Result<Exit, Failure> {
    let mut top = Cli::command();
    top.build();
    let (title, page_of) = match command {
        None => ("idguard".to_owned(), top),
        Some(name) => {
            let Some(sub) = top.find_subcommand(name) else {
                let known: Vec<&str> = top.get_subcommands().map(|c| c.get_name()).collect();
                return Err(Failure::new(
                    Exit::Usage,
                    anyhow::anyhow!(
                        "no command `{}` (one of {})",
                        crate::display::safe(name),
                        known.join(", ")
                    ),
                ));
            };
            (format!("idguard-{}", sub.get_name()), sub.clone())
        }
    };
    let mut page = Vec::new();
    clap_mangen::Man::new(page_of)
        .title(title)
        .source(format!("idguard {}", crate::cli::VERSION))
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
