//! One glue function per subcommand: turn parsed arguments into calls on the library and the
//! outcome into an exit code. No domain logic lives here.

mod apply;
mod audit;
mod completions;
mod connect;
mod demo;
mod diff;
mod findings;
mod man;
mod remediate;
mod rollback;
mod schema;
mod sim;
mod snapshot;
mod stop;
mod test;
mod trend;
mod validate;
mod writes;

use std::io::Write;

use crate::cli::{Cli, Command};
use crate::exit::{Exit, Failure};

/// Runs the parsed command line; `stderr` receives the human-readable summary.
pub fn run(cli: Cli, stderr: &mut dyn Write) -> Result<Exit, Failure> {
    let quiet = cli.output.quiet;
    match cli.command {
        Command::Validate { policy } => validate::run(&policy, quiet, stderr),
        Command::Schema => schema::run(),
        Command::Audit(args) => block_on_interruptible(audit::run(args, quiet, stderr)),
        Command::Snapshot(args) => block_on_interruptible(snapshot::run(args, quiet, stderr)),
        Command::Remediate(args) => block_on_interruptible(remediate::run(args, quiet, stderr)),
        Command::Apply(args) => block_on_interruptible(apply::run(args, quiet, stderr)),
        Command::Rollback(args) => block_on_interruptible(rollback::run(args, quiet, stderr)),
        Command::Diff(args) => diff::run(&args, stderr),
        Command::Test(args) => test::run(&args),
        Command::Trend(args) => trend::run(&args, quiet, stderr),
        Command::Demo(args) => block_on_interruptible(demo::run(args, quiet, stderr)),
        Command::Sim(args) => block_on_server(sim::run(args, stderr)),
        Command::Completions { shell } => completions::run(shell),
        Command::Man { command } => man::run(command.as_deref()),
    }
}

/// Runs a client command on a single-threaded runtime: the work waits on the network, and one
/// thread keeps every wake-up local (measured in BENCHMARKS.md: about a quarter less CPU per
/// audited config than a multi-threaded runtime on two cores).
fn block_on<F: std::future::Future<Output = Result<Exit, Failure>>>(
    fut: F,
) -> Result<Exit, Failure> {
    runtime(tokio::runtime::Builder::new_current_thread())?.block_on(fut)
}

/// [`block_on`] with Ctrl-C stopping the command cleanly (it watches the process-wide switch)
/// and a second Ctrl-C dropping it where it is: every temp file is removed as it is dropped,
/// and the exit code is 130.
fn block_on_interruptible<F: std::future::Future<Output = Result<Exit, Failure>>>(
    fut: F,
) -> Result<Exit, Failure> {
    if let Err(e) = crate::interrupt::listen_for_ctrl_c() {
        tracing::warn!("Ctrl-C will stop idguard without cleaning up: {e}");
    }
    block_on(async {
        stop::unless_forced(fut)
            .await
            .unwrap_or_else(|| Err(stop::forced()))
    })
}

/// Runs the simulator on a multi-threaded runtime (it serves many connections at once).
fn block_on_server<F: std::future::Future<Output = Result<Exit, Failure>>>(
    fut: F,
) -> Result<Exit, Failure> {
    runtime(tokio::runtime::Builder::new_multi_thread())?.block_on(fut)
}

fn runtime(mut builder: tokio::runtime::Builder) -> Result<tokio::runtime::Runtime, Failure> {
    builder.enable_all().build().map_err(|e| {
        Failure::new(
            Exit::Unavailable,
            anyhow::Error::new(e).context("cannot start the async runtime"),
        )
    })
}
