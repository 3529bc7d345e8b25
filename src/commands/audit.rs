//! `idguard audit`: validate the policy, connect, audit every identity into the reports,
//! print the summary, and turn the outcome into the exit code (the table in `exit.rs`).
//!
//! The run is split in two phases so that `remediate` can act between them: [`audit_phase`]
//! lists, fetches and evaluates (streaming findings into the report files and, optionally,
//! into a remediation plan); [`finish_phase`] writes the manifest, summary and annotations.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::audit::{self, AuditOptions, AuditOutcome, ListingError, Source};
use crate::cli::{AuditArgs, IncrementalArgs, ReportArgs};
use crate::exit::{Exit, Failure, RunOutcome};
use crate::incremental::base::SNAPSHOT_FILE;
use crate::incremental::{self, Plan, ReadMode};
use crate::infisical::{Client, ConnectOptions};
use crate::interrupt::Interrupt;
use crate::notify::{Alert, Notifier};
use crate::policy::{Exemption, Policy};
use crate::progress::Progress;
use crate::remediate::plan::PlanBuilder;
use crate::report::{
    self, AfterApply, Annotations, ApiCounts, Notification, NotificationStatus, PolicyRef,
    ReportSink, RuleInfo, RunInfo, RunSource, SnapshotRef,
};
use crate::snapshot::Recorder;
use crate::snapshot::recorder::Reading as SnapshotReading;

use super::{connect, findings, validate};

/// Runs `idguard audit`.
pub async fn run(
    mut args: AuditArgs,
    quiet: bool,
    stderr: &mut dyn Write,
) -> Result<Exit, Failure> {
    let notifier = notifier(&mut args)?;
    args.report.evidence.skip_reading = args.no_usage_evidence;
    let notify = notifier.as_ref();
    let policy = validate::load_policy_for_run(&args.policy, quiet, stderr)?;
    if args.snapshot.is_some() && args.report.incremental.incremental {
        return Err(Failure::new(
            Exit::Usage,
            anyhow::anyhow!(
                "--incremental reads the server's change feed; an audit of a --snapshot reads no server"
            ),
        ));
    }
    let done = match &args.snapshot {
        Some(path) => offline(&policy, &args.policy, path, &args.report, notify, quiet).await?,
        None => {
            let opts = connect::options(&args.connection)?;
            let (_, audited) = audit_phase(&policy, opts, &args.report, false, quiet).await?;
            finish_audit(audited, &policy, &args.policy, &args.report, notify).await?
        }
    };
    if let Some(Notification {
        status: NotificationStatus::Failed,
        reason,
    }) = &done.notification
    {
        let _ = writeln!(
            stderr,
            "idguard: warning: the --notify alert was not sent: {}",
            crate::display::safe(reason.as_deref().unwrap_or("unknown reason"))
        );
    }
    if !quiet {
        let _ = write!(stderr, "{}", done.human);
    }
    done.stdout.print()?;
    done.into_exit()
}

/// The `--notify` webhook, checked before anything else (a refused URL is exit 64, before
/// any request). With it and no `--baseline`, the previous run's `reports/latest/report.json`
/// (when there is one) becomes the baseline: read now, before this run moves `latest`.
fn notifier(args: &mut AuditArgs) -> Result<Option<Notifier>, Failure> {
    let Some(url) = &args.notify.notify else {
        return Ok(None);
    };
    let notifier = Notifier::new(url, args.notify.notify_always).map_err(|e| {
        let exit = match e {
            crate::notify::NotifyError::Client(_) => Exit::Unavailable,
            _ => Exit::Usage,
        };
        Failure::new(exit, e)
    })?;
    if args.report.baseline.is_none() {
        let latest = report::latest_report();
        if latest.is_file() {
            args.report.baseline = Some(latest);
        }
    }
    Ok(Some(notifier))
}

/// What an audit run produced.
pub struct AuditDone {
    pub exit: Exit,
    pub dir: PathBuf,
    /// The summary for a person (with the findings table).
    pub human: String,
    /// What goes to stdout (`--format table`, `--stdout json`).
    pub stdout: findings::Stdout,
    /// The listing failed partway: the reports are written (incomplete), the run fails.
    pub failure: Option<Failure>,
    /// What became of the `--notify` alert (`None` without it).
    pub notification: Option<Notification>,
}

impl AuditDone {
    /// The exit code, or the failure that stopped the listing.
    pub fn into_exit(self) -> Result<Exit, Failure> {
        match self.failure {
            Some(f) => Err(f),
            None => Ok(self.exit),
        }
    }
}

/// Connects and audits with an already validated policy; shared by `audit` and `demo`.
pub async fn execute(
    policy: &Policy,
    policy_path: &Path,
    opts: ConnectOptions,
    report_args: &ReportArgs,
    quiet: bool,
) -> Result<AuditDone, Failure> {
    let (_, audited) = audit_phase(policy, opts, report_args, false, quiet).await?;
    finish_audit(audited, policy, policy_path, report_args, None).await
}

/// [`finish_phase`] of an audit that wrote nothing to the server, alerting through `notify`.
async fn finish_audit(
    audited: Audited,
    policy: &Policy,
    policy_path: &Path,
    report_args: &ReportArgs,
    notify: Option<&Notifier>,
) -> Result<AuditDone, Failure> {
    let finish = Finish {
        policy,
        policy_path,
        report_args,
        annotations: &Annotations::new(),
        adjust: &Adjustment::default(),
    };
    finish_notifying(audited, &finish, notify).await
}

/// Audits a snapshot file offline (no client, no request) with an already validated policy,
/// judged at the moment the snapshot was taken.
async fn offline(
    policy: &Policy,
    policy_path: &Path,
    snapshot_path: &Path,
    report_args: &ReportArgs,
    notify: Option<&Notifier>,
    quiet: bool,
) -> Result<AuditDone, Failure> {
    let snap = crate::snapshot::read(snapshot_path).map_err(|e| {
        let exit = if e.is_invalid() {
            Exit::DataErr
        } else {
            Exit::IoErr
        };
        Failure::new(exit, e)
    })?;
    let taken_at = snap.manifest.started_at;
    let origin = RunSource::Snapshot(SnapshotRef {
        path: snapshot_path.display().to_string(),
        taken_at: taken_at.to_string(),
        api_url: snap.manifest.api_url.clone(),
        org_id: snap.manifest.org_id.clone(),
    });
    let reading = Reading {
        source: Source::Snapshot(std::sync::Arc::new(snap)),
        origin,
        started: jiff::Timestamp::now(),
        judged_at: taken_at,
        // Nothing waits on a network: the bound only sizes the pipeline's buffer.
        concurrency: 64,
        read_plan: None,
        problems: Vec::new(),
    };
    let audited = source_phase(policy, reading, report_args, false, quiet).await?;
    finish_audit(audited, policy, policy_path, report_args, notify).await
}

/// An audit whose findings are written but whose reports are not finished yet.
pub struct Audited {
    pub source: Source,
    /// `live`, or the snapshot audited.
    pub origin: RunSource,
    pub dir: PathBuf,
    pub sink: ReportSink,
    pub outcome: AuditOutcome,
    pub planner: Option<PlanBuilder>,
    pub started: jiff::Timestamp,
    /// The UTC date exemptions were judged at (the snapshot's, offline).
    pub today: jiff::civil::Date,
    pub concurrency: usize,
    /// What a live run with `--incremental` decided to read (`None` without it).
    pub read_plan: Option<Plan>,
    /// What was wrong with the run's inputs beyond the policy (e.g. a base skipped).
    pub problems: Vec<String>,
}

/// Connects, then lists, fetches and evaluates every identity, streaming findings into the
/// report files (and into a plan when `plan` is set).
pub async fn audit_phase(
    policy: &Policy,
    opts: ConnectOptions,
    report_args: &ReportArgs,
    plan: bool,
    quiet: bool,
) -> Result<(Client, Audited), Failure> {
    findings::check(report_args)?;
    let started = jiff::Timestamp::now();
    let concurrency = opts.concurrency;
    let client = connect::connect(opts).await?;
    let mut problems = Vec::new();
    let read_plan = match &report_args.incremental {
        args if args.incremental => Some(
            incremental::decide(
                &client,
                &incremental_settings(args),
                jiff::Timestamp::now(),
                &mut problems,
            )
            .await,
        ),
        _ => None,
    };
    for problem in &problems {
        tracing::warn!("{}", crate::display::safe(problem));
    }
    let source = match &read_plan {
        Some(Plan::Incremental(delta)) => Source::Incremental(client.clone(), delta.clone()),
        _ => Source::Live(client.clone()),
    };
    let reading = Reading {
        source,
        origin: RunSource::Live,
        started,
        judged_at: started,
        concurrency,
        read_plan,
        problems,
    };
    let audited = source_phase(policy, reading, report_args, plan, quiet).await?;
    Ok((client, audited))
}

/// What an audit reads and the moment it is judged at.
struct Reading {
    source: Source,
    origin: RunSource,
    /// When the run started.
    started: jiff::Timestamp,
    /// Usage (idle time) and exemption expiry are judged at this moment.
    judged_at: jiff::Timestamp,
    /// Config reads in flight at once.
    concurrency: usize,
    /// What `--incremental` decided to read.
    read_plan: Option<Plan>,
    /// Problems with the run's inputs found while deciding it.
    problems: Vec<String>,
}

/// [`audit_phase`] from any source.
async fn source_phase(
    policy: &Policy,
    reading: Reading,
    report_args: &ReportArgs,
    plan: bool,
    quiet: bool,
) -> Result<Audited, Failure> {
    findings::check(report_args)?;
    let Reading {
        source,
        origin,
        started,
        judged_at,
        concurrency,
        read_plan,
        problems,
    } = reading;
    let dir = report::create_run_dir(report_args.out.as_deref(), started).map_err(io_failure)?;
    let rules: Vec<RuleInfo> = policy
        .rules
        .iter()
        .map(|r| RuleInfo {
            id: r.id.clone(),
            severity: r.severity,
            description: r.description.clone(),
        })
        .collect();
    let mut sink =
        ReportSink::create(&dir, &findings::formats(report_args), &rules).map_err(io_failure)?;
    sink.keep_worst(findings::keep(report_args, quiet));
    if let Some(prev) = &report_args.baseline {
        let tracker =
            crate::diff::BaselineTracker::load(prev).map_err(|e| Failure::new(Exit::DataErr, e))?;
        sink.set_baseline(Box::new(tracker));
    }
    let today = judged_at.to_zoned_datetime(jiff::tz::TimeZone::UTC).date();
    let mut planner = plan.then(|| PlanBuilder::new(source.org_id(), today));
    let audit_opts = AuditOptions {
        concurrency,
        today,
        now: judged_at,
        evidence: crate::usage::reader::EvidenceSettings {
            window: report_args.evidence.evidence_window,
            require: report_args.evidence.require_usage_evidence,
            read: !report_args.evidence.skip_reading,
        },
        stop_at: report_args
            .max_duration
            .map(|d| tokio::time::Instant::now() + d),
        interrupt: Interrupt::process().clone(),
        record: read_plan.is_some(),
    };
    let progress = Progress::new(!quiet);
    let outcome = audit::run(
        &source,
        policy,
        &mut sink,
        &audit_opts,
        planner.as_mut(),
        &progress,
    )
    .await;
    progress.finish();
    let outcome = outcome.map_err(io_failure)?;
    Ok(Audited {
        source,
        origin,
        dir,
        sink,
        outcome,
        planner,
        started,
        today,
        concurrency,
        read_plan,
        problems,
    })
}

/// The settings of `--incremental` (bases are looked for under `reports/`).
fn incremental_settings(args: &IncrementalArgs) -> incremental::Settings {
    incremental::Settings {
        reports: PathBuf::from("reports"),
        base: args.base.clone(),
        max_base_age: args.max_base_age,
        max_changes: args.max_changes_feed,
        margin: args.feed_margin,
    }
}

/// With `--incremental`: writes the run's snapshot (the next run's base) into its folder and
/// says how the run read the org; without it, how a live run read it. `None` offline.
fn read_mode(
    read_plan: Option<Plan>,
    recorded: Option<Recorder>,
    source: &Source,
    dir: &Path,
    started: jiff::Timestamp,
    configs: u64,
    incomplete_reason: Option<&str>,
) -> Result<Option<ReadMode>, Failure> {
    if matches!(source, Source::Snapshot(_)) {
        return Ok(None);
    }
    let Some(plan) = read_plan else {
        return Ok(Some(ReadMode::full(configs, None)));
    };
    let (mut mode, full_read_at) = match &plan {
        Plan::Full { reason } => (ReadMode::full(configs, Some(reason.clone())), started),
        Plan::Incremental(delta) => (
            ReadMode::incremental(delta),
            delta.base().manifest.oldest_read(),
        ),
    };
    if let Some(recorder) = recorded {
        let snap = recorder.finish(SnapshotReading {
            api_url: source.api_url().to_owned(),
            org_id: source.org_id().to_owned(),
            started_at: started,
            full_read_at,
            incomplete_reason: incomplete_reason.map(str::to_owned),
        });
        let path = dir.join(SNAPSHOT_FILE);
        crate::snapshot::write(&path, &snap).map_err(io_failure)?;
        mode.wrote_snapshot = Some(path.display().to_string());
    }
    Ok(Some(mode))
}

/// How a remediation changes the exit code of the audit it followed.
#[derive(Debug, Default, Clone)]
pub struct Adjustment {
    /// Writes were attempted: the summary shows the counts after them.
    pub applied: bool,
    /// The rule of each unexempted failure fixed and verified: it no longer counts for exit 1
    /// nor in the counts after the writes.
    pub fixed: Vec<RuleInfo>,
    /// Ctrl-C stopped the writes (exit 130).
    pub interrupted: bool,
    /// A write failed or did not verify (exit 3, unless the run is incomplete).
    pub write_failed: bool,
    /// The blast-radius guard refused the apply (exit 4).
    pub refused: bool,
    /// Extra lines for the human summary.
    pub notes: Vec<String>,
}

/// Writes the manifest, the summary and the annotations, and works out the exit code.
pub async fn finish_phase(
    audited: Audited,
    policy: &Policy,
    policy_path: &Path,
    report_args: &ReportArgs,
    annotations: &Annotations,
    adjust: &Adjustment,
) -> Result<AuditDone, Failure> {
    let finish = Finish {
        policy,
        policy_path,
        report_args,
        annotations,
        adjust,
    };
    finish_notifying(audited, &finish, None).await
}

/// What [`finish_phase`] finishes an audit with.
struct Finish<'a> {
    policy: &'a Policy,
    policy_path: &'a Path,
    report_args: &'a ReportArgs,
    annotations: &'a Annotations,
    adjust: &'a Adjustment,
}

/// [`finish_phase`], with the `--notify` alert sent (when asked for) once the comparison with
/// the previous run is done and before the reports are written, so that report.json records
/// what became of it in `run.notification`. The request is bounded by [`crate::notify::TIMEOUT`]
/// and its failure is recorded, never fatal; after Ctrl-C it is not made.
async fn finish_notifying(
    audited: Audited,
    finish: &Finish<'_>,
    notify: Option<&Notifier>,
) -> Result<AuditDone, Failure> {
    let Finish {
        policy,
        policy_path,
        report_args,
        annotations,
        adjust,
    } = *finish;
    let Audited {
        source,
        origin,
        dir,
        mut sink,
        mut outcome,
        today,
        started,
        read_plan,
        problems,
        ..
    } = audited;
    let worst = sink.take_worst();
    let counts = sink.counts().clone();
    let totals = counts.totals();
    let fixed_at_or_above = adjust
        .fixed
        .iter()
        .filter(|r| r.severity >= report_args.fail_on)
        .count() as u64;
    let after_apply = adjust
        .applied
        .then(|| AfterApply::new(&counts, adjust.fixed.iter().map(|r| r.id.as_str())));
    let still_failing = counts
        .failing_at_or_above(report_args.fail_on)
        .saturating_sub(fixed_at_or_above);
    let (exit, incomplete_reason, listing_failure) = match outcome.listing_error {
        Some(err) => {
            let failure = listing_failure(err);
            (
                failure.exit,
                Some(format!("{:#}", failure.error)),
                Some(failure),
            )
        }
        None => {
            let exit = Exit::of_run(&RunOutcome {
                interrupted: adjust.interrupted,
                errors: totals.error,
                refused: adjust.refused,
                write_failed: adjust.write_failed,
                still_failing,
            });
            let reason = (totals.error > 0).then(|| {
                format!(
                    "{} result(s) are `error`: their configs could not be read",
                    totals.error
                )
            });
            (exit, reason, None)
        }
    };
    let read = read_mode(
        read_plan,
        outcome.recorded.take(),
        &source,
        &dir,
        started,
        counts.auth_configs,
        // Configs that could not be read are recorded as errors (and read again next time);
        // only a listing that stopped short makes the snapshot incomplete.
        listing_failure.as_ref().and(incomplete_reason.as_deref()),
    )?;
    let stats = source.client().map(Client::stats).unwrap_or_default();
    let mut run = RunInfo {
        id: uuid::Uuid::new_v4().to_string(),
        started_at: started.to_string(),
        finished_at: jiff::Timestamp::now().to_string(),
        api_url: source.api_url().to_owned(),
        org_id: source.org_id().to_owned(),
        policy: PolicyRef {
            path: policy_path.display().to_string(),
            sha256: policy.sha256.clone(),
        },
        exit_code: exit.code(),
        complete: incomplete_reason.is_none(),
        incomplete_reason: incomplete_reason.clone(),
        api: ApiCounts {
            requests: stats.requests,
            retries: stats.retries,
            rate_limited: stats.rate_limited,
        },
        problems: problems
            .into_iter()
            .chain(
                outcome
                    .shared_exemption_names
                    .iter()
                    .map(|name| shared_name_problem(name)),
            )
            .collect(),
        usage_evidence: outcome.usage_evidence.as_str(),
        usage_evidence_reason: outcome.usage_evidence.reason().map(str::to_owned),
        source: origin,
        read,
        notification: None,
    };
    let annotations = merged(annotations, &outcome.annotations);
    let compared = sink.compare(&run).map_err(io_failure)?;
    if let Some(notifier) = notify {
        let alert = Alert {
            org_id: &run.org_id,
            changes: compared.baseline().map(|b| b.changes.as_slice()),
            failing: totals.fail,
            incomplete: !run.complete,
        };
        run.notification = Some(if Interrupt::process().requested() {
            // Ctrl-C means no further request, this one included.
            Notification {
                status: NotificationStatus::Failed,
                reason: Some("stopped by Ctrl-C before the alert was sent".to_owned()),
            }
        } else {
            notifier.notify(&alert).await
        });
    }
    let files = compared
        .finish(&run, &policy.exemptions, today, &annotations)
        .map_err(io_failure)?;
    if report_args.out.is_none() {
        report::mark_latest(&dir);
    }
    let shown = findings::show(worst, report_args, &files);

    let mut human = format!("idguard: {}", counts.human());
    if let report::RunSource::Snapshot(snap) = &run.source {
        human.push_str(&format!(
            "  offline: from the snapshot {} of {} taken at {} (nothing was read from a server)\n",
            crate::display::safe(&snap.path),
            crate::display::safe(&snap.api_url),
            crate::display::safe(&snap.taken_at)
        ));
    }
    human.push_str(&read_line(run.read.as_ref()));
    for problem in &run.problems {
        human.push_str(&format!("  problem: {}\n", crate::display::safe(problem)));
    }
    human.push_str(&expired_exemptions(&policy.exemptions, today));
    if outcome.held_narrowings > 0 {
        human.push_str(&format!(
            "  usage evidence: {} trusted-IP narrowing(s) left to a person: an address in use \
             would fall outside the narrowed list (the reports' remediation names it)\n",
            outcome.held_narrowings
        ));
    }
    if let Some(reason) = &run.usage_evidence_reason {
        human.push_str(&format!(
            "  usage evidence unavailable: {}; {}\n",
            crate::display::safe(reason),
            if report_args.evidence.require_usage_evidence {
                "trusted-IP narrowings are left to a person (--require-usage-evidence)"
            } else if report_args.evidence.skip_reading {
                "narrowings are shown without holds; remediate and apply read it before writing"
            } else {
                "trusted IPs are narrowed without it (--require-usage-evidence holds them)"
            }
        ));
    }
    if !outcome.unknown_methods.is_empty() {
        let names: Vec<_> = outcome
            .unknown_methods
            .iter()
            .map(|m| crate::display::safe(m))
            .collect();
        human.push_str(&format!(
            "  note: auth methods unknown to this idguard version were audited by their common fields only: {}\n",
            names.join(", ")
        ));
    }
    human.push_str(&shown.stderr);
    human.push_str(&format!(
        "  api: {} requests, {} retries, {} rate-limited\n",
        stats.requests, stats.retries, stats.rate_limited
    ));
    for note in &adjust.notes {
        human.push_str(&format!("  {note}\n"));
    }
    for line in after_apply.iter().flat_map(AfterApply::lines) {
        human.push_str(&format!("  {line}\n"));
    }
    human.push_str(&notified(run.notification.as_ref(), notify));
    for f in &files {
        human.push_str(&format!("  wrote {}\n", f.display()));
    }
    if let Some(reason) = &incomplete_reason {
        human.push_str(&format!("  INCOMPLETE: {reason}\n"));
    }
    human.push_str(&format!(
        "  exit {}: {}\n",
        exit.code(),
        describe(exit, report_args)
    ));
    Ok(AuditDone {
        exit,
        dir,
        human,
        stdout: shown.stdout,
        failure: listing_failure,
        notification: run.notification,
    })
}

/// The summary's line about how a run with `--incremental` read the org.
fn read_line(read: Option<&ReadMode>) -> String {
    match read {
        Some(read) if read.base_snapshot.is_some() || read.mode_reason.is_some() => {
            format!("  read: {}\n", crate::display::safe(&read.describe()))
        }
        _ => String::new(),
    }
}

/// The summary's line about the `--notify` alert (a failed one is a warning of its own).
fn notified(notification: Option<&Notification>, notify: Option<&Notifier>) -> String {
    let (Some(n), Some(notifier)) = (notification, notify) else {
        return String::new();
    };
    match n.status {
        NotificationStatus::Sent => format!("  alert sent to {}\n", notifier.shown()),
        NotificationStatus::NothingNew => format!(
            "  no alert sent: {}\n",
            n.reason.as_deref().unwrap_or("nothing new")
        ),
        NotificationStatus::Failed => String::new(),
    }
}

/// The caller's annotations with the audit's own (usage evidence) added.
fn merged(given: &Annotations, own: &Annotations) -> Annotations {
    let mut all = given.clone();
    for (id, extra) in own {
        all.entry(id.clone())
            .or_default()
            .extend(extra.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    all
}

/// One summary line per exemption of the policy that has expired on `today`.
fn expired_exemptions(exemptions: &[Exemption], today: jiff::civil::Date) -> String {
    exemptions
        .iter()
        .filter(|e| e.has_expired(today))
        .map(|e| {
            format!(
                "  expired exemption: `{}` (rules: {}) expired on {} and no longer applies\n",
                crate::display::safe(&e.identity),
                crate::display::safe(&e.rules_shown()),
                e.expires
            )
        })
        .collect()
}

/// The problem reported for an exemption whose name several identities hold.
fn shared_name_problem(name: &str) -> String {
    format!(
        "the exemption for `{name}` exempts nobody: several identities of the org are named so \
         (anyone who can create an identity could borrow an exemption by name); exempt by id"
    )
}

fn listing_failure(err: ListingError) -> Failure {
    match err {
        ListingError::Api(api) => connect::api_failure("the identity listing failed", api),
        ListingError::Budget => Failure::new(Exit::Incomplete, anyhow::Error::new(err)),
        ListingError::Interrupted => Failure::new(Exit::Interrupted, anyhow::Error::new(err))
            .hint("the reports hold what was audited before Ctrl-C and are marked incomplete"),
        ListingError::Snapshot(_) => Failure::new(Exit::Incomplete, anyhow::Error::new(err))
            .hint("the snapshot's listing stopped short: take a new snapshot for a full audit"),
        ListingError::Task(msg) => Failure::new(
            Exit::Unavailable,
            anyhow::anyhow!("the identity listing stopped: {msg}"),
        ),
    }
}

/// Exit 74: a report, plan or journal could not be written.
pub fn io_failure(e: impl Into<anyhow::Error>) -> Failure {
    Failure::new(Exit::IoErr, e)
}

fn describe(exit: Exit, args: &ReportArgs) -> String {
    match exit {
        Exit::Ok => format!("no unexempted finding at or above {} is left", args.fail_on),
        Exit::Findings => format!("findings at or above {}", args.fail_on),
        Exit::Incomplete => "evaluation incomplete (see `error` results)".into(),
        Exit::WriteFailed => "a write failed or did not verify".into(),
        Exit::Refused => "the blast-radius guard refused the apply; nothing was written".into(),
        Exit::Interrupted => "stopped by Ctrl-C".into(),
        _ => "the run stopped".into(),
    }
}
