//! Applying a plan: for each planned change, under the client's write rate limit and
//! concurrency bound, re-read the config (a changed config is skipped as `drifted`), journal
//! the before-state to disk, PATCH, read back, and verify that the intended fields now hold
//! the intended values, that no other field changed, and that the fixed rules now pass.
//!
//! Never writes after a failed read. Every outcome is journalled.

use std::sync::Mutex;

use futures::{StreamExt, stream};
use jiff::civil::Date;
use serde_json::{Map, Value};

use super::journal::{Entry, JournalError, JournalWriter, Outcome};
use super::patch_body;
use super::plan::{self, PlannedChange};
use crate::evaluate;
use crate::finding::Status;
use crate::infisical::Client;
use crate::model::{AuthConfig, AuthMethod, Identity, IdentityScope};
use crate::policy::Policy;

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

/// Fields that change on every write and are not part of the comparison.
const VOLATILE: [&str; 1] = ["updatedAt"];

/// Applies `changes` with at most `concurrency` in flight, journalling to `journal`.
/// A journal write failure stops the apply (nothing is written without its journal line).
pub async fn apply(
    client: &Client,
    policy: Option<&Policy>,
    changes: &[PlannedChange],
    journal: &Mutex<JournalWriter>,
    concurrency: usize,
    today: Date,
) -> Result<Vec<ChangeOutcome>, JournalError> {
    let results: Vec<Result<ChangeOutcome, JournalError>> = stream::iter(changes)
        .map(|change| apply_one(client, policy, change, journal, today))
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await;
    results.into_iter().collect()
}

async fn apply_one(
    client: &Client,
    policy: Option<&Policy>,
    change: &PlannedChange,
    journal: &Mutex<JournalWriter>,
    today: Date,
) -> Result<ChangeOutcome, JournalError> {
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
    let record = |outcome: Outcome, after: Option<Map<String, Value>>, error: Option<String>| {
        write(
            journal,
            &Entry::Outcome {
                change_id: change.change_id.clone(),
                identity_id: change.identity_id.clone(),
                auth_method: change.auth_method.clone(),
                at: now(),
                outcome,
                after,
                error,
            },
        )
    };

    // 1. Fresh read; never write after a failed one.
    let live = match client.get_config(&change.identity_id, &method).await {
        Ok(live) => live,
        Err(e) => {
            let msg = format!("read before write failed, nothing written: {e}");
            record(Outcome::Failed, None, Some(msg.clone()))?;
            return Ok(done(Outcome::Failed, Some(msg)));
        }
    };
    if plan::config_sha256(&live) != change.config_sha256 {
        let msg = "the config changed since the plan was made; nothing written".to_owned();
        record(Outcome::Drifted, None, Some(msg.clone()))?;
        return Ok(done(Outcome::Drifted, Some(msg)));
    }

    // The body is rebuilt from the fresh read (the plan holds it with secrets redacted); with
    // the same config it must be the plan's body.
    let body = patch_body::build(&live, &change.after);
    if patch_body::redacted(&body) != change.patch {
        let msg = "the PATCH body rebuilt from the live config differs from the plan's; nothing written (plan from another idguard version?)".to_owned();
        record(Outcome::Failed, None, Some(msg.clone()))?;
        return Ok(done(Outcome::Failed, Some(msg)));
    }
    let problems = patch_body::loosening_problems(&method, &body);
    if !problems.is_empty() {
        let msg = format!(
            "refusing a body that would loosen the config: {}",
            problems.join("; ")
        );
        record(Outcome::Failed, None, Some(msg.clone()))?;
        return Ok(done(Outcome::Failed, Some(msg)));
    }

    // 2. The before-state on disk before the write.
    write(
        journal,
        &Entry::Before {
            change_id: change.change_id.clone(),
            identity_id: change.identity_id.clone(),
            identity_name: change.identity_name.clone(),
            auth_method: change.auth_method.clone(),
            at: now(),
            before: change.before.clone(),
            written: change.after.clone(),
        },
    )?;

    // 3. Write.
    if let Err(e) = client
        .patch_config(&change.identity_id, &method, &body)
        .await
    {
        let msg = e.to_string();
        record(Outcome::Failed, None, Some(msg.clone()))?;
        return Ok(done(Outcome::Failed, Some(msg)));
    }

    // 4. Read back and verify.
    let after = match client.get_config(&change.identity_id, &method).await {
        Ok(after) => after,
        Err(e) => {
            let msg = format!("written, but the read-back failed: {e}");
            record(Outcome::Unverified, None, Some(msg.clone()))?;
            return Ok(done(Outcome::Unverified, Some(msg)));
        }
    };
    let observed: Map<String, Value> = change
        .after
        .keys()
        .map(|k| (k.clone(), plan::request_value(&after, k)))
        .collect();
    let mut problems = verify(&live, &after, &change.after);
    if let Some(policy) = policy {
        let identity = Identity {
            id: change.identity_id.clone(),
            name: change.identity_name.clone(),
            auth_methods: vec![method.clone()],
            scope: IdentityScope::Organization,
        };
        for f in evaluate::evaluate(policy, "", &identity, &after, today) {
            if f.status == Status::Fail && change.rules_fixed.contains(&f.rule) {
                problems.push(format!("rule `{}` still fails", f.rule));
            }
        }
    }
    if problems.is_empty() {
        record(Outcome::Verified, Some(observed), None)?;
        Ok(done(Outcome::Verified, None))
    } else {
        let msg = problems.join("; ");
        record(Outcome::Unverified, Some(observed), Some(msg.clone()))?;
        Ok(done(Outcome::Unverified, Some(msg)))
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
        if before.fields().get(key.as_str()) != after.fields().get(key.as_str()) {
            // Name the field only: its value may be a secret.
            problems.push(format!(
                "`{key}` changed although the plan did not touch it"
            ));
        }
    }
    problems
}

/// Appends one entry to a shared journal.
pub(super) fn write(journal: &Mutex<JournalWriter>, entry: &Entry) -> Result<(), JournalError> {
    let mut guard = journal
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    guard.append(entry)
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
