//! The `idguard` binary: parse arguments, set up logging on stderr, run the command, and map
//! the outcome to an exit code. Everything else lives in the library.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use clap::Parser;
use idguard::cli::{Cli, LogFormat};
use idguard::exit::Exit;

// mimalloc instead of the system allocator: an audit allocates for every request and every
// JSON value, and glibc's malloc took a fifth of idguard's CPU time (BENCHMARKS.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            // Help and version go to stdout with exit 0; usage errors exit 64 (EX_USAGE).
            let _ = err.print();
            return ExitCode::from(if err.use_stderr() {
                Exit::Usage.code()
            } else {
                0
            });
        }
    };
    init_tracing(cli.output.log_format, cli.output.log_level.as_str());
    let mut stderr = std::io::stderr();
    match idguard::commands::run(cli, &mut stderr) {
        Ok(exit) => ExitCode::from(exit.code()),
        Err(failure) => {
            let _ = writeln!(stderr, "idguard: error: {failure}");
            if let Some(hint) = &failure.hint {
                let _ = writeln!(stderr, "idguard: hint: {hint}");
            }
            ExitCode::from(failure.exit.code())
        }
    }
}

fn init_tracing(format: LogFormat, level: &str) {
    // rustls' platform verifier logs an ERROR of its own for every untrusted certificate; the
    // failure is reported once, with a hint, by idguard itself.
    let quiet_deps = ",rustls_platform_verifier=off";
    let filter = tracing_subscriber::EnvFilter::try_new(format!("{level}{quiet_deps}"))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(format!("warn{quiet_deps}")));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}
