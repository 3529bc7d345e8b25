//! `idguard demo`: start the simulated Infisical in-process with a sample organization, audit
//! it with `policies/example.yaml` (or the built-in copy), write the reports and say where.

use std::io::Write;
use std::path::{Path, PathBuf};

use idguard_sim::{self as sim, SimConfig};
use secrecy::SecretString;

use crate::cli::{DemoArgs, ReportArgs};
use crate::exit::{Exit, Failure};
use crate::finding::Severity;
use crate::infisical::{ConnectOptions, Credentials};
use crate::policy;
use crate::report::Format;

use super::{audit, validate};

/// The example policy, built in so the demo works from any folder.
const EXAMPLE_POLICY: &str = include_str!("../../policies/example.yaml");

/// Runs the demo. Exit 0 when the demo ran (the audit's own exit code is printed).
pub async fn run(args: DemoArgs, quiet: bool, stderr: &mut dyn Write) -> Result<Exit, Failure> {
    let default_path = Path::new("policies/example.yaml");
    let (policy, policy_path) = match &args.policy {
        Some(path) => (validate::load_policy(path)?, path.clone()),
        None if default_path.exists() => (
            validate::load_policy(default_path)?,
            default_path.to_owned(),
        ),
        None => {
            let origin = "policies/example.yaml (built in)";
            let policy = policy::parse(EXAMPLE_POLICY, origin).map_err(|diagnostics| {
                Failure::new(
                    Exit::DataErr,
                    policy::PolicyError::Invalid {
                        diagnostics,
                        warnings: Vec::new(),
                    },
                )
            })?;
            (policy, PathBuf::from(origin))
        }
    };
    let server = sim::start(SimConfig {
        identities: args.identities,
        seed: args.seed,
        ..SimConfig::default()
    })
    .await
    .map_err(|e| {
        Failure::new(
            Exit::Unavailable,
            anyhow::Error::new(e).context("cannot start the simulator"),
        )
    })?;
    if !quiet {
        let _ = writeln!(
            stderr,
            "idguard demo: simulated Infisical with {} sample identities at {}",
            args.identities,
            server.url()
        );
    }
    let credentials = Credentials::UniversalAuth {
        client_id: sim::DEMO_CLIENT_ID.to_owned(),
        client_secret: SecretString::from(sim::DEMO_CLIENT_SECRET.to_owned()),
    };
    let opts = ConnectOptions::new(server.url(), credentials);
    let report_args = ReportArgs {
        evidence: crate::cli::EvidenceArgs {
            evidence_window: std::time::Duration::from_secs(30 * 86_400),
            require_usage_evidence: false,
            skip_reading: false,
        },
        incremental: crate::cli::IncrementalArgs::default(),
        baseline: None,
        max_duration: None,
        out: args.out,
        format: vec![
            Format::Json,
            Format::Csv,
            Format::Markdown,
            Format::Html,
            Format::Sarif,
            Format::Junit,
        ],
        fail_on: Severity::Low,
        show: None,
        stdout: None,
    };
    let done = audit::execute(&policy, &policy_path, opts, &report_args, quiet).await;
    server.shutdown().await;
    let done = done?;
    if !quiet {
        let _ = write!(stderr, "{}", done.human);
        let _ = write!(stderr, "{}", next_steps(&done.dir, done.exit));
    }
    done.into_exit().map(|_| Exit::Ok)
}

/// What the demo says last: where to look, what its exit code is and why, what to try next.
fn next_steps(dir: &Path, audit_exit: Exit) -> String {
    let dir = crate::display::safe(&dir.display().to_string()).into_owned();
    format!(
        "\nidguard demo: done; the demo exits 0. An `idguard audit` of this org would exit {code} \
         ({meaning}).\n\
         open:\n  {dir}/report.html   every result, filterable, in a browser\n  \
         {dir}/report.md     the same for a terminal or a review\n\
         next:\n  idguard sim                                    \
         # this sample org as a server, with credentials to export\n  \
         idguard audit --policy policies/example.yaml   # then audit it, as cron would\n  \
         idguard remediate --policy policies/example.yaml   # and see the plan that would fix it\n",
        code = audit_exit.code(),
        meaning = match audit_exit {
            Exit::Ok => "nothing at or above `low` is left",
            Exit::Findings => "findings at or above `low`",
            Exit::Incomplete => "some results are `error`",
            _ => "the run stopped",
        },
    )
}
