//! The audit pipeline: list identities (one task, paging ahead) → fan out one config GET per
//! configured auth method under the client's concurrency bound and rate limit → evaluate each
//! config as it arrives → stream the findings into the report sink.
//!
//! Nothing is dropped: a config that could not be read gives `error` findings for every rule
//! that could apply to it, and a listing that fails partway (or is cut short by `--max-duration`
//! or Ctrl-C, which start no further request) is returned to the caller, who marks the run
//! incomplete. Memory holds the identities in flight, not the org.
//!
//! The identities and configs come from a [`Source`]: the live server, or a snapshot file
//! (offline: the same evaluation, no request).

mod source;

use source::Got;
pub use source::Source;

use std::collections::BTreeSet;
use std::sync::Arc;

use futures::{StreamExt, stream};
use jiff::civil::Date;
use tokio::sync::mpsc;

use crate::display::safe;
use crate::evaluate;
use crate::infisical::ApiError;
use crate::interrupt::Interrupt;
use crate::model::{AuthConfig, AuthMethod, Identity};
use crate::policy::Policy;
use crate::progress::Progress;
use crate::remediate::plan::PlanBuilder;
use crate::report::{Annotations, ReportError, ReportSink};
use crate::snapshot::{Recorder, StoredConfig};
use crate::usage::availability::EvidenceSource;
use crate::usage::lockout::{self, Known};
use crate::usage::reader::{EvidenceReader, EvidenceSettings};

/// Settings of one audit.
#[derive(Debug, Clone)]
pub struct AuditOptions {
    /// Config GETs in flight at once.
    pub concurrency: usize,
    /// The UTC date exemptions are judged against.
    pub today: Date,
    /// The moment usage (idle time) is judged at, and the end of the evidence window.
    pub now: jiff::Timestamp,
    /// How usage evidence is read for trusted-IP narrowings.
    pub evidence: EvidenceSettings,
    /// When to stop reading the org (`--max-duration`): what is left is not audited and the
    /// run is incomplete.
    pub stop_at: Option<tokio::time::Instant>,
    /// Ctrl-C: when pressed, no further request is started and the requests in flight are
    /// dropped (reads only); what was read is reported and the run is incomplete.
    pub interrupt: Interrupt,
    /// Keep every identity and config read, for the snapshot of an incremental run
    /// ([`AuditOutcome::recorded`]).
    pub record: bool,
}

/// What the caller needs to know beyond the findings.
#[derive(Debug, Default)]
pub struct AuditOutcome {
    /// The listing failed partway: the run is incomplete.
    pub listing_error: Option<ListingError>,
    /// Auth method names this version does not know (audited by their common fields).
    pub unknown_methods: BTreeSet<String>,
    /// Configs that could not be read.
    pub config_errors: u64,
    /// Exemption names that several identities of the org hold: those exemptions covered
    /// none of them by name.
    pub shared_exemption_names: Vec<String>,
    /// Where usage evidence came from (`not-needed` when no narrowing needed any).
    pub usage_evidence: EvidenceSource,
    /// Usage evidence of the results whose fix narrows trusted IPs, by `finding_id`.
    pub annotations: Annotations,
    /// Failing results whose trusted-IP narrowing the usage evidence held back.
    pub held_narrowings: u64,
    /// Every identity and config outcome, when [`AuditOptions::record`] asked for them.
    pub recorded: Option<Recorder>,
}

/// Audits every identity `source` lists, writing findings to `sink`.
/// With `planner`, every failing config also goes into the remediation plan.
pub async fn run(
    source: &Source,
    policy: &Policy,
    sink: &mut ReportSink,
    opts: &AuditOptions,
    mut planner: Option<&mut PlanBuilder>,
    progress: &Progress,
) -> Result<AuditOutcome, ReportError> {
    let (tx, rx) = mpsc::channel::<Arc<Identity>>(1024);
    let (total_tx, mut total_rx) = tokio::sync::watch::channel(0u64);
    let lister = source.spawn_listing(tx, total_tx);

    let org_id = source.org_id().to_owned();
    let mut outcome = AuditOutcome {
        recorded: opts.record.then(Recorder::default),
        ..AuditOutcome::default()
    };
    let reader = source.evidence_reader(opts.now, opts.evidence);
    let reader = &reader;
    let identities = stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|i| (i, rx)) });
    let fetched = identities
        .flat_map(|identity| {
            let jobs: Vec<(Arc<Identity>, AuthMethod)> = identity
                .auth_methods
                .iter()
                .map(|m| (identity.clone(), m.clone()))
                .collect();
            let n = jobs.len() as u64;
            stream::iter(
                std::iter::once(Job::Listed(n, identity.clone()))
                    .chain(jobs.into_iter().map(|(i, m)| Job::Fetch(i, m))),
            )
        })
        .map(|job| async move {
            match job {
                Job::Listed(n, identity) => Done::Listed(n, identity),
                Job::Fetch(identity, method) => {
                    let got = source.config(&identity, &method).await;
                    let usage = match &got.read {
                        Ok(config) => {
                            Box::pin(usage_for(policy, &identity, config, opts.today, reader)).await
                        }
                        Err(_) => None,
                    };
                    Done::Fetched(identity, method, Box::new(got), usage)
                }
            }
        })
        // One request slot is left to the listing, so that a listing page never queues behind
        // a full round of config GETs (it would then fall behind them and starve them).
        .buffer_unordered(fetch_slots(opts.concurrency));
    let mut fetched = std::pin::pin!(fetched);
    let mut found: Vec<crate::finding::Finding> = Vec::new();
    // Identities whose name an exemption names, counted as they are listed; their configs
    // are judged after the listing, when it is known whether the name is shared.
    let mut name_holders: std::collections::HashMap<&str, u32> = policy
        .exemptions
        .iter()
        .map(|e| (e.identity.as_str(), 0))
        .collect();
    let mut deferred: Vec<(Arc<Identity>, AuthConfig, Option<Usage>)> = Vec::new();
    let mut deferred_usage: Vec<(Arc<Identity>, AuthMethod)> = Vec::new();

    let mut stopped = None;
    let mut budget = std::pin::pin!(async {
        match opts.stop_at {
            Some(at) => tokio::time::sleep_until(at).await,
            None => std::future::pending().await,
        }
    });
    let mut interrupted = std::pin::pin!(opts.interrupt.stopped());
    loop {
        let next = tokio::select! {
            biased;
            () = &mut interrupted => {
                stopped = Some(ListingError::Interrupted);
                break;
            }
            () = &mut budget => {
                stopped = Some(ListingError::Budget);
                break;
            }
            done = fetched.next() => done,
        };
        let Some(done) = next else { break };
        match done {
            Done::Listed(configs, identity) => {
                if let Some(count) = name_holders.get_mut(identity.name.as_str()) {
                    *count += 1;
                }
                sink.identity_listed(&identity);
                if let Some(recorder) = outcome.recorded.as_mut() {
                    recorder.listed(&identity);
                }
                if total_rx.has_changed().unwrap_or(false) {
                    progress.set_total_identities(*total_rx.borrow_and_update());
                }
                progress.identity_listed(configs);
            }
            Done::Fetched(identity, method, got, usage) => {
                let Got {
                    read: result,
                    carried,
                } = *got;
                sink.count_config();
                progress.config_done();
                if !method.is_known() {
                    outcome.unknown_methods.insert(method.to_string());
                }
                if let Some(recorder) = outcome.recorded.as_mut() {
                    let read = match &result {
                        Ok(config) => Ok(carried.unwrap_or_else(|| StoredConfig::of(config))),
                        Err(message) => Err(message.clone()),
                    };
                    recorder.config(&identity.id, &method, read);
                }
                let name_held = name_holders.contains_key(identity.name.as_str());
                match result {
                    // Judged once the whole listing says whether its name is shared.
                    Ok(config) if name_held => {
                        deferred_usage.push((identity.clone(), method));
                        deferred.push((identity, config, usage));
                        continue;
                    }
                    Ok(config) => judge(
                        policy,
                        &org_id,
                        &identity,
                        &config,
                        usage,
                        opts.today,
                        &mut found,
                        &mut outcome,
                        &mut planner,
                    ),
                    Err(err) => {
                        outcome.config_errors += 1;
                        tracing::warn!(identity = %safe(&identity.id), method = %safe(method.as_str()), "config could not be read: {}", safe(&err));
                        found = evaluate::error_findings(policy, &org_id, &identity, &method, &err);
                    }
                }
                for finding in &found {
                    sink.write(finding)?;
                }
                if name_held {
                    deferred_usage.push((identity, method));
                } else {
                    write_usage(
                        policy,
                        &org_id,
                        &identity,
                        &method,
                        opts,
                        sink,
                        &mut planner,
                    )?;
                }
            }
        }
    }

    outcome.listing_error = if stopped.is_some() {
        lister.abort();
        stopped
    } else {
        match lister.await {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(e),
            Err(join) => Some(ListingError::Task(join.to_string())),
        }
    };

    // The configs of identities named by an exemption, now that the listing says whether
    // several identities share the name (then the exemption covers none of them by name).
    let mut shared: Vec<String> = name_holders
        .iter()
        .filter(|(_, holders)| **holders > 1)
        .map(|(name, _)| (*name).to_owned())
        .collect();
    shared.sort();
    let judged = if shared.is_empty() {
        std::borrow::Cow::Borrowed(policy)
    } else {
        tracing::warn!(
            names = ?shared,
            "exemptions name identities that share their name with others: they exempt none of them"
        );
        std::borrow::Cow::Owned(policy.with_shared_names(&shared))
    };
    for (identity, config, usage) in deferred {
        judge(
            &judged,
            &org_id,
            &identity,
            &config,
            usage,
            opts.today,
            &mut found,
            &mut outcome,
            &mut planner,
        );
        for finding in &found {
            sink.write(finding)?;
        }
    }
    for (identity, method) in deferred_usage {
        write_usage(
            &judged,
            &org_id,
            &identity,
            &method,
            opts,
            sink,
            &mut planner,
        )?;
    }
    outcome.shared_exemption_names = shared;
    outcome.usage_evidence = reader.source();
    Ok(outcome)
}

/// Judges one config into `found` (one `Vec` for every config: its findings' strings are
/// reused): evaluation, the narrowings usage evidence holds back, and the plan.
#[allow(clippy::too_many_arguments)]
fn judge(
    policy: &Policy,
    org_id: &str,
    identity: &Identity,
    config: &AuthConfig,
    usage: Option<Usage>,
    today: Date,
    found: &mut Vec<crate::finding::Finding>,
    outcome: &mut AuditOutcome,
    planner: &mut Option<&mut PlanBuilder>,
) {
    evaluate::evaluate_into(policy, org_id, identity, config, today, found);
    let holds = hold_back(usage, found, outcome);
    if let Some(planner) = planner.as_deref_mut() {
        planner.observe(policy, identity, config, found, &holds);
    }
}

/// Writes the usage results of one identity's method (judged from the listing, whether or
/// not its config could be read); a stale one also becomes a manual item of the plan.
fn write_usage(
    policy: &Policy,
    org_id: &str,
    identity: &Identity,
    method: &AuthMethod,
    opts: &AuditOptions,
    sink: &mut ReportSink,
    planner: &mut Option<&mut PlanBuilder>,
) -> Result<(), ReportError> {
    let found = evaluate::usage_findings(policy, org_id, identity, method, opts.now);
    if let Some(planner) = planner.as_deref_mut() {
        planner.note_manual(&found);
    }
    for finding in &found {
        sink.write(finding)?;
    }
    Ok(())
}

/// Config GETs in flight: all of the client's slots but one, which the listing keeps.
fn fetch_slots(concurrency: usize) -> usize {
    concurrency.saturating_sub(1).max(1)
}

/// An error with its causes, `outer: inner: ...` (how an unreadable config is reported).
pub fn chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(e) = source {
        text.push_str(": ");
        text.push_str(&e.to_string());
        source = e.source();
    }
    text
}

/// Why the listing stopped before the end.
#[derive(Debug, thiserror::Error)]
pub enum ListingError {
    #[error("the identity listing failed: {0}")]
    Api(#[source] ApiError),
    #[error("the identity listing stopped: {0}")]
    Task(String),
    /// The snapshot audited was taken from a listing that stopped short.
    #[error("the snapshot is incomplete: {0}")]
    Snapshot(String),
    /// `--max-duration` was reached before every identity was audited.
    #[error("the run reached --max-duration before every identity was audited")]
    Budget,
    /// Ctrl-C was pressed before every identity was audited.
    #[error("the run was interrupted (Ctrl-C) before every identity was audited")]
    Interrupted,
}

enum Job {
    /// Marks one listed identity with its number of configs (so identities without methods
    /// are counted too), and which identity it is (its name may hold an exemption).
    Listed(u64, Arc<Identity>),
    Fetch(Arc<Identity>, AuthMethod),
}

enum Done {
    Listed(u64, Arc<Identity>),
    Fetched(Arc<Identity>, AuthMethod, Box<Got>, Option<Usage>),
}

/// What is known of an identity's use, for a config whose fix would narrow trusted IPs, and
/// the narrowings it holds back.
struct Usage {
    known: Known,
    holds: evaluate::Holds,
}

/// Reads usage evidence when the config's fix would narrow trusted IPs (judged as if no
/// exemption by name applied, since the name may turn out to be shared).
async fn usage_for(
    policy: &Policy,
    identity: &Identity,
    config: &AuthConfig,
    today: Date,
    reader: &EvidenceReader,
) -> Option<Usage> {
    // Only a trusted-IP rule can narrow: without one, no plan is computed here.
    if !policy
        .rules
        .iter()
        .any(|r| r.trusted_ips.is_some() && evaluate::rule_matches(r, identity, &config.method))
    {
        return None;
    }
    let by_name = policy
        .exemptions
        .iter()
        .any(|e| e.identity == identity.name);
    let worst = if by_name {
        std::borrow::Cow::Owned(policy.with_shared_names(std::slice::from_ref(&identity.name)))
    } else {
        std::borrow::Cow::Borrowed(policy)
    };
    let change = evaluate::plan_config(&worst, identity, config, today);
    if lockout::narrowed(&change.patch).is_empty() {
        return None;
    }
    let known = reader.known(identity).await;
    let holds = lockout::holds(&change.patch, &known);
    Some(Usage { known, holds })
}

/// Applies the holds to the findings (a failing result whose fix changes a held field becomes
/// manual with the hold's reason) and records the evidence of every result whose fix narrows
/// trusted IPs. Returns the holds for the plan.
fn hold_back(
    usage: Option<Usage>,
    found: &mut [crate::finding::Finding],
    outcome: &mut AuditOutcome,
) -> evaluate::Holds {
    let Some(Usage { known, holds }) = usage else {
        return evaluate::Holds::new();
    };
    for f in found.iter_mut() {
        let Some(crate::finding::Remediation::Auto { patch, .. }) = &f.remediation else {
            continue;
        };
        if lockout::narrowed(patch).is_empty() {
            continue;
        }
        let reasons: Vec<&str> = patch
            .keys()
            .filter_map(|k| holds.get(k).map(String::as_str))
            .collect();
        if !reasons.is_empty() {
            f.remediation = Some(crate::finding::Remediation::manual(reasons.join("; ")));
            if f.status == crate::finding::Status::Fail {
                outcome.held_narrowings += 1;
            }
        }
        if let Known::Evidence(evidence) = &known {
            outcome
                .annotations
                .entry(f.finding_id.clone())
                .or_default()
                .insert("usage_evidence".into(), lockout::evidence_json(evidence));
        }
    }
    holds
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_listing_keeps_one_slot() {
        assert_eq!(fetch_slots(64), 63);
        assert_eq!(fetch_slots(2), 1);
        assert_eq!(fetch_slots(1), 1);
        assert_eq!(fetch_slots(0), 1);
    }
}
