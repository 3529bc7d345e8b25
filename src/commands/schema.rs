//! `idguard schema`: print the JSON Schema of the policy format on stdout, for editors that
//! complete and check YAML as it is typed.

use super::findings::Stdout;
use crate::exit::{Exit, Failure};

/// Prints the schema; a closed pipe is not an error.
pub fn run() -> Result<Exit, Failure> {
    Stdout::Table(crate::policy::schema_json()).print()?;
    Ok(Exit::Ok)
}
