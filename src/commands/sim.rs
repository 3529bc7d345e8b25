//! `idguard sim`: serve the simulated Infisical alone until Ctrl-C, for trying idguard by hand.

use std::io::Write;
use std::time::Duration;

use idguard_sim::{self as sim, AuditLogs, FaultKind, Faults, RateLimit, SimConfig};

use crate::cli::{SimArgs, SimAuditLogs};
use crate::exit::{Exit, Failure};

/// Runs the simulator in the foreground.
pub async fn run(args: SimArgs, stderr: &mut dyn Write) -> Result<Exit, Failure> {
    if !(0.0..=1.0).contains(&args.fault_rate) {
        return Err(Failure::new(
            Exit::Usage,
            anyhow::anyhow!("--fault-rate must be between 0 and 1"),
        ));
    }
    let config = SimConfig {
        seed: args.seed,
        identities: args.identities,
        port: args.port,
        latency: Duration::from_millis(args.latency_ms),
        rate_limit: args.rate_limit_reads.map(|reads| RateLimit {
            reads,
            writes: args.rate_limit_writes,
            window: Duration::from_secs(args.rate_limit_window.max(1)),
            retry_after_header: true,
        }),
        faults: Faults {
            rate: args.fault_rate,
            kinds: vec![
                FaultKind::ServerError,
                FaultKind::HtmlPage,
                FaultKind::Truncated,
                FaultKind::DropConnection,
            ],
            seed: args.fault_seed,
            ..Faults::default()
        },
        token_ttl: Duration::from_secs(args.token_ttl.max(1)),
        legacy: args.legacy,
        audit_logs: match args.audit_logs {
            SimAuditLogs::Enabled => AuditLogs::Enabled,
            SimAuditLogs::Disabled => AuditLogs::Disabled,
            SimAuditLogs::Forbidden => AuditLogs::Forbidden,
        },
        ..SimConfig::default()
    };
    let server = sim::start(config).await.map_err(|e| {
        Failure::new(
            Exit::Unavailable,
            anyhow::Error::new(e).context("cannot start the simulator"),
        )
    })?;
    let _ = writeln!(
        stderr,
        "simulated Infisical at {url} (org {org}, {n} identities); Ctrl-C to stop\n\
         try:\n  export INFISICAL_DOMAIN={url}\n  export INFISICAL_UNIVERSAL_AUTH_CLIENT_ID={id}\n  \
         export INFISICAL_UNIVERSAL_AUTH_CLIENT_SECRET={secret}   # the simulator's public demo credential\n  \
         idguard audit --policy policies/example.yaml",
        url = server.url(),
        org = server.handle().org_id(),
        n = args.identities,
        id = sim::DEMO_CLIENT_ID,
        secret = sim::DEMO_CLIENT_SECRET,
    );
    let _ = tokio::signal::ctrl_c().await;
    server.shutdown().await;
    Ok(Exit::Ok)
}
