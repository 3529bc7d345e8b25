//! Command-line arguments (clap derive). The `///` on each field is its `--help` text.
//! Secrets are never taken from argv: they come from the environment or `--token-file`.

mod help;

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::finding::Severity;
use crate::infisical::Rate;
use crate::report::Format;

/// `--version`: the package version and the commit it was built from (`unknown` outside a
/// git checkout; see build.rs).
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("IDGUARD_COMMIT"),
    ")"
);

/// Audit Infisical machine-identity auth configurations against a YAML policy.
#[derive(Debug, Parser)]
#[command(
    name = "idguard",
    version = VERSION,
    about,
    long_about = None,
    propagate_version = true,
    after_help = help::SEE_LONG_HELP,
    after_long_help = help::ENVIRONMENT_AND_EXIT_CODES
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// Logging and output flags, accepted by every command.
#[derive(Debug, Args)]
#[command(next_help_heading = "Logging")]
pub struct OutputArgs {
    /// No summary or progress on stderr (errors are still printed).
    #[arg(long, short, global = true)]
    pub quiet: bool,
    /// Log format on stderr.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Log level on stderr: error, warn, info, debug, trace or off, or per-module directives
    /// such as `warn,idguard=debug`.
    #[arg(
        long,
        global = true,
        value_name = "LEVEL",
        default_value = "warn",
        env = "IDGUARD_LOG",
        value_parser = parse_log_level
    )]
    pub log_level: LogLevel,
}

/// A `--log-level` that tracing's filter accepts, checked while the arguments are parsed so
/// a typo is a usage error rather than a silent default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLevel(String);

impl LogLevel {
    /// The filter directives, as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// How logs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check a policy file; print every problem with line:column (exit 65 if invalid).
    Validate {
        /// The policy file.
        policy: PathBuf,
    },
    /// Print the JSON Schema of the policy format on stdout (for editor completion and checks).
    Schema,
    /// Audit every identity of the organization; write reports; exit code by outcome.
    #[command(after_help = help::SEE_LONG_HELP, after_long_help = help::ENVIRONMENT_AND_EXIT_CODES)]
    Audit(AuditArgs),
    /// Run a policy's unit tests: cases of identities and configs with the result each rule
    /// should give (exit 1 when any does not hold, 65 on an invalid policy or cases file).
    Test(TestArgs),
    /// Read the organization once into a snapshot file, for offline audits
    /// (`audit --snapshot`); secrets are removed.
    #[command(after_help = help::SEE_LONG_HELP, after_long_help = help::ENVIRONMENT_AND_EXIT_CODES)]
    Snapshot(SnapshotArgs),
    /// Audit, then write a remediation plan (nothing is changed); with --apply, apply it.
    #[command(after_help = help::SEE_LONG_HELP, after_long_help = help::ENVIRONMENT_AND_EXIT_CODES)]
    Remediate(RemediateArgs),
    /// Apply a plan written earlier (configs that changed since are skipped as drifted).
    #[command(after_help = help::SEE_LONG_HELP, after_long_help = help::ENVIRONMENT_AND_EXIT_CODES)]
    Apply(ApplyArgs),
    /// Undo what a journal records (a plan of what would be restored; --apply to write).
    #[command(after_help = help::SEE_LONG_HELP, after_long_help = help::ENVIRONMENT_AND_EXIT_CODES)]
    Rollback(RollbackArgs),
    /// What changed between two runs' report.json files (exit 1 on anything new or regressed).
    Diff(DiffArgs),
    /// Counts over time of every run under a reports folder: writes trend.html and trend.md
    /// (runs that cannot be read are listed as skipped).
    Trend(TrendArgs),
    /// Start the built-in simulated Infisical with sample identities and audit it.
    Demo(DemoArgs),
    /// Run the simulated Infisical server alone (for trying things).
    Sim(SimArgs),
    /// Print a shell completion script on stdout (e.g. `idguard completions bash >
    /// ~/.local/share/bash-completion/completions/idguard`).
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff) on stdout (e.g. `idguard man > idguard.1; man ./idguard.1`),
    /// or the page of one command with its flags (`idguard man audit`).
    Man {
        /// The command whose page to print (default: idguard's own).
        command: Option<String>,
    },
}

/// Flags of `audit`.
#[derive(Debug, Args)]
pub struct AuditArgs {
    /// The policy file.
    #[arg(long, short)]
    pub policy: PathBuf,
    /// Audit this snapshot file (from `idguard snapshot`) instead of the server: offline, no
    /// credentials; judged at the moment the snapshot was taken. Connection flags are ignored.
    #[arg(long, value_name = "FILE")]
    pub snapshot: Option<PathBuf>,
    /// Do not read the audit log for usage evidence: trusted-IP narrowings are reported
    /// without holds (`run.usage_evidence: unavailable`). Saves two audit-log reads per
    /// identity whose fix would narrow trusted IPs; `remediate` and `apply` always read it.
    #[arg(
        long,
        conflicts_with = "require_usage_evidence",
        help_heading = "Usage evidence"
    )]
    pub no_usage_evidence: bool,
    #[command(flatten)]
    pub report: ReportArgs,
    #[command(flatten)]
    pub notify: NotifyArgs,
    #[command(flatten)]
    pub connection: ConnectionArgs,
}

/// Alerts on change (`audit --notify`).
#[derive(Debug, Args)]
#[command(next_help_heading = "Alerts")]
pub struct NotifyArgs {
    /// Post one message (`{"text": ...}`, for Slack or Teams incoming webhooks) when results
    /// are new or regressed since --baseline, or since reports/latest/report.json without it.
    /// https only, except to 127.0.0.1, localhost or [::1]. The environment variable keeps the
    /// URL out of process lists.
    #[arg(
        long,
        value_name = "URL",
        env = "IDGUARD_NOTIFY_URL",
        hide_env_values = true
    )]
    pub notify: Option<String>,
    /// With --notify: post a summary even when nothing is new.
    #[arg(long, requires = "notify")]
    pub notify_always: bool,
}

/// Flags of `snapshot`.
#[derive(Debug, Args)]
pub struct SnapshotArgs {
    /// The snapshot file to write (default: reports/<UTC timestamp>/snapshot.json). An
    /// existing file is never replaced.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub connection: ConnectionArgs,
}

/// Flags of `remediate`.
#[derive(Debug, Args)]
pub struct RemediateArgs {
    /// The policy file.
    #[arg(long, short)]
    pub policy: PathBuf,
    /// Apply the plan: journalled, rate-limited, verified by reading back.
    #[arg(long)]
    pub apply: bool,
    #[command(flatten)]
    pub writes: WriteArgs,
    #[command(flatten)]
    pub batch: BatchArgs,
    #[command(flatten)]
    pub report: ReportArgs,
    #[command(flatten)]
    pub connection: ConnectionArgs,
}

/// Flags of `apply`.
#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// The plan file (plan.json from `idguard remediate`).
    pub plan: PathBuf,
    /// The policy the plan was made with (default: the path the plan records). Its SHA-256
    /// must be the plan's; every change is computed again from it before anything is written.
    #[arg(long, short)]
    pub policy: Option<PathBuf>,
    /// Output folder for the journal (default: reports/<UTC timestamp>/).
    #[arg(long)]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub writes: WriteArgs,
    #[command(flatten)]
    pub batch: BatchArgs,
    #[command(flatten)]
    pub evidence: EvidenceArgs,
    #[command(flatten)]
    pub connection: ConnectionArgs,
}

/// Flags of `rollback`.
#[derive(Debug, Args)]
pub struct RollbackArgs {
    /// The journal (journal.jsonl of an apply).
    pub journal: PathBuf,
    /// Write the restores (without it, only print what would be restored).
    #[arg(long)]
    pub apply: bool,
    /// No confirmation prompt (required with --apply when stdin is not a terminal).
    #[arg(long)]
    pub yes: bool,
    /// Output folder for the rollback's own journal (default: reports/<UTC timestamp>/).
    #[arg(long)]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub connection: ConnectionArgs,
}

/// Safety flags of commands that write.
#[derive(Debug, Args)]
#[command(next_help_heading = "Writes")]
pub struct WriteArgs {
    /// No confirmation prompt (required with --apply when stdin is not a terminal, as under cron).
    #[arg(long)]
    pub yes: bool,
    /// Blast-radius guard: refuse the whole apply (exit 4) when more configs would change.
    #[arg(long, default_value_t = 25)]
    pub max_changes: usize,
    /// Also change the identity idguard is logged in as (by default its changes are left as
    /// manual items: narrowing its trusted IPs could lock idguard out). Applied last, after
    /// every other change and its verification.
    #[arg(long)]
    pub include_self: bool,
}

/// Acting on part of a plan. Each flag may be repeated (any of its values selects); several
/// flags must all select. A change is written only when every rule it fixes is selected.
#[derive(Debug, Args)]
#[command(next_help_heading = "Selecting changes")]
pub struct BatchArgs {
    /// Only changes whose every fixed rule is this one (repeatable).
    #[arg(long = "rule", value_name = "ID")]
    pub rules: Vec<String>,
    /// Only changes to identities with this name or id, or whose name matches this `*` glob
    /// (repeatable).
    #[arg(long = "identity", value_name = "NAME|ID|GLOB")]
    pub identities: Vec<String>,
    /// Only changes whose every fixed rule has this severity (repeatable).
    #[arg(long = "severity", value_name = "LEVEL", value_parser = parse_severity)]
    pub severities: Vec<Severity>,
}

/// Where and how reports are written.
#[derive(Debug, Args)]
#[command(next_help_heading = "Output")]
pub struct ReportArgs {
    /// Output folder (default: reports/<UTC timestamp>/). A folder holding an earlier run's
    /// reports is refused.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Report formats to write, comma-separated. `table` writes no file: it prints the
    /// findings table on stdout (every failing result, unless --show), in place of the one on
    /// stderr.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "json,csv,html"
    )]
    pub format: Vec<Format>,
    /// Rows of the findings table (failing and `error` results, worst first) [default: 20 on
    /// stderr; every one with --format table]. 0 shows none.
    #[arg(long, value_name = "N")]
    pub show: Option<usize>,
    /// Also print a report on stdout, for pipes (`--stdout json | jq`): report.json as it is
    /// written to the run folder (json is then written even if --format leaves it out). The
    /// summary and the findings table stay on stderr.
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub stdout: Option<StdoutFormat>,
    /// Compare with a previous run's report.json: results gain a `baseline` field and
    /// diff.json / diff.md are written beside the reports.
    #[arg(long, value_name = "PREV/report.json")]
    pub baseline: Option<PathBuf>,
    /// Unexempted failures of this severity or higher set exit code 1.
    #[arg(long, value_parser = parse_severity, default_value = "low")]
    pub fail_on: Severity,
    /// Bound on reading the org (listing and configs), e.g. `2h` or `90m`: when it is
    /// reached the run stops, writes its reports marked incomplete and exits 2. Default: none.
    #[arg(long, value_name = "DURATION", value_parser = parse_positive_duration, help_heading = "Connection")]
    pub max_duration: Option<Duration>,
    #[command(flatten)]
    pub evidence: EvidenceArgs,
    #[command(flatten)]
    pub incremental: IncrementalArgs,
}

/// Reading only what changed since the last run (the audit log's change feed).
#[derive(Debug, Args)]
#[command(next_help_heading = "Incremental")]
pub struct IncrementalArgs {
    /// Read again only the configs the audit log says changed since the newest complete
    /// reports/*/snapshot.json of this organization, and carry the rest over; write this
    /// run's snapshot.json for the next one. Reads everything (saying why) when there is no
    /// usable base or the change feed cannot be trusted.
    #[arg(long)]
    pub incremental: bool,
    /// The base: a run folder (or its snapshot.json) instead of the newest under reports/.
    #[arg(long, value_name = "RUN_DIR", requires = "incremental")]
    pub base: Option<PathBuf>,
    /// Read everything when the base's oldest configs were read this long ago or more, e.g.
    /// `7d`; `0` reads everything (a full sweep catches changes the audit log misses).
    #[arg(long, value_name = "DURATION", default_value = "7d", value_parser = parse_duration, requires = "incremental")]
    pub max_base_age: Duration,
    /// Read everything when more change events than this arrived since the base: a number, or
    /// a share of the base's configs such as `20%`.
    #[arg(long, value_name = "N|P%", default_value = "20%", value_parser = crate::incremental::ChangeCap::parse, requires = "incremental")]
    pub max_changes_feed: crate::incremental::ChangeCap,
    /// How far before the base's start the change feed is read (Infisical writes its events
    /// asynchronously), e.g. `10m`.
    #[arg(long, value_name = "DURATION", default_value = "10m", value_parser = parse_duration, requires = "incremental")]
    pub feed_margin: Duration,
}

impl Default for IncrementalArgs {
    /// Not incremental, with the flags' defaults.
    fn default() -> IncrementalArgs {
        IncrementalArgs {
            incremental: false,
            base: None,
            max_base_age: Duration::from_secs(7 * 86_400),
            max_changes_feed: crate::incremental::ChangeCap::Percent(20.0),
            feed_margin: Duration::from_secs(600),
        }
    }
}

/// A report `--stdout` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StdoutFormat {
    /// report.json.
    Json,
}

/// Usage evidence for trusted-IP narrowings (read from the organization's audit log).
#[derive(Debug, Args)]
#[command(next_help_heading = "Usage evidence")]
pub struct EvidenceArgs {
    /// How far back to look for the addresses an identity is used from before its trusted
    /// IPs are narrowed, e.g. `30d` (at most 90d: Infisical refuses wider ranges).
    #[arg(long, value_name = "DURATION", default_value = "30d", value_parser = parse_evidence_window)]
    pub evidence_window: Duration,
    /// When the audit log cannot be used as evidence (no audit-log plan, no permission, an
    /// older server), leave every trusted-IP narrowing to a person instead of planning it.
    #[arg(long)]
    pub require_usage_evidence: bool,
    /// Set by `audit --no-usage-evidence` (writes always read usage evidence).
    #[arg(skip)]
    pub skip_reading: bool,
}

/// How to reach Infisical. Credentials come from the environment: `INFISICAL_TOKEN`, or
/// `INFISICAL_UNIVERSAL_AUTH_CLIENT_ID` + `INFISICAL_UNIVERSAL_AUTH_CLIENT_SECRET`.
#[derive(Debug, Args)]
#[command(next_help_heading = "Connection")]
pub struct ConnectionArgs {
    /// Infisical base URL [env: INFISICAL_DOMAIN, INFISICAL_API_URL] [default: https://app.infisical.com]
    #[arg(long)]
    pub api_url: Option<String>,
    /// Organization id (default: the one of the identity idguard logs in as).
    #[arg(long, env = "INFISICAL_ORG_ID")]
    pub org_id: Option<String>,
    /// Read the access token from this file instead of INFISICAL_TOKEN.
    #[arg(long)]
    pub token_file: Option<PathBuf>,
    /// Maximum requests in flight.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=1024), help_heading = "Rate limits")]
    pub concurrency: u32,
    /// Client-side read rate limit: requests per second ("50", "1.6", "1.6/s") or per minute
    /// ("200/min", "0.5/min"); between one a day and a million a second.
    /// Default: Infisical Cloud's Free-plan limits on *.infisical.com, none elsewhere.
    #[arg(long, help_heading = "Rate limits")]
    pub read_rate: Option<Rate>,
    /// Client-side write rate limit, as --read-rate.
    #[arg(long, help_heading = "Rate limits")]
    pub write_rate: Option<Rate>,
    /// Retries per request on 5xx, timeouts and connection errors.
    #[arg(long, default_value_t = 4)]
    pub max_retries: u32,
    /// Time one attempt of a request may take, e.g. `30s` or `2m` (bare numbers are seconds).
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_positive_duration)]
    pub timeout: Duration,
    /// Time one request may take in all, retries and 429 waits included, e.g. `15m` (bare
    /// numbers are seconds); a request still failing then counts as an error.
    #[arg(long, value_name = "DURATION", default_value = "15m", value_parser = parse_positive_duration)]
    pub deadline: Duration,
    /// Also trust the CA certificates in this PEM file (a self-hosted instance with a private
    /// CA). TLS verification is always on.
    #[arg(long, value_name = "FILE")]
    pub ca_cert: Option<PathBuf>,
    /// Accept plain http:// for a host that is not loopback (credentials then travel in clear).
    #[arg(long)]
    pub allow_insecure_http: bool,
}

/// Flags of `diff`.
#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The earlier run's report.json.
    pub old: PathBuf,
    /// The later run's report.json.
    pub new: PathBuf,
    /// Output format on stdout.
    #[arg(long, value_enum, default_value = "text")]
    pub format: crate::diff::DiffFormat,
    /// List the findings that still fail, unchanged (text and md show only their count
    /// otherwise; json always lists them).
    #[arg(long)]
    pub all: bool,
}

/// Flags of `trend`.
#[derive(Debug, Args)]
pub struct TrendArgs {
    /// The reports folder: one subfolder per run, each with its report.json.
    #[arg(default_value = "reports")]
    pub dir: PathBuf,
    /// Folder to write trend.html and trend.md into (default: DIR). Files there are replaced.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

/// Flags of `test`.
#[derive(Debug, Args)]
pub struct TestArgs {
    /// The policy file.
    pub policy: PathBuf,
    /// The cases files (YAML; see docs/policy.md, "Testing a policy").
    #[arg(required = true)]
    pub cases: Vec<PathBuf>,
    /// Output format on stdout.
    #[arg(long, value_enum, default_value = "text")]
    pub format: TestFormat,
}

/// `idguard test --format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TestFormat {
    /// One line per case (`ok` or `FAIL`), then what did not hold.
    Text,
    /// JUnit XML, for CI.
    Junit,
}

/// Flags of `demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Output folder (default: reports/<UTC timestamp>/).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Number of sample identities.
    #[arg(long, default_value_t = 200)]
    pub identities: usize,
    /// Seed of the sample organization.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Policy to audit with (default: policies/example.yaml, or the built-in copy of it).
    #[arg(long)]
    pub policy: Option<PathBuf>,
}

/// Flags of `sim`.
#[derive(Debug, Args)]
pub struct SimArgs {
    /// Port on 127.0.0.1 (0 = any free port).
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// Number of generated identities.
    #[arg(long, default_value_t = 200)]
    pub identities: usize,
    /// Generator seed.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Latency added to every response, in milliseconds.
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,
    /// Reads allowed per window (enables rate limiting).
    #[arg(long)]
    pub rate_limit_reads: Option<u32>,
    /// Writes allowed per window (with --rate-limit-reads; default 90).
    #[arg(long, default_value_t = 90)]
    pub rate_limit_writes: u32,
    /// Rate-limit window in seconds.
    #[arg(long, default_value_t = 60)]
    pub rate_limit_window: u64,
    /// Fraction (0..1) of config requests that get an injected fault.
    #[arg(long, default_value_t = 0.0)]
    pub fault_rate: f64,
    /// Seed of the injected faults (the same seed rolls the same faults).
    #[arg(long, default_value_t = 0)]
    pub fault_seed: u64,
    /// Lifetime of the access tokens the simulator issues, in seconds.
    #[arg(long, default_value_t = 2_592_000)]
    pub token_ttl: u64,
    /// Behave like an October-2024 server (no v2 search, `authMethod`, 401 validation errors).
    #[arg(long)]
    pub legacy: bool,
    /// The organization's audit log: `enabled`, `disabled` (no audit-log plan: an empty list,
    /// like no activity) or `forbidden` (idguard's identity may not read it: 403).
    #[arg(long, value_enum, default_value_t = SimAuditLogs::Enabled)]
    pub audit_logs: SimAuditLogs,
}

/// `idguard sim --audit-logs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SimAuditLogs {
    Enabled,
    Disabled,
    Forbidden,
}

/// A duration such as `90s`, `15m`, `2h` or `1h30m`, or bare seconds; more than zero.
/// A duration such as `7d`, or `0`.
fn parse_duration(s: &str) -> Result<Duration, String> {
    if s.trim() == "0" {
        return Ok(Duration::ZERO);
    }
    crate::policy::parse_duration_text(s).map(Duration::from_secs)
}

fn parse_positive_duration(s: &str) -> Result<Duration, String> {
    match crate::policy::parse_duration_text(s)? {
        0 => Err("must be more than 0".into()),
        secs => Ok(Duration::from_secs(secs)),
    }
}

/// What tracing's `EnvFilter` accepts, except that a bare word must be a level: the filter
/// would take `nonsense` for a module name and silently log nothing.
fn parse_log_level(s: &str) -> Result<LogLevel, String> {
    const LEVELS: &str = "error, warn, info, debug, trace, off";
    for directive in s.split(',').map(str::trim).filter(|d| !d.is_empty()) {
        let is_target = directive.contains(['=', '[', ':']);
        if !is_target
            && directive
                .parse::<tracing_subscriber::filter::LevelFilter>()
                .is_err()
        {
            return Err(format!(
                "`{directive}` is not a level ({LEVELS}) nor `module=level`"
            ));
        }
    }
    tracing_subscriber::EnvFilter::try_new(s)
        .map(|_| LogLevel(s.to_owned()))
        .map_err(|e| format!("{e} (levels: {LEVELS}; or `module=level`)"))
}

fn parse_evidence_window(s: &str) -> Result<Duration, String> {
    match crate::policy::parse_duration_text(s)? {
        0 => Err("must be more than 0".into()),
        secs if secs > 90 * 86_400 => {
            Err("at most 90d: Infisical refuses audit-log ranges over three months".into())
        }
        secs => Ok(Duration::from_secs(secs)),
    }
}

fn parse_severity(s: &str) -> Result<Severity, String> {
    Severity::parse(s)
        .ok_or_else(|| format!("`{s}` is not one of critical, high, medium, low, info"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `IncrementalArgs::default()` (used where no command line is parsed) is what the flags
    /// default to.
    #[test]
    fn incremental_defaults_match_the_flags() {
        let cli = Cli::try_parse_from(["idguard", "audit", "-p", "policy.yaml"]).expect("parse");
        let Command::Audit(args) = cli.command else {
            panic!("not audit");
        };
        let parsed = args.report.incremental;
        let default = IncrementalArgs::default();
        assert_eq!(parsed.incremental, default.incremental);
        assert_eq!(parsed.base, default.base);
        assert_eq!(parsed.max_base_age, default.max_base_age);
        assert_eq!(parsed.max_changes_feed, default.max_changes_feed);
        assert_eq!(parsed.feed_margin, default.feed_margin);
    }

    /// The settings of an incremental run are refused without `--incremental`, rather than
    /// silently ignored.
    #[test]
    fn incremental_settings_need_incremental() {
        for flag in [
            ["--max-base-age", "0"],
            ["--max-changes-feed", "5%"],
            ["--feed-margin", "1h"],
            ["--base", "reports/x"],
        ] {
            let args = ["idguard", "audit", "-p", "p.yaml", flag[0], flag[1]];
            assert!(Cli::try_parse_from(args).is_err(), "{flag:?}");
            let with = [
                "idguard",
                "audit",
                "-p",
                "p.yaml",
                "--incremental",
                flag[0],
                flag[1],
            ];
            assert!(Cli::try_parse_from(with).is_ok(), "{flag:?}");
        }
    }
}
