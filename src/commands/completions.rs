//! `idguard completions SHELL`: print a completion script for the shell on stdout, generated
//! from the command line's own definition (clap_complete), so it never falls behind a flag.

use clap::CommandFactory;

use super::findings::Stdout;
use crate::cli::Cli;
use crate::exit::{Exit, Failure};

/// Prints the script; a closed pipe is not an error.
pub fn run(shell: clap_complete::Shell) -> Result<Exit, Failure> {
    let mut command = Cli::command();
    let name = command.get_name().to_owned();
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command, name, &mut script);
    Stdout::Table(String::from_utf8_lossy(&script).into_owned()).print()?;
    Ok(Exit::Ok)
}
