//! Applying a plan: for each planned change, under the client's write rate limit and
//! concurrency bound, re-read the config (a config that no longer holds what the change was
//! planned from is skipped as `drifted`), journal the before-state read from the server to
//! disk, PATCH, read back, and verify that the intended fields now hold the intended values,
//! that no other field changed, and that the fixed rules now pass.
//!
//! Never writes after a failed read, and never after a failed journal write: the first journal
//! error stops every change that has not yet sent its PATCH (outcomes already known are kept).
//! Ctrl-C ([`Writing::interrupt`]) stops the same way: no change is started, no PATCH still
//! waiting for its turn is sent (its `before` entry gets a `failed` outcome, "not sent"), and
//! the PATCHes already sent are read back, verified and journalled.
//! Changes to idguard's own identity, when included, run last, after every other change.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use futures::{StreamExt, stream};
use jiff::civil::Date;
use serde_json::{Map, Value};

use super::journal::{Entry, JournalError, JournalWriter, Outcome};
use super::patch_body;
use super::plan::{self, PlannedChange};
use super::self_guard::Split;
use crate::evaluate;
use crate::finding::Status;
use crate::infisical::{Client, ErrorKind};
use crate::interrupt::Interrupt;
use crate::model::{AuthConfig, AuthMethod, Identity, IdentityScope};
use crate::policy::Policy;
use crate::progress::{Tally, WriteProgress};

/// The outcome of one change, for the summary and the report.
#[derive(Debug, Clone, PartialEq)]
pub struct ChangeOutcome {
    pub change_id: String,
    pub identity_id: String,
    pub identity_name: String,
    pub auth_method: String,
    pub outcome: Outcome,
    pub error: Option<String>,
    /// The rules the change was meant to fix.
    pub rules: Vec<String>,
}

/// How a run of writes (an apply or a rollback) goes and is watched.
pub struct Writing {
    /// Changes in flight at once.
    pub concurrency: usize,
    /// Ctrl-C: once pressed, no change is started and no PATCH waiting for its turn is sent.
    pub interrupt: Interrupt,
    /// Counts each change done.
    pub progress: WriteProgress,
}

impl Writing {
    /// `concurrency` changes at once, no progress display, never interrupted (until
    /// [`Writing::interrupt`] is pressed).
    pub fn new(concurrency: usize) -> Writing {
        Writing {
            concurrency,
            interrupt: Interrupt::new(),
            progress: WriteProgress::hidden(),
        }
    }

    /// Whether no further change may start: Ctrl-C, or a failed journal write.
    pub(super) fn must_stop(&self, journal: Option<&SharedJournal<'_>>) -> bool {
        self.interrupt.requested() || journal.is_some_and(SharedJournal::stopped)
    }

    /// Counts a change done on the progress display.
    pub(super) fn count(&self, outcome: Outcome) {
        self.progress.done(tally(outcome));
    }
}

/// How the progress display counts an outcome.
fn tally(outcome: Outcome) -> Tally {
    match outcome {
        Outcome::Verified => Tally::Verified,
        Outcome::Drifted | Outcome::ChangedSince => Tally::Skipped,
        Outcome::Failed | Outcome::Unverified => Tally::Failed,
        Outcome::Unchanged => Tally::Other,
    }
}

/// What an apply (or a rollback) did.
#[derive(Debug, Default)]
pub struct WriteRun {
    /// One per change that was attempted, in no particular order.
    pub outcomes: Vec<ChangeOutcome>,
    /// Changes never attempted (or whose PATCH was never sent) because the journal could not
    /// be written or Ctrl-C was pressed.
    pub not_attempted: usize,
    /// The first journal write that failed; it stopped the run.
    pub journal_error: Option<JournalError>,
}

/// The journalled error of a change whose PATCH Ctrl-C kept from being sent.
pub(super) const NOT_SENT: &str =
    "not sent: stopped by Ctrl-C before the PATCH's turn; nothing written";

/// Fields that change on every write and are not part of the comparison.
const VOLATILE: [&str; 1] = ["updatedAt"];

/// The journal shared by concurrent writes, and the stop switch its first failure throws.
pub(super) struct SharedJournal<'a> {
    writer: &'a Mutex<JournalWriter>,
    stopped: AtomicBool,
    error: Mutex<Option<JournalError>>,
}

impl<'a> SharedJournal<'a> {
    pub(super) fn new(writer: &'a Mutex<JournalWriter>) -> SharedJournal<'a> {
        SharedJournal {
            writer,
            stopped: AtomicBool::new(false),
            error: Mutex::new(None),
        }
    }

    /// Appends one entry; a failure is kept and stops every later write.
    pub(super) fn record(&self, entry: &Entry) -> bool {
        let result = self
            .writer
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .append(entry);
        match result {
            Ok(()) => true,
            Err(e) => {
                self.stopped.store(true, Ordering::SeqCst);
                let mut slot = self
                    .error
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                slot.get_or_insert(e);
                false
            }
        }
    }

    /// Whether a journal write has failed: nothing more may be written to the server.
    pub(super) fn stopped(&self) -> bool {
        self.stopped.load(Ordering::SeqCst)
    }

    /// The first failure, if any.
    pub(super) fn into_error(self) -> Option<JournalError> {
        self.error
            .into_inner()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Applies the changes of `split`: `first` with at most `writing.concurrency` in flight, then
/// `last` one at a time, journalling to `journal`.
pub async fn apply(
    client: &Client,
    policy: &Policy,
    split: &Split,
    journal: &Mutex<JournalWriter>,
    today: Date,
    writing: &Writing,
) -> WriteRun {
    let owned = SharedJournal::new(journal);
    let shared = &owned;
    // One change, counted on the progress display as it ends.
    let one = |change| async move {
        let done = apply_one(client, policy, change, shared, today, writing).await;
        if let Some(o) = &done {
            writing.count(o.outcome);
        }
        done
    };
    let mut run = WriteRun::default();
    let first: Vec<Option<ChangeOutcome>> = stream::iter(&split.first)
        .map(one)
        .buffer_unordered(writing.concurrency.max(1))
        .collect()
        .await;
    for o in first {
        match o {
            Some(o) => run.outcomes.push(o),
            None => run.not_attempted += 1,
        }
    }
    for change in &split.last {
        match one(change).await {
            Some(o) => run.outcomes.push(o),
            None => run.not_attempted += 1,
        }
    }
    run.journal_error = owned.into_error();
    run
}

/// One change; `None` when it was not attempted or its PATCH not sent (the journal had
/// failed, or Ctrl-C).
async fn apply_one(
    client: &Client,
    policy: &Policy,
    change: &PlannedChange,
    journal: &SharedJournal<'_>,
    today: Date,
    writing: &Writing,
) -> Option<ChangeOutcome> {
    if writing.must_stop(Some(journal)) {
        return None;
    }
    let method = AuthMethod::parse(&change.auth_method);
    let done = |outcome: Outcome, error: Option<String>| ChangeOutcome {
        change_id: change.change_id.clone(),
        identity_id: change.identity_id.clone(),
        identity_name: change.identity_name.clone(),
        auth_method: change.auth_method.clone(),
        outcome,
        error,
        rules: change.rules_fixed.clone(),
    };
    let record = |outcome: Outcome, after: Option<Map<String, Value>>, error: Option<&str>| {
        journal.record(&Entry::Outcome {
            change_id: change.change_id.clone(),
            identity_id: change.identity_id.clone(),
            auth_method: change.auth_method.clone(),
            at: now(),
            outcome,
            after,
            error: error.map(str::to_owned),
        });
    };
    let give_up = |outcome: Outcome, msg: String| {
        record(outcome, None, Some(&msg));
        Some(done(outcome, Some(msg)))
    };

    // 1. Fresh read; never write after a failed one.
    let live = match client.get_config(&change.identity_id, &method).await {
        Ok(live) => live,
        Err(e) => {
            return give_up(
                Outcome::Failed,
                format!("read before write failed, nothing written: {e}"),
            );
        }
    };
    if plan::policy_fields(&live) != change.planned_from
        || plan::config_sha256(&live) != change.config_sha256
    {
        return give_up(
            Outcome::Drifted,
            "the config changed since the plan was made; nothing written".into(),
        );
    }

    // The body is rebuilt from the fresh read (the plan holds it with secrets redacted); with
    // the same config it must be the plan's body.
    let body = patch_body::build(&live, &change.after);
    if patch_body::redacted(&body) != change.patch {
        return give_up(
            Outcome::Failed,
            "the PATCH body rebuilt from the live config differs from the plan's; nothing \
             written (plan from another idguard version?)"
                .into(),
        );
    }
    let problems = patch_body::loosening_problems(&method, &body);
    if !problems.is_empty() {
        return give_up(
            Outcome::Failed,
            format!(
                "refusing a body that would loosen the config: {}",
                problems.join("; ")
            ),
        );
    }

    // 2. The before-state, as the server holds it, on disk before the write; not after
    // Ctrl-C came during the fresh read (nothing is journalled or written then).
    if writing.must_stop(Some(journal)) {
        return None;
    }
    let written = journal.record(&Entry::Before {
        change_id: change.change_id.clone(),
        identity_id: change.identity_id.clone(),
        identity_name: change.identity_name.clone(),
        auth_method: change.auth_method.clone(),
        at: now(),
        before: change
            .after
            .keys()
            .map(|k| (k.clone(), plan::request_value(&live, k)))
            .collect(),
        written: change.after.clone(),
    });
    if !written || journal.stopped() {
        return None;
    }

    // 3. Write, unless Ctrl-C came before the PATCH's turn.
    let sent = client
        .patch_config_unless(
            &change.identity_id,
            &method,
            &body,
            Some(&writing.interrupt),
        )
        .await;
    if let Err(e) = sent {
        if e.kind() == ErrorKind::Stopped {
            record(Outcome::Failed, None, Some(NOT_SENT));
            return None;
        }
        return give_up(Outcome::Failed, e.to_string());
    }

    // 4. Read back and verify.
    let after = match client.get_config(&change.identity_id, &method).await {
        Ok(after) => after,
        Err(e) => {
            return give_up(
                Outcome::Unverified,
                format!("written, but the read-back failed: {e}"),
            );
        }
    };
    let observed: Map<String, Value> = change
        .after
        .keys()
        .map(|k| (k.clone(), plan::request_value(&after, k)))
        .collect();
    let mut problems = verify(&live, &after, &change.after);
    let identity = Identity {
        id: change.identity_id.clone(),
        name: change.identity_name.clone(),
        auth_methods: vec![method.clone()],
        scope: IdentityScope::Organization,
        usage: Default::default(),
    };
    for f in evaluate::evaluate(policy, "", &identity, &after, today) {
        if f.status == Status::Fail && change.rules_fixed.contains(&f.rule) {
            problems.push(format!("rule `{}` still fails", f.rule));
        }
    }
    if problems.is_empty() {
        record(Outcome::Verified, Some(observed), None);
        Some(done(Outcome::Verified, None))
    } else {
        let msg = problems.join("; ");
        record(Outcome::Unverified, Some(observed), Some(&msg));
        Some(done(Outcome::Unverified, Some(msg)))
    }
}

/// What is wrong with `after` given the config `before` the write and the intended values:
/// an intended field that does not hold its value, or any other field that changed.
pub fn verify(
    before: &AuthConfig,
    after: &AuthConfig,
    intended: &Map<String, Value>,
) -> Vec<String> {
    let mut problems = Vec::new();
    for (field, want) in intended {
        let got = plan::request_value(after, field);
        if !plan::same_value(field, &got, want) {
            problems.push(format!(
                "`{field}` is {got} after the write, expected {want}"
            ));
        }
    }
    let keys: std::collections::BTreeSet<&String> = before
        .fields()
        .keys()
        .chain(after.fields().keys())
        .collect();
    for key in keys {
        if intended.contains_key(key.as_str()) || VOLATILE.contains(&key.as_str()) {
            continue;
        }
        if !unchanged(
            before.fields().get(key.as_str()),
            after.fields().get(key.as_str()),
        ) {
            // Name the field only: its value may be a secret.
            problems.push(format!(
                "`{key}` changed although the plan did not touch it"
            ));
        }
    }
    problems
}

/// Whether a field the write did not touch kept its value. Null, a missing field and `""` are
/// the same emptiness: some PATCH schemas store `""` for an omitted field that was null (the
/// spiffe-auth `bundleEndpointUrl` of a static trust bundle), which changes nothing.
fn unchanged(before: Option<&Value>, after: Option<&Value>) -> bool {
    let empty = |v: Option<&Value>| match v {
        None | Some(Value::Null) => true,
        Some(Value::String(s)) => s.is_empty(),
        _ => false,
    };
    before == after || (empty(before) && empty(after))
}

/// The current time, RFC 3339.
pub fn now() -> String {
    jiff::Timestamp::now().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cfg(v: Value) -> AuthConfig {
        AuthConfig::from_fields(AuthMethod::Oci, v.as_object().cloned().unwrap()).unwrap()
    }

    #[test]
    fn verify_names_unexpected_changes_without_values() {
        let before = cfg(
            json!({"accessTokenTTL": 0, "accessTokenMaxTTL": 0, "accessTokenNumUsesLimit": 0,
            "allowedUsernames": "svc-a, root", "tenancyOcid": "ocid1.tenancy.oc1..a", "updatedAt": "1"}),
        );
        let good = cfg(
            json!({"accessTokenTTL": 3600, "accessTokenMaxTTL": 86400, "accessTokenNumUsesLimit": 0,
            "allowedUsernames": "svc-a", "tenancyOcid": "ocid1.tenancy.oc1..a", "updatedAt": "2"}),
        );
        let intended = json!({"accessTokenTTL": 3600, "accessTokenMaxTTL": 86400, "allowedUsernames": "svc-a"});
        let intended = intended.as_object().cloned().unwrap();
        assert!(verify(&before, &good, &intended).is_empty());
        let bad = cfg(
            json!({"accessTokenTTL": 3600, "accessTokenMaxTTL": 86400, "accessTokenNumUsesLimit": 0,
            "allowedUsernames": "svc-a", "tenancyOcid": "ocid1.tenancy.oc1..SECRET", "updatedAt": "2"}),
        );
        let problems = verify(&before, &bad, &intended);
        assert_eq!(problems.len(), 1);
        assert!(problems[0].contains("tenancyOcid") && !problems[0].contains("SECRET"));
        let short = cfg(
            json!({"accessTokenTTL": 7200, "accessTokenMaxTTL": 86400, "accessTokenNumUsesLimit": 0,
            "allowedUsernames": "svc-a", "tenancyOcid": "ocid1.tenancy.oc1..a"}),
        );
        assert_eq!(verify(&before, &short, &intended).len(), 1);
    }
}
